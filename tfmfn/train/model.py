"""What trains: the embedder (synchronized BatchNorm, weight decay as the table rows decide), the margin
head (or, distilling, the projection onto the teacher's embeddings), their initial weights, the
learning-rate schedule and the training step (`Trainer`)."""

import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmfn import models, preprocess, storage
from tfmfn.data import pipeline
from tfmfn.models import heads
from tfmfn.quantize import qat
from tfmfn.runtime.inference import load_keras_model
from tfmfn.runtime.model_files import locate
from tfmfn.train import teacher as teachers
from tfmfn.train.run_folder import HEAD_WEIGHTS

QAT_CALIBRATION_IMAGES = 256
"""Training images whose float activations set a fresh QAT model's ranges."""


def kernel_decays(model):
    """[(kernel, weight decay)] of every kernel that `model` and the models inside it decay, read from the
    regularizers the builder gave them (a QAT model's through tfmot's wrappers)."""
    pairs, pending = [], list(model.layers)
    while pending:
        layer = qat.unwrapped(pending.pop(0))
        pending.extend(getattr(layer, "layers", []))
        for variable, regularizer in (("kernel", "kernel_regularizer"), ("depthwise_kernel", "depthwise_regularizer")):
            penalty = getattr(layer, regularizer, None)
            if penalty is not None and hasattr(layer, variable):
                # the regularizer holds 0.5 * decay in float32: its shortest decimal gives the config's value back
                pairs.append((getattr(layer, variable), 2 * float(str(np.float32(penalty.l2)))))
    return pairs


def weight_decay_penalty(model):
    """The sum of the kernels' weight decay losses, 0.5 * wd * |w|^2 each (SGD's coupled decay): the
    builder gave each kernel its decay (`tfmfn.models.build(weight_decay=...)`), the head its own."""
    return tf.add_n([tf.cast(loss, tf.float32) for loss in model.losses]) if model.losses else tf.constant(0.0)


def build_embedder(config, synchronized_batch_norm=False):
    """The zoo model of `config` with the paper's weight decay on its kernels (`config.weight_decay` up
    to the global operator, `config.weight_decay_after_global` after it), with the weights of
    `config.init_from` when given, under QAT with `config.qat` (its BatchNorms frozen); with
    `synchronized_batch_norm`, the float model's BatchNorms reduce across replicas."""
    embedder = models.build(
        config.arch, embedding_size=config.embedding_size,
        weight_decay=(config.weight_decay, config.weight_decay_after_global),
        synchronized_batch_norm=synchronized_batch_norm and not config.qat,
    )
    if config.init_from:
        load_initial_weights(embedder, config.init_from)
    if config.qat:
        return qat.freeze_batch_norm(qat.quantize_model(embedder))
    return embedder


def load_initial_weights(embedder, init_from):
    path = locate(init_from).path
    trained = load_keras_model(path)
    if qat.is_quantized(trained):
        raise ValueError(f"{path} is already a QAT model; --init_from takes the float model it was fine-tuned from")
    try:
        embedder.set_weights(trained.get_weights())
    except ValueError:
        raise ValueError(
            f"--init_from {path} holds a {trained.name} model with other weights than {embedder.name}; "
            "give --arch the architecture it was trained as"
        ) from None


def load_initial_head(head, init_from):
    """Loads the head saved beside `init_from`'s embedder, weight by weight name (a softmax head's
    kernel starts a margin head's); returns whether the kernel fitted."""
    path = os.path.join(os.path.dirname(locate(init_from).path), HEAD_WEIGHTS)
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


def _same_teacher(init_from, teacher):
    """Whether the head saved with `init_from` fits a run with `teacher` (None: a margin head's run): margin
    heads fit margin heads, and a projection fits when `init_from` was distilled from the same teacher."""
    distilled_from = ((locate(init_from).card or {}).get("training") or {}).get("teacher")
    if teacher is None or distilled_from is None:
        return teacher is None and distilled_from is None
    return distilled_from["sha256"] == teacher.sha256


def _weight_name(weight):
    """'arc_face/kernel:0' -> 'kernel'."""
    return weight.name.split("/")[-1].split(":")[0]


