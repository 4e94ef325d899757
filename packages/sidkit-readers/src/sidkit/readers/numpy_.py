"""NumPy ``.npy`` arrays and ``.npz`` archives, never unpickled.

``.npy`` files are memory-mapped and read lazily. ``.npz`` members are read
with ``allow_pickle=False`` (object arrays are refused); uncompressed
members are memory-mapped at their offset inside the zip, compressed ones
are decompressed on first access of their (single) dask chunk.
"""

from __future__ import annotations

import ast
import os
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, Reader, TruncatedFileError, UnsafeFileError, make_record

from ._raw import MemmapProxy, check_fits, file_size, lazy_memmap
from ._version import __version__

__all__ = ["NumpyReader", "read_npy_header"]

_MAGIC = b"\x93NUMPY"
_MAX_MEMBERS = 4096


def read_npy_header(head: bytes) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    """Parse an ``.npy`` header without evaluating code.

    Returns
    -------
    dtype, shape, fortran_order, data_offset

    Raises
    ------
    ValueError
        The header is malformed or declares an object dtype.
    """
    if head[:6] != _MAGIC or len(head) < 10:
        raise ValueError("missing NUMPY magic")
    major = head[6]
    if major == 1:
        hlen, start = int.from_bytes(head[8:10], "little"), 10
    elif major in (2, 3):
        hlen, start = int.from_bytes(head[8:12], "little"), 12
    else:
        raise ValueError(f"unknown .npy version {major}")
    if start + hlen > len(head):
        raise ValueError("header runs past the end")
    text = head[start:start + hlen].decode("utf-8" if major == 3 else "latin-1")
    meta = ast.literal_eval(text)  # literals only: never executes code
    if not isinstance(meta, dict) or not {"descr", "fortran_order", "shape"} <= set(meta):
        raise ValueError("header lacks descr/fortran_order/shape")
    dtype = np.lib.format.descr_to_dtype(meta["descr"])
    if dtype.hasobject:
        raise ValueError("object arrays would need unpickling; refused")
    shape = tuple(int(n) for n in meta["shape"])
    return dtype, shape, bool(meta["fortran_order"]), start + hlen


class _NpzMemberProxy:
    """Picklable reader of one compressed ``.npz`` member (opened per access)."""

    __slots__ = ("path", "member", "shape", "dtype", "ndim")

    def __init__(self, path: str, member: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.member, self.shape, self.dtype = path, member, shape, dtype
        self.ndim = len(shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                return np.asarray(npz[self.member[:-4]])[key]
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise CorruptFileError(self.path, "numpy", f"member {self.member} unreadable: {exc}") from exc

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.path, self.member, self.shape, self.dtype)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.path, self.member, self.shape, self.dtype = state
        self.ndim = len(self.shape)


class NumpyReader(Reader):
    """Read ``.npy`` (memory-mapped) and ``.npz`` files without unpickling."""

    name: ClassVar[str] = "numpy"
    extensions: ClassVar[tuple[str, ...]] = (".npy", ".npz")
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 5
    description: ClassVar[str] = "NumPy .npy / .npz arrays (allow_pickle=False)"

    def sniff(self, head: bytes) -> bool:
        return head[:6] == _MAGIC

    def claims(self, path: Path, head: bytes) -> bool:
        if self.sniff(head):
            return True
        if head[:4] == b"PK\x03\x04" and str(path).lower().endswith(".npz"):
            return True
        return False

    def _dataset(self, path: Path, data: Any, name: str) -> Dataset:
        return Dataset(data, None, title=name, source=str(path), original_metadata={
            "format": "npz" if str(path).lower().endswith(".npz") else "npy", "member": name,
            "dtype": str(data.dtype), "shape": list(data.shape)},
            provenance=[make_record("sidkit.readers.numpy_.NumpyReader.read", {"path": str(path)},
                                    package="sidkit-readers", version=__version__)])

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read an ``.npy`` array or every array of an ``.npz`` archive.

        Returns
        -------
        dict of str to Dataset
            ``{stem: Dataset}`` for ``.npy``; member names for ``.npz``.
            Dims are ``dim_0, dim_1, ...`` (the format stores no axes).
        """
        path = Path(path)
        with open(path, "rb") as fh:
            head = fh.read(65536 + 12)
        if head[:6] == _MAGIC:
            try:
                dtype, shape, fortran, offset = read_npy_header(head)
            except (ValueError, SyntaxError, TypeError, MemoryError) as exc:
                raise CorruptFileError(path, self.name, f"the .npy header is invalid: {exc}") from exc
            check_fits(path, self.name, shape, max(dtype.itemsize, 1), offset)
            proxy = MemmapProxy(path, dtype, shape, offset=offset, order="F" if fortran else "C",
                                reader=self.name)
            arr = lazy_memmap(proxy, chunks="auto")
            return {path.stem: self._dataset(path, arr, path.stem)}
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise CorruptFileError(path, self.name, f"neither .npy nor a readable .npz archive: {exc}") from exc
        out: dict[str, Dataset] = {}
        with zf:
            infos = [i for i in zf.infolist() if i.filename.endswith(".npy")]
            if len(infos) > _MAX_MEMBERS:
                raise UnsafeFileError(path, self.name, f"{len(infos)} members; more than {_MAX_MEMBERS}")
            for info in infos:
                if info.file_size > 16 * max(file_size(path), 1) * 1024:
                    raise UnsafeFileError(path, self.name, f"member {info.filename} inflates beyond 16384x")
                try:
                    with zf.open(info) as member:
                        mhead = member.read(65536 + 12)
                    dtype, shape, fortran, hoff = read_npy_header(mhead)
                except (ValueError, SyntaxError, TypeError, zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise CorruptFileError(path, self.name, f"member {info.filename} is invalid: {exc}") from exc
                nbytes = int(np.prod(shape)) * dtype.itemsize
                if hoff + nbytes > info.file_size:
                    raise TruncatedFileError(path, self.name, f"member {info.filename} is shorter than its shape")
                name = info.filename[:-4]
                if info.compress_type == zipfile.ZIP_STORED:
                    with open(path, "rb") as fh:
                        fh.seek(info.header_offset)
                        local = fh.read(30)
                    if local[:4] != b"PK\x03\x04":
                        raise CorruptFileError(path, self.name, f"member {info.filename}: bad local header")
                    start = (info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                             + int.from_bytes(local[28:30], "little") + hoff)
                    check_fits(path, self.name, shape, max(dtype.itemsize, 1), start, what=info.filename)
                    proxy = MemmapProxy(path, dtype, shape, offset=start, order="F" if fortran else "C",
                                        reader=self.name)
                    arr = lazy_memmap(proxy, chunks="auto")
                else:
                    import dask.array as da

                    arr = da.from_array(_NpzMemberProxy(os.fspath(path), info.filename, shape, dtype),
                                        chunks=shape or (), lock=False, asarray=True,
                                        meta=np.empty((0,) * len(shape), dtype=dtype))
                out[name] = self._dataset(path, arr, name)
        if not out:
            raise CorruptFileError(path, self.name, "the archive holds no .npy members")
        return out
