from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from sidkit.analytics import AnalysisError, find_atoms, find_peaks
from sidkit.core import Dataset, DataType, Dimension


def _lattice(size=160, spacing=9.3, sigma=1.6, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    ys, xs = np.meshgrid(np.arange(4, size - 4, spacing), np.arange(4, size - 4, spacing * 1.1), indexing="ij")
    pos = np.stack([ys.ravel(), xs.ravel()], 1) + rng.uniform(-0.5, 0.5, (ys.size, 2))
    yy, xx = np.mgrid[:size, :size]
    img = np.zeros((size, size))
    for py, px in pos:
        img += np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / (2 * sigma**2))
    img += rng.normal(0, noise, img.shape) + 0.2
    dims = [Dimension.linear("y", size, scale=0.02, offset=1.0, units="nm", dimension_type="spatial"),
            Dimension.linear("x", size, scale=0.02, units="nm", dimension_type="spatial")]
    return Dataset(img, dims, title="HAADF", units="counts"), pos


def test_find_atoms_recovers_98_percent_of_atoms_within_half_a_pixel():
    ds, pos = _lattice()
    found = find_atoms(ds, atom_size=0.15)
    assert found.data_type == DataType.POINT_CLOUD
    assert found.dim_names == ("point", "coordinate")
    assert list(found.dim("coordinate").values) == ["y", "x"]
    assert found.units == "nm"
    px = (np.asarray(found) - [1.0, 0.0]) / 0.02
    dist, _ = cKDTree(px).query(pos)
    assert np.mean(dist < 0.5) >= 0.98
    assert len(px) <= len(pos) * 1.02


def test_find_peaks_subpixel_refinement_in_calibrated_units():
    ds, pos = _lattice(noise=0.0)
    found = find_peaks(ds, min_distance=4)
    px = (np.asarray(found) - [1.0, 0.0]) / 0.02
    dist, _ = cKDTree(px).query(pos)
    assert np.mean(dist < 0.5) >= 0.95
    assert found.provenance[-1]["process"] == "sidkit.analytics.find_peaks"


def test_find_peaks_on_a_stack_asks_for_one_frame():
    ds = Dataset(np.ones((2, 8, 8)), [Dimension("t", 2), Dimension("y", 8, dimension_type="spatial"),
                                      Dimension("x", 8, dimension_type="spatial")])
    with pytest.raises(AnalysisError, match="isel"):
        find_peaks(ds)


def test_flat_image_has_no_peaks():
    ds = Dataset(np.zeros((16, 16)), [Dimension("y", 16, dimension_type="spatial"),
                                      Dimension("x", 16, dimension_type="spatial")])
    assert find_peaks(ds).shape == (0, 2)
