"""MRC reader: files written by mrcfile (the format's own library)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

mrcfile = pytest.importorskip("mrcfile")

from sidkit.core import DataType, DimensionType, SidkitError, TruncatedFileError, load, load_all
from sidkit.readers.mrc import MRCReader, is_mrc_header


def _write(path, data, voxel=1.5, *, stack=False, volume_stack=False):
    with mrcfile.new(path, overwrite=True) as m:
        if volume_stack:
            m.set_data(data)
            m.header.ispg = 401
        else:
            m.set_data(data)
        if stack:
            m.set_image_stack()
        m.voxel_size = voxel
    return path


def test_sniff_accepts_mrc_and_rejects_tiff(tmp_path):
    path = _write(tmp_path / "a.mrc", np.zeros((4, 4), dtype=np.float32))
    assert is_mrc_header(path.read_bytes()[:4096])
    assert not MRCReader().sniff(b"II*\x00" + bytes(1020))
    assert not MRCReader().sniff(b"")


def test_image_values_and_voxel_size_in_nm(tmp_path):
    img = np.arange(12, dtype=np.int16).reshape(3, 4)
    ds = load(_write(tmp_path / "img.mrc", img, voxel=15.0))
    np.testing.assert_array_equal(np.asarray(ds), img)
    assert ds.data_type is DataType.IMAGE
    assert [d.name for d in ds.dims] == ["y", "x"]
    assert all(d.units == "nm" and d.scale == pytest.approx(1.5) for d in ds.dims)
    assert ds.metadata["calibration"]["pixel_units"] == ["nm", "nm"]
    assert ds.original_metadata["header"]["nx"] == 4


def test_mrcs_stack_has_unknown_frame_axis(tmp_path):
    stack = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    ds = load(_write(tmp_path / "particles.mrcs", stack, stack=True))
    assert ds.dims[0].name == "frame" and ds.dims[0].dimension_type is DimensionType.UNKNOWN
    assert ds.data_type is DataType.IMAGE_STACK
    np.testing.assert_array_equal(np.asarray(ds), stack)


def test_volume_has_three_spatial_dims(tmp_path):
    vol = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    ds = load(_write(tmp_path / "vol.mrc", vol, voxel=10.0))
    assert [d.name for d in ds.dims] == ["z", "y", "x"]
    assert all(d.dimension_type is DimensionType.SPATIAL for d in ds.dims)


def test_big_endian_file_is_read_in_native_order(tmp_path):
    img = np.arange(20, dtype=np.float32).reshape(4, 5)
    path = _write(tmp_path / "be.mrc", img.astype(">f4"))
    ds = load(path)
    np.testing.assert_array_equal(np.asarray(ds), img)


def test_lazy_data_pickles_and_reads_slices(tmp_path):
    vol = np.random.default_rng(1).random((5, 6, 7)).astype(np.float32)
    ds = load(_write(tmp_path / "v.mrc", vol))
    arr = pickle.loads(pickle.dumps(ds.data))
    np.testing.assert_array_equal(arr[2].compute(), vol[2])


def test_truncated_file_raises_truncated_error_naming_file(tmp_path):
    path = _write(tmp_path / "cut.mrc", np.zeros((64, 64), dtype=np.float32))
    raw = path.read_bytes()
    path.write_bytes(raw[:-100])
    with pytest.raises(TruncatedFileError, match="cut.mrc"):
        load(path)


def test_huge_declared_shape_is_refused_without_allocating(tmp_path):
    path = _write(tmp_path / "huge.mrc", np.zeros((4, 4), dtype=np.float32))
    raw = bytearray(path.read_bytes())
    raw[0:12] = np.array([100000, 100000, 100000], dtype="<i4").tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(SidkitError, match="huge.mrc"):
        load_all(path)


@pytest.mark.parametrize("kind", ["image", "volume", "stack"])
def test_calibration_matches_the_reference_reader(tmp_path, kind):
    rsciio_mrc = pytest.importorskip("rsciio.mrc")
    shape = {"image": (6, 7), "volume": (3, 6, 7), "stack": (3, 6, 7)}[kind]
    path = tmp_path / ("s.mrcs" if kind == "stack" else "v.mrc")
    with mrcfile.new(path, overwrite=True) as m:
        m.set_data(np.arange(np.prod(shape), dtype=np.float32).reshape(shape))
        if kind == "stack":
            m.set_image_stack()
        m.voxel_size = (12.0, 13.0, 14.0)
        m.header.origin = (50.0, -20.0, 10.0)
    ours = load(path)
    ref = rsciio_mrc.file_reader(str(path))[0]
    assert ours.shape == ref["data"].shape
    for dim, ax in zip(ours.dims, ref["axes"]):
        assert dim.scale == pytest.approx(ax["scale"]) or len(dim) == 1
        assert dim.offset == pytest.approx(ax["offset"])
