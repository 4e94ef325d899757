"""Igor IBW reader (igor2) on the real Asylum / STM fixtures and damaged copies."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import CorruptFileError, DimensionType, SidkitError, TruncatedFileError, load, load_all
from sidkit.readers.ibw import IbwReader, parse_note

from .conftest import REAL, needs_fixtures

pytest.importorskip("igor2")

IBW = [c for c in REAL if c[1]["format"] == "igor-ibw"]


def test_parse_note_reads_key_value_lines():
    note = parse_note("ScanSize: 2e-06\rImagingMode:PFM Mode\rfree text line\r")
    assert note["ScanSize"] == "2e-06" and note["ImagingMode"] == "PFM Mode"
    assert note["_lines"] == ["free text line"]


def test_sniff_checks_the_header_checksum():
    import struct

    assert not IbwReader().sniff(b"\x05\x00" + bytes(382))  # word sum 5, not 0
    assert IbwReader().sniff(b"\x05\x00" + struct.pack("<h", -5) + bytes(380))  # balanced checksum
    assert IbwReader().sniff(b"\x00\x05" + struct.pack(">h", -5) + bytes(380))  # big-endian
    assert not IbwReader().sniff(b"")
    assert not IbwReader().sniff(b"GWYP")


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), IBW, ids=lambda v: getattr(v, "name", ""))
def test_real_ibw_dims_are_spatial_with_igor_scaling(path, expected):
    out = load_all(path)
    exp = expected["datasets"][0]
    for ds in out.values():
        assert ds.dims[0].name == "y" and ds.dims[1].name == "x"
        assert ds.dims[0].dimension_type is DimensionType.SPATIAL
        assert ds.dims[1].scale == pytest.approx(exp["axes"][0]["scale"])
        assert ds.dims[1].offset == pytest.approx(exp["axes"][0]["offset"], abs=1e-15)
        assert ds.original_metadata["version"] == exp["key_metadata"]["version"]
    if "channels" in exp:
        assert len(out) == len(exp["channels"])
        for ds, ch in zip(out.values(), exp["channels"]):
            assert float(np.asarray(ds, dtype=float).sum()) == pytest.approx(ch["checksums"]["sum"], rel=1e-6)


@needs_fixtures
def test_asylum_labels_are_cut_at_nul_and_units_guessed():
    path = next((p for p, e in IBW if "channels" in e["datasets"][0]), None)
    if path is None:
        pytest.skip("no multi-channel Asylum fixture")
    out = load_all(path)
    assert "DeflectionRetrace" in out and "PhaseRetrace" in out
    assert out["PhaseRetrace"].units == "deg" and out["HeightRetrace"].units == "m"
    assert out["HeightRetrace"].metadata["instrument"]["vendor"] == "Asylum Research"


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), IBW, ids=lambda v: getattr(v, "name", ""))
def test_split_channels_false_keeps_channel_dim(path, expected):
    out = load_all(path, split_channels=False)
    ds = next(iter(out.values()))
    assert ds.ndim == len(expected["datasets"][0]["shape"])
    if "channels" in expected["datasets"][0]:
        assert ds.dims[2].dimension_type is DimensionType.CHANNEL


@needs_fixtures
def test_broken_checksum_raises_corrupt_naming_file(tmp_path):
    path = IBW[0][0]
    data = bytearray(path.read_bytes())
    data[100] ^= 0x55
    bad = tmp_path / path.name
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=path.name):
        load(bad, reader="ibw")
    with pytest.raises(SidkitError, match=path.name):
        load(bad)


def test_reader_modules_import_no_parser():
    import subprocess
    import sys

    code = ("import sys; import sidkit.readers.ibw, sidkit.readers.gwy, sidkit.readers.mib, "
            "sidkit.readers.nanonis, sidkit.readers.nanoscope, sidkit.readers.ardf, sidkit.readers.empad; "
            "bad = [m for m in ('igor2', 'gwyfile', 'nanonispy', 'rsciio', 'h5py') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- waves built byte-by-byte from Igor Technical Note 003 -------------------------------

_NUMERIC_TYPES = {"float32": 2, "float64": 4, "int8": 8, "int16": 0x10, "int32": 0x20, "uint8": 0x48,
                  "uint16": 0x50, "uint32": 0x60, "complex64": 3, "complex128": 5}


def _balance_checksum(buf: bytearray, span: int, at: int, order: str) -> None:
    """Set the checksum word at ``at`` so the int16 words of ``buf[:span]`` sum to 0 mod 2**16."""
    import struct

    total = int(np.frombuffer(bytes(buf[:span]), dtype=order + "i2").astype(np.int64).sum())
    current = struct.unpack(order + "h", bytes(buf[at:at + 2]))[0]
    want = (current - total) % 65536
    buf[at:at + 2] = struct.pack(order + "h", want - 65536 if want >= 32768 else want)


def write_ibw_v2(path, data, *, version=2, order="<", hs=(1.0, 0.0), x_units="", note=b"", span=126):
    """A version 2 or 3 wave (1-D); ``span`` = checksummed bytes after the binary header."""
    import struct

    data = np.asarray(data)
    raw = data.astype(data.dtype.newbyteorder(order)).tobytes()
    wh = (struct.pack(order + "hl", _NUMERIC_TYPES[data.dtype.name], 0) + b"wave2".ljust(20, b"\0")
          + struct.pack(order + "hhl", 0, 0, 0) + b"V\0\0\0" + x_units.encode()[:3].ljust(4, b"\0")
          + struct.pack(order + "lhddhhhdd", data.size, 0, hs[0], hs[1], 0, 0, 0, 0.0, 0.0) + b"\0\0"
          + struct.pack(order + "llL", 0, 0, 0) + b"\0\0" + struct.pack(order + "Ll", 0, 0))
    if version == 2:
        bh, at = struct.pack(order + "hlllh", 2, 126 + len(raw), len(note), 0, 0), 14
    else:
        bh, at = struct.pack(order + "hllllh", 3, 126 + len(raw), len(note), 0, 0, 0), 18
    body = bytearray(bh + wh + raw + bytes(16) + note)
    _balance_checksum(body, len(bh) + span, at, order)
    path.write_bytes(bytes(body))


def write_ibw_v5(path, data, *, order="<", sf_a=(1, 1, 1, 1), sf_b=(0, 0, 0, 0), dim_units=("", "", "", ""),
                 ext_dim_units=(b"", b"", b"", b""), labels=None, note=b""):
    """A version 5 wave of up to 4 dimensions (Igor's dim0 = first array axis)."""
    import struct

    data = np.asarray(data)
    n_dim = list(data.shape) + [0] * (4 - data.ndim)
    raw = data.astype(data.dtype.newbyteorder(order)).tobytes(order="F")
    label_bytes = [b"".join(name.encode().ljust(32, b"\0") for name in (labels or {}).get(d, []))
                   for d in range(4)]
    wh = (struct.pack(order + "lLLlhh", 0, 0, 0, data.size, _NUMERIC_TYPES[data.dtype.name], 0) + bytes(6)
          + struct.pack(order + "h", 1) + b"wave5".ljust(32, b"\0") + struct.pack(order + "ll", 0, 0)
          + struct.pack(order + "4l", *n_dim) + struct.pack(order + "4d", *sf_a) + struct.pack(order + "4d", *sf_b)
          + b"A\0\0\0" + b"".join(u.encode()[:3].ljust(4, b"\0") for u in dim_units)
          + struct.pack(order + "hhdd", 0, 0, 0.0, 0.0) + bytes(40 + 64) + struct.pack(order + "hhh", 0, 0, 0)
          + b"\0\0" + struct.pack(order + "llhhll", 0, 0, 0, 0, 0, 0))
    bh = struct.pack(order + "hhllll4l4llll", 5, 0, 320 + len(raw), 0, len(note), 0,
                     *[len(u) for u in ext_dim_units], *[len(b) for b in label_bytes], 0, 0, 0)
    body = bytearray(bh + wh + raw + note + b"".join(ext_dim_units) + b"".join(label_bytes))
    _balance_checksum(body, 384, 2, order)
    path.write_bytes(bytes(body))


def _igor2_expected(path):
    """The expected-file form of igor2's reading: axes from sfA/sfB (v5) or hsA/hsB (v2/3)."""
    from igor2 import binarywave

    loaded = binarywave.load(str(path))
    wh, data = loaded["wave"]["wave_header"], loaded["wave"]["wData"]
    axes = []
    for i, n in enumerate(data.shape):
        scale, offset = (wh["sfA"][i], wh["sfB"][i]) if loaded["version"] == 5 else (wh["hsA"], wh["hsB"])
        axes.append({"name": f"dim{i}", "size": n, "scale": float(scale), "offset": float(offset), "units": None})
    v = np.abs(data) if np.iscomplexobj(data) else data
    v = v.astype(np.float64)
    checks = {"sum": float(v.sum()), "sum_abs": float(np.abs(v).sum()), "min": float(v.min()),
              "max": float(v.max()), "mean": float(v.mean())}
    return {"datasets": [{"index": 0, "shape": list(data.shape), "dtype": data.dtype.name, "axes": axes,
                          "checksums": checks}]}


def _problems(path):
    from sidkit.core.testing import match_real_expected

    return {k: v for k, v in match_real_expected(load_all(path), _igor2_expected(path)).items() if v}


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("dtype", sorted(_NUMERIC_TYPES))
def test_every_numeric_type_and_byte_order_agrees_with_igor2(tmp_path, dtype, order):
    rng = np.random.default_rng(0)
    values = rng.random((6, 5, 3)) * 100
    if dtype.startswith("complex"):
        values = values + 1j * rng.random((6, 5, 3))
    p5, p2, p3 = tmp_path / "v5.ibw", tmp_path / "v2.ibw", tmp_path / "v3.ibw"
    write_ibw_v5(p5, values.astype(dtype), order=order, sf_a=(1e-9, 2e-9, 0.5, 1), sf_b=(-1e-8, 5e-9, 1, 0),
                 dim_units=("m", "m", "s", ""))
    write_ibw_v2(p2, values[:, 0, 0].astype(dtype), order=order, hs=(0.25, -3.0), x_units="s")
    write_ibw_v2(p3, values[:, 0, 0].astype(dtype), version=3, order=order, hs=(0.25, -3.0), note=b"a: 1\r")
    for p in (p5, p2, p3):
        assert _problems(p) == {}, p.name


@pytest.mark.parametrize("span", [126, 110])
def test_version2_checksum_with_or_without_the_wdata_words_is_accepted(tmp_path, span):
    p = tmp_path / "old.ibw"
    write_ibw_v2(p, np.array([5, 4, 3, 2, 1], dtype="f4"), order=">", span=span)
    assert IbwReader().sniff(p.read_bytes()[:512])
    np.testing.assert_array_equal(np.asarray(load(p)), [5, 4, 3, 2, 1])


def test_extended_dimension_units_belong_to_their_own_dimension(tmp_path):
    # igor2 lists only the non-empty unit sections, so "Volts" would shift to dim0
    p = tmp_path / "ext.ibw"
    write_ibw_v5(p, np.zeros((4, 3), dtype="f4"), dim_units=("s", "", "", ""),
                 ext_dim_units=(b"", b"Volts", b"", b""))
    ds = load(p)
    assert [(d.name, d.units) for d in ds.dims] == [("y", "Volts"), ("x", "s")]


def test_labelled_layers_of_a_synthetic_asylum_image_become_channels(tmp_path):
    data = np.random.default_rng(1).random((8, 6, 3)).astype("f4")
    p = tmp_path / "asylum.ibw"
    write_ibw_v5(p, data, order=">", sf_a=(1e-8, 1e-8, 1, 1), dim_units=("m", "m", "", ""),
                 labels={2: ["", "HeightRetrace", "PhaseRetrace", "ZSensorRetrace"]},
                 note=b"MicroscopeModel: Cypher\r")
    out = load_all(p)
    assert list(out) == ["HeightRetrace", "PhaseRetrace", "ZSensorRetrace"]
    np.testing.assert_array_equal(np.asarray(out["PhaseRetrace"]), data[:, :, 1].T)
    assert out["PhaseRetrace"].units == "deg" and out["HeightRetrace"].dims[1].scale == pytest.approx(1e-8)


def test_wave_shorter_than_its_header_declares_raises_truncated_naming_file(tmp_path):
    p = tmp_path / "short.ibw"
    write_ibw_v5(p, np.zeros((64, 64), dtype="f8"))
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(TruncatedFileError, match="short.ibw"):
        load(p)
