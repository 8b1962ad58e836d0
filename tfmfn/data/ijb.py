"""IJB-B and IJB-C (NIST's template benchmarks) as insightface evaluates them: 1:1 TAR at FAR, 1:N ranks and TPIR.

IJB compares templates, not images: a template is a set of photos and video frames of one
person. insightface's protocol (`recognition/arcface_torch/eval_ijbc.py` for 1:1,
`recognition/_evaluation_/ijb/ijb_1n.py` for 1:N), which this module follows step by step:

1. every image of `loose_crop/` is aligned by its five landmarks to the 112x112 template
   (a similarity transform, `tfmfn.align`), embedded, and its mirror image too; the two raw
   embeddings are added (not normalised: the norm says how face-like the image is) and
   multiplied by the detector's faceness score of the image;
2. the images of one media (the frames of one video) are averaged, a template's medias
   summed, the sum L2-normalised; a pair's score is the cosine of its two templates;
3. 1:1: the ROC of the pairs' scores (scikit-learn's `roc_curve`, its intermediate points
   dropped), and at each FAR of 1e-6 ... 1e-1 the TAR of the ROC point whose FAR is closest
   (the highest TAR among equally close ones);
4. 1:N: the two galleries (IJB-B S1 + S2, IJB-C G1 + G2) as one gallery of templates, the
   mixed probe templates searched in it: rank-1, rank-5 and rank-10 identification rates, and
   TPIR at FPIR 0.01 and 0.1 as insightface computes them: the threshold is the k-th highest
   score of a probe against another subject's gallery template, k = ceil(FPIR x probes), and
   TPIR the share of probes whose own subject's template scores above it. (NIST's open-set
   FPIR counts non-mated probes instead; insightface's figures, which papers quote, use this.)

tests/insightface_ijb_golden.py holds what insightface's own two scripts compute on a small
synthetic IJB-shaped set; `tfmfn.evaluate --ijb` matches them to 1e-6.

The layout is insightface's `IJB_release` (the dataset itself comes from NIST under its own
licence, and cannot be fetched here):

    DIR/loose_crop/<image>                          the photos and frames
    DIR/meta/ijbc_name_5pts_score.txt               <image> x1 y1 ... x5 y5 <faceness>
    DIR/meta/ijbc_face_tid_mid.txt                  <image> <template> <media>
    DIR/meta/ijbc_template_pair_label.txt           <template> <template> <1 same | 0 not>
    DIR/meta/ijbc_1N_gallery_G1.csv, ..._G2.csv     TEMPLATE_ID,SUBJECT_ID,... (a header line)
    DIR/meta/ijbc_1N_probe_mixed.csv                the same for the probes

(`ijbb_...` and `_S1`, `_S2` for IJB-B.) Without the 1:N files only 1:1 is evaluated.

Example (the SYNTHETIC set of the tests; a real IJB-C takes hours on a CPU: 469,375 images):

    >>> from tfmfn.data import ijb
    >>> benchmark = ijb.load("IJB_release/IJBC", "IJBC")                 # doctest: +SKIP
    >>> results = ijb.evaluate(embedder, benchmark)                        # doctest: +SKIP
    >>> results["1:1"]["tar_at_far"]["1e-4"], results["1:N"]["rank_1"]    # doctest: +SKIP
"""

import dataclasses
import math
import os

import numpy as np

from tfmfn import align

SETS = ("IJBB", "IJBC")
FARS = ("1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1")
FPIRS = ("0.01", "0.1")
RANKS = (1, 5, 10)
GALLERIES = {"IJBB": ("S1", "S2"), "IJBC": ("G1", "G2")}


@dataclasses.dataclass
class Benchmark:
    """An IJB set's metadata: per image (file, landmarks, faceness, template, media); pairs; 1:N lists."""

    name: str
    root: str
    images: list
    landmarks: np.ndarray
    faceness: np.ndarray
    templates: np.ndarray
    medias: np.ndarray
    pairs: np.ndarray
    gallery: np.ndarray = None
    probes: np.ndarray = None


def _meta(root, name, suffix):
    return os.path.join(root, "meta", f"{name.lower()}_{suffix}")


def _rows(path, separator=None, header=False):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing; --ijb takes insightface's IJB_release folder of the set "
                                "(loose_crop/ and meta/), see the README's IJB section")
    with open(path) as stream:
        lines = [line.strip() for line in stream if line.strip()]
    return [line.split(separator) for line in lines[1 if header else 0:]]


def _table(path, columns, separator=None, header=False, rows=None):
    """`columns` of every row of `path` (its `rows` when already read) as integers (ids, labels)."""
    rows = _rows(path, separator, header) if rows is None else rows
    try:
        return np.array([[int(row[column]) for column in columns] for row in rows], dtype=np.int64).reshape(-1, len(columns))
    except (ValueError, IndexError):
        raise ValueError(f"{path}: expected whole numbers in columns {[column + 1 for column in columns]} of every "
                         "line, as in insightface's IJB_release") from None


