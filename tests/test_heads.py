"""Margin heads against an independent float64 numpy computation, at the awkward angles too."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmfn import models
from tfmfn.models import heads

EMBEDDING_SIZE = 16
NUM_CLASSES = 6


def reference_logits(embeddings, kernel, labels, s, m1, m2, m3):
    """Combined-margin logits in float64: arccos, margin, insightface's fallback."""
    unit_embeddings = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit_kernel = kernel / np.linalg.norm(kernel, axis=0, keepdims=True)
    cosines = np.clip(unit_embeddings @ unit_kernel, -1.0, 1.0)
    logits = cosines.copy()
    for row, label in enumerate(labels):
        theta = np.arccos(cosines[row, label])
        if m1 * theta + m2 <= np.pi:
            logits[row, label] = np.cos(m1 * theta + m2) - m3
        else:
            logits[row, label] = cosines[row, label] - m3 - m2 * np.sin(m2)
    return s * logits


def awkward_batch(kernel, rng):
    """Random embeddings plus ones at theta = 0, 1e-4, 1e-2 and pi - 1e-4, pi to their class."""
    labels = np.array([0, 1, 2, 3, 4, 5, 0, 1, 2, 3])
    embeddings = rng.normal(size=(len(labels), EMBEDDING_SIZE))
    centres = kernel[:, labels].T
    units = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    for row, theta, sign in [(0, 0.0, 1), (1, 1e-4, 1), (2, 1e-2, 1), (3, 1e-4, -1), (4, 0.0, -1)]:
        other = rng.normal(size=EMBEDDING_SIZE)
        other -= other @ units[row] * units[row]
        other /= np.linalg.norm(other)
        embeddings[row] = 3.0 * (sign * np.cos(theta) * units[row] + np.sin(theta) * other)
    return embeddings.astype(np.float32), labels


HEAD_CASES = [
    (heads.ArcFace(NUM_CLASSES, s=64.0, m=0.5), (64.0, 1.0, 0.5, 0.0)),
    (heads.ArcFace(NUM_CLASSES, s=30.0, m=0.3), (30.0, 1.0, 0.3, 0.0)),
    (heads.CosFace(NUM_CLASSES, s=64.0, m=0.35), (64.0, 1.0, 0.0, 0.35)),
    (heads.CombinedMargin(NUM_CLASSES, s=64.0, m1=1.0, m2=0.3, m3=0.2), (64.0, 1.0, 0.3, 0.2)),
    (heads.CombinedMargin(NUM_CLASSES, s=32.0, m1=1.3, m2=0.2, m3=0.1), (32.0, 1.3, 0.2, 0.1)),
]


@pytest.mark.parametrize(
    "head, params", HEAD_CASES, ids=["arcface", "arcface_s30", "cosface", "combined", "combined_m1"]
)
def test_logits_equal_numpy_reference(head, params):
    rng = np.random.default_rng(7)
    kernel = rng.normal(size=(EMBEDDING_SIZE, NUM_CLASSES)).astype(np.float32)
    embeddings, labels = awkward_batch(kernel, rng)
    head.build([(None, EMBEDDING_SIZE), (None,)])
    head.kernel.assign(kernel)
    logits = head([embeddings, labels]).numpy()
    expected = reference_logits(embeddings.astype(np.float64), kernel.astype(np.float64), labels, *params)
    scale = params[0]
    np.testing.assert_allclose(logits / scale, expected / scale, rtol=0, atol=1e-5)
    # The margin really applies: the target logit is below the plain cosine (theta = 0 included).
    assert (logits[np.arange(len(labels)), labels] < scale * (np.cos(0.0) + 1e-6)).all()


