"""Gatan DM3/DM4 reader: files built byte by byte from the DM specification.

The builder below writes the DigitalMicrograph tag tree (header, tag groups,
``%%%%`` data tags with their info arrays) for DM3 and DM4, little- and
big-endian, with one or several images, so the variants without a real
fixture (DM4, big-endian, several images, spectrum images) are checked.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

pytest.importorskip("rsciio")

from sidkit.core import CorruptFileError, DataType, DimensionType, SidkitError, load, load_all
from sidkit.readers.dm import DMReader, dm_version

# --------------------------------------------------------------------------- builder
_SIMPLE = {np.dtype("int16"): 2, np.dtype("int32"): 3, np.dtype("uint16"): 4, np.dtype("uint32"): 5,
           np.dtype("float32"): 6, np.dtype("float64"): 7, np.dtype("uint8"): 10, np.dtype("int8"): 10}
_IMAGE_TYPES = {np.dtype("int16"): 1, np.dtype("float32"): 2, np.dtype("uint8"): 6, np.dtype("int32"): 7,
                np.dtype("uint16"): 10, np.dtype("uint32"): 11, np.dtype("float64"): 12}


class _DMWriter:
    def __init__(self, version: int, little: bool) -> None:
        self.v = version
        self.e = "<" if little else ">"

    def _q(self, n: int) -> bytes:  # lengths/counts are big-endian, 4 or 8 bytes
        return struct.pack(">q" if self.v == 4 else ">i", n)

    def _data(self, value) -> bytes:
        e = self.e
        if isinstance(value, bool):
            return b"%%%%" + self._q(1) + self._q(8) + struct.pack(e + "?", value)
        if isinstance(value, int):
            return b"%%%%" + self._q(1) + self._q(3) + struct.pack(e + "i", value)
        if isinstance(value, float):
            return b"%%%%" + self._q(1) + self._q(7) + struct.pack(e + "d", value)
        if isinstance(value, str):  # DM stores text as an array of uint16
            chars = np.frombuffer(value.encode("utf-16-le"), dtype="<u2").astype(e + "u2")
            return b"%%%%" + self._q(3) + self._q(20) + self._q(4) + self._q(len(chars)) + chars.tobytes()
        arr = np.asarray(value)
        code = _SIMPLE[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder(e)).tobytes()
        return b"%%%%" + self._q(3) + self._q(20) + self._q(code) + self._q(arr.size) + raw

    def _entry(self, name: str, value) -> bytes:
        label = name.encode("latin-1")
        if isinstance(value, (dict, list)):
            body = self._group(value)
            kind = 20
        else:
            body = self._data(value)
            kind = 21
        head = bytes([kind]) + struct.pack(">H", len(label)) + label
        if self.v == 4:
            head += struct.pack(">q", len(body))
        return head + body

    def _group(self, value) -> bytes:
        items = list(value.items()) if isinstance(value, dict) else [("", v) for v in value]
        body = b"".join(self._entry(k, v) for k, v in items)
        return bytes([0, 1]) + self._q(len(items)) + body

    def file(self, root: dict) -> bytes:
        tree = self._group(root)
        size = len(tree) + 8
        if self.v == 4:
            head = struct.pack(">i", 4) + struct.pack(">q", size) + struct.pack(">i", 1 if self.e == "<" else 0)
        else:
            head = struct.pack(">i", 3) + struct.pack(">i", size) + struct.pack(">i", 1 if self.e == "<" else 0)
        return head + tree + b"\x00" * 8


def _image(data: np.ndarray, name: str, cal: list[tuple[float, float, str]], tags: dict | None = None,
           data_type: int | None = None) -> dict:
    """One ImageList entry; ``cal`` is (origin, scale, units) per array axis (C order);
    ``data_type`` overrides the DM data type of ``data``'s dtype."""
    dims = [{"Origin": o, "Scale": s, "Units": u} for o, s, u in cal[::-1]]  # DM lists x first
    return {
        "ImageData": {
            "Calibrations": {"Brightness": {"Origin": 0.0, "Scale": 1.0, "Units": "Counts"},
                             "Dimension": dims, "DisplayCalibratedUnits": True},
            "Data": data.ravel(),
            "DataType": data_type or _IMAGE_TYPES[data.dtype],
            "Dimensions": [int(n) for n in data.shape[::-1]],
            "PixelDepth": data.dtype.itemsize,
        },
        "ImageTags": tags or {},
        "Name": name,
        "UniqueID": {"0": 1, "1": 2, "2": 3, "3": 4},
    }


