"""The verification protocol against an independent numpy implementation; Keras vs TFLite."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

import insightface_golden
from tfmfn import evaluate, models
from tfmfn.data import bins, synth
from tfmfn.runtime import inference, litert

from conftest import TINY_ARCH


def reference_protocol(first, second, issame):
    """The protocol written independently: matrices of predictions over all thresholds at once."""
    first = first / np.linalg.norm(first, axis=1, keepdims=True)
    second = second / np.linalg.norm(second, axis=1, keepdims=True)
    distance = np.sum(np.square(first - second), axis=1)
    thresholds = np.arange(0, 4, 0.01)
    predicted = distance[None, :] < thresholds[:, None]  # (thresholds, pairs)
    correct = predicted == issame[None, :]
    count = len(issame)
    bounds = np.cumsum([0] + [count // 10 + (1 if fold < count % 10 else 0) for fold in range(10)])
    accuracy, chosen, val = [], [], []
    for fold in range(10):
        test = np.zeros(count, bool)
        test[bounds[fold] : bounds[fold + 1]] = True
        best = np.argmax(correct[:, ~test].mean(axis=1))
        chosen.append(thresholds[best])
        accuracy.append(correct[best, test].mean())
        negatives = ~test & ~issame
        fine = np.arange(0, 4, 0.001)
        far = (distance[negatives][None, :] < fine[:, None]).mean(axis=1)
        if far.max() >= 1e-3:
            above = np.argmax(far > 1e-3)  # the first threshold above the target; the one before is at or below
            low, high = fine[above - 1], fine[above]
            threshold = low + (1e-3 - far[above - 1]) / (far[above] - far[above - 1]) * (high - low)
        else:
            threshold = 0.0
        positives = test & issame
        val.append((distance[positives] < threshold).mean())
    # TAR at FAR over every threshold that could matter (each distinct distance, accept d <= t).
    candidates = np.append(np.unique(distance), -1.0)
    tars = np.array([(distance[issame] <= t).mean() for t in candidates])
    fars = np.array([(distance[~issame] <= t).mean() for t in candidates])
    # AUC as the Mann-Whitney statistic: P(positive closer than negative), ties half.
    positive, negative = distance[issame][:, None], distance[~issame][None, :]
    auc = (positive < negative).mean() + 0.5 * (positive == negative).mean()
    return {
        "accuracy": np.mean(accuracy), "accuracy_std": np.std(accuracy), "threshold": np.mean(chosen),
        "val_at_far_1e-3": np.mean(val), "auc": auc,
        "tar_at_far": {key: tars[fars <= float(key)].max() for key in ("1e-4", "1e-3", "1e-2")},
    }


@pytest.mark.parametrize("count, noise", [(600, 0.8), (6000, 1.2), (1003, 0.5)])
def test_metrics_equal_independent_numpy(count, noise):
    rng = np.random.default_rng(count)
    issame = rng.uniform(size=count) < 0.5
    first = rng.normal(size=(count, 16))
    second = np.where(issame[:, None], first + noise * rng.normal(size=(count, 16)), rng.normal(size=(count, 16)))
    ours = evaluate.verification_metrics(first, second, issame)
    reference = reference_protocol(first, second, issame)
    assert ours["num_pairs"] == count
    for key in ("accuracy", "accuracy_std", "threshold", "val_at_far_1e-3", "auc"):
        assert ours[key] == pytest.approx(reference[key], abs=1e-12), key
    for key, value in reference["tar_at_far"].items():
        assert ours["tar_at_far"][key] == pytest.approx(value, abs=1e-12), key
    assert 0.5 < ours["accuracy"] < 1.0


def test_protocol_equals_insightfaces_own_code(tmp_path):
    """A set whose image and mirror-image embeddings differ in norm: insightface adds the raw embeddings, then
    normalises (normalising each first gave accuracy 0.9233 and VAL 0.0 here, against 0.8867 and 0.29)."""
    path = str(tmp_path / "projection.bin")
    insightface_golden.write_set(path)
    metrics = evaluate.evaluate_bins(insightface_golden.projection_embedder(), [path])["projection"]
    golden = insightface_golden.INSIGHTFACE
    assert metrics["accuracy"] == pytest.approx(golden["accuracy"], abs=5e-4)
    assert metrics["accuracy_std"] == pytest.approx(golden["accuracy_std"], abs=1e-9)
    assert metrics["val_at_far_1e-3"] == pytest.approx(golden["val"], abs=1e-9)


def test_perfect_and_chance_embeddings():
    rng = np.random.default_rng(0)
    issame = np.arange(400) % 2 == 0
    first = rng.normal(size=(400, 8))
    perfect = evaluate.verification_metrics(first, np.where(issame[:, None], first, -first), issame)
    assert perfect["accuracy"] == 1.0 and perfect["auc"] == 1.0 and perfect["tar_at_far"]["1e-4"] == 1.0
    chance = evaluate.verification_metrics(first, rng.normal(size=(400, 8)), issame)
    assert abs(chance["auc"] - 0.5) < 0.1 and chance["accuracy"] < 0.62


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    synth.generate(str(out), identities=2, images_per_identity=2, pairs=60, seed=1, val_identities=10, progress=False)
    return str(out / "val.bin")


def to_tflite(model, path, batch=None):
    concrete = tf.function(lambda images: model(images, training=False)).get_concrete_function(
        tf.TensorSpec([batch, *model.input_shape[1:]], tf.float32)
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    path.write_bytes(converter.convert())
    return str(path)


def test_keras_and_float32_tflite_agree(small_set, tmp_path):
    model = models.build(TINY_ARCH)
    keras_results = evaluate.evaluate_bins(inference.KerasEmbedder(model), [small_set])
    tflite = inference.load_embedder(to_tflite(model, tmp_path / "m.tflite"))
    tflite_results = evaluate.evaluate_bins(tflite, [small_set], roc_path=str(tmp_path / "roc.png"))
    assert abs(keras_results["val"]["accuracy"] - tflite_results["val"]["accuracy"]) <= 0.001
    faces = np.random.default_rng(0).integers(0, 255, (5, 112, 112, 3), dtype=np.uint8)
    np.testing.assert_allclose(tflite.embed(faces), inference.KerasEmbedder(model).embed(faces), atol=1e-4)
    assert (tmp_path / "roc.png").stat().st_size > 10_000


def test_fixed_batch_and_int8_tflite(tmp_path):
    model = models.build(TINY_ARCH, input_shape=(64, 64, 3), embedding_size=32)
    faces = np.random.default_rng(1).integers(0, 255, (10, 64, 64, 3), dtype=np.uint8)
    expected = inference.KerasEmbedder(model).embed(faces)
    fixed = inference.load_embedder(to_tflite(model, tmp_path / "fixed.tflite", batch=4))
    assert fixed.batch_size == 4 and not fixed.dynamic_batch
    np.testing.assert_allclose(fixed.embed(faces), expected, atol=1e-4)

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([face[None].astype(np.float32) / 128 - 1] for face in faces)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    (tmp_path / "int8.tflite").write_bytes(converter.convert())
    quantized = inference.load_embedder(str(tmp_path / "int8.tflite"))
    assert quantized.embedding_size == 32 and quantized.input_size == (64, 64)
    got = quantized.embed(faces)
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert got.shape == (10, 32) and cosine.min() > 0.9


def test_quantize_round_trip():
    detail = {"dtype": np.int8, "quantization": (0.5, -3)}
    values = np.array([-10.0, 0.0, 1.24, 200.0], np.float32)
    quantized = litert.quantize_values(values, detail)
    assert quantized.tolist() == [-23, -3, -1, 127]
    assert litert.dequantize_values(quantized, detail).tolist() == [-10.0, 0.0, 1.0, 65.0]


def test_int8_inputs_get_the_codes_quantization_aware_training_gave_them():
    # tfmfn's int8 inputs: scale 1/128, zero point 0, the range [-1, 127/128] of QAT's input fake-quant
    pixels = np.arange(256, dtype=np.float32)
    normalised = (pixels - 127.5) / 128
    trained_on = tf.quantization.fake_quant_with_min_max_vars(normalised, min=-1.0, max=127 / 128, num_bits=8)
    codes = litert.quantize_values(normalised, {"dtype": np.int8, "quantization": (1 / 128, 0)})
    np.testing.assert_array_equal(codes, np.round(trained_on.numpy() * 128).astype(np.int8))
    assert len(np.unique(codes)) == 255  # halves rounded to even give 129 codes for the 256 values
    assert (codes != np.clip(np.round(normalised * 128), -128, 127)).sum() == 128


def test_errors_name_the_problem(small_set, tmp_path):
    model = models.build(TINY_ARCH, input_shape=(96, 96, 3))
    with pytest.raises(ValueError, match="image 0 is 112x112 but .* takes 96x96; use a .bin made for this input"):
        evaluate.evaluate_bins(inference.KerasEmbedder(model), [small_set])
    faces = [cv2.imencode(".png", np.full((size, size, 3), 128, np.uint8))[1].tobytes() for size in (96, 96, 96, 90)]
    bins.write_bin(str(tmp_path / "mixed.bin"), [faces[:2], faces[2:]], [True, False])
    with pytest.raises(ValueError, match="mixed: image 3 is 90x90 but .* takes 96x96"):
        evaluate.evaluate_bins(inference.KerasEmbedder(model), [str(tmp_path / "mixed.bin")])
    from tfmfn.models import heads

    trainer = heads.training_model(models.build(TINY_ARCH), heads.ArcFace(5))
    trainer.save(tmp_path / "trainer.keras")
    with pytest.raises(inference.NotAnEmbedderError, match="a training model with a head"):
        inference.load_embedder(str(tmp_path / "trainer.keras"))
    (tmp_path / "junk.tflite").write_bytes(b"not a model")
    with pytest.raises(inference.NotAnEmbedderError, match="junk.tflite: not a valid .tflite model"):
        inference.load_embedder(str(tmp_path / "junk.tflite"))


def test_cli_json_and_noflip(small_set, tmp_path):
    model = models.build(TINY_ARCH)
    model.save(tmp_path / "model.keras")
    outputs = {}
    for extra in ([], ["--noflip"]):
        result = subprocess.run(
            [sys.executable, "-m", "tfmfn.evaluate", "--model", str(tmp_path / "model.keras"), "--eval_bins", small_set,
             "--json", *extra],
            capture_output=True, text=True, check=True,
        )
        outputs[bool(extra)] = json.loads(result.stdout)["val"]
    keys = {"accuracy", "accuracy_std", "threshold", "val_at_far_1e-3", "tar_at_far", "auc", "num_pairs",
            "operating_points"}
    assert set(outputs[False]) == keys and set(outputs[False]["tar_at_far"]) == {"1e-4", "1e-3", "1e-2"}
    assert outputs[False]["num_pairs"] == 60
    assert outputs[False]["auc"] != outputs[True]["auc"]  # the flip changes the embeddings
    # the operating points always come from the single, unflipped image, as an app embeds it
    assert outputs[False]["operating_points"] == outputs[True]["operating_points"]


def test_operating_points_are_thresholds_at_far_targets_with_their_impostors():
    rng = np.random.default_rng(3)
    genuine, impostors = rng.uniform(0.0, 1.5, 2_000), rng.permutation(np.arange(20_000) / 10_000 + 1.0)
    distances = np.concatenate([genuine, impostors])
    issame = np.concatenate([np.ones(2_000, bool), np.zeros(20_000, bool)])
    points = evaluate.operating_points(distances, issame)
    assert points["impostor_pairs"] == 20_000 and points["genuine_pairs"] == 2_000
    # 20,000 impostors at 1.0000, 1.0001, ...: FAR 1e-3 allows 20 false accepts, so the 21st impostor is the
    # threshold (pairs strictly closer are accepted); FAR 1e-4 allows 2
    at_1e3, at_1e4 = points["far_1e-3"], points["far_1e-4"]
    assert at_1e3["threshold"] == pytest.approx(1.0020) and at_1e3["false_accepts"] == 20
    assert at_1e4["threshold"] == pytest.approx(1.0002) and at_1e4["false_accepts"] == 2
    assert at_1e3["far"] == pytest.approx(1e-3) and at_1e4["far"] == pytest.approx(1e-4)
    assert at_1e3["tar"] == pytest.approx(np.mean(genuine < 1.0020)) and at_1e3["supported"] and at_1e4["supported"]
    assert points["accuracy_optimal"]["threshold"] == pytest.approx(1.0) and points["accuracy_optimal"]["far"] == 0
    # 3,000 impostors (LFW's) measure FAR 1e-3 but not 1e-4: the card must say so
    lfw_like = evaluate.operating_points(distances[:5_000], issame[:5_000])
    assert lfw_like["impostor_pairs"] == 3_000 and lfw_like["far_1e-3"]["supported"]
    assert not lfw_like["far_1e-4"]["supported"] and "at least 10000" in lfw_like["far_1e-4"]["note"]
    assert lfw_like["far_1e-4"]["false_accepts"] == 0
    assert lfw_like["far_1e-4"]["threshold"] == pytest.approx(impostors[:3_000].min())


def test_operating_points_come_from_single_embeddings_not_the_flip_sum(tmp_path):
    path = str(tmp_path / "projection.bin")
    insightface_golden.write_set(path)
    metrics = evaluate.evaluate_bins(insightface_golden.projection_embedder(), [path])["projection"]
    pairs = bins.load_bin(path)
    model = insightface_golden.projection_embedder()
    faces = np.stack([pairs.decode(index) for index in range(len(pairs.images))])
    single = model.embed(faces).astype(np.float64)
    expected = evaluate.operating_points(evaluate.pair_distances(single[0::2], single[1::2]), pairs.issame)
    assert metrics["operating_points"] == expected
    flipped = evaluate.pair_distances(*evaluate.pair_embeddings(model, pairs))
    assert expected != evaluate.operating_points(flipped, pairs.issame)
