"""HDF5 helpers shared by every package that reads or writes HDF5 (NSID, USID,
EMD, Nion, ...). h5py is imported only when a function here is called, so
``sidkit.core`` itself does not need it (install ``sidkit-core[hdf5]``).

- :func:`h5_file` opens a file without HDF5 file locking (or with the locking
  of a handle the process already holds on it); :func:`open_h5` does so
  read-only and turns h5py's errors into :class:`~sidkit.core.CorruptFileError`
  naming the file.
- :class:`H5ArrayProxy` is a picklable, array-like view of one HDF5 dataset that
  opens the file for each read, so dask arrays built on it work in worker
  processes and never keep the file open or locked.
- :func:`lazy_array` builds that dask array, aligned to the on-disk chunks.
- :func:`check_storage` refuses external and virtual storage unless allowed.
- :func:`attr_to_python` decodes attribute values (bytes, numpy scalars, arrays).
- :func:`write_tree` / :func:`read_tree` store nested JSON-like metadata as
  groups and attributes (the sidpy layout) losslessly.
- :func:`store_dask` streams a dask array into an h5py dataset block by block.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptFileError, TruncatedFileError, UnsafeFileError
from .plugins import require
from .streaming import distributed_client, iter_blocks, row_slices

__all__ = [
    "HDF5_MAGIC",
    "is_hdf5",
    "h5py_module",
    "h5_file",
    "open_h5",
    "H5ArrayProxy",
    "lazy_array",
    "check_storage",
    "attr_to_python",
    "auto_chunks",
    "write_tree",
    "read_tree",
    "store_dask",
]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

#: Rows computed on a dask.distributed cluster reach the writing process in
#: slabs of about this many bytes.
SLAB_BYTES = 256 * 2**20


def is_hdf5(head: bytes) -> bool:
    """True when ``head`` starts with the HDF5 signature (at 0 or a user-block offset)."""
    for offset in (0, 512, 1024, 2048):
        if head[offset : offset + 8] == HDF5_MAGIC:
            return True
    return False


def h5py_module(package: str = "sidkit-core", extra: str = "hdf5", reader: str | None = None) -> Any:
    """Import h5py or raise :class:`~sidkit.core.MissingDependencyError`."""
    return require("h5py", extra=extra, package=package, reader=reader)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def h5_file(path: str | os.PathLike[str], mode: str = "r", *, reader: str | None = None, **kwargs: Any) -> Any:
    """``h5py.File(path, mode)`` without HDF5 file locking.

    Locking is off so that files on network shares and files another program
    is writing open at all. HDF5 refuses a second open of one file with other
    locking flags than an open handle in the same process (a user's own
    ``h5py.File(path)``, or RosettaSciIO's); then the file is opened with the
    default locking, as that handle was. ``reader`` names who asks, in the
    message if h5py is missing; ``kwargs`` go to :class:`h5py.File`.
    """
    h5py = h5py_module(reader=reader)
    try:
        return h5py.File(path, mode, locking=False, **kwargs)
    except OSError as exc:
        if "locking flag" not in str(exc):
            raise
        return h5py.File(path, mode, **kwargs)


@contextlib.contextmanager
def open_h5(path: str | os.PathLike[str], reader: str, mode: str = "r") -> Iterator[Any]:
    """Open an HDF5 file, translating h5py's errors into sidkit errors.

    Parameters
    ----------
    path : path-like
        The file.
    reader : str
        Name of the reader, for messages.
    mode : str, default "r"
        h5py mode.

    Yields
    ------
    h5py.File

    Raises
    ------
    CorruptFileError, TruncatedFileError
        The file is not valid HDF5 or ends early.
    """
    path = Path(path)
    h5py_module(reader=reader)  # a missing h5py is named, not taken for a damaged file
    try:
        fh = h5_file(path, mode, reader=reader)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        msg = str(exc)
        if "truncated" in msg.lower() or "eof" in msg.lower():
            raise TruncatedFileError(
                path, reader, f"the HDF5 file is truncated ({msg}); re-copy or re-export it"
            ) from exc
        raise CorruptFileError(path, reader, f"not a readable HDF5 file ({msg})") from exc
    try:
        yield fh
    finally:
        fh.close()


def check_storage(dset: Any, path: str | os.PathLike[str], reader: str, *, allow_external: bool = False) -> None:
    """Refuse datasets whose data live outside the file unless allowed.

    Raises
    ------
    UnsafeFileError
        The dataset uses external raw storage or is a virtual dataset.
    """
    if allow_external:
        return
    if getattr(dset, "external", None):
        raise UnsafeFileError(
            path, reader,
            f"dataset {dset.name} stores its data in external files {dset.external!r}; "
            "pass allow_external=True to read them",
        )
    if getattr(dset, "is_virtual", False):
        raise UnsafeFileError(
            path, reader,
            f"dataset {dset.name} is a virtual dataset mapping other files; "
            "pass allow_external=True to read it",
        )


class H5ArrayProxy:
    """Array-like, picklable view of one HDF5 dataset.

    It holds only the path and the dataset's name; each ``[...]`` opens the
    file (read-only, without locking), reads and closes it. Pickling sends the
    path, not an open handle, so dask graphs built on it run in worker
    processes.
    """

    __slots__ = ("path", "name", "shape", "dtype", "ndim", "chunks", "reader")

    def __init__(self, path: str | os.PathLike[str], name: str, shape: tuple[int, ...],
                 dtype: Any, chunks: tuple[int, ...] | None = None, reader: str = "hdf5") -> None:
        self.path = os.fspath(path)
        self.name = name
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self.chunks = chunks
        self.reader = reader

    @classmethod
    def from_dataset(cls, path: str | os.PathLike[str], dset: Any, reader: str = "hdf5") -> H5ArrayProxy:
        """Proxy for an open h5py Dataset of the file at ``path``."""
        return cls(path, dset.name, dset.shape, dset.dtype, dset.chunks, reader)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            with h5_file(self.path, "r", reader=self.reader) as fh:
                dset = fh[self.name]
                if dset.shape != self.shape:
                    raise CorruptFileError(
                        self.path, self.reader,
                        f"dataset {self.name} changed shape from {self.shape} to {dset.shape} "
                        "since it was opened",
                    )
                if self.ndim == 0:
                    return np.asarray(dset[()], dtype=self.dtype)
                return np.asarray(dset[key])
        except CorruptFileError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise CorruptFileError(
                self.path, self.reader, f"reading {self.name}{_fmt_key(key)} failed: {exc}"
            ) from exc

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.path, self.name, self.shape, self.dtype.str)

    def __repr__(self) -> str:
        return f"H5ArrayProxy({self.path!r}, {self.name!r}, shape={self.shape}, dtype={self.dtype})"


def _fmt_key(key: Any) -> str:
    if not isinstance(key, tuple):
        key = (key,)
    parts = []
    for k in key:
        if isinstance(k, slice):
            parts.append(f"{'' if k.start is None else k.start}:{'' if k.stop is None else k.stop}")
        else:
            parts.append(str(k))
    return "[" + ", ".join(parts) + "]"


def auto_chunks(shape: tuple[int, ...], itemsize: int, on_disk: tuple[int, ...] | None,
                target_bytes: int = 64 * 2**20) -> tuple[int, ...] | str:
    """Dask chunks of about ``target_bytes`` that are whole multiples of the
    on-disk HDF5 chunks (so no HDF5 chunk is decompressed twice)."""
    if not shape:
        return ()
    if not on_disk:
        return "auto"
    chunks = list(on_disk)
    # grow the slowest-varying axes last: double from the fastest axis outwards
    total = int(np.prod(chunks)) * itemsize
    for axis in range(len(shape) - 1, -1, -1):
        while total * 2 <= target_bytes and chunks[axis] < shape[axis]:
            chunks[axis] = min(chunks[axis] * 2, shape[axis])
            total = int(np.prod(chunks)) * itemsize
    return tuple(int(c) for c in chunks)


def lazy_array(path: str | os.PathLike[str], dset: Any, reader: str, *, chunks: Any = None,
               h5path: str | None = None) -> Any:
    """A dask array reading ``dset`` of the file at ``path`` on demand.

    The graph holds an :class:`H5ArrayProxy`, so it pickles by path. The dask
    name is derived from the path, the dataset name and the file's
    modification time, so re-reading an unchanged file reuses cached results.
    Computing the whole array reads it in one h5py call (see
    :mod:`sidkit.core.fastpath`).

    Parameters
    ----------
    path : path-like
        The file holding ``dset``.
    dset : h5py.Dataset
        The open dataset (its shape, dtype and chunks are used).
    reader : str
        Reader name, for error messages.
    chunks : dask chunk specification, optional
        Default: whole multiples of the HDF5 chunks, about 64 MiB.
    h5path : str, optional
        Path of the dataset inside ``path`` when ``dset.name`` does not give it
        (a dataset reached through an allowed external link).
    """
    import dask.array as da
    from dask.base import tokenize

    from .fastpath import register_direct_read

    proxy = H5ArrayProxy(path, h5path or dset.name, dset.shape, dset.dtype, dset.chunks, reader)
    if chunks is None:
        chunks = auto_chunks(proxy.shape, proxy.dtype.itemsize, dset.chunks)
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    name = f"{reader}-{Path(path).name}-{tokenize(os.fspath(path), proxy.name, stamp)}"
    array = da.from_array(proxy, chunks=chunks, name=name, lock=False, asarray=True,
                          meta=np.empty((0,) * proxy.ndim, dtype=proxy.dtype))
    return register_direct_read(array, lambda: proxy[()])


def attr_to_python(value: Any) -> Any:
    """Decode an HDF5 attribute value into plain Python.

    bytes become str (UTF-8), numpy scalars Python scalars, string arrays
    lists of str; numeric arrays stay numpy arrays.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        if isinstance(value, np.bytes_):
            return bytes(value).decode("utf-8", "replace")
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO" or value.dtype.kind == "U":
            return [attr_to_python(v) for v in value.tolist()]
        return value
    return value


# ---------------------------------------------------------------------------
# Metadata trees: every JSON-like kind to and from HDF5 groups and attributes
# ---------------------------------------------------------------------------
#
# The layout is the one sidpy / pyNSID use (a dict is a group, a leaf is an
# attribute of that group), so their readers see sensible values. What plain
# attributes cannot say (a list versus an array, None, a numpy scalar type, a
# tuple, bytes, a key that is not a valid HDF5 name, ...) is recorded in a
# small "kinds" dict that the caller stores wherever its layout allows (NSID
# keeps it in a sibling dataset that pyNSID ignores). Decoding without the
# kinds dict still gives plain, sensible Python values.
#
# Encoding rules (``kinds`` keys are the stored names joined by "/"):
#
# ===================  ============================================  =========
# value                stored as                                      kind
# ===================  ============================================  =========
# dict (also empty)    group                                          --
# str                  variable-length UTF-8 string attribute         --
# str containing NUL   opaque (np.void) UTF-8 bytes                   str
# int (int64 range)    int64 attribute                                --
# int (larger)         decimal string attribute                       bigint
# float, complex       float64 / complex128 attribute                 --
# bool                 HDF5 boolean (enum) attribute                  --
# None                 empty (null dataspace) attribute               --
# numpy scalar         attribute of its dtype                         numpy
# numpy array          array attribute of its dtype (str: vlen UTF-8)  ndarray*
# list of one scalar   array attribute (int64/float64/bool/str)        list
#   type (non-empty)
# other list, tuple    group with members "0", "1", ...               list/tuple
# bytes                opaque (np.void) attribute                     bytes
# Enum                 its name as a string                           --
# anything else        its repr as a string                           repr
# ===================  ============================================  =========
#
# (*) only string and 0-d arrays need the ``ndarray`` kind.
# Keys that are not valid HDF5 names ("", ".", containing "/" or NUL) or not str
# are stored under a safe name and the original key is recorded.

_KIND_KEY = "key"
_MAX_TREE_DEPTH = 64
_MAX_TREE_ITEMS = 1_000_000


def _h5_safe_name(key: Any, used: set[str]) -> tuple[str, Any]:
    """Stored name for ``key`` and the original key to record (or ``None``)."""
    text = key if isinstance(key, str) else str(key)
    record = None if isinstance(key, str) else key
    name = text.replace("/", "\u2215").replace("\x00", "\u2400")
    if name in ("", ".", ".."):
        name = f"_{name}_"
    if name != text:
        record = key
    base, n = name, 1
    while name in used:
        name = f"{base}~{n}"
        n += 1
        record = key
    used.add(name)
    return name, record


def _homogeneous_list_array(value: list[Any]) -> np.ndarray | None:
    """The array a list is stored as, or None when it needs a group."""
    if not value:
        return None
    first = type(value[0])
    if not all(type(v) is first for v in value):
        return None
    if first is bool:
        return np.asarray(value, dtype=bool)
    if first is int:
        if all(-(2**63) <= v < 2**63 for v in value):
            return np.asarray(value, dtype=np.int64)
        return None
    if first is float:
        return np.asarray(value, dtype=np.float64)
    if first is complex:
        return np.asarray(value, dtype=np.complex128)
    if first is str:
        if any("\x00" in v for v in value):
            return None
        h5py = h5py_module()
        return np.asarray(value, dtype=h5py.string_dtype())
    return None


def _array_attr(value: np.ndarray) -> Any:
    if value.dtype.kind == "U":
        h5py = h5py_module()
        return np.asarray(value.astype(object), dtype=h5py.string_dtype())
    if value.dtype.kind == "O":
        h5py = h5py_module()
        return np.asarray([str(v) for v in value.ravel()], dtype=h5py.string_dtype()).reshape(value.shape)
    return value


def write_tree(parent: Any, name: str, value: Any) -> dict[str, Any]:
    """Write a JSON-like ``value`` as group ``name`` of ``parent``.

    ``value`` is usually a dict (its items become attributes and subgroups);
    a list or tuple becomes a group with members ``"0"``, ``"1"``, ...
    The group must not exist yet.

    Parameters
    ----------
    parent : h5py.Group
        Where to create the group.
    name : str
        Its name (a valid HDF5 link name).
    value : dict, list or tuple
        What to store; nested values of every JSON-like kind, numpy scalars and
        arrays, bytes and None are supported (see the table in the module).

    Returns
    -------
    dict
        The kinds that plain attributes cannot express, by stored path
        (``""`` is the group itself). Pass it to :func:`read_tree` to get
        ``value`` back exactly.
    """
    kinds: dict[str, Any] = {}
    group = parent.create_group(name)
    if isinstance(value, (list, tuple)):
        kinds[""] = {"kind": "list" if isinstance(value, list) else "tuple"}
        items: Any = [(str(i), v) for i, v in enumerate(value)]
    elif isinstance(value, dict):
        items = list(value.items())
    else:
        raise TypeError(f"write_tree stores a dict, list or tuple, not {type(value).__name__}")
    _write_items(group, items, "", kinds, 0)
    return kinds


def _note(kinds: dict[str, Any], path: str, **entry: Any) -> None:
    kinds.setdefault(path, {}).update(entry)


def _write_items(group: Any, items: list[tuple[Any, Any]], prefix: str,
                 kinds: dict[str, Any], depth: int) -> None:
    from enum import Enum

    h5py = h5py_module()
    if depth > _MAX_TREE_DEPTH:
        raise ValueError(f"metadata nested deeper than {_MAX_TREE_DEPTH} levels at {group.name}")
    used: set[str] = set()
    for key, val in items:
        stored, original = _h5_safe_name(key, used)
        path = f"{prefix}{stored}"
        if original is not None:
            _note(kinds, path, key=original if isinstance(original, (str, int, float, bool)) or original is None else str(original))
        if isinstance(val, dict):
            sub = group.create_group(stored)
            _write_items(sub, list(val.items()), path + "/", kinds, depth + 1)
            continue
        if isinstance(val, (list, tuple)):
            arr = _homogeneous_list_array(val) if isinstance(val, list) else None
            if arr is not None:
                group.attrs[stored] = arr
                _note(kinds, path, kind="list")
            else:
                sub = group.create_group(stored)
                _note(kinds, path, kind="list" if isinstance(val, list) else "tuple")
                _write_items(sub, [(str(i), v) for i, v in enumerate(val)], path + "/", kinds, depth + 1)
            continue
        if val is None:
            group.attrs[stored] = h5py.Empty("f")
        elif isinstance(val, bool):
            group.attrs[stored] = np.bool_(val)
        elif isinstance(val, int) and not isinstance(val, np.generic):
            if -(2**63) <= val < 2**63:
                group.attrs[stored] = np.int64(val)
            else:
                group.attrs[stored] = str(val)
                _note(kinds, path, kind="bigint")
        elif isinstance(val, float) and not isinstance(val, np.generic):
            group.attrs[stored] = np.float64(val)
        elif isinstance(val, complex) and not isinstance(val, np.generic):
            group.attrs[stored] = np.complex128(val)
        elif isinstance(val, str):
            if "\x00" in val:  # HDF5 strings end at NUL: keep the UTF-8 bytes opaque
                group.attrs[stored] = np.void(val.encode("utf-8"))
                _note(kinds, path, kind="str")
            else:
                group.attrs[stored] = val
        elif isinstance(val, (bytes, bytearray)):
            group.attrs[stored] = np.void(bytes(val))
            _note(kinds, path, kind="bytes")
        elif isinstance(val, np.generic):
            if isinstance(val, np.str_):
                group.attrs[stored] = str(val)
            elif isinstance(val, np.bytes_):
                group.attrs[stored] = np.void(bytes(val))
            else:
                group.attrs[stored] = val
            _note(kinds, path, kind="numpy", dtype=val.dtype.str)
        elif isinstance(val, np.ndarray):
            group.attrs[stored] = _array_attr(val)
            if val.dtype.kind in "UOS" or val.ndim == 0:
                _note(kinds, path, kind="ndarray", dtype=val.dtype.str, shape=list(val.shape))
        elif isinstance(val, Enum):
            group.attrs[stored] = val.name
        else:
            group.attrs[stored] = repr(val)
            _note(kinds, path, kind="repr")


def _plain_attr(value: Any) -> Any:
    """Decode one attribute value without kind information."""
    h5py = h5py_module()
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, np.void):
        return bytes(value.tobytes())
    if isinstance(value, np.ndarray) and value.dtype.kind == "V":
        return repr(value.tolist())
    if isinstance(value, (str, bytes, np.generic, np.ndarray)):
        return attr_to_python(value)
    return str(value)


