"""The synthetic default dataset: deterministic, held-out pairs, not solvable from pixel statistics."""

import hashlib
import json
import os

import cv2
import numpy as np
import pytest

from tfmfn.data import bins, synth


def ten_fold_accuracy(scores, issame):
    """Mean accuracy over 10 contiguous folds, threshold chosen on the other 9."""
    folds = np.arange(len(scores)) * 10 // len(scores)
    accuracies = []
    for fold in range(10):
        train, test = folds != fold, folds == fold
        thresholds = np.unique(scores[train])
        best = max(thresholds, key=lambda t: ((scores[train] >= t) == issame[train]).mean())
        accuracies.append(((scores[test] >= best) == issame[test]).mean())
    return float(np.mean(accuracies))


def cosine_scores(pairs, features):
    vectors = np.array([features(pairs.decode(index)) for index in range(len(pairs.images))], np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors[0::2] * vectors[1::2]).sum(axis=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    synth.generate(str(out), identities=12, images_per_identity=3, pairs=600, seed=5, val_identities=60, progress=False)
    return out


def tree_digest(folder):
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            digest.update(name.encode())
            digest.update(open(os.path.join(root, name), "rb").read())
    return digest.hexdigest()


def test_layout_and_summary(dataset):
    identities = sorted(os.listdir(dataset / "train"))
    assert len(identities) == 12 and all(len(os.listdir(dataset / "train" / name)) == 3 for name in identities)
    summary = json.loads((dataset / "synth.json").read_text())
    assert summary["synthetic"] is True and summary["seed"] == 5
    pairs = bins.load_bin(str(dataset / "val.bin"))
    assert pairs.num_pairs == 600 and pairs.issame.sum() == 300
    assert pairs.decode(0).shape == (112, 112, 3)


def test_deterministic_for_a_seed(dataset, tmp_path):
    synth.generate(str(tmp_path / "again"), identities=12, images_per_identity=3, pairs=600, seed=5, val_identities=60, progress=False)
    assert tree_digest(tmp_path / "again") == tree_digest(dataset)
    synth.generate(str(tmp_path / "other"), identities=12, images_per_identity=3, pairs=600, seed=6, val_identities=60, progress=False)
    assert tree_digest(tmp_path / "other") != tree_digest(dataset)


def test_pixel_statistics_do_not_solve_it(dataset):
    pairs = bins.load_bin(str(dataset / "val.bin"))

    def raw_pixels(image):
        return cv2.resize(image, (16, 16), interpolation=cv2.INTER_AREA).ravel()

    def centre_pixels(image):
        crop = cv2.resize(image[30:100, 28:84], (14, 16), interpolation=cv2.INTER_AREA).astype(np.float64).ravel()
        return crop - crop.mean()

    def colour_histogram(image):
        return cv2.calcHist([image], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3).ravel()

    for features in (raw_pixels, centre_pixels, colour_histogram):
        accuracy = ten_fold_accuracy(cosine_scores(pairs, features), pairs.issame)
        assert accuracy < 0.75, (features.__name__, accuracy)


def test_same_identity_is_closer_than_others_in_face_traits():
    """Positive pairs share the drawn traits: at difficulty 0 the face region of two images of
    one identity differs far less than that of two identities."""
    rng = np.random.default_rng(2)
    people = [synth.Identity.sample(rng) for _ in range(20)]
    def face(person):
        return synth.render(person, rng, difficulty=0.0)[36:100, 30:82].astype(np.float64)
    same = np.mean([np.abs(face(p) - face(p)).mean() for p in people])
    different = np.mean([np.abs(face(a) - face(b)).mean() for a, b in zip(people, people[1:])])
    assert same < 0.5 * different


def test_bad_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 2 training identities"):
        synth.generate(str(tmp_path), identities=1, progress=False)
