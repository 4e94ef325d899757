import numpy as np
import pytest

from sidkit.core import Dataset, DataType, Dimension, DimensionMismatchError
from sidkit.stem import ATOM_FIELDS, column_intensity_map, nearest_neighbour_map, refine_atom_positions


def _lattice_image(step=0.02):
    """A 64 x 80 px image of Gaussian columns on a 10 px square lattice, sub-pixel offsets."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:64, :80].astype(float)
    truth, amps = [], []
    img = np.full(yy.shape, 2.0)
    for cy in np.arange(7, 60, 10.0):
        for cx in np.arange(7, 76, 10.0):
            p = (cy + rng.uniform(-0.4, 0.4), cx + rng.uniform(-0.4, 0.4))
            a = rng.uniform(5, 10)
            img += a * np.exp(-((yy - p[0]) ** 2 + (xx - p[1]) ** 2) / (2 * 1.6**2))
            truth.append(p)
            amps.append(a)
    dims = [Dimension.linear("y", 64, scale=step, units="nm", dimension_type="spatial"),
            Dimension.linear("x", 80, scale=step, units="nm", dimension_type="spatial")]
    return Dataset(img, dims, title="HAADF", chunks=(32, 40)), np.array(truth), np.array(amps)


def test_refined_positions_match_true_columns_in_calibrated_units():
    image, truth, amps = _lattice_image()
    start = np.round(truth) * 0.02  # integer-pixel guesses, in nm
    atoms = refine_atom_positions(image, start, chunk=10)
    assert atoms.data_type == DataType.POINT_CLOUD
    assert atoms.units == "nm"
    tab = np.asarray(atoms.data.compute())
    assert tab.shape == (len(truth), len(ATOM_FIELDS))
    assert np.all(tab[:, 7] == 1)
    np.testing.assert_allclose(tab[:, :2], truth * 0.02, atol=0.02 * 0.02)  # 0.02 px
    np.testing.assert_allclose(tab[:, 2], amps, rtol=0.02)
    np.testing.assert_allclose(tab[:, 3:5], 1.6, rtol=0.02)
    np.testing.assert_allclose(tab[:, 6], 2 * np.pi * amps * 1.6**2, rtol=0.03)


def test_refinement_in_pixels_with_explicit_window():
    image, truth, _ = _lattice_image()
    atoms = refine_atom_positions(image, np.round(truth), window=4.0, pixels=True)
    np.testing.assert_allclose(np.asarray(atoms.data.compute())[:, :2], truth, atol=0.02)


def test_column_intensity_map_paints_voronoi_cells():
    image, truth, amps = _lattice_image()
    atoms = refine_atom_positions(image, np.round(truth), pixels=True)
    m = np.asarray(column_intensity_map(atoms, image).data.compute())
    assert m.shape == image.shape
    tab = np.asarray(atoms.data.compute())
    for k in (0, 10, 25):
        iy, ix = np.round(truth[k]).astype(int)
        assert m[iy, ix] == pytest.approx(tab[k, 6])


def test_nearest_neighbour_map_shows_lattice_spacing_in_nm():
    image, truth, _ = _lattice_image()
    atoms = refine_atom_positions(image, np.round(truth), pixels=True)
    nn = nearest_neighbour_map(atoms, image, k=4)
    assert nn.units == "nm"
    v = np.asarray(nn.data.compute())
    iy, ix = np.round(truth[16]).astype(int)  # an interior column: 4 neighbours at ~10 px = 0.2 nm
    assert v[iy, ix] == pytest.approx(0.2, abs=0.01)


def test_bad_positions_raise():
    image, truth, _ = _lattice_image()
    with pytest.raises(ValueError):
        refine_atom_positions(image, np.zeros(5))
    with pytest.raises(DimensionMismatchError):
        refine_atom_positions(Dataset(np.zeros((2, 3, 4))), truth)
