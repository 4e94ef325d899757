"""Atomic-resolution STEM: atom-column positions refined by 2-D Gaussian
fits (in parallel), and column-intensity / nearest-neighbour maps."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
from scipy import optimize, spatial

from sidkit.core import Dataset, DataType, Dimension, DimensionMismatchError, DimensionType

from ._axes import PACKAGE, length_to_pixels, pixel_to_value, value_to_pixel

__all__ = ["refine_atom_positions", "column_intensity_map", "nearest_neighbour_map", "ATOM_FIELDS"]

#: fields of the last axis of :func:`refine_atom_positions` results
ATOM_FIELDS = ("pos0", "pos1", "amplitude", "sigma0", "sigma1", "background", "intensity", "success")


def _gauss(p: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    a, y0, x0, s0, s1, bg = p
    return bg + a * np.exp(-0.5 * (((y - y0) / s0) ** 2 + ((x - x0) / s1) ** 2))


def _residual(p: np.ndarray, y: np.ndarray, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _gauss(p, y, x) - v


def _fit_block(pos: np.ndarray, image: np.ndarray, half: float) -> np.ndarray:
    """Fit a Gaussian around each (row, col) pixel position of ``pos`` (n, 2)."""
    n0, n1 = image.shape
    out = np.full((len(pos), 8), np.nan)
    r = int(np.ceil(half))
    for k, (py, px) in enumerate(pos):
        out[k, :2] = (py, px)
        out[k, 7] = 0.0
        if not (np.isfinite(py) and np.isfinite(px)):
            continue
        iy, ix = int(round(py)), int(round(px))
        y0, y1 = max(iy - r, 0), min(iy + r + 1, n0)
        x0, x1 = max(ix - r, 0), min(ix + r + 1, n1)
        if y1 - y0 < 3 or x1 - x0 < 3:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(float)
        inside = (yy - py) ** 2 + (xx - px) ** 2 <= half ** 2
        y, x, v = yy[inside], xx[inside], image[y0:y1, x0:x1][inside].astype(float)
        if v.size < 7:
            continue
        bg = float(v.min())
        amp = float(v.max() - bg)
        s = max(half / 3.0, 0.5)
        p0 = [amp if amp > 0 else 1.0, py, px, s, s, bg]
        lo = [0.0, py - half, px - half, 0.2, 0.2, -np.inf]
        hi = [np.inf, py + half, px + half, 2 * half, 2 * half, np.inf]
        try:
            fit = optimize.least_squares(_residual, p0, bounds=(lo, hi), args=(y, x, v),
                                         x_scale="jac", max_nfev=200)
        except (ValueError, np.linalg.LinAlgError):
            continue
        a, fy, fx, s0, s1, b = fit.x
        out[k] = (fy, fx, a, s0, s1, b, 2 * np.pi * a * s0 * s1, float(fit.success))
    return out


def refine_atom_positions(image: Dataset, positions: Any, *, window: float | None = None,
                          pixels: bool = False, chunk: int = 256) -> Dataset:
    """Refine atom-column positions by fitting a 2-D Gaussian to each.

    Each column is fitted, within a disk of radius ``window`` around its
    starting position, by ``bg + A exp(-((y-y0)^2/2s0^2 + (x-x0)^2/2s1^2))``;
    fits run in parallel over chunks of ``chunk`` columns with dask.

    Parameters
    ----------
    image : Dataset
        A 2-D image (e.g. HAADF); it is loaded (one image) for fitting.
    positions : array_like (n, 2)
        Starting positions along the image's (dim0, dim1), in the dims'
        calibrated units (e.g. nm), or pixels with ``pixels=True``.
    window : float, optional
        Fit radius in calibrated units (px with ``pixels=True``); default
        0.4 times the median nearest-neighbour distance.
    pixels : bool, default False
        Positions, window and results in pixels.
    chunk : int, default 256
        Columns per parallel task.

    Returns
    -------
    Dataset
        POINT_CLOUD (atom, field) with fields ``ATOM_FIELDS``: refined
        position (calibrated units, or px), amplitude, widths (px), background,
        integrated intensity (2 pi A s0 s1, in image units x px^2) and a
        success flag (1/0). Lazy.
    """
    if image.ndim != 2:
        raise DimensionMismatchError(f"refine_atom_positions needs a 2-D image, got dims {list(image.dim_names)}")
    d0, d1 = image.dims
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ValueError(f"positions must have shape (n, 2), got {pos.shape}")
    px = pos if pixels else np.column_stack([value_to_pixel(d0, pos[:, 0]), value_to_pixel(d1, pos[:, 1])])
    if window is None:
        if len(px) < 2:
            raise ValueError("give window= when refining a single position")
        dist, _ = spatial.cKDTree(px).query(px, k=2)
        half = 0.4 * float(np.median(dist[:, 1]))
    else:
        half = float(window) if pixels else length_to_pixels(d0, window)
    if not np.isfinite(half) or half < 1.5:
        raise ValueError(f"the fitting window is {half:.3g} px; it must be at least 1.5 px")
    img = np.asarray(image.data.compute())
    parts = da.from_array(px, chunks=(max(int(chunk), 1), 2))
    fit = parts.map_blocks(_fit_block, img, half, dtype=float, chunks=(parts.chunks[0], (8,)))
    if not pixels:
        fit = fit.map_blocks(_calibrate_atoms, d0, d1, dtype=float)
    atom = Dimension("atom", len(px), quantity="index", units="", dimension_type=DimensionType.UNKNOWN)
    fld = Dimension("field", 8, quantity="field", units="", dimension_type=DimensionType.CHANNEL)
    res = image.derive(fit, [atom, fld], process="sidkit.stem.refine_atom_positions",
                       parameters={"n": len(px), "window_px": half, "pixels": pixels},
                       package=PACKAGE, title=f"atom columns of {image.title}".strip(),
                       quantity="atom column", units="px" if pixels else d0.units,
                       data_type=DataType.POINT_CLOUD)
    res.metadata.setdefault("stem", {}).update(
        {"fields": list(ATOM_FIELDS), "image_dims": [d0.name, d1.name], "pixels": pixels}
    )
    return res


def _calibrate_atoms(block: np.ndarray, d0: Dimension, d1: Dimension) -> np.ndarray:
    out = block.copy()
    out[:, 0] = pixel_to_value(d0, block[:, 0])
    out[:, 1] = pixel_to_value(d1, block[:, 1])
    return out


def _atom_pixels(atoms: Dataset, image: Dataset) -> tuple[np.ndarray, np.ndarray]:
    if atoms.ndim != 2 or atoms.shape[1] != len(ATOM_FIELDS):
        raise DimensionMismatchError(
            f"expected refine_atom_positions output (atom, {len(ATOM_FIELDS)}), got {atoms.shape}"
        )
    tab = np.asarray(atoms.data.compute())
    d0, d1 = image.dims
    if atoms.metadata.get("stem", {}).get("pixels", False):
        px = tab[:, :2]
    else:
        px = np.column_stack([value_to_pixel(d0, tab[:, 0]), value_to_pixel(d1, tab[:, 1])])
    return px, tab


def _voronoi_block(block_info: Any, tree: spatial.cKDTree, values: np.ndarray, max_dist: float) -> np.ndarray:
    loc = block_info[None]["array-location"]
    (a0, b0), (a1, b1) = loc
    yy, xx = np.mgrid[a0:b0, a1:b1]
    d, idx = tree.query(np.column_stack([yy.ravel(), xx.ravel()]), k=1)
    out = values[idx].astype(float)
    out[d > max_dist] = np.nan
    return out.reshape(b0 - a0, b1 - a1)


def _render(atoms: Dataset, image: Dataset, values: np.ndarray, px: np.ndarray, what: str,
            units: str, params: dict[str, Any]) -> Dataset:
    ok = np.all(np.isfinite(px), axis=1)
    tree = spatial.cKDTree(px[ok])
    vals = values[ok]
    if len(px[ok]) > 1:
        nn, _ = tree.query(px[ok], k=2)
        max_dist = 0.75 * float(np.median(nn[:, 1]))
    else:
        max_dist = np.inf
    chunks = image.data.chunks
    data = da.map_blocks(lambda block_info=None: _voronoi_block(block_info, tree, vals, max_dist),
                         dtype=float, chunks=chunks)
    return image.derive(data, image.dims, process=f"sidkit.stem.{what}", parameters=params,
                        package=PACKAGE, title=f"{what.replace('_', ' ')} of {image.title}".strip(),
                        units=units, data_type=DataType.IMAGE)


def column_intensity_map(atoms: Dataset, image: Dataset) -> Dataset:
    """Image where every pixel holds the integrated intensity of its nearest
    atom column (Voronoi cells; NaN further than 0.75 nearest-neighbour
    distances from any column).

    Parameters
    ----------
    atoms : Dataset
        From :func:`refine_atom_positions` on ``image``.
    image : Dataset
        The image the atoms were fitted on (gives the grid and calibration).

    Returns
    -------
    Dataset
        Lazy IMAGE on ``image``'s dims.
    """
    px, tab = _atom_pixels(atoms, image)
    return _render(atoms, image, tab[:, 6], px, "column_intensity_map", f"{image.units}*px^2", {})


def nearest_neighbour_map(atoms: Dataset, image: Dataset, *, k: int = 4) -> Dataset:
    """Image of the mean distance from each column to its ``k`` nearest
    neighbours, drawn on the column's Voronoi cell.

    Distances are in the image dims' calibrated units (the first dim's step
    converts pixels; px for uncalibrated images).

    Returns
    -------
    Dataset
        Lazy IMAGE on ``image``'s dims.
    """
    px, _ = _atom_pixels(atoms, image)
    ok = np.all(np.isfinite(px), axis=1)
    if ok.sum() < k + 1:
        raise ValueError(f"need more than {k} fitted columns for {k} nearest neighbours, have {ok.sum()}")
    d0, d1 = image.dims
    s0 = abs(d0.scale) if len(d0) > 1 else 1.0
    s1 = abs(d1.scale) if len(d1) > 1 else 1.0
    phys = px * np.array([s0, s1])
    dist, _ = spatial.cKDTree(phys[ok]).query(phys[ok], k=k + 1)
    mean = np.full(len(px), np.nan)
    mean[ok] = dist[:, 1:].mean(axis=1)
    return _render(atoms, image, mean, px, "nearest_neighbour_map", d0.units, {"k": k})
