"""CSV/TXT spectra reader."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import CorruptFileError, DataType, DimensionType, load, load_all
from sidkit.readers.text import TextReader, parse_table


def test_csv_with_header_gives_one_spectrum_per_column(tmp_path):
    e = np.linspace(100, 200, 11)
    rows = "\n".join(f"{x},{2 * x},{x ** 0.5}" for x in e)
    p = tmp_path / "eels.csv"
    p.write_text("# acquired on a Nion\nEnergy loss (eV),Counts,Background [counts]\n" + rows + "\n")
    out = load_all(p)
    assert list(out) == ["Counts", "Background"]
    ds = out["Counts"]
    assert ds.data_type is DataType.SPECTRUM
    assert ds.dims[0].name == "Energy loss" and ds.dims[0].units == "eV"
    assert ds.dims[0].dimension_type is DimensionType.SPECTRAL
    assert ds.dims[0].scale == pytest.approx(10.0)
    np.testing.assert_allclose(np.asarray(ds), 2 * e)
    assert out["Background"].units == "counts"
    assert ds.original_metadata["comments"] == ["acquired on a Nion"]


def test_whitespace_table_without_header(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("1 10\n2 20\n3 30\n")
    ds = load(p)
    np.testing.assert_allclose(np.asarray(ds), [10, 20, 30])
    np.testing.assert_allclose(ds.dims[0].values, [1, 2, 3])


def test_single_column_is_spectrum_on_index(tmp_path):
    p = tmp_path / "one.tsv"
    p.write_text("5\n6\n7\n")
    assert load(p).shape == (3,)


def test_ragged_table_raises_corrupt_naming_file(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("1,2\n3,4\n5,6\n7\n")
    with pytest.raises(CorruptFileError, match="ragged.csv"):
        load(p, reader="text")


def test_sniff_rejects_binary_and_prose():
    r = TextReader()
    assert not r.sniff(b"\x00\x01\x02binary")
    assert not r.sniff(b"Dear reader,\nthis is prose.\n")
    assert r.sniff(b"1,2\n3,4\n")


def test_parse_table_reports_names_and_values():
    names, table, _ = parse_table("a;b\n1;2\n3;4\n")
    assert names == ["a", "b"] and table.tolist() == [[1, 2], [3, 4]]