def load(root, name="IJBC"):
    """The metadata of the IJB set `name` (IJBB or IJBC) in `root` (insightface's layout, above)."""
    name = name.upper()
    if name not in SETS:
        raise ValueError(f"--ijb_set {name}: IJB sets are {', '.join(SETS)}")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder; --ijb takes insightface's IJB_release folder of {name}")
    points = _rows(_meta(root, name, "name_5pts_score.txt"))
    try:
        if any(len(row) != 12 for row in points):
            raise ValueError
        numbers = np.array([row[1:] for row in points], dtype=np.float32).reshape(-1, 11)  # as insightface reads them
    except ValueError:
        raise ValueError(f"{_meta(root, name, 'name_5pts_score.txt')}: every line is an image, ten landmark "
                         "coordinates and a faceness score, as in insightface's IJB_release") from None
    images = [row[0] for row in points]
    media_list = _rows(_meta(root, name, "face_tid_mid.txt"))
    if [row[0] for row in media_list] != images:
        raise ValueError(f"{_meta(root, name, 'face_tid_mid.txt')} and name_5pts_score.txt list other images; "
                         "both come from the same IJB_release")
    template_media = _table(_meta(root, name, "face_tid_mid.txt"), (1, 2), rows=media_list)
    pairs = _table(_meta(root, name, "template_pair_label.txt"), (0, 1, 2))
    for suffix, count, what in (("name_5pts_score.txt", len(images), "images"),
                                ("template_pair_label.txt", len(pairs), "template pairs")):
        if not count:
            raise ValueError(f"{_meta(root, name, suffix)}: no {what}; is the IJB_release complete?")
    benchmark = Benchmark(name, root, images, numbers[:, :10].reshape(-1, 5, 2), numbers[:, 10],
                          template_media[:, 0], template_media[:, 1], pairs)
    one_to_many = [_meta(root, name, f"1N_gallery_{part}.csv") for part in GALLERIES[name]]
    one_to_many.append(_meta(root, name, "1N_probe_mixed.csv"))
    if all(os.path.isfile(path) for path in one_to_many):
        benchmark.gallery = np.concatenate([_table(path, (0, 1), ",", header=True) for path in one_to_many[:2]])
        benchmark.probes = _table(one_to_many[2], (0, 1), ",", header=True)
    return benchmark


def aligned_face(benchmark, index, size):
    """Image `index` aligned by its landmarks to the template of `size` (height, width), uint8 RGB."""
    path = os.path.join(benchmark.root, "loose_crop", benchmark.images[index])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: listed in {benchmark.name}'s meta but missing from loose_crop/")
    return align.align_landmarks(align.load_image(path), benchmark.landmarks[index], size)


def image_features(embedder, benchmark, flip=True, batch_images=256, progress=True):
    """(images, D) float64: each image's embedding plus its mirror image's (`flip`), times its faceness."""
    from tqdm import tqdm

    size = tuple(embedder.input_size)
    features = []
    count = len(benchmark.images)
    with tqdm(total=count, desc=f"embedding {benchmark.name}", unit="image", disable=not progress) as bar:
        for start in range(0, count, batch_images):
            faces = np.stack([aligned_face(benchmark, index, size) for index in range(start, min(start + batch_images, count))])
            vectors = embedder.embed(faces).astype(np.float64)
            if flip:
                vectors = vectors + embedder.embed(faces[:, :, ::-1]).astype(np.float64)
            features.append(vectors)
            bar.update(len(faces))
    return np.concatenate(features) * benchmark.faceness[:, None]


def template_features(features, benchmark):
    """(template ids in increasing order, their L2-normalised features): each media's images averaged,
    the template's medias summed."""
    unique = np.unique(benchmark.templates)
    pooled = np.zeros((len(unique), features.shape[1]))
    order = np.argsort(benchmark.templates, kind="stable")
    starts = np.searchsorted(benchmark.templates[order], unique)
    ends = np.searchsorted(benchmark.templates[order], unique, side="right")
    for row, (start, end) in enumerate(zip(starts, ends)):
        members = order[start:end]
        medias = benchmark.medias[members]
        pooled[row] = sum(features[members[medias == media]].mean(axis=0) for media in np.unique(medias))
    return unique, pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def template_rows(templates, ids, listed_in):
    """Where each of `ids` sits in `templates` (increasing); ValueError naming `listed_in` for one not there."""
    rows = np.searchsorted(templates, ids)
    if np.any(templates[np.minimum(rows, len(templates) - 1)] != ids):
        raise ValueError(f"{listed_in} names templates that face_tid_mid.txt does not hold")
    return rows


def pair_scores(templates, template_vectors, pairs):
    """Cosine of each pair's two templates."""
    rows = template_rows(templates, pairs[:, :2], "template_pair_label.txt")
    return np.sum(template_vectors[rows[:, 0]] * template_vectors[rows[:, 1]], axis=1)


