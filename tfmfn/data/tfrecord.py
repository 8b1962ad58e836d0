"""tfmfn's TFRecord schema for face datasets, and the converter that writes it.

Each example holds one encoded face (JPEG or PNG, as it came) and its identity:

| feature         | type   | meaning                                  |
|-----------------|--------|------------------------------------------|
| image/encoded   | bytes  | the encoded image                        |
| image/label     | int64  | identity, 0 .. num_classes - 1           |

Files are written as `<prefix>-00000-of-00008.tfrecord` shards beside a
`<prefix>.json` that records `num_images`, `num_classes` and each shard's records,
so a reader knows the dataset's size without a pass over it. TFRecords are what TPUs read best. Paths go
through `tf.io.gfile`, so a prefix may be local, `gs://bucket/...` or any file
system TensorFlow has.

Give the writer its samples in a random order (`FaceSource.samples(seed=...)`, as
`python -m tfmfn.data convert` does): the reader shuffles 20,000 records at a
time, so shards written in the source's identity order would give
batches from a narrow band of identities.

Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> summary = write_tfrecords([(b"jpeg-a", 0), (b"jpeg-b", 1), (b"jpeg-c", 1)], folder + "/faces", num_shards=2)
    >>> summary["num_images"], summary["num_classes"], summary["shard_images"]
    (3, 2, [2, 1])
    >>> summary["shards"]
    ['faces-00000-of-00002.tfrecord', 'faces-00001-of-00002.tfrecord']
"""

import json
import os

import tensorflow as tf

gfile = tf.io.gfile

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/label": tf.io.FixedLenFeature([], tf.int64),
}


def serialize(image, label):
    """One example in tfmfn's schema."""
    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[bytes(image)])),
        "image/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse(serialized):
    """(encoded image, label) tensors from one serialized example."""
    example = tf.io.parse_single_example(serialized, FEATURES)
    return example["image/encoded"], tf.cast(example["image/label"], tf.int32)


def _folder(prefix):
    folder = os.path.dirname(prefix)
    return folder if "://" in prefix else os.path.abspath(folder or ".")


def _first_line(error):
    return f"{error.message.splitlines()[0]} (check the path, the network and the credentials)"


def write_tfrecords(samples, prefix, num_shards=8, progress=False):
    """Writes (encoded image, label) samples round-robin into `num_shards` files, in the order given.

    Refuses a prefix that already holds a set; a remote path that cannot be reached fails
    with OSError before anything is written."""
    from tqdm import tqdm

    folder = _folder(prefix)
    names = [f"{os.path.basename(prefix)}-{shard:05d}-of-{num_shards:05d}.tfrecord" for shard in range(num_shards)]
    try:
        if gfile.exists(f"{prefix}.json"):  # also the first request that reaches a remote store
            raise FileExistsError(f"{prefix}.json: a TFRecord set is already there; give another prefix or delete it")
        gfile.makedirs(folder)
        writers = [tf.io.TFRecordWriter(f"{folder}/{name}") for name in names]
        labels = set()
        shard_images = [0] * num_shards
        try:
            for image, label in tqdm(samples, desc="writing TFRecords", unit="image", disable=not progress):
                shard = sum(shard_images) % num_shards
                writers[shard].write(serialize(image, label))
                shard_images[shard] += 1
                labels.add(int(label))
        finally:
            for writer in writers:
                writer.close()
        summary = {"num_images": sum(shard_images), "num_classes": len(labels), "shards": names,
                   "shard_images": shard_images}
        with gfile.GFile(f"{prefix}.json", "w") as stream:
            json.dump(summary, stream, indent=2)
    except tf.errors.OpError as error:
        raise OSError(f"cannot write {prefix}: {_first_line(error)}") from None
    return summary


def round_robin_sizes(summary):
    """The records in each shard of a set written round-robin, for summaries that do not list them."""
    count, shards = summary.get("num_images", 0), len(summary.get("shards", []))
    return [count // shards + (shard < count % shards) for shard in range(shards)]


def find_shards(path):
    """The shard files of a TFRecord dataset given as a prefix, a .json summary, a file or a glob."""
    base = path[: -len(".json")] if path.endswith(".json") else path
    for pattern in (path, f"{base}-*-of-*.tfrecord", f"{path.rstrip('/')}/*.tfrecord"):
        try:
            shards = sorted(gfile.glob(pattern))
        except tf.errors.OpError as error:
            raise OSError(f"cannot read {path}: {_first_line(error)}") from None
        shards = [shard for shard in shards if not shard.endswith(".json") and not gfile.isdir(shard)]
        if shards:
            return shards
    raise FileNotFoundError(f"{path}: no TFRecord files found (give a prefix, its .json, a file or a glob)")


def read_summary(path):
    """The `.json` written beside the shards, or None."""
    base = path[: -len(".json")] if path.endswith(".json") else path
    summary_path = f"{base}.json"
    if gfile.exists(summary_path):
        with gfile.GFile(summary_path) as stream:
            return json.load(stream)
    return None
