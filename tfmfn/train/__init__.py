"""Training: a zoo model with a margin head, the paper's recipe, on one device or many.

`train(config)` runs a `tfmfn.config.TrainConfig` into its run folder and returns the
exported model's card; `python -m tfmfn.train --help` gives the command, the run
folder's layout and the recipe's weight decay. The package:

| module                    | owns                                                                |
|---------------------------|---------------------------------------------------------------------|
| `train.run_folder`        | what MODEL_DIR holds: its files, the run log and curves, the guards |
|                           | that a resumed run trains the same thing from the same weights      |
| `train.strategies`        | the tf.distribute strategy and which replica writes                 |
| `train.model`             | embedder, head, initial weights, learning rate, the training step   |
| `train.export`            | evaluation during training, the best weights, export/               |
| `train.loop`              | `train(config)`: the loop that ties them together                   |
| `train.__main__`          | the CLI                                                             |

Example (two steps on the embedded synthetic data; `tfmfn.demo.tiny_config` is that config):

    >>> from tfmfn import demo, train
    >>> data, val_bin = demo.tiny_data("runs/tiny_synth")                       # doctest: +SKIP
    >>> card = train.train(demo.tiny_config(data, [val_bin], "runs/tiny"))      # doctest: +SKIP
    >>> card["training"]["steps_trained"]                                       # doctest: +SKIP
    2
"""

from tfmfn.train.export import Evaluator, export_embedder
from tfmfn.train.loop import train
from tfmfn.train.model import (
    LearningRate, Trainer, build_embedder, build_float32_embedder, kernel_decays, weight_decay_penalty,
)
from tfmfn.train.run_folder import (
    BEST_FOLDER, CHECKPOINT_FOLDER, CONFIG_FILE, EVAL_LOG, HEAD_WEIGHTS, TRAIN_LOG, RunLog, plot_curves,
)
from tfmfn.train.strategies import is_chief, make_strategy

__all__ = [
    "BEST_FOLDER", "CHECKPOINT_FOLDER", "CONFIG_FILE", "EVAL_LOG", "HEAD_WEIGHTS", "TRAIN_LOG", "Evaluator",
    "LearningRate", "RunLog", "Trainer", "build_embedder", "build_float32_embedder", "kernel_decays",
    "export_embedder", "is_chief", "make_strategy", "plot_curves", "train", "weight_decay_penalty",
]
