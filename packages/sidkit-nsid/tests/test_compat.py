"""Compatibility with the reference tools both ways: pyNSID reads what
sidkit writes, and sidkit reads what pyNSID writes.

Runs where pyNSID is importable (``pip install 'sidkit-nsid[compat]'``)."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from conftest import normalise

from sidkit.core import Dataset, Dimension
from sidkit.nsid import read_nsid, write_nsid

pyNSID = pytest.importorskip("pyNSID", reason="pyNSID not installed: pip install 'sidkit-nsid[compat]'")
sidpy = pytest.importorskip("sidpy", reason="sidpy not installed: pip install 'sidkit-nsid[compat]'")


def _spectral_image() -> Dataset:
    rng = np.random.default_rng(3)
    return Dataset(
        rng.random((6, 5, 32)).astype(np.float32),
        [
            Dimension.linear("x", 6, scale=0.2, quantity="length", units="nm", dimension_type="spatial"),
            Dimension.linear("y", 5, scale=0.2, quantity="length", units="nm", dimension_type="spatial"),
            Dimension.linear("energy_loss", 32, scale=0.5, offset=280, quantity="energy loss",
                             units="eV", dimension_type="spectral"),
        ],
        title="EELS SI", quantity="intensity", units="counts", modality="EELS", source="sidkit test",
        metadata={"experiment": {"edge": "C-K", "dwell_s": 0.01, "flags": [1, 0, 1],
                                 "elements": ["C", "O"], "nested": {"deep": {"v": 3}}},
                  "operator": "Zoë"},
        original_metadata={"Vendor File": {"Version": "2.3", "Scale": 0.1}},
    )


def test_pynsid_reads_sidkit_files_as_the_same_sidpy_dataset(tmp_path):
    ds = _spectral_image()
    path = write_nsid({"spectrum_image": ds}, tmp_path / "sk.h5", compression="gzip")
    from pyNSID.io.hdf_utils import get_all_main, read_h5py_dataset

    with h5py.File(path, "r") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mains = get_all_main(fh)
        assert [m.name for m in mains] == ["/Measurement_000/Channel_000/spectrum_image/spectrum_image"]
        sd = read_h5py_dataset(mains[0])
        np.testing.assert_array_equal(np.asarray(sd), np.asarray(ds))
        assert sd.quantity == ds.quantity and sd.units == ds.units
        assert sd.modality == ds.modality and sd.source == ds.source
        assert sd.data_type.name == ds.data_type.name
        assert mains[0].attrs["main_data_name"] == ds.title
        for i, dim in enumerate(ds.dims):
            sdim = sd._axes[i]
            assert sdim.name == dim.name
            assert sdim.units == dim.units and sdim.quantity == dim.quantity
            assert sdim.dimension_type.name == dim.dimension_type.name
            np.testing.assert_array_equal(np.asarray(sdim.values), dim.values)
        assert normalise(sd.metadata) == normalise(ds.metadata)
        assert normalise(sd.original_metadata) == normalise(ds.original_metadata)


def test_pynsid_sees_richer_metadata_sensibly(tmp_path):
    ds = _spectral_image()
    ds.metadata = {"none": None, "flag": True, "empty": {}, "mixed": [1, "a"], "np": np.float32(2.5)}
    path = write_nsid({"si": ds}, tmp_path / "rich.h5")
    from pyNSID.io.hdf_utils import get_all_main, read_h5py_dataset

    with h5py.File(path, "r") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        md = read_h5py_dataset(get_all_main(fh)[0]).metadata
    assert md["flag"] == True  # noqa: E712 - numpy bool
    assert md["empty"] == {}
    assert normalise(md["mixed"]) == {"0": 1, "1": "a"}
    assert float(md["np"]) == 2.5
    assert isinstance(md["none"], h5py.Empty)


def test_sidkit_reads_what_pynsid_writes(tmp_path):
    data = np.arange(4 * 3 * 5, dtype=np.uint16).reshape(4, 3, 5)
    sd = sidpy.Dataset.from_array(data, title="stack")
    sd.data_type = "IMAGE_STACK"
    sd.quantity, sd.units, sd.modality, sd.source = "intensity", "counts", "TEM", "pyNSID"
    sd.set_dimension(0, sidpy.Dimension(np.arange(4) * 0.5, "time", quantity="time", units="s",
                                        dimension_type="temporal"))
    sd.set_dimension(1, sidpy.Dimension(np.arange(3) * 0.1, "x", quantity="length", units="nm",
                                        dimension_type="spatial"))
    sd.set_dimension(2, sidpy.Dimension(np.arange(5) * 0.1, "y", quantity="length", units="nm",
                                        dimension_type="spatial"))
    sd.metadata = {"a": {"b": 1, "c": [1.5, 2.5], "s": "µm"}}
    path = tmp_path / "py.h5"
    with h5py.File(path, "w") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyNSID.hdf_io.write_nsid_dataset(sd, fh.require_group("Measurement_000/Channel_000"),
                                         main_data_name="stack")
    ds = read_nsid(path)["stack"]
    assert ds.dtype == np.uint16 and ds.shape == (4, 3, 5)
    np.testing.assert_array_equal(np.asarray(ds), data)
    assert ds.title == "stack" and ds.data_type.name == "IMAGE_STACK"
    assert ds.dim_names == ("time", "x", "y")
    assert [d.dimension_type.name for d in ds.dims] == ["TEMPORAL", "SPATIAL", "SPATIAL"]
    assert ds.dims[0].units == "s" and ds.dims[1].values.tolist() == pytest.approx([0, 0.1, 0.2])
    assert normalise(ds.metadata) == {"a": {"b": 1, "c": [1.5, 2.5], "s": "µm"}}
    assert [r["process"] for r in ds.provenance] == ["sidpy"]
