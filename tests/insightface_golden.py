"""A verification set and an embedder for checking tfmfn.evaluate against insightface's own code.

The set: 600 pairs of 32x32 PNG images of random pixels (PNG, so every decoder
gives the same pixels); a genuine pair is an image and a noisy copy of it. The
embedder: a fixed projection with small integer weights of the images' channel
sums, scaled by a sum of the left half's pixels: exact in float64 whatever the
order of summation, so its embeddings are the same on every machine, and a
picture and its mirror image get embeddings of different norms, which is where
the flip rules differ.

`INSIGHTFACE` holds what insightface's `recognition/arcface_torch/eval/verification.py`
computes for this set (flip: the two raw embeddings added, then L2-normalised;
accuracy on a 0.01 threshold grid; VAL at FAR 1e-3 on a 0.001 grid, interpolated
with scipy's interp1d). It was computed once by running that file, unchanged,
from a checkout of deepinsight/insightface (commit 7fadd420), mxnet and torch
(which the protocol does not use) stubbed, with numpy 2.4.6, scipy 1.17.1 and
scikit-learn 1.9.1. The file hands interp1d(kind="slinear") FARs that repeat
(every threshold below the closest impostor pair has FAR 0), which scipy refuses
from 1.9 on ("Expect x to not have duplicates"; insightface issue 2152, fixed by
users with scipy 1.8.1, which has no wheel for this Python): so `interp1d` is
given to it as scipy 1.8 built it for kind="slinear", a degree-1 B-spline with
knots (x[0], x..., x[-1]) and coefficients y over x sorted stably. Twice to
compute it again, in tfmfn's environment and then in one with scikit-learn:

    python tests/insightface_golden.py embed projection.npz
    python tests/insightface_golden.py score projection.npz PATH/TO/insightface/recognition/arcface_torch/eval/verification.py
"""

import json
import os
import sys
import tempfile
import types

import numpy as np

NUM_PAIRS = 600
SIZE = 32
EMBEDDING_SIZE = 16
INSIGHTFACE = {"accuracy": 0.8866666666666667, "accuracy_std": 0.04818944098266984, "val": 0.29,
               "val_std": 0.06674994798166929, "far": 0.003333333333333333}


def projection_embedder():
    """Embeddings = channel sums of the normalised pixels times a fixed integer matrix, scaled by
    1 + |the sum of the left half|: a mirror image's embedding has another norm."""
    from tfmfn.runtime.inference import Embedder

    class ProjectionEmbedder(Embedder):
        name = "projection"
        input_size = (SIZE, SIZE)
        embedding_size = EMBEDDING_SIZE
        weights = np.random.default_rng(11).integers(-3, 4, size=(SIZE * SIZE, EMBEDDING_SIZE)).astype(np.float64)

        def _run(self, batch):
            channel_sums = batch.astype(np.float64).sum(axis=-1)
            left_half = np.abs(channel_sums[:, :, : SIZE // 2].sum(axis=(1, 2)))
            projection = channel_sums.reshape(len(batch), -1) @ self.weights
            return (projection * (1 + left_half[:, None])).astype(np.float32)

    return ProjectionEmbedder()


def write_set(path):
    """The verification .bin described above; returns its issame flags."""
    import cv2

    from tfmfn.data import bins

    rng = np.random.default_rng(5)
    issame = np.arange(NUM_PAIRS) % 2 == 0
    pairs = []
    for same in issame:
        first = rng.integers(0, 256, size=(SIZE, SIZE, 3))
        second = first + rng.normal(0, 90, size=first.shape) if same else rng.integers(0, 256, size=first.shape)
        pairs.append([cv2.imencode(".png", np.clip(image, 0, 255).astype(np.uint8))[1].tobytes()
                      for image in (first, second)])
    bins.write_bin(path, pairs, issame)
    return issame


def _insightface_protocol(verification_py):
    """insightface's verification module, its mxnet and torch imports stubbed."""
    mxnet = types.ModuleType("mxnet")
    mxnet.ndarray = types.ModuleType("mxnet.ndarray")
    torch = types.ModuleType("torch")
    torch.no_grad = lambda: (lambda function: function)
    sys.modules.update({"mxnet": mxnet, "mxnet.ndarray": mxnet.ndarray, "torch": torch})
    module = types.ModuleType("insightface_verification")
    with open(verification_py) as stream:
        exec(compile(stream.read(), verification_py, "exec"), module.__dict__)
    module.interpolate = types.SimpleNamespace(interp1d=_interp1d_as_in_scipy_1_8)
    return module


def _interp1d_as_in_scipy_1_8(x, y, kind):
    """scipy 1.8's interp1d(x, y, kind="slinear"): repeated x allowed."""
    from scipy.interpolate import BSpline

    assert kind == "slinear"
    order = np.argsort(x, kind="mergesort")
    x, y = np.asarray(x, np.float64)[order], np.asarray(y, np.float64)[order]
    return BSpline.construct_fast(np.r_[x[0], x, x[-1]], np.ascontiguousarray(y), 1)


def embed(out):
    """Writes the set's image and mirror-image embeddings and its issame flags to `out` (.npz)."""
    from tfmfn.data import bins

    path = os.path.join(tempfile.mkdtemp(), "projection.bin")
    issame = write_set(path)
    faces = bins.load_bin(path).decode_all()
    embedder = projection_embedder()
    np.savez(out, images=embedder.embed(faces), flips=embedder.embed(faces[:, :, ::-1]), issame=issame)


def score(embeddings_npz, verification_py):
    """insightface's `test()` from the flip onwards: add, normalise, `evaluate`; prints INSIGHTFACE."""
    import sklearn.preprocessing

    protocol = _insightface_protocol(verification_py)
    saved = np.load(embeddings_npz)
    embeddings = sklearn.preprocessing.normalize(saved["images"].astype(np.float64) + saved["flips"].astype(np.float64))
    _, _, accuracy, val, val_std, far = protocol.evaluate(embeddings, saved["issame"], nrof_folds=10)
    print(json.dumps({"accuracy": float(np.mean(accuracy)), "accuracy_std": float(np.std(accuracy)),
                      "val": float(val), "val_std": float(val_std), "far": float(far)}))


if __name__ == "__main__":
    {"embed": embed, "score": score}[sys.argv[1]](*sys.argv[2:])
