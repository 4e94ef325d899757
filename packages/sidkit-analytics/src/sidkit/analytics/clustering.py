"""Unsupervised clustering of the samples (pixels, spectra) of a Dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, DataType
from sidkit.core.streaming import iter_blocks

from ._samples import AnalysisError, derive, index_dim, layout, matrix, matrix_in_memory, use_out_of_core

__all__ = ["ClusterResult", "cluster"]

METHODS = ("kmeans", "minibatch", "gmm")


@dataclass
class ClusterResult:
    """What :func:`cluster` found.

    Attributes
    ----------
    labels : Dataset
        Sample dims, integer cluster index of every sample (lazy when computed
        out of core).
    centers : Dataset
        ``cluster`` x feature dims: the mean spectrum of every cluster.
    estimator : object
        The fitted scikit-learn estimator.
    method : str
    """

    labels: Dataset
    centers: Dataset
    estimator: Any
    method: str

    @property
    def n_clusters(self) -> int:
        return int(self.centers.shape[0])

    def plot(self, *, cmap: str = "tab10", max_centers: int = 8, figsize: Any = None,
             title: str | None = None) -> Any:
        """The label map with a legend beside the cluster centres.

        Parameters
        ----------
        cmap : str, default "tab10"
            Qualitative colour map; centre ``k`` has the colour of label ``k``.
        max_centers : int, default 8
            At most this many centres are drawn when they are images.
        figsize : tuple of float, optional
        title : str, optional
            Title of the label map; the labels' title by default.

        Returns
        -------
        matplotlib.figure.Figure
            Axes 0: the label map (an image over two sample dims, points
            along one) with one legend entry per cluster present. Then one
            axes with every centre as a line (one feature dim), or one axes
            per centre image (two or more feature dims).

        Raises
        ------
        MissingDependencyError
            matplotlib is not installed (``pip install "sidkit-core[plot]"``).
        """
        names = {k: f"cluster {k}" for k in range(self.n_clusters)}
        return _plot_labels_and_centers(self.labels, self.centers, names, "cluster", cmap=cmap,
                                        max_centers=max_centers, figsize=figsize, title=title,
                                        reader="ClusterResult.plot")


def _label_colors(cmap: str, labels: Any) -> list[Any]:
    """The colours :func:`sidkit.core.plotting.plot_labels` gives ``labels``."""
    import matplotlib.pyplot as plt

    base = plt.get_cmap(cmap)
    n = getattr(base, "N", 10)
    return [(1.0, 1.0, 1.0, 1.0) if int(k) < 0 else base(int(k) % n) for k in labels]


def _draw_labels(ax: Any, labels: Dataset, names: dict[int, str], *, cmap: str, title: str | None) -> None:
    """A label map into ``ax``: an image with a legend over two sample dims,
    coloured points along one sample dim."""
    from sidkit.core.plotting import axis_label, plot_labels, value_label

    if labels.ndim >= 2:
        lab = labels if labels.ndim == 2 else labels.isel({n: 0 for n in labels.dim_names[:-2]})
        plot_labels(lab, names=names, ax=ax, cmap=cmap, title=title)
        return
    values = np.asarray(labels.data.compute()).astype(int)
    x = np.asarray(labels.dims[0].values)
    if not np.issubdtype(x.dtype, np.number):
        x = np.arange(values.size)
    present = np.unique(values)
    for k, color in zip(present, _label_colors(cmap, present)):
        sel = values == k
        name = "unlabelled" if k < 0 else names.get(int(k), f"class {k}")
        ax.scatter(x[sel], values[sel], color=color, edgecolors="black", linewidths=0.4, s=18,
                   label=f"{name} ({int(sel.sum())} px)")
    ax.set_xlabel(axis_label(labels.dims[0]))
    ax.set_ylabel(value_label(labels))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", borderaxespad=0)
    ax.set_title(title if title is not None else labels.title)


def _plot_labels_and_centers(labels: Dataset, centers: Dataset, names: dict[int, str], dim: str, *,
                             cmap: str, max_centers: int, figsize: Any, title: str | None,
                             reader: str) -> Any:
    from sidkit.core import require

    require("matplotlib", extra="plot", package="sidkit-core", reader=reader)
    import matplotlib.pyplot as plt

    from sidkit.core.plotting import plot_image, plot_spectrum

    n = int(centers.shape[0])
    lines = centers.ndim == 2
    shown = n if lines else min(n, int(max_centers))
    ncols = 2 if lines else 1 + shown
    fig, axes = plt.subplots(1, ncols, figsize=figsize or (5.5 * 2 if lines else 5.5 + 3.4 * shown, 4.5),
                             squeeze=False, layout="constrained")
    axes = axes[0]
    _draw_labels(axes[0], labels, names, cmap=cmap, title=title)
    colors = _label_colors(cmap, range(n))
    if lines:
        for k in range(n):
            plot_spectrum(centers.isel({dim: k}), ax=axes[1], title=f"{dim} centres",
                          color=colors[k], label=names[k])
        axes[1].legend(fontsize="small")
    else:
        for k in range(shown):
            plot_image(centers.isel({dim: k}), ax=axes[1 + k], cmap="viridis", title=f"centre: {names[k]}")
            for side in axes[1 + k].spines.values():
                side.set_edgecolor(colors[k])
                side.set_linewidth(3)
    return fig


def _predict_blocks(est: Any, x: da.Array) -> da.Array:
    def apply(block: np.ndarray, est: Any = est) -> np.ndarray:
        return est.predict(block).astype(np.int32)

    return x.map_blocks(apply, drop_axis=1, chunks=(x.chunks[0],), dtype=np.int32)


def cluster(
    ds: Dataset,
    n_clusters: int,
    method: str = "kmeans",
    *,
    sample_dims: Any = None,
    feature_dims: Any = None,
    out_of_core: bool | None = None,
    random_state: int | None = 0,
    batch_size: int = 4096,
    n_epochs: int = 3,
    max_samples: int = 200_000,
    **kwargs: Any,
) -> ClusterResult:
    """Group the samples of a dataset into clusters of similar features.

    Parameters
    ----------
    ds : Dataset
        E.g. a spectral image: every pixel's spectrum is one sample.
    n_clusters : int
        Number of clusters.
    method : {"kmeans", "minibatch", "gmm"}
        k-means, mini-batch k-means, or a Gaussian mixture.
    sample_dims, feature_dims : dim names, optional
        Override the choice by dimension type.
    out_of_core : bool, optional
        Force or forbid the out-of-core path (default: by size, see
        :func:`sidkit.analytics.decompose`). k-means then runs as mini-batch
        k-means fed block by block (``n_epochs`` passes over the data in
        batches of ``batch_size``; the next blocks are read, on the workers
        of an active ``dask.distributed`` client if there is one, while one
        is fitted); a Gaussian mixture is fitted on a random
        subset of ``max_samples`` rows. Labels are predicted block by block.
    random_state : int, optional
        Seed.
    **kwargs
        Passed to the scikit-learn estimator.

    Returns
    -------
    ClusterResult
        ``.labels`` (samples, int) and ``.centers`` (cluster x features).

    Raises
    ------
    AnalysisError
        Unknown method or fewer samples than clusters.
    """
    method = str(method).lower()
    if method not in METHODS:
        raise AnalysisError(f"method must be one of {METHODS}, got {method!r}")
    lay = layout(ds, sample_dims, feature_dims)
    k = int(n_clusters)
    if not 1 <= k <= lay.n_samples:
        raise AnalysisError(f"n_clusters must be between 1 and {lay.n_samples}, got {n_clusters}")
    x = matrix(ds, lay)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    ooc = use_out_of_core(x, out_of_core)
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.mixture import GaussianMixture

    if not ooc:
        arr = matrix_in_memory(ds, lay)
        if not np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float32)
        if method == "kmeans":
            est = KMeans(n_clusters=k, random_state=random_state, **kwargs)
        elif method == "minibatch":
            est = MiniBatchKMeans(n_clusters=k, random_state=random_state, batch_size=batch_size, **kwargs)
        else:
            est = GaussianMixture(n_components=k, random_state=random_state, **kwargs)
        labels: Any = est.fit_predict(arr).astype(np.int32)
        labels = da.from_array(labels.reshape(lay.sample_shape))
    else:
        if method in ("kmeans", "minibatch"):
            kwargs.setdefault("n_init", 3)
            est = MiniBatchKMeans(n_clusters=k, random_state=random_state, batch_size=batch_size, **kwargs)
            for _ in range(int(n_epochs)):
                for _rows, b in iter_blocks(x):
                    for start in range(0, b.shape[0], batch_size):
                        part = b[start:start + batch_size]
                        if part.shape[0] >= k or hasattr(est, "cluster_centers_"):
                            est.partial_fit(part)
        else:
            rng = np.random.default_rng(random_state)
            m = min(int(max_samples), x.shape[0])
            idx = np.sort(rng.choice(x.shape[0], size=m, replace=False))
            est = GaussianMixture(n_components=k, random_state=random_state, **kwargs)
            est.fit(np.asarray(x[idx].compute()))
        labels = _predict_blocks(est, x).reshape(lay.sample_shape)
    centers = est.cluster_centers_ if method != "gmm" else est.means_
    params = {"n_clusters": k, "method": method, "sample_dims": list(lay.sample_names),
              "feature_dims": list(lay.feature_names), "out_of_core": ooc,
              "random_state": random_state, **kwargs}
    cdim = index_dim("cluster", k)
    labels_ds = derive(ds, labels, lay.sample_dims, "cluster", params, title=f"{method} labels",
                       quantity="cluster", units="", data_type=DataType.IMAGE
                       if len(lay.sample_dims) == 2 else None)
    centers_ds = derive(ds, np.asarray(centers).reshape((k,) + lay.feature_shape).astype(x.dtype),
                        (cdim,) + lay.feature_dims, "cluster", params, title=f"{method} centers",
                        data_type=DataType.LINE_PLOT_FAMILY if len(lay.feature_dims) == 1 else None)
    return ClusterResult(labels_ds, centers_ds, est, method)
