"""Find peaks and atom columns in images with sub-pixel precision; positions
come back as a point-cloud Dataset in the image's calibrated units."""

from __future__ import annotations

from typing import Any

import numpy as np

from sidkit.core import Dataset, DataType, Dimension, DimensionType

from ._images import image_dims as _image_dims
from ._images import index_to_coord, to_pixels
from ._samples import AnalysisError, derive

__all__ = ["find_peaks", "find_atoms"]


def _frame(image: Dataset, image_dims: Any) -> tuple[np.ndarray, tuple[str, str]]:
    dims = _image_dims(image, image_dims)
    if image.ndim != 2:
        raise AnalysisError(
            f"peak finding needs one 2-D image; the dataset has dims {list(image.dim_names)} "
            "(select a frame with isel first)"
        )
    return np.asarray(image.transpose(*dims).data.compute(), dtype=np.float64), dims


def _local_maxima(img: np.ndarray, min_distance: int, threshold: float) -> np.ndarray:
    from scipy import ndimage

    size = 2 * max(1, int(min_distance)) + 1
    peaks = (img == ndimage.maximum_filter(img, size=size, mode="nearest")) & (img > threshold)
    # plateaus: keep one pixel per connected flat maximum
    lab, n = ndimage.label(peaks)
    if n == 0:
        return np.zeros((0, 2))
    pos = np.array(ndimage.center_of_mass(peaks, lab, np.arange(1, n + 1)))
    pos = np.round(pos).astype(int)
    # order by height, drop any within min_distance of a higher one
    order = np.argsort(img[pos[:, 0], pos[:, 1]])[::-1]
    pos = pos[order]
    keep: list[np.ndarray] = []
    taken = np.zeros(img.shape, dtype=bool)
    for p in pos:
        if taken[p[0], p[1]]:
            continue
        keep.append(p)
        y0, y1 = max(0, p[0] - min_distance), p[0] + min_distance + 1
        x0, x1 = max(0, p[1] - min_distance), p[1] + min_distance + 1
        taken[y0:y1, x0:x1] = True
    return np.array(keep, dtype=float)


