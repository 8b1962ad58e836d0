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
# # 2. Quantization-aware fine-tuning and TFLite export
#
# Takes the float model that notebook 1 trained, fine-tunes it under quantization-aware training
# (tfmot, in the form the int8 graph runs: every PReLU as `z + relu((a - 1) z)`), exports int8 and
# float32 `.tflite` files with tfmfn's metadata, checks parity and accuracy against the float model,
# and downloads the int8 file for the Android app.
#
# Kept as `notebooks/02_qat_convert.py`; the tests run it with `TFMFN_SMOKE=1` (a tiny float model
# trained here on synthetic faces, two QAT steps).

# %%
import os
import sys

IN_COLAB = "google.colab" in sys.modules
SMOKE = os.environ.get("TFMFN_SMOKE") == "1"

TFMFN_DIR = "/content/drive/MyDrive/tfmfn"
MODEL_DIR = "/content/drive/MyDrive/tfmfn_runs/mobilefacenet"  # notebook 1's MODEL_DIR
EVAL_BINS = ["/content/data/faces_webface_112x112/lfw.bin"]  # for accuracy and the recommended threshold
QAT_STEPS = 2000  # at the float run's batch size; 100 to 2,000 is usual
OUT_DIR = "/content/drive/MyDrive/tfmfn_runs/tflite"

# %%
if IN_COLAB:  # mounts Drive and installs tfmfn from its clone there (tfmfn.colab); restart if Colab asks
    from google.colab import drive

    drive.mount("/content/drive")
    sys.path.insert(0, TFMFN_DIR)
    from tfmfn import colab

    colab.install(TFMFN_DIR)

# %%
import json

import tfmfn  # noqa: F401
from tfmfn import convert

# %%
if SMOKE:
    import tempfile

    from tfmfn import demo

    workspace = tempfile.mkdtemp(prefix="tfmfn_notebook_")
    MODEL_DIR, val_bin = demo.tiny_model(workspace)
    EVAL_BINS, OUT_DIR, QAT_STEPS = [val_bin], workspace, 2

# %% [markdown]
# ## int8 with QAT
#
# `convert` fine-tunes the float model with its own training configuration (Adam, learning rate
# 2e-5, BN statistics frozen, ranges calibrated on 256 training images first) into `MODEL_DIR_qat`,
# then converts. An int8 file with float ops left in it is refused. Same as
# `python -m tfmfn.convert --model MODEL_DIR --int8 --eval_bins ... --qat_steps N`.

# %%
int8 = convert.convert(convert.Request(model=MODEL_DIR, mode="int8", out=f"{OUT_DIR}/mobilefacenet_int8.tflite",
                                       eval_bins=tuple(EVAL_BINS), qat_steps=QAT_STEPS))
print(convert.format_report(int8))

# %% [markdown]
# ## float32, for comparison (and for devices where you want the float model)

# %%
float32 = convert.convert(convert.Request(model=MODEL_DIR, mode="float32", out=f"{OUT_DIR}/mobilefacenet_float32.tflite",
                                          eval_bins=tuple(EVAL_BINS)))
print(convert.format_report(float32))

# %%
rows = [("file", "MB", "parity cos mean / min", *[f"{name} acc (%)" for name in int8.get("accuracy", {})])]
for report in (float32, int8):
    rows.append((os.path.basename(report["file"]), f"{report['bytes'] / 1e6:.2f}",
                 f"{report['parity']['cosine_mean']:.4f} / {report['parity']['cosine_min']:.4f}",
                 *[f"{100 * accuracy['converted']:.2f}" for accuracy in report.get("accuracy", {}).values()]))
for row in rows:
    print(" | ".join(f"{cell:>24}" for cell in row))
print("metadata the app reads:", json.dumps(int8["metadata"], indent=1)[:400], "...")
assert int8["float_ops"] == {} and int8["fully_delegated"]

# %% [markdown]
# ## Download
#
# Put the int8 file into the Android app with `python -m tfmfn.android --model mobilefacenet_int8.tflite`.

# %%
if IN_COLAB:
    from google.colab import files

    files.download(int8["file"])
