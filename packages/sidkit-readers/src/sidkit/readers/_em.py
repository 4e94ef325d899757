"""Helpers shared by the electron-microscopy readers (private).

- :func:`parser_errors` turns any exception of a third-party parser into a
  :class:`~sidkit.core.CorruptFileError` (or ``TruncatedFileError``) naming
  the file and the reader.
- :func:`guarded` wraps a dask array so that errors raised while its chunks
  are read (a file truncated after it was opened, a damaged chunk) are
  sidkit errors too.
- :func:`memmap_array` wraps :class:`._raw.MemmapProxy` (a picklable memory map of a region of a file) for
  readers that know the offset, dtype and shape of their data.
- :func:`dimension_from_axis` and :func:`dataset_from_signal` turn the
  signal dictionaries of RosettaSciIO (``{"data", "axes", "metadata",
  "original_metadata", "mapping"}``) into :class:`~sidkit.core.Dataset`.
- :func:`plain` makes vendor metadata JSON-like (plain Python values).
- :func:`normalised_from_hyperspy` maps HyperSpy-style metadata trees to the
  shared keys of :mod:`sidkit.readers._metadata`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    DataType,
    Dimension,
    DimensionType,
    SidkitError,
    TruncatedFileError,
    UnsafeFileError,
    make_record,
)
from sidkit.core.fastpath import chain_direct_read

from ._metadata import normalised_metadata
from ._raw import MemmapProxy, whole_read

__all__ = [
    "MAX_BYTES_FACTOR",
    "parser_errors",
    "guarded",
    "memmap_array",
    "check_declared_size",
    "plain",
    "dimension_type_for_units",
    "clean_units",
    "dimension_from_axis",
    "unique_names",
    "apply_mapping",
    "si_convert",
    "parse_datetime",
    "normalised_from_hyperspy",
    "dataset_from_signal",
    "read_record",
]

#: A file may not declare more uncompressed data than this many times its size
#: (compressed HDF5 / TIFF can legitimately exceed 1x; raw formats may not).
MAX_BYTES_FACTOR = 1


# ----------------------------------------------------------------------------- errors
_TRUNCATION_WORDS = ("truncat", "eof", "end of file", "unexpected end", "not enough",
                     "greater than file size", "cannot reshape", "buffer is smaller",
                     "requested more bytes", "out of range")


def _wrap_exception(path: Path | str, reader: str, exc: BaseException, what: str) -> SidkitError:
    msg = f"{type(exc).__name__}: {exc}"
    if len(msg) > 300:
        msg = msg[:300] + "..."
    low = msg.lower()
    if isinstance(exc, (MemoryError, OverflowError)):
        return UnsafeFileError(path, reader, f"{what} declares more data than can be held ({msg}); "
                               "the file is damaged or hostile")
    if isinstance(exc, EOFError) or any(w in low for w in _TRUNCATION_WORDS):
        return TruncatedFileError(path, reader, f"{what} failed, the file looks truncated ({msg}); "
                                  "re-copy or re-export it")
    return CorruptFileError(path, reader, f"{what} failed, the file is damaged or not in this "
                            f"format ({msg}); check the file or pass another reader=")


@contextlib.contextmanager
def parser_errors(path: Path | str, reader: str, what: str = "parsing") -> Iterator[None]:
    """Translate any non-sidkit exception raised inside the block.

    Parameters
    ----------
    path : path-like
        The file, named in the message.
    reader : str
        The reader's name, named in the message.
    what : str
        What was being done, for the message.

    Raises
    ------
    CorruptFileError, TruncatedFileError, UnsafeFileError
        Instead of the parser's own exception (chained).
    """
    try:
        yield
    except SidkitError:
        raise
    except RecursionError as exc:
        raise CorruptFileError(path, reader, f"{what} failed: the file nests too deeply") from exc
    except Exception as exc:  # third-party parsers raise anything on damaged input
        raise _wrap_exception(path, reader, exc, what) from exc


class _Guarded:
    """Array-like view of a dask array that raises sidkit errors on read."""

    __slots__ = ("inner", "path", "reader", "shape", "dtype", "ndim")

    def __init__(self, inner: Any, path: str, reader: str) -> None:
        self.inner = inner
        self.path = path
        self.reader = reader
        self.shape = tuple(inner.shape)
        self.dtype = inner.dtype
        self.ndim = len(self.shape)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return ("sidkit-guarded", getattr(self.inner, "name", id(self.inner)), self.path)

    def __getitem__(self, key: Any) -> np.ndarray:
        with parser_errors(self.path, self.reader, "reading the data"):
            part = self.inner[key]
            if hasattr(part, "compute"):
                part = part.compute(scheduler="sync")
            return np.asarray(part)

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)


def guarded(array: Any, path: Path | str, reader: str) -> Any:
    """A dask array reading ``array`` chunk by chunk, turning read errors into
    sidkit errors naming ``path`` and ``reader``.

    ``array`` is a dask array (its chunks are kept) or any array-like.
    """
    import dask.array as da
    from dask.base import tokenize

    chunks = getattr(array, "chunks", None)
    if chunks is None or not isinstance(chunks, tuple) or not all(isinstance(c, tuple) for c in chunks):
        chunks = "auto"
    proxy = _Guarded(array, os.fspath(path), reader)
    name = f"{reader}-{Path(path).name}-{tokenize(getattr(array, 'name', id(array)), os.fspath(path))}"
    out = da.from_array(proxy, chunks=chunks, name=name, lock=False, asarray=True,
                        meta=np.empty((0,) * proxy.ndim, dtype=proxy.dtype))
    if isinstance(array, da.Array):  # a whole compute stays the source's one read
        out = chain_direct_read(out, array, _same)
    return out


def _same(values: np.ndarray) -> np.ndarray:
    return values


def check_declared_size(path: Path | str, reader: str, offset: int, shape: Sequence[int],
                        dtype: Any) -> None:
    """Raise unless ``shape``/``dtype`` data at ``offset`` fit inside the file.

    Raises
    ------
    UnsafeFileError
        A dimension is negative or the declared size overflows.
    TruncatedFileError
        The file ends before the declared data.
    """
    if any(int(n) < 0 for n in shape):
        raise UnsafeFileError(path, reader, f"declares a negative dimension in shape {tuple(shape)}")
    itemsize = np.dtype(dtype).itemsize
    need = offset + math.prod(int(n) for n in shape) * itemsize
    if need > 2**62:
        raise UnsafeFileError(path, reader, f"declares an absurd data size for shape {tuple(shape)}")
    have = os.path.getsize(path)
    if need > have:
        raise TruncatedFileError(
            path, reader,
            f"the header declares {need} bytes (shape {tuple(shape)}, {np.dtype(dtype)}) "
            f"but the file has {have}; the file looks truncated. Re-copy or re-export it",
        )


def memmap_array(path: Path | str, reader: str, offset: int, shape: Sequence[int], dtype: Any,
                 *, lazy: bool = True, order: str = "C", chunks: Any = "auto") -> Any:
    """A dask array of raw data in a file, checked against the file size first."""
    import dask.array as da
    from dask.base import tokenize

    check_declared_size(path, reader, offset, shape, dtype)
    proxy = MemmapProxy(path, dtype, tuple(shape), offset=offset, order=order, reader=reader)
    if not lazy:
        return da.from_array(proxy[...], chunks=chunks)
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    name = f"{reader}-{Path(path).name}-{tokenize(os.fspath(path), offset, proxy.shape, str(proxy.dtype), stamp)}"
    return whole_read(da.from_array(proxy, chunks=chunks, name=name, lock=False, asarray=True,
                                    meta=np.empty((0,) * proxy.ndim, dtype=proxy.dtype)), proxy)


# ----------------------------------------------------------------------------- metadata
_PLAIN_SCALARS = frozenset((int, float, str, bool, type(None)))


def plain(obj: Any, *, depth: int = 0, max_array: int = 256) -> Any:
    """A JSON-like copy of vendor metadata (dict/list/str/int/float/bool/None).

    numpy scalars become Python scalars (NaN stays a float), bytes UTF-8 text, small arrays lists,
    large arrays a short description, dates ISO strings, other objects their
    ``str``. Mapping-like objects (``Box``, ``DictionaryTreeBrowser``) are
    walked through ``to_dict``/``items``.
    """
    kind = type(obj)
    if kind in _PLAIN_SCALARS:  # the common cases first: already plain, dict, list/tuple
        return obj
    if depth > 64:
        return "<nested too deeply>"
    if kind is dict:
        return _plain_items(obj, depth)
    if kind is tuple or kind is list:
        return _plain_sequence(obj, depth)
    if isinstance(obj, np.generic):
        if isinstance(obj, np.bytes_):
            return bytes(obj).decode("utf-8", "replace")
        if isinstance(obj, np.void):
            return f"<{obj.dtype}>"
        return plain(obj.item(), depth=depth + 1)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode("utf-8", "replace").rstrip("\x00")
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, np.ndarray):
        if obj.dtype.names or obj.dtype.kind == "V":
            if obj.size == 1 and obj.dtype.names:
                rec = obj.reshape(-1)[0]
                return {n: plain(rec[n], depth=depth + 1) for n in obj.dtype.names}
            return f"<array {obj.dtype} {obj.shape}>"
        if obj.size <= max_array:
            if obj.dtype.kind in "biuf":  # tolist() gives Python bool/int/float already
                return obj.tolist()
            return [plain(v, depth=depth + 1) for v in obj.tolist()] if obj.ndim else plain(obj.item())
        return f"<array {obj.dtype} {obj.shape}>"
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict) and not isinstance(obj, Mapping):
        try:
            obj = to_dict()
        except Exception:  # noqa: BLE001 - a broken to_dict only loses detail
            return str(obj)
    if isinstance(obj, Mapping):
        return _plain_items(obj, depth)
    if isinstance(obj, (list, tuple, set)):
        return _plain_sequence(obj, depth)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return f"<array {obj.dtype} {tuple(obj.shape)}>"
    return str(obj)


def _plain_items(obj: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    """:func:`plain` of a mapping at ``depth``: str keys, plain values
    (already plain ones kept without a call)."""
    deeper = depth + 1
    if deeper > 64:
        return {str(k): "<nested too deeply>" for k in obj}
    return {(k if type(k) is str else str(k)): (v if type(v) in _PLAIN_SCALARS else plain(v, depth=deeper))
            for k, v in obj.items()}


def _plain_sequence(obj: Any, depth: int) -> list[Any]:
    """:func:`plain` of a list, tuple or set at ``depth`` (plain items kept as they are)."""
    deeper = depth + 1
    return [v if type(v) in _PLAIN_SCALARS else plain(v, depth=deeper) for v in obj]


def _get_path(tree: Mapping[str, Any], dotted: str, aliases: dict[int, dict[str, Any]]) -> Any:
    """The value at ``dotted`` in ``tree``, or None; ``aliases`` caches each
    visited node's HyperSpy aliases for the next paths of one mapping."""
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        if part in node:
            node = node[part]
            continue
        # HyperSpy's tree browser reaches "High tension_kV" as "High_tension_kV"
        # (only a key with a space can be such an alias, so ``part`` has a "_")
        if "_" not in part:
            return None
        known = aliases.get(id(node))
        if known is None:
            known = aliases[id(node)] = {k.replace(" ", "_"): k for k in reversed(list(node))
                                         if isinstance(k, str) and " " in k}  # the first key wins
        if part not in known:
            return None
        node = node[known[part]]
    return node


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def apply_mapping(metadata: Mapping[str, Any], original: Mapping[str, Any],
                  mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """Apply a RosettaSciIO ``mapping`` (original path -> (metadata path, fn)).

    Returns the HyperSpy-style metadata tree with the mapped values added;
    a mapping function that fails on a damaged value skips that value.
    """
    out = plain(dict(metadata))
    aliases: dict[int, dict[str, Any]] = {}
    for src, target in (mapping or {}).items():
        try:
            dest, func = target
        except (TypeError, ValueError):
            continue
        value = _get_path(original, src, aliases)
        if value is None:
            continue
        try:
            if func is not None:
                value = func(value)
        except Exception:  # noqa: BLE001 - one odd value must not stop the read
            continue
        if value is not None:
            _set_path(out, dest, plain(value))
    return out


_SI_PREFIXES = {"": 1.0, "f": 1e-15, "p": 1e-12, "n": 1e-9, "µ": 1e-6, "u": 1e-6, "m": 1e-3,
                "c": 1e-2, "k": 1e3, "M": 1e6, "G": 1e9}
_SI_BASES = ("eV", "Hz", "Pa", "m", "s", "A", "V", "W")


def _si_split(units: str) -> tuple[str, float] | None:
    text = units.strip().replace("μ", "µ")
    for base in _SI_BASES:
        if text.endswith(base) and text[: len(text) - len(base)] in _SI_PREFIXES:
            return base, _SI_PREFIXES[text[: len(text) - len(base)]]
    return None


def si_convert(value: Any, units: Any, to_units: str) -> float | None:
    """``value`` in ``units`` expressed in ``to_units``, for SI-prefixed units
    of one base (``"50 ns"`` -> s, ``"14.8 mm"`` -> m, ``"1 nA"`` -> A).

    Returns None when either unit is not a prefixed SI unit of the same base
    or the value is not a number; callers then fall back to a full unit
    library (this covers what vendor metadata write, in microseconds rather
    than the milliseconds pint takes to parse a unit).
    """
    if not isinstance(units, str) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    source, target = _si_split(units), _si_split(to_units)
    if source is None or target is None or source[0] != target[0]:
        return None
    return number * source[1] / target[1]


def parse_datetime(text: Any, formats: Sequence[str]) -> _dt.datetime | None:
    """``text`` as a datetime: the ``strptime`` formats first, then dateutil's
    parser (month first, as RosettaSciIO reads vendor dates); None when
    neither reads it."""
    if not isinstance(text, str):
        return None
    for fmt in formats:
        try:
            return _dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    try:
        from dateutil import parser
    except ImportError:  # pragma: no cover - a dependency of RosettaSciIO and pandas
        return None
    try:
        return parser.parse(text)
    except (ValueError, OverflowError):
        return None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, str):
        m = re.match(r"\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*([kKMG]?)", value)
        if not m:
            return None
        factor = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]
        return float(m.group(1)) * factor
    return None


