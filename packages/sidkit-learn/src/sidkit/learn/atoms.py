"""From a probability map to atom coordinates.

:func:`find_atoms` runs a model on an image, thresholds its probability map,
labels connected components, takes each component's probability-weighted
centroid and refines it by the intensity-weighted centroid of the image in a
small disk around it. The result is a point-cloud Dataset in the image's
calibrated units.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from sidkit.core import Dataset, DataType, Dimension, DimensionMismatchError, make_record

__all__ = ["find_atoms", "positions_from_probability", "refine_positions", "pixels_to_coordinates"]


def _as_image(image: Any) -> Dataset:
    if isinstance(image, Dataset):
        ds = image
    else:
        arr = np.asarray(image)
        ds = Dataset(arr, ["y", "x"][: arr.ndim] if arr.ndim == 2 else None)
    if ds.ndim != 2:
        raise DimensionMismatchError(
            f"find_atoms needs a 2-D image, got {ds.ndim} dims {list(ds.dim_names)}; "
            "select one frame first, e.g. stack[0] or stack.isel(frame=0)"
        )
    return ds


def positions_from_probability(prob: np.ndarray, threshold: float = 0.5, *, min_area: int = 2,
                               max_atoms: int = 10_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Atom positions from a probability map: threshold, components, centroids.

    Parameters
    ----------
    prob : numpy.ndarray, shape (rows, columns)
        Probability of each pixel belonging to an atom.
    threshold : float, default 0.5
        Pixels above it are atom pixels.
    min_area : int, default 2
        Smaller components are dropped as noise.
    max_atoms : int, default 10 000 000
        Refuse maps with more components (a nonsensical map), before measuring them.

    Returns
    -------
    positions : numpy.ndarray, shape (n, 2)
        Probability-weighted centroids as ``(row, column)`` pixels, in
        component order (raster order of their first pixel).
    areas : numpy.ndarray, shape (n,)
        Component sizes in pixels.
    """
    from scipy import ndimage

    prob = np.asarray(prob, dtype=np.float64)
    if prob.ndim != 2:
        raise DimensionMismatchError(f"a probability map must be 2-D, got shape {prob.shape}")
    labels, n = ndimage.label(prob > threshold)
    if n == 0:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    if n > max_atoms:
        raise ValueError(f"{n} components in the probability map exceed max_atoms={max_atoms}")
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    index = np.arange(1, n + 1)
    keep = areas >= min_area
    if not keep.any():
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    centres = np.asarray(ndimage.center_of_mass(prob, labels, index[keep]), dtype=float)
    return centres.reshape(-1, 2), areas[keep]


def refine_positions(image: np.ndarray, positions: np.ndarray, radius: float, *,
                     iterations: int = 2) -> np.ndarray:
    """Refine positions by the intensity-weighted centroid in a disk.

    In a disk of ``radius`` pixels around each position, the image minus its
    minimum in that disk weighs the pixels; the centroid becomes the new
    position. A position that would move by more than ``radius`` is kept
    where it was (a neighbour or noise pulled it).

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, columns)
    positions : numpy.ndarray, shape (n, 2)
        ``(row, column)`` pixels.
    radius : float
        Disk radius in pixels.
    iterations : int, default 2

    Returns
    -------
    numpy.ndarray, shape (n, 2)
    """
    img = np.asarray(image, dtype=np.float64)
    pos = np.array(positions, dtype=float, copy=True).reshape(-1, 2)
    if len(pos) == 0 or radius <= 0:
        return pos
    h, w = img.shape
    R = int(np.ceil(radius))
    off = np.arange(-R, R + 1)
    start = pos.copy()
    for _ in range(max(1, int(iterations))):
        r = np.rint(pos[:, 0]).astype(np.int64)[:, None, None] + off[None, :, None]
        c = np.rint(pos[:, 1]).astype(np.int64)[:, None, None] + off[None, None, :]
        r, c = np.broadcast_arrays(r, c)
        inside = ((r - pos[:, 0, None, None]) ** 2 + (c - pos[:, 1, None, None]) ** 2 <= radius**2)
        inside &= (r >= 0) & (r < h) & (c >= 0) & (c < w)
        vals = np.where(inside, img[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], np.nan)
        base = np.nanmin(vals.reshape(len(pos), -1), axis=1)
        wgt = np.where(inside, vals - base[:, None, None], 0.0)
        tot = wgt.sum(axis=(1, 2))
        ok = tot > 0
        new = pos.copy()
        new[ok, 0] = (wgt * r).sum(axis=(1, 2))[ok] / tot[ok]
        new[ok, 1] = (wgt * c).sum(axis=(1, 2))[ok] / tot[ok]
        moved = np.hypot(*(new - start).T) > radius
        new[moved] = pos[moved]
        pos = new
    return pos


