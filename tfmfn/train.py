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
"""

import csv
import dataclasses
import glob
import json
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmfn import config as configs
from tfmfn import evaluate, heads, model_card, models, preprocess, quantize, storage
from tfmfn.data import bins, pipeline
from tfmfn.embedder import (
    EXPORT_FOLDER, EXPORT_MODEL, EXPORT_QAT_WEIGHTS, KerasEmbedder, load_keras_model, resolve_model_path,
)
from tfmfn.models import table

CONFIG_FILE = "config.json"
INIT_FILE = "init_from.json"
CHECKPOINT_FOLDER = "checkpoints"
BEST_FOLDER = "best"
BEST_WEIGHTS = "embedder.weights.h5"
HEAD_WEIGHTS = "head.npz"
QAT_CALIBRATION_IMAGES = 256
BEST_SUMMARY = "best.json"
BEST_ROC = "roc.png"
TRAIN_LOG = "train_log.csv"
EVAL_LOG = "eval_log.csv"
TRAIN_COLUMNS = ("step", "loss", "weight_decay", "accuracy", "learning_rate", "images_per_second")
EVAL_COLUMNS = ("step", "set", "accuracy", "accuracy_std", "threshold", "val_at_far_1e-3", "auc")


def make_strategy(name="auto", tpu=""):
    """The `tf.distribute` strategy for `--strategy` (see the module docstring)."""
    if name == "tpu" or (name == "auto" and _tpu_present(tpu)):
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "mirrored" or (name == "auto" and len(tf.config.list_logical_devices("GPU")) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _tpu_present(tpu):
    return bool(tpu or os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME") or glob.glob("/dev/accel*"))


def is_chief(strategy):
    """Whether this worker writes checkpoints, logs and exports (always, on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or isinstance(strategy, tf.distribute.TPUStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and not has_chief)


def decayed_kernels(embedder, head, config):
    """(kernel, weight decay) pairs: the paper's two values by position relative to the global operator."""
    names = [quantize.unwrapped(layer).name for layer in embedder.layers]
    global_layers = [index for index, name in enumerate(names) if name.split("_")[0] in table.GLOBAL_OPERATORS]
    first_after = global_layers[0] + 1 if global_layers else len(names)
    pairs = []
    for index, (layer, name) in enumerate(zip(embedder.layers, names)):
        if name.endswith(quantize.NEGATIVE_PART_SUFFIX):
            continue  # a PReLU's slopes in deploy form: not decayed, like PReLU's alpha
        decay = config.weight_decay_after_global if index >= first_after else config.weight_decay
        pairs.extend((weight, decay) for weight in layer.trainable_weights if "kernel" in weight.name)
    pairs.extend((weight, config.weight_decay_after_global) for weight in head.trainable_weights if "kernel" in weight.name)
    return pairs


def weight_decay_penalty(pairs):
    """Sum of 0.5 * wd * |w|^2: its gradient is SGD's coupled weight decay wd * w."""
    return tf.add_n([0.5 * decay * tf.reduce_sum(tf.square(tf.cast(kernel, tf.float32))) for kernel, decay in pairs])


def build_embedder(config, synchronized_batch_norm=False):
    """The zoo model of `config`, with the weights of `config.init_from` when given, under QAT
    with `config.qat`; with `synchronized_batch_norm`, its BatchNorms reduce across replicas."""
    embedder = models.build(config.model, embedding_size=config.embedding_size)
    if config.init_from:
        _load_initial_weights(embedder, config.init_from)
    if config.qat:
        return quantize.freeze_batch_norm(quantize.quantize_model(embedder))
    if not synchronized_batch_norm:
        return embedder

    def synchronize(layer):
        layer_config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            layer_config["synchronized"] = True
        return layer.__class__.from_config(layer_config)

    synchronized = keras.models.clone_model(embedder, clone_function=synchronize)
    synchronized.set_weights(embedder.get_weights())
    return synchronized


def _load_initial_weights(embedder, init_from):
    path = resolve_model_path(init_from)
    trained = load_keras_model(path)
    if quantize.is_quantized(trained):
        raise ValueError(f"{path} is already a QAT model; --init_from takes the float model it was fine-tuned from")
    try:
        embedder.set_weights(trained.get_weights())
    except ValueError:
        raise ValueError(
            f"--init_from {path} holds a {trained.name} model with other weights than {embedder.name}; "
            "give --model the architecture it was trained as"
        ) from None


def _load_initial_head(head, init_from):
    """Loads the head saved beside `init_from`'s embedder, weight by weight name (a softmax head's
    kernel starts a margin head's); returns whether the kernel fitted."""
    path = os.path.join(os.path.dirname(resolve_model_path(init_from)), HEAD_WEIGHTS)
    if not storage.exists(path):
        return False
    with storage.local_copy(path) as local, np.load(local) as saved:
        stored = {name: saved[name] for name in saved.files}
    fitted = [
        (weight, stored[_weight_name(weight)]) for weight in head.weights
        if _weight_name(weight) in stored and stored[_weight_name(weight)].shape == tuple(weight.shape)
    ]
    if "kernel" not in [_weight_name(weight) for weight, _ in fitted]:
        return False
    for weight, value in fitted:
        weight.assign(value)
    return True


def _weight_name(weight):
    """'arc_face/kernel:0' -> 'kernel'."""
    return weight.name.split("/")[-1].split(":")[0]


def _save_head(head, folder):
    with storage.written(os.path.join(folder, HEAD_WEIGHTS)) as local, open(local, "wb") as stream:
        np.savez(stream, **{_weight_name(weight): weight.numpy() for weight in head.weights})


class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """The rate of a config at a step: piecewise constant at --lr_boundaries, after a linear warm-up.

    Example:

        >>> from tfmfn.config import make_config
        >>> rate = LearningRate(make_config("paper_casia", warmup_steps=4))
        >>> [round(float(rate(step)), 3) for step in (0, 1, 3, 36000, 36001)]
        [0.025, 0.05, 0.1, 0.1, 0.01]
    """

    def __init__(self, config):
        self.boundaries = list(config.boundary_steps())
        self.rates = config.learning_rates()
        self.warmup_steps = config.warmup_steps

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        passed = tf.reduce_sum(tf.cast(step > tf.constant(self.boundaries, tf.int64, [len(self.boundaries)]), tf.int32))
        rate = tf.gather(tf.constant(self.rates, tf.float32), passed)
        if self.warmup_steps:
            rate *= tf.minimum(1.0, tf.cast(step + 1, tf.float32) / self.warmup_steps)
        return rate

    def get_config(self):
        return {"boundaries": self.boundaries, "rates": self.rates, "warmup_steps": self.warmup_steps}


class Trainer:
    """One training run of `config` under `strategy`: models, optimiser, data and the step function."""

    def __init__(self, config, strategy, source, restore_from=None):
        """`restore_from`: a checkpoint of this run to continue from (`tf.train.latest_checkpoint`)."""
        self.config = config
        self.strategy = strategy
        self.source = source
        with strategy.scope():
            synchronized = config.sync_batch_norm and strategy.num_replicas_in_sync > 1
            self.embedder = build_embedder(config, synchronized)
            initializer = keras.initializers.RandomNormal(stddev=0.01, seed=config.seed)
            self.head = heads.HEADS[config.head](
                source.num_classes, kernel_initializer=initializer, **config.head_arguments()
            )
            self.model = heads.training_model(self.embedder, self.head)
            self.head_from_init = bool(config.init_from) and _load_initial_head(self.head, config.init_from)
            self.schedule = LearningRate(config)
            rate = self.schedule if config.lr_boundaries or config.warmup_steps else config.learning_rate
            if config.optimizer == "sgd":
                optimizer = keras.optimizers.SGD(rate, momentum=config.momentum)
            else:
                optimizer = keras.optimizers.Adam(rate)
            optimizer.build(self.model.trainable_variables)
            self.optimizer = optimizer
            self.decayed = decayed_kernels(self.embedder, self.head, config)
            self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=optimizer)
            if restore_from:
                self._restore(restore_from)
            if keras.mixed_precision.global_policy().name == "mixed_float16":
                # Wrapped after the restore, its loss scale checkpointed beside the optimiser: restored when the
                # checkpoint has one, started afresh when not, so a run continues with --mixed_precision switched.
                self.optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
                self.checkpoint.loss_scale = self.optimizer._loss_scale
        self.input_size = tuple(self.embedder.input_shape[1:3])
        self._steps_function = None

    def _restore(self, path):
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched().expect_partial()
        except (AssertionError, ValueError) as error:
            raise ValueError(
                f"{path} does not fit this model ({str(error).splitlines()[0][:200]}); "
                "did the data's number of identities change? Use another --model_dir"
            ) from None

    @property
    def step(self):
        return int(self.optimizer.iterations.numpy())

    def learning_rate(self, step=None):
        """The learning rate of step `step` (0-based; default: the next step)."""
        return float(self.schedule(self.step if step is None else step))

    def dataset(self, start_step):
        """The distributed training batches from `start_step` on."""

        def pipeline_for(context):
            return pipeline.make_dataset(
                self.source, self.config.batch_size, self.input_size, flip=self.config.flip,
                light_augment=self.config.light_augment, input_context=context, seed=self.config.seed,
                start_step=start_step,
            )

        return self.strategy.distribute_datasets_from_function(pipeline_for)

    def calibrate_quantizers(self, images=QAT_CALIBRATION_IMAGES):
        """Sets a fresh QAT model's activation ranges from `images` training images drawn at
        random, as the float model it starts from produces them (`quantize.calibrate`)."""
        float_model = models.build(self.config.model, embedding_size=self.config.embedding_size)
        _load_initial_weights(float_model, self.config.init_from)
        faces = pipeline.sample_faces(self.source, images, self.input_size, seed=self.config.seed)
        quantize.calibrate(self.embedder, float_model, preprocess.normalize(faces.astype(np.float32)))

    def losses(self, images, labels):
        """(cross-entropy averaged over the global batch, this replica's share of the weight decay, logits)."""
        logits = self.model([images, labels], training=True)
        per_example = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch_size)
        penalty = tf.nn.scale_regularization_loss(weight_decay_penalty(self.decayed))
        return loss, penalty, logits

    def _replica_step(self, images, labels):
        scaled = isinstance(self.optimizer, keras.mixed_precision.LossScaleOptimizer)
        with tf.GradientTape() as tape:
            loss, penalty, logits = self.losses(images, labels)
            total = loss + penalty
            if scaled:
                total = self.optimizer.get_scaled_loss(total)
        gradients = tape.gradient(total, self.model.trainable_variables)
        if scaled:
            gradients = self.optimizer.get_unscaled_gradients(gradients)
        if self.config.clip_norm:  # the norm of the whole step: sum the replicas' shares first
            gradients = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, gradients)
            gradients, _ = tf.clip_by_global_norm(gradients, self.config.clip_norm)
        self.optimizer.apply_gradients(
            zip(gradients, self.model.trainable_variables), skip_gradients_aggregation=bool(self.config.clip_norm)
        )
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        return loss, penalty, tf.reduce_sum(correct) / self.config.batch_size

    def run_steps(self, iterator, count):
        """Runs `count` steps; returns the last step's (loss, weight decay penalty, accuracy)."""
        if self._steps_function is None:

            @tf.function
            def steps(iterator, count):
                results = (tf.constant(0.0), tf.constant(0.0), tf.constant(0.0))
                for _ in tf.range(count):
                    per_replica = self.strategy.run(self._replica_step, args=next(iterator))
                    results = tuple(
                        self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in per_replica
                    )
                return results

            self._steps_function = steps
        with pipeline.damaged_data_errors(self.source):
            return [float(value) for value in self._steps_function(iterator, tf.constant(count))]


