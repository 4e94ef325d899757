"""USID ancillary index tables: analyse them when reading, build them when writing.

A USID main dataset is 2-D (positions x spectroscopic steps). Two pairs of
ancillary datasets say how to fold it back to N dimensions:

- ``Position_Indices`` / ``Position_Values``: one row per position, one column
  per position dimension;
- ``Spectroscopic_Indices`` / ``Spectroscopic_Values``: one row per
  spectroscopic dimension, one column per spectroscopic step.

Which dimension varies fastest is *inferred from the index data*, never
assumed: pyUSID 0.0.12 writes the columns slowest-first, the USID
specification text and older pycroscopy files fastest-first. Coordinate values
are taken from the Values table at the index positions, so non-monotonic or
repeated values (a bipolar DC-offset triangle, for example) are kept as they
are.

Functions here work on numpy arrays and raise :class:`AncillaryError` (a
private ``ValueError``); the reader turns it into a
:class:`~sidkit.core.CorruptFileError` that names the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "AncillaryError",
    "AncillaryDim",
    "AncillaryLayout",
    "analyse_index_table",
    "index_table_block",
    "MAX_DIMS",
]

#: More dimensions than this in one ancillary table is treated as hostile.
MAX_DIMS = 64


class AncillaryError(ValueError):
    """An ancillary table does not describe a regular N-D grid."""


@dataclass(frozen=True)
class AncillaryDim:
    """One dimension described by an ancillary table.

    Attributes
    ----------
    name, units : str
        From the ``labels`` and ``units`` attributes.
    size : int
        Number of steps (largest index + 1).
    values : numpy.ndarray
        Coordinate of every step, read from the Values table.
    stride : int
        Rows (positions) or columns (spectroscopic) between two successive
        steps of this dimension in the flat table.
    """

    name: str
    units: str
    size: int
    values: np.ndarray
    stride: int


@dataclass(frozen=True)
class AncillaryLayout:
    """All dimensions of one ancillary table pair.

    Attributes
    ----------
    dims : tuple of AncillaryDim
        In the order of the file's ``labels`` attribute.
    slow_to_fast : tuple of int
        Indices into ``dims``, slowest-varying first (C order of the flat axis).
    order_in_file : str
        ``"slowest_first"``, ``"fastest_first"``, ``"single_dimension"`` or
        ``"mixed"``: how the file lists the dimensions that have more than one
        step.
    """

    dims: tuple[AncillaryDim, ...]
    slow_to_fast: tuple[int, ...]
    order_in_file: str

    @property
    def sizes(self) -> tuple[int, ...]:
        """Sizes in file-label order."""
        return tuple(d.size for d in self.dims)

    @property
    def slow_sizes(self) -> tuple[int, ...]:
        """Sizes slowest-first (the shape the flat axis reshapes to)."""
        return tuple(self.dims[i].size for i in self.slow_to_fast)


def _product(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def analyse_index_table(
    indices: np.ndarray,
    values: np.ndarray,
    labels: Sequence[str],
    units: Sequence[str],
    *,
    what: str = "Position",
) -> AncillaryLayout:
    """Work out the N-D grid an ancillary table pair describes.

    Parameters
    ----------
    indices, values : numpy.ndarray
        The Indices and Values tables as ``(steps, dims)``: position tables as
        stored, spectroscopic tables transposed.
    labels, units : sequence of str
        One per column.
    what : str
        ``"Position"`` or ``"Spectroscopic"``, for messages.

    Returns
    -------
    AncillaryLayout

    Raises
    ------
    AncillaryError
        Shapes disagree, indices are negative or non-integer, the table is not
        a complete regular grid in any dimension order, or the values do not
        follow the indices.
    """
    if indices.ndim != 2 or values.shape != indices.shape:
        raise AncillaryError(
            f"{what}_Indices {indices.shape} and {what}_Values {values.shape} must have the same 2-D shape"
        )
    n, k = indices.shape
    if n == 0 or k == 0:
        raise AncillaryError(f"{what}_Indices is empty (shape {indices.shape})")
    if k > MAX_DIMS:
        raise AncillaryError(f"{what}_Indices declares {k} dimensions (more than {MAX_DIMS})")
    if len(labels) != k or len(units) != k:
        raise AncillaryError(
            f"{what}_Indices has {k} dimension(s) but {len(labels)} label(s) and {len(units)} unit(s)"
        )
    if indices.dtype.kind == "f":
        if not np.all(np.isfinite(indices)) or not np.array_equal(indices, np.round(indices)):
            raise AncillaryError(f"{what}_Indices holds non-integer values")
    elif indices.dtype.kind not in "iub":
        raise AncillaryError(f"{what}_Indices has dtype {indices.dtype}, not integers")
    inds = indices.astype(np.int64, copy=False)
    if inds.min() < 0:
        raise AncillaryError(f"{what}_Indices holds negative indices")
    sizes = [int(s) + 1 for s in inds.max(axis=0)]
    if _product(sizes) != n:
        raise AncillaryError(
            f"{what}_Indices describes a grid of {' x '.join(map(str, sizes))} = {_product(sizes)} "
            f"steps but has {n}; the index table does not describe the main dataset"
        )
    # stride of a column: steps before its index first changes
    strides = []
    for c in range(k):
        if sizes[c] == 1:
            strides.append(n)
            continue
        changed = np.flatnonzero(inds[:, c] != inds[0, c])
        strides.append(int(changed[0]))
    # dims that move are ordered by stride; one-step dims keep their file place
    moving_sorted = iter(sorted((c for c in range(k) if sizes[c] > 1), key=lambda c: (-strides[c], c)))
    slow_to_fast = tuple(next(moving_sorted) if sizes[c] > 1 else c for c in range(k))
    expected_stride = [0] * k
    step = 1
    for c in reversed(slow_to_fast):
        expected_stride[c] = step
        step *= sizes[c]
    flat = np.arange(n, dtype=np.int64)
    for c in range(k):
        want = (flat // expected_stride[c]) % sizes[c]
        if not np.array_equal(want, inds[:, c]):
            raise AncillaryError(
                f"{what}_Indices column {c} ('{labels[c]}') is not a regular grid dimension: "
                "the indices do not repeat in a fixed slow-to-fast order"
            )
    dims = []
    for c in range(k):
        steps = np.arange(sizes[c], dtype=np.int64) * expected_stride[c]
        col = values[steps, c]
        if col.dtype.kind in "iuf":
            col = col.astype(np.float64)
        full = col[inds[:, c]]
        same = full == values[:, c]
        if col.dtype.kind == "f":
            same |= np.isnan(full) & np.isnan(values[:, c].astype(np.float64))
        if not np.all(same):
            raise AncillaryError(
                f"{what}_Values column {c} ('{labels[c]}') disagrees with {what}_Indices: "
                "equal indices carry different values"
            )
        dims.append(AncillaryDim(str(labels[c]), str(units[c]), sizes[c], col, expected_stride[c]))
    moving = [c for c in slow_to_fast if sizes[c] > 1]
    if len(moving) <= 1:
        order = "single_dimension"
    elif moving == sorted(moving):
        order = "slowest_first"
    elif moving == sorted(moving, reverse=True):
        order = "fastest_first"
    else:
        order = "mixed"
    return AncillaryLayout(tuple(dims), slow_to_fast, order)


def index_table_block(
    sizes: Sequence[int], values: Sequence[np.ndarray], start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start:stop`` of the Indices and Values tables of a grid.

    Columns are slowest-first (the pyUSID 0.0.12 convention): the last
    column varies fastest.

    Parameters
    ----------
    sizes : sequence of int
        Grid shape, slowest first.
    values : sequence of numpy.ndarray
        Coordinate values of each dimension (same order).
    start, stop : int
        Row range of the flat table.

    Returns
    -------
    indices : numpy.ndarray of uint32, shape (stop - start, len(sizes))
    vals : numpy.ndarray of float64, same shape
    """
    flat = np.arange(start, stop, dtype=np.int64)
    k = len(sizes)
    inds = np.empty((stop - start, k), dtype=np.uint32)
    vals = np.empty((stop - start, k), dtype=np.float64)
    stride = 1
    for c in range(k - 1, -1, -1):
        col = (flat // stride) % int(sizes[c])
        inds[:, c] = col
        vals[:, c] = np.asarray(values[c], dtype=np.float64)[col]
        stride *= int(sizes[c])
    return inds, vals


def iter_row_blocks(n: int, block: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(n)`` in blocks of ``block``."""
    for start in range(0, n, max(1, block)):
        yield start, min(n, start + block)
