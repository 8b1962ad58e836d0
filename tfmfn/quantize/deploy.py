"""The deploy form: the float model rewritten into ops that XNNPACK runs in int8, and the
post-training steps that prepare it for int8 (cross-layer equalization, bias correction).

XNNPACK, the CPU delegate of LiteRT, has no int8 PRELU: a per-channel PReLU
network exported all-int8 falls back to the slow reference kernel and runs
slower than float32. `deploy_form` rewrites every activation into ops that
XNNPACK runs in int8, exactly (same function, same outputs):

| activation in the zoo model            | deploy form (int8 TFLite ops)                        |
|----------------------------------------|------------------------------------------------------|
| PReLU, one slope per channel (a)       | z + relu(w * z), w = a - 1: DEPTHWISE_CONV_2D 1x1    |
|                                        | with fused RELU, then ADD (exact for |a| <= 1)       |
|   channels with |a| > 1                | the same with slope 1/a on the negated channel:      |
|                                        | PReLU_a(z) = -a * PReLU_{1/a}(-z); the BatchNorm     |
|                                        | before it negates the channel, the conv after it     |
|                                        | multiplies its input channel by -a (no op added)     |
| PReLU, one slope per layer (`_lrelu`)  | LeakyReLU(a): LEAKY_RELU                             |
| ReLU, ReLU6                            | unchanged (fused into the conv)                      |

`deploy_form(model, prelu_form="maximum")` writes each per-channel PReLU as max(z, a * z)
instead (MUL by the slopes, then MAXIMUM; exact for a <= 1, steeper channels folded as
above): fewer instructions on ARM cores (`tfmfn.runtime.arm`: 0.43x of float32 on a Cortex-A76
against 0.52x), but XNNPACK has no int8 MAXIMUM, so each one runs in LiteRT's own kernel
between two XNNPACK partitions, on one thread; its slopes are int8 with one scale per
layer (the add form's depthwise weights have one per channel). Post-training only: QAT
trains the add form.

Trained from scratch, MobileFaceNet's slopes stay near 0.25; pretrained ones
need the second row (sirius-ai's run from -9.4 to 8.9, 16% of channels above 1).
Folding the -a into the next conv keeps every depthwise weight w within [-2, 0]
and every channel's negative part within its positive part's range, which is
what the int8 activations' per-tensor scales need.

Post-training quantization (`tfmfn.convert --ptq`) equalizes the ranges of
consecutive layers' channels first (`equalize`) and corrects the bias that int8
rounding shifts (`correct_bias`). Nothing here needs tfmot (`tfmfn.quantize.qat` wraps
the deploy form for QAT).

Example:

    >>> import numpy as np
    >>> from tfmfn import models
    >>> from tfmfn.quantize import deploy
    >>> net = models.build("mobilefacenet")
    >>> form = deploy.deploy_form(net)
    >>> faces = np.random.default_rng(0).normal(size=(2, 112, 112, 3)).astype("float32")
    >>> bool(np.allclose(net(faces), form(faces), atol=1e-5))
    True
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

NEGATIVE_PART_SUFFIX = "_negative"
SLOPE_SUFFIX = "_slope"
PRELU_FORMS = ("add", "maximum")


@keras.saving.register_keras_serializable(package="tfmfn")
class ChannelScale(layers.Layer):
    """Multiplies each channel by a constant (the PReLU slopes of the maximum form): MUL in TFLite."""

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(input_shape[-1],), initializer="ones", trainable=False)

    def call(self, inputs):
        return inputs * self.scale


def deploy_form(model, per_channel=True, prelu_form="add"):
    """A copy of the functional `model` with every PReLU rewritten as in the module's table;
    with `per_channel=False` only the one-slope PReLUs (float exports keep PRELU, which
    XNNPACK runs in float); `prelu_form` "add" or "maximum" (see the module's docstring).

    Raises ValueError when a PReLU with a slope beyond [-1, 1] cannot be folded: it must
    follow a BatchNorm and feed convolutions only (as in every MobileFaceNet).
    """
    if prelu_form not in PRELU_FORMS:
        raise ValueError(f"unknown PReLU form {prelu_form!r}; choose one of {', '.join(PRELU_FORMS)}")
    weights = _folded_slopes(model) if per_channel else {}
    return _rebuild(model, lambda layer, inputs: _deploy_layer(layer, inputs, per_channel, weights, prelu_form), weights)


def _deploy_layer(layer, inputs, per_channel, weights, prelu_form):
    if not isinstance(layer, layers.PReLU):
        return None
    alpha = weights.get(layer.name, layer.get_weights())[0]
    if alpha.size == 1:
        return layers.LeakyReLU(float(alpha.ravel()[0]), name=layer.name)(inputs)
    if not per_channel:
        return None
    if alpha.ndim != 3 or alpha.shape[:2] != (1, 1):
        raise ValueError(f"{layer.name}: only PReLUs shared over height and width can be rewritten, slopes {alpha.shape}")
    if prelu_form == "maximum":
        slopes = ChannelScale(name=layer.name + SLOPE_SUFFIX)
        scaled = slopes(inputs)
        slopes.set_weights([alpha.reshape(-1)])
        return layers.Maximum(name=layer.name)([inputs, scaled])
    negative = layers.DepthwiseConv2D(1, use_bias=False, activation="relu", name=layer.name + NEGATIVE_PART_SUFFIX)
    negative_part = negative(inputs)
    negative.set_weights([(alpha - 1.0).reshape(1, 1, -1, 1)])
    return layers.Add(name=layer.name)([inputs, negative_part])


def _folded_slopes(model):
    """{layer name: new weights} that take every per-channel PReLU slope a with |a| > 1 to 1/a:
    the BatchNorm before it negates those channels, the convolutions after it (through zero
    padding) scale their input channels by -a."""
    weights = {}
    for layer in model.layers:
        if not isinstance(layer, layers.PReLU):
            continue
        alpha = layer.get_weights()[0]
        steep = np.abs(alpha.reshape(-1)) > 1
        if alpha.size == 1 or not steep.any():
            continue
        norm = layer.inbound_nodes[0].inbound_layers
        consumers = _consumers(layer)
        if not isinstance(norm, layers.BatchNormalization) or not consumers or not all(map(_scalable, consumers)):
            raise ValueError(
                f"{layer.name}: PReLU slopes up to {np.abs(alpha).max():.3f} in magnitude; the int8 form is exact for "
                "|a| <= 1, and steeper channels fold into a BatchNorm before and convolutions after the PReLU, "
                "which this layer lacks"
            )
        sign = np.where(steep, -1.0, 1.0).astype(np.float32)
        weights.update(_scaled_channels([norm], sign, consumers, np.where(steep, -alpha.reshape(-1), 1.0)))
        weights[layer.name] = [np.where(steep, 1.0 / alpha.reshape(-1), alpha.reshape(-1)).reshape(alpha.shape)]
    return weights


def _scaled_channels(norms, output_factor, consumers, input_factor):
    """{layer name: new weights}: the BatchNorms' output channel c times output_factor[c], the
    convolutions' input channel c times input_factor[c]."""
    weights = {}
    for norm in norms:
        gamma, beta, *statistics = norm.get_weights()
        weights[norm.name] = [gamma * output_factor, beta * output_factor, *statistics]
    for consumer in consumers:
        kernel, *rest = consumer.get_weights()
        weights[consumer.name] = [kernel * np.asarray(input_factor, np.float32)[None, None, :, None], *rest]
    return weights


def _consumers(layer):
    """The layers that read `layer`'s output, looking through zero padding (it commutes with scaling)."""
    found = []
    for node in layer.outbound_nodes:
        consumer = node.outbound_layer
        found.extend(_consumers(consumer) if isinstance(consumer, layers.ZeroPadding2D) else [consumer])
    return found


def _rebuild(model, replace, weights=None):
    """Rebuilds a functional model layer by layer; `replace(layer, inputs)` returns
    the new output tensor for a layer it rewrites, or None to copy the layer (with
    `weights[layer.name]` instead of its own weights where given)."""
    weights = weights or {}
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
            copy.set_weights(weights.get(layer.name, layer.get_weights()))
        tensors[id(layer.output)] = output
    outputs = [tensors[id(t)] for t in model.outputs]
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=model.name)


