"""Matrix decomposition of a Dataset: PCA, SVD, NMF and ICA.

The dataset is viewed as a samples x features matrix (spatial / temporal dims
are samples, spectral / reciprocal dims features, unless told otherwise);
components come back with the feature dims and maps with the sample dims.
PCA and SVD run out of core (one pass for the Gram matrix, or dask's
compressed randomized SVD for very wide data) when the data are larger than
:data:`~sidkit.analytics._samples.IN_MEMORY_BYTES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, DataType
from sidkit.core.streaming import iter_blocks

from ._samples import (
    AnalysisError,
    Layout,
    derive,
    index_dim,
    layout,
    matrix,
    matrix_in_memory,
    random_rows,
    sum_over_blocks,
    use_out_of_core,
)

__all__ = ["DecompositionResult", "decompose"]

METHODS = ("pca", "svd", "nmf", "ica")


@dataclass
class DecompositionResult:
    """What :func:`decompose` found.

    Attributes
    ----------
    components : Dataset
        ``component`` x feature dims: the end-member spectra / eigenvectors.
    maps : Dataset
        Sample dims x ``component``: how much of each component every sample holds.
    explained_variance_ratio : Dataset or None
        Share of the variance (PCA) or of the sum of squares (SVD) each
        component explains; None for NMF and ICA.
    method : str
        ``"pca"``, ``"svd"``, ``"nmf"`` or ``"ica"``.
    mean : numpy.ndarray
        Feature mean removed before the decomposition (zeros for SVD and NMF).
    estimator : object or None
        The fitted scikit-learn estimator (None on the out-of-core SVD path).
    """

    components: Dataset
    maps: Dataset
    explained_variance_ratio: Dataset | None
    method: str
    mean: np.ndarray
    estimator: Any = None
    source: Dataset | None = field(default=None, repr=False)
    layout: Layout | None = field(default=None, repr=False)

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def reconstruct(self, n: int | None = None) -> Dataset:
        """The data rebuilt from the first ``n`` components (all when None).

        Returns a lazy Dataset with the input's shape, dims and attributes
        (e.g. a PCA-denoised spectral image).
        """
        if self.source is None or self.layout is None:
            raise AnalysisError("this result does not remember its input; cannot reconstruct")
        k = self.n_components if n is None else int(n)
        if not 1 <= k <= self.n_components:
            raise AnalysisError(f"n must be between 1 and {self.n_components}, got {n}")
        lay = self.layout
        comps = np.asarray(self.components.data.compute()).reshape(self.n_components, -1)[:k]
        maps = self.maps.data.reshape(lay.n_samples, self.n_components)[:, :k]
        flat = da.dot(maps, comps.astype(maps.dtype)) + self.mean.astype(maps.dtype)
        data = flat.reshape(lay.sample_shape + lay.feature_shape)
        out = derive(self.source, data, lay.sample_dims + lay.feature_dims, "DecompositionResult.reconstruct",
                     {"method": self.method, "n": k}, title=f"{self.source.title} ({self.method} {k})".strip(),
                     data_type=self.source.data_type)
        return out.transpose(*self.source.dim_names)

    def plot(self, n: int | None = None, *, ncols: int | None = None, cmap: str = "viridis",
             **kwargs: Any) -> Any:
        """Components (top row) above their maps (bottom row) in one grid.

        Every component is drawn as a line (one feature dim, e.g. a spectrum)
        or an image (two feature dims, e.g. a diffraction pattern); every map
        as an image over two sample dims or a line over one, each with a colour
        bar (and scale bar) in the data's units.

        Parameters
        ----------
        n : int, optional
            Show the first ``n`` components (all by default, at most 12).
        ncols : int, optional
            Columns of the grid; ``n`` by default (component ``k`` above its map).
        cmap : str, default "viridis"
        **kwargs
            Passed to :func:`sidkit.core.plotting.plot_grid` (``robust``,
            ``figsize``, ``suptitle``, ``colorbar``).

        Returns
        -------
        matplotlib.figure.Figure
            ``2 n`` panel axes (plus a colour bar per image panel).

        Raises
        ------
        MissingDependencyError
            matplotlib is not installed (``pip install "sidkit-core[plot]"``).
        """
        from sidkit.core import require

        require("matplotlib", extra="plot", package="sidkit-core", reader="DecompositionResult.plot")
        from sidkit.core.plotting import plot_grid

        k = min(self.n_components, 12) if n is None else int(n)
        if not 1 <= k <= self.n_components:
            raise AnalysisError(f"n must be between 1 and {self.n_components}, got {n}")
        ratio = None
        if self.explained_variance_ratio is not None:
            ratio = np.asarray(self.explained_variance_ratio.data.compute(), dtype=float)
        panels: dict[str, Dataset] = {}
        for i in range(k):
            share = f" ({100 * ratio[i]:.1f} %)" if ratio is not None else ""
            panels[f"component {i}{share}"] = self.components.isel(component=i)
        for i in range(k):
            panels[f"map {i}"] = self.maps.isel(component=i)
        kwargs.setdefault("suptitle", f"{self.method.upper()}: {k} of {self.n_components} components")
        return plot_grid(panels, ncols=ncols or k, cmap=cmap, max_panels=2 * k, **kwargs)


def _flip_signs(comps: np.ndarray, maps: Any) -> tuple[np.ndarray, Any]:
    """Make the largest-magnitude entry of every component positive (deterministic signs)."""
    idx = np.argmax(np.abs(comps), axis=1)
    signs = np.sign(comps[np.arange(comps.shape[0]), idx])
    signs[signs == 0] = 1
    return comps * signs[:, None], maps * signs.astype(comps.dtype)


def decompose(
    ds: Dataset,
    n_components: int,
    method: str = "pca",
    *,
    sample_dims: Any = None,
    feature_dims: Any = None,
    out_of_core: bool | None = None,
    random_state: int | None = 0,
    max_samples: int = 200_000,
    **kwargs: Any,
) -> DecompositionResult:
    """Decompose a dataset into components and maps.

    Parameters
    ----------
    ds : Dataset
        E.g. a spectral image (x, y, energy).
    n_components : int
        Number of components to keep.
    method : {"pca", "svd", "nmf", "ica"}
        Principal components (centred), truncated SVD (not centred),
        non-negative matrix factorisation, independent components.
    sample_dims, feature_dims : dim names, optional
        Override the choice by dimension type (spatial / temporal = samples,
        spectral / reciprocal = features).
    out_of_core : bool, optional
        Force (True) or forbid (False) the out-of-core path; by default it is
        used when the matrix is larger than ``IN_MEMORY_BYTES`` (1 GiB). PCA
        and SVD are then exact, from the features x features Gram matrix
        summed over row blocks in one pass (up to ``GRAM_MAX_FEATURES``
        features), or for wider data from
        :func:`dask.array.linalg.svd_compressed` (randomized, ``n_power_iter``
        power iterations, 4 by default); NMF uses scikit-learn's
        ``MiniBatchNMF.partial_fit`` over row blocks; ICA is fitted on a
        random subset of ``max_samples`` rows. Maps are computed block by
        block and stay lazy. Row blocks are computed where dask runs (on the
        workers of an active ``dask.distributed`` client).
    random_state : int, optional
        Seed, for reproducible results.
    max_samples : int, default 200000
        Rows used to fit ICA out of core.
    **kwargs
        Passed to the scikit-learn estimator (in-memory path, and NMF / ICA).

    Returns
    -------
    DecompositionResult
        ``.components`` (component x features), ``.maps`` (samples x
        component), ``.explained_variance_ratio`` and ``.reconstruct(n)``.

    Raises
    ------
    AnalysisError
        Unknown method, bad ``n_components``, negative data for NMF, or dims
        that do not split into samples and features.
    """
    method = str(method).lower()
    if method not in METHODS:
        raise AnalysisError(f"method must be one of {METHODS}, got {method!r}")
    lay = layout(ds, sample_dims, feature_dims)
    n = int(n_components)
    if not 1 <= n <= min(lay.n_samples, lay.n_features):
        raise AnalysisError(
            f"n_components must be between 1 and {min(lay.n_samples, lay.n_features)} "
            f"(samples {lay.n_samples}, features {lay.n_features}), got {n_components}"
        )
    x = matrix(ds, lay)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64 if x.dtype.itemsize > 4 else np.float32)
    ooc = use_out_of_core(x, out_of_core)
    if ooc:
        comps, maps, evr, mean, est = _fit_out_of_core(x, n, method, random_state, max_samples, kwargs)
    else:
        arr = matrix_in_memory(ds, lay)
        if not np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(x.dtype)
        comps, maps, evr, mean, est = _fit_in_memory(arr, n, method, random_state, kwargs)
    comps, maps = _flip_signs(np.asarray(comps, dtype=float), maps)
    params = {"n_components": n, "method": method, "sample_dims": list(lay.sample_names),
              "feature_dims": list(lay.feature_names), "out_of_core": ooc,
              "random_state": random_state, **kwargs}
    comp_dim = index_dim("component", n)
    maps_dask = maps if isinstance(maps, da.Array) else da.from_array(np.asarray(maps))
    if not isinstance(maps, da.Array):
        maps_dask = maps_dask.rechunk({0: "auto", 1: -1})
    maps_ds = derive(
        ds, maps_dask.reshape(lay.sample_shape + (n,)), lay.sample_dims + (comp_dim,), "decompose", params,
        title=f"{method.upper()} maps", quantity="score" if method in ("pca", "svd") else "abundance",
        units=ds.units if method in ("pca", "svd") else "a.u.", data_type=DataType.IMAGE_STACK
        if len(lay.sample_dims) == 2 else None,
    )
    comps_ds = derive(
        ds, comps.reshape((n,) + lay.feature_shape).astype(x.dtype), (comp_dim,) + lay.feature_dims,
        "decompose", params, title=f"{method.upper()} components",
        quantity=ds.quantity if method in ("nmf", "ica") else "weight",
        units=ds.units if method in ("nmf", "ica") else "", data_type=DataType.LINE_PLOT_FAMILY
        if len(lay.feature_dims) == 1 else None,
    )
    evr_ds = None
    if evr is not None:
        evr_ds = derive(ds, np.asarray(evr, dtype=float), (comp_dim,), "decompose", params,
                        title="explained variance ratio", quantity="ratio", units="",
                        data_type=DataType.LINE_PLOT)
    return DecompositionResult(comps_ds, maps_ds, evr_ds, method, np.asarray(mean, dtype=float), est,
                               source=ds, layout=lay)


def _fit_in_memory(x: np.ndarray, n: int, method: str, seed: int | None,
                   kwargs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray, Any]:
    from sklearn.decomposition import NMF, PCA, FastICA, TruncatedSVD

    zeros = np.zeros(x.shape[1])
    if method == "pca":
        est = PCA(n_components=n, random_state=seed, **kwargs)
        maps = est.fit_transform(x)
        return est.components_, maps, est.explained_variance_ratio_, est.mean_, est
    if method == "svd":
        est = TruncatedSVD(n_components=n, random_state=seed, **kwargs)
        maps = est.fit_transform(x)
        total = float(np.sum(np.square(x, dtype=np.float64)))
        evr = est.singular_values_**2 / total if total > 0 else np.zeros(n)
        return est.components_, maps, evr, zeros, est
    if method == "nmf":
        if float(x.min()) < 0:
            raise AnalysisError("NMF needs non-negative data; subtract a background or use pca/ica")
        kwargs.setdefault("init", "nndsvda")
        kwargs.setdefault("max_iter", 1000)
        est = NMF(n_components=n, random_state=seed, **kwargs)
        maps = est.fit_transform(x)
        return est.components_, maps, None, zeros, est
    kwargs.setdefault("whiten", "unit-variance")
    est = FastICA(n_components=n, random_state=seed, **kwargs)
    maps = est.fit_transform(x)
    return est.mixing_.T, maps, None, est.mean_, est


def _transform_blocks(est: Any, x: da.Array, n: int) -> da.Array:
    def apply(block: np.ndarray, est: Any = est) -> np.ndarray:
        return est.transform(block).astype(block.dtype, copy=False)

    return x.map_blocks(apply, chunks=(x.chunks[0], (n,)), dtype=x.dtype)


#: Out-of-core PCA / SVD are exact, from the features x features Gram matrix
#: summed over row blocks in one pass, when there are at most this many
#: features (a 2048 x 2048 float64 partial sum is 32 MiB); wider data use
#: dask's randomized compressed SVD (several passes).
GRAM_MAX_FEATURES = 2048


def _block_gram(block: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``[c.T @ c; c.sum(0)]`` of ``c = block - shift``, as float64 (nf + 1, nf)."""
    c = block - shift.astype(block.dtype)
    out = np.empty((c.shape[1] + 1, c.shape[1]))
    out[:-1] = c.T @ c  # BLAS syrk in the data's precision; the shift keeps it well conditioned
    out[-1] = c.sum(axis=0, dtype=np.float64)
    return out


