"""Distillation (`tfmfn.train --teacher`): the loss falls, labels are never read, the teacher's cached
embeddings are those of the images as the student sees them, a run resumes, the card names the teacher,
the student converts to int8.

Every run trains on a tiny SYNTHETIC set (32 faces, no labels read) for a few steps; the teacher is an
untrained 64-d `mobilefacenet_tiny` (so the student's 128-d embedding goes through the learned projection),
and the student is a `mobilefacenet_tiny` too (tests/conftest.py: TINY_ARCH).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmfn import config as configs
from tfmfn import convert, models, preprocess, train
from tfmfn.data import pipeline
from tfmfn.runtime import litert, model_card
from tfmfn.train.teacher import TEACHER_CACHE, Teacher, distillation_loss

from conftest import TINY_ARCH

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIRIUS_TFLITE = os.path.join(REPO, "pretrained", "MobileFaceNet.tflite")


@pytest.fixture(scope="module")
def faces(tmp_path_factory, tiny_faces):
    """(flat folder of 32 unlabelled faces, the teacher's .keras file, a .bin of pairs)."""
    root = tmp_path_factory.mktemp("distil")
    flat = root / "faces"
    flat.mkdir()
    for number, path in enumerate(sorted((tiny_faces / "train").glob("*/*"))):
        shutil.copy(path, flat / f"{(number * 7) % 32:02d}{path.suffix}")  # one folder: no identities to read
    keras.utils.set_random_seed(5)
    models.build(TINY_ARCH, embedding_size=64).save(root / "teacher.keras")
    return flat, root / "teacher.keras", tiny_faces / "val.bin"


def distil_config(faces, model_dir, **overrides):
    flat, teacher, _ = faces
    settings = dict(arch=TINY_ARCH, teacher=str(teacher), data=str(flat), eval_bins=(), model_dir=str(model_dir),
                    batch_size=8, steps=4, lr_boundaries=(), log_every=1, checkpoint_every=2, eval_every=100)
    return configs.make_config("distill_quick", **{**settings, **overrides})


def test_the_loss_sums_the_projection_and_the_similarity_terms():
    rng = np.random.default_rng(0)
    student, projected, targets = rng.normal(size=(3, 5, 4)).astype(np.float32)
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    loss, cosine = distillation_loss(student, projected, targets, 0.5)
    unit = projected / np.linalg.norm(projected, axis=1, keepdims=True)
    expected_cosine = np.sum(unit * targets, axis=1)
    s = student / np.linalg.norm(student, axis=1, keepdims=True)
    gaps = s @ s.T - targets @ targets.T
    np.testing.assert_allclose(cosine.numpy(), expected_cosine, atol=1e-6)
    np.testing.assert_allclose(loss.numpy(), 1 - expected_cosine + 0.5 * np.mean(gaps**2, axis=1), atol=1e-6)


def test_labels_are_never_read_and_targets_are_the_teachers_view(faces):
    """The data is one flat folder (labelled training refuses it: no identities); each batch carries the
    teacher's embedding of each image as the student sees it, mirrored where the image was, the same
    whether cached or computed in the step."""
    recipe = distil_config(faces, None)
    source = pipeline.open_source(recipe.data, labelled=False)
    assert (source.format, source.num_classes, source.labels) == ("images", 0, list(range(32)))
    with pytest.raises(ValueError, match="no images in identity sub-folders"):
        pipeline.open_source(recipe.data)
    teacher = Teacher(recipe.teacher)
    cached = teacher.embeddings(source, progress=False)
    assert cached.shape == (32, 2, 64)
    np.testing.assert_allclose(np.linalg.norm(cached, axis=-1), 1, atol=1e-5)
    assert np.all(np.sum(cached[:, 0] * cached[:, 1], axis=1) < 0.9999)  # the mirror image is another view
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), source, teacher=teacher, targets=cached)
    images, numbers, mirrored = next(iter(pipeline.make_dataset(source, 32, seed=0, mirror_flags=True)))
    assert 4 <= int(tf.reduce_sum(tf.cast(mirrored, tf.int32))) <= 28
    _, targets = trainer._cached_targets(images, numbers, mirrored)
    pixels = np.round(images.numpy() * preprocess.PIXEL_SCALE + preprocess.PIXEL_MEAN).astype(np.uint8)
    seen = teacher.embedder.embed(pixels)
    seen /= np.linalg.norm(seen, axis=1, keepdims=True)
    np.testing.assert_allclose(targets.numpy(), seen, atol=1e-4)
    in_step = teacher.in_step((preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE))(images)
    np.testing.assert_allclose(in_step.numpy(), seen, atol=1e-4)


