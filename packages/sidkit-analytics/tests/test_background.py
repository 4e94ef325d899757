from __future__ import annotations

import numpy as np
import pytest

from sidkit.analytics import AnalysisError, background
from sidkit.core import Dataset, Dimension


def _tilted():
    y, x = np.mgrid[:48, :64].astype(float)
    plane = 0.3 * x - 0.2 * y + 5
    feature = np.zeros_like(plane)
    feature[20:24, 30:34] = 1.0
    dims = [Dimension("y", 48, dimension_type="spatial"), Dimension("x", 64, dimension_type="spatial")]
    return Dataset(plane + feature, dims, units="nm"), plane, feature


def test_plane_subtraction_flattens_a_tilted_image():
    ds, plane, feature = _tilted()
    out, bg = background(ds, "plane", return_background=True)
    flat = np.asarray(out)
    assert np.ptp(flat[feature == 0]) < 0.02
    assert np.asarray(bg).shape == ds.shape


def test_polynomial_surface_removes_a_quadratic_background():
    y, x = np.mgrid[:32, :32].astype(float)
    ds = Dataset(0.01 * (x - 10) ** 2 + 0.02 * x * y,
                 [Dimension("y", 32, dimension_type="spatial"), Dimension("x", 32, dimension_type="spatial")])
    np.testing.assert_allclose(np.asarray(background(ds, "polynomial", order=2)), 0, atol=1e-8)


def test_rolling_ball_keeps_small_features_and_removes_a_slow_ramp():
    ds, plane, feature = _tilted()
    ds = ds - ds.derive(0.9 * plane)  # a gentle ramp: 0.1 of the plane
    out = np.asarray(background(ds, "rolling_ball", radius=30, pixels=True))
    assert out[21, 31] > 0.8
    assert np.median(np.abs(out[feature == 0])) < 0.2


def test_unknown_method_raises():
    with pytest.raises(AnalysisError):
        background(_tilted()[0], "spline")
