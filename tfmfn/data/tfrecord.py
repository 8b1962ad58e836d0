"""tfmfn's TFRecord schema for face datasets, and the converter that writes it.

Each example holds one encoded face (JPEG or PNG, as it came) and its identity:

| feature         | type   | meaning                                  |
|-----------------|--------|------------------------------------------|
| image/encoded   | bytes  | the encoded image                        |
| image/label     | int64  | identity, 0 .. num_classes - 1           |

Files are written as `<prefix>-00000-of-00008.tfrecord` shards beside a
`<prefix>.json` that records `num_images` and `num_classes`, so a reader knows the
dataset's size without a pass over it. TFRecords are what TPUs read best.

Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_tfrecords([(b"jpeg-a", 0), (b"jpeg-b", 1)], folder + "/faces", num_shards=2)
    {'num_images': 2, 'num_classes': 2, 'shards': ['faces-00000-of-00002.tfrecord', 'faces-00001-of-00002.tfrecord']}
"""

import glob
import json
import os

import tensorflow as tf

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


def write_tfrecords(samples, prefix, num_shards=8, progress=False):
    """Writes (encoded image, label) samples round-robin into `num_shards` files."""
    from tqdm import tqdm

    folder = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    names = [f"{os.path.basename(prefix)}-{shard:05d}-of-{num_shards:05d}.tfrecord" for shard in range(num_shards)]
    writers = [tf.io.TFRecordWriter(os.path.join(folder, name)) for name in names]
    labels = set()
    count = 0
    try:
        for image, label in tqdm(samples, desc="writing TFRecords", unit="image", disable=not progress):
            writers[count % num_shards].write(serialize(image, label))
            labels.add(int(label))
            count += 1
    finally:
        for writer in writers:
            writer.close()
    summary = {"num_images": count, "num_classes": len(labels), "shards": names}
    with open(f"{prefix}.json", "w") as stream:
        json.dump(summary, stream, indent=2)
    return summary


def find_shards(path):
    """The shard files of a TFRecord dataset given as a prefix, a .json summary, a file or a glob."""
    base = path[: -len(".json")] if path.endswith(".json") else path
    for pattern in (path, f"{base}-*-of-*.tfrecord", os.path.join(path, "*.tfrecord")):
        shards = sorted(glob.glob(pattern))
        shards = [shard for shard in shards if not shard.endswith(".json") and os.path.isfile(shard)]
        if shards:
            return shards
    raise FileNotFoundError(f"{path}: no TFRecord files found (give a prefix, its .json, a file or a glob)")


def read_summary(path):
    """The `.json` written beside the shards, or None."""
    base = path[: -len(".json")] if path.endswith(".json") else path
    summary_path = f"{base}.json"
    if os.path.isfile(summary_path):
        with open(summary_path) as stream:
            return json.load(stream)
    return None
