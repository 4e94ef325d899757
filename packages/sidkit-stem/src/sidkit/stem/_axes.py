"""Private helpers: find the scan and detector dims of a 4D-STEM dataset by
type, put the data in (scan0, scan1, det0, det1) order, and convert between
calibrated detector coordinates and pixels."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, Dimension, DimensionMismatchError, DimensionType

PACKAGE = "sidkit-stem"


def stem_axes(ds: Dataset) -> tuple[tuple[int, int], tuple[int, int]]:
    """Axis indices of the two SPATIAL (scan) and two RECIPROCAL (detector) dims.

    Raises
    ------
    DimensionMismatchError
        ``ds`` is not 4-D or does not have exactly two dims of each type.
    """
    scan = tuple(i for i, d in enumerate(ds.dims) if d.dimension_type == DimensionType.SPATIAL)
    det = tuple(i for i, d in enumerate(ds.dims) if d.dimension_type == DimensionType.RECIPROCAL)
    if ds.ndim != 4 or len(scan) != 2 or len(det) != 2:
        brief = ", ".join(f"{d.name} ({d.dimension_type.name})" for d in ds.dims)
        raise DimensionMismatchError(
            "a 4D-STEM dataset needs two SPATIAL (scan) dims and two RECIPROCAL "
            f"(detector) dims; '{ds.title or 'dataset'}' has {brief}. "
            "Set the dims' dimension_type (e.g. with Dataset.set_dim)."
        )
    return (scan[0], scan[1]), (det[0], det[1])


def stem_data(ds: Dataset) -> tuple[da.Array, list[Dimension], list[Dimension]]:
    """The data as a dask array ordered (scan0, scan1, det0, det1), with the
    scan dims and detector dims in that order."""
    scan, det = stem_axes(ds)
    order = scan + det
    data = ds.data if order == (0, 1, 2, 3) else ds.data.transpose(order)
    return data, [ds.dims[i] for i in scan], [ds.dims[i] for i in det]


def pixel_to_value(dim: Dimension, pixel: Any) -> Any:
    """Calibrated coordinate of a (fractional) pixel position along ``dim``.

    Uniform dims extrapolate linearly; others interpolate their values.
    """
    p = np.asarray(pixel, dtype=float)
    if dim.is_uniform:
        return dim.offset + dim.scale * p
    return np.interp(p, np.arange(len(dim)), dim.values.astype(float))


def value_to_pixel(dim: Dimension, value: Any) -> Any:
    """Fractional pixel position of a calibrated coordinate along ``dim``."""
    v = np.asarray(value, dtype=float)
    if dim.is_uniform:
        return (v - dim.offset) / (dim.scale if dim.scale != 0 else 1.0)
    vals = dim.values.astype(float)
    order = np.argsort(vals)
    return np.interp(v, vals[order], np.arange(len(dim), dtype=float)[order])


def length_to_pixels(dim: Dimension, length: float) -> float:
    """A calibrated length along ``dim`` in pixels (uses the mean step)."""
    n = len(dim)
    step = abs(float(dim.values[-1] - dim.values[0]) / (n - 1)) if n > 1 else 1.0
    return float(length) / (step if step > 0 else 1.0)


def default_center(dims: list[Dimension]) -> tuple[float, float]:
    """Default detector centre, in pixels: the origin of each detector dim
    when it lies on the detector, else the detector's middle."""
    out = []
    for d in dims:
        v = d.values.astype(float)
        if v.size and v.min() <= 0.0 <= v.max() and not np.allclose(v, v[0]):
            out.append(float(value_to_pixel(d, 0.0)))
        else:
            out.append((len(d) - 1) / 2.0)
    return out[0], out[1]


def center_pixels(dims: list[Dimension], center: Any, pixels: bool) -> tuple[float, float]:
    """A detector centre in pixels from ``None``, calibrated units or pixels."""
    if center is None:
        return default_center(dims)
    c = np.asarray(center, dtype=float).ravel()
    if c.size != 2:
        raise ValueError(f"a detector centre needs two coordinates, got {center!r}")
    if pixels:
        return float(c[0]), float(c[1])
    return float(value_to_pixel(dims[0], c[0])), float(value_to_pixel(dims[1], c[1]))


def detector_units(dims: list[Dimension], pixels: bool = False) -> str:
    """Units of results expressed on the detector."""
    if pixels:
        return "px"
    u0, u1 = dims[0].units, dims[1].units
    return u0 if u0 == u1 else f"{u0}|{u1}"


def result_dtype(dtype: np.dtype) -> np.dtype:
    """float32 stays float32 (speed); everything else sums in float64 (exact for counts)."""
    dtype = np.dtype(dtype)
    if dtype == np.float32 or dtype == np.float16:
        return np.dtype(np.float32)
    if dtype.kind == "c":
        return np.dtype(np.complex128)
    return np.dtype(np.float64)


def full_detector_chunks(data: da.Array) -> da.Array:
    """Rechunk so each block holds whole diffraction patterns (no-op if it already does)."""
    if len(data.chunks[2]) == 1 and len(data.chunks[3]) == 1:
        return data
    return data.rechunk({0: "auto", 1: "auto", 2: -1, 3: -1})
