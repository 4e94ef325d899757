import dask
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.core import Dataset, DataType, DimensionMismatchError
from sidkit.stem import (
    annular,
    bright_field,
    mask_detector,
    max_diffraction,
    mean_diffraction,
    rectangle,
    virtual_image,
)
from sidkit.stem.synthetic import stem_dims


def _numpy_masked_sum(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return data.astype(np.float64)[..., mask.astype(bool)].sum(axis=-1)


def test_virtual_images_equal_numpy_masked_sum_exactly(counts_4d):
    data = np.asarray(counts_4d.data.compute())
    dets = [bright_field(1.5), annular(2.0, 4.0), rectangle((-1.0, 0.5), (2.0, 3.0)),
            annular(1.0, 3.0, center=(0.5, -0.5))]
    stack = virtual_image(counts_4d, dets)
    got = np.asarray(stack.data.compute())
    for k, det in enumerate(dets):
        mask = det.weights(counts_4d).astype(bool)
        assert 0 < mask.sum() < mask.size
        np.testing.assert_array_equal(got[k], _numpy_masked_sum(data, mask))


def test_single_detector_gives_scan_image_with_scan_dims_and_provenance(counts_4d):
    img = virtual_image(counts_4d, annular(2.0, 4.0))
    assert img.shape == (6, 7)
    assert img.dim_names == ("y", "x")
    assert img.dims[0].units == "nm"
    assert img.data_type == DataType.IMAGE
    rec = img.provenance[-1]
    assert rec["process"] == "sidkit.stem.virtual_image"
    assert rec["package"] == "sidkit-stem"
    assert rec["parameters"]["detectors"][0]["kind"] == "annular"


def test_bright_field_radius_is_in_calibrated_units_or_pixels(counts_4d):
    # detector step 0.5 1/nm: radius 1.5 1/nm == 3 px
    a = bright_field(1.5).weights(counts_4d)
    b = bright_field(3.0, pixels=True).weights(counts_4d)
    np.testing.assert_array_equal(a, b)
    assert a[8, 9] == 1 and a[8, 9 + 3] == 1 and a[8, 9 + 4] == 0


def test_weighted_mask_is_a_weighted_sum(counts_4d):
    data = np.asarray(counts_4d.data.compute()).astype(float)
    rng = np.random.default_rng(1)
    w = rng.random((16, 18))
    got = np.asarray(virtual_image(counts_4d, w).data.compute())
    np.testing.assert_allclose(got, np.tensordot(data, w, axes=((2, 3), (0, 1))), rtol=1e-12)


def test_axis_order_does_not_matter(counts_4d):
    moved = counts_4d.transpose("kx", "y", "ky", "x")
    a = virtual_image(counts_4d, annular(1.0, 3.0)).data.compute()
    b = virtual_image(moved, annular(1.0, 3.0)).data.compute()
    np.testing.assert_array_equal(a, b)


def test_several_detectors_read_each_chunk_once(counts_4d):
    dets = [bright_field(1.0), annular(1.0, 2.0), annular(2.0, 4.0)]
    graph = dict(virtual_image(counts_4d, dets).data.__dask_graph__())
    # one contraction task per data chunk (2 x 2 chunks), whatever the number of detectors
    contractions = [k for k in graph if isinstance(k, tuple) and str(k[0]).startswith("stem-detector-sums")]
    assert len(contractions) == 4


def test_float32_data_matches_numpy_within_rounding():
    rng = np.random.default_rng(3)
    data = rng.random((4, 5, 12, 12), dtype=np.float32)
    ds = Dataset(data, stem_dims((4, 5), (12, 12)), chunks=(2, 5, 12, 12))
    mask = annular(2, 5).weights(ds).astype(bool)
    got = virtual_image(ds, annular(2, 5)).data.compute()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, data[..., mask].sum(-1), rtol=1e-5)


def test_mean_and_max_diffraction_match_numpy(counts_4d):
    data = np.asarray(counts_4d.data.compute())
    mean = mean_diffraction(counts_4d)
    assert mean.dim_names == ("ky", "kx") and mean.dims[0].units == "1/nm"
    np.testing.assert_allclose(mean.data.compute(), data.mean(axis=(0, 1)))
    np.testing.assert_array_equal(max_diffraction(counts_4d).data.compute(), data.max(axis=(0, 1)))


def test_mask_of_wrong_shape_raises_dimension_mismatch(counts_4d):
    with pytest.raises(DimensionMismatchError, match="does not match the detector"):
        virtual_image(counts_4d, np.ones((3, 3), bool))


def test_non_4d_stem_dataset_is_refused_naming_the_dims():
    ds = Dataset(np.zeros((4, 4, 4)), ["a", "b", "c"])
    with pytest.raises(DimensionMismatchError, match="two SPATIAL"):
        virtual_image(ds, bright_field(1))


def test_bad_detector_geometry_raises_value_error():
    with pytest.raises(ValueError):
        annular(3.0, 2.0)
    with pytest.raises(ValueError):
        bright_field(-1.0)
    with pytest.raises(ValueError):
        mask_detector(np.ones(4))


def test_virtual_image_stays_lazy(counts_4d):
    img = virtual_image(counts_4d, bright_field(1.0))
    assert isinstance(img.data, dask.array.Array)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), s0=st.integers(1, 5), s1=st.integers(1, 5),
       k0=st.integers(2, 9), k1=st.integers(2, 9), c0=st.integers(1, 5), n_masks=st.integers(1, 4))
def test_any_masks_on_any_chunking_equal_numpy_masked_sums(seed, s0, s1, k0, k1, c0, n_masks):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 1000, size=(s0, s1, k0, k1)).astype(np.int32)
    masks = [rng.random((k0, k1)) < 0.4 for _ in range(n_masks)]
    ds = Dataset(data, stem_dims((s0, s1), (k0, k1)), chunks=(c0, 2, max(1, k0 // 2), k1))
    got = np.asarray(virtual_image(ds, masks).data.compute())
    for k, m in enumerate(masks):
        np.testing.assert_array_equal(got[k], _numpy_masked_sum(data, m))
