"""Benchmarks: benchmark_model output parsing, local interleaved LiteRT timing, delegation check, CLI."""

import json
import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf
import tf_keras as keras

from tfmfn import benchmark
from tfmfn.runtime import litert

RECORDED = pathlib.Path(__file__).parent / "data" / "benchmark_model"


def test_parses_prefixed_output_with_percentiles():
    figures = benchmark.parse_benchmark_model((RECORDED / "linux_aarch64_xnnpack.txt").read_text())
    assert figures["init_ms"] == pytest.approx(21.417) and figures["first_ms"] == pytest.approx(11.804)
    assert figures["mean_ms"] == pytest.approx(8.06122) and figures["warmup_mean_ms"] == pytest.approx(8.1873)
    assert figures["count"] == 124  # the timed runs' statistics line, not the warm-up's
    assert figures["median_ms"] == pytest.approx(7.990) and figures["p95_ms"] == pytest.approx(8.605)
    assert (figures["memory_init_mb"], figures["memory_overall_mb"]) == (6.91016, 9.48047)
    assert figures["peak_memory_mb"] == 14.8125 and figures["threads"] == 2
    assert figures["fully_delegated"] and figures["delegated_nodes"] == figures["total_nodes"] == 71


def test_parses_plain_output_and_sees_partial_delegation():
    figures = benchmark.parse_benchmark_model((RECORDED / "android_prelu_partial.txt").read_text())
    assert figures["mean_ms"] == pytest.approx(41.652) and figures["std_ms"] == pytest.approx(1.046)
    assert "median_ms" not in figures and figures["count"] == 50
    assert figures["memory_overall_mb"] == 16.3594 and figures["threads"] == 4
    assert not figures["fully_delegated"] and (figures["delegated_nodes"], figures["partitions"]) == (71, 35)
    with pytest.raises(ValueError, match="no 'Inference timings in us' line"):
        benchmark.parse_benchmark_model("ERROR: Could not open '/data/local/tmp/x.tflite'.")


def convert(model, path):
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tflite")
    inputs = keras.Input((32, 32, 3), batch_size=1)
    small = keras.Model(inputs, keras.layers.Conv2D(8, 3, activation="relu")(inputs))
    large = keras.Model(inputs, keras.layers.Conv2D(8, 3)(keras.layers.Conv2D(64, 3, activation="relu")(inputs)))
    unsupported = keras.Model(inputs, tf.math.cumsum(keras.layers.Conv2D(8, 3)(inputs), axis=1))
    return {name: convert(model, folder / f"{name}.tflite")
            for name, model in (("small", small), ("large", large), ("unsupported", unsupported))}


def test_local_benchmark_interleaves_and_checks_delegation(models):
    results = benchmark.benchmark_local([models["small"], models["large"], models["unsupported"]], (1, 2), runs=20)
    assert [(result.model, result.threads) for result in results] == [
        (models[name], threads) for threads in (1, 2) for name in ("small", "large", "unsupported")]
    by_name = {(result.model, result.threads): result for result in results}
    for result in results:
        assert result.runs == 20 and 0 < result.median_ms <= result.p90_ms <= result.p95_ms
        assert result.init_ms > 0 and result.bytes > 0
    assert by_name[(models["large"], 1)].median_ms > 3 * by_name[(models["small"], 1)].median_ms
    assert by_name[(models["small"], 1)].fully_delegated and by_name[(models["large"], 2)].fully_delegated
    assert not by_name[(models["unsupported"], 1)].fully_delegated


def test_delegation_names_the_ops_left_to_the_interpreter(models):
    from ai_edge_litert.interpreter import Interpreter

    for name, expected in (("large", (True, {})), ("unsupported", (False, {"CUMSUM": 1}))):
        interpreter = Interpreter(model_path=models[name])
        interpreter.allocate_tensors()
        assert litert.delegation(interpreter) == expected


