"""Face size, head pose and sharpness: a head model turned by known angles gives them back."""

import cv2
import numpy as np
import pytest

from tfmfn import align, preprocess
from tfmfn.face import quality


def turned_template(yaw=0.0, pitch=0.0, roll=0.0):
    """The template's five points on the head model (nose tip NOSE_DEPTH eye distances in front),
    turned by the angles (degrees) and projected orthographically."""
    template = preprocess.ALIGNMENT_TEMPLATE.astype(np.float64)
    eye_distance = np.linalg.norm(template[1] - template[0])
    points = np.c_[template - template[:2].mean(0), [0, 0, -quality.NOSE_DEPTH * eye_distance, 0, 0]]
    a, b, c = np.radians([yaw, pitch, roll])
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    nod = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    tilt = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return (points @ (tilt @ nod @ turn).T)[:, :2] * 3 + 200


@pytest.mark.parametrize("yaw, pitch, roll", [(0, 0, 0), (25, 0, 0), (-40, 0, 0), (0, 20, 0), (0, -15, 0),
                                              (0, 0, 30), (20, 10, -15)])
def test_the_head_models_angles_come_back(yaw, pitch, roll):
    pose = quality.pose(turned_template(yaw, pitch, roll))
    frontal_roll = quality.pose(preprocess.ALIGNMENT_TEMPLATE)["roll"]
    tolerance = 0.5 if 0 in (yaw, pitch) else 4.0  # a turn and a nod together move the eye line too
    assert pose["yaw"] == pytest.approx(-yaw, abs=tolerance)
    assert pose["pitch"] == pytest.approx(pitch, abs=tolerance)
    assert pose["roll"] == pytest.approx(roll + frontal_roll, abs=tolerance)


def test_eye_distance_is_the_face_size_in_pixels():
    points = turned_template() * 2
    assert quality.pose(points)["eye_distance"] == pytest.approx(
        2 * 3 * np.linalg.norm(preprocess.ALIGNMENT_TEMPLATE[1] - preprocess.ALIGNMENT_TEMPLATE[0]), rel=1e-6)


def test_blur_lowers_sharpness_of_a_real_face():
    image = align.load_image("tests/data/biden.jpg")
    face = align.FaceDetector().detect(image)[0]
    crop = align.align_face(image, face)
    signals = quality.measure(face.landmarks.points, crop)
    blurred = cv2.GaussianBlur(crop, (0, 0), 2.0)
    assert quality.sharpness(blurred) < 0.2 * signals["sharpness"]
    assert abs(signals["yaw"]) < 20 and abs(signals["roll"]) < 15 and signals["eye_distance"] > 50
