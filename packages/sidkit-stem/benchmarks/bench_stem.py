"""Benchmark: virtual ADF + centre of mass of a 4D-STEM dataset.

Measures, in one run, sidkit-stem against the limit:

1. in memory: ``scan_images`` (ADF + CoM, one pass, dask threads) vs a plain
   ``numpy.tensordot`` of the same array against the same 4 weight maps;
2. from an HDF5 file: the same lazily from the file vs the raw h5py read of
   the whole dataset into memory (no processing at all);
3. out of core: the same from the file on a ``dask.distributed`` cluster of 2
   worker processes with a 384 MiB memory limit each (the 1 GiB dataset is
   2.7 times a worker's limit), with the peak cluster memory sampled.

Prints one line per figure: ``name: sidkit X s, <limit> Y s, ratio R x``
where ratio = limit time / sidkit time (1.0 = as fast as the limit).

Usage: ``python bench_stem.py [--quick] [--dir DIR] [--no-distributed]``
(``--quick``: 64^4 float32, 64 MiB, instead of 128^4, 1 GiB). Needs h5py and
distributed (``pip install "sidkit-stem[test]"``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import dask
import numpy as np

from sidkit.core import Dataset
from sidkit.core.benchmarking import best_time as best_of
from sidkit.core.hdf5 import lazy_array
from sidkit.stem import annular, scan_images
from sidkit.stem.synthetic import stem_dims


def line(name: str, ours: float, limit_name: str, limit: float) -> None:
    print(f"{name}: sidkit {ours:.3f} s, {limit_name} {limit:.3f} s, ratio {limit / ours:.2f}x", flush=True)


def weights_for(ds: Dataset, adf) -> np.ndarray:
    """The same 4 maps sidkit uses: ADF, total, and the two first moments."""
    n0, n1 = ds.shape[2:]
    c0 = ds.dims[2].values.astype(np.float32)
    c1 = ds.dims[3].values.astype(np.float32)
    ones = np.ones((n0, n1), np.float32)
    return np.stack([adf.weights(ds).astype(np.float32), ones, ones * c0[:, None], ones * c1[None, :]])


def numpy_limit(arr: np.ndarray, w: np.ndarray) -> None:
    s = np.tensordot(arr, w, axes=((2, 3), (1, 2)))
    _ = s[..., 0], s[..., 2] / s[..., 1], s[..., 3] / s[..., 1]


def run_sidkit(ds: Dataset, adf, **compute_kw) -> None:
    out = scan_images(ds, [adf], com=True)
    dask.compute(out["ADF"].data, out["com"].data, **compute_kw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="64^4 float32 (64 MiB) instead of 128^4 (1 GiB)")
    ap.add_argument("--dir", default=None, help="folder for the HDF5 file (default: a temp folder)")
    ap.add_argument("--no-distributed", action="store_true", help="skip the out-of-core cluster run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    n = 64 if args.quick else 128
    size = f"{n ** 4 * 4 // 2 ** 20}MiB"
    rows = max(1, (64 * 2 ** 20) // (n * n * n * 4))  # ~64 MiB chunks of whole scan rows
    rng = np.random.default_rng(0)
    arr = rng.random((n, n, n, n), dtype=np.float32)
    dims = stem_dims((n, n), (n, n), det_step=0.1, det_units="mrad")
    ds = Dataset(arr, dims, chunks=(rows, n, n, n))
    adf = annular(0.3 * n * 0.1, 0.5 * n * 0.1)
    w = weights_for(ds, adf)

    # correctness first: sidkit == numpy on this data
    out = scan_images(ds, [adf], com=True)
    got_adf, got_com = dask.compute(out["ADF"].data, out["com"].data)
    s = np.tensordot(arr, w, axes=((2, 3), (1, 2)))
    np.testing.assert_allclose(got_adf, s[..., 0], rtol=1e-4)
    np.testing.assert_allclose(got_com[0], s[..., 2] / s[..., 1], rtol=1e-3, atol=1e-4)

    t_np = best_of(lambda: numpy_limit(arr, w), args.repeat)
    t_sk = best_of(lambda: run_sidkit(ds, adf), args.repeat)
    line(f"stem.adf_com_memory_{size}", t_sk, "numpy tensordot", t_np)

    h5py = __import__("h5py")
    tmp = tempfile.TemporaryDirectory(dir=args.dir)
    path = Path(tmp.name) / "scan.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("data", data=arr, chunks=(rows, n, n, n))
    arr = s = None  # free the in-memory copy

    def h5_read() -> None:
        with h5py.File(path, "r") as fh:
            fh["data"][...]

    with h5py.File(path, "r") as fh:
        lazy = lazy_array(path, fh["data"], "bench")
    dsh = Dataset(lazy, dims)
    t_h5 = best_of(h5_read, args.repeat)
    t_skh = best_of(lambda: run_sidkit(dsh, adf), args.repeat)
    line(f"stem.adf_com_hdf5_{size}", t_skh, "h5py read", t_h5)

    if not args.no_distributed:
        import distributed
        from distributed.diagnostics import MemorySampler

        # per worker: a worker process needs ~150 MiB by itself (python, numpy,
        # dask, scipy); above 80 % of its limit dask pauses it
        limit = 384 * 2 ** 20
        with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                      dashboard_address=":0", memory_limit=limit) as cluster, \
                distributed.Client(cluster) as client:
            run_sidkit(dsh, adf)  # warm the workers (imports)
            ms = MemorySampler()
            with ms.sample("run", interval=0.05):
                t_d = best_of(lambda: run_sidkit(dsh, adf), 1)
            peak = max(v for _, v in ms.samples["run"]) / 2 ** 20
            client.close()
        print(f"stem.adf_com_hdf5_distributed_{size}: sidkit {t_d:.3f} s, h5py read {t_h5:.3f} s, "
              f"ratio {t_h5 / t_d:.2f}x, peak cluster memory {peak:.0f} MiB "
              f"(2 workers x {limit / 2 ** 20:.0f} MiB limit, data {n ** 4 * 4 / 2 ** 20:.0f} MiB)",
              flush=True)
    tmp.cleanup()
    print(f"# cpus={os.cpu_count()} dask={dask.__version__} numpy={np.__version__}")


if __name__ == "__main__":
    main()
