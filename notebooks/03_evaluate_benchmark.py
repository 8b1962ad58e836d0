# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Evaluate and benchmark
#
# The standard protocol on insightface's `.bin` sets (LFW, AgeDB-30, CFP-FP: 10 folds, threshold
# chosen on 9, flip-and-add embeddings) for Keras and `.tflite` models side by side, ROC curves, and a
# latency table of the `.tflite` files with LiteRT on this machine's CPU (for a phone, use
# `python -m tfmfn.benchmark --adb`, see `tflite/README.md`).
#
# Kept as `notebooks/03_evaluate_benchmark.py`; the tests run it with `TFMFN_SMOKE=1`.

# %%
import os
import sys

IN_COLAB = "google.colab" in sys.modules
SMOKE = os.environ.get("TFMFN_SMOKE") == "1"

TFMFN_DIR = "/content/drive/MyDrive/tfmfn"
MODELS = {  # name: a model_dir, export folder, .keras or .tflite
    "keras float": "/content/drive/MyDrive/tfmfn_runs/mobilefacenet",
    "tflite int8": "/content/drive/MyDrive/tfmfn_runs/tflite/mobilefacenet_int8.tflite",
    "tflite float32": "/content/drive/MyDrive/tfmfn_runs/tflite/mobilefacenet_float32.tflite",
}
BINS = ["/content/data/faces_webface_112x112/" + name for name in ("lfw.bin", "agedb_30.bin", "cfp_fp.bin")]
THREADS = (1, 2, 4)
RUNS = 200
OUT_DIR = "/content/drive/MyDrive/tfmfn_runs/evaluation"  # ROC plots and the latency chart

# %%
if IN_COLAB:  # mounts Drive and installs tfmfn from its clone there (tfmfn.colab); restart if Colab asks
    from google.colab import drive

    drive.mount("/content/drive")
    sys.path.insert(0, TFMFN_DIR)
    from tfmfn import colab

    colab.install(TFMFN_DIR)

# %%
import tfmfn  # noqa: F401
from IPython.display import Image, display

from tfmfn import benchmark, evaluate
from tfmfn.runtime import inference

# %%
if SMOKE:
    import tempfile

    from tfmfn import convert, demo

    workspace = tempfile.mkdtemp(prefix="tfmfn_notebook_")
    model_dir, val_bin = demo.tiny_model(workspace)
    BINS, THREADS, RUNS, OUT_DIR = [val_bin], (1,), 5, workspace
    MODELS = {"keras float": model_dir}
    for mode in ("float32", "dynamic"):
        report = convert.convert(convert.Request(model=model_dir, mode=mode, out=f"{workspace}/{mode}.tflite"),
                                 say=lambda message: None)
        MODELS[f"tflite {mode}"] = report["file"]

# %% [markdown]
# ## Verification accuracy

# %%
os.makedirs(OUT_DIR, exist_ok=True)
roc_paths = {name: os.path.join(OUT_DIR, f"roc_{name.replace(' ', '_')}.png") for name in MODELS}
results = {}
for name, path in MODELS.items():
    model = inference.load_embedder(path)
    results[name] = evaluate.evaluate_bins(model, BINS, roc_path=roc_paths[name])
    print(f"== {name}: {path}")
    print(evaluate.format_results(results[name]))

# %%
for path in roc_paths.values():
    display(Image(filename=path))

# %% [markdown]
# ## Latency (LiteRT, XNNPACK, this machine's CPU)
#
# Models are interleaved in one run so that they see the same machine state.

# %%
tflite_paths = [path for path in MODELS.values() if path.endswith(".tflite")]
latencies = benchmark.benchmark_local(tflite_paths, threads=THREADS, runs=RUNS)
print(benchmark.format_table(latencies))
benchmark.plot_results(latencies, os.path.join(OUT_DIR, "latency.png"))
display(Image(filename=os.path.join(OUT_DIR, "latency.png")))
assert all(result.median_ms > 0 for result in latencies)