def build_float32_embedder(config):
    """The zoo model of `config` (its QAT form with `config.qat`) in float32 whatever the global
    policy, for evaluation and export."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        embedder = models.build(config.model, embedding_size=config.embedding_size)
        if not config.qat:
            return embedder
        _load_initial_weights(embedder, config.init_from)  # the slopes of LeakyReLUs are constants of the graph
        return quantize.freeze_batch_norm(quantize.quantize_model(embedder))
    finally:
        keras.mixed_precision.set_global_policy(policy)


def export_embedder(embedder, config, folder):
    """Saves a float32 copy of `embedder` (no head, plain BatchNorm) as `folder/embedder.keras`;
    a QAT embedder as `folder/qat_embedder.weights.h5` (tfmot's layers do not reload from
    .keras files; `load_keras_model` rebuilds it from the model card written beside it). The
    file is loaded back and checked against `embedder` before it takes its place."""
    plain = build_float32_embedder(config)
    plain.set_weights(embedder.get_weights())
    storage.makedirs(folder)
    path = os.path.join(folder, EXPORT_QAT_WEIGHTS if config.qat else EXPORT_MODEL)
    with storage.written(path) as local:
        if config.qat:
            plain.save_weights(local)
            reloaded = build_float32_embedder(config)
            reloaded.load_weights(local)
        else:
            plain.save(local)
            reloaded = load_keras_model(local)
        _check_saved(path, reloaded, plain)
    return plain, path


class Evaluator:
    """The `--eval_bins` sets, decoded once, scored on a float32 copy of the embedder."""

    def __init__(self, paths, config, input_size):
        self.sets = []
        for path in paths:
            pairs = bins.load_bin(path)
            images = pairs.decode_all()
            if images.shape[1:3] != tuple(input_size):
                raise ValueError(
                    f"{path}: images are {images.shape[1]}x{images.shape[2]} but {config.model} takes "
                    f"{input_size[0]}x{input_size[1]}; use a .bin made for this input size"
                )
            self.sets.append(bins.VerificationSet(pairs.name, list(images), pairs.issame))
        self.model = build_float32_embedder(config)
        self.embedder = KerasEmbedder(self.model, name=config.model)

    def __call__(self, embedder, roc_path=None):
        self.model.set_weights(embedder.get_weights())
        return evaluate.evaluate_sets(self.embedder, self.sets, roc_path=roc_path)


class RunLog:
    """The CSV tables, TensorBoard scalars and curves plot of a run (written by the chief only)."""

    def __init__(self, folder, resumed_step, enabled=True):
        self.folder = folder
        self.enabled = enabled
        if not enabled:
            return
        for name in (TRAIN_LOG, EVAL_LOG):
            _drop_rows_after(os.path.join(folder, name), resumed_step)
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
        loss_axis.plot(steps, [float(row["loss"]) for row in train_rows], label="margin loss")
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


def _drop_rows_after(path, step):
    """Keeps the rows of a CSV log up to `step`, those of the checkpoint a run resumes from."""
    rows = _read_rows(path)
    if not rows:
        return
    with storage.written(path) as local, open(local, "w", newline="") as stream:
        writer = csv.DictWriter(stream, list(rows[0]))
        writer.writeheader()
        writer.writerows(row for row in rows if int(row["step"]) <= step)


class _ResumedProgbar(keras.utils.Progbar):
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
    weights = os.path.abspath(resolve_model_path(config.init_from))
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


def _check_data(config):
    if not config.data:
        raise ValueError(
            f"--data is required with --config {config.preset}: an insightface folder (train.rec), "
            "TFRecords or a folder of identity folders"
        )
    if not storage.exists(config.data) and not tf.io.gfile.glob(config.data + "*"):
        hint = " (render it with: python -m tfmfn.data synth --out runs/synth)" if config.preset == "synthetic" else ""
        raise FileNotFoundError(f"{config.data}: no such training data{hint}")


def train(config, strategy=None, verbose=True):
    """Trains (or continues) the run of `config`; returns the model card of the export.

    `strategy` defaults to `make_strategy(config.strategy, config.tpu)`. Keras's
    global dtype policy is set for `--mixed_precision` and restored on return.
    """
    policy = keras.mixed_precision.global_policy()
    try:
        return _train(config, strategy, verbose)
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _train(config, strategy, verbose):
    _check_data(config)
    if config.model_dir is None:
        raise ValueError("--model_dir is required: checkpoints, logs and the exported model go there")
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or make_strategy(config.strategy, config.tpu)
    if config.mixed_precision:
        on_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
        keras.mixed_precision.set_global_policy("mixed_bfloat16" if on_tpu else "mixed_float16")
    chief = is_chief(strategy)
    source = pipeline.open_source(config.data)
    pipeline.check_training_source(source, config.batch_size)
    say = print if verbose else (lambda *args, **kwargs: None)
    if config.epochs is not None:
        epochs, config = config.epochs, config.for_data(source.num_images)
        say(f"{epochs:g} epochs of {source.num_images} images at batch {config.batch_size}: {config.schedule_text()}")
    started_from = initial_weights(config) if config.init_from else None
    refuse_another_run(config)  # before its checkpoint is restored into another model
    restore_from = tf.train.latest_checkpoint(os.path.join(config.model_dir, CHECKPOINT_FOLDER))
    trainer = Trainer(config, strategy, source, restore_from)
    evaluator = Evaluator(config.eval_bins, config, trainer.input_size) if config.eval_bins else None
    if chief:
        prepare_model_dir(config, started_from)
    write_dir = config.model_dir if chief else tempfile.mkdtemp()
    manager = tf.train.CheckpointManager(
        trainer.checkpoint, os.path.join(write_dir, CHECKPOINT_FOLDER), config.keep_checkpoints, checkpoint_name="ckpt"
    )
    start = trainer.step
    log = RunLog(config.model_dir, start, enabled=chief)
    best = _read_best(config.model_dir)
    say(
        f"{config.model} + {config.head} on {source.num_images} images of {source.num_classes} identities "
        f"({source.format}); {strategy.num_replicas_in_sync} replica(s) under {type(strategy).__name__}; "
        + (f"resuming at step {start}" if start else "starting at step 0")
        + f" of {config.steps}, learning rate {trainer.learning_rate():g}"
    )
    if config.init_from:
        say(
            ("QAT fine-tuning" if config.qat else "starting from") + f" {resolve_model_path(config.init_from)}; "
            + ("head from its export" if trainer.head_from_init else "head from random weights (no saved head for these identities)")
        )

    best_dir = os.path.join(config.model_dir, BEST_FOLDER)
    if chief:
        storage.makedirs(best_dir)
    roc_path = os.path.join(tempfile.mkdtemp(prefix="tfmfn-"), BEST_ROC)

    def evaluate_now(step):
        nonlocal best
        results = evaluator(trainer.embedder, roc_path if chief else None)
        log.eval_rows(step, results)
        score = float(np.mean([metrics["accuracy"] for metrics in results.values()]))
        say(f"\nstep {step}: " + ", ".join(f"{name} {metrics['accuracy']:.2%}" for name, metrics in results.items()))
        if chief and (best is None or score > best["score"]):
            best = {"step": step, "score": score, "results": results}
            _write_best(best_dir, trainer, best)
            storage.copy(roc_path, os.path.join(best_dir, BEST_ROC))

    if start < config.steps:
        if config.qat and start == 0:
            trainer.calibrate_quantizers()
        if evaluator and start == 0:
            evaluate_now(0)
        iterator = iter(trainer.dataset(start))
        bar = _ResumedProgbar(config.steps, start, stateful_metrics=["loss", "acc", "lr"], verbose=1 if verbose else 0)
        step, tick, images = start, time.perf_counter(), 0
        while step < config.steps:
            count = min(
                config.steps_per_loop,
                config.steps - step,
                *(every - step % every for every in (config.log_every, config.checkpoint_every, config.eval_every)),
            )
            loss, penalty, accuracy = trainer.run_steps(iterator, count)
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss} at step {step + count}; lower --learning_rate or restart "
                    f"from the last checkpoint in {config.model_dir}"
                )
            step, images = step + count, images + count * config.batch_size
            bar.update(step, [("loss", loss), ("acc", accuracy), ("lr", trainer.learning_rate(step - 1))])
            if step % config.log_every == 0 or step == config.steps:
                now = time.perf_counter()
                log.train_row({
                    "step": step, "loss": loss, "weight_decay": penalty, "accuracy": accuracy,
                    "learning_rate": trainer.learning_rate(step - 1), "images_per_second": images / (now - tick),
                })
                tick, images = now, 0
            if step % config.checkpoint_every == 0 or step == config.steps:
                manager.save(checkpoint_number=step)
            if evaluator and (step % config.eval_every == 0 or step == config.steps):
                evaluate_now(step)
    elif evaluator and best is None:
        evaluate_now(start)
    return _export(config, trainer, source, strategy, best, chief)


def _export(config, trainer, source, strategy, best, chief):
    export_dir = os.path.join(config.model_dir, EXPORT_FOLDER)
    if not chief:
        return None
    best_dir = os.path.join(config.model_dir, BEST_FOLDER)
    if best is not None:
        with storage.local_copy(os.path.join(best_dir, BEST_WEIGHTS)) as weights:
            trainer.embedder.load_weights(weights)
    plain, path = export_embedder(trainer.embedder, config, export_dir)
    if best is not None and storage.exists(os.path.join(best_dir, HEAD_WEIGHTS)):
        storage.copy(os.path.join(best_dir, HEAD_WEIGHTS), os.path.join(export_dir, HEAD_WEIGHTS))
    else:
        _save_head(trainer.head, export_dir)
    evaluation = best["results"] if best else {}
    if best is not None and storage.exists(os.path.join(best_dir, BEST_ROC)):
        storage.copy(os.path.join(best_dir, BEST_ROC), os.path.join(export_dir, BEST_ROC))
    training = {
        "config": dataclasses.asdict(_with_absolute_paths(config)),
        "data": {"path": storage.absolute(config.data), "format": source.format,
                 "num_images": source.num_images, "num_classes": source.num_classes},
        "steps_trained": trainer.step,
        "weights_from_step": best["step"] if best else trainer.step,
        "weights_selected_by": "best mean accuracy on eval_bins" if best else "last step",
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
    }
    if config.init_from:
        training["initial_weights"] = os.path.abspath(resolve_model_path(config.init_from))
        training["head_from_initial_weights"] = trainer.head_from_init
    counted = models.build(config.model, embedding_size=config.embedding_size) if config.qat else plain
    card = model_card.make_card(counted, config.model, training, evaluation, qat=config.qat)
    model_card.write_card(card, export_dir)
    plot_curves(config.model_dir, os.path.join(config.model_dir, "curves.png"))
    return card


def _check_saved(path, reloaded, model):
    """Checks that the model loaded back from the file for `path` computes what `model` computes."""
    probe = np.random.default_rng(0).normal(size=(4, *model.input_shape[1:])).astype(np.float32)
    difference = np.abs(reloaded(probe, training=False).numpy() - model(probe, training=False).numpy()).max()
    if not difference <= 1e-5:
        raise RuntimeError(f"{path}: the saved model differs from the trained one by {difference}; export again")


def _with_absolute_paths(config):
    """`config` with its paths independent of the working directory, for the model card (tfmfn.convert
    fine-tunes from it under QAT, run from anywhere)."""
    return dataclasses.replace(
        config, data=storage.absolute(config.data), model_dir=storage.absolute(config.model_dir),
        eval_bins=tuple(storage.absolute(path) for path in config.eval_bins),
        init_from=storage.absolute(config.init_from) if config.init_from else None,
    )


def _write_best(folder, trainer, best):
    with storage.written(os.path.join(folder, BEST_WEIGHTS)) as local:
        trainer.embedder.save_weights(local)
    _save_head(trainer.head, folder)
    storage.write_text(os.path.join(folder, BEST_SUMMARY), json.dumps(best, indent=2))


def _read_best(model_dir):
    path = os.path.join(model_dir, BEST_FOLDER, BEST_SUMMARY)
    return json.loads(storage.read_text(path)) if storage.exists(path) else None


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


def main(argv):
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
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted; the same command continues from the last checkpoint in {config.model_dir}")
    if card:
        exported = os.path.join(config.model_dir, EXPORT_FOLDER, EXPORT_QAT_WEIGHTS if config.qat else EXPORT_MODEL)
        print(f"\nexported {exported} (weights of step {card['training']['weights_from_step']})")
        if card["evaluation"]:
            print(evaluate.format_results(card["evaluation"]))


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main)
