"""Files through tf.io.gfile: whole or not at all, locally and on TensorFlow's in-memory ram:// file system."""

import pytest

from tfmfn import storage


def test_a_file_written_through_a_local_copy_appears_whole(tmp_path):
    for folder in (str(tmp_path), "ram://tfmfn-storage-test/whole"):
        storage.makedirs(folder)
        path = f"{folder}/notes.txt"
        with storage.written(path) as local:
            with open(local, "w") as stream:
                stream.write("all of it")
            assert not storage.exists(path)  # not before the block ends
        assert storage.read_text(path) == "all of it"
        storage.copy(path, f"{folder}/copy.txt")
        with storage.local_copy(f"{folder}/copy.txt") as local, open(local) as stream:
            assert stream.read() == "all of it"
    assert storage.absolute("ram://x/y") == "ram://x/y" and storage.absolute("x").startswith("/")


def test_a_failed_write_leaves_the_earlier_file_and_no_partial(tmp_path):
    target = tmp_path / "head.npz"
    storage.write_text(target, "earlier")
    with pytest.raises(RuntimeError):
        with storage.written(target) as local:
            with open(local, "w") as stream:
                stream.write("half of it")
            raise RuntimeError("the disk filled up")
    assert target.read_text() == "earlier" and sorted(path.name for path in tmp_path.iterdir()) == ["head.npz"]
    with pytest.raises(RuntimeError), storage.written("ram://tfmfn-storage-test/failed/head.npz"):
        raise RuntimeError("interrupted")
    assert not storage.exists("ram://tfmfn-storage-test/failed/head.npz")
