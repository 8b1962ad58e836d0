"""LiteRT utilities that every tool running or writing `.tflite` files shares.

Loading an interpreter with an error that says what is wrong (`interpreter_for`),
tfmfn's metadata inside the flatbuffer (`add_metadata`, `read_metadata`; the dict
itself is `tfmfn.runtime.model_card.tflite_metadata`) and TFLite's own entry made from it
(`add_standard_metadata`, `read_standard_metadata`), a uint8 input whose codes are
the pixels themselves (`pixel_input`), what a file holds and how much of it XNNPACK runs (`analyse`,
`delegation`), quantising values to a tensor's own scale and zero point
(`quantize_values`, `dequantize_values`), random inputs for timing and parity runs
(`random_inputs`) and the rule by which two runtimes' outputs agree
(`output_difference`). It imports LiteRT and TensorFlow's flatbuffer schema only
inside the functions that need them, and no tfmfn module that imports TensorFlow.

Example:

    >>> from tfmfn import convert, models
    >>> from tfmfn.runtime import litert
    >>> tflite = convert.convert_keras(models.build("mobilefacenet"), "float32")
    >>> tflite = litert.add_metadata(tflite, {"embedding_size": 128})
    >>> litert.read_metadata(tflite)["embedding_size"]
    128
    >>> litert.analyse(tflite)["ops"]["CONV_2D"]
    33
    >>> metadata = {"model": "mobilefacenet", "input_size": [112, 112], "embedding_size": 128,
    ...             "normalization": {"mean": 127.5, "scale": 128.0}}
    >>> litert.read_standard_metadata(litert.add_standard_metadata(tflite, metadata))["input"]["std"]
    [128.0]
"""

import collections
import json

import numpy as np

METADATA_NAME = "tfmfn"
STANDARD_METADATA_NAME = "TFLITE_METADATA"
"""TFLite's own metadata entry (tensorflow/tflite-support's metadata_schema.fbs), which MediaPipe reads."""
_CONTENT_TYPES = {1: "feature", 2: "image"}
_COLOR_SPACES = {0: "unknown", 1: "RGB", 2: "grayscale"}
_NORMALIZATION_OPTIONS = 1
_MIN_PARSER_VERSION = "1.0.0"
INT8_STEPS = 1  # quantised outputs of two runtimes agree within this many steps (requantisation rounds ties apart)
FLOAT_TOLERANCE = 1e-4  # float outputs agree within this fraction of their range (kernels sum in another order)


def add_metadata(tflite, metadata):
    """`tflite` bytes with `metadata` (a JSON-able dict) stored as the model's "tfmfn" metadata entry."""
    return _with_entry(tflite, METADATA_NAME, json.dumps(metadata, sort_keys=True).encode())


def read_metadata(tflite):
    """The tfmfn metadata dict of a .tflite file (path or bytes), or None when it has none."""
    data = _entry(tflite, METADATA_NAME)
    return None if data is None else json.loads(data)


def add_standard_metadata(tflite, metadata):
    """`tflite` bytes with TFLite's own metadata entry (`TFLITE_METADATA`, metadata_schema.fbs), made
    from tfmfn's `metadata`: an RGB image input of the model's size with its NormalizationOptions, and
    a feature-vector output. MediaPipe's ImageEmbedder and other LiteRT tools read the input
    convention from it."""
    return _with_entry(tflite, STANDARD_METADATA_NAME, _standard_metadata(metadata))


def read_standard_metadata(tflite):
    """What `add_standard_metadata` wrote, read back from a .tflite file (path or bytes): {"name",
    "input": {"content", "color_space", "width", "height", "mean", "std"}, "output": {"content"}};
    None when the file has no such entry."""
    import flatbuffers

    data = _entry(tflite, STANDARD_METADATA_NAME)
    if data is None:
        return None
    if not flatbuffers.util.BufferHasIdentifier(data, 0, b"M001"):
        raise ValueError(f"{STANDARD_METADATA_NAME} is not a metadata_schema.fbs buffer (file identifier M001)")
    model = _Table(bytearray(data), flatbuffers.encode.Get(flatbuffers.packer.uoffset, data, 0))
    subgraph = model.tables(3)[0]
    image, output_content = subgraph.tables(2)[0], subgraph.tables(3)[0].table(3)
    image_content, normalization = image.table(3), image.tables(4)[0].table(1)
    image_properties = image_content.table(1)
    size = image_properties.table(1)
    return {
        "name": model.string(0),
        "input": {"content": _CONTENT_TYPES[image_content.scalar(0, "Uint8")],
                  "color_space": _COLOR_SPACES[image_properties.scalar(0, "Int8")],
                  "width": size.scalar(0, "Uint32"), "height": size.scalar(1, "Uint32"),
                  "mean": normalization.floats(0), "std": normalization.floats(1)},
        "output": {"content": _CONTENT_TYPES[output_content.scalar(0, "Uint8")]},
    }