def _positive(value: Any, factor: float = 1.0) -> float | None:
    v = _number(value)
    if v is None or v <= 0:
        return None
    return v * factor


def _iso_datetime(general: Mapping[str, Any]) -> str | None:
    date = general.get("date")
    time = general.get("time")
    if not date:
        return None
    text = str(date)
    if time:
        text += "T" + str(time)
    tz = general.get("time_zone")
    if tz and isinstance(tz, str) and re.fullmatch(r"[+-]\d\d:?\d\d", tz.strip()):
        text += tz.strip()
    elif tz == "UTC":
        text += "+00:00"
    return text


def normalised_from_hyperspy(md: Mapping[str, Any], *, vendor: str | None = None,
                             software: str | None = None,
                             pixel_dims: Sequence[Dimension] = ()) -> dict[str, Any]:
    """Map a HyperSpy-style metadata tree to :func:`normalised_metadata`.

    HyperSpy's units: beam energy in keV, current in nA, convergence angle in
    mrad, camera length in mm, dwell time and exposure in s.
    """
    general = md.get("General", {}) if isinstance(md.get("General"), Mapping) else {}
    inst_root = md.get("Acquisition_instrument", {})
    inst: Mapping[str, Any] = {}
    if isinstance(inst_root, Mapping):
        for key in ("TEM", "SEM"):
            if isinstance(inst_root.get(key), Mapping):
                inst = inst_root[key]
                break
    det = inst.get("Detector", {}) if isinstance(inst.get("Detector"), Mapping) else {}
    detector = None
    exposure = None
    frames = None
    for name, sub in det.items():
        if isinstance(sub, Mapping):
            detector = detector or sub.get("Name") or sub.get("spectrometer") or sub.get("detector_type")
            exposure = exposure or _positive(sub.get("exposure")) or _positive(sub.get("live_time"))
            frames = frames or sub.get("number_of_frames")
        elif name in ("detector_type", "name"):
            detector = detector or sub
    mag = _positive(inst.get("magnification"))
    pixel_size = [float(d.scale) for d in pixel_dims]
    pixel_units = [d.units for d in pixel_dims]
    return normalised_metadata(
        acquisition={
            "datetime": _iso_datetime(general),
            "exposure_s": exposure,
            "dwell_time_s": _positive(inst.get("dwell_time")),
            "detector": str(detector) if detector not in (None, "") else None,
            "frames": int(frames) if isinstance(frames, (int, float)) and frames > 0 else None,
        },
        instrument={
            "vendor": vendor,
            "model": str(inst["microscope"]) if inst.get("microscope") else None,
            "software": software,
        },
        beam={
            "energy_eV": _positive(inst.get("beam_energy"), 1e3),
            "current_A": _positive(inst.get("beam_current"), 1e-9),
            "convergence_angle_rad": _positive(inst.get("convergence_angle"), 1e-3),
        },
        optics={
            "magnification": mag,
            "camera_length_m": _positive(inst.get("camera_length"), 1e-3),
            "mode": str(inst["acquisition_mode"]) if inst.get("acquisition_mode") else None,
        },
        calibration={"pixel_size": pixel_size, "pixel_units": pixel_units}
        if pixel_dims and any(pixel_units) else {},
    )


