"""ARDF reader on files assembled section by section from the ARDF layout."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from sidkit.core import CorruptFileError, DataType, DimensionType, SidkitError, load, load_all
from sidkit.readers.ardf import ArdfReader


def section(name, payload=b"", size=None):
    size = 16 + len(payload) if size is None else size
    body = struct.pack("<L4sL", size, name, 0) + payload
    return struct.pack("<L", zlib.crc32(body)) + body


def toc(name, entries, stride):
    head = section(name, struct.pack("<QLL", 32 + len(entries) * stride, len(entries), stride), size=32)
    return head + b"".join(entries)


def entry(name, ptr):
    return struct.pack("<LL4sLQ", 0, 24, name, 0, ptr)


def text_section(text):
    raw = text.encode()
    return section(b"TEXT", struct.pack("<LL", 0, len(raw)) + raw)


def ttoc(ptrs):
    return toc(b"TTOC", [struct.pack("<LL4sLQQ", 0, 32, b"TOFF", 0, i, p) for i, p in enumerate(ptrs)], 32)


def build(image, curves, nch=2, note="Date: 2020-11-25\rTime: 7:09:19 PM\rMicroscopeModel: Cypher\r"):
    lines, points = image.shape
    ml, mp = curves.shape[:2]

    def assemble(ptr):
        parts = []
        pos = 0

        def add(b):
            nonlocal pos
            parts.append(b)
            pos += len(b)
            return pos - len(b)

        add(section(b"ARDF"))
        add(toc(b"FTOC", [entry(b"IMAG", ptr.get("imag", 1)), entry(b"VOLM", ptr.get("volm", 1))], 24))
        add(ttoc([ptr.get("text", 1)]))
        ptr["text"] = add(text_section(note))
        ptr["imag"] = add(toc(b"IMAG", [], 24))
        add(ttoc([]))
        add(section(b"IDEF", struct.pack("<LLQQdd32s32s32s32s", points, lines, 0, 0, 1e-8, 2e-8,
                                         b"m", b"m", b"Height", b"m")))
        stride = 16 + 4 * points
        add(section(b"IBOX", struct.pack("<QLL", 32 + lines * stride, lines, stride), size=32))
        for row in image:
            add(section(b"IDAT", row.astype("<f4").tobytes()))
        add(section(b"GAMI"))
        ptr["volm"] = add(toc(b"VOLM", [entry(b"NSET", ml * mp)], 24))
        add(ttoc([]))
        add(section(b"VDEF", struct.pack("<LL24sddd32s32s32s32sQ", mp, ml, b"", 1e-7, 1e-7, 1e-3,
                                         b"m", b"m", b"s", b"Ext;Ret;", 2)))
        for c in range(nch):
            add(section(b"VCHN", struct.pack("<32s32s", [b"Raw", b"Defl"][c], b"m")))
        add(section(b"XDEF", struct.pack("<LL", 0, 8) + b"Ext;Ret;".ljust(72, b"\0")))
        vtoc_entries = [struct.pack("<LL4sLLLQQ", 1, 40, b"VOFF", 0, i, r, c, ptr.get(("vset", r, c), 1))
                        for i, (r, c) in enumerate(np.ndindex(ml, mp))]
        add(toc(b"VTOC", vtoc_entries, 40))
        add(section(b"MLOV"))
        for i, (r, c) in enumerate(np.ndindex(ml, mp)):
            ptr[("vset", r, c)] = add(section(b"VSET", struct.pack("<LLLLQQ", i, r, c, 2, 0, 0)))
            add(section(b"VNAM", b"Line0001Point0001\0".ljust(24, b"\0")))
            for ch in range(nch):
                values = curves[r, c, ch]
                n = int(np.count_nonzero(~np.isnan(values)))
                add(section(b"VDAT", struct.pack("<10L", i, r, c, n, ch, 0, n // 2, n, 0, 0)
                            + values[:n].astype("<f4").tobytes()))
        return b"".join(parts)

    ptr: dict = {}
    first = assemble(ptr)
    second = assemble(ptr)
    assert len(first) == len(second)
    return second


@pytest.fixture
def ardf(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((3, 4))
    curves = rng.random((2, 3, 2, 6))
    curves[1, 2, :, 4:] = np.nan  # a shorter curve
    p = tmp_path / "map.ardf"
    p.write_bytes(build(image, curves))
    return p, image, curves


def test_image_and_force_channels_are_returned(ardf):
    p, image, curves = ardf
    out = load_all(p)
    assert list(out) == ["Height", "Raw_force_map", "Defl_force_map"]
    h = out["Height"]
    assert h.data_type is DataType.IMAGE and h.units == "m"
    np.testing.assert_array_equal(np.asarray(h), image.astype(np.float32))
    assert h.dims[0].scale == pytest.approx(2e-8) and h.dims[1].scale == pytest.approx(1e-8)
    assert h.metadata["instrument"]["model"] == "Cypher"


def test_force_curves_are_padded_with_nan_to_longest(ardf):
    p, _, curves = ardf
    defl = load_all(p)["Defl_force_map"]
    assert defl.shape == (2, 3, 6)
    got = np.asarray(defl)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(curves[:, :, 1]))
    np.testing.assert_allclose(got, curves[:, :, 1].astype(np.float32))
    assert defl.dims[2].dimension_type is DimensionType.TEMPORAL
    assert defl.original_metadata["segments"] == ["Ext", "Ret"]


def test_crc_mismatch_raises_corrupt_naming_file(ardf):
    p, _, _ = ardf
    data = bytearray(p.read_bytes())
    data[20] ^= 0xFF  # inside the FTOC header
    p.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="map.ardf"):
        load(p, reader="ardf")


@pytest.mark.parametrize("keep", [40, 200, 0.5])
def test_truncated_file_raises_sidkit_error(ardf, keep):
    p, _, _ = ardf
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(SidkitError, match="map.ardf"):
        for ds in load_all(p, reader="ardf").values():
            ds.compute()


def test_sniff_needs_ardf_then_ftoc():
    assert ArdfReader().sniff(section(b"ARDF") + section(b"FTOC", size=32))
    assert not ArdfReader().sniff(b"GWYP" + bytes(40))
