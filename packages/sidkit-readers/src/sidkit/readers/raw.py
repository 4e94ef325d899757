"""Generic raw binary arrays with a user-given layout (``reader="raw"``).

Raw files carry no header, so this reader never claims a file by itself:
choose it explicitly, ``load(path, reader="raw", shape=(64, 64, 256, 256),
dtype="<u2")``. The array is memory-mapped and read lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    Dimension,
    DimensionType,
    Reader,
    UnknownFormatError,
    make_record,
)

from ._raw import MemmapProxy, check_fits, file_size, frame_chunks, lazy_memmap
from ._version import __version__

__all__ = ["RawReader"]


class RawReader(Reader):
    """Memory-map a headerless binary file with a given shape, dtype and offset.

    Options
    -------
    shape : tuple of int
        Array shape (required). One entry may be ``-1``: inferred from the size.
    dtype : numpy dtype, default "<f4"
        Element type including byte order (``"<u2"``, ``">f4"``, ...).
    offset : int, default 0
        Bytes to skip before the data (a header).
    order : {"C", "F"}, default "C"
        Memory order.
    dims : sequence of str or Dimension, optional
        Names (or full Dimensions) of the axes.
    data_type : DataType or str, optional
        E.g. ``"image_4d"``; with four dims named by default ``(y, x, ky, kx)``
        as SPATIAL and RECIPROCAL for 4D-STEM.
    chunks : dask chunks, optional
    """

    name: ClassVar[str] = "raw"
    extensions: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = -100
    description: ClassVar[str] = "headerless binary with user-given shape/dtype/offset (reader='raw' only)"

    def sniff(self, head: bytes) -> bool:
        return False  # raw data cannot be recognised; choose it with reader="raw"

    def claims(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path, *, lazy: bool = True, shape: Sequence[int] | None = None,
             dtype: Any = "<f4", offset: int = 0, order: str = "C",
             dims: Sequence[str | Dimension] | None = None, data_type: Any = None,
             chunks: Any = None, title: str | None = None, **options: Any) -> dict[str, Dataset]:
        """Read the file as one array; see the class notes for the options.

        Raises
        ------
        UnknownFormatError
            ``shape`` is missing or invalid, or ``dtype``/``order`` is unknown.
        TruncatedFileError
            The file is shorter than ``offset + prod(shape) * itemsize``.
        """
        path = Path(path)
        if shape is None:
            raise UnknownFormatError(path, self.name,
                                     "a raw file has no header; pass shape=(...) and dtype=... "
                                     "(and offset= for a header to skip)")
        try:
            dt = np.dtype(dtype)
            shp = [int(n) for n in np.atleast_1d(shape)]
        except (TypeError, ValueError) as exc:
            raise UnknownFormatError(path, self.name, f"invalid shape {shape!r} or dtype {dtype!r}: {exc}") from exc
        if dt.hasobject or dt.itemsize == 0:
            raise UnknownFormatError(path, self.name, f"dtype {dt} cannot be memory-mapped")
        if order not in ("C", "F"):
            raise UnknownFormatError(path, self.name, f"order must be 'C' or 'F', not {order!r}")
        if shp.count(-1) > 1 or any(n < -1 for n in shp) or int(offset) < 0:
            raise UnknownFormatError(path, self.name, f"invalid shape {tuple(shp)} or offset {offset}")
        if -1 in shp:
            known = int(np.prod([n for n in shp if n != -1])) or 1
            avail = (file_size(path) - int(offset)) // dt.itemsize
            if avail % known:
                raise CorruptFileError(path, self.name,
                                       f"{avail} elements of {dt} are not a multiple of {known} (shape {tuple(shp)})")
            shp[shp.index(-1)] = avail // known
        shp_t = tuple(shp)
        check_fits(path, self.name, shp_t, dt.itemsize, int(offset))
        proxy = MemmapProxy(path, dt, shp_t, offset=int(offset), order=order, reader=self.name)
        if chunks is None:
            chunks = frame_chunks(shp_t, dt.itemsize, frame_axes=min(2, max(len(shp_t) - 1, 0))) \
                if order == "C" else "auto"
        arr = lazy_memmap(proxy, chunks=chunks)
        if not lazy:
            arr = arr.persist()
        if dims is None:
            if len(shp_t) == 4:
                dims = [Dimension("y", shp_t[0], units="px", dimension_type=DimensionType.SPATIAL),
                        Dimension("x", shp_t[1], units="px", dimension_type=DimensionType.SPATIAL),
                        Dimension("ky", shp_t[2], units="px", dimension_type=DimensionType.RECIPROCAL),
                        Dimension("kx", shp_t[3], units="px", dimension_type=DimensionType.RECIPROCAL)]
            elif len(shp_t) in (2, 3):
                names = ("y", "x") if len(shp_t) == 2 else ("frame", "y", "x")
                dims = [Dimension(n, s, units="px",
                                  dimension_type=DimensionType.UNKNOWN if n == "frame" else DimensionType.SPATIAL)
                        for n, s in zip(names, shp_t)]
        ds = Dataset(arr, dims, title=title or path.stem, source=str(path), data_type=data_type,
                     original_metadata={"shape": list(shp_t), "dtype": dt.str, "offset": int(offset),
                                        "order": order},
                     provenance=[make_record("sidkit.readers.raw.RawReader.read",
                                             {"path": str(path), "shape": list(shp_t), "dtype": dt.str,
                                              "offset": int(offset), "order": order},
                                             package="sidkit-readers", version=__version__)])
        return {"raw": ds}
