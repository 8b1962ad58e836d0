"""One runtime API for face embedders, Keras or TFLite: aligned RGB faces in, embeddings out.

`load_embedder(path)` accepts a `.keras` / `.h5` file, a SavedModel folder, a
training `--model_dir` (its `export/` is used) or any `.tflite` embedder: float,
int8 or uint8 input and output (quantised with the tensors' own scale and zero
point), any embedding size, dynamic or fixed batch (a fixed batch larger than
one is filled by padding the last chunk).

Example:

    >>> import numpy as np
    >>> from tfmfn import embedder, models
    >>> faces = np.zeros((3, 112, 112, 3), np.uint8)
    >>> embedder.KerasEmbedder(models.build("mobilefacenet")).embed(faces).shape
    (3, 128)
"""

import os

import numpy as np

from tfmfn import preprocess

EXPORT_FOLDER = "export"
EXPORT_MODEL = "embedder.keras"
EXPORT_QAT_WEIGHTS = "qat_embedder.weights.h5"


class NotAnEmbedderError(ValueError):
    """A model whose inputs or outputs are not those of a face embedder."""


class Embedder:
    """Base: subclasses set `input_size`, `embedding_size` and implement `_run(float batch)`;
    `normalization` is the (mean, scale) that pixels are normalised with, tfmfn's unless the
    model card or metadata says otherwise (an imported model's)."""

    name = "embedder"
    batch_size = 64
    normalization = (preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE)

    def embed(self, faces):
        """Embeddings (N, D) float32 of aligned RGB faces (N, H, W, 3), uint8 pixels in [0, 255]."""
        faces = np.asarray(faces)
        if faces.ndim != 4 or tuple(faces.shape[1:]) != (*self.input_size, 3):
            raise ValueError(
                f"{self.name} takes faces of {self.input_size[0]}x{self.input_size[1]}x3, got array of shape "
                f"{faces.shape}; align or resize the images to the model's input size"
            )
        mean, scale = self.normalization
        inputs = ((faces.astype(np.float32) - mean) / scale).astype(np.float32)
        chunks = [self._run(inputs[start : start + self.batch_size]) for start in range(0, len(inputs), self.batch_size)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, self.embedding_size), np.float32)


class KerasEmbedder(Embedder):
    """A tf_keras embedding model (one image input, one (batch, D) output)."""

    def __init__(self, model, name=None, normalization=None):
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise NotAnEmbedderError(
                f"{name or model.name}: an embedder has one image input and one embedding output, this model has "
                f"{len(model.inputs)} inputs and {len(model.outputs)} outputs (a training model with a head?)"
            )
        input_shape, output_shape = model.input_shape, model.output_shape
        if len(input_shape) != 4 or input_shape[-1] != 3 or None in input_shape[1:3] or len(output_shape) != 2:
            raise NotAnEmbedderError(
                f"{name or model.name}: expected input (batch, H, W, 3) and output (batch, D), got {input_shape} -> {output_shape}"
            )
        import tensorflow as tf

        self.model = model
        self.name = name or model.name
        self.normalization = tuple(normalization or self.normalization)
        self.input_size = tuple(input_shape[1:3])
        self.embedding_size = output_shape[-1]
        signature = [tf.TensorSpec([None, *self.input_size, 3], tf.float32)]
        self._infer = tf.function(lambda inputs: model(inputs, training=False), input_signature=signature)

    def _run(self, inputs):
        return self._infer(inputs).numpy()