def test_normface_and_softmax_logits():
    rng = np.random.default_rng(5)
    kernel = rng.normal(size=(EMBEDDING_SIZE, NUM_CLASSES)).astype(np.float32)
    bias = rng.normal(size=NUM_CLASSES).astype(np.float32)
    embeddings, labels = awkward_batch(kernel, rng)
    normface, softmax = heads.NormFace(NUM_CLASSES, s=30.0), heads.Softmax(NUM_CLASSES)
    for head in (normface, softmax):
        head.build([(None, EMBEDDING_SIZE), (None,)])
        head.kernel.assign(kernel)
    softmax.bias.assign(bias)
    expected = reference_logits(embeddings.astype(np.float64), kernel.astype(np.float64), labels, 30.0, 1.0, 0.0, 0.0)
    np.testing.assert_allclose(normface([embeddings, labels]).numpy() / 30.0, expected / 30.0, atol=1e-5)
    np.testing.assert_allclose(softmax([embeddings, labels]).numpy(), embeddings @ kernel + bias, rtol=1e-5, atol=1e-5)
    assert [weight.name.split("/")[-1] for weight in softmax.weights] == ["kernel:0", "bias:0"]


def test_arcface_fallback_region_is_used():
    head = heads.ArcFace(NUM_CLASSES, s=1.0, m=0.5)
    angles = tf.constant([0.1, np.pi - 0.6, np.pi - 0.4, np.pi], tf.float32)
    margins = head.margin(angles).numpy()
    np.testing.assert_allclose(margins[:2], np.cos(angles.numpy()[:2] + 0.5), atol=1e-6)
    np.testing.assert_allclose(margins[2:], np.cos(angles.numpy()[2:]) - 0.5 * np.sin(0.5), atol=1e-6)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
@pytest.mark.parametrize("head_class", [heads.ArcFace, heads.CosFace, heads.CombinedMargin, heads.NormFace, heads.Softmax])
def test_values_and_gradients_finite_at_cos_plus_minus_one(policy, head_class):
    keras.mixed_precision.set_global_policy(policy)
    try:
        inputs = keras.Input((EMBEDDING_SIZE,))
        embeddings = keras.layers.Dense(EMBEDDING_SIZE, name="project")(inputs)
        head = head_class(NUM_CLASSES)
        logits = head([embeddings, keras.Input((), dtype="int32")])
        model = keras.Model([inputs, head.input[1]], logits)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    kernel = head.kernel.numpy()
    project = model.get_layer("project")
    project.set_weights([np.eye(EMBEDDING_SIZE, dtype=np.float32), np.zeros(EMBEDDING_SIZE, np.float32)])
    # Embeddings exactly on (cos = 1) and exactly opposite (cos = -1) their class centre.
    batch = np.stack([kernel[:, 0], -kernel[:, 1], kernel[:, 2], -kernel[:, 2]]).astype(np.float32)
    labels = np.array([0, 1, 2, 2])
    with tf.GradientTape() as tape:
        output = model([batch, labels])
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(labels, output, from_logits=True)
        )
    gradients = tape.gradient(loss, model.trainable_weights)
    assert output.dtype == tf.float32
    assert np.isfinite(output.numpy()).all() and np.isfinite(loss.numpy())
    for gradient in gradients:
        assert np.isfinite(tf.convert_to_tensor(gradient).numpy()).all()


def test_config_round_trip():
    for head in (heads.ArcFace(10, s=32.0, m=0.4), heads.CosFace(10, m=0.3), heads.CombinedMargin(10, m1=1.1),
                 heads.NormFace(10, s=16.0), heads.Softmax(10)):
        clone = type(head).from_config(head.get_config())
        assert clone.get_config() == head.get_config()
    assert heads.ArcFace(10, s=32.0, m=0.4).get_config()["m"] == 0.4
    for head_class in heads.HEADS.values():
        with pytest.raises(ValueError, match="at least 2 classes"):
            head_class(1)


def test_training_model_wraps_embedder_without_changing_it():
    embedder = models.build("mobilefacenet", input_shape=(64, 64, 3))
    trainer = heads.training_model(embedder, heads.ArcFace(20))
    assert [tuple(x.shape) for x in trainer.inputs] == [(None, 64, 64, 3), (None,)]
    assert trainer.output_shape == (None, 20)
    assert not any(isinstance(layer, heads.CombinedMargin) for layer in embedder.layers)
    assert len(trainer.trainable_weights) == len(embedder.trainable_weights) + 1
    assert trainer.trainable_weights[0] is embedder.trainable_weights[0]