def pixels_to_coordinates(positions: np.ndarray, dims: tuple[Dimension, ...]) -> np.ndarray:
    """Convert ``(row, column)`` pixel positions to the dims' calibrated values.

    Uniform dims use ``offset + scale * index``; others interpolate their values.
    """
    pos = np.asarray(positions, dtype=float).reshape(-1, 2)
    out = np.empty_like(pos)
    for k, d in enumerate(dims):
        vals = np.asarray(d.values, dtype=float)
        if d.is_uniform or vals.size < 2:
            out[:, k] = d.offset + d.scale * pos[:, k]
        else:
            out[:, k] = np.interp(pos[:, k], np.arange(vals.size), vals)
    return out


def find_atoms(
    image: Any,
    model: Any,
    *,
    threshold: float = 0.5,
    min_area: int = 2,
    refine: bool = True,
    refine_radius: float | None = None,
    pixels: bool = False,
    **predict_options: Any,
) -> Dataset:
    """Find every atom column in an image with a segmentation model.

    The model's probability map is thresholded, its connected components
    labelled, and each component's probability-weighted centroid refined by
    the intensity-weighted centroid of the image around it.

    Parameters
    ----------
    image : Dataset or array_like
        A 2-D image; coordinates come out in its dims' calibrated units.
    model : Model or str or os.PathLike
        Anything with ``predict(image) -> probability Dataset`` (e.g. a
        trained :class:`~sidkit.learn.AtomSegmenter`), or the folder of a
        saved model.
    threshold : float, default 0.5
        Probability above which a pixel belongs to an atom.
    min_area : int, default 2
        Components smaller than this (pixels) are dropped.
    refine : bool, default True
        Refine the centroids on the image intensity.
    refine_radius : float, optional
        Refinement disk radius in pixels; by default the median component's
        equivalent radius plus one pixel.
    pixels : bool, default False
        Return ``(row, column)`` pixel positions instead of calibrated coordinates.
    **predict_options
        Passed to ``model.predict`` (``tile=``, ``overlap=``, ...).

    Returns
    -------
    Dataset
        ``POINT_CLOUD`` of shape ``(n_atoms, 2)``, dims ``("atom", "coordinate")``;
        the ``coordinate`` dim's values are the image's dim names (e.g.
        ``["y", "x"]``) and ``units`` the image dims' units (``"px"`` with
        ``pixels=True``). ``metadata["find_atoms"]`` holds the settings and
        the atom count.

    Raises
    ------
    DimensionMismatchError
        The image is not 2-D, or the probability map's shape differs from it.
    """
    from .model import load_model

    ds = _as_image(image)
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    prob_ds = model.predict(ds, **predict_options)
    prob = np.asarray(prob_ds)
    if prob.shape != ds.shape:
        raise DimensionMismatchError(
            f"the model returned a map of shape {prob.shape} for an image of shape {ds.shape}"
        )
    positions, areas = positions_from_probability(prob, threshold, min_area=min_area)
    radius = refine_radius
    if refine and len(positions):
        if radius is None:
            radius = float(np.sqrt(np.median(areas) / np.pi)) + 1.0
        positions = refine_positions(np.asarray(ds, dtype=np.float64), positions, radius)
    if pixels:
        coords, units = positions, "px"
    else:
        coords = pixels_to_coordinates(positions, ds.dims)
        dim_units = {d.units for d in ds.dims}
        units = dim_units.pop() if len(dim_units) == 1 else ",".join(d.units for d in ds.dims)
    n = len(coords)
    dims = [
        Dimension("atom", n, quantity="index", units="", dimension_type="unknown"),
        Dimension("coordinate", np.array(ds.dim_names), quantity="axis", units="",
                  dimension_type="channel"),
    ]
    params = {
        "model": getattr(model, "name", type(model).__name__),
        "threshold": threshold,
        "min_area": min_area,
        "refine": refine,
        "refine_radius": radius,
        "pixels": pixels,
        **predict_options,
    }
    return Dataset(
        coords.astype(np.float64).reshape(n, 2),
        dims,
        title=f"atoms in {ds.title}".strip() if ds.title else "atom positions",
        quantity="position",
        units=units,
        data_type=DataType.POINT_CLOUD,
        modality=ds.modality,
        source=ds.source,
        metadata={"find_atoms": {"n_atoms": n, "threshold": threshold,
                                 "refine_radius_px": radius,
                                 "image_shape": list(ds.shape)}},
        provenance=[*ds.provenance, make_record("sidkit.learn.find_atoms", params,
                                                package="sidkit-learn")],
    )
