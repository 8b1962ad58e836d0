"""Every kind of model tfmfn.convert writes loads and runs in the LiteRT release the Android app ships
(ai-edge-litert 1.4.0 in .venv-litert-app, made by `make litert-app`), with tfmfn's outputs; MediaPipe's
ImageEmbedder (.venv-mediapipe, `make mediapipe`) reads a float32 file, and refuses an int8-input one saying
what to convert instead (the demo's test checks its uint8-input int8 file)."""

import os
import re

import numpy as np
import pytest

from tfmfn import app_litert, convert, models
from tfmfn.runtime import litert

from conftest import TINY_ARCH

needs_release = pytest.mark.skipif(not os.path.exists(app_litert.PYTHON),
                                   reason="needs the app's LiteRT release: make litert-app (make test runs it)")
needs_mediapipe = pytest.mark.skipif(not os.path.exists(app_litert.MEDIAPIPE_PYTHON),
                                     reason="needs MediaPipe: make mediapipe (make test runs it)")
FACES = np.random.default_rng(0).uniform(-1, 1, (4, 112, 112, 3)).astype(np.float32)


def export(model_name, mode, io="int8"):
    model = models.build(model_name)
    tflite = convert.convert_keras(model, mode, io=io, representative=FACES if mode == "int8" else None)
    return litert.add_metadata(tflite, {"model": model_name})  # as convert writes it: with tfmfn metadata


@needs_release
@pytest.mark.parametrize("model_name, mode, io", [  # Table I's operators in every form, then the full networks
    (TINY_ARCH, "int8", "float"),
    (TINY_ARCH, "float32", None),
    (TINY_ARCH, "float16", None),
    (TINY_ARCH, "dynamic", None),
    ("mobilefacenet", "int8", "int8"),
    ("mobilefacenet_lrelu", "int8", "int8"),
    ("mobilefacenet_sirius", "int8", "int8"),  # the imported models' PReLU form for slopes of any sign and size
])
def test_exports_load_and_run_in_the_apps_litert_release_with_the_same_outputs(tmp_path, model_name, mode, io):
    path = tmp_path / f"{model_name}_{mode}.tflite"
    path.write_bytes(export(model_name, mode, io or "int8"))
    report = app_litert.check(str(path))
    assert report["release"] == app_litert.release_requirement()
    assert report["same"], report
    if report["output_dtype"] == "int8":
        assert report["max_difference"] <= litert.INT8_STEPS


def with_op_version(tflite, op_name, version):
    """`tflite` bytes whose `op_name` operator code claims `version`."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    code = getattr(schema.BuiltinOperator, op_name)
    changed = [entry for entry in model.operatorCodes if max(entry.builtinCode, entry.deprecatedBuiltinCode) == code]
    assert changed
    for entry in changed:
        entry.version = version
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


@needs_release
def test_a_model_needing_an_op_version_the_release_lacks_is_refused_with_the_op(tmp_path):
    tflite = convert.convert_keras(models.build(TINY_ARCH), "float32")
    path = tmp_path / "newer.tflite"
    path.write_bytes(with_op_version(tflite, "DEPTHWISE_CONV_2D", 99))
    with pytest.raises(app_litert.ReleaseMismatch, match=r"LiteRT 1\.4\.0, the release the app ships, cannot load"
                                                         r".*DEPTHWISE_CONV_2D.*99"):
        app_litert.check(str(path))


@needs_release
def test_the_release_is_the_apps_litert_line():
    catalog = open(os.path.join("android_demo", "gradle", "libs.versions.toml")).read()
    app_version = re.search(r'^litert = "([\d.]+)"', catalog, re.M).group(1)
    assert app_version.split(".")[:2] == app_litert.release_requirement().split(".")[:2]


def with_standard_metadata(tflite):
    return litert.add_standard_metadata(tflite, {"model": TINY_ARCH, "input_size": [112, 112],
                                                 "embedding_size": 128, "normalization": {"mean": 127.5, "scale": 128.0}})


@needs_mediapipe
def test_mediapipe_reads_a_float32_file_as_litert_does(tmp_path):
    path = tmp_path / "float32.tflite"
    path.write_bytes(with_standard_metadata(export(TINY_ARCH, "float32")))
    report = app_litert.mediapipe_check(str(path), count=3)
    assert report["same"] and report["cosine_min"] >= app_litert.MEDIAPIPE_AGREEMENT, report


@needs_mediapipe
def test_mediapipe_refuses_an_int8_input_file_and_the_error_says_what_to_convert(tmp_path):
    path = tmp_path / "int8.tflite"
    path.write_bytes(with_standard_metadata(export(TINY_ARCH, "int8")))
    with pytest.raises(app_litert.ReleaseMismatch, match=r"refuses it: Type mismatch for its input tensor\. "
                                                         r"Requested one of these types: uint8/float32, got INT8.*--io uint8"):
        app_litert.mediapipe_check(str(path), count=1)
