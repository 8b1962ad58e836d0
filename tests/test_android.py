"""The Android module's goldens: what tfmfn computes today, and JUnit fails when one is changed."""

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tfmfn import android
from tfmfn.runtime import litert

FACECORE = os.path.join("android_demo", "facecore")
JUNIT_CP = "/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar"


def test_checked_in_goldens_are_what_tfmfn_computes(tmp_path):
    android.write_goldens(str(tmp_path))
    expected = android.read_goldens(os.path.join(android.GOLDENS_FOLDER, "goldens.txt"))
    computed = android.read_goldens(str(tmp_path / "goldens.txt"))
    assert expected.keys() == computed.keys()
    for key in expected:
        np.testing.assert_allclose(computed[key], expected[key], rtol=1e-9, atol=1e-9, err_msg=key)
    assert litert.read_metadata(str(tmp_path / "metadata.tflite")) == litert.read_metadata(
        os.path.join(android.GOLDENS_FOLDER, "metadata.tflite"))
    assert litert.read_metadata(os.path.join(android.GOLDENS_FOLDER, "plain.tflite")) is None
    standard = os.path.join(android.GOLDENS_FOLDER, "standard.tflite")
    assert litert.read_metadata(standard) is None
    assert litert.read_standard_metadata(standard) == litert.read_standard_metadata(str(tmp_path / "standard.tflite"))
    images = sorted(name for name in os.listdir(android.GOLDENS_FOLDER) if name.endswith(".png"))
    assert images == sorted(name for name in os.listdir(tmp_path) if name.endswith(".png"))
    for image in images:
        np.testing.assert_array_equal(cv2.imread(str(tmp_path / image)),
                                      cv2.imread(os.path.join(android.GOLDENS_FOLDER, image)))


def run_golden_test(goldens, classes):
    subprocess.run(["javac", "--release", "8", "-Xlint:-options", "-d", str(classes), "-cp", JUNIT_CP,
                    *[os.path.join(root, name) for root, _, names in os.walk(os.path.join(FACECORE, "src"))
                      for name in names if name.endswith(".java")]], check=True, capture_output=True)
    return subprocess.run(["java", "-cp", f"{classes}:{JUNIT_CP}", f"-Dgoldens={goldens}",
                           "org.junit.runner.JUnitCore", "org.tfmfn.facecore.GoldenTest",
                           "org.tfmfn.facecore.LandmarksTest"],
                          capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("javac") is None or not os.path.exists("/usr/share/java/junit4.jar"),
                    reason="needs javac and JUnit 4 (make test installs them)")
@pytest.mark.parametrize("key, index", [("matrix", 2), ("quantized", 5), ("cosine", 0), ("detector_input", 4),
                                        ("landmarks", 3), ("onet_outputs", 20)])
def test_junit_fails_when_a_golden_value_changes(tmp_path, key, index):
    goldens = tmp_path / "goldens"
    shutil.copytree(android.GOLDENS_FOLDER, goldens)
    assert run_golden_test(goldens, tmp_path / "unchanged").returncode == 0
    lines = (goldens / "goldens.txt").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith(key + " "):
            values = line.split()
            values[1 + index] = repr(float(values[1 + index]) + 1.0)
            lines[number] = " ".join(values)
    (goldens / "goldens.txt").write_text("\n".join(lines) + "\n")
    result = run_golden_test(goldens, tmp_path / "changed")
    assert result.returncode != 0 and "FAILURES" in result.stdout


def test_install_copies_the_model_blazeface_and_onet_and_refuses_a_model_without_metadata(tmp_path):
    from tfmfn.face import blazeface, landmarks

    plain, with_metadata, standard_only = android.metadata_models()
    (tmp_path / "good.tflite").write_bytes(with_metadata)
    (tmp_path / "plain.tflite").write_bytes(plain)
    assets = tmp_path / "assets"
    metadata = android.install_model(str(tmp_path / "good.tflite"), str(assets))
    assert metadata["model"] == "tiny" and sorted(os.listdir(assets)) == sorted(
        [android.EMBEDDER_ASSET, android.DETECTOR_ASSET, android.LANDMARKER_ASSET])
    assert (assets / android.EMBEDDER_ASSET).read_bytes() == with_metadata
    assert (assets / android.DETECTOR_ASSET).read_bytes() == open(blazeface.detector_model_path("full"), "rb").read()
    assert (assets / android.LANDMARKER_ASSET).read_bytes() == open(landmarks.model_path(), "rb").read()
    installed = litert.read_metadata(str(assets / android.EMBEDDER_ASSET))
    assert installed["recommended_threshold"] == installed["thresholds"]["far_1e-3"]["threshold"] == 1.003
    assert installed["thresholds"]["impostor_pairs"] == android.METADATA_IMPOSTORS
    assert installed["thresholds"]["use"] == {"1:1": "far_1e-3", "1:N": "far_1e-4"}
    assert installed["thresholds"]["far_1e-4"]["supported"] is False
    with pytest.raises(ValueError, match="no tfmfn metadata and no TFLite standard metadata"):
        android.install_model(str(tmp_path / "plain.tflite"), str(tmp_path / "other"))
    assert not (tmp_path / "other").exists()
    (tmp_path / "standard.tflite").write_bytes(standard_only)
    installed = android.install_model(str(tmp_path / "standard.tflite"), str(tmp_path / "standard_assets"))
    assert installed["standard"]["input"]["mean"] == [127.5] and installed["standard"]["input"]["width"] == 16
    assert (tmp_path / "standard_assets" / android.EMBEDDER_ASSET).read_bytes() == standard_only
    (tmp_path / "junk.tflite").write_bytes(b"not a model")
    result = subprocess.run([sys.executable, "-m", "tfmfn.android", "--model", str(tmp_path / "junk.tflite"),
                             "--assets", str(tmp_path / "other")], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'junk.tflite'}: not a valid .tflite model")
