"""NumPy reader: .npy memory-mapped, .npz members, never unpickled."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import CorruptFileError, SidkitError, load, load_all
from sidkit.readers.numpy_ import NumpyReader, read_npy_header


def test_npy_is_memory_mapped_and_equal(tmp_path):
    a = np.arange(60, dtype=">f8").reshape(3, 4, 5)
    np.save(tmp_path / "a.npy", a)
    ds = load(tmp_path / "a.npy")
    assert ds.shape == (3, 4, 5)
    np.testing.assert_array_equal(np.asarray(ds), a)


def test_fortran_npy_keeps_values(tmp_path):
    a = np.asfortranarray(np.arange(12).reshape(3, 4))
    np.save(tmp_path / "f.npy", a)
    np.testing.assert_array_equal(np.asarray(load(tmp_path / "f.npy")), a)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_returns_every_member_by_name(tmp_path, save):
    save(tmp_path / "m.npz", image=np.ones((4, 5)), spectrum=np.arange(7.0))
    out = load_all(tmp_path / "m.npz")
    assert list(out) == ["image", "spectrum"]
    np.testing.assert_array_equal(np.asarray(out["spectrum"]), np.arange(7.0))


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptFileError, match="o.npy"):
        load(tmp_path / "o.npy")


def test_header_is_parsed_as_literals_only():
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    head = b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr
    dtype, shape, fortran, offset = read_npy_header(head)
    assert (dtype, shape, fortran, offset) == (np.dtype("<f4"), (2, 3), False, 10 + len(hdr))
    evil = b"{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (1,)}"
    with pytest.raises(ValueError):
        read_npy_header(b"\x93NUMPY\x01\x00" + len(evil).to_bytes(2, "little") + evil)


def test_truncated_npy_raises_naming_file(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((100, 100)))
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(data[:1000])
    with pytest.raises(SidkitError, match="t.npy"):
        load(tmp_path / "t.npy").compute()


def test_sniff_needs_numpy_magic():
    assert NumpyReader().sniff(b"\x93NUMPY\x01\x00")
    assert not NumpyReader().sniff(b"PK\x03\x04")
