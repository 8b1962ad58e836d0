"""Conversion to TFLite: int8 by QAT (fine-tuning from convert) and PTQ, float modes, report, metadata, errors.

The model is trained for a few steps on a tiny SYNTHETIC set: enough to check what
conversion writes and reports, not the accuracy of int8 (README: measured figures).
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tfmfn import convert
from tfmfn.data import bins
from tfmfn.runtime import inference, litert, model_files

from conftest import TINY_ARCH


@pytest.fixture(scope="module")
def trained(tiny_model, tiny_faces):
    """The shared tiny model and the faces it was trained on (tests/conftest.py; read-only)."""
    return tiny_model, tiny_faces


def request(model_dir, tmp_path, name, **settings):
    return convert.Request(model=str(model_dir), out=str(tmp_path / name), num_representative=16,
                           parity_images=12, **settings)


def test_float32_export_equals_keras_and_carries_metadata(trained, tmp_path):
    model_dir, _ = trained
    report = convert.convert(request(model_dir, tmp_path, "float.tflite", mode="float32"), say=lambda *a: None)
    assert report["quantization"] == "float32" and report["fully_delegated"]
    assert report["parity"]["cosine_min"] > 0.9999 and report["parity"]["n"] == 12
    assert report["input"]["dtype"] == "float32" and report["output"]["shape"] == [1, 128]
    metadata = litert.read_metadata(report["file"])
    card = json.loads((model_dir / "export" / "model_card.json").read_text())
    assert metadata["embedding_size"] == 128 and metadata["input_size"] == [112, 112]
    assert metadata["alignment_template"] == card["alignment_template"]
    assert metadata["recommended_threshold"] == card["recommended_threshold"] is not None
    assert metadata["thresholds"] == card["thresholds"] and set(card["thresholds"]["use"].values()) <= set(card["thresholds"])
    assert metadata["recommended_threshold"] == card["thresholds"]["far_1e-3"]["threshold"]
    assert litert.read_standard_metadata(report["file"]) == {  # TFLite's own entry, for MediaPipe and LiteRT tools
        "name": TINY_ARCH, "output": {"content": "feature"},
        "input": {"content": "image", "color_space": "RGB", "width": 112, "height": 112,
                  "mean": [card["normalization"]["mean"]], "std": [card["normalization"]["scale"]]}}
    assert inference.load_embedder(report["file"]).embedding_size == 128  # metadata does not disturb LiteRT
    runner = litert.interpreter_for(report["file"]).get_signature_runner("serving_default")
    assert set(runner.get_input_details()) == {"image"} and set(runner.get_output_details()) == {"embedding"}
    with pytest.raises(ValueError, match="2 names for 1 tensors"):
        litert.with_signature(open(report["file"], "rb").read(), ["image", "mask"], ["embedding"])


def test_ptq_int8_is_all_int8_delegated_and_its_report_is_right(trained, tmp_path):
    model_dir, root = trained
    report = convert.convert(
        request(model_dir, tmp_path, "ptq.tflite", method="ptq", eval_bins=(str(root / "val.bin"),)),
        say=lambda *a: None,
    )
    assert report["quantization"] == "int8 ptq" and report["float_ops"] == {} and report["fully_delegated"]
    assert "PRELU" not in report["ops"] and report["ops"]["ADD"] == 11 + 1  # 11 PReLUs in deploy form, 1 residual
    assert report["input"]["dtype"] == "int8" and 0 < report["input"]["scale"] < 1
    faces = bins.load_bin(str(root / "val.bin")).decode_all()[:12]
    float_embeddings = inference.load_embedder(str(model_dir)).embed(faces)
    int8_embeddings = inference.load_embedder(report["file"]).embed(faces)
    mean, minimum = convert.cosine_parity(float_embeddings, int8_embeddings)
    assert report["parity"]["cosine_mean"] == pytest.approx(mean, abs=1e-6)
    assert report["parity"]["cosine_min"] == pytest.approx(minimum, abs=1e-6)
    accuracy = report["accuracy"]["val"]
    assert accuracy["difference"] == pytest.approx(accuracy["converted"] - accuracy["float"])
    assert litert.read_metadata(report["file"])["recommended_threshold"] is not None


def test_ptq_on_a_flat_folder_of_faces_keeps_a_fifth_for_the_parity_check(trained, tmp_path):
    model_dir, root = trained
    flat = tmp_path / "flat"
    flat.mkdir()
    for number, path in enumerate(sorted((root / "train").rglob("*.jpg"))[:20]):
        shutil.copy(path, flat / f"{number}.jpg")
    report = convert.convert(convert.Request(model=str(model_dir), out=str(tmp_path / "ptq.tflite"), method="ptq",
                                             representative=str(flat)), say=lambda *a: None)
    assert report["parity"]["n"] == 4 and "training images not used for calibration" in report["parity"]["images"]
    for path in sorted(flat.iterdir())[4:]:
        path.unlink()
    with pytest.raises(convert.ConversionError, match="4 images, too few .* give --parity_faces DIR or --eval_bins"):
        convert.convert(convert.Request(model=str(model_dir), out=str(tmp_path / "few.tflite"), method="ptq",
                                        representative=str(flat)), say=lambda *a: None)
    assert not (tmp_path / "few.tflite").exists()


def test_a_float_export_of_a_model_without_training_data_checks_parity_on_random_images(trained, tmp_path):
    model_dir, _ = trained
    imported = tmp_path / "imported"
    shutil.copytree(model_dir, imported)
    card_path = imported / "export" / "model_card.json"
    card = json.loads(card_path.read_text())
    del card["training"]["data"]  # as an imported model's card: no faces to take
    card_path.write_text(json.dumps(card))
    report = convert.convert(request(imported, tmp_path, "float.tflite", mode="float32"), say=lambda *a: None)
    assert report["parity"]["n"] == 12 and "random images" in report["parity"]["images"]
    assert report["parity"]["cosine_min"] > 0.9999
    with pytest.raises(convert.ConversionError, match="names no training data .* give --representative"):
        convert.convert(request(imported, tmp_path, "ptq.tflite", method="ptq"), say=lambda *a: None)


def test_uint8_and_float_io(trained, tmp_path):
    model_dir, _ = trained
    for io, dtype in (("uint8", "uint8"), ("float", "float32")):
        report = convert.convert(request(model_dir, tmp_path, f"{io}.tflite", method="ptq", io=io), say=lambda *a: None)
        assert report["input"]["dtype"] == report["output"]["dtype"] == dtype
        assert report["float_ops"] == {}  # the QUANTIZE / DEQUANTIZE at the edges are not float ops
        if io == "float":
            assert report["ops"]["QUANTIZE"] >= 1 and report["ops"]["DEQUANTIZE"] >= 1


def test_int8_from_a_float_model_fine_tunes_under_qat_first(trained, tmp_path):
    model_dir = tmp_path / "float"
    shutil.copytree(trained[0], model_dir)
    settings = dict(qat_steps=2, qat_dir=str(tmp_path / "qat"))
    report = convert.convert(request(model_dir, tmp_path, "qat.tflite", **settings), say=lambda *a: None)
    assert report["quantization"] == "int8 qat" and report["float_ops"] == {} and report["fully_delegated"]
    assert report["source_model"].endswith(model_files.EXPORT_QAT_WEIGHTS)
    # the int8 file reproduces the QAT model it came from more closely than the float model QAT started from
    assert report["parity_with_qat"]["n"] == report["parity"]["n"]
    assert report["parity_with_qat"]["cosine_min"] > 0.95
    assert report["parity_with_qat"]["cosine_mean"] > report["parity"]["cosine_mean"]
    card = json.loads((tmp_path / "qat" / "export" / "model_card.json").read_text())
    assert card["training"]["steps_trained"] == 2 and card["quantization"].startswith("qat")
    again = convert.convert(request(tmp_path / "qat", tmp_path, "qat2.tflite"), say=lambda *a: None)
    assert again["ops"] == report["ops"]  # a QAT model converts as it is, no second fine-tuning
    assert_pixels_in_equal_int8_in(tmp_path / "qat", tmp_path / "qat2.tflite")
    assert json.loads((tmp_path / "qat" / "export" / "model_card.json").read_text()) == card
    started_from = json.loads((tmp_path / "qat" / "init_from.json").read_text())
    assert started_from["file"] == str(model_dir / "export" / "embedder.keras")

    retrained = inference.load_keras_model(started_from["file"])  # the float model trained further since
    retrained.set_weights([weight * 1.01 for weight in retrained.get_weights()])
    retrained.save(started_from["file"])
    with pytest.raises(ValueError, match=r"qat started from other weights than .*embedder.keras holds now"):
        convert.convert(request(model_dir, tmp_path, "stale.tflite", **settings), say=lambda *a: None)
    assert not (tmp_path / "stale.tflite").exists()


def assert_pixels_in_equal_int8_in(qat_dir, int8_path):
    """A uint8-input export of a QAT model takes the raw pixel as its code (MediaPipe feeds them so) and
    gives the int8-input export's outputs bit for bit (the demo's test checks the same through `convert`)."""
    qat = inference.load_keras_model(str(qat_dir))
    tflite, pixel_codes = litert.pixel_input(convert.convert_keras(qat, "int8", "uint8"), (127.5, 128.0))
    uint8 = litert.interpreter_for(content=tflite)
    assert pixel_codes and uint8.get_input_details()[0]["quantization"] == (1 / 128, 127)
    int8 = litert.interpreter_for(str(int8_path))
    for interpreter in (int8, uint8):
        interpreter.allocate_tensors()
    pixels = np.random.default_rng(3).integers(0, 256, (4, 112, 112, 3)).astype(np.uint8)
    pixels[0, 0, 0], pixels[0, 0, 1] = 0, 255  # both ends of the range
    for image in pixels:
        int8_input = int8.get_input_details()[0]
        int8.set_tensor(int8_input["index"], litert.quantize_values(((image - 127.5) / 128)[None], int8_input))
        uint8.set_tensor(uint8.get_input_details()[0]["index"], image[None])
        int8.invoke()
        uint8.invoke()
        expected = int8.get_tensor(int8.get_output_details()[0]["index"]).astype(int)
        got = uint8.get_tensor(uint8.get_output_details()[0]["index"]).astype(int) - 128
        np.testing.assert_array_equal(got, expected)


def test_float_ops_in_an_int8_model_are_refused(trained, tmp_path):
    model_dir, _ = trained
    float32 = convert.convert(request(model_dir, tmp_path, "float.tflite", mode="float32"), say=lambda *a: None)
    analysis = litert.analyse(open(float32["file"], "rb").read())
    assert analysis["float_ops"]["CONV_2D"] == 11  # 1 + 2 in each of the 4 bottlenecks + the 2 1x1 convs
    with pytest.raises(convert.ConversionError, match="float ops"):
        convert.check_all_int8(analysis)


def test_cli_errors_are_one_line_and_write_nothing(trained, tmp_path):
    model_dir, _ = trained
    out = tmp_path / "x.tflite"
    cases = [
        (["--model", str(tmp_path / "missing"), "--int8"], "no such model"),
        (["--model", str(model_dir), "--int8", "--ptq", "--representative", str(tmp_path / "nothing")], "nothing"),
        (["--model", str(model_dir)], "give one of --int8"),
        (["--model", str(model_dir), "--int8", "--qat", "--ptq"], "exclude each other"),
    ]
    for arguments, message in cases:
        result = subprocess.run([sys.executable, "-m", "tfmfn.convert", *arguments, "--out", str(out)],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode != 0 and message in result.stderr, result.stderr[-500:]
        assert not out.exists() and not list(tmp_path.glob("partial.*"))


def test_cli_writes_report(trained, tmp_path):
    model_dir, _ = trained
    report_path = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.convert", "--model", str(model_dir), "--float16", "--out",
         str(tmp_path / "f16.tflite"), "--report", str(report_path), "--parity_images", "8"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-1000:]
    report = json.loads(report_path.read_text())
    assert report["quantization"] == "float16" and report["bytes"] < 2.5e6 and report["parity"]["cosine_min"] > 0.99
    assert set(report) >= {"file", "bytes", "quantization", "ops", "float_ops", "input", "output", "parity", "metadata"}
    assert "cosine mean" in result.stdout
