"""Out of core: an HDF5-backed 4D-STEM dataset processed by worker processes."""

import numpy as np
import pytest
from conftest import phase_and_shifts

from sidkit.core import Dataset
from sidkit.core.hdf5 import lazy_array
from sidkit.stem import annular, bright_field, center_of_mass, scan_images, virtual_image
from sidkit.stem.synthetic import shifted_disks

h5py = pytest.importorskip("h5py")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def h5_dataset(tmp_path_factory):
    _, sh = phase_and_shifts(16, 12)
    mem = shifted_disks(sh, (32, 32), radius=6.0)
    path = tmp_path_factory.mktemp("stem") / "scan.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("data", data=np.asarray(mem.data.compute()), chunks=(4, 12, 32, 32))
    with h5py.File(path, "r") as fh:
        arr = lazy_array(path, fh["data"], "test", chunks=(4, 12, 32, 32))
    return Dataset(arr, mem.dims, title="h5 scan"), mem, sh


def test_hdf5_backed_results_on_worker_processes_equal_in_process_results(h5_dataset):
    ds, mem, sh = h5_dataset
    dets = [bright_field(6.0, pixels=True), annular(8.0, 14.0, pixels=True)]
    local_vi = np.asarray(virtual_image(mem, dets).data.compute(scheduler="threads"))
    local_com = np.asarray(center_of_mass(mem, pixels=True).data.compute(scheduler="threads"))
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                  dashboard_address=":0", memory_limit="512MiB") as cluster:
        with distributed.Client(cluster) as client:
            out = scan_images(ds, dets, pixels=True)
            bf, adf, com = client.compute([out["BF"].data, out["ADF"].data, out["com"].data], sync=True)
    np.testing.assert_allclose(bf, local_vi[0], rtol=1e-6)
    np.testing.assert_allclose(adf, local_vi[1], rtol=1e-6)
    np.testing.assert_allclose(com, local_com, atol=1e-5)
    assert np.abs(com - sh).max() < 0.05
