"""TIA SER reader: series built byte by byte from the SER specification
(C. Boothroyd's description), without ``.emi`` companions."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from sidkit.core import DataType, DimensionType, SidkitError, TruncatedFileError, load, load_all
from sidkit.readers.tia import TIAReader, is_ser_header

_CODES = {np.dtype("uint8"): 1, np.dtype("uint16"): 2, np.dtype("uint32"): 3, np.dtype("int8"): 4,
          np.dtype("int16"): 5, np.dtype("int32"): 6, np.dtype("float32"): 7, np.dtype("float64"): 8}


def _ser(path, elements, dims, *, version=0x0210, total=None, image=False, xy_tags=True,
         element_cal=(-20.0, 0.2, 0), image_cal=((0.0, 1e-9, 0), (0.0, 1e-9, 0))):
    """Write a SER file.

    ``elements``: list of arrays (1-D spectra or 2-D images, top-down);
    ``dims``: list of (size, offset, delta, units) series dimensions.
    """
    total = len(elements) if total is None else total
    wide = version > 0x0210
    head = struct.pack("<HHHIIII", 0x4949, 0x0197, version, 0x4122 if image else 0x4120,
                       0x4142 if xy_tags else 0x4152, total, len(elements))
    dim_bytes = b""
    for size, off, delta, units in dims:
        u = units.encode()
        dim_bytes += struct.pack("<IddII", size, off, delta, 0, 0) + struct.pack("<I", len(u)) + u
    header_len = len(head) + (12 if wide else 8) + len(dim_bytes)
    body = b""
    data_offsets, tag_offsets = [], []
    pos = header_len
    for arr in elements:
        arr = np.asarray(arr)
        code = _CODES[arr.dtype]
        if image:
            (cox, cdx, cex), (coy, cdy, cey) = image_cal
            el = struct.pack("<ddIddIHII", cox, cdx, cex, coy, cdy, cey, code, arr.shape[1], arr.shape[0])
            el += arr[::-1].astype(arr.dtype.newbyteorder("<")).tobytes()  # stored bottom-up
        else:
            o, d, e = element_cal
            el = struct.pack("<ddIHI", o, d, e, code, arr.size) + arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        data_offsets.append(pos)
        body += el
        pos += len(el)
    for i in range(len(elements)):
        tag = struct.pack("<HHI", 0x4142 if xy_tags else 0x4152, 0, 1000 + i)
        if xy_tags:
            tag += struct.pack("<dd", 1e-9 * (i % 3), 1e-9 * (i // 3))
        tag_offsets.append(pos)
        body += tag
        pos += len(tag)
    data_offsets += [0] * (total - len(elements))
    tag_offsets += [0] * (total - len(elements))
    offset_array_offset = pos
    fmt = "<Q" if wide else "<I"
    offsets = b"".join(struct.pack(fmt, o) for o in data_offsets + tag_offsets)
    head += struct.pack("<QI" if wide else "<II", offset_array_offset, len(dims))
    path.write_bytes(head + dim_bytes + body + offsets)
    return path


@pytest.mark.parametrize("version", [0x0210, 0x0220])
def test_sniff_accepts_both_series_versions(tmp_path, version):
    path = _ser(tmp_path / "a_1.ser", [np.arange(8, dtype=np.int32)], [(1, 0.0, 1.0, "")], version=version)
    assert TIAReader().sniff(path.read_bytes()[:4096])


@pytest.mark.parametrize("head", [b"", b"II", b"II*\x00" + bytes(40), b"MM" + bytes(40)])
def test_sniff_rejects_foreign_bytes(head):
    assert not is_ser_header(head)


@pytest.mark.parametrize("version", [0x0210, 0x0220])
def test_one_dimensional_series_of_spectra_is_a_line_scan(tmp_path, version):
    spectra = [np.arange(16, dtype=np.int32) * (i + 1) for i in range(5)]
    path = _ser(tmp_path / "line_1.ser", spectra, [(5, 0.0, 2e-9, "meters")], version=version)
    ds = load(path)
    assert ds.shape == (5, 16)
    np.testing.assert_array_equal(np.asarray(ds), np.stack(spectra))
    x, energy = ds.dims
    assert x.dimension_type is DimensionType.SPATIAL and x.units == "nm" and x.scale == pytest.approx(2.0)
    assert energy.dimension_type is DimensionType.SPECTRAL and energy.units == "eV"
    assert energy.offset == pytest.approx(-20.0) and energy.scale == pytest.approx(0.2)
    assert ds.data_type is DataType.SPECTRAL_IMAGE


def test_two_dimensional_series_is_a_spectrum_image(tmp_path):
    spectra = [np.full(8, i, dtype=np.float32) for i in range(6)]
    # TIA lists the fast scan axis (x, 3 positions) first; positions say so too
    path = _ser(tmp_path / "si_1.ser", spectra,
                [(3, 0.0, 1e-9, "meters"), (2, 0.0, 1e-9, "meters")], xy_tags=True)
    ds = load(path)
    assert ds.shape == (2, 3, 8)
    assert ds.data_type is DataType.SPECTRAL_IMAGE
    assert ds.dims[-1].dimension_type is DimensionType.SPECTRAL
    assert [d.name for d in ds.dims[:2]] == ["y", "x"]
    # elements are stored x fastest
    np.testing.assert_array_equal(np.asarray(ds)[:, :, 0], np.arange(6).reshape(2, 3))


def test_series_of_images_is_an_image_stack_flipped_top_down(tmp_path):
    images = [np.arange(12, dtype=np.uint16).reshape(3, 4) + 100 * i for i in range(4)]
    path = _ser(tmp_path / "stack_1.ser", images, [(4, 0.0, 1.0, "")], image=True, xy_tags=False,
                image_cal=((0.0, 2e-9, 0), (0.0, 2e-9, 0)))
    ds = load(path)
    assert ds.shape == (4, 3, 4)
    np.testing.assert_array_equal(np.asarray(ds), np.stack(images))
    assert ds.data_type is DataType.IMAGE_STACK
    y, x = ds.dims[1:]
    assert y.units == "nm" and x.scale == pytest.approx(2.0)
    assert y.dimension_type is DimensionType.SPATIAL


def test_single_image_series_drops_the_series_axis(tmp_path):
    img = np.arange(20, dtype=np.int32).reshape(4, 5)
    path = _ser(tmp_path / "img_1.ser", [img], [(1, 0.0, 1.0, "")], image=True)
    ds = load(path)
    assert ds.shape == (4, 5)
    assert ds.data_type is DataType.IMAGE
    np.testing.assert_array_equal(np.asarray(ds), img)


def test_interrupted_time_series_keeps_only_acquired_elements(tmp_path):
    spectra = [np.full(4, i, dtype=np.int16) for i in range(3)]
    path = _ser(tmp_path / "cut_1.ser", spectra, [(10, 0.0, 1.0, "s")], total=10)
    ds = load(path)
    assert ds.shape == (3, 4)
    np.testing.assert_array_equal(np.asarray(ds)[:, 0], [0, 1, 2])


def test_lazy_elements_pickle_by_path(tmp_path):
    spectra = [np.arange(32, dtype=np.float64) + i for i in range(7)]
    path = _ser(tmp_path / "p_1.ser", spectra, [(7, 0.0, 1.0, "s")])
    ds = load(path)
    again = pickle.loads(pickle.dumps(ds.data))
    np.testing.assert_array_equal(again.compute(), np.stack(spectra))


def test_truncated_data_raises_truncated_error_naming_file(tmp_path):
    spectra = [np.arange(64, dtype=np.int32) for _ in range(4)]
    path = _ser(tmp_path / "t_1.ser", spectra, [(4, 0.0, 1.0, "s")])
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(TruncatedFileError, match="t_1.ser"):
        load(path)


def test_absurd_element_count_is_refused_before_allocating(tmp_path):
    path = _ser(tmp_path / "h_1.ser", [np.arange(4, dtype=np.int32)], [(1, 0.0, 1.0, "")])
    raw = bytearray(path.read_bytes())
    raw[14:18] = struct.pack("<I", 2**31)  # TotalNumberElements
    path.write_bytes(bytes(raw))
    with pytest.raises(SidkitError, match="h_1.ser"):
        load_all(path)


def test_emi_companion_adds_microscope_metadata():
    from sidkit.core.testing import real_fixtures

    cases = [p for p, _ in real_fixtures(__file__, "tia") if p.name.startswith("16x16-spectrum")]
    if not cases:
        pytest.skip("TIA fixtures not present")
    pytest.importorskip("rsciio")
    ds = load(cases[0])
    assert ds.metadata["beam"]["energy_eV"] == pytest.approx(300e3)
    assert ds.metadata["optics"]["mode"] == "STEM"
    assert "ObjectInfo" in ds.original_metadata


def _layouts(tmp_path):
    yield _ser(tmp_path / "a_1.ser", [np.arange(16, dtype=np.int32) * (i + 1) for i in range(5)],
               [(5, 0.0, 2e-9, "meters")], version=0x0220)
    yield _ser(tmp_path / "b_1.ser", [np.full(8, i, dtype=np.float32) for i in range(6)],
               [(3, 1e-9, 1e-9, "meters"), (2, 0.0, 1e-9, "meters")])
    yield _ser(tmp_path / "c_1.ser", [np.arange(12, dtype=np.uint16).reshape(3, 4) + 100 * i for i in range(4)],
               [(4, 0.0, 1.0, "")], image=True, xy_tags=False, image_cal=((1e-9, 2e-9, 1), (0.0, 2e-9, 0)))
    yield _ser(tmp_path / "d_1.ser", [np.full(4, i, dtype=np.int16) for i in range(3)], [(10, 0.0, 1.0, "s")], total=10)


def test_data_and_axes_match_the_reference_reader(tmp_path):
    rsciio_tia = pytest.importorskip("rsciio.tia")
    for path in _layouts(tmp_path):
        ours = load(path)
        ref = rsciio_tia.file_reader(str(path), lazy=False)[0]
        np.testing.assert_array_equal(np.asarray(ours), ref["data"], err_msg=path.name)
        for dim, ax in zip(ours.dims, ref["axes"]):
            assert dim.scale == pytest.approx(float(ax["scale"])), path.name
            assert dim.offset == pytest.approx(float(ax["offset"])), path.name


def test_series_above_the_small_file_threshold_stay_memory_mapped_with_same_values(tmp_path, monkeypatch):
    import sidkit.readers._raw as raw

    for path in _layouts(tmp_path):
        small = load(path)
        with monkeypatch.context() as m:
            m.setattr(raw, "SMALL_ARRAY_BYTES", 0)  # every series counts as large
            lazy = load(path)
            assert "_SerProxy" in repr(dict(lazy.data.__dask_graph__())), path.name
            blob = pickle.dumps(lazy.data)
            assert len(blob) < 4096, path.name  # the graph pickles by path
            np.testing.assert_array_equal(pickle.loads(blob).compute(), np.asarray(small), err_msg=path.name)
            np.testing.assert_array_equal(np.asarray(lazy), np.asarray(small), err_msg=path.name)
            np.testing.assert_array_equal(lazy.data[..., :2].compute(), np.asarray(small)[..., :2],
                                          err_msg=path.name)
        assert small.dims == lazy.dims, path.name


def _emi_xml(label="High tension", value="300", unit="kV"):
    return (f"<ObjectInfo><Uuid>1</Uuid><AcquireDate>Mon Feb 22 18:50:01 2016</AcquireDate>"
            f"<ExperimentalDescription><Root><Data><Label>{label}</Label><Value>{value}</Value>"
            f"<Unit>{unit}</Unit></Data><Data><Label>Mode</Label><Value>STEM nP SA Zoom Diffraction</Value>"
            f"<Unit></Unit></Data></Root></ExperimentalDescription>"
            f"<AcquireInfo><CameraNamePath>BM-Ceta</CameraNamePath></AcquireInfo>"
            f"<TrueImageHeaderInfo>&lt;a&gt;&lt;Data&gt;&lt;Index&gt;1&lt;/Index&gt;&lt;Value&gt;2"
            f"&lt;/Value&gt;&lt;/Data&gt;&lt;/a&gt;</TrueImageHeaderInfo></ObjectInfo>")


@pytest.mark.parametrize("label", ["High tension", "Stage.X", "Spot [size]", "Plain"])
def test_emi_trees_equal_rosettasciio_trees(tmp_path, label):
    import xml.etree.ElementTree as ET

    api = pytest.importorskip("rsciio.tia._api")
    from sidkit.readers.tia import _parse_emi

    cases = [p for p in (p.parent / (p.stem.rsplit("_", 1)[0] + ".emi") for p, _ in real_fixtures_tia())
             if p.is_file()]
    synthetic = tmp_path / "s.emi"
    synthetic.write_bytes(b"\x00binary header" + _emi_xml(label).encode() + b"\x00"
                          + _emi_xml(label, "oops", "kV").encode() + b"\x00tail")
    for emi in [synthetic, *cases]:
        objects = api.get_xml_info_from_emi(str(emi))
        for index in range(len(objects) + 1):
            try:
                _, first, this = _parse_emi(emi, index)
            except Exception:  # noqa: BLE001 - the reader then asks RosettaSciIO itself
                continue
            tree = api.DTBox(box_dots=True)
            api.emixml2dtb(ET.fromstring(objects[index if index < len(objects) else 0]), tree)
            assert first == api.convert_xml_to_dict(objects[0]).to_dict(), emi.name
            assert this == tree.to_dict(), emi.name


def test_emi_companion_metadata_read_and_unusual_labels_handed_to_rosettasciio(tmp_path):
    pytest.importorskip("rsciio")
    path = _ser(tmp_path / "d_1.ser", [np.arange(16, dtype=np.int32)], [(1, 0.0, 1.0, "")])
    (tmp_path / "d.emi").write_bytes(b"\x00" + _emi_xml().encode())
    ds = load(path)
    assert ds.original_metadata["ObjectInfo"]["AcquireDate"] == "Mon Feb 22 18:50:01 2016"
    assert ds.original_metadata["ObjectInfo"]["ExperimentalDescription"]["High tension_kV"] == 300.0
    assert ds.metadata["acquisition"]["datetime"].startswith("2016-02-22T18:50:01")
    assert ds.metadata["beam"]["energy_eV"] == pytest.approx(300e3)
    # a dotted label: RosettaSciIO's tree builder decides (it drops the EMI tree); data unaffected
    (tmp_path / "d.emi").write_bytes(b"\x00" + _emi_xml("Stage.X", "1.5", "um").encode())
    np.testing.assert_array_equal(np.asarray(load(path)).ravel(), np.arange(16))


def real_fixtures_tia():
    from sidkit.core.testing import real_fixtures

    return real_fixtures(__file__, "tia")


def test_diffraction_ser_keeps_nm_calibration_and_emi_gives_reciprocal_units(tmp_path):
    rsciio_tia = pytest.importorskip("rsciio.tia")
    pattern = np.arange(30, dtype=np.int32).reshape(6, 5)
    path = _ser(tmp_path / "diff_1.ser", [pattern], [(1, 0.0, 1.0, "")], image=True,
                image_cal=((-2e8, 1e7, 0), (-3e8, 1e7, 0)))
    (tmp_path / "diff.emi").write_bytes(b"\x00" + _emi_xml().encode())  # a STEM diffraction mode
    for opened, units, scale in ((path, "nm", 1e16), (tmp_path / "diff.emi", "1 / nm", 0.01)):
        ds = next(iter(load_all(opened).values()))
        ref = rsciio_tia.file_reader(str(opened), lazy=False)[0]
        np.testing.assert_array_equal(np.asarray(ds), ref["data"])
        for dim, ax in zip(ds.dims, ref["axes"]):
            assert dim.units == ax["units"] == units, opened.name
            assert dim.scale == pytest.approx(ax["scale"]) == pytest.approx(scale)
            assert dim.offset == pytest.approx(ax["offset"])
