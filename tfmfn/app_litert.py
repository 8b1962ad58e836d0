"""Does a .tflite load and run in the LiteRT release the Android app ships, with the same outputs?

The app links LiteRT 1.4.x (`android_demo/gradle/libs.versions.toml`), while tfmfn converts with
TensorFlow 2.21 and runs models with ai-edge-litert 2.3: a newer converter may write an op version
that the older runtime lacks, and the phone would refuse the file at load time. `make litert-app`
installs that release's PyPI build (`requirements-litert-app.txt`, the one place its version is kept)
into `.venv-litert-app`, apart from the main environment; `check` runs a model there and here on the
same random inputs and compares the raw output tensors: int8 outputs may differ by one quantisation
step (XNNPACK's requantisation changed between releases), float ones by 1e-4 of their range.

    python -m tfmfn.app_litert --model runs/demo/int8/mobilefacenet_int8.tflite [--model B.tflite] [--json]

MediaPipe's ImageEmbedder is the other runtime that reads tfmfn's files as they are, from TFLite's
standard metadata entry: `make mediapipe` installs it (`requirements-mediapipe.txt`) into
`.venv-mediapipe`, and `mediapipe_check` embeds the same faces there and with LiteRT here (tfmfn's
normalisation and the input tensor's quantisation) and compares the embeddings by cosine. MediaPipe
takes float32 inputs and uint8 ones, feeding a uint8 input the raw pixels: the int8 file for it is
`convert --int8 --io uint8`, whose input codes are the pixels themselves (`litert.pixel_input`).

    python -m tfmfn.app_litert --model runs/demo/int8/mobilefacenet_int8.tflite --mediapipe

Example (needs `make litert-app`):

    >>> from tfmfn import app_litert, convert, models
    >>> open("/tmp/mfn.tflite", "wb").write(convert.convert_keras(models.build("mobilefacenet"), "float32"))
    ... # doctest: +SKIP
    >>> app_litert.check("/tmp/mfn.tflite")["same"]  # doctest: +SKIP
    True
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from tfmfn import cli, preprocess
from tfmfn.runtime import litert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(ROOT, "requirements-litert-app.txt")
PYTHON = os.environ.get("TFMFN_LITERT_APP_PYTHON", os.path.join(ROOT, ".venv-litert-app", "bin", "python"))
MEDIAPIPE_PYTHON = os.environ.get("TFMFN_MEDIAPIPE_PYTHON", os.path.join(ROOT, ".venv-mediapipe", "bin", "python"))
MEDIAPIPE_AGREEMENT = 0.9999
"""The cosine by which MediaPipe's embedding of a face must agree with LiteRT's."""

_MEDIAPIPE_RUNNER = r"""
import importlib.metadata, json, sys
import numpy as np
import mediapipe
from mediapipe.tasks import python as tasks
from mediapipe.tasks.python import vision

model_path, faces_path, outputs_path = sys.argv[1:4]
version = importlib.metadata.version("mediapipe")
options = vision.ImageEmbedderOptions(base_options=tasks.BaseOptions(model_asset_path=model_path),
                                      l2_normalize=False, quantize=False)
try:
    embedder = vision.ImageEmbedder.create_from_options(options)
except (RuntimeError, ValueError) as error:
    print(json.dumps({"version": version, "error": " ".join(str(error).split())}))
    sys.exit(0)
rows = []
with embedder:
    for face in np.load(faces_path):
        image = mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=np.ascontiguousarray(face))
        rows.append(np.asarray(embedder.embed(image).embeddings[0].embedding, np.float32))