def _parabolic(img: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Three-point parabola refinement along each axis."""
    out = pos.copy()
    p = pos.astype(int)
    for ax in (0, 1):
        lo = p.copy()
        hi = p.copy()
        lo[:, ax] -= 1
        hi[:, ax] += 1
        ok = (lo[:, ax] >= 0) & (hi[:, ax] < img.shape[ax])
        c = img[p[ok, 0], p[ok, 1]]
        a = img[lo[ok, 0], lo[ok, 1]]
        b = img[hi[ok, 0], hi[ok, 1]]
        den = a - 2 * c + b
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(den < 0, 0.5 * (a - b) / den, 0.0)
        out[ok, ax] += np.clip(d, -0.5, 0.5)
    return out


def _centre_of_mass(img: np.ndarray, pos: np.ndarray, radius: float, iterations: int) -> np.ndarray:
    r = int(np.ceil(radius))
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (oy**2 + ox**2) <= radius**2
    out = pos.copy()
    for _ in range(int(iterations)):
        c = np.round(out).astype(int)
        yy = np.clip(c[:, 0, None, None] + oy[None], 0, img.shape[0] - 1)
        xx = np.clip(c[:, 1, None, None] + ox[None], 0, img.shape[1] - 1)
        win = img[yy, xx]
        win = win - win[:, disk].min(axis=1)[:, None, None]
        win = win * disk[None]
        total = win.sum(axis=(1, 2))
        ok = total > 0
        new = np.stack([(win * (c[:, 0, None, None] + oy[None])).sum(axis=(1, 2)),
                        (win * (c[:, 1, None, None] + ox[None])).sum(axis=(1, 2))], axis=1)
        new[ok] /= total[ok, None]
        new[~ok] = out[~ok]
        shift = np.abs(new - out).max() if len(out) else 0.0
        out = np.clip(new, [0, 0], [img.shape[0] - 1, img.shape[1] - 1])
        if shift < 1e-3:
            break
    return out


def _point_cloud(image: Dataset, pos: np.ndarray, dims: tuple[str, str], process: str,
                 params: dict[str, Any]) -> Dataset:
    dy, dx = image.dim(dims[0]), image.dim(dims[1])
    coords = np.stack([index_to_coord(pos[:, 0], dy), index_to_coord(pos[:, 1], dx)], axis=1) \
        if len(pos) else np.zeros((0, 2))
    units = dy.units if dy.units == dx.units else f"{dy.units}|{dx.units}"
    point = Dimension("point", len(coords), quantity="index", units="", dimension_type=DimensionType.UNKNOWN)
    coord = Dimension("coordinate", np.array(list(dims)), quantity="coordinate", units="",
                      dimension_type=DimensionType.CHANNEL)
    out = derive(image, coords, (point, coord), process, {**params, "n_found": len(coords)},
                 title=f"{image.title} {process.replace('_', ' ')}".strip(), quantity="position",
                 units=units, data_type=DataType.POINT_CLOUD)
    out.metadata = {**out.metadata, "pixel_positions": "coordinates are calibrated; divide by the dims' "
                    "scale for pixels"}
    return out


def find_peaks(
    image: Dataset,
    *,
    min_distance: float = 3,
    threshold_rel: float = 0.2,
    threshold_abs: float | None = None,
    refine: str = "parabolic",
    pixels: bool = True,
    image_dims: Any = None,
) -> Dataset:
    """Local maxima of an image with sub-pixel refinement.

    Parameters
    ----------
    image : Dataset
        One 2-D image.
    min_distance : float, default 3
        Smallest separation of two peaks, in pixels (calibrated units with
        ``pixels=False``).
    threshold_rel, threshold_abs : float
        Keep maxima above ``min + threshold_rel * (max - min)`` (or above
        ``threshold_abs`` when given).
    refine : {"parabolic", "com", "none"}
        Three-point parabola per axis, centre of mass, or whole pixels.
    image_dims : pair of dim names, optional

    Returns
    -------
    Dataset
        Point cloud: ``point`` x ``coordinate`` (the image dim names), in
        the image dims' calibrated units.
    """
    img, dims = _frame(image, image_dims)
    md = max(1, round(to_pixels(min_distance, image.dim(dims[1]), pixels) or 1))
    lo, hi = float(img.min()), float(img.max())
    thr = threshold_abs if threshold_abs is not None else lo + float(threshold_rel) * (hi - lo)
    pos = _local_maxima(img, md, thr)
    if len(pos):
        if refine == "parabolic":
            pos = _parabolic(img, pos)
        elif refine == "com":
            pos = _centre_of_mass(img, pos, max(1.0, md / 2), 1)
        elif refine != "none":
            raise AnalysisError(f"refine must be 'parabolic', 'com' or 'none', got {refine!r}")
    params = {"min_distance": min_distance, "threshold_rel": threshold_rel,
              "threshold_abs": threshold_abs, "refine": refine, "pixels": pixels}
    return _point_cloud(image, pos, dims, "find_peaks", params)


def find_atoms(
    image: Dataset,
    atom_size: float,
    *,
    threshold_rel: float = 0.2,
    iterations: int = 10,
    pixels: bool = False,
    image_dims: Any = None,
) -> Dataset:
    """Atom columns of an atomic-resolution image.

    The image is smoothed at the atom size, local maxima at least half an
    atom apart are taken, and each is refined by iterated centre of mass of
    the raw intensity within a disk of radius ``atom_size / 2``.

    Parameters
    ----------
    image : Dataset
        One 2-D image (bright atoms, e.g. HAADF).
    atom_size : float
        Apparent atom diameter in the image's calibrated units (pixels with
        ``pixels=True``); about the spacing of the closest columns or less.
    threshold_rel : float, default 0.2
        Relative intensity threshold on the smoothed image.
    iterations : int, default 10
        Centre-of-mass refinement steps at most.
    pixels : bool, default False
    image_dims : pair of dim names, optional

    Returns
    -------
    Dataset
        Point cloud ``point`` x ``coordinate`` in calibrated units.
    """
    from scipy import ndimage

    img, dims = _frame(image, image_dims)
    size = to_pixels(atom_size, image.dim(dims[1]), pixels) or 1.0
    if not 1.0 <= size <= max(img.shape):
        raise AnalysisError(f"atom_size of {size:.3g} pixels is out of range for an image of {img.shape}")
    smooth = ndimage.gaussian_filter(img, max(size / 6.0, 0.5))
    lo, hi = float(smooth.min()), float(smooth.max())
    pos = _local_maxima(smooth, max(1, int(size / 2)), lo + float(threshold_rel) * (hi - lo))
    if len(pos):
        pos = _centre_of_mass(img, pos, max(1.0, size / 2.0), iterations)
    params = {"atom_size": atom_size, "threshold_rel": threshold_rel, "iterations": iterations,
              "pixels": pixels}
    return _point_cloud(image, pos, dims, "find_atoms", params)
