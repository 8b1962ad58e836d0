"""ONet's five landmarks: the weights read without running code, the network, and its points on real photos."""

import pickle

import numpy as np
import pytest

from tfmfn import align
from tfmfn.face import landmarks
from tfmfn.face.landmarks import WeightsError

ONET_SHAPES = [(3, 3, 3, 32), (32,), (1, 1, 32), (3, 3, 32, 64), (64,), (1, 1, 64), (3, 3, 64, 64), (64,),
               (1, 1, 64), (2, 2, 64, 128), (128,), (1, 1, 128), (1152, 256), (256,), (256,), (256, 4), (4,),
               (256, 10), (10,), (256, 2), (2,)]

MTCNN_CASCADE_ON_OBAMA = np.array([[442, 214], [550, 212], [498, 276], [434, 318], [555, 316]], np.float64)
"""The five points that the mtcnn package's own three-stage cascade (MTCNN().detect_faces, mtcnn 1.0.0) gives
on tests/data/obama.jpg (it rounds them to pixels): the reference that tfmfn's two ONet passes on BlazeFace's
box approximate without MTCNN's first two stages."""


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_weights_are_onets_arrays():
    arrays = landmarks.read_weights(landmarks.weights_path())
    assert [array.shape for array in arrays] == ONET_SHAPES
    assert all(array.dtype == np.float32 and np.isfinite(array).all() for array in arrays)
    assert np.abs(arrays[0]).max() > 0.1  # trained kernels, not zeros


def test_a_pickle_that_asks_for_code_is_refused_and_nothing_runs(tmp_path, capsys):
    path = tmp_path / "onet.lz4"
    path.write_bytes(pickle.dumps([Payload()]))
    with pytest.raises(WeightsError, match=r"builtins\.print.*nothing was run"):
        landmarks.read_weights(str(path))
    assert "code ran" not in capsys.readouterr().out


@pytest.mark.parametrize("cut", [10, 5000])
def test_a_truncated_or_foreign_file_is_refused_in_one_line(tmp_path, cut):
    content = open(landmarks.weights_path(), "rb").read()
    import lz4.frame

    path = tmp_path / "onet.pkl"
    path.write_bytes(lz4.frame.decompress(content)[:cut])
    with pytest.raises(WeightsError, match="not ONet's weights.*reinstall the package mtcnn") as error:
        landmarks.read_weights(str(path))
    assert "\n" not in str(error.value)
    (tmp_path / "text").write_text("not weights")
    with pytest.raises(WeightsError):
        landmarks.read_weights(str(tmp_path / "text"))


def test_weights_of_another_shape_do_not_fit_onet():
    arrays = landmarks.read_weights(landmarks.weights_path())
    with pytest.raises(WeightsError, match="do not fit its layers"):
        landmarks.build_onet(arrays[:-2])


def test_tflite_runs_as_the_keras_network():
    onet = landmarks.build_onet()
    crop = np.random.default_rng(0).integers(0, 256, (48, 48, 3)).astype(np.uint8)
    keras_box, keras_points, keras_scores = onet.predict((crop[None].astype(np.float32) - 127.5) / 128, verbose=0)
    box, points, score = landmarks.Landmarker().raw_outputs(crop)
    np.testing.assert_allclose(box, keras_box[0], atol=1e-5)
    np.testing.assert_allclose(points, keras_points[0], atol=1e-5)
    assert score == pytest.approx(float(keras_scores[0, 1]), abs=1e-5)


def test_landmarks_on_a_real_photo_are_near_mtcnns_own_cascade():
    image = align.load_image("tests/data/obama.jpg")
    face = align.FaceDetector().detect(image)[0]
    eye_distance = np.linalg.norm(MTCNN_CASCADE_ON_OBAMA[1] - MTCNN_CASCADE_ON_OBAMA[0])
    errors = np.linalg.norm(face.landmarks.points - MTCNN_CASCADE_ON_OBAMA, axis=1) / eye_distance
    assert errors[:3].max() < 0.06 and errors.max() < 0.11, errors  # measured: 0.041 0.054 0.033 0.105 0.063
    assert face.landmarks.score > 0.99


def test_passes_start_from_the_box_given_and_follow_onets_corrections():
    image = align.load_image("tests/data/biden.jpg")
    box = align.FaceDetector(landmarks=False).detect(image)[0].box
    passes = landmarks.Landmarker(passes=3).passes_on(image, box)
    np.testing.assert_allclose(passes[0][0], box)
    for (looked_at, crop, outputs), (following, _, _) in zip(passes, passes[1:]):
        assert crop.shape == (48, 48, 3)
        np.testing.assert_allclose(landmarks.decode(outputs, looked_at)[1], following)
    located = landmarks.Landmarker(passes=3).locate(image, box)
    np.testing.assert_allclose(located.points, landmarks.decode(passes[-1][2], passes[-1][0])[0])
    with pytest.raises(ValueError, match="at least 1"):
        landmarks.Landmarker(passes=0)


def test_box_matrix_maps_the_square_about_the_box_onto_the_crop():
    matrix = landmarks.box_matrix((10, 20, 30, 60))  # 20 x 40: the square is 40 wide, from x = 0
    corners = np.array([[0, 20, 1], [40, 60, 1]]) @ matrix.T
    np.testing.assert_allclose(corners, [[0, 0], [48, 48]])


def test_the_cache_holds_one_file_per_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TFMFN_CACHE", str(tmp_path))
    path = landmarks.model_path()
    assert path.startswith(str(tmp_path)) and open(path, "rb").read(8)[4:8] == b"TFL3"
    assert landmarks.model_path() == path and len(list(tmp_path.iterdir())) == 1
