"""TIFF reader: files written by tifffile (the format's library), including
FEI/Thermo SEM metadata and compressed, multi-page and RGB variants."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

tifffile = pytest.importorskip("tifffile")
pytest.importorskip("rsciio")

from sidkit.core import DataType, DimensionType, SidkitError, load, load_all
from sidkit.core.testing import real_fixtures
from sidkit.readers._em import apply_mapping
from sidkit.readers.tiff import TiffReader, _faster_mapping, is_tiff_header

REAL = {p.name: p for p, _ in real_fixtures(__file__, "tiff")}

FEI_TEXT = """[User]
Date=06/13/2016
Time=05:06:40 PM
[System]
SystemType=Helios NanoLab 660
[Beam]
HV=5000
BeamCurrent=6.25e-12
[Scan]
PixelWidth=2e-09
PixelHeight=2e-09
Dwelltime=1e-05
HorFieldsize=1.024e-06
[EBeam]
HV=5000
BeamCurrent=6.25e-12
[Detectors]
Name=TLD
Number=1
[Stage]
StageX=0
StageY=0
StageZ=0
StageR=0
StageT=0
"""


def test_sniff_accepts_classic_and_bigtiff_signatures():
    for head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        assert is_tiff_header(head + bytes(8))
    assert not TiffReader().sniff(b"\x89PNG\r\n\x1a\n")
    assert not TiffReader().sniff(b"")


def test_plain_image_is_read_uncalibrated_and_memory_mapped(tmp_path):
    img = np.arange(30 * 40, dtype=np.uint16).reshape(30, 40)
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, img)
    ds = load(path)
    assert ds.data_type is DataType.IMAGE
    np.testing.assert_array_equal(np.asarray(ds), img)
    assert [d.dimension_type for d in ds.dims] == [DimensionType.SPATIAL] * 2
    assert pickle.loads(pickle.dumps(ds.data))[3:5].compute().tolist() == img[3:5].tolist()


def test_compressed_multi_page_stack_is_decoded_page_by_page(tmp_path):
    stack = np.random.default_rng(2).integers(0, 1000, (4, 16, 24)).astype(np.uint16)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, compression="zlib", photometric="minisblack")
    ds = load(path)
    assert ds.shape == (4, 16, 24)
    assert ds.data.numblocks[0] == 4  # one chunk per page
    np.testing.assert_array_equal(np.asarray(ds), stack)


def test_big_endian_tiff_values(tmp_path):
    img = np.arange(64, dtype=np.float32).reshape(8, 8)
    path = tmp_path / "be.tif"
    tifffile.imwrite(path, img, byteorder=">")
    np.testing.assert_array_equal(np.asarray(load(path)), img)


def test_rgb_image_has_trailing_channel_dim(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 255, (10, 12, 3)).astype(np.uint8)
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    ds = load(path)
    assert ds.shape == (10, 12, 3)
    assert ds.dims[-1].dimension_type is DimensionType.CHANNEL
    np.testing.assert_array_equal(np.asarray(ds), rgb)


def test_fei_metadata_calibrates_and_normalises(tmp_path):
    img = np.zeros((16, 16), dtype=np.uint8)
    path = tmp_path / "fei.tif"
    tifffile.imwrite(path, img, extratags=[(34682, "s", 0, FEI_TEXT, True)])
    ds = load(path)
    assert all(d.units == "m" and d.scale == pytest.approx(2e-9) for d in ds.dims)
    md = ds.metadata
    assert md["beam"]["energy_eV"] == pytest.approx(5000.0)
    assert md["acquisition"]["dwell_time_s"] == pytest.approx(1e-5)
    assert md["instrument"]["model"] == "Helios NanoLab 660"
    assert md["acquisition"]["datetime"].startswith("2016-06-13T17:06:40")
    assert ds.original_metadata["fei_metadata"]["Beam"]["HV"] == 5000


def test_zeiss_and_fei_mappings_give_rosettasciio_values_without_pint_or_dateutil():
    api = pytest.importorskip("rsciio.tiff._api")
    zeiss = {"CZ_SEM": {"ap_stage_at_x": ("Stage at X", 75.6442, "mm"), "ap_wd": ("WD", 14.808, "mm"),
                        "dp_dwell_time": ("Dwell Time", 50, "ns"), "ap_iprobe": ("I Probe", 100.0, "pA"),
                        "ap_stage_at_z": ("Stage at Z", 3.0, "µm"), "ap_stage_at_y": ("Stage at Y", 1.0, "in"),
                        "ap_date": ("Date", "23 Dec 2015"), "ap_time": ("Time", "9:40:32"),
                        "ap_actualkv": ("EHT", 25.0, "kV"), "ap_mag": ("Mag", "50.00 K X")}}
    fei = {"fei_metadata": {"User": {"Date": "06/13/2016", "Time": "05:06:40 PM"}, "Beam": {"HV": 5000}}}
    for original, mapping in ((zeiss, api.mapping_cz_sem), (fei, api.mapping_fei)):
        faster = _faster_mapping(mapping)
        assert faster is not mapping
        assert apply_mapping({}, original, faster) == apply_mapping({}, original, mapping)
    # "in" is not an SI unit: that value went to RosettaSciIO's own (pint) conversion
    assert apply_mapping({}, zeiss, _faster_mapping(api.mapping_cz_sem))[
        "Acquisition_instrument"]["SEM"]["Stage"]["y"] == pytest.approx(25.4)


@pytest.mark.skipif("test_tiff_Zeiss_SEM_1k.tif" not in REAL, reason="TIFF fixtures absent")
def test_zeiss_metadata_is_normalised():
    md = load(REAL["test_tiff_Zeiss_SEM_1k.tif"]).metadata
    assert md["beam"]["energy_eV"] == pytest.approx(25e3)
    assert md["acquisition"]["detector"] == "HE-SE2"
    assert md["instrument"]["vendor"] == "Zeiss"


@pytest.mark.skipif("JEOL-SightX-TEM-mag-dummy.tif" not in REAL, reason="TIFF fixtures absent")
def test_jeol_title_and_magnification():
    ds = load(REAL["JEOL-SightX-TEM-mag-dummy.tif"])
    assert ds.title.startswith("TEM, BrightField")
    assert ds.metadata["optics"]["magnification"] == pytest.approx(150000)


def test_truncated_tiff_raises_sidkit_error_naming_file(tmp_path):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, np.zeros((64, 64), dtype=np.uint16))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SidkitError, match="cut.tif"):
        for ds in load_all(path).values():
            ds.compute()


def _variants(tmp_path):
    rng = np.random.default_rng(8)
    p = tmp_path / "imagej.tif"
    tifffile.imwrite(p, rng.integers(0, 100, (3, 8, 10)).astype(np.uint16), imagej=True,
                     resolution=(1 / 0.25, 1 / 0.25), metadata={"spacing": 2.0, "unit": "um", "axes": "ZYX"})
    yield p
    p = tmp_path / "fei.tif"
    tifffile.imwrite(p, rng.integers(0, 255, (12, 16)).astype(np.uint8), extratags=[(34682, "s", 0, FEI_TEXT, True)])
    yield p
    p = tmp_path / "rgb.tif"
    tifffile.imwrite(p, rng.integers(0, 255, (6, 7, 3)).astype(np.uint8), photometric="rgb")
    yield p
    p = tmp_path / "pages.tif"
    tifffile.imwrite(p, rng.integers(0, 255, (2, 5, 6)).astype(np.uint8), photometric="minisblack")
    yield p


def test_data_and_axes_match_the_reference_reader(tmp_path):
    from rsciio import tiff as ref_tiff

    for path in _variants(tmp_path):
        ours = next(iter(load_all(path).values()))
        ref = ref_tiff.file_reader(str(path), lazy=False)[0]
        data = ref["data"]
        if data.dtype.names:  # RosettaSciIO's structured RGB
            data = np.stack([data[n] for n in data.dtype.names], axis=-1)
        np.testing.assert_array_equal(np.asarray(ours), data, err_msg=path.name)
        for dim, ax in zip(ours.dims, ref["axes"]):
            assert dim.scale == pytest.approx(float(ax.get("scale", 1.0))), (path.name, ax)
            assert dim.offset == pytest.approx(float(ax.get("offset", 0.0))), (path.name, ax)
            if ax.get("units"):
                assert dim.units.replace("µ", "u") == str(ax["units"]).replace("µ", "u"), (path.name, ax)


def test_images_above_the_small_file_threshold_stay_memory_mapped(tmp_path, monkeypatch):
    import sidkit.readers.tiff as tiff

    img = np.arange(30 * 40, dtype=np.uint16).reshape(30, 40)
    rgb = np.arange(20 * 10 * 3, dtype=np.uint8).reshape(20, 10, 3)
    tifffile.imwrite(tmp_path / "grey.tif", img)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    for name, values in (("grey.tif", img), ("rgb.tif", rgb)):
        small = load(tmp_path / name)
        with monkeypatch.context() as m:
            m.setattr(tiff, "SMALL_ARRAY_BYTES", 0)  # every image counts as large
            lazy = load(tmp_path / name)
        assert values.tobytes() not in pickle.dumps(lazy.data), name
        np.testing.assert_array_equal(np.asarray(small), values, err_msg=name)
        np.testing.assert_array_equal(np.asarray(lazy), values, err_msg=name)
        assert small.dims == lazy.dims and small.metadata == lazy.metadata, name
        assert small.original_metadata == lazy.original_metadata, name


def _reference_expected(path):
    """What RosettaSciIO's TIFF reader returns, as a sidkit-real-expected dict
    (structured RGB as a trailing channel axis)."""
    from rsciio import tiff as ref_tiff

    datasets = []
    for i, sig in enumerate(ref_tiff.file_reader(str(path), lazy=False)):
        data = sig["data"]
        if data.dtype.names:
            data = np.stack([data[n] for n in data.dtype.names], axis=-1)
        axes = [{"name": a.get("name"), "scale": a.get("scale"), "offset": a.get("offset"),
                 "units": a.get("units")} for a in sig["axes"]]
        v = data.astype(np.float64)
        datasets.append({"index": i, "shape": list(data.shape), "dtype": data.dtype.name, "axes": axes,
                         "checksums": {"sum": float(v.sum()), "min": float(v.min()), "max": float(v.max())}})
    return {"datasets": datasets}


def _hamamatsu_streak(path, data, xaxis, yaxis):
    """A Hamamatsu HPD-TA streak image: axis values as float32 arrays at the
    file offsets its ImageDescription names."""
    def write(x_at, y_at):
        desc = ('[Application],Date="01/02/2020",Time="10:11:12",Software="HPD-TA"\r\n'
                f'[Scaling],ScalingXUnit="nm",ScalingXScalingFile="#{x_at},{len(xaxis) * 4:04d}",'
                f'ScalingYUnit="ns",ScalingYScalingFile="#{y_at},{len(yaxis) * 4:04d}"\r\n')
        tifffile.imwrite(path, data, description=desc, metadata=None, software="HPD-TA 9.5",
                         extratags=[(315, "s", 0, "Copyright Hamamatsu, 2020", True)])

    write(10**6, 10**6)
    x_at = path.stat().st_size + 16
    write(x_at, x_at + 4 * len(xaxis))
    raw = path.read_bytes().ljust(x_at, b"\0")
    path.write_bytes(raw + np.asarray(xaxis, "<f4").tobytes() + np.asarray(yaxis, "<f4").tobytes())


def _reference_variants(tmp_path):
    rng = np.random.default_rng(21)
    p = tmp_path / "dm_tags.tif"
    tifffile.imwrite(p, rng.standard_normal((2, 6, 7)).astype(np.float32), photometric="minisblack",
                     extratags=[(65003, "s", 3, "µm".encode("latin-1"), False), (65004, "s", 3, b"nm", False),
                                (65005, "s", 2, b"s", False), (65006, "d", 1, 139.66, False),
                                (65007, "d", 1, 128.2, False), (65009, "d", 1, 0.16867, False),
                                (65010, "d", 1, 0.2, False), (65011, "d", 1, 2.5, False)])
    yield p
    p = tmp_path / "several_series.tif"
    with tifffile.TiffWriter(p) as tw:
        tw.write(rng.integers(0, 255, (8, 9)).astype(np.uint8))
        tw.write(rng.integers(0, 999, (4, 5)).astype(np.uint16))
        tw.write(rng.integers(0, 255, (6, 5, 3)).astype(np.uint8), photometric="rgb")
    yield p
    p = tmp_path / "tiled_zlib_bigtiff_be.tif"
    tifffile.imwrite(p, rng.standard_normal((40, 50)).astype(np.float32), tile=(16, 16), compression="zlib",
                     bigtiff=True, byteorder=">")
    yield p
    p = tmp_path / "ij_hyperstack.tif"
    tifffile.imwrite(p, rng.integers(0, 99, (2, 3, 2, 6, 7)).astype(np.uint16), imagej=True, resolution=(2.0, 2.0),
                     metadata={"spacing": 0.5, "unit": "micron", "axes": "TZCYX", "finterval": 0.1})
    yield p
    p = tmp_path / "rgba16.tif"
    tifffile.imwrite(p, rng.integers(0, 65535, (6, 7, 4)).astype(np.uint16), photometric="rgb")
    yield p
    p = tmp_path / "streak.tif"
    _hamamatsu_streak(p, rng.integers(0, 4000, (12, 16)).astype(np.uint16), np.linspace(500, 600, 16),
                      np.linspace(0, 1, 12) ** 1.2 * 100)
    yield p


@pytest.mark.filterwarnings("ignore:.*streak contain a non linear axis:UserWarning")
def test_vendor_and_layout_variants_match_the_reference_reader(tmp_path):
    from sidkit.core.testing import match_real_expected

    for path in _reference_variants(tmp_path):
        problems = match_real_expected(load_all(path), _reference_expected(path))
        assert not any(problems.values()), (path.name, problems)


def test_lzw_compressed_pages_are_decoded(tmp_path):
    pytest.importorskip("imagecodecs")
    rng = np.random.default_rng(22)
    grey = rng.integers(0, 65535, (5, 10, 12)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "stack_lzw.tif", grey, photometric="minisblack", compression="lzw")
    np.testing.assert_array_equal(np.asarray(load(tmp_path / "stack_lzw.tif")), grey)
    rgb = rng.integers(0, 255, (16, 16, 3)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "rgb_lzw.tif", rgb, photometric="rgb", compression="lzw")
    np.testing.assert_array_equal(np.asarray(load(tmp_path / "rgb_lzw.tif")), rgb)


def test_page_without_its_codec_raises_missing_dependency_naming_file(tmp_path, monkeypatch):
    from sidkit.core import MissingDependencyError

    pytest.importorskip("imagecodecs")
    stack = np.zeros((5, 10, 12), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "stack_lzw.tif", stack, photometric="minisblack", compression="lzw")
    tifffile.imwrite(tmp_path / "one_lzw.tif", stack[0], photometric="minisblack", compression="lzw")
    decode = tifffile.TiffPage.asarray

    def without_imagecodecs(self, *args, **kwargs):  # tifffile's failure when imagecodecs is missing
        if self.compression != 1:
            raise ValueError(f"<COMPRESSION.{self.compression.name}> requires the 'imagecodecs' package")
        return decode(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffPage, "asarray", without_imagecodecs)
    with pytest.raises(MissingDependencyError, match=r"stack_lzw\.tif.*imagecodecs"):
        np.asarray(load(tmp_path / "stack_lzw.tif"))
    with pytest.raises(MissingDependencyError, match=r"one_lzw\.tif.*imagecodecs"):
        load(tmp_path / "one_lzw.tif")


def _jeol_sightx_description(mode: str, selector: str, unit: str) -> str:
    return ('<?xml version="1.0"?>\r\n<TemReporter>\r\n'
            '  <Eos><EosMode>eosTEM</EosMode></Eos>\r\n'
            '  <ElectronGun><AccelerationVoltage>200000</AccelerationVoltage></ElectronGun>\r\n'
            '  <IlluminationSystem><ImageField>modeBrightField</ImageField></IlluminationSystem>\r\n'
            f'  <ImageFormingSystem><ImageFormingMode>mode{mode}1</ImageFormingMode><ModeString>{mode}</ModeString>'
            f'<SelectorValue>{selector}</SelectorValue><SelectorString>{selector}{unit}</SelectorString>'
            f'<SelectorUnitString>{unit}</SelectorUnitString>'
            '<ScanningImageFormingMode>modeSM_MAG</ScanningImageFormingMode></ImageFormingSystem>\r\n'
            '</TemReporter>\r\n')


def test_jeol_sightx_diffraction_pattern_has_reciprocal_dims_as_the_reference(tmp_path):
    from sidkit.core.testing import match_real_expected

    path = tmp_path / "saed.tif"
    tifffile.imwrite(path, np.random.default_rng(23).integers(0, 999, (16, 16)).astype(np.uint16),
                     description=_jeol_sightx_description("DIFF", "40", "cm"), metadata=None,
                     resolution=(93, 93), resolutionunit=2, extratags=[(271, "s", 0, "JEOL Ltd.", True)])
    ds = load(path)
    assert [d.dimension_type for d in ds.dims] == [DimensionType.RECIPROCAL] * 2
    assert ds.dims[0].units.replace(" ", "") == "1/nm"
    problems = match_real_expected(load_all(path), _reference_expected(path))
    assert not any(problems.values()), problems
