"""TIFF files, with the calibration and metadata of electron microscopes.

FEI/Thermo Fisher (``FEI_HELIOS``/``FEI_SFEG`` tags), Zeiss SEM
(``CZ_SEM``), JEOL (SightX), Gatan/ImageJ/Olympus TIFF metadata are parsed by
RosettaSciIO on top of tifffile (``pip install "sidkit-readers[tiff]"``).
The pixels are read by sidkit: uncompressed contiguous series are
memory-mapped chunk by chunk; compressed ones are decoded page by page on
demand (LZW, JPEG, packed n-bit pages by imagecodecs, part of the ``tiff``
extra). RGB(A) images come back as ``(..., 3|4)`` with a trailing
``channel`` dim.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    Dimension,
    DimensionType,
    MissingDependencyError,
    Reader,
    UnsafeFileError,
    require,
)

from ._em import (
    apply_mapping,
    dimension_from_axis,
    memmap_array,
    normalised_from_hyperspy,
    parse_datetime,
    parser_errors,
    plain,
    read_record,
    si_convert,
    unique_names,
)
from ._raw import SMALL_ARRAY_BYTES, SMALL_TOTAL_BYTES

__all__ = ["TiffReader", "is_tiff_header"]

_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_MAX_PAGES = 1_000_000


def is_tiff_header(head: bytes) -> bool:
    """True when ``head`` starts with a classic or BigTIFF signature."""
    return head[:4] in _MAGIC


def _missing_codec(path: str | Path, reader: str, exc: BaseException) -> MissingDependencyError | None:
    """The error to raise when tifffile failed only because the imagecodecs
    package (LZW, JPEG, packed n-bit integers, ...) is not installed, else None."""
    if isinstance(exc, (ValueError, KeyError, NotImplementedError)) and "imagecodecs" in str(exc):
        return MissingDependencyError(
            f"{path}: reader '{reader}': decoding this TIFF needs the imagecodecs package ({exc}): "
            "pip install 'sidkit-readers[tiff]' (or pip install imagecodecs)")
    return None


def _read_page(path: str, reader: str, series: int, index: int, shape: tuple[int, ...],
               dtype: Any) -> np.ndarray:
    import tifffile

    with parser_errors(path, reader, f"decoding TIFF page {index} of series {series}"):
        with tifffile.TiffFile(path) as tf:
            page = tf.series[series].pages[index]
            try:
                arr = page.asarray()
            except Exception as exc:
                missing = _missing_codec(path, reader, exc)
                if missing is None:
                    raise
                raise missing from exc
        arr = np.asarray(arr, dtype=dtype)
        if arr.size != int(np.prod(shape)):
            raise CorruptFileError(path, reader, f"page {index} has {arr.size} values, "
                                   f"expected {int(np.prod(shape))}")
        return arr.reshape(shape)


def _vendor(original: dict[str, Any]) -> str | None:
    keys = set(original)
    if keys & {"FEI_HELIOS", "FEI_SFEG", "fei_metadata"}:
        return "Thermo Fisher Scientific (FEI)"
    if "CZ_SEM" in keys:
        return "Zeiss"
    if any(k.startswith("SightX") for k in keys) or "JEOL" in str(original.get("Make", "")):
        return "JEOL"
    if "Make" in original:
        return str(original["Make"])
    return None


#: Zeiss values RosettaSciIO converts with pint (about 1 ms each): target units
_ZEISS_UNITS = {"CZ_SEM.ap_stage_at_x": "mm", "CZ_SEM.ap_stage_at_y": "mm", "CZ_SEM.ap_stage_at_z": "mm",
                "CZ_SEM.ap_wd": "mm", "CZ_SEM.dp_dwell_time": "s", "CZ_SEM.ap_iprobe": "nA"}
#: dates and times RosettaSciIO reads with dateutil: (item of a Zeiss tuple or None, part)
_DATE_PARTS = {"CZ_SEM.ap_date": (1, "date"), "CZ_SEM.ap_time": (1, "time"),
               "fei_metadata.User.Date": (None, "date"), "fei_metadata.User.Time": (None, "time")}
_DATE_FORMATS = {"date": ("%d %b %Y", "%m/%d/%Y", "%Y-%m-%d"), "time": ("%H:%M:%S", "%I:%M:%S %p")}


def _zeiss_quantity(value: Any, *, to_units: str, fallback: Callable[[Any], Any]) -> Any:
    """A Zeiss ``(label, value, units)`` in ``to_units``, rounded as RosettaSciIO rounds it."""
    converted = si_convert(value[1], value[2], to_units) if isinstance(value, tuple) and len(value) == 3 else None
    return fallback(value) if converted is None else float(f"{converted:.6e}")


def _date_part(value: Any, *, item: int | None, part: str) -> str | None:
    """The ISO date or time of a vendor date/time string (or of item ``item`` of a Zeiss tuple)."""
    text = value[item] if item is not None and isinstance(value, tuple) and len(value) > item else value
    stamp = parse_datetime(text, _DATE_FORMATS[part])
    if stamp is None:
        return None
    return stamp.date().isoformat() if part == "date" else stamp.time().isoformat()


def _faster_mapping(mapping: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """RosettaSciIO's FEI/Zeiss mapping with its pint and dateutil conversions
    replaced by :func:`si_convert` and ``strptime`` (units they do not know go
    to RosettaSciIO's own function, other dates to dateutil, as before)."""
    if not mapping or not any(k in mapping for k in (*_ZEISS_UNITS, *_DATE_PARTS)):
        return mapping
    out = dict(mapping)
    for key, target in mapping.items():
        if not (isinstance(target, tuple) and len(target) == 2 and callable(target[1])):
            continue
        dest, func = target
        if key in _ZEISS_UNITS:
            out[key] = (dest, functools.partial(_zeiss_quantity, to_units=_ZEISS_UNITS[key], fallback=func))
        elif key in _DATE_PARTS:
            item, part = _DATE_PARTS[key]
            out[key] = (dest, functools.partial(_date_part, item=item, part=part))
    return out


class TiffReader(Reader):
    """Read TIFF / BigTIFF images and stacks, with SEM/TEM calibration.

    Each TIFF series is one Dataset. Dims: ``height``/``width`` (SPATIAL,
    calibrated from the vendor metadata where present, else from the
    ImageJ/resolution tags, else in pixels), further axes as tifffile names
    them, and ``channel`` for RGB samples. All tags and the vendor metadata
    are in ``original_metadata``; beam energy, magnification, dwell time,
    detector and date are normalised into ``metadata``.
    """

    name: ClassVar[str] = "tiff"
    extensions: ClassVar[tuple[str, ...]] = (".tif", ".tiff")
    extra: ClassVar[str] = "tiff"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 0
    description: ClassVar[str] = "TIFF incl. FEI/Thermo, Zeiss and JEOL SEM/TEM metadata (tifffile + RosettaSciIO)"

    def sniff(self, head: bytes) -> bool:
        return is_tiff_header(head)

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every series of a TIFF file.

        Parameters
        ----------
        path : pathlib.Path
            The file.
        lazy : bool, default True
            Read pixels on demand (memory map or page by page).
        **options
            ``force_read_resolution`` (default False): calibrate from the
            TIFF resolution tags even without vendor metadata.

        Returns
        -------
        dict of str to Dataset
        """
        tifffile = require("tifffile", extra=self.extra, reader=self.name)
        api = require("rsciio.tiff._api", extra=self.extra, reader=self.name, pip_name="rosettasciio")
        force = bool(options.get("force_read_resolution", False))
        out: dict[str, Dataset] = {}
        with parser_errors(path, self.name, "parsing the TIFF structure"):
            with tifffile.TiffFile(str(path)) as tf:
                series = list(tf.series)
                if not series:
                    raise CorruptFileError(path, self.name, "holds no image series")
                budget = [SMALL_TOTAL_BYTES]
                for i, s in enumerate(series):
                    ds = self._series(api, tf, s, i, path, force, lazy, budget)
                    key = ds.title if ds.title and ds.title not in out else f"{path.stem}_{i}" if i else path.stem
                    out[key] = ds
        return out

    def _series(self, api: Any, tf: Any, s: Any, index: int, path: Path, force: bool,
                lazy: bool, budget: list[int] | None = None) -> Dataset:
        budget = [0] if budget is None else budget  # bytes still allowed on the small-file path
        shape = tuple(int(n) for n in s.shape)
        dtype = np.dtype(s.dtype)
        if dtype.itemsize > 1 and dtype.kind in "uifc":
            dtype = dtype.newbyteorder(tf.byteorder)
        n_pages = len(s.pages)
        if n_pages > _MAX_PAGES:
            raise UnsafeFileError(path, self.name, f"series {index} declares {n_pages} pages")
        # small-file fast path: a small single-page image is read now by
        # RosettaSciIO's one pass (cheaper than building a lazy graph and
        # reading it later); stacks keep their page-by-page chunks
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        small = n_pages == 1 and nbytes <= SMALL_ARRAY_BYTES and nbytes <= budget[0]
        try:
            sig = api._read_tiff(tf, s, str(path), force, lazy=not small)
        except Exception as exc:
            missing = _missing_codec(path, self.name, exc)
            if missing is None:
                raise
            raise missing from exc
        sig_axes = list(sig.get("axes", []))
        data = self._small_data(sig.get("data"), shape, dtype) if small else None
        if data is not None:
            budget[0] -= nbytes
        else:
            data = self._data(path, s, index, shape, dtype, lazy)
        channel = len(sig_axes) == len(shape) - 1 and shape[-1] in (3, 4)
        n_axes = len(shape) - (1 if channel else 0)
        if len(sig_axes) != n_axes:
            sig_axes = [{"name": f"dim_{i}", "size": n} for i, n in enumerate(shape[:n_axes])]
        if all("index_in_array" in a for a in sig_axes):
            sig_axes.sort(key=lambda a: a["index_in_array"])
        dims = []
        for i, ax in enumerate(sig_axes):
            ax = {**ax, "size": shape[i]}
            kind = None
            if ax.get("name") in ("height", "width", "x", "y"):
                kind = DimensionType.SPATIAL
                if str(ax.get("units") or "").replace(" ", "").startswith("1/"):
                    kind = DimensionType.RECIPROCAL
            dims.append(dimension_from_axis(ax, i, kind=kind))
        if channel:
            dims.append(Dimension("channel", shape[-1], quantity="channel", units="",
                                  dimension_type=DimensionType.CHANNEL))
        dims = unique_names(dims)
        original = plain(sig.get("original_metadata", {}))
        md = apply_mapping(sig.get("metadata", {}), sig.get("original_metadata", {}),
                           _faster_mapping(sig.get("mapping")))
        spatial = [d for d in dims if d.dimension_type in (DimensionType.SPATIAL, DimensionType.RECIPROCAL)]
        normalised = normalised_from_hyperspy(md, vendor=_vendor(original),
                                              software=str(original.get("Software")) if original.get("Software") else None,
                                              pixel_dims=spatial[-2:] if spatial and spatial[-1].units else ())
        title = str(md.get("General", {}).get("title") or (path.stem if index == 0 else f"{path.stem}_{index}"))
        data_type = "image" if len(dims) == 2 or (len(dims) == 3 and channel) else None
        return Dataset(data, dims, title=title, quantity="intensity", units="counts",
                       data_type=data_type, source=str(path),
                       metadata={**normalised, "hyperspy": md},
                       original_metadata=original or {"file": path.name},
                       provenance=[read_record(self.name, path, series=index)])

    @staticmethod
    def _small_data(values: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
        """RosettaSciIO's in-memory values as sidkit lays them out (RGB as a
        trailing channel axis, native byte order), or None if they differ."""
        if not isinstance(values, np.ndarray):
            return None
        if values.dtype.names:
            from numpy.lib.recfunctions import structured_to_unstructured

            values = structured_to_unstructured(values)
        if values.shape != shape or values.dtype.newbyteorder("=") != dtype.newbyteorder("="):
            return None
        return np.ascontiguousarray(values, dtype=dtype.newbyteorder("="))

    def _data(self, path: Path, s: Any, index: int, shape: tuple[int, ...], dtype: np.dtype,
              lazy: bool) -> Any:
        import dask.array as da
        from dask import delayed

        offset = s.dataoffset
        if offset is not None and s.pages[0] is not None and s.pages[0].compression == 1:
            return memmap_array(path, self.name, int(offset), shape, dtype, lazy=lazy)
        page_shape = tuple(int(n) for n in s.pages[0].shape) if s.pages[0] is not None else shape
        n_pages = len(s.pages)
        page_size = int(np.prod(page_shape))
        if page_size * n_pages != int(np.prod(shape)):
            # one "page" that tifffile assembles from tiles or strips of several pages
            page_shape, n_pages = shape, 1
        parts = [da.from_delayed(delayed(_read_page, pure=True)(os.fspath(path), self.name, index, j,
                                                                 page_shape, dtype),
                                 shape=page_shape, dtype=dtype)
                 for j in range(n_pages)]
        arr = parts[0] if n_pages == 1 else da.stack(parts).reshape(shape)
        arr = arr.reshape(shape)
        return arr if lazy else arr.persist()
