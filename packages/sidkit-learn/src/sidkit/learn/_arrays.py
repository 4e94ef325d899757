"""Turning what users pass (Datasets, arrays, lists of either) into numpy stacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sidkit.core import Dataset, DimensionMismatchError, DimensionType

__all__ = ["spatial_axes", "as_stack", "normalise"]

#: Refuse to pull more than this many values into memory for training.
MAX_TRAINING_VALUES = 2**28


def spatial_axes(ds: Dataset) -> tuple[int, int]:
    """The two image axes of a Dataset: its two SPATIAL (or RECIPROCAL) dims,
    else its last two dims."""
    for kind in (DimensionType.SPATIAL, DimensionType.RECIPROCAL):
        axes = [i for i, d in enumerate(ds.dims) if d.dimension_type == kind]
        if len(axes) == 2:
            return axes[0], axes[1]
    if ds.ndim < 2:
        raise DimensionMismatchError(f"'{ds.title or 'dataset'}' has {ds.ndim} dim; an image needs 2")
    return ds.ndim - 2, ds.ndim - 1


def _one(x: Any, name: str) -> np.ndarray:
    if isinstance(x, Dataset):
        if x.size > MAX_TRAINING_VALUES:
            raise ValueError(f"{name} has {x.size} values, more than {MAX_TRAINING_VALUES} "
                             "to hold in memory for training; train on a subset")
        ya, xa = spatial_axes(x)
        arr = np.moveaxis(np.asarray(x), (ya, xa), (-2, -1))
    else:
        arr = np.asarray(x)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise DimensionMismatchError(
            f"{name} must be images: 2-D, or a 3-D stack (frame, y, x); got shape {arr.shape}"
        )
    return arr


def as_stack(x: Any, name: str) -> np.ndarray:
    """A ``(n, rows, columns)`` float32 stack from a Dataset, an array or a list of them."""
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)) and len(x) and not np.isscalar(x[0]) \
            and (isinstance(x[0], Dataset) or np.ndim(x[0]) >= 2):
        parts = [_one(item, f"{name}[{i}]") for i, item in enumerate(x)]
        shapes = {p.shape[1:] for p in parts}
        if len(shapes) != 1:
            raise DimensionMismatchError(f"{name} have different shapes {sorted(shapes)}; "
                                         "crop them to one size first")
        arr = np.concatenate(parts, axis=0)
    else:
        arr = _one(x, name)
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return arr.astype(np.float32, copy=False)


def normalise(image: np.ndarray) -> np.ndarray:
    """Standardise an image (zero mean, unit standard deviation), float32."""
    img = np.asarray(image, dtype=np.float32)
    mean = float(img.mean(dtype=np.float64))
    std = float(img.std(dtype=np.float64))
    return ((img - mean) / (std if std > 0 else 1.0)).astype(np.float32)
