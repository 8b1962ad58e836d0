"""tf.data pipelines: formats agree, sharding covers the data once, flips, batches, errors."""

import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tfmfn import preprocess
from tfmfn.data import pipeline, recordio, tfrecord


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """A folder of 6 identities x 4 images; pixel (0, 0) encodes identity and image number,
    and the left half is darker than the right so that a flip is visible."""
    root = tmp_path_factory.mktemp("faces")
    for identity in range(6):
        folder = root / f"person{identity}"
        folder.mkdir()
        for k in range(4):
            image = np.full((112, 112, 3), 200, np.uint8)
            image[:, :56] = 40
            image[0, 0] = identity * 10 + k
            (folder / f"{k}.png").write_bytes(cv2.imencode(".png", image)[1].tobytes())
    return str(root)


def read_all(dataset):
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(images), np.concatenate(labels)


def tags(images):
    return np.round(preprocess.denormalize(images[:, 0, 0, 0])).astype(int).tolist()


def test_folder_source_in_order(faces):
    source = pipeline.open_source(faces)
    assert (source.format, source.num_images, source.num_classes) == ("folder", 24, 6)
    images, labels = read_all(pipeline.make_dataset(source, 5, training=False, drop_remainder=False))
    assert images.dtype == np.float32 and images.shape == (24, 112, 112, 3)
    assert tags(images) == [identity * 10 + k for identity in range(6) for k in range(4)]
    assert labels.tolist() == [identity for identity in range(6) for _ in range(4)]
    assert images.min() >= -1 and images.max() <= 1