# ----------------------------------------------------------------------------- dimensions
_LENGTH = {"pm", "å", "a", "nm", "µm", "um", "mm", "cm", "m", "angstrom"}
_ENERGY = {"ev", "kev", "mev", "mv"}
_TIME = {"s", "ms", "µs", "us", "ns", "min", "h", "frame"}
_ANGLE_RECIPROCAL = {"mrad", "rad", "µrad", "urad"}


def clean_units(units: Any) -> str:
    """Units as sidkit spells them: ``""`` for none, ``µm`` for ``um``/``micron``."""
    if units is None:
        return ""
    u = str(units).strip()
    if u in ("<undefined>", "None", "undefined", "t.u."):
        return ""
    # EMD 0.2 spells units like "[n_m]"
    if u.startswith("[") and u.endswith("]"):
        u = u[1:-1].replace("_", "")
    u = u.replace("μ", "µ")
    if u in ("um", "micron", "microns"):
        u = "µm"
    if u in ("A", "Angstrom", "angstrom", "Angstroms"):
        u = "Å"
    if u in ("A^-1", "1/A", "Å^-1"):  # py4DSTEM's reciprocal Ångström
        u = "1/Å"
    if u == "pixels":
        u = "pixel"
    return u


def dimension_type_for_units(units: str, name: str = "") -> DimensionType:
    """Guess the kind of an axis from its units (and name)."""
    u = units.replace(" ", "").lower().replace("μ", "µ")
    if u.startswith("1/") or u.endswith("^-1") or u.endswith("-1"):
        return DimensionType.RECIPROCAL
    if u in _LENGTH or u == "å":
        return DimensionType.SPATIAL
    if u in _ENERGY:
        return DimensionType.SPECTRAL
    if u in _TIME:
        return DimensionType.TEMPORAL
    if u in _ANGLE_RECIPROCAL:
        return DimensionType.RECIPROCAL
    n = name.lower()
    if n in ("x", "y", "width", "height") or n.startswith(("r_x", "r_y")):
        return DimensionType.SPATIAL
    if "energy" in n or "wavelength" in n:
        return DimensionType.SPECTRAL
    if n in ("time", "t", "frame", "frames"):
        return DimensionType.TEMPORAL
    return DimensionType.UNKNOWN


