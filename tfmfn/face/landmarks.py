"""Five facial landmarks for alignment: MTCNN's output network (ONet) on BlazeFace's face box.

insightface aligned its training sets (MS1M, CASIA-WebFace) and its test sets (`lfw.bin`,
`agedb_30.bin`, `cfp_fp.bin`) with MTCNN's five landmarks (Zhang et al. 2016): eye centres,
nose tip and mouth corners, mapped by a similarity onto the template of `tfmfn.preprocess`.
Models trained on them expect faces placed that way. BlazeFace's keypoints are coarser (a
mouth centre, no corners) and cost the sirius MobileFaceNet 0.3 points of LFW (README).

tfmfn runs MTCNN's last stage, ONet (48x48 RGB, normalised as MobileFaceNet's input), on
BlazeFace's box:

| pass | box                                            | ONet gives                         |
|------|------------------------------------------------|------------------------------------|
| 1    | BlazeFace's box, made square about its centre  | a box correction, 5 points, score  |
| 2    | pass 1's corrected box, made square            | the 5 points used for alignment    |

The second pass looks at the face as MTCNN's own cascade hands it to ONet (a box that ONet
itself corrected), which measured best on LFW of the candidates tried (README, "LFW's 6,000
pairs, from the photos").
The crop is a warp of the photo through `box_matrix`, the same bilinear warp that aligns
faces, so the Android app makes it with the code it already has.

The weights are those of the PyPI package `mtcnn` (MIT; converted from the authors' Caffe
models, MIT). tfmfn reads the package's `onet.lz4` with a reader that accepts only arrays
(the file is a joblib pickle: no code in it is run), builds ONet in tf_keras once and keeps
it as a `.tflite` file in `cache_folder()`, which LiteRT runs here and in the app.

Example:

    >>> from tfmfn import align
    >>> from tfmfn.face import landmarks
    >>> image = align.load_image("tests/data/obama.jpg")
    >>> face = align.FaceDetector(landmarks=False).detect(image)[0]
    >>> found = landmarks.Landmarker().locate(image, face.box)
    >>> found.points.shape, bool(found.score > 0.99)
    ((5, 2), True)
"""

import dataclasses
import hashlib
import importlib.util
import io
import os
import pickle
import struct

import numpy as np

from tfmfn import preprocess, storage

INPUT_SIDE = 48
"""ONet's input: a 48x48 RGB crop."""

PASSES = 2
"""ONet passes: each on the box that the previous one corrected (the first on the detector's)."""

WEIGHTS_FILE = os.path.join("assets", "weights", "onet.lz4")
"""ONet's weights inside the installed `mtcnn` package."""

_ONET_LAYERS = (
    # (filters, kernel, pool size, pool stride, pool padding), each conv followed by a PReLU
    (32, 3, 3, 2, "same"),
    (64, 3, 3, 2, "valid"),
    (64, 3, 2, 2, "same"),
    (128, 2, None, None, None),
)


class WeightsError(ValueError):
    """A weights file that is not ONet's arrays (damaged, another version, or code in a pickle)."""


@dataclasses.dataclass(frozen=True)
class Landmarks:
    """Five points (x, y) in image pixels: the subject's right eye (image left), left eye, nose
    tip, right and left mouth corners; the box ONet's last pass looked at; its face score."""

    points: np.ndarray
    box: np.ndarray
    score: float


def weights_path():
    """Path of ONet's weights in the installed `mtcnn` package."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the landmark model's weights come with the package mtcnn: pip install mtcnn==1.0.0")
    return os.path.join(spec.submodule_search_locations[0], WEIGHTS_FILE)


class _ArrayHeader:
    """What joblib pickles in place of an array: its shape, dtype and order; the bytes follow."""

    def read(self, stream):
        alignment = getattr(self, "numpy_array_alignment_bytes", None)
        if alignment is not None:
            stream.read(stream.read(1)[0])
        dtype = np.dtype(self.dtype)
        if dtype.hasobject:
            raise WeightsError("an object array in place of weights")
        count = int(np.prod(self.shape, dtype=np.int64))
        data = stream.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise WeightsError("the file ends inside an array")
        array = np.frombuffer(data, dtype).copy()
        return array.reshape(self.shape[::-1]).T if self.order == "F" else array.reshape(self.shape)


class _ArraysOnly(pickle._Unpickler):
    """joblib's pickle format, restricted to arrays: any other global refuses the file."""

    _allowed = {
        ("joblib.numpy_pickle", "NumpyArrayWrapper"): _ArrayHeader,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, stream):
        super().__init__(stream)
        self.stream = stream

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        raise WeightsError(f"the pickle asks for {module}.{name}, which weights never contain; nothing was run")

    def load_build(self):
        pickle._Unpickler.load_build(self)
        if isinstance(self.stack[-1], _ArrayHeader):
            self.stack[-1] = self.stack[-1].read(self.stream)

    dispatch[pickle.BUILD[0]] = load_build


def read_weights(path):
    """ONet's arrays from a joblib `.lz4` (or uncompressed) file, in Keras layer order."""
    import lz4.frame

    try:
        with open(path, "rb") as stream:
            content = stream.read()
        if content[:4] == b"\x04\x22\x4d\x18":  # an LZ4 frame
            content = lz4.frame.decompress(content)
        arrays = _ArraysOnly(io.BytesIO(content)).load()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file; reinstall the package mtcnn==1.0.0") from None
    except (WeightsError, pickle.UnpicklingError, RuntimeError, EOFError, IndexError, KeyError, TypeError, ValueError,
            AttributeError, struct.error) as error:
        raise WeightsError(f"{path}: not ONet's weights ({error}); reinstall the package mtcnn==1.0.0") from None
    if not isinstance(arrays, list) or not all(isinstance(array, np.ndarray) for array in arrays):
        raise WeightsError(f"{path}: not a list of arrays; reinstall the package mtcnn==1.0.0")
    return arrays


