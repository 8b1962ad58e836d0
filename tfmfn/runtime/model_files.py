"""A model as the tools find it on disk, resolved once: which file, what kind, its card and metadata.

A user names a model in many ways: a training run folder (`--model_dir`, whose
`export/` holds the embedder), that `export/` folder, an imported model's
folder (`tfmfn.port`), a `.keras` / `.h5` file, the QAT weights that a QAT run
exports, a SavedModel folder or a `.tflite` file. `locate(path)` turns any of
them into one `ModelFiles`, reading the model card (and a `.tflite` file's
metadata) once; convert, evaluate, distill, android and the demo pass that
object down instead of the path.

Example:

    >>> import tempfile, tf_keras as keras
    >>> from tfmfn import models
    >>> folder = tempfile.mkdtemp()
    >>> models.build("mobilefacenet").save(f"{folder}/embedder.keras")
    >>> model = locate(folder)
    >>> model.kind, os.path.basename(model.path), model.card is None
    ('keras', 'embedder.keras', True)
"""

import dataclasses
import os

from tfmfn.runtime import litert, model_card

EXPORT_FOLDER = "export"
EXPORT_MODEL = "embedder.keras"
EXPORT_QAT_WEIGHTS = "qat_embedder.weights.h5"
KINDS = ("tflite", "keras", "qat_weights", "saved_model")


class NotAnEmbedderError(ValueError):
    """A model whose inputs or outputs are not those of a face embedder, or no model at all."""


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """One model on disk: `path` is the file (or SavedModel folder) to load, `kind` one of KINDS,
    `card` its model card and `metadata` a .tflite file's tfmfn metadata (None where absent)."""

    path: str
    kind: str
    card: dict = None
    metadata: dict = None

    @property
    def name(self):
        return os.path.basename(os.path.normpath(self.path))

    @property
    def normalization(self):
        """(mean, scale) that the metadata or the card gives, or None when neither says."""
        described = (self.metadata or self.card or {}).get("normalization")
        return (float(described["mean"]), float(described["scale"])) if described else None

    @property
    def run_folder(self):
        """The folder that holds the model: the training run (or import) folder for a model in its `export/`."""
        folder = os.path.dirname(os.path.abspath(self.path))
        return os.path.dirname(folder) if os.path.basename(folder) == EXPORT_FOLDER else folder

def locate(path):
    """The `ModelFiles` of what `path` names (returned as is when it already is one)."""
    if isinstance(path, ModelFiles):
        return path
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such model; give a .tflite, .keras, .h5, SavedModel folder or model_dir")
    if os.path.isdir(path):
        path = _model_in_folder(path)
    if path.endswith(".tflite"):
        try:
            litert.interpreter_for(path)  # a truncated or foreign file fails here, saying so
        except ValueError as error:
            raise NotAnEmbedderError(str(error)) from None
        return ModelFiles(path, "tflite", model_card.read_card(path), litert.read_metadata(path))
    kind = "qat_weights" if os.path.basename(path) == EXPORT_QAT_WEIGHTS else "saved_model" if os.path.isdir(path) else "keras"
    return ModelFiles(path, kind, model_card.read_card(path))


def _model_in_folder(folder):
    for candidate in (os.path.join(folder, EXPORT_FOLDER), folder):
        for name in (EXPORT_MODEL, EXPORT_QAT_WEIGHTS):
            if os.path.exists(os.path.join(candidate, name)):
                return os.path.join(candidate, name)
    if not os.path.exists(os.path.join(folder, "saved_model.pb")):
        raise NotAnEmbedderError(f"{folder}: a folder but neither a SavedModel nor a training model_dir with {EXPORT_FOLDER}/")
    return folder
