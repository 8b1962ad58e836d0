"""Face datasets as tf.data pipelines of (normalised image, integer label) batches.

`open_source(path)` recognises the three training formats:

| path                                           | format    |
|------------------------------------------------|-----------|
| a folder with `train.rec` (or the `.rec` file) | insightface RecordIO |
| TFRecord shards (prefix, `.json`, file, glob)  | tfmfn's TFRecord schema |
| a folder of identity sub-folders               | image folders |
| any folder of images, `labelled=False`         | unlabelled images (distillation): each image's label is its number |

`make_dataset(source, batch_size)` shards (per `tf.distribute.InputContext`),
shuffles, decodes in parallel, flips and lightly augments, normalises to
`(x - 127.5) / 128`, batches (dropping the remainder by default, as TPUs need)
and prefetches. Images that fail to decode are skipped with a warning; a record
of a `.rec` file that cannot be read (the file is damaged there) stops the
pipeline with `DamagedDataError` (raised by `damaged_data_errors`), instead of
skipping, with a warning each, every image of the damaged region, epoch after epoch.

Example:

    >>> source = open_source("runs/synth/train")               # doctest: +SKIP
    >>> batches = make_dataset(source, batch_size=32)          # doctest: +SKIP
    >>> images, labels = next(iter(batches))                   # doctest: +SKIP

Under a strategy, build it per replica:
`strategy.distribute_datasets_from_function(lambda ctx: make_dataset(source, 512, input_context=ctx))`
gives each replica 512 / num_replicas images a step.
"""

import contextlib
import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfmfn import preprocess
from tfmfn.data import folders, recordio, tfrecord

_READ_CHUNK = 64
_TFRECORD_CYCLE = 8
_SHUFFLE_BUFFER = 20000
_ENDLESS = 2**62
_UNREADABLE = b"tfmfn: unreadable record"
_DAMAGED = "tfmfn: damaged data"


class DamagedDataError(ValueError):
    """A record of the training data could not be read."""


