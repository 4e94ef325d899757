"""Write :class:`~sidkit.core.Dataset` objects as NSID, the layout pyNSID writes.

Each dataset goes to its own ``/Measurement_000/Channel_NNN/<name>/<name>``
with its dims as HDF5 dimension scales and its metadata, original metadata
and provenance as nested groups beside it (see :mod:`sidkit.nsid.layout`),
so pyNSID and SciFiReaders read it back as the same sidpy Dataset.

Writing is chunked, optionally compressed, streamed block by block from the
dask array (memory stays bounded for data larger than memory) and atomic:
the file is written under a temporary name and swapped in only when
complete, so a failure leaves the previous file and its datasets intact.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, UnsupportedOperationError
from sidkit.core.atomic import replace_atomically
from sidkit.core.hdf5 import auto_chunks, h5py_module, store_dask, write_tree
from sidkit.core.plugins import Writer

from ._version import __version__
from .layout import ENCODING_NAME, PYNSID_LAYOUT_VERSION, TREES, VARIANCE_NAME, safe_name

__all__ = ["NsidWriter", "write_nsid", "hdf5_chunks", "chunks_for_blocks"]

WRITER = "nsid"
COMPRESSIONS = (None, "gzip", "lzf")
#: Target size of one HDF5 chunk chosen automatically (bytes).
CHUNK_TARGET = 4 * 2**20
#: Target size of one dask block written at a time (bytes).
BLOCK_TARGET = 64 * 2**20
_RESERVED = set(TREES) | {ENCODING_NAME, VARIANCE_NAME}


def hdf5_chunks(shape: tuple[int, ...], itemsize: int, target: int = CHUNK_TARGET) -> tuple[int, ...] | None:
    """HDF5 chunk shape of about ``target`` bytes (None for empty or 0-d data).

    The longest chunk axis is halved until the chunk fits, so chunks stay
    roughly cubic in elements.
    """
    if not shape or 0 in shape:
        return None
    chunks = [int(n) for n in shape]
    while int(np.prod(chunks)) * itemsize > target:
        axis = int(np.argmax(chunks))
        if chunks[axis] == 1:
            break
        chunks[axis] = (chunks[axis] + 1) // 2
    return tuple(chunks)


def _smallest_factor(n: int) -> int:
    f = 2
    while f * f <= n:
        if n % f == 0:
            return f
        f += 1
    return n


def chunks_for_blocks(blocks: tuple[tuple[int, ...], ...], itemsize: int,
                      target: int = CHUNK_TARGET) -> tuple[int, ...] | None:
    """HDF5 chunks that tile the dask blocks exactly, or None if none is good.

    Each chunk edge divides its axis' regular dask block size, so every block
    covers whole HDF5 chunks and the array is written without rechunking
    (no extra copy). None when the blocks are irregular or the only tiling
    chunks would be tiny (< 1/16 of ``target``).
    """
    if not blocks or any(not b or 0 in b for b in blocks):
        return None
    sizes = []
    for b in blocks:
        if any(x != b[0] for x in b[:-1]) or b[-1] > b[0]:
            return None
        sizes.append(int(b[0]))
    chunks = list(sizes)
    while int(np.prod(chunks)) * itemsize > target:
        axis = int(np.argmax(chunks))
        if chunks[axis] == 1:
            return None
        chunks[axis] //= _smallest_factor(chunks[axis])
    if int(np.prod(chunks)) * itemsize * 16 < min(target, int(np.prod(sizes)) * itemsize):
        return None
    return tuple(chunks)


def _tiles(blocks: tuple[tuple[int, ...], ...], chunks: tuple[int, ...]) -> bool:
    """Whether every dask block boundary falls on an HDF5 chunk boundary."""
    return all(all(x % c == 0 for x in b[:-1]) for b, c in zip(blocks, chunks))


def _bookkeeping(obj: Any) -> None:
    obj.attrs["machine_id"] = socket.getfqdn()
    obj.attrs["platform"] = platform.platform()
    obj.attrs["pyNSID_version"] = PYNSID_LAYOUT_VERSION
    obj.attrs["sidkit_nsid_version"] = __version__
    obj.attrs["timestamp"] = _dt.datetime.now().strftime("%Y_%m_%d-%H_%M_%S")


def _check_chunks(chunks: Any, shape: tuple[int, ...]) -> Any:
    if chunks is None or chunks is True:
        return chunks
    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != len(shape) or any(c < 1 for c in chunks):
        raise ValueError(f"chunks={chunks} does not fit data of shape {shape}")
    return tuple(min(c, n) if n else c for c, n in zip(chunks, shape))


def _dim_values(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "US" or values.dtype.kind == "O":
        h5py = h5py_module(package="sidkit-nsid", extra=None, reader=WRITER)
        return np.asarray([str(v) for v in values], dtype=h5py.string_dtype())
    return values


class _DatasetWriter:
    def __init__(self, compression: str | None, compression_opts: Any, shuffle: bool,
                 chunks: Any) -> None:
        self.compression = compression
        self.compression_opts = compression_opts
        self.shuffle = shuffle
        self.chunks = chunks

    def create(self, group: Any, name: str, array: Any) -> Any:
        shape = tuple(int(n) for n in array.shape)
        chunks = self.chunks
        if chunks is None:
            chunks = (chunks_for_blocks(array.chunks, array.dtype.itemsize)
                      or hdf5_chunks(shape, array.dtype.itemsize))
        else:
            chunks = _check_chunks(chunks, shape)
        kwargs: dict[str, Any] = {}
        if shape and 0 not in shape:
            kwargs["chunks"] = chunks
            if self.compression is not None:
                kwargs["compression"] = self.compression
                if self.compression_opts is not None:
                    kwargs["compression_opts"] = self.compression_opts
                kwargs["shuffle"] = self.shuffle
        dset = group.create_dataset(name, shape=shape, dtype=array.dtype, **kwargs)
        data = array
        if dset.chunks and array.ndim and not _tiles(array.chunks, dset.chunks):
            data = array.rechunk(auto_chunks(shape, array.dtype.itemsize, dset.chunks, BLOCK_TARGET))
        store_dask(data, dset)
        return dset

    def write(self, channel: Any, name: str, ds: Dataset) -> None:
        if ds.dtype.kind not in "biufc":
            raise UnsupportedOperationError(
                f"NSID stores numeric data; dataset {name!r} has dtype {ds.dtype}. "
                "Convert it with ds.astype(...) first")
        gname = safe_name(name)
        dim_names = {safe_name(d.name, f"dim_{i}") for i, d in enumerate(ds.dims)}
        dname = gname
        while dname in dim_names or dname in _RESERVED:
            dname = dname + "_data"
        group = channel.create_group(gname)
        _bookkeeping(group)
        dset = self.create(group, dname, ds.data)
        dset.attrs["quantity"] = ds.quantity
        dset.attrs["units"] = ds.units
        dset.attrs["main_data_name"] = ds.title
        dset.attrs["data_type"] = ds.data_type.name
        dset.attrs["modality"] = ds.modality
        dset.attrs["source"] = ds.source
        _bookkeeping(dset)
        for axis, dim in enumerate(ds.dims):
            sname = safe_name(dim.name, f"dim_{axis}")
            while sname in _RESERVED or sname == dname:
                sname = sname + "_dim"
            scale = group.create_dataset(sname, data=_dim_values(np.asarray(dim.values)))
            scale.attrs["name"] = dim.name
            scale.attrs["units"] = dim.units
            scale.attrs["quantity"] = dim.quantity
            scale.attrs["dimension_type"] = dim.dimension_type.name
            scale.make_scale(dim.name)
            dset.dims[axis].label = dim.name
            dset.dims[axis].attach_scale(scale)
        kinds: dict[str, Any] = {"format": "sidkit-nsid-encoding/1"}
        trees = {"metadata": ds.metadata, "original_metadata": ds.original_metadata,
                 "provenance": list(ds.provenance)}
        for tree, value in trees.items():
            if value:
                kinds[tree] = write_tree(group, tree, value)
        group.create_dataset(ENCODING_NAME, data=json.dumps(kinds, ensure_ascii=False),
                             dtype=h5py_module().string_dtype())
        if ds.variance is not None:
            self.create(group, VARIANCE_NAME, ds.variance)


def _next_channel(measurement: Any) -> int:
    i = 0
    while f"Channel_{i:03d}" in measurement:
        i += 1
    return i


def write_nsid(
    datasets: Dataset | Mapping[str, Dataset],
    path: str | os.PathLike[str],
    *,
    mode: str = "w",
    compression: str | None = None,
    compression_opts: Any = None,
    shuffle: bool = False,
    chunks: Any = None,
    measurement: str = "Measurement_000",
) -> Path:
    """Write datasets to an NSID file.

    Parameters
    ----------
    datasets : Dataset or mapping of str to Dataset
        What to write; each name becomes the pyNSID group/dataset name
        (``"/"`` is replaced), a single Dataset is named after its title.
    path : str or os.PathLike
        Destination file.
    mode : {"w", "a"}, default "w"
        ``"w"`` replaces the file; ``"a"`` adds the datasets as new channels
        (``Channel_NNN``) of ``measurement`` and leaves everything else as it is.
    compression : {None, "gzip", "lzf"}
        HDF5 filter for the main data (and variance).
    compression_opts : int, optional
        gzip level 0-9.
    shuffle : bool, default False
        Add the shuffle filter (helps compression of integer data).
    chunks : tuple of int or True, optional
        HDF5 chunk shape. By default chunks of at most ~4 MiB that tile the
        dask blocks exactly (so nothing is rechunked), else ~4 MiB chunks
        with the data rechunked to ~64 MiB blocks of whole chunks. ``True``
        lets h5py guess.
    measurement : str, default "Measurement_000"
        Group holding the channels.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    CorruptFileError
        ``mode="a"`` and the existing file is not readable HDF5.
    UnsupportedOperationError
        A dataset is not numeric.

    Notes
    -----
    The write is atomic: on any error or interrupt the previous file is left
    untouched.
    """
    h5py = h5py_module(package="sidkit-nsid", extra=None, reader=WRITER)
    path = Path(os.fspath(path)).expanduser()
    if mode not in ("w", "a"):
        raise ValueError(f"mode must be 'w' or 'a', got {mode!r}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    if isinstance(datasets, Dataset):
        datasets = {datasets.title or "dataset": datasets}
    if not datasets or not all(isinstance(v, Dataset) for v in datasets.values()):
        raise TypeError("write_nsid takes a Dataset or a non-empty mapping of name to Dataset")
    for name, ds in datasets.items():
        if ds.dtype.kind not in "biufc":
            raise UnsupportedOperationError(
                f"NSID stores numeric data; dataset {name!r} has dtype {ds.dtype}. "
                "Convert it with ds.astype(...) first")
    writer = _DatasetWriter(compression, compression_opts, shuffle, chunks)
    with replace_atomically(path, mode=mode) as tmp:
        existing = tmp.exists()
        try:
            fh = h5py.File(tmp, "a" if existing else "w", libver=("v108", "v110"), locking=False)
        except (OSError, ValueError) as exc:
            raise CorruptFileError(path, WRITER, f"cannot add to it: not a writable HDF5 file ({exc})") from exc
        with fh:
            meas = fh.require_group(safe_name(measurement, "Measurement_000"))
            index = _next_channel(meas)
            for name, ds in datasets.items():
                channel = meas.create_group(f"Channel_{index:03d}")
                index += 1
                writer.write(channel, str(name), ds)
    return path


class NsidWriter(Writer):
    """Write NSID HDF5 files that pyNSID and SciFiReaders read.

    Options (``sidkit.core.save(ds, path, **options)``): ``mode``,
    ``compression``, ``compression_opts``, ``shuffle``, ``chunks``,
    ``measurement`` (see :func:`write_nsid`).
    """

    name: ClassVar[str] = "nsid"
    extensions: ClassVar[tuple[str, ...]] = (".h5", ".hdf5", ".nsid")
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-nsid"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "NSID HDF5 (readable by pyNSID / sidpy)"

    def write(self, datasets: Mapping[str, Dataset], path: Path, *, mode: str = "w",
              **options: Any) -> None:
        """Write ``datasets`` to ``path`` (see :func:`write_nsid`)."""
        write_nsid(datasets, path, mode=mode, **options)
