"""``repr`` and the Jupyter HTML repr of a Dataset."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import dask.array as da
import numpy as np

from sidkit.core import Dataset, Dimension
from sidkit.core.display import chunk_summary, format_size, html_repr, text_repr


class _Collect(HTMLParser):
    """Table cells and the nesting of tags, to check the HTML is well formed."""

    VOID = {"br", "hr", "img", "meta", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.cells: list[str] = []
        self.summaries: list[str] = []
        self._in: str | None = None
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag in ("td", "summary"):
            self._in = tag
            (self.cells if tag == "td" else self.summaries).append("")

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()
        if tag in ("td", "summary"):
            self._in = None

    def handle_data(self, data):
        if self._in == "td":
            self.cells[-1] += data
        elif self._in == "summary":
            self.summaries[-1] += data


def parse(text: str) -> _Collect:
    p = _Collect()
    p.feed(text)
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    return p


def test_text_repr_lists_every_dim_with_range_and_units(spectral_image):
    text = text_repr(spectral_image)
    lines = text.splitlines()
    assert lines[0] == "<sidkit.Dataset 'SI' shape=(4, 3, 5) dtype=float32 chunks=(2, 3, 5) SPECTRAL_IMAGE>"
    assert lines[1].startswith("  values: intensity [counts]")
    assert re.search(r"energy\s+SPECTRAL\s+5 values 100 \.\. 140 eV", text)
    assert re.search(r"x\s+SPATIAL\s+4 values 0 \.\. 1\.5 nm", text)
    assert "metadata: beam" in text
    assert "provenance: 1 record(s), last sidkit.core.Dataset.from_array" in text


def test_text_repr_mentions_modality_source_and_variance():
    ds = Dataset(np.ones(3), ["e"], modality="EELS", source="a.dm4", variance=np.ones(3))
    assert "(modality: EELS; source: a.dm4; with variance)" in text_repr(ds)


def test_html_repr_has_dims_table_with_ranges_units_and_types(spectral_image):
    out = html_repr(spectral_image)
    p = parse(out)
    rows = [p.cells[i:i + 6] for i in range(0, len(p.cells), 6)]
    assert rows == [
        ["x", "spatial", "4", "0 … 1.5 (step 0.5)", "nm", "length"],
        ["y", "spatial", "3", "0 … 1 (step 0.5)", "nm", "length"],
        ["energy", "spectral", "5", "100 … 140 (step 10)", "eV", "energy"],
    ]
    assert "spectral image" in out and "intensity [counts]" in out


def test_html_repr_shows_chunk_layout(spectral_image):
    out = html_repr(spectral_image)
    assert "2 chunks of (2, 3, 5), 120 B each" in out
    assert "240 B" in out  # total size of 4*3*5 float32


def test_html_repr_metadata_is_collapsible_and_nested(spectral_image):
    ds = spectral_image.copy()
    ds.metadata = {"beam": {"energy_eV": 2e5, "mode": "STEM"}, "detector": "HAADF"}
    ds.original_metadata = {"ImageList": [{"Name": "a"}, {"Name": "b"}]}
    p = parse(html_repr(ds))
    summaries = [s.strip() for s in p.summaries]
    assert "metadata (2)" in summaries
    assert "original_metadata (1)" in summaries
    assert "beam (2)" in summaries
    out = html_repr(ds)
    assert "<span class='sk-key'>energy_eV</span>: 200000.0" in out
    assert "&#x27;STEM&#x27;" in out  # strings quoted, then escaped


def test_html_repr_escapes_text_from_files():
    evil = "<script>alert(1)</script>"
    ds = Dataset(np.ones((2, 2)), [Dimension("x<b>", 2, units="<i>"), "y"], title=evil,
                 metadata={evil: evil}, original_metadata={"k": [evil]})
    out = html_repr(ds)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "x<b>" not in out
    parse(out)


def test_html_repr_caps_huge_metadata():
    meta = {f"key{i}": "v" * 10_000 for i in range(500)}
    ds = Dataset(np.ones(2), ["e"], metadata=meta)
    out = html_repr(ds)
    assert len(out) < 100_000
    assert "450 more" in out
    parse(out)


def test_html_repr_does_not_compute_the_data():
    def boom(block):
        raise AssertionError("the repr computed the data")

    lazy = da.ones((4, 4), chunks=2).map_blocks(boom, dtype=float)
    ds = Dataset(lazy, ["y", "x"], title="lazy")
    assert "4 chunks of (2, 2), 32 B each" in html_repr(ds)
    assert "lazy" in text_repr(ds)


def test_html_repr_lists_provenance_records(spectral_image):
    out = spectral_image.derive(process="mypkg.double", parameters={"factor": 2})
    p = parse(html_repr(out))
    assert any(s.strip().startswith("2. mypkg.double") for s in p.summaries)
    assert "provenance (2)" in [s.strip() for s in p.summaries]


def test_format_size_uses_binary_units():
    assert format_size(100) == "100 B"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(3 * 2**30) == "3.0 GiB"


def test_chunk_summary_of_scalar_dataset():
    ds = Dataset(np.float32(1.0))
    assert chunk_summary(ds) == "1 chunk of (), 4 B each"
