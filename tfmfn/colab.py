"""Colab set-up, shared by the notebooks: the pinned requirements and tfmfn itself, installed into the runtime.

It imports only the standard library, so a notebook can call it from a clone
of this repository on Drive before anything is installed:

    from google.colab import drive
    drive.mount("/content/drive")
    sys.path.insert(0, TFMFN_DIR)
    from tfmfn import colab
    colab.install(TFMFN_DIR)

On a GPU runtime TensorFlow comes with its CUDA libraries (`tensorflow[and-cuda]`
at the version requirements.txt pins).

Example:

    >>> command = pip_command("/content/tfmfn", gpu=True, pinned={"tensorflow": "2.21.0"})
    >>> command[-4:]
    ['/content/tfmfn/requirements.txt', 'tensorflow[and-cuda]==2.21.0', '-e', '/content/tfmfn']
"""

import os
import shutil
import subprocess
import sys


def pinned_versions(tfmfn_dir):
    """{package: version} of the `name==version` lines of the clone's requirements.txt."""
    pins = {}
    with open(os.path.join(tfmfn_dir, "requirements.txt")) as stream:
        for line in stream:
            name, separator, version = line.split("#")[0].strip().partition("==")
            if separator:
                pins[name.strip().lower()] = version.strip()
    return pins


def pip_command(tfmfn_dir, gpu, pinned=None):
    """The pip command that installs the clone at `tfmfn_dir` and its pinned requirements."""
    pinned = pinned if pinned is not None else pinned_versions(tfmfn_dir)
    cuda = [f"tensorflow[and-cuda]=={pinned['tensorflow']}"] if gpu else []
    return [sys.executable, "-m", "pip", "install", "-q", "-r", os.path.join(tfmfn_dir, "requirements.txt"), *cuda,
            "-e", tfmfn_dir]


def install(tfmfn_dir):
    """Installs tfmfn from the clone at `tfmfn_dir` (with CUDA libraries on a GPU runtime); restart the
    runtime if Colab asks."""
    if not os.path.isfile(os.path.join(tfmfn_dir, "requirements.txt")):
        raise FileNotFoundError(f"{tfmfn_dir}: no tfmfn clone there (no requirements.txt); clone the repository "
                                "to your Drive and set TFMFN_DIR to it")
    subprocess.run(pip_command(tfmfn_dir, gpu=shutil.which("nvidia-smi") is not None), check=True)
