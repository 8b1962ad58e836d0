"""LFW from its photos: the official pair lists aligned by tfmfn into insightface `.bin` sets.

| view        | list file            | pairs | folds | people                                   |
|-------------|----------------------|-------|-------|------------------------------------------|
| `test`      | `pairs.txt`          | 6,000 | 10    | View 2, the benchmark (folds disjoint)   |
| `dev_train` | `pairsDevTrain.txt`  | 2,200 | -     | View 1's 4,038 training people           |
| `dev_test`  | `pairsDevTest.txt`   | 1,000 | -     | View 1's 1,711 test people (disjoint)    |

Pairs are written in the list's order, so `tfmfn.evaluate`'s ten contiguous folds of `test`
are LFW's own folds. Each photo is aligned once (`tfmfn.align`: BlazeFace, then ONet's five
landmarks). Where a photo holds several faces, the one scored highest by its area less twice
its centre's squared distance from the photo's centre is taken (the subject of an LFW photo
is the centred face; facenet's and insightface's LFW scripts choose the same way). Where
BlazeFace finds no face, ONet is run on the photo's central box (`FALLBACK_BOX`, where LFW
centres its faces) and the photo is listed under `no_face` in the summary written beside the
`.bin` (`X.bin.json`).

LFW is a test set: calibrate or train only on View 1's training people, and score such a
model on `dev_test` (or on View 2 folds whose people it never saw).

Example (the pair list's format):

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "pairsDevTest.txt"), "w") as stream:
    ...     _ = stream.write("1\\nAnn 1 2\\nAnn 1 Bob 3\\n")
    >>> read_pairs(os.path.join(folder, "pairsDevTest.txt"))
    [(('Ann', 1), ('Ann', 2), True), (('Ann', 1), ('Bob', 3), False)]
"""

import json
import os
import time

import cv2
import numpy as np

from tfmfn import align, preprocess, storage
from tfmfn.data import bins
from tfmfn.face.landmarks import Landmarker

VIEWS = {
    "test": ("pairs.txt", 6000),
    "dev_train": ("pairsDevTrain.txt", 2200),
    "dev_test": ("pairsDevTest.txt", 1000),
}
"""View name -> (pair list in the LFW folder, pairs it holds)."""

PEOPLE_FILES = {"test": "people.txt", "dev_train": "peopleDevTrain.txt", "dev_test": "peopleDevTest.txt"}
"""View name -> the list of its people and their photo counts."""

FALLBACK_BOX = (0.3, 0.3, 0.7, 0.7)
"""(x0, y0, x1, y1) as fractions of the photo: where ONet looks when BlazeFace finds no face."""


class LFWFormatError(ValueError):
    """A pair or people list that is not in LFW's format, or a photo it names that is missing."""


def read_pairs(path):
    """An LFW pair list: [((name, number), (name, number), same_person)], in the file's order."""
    pairs = []
    with open(path) as stream:
        lines = stream.read().splitlines()
    for line_number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        try:
            if len(fields) == 3:
                pairs.append(((fields[0], int(fields[1])), (fields[0], int(fields[2])), True))
            elif len(fields) == 4:
                pairs.append(((fields[0], int(fields[1])), (fields[2], int(fields[3])), False))
            elif fields:
                raise ValueError
        except ValueError:
            raise LFWFormatError(
                f"{path}:{line_number}: expected 'name n1 n2' or 'name1 n1 name2 n2', got {line!r}; "
                "give LFW's own pair list"
            ) from None
    return pairs


def read_people(path):
    """An LFW people list: [(name, photo count)] (the counts of several folds concatenated)."""
    people = []
    with open(path) as stream:
        for line in stream:
            fields = line.split()
            if len(fields) == 2 and not fields[0].isdigit():
                people.append((fields[0], int(fields[1])))
    return people


def photo_path(root, name, number):
    """`root/images/<name>/<name>_<number:04d>.jpg` (or without `images/`, as LFW's own archive)."""
    for folder in (os.path.join(root, "images"), root):
        path = os.path.join(folder, name, f"{name}_{number:04d}.jpg")
        if os.path.exists(path):
            return path
    raise LFWFormatError(f"{root}: no photo {name}_{number:04d}.jpg under images/{name}/; give LFW's folder")


