"""Tools along a spectral dim: background subtraction, normalisation,
smoothing and peak finding, vectorised over all spectra."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, DataType, Dimension, DimensionType

from ._samples import AnalysisError, derive

__all__ = ["subtract_background", "normalize", "smooth", "find_spectral_peaks"]


def _spectral_dim(ds: Dataset, dim: Any) -> Dimension:
    if dim is not None:
        return ds.dim(dim)
    found = ds.dims_of_type(DimensionType.SPECTRAL)
    if len(found) == 1:
        return found[0]
    return ds.dims[-1]


def _along(ds: Dataset, d: Dimension, func: Any, dtype: Any, process: str, params: dict[str, Any],
           **attrs: Any) -> Dataset:
    """Apply ``func(block, x)`` with ``d`` last and in one chunk; keep ``ds``'s axis order."""
    others = [n for n in ds.dim_names if n != d.name]
    t = ds.transpose(*others, d.name)
    arr = t.data.rechunk({t.ndim - 1: -1})
    x = np.asarray(d.values, dtype=float)
    out = arr.map_blocks(lambda b: func(b, x), dtype=dtype)
    inverse = [list(t.dim_names).index(n) for n in ds.dim_names]
    return derive(ds, out.transpose(inverse), ds.dims, process, params,
                  data_type=attrs.pop("data_type", ds.data_type), **attrs)


