"""insightface RecordIO: multi-part records, label arrays, corrupt images, truncated files."""

import json
import os
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tfmfn.data import pipeline, recordio
from tfmfn.data.survey import inspect_path


def jpeg_with_magic(seed):
    """A valid JPEG whose comment segment holds the RecordIO magic at 4-byte-aligned
    positions of the record payload, which forces the writer to split the record."""
    rng = np.random.default_rng(seed)
    image = cv2.imencode(".jpg", rng.integers(0, 255, (112, 112, 3), dtype=np.uint8))[1].tobytes()
    # Payload = 24-byte header + image; the comment data starts at image offset 6.
    padding = b"\0" * ((-(24 + 6)) % 4)
    comment = padding + recordio._MAGIC_BYTES * 2 + b"tfmfn" + recordio._MAGIC_BYTES
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return image[:2] + segment + image[2:]


def plain_jpeg(seed):
    rng = np.random.default_rng(seed)
    return cv2.imencode(".jpg", rng.integers(0, 255, (112, 112, 3), dtype=np.uint8))[1].tobytes()


def record_flags(rec_path):
    """The continuation flag of every record part in a .rec file."""
    data = open(rec_path, "rb").read()
    flags, position = [], 0
    while position < len(data):
        magic, lrec = struct.unpack_from("<II", data, position)
        assert magic == recordio.MAGIC
        length = lrec & ((1 << 29) - 1)
        flags.append(lrec >> 29)
        position += 8 + length + (-length % 4)
    return flags


