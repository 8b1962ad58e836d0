"""The building blocks that the architecture tables are made of.

Each block is a function from a Keras tensor to a Keras tensor (functional style).
Every convolution is bias-free and followed by BatchNorm, so that BN folds into
it at export time; non-linear ones are then followed by the model's activation.

Example:

    >>> import tf_keras as keras
    >>> from tfmfn.models import blocks
    >>> x = keras.Input((56, 56, 64))
    >>> y = blocks.bottleneck(x, expansion=2, filters=64, strides=1,
    ...                       activation="prelu", name="demo")
    >>> tuple(y.shape)
    (None, 56, 56, 64)
"""

import dataclasses

import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

ACTIVATIONS = ("prelu", "lrelu", "relu", "relu6")
PADDINGS = ("same", "symmetric")
"""How a strided conv pads: "same" as TensorFlow (the extra row and column at the bottom and right),
"symmetric" as PyTorch's `padding=k // 2` (the same number on every side)."""


def activation_layer(kind, name):
    """The non-linearity named `kind`: PReLU with one slope per channel ("prelu") or one per
    layer ("lrelu", exported as LEAKY_RELU), both starting at 0.25; ReLU; ReLU6."""
    if kind in ("prelu", "lrelu"):
        return layers.PReLU(
            alpha_initializer=keras.initializers.Constant(0.25),
            shared_axes=[1, 2] if kind == "prelu" else [1, 2, 3],
            name=name,
        )
    if kind == "relu":
        return layers.ReLU(name=name)
    if kind == "relu6":
        return layers.ReLU(6.0, name=name)
    raise ValueError(f"unknown activation {kind!r}; choose one of {', '.join(ACTIVATIONS)}")


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How a block's layers train: `decay` is the L2 weight decay of their kernels (a loss of
    0.5 * decay * |w|^2 per kernel, whose gradient is SGD's coupled decay; BatchNorm and PReLU
    parameters are not decayed), `synchronized` makes their BatchNorms reduce across replicas."""

    decay: float = 0.0
    synchronized: bool = False

    def regularizer(self):
        return keras.regularizers.L2(0.5 * self.decay) if self.decay else None


PLAIN = TrainOptions()


def batch_norm(name, options=PLAIN):
    """BatchNorm with the momentum and epsilon insightface's MobileFaceNet uses."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=options.synchronized, name=name)


def _padded(x, kernel_size, strides, padding, name):
    """(input, Keras padding) of a conv: with "symmetric" padding a strided conv reads an input
    padded by k // 2 on every side without padding of its own; otherwise `padding` is Keras's."""
    if padding not in (*PADDINGS, "valid"):
        raise ValueError(f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)}")
    if padding != "symmetric":
        return x, padding
    if strides == 1:
        return x, "same"
    return layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x), "valid"


def conv(x, filters, kernel_size, strides, activation, name, groups=1, padding="same", options=PLAIN):
    """Conv2D -> BN -> activation (no activation when `activation` is None: a linear conv)."""
    x, padding = _padded(x, kernel_size, strides, padding, name)
    x = layers.Conv2D(
        filters, kernel_size, strides, padding=padding, groups=groups, use_bias=False,
        kernel_regularizer=options.regularizer(), name=name,
    )(x)
    x = batch_norm(f"{name}_bn", options)(x)
    if activation is not None:
        x = activation_layer(activation, f"{name}_act")(x)
    return x


def depthwise(x, kernel_size, strides, activation, name, padding="same", options=PLAIN):
    """DepthwiseConv2D -> BN -> activation (linear when `activation` is None)."""
    x, padding = _padded(x, kernel_size, strides, padding, name)
    x = layers.DepthwiseConv2D(
        kernel_size, strides, padding=padding, use_bias=False, depthwise_regularizer=options.regularizer(), name=name
    )(x)
    x = batch_norm(f"{name}_bn", options)(x)
    if activation is not None:
        x = activation_layer(activation, f"{name}_act")(x)
    return x


def bottleneck(x, expansion, filters, strides, activation, name, padding="same", options=PLAIN):
    """MobileNetV2 inverted residual: 1x1 expand, 3x3 depthwise, 1x1 linear projection.

    The expansion conv is left out when `expansion` is 1 (MobileNetV2's first block);
    the input is added back when the stride is 1 and the channel count is unchanged.
    """
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = conv(y, in_channels * expansion, 1, 1, activation, f"{name}_expand", options=options)
    y = depthwise(y, 3, strides, activation, f"{name}_dw", padding=padding, options=options)
    y = conv(y, filters, 1, 1, None, f"{name}_project", options=options)
    if strides == 1 and in_channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def separable(x, filters, strides, activation, name, padding="same", options=PLAIN):
    """MobileNetV1 block: 3x3 depthwise -> BN -> act, 1x1 pointwise -> BN -> act."""
    x = depthwise(x, 3, strides, activation, f"{name}_dw", padding=padding, options=options)
    return conv(x, filters, 1, 1, activation, f"{name}_pw", options=options)


@keras.saving.register_keras_serializable(package="tfmfn")
class ChannelShuffle(layers.Layer):
    """ShuffleNet's channel shuffle: interleaves the channels of `groups` groups.

    Example:

        >>> import numpy as np
        >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 1, 6)
        >>> ChannelShuffle(groups=3)(x).numpy().ravel().tolist()
        [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]
    """

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, inputs):
        height, width, channels = inputs.shape[1:]
        x = tf.reshape(inputs, [-1, height, width, self.groups, channels // self.groups])
        x = tf.transpose(x, [0, 1, 2, 4, 3])
        return tf.reshape(x, [-1, height, width, channels])

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


def shuffle_unit(x, filters, strides, groups, activation, name, first_groups=None, options=PLAIN):
    """ShuffleNet (v1) unit: grouped 1x1, shuffle, 3x3 depthwise, grouped 1x1, then
    add (stride 1) or concatenate with a 3x3 average-pooled shortcut (stride 2).

    `filters` is the unit's output width; its bottleneck is a quarter of it. The first
    grouped conv uses `first_groups` when given (ShuffleNet does not group the
    first conv of stage 2, whose input has only 24 channels).
    """
    in_channels = x.shape[-1]
    branch_filters = filters - in_channels if strides == 2 else filters
    y = conv(x, filters // 4, 1, 1, activation, f"{name}_gconv1", groups=first_groups or groups, options=options)
    y = ChannelShuffle(groups, name=f"{name}_shuffle")(y)
    y = depthwise(y, 3, strides, None, f"{name}_dw", options=options)
    y = conv(y, branch_filters, 1, 1, None, f"{name}_gconv2", groups=groups, options=options)
    if strides == 2:
        shortcut = layers.AveragePooling2D(3, 2, padding="same", name=f"{name}_pool")(x)
        y = layers.Concatenate(name=f"{name}_concat")([shortcut, y])
    else:
        y = layers.Add(name=f"{name}_add")([x, y])
    return activation_layer(activation, f"{name}_act")(y)
