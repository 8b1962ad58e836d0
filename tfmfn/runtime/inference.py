"""The inference path: one runtime API for face embedders, Keras or TFLite: aligned RGB faces in, embeddings out.

`load_embedder(model)` accepts what `tfmfn.runtime.model_files.locate` does (a `.keras` /
`.h5` file, a SavedModel folder, a training `--model_dir`, an imported model's
folder, QAT weights) or the `ModelFiles` it gives, and any `.tflite` embedder: float,
int8 or uint8 input and output (quantised with the tensors' own scale and zero
point), any embedding size, dynamic or fixed batch (a fixed batch larger than
one is filled by padding the last chunk).

Importing this module imports neither tfmot nor training code: an app or a
service that embeds faces needs only tf_keras (for Keras models) or LiteRT.
Only QAT weights, which are rebuilt in tfmot's QAT form, load `tfmfn.quantize.qat`.

Example:

    >>> import numpy as np
    >>> from tfmfn import models
    >>> from tfmfn.runtime import inference
    >>> faces = np.zeros((3, 112, 112, 3), np.uint8)
    >>> inference.KerasEmbedder(models.build("mobilefacenet")).embed(faces).shape
    (3, 128)
"""

import os

import numpy as np

from tfmfn import models, preprocess  # noqa: F401  (models and heads register their layers for loading)
from tfmfn.models import heads  # noqa: F401
from tfmfn.runtime import litert, model_card, model_files
from tfmfn.runtime.model_files import NotAnEmbedderError


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
        inputs = preprocess.normalize(faces, self.normalization)
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
        self.name = os.path.basename(path)
        try:
            self.interpreter = litert.interpreter_for(path, num_threads=num_threads)
        except ValueError as error:
            raise NotAnEmbedderError(str(error)) from None
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
        self.interpreter.set_tensor(detail["index"], litert.quantize_values(inputs, detail))
        self.interpreter.invoke()
        output = self.interpreter.get_output_details()[0]
        return litert.dequantize_values(self.interpreter.get_tensor(output["index"]), output)[:count]


def load_keras_model(model, float_model=None):
    """A tf_keras model from a `.keras`/`.h5` file, a Keras SavedModel folder, or the QAT
    weights that `tfmfn.train --qat` exports (rebuilt from the float model they were
    fine-tuned from, which the model card beside them names: its LeakyReLU slopes are
    constants of the graph, not weights; `float_model` is that model where the caller has
    it loaded already); `model` is a path or a `ModelFiles`."""
    import tf_keras as keras
    model = model_files.locate(model)
    if model.kind == "tflite":
        raise NotAnEmbedderError(f"{model.path}: a .tflite file, not a Keras model; give the model it was converted from")
    if model.kind == "qat_weights":
        return _load_qat_weights(model, float_model)
    try:
        return keras.models.load_model(model.path, compile=False)
    except (OSError, ValueError) as error:
        raise NotAnEmbedderError(f"{model.path}: not a loadable Keras model ({str(error).splitlines()[0]})") from None


def float_model_path(model):
    """The float model that QAT weights (`model`: a `ModelFiles`) were fine-tuned from, as their card
    names it; NotAnEmbedderError when it is not there."""
    initial = (model.card or {}).get("training", {}).get("initial_weights")
    if not initial or not os.path.exists(initial):
        raise NotAnEmbedderError(
            f"{model.path}: QAT weights are rebuilt from the float model they were fine-tuned from, named in the "
            f"{model_card.CARD_FILE} beside them ({initial or 'none named'}); keep both"
        )
    return initial


def _load_qat_weights(model, float_model=None):
    from tfmfn.quantize import qat  # tfmot, only for a QAT model: the inference path does not import it otherwise

    if float_model is None:
        float_model = load_keras_model(float_model_path(model))
    fake_quantized = qat.freeze_batch_norm(qat.quantize_model(float_model))
    fake_quantized.load_weights(model.path)
    return fake_quantized


def load_embedder(model, num_threads=None, keras_model=None):
    """The `Embedder` of `model` (a path or `ModelFiles`: .tflite, .keras/.h5, SavedModel, model_dir),
    normalising pixels as its metadata or model card says; `keras_model` is the model already loaded
    from it, where the caller has one."""
    model = model_files.locate(model)
    if model.kind == "tflite":
        embedder = TFLiteEmbedder(model.path, num_threads)
    else:
        embedder = KerasEmbedder(keras_model or load_keras_model(model), name=model.name)
    embedder.normalization = model.normalization or embedder.normalization
    return embedder
