"""SPECS Nanonis files: ``.dat`` spectra, ``.sxm`` scans and ``.3ds`` grid spectroscopy.

Our own small parsers, written from the Nanonis file-format notes (the
formats are short text headers plus plain big-endian float32 blocks):

- ``.dat``: ``key<TAB>value`` header lines, ``[DATA]``, a tab-separated
  column header, numeric rows. One dataset per measured column, on the first
  (sweep) column as a SPECTRAL axis (linear when the sweep is uniform); data
  without a sweep (history data) is on time from ``Sample Period (ms)``.
- ``.sxm``: ``:KEY:`` sections up to ``:SCANIT_END:``, then ``\\x1a\\x04`` and
  ``channels x directions`` images of ``SCAN_PIXELS`` big-endian float32,
  memory-mapped. One dataset per channel and direction, ``(y, x)`` in metres,
  backward scans mirrored to forward orientation, ``up`` scans flipped so row 0
  is the top.
- ``.3ds``: ``key=value`` lines up to ``:HEADER_END:``, then per grid point the
  parameters and every channel's sweep, memory-mapped. One ``(y, x, sweep)``
  dataset per channel, the sweep values (float32, from the first point's
  ``Sweep Start``/``Sweep End``), the ``Z (m)`` parameter as a ``topography``
  image and all parameters as a ``parameters`` dataset.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    DataType,
    Dimension,
    DimensionType,
    Reader,
    TruncatedFileError,
)

from ._metadata import normalised_metadata
from ._raw import MemmapProxy, check_fits, file_size, lazy_memmap
from ._spm import linear_dim, quantity_for, safe_name, spm_dataset

__all__ = ["NanonisReader", "split_label"]

_MAX_HEADER = 1 << 20
_MAX_DAT_BYTES = 1 << 30


def split_label(label: str) -> tuple[str, str]:
    """``"Current (A) [bwd]"`` -> ``("Current [bwd]", "A")``: name and units."""
    m = re.search(r"\(([^()]*)\)", label)
    if not m:
        return label.strip(), ""
    name = (label[: m.start()] + label[m.end():]).strip()
    return re.sub(r"\s+", " ", name), m.group(1).strip()


def _float(text: Any, default: float = np.nan) -> float:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return default


def _sweep_dim(name: str, values: np.ndarray, units: str) -> tuple[Dimension, bool] | None:
    """The first column as the sweep dimension, and whether it is exact.

    A sweep uniform to within 1 % of a step is linear (exact). A measured,
    noisy sweep (monotonic within 25 % of a step, or following a straight
    line with correlation 0.99 or better) is also made linear with the mean
    step, the convention of the Nanonis tools, but flagged inexact so the
    caller keeps the measured column as a dataset. Any other monotonic sweep
    keeps its values. ``None`` when the column is no sweep at all (history
    data: a signal recorded over time).
    """
    v = np.asarray(values, dtype=float)
    kind = DimensionType.SPECTRAL
    if v.size < 2 or not np.all(np.isfinite(v)):
        return None
    step = (v[-1] - v[0]) / (v.size - 1)
    monotonic = step != 0 and bool(np.all(np.sign(np.diff(v)) == np.sign(step)))
    if step != 0:
        dev = float(np.max(np.abs(v - (v[0] + step * np.arange(v.size)))))
        if dev <= 0.01 * abs(step):
            return linear_dim(name, v.size, step, float(v[0]), units, kind), True
        straight = v.size > 2 and abs(float(np.corrcoef(np.arange(v.size), v)[0, 1])) >= 0.99
        if (monotonic and dev <= 0.25 * abs(step)) or (not monotonic and straight):
            return linear_dim(name, v.size, step, float(v[0]), units, kind), False
    if monotonic:
        return Dimension(name, v, units=units, quantity=quantity_for(units), dimension_type=kind), True
    return None


def _sample_dim(header: dict[str, str], size: int) -> Dimension:
    """Time (from ``Sample Period (ms)``) or sample index, for data without a sweep."""
    period = _float(header.get("Sample Period (ms)"))
    if np.isfinite(period) and period > 0:
        return linear_dim("time", size, period * 1e-3, 0.0, "s", DimensionType.TEMPORAL)
    return linear_dim("index", size, 1.0, 0.0, "", DimensionType.TEMPORAL)


def _decode(raw: bytes) -> str:
    """Header text: UTF-8 as recent Nanonis versions write it, else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _datetime(text: str | None) -> str | None:
    if not text:
        return None
    m = re.search(r"(\d\d)\.(\d\d)\.(\d{4})\s+(\d\d:\d\d:\d\d)", text)
    if m:
        return f"{m.group(3)}-{m.group(2)}-{m.group(1)}T{m.group(4)}"
    return None


