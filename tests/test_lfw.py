"""LFW's pair lists aligned into .bin sets, on a few real LFW people from ../shared/data/lfw."""

import json
import os
import pathlib
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tfmfn.data import bins, lfw

ROOT = pathlib.Path(__file__).resolve().parents[1]
LFW = pathlib.Path(os.environ.get("TFMFN_LFW", ROOT.parent / "shared" / "data" / "lfw"))
SIRIUS = ROOT / "pretrained" / "MobileFaceNet.tflite"
SAME, DIFFERENT = 8, 8


def need_lfw():
    if not (LFW / "pairsDevTest.txt").exists():
        pytest.skip(f"LFW is not at {LFW} (the project's ../shared/data/lfw; set TFMFN_LFW to its folder)")


@pytest.fixture(scope="module")
def small_lfw(tmp_path_factory):
    """A View 1 test list of LFW's first 8 same-person and first 8 different-person DevTest pairs, its first
    three people, and the photos themselves (linked), plus one blank 'photo' where no face can be found."""
    need_lfw()
    root = tmp_path_factory.mktemp("lfw")
    lines = (LFW / "pairsDevTest.txt").read_text().splitlines()
    count = int(lines[0])
    chosen = lines[1 : 1 + SAME] + lines[1 + count : 1 + count + DIFFERENT]
    (root / "pairsDevTest.txt").write_text("\n".join([str(SAME), *chosen, "Blank_Person 1 2"]) + "\n")
    (root / "peopleDevTest.txt").write_text("\n".join((LFW / "peopleDevTest.txt").read_text().splitlines()[:4]) + "\n")
    images = root / "images"
    images.mkdir()
    for name in {line.split()[0] for line in chosen} | {line.split()[2] for line in chosen if len(line.split()) == 4}:
        (images / name).symlink_to(LFW / "images" / name)
    for line in (root / "peopleDevTest.txt").read_text().splitlines()[1:]:
        name = line.split()[0]
        if not (images / name).exists():
            (images / name).symlink_to(LFW / "images" / name)
    (images / "Blank_Person").mkdir()
    for number in (1, 2):
        cv2.imwrite(str(images / "Blank_Person" / f"Blank_Person_{number:04d}.jpg"), np.full((250, 250, 3), 128, np.uint8))
    out = root / "devtest.bin"
    result = subprocess.run([sys.executable, "-m", "tfmfn.data", "lfw", "--root", str(root), "--view", "dev_test",
                             "--out", str(out), "--faces", str(root / "faces")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return root, out, result.stdout


def test_pairs_are_written_in_the_lists_order_as_aligned_crops(small_lfw):
    root, out, stdout = small_lfw
    pairs = bins.load_bin(str(out))
    assert pairs.num_pairs == SAME + DIFFERENT + 1
    assert list(pairs.issame) == [True] * SAME + [False] * DIFFERENT + [True]
    crops = pairs.decode_all()
    assert crops.shape[1:] == (112, 112, 3)
    summary = json.loads((root / "devtest.bin.json").read_text())
    assert summary["pairs"] == SAME + DIFFERENT + 1 and summary["same_person"] == SAME + 1
    assert summary["no_face"] == ["images/Blank_Person/Blank_Person_0001.jpg", "images/Blank_Person/Blank_Person_0002.jpg"]
    assert summary["faces_found"] == summary["photos"] - 2 and "central box" in summary["no_face_filled_by"]
    assert f"{SAME + DIFFERENT + 1} pairs" in stdout and "2 filled from the central box" in stdout


def test_the_views_people_are_written_into_identity_folders(small_lfw):
    root, _, stdout = small_lfw
    people = lfw.read_people(str(root / "peopleDevTest.txt"))
    for name, count in people:
        files = sorted(os.listdir(root / "faces" / name))
        assert files == [f"{name}_{number:04d}.png" for number in range(1, count + 1)]
        assert cv2.imread(str(root / "faces" / name / files[0])).shape == (112, 112, 3)
    assert f"{sum(count for _, count in people)} photos of {len(people)} people" in stdout


def test_a_real_model_tells_the_pairs_apart(small_lfw):
    if not SIRIUS.exists():
        pytest.skip("the sirius MobileFaceNet is fetched by make pretrained (npm)")
    from tfmfn.evaluate import pair_distances, pair_embeddings
    from tfmfn.runtime.inference import TFLiteEmbedder

    _, out, _ = small_lfw
    pairs = bins.load_bin(str(out))
    distances = pair_distances(*pair_embeddings(TFLiteEmbedder(str(SIRIUS)), pairs))[: SAME + DIFFERENT]
    assert distances[:SAME].max() < distances[SAME:].min(), distances


def test_lfws_real_lists_hold_the_official_pair_counts():
    need_lfw()
    for view, (name, count) in lfw.VIEWS.items():
        pairs = lfw.read_pairs(str(LFW / name))
        assert len(pairs) == count and sum(same for *_, same in pairs) == count // 2
    test = lfw.read_pairs(str(LFW / "pairs.txt"))
    assert all(test[fold * 600][2] and not test[fold * 600 + 300][2] for fold in range(10))


def test_a_malformed_list_or_a_missing_photo_is_named_in_one_line(tmp_path):
    (tmp_path / "pairs.txt").write_text("10 300\nAnn 1 2\nAnn one Bob 3\n")
    with pytest.raises(lfw.LFWFormatError, match=r"pairs.txt:3: expected 'name n1 n2'"):
        lfw.read_pairs(str(tmp_path / "pairs.txt"))
    with pytest.raises(lfw.LFWFormatError, match=r"no photo Ann_0001.jpg under images/Ann/"):
        lfw.photo_path(str(tmp_path), "Ann", 1)
    with pytest.raises(FileNotFoundError, match="--root takes LFW's folder"):
        lfw.view_path(str(tmp_path), "dev_test")
