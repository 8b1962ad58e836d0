"""Face detection (MediaPipe BlazeFace through LiteRT) and 5-point similarity alignment.

BlazeFace (`tfmfn.face.blazeface`) finds faces and six keypoints (eyes, nose tip, mouth
centre, ears). By default MTCNN's ONet then places the five landmarks that
insightface aligns with (eye centres, nose tip, mouth corners) in BlazeFace's box
(`tfmfn.face.landmarks`); they are fitted by a similarity transform (rotation, uniform
scale, translation) to the 112x112 template of `tfmfn.preprocess`, and the photo
is warped through it: insightface's alignment. With `landmarks=False` BlazeFace's
eyes, nose tip and mouth centre are fitted instead (the template's mouth corners
averaged), which costs real models accuracy (README, "LFW's 6,000 pairs, from the photos").

Example:

    >>> from tfmfn import align
    >>> image = align.load_image("tests/data/obama.jpg")
    >>> faces = align.FaceDetector().detect(image)
    >>> len(faces), align.align_face(image, faces[0]).shape
    (1, (112, 112, 3))

CLI: `python -m tfmfn.align --input photos/ --out aligned/ [--all_faces] [--json]`; faces
already cropped and aligned by another method (LFW crops): `--crops 0.857` fits each to
112x112 instead (resized to 96x96 and centred on black).
"""

import dataclasses
import os

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tfmfn import cli, preprocess
from tfmfn.face import blazeface
from tfmfn.face.landmarks import Landmarker, Landmarks


@dataclasses.dataclass(frozen=True)
class Detection:
    """One face: box (x0, y0, x1, y1), six BlazeFace keypoints (x, y), all in image pixels, and the
    five alignment landmarks (`tfmfn.face.landmarks.Landmarks`) where they were located."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float
    landmarks: Landmarks = None

    @property
    def area(self):
        return float(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0))


class FaceDetector:
    """BlazeFace through LiteRT, and ONet's five landmarks in each face found (unless
    `landmarks=False`). `detect(rgb_uint8)` returns faces, best first.

    Example:

        >>> detector = FaceDetector("full", min_score=0.5)
        >>> face = detector.detect(load_image("tests/data/biden.jpg"))[0]
        >>> face.score > 0.9, face.landmarks.points.shape
        (True, (5, 2))
    """

    def __init__(self, model="full", min_score=0.5, iou_threshold=0.3, num_threads=None, landmarks=True):
        from ai_edge_litert.interpreter import Interpreter

        self.landmarker = Landmarker(num_threads=num_threads) if landmarks else None
        model_path = blazeface.detector_model_path(model)
        _, self.input_size, strides, interpolated = blazeface.DETECTORS[model]
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.anchors = blazeface.ssd_anchors(self.input_size, strides, interpolated)
        self.interpreter = Interpreter(model_path, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda detail: detail["shape"][-1])
        self._scores, self._regressors = (detail["index"] for detail in outputs)

    def raw_outputs(self, model_input):
        """Runs the model on one [-1, 1] input; returns (regressors (N, 16), scores (N,))."""
        self.interpreter.set_tensor(self._input, model_input[None].astype(np.float32))
        self.interpreter.invoke()
        regressors = self.interpreter.get_tensor(self._regressors)[0]
        scores = self.interpreter.get_tensor(self._scores)[0, :, 0]
        return regressors, scores

    def detect(self, image):
        """Faces in an RGB uint8 image (H, W, 3), as `Detection`s in pixels, best first."""
        model_input, (side, pad_x, pad_y) = blazeface.letterbox(image, self.input_size)
        boxes, keypoints, scores = blazeface.decode(*self.raw_outputs(model_input), self.anchors, self.input_size)
        keep = scores >= self.min_score
        offset = np.array([pad_x, pad_y], dtype=np.float32)
        faces = []
        for box, points, score in blazeface.weighted_nms(boxes[keep], keypoints[keep], scores[keep], self.iou_threshold):
            box = box * side - np.tile(offset, 2)
            located = self.landmarker.locate(image, box) if self.landmarker else None
            faces.append(Detection(box, points * side - offset, score, located))
        return faces


def template_for(size=preprocess.INPUT_SIZE):
    """The 5-point template for an output (height, width): scaled with the height and
    centred horizontally, so 112x96 shifts it 8 px left as insightface does."""
    height, width = size
    scale = height / preprocess.INPUT_SIZE[0]
    template = preprocess.ALIGNMENT_TEMPLATE * scale
    template[:, 0] += (width - preprocess.INPUT_SIZE[1] * scale) / 2
    return template


def template_points(detection_keypoints):
    """The 4 BlazeFace keypoints that the template has: eyes, nose tip, mouth centre."""
    return np.asarray(detection_keypoints, dtype=np.float64)[:4]


def alignment_points(detection, size=preprocess.INPUT_SIZE):
    """(points in the photo, their places in the template): the five landmarks where located,
    else BlazeFace's four keypoints and the template with its mouth corners averaged."""
    if detection.landmarks is not None:
        return np.asarray(detection.landmarks.points, np.float64), template_for(size).astype(np.float64)
    return template_points(detection.keypoints), template_targets(size)


