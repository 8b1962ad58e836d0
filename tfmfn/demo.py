"""The whole kit end to end on the embedded synthetic data: the README's main command.

    python -m tfmfn.demo [--out runs/demo] [--fresh]

| stage | what it does | writes |
|---|---|---|
| data | renders the synthetic faces (`tfmfn.data synth`) | `runs/synth/` |
| train | trains `mobilefacenet` + ArcFace (preset `synthetic`) | `runs/demo/float/` |
| qat | quantization-aware fine-tuning of it (preset `synthetic_qat`) | `runs/demo/qat/` |
| export | float32 and int8 .tflite with tfmfn metadata; parity and accuracy against the float model | `runs/demo/tflite/` |
| evaluate | 10-fold verification of the Keras, float32 and int8 models on `val.bin`, ROC | `runs/demo/roc.png` |
| benchmark | float32 vs int8 latency (LiteRT, XNNPACK), interleaved, 1 and 2 threads | `runs/demo/latency.png` |
| app | copies the int8 model and BlazeFace into the Android app's assets | `android_demo/app/src/main/assets/` |
| report | figures, tables and plots | `runs/demo/report.md`, `report.json` |

Each stage records what it found in `runs/demo/stages.json`; a later run reuses every finished
stage (and training continues from its checkpoints), `--fresh` starts again. The figures are
measured on synthetic faces on this machine's CPU; they show the kit working, not the accuracy
of a model trained on real faces. `tiny_data`, `tiny_config` and `tiny_model` are the
seconds-long versions that the notebooks run in smoke mode.

Example (a tiny run, about a minute; the defaults take about 15 minutes on 2 cores):

    >>> import tempfile
    >>> from tfmfn import demo
    >>> folder = tempfile.mkdtemp()
    >>> settings = demo.Settings(out=folder + "/demo", data=folder + "/synth", identities=8,
    ...                          images_per_identity=4, pairs=40, train_steps=2, qat_steps=2,
    ...                          benchmark_runs=3, threads=(1,), install_app=False)
    >>> report = demo.run(settings, say=lambda *args, **kwargs: None)  # doctest: +SKIP
    >>> sorted(report["models"])  # doctest: +SKIP
    ['float32', 'int8', 'keras']
"""

import dataclasses
import json
import os
import shutil
import time

import numpy as np

from tfmfn import config as configs
from tfmfn import android, benchmark, cli, convert, demo_report, evaluate, storage, train
from tfmfn.data import bins, synth
from tfmfn.runtime import inference

STAGES = ("data", "train", "qat", "export", "evaluate", "benchmark", "app", "report")
STATE_FILE = "stages.json"
"""Real photos shipped with the tests, aligned by tfmfn for the report's sample grid."""


@dataclasses.dataclass
class Settings:
    """What the demo runs; the CLI's flags. Stages are reused only for the same settings."""

    out: str = "runs/demo"
    data: str = "runs/synth"
    arch: str = "mobilefacenet"
    identities: int = 300
    images_per_identity: int = 16
    pairs: int = 2000
    train_steps: int = None
    qat_steps: int = None
    threads: tuple = (1, 2)
    benchmark_runs: int = 200
    install_app: bool = True
    assets: str = None

    def recorded(self):
        """The settings that define the results (where they go does not)."""
        values = dataclasses.asdict(self)
        values["threads"] = list(self.threads)
        for name in ("out", "install_app", "assets"):
            values.pop(name)
        return values

    def path(self, *parts):
        return os.path.join(self.out, *parts)

    @property
    def val_bin(self):
        return os.path.join(self.data, "val.bin")

    def tflite(self, mode):
        return self.path("tflite", f"{self.arch}_{mode}.tflite")


class SettingsChanged(ValueError):
    pass


TINY_DATA = {"identities": 8, "images_per_identity": 5, "pairs": 40}
"""The synthetic set of smoke runs (the notebooks under TFMFN_SMOKE=1): seconds to render."""


def tiny_data(folder):
    """Renders the tiny synthetic set into `folder`; returns (training folder, val.bin)."""
    synth.generate(folder, **TINY_DATA, progress=False)
    return os.path.join(folder, "train"), os.path.join(folder, "val.bin")


