"""Every zoo model survives .keras, one of each kind SavedModel too; a training model with its head survives
.keras."""

import numpy as np
import pytest
import tf_keras as keras

from tfmfn import models
from tfmfn.models import heads


def randomize(model, seed):
    """Gives every weight, BN statistics included, a distinct random value."""
    rng = np.random.default_rng(seed)
    weights = []
    for weight in model.weights:
        values = rng.normal(0.0, 0.1, weight.shape)
        if "moving_variance" in weight.name or "gamma" in weight.name:
            values = rng.uniform(0.5, 1.5, weight.shape)
        weights.append(values.astype(np.float32))
    model.set_weights(weights)


def first_of_each_kind():
    """The first zoo model of each (activation, set of table operators): the models of one kind are made of the
    same layer classes, which is what a SavedModel traces (about 14 s a model here, against 2 s for .keras)."""
    kinds = {}
    for name, entry in models.ZOO.items():
        kinds.setdefault((entry.activation, frozenset(row.op for row in entry.table)), name)
    return set(kinds.values())


SAVED_MODEL_KINDS = first_of_each_kind()


@pytest.mark.parametrize("name", models.names())
def test_model_saves_and_loads_with_identical_outputs(name, tmp_path):
    model = models.build(name)
    randomize(model, seed=len(name))
    images = np.random.default_rng(1).uniform(-1, 1, (2, *model.input_shape[1:])).astype(np.float32)
    expected = model(images, training=False).numpy()
    formats = ["model.keras"]
    if name in SAVED_MODEL_KINDS:
        formats.append("saved_model")
    for path in formats:
        model.save(tmp_path / path)
    for path in formats:
        restored = keras.models.load_model(tmp_path / path)
        assert restored.name == name
        np.testing.assert_array_equal(restored(images, training=False).numpy(), expected)


def test_training_model_with_head_round_trips(tmp_path):
    embedder = models.build("mobilefacenet", input_shape=(64, 64, 3))
    trainer = heads.training_model(embedder, heads.ArcFace(7, s=32.0, m=0.4))
    randomize(trainer, seed=3)
    images = np.random.default_rng(2).uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32)
    labels = np.array([0, 3, 6])
    expected = trainer([images, labels]).numpy()
    trainer.save(tmp_path / "trainer.keras")
    restored = keras.models.load_model(tmp_path / "trainer.keras")
    np.testing.assert_array_equal(restored([images, labels]).numpy(), expected)
    assert restored.layers[-1].get_config()["m"] == 0.4
