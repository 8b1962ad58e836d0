"""The int8 deploy form (exact rewrites of PReLU), and the post-training steps before int8: cross-layer
equalization and bias correction."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmfn import convert, models
from tfmfn.models.table import Row, build_from_table
from tfmfn.quantize import deploy, qat
from tfmfn.runtime import litert

FACES = np.random.default_rng(0).normal(size=(4, 112, 112, 3)).astype(np.float32)


def with_random_slopes(net, low, high, seed=0):
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if isinstance(layer, keras.layers.PReLU):
            (alpha,) = layer.get_weights()
            layer.set_weights([rng.uniform(low, high, alpha.shape).astype(np.float32)])
    return net


def layer_types(net):
    return [type(qat.unwrapped(layer)).__name__ for layer in net.layers]


def test_per_channel_prelu_rewrite_is_exact_and_has_no_prelu():
    net = with_random_slopes(models.build("mobilefacenet"), -0.5, 1.0)
    form = deploy.deploy_form(net)
    np.testing.assert_allclose(form(FACES).numpy(), net(FACES).numpy(), atol=2e-5, rtol=1e-5)
    types = layer_types(form)
    assert "PReLU" not in types
    negative = [layer for layer in form.layers if layer.name.endswith(deploy.NEGATIVE_PART_SUFFIX)]
    assert len(negative) == 33  # one negative part per PReLU of Table I's network
    first = form.get_layer("conv3x3_1_act" + deploy.NEGATIVE_PART_SUFFIX)
    slopes = net.get_layer("conv3x3_1_act").get_weights()[0].ravel()
    np.testing.assert_allclose(first.get_weights()[0].ravel(), slopes - 1.0)
    assert first.activation is keras.activations.relu


def test_shared_slope_becomes_leaky_relu_with_the_learned_slope():
    net = with_random_slopes(models.build("mobilefacenet_lrelu"), 0.05, 0.4)
    form = deploy.deploy_form(net)
    np.testing.assert_allclose(form(FACES).numpy(), net(FACES).numpy(), atol=2e-5, rtol=1e-5)
    leaky = [layer for layer in form.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(leaky) == 33
    expected = float(net.get_layer("conv1x1_8_act").get_weights()[0].ravel()[0])
    assert form.get_layer("conv1x1_8_act").alpha == pytest.approx(expected)


def test_float_exports_keep_per_channel_prelu():
    form = deploy.deploy_form(models.build("mobilefacenet"), per_channel=False)
    assert layer_types(form).count("PReLU") == 33


def with_random_batch_norm(net, seed=0):
    """BatchNorm scales and shifts spread over two decades, as a pretrained model's are (SYNTHETIC weights)."""
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            gamma = np.exp(rng.uniform(-2.5, 2.5, gamma.shape)).astype(np.float32)
            layer.set_weights([gamma, rng.normal(0, 0.5, beta.shape).astype(np.float32), mean, variance])
    return net


def test_every_slope_is_rewritten_exactly_with_depthwise_weights_in_minus_two_to_zero():
    net = with_random_slopes(models.build("mobilefacenet_sirius"), -9.0, 9.0)
    form = deploy.deploy_form(net)
    reference = net(FACES).numpy()
    np.testing.assert_allclose(form(FACES).numpy(), reference, atol=1e-4 * np.abs(reference).max(), rtol=1e-4)
    assert "PReLU" not in layer_types(form)
    negative = [layer.get_weights()[0] for layer in form.layers if layer.name.endswith(deploy.NEGATIVE_PART_SUFFIX)]
    weights = np.concatenate([weight.ravel() for weight in negative])
    assert len(negative) == 33 and weights.min() >= -2.0 and weights.max() <= 0.0
    slopes = net.get_layer("conv3x3_1_act").get_weights()[0].ravel()
    steep = np.abs(slopes) > 1
    assert steep.any() and (~steep).any()
    first = form.get_layer("conv3x3_1_act" + deploy.NEGATIVE_PART_SUFFIX).get_weights()[0].ravel()
    np.testing.assert_allclose(first[steep], 1.0 / slopes[steep] - 1.0, rtol=1e-6)
    np.testing.assert_allclose(first[~steep], slopes[~steep] - 1.0, rtol=1e-6)
    gamma = net.get_layer("conv3x3_1_bn").get_weights()[0]
    np.testing.assert_allclose(form.get_layer("conv3x3_1_bn").get_weights()[0], np.where(steep, -gamma, gamma))


