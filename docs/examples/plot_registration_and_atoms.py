"""
Drift correction and atom finding
=================================

A stack of noisy atomic-resolution frames drifts across the sample.
``register`` aligns the frames by phase correlation; the aligned average is
sharp, and ``find_atoms`` locates the columns as a point cloud in nm,
drawn over the image.
"""

# %%
import numpy as np

from sidkit.analytics import find_atoms, register
from sidkit.core import Dataset, Dimension
from sidkit.core.plotting import plot_grid, plot_points

rng = np.random.default_rng(2)
n, pixel, spacing = 96, 0.025, 0.4
coords = np.arange(n) * pixel


def frame(offset):
    img = np.zeros((n, n))
    for cy in np.arange(-1, n * pixel / spacing + 1) * spacing:
        for cx in np.arange(-1, n * pixel / spacing + 1) * spacing:
            img += np.exp(-((coords[:, None] - cy - offset[0]) ** 2 + (coords[None, :] - cx - offset[1]) ** 2)
                          / (2 * 0.07**2))
    return img


drift = np.cumsum(rng.normal([0.01, -0.015], 0.004, (8, 2)), axis=0)
drift -= drift[0]
frames = np.stack([rng.poisson(30 * frame(d) + 3) for d in drift]).astype("float32")
stack = Dataset(frames, [Dimension.linear("time", 8, scale=0.5, units="s", quantity="time", dimension_type="temporal"),
                         Dimension.linear("y", n, scale=pixel, units="nm", quantity="length", dimension_type="spatial"),
                         Dimension.linear("x", n, scale=pixel, units="nm", quantity="length", dimension_type="spatial")],
                title="HAADF series", quantity="intensity", units="counts")
fig = stack.plot(frame=7, interactive=False)

# %%
reg = register(stack)
print(np.round(np.asarray(reg.shifts), 4))
fig = reg.shifts.plot()

# %%
fig = plot_grid({"raw average": stack.mean("time"), "aligned average": reg.aligned.mean("time")},
                ncols=2, cmap="gray")

# %%
mean = reg.aligned.mean("time").compute()
atoms = find_atoms(mean, 0.2)
print(atoms.shape[0], "atom columns")
fig = plot_points(atoms, background=mean)