def _standard_metadata(metadata):
    """The metadata_schema.fbs flatbuffer (ModelMetadata, file identifier M001) of tfmfn's `metadata`.
    Fields go in by their slot in the schema; a union takes two slots, its type and its table."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)

    def table(*fields):
        """A table from (slot, kind, value) fields: kind "offset" for tables, strings and vectors."""
        builder.StartObject(max((slot for slot, _, _ in fields), default=-1) + 1)
        for slot, kind, value in fields:
            if kind == "offset":
                builder.PrependUOffsetTRelativeSlot(slot, value, 0)
            else:
                getattr(builder, f"Prepend{kind}Slot")(slot, value, 0)
        return builder.EndObject()

    def vector(values, kind):
        builder.StartVector(4, len(values), 4)
        prepend = builder.PrependUOffsetTRelative if kind == "offset" else builder.PrependFloat32
        for value in reversed(values):
            prepend(value)
        return builder.EndVector()

    height, width = metadata["input_size"]
    mean, std = float(metadata["normalization"]["mean"]), float(metadata["normalization"]["scale"])
    names = {key: builder.CreateString(text) for key, text in {
        "model": metadata["model"], "image": "image", "embedding": "embedding",
        "description": f"Face embedder: an aligned {width}x{height} RGB face in, a {metadata['embedding_size']}-d "
                       "embedding out (compare L2-normalised embeddings); written by tfmfn",
        "image_description": f"Aligned face, RGB, {width}x{height}, pixels normalised as (p - {mean:g}) / {std:g}",
        "embedding_description": f"{metadata['embedding_size']}-d face embedding",
        "min_parser_version": _MIN_PARSER_VERSION, "author": "tfmfn",
    }.items()}
    image_size = table((0, "Uint32", width), (1, "Uint32", height))
    image_properties = table((0, "Int8", 1), (1, "offset", image_size))  # color space RGB
    image_content = table((0, "Uint8", 2), (1, "offset", image_properties))  # ContentProperties.ImageProperties
    normalization = table((0, "offset", vector([mean], "float")), (1, "offset", vector([std], "float")))
    process_unit = table((0, "Uint8", _NORMALIZATION_OPTIONS), (1, "offset", normalization))
    image = table((0, "offset", names["image"]), (1, "offset", names["image_description"]),
                  (3, "offset", image_content), (4, "offset", vector([process_unit], "offset")))
    feature_content = table((0, "Uint8", 1), (1, "offset", table()))  # ContentProperties.FeatureProperties
    embedding = table((0, "offset", names["embedding"]), (1, "offset", names["embedding_description"]),
                      (3, "offset", feature_content))
    subgraph = table((2, "offset", vector([image], "offset")), (3, "offset", vector([embedding], "offset")))
    model = table((0, "offset", names["model"]), (1, "offset", names["description"]),
                  (3, "offset", vector([subgraph], "offset")), (4, "offset", names["author"]),
                  (7, "offset", names["min_parser_version"]))
    builder.Finish(model, file_identifier=b"M001")
    return bytes(builder.Output())


class _Table:
    """Reads a flatbuffer table's fields by their slot in the schema."""

    def __init__(self, data, position):
        import flatbuffers

        self.flat = flatbuffers.table.Table(data, position)

    def _position(self, slot):
        offset = self.flat.Offset(4 + 2 * slot)
        if not offset:
            raise ValueError(f"{STANDARD_METADATA_NAME}: field {slot} of a table is missing")
        return self.flat.Pos + offset

    def scalar(self, slot, kind):
        import flatbuffers

        return self.flat.Get(getattr(flatbuffers.number_types, f"{kind}Flags"), self._position(slot))

    def string(self, slot):
        return self.flat.String(self._position(slot)).decode()

    def table(self, slot):
        return _Table(self.flat.Bytes, self.flat.Indirect(self._position(slot)))

    def _vector(self, slot):
        relative = self._position(slot) - self.flat.Pos
        return self.flat.Vector(relative), self.flat.VectorLen(relative)

    def tables(self, slot):
        start, length = self._vector(slot)
        return [_Table(self.flat.Bytes, self.flat.Indirect(start + 4 * index)) for index in range(length)]

    def floats(self, slot):
        import flatbuffers

        start, length = self._vector(slot)
        return [self.flat.Get(flatbuffers.number_types.Float32Flags, start + 4 * index) for index in range(length)]