_QUANTITY = {
    DimensionType.SPATIAL: "length",
    DimensionType.RECIPROCAL: "reciprocal length",
    DimensionType.SPECTRAL: "energy",
    DimensionType.TEMPORAL: "time",
    DimensionType.CHANNEL: "channel",
    DimensionType.UNKNOWN: "generic",
}


def _dim_name(name: Any, index: int) -> str:
    text = "" if name is None else str(name).strip()
    if not text or text in ("<undefined>", "Undefined"):
        return f"dim_{index}"
    return text


def dimension_from_axis(axis: Mapping[str, Any], index: int, *,
                        kind: DimensionType | None = None) -> Dimension:
    """A :class:`Dimension` from a RosettaSciIO axis dict.

    Uniform axes (``size``/``scale``/``offset``) become linear dims; axes
    with an ``axis`` array keep those values. The kind comes from ``kind`` or
    is guessed from the units and name.
    """
    name = _dim_name(axis.get("name"), index)
    units = clean_units(axis.get("units"))
    if axis.get("axis") is not None:
        values = np.asarray(axis["axis"], dtype=float).reshape(-1)
    else:
        size = int(axis.get("size", 0))
        scale = axis.get("scale")
        offset = axis.get("offset")
        scale = 1.0 if scale is None else float(scale)
        offset = 0.0 if offset is None else float(offset)
        values = offset + scale * np.arange(size, dtype=float)
    dtype = kind or dimension_type_for_units(units, name)
    return Dimension(name, values, quantity=_QUANTITY[dtype], units=units, dimension_type=dtype)


