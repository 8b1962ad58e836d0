"""IJB-B/C templates: insightface's own numbers on a SYNTHETIC IJB-shaped set, the layout, the CLI, bad input."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import insightface_ijb_golden as golden
from tfmfn import models
from tfmfn.data import ijb
from tfmfn.runtime import inference

from conftest import TINY_ARCH


@pytest.fixture(scope="module")
def ijbc(tmp_path_factory):
    return golden.write_set(str(tmp_path_factory.mktemp("ijb")))


def test_ijb_matches_insightfaces_own_code(ijbc):
    benchmark = ijb.load(ijbc, "IJBC")
    embedder = golden.projection_embedder()
    results = ijb.evaluate(embedder, benchmark, progress=False)
    expected = golden.INSIGHTFACE
    assert results["1:1"]["pairs"] == golden.GENUINE + golden.IMPOSTOR and results["1:1"]["genuine"] == golden.GENUINE
    assert results["1:1"]["tar_at_far"] == pytest.approx(expected["tar_at_far"], abs=1e-6)
    assert (results["1:N"]["probes"], results["1:N"]["gallery"]) == (72, 24)
    for rank in (1, 5, 10):
        assert results["1:N"][f"rank_{rank}"] == pytest.approx(expected[f"rank_{rank}"], abs=1e-6)
    assert results["1:N"]["tpir_at_fpir"] == pytest.approx(expected["tpir_at_fpir"], abs=1e-6)
    # the scores behind them: equal but for insightface's float32 fit of the alignment (the golden's docstring)
    features = ijb.image_features(embedder, benchmark, progress=False)
    scores = ijb.pair_scores(*ijb.template_features(features, benchmark), benchmark.pairs)
    np.testing.assert_allclose(scores[:8], expected["scores"], atol=2e-4)
    assert scores.mean() == pytest.approx(expected["score_mean"], abs=1e-5)


def test_the_flip_and_the_faceness_weigh_in(ijbc):
    """Without the flip, or with every faceness equal, the templates change: the golden's embeddings differ
    in norm between an image and its mirror image, and insightface weights images by faceness."""
    benchmark = ijb.load(ijbc, "IJBC")
    embedder = golden.projection_embedder()
    features = ijb.image_features(embedder, benchmark, progress=False)
    reference = ijb.pair_scores(*ijb.template_features(features, benchmark), benchmark.pairs)
    unflipped = ijb.image_features(embedder, benchmark, flip=False, progress=False)
    assert np.abs(ijb.pair_scores(*ijb.template_features(unflipped, benchmark), benchmark.pairs) - reference).max() > 1e-3
    unweighted = features / benchmark.faceness[:, None]
    assert np.abs(ijb.pair_scores(*ijb.template_features(unweighted, benchmark), benchmark.pairs) - reference).max() > 1e-3


def test_ijbb_reads_its_own_file_names(ijbc, tmp_path):
    root = tmp_path / "IJBB"
    shutil.copytree(os.path.join(ijbc, "loose_crop"), root / "loose_crop")
    (root / "meta").mkdir()
    renames = {"1N_gallery_G1": "1N_gallery_S1", "1N_gallery_G2": "1N_gallery_S2"}
    for name in os.listdir(os.path.join(ijbc, "meta")):
        target = name.replace("ijbc_", "ijbb_")
        for old, new in renames.items():
            target = target.replace(old, new)
        shutil.copy(os.path.join(ijbc, "meta", name), root / "meta" / target)
    embedder = golden.projection_embedder()
    as_ijbb = ijb.evaluate(embedder, ijb.load(str(root), "ijbb"), progress=False)
    assert as_ijbb == ijb.evaluate(embedder, ijb.load(ijbc, "IJBC"), progress=False)
    with pytest.raises(FileNotFoundError, match="ijbc_name_5pts_score.txt: missing"):
        ijb.load(str(root), "IJBC")


def test_roc_drops_the_points_between_corners_as_scikit_learn_does():
    labels = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.7, 0.6, 0.5, 0.4, 0.3])
    far, tar = ijb.roc(labels, scores)
    # scikit-learn 1.9.1's roc_curve(labels, scores), printed; (0.5, 0.75) lies between corners and is dropped
    np.testing.assert_allclose(far, [0.0, 0.0, 0.0, 0.25, 0.75, 0.75, 1.0])
    np.testing.assert_allclose(tar, [0.0, 0.25, 0.5, 0.75, 0.75, 1.0, 1.0])
    # the closest FAR; among equally close points the highest TAR
    assert ijb.tar_at_far(labels, scores, ("0.75", "1e-6")) == {"0.75": 1.0, "1e-6": 0.5}


def test_cli_prints_both_tables_and_json(ijbc, tmp_path):
    model = models.build(TINY_ARCH)
    model.save(tmp_path / "model.keras")
    command = [sys.executable, "-m", "tfmfn.evaluate", "--model", str(tmp_path / "model.keras"), "--ijb", ijbc,
               "--ijb_set", "IJBC"]
    table = subprocess.run(command, capture_output=True, text=True)
    assert table.returncode == 0, table.stderr[-2000:]
    assert "IJBC 1:1, 1000 template pairs (100 genuine): TAR at FAR" in table.stdout
    assert "IJBC 1:N, 72 probe templates in a gallery of 24:" in table.stdout
    scored = subprocess.run(command + ["--json"], capture_output=True, text=True, check=True)
    results = json.loads(scored.stdout)["IJBC"]
    expected = ijb.evaluate(inference.KerasEmbedder(model), ijb.load(ijbc, "IJBC"), progress=False)
    assert results["1:1"] == {**expected["1:1"], "tar_at_far": pytest.approx(expected["1:1"]["tar_at_far"], abs=1e-6)}
    assert results["1:N"]["tpir_at_fpir"] == pytest.approx(expected["1:N"]["tpir_at_fpir"], abs=1e-6)
    assert [results["1:N"][f"rank_{rank}"] for rank in ijb.RANKS] == pytest.approx(
        [expected["1:N"][f"rank_{rank}"] for rank in ijb.RANKS], abs=1e-6)
    assert set(results["1:1"]["tar_at_far"]) == set(ijb.FARS)


def test_bad_input_is_named(ijbc, tmp_path):
    command = [sys.executable, "-m", "tfmfn.evaluate", "--model", "nothing.keras"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode != 0 and "--eval_bins or --ijb required" in result.stderr
    with pytest.raises(FileNotFoundError, match="no such folder"):
        ijb.load(str(tmp_path / "absent"), "IJBC")
    with pytest.raises(ValueError, match="IJB sets are IJBB, IJBC"):
        ijb.load(ijbc, "IJBA")
    broken = tmp_path / "IJBC"
    shutil.copytree(ijbc, broken)
    pairs = broken / "meta" / "ijbc_template_pair_label.txt"
    points = broken / "meta" / "ijbc_name_5pts_score.txt"
    landmarks = points.read_text()
    points.write_text(landmarks.replace(" ", " x", 1))
    with pytest.raises(ValueError, match="ijbc_name_5pts_score.txt: every line is an image, ten landmark coordinates"):
        ijb.load(str(broken), "IJBC")
    points.write_text(landmarks)
    listed = pairs.read_text()
    pairs.write_text(listed.replace(" 0\n", " zero\n", 1))
    with pytest.raises(ValueError, match=r"ijbc_template_pair_label.txt: expected whole numbers in columns \[1, 2, 3\]"):
        ijb.load(str(broken), "IJBC")
    pairs.write_text("")
    with pytest.raises(ValueError, match="ijbc_template_pair_label.txt: no template pairs"):
        ijb.load(str(broken), "IJBC")
    pairs.write_text(listed)
    os.remove(broken / "loose_crop" / "3.png")
    with pytest.raises(FileNotFoundError, match="3.png: listed in IJBC's meta but missing from loose_crop/"):
        ijb.evaluate(golden.projection_embedder(), ijb.load(str(broken), "IJBC"), progress=False)


def test_without_the_1n_lists_only_1_to_1_is_evaluated(ijbc, tmp_path):
    partial = tmp_path / "IJBC"
    shutil.copytree(ijbc, partial)
    os.remove(partial / "meta" / "ijbc_1N_gallery_G2.csv")
    benchmark = ijb.load(str(partial), "IJBC")
    results = ijb.evaluate(golden.projection_embedder(), benchmark, progress=False)
    assert "1:N" not in results and results["1:1"]["tar_at_far"] == pytest.approx(golden.INSIGHTFACE["tar_at_far"])
    assert "IJBC 1:N: not evaluated (no ijbc_1N_*.csv in meta/)" in ijb.format_results("IJBC", results)
