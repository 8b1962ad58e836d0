"""The end-to-end demo on a tiny synthetic set: every stage runs, the report holds the measured
figures, a second run reuses the finished stages, and other settings are refused."""

import dataclasses
import filecmp
import json
import os

import pytest

from tfmfn import android, app_litert, demo
from tfmfn.runtime import litert, model_card

from conftest import TINY_ARCH

# make test runs a file's tests on one worker (--dist loadfile): the module-scoped demo runs once for them all


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    settings = demo.Settings(out=str(folder / "demo"), data=str(folder / "synth"), arch=TINY_ARCH, identities=10,
                             images_per_identity=4, pairs=40, train_steps=2, qat_steps=2, benchmark_runs=5,
                             threads=(1, 2), assets=str(folder / "assets"))
    messages = []
    report = demo.run(settings, say=lambda message="", **kwargs: messages.append(str(message)))
    return settings, report, messages


def test_every_stage_ran_and_the_report_has_the_figures(finished):
    settings, report, messages = finished
    assert [line.split(":")[0] for line in messages if line.startswith("[") and "done in" in line] == [
        f"[{number}/{len(demo.STAGES)}] {name}" for number, name in enumerate(demo.STAGES, start=1)]
    models = report["models"]
    assert set(models) == {"keras", "float32", "int8"}
    # smaller, though not by 4x: the tiny model's 17K weights are a small part of its files (graph, per-channel
    # scales, metadata): 57 KB against 81 KB here; the full demo's int8 file is 1.51 MB against 4.03 MB (README)
    assert models["int8"]["bytes"] < 0.8 * models["float32"]["bytes"]
    assert models["int8"]["bytes"] == os.path.getsize(settings.tflite("int8"))
    assert models["float32"]["parity"]["cosine_min"] > 0.9999
    assert 0.5 < models["int8"]["parity"]["cosine_mean"] <= 1.0
    assert all(0.0 <= model["accuracy"] <= 1.0 for model in models.values())
    assert abs(models["float32"]["accuracy"] - models["keras"]["accuracy"]) <= 0.025
    assert models["float32"]["fully_delegated"]
    # pixels in: the uint8 <-> int8 QUANTIZE at the two edges stay with LiteRT's own kernels
    assert models["int8"]["outside_xnnpack"] == {"QUANTIZE": 2}
    assert set(models["int8"]["median_ms"]) == {"1", "2"}
    assert report["int8_over_float32_latency"]["1"] == pytest.approx(
        models["int8"]["median_ms"]["1"] / models["float32"]["median_ms"]["1"])
    assert report["data"]["identities"] == 10
    # the int8 model's metadata and its card hold the app's thresholds with the impostor pairs behind them
    metadata = litert.read_metadata(settings.tflite("int8"))
    thresholds = metadata["thresholds"]
    assert models["int8"]["thresholds"] == thresholds and thresholds["use"] == {"1:1": "far_1e-3", "1:N": "far_1e-4"}
    assert thresholds["impostor_pairs"] == thresholds["num_pairs"] - thresholds["genuine_pairs"] > 0
    assert thresholds["far_1e-4"]["threshold"] <= thresholds["far_1e-3"]["threshold"]
    assert not thresholds["far_1e-4"]["supported"]  # a tiny demo's few hundred impostor pairs cannot measure 1e-4
    assert metadata["recommended_threshold"] == thresholds["far_1e-3"]["threshold"]
    card = model_card.read_card(settings.path("qat"))
    assert card["thresholds"]["use"] == thresholds["use"] and card["thresholds"]["impostor_pairs"] > 0


def test_report_md_shows_what_report_json_holds(finished):
    settings, report, _ = finished
    with open(settings.path("report.md")) as stream:
        markdown = stream.read()
    assert "synthetic data" in markdown
    int8 = report["models"]["int8"]
    assert f"{int8['bytes'] / 1e6:.2f} MB" in markdown
    assert f"{100 * int8['accuracy']:.2f} ± {100 * int8['accuracy_std']:.2f}" in markdown
    assert f"{int8['parity']['cosine_mean']:.4f} / {int8['parity']['cosine_min']:.4f}" in markdown
    assert f"{int8['median_ms']['1']:.2f} / {int8['median_ms']['2']:.2f}" in markdown
    assert model_card.describe_thresholds(int8["thresholds"]) in markdown
    for image in ("curves_float.png", "curves_qat.png", "roc.png", "latency.png", "samples.png"):
        assert f"]({image})" in markdown
        assert os.path.getsize(settings.path(image)) > 10_000, image


def test_the_int8_model_is_installed_in_the_app_assets(finished):
    settings, _, _ = finished
    assert filecmp.cmp(settings.tflite("int8"), os.path.join(settings.assets, android.EMBEDDER_ASSET), shallow=False)
    assert os.path.exists(os.path.join(settings.assets, android.DETECTOR_ASSET))


@pytest.mark.skipif(not os.path.exists(app_litert.MEDIAPIPE_PYTHON),
                    reason="needs MediaPipe in .venv-mediapipe (make test installs it: make mediapipe)")
def test_mediapipe_gives_litert_embedding_of_the_int8_export(finished):
    settings, _, _ = finished
    path = settings.tflite("int8")
    assert litert.read_metadata(path)["quantization"] == "int8 qat"
    assert litert.read_standard_metadata(path)["input"]["std"] == [128.0]
    report = app_litert.mediapipe_check(path, count=8)
    assert report["cosine_min"] >= 0.9999, report
    # the uint8 input takes pixels as they are: MediaPipe feeds them so
    assert litert.analyse(open(path, "rb").read())["input"]["zero_point"] == 127


def test_a_second_run_reuses_every_finished_stage(finished):
    settings, report, _ = finished
    messages = []
    again = demo.run(settings, say=lambda message="", **kwargs: messages.append(str(message)))
    assert sum("reused from an earlier run" in line for line in messages) == len(demo.STAGES)
    assert again == report


def test_other_settings_are_refused_without_touching_the_run(finished):
    settings, _, _ = finished
    with open(settings.path(demo.STATE_FILE)) as stream:
        state = stream.read()
    with pytest.raises(demo.SettingsChanged, match="train_steps differ.*--fresh"):
        demo.run(dataclasses.replace(settings, train_steps=3), say=lambda *args, **kwargs: None)
    with open(settings.path(demo.STATE_FILE)) as stream:
        assert stream.read() == state
    assert json.loads(state)["settings"]["train_steps"] == 2


def test_asking_no_longer_to_install_redoes_only_the_app_and_report_stages(finished):
    settings, report, _ = finished
    messages = []
    again = demo.run(dataclasses.replace(settings, install_app=False),
                     say=lambda message="", **kwargs: messages.append(str(message)))
    redone = [line.split("] ")[1].split(":")[0] for line in messages if "done in" in line]
    assert redone == ["app", "report"]
    assert again["app_assets"] is None and again["models"] == report["models"]


def test_folders_holding_something_else_are_refused_and_left_alone(tmp_path):
    precious = tmp_path / "my_faces"
    precious.mkdir()
    (precious / "ada.jpg").write_bytes(b"not the demo's")
    for settings in (demo.Settings(out=str(precious), data=str(tmp_path / "synth")),
                     demo.Settings(out=str(tmp_path / "demo"), data=str(precious))):
        with pytest.raises(demo.SettingsChanged, match="is not empty and holds no"):
            demo.run(settings, fresh=True, say=lambda *args, **kwargs: None)
    assert (precious / "ada.jpg").read_bytes() == b"not the demo's"
    assert not (tmp_path / "demo").exists() and not (tmp_path / "synth").exists()
