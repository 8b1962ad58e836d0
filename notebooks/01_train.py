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
# # 1. Train MobileFaceNet with ArcFace
#
# The paper's recipe (Chen et al. 2018): MobileFaceNet + ArcFace (s = 64, m = 0.5) on CASIA-WebFace
# (`paper_casia`) or MS1M (`paper_ms1m`), SGD with momentum, weight decay, 112x112 aligned faces.
# On Colab pick a GPU or TPU runtime. The data is insightface's `.rec` folder (with `train.idx`,
# `train.rec`, `property`, and the `lfw.bin`, `agedb_30.bin`, `cfp_fp.bin` verification sets),
# zipped on your Google Drive or at a URL you give.
#
# This notebook is kept as `notebooks/01_train.py` (jupytext); the tests run it top to bottom with
# `TFMFN_SMOKE=1`: tiny synthetic data, two steps, nothing downloaded.

# %%
import os
import sys

IN_COLAB = "google.colab" in sys.modules
SMOKE = os.environ.get("TFMFN_SMOKE") == "1"

# Where this repository lives on Colab: a clone of it on your Drive.
TFMFN_DIR = "/content/drive/MyDrive/tfmfn"
# The insightface training data: a .zip on your Drive, or a URL to one (DATA_URL wins when set).
DATA_ZIP = "/content/drive/MyDrive/faces_webface_112x112.zip"
DATA_URL = ""
PRESET = "paper_casia"  # or "paper_ms1m"
ARCH = "mobilefacenet"  # python -m tfmfn.models lists the zoo
MODEL_DIR = "/content/drive/MyDrive/tfmfn_runs/" + ARCH  # on Drive: survives a disconnect, training resumes

# %%
if IN_COLAB:  # mounts Drive and installs tfmfn from its clone there (tfmfn.colab); restart if Colab asks
    from google.colab import drive

    drive.mount("/content/drive")
    sys.path.insert(0, TFMFN_DIR)
    from tfmfn import colab

    colab.install(TFMFN_DIR)

# %%
import tfmfn  # noqa: F401  (puts Keras 2, tf_keras, in force before TensorFlow loads)
import tensorflow as tf

from tfmfn import config as configs
from tfmfn import train

print("TensorFlow", tf.__version__, "| GPUs:", tf.config.list_physical_devices("GPU"))

# %% [markdown]
# ## The data
#
# On Colab the archive is copied to the VM's disk and unpacked there (reading a `.rec` from Drive is
# slow). In smoke mode a tiny synthetic set is rendered instead.

# %%
if SMOKE:
    import tempfile

    from tfmfn import demo

    workspace = tempfile.mkdtemp(prefix="tfmfn_notebook_")
    DATA, val_bin = demo.tiny_data(f"{workspace}/synth")
    EVAL_BINS, MODEL_DIR = [val_bin], f"{workspace}/run"
else:
    import shutil
    import urllib.request
    import zipfile

    archive = "/content/data.zip"
    if DATA_URL:
        urllib.request.urlretrieve(DATA_URL, archive)
    else:
        shutil.copyfile(DATA_ZIP, archive)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall("/content/data")
    DATA = os.path.dirname(next(os.path.join(root, name) for root, _, names in os.walk("/content/data")
                                for name in names if name == "train.rec"))
    EVAL_BINS = [os.path.join(DATA, name) for name in ("lfw.bin", "agedb_30.bin", "cfp_fp.bin")
                 if os.path.exists(os.path.join(DATA, name))]
print("training data:", DATA, "| verification sets:", EVAL_BINS)

# %% [markdown]
# ## The configuration
#
# A preset plus what differs here; every field is a flag of `python -m tfmfn.train` too. The strategy
# is chosen from the hardware: TPU, several GPUs (MirroredStrategy), one GPU or the CPU.

# %%
if SMOKE:
    config = demo.tiny_config(DATA, EVAL_BINS, MODEL_DIR, arch=ARCH)
else:
    config = configs.make_config(PRESET, arch=ARCH, data=DATA, eval_bins=tuple(EVAL_BINS), model_dir=MODEL_DIR,
                                 mixed_precision=bool(tf.config.list_physical_devices("GPU")))
strategy = train.make_strategy("auto")
print(config.to_json())
print(type(strategy).__name__, "with", strategy.num_replicas_in_sync, "replica(s)")

# %% [markdown]
# ## TensorBoard (Colab)

# %%
if IN_COLAB:
    from IPython import get_ipython

    get_ipython().run_line_magic("load_ext", "tensorboard")
    get_ipython().run_line_magic("tensorboard", f"--logdir {MODEL_DIR}/logs")

# %% [markdown]
# ## Train
#
# Run this cell again after a disconnect: training continues from the last checkpoint in `MODEL_DIR`.
# The best model on the verification sets is exported to `MODEL_DIR/export` with its model card.

# %%
card = train.train(config, strategy)
for name, metrics in card["evaluation"].items():
    print(f"{name}: {metrics['accuracy']:.2%} (10-fold), threshold {metrics['threshold']:.3f}")

# %%
from IPython.display import Image, display

display(Image(filename=os.path.join(MODEL_DIR, "curves.png")))
assert os.path.exists(os.path.join(MODEL_DIR, "export", "model_card.json"))
