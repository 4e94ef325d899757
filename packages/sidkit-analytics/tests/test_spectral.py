from __future__ import annotations

import numpy as np
import pytest

from sidkit.analytics import AnalysisError, find_spectral_peaks, normalize, smooth, subtract_background
from sidkit.core import Dataset, DataType, Dimension


def _eels(n=3):
    e = np.linspace(200, 600, 401)
    a = np.linspace(1e6, 3e6, n)[:, None]
    r = np.linspace(2.5, 3.5, n)[:, None]
    bg = a * e[None] ** -r
    edge = np.where(e > 400, 50.0 * np.exp(-(e - 400) / 80), 0.0)[None]
    dims = [Dimension("x", n, units="nm", dimension_type="spatial"),
            Dimension("energy_loss", e, units="eV", dimension_type="spectral")]
    return Dataset(bg + edge, dims, units="counts"), bg, edge


def test_power_law_background_is_removed_before_an_edge():
    ds, bg, edge = _eels()
    out, b = subtract_background(ds, (250, 390), return_background=True)
    np.testing.assert_allclose(np.asarray(b), bg, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out), np.broadcast_to(edge, bg.shape), atol=1e-6 * bg.max())
    assert out.units == "counts"


def test_polynomial_background_over_the_whole_axis():
    e = np.linspace(0, 1, 50)
    ds = Dataset((2 + 3 * e)[None].repeat(2, 0), [Dimension("p", 2, dimension_type="spatial"),
                                                  Dimension("e", e, dimension_type="spectral")])
    np.testing.assert_allclose(np.asarray(subtract_background(ds, method="polynomial", order=1)), 0, atol=1e-10)


@pytest.mark.parametrize("method,check", [
    ("max", lambda y: y.max(-1)), ("sum", lambda y: y.sum(-1)),
    ("l2", lambda y: np.sqrt((y**2).sum(-1))), ("minmax", lambda y: y.max(-1) - y.min(-1)),
])
def test_normalize_gives_unit_measure(method, check):
    ds, _, _ = _eels()
    out = normalize(ds, method)
    np.testing.assert_allclose(check(np.asarray(out)), 1.0)
    assert out.units == ""


def test_normalize_area_uses_the_axis_values():
    ds, _, _ = _eels()
    y = np.asarray(normalize(ds, "area"))
    np.testing.assert_allclose(y.sum(-1) * 1.0, 1.0, rtol=1e-6)  # 1 eV steps


def test_smooth_savgol_and_gaussian_reduce_noise():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 10, 200)
    clean = np.sin(x)[None].repeat(4, 0)
    ds = Dataset(clean + rng.normal(0, 0.1, clean.shape),
                 [Dimension("p", 4, dimension_type="spatial"), Dimension("t", x, dimension_type="spectral")])
    for out in (smooth(ds, window=21, order=2), smooth(ds, "gaussian", sigma=0.15)):
        assert np.abs(np.asarray(out) - clean).std() < 0.5 * 0.1


def test_find_spectral_peaks_returns_positions_in_axis_units():
    e = np.linspace(0, 100, 501)
    spec = np.exp(-0.5 * ((e - 30) / 2) ** 2) + 0.5 * np.exp(-0.5 * ((e - 70) / 2) ** 2)
    ds = Dataset(np.stack([spec, spec]), [Dimension("x", np.array([0.0, 1.5]), units="um",
                                                    dimension_type="spatial"),
                                          Dimension("energy", e, units="eV", dimension_type="spectral")])
    peaks = find_spectral_peaks(ds, prominence=0.1)
    assert peaks.data_type == DataType.POINT_CLOUD
    arr = np.asarray(peaks)
    assert arr.shape == (4, 3)
    np.testing.assert_allclose(sorted(arr[:, 1]), [30, 30, 70, 70])
    assert peaks.metadata["column_units"] == {"x": "um", "energy": "eV", "height": ""}.copy() | {"height": "a.u."}


def test_bad_window_raises():
    ds, _, _ = _eels()
    with pytest.raises(AnalysisError, match="window"):
        subtract_background(ds, (1000, 1100))