def _dm_file(tmp_path, images, *, version=3, little=True, thumbnail=True, name="test"):
    thumb = np.zeros((4, 4), dtype=np.uint8)
    entries = ([_image(thumb, "thumb", [(0.0, 1.0, ""), (0.0, 1.0, "")])] if thumbnail else []) + list(images)
    root = {"ImageList": entries,
            "Thumbnails": [{"ImageIndex": 0, "SourceSize_Pixels": [4, 4]}] if thumbnail else []}
    path = tmp_path / f"{name}.dm{version}"
    path.write_bytes(_DMWriter(version, little).file(root))
    return path


_TAGS = {
    "Microscope Info": {"Voltage": 200000.0, "Indicated Magnification": 250000.0,
                        "Illumination Mode": "STEM", "STEM Camera Length": 100.0},
    "DataBar": {"Acquisition Date": "14/12/2019", "Acquisition Time": "15:14:24"},
    "DigiScan": {"Sample Time": 4.0},
}


# --------------------------------------------------------------------------- sniff
@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("little", [True, False])
def test_sniff_accepts_dm_headers_of_both_versions_and_byte_orders(tmp_path, version, little):
    img = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = _dm_file(tmp_path, [_image(img, "a", [(0.0, 1.0, "nm")] * 2)], version=version, little=little)
    head = path.read_bytes()[:4096]
    assert dm_version(head) == version
    assert DMReader().sniff(head)


@pytest.mark.parametrize("head", [b"", b"\x00\x00\x00\x03", b"II*\x00" + bytes(60), b"\x00\x00\x00\x05" + bytes(60),
                                  b"\x00\x00\x00\x03" + bytes(4) + b"\x00\x00\x00\x07" + bytes(8)])
def test_sniff_rejects_short_and_foreign_bytes(head):
    assert not DMReader().sniff(head)


# --------------------------------------------------------------------------- images
@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("little", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "uint16", "int32"])
def test_image_values_and_calibration_round_trip(tmp_path, version, little, dtype):
    img = (np.arange(6 * 5).reshape(6, 5) * 3).astype(dtype)
    cal = [(2.0, 0.5, "nm"), (-4.0, 0.25, "nm")]  # origin is in pixels: offset = -origin*scale
    path = _dm_file(tmp_path, [_image(img, "HAADF", cal, _TAGS)], version=version, little=little)
    ds = load(path)
    assert ds.shape == (6, 5)
    assert ds.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(ds), img)
    y, x = ds.dims
    assert (y.name, x.name) == ("y", "x")
    assert y.dimension_type is DimensionType.SPATIAL and x.units == "nm"
    assert y.scale == pytest.approx(0.5) and y.offset == pytest.approx(-1.0)
    assert x.scale == pytest.approx(0.25) and x.offset == pytest.approx(1.0)
    assert ds.data_type is DataType.IMAGE
    assert ds.title == "HAADF"


def test_normalised_metadata_from_microscope_tags(tmp_path):
    img = np.ones((4, 4), dtype=np.float32)
    path = _dm_file(tmp_path, [_image(img, "img", [(0.0, 0.1, "nm")] * 2, _TAGS)])
    md = load(path).metadata
    assert md["beam"]["energy_eV"] == pytest.approx(200e3)
    assert md["optics"]["magnification"] == pytest.approx(250000.0)
    assert md["optics"]["camera_length_m"] == pytest.approx(0.1)
    assert md["optics"]["mode"] == "STEM"
    assert md["acquisition"]["dwell_time_s"] == pytest.approx(4e-6)
    assert md["acquisition"]["datetime"].startswith("2019-12-14T15:14:24")
    assert md["calibration"]["pixel_units"] == ["nm", "nm"]
    assert md["instrument"]["vendor"] == "Gatan"


def test_original_metadata_keeps_the_tag_tree_as_plain_python(tmp_path):
    img = np.ones((4, 4), dtype=np.float32)
    path = _dm_file(tmp_path, [_image(img, "img", [(0.0, 0.1, "nm")] * 2, _TAGS)])
    om = load(path).original_metadata
    tags = om["ImageList"]["TagGroup0"]["ImageTags"]
    assert tags["Microscope Info"]["Voltage"] == 200000.0
    import json

    json.dumps(om)  # JSON-like all the way down


