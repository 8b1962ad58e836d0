"""Latency of `.tflite` embedders: LiteRT on this machine, or TFLite's `benchmark_model` on an ARM device.

    python -m tfmfn.benchmark --model float32.tflite --model int8.tflite --threads 1,2 [--runs 100] [--json] [--plot FILE.png]
    python -m tfmfn.benchmark --adb [--serial S] --binary android_aarch64_benchmark_model --model int8.tflite --threads 1,4
    python -m tfmfn.benchmark --arm cortex-a53,cortex-a76,i8mm --model float32.tflite --model int8.tflite [--json]
    python -m tfmfn.benchmark --arm cortex-a76 --arch mobilefacenet,mobilefacenet_lrelu [--export_dir DIR]
    python -m tfmfn.benchmark --paper_table [--arch NAMES] [--threads 1,2] [--runs 100] [--json]

Locally every model runs in this process with LiteRT's CPU path (XNNPACK), the
models interleaved round by round (the order rotating each round) so that
frequency scaling and other load hit them alike. Per model and thread count it
reports the median and 90th percentile of `--runs` timed invocations after
`--warmup` untimed ones, the initialisation time (load, allocate, first
inference), the resident memory the interpreter added (approximate: one
process holds every model), and whether XNNPACK took the whole graph (a single
DELEGATE node). With `--adb` the models and the `benchmark_model` binary are
pushed to the device and its output is parsed (`parse_benchmark_model`); see
`tflite/README.md` for where to get the binary. With `--arm` the models run on
emulated ARM cores instead (`tfmfn.runtime.arm`, after `make arm`): instructions per
inference, by class and by op type, and their outputs against this machine's.
`--arch` exports untrained zoo models first (float32, int8 and, for per-channel
PReLU models, int8 in the maximum PReLU form; PTQ on random faces: instruction
counts and latency do not depend on the weights). `--paper_table` prints the zoo
as the paper's Table II (`tfmfn.models.paper_table`) with each model's float32
latency here beside the paper's Snapdragon 820 figures.

Longer than 400 lines because the three places a model is timed (here, over adb,
on emulated cores) and the zoo's timed table share one `Result` and one CLI.

Example:

    >>> sample = "Inference timings in us: Init: 2100, First inference: 5210, Warmup (avg): 5010, Inference (avg): 4890.5"
    >>> parse_benchmark_model(sample)["mean_ms"]
    4.8905
"""

import dataclasses
import os
import re
import shlex
import subprocess
import time

import numpy as np

from tfmfn import cli, convert, models
from tfmfn.models import paper_table
from tfmfn.runtime import arm, arm_report, litert

DEVICE_FOLDER = "/data/local/tmp/tfmfn"


@dataclasses.dataclass
class Result:
    """One model at one thread count. Times in milliseconds, memory in MB."""

    model: str
    threads: int
    runs: int
    median_ms: float
    p90_ms: float = None
    p95_ms: float = None
    mean_ms: float = None
    init_ms: float = None
    memory_mb: float = None
    fully_delegated: bool = None
    bytes: int = None
    where: str = "local"
    batch: int = 1
    """Images per invocation (the input's first dimension): a fixed batch of 2 does twice the work."""

    @property
    def per_image_ms(self):
        return self.median_ms / self.batch


