"""tfmfn keeps TensorFlow on Keras 2 (tf_keras), whoever imports first."""

import os
import subprocess
import sys

import pytest

from tfmfn import preprocess


def run_python(code):
    env = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_tfmfn_first_makes_tf_keras_legacy():
    result = run_python("import tfmfn, tensorflow as tf; print(tf.keras.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tf_keras")


def test_tensorflow_first_still_works_before_keras_is_touched():
    result = run_python("import tensorflow as tf, tfmfn; print(tf.keras.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tf_keras")


def test_keras3_already_loaded_is_refused_with_a_fix():
    result = run_python("import tensorflow as tf; tf.keras.Model; import tfmfn")
    assert result.returncode != 0
    assert "import tfmfn before tensorflow" in result.stderr


def test_normalisation_round_trip():
    pixels = __import__("numpy").array([0.0, 127.5, 255.0])
    assert preprocess.normalize(pixels).tolist() == pytest.approx([-0.99609375, 0.0, 0.99609375])
    assert preprocess.denormalize(preprocess.normalize(pixels)).tolist() == pytest.approx(pixels.tolist())