def test_several_images_in_one_file_are_all_returned_without_thumbnail(tmp_path):
    a = np.full((3, 4), 1, dtype=np.uint16)
    b = np.arange(10, dtype=np.float32)
    path = _dm_file(tmp_path, [_image(a, "first", [(0.0, 1.0, "nm")] * 2),
                               _image(b, "second", [(0.0, 0.5, "eV")])], version=4)
    out = load_all(path)
    assert list(out) == ["first", "second"]
    assert out["first"].shape == (3, 4)
    assert out["second"].data_type is DataType.SPECTRUM
    np.testing.assert_array_equal(np.asarray(out["second"]), b)


def test_spectrum_image_puts_energy_last_and_is_spectral_image(tmp_path):
    si = np.arange(3 * 4 * 8, dtype=np.float32).reshape(8, 3, 4)  # DM: energy slowest here
    tags = {"Meta Data": {"Format": "Spectrum image", "Signal": "EELS"}}
    path = _dm_file(tmp_path, [_image(si, "SI", [(-700.0, 0.5, "eV"), (0.0, 2.0, "nm"), (0.0, 2.0, "nm")], tags)])
    ds = load(path)
    assert ds.data_type is DataType.SPECTRAL_IMAGE
    assert ds.dims[-1].dimension_type is DimensionType.SPECTRAL
    assert ds.dims[-1].units == "eV" and ds.dims[-1].offset == pytest.approx(350.0)
    assert ds.shape == (3, 4, 8)
    np.testing.assert_array_equal(np.asarray(ds), np.moveaxis(si, 0, -1))
    assert ds.modality == "EELS"


def test_image_stack_has_unknown_stack_axis(tmp_path):
    stack = np.arange(2 * 3 * 4, dtype=np.uint32).reshape(2, 3, 4)
    path = _dm_file(tmp_path, [_image(stack, "stack", [(0.0, 1.0, ""), (0.0, 0.1, "µm"), (0.0, 0.1, "µm")])])
    ds = load(path)
    assert ds.data_type is DataType.IMAGE_STACK
    assert ds.dims[0].dimension_type is DimensionType.UNKNOWN
    assert [d.dimension_type for d in ds.dims[1:]] == [DimensionType.SPATIAL] * 2


def test_reciprocal_units_make_reciprocal_dims(tmp_path):
    img = np.ones((4, 4), dtype=np.int32)
    path = _dm_file(tmp_path, [_image(img, "dp", [(2.0, 0.1, "1/nm")] * 2)])
    ds = load(path)
    assert all(d.dimension_type is DimensionType.RECIPROCAL for d in ds.dims)


def test_lazy_read_does_not_load_data_and_pickles(tmp_path):
    import pickle

    img = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    path = _dm_file(tmp_path, [_image(img, "big", [(0.0, 1.0, "nm")] * 2)])
    ds = load(path, lazy=True)
    again = pickle.loads(pickle.dumps(ds.data))
    np.testing.assert_array_equal(again.compute(), img)


def test_truncated_data_raises_truncated_error_naming_file(tmp_path):
    img = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    path = _dm_file(tmp_path, [_image(img, "big", [(0.0, 1.0, "nm")] * 2)], thumbnail=False)
    raw = path.read_bytes()
    bad = tmp_path / "cut.dm3"
    bad.write_bytes(raw[: len(raw) - 64 * 64 * 2])
    with pytest.raises(SidkitError) as info:
        for ds in load_all(bad).values():
            ds.compute()
    assert "cut.dm3" in str(info.value)


def test_wrong_extension_is_still_read_by_content(tmp_path):
    img = np.ones((4, 4), dtype=np.float32)
    path = _dm_file(tmp_path, [_image(img, "img", [(0.0, 0.1, "nm")] * 2)])
    other = tmp_path / "renamed.dat"
    other.write_bytes(path.read_bytes())
    assert load(other).shape == (4, 4)


def test_read_rejects_non_dm_file_with_corrupt_error(tmp_path):
    bad = tmp_path / "x.dm3"
    bad.write_bytes(b"not a dm file at all" * 10)
    with pytest.raises(CorruptFileError, match="x.dm3"):
        load(bad, reader="dm")


