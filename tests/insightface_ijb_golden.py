"""A small SYNTHETIC IJB-C-shaped set and an embedder for checking tfmfn.data.ijb against insightface's own code.

The set (`write_set`): 24 subjects, each a smooth random pattern; 4 templates a subject, each of
1-3 medias of 1-3 images (video frames share a media); every image is the pattern placed in a
128x128 canvas by a random similarity transform, with noise, saved as PNG (so that every decoder
gives the same pixels) and listed with the five template landmarks carried along (jittered) and a
faceness score. 100 genuine and 900 impostor template pairs (so every TAR is a whole percentage and
insightface's two-decimal table loses nothing); 1:N: each subject's first template in gallery G1
(subjects 0-11) or G2 (12-23), the other 72 templates probes. The embedder: a fixed projection
with small integer weights of the aligned images' channel sums, scaled by the sum of the left
half: exact in float64, and an image and its mirror image get embeddings of different norms.

`INSIGHTFACE` holds what insightface computes on it (deepinsight/insightface at commit 7fadd420):
1:1 by `recognition/arcface_torch/eval_ijbc.py` run unchanged, with `torch`, `backbones.get_model`
and menpo's colour map stubbed (the stub network is the projection above, fed the script's own
blobs: its alignment by scikit-image's SimilarityTransform and cv2.warpAffine, its flip, its
normalisation); `scores` are the first pair scores the script saved: they agree with tfmfn's to about 5e-5, not
closer, because scikit-image 0.26 fits the similarity transform in float32 for float32 landmarks
(tfmfn fits in float64; with float64 landmarks the two matrices are equal), which moves a few
hundred warped pixels of 50 images by one level; every TAR, rank and TPIR is equal. 1:N by
`recognition/_evaluation_/ijb/ijb_1n.py` run unchanged, its `embedding.Embedding` (mxnet) stubbed
by the same alignment and projection. With numpy 2.4.6, pandas 3.0.2, scikit-learn 1.9.1,
scikit-image 0.26.0, opencv-python-headless 4.14.0.94. To compute it again:

    python tests/insightface_ijb_golden.py write DIR                         # DIR/IJBC
    PYTHON_WITH_SKLEARN tests/insightface_ijb_golden.py score DIR eval_ijbc.py ijb_1n.py
"""

import contextlib
import io
import json
import os
import re
import runpy
import sys
import types

import numpy as np

SUBJECTS = 24
TEMPLATES_PER_SUBJECT = 4
CANVAS = 128
EMBEDDING_SIZE = 512  # eval_ijbc.py holds two 512-d embeddings an image (its 1024 columns)
GENUINE, IMPOSTOR = 100, 900
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                     [70.7299, 92.2041]])
INSIGHTFACE = {
    "tar_at_far": {"1e-6": 0.93, "1e-5": 0.93, "1e-4": 0.93, "1e-3": 0.93, "1e-2": 0.94, "1e-1": 0.97},
    "scores": [0.2672238561371093, 0.2379801134511873, 0.3515002351248515, 0.014403843217051357, 0.28826046929458554,
               -0.2612275144889002, 0.5961051594200623, 0.3543168338211913],
    "score_mean": 0.28935626778281437, "rank_1": 0.9583333333333334, "rank_5": 0.9722222222222222,
    "rank_10": 0.9861111111111112, "tpir_at_fpir": {"0.01": 0.8888888889, "0.1": 0.9305555556},
}
"""What insightface's scripts print and save for the set (TPIRs as they print them, to 10 decimals)."""


def _weights():
    return np.random.default_rng(21).integers(-3, 4, size=(112 * 112, EMBEDDING_SIZE)).astype(np.float64)


def project(pixels, weights=None):
    """(N, 512) float32 embeddings of aligned (N, 112, 112, 3) integer pixels, exact in float64."""
    weights = _weights() if weights is None else weights
    channel_sums = np.asarray(pixels, np.float64).sum(axis=-1) - 382.5  # centred: half-integers, still exact
    left_half = np.abs(channel_sums[:, :, :56].sum(axis=(1, 2)))
    return (channel_sums.reshape(len(pixels), -1) @ weights * (1 + left_half[:, None] / 1e6)).astype(np.float32)


def projection_embedder():
    """`project` behind tfmfn's Embedder API (it recovers the pixels from the normalised input)."""
    from tfmfn.runtime.inference import Embedder

    class ProjectionEmbedder(Embedder):
        name = "projection"
        input_size = (112, 112)
        embedding_size = EMBEDDING_SIZE
        weights = _weights()

        def _run(self, batch):
            mean, scale = self.normalization
            return project(np.round(batch.astype(np.float64) * scale + mean), self.weights)

    return ProjectionEmbedder()


