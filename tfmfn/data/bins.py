"""insightface verification sets (`lfw.bin`, `agedb_30.bin`, `cfp_fp.bin`): read and write.

A `.bin` is a pickle of `(bins, issame_list)`: 2N encoded images, pair i being
images 2i and 2i+1, and N booleans. The files are Python 2 pickles, so they load
with `encoding="bytes"`; an element may be `bytes` or a uint8 numpy array (the
encoded bytes, or an already decoded HxWx3 RGB image).

A pickle can run arbitrary code when loaded. `load_bin` uses an unpickler that
resolves only the handful of numpy and codec names a verification set needs and
refuses everything else, so a malicious file fails without running anything.

Example:

    >>> import tempfile, cv2, numpy as np
    >>> image = cv2.imencode(".png", np.zeros((112, 112, 3), np.uint8))[1].tobytes()
    >>> path = tempfile.mktemp(suffix=".bin")
    >>> write_bin(path, [(image, image), (image, image)], [True, False])
    >>> pairs = load_bin(path)
    >>> pairs.num_pairs, pairs.issame.tolist(), pairs.decode_all().shape
    (2, [True, False], (4, 112, 112, 3))
"""

import dataclasses
import io
import itertools
import os
import pickle

import cv2
import numpy as np

from tfmfn.data.folders import list_identity_folders

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class BinFormatError(ValueError):
    """A file that is not a verification `.bin`, or one that tries to run code."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream, path):
        super().__init__(stream, encoding="bytes")
        self.path = path

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise BinFormatError(
            f"{self.path}: refused: the pickle asks for {module}.{name}, which a verification .bin "
            "never contains (the file may be malicious); nothing was run. Use a trusted copy."
        )


@dataclasses.dataclass
class VerificationSet:
    """Pairs of face images: `images[2 * i]` and `images[2 * i + 1]` form pair i."""

    name: str
    images: list
    issame: np.ndarray

    @property
    def num_pairs(self):
        return len(self.issame)

    def decode(self, index):
        """Image `index` as RGB uint8 (H, W, 3)."""
        return decode_element(self.images[index], f"{self.name} image {index}")

    def decode_all(self):
        """Every image as one uint8 array (2N, H, W, 3)."""
        images = [self.decode(index) for index in range(len(self.images))]
        shapes = {image.shape for image in images}
        if len(shapes) != 1:
            raise BinFormatError(f"{self.name}: images have different sizes {sorted(shapes)}")
        return np.stack(images)


def decode_element(element, where):
    """An element of a .bin (encoded bytes, encoded uint8 array, or decoded image) as RGB."""
    if isinstance(element, np.ndarray) and element.ndim == 3:
        if element.dtype != np.uint8 or element.shape[-1] != 3:
            raise BinFormatError(f"{where}: expected a uint8 HxWx3 image, got {element.dtype} {element.shape}")
        return element
    data = element.tobytes() if isinstance(element, np.ndarray) else bytes(element)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BinFormatError(f"{where}: the image bytes do not decode (corrupt JPEG/PNG)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_bin(path):
    """Reads a verification `.bin` safely; raises BinFormatError with the reason."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such verification set; give an insightface .bin file")
    with open(path, "rb") as stream:
        data = stream.read()
    try:
        content = _RestrictedUnpickler(io.BytesIO(data), path).load()
    except BinFormatError:
        raise
    except Exception as error:  # a corrupt pickle raises many kinds of errors
        raise BinFormatError(f"{path}: not a readable .bin pickle ({type(error).__name__}: {error})") from None
    if not (isinstance(content, (tuple, list)) and len(content) == 2):
        raise BinFormatError(f"{path}: expected a pickle of (images, issame_list)")
    images, issame = content
    images = list(images)
    issame = np.asarray(issame, dtype=bool).reshape(-1)
    if len(images) != 2 * len(issame):
        raise BinFormatError(f"{path}: {len(images)} images for {len(issame)} pairs; expected twice as many")
    for index, element in enumerate(images):
        if not isinstance(element, (bytes, bytearray, np.ndarray)):
            raise BinFormatError(f"{path}: image {index} is a {type(element).__name__}, not bytes or an array")
    return VerificationSet(os.path.splitext(os.path.basename(path))[0], images, issame)


def write_bin(path, pairs, issame):
    """Writes pairs of encoded images (bytes) and their same-identity flags as a `.bin`."""
    pairs = list(pairs)
    if len(pairs) != len(issame):
        raise ValueError(f"{len(pairs)} pairs but {len(issame)} issame flags")
    images = [bytes(image) for pair in pairs for image in pair]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as stream:
        pickle.dump((images, [bool(flag) for flag in issame]), stream, protocol=4)


def pairs_from_folder(folder, num_pairs, seed=0):
    """Half positive, half negative pairs of image files drawn from identity sub-folders.

    Positive pairs are the distinct same-identity pairs in a random order, each used once
    before any repeats; negative pairs join random images of two random identities.
    Returns (pairs of paths, issame flags). Needs identities with at least two images
    for positives and at least two identities for negatives.
    """
    files, labels, _ = list_identity_folders(folder)
    by_identity = {}
    for path, label in zip(files, labels):
        by_identity.setdefault(label, []).append(path)
    positives = [pair for label in sorted(by_identity) for pair in itertools.combinations(by_identity[label], 2)]
    if not positives or len(by_identity) < 2:
        raise ValueError(f"{folder}: needs two identities and one with two images to form pairs")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(positives))
    identities = sorted(by_identity)
    pairs, issame = [], []
    for index in range(num_pairs):
        if index % 2 == 0:
            pairs.append(positives[order[(index // 2) % len(positives)]])
        else:
            one, other = rng.choice(len(identities), 2, replace=False)
            pairs.append(
                (
                    rng.choice(by_identity[identities[one]]),
                    rng.choice(by_identity[identities[other]]),
                )
            )
        issame.append(index % 2 == 0)
    return pairs, issame


def write_bin_from_folder(folder, path, num_pairs, seed=0):
    """A `.bin` of `num_pairs` pairs drawn from an identity-per-folder tree of images."""
    pairs, issame = pairs_from_folder(folder, num_pairs, seed)

    def read(file_path):
        with open(file_path, "rb") as stream:
            return stream.read()

    write_bin(path, [(read(first), read(second)) for first, second in pairs], issame)