def unique_names(dims: list[Dimension]) -> list[Dimension]:
    """Rename repeated dimension names (``x``, ``x_1``, ...)."""
    seen: dict[str, int] = {}
    out = []
    for d in dims:
        if d.name in seen:
            seen[d.name] += 1
            new = f"{d.name}_{seen[d.name]}"
            while new in seen:
                seen[d.name] += 1
                new = f"{d.name}_{seen[d.name]}"
            seen[new] = 0
            out.append(d.replace(name=new))
        else:
            seen[d.name] = 0
            out.append(d)
    return out


def read_record(reader: str, path: Path | str, **parameters: Any) -> dict[str, Any]:
    """The provenance record of a read."""
    from ._version import __version__

    return make_record(f"sidkit.readers.{reader}.read",
                       {"path": os.fspath(path), **parameters}, package="sidkit-readers",
                       version=__version__)


def _rgb_to_channels(data: Any) -> tuple[Any, list[str] | None]:
    """Structured RGB(A) arrays -> plain arrays with a trailing channel axis."""
    dtype = np.dtype(data.dtype)
    if not dtype.names:
        return data, None
    names = list(dtype.names)
    import dask.array as da

    if isinstance(data, da.Array):
        parts = [data.map_blocks(lambda b, n=n: np.ascontiguousarray(b[n]), dtype=dtype[n])
                 for n in names]
        return da.stack(parts, axis=-1), names
    return np.stack([np.asarray(data[n]) for n in names], axis=-1), names


