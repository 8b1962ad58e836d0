"""A model folder or file resolved once: which file, what kind, its card and metadata; and the Colab set-up."""

import os

import pytest

from tfmfn import colab, convert, models
from tfmfn.runtime import litert, model_card, model_files

from conftest import TINY_ARCH

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A training run's layout (SYNTHETIC: an untrained zoo model with a card that names a normalisation)."""
    root = tmp_path_factory.mktemp("run")
    export = root / model_files.EXPORT_FOLDER
    export.mkdir()
    net = models.build(TINY_ARCH)
    net.save(export / model_files.EXPORT_MODEL)
    card = model_card.make_card(net, TINY_ARCH, normalization=(127.0, 128.0))
    model_card.write_card(card, str(export))
    tflite = litert.add_metadata(convert.convert_keras(net, "float32"),
                                 {"normalization": {"mean": 120.0, "scale": 100.0}})
    (root / "model.tflite").write_bytes(tflite)
    return root


def test_a_run_folder_its_export_folder_and_its_file_are_one_model(run_folder):
    found = [model_files.locate(str(path)) for path in
             (run_folder, run_folder / "export", run_folder / "export" / model_files.EXPORT_MODEL)]
    assert {model.path for model in found} == {str(run_folder / "export" / model_files.EXPORT_MODEL)}
    model = found[0]
    assert model.kind == "keras" and model.card["model"] == TINY_ARCH
    assert model.normalization == (127.0, 128.0) and model.run_folder == str(run_folder)
    assert model_files.locate(model) is model  # resolved once, passed down as is


def test_a_tflite_file_brings_its_metadata(run_folder):
    model = model_files.locate(str(run_folder / "model.tflite"))
    assert model.kind == "tflite" and model.normalization == (120.0, 100.0)  # the file's own metadata first


def test_qat_weights_are_their_own_kind(tmp_path):
    (tmp_path / model_files.EXPORT_QAT_WEIGHTS).write_bytes(b"")
    model = model_files.locate(str(tmp_path))
    assert model.kind == "qat_weights" and model.path.endswith(model_files.EXPORT_QAT_WEIGHTS) and model.card is None


def test_bad_paths_say_what_to_give(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model; give a .tflite"):
        model_files.locate(str(tmp_path / "missing.keras"))
    with pytest.raises(model_files.NotAnEmbedderError, match="neither a SavedModel nor a training model_dir"):
        model_files.locate(str(tmp_path))
    (tmp_path / "broken.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="broken.tflite: not a valid .tflite model"):
        model_files.locate(str(tmp_path / "broken.tflite"))


def test_colab_installs_the_pinned_tensorflow_with_cuda_on_a_gpu():
    pins = colab.pinned_versions(ROOT)
    with open(os.path.join(ROOT, "requirements.txt")) as stream:
        assert f"tensorflow=={pins['tensorflow']}\n" in stream.read()
    gpu, cpu = colab.pip_command(ROOT, gpu=True), colab.pip_command(ROOT, gpu=False)
    assert f"tensorflow[and-cuda]=={pins['tensorflow']}" in gpu and not any("cuda" in part for part in cpu)
    assert gpu[-2:] == cpu[-2:] == ["-e", ROOT]
    with pytest.raises(FileNotFoundError, match="no tfmfn clone there"):
        colab.install(os.path.join(ROOT, "no_such_clone"))


def test_notebooks_set_up_colab_through_the_helper():
    for name in sorted(os.listdir(os.path.join(ROOT, "notebooks"))):
        if name.endswith(".py"):
            text = open(os.path.join(ROOT, "notebooks", name)).read()
            assert "colab.install(TFMFN_DIR)" in text and "pip\", \"install" not in text, name