def _apply_kind(value: Any, entry: dict[str, Any]) -> Any:
    kind = entry.get("kind")
    try:
        if kind == "list":
            if isinstance(value, np.ndarray):
                return value.tolist()
            return list(value) if isinstance(value, (list, tuple)) else value
        if kind == "tuple":
            return tuple(value) if isinstance(value, (list, tuple)) else value
        if kind == "bigint":
            return int(value)
        if kind == "str":
            return value.decode("utf-8") if isinstance(value, bytes) else str(value)
        if kind == "bytes":
            return value if isinstance(value, bytes) else str(value).encode("utf-8")
        if kind == "numpy":
            dtype = np.dtype(entry.get("dtype", "f8"))
            if dtype.kind == "U":
                return np.str_(value)
            if dtype.kind == "S":
                return np.bytes_(value)
            return dtype.type(value)
        if kind == "ndarray":
            dtype = np.dtype(entry.get("dtype", "f8"))
            shape = tuple(int(n) for n in entry.get("shape", np.shape(value)))
            return np.asarray(value, dtype=dtype).reshape(shape)
    except (TypeError, ValueError, OverflowError):
        return value
    return value


def read_tree(group: Any, kinds: dict[str, Any] | None = None, *, path: str | os.PathLike[str] = "",
              reader: str = "hdf5", allow_external: bool = False) -> Any:
    """Read a group written by :func:`write_tree` (or by sidpy) back.

    Parameters
    ----------
    group : h5py.Group
        The group.
    kinds : dict, optional
        What :func:`write_tree` returned; without it values decode plainly
        (numeric arrays stay numpy arrays, string arrays become lists of str).
    path, reader : str
        File and reader, for error messages.
    allow_external : bool, default False
        Follow external links inside the tree instead of refusing them.

    Returns
    -------
    dict or list
        A dict, or a list/tuple when the group was written from one.

    Raises
    ------
    UnsafeFileError
        The tree links to another file and ``allow_external`` is False.
    CorruptFileError
        The tree is nested deeper than 64 levels (or loops) or holds more
        than a million items.
    """
    kinds = kinds or {}
    counter = [0]
    out = _read_group(group, kinds, "", path, reader, allow_external, 0, counter)
    root = kinds.get("", {})
    return _restore_sequence(out, root.get("kind"))


