"""LiteRT utilities that every tool running or writing `.tflite` files shares.

Loading an interpreter with an error that says what is wrong (`interpreter_for`),
tfmfn's metadata inside the flatbuffer (`make_metadata`, `add_metadata`,
`read_metadata`), what a file holds and how much of it XNNPACK runs (`analyse`,
`delegation`), quantising values to a tensor's own scale and zero point
(`quantize`, `dequantize`), random inputs for timing and parity runs
(`random_inputs`) and the rule by which two runtimes' outputs agree
(`outputs_agree`). It imports LiteRT and TensorFlow's flatbuffer schema only
inside the functions that need them.

Example:

    >>> from tfmfn import convert, litert, models
    >>> tflite = convert.convert_keras(models.build("mobilefacenet"), "float32")
    >>> tflite = litert.add_metadata(tflite, {"embedding_size": 128})
    >>> litert.read_metadata(tflite)["embedding_size"]
    128
    >>> litert.analyse(tflite)["ops"]["CONV_2D"]
    33
"""

import collections
import datetime
import json

import numpy as np

import tfmfn
from tfmfn import model_card

METADATA_NAME = "tfmfn"
METADATA_FORMAT = "tfmfn-tflite-metadata/1"
INT8_STEPS = 1
"""Quantised outputs of two runtimes agree within this many steps (requantisation rounds ties apart)."""
FLOAT_TOLERANCE = 1e-4
"""Float outputs agree within this fraction of their range (kernels sum in another order)."""


