"""LiteRT's own aarch64 kernels on emulated ARM cores (tfmfn.runtime.arm, environment built by `make arm`): the same
outputs as x86 LiteRT, and instruction counts that match the work of a model whose work is known."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tf_keras as keras

from tfmfn import benchmark, convert
from tfmfn.runtime import arm, litert

BUILT = os.path.exists(os.path.join(arm.HOME, ".complete"))
needs_arm = pytest.mark.skipif(not BUILT, reason="needs the emulated ARM environment: make arm (make test runs it)")


@pytest.fixture(scope="module")
def zoo_exports(tmp_path_factory):
    """`benchmark --arch`'s exports of `mobilefacenet` (seeded): float32, int8 (the add form, the default) and
    int8 in the maximum form, PTQ on random faces."""
    keras.utils.set_random_seed(0)
    return benchmark.zoo_exports(["mobilefacenet"], str(tmp_path_factory.mktemp("zoo")))


def test_zoo_exports_are_named_by_form(zoo_exports):
    assert [os.path.basename(path) for path in zoo_exports] == [
        "mobilefacenet_float32.tflite", "mobilefacenet_int8.tflite", "mobilefacenet_int8_maximum.tflite"]


@needs_arm
def test_zoo_exports_give_x86s_outputs_on_every_core(zoo_exports):
    results = arm.measure(zoo_exports, count=False)
    assert {(os.path.basename(result.model), result.core) for result in results} == {
        (os.path.basename(path), core) for path in zoo_exports for core in arm.CORES}
    for result in results:
        assert result.same, (result.model, result.core, result.max_difference, result.op_differences)
        name = os.path.basename(result.model)
        if name == "mobilefacenet_float32.tflite":
            assert result.output_dtype == "float32"
        elif name == "mobilefacenet_int8.tflite":  # the default int8 export: bit-identical on every core
            assert result.output_dtype == "int8" and result.identical, (result.core, result.max_difference)
        elif result.op_differences is not None:
            # the maximum form's MUL: XNNPACK's ARM and x86 int8 multiplies round some ties apart, by one step,
            # which the ops after it can grow; every op type run alone stays within one step, and only MUL differs
            assert {op for op, value in result.op_differences.items() if value} <= {"MUL"}, result.op_differences
    alone = arm.op_type_differences(open(zoo_exports[2], "rb").read(), "cortex-a53")  # what measure does past a step
    assert set(alone) == {"ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "MAXIMUM", "MUL", "RESHAPE"}
    assert max(alone.values()) <= litert.INT8_STEPS and {op for op, value in alone.items() if value} <= {"MUL"}


@pytest.fixture(scope="module")
def known_work(tmp_path_factory):
    """A 1x1 convolution of 28x28x64 to 128 channels, int8 and float32: 6,422,528 multiply-accumulates."""
    folder = tmp_path_factory.mktemp("conv")
    inputs = keras.Input((28, 28, 64))
    model = keras.Model(inputs, keras.layers.Conv2D(128, 1, use_bias=False)(inputs))
    faces = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 64)).astype(np.float32)
    exports = {"conv_int8.tflite": convert.convert_keras(model, "int8", representative=faces),
               "conv_float32.tflite": convert.convert_keras(model, "float32")}
    for name, tflite in exports.items():
        (folder / name).write_bytes(tflite)
    return folder, 28 * 28 * 64 * 128


@needs_arm
def test_counts_match_the_multiply_accumulates_of_a_known_convolution(known_work, tmp_path):
    folder, macs = known_work
    command = [sys.executable, "-m", "tfmfn.benchmark", "--arm", "cortex-a53,cortex-a76,i8mm", "--json",
               "--model", str(folder / "conv_float32.tflite"), "--model", str(folder / "conv_int8.tflite"),
               "--plot", str(tmp_path / "arm.png")]
    completed = subprocess.run(command, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    rows = {(os.path.basename(row["model"]), row["core"]): row for row in json.loads(completed.stdout)}
    assert len(rows) == 6 and all(row["same"] for row in rows.values())
    assert (tmp_path / "arm.png").stat().st_size > 10_000
    int8 = {core: rows["conv_int8.tflite", core]["instructions"] for core in arm.CORES}
    assert int8["cortex-a53"]["dot"] == int8["cortex-a53"]["mmla"] == 0  # Armv8.0: no dot product
    assert int8["cortex-a76"]["dot"] * 16 == macs and int8["cortex-a76"]["mmla"] == 0  # SDOT: 16 MACs each
    assert int8["i8mm"]["mmla"] * 32 == macs  # SMMLA: a 2x8 by 8x2 int8 product, 32 MACs each
    assert int8["cortex-a53"]["total"] > int8["cortex-a76"]["total"] > int8["i8mm"]["total"]
    for row in rows.values():
        counts = row["instructions"]
        assert counts["total"] > counts["simd_fp"] + counts["simd_load_store"] > 0.5 * counts["total"]
        assert row["by_op_type"]["CONV_2D"]["count"] == 1
        assert row["by_op_type"]["CONV_2D"]["total"] == pytest.approx(counts["total"], rel=0.02)
        if "float32" in row["model"]:
            assert counts["dot"] == counts["mmla"] == 0


@needs_arm
def test_each_core_reads_a_cpuinfo_of_its_own_capabilities():
    env = arm.environment()
    features = {}
    for name, core in arm.CORES.items():
        with open(os.path.join(arm.core_root(env, name), "proc", "cpuinfo")) as stream:
            text = stream.read()
        features[name] = set(text.split("Features\t: ")[1].splitlines()[0].split())
        assert f"CPU part\t: {core.midr >> 4 & 0xFFF:#05x}" in text
    assert "asimd" in features["cortex-a53"] and "asimddp" not in features["cortex-a53"]
    assert "asimddp" in features["cortex-a76"] and "i8mm" not in features["cortex-a76"]
    assert {"asimddp", "i8mm"} <= features["i8mm"] and "sme" not in features["i8mm"]


def test_a_missing_environment_says_how_to_build_it(tmp_path):
    with pytest.raises(arm.ArmEnvironmentMissing, match="make arm"):
        arm.environment(str(tmp_path))
    with pytest.raises(ValueError, match="unknown ARM core cortex-x9; choose from cortex-a53, cortex-a76, i8mm"):
        arm.measure([], cores=["cortex-x9"], env=arm.Environment(str(tmp_path)))


def test_a_moved_environment_links_each_core_to_its_own_sysroot(tmp_path):
    """A core's folder links the sysroot's folders relatively; links left by the environment's old place are
    made again (the cpuinfo is kept: it describes the core, not the place)."""
    old, new = tmp_path / "old", tmp_path / "new"
    for home in (old, new):
        (home / "sysroot" / "usr").mkdir(parents=True)
        (home / "sysroot" / "usr" / "where").write_text(home.name)
    core = arm.CORES["cortex-a53"]
    root = new / "cores" / f"cortex-a53.{core.midr:08x}"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cpuinfo").write_text("processor\t: 0\n")
    (root / "usr").symlink_to(old / "sysroot" / "usr")  # as an absolute link made in the old place would be
    (old / "sysroot" / "usr" / "where").unlink()
    (old / "sysroot" / "usr").rmdir()
    assert arm.core_root(arm.Environment(str(new)), "cortex-a53") == str(root)
    assert (root / "usr" / "where").read_text() == "new"
    assert os.readlink(root / "usr") == os.path.join("..", "..", "sysroot", "usr")
    assert (root / "proc" / "cpuinfo").read_text() == "processor\t: 0\n"
