"""Lazy, picklable memory-mapped arrays for binary detector formats.

:class:`MemmapProxy` is an array-like view of a block of a file (a plain
array, or equal-sized frames each preceded by a header). Every ``[...]`` maps
the file read-only, copies the requested part and unmaps it, so a dask array
built on it pickles by path (a few hundred bytes) and works in worker
processes. Opening is a ``stat`` and no I/O, whatever the size of the file.

Used by the MIB, EMPAD, raw and numpy readers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sidkit.core import CorruptFileError, TruncatedFileError, UnsafeFileError

__all__ = [
    "MemmapProxy",
    "lazy_memmap",
    "file_size",
    "check_fits",
    "frame_chunks",
    "DECODERS",
    "MAX_ELEMENTS",
    "SMALL_ARRAY_BYTES",
    "SMALL_TOTAL_BYTES",
]

#: Refuse arrays with more elements than this (2**40: a 4 TB uint32 array).
MAX_ELEMENTS = 2**40

#: Small-file fast path: a reader that has the file open anyway may copy an
#: array of at most this many bytes right away (and at most
#: :data:`SMALL_TOTAL_BYTES` per file) instead of building a lazy memory map,
#: whose dask graph costs more than the copy: building one took 0.3-0.6 ms on
#: the 2-core build machine, about what copying 4-8 MiB from the page cache
#: takes (0.25 ms for 4 MiB, 0.8 ms for 8 MiB). Larger arrays stay lazy.
SMALL_ARRAY_BYTES = 4 << 20
SMALL_TOTAL_BYTES = 16 << 20


def file_size(path: str | os.PathLike[str]) -> int:
    """Size of ``path`` in bytes (0 when it cannot be read)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def check_fits(path: Path, reader: str, shape: tuple[int, ...], itemsize: int, offset: int,
               *, stride: int | None = None, what: str = "data") -> int:
    """Check that a declared block lies inside the file, before anything is mapped.

    Parameters
    ----------
    path, reader
        For messages.
    shape : tuple of int
        Declared shape (of frames, when ``stride`` is given: ``(n, ...)``).
    itemsize : int
        Bytes per element (for ``stride=None``).
    offset : int
        Byte offset of the block.
    stride : int, optional
        Bytes per frame including its header; the block is ``shape[0]`` frames.
    what : str
        Name of the block in messages.

    Returns
    -------
    int
        Number of bytes the block needs.

    Raises
    ------
    UnsafeFileError
        A negative or absurd size.
    TruncatedFileError
        The file is shorter than the block.
    """
    if any(int(n) < 0 for n in shape) or offset < 0 or itemsize <= 0:
        raise UnsafeFileError(path, reader, f"{what} declares a negative size: shape {shape}, offset {offset}")
    count = 1
    for n in shape:
        count *= int(n)
    if count > MAX_ELEMENTS:
        raise UnsafeFileError(path, reader, f"{what} declares {count} elements (shape {shape}); refusing")
    need = offset + (int(shape[0]) * stride if stride is not None and shape else count * itemsize)
    have = file_size(path)
    if need > have:
        raise TruncatedFileError(
            path, reader,
            f"{what} of shape {tuple(int(n) for n in shape)} needs {need} bytes but the file has "
            f"{have}; the file looks truncated or the shape/dtype/offset is wrong",
        )
    return need


