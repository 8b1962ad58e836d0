"""`python -m tfmfn.train`: a zoo model with a margin head, the paper's recipe, on one device or many.

    python -m tfmfn.data synth --out runs/synth          # the embedded synthetic data
    python -m tfmfn.train --config synthetic             # about 10 minutes on 2 CPU cores
    python -m tfmfn.train --config paper_casia --data faces_webface_112x112 \\
        --eval_bins faces_webface_112x112/lfw.bin,faces_webface_112x112/agedb_30.bin --model_dir runs/casia
    python -m tfmfn.train --config distill_quick --teacher runs/sirius --data aligned/ \
        --eval_bins devtest.bin --model_dir runs/student      # distillation: no labels read

With `--strategy multi_worker` the same command runs once per worker, each with `TF_CONFIG`
naming the cluster and its index (README, "Several machines"); worker 0 writes MODEL_DIR.
`--partial_fc 0.1` trains a margin head on the batch's classes and a random tenth of the others
each step (insightface's partial FC, for hundreds of thousands of identities).

With `--teacher` (the `distill_*` presets) the student learns a trained model's normalised
embeddings of the images of a folder of aligned faces, whatever its layout, and no head
(`tfmfn.train.teacher`: the loss, the projection, the cached embeddings).

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
| `export/model_card.json`    | model, input size, normalisation, config, evaluation (distilled: the teacher, its sha256 and terms) |
| `teacher.json`              | distilling: the teacher's file, sha256 and terms (a resumed run must learn from the same) |
| `teacher_embeddings.npz`    | distilling with `--teacher_cache`: the teacher's embeddings of every image and its mirror |
| `export/roc.png`            | ROC of the exported weights on `--eval_bins`                 |

Weight decay is the paper's: 4e-5 on every kernel up to the global operator,
4e-4 on the kernels after it (the linear 1x1 and the head), added once to the
loss as 0.5 * wd * |w|^2 (SGD's coupled decay); BatchNorm and PReLU parameters
are not decayed. `--strategy auto` picks TPUStrategy when a TPU is present,
MirroredStrategy for several GPUs and the default strategy otherwise; the batch
is global (512 is 512 images a step, split across replicas).

Every field of `tfmfn.config.TrainConfig` is a flag (`--arch`, `--head`, `--batch_size`, ...).
"""

import dataclasses
import os
import re
import sys

from tfmfn import config as configs
from tfmfn import cli, evaluate
from tfmfn.data import bins
from tfmfn.runtime.model_files import EXPORT_FOLDER, EXPORT_MODEL, EXPORT_QAT_WEIGHTS
from tfmfn.train.loop import train


def _define_flags():
    from absl import flags

    flags.DEFINE_enum("config", "synthetic", list(configs.PRESETS), "Preset to start from (tfmfn.config).")
    flags.DEFINE_bool("print_config", False, "Print the config that the preset and flags make, as JSON, and exit.")
    choices = {"head": configs.HEAD_CHOICES, "optimizer": configs.OPTIMIZER_CHOICES,
               "strategy": configs.STRATEGY_CHOICES}
    for field in dataclasses.fields(configs.TrainConfig):
        if field.name == "preset":
            continue
        help_text = field.metadata["help"] + " (default: from --config)"
        if field.name in choices:
            flags.DEFINE_enum(field.name, None, list(choices[field.name]), help_text)
        elif field.type is bool:
            flags.DEFINE_bool(field.name, None, help_text)
        elif field.type is tuple:
            flags.DEFINE_list(field.name, None, help_text)
        else:
            definer = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}[field.type]
            definer(field.name, None, help_text)
    cli.rename("model", "arch")


def _number(text):
    """'36000' -> 36000, '0.6' -> 0.6: a list flag of steps or fractions."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def config_from_flags(values):
    """The TrainConfig of parsed flags: the preset, then every flag that was given."""
    overrides = {}
    for field in dataclasses.fields(configs.TrainConfig):
        value = values.get(field.name)
        if value is not None and field.type is tuple:
            element = type(field.default[0]) if field.default else str
            value = tuple(_number(item) if element is int else element(item) for item in value)
        overrides[field.name] = value
    overrides.pop("preset")
    return configs.make_config(values["config"], **overrides)


def _what_stopped(message):
    """What a TensorFlow error says happened: the line about unhealthy tasks and the task it names, else
    the task a lost connection was with and gRPC's reason."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for number, line in enumerate(lines):
        if "unhealthy" in line:
            return " ".join(lines[number:number + 2])
    task = re.search(r"remote target (/job:\w+/replica:\d+/task:\d+)", message)
    if task:
        reason = re.search(r'grpc_message:"([^"]*)"', message)
        return f"lost {task.group(1)}" + (f" ({reason.group(1)})" if reason else "")
    return lines[0] if lines else "a worker stopped"


def main(argv):
    import tensorflow as tf
    from absl import app, flags, logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    try:
        config = config_from_flags({name: options[name].value for name in options})
        if options.print_config:
            print(config.to_json())
            print(config.schedule_text(), file=sys.stderr)
            return
        card = train(config)
    except (FileNotFoundError, ValueError, FloatingPointError, RuntimeError, bins.BinFormatError) as error:
        raise SystemExit(f"error: {error}")
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError) as error:
        if config.strategy != "multi_worker":
            raise
        raise SystemExit(  # another worker stopped
            f"error: {_what_stopped(error.message)}; start every worker again with the same command: the run "
            f"continues from the last checkpoint in {config.model_dir}"
        )
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted; the same command continues from the last checkpoint in {config.model_dir}")
    if card:
        exported = os.path.join(config.model_dir, EXPORT_FOLDER, EXPORT_QAT_WEIGHTS if config.qat else EXPORT_MODEL)
        print(f"\nexported {exported} (weights of step {card['training']['weights_from_step']})")
        if card["evaluation"]:
            print(evaluate.format_results(card["evaluation"]))


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
