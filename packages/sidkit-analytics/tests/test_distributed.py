"""Out of core on a dask.distributed cluster with worker processes: an
HDF5-backed dataset gives the same answers as in-process."""

from __future__ import annotations

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
distributed = pytest.importorskip("distributed")

from sklearn.metrics import adjusted_rand_score  # noqa: E402

from sidkit.analytics import cluster, decompose, fit_sho  # noqa: E402
from sidkit.core import Dataset  # noqa: E402
from sidkit.core.hdf5 import lazy_array  # noqa: E402


@pytest.fixture(scope="module")
def h5_dataset(tmp_path_factory, phase_image):
    path = tmp_path_factory.mktemp("ooc") / "si.h5"
    ds = phase_image["ds"]
    with h5py.File(path, "w") as fh:
        fh.create_dataset("si", data=np.asarray(ds), chunks=(8, 40, 96))
    with h5py.File(path, "r") as fh:
        arr = lazy_array(path, fh["si"], "test", chunks=(8, 40, 96))
    return Dataset(arr, ds.dims, title="SI on disk", units="counts")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GiB",
                      dashboard_address=None) as lc, Client(lc) as c:
        yield c


def _run(ds):
    dec = decompose(ds, 2, out_of_core=True)
    clu = cluster(ds, 3, out_of_core=True)
    return (np.asarray(dec.explained_variance_ratio), np.asarray(dec.components), np.asarray(dec.maps),
            np.asarray(clu.labels), np.asarray(clu.centers))


def test_out_of_core_decompose_and_cluster_agree_in_process_and_on_worker_processes(h5_dataset, client,
                                                                                    phase_image):
    import dask

    with dask.config.set(scheduler="threads"):
        local = _run(h5_dataset)
    remote = _run(h5_dataset)  # the Client is the default scheduler here
    assert client.scheduler_info()["workers"]
    np.testing.assert_allclose(remote[0], local[0], rtol=1e-5)
    np.testing.assert_allclose(remote[1], local[1], atol=1e-5)
    np.testing.assert_allclose(remote[2], local[2], atol=1e-4 * np.abs(local[2]).max())
    np.testing.assert_array_equal(remote[3], local[3])
    np.testing.assert_allclose(remote[4], local[4], rtol=1e-5, atol=1e-6)
    assert adjusted_rand_score(phase_image["labels"].ravel(), remote[3].ravel()) >= 0.95


def test_fit_runs_on_worker_processes(client):
    from sidkit.analytics import SHO
    from sidkit.core import Dimension

    f = np.linspace(300e3, 340e3, 48)
    truth = np.tile([1e-3, 320e3, 120.0, 0.3], (64, 1))
    y = SHO()(f, truth).reshape(8, 8, 48)
    ds = Dataset(y, [Dimension("y", 8, dimension_type="spatial"), Dimension("x", 8, dimension_type="spatial"),
                     Dimension("frequency", f, units="Hz", dimension_type="spectral")], chunks=(4, 8, 48))
    p = np.asarray(fit_sho(ds, pixels_per_block=16).parameters).reshape(-1, 4)
    np.testing.assert_allclose(p, truth, rtol=1e-6)
