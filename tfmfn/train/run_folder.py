"""What a training run folder holds and how a run finds its way back into it: the run log (CSV tables,
TensorBoard, curves.png), the best weights so far, the config and initial-weights records that a
resumed run must match."""

import csv
import dataclasses
import json
import os

import tensorflow as tf
import tf_keras as keras

from tfmfn import config as configs
from tfmfn import storage
from tfmfn.runtime import model_card
from tfmfn.runtime.model_files import locate

CONFIG_FILE = "config.json"
INIT_FILE = "init_from.json"
CHECKPOINT_FOLDER = "checkpoints"
BEST_FOLDER = "best"
BEST_WEIGHTS = "embedder.weights.h5"
HEAD_WEIGHTS = "head.npz"
BEST_SUMMARY = "best.json"
BEST_ROC = "roc.png"
TRAIN_LOG = "train_log.csv"
EVAL_LOG = "eval_log.csv"
TRAIN_COLUMNS = ("step", "loss", "weight_decay", "accuracy", "teacher_cosine", "learning_rate", "images_per_second")
"""`accuracy` is the margin head's on the training batch; `teacher_cosine`, distilling, the mean cosine of the
projected embeddings to the teacher's (each run fills one of the two)."""
EVAL_COLUMNS = ("step", "set", "accuracy", "accuracy_std", "threshold", "val_at_far_1e-3", "auc")


class RunLog:
    """The CSV tables, TensorBoard scalars and curves plot of a run (written by the chief only)."""

    def __init__(self, folder, resumed_step, enabled=True):
        self.folder = folder
        self.enabled = enabled
        if not enabled:
            return
        for name, columns in ((TRAIN_LOG, TRAIN_COLUMNS), (EVAL_LOG, EVAL_COLUMNS)):
            _drop_rows_after(os.path.join(folder, name), resumed_step, columns)
        self.writer = tf.summary.create_file_writer(os.path.join(folder, "logs"))

    def train_row(self, row):
        self._append(TRAIN_LOG, TRAIN_COLUMNS, row)
        self._scalars("train", row["step"], {key: value for key, value in row.items() if key != "step"})

    def eval_rows(self, step, results):
        for name, metrics in results.items():
            row = {"step": step, "set": name, **{key: metrics[key] for key in EVAL_COLUMNS[2:]}}
            self._append(EVAL_LOG, EVAL_COLUMNS, row)
            self._scalars(f"eval/{name}", step, {key: metrics[key] for key in EVAL_COLUMNS[2:]})
        self.plot()

    def _append(self, name, columns, row):
        if not self.enabled:
            return
        path = os.path.join(self.folder, name)
        new = not storage.exists(path)
        with storage.open_file(path, "a") as stream:
            writer = csv.DictWriter(stream, columns)
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _scalars(self, prefix, step, values):
        if not self.enabled:
            return
        with self.writer.as_default(step=step):
            for key, value in values.items():
                tf.summary.scalar(f"{prefix}/{key}", value)
        self.writer.flush()

    def plot(self):
        if self.enabled:
            plot_curves(self.folder, os.path.join(self.folder, "curves.png"))


