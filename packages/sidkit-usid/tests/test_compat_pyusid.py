"""Two-way compatibility with pyUSID 0.0.12 (install ``sidkit-usid[compat]``)."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

from sidkit.core import Dataset, Dimension
from sidkit.usid import read_usid, write_usid

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pyUSID = pytest.importorskip("pyUSID", reason="pyUSID not installed: pip install 'sidkit-usid[compat]'")
    from pyUSID.io.anc_build_utils import build_ind_val_matrices  # noqa: E402
    from pyUSID.io.hdf_utils import check_if_main, write_main_dataset  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")


def _pyusid_nd(path, h5_path):
    with h5py.File(path, "r") as fh:
        main = fh[h5_path]
        assert check_if_main(main, verbose=True)
        usid = pyUSID.USIDataset(main)
        return np.asarray(usid.get_n_dim_form()), list(usid.n_dim_labels), usid


@pytest.mark.parametrize("fixture", ["spectral_image", "be_dataset"])
def test_pyusid_accepts_and_folds_sidkit_files(tmp_path, request, fixture):
    ds = request.getfixturevalue(fixture)
    path = write_usid(ds, tmp_path / "ours.h5")
    nd, labels, _ = _pyusid_nd(path, "/Measurement_000/Channel_000/Raw_Data")
    assert labels == list(ds.dim_names)
    assert nd.shape == ds.shape
    np.testing.assert_array_equal(nd, np.asarray(ds))


def test_pyusid_sees_dimension_values_and_units(tmp_path, be_dataset):
    path = write_usid(be_dataset, tmp_path / "ours.h5")
    with h5py.File(path, "r") as fh:
        usid = pyUSID.USIDataset(fh["/Measurement_000/Channel_000/Raw_Data"])
        assert usid.data_descriptor == "Piezoresponse (V)"
        np.testing.assert_allclose(usid.get_spec_values("dc_offset"), be_dataset.dim("dc_offset").values)
        np.testing.assert_allclose(usid.get_pos_values("col"), be_dataset.dim("col").values)
        assert list(usid.pos_dim_descriptors) == ["row (um)", "col (um)"]


def test_pyusid_reads_every_channel_of_a_multi_measurement_file(tmp_path, spectral_image, be_dataset):
    path = write_usid({"a": spectral_image, "b": be_dataset}, tmp_path / "many.h5")
    write_usid({"c": be_dataset}, path, mode="a")
    with h5py.File(path, "r") as fh:
        mains = pyUSID.hdf_utils.get_all_main(fh)
        assert sorted(m.name for m in mains) == [
            "/Measurement_000/Channel_000/a", "/Measurement_000/Channel_001/b", "/Measurement_001/Channel_000/c"]


def test_image_with_placeholder_is_a_valid_main_dataset(tmp_path):
    img = Dataset(np.arange(12.0).reshape(3, 4), [Dimension("y", 3, dimension_type="spatial"),
                                                  Dimension("x", 4, dimension_type="spatial")])
    path = write_usid(img, tmp_path / "img.h5")
    nd, labels, _ = _pyusid_nd(path, "/Measurement_000/Channel_000/Raw_Data")
    assert labels == ["y", "x", "arb"]
    np.testing.assert_array_equal(nd[..., 0], np.asarray(img))


def test_sidkit_reads_files_written_by_pyusid_write_main_dataset(tmp_path):
    rng = np.random.default_rng(5)
    data = rng.standard_normal((3 * 4, 5 * 2)).astype("float32")
    path = tmp_path / "theirs.h5"
    with h5py.File(path, "w") as fh:
        grp = fh.create_group("Measurement_000/Channel_000")
        write_main_dataset(
            grp, data, "Raw_Data", "Amplitude", "a.u.",
            [pyUSID.Dimension("X", "nm", np.arange(4) * 2.0), pyUSID.Dimension("Y", "nm", np.arange(3) * 3.0)],
            [pyUSID.Dimension("Cycle", "", 2), pyUSID.Dimension("Bias", "V", np.linspace(-1, 1, 5))],
        )
    nd, labels, _ = _pyusid_nd(path, "/Measurement_000/Channel_000/Raw_Data")
    ds = next(iter(read_usid(path).values()))
    assert list(ds.dim_names) == labels
    assert (ds.quantity, ds.units) == ("Amplitude", "a.u.")
    assert ds.dim("Cycle").units == ""  # empty units stay empty
    np.testing.assert_array_equal(np.asarray(ds), nd)
    np.testing.assert_allclose(ds.dim("Bias").values, np.linspace(-1, 1, 5), rtol=1e-6)


def test_sidkit_reads_fastest_first_tables_like_pyusid(tmp_path):
    rng = np.random.default_rng(6)
    data = rng.standard_normal((4 * 3, 6)).astype("float64")
    pos_inds, pos_vals = build_ind_val_matrices([np.arange(4.0), np.arange(3.0) * 10], is_spectral=False)
    spec_inds, spec_vals = build_ind_val_matrices([np.arange(3.0), np.arange(2.0)], is_spectral=True)
    path = tmp_path / "legacy.h5"
    with h5py.File(path, "w") as fh:
        grp = fh.create_group("Measurement_000/Channel_000")
        anc = {}
        for name, arr, labels in (("Position_Indices", pos_inds, ["X", "Y"]), ("Position_Values", pos_vals, ["X", "Y"]),
                                  ("Spectroscopic_Indices", spec_inds, ["F", "C"]),
                                  ("Spectroscopic_Values", spec_vals, ["F", "C"])):
            anc[name] = grp.create_dataset(name, data=arr)
            anc[name].attrs["labels"] = np.array(labels, dtype="S")
            anc[name].attrs["units"] = np.array(["u", "u"], dtype="S")
        write_main_dataset(grp, data, "Raw_Data", "q", "u", None, None,
                           h5_pos_inds=anc["Position_Indices"], h5_pos_vals=anc["Position_Values"],
                           h5_spec_inds=anc["Spectroscopic_Indices"], h5_spec_vals=anc["Spectroscopic_Values"])
    nd, labels, _ = _pyusid_nd(path, "/Measurement_000/Channel_000/Raw_Data")
    ds = next(iter(read_usid(path).values()))
    assert list(ds.dim_names) == labels == ["X", "Y", "F", "C"]
    np.testing.assert_array_equal(np.asarray(ds), nd)
    np.testing.assert_array_equal(ds.dim("Y").values, [0.0, 10.0, 20.0])
