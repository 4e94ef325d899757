"""EMPAD reader on .xml + .raw pairs built from the EMPAD layout."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import DataType, DimensionType, SidkitError, TruncatedFileError, load
from sidkit.readers.empad import EmpadReader

XML = """<?xml version="1.0"?>
<root>
  <timestamp><isoformat>2019-06-07T11:12:13</isoformat></timestamp>
  <raw_file filename="{raw}"/>
  {scan}
  <iom_measurements>
    <calibrated_pixelsize>0.025e-9</calibrated_pixelsize>
    <optics><get_full_scan_field_of_view>[4e-8, 2e-8]</get_full_scan_field_of_view></optics>
  </iom_measurements>
</root>
"""


def write_empad(tmp_path, frames, scan):
    raw = tmp_path / "scan_x4_y2.raw"
    full = np.zeros((frames.shape[0], 130, 128), dtype="<f4")
    full[:, :128, :] = frames
    full[:, 128:, :] = -1.0  # metadata rows, must be dropped
    raw.write_bytes(full.tobytes())
    xml = tmp_path / "scan.xml"
    xml.write_text(XML.format(raw=raw.name, scan=scan))
    return xml, raw


@pytest.fixture
def frames():
    return np.random.default_rng(0).random((8, 128, 128)).astype(np.float32)


def test_xml_gives_4d_stem_with_calibrations(tmp_path, frames):
    xml, _ = write_empad(tmp_path, frames, "<pix_x>4</pix_x><pix_y>2</pix_y>")
    ds = load(xml)
    assert ds.shape == (2, 4, 128, 128) and ds.data_type is DataType.IMAGE_4D
    np.testing.assert_array_equal(np.asarray(ds), frames.reshape(2, 4, 128, 128))
    assert ds.dims[2].dimension_type is DimensionType.RECIPROCAL and ds.dims[2].units == "1/nm"
    assert ds.dims[3].scale == pytest.approx(0.025) and ds.dims[3].offset == pytest.approx(-64 * 0.025)
    assert ds.dims[1].units == "nm" and ds.dims[1].scale == pytest.approx(10.0)
    assert ds.metadata["acquisition"]["datetime"] == "2019-06-07T11:12:13"


def test_opening_the_raw_file_finds_its_xml(tmp_path, frames):
    _, raw = write_empad(tmp_path, frames, "<pix_x>4</pix_x><pix_y>2</pix_y>")
    assert load(raw).shape == (2, 4, 128, 128)


def test_series_count_gives_image_stack(tmp_path, frames):
    xml, _ = write_empad(tmp_path, frames, "<scan_parameters><series_count>8</series_count></scan_parameters>")
    ds = load(xml)
    assert ds.shape == (8, 128, 128) and ds.data_type is DataType.IMAGE_STACK


def test_short_raw_raises_truncated_naming_raw(tmp_path, frames):
    xml, raw = write_empad(tmp_path, frames, "<pix_x>4</pix_x><pix_y>4</pix_y>")
    with pytest.raises(TruncatedFileError, match=raw.name):
        load(xml)


def test_broken_xml_raises_sidkit_error(tmp_path, frames):
    xml, _ = write_empad(tmp_path, frames, "<pix_x>4</pix_x><pix_y>2</pix_y>")
    xml.write_text(xml.read_text()[:150])
    with pytest.raises(SidkitError, match="scan.xml"):
        load(xml, reader="empad")


def test_sniff_requires_empad_elements():
    assert EmpadReader().sniff(b"<?xml?><root><raw_file filename='a.raw'/>")
    assert not EmpadReader().sniff(b"<?xml?><svg></svg>")