def tiny_config(data, eval_bins, model_dir, **overrides):
    """The `synthetic` preset cut to two steps of batch 8 on `mobilefacenet_tiny` (Table I in miniature),
    evaluated at the end: a smoke run of training (`arch=` another zoo model runs that instead)."""
    settings = {"arch": "mobilefacenet_tiny", "steps": 2, "lr_boundaries": (), "batch_size": 8, "log_every": 1,
                "eval_every": 2, "checkpoint_every": 2, **overrides}
    return configs.make_config("synthetic", data=data, eval_bins=tuple(eval_bins), model_dir=model_dir, **settings)


def tiny_model(folder):
    """A float model trained by `tiny_config` on `tiny_data`, in `folder`; returns (model_dir, val.bin)."""
    data, val_bin = tiny_data(os.path.join(folder, "synth"))
    model_dir = os.path.join(folder, "float")
    train.train(tiny_config(data, [val_bin], model_dir), verbose=False)
    return model_dir, val_bin


def run(settings, fresh=False, say=print):
    """Runs every stage that is not finished yet; returns the report dict (also written as report.json)."""
    _check_folders(settings)
    if fresh:
        for folder in (settings.out, settings.data):
            if os.path.isdir(folder):
                say(f"--fresh: removing {folder}")
                shutil.rmtree(folder)
    state = _read_state(settings)
    os.makedirs(settings.out, exist_ok=True)
    started = time.perf_counter()
    for number, name in enumerate(STAGES, start=1):
        record = state["stages"].get(name)
        if _finished(name, record, settings):
            say(f"[{number}/{len(STAGES)}] {name}: reused from an earlier run ({record['seconds']:.0f} s then)")
            continue
        say(f"[{number}/{len(STAGES)}] {name}: {_STAGE_TITLES[name]}")
        tick = time.perf_counter()
        record = _STAGE_FUNCTIONS[name](settings, state["stages"], say)
        record["seconds"] = time.perf_counter() - tick
        state["stages"][name] = record
        for later in STAGES[number:]:  # a redone stage invalidates what was built on it
            state["stages"].pop(later, None)
        _write_state(settings, state)
        say(f"[{number}/{len(STAGES)}] {name}: done in {record['seconds']:.0f} s")
    say(f"demo finished in {time.perf_counter() - started:.0f} s; report: {settings.path('report.md')}")
    with open(settings.path("report.json")) as stream:
        return json.load(stream)


def _check_folders(settings):
    """Refuses an --out or --data that holds something else than the demo's own files (they may be removed)."""
    owners = ((settings.out, STATE_FILE, "demo run"), (settings.data, "synth.json", "synthetic data set"))
    for folder, marker, what in owners:
        if os.path.isdir(folder) and os.listdir(folder) and not os.path.exists(os.path.join(folder, marker)):
            raise SettingsChanged(f"{folder} is not empty and holds no {what} ({marker} missing); "
                                  "the demo writes into it and --fresh removes it: give an empty or new folder "
                                  "(or remove it yourself if an interrupted demo left it)")


def _finished(name, record, settings):
    """Whether a recorded stage still holds: its outputs exist (and the app got the model when asked to)."""
    if record is None or not all(os.path.exists(path) for path in record.get("outputs", [])):
        return False
    return name != "app" or record.get("installed") == _assets_folder(settings)


def _assets_folder(settings):
    return os.path.abspath(settings.assets or android.ASSETS_FOLDER) if settings.install_app else None


def _read_state(settings):
    path = settings.path(STATE_FILE)
    if not os.path.exists(path):
        return {"settings": settings.recorded(), "stages": {}}
    with open(path) as stream:
        state = json.load(stream)
    if state["settings"] != settings.recorded():
        changed = sorted(key for key in settings.recorded() if state["settings"].get(key) != settings.recorded()[key])
        raise SettingsChanged(
            f"{settings.out} was made with other settings ({', '.join(changed)} differ); "
            "run with --fresh to start again, or give another --out"
        )
    return state


