"""The int8 deploy form (exact rewrite of PReLU), QAT of every zoo model, QAT training and its export."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmfn import config as configs
from tfmfn import convert, embedder, model_card, models, quantize, train
from tfmfn.data import synth
from tfmfn.models.table import Row, build_from_table

FACES = np.random.default_rng(0).normal(size=(4, 112, 112, 3)).astype(np.float32)


def with_random_slopes(net, low, high, seed=0):
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if isinstance(layer, keras.layers.PReLU):
            (alpha,) = layer.get_weights()
            layer.set_weights([rng.uniform(low, high, alpha.shape).astype(np.float32)])
    return net


def layer_types(net):
    return [type(quantize.unwrapped(layer)).__name__ for layer in net.layers]


def test_per_channel_prelu_rewrite_is_exact_and_has_no_prelu():
    net = with_random_slopes(models.build("mobilefacenet"), -0.5, 1.0)
    deploy = quantize.deploy_form(net)
    np.testing.assert_allclose(deploy(FACES).numpy(), net(FACES).numpy(), atol=2e-5, rtol=1e-5)
    types = layer_types(deploy)
    assert "PReLU" not in types
    negative = [layer for layer in deploy.layers if layer.name.endswith(quantize.NEGATIVE_PART_SUFFIX)]
    assert len(negative) == 33  # one negative part per PReLU of Table I's network
    first = deploy.get_layer("conv3x3_1_act" + quantize.NEGATIVE_PART_SUFFIX)
    slopes = net.get_layer("conv3x3_1_act").get_weights()[0].ravel()
    np.testing.assert_allclose(first.get_weights()[0].ravel(), slopes - 1.0)
    assert first.activation is keras.activations.relu


def test_shared_slope_becomes_leaky_relu_with_the_learned_slope():
    net = with_random_slopes(models.build("mobilefacenet_lrelu"), 0.05, 0.4)
    deploy = quantize.deploy_form(net)
    np.testing.assert_allclose(deploy(FACES).numpy(), net(FACES).numpy(), atol=2e-5, rtol=1e-5)
    leaky = [layer for layer in deploy.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(leaky) == 33
    expected = float(net.get_layer("conv1x1_8_act").get_weights()[0].ravel()[0])
    assert deploy.get_layer("conv1x1_8_act").alpha == pytest.approx(expected)


def test_float_exports_keep_per_channel_prelu():
    deploy = quantize.deploy_form(models.build("mobilefacenet"), per_channel=False)
    assert layer_types(deploy).count("PReLU") == 33


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
    deploy = quantize.deploy_form(net)
    reference = net(FACES).numpy()
    np.testing.assert_allclose(deploy(FACES).numpy(), reference, atol=1e-4 * np.abs(reference).max(), rtol=1e-4)
    assert "PReLU" not in layer_types(deploy)
    negative = [layer.get_weights()[0] for layer in deploy.layers if layer.name.endswith(quantize.NEGATIVE_PART_SUFFIX)]
    weights = np.concatenate([weight.ravel() for weight in negative])
    assert len(negative) == 33 and weights.min() >= -2.0 and weights.max() <= 0.0
    slopes = net.get_layer("conv3x3_1_act").get_weights()[0].ravel()
    steep = np.abs(slopes) > 1
    assert steep.any() and (~steep).any()
    first = deploy.get_layer("conv3x3_1_act" + quantize.NEGATIVE_PART_SUFFIX).get_weights()[0].ravel()
    np.testing.assert_allclose(first[steep], 1.0 / slopes[steep] - 1.0, rtol=1e-6)
    np.testing.assert_allclose(first[~steep], slopes[~steep] - 1.0, rtol=1e-6)
    gamma = net.get_layer("conv3x3_1_bn").get_weights()[0]
    np.testing.assert_allclose(deploy.get_layer("conv3x3_1_bn").get_weights()[0], np.where(steep, -gamma, gamma))


def test_steep_slopes_that_cannot_fold_are_refused():
    pooled = (Row("conv3x3", c=8, s=2), Row("maxpool3x3", s=2), Row("gdconv", c=8), Row("linear1x1", c=4))
    net = with_random_slopes(build_from_table(pooled, (32, 32, 3), "prelu", "pooled"), 1.1, 1.2)
    with pytest.raises(ValueError, match="fold into a BatchNorm"):
        quantize.deploy_form(net)


def test_steep_slopes_convert_to_an_int8_graph_that_xnnpack_runs_whole():
    shallow = (Row("conv3x3", c=16, s=2), Row("dwconv3x3", c=16), Row("bottleneck", t=2, c=16, n=2, s=2),
               Row("conv1x1", c=32), Row("gdconv", c=32), Row("linear1x1", c=16))  # as Table I: no PReLU feeds an add
    net = with_random_slopes(build_from_table(shallow, (32, 32, 3), "prelu", "shallow", "symmetric"), -4.0, 4.0)
    faces = np.random.default_rng(5).uniform(-1, 1, size=(16, 32, 32, 3)).astype(np.float32)
    report = convert.analyse(convert.convert_keras(net, "int8", representative=faces))
    assert report["fully_delegated"] and report["float_ops"] == {} and "PRELU" not in report["ops"]
    assert report["ops"]["PAD"] == 2  # the strided convs of the PyTorch-padded table


def test_the_maximum_form_is_exact_for_every_slope_and_converts_to_mul_and_maximum():
    net = with_random_slopes(models.build("mobilefacenet_sirius"), -9.0, 9.0)
    deploy = quantize.deploy_form(net, prelu_form="maximum")
    reference = net(FACES).numpy()
    np.testing.assert_allclose(deploy(FACES).numpy(), reference, atol=1e-4 * np.abs(reference).max(), rtol=1e-4)
    scales = [layer for layer in deploy.layers if isinstance(layer, quantize.ChannelScale)]
    slopes = np.concatenate([layer.get_weights()[0] for layer in scales])
    assert len(scales) == 33 and np.abs(slopes).max() <= 1.0  # steep slopes a folded to 1/a, as in the add form
    first = net.get_layer("conv3x3_1_act").get_weights()[0].ravel()
    np.testing.assert_allclose(deploy.get_layer("conv3x3_1_act" + quantize.SLOPE_SUFFIX).get_weights()[0],
                               np.where(np.abs(first) > 1, 1.0 / first, first), rtol=1e-6)
    shallow = (Row("conv3x3", c=16, s=2), Row("dwconv3x3", c=16), Row("bottleneck", t=2, c=16, n=2, s=2),
               Row("conv1x1", c=32), Row("gdconv", c=32), Row("linear1x1", c=16))
    small = with_random_slopes(build_from_table(shallow, (32, 32, 3), "prelu", "shallow"), -4.0, 4.0)
    faces = np.random.default_rng(5).uniform(-1, 1, size=(16, 32, 32, 3)).astype(np.float32)
    report = convert.analyse(convert.convert_keras(small, "int8", representative=faces, prelu_form="maximum"))
    assert report["float_ops"] == {} and "PRELU" not in report["ops"]
    assert report["ops"]["MUL"] == report["ops"]["MAXIMUM"] == 7 and report["ops_outside_xnnpack"] == {"MAXIMUM": 7}
    with pytest.raises(convert.ConversionError, match="post-training"):
        convert.convert_keras(small, "float32", prelu_form="maximum")


def test_equalize_keeps_the_function_and_evens_out_channel_ranges():
    keras.utils.set_random_seed(0)  # the kernels too: the spread after equalizing is 1.41-1.53 over seeds 0-7
    net = with_random_batch_norm(with_random_slopes(models.build("mobilefacenet"), -3.0, 3.0))
    equalized = quantize.equalize(net, FACES)
    reference = net(FACES).numpy()
    np.testing.assert_allclose(equalized(FACES).numpy(), reference, atol=1e-4 * np.abs(reference).max(), rtol=1e-4)

    def spread(model):  # largest over median channel range of one expansion's output, in the deploy form
        deploy = quantize.deploy_form(model)
        values = keras.Model(deploy.inputs, deploy.get_layer("bottleneck_5_2_expand_act").output)(FACES).numpy()
        peaks = np.abs(values).reshape(-1, values.shape[-1]).max(axis=0)
        return peaks.max() / np.median(peaks)

    assert spread(equalized) < 2 < 5 < spread(net)  # into a depthwise conv: every channel the same range, up to
    # the 4x cap on how far a channel is enlarged (measured 1.42, from 29)


def test_correct_bias_moves_only_batch_norm_shifts_by_the_rounding_error():
    net = with_random_batch_norm(models.build("mobilefacenet"))
    corrected = quantize.correct_bias(net, FACES)
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
    corrected = quantize.correct_bias(net, images)
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


def test_empty_and_denormal_channels_quantize_without_nans():
    net = models.build("mobilefacenet")
    kernel = net.get_layer("bottleneck_5_1_expand").get_weights()[0]
    kernel[..., :3] = 0.0
    kernel[..., 3:6] = 1e-42  # pruned channels of pretrained files are zeros or denormals
    net.get_layer("bottleneck_5_1_expand").set_weights([kernel])
    qat = quantize.freeze_batch_norm(quantize.quantize_model(net))
    quantize.calibrate(qat, net, FACES)
    outputs = qat(FACES, training=True).numpy()
    assert np.isfinite(outputs).all()
    assert cosines(outputs, net(FACES).numpy()).min() > 0.9


@pytest.mark.parametrize("name", models.names())
def test_every_zoo_model_quantizes(name):
    net = models.build(name)
    qat = quantize.quantize_model(net)
    assert quantize.is_quantized(qat) and not quantize.is_quantized(net)
    convolutions = [layer for layer in net.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    wrapped = [layer for layer in qat.layers if isinstance(layer, quantize.tfmot.quantization.keras.QuantizeWrapper)
               and isinstance(layer.layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert len(wrapped) >= len(convolutions)  # plus the PReLU negative parts
    outputs = qat(FACES[:, : net.input_shape[1], : net.input_shape[2]], training=True).numpy()
    assert outputs.shape == (4, net.output_shape[-1]) and np.isfinite(outputs).all()


def test_depthwise_kernels_have_one_scale_per_channel():
    qat = quantize.quantize_model(models.build("mobilefacenet"))
    ranges = {weight.name: weight.shape for weight in qat.weights if "depthwise_kernel_min" in weight.name}
    assert ranges["quant_dwconv3x3_2/depthwise_kernel_min:0"] == (64,)
    assert ranges["quant_gdconv_9/depthwise_kernel_min:0"] == (512,)
    assert ranges["quant_conv3x3_1_act_negative/depthwise_kernel_min:0"] == (64,)


def cosines(first, second):
    return np.sum(first * second, 1) / np.linalg.norm(first, axis=1) / np.linalg.norm(second, axis=1)


def test_calibrated_qat_model_computes_what_the_float_model_does():
    keras.utils.set_random_seed(0)
    shallow = (Row("conv3x3", c=16, s=2), Row("dwconv3x3", c=16), Row("bottleneck", t=2, c=16, n=2),
               Row("conv1x1", c=32), Row("gdconv", c=32), Row("linear1x1", c=16))
    net = with_random_slopes(build_from_table(shallow, (32, 32, 3), "prelu", "shallow"), 0.1, 0.4)
    faces = np.random.default_rng(5).uniform(-1, 1, size=(64, 32, 32, 3)).astype(np.float32)
    for _ in range(30):  # BN statistics of these faces, as training would leave them
        net(faces, training=True)
    qat = quantize.freeze_batch_norm(quantize.quantize_model(net))
    uncalibrated = cosines(net(faces).numpy(), qat(faces).numpy())
    quantize.calibrate(qat, net, faces)
    calibrated = cosines(net(faces).numpy(), qat(faces).numpy())
    assert calibrated.min() > 0.95 and calibrated.mean() > uncalibrated.mean()


def test_qat_weights_reload_with_the_learned_leaky_slopes(tmp_path):
    net = with_random_slopes(models.build("mobilefacenet_lrelu"), 0.05, 0.4)
    net.save(tmp_path / "float.keras")
    qat = quantize.freeze_batch_norm(quantize.quantize_model(net))
    quantize.calibrate(qat, net, FACES)
    folder = tmp_path / "export"
    folder.mkdir()
    qat.save_weights(folder / embedder.EXPORT_QAT_WEIGHTS)
    training = {"initial_weights": str(tmp_path / "float.keras")}
    model_card.write_card(model_card.make_card(net, "mobilefacenet_lrelu", training, qat=True), str(folder))
    reloaded = embedder.load_keras_model(str(folder / embedder.EXPORT_QAT_WEIGHTS))
    np.testing.assert_array_equal(reloaded(FACES).numpy(), qat(FACES).numpy())
    (tmp_path / "float.keras").unlink()
    with pytest.raises(embedder.NotAnEmbedderError, match="keep both"):
        embedder.load_keras_model(str(folder / embedder.EXPORT_QAT_WEIGHTS))


def test_frozen_batch_norm_keeps_its_statistics():
    qat = quantize.freeze_batch_norm(quantize.quantize_model(models.build("mobilefacenet")))
    means = [weight for weight in qat.weights if "moving_mean" in weight.name]
    before = [mean.numpy().copy() for mean in means]
    qat(FACES + 3.0, training=True)
    for mean, old in zip(means, before):
        np.testing.assert_array_equal(mean.numpy(), old)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    synth.generate(str(root), identities=8, images_per_identity=4, pairs=40, seed=1)
    return root


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("float")
    settings = dict(data=str(tiny / "train"), eval_bins=(str(tiny / "val.bin"),), model_dir=str(model_dir),
                    batch_size=8, steps=4, lr_boundaries=(), log_every=1, checkpoint_every=4, eval_every=4)
    train.train(configs.make_config("synthetic", **settings), verbose=False)
    return model_dir


def test_qat_fine_tune_starts_from_the_model_and_its_head(tiny, trained, tmp_path):
    recipe = configs.make_config(
        "synthetic_qat", data=str(tiny / "train"), eval_bins=(str(tiny / "val.bin"),), init_from=str(trained),
        model_dir=str(tmp_path), batch_size=8, steps=2, log_every=1, checkpoint_every=2, eval_every=2,
    )
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), train.pipeline.open_source(recipe.data))
    assert quantize.is_quantized(trainer.embedder) and trainer.head_from_init
    with np.load(trained / "export" / train.HEAD_WEIGHTS) as saved:
        np.testing.assert_array_equal(trainer.head.get_weights()[0], saved["kernel"])
    decayed = {weight.name for weight, _ in train.decayed_kernels(trainer.embedder, trainer.head, recipe)}
    assert decayed and not any(quantize.NEGATIVE_PART_SUFFIX in name for name in decayed)
    assert any("linear1x1_10" in name for name in decayed)

    card = train.train(recipe, verbose=False)
    assert card["quantization"].startswith("qat") and card["training"]["head_from_initial_weights"]
    assert card["params_bn_folded"] == 993_344
    exported = embedder.resolve_model_path(str(tmp_path))
    assert exported.endswith(embedder.EXPORT_QAT_WEIGHTS)
    reloaded = embedder.load_keras_model(exported)
    assert quantize.is_quantized(reloaded)
    probe = np.random.default_rng(1).normal(size=(2, 112, 112, 3)).astype(np.float32)
    np.testing.assert_array_equal(reloaded(probe).numpy(), embedder.load_keras_model(exported)(probe).numpy())


def test_qat_needs_initial_weights_of_the_same_architecture(tiny, trained, tmp_path):
    with pytest.raises(ValueError, match="--init_from"):
        configs.make_config("synthetic", qat=True, model_dir=str(tmp_path))
    recipe = configs.make_config(
        "synthetic_qat", data=str(tiny / "train"), init_from=str(trained), model="mobilenet_v1",
        model_dir=str(tmp_path), batch_size=8,
    )
    with pytest.raises(ValueError, match="give --model the architecture"):
        train.build_embedder(recipe)
