"""
Fitting the simple harmonic oscillator
======================================

Band-excitation scanning-probe data hold a complex response around a
cantilever resonance at every pixel. ``fit_sho`` fits the simple harmonic
oscillator (amplitude, resonance frequency, quality factor, phase) at every
pixel in parallel over dask chunks.
"""

# %%
import numpy as np

from sidkit.analytics import SHO, fit_sho
from sidkit.core import Dataset, Dimension
from sidkit.core.plotting import plot_grid

rng = np.random.default_rng(11)
ny, nx, nf = 24, 24, 64
freq = Dimension.linear("frequency", nf, scale=0.5, offset=340.0, units="kHz", quantity="frequency",
                        dimension_type="spectral")
yy, xx = np.mgrid[:ny, :nx]
truth = np.stack([
    1.0 + 0.3 * np.sin(xx / 4.0),                     # amplitude
    355.0 + 3.0 * np.cos(yy / 5.0),                   # resonance frequency (kHz)
    120.0 + 40.0 * (xx > nx // 2),                    # quality factor
    0.3 * np.ones((ny, nx)),                          # phase (rad)
], axis=-1)
model = SHO()
clean = model(freq.values, truth.reshape(-1, 4)).reshape(ny, nx, nf)
noise = 0.02 * np.abs(clean).max() * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape))
be = Dataset(clean + noise,
             [Dimension.linear("y", ny, scale=50, units="nm", quantity="length", dimension_type="spatial"),
              Dimension.linear("x", nx, scale=50, units="nm", quantity="length", dimension_type="spatial"),
              freq], title="band excitation response", quantity="response", units="V")

# %%
# The magnitude of the response at one pixel
fig = be.plot(position=(5, 5))

# %%
result = fit_sho(be)
params = result.parameters.compute()
fig = plot_grid(params, dim="parameter", ncols=4, suptitle="SHO parameter maps")

# %%
# Compare with the truth
for k, name in enumerate(model.param_names):
    found = np.asarray(result.parameter(name))
    err = np.median(np.abs(found - truth[..., k]) / np.abs(truth[..., k]))
    print(f"{name:>15}: median relative error {err:.2%} ({result.units[name] or 'no units'})")
print("median R^2:", float(np.median(np.asarray(result.r_squared))))

# %%
# The fitted curve against the data at one pixel
import matplotlib.pyplot as plt

fitted = result.evaluate()
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(freq.values, np.abs(np.asarray(be[5, 5])), ".", label="data")
ax.plot(freq.values, np.abs(np.asarray(fitted[5, 5])), "-", label="SHO fit")
ax.set_xlabel("frequency (kHz)")
ax.set_ylabel("|response| (V)")
ax.legend()
