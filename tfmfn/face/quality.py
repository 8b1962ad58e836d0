"""How usable a face is, from its five landmarks and its aligned crop: size, head pose, sharpness.

| signal      | unit      | computed from                                                       |
|-------------|-----------|---------------------------------------------------------------------|
| `eye_distance` | pixels | the distance between the eye centres in the photo (face size)       |
| `roll`      | degrees   | the eye line's angle; positive when the image-right eye is lower    |
| `yaw`       | degrees   | the nose tip's offset from the eyes' and mouth's midline, after     |
|             |           | undoing roll: `atan(offset / (NOSE_DEPTH * eye distance))`; positive|
|             |           | when the nose points to the image's right                           |
| `pitch`     | degrees   | where the nose tip sits between the eye line and the mouth line,    |
|             |           | against the template's place (the same head model): positive when   |
|             |           | the face looks down                                                 |
| `sharpness` | grey²     | variance of the Laplacian over the aligned crop's inner pixels      |
|             |           | (grey = 0.299 R + 0.587 G + 0.114 B); low means blurred             |

The angles come from a simple head model (the nose tip `NOSE_DEPTH` eye distances in front
of the eyes' and mouth's plane), not from a fitted 3D face: good for "turn to face the
camera" and "turn your head" checks, not for measuring pose in degrees to better than about
ten. The Android app computes the same signals in `FaceQuality.java` (checked by the JVM
goldens). Whether the eyes are open cannot be read from five landmarks.

Example (the template itself is a frontal face):

    >>> from tfmfn import preprocess
    >>> from tfmfn.face import quality
    >>> signals = quality.pose(preprocess.ALIGNMENT_TEMPLATE)
    >>> {name: round(value, 1) + 0.0 for name, value in signals.items()}
    {'eye_distance': 35.2, 'roll': -0.3, 'yaw': 0.0, 'pitch': 0.0}
"""

import numpy as np

from tfmfn import preprocess

NOSE_DEPTH = 0.5
"""How far the nose tip stands in front of the eyes, in eye distances (anthropometric average)."""

GREY_WEIGHTS = (0.299, 0.587, 0.114)


def _template_proportions():
    template = preprocess.ALIGNMENT_TEMPLATE.astype(np.float64)
    eyes, mouth = template[:2].mean(0), template[3:5].mean(0)
    eye_distance = np.hypot(*(template[1] - template[0]))
    return (template[2, 1] - eyes[1]) / (mouth[1] - eyes[1]), (mouth[1] - eyes[1]) / eye_distance


FRONTAL_NOSE_RATIO, FRONTAL_MOUTH_DROP = _template_proportions()
"""In the template (a level face): (nose - eye line) / (mouth line - eye line), vertically; and the
mouth line's distance below the eye line in eye distances."""


def pose(points):
    """`eye_distance`, `roll`, `yaw`, `pitch` of five landmarks (x, y): eyes, nose tip, mouth corners,
    in the order of `tfmfn.face.landmarks` (image-left eye first)."""
    points = np.asarray(points, np.float64)
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    eye_vector = right_eye - left_eye
    eye_distance = float(np.hypot(*eye_vector))
    roll = np.arctan2(eye_vector[1], eye_vector[0])
    cosine, sine = np.cos(-roll), np.sin(-roll)
    rotation = np.array([[cosine, -sine], [sine, cosine]])
    eyes = (left_eye + right_eye) / 2
    level = (points - eyes) @ rotation.T
    mouth = (level[3] + level[4]) / 2
    midline = mouth[0] / 2
    scale = max(eye_distance, 1e-9)
    yaw = np.arctan((level[2, 0] - midline) / (NOSE_DEPTH * scale))
    height = max(mouth[1], 1e-9)
    pitch = np.arctan((level[2, 1] / height - FRONTAL_NOSE_RATIO) * FRONTAL_MOUTH_DROP / NOSE_DEPTH)
    return {"eye_distance": eye_distance, "roll": float(np.degrees(roll)), "yaw": float(np.degrees(yaw)),
            "pitch": float(np.degrees(pitch))}


def sharpness(aligned):
    """Variance of the 4-neighbour Laplacian of an aligned RGB uint8 crop's grey levels (inner pixels).

        >>> sharpness(np.full((8, 8, 3), 90, np.uint8))
        0.0
    """
    grey = np.asarray(aligned, np.float64) @ np.array(GREY_WEIGHTS)
    laplacian = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return float(laplacian.var())


def measure(points, aligned):
    """Every signal of one face: `pose(points)` and the `sharpness` of its aligned crop."""
    return {**pose(points), "sharpness": sharpness(aligned)}
