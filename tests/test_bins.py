"""Verification .bin files: safe loading, element kinds, writing from pairs and folders."""

import os
import pathlib
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tfmfn.data import bins


def encoded(value, suffix=".png"):
    return cv2.imencode(suffix, np.full((112, 112, 3), value, np.uint8))[1].tobytes()


def test_round_trip_of_bytes_pairs(tmp_path):
    pairs = [(encoded(10), encoded(20)), (encoded(30), encoded(40)), (encoded(50), encoded(60))]
    bins.write_bin(tmp_path / "set.bin", pairs, [True, False, True])
    loaded = bins.load_bin(str(tmp_path / "set.bin"))
    assert loaded.name == "set" and loaded.num_pairs == 3
    assert loaded.issame.tolist() == [True, False, True]
    images = loaded.decode_all()
    assert images.shape == (6, 112, 112, 3)
    assert images[:, 0, 0, 0].tolist() == [10, 20, 30, 40, 50, 60]


def test_numpy_elements_and_python2_style_pickles(tmp_path):
    """Elements as encoded uint8 arrays or decoded images, pickled with protocol 2."""
    decoded = np.zeros((112, 112, 3), np.uint8)
    decoded[..., 0] = 200
    elements = [np.frombuffer(encoded(7, ".jpg"), np.uint8), decoded, encoded(9), decoded]
    with open(tmp_path / "py2.bin", "wb") as stream:
        pickle.dump((elements, np.array([True, False])), stream, protocol=2)
    loaded = bins.load_bin(str(tmp_path / "py2.bin"))
    images = loaded.decode_all()
    assert loaded.issame.tolist() == [True, False]
    assert abs(int(images[0, 5, 5, 0]) - 7) <= 2 and images[1, 5, 5].tolist() == [200, 0, 0]


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.bin", "wb") as stream:
        pickle.dump(([_RunsACommand(marker), b"x"], [True]), stream, protocol=2)
    with pytest.raises(bins.BinFormatError, match=r"refused: the pickle asks for (posix|os)\.system"):
        bins.load_bin(str(tmp_path / "evil.bin"))
    assert not marker.exists()
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.data", "inspect", str(tmp_path / "evil.bin")], capture_output=True, text=True
    )
    assert result.returncode != 0 and "may be malicious" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (([b"a", b"b", b"c"], [True, False]), "3 images for 2 pairs"),
        ("not a tuple", r"expected a pickle of \(images, issame_list\)"),
        (([b"a", 3], [True]), "image 1 is a int"),
    ],
)
def test_malformed_bins_say_what_is_wrong(tmp_path, content, message):
    with open(tmp_path / "bad.bin", "wb") as stream:
        pickle.dump(content, stream)
    with pytest.raises(bins.BinFormatError, match=message):
        bins.load_bin(str(tmp_path / "bad.bin"))


def test_truncated_pickle_and_corrupt_image(tmp_path):
    bins.write_bin(tmp_path / "ok.bin", [(encoded(1), b"garbage")], [True])
    with pytest.raises(bins.BinFormatError, match="image 1: the image bytes do not decode"):
        bins.load_bin(str(tmp_path / "ok.bin")).decode_all()
    data = open(tmp_path / "ok.bin", "rb").read()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(bins.BinFormatError, match="not a readable .bin pickle"):
        bins.load_bin(str(tmp_path / "cut.bin"))
    with pytest.raises(FileNotFoundError, match="no such verification set"):
        bins.load_bin(str(tmp_path / "missing.bin"))


def test_bin_from_identity_folders(tmp_path):
    for identity in range(3):
        folder = tmp_path / "faces" / f"person{identity}"
        folder.mkdir(parents=True)
        for k in range(3):
            (folder / f"{k}.png").write_bytes(encoded(identity * 10 + k))
    subprocess.run(
        [sys.executable, "-m", "tfmfn.data", "make_bin", "--data", str(tmp_path / "faces"),
         "--out", str(tmp_path / "pairs.bin"), "--pairs", "20"],
        check=True, capture_output=True,
    )
    loaded = bins.load_bin(str(tmp_path / "pairs.bin"))
    images = loaded.decode_all()[:, 0, 0, 0].astype(int)
    identity = images // 10
    assert loaded.num_pairs == 20 and loaded.issame.sum() == 10
    same = identity[0::2] == identity[1::2]
    assert same.tolist() == loaded.issame.tolist()
    assert (images[0::2][same] != images[1::2][same]).all()  # positives are two different photos


def test_genuine_pairs_are_all_used_once_before_any_repeats(tmp_path):
    for identity in range(6):
        folder = tmp_path / f"person{identity}"
        folder.mkdir()
        for k in range(2):
            (folder / f"{k}.png").write_bytes(encoded(identity * 10 + k))
    pairs, issame = bins.pairs_from_folder(str(tmp_path), 24)
    genuine = [pair for pair, same in zip(pairs, issame) if same]
    assert len(genuine) == 12 and len(set(genuine[:6])) == 6 and genuine[6:] == genuine[:6]
    impostors = [pair for pair, same in zip(pairs, issame) if not same]
    assert all(pathlib.Path(first).parent != pathlib.Path(second).parent for first, second in impostors)
