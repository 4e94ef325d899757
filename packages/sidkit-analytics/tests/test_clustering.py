from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from sidkit.analytics import AnalysisError, cluster


@pytest.mark.parametrize("method", ["kmeans", "minibatch", "gmm"])
def test_cluster_recovers_phase_map_with_ari_above_095(phase_image, method):
    res = cluster(phase_image["ds"], 3, method=method)
    labels = np.asarray(res.labels)
    assert labels.shape == phase_image["labels"].shape
    assert adjusted_rand_score(phase_image["labels"].ravel(), labels.ravel()) >= 0.95


def test_labels_and_centers_carry_dims_units_and_provenance(phase_image):
    ds = phase_image["ds"]
    res = cluster(ds, 3)
    assert res.labels.dim_names == ("y", "x")
    assert np.issubdtype(res.labels.dtype, np.integer)
    assert res.centers.dim_names == ("cluster", "energy")
    assert res.centers.units == "counts"
    rec = res.labels.provenance[-1]
    assert rec["process"] == "sidkit.analytics.cluster" and rec["parameters"]["n_clusters"] == 3


def test_centers_match_the_mean_spectrum_of_each_phase(phase_image):
    res = cluster(phase_image["ds"], 3)
    centers = np.asarray(res.centers)
    labels = np.asarray(res.labels)
    x = np.asarray(phase_image["ds"])
    for c in range(3):
        np.testing.assert_allclose(centers[c], x[labels == c].mean(axis=0), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("method", ["kmeans", "minibatch", "gmm"])
def test_out_of_core_clustering_recovers_phase_map_and_stays_lazy(phase_image, method):
    res = cluster(phase_image["ds"], 3, method=method, out_of_core=True)
    assert isinstance(res.labels.data, da.Array)
    labels = np.asarray(res.labels)
    assert adjusted_rand_score(phase_image["labels"].ravel(), labels.ravel()) >= 0.95


def test_out_of_core_kmeans_iterates_to_the_means_of_its_members_from_a_small_subset(phase_image):
    # started from k-means++ on 60 of 1920 pixels, the passes over all the data
    # move every centre to the mean of the pixels nearest it (Lloyd's fixed point)
    res = cluster(phase_image["ds"], 3, out_of_core=True, max_samples=60, tol=0)
    x = np.asarray(phase_image["ds"]).reshape(-1, 96)
    labels = np.asarray(res.labels).ravel()
    centers = np.asarray(res.centers)
    for c in range(3):
        np.testing.assert_allclose(centers[c], x[labels == c].mean(axis=0), rtol=1e-4, atol=1e-5)
    assert 1 <= res.estimator.n_iter_ <= 30
    assert res.estimator.inertia_ == pytest.approx(float(((x - centers[labels]) ** 2).sum()), rel=1e-4)
    assert adjusted_rand_score(phase_image["labels"].ravel(), labels) >= 0.95


def test_out_of_core_kmeans_reads_the_data_once_per_iteration(counted_reads):
    ds, reads, n_blocks = counted_reads
    res = cluster(ds, 3, out_of_core=True, max_samples=60)
    # one pass for the random subset, then one per Lloyd iteration; labels stay lazy
    assert res.estimator.n_iter_ >= 1
    assert len(reads) == n_blocks * (1 + res.estimator.n_iter_)
    reads.clear()
    res = cluster(ds, 3, out_of_core=True, max_samples=60, max_iter=1)
    assert res.estimator.n_iter_ == 1 and len(reads) == 2 * n_blocks


def test_unknown_method_raises(phase_image):
    with pytest.raises(AnalysisError, match="method"):
        cluster(phase_image["ds"], 3, method="dbscan")
