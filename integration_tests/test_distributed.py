"""The ecosystem runs unchanged on a dask.distributed cluster with worker
processes: HDF5-backed datasets read lazily from NSID and USID files travel to
the workers by path, analyses give the same answers as in one process, results
are written back, and a worker killed mid-computation does not break the run."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import sidkit.core as sk

distributed = pytest.importorskip("distributed")
analytics = pytest.importorskip("sidkit.analytics")
stem = pytest.importorskip("sidkit.stem")


def _spectral_image(n: int = 24, e: int = 64) -> tuple[sk.Dataset, np.ndarray]:
    rng = np.random.default_rng(7)
    energy = np.linspace(0, 1, e)
    ends = np.stack([np.exp(-((energy - c) ** 2) / 0.005) for c in (0.25, 0.5, 0.75)])
    phases = np.zeros((n, n), int)
    phases[:, n // 3 : 2 * n // 3] = 1
    phases[:, 2 * n // 3 :] = 2
    data = ends[phases] * 100 + rng.normal(0, 1, (n, n, e))
    ds = sk.Dataset.from_array(
        data.astype("float32"), title="SI", units="counts", chunks=(8, n, e),
        dims=[sk.Dimension.linear("x", n, scale=0.5, units="nm", dimension_type="spatial"),
              sk.Dimension.linear("y", n, scale=0.5, units="nm", dimension_type="spatial"),
              sk.Dimension("energy", energy * 100, units="eV", dimension_type="spectral")])
    return ds, phases


def _four_d() -> sk.Dataset:
    rng = np.random.default_rng(3)
    data = rng.random((8, 10, 16, 16)).astype("float32")
    return sk.Dataset.from_array(
        data, title="4D", chunks=(4, 5, 16, 16),
        dims=[sk.Dimension.linear("x", 8, scale=1.0, units="nm", dimension_type="spatial"),
              sk.Dimension.linear("y", 10, scale=1.0, units="nm", dimension_type="spatial"),
              sk.Dimension.linear("kx", 16, scale=0.1, offset=-0.8, units="1/nm", dimension_type="reciprocal"),
              sk.Dimension.linear("ky", 16, scale=0.1, offset=-0.8, units="1/nm", dimension_type="reciprocal")])


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, memory_limit="2GiB")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dist")
    si, phases = _spectral_image()
    sk.save(si, folder / "si_nsid.h5")
    sk.save(si, folder / "si_usid.h5", format="usid")
    sk.save(_four_d(), folder / "4d.h5")
    return folder, phases


def _reference(path, fn):
    """The same computation in this process, with the synchronous scheduler."""
    import dask

    with dask.config.set(scheduler="sync"):
        return fn(sk.load(path))


@pytest.mark.parametrize("name", ["si_nsid.h5", "si_usid.h5"])
def test_decompose_on_cluster_equals_single_process(client, files, name):
    folder, _ = files

    def run(ds):
        res = analytics.decompose(ds, 3, method="pca")
        return np.abs(np.asarray(res.components)), np.abs(np.asarray(res.maps))

    ref = _reference(folder / name, run)
    got = run(sk.load(folder / name))
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["si_nsid.h5", "si_usid.h5"])
def test_cluster_on_cluster_recovers_phases_and_equals_single_process(client, files, name):
    from sklearn.metrics import adjusted_rand_score

    folder, phases = files

    def run(ds):
        return np.asarray(analytics.cluster(ds, 3, method="kmeans").labels)

    ref = _reference(folder / name, run)
    got = run(sk.load(folder / name))
    assert adjusted_rand_score(ref.ravel(), got.ravel()) == pytest.approx(1.0)
    assert adjusted_rand_score(phases.ravel(), got.ravel()) > 0.95


def test_virtual_image_on_cluster_equals_numpy_and_is_written_back(client, files):
    folder, _ = files
    ds = sk.load(folder / "4d.h5")
    vi = stem.virtual_image(ds, stem.annular(0.2, 0.6))
    arr = np.asarray(ds)
    k = np.hypot(*np.meshgrid(ds.dim("kx").values, ds.dim("ky").values, indexing="ij"))
    mask = (k >= 0.2) & (k <= 0.6)
    ref = (arr * mask).sum(axis=(2, 3))
    np.testing.assert_allclose(np.asarray(vi).reshape(ref.shape), ref, rtol=1e-5)
    sk.save({"virtual": vi}, folder / "results.h5")
    back = sk.load(folder / "results.h5")
    np.testing.assert_allclose(np.asarray(back), np.asarray(vi), rtol=1e-6)


def test_killing_a_worker_mid_computation_still_completes(client, files):
    import time

    folder, _ = files
    ds = sk.load(folder / "si_nsid.h5")

    def slow(block):
        time.sleep(0.2)
        return block

    total = ds.data.rechunk((2, 24, 64)).map_blocks(slow, dtype=ds.dtype).sum()
    future = client.compute(total)
    time.sleep(0.5)
    victim = next(iter(client.scheduler_info()["workers"]))
    with contextlib.suppress(Exception):  # the worker dies while answering
        client.run(lambda: __import__("os")._exit(1), workers=[victim], wait=False)
    result = future.result(timeout=120)
    assert float(result) == pytest.approx(float(np.asarray(ds).sum()), rel=1e-5)
    # the file the workers were reading is intact
    np.testing.assert_array_equal(np.asarray(sk.load(folder / "si_nsid.h5")), np.asarray(ds))


def test_streamed_blocks_are_read_on_the_workers_and_arrive_in_order(client, files):
    import os

    from sidkit.core.streaming import distributed_client, iter_blocks

    folder, _ = files
    ds = sk.load(folder / "si_nsid.h5")
    assert distributed_client() is client
    data = ds.data.rechunk((4, 24, 64))
    got = list(iter_blocks(data))
    assert [sl.start for sl, _ in got] == list(range(0, 24, 4))
    np.testing.assert_array_equal(np.concatenate([v for _, v in got]), np.asarray(ds))
    pids = data.map_blocks(lambda b: np.full(b.shape, os.getpid(), dtype=np.int64), dtype=np.int64)
    seen = {int(p) for _, v in iter_blocks(pids) for p in np.unique(v)}
    assert seen and os.getpid() not in seen
