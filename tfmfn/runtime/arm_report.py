"""The tables and the plot of `tfmfn.runtime.arm` results: instructions per inference by core, the int8 / float32
ratios, each model's op types, and whether its outputs agreed with x86 LiteRT.

Example:

    >>> from tfmfn.runtime.arm import Result
    >>> rows = [Result("m_float32.tflite", "cortex-a76", 0, 1, True, instructions={"total": 200.0}),
    ...         Result("m_int8.tflite", "cortex-a76", 0, 1, True, instructions={"total": 90.0})]
    >>> ratios(rows)
    {('m_int8.tflite', 'cortex-a76'): 0.45}
"""

import os


def ratios(results):
    """{(int8 model, core): total instructions of the int8 model / its float32 model's}: the float32 model of
    PREFIXint8SUFFIX.tflite is PREFIXfloat32.tflite in the same folder (as `benchmark --arch` names them)."""
    totals = {(result.model, result.core): result.instructions["total"] for result in results if result.instructions}
    pairs = {}
    for (model, core), total in totals.items():
        folder, name = os.path.split(model)
        if "int8" in name:
            float_model = os.path.join(folder, name[:name.index("int8")] + "float32.tflite")
            if (float_model, core) in totals:
                pairs[model, core] = total / totals[float_model, core]
    return pairs


def format_results(results):
    """A table of instructions per inference (millions) by model and core, with int8/float32 ratios, then
    one per op type for the models that were cut."""
    pair = ratios(results)
    width = max([24, *(len(os.path.basename(result.model)) + 1 for result in results)])
    header = (f"{'model':<{width}} {'core':<11} {'total M':>8} {'SIMD M':>7} {'dot M':>6} {'mmla M':>7} "
              f"{'int8/f32':>8}  vs x86")
    lines = ["instructions per inference (millions), emulated ARM cores (QEMU 7.2, LiteRT aarch64, 1 thread)", header]
    for result in results:
        counts = result.instructions
        verdict = _verdict(result)
        if counts:
            simd = (counts["simd_fp"] + counts["simd_load_store"] + counts["sve_sme"]) / 1e6
            cells = (f"{counts['total'] / 1e6:>8.2f} {simd:>7.2f} {counts['dot'] / 1e6:>6.2f} "
                     f"{counts['mmla'] / 1e6:>7.2f}")
        else:
            cells = f"{'-':>8} {'-':>7} {'-':>6} {'-':>7}"
        ratio = pair.get((result.model, result.core))
        per_image = (f"; batch {result.batch}: {counts['total'] / result.batch / 1e6:.2f}M per image"
                     if counts and result.batch != 1 else "")
        lines.append(f"{os.path.basename(result.model):<{width}} {result.core:<11} {cells} "
                     f"{f'{ratio:.2f}x' if ratio else '-':>8}  {verdict}{per_image}")
    lines.append("SIMD: SIMD and FP data processing + SIMD loads and stores + SVE/SME; dot: SDOT/UDOT/USDOT; "
                 "mmla: SMMLA/UMMLA/USMMLA. Counts, not time: no caches or pipeline are modelled.")
    cut = [result for result in results if result.by_op_type]
    for core in dict.fromkeys(result.core for result in cut):
        rows = [result for result in cut if result.core == core]
        ops = sorted({op for result in rows for op in result.by_op_type})
        lines += ["", f"by op type on {core}: millions of instructions per inference [ops of the type]",
                  f"{'op':<22}" + "".join(f"{os.path.basename(result.model):>{width + 2}}" for result in rows)]
        for op in ops:
            cells = []
            for result in rows:
                entry = result.by_op_type.get(op)
                text = f"[{entry['count']}] {entry['total'] / 1e6:.2f}" if entry else "-"
                cells.append(f"{text:>{width + 2}}")
            lines.append(f"{op:<22}" + "".join(cells))
        sums = [sum(entry["total"] for entry in result.by_op_type.values()) / 1e6 for result in rows]
        lines.append(f"{'sum of op types':<22}" + "".join(f"{value:>{width + 2}.2f}" for value in sums))
        lines.append(f"{'whole model':<22}" + "".join(f"{result.instructions['total'] / 1e6:>{width + 2}.2f}"
                                                      for result in rows))
    return "\n".join(lines)


def _verdict(result):
    """How a result's outputs compare with x86 LiteRT's, in words."""
    if result.identical:
        return "identical"
    alone = ""
    if result.op_differences:
        differing = ", ".join(f"{op} {value:g}" for op, value in result.op_differences.items() if value)
        alone = f"; op types alone: {differing or 'identical'}"
    if result.max_difference <= result.allowed:
        return f"within {result.allowed:g} (max diff {result.max_difference:g})"
    if result.same:
        return f"each op type within {result.allowed:g} alone (output max diff {result.max_difference:g}{alone})"
    return f"DIFFERENT (max diff {result.max_difference:g}{alone})"


def plot_results(results, path):
    """One panel per core: a bar per model, stacked by op type where the model was cut (millions of instructions)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cores = list(dict.fromkeys(result.core for result in results))
    ops = sorted({op for result in results for op in (result.by_op_type or {})})
    colours = dict(zip(ops, plt.cm.tab10.colors))
    figure, axes = plt.subplots(1, len(cores), figsize=(1 + 2.2 * len(cores) * max(1, len(results) / len(cores)) ** 0.6, 5),
                                sharey=True, squeeze=False)
    for axis, core in zip(axes[0], cores):
        rows = [result for result in results if result.core == core and result.instructions]
        for position, result in enumerate(rows):
            if result.by_op_type:
                bottom = 0.0
                for op in ops:
                    height = result.by_op_type.get(op, {}).get("total", 0) / 1e6
                    axis.bar(position, height, bottom=bottom, color=colours[op], label=op if position == 0 else None)
                    bottom += height
            axis.bar(position, result.instructions["total"] / 1e6, fill=False, edgecolor="black")
            axis.text(position, result.instructions["total"] / 1e6, f"{result.instructions['total'] / 1e6:.1f}",
                      ha="center", va="bottom", fontsize=8)
        axis.set_xticks(range(len(rows)), [os.path.splitext(os.path.basename(result.model))[0].replace("_", "\n", 1)
                                           for result in rows], fontsize=7)
        axis.set_title(core)
    axes[0][0].set_ylabel("millions of instructions per inference")
    if ops:
        handles = {label: handle for axis in axes[0] for handle, label in zip(*axis.get_legend_handles_labels())}
        figure.legend(handles.values(), handles.keys(), fontsize=8, loc="lower center", ncol=min(len(handles), 8))
    figure.suptitle("emulated ARM cores: whole model (outline) and op types measured apart")
    figure.tight_layout(rect=(0, 0.07 if ops else 0, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)

