"""What is in a dataset file or folder, and how fast the input pipeline reads it.

Example:

    >>> summary = inspect_path("runs/synth/val.bin")             # doctest: +SKIP
    >>> summary["format"], summary["num_pairs"]                  # doctest: +SKIP
    ('bin', 2000)
"""

import collections
import time

import cv2
import numpy as np

from tfmfn.data import bins, pipeline


def _decoded_shape(encoded):
    image = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else image.shape


def inspect_path(path, progress=True):
    """`{"format", "num_images", "num_classes", "corrupt", "image_shape"}` of a `.rec`
    (or its folder), `.bin`, TFRecord set or image folder; `.bin` adds `num_pairs` and
    `num_positive`. Every image is decoded to count the corrupt ones; `image_shape` is
    the most common decoded shape."""
    from tqdm import tqdm

    if path.endswith(".bin"):
        pairs = bins.load_bin(path)
        shapes, corrupt = collections.Counter(), 0
        for index in tqdm(range(len(pairs.images)), desc="decoding", unit="image", disable=not progress):
            try:
                shapes[pairs.decode(index).shape] += 1
            except bins.BinFormatError:
                corrupt += 1
        return {
            "format": "bin",
            "num_images": len(pairs.images),
            "num_classes": None,
            "corrupt": corrupt,
            "image_shape": list(shapes.most_common(1)[0][0]) if shapes else None,
            "num_pairs": pairs.num_pairs,
            "num_positive": int(pairs.issame.sum()),
        }
    source = pipeline.open_source(path)
    shapes, corrupt, labels = collections.Counter(), 0, set()
    for encoded, label in tqdm(source.samples(), total=source.num_images, desc="decoding", unit="image", disable=not progress):
        shape = _decoded_shape(encoded)
        labels.add(label)
        if shape is None:
            corrupt += 1
        else:
            shapes[shape] += 1
    return {
        "format": source.format,
        "num_images": source.num_images,
        "num_classes": len(labels),
        "corrupt": corrupt,
        "image_shape": list(shapes.most_common(1)[0][0]) if shapes else None,
    }


def bench(path, batch_size=256, steps=50, warmup=5, flip=True, light_augment=False):
    """Images per second through `make_dataset` (decode, flip, normalise, batch)."""
    source = pipeline.open_source(path)
    dataset = pipeline.make_dataset(
        source, min(batch_size, source.num_images), flip=flip, light_augment=light_augment
    )
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    images = 0
    for _ in range(steps):
        batch, _ = next(iterator)
        images += int(batch.shape[0])
    elapsed = time.perf_counter() - start
    return {"images_per_second": images / elapsed, "images": images, "seconds": elapsed, "format": source.format}