def _write_state(settings, state):
    storage.write_text(settings.path(STATE_FILE), json.dumps(state, indent=2))


def _data(settings, done, say):
    summary_path = os.path.join(settings.data, "synth.json")
    wanted = {"identities": settings.identities, "images_per_identity": settings.images_per_identity,
              "pairs": settings.pairs}
    if os.path.exists(summary_path) and os.path.exists(settings.val_bin):
        with open(summary_path) as stream:
            summary = json.load(stream)
        if all(summary.get(key) == value for key, value in wanted.items()):
            say(f"  {settings.data} already holds this synthetic set")
            return {"outputs": [settings.val_bin], "summary": summary}
        raise SettingsChanged(f"{settings.data} holds another synthetic set; give another --data or use --fresh")
    summary = synth.generate(settings.data, **wanted)
    return {"outputs": [settings.val_bin], "summary": summary}


def _training_config(settings, preset, model_dir, steps, **overrides):
    base = configs.make_config(preset)
    steps = steps or base.steps
    boundaries = tuple(max(1, round(boundary * steps / base.steps)) for boundary in base.lr_boundaries)
    boundaries = tuple(sorted(set(b for b in boundaries if b < steps)))
    return configs.make_config(
        preset, arch=settings.arch, data=os.path.join(settings.data, "train"), eval_bins=(settings.val_bin,),
        model_dir=model_dir, steps=steps, lr_boundaries=boundaries,
        eval_every=min(base.eval_every, steps), checkpoint_every=min(base.checkpoint_every, steps),
        log_every=min(base.log_every, steps), **overrides,
    )


def _train(settings, done, say):
    config = _training_config(settings, "synthetic", settings.path("float"), settings.train_steps)
    card = train.train(config)
    return {"outputs": [settings.path("float", "export", "model_card.json")], "evaluation": card["evaluation"]}


def _qat(settings, done, say):
    config = _training_config(settings, "synthetic_qat", settings.path("qat"), settings.qat_steps,
                              init_from=settings.path("float"))
    card = train.train(config)
    return {"outputs": [settings.path("qat", "export", "model_card.json")], "evaluation": card["evaluation"]}


def _export(settings, done, say):
    reports = {}
    for mode, source in (("float32", "float"), ("int8", "qat")):
        request = convert.Request(model=settings.path(source), mode=mode, out=settings.tflite(mode),
                                  eval_bins=(settings.val_bin,), io="uint8")
        report = convert.convert(request, say=lambda message: say("  " + message))
        say("  " + convert.format_report(report).replace("\n", "\n  "))
        with open(settings.path("tflite", f"{settings.arch}_{mode}.json"), "w") as stream:
            json.dump(report, stream, indent=2)
        reports[mode] = report
    return {"outputs": [settings.tflite("float32"), settings.tflite("int8")], "reports": reports}


def _evaluate(settings, done, say):
    pairs = bins.load_bin(settings.val_bin)
    models = {"keras": inference.load_embedder(settings.path("float")),
              "float32": inference.load_embedder(settings.tflite("float32")),
              "int8": inference.load_embedder(settings.tflite("int8"))}
    results, curves = {}, {}
    for name, model in models.items():
        say(f"  {name}: embedding {len(pairs.images)} images (and their mirror images)")
        first, second = evaluate.pair_embeddings(model, pairs)
        results[name] = evaluate.verification_metrics(first, second, pairs.issame)
        curves[name] = evaluate.roc_curve(evaluate.pair_distances(first, second), pairs.issame)
    evaluate.plot_roc(curves, results, settings.path("roc.png"), f"{settings.arch} on {pairs.name} (synthetic)")
    say("  " + evaluate.format_results(results).replace("\n", "\n  "))
    return {"outputs": [settings.path("roc.png")], "results": _plain(results)}


def _benchmark(settings, done, say):
    from tqdm import tqdm

    paths = [settings.tflite("float32"), settings.tflite("int8")]
    with tqdm(total=settings.benchmark_runs * len(settings.threads), desc="  benchmark", unit="round") as bar:
        results = benchmark.benchmark_local(paths, settings.threads, settings.benchmark_runs,
                                            progress=lambda threads, done_runs: bar.update(1))
    say("  " + benchmark.format_table(results).replace("\n", "\n  "))
    benchmark.plot_results(results, settings.path("latency.png"))
    return {"outputs": [settings.path("latency.png")], "results": [dataclasses.asdict(r) for r in results]}


