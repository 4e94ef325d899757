"""Read USID HDF5 files (pyUSID's layout) into :class:`~sidkit.core.Dataset`.

Every USID *main dataset* (a 2-D dataset with ``quantity`` and ``units``
attributes and object references to its four ancillary datasets) becomes one
N-D Dataset: position dims, then spectroscopic dims, each in the order of the
file's ``labels`` attribute (the order of pyUSID's
``USIDataset.get_n_dim_form()``), SPATIAL for position and SPECTRAL for
spectroscopic dims unless sidkit wrote better types into the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
    UnknownFormatError,
    UnsafeFileError,
    UnsupportedOperationError,
)
from sidkit.core.fastpath import direct_read, register_direct_read
from sidkit.core.hdf5 import check_storage, h5_file, h5py_module, is_hdf5, lazy_array, open_h5

from ._attrs import BOOKKEEPING, SIDKIT_PREFIX, decode_attrs, decode_str_list, from_json
from .ancillary import AncillaryError, AncillaryLayout, analyse_index_table

__all__ = ["UsidReader", "read_usid", "find_main_datasets", "ANCILLARY_NAMES", "MAX_ANCILLARY_ELEMENTS"]

NAME = "usid"
#: The four object-reference attributes of a USID main dataset.
ANCILLARY_NAMES = ("Position_Indices", "Position_Values", "Spectroscopic_Indices", "Spectroscopic_Values")
#: Largest ancillary table read into memory (elements); beyond is refused as hostile.
MAX_ANCILLARY_ELEMENTS = 2**27
#: Largest number of HDF5 objects visited while looking for main datasets.
MAX_OBJECTS = 1_000_000
#: Options of :meth:`UsidReader.read` (keyword arguments of :func:`read_usid`).
READ_OPTIONS = ("flat", "main", "chunks", "allow_external")
#: Target size of one dask chunk of the main dataset.
CHUNK_BYTES = 64 * 2**20


def _has_main_attrs(obj: Any) -> bool:
    attrs = obj.attrs
    return all(name in attrs for name in ANCILLARY_NAMES) and "quantity" in attrs and "units" in attrs


def _visit_datasets(fh: Any, path: Path, accept: Callable[[Any], bool], stop_at_first: bool = False) -> list[str]:
    """Names of datasets ``accept`` likes, in file (name) order; bounded."""
    h5py = h5py_module(reader=NAME)
    found: list[str] = []
    count = 0

    def visit(name: str, obj: Any) -> Any:
        nonlocal count
        count += 1
        if count > MAX_OBJECTS:
            raise UnsafeFileError(path, NAME, f"holds more than {MAX_OBJECTS} HDF5 objects; refusing to scan it")
        if isinstance(obj, h5py.Dataset):
            try:
                ok = accept(obj)
            except (OSError, KeyError, ValueError, TypeError, RuntimeError):
                ok = False
            if ok:
                found.append("/" + name)
                if stop_at_first:
                    return True
        return None

    fh.visititems(visit)
    return found


def find_main_datasets(fh: Any, path: str | os.PathLike[str] = "") -> list[str]:
    """HDF5 paths of every dataset that declares itself a USID main dataset.

    A candidate is 2-D and has ``quantity``, ``units`` and the four
    ancillary-reference attributes; whether those references are valid is
    checked when it is read.

    Parameters
    ----------
    fh : h5py.File
        An open file.
    path : path-like, optional
        The file's path, for messages.
    """
    return _visit_datasets(fh, Path(path), lambda d: d.ndim == 2 and _has_main_attrs(d))


class UsidReader(Reader):
    """Read USID (pyUSID) HDF5 files.

    Options of :meth:`read`: ``flat`` (return the 2-D positions x
    spectroscopic form), ``main`` (read only this HDF5 path), ``chunks``
    (dask chunks of the 2-D main dataset), ``allow_external`` (read
    external/virtual storage). See :func:`read_usid`.
    """

    name: ClassVar[str] = NAME
    extensions: ClassVar[tuple[str, ...]] = (".h5", ".hdf5", ".usid")
    package: ClassVar[str] = "sidkit-usid"
    # above a plain NSID reader: a USID file is read as USID even when an
    # NSID reader also claims its .h5 extension
    priority: ClassVar[int] = 20
    description: ClassVar[str] = "USID HDF5 (pyUSID): main datasets with position/spectroscopic ancillary tables"

    def sniff(self, head: bytes) -> bool:
        """HDF5 signature only; :meth:`claims` looks for a main dataset."""
        try:
            return is_hdf5(head)
        except Exception:  # never raise on foreign bytes
            return False

    def claims(self, path: Path, head: bytes) -> bool:
        """True when the file holds at least one USID main dataset. Never raises."""
        if not self.sniff(head):
            return False
        try:
            with h5_file(path, "r", reader=NAME) as fh:
                return bool(_visit_datasets(fh, Path(path), lambda d: d.ndim == 2 and _has_main_attrs(d),
                                            stop_at_first=True))
        except Exception:
            return False

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every USID main dataset of ``path`` (see :func:`read_usid`)."""
        unknown = sorted(set(options) - set(READ_OPTIONS))
        if unknown:
            raise UnsupportedOperationError(
                f"reader 'usid' has no option {', '.join(map(repr, unknown))}; "
                f"its options are {', '.join(READ_OPTIONS)}"
            )
        return read_usid(path, lazy=lazy, **options)


