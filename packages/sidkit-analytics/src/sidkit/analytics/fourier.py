"""Fourier filtering of images: low-, high-, band-pass and Bragg-spot masks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sidkit.core import Dataset

from ._images import image_dims as _image_dims
from ._images import map_frames
from ._samples import AnalysisError, derive

__all__ = ["fft_filter", "bragg_spots"]

KINDS = ("lowpass", "highpass", "bandpass", "bragg")


def _freqs(n: int, scale: float) -> np.ndarray:
    return np.fft.fftfreq(n, d=scale if scale else 1.0)


def bragg_spots(image: np.ndarray, n_spots: int = 6, exclude: float = 2.0) -> np.ndarray:
    """The ``n_spots`` strongest local maxima of the power spectrum, as
    (row, col) frequency-pixel offsets from the centre (DC excluded within
    ``exclude`` frequency pixels)."""
    from scipy import ndimage

    p = np.fft.fftshift(np.abs(np.fft.fft2(image - image.mean())))
    c = np.array(p.shape) // 2
    yy, xx = np.indices(p.shape)
    p[(yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= exclude**2] = 0
    peaks = (p == ndimage.maximum_filter(p, size=5)) & (p > 0)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(p[ys, xs])[::-1][: int(n_spots)]
    return np.stack([ys[order] - c[0], xs[order] - c[1]], axis=1).astype(float)


def fft_filter(
    ds: Dataset,
    kind: str = "lowpass",
    *,
    cutoff: float | Sequence[float] | None = None,
    spots: Any = None,
    n_spots: int = 6,
    spot_radius: float | None = None,
    pixels: bool = False,
    image_dims: Any = None,
) -> Dataset:
    """Filter every image of a dataset in Fourier space.

    Parameters
    ----------
    ds : Dataset
        An image or a stack of images.
    kind : {"lowpass", "highpass", "bandpass", "bragg"}
        Keep spatial frequencies below ``cutoff``, above it, between
        ``cutoff=(low, high)``, or only in disks around Bragg spots (and DC).
    cutoff : float or (float, float)
        Spatial frequency in reciprocal calibrated units (``1/nm`` for an
        image in nm); frequency pixels with ``pixels=True``.
    spots : array of (ky, kx), optional
        Bragg spot positions (same units as ``cutoff``); found automatically
        (the ``n_spots`` strongest, with their Friedel mates) when omitted.
    spot_radius : float, optional
        Radius of every spot mask (default 3 frequency pixels).
    pixels : bool, default False
        Give ``cutoff``, ``spots`` and ``spot_radius`` in frequency pixels.
    image_dims : pair of dim names, optional

    Returns
    -------
    Dataset
        Same dims as ``ds``, real, lazy.
    """
    kind = str(kind).lower()
    if kind not in KINDS:
        raise AnalysisError(f"kind must be one of {KINDS}, got {kind!r}")
    dims = _image_dims(ds, image_dims)
    dy, dx = ds.dim(dims[0]), ds.dim(dims[1])
    ny, nx = len(dy), len(dx)
    fy, fx = _freqs(ny, dy.scale), _freqs(nx, dx.scale)
    # frequency-pixel sizes
    sy, sx = (abs(fy[1]) if ny > 1 else 1.0), (abs(fx[1]) if nx > 1 else 1.0)
    ky, kx = np.meshgrid(fy, fx, indexing="ij")
    if pixels:
        ky, kx = ky / sy, kx / sx
    k = np.hypot(ky, kx)
    if kind in ("lowpass", "highpass"):
        if cutoff is None or np.ndim(cutoff) != 0:
            raise AnalysisError(f"{kind} needs one cutoff frequency")
        mask = k <= float(cutoff) if kind == "lowpass" else k >= float(cutoff)
        if kind == "highpass":
            mask[0, 0] = False
    elif kind == "bandpass":
        if cutoff is None or np.ndim(cutoff) != 1 or len(cutoff) != 2:
            raise AnalysisError("bandpass needs cutoff=(low, high)")
        lo, hi = sorted(float(c) for c in cutoff)  # type: ignore[union-attr]
        mask = (k >= lo) & (k <= hi)
    else:
        if spots is None:
            first = ds.transpose(*[n for n in ds.dim_names if n not in dims], *dims)
            frame = np.asarray(first.data[(0,) * (ds.ndim - 2)].compute(), dtype=float)
            px = bragg_spots(frame, n_spots)
            px = np.concatenate([px, -px])
            spot_k = px if pixels else px * np.array([sy, sx])
        else:
            spot_k = np.atleast_2d(np.asarray(spots, dtype=float))
        r = spot_radius if spot_radius is not None else (3.0 if pixels else 3.0 * max(sy, sx))
        mask = np.zeros(k.shape, dtype=bool)
        mask[0, 0] = True
        for sk in spot_k:
            mask |= np.hypot(ky - sk[0], kx - sk[1]) <= r
    m = mask.astype(float)

    def func(f: np.ndarray) -> np.ndarray:
        return np.fft.ifft2(np.fft.fft2(f) * m).real

    dtype = ds.dtype if np.issubdtype(ds.dtype, np.floating) else np.dtype(np.float64)
    data = map_frames(ds, func, dims, dtype)
    params = {"kind": kind, "cutoff": cutoff, "spots": spots, "n_spots": n_spots,
              "spot_radius": spot_radius, "pixels": pixels, "image_dims": list(dims)}
    return derive(ds, data, ds.dims, "fft_filter", params, data_type=ds.data_type)
