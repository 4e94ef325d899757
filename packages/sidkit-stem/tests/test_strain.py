import numpy as np
import pytest

from sidkit.stem import find_bragg_disks, guess_lattice, lattice_vectors, strain_map
from sidkit.stem.synthetic import disk, lattice_patterns

G0 = np.column_stack([[11.3, 1.7], [-2.1, 12.4]])  # columns g1, g2 in px


def _strained(eps: np.ndarray, ny=3, nx=6):
    """Left half unstrained, right half strained by the symmetric tensor ``eps``."""
    g = np.empty((ny, nx, 2, 2))
    applied = np.zeros((ny, nx, 2, 2))
    applied[:, nx // 2:] = eps
    for i in range(ny):
        for j in range(nx):
            gg = np.linalg.inv(np.eye(2) + applied[i, j]).T @ G0
            g[i, j, 0], g[i, j, 1] = gg[:, 0], gg[:, 1]
    return g, applied


@pytest.fixture(scope="module")
def strained_disks():
    eps = np.array([[0.02, 0.004], [0.004, -0.01]])
    g, applied = _strained(eps)
    ds = lattice_patterns(g, (80, 80), radius=3.0, max_order=3)
    disks = find_bragg_disks(ds, disk((80, 80), (40, 40), 3.0), pixels=True)
    return disks.persist(), applied


def test_strain_map_recovers_applied_strain_within_0_1_percent(strained_disks):
    disks, applied = strained_disks
    lat = lattice_vectors(disks)
    sm = strain_map(lat, reference=(slice(None), slice(0, 3)))
    assert sm.metadata["stem"]["components"] == ["exx", "eyy", "exy", "rotation"]
    s = np.asarray(sm.data.compute())
    assert np.abs(s[0] - applied[..., 0, 0]).max() < 1e-3
    assert np.abs(s[1] - applied[..., 1, 1]).max() < 1e-3
    assert np.abs(s[2] - applied[..., 0, 1]).max() < 1e-3
    assert np.abs(s[3]).max() < 0.05  # degrees: a symmetric strain has no rotation
    assert sm.provenance[-1]["process"] == "sidkit.stem.strain_map"


def test_lattice_vectors_fit_the_reference_lattice(strained_disks):
    disks, _ = strained_disks
    lat = np.asarray(lattice_vectors(disks).data.compute())
    got = lat[0, 0]
    # origin at the detector middle, vectors equal to G0 up to the guess's sign and order
    np.testing.assert_allclose(got[0], [40, 40], atol=0.02)
    pair = np.abs(np.stack([got[1], got[2]]))
    ref = np.abs(G0.T)
    assert min(np.abs(pair - ref).max(), np.abs(pair[::-1] - ref).max()) < 0.02


def test_strain_map_reports_a_pure_rotation_as_rotation():
    t = np.deg2rad(1.0)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    g = np.empty((1, 2, 2, 2))
    for j, r in enumerate([np.eye(2), rot]):
        gg = r @ G0  # rotating the crystal rotates its reciprocal lattice
        g[0, j, 0], g[0, j, 1] = gg[:, 0], gg[:, 1]
    ds = lattice_patterns(g, (80, 80), radius=3.0, max_order=3)
    lat = lattice_vectors(find_bragg_disks(ds, disk((80, 80), (40, 40), 3.0), pixels=True),
                          guess_at=(0, 0))
    s = np.asarray(strain_map(lat, reference=(slice(None), slice(0, 1))).data.compute())
    assert abs(s[3, 0, 1]) == pytest.approx(1.0, abs=0.05)
    assert np.abs(s[:3, 0, 1]).max() < 1e-3


def test_guess_lattice_needs_three_disks():
    tab = np.full((4, 3), np.nan)
    tab[0] = (1, 1, 5)
    with pytest.raises(ValueError, match="at least 3"):
        guess_lattice(tab)
