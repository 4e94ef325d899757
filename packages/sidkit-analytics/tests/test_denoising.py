from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sidkit.analytics import AnalysisError, denoise
from sidkit.core import Dataset, Dimension


@pytest.fixture(scope="module")
def noisy():
    rng = np.random.default_rng(3)
    clean = ndimage.gaussian_filter(rng.random((64, 64)), 4)
    clean = (clean - clean.min()) / np.ptp(clean)
    noisy = clean + rng.normal(0, 0.1, clean.shape)
    dims = [Dimension.linear("y", 64, scale=0.5, units="nm", dimension_type="spatial"),
            Dimension.linear("x", 64, scale=0.5, units="nm", dimension_type="spatial")]
    return Dataset(noisy, dims, title="img", units="counts"), clean


@pytest.mark.parametrize("method,kw", [("gaussian", {"sigma": 1.0}), ("median", {"size": 2.0}),
                                       ("nl_means", {}), ("pca", {"window": 8, "n_components": 4, "step": 2})])
def test_every_method_lowers_the_error_against_the_clean_image(noisy, method, kw):
    ds, clean = noisy
    out = denoise(ds, method, **kw)
    assert out.dim_names == ds.dim_names and out.units == "counts"
    err_before = np.sqrt(np.mean((np.asarray(ds) - clean) ** 2))
    err_after = np.sqrt(np.mean((np.asarray(out) - clean) ** 2))
    assert err_after < 0.6 * err_before
    assert out.provenance[-1]["parameters"]["method"] == method


def test_gaussian_sigma_is_in_calibrated_units_unless_pixels(noisy):
    ds, _ = noisy
    a = np.asarray(denoise(ds, "gaussian", sigma=1.0))            # 1 nm = 2 px
    b = np.asarray(denoise(ds, "gaussian", sigma=2.0, pixels=True))
    np.testing.assert_allclose(a, b)


def test_stack_frames_are_denoised_independently(noisy):
    ds, _ = noisy
    stack = Dataset(np.stack([np.asarray(ds), np.zeros(ds.shape)]), [Dimension("t", 2), *ds.dims])
    out = np.asarray(denoise(stack, "gaussian", sigma=1.0))
    np.testing.assert_allclose(out[1], 0)
    np.testing.assert_allclose(out[0], np.asarray(denoise(ds, "gaussian", sigma=1.0)))


def test_unknown_method_raises(noisy):
    with pytest.raises(AnalysisError):
        denoise(noisy[0], "wiener")
