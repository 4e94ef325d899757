"""Unsupervised clustering of the samples (pixels, spectra) of a Dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, DataType
from sidkit.core.streaming import iter_blocks

from ._samples import (
    AnalysisError,
    derive,
    index_dim,
    layout,
    matrix,
    matrix_in_memory,
    random_rows,
    sum_over_blocks,
    use_out_of_core,
)

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


#: Out-of-core k-means starts from k-means on a random subset of at most
#: this many bytes of rows.
INIT_BYTES = 32 * 2**20


def _block_cluster_sums(block: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Per-cluster sums of the rows nearest each centre: (k, nf + 2) float64
    holding the sums, the counts and the summed squared distances.

    Computed in the data's precision relative to the centres' mean, which
    keeps float32 distances precise whatever the data's offset.
    """
    dt = block.dtype if block.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    shift = centres.mean(axis=0)
    b = block.astype(dt, copy=False) - shift.astype(dt)
    c = (centres - shift).astype(dt)
    d2 = np.einsum("ij,ij->i", b, b)[:, None] - 2 * (b @ c.T) + np.einsum("ij,ij->i", c, c)[None, :]
    nearest = np.argmin(d2, axis=1)
    k, nf = centres.shape
    out = np.empty((k, nf + 2))
    for j in range(k):  # one pass over the rows in all; a one-hot BLAS product is slower here
        out[j, :nf] = block[nearest == j].sum(axis=0, dtype=np.float64)
    out[:, nf] = np.bincount(nearest, minlength=k)
    out[:, nf + 1] = np.bincount(nearest, weights=np.maximum(d2[np.arange(b.shape[0]), nearest], 0),
                                 minlength=k)
    return out


def _lloyd_out_of_core(x: da.Array, k: int, seed: int | None, max_samples: int,
                       kwargs: dict[str, Any]) -> Any:
    """k-means larger than memory: k-means++ on a random subset, then Lloyd
    iterations over the whole data, one pass each, computed block by block
    where dask runs (only k centres and their sums travel)."""
    from sklearn.cluster import KMeans

    kwargs = dict(kwargs)
    max_iter = int(kwargs.pop("max_iter", 30))
    tol = float(kwargs.pop("tol", 1e-4))
    kwargs.setdefault("n_init", 3)
    # the initial fit holds the subset in this process
    row_bytes = max(1, x.shape[1] * x.dtype.itemsize)
    sub = random_rows(x, min(int(max_samples), max(10 * k, INIT_BYTES // row_bytes)), seed)
    est = KMeans(n_clusters=k, random_state=seed, tol=tol, **kwargs).fit(sub)
    # sklearn's convergence test: centre shift relative to the mean feature variance
    tol_abs = tol * float(np.mean(np.var(sub, axis=0, dtype=np.float64)))
    centres = est.cluster_centers_.astype(np.float64)
    nf = centres.shape[1]
    n_iter, inertia = 0, float("nan")
    while n_iter < max_iter:
        n_iter += 1
        stats = sum_over_blocks(x, _block_cluster_sums, centres)
        counts = stats[:, nf]
        inertia = float(stats[:, nf + 1].sum())
        new = np.where(counts[:, None] > 0, stats[:, :nf] / np.maximum(counts, 1)[:, None], centres)
        shift = float(np.sum((new - centres) ** 2))
        centres = new
        if shift <= tol_abs:
            break
    est.cluster_centers_ = centres.astype(est.cluster_centers_.dtype)
    est.inertia_, est.n_iter_ = inertia, n_iter
    return est


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
        :func:`sidkit.analytics.decompose`). k-means then starts from
        k-means++ on a random subset (at most ``max_samples`` rows and
        ``INIT_BYTES``) and runs Lloyd iterations over all the data, one
        pass each (at most ``max_iter``, 30 by default, until the centres
        move less than ``tol``), every block reduced to per-cluster sums
        where dask runs, on the workers of an active ``dask.distributed``
        client if there is one; ``"minibatch"`` streams the blocks through
        this process into mini-batch k-means (``n_epochs`` passes in batches
        of ``batch_size``, the next blocks read while one is fitted); a
        Gaussian mixture is fitted on a random subset of ``max_samples``
        rows. Labels are predicted block by block and stay lazy.
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
    elif method == "kmeans":
        est = _lloyd_out_of_core(x, k, random_state, max_samples, kwargs)
    elif method == "minibatch":
        kwargs.setdefault("n_init", 3)
        est = MiniBatchKMeans(n_clusters=k, random_state=random_state, batch_size=batch_size, **kwargs)
        for _ in range(int(n_epochs)):
            for _rows, b in iter_blocks(x):
                for start in range(0, b.shape[0], batch_size):
                    part = b[start:start + batch_size]
                    if part.shape[0] >= k or hasattr(est, "cluster_centers_"):
                        est.partial_fit(part)
    else:
        est = GaussianMixture(n_components=k, random_state=random_state, **kwargs)
        est.fit(random_rows(x, max_samples, random_state))
    if ooc:
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
