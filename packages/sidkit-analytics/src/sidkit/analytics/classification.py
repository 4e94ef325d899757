"""Supervised classification of every sample (pixel, spectrum) of a Dataset
from a partially labelled map."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sidkit.core import Dataset, DataType

from ._samples import AnalysisError, check_same_samples, derive, index_dim, layout, matrix

__all__ = ["ClassificationResult", "classify", "InsufficientLabelsError"]

ESTIMATORS = ("svm", "linear_svm", "tree", "forest", "knn", "logistic")


class InsufficientLabelsError(AnalysisError):
    """Too few labelled samples (or classes) to train a classifier."""


@dataclass
class ClassificationResult:
    """What :func:`classify` predicted.

    Attributes
    ----------
    labels : Dataset
        Sample dims, the predicted class label of every sample.
    probabilities : Dataset or None
        Sample dims x ``class``: per-class probability maps, when the
        estimator gives probabilities.
    estimator : object
        The fitted scikit-learn estimator (a pipeline with a scaler for SVMs).
    classes : numpy.ndarray
        The class labels, in the order of the ``class`` dim.
    """

    labels: Dataset
    probabilities: Dataset | None
    estimator: Any
    classes: np.ndarray

    def plot(self, *, names: Any = None, cmap: str = "tab10", max_classes: int = 8,
             figsize: Any = None, title: str | None = None) -> Any:
        """The predicted label map with a legend beside the probability maps.

        Parameters
        ----------
        names : mapping of int to str or sequence of str, optional
            Class names by label (a sequence in the order of :attr:`classes`);
            ``"class k"`` by default.
        cmap : str, default "tab10"
            Qualitative colour map of the label map.
        max_classes : int, default 8
            At most this many probability maps are drawn.
        figsize : tuple of float, optional
        title : str, optional
            Title of the label map; the labels' title by default.

        Returns
        -------
        matplotlib.figure.Figure
            Axes 0: the predicted classes (an image over two sample dims,
            points along one) with one legend entry per class present. Then,
            when the estimator gives probabilities, one image per class
            (values 0 to 1, with a colour bar), or one axes with a line per
            class along a single sample dim.

        Raises
        ------
        MissingDependencyError
            matplotlib is not installed (``pip install "sidkit-core[plot]"``).
        """
        from sidkit.core import require

        require("matplotlib", extra="plot", package="sidkit-core", reader="ClassificationResult.plot")
        import matplotlib.pyplot as plt

        from sidkit.core.plotting import plot_image, plot_spectrum

        from .clustering import _draw_labels, _label_colors

        classes = [int(c) for c in np.asarray(self.classes).tolist()]
        if names is None:
            label_names = {c: f"class {c}" for c in classes}
        elif isinstance(names, Mapping):
            label_names = {int(k): str(v) for k, v in names.items()}
        else:
            label_names = {c: str(v) for c, v in zip(classes, names)}
        proba = self.probabilities
        lines = proba is not None and proba.ndim == 2
        shown = 0 if proba is None else min(len(classes), int(max_classes))
        ncols = 1 + (1 if lines else shown)
        fig, axes = plt.subplots(1, ncols, figsize=figsize or (5.5 + 3.6 * (ncols - 1), 4.5),
                                 squeeze=False, layout="constrained")
        axes = axes[0]
        _draw_labels(axes[0], self.labels, label_names, cmap=cmap, title=title)
        if proba is None:
            return fig
        if lines:
            colors = _label_colors(cmap, classes)
            for i, c in enumerate(classes):
                plot_spectrum(proba.isel({"class": i}), ax=axes[1], title="class probabilities",
                              color=colors[i], label=label_names.get(c, f"class {c}"))
            axes[1].set_ylim(-0.02, 1.02)
            axes[1].legend(fontsize="small")
            return fig
        for i in range(shown):
            c = classes[i]
            plot_image(proba.isel({"class": i}), ax=axes[1 + i], cmap="magma", vmin=0.0, vmax=1.0,
                       title=f"P({label_names.get(c, f'class {c}')})")
        return fig


def make_estimator(name: str, random_state: int | None = 0, **kwargs: Any) -> Any:
    """A scikit-learn classifier by short name.

    ``"svm"`` (RBF kernel, standardised features, probabilities by Platt
    scaling),
    ``"linear_svm"``, ``"tree"`` (decision tree), ``"forest"`` (random
    forest), ``"knn"``, ``"logistic"``.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    name = name.lower()
    if name in ("svm", "linear_svm"):
        # probabilities by Platt scaling on internal cross-validation
        # (SVC(probability=True) is deprecated from scikit-learn 1.9)
        kwargs.setdefault("kernel", "rbf" if name == "svm" else "linear")
        svc = SVC(random_state=random_state, **kwargs)
        return make_pipeline(StandardScaler(), CalibratedClassifierCV(svc, ensemble=False))
    if name == "tree":
        return DecisionTreeClassifier(random_state=random_state, **kwargs)
    if name == "forest":
        kwargs.setdefault("n_estimators", 100)
        return RandomForestClassifier(random_state=random_state, **kwargs)
    if name == "knn":
        return KNeighborsClassifier(**kwargs)
    if name == "logistic":
        kwargs.setdefault("max_iter", 1000)
        return make_pipeline(StandardScaler(), LogisticRegression(random_state=random_state, **kwargs))
    raise AnalysisError(f"estimator must be one of {ESTIMATORS} or a scikit-learn classifier, got {name!r}")


