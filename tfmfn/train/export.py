"""Evaluation during training and the export of the embedder (`export/`: the model, its head, its card)."""

import dataclasses
import json
import os

import numpy as np

from tfmfn import evaluate, models, storage
from tfmfn.data import bins
from tfmfn.runtime import model_card
from tfmfn.runtime.inference import KerasEmbedder, load_keras_model
from tfmfn.runtime.model_files import EXPORT_FOLDER, EXPORT_MODEL, EXPORT_QAT_WEIGHTS, locate
from tfmfn.train.model import build_float32_embedder, save_head
from tfmfn.train.run_folder import (
    BEST_FOLDER, BEST_ROC, BEST_SUMMARY, BEST_WEIGHTS, HEAD_WEIGHTS, plot_curves, with_absolute_paths,
)


def export_embedder(plain, config, folder):
    """Saves `plain`, the float32 embedder of `config` (no head, plain BatchNorm;
    `build_float32_embedder`) holding the weights to export, as `folder/embedder.keras`; a QAT embedder
    as `folder/qat_embedder.weights.h5` (tfmot's layers do not reload from .keras files;
    `load_keras_model` rebuilds it from the model card written beside it). The file is loaded back and
    checked before it takes its place; returns its path."""
    storage.makedirs(folder)
    path = os.path.join(folder, EXPORT_QAT_WEIGHTS if config.qat else EXPORT_MODEL)
    with storage.written(path) as local:
        if config.qat:
            plain.save_weights(local)
            reloaded = build_float32_embedder(config)
            reloaded.load_weights(local)
        else:
            plain.save(local)
            reloaded = load_keras_model(local)
        _check_saved(path, reloaded, plain)
    return path


class Evaluator:
    """The `--eval_bins` sets, decoded once, scored on a float32 copy of the embedder."""

    def __init__(self, paths, config, input_size):
        self.sets = []
        for path in paths:
            pairs = bins.load_bin(path)
            images = pairs.decode_all()
            if images.shape[1:3] != tuple(input_size):
                raise ValueError(
                    f"{path}: images are {images.shape[1]}x{images.shape[2]} but {config.arch} takes "
                    f"{input_size[0]}x{input_size[1]}; use a .bin made for this input size"
                )
            self.sets.append(bins.VerificationSet(pairs.name, list(images), pairs.issame))
        self.model = build_float32_embedder(config)
        self.embedder = KerasEmbedder(self.model, name=config.arch)

    def __call__(self, embedder, roc_path=None):
        """Scores `embedder`'s weights (copied into `self.model`, which keeps them: `write_best` saves them)."""
        self.copy_weights(embedder)
        return evaluate.evaluate_sets(self.embedder, self.sets, roc_path=roc_path)

    def copy_weights(self, embedder):
        """Copies `embedder`'s weights into `self.model`: under MultiWorkerMirroredStrategy reading them is
        a collective, so every worker calls this when the chief evaluates."""
        self.model.set_weights(embedder.get_weights())


def export_run(config, trainer, source, strategy, best, chief, plain=None):
    """Writes `export/` (the chief; every worker calls it: reading the trained weights is a collective
    under MultiWorkerMirroredStrategy) and returns its model card (None on the other workers). `plain`:
    a float32 embedder of `config` to export through (the Evaluator's, so that a QAT model, slow to
    build, is not built again); one is built when it is None."""
    export_dir = os.path.join(config.model_dir, EXPORT_FOLDER)
    best_dir = os.path.join(config.model_dir, BEST_FOLDER)
    weights = trainer.embedder.get_weights()
    if not chief:
        return None
    if plain is None:
        plain = build_float32_embedder(config)
    if best is None:
        plain.set_weights(weights)
    else:
        with storage.local_copy(os.path.join(best_dir, BEST_WEIGHTS)) as local:
            plain.load_weights(local)
    export_embedder(plain, config, export_dir)
    if best is not None and storage.exists(os.path.join(best_dir, HEAD_WEIGHTS)):
        storage.copy(os.path.join(best_dir, HEAD_WEIGHTS), os.path.join(export_dir, HEAD_WEIGHTS))
    else:
        save_head(trainer.head, export_dir)
    evaluation = best["results"] if best else {}
    if best is not None and storage.exists(os.path.join(best_dir, BEST_ROC)):
        storage.copy(os.path.join(best_dir, BEST_ROC), os.path.join(export_dir, BEST_ROC))
    training = {
        "config": dataclasses.asdict(with_absolute_paths(config)),
        "data": {"path": storage.absolute(config.data), "format": source.format,
                 "num_images": source.num_images, "num_classes": source.num_classes},
        "steps_trained": trainer.step,
        "weights_from_step": best["step"] if best else trainer.step,
        "weights_selected_by": "best mean accuracy on eval_bins" if best else "last step",
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
    }
    if trainer.teacher:
        training["data"]["labels"] = "not read: distilled from the teacher's embeddings"
        training["teacher"] = trainer.teacher.record()
        training["licence"] = (
            f"a student inherits its teacher's terms and its images': teacher: {trainer.teacher.licence}; "
            f"images: those of {storage.absolute(config.data)}"
        )
    if config.init_from:
        training["initial_weights"] = os.path.abspath(locate(config.init_from).path)
        training["head_from_initial_weights"] = trainer.head_from_init
    counted = models.build(config.arch, embedding_size=config.embedding_size) if config.qat else plain
    card = model_card.make_card(counted, config.arch, training, evaluation, qat=config.qat)
    model_card.write_card(card, export_dir)
    plot_curves(config.model_dir, os.path.join(config.model_dir, "curves.png"))
    return card


def _check_saved(path, reloaded, model):
    """Checks that the model loaded back from the file for `path` computes what `model` computes."""
    probe = np.random.default_rng(0).normal(size=(4, *model.input_shape[1:])).astype(np.float32)
    difference = np.abs(reloaded(probe, training=False).numpy() - model(probe, training=False).numpy()).max()
    if not difference <= 1e-5:
        raise RuntimeError(f"{path}: the saved model differs from the trained one by {difference}; export again")


def write_best(folder, evaluator, head, best):
    """Saves the weights `evaluator` last scored (a plain copy: no collective, so the chief alone
    writes) and `head` as the best so far."""
    with storage.written(os.path.join(folder, BEST_WEIGHTS)) as local:
        evaluator.model.save_weights(local)
    save_head(head, folder)
    storage.write_text(os.path.join(folder, BEST_SUMMARY), json.dumps(best, indent=2))


def read_best(model_dir):
    path = os.path.join(model_dir, BEST_FOLDER, BEST_SUMMARY)
    return json.loads(storage.read_text(path)) if storage.exists(path) else None
