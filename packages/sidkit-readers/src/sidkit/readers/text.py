"""Delimited text spectra (``.csv``, ``.txt``, ``.tsv``).

A table of numbers, optionally preceded by ``#`` comments and one header
line naming the columns (``"Energy (eV)"`` or ``"Energy [eV]"`` give name and
units). The delimiter (comma, tab, semicolon or whitespace) is detected. With
two or more columns the first is the axis and every other column becomes a
spectrum; a single column is a spectrum on index values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, DataType, Dimension, DimensionType, Reader, make_record

from ._raw import file_size
from ._version import __version__

__all__ = ["TextReader", "parse_table"]

_MAX_BYTES = 512 << 20
_DELIMS = (",", "\t", ";", None)
_SPECTRAL_UNITS = {"ev", "kev", "mev", "nm", "cm-1", "1/cm", "cm^-1", "hz", "ghz", "thz", "v", "mv", "s", "ms",
                   "um", "µm", "a.u.", "°", "deg", "2theta"}


def _cells(line: str, delim: str | None) -> list[str]:
    return [c.strip() for c in (line.split(delim) if delim else line.split())]


def _numeric(cells: list[str]) -> bool:
    try:
        [float(c) for c in cells if c != ""]
    except ValueError:
        return False
    return any(c != "" for c in cells)


def _label(text: str) -> tuple[str, str]:
    m = re.fullmatch(r"\s*(.*?)\s*[\(\[]\s*([^\)\]]*)\s*[\)\]]\s*", text)
    if m:
        return m.group(1) or "value", m.group(2)
    return text.strip().strip('"') or "value", ""


def parse_table(text: str) -> tuple[list[str], np.ndarray, list[str]]:
    """Parse delimited text into (column names, 2-D float table, comments).

    Raises
    ------
    ValueError
        Fewer than two numeric rows, or rows of differing widths.
    """
    comments: list[str] = []
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith(("#", "%", "//")):
            comments.append(s.lstrip("#%/ ").rstrip())
            continue
        lines.append(s)
    if len(lines) < 2:
        raise ValueError("fewer than two data lines")
    sample = lines[1:21]
    for delim in _DELIMS:
        widths = {len(_cells(line, delim)) for line in sample}
        if len(widths) == 1 and all(_numeric(_cells(line, delim)) for line in sample):
            break
    else:
        raise ValueError("no delimiter gives consistent numeric rows")
    ncol = len(_cells(sample[0], delim))
    first = _cells(lines[0], delim)
    header: list[str] = []
    body = lines
    if not _numeric(first):
        header = [c.strip('"') for c in first]
        body = lines[1:]
    rows = []
    for line in body:
        cells = _cells(line, delim)
        if len(cells) != ncol:
            raise ValueError(f"row of {len(cells)} cells among rows of {ncol}")
        rows.append([float(c) if c else np.nan for c in cells])
    names = header if len(header) == ncol else [f"column_{i}" for i in range(ncol)]
    return names, np.asarray(rows, dtype=np.float64), comments


def _axis(name: str, units: str, values: np.ndarray) -> Dimension:
    kind = DimensionType.SPECTRAL if units.lower() in _SPECTRAL_UNITS or "energy" in name.lower() \
        or "wavelength" in name.lower() or "shift" in name.lower() else DimensionType.UNKNOWN
    v = values
    if v.size >= 2 and np.all(np.isfinite(v)):
        step = (v[-1] - v[0]) / (v.size - 1)
        if step != 0 and np.max(np.abs(v - (v[0] + step * np.arange(v.size)))) <= 1e-6 * abs(step) * v.size:
            return Dimension.linear(name, v.size, scale=step, offset=float(v[0]), units=units, dimension_type=kind)
    return Dimension(name, v, units=units, dimension_type=kind)


class TextReader(Reader):
    """Read delimited numeric text: each column after the first is a spectrum."""

    name: ClassVar[str] = "text"
    extensions: ClassVar[tuple[str, ...]] = (".csv", ".txt", ".tsv")
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = -10
    description: ClassVar[str] = "CSV/TXT spectra (first column = axis)"

    def sniff(self, head: bytes) -> bool:
        if not head or b"\x00" in head:
            return False
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            return False
        lines = text.splitlines()[:-1] if len(head) >= 4096 else text.splitlines()
        try:
            parse_table("\n".join(lines))
        except (ValueError, IndexError):
            return False
        return True

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read the table; returns one spectrum Dataset per value column.

        Raises
        ------
        CorruptFileError
            Not a consistent numeric table, or larger than 512 MiB.
        """
        path = Path(path)
        if file_size(path) > _MAX_BYTES:
            raise CorruptFileError(path, self.name, "text tables larger than 512 MiB are not read; use reader='raw'")
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode("utf-8-sig")
            names, table, comments = parse_table(text)
        except UnicodeDecodeError as exc:
            raise CorruptFileError(path, self.name, f"is not UTF-8 text: {exc}") from exc
        except ValueError as exc:
            raise CorruptFileError(path, self.name, f"is not a numeric table: {exc}") from exc
        original = {"columns": names, "comments": comments}
        record = make_record("sidkit.readers.text.TextReader.read", {"path": str(path)}, package="sidkit-readers", version=__version__)
        if table.shape[1] == 1:
            name, units = _label(names[0])
            dim = Dimension("index", table.shape[0], units="", dimension_type=DimensionType.SPECTRAL)
            return {name: Dataset(table[:, 0].copy(), [dim], title=name, units=units, source=str(path),
                                  data_type=DataType.SPECTRUM, original_metadata=original,
                                  provenance=[record])}
        aname, aunits = _label(names[0])
        axis = _axis(aname or "x", aunits, table[:, 0])
        out: dict[str, Dataset] = {}
        for j in range(1, table.shape[1]):
            name, units = _label(names[j])
            key = name if name not in out and name != axis.name else f"{name}_{j}"
            out[key] = Dataset(table[:, j].copy(), [axis], title=names[j], units=units, source=str(path),
                               data_type=DataType.SPECTRUM if axis.dimension_type is DimensionType.SPECTRAL
                               else DataType.LINE_PLOT,
                               original_metadata={**original, "column": names[j]}, provenance=[dict(record)])
        return out
