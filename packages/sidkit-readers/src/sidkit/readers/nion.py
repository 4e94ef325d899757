"""Nion Swift data items: ``.ndata`` (zip) and ``.h5`` (HDF5).

An ``.ndata`` file is a zip archive holding ``data.npy`` and
``metadata.json``; an ``.h5`` data item holds a ``data`` dataset whose
``properties`` attribute is the same JSON. The JSON gives the calibrations
(``dimensional_calibrations``, formerly ``spatial_calibrations``), whether
the first axis is a sequence, how many axes are collection (scan) axes and
how many datum axes, and the acquisition metadata.

No third-party parser exists for this format outside Nion Swift itself, so
sidkit reads it with the standard library and numpy: ``data.npy`` stored
uncompressed is memory-mapped chunk by chunk (compressed members are
decompressed on demand); nothing is unpickled (object arrays are refused).
``.h5`` items need h5py (``pip install "sidkit-readers[nion]"``).
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, Dimension, DimensionType, Reader, UnsafeFileError, require
from sidkit.core.hdf5 import h5_file, is_hdf5

from ._em import (
    clean_units,
    dimension_type_for_units,
    memmap_array,
    parser_errors,
    plain,
    read_record,
    unique_names,
)
from ._metadata import normalised_metadata

__all__ = ["NionReader", "is_ndata"]

_ZIP_MAGIC = b"PK\x03\x04"
_MAX_JSON = 64 * 2**20
_MAX_NPY_HEADER = 1 << 16


def is_ndata(path: Path) -> bool:
    """True when ``path`` is a zip holding ``data.npy`` and ``metadata.json``."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
        return {"data.npy", "metadata.json"} <= names
    except Exception:  # noqa: BLE001 - claims never raise
        return False


def _nion_h5_properties(path: Path) -> dict[str, Any] | None:
    try:
        with h5_file(path, "r") as fh:
            dset = fh.get("data")
            if dset is None or not hasattr(dset, "shape") or "properties" not in dset.attrs:
                return None
            raw = dset.attrs["properties"]
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8", "replace")
            props = json.loads(str(raw))
            return props if isinstance(props, dict) else None
    except Exception:  # noqa: BLE001
        return None


