"""Classification heads for training: ArcFace, CosFace, insightface's combined margin, NormFace, softmax.

A head holds one weight vector per identity and maps (embedding, label) to
logits. The margin heads give s * cos(theta_j) for every class j, with the
label's class replaced by s * (cos(m1 * theta + m2) - m3): ArcFace is (1, m, 0),
CosFace is (1, 0, m), NormFace (Wang et al. 2017) is (1, 0, 0), no margin.
`Softmax` is the plain fully connected classifier w_j . x + b_j, the first
stage of insightface's two-stage MobileFaceNet recipe: its kernel has the
margin heads' shape, so an ArcFace run started `--init_from` a softmax run
starts from its class centres.
When m1 * theta + m2 passes pi the margin stops being monotonic in theta; there
the target logit falls back to s * (cos(theta) - m3 - m2 * sin(m2)), insightface's
standard fallback (`th`, `mm`) that keeps pushing theta down.

The head is used only in training: `training_model(embedder, head)` wraps an
embedding model into a model with (image, label) inputs and logits output, and
the embedding model itself never contains the head. Heads compute in float32
whatever the global policy, and stay finite (values and gradients) at
cos(theta) = +-1: the label's angle is formed as 2 atan2(|u - w|, |u + w|) from
the unit vectors, well conditioned at both ends, with a floor under each norm.

Example:

    >>> import numpy as np
    >>> from tfmfn import models
    >>> from tfmfn.models import heads
    >>> head = heads.ArcFace(num_classes=10, s=64.0, m=0.5)
    >>> trainer = heads.training_model(models.build("mobilefacenet"), head)
    >>> [tuple(x.shape) for x in trainer.inputs], trainer.output_shape
    ([(None, 112, 112, 3), (None,)], (None, 10))
"""

import math

import tensorflow as tf
import tf_keras as keras

_SQUARED_NORM_FLOOR = 1e-12


def _floored_norm(vectors):
    """Row norms with a floor under the square, so the gradient is finite at zero."""
    return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(vectors), axis=1), _SQUARED_NORM_FLOOR))


class _Head(keras.layers.Layer):
    """What every head has: float32 compute, one kernel column per identity (embedding size, num_classes).

    Called on `[embeddings, labels]` (float (batch, d), integer (batch,) or
    (batch, 1)); returns float32 logits (batch, num_classes).
    """

    def __init__(self, num_classes, kernel_initializer=None, kernel_regularizer=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if num_classes < 2:
            raise ValueError(f"a classification head needs at least 2 classes, got {num_classes}")
        self.num_classes = int(num_classes)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.01)
        )
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[0][-1], self.num_classes), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }


@keras.saving.register_keras_serializable(package="tfmfn")
class CombinedMargin(_Head):
    """insightface's combined margin: target logit s * (cos(m1 * theta + m2) - m3)."""

    def __init__(self, num_classes, s=64.0, m1=1.0, m2=0.5, m3=0.0, kernel_initializer=None, **kwargs):
        super().__init__(num_classes, kernel_initializer, **kwargs)
        self.s = float(s)
        self.m1 = float(m1)
        self.m2 = float(m2)
        self.m3 = float(m3)

    def cosines(self, embeddings, kernel=None):
        """cos(theta_j) between each embedding and each class centre (of `kernel`, default all), in [-1, 1]."""
        unit_embeddings = tf.math.l2_normalize(embeddings, axis=1, epsilon=1e-12)
        unit_kernel = tf.math.l2_normalize(self.kernel if kernel is None else kernel, axis=0, epsilon=1e-12)
        return tf.clip_by_value(tf.matmul(unit_embeddings, unit_kernel), -1.0, 1.0)

    def target_angles(self, embeddings, labels, kernel=None):
        """theta between each embedding and its label's class centre (a column of `kernel`, default all).

        Formed as 2 atan2(|u - w|, |u + w|) for unit vectors u, w, which is accurate
        at theta near 0 and near pi, where arccos of a float32 cosine is not.
        """
        unit_embeddings = tf.math.l2_normalize(embeddings, axis=1, epsilon=1e-12)
        centres = tf.transpose(tf.gather(self.kernel if kernel is None else kernel, labels, axis=1))
        unit_centres = tf.math.l2_normalize(centres, axis=1, epsilon=1e-12)
        return 2.0 * tf.atan2(
            _floored_norm(unit_embeddings - unit_centres), _floored_norm(unit_embeddings + unit_centres)
        )

    def margin(self, angles):
        """The margin-penalised target cosine cos(m1 theta + m2) - m3, with the fallback."""
        penalised = self.m1 * angles + self.m2
        fallback = tf.cos(angles) - self.m3 - self.m2 * math.sin(self.m2)
        return tf.where(penalised <= math.pi, tf.cos(penalised) - self.m3, fallback)

    def call(self, inputs):
        embeddings, labels = inputs
        return self.logits(embeddings, labels, self.kernel)

    def logits(self, embeddings, labels, kernel):
        """The logits over the class centres that are the columns of `kernel`; `labels` index those columns."""
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        is_target = tf.one_hot(labels, tf.shape(kernel)[1], on_value=True, off_value=False)
        target = self.margin(self.target_angles(embeddings, labels, kernel))
        return self.s * tf.where(is_target, target[:, None], self.cosines(embeddings, kernel))

    def partial_logits(self, embeddings, labels, count, seed):
        """insightface's partial FC: (logits over `count` class centres, the labels as columns of them). The
        centres are the labels' classes and others drawn at random from the stateless `seed` (two integers),
        in class order; `count` must be at least the number of labels."""
        embeddings = tf.cast(embeddings, self.kernel.dtype)  # called directly, not through Layer's autocast
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        classes, columns = sample_classes(labels, self.num_classes, count, seed)
        return self.logits(embeddings, columns, tf.gather(self.kernel, classes, axis=1)), columns

    def get_config(self):
        return {**super().get_config(), "s": self.s, "m1": self.m1, "m2": self.m2, "m3": self.m3}


