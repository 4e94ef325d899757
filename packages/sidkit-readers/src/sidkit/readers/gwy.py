"""Gwyddion native files (``.gwy``, ``GWYP`` serialisation), via gwyfile.

Every channel (``/N/data`` GwyDataField) becomes a 2-D dataset ``(y, x)``
with pixel size ``xreal / xres`` (Gwyddion's convention) and offset
``xoff``; volume data (``/brick/N`` GwyBrick) becomes a 3-D ``(z, y, x)``
dataset and graph curves (``/0/graph/graph/N``) 1-D line plots.
gwyfile parses the whole file into memory; the returned dask arrays wrap it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, DataType, Dataset, Reader, TruncatedFileError, require

from ._metadata import normalised_metadata
from ._spm import linear_dim, plain, safe_name, spm_dataset

__all__ = ["GwyReader"]

_MAX_ITEMS = 1 << 31


def _unit(obj: Any) -> str:
    if obj is None:
        return ""
    try:
        return str(obj.get("unitstr", "") or "")
    except AttributeError:
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
    extra: ClassVar[str | None] = "gwy"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Gwyddion GWY (channels, volume, graphs), via gwyfile"

    def sniff(self, head: bytes) -> bool:
        return head[:4] == b"GWYP" and head[4:16] == b"GwyContainer"

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every channel, brick and graph curve of a ``.gwy`` file.

        Returns
        -------
        dict of str to Dataset
            Channels first (in channel-number order), then bricks, then curves.
        """
        gwyfile = require("gwyfile", extra=self.extra, reader=self.name)
        path = Path(path)
        with open(path, "rb") as fh:
            head = fh.read(16)
        if not self.sniff(head):
            raise CorruptFileError(path, self.name, "does not start with 'GWYPGwyContainer'; not a Gwyddion 2 file")
        try:
            container = gwyfile.load(str(path))
        except (EOFError, IndexError) as exc:
            raise TruncatedFileError(path, self.name, f"the container ends early ({type(exc).__name__}: {exc})") from exc
        except Exception as exc:  # gwyfile raises many kinds on damaged input
            raise CorruptFileError(path, self.name, f"gwyfile cannot parse it: {type(exc).__name__}: {exc}") from exc
        if not hasattr(container, "items"):
            raise CorruptFileError(path, self.name, "the top-level object is not a GwyContainer")
        out: dict[str, Dataset] = {}
        keys = list(container.keys())
        channels = sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"/(\d+)/data", k))})
        for n in channels:
            self._channel(path, container, n, out)
        bricks = sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"/brick/(\d+)", k))})
        for n in bricks:
            self._brick(path, container, n, out)
        graphs = sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"/0/graph/graph/(\d+)", k))})
        for n in graphs:
            self._graph(path, container, n, out)
        return out

    def _array(self, path: Path, field: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
        data = field.get("data")
        if data is None or any(s <= 0 for s in shape) or int(np.prod(shape)) > _MAX_ITEMS:
            raise CorruptFileError(path, self.name, f"{what} declares shape {shape} without matching data")
        arr = np.asarray(data)
        if arr.size != int(np.prod(shape)):
            raise CorruptFileError(path, self.name,
                                   f"{what} declares shape {shape} but holds {arr.size} values")
        return arr.reshape(shape)

    def _channel(self, path: Path, c: Any, n: int, out: dict[str, Dataset]) -> None:
        field = c[f"/{n}/data"]
        if not hasattr(field, "get"):
            return
        xres, yres = int(_num(field, "xres", 0)), int(_num(field, "yres", 0))
        arr = self._array(path, field, (yres, xres), f"channel {n}")
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

    def _brick(self, path: Path, c: Any, n: int, out: dict[str, Dataset]) -> None:
        b = c[f"/brick/{n}"]
        if not hasattr(b, "get"):
            return
        xres, yres, zres = (int(_num(b, k, 0)) for k in ("xres", "yres", "zres"))
        arr = self._array(path, b, (zres, yres, xres), f"brick {n}")
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
            xs, ys = np.asarray(curve.get("xdata", [])), np.asarray(curve.get("ydata", []))
            if xs.ndim != 1 or xs.shape != ys.shape or xs.size == 0:
                continue
            from sidkit.core import Dimension
            dim = Dimension("x", xs.astype(float), units=ux, quantity="generic")
            title = str(curve.get("description", "") or f"graph {n} curve {j}")
            out[safe_name(title, out)] = spm_dataset(
                ys, [dim], path=path, reader=self.name, title=title, units=uy, metadata={},
                original_metadata={"graph": n, "curve": j, "title": plain(g.get("title", ""))},
                data_type=DataType.LINE_PLOT)
