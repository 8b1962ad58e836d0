"""The model card: what an exported embedder is, how to feed it, how it was trained and how it scored.

A card is a JSON file beside the model (`MODEL_DIR/export/model_card.json`).
Later tools read it: `convert` takes its representative images from the
training data named here, and the metadata of an exported `.tflite` (input
size, normalisation, alignment template, thresholds) comes from it.

`thresholds` holds the operating points of the first evaluated set
(`tfmfn.evaluate.operating_points`: single unflipped embeddings, as an app
computes them): FAR 1e-3 for 1:1 verification, FAR 1e-4 for 1:N
identification, and the accuracy-optimal threshold, each with the impostor
pairs behind it and whether they are enough to measure that rate.
`recommended_threshold` is the 1:1 one.

Example:

    >>> from tfmfn import models
    >>> card = make_card(models.build("mobilefacenet"), "mobilefacenet")
    >>> card["input_size"], card["embedding_size"], card["normalization"]["scale"]
    ([112, 112], 128, 128.0)
"""

import datetime
import hashlib
import json
import os

import tfmfn
from tfmfn import preprocess, storage
from tfmfn.models import ZOO, profile

TFLITE_METADATA_FORMAT = "tfmfn-tflite-metadata/1"

CARD_FILE = "model_card.json"
FORMAT = "tfmfn-model-card/1"


def file_sha256(path):
    """The hex SHA-256 of a file: which weights a card or a run refers to."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_card(embedder, model_name, training=None, evaluation=None, qat=False, normalization=None):
    """The card of a Keras `embedder` built as zoo model `model_name` (counted in its float
    form; `qat` says that the saved model is its quantization-aware form); `normalization`
    (mean, scale) is tfmfn's unless given."""
    import tensorflow as tf

    stats = profile.profile(embedder)
    mean, scale = normalization or (preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE)
    return {
        "format": FORMAT,
        "model": model_name,
        "paper_name": ZOO[model_name].paper_name if model_name in ZOO else None,
        "input_size": list(embedder.input_shape[1:3]),
        "input": "aligned RGB face, uint8 pixels",
        "normalization": {"mean": float(mean), "scale": float(scale), "formula": "(pixel - mean) / scale"},
        "alignment_template": preprocess.ALIGNMENT_TEMPLATE.round(4).tolist(),
        "embedding_size": int(embedder.output_shape[-1]),
        "embedding": "not L2-normalised; normalise, then compare by cosine or squared distance",
        "quantization": "qat: fake-quantized int8 deploy form (tfmfn.quantize.qat)" if qat else "float32",
        "params_bn_folded": stats.params,
        "macs": stats.macs,
        "training": training or {},
        "evaluation": evaluation or {},
        "thresholds": operating_thresholds(evaluation),
        "recommended_threshold": recommended_threshold(evaluation),
        "tfmfn_version": tfmfn.__version__,
        "tensorflow_version": tf.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


THRESHOLD_USE = {"1:1": "far_1e-3", "1:N": "far_1e-4"}


def operating_thresholds(evaluation):
    """The first evaluated set's operating points with its name and which serves which app mode, or None."""
    for name, metrics in (evaluation or {}).items():
        if "operating_points" in metrics:
            return {"set": name, "use": dict(THRESHOLD_USE), **metrics["operating_points"]}
    return None


def describe_thresholds(thresholds):
    """One line: each app mode's threshold with its FAR and TAR, and the impostor pairs behind them.

    >>> point = {"threshold": 0.9, "tar": 0.8, "target_far": 1e-4, "supported": False}
    >>> describe_thresholds({"use": {"1:N": "far_1e-4"}, "far_1e-4": point, "impostor_pairs": 3000, "set": "lfw"})
    '1:N at FAR 0.0001: 0.900 (TAR 80.0%, too few impostor pairs to measure this rate), from 3,000 impostor pairs of lfw'
    """
    parts = []
    for mode, key in thresholds["use"].items():
        point = thresholds[key]
        caveat = "" if point["supported"] else ", too few impostor pairs to measure this rate"
        parts.append(f"{mode} at FAR {point['target_far']:g}: {point['threshold']:.3f} (TAR {point['tar']:.1%}{caveat})")
    return "; ".join(parts) + f", from {thresholds['impostor_pairs']:,} impostor pairs of {thresholds['set']}"


def recommended_threshold(evaluation):
    """The 1:1 squared-distance threshold (pairs closer are the same person): FAR 1e-3 on single images of
    the first evaluated set, or that set's 10-fold accuracy threshold for results without operating points;
    None without an evaluation."""
    thresholds = operating_thresholds(evaluation)
    if thresholds:
        return thresholds[THRESHOLD_USE["1:1"]]["threshold"]
    for metrics in (evaluation or {}).values():
        return metrics["threshold"]
    return None


def write_card(card, folder):
    path = os.path.join(folder, CARD_FILE)
    storage.write_text(path, json.dumps(card, indent=2))
    return path


def read_card(model_path):
    """The card of a model file or folder (beside it, in it, or in its `export/`), or None."""
    candidates = [
        os.path.join(model_path, CARD_FILE),
        os.path.join(model_path, "export", CARD_FILE),
        os.path.join(os.path.dirname(os.path.abspath(model_path)), CARD_FILE),
    ]
    for candidate in candidates:
        if os.path.isfile(candidate):
            with open(candidate) as stream:
                return json.load(stream)
    return None


def tflite_metadata(card, quantization, evaluation=None):
    """The metadata that every exported .tflite carries (`tfmfn.runtime.litert.add_metadata`), from the model
    card; the thresholds from `evaluation` (of the converted model, `tfmfn.evaluate` results) when
    given, else the card's."""
    thresholds = operating_thresholds(evaluation) if evaluation else card.get("thresholds")
    threshold = recommended_threshold(evaluation) if evaluation else card.get("recommended_threshold")
    return {
        "format": TFLITE_METADATA_FORMAT,
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