def equalize(model, images, batch_size=32, strength=0.8):
    """A copy of float `model` that computes the same function with channels rescaled so that
    int8's per-tensor activation scales suit every channel (cross-layer equalization, Nagel et
    al. 2019, from activation ranges measured on `images`, normalised float32).

    A group is the BatchNorms whose outputs meet in residual adds (one BatchNorm where there is
    no add), with the per-channel PReLU after a BatchNorm (positively homogeneous). Where every
    layer that reads a group's values is a convolution (through zero padding), channel c is
    divided by s_c in the BatchNorms and multiplied by s_c in the convolutions' input channel c.
    s_c balances the channel's activation range (the largest over the group's tensors in the
    deploy form) against its weights' in the convolutions after it (SmoothQuant's rule,
    `strength` 0.5); into depthwise convolutions, which have one weight scale per channel,
    weights cost nothing and s_c makes every channel's range the same. Channels are shrunk, or
    enlarged at most 4x (a channel quiet on `images` must keep room for other faces).
    """
    groups = _equalization_groups(model)
    deploy = deploy_form(model)
    names = {layer.name for layer in deploy.layers}
    watched = sorted({name for members, _ in groups for member in members
                      for name in (member.name, member.name + NEGATIVE_PART_SUFFIX) if name in names})
    probe = keras.Model(deploy.inputs, [deploy.get_layer(name).output for name in watched])
    ranges = {}
    for start in range(0, len(images), batch_size):
        values = probe(images[start : start + batch_size], training=False)
        for name, value in zip(watched, values if isinstance(values, list) else [values]):
            peak = np.abs(np.asarray(value)).reshape(-1, value.shape[-1]).max(axis=0)
            ranges[name] = np.maximum(ranges.get(name, 0.0), peak)
    weights = {}
    for members, consumers in groups:
        activation_range = np.max([ranges[name] for member in members
                                   for name in (member.name, member.name + NEGATIVE_PART_SUFFIX) if name in ranges],
                                  axis=0)
        scale = np.maximum(activation_range, 1e-6)
        if not all(isinstance(consumer, layers.DepthwiseConv2D) for consumer in consumers):
            columns = np.max([np.abs(consumer.get_weights()[0]).max(axis=(0, 1, 3)) for consumer in consumers], axis=0)
            scale = scale**strength / np.maximum(columns, 1e-6) ** (1 - strength)
        scale = np.maximum(scale / np.median(scale), MAX_ENLARGEMENT**-1).astype(np.float32)
        norms = [member for member in members if isinstance(member, layers.BatchNormalization)]
        weights.update(_scaled_channels(norms, 1 / scale, consumers, scale))
    return _rebuild(model, lambda layer, inputs: None, weights)