def read_usid(
    path: str | os.PathLike[str],
    *,
    lazy: bool = True,
    flat: bool = False,
    main: str | None = None,
    chunks: Any = None,
    allow_external: bool = False,
) -> dict[str, Dataset]:
    """Read the USID main datasets of a file.

    Parameters
    ----------
    path : str or os.PathLike
        The HDF5 file.
    lazy : bool, default True
        Return dask-backed Datasets that read on demand (picklable: the graph
        holds the path, not an open file). ``False`` reads the values now.
    flat : bool, default False
        Return the 2-D form as stored: dims ``"position"`` (SPATIAL) and
        ``"spectroscopic"`` (SPECTRAL), each folded from the N-D dims
        slowest-first, so ``ds.unfold("position")`` restores them; the file's
        labels and slow/fast order are in ``metadata["usid"]``.
    main : str, optional
        HDF5 path of one main dataset to read; default all.
    chunks : dask chunks, optional
        Chunks of the 2-D main dataset. The default makes chunks of about
        64 MiB whose rows cover whole fast position dims, so the N-D reshape
        needs no rechunk.
    allow_external : bool, default False
        Read main datasets stored in external files or as virtual datasets.

    Returns
    -------
    dict of str to Dataset
        HDF5 path (without the leading ``/``) to Dataset, in file order.

    Raises
    ------
    UnknownFormatError
        The file has no USID main dataset.
    CorruptFileError
        Ancillary datasets are missing, broken or inconsistent with the main
        dataset; the message names the file and the problem.
    TruncatedFileError
        The file ends early.
    UnsafeFileError
        Declared sizes are absurd, or data live outside the file.
    """
    path = Path(os.fspath(path))
    out: dict[str, Dataset] = {}
    with open_h5(path, NAME) as fh:
        if main is not None:
            key = main if main.startswith("/") else "/" + main
            if key not in fh:
                raise CorruptFileError(path, NAME, f"has no dataset {key}")
            names = [key]
        else:
            names = find_main_datasets(fh, path)
            if not names:
                # partial main datasets: reading one explains what is missing
                names = _visit_datasets(fh, path, _declares_main)[:1]
        if not names:
            raise UnknownFormatError(
                path, NAME,
                "holds no USID main dataset (a 2-D dataset with 'quantity', 'units' and references "
                "to Position_Indices/Values and Spectroscopic_Indices/Values); "
                "it may be an NSID file: read it with reader='nsid'",
            )
        for name in names:
            try:
                ds = _read_main(fh, path, name, lazy=lazy, flat=flat, chunks=chunks,
                                allow_external=allow_external)
            except (CorruptFileError, UnknownFormatError):
                raise
            except OSError as exc:
                msg = str(exc)
                if "truncated" in msg.lower() or "eof" in msg.lower() or "addr overflow" in msg.lower():
                    raise TruncatedFileError(path, NAME, f"reading {name} failed, the file looks truncated ({msg})") from exc
                raise CorruptFileError(path, NAME, f"reading {name} failed: {msg}") from exc
            except (KeyError, ValueError, TypeError, RuntimeError) as exc:
                raise CorruptFileError(path, NAME, f"reading {name} failed: {type(exc).__name__}: {exc}") from exc
            out[name.lstrip("/")] = ds
    return out


def _declares_main(dset: Any) -> bool:
    """A dataset that tries to be a main dataset (any ancillary reference)."""
    return any(name in dset.attrs for name in ANCILLARY_NAMES)


