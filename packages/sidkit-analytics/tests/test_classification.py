"""The workshop's machine-learning walk-through on a sidkit spectral image:
unsupervised k-means, then supervised SVM (RBF), decision tree and random
forest trained on a few labelled pixels, all scored against known labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, adjusted_rand_score
from sklearn.neighbors import KNeighborsClassifier

from sidkit.analytics import InsufficientLabelsError, classify, cluster
from sidkit.core import Dataset, DimensionMismatchError


@pytest.fixture(scope="module")
def noisy_image(phase_image):
    """The phase image with heavy noise, so classification is not trivial."""
    rng = np.random.default_rng(7)
    ds = phase_image["ds"]
    x = np.asarray(ds)
    noisy = x + rng.normal(0, 0.25 * x.max(), x.shape).astype(np.float32)
    return ds.derive(noisy), phase_image["labels"]


def _partial_labels(truth: np.ndarray, fraction: float = 0.05, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lab = np.full(truth.shape, -1)
    pick = rng.random(truth.shape) < fraction
    lab[pick] = truth[pick]
    return lab


def test_kmeans_unsupervised_classification_scores_against_known_labels(noisy_image):
    ds, truth = noisy_image
    res = cluster(ds, 3)
    assert adjusted_rand_score(truth.ravel(), np.asarray(res.labels).ravel()) >= 0.9


@pytest.mark.parametrize("estimator,min_accuracy", [("svm", 0.95), ("tree", 0.8), ("forest", 0.9), (None, 0.9)])
def test_supervised_classifiers_predict_known_labels(noisy_image, estimator, min_accuracy):
    ds, truth = noisy_image
    labels = _partial_labels(truth)
    res = classify(ds, labels, estimator)
    pred = np.asarray(res.labels)
    assert pred.shape == truth.shape
    assert accuracy_score(truth.ravel(), pred.ravel()) >= min_accuracy
    assert res.labels.dim_names == ("y", "x")
    assert list(res.classes) == [0, 1, 2]
    proba = np.asarray(res.probabilities)
    assert res.probabilities.dim_names == ("y", "x", "class")
    np.testing.assert_allclose(proba.sum(axis=-1), 1.0, atol=1e-5)
    assert res.labels.provenance[-1]["process"] == "sidkit.analytics.classify"


def test_labels_as_a_dataset_and_estimator_instance_are_accepted(noisy_image):
    ds, truth = noisy_image
    lab = ds.isel(energy=0).derive(_partial_labels(truth, 0.1))
    res = classify(ds, lab, KNeighborsClassifier(5))
    assert accuracy_score(truth.ravel(), np.asarray(res.labels).ravel()) >= 0.9
    assert isinstance(res.estimator, KNeighborsClassifier)


def test_a_single_labelled_class_raises_insufficient_labels(noisy_image):
    ds, truth = noisy_image
    lab = np.full(truth.shape, -1)
    lab[:3, :3] = 1
    with pytest.raises(InsufficientLabelsError, match="at least 2 classes"):
        classify(ds, lab)


def test_a_class_with_one_label_raises_insufficient_labels(noisy_image):
    ds, truth = noisy_image
    lab = np.full(truth.shape, -1)
    lab[:3, :3] = 1
    lab[10, 10] = 2
    with pytest.raises(InsufficientLabelsError, match=r"\[2\]"):
        classify(ds, lab)
    with pytest.raises(ValueError):  # InsufficientLabelsError is a ValueError too
        classify(ds, lab)


def test_labels_of_the_wrong_shape_raise_dimension_mismatch(noisy_image):
    ds, _ = noisy_image
    with pytest.raises(DimensionMismatchError):
        classify(ds, np.zeros((3, 3), dtype=int))
    with pytest.raises(DimensionMismatchError):
        classify(ds, Dataset(np.zeros((3, 3), dtype=int), ["a", "b"]))