def _restore_sequence(out: dict[str, Any], kind: Any) -> Any:
    if kind not in ("list", "tuple"):
        return out
    try:
        items = [out[str(i)] for i in range(len(out))]
    except KeyError:
        return out
    return items if kind == "list" else tuple(items)


def _read_group(group: Any, kinds: dict[str, Any], prefix: str, path: Any, reader: str,
                allow_external: bool, depth: int, counter: list[int]) -> dict[str, Any]:
    h5py = h5py_module()
    if depth > _MAX_TREE_DEPTH:
        raise CorruptFileError(path, reader, f"metadata group {group.name} is nested deeper than "
                               f"{_MAX_TREE_DEPTH} levels (or links to itself)")
    out: dict[str, Any] = {}
    for stored in group.attrs:
        counter[0] += 1
        if counter[0] > _MAX_TREE_ITEMS:
            raise CorruptFileError(path, reader, f"metadata under {group.name} has more than "
                                   f"{_MAX_TREE_ITEMS} items")
        try:
            raw = group.attrs[stored]
        except (OSError, TypeError, ValueError, KeyError) as exc:
            out[stored] = f"<unreadable attribute: {exc}>"
            continue
        entry = kinds.get(prefix + stored, {})
        value = _apply_kind(_plain_attr(raw), entry)
        out[entry[_KIND_KEY] if _KIND_KEY in entry else stored] = value
    for stored in group:
        counter[0] += 1
        link = group.get(stored, getlink=True)
        if isinstance(link, h5py.ExternalLink) and not allow_external:
            raise UnsafeFileError(path, reader, f"metadata entry {group.name}/{stored} is an external "
                                  f"link to {link.filename}:{link.path}; pass allow_external=True to follow it")
        if isinstance(link, h5py.SoftLink):
            continue
        try:
            obj = group[stored]
        except (KeyError, OSError) as exc:
            raise CorruptFileError(path, reader, f"metadata entry {group.name}/{stored} is unreadable ({exc})") from exc
        entry = kinds.get(prefix + stored, {})
        key = entry[_KIND_KEY] if _KIND_KEY in entry else stored
        if isinstance(obj, h5py.Group):
            sub = _read_group(obj, kinds, prefix + stored + "/", path, reader, allow_external, depth + 1, counter)
            out[key] = _restore_sequence(sub, entry.get("kind"))
        # datasets inside metadata groups are not part of the sidpy layout: skipped
    return out


