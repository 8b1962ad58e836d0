"""Fixtures the test files share, made once per test session for every xdist worker: the first worker
to ask makes one under a file lock in the session's common temporary folder, the others wait and read it.
They are read-only for the tests: a test that changes one copies it first.

- `tiny_faces`: SYNTHETIC faces, 8 identities x 4 images (`train/`) and 40 pairs (`val.bin`).
- `tiny_model`: a model folder of `mobilefacenet_tiny` (Table I in miniature) trained 4 steps on `tiny_faces`
  (the `synthetic` preset, batch 8, evaluated on its `val.bin`): a real export with its card, not a good model.

`TINY_ARCH` is the architecture of the tests about the training loop, QAT and export (what they check does not
depend on the width of the network; building and tracing `mobilefacenet` would take several times as long).
"""

import fcntl
import shutil

import pytest

TINY_ARCH = "mobilefacenet_tiny"


def made_once(folder, make):
    """`folder`, made by `make(folder)` unless a worker made it already."""
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            make(folder)
            (folder / ".complete").touch()
    return folder


@pytest.fixture(scope="session")
def shared_folder(tmp_path_factory, worker_id):
    """The folder every worker of this session sees (pytest-xdist puts each worker's under it)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def tiny_faces(shared_folder):
    from tfmfn.data import synth

    def make(folder):
        synth.generate(str(folder), identities=8, images_per_identity=4, pairs=40, seed=1, progress=False)

    return made_once(shared_folder / "tiny_faces", make)


@pytest.fixture(scope="session")
def tiny_model(shared_folder, tiny_faces):
    from tfmfn import config as configs
    from tfmfn import train

    def make(folder):
        settings = dict(arch=TINY_ARCH, data=str(tiny_faces / "train"), eval_bins=(str(tiny_faces / "val.bin"),),
                        model_dir=str(folder), batch_size=8, steps=4, lr_boundaries=(), log_every=1,
                        checkpoint_every=4, eval_every=4)
        train.train(configs.make_config("synthetic", **settings), verbose=False)

    return made_once(shared_folder / "tiny_model", make)
