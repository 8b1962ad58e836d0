"""insightface's MXNet RecordIO datasets (`train.rec`, `train.idx`, `property`) in pure Python.

A record is `uint32 magic 0xced7230a, uint32 lrec, payload, padding to 4 bytes`,
where `lrec >> 29` is the continuation flag and `lrec & (2**29 - 1)` the length.
A payload that contains the magic number at a 4-byte-aligned position is written
as several parts (flag 1 first, 2 middle, 3 last), split where the magic was; the
reader joins them with the magic in between. A payload is an `IfQQ` header
(flag, label, id, id2), then `flag` float32 labels when flag > 0, then the image.

insightface's layout: record 0 is a header whose label is (first identity record,
end); records 1 .. first-1 are face images labelled with their identity, and
records first .. end-1 describe identities. `property` is `num_classes,H,W`.

Example (synthetic data written by this module):

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_insightface_rec(folder, [(b"jpeg-0", 0), (b"jpeg-1", 1), (b"jpeg-2", 1)], (112, 112))
    >>> faces = InsightFaceRec(folder)
    >>> faces.num_images, faces.num_classes, faces.read(1)
    (3, 2, (b'jpeg-1', 1))
"""

import dataclasses
import os
import struct

import numpy as np

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1
_HEADER = struct.Struct("<IfQQ")


class RecordIOError(ValueError):
    """A RecordIO file that cannot be read as such (truncated, corrupt, mismatched index)."""


@dataclasses.dataclass(frozen=True)
class Header:
    """insightface's record header: `label` is a float, or a float32 array when flag > 0."""

    flag: int
    label: object
    id: int
    id2: int


def pack(header, payload):
    """A record payload: the IfQQ header, the label array if any, then `payload`."""
    label = np.atleast_1d(np.asarray(header.label, dtype=np.float32))
    if header.flag > 0:
        return _HEADER.pack(header.flag, 0.0, header.id, header.id2) + label.tobytes() + payload
    return _HEADER.pack(0, float(label[0]), header.id, header.id2) + payload


def unpack(record, where="record"):
    """Splits a record payload into (`Header`, image bytes)."""
    if len(record) < _HEADER.size:
        raise RecordIOError(f"{where}: {len(record)} bytes is shorter than a record header ({_HEADER.size})")
    flag, label, record_id, record_id2 = _HEADER.unpack_from(record)
    body = record[_HEADER.size :]
    if flag > 0:
        if len(body) < 4 * flag:
            raise RecordIOError(f"{where}: header announces {flag} labels but the record is too short")
        label = np.frombuffer(body[: 4 * flag], dtype=np.float32).copy()
        body = body[4 * flag :]
    return Header(flag, label, record_id, record_id2), body


class RecordFile:
    """Reads records of a `.rec` file by byte offset (thread-safe: one `pread` per part)."""

    def __init__(self, path):
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def close(self):
        os.close(self._fd)

    def __del__(self):
        try:
            os.close(self._fd)
        except (AttributeError, OSError):
            pass

    def read_at(self, offset):
        """The payload of the record that starts at `offset`, its parts joined."""
        parts = []
        position = offset
        while True:
            flag, length = self._part_header(position, offset)
            end = position + 8 + length
            if end > self.size:
                raise RecordIOError(
                    f"{self.path}: truncated record at offset {offset}: it needs bytes up to {end} "
                    f"but the file ends at {self.size}; copy or download the .rec again"
                )
            parts.append(os.pread(self._fd, length, position + 8))
            position = end + (-length % 4)
            if flag in (0, 3):
                return _MAGIC_BYTES.join(parts)
            if flag == 1 and len(parts) > 1 or flag not in (1, 2):
                raise RecordIOError(f"{self.path}: broken multi-part record at offset {offset}")

    def _part_header(self, position, offset):
        header = os.pread(self._fd, 8, position)
        if len(header) < 8:
            raise RecordIOError(
                f"{self.path}: truncated record at offset {offset}: no record header at byte {position} "
                f"(the file ends at {self.size}); copy or download the .rec again"
            )
        magic, lrec = struct.unpack("<II", header)
        if magic != MAGIC:
            raise RecordIOError(
                f"{self.path}: no RecordIO magic at offset {position} (record at offset {offset}); "
                "the .rec and .idx do not belong together or the .rec is corrupt"
            )
        return lrec >> 29, lrec & _LENGTH_MASK


