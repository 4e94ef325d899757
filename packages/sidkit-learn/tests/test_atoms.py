from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import Dataset, DataType, Dimension, DimensionMismatchError
from sidkit.learn import (
    find_atoms,
    match_points,
    pixels_to_coordinates,
    positions_from_probability,
    refine_positions,
)


def _blobs(shape, centres, sigma=1.5):
    r, c = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape)
    for y, x in centres:
        out += np.exp(-((r - y) ** 2 + (c - x) ** 2) / (2 * sigma**2))
    return out


def test_probability_components_give_weighted_centroids():
    centres = [(10.3, 12.6), (30.0, 40.4), (5.5, 50.2)]
    prob = _blobs((48, 64), centres)
    pos, areas = positions_from_probability(prob, 0.3)
    assert len(pos) == 3 and (areas > 4).all()
    order = np.argsort(pos[:, 0])
    np.testing.assert_allclose(pos[order], np.array(centres)[np.argsort([c[0] for c in centres])],
                               atol=0.15)


def test_small_components_are_dropped():
    prob = np.zeros((20, 20))
    prob[5, 5] = 0.9
    prob[10:13, 10:13] = 0.9
    pos, areas = positions_from_probability(prob, 0.5, min_area=2)
    assert len(pos) == 1 and areas[0] == 9
    assert positions_from_probability(np.zeros((8, 8)))[0].shape == (0, 2)


def test_refinement_moves_a_rough_position_to_the_intensity_centre():
    img = _blobs((40, 40), [(20.4, 19.3)], sigma=1.8) + 0.1
    new = refine_positions(img, np.array([[21.0, 20.0]]), radius=3.0, iterations=3)
    assert np.hypot(*(new[0] - [20.4, 19.3])) < 0.1


def test_pixels_to_coordinates_uses_offset_and_scale_and_nonuniform_values():
    dims = (Dimension.linear("y", 10, scale=0.5, offset=2.0),
            Dimension("x", np.array([0.0, 1.0, 3.0, 6.0])))
    out = pixels_to_coordinates(np.array([[2.0, 1.5]]), dims)
    np.testing.assert_allclose(out, [[3.0, 2.0]])


def test_find_atoms_returns_point_cloud_in_physical_units(small_set, oracle):
    i = 2
    img = small_set.image(i)
    model = oracle(np.asarray(small_set.masks[i]))
    atoms = find_atoms(img, model, tile=64)
    assert model.options == {"tile": 64}
    assert atoms.data_type == DataType.POINT_CLOUD
    assert atoms.dim_names == ("atom", "coordinate")
    assert list(atoms.dim("coordinate").values) == ["y", "x"]
    assert atoms.units == "nm"
    assert atoms.provenance[-1]["process"] == "sidkit.learn.find_atoms"
    coords = np.asarray(atoms)
    true = small_set.coordinates[i]
    m = match_points(coords, true, tolerance=1.0 * 0.025, exclude_border=2 * 0.025,
                     shape=(64 * 0.025, 80 * 0.025))
    assert m.precision >= 0.99 and m.recall >= 0.99
    assert m.mean_distance < 0.4 * 0.025


def test_find_atoms_pixels_option_gives_row_column_pixels(small_set, oracle):
    model = oracle(np.asarray(small_set.masks[0]))
    atoms = find_atoms(small_set.image(0), model, pixels=True, refine=False)
    assert atoms.units == "px"
    m = match_points(np.asarray(atoms), small_set.positions[0], 1.0, exclude_border=2,
                     shape=(64, 80))
    assert m.precision == 1.0 and m.recall == 1.0


def test_find_atoms_accepts_numpy_images(small_set, oracle):
    model = oracle(np.asarray(small_set.masks[1]))
    atoms = find_atoms(np.asarray(small_set.images[1]), model)
    assert atoms.shape[1] == 2 and atoms.shape[0] >= len(small_set.positions[1]) - 6


def test_find_atoms_rejects_a_stack_and_a_wrong_map(small_set, oracle):
    model = oracle(np.zeros((64, 80)))
    with pytest.raises(DimensionMismatchError, match="2-D image"):
        find_atoms(small_set.images, model)
    class Bad(oracle):
        def predict(self, image, **options):
            return Dataset(np.zeros((10, 10)))

    bad = Bad(np.zeros((10, 10)))
    with pytest.raises(DimensionMismatchError, match="shape"):
        find_atoms(small_set.image(0), bad)


def test_find_atoms_with_no_atoms_returns_an_empty_cloud(oracle):
    img = Dataset(np.zeros((16, 16)), ["y", "x"])
    atoms = find_atoms(img, oracle(np.zeros((16, 16))))
    assert atoms.shape == (0, 2)
