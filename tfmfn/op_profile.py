"""Where a `.tflite` model's time goes: its latency split by op type, measured here.

    python -m tfmfn.op_profile --model float32.tflite --model int8.tflite --threads 1,2 [--runs 300] [--json] [--plot FILE.png]

LiteRT's Python API has no per-op profiler (TFLite's `benchmark_model
--enable_op_profiling` has one, on the device). This module cuts a model into
one model per op type instead: the same operators, tensors, weights and
quantization, with every input those operators read from other op types made a
model input. Each of those and the whole model run in blocks of invocations (so
that their data is as warm in the caches as inside the whole model), the blocks
of all models alternating. The op types' medians add up to about the whole
model's (within 1-18% measured here); comparing a float32 model with its int8
export shows which ops int8 speeds up on this CPU and which it does not.

Example:

    >>> import numpy as np, tf_keras as keras
    >>> from tfmfn import convert
    >>> x = keras.Input((16, 16, 8))
    >>> y = keras.layers.Add()([x, keras.layers.Conv2D(8, 1)(x)])
    >>> parts = op_type_models(convert.convert_keras(keras.Model(x, y), "float32"))
    >>> {name: part.count for name, part in parts.items()}
    {'ADD': 1, 'CONV_2D': 1}
"""

import dataclasses
import os
import time

import numpy as np

from tfmfn import cli
from tfmfn.runtime import litert

WHOLE = "whole model"


@dataclasses.dataclass
class OpTypeModel:
    """The ops of one type cut out of a model (or the whole model), as .tflite bytes."""

    count: int
    tflite: bytes


def op_type_models(tflite):
    """{op name: `OpTypeModel`} of .tflite bytes with one subgraph, in op name order."""
    from tensorflow.lite.tools import flatbuffer_utils

    litert.interpreter_for(content=tflite)
    names = _builtin_names()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    if len(model.subgraphs) != 1:
        raise ValueError(f"the model has {len(model.subgraphs)} subgraphs; only single-subgraph models can be cut by op type")
    types = sorted({_op_name(model, op, names) for op in model.subgraphs[0].operators})
    parts = {}
    for op_type in types:
        part = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
        graph = part.subgraphs[0]
        kept = [op for op in graph.operators if _op_name(part, op, names) == op_type]
        produced = {index for op in kept for index in op.outputs}
        graph.inputs = list(dict.fromkeys(
            index for op in kept for index in op.inputs
            if index >= 0 and index not in produced and not _is_constant(part, graph.tensors[index])
        ))
        graph.outputs = list(dict.fromkeys(index for op in kept for index in op.outputs))
        graph.operators = kept
        part.signatureDefs = []
        parts[op_type] = OpTypeModel(len(kept), bytes(flatbuffer_utils.convert_object_to_bytearray(part)))
    return parts


