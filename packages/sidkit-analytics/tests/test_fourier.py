from __future__ import annotations

import numpy as np
import pytest

from sidkit.analytics import AnalysisError, fft_filter
from sidkit.core import Dataset, Dimension


def _waves(n=60, scale=0.1):  # 0.5/nm and 3/nm fall on frequency pixels 3 and 18
    y, x = np.mgrid[:n, :n] * scale  # nm
    low = np.cos(2 * np.pi * 0.5 * x)   # 0.5 / nm
    high = np.cos(2 * np.pi * 3.0 * y)  # 3 / nm
    dims = [Dimension.linear("y", n, scale=scale, units="nm", dimension_type="spatial"),
            Dimension.linear("x", n, scale=scale, units="nm", dimension_type="spatial")]
    return Dataset(low + high, dims, units="counts"), low, high


def test_lowpass_keeps_low_and_removes_high_frequencies():
    ds, low, _ = _waves()
    np.testing.assert_allclose(np.asarray(fft_filter(ds, "lowpass", cutoff=1.5)), low, atol=1e-9)


def test_highpass_and_bandpass_keep_the_high_wave():
    ds, _, high = _waves()
    np.testing.assert_allclose(np.asarray(fft_filter(ds, "highpass", cutoff=1.5)), high, atol=1e-9)
    np.testing.assert_allclose(np.asarray(fft_filter(ds, "bandpass", cutoff=(2.0, 4.0))), high, atol=1e-9)


def test_bragg_filter_removes_noise_from_a_lattice():
    rng = np.random.default_rng(0)
    ds, low, high = _waves()
    lattice = np.asarray(ds)
    noisy = ds.derive(lattice + rng.normal(0, 0.5, lattice.shape))
    out = np.asarray(fft_filter(noisy, "bragg", n_spots=4))
    assert np.sqrt(np.mean((out - lattice) ** 2)) < 0.1


def test_cutoff_is_required():
    ds, _, _ = _waves()
    with pytest.raises(AnalysisError):
        fft_filter(ds, "lowpass")
    with pytest.raises(AnalysisError):
        fft_filter(ds, "notch", cutoff=1)
