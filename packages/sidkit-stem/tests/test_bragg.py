import numpy as np
import pytest

from sidkit.core import DataType, DimensionMismatchError
from sidkit.stem import find_bragg_disks, probe_kernel
from sidkit.stem.synthetic import disk, lattice_patterns

G1 = np.array([11.3, 1.7])
G2 = np.array([-2.1, 12.4])


def _uniform(ny=2, nx=3):
    g = np.empty((ny, nx, 2, 2))
    g[..., 0, :] = G1
    g[..., 1, :] = G2
    return g


def test_disks_are_found_at_their_sub_pixel_positions():
    ds = lattice_patterns(_uniform(1, 2), (64, 64), radius=3.0, max_order=2)
    probe = disk((64, 64), (20.0, 40.0), 3.0)
    res = find_bragg_disks(ds, probe, pixels=True)
    assert res.data_type == DataType.POINT_CLOUD
    assert res.dim_names == ("y", "x", "peak", "field")
    tab = np.asarray(res.data.compute())[0, 1]
    found = tab[np.isfinite(tab[:, 0])]
    expected = np.array([(32 + h * G1[0] + k * G2[0], 32 + h * G1[1] + k * G2[1])
                         for h in range(-2, 3) for k in range(-2, 3)])
    inside = np.all((expected >= 5) & (expected <= 58), axis=1)  # where the renderer draws disks
    assert len(found) == inside.sum()
    # strongest disk first: the (twice as bright) direct beam
    np.testing.assert_allclose(found[0, :2], [32, 32], atol=0.02)
    d = np.hypot(*(found[:, None, :2] - expected[None, inside]).transpose(2, 0, 1))
    assert d.min(axis=1).max() < 0.05


def test_disk_positions_are_calibrated_when_pixels_is_false():
    ds = lattice_patterns(_uniform(1, 1), (64, 64), radius=3.0, max_order=1,
                          det_step=0.05, det_units="1/nm")
    probe = disk((64, 64), (32.0, 32.0), 3.0)
    res = find_bragg_disks(ds, probe, min_distance=0.2)
    assert res.units == "1/nm"
    tab = np.asarray(res.data.compute())[0, 0]
    # direct beam at pixel 32 == 0 1/nm
    np.testing.assert_allclose(tab[0, :2], [0.0, 0.0], atol=0.002)
    assert res.metadata["stem"]["fields"] == ["ky", "kx", "intensity"]


def test_max_peaks_keeps_the_strongest_and_pads_with_nan():
    ds = lattice_patterns(_uniform(1, 1), (64, 64), radius=3.0, max_order=2)
    res = find_bragg_disks(ds, disk((64, 64), (32, 32), 3.0), max_peaks=3, pixels=True)
    tab = np.asarray(res.data.compute())[0, 0]
    assert tab.shape == (3, 3)
    assert np.all(np.isfinite(tab))
    assert tab[0, 2] >= tab[1, 2] >= tab[2, 2]


def test_probe_kernel_is_centred_and_normalised():
    k = probe_kernel(disk((32, 32), (10.3, 20.7), 3.0))
    assert k.sum() == pytest.approx(1.0)
    # centre of mass of the periodic kernel is at pixel (0, 0)
    assert np.argmax(k) in (0, 1, 32, 33, 31 * 32, 31 * 32 + 31, 31, 32 * 31 + 1)


def test_probe_of_wrong_shape_raises():
    ds = lattice_patterns(_uniform(1, 1), (32, 32), radius=2.0, max_order=1)
    with pytest.raises(DimensionMismatchError):
        find_bragg_disks(ds, np.ones((8, 8)))
