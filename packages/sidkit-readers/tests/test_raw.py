"""Generic raw reader: explicit layout, memory-mapped, lazy."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from sidkit.core import DataType, SidkitError, TruncatedFileError, UnknownFormatError, UnsafeFileError, load
from sidkit.readers.raw import RawReader


def test_raw_file_with_offset_and_big_endian_dtype_round_trips(tmp_path):
    a = np.arange(3 * 4 * 5 * 6, dtype=">i4").reshape(3, 4, 5, 6)
    p = tmp_path / "scan.bin"
    p.write_bytes(b"HEADER" * 10 + a.tobytes())
    ds = load(p, reader="raw", shape=(3, 4, 5, 6), dtype=">i4", offset=60)
    assert ds.data_type is DataType.IMAGE_4D
    assert ds.dim_names == ("y", "x", "ky", "kx")
    np.testing.assert_array_equal(np.asarray(ds), a)
    assert ds.dtype == np.dtype("int32")


def test_fortran_order_and_inferred_axis(tmp_path):
    a = np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4))
    p = tmp_path / "f.raw"
    p.write_bytes(a.tobytes(order="F"))
    ds = load(p, reader="raw", shape=(2, -1, 4), dtype="<f4", order="F")
    assert ds.shape == (2, 3, 4)
    np.testing.assert_array_equal(np.asarray(ds), a)


def test_raw_reader_never_claims_files_by_content():
    assert not RawReader().sniff(b"\x00" * 100)


def test_missing_shape_raises_unknown_format_naming_file(tmp_path):
    p = tmp_path / "noshape.bin"
    p.write_bytes(bytes(16))
    with pytest.raises(UnknownFormatError, match="noshape.bin"):
        load(p, reader="raw")


def test_shape_larger_than_file_raises_truncated_without_allocating(tmp_path):
    p = tmp_path / "small.bin"
    p.write_bytes(bytes(100))
    with pytest.raises(TruncatedFileError, match="small.bin"):
        load(p, reader="raw", shape=(1000, 1000, 1000), dtype="<f8")
    with pytest.raises(UnsafeFileError, match="small.bin"):
        load(p, reader="raw", shape=(100000, 100000, 100000), dtype="<f8")


def test_bad_dtype_raises_sidkit_error(tmp_path):
    p = tmp_path / "d.bin"
    p.write_bytes(bytes(16))
    with pytest.raises(SidkitError, match="d.bin"):
        load(p, reader="raw", shape=(4,), dtype="not-a-dtype")


def test_sparse_2gib_file_opens_lazily_and_pickles_small(tmp_path):
    p = tmp_path / "big.raw"
    with open(p, "wb") as fh:
        fh.truncate(2**31)
    ds = load(p, reader="raw", shape=(128, 128, 256, 256), dtype="<u2")
    assert ds.shape == (128, 128, 256, 256)
    assert len(pickle.dumps(ds.data)) < 200_000
    assert int(ds[5, 7].sum()) == 0