def dataset_from_signal(signal: Mapping[str, Any], path: Path | str, reader: str, *,
                        vendor: str | None = None, software: str | None = None,
                        modality: str = "", data_type: DataType | None = None,
                        title: str | None = None, index: int = 0,
                        energy_last: bool = True, guard: bool = True) -> Dataset:
    """Turn one RosettaSciIO signal dict into a :class:`Dataset`.

    Axes are ordered by ``index_in_array`` where given; structured RGB data
    get a trailing ``channel`` dim; an energy axis is moved last when
    ``energy_last``; with ``guard``, read errors of lazy data from a
    third-party parser become sidkit errors (sidkit's own proxies already
    raise sidkit errors, so readers pass ``guard=False`` for them).
    """
    data = signal["data"]
    axes = [dict(a) for a in signal.get("axes", [])]
    if axes and all("index_in_array" in a for a in axes):
        axes.sort(key=lambda a: a["index_in_array"])
    data, channels = _rgb_to_channels(data)
    ndim = len(data.shape)
    n_axes = ndim - (1 if channels else 0)
    if len(axes) != n_axes:
        axes = [{"name": f"dim_{i}", "size": n} for i, n in enumerate(data.shape[:n_axes])]
    dims = []
    for i, ax in enumerate(axes):
        ax = {**ax, "size": int(data.shape[i])}
        dims.append(dimension_from_axis(ax, i))
    if channels:
        dims.append(Dimension("channel", len(channels), quantity="channel", units="",
                              dimension_type=DimensionType.CHANNEL))
    dims = unique_names(dims)
    original = plain(signal.get("original_metadata", {}))
    md = apply_mapping(signal.get("metadata", {}), signal.get("original_metadata", {}),
                       signal.get("mapping"))
    general = md.get("General", {}) if isinstance(md.get("General"), Mapping) else {}
    sig = md.get("Signal", {}) if isinstance(md.get("Signal"), Mapping) else {}
    spatial = [d for d in dims if d.dimension_type in (DimensionType.SPATIAL, DimensionType.RECIPROCAL)]
    normalised = normalised_from_hyperspy(md, vendor=vendor, software=software,
                                          pixel_dims=spatial[-2:] if len(spatial) >= 2 else spatial)
    if not modality:
        modality = str(sig.get("signal_type") or "")
    quantity = str(sig.get("quantity") or "intensity")
    units = ""
    m = re.match(r"(.*?)\s*\((.*)\)\s*$", quantity)
    if m:
        quantity, units = m.group(1), m.group(2)
    name = title if title is not None else (general.get("title") or "")
    if not name:
        name = Path(path).stem
    guarded_data = guarded(data, path, reader) if guard and hasattr(data, "dask") else data
    kinds = [d.dimension_type for d in dims]
    if energy_last and DimensionType.SPECTRAL in kinds and len(dims) > 1 and kinds[-1] != DimensionType.SPECTRAL:
        import dask.array as da

        k = kinds.index(DimensionType.SPECTRAL)
        order = [i for i in range(len(dims)) if i != k] + [k]
        if type(guarded_data) is np.ndarray:  # in memory already: a numpy view
            guarded_data = np.transpose(guarded_data, order)
        else:
            base = guarded_data if hasattr(guarded_data, "dask") else da.asarray(guarded_data)
            guarded_data = chain_direct_read(da.transpose(base, order), base,
                                             lambda values: np.transpose(values, order))
        dims = [dims[i] for i in order]
    return Dataset(
        guarded_data,
        dims,
        title=str(name),
        quantity=quantity,
        units=units or "counts",
        data_type=data_type,
        modality=modality,
        source=os.fspath(path),
        metadata={**normalised, "hyperspy": md},
        original_metadata=original if original else {"file": Path(path).name},
        provenance=[read_record(reader, path, index=index)],
    )
