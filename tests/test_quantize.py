"""QAT of every zoo model (tfmot on the deploy form), range calibration, QAT training and its export."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmfn import config as configs
from tfmfn import models, train
from tfmfn.data import pipeline
from tfmfn.models.table import Row, build_from_table
from tfmfn.quantize import deploy, qat
from tfmfn.runtime import inference, model_card, model_files

from conftest import TINY_ARCH
from test_deploy import FACES, with_random_slopes  # the deploy form's test faces and PReLU slopes


def test_empty_and_denormal_channels_quantize_without_nans():
    net = models.build("mobilefacenet")
    kernel = net.get_layer("bottleneck_5_1_expand").get_weights()[0]
    kernel[..., :3] = 0.0
    kernel[..., 3:6] = 1e-42  # pruned channels of pretrained files are zeros or denormals
    net.get_layer("bottleneck_5_1_expand").set_weights([kernel])
    qat_model = qat.freeze_batch_norm(qat.quantize_model(net))
    qat.calibrate(qat_model, net, FACES)
    outputs = qat_model(FACES, training=True).numpy()
    assert np.isfinite(outputs).all()
    assert cosines(outputs, net(FACES).numpy()).min() > 0.9


@pytest.mark.parametrize("name", models.names())
def test_every_zoo_model_quantizes(name):
    net = models.build(name)
    qat_model = qat.quantize_model(net)
    assert qat.is_quantized(qat_model) and not qat.is_quantized(net)
    convolutions = [layer for layer in net.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    wrapped = [layer for layer in qat_model.layers if isinstance(layer, qat.tfmot.quantization.keras.QuantizeWrapper)
               and isinstance(layer.layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert len(wrapped) >= len(convolutions)  # plus the PReLU negative parts
    outputs = qat_model(FACES[:, : net.input_shape[1], : net.input_shape[2]], training=True).numpy()
    assert outputs.shape == (4, net.output_shape[-1]) and np.isfinite(outputs).all()


def test_depthwise_kernels_have_one_scale_per_channel():
    qat_model = qat.quantize_model(models.build("mobilefacenet"))
    ranges = {weight.name: weight.shape for weight in qat_model.weights if "depthwise_kernel_min" in weight.name}
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
    qat_model = qat.freeze_batch_norm(qat.quantize_model(net))
    uncalibrated = cosines(net(faces).numpy(), qat_model(faces).numpy())
    qat.calibrate(qat_model, net, faces)
    calibrated = cosines(net(faces).numpy(), qat_model(faces).numpy())
    assert calibrated.min() > 0.95 and calibrated.mean() > uncalibrated.mean()


def test_qat_weights_reload_with_the_learned_leaky_slopes(tmp_path):
    net = with_random_slopes(models.build("mobilefacenet_lrelu"), 0.05, 0.4)
    net.save(tmp_path / "float.keras")
    qat_model = qat.freeze_batch_norm(qat.quantize_model(net))
    qat.calibrate(qat_model, net, FACES)
    folder = tmp_path / "export"
    folder.mkdir()
    qat_model.save_weights(folder / model_files.EXPORT_QAT_WEIGHTS)
    training = {"initial_weights": str(tmp_path / "float.keras")}
    model_card.write_card(model_card.make_card(net, "mobilefacenet_lrelu", training, qat=True), str(folder))
    reloaded = inference.load_keras_model(str(folder / model_files.EXPORT_QAT_WEIGHTS))
    np.testing.assert_array_equal(reloaded(FACES).numpy(), qat_model(FACES).numpy())
    (tmp_path / "float.keras").unlink()
    with pytest.raises(inference.NotAnEmbedderError, match="keep both"):
        inference.load_keras_model(str(folder / model_files.EXPORT_QAT_WEIGHTS))


def test_frozen_batch_norm_keeps_its_statistics():
    qat_model = qat.freeze_batch_norm(qat.quantize_model(models.build("mobilefacenet")))
    means = [weight for weight in qat_model.weights if "moving_mean" in weight.name]
    assert len(means) == 50  # the BatchNorm after each depthwise conv of the deploy form
    before = [mean.numpy().copy() for mean in means]
    qat_model(FACES + 3.0, training=True)
    for mean, old in zip(means, before):
        np.testing.assert_array_equal(mean.numpy(), old)


@pytest.fixture(scope="module")
def tiny(tiny_faces):
    return tiny_faces


@pytest.fixture(scope="module")
def trained(tiny_model):
    return tiny_model


def test_qat_fine_tune_starts_from_the_model_and_its_head(tiny, trained, tmp_path):
    recipe = configs.make_config(
        "synthetic_qat", arch=TINY_ARCH, data=str(tiny / "train"), eval_bins=(str(tiny / "val.bin"),),
        init_from=str(trained), model_dir=str(tmp_path), batch_size=8, steps=2, log_every=1, checkpoint_every=2,
        eval_every=2,
    )
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), pipeline.open_source(recipe.data))
    assert qat.is_quantized(trainer.embedder) and trainer.head_from_init
    with np.load(trained / "export" / train.HEAD_WEIGHTS) as saved:
        np.testing.assert_array_equal(trainer.head.get_weights()[0], saved["kernel"])
    decayed = {weight.name for weight, _ in train.kernel_decays(trainer.model)}  # through tfmot's wrappers
    assert decayed and not any(deploy.NEGATIVE_PART_SUFFIX in name for name in decayed)
    assert any("linear1x1_9" in name for name in decayed)  # the tiny model's last row

    card = train.train(recipe, verbose=False)
    assert card["quantization"].startswith("qat") and card["training"]["head_from_initial_weights"]
    assert card["params_bn_folded"] == 16_984  # mobilefacenet_tiny with its BatchNorms folded
    exported = model_files.locate(str(tmp_path)).path
    assert exported.endswith(model_files.EXPORT_QAT_WEIGHTS)
    reloaded = inference.load_keras_model(exported)
    assert qat.is_quantized(reloaded)
    probe = np.random.default_rng(1).normal(size=(2, 112, 112, 3)).astype(np.float32)
    np.testing.assert_array_equal(reloaded(probe).numpy(), inference.load_keras_model(exported)(probe).numpy())


def test_qat_needs_initial_weights_of_the_same_architecture(tiny, trained, tmp_path):
    with pytest.raises(ValueError, match="--init_from"):
        configs.make_config("synthetic", qat=True, model_dir=str(tmp_path))
    recipe = configs.make_config(
        "synthetic_qat", data=str(tiny / "train"), init_from=str(trained), arch="mobilenet_v1",
        model_dir=str(tmp_path), batch_size=8,
    )
    with pytest.raises(ValueError, match="give --arch the architecture"):
        train.build_embedder(recipe)