def save_head(head, folder):
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

    def __init__(self, config, strategy, source, restore_from=None, teacher=None, targets=None):
        """`restore_from`: a checkpoint of this run to continue from (`tf.train.latest_checkpoint`);
        `teacher` (a `tfmfn.train.teacher.Teacher`) when distilling, with `targets` its cached
        embeddings of `source`'s images (None: the teacher runs in the step)."""
        self.config = config
        self.strategy = strategy
        self.source = source
        self.teacher = teacher
        with strategy.scope():
            synchronized = config.sync_batch_norm and strategy.num_replicas_in_sync > 1
            self.embedder = build_embedder(config, synchronized)
            decay = config.weight_decay_after_global
            if teacher:
                teacher.check_student(self.embedder.input_shape[1:3])
                self.head = teachers.projection(self.embedder.output_shape[-1], teacher.embedding_size, decay)
                self.model = keras.Model(self.embedder.input, [self.embedder.output, self.head(self.embedder.output)])
                self.targets = None if targets is None else tf.constant(targets, tf.float32)
                self.teacher_in_step = None if targets is not None else teacher.in_step((preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE))
            else:
                initializer = keras.initializers.RandomNormal(stddev=0.01, seed=config.seed)
                self.head = heads.HEADS[config.head](
                    source.num_classes, kernel_initializer=initializer,
                    kernel_regularizer=keras.regularizers.L2(0.5 * decay) if decay else None, **config.head_arguments()
                )
                self.model = heads.training_model(self.embedder, self.head)
            self.head_from_init = (
                bool(config.init_from) and _same_teacher(config.init_from, teacher)
                and load_initial_head(self.head, config.init_from)
            )
            self.schedule = LearningRate(config)
            rate = self.schedule if config.lr_boundaries or config.warmup_steps else config.learning_rate
            if config.optimizer == "sgd":
                optimizer = keras.optimizers.SGD(rate, momentum=config.momentum)
            else:
                optimizer = keras.optimizers.Adam(rate)
            optimizer.build(self.model.trainable_variables)
            self.optimizer = optimizer
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
        """The distributed training batches from `start_step` on: (images, labels), or distilling (images,
        the teacher's embeddings of them) with cached ones, else (images, image numbers)."""
        cached = self.teacher is not None and self.targets is not None

        def pipeline_for(context):
            batches = pipeline.make_dataset(
                self.source, self.config.batch_size, self.input_size, flip=self.config.flip,
                light_augment=self.config.light_augment, input_context=context, seed=self.config.seed,
                start_step=start_step, mirror_flags=cached,
            )
            if cached:
                return batches.map(self._cached_targets)
            return batches

        return self.strategy.distribute_datasets_from_function(pipeline_for)

    def calibrate_quantizers(self, images=QAT_CALIBRATION_IMAGES):
        """Sets a fresh QAT model's activation ranges from `images` training images drawn at
        random, as the float model it starts from produces them (`qat.calibrate`)."""
        float_model = models.build(self.config.arch, embedding_size=self.config.embedding_size)
        load_initial_weights(float_model, self.config.init_from)
        faces = pipeline.sample_faces(self.source, images, self.input_size, seed=self.config.seed)
        qat.calibrate(self.embedder, float_model, preprocess.normalize(faces.astype(np.float32)),
                           input_range=preprocess.input_range())

    def _cached_targets(self, images, numbers, mirrored):
        """(images, the teacher's cached embeddings of them, mirrored or not)."""
        return images, tf.gather_nd(self.targets, tf.stack([numbers, tf.cast(mirrored, tf.int32)], axis=1))

    def losses(self, images, labels):
        """(cross-entropy averaged over the global batch, this replica's share of the weight decay, logits, the
        labels as columns of the logits): with --partial_fc below 1, logits over the sampled classes only."""
        if self.config.partial_fc < 1:
            logits, labels = self.head.partial_logits(
                self.embedder(images, training=True), labels, self.sampled_classes, self._sampling_seed()
            )
        else:
            logits = self.model([images, labels], training=True)
        per_example = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch_size)
        penalty = tf.nn.scale_regularization_loss(weight_decay_penalty(self.model))
        return loss, penalty, logits, labels

    @property
    def sampled_classes(self):
        """How many class centres a replica's step samples under --partial_fc (`heads.sample_size`)."""
        replica_batch = self.config.batch_size // self.strategy.num_replicas_in_sync
        return heads.sample_size(self.source.num_classes, self.config.partial_fc, replica_batch)

    def _sampling_seed(self):
        """A seed per step and replica: a resumed run draws the classes the uninterrupted run drew."""
        replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int64)
        step = tf.cast(self.optimizer.iterations, tf.int64)
        return tf.stack([tf.constant(self.config.seed, tf.int64), step * self.strategy.num_replicas_in_sync + replica])

    def distillation_losses(self, images, targets):
        """(distillation loss averaged over the global batch, this replica's share of the weight decay,
        this replica's sum of cosines to the teacher); `targets` are the teacher's embeddings, or the
        images' numbers when the teacher runs here."""
        if self.teacher_in_step is not None:
            targets = self.teacher_in_step(images)
        embeddings, projected = self.model(images, training=True)
        per_example, cosine = teachers.distillation_loss(embeddings, projected, targets, self.config.similarity_weight)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch_size)
        penalty = tf.nn.scale_regularization_loss(weight_decay_penalty(self.model))
        return loss, penalty, tf.reduce_sum(cosine)

    def _replica_step(self, images, labels):
        """One step on this replica's share; distilling, `labels` are the teacher's targets (see `dataset`)."""
        scaled = isinstance(self.optimizer, keras.mixed_precision.LossScaleOptimizer)
        with tf.GradientTape() as tape:
            if self.teacher:
                loss, penalty, agreement = self.distillation_losses(images, labels)
            else:
                loss, penalty, logits, labels = self.losses(images, labels)
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
        if self.teacher:
            return loss, penalty, agreement / self.config.batch_size
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        return loss, penalty, tf.reduce_sum(correct) / self.config.batch_size

    def run_steps(self, iterator, count):
        """Runs `count` steps; returns the last step's (loss, weight decay penalty, accuracy), distilling
        (loss, penalty, mean cosine of the projected embeddings to the teacher's)."""
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
        embedder = models.build(config.arch, embedding_size=config.embedding_size)
        if not config.qat:
            return embedder
        load_initial_weights(embedder, config.init_from)  # the slopes of LeakyReLUs are constants of the graph
        return qat.freeze_batch_norm(qat.quantize_model(embedder))
    finally:
        keras.mixed_precision.set_global_policy(policy)
