"""Training: a zoo model with a margin head, the paper's recipe, on one device or many.

    python -m tfmfn.data synth --out runs/synth          # the embedded synthetic data
    python -m tfmfn.train --config synthetic             # about 10 minutes on 2 CPU cores
    python -m tfmfn.train --config paper_casia --data faces_webface_112x112 \\
        --eval_bins faces_webface_112x112/lfw.bin,faces_webface_112x112/agedb_30.bin --model_dir runs/casia

Flags override the preset (`tfmfn.config`); `--print_config` shows the result. The
same command started again continues from the last checkpoint, at the same
step, learning rate and place in the data. MODEL_DIR holds:

| path                        | what                                                          |
|-----------------------------|---------------------------------------------------------------|
| `config.json`               | the run's config (a resumed run must train the same thing)    |
| `init_from.json`            | with `--init_from`: the file it started from and its SHA-256   |
| `checkpoints/`              | model, head and optimiser every `--checkpoint_every` steps    |
| `logs/`                     | TensorBoard scalars: loss, learning rate, verification        |
| `train_log.csv`, `eval_log.csv`, `curves.png` | the same as tables and a plot              |
| `best/`                     | the embedder (and head) weights with the best mean `--eval_bins` accuracy |
| `export/embedder.keras`     | the embedding model, float32, no head (best weights if evaluated) |
| `export/qat_embedder.weights.h5` | instead, after `--qat`: the QAT weights (tfmot's layers do not reload from .keras) |
| `export/head.npz`           | the margin head's weights, for fine-tuning with `--init_from` |
| `export/model_card.json`    | model, input size, normalisation, config, evaluation        |
| `export/roc.png`            | ROC of the exported weights on `--eval_bins`                 |

Weight decay is the paper's: 4e-5 on every kernel up to the global operator,
4e-4 on the kernels after it (the linear 1x1 and the head), added once to the
loss as 0.5 * wd * |w|^2 (SGD's coupled decay); BatchNorm and PReLU parameters
are not decayed. `--strategy auto` picks TPUStrategy when a TPU is present,
MirroredStrategy for several GPUs and the default strategy otherwise; the batch
is global (512 is 512 images a step, split across replicas).

| module                    | owns                                                                |
|---------------------------|---------------------------------------------------------------------|
| `train.run_folder`        | what MODEL_DIR holds: its files, the run log and curves, the guards |
|                           | that a resumed run trains the same thing from the same weights      |
| `train.strategies`        | the tf.distribute strategy and which replica writes                 |
| `train.model`             | embedder, head, initial weights, learning rate, the training step   |
| `train.export`            | evaluation during training, the best weights, export/               |
| `train.loop`              | `train(config)`: the loop that ties them together                   |
| `train.__main__`          | the CLI                                                             |
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
