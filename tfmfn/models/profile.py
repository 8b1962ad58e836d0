"""Counting a model the way the paper does: parameters with BN folded, and MACs.

Inference parameters are what a deployed model stores: every BatchNorm that
follows a convolution folds into it (its scale into the kernel, its shift into
one bias per output channel), so a BN adds one number per channel to a bias-free
conv and nothing to a conv that already has a bias. A BN that follows no conv
keeps its scale and shift. Multiply-accumulates count convolutions and dense
layers, the operations that dominate the cost; element-wise work is left out.

Example:

    >>> from tfmfn.models import build, profile
    >>> stats = profile.profile(build("mobilefacenet"))
    >>> stats.params, stats.macs
    (993344, 220965376)
"""

import dataclasses

import numpy as np
from tf_keras import layers

_CONVOLUTIONS = (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)


@dataclasses.dataclass(frozen=True)
class Profile:
    params: int
    """Inference parameters, BN folded into the convolutions."""
    trainable_params: int
    macs: int
    """Multiply-accumulates for one image."""


def profile(model):
    """The `Profile` of a built Keras model."""
    trainable = int(sum(np.prod(weight.shape) for weight in model.trainable_weights))
    return Profile(folded_params(model), trainable, macs(model))


def folded_params(model):
    """Parameter count after folding every BatchNorm into the convolution before it."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            total += _folded_batch_norm_size(layer)
        else:
            total += layer.count_params()
    return int(total)


def _folded_batch_norm_size(layer):
    channels = layer.gamma.shape[0] if layer.gamma is not None else layer.beta.shape[0]
    source = layer.inbound_nodes[0].inbound_layers
    if isinstance(source, _CONVOLUTIONS):
        return 0 if source.use_bias else channels
    return 2 * channels


def macs(model):
    """Multiply-accumulates of the convolutions and dense layers for one input."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            _, height, width, channels = layer.output_shape
            kernel_h, kernel_w = layer.kernel_size
            total += height * width * kernel_h * kernel_w * channels
        elif isinstance(layer, layers.Conv2D):
            _, height, width, filters = layer.output_shape
            kernel_h, kernel_w = layer.kernel_size
            in_channels = layer.input_shape[-1] // layer.groups
            total += height * width * kernel_h * kernel_w * in_channels * filters
        elif isinstance(layer, layers.Dense):
            total += layer.input_shape[-1] * layer.units
    return int(total)