MAX_ENLARGEMENT = 4.0


def correct_bias(model, images, batch_size=32):
    """A copy of float `model` whose BatchNorm shifts cancel the mean error that int8 weights
    add to each convolution's output (bias correction, Nagel et al. 2019).

    int8 export folds every BatchNorm into the convolution before it and rounds the folded
    kernel to 8 bits, one symmetric scale per output channel ([-127, 127]); over the mean input
    of each channel, measured on `images` (normalised float32), the rounding shifts the output by
    sum(error * mean input), which this subtracts from the BatchNorm's shift. The copy is for
    post-training quantization: in float it differs from `model` by those shifts.
    """
    pairs = [(layer, layer.outbound_nodes[0].outbound_layer) for layer in model.layers
             if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)) and len(layer.outbound_nodes) == 1
             and isinstance(layer.outbound_nodes[0].outbound_layer, layers.BatchNormalization)]
    probe = keras.Model(model.inputs, [conv.input for conv, _ in pairs])
    means = [0.0] * len(pairs)
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        for index, value in enumerate(tf.nest.flatten(probe(chunk, training=False))):  # one pair: a tensor
            means[index] = means[index] + np.asarray(value).mean(axis=(0, 1, 2)) * len(chunk) / len(images)
    weights = {}
    for (conv, norm), mean in zip(pairs, means):
        kernel = conv.get_weights()[0]
        gamma, beta, moving_mean, variance = norm.get_weights()
        fold = gamma / np.sqrt(variance + norm.epsilon)
        depthwise = isinstance(conv, layers.DepthwiseConv2D)
        folded = kernel * (fold[None, None, :, None] if depthwise else fold)
        axes = (0, 1, 3) if depthwise else (0, 1, 2)
        step = np.maximum(np.abs(folded).max(axis=axes, keepdims=True), 1e-12) / 127
        error = np.round(folded / step) * step - folded
        if depthwise:
            shift = error.sum(axis=(0, 1, 3)) * mean
        else:  # a grouped conv's output channels, group by group, see only their group's input channels
            groups = conv.groups
            grouped = error.reshape(*error.shape[:3], groups, -1)
            shift = np.einsum("hwigo,gi->go", grouped, mean.reshape(groups, -1)).reshape(-1)
        weights[norm.name] = [gamma, beta - shift, moving_mean, variance]
    return _rebuild(model, lambda layer, inputs: None, weights)


def _equalization_groups(model):
    """[(member layers, consumer convolutions)] of the groups `equalize` can rescale."""
    parent = {}

    def root(name):
        while parent[name] != name:
            name = parent[name]
        return name

    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            parent[layer.name] = layer.name
            after = layer.outbound_nodes[0].outbound_layer if len(layer.outbound_nodes) == 1 else None
            if isinstance(after, layers.PReLU) and after.get_weights()[0].size > 1:
                parent[after.name] = layer.name
        elif isinstance(layer, layers.Add):
            sources = [source.name for source in layer.inbound_nodes[0].inbound_layers]
            if all(source in parent for source in sources):
                parent[layer.name] = layer.name
                for source in sources:
                    parent[root(source)] = layer.name
    members = {}
    for name in parent:
        members.setdefault(root(name), []).append(model.get_layer(name))
    groups = []
    for group in members.values():
        inside = {member.name for member in group}
        consumers = [consumer for member in group for consumer in _consumers(member) if consumer.name not in inside]
        if consumers and all(_scalable(consumer) for consumer in consumers):
            groups.append((group, consumers))
    return groups


def _scalable(layer):
    return isinstance(layer, (layers.DepthwiseConv2D, layers.Conv2D)) and getattr(layer, "groups", 1) == 1