def _with_entry(tflite, name, data):
    """`tflite` bytes with `data` (bytes) as its metadata entry `name`, replacing one of that name."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    model.metadata = [entry for entry in (model.metadata or []) if entry.name.decode() != name]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(data, np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def with_signature(tflite, input_names, output_names, key="serving_default"):
    """`tflite` bytes with one SignatureDef, `key`, naming its first subgraph's inputs and outputs."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = key, 0
    for side, names in (("inputs", input_names), ("outputs", output_names)):
        indices = getattr(model.subgraphs[0], side)
        if len(names) != len(indices):
            raise ValueError(f"{len(names)} names for {len(indices)} tensors: {', '.join(names)}")
        maps = [schema.TensorMapT() for _ in names]
        for tensor_map, name, index in zip(maps, names, indices):
            tensor_map.name, tensor_map.tensorIndex = name, int(index)
        setattr(signature, side, maps)
    model.signatureDefs = [signature]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _entry(tflite, name):
    """The bytes of metadata entry `name` of a .tflite file (path or bytes), or None."""
    from tensorflow.lite.python import schema_py_generated as schema

    if isinstance(tflite, str):
        with open(tflite, "rb") as stream:
            tflite = stream.read()
    model = schema.Model.GetRootAsModel(tflite, 0)
    for index in range(model.MetadataLength()):
        entry = model.Metadata(index)
        if entry.Name().decode() == name:
            return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return None


def pixel_input(tflite, normalization):
    """(`tflite`, True) with its uint8 input's zero point moved so that pixel p is code p, when the network
    then gets exactly the codes it had (input scale 1 / `normalization`'s scale); (`tflite`, False) otherwise.
    QAT quantises (p - 127.5) / 128 to p + 1 (halves round up), so the converter's zero point 128 asks
    for pixel + 1, which no runtime that feeds raw pixels (MediaPipe) gives; at 127 the QUANTIZE op behind
    the input makes the same int8 codes from the raw pixel, and the outputs are unchanged bit for bit."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    tensor = model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]]
    quantization = tensor.quantization
    if tensor.type != schema.TensorType.UINT8 or quantization is None or len(quantization.scale) != 1:
        return tflite, False
    pixels = np.arange(256)
    zero_point = int(quantization.zeroPoint[0])
    codes = quantize_values((pixels - normalization[0]) / normalization[1], {
        "dtype": np.uint8, "quantization": (float(quantization.scale[0]), zero_point)}).astype(int)
    if not np.array_equal(codes, np.clip(pixels + codes[0], 0, 255)):
        return tflite, False
    quantization.zeroPoint = np.array([zero_point - codes[0]], np.int64)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), True


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
        "ops": dict(sorted(ops.items())), "float_ops": dict(sorted(float_ops.items())),
        "input": _tensor_summary(plain.get_input_details()[0]), "output": _tensor_summary(plain.get_output_details()[0]),
        "fully_delegated": fully_delegated, "ops_outside_xnnpack": leftover,
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


def random_tensor(detail, rng, count=None):
    """A random tensor for an input of LiteRT's `detail` (`count` of them on the batch axis when given):
    the full range of an integer input, [-1, 1] (tfmfn's normalised pixels) for a float one."""
    shape = tuple(detail["shape"]) if count is None else (count, *detail["shape"][1:])
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, endpoint=True)
    else:
        values = rng.uniform(-1, 1, size=shape)
    return values.astype(dtype)


def random_inputs(interpreter, rng):
    """One `random_tensor` per input of `interpreter`."""
    return [random_tensor(detail, rng) for detail in interpreter.get_input_details()]


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


def quantize_values(values, detail):
    """Float values -> the tensor's dtype with its (scale, zero_point); float tensors pass through.

    Halves round up, floor(value / scale + zero_point + 0.5), as TensorFlow's fake quantization does in
    quantization-aware training: tfmfn's inputs, (pixel - 127.5) / 128 at scale 1/128, all sit on halves,
    and rounding them to even would give the model codes one step off what it trained on for half the
    pixel values. The app's FaceInput.quantize rounds the same way.

    >>> quantize_values(np.array([-1.5, -0.5, 0.5, 1.5], np.float32), {"dtype": np.int8, "quantization": (1.0, 0)})
    array([-1,  0,  1,  2], dtype=int8)
    """
    dtype = detail["dtype"]
    if dtype == np.float32:
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.floor(values / scale + zero_point + 0.5), info.min, info.max).astype(dtype)


def dequantize_values(values, detail):
    """A tensor's values as float32, undoing its (scale, zero_point) if it is quantised."""
    if detail["dtype"] == np.float32:
        return values
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale


def output_difference(expected, got):
    """(largest difference, allowed difference) between two lists of output tensors of one model run
    by two runtimes: `INT8_STEPS` for quantised outputs, `FLOAT_TOLERANCE` of the range for float ones.

    >>> output_difference([np.array([3, -2], np.int8)], [np.array([4, -2], np.int8)])
    (1.0, 1)
    """
    difference = max(float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) for a, b in zip(expected, got))
    quantized = all(np.issubdtype(tensor.dtype, np.integer) for tensor in expected)
    scale = max(float(np.abs(tensor).max()) for tensor in expected)
    return difference, INT8_STEPS if quantized else FLOAT_TOLERANCE * max(scale, 1.0)
