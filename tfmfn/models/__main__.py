"""Prints the model zoo as a table like the paper's Table II.

    python -m tfmfn.models                 # every model, as a table
    python -m tfmfn.models --json          # a JSON list, one object per model
    python -m tfmfn.models --arch mobilefacenet,mobilenet_v2 --input_size 112,96
    python -m tfmfn.models --latency [--threads 1,2] [--runs 100]   # + float32 .tflite latency here

Parameters are counted with BatchNorm folded into the convolutions (what a
deployed model stores, and what the paper's figures count); trainable
parameters include BN's scale and shift; MACs are multiply-accumulates of the
convolutions for one face. The paper's columns come from its Table II
(CASIA-WebFace, ArcFace; latency on a Snapdragon 820, 4 threads, NCNN).
`--latency` converts every model (untrained: latency does not depend on the
weights) to a float32 .tflite and measures its median latency on this machine
with LiteRT (XNNPACK), all models interleaved in one run.
"""

import json

from absl import app, flags

from tfmfn import benchmark, cli, convert, models
from tfmfn.models import profile

FLAGS = flags.FLAGS


def _define_flags():
    flags.DEFINE_bool("json", False, "Print a JSON list of objects instead of a table.")
    flags.DEFINE_list("arch", None, f"Zoo architectures to include (default: all). One of: {', '.join(models.names())}.")
    flags.DEFINE_list("input_size", None, "HEIGHT,WIDTH to build every model at (default: each model's own).")
    flags.DEFINE_bool("latency", False, "Also measure each model's float32 .tflite latency here (LiteRT, XNNPACK).")
    flags.DEFINE_list("threads", ["1"], "Thread counts for --latency.")
    flags.DEFINE_integer("runs", 100, "Timed runs per model and thread count for --latency.")
    cli.rename("models", "arch")


def zoo_rows(names, input_size=None):
    """One dict per model: what we measure next to what the paper reports."""
    rows = []
    for name in names:
        input_shape = (*input_size, 3) if input_size else None
        net = models.build(name, input_shape=input_shape)
        stats = profile.profile(net)
        entry = models.ZOO[name]
        rows.append(
            {
                "name": name,
                "input_shape": list(net.input_shape[1:]),
                "params": stats.params,
                "trainable_params": stats.trainable_params,
                "macs": stats.macs,
                "paper_params": round(entry.paper_params * 1e6) if entry.paper_params else None,
            }
        )
    return rows


def measure_latency(rows, threads=(1,), runs=100):
    """Adds `latency_ms` ({threads: median ms} of the float32 .tflite, measured here) to each row."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for row in rows:
            net = models.build(row["name"], input_shape=tuple(row["input_shape"]))
            path = f"{folder}/{row['name']}.tflite"
            with open(path, "wb") as stream:
                stream.write(convert.convert_keras(net, "float32"))
            paths.append(path)
        results = benchmark.benchmark_local(paths, threads, runs)
    for row, path in zip(rows, paths):
        row["latency_ms"] = {result.threads: result.median_ms for result in results if result.model == path}
    return rows


def format_table(rows):
    """Table II, with our counts beside the paper's figures."""
    header = (
        f"{'model':<22} {'input':<11} {'params':>9} {'trainable':>10} {'MACs':>8} "
        f"{'paper':>6} {'diff':>6} {'LFW':>6} {'AgeDB':>6} {'ms':>3}"
    )
    header += "".join(f" {f'here {count}t':>8}" for count in rows[0].get("latency_ms", {}))
    lines = [header, "-" * len(header)]
    for row in rows:
        entry = models.ZOO[row["name"]]
        paper = (
            f"{entry.paper_params:>5.2f}M {row['params'] / row['paper_params'] - 1:>+6.1%} "
            f"{entry.paper_lfw:>6.2f} {entry.paper_agedb30:>6.2f} {entry.paper_ms:>3}"
            if entry.paper_params
            else f"{'-':>6} {'-':>6} {'-':>6} {'-':>6} {'-':>3}"
        )
        lines.append(
            f"{row['name']:<22} {'x'.join(map(str, row['input_shape'])):<11} "
            f"{row['params'] / 1e6:>8.3f}M {row['trainable_params'] / 1e6:>9.3f}M "
            f"{row['macs'] / 1e6:>7.1f}M {paper}"
            + "".join(f" {milliseconds:>8.2f}" for milliseconds in row.get("latency_ms", {}).values())
        )
    lines.append(
        "params: BN folded; paper, LFW, AgeDB (-30), ms: the paper's Table II "
        "(CASIA-WebFace, Snapdragon 820, 4 threads); -: not in the paper."
    )
    if "latency_ms" in rows[0]:
        lines.append("here Nt: median ms of the float32 .tflite on this machine, LiteRT (XNNPACK), N threads, batch 1.")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    names = FLAGS.arch or models.names()
    unknown = [name for name in names if name not in models.ZOO]
    if unknown:
        raise app.UsageError(f"unknown model {', '.join(unknown)}; choose from {', '.join(models.names())}")
    input_size = None
    if FLAGS.input_size:
        try:
            input_size = tuple(int(side) for side in FLAGS.input_size)
        except ValueError:
            input_size = ()
        if len(input_size) != 2:
            raise app.UsageError(f"--input_size takes HEIGHT,WIDTH, got {','.join(FLAGS.input_size)}")
    rows = zoo_rows(names, input_size)
    if FLAGS.latency:
        try:
            threads = tuple(int(count) for count in FLAGS.threads)
        except ValueError:
            raise app.UsageError(f"--threads takes counts like 1,2, got {','.join(FLAGS.threads)}") from None
        measure_latency(rows, threads, FLAGS.runs)
    print(json.dumps(rows, indent=2) if FLAGS.json else format_table(rows))


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
