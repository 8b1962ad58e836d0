"""The int8 deploy form (exact rewrite of PReLU), QAT of every zoo model, QAT training and its export."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmfn import config as configs
from tfmfn import embedder, model_card, models, quantize, train
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


def test_slope_above_one_is_refused():
    net = with_random_slopes(models.build("mobilefacenet"), 1.1, 1.2)
    with pytest.raises(ValueError, match="above 1"):
        quantize.deploy_form(net)


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
                    batch_size=8, steps=4, log_every=1, checkpoint_every=4, eval_every=4)
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
        np.testing.assert_array_equal(trainer.head.get_weights()[0], saved[saved.files[0]])
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
