"""The zoo beside the paper's Table II: our parameter and MAC counts next to its figures.

Parameters are counted with BatchNorm folded into the convolutions (what a
deployed model stores, and what the paper's figures count); trainable
parameters include BN's scale and shift; MACs are multiply-accumulates of the
convolutions for one face. The paper's columns come from its Table II
(CASIA-WebFace, ArcFace; latency on a Snapdragon 820, 4 threads, NCNN). A row
may carry `latency_ms` ({threads: median ms} measured here, as
`python -m tfmfn.benchmark --paper_table` adds it); the table then shows it.

Example:

    >>> from tfmfn.models import paper_table
    >>> row, = paper_table.zoo_rows(["mobilefacenet"])
    >>> row["params"], row["macs"], row["paper_params"]
    (993344, 220965376, 990000)
"""

from tfmfn import models
from tfmfn.models import profile


def check_names(names):
    """`names` (all of the zoo when None), or a one-line error naming the unknown ones and the choices."""
    from absl import app

    names = names or models.names()
    unknown = [name for name in names if name not in models.ZOO]
    if unknown:
        raise app.UsageError(f"unknown model {', '.join(unknown)}; choose from {', '.join(models.names())}")
    return names


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