@pytest.mark.parametrize("version", [3, 4])
def test_little_endian_files_match_the_reference_reader(tmp_path, version):
    from rsciio import digitalmicrograph as ref_dm

    si = np.arange(5 * 3 * 4, dtype=np.float32).reshape(5, 3, 4)
    img = np.arange(6 * 5, dtype=np.int16).reshape(6, 5)
    path = _dm_file(tmp_path, [_image(img, "img", [(2.0, 0.5, "nm"), (-4.0, 0.25, "nm")], _TAGS),
                               _image(si, "si", [(-10.0, 0.5, "eV"), (0.0, 2.0, "nm"), (1.0, 2.0, "nm")])],
                    version=version)
    ours = list(load_all(path).values())
    refs = ref_dm.file_reader(str(path), lazy=False)
    assert len(ours) == len(refs) == 2
    for ds, ref in zip(ours, refs):
        assert sorted(ds.shape) == sorted(ref["data"].shape)
        assert float(ds.sum().compute()) == pytest.approx(float(ref["data"].sum()))
        for ax in ref["axes"]:
            match = [d for d in ds.dims if len(d) == ax["size"] and d.scale == pytest.approx(ax["scale"])
                     and d.offset == pytest.approx(ax["offset"])]
            assert match, (ds.title, ax)


@pytest.mark.parametrize("little", [True, False])
def test_images_above_the_small_file_threshold_stay_memory_mapped(tmp_path, monkeypatch, little):
    import pickle

    import sidkit.readers.dm as dm

    img = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    path = _dm_file(tmp_path, [_image(img, "big", [(0.0, 1.0, "nm")] * 2)], little=little)
    small = load(path)
    monkeypatch.setattr(dm, "SMALL_ARRAY_BYTES", 0)  # every image counts as large
    lazy = load(path)
    assert "MemmapProxy" in repr(dict(lazy.data.__dask_graph__()))  # read on demand, from the path
    blob = pickle.dumps(lazy.data)
    assert img.tobytes() not in blob and img.astype(">f4").tobytes() not in blob
    np.testing.assert_array_equal(pickle.loads(blob).compute(), img)
    np.testing.assert_array_equal(np.asarray(lazy), np.asarray(small))
    assert lazy.dims == small.dims and lazy.dtype == small.dtype


def test_spectrum_image_energy_last_same_small_or_lazy(tmp_path, monkeypatch):
    import sidkit.readers.dm as dm
    from sidkit.core.fastpath import direct_read

    si = np.arange(3 * 4 * 16, dtype=np.float32).reshape(16, 3, 4)  # (energy, y, x) as DM stores it
    path = _dm_file(tmp_path, [_image(si, "SI", [(0.0, 1.0, "eV"), (0.0, 1.0, "nm"), (0.0, 1.0, "nm")])])
    small = load(path)
    monkeypatch.setattr(dm, "SMALL_ARRAY_BYTES", 0)
    lazy = load(path)
    assert direct_read(lazy.data) is not None  # the energy-last transpose still computes in one read
    np.testing.assert_array_equal(np.asarray(lazy), np.asarray(small))
    assert [d.name for d in lazy.dims] == [d.name for d in small.dims]


@pytest.mark.parametrize("version", [3, 4])
def test_old_packed_complex_fft_is_unpacked_as_the_reference_reader_does(tmp_path, version):
    from rsciio import digitalmicrograph as ref_dm

    # DM data type 5: the FFT of a real 8 x 8 image, stored as 64 float32 values
    packed = np.arange(1, 65, dtype=np.float32) / 8
    cal = [(4.0, 0.125, "1/nm"), (4.0, 0.125, "1/nm")]
    path = _dm_file(tmp_path, [_image(packed.reshape(8, 8), "FFT", cal, data_type=5)], version=version)
    ds = load(path)
    expected = ref_dm.file_reader(str(path), lazy=False)[0]["data"]
    assert ds.shape == (8, 8) and ds.dtype == np.complex64
    np.testing.assert_array_equal(np.asarray(ds), expected)
    assert expected[0, 0] == packed[1] and expected[4, 4] == packed[32]  # DC and Nyquist terms
    assert all(d.units == "1/nm" and d.scale == pytest.approx(0.125) for d in ds.dims)
