"""Writing Datasets as USID and reading them back."""

from __future__ import annotations

import threading

import dask.array as da
import h5py
import numpy as np
import pytest

import sidkit.core
from sidkit.core import CorruptFileError, Dataset, Dimension, DimensionMismatchError, DimensionType
from sidkit.usid import UsidWriter, read_usid, split_dims, write_usid
from sidkit.usid import writer as writer_module

MAIN = "Measurement_000/Channel_000/Raw_Data"


def _only(result):
    assert len(result) == 1
    return next(iter(result.values()))


def test_round_trip_keeps_values_dims_and_attributes(tmp_path, spectral_image):
    path = write_usid(spectral_image, tmp_path / "si.h5")
    got = _only(read_usid(path))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(spectral_image))
    assert got.dtype == spectral_image.dtype
    assert got.dims == spectral_image.dims  # names, values, units, quantity, types
    assert (got.title, got.quantity, got.units) == ("IV map", "current", "nA")
    assert got.metadata == spectral_image.metadata
    assert got.original_metadata == spectral_image.original_metadata
    assert got.data_type == spectral_image.data_type


def test_layout_has_main_and_four_ancillary_datasets_slowest_first(tmp_path, be_dataset):
    path = write_usid(be_dataset, tmp_path / "be.h5")
    with h5py.File(path, "r") as fh:
        main = fh[MAIN]
        assert main.shape == (20, 42) and main.dtype == np.complex64
        assert main.attrs["quantity"] == "Piezoresponse" and main.attrs["units"] == "V"
        pos_inds = fh[main.attrs["Position_Indices"]]
        spec_vals = fh[main.attrs["Spectroscopic_Values"]]
        assert pos_inds.name == "/Measurement_000/Channel_000/Position_Indices"
        assert pos_inds.dtype == np.uint32 and pos_inds.shape == (20, 2)
        assert list(pos_inds.attrs["labels"]) == [b"row", b"col"]
        assert list(pos_inds.attrs["units"]) == [b"um", b"um"]
        np.testing.assert_array_equal(pos_inds[:6], [[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [1, 0]])
        assert spec_vals.shape == (2, 42)
        np.testing.assert_array_equal(spec_vals[0, ::7], [0.0, 2.0, 4.0, 2.0, 0.0, -2.0])
        # row r of the main dataset is position (r // 5, r % 5)
        np.testing.assert_array_equal(main[7], np.asarray(be_dataset)[1, 2].reshape(-1))


def test_dims_split_by_type_and_position_first_order(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.random((6, 4, 3)).astype("float64")
    dims = [Dimension("energy", 6, units="eV", dimension_type="spectral"),
            Dimension("x", 4, units="nm", dimension_type="spatial"),
            Dimension("t", 3, units="s", dimension_type="temporal")]
    ds = Dataset(data, dims)
    assert split_dims(ds) == ([1, 2], [0])
    got = _only(read_usid(write_usid(ds, tmp_path / "o.h5")))
    assert got.dim_names == ("x", "t", "energy")
    assert got.dim("t").dimension_type == DimensionType.TEMPORAL
    np.testing.assert_array_equal(np.asarray(got), data.transpose(1, 2, 0))


def test_explicit_split_overrides_types(tmp_path):
    ds = Dataset(np.arange(24.0).reshape(2, 3, 4), ["a", "b", "c"])
    assert split_dims(ds, position_dims=["c"]) == ([2], [0, 1])
    assert split_dims(ds, spectroscopic_dims="a") == ([1, 2], [0])
    with pytest.raises(DimensionMismatchError):
        split_dims(ds, position_dims=["a"], spectroscopic_dims=["a", "b", "c"])
    with pytest.raises(DimensionMismatchError):
        split_dims(ds, position_dims=["a"], spectroscopic_dims=["b"])
    path = write_usid(ds, tmp_path / "e.h5", position_dims=["a", "b"])
    with h5py.File(path, "r") as fh:
        assert fh[MAIN].shape == (6, 4)
    np.testing.assert_array_equal(np.asarray(_only(read_usid(path))), np.arange(24.0).reshape(2, 3, 4))


def test_image_without_spectroscopic_dim_gets_placeholder_dropped_on_read(tmp_path):
    img = Dataset(np.arange(12, dtype="uint16").reshape(3, 4),
                  [Dimension("y", 3, dimension_type="spatial"), Dimension("x", 4, dimension_type="spatial")])
    path = write_usid(img, tmp_path / "img.h5")
    with h5py.File(path, "r") as fh:
        assert fh[MAIN].shape == (12, 1)
        assert list(fh["Measurement_000/Channel_000/Spectroscopic_Indices"].attrs["labels"]) == [b"arb"]
    got = _only(read_usid(path))
    assert got.dim_names == ("y", "x")
    np.testing.assert_array_equal(np.asarray(got), np.asarray(img))


def test_flat_read_writes_back_the_same_grid(tmp_path, be_dataset):
    first = write_usid(be_dataset, tmp_path / "a.h5")
    flat = _only(read_usid(first, flat=True))
    second = write_usid(flat, tmp_path / "b.h5")
    np.testing.assert_array_equal(np.asarray(_only(read_usid(second))), np.asarray(be_dataset))
    assert _only(read_usid(second)).dim_names == be_dataset.dim_names


def test_mode_a_adds_measurement_and_leaves_existing_untouched(tmp_path, spectral_image, be_dataset):
    path = write_usid(spectral_image, tmp_path / "f.h5")
    with h5py.File(path, "r") as fh:
        before = fh[MAIN][()]
        before_attrs = dict(fh[MAIN].attrs)
    write_usid({"be": be_dataset}, path, mode="a")
    write_usid({"more": be_dataset}, path, mode="a", measurement=1)
    with h5py.File(path, "r") as fh:
        np.testing.assert_array_equal(fh[MAIN][()], before)
        assert set(fh[MAIN].attrs) == set(before_attrs)
        assert sorted(fh["Measurement_001"]) == ["Channel_000", "Channel_001"]
    assert len(read_usid(path)) == 3


def test_failed_write_leaves_previous_file_intact(tmp_path, spectral_image, be_dataset, monkeypatch):
    path = write_usid(spectral_image, tmp_path / "keep.h5")
    original = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full (injected)")

    monkeypatch.setattr(writer_module, "index_table_block", boom)
    with pytest.raises(RuntimeError, match="injected"):
        write_usid({"be": be_dataset}, path, mode="a")
    with pytest.raises(RuntimeError, match="injected"):
        write_usid({"be": be_dataset}, path, mode="w")
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["keep.h5"]  # no temporary left behind
    np.testing.assert_array_equal(np.asarray(_only(read_usid(path))), np.asarray(spectral_image))


def test_failure_while_computing_data_leaves_previous_file_intact(tmp_path, spectral_image):
    path = write_usid(spectral_image, tmp_path / "keep.h5")
    original = path.read_bytes()

    def fail(block):
        raise ValueError("sensor dropped out (injected)")

    bad = Dataset(da.zeros((4, 3, 5), chunks=2).map_blocks(fail, dtype=float), spectral_image.dims)
    with pytest.raises(ValueError, match="injected"):
        write_usid(bad, path)
    assert path.read_bytes() == original


class _CountingSource:
    """Array-like that records every read, to prove writing is chunked."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.ndim = shape, np.dtype(dtype), len(shape)
        self.largest = 0
        self.total = 0
        self._lock = threading.Lock()

    def __getitem__(self, key):
        block = np.ones(tuple(s.stop - s.start for s in key), dtype=self.dtype)
        with self._lock:
            self.largest = max(self.largest, block.nbytes)
            self.total += block.nbytes
        return block


def test_large_data_are_written_block_by_block(tmp_path):
    src = _CountingSource((64, 32, 256), "float32")  # 2 MiB
    arr = da.from_array(src, chunks=(8, 32, 256), asarray=False)  # 256 KiB blocks
    ds = Dataset(arr, [Dimension("y", 64, dimension_type="spatial"), Dimension("x", 32, dimension_type="spatial"),
                       Dimension("e", 256, dimension_type="spectral")])
    path = write_usid(ds, tmp_path / "big.h5", chunk_bytes=256 * 2**10)
    assert src.total == 64 * 32 * 256 * 4
    assert src.largest <= 256 * 2**10
    with h5py.File(path, "r") as fh:
        assert fh[MAIN].shape == (2048, 256)
        assert float(fh[MAIN][-1, -1]) == 1.0


def test_compression_option_is_applied(tmp_path, spectral_image):
    path = write_usid(spectral_image, tmp_path / "z.h5", compression="gzip", compression_opts=4)
    with h5py.File(path, "r") as fh:
        assert fh[MAIN].compression == "gzip"
    np.testing.assert_array_equal(np.asarray(_only(read_usid(path))), np.asarray(spectral_image))


def test_save_with_format_usid_goes_through_entry_point(tmp_path, spectral_image):
    path = sidkit.core.save(spectral_image, tmp_path / "s.usid", format="usid")
    got = sidkit.core.load(path, reader="usid")
    np.testing.assert_array_equal(np.asarray(got), np.asarray(spectral_image))
    assert sidkit.core.get_writer("usid") is UsidWriter


def test_string_data_are_refused(tmp_path):
    ds = Dataset(np.array([["a", "b"]]), ["y", "x"])
    with pytest.raises(sidkit.core.UnsupportedOperationError):
        write_usid(ds, tmp_path / "s.h5")
    assert not (tmp_path / "s.h5").exists()


def test_append_to_non_hdf5_file_raises_naming_it(tmp_path, spectral_image):
    path = tmp_path / "notes.h5"
    path.write_text("hello")
    with pytest.raises(CorruptFileError, match="notes.h5"):
        write_usid(spectral_image, path, mode="a")
    assert path.read_text() == "hello"


def test_awkward_metadata_round_trips_exactly_and_stays_readable(tmp_path, spectral_image):
    meta = {
        "": "empty key",
        "a/b": {"c.d": [1, 2, 3], "e": []},
        "nul\x00key": "value with \x00 inside",
        "unicode µm Å": ["α", "β"],
        "nested": {"deep": {"deeper": {"x": 1.5, "none": None, "flag": True}}, "empty": {}},
        "big": 2**70,
        "mixed": [1, "two", 3.0],
    }
    ds = Dataset(spectral_image.data, spectral_image.dims, metadata=meta, title="t\x00itle")
    path = write_usid(ds, tmp_path / "meta.h5")
    got = _only(read_usid(path))
    assert got.metadata == meta
    with h5py.File(path, "r") as fh:
        attrs = fh["Measurement_000/Channel_000"].attrs
        assert attrs["nested-deep-deeper-x"] == 1.5
        assert list(attrs["a/b-c.d"]) == [1, 2, 3]
