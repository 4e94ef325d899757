"""Benchmark sidkit-nsid against raw h5py.

Run ``python bench_nsid.py`` (512 MiB float32) or ``--quick`` (32 MiB).
Prints one line per figure::

    nsid.write_512MiB: sidkit 1.23 s, h5py 1.20 s, ratio 0.98x

``ratio`` is throughput of sidkit / throughput of h5py (higher is better).
Both use the same HDF5 chunk shape; sidkit and h5py runs alternate and the
best of ``--repeat`` runs counts. Files go to ``--dir`` (default
``/dev/shm`` where it exists, so that disk noise does not hide the software
overhead being measured).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import dask.array as da
import h5py
import numpy as np

import sidkit.core as sk
from sidkit.core import Dataset, Dimension
from sidkit.core.benchmarking import best_time as best
from sidkit.core.benchmarking import duel
from sidkit.nsid import read_nsid, write_nsid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="32 MiB instead of 512 MiB")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where to write the files (default /dev/shm)")
    args = parser.parse_args()
    mib = 32 if args.quick else 512
    rows = mib * 2**20 // 4 // 8192
    data = np.random.default_rng(0).random((rows, 8192), dtype=np.float32)
    ds = Dataset(data, [Dimension.linear("y", rows), Dimension.linear("x", 8192)], title="bench")
    label = f"{mib}MiB"
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        p_sk, p_h5 = Path(tmp) / "sk.h5", Path(tmp) / "h5.h5"

        write_nsid({"bench": ds}, p_sk)  # learn the chunk shape sidkit picks; h5py uses the same
        with h5py.File(p_sk, "r") as fh:
            chunks = fh["Measurement_000/Channel_000/bench/bench"].chunks
        print(f"# array {data.shape} float32, dask blocks {ds.data.chunksize}, HDF5 chunks {chunks}")

        def w_h5() -> None:
            with h5py.File(p_h5, "w") as fh:
                fh.create_dataset("d", data=data, chunks=chunks)

        def w_sk() -> None:
            write_nsid({"bench": ds}, p_sk)

        t_sk, t_h5 = duel(w_sk, w_h5, args.repeat)
        print(f"nsid.write_{label}: sidkit {t_sk:.3f} s, h5py {t_h5:.3f} s, ratio {t_h5 / t_sk:.2f}x")

        def r_h5() -> np.ndarray:
            with h5py.File(p_h5, "r") as fh:
                return fh["d"][()]

        def r_sk_eager() -> Dataset:
            return read_nsid(p_sk, lazy=False)["bench"]

        def r_sk_eager_np() -> np.ndarray:
            return np.asarray(read_nsid(p_sk, lazy=False)["bench"])

        def r_sk_lazy() -> np.ndarray:
            return np.asarray(sk.load(p_sk))

        def r_sk_store() -> np.ndarray:
            lazy = sk.load(p_sk).data
            out = np.empty(lazy.shape, lazy.dtype)
            da.store(lazy, out, lock=False)
            return out

        t_eager, t_h5 = duel(r_sk_eager, r_h5, args.repeat)
        print(f"nsid.read_{label} (lazy=False, Dataset in memory): sidkit {t_eager:.3f} s, h5py {t_h5:.3f} s, "
              f"ratio {t_h5 / t_eager:.2f}x")
        t_eager, t_h5 = duel(r_sk_eager_np, r_h5, args.repeat)
        print(f"nsid.read_{label} (lazy=False, then np.asarray): sidkit {t_eager:.3f} s, h5py {t_h5:.3f} s, "
              f"ratio {t_h5 / t_eager:.2f}x")
        t_store, t_h5 = duel(r_sk_store, r_h5, args.repeat)
        print(f"nsid.read_{label} (lazy, da.store into numpy): sidkit {t_store:.3f} s, h5py {t_h5:.3f} s, "
              f"ratio {t_h5 / t_store:.2f}x")
        t_lazy, t_h5 = duel(r_sk_lazy, r_h5, args.repeat)
        print(f"nsid.read_{label} (lazy, np.asarray(sk.load(path))): sidkit {t_lazy:.3f} s, h5py {t_h5:.3f} s, ratio {t_h5 / t_lazy:.2f}x")

        def open_h5() -> None:
            with h5py.File(p_h5, "r") as fh:
                fh["d"].shape  # noqa: B018

        t_open = best(lambda: sk.load(p_sk), max(args.repeat, 5))
        t_open_h5 = best(open_h5, max(args.repeat, 5))
        print(f"nsid.open_lazy_{label}: sidkit {t_open * 1e3:.1f} ms, h5py {t_open_h5 * 1e3:.1f} ms (open file + dataset), "
              f"ratio {t_open_h5 / t_open:.2f}x")


if __name__ == "__main__":
    main()
