"""The demo's report: its figures gathered from what the stages recorded (`report.json`), written out as
`report.md` with the plots beside it, and the grid of aligned sample faces.

Example (a finished demo folder; `python -m tfmfn.demo` makes one):

    >>> report = json.load(open("runs/demo/report.json"))          # doctest: +SKIP
    >>> print(format_markdown(report).splitlines()[0])              # doctest: +SKIP
    # tfmfn demo: mobilefacenet from synthetic faces to an int8 .tflite in the Android app
"""

import os
import platform
import sys
import time

from tfmfn import align
from tfmfn.data import pipeline
from tfmfn.runtime import model_card

PHOTOS = ("obama.jpg", "obama2.jpg", "biden.jpg")
"""Real photos in tests/data that the sample grid aligns in its top row."""


def build_report(settings, stages):
    """The figures of a finished run, from what its stages recorded."""
    num_pairs = next(iter(stages["evaluate"]["results"].values()))["num_pairs"]
    exports = stages["export"]["reports"]
    latency = {}
    for row in stages["benchmark"]["results"]:
        mode = "int8" if row["model"].endswith("_int8.tflite") else "float32"
        latency.setdefault(mode, {})[str(row["threads"])] = row
    models = {}
    for name, metrics in stages["evaluate"]["results"].items():
        entry = {"accuracy": metrics["accuracy"], "accuracy_std": metrics["accuracy_std"],
                 "tar_at_far_1e-3": metrics["val_at_far_1e-3"], "auc": metrics["auc"]}
        if name in exports:
            export = exports[name]
            entry.update(file=os.path.relpath(export["file"], settings.out), bytes=export["bytes"],
                         fully_delegated=export["fully_delegated"], outside_xnnpack=export["ops_outside_xnnpack"],
                         parity=export["parity"],
                         threshold=export["metadata"]["recommended_threshold"],
                         thresholds=export["metadata"]["thresholds"],
                         median_ms={threads: row["median_ms"] for threads, row in latency[name].items()})
        else:
            entry.update(file=os.path.join("float", "export"))
        models[name] = entry
    ratios = {threads: models["int8"]["median_ms"][threads] / models["float32"]["median_ms"][threads]
              for threads in models["int8"]["median_ms"]}
    return {
        "format": "tfmfn-demo-report/1",
        "settings": settings.recorded(),
        "data": stages["data"]["summary"],
        "pairs": num_pairs,
        "models": models,
        "int8_over_float32_latency": ratios,
        "int8_minus_float_accuracy": models["int8"]["accuracy"] - models["keras"]["accuracy"],
        "machine": machine(),
        "stage_seconds": {name: record["seconds"] for name, record in stages.items() if "seconds" in record},
        "app_assets": stages["app"].get("installed"),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def format_markdown(report):
    """report.md: what was run, the measured table, the plots."""
    models, settings = report["models"], report["settings"]
    threads = sorted(models["int8"]["median_ms"], key=int)
    rows = []
    for name, label in (("keras", "Keras float32"), ("float32", "TFLite float32"), ("int8", "TFLite int8 (QAT)")):
        model = models[name]
        size = f"{model['bytes'] / 1e6:.2f} MB" if "bytes" in model else "-"
        parity = (f"{model['parity']['cosine_mean']:.4f} / {model['parity']['cosine_min']:.4f}"
                  if "parity" in model else "-")
        latency = " / ".join(f"{model['median_ms'][t]:.2f}" for t in threads) if "median_ms" in model else "-"
        delegated = "-" if "fully_delegated" not in model else "yes" if model["fully_delegated"] else (
            "all but " + ", ".join(f"{op} x{count}" for op, count in model["outside_xnnpack"].items()))
        rows.append(f"| {label} | {size} | {100 * model['accuracy']:.2f} ± {100 * model['accuracy_std']:.2f} | "
                    f"{100 * model['tar_at_far_1e-3']:.2f} | {model['auc']:.4f} | {parity} | {latency} | {delegated} |")
    ratio = " / ".join(f"{report['int8_over_float32_latency'][t]:.2f}x" for t in threads)
    stages = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report["stage_seconds"].items())
    thresholds = (model_card.describe_thresholds(models["int8"]["thresholds"]) if models["int8"]["thresholds"]
                  else "none measured")
    machine = report["machine"]
    data = report["data"]
    lines = [
        f"# tfmfn demo: {settings['arch']} from synthetic faces to an int8 .tflite in the Android app",
        "",
        f"Measured on **synthetic data** ({data['identities']} training identities x {data['images_per_identity']} "
        f"images, {report['pairs']} verification pairs of {data.get('val_identities', '?')} held-out identities) "
        f"on **{machine['cpu']}** ({machine['cores']} cores, {machine['system']}), {report['created']}. "
        "These figures show the kit working end to end; they are not the accuracy of a model trained on real faces.",
        "",
        f"| model | size | 10-fold accuracy (%) | TAR@FAR=1e-3 (%) | AUC | parity with float (cos mean / min) | "
        f"median latency (ms, {' / '.join(t for t in threads)} threads) | on XNNPACK |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"- int8 / float32 latency: {ratio} ({' / '.join(threads)} threads; LiteRT + XNNPACK, "
        f"{settings['benchmark_runs']} interleaved runs).",
        f"- int8 - float accuracy: {100 * report['int8_minus_float_accuracy']:+.2f} points.",
        f"- thresholds in the int8 model's metadata (squared distance of normalised embeddings, single "
        f"images without flip): {thresholds}.",
        f"- files (beside this report): `{models['keras']['file']}`, `{models['float32']['file']}`, "
        f"`{models['int8']['file']}`"
        + (f"; the int8 model is installed in `{report['app_assets']}`." if report["app_assets"] else "."),
        f"- stage times: {stages}.",
        "",
        "## Training",
        "",
        "Float training (`synthetic` preset) and the QAT fine-tune that the int8 model comes from:",
        "",
        "![float training](curves_float.png)",
        "",
        "![QAT fine-tuning](curves_qat.png)",
        "",
        "## Verification",
        "",
        "![ROC](roc.png)",
        "",
        "## Latency",
        "",
        "![latency](latency.png)",
        "",
        "## Aligned faces",
        "",
        "Top row: real photos aligned by `tfmfn.align` (BlazeFace + the 5-point template). Below: synthetic "
        "training faces drawn at random (rendered already aligned).",
        "",
        "![samples](samples.png)",
        "",
    ]
    return "\n".join(lines)


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as stream:
            names = [line.split(":", 1)[1].strip() for line in stream if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": f"{platform.system()} {platform.machine()}",
            "python": sys.version.split()[0]}


def sample_grid(settings, path, columns=8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    photos_folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data")
    detector = align.FaceDetector()
    real = []
    for name in PHOTOS:
        photo_path = os.path.join(photos_folder, name)
        if os.path.exists(photo_path):
            image = align.load_image(photo_path)
            faces = detector.detect(image)
            if faces:
                real.append((name, align.align_face(image, faces[0])))
    source = pipeline.open_source(os.path.join(settings.data, "train"))
    synthetic = pipeline.sample_faces(source, 2 * columns, (112, 112), seed=1)
    figure, axes = plt.subplots(3, columns, figsize=(1.4 * columns, 4.6))
    for axis in axes.ravel():
        axis.axis("off")
    for column, (name, face) in enumerate(real[:columns]):
        axes[0, column].imshow(face)
        axes[0, column].set_title(name, fontsize=7)
    for index, face in enumerate(synthetic):
        axes[1 + index // columns, index % columns].imshow(face)
    figure.suptitle(f"aligned 112x112 inputs: real photos (top), synthetic training faces "
                    f"({source.num_classes} identities)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