def build_onet(weights=None):
    """ONet as a tf_keras model: 48x48x3 -> (box correction (4,), points (10,), face probability (2,)).

    Points are (x1..x5, y1..y5) in units of the input box. `weights`: ONet's arrays (default:
    the installed package's)."""
    import tf_keras as keras

    layers = keras.layers
    inputs = keras.Input((INPUT_SIDE, INPUT_SIDE, 3), name="face")
    x = inputs
    for filters, kernel, pool, stride, padding in _ONET_LAYERS:
        x = layers.Conv2D(filters, kernel)(x)
        x = layers.PReLU(shared_axes=[1, 2])(x)
        if pool:
            x = layers.MaxPooling2D(pool, stride, padding=padding)(x)
    # The Caffe weights flatten the last map column by column.
    x = layers.Flatten()(layers.Permute((2, 1, 3))(x))
    x = layers.PReLU()(layers.Dense(256)(x))
    outputs = [
        layers.Dense(4, name="box")(x),
        layers.Dense(10, name="points")(x),
        layers.Dense(2, activation="softmax", name="score")(x),
    ]
    model = keras.Model(inputs, outputs, name="mtcnn_onet")
    arrays = read_weights(weights_path()) if weights is None else weights
    try:
        model.set_weights(arrays)
    except ValueError as error:
        raise WeightsError(f"ONet's weights do not fit its layers ({error}); reinstall the package mtcnn==1.0.0") from None
    return model


def cache_folder():
    """Where the ONet `.tflite` is kept: `$TFMFN_CACHE`, else `~/.cache/tfmfn`."""
    return os.environ.get("TFMFN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tfmfn")


def model_path():
    """The ONet `.tflite` made from the installed weights (made once, named by their SHA-256)."""
    source = weights_path()
    with open(source, "rb") as stream:
        digest = hashlib.sha256(stream.read()).hexdigest()[:16]
    path = os.path.join(cache_folder(), f"mtcnn_onet_{digest}.tflite")
    if not os.path.exists(path):
        write_tflite(path)
    return path


def write_tflite(path):
    """Writes ONet as a float32 `.tflite` (outputs in the order box, points, score); the file appears
    whole (`storage.write_bytes`: processes making it at once each write their own partial file)."""
    import tensorflow as tf

    content = tf.lite.TFLiteConverter.from_keras_model(build_onet()).convert()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    storage.write_bytes(path, content)
    return path


def square_box(box):
    """(x0, y0, side): the square with `box`'s centre and its longer side."""
    x0, y0, x1, y1 = (float(value) for value in box)
    side = max(x1 - x0, y1 - y0, 1.0)
    return (x0 + x1 - side) / 2, (y0 + y1 - side) / 2, side


def box_matrix(box, size=INPUT_SIDE):
    """The 2x3 matrix that maps the square about `box` onto a `size` x `size` crop."""
    x0, y0, side = square_box(box)
    scale = size / side
    return np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])


def decode(outputs, box):
    """ONet's raw outputs for the square about `box` -> (points (5, 2), corrected box (4,)) in pixels."""
    corrections, points = (np.asarray(output, np.float64).ravel() for output in outputs[:2])
    x0, y0, side = square_box(box)
    pixels = np.stack([x0 + points[:5] * side, y0 + points[5:] * side], axis=1)
    corrected = np.array([x0, y0, x0 + side, y0 + side]) + corrections * side
    return pixels, corrected


class Landmarker:
    """ONet through LiteRT: `locate(rgb_uint8, box)` gives the face's five `Landmarks`."""

    def __init__(self, path=None, passes=PASSES, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter

        if passes < 1:
            raise ValueError(f"ONet passes must be at least 1, got {passes}")
        self.passes = passes
        self.interpreter = Interpreter(path or model_path(), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        by_size = {int(detail["shape"][-1]): detail["index"] for detail in self.interpreter.get_output_details()}
        self._outputs = [by_size[4], by_size[10], by_size[2]]

    def raw_outputs(self, crop):
        """ONet on one 48x48 RGB uint8 crop: (box correction (4,), points (10,), face probability)."""
        model_input = preprocess.normalize(np.asarray(crop, np.float32))
        self.interpreter.set_tensor(self._input, model_input[None])
        self.interpreter.invoke()
        box, points, score = (self.interpreter.get_tensor(index)[0] for index in self._outputs)
        return box, points, float(score[1])

    def crop(self, image, box):
        """The 48x48 ONet input for the square about `box` (bilinear, black outside the photo)."""
        import cv2

        return cv2.warpAffine(image, box_matrix(box), (INPUT_SIDE, INPUT_SIDE), flags=cv2.INTER_LINEAR, borderValue=0)

    def passes_on(self, image, box):
        """Every pass, in order, as (box looked at, 48x48 crop, raw outputs (box correction, points, score))."""
        passes = []
        for _ in range(self.passes):
            crop = self.crop(image, box)
            outputs = self.raw_outputs(crop)
            passes.append((np.asarray(box, np.float64), crop, outputs))
            box = decode(outputs, box)[1]
        return passes

    def locate(self, image, box):
        """The five landmarks of the face in `box` (x0, y0, x1, y1) of an RGB uint8 image."""
        looked_at, _, outputs = self.passes_on(image, box)[-1]
        return Landmarks(decode(outputs, looked_at)[0], looked_at, outputs[2])
