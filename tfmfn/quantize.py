"""Quantization-aware training (Jacob et al. 2018, with tfmot) in the form the int8 model is exported in.

XNNPACK, the CPU delegate of LiteRT, has no int8 PRELU: a per-channel PReLU
network exported all-int8 falls back to the slow reference kernel and runs
slower than float32. `deploy_form` rewrites every activation into ops that
XNNPACK runs in int8, exactly (same function, same outputs):

| activation in the zoo model            | deploy form (int8 TFLite ops)                        |
|----------------------------------------|------------------------------------------------------|
| PReLU, one slope per channel (a)       | z + relu(w * z), w = a - 1: DEPTHWISE_CONV_2D 1x1    |
|                                        | with fused RELU, then ADD (exact for a <= 1)         |
| PReLU, one slope per layer (`_lrelu`)  | LeakyReLU(a): LEAKY_RELU                             |
| ReLU, ReLU6                            | unchanged (fused into the conv)                      |

`quantize_model` wraps the deploy form with tfmot's default 8-bit scheme (BN
folded into the convolutions at conversion, per-channel conv weights, per-tensor
activations), so QAT fine-tunes the very graph that `tfmfn.convert` exports: `w`
keeps training as the negative-part slope, the fake-quant ranges are the int8
scales. (A LeakyReLU's slope is a constant of the graph: QAT keeps the one the
float model learned.)

Example:

    >>> import numpy as np
    >>> from tfmfn import models, quantize
    >>> net = models.build("mobilefacenet")
    >>> deploy = quantize.deploy_form(net)
    >>> faces = np.random.default_rng(0).normal(size=(2, 112, 112, 3)).astype("float32")
    >>> bool(np.allclose(net(faces), deploy(faces), atol=1e-5))
    True
    >>> qat = quantize.quantize_model(net)
    >>> qat.output_shape
    (None, 128)
"""

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tf_keras import layers

from tfmfn.models import blocks

NEGATIVE_PART_SUFFIX = "_negative"


def deploy_form(model, per_channel=True):
    """A copy of the functional `model` with every PReLU rewritten as in the module's table;
    with `per_channel=False` only the one-slope PReLUs (float exports keep PRELU, which
    XNNPACK runs in float).

    Raises ValueError when a per-channel slope is above 1 (the int8 form is exact
    only for slopes up to 1; trained MobileFaceNets have slopes near 0.25).
    """
    return _rebuild(model, lambda layer, inputs: _deploy_layer(layer, inputs, per_channel))


def _deploy_layer(layer, inputs, per_channel):
    if not isinstance(layer, layers.PReLU):
        return None
    alpha = layer.get_weights()[0]
    if alpha.size == 1:
        return layers.LeakyReLU(float(alpha.ravel()[0]), name=layer.name)(inputs)
    if not per_channel:
        return None
    if alpha.ndim != 3 or alpha.shape[:2] != (1, 1):
        raise ValueError(f"{layer.name}: only PReLUs shared over height and width can be rewritten, slopes {alpha.shape}")
    if alpha.max() > 1:
        raise ValueError(
            f"{layer.name}: PReLU slope {alpha.max():.3f} is above 1; the int8 form z + relu((a - 1) z) "
            "is exact only for slopes up to 1"
        )
    negative = layers.DepthwiseConv2D(1, use_bias=False, activation="relu", name=layer.name + NEGATIVE_PART_SUFFIX)
    negative_part = negative(inputs)
    negative.set_weights([(alpha - 1.0).reshape(1, 1, -1, 1)])
    return layers.Add(name=layer.name)([inputs, negative_part])


