"""Overhead of Dataset operations vs the same dask operations on the bare array.

Usage: python bench_dataset.py [--quick]
"""

from __future__ import annotations

import sys

import dask.array as da
import numpy as np

from sidkit.core import Dataset, Dimension
from sidkit.core.benchmarking import best_time as _best


def main() -> None:
    n = 64 if "--quick" in sys.argv else 256
    arr = da.random.default_rng(0).random((n, n, 512), chunks=(64, 64, 512)).astype("float32").persist()
    ds = Dataset(arr, [Dimension("x", n, dimension_type="spatial"), Dimension("y", n, dimension_type="spatial"),
                       Dimension("energy", 512, dimension_type="spectral")])
    sidkit_t = _best(lambda: ds.sel(energy=slice(100, 300)).sum("energy").compute())
    dask_t = _best(lambda: arr[:, :, 100:301].sum(axis=2).compute())
    print(f"core.select+sum {n}x{n}x512: sidkit {sidkit_t * 1e3:.1f} ms, dask {dask_t * 1e3:.1f} ms, "
          f"ratio {sidkit_t / dask_t:.2f}x")
    fold_t = _best(lambda: np.asarray(ds.fold(("x", "y"), "p")))
    raw_t = _best(lambda: np.asarray(arr.reshape(n * n, 512)))
    print(f"core.fold {n}x{n}x512: sidkit {fold_t * 1e3:.1f} ms, dask reshape {raw_t * 1e3:.1f} ms, "
          f"ratio {fold_t / raw_t:.2f}x")


if __name__ == "__main__":
    main()
