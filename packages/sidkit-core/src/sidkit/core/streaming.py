"""Stream a dask array through this process one block at a time.

Out-of-core algorithms that must see the data in order on the caller's side
(a mini-batch fit, an HDF5 write) take blocks from :func:`iter_blocks`: it
computes the next blocks while the caller works on the current one, on the
active ``dask.distributed`` client when there is one (the blocks are read by
the workers and sent here), else on a background thread with dask's threaded
scheduler. At most ``prefetch + 1`` blocks are held at a time.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["distributed_client", "row_slices", "iter_blocks"]


def distributed_client() -> Any:
    """The ``dask.distributed`` client dask computes on now, or None.

    None when the caller set no client up, or chose another scheduler (e.g.
    ``dask.config.set(scheduler="threads")``) while one exists. Never imports
    ``distributed`` itself: without it there can be no client.
    """
    if "distributed" not in sys.modules:
        return None
    from dask.base import get_scheduler
    from distributed import default_client

    try:
        client = default_client()
    except ValueError:
        return None
    return client if get_scheduler() == client.get else None


def row_slices(row_chunks: Sequence[int], row_bytes: int, target: int | None = None) -> list[slice]:
    """Slices along axis 0 on chunk boundaries.

    Parameters
    ----------
    row_chunks : sequence of int
        The chunk sizes along axis 0 (``array.chunks[0]``).
    row_bytes : int
        Bytes of one row (one index along axis 0).
    target : int, optional
        Merge consecutive chunks into slabs of about this many bytes; every
        chunk is its own slice when omitted.
    """
    out, start, stop, size = [], 0, 0, 0
    for n in row_chunks:
        if stop > start and (target is None or size + n * row_bytes > target):
            out.append(slice(start, stop))
            start, size = stop, 0
        stop += n
        size += n * row_bytes
    if stop > start:
        out.append(slice(start, stop))
    return out


def iter_blocks(array: Any, slices: Sequence[slice] | None = None, *,
                prefetch: int = 2) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(slice, values)`` of ``array`` along axis 0, in order.

    Parameters
    ----------
    array : dask.array.Array
        Any dask array with at least one dim.
    slices : sequence of slice, optional
        Pieces along axis 0 to yield (default: one per chunk, see
        :func:`row_slices`).
    prefetch : int, default 2
        Blocks computed ahead of the one being consumed (at least 0).

    Yields
    ------
    slice, numpy.ndarray
        The rows and their values.
    """
    if slices is None:
        slices = row_slices(array.chunks[0], 0)
    ahead = max(0, int(prefetch))
    client = distributed_client()
    pool = None
    if client is not None:
        def submit(sl: slice) -> Any:
            return client.compute(array[sl])
    else:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sidkit-prefetch")

        def submit(sl: slice) -> Any:
            return pool.submit(array[sl].compute, scheduler="threads")
    slices = list(slices)
    pending: deque[tuple[slice, Any]] = deque((sl, submit(sl)) for sl in slices[:ahead + 1])
    rest = iter(slices[ahead + 1:])
    try:
        while pending:
            sl, future = pending.popleft()
            yield sl, np.asarray(future.result())
            # the caller is done with that block: start the next one
            nxt = next(rest, None)
            if nxt is not None:
                pending.append((nxt, submit(nxt)))
    finally:
        for _, future in pending:
            future.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
