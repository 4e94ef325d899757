from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from sidkit.analytics import AnalysisError, decompose, decomposition
from sidkit.core import Dataset, Dimension


def _cosine_match(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    a = found / np.linalg.norm(found, axis=1, keepdims=True)
    b = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    cos = b @ a.T
    rows, cols = linear_sum_assignment(-cos)
    return cos[rows, cols]


def test_nmf_recovers_endmembers_with_cosine_above_095(phase_image):
    res = decompose(phase_image["ds"], 3, method="nmf")
    comps = np.asarray(res.components)
    assert _cosine_match(comps, phase_image["endmembers"]).min() >= 0.95


def test_components_and_maps_carry_feature_and_sample_dims(phase_image):
    ds = phase_image["ds"]
    res = decompose(ds, 4, method="pca")
    assert res.components.dim_names == ("component", "energy")
    assert res.components.dim("energy") == ds.dim("energy")
    assert res.maps.dim_names == ("y", "x", "component")
    assert res.maps.dim("x").units == "nm"
    assert res.maps.units == "counts"
    assert res.maps.provenance[-1]["process"] == "sidkit.analytics.decompose"
    assert res.maps.provenance[-1]["package"] == "sidkit-analytics"
    assert res.explained_variance_ratio.shape == (4,)


def test_pca_matches_scikit_learn_and_ratio_sums_below_one(phase_image):
    from sklearn.decomposition import PCA

    ds = phase_image["ds"]
    x = np.asarray(ds).reshape(-1, ds.shape[-1])
    ref = PCA(3, random_state=0).fit(x)
    res = decompose(ds, 3)
    evr = np.asarray(res.explained_variance_ratio)
    np.testing.assert_allclose(evr, ref.explained_variance_ratio_, rtol=1e-4)
    assert evr.sum() > 0.9 and evr.sum() <= 1.0
    # same subspace (up to sign)
    cos = np.abs(np.sum(np.asarray(res.components) * ref.components_, axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-4)


def test_reconstruct_with_all_pca_components_restores_data_shape_and_denoises(phase_image):
    ds = phase_image["ds"]
    res = decompose(ds, 3)
    rec = res.reconstruct()
    assert rec.dim_names == ds.dim_names and rec.shape == ds.shape
    clean = (np.eye(3)[phase_image["labels"]] @ phase_image["endmembers"])
    err_rec = np.abs(np.asarray(rec) - clean).mean()
    err_raw = np.abs(np.asarray(ds) - clean).mean()
    assert err_rec < 0.5 * err_raw
    assert rec.provenance[-1]["process"] == "sidkit.analytics.DecompositionResult.reconstruct"


@pytest.mark.parametrize("solver", ["gram", "randomized"])
@pytest.mark.parametrize("method", ["pca", "svd"])
def test_out_of_core_pca_and_svd_agree_with_in_memory(phase_image, monkeypatch, method, solver):
    if solver == "randomized":
        monkeypatch.setattr(decomposition, "GRAM_MAX_FEATURES", 0)
    ds = phase_image["ds"]
    # two pure end-members' worth of variance after centring (3 phases); the rest is noise
    a = decompose(ds, 2, method, out_of_core=False)
    b = decompose(ds, 2, method, out_of_core=True)
    np.testing.assert_allclose(np.asarray(b.explained_variance_ratio),
                               np.asarray(a.explained_variance_ratio), rtol=1e-3)
    np.testing.assert_allclose(np.asarray(b.components), np.asarray(a.components), atol=2e-3)
    np.testing.assert_allclose(np.asarray(b.maps), np.asarray(a.maps), atol=2e-3 * float(np.abs(np.asarray(a.maps)).max()))
    np.testing.assert_allclose(b.mean, a.mean, atol=1e-6 * float(np.abs(np.asarray(ds)).max()))


def test_out_of_core_pca_keeps_float32_precision_under_a_large_offset():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((4000, 2)) * [3.0, 1.0]
    basis = np.linalg.qr(rng.standard_normal((64, 2)))[0].T
    data = (1e4 + scores @ basis + 0.01 * rng.standard_normal((4000, 64))).astype(np.float32)
    ds = Dataset(da.from_array(data, chunks=(500, 64)),
                 [Dimension("x", 4000, dimension_type="spatial"), Dimension("e", 64, dimension_type="spectral")])
    res = decompose(ds, 2, out_of_core=True)
    cos = np.abs(np.sum(np.asarray(res.components) * basis, axis=1))
    assert cos.min() > 0.9999
    np.testing.assert_allclose(np.asarray(res.explained_variance_ratio), [0.9, 0.1], atol=5e-3)


def test_out_of_core_pca_reads_each_block_once_to_fit(counted_reads):
    ds, reads, n_blocks = counted_reads
    decompose(ds, 2, out_of_core=True)
    # the first block twice (it gives the shift that keeps float32 sums precise), the rest once
    assert len(reads) == n_blocks + 1
    assert len(set(reads)) == n_blocks


@pytest.mark.parametrize("method", ["svd", "ica"])
def test_svd_and_ica_reconstruct_close_to_data(phase_image, method):
    ds = phase_image["ds"]
    res = decompose(ds, 3, method=method)
    rec = np.asarray(res.reconstruct())
    assert np.abs(rec - np.asarray(ds)).mean() < 0.02 * float(np.asarray(ds).max())


def test_out_of_core_nmf_recovers_endmembers(phase_image):
    res = decompose(phase_image["ds"], 3, method="nmf", out_of_core=True)
    assert _cosine_match(np.asarray(res.components), phase_image["endmembers"]).min() >= 0.95
    assert np.asarray(res.maps).shape == (48, 40, 3)


def test_feature_dims_override_decomposes_images_of_a_stack():
    rng = np.random.default_rng(0)
    data = rng.random((5, 8, 8))
    ds = Dataset(data, [Dimension("t", 5, dimension_type="temporal"),
                        Dimension("y", 8, dimension_type="spatial"), Dimension("x", 8, dimension_type="spatial")])
    res = decompose(ds, 2, feature_dims=("y", "x"))
    assert res.components.dim_names == ("component", "y", "x")
    assert res.maps.dim_names == ("t", "component")


def test_nmf_on_negative_data_raises_analysis_error():
    ds = Dataset(-np.ones((4, 4, 6)), [Dimension("y", 4, dimension_type="spatial"),
                                        Dimension("x", 4, dimension_type="spatial"),
                                        Dimension("e", 6, dimension_type="spectral")])
    with pytest.raises(AnalysisError, match="non-negative"):
        decompose(ds, 2, method="nmf")


def test_bad_method_and_too_many_components_raise(phase_image):
    with pytest.raises(AnalysisError, match="method"):
        decompose(phase_image["ds"], 2, method="lda")
    with pytest.raises(AnalysisError, match="n_components"):
        decompose(phase_image["ds"], 1000)


def test_dataset_without_feature_dims_asks_for_them():
    ds = Dataset(np.ones((4, 4)), [Dimension("y", 4, dimension_type="spatial"),
                                   Dimension("x", 4, dimension_type="spatial")])
    with pytest.raises(AnalysisError, match="feature_dims"):
        decompose(ds, 1)


@settings(max_examples=8, deadline=None)
@given(ny=st.integers(2, 6), nx=st.integers(2, 6), ne=st.integers(2, 7), seed=st.integers(0, 2**16))
def test_full_rank_pca_reconstruction_restores_any_spectral_image(ny, nx, ne, seed):
    data = np.random.default_rng(seed).random((ny, nx, ne))
    data = np.moveaxis(data, 2, 1)  # (y, e, x): the spectral dim in the middle
    ds = Dataset(data, [Dimension("y", ny, dimension_type="spatial"),
                        Dimension("e", ne, dimension_type="spectral"),
                        Dimension("x", nx, dimension_type="spatial")])
    n = min(ny * nx, ne)
    rec = decompose(ds, n, method="pca").reconstruct()
    assert rec.dim_names == ("y", "e", "x")
    np.testing.assert_allclose(np.asarray(rec), data, atol=1e-8)
