import numpy as np
import pytest

from sidkit.stem import center_of_mass, center_patterns, find_center
from sidkit.stem.synthetic import shifted_disks


def _drift(ny=6, nx=7):
    ii, jj = np.mgrid[:ny, :nx]
    return np.stack([0.6 + 0.35 * ii - 0.1 * jj, -1.2 + 0.2 * jj + 0.05 * ii])


def test_find_center_locates_the_direct_beam_per_position():
    drift = _drift()
    ds = shifted_disks(drift, (32, 32), radius=5.0, det_step=0.1, det_units="mrad")
    c = find_center(ds)
    assert c.units == "mrad"
    # detector origin is pixel 16: beam at 16 + drift px -> drift * 0.1 mrad
    np.testing.assert_allclose(np.asarray(c.data.compute()), drift * 0.1, atol=0.005)
    cp = np.asarray(find_center(ds, pixels=True).data.compute())
    np.testing.assert_allclose(cp, 16 + drift, atol=0.05)


def test_plane_fit_removes_noise_from_the_drift():
    drift = _drift()
    rng = np.random.default_rng(2)
    noisy = drift + rng.normal(0, 0.3, drift.shape)
    ds = shifted_disks(noisy, (32, 32), radius=5.0)
    per_position = np.asarray(find_center(ds, pixels=True).data.compute()) - 16
    plane = np.asarray(find_center(ds, fit="plane", pixels=True).data.compute()) - 16
    assert np.abs(plane - drift).max() < np.abs(per_position - drift).max()
    assert np.abs(plane - drift).max() < 0.3


def test_center_patterns_moves_every_beam_to_the_origin():
    drift = _drift()
    ds = shifted_disks(drift, (32, 32), radius=5.0, det_step=0.1, det_units="mrad")
    centred = center_patterns(ds, fit=None)
    assert centred.dim_names == ds.dim_names
    assert centred.dims[2].values[16] == pytest.approx(0.0)
    com = np.asarray(center_of_mass(centred, pixels=True, center=(16, 16)).data.compute())
    assert np.abs(com).max() < 0.05
    assert centred.provenance[-1]["process"] == "sidkit.stem.center_patterns"


def test_center_patterns_keeps_axis_order_of_the_input():
    ds = shifted_disks(_drift(3, 4), (24, 24), radius=4.0)
    moved = ds.transpose("ky", "y", "kx", "x")
    out = center_patterns(moved)
    assert out.dim_names == ("ky", "y", "kx", "x")
    assert out.shape == moved.shape


def test_find_center_rejects_bad_options():
    ds = shifted_disks(_drift(2, 2), (16, 16), radius=3.0)
    with pytest.raises(ValueError):
        find_center(ds, fit="quadric")
    with pytest.raises(ValueError):
        find_center(ds, threshold=1.5)
