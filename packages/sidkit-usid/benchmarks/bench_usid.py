"""Benchmark: USID read + N-D reshape with sidkit vs a raw h5py read of the main dataset.

Writes a 256 x 256 positions x 1024 spectroscopic float32 USID file (256 MiB)
with sidkit, then times, in one run:

- ``h5py``: ``f[main][()]`` (the limit: one contiguous read into numpy);
- ``sidkit``: ``read_usid(path)`` (ancillary tables analysed, lazy dask array
  reshaped to y x x x bias) and ``numpy.asarray`` of the N-D dataset.

Both run ``--repeat`` times, interleaved; the best time of each is reported. Prints one line::

    usid.read_nd_256MiB: sidkit 0.31 s, h5py 0.29 s, ratio 0.94x

where ratio = h5py time / sidkit time (1.0 = as fast as raw h5py). A second
line repeats the sidkit figure with dask's synchronous scheduler.

Usage: ``python bench_usid.py [--quick] [--repeat N] [--keep PATH]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import dask
import dask.array as da
import h5py
import numpy as np

from sidkit.core import Dataset, Dimension
from sidkit.core.benchmarking import best_time_and_result as best
from sidkit.usid import read_usid, write_usid
from sidkit.usid import reader as reader_module


def make_file(path: Path, n: int, steps: int) -> str:
    data = da.random.default_rng(0).random((n, n, steps), chunks=(16, n, steps)).astype("float32")
    dims = [
        Dimension.linear("y", n, scale=0.1, units="um", dimension_type="spatial"),
        Dimension.linear("x", n, scale=0.1, units="um", dimension_type="spatial"),
        Dimension.linear("bias", steps, scale=0.01, offset=-5.0, units="V", dimension_type="spectral"),
    ]
    write_usid({"Raw_Data": Dataset(data, dims, quantity="current", units="nA")}, path)
    return "/Measurement_000/Channel_000/Raw_Data"




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 x 64 positions x 256 steps")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the test file here and keep it")
    parser.add_argument("--chunk-mib", type=int, help="dask chunk target of the reader (default: the reader's)")
    args = parser.parse_args()
    if args.chunk_mib:
        reader_module.CHUNK_BYTES = args.chunk_mib * 2**20
    n, steps = (64, 256) if args.quick else (256, 1024)
    nbytes = n * n * steps * 4
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench_usid.h5"
        main_name = make_file(path, n, steps)

        def raw() -> np.ndarray:
            with h5py.File(path, "r") as fh:
                return fh[main_name][()]

        def ours() -> np.ndarray:
            ds = read_usid(path)[main_name.lstrip("/")]
            return np.asarray(ds)

        def ours_sync() -> np.ndarray:
            with dask.config.set(scheduler="synchronous"):
                return ours()

        raw()  # warm the page cache for both
        # interleaved, so all see the same machine load; best of each
        t_raw = t_ours = t_sync = float("inf")
        for _ in range(args.repeat):
            t, a = best(raw, 1)
            t_raw = min(t_raw, t)
            t, b = best(ours, 1)
            t_ours = min(t_ours, t)
            t, c = best(ours_sync, 1)
            t_sync = min(t_sync, t)
        assert b.shape == (n, n, steps)
        np.testing.assert_array_equal(b.reshape(a.shape), a)
        np.testing.assert_array_equal(c, b)
        label = f"usid.read_nd_{nbytes // 2**20}MiB"
        if args.chunk_mib:
            label += f"_chunks{args.chunk_mib}MiB"
        print(f"{label}: sidkit {t_ours:.3f} s, h5py {t_raw:.3f} s, ratio {t_raw / t_ours:.2f}x")
        print(f"{label}_sync_scheduler: sidkit {t_sync:.3f} s, h5py {t_raw:.3f} s, ratio {t_raw / t_sync:.2f}x")


if __name__ == "__main__":
    main()
