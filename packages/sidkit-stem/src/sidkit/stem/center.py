"""Locate the direct beam in every pattern and shift patterns to a common centre."""

from __future__ import annotations

import dask.array as da
import numpy as np
from scipy import ndimage

from sidkit.core import Dataset, DataType, Dimension, DimensionMismatchError, DimensionType

from ._axes import PACKAGE, detector_units, full_detector_chunks, pixel_to_value, stem_data, value_to_pixel

__all__ = ["find_center", "center_patterns"]


def _beam_centres(block: np.ndarray, threshold: float) -> np.ndarray:
    """(a, b, k0, k1) -> (a, b, 2) centre of mass, in pixels, of each
    pattern's intensity above ``threshold`` times its maximum (the excess
    intensity is the weight, so the estimate varies smoothly with the beam)."""
    a, b, n0, n1 = block.shape
    p0 = np.arange(n0, dtype=float)
    p1 = np.arange(n1, dtype=float)
    out = np.full((a, b, 2), np.nan)
    for i in range(a):
        for j in range(b):
            pat = np.asarray(block[i, j], dtype=float)
            top = pat.max()
            if not np.isfinite(top) or top <= 0:
                continue
            w = np.clip(pat - threshold * top, 0.0, None)
            s = w.sum()
            out[i, j, 0] = (w.sum(axis=1) @ p0) / s
            out[i, j, 1] = (w.sum(axis=0) @ p1) / s
    return out


def _plane_fit(c: np.ndarray) -> np.ndarray:
    """Least-squares plane a + b*i + c*j through each component of (2, ny, nx)."""
    ny, nx = c.shape[1:]
    ii, jj = np.mgrid[:ny, :nx]
    a = np.column_stack([np.ones(ny * nx), ii.ravel(), jj.ravel()])
    out = np.empty_like(c)
    for k in range(2):
        v = c[k].ravel()
        ok = np.isfinite(v)
        coef, *_ = np.linalg.lstsq(a[ok], v[ok], rcond=None)
        out[k] = (a @ coef).reshape(ny, nx)
    return out


