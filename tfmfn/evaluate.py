"""The standard face verification protocol for any tfmfn embedder, as insightface's `verification.py` computes it.

Each image and its horizontal flip are embedded, the two raw embeddings added,
then L2-normalised (`flip=False` uses the image alone); a pair's score is the
squared distance of its two embeddings. Accuracy: 10 contiguous folds (sizes as
scikit-learn's unshuffled KFold), the threshold among 0, 0.01, ..., 3.99 that is
best on 9 folds (the first best) is applied to the 10th, pairs closer than it
predicted the same person; mean and standard deviation over folds.
VAL@FAR=1e-3: on the 9 folds, the FAR of each threshold 0, 0.001, ..., 3.999,
and the threshold at FAR 1e-3 interpolated linearly along that curve (where FARs
repeat, between the last threshold below 1e-3 and the first above, as scipy's
interp1d(kind="slinear") did up to scipy 1.8, the version insightface's code
needs; 0 when FAR never reaches 1e-3); the 10th fold's true accept rate at it,
averaged. tests/insightface_golden.py holds the numbers insightface's own code
gives on a set whose image and mirror-image embeddings differ in norm. Over all
pairs: TAR at FAR 1e-4, 1e-3 and 1e-2 (the highest true accept rate among
thresholds whose false accept rate does not exceed it) and the ROC AUC.

Operating points (`operating_points`) are what an app should compare against:
they come from single, unflipped embeddings (an app embeds one frame), over all
pairs: the threshold at FAR 1e-3 (for 1:1 verification), at FAR 1e-4 (for 1:N
identification, where every enrolled face is another chance of a false accept)
and the accuracy-optimal one, each with the impostor pairs behind it. A FAR
target needs at least 1 / FAR impostor pairs to be measured at all (LFW's 3,000
support 1e-3, not 1e-4); below that the threshold is the closest impostor's
distance and the point says `"supported": false`.

Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> first = rng.normal(size=(600, 8)); issame = np.arange(600) % 2 == 0
    >>> second = np.where(issame[:, None], first + 0.1 * rng.normal(size=(600, 8)), rng.normal(size=(600, 8)))
    >>> metrics = verification_metrics(first, second, issame)
    >>> metrics["accuracy"] > 0.95, metrics["num_pairs"]
    (True, 600)

CLI: `python -m tfmfn.evaluate --model PATH --eval_bins a.bin[,b.bin] [--noflip] [--json] [--roc FILE.png]`;
IJB-B/C templates (`tfmfn.data.ijb`): `--ijb IJB_release/IJBC --ijb_set IJBC`.
"""

import numpy as np

from tfmfn import cli
from tfmfn.data import bins, ijb
from tfmfn.runtime import inference

THRESHOLDS = np.arange(0, 4, 0.01)
VAL_THRESHOLDS = np.arange(0, 4, 0.001)
NUM_FOLDS = 10
FAR_TARGETS = ("1e-4", "1e-3", "1e-2")
OPERATING_FARS = ("1e-3", "1e-4")


def l2_normalize(vectors):
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def pair_distances(first, second):
    """Squared distance between the L2-normalised embeddings of each pair."""
    return ((l2_normalize(first) - l2_normalize(second)) ** 2).sum(axis=1)


