"""Damaged, inconsistent and hostile USID files give clear errors naming the file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import sidkit.core
from sidkit.core import CorruptFileError, SidkitError, TruncatedFileError, UnknownFormatError, UnsafeFileError
from sidkit.usid import read_usid, write_usid

GROUP = "Measurement_000/Channel_000"
MAIN = f"{GROUP}/Raw_Data"


@pytest.fixture
def good(tmp_path, be_dataset):
    return write_usid(be_dataset, tmp_path / "damaged_file.h5")


def _raises(path, error=CorruptFileError, match=None):
    with pytest.raises(error) as info:
        for ds in read_usid(path).values():
            np.asarray(ds)
    message = str(info.value)
    assert path.name in message
    if match:
        assert match in message, message
    assert isinstance(info.value, SidkitError)
    return message


def test_missing_ancillary_reference_attribute(good):
    with h5py.File(good, "a") as fh:
        del fh[MAIN].attrs["Spectroscopic_Values"]
    _raises(good, match="Spectroscopic_Values")


def test_reference_pointing_past_end_of_file_is_broken(good, tmp_path):
    # a reference made in a bigger file holds an address beyond this file's end
    with h5py.File(tmp_path / "other.h5", "w") as other:
        other["padding"] = np.zeros(2**18)
        target = other.create_dataset("far_away", data=np.zeros((2, 2)))
        far_ref = target.ref
        with h5py.File(good, "a") as fh:
            fh[MAIN].attrs["Position_Values"] = far_ref
    assert good.stat().st_size < 2**21
    _raises(good, match="reference is broken")


def test_reference_to_a_group_is_refused(good):
    with h5py.File(good, "a") as fh:
        fh[MAIN].attrs["Position_Indices"] = fh[GROUP].ref
    _raises(good, match="not a dataset")


def test_reference_that_is_not_a_reference(good):
    with h5py.File(good, "a") as fh:
        fh[MAIN].attrs["Position_Indices"] = 42
    _raises(good, match="Position_Indices")


def test_index_table_with_wrong_number_of_rows(good):
    with h5py.File(good, "a") as fh:
        inds = fh[f"{GROUP}/Position_Indices"]
        data, attrs = inds[()], dict(inds.attrs)
        del fh[f"{GROUP}/Position_Indices"]
        new = fh.create_dataset(f"{GROUP}/Position_Indices", data=data[:-1])
        for k, v in attrs.items():
            new.attrs[k] = v
        fh[MAIN].attrs["Position_Indices"] = new.ref
    _raises(good, match="does not describe the main dataset")


def test_index_table_describing_a_different_grid(good):
    with h5py.File(good, "a") as fh:
        inds = fh[f"{GROUP}/Spectroscopic_Indices"]
        table = inds[()]
        table[1, :] = 0  # frequency never advances: 6 x 1 grid for 42 columns
        inds[...] = table
    _raises(good, match="does not describe the main dataset")


def test_index_table_not_in_a_regular_order(good):
    with h5py.File(good, "a") as fh:
        inds = fh[f"{GROUP}/Position_Indices"]
        table = inds[()]
        table[[0, 1]] = table[[1, 0]]
        inds[...] = table
    _raises(good, match="not a regular grid")


def test_values_that_contradict_indices(good):
    with h5py.File(good, "a") as fh:
        vals = fh[f"{GROUP}/Position_Values"]
        table = vals[()]
        table[7, 1] = 99.0
        vals[...] = table
    _raises(good, match="disagrees")


def test_labels_missing_or_inconsistent(good):
    with h5py.File(good, "a") as fh:
        fh[f"{GROUP}/Position_Values"].attrs["labels"] = np.array([b"row", b"other"])
    _raises(good, match="labels")
    with h5py.File(good, "a") as fh:
        del fh[f"{GROUP}/Position_Values"].attrs["labels"]
        del fh[f"{GROUP}/Position_Indices"].attrs["labels"]
    _raises(good, match="labels")


def test_label_count_not_matching_columns(good):
    with h5py.File(good, "a") as fh:
        for name in ("Spectroscopic_Indices", "Spectroscopic_Values"):
            fh[f"{GROUP}/{name}"].attrs["labels"] = np.array([b"only_one"])
            fh[f"{GROUP}/{name}"].attrs["units"] = np.array([b"V"])
    _raises(good, match="label")


def test_main_dataset_that_is_not_2d(good):
    with h5py.File(good, "a") as fh:
        attrs = dict(fh[MAIN].attrs)
        del fh[MAIN]
        bad = fh.create_dataset(MAIN, data=np.zeros((20, 6, 7)))
        for k, v in attrs.items():
            bad.attrs[k] = v
    _raises(good, match="2-D")


def test_absurd_ancillary_size_is_refused_without_allocating(good):
    with h5py.File(good, "a") as fh:
        attrs = dict(fh[MAIN].attrs)
        del fh[MAIN]
        huge = fh.create_dataset(MAIN, shape=(2**40, 42), dtype="f4", chunks=(1, 42))
        for k, v in attrs.items():
            huge.attrs[k] = v
        pos = fh.create_dataset(f"{GROUP}/Huge_Indices", shape=(2**40, 2), dtype="u4", chunks=(1024, 2))
        pos.attrs["labels"] = np.array([b"row", b"col"])
        huge.attrs["Position_Indices"] = pos.ref
    _raises(good, UnsafeFileError, match="refusing")


def test_truncated_file(good, tmp_path):
    data = good.read_bytes()
    cut = tmp_path / "truncated_copy.h5"
    cut.write_bytes(data[: len(data) // 2])
    message = _raises(cut, CorruptFileError)
    assert "usid" in message


def test_truncated_file_through_load_names_file(good, tmp_path):
    cut = tmp_path / "cut_short.h5"
    cut.write_bytes(good.read_bytes()[:3000])
    with pytest.raises((TruncatedFileError, CorruptFileError), match="cut_short.h5"):
        np.asarray(sidkit.core.load(cut, reader="usid"))


def test_not_hdf5(tmp_path):
    path = tmp_path / "plain_text.h5"
    path.write_text("not an HDF5 file")
    _raises(path, CorruptFileError)


def test_hdf5_without_main_dataset(tmp_path):
    path = tmp_path / "just_data.h5"
    with h5py.File(path, "w") as fh:
        fh["x"] = np.arange(5)
    _raises(path, UnknownFormatError, match="no USID main dataset")


def test_partial_main_dataset_is_explained(tmp_path):
    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as fh:
        d = fh.create_dataset("Raw_Data", data=np.zeros((4, 3)))
        pos = fh.create_dataset("Position_Indices", data=np.zeros((4, 1), dtype="u4"))
        d.attrs["Position_Indices"] = pos.ref
    _raises(path, CorruptFileError, match="quantity")


def test_external_storage_is_refused(tmp_path, be_dataset):
    raw = tmp_path / "external.bin"
    raw.write_bytes(np.zeros((20, 42), dtype="<f8").tobytes())
    path = write_usid(be_dataset, tmp_path / "ext.h5")
    with h5py.File(path, "a") as fh:
        attrs = dict(fh[MAIN].attrs)
        del fh[MAIN]
        ext = fh.create_dataset(MAIN, shape=(20, 42), dtype="<f8", external=[(str(raw), 0, 20 * 42 * 8)])
        for k, v in attrs.items():
            ext.attrs[k] = v
    _raises(path, UnsafeFileError, match="external")