def test_arcface_learns_separable_identities():
    """A small embedder trained through the head puts each class's samples together."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(4, 8)) * 3
    labels = np.repeat(np.arange(4), 64)
    points = (centres[labels] + rng.normal(size=(len(labels), 8))).astype(np.float32)
    inputs = keras.Input((8,))
    embedder = keras.Model(inputs, keras.layers.Dense(16)(keras.layers.Dense(32, "relu")(inputs)))
    trainer = heads.training_model(embedder, heads.ArcFace(4, s=16.0, m=0.3))
    trainer.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = trainer.evaluate([points, labels], labels, verbose=0)
    trainer.fit([points, labels], labels, epochs=30, batch_size=32, verbose=0)
    after = trainer.evaluate([points, labels], labels, verbose=0)
    assert after < 0.5 * before
    unit = embedder.predict(points, verbose=0)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    similarity = unit @ unit.T
    same = labels[:, None] == labels[None, :]
    assert similarity[same].mean() > similarity[~same].mean() + 0.5


def test_partial_fc_logits_are_the_full_heads_over_the_sampled_classes():
    rng = np.random.default_rng(4)
    head = heads.ArcFace(num_classes=50, s=32.0, m=0.3)
    embeddings = rng.normal(size=(8, EMBEDDING_SIZE)).astype(np.float32)
    labels = np.array([3, 3, 17, 49, 0, 22, 17, 8])
    full = head([embeddings, labels]).numpy()
    logits, columns = head.partial_logits(embeddings, labels, 12, (0, 5))
    classes, same = heads.sample_classes(tf.constant(labels, tf.int32), 50, 12, (0, 5))
    classes, columns = classes.numpy(), columns.numpy()
    assert logits.shape == (8, 12) and np.array_equal(same.numpy(), columns)
    assert np.all(np.diff(classes) > 0) and set(labels) <= set(classes)  # every label's class, in class order
    assert np.array_equal(classes[columns], labels)
    np.testing.assert_allclose(logits.numpy(), full[:, classes], rtol=1e-6, atol=1e-6)  # margin on the label's column
    # every class, whatever the seed: the full head's logits
    everything, columns = head.partial_logits(embeddings, labels, 50, (7, 7))
    np.testing.assert_allclose(everything.numpy(), full, rtol=1e-6, atol=1e-6)
    assert np.array_equal(columns.numpy(), labels)
    # another seed draws other negatives; the same seed the same ones
    draws = {tuple(heads.sample_classes(tf.constant(labels, tf.int32), 50, 12, (0, step))[0].numpy())
             for step in range(5)}
    assert len(draws) == 5
    again = heads.sample_classes(tf.constant(labels, tf.int32), 50, 12, (0, 5))[0].numpy()
    assert np.array_equal(again, classes)


def test_partial_fc_gradient_touches_only_the_sampled_centres():
    rng = np.random.default_rng(5)
    head = heads.CosFace(num_classes=40, s=16.0, m=0.2)
    embeddings = tf.constant(rng.normal(size=(6, EMBEDDING_SIZE)).astype(np.float32))
    labels = np.array([1, 5, 5, 30, 39, 12])
    head([embeddings, labels])
    with tf.GradientTape() as tape:
        logits, columns = head.partial_logits(embeddings, labels, 10, (1, 2))
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(columns, logits, from_logits=True))
    gradient = tf.convert_to_tensor(tape.gradient(loss, head.kernel)).numpy()
    classes = heads.sample_classes(tf.constant(labels, tf.int32), 40, 10, (1, 2))[0].numpy()
    touched = np.flatnonzero(np.abs(gradient).sum(axis=0))
    assert set(touched) <= set(classes) and set(labels) <= set(touched)
