"""Igor IBW reader (igor2) on the real Asylum / STM fixtures and damaged copies."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import CorruptFileError, DimensionType, SidkitError, load, load_all
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
