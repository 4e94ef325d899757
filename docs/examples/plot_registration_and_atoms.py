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
n, pixel, spacing = 96, 0.025, 0.4  # the field of view holds exactly 6 x 6 unit cells
coords = np.arange(n) * pixel

# a lattice with 10 % vacancies; the field is periodic, so the frames can be
# shifted exactly in Fourier space (a drift of the sample under the beam)
base = np.zeros((n, n))
for cy in np.arange(6) * spacing + spacing / 2:
    for cx in np.arange(6) * spacing + spacing / 2:
        if rng.random() > 0.1:
            base += np.exp(-((coords[:, None] - cy) ** 2 + (coords[None, :] - cx) ** 2) / (2 * 0.07**2))
spectrum = np.fft.fft2(base)
ky, kx = np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij")


def frame(offset_nm):
    dy, dx = np.asarray(offset_nm) / pixel
    return np.fft.ifft2(spectrum * np.exp(-2j * np.pi * (ky * dy + kx * dx))).real


drift = np.cumsum(rng.normal([0.01, -0.015], 0.004, (8, 2)), axis=0)
drift -= drift[0]
frames = np.stack([rng.poisson(400 * np.clip(frame(d), 0, None) + 20) for d in drift]).astype("float32")
stack = Dataset(frames, [Dimension.linear("time", 8, scale=0.5, units="s", quantity="time", dimension_type="temporal"),
                         Dimension.linear("y", n, scale=pixel, units="nm", quantity="length", dimension_type="spatial"),
                         Dimension.linear("x", n, scale=pixel, units="nm", quantity="length", dimension_type="spatial")],
                title="HAADF series", quantity="intensity", units="counts")
fig = stack.plot(frame=7, interactive=False)

# %%
reg = register(stack)
print("drift found (nm):\n", np.round(np.asarray(reg.shifts), 4))
print("largest error (nm):", float(np.abs(np.asarray(reg.shifts) - drift).max()))
fig = reg.shifts.plot()

# %%
fig = plot_grid({"raw average": stack.mean("time"), "aligned average": reg.aligned.mean("time")},
                ncols=2, cmap="gray")

# %%
mean = reg.aligned.mean("time").compute()
atoms = find_atoms(mean, 0.2)
print(atoms.shape[0], "atom columns")
fig = plot_points(atoms, background=mean)