def read_index(path):
    """`key -> offset` from a `.idx` file (lines `key<TAB>offset`)."""
    index = {}
    with open(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2:
                raise RecordIOError(f"{path}:{number}: expected 'key<TAB>offset', got {line.strip()!r}")
            index[int(fields[0])] = int(fields[1])
    return index


def read_property(path):
    """(num_classes, height, width) from insightface's `property` file."""
    with open(path) as text:
        fields = text.read().strip().split(",")
    try:
        num_classes, height, width = (int(field) for field in fields)
    except ValueError:
        raise RecordIOError(f"{path}: expected 'num_classes,height,width', got {','.join(fields)!r}") from None
    return num_classes, height, width


class InsightFaceRec:
    """An insightface training set: `folder/train.rec`, `train.idx` and `property`.

    `read(i)` gives the i-th face as (encoded image, identity); `offsets` and
    `record_file` let a tf.data pipeline read records in parallel.
    """

    def __init__(self, folder, name="train"):
        self.folder = folder
        rec_path, idx_path = (os.path.join(folder, f"{name}.{suffix}") for suffix in ("rec", "idx"))
        for path in (rec_path, idx_path):
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"{path} is missing; an insightface dataset folder holds {name}.rec, {name}.idx and property"
                )
        self.record_file = RecordFile(rec_path)
        index = read_index(idx_path)
        self.image_keys, self.identities_in_header = self._image_keys(index)
        self.offsets = np.array([index[key] for key in self.image_keys], dtype=np.int64)
        property_path = os.path.join(folder, "property")
        self.property = read_property(property_path) if os.path.exists(property_path) else None
        self._num_classes = self.property[0] if self.property else None
        if self.property and self.identities_in_header not in (None, self.property[0]):
            raise RecordIOError(
                f"{property_path} says {self.property[0]} identities but {rec_path} holds "
                f"{self.identities_in_header}; correct property to {self.identities_in_header},"
                f"{self.property[1]},{self.property[2]}"
            )
        if self._num_classes is not None and self.num_images:
            self.read(self.num_images - 1)  # faces come sorted by identity: the last holds the largest label

    def _image_keys(self, index):
        """(keys of the face records, identities the header record announces or None)."""
        if 0 not in index:
            return sorted(index), None
        header, _ = unpack(self.record_file.read_at(index[0]), f"{self.record_file.path} record 0")
        if header.flag > 0:
            first_identity = int(header.label[0])
            identities = int(header.label[1]) - first_identity if header.flag > 1 else None
            return [key for key in range(1, first_identity) if key in index], identities
        return sorted(index), None

    @property
    def num_images(self):
        return len(self.image_keys)

    @property
    def num_classes(self):
        if self._num_classes is None:
            self._num_classes = len(set(self.labels()))
        return self._num_classes

    def read(self, position):
        """(encoded image bytes, integer identity) of the face at `position`."""
        return self.decode_record(self.record_file.read_at(int(self.offsets[position])), position)

    def decode_record(self, record, position=None):
        header, image = unpack(record, f"{self.record_file.path} image {position}")
        label = int(header.label[0] if header.flag > 0 else header.label)
        if self._num_classes is not None and not 0 <= label < self._num_classes:
            raise RecordIOError(
                f"{self.record_file.path} image {position}: identity {label} is outside 0..{self._num_classes - 1} "
                "(property's identity count); correct the property file"
            )
        return image, label

    def labels(self):
        """Every face's identity, in order (reads each record's header)."""
        return [self.read(position)[1] for position in range(self.num_images)]


def _split_at_magic(payload):
    """Parts of `payload` split at 4-byte-aligned occurrences of the magic (dmlc's rule)."""
    parts, start = [], 0
    for position in range(0, len(payload) - 3, 4):
        if payload[position : position + 4] == _MAGIC_BYTES:
            parts.append(payload[start:position])
            start = position + 4
    parts.append(payload[start:])
    return parts


def write_record(stream, payload):
    """Appends one record to a binary stream, split into parts where needed."""
    parts = _split_at_magic(payload)
    for number, part in enumerate(parts):
        if len(parts) == 1:
            flag = 0
        else:
            flag = 1 if number == 0 else 3 if number == len(parts) - 1 else 2
        stream.write(struct.pack("<II", MAGIC, (flag << 29) | len(part)))
        stream.write(part + b"\0" * (-len(part) % 4))


def write_insightface_rec(folder, samples, image_size, name="train", label_arrays=False, progress=False):
    """Writes (encoded image, identity) samples as an insightface dataset in `folder`.

    Faces must be grouped by identity (all of one identity together). With
    `label_arrays`, each face's label is stored as a float array (flag 1), as some
    insightface datasets do.
    """
    from tqdm import tqdm

    os.makedirs(folder, exist_ok=True)
    samples = list(samples)
    labels = [label for _, label in samples]
    identities = sorted(set(labels))
    first_identity = len(samples) + 1
    rec_path, idx_path = (os.path.join(folder, f"{name}.{suffix}") for suffix in ("rec", "idx"))
    with open(rec_path, "wb") as rec, open(idx_path, "w") as idx:

        def put(key, payload):
            idx.write(f"{key}\t{rec.tell()}\n")
            write_record(rec, payload)

        put(0, pack(Header(2, [first_identity, first_identity + len(identities)], 0, 0), b""))
        for key, (image, label) in enumerate(tqdm(samples, desc="writing .rec", disable=not progress), start=1):
            header = Header(1, [label], key, 0) if label_arrays else Header(0, label, key, 0)
            put(key, pack(header, image))
        for number, identity in enumerate(identities):
            keys = [key for key, label in enumerate(labels, start=1) if label == identity]
            put(first_identity + number, pack(Header(2, [keys[0], keys[-1] + 1], 0, 0), b""))
    with open(os.path.join(folder, "property"), "w") as text:
        text.write(f"{len(identities)},{image_size[0]},{image_size[1]}")
