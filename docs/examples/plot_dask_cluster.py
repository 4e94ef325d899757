"""
Running on a dask cluster
=========================

sidkit computations are dask graphs, so they run unchanged on a
``dask.distributed`` cluster. A file-backed dataset is sent to the worker
processes by path and each worker reads only its chunks. Here a
``LocalCluster`` with two worker processes stands in for a real cluster.
"""

# %%
import tempfile
from pathlib import Path

import numpy as np
from dask.distributed import Client, LocalCluster

import sidkit.core as sk

folder = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)
energy = sk.Dimension.linear("energy_loss", 256, scale=1.0, offset=300.0, units="eV",
                             quantity="energy", dimension_type="spectral")
si = sk.Dataset(rng.poisson(20, (64, 64, 256)).astype("float32"),
                [sk.Dimension.linear("y", 64, scale=1.0, units="nm", quantity="length", dimension_type="spatial"),
                 sk.Dimension.linear("x", 64, scale=1.0, units="nm", quantity="length", dimension_type="spatial"),
                 energy], title="large SI", quantity="intensity", units="counts", chunks=(16, 16, 256))
sk.save(si, folder / "si.h5")

# %%
# Start the cluster and a client: from now on every ``compute`` runs on the workers
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GiB",
                       dashboard_address=None)
client = Client(cluster)
print(client)

# %%
lazy = sk.load(folder / "si.h5")        # nothing is read here
print(lazy.chunks)
mean_spectrum = lazy.mean(("y", "x")).compute()
total = lazy.sum("energy_loss").compute()
print("workers that held data:", len(client.has_what()))
fig = mean_spectrum.plot()

# %%
fig = total.plot()

# %%
# Analyses run there too, e.g. a decomposition of the file-backed data
from sidkit.analytics import decompose

pca = decompose(lazy, 3, method="pca")
print(np.round(np.asarray(pca.explained_variance_ratio), 4))

# %%
client.close()
cluster.close()
