from __future__ import annotations

import pickle

import numpy as np
import pytest

from sidkit.core import CorruptFileError, UnsafeFileError
from sidkit.core.hdf5 import (
    H5ArrayProxy,
    attr_to_python,
    auto_chunks,
    check_storage,
    is_hdf5,
    lazy_array,
    open_h5,
)

h5py = pytest.importorskip("h5py")


@pytest.fixture
def h5file(tmp_path):
    p = tmp_path / "d.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("g/data", data=np.arange(120, dtype="float32").reshape(4, 5, 6), chunks=(2, 5, 6))
    return p


def test_is_hdf5_detects_signature(h5file):
    assert is_hdf5(h5file.read_bytes()[:4096])
    assert not is_hdf5(b"\x89PNG\r\n\x1a\n")
    assert not is_hdf5(b"")


def test_lazy_array_reads_on_demand_and_keeps_no_handle(h5file):
    with open_h5(h5file, "test") as f:
        arr = lazy_array(h5file, f["g/data"], "test")
    assert arr.dtype == np.float32 and arr.shape == (4, 5, 6)
    np.testing.assert_array_equal(arr[1:3].compute(), np.arange(120, dtype="float32").reshape(4, 5, 6)[1:3])
    # no open handle or lock: the file can be replaced while the array exists
    h5file.unlink()
    with pytest.raises(CorruptFileError, match="d.h5"):
        arr.compute()


def test_proxy_pickles_by_path(h5file):
    with open_h5(h5file, "test") as f:
        proxy = H5ArrayProxy.from_dataset(h5file, f["g/data"], "test")
        arr = lazy_array(h5file, f["g/data"], "test")
    blob = pickle.dumps(proxy)
    assert len(blob) < 1000
    assert pickle.loads(blob)[0, 0, 0] == 0
    assert len(pickle.dumps(arr)) < 5000


def test_open_h5_on_garbage_raises_corrupt_file_error(tmp_path):
    p = tmp_path / "bad.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(CorruptFileError, match="bad.h5"):
        with open_h5(p, "test"):
            pass


def test_external_storage_is_refused_unless_allowed(tmp_path):
    raw = tmp_path / "raw.bin"
    np.arange(10, dtype="<f4").tofile(raw)
    p = tmp_path / "ext.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("x", shape=(10,), dtype="<f4", external=[(str(raw), 0, 40)])
    with open_h5(p, "test") as f:
        with pytest.raises(UnsafeFileError, match="external"):
            check_storage(f["x"], p, "test")
        check_storage(f["x"], p, "test", allow_external=True)


def test_attr_to_python_decodes_bytes_and_scalars():
    assert attr_to_python(b"nm") == "nm"
    assert attr_to_python(np.float32(1.5)) == 1.5 and isinstance(attr_to_python(np.int64(3)), int)
    assert attr_to_python(np.array([b"a", b"b"])) == ["a", "b"]


def test_auto_chunks_are_multiples_of_disk_chunks():
    chunks = auto_chunks((1000, 1000, 100), 4, (10, 10, 100), target_bytes=4_000_000)
    assert all(c % d == 0 or c == s for c, d, s in zip(chunks, (10, 10, 100), (1000, 1000, 100)))
    assert np.prod(chunks) * 4 <= 4_000_000


def test_whole_lazy_array_is_read_in_one_call(h5file):
    from sidkit.core import Dataset
    from sidkit.core.fastpath import direct_read

    with open_h5(h5file, "test") as f:
        arr = lazy_array(h5file, f["g/data"], "test", chunks=(1, 5, 6))
    expected = np.arange(120, dtype="float32").reshape(4, 5, 6)
    np.testing.assert_array_equal(direct_read(arr), expected)
    np.testing.assert_array_equal(np.asarray(Dataset(arr)), expected)


def test_lazy_array_takes_an_explicit_h5path(h5file):
    with open_h5(h5file, "test") as f:
        arr = lazy_array(h5file, f["g/data"], "test", h5path="/g/data")
    assert arr[0, 0, 1].compute() == 1


def test_open_h5_shares_the_locking_of_a_handle_the_process_holds(tmp_path):
    path = tmp_path / "held.h5"
    with h5py.File(path, "w") as fh:
        fh["x"] = np.arange(4)
    with h5py.File(path, "r") as held:  # HDF5's default locking, as a user or RosettaSciIO opens it
        with open_h5(path, "r") as fh:
            np.testing.assert_array_equal(fh["x"][()], held["x"][()])
        proxy = H5ArrayProxy(path, "/x", (4,), np.int64)
        np.testing.assert_array_equal(proxy[1:3], [1, 2])