np.save(outputs_path, np.stack(rows))
print(json.dumps({"version": version}))
"""

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


def _run_beside(python, runner, model_path, inputs_path, outputs_path, runtime):
    """The JSON answer (its last line) of `runner` run by another environment's `python` on a model;
    ReleaseMismatch naming `runtime` when the runner itself fails."""
    result = subprocess.run([python, "-c", runner, os.path.abspath(model_path), inputs_path, outputs_path],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseMismatch(f"{model_path}: {runtime} failed: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _ask_release(python, model_path, inputs_path, outputs_path):
    answer = _run_beside(python, _RUNNER, model_path, inputs_path, outputs_path, "the app's LiteRT release")
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
    inputs = litert.random_tensor(input_detail, np.random.default_rng(seed), count)
    got, version = run_in_release(model_path, inputs, python)
    expected = run_here(model_path, inputs)
    difference, allowed = litert.output_difference([expected], [got])
    return {"file": model_path, "release": version, "output_dtype": expected.dtype.name,
            "inputs": count, "max_difference": difference, "allowed": allowed,
            "identical": bool(difference == 0), "same": bool(difference <= allowed)}


def embed_here(model_path, faces):
    """LiteRT's raw embeddings of uint8 `faces` (N, H, W, 3): normalised by the file's metadata (tfmfn's or
    the standard entry; tfmfn's convention without either), quantised to its input tensor."""
    normalization = (litert.read_metadata(model_path) or {}).get("normalization")
    standard = litert.read_standard_metadata(model_path)
    if normalization is not None:
        mean, scale = normalization["mean"], normalization["scale"]
    elif standard is not None:
        mean, scale = standard["input"]["mean"][0], standard["input"]["std"][0]
    else:
        mean, scale = preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE
    interpreter = litert.interpreter_for(model_path)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    rows = []
    for face in faces:
        interpreter.set_tensor(source["index"], litert.quantize_values(preprocess.normalize(face, (mean, scale))[None], source))
        interpreter.invoke()
        rows.append(litert.dequantize_values(interpreter.get_tensor(target["index"]), target)[0])
    return np.stack(rows)


def mediapipe_check(model_path, faces=None, count=16, seed=0, python=None):
    """Embeds uint8 `faces` (N, H, W, 3; `count` seeded random images when None) with MediaPipe's
    ImageEmbedder in `.venv-mediapipe` and with LiteRT here; returns a report (`same`: every cosine is at
    least `MEDIAPIPE_AGREEMENT`). ReleaseMismatch when MediaPipe refuses the file (int8 input tensors)."""
    python = python or MEDIAPIPE_PYTHON
    if not os.path.exists(python):
        raise FileNotFoundError(f"{python}: no Python with MediaPipe; run `make mediapipe` (it installs "
                                "requirements-mediapipe.txt into .venv-mediapipe) or set TFMFN_MEDIAPIPE_PYTHON")
    if faces is None:
        size = litert.interpreter_for(model_path).get_input_details()[0]["shape"][1:3]
        faces = np.random.default_rng(seed).integers(0, 256, (count, *size, 3)).astype(np.uint8)
    with tempfile.TemporaryDirectory() as scratch:
        faces_path, outputs_path = os.path.join(scratch, "faces.npy"), os.path.join(scratch, "outputs.npy")
        np.save(faces_path, faces)
        answer = _run_beside(python, _MEDIAPIPE_RUNNER, model_path, faces_path, outputs_path, "MediaPipe")
        if "error" in answer:
            reason = re.sub(r"for input tensor \S+\.", "for its input tensor.", answer["error"])[:300]
            raise ReleaseMismatch(f"{model_path}: MediaPipe {answer['version']}'s ImageEmbedder refuses it: "
                                  f"{reason} (for MediaPipe, convert with --io uint8 or --float32)")
        got = np.load(outputs_path)
    expected = embed_here(model_path, faces)
    cosines = np.sum(got * expected, axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1))
    return {"file": model_path, "mediapipe": answer["version"], "faces": len(faces),
            "cosine_min": float(cosines.min()), "cosine_mean": float(cosines.mean()),
            "same": bool(cosines.min() >= MEDIAPIPE_AGREEMENT)}


def _define_flags():
    from absl import flags

    flags.DEFINE_multi_string("model", None, "A .tflite to check (repeatable).")
    flags.DEFINE_integer("inputs", 4, "Random inputs per model.")
    flags.DEFINE_bool("mediapipe", False, "Check MediaPipe's ImageEmbedder instead (make mediapipe): its "
                      "embeddings against LiteRT's, by cosine.")
    flags.DEFINE_bool("json", False, "Print the reports as JSON.")


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
            report = mediapipe_check(path, count=options.inputs) if options.mediapipe else check(path, count=options.inputs)
        except (FileNotFoundError, ReleaseMismatch) as error:
            raise SystemExit(f"error: {error}")
        failed |= not report["same"]
        reports.append(report)
        if options.mediapipe and not options.json:
            print(f"{path}: MediaPipe {report['mediapipe']}'s ImageEmbedder against LiteRT on {report['faces']} "
                  f"random images: cosine min {report['cosine_min']:.7f}, mean {report['cosine_mean']:.7f} "
                  f"({'same' if report['same'] else 'DIFFERENT'}: at least {MEDIAPIPE_AGREEMENT} needed)")
        elif not options.json:
            verdict = "identical" if report["identical"] else ("same" if report["same"] else "DIFFERENT")
            print(f"{path}: loads and runs in LiteRT {report['release']} (the app's release); outputs {verdict} "
                  f"(largest difference {report['max_difference']:g}, allowed {report['allowed']:g}, "
                  f"{report['inputs']} inputs)")
    if options.json:
        print(json.dumps(reports, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    _define_flags()
    cli.run(main, required=("model",))