def test_steep_slopes_that_cannot_fold_are_refused():
    pooled = (Row("conv3x3", c=8, s=2), Row("maxpool3x3", s=2), Row("gdconv", c=8), Row("linear1x1", c=4))
    net = with_random_slopes(build_from_table(pooled, (32, 32, 3), "prelu", "pooled"), 1.1, 1.2)
    with pytest.raises(ValueError, match="fold into a BatchNorm"):
        deploy.deploy_form(net)


def test_steep_slopes_convert_to_an_int8_graph_that_xnnpack_runs_whole():
    shallow = (Row("conv3x3", c=16, s=2), Row("dwconv3x3", c=16), Row("bottleneck", t=2, c=16, n=2, s=2),
               Row("conv1x1", c=32), Row("gdconv", c=32), Row("linear1x1", c=16))  # as Table I: no PReLU feeds an add
    net = with_random_slopes(build_from_table(shallow, (32, 32, 3), "prelu", "shallow", "symmetric"), -4.0, 4.0)
    faces = np.random.default_rng(5).uniform(-1, 1, size=(16, 32, 32, 3)).astype(np.float32)
    report = litert.analyse(convert.convert_keras(net, "int8", representative=faces))
    assert report["fully_delegated"] and report["float_ops"] == {} and "PRELU" not in report["ops"]
    assert report["ops"]["PAD"] == 2  # the strided convs of the PyTorch-padded table


def test_the_maximum_form_is_exact_for_every_slope_and_converts_to_mul_and_maximum():
    net = with_random_slopes(models.build("mobilefacenet_sirius"), -9.0, 9.0)
    form = deploy.deploy_form(net, prelu_form="maximum")
    reference = net(FACES).numpy()
    np.testing.assert_allclose(form(FACES).numpy(), reference, atol=1e-4 * np.abs(reference).max(), rtol=1e-4)
    scales = [layer for layer in form.layers if isinstance(layer, deploy.ChannelScale)]
    slopes = np.concatenate([layer.get_weights()[0] for layer in scales])
    assert len(scales) == 33 and np.abs(slopes).max() <= 1.0  # steep slopes a folded to 1/a, as in the add form
    first = net.get_layer("conv3x3_1_act").get_weights()[0].ravel()
    np.testing.assert_allclose(form.get_layer("conv3x3_1_act" + deploy.SLOPE_SUFFIX).get_weights()[0],
                               np.where(np.abs(first) > 1, 1.0 / first, first), rtol=1e-6)
    shallow = (Row("conv3x3", c=16, s=2), Row("dwconv3x3", c=16), Row("bottleneck", t=2, c=16, n=2, s=2),
               Row("conv1x1", c=32), Row("gdconv", c=32), Row("linear1x1", c=16))
    small = with_random_slopes(build_from_table(shallow, (32, 32, 3), "prelu", "shallow"), -4.0, 4.0)
    faces = np.random.default_rng(5).uniform(-1, 1, size=(16, 32, 32, 3)).astype(np.float32)
    report = litert.analyse(convert.convert_keras(small, "int8", representative=faces, prelu_form="maximum"))
    assert report["float_ops"] == {} and "PRELU" not in report["ops"]
    assert report["ops"]["MUL"] == report["ops"]["MAXIMUM"] == 7 and report["ops_outside_xnnpack"] == {"MAXIMUM": 7}
    with pytest.raises(convert.ConversionError, match="post-training"):
        convert.convert_keras(small, "float32", prelu_form="maximum")