def subtract_background(
    ds: Dataset,
    window: tuple[float, float] | None = None,
    *,
    method: str = "power_law",
    order: int = 1,
    dim: Any = None,
    return_background: bool = False,
) -> Dataset | tuple[Dataset, Dataset]:
    """Fit a background in ``window`` of every spectrum and subtract it everywhere.

    Parameters
    ----------
    ds : Dataset
        Spectra, e.g. an EELS spectrum image.
    window : (float, float), optional
        Fit range in the spectral dim's units (e.g. eV before an edge);
        default the first 10 % of the axis (power law) or the whole axis
        (polynomial).
    method : {"power_law", "polynomial"}
        ``A * E**-r`` (fitted in log-log space) or a polynomial of ``order``.
    order : int, default 1
    dim : dim name, optional
        The spectral dim (default: the only spectral dim, else the last).
    return_background : bool, default False

    Returns
    -------
    Dataset or (Dataset, Dataset)
    """
    d = _spectral_dim(ds, dim)
    x = np.asarray(d.values, dtype=float)
    method = str(method).lower()
    if method not in ("power_law", "polynomial"):
        raise AnalysisError(f"method must be 'power_law' or 'polynomial', got {method!r}")
    if window is None:
        sel = np.zeros(x.size, bool)
        sel[: max(3, x.size // 10)] = True
        if method == "polynomial":
            sel[:] = True
    else:
        lo, hi = sorted(float(w) for w in window)
        sel = (x >= lo) & (x <= hi)
    if sel.sum() < max(3, order + 2):
        raise AnalysisError(f"the background window {window} holds {int(sel.sum())} points of '{d.name}'; widen it")
    if method == "power_law" and np.any(x[sel] <= 0):
        raise AnalysisError(f"a power law needs positive '{d.name}' values in the window")

    def bg(block: np.ndarray, xx: np.ndarray) -> np.ndarray:
        y = block.reshape(-1, block.shape[-1]).astype(np.float64)
        if method == "power_law":
            a = np.stack([np.ones(sel.sum()), np.log(xx[sel])], axis=1)
            coef, *_ = np.linalg.lstsq(a, np.log(np.clip(y[:, sel], 1e-30, None)).T, rcond=None)
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                out = np.exp(coef[0][:, None] + coef[1][:, None] * np.log(np.abs(xx) + 1e-300)[None])
        else:
            xs = (xx - xx[sel].mean()) / (np.ptp(xx[sel]) or 1.0)
            v = np.vander(xs, order + 1)
            coef, *_ = np.linalg.lstsq(v[sel], y[:, sel].T, rcond=None)
            out = (v @ coef).T
        return out.reshape(block.shape)

    params = {"window": window, "method": method, "order": order, "dim": d.name}
    dtype = ds.dtype if np.issubdtype(ds.dtype, np.floating) else np.dtype(np.float64)
    bg_ds = _along(ds, d, bg, dtype, "subtract_background", params, title=f"{ds.title} background".strip())
    out = derive(ds, ds.data.astype(dtype) - bg_ds.data, ds.dims, "subtract_background", params,
                 data_type=ds.data_type)
    return (out, bg_ds) if return_background else out


def normalize(ds: Dataset, method: str = "max", *, dim: Any = None) -> Dataset:
    """Normalise every spectrum along ``dim``.

    ``method``: ``"max"`` (peak = 1), ``"area"`` (integral over the dim's
    values = 1), ``"sum"``, ``"l2"`` (unit norm) or ``"minmax"`` (0..1).
    The result is unitless.
    """
    d = _spectral_dim(ds, dim)
    ax = ds.axis(d.name)
    data = ds.data.astype(np.float64) if not np.issubdtype(ds.dtype, np.inexact) else ds.data
    method = str(method).lower()
    if method == "max":
        den = da.max(data, axis=ax, keepdims=True)
        out = data / den
    elif method == "sum":
        out = data / da.sum(data, axis=ax, keepdims=True)
    elif method == "area":
        w = np.gradient(np.asarray(d.values, dtype=float)) if len(d) > 1 else np.ones(1)
        shape = [1] * ds.ndim
        shape[ax] = len(d)
        out = data / da.sum(data * w.reshape(shape), axis=ax, keepdims=True)
    elif method == "l2":
        out = data / da.sqrt(da.sum(abs(data) ** 2, axis=ax, keepdims=True))
    elif method == "minmax":
        lo = da.min(data, axis=ax, keepdims=True)
        out = (data - lo) / (da.max(data, axis=ax, keepdims=True) - lo)
    else:
        raise AnalysisError(f"method must be max, sum, area, l2 or minmax, got {method!r}")
    return derive(ds, out, ds.dims, "normalize", {"method": method, "dim": d.name},
                  units="", quantity=f"normalised {ds.quantity}", data_type=ds.data_type)


def smooth(
    ds: Dataset,
    method: str = "savgol",
    *,
    window: int = 11,
    order: int = 2,
    sigma: float | None = None,
    dim: Any = None,
) -> Dataset:
    """Smooth every spectrum along ``dim``.

    ``"savgol"``: Savitzky-Golay of ``window`` points and polynomial
    ``order``; ``"gaussian"``: Gaussian of ``sigma`` in the dim's units.
    """
    from scipy import ndimage, signal

    d = _spectral_dim(ds, dim)
    method = str(method).lower()
    if method == "savgol":
        w = int(window) | 1
        if not order < w <= len(d):
            raise AnalysisError(f"savgol window must be odd, > order and <= {len(d)}, got {window}")

        def func(b: np.ndarray, x: np.ndarray) -> np.ndarray:
            return signal.savgol_filter(b, w, int(order), axis=-1)
    elif method == "gaussian":
        if sigma is None or sigma <= 0:
            raise AnalysisError("gaussian smoothing needs sigma > 0 (in the dim's units)")
        s = float(sigma) / (abs(d.scale) or 1.0)

        def func(b: np.ndarray, x: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter1d(b, s, axis=-1)
    else:
        raise AnalysisError(f"method must be 'savgol' or 'gaussian', got {method!r}")
    dtype = ds.dtype if np.issubdtype(ds.dtype, np.inexact) else np.dtype(np.float64)
    return _along(ds, d, func, dtype, "smooth",
                  {"method": method, "window": window, "order": order, "sigma": sigma, "dim": d.name})


def find_spectral_peaks(
    ds: Dataset,
    *,
    dim: Any = None,
    prominence: float | None = None,
    height: float | None = None,
    distance: int | None = None,
    max_spectra: int = 100_000,
) -> Dataset:
    """Peaks along ``dim`` of every spectrum (scipy.signal.find_peaks).

    Returns
    -------
    Dataset
        Point cloud ``peak`` x ``column``; columns are the coordinates of
        the other dims, the peak position along ``dim`` (its units) and the
        peak height (data units); ``metadata["column_units"]`` lists units.
    """
    from scipy import signal

    d = _spectral_dim(ds, dim)
    others = [n for n in ds.dim_names if n != d.name]
    n_spectra = int(np.prod([len(ds.dim(n)) for n in others], dtype=np.int64)) if others else 1
    if n_spectra > max_spectra:
        raise AnalysisError(f"{n_spectra} spectra exceed max_spectra={max_spectra}; select a region first")
    y = np.asarray(ds.transpose(*others, d.name).data.compute()).reshape(n_spectra, len(d))
    x = np.asarray(d.values, dtype=float)
    grids = np.meshgrid(*[ds.dim(n).values for n in others], indexing="ij") if others else []
    rows: list[list[float]] = []
    for i, spec in enumerate(y):
        idx, _ = signal.find_peaks(spec, prominence=prominence, height=height, distance=distance)
        for j in idx:
            rows.append([float(g.reshape(-1)[i]) for g in grids] + [x[j], float(spec[j])])
    cols = others + [d.name, "height"]
    arr = np.asarray(rows, dtype=float).reshape(-1, len(cols))
    peak = Dimension("peak", arr.shape[0], quantity="index", units="")
    col = Dimension("column", np.array(cols), quantity="column", units="", dimension_type=DimensionType.CHANNEL)
    out = derive(ds, arr, (peak, col), "find_spectral_peaks",
                 {"dim": d.name, "prominence": prominence, "height": height, "distance": distance},
                 title=f"{ds.title} peaks".strip(), quantity="peak", units="", data_type=DataType.POINT_CLOUD)
    out.metadata = {**out.metadata, "column_units": {**{n: ds.dim(n).units for n in others},
                                                     d.name: d.units, "height": ds.units}}
    return out
