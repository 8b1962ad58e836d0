"""Does a .tflite load and run in the LiteRT release the Android app ships, with the same outputs?

The app links LiteRT 1.4.x (`android_demo/gradle/libs.versions.toml`), while tfmfn converts with
TensorFlow 2.21 and runs models with ai-edge-litert 2.3: a newer converter may write an op version
that the older runtime lacks, and the phone would refuse the file at load time. `make litert-app`
installs that release's PyPI build (`requirements-litert-app.txt`, the one place its version is kept)
into `.venv-litert-app`, apart from the main environment; `check` runs a model there and here on the
same random inputs and compares the raw output tensors: int8 outputs may differ by one quantisation
step (XNNPACK's requantisation changed between releases), float ones by 1e-4 of their range.

    python -m tfmfn.app_litert --model runs/demo/int8/mobilefacenet_int8.tflite [--model B.tflite] [--json]

Example (needs `make litert-app`):

    >>> from tfmfn import app_litert, convert, models
    >>> open("/tmp/mfn.tflite", "wb").write(convert.convert_keras(models.build("mobilefacenet"), "float32"))
    ... # doctest: +SKIP
    >>> app_litert.check("/tmp/mfn.tflite")["same"]  # doctest: +SKIP
    True
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from tfmfn import cli, litert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(ROOT, "requirements-litert-app.txt")
PYTHON = os.environ.get("TFMFN_LITERT_APP_PYTHON", os.path.join(ROOT, ".venv-litert-app", "bin", "python"))

_RUNNER = r"""
import importlib.metadata, json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter

model_path, inputs_path, outputs_path = sys.argv[1:4]
version = importlib.metadata.version("ai-edge-litert")
try:
    interpreter = Interpreter(model_path=model_path)
    interpreter.allocate_tensors()
except (RuntimeError, ValueError) as error:
    print(json.dumps({"version": version, "error": " ".join(str(error).split())}))
    sys.exit(0)
if inputs_path == "-":
    detail = interpreter.get_input_details()[0]
    print(json.dumps({"version": version, "input": [np.dtype(detail["dtype"]).name, detail["shape"].tolist()]}))
    sys.exit(0)
outputs = []
for sample in np.load(inputs_path):
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[None])
    interpreter.invoke()
    outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
np.save(outputs_path, np.stack(outputs))
print(json.dumps({"version": version}))
"""


class ReleaseMismatch(ValueError):
    """The app's LiteRT release cannot load a model, or computes other outputs than tfmfn's LiteRT."""


def release_requirement(path=REQUIREMENTS):
    """The pinned ai-edge-litert version of the app's release line, e.g. "1.4.0"."""
    with open(path) as stream:
        for line in stream:
            if line.startswith("ai-edge-litert=="):
                return line.split("==")[1].strip()
    raise ValueError(f"{path} pins no ai-edge-litert version")


def _release_python(python):
    python = python or PYTHON
    if not os.path.exists(python):
        raise FileNotFoundError(
            f"{python}: no Python with the app's LiteRT release; run `make litert-app` (it installs "
            f"ai-edge-litert {release_requirement()} into .venv-litert-app) or set TFMFN_LITERT_APP_PYTHON")
    return python


def sample_inputs(detail, count, seed=0):
    """`count` random input tensors for an input of LiteRT's `detail`: the full integer range of a
    quantised input, [-1, 1] for a float one (tfmfn's normalised pixels)."""
    rng = np.random.default_rng(seed)
    shape = (count, *detail["shape"][1:])
    if detail["dtype"] == np.float32:
        return rng.uniform(-1, 1, shape).astype(np.float32)
    info = np.iinfo(detail["dtype"])
    return rng.integers(info.min, info.max + 1, shape).astype(detail["dtype"])


def run_here(model_path, inputs):
    """The output tensors of tfmfn's own LiteRT for each input tensor."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=model_path)
    interpreter.allocate_tensors()
    outputs = []
    for sample in inputs:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    return np.stack(outputs)


def _ask_release(python, model_path, inputs_path, outputs_path):
    result = subprocess.run([python, "-c", _RUNNER, os.path.abspath(model_path), inputs_path, outputs_path],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseMismatch(f"{model_path}: the app's LiteRT release failed: {result.stderr.strip()[-500:]}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    if "error" in answer:
        raise ReleaseMismatch(
            f"{model_path}: LiteRT {answer['version']}, the release the app ships, cannot load it: "
            f"{answer['error'][:400]} (convert with the tfmfn TensorFlow pin, or raise the app's litert version)")
    return answer


def describe_in_release(model_path, python=None):
    """The input detail ({"dtype", "shape"}) of a model the app's LiteRT release loads; ReleaseMismatch when
    it cannot load the file (an op or op version it lacks)."""
    answer = _ask_release(_release_python(python), model_path, "-", "-")
    dtype, shape = answer["input"]
    return {"dtype": np.dtype(dtype).type, "shape": np.array(shape)}, answer["version"]


def run_in_release(model_path, inputs, python=None):
    """(outputs, version) of the app's LiteRT release on `inputs`; ReleaseMismatch when it cannot load the file."""
    python = _release_python(python)
    with tempfile.TemporaryDirectory() as scratch:
        inputs_path, outputs_path = os.path.join(scratch, "inputs.npy"), os.path.join(scratch, "outputs.npy")
        np.save(inputs_path, inputs)
        answer = _ask_release(python, model_path, inputs_path, outputs_path)
        return np.load(outputs_path), answer["version"]


def check(model_path, python=None, count=4, seed=0):
    """Runs `model_path` in the app's LiteRT release and in tfmfn's on the same inputs; returns a report
    (`same`: the outputs agree within one int8 step, or 1e-4 of a float output's range)."""
    input_detail, _ = describe_in_release(model_path, python)  # the release loads the file first
    inputs = sample_inputs(input_detail, count, seed)
    got, version = run_in_release(model_path, inputs, python)
    expected = run_here(model_path, inputs)
    difference, allowed = litert.outputs_agree([expected], [got])
    return {"file": model_path, "release": version, "output_dtype": expected.dtype.name,
            "inputs": count, "max_difference": difference, "allowed": allowed,
            "identical": bool(difference == 0), "same": bool(difference <= allowed)}


def _define_flags():
    from absl import flags

    flags.DEFINE_multi_string("model", None, "A .tflite to check (repeatable).")
    flags.DEFINE_integer("inputs", 4, "Random inputs per model.")
    flags.DEFINE_bool("json", False, "Print the reports as JSON.")
    flags.mark_flag_as_required("model")


def main(argv):
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    reports, failed = [], False
    for path in options.model:
        try:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: no such model")
            report = check(path, count=options.inputs)
        except (FileNotFoundError, ReleaseMismatch) as error:
            raise SystemExit(f"error: {error}")
        failed |= not report["same"]
        reports.append(report)
        if not options.json:
            verdict = "identical" if report["identical"] else ("same" if report["same"] else "DIFFERENT")
            print(f"{path}: loads and runs in LiteRT {report['release']} (the app's release); outputs {verdict} "
                  f"(largest difference {report['max_difference']:g}, allowed {report['allowed']:g}, "
                  f"{report['inputs']} inputs)")
    if options.json:
        print(json.dumps(reports, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
