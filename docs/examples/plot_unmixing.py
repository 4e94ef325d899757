"""
Spectral unmixing
=================

A synthetic EELS-like spectral image made of three known end-member spectra
is decomposed by PCA (how many components are there?) and NMF (what are
they?). The components and maps keep the dims and units of the input.
"""

# %%
import numpy as np

from sidkit.analytics import decompose
from sidkit.core import Dataset, Dimension
from sidkit.core.plotting import plot_grid

rng = np.random.default_rng(3)
ny, nx, ne = 30, 36, 200
energy = Dimension.linear("energy_loss", ne, scale=1.0, offset=400.0, units="eV",
                          quantity="energy", dimension_type="spectral")
e = energy.values


def edge(onset, width):
    return (e > onset) * np.exp(-(e - onset) / width)


ends = np.stack([
    300 * (e / 400) ** -3 + 60 * edge(456, 40),     # Ti L edge
    300 * (e / 400) ** -3 + 80 * edge(532, 50),     # O K edge
    300 * (e / 400) ** -3 + 70 * edge(532, 50) + 50 * edge(456, 30),
])
yy, xx = np.mgrid[:ny, :nx]
w = np.stack([np.clip(1 - xx / nx, 0, 1),
              np.exp(-((yy - 10) ** 2 + (xx - 25) ** 2) / 30),
              np.exp(-((yy - 22) ** 2 + (xx - 10) ** 2) / 40)], axis=-1)
data = rng.poisson(w @ ends).astype("float32")
si = Dataset(data, [Dimension.linear("y", ny, scale=0.4, units="nm", quantity="length", dimension_type="spatial"),
                    Dimension.linear("x", nx, scale=0.4, units="nm", quantity="length", dimension_type="spatial"),
                    energy], title="EELS SI", quantity="intensity", units="counts")
fig = si.plot()

# %%
# PCA: the scree of explained variance says three components
pca = decompose(si, 6, method="pca")
ratio = np.asarray(pca.explained_variance_ratio)
print(np.round(ratio, 4))
fig = plot_grid(pca.maps, ncols=3, suptitle="PCA maps")

# %%
# NMF with three components recovers the end members
nmf = decompose(si, 3, method="nmf")
fig = plot_grid(nmf.components, ncols=3, suptitle="NMF components")

# %%
fig = plot_grid(nmf.maps, ncols=3, suptitle="NMF maps")

# %%
# How close are the components to the true end members? (cosine similarity)
comps = np.asarray(nmf.components)
cos = (comps / np.linalg.norm(comps, axis=1, keepdims=True)) @ (
    ends / np.linalg.norm(ends, axis=1, keepdims=True)).T
print(np.round(cos.max(axis=1), 3))

# %%
# The reconstruction from few components is a denoised spectral image
denoised = pca.reconstruct(3)
fig = denoised.plot(position=(10, 25))