def roc(labels, scores):
    """(FAR, TAR) at every distinct score, highest first, with the points that lie on a straight line
    between their neighbours dropped: scikit-learn's `roc_curve(labels, scores)`."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, labels = np.asarray(scores)[order], np.asarray(labels)[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_accepts = np.cumsum(labels)[last_of_each]
    false_accepts = 1 + last_of_each - true_accepts
    if len(false_accepts) > 2:
        corners = np.flatnonzero(np.r_[True, np.logical_or(np.diff(false_accepts, 2), np.diff(true_accepts, 2)), True])
        true_accepts, false_accepts = true_accepts[corners], false_accepts[corners]
    true_accepts, false_accepts = np.r_[0, true_accepts], np.r_[0, false_accepts]
    return false_accepts / false_accepts[-1], true_accepts / true_accepts[-1]


def tar_at_far(labels, scores, fars=FARS):
    """{FAR: TAR of the ROC point whose FAR is closest, the highest TAR among ties}, as insightface reads its ROC."""
    far, tar = (curve[::-1] for curve in roc(labels, scores))
    return {target: float(tar[np.argmin(np.abs(far - float(target)))]) for target in fars}


def identification(probe_vectors, probe_subjects, gallery_vectors, gallery_subjects):
    """{rank_1, rank_5, rank_10, tpir_at_fpir {0.01, 0.1}} of probes searched in the gallery (one template per
    subject), as insightface's `ijb_1n.py` computes them."""
    mated = {}
    for column, subject in enumerate(gallery_subjects):
        if subject in mated:
            raise ValueError(f"subject {subject} has two templates in the gallery; 1:N needs one per subject")
        mated[subject] = column
    try:
        columns = np.array([mated[subject] for subject in probe_subjects])
    except KeyError as missing:
        raise ValueError(f"probe subject {missing.args[0]} has no template in the gallery") from None
    similarity = probe_vectors @ gallery_vectors.T
    ranked = np.argsort(-similarity, axis=1)
    results = {f"rank_{rank}": float(np.mean(np.any(ranked[:, :rank] == columns[:, None], axis=1))) for rank in RANKS}
    rows = np.arange(len(columns))
    mated_scores = similarity[rows, columns]
    non_mated = np.ones_like(similarity, dtype=bool)
    non_mated[rows, columns] = False
    highest = np.sort(similarity[non_mated])[::-1]
    results["tpir_at_fpir"] = {}
    for fpir in FPIRS:
        threshold = highest[math.ceil(len(columns) * float(fpir)) - 1]
        results["tpir_at_fpir"][fpir] = float(np.mean(mated_scores > threshold))
    return results


def evaluate(embedder, benchmark, flip=True, progress=True):
    """{"1:1": {pairs, genuine, tar_at_far}, "1:N": {...} when the set has its 1:N lists}."""
    features = image_features(embedder, benchmark, flip, progress=progress)
    templates, vectors = template_features(features, benchmark)
    labels = benchmark.pairs[:, 2]
    scores = pair_scores(templates, vectors, benchmark.pairs)
    results = {"1:1": {"pairs": int(len(labels)), "genuine": int(labels.sum()), "tar_at_far": tar_at_far(labels, scores)}}
    if benchmark.gallery is not None:
        gallery_ids, first = np.unique(benchmark.gallery[:, 0], return_index=True)
        probe_ids, probe_first = np.unique(benchmark.probes[:, 0], return_index=True)
        gallery_vectors = vectors[template_rows(templates, gallery_ids, "the 1:N gallery")]
        probe_vectors = vectors[template_rows(templates, probe_ids, "1N_probe_mixed.csv")]
        results["1:N"] = {"probes": int(len(probe_ids)), "gallery": int(len(gallery_ids)), **identification(
            probe_vectors, benchmark.probes[probe_first, 1], gallery_vectors, benchmark.gallery[first, 1])}
    return results


def format_results(name, results):
    """The 1:1 row (TAR at each FAR) and the 1:N row, as tables."""
    one = results["1:1"]
    lines = [f"{name} 1:1, {one['pairs']} template pairs ({one['genuine']} genuine): TAR at FAR",
             "  ".join(f"{far:>7}" for far in FARS),
             "  ".join(f"{one['tar_at_far'][far]:>7.2%}" for far in FARS)]
    many = results.get("1:N")
    if many:
        lines += ["", f"{name} 1:N, {many['probes']} probe templates in a gallery of {many['gallery']}:",
                  "  ".join(f"{label:>9}" for label in ("rank-1", "rank-5", "rank-10", "TPIR@0.01", "TPIR@0.1")),
                  "  ".join(f"{value:>9.2%}" for value in (many["rank_1"], many["rank_5"], many["rank_10"],
                                                           *many["tpir_at_fpir"].values()))]
    else:
        lines += ["", f"{name} 1:N: not evaluated (no {name.lower()}_1N_*.csv in meta/)"]
    return "\n".join(lines)
