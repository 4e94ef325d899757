from __future__ import annotations

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


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_out_of_core_clustering_recovers_phase_map_and_stays_lazy(phase_image, method):
    import dask.array as da

    res = cluster(phase_image["ds"], 3, method=method, out_of_core=True)
    assert isinstance(res.labels.data, da.Array)
    labels = np.asarray(res.labels)
    assert adjusted_rand_score(phase_image["labels"].ravel(), labels.ravel()) >= 0.95


def test_unknown_method_raises(phase_image):
    with pytest.raises(AnalysisError, match="method"):
        cluster(phase_image["ds"], 3, method="dbscan")