def template_targets(size=preprocess.INPUT_SIZE):
    """The template's eyes, nose and mouth centre (the mean of its mouth corners)."""
    template = template_for(size).astype(np.float64)
    return np.vstack([template[:3], template[3:5].mean(axis=0)])


def similarity_transform(source, target):
    """Least-squares similarity (Umeyama, no reflection) mapping `source` points onto
    `target` points; returns the 2x3 matrix for cv2.warpAffine."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rotation = u @ np.diag(sign) @ vt
    variance = (source_centred**2).sum() / len(source)
    scale = (singular * sign).sum() / variance
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def alignment_matrix(detection, size=preprocess.INPUT_SIZE):
    """The 2x3 matrix that maps the photo onto the template for one detection."""
    return similarity_transform(*alignment_points(detection, size))


def align_face(image, detection, size=preprocess.INPUT_SIZE):
    """The aligned (height, width, 3) crop of one detected face."""
    return warp(image, alignment_matrix(detection, size), size)


def align_landmarks(image, landmarks, size=preprocess.INPUT_SIZE):
    """The aligned (height, width, 3) crop of the face whose five landmarks are given (a dataset's own)."""
    return warp(image, similarity_transform(landmarks, template_for(size)), size)


def warp(image, matrix, size):
    """`image` through the 2x3 `matrix` into (height, width), bilinear, black outside."""
    return cv2.warpAffine(image, matrix, (size[1], size[0]), flags=cv2.INTER_LINEAR, borderValue=0)


def fit_crop(image, size=preprocess.INPUT_SIZE, scale=1.0):
    """A face crop aligned by another method, fitted to `size` (height, width): resized to `scale`
    of it (area averaging when shrinking) and centred on black, for crops tighter than tfmfn's
    template (scale below 1 gives them back some margin).

        >>> fit_crop(np.full((100, 100, 3), 200, np.uint8), (112, 112), 96 / 112)[[0, 56], 56].tolist()
        [[0, 0, 0], [200, 200, 200]]
    """
    if not 0 < scale <= 1:
        raise ValueError(f"crop scale {scale} is outside (0, 1]")
    height, width = (max(1, round(side * scale)) for side in size)
    shrinking = height < image.shape[0] or width < image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    canvas = np.zeros((*size, 3), np.uint8)
    top, left = (size[0] - height) // 2, (size[1] - width) // 2
    canvas[top : top + height, left : left + width] = resized
    return canvas


def load_image(path):
    """An image file as RGB uint8 (H, W, 3), upright per its EXIF orientation;
    greyscale, palette, CMYK and RGBA (alpha over black) become RGB."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                image = image.convert("RGBA")
                canvas = Image.new("RGBA", image.size, (0, 0, 0, 255))
                image = Image.alpha_composite(canvas, image)
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{path}: not a readable image ({error}); re-export it as JPEG or PNG") from None


def image_files(root):
    """Image files under `root` (a file or a folder, walked in sorted order)."""
    if os.path.isfile(root):
        return [root]
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such file or folder; give a photo or a folder of photos")
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        found.extend(
            os.path.join(folder, name) for name in sorted(files) if name.lower().endswith(preprocess.IMAGE_SUFFIXES)
        )
    return found


def align_tree(input_path, output_dir, all_faces=False, detector=None, size=preprocess.INPUT_SIZE, progress=True,
               crop_scale=None):
    """Aligns every photo under `input_path` into `output_dir`, mirroring the folder tree.

    Each photo's largest face is written as `<relative path without suffix>.png`; with
    `all_faces`, every face as `<stem>_<k>.png`, largest first. With `crop_scale`, the photos
    are face crops already aligned by another method: each is fitted (`fit_crop`) instead of
    detected. Returns the report `{"images", "faces", "no_face", "written", "unreadable"}`; a
    photo that cannot be read is listed under `unreadable` (path and reason) and the run goes on.
    """
    from tqdm import tqdm

    detector = detector or (FaceDetector() if crop_scale is None else None)
    files = image_files(input_path)
    base = input_path if os.path.isdir(input_path) else os.path.dirname(input_path)
    report = {"images": len(files), "faces": 0, "no_face": [], "written": [], "unreadable": []}
    for path in tqdm(files, desc="aligning", unit="photo", disable=not progress):
        try:
            image = load_image(path)
        except ValueError as error:
            report["unreadable"].append({"path": path, "error": str(error)})
            continue
        if crop_scale is not None:
            destination = os.path.join(output_dir, os.path.splitext(os.path.relpath(path, base))[0] + ".png")
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            cv2.imwrite(destination, cv2.cvtColor(fit_crop(image, size, crop_scale), cv2.COLOR_RGB2BGR))
            report["written"].append(destination)
            report["faces"] += 1
            continue
        faces = sorted(detector.detect(image), key=lambda face: face.area, reverse=True)
        if not faces:
            report["no_face"].append(path)
            continue
        stem = os.path.splitext(os.path.relpath(path, base))[0]
        chosen = faces if all_faces else faces[:1]
        for index, face in enumerate(chosen):
            name = f"{stem}_{index}.png" if all_faces else f"{stem}.png"
            destination = os.path.join(output_dir, name)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            cv2.imwrite(destination, cv2.cvtColor(align_face(image, face, size), cv2.COLOR_RGB2BGR))
            report["written"].append(destination)
        report["faces"] += len(chosen)
    return report


def _define_flags():
    from absl import flags

    flags.DEFINE_string("input", None, "A photo, or a folder of photos (identity sub-folders are kept).")
    flags.DEFINE_string("out", None, "Folder to write the aligned PNG crops into.")
    flags.DEFINE_bool("all_faces", False, "Write every face as <stem>_<k>.png, not only the largest.")
    flags.DEFINE_bool("json", False, "Print the report as JSON instead of a summary.")
    flags.DEFINE_enum("detector", "full", list(blazeface.DETECTORS), "BlazeFace model: full range or short range (selfies).")
    flags.DEFINE_float("min_score", 0.5, "Detection confidence threshold.")
    flags.DEFINE_bool("landmarks", True, "Align by ONet's five landmarks (MTCNN's); --nolandmarks: by BlazeFace's "
                      "four keypoints, as tfmfn did before (less accurate for real models).")
    flags.DEFINE_list("input_size", [str(side) for side in preprocess.INPUT_SIZE], "HEIGHT,WIDTH of the crops.")
    flags.DEFINE_float("crops", None, "The photos are face crops aligned by another method (LFW-style): fit each "
                       "to --input_size, resized to this fraction of it (1: fill it) and centred on black, no detection.")
    cli.rename("output", "out")
    cli.rename("size", "input_size")


def main(argv):
    import json

    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    try:
        size = tuple(int(side) for side in options.input_size)
        if len(size) != 2 or min(size) < 16:
            raise ValueError
    except ValueError:
        raise app.UsageError(f"--input_size takes HEIGHT,WIDTH (each >= 16), got {','.join(options.input_size)}")
    if options.crops is not None and not 0 < options.crops <= 1:
        raise app.UsageError(f"--crops takes a fraction in (0, 1], got {options.crops}")
    try:
        detector = FaceDetector(options.detector, min_score=options.min_score, landmarks=options.landmarks) if options.crops is None else None
        report = align_tree(options.input, options.out, options.all_faces, detector, size, crop_scale=options.crops)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}")
    if options.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{report['images']} photos, {report['faces']} faces written to {options.out}; "
        f"{len(report['no_face'])} without a face, {len(report['unreadable'])} unreadable"
    )
    for path in report["no_face"]:
        print(f"  no face: {path}")
    for failure in report["unreadable"]:
        print(f"  unreadable: {failure['error']}")


if __name__ == "__main__":
    _define_flags()
    cli.run(main, required=("input", "out"))