def _resident_mb():
    with open("/proc/self/status") as stream:
        for line in stream:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def benchmark_local(paths, threads=(1,), runs=50, warmup=5, progress=None):
    """`Result`s for every model at every thread count, interleaved in this process."""
    rng = np.random.default_rng(0)
    results = []
    for num_threads in threads:
        interpreters, setup = {}, {}
        for path in paths:
            memory_before, start = _resident_mb(), time.perf_counter()
            interpreter = litert.interpreter_for(path, num_threads=num_threads)
            interpreter.allocate_tensors()
            litert.fill_inputs(interpreter, rng)
            interpreter.invoke()
            setup[path] = ((time.perf_counter() - start) * 1000, _resident_mb() - memory_before)
            interpreters[path] = interpreter
            for _ in range(warmup):
                interpreter.invoke()
        timings = {path: [] for path in paths}
        for round_index in range(runs):
            shift = round_index % len(paths)
            for path in paths[shift:] + paths[:shift]:
                start = time.perf_counter()
                interpreters[path].invoke()
                timings[path].append((time.perf_counter() - start) * 1000)
            if progress:
                progress(num_threads, round_index + 1)
        for path in paths:
            values = np.array(timings[path])
            results.append(Result(
                model=path, threads=num_threads, runs=runs, median_ms=float(np.median(values)),
                p90_ms=float(np.percentile(values, 90)), p95_ms=float(np.percentile(values, 95)),
                mean_ms=float(values.mean()), init_ms=setup[path][0], memory_mb=setup[path][1],
                fully_delegated=litert.delegation(interpreters[path])[0], bytes=os.path.getsize(path),
                batch=batch_of(interpreters[path]),
            ))
    return results


def batch_of(interpreter):
    """Images per invocation of a model: the first dimension of its first input."""
    return int(interpreter.get_input_details()[0]["shape"][0])


_NUMBER = r"([-+0-9.eE]+)"
_PATTERNS = {
    "timings": re.compile(
        rf"Inference timings in us: Init: {_NUMBER}, First inference: {_NUMBER}, "
        rf"Warmup \(avg\): {_NUMBER}, Inference \(avg\): {_NUMBER}"
    ),
    "statistics": re.compile(r"count=(\d+) first=.*"),
    "memory": re.compile(rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
                         rf"init={_NUMBER} overall={_NUMBER}"),
    "peak": re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: {_NUMBER}"),
    "delegate": re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]*)\) node, yielding (\d+) partitions"),
    "threads": re.compile(r"#threads used for CPU inference: \[(\d+)\]|Num threads: \[(\d+)\]"),
}


def parse_benchmark_model(text):
    """The figures of one `benchmark_model` run (any log prefix; times in ms, memory in MB).

    Keys present when the output has them: init_ms, first_ms, warmup_mean_ms,
    mean_ms; count, min_ms, max_ms, std_ms, median_ms, p5_ms, p95_ms (of the
    timed runs, the last statistics line); memory_init_mb, memory_overall_mb,
    peak_memory_mb; delegated_nodes, total_nodes, partitions, delegate,
    fully_delegated; threads.
    """
    figures = {}
    timings = _PATTERNS["timings"].search(text)
    if timings is None:
        raise ValueError("no 'Inference timings in us' line: is this benchmark_model output of a finished run?")
    init, first, warmup, mean = (float(value) / 1000 for value in timings.groups())
    figures.update(init_ms=init, first_ms=first, warmup_mean_ms=warmup, mean_ms=mean)
    statistics = [line for line in text.splitlines() if _PATTERNS["statistics"].search(line)]
    if statistics:
        fields = dict(re.findall(r"(\w+)=([-+0-9.eE]+)", statistics[-1]))
        figures["count"] = int(fields["count"])
        for name in ("min", "max", "std", "median", "p5", "p95"):
            if name in fields:
                figures[f"{name}_ms"] = float(fields[name]) / 1000
    memory = _PATTERNS["memory"].search(text)
    if memory:
        figures["memory_init_mb"], figures["memory_overall_mb"] = (float(value) for value in memory.groups())
    peak = _PATTERNS["peak"].search(text)
    if peak:
        figures["peak_memory_mb"] = float(peak.group(1))
    delegated = _PATTERNS["delegate"].findall(text)
    if delegated:
        replaced, total, name, partitions = delegated[0]
        figures.update(delegated_nodes=int(replaced), total_nodes=int(total), delegate=name,
                       partitions=int(partitions), fully_delegated=replaced == total and partitions == "1")
    threads = _PATTERNS["threads"].search(text)
    if threads:
        figures["threads"] = int(next(value for value in threads.groups() if value))
    return figures


