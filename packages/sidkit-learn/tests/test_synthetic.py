from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from sidkit.core import DataType, DimensionType
from sidkit.learn.synthetic import LATTICES, make_atom_images


def test_same_seed_gives_identical_images_masks_and_positions():
    a = make_atom_images(3, 48, seed=5)
    b = make_atom_images(3, 48, seed=5)
    np.testing.assert_array_equal(np.asarray(a.images), np.asarray(b.images))
    np.testing.assert_array_equal(np.asarray(a.masks), np.asarray(b.masks))
    for p, q in zip(a.positions, b.positions):
        np.testing.assert_array_equal(p, q)


def test_different_seed_gives_different_images():
    a = make_atom_images(2, 48, seed=5)
    b = make_atom_images(2, 48, seed=6)
    assert not np.allclose(np.asarray(a.images), np.asarray(b.images))


def test_image_depends_only_on_seed_and_index():
    a = make_atom_images(2, 48, seed=3)
    b = make_atom_images(4, 48, seed=3)
    np.testing.assert_array_equal(np.asarray(a.images[1]), np.asarray(b.images[1]))


def test_datasets_carry_physical_dims_and_recipe(small_set):
    imgs = small_set.images
    assert imgs.shape == (6, 64, 80)
    assert imgs.data_type == DataType.IMAGE_STACK
    assert imgs.dim_names == ("frame", "y", "x")
    y, x = imgs.dim("y"), imgs.dim("x")
    assert y.dimension_type == DimensionType.SPATIAL and x.units == "nm"
    assert x.scale == pytest.approx(0.025)
    assert small_set.masks.shape == imgs.shape
    assert set(np.unique(np.asarray(small_set.masks))) <= {0, 1}
    recipe = imgs.metadata["synthetic"]
    assert recipe["seed"] == 11 and len(recipe["images"]) == 6
    assert imgs.provenance[-1]["process"] == "sidkit.learn.synthetic.make_atom_images"
    assert len(small_set) == 6


def test_coordinates_are_positions_in_physical_units(small_set):
    for pos, coords in zip(small_set.positions, small_set.coordinates):
        np.testing.assert_allclose(coords, pos * 0.025)


def test_every_true_position_lies_on_a_mask_blob(small_set):
    masks = np.asarray(small_set.masks)
    for mask, pos in zip(masks, small_set.positions):
        assert len(pos) > 10
        r = np.clip(np.rint(pos[:, 0]).astype(int), 0, mask.shape[0] - 1)
        c = np.clip(np.rint(pos[:, 1]).astype(int), 0, mask.shape[1] - 1)
        assert mask[r, c].all()


def test_mask_blobs_and_atoms_correspond_one_to_one(small_set):
    masks = np.asarray(small_set.masks)
    for mask, pos in zip(masks, small_set.positions):
        labels, n = ndimage.label(mask)
        r = np.clip(np.rint(pos[:, 0]).astype(int), 0, mask.shape[0] - 1)
        c = np.clip(np.rint(pos[:, 1]).astype(int), 0, mask.shape[1] - 1)
        hit = labels[r, c]
        # each atom on its own blob: no two atoms share one
        assert len(np.unique(hit)) == len(pos)
        # every blob away from the edge belongs to an atom
        edge = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
        interior = set(range(1, n + 1)) - edge
        assert interior <= set(hit.tolist())


def test_true_positions_are_the_brightness_centres_of_the_columns():
    data = make_atom_images(2, 64, seed=2, dose=1e7, read_noise=0.0, background=0.0,
                            gradient=0.0, jitter=0.2, wobble=0.5, drift=0.03, blur=0.5,
                            spacing=(10.0, 12.0))
    for img, pos in zip(np.asarray(data.images), data.positions):
        inner = pos[np.all((pos > 6) & (pos < 57), axis=1)]
        assert len(inner) > 5
        for r0, c0 in inner:
            r, c = np.mgrid[int(r0) - 3 : int(r0) + 5, int(c0) - 3 : int(c0) + 5]
            w = img[r, c] - img[r, c].min()
            cr, cc = (w * r).sum() / w.sum(), (w * c).sum() / w.sum()
            assert np.hypot(cr - r0, cc - c0) < 0.35


def test_fixed_recipe_values_are_used():
    data = make_atom_images(2, 48, seed=1, lattice="square", rotation=0.0, spacing=10.0,
                            vacancy_rate=0.0)
    for p in data.recipe["images"]:
        assert p["lattice"] == "square" and p["spacing"] == 10.0 and p["rotation"] == 0.0
    # a square lattice of spacing 10 px in 48 x 48 px: about 4.8**2 atoms
    assert all(16 <= len(pos) <= 36 for pos in data.positions)


def test_vacancies_remove_atoms():
    full = make_atom_images(4, 64, seed=4, vacancy_rate=0.0, lattice="square", spacing=9.0)
    sparse = make_atom_images(4, 64, seed=4, vacancy_rate=0.5, lattice="square", spacing=9.0)
    n_full = sum(len(p) for p in full.positions)
    n_sparse = sum(len(p) for p in sparse.positions)
    assert 0.3 * n_full < n_sparse < 0.7 * n_full


@pytest.mark.parametrize("bad", [{"colour": 1}, {"lattice": "cubic"}, {"spacing": (5, 2)}])
def test_bad_recipe_raises_value_error(bad):
    with pytest.raises(ValueError):
        make_atom_images(1, 32, **bad)


def test_absurd_size_is_refused_before_allocating():
    with pytest.raises(ValueError, match="pixel limit"):
        make_atom_images(10_000, (4096, 4096))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lattice=st.sampled_from(LATTICES),
       h=st.integers(24, 64), w=st.integers(24, 64))
def test_labels_match_images_for_any_seed(seed, lattice, h, w):
    data = make_atom_images(1, (h, w), seed=seed, lattice=lattice)
    mask, pos = np.asarray(data.masks[0]), data.positions[0]
    assert np.isfinite(np.asarray(data.images)).all()
    assert np.all((pos >= -0.5) & (pos < np.array([h, w]) - 0.5))
    if len(pos):
        r = np.clip(np.rint(pos[:, 0]).astype(int), 0, h - 1)
        c = np.clip(np.rint(pos[:, 1]).astype(int), 0, w - 1)
        assert mask[r, c].all()