def central_face(faces, shape):
    """The face an LFW photo is about: largest area less twice its centre's squared offset."""
    height, width = shape[:2]

    def rank(face):
        centre = (face.box[:2] + face.box[2:]) / 2 - np.array([width / 2, height / 2])
        return face.area - 2.0 * float((centre**2).sum())

    return max(faces, key=rank) if faces else None


def align_photo(detector, image, size=preprocess.INPUT_SIZE, fallback=None):
    """(aligned crop, found): the central face aligned; where no face is found, ONet's landmarks
    in `FALLBACK_BOX` (found False), from the detector's landmarker or `fallback`'s."""
    face = central_face(detector.detect(image), image.shape)
    if face is None:
        height, width = image.shape[:2]
        box = np.array(FALLBACK_BOX) * [width, height, width, height]
        located = (detector.landmarker or fallback or Landmarker()).locate(image, box)
        face = align.Detection(box, np.zeros((6, 2)), 0.0, located)
        return align.align_face(image, face, size), False
    return align.align_face(image, face, size), True


def view_path(root, view):
    """The pair list of `view` in LFW's folder `root`; a one-line error when either is unknown."""
    if view not in VIEWS:
        raise ValueError(f"unknown LFW view {view!r}; choose one of {', '.join(VIEWS)}")
    path = os.path.join(root, VIEWS[view][0])
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file; --root takes LFW's folder (with pairs.txt and images/)")
    return path


def write_bin(root, out, view="test", detector=None, size=preprocess.INPUT_SIZE, max_pairs=None, progress=True):
    """Writes `view`'s pairs as an insightface `.bin` of aligned PNG crops, and `out + '.json'`,
    the summary it returns: pairs, photos, faces not found, seconds per photo."""
    from tqdm import tqdm

    pairs = read_pairs(view_path(root, view))[:max_pairs]
    photos = sorted({photo for first, second, _ in pairs for photo in (first, second)})
    paths = {photo: photo_path(root, *photo) for photo in photos}
    detector = detector or align.FaceDetector()
    fallback = detector.landmarker or Landmarker()
    encoded, no_face = {}, []
    start = time.perf_counter()
    for photo in tqdm(photos, desc=f"aligning LFW {view}", unit="photo", disable=not progress):
        crop, found = align_photo(detector, align.load_image(paths[photo]), size, fallback)
        if not found:
            no_face.append(os.path.relpath(paths[photo], root))
        encoded[photo] = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))[1].tobytes()
    seconds = time.perf_counter() - start
    with storage.written(out) as partial:
        bins.write_bin(partial, [(encoded[first], encoded[second]) for first, second, _ in pairs],
                       [same for *_, same in pairs])
    summary = {
        "view": view,
        "pairs": len(pairs),
        "same_person": sum(same for *_, same in pairs),
        "photos": len(photos),
        "faces_found": len(photos) - len(no_face),
        "no_face": no_face,
        "no_face_filled_by": f"ONet's landmarks in the central box {FALLBACK_BOX} of the photo",
        "alignment": "BlazeFace + ONet five landmarks" if detector.landmarker else "BlazeFace four keypoints",
        "input_size": list(size),
        "seconds_per_photo": seconds / max(len(photos), 1),
    }
    storage.write_text(f"{out}.json", json.dumps(summary, indent=2))
    return summary


def write_faces(root, out_dir, view="dev_train", detector=None, size=preprocess.INPUT_SIZE, progress=True):
    """Aligns every photo of `view`'s people into `out_dir/<name>/<name>_NNNN.png` (identity
    folders, for calibration or distillation); returns {"people", "photos", "no_face"}."""
    from tqdm import tqdm

    if view not in PEOPLE_FILES:
        raise ValueError(f"unknown LFW view {view!r}; choose one of {', '.join(PEOPLE_FILES)}")
    people = read_people(os.path.join(root, PEOPLE_FILES[view]))
    photos = [(name, number) for name, count in people for number in range(1, count + 1)]
    detector = detector or align.FaceDetector()
    fallback = detector.landmarker or Landmarker()
    no_face = []
    for name, number in tqdm(photos, desc=f"aligning LFW {view} people", unit="photo", disable=not progress):
        path = photo_path(root, name, number)
        crop, found = align_photo(detector, align.load_image(path), size, fallback)
        if not found:
            no_face.append(os.path.relpath(path, root))
        destination = os.path.join(out_dir, name, f"{name}_{number:04d}.png")
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        cv2.imwrite(destination, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return {"people": len({name for name, _ in people}), "photos": len(photos), "no_face": no_face}