def _adb(serial, *arguments, check=True):
    command = ["adb", *(["-s", serial] if serial else []), *arguments]
    try:
        completed = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise FileNotFoundError("adb is not on PATH; install Android platform-tools") from None
    if check and completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {(completed.stderr or completed.stdout).strip()[:300]}")
    return completed.stdout + completed.stderr


def benchmark_adb(paths, binary, threads=(1,), runs=50, warmup=5, rounds=3, serial=None, extra_flags=()):
    """`Result`s from `benchmark_model` on a device over adb; each model runs `rounds` times, interleaved."""
    if not os.path.isfile(binary):
        raise FileNotFoundError(f"{binary}: no benchmark_model binary; see tflite/README.md for where to get one")
    _adb(serial, "shell", "mkdir", "-p", DEVICE_FOLDER)
    remote_binary = f"{DEVICE_FOLDER}/benchmark_model"
    _adb(serial, "push", binary, remote_binary)
    _adb(serial, "shell", "chmod", "755", remote_binary)
    for path in paths:
        _adb(serial, "push", path, f"{DEVICE_FOLDER}/{os.path.basename(path)}")
    results = []
    for num_threads in threads:
        runs_of = {path: [] for path in paths}
        for _ in range(rounds):
            for path in paths:
                flags = [f"--graph={DEVICE_FOLDER}/{os.path.basename(path)}", f"--num_threads={num_threads}",
                         f"--num_runs={runs}", f"--warmup_runs={warmup}", "--use_xnnpack=true", *extra_flags]
                output = _adb(serial, "shell", " ".join(shlex.quote(part) for part in [remote_binary, *flags]))
                runs_of[path].append(parse_benchmark_model(output))
        for path in paths:
            parsed = runs_of[path]

            def middle(key):
                values = [run[key] for run in parsed if key in run]
                return float(np.median(values)) if values else None

            results.append(Result(
                model=path, threads=num_threads, runs=runs * rounds,
                median_ms=middle("median_ms") or middle("mean_ms"), p95_ms=middle("p95_ms"), mean_ms=middle("mean_ms"),
                init_ms=middle("init_ms"), memory_mb=middle("peak_memory_mb") or middle("memory_overall_mb"),
                fully_delegated=all(run.get("fully_delegated", False) for run in parsed),
                bytes=os.path.getsize(path), where=f"adb {serial or 'device'}", batch=batch_of(litert.interpreter_for(path)),
            ))
    return results


def format_table(results):
    """A table like the paper's Table II: one row per model and thread count."""
    tail_name = "p90 ms" if all(result.p90_ms is not None for result in results) else "p95 ms"
    batched = any(result.batch != 1 for result in results)
    header = f"{'model':<34} {'threads':>7} {'size MB':>8} {'median ms':>10} {tail_name:>8} {'init ms':>8} {'mem MB':>7} {'delegated':>9}"
    lines = [header + (f" {'batch':>5} {'ms/image':>8}" if batched else "")]
    for result in results:
        tail = result.p90_ms if result.p90_ms is not None else result.p95_ms
        lines.append(
            f"{os.path.basename(result.model):<34} {result.threads:>7} {result.bytes / 1e6:>8.2f} {result.median_ms:>10.2f} "
            f"{_maybe(tail):>8} {_maybe(result.init_ms):>8} {_maybe(result.memory_mb, 1):>7} "
            f"{'yes' if result.fully_delegated else 'NO':>9}"
            + (f" {result.batch:>5} {result.per_image_ms:>8.2f}" if batched else "")
        )
    return "\n".join(lines)