def _deref(fh: Any, path: Path, main: Any, attr: str) -> Any:
    h5py = h5py_module(reader=NAME)
    if attr not in main.attrs:
        raise CorruptFileError(path, NAME, f"main dataset {main.name} has no '{attr}' attribute; "
                                           "it is not a complete USID main dataset")
    try:
        ref = main.attrs[attr]
    except (OSError, TypeError, ValueError) as exc:
        raise CorruptFileError(path, NAME, f"attribute '{attr}' of {main.name} is unreadable ({exc})") from exc
    try:
        if isinstance(ref, (h5py.Reference, h5py.RegionReference)):
            if not ref:
                raise ValueError("null reference")
            target = fh[ref]
        elif isinstance(ref, (str, bytes, np.bytes_, np.str_)):
            name = ref.decode("utf-8", "replace") if isinstance(ref, (bytes, np.bytes_)) else str(ref)
            target = fh[name]
        else:
            raise TypeError(f"a {type(ref).__name__}, not an object reference")
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as exc:
        raise CorruptFileError(
            path, NAME,
            f"'{attr}' of main dataset {main.name} does not point to a dataset in the file ({exc}); "
            "the reference is broken",
        ) from exc
    if not isinstance(target, h5py.Dataset):
        raise CorruptFileError(path, NAME, f"'{attr}' of {main.name} points to {target.name}, which is not a dataset")
    return target


def _read_table(path: Path, main: Any, dset: Any, attr: str, *, spectroscopic: bool, length: int) -> np.ndarray:
    shape = tuple(int(s) for s in dset.shape)
    size = int(np.prod(shape, dtype=np.float64)) if shape else 1
    if size > MAX_ANCILLARY_ELEMENTS:
        raise UnsafeFileError(path, NAME, f"{attr} {dset.name} declares {size} elements "
                                          f"(limit {MAX_ANCILLARY_ELEMENTS}); refusing to read it")
    if dset.dtype.kind not in "iufb":
        raise CorruptFileError(path, NAME, f"{attr} {dset.name} has dtype {dset.dtype}, not numbers")
    if len(shape) == 1:
        shape = (1, shape[0]) if spectroscopic else (shape[0], 1)
    if len(shape) != 2:
        raise CorruptFileError(path, NAME, f"{attr} {dset.name} has shape {dset.shape}; a 2-D table is required")
    axis = 1 if spectroscopic else 0
    if shape[axis] != length:
        which = "columns" if spectroscopic else "rows"
        raise CorruptFileError(
            path, NAME,
            f"{attr} {dset.name} has {shape[axis]} {which} but main dataset {main.name} "
            f"{main.shape} needs {length}; the ancillary dataset does not describe the main dataset",
        )
    check_storage(dset, path, NAME)
    table = np.asarray(dset[()]).reshape(shape)
    return table.T if spectroscopic else table


def _labels_units(path: Path, inds: Any, vals: Any, what: str) -> tuple[list[str], list[str]]:
    if "labels" not in inds.attrs and "labels" not in vals.attrs:
        raise CorruptFileError(path, NAME, f"{what} ancillary datasets {inds.name} and {vals.name} have no "
                                           "'labels' attribute naming their dimensions")
    labels_i = decode_str_list(inds.attrs["labels"]) if "labels" in inds.attrs else None
    labels_v = decode_str_list(vals.attrs["labels"]) if "labels" in vals.attrs else None
    if labels_i is not None and labels_v is not None and labels_i != labels_v:
        raise CorruptFileError(path, NAME, f"{what} ancillary datasets disagree: {inds.name} labels {labels_i} "
                                           f"but {vals.name} labels {labels_v}")
    labels = labels_i if labels_i is not None else labels_v
    assert labels is not None
    units_i = decode_str_list(inds.attrs["units"]) if "units" in inds.attrs else None
    units_v = decode_str_list(vals.attrs["units"]) if "units" in vals.attrs else None
    if units_i is not None and units_v is not None and units_i != units_v:
        raise CorruptFileError(path, NAME, f"{what} ancillary datasets disagree: {inds.name} units {units_i} "
                                           f"but {vals.name} units {units_v}")
    units = units_i if units_i is not None else units_v
    if units is None:
        units = [""] * len(labels)
    return labels, units


def _layout(fh: Any, path: Path, main: Any, what: str) -> AncillaryLayout:
    spectroscopic = what == "Spectroscopic"
    inds = _deref(fh, path, main, f"{what}_Indices")
    vals = _deref(fh, path, main, f"{what}_Values")
    length = int(main.shape[1] if spectroscopic else main.shape[0])
    ti = _read_table(path, main, inds, f"{what}_Indices", spectroscopic=spectroscopic, length=length)
    tv = _read_table(path, main, vals, f"{what}_Values", spectroscopic=spectroscopic, length=length)
    labels, units = _labels_units(path, inds, vals, what)
    try:
        return analyse_index_table(ti, tv, labels, units, what=what)
    except AncillaryError as exc:
        raise CorruptFileError(path, NAME, f"main dataset {main.name}: {exc}") from exc