class TFLiteEmbedder(Embedder):
    """A `.tflite` embedder run with LiteRT (XNNPACK), any input and output quantisation."""

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self.name = os.path.basename(path)
        try:
            self.interpreter = Interpreter(model_path=path, num_threads=num_threads)
        except ValueError as error:
            raise NotAnEmbedderError(f"{path}: not a readable .tflite model ({error})") from None
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise NotAnEmbedderError(f"{path}: an embedder has one input and one output, this has {len(inputs)} and {len(outputs)}")
        shape = inputs[0]["shape"]
        if len(shape) != 4 or shape[-1] != 3 or len(outputs[0]["shape"]) != 2:
            raise NotAnEmbedderError(
                f"{path}: expected input (batch, H, W, 3) and output (batch, D), got {shape.tolist()} -> "
                f"{outputs[0]['shape'].tolist()}"
            )
        self.input_size = (int(shape[1]), int(shape[2]))
        self.embedding_size = int(outputs[0]["shape"][-1])
        self.fixed_batch = int(shape[0])
        self.dynamic_batch = int(inputs[0]["shape_signature"][0]) == -1
        if not self.dynamic_batch:
            self.batch_size = self.fixed_batch
        self.interpreter.allocate_tensors()
        self.current_batch = self.fixed_batch

    def _input_detail(self):
        return self.interpreter.get_input_details()[0]

    def _run(self, inputs):
        count = len(inputs)
        if self.dynamic_batch and count != self.current_batch:
            self.interpreter.resize_tensor_input(self._input_detail()["index"], [count, *self.input_size, 3])
            self.interpreter.allocate_tensors()
            self.current_batch = count
        elif not self.dynamic_batch and count < self.fixed_batch:
            inputs = np.concatenate([inputs, np.zeros((self.fixed_batch - count, *inputs.shape[1:]), inputs.dtype)])
        detail = self._input_detail()
        self.interpreter.set_tensor(detail["index"], quantize(inputs, detail))
        self.interpreter.invoke()
        output = self.interpreter.get_output_details()[0]
        return dequantize(self.interpreter.get_tensor(output["index"]), output)[:count]


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


def load_keras_model(path):
    """A tf_keras model from a `.keras`/`.h5` file, a Keras SavedModel folder, or the QAT
    weights that `tfmfn.train --qat` exports (rebuilt from the float model they were
    fine-tuned from, which the model card beside them names: its LeakyReLU slopes are
    constants of the graph, not weights)."""
    import tf_keras as keras

    from tfmfn import heads, model_card, models, quantize  # noqa: F401  (registers tfmfn's layers for loading)

    if os.path.basename(path) == EXPORT_QAT_WEIGHTS:
        card = model_card.read_card(path)
        initial = (card or {}).get("training", {}).get("initial_weights")
        if not initial or not os.path.exists(initial):
            raise NotAnEmbedderError(
                f"{path}: QAT weights are rebuilt from the float model they were fine-tuned from, named in the "
                f"{model_card.CARD_FILE} beside them ({initial or 'none named'}); keep both"
            )
        model = quantize.freeze_batch_norm(quantize.quantize_model(load_keras_model(initial)))
        model.load_weights(path)
        return model
    try:
        with quantize.quantize_scope():
            return keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as error:
        raise NotAnEmbedderError(f"{path}: not a loadable Keras model ({str(error).splitlines()[0]})") from None


def resolve_model_path(path):
    """The model file that `path` names: itself, or the embedder in a model_dir or its export/ folder."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such model; give a .tflite, .keras, .h5, SavedModel folder or model_dir")
    for folder in (os.path.join(path, EXPORT_FOLDER), path):
        for name in (EXPORT_MODEL, EXPORT_QAT_WEIGHTS):
            if os.path.isdir(path) and os.path.exists(os.path.join(folder, name)):
                return os.path.join(folder, name)
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise NotAnEmbedderError(f"{path}: a folder but neither a SavedModel nor a training model_dir with {EXPORT_FOLDER}/")
    return path


def normalization_of(path):
    """(mean, scale) of the model at `path` from its .tflite metadata or model card; None when neither says."""
    from tfmfn import model_card

    if path.endswith(".tflite"):
        from tfmfn.convert import read_metadata

        described = (read_metadata(path) or {}).get("normalization")
    else:
        described = (model_card.read_card(path) or {}).get("normalization")
    return (float(described["mean"]), float(described["scale"])) if described else None


def load_embedder(path, num_threads=None):
    """The `Embedder` for a .tflite file, a .keras/.h5 file, a SavedModel or a training model_dir,
    normalising pixels as its metadata or model card says."""
    path = resolve_model_path(path)
    if path.endswith(".tflite"):
        model = TFLiteEmbedder(path, num_threads)
    else:
        model = KerasEmbedder(load_keras_model(path), name=os.path.basename(os.path.normpath(path)))
    model.normalization = normalization_of(path) or model.normalization
    return model
