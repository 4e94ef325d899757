"""
4D-STEM
=======

A synthetic 4D-STEM dataset: a bright-field disk at every scan position,
shifted by a known field (as by an electric field in the sample). Virtual
detectors make images; the centre of mass of each pattern recovers the
shift field.
"""

# %%
import numpy as np

import sidkit.stem as stem
from sidkit.core.plotting import plot_grid
from sidkit.stem.synthetic import shifted_disks

ny, nx = 24, 28
yy, xx = np.mgrid[:ny, :nx]
shifts = np.stack([1.5 * np.sin(2 * np.pi * xx / nx), 1.5 * np.cos(2 * np.pi * yy / ny)])
data = shifted_disks(shifts, det_shape=(32, 32), radius=6.0, det_step=0.05, det_units="1/nm")
print(repr(data))

# %%
# ``plot`` shows a virtual image beside the pattern at a scan position; with
# an interactive backend, click the image to see the pattern there.
fig = data.plot(position=(6, 7))

# %%
# Virtual detectors, in calibrated detector units (1/nm)
bf = stem.virtual_image(data, stem.bright_field(0.2))
adf = stem.virtual_image(data, stem.annular(0.32, 0.7))
fig = plot_grid({"bright field": bf, "annular dark field": adf,
                 "mean pattern": stem.mean_diffraction(data)}, ncols=3, cmap="gray")

# %%
# Centre of mass: the shift of every pattern, in 1/nm
com = stem.center_of_mass(data)
fig = plot_grid(com, ncols=2, cmap="RdBu_r", suptitle="centre of mass")

# %%
found = np.asarray(com) / 0.05            # back to pixels
print("largest error (px):", float(np.abs(found - shifts).max()))
