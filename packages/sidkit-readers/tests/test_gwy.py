"""Gwyddion reader on containers serialised byte-by-byte from the GWY spec."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sidkit.core import CorruptFileError, DataType, DimensionType, TruncatedFileError, load, load_all
from sidkit.readers.gwy import GwyReader

from .conftest import REAL, needs_fixtures


def _component(name, value):
    key = name.encode() + b"\0"
    if isinstance(value, bool):
        return key + b"b" + bytes([value])
    if isinstance(value, int):
        return key + b"i" + struct.pack("<i", value)
    if isinstance(value, float):
        return key + b"d" + struct.pack("<d", value)
    if isinstance(value, str):
        return key + b"s" + value.encode() + b"\0"
    if isinstance(value, np.ndarray):
        return key + b"D" + struct.pack("<I", value.size) + value.astype("<f8").tobytes()
    if isinstance(value, tuple):  # (type name, dict) object
        return key + b"o" + _object(*value)
    raise TypeError(value)


def _object(type_name, components):
    body = b"".join(_component(k, v) for k, v in components.items())
    return type_name.encode() + b"\0" + struct.pack("<I", len(body)) + body


def _unit(u):
    return ("GwySIUnit", {"unitstr": u})


def write_gwy(path, fields):
    comps = {}
    for i, (title, data, xreal, yreal, unit_xy, unit_z) in enumerate(fields):
        yres, xres = data.shape
        comps[f"/{i}/data/title"] = title
        comps[f"/{i}/data"] = ("GwyDataField", {"xres": xres, "yres": yres, "xreal": xreal, "yreal": yreal,
                                                "xoff": 1e-9, "si_unit_xy": _unit(unit_xy),
                                                "si_unit_z": _unit(unit_z), "data": data.ravel()})
    path.write_bytes(b"GWYP" + _object("GwyContainer", comps))


@pytest.fixture
def two_channels(tmp_path):
    rng = np.random.default_rng(0)
    h, ph = rng.random((30, 40)), rng.random((30, 40))
    p = tmp_path / "afm.gwy"
    write_gwy(p, [("Height", h, 4e-6, 3e-6, "m", "m"), ("Phase", ph, 4e-6, 3e-6, "m", "deg")])
    return p, h, ph


def test_every_channel_is_an_image_with_pixel_size_real_over_res(two_channels):
    p, h, ph = two_channels
    out = load_all(p)
    assert list(out) == ["Height", "Phase"]
    ds = out["Height"]
    assert ds.shape == (30, 40) and ds.data_type is DataType.IMAGE
    np.testing.assert_array_equal(np.asarray(ds), h)
    assert ds.dims[1].scale == pytest.approx(1e-7) and ds.dims[0].scale == pytest.approx(1e-7)
    assert ds.dims[1].offset == pytest.approx(1e-9)
    assert ds.dims[0].units == "m" and ds.dims[0].dimension_type is DimensionType.SPATIAL
    assert out["Phase"].units == "deg"
    assert ds.metadata["calibration"]["pixel_units"] == ["m", "m"]


def test_large_arrays_are_read_lazily_from_the_file(two_channels):
    p, h, _ = two_channels
    ds = load(p)
    assert "MemmapProxy" in repr(ds.data.dask) or ds.data.__class__.__module__.startswith("dask")
    assert float(ds.sum()) == pytest.approx(h.sum())


@pytest.mark.parametrize("cut", [10, 64, 500, -3])
def test_truncated_container_raises_truncated_quickly(two_channels, cut):
    p, _, _ = two_channels
    data = p.read_bytes()
    p.write_bytes(data[:cut])
    with pytest.raises((TruncatedFileError, CorruptFileError), match="afm.gwy"):
        load(p, reader="gwy")


def test_unknown_type_code_raises_corrupt(tmp_path):
    body = b"x\0Z" + bytes(8)
    p = tmp_path / "bad.gwy"
    p.write_bytes(b"GWYP" + b"GwyContainer\0" + struct.pack("<I", len(body)) + body)
    with pytest.raises(CorruptFileError, match="bad.gwy"):
        load(p)


def test_sniff_needs_gwyp_container():
    assert GwyReader().sniff(b"GWYPGwyContainer\0")
    assert not GwyReader().sniff(b"GWYO")


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), [c for c in REAL if c[1]["format"] == "gwyddion"],
                         ids=lambda v: getattr(v, "name", ""))
def test_real_gwy_file_agrees_with_gwyfile(path, expected):
    gwyfile = pytest.importorskip("gwyfile")
    ref = gwyfile.util.get_datafields(gwyfile.load(str(path)))
    out = load_all(path)
    for title, field in ref.items():
        np.testing.assert_array_equal(np.asarray(out[title.replace(" ", "_")]), field.data)


def test_channels_above_the_small_file_threshold_are_memory_mapped(two_channels, monkeypatch):
    import pickle

    import sidkit.readers.gwy as gwy

    p, h, _ = two_channels
    small = load(p)
    monkeypatch.setattr(gwy, "SMALL_ARRAY_BYTES", 0)
    ds = load(p)
    assert "MemmapProxy" in repr(dict(ds.data.__dask_graph__()))
    assert h.astype("<f8").tobytes() not in pickle.dumps(ds.data)
    np.testing.assert_array_equal(np.asarray(ds), h)
    np.testing.assert_array_equal(np.asarray(small), h)


def test_gwyfile_written_channels_agree_with_gwyfile(tmp_path):
    gwyfile = pytest.importorskip("gwyfile")
    from gwyfile.objects import GwyContainer, GwyDataField

    rng = np.random.default_rng(7)
    container = GwyContainer()
    specs = [("Height", (30, 40), 4e-6, 3e-6, 1e-6, -2e-6, "m", "m"), ("Current", (7, 300), 1.0, 2.0, 0.5, 0.0, "V", "A"),
             ("Plain", (64, 64), 1e-9, 1e-9, 0.0, 0.0, None, None), ("Big", (300, 200), 3e-8, 1e-8, 0.0, 1e-9, "m", "deg")]
    for n, (title, shape, xreal, yreal, xoff, yoff, uxy, uz) in enumerate(specs, start=2):
        container[f"/{n}/data/title"] = title
        container[f"/{n}/data"] = GwyDataField(rng.random(shape), xreal=xreal, yreal=yreal, xoff=xoff, yoff=yoff,
                                                si_unit_xy=uxy, si_unit_z=uz)
    container["/2/mask"] = GwyDataField(np.zeros((30, 40)), xreal=4e-6, yreal=3e-6)
    container["/2/meta"] = GwyContainer({"Date": "2020-01-01"})
    p = tmp_path / "written.gwy"
    container.tofile(str(p))
    out = load_all(p)
    assert list(out) == ["Height", "Current", "Plain", "Big"]
    for title, field in gwyfile.util.get_datafields(gwyfile.load(str(p))).items():
        ds = out[title]
        np.testing.assert_array_equal(np.asarray(ds), field.data)
        yres, xres = field.data.shape
        assert ds.dims[1].scale == pytest.approx(field.xreal / xres) and ds.dims[1].offset == field.xoff
        assert ds.dims[0].scale == pytest.approx(field.yreal / yres) and ds.dims[0].offset == field.yoff
        unit = field.get("si_unit_xy")
        assert ds.dims[0].units == (unit.unitstr if unit is not None else "")