# -- RAW-mode decoders (Merlin "R64" counters, single chip) -------------------
def _decode_r1(raw: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    # 64 pixels per 8-byte word; bytes reversed within the word, bits LSB first
    n = raw.shape[0]
    words = raw.reshape(n, -1, 8)[:, :, ::-1]
    bits = np.unpackbits(words, axis=-1, bitorder="little")
    return bits.reshape((n, *frame_shape))


def _decode_r6(raw: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    n = raw.shape[0]
    return raw.reshape(n, -1, 8)[:, :, ::-1].reshape((n, *frame_shape))


def _decode_r12(raw: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    n = raw.shape[0]
    vals = raw.view(">u2").reshape(n, -1, 4)[:, :, ::-1]
    return vals.astype(np.uint16).reshape((n, *frame_shape))


#: name -> (function(raw uint8 frames (n, bytes), frame_shape), bytes per pixel, output dtype)
DECODERS: dict[str, tuple[Any, float, str]] = {
    "r1": (_decode_r1, 1 / 8, "uint8"),
    "r6": (_decode_r6, 1.0, "uint8"),
    "r12": (_decode_r12, 2.0, "uint16"),
}


class MemmapProxy:
    """Picklable array-like view of an array stored in a file.

    Parameters
    ----------
    path : path-like
        The file.
    dtype : numpy dtype
        Element type as stored (byte order included).
    shape : tuple of int
        Shape of the array. With ``header_bytes`` or ``decode``, the first axis
        counts frames and the remaining axes are the frame's shape.
    offset : int
        Byte offset of the first element (of the first frame's header).
    order : {"C", "F"}
        Memory order of a plain array.
    header_bytes : int
        Bytes before every frame (Merlin MIB frame headers).
    decode : str, optional
        Name of a :data:`DECODERS` entry for packed frames.
    reader : str
        Reader name, for messages.
    native : bool, default True
        Return native-byte-order arrays.
    """

    __slots__ = ("path", "stored_dtype", "dtype", "shape", "ndim", "offset", "order",
                 "header_bytes", "decode", "reader", "native", "frame_bytes")

    def __init__(self, path: str | os.PathLike[str], dtype: Any, shape: tuple[int, ...], *,
                 offset: int = 0, order: str = "C", header_bytes: int = 0,
                 decode: str | None = None, reader: str = "raw", native: bool = True) -> None:
        self.path = os.fspath(path)
        self.stored_dtype = np.dtype(dtype)
        self.shape = tuple(int(n) for n in shape)
        self.ndim = len(self.shape)
        self.offset = int(offset)
        self.order = order
        self.header_bytes = int(header_bytes)
        self.decode = decode
        self.reader = reader
        self.native = native
        if decode is not None:
            _, bpp, out = DECODERS[decode]
            self.frame_bytes = int(round(int(np.prod(self.shape[1:])) * bpp))
            self.dtype = np.dtype(out)
        else:
            self.frame_bytes = int(np.prod(self.shape[1:])) * self.stored_dtype.itemsize if self.ndim else 0
            self.dtype = self.stored_dtype.newbyteorder("=") if native else self.stored_dtype

    @property
    def framed(self) -> bool:
        """True for frames with headers or packed frames."""
        return self.header_bytes > 0 or self.decode is not None

    @property
    def stride(self) -> int:
        """Bytes from one frame's header to the next."""
        return self.header_bytes + self.frame_bytes

    def _map(self) -> np.ndarray:
        if self.framed:
            return np.memmap(self.path, dtype="u1", mode="r", offset=self.offset,
                             shape=(self.shape[0], self.stride))
        return np.memmap(self.path, dtype=self.stored_dtype, mode="r", offset=self.offset,
                         shape=self.shape, order=self.order)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        try:
            if self.ndim == 0 or 0 in self.shape:
                return np.zeros(self.shape, self.dtype)[key]
            mm = self._map()
            try:
                if not self.framed:
                    out = np.array(mm[key], dtype=self.dtype)
                else:
                    first, rest = key[0], key[1:]
                    sel = mm[first]
                    raw = sel[..., self.header_bytes:]
                    single = raw.ndim == 1
                    raw = np.ascontiguousarray(raw.reshape(-1, self.frame_bytes))
                    if self.decode is not None:
                        frames = DECODERS[self.decode][0](raw, self.shape[1:])
                    else:
                        frames = raw.view(self.stored_dtype).reshape((-1, *self.shape[1:]))
                    frames = np.asarray(frames, dtype=self.dtype)
                    if single:
                        frames = frames[0]
                    elif rest:
                        rest = (slice(None), *rest)
                    out = np.array(frames[rest]) if rest else np.array(frames)
            finally:
                mmap_obj = getattr(mm, "_mmap", None)
                del mm
                if mmap_obj is not None:
                    try:
                        mmap_obj.close()
                    except BufferError:
                        pass
            return out
        except (OSError, ValueError) as exc:
            size = file_size(self.path)
            if size < self.offset + (self.shape[0] * self.stride if self.framed else
                                     int(np.prod(self.shape)) * self.stored_dtype.itemsize):
                raise TruncatedFileError(self.path, self.reader,
                                         f"the file shrank to {size} bytes since it was opened") from exc
            raise CorruptFileError(self.path, self.reader, f"reading {key!r} failed: {exc}") from exc

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        return (type(self).__name__, self.path, stamp, str(self.stored_dtype), self.shape,
                self.offset, self.order, self.header_bytes, self.decode)

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)

    def __repr__(self) -> str:
        return (f"MemmapProxy({self.path!r}, {self.stored_dtype}, shape={self.shape}, "
                f"offset={self.offset})")


def frame_chunks(shape: tuple[int, ...], itemsize: int, *, frame_axes: int = 2,
                 multiple: int = 1, target_bytes: int = 64 * 2**20) -> tuple[int, ...]:
    """Chunks split only along the first axis, about ``target_bytes`` each.

    The first-axis chunk is a multiple of ``multiple`` (a scan row of frames)
    when it can be; the other axes are whole. ``frame_axes`` is accepted for
    symmetry and unused.
    """
    if not shape:
        return ()
    per_item = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)
    n = max(1, target_bytes // per_item)
    if multiple > 1 and n >= multiple:
        n -= n % multiple
    n = int(min(n, max(1, shape[0])))
    return (n, *shape[1:])


def lazy_memmap(proxy: MemmapProxy, chunks: Any = None) -> Any:
    """Dask array over ``proxy``; the graph holds the proxy, not the data.

    The name is derived from the path, layout and the file's modification time.
    """
    import dask.array as da
    from dask.base import tokenize

    if chunks is None:
        chunks = frame_chunks(proxy.shape, proxy.dtype.itemsize,
                              frame_axes=min(2, max(proxy.ndim - 1, 0)))
    name = f"{proxy.reader}-{Path(proxy.path).name}-{tokenize(proxy)}"
    array = da.from_array(proxy, chunks=chunks, name=name, lock=False, asarray=False,
                          meta=np.empty((0,) * proxy.ndim, dtype=proxy.dtype))
    return whole_read(array, proxy)


def whole_read(array: Any, proxy: MemmapProxy) -> Any:
    """Let computing all of ``array`` read ``proxy`` in one call (no dask
    scheduling or block joins; see :mod:`sidkit.core.fastpath`)."""
    from sidkit.core.fastpath import register_direct_read

    everything = (slice(None),) * proxy.ndim
    return register_direct_read(array, lambda: proxy[everything])