@pytest.mark.parametrize("label_arrays", [False, True])
def test_multi_part_records_and_label_arrays_read_back_exactly(tmp_path, label_arrays):
    samples = [(jpeg_with_magic(i) if i % 3 == 0 else plain_jpeg(i), i // 4) for i in range(12)]
    recordio.write_insightface_rec(tmp_path, samples, (112, 112), label_arrays=label_arrays)
    flags = record_flags(tmp_path / "train.rec")
    assert flags.count(1) == 4 and flags.count(2) == 4 and flags.count(3) == 4  # 4 split records
    faces = recordio.InsightFaceRec(str(tmp_path))
    assert faces.num_images == 12 and faces.num_classes == 3
    assert [faces.read(i) for i in range(12)] == samples
    for image, _ in (faces.read(0), faces.read(3)):
        assert cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR).shape == (112, 112, 3)


def test_header_record_and_identity_records_are_not_images(tmp_path):
    samples = [(plain_jpeg(i), label) for i, label in enumerate([0, 0, 1, 2, 2, 2])]
    recordio.write_insightface_rec(tmp_path, samples, (112, 112))
    faces = recordio.InsightFaceRec(str(tmp_path))
    assert faces.image_keys == [1, 2, 3, 4, 5, 6]
    header, _ = recordio.unpack(faces.record_file.read_at(0))
    assert header.flag == 2 and header.label.tolist() == [7.0, 10.0]
    identity_2, _ = recordio.unpack(faces.record_file.read_at(recordio.read_index(tmp_path / "train.idx")[9]))
    assert identity_2.label.tolist() == [4.0, 7.0]
    assert faces.property == (3, 112, 112)


def test_one_corrupt_jpeg_is_counted_and_the_rest_read(tmp_path):
    samples = [(plain_jpeg(i), i % 3) for i in range(9)]
    samples[4] = (b"\xff\xd8 this is not a jpeg", samples[4][1])
    recordio.write_insightface_rec(tmp_path, samples, (112, 112))
    summary = inspect_path(str(tmp_path), progress=False)
    assert summary == {
        "format": "rec", "num_images": 9, "num_classes": 3, "corrupt": 1, "image_shape": [112, 112, 3]
    }
    batches = pipeline.make_dataset(str(tmp_path), batch_size=1, training=False)
    labels = [int(label[0]) for _, label in batches]
    assert labels == [label for index, (_, label) in enumerate(samples) if index != 4]


@pytest.mark.parametrize("training", [True, False])
def test_a_damaged_region_stops_the_pipeline_with_its_offset(tmp_path, training):
    """Zeroed bytes in the middle of a .rec: every read of those records fails; skipping them with a warning
    each would repeat every epoch (forever, if the region were the whole file)."""
    samples = [(plain_jpeg(i), i % 3) for i in range(12)]
    recordio.write_insightface_rec(tmp_path, samples, (112, 112))
    offsets = recordio.read_index(tmp_path / "train.idx")
    with open(tmp_path / "train.rec", "r+b") as stream:
        stream.seek(offsets[4])
        stream.write(b"\0" * (offsets[7] - offsets[4]))
    source = pipeline.open_source(str(tmp_path))
    batches = pipeline.make_dataset(source, batch_size=4, training=training)
    damaged = "|".join(str(offsets[key]) for key in (4, 5, 6))
    with pytest.raises(pipeline.DamagedDataError, match=f"no RecordIO magic at offset ({damaged}) .*tfmfn.data inspect"):
        with pipeline.damaged_data_errors(source):
            for _ in zip(range(10), batches):
                pass


def test_truncated_rec_fails_with_the_offset(tmp_path):
    samples = [(plain_jpeg(i), i % 2) for i in range(6)]
    recordio.write_insightface_rec(tmp_path, samples, (112, 112))
    index = recordio.read_index(tmp_path / "train.idx")
    rec_path = tmp_path / "train.rec"
    cut = index[5] + 100
    os.truncate(rec_path, cut)
    with pytest.raises(recordio.RecordIOError, match=f"truncated record at offset {index[6]}"):
        recordio.InsightFaceRec(str(tmp_path))  # opening reads the last face (the largest identity)
    record_file = recordio.RecordFile(str(rec_path))
    assert recordio.unpack(record_file.read_at(index[4]))[1] == samples[3][0]
    with pytest.raises(recordio.RecordIOError, match=f"truncated record at offset {index[5]}"):
        record_file.read_at(index[5])
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.data", "inspect", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and f"offset {index[6]}" in error_lines[0] and "copy or download" in error_lines[0]


def test_mismatched_index_names_the_offset(tmp_path):
    recordio.write_insightface_rec(tmp_path, [(plain_jpeg(i), i % 2) for i in range(4)], (112, 112))
    faces = recordio.InsightFaceRec(str(tmp_path))
    with pytest.raises(recordio.RecordIOError, match="no RecordIO magic at offset 12"):
        faces.record_file.read_at(12)


def test_missing_files_say_what_a_dataset_holds(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.rec, train.idx and property"):
        recordio.InsightFaceRec(str(tmp_path))


def test_cli_inspect_json(tmp_path):
    recordio.write_insightface_rec(tmp_path, [(plain_jpeg(i), i % 4) for i in range(8)], (112, 112))
    result = subprocess.run(
        [sys.executable, "-m", "tfmfn.data", "inspect", str(tmp_path / "train.rec"), "--json"],
        capture_output=True, text=True, check=True,
    )
    summary = json.loads(result.stdout)
    assert summary["format"] == "rec" and summary["num_images"] == 8 and summary["num_classes"] == 4


def test_identity_counts_that_disagree_with_the_labels_are_refused(tmp_path):
    recordio.write_insightface_rec(tmp_path / "a", [(plain_jpeg(i), i // 2) for i in range(6)], (112, 112))
    (tmp_path / "a" / "property").write_text("2,112,112")
    with pytest.raises(recordio.RecordIOError, match=r"says 2 identities but .*train.rec holds 3; correct property to 3,112,112"):
        recordio.InsightFaceRec(str(tmp_path / "a"))
    recordio.write_insightface_rec(tmp_path / "b", [(plain_jpeg(i), label) for i, label in enumerate([0, 0, 1, 5])],
                                   (112, 112))
    with pytest.raises(recordio.RecordIOError, match=r"image 3: identity 5 is outside 0..2"):
        recordio.InsightFaceRec(str(tmp_path / "b"))
