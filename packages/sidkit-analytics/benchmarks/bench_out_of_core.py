"""Out-of-core decompose (PCA, 10 components) and cluster (k-means, k=8) of
an HDF5-backed spectral image several times larger than the dask workers'
memory limit, on a LocalCluster with worker processes.

Two limits, measured in the same run: one streaming pass over the file with
h5py (the I/O floor: the ratio says how many such passes the analysis
costs), and the same algorithm written by hand in one process with h5py,
numpy and scikit-learn (exact PCA from the Gram matrix, then the maps;
k-means++ on a random subset and as many Lloyd passes as sidkit made, then
the labels; mini-batch k-means over the same batches, then the labels).

    python bench_out_of_core.py [--quick] [--size-gb 6] [--memory-limit 1.5GiB] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _synthetic import spectral_image

NE = 1024


def write_file(path: Path, n_rows: int, row_block: int) -> None:
    import h5py

    with h5py.File(path, "w") as fh:
        d = fh.create_dataset("si", shape=(n_rows, 256, NE), dtype="f4", chunks=(8, 256, NE))
        for start in range(0, n_rows, row_block):
            stop = min(n_rows, start + row_block)
            d[start:stop] = spectral_image(stop - start, 256, NE, seed=start)


def stream(path: Path) -> float:
    import h5py

    t = time.perf_counter()
    total = 0.0
    with h5py.File(path, "r") as fh:
        d = fh["si"]
        for start in range(0, d.shape[0], 64):
            total += float(d[start:start + 64].sum(dtype=np.float64))
    return time.perf_counter() - t


def warm_up() -> None:
    import h5py  # noqa: F401
    import sklearn.cluster  # noqa: F401

    import sidkit.analytics  # noqa: F401
    import sidkit.core.hdf5  # noqa: F401


def slabs(d, rows: int = 32):
    for start in range(0, d.shape[0], rows):
        yield d[start:start + rows].reshape(-1, d.shape[-1])


def by_hand_pca(path: Path, k: int = 10) -> float:
    """Exact PCA by hand: Gram matrix over h5py slabs, eigh, then map 0."""
    import h5py

    t = time.perf_counter()
    with h5py.File(path, "r") as fh:
        d = fh["si"]
        nf = d.shape[-1]
        g, s, n, shift = np.zeros((nf, nf)), np.zeros(nf), 0, None
        for b in slabs(d):
            if shift is None:
                shift = b.mean(axis=0, dtype=np.float64).astype(np.float32)
            c = b - shift
            g += c.T @ c
            s += c.sum(axis=0, dtype=np.float64)
            n += len(c)
        m = s / n
        vecs = np.linalg.eigh((g - n * np.outer(m, m)) / (n - 1))[1][:, ::-1][:, :k]
        mean = (shift + m).astype(np.float32)
        total = sum(float(((b - mean) @ vecs[:, 0].astype(np.float32)).sum()) for b in slabs(d))
    assert np.isfinite(total)
    return time.perf_counter() - t


def by_hand_kmeans(path: Path, n_iter: int, k: int = 8, n_sub: int = 8192) -> float:
    """k-means by hand: k-means++ on a random subset, ``n_iter`` Lloyd passes
    over h5py slabs with numpy (sidkit's count), then the labels."""
    import h5py
    from sklearn.cluster import KMeans

    t = time.perf_counter()
    with h5py.File(path, "r") as fh:
        d = fh["si"]
        n = d.shape[0] * d.shape[1]
        idx = np.sort(np.random.default_rng(0).choice(n, size=min(n_sub, n), replace=False))
        rows, start = [], 0
        for b in slabs(d):
            sel = idx[(idx >= start) & (idx < start + len(b))] - start
            rows.append(b[sel])
            start += len(b)
        centres = KMeans(n_clusters=k, n_init=3, random_state=0).fit(np.concatenate(rows)).cluster_centers_
        centres = centres.astype(np.float64)
        for _ in range(n_iter):
            sums, counts = np.zeros_like(centres), np.zeros(k)
            c32 = centres.astype(np.float32)
            for b in slabs(d):
                lab = np.argmin(np.einsum("ij,ij->i", b, b)[:, None] - 2 * b @ c32.T + (c32**2).sum(1), axis=1)
                for j in range(k):
                    sums[j] += b[lab == j].sum(axis=0, dtype=np.float64)
                counts += np.bincount(lab, minlength=k)
            centres = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        c32 = centres.astype(np.float32)
        total = sum(np.bincount(np.argmin(np.einsum("ij,ij->i", b, b)[:, None] - 2 * b @ c32.T
                                          + (c32**2).sum(1), axis=1), minlength=k) for b in slabs(d))
    assert total.sum() == n
    return time.perf_counter() - t


def by_hand_minibatch(path: Path, k: int = 8, batch: int = 4096) -> float:
    """Mini-batch k-means by hand: partial_fit over h5py slabs, then labels."""
    import h5py
    from sklearn.cluster import MiniBatchKMeans

    t = time.perf_counter()
    est = MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=batch, random_state=0)
    with h5py.File(path, "r") as fh:
        d = fh["si"]
        for b in slabs(d):
            for start in range(0, len(b), batch):
                est.partial_fit(b[start:start + batch])
        counts = sum(np.bincount(est.predict(b), minlength=k) for b in slabs(d))
    assert counts.sum() == d.shape[0] * d.shape[1]
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 GB file, 2 workers of 640 MiB")
    ap.add_argument("--size-gb", type=float, default=6.0)
    ap.add_argument("--memory-limit", default="1.5GiB")
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--keep", action="store_true", help="keep the HDF5 file")
    args = ap.parse_args()
    size_gb = 1.0 if args.quick else args.size_gb
    limit = "640MiB" if args.quick else args.memory_limit
    n_rows = max(8, int(size_gb * 1e9 / (256 * NE * 4)) // 8 * 8)

    import h5py
    from distributed import Client, LocalCluster

    from sidkit.analytics import cluster, decompose
    from sidkit.core import Dataset, Dimension
    from sidkit.core.hdf5 import lazy_array

    path = Path(args.dir) / f"sidkit_ooc_{n_rows}x256x{NE}.h5"
    t = time.perf_counter()
    if not path.exists():
        write_file(path, n_rows, 64)
    size = os.path.getsize(path) / 1e9
    print(f"# file {path} {size:.2f} GB written in {time.perf_counter() - t:.0f} s; "
          f"workers 2 x {limit}", flush=True)
    t_io = stream(path)
    with h5py.File(path, "r") as fh:
        arr = lazy_array(path, fh["si"], "bench", chunks=(32, 256, NE))
    ds = Dataset(arr, [Dimension.linear("y", n_rows, units="nm", dimension_type="spatial"),
                       Dimension.linear("x", 256, units="nm", dimension_type="spatial"),
                       Dimension.linear("energy", NE, units="eV", dimension_type="spectral")], units="counts")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=limit,
                      dashboard_address=None) as lc, Client(lc) as client:
        # a session's first task pays the workers' imports (dask.array, h5py,
        # scikit-learn): seconds, whatever the data size; timed apart
        t = time.perf_counter()
        client.run(warm_up)
        print(f"# workers' imports {time.perf_counter() - t:.1f} s (not in the figures)", flush=True)
        t = time.perf_counter()
        dec = decompose(ds, 10, method="pca", out_of_core=True)
        float(dec.maps.data[:, :, 0].sum().compute())  # force one pass producing maps
        t_pca = time.perf_counter() - t
        evr = np.asarray(dec.explained_variance_ratio)
        t = time.perf_counter()
        res = cluster(ds, 8, method="kmeans", out_of_core=True)
        counts = np.bincount(np.asarray(res.labels.data.compute()).ravel(), minlength=8)
        t_km = time.perf_counter() - t
        t = time.perf_counter()
        mb = cluster(ds, 8, method="minibatch", out_of_core=True, n_epochs=1)
        np.asarray(mb.labels.data.compute())
        t_mb = time.perf_counter() - t
        workers = len(client.scheduler_info()["workers"])
    hand_pca = by_hand_pca(path)
    n_iter = int(res.estimator.n_iter_)
    hand_km = by_hand_kmeans(path, n_iter)
    hand_mb = by_hand_minibatch(path)
    label = f"{size:.1f}GB_2x{limit}"
    print(f"# {workers} workers alive at the end", flush=True)
    print(f"analytics.ooc_pca10_{label}: sidkit {t_pca:.1f} s, by hand in one process {hand_pca:.1f} s, "
          f"ratio {t_pca / hand_pca:.2f}x; h5py one pass {t_io:.1f} s, ratio {t_pca / t_io:.1f}x "
          f"(explained variance of 10: {evr.sum():.3f})", flush=True)
    print(f"analytics.ooc_kmeans8_{label}: sidkit {t_km:.1f} s, by hand in one process {hand_km:.1f} s, "
          f"ratio {t_km / hand_km:.2f}x; h5py one pass {t_io:.1f} s, ratio {t_km / t_io:.1f}x "
          f"({n_iter} Lloyd passes; cluster sizes {counts.tolist()})", flush=True)
    print(f"analytics.ooc_minibatch8_{label}: sidkit {t_mb:.1f} s, by hand in one process {hand_mb:.1f} s, "
          f"ratio {t_mb / hand_mb:.2f}x; h5py one pass {t_io:.1f} s, ratio {t_mb / t_io:.1f}x (one epoch)",
          flush=True)
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
