"""Velox EMD reader: real Velox files where present, and minimal Velox files
written with h5py after the layout Velox uses (``/Version`` JSON,
``/Data/Image/<uuid>/Data`` as (y, x, frames), per-frame JSON ``Metadata``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
pytest.importorskip("rsciio")

from sidkit.core import DataType, DimensionType, SidkitError, load, load_all
from sidkit.core.testing import real_fixtures
from sidkit.readers.velox import VeloxReader, is_velox

REAL = {p.name: p for p, _ in real_fixtures(__file__, "velox-emd")}


def _velox(path, frames: np.ndarray, *, detector="HAADF", pixel=2e-9, frame_time=0.5, chunked=True):
    """A Velox file holding one image (or stack) ``frames`` of shape (n, y, x),
    stored one HDF5 chunk per frame, as Velox does, or contiguously."""
    md = {
        "Core": {"MetadataDefinitionVersion": "7.9", "MetadataSchemaVersion": "v1/2013/07"},
        "Instrument": {"Manufacturer": "FEI Company", "InstrumentClass": "Talos", "InstrumentId": "1"},
        "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1488794201"}},
        "Optics": {"AccelerationVoltage": "200000", "CameraLength": "0.098"},
        "Stage": {"AlphaTilt": "0", "BetaTilt": "0", "Position": {"x": "0", "y": "0", "z": "0"}},
        "Scan": {"DwellTime": "2e-06", "FrameTime": str(frame_time)},
        "Detectors": {"Detector-0": {"DetectorName": detector, "DetectorType": "ScanningDetector"}},
        "BinaryResult": {"Detector": detector, "DetectorIndex": "0",
                         "PixelSize": {"width": str(pixel), "height": str(pixel)},
                         "PixelUnitX": "m", "PixelUnitY": "m",
                         "Offset": {"x": "0", "y": "0"}},
    }
    raw = np.frombuffer(json.dumps(md).encode(), dtype=np.uint8)
    with h5py.File(path, "w") as fh:
        fh.create_dataset("Version", data=np.array([json.dumps({"version": "4", "format": "Velox"}).encode()], dtype=object),
                          dtype=h5py.string_dtype())
        grp = fh.create_group("Data/Image/0123456789abcdef")
        grp.create_dataset("Data", data=np.moveaxis(frames, 0, -1),
                           chunks=(frames.shape[1], frames.shape[2], 1) if chunked else None)
        meta = np.zeros((len(raw) + 16, frames.shape[0]), dtype=np.uint8)
        meta[: len(raw), :] = raw[:, None]
        grp.create_dataset("Metadata", data=meta)
    return path


def test_claims_velox_by_content_not_berkeley(tmp_path):
    velox = _velox(tmp_path / "v.emd", np.zeros((1, 4, 4), dtype=np.uint16))
    berkeley = tmp_path / "b.emd"
    with h5py.File(berkeley, "w") as fh:
        g = fh.create_group("data/x")
        g.attrs["emd_group_type"] = 1
        g.create_dataset("data", data=np.zeros((2, 2)))
    head = velox.read_bytes()[:4096]
    assert VeloxReader().claims(velox, head)
    assert not VeloxReader().claims(berkeley, berkeley.read_bytes()[:4096])
    assert is_velox(velox) and not is_velox(berkeley)


@pytest.mark.parametrize("version", [
    np.array([b'{"version": "4", "format": "Velox"}']),  # fixed-length bytes, not h5py's vlen string
    np.array(['{"version": "4", "format": "Other"}'], dtype=h5py.string_dtype()),
    np.array([1, 2, 3]),
    np.array(b'{"format": "Velox"}'),  # scalar: RosettaSciIO reads Version[0]
])
def test_any_kind_of_version_dataset_is_checked_without_crashing(tmp_path, version):
    path = _velox(tmp_path / "v.emd", np.zeros((1, 4, 4), dtype=np.uint16))
    with h5py.File(path, "a") as fh:
        del fh["Version"]
        fh["Version"] = version
    assert is_velox(path) is (version.ndim == 1 and version.dtype.kind == "S")


def test_synthetic_image_values_calibration_and_metadata(tmp_path):
    img = np.arange(6 * 8, dtype=np.uint16).reshape(1, 6, 8)
    ds = load(_velox(tmp_path / "img.emd", img))
    assert ds.shape == (6, 8)
    np.testing.assert_array_equal(np.asarray(ds), img[0])
    assert ds.data_type is DataType.IMAGE
    y, x = ds.dims
    assert y.dimension_type is DimensionType.SPATIAL
    assert x.units == "nm" and x.scale == pytest.approx(2.0)
    assert ds.metadata["beam"]["energy_eV"] == pytest.approx(200e3)
    assert ds.metadata["acquisition"]["detector"] == "HAADF"
    assert ds.metadata["acquisition"]["datetime"].startswith("2017-03-06T09:56:41")
    assert ds.metadata["instrument"]["model"] == "Talos"
    assert ds.original_metadata["BinaryResult"]["Detector"] == "HAADF"


def test_synthetic_stack_has_temporal_frame_axis(tmp_path):
    stack = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    ds = load(_velox(tmp_path / "stack.emd", stack, frame_time=0.5))
    assert ds.shape == (3, 4, 5)
    assert ds.data_type is DataType.IMAGE_STACK
    assert ds.dims[0].dimension_type is DimensionType.TEMPORAL
    np.testing.assert_array_equal(np.asarray(ds), stack)


def test_damaged_hdf5_raises_sidkit_error_naming_file(tmp_path):
    path = _velox(tmp_path / "bad.emd", np.zeros((1, 64, 64), dtype=np.uint16))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(SidkitError, match="bad.emd"):
        for ds in load_all(path, reader="velox").values():
            ds.compute()


@pytest.mark.skipif("STEM_HAADF-DF4-DF2-BF_Diffraction_Micro.emd" not in REAL, reason="Velox fixtures absent")
def test_multi_detector_file_returns_every_detector_in_file_order():
    out = load_all(REAL["STEM_HAADF-DF4-DF2-BF_Diffraction_Micro.emd"])
    assert list(out)[:4] == ["HAADF", "DF2", "BF", "DF4"]
    assert {ds.metadata["acquisition"]["detector"] for ds in out.values()} >= {"HAADF", "DF2", "BF", "DF4"}


@pytest.mark.skipif("Camera_Ceta_Diffraction_Micro.emd" not in REAL, reason="Velox fixtures absent")
def test_diffraction_pattern_has_reciprocal_dims():
    ds = load(REAL["Camera_Ceta_Diffraction_Micro.emd"])
    assert all(d.dimension_type is DimensionType.RECIPROCAL for d in ds.dims)
    assert ds.metadata["optics"]["camera_length_m"] == pytest.approx(0.378)


def test_spectrum_stream_without_sparse_names_the_extra(tmp_path):
    from sidkit.core import MissingDependencyError, module_available

    if module_available("sparse"):
        pytest.skip("sparse is installed; the stream is decoded")
    path = _velox(tmp_path / "si.emd", np.zeros((1, 4, 4), dtype=np.uint16))
    with h5py.File(path, "a") as fh:
        fh.create_dataset("Data/SpectrumStream/00ff/Data", data=np.zeros((10, 1), dtype=np.uint16))
    with pytest.raises(MissingDependencyError, match=r"velox-eds"):
        load(path)
    images = load_all(path, select_type="images")
    assert next(iter(images.values())).shape == (4, 4)


def test_lazy_images_pickle_by_path_and_file_is_not_held_open(tmp_path):
    import pickle

    stack = np.arange(2 * 5 * 6, dtype=np.uint16).reshape(2, 5, 6)
    path = _velox(tmp_path / "p.emd", stack)
    ds = load(path)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ds.data)).compute(), stack)
    with h5py.File(path, "r", locking=False) as fh:  # no handle with other locking flags left open
        assert "Data" in fh
    assert load(path).shape == stack.shape  # reading twice works


def test_images_above_the_small_file_threshold_stay_lazy_and_pickle_by_path(tmp_path, monkeypatch):
    import pickle

    import sidkit.readers.velox as velox

    monkeypatch.setattr(velox, "SMALL_TOTAL_BYTES", 0)  # every file counts as large
    stack = np.arange(2 * 5 * 6, dtype=np.uint16).reshape(2, 5, 6)
    path = _velox(tmp_path / "big.emd", stack)
    ds = load(path)
    assert "H5ArrayProxy" in repr(dict(ds.data.__dask_graph__()))  # read on demand, from the path
    blob = pickle.dumps(ds.data)
    assert stack.tobytes() not in blob
    np.testing.assert_array_equal(pickle.loads(blob).compute(), stack)
    np.testing.assert_array_equal(np.asarray(ds), stack)
    np.testing.assert_array_equal(ds.data[1, 2:4, ::2].compute(), stack[1, 2:4, ::2])
    with h5py.File(path, "r", locking=False) as fh:  # no handle with other locking flags left open
        assert "Data" in fh
    image = _velox(tmp_path / "one.emd", stack[:1])
    one = load(image)
    assert one.shape == (5, 6)
    np.testing.assert_array_equal(np.asarray(one), stack[0])
    np.testing.assert_array_equal(one.data[1:3].compute(), stack[0, 1:3])


def test_small_file_of_images_is_read_in_one_pass_with_the_same_result(tmp_path, monkeypatch):
    import sidkit.readers.velox as velox

    stack = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    path = _velox(tmp_path / "small.emd", stack)
    small = load(path)
    monkeypatch.setattr(velox, "SMALL_TOTAL_BYTES", 0)
    large = load(path)
    np.testing.assert_array_equal(np.asarray(small), np.asarray(large))
    assert small.dims == large.dims and small.metadata == large.metadata
    assert small.original_metadata == large.original_metadata


def _spectrum_file(path, counts: np.ndarray, *, chunked=True):
    """A Velox file holding one EDS spectrum (``/Data/Spectrum/<uuid>``, stored
    (channels, 1)) with a 10 eV/channel calibration and no image
    (RosettaSciIO reads ``/Data/Spectrum`` only in files without images)."""
    md = {"Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1488794201"}},
          "Detectors": {"Detector-0": {"DetectorName": "SuperXG1", "DetectorType": "AnalyticalDetector",
                                       "Dispersion": "10", "OffsetEnergy": "-200"}},
          "BinaryResult": {"Detector": "SuperXG1", "DetectorIndex": "0"}}
    raw = np.frombuffer(json.dumps(md).encode(), dtype=np.uint8)
    _velox(path, np.ones((1, 4, 4), dtype=np.uint16))
    with h5py.File(path, "a") as fh:
        del fh["Data/Image"]
        grp = fh.create_group("Data/Spectrum/fedcba9876543210")
        grp.create_dataset("Data", data=counts[:, None], chunks=(len(counts), 1) if chunked else None)
        grp.create_dataset("Metadata", data=np.concatenate([raw, np.zeros(16, np.uint8)])[:, None])
    return path


@pytest.mark.parametrize("chunked", [True, False])
def test_spectrum_stored_with_or_without_chunks_matches_the_reference_reader(tmp_path, chunked):
    from rsciio import emd as ref_emd

    counts = np.arange(64, dtype=np.int32) % 7
    path = _spectrum_file(tmp_path / "sp.emd", counts, chunked=chunked)
    spectrum = load(path)
    assert spectrum.shape == (64,)
    np.testing.assert_array_equal(np.asarray(spectrum), counts)
    ref = ref_emd.file_reader(str(path), lazy=False)[0]
    energy = spectrum.dims[0]
    assert energy.units == "keV" and energy.scale == pytest.approx(ref["axes"][-1]["scale"])
    assert energy.offset == pytest.approx(-0.2)


def test_contiguous_image_stack_above_the_small_file_threshold_is_read(tmp_path, monkeypatch):
    import sidkit.readers.velox as velox

    monkeypatch.setattr(velox, "SMALL_TOTAL_BYTES", 0)  # every file counts as large
    stack = np.arange(3 * 5 * 6, dtype=np.float32).reshape(3, 5, 6)
    ds = load(_velox(tmp_path / "contig.emd", stack, chunked=False))
    assert ds.shape == (3, 5, 6)
    np.testing.assert_array_equal(np.asarray(ds), stack)
