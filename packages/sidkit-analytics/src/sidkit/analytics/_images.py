"""Private helpers for image tools: which dims form the image, frame-wise
application over dask blocks, pixel <-> calibrated conversions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, Dimension, DimensionType

from ._samples import AnalysisError

__all__ = ["image_dims", "map_frames", "to_pixels", "index_to_coord"]


def image_dims(ds: Dataset, dims: Any = None) -> tuple[str, str]:
    """The two dims that form the image: given, else the two spatial (or
    reciprocal) dims, else the last two."""
    if dims is not None:
        names = tuple(ds.dim(d).name for d in dims)
        if len(names) != 2:
            raise AnalysisError(f"image_dims must name two dims, got {dims!r}")
        return names  # type: ignore[return-value]
    for kind in (DimensionType.SPATIAL, DimensionType.RECIPROCAL):
        found = ds.dims_of_type(kind)
        if len(found) == 2:
            return found[0].name, found[1].name
    if ds.ndim < 2:
        raise AnalysisError(f"an image needs two dims; the dataset has {list(ds.dim_names)}")
    return ds.dim_names[-2], ds.dim_names[-1]


def map_frames(ds: Dataset, func: Callable[[np.ndarray], np.ndarray], dims: tuple[str, str],
               dtype: Any = None) -> da.Array:
    """Apply ``func`` to every 2-D frame; returns a dask array in ``ds``'s axis order."""
    others = [n for n in ds.dim_names if n not in dims]
    t = ds.transpose(*others, *dims)
    arr = t.data.rechunk({t.ndim - 2: -1, t.ndim - 1: -1})
    out_dtype = np.dtype(dtype) if dtype is not None else arr.dtype

    def apply(block: np.ndarray) -> np.ndarray:
        flat = block.reshape((-1,) + block.shape[-2:])
        res = np.empty(flat.shape, dtype=out_dtype)
        for i, frame in enumerate(flat):
            res[i] = func(frame)
        return res.reshape(block.shape)

    out = arr.map_blocks(apply, dtype=out_dtype)
    inverse = [list(t.dim_names).index(n) for n in ds.dim_names]
    return out.transpose(inverse)


def to_pixels(value: float | None, dim: Dimension, pixels: bool) -> float | None:
    """A length in ``dim``'s calibrated units (or pixels) as a number of pixels."""
    if value is None:
        return None
    if pixels:
        return float(value)
    scale = abs(dim.scale) if np.issubdtype(dim.values.dtype, np.number) else 1.0
    return float(value) / (scale if scale > 0 else 1.0)


def index_to_coord(index: np.ndarray, dim: Dimension) -> np.ndarray:
    """Fractional indices along ``dim`` as calibrated coordinates (linear interpolation)."""
    v = np.asarray(dim.values, dtype=float)
    if v.size < 2:
        return index + (v[0] if v.size else 0.0)
    i = np.arange(v.size, dtype=float)
    # extrapolate linearly beyond the ends
    out = np.interp(index, i, v)
    lo, hi = index < 0, index > v.size - 1
    out[lo] = v[0] + index[lo] * (v[1] - v[0])
    out[hi] = v[-1] + (index[hi] - (v.size - 1)) * (v[-1] - v[-2])
    return out