def add_metadata(tflite, metadata):
    """`tflite` bytes with `metadata` (a JSON-able dict) stored as the model's "tfmfn" metadata entry."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    model.metadata = [entry for entry in (model.metadata or []) if entry.name.decode() != METADATA_NAME]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_metadata(tflite):
    """The tfmfn metadata dict of a .tflite file (path or bytes), or None when it has none."""
    from tensorflow.lite.python import schema_py_generated as schema

    if isinstance(tflite, str):
        with open(tflite, "rb") as stream:
            tflite = stream.read()
    model = schema.Model.GetRootAsModel(tflite, 0)
    for index in range(model.MetadataLength()):
        entry = model.Metadata(index)
        if entry.Name().decode() == METADATA_NAME:
            return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
    return None


def make_metadata(card, quantization, evaluation=None):
    """The metadata that every exported .tflite carries, from the model card; the thresholds from
    `evaluation` (of the converted model, `tfmfn.evaluate` results) when given, else the card's."""
    thresholds = model_card.operating_thresholds(evaluation) if evaluation else card.get("thresholds")
    threshold = model_card.recommended_threshold(evaluation) if evaluation else card.get("recommended_threshold")
    return {
        "format": METADATA_FORMAT,
        "model": card["model"],
        "input_size": list(card["input_size"]),
        "input": "aligned RGB face; uint8 pixels, normalised as below when the input tensor is float",
        "normalization": card["normalization"],
        "alignment_template": card["alignment_template"],
        "embedding_size": card["embedding_size"],
        "quantization": quantization,
        "recommended_threshold": threshold,
        "thresholds": thresholds,
        "threshold_meaning": "same person when the squared distance of the L2-normalised embeddings is below it "
                             "(cosine similarity above 1 - threshold / 2); recommended_threshold is for 1:1 "
                             "verification, thresholds.use names the point for each app mode",
        "tfmfn_version": tfmfn.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def analyse(tflite):
    """Ops, float ops, input and output tensors and XNNPACK delegation of .tflite bytes.

    Float ops are ops with a float32 input or output, the QUANTIZE of a float
    model input and the DEQUANTIZE of a float model output excepted.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    plain = Interpreter(model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    tensors = {detail["index"]: detail for detail in plain.get_tensor_details()}
    inputs = {detail["index"] for detail in plain.get_input_details()}
    outputs = {detail["index"] for detail in plain.get_output_details()}
    ops = collections.Counter()
    float_ops = collections.Counter()
    for op in plain._get_ops_details():
        name = op["op_name"]
        ops[name] += 1
        touched = [index for index in [*op["inputs"], *op["outputs"]] if index >= 0]
        if not any(tensors[index]["dtype"] == np.float32 for index in touched):
            continue
        edge = (name == "QUANTIZE" and set(op["inputs"]) <= inputs) or (
            name == "DEQUANTIZE" and set(op["outputs"]) <= outputs
        )
        if not edge:
            float_ops[name] += 1
    delegated = Interpreter(model_content=tflite)
    delegated.allocate_tensors()
    fully_delegated, leftover = delegation(delegated)
    return {
        "ops": dict(sorted(ops.items())),
        "float_ops": dict(sorted(float_ops.items())),
        "input": _tensor_summary(plain.get_input_details()[0]),
        "output": _tensor_summary(plain.get_output_details()[0]),
        "fully_delegated": fully_delegated,
        "ops_outside_xnnpack": leftover,
    }


def _tensor_summary(detail):
    scale, zero_point = detail["quantization"]
    return {"dtype": np.dtype(detail["dtype"]).name, "shape": [int(size) for size in detail["shape"]],
            "scale": float(scale), "zero_point": int(zero_point)}


def delegation(interpreter):
    """(fully delegated, {op name: count} of the ops that XNNPACK left to the interpreter).

    The interpreter lists the model's original nodes and a DELEGATE node per
    partition; an original node belongs to a partition when it lies between the
    partition's inputs and outputs. Fully delegated: one partition, nothing left.
    """
    operators = interpreter._get_ops_details()
    delegates = [op for op in operators if op["op_name"] == "DELEGATE"]
    originals = [op for op in operators if op["op_name"] != "DELEGATE"]
    producer = {tensor: op["index"] for op in originals for tensor in op["outputs"]}
    by_index = {op["index"]: op for op in originals}
    inside = set()
    for partition in delegates:
        boundary = set(partition["inputs"].tolist())
        pending = list(partition["outputs"])
        while pending:
            tensor = pending.pop()
            node = producer.get(tensor)
            if tensor in boundary or node is None or node in inside:
                continue
            inside.add(node)
            pending.extend(by_index[node]["inputs"])
    leftover = collections.Counter(op["op_name"] for op in originals if op["index"] not in inside)
    return len(delegates) == 1 and not leftover, dict(leftover)


def random_inputs(interpreter, rng):
    """One random tensor per input of `interpreter`: the full range of an integer input, [-1, 1] for a float one."""
    tensors = []
    for detail in interpreter.get_input_details():
        dtype = detail["dtype"]
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            values = rng.integers(info.min, info.max, size=detail["shape"], endpoint=True)
        else:
            values = rng.uniform(-1, 1, size=detail["shape"])
        tensors.append(values.astype(dtype))
    return tensors


def fill_inputs(interpreter, rng):
    """Sets every input of `interpreter` to `random_inputs`."""
    for detail, values in zip(interpreter.get_input_details(), random_inputs(interpreter, rng)):
        interpreter.set_tensor(detail["index"], values)


def interpreter_for(path=None, content=None, num_threads=1):
    """A LiteRT interpreter of a .tflite file or bytes; a ValueError that says so when they are not a model."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        return Interpreter(model_path=path, model_content=content, num_threads=num_threads)
    except ValueError as error:
        where = f"{path}: " if path else ""
        raise ValueError(f"{where}not a valid .tflite model ({error}): truncated, or another format; export it again") from None


def quantize(values, detail):
    """Float values -> the tensor's dtype with its (scale, zero_point); float tensors pass through.

    Halves round up, floor(value / scale + zero_point + 0.5), as TensorFlow's fake quantization does in
    quantization-aware training: tfmfn's inputs, (pixel - 127.5) / 128 at scale 1/128, all sit on halves,
    and rounding them to even would give the model codes one step off what it trained on for half the
    pixel values. The app's FaceInput.quantize rounds the same way.

    >>> quantize(np.array([-1.5, -0.5, 0.5, 1.5], np.float32), {"dtype": np.int8, "quantization": (1.0, 0)})
    array([-1,  0,  1,  2], dtype=int8)
    """
    dtype = detail["dtype"]
    if dtype == np.float32:
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.floor(values / scale + zero_point + 0.5), info.min, info.max).astype(dtype)


def dequantize(values, detail):
    """A tensor's values as float32, undoing its (scale, zero_point) if it is quantised."""
    if detail["dtype"] == np.float32:
        return values
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale


def outputs_agree(expected, got):
    """(largest difference, allowed difference) between two lists of output tensors of one model run
    by two runtimes: `INT8_STEPS` for quantised outputs, `FLOAT_TOLERANCE` of the range for float ones.

    >>> outputs_agree([np.array([3, -2], np.int8)], [np.array([4, -2], np.int8)])
    (1.0, 1)
    """
    difference = max(float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) for a, b in zip(expected, got))
    quantized = all(np.issubdtype(tensor.dtype, np.integer) for tensor in expected)
    scale = max(float(np.abs(tensor).max()) for tensor in expected)
    return difference, INT8_STEPS if quantized else FLOAT_TOLERANCE * max(scale, 1.0)