def fold_slices(count, num_folds=NUM_FOLDS):
    """Contiguous folds, the first `count % num_folds` one longer (scikit-learn's KFold)."""
    sizes = np.full(num_folds, count // num_folds)
    sizes[: count % num_folds] += 1
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return [np.arange(edges[fold], edges[fold + 1]) for fold in range(num_folds)]


def _rates(distances, issame, threshold):
    predicted = distances < threshold
    accepted_same = np.logical_and(predicted, issame).sum()
    accepted_different = np.logical_and(predicted, ~issame).sum()
    tar = accepted_same / max(issame.sum(), 1)
    far = accepted_different / max((~issame).sum(), 1)
    accuracy = (predicted == issame).mean() if len(issame) else 0.0
    return tar, far, accuracy


def _best_threshold(distances, issame):
    """The first of THRESHOLDS with the highest accuracy on these pairs."""
    return THRESHOLDS[int(np.argmax([_rates(distances, issame, threshold)[2] for threshold in THRESHOLDS]))]


def _threshold_at_far(distances, issame, far_target):
    """The VAL threshold: FAR is non-decreasing along VAL_THRESHOLDS, and np.interp on repeated FARs
    takes the segment from the last threshold at or below `far_target` to the next."""
    impostors = np.sort(distances[~issame])
    fars = np.searchsorted(impostors, VAL_THRESHOLDS, side="left") / max(len(impostors), 1)
    if fars.max() < far_target:
        return 0.0
    return float(np.interp(far_target, fars, VAL_THRESHOLDS))


def verification_metrics(first, second, issame):
    """Every metric of the protocol from the two embeddings of each pair (already flipped-and-added
    or not); the embeddings are L2-normalised here."""
    issame = np.asarray(issame, dtype=bool)
    distances = pair_distances(first, second)
    indices = np.arange(len(issame))
    accuracies, thresholds, vals = [], [], []
    for test in fold_slices(len(issame)):
        train = np.setdiff1d(indices, test)
        best = _best_threshold(distances[train], issame[train])
        thresholds.append(best)
        accuracies.append(_rates(distances[test], issame[test], best)[2])
        val_threshold = _threshold_at_far(distances[train], issame[train], 1e-3)
        vals.append(_rates(distances[test], issame[test], val_threshold)[0])
    return {
        "accuracy": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "threshold": float(np.mean(thresholds)),
        "val_at_far_1e-3": float(np.mean(vals)),
        "tar_at_far": {target: tar_at_far(distances, issame, float(target)) for target in FAR_TARGETS},
        "auc": roc_auc(distances, issame),
        "num_pairs": int(len(issame)),
    }


def operating_points(distances, issame):
    """Thresholds an app can use, from single-image embeddings' pair distances: `far_1e-3`, `far_1e-4`
    and `accuracy_optimal`, each with its threshold, TAR, FAR and accuracy on these pairs, and the
    impostor pairs behind it. Pairs closer than a threshold are the same person.

    >>> distances = np.array([0.2, 0.4, 0.6, 1.0, 1.2, 1.4]); issame = np.array([1, 1, 1, 0, 0, 0], bool)
    >>> points = operating_points(distances, issame)
    >>> points["far_1e-3"]["threshold"], points["far_1e-3"]["supported"], points["impostor_pairs"]
    (1.0, False, 3)
    """
    distances = np.asarray(distances, np.float64)
    issame = np.asarray(issame, dtype=bool)
    impostors = np.sort(distances[~issame])
    points = {"embeddings": "single image, no flip", "num_pairs": int(len(issame)),
              "genuine_pairs": int(issame.sum()), "impostor_pairs": int(len(impostors))}

    def point(threshold):
        tar, far, accuracy = _rates(distances, issame, threshold)
        return {"threshold": float(threshold), "tar": float(tar), "far": float(far), "accuracy": float(accuracy),
                "false_accepts": int(np.sum(impostors < threshold))}

    for target in OPERATING_FARS:
        allowed = int(np.floor(len(impostors) * float(target) + 1e-9))
        threshold = impostors[min(allowed, len(impostors) - 1)] if len(impostors) else 0.0
        needed = int(np.ceil(1 / float(target)))
        supported = len(impostors) >= needed
        points[f"far_{target}"] = {
            **point(threshold), "target_far": float(target), "supported": supported,
            "note": (f"{len(impostors)} impostor pairs allow {allowed} false accepts at this rate"
                     if supported else
                     f"only {len(impostors)} impostor pairs: FAR {target} needs at least {needed} to be measured; "
                     f"this is the closest impostor's distance, a strictest-seen guess, not a measured rate"),
        }
    points["accuracy_optimal"] = point(_best_threshold(distances, issame))
    return points


def roc_curve(distances, issame):
    """(false accept rates, true accept rates), one point per distinct distance, from (0, 0)."""
    order = np.argsort(distances, kind="stable")
    sorted_distances, sorted_same = distances[order], issame[order]
    last_of_tie = np.append(np.diff(sorted_distances) > 0, True)
    true_accepts = np.cumsum(sorted_same)[last_of_tie]
    false_accepts = np.cumsum(~sorted_same)[last_of_tie]
    tar = np.concatenate([[0.0], true_accepts / max(issame.sum(), 1)])
    far = np.concatenate([[0.0], false_accepts / max((~issame).sum(), 1)])
    return far, tar


def tar_at_far(distances, issame, far_target):
    """The highest true accept rate over thresholds whose false accept rate is at most `far_target`."""
    far, tar = roc_curve(distances, issame)
    return float(tar[far <= far_target].max())


def roc_auc(distances, issame):
    """Area under the ROC curve (trapezoids; ties count half)."""
    far, tar = roc_curve(distances, issame)
    return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2))