class NanonisReader(Reader):
    """Read Nanonis ``.dat`` spectra, ``.sxm`` images and ``.3ds`` grids."""

    name: ClassVar[str] = "nanonis"
    extensions: ClassVar[tuple[str, ...]] = (".dat", ".sxm", ".3ds")
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "SPECS Nanonis .dat spectra, .sxm scans, .3ds grids"

    def sniff(self, head: bytes) -> bool:
        if head.startswith(b":NANONIS_VERSION:") or head.startswith(b'Grid dim="'):
            return True
        return head.startswith(b"Experiment\t") or (b"\n[DATA]" in head and b"\t" in head[:256])

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every channel of a Nanonis file (see the module notes for layouts)."""
        path = Path(path)
        with open(path, "rb") as fh:
            head = fh.read(64)
        if head.startswith(b":NANONIS_VERSION:"):
            return self._sxm(path)
        if head.startswith(b'Grid dim="'):
            return self._3ds(path)
        return self._dat(path)

    # ------------------------------------------------------------------ .dat
    def _dat(self, path: Path) -> dict[str, Dataset]:
        size = file_size(path)
        if size > _MAX_DAT_BYTES:
            raise CorruptFileError(path, self.name, f"a {size}-byte text spectrum is beyond the 1 GiB cap")
        with open(path, "rb") as fh:
            text = _decode(fh.read())
        lines = text.splitlines()
        try:
            start = next(i for i, line in enumerate(lines) if line.strip() == "[DATA]")
        except StopIteration as exc:
            raise CorruptFileError(path, self.name, "has no [DATA] section; not a Nanonis .dat file") from exc
        header: dict[str, str] = {}
        for line in lines[:start]:
            if "\t" in line:
                key, value = line.split("\t", 1)
                if key.strip():
                    header[key.strip()] = value.strip().rstrip("\t").strip()
        if start + 1 >= len(lines):
            raise TruncatedFileError(path, self.name, "ends after [DATA] without a column header")
        columns = [c.strip() for c in lines[start + 1].split("\t")]
        while columns and not columns[-1]:
            columns.pop()
        if not columns:
            raise CorruptFileError(path, self.name, "the [DATA] section has an empty column header")
        rows = []
        ncol = len(columns)
        for line in lines[start + 2:]:
            if not line.strip():
                continue
            cells = line.split("\t")[:ncol]
            try:  # the common case: every cell a number (float() strips blanks as str.strip does)
                row = list(map(float, cells))
            except ValueError:
                row = [_float(c) for c in cells]
            rows.append(row + [np.nan] * (ncol - len(cells)) if len(cells) < ncol else row)
        if not rows:
            raise TruncatedFileError(path, self.name, "holds no data rows after the column header")
        table = np.asarray(rows, dtype=np.float64)
        sweep_name, sweep_units = split_label(columns[0])
        sweep = _sweep_dim(sweep_name or "sweep", table[:, 0], sweep_units) if ncol > 1 else None
        axis, exact = sweep if sweep is not None else (_sample_dim(header, len(table)), False)
        metadata = normalised_metadata(
            acquisition={"datetime": _datetime(header.get("Date") or header.get("Saved Date")),
                         "exposure_s": _float(header.get("Integration time (s)"), None)},
            instrument={"vendor": "SPECS Nanonis"},
        )
        original = {"header": header, "columns": columns}
        # the table is parsed text, already in memory: each column is a view of one
        # copy, which sidkit.core wraps lazily and hands back without copying
        columns_data = np.ascontiguousarray(table.T)
        out: dict[str, Dataset] = {}
        first = 0 if not exact else 1  # an approximated sweep, or a signal, is kept as data too
        for j, label in enumerate(columns[first:], start=first):
            name, units = split_label(label)
            out[safe_name(label, out)] = spm_dataset(
                columns_data[j], [axis], path=path, reader=self.name, title=label, units=units,
                metadata=metadata, original_metadata={**original, "column": label},
                modality=header.get("Experiment", "STS"), data_type=DataType.SPECTRUM)
        return out

    # ------------------------------------------------------------------ .sxm
    def _sxm_header(self, path: Path) -> tuple[dict[str, str], int]:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_HEADER)
        end = raw.find(b":SCANIT_END:")
        if end < 0:
            raise TruncatedFileError(path, self.name, "no :SCANIT_END: within the first MiB; header truncated")
        tag = raw.find(b"\x1a\x04", end)
        if tag < 0:
            raise TruncatedFileError(path, self.name, "the \\x1a\\x04 data tag after the header is missing")
        text = _decode(raw[:end])
        header: dict[str, str] = {}
        for m in re.finditer(r":([^:\n]+):\n(.*?)(?=\n:[^:\n]+:\n|\Z)", text + "\n", flags=re.S):
            header[m.group(1).strip()] = m.group(2).strip("\n")
        return header, tag + 2

    def _sxm(self, path: Path) -> dict[str, Dataset]:
        header, offset = self._sxm_header(path)
        try:
            nx, ny = (int(float(v)) for v in header["SCAN_PIXELS"].split()[:2])
            rx, ry = (float(v) for v in header.get("SCAN_RANGE", "0 0").split()[:2])
            ox, oy = (float(v) for v in header.get("SCAN_OFFSET", "0 0").split()[:2])
        except (KeyError, ValueError) as exc:
            raise CorruptFileError(path, self.name, f"SCAN_PIXELS/RANGE/OFFSET unreadable ({exc})") from exc
        info = [line.split("\t") for line in header.get("DATA_INFO", "").splitlines()]
        info = [[c.strip() for c in row if c.strip()] for row in info]
        info = [row for row in info if row]
        if not info or info[0][:2] != ["Channel", "Name"]:
            raise CorruptFileError(path, self.name, "DATA_INFO table is missing or malformed")
        images: list[tuple[str, str, str]] = []
        for row in info[1:]:
            if len(row) < 4:
                continue
            directions = ["forward", "backward"] if row[3].lower() == "both" else [row[3].lower()]
            images.extend((row[1], row[2], d) for d in directions)
        if nx <= 0 or ny <= 0 or not images:
            raise CorruptFileError(path, self.name, f"declares {nx} x {ny} pixels and {len(images)} images")
        shape = (len(images), ny, nx)
        check_fits(path, self.name, shape, 4, offset, what="the scan images")
        proxy = MemmapProxy(path, ">f4", shape, offset=offset, reader=self.name)
        stack = lazy_memmap(proxy, chunks=(1, ny, nx))
        up = header.get("SCAN_DIR", "").strip().lower() == "up"
        dims = [linear_dim("y", ny, ry / ny if ry else 1.0, oy - ry / 2, "m", "spatial"),
                linear_dim("x", nx, rx / nx if rx else 1.0, ox - rx / 2, "m", "spatial")]
        metadata = normalised_metadata(
            acquisition={"datetime": _datetime(f"{header.get('REC_DATE', '')} {header.get('REC_TIME', '')}")},
            instrument={"vendor": "SPECS Nanonis", "software": header.get("NANONIS_VERSION")},
            calibration={"pixel_size": [dims[0].scale, dims[1].scale], "pixel_units": ["m", "m"]},
        )
        original = {"header": header}
        out: dict[str, Dataset] = {}
        for k, (chan, units, direction) in enumerate(images):
            img = stack[k]
            if direction == "backward":
                img = img[:, ::-1]
            if up:
                img = img[::-1, :]
            title = f"{chan} ({direction})"
            out[safe_name(f"{chan}_{direction}", out)] = spm_dataset(
                img, dims, path=path, reader=self.name, title=title, units=units, metadata=metadata,
                original_metadata={**original, "channel": chan, "direction": direction},
                modality="STM", data_type=DataType.IMAGE)
        return out

    # ------------------------------------------------------------------ .3ds
    def _3ds(self, path: Path) -> dict[str, Dataset]:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_HEADER)
        end = raw.find(b":HEADER_END:")
        if end < 0:
            raise TruncatedFileError(path, self.name, "no :HEADER_END: within the first MiB; header truncated")
        offset = raw.find(b"\n", end) + 1
        if offset <= 0:
            raise TruncatedFileError(path, self.name, "the header does not end with a newline")
        header: dict[str, str] = {}
        for line in _decode(raw[:end]).splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                header[key.strip()] = value.strip().strip('"')
        try:
            nx, ny = (int(v) for v in re.findall(r"\d+", header["Grid dim"])[:2])
            npar = int(header["# Parameters (4 byte)"])
            points = int(header["Points"])
            channels = [c for c in header.get("Channels", "").split(";") if c]
            params = [p for p in (header.get("Fixed parameters", "").split(";")
                                  + header.get("Experiment parameters", "").split(";")) if p]
        except (KeyError, ValueError) as exc:
            raise CorruptFileError(path, self.name, f"grid header unreadable ({exc})") from exc
        if min(nx, ny, points) <= 0 or npar < 0 or not channels:
            raise CorruptFileError(path, self.name, f"declares grid {nx}x{ny}, {points} points, {channels}")
        per_point = npar + len(channels) * points
        shape = (ny, nx, per_point)
        check_fits(path, self.name, shape, 4, offset, what="the grid data")
        block = lazy_memmap(MemmapProxy(path, ">f4", shape, offset=offset, reader=self.name),
                            chunks=(max(1, min(ny, (64 << 20) // max(1, nx * per_point * 4))), nx, per_point))
        try:
            cx, cy, width, height = (float(v) for v in header.get("Grid settings", "").split(";")[:4])
        except ValueError:
            cx = cy = 0.0
            width, height = float(nx), float(ny)
        with open(path, "rb") as fh:
            fh.seek(offset)
            first = np.frombuffer(fh.read(4 * max(npar, 2)), dtype=">f4")
        start, stop = (float(first[0]), float(first[1])) if first.size >= 2 else (0.0, points - 1.0)
        sweep_name, sweep_units = split_label(header.get("Sweep Signal", "sweep"))
        sweep = Dimension.linear(sweep_name or "sweep", points, scale=(stop - start) / max(points - 1, 1),
                                 offset=start, units=sweep_units, quantity=quantity_for(sweep_units),
                                 dimension_type=DimensionType.SPECTRAL)
        ydim = linear_dim("y", ny, height / ny if height else 1.0, cy - height / 2, "m", "spatial")
        xdim = linear_dim("x", nx, width / nx if width else 1.0, cx - width / 2, "m", "spatial")
        metadata = normalised_metadata(
            acquisition={"datetime": _datetime(header.get("Start time"))},
            instrument={"vendor": "SPECS Nanonis"},
            calibration={"pixel_size": [ydim.scale, xdim.scale], "pixel_units": ["m", "m"]},
        )
        original = {"header": header}
        out: dict[str, Dataset] = {}
        for c, label in enumerate(channels):
            name, units = split_label(label)
            data = block[:, :, npar + c * points: npar + (c + 1) * points]
            out[safe_name(label, out)] = spm_dataset(
                data, [ydim, xdim, sweep], path=path, reader=self.name, title=label, units=units,
                metadata=metadata, original_metadata={**original, "channel": label},
                modality=header.get("Experiment", "STS"), data_type=DataType.SPECTRAL_IMAGE)
        out[safe_name("sweep", out)] = spm_dataset(
            np.linspace(start, stop, points, dtype=np.float32), [sweep], path=path, reader=self.name,
            title=f"sweep {header.get('Sweep Signal', '')}".strip(), units=sweep_units, metadata=metadata,
            original_metadata=original, data_type=DataType.LINE_PLOT)
        if npar:
            names = (params + [f"param_{i}" for i in range(len(params), npar)])[:npar]
            if "Z (m)" in names:  # the feedback height at each grid point: the topography
                out[safe_name("topography", out)] = spm_dataset(
                    block[:, :, names.index("Z (m)")], [ydim, xdim], path=path, reader=self.name,
                    title="Z (m)", units="m", metadata=metadata, original_metadata=original,
                    data_type=DataType.IMAGE)
            # parameters are indexed by number (their units differ); the names travel in the metadata
            pdim = Dimension.linear("parameter", npar, units="", quantity="parameter",
                                    dimension_type=DimensionType.CHANNEL)
            out[safe_name("parameters", out)] = spm_dataset(
                block[:, :, :npar], [ydim, xdim, pdim], path=path, reader=self.name, title="parameters",
                units="", metadata=metadata, original_metadata={**original, "parameter_names": names},
                data_type=DataType.IMAGE_STACK)
        return out
