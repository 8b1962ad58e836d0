"""Files on any file system TensorFlow reaches: local paths, gs:// buckets, ram:// memory (`tf.io.gfile`).

A training run's folder may live in a bucket (a TPU writes its checkpoints
there). Libraries that need a real local file (h5py, zipfile, matplotlib) write
through a local temporary file that is then copied into place, and a file
appears whole or not at all: written as `partial.*.NAME` beside its place (a name
of its own, so that processes writing the same file at once do not mix), then
renamed. Local paths need no TensorFlow; it loads for the first remote one.

Example:

    >>> from tfmfn import storage
    >>> storage.write_text("ram://example/notes.txt", "hello")
    >>> storage.read_text("ram://example/notes.txt"), storage.exists("ram://example/notes.txt")
    ('hello', True)
"""

import contextlib
import os
import shutil
import tempfile
import uuid

PARTIAL_PREFIX = "partial."


def is_local(path):
    """Whether `path` names the local file system (no scheme://)."""
    return "://" not in str(path)


def absolute(path):
    """`path` made independent of the working directory (remote paths are already)."""
    return os.path.abspath(path) if is_local(path) else str(path)


def exists(path):
    return os.path.exists(path) if is_local(path) else _gfile().exists(str(path))


def makedirs(path):
    if is_local(path):
        os.makedirs(path, exist_ok=True)
    else:
        _gfile().makedirs(str(path))


def open_file(path, mode="r"):
    """A file object for `path` (text modes "r", "w", "a"; binary with "b")."""
    return open(path, mode) if is_local(path) else _gfile().GFile(str(path), mode)


def read_text(path):
    with open_file(path) as stream:
        return stream.read()


def write_text(path, text):
    with written(path) as local:
        with open(local, "w") as stream:
            stream.write(text)


def write_bytes(path, content):
    with written(path) as local:
        with open(local, "wb") as stream:
            stream.write(content)


def copy(source, destination):
    """Copies a file between any two file systems, replacing `destination` whole."""
    if is_local(source) and is_local(destination):
        with written(destination) as local:
            shutil.copyfile(source, local)
        return
    gfile = _gfile()
    partial = _partial(destination)
    gfile.copy(str(source), partial, overwrite=True)
    gfile.rename(partial, str(destination), overwrite=True)


@contextlib.contextmanager
def written(path):
    """A local path to write `path`'s content to; on leaving the block it is moved into place."""
    path = str(path)
    if is_local(path):
        partial = _partial(os.path.abspath(path))
        try:
            yield partial
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise
        os.replace(partial, path)
        return
    with _scratch_file(path) as local:
        yield local
        copy(local, path)


@contextlib.contextmanager
def local_copy(path):
    """A local path holding `path`'s content: `path` itself when local, else a temporary copy."""
    path = str(path)
    if is_local(path):
        yield path
        return
    with _scratch_file(path) as local:
        _gfile().copy(path, local)
        yield local


@contextlib.contextmanager
def _scratch_file(path):
    """A local path named as `path`, in a temporary folder removed afterwards."""
    folder = tempfile.mkdtemp(prefix="tfmfn-")
    try:
        yield os.path.join(folder, os.path.basename(path))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _partial(path):
    folder, name = os.path.split(str(path))
    return os.path.join(folder, f"{PARTIAL_PREFIX}{uuid.uuid4().hex[:12]}.{name}")


def _gfile():
    import tensorflow as tf

    return tf.io.gfile
