"""
A tour of the Dataset
=====================

Build a small EELS spectral image, select, reduce, fold and plot it. Every
step keeps the dims, their units and the history.
"""

# %%
# A spectral image: two spatial dims and one spectral dim
# --------------------------------------------------------
import numpy as np

from sidkit.core import Dataset, Dimension, DimensionType

rng = np.random.default_rng(0)
ny, nx, ne = 32, 40, 300
y = Dimension.linear("y", ny, scale=0.25, units="nm", quantity="length", dimension_type="spatial")
x = Dimension.linear("x", nx, scale=0.25, units="nm", quantity="length", dimension_type="spatial")
energy = Dimension.linear("energy_loss", ne, scale=0.5, offset=250.0, units="eV",
                          quantity="energy", dimension_type="spectral")

# a carbon K edge (284 eV) everywhere, and a particle with a stronger edge at 300 eV
e = energy.values
background = 2e4 * (e / e[0]) ** -3.0
edge_c = 400.0 * (e > 284) * np.exp(-(e - 284) / 60)
edge_p = 900.0 * (e > 300) * np.exp(-(e - 300) / 40)
yy, xx = np.mgrid[:ny, :nx]
particle = np.exp(-((yy - 14) ** 2 + (xx - 24) ** 2) / 40.0)
data = background + edge_c + particle[..., None] * edge_p
data = rng.poisson(data).astype("float32")

si = Dataset(data, [y, x, energy], title="EELS spectral image", quantity="intensity",
             units="counts", modality="EELS", chunks=(16, 20, ne))
si

# %%
# The data type was guessed from the dim types; ``repr`` lists the dims:
print(si.data_type)
print(repr(si))

# %%
# Plot: the image summed over energy beside the spectrum at a pixel
# -----------------------------------------------------------------
# The position is given in the dims' units (floats) or as indices (ints).
fig = si.plot(position={"y": 3.5, "x": 6.0})

# %%
# Select and reduce by name
# -------------------------
# ``sel`` takes coordinates, ``isel`` positions; reductions take dim names or types.
edge_window = si.sel(energy_loss=slice(295.0, 340.0))
edge_map = edge_window.sum("energy_loss")
edge_map.title = "counts 295-340 eV"
print(edge_map.dims)
fig = edge_map.plot(cmap="magma")

# %%
# The mean spectrum over every spatial dim, as a spectrum with labelled axes:
mean_spectrum = si.mean(DimensionType.SPATIAL)
mean_spectrum.title = "mean spectrum"
fig = mean_spectrum.plot()

# %%
# Arithmetic stays lazy
# ---------------------
# Nothing has been computed yet: the values are a dask graph.
ratio = si.sel(energy_loss=slice(300.0, 320.0)).sum("energy_loss") / si.sel(
    energy_loss=slice(270.0, 280.0)).sum("energy_loss")
print(type(ratio.data), ratio.shape)
print(float(ratio.max()))

# %%
# Fold for machine learning, unfold back
# --------------------------------------
flat = si.fold(("y", "x"), "position")
print(flat.dim_names, flat.shape)
back = flat.unfold("position")
print(back.dim_names, back.shape)

# %%
# Provenance: what was done, with which parameters and package versions
for record in edge_map.provenance:
    print(record["process"], record["parameters"])
