"""Image denoising: Gaussian, median, non-local means and PCA of image windows."""

from __future__ import annotations

from typing import Any

import numpy as np

from sidkit.core import Dataset, require

from ._images import image_dims as _image_dims
from ._images import map_frames, to_pixels
from ._samples import AnalysisError, derive

__all__ = ["denoise"]

METHODS = ("gaussian", "median", "nl_means", "pca")


def _pca_windows(frame: np.ndarray, window: int, n_components: int, step: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    w = int(window)
    h, v = frame.shape
    if w > min(h, v):
        raise AnalysisError(f"window {w} is larger than the image {frame.shape}")
    view = np.lib.stride_tricks.sliding_window_view(frame, (w, w))[::step, ::step]
    rows, cols = view.shape[:2]
    patches = view.reshape(rows * cols, w * w).astype(np.float64)
    k = min(int(n_components), patches.shape[0], w * w)
    pca = PCA(n_components=k, svd_solver="randomized" if patches.shape[0] > 5000 else "full", random_state=0)
    clean = pca.inverse_transform(pca.fit_transform(patches)).reshape(rows, cols, w, w)
    out = np.zeros(frame.shape, dtype=np.float64)
    weight = np.zeros(frame.shape, dtype=np.float64)
    for i in range(w):
        for j in range(w):
            out[i : i + rows * step : step, j : j + cols * step : step] += clean[:, :, i, j]
            weight[i : i + rows * step : step, j : j + cols * step : step] += 1
    missing = weight == 0
    out[missing] = frame[missing]
    weight[missing] = 1
    return out / weight


def _noise_sigma(frame: np.ndarray) -> float:
    """Robust noise estimate from neighbour differences (MAD), for smooth images."""
    d = np.diff(frame, axis=1).ravel()
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def denoise(
    ds: Dataset,
    method: str = "gaussian",
    *,
    sigma: float | None = None,
    size: float | None = None,
    h: float | None = None,
    window: int = 8,
    n_components: int = 8,
    step: int = 1,
    pixels: bool = False,
    image_dims: Any = None,
) -> Dataset:
    """Denoise every image (frame) of a dataset.

    Parameters
    ----------
    ds : Dataset
        An image, or a stack of images (the other dims are looped over).
    method : {"gaussian", "median", "nl_means", "pca"}
        Gaussian blur (``sigma``), median filter (``size``), non-local means
        (``h``, needs the ``image`` extra: scikit-image) or PCA of
        ``window`` x ``window`` pixel windows keeping ``n_components``
        (windows every ``step`` pixels, overlaps averaged). For spectral
        images, PCA denoising along the spectra is
        ``decompose(ds, n).reconstruct()``.
    sigma, size : float, optional
        Gaussian width / median window, in the image dims' calibrated units
        (pixels with ``pixels=True``); default 1 pixel / 3 pixels.
    h : float, optional
        Non-local-means cut-off; default 0.8 times the estimated noise sigma.
    window, n_components, step : int
        PCA window size (pixels), components kept, window step.
    pixels : bool, default False
        Read ``sigma`` / ``size`` in pixels.
    image_dims : pair of dim names, optional
        The image dims; by default the two spatial dims.

    Returns
    -------
    Dataset
        Same dims as ``ds`` (floating point), lazy.
    """
    from scipy import ndimage

    method = str(method).lower()
    if method not in METHODS:
        raise AnalysisError(f"method must be one of {METHODS}, got {method!r}")
    dims = _image_dims(ds, image_dims)
    dy, dx = ds.dim(dims[0]), ds.dim(dims[1])
    dtype = ds.dtype if np.issubdtype(ds.dtype, np.floating) else np.dtype(np.float64)
    if method == "gaussian":
        s = (to_pixels(sigma, dy, pixels) or 1.0, to_pixels(sigma, dx, pixels) or 1.0) if sigma else (1.0, 1.0)

        def func(f: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(f.astype(np.float64), s)
    elif method == "median":
        sz = (max(1, round(to_pixels(size, dy, pixels))), max(1, round(to_pixels(size, dx, pixels)))) \
            if size else (3, 3)

        def func(f: np.ndarray) -> np.ndarray:
            return ndimage.median_filter(f, size=sz)
    elif method == "nl_means":
        restoration = require("skimage.restoration", extra="image", package="sidkit-analytics",
                              reader="denoise")

        def func(f: np.ndarray) -> np.ndarray:
            f = f.astype(np.float64)
            noise = _noise_sigma(f)
            cut = h if h is not None else 0.8 * noise
            return restoration.denoise_nl_means(f, h=cut, sigma=noise, patch_size=5, patch_distance=6,
                                                fast_mode=True)
    else:
        def func(f: np.ndarray) -> np.ndarray:
            return _pca_windows(f, window, n_components, max(1, int(step)))
    data = map_frames(ds, func, dims, dtype)
    params = {"method": method, "sigma": sigma, "size": size, "h": h, "window": window,
              "n_components": n_components, "step": step, "pixels": pixels, "image_dims": list(dims)}
    return derive(ds, data, ds.dims, "denoise", params, data_type=ds.data_type)
