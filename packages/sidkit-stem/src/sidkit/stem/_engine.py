"""Private: the one-pass detector engine. Every virtual image, centre-of-mass
sum and weighted integral is a tensordot of the flattened detector axes
against a stack of weight maps, done block by block so each diffraction
pattern is read once."""

from __future__ import annotations

import dask.array as da
import numpy as np
from dask.base import tokenize

from ._axes import full_detector_chunks, result_dtype
from ._threads import single_threaded_blas


def _block_sums(block: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(a, b, k0, k1) block times (k0*k1, n) weights -> (a, b, n).

    Works row by row so that each row of the block is a view (no copy of the
    block even when the scan's second axis is chunked).
    """
    a, b = block.shape[:2]
    n = weights.shape[1]
    out = np.empty((a, b, n), dtype=weights.dtype)
    with single_threaded_blas():
        for i in range(a):
            rows = block[i].reshape(b, -1)
            if rows.dtype != weights.dtype:
                rows = rows.astype(weights.dtype)
            np.matmul(rows, weights, out=out[i])
    return out


def detector_sums(data: da.Array, weights: np.ndarray) -> da.Array:
    """Weighted sums of every pattern against a stack of weight maps.

    Parameters
    ----------
    data : dask.array.Array
        (scan0, scan1, det0, det1).
    weights : ndarray
        (n, det0, det1) weights.

    Returns
    -------
    dask.array.Array
        (scan0, scan1, n); float32 for float32 data, float64 otherwise.
    """
    data = full_detector_chunks(data)
    dtype = result_dtype(data.dtype)
    n = weights.shape[0]
    w = np.ascontiguousarray(weights.reshape(n, -1).T.astype(dtype))
    name = f"stem-detector-sums-{tokenize(data, w)}"
    # detector axes are whole: each task gets whole patterns, without a copy
    return da.map_blocks(
        _block_sums, data, w, name=name, dtype=dtype, drop_axis=3,
        chunks=(data.chunks[0], data.chunks[1], (n,)), meta=np.empty((0, 0, 0), dtype=dtype),
    )
