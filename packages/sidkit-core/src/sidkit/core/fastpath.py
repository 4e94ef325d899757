"""Direct reads: computing a whole file-backed array in one call.

Dask computes an array block by block and then joins the blocks, which costs
one extra copy of the data. When a reader knows how to produce the whole array
in one library call (``h5py``'s ``dset[()]``, a ``numpy.memmap`` slice), it can
register that call for the dask array it returns. :meth:`Dataset.compute` and
``numpy.asarray(ds)`` then use it — but only while the array is exactly the
one registered: any operation on it makes a new dask array that is computed
block by block as usual.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["register_direct_read", "direct_read", "chain_direct_read", "wrap_numpy", "one_block"]

_MAX = 4096
_LOCK = threading.Lock()
_DIRECT: OrderedDict[str, tuple[Callable[[], np.ndarray | None], bool]] = OrderedDict()


def register_direct_read(array: Any, read: Callable[[], np.ndarray | None], *, in_memory: bool = False) -> Any:
    """Declare that ``read()`` returns the values of the dask ``array``.

    Parameters
    ----------
    array : dask.array.Array
        A lazily read array (its dask name identifies it).
    read : callable
        Returns a numpy array of ``array.shape`` and ``array.dtype`` (or None
        when it no longer can, e.g. its source was garbage-collected).
    in_memory : bool, default False
        ``read`` returns values already in memory (no file is read), so
        writers may use it instead of streaming block by block.

    Returns
    -------
    dask.array.Array
        ``array`` itself, for chaining.
    """
    with _LOCK:
        _DIRECT[array.name] = (read, in_memory)
        _DIRECT.move_to_end(array.name)
        while len(_DIRECT) > _MAX:
            _DIRECT.popitem(last=False)
    return array


def direct_read(array: Any, *, in_memory_only: bool = False) -> np.ndarray | None:
    """The values of ``array`` by its registered direct read, or None.

    With ``in_memory_only`` only reads registered as ``in_memory`` are used,
    so no file is read whole (what a writer streaming large data needs).
    """
    with _LOCK:
        entry = _DIRECT.get(getattr(array, "name", None))
    if entry is None or (in_memory_only and not entry[1]):
        return None
    out = entry[0]()
    if out is None:
        return None
    out = np.asarray(out)
    if out.shape != tuple(array.shape) or out.dtype != array.dtype:
        return None
    return out


def chain_direct_read(derived: Any, source: Any, transform: Callable[[np.ndarray], np.ndarray], *,
                      in_memory_only: bool = False) -> Any:
    """Let computing all of ``derived`` be ``transform(values of source)``.

    For a dask array ``derived`` made from ``source`` by a reshape, transpose,
    flip, ...: while ``source`` has a direct read, computing ``derived`` whole
    is one read of ``source`` plus ``transform`` instead of dask's block by
    block copies; otherwise dask computes it as usual. Only ``source``'s
    name, shape and dtype are kept, never ``source`` itself.

    Parameters
    ----------
    derived, source : dask.array.Array
    transform : callable
        Turns ``source``'s values into ``derived``'s (numpy in, numpy out).
    in_memory_only : bool, default False
        Chain only reads of values already in memory (and register the new
        read as such); nothing is chained when ``source`` has none.

    Returns
    -------
    dask.array.Array
        ``derived`` itself.
    """
    name = getattr(source, "name", None)
    if name is None or getattr(derived, "name", name) == name:
        return derived
    if in_memory_only and direct_read(source, in_memory_only=True) is None:
        return derived
    stub = SimpleNamespace(name=name, shape=tuple(source.shape), dtype=source.dtype)

    def read() -> np.ndarray | None:
        values = direct_read(stub, in_memory_only=in_memory_only)
        return None if values is None else transform(values)

    return register_direct_read(derived, read, in_memory=in_memory_only)


def one_block(arr: np.ndarray, chunks: Any) -> bool:
    """True when ``chunks`` makes one block of the whole (non-empty) ``arr``."""
    if arr.ndim == 0 or arr.size == 0:
        return False
    if isinstance(chunks, tuple):
        return chunks == arr.shape or chunks == tuple((n,) for n in arr.shape)
    if isinstance(chunks, str) and chunks == "auto" and arr.dtype.kind != "O":
        import dask
        from dask.utils import parse_bytes

        limit = dask.config.get("array.chunk-size")
        return arr.nbytes <= (parse_bytes(limit) if isinstance(limit, str) else int(limit))
    return False


def wrap_numpy(arr: np.ndarray, chunks: Any = "auto") -> Any:
    """A dask array over an in-memory numpy array, computed whole without a copy.

    Unlike :func:`dask.array.from_array` it does not hash the values to name
    the array (slow for large arrays), and computing the whole array returns
    ``arr`` itself rather than joining copies of its blocks.
    """
    import dask.array as da

    name = f"array-{uuid.uuid4().hex}"
    if one_block(arr, chunks):
        # what from_array builds for one block, without its per-call overhead
        # (noticeable when a file holds dozens of small arrays)
        out = da.Array({(name,) + (0,) * arr.ndim: arr}, name, tuple((n,) for n in arr.shape),
                       meta=np.empty((0,) * arr.ndim, dtype=arr.dtype))
    else:
        out = da.from_array(arr, chunks=chunks if arr.ndim else (), name=name)
    # the values live as long as this dask array object does (dask's graph keeps
    # only block views); the registry holds a weak reference, so nothing leaks
    out._sidkit_values = arr
    ref = weakref.ref(out)

    def read() -> np.ndarray | None:
        obj = ref()
        return None if obj is None else obj._sidkit_values

    register_direct_read(out, read, in_memory=True)
    return out
