"""Files through tf.io.gfile: whole or not at all, locally and on TensorFlow's in-memory ram:// file system."""

import subprocess
import sys

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


def test_writers_of_one_file_at_once_each_get_their_own_partial(tmp_path):
    target = tmp_path / "onet.tflite"
    with storage.written(target) as first, storage.written(target) as second:
        assert first != second and all(path.split("/")[-1].startswith("partial.") for path in (first, second))
        for local, content in ((first, b"one"), (second, b"two")):
            with open(local, "wb") as stream:
                stream.write(content)
    assert target.read_bytes() == b"one" and sorted(path.name for path in tmp_path.iterdir()) == ["onet.tflite"]


def test_local_files_need_no_tensorflow(tmp_path):
    code = (f"import sys; from tfmfn import storage; storage.write_text({str(tmp_path / 'a.txt')!r}, 'x'); "
            f"storage.copy({str(tmp_path / 'a.txt')!r}, {str(tmp_path / 'b.txt')!r}); "
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('tensorflow', 'tf_keras')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]" and (tmp_path / "b.txt").read_text() == "x"
