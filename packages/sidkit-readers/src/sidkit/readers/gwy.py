"""Gwyddion native files (``.gwy``, ``GWYP`` serialisation).

Our own bounded parser of the documented serialisation (gwyfile, the Python
library, loops forever on a truncated file, so it is used only as the
benchmark reference). The file is memory-mapped; number arrays larger than a
few kB are not copied but kept as (offset, count) references and read lazily.

Every channel (``/N/data`` GwyDataField) becomes a 2-D dataset ``(y, x)``
with pixel size ``xreal / xres`` (Gwyddion's convention) and offset
``xoff``; volume data (``/brick/N`` GwyBrick) becomes a 3-D ``(z, y, x)``
dataset and graph curves (``/0/graph/graph/N``) 1-D line plots.
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, DataType, Dimension, Reader, TruncatedFileError

from ._metadata import normalised_metadata
from ._raw import SMALL_ARRAY_BYTES, SMALL_TOTAL_BYTES, MemmapProxy, file_size, lazy_memmap
from ._spm import linear_dim, plain, safe_name, spm_dataset

__all__ = ["GwyReader"]

_MAX_ITEMS = 1 << 31

_MAX_DEPTH = 64
_SCALAR = {"b": ("<u1", 1), "c": ("<u1", 1), "i": ("<i4", 4), "q": ("<i8", 8), "d": ("<f8", 8)}
_ARRAYS = {"C": "<u1", "I": "<i4", "Q": "<i8", "D": "<f8"}
_INLINE_ARRAY = 4096


class _Corrupt(Exception):
    """Internal: the serialisation is inconsistent (turned into CorruptFileError)."""


class _Truncated(Exception):
    """Internal: the serialisation runs past the end of the file."""


class ArrayRef:
    """A number array inside the file: dtype, element count and byte offset."""

    __slots__ = ("dtype", "count", "offset")

    def __init__(self, dtype: str, count: int, offset: int) -> None:
        self.dtype, self.count, self.offset = dtype, count, offset

    def __repr__(self) -> str:
        return f"<array {self.dtype} x{self.count} @ {self.offset}>"


class GwyObject(dict):
    """A parsed GWY object: its components by name, and its type name."""

    def __init__(self, type_name: str) -> None:
        super().__init__()
        self.type_name = type_name


def _cstring(buf: Any, pos: int, end: int) -> tuple[str, int]:
    stop = buf.find(b"\0", pos, end)
    if stop < 0:
        raise _Truncated(f"unterminated string at byte {pos}")
    return bytes(buf[pos:stop]).decode("utf-8", "replace"), stop + 1


def _u32(buf: Any, pos: int, end: int) -> int:
    if pos + 4 > end:
        raise _Truncated(f"a size field at byte {pos} runs past the end")
    return int.from_bytes(buf[pos:pos + 4], "little")


def parse_object(buf: Any, pos: int, end: int, depth: int = 0) -> tuple[GwyObject, int]:
    """Parse one serialised GwyObject at ``pos``; return it and the position after it.

    Every size is checked against ``end`` before use, nesting is capped at
    64 levels, and large number arrays become :class:`ArrayRef`.
    """
    if depth > _MAX_DEPTH:
        raise _Corrupt("objects nested deeper than 64 levels")
    name, pos = _cstring(buf, pos, end)
    size = _u32(buf, pos, end)
    pos += 4
    stop = pos + size
    if stop > end:
        raise _Truncated(f"object {name!r} declares {size} bytes; only {end - pos} remain")
    obj = GwyObject(name)
    while pos < stop:
        key, pos = _cstring(buf, pos, stop)
        if pos >= stop:
            raise _Truncated(f"component {key!r} has no type code")
        code = chr(buf[pos])
        pos += 1
        if code in _SCALAR:
            dt, n = _SCALAR[code]
            if pos + n > stop:
                raise _Truncated(f"component {key!r} runs past its object")
            value: Any = np.frombuffer(buf, dtype=dt, count=1, offset=pos)[0].item()
            obj[key] = bool(value) if code == "b" else value
            pos += n
        elif code == "s":
            obj[key], pos = _cstring(buf, pos, stop)
        elif code == "o":
            obj[key], pos = parse_object(buf, pos, stop, depth + 1)
        elif code in _ARRAYS or code in "SO":
            count = _u32(buf, pos, stop)
            pos += 4
            if code in _ARRAYS:
                item = np.dtype(_ARRAYS[code]).itemsize
                if pos + count * item > stop:
                    raise _Truncated(f"array {key!r} of {count} items runs past its object")
                if count * item <= _INLINE_ARRAY:
                    obj[key] = np.frombuffer(buf, dtype=_ARRAYS[code], count=count, offset=pos).copy()
                else:
                    obj[key] = ArrayRef(_ARRAYS[code], count, pos)
                pos += count * item
            elif code == "S":
                if count > stop - pos:
                    raise _Corrupt(f"string array {key!r} declares {count} items")
                items = []
                for _ in range(count):
                    text, pos = _cstring(buf, pos, stop)
                    items.append(text)
                obj[key] = items
            else:
                if count > stop - pos:
                    raise _Corrupt(f"object array {key!r} declares {count} items")
                objs = []
                for _ in range(count):
                    child, pos = parse_object(buf, pos, stop, depth + 1)
                    objs.append(child)
                obj[key] = objs
        else:
            raise _Corrupt(f"unknown type code {code!r} for component {key!r}")
    return obj, stop



def _unit(obj: Any) -> str:
    if obj is None:
        return ""
    try:
        return str(obj.get("unitstr", "") or "")
    except (AttributeError, TypeError):
        return str(obj)


def _num(field: Any, key: str, default: float) -> float:
    try:
        value = float(field.get(key, default))
    except (TypeError, ValueError):
        return default
    return value if np.isfinite(value) else default


def _meta(container: Any, prefix: str) -> dict[str, Any]:
    out = {}
    for key, value in container.items():
        if key.startswith(prefix) and not hasattr(value, "items"):
            out[key] = plain(value)
    meta = container.get(prefix + "meta")
    if meta is not None and hasattr(meta, "items"):
        out["meta"] = {str(k): plain(v) for k, v in meta.items()}
    return out


class GwyReader(Reader):
    """Read Gwyddion ``.gwy`` files: channels, volume bricks and graph curves."""

    name: ClassVar[str] = "gwy"
    extensions: ClassVar[tuple[str, ...]] = (".gwy",)
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Gwyddion GWY (channels, volume, graphs), own bounded parser"

    def sniff(self, head: bytes) -> bool:
        return head[:4] == b"GWYP" and head[4:16] == b"GwyContainer"

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every channel, brick and graph curve of a ``.gwy`` file.

        Returns
        -------
        dict of str to Dataset
            Channels first (in channel-number order), then bricks, then curves.

        Raises
        ------
        CorruptFileError, TruncatedFileError
            The serialisation is inconsistent or ends early.
        """
        path = Path(path)
        size = file_size(path)
        if size < 20:
            raise TruncatedFileError(path, self.name, f"holds {size} bytes; too short for a GWY container")
        with open(path, "rb") as fh:
            try:
                buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as exc:
                raise CorruptFileError(path, self.name, f"cannot be mapped: {exc}") from exc
        try:
            if not self.sniff(bytes(buf[:16])):
                raise CorruptFileError(path, self.name,
                                       "does not start with 'GWYPGwyContainer'; not a Gwyddion 2 file")
            try:
                container, _ = parse_object(buf, 4, size)
            except _Truncated as exc:
                raise TruncatedFileError(path, self.name, f"the container ends early: {exc}") from exc
            except _Corrupt as exc:
                raise CorruptFileError(path, self.name, f"the container is inconsistent: {exc}") from exc
            out: dict[str, Dataset] = {}
            small = (buf, [SMALL_TOTAL_BYTES])  # small arrays are copied while the file is mapped
            keys = list(container.keys())
            channels = sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"/(\d+)/data", k))})
            for n in channels:
                self._channel(path, container, n, out, small)
            bricks = sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"/brick/(\d+)", k))})
            for n in bricks:
                self._brick(path, container, n, out, small)
            graphs = sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"/0/graph/graph/(\d+)", k))})
            for n in graphs:
                self._graph(path, container, n, out)
        finally:
            buf.close()
        return out

    def _array(self, path: Path, field: Any, shape: tuple[int, ...], what: str,
               small: tuple[Any, list[int]] | None = None) -> Any:
        """The field's data: copied now when small (``small`` = open map, byte budget), else lazy."""
        data = field.get("data")
        if data is None or any(s <= 0 for s in shape) or int(np.prod(shape)) > _MAX_ITEMS:
            raise CorruptFileError(path, self.name, f"{what} declares shape {shape} without matching data")
        count = data.count if isinstance(data, ArrayRef) else np.asarray(data).size
        if count != int(np.prod(shape)):
            raise CorruptFileError(path, self.name, f"{what} declares shape {shape} but holds {count} values")
        if isinstance(data, ArrayRef):
            nbytes = data.count * np.dtype(data.dtype).itemsize
            if small is not None and nbytes <= SMALL_ARRAY_BYTES and nbytes <= small[1][0]:
                small[1][0] -= nbytes
                return np.frombuffer(small[0], dtype=data.dtype, count=data.count,
                                     offset=data.offset).reshape(shape).astype(np.dtype(data.dtype).newbyteorder("="))
            proxy = MemmapProxy(path, data.dtype, shape, offset=data.offset, reader=self.name)
            return lazy_memmap(proxy, chunks="auto" if len(shape) > 2 else shape)
        return np.asarray(data).reshape(shape)

    def _curve(self, path: Path, value: Any) -> np.ndarray:
        if isinstance(value, ArrayRef):
            return np.asarray(MemmapProxy(path, value.dtype, (value.count,),
                                          offset=value.offset, reader="gwy")[:])
        return np.asarray(value if value is not None else [])

    def _channel(self, path: Path, c: Any, n: int, out: dict[str, Dataset],
                 small: tuple[Any, list[int]] | None = None) -> None:
        field = c[f"/{n}/data"]
        if not hasattr(field, "get"):
            return
        xres, yres = int(_num(field, "xres", 0)), int(_num(field, "yres", 0))
        arr = self._array(path, field, (yres, xres), f"channel {n}", small)
        xreal, yreal = _num(field, "xreal", xres), _num(field, "yreal", yres)
        uxy, uz = _unit(field.get("si_unit_xy")), _unit(field.get("si_unit_z"))
        dims = [linear_dim("y", yres, yreal / yres, _num(field, "yoff", 0.0), uxy, "spatial"),
                linear_dim("x", xres, xreal / xres, _num(field, "xoff", 0.0), uxy, "spatial")]
        title = str(c.get(f"/{n}/data/title", "") or f"channel {n}")
        field_meta = {k: plain(v) for k, v in field.items() if k != "data"}
        original = {"channel": n, "datafield": field_meta, **_meta(c, f"/{n}/")}
        metadata = normalised_metadata(calibration={"pixel_size": [yreal / yres, xreal / xres],
                                                    "pixel_units": [uxy, uxy]})
        out[safe_name(title, out)] = spm_dataset(arr, dims, path=path, reader=self.name, title=title,
                                                 units=uz, metadata=metadata, original_metadata=original,
                                                 data_type=DataType.IMAGE)

    def _brick(self, path: Path, c: Any, n: int, out: dict[str, Dataset],
               small: tuple[Any, list[int]] | None = None) -> None:
        b = c[f"/brick/{n}"]
        if not hasattr(b, "get"):
            return
        xres, yres, zres = (int(_num(b, k, 0)) for k in ("xres", "yres", "zres"))
        arr = self._array(path, b, (zres, yres, xres), f"brick {n}", small)
        ux, uy, uz = (_unit(b.get(k)) for k in ("si_unit_x", "si_unit_y", "si_unit_z"))
        dims = [linear_dim("z", zres, _num(b, "zreal", zres) / zres, _num(b, "zoff", 0.0), uz),
                linear_dim("y", yres, _num(b, "yreal", yres) / yres, _num(b, "yoff", 0.0), uy, "spatial"),
                linear_dim("x", xres, _num(b, "xreal", xres) / xres, _num(b, "xoff", 0.0), ux, "spatial")]
        if dims[0].dimension_type.name == "UNKNOWN":
            dims[0] = dims[0].replace(dimension_type="spectral")
        title = str(c.get(f"/brick/{n}/title", "") or f"brick {n}")
        original = {"brick": n, "fields": {k: plain(v) for k, v in b.items() if k != "data"}}
        out[safe_name(title, out)] = spm_dataset(arr, dims, path=path, reader=self.name, title=title,
                                                 units=_unit(b.get("si_unit_w")), metadata={},
                                                 original_metadata=original)

    def _graph(self, path: Path, c: Any, n: int, out: dict[str, Dataset]) -> None:
        g = c[f"/0/graph/graph/{n}"]
        if not hasattr(g, "get"):
            return
        ux, uy = _unit(g.get("x_unit")), _unit(g.get("y_unit"))
        for j, curve in enumerate(g.get("curves") or []):
            if not hasattr(curve, "get"):
                continue
            xs, ys = self._curve(path, curve.get("xdata")), self._curve(path, curve.get("ydata"))
            if xs.ndim != 1 or xs.shape != ys.shape or xs.size == 0:
                continue
            dim = Dimension("x", xs.astype(float), units=ux, quantity="generic")
            title = str(curve.get("description", "") or f"graph {n} curve {j}")
            out[safe_name(title, out)] = spm_dataset(
                ys, [dim], path=path, reader=self.name, title=title, units=uy, metadata={},
                original_metadata={"graph": n, "curve": j, "title": plain(g.get("title", ""))},
                data_type=DataType.LINE_PLOT)