def test_the_distillation_loss_falls(faces, tmp_path):
    recipe = distil_config(faces, tmp_path, steps=20, batch_size=8, learning_rate=2e-3, checkpoint_every=20)
    train.train(recipe, verbose=False)
    rows = (tmp_path / "train_log.csv").read_text().splitlines()
    header = rows[0].split(",")
    losses = [float(row.split(",")[header.index("loss")]) for row in rows[1:]]
    cosines = [float(row.split(",")[header.index("teacher_cosine")]) for row in rows[1:]]
    assert len(losses) == 20
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5]), losses  # measured: 1.34 -> 1.00 (means of 5 steps)
    assert np.mean(cosines[-5:]) > np.mean(cosines[:5]) + 0.15, cosines  # measured: 0.03 -> 0.37


def test_a_resumed_run_reaches_the_uninterrupted_weights_and_reads_its_cache(faces, tmp_path):
    whole = train.train(distil_config(faces, tmp_path / "whole", deterministic=True), verbose=False)
    train.train(distil_config(faces, tmp_path / "split", steps=2, deterministic=True), verbose=False)
    cache = tmp_path / "split" / TEACHER_CACHE
    written = cache.stat().st_mtime_ns
    resumed = train.train(distil_config(faces, tmp_path / "split", deterministic=True), verbose=False)
    assert cache.stat().st_mtime_ns == written  # read back, not computed again
    assert whole["training"]["steps_trained"] == resumed["training"]["steps_trained"] == 4
    first = keras.models.load_model(tmp_path / "whole" / "export" / "embedder.keras", compile=False)
    second = keras.models.load_model(tmp_path / "split" / "export" / "embedder.keras", compile=False)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    projection = np.load(tmp_path / "split" / "export" / "head.npz")
    assert projection["kernel"].shape == (128, 64)  # the student's 128-d onto the teacher's 64-d