def find_center(ds: Dataset, *, threshold: float = 0.5, fit: str | None = None,
                pixels: bool = False) -> Dataset:
    """Position of the direct beam in every pattern.

    The beam is the centre of mass of the intensity in excess of
    ``threshold`` times the pattern's maximum.

    Parameters
    ----------
    ds : Dataset
        4D-STEM data.
    threshold : float, default 0.5
        Fraction of each pattern's maximum that selects the direct beam.
    fit : {None, "plane"}
        ``"plane"`` replaces the per-position centres by a least-squares plane
        over the scan (the linear drift of the beam from descan); this
        computes the centres.
    pixels : bool, default False
        Return detector pixels instead of calibrated detector units.

    Returns
    -------
    Dataset
        IMAGE_STACK (component, scan0, scan1): the beam position along the two
        detector dims, in calibrated detector units (or px).
    """
    if fit not in (None, "plane"):
        raise ValueError(f"fit must be None or 'plane', got {fit!r}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    data, scan, det = stem_data(ds)
    data = full_detector_chunks(data)
    px = da.map_blocks(_beam_centres, data, threshold, dtype=float,
                       chunks=(data.chunks[0], data.chunks[1], (2,)), drop_axis=3)
    px = px.transpose(2, 0, 1)
    if fit == "plane":
        px = da.from_array(_plane_fit(np.asarray(px.compute())), chunks=(2, *data.chunks[:2]))
    if pixels:
        field = px
    else:
        field = da.stack([_to_values(px[0], det[0]), _to_values(px[1], det[1])])
    comp = Dimension("component", 2, quantity="component", units="",
                     dimension_type=DimensionType.CHANNEL)
    res = ds.derive(field, [comp, *scan], process="sidkit.stem.find_center",
                    parameters={"threshold": threshold, "fit": fit, "pixels": pixels},
                    package=PACKAGE, title=f"beam centre of {ds.title}".strip(),
                    quantity="beam position", units=detector_units(det, pixels),
                    data_type=DataType.IMAGE_STACK)
    res.metadata.setdefault("stem", {}).update({"components": [det[0].name, det[1].name]})
    return res


def _to_values(p: da.Array, dim: Dimension) -> da.Array:
    return p.map_blocks(lambda b: np.asarray(pixel_to_value(dim, b), dtype=float), dtype=float)


def _shift_block(block: np.ndarray, centres: np.ndarray, target: tuple[float, float],
                 order: int) -> np.ndarray:
    out = np.empty(block.shape, dtype=np.result_type(block.dtype, np.float32))
    a, b = block.shape[:2]
    for i in range(a):
        for j in range(b):
            c = centres[i, j]
            if not np.all(np.isfinite(c)):
                out[i, j] = block[i, j]
                continue
            ndimage.shift(np.asarray(block[i, j], dtype=out.dtype),
                          (target[0] - c[0], target[1] - c[1]), output=out[i, j],
                          order=order, mode="constant", cval=0.0)
    return out


def center_patterns(ds: Dataset, centers: Dataset | None = None, *, fit: str | None = "plane",
                    threshold: float = 0.5, order: int = 1) -> Dataset:
    """Shift every pattern so the direct beam sits at the detector's middle pixel.

    Parameters
    ----------
    ds : Dataset
        4D-STEM data.
    centers : Dataset, optional
        Beam positions from :func:`find_center` (calibrated detector units,
        or px if it was called with ``pixels=True``); found here when omitted.
    fit : {"plane", None}, default "plane"
        When finding the centres here: shift by a plane fit of the beam drift
        (robust) or by each position's own centre.
    threshold : float, default 0.5
        Passed to :func:`find_center`.
    order : int, default 1
        Spline order of the sub-pixel shift (:func:`scipy.ndimage.shift`);
        1 is bilinear, 3 cubic.

    Returns
    -------
    Dataset
        Lazy 4D-STEM data in the input's axis order whose detector dims are
        re-calibrated so the beam centre (pixel n // 2) is the origin.
    """
    data, scan, det = stem_data(ds)
    given = centers is not None
    if centers is None:
        centers = find_center(ds, threshold=threshold, fit=fit)
    if centers.shape != (2, len(scan[0]), len(scan[1])):
        raise DimensionMismatchError(
            f"centers of shape {centers.shape} do not match the scan ({len(scan[0])}, {len(scan[1])})"
        )
    c = np.asarray(centers.data.compute(), dtype=float)
    if centers.units != "px":
        c = np.stack([value_to_pixel(det[0], c[0]), value_to_pixel(det[1], c[1])])
    data = full_detector_chunks(data)
    cen = da.from_array(np.ascontiguousarray(c.transpose(1, 2, 0)),
                        chunks=(data.chunks[0], data.chunks[1], (2,)))
    target = (len(det[0]) // 2, len(det[1]) // 2)
    dtype = np.result_type(data.dtype, np.float32)
    shifted = da.map_blocks(_shift_block, data, cen, target, order, dtype=dtype)
    new_det = []
    for d, t in zip(det, target):
        step = d.scale if d.is_uniform and len(d) > 1 else 1.0
        new_det.append(d.replace(values=(np.arange(len(d)) - t) * step))
    scan_ax = [i for i, d in enumerate(ds.dims) if d.dimension_type == DimensionType.SPATIAL]
    det_ax = [i for i, d in enumerate(ds.dims) if d.dimension_type == DimensionType.RECIPROCAL]
    order_in = scan_ax + det_ax
    inverse = np.argsort(order_in)
    dims_canon = [*scan, *new_det]
    out = shifted.transpose(tuple(int(i) for i in inverse))
    dims = [dims_canon[int(i)] for i in inverse]
    return ds.derive(out, dims, process="sidkit.stem.center_patterns",
                     parameters={"fit": fit, "threshold": threshold, "order": order,
                                 "centers_given": given},
                     package=PACKAGE, data_type=ds.data_type)
