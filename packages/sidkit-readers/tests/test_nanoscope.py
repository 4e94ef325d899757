"""Nanoscope SPM reader on files built from the documented header layout."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import (
    CorruptFileError,
    DataType,
    DimensionType,
    SidkitError,
    TruncatedFileError,
    load,
    load_all,
)
from sidkit.readers.nanoscope import NanoscopeReader, parse_value


def write_spm(path, images, *, bpp=2, header_len=8192):
    ny, nx = images[0].shape
    lines = ["\\*File list", "\\Version: 0x09200000", f"\\Data length: {header_len}",
             "\\Date: 02:30:15 PM Tue Jan 05 2021", "\\*Scanner list", "\\@Sens. Zsens: V 20.00000 nm/V",
             "\\*Ciao scan list", "\\Scan Size: 2 1 ~m", f"\\Samps/line: {nx}", f"\\Lines: {ny}"]
    for k, (title, _) in enumerate(zip(["Height", "Phase"], images)):
        lines += ["\\*Ciao image list", f"\\Data offset: {header_len + k * nx * ny * bpp}",
                  f"\\Data length: {nx * ny * bpp}", f"\\Bytes/pixel: {bpp}", f"\\Samps/line: {nx}",
                  f"\\Number of lines: {ny}", "\\Scan Size: 2 1 ~m", "\\Line Direction: Retrace",
                  f'\\@2:Image Data: S [{title}] "{title}"',
                  "\\@2:Z scale: V [Sens. Zsens] (0.006713867 V/LSB) 440.0000 V" if title == "Height"
                  else "\\@2:Z scale: V (0.000762939 V/LSB) 50.0000 V"]
    lines.append("\\*File list end")
    text = ("\r\n".join(lines) + "\r\n").encode("latin-1")
    assert len(text) < header_len
    with open(path, "wb") as fh:
        fh.write(text + b"\x1a" + b"\x00" * (header_len - len(text) - 1))
        for img in images:
            fh.write(img.astype(f"<i{bpp}").tobytes())


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(-30000, 30000, size=(6, 8)), rng.integers(-30000, 30000, size=(6, 8))]


def test_parse_value_splits_ciao_value_parameter():
    v = parse_value("V [Sens. Zsens] (0.006713867 V/LSB) 440.0000 V")
    assert v == {"type": "V", "soft_scale": "Sens. Zsens", "hard_scale": 0.006713867, "hard_value": 440.0,
                 "units": "V"}


@pytest.mark.parametrize("bpp", [2, 4])
def test_channels_are_scaled_to_physical_units_and_flipped(tmp_path, images, bpp):
    p = tmp_path / "afm.spm"
    write_spm(p, images, bpp=bpp)
    out = load_all(p)
    assert list(out) == ["Height_Retrace", "Phase_Retrace"]
    h = out["Height_Retrace"]
    assert h.units == "nm" and h.data_type is DataType.IMAGE
    expected = images[0][::-1] * 440.0 / 256 ** bpp * 20.0
    np.testing.assert_allclose(np.asarray(h), expected)
    assert out["Phase_Retrace"].units == "V"
    np.testing.assert_allclose(np.asarray(out["Phase_Retrace"]), images[1][::-1] * 50.0 / 256 ** bpp)
    assert h.dims[1].units == "µm" and h.dims[1].scale == pytest.approx(2 / 8)
    assert h.dims[0].scale == pytest.approx(1 / 6) and h.dims[0].dimension_type is DimensionType.SPATIAL


def test_numbered_extension_is_found_by_content(tmp_path, images):
    p = tmp_path / "sample.017"
    write_spm(p, images)
    assert load(p).shape == (6, 8)


def test_truncated_image_raises_truncated_naming_file(tmp_path, images):
    p = tmp_path / "cut.spm"
    write_spm(p, images)
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(TruncatedFileError, match="cut.spm"):
        load(p)


def test_header_without_end_marker_raises(tmp_path, images):
    p = tmp_path / "nohead.spm"
    write_spm(p, images)
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(SidkitError, match="nohead.spm"):
        load(p)


def test_absurd_pixel_counts_raise_without_allocating(tmp_path, images):
    p = tmp_path / "huge.spm"
    write_spm(p, images)
    data = p.read_bytes().replace(b"\\Number of lines: 6", b"\\Number of lines: 999999999", 1)
    p.write_bytes(data)
    with pytest.raises(CorruptFileError, match="huge.spm"):
        load(p)


def test_sniff_matches_file_list_headers_only():
    assert NanoscopeReader().sniff(b"\\*File list\r\n\\Version: 0x09200000\r\n")
    assert NanoscopeReader().sniff(b"\\*Force file list\r\n")
    assert not NanoscopeReader().sniff(b"GWYP")