def _similarity(rng):
    angle, scale = rng.uniform(-0.3, 0.3), rng.uniform(0.75, 1.05)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = rng.uniform(0, CANVAS - 112 * scale, size=2)
    return np.hstack([rotation, shift[:, None]])


def write_set(folder):
    """Writes the set into `folder`/IJBC (insightface's layout); returns that path."""
    import cv2

    rng = np.random.default_rng(8)
    root = os.path.join(folder, "IJBC")
    os.makedirs(os.path.join(root, "loose_crop"), exist_ok=True)
    os.makedirs(os.path.join(root, "meta"), exist_ok=True)
    patterns = [cv2.resize(rng.uniform(0, 255, size=(6, 6, 3)), (112, 112), interpolation=cv2.INTER_CUBIC)
                for _ in range(SUBJECTS)]
    template_ids = rng.permutation(np.arange(1, 3 * SUBJECTS * TEMPLATES_PER_SUBJECT))[: SUBJECTS * TEMPLATES_PER_SUBJECT]
    points, tid_mid, rows_by_template, media = [], [], {}, 1000
    for subject in range(SUBJECTS):
        for number in range(TEMPLATES_PER_SUBJECT):
            template = int(template_ids[subject * TEMPLATES_PER_SUBJECT + number])
            rows_by_template[template] = []
            for _ in range(rng.integers(1, 4)):
                media += int(rng.integers(1, 5))
                for _ in range(rng.integers(1, 4)):
                    name = f"{len(points) + 1}.png"
                    matrix = _similarity(rng)
                    face = np.clip(patterns[subject] + rng.normal(0, 60, size=(112, 112, 3)), 0, 255)
                    canvas = cv2.warpAffine(face, matrix, (CANVAS, CANVAS), flags=cv2.INTER_LINEAR, borderValue=0)
                    cv2.imwrite(os.path.join(root, "loose_crop", name), canvas.astype(np.uint8)[:, :, ::-1])
                    landmarks = TEMPLATE @ matrix[:, :2].T + matrix[:, 2] + rng.normal(0, 0.7, size=(5, 2))
                    faceness = rng.uniform(0.5, 1.0)
                    points.append(f"{name} " + " ".join(f"{value:.3f}" for value in landmarks.ravel()) + f" {faceness:.6f}")
                    tid_mid.append(f"{name} {template} {media}")
                    rows_by_template[template].append(f"{template},{subject + 1},{name}")
    subject_templates = template_ids.reshape(SUBJECTS, TEMPLATES_PER_SUBJECT)
    genuine = [(s, a, b) for s in range(SUBJECTS) for a in range(TEMPLATES_PER_SUBJECT) for b in range(a + 1, TEMPLATES_PER_SUBJECT)]
    genuine = [genuine[index] for index in rng.permutation(len(genuine))[:GENUINE]]
    pairs = [(subject_templates[s, a], subject_templates[s, b], 1) for s, a, b in genuine]
    while len(pairs) < GENUINE + IMPOSTOR:
        first, second = rng.choice(SUBJECTS, 2, replace=False)
        pairs.append((subject_templates[first, rng.integers(4)], subject_templates[second, rng.integers(4)], 0))
    order = rng.permutation(len(pairs))
    meta = os.path.join(root, "meta", "ijbc_")
    _write_lines(meta + "name_5pts_score.txt", points)
    _write_lines(meta + "face_tid_mid.txt", tid_mid)
    _write_lines(meta + "template_pair_label.txt", [" ".join(str(value) for value in pairs[index]) for index in order])
    header = "TEMPLATE_ID,SUBJECT_ID,FILENAME"
    for name, subjects in (("G1", range(0, SUBJECTS // 2)), ("G2", range(SUBJECTS // 2, SUBJECTS))):
        rows = [row for subject in subjects for row in rows_by_template[int(subject_templates[subject, 0])]]
        _write_lines(meta + f"1N_gallery_{name}.csv", [header] + rows)
    probes = [row for subject in range(SUBJECTS) for number in range(1, TEMPLATES_PER_SUBJECT)
              for row in rows_by_template[int(subject_templates[subject, number])]]
    _write_lines(meta + "1N_probe_mixed.csv", [header] + probes)
    return root


def _write_lines(path, lines):
    with open(path, "w") as stream:
        stream.write("\n".join(lines) + "\n")


class _Tensor:
    """The torch.Tensor calls eval_ijbc.py makes, on numpy float32."""

    def __init__(self, array):
        self.array = np.asarray(array, np.float32)

    def cuda(self):
        return self

    cpu = cuda

    def numpy(self):
        return self.array

    def div_(self, value):
        self.array /= np.float32(value)
        return self

    def sub_(self, value):
        self.array -= np.float32(value)
        return self

    @property
    def shape(self):
        return self.array.shape

    def reshape(self, shape):
        return _Tensor(self.array.reshape(shape))


class _Network:
    """The stub backbone: NCHW blobs normalised as (x / 255 - 0.5) / 0.5 -> the projection of their pixels."""

    def __init__(self, *args, **kwargs):
        self.weights = _weights()

    def cuda(self):
        return self

    def load_state_dict(self, state):
        pass

    def eval(self):
        pass

    def __call__(self, blobs):
        pixels = np.round((blobs.array.astype(np.float64) * 0.5 + 0.5) * 255).transpose(0, 2, 3, 1)
        return _Tensor(project(pixels, self.weights))


def _stub_modules():
    torch = types.ModuleType("torch")
    torch.no_grad = lambda: (lambda function: function)
    torch.load = lambda path: {}
    torch.Tensor = _Tensor
    torch.nn = types.SimpleNamespace(DataParallel=lambda model: model)
    backbones = types.ModuleType("backbones")
    backbones.get_model = lambda *args, **kwargs: _Network()
    viewmatplotlib = types.ModuleType("menpo.visualize.viewmatplotlib")
    viewmatplotlib.sample_colours_from_colourmap = lambda count, name: [(0.2, 0.4, 0.6)] * count
    visualize = types.ModuleType("menpo.visualize")
    visualize.print_progress = lambda iterable, **kwargs: iterable
    visualize.viewmatplotlib = viewmatplotlib
    menpo = types.ModuleType("menpo")
    menpo.visualize = visualize
    embedding = types.ModuleType("embedding")
    embedding.Embedding = _Embedding
    sys.modules.update({"torch": torch, "backbones": backbones, "menpo": menpo, "menpo.visualize": visualize,
                        "menpo.visualize.viewmatplotlib": viewmatplotlib, "embedding": embedding})


class _Embedding:
    """ijb_1n.py's `embedding.Embedding` (mxnet): eval_ijbc.py's alignment, flip and normalisation, then
    the projection; `get` returns the image's and the mirror image's embeddings side by side."""

    def __init__(self, *args):
        self.network = _Network()

    def get(self, image, landmarks):
        import cv2
        from skimage import transform

        estimate = transform.SimilarityTransform()
        estimate.estimate(landmarks, TEMPLATE.astype(np.float32))
        face = cv2.cvtColor(cv2.warpAffine(image, estimate.params[0:2, :], (112, 112), borderValue=0.0), cv2.COLOR_BGR2RGB)
        blob = np.stack([face, np.fliplr(face)]).transpose(0, 3, 1, 2)
        embeddings = self.network(_Tensor(blob).div_(255).sub_(0.5).div_(0.5)).numpy()
        return embeddings.reshape(-1)


def score(folder, eval_ijbc_py, ijb_1n_py):
    """Runs insightface's two scripts on `folder`/IJBC; prints INSIGHTFACE as JSON."""
    _stub_modules()
    results = os.path.join(folder, "insightface_results")
    sys.argv = ["eval_ijbc.py", "--model-prefix", "stub", "--image-path", os.path.join(folder, "IJBC"),
                "--result-dir", results, "--batch-size", "32", "--job", "golden", "--target", "IJBC"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        runpy.run_path(eval_ijbc_py, run_name="__main__")
    row = [line for line in printed.getvalue().splitlines() if "golden" not in line and "ijbc-IJBC" in line][0]
    tars = [float(cell) / 100 for cell in row.strip("|").split("|")[1:]]
    saved = np.load(os.path.join(results, "golden", "ijbc.npy"))
    golden = {"tar_at_far": dict(zip(("1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1"), tars)),
              "scores": [float(value) for value in saved[:8]], "score_mean": float(saved.mean())}
    sys.argv = ["ijb_1n.py", "--target", "IJBC"]
    printed = io.StringIO()
    here = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(printed):
            runpy.run_path(ijb_1n_py, run_name="__main__")
    finally:
        os.chdir(here)
    text = printed.getvalue()
    for rank in (1, 5, 10):
        golden[f"rank_{rank}"] = float(re.search(rf"top{rank} = ([\d.e-]+)", text).group(1))
    golden["tpir_at_fpir"] = {far: float(re.search(rf"far = {float(far):.10f} pr = ([\d.]+)", text).group(1))
                              for far in ("0.01", "0.1")}
    print(json.dumps(golden))


if __name__ == "__main__":
    {"write": write_set, "score": score}[sys.argv[1]](*sys.argv[2:])