def classify(
    ds: Dataset,
    labels: Dataset | np.ndarray,
    estimator: Any = None,
    *,
    sample_dims: Any = None,
    feature_dims: Any = None,
    min_per_class: int = 2,
    random_state: int | None = 0,
    **kwargs: Any,
) -> ClassificationResult:
    """Train a classifier on the labelled samples and predict every sample.

    Parameters
    ----------
    ds : Dataset
        The data, e.g. a spectral image or a stack of per-pixel features.
    labels : Dataset or array_like of int
        Sample dims (same shape as the samples of ``ds``): a class label
        ``>= 0`` where known, ``-1`` where unlabelled.
    estimator : None, str or scikit-learn classifier
        ``None`` (a random forest), a name (``"svm"`` with an RBF kernel,
        ``"tree"``, ``"forest"``, ``"knn"``, ``"logistic"``,
        ``"linear_svm"``) or any unfitted classifier instance (it is cloned).
    sample_dims, feature_dims : dim names, optional
        Override the choice by dimension type.
    min_per_class : int, default 2
        Fewest labelled samples accepted for every class.
    random_state : int, optional
        Seed for estimators built by name.
    **kwargs
        Passed to an estimator built by name.

    Returns
    -------
    ClassificationResult
        ``.labels`` (predicted map), ``.probabilities`` (or None),
        ``.estimator``, ``.classes``.

    Raises
    ------
    InsufficientLabelsError
        Fewer than two classes, or a class with fewer than ``min_per_class``
        labelled samples.
    DimensionMismatchError
        ``labels`` does not have the samples' shape.
    """
    from sklearn.base import clone

    lay = layout(ds, sample_dims, feature_dims)
    if isinstance(labels, Dataset):
        lab = np.asarray(check_same_samples(ds, labels, lay, "labels").data.compute())
    else:
        lab = np.asarray(labels)
        if lab.shape != lay.sample_shape:
            from sidkit.core import DimensionMismatchError

            raise DimensionMismatchError(
                f"labels have shape {lab.shape} but the samples {list(lay.sample_names)} "
                f"have {lay.sample_shape}"
            )
    if not np.issubdtype(lab.dtype, np.integer):
        if not np.all(np.isfinite(lab)) or not np.all(lab == np.round(lab)):
            raise AnalysisError("labels must be integers (-1 for unlabelled)")
        lab = lab.astype(np.int64)
    flat = lab.reshape(-1)
    known = flat >= 0
    classes, counts = np.unique(flat[known], return_counts=True)
    if classes.size < 2:
        raise InsufficientLabelsError(
            f"classification needs labelled samples of at least 2 classes; found {classes.size} "
            f"class(es) among {int(known.sum())} labelled samples (label -1 means unlabelled)"
        )
    few = classes[counts < int(min_per_class)]
    if few.size:
        raise InsufficientLabelsError(
            f"classes {few.tolist()} have fewer than {min_per_class} labelled samples "
            f"(counts {dict(zip(classes.tolist(), counts.tolist()))}); label more samples"
        )
    if estimator is None:
        est = make_estimator("forest", random_state, **kwargs)
        est_name = "forest"
    elif isinstance(estimator, str):
        est = make_estimator(estimator, random_state, **kwargs)
        est_name = estimator.lower()
    else:
        if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
            raise AnalysisError(f"estimator {estimator!r} has no fit/predict; pass a scikit-learn classifier")
        est = clone(estimator)
        est_name = type(estimator).__name__
    x = matrix(ds, lay)
    train_idx = np.nonzero(known)[0]
    x_train = np.asarray(x[train_idx].compute()) if train_idx.size < flat.size else np.asarray(x.compute())
    est.fit(x_train, flat[known])
    has_proba = hasattr(est, "predict_proba")
    classes_out = np.asarray(getattr(est, "classes_", classes))
    nc = classes_out.size

    def predict(block: np.ndarray, est: Any = est) -> np.ndarray:
        return np.asarray(est.predict(block))

    pred = x.map_blocks(predict, drop_axis=1, chunks=(x.chunks[0],), dtype=classes_out.dtype)
    params = {"estimator": est_name, "sample_dims": list(lay.sample_names),
              "feature_dims": list(lay.feature_names), "n_labelled": int(known.sum()),
              "classes": classes_out.tolist(), "random_state": random_state, **kwargs}
    image = DataType.IMAGE if len(lay.sample_dims) == 2 else None
    labels_ds = derive(ds, pred.reshape(lay.sample_shape), lay.sample_dims, "classify", params,
                       title=f"{est_name} classes", quantity="class", units="", data_type=image)
    proba_ds = None
    if has_proba:
        def proba(block: np.ndarray, est: Any = est) -> np.ndarray:
            return np.asarray(est.predict_proba(block), dtype=np.float32)

        p = x.map_blocks(proba, chunks=(x.chunks[0], (nc,)), dtype=np.float32)
        proba_ds = derive(ds, p.reshape(lay.sample_shape + (nc,)),
                          lay.sample_dims + (index_dim("class", nc, values=classes_out),), "classify", params,
                          title=f"{est_name} class probabilities", quantity="probability", units="",
                          data_type=DataType.IMAGE_STACK if len(lay.sample_dims) == 2 else None)
    return ClassificationResult(labels_ds, proba_ds, est, classes_out)