def pair_embeddings(embedder, pairs, flip=True, batch_images=512, single=None):
    """(first, second) embeddings of a `VerificationSet`'s pairs, flip-and-add when `flip`. An image
    that the set holds several times (the same bytes) is embedded once. With a list `single`, the
    images' own embeddings (without their flips) are appended to it as a (first, second) pair too."""
    keys = [(element.shape, element.tobytes()) if isinstance(element, np.ndarray) else bytes(element)
            for element in pairs.images]
    first_seen = {}
    for index, key in enumerate(keys):
        first_seen.setdefault(key, index)
    distinct = list(first_seen.values())
    embeddings = []
    for start in range(0, len(distinct), batch_images):
        batch = distinct[start : start + batch_images]
        faces = [pairs.decode(index) for index in batch]
        for index, face in zip(batch, faces):
            if face.shape[:2] != tuple(embedder.input_size):
                raise ValueError(
                    f"{pairs.name}: image {index} is {face.shape[0]}x{face.shape[1]} but {embedder.name} takes "
                    f"{embedder.input_size[0]}x{embedder.input_size[1]}; use a .bin made for this input size"
                )
        faces = np.stack(faces)
        vectors = embedder.embed(faces).astype(np.float64)
        flipped = embedder.embed(faces[:, :, ::-1]) if flip else 0.0
        embeddings.append(np.stack([vectors, vectors + flipped]))
    rows = [{index: position for position, index in enumerate(distinct)}[first_seen[key]] for key in keys]
    own, combined = np.concatenate(embeddings, axis=1)[:, rows]
    if single is not None:
        single.append((own[0::2], own[1::2]))
    return combined[0::2], combined[1::2]


def evaluate_bins(embedder, bin_paths, flip=True, roc_path=None):
    """`{set name: metrics}` for each `.bin` (with the `operating_points` of single-image embeddings);
    with `roc_path`, one ROC plot of every set."""
    return evaluate_sets(embedder, [bins.load_bin(path) for path in bin_paths], flip, roc_path)


def evaluate_sets(embedder, sets, flip=True, roc_path=None):
    """`evaluate_bins` for loaded `VerificationSet`s."""
    results, curves = {}, {}
    for pairs in sets:
        single = []
        first, second = pair_embeddings(embedder, pairs, flip, single=single)
        results[pairs.name] = verification_metrics(first, second, pairs.issame)
        results[pairs.name]["operating_points"] = operating_points(pair_distances(*single[0]), pairs.issame)
        curves[pairs.name] = roc_curve(pair_distances(first, second), pairs.issame)
    if roc_path:
        plot_roc(curves, results, roc_path, embedder.name)
    return results


