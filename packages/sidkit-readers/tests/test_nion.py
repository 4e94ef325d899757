"""Nion Swift reader: ``.ndata`` zips and ``.h5`` items built after the
layout Nion Swift writes (``data.npy`` + ``metadata.json`` properties)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from sidkit.core import DataType, DimensionType, SidkitError, UnsafeFileError, load, load_all
from sidkit.readers.nion import NionReader, is_ndata


def _props(shape, cals, *, seq=False, coll=0, datum=None, **extra):
    datum = len(shape) - coll - int(seq) if datum is None else datum
    return {
        "type": "data-item", "version": 13, "uuid": "0f1e2d3c-0000-0000-0000-000000000000",
        "created": "2021-03-04T12:00:00.000000", "title": "Test item",
        "is_sequence": seq, "collection_dimension_count": coll, "datum_dimension_count": datum,
        "intensity_calibration": {"offset": 0.0, "scale": 1.0, "units": "counts"},
        "dimensional_calibrations": [{"offset": o, "scale": s, "units": u} for o, s, u in cals],
        "metadata": {"hardware_source": {"hardware_source_name": "HAADF", "exposure": 0.5,
                                         "autostem": {"high_tension_v": 100000.0}}},
        **extra,
    }


def _ndata(path, data, props, *, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    np.save(buf, data, allow_pickle=False)
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        zf.writestr("data.npy", buf.getvalue())
        zf.writestr("metadata.json", json.dumps(props))
    return path


@pytest.mark.parametrize("compress", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_ndata_image_values_calibrations_and_metadata(tmp_path, compress):
    img = np.arange(6 * 7, dtype=np.float32).reshape(6, 7)
    props = _props(img.shape, [(-1.0, 0.1, "nm"), (2.0, 0.2, "nm")])
    path = _ndata(tmp_path / "img.ndata", img, props, compress=compress)
    ds = load(path)
    np.testing.assert_array_equal(np.asarray(ds), img)
    assert ds.title == "Test item" and ds.data_type is DataType.IMAGE
    y, x = ds.dims
    assert (y.offset, y.scale, y.units) == (pytest.approx(-1.0), pytest.approx(0.1), "nm")
    assert x.dimension_type is DimensionType.SPATIAL
    md = ds.metadata
    assert md["beam"]["energy_eV"] == pytest.approx(1e5)
    assert md["acquisition"]["detector"] == "HAADF"
    assert md["acquisition"]["exposure_s"] == pytest.approx(0.5)
    assert md["acquisition"]["datetime"].startswith("2021-03-04T12:00:00")
    assert ds.original_metadata["uuid"].startswith("0f1e")


def test_stored_ndata_is_memory_mapped_and_pickles(tmp_path):
    img = np.random.default_rng(7).random((16, 16))
    path = _ndata(tmp_path / "m.ndata", img, _props(img.shape, [(0, 1, ""), (0, 1, "")]))
    ds = load(path)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ds.data)).compute(), img)


def test_spectrum_image_collection_and_datum_dims(tmp_path):
    si = np.ones((3, 4, 10), dtype=np.float32)
    props = _props(si.shape, [(0, 2.0, "nm"), (0, 2.0, "nm"), (280.0, 0.5, "eV")], coll=2, datum=1)
    ds = load(_ndata(tmp_path / "si.ndata", si, props))
    assert [d.dimension_type for d in ds.dims] == [DimensionType.SPATIAL, DimensionType.SPATIAL,
                                                   DimensionType.SPECTRAL]
    assert ds.dims[-1].name == "energy" and ds.dims[-1].offset == pytest.approx(280.0)
    assert ds.data_type is DataType.SPECTRAL_IMAGE


def test_4d_stem_has_reciprocal_datum_dims(tmp_path):
    cube = np.zeros((2, 3, 4, 5), dtype=np.uint16)
    props = _props(cube.shape, [(0, 1, "nm"), (0, 1, "nm"), (0, 0.1, "1/nm"), (0, 0.1, "1/nm")], coll=2, datum=2)
    ds = load(_ndata(tmp_path / "4d.ndata", cube, props))
    assert [d.name for d in ds.dims] == ["y", "x", "ky", "kx"]
    assert ds.data_type is DataType.IMAGE_4D


def test_sequence_axis_is_temporal(tmp_path):
    seq = np.zeros((5, 4, 4), dtype=np.float32)
    props = _props(seq.shape, [(0, 0.1, "s"), (0, 1, "nm"), (0, 1, "nm")], seq=True)
    ds = load(_ndata(tmp_path / "seq.ndata", seq, props))
    assert ds.dims[0].name == "frame" and ds.dims[0].dimension_type is DimensionType.TEMPORAL
    assert ds.data_type is DataType.IMAGE_STACK


def test_h5_item_is_claimed_by_content_only(tmp_path):
    h5py = pytest.importorskip("h5py")
    img = np.arange(12, dtype=np.int32).reshape(3, 4)
    path = tmp_path / "item.h5"
    with h5py.File(path, "w") as fh:
        d = fh.create_dataset("data", data=img)
        d.attrs["properties"] = json.dumps(_props(img.shape, [(0, 1, "nm"), (0, 1, "nm")]))
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as fh:
        fh.create_dataset("data", data=img)
    assert NionReader().claims(path, path.read_bytes()[:4096])
    assert not NionReader().claims(other, other.read_bytes()[:4096])
    ds = load(path)
    np.testing.assert_array_equal(np.asarray(ds), img)
    assert ds.dims[0].units == "nm"


def test_plain_npz_is_not_claimed(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, data=np.zeros(3))
    assert not is_ndata(path)
    assert not NionReader().claims(path, path.read_bytes()[:4096])


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.ndata"
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.npy", buf.getvalue())
        zf.writestr("metadata.json", json.dumps(_props((1,), [(0, 1, "")])))
    with pytest.raises(UnsafeFileError, match="evil.ndata"):
        load(path)


def test_truncated_ndata_raises_sidkit_error_naming_file(tmp_path):
    img = np.zeros((64, 64), dtype=np.float64)
    path = _ndata(tmp_path / "cut.ndata", img, _props(img.shape, [(0, 1, ""), (0, 1, "")]))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SidkitError, match="cut.ndata"):
        for ds in load_all(path, reader="nion").values():
            ds.compute()
