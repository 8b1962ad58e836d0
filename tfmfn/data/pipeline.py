"""Face datasets as tf.data pipelines of (normalised image, integer label) batches.

`open_source(path)` recognises the three training formats:

| path                                           | format    |
|------------------------------------------------|-----------|
| a folder with `train.rec` (or the `.rec` file) | insightface RecordIO |
| TFRecord shards (prefix, `.json`, file, glob)  | tfmfn's TFRecord schema |
| a folder of identity sub-folders               | image folders |

`make_dataset(source, batch_size)` shards (per `tf.distribute.InputContext`),
shuffles, decodes in parallel, flips and lightly augments, normalises to
`(x - 127.5) / 128`, batches (dropping the remainder by default, as TPUs need)
and prefetches. Images that fail to decode are skipped with a warning.

Example:

    >>> source = open_source("runs/synth/train")               # doctest: +SKIP
    >>> batches = make_dataset(source, batch_size=32)          # doctest: +SKIP
    >>> images, labels = next(iter(batches))                   # doctest: +SKIP

Under a strategy, build it per replica:
`strategy.distribute_datasets_from_function(lambda ctx: make_dataset(source, 512, input_context=ctx))`
gives each replica 512 / num_replicas images a step.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfmfn import preprocess
from tfmfn.data import folders, recordio, tfrecord

_READ_CHUNK = 64


@dataclasses.dataclass
class FaceSource:
    """A training set: where it is, what format, how many images and identities."""

    format: str
    path: str
    num_images: int
    num_classes: int
    reader: object = None
    files: list = None
    labels: list = None

    def samples(self):
        """(encoded image bytes, label) for every image, in order (for conversion and inspection)."""
        if self.format == "rec":
            for position in range(self.num_images):
                yield self.reader.read(position)
        elif self.format == "folder":
            for path, label in zip(self.files, self.labels):
                with open(path, "rb") as stream:
                    yield stream.read(), label
        else:
            for image, label in tf.data.TFRecordDataset(self.files).map(tfrecord.parse):
                yield image.numpy(), int(label)

    def encoded(self, input_context=None, shuffle=True, seed=None):
        """A dataset of (encoded image, label), sharded for `input_context`, shuffled if asked."""
        num_shards = input_context.num_input_pipelines if input_context else 1
        shard = input_context.input_pipeline_id if input_context else 0
        if self.format == "tfrecord":
            return self._tfrecord_examples(num_shards, shard, shuffle, seed)
        positions = tf.data.Dataset.range(self.num_images).shard(num_shards, shard)
        if shuffle:
            positions = positions.shuffle(self.num_images, seed=seed, reshuffle_each_iteration=True)
        if self.format == "rec":
            return positions.batch(_READ_CHUNK).map(
                self._read_records, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle
            ).unbatch()
        files = tf.constant(self.files)
        labels = tf.constant(self.labels, tf.int32)
        return positions.map(
            lambda position: (tf.io.read_file(files[position]), labels[position]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    def _read_records(self, positions):
        def read(chunk):
            images, labels = zip(*(self.reader.read(int(position)) for position in chunk.numpy()))
            return np.array(images, dtype=object), np.array(labels, dtype=np.int32)

        images, labels = tf.py_function(read, [positions], [tf.string, tf.int32])
        images.set_shape([None])
        labels.set_shape([None])
        return images, labels

    def _tfrecord_examples(self, num_shards, shard, shuffle, seed):
        files = tf.data.Dataset.from_tensor_slices(self.files)
        if len(self.files) >= num_shards:
            files = files.shard(num_shards, shard)
            if shuffle:
                files = files.shuffle(len(self.files), seed=seed)
            records = files.interleave(
                tf.data.TFRecordDataset, cycle_length=tf.data.AUTOTUNE, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=not shuffle,
            )
        else:
            records = tf.data.TFRecordDataset(files).shard(num_shards, shard)
        if shuffle:
            records = records.shuffle(min(self.num_images, 20000), seed=seed, reshuffle_each_iteration=True)
        return records.map(tfrecord.parse, num_parallel_calls=tf.data.AUTOTUNE)


def open_source(path):
    """The `FaceSource` at `path` (insightface folder or .rec, TFRecords, identity folders)."""
    if path.endswith(".bin"):
        raise ValueError(f"{path} is a verification set (pairs), not training data; pass it to --eval_bins")
    rec_folder = os.path.dirname(path) if path.endswith(".rec") else path
    if os.path.isfile(os.path.join(rec_folder, "train.rec")) or path.endswith(".rec"):
        name = os.path.splitext(os.path.basename(path))[0] if path.endswith(".rec") else "train"
        reader = recordio.InsightFaceRec(rec_folder, name)
        return FaceSource("rec", path, reader.num_images, reader.num_classes, reader=reader)
    if os.path.isdir(path) and not any(name.endswith(".tfrecord") for name in os.listdir(path)):
        files, labels, names = folders.list_identity_folders(path)
        return FaceSource("folder", path, len(files), len(names), files=files, labels=labels)
    shards = tfrecord.find_shards(path)
    summary = tfrecord.read_summary(path)
    if summary is None:
        labels = [int(label) for _, label in tf.data.TFRecordDataset(shards).map(tfrecord.parse)]
        summary = {"num_images": len(labels), "num_classes": len(set(labels))}
    return FaceSource("tfrecord", path, summary["num_images"], summary["num_classes"], files=shards)


def decode_image(encoded, image_size=preprocess.INPUT_SIZE):
    """Encoded JPEG/PNG/BMP/GIF -> float32 RGB pixels (H, W, 3) in [0, 255], resized if needed."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    image = tf.cast(image, tf.float32)
    if tuple(image_size) != tuple(image.shape[:2]):
        same_size = tf.reduce_all(tf.shape(image)[:2] == tf.constant(image_size))
        image = tf.cond(
            same_size,
            lambda: tf.ensure_shape(image, [*image_size, 3]),
            lambda: tf.image.resize(image, image_size, antialias=True),
        )
    return tf.ensure_shape(image, [*image_size, 3])