def _app(settings, done, say):
    assets = _assets_folder(settings)
    if assets is None:
        say("  skipped (--noinstall_app)")
        return {"outputs": [], "installed": None}
    android.install_model(settings.tflite("int8"), assets)
    say(f"  {android.EMBEDDER_ASSET} and {android.DETECTOR_ASSET} are in {assets}; build android_demo/ "
        "in Android Studio (android_demo/README.md)")
    return {"outputs": [os.path.join(assets, android.EMBEDDER_ASSET)], "installed": assets}


def _report(settings, done, say):
    for run in ("float", "qat"):
        train.plot_curves(settings.path(run), settings.path(f"curves_{run}.png"))
    demo_report.sample_grid(settings, settings.path("samples.png"))
    report = demo_report.build_report(settings, done)
    with open(settings.path("report.json"), "w") as stream:
        json.dump(report, stream, indent=2)
    with open(settings.path("report.md"), "w") as stream:
        stream.write(demo_report.format_markdown(report))
    return {"outputs": [settings.path("report.md"), settings.path("report.json")]}


_STAGE_TITLES = {
    "data": "rendering the synthetic faces",
    "train": "training the float model",
    "qat": "quantization-aware fine-tuning",
    "export": "exporting float32 and int8 .tflite (parity, accuracy, metadata)",
    "evaluate": "10-fold verification of the Keras, float32 and int8 models",
    "benchmark": "float32 vs int8 latency with LiteRT",
    "app": "installing the int8 model into the Android app",
    "report": "writing the report",
}
_STAGE_FUNCTIONS = {"data": _data, "train": _train, "qat": _qat, "export": _export, "evaluate": _evaluate,
                    "benchmark": _benchmark, "app": _app, "report": _report}


def _plain(value):
    """JSON-friendly copy of nested metrics (numpy scalars and arrays to Python)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _define_flags():
    from absl import flags

    defaults = Settings()
    flags.DEFINE_string("out", defaults.out, "Where the demo writes its runs, models, plots and report.md.")
    flags.DEFINE_string("data", defaults.data, "Where the synthetic faces are rendered (reused when present).")
    flags.DEFINE_string("arch", defaults.arch, "The zoo architecture to train (python -m tfmfn.models lists them).")
    flags.DEFINE_boolean("fresh", False, "Remove --out and --data first and run every stage again.")
    flags.DEFINE_integer("identities", defaults.identities, "Synthetic training identities.")
    flags.DEFINE_integer("images_per_identity", defaults.images_per_identity, "Synthetic images per identity.")
    flags.DEFINE_integer("pairs", defaults.pairs, "Verification pairs in val.bin.")
    flags.DEFINE_integer("train_steps", None, "Float training steps (default: the synthetic preset's 300).")
    flags.DEFINE_integer("qat_steps", None, "QAT fine-tuning steps (default: the synthetic_qat preset's 100).")
    flags.DEFINE_list("threads", [str(count) for count in defaults.threads], "Thread counts to benchmark.")
    flags.DEFINE_integer("benchmark_runs", defaults.benchmark_runs, "Timed runs per model and thread count.")
    flags.DEFINE_boolean("install_app", True, "Copy the int8 model and BlazeFace into the Android app's assets.")
    cli.rename("model", "arch")


def main(argv):
    from absl import app, flags, logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    options = flags.FLAGS
    settings = Settings(
        out=options.out, data=options.data, arch=options.arch, identities=options.identities,
        images_per_identity=options.images_per_identity, pairs=options.pairs, train_steps=options.train_steps,
        qat_steps=options.qat_steps, threads=tuple(int(count) for count in options.threads),
        benchmark_runs=options.benchmark_runs, install_app=options.install_app,
    )
    try:
        run(settings, fresh=options.fresh)
    except (SettingsChanged, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