def _npy_header(raw: bytes, path: Path, reader: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Parse an ``.npy`` header with numpy's own (literal-only) header parser.

    Returns shape, fortran_order, dtype and the header length in bytes.
    Object dtypes are refused, so nothing is ever unpickled.
    """
    import io

    fp = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unknown .npy format version {version}")
    except Exception as exc:  # noqa: BLE001 - numpy raises ValueError and friends
        raise CorruptFileError(path, reader, f"data.npy header is unreadable ({exc})") from exc
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise UnsafeFileError(path, reader, "data.npy holds Python objects; refusing to unpickle")
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise CorruptFileError(path, reader, f"data.npy declares a negative shape {shape}")
    return shape, bool(fortran), dtype, fp.tell()


def _read_member(path: str, reader: str, member: str, header_len: int, shape: tuple[int, ...],
                 dtype: Any, fortran: bool) -> np.ndarray:
    with parser_errors(path, reader, f"decompressing {member}"):
        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            fh.read(header_len)
            n = int(np.prod(shape)) * np.dtype(dtype).itemsize
            buf = fh.read(n)
        if len(buf) != n:
            raise CorruptFileError(path, reader, f"{member} holds {len(buf)} bytes, expected {n}")
        return np.frombuffer(buf, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _calibration(c: Any) -> tuple[float, float, str]:
    if not isinstance(c, dict):
        return 0.0, 1.0, ""
    try:
        offset = float(c.get("offset", 0.0) or 0.0)
        scale = float(c.get("scale", 1.0) or 1.0)
    except (TypeError, ValueError):
        offset, scale = 0.0, 1.0
    if not (np.isfinite(offset) and np.isfinite(scale)):
        offset, scale = 0.0, 1.0
    return offset, scale, clean_units(c.get("units"))


def nion_dims(shape: tuple[int, ...], props: dict[str, Any]) -> list[Dimension]:
    """Dims of a Nion data item from its properties.

    The leading axis is a ``frame`` axis (TEMPORAL) when ``is_sequence``;
    then ``collection_dimension_count`` scan axes (SPATIAL), then
    ``datum_dimension_count`` datum axes, typed from their units (energy ->
    SPECTRAL, 1/length or angle -> RECIPROCAL, length -> SPATIAL).
    """
    cals = props.get("dimensional_calibrations") or props.get("spatial_calibrations") or []
    if not isinstance(cals, list):
        cals = []
    n = len(shape)
    seq = 1 if props.get("is_sequence") else 0
    try:
        coll = int(props.get("collection_dimension_count", 0) or 0)
        datum = int(props.get("datum_dimension_count", n - seq - coll) or 0)
    except (TypeError, ValueError):
        coll, datum = 0, n - seq
    if seq + coll + datum != n:
        seq, coll, datum = 0, 0, n
    dims = []
    coll_names = ["y", "x"] if coll == 2 else ["x"] if coll == 1 else [f"scan_{i}" for i in range(coll)]
    if datum == 1:
        datum_names = ["signal"]
    elif datum == 2:
        datum_names = ["y", "x"] if coll == 0 else ["ky", "kx"]
    else:
        datum_names = [f"datum_{i}" for i in range(datum)]
    roles = (["sequence"] * seq + ["collection"] * coll + ["datum"] * datum)
    names = (["frame"] * seq + coll_names + datum_names)
    for i, (size, role, name) in enumerate(zip(shape, roles, names)):
        offset, scale, units = _calibration(cals[i] if i < len(cals) else None)
        if role == "sequence":
            kind = DimensionType.TEMPORAL
        elif role == "collection":
            kind = DimensionType.SPATIAL
        else:
            kind = dimension_type_for_units(units, "")
            if kind is DimensionType.UNKNOWN and datum == 2 and coll == 0:
                kind = DimensionType.SPATIAL
            if datum == 1 and kind is DimensionType.SPECTRAL:
                name = "energy"
        quantity = {"SPATIAL": "length", "RECIPROCAL": "reciprocal length", "SPECTRAL": "energy",
                    "TEMPORAL": "time"}.get(kind.name, "generic")
        dims.append(Dimension.linear(name, size, scale=scale, offset=offset, units=units,
                                     quantity=quantity, dimension_type=kind))
    return unique_names(dims)


def _find(tree: Any, keys: tuple[str, ...], depth: int = 0) -> Any:
    """First value of any of ``keys`` in a nested dict (depth-first)."""
    if not isinstance(tree, dict) or depth > 8:
        return None
    for k in keys:
        if k in tree and not isinstance(tree[k], dict):
            return tree[k]
    for v in tree.values():
        found = _find(v, keys, depth + 1)
        if found is not None:
            return found
    return None


def _positive(v: Any, factor: float = 1.0) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f * factor if np.isfinite(f) and f > 0 else None


def nion_metadata(props: dict[str, Any], dims: list[Dimension]) -> dict[str, Any]:
    """Normalised metadata from Nion Swift properties."""
    md = props.get("metadata", {}) if isinstance(props.get("metadata"), dict) else {}
    hw = md.get("hardware_source", {}) if isinstance(md.get("hardware_source"), dict) else {}
    created = props.get("created") or props.get("datetime_original", {})
    if isinstance(created, dict):
        created = created.get("local_datetime")
    energy = _positive(_find(md, ("high_tension", "high_tension_v", "EHT")))
    spatial = [d for d in dims if d.dimension_type in (DimensionType.SPATIAL, DimensionType.RECIPROCAL)][-2:]
    dwell_us = _find(md, ("pixel_time_us",))
    return normalised_metadata(
        acquisition={
            "datetime": str(created) if created else None,
            "exposure_s": _positive(hw.get("exposure")),
            "dwell_time_s": _positive(dwell_us, 1e-6),
            "detector": hw.get("hardware_source_name") or hw.get("hardware_source_id") or None,
        },
        instrument={"vendor": "Nion", "software": "Nion Swift"},
        beam={"energy_eV": energy},
        calibration={"pixel_size": [d.scale for d in spatial], "pixel_units": [d.units for d in spatial]}
        if spatial else {},
    )


class NionReader(Reader):
    """Read Nion Swift ``.ndata`` and ``.h5`` data items.

    One Dataset with dims from the item's calibrations and its sequence /
    collection / datum structure (see :func:`nion_dims`), the item's JSON
    properties in ``original_metadata`` and beam energy, exposure, detector
    and date in ``metadata``. ``.h5`` files are claimed only when their
    ``data`` dataset carries Nion's ``properties`` JSON.
    """

    name: ClassVar[str] = "nion"
    extensions: ClassVar[tuple[str, ...]] = (".ndata", ".h5")
    extra: ClassVar[str] = "nion"
    package: ClassVar[str] = "sidkit-readers"
    # below NSID (10) and USID (20): an NSID file keeps converted EMD/Nion metadata
    priority: ClassVar[int] = 5
    description: ClassVar[str] = "Nion Swift ndata / h5 data items"

    def sniff(self, head: bytes) -> bool:
        if head[:4] == _ZIP_MAGIC and len(head) >= 30:
            n = int.from_bytes(head[26:28], "little")
            return head[30:30 + n] in (b"data.npy", b"metadata.json")
        return False

    def claims(self, path: Path, head: bytes) -> bool:
        try:
            if head[:4] == _ZIP_MAGIC:
                return is_ndata(path)
            if is_hdf5(head):
                return _nion_h5_properties(path) is not None
        except Exception:  # noqa: BLE001
            return False
        return False

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read a Nion Swift data item.

        Parameters
        ----------
        path : pathlib.Path
            ``.ndata`` or ``.h5`` file.
        lazy : bool, default True
            Memory-map (or decompress) the data on demand.

        Returns
        -------
        dict of str to Dataset
        """
        with open(path, "rb") as fh:
            head = fh.read(16)
        if head[:4] == _ZIP_MAGIC:
            data, props = self._read_ndata(path, lazy)
        elif is_hdf5(head):
            data, props = self._read_h5(path, lazy)
        else:
            raise CorruptFileError(path, self.name, "is neither a zip (.ndata) nor an HDF5 (.h5) "
                                   "Nion Swift data item")
        shape = tuple(int(n) for n in data.shape)
        with parser_errors(path, self.name, "interpreting the properties"):
            dims = nion_dims(shape, props)
            metadata = nion_metadata(props, dims)
        ic = props.get("intensity_calibration") if isinstance(props.get("intensity_calibration"), dict) else {}
        title = str(props.get("title") or path.stem)
        ds = Dataset(data, dims, title=title, quantity="intensity",
                     units=clean_units(ic.get("units")) or "counts", source=str(path),
                     metadata=metadata, original_metadata=plain(props) or {"file": path.name},
                     provenance=[read_record(self.name, path)])
        return {path.stem: ds}

    def _read_ndata(self, path: Path, lazy: bool) -> tuple[Any, dict[str, Any]]:
        import dask.array as da
        from dask import delayed

        with parser_errors(path, self.name, "reading the ndata zip"):
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if not {"data.npy", "metadata.json"} <= names:
                    raise CorruptFileError(path, self.name, "zip lacks data.npy or metadata.json; "
                                           "not a Nion Swift .ndata file")
                minfo = zf.getinfo("metadata.json")
                if minfo.file_size > _MAX_JSON:
                    raise UnsafeFileError(path, self.name, f"metadata.json declares {minfo.file_size} bytes")
                props = json.loads(zf.read("metadata.json").decode("utf-8"))
                if not isinstance(props, dict):
                    raise CorruptFileError(path, self.name, "metadata.json is not a JSON object")
                info = zf.getinfo("data.npy")
                with zf.open(info) as fh:
                    raw = fh.read(_MAX_NPY_HEADER + 16)
        shape, fortran, dtype, hlen = _npy_header(raw, path, self.name)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if hlen + nbytes > info.file_size:
            raise CorruptFileError(path, self.name, f"data.npy declares {nbytes} bytes of data but "
                                   f"the member holds {info.file_size - hlen}; the file is truncated")
        if info.compress_type == zipfile.ZIP_STORED:
            with open(path, "rb") as fh:
                fh.seek(info.header_offset)
                local = fh.read(30)
            if len(local) < 30 or local[:4] != _ZIP_MAGIC:
                raise CorruptFileError(path, self.name, "the zip local header of data.npy is damaged")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len + hlen
            data = memmap_array(path, self.name, start, shape, dtype, lazy=lazy,
                                order="F" if fortran else "C")
        else:
            if info.compress_size <= 0 or info.file_size > 1100 * max(info.compress_size, 1) + 2**20:
                raise UnsafeFileError(path, self.name, "data.npy declares an implausible compression ratio")
            data = da.from_delayed(delayed(_read_member, pure=True)(os.fspath(path), self.name, "data.npy",
                                                                     hlen, shape, dtype, fortran),
                                   shape=shape, dtype=dtype)
            if not lazy:
                data = data.persist()
        return data, props

    def _read_h5(self, path: Path, lazy: bool) -> tuple[Any, dict[str, Any]]:
        require("h5py", extra=self.extra, reader=self.name)
        from sidkit.core.hdf5 import check_storage, lazy_array, open_h5

        with open_h5(path, self.name) as fh, parser_errors(path, self.name, "reading the Nion h5 item"):
            dset = fh.get("data")
            if dset is None or not hasattr(dset, "shape") or "properties" not in dset.attrs:
                raise CorruptFileError(path, self.name, "has no 'data' dataset with Nion 'properties'")
            raw = dset.attrs["properties"]
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8", "replace")
            props = json.loads(str(raw))
            if not isinstance(props, dict):
                raise CorruptFileError(path, self.name, "'properties' is not a JSON object")
            check_storage(dset, path, self.name)
            data = lazy_array(path, dset, self.name)
        if not lazy:
            data = data.persist()
        return data, props