@keras.saving.register_keras_serializable(package="tfmfn")
class ArcFace(CombinedMargin):
    """Additive angular margin (Deng et al.): target logit s * cos(theta + m)."""

    def __init__(self, num_classes, s=64.0, m=0.5, **kwargs):
        super().__init__(num_classes, s=s, m1=1.0, m2=m, m3=0.0, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["m"] = config.pop("m2")
        del config["m1"], config["m3"]
        return config


@keras.saving.register_keras_serializable(package="tfmfn")
class CosFace(CombinedMargin):
    """Additive cosine margin (Wang et al.): target logit s * (cos(theta) - m)."""

    def __init__(self, num_classes, s=64.0, m=0.35, **kwargs):
        super().__init__(num_classes, s=s, m1=1.0, m2=0.0, m3=m, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["m"] = config.pop("m3")
        del config["m1"], config["m2"]
        return config


@keras.saving.register_keras_serializable(package="tfmfn")
class NormFace(CombinedMargin):
    """Normalised softmax (Wang et al., NormFace): logits s * cos(theta_j), no margin."""

    def __init__(self, num_classes, s=64.0, **kwargs):
        super().__init__(num_classes, s=s, m1=1.0, m2=0.0, m3=0.0, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["m1"], config["m2"], config["m3"]
        return config


@keras.saving.register_keras_serializable(package="tfmfn")
class Softmax(_Head):
    """Plain softmax classifier: logits w_j . x + b_j (the label input is not used).

    Its kernel is laid out as the margin heads' kernel; the bias is not decayed,
    as in insightface.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self.bias = self.add_weight(name="bias", shape=(self.num_classes,), initializer="zeros")

    def call(self, inputs):
        embeddings, _ = inputs
        return tf.matmul(tf.cast(embeddings, self.kernel.dtype), self.kernel) + self.bias


def sample_size(num_classes, rate, batch_size):
    """How many class centres partial FC samples a step at `rate` for a (replica's) batch: the share of all
    classes, and at least the batch (so that every label's class fits, as in insightface).

    >>> sample_size(2_000_000, 0.1, 512), sample_size(300, 0.1, 32), sample_size(20, 0.5, 32)
    (200000, 32, 20)
    """
    return min(num_classes, max(int(rate * num_classes), batch_size))


def sample_classes(labels, num_classes, count, seed):
    """(`count` class ids in increasing order: every class of `labels` and random others, `labels` as
    positions in them), as insightface's partial FC draws them: a uniform score per class from the
    stateless `seed`, the labels' classes scored above all, the `count` best kept.

    Example:

        >>> classes, columns = sample_classes(tf.constant([7, 2, 7]), 10, 4, (0, 1))
        >>> len(classes), bool(set(classes.numpy()) >= {2, 7}), classes.numpy()[columns.numpy()].tolist()
        (4, True, [7, 2, 7])
    """
    scores = tf.random.stateless_uniform([num_classes], seed=tf.cast(seed, tf.int64))
    scores = tf.tensor_scatter_nd_update(scores, labels[:, None], tf.fill(tf.shape(labels), 2.0))
    classes = tf.sort(tf.math.top_k(scores, k=count, sorted=False).indices)
    return classes, tf.searchsorted(classes, labels, out_type=tf.int32)


HEADS = {"arcface": ArcFace, "cosface": CosFace, "combined": CombinedMargin, "normface": NormFace, "softmax": Softmax}


def training_model(embedder, head):
    """The model trained with a margin head: inputs (image, label), output logits.

    The embedder's layers are shared, so training this model trains `embedder`,
    which stays a plain embedding model to save, evaluate and convert.
    """
    label = keras.Input((), dtype="int32", name="label")
    logits = head([embedder.output, label])
    return keras.Model([embedder.input, label], logits, name=f"{embedder.name}_train")
