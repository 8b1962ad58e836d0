"""What a pretrained model file computes, read as a list of layers: the first step of `tfmfn.port`.

`read_source(path)` reads a `.tflite` (through TensorFlow's flatbuffer schema) or
an `.onnx` file (through the onnx package) into a `SourceModel`: its convolutions
with BatchNorm folded in (kernels in Keras's layout, biases, strides, padding),
their activations (PReLU in any of the forms the port's docstring lists) and the
residual adds, in the order the file computes them. Anything it does not know
gets a `PortError` that says what was found and what was expected.

Example (a zoo model written as float32 .tflite, read back):

    >>> import tempfile
    >>> from tfmfn import convert, models
    >>> path = tempfile.mkdtemp() + "/model.tflite"
    >>> with open(path, "wb") as stream:
    ...     _ = stream.write(convert.convert_keras(models.build("mobilefacenet"), "float32"))
    >>> source = read_source(path)
    >>> source.format, source.input_shape, source.layers[0].describe()
    ('tflite', (112, 112, 3), 'conv 3x3 3->64 stride 2 same, prelu')
"""

import dataclasses
import os

import numpy as np

FORMATS = (".tflite", ".onnx")


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


def onnx_module(name):
    """The onnx or onnxruntime package, or a PortError that says how to install it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise PortError(f"importing .onnx files needs the {name} package: pip install -r requirements.txt "
                        "(or pip install 'tfmfn[onnx]')") from None


def _read_onnx(path):
    onnx = onnx_module("onnx")
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