def _builtin_names():
    from tensorflow.lite.python import schema_py_generated as schema

    return {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


def _op_name(model, op, names):
    code = model.operatorCodes[op.opcodeIndex]
    return names[max(code.builtinCode, code.deprecatedBuiltinCode)]


def _is_constant(model, tensor):
    data = model.buffers[tensor.buffer].data
    return data is not None and len(data) > 0


@dataclasses.dataclass
class Row:
    """One op type (or the whole model) of one model at one thread count."""

    model: str
    op: str
    count: int
    threads: int
    median_ms: float
    fully_delegated: bool


def profile(paths, threads=(1,), runs=100, warmup=5, block=25, progress=None):
    """`Row`s for every op type of every model in `paths`, and for each whole model.

    Every model (op type or whole) runs in blocks of `block` timed invocations
    after two untimed ones, so that its inputs and weights are as warm as inside
    the whole model; the blocks of all models alternate, in a rotating order,
    until each has `runs` timings. `progress(threads, rounds done)` follows the rounds.
    """
    if runs < 1 or block < 1:
        raise ValueError(f"runs and block must be at least 1, got runs={runs}, block={block}")
    measured = {}
    for path in paths:
        with open(path, "rb") as stream:
            whole = stream.read()
        try:
            parts = op_type_models(whole)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        measured[path, WHOLE] = OpTypeModel(sum(part.count for part in parts.values()), whole)
        measured.update({(path, op_type): part for op_type, part in parts.items()})
    rows = []
    for count_threads in threads:
        medians, delegated = _time_in_blocks(measured, count_threads, runs, warmup, block, progress)
        rows += [Row(path, op_type, part.count, count_threads, medians[path, op_type], delegated[path, op_type])
                 for (path, op_type), part in measured.items()]
    return rows


def rounds_needed(runs, block):
    """How many rounds of blocks give every model `runs` timings."""
    return -(-runs // block)


def _time_in_blocks(models, threads, runs, warmup, block, progress):
    """Medians and delegation, keyed like `models` ({key: `OpTypeModel`})."""
    rng = np.random.default_rng(0)
    interpreters = {}
    for key, model in models.items():
        interpreter = litert.interpreter_for(content=model.tflite, num_threads=threads)
        interpreter.allocate_tensors()
        litert.fill_inputs(interpreter, rng)
        for _ in range(warmup):
            interpreter.invoke()
        interpreters[key] = interpreter
    keys = list(models)
    timings = {key: [] for key in keys}
    for round_index in range(rounds_needed(runs, block)):
        shift = round_index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            invoke = interpreters[key].invoke
            invoke()
            invoke()
            for _ in range(min(block, runs - len(timings[key]))):
                start = time.perf_counter()
                invoke()
                timings[key].append((time.perf_counter() - start) * 1000)
        if progress:
            progress(threads, round_index + 1)
    medians = {key: float(np.median(values)) for key, values in timings.items()}
    delegated = {key: litert.delegation(interpreter)[0] for key, interpreter in interpreters.items()}
    return medians, delegated


def format_profile(rows):
    """A table: one line per op type, per model and thread count its median ms and share
    of the model's sum; with two models, the second's time over the first's."""
    models = list(dict.fromkeys(row.model for row in rows))
    threads = sorted({row.threads for row in rows})
    table = {(row.model, row.op, row.threads): row for row in rows}
    ops = sorted({row.op for row in rows if row.op != WHOLE})
    sums = {(model, count): sum(table[model, op, count].median_ms for op in ops if (model, op, count) in table)
            for model in models for count in threads}
    columns = [(model, count) for model in models for count in threads]
    header = f"{'op':<22}" + "".join(f"{_short(model, count):>24}" for model, count in columns)
    if len(models) == 2:
        header += "".join(f"{f'ratio {count}t':>10}" for count in threads)
    lines = ["median ms (share of the sum of op types); count in brackets", header]
    for op in [*ops, "sum of op types", WHOLE]:
        cells, values = [], {}
        for model, count in columns:
            if op == "sum of op types":
                values[model, count], text = sums[model, count], f"{sums[model, count]:.3f}"
            elif (model, op, count) in table:
                row = table[model, op, count]
                values[model, count] = row.median_ms
                share = "" if op == WHOLE else f" ({100 * row.median_ms / sums[model, count]:.0f}%)"
                text = f"[{row.count}] {row.median_ms:.3f}{share}{'' if row.fully_delegated else ' NOT DELEGATED'}"
            else:
                text = "-"
            cells.append(f"{text:>24}")
        line = f"{op:<22}" + "".join(cells)
        if len(models) == 2:
            line += "".join(
                f"{values[models[1], count] / values[models[0], count]:>10.2f}"
                if (models[0], count) in values and (models[1], count) in values else f"{'-':>10}"
                for count in threads
            )
        lines.append(line)
    return "\n".join(lines)


def _short(model, threads):
    name = os.path.splitext(os.path.basename(model))[0]
    return f"{name[:16]} {threads}t"


def plot_profile(rows, path):
    """Stacked bars, one per model and thread count, split by op type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = list(dict.fromkeys((row.model, row.threads) for row in rows))
    ops = sorted({row.op for row in rows if row.op != WHOLE})
    table = {(row.model, row.op, row.threads): row.median_ms for row in rows}
    figure, axis = plt.subplots(figsize=(3 + 1.1 * len(bars), 4.5))
    bottom = np.zeros(len(bars))
    for op in ops:
        heights = np.array([table.get((model, op, count), 0.0) for model, count in bars])
        axis.bar(range(len(bars)), heights, bottom=bottom, label=op)
        bottom += heights
    axis.set_xticks(range(len(bars)), [_short(model, count).replace(" ", "\n") for model, count in bars], fontsize=8)
    axis.set_ylabel("median ms, op types measured apart")
    axis.set_title("where the time goes, by op type (LiteRT, this machine)")
    axis.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _define_flags():
    from absl import flags

    flags.DEFINE_multi_string("model", None, "A .tflite model; repeat the flag to compare (float32 first, then int8).")
    flags.DEFINE_list("threads", ["1"], "Thread counts, comma separated.")
    flags.DEFINE_integer("runs", 100, "Timed invocations of each op type's model and of each whole model.")
    flags.DEFINE_integer("warmup", 5, "Untimed invocations first.")
    flags.DEFINE_integer("block", 25, "Timed invocations of one model in a row before the next model's turn.")
    flags.DEFINE_bool("json", False, "Print the rows as JSON.")
    flags.DEFINE_string("plot", None, "Write stacked bars of the op types' latencies to this PNG.")


def main(argv):
    import json

    from absl import app, flags
    from tqdm import tqdm

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    try:
        threads = cli.models_and_threads(options)
        rounds = rounds_needed(options.runs, max(options.block, 1))
        with tqdm(total=len(threads) * rounds, unit="round", disable=options.json) as bar:
            rows = profile(options.model, threads, options.runs, options.warmup, options.block,
                           progress=lambda count, done: bar.update(1))
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        raise SystemExit(f"error: {error}")
    print(json.dumps([dataclasses.asdict(row) for row in rows], indent=2) if options.json else format_profile(rows))
    if options.plot:
        plot_profile(rows, options.plot)


if __name__ == "__main__":
    _define_flags()
    cli.run(main, required=("model",))