@dataclasses.dataclass
class FaceSource:
    """A training set: where it is, what format, how many images and identities (0 for unlabelled
    "images", whose `labels` are the images' numbers in `files`)."""

    format: str
    path: str
    num_images: int
    num_classes: int
    reader: object = None
    files: list = None
    labels: list = None
    file_sizes: list = None  # TFRecords: the records in each file
    damage: str = None  # the first unreadable record's error, once the pipeline met one

    def samples(self, seed=None):
        """(encoded image bytes, label) for every image (for conversion and inspection): in order, or
        with a `seed` in a random order drawn from it (TFRecords: through a shuffle buffer)."""
        if self.format != "tfrecord":
            order = range(self.num_images) if seed is None else np.random.default_rng(seed).permutation(self.num_images)
        if self.format == "rec":
            for position in order:
                yield self.reader.read(int(position))
        elif self.format in ("folder", "images"):
            for position in order:
                with open(self.files[position], "rb") as stream:
                    yield stream.read(), self.labels[position]
        else:
            records = tf.data.TFRecordDataset(self.files)
            if seed is not None:
                records = records.shuffle(min(self.num_images, _SHUFFLE_BUFFER), seed=seed)
            for image, label in records.map(tfrecord.parse):
                yield image.numpy(), int(label)

    def encoded(self, input_context=None):
        """(encoded image, label) of every image once, in order, sharded for `input_context`."""
        num_shards = input_context.num_input_pipelines if input_context else 1
        shard = input_context.input_pipeline_id if input_context else 0
        if self.format == "tfrecord":
            return self._tfrecord_records(num_shards, shard).map(tfrecord.parse, num_parallel_calls=tf.data.AUTOTUNE)
        return self._read(tf.data.Dataset.range(self.num_images).shard(num_shards, shard))

    def training_stream(self, batch_size, seed, start_step=0, input_context=None):
        """(encoded image, label, stream position) forever, from global step `start_step` on.

        The stream is a sequence of epochs, each a permutation of the images drawn from
        (`seed`, epoch); step t's global batch is positions t*batch_size ... (t+1)*batch_size-1,
        of which each input pipeline reads its contiguous share. So the stream is a pure
        function of `seed`: a run resumed at step k reads what the uninterrupted run read,
        and one device reads what several replicas read together. The position (which
        seeds an image's augmentation) is the global one, different on every pipeline.
        TFRecords cannot be indexed: each input pipeline reads its own files, an epoch
        at a time, in an order drawn from (`seed`, epoch), shuffled in blocks of
        20,000 records; a resumed run starts at its epoch and reads again only what it
        consumed of that epoch (without decoding it).
        """
        num_pipelines = input_context.num_input_pipelines if input_context else 1
        pipeline_id = input_context.input_pipeline_id if input_context else 0
        share = batch_size // num_pipelines

        def global_position(local):
            return (local // share) * batch_size + pipeline_id * share + local % share

        consumed = start_step * share
        if self.format == "tfrecord":
            first_epoch, offset = divmod(consumed, self._pipeline_epoch_size(num_pipelines, pipeline_id))

            def epoch_records(epoch):
                return self._tfrecord_records(num_pipelines, pipeline_id, tf.stack([tf.constant(seed, tf.int64), epoch]))

            records = tf.data.Dataset.range(first_epoch, _ENDLESS).flat_map(epoch_records)
            stream = records.skip(offset).map(tfrecord.parse, num_parallel_calls=tf.data.AUTOTUNE)
            positions = tf.data.Dataset.range(consumed, _ENDLESS).map(global_position)
            return tf.data.Dataset.zip(stream, positions).map(lambda example, position: (*example, position))

        positions = tf.data.Dataset.range(consumed, _ENDLESS).map(global_position)
        count = tf.constant(self.num_images, tf.int64)

        def image_index(position):
            seed_for_epoch = tf.stack([tf.constant(seed, tf.int64), position // count])
            return tf.random.experimental.index_shuffle(position % count, seed_for_epoch, count - 1)

        indices = positions.map(image_index)
        return tf.data.Dataset.zip(self._read(indices), positions).map(lambda example, position: (*example, position))

    def _read(self, indices):
        if self.format == "rec":
            return indices.batch(_READ_CHUNK).map(self._read_records, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
        files = tf.constant(self.files)
        labels = tf.constant(self.labels, tf.int32)
        return indices.map(
            lambda index: (tf.io.read_file(files[index]), labels[index]), num_parallel_calls=tf.data.AUTOTUNE
        )

    def _read_records(self, indices):
        def read(chunk):
            images, labels = zip(*(self._read_record(int(index)) for index in chunk.numpy()))
            return np.array(images, dtype=object), np.array(labels, dtype=np.int32)

        images, labels = tf.py_function(read, [indices], [tf.string, tf.int32])
        images.set_shape([None])
        labels.set_shape([None])
        return images, labels

    def _read_record(self, position):
        """The record at `position`, or a marker that `make_dataset` turns into DamagedDataError."""
        try:
            return self.reader.read(position)
        except recordio.RecordIOError as error:
            self.damage = self.damage or str(error)
            return _UNREADABLE, 0

    def _tfrecord_records(self, num_shards, shard, seed=None):
        """Serialized examples of this shard, once. With a `seed` (two int64s, a stateless seed), the
        files are read in an order drawn from it, and the records shuffled in blocks of _SHUFFLE_BUFFER."""
        if len(self.files) < num_shards:
            records = tf.data.TFRecordDataset(self.files).shard(num_shards, shard)
        else:
            files = tf.constant(self.files[shard::num_shards])
            if seed is not None:
                files = tf.random.experimental.stateless_shuffle(files, seed)
            records = tf.data.Dataset.from_tensor_slices(files).interleave(
                tf.data.TFRecordDataset, cycle_length=_TFRECORD_CYCLE, num_parallel_calls=tf.data.AUTOTUNE
            )
        if seed is None:
            return records

        def shuffle_block(index, block):
            block_seed = tf.random.experimental.stateless_fold_in(seed, index)
            return tf.random.experimental.stateless_shuffle(block, block_seed)

        blocks = records.batch(min(self.num_images, _SHUFFLE_BUFFER)).enumerate()
        return blocks.map(shuffle_block, num_parallel_calls=tf.data.AUTOTUNE).unbatch()

    def _pipeline_epoch_size(self, num_shards, shard):
        """How many records `_tfrecord_records(num_shards, shard)` yields."""
        if len(self.files) < num_shards:
            return len(range(shard, self.num_images, num_shards))
        return sum(self.file_sizes[shard::num_shards])


def open_source(path, labelled=True):
    """The `FaceSource` at `path` (insightface folder or .rec, TFRecords, identity folders); with
    `labelled=False`, a folder of images: every image in it and its sub-folders, unlabelled (an
    insightface folder or TFRecords stay labelled)."""
    if path.endswith(".bin"):
        raise ValueError(f"{path} is a verification set (pairs), not training data; pass it to --eval_bins")
    if not labelled and not os.path.isdir(path):
        raise ValueError(
            f"{path}: unlabelled training data is a folder of aligned face images (any layout); "
            "python -m tfmfn.align --input PHOTOS --out FOLDER makes one from photos"
        )
    rec_folder = os.path.dirname(path) if path.endswith(".rec") else path
    if os.path.isfile(os.path.join(rec_folder, "train.rec")) or path.endswith(".rec"):
        name = os.path.splitext(os.path.basename(path))[0] if path.endswith(".rec") else "train"
        reader = recordio.InsightFaceRec(rec_folder, name)
        return FaceSource("rec", path, reader.num_images, reader.num_classes, reader=reader)
    if os.path.isdir(path) and not any(name.endswith(".tfrecord") for name in os.listdir(path)):
        if not labelled:
            return _unlabelled(path)
        files, labels, names = folders.list_identity_folders(path)
        return FaceSource("folder", path, len(files), len(names), files=files, labels=labels)
    shards = tfrecord.find_shards(path)
    summary = tfrecord.read_summary(path) or {}
    sizes = dict(zip(summary.get("shards", []), summary.get("shard_images", tfrecord.round_robin_sizes(summary))))
    if not all(os.path.basename(shard) in sizes for shard in shards):
        labels = [_labels_of(shard, path) for shard in shards]
        sizes = {os.path.basename(shard): len(shard_labels) for shard, shard_labels in zip(shards, labels)}
        summary = {"num_images": sum(sizes.values()), "num_classes": len(set().union(*labels))}
    file_sizes = [sizes[os.path.basename(shard)] for shard in shards]
    return FaceSource("tfrecord", path, summary["num_images"], summary["num_classes"], files=shards,
                      file_sizes=file_sizes)


def _unlabelled(path):
    files = folders.list_images(path)
    return FaceSource("images", path, len(files), 0, files=files, labels=list(range(len(files))))


def _labels_of(shard, path):
    try:
        return [int(label) for _, label in tf.data.TFRecordDataset(shard).map(tfrecord.parse)]
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError):
        raise ValueError(
            f"{path}: not training data tfmfn reads: give an insightface folder or .rec, TFRecords of "
            "tfmfn's schema (image/encoded, image/label; `python -m tfmfn.data convert` writes them) "
            "or a folder of identity sub-folders"
        ) from None


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


def _decode_readable(encoded, image_size):
    """(decode_image, False), or (zeros, True) for an unreadable record's marker, which must reach
    `_refuse_unreadable` past ignore_errors."""
    unreadable = tf.equal(encoded, _UNREADABLE)
    image = tf.cond(unreadable, lambda: tf.zeros([*image_size, 3]), lambda: decode_image(encoded, image_size))
    return image, unreadable


def _refuse_unreadable(image, *rest):
    """(image, label[, mirrored]) of (image, label[, mirrored], unreadable), asserting it was readable."""
    *extra, unreadable = rest
    with tf.control_dependencies([tf.debugging.Assert(tf.logical_not(unreadable), [_DAMAGED])]):
        return (tf.identity(image), *extra)


@contextlib.contextmanager
def damaged_data_errors(source):
    """Turns the error of an unreadable record met by `make_dataset(source)` into DamagedDataError."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        if _DAMAGED not in error.message:
            raise
        damage = source.damage or f"{source.path}: a record could not be read"
        raise DamagedDataError(
            f"{damage} (met while reading the data; python -m tfmfn.data inspect {source.path} checks every record)"
        ) from None


def augment(image, seed, flip=True, light=False):
    """(image, whether it was mirrored): a random horizontal flip; with `light`, small random
    brightness, contrast and saturation.

    Stateless: the same `seed` (shape [2]) gives the same augmentation, wherever it runs.
    """
    seeds = tf.random.experimental.stateless_split(seed, 4)
    mirrored = tf.constant(False)
    if flip:
        mirrored = tf.random.stateless_uniform([], seeds[0]) < 0.5
        image = tf.cond(mirrored, lambda: tf.image.flip_left_right(image), lambda: image)
    if light:
        image = tf.image.stateless_random_brightness(image, 20.0, seeds[1])
        image = tf.image.stateless_random_contrast(image, 0.8, 1.2, seeds[2])
        image = tf.image.stateless_random_saturation(image, 0.8, 1.2, seeds[3])
        image = tf.clip_by_value(image, 0.0, 255.0)
    return image, mirrored


def open_faces(path):
    """The `FaceSource` of faces to sample at `path`: training data, or any folder of face images,
    whose layout is not read."""
    return open_source(path, labelled=not os.path.isdir(path))


def sample_faces(source, count, image_size=preprocess.INPUT_SIZE, skip=0, seed=0):
    """Up to `count` uint8 faces (N, H, W, 3) drawn at random from `source` (a FaceSource or a
    path for `open_faces`), the first `skip` of the draw left out (two calls can give disjoint
    samples)."""
    if isinstance(source, str):
        source = open_faces(source)
    count = min(count, source.num_images - skip)
    if count < 1:
        raise ValueError(f"{source.path}: {source.num_images} images, none left after skipping {skip}")
    stream = source.training_stream(1, seed, 0, None).skip(skip).take(count)
    images = stream.map(lambda encoded, label, position: decode_image(encoded, image_size))
    return np.stack([image.numpy() for image in images]).astype(np.uint8)


def check_training_source(source, batch_size):
    """Raises ValueError, saying what to do, when `source` cannot give batches of `batch_size`."""
    if source.format != "images" and source.num_classes < 2:
        raise ValueError(f"{source.path}: {source.num_classes} identity; training needs at least 2")
    if batch_size > source.num_images:
        raise ValueError(
            f"batch size {batch_size} is larger than the {source.num_images} images in {source.path}; "
            "use a smaller --batch_size"
        )


def make_dataset(
    source,
    batch_size,
    image_size=preprocess.INPUT_SIZE,
    training=True,
    flip=True,
    light_augment=False,
    input_context=None,
    drop_remainder=True,
    seed=0,
    start_step=0,
    mirror_flags=False,
):
    """Batches of (normalised float32 images, int32 labels) from a `FaceSource`, with
    `mirror_flags` (training only) (images, labels, whether each image was mirrored).

    `batch_size` is the global batch; with an `input_context` each pipeline yields
    its replicas' share. Training data repeats forever, a new permutation each epoch,
    and is augmented; images and augmentations are a function of `seed` and the
    position in the stream, so the batches from `start_step` on are those an
    uninterrupted run would read there. With `training=False` the data is read
    once, in order, without augmentation.
    """
    if isinstance(source, str):
        source = open_source(source)
    check_training_source(source, batch_size)
    per_replica = input_context.get_per_replica_batch_size(batch_size) if input_context else batch_size
    if training:
        seed_tensor = tf.constant(seed, tf.int64)

        def prepare(encoded, label, position):
            image, unreadable = _decode_readable(encoded, image_size)
            image, mirrored = augment(image, tf.stack([seed_tensor, position]), flip, light_augment)
            if mirror_flags:
                return preprocess.normalize(image), label, mirrored, unreadable
            return preprocess.normalize(image), label, unreadable

        dataset = source.training_stream(batch_size, seed, start_step, input_context)
    else:

        def prepare(encoded, label):
            image, unreadable = _decode_readable(encoded, image_size)
            return preprocess.normalize(image), label, unreadable

        dataset = source.encoded(input_context)
    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.ignore_errors(log_warning=True)  # undecodable images; unreadable records pass, and stop here:
    dataset = dataset.map(_refuse_unreadable, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(per_replica, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