def test_equalize_keeps_the_function_and_evens_out_channel_ranges():
    keras.utils.set_random_seed(0)  # the kernels too: the spread after equalizing is 1.41-1.53 over seeds 0-7
    net = with_random_batch_norm(with_random_slopes(models.build("mobilefacenet"), -3.0, 3.0))
    equalized = deploy.equalize(net, FACES)
    reference = net(FACES).numpy()
    np.testing.assert_allclose(equalized(FACES).numpy(), reference, atol=1e-4 * np.abs(reference).max(), rtol=1e-4)

    def spread(model):  # largest over median channel range of one expansion's output, in the deploy form
        form = deploy.deploy_form(model)
        values = keras.Model(form.inputs, form.get_layer("bottleneck_5_2_expand_act").output)(FACES).numpy()
        peaks = np.abs(values).reshape(-1, values.shape[-1]).max(axis=0)
        return peaks.max() / np.median(peaks)

    assert spread(equalized) < 2 < 5 < spread(net)  # into a depthwise conv: every channel the same range, up to
    # the 4x cap on how far a channel is enlarged (measured 1.42, from 29)


def test_correct_bias_moves_only_batch_norm_shifts_by_the_rounding_error():
    net = with_random_batch_norm(models.build("mobilefacenet"))
    corrected = deploy.correct_bias(net, FACES)
    changed = set()
    for before, after in zip(net.layers, corrected.layers):
        for index, (old, new) in enumerate(zip(before.get_weights(), after.get_weights())):
            if not np.array_equal(old, new):
                changed.add((type(before).__name__, index))
    assert changed == {("BatchNormalization", 1)}  # the shift (beta), nothing else
    kernel = net.get_layer("linear1x1_10").get_weights()[0]
    gamma, beta, _, variance = net.get_layer("linear1x1_10_bn").get_weights()
    folded = kernel * gamma / np.sqrt(variance + 1e-5)
    step = np.abs(folded).max(axis=(0, 1, 2)) / 127
    error = np.round(folded / step) * step - folded
    inputs = keras.Model(net.inputs, net.get_layer("linear1x1_10").input)(FACES).numpy().mean(axis=(0, 1, 2))
    shift = beta - corrected.get_layer("linear1x1_10_bn").get_weights()[1]
    expected = np.einsum("hwio,i->o", error, inputs)  # sums of terms of both signs: float32 round-off
    np.testing.assert_allclose(shift, expected, atol=2e-3 * np.abs(expected).max())
    assert np.abs(shift).max() > 0.1 * np.abs(beta).mean()  # a shift worth making


def test_correct_bias_of_a_grouped_convolution_uses_each_groups_own_inputs():
    inputs = keras.Input((4, 4, 6))
    grouped = keras.layers.Conv2D(9, 1, groups=3, use_bias=False, name="grouped")(inputs)
    net = with_random_batch_norm(keras.Model(inputs, keras.layers.BatchNormalization(name="grouped_bn")(grouped)))
    images = np.random.default_rng(4).normal(0.5, 1.0, (8, 4, 4, 6)).astype(np.float32)
    corrected = deploy.correct_bias(net, images)
    gamma, beta, _, variance = net.get_layer("grouped_bn").get_weights()
    folded = net.get_layer("grouped").get_weights()[0] * gamma / np.sqrt(variance + net.get_layer("grouped_bn").epsilon)
    step = np.abs(folded).max(axis=(0, 1, 2)) / 127
    error = np.round(folded / step) * step - folded
    # the shift is what a 1x1 grouped convolution with the rounding error as kernel makes of the mean input
    mean_image = np.broadcast_to(images.mean(axis=(0, 1, 2)), (1, 1, 1, 6)).astype(np.float32)
    expected = tf.nn.conv2d(mean_image, error.astype(np.float32), 1, "VALID").numpy().ravel()
    shift = beta - corrected.get_layer("grouped_bn").get_weights()[1]
    np.testing.assert_allclose(shift, expected, rtol=1e-4, atol=1e-7)
    assert np.abs(shift).max() > 0