def test_all_three_formats_give_the_same_examples(faces, tmp_path):
    folder = pipeline.open_source(faces)
    recordio.write_insightface_rec(tmp_path / "rec", folder.samples(), (112, 112))
    summary = tfrecord.write_tfrecords(folder.samples(), str(tmp_path / "tfr" / "faces"), num_shards=3)
    assert summary["num_images"] == 24 and summary["num_classes"] == 6
    expected = sorted(zip(tags(read_all(pipeline.make_dataset(folder, 4, training=False))[0]), range(24)))
    for path in (str(tmp_path / "rec"), str(tmp_path / "tfr" / "faces")):
        source = pipeline.open_source(path)
        assert source.num_images == 24 and source.num_classes == 6
        images, labels = read_all(pipeline.make_dataset(source, 4, training=False))
        assert sorted(zip(tags(images), labels.tolist())) == sorted(
            (tag, tag // 10) for tag, _ in expected
        )


def test_training_shuffles_flips_and_repeats(faces):
    dataset = pipeline.make_dataset(faces, 8, seed=1)
    images, labels = next(iter(dataset))
    assert images.shape == (8, 112, 112, 3) and labels.shape == (8,)
    first_batches = [tags(batch.numpy()) for batch, _ in dataset.take(6)]
    seen = sum(first_batches, [])
    assert len(seen) == 48  # repeats past the 24 images
    assert seen[:24] != sorted(seen[:24])  # shuffled
    left = [preprocess.denormalize(batch.numpy()[:, 50, 10, 0]) for batch, _ in dataset.take(6)]
    left = np.concatenate(left)
    flipped = np.isclose(left, 200, atol=2).mean()
    assert 0.2 < flipped < 0.8  # about half the images are mirrored


def test_each_epoch_is_a_permutation_and_the_stream_is_a_function_of_the_seed(faces):
    first = tags(read_all(pipeline.make_dataset(faces, 8, flip=False, seed=3).take(6))[0])
    again = tags(read_all(pipeline.make_dataset(faces, 8, flip=False, seed=3).take(6))[0])
    other = tags(read_all(pipeline.make_dataset(faces, 8, flip=False, seed=4).take(6))[0])
    assert first == again and first != other
    every_image = sorted(identity * 10 + k for identity in range(6) for k in range(4))
    assert sorted(first[:24]) == every_image and sorted(first[24:]) == every_image
    assert first[:24] != first[24:]  # a new permutation each epoch


@pytest.mark.parametrize("as_tfrecords", [False, True])
def test_resumed_stream_reads_what_the_uninterrupted_one_read(faces, tmp_path, as_tfrecords):
    path = faces
    if as_tfrecords:
        path = str(tmp_path / "faces")
        tfrecord.write_tfrecords(pipeline.open_source(faces).samples(), path, num_shards=3)
    whole = read_all(pipeline.make_dataset(path, 8, seed=5).take(7))
    resumed = read_all(pipeline.make_dataset(path, 8, seed=5, start_step=4).take(3))
    np.testing.assert_array_equal(resumed[0], whole[0][32:])  # flips included
    np.testing.assert_array_equal(resumed[1], whole[1][32:])


def test_replicas_together_read_the_single_device_batch(faces):
    single = read_all(pipeline.make_dataset(faces, 8, seed=2, start_step=1).take(4))[0]
    shares = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(2, pipeline_id, 2)
        shares.append(read_all(pipeline.make_dataset(faces, 8, seed=2, start_step=1, input_context=context).take(4))[0])
    together = np.concatenate([np.concatenate([shares[0][4 * step: 4 * step + 4], shares[1][4 * step: 4 * step + 4]])
                               for step in range(4)])
    np.testing.assert_array_equal(together, single)


def test_sharding_covers_every_image_exactly_once(faces, tmp_path):
    tfrecord.write_tfrecords(pipeline.open_source(faces).samples(), str(tmp_path / "faces"), num_shards=4)
    for path in (faces, str(tmp_path / "faces")):
        seen = []
        for pipeline_id in range(2):
            context = tf.distribute.InputContext(2, pipeline_id, 2)
            dataset = pipeline.make_dataset(path, 4, training=False, input_context=context, drop_remainder=False)
            images, _ = read_all(dataset)
            batch_sizes = [int(batch.shape[0]) for batch, _ in dataset]
            assert max(batch_sizes) == 2  # the global batch of 4 split over 2 replicas
            seen.extend(tags(images))
        assert sorted(seen) == sorted(identity * 10 + k for identity in range(6) for k in range(4))


def test_mirrored_strategy_on_two_cpu_devices(faces):
    code = textwrap.dedent(
        f"""
        import tfmfn, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfmfn.data import make_dataset
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        dataset = strategy.distribute_datasets_from_function(
            lambda context: make_dataset({faces!r}, 8, input_context=context, seed=0))
        images, labels = next(iter(dataset))
        print(strategy.num_replicas_in_sync, [int(x.shape[0]) for x in strategy.experimental_local_results(labels)])
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "2 [4, 4]"


def test_resizes_other_sizes_and_skips_corrupt_files(faces, tmp_path):
    folder = tmp_path / "mixed"
    for identity in range(2):
        (folder / f"p{identity}").mkdir(parents=True)
        big = np.full((224, 200, 3), 100 + identity, np.uint8)
        (folder / f"p{identity}" / "big.jpg").write_bytes(cv2.imencode(".png", big)[1].tobytes())
    (folder / "p1" / "broken.jpg").write_bytes(b"not an image")
    images, labels = read_all(pipeline.make_dataset(str(folder), 1, training=False))
    assert images.shape == (2, 112, 112, 3) and labels.tolist() == [0, 1]
    assert tags(images) == [100, 101]


def test_unlabelled_folder_follows_linked_folders_once_each(faces, tmp_path):
    """A split by person made of links (as tests and users make one) reads every real image once."""
    split = tmp_path / "split"
    split.mkdir()
    for name in ("person0", "person1"):
        (split / name).symlink_to(f"{faces}/{name}")
    (split / "again").symlink_to(f"{faces}/person0")
    (split / "loop").symlink_to(split)
    source = pipeline.open_source(str(split), labelled=False)
    assert source.num_images == 8 and sorted(os.path.basename(os.path.dirname(path)) for path in source.files) == [
        "again"] * 4 + ["person1"] * 4


def test_errors_say_what_to_do(faces, tmp_path):
    with pytest.raises(ValueError, match="batch size 64 is larger than the 24 images"):
        pipeline.make_dataset(faces, 64)
    single = tmp_path / "single" / "only"
    single.mkdir(parents=True)
    (single / "a.png").write_bytes(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    with pytest.raises(ValueError, match="training needs at least 2"):
        pipeline.make_dataset(str(tmp_path / "single"), 1)
    (tmp_path / "single" / "no_images").mkdir()
    with pytest.raises(ValueError, match="training needs at least 2"):  # an empty folder is no identity
        pipeline.make_dataset(str(tmp_path / "single"), 1)
    with pytest.raises(ValueError, match="verification set"):
        pipeline.open_source("lfw.bin")
    with pytest.raises(FileNotFoundError, match="no TFRecord files found"):
        pipeline.open_source(str(tmp_path / "nothing"))
    (tmp_path / "notes.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    with tf.io.TFRecordWriter(str(tmp_path / "other.tfrecord")) as writer:
        writer.write(tf.train.Example().SerializeToString())
    for path in ("notes.txt", "other.tfrecord"):
        with pytest.raises(ValueError, match="not training data tfmfn reads: give an insightface folder"):
            pipeline.open_source(str(tmp_path / path))
    unknown = run_data_cli("inspect", str(tmp_path / "notes.txt"))
    assert unknown.returncode == 1 and unknown.stderr.strip().splitlines()[-1].startswith(
        f"error: {tmp_path / 'notes.txt'}: not training data tfmfn reads")


@pytest.fixture(scope="module")
def sorted_identities(tmp_path_factory):
    """400 identities x 3 tiny images, in identity order: how insightface's .rec files come."""
    root = tmp_path_factory.mktemp("sorted")
    encoded = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    for identity in range(400):
        folder = root / f"id{identity:04d}"
        folder.mkdir()
        for k in range(3):
            (folder / f"{k}.png").write_bytes(encoded)
    return str(root)


def run_data_cli(*arguments, cwd=None):
    return subprocess.run([sys.executable, "-m", "tfmfn.data", *arguments], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def shard_labels(prefix):
    return [[int(label) for _, label in tf.data.TFRecordDataset(shard).map(tfrecord.parse)]
            for shard in tfrecord.find_shards(prefix)]


def test_convert_writes_a_seeded_random_order(sorted_identities, tmp_path):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        result = run_data_cli("convert", "--data", sorted_identities, "--out", str(tmp_path / name / "faces"),
                              "--shards", "4", "--seed", seed)
        assert result.returncode == 0, result.stderr[-2000:]
    shards = shard_labels(str(tmp_path / "a" / "faces"))
    assert sorted(sum(shards, [])) == [identity for identity in range(400) for _ in range(3)]
    for labels in shards:
        assert np.mean(np.diff(labels) < 0) >= 0.4  # in identity order none decrease; at random about half
    assert shards == shard_labels(str(tmp_path / "b" / "faces"))
    assert shards != shard_labels(str(tmp_path / "c" / "faces"))
    again = run_data_cli("convert", "--data", sorted_identities, "--out", str(tmp_path / "a" / "faces"))
    assert again.returncode == 1 and "a TFRecord set is already there" in again.stderr.strip().splitlines()[-1]
    assert shard_labels(str(tmp_path / "a" / "faces")) == shards  # nothing overwritten


def test_tfrecords_in_identity_order_give_batches_of_a_narrow_band(sorted_identities, tmp_path, monkeypatch):
    """The reader's shuffle, cut to blocks of 100 records here (20,000 in training, against MS1M's 5.8M
    images), only mixes what is near in the file: identity-ordered shards give batches of neighbours."""
    monkeypatch.setattr(pipeline, "_SHUFFLE_BUFFER", 100)
    source = pipeline.open_source(sorted_identities)
    spans = {}
    for name, seed in (("in_order", None), ("seeded", 0)):
        tfrecord.write_tfrecords(source.samples(seed=seed), str(tmp_path / name / "faces"), num_shards=8)
        stream = pipeline.open_source(str(tmp_path / name / "faces")).training_stream(64, seed=3)
        labels = np.array([int(label) for _, label, _ in stream.take(64 * 10)]).reshape(10, 64)
        spans[name] = np.median(np.percentile(labels, 90, axis=1) - np.percentile(labels, 10, axis=1))
    assert spans["in_order"] < 0.3 * 400  # the middle 80% of a batch: measured 69 identities
    assert spans["seeded"] > 0.6 * 400  # a uniform draw: about 0.8 * 400 (measured 312)


def test_tfrecords_go_through_tensorflows_file_systems(faces, tmp_path):
    prefix = "ram://tfmfn-test/faces"
    tfrecord.write_tfrecords(pipeline.open_source(faces).samples(seed=0), prefix, num_shards=2)
    source = pipeline.open_source(prefix)
    assert (source.format, source.num_images, source.num_classes) == ("tfrecord", 24, 6)
    assert source.files == [f"{prefix}-0000{shard}-of-00002.tfrecord" for shard in range(2)]
    _, labels = read_all(pipeline.make_dataset(source, 4, training=False))
    assert sorted(labels.tolist()) == [identity for identity in range(6) for _ in range(4)]
    offline = run_data_cli("convert", "--data", faces, "--out", "gs://tfmfn-no-such-bucket/faces", cwd=tmp_path)
    assert offline.returncode == 1
    assert offline.stderr.strip().splitlines()[-1].startswith("error: cannot write gs://tfmfn-no-such-bucket/faces: ")
    assert list(tmp_path.iterdir()) == []  # no local folder named gs:


def test_tfrecord_pipelines_seed_their_augmentation_by_global_position(faces, tmp_path):
    """Positions seed flips: were they per pipeline, every worker would flip its i-th image alike."""
    tfrecord.write_tfrecords(pipeline.open_source(faces).samples(seed=0), str(tmp_path / "faces"), num_shards=4)
    source = pipeline.open_source(str(tmp_path / "faces"))
    assert source.file_sizes == [6, 6, 6, 6]
    positions = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(2, pipeline_id, 2)
        stream = source.training_stream(8, seed=0, start_step=1, input_context=context)
        positions.append([int(position) for _, _, position in stream.take(8)])
    assert positions == [[8, 9, 10, 11, 16, 17, 18, 19], [12, 13, 14, 15, 20, 21, 22, 23]]


@pytest.mark.parametrize("shards", [3, 1])
def test_a_tfrecord_run_resumed_late_reads_only_its_last_epoch(faces, tmp_path, shards):
    """Step 10**6 of batch 8 on 24 images, position 8e6 = epoch 333,333 + 8 records: the epochs before it are not
    read (reading 8e6 records takes minutes; measured 20 s per 8e5). Equality with the uninterrupted stream is
    the resume test above."""
    prefix = str(tmp_path / "faces")
    tfrecord.write_tfrecords(pipeline.open_source(faces).samples(seed=0), prefix, num_shards=shards)
    code = textwrap.dedent(
        f"""
        import json
        from tfmfn.data import pipeline
        stream = pipeline.open_source({prefix!r}).training_stream(8, seed=4, start_step=10**6)
        print(json.dumps([[int(label), int(position)] for _, label, position in stream.take(16 + 24)]))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    labels, positions = zip(*json.loads(result.stdout.strip().splitlines()[-1]))
    assert positions == tuple(range(8 * 10**6, 8 * 10**6 + 40))
    assert sorted(labels[16:]) == [identity for identity in range(6) for _ in range(4)]  # the next epoch, whole