def plot_roc(curves, results, path, title):
    """Writes ROC curves (log-scale FAR) with each set's accuracy and AUC in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4.5))
    for name, (far, tar) in curves.items():
        metrics = results[name]
        axis.plot(
            np.maximum(far, 1e-5), tar,
            label=f"{name}: acc {metrics['accuracy']:.2%}, AUC {metrics['auc']:.4f}",
        )
    axis.set_xscale("log")
    axis.set_xlim(1e-4, 1)
    axis.set_ylim(0, 1.01)
    axis.set_xlabel("false accept rate")
    axis.set_ylabel("true accept rate")
    axis.set_title(f"ROC: {title}")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def format_results(results):
    """A table: one line per verification set."""
    lines = [f"{'set':<12} {'pairs':>6} {'accuracy':>16} {'threshold':>9} {'VAL@1e-3':>9} {'TAR@1e-4':>9} {'TAR@1e-2':>9} {'AUC':>7}"]
    for name, metrics in results.items():
        lines.append(
            f"{name:<12} {metrics['num_pairs']:>6} {metrics['accuracy']:>8.2%} +- {metrics['accuracy_std']:>5.2%} "
            f"{metrics['threshold']:>9.2f} {metrics['val_at_far_1e-3']:>9.2%} {metrics['tar_at_far']['1e-4']:>9.2%} "
            f"{metrics['tar_at_far']['1e-2']:>9.2%} {metrics['auc']:>7.4f}"
        )
    lines += ["", "operating points, single image without flip (pairs closer than the threshold are one person):",
              f"{'set':<12} {'point':<17} {'threshold':>9} {'TAR':>7} {'FAR':>8} {'impostors':>9}  note"]
    for name, metrics in results.items():
        points = metrics.get("operating_points")
        for key in ("far_1e-3", "far_1e-4", "accuracy_optimal") if points else ():
            point = points[key]
            note = "" if point.get("supported", True) else "not measured: too few impostor pairs"
            lines.append(f"{name:<12} {key:<17} {point['threshold']:>9.3f} {point['tar']:>7.2%} {point['far']:>8.4%} "
                         f"{points['impostor_pairs']:>9}  {note}")
    return "\n".join(lines)


def _define_flags():
    from absl import flags

    flags.DEFINE_string("model", None, "A .tflite, .keras/.h5, SavedModel folder or training --model_dir.")
    flags.DEFINE_list("eval_bins", None, "Verification sets (.bin), comma separated.")
    flags.DEFINE_bool("flip", True, "Add each image's horizontal flip to its embedding, as the protocol does "
                      "(--noflip: each image alone).")
    flags.DEFINE_bool("json", False, "Print the metrics as JSON.")
    flags.DEFINE_string("roc", None, "Write a ROC plot of every set to this PNG.")
    flags.DEFINE_integer("num_threads", None, "LiteRT threads for .tflite models (default: LiteRT's choice).")
    flags.DEFINE_string("ijb", None, "An IJB-B or IJB-C folder in insightface's IJB_release layout (loose_crop/, "
                        "meta/): template 1:1 TAR at FAR 1e-6..1e-1 and 1:N ranks and TPIR (tfmfn.data.ijb).")
    flags.DEFINE_enum("ijb_set", "IJBC", list(ijb.SETS), "Which IJB set --ijb holds (its meta files' names).")
    cli.rename("bins", "eval_bins")
    cli.rename("no_flip", "flip", invert=True)
    cli.rename("threads", "num_threads")


def main(argv):
    import json

    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    if not options.eval_bins and not options.ijb:
        raise app.UsageError("--eval_bins or --ijb required")
    try:
        model = inference.load_embedder(options.model, options.num_threads)
        results = evaluate_bins(model, options.eval_bins, options.flip, options.roc) if options.eval_bins else {}
        if results:
            print(json.dumps(results, indent=2) if options.json else format_results(results))
        if options.ijb:
            benchmark = ijb.load(options.ijb, options.ijb_set)
            scored = ijb.evaluate(model, benchmark, options.flip, progress=not options.json)
            print(json.dumps({benchmark.name: scored}, indent=2) if options.json else ijb.format_results(benchmark.name, scored))
    except (FileNotFoundError, ValueError, bins.BinFormatError) as error:
        raise SystemExit(f"error: {error}")


if __name__ == "__main__":
    _define_flags()
    cli.run(main, required=("model",))