def _default_chunks(pos: AncillaryLayout, spec: AncillaryLayout, itemsize: int) -> tuple[int, int]:
    """2-D chunks whose row/column blocks cover whole fast dims (reshape without rechunk)."""
    n_pos = int(np.prod(pos.slow_sizes))
    n_spec = int(np.prod(spec.slow_sizes))
    inner_pos = int(np.prod(pos.slow_sizes[1:])) if len(pos.slow_sizes) > 1 else 1
    inner_spec = int(np.prod(spec.slow_sizes[1:])) if len(spec.slow_sizes) > 1 else 1
    row_bytes = max(1, n_spec * itemsize)
    if inner_pos * row_bytes <= CHUNK_BYTES:
        rows = inner_pos * max(1, CHUNK_BYTES // (inner_pos * row_bytes))
        return min(rows, n_pos), n_spec
    cols = inner_spec * max(1, CHUNK_BYTES // max(1, inner_pos * inner_spec * itemsize))
    return min(inner_pos, n_pos), min(cols, n_spec)


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    for i, name in enumerate(names):
        base = name.strip() or f"dim_{i}"
        cand, n = base, 1
        while cand in out:
            n += 1
            cand = f"{base}_{n}"
        out.append(cand)
    return out


def _ancestors(obj: Any) -> list[Any]:
    chain = []
    group = obj.parent
    while True:
        chain.append(group)
        if group.name == "/":
            break
        group = group.parent
    return chain[::-1]


def _read_main(fh: Any, path: Path, name: str, *, lazy: bool, flat: bool, chunks: Any,
               allow_external: bool) -> Dataset:
    h5py = h5py_module(reader=NAME)
    main = fh[name]
    if not isinstance(main, h5py.Dataset):
        raise CorruptFileError(path, NAME, f"{name} is a group, not a main dataset")
    if main.ndim != 2:
        raise CorruptFileError(path, NAME, f"main dataset {name} has shape {main.shape}; USID main datasets are 2-D")
    for attr in ("quantity", "units"):
        if attr not in main.attrs:
            raise CorruptFileError(path, NAME, f"main dataset {name} has no '{attr}' attribute")
    check_storage(main, path, NAME, allow_external=allow_external)
    if main.dtype.kind not in "iufcb":
        raise CorruptFileError(path, NAME, f"main dataset {name} has dtype {main.dtype}; numbers are required")
    pos = _layout(fh, path, main, "Position")
    spec = _layout(fh, path, main, "Spectroscopic")

    main_attrs = decode_attrs(main)
    quantity = str(main_attrs.get("quantity", ""))
    units = str(main_attrs.get("units", ""))
    stored_dims = from_json(main.attrs["sidkit_dims"]) if "sidkit_dims" in main.attrs else None
    stored = _stored_dim_info(stored_dims)

    names = _unique_names([d.name for d in pos.dims] + [d.name for d in spec.dims])
    dims: list[Dimension] = []
    for i, adim in enumerate([*pos.dims, *spec.dims]):
        is_pos = i < len(pos.dims)
        info = stored.get(adim.name, {})
        kind = info.get("dimension_type") or ("SPATIAL" if is_pos else "SPECTRAL")
        try:
            kind = DimensionType.coerce(kind)
        except (ValueError, KeyError):
            kind = DimensionType.SPATIAL if is_pos else DimensionType.SPECTRAL
        dims.append(Dimension(names[i], adim.values, quantity=str(info.get("quantity", "generic")),
                              units=adim.units, dimension_type=kind))
    pos_dims, spec_dims = dims[: len(pos.dims)], dims[len(pos.dims):]

    if chunks is None:
        chunks = _default_chunks(pos, spec, main.dtype.itemsize)
    data2d = lazy_array(path, main, NAME, chunks=chunks)
    if not lazy:
        try:
            data2d = np.asarray(main[()])
        except OSError as exc:
            raise TruncatedFileError(path, NAME, f"main dataset {name} could not be read ({exc}); "
                                                 "the file looks truncated") from exc

    attrs = _metadata(fh, main, main_attrs)
    title = str(main_attrs.get("sidkit_title", name.rsplit("/", 1)[-1]))
    common: dict[str, Any] = dict(title=title, quantity=quantity, units=units, **attrs)
    if not lazy:
        common["chunks"] = -1  # values in memory: one block, so computing them copies nothing

    if flat:
        pdim = Dimension("position", data2d.shape[0], quantity="index", units="",
                         dimension_type=DimensionType.SPATIAL)
        pdim._parts = tuple(pos_dims[i] for i in pos.slow_to_fast)
        sdim = Dimension("spectroscopic", data2d.shape[1], quantity="index", units="",
                         dimension_type=DimensionType.SPECTRAL)
        sdim._parts = tuple(spec_dims[i] for i in spec.slow_to_fast)
        common["metadata"] = {**common["metadata"], "usid": _usid_summary(pos, spec)}
        return Dataset(data2d, [pdim, sdim], **common)

    shape = pos.slow_sizes + spec.slow_sizes
    data = data2d.reshape(shape)
    kp = len(pos.dims)
    perm = [pos.slow_to_fast.index(c) for c in range(kp)]
    perm += [kp + spec.slow_to_fast.index(c) for c in range(len(spec.dims))]
    if perm != list(range(len(perm))):
        data = data.transpose(perm)
    placeholders = set(stored_dims.get("placeholders", [])) if isinstance(stored_dims, dict) else set()
    drop = [d.name for d in dims if d.name in placeholders and len(d) == 1]
    final_shape = tuple(len(d) for d in dims if d.name not in drop)
    if drop:
        data = data.reshape(final_shape)
        dims = [d for d in dims if d.name not in drop]
    if lazy and data.name != data2d.name:
        # computing the whole N-D array: one h5py read of the 2-D dataset, folded in numpy
        # (when no reshape was needed, data is data2d and already has its direct read)
        def fold(flat: np.ndarray) -> np.ndarray:
            nd = flat.reshape(shape)
            if perm != list(range(len(perm))):
                nd = nd.transpose(perm)
            return nd.reshape(final_shape)

        register_direct_read(data, lambda: fold(_whole(data2d)))
    return Dataset(data, dims, **common)


def _whole(array: Any) -> np.ndarray:
    """All values of a lazily read 2-D main dataset, in one read where possible."""
    values = direct_read(array)
    return values if values is not None else np.asarray(array.compute())


def _stored_dim_info(stored: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if isinstance(stored, dict):
        for entry in stored.get("dims", []) or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                out[entry["name"]] = entry
    return out


def _usid_summary(pos: AncillaryLayout, spec: AncillaryLayout) -> dict[str, Any]:
    def part(layout: AncillaryLayout) -> dict[str, Any]:
        return {
            "labels": [d.name for d in layout.dims],
            "units": [d.units for d in layout.dims],
            "sizes": list(layout.sizes),
            "slow_to_fast": [layout.dims[i].name for i in layout.slow_to_fast],
            "order_in_file": layout.order_in_file,
        }

    return {"position": part(pos), "spectroscopic": part(spec)}


def _metadata(fh: Any, main: Any, main_attrs: dict[str, Any]) -> dict[str, Any]:
    """metadata, original_metadata, provenance and other Dataset fields from attributes."""
    groups = _ancestors(main)
    original: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for group in groups:
        attrs = decode_attrs(group)
        own = {k: v for k, v in attrs.items() if not k.startswith(SIDKIT_PREFIX)}
        if own:
            original[group.name] = own
        merged.update({k: v for k, v in own.items() if k not in BOOKKEEPING})
    main_own = {k: v for k, v in main_attrs.items() if not k.startswith(SIDKIT_PREFIX)}
    original[main.name] = main_own

    out: dict[str, Any] = {"metadata": merged, "original_metadata": original}
    stored_meta = from_json(main.attrs["sidkit_metadata"]) if "sidkit_metadata" in main.attrs else None
    if isinstance(stored_meta, dict):
        out["metadata"] = stored_meta
    stored_orig = from_json(main.attrs["sidkit_original_metadata"]) if "sidkit_original_metadata" in main.attrs else None
    if isinstance(stored_orig, dict):
        out["original_metadata"] = stored_orig
    prov = from_json(main.attrs["sidkit_provenance"]) if "sidkit_provenance" in main.attrs else None
    if isinstance(prov, list) and all(isinstance(r, dict) for r in prov):
        out["provenance"] = prov
    for key in ("data_type", "modality", "source"):
        value = main_attrs.get(f"sidkit_{key}")
        if isinstance(value, str) and value:
            out[key] = value
    if "data_type" in out:
        try:
            DataType.coerce(out["data_type"])
        except (ValueError, KeyError):
            del out["data_type"]
    return out
