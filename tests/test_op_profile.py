"""Op-type profiles: cutting a .tflite by op type exactly, timing the parts and the whole, the table, the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from tfmfn import convert, op_profile
from tfmfn.models.table import Row, build_from_table
from tfmfn.runtime import litert

TINY = (
    Row("conv3x3", c=16, s=2),
    Row("bottleneck", t=2, c=16, n=2, s=1),
    Row("conv1x1", c=32),
    Row("gdconv", c=32),
    Row("linear1x1", c=8),
)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A tiny one-slope PReLU network (synthetic weights) as float32 and as int8 PTQ .tflite files."""
    net = build_from_table(TINY, (32, 32, 3), "lrelu", "tiny")
    images = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
    folder = tmp_path_factory.mktemp("tflite")
    paths = {}
    for mode in ("float32", "int8"):
        paths[mode] = folder / f"tiny_{mode}.tflite"
        paths[mode].write_bytes(convert.convert_keras(net, mode, representative=images if mode == "int8" else None))
    return paths


def reference(tflite):
    return Interpreter(model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                       experimental_preserve_all_tensors=True)


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_each_part_holds_one_op_type_and_reproduces_the_whole_models_tensors(tiny_models, mode):
    whole_bytes = tiny_models[mode].read_bytes()
    whole_ops = litert.analyse(whole_bytes)["ops"]
    parts = op_profile.op_type_models(whole_bytes)
    assert {name: part.count for name, part in parts.items()} == whole_ops
    assert whole_ops["LEAKY_RELU"] == 1 + 2 * 2 + 1 and whole_ops["ADD"] == 2
    whole = reference(whole_bytes)
    whole.allocate_tensors()
    detail = whole.get_input_details()[0]
    rng = np.random.default_rng(1)
    if mode == "int8":
        image = rng.integers(-128, 127, detail["shape"], endpoint=True).astype(np.int8)
    else:
        image = rng.uniform(-1, 1, detail["shape"]).astype(np.float32)
    whole.set_tensor(detail["index"], image)
    whole.invoke()
    for name, part in parts.items():
        assert litert.analyse(part.tflite)["ops"] == {name: part.count}
        cut = reference(part.tflite)
        cut.allocate_tensors()
        for tensor in cut.get_input_details():
            cut.set_tensor(tensor["index"], whole.get_tensor(tensor["index"]))
        cut.invoke()
        for tensor in cut.get_output_details():
            np.testing.assert_array_equal(cut.get_tensor(tensor["index"]), whole.get_tensor(tensor["index"]), err_msg=name)


def test_profile_times_every_op_type_and_the_whole_model(tiny_models):
    paths = [str(tiny_models["float32"]), str(tiny_models["int8"])]
    rounds = []
    rows = op_profile.profile(paths, threads=(1, 2), runs=6, warmup=1, block=4,
                              progress=lambda threads, done: rounds.append((threads, done)))
    assert rounds == [(1, 1), (1, 2), (2, 1), (2, 2)]
    for path in paths:
        ops = litert.analyse(open(path, "rb").read())["ops"]
        for threads in (1, 2):
            mine = {row.op: row for row in rows if row.model == path and row.threads == threads}
            assert set(mine) == {*ops, op_profile.WHOLE}
            assert mine[op_profile.WHOLE].count == sum(ops.values())
            assert all(row.median_ms > 0 and row.fully_delegated for row in mine.values())
    table = op_profile.format_profile(rows)
    lines = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert set(lines) >= {"CONV_2D", "DEPTHWISE_CONV_2D", "LEAKY_RELU", "ADD", "sum", "whole"}
    conv = {(row.model, row.threads): row.median_ms for row in rows if row.op == "CONV_2D"}
    ratio_1t = float(lines["CONV_2D"].split()[-2])
    assert ratio_1t == pytest.approx(conv[paths[1], 1] / conv[paths[0], 1], abs=0.006)


def test_models_with_several_subgraphs_are_refused():
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(convert.convert_keras(
        build_from_table(TINY[:1] + (Row("gap"),), (16, 16, 3), "relu", "tiny"), "float32")))
    model.subgraphs.append(model.subgraphs[0])
    with pytest.raises(ValueError, match="2 subgraphs"):
        op_profile.op_type_models(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


def test_cli_prints_json_draws_the_plot_and_refuses_a_missing_file(tiny_models, tmp_path):
    command = [sys.executable, "-m", "tfmfn.op_profile", "--model", str(tiny_models["int8"]), "--runs", "4",
               "--block", "2", "--json", "--plot", str(tmp_path / "ops.png")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    assert {row["op"] for row in rows} == {*litert.analyse(tiny_models["int8"].read_bytes())["ops"], op_profile.WHOLE}
    assert (tmp_path / "ops.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = subprocess.run([sys.executable, "-m", "tfmfn.op_profile", "--model", str(tmp_path / "none.tflite")],
                             capture_output=True, text=True)
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'none.tflite'}: no such .tflite file"
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(tiny_models["int8"].read_bytes()[:2000])
    cut_short = subprocess.run([sys.executable, "-m", "tfmfn.op_profile", "--model", str(truncated)],
                               capture_output=True, text=True)
    assert cut_short.returncode != 0
    assert cut_short.stderr.strip().splitlines()[-1].startswith(f"error: {truncated}: not a valid .tflite model")
    no_blocks = subprocess.run(command[:5] + ["--block", "0"], capture_output=True, text=True)
    assert no_blocks.stderr.strip().splitlines()[-1] == "error: runs and block must be at least 1, got runs=100, block=0"