def test_a_second_stage_starts_from_the_students_weights_and_projection(faces, tmp_path, monkeypatch):
    train.train(distil_config(faces, tmp_path / "first", steps=1), verbose=False)
    recipe = distil_config(faces, tmp_path / "second", init_from=str(tmp_path / "first"))
    source = pipeline.open_source(recipe.data, labelled=False)
    trainer = train.Trainer(recipe, tf.distribute.get_strategy(), source, teacher=Teacher(recipe.teacher))
    assert trainer.head_from_init
    np.testing.assert_array_equal(trainer.head.kernel.numpy(), np.load(tmp_path / "first" / "export" / "head.npz")["kernel"])
    first = keras.models.load_model(tmp_path / "first" / "export" / "embedder.keras", compile=False)
    for a, b in zip(first.get_weights(), trainer.embedder.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = tmp_path / "other.keras"
    models.build(TINY_ARCH, embedding_size=64).save(other)
    elsewhere = distil_config(faces, tmp_path / "third", init_from=str(tmp_path / "first"), teacher=str(other))
    assert not train.Trainer(elsewhere, tf.distribute.get_strategy(), source, teacher=Teacher(other)).head_from_init
    monkeypatch.setattr(Teacher, "embeddings", lambda *arguments: pytest.fail("the teacher embedded the faces again"))
    train.train(distil_config(faces, tmp_path / "second", init_from=str(tmp_path / "first"), steps=1), verbose=False)
    with np.load(tmp_path / "first" / TEACHER_CACHE) as first, np.load(tmp_path / "second" / TEACHER_CACHE) as second:
        np.testing.assert_array_equal(first["embeddings"], second["embeddings"])  # the first stage's, kept


def test_cli_distils_exports_and_names_the_teacher_on_the_card(faces, tmp_path):
    flat, teacher, pairs = faces
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.train", "--config", "distill_quick", "--arch", TINY_ARCH, "--teacher",
         str(teacher), "--data", str(flat), "--model_dir", str(tmp_path / "run"), "--eval_bins", str(pairs),
         "--batch_size", "8", "--steps", "2", "--lr_boundaries=", "--eval_every", "2"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "32 unlabelled images" in result.stdout and "its terms: unknown" in result.stdout
    card = json.loads((tmp_path / "run" / "export" / "model_card.json").read_text())
    assert card["embedding_size"] == 128
    assert card["training"]["teacher"]["sha256"] == model_card.file_sha256(teacher)
    assert card["training"]["teacher"]["embedding_size"] == 64
    assert card["training"]["data"]["labels"].startswith("not read")
    assert "inherits" in card["training"]["licence"]
    assert card["evaluation"]["val"]["accuracy"] > 0
    assert (tmp_path / "run" / "curves.png").stat().st_size > 0

    report = convert.convert(  # the student has no labels to fine-tune on: its QAT distils it on its own faces
        convert.Request(model=str(tmp_path / "run"), out=str(tmp_path / "int8.tflite"), qat_steps=2,
                        eval_bins=(str(pairs),), parity_images=8),
        say=lambda *args: None,
    )
    assert report["quantization"] == "int8 qat" and report["fully_delegated"]
    qat_card = json.loads((tmp_path / "run_qat" / "export" / "model_card.json").read_text())
    assert qat_card["training"]["data"] == {"path": str(flat), "num_images": 32, "labels": "none"}
    assert litert.read_metadata(str(tmp_path / "int8.tflite"))["embedding_size"] == 128


def test_errors_say_what_to_do(faces, tmp_path):
    flat, teacher, pairs = faces
    cases = [
        (dict(head="arcface"), "--teacher trains without a margin head"),
        (dict(teacher=""), "--head none trains only by distillation"),
        (dict(light_augment=True), "give --noteacher_cache with it"),
        (dict(qat=True, init_from=str(teacher)), "--teacher trains a float student"),
    ]
    for overrides, message in cases:
        with pytest.raises(ValueError, match=message):
            distil_config(faces, tmp_path, **overrides)
    with pytest.raises(ValueError, match="give an --arch of the teacher's input size"):
        train.train(distil_config(faces, tmp_path / "size", arch="mobilefacenet_112x96"), verbose=False)
    assert not (tmp_path / "size").exists()
    with pytest.raises(ValueError, match="a folder of aligned face images"):
        train.train(distil_config(faces, tmp_path / "file", data=str(teacher)), verbose=False)
    train.train(distil_config(faces, tmp_path / "changed", steps=1), verbose=False)
    other = tmp_path / "other.keras"
    models.build(TINY_ARCH, embedding_size=64).save(other)
    shutil.copy(teacher, tmp_path / "original.keras")
    changed = distil_config(faces, tmp_path / "changed", steps=2)
    shutil.copy(other, teacher)
    try:
        with pytest.raises(ValueError, match="learned from other teacher weights"):
            train.train(changed, verbose=False)
    finally:
        shutil.copy(tmp_path / "original.keras", teacher)


@pytest.mark.skipif(not os.path.exists(SIRIUS_TFLITE), reason="pretrained/ absent: `make pretrained` fetches it (npm)")
def test_a_tflite_teacher_embeds_through_litert(faces):
    flat, _, _ = faces
    teacher = Teacher(SIRIUS_TFLITE)
    source = pipeline.open_source(str(flat), labelled=False)
    assert teacher.embedding_size == 192 and teacher.licence.startswith("unknown")  # no card: port it for one
    assert teacher.record()["sha256"] == model_card.file_sha256(SIRIUS_TFLITE)
    assert teacher.embeddings(source, progress=False).shape == (32, 2, 192)
    with pytest.raises(ValueError, match="keep --teacher_cache"):
        teacher.in_step((preprocess.PIXEL_MEAN, preprocess.PIXEL_SCALE))
