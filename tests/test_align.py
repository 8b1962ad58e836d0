"""BlazeFace detection and 5-point alignment on real photos and awkward inputs."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tfmfn import align
from tfmfn.face import blazeface

DATA = Path(__file__).parent / "data"
PHOTOS = ["obama.jpg", "obama2.jpg", "biden.jpg"]


@pytest.fixture(scope="module")
def detector():
    return align.FaceDetector("full")


def eye_errors(image, face):
    """Distance (px) of the located eyes (ONet's), mapped through the alignment, from the template's eyes."""
    matrix = align.alignment_matrix(face)
    eyes = align.alignment_points(face)[0][:2] @ matrix[:, :2].T + matrix[:, 2]
    return np.linalg.norm(eyes - align.template_for()[:2], axis=1)


@pytest.mark.parametrize("photo", PHOTOS)
def test_one_face_per_photo_and_eyes_on_the_template(detector, photo):
    image = align.load_image(DATA / photo)
    faces = detector.detect(image)
    assert len(faces) == 1 and faces[0].score > 0.7
    assert eye_errors(image, faces[0]).max() < 3.0
    # Independently: detect again in the aligned crop (set in a larger canvas).
    crop = align.align_face(image, faces[0])
    assert crop.shape == (112, 112, 3)
    canvas = np.zeros((336, 336, 3), np.uint8)
    canvas[112:224, 112:224] = crop
    again = detector.detect(canvas)
    assert len(again) == 1
    assert np.linalg.norm(again[0].keypoints[:2] - 112 - align.template_for()[:2], axis=1).max() < 5.0


def test_short_range_model_agrees(detector):
    image = align.load_image(DATA / "obama.jpg")
    full, short = detector.detect(image)[0], align.FaceDetector("short").detect(image)[0]
    assert np.abs(full.keypoints[:4] - short.keypoints[:4]).max() < 0.05 * (full.box[2] - full.box[0])


def test_anchor_counts_match_the_models():
    assert len(blazeface.ssd_anchors(128, (8, 16, 16, 16), True)) == 896
    assert len(blazeface.ssd_anchors(192, (4,), False)) == 2304


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = scale * source @ rotation.T + shift
    matrix = align.similarity_transform(source, target)
    np.testing.assert_allclose(matrix, np.hstack([scale * rotation, shift[:, None]]), atol=1e-9)


def test_template_for_112x96_shifts_it_8_pixels():
    np.testing.assert_allclose(align.template_for((112, 96))[:, 0], align.template_for()[:, 0] - 8, atol=1e-5)


def test_group_photo_finds_both_and_picks_the_largest(detector, tmp_path):
    obama = align.load_image(DATA / "obama.jpg")
    biden = align.load_image(DATA / "biden.jpg")
    small = cv2.resize(biden, (biden.shape[1] // 2, biden.shape[0] // 2))
    height = max(obama.shape[0], small.shape[0])
    group = np.zeros((height, obama.shape[1] + small.shape[1], 3), np.uint8)
    group[: obama.shape[0], : obama.shape[1]] = obama
    group[: small.shape[0], obama.shape[1] :] = small
    faces = detector.detect(group)
    assert len(faces) == 2
    (tmp_path / "in").mkdir()
    Image.fromarray(group).save(tmp_path / "in" / "group.jpg")
    report = align.align_tree(str(tmp_path / "in"), str(tmp_path / "one"), detector=detector, progress=False)
    assert report["faces"] == 1
    largest = max(faces, key=lambda face: face.area)
    assert largest.box[0] < obama.shape[1]  # obama's face is the larger one
    report = align.align_tree(str(tmp_path / "in"), str(tmp_path / "all"), all_faces=True, detector=detector, progress=False)
    assert report["faces"] == 2
    assert sorted(Path(path).name for path in report["written"]) == ["group_0.png", "group_1.png"]


@pytest.mark.parametrize("factor", [0.12, 4.0])
def test_tiny_and_huge_images(detector, factor):
    image = align.load_image(DATA / "obama.jpg")
    resized = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    faces = detector.detect(resized)
    assert len(faces) == 1
    assert eye_errors(resized, faces[0]).max() < 3.0


def test_exif_rotation_greyscale_and_rgba(detector, tmp_path):
    original = Image.open(DATA / "obama.jpg")
    upright_face = detector.detect(np.asarray(original.convert("RGB")))[0]
    rotated = original.rotate(90, expand=True)  # stored sideways...
    exif = rotated.getexif()
    exif[0x0112] = 6  # ...with the EXIF tag that says "rotate 90 clockwise to view"
    rotated.save(tmp_path / "sideways.jpg", exif=exif.tobytes(), quality=95)
    upright = align.load_image(tmp_path / "sideways.jpg")
    assert upright.shape[:2] == (original.height, original.width)
    face = detector.detect(upright)[0]
    assert np.abs(face.keypoints[:2] - upright_face.keypoints[:2]).max() < 8
    original.convert("L").save(tmp_path / "grey.png")
    rgba = original.convert("RGBA")
    rgba.putalpha(255)
    rgba.save(tmp_path / "alpha.png")
    for name in ("grey.png", "alpha.png"):
        image = align.load_image(tmp_path / name)
        assert image.shape == (original.height, original.width, 3) and image.dtype == np.uint8
        assert len(detector.detect(image)) == 1


def test_cli_mirrors_the_tree_and_reports(tmp_path):
    for identity, photos in {"alice": ["obama.jpg", "obama2.jpg"], "bob": ["biden.jpg"]}.items():
        (tmp_path / "in" / identity).mkdir(parents=True)
        for photo in photos:
            (tmp_path / "in" / identity / photo).write_bytes((DATA / photo).read_bytes())
    Image.new("RGB", (300, 300), (90, 120, 150)).save(tmp_path / "in" / "bob" / "wall.png")
    (tmp_path / "in" / "bob" / "broken.jpg").write_bytes(b"not a photo")
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.align", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--json"],
        capture_output=True, text=True, check=True,
    )
    report = json.loads(result.stdout)
    assert report["images"] == 5 and report["faces"] == 3
    assert report["no_face"] == [str(tmp_path / "in" / "bob" / "wall.png")]
    assert [entry["path"] for entry in report["unreadable"]] == [str(tmp_path / "in" / "bob" / "broken.jpg")]
    written = sorted(str(Path(path).relative_to(tmp_path / "out")) for path in report["written"])
    assert written == ["alice/obama.png", "alice/obama2.png", "bob/biden.png"]
    assert cv2.imread(str(tmp_path / "out" / "bob" / "biden.png")).shape == (112, 112, 3)


def test_missing_input_is_one_clear_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.align", "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "no such file or folder" in result.stderr


def test_weighted_nms_ends_on_a_degenerate_box():
    boxes = np.array([[5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 2.0, 2.0]])
    keypoints = np.zeros((2, 6, 2))
    results = blazeface.weighted_nms(boxes, keypoints, np.array([0.9, 0.5]), 0.3)
    assert [score for _, _, score in results] == [0.9, 0.5]
    np.testing.assert_array_equal(results[0][0], boxes[0])


def test_crops_aligned_elsewhere_are_fitted_not_detected(tmp_path):
    (tmp_path / "crops" / "carol").mkdir(parents=True)
    grey = np.full((100, 100), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "crops" / "carol" / "0001.jpg"), grey)
    command = [sys.executable, "-m", "tfmfn.align", "--input", str(tmp_path / "crops"), "--out", str(tmp_path / "out"),
               "--crops", "0.857", "--json"]
    report = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    assert report["faces"] == 1 and report["no_face"] == []  # a flat grey square has no face BlazeFace would find
    fitted = cv2.imread(str(tmp_path / "out" / "carol" / "0001.png"))
    assert fitted.shape == (112, 112, 3)
    assert (fitted[:7] == 0).all() and (fitted[9:103, 9:103] == 90).all()  # 96x96 of the crop, centred on black
    refused = subprocess.run(command[:-2] + ["1.5"], capture_output=True, text=True)
    assert refused.returncode != 0 and "--crops takes a fraction in (0, 1]" in refused.stderr
