"""HDF5 helpers shared by every package that reads or writes HDF5 (NSID, USID,
EMD, Nion, ...). h5py is imported only when a function here is called, so
``sidkit.core`` itself does not need it (install ``sidkit-core[hdf5]``).

- :func:`open_h5` opens a file read-only without HDF5 file locking and turns
  h5py's errors into :class:`~sidkit.core.CorruptFileError` naming the file.
- :class:`H5ArrayProxy` is a picklable, array-like view of one HDF5 dataset that
  opens the file for each read, so dask arrays built on it work in worker
  processes and never keep the file open or locked.
- :func:`lazy_array` builds that dask array, aligned to the on-disk chunks.
- :func:`check_storage` refuses external and virtual storage unless allowed.
- :func:`attr_to_python` decodes attribute values (bytes, numpy scalars, arrays).
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

__all__ = [
    "HDF5_MAGIC",
    "is_hdf5",
    "h5py_module",
    "open_h5",
    "H5ArrayProxy",
    "lazy_array",
    "check_storage",
    "attr_to_python",
    "auto_chunks",
]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


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
    h5py = h5py_module(reader=reader)
    path = Path(path)
    try:
        fh = h5py.File(path, mode, locking=False)
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
        h5py = h5py_module(reader=self.reader)
        try:
            with h5py.File(self.path, "r", locking=False) as fh:
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


def lazy_array(path: str | os.PathLike[str], dset: Any, reader: str, *, chunks: Any = None) -> Any:
    """A dask array reading ``dset`` of the file at ``path`` on demand.

    The graph holds an :class:`H5ArrayProxy`, so it pickles by path. The dask
    name is derived from the path, the dataset name and the file's
    modification time, so re-reading an unchanged file reuses cached results.
    """
    import dask.array as da
    from dask.base import tokenize

    proxy = H5ArrayProxy.from_dataset(path, dset, reader)
    if chunks is None:
        chunks = auto_chunks(proxy.shape, proxy.dtype.itemsize, dset.chunks)
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    name = f"{reader}-{Path(path).name}-{tokenize(os.fspath(path), dset.name, stamp)}"
    return da.from_array(proxy, chunks=chunks, name=name, lock=False, asarray=True,
                         meta=np.empty((0,) * proxy.ndim, dtype=proxy.dtype))


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