def _maybe(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def plot_results(results, path):
    """Grouped bars: median latency of each model, one group per thread count (p90 as error bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(result.model for result in results))
    threads = sorted({result.threads for result in results})
    width = 0.8 / len(models)
    figure, axis = plt.subplots(figsize=(2 + 1.5 * len(threads) * len(models) ** 0.5, 4))
    for index, model in enumerate(models):
        rows = {result.threads: result for result in results if result.model == model}
        medians = [rows[count].median_ms for count in threads]
        tails = [max((rows[count].p90_ms or rows[count].median_ms) - rows[count].median_ms, 0) for count in threads]
        positions = np.arange(len(threads)) + (index - (len(models) - 1) / 2) * width
        bars = axis.bar(positions, medians, width, yerr=[np.zeros(len(tails)), tails], capsize=3,
                        label=os.path.basename(model))
        axis.bar_label(bars, fmt="%.2f", fontsize=8)
    axis.set_xticks(np.arange(len(threads)), [f"{count} thread{'s' if count > 1 else ''}" for count in threads])
    axis.set_ylabel("median latency (ms), bar to p90")
    batches = sorted({result.batch for result in results})
    axis.set_title(f"{results[0].where}: batch {', '.join(map(str, batches))} (bars: per invocation)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def zoo_exports(names, folder, seed=0):
    """Exports untrained zoo models into `folder` for benchmarking: NAME_float32.tflite, NAME_int8.tflite
    (PTQ calibrated on random faces) and, where the model has per-channel PReLUs, NAME_int8_maximum.tflite
    (`tfmfn.quantize.deploy.deploy_form`'s maximum form). Returns the paths."""
    import tf_keras as keras

    unknown = [name for name in names if name not in models.ZOO]
    if unknown:
        raise ValueError(f"unknown zoo model {', '.join(unknown)}; choose from {', '.join(models.names())}")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name in names:
        net = models.build(name)
        faces = np.random.default_rng(seed).uniform(-1, 1, (8, *net.input_shape[1:])).astype(np.float32)
        per_channel = any(isinstance(layer, keras.layers.PReLU) and layer.get_weights()[0].size > 1
                          for layer in net.layers)
        exports = {"float32": lambda: convert.convert_keras(net, "float32"),
                   "int8": lambda: convert.convert_keras(net, "int8", representative=faces)}
        if per_channel:
            exports["int8_maximum"] = lambda: convert.convert_keras(net, "int8", representative=faces,
                                                                    prelu_form="maximum")
        for suffix, export in exports.items():
            path = os.path.join(folder, f"{name}_{suffix}.tflite")
            with open(path, "wb") as stream:
                stream.write(export())
            paths.append(path)
    return paths


def paper_table_latency(rows, threads=(1,), runs=100):
    """Adds `latency_ms` ({threads: median ms} of the float32 .tflite, measured here, all models
    interleaved) to each row of `paper_table.zoo_rows` (untrained models: latency does not depend on the
    weights)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for row in rows:
            net = models.build(row["name"], input_shape=tuple(row["input_shape"]))
            path = f"{folder}/{row['name']}.tflite"
            with open(path, "wb") as stream:
                stream.write(convert.convert_keras(net, "float32"))
            paths.append(path)
        results = benchmark_local(paths, threads, runs)
    for row, path in zip(rows, paths):
        row["latency_ms"] = {result.threads: result.median_ms for result in results if result.model == path}
    return rows


def _define_flags():
    from absl import flags

    flags.DEFINE_multi_string("model", None, "A .tflite model; repeat the flag to compare several.")
    flags.DEFINE_list("arch", [], "Zoo architectures to export here first and benchmark with the --model files "
                      "(untrained: float32, int8 PTQ and, with per-channel PReLUs, int8 in the maximum form).")
    flags.DEFINE_string("export_dir", None, "--arch: keep the exports in this folder (default: a temporary one).")
    flags.DEFINE_list("threads", ["1"], "Thread counts, comma separated.")
    flags.DEFINE_integer("runs", 50, "Timed invocations per model and thread count (per round with --adb).")
    flags.DEFINE_integer("warmup", 5, "Untimed invocations first.")
    flags.DEFINE_bool("json", False, "Print the results as JSON.")
    flags.DEFINE_string("plot", None, "Write a bar chart of the latencies to this PNG.")
    flags.DEFINE_bool("require_full_delegation", False, "Fail when XNNPACK does not take a model whole.")
    flags.DEFINE_bool("adb", False, "Run TFLite's benchmark_model on an Android device over adb instead.")
    flags.DEFINE_string("serial", None, "--adb: the device's serial (adb devices lists them).")
    flags.DEFINE_string("binary", "benchmark_model", "--adb: the benchmark_model binary for the device's ABI.")
    flags.DEFINE_integer("rounds", 3, "--adb: benchmark_model runs per model, interleaved; the median is reported.")
    flags.DEFINE_list("arm", [], "Run on these emulated ARM cores instead (needs make arm), counting instructions: "
                      + "; ".join(f"{name}: {core.about}" for name, core in arm.CORES.items()) + ".")
    flags.DEFINE_bool("op_types", True, "--arm: count every op type of each model apart too (as tfmfn.op_profile cuts it).")
    flags.DEFINE_integer("invocations", 2, "--arm: counted invocations per model, after one uncounted.")
    flags.DEFINE_bool("paper_table", False, "Print the zoo (--arch: these models) as the paper's Table II with each "
                      "model's float32 .tflite latency here, --threads and --runs as above.")
    cli.rename("zoo", "arch")
    cli.rename("zoo_dir", "export_dir")


def main(argv):
    import json
    import tempfile

    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    if options.paper_table:
        _main_paper_table(options)
        return
    if not options.model and not options.arch:
        raise app.UsageError("give --model FILE (repeatable) or --arch NAMES")
    with tempfile.TemporaryDirectory() as scratch:
        try:
            options.model = [*(options.model or []), *zoo_exports(options.arch, options.export_dir or scratch)]
            if options.arm:
                _main_arm(options)
                return
            threads = cli.models_and_threads(options)
            results = _run(options, threads)
        except (FileNotFoundError, RuntimeError, ValueError) as error:
            raise SystemExit(f"error: {error}")
    rows = [{**dataclasses.asdict(result), "per_image_ms": result.per_image_ms} for result in results]
    print(json.dumps(rows, indent=2) if options.json else format_table(results))
    if options.plot:
        plot_results(results, options.plot)
    partial = sorted({result.model for result in results if not result.fully_delegated})
    if options.require_full_delegation and partial:
        raise SystemExit(f"error: not fully delegated to XNNPACK: {', '.join(partial)}")


def _main_paper_table(options):
    import json

    from absl import app

    rows = paper_table.zoo_rows(paper_table.check_names(options.arch or None))
    try:
        threads = tuple(int(count) for count in options.threads)
    except ValueError:
        raise app.UsageError(f"--threads takes counts like 1,2, got {','.join(options.threads)}") from None
    paper_table_latency(rows, threads, options.runs)
    print(json.dumps(rows, indent=2) if options.json else paper_table.format_table(rows))


def _run(options, threads):
    from tqdm import tqdm

    if options.adb:
        return benchmark_adb(options.model, options.binary, threads, options.runs, options.warmup,
                             options.rounds, options.serial)
    with tqdm(total=len(threads) * options.runs, unit="round", disable=options.json) as bar:
        return benchmark_local(options.model, threads, options.runs, options.warmup,
                               progress=lambda count, done: bar.update(1))


def _main_arm(options):
    import json

    from tqdm import tqdm

    cli.models_and_threads(options)
    with tqdm(unit="model", disable=options.json, desc="emulated runs") as bar:
        results = arm.measure(options.model, options.arm, op_types=options.op_types, invocations=options.invocations,
                              progress=lambda core, key: bar.set_postfix_str(f"{core} {os.path.basename(key[0])} {key[1]}")
                              or bar.update(1))
    if options.json:
        print(json.dumps([{**dataclasses.asdict(result), "identical": result.identical, "same": result.same}
                          for result in results], indent=2))
    else:
        print(arm_report.format_results(results))
    if options.plot:
        arm_report.plot_results(results, options.plot)
    different = [f"{os.path.basename(result.model)} on {result.core}" for result in results if not result.same]
    if different:
        raise SystemExit(f"error: outputs differ from x86 LiteRT beyond the allowed difference: {', '.join(different)}")


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