def _rebuild(model, replace):
    """Rebuilds a functional model layer by layer; `replace(layer, inputs)` returns
    the new output tensor for a layer it rewrites, or None to copy the layer."""
    if not isinstance(model, keras.Model) or not hasattr(model, "_nested_inputs"):
        raise ValueError("only functional tf_keras models can be rewritten")
    tensors = {}
    inputs = [keras.Input(t.shape[1:], name=t.name.split(":")[0]) for t in model.inputs]
    for old, new in zip(model.inputs, inputs):
        tensors[id(old)] = new
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if len(layer.inbound_nodes) != 1:
            raise ValueError(f"{layer.name}: a layer used more than once cannot be rewritten")
        old_inputs = layer.input
        new_inputs = [tensors[id(t)] for t in old_inputs] if isinstance(old_inputs, list) else tensors[id(old_inputs)]
        output = replace(layer, new_inputs)
        if output is None:
            copy = layer.__class__.from_config(layer.get_config())
            output = copy(new_inputs)
            copy.set_weights(layer.get_weights())
        tensors[id(layer.output)] = output
    outputs = [tensors[id(t)] for t in model.outputs]
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=model.name)


class NoOpQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """For layers that only move values (channel shuffle): their input is already quantized."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


def _activation_quantizer():
    return tfmot.quantization.keras.quantizers.MovingAverageQuantizer(
        num_bits=8, per_axis=False, symmetric=False, narrow_range=False
    )


class OutputQuantizeConfig(NoOpQuantizeConfig):
    """Quantizes the output only: the BatchNorm after a depthwise conv (it folds into the conv)."""

    def get_output_quantizers(self, layer):
        return [_activation_quantizer()]


class DepthwiseKernelQuantizer(tfmot.quantization.keras.quantizers.Quantizer):
    """8-bit symmetric weights with one scale per channel of a depthwise kernel.

    tfmot quantizes per axis -1, which for a depthwise kernel (h, w, channels,
    multiplier) is the multiplier: one scale for the whole layer. The int8 export
    has one scale per channel (BN folded in), so QAT simulates that grid. Measured
    on the synthetic-data mobilefacenet after calibration: parity with the float
    model 0.99857 per channel, 0.99847 per layer (a small difference there).
    """

    def __init__(self):
        self._per_channel = tfmot.quantization.keras.quantizers.LastValueQuantizer(
            num_bits=8, per_axis=True, symmetric=True, narrow_range=True
        )

    def build(self, tensor_shape, name, layer):
        return self._per_channel.build(self._as_channels_last(tensor_shape), name, layer)

    def __call__(self, inputs, training, weights, **kwargs):
        channels_last = tf.reshape(inputs, self._as_channels_last(inputs.shape))
        return tf.reshape(self._per_channel(channels_last, training, weights, **kwargs), tf.shape(inputs))

    @staticmethod
    def _as_channels_last(shape):
        height, width, channels, multiplier = shape
        return tf.TensorShape([height, width, 1, channels * multiplier])

    def get_config(self):
        return {}


class DepthwiseQuantizeConfig(NoOpQuantizeConfig):
    """DepthwiseConv2D with per-channel weights; its output is quantized unless a BatchNorm
    follows (the BN folds into it, and the BN's output is quantized instead)."""

    def __init__(self, quantize_output=True):
        self.quantize_output = quantize_output

    def get_weights_and_quantizers(self, layer):
        return [(layer.depthwise_kernel, DepthwiseKernelQuantizer())]

    def set_quantize_weights(self, layer, quantize_weights):
        layer.depthwise_kernel = quantize_weights[0]

    def get_output_quantizers(self, layer):
        return [_activation_quantizer()] if self.quantize_output else []

    def get_config(self):
        return {"quantize_output": self.quantize_output}


def quantize_scope():
    """The custom objects a QAT model needs to be loaded (`with quantize_scope(): load_model(...)`)."""
    custom = (NoOpQuantizeConfig, OutputQuantizeConfig, DepthwiseQuantizeConfig, DepthwiseKernelQuantizer,
              blocks.ChannelShuffle)
    return tfmot.quantization.keras.quantize_scope({item.__name__: item for item in custom})


def _quantize_config(layer):
    """The QuantizeConfig tfmfn sets itself for `layer` (outside tfmot's registry, or quantized
    better than its default), or None to leave it to tfmot."""
    if isinstance(layer, layers.DepthwiseConv2D):
        consumers = [node.outbound_layer for node in layer.outbound_nodes]
        return DepthwiseQuantizeConfig(
            quantize_output=not all(isinstance(consumer, layers.BatchNormalization) for consumer in consumers)
        )
    if isinstance(layer, layers.BatchNormalization):
        producer = layer.inbound_nodes[0].inbound_layers
        return OutputQuantizeConfig() if isinstance(producer, layers.DepthwiseConv2D) else None
    if isinstance(layer, blocks.ChannelShuffle):
        return NoOpQuantizeConfig()
    return None


def quantize_model(model):
    """The QAT model of `model` (float zoo model or its deploy form): fake-quantized, trainable."""
    model = deploy_form(model)
    configs = {layer.name: _quantize_config(layer) for layer in model.layers}

    def annotate(layer):
        config = configs.get(layer.name)
        return layer if config is None else tfmot.quantization.keras.quantize_annotate_layer(layer, config)

    annotated = keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    annotated = tfmot.quantization.keras.quantize_annotate_model(annotated)
    with quantize_scope():
        return tfmot.quantization.keras.quantize_apply(annotated)


ACTIVATION_RANGE_SUFFIXES = ("output", "post_activation", "quantize_layer")


def calibrate(qat, model, images, batch_size=32):
    """Sets the activation ranges of QAT model `qat` to the min and max that the float
    `model` (same weights) produces on `images` (normalised float32, N x H x W x 3).

    tfmot starts every range at [-6, 6] and moves it by 0.1% per training step, far
    too slowly for a short fine-tune; calibrated ranges start QAT where
    post-training quantization would be. One training-mode pass first sets the
    weight ranges (they follow the weights at every training step); freeze the
    BatchNorms before (`freeze_batch_norm`) so that it leaves their statistics alone.
    """
    qat(images[:batch_size], training=True)
    deploy = deploy_form(model)
    probes = keras.Model(deploy.inputs, [layer.output for layer in deploy.layers])
    low, high = {}, {}
    for start in range(0, len(images), batch_size):
        for layer, values in zip(deploy.layers, probes(images[start : start + batch_size], training=False)):
            values = np.asarray(values)
            low[layer.name] = min(low.get(layer.name, 0.0), float(values.min()))
            high[layer.name] = max(high.get(layer.name, 0.0), float(values.max()))
    input_name = deploy.layers[0].name
    for layer in qat.layers:
        source = input_name if not isinstance(layer, tfmot.quantization.keras.QuantizeWrapper) else unwrapped(layer).name
        for variable in layer.non_trainable_weights:
            kind = variable.name.split("/")[-1].split(":")[0]
            for suffix in ACTIVATION_RANGE_SUFFIXES:
                if kind in (f"{suffix}_min", f"{layer.name}_min") and source in low:
                    variable.assign(low[source])
                elif kind in (f"{suffix}_max", f"{layer.name}_max") and source in high:
                    variable.assign(high[source])
    return qat


def is_quantized(model):
    """Whether `model` is a tfmot QAT model."""
    return any(isinstance(layer, tfmot.quantization.keras.QuantizeWrapper) for layer in model.layers)


def unwrapped(layer):
    """The Keras layer inside a tfmot QuantizeWrapper, or `layer` itself."""
    return getattr(layer, "layer", layer)


def freeze_batch_norm(model):
    """Puts every BatchNorm of `model` (QAT wrappers included) in inference mode for fine-tuning.

    QAT fine-tunes a trained model; with frozen BN statistics the folded conv
    weights that int8 export computes are the ones the fake quantization saw.
    """
    for layer in model.layers:
        if isinstance(unwrapped(layer), layers.BatchNormalization):
            unwrapped(layer).trainable = False
    return model