def test_cli_table_json_plot_and_full_delegation(models, tmp_path):
    command = [sys.executable, "-m", "tfmfn.benchmark", "--model", models["small"], "--model", models["unsupported"],
               "--runs", "5", "--threads", "1"]
    table = subprocess.run(command + ["--plot", str(tmp_path / "bars.png")], capture_output=True, text=True)
    assert table.returncode == 0, table.stderr[-2000:]
    lines = table.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["model", "threads", "size"] and len(lines) == 3
    assert lines[1].split()[-1] == "yes" and lines[2].split()[-1] == "NO"
    assert (tmp_path / "bars.png").stat().st_size > 5000
    as_json = subprocess.run(command + ["--json"], capture_output=True, text=True)
    rows = json.loads(as_json.stdout)
    assert [row["fully_delegated"] for row in rows] == [True, False] and rows[0]["where"] == "local"
    strict = subprocess.run(command + ["--require_full_delegation"], capture_output=True, text=True)
    assert strict.returncode == 1
    assert strict.stderr.strip().splitlines()[-1] == f"error: not fully delegated to XNNPACK: {models['unsupported']}"
    missing = subprocess.run([sys.executable, "-m", "tfmfn.benchmark", "--model", str(tmp_path / "none.tflite")],
                             capture_output=True, text=True)
    assert missing.stderr.strip().splitlines()[-1].endswith("none.tflite: no such .tflite file")
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(open(models["small"], "rb").read()[:200])
    cut_short = subprocess.run([sys.executable, "-m", "tfmfn.benchmark", "--model", str(truncated)],
                               capture_output=True, text=True)
    assert cut_short.stderr.strip().splitlines()[-1].startswith(f"error: {truncated}: not a valid .tflite model")


def test_adb_errors_say_what_is_missing(models, tmp_path):
    import shutil

    with pytest.raises(FileNotFoundError, match="no benchmark_model binary; see tflite/README.md"):
        benchmark.benchmark_adb([models["small"]], str(tmp_path / "benchmark_model"))
    if shutil.which("adb") is None:
        (tmp_path / "benchmark_model").write_bytes(b"\x7fELF")
        with pytest.raises(FileNotFoundError, match="adb is not on PATH; install Android platform-tools"):
            benchmark.benchmark_adb([models["small"]], str(tmp_path / "benchmark_model"))


def test_a_fixed_batch_of_two_is_timed_per_image_too(tmp_path):
    inputs = keras.Input((32, 32, 3), batch_size=2)
    pair = convert(keras.Model(inputs, keras.layers.Conv2D(8, 3)(inputs)), tmp_path / "pair.tflite")
    (result,) = benchmark.benchmark_local([pair], (1,), runs=5)
    assert result.batch == 2 and result.per_image_ms == pytest.approx(result.median_ms / 2)
    header, row = benchmark.format_table([result]).splitlines()
    assert header.split()[-2:] == ["batch", "ms/image"] and row.split()[-2:] == ["2", f"{result.per_image_ms:.2f}"]
    single = benchmark.Result(model="one.tflite", threads=1, runs=5, median_ms=1.0, bytes=1)
    assert "ms/image" not in benchmark.format_table([single])



def test_zoo_exports_refuse_unknown_models(tmp_path):  # the exports themselves: tests/test_arm.py
    with pytest.raises(ValueError, match="unknown zoo model mobilefacenet_x; choose from"):
        benchmark.zoo_exports(["mobilefacenet_x"], str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_paper_table_measures_each_float32_tflite_here():
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.benchmark", "--paper_table", "--json", "--runs", "10",
         "--arch", "mobilefacenet,mobilenet_v1"],
        capture_output=True, text=True, check=True,
    )
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["mobilefacenet"]["params"] == 993_344
    fast, slow = rows["mobilefacenet"]["latency_ms"]["1"], rows["mobilenet_v1"]["latency_ms"]["1"]
    assert 0 < fast < slow  # 221M against 568M multiply-accumulates
    bad = subprocess.run([sys.executable, "-m", "tfmfn.benchmark", "--paper_table", "--threads", "one"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--threads takes counts" in bad.stderr