def augment(image, flip=True, light=False):
    """Random horizontal flip; with `light`, small random brightness, contrast and saturation."""
    if flip:
        image = tf.image.random_flip_left_right(image)
    if light:
        image = tf.image.random_brightness(image, 20.0)
        image = tf.image.random_contrast(image, 0.8, 1.2)
        image = tf.image.random_saturation(image, 0.8, 1.2)
        image = tf.clip_by_value(image, 0.0, 255.0)
    return image


def make_dataset(
    source,
    batch_size,
    image_size=preprocess.INPUT_SIZE,
    training=True,
    flip=True,
    light_augment=False,
    input_context=None,
    drop_remainder=True,
    seed=None,
):
    """Batches of (normalised float32 images, int32 labels) from a `FaceSource`.

    `batch_size` is the global batch; with an `input_context` each pipeline yields
    its replicas' share. Training data repeats forever and is shuffled; with
    `training=False` it is read once, in order, without augmentation.
    """
    if isinstance(source, str):
        source = open_source(source)
    if source.num_classes < 2:
        raise ValueError(f"{source.path}: {source.num_classes} identity; training needs at least 2")
    if batch_size > source.num_images:
        raise ValueError(
            f"batch size {batch_size} is larger than the {source.num_images} images in {source.path}; "
            "use a smaller --batch_size"
        )
    per_replica = input_context.get_per_replica_batch_size(batch_size) if input_context else batch_size
    dataset = source.encoded(input_context, shuffle=training, seed=seed)
    if training:
        dataset = dataset.repeat()

    def prepare(encoded, label):
        image = decode_image(encoded, image_size)
        if training:
            image = augment(image, flip, light_augment)
        return preprocess.normalize(image), label

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    dataset = dataset.ignore_errors(log_warning=True)
    dataset = dataset.batch(per_replica, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