def plot_curves(model_dir, path):
    """Plots a run's training loss and verification accuracy against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train_rows = _read_rows(os.path.join(model_dir, TRAIN_LOG))
    eval_rows = _read_rows(os.path.join(model_dir, EVAL_LOG))
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    if train_rows:
        steps = [int(row["step"]) for row in train_rows]
        label = "distillation loss" if train_rows[0].get("teacher_cosine") else "margin loss"
        loss_axis.plot(steps, [float(row["loss"]) for row in train_rows], label=label)
        loss_axis.plot(steps, [float(row["weight_decay"]) for row in train_rows], label="weight decay")
        loss_axis.legend()
    loss_axis.set_xlabel("step")
    loss_axis.set_title("training loss")
    for name in dict.fromkeys(row["set"] for row in eval_rows):
        rows = [row for row in eval_rows if row["set"] == name]
        accuracy_axis.plot([int(row["step"]) for row in rows], [100 * float(row["accuracy"]) for row in rows],
                           marker="o", label=name)
    accuracy_axis.set_xlabel("step")
    accuracy_axis.set_ylabel("10-fold accuracy (%)")
    accuracy_axis.set_title("verification")
    if eval_rows:
        accuracy_axis.legend()
    accuracy_axis.grid(alpha=0.3)
    figure.tight_layout()
    with storage.written(path) as local:
        figure.savefig(local, dpi=100, format="png")
    plt.close(figure)


def _read_rows(path):
    if not storage.exists(path):
        return []
    with storage.open_file(path) as stream:
        return list(csv.DictReader(stream))


def _drop_rows_after(path, step, columns):
    """Keeps the rows of a CSV log up to `step`, those of the checkpoint a run resumes from, under
    today's `columns` (a log an earlier release began gets the columns it lacked, empty)."""
    rows = _read_rows(path)
    if not rows:
        return
    with storage.written(path) as local, open(local, "w", newline="") as stream:
        writer = csv.DictWriter(stream, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(row for row in rows if int(row["step"]) <= step)


class ResumedProgbar(keras.utils.Progbar):
    """Keras's progress bar over the whole run, its time estimate counting only this session's steps."""

    def __init__(self, target, initial, **kwargs):
        super().__init__(target, **kwargs)
        self._initial = initial

    def _estimate_step_duration(self, current, now):
        return super()._estimate_step_duration(max(current - self._initial, 0), now)


def refuse_another_run(config):
    """Raises ValueError when `config.model_dir` holds a run that trained something else."""
    path = os.path.join(config.model_dir, CONFIG_FILE)
    if not storage.exists(path):
        return
    problems = configs.incompatibilities(configs.TrainConfig.from_json(storage.read_text(path)), config)
    if problems:
        raise ValueError(
            f"{config.model_dir} holds a run of another config ({'; '.join(problems)}); "
            "use another --model_dir, or the same settings to continue it"
        )


def prepare_model_dir(config, started_from=None):
    """Creates or reopens `config.model_dir` (after `refuse_another_run(config)`) and writes its config.
    Records `started_from` (`initial_weights(config)`) the first time."""
    storage.makedirs(config.model_dir)
    path = os.path.join(config.model_dir, CONFIG_FILE)
    storage.write_text(path, config.to_json())
    record = os.path.join(config.model_dir, INIT_FILE)
    if started_from and not storage.exists(record):
        storage.write_text(record, json.dumps(started_from, indent=2))


def initial_weights(config):
    """{file, sha256} of `--init_from`; raises ValueError when `config.model_dir` started from other
    weights (the float model was retrained since, and the run holds a fine-tuning of the old one)."""
    weights = os.path.abspath(locate(config.init_from).path)
    started_from = {"file": weights, "sha256": model_card.file_sha256(weights)}
    record = os.path.join(config.model_dir, INIT_FILE)
    if storage.exists(record):
        recorded = json.loads(storage.read_text(record))
        if recorded["sha256"] != started_from["sha256"]:
            raise ValueError(
                f"{config.model_dir} started from other weights than {weights} holds now (sha256 "
                f"{recorded['sha256'][:12]} then, {started_from['sha256'][:12]} now): it fine-tuned the earlier "
                "model; delete it or give another --model_dir (tfmfn.convert: --qat_dir)"
            )
    return started_from


def with_absolute_paths(config):
    """`config` with its paths independent of the working directory, for the model card (tfmfn.convert
    fine-tunes from it under QAT, run from anywhere)."""
    return dataclasses.replace(
        config, data=storage.absolute(config.data), model_dir=storage.absolute(config.model_dir),
        eval_bins=tuple(storage.absolute(path) for path in config.eval_bins),
        init_from=storage.absolute(config.init_from) if config.init_from else None,
        teacher=storage.absolute(config.teacher) if config.teacher else None,
    )
