"""The one home of the face input convention: size, normalisation, alignment template.

Every model, dataset, converter and the Android app read these values from here
(or from metadata written from here), so that weights and preprocessing never drift.

Example:

    >>> import numpy as np
    >>> from tfmfn import preprocess
    >>> preprocess.normalize(np.array([0, 127.5, 255]))
    array([-0.99609375,  0.        ,  0.99609375], dtype=float32)
"""

import numpy as np

INPUT_SIZE = (112, 112)
"""(height, width) of an aligned face crop, as in the paper."""

PIXEL_MEAN = 127.5
PIXEL_SCALE = 128.0
"""A pixel value p in [0, 255] enters the network as (p - PIXEL_MEAN) / PIXEL_SCALE."""

ALIGNMENT_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],  # left eye
        [73.5318, 51.5014],  # right eye
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # left mouth corner
        [70.7299, 92.2041],  # right mouth corner
    ],
    dtype=np.float32,
)
"""Five landmarks (x, y) of a 112x112 aligned face, insightface's convention."""


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
"""File name endings that tfmfn reads as images (compared in lower case)."""


def normalize(pixels, normalization=None):
    """Maps pixels in [0, 255] (numpy array or tensor) to the network's input: (p - mean) / scale with
    `normalization` = (mean, scale), tfmfn's own by default. A numpy array comes back as float32."""
    mean, scale = normalization or (PIXEL_MEAN, PIXEL_SCALE)
    if isinstance(pixels, np.ndarray):
        return ((pixels.astype(np.float32) - mean) / scale).astype(np.float32)
    return (pixels - mean) / scale


def input_range(normalization=None):
    """(lowest, highest) network input that a pixel in [0, 255] becomes under `normalization`
    ((mean, scale); tfmfn's by default): the range a QAT model's input quantizer is pinned to, so
    that at scale 1 / 128 every pixel has its own quantisation step."""
    mean, scale = normalization or (PIXEL_MEAN, PIXEL_SCALE)
    return (0.0 - mean) / scale, (255.0 - mean) / scale


def denormalize(inputs):
    """Inverse of `normalize`: network inputs back to [0, 255] pixel values."""
    return inputs * PIXEL_SCALE + PIXEL_MEAN