def _gram_pca(x: da.Array, n: int, centre: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Components, explained variance ratio and mean from the Gram matrix.

    PCA: the top eigenvectors of the covariance ``(G - m m^T / N) / (N - 1)``
    (the same components and variance ratios as scikit-learn's exact PCA);
    SVD: of ``G`` itself (right singular vectors, ``s**2`` over the total sum
    of squares). The first row block's mean is removed before the products
    so that float32 data keep their precision.
    """
    nf, n_rows = x.shape[1], x.shape[0]
    first = np.asarray(x[: x.chunks[0][0]].compute())
    shift = first.mean(axis=0, dtype=np.float64) if centre else np.zeros(nf)
    total = sum_over_blocks(x, _block_gram, shift)
    g, sums = total[:-1], total[-1]
    if centre:
        mean_shifted = sums / n_rows
        cov = (g - n_rows * np.outer(mean_shifted, mean_shifted)) / max(1, n_rows - 1)
        mean = shift + mean_shifted
    else:
        cov, mean = g, np.zeros(nf)
    cov = (cov + cov.T) / 2
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:n]
    vals = np.clip(vals[order], 0, None)
    trace = float(np.trace(cov))
    evr = vals / trace if trace > 0 else np.zeros(n)
    return vecs[:, order].T, evr, mean


def _fit_out_of_core(x: da.Array, n: int, method: str, seed: int | None, max_samples: int,
                     kwargs: dict[str, Any]) -> tuple[np.ndarray, da.Array, Any, np.ndarray, Any]:
    nf = x.shape[1]
    if method in ("pca", "svd") and nf <= GRAM_MAX_FEATURES:
        comps, evr, mean = _gram_pca(x, n, centre=method == "pca")
        xc = x - mean.astype(x.dtype) if method == "pca" else x
        return comps, da.dot(xc, comps.T.astype(x.dtype)), evr, mean, None
    if method in ("pca", "svd"):
        if method == "pca":
            mean = np.asarray(x.mean(axis=0, dtype=np.float64).compute())
            xc = x - mean.astype(x.dtype)
        else:
            mean = np.zeros(nf)
            xc = x
        _, s, v = da.linalg.svd_compressed(xc, k=n, n_power_iter=int(kwargs.get("n_power_iter", 4)),
                                           seed=0 if seed is None else seed)
        total = da.sum(da.square(xc.astype(np.float64)))
        s, v, total = da.compute(s, v, total)
        comps = np.asarray(v)
        maps = da.dot(xc, comps.T.astype(x.dtype))
        evr = np.asarray(s, dtype=float) ** 2 / float(total) if float(total) > 0 else np.zeros(n)
        return comps, maps, evr, mean, None
    if method == "nmf":
        from sklearn.decomposition import MiniBatchNMF

        n_epochs = int(kwargs.pop("n_epochs", 3))
        est = MiniBatchNMF(n_components=n, random_state=seed, **kwargs)
        for _ in range(n_epochs):
            for _rows, b in iter_blocks(x):
                if float(b.min()) < 0:
                    raise AnalysisError("NMF needs non-negative data; subtract a background or use pca/ica")
                est.partial_fit(b)
        return est.components_, _transform_blocks(est, x, n), None, np.zeros(nf), est
    from sklearn.decomposition import FastICA

    sub = random_rows(x, max_samples, seed)
    kwargs.setdefault("whiten", "unit-variance")
    est = FastICA(n_components=n, random_state=seed, **kwargs).fit(sub)
    return est.mixing_.T, _transform_blocks(est, x, n), None, est.mean_, est
