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


def _reference(path):
    rsciio_mrc = pytest.importorskip("rsciio.mrc")
    return rsciio_mrc.file_reader(str(path), lazy=False)[0]


def _assert_matches_reference(ds, ref):
    assert ds.shape == ref["data"].shape
    assert ds.dtype == ref["data"].dtype
    np.testing.assert_array_equal(np.asarray(ds), ref["data"])
    for dim, ax in zip(ds.dims, sorted(ref["axes"], key=lambda a: a["index_in_array"])):
        assert dim.scale == pytest.approx(float(ax["scale"]))
        assert dim.offset == pytest.approx(float(ax.get("offset", 0.0)))
        if ax["units"]:
            assert dim.units.replace("nm^-1", "1/nm") == ax["units"].replace("nm^-1", "1/nm")


def test_mode_0_bytes_are_read_unsigned_like_the_reference(tmp_path):
    path = _write(tmp_path / "bytes.mrc", np.array([[-1, 5], [100, -128]], dtype=np.int8))
    ds = load(path)
    assert ds.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(ds), [[255, 5], [100, 128]])
    _assert_matches_reference(ds, _reference(path))


@pytest.mark.parametrize("voxel", [0.0, (0.0, 0.0, 5.0), (2.0, 3.0, 0.0)])
def test_zero_cell_lengths_calibrate_as_the_reference(tmp_path, voxel):
    path = _write(tmp_path / "cell.mrc", np.arange(60, dtype=np.float32).reshape(3, 4, 5), voxel=voxel)
    ds = load(path)
    vx, vy, vz = (voxel,) * 3 if np.isscalar(voxel) else voxel
    assert [d.scale for d in ds.dims] == pytest.approx([vz / 10 if vz else 1.0, vy / 10, vx / 10])
    _assert_matches_reference(ds, _reference(path))


@pytest.mark.parametrize("shape", [(1, 6), (1, 4, 6)])
def test_length_one_axes_are_dropped(tmp_path, shape):
    path = _write(tmp_path / "thin.mrc", np.arange(np.prod(shape), dtype=np.float32).reshape(shape), voxel=20.0)
    ds = load(path)
    assert ds.shape == tuple(n for n in shape if n != 1)
    assert ds.dims[-1].name == "x" and ds.dims[-1].scale == pytest.approx(2.0)
    _assert_matches_reference(ds, _reference(path))


def test_old_fei_extended_header_pixel_size_calibrates_the_image(tmp_path):
    ext = np.zeros(131072, dtype=np.uint8)
    ext.view("<f4")[11] = 2.5e-10  # pixel size (m) of the first record
    path = tmp_path / "fei.mrc"
    with mrcfile.new(path) as m:
        m.set_data(np.arange(30, dtype=np.float32).reshape(5, 6))
        m.voxel_size = 7.0
        m.set_extended_header(ext)
        m.header.exttyp = b"FEI1"  # the 128 kB layout decides, not the type label
    ds = load(path)
    assert [d.scale for d in ds.dims] == pytest.approx([0.25, 0.25])
    assert ds.original_metadata["fei_header"]["pixel_size"] == pytest.approx(2.5e-10)
    _assert_matches_reference(ds, _reference(path))


_DE_INFO = {"Camera Model": "DESim", "Frames Per Second": "700", "Autosave Movie Sum Count": "2",
            "Diffraction Pixel Size X": "0.1", "Diffraction Pixel Size Y": "0.1",
            "Instrument Project TEMorSTEM Mode": "-1", "Scan - Enable": "Enable", "Scan - Type": "Raster",
            "Scan - ROI Enable": "Disable", "Scan - Size X": "3", "Scan - Size Y": "2",
            "Scan - ROI Size X": "1", "Scan - ROI Size Y": "1", "Scan - Time (seconds)": "0.04",
            "Scan - Repeat Delay (seconds)": "3"}


def _de_movie(folder, frames, info):
    movie = folder / "20241021_00405_movie.mrc"
    with mrcfile.new(movie) as m:
        m.set_data(np.arange(frames * 4 * 5, dtype=np.uint16).reshape(frames, 4, 5))
        m.voxel_size = 3.0
    if info is not None:
        text = "".join(f"{key:<50}= {value}\n" for key, value in info.items())
        (folder / "20241021_00405_info.txt").write_text(text + "Not a pair line\n")
    return movie


@pytest.mark.parametrize("roi", [False, True])
def test_direct_electron_raster_scan_movie_with_info_file_is_4d_stem(tmp_path, roi):
    info = {**_DE_INFO, "Scan - ROI Enable": "Enable" if roi else "Disable"}
    movie = _de_movie(tmp_path, 6, info)
    ds = load(movie)
    scan = (1, 1) if roi else (2, 3)
    frames = np.arange(6 * 20, dtype=np.uint16).reshape(6, 4, 5)
    want = frames[: scan[0] * scan[1]].reshape(*scan, 4, 5).squeeze()
    np.testing.assert_array_equal(np.asarray(ds), want)
    assert ds.original_metadata["de_metadata"]["Camera Model"] == "DESim"
    if not roi:
        assert [d.name for d in ds.dims] == ["y", "x", "ky", "kx"]
        assert [d.units for d in ds.dims] == ["nm", "nm", "1/nm", "1/nm"]
        assert ds.data_type is DataType.IMAGE_4D
    _assert_matches_reference(ds, _reference(movie))


def test_direct_electron_tem_movie_has_a_time_axis_from_the_frame_rate(tmp_path):
    info = {"Frames Per Second": "100", "Autosave Movie Sum Count": "2", "Scan - Enable": "Disable",
            "Specimen Pixel Size X (nanometers)": "0.5", "Specimen Pixel Size Y (nanometers)": "0.5"}
    ds = load(_de_movie(tmp_path, 3, info))
    assert [d.name for d in ds.dims] == ["time", "y", "x"]
    assert [d.scale for d in ds.dims] == pytest.approx([0.005, 0.5, 0.5])
    assert ds.dims[0].dimension_type is DimensionType.TEMPORAL


def test_direct_electron_movie_without_info_file_is_a_plain_stack(tmp_path):
    movie = _de_movie(tmp_path, 6, None)
    ds = load(movie)
    assert ds.shape == (6, 4, 5) and "de_metadata" not in ds.original_metadata
    _assert_matches_reference(ds, _reference(movie))


def test_direct_electron_info_with_impossible_scan_size_falls_back_to_the_stack(tmp_path):
    movie = _de_movie(tmp_path, 6, {**_DE_INFO, "Scan - Size X": "1000000"})
    assert load(movie).shape == (6, 4, 5)