def store_dask(array: Any, dset: Any, *, num_workers: int | None = None) -> None:
    """Write a dask array into an h5py dataset block by block.

    Uses :func:`dask.array.store` with the threaded scheduler and a lock around
    each HDF5 write (h5py objects cannot travel to other processes), so
    memory stays bounded by a few blocks whatever the array's size. Rechunk
    ``array`` to whole multiples of the dataset's HDF5 chunks first for speed.

    Parameters
    ----------
    array : dask.array.Array
        Values; its shape must equal ``dset.shape``.
    dset : h5py.Dataset
        Open, writable destination.
    num_workers : int, optional
        Threads computing blocks (dask's default when omitted).
    """
    import threading

    import dask.array as da

    if tuple(array.shape) != tuple(dset.shape):
        raise ValueError(f"array shape {array.shape} != dataset shape {dset.shape}")
    if array.ndim == 0:
        dset[()] = np.asarray(array.compute(scheduler="sync"))
        return
    if array.size == 0:
        return
    from .fastpath import direct_read

    values = direct_read(array, in_memory_only=True)
    if values is not None:  # already in memory: one h5py call, no dask overhead
        dset[...] = values
        return
    if distributed_client() is not None:
        # slabs are computed on the cluster (the next ones while this one is
        # written) and written here, in order
        slabs = row_slices(array.chunks[0], array.dtype.itemsize * int(np.prod(array.shape[1:])), SLAB_BYTES)
        for sl, values in iter_blocks(array, slabs, prefetch=1):
            dset[sl] = values
        return
    kwargs: dict[str, Any] = {"scheduler": "threads"}
    if num_workers is not None:
        kwargs["num_workers"] = num_workers
    da.store(array, dset, lock=threading.Lock(), compute=True, **kwargs)
