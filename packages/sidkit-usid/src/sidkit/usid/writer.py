"""Write :class:`~sidkit.core.Dataset` objects as USID HDF5 (pyUSID's layout).

Each dataset becomes one ``Measurement_NNN/Channel_NNN`` group holding a 2-D
main dataset (positions x spectroscopic steps) and its four ancillary
datasets, linked by object-reference attributes, so that
``pyUSID.hdf_utils.check_if_main`` accepts it and
``pyUSID.USIDataset(...).get_n_dim_form()`` folds it back to the same N-D
array. Ancillary columns are written slowest-first, as pyUSID 0.0.12 does.

sidkit-only information that USID has no place for (dimension types and
quantities, nested metadata, provenance) is stored as JSON text in
``sidkit_*`` attributes of the main dataset, which pyUSID ignores.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    Dimension,
    DimensionMismatchError,
    DimensionType,
    UnsupportedOperationError,
    Writer,
)
from sidkit.core.atomic import replace_atomically
from sidkit.core.hdf5 import h5py_module, store_dask

from ._attrs import encode_attr, flatten_metadata, to_json
from ._version import __version__
from .ancillary import index_table_block, iter_row_blocks

__all__ = ["UsidWriter", "write_usid", "split_dims", "POSITION_TYPES", "SPECTROSCOPIC_TYPES"]

NAME = "usid"
#: Dimension types written as position dims; every other type is spectroscopic.
POSITION_TYPES = frozenset({DimensionType.SPATIAL, DimensionType.TEMPORAL})
#: Dimension types written as spectroscopic dims (everything not a position type).
SPECTROSCOPIC_TYPES = frozenset(set(DimensionType) - POSITION_TYPES)
#: Size of one block written at a time (bounds memory while writing).
CHUNK_BYTES = 64 * 2**20
#: Rows of ancillary tables written at a time.
ANCILLARY_BLOCK = 2**20

_GROUP_RE = {"Measurement": re.compile(r"^Measurement_(\d+)$"), "Channel": re.compile(r"^Channel_(\d+)$")}


class UsidWriter(Writer):
    """Write USID HDF5 files readable by pyUSID (``format="usid"``).

    Options of :meth:`write` are those of :func:`write_usid`.
    """

    name: ClassVar[str] = NAME
    extensions: ClassVar[tuple[str, ...]] = (".h5", ".usid")
    package: ClassVar[str] = "sidkit-usid"
    priority: ClassVar[int] = 0  # NSID is the default for .h5; USID on request
    description: ClassVar[str] = "USID HDF5 (pyUSID): 2-D main dataset + position/spectroscopic ancillary tables"

    def write(self, datasets: Mapping[str, Dataset], path: Path, *, mode: str = "w", **options: Any) -> None:
        """Write ``datasets`` to ``path`` (see :func:`write_usid`)."""
        write_usid(datasets, path, mode=mode, **options)


def _axis_list(ds: Dataset, keys: Any) -> list[int]:
    if keys is None:
        return []
    if isinstance(keys, (str, int, DimensionType)):
        keys = [keys]
    out: list[int] = []
    for key in keys:
        if isinstance(key, DimensionType):
            out.extend(i for i, d in enumerate(ds.dims) if d.dimension_type == key)
        else:
            out.append(ds.axis(key))
    return out


def split_dims(
    ds: Dataset,
    position_dims: Sequence[str | int] | str | None = None,
    spectroscopic_dims: Sequence[str | int] | str | None = None,
) -> tuple[list[int], list[int]]:
    """Axes of ``ds`` written as position and as spectroscopic dims.

    Parameters
    ----------
    ds : Dataset
    position_dims, spectroscopic_dims : names or indices, optional
        Explicit split. Giving one makes every other dim the other kind.
        Without either, SPATIAL and TEMPORAL dims are positions and all
        others (SPECTRAL, RECIPROCAL, CHANNEL, UNKNOWN) spectroscopic.

    Returns
    -------
    position_axes, spectroscopic_axes : list of int
        Each in the dataset's order (its first dim is the slowest).

    Raises
    ------
    DimensionMismatchError
        A dim is named twice, or an explicit split leaves a dim out.
    """
    pos = _axis_list(ds, position_dims)
    spec = _axis_list(ds, spectroscopic_dims)
    if position_dims is None and spectroscopic_dims is None:
        pos = [i for i, d in enumerate(ds.dims) if d.dimension_type in POSITION_TYPES]
        spec = [i for i in range(ds.ndim) if i not in pos]
    elif position_dims is None:
        pos = [i for i in range(ds.ndim) if i not in spec]
    elif spectroscopic_dims is None:
        spec = [i for i in range(ds.ndim) if i not in pos]
    both = pos + spec
    if len(set(both)) != len(both):
        raise DimensionMismatchError(f"dims {[ds.dim_names[i] for i in set(pos) & set(spec)]} are given as "
                                     "both position and spectroscopic dims")
    if sorted(both) != list(range(ds.ndim)):
        missing = [ds.dim_names[i] for i in range(ds.ndim) if i not in both]
        raise DimensionMismatchError(f"dims {missing} are neither position nor spectroscopic dims")
    return sorted(pos), sorted(spec)


def _leaves(dims: Sequence[Dimension]) -> list[Dimension]:
    """Dims with folded ones (from ``Dataset.fold`` or ``flat=True``) expanded, slowest first."""
    out: list[Dimension] = []
    for d in dims:
        parts = getattr(d, "_parts", ())
        if parts and int(np.prod([len(p) for p in parts])) == len(d):
            out.extend(parts)
        else:
            out.append(d)
    return out


def _coordinate_values(d: Dimension) -> np.ndarray:
    try:
        values = np.asarray(d.values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.arange(len(d), dtype=np.float64)
    return values


def _next_group(parent: Any, kind: str) -> str:
    used = [int(m.group(1)) for key in parent for m in [_GROUP_RE[kind].match(key)] if m]
    return f"{kind}_{(max(used) + 1) if used else 0:03d}"


def _safe_name(name: str) -> str:
    name = str(name).replace("/", "_").replace("\x00", "").strip()
    return name if name and name not in (".", "..") else "Raw_Data"


def _clean(text: Any) -> str:
    """A str HDF5 can store (no NUL characters)."""
    return str(text).replace("\x00", "")


def _str_array(values: Sequence[str]) -> np.ndarray:
    return np.array([_clean(v).encode("utf-8") for v in values], dtype="S")


def write_usid(
    data: Dataset | Mapping[str, Dataset],
    path: str | os.PathLike[str],
    *,
    mode: str = "w",
    position_dims: Sequence[str | int] | str | None = None,
    spectroscopic_dims: Sequence[str | int] | str | None = None,
    measurement: int | str | None = None,
    compression: str | None = None,
    compression_opts: Any = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Path:
    """Write one or several Datasets as USID main datasets.

    Parameters
    ----------
    data : Dataset or mapping of str to Dataset
        What to write. The name becomes the main dataset's name (a single
        Dataset is named ``Raw_Data``); each dataset gets its own
        ``Channel_NNN`` group.
    path : str or os.PathLike
        Destination file.
    mode : {"w", "a"}, default "w"
        ``"w"`` replaces the file; ``"a"`` adds new groups and leaves every
        existing group and dataset untouched. Either way the file is written
        to a temporary copy and swapped in only when complete, so a failed
        write loses nothing.
    position_dims, spectroscopic_dims : names or indices, optional
        Explicit split of the dims; see :func:`split_dims`. By default
        SPATIAL/TEMPORAL dims are positions, all others spectroscopic. A side
        with no dims gets a one-step placeholder (pyUSID requires both),
        which sidkit drops again when reading.
    measurement : int or str, optional
        Put the channels in this ``Measurement_NNN`` group (created if
        needed); default a new one.
    compression, compression_opts : optional
        h5py compression of the main dataset (e.g. ``"gzip"``, 4).
    chunk_bytes : int, default 64 MiB
        Size of the blocks computed and written at a time; the data are never
        loaded whole.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DimensionMismatchError
        The dims cannot be split into position and spectroscopic dims.
    UnsupportedOperationError
        The data type cannot be stored (strings, objects).
    CorruptFileError
        ``mode="a"`` on a file that is not HDF5.
    """
    import dask.array as da

    h5py = h5py_module(package="sidkit-usid", extra=None, reader=NAME)
    if mode not in ("w", "a"):
        raise ValueError(f"mode must be 'w' or 'a', got {mode!r}")
    if isinstance(data, Dataset):
        items = {"Raw_Data": data}
    elif isinstance(data, Mapping) and all(isinstance(v, Dataset) for v in data.values()):
        items = dict(data)
    else:
        raise TypeError(f"write_usid takes a Dataset or a mapping of name to Dataset, not {type(data).__name__}")
    path = Path(os.fspath(path)).expanduser()
    plans = [(name, ds, *split_dims(ds, position_dims, spectroscopic_dims)) for name, ds in items.items()]
    for name, ds, _, _ in plans:
        if np.dtype(ds.dtype).kind not in "biufc":
            raise UnsupportedOperationError(f"dataset '{name}' has dtype {ds.dtype}; USID stores numbers only")

    with replace_atomically(path, mode=mode) as tmp:
        try:
            fh = h5py.File(tmp, "a" if mode == "a" else "w", locking=False)
        except OSError as exc:
            raise CorruptFileError(path, NAME, f"cannot add to this file, it is not a writable HDF5 file ({exc})") from exc
        with fh:
            fh.attrs.setdefault("sidkit_usid_version", __version__)
            if measurement is None:
                group_name = _next_group(fh, "Measurement")
            elif isinstance(measurement, int):
                group_name = f"Measurement_{measurement:03d}"
            else:
                group_name = str(measurement)
            meas = fh.require_group(group_name)
            for name, ds, pos_axes, spec_axes in plans:
                channel = meas.create_group(_safe_name(_next_group(meas, "Channel")))
                _write_one(da, channel, _safe_name(name), ds, pos_axes, spec_axes,
                           compression=compression, compression_opts=compression_opts,
                           chunk_bytes=chunk_bytes)
    return path


def _placeholder(name: str, taken: set[str]) -> Dimension:
    cand, n = name, 1
    while cand in taken:
        n += 1
        cand = f"{name}_{n}"
    return Dimension(cand, np.zeros(1), quantity="generic", units="a.u.", dimension_type=DimensionType.UNKNOWN)


def _write_one(da: Any, channel: Any, name: str, ds: Dataset, pos_axes: list[int], spec_axes: list[int], *,
               compression: str | None, compression_opts: Any, chunk_bytes: int) -> None:
    pos_leaves = _leaves([ds.dims[i] for i in pos_axes])
    spec_leaves = _leaves([ds.dims[i] for i in spec_axes])
    taken = {d.name for d in pos_leaves + spec_leaves}
    placeholders: list[str] = []
    if not pos_leaves:
        pos_leaves = [_placeholder("arb_position", taken)]
        placeholders.append(pos_leaves[0].name)
    if not spec_leaves:
        spec_leaves = [_placeholder("arb", taken)]
        placeholders.append(spec_leaves[0].name)
    n_pos = int(np.prod([len(d) for d in pos_leaves]))
    n_spec = int(np.prod([len(d) for d in spec_leaves]))
    dtype = np.dtype(ds.dtype)

    # main dataset, written block by block
    data = ds.data
    order = pos_axes + spec_axes
    if order != list(range(ds.ndim)):
        data = data.transpose(order)
    data2d = data.reshape((n_pos, n_spec))
    row_bytes = max(1, n_spec * dtype.itemsize)
    if row_bytes <= chunk_bytes:
        blocks = (max(1, min(n_pos, chunk_bytes // row_bytes)), n_spec)
    else:
        blocks = (1, max(1, chunk_bytes // dtype.itemsize))
    data2d = data2d.rechunk(blocks)
    kwargs: dict[str, Any] = {}
    if compression is not None:
        kwargs.update(compression=compression, compression_opts=compression_opts,
                      chunks=_hdf5_chunks((n_pos, n_spec), dtype.itemsize))
    main = channel.create_dataset(name, shape=(n_pos, n_spec), dtype=dtype, **kwargs)
    if n_pos and n_spec:
        store_dask(data2d, main)  # block by block; on a dask.distributed cluster when one is active

    # ancillary datasets
    anc = {}
    for what, leaves, n in (("Position", pos_leaves, n_pos), ("Spectroscopic", spec_leaves, n_spec)):
        k = len(leaves)
        spectro = what == "Spectroscopic"
        shape = (k, n) if spectro else (n, k)
        inds = channel.create_dataset(f"{what}_Indices", shape=shape, dtype=np.uint32)
        vals = channel.create_dataset(f"{what}_Values", shape=shape, dtype=np.float64)
        sizes = [len(d) for d in leaves]
        values = [_coordinate_values(d) for d in leaves]
        for start, stop in iter_row_blocks(n, ANCILLARY_BLOCK):
            bi, bv = index_table_block(sizes, values, start, stop)
            if spectro:
                inds[:, start:stop] = bi.T
                vals[:, start:stop] = bv.T
            else:
                inds[start:stop] = bi
                vals[start:stop] = bv
        for dset in (inds, vals):
            dset.attrs["labels"] = _str_array([d.name for d in leaves])
            dset.attrs["units"] = _str_array([d.units for d in leaves])
            dset.attrs["type"] = np.zeros(k, dtype=np.int64)
        anc[f"{what}_Indices"] = inds
        anc[f"{what}_Values"] = vals

    main.attrs["quantity"] = _clean(ds.quantity)
    main.attrs["units"] = _clean(ds.units)
    for key, dset in anc.items():
        main.attrs[key] = dset.ref
    main.attrs["sidkit_title"] = _clean(ds.title or name)
    main.attrs["sidkit_usid_version"] = __version__
    main.attrs["sidkit_data_type"] = ds.data_type.name
    main.attrs["sidkit_modality"] = _clean(ds.modality)
    main.attrs["sidkit_source"] = _clean(ds.source)
    main.attrs["sidkit_dims"] = to_json({
        "dims": [{"name": d.name, "quantity": d.quantity, "dimension_type": d.dimension_type.name,
                  "role": "position" if i < len(pos_leaves) else "spectroscopic"}
                 for i, d in enumerate([*pos_leaves, *spec_leaves])],
        "placeholders": placeholders,
        "order": list(ds.dim_names),
    })
    main.attrs["sidkit_metadata"] = to_json(ds.metadata)
    main.attrs["sidkit_original_metadata"] = to_json(ds.original_metadata)
    main.attrs["sidkit_provenance"] = to_json(ds.provenance)
    # readable copy of the metadata for pyUSID users (sidpy's flattened style)
    for key, value in flatten_metadata(ds.metadata).items():
        _set_readable_attr(channel, key, value)


def _set_readable_attr(obj: Any, key: str, value: Any) -> None:
    """Best-effort plain attribute; values HDF5 refuses go in as JSON, names it refuses are skipped
    (the exact metadata is in ``sidkit_metadata`` anyway)."""
    key = str(key).replace("\x00", "")
    if not key or key in (".", "..") or key.startswith("sidkit_"):
        return
    try:
        if key in obj.attrs:
            return
        encoded = encode_attr(value)
        if encoded is None:
            return
        try:
            obj.attrs[key] = encoded
        except (TypeError, ValueError):
            obj.attrs[key] = to_json(value)
    except (TypeError, ValueError, OSError, KeyError):
        return


def _hdf5_chunks(shape: tuple[int, int], itemsize: int, target: int = 2**20) -> tuple[int, int]:
    rows, cols = shape
    cols_c = max(1, min(cols, target // itemsize))
    rows_c = max(1, min(rows, target // max(1, cols_c * itemsize)))
    return rows_c, cols_c
