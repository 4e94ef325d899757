"""Private helpers: choose sample and feature dims, turn a Dataset into a
samples x features matrix (lazily) and results back into Datasets."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, Dimension, DimensionMismatchError, DimensionType, SidkitError

__all__ = [
    "PACKAGE",
    "IN_MEMORY_BYTES",
    "AnalysisError",
    "Layout",
    "layout",
    "use_out_of_core",
    "derive",
    "index_dim",
    "sum_over_blocks",
    "random_rows",
]

PACKAGE = "sidkit-analytics"

#: Above this many bytes (of the samples x features matrix) the automatic
#: choice is the out-of-core algorithm; below it the data are computed into
#: memory and scikit-learn is called directly.
IN_MEMORY_BYTES = 2**30

#: Target size of one row block of the samples x features matrix: small
#: enough that a worker holds several (input, centred copy, products) well
#: inside a 1 GiB memory limit.
BLOCK_BYTES = 32 * 2**20

_FEATURE_TYPES = (DimensionType.SPECTRAL, DimensionType.RECIPROCAL)
_SAMPLE_TYPES = (DimensionType.SPATIAL, DimensionType.TEMPORAL)


class AnalysisError(SidkitError, ValueError):
    """An analysis cannot run on the input as given (wrong dims, too few labels, ...)."""


def _names(ds: Dataset, keys: Any) -> tuple[str, ...]:
    if keys is None:
        return ()
    if isinstance(keys, (str, int, DimensionType)):
        keys = [keys]
    try:
        return tuple(ds.dims[i].name for i in ds.axes(tuple(keys)))
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise AnalysisError(f"{keys!r} does not name dims of {list(ds.dim_names)}: {exc}") from exc


@dataclass(frozen=True)
class Layout:
    """How a dataset maps onto a samples x features matrix."""

    sample_dims: tuple[Dimension, ...]
    feature_dims: tuple[Dimension, ...]

    @property
    def sample_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.sample_dims)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.feature_dims)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(len(d) for d in self.sample_dims)

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(len(d) for d in self.feature_dims)

    @property
    def n_samples(self) -> int:
        return int(np.prod(self.sample_shape, dtype=np.int64))

    @property
    def n_features(self) -> int:
        return int(np.prod(self.feature_shape, dtype=np.int64))


def layout(ds: Dataset, sample_dims: Any = None, feature_dims: Any = None) -> Layout:
    """Decide which dims are samples and which are features.

    Spatial and temporal dims are samples, spectral and reciprocal dims
    features, unless ``sample_dims`` / ``feature_dims`` say otherwise (either
    one is enough: the other is every remaining dim). Dims of other types
    (unknown, channel) go to the features when no dim is spectral or
    reciprocal, else to the samples.

    Raises
    ------
    AnalysisError
        The choice leaves no sample or no feature dim, or names a dim twice.
    """
    s = _names(ds, sample_dims)
    f = _names(ds, feature_dims)
    if s and f:
        if set(s) & set(f) or set(s) | set(f) != set(ds.dim_names):
            raise AnalysisError(
                f"sample_dims {s} and feature_dims {f} must split the dims "
                f"{list(ds.dim_names)} between them, each dim once"
            )
    elif s:
        f = tuple(n for n in ds.dim_names if n not in s)
    elif f:
        s = tuple(n for n in ds.dim_names if n not in f)
    else:
        f = tuple(d.name for d in ds.dims if d.dimension_type in _FEATURE_TYPES)
        if not f:
            f = tuple(d.name for d in ds.dims if d.dimension_type not in _SAMPLE_TYPES)
        s = tuple(n for n in ds.dim_names if n not in f)
    if not s or not f:
        kinds = ", ".join(f"{d.name} ({d.dimension_type.name})" for d in ds.dims)
        raise AnalysisError(
            f"cannot split dims [{kinds}] into samples and features (samples {list(s)}, "
            f"features {list(f)}); pass sample_dims= or feature_dims="
        )
    return Layout(tuple(ds.dim(n) for n in s), tuple(ds.dim(n) for n in f))


def matrix(ds: Dataset, lay: Layout, *, row_chunks: Any = None) -> da.Array:
    """The data as a lazy (samples, features) dask array, features in one chunk.

    Row blocks hold about :data:`BLOCK_BYTES` unless ``row_chunks`` is given.
    """
    folded = ds.transpose(*lay.sample_names, *lay.feature_names).fold(lay.sample_names, "_sample")
    if len(lay.feature_names) > 1:
        folded = folded.fold(lay.feature_names, "_feature")
    x = folded.data
    if row_chunks is None:
        row_bytes = max(1, lay.n_features * x.dtype.itemsize)
        row_chunks = int(max(1, min(lay.n_samples, BLOCK_BYTES // row_bytes)))
    return x.rechunk({0: row_chunks, 1: -1})


def matrix_in_memory(ds: Dataset, lay: Layout) -> np.ndarray:
    """The data as a numpy (samples, features) array.

    Computes the dataset in its own chunking first (in one read, or without
    any copy for in-memory data; see :mod:`sidkit.core.fastpath`) and
    reorders in numpy, which is much cheaper than rechunking in dask (no copy
    when the dims are already samples-then-features).
    """
    order = [ds.axis(n) for n in lay.sample_names + lay.feature_names]
    arr = ds.to_numpy()
    if order != list(range(ds.ndim)):
        arr = np.transpose(arr, order)
    return np.ascontiguousarray(arr.reshape(lay.n_samples, lay.n_features))


def use_out_of_core(x: da.Array, out_of_core: bool | None) -> bool:
    """Resolve ``out_of_core=None`` by the size of ``x``."""
    if out_of_core is None:
        return int(x.nbytes) > IN_MEMORY_BYTES
    return bool(out_of_core)


def sum_over_blocks(x: da.Array, func: Callable[..., np.ndarray], *args: Any,
                    split_every: int = 8) -> np.ndarray:
    """``sum(func(block, *args) for block in row blocks of x)`` in one pass.

    Each row block of ``x`` gives a small array (e.g. a Gram matrix or
    per-cluster sums); these are added in a tree, where dask runs (on the
    workers of an active ``dask.distributed`` client), so only a few partial
    sums are held at a time and only the total reaches this process.
    """
    from dask import delayed

    parts = [delayed(func)(block, *args) for block in x.to_delayed().ravel()]
    while len(parts) > 1:
        parts = [delayed(_add)(*parts[i:i + split_every]) for i in range(0, len(parts), split_every)]
    return np.asarray(parts[0].compute())


def _add(*parts: np.ndarray) -> np.ndarray:
    return np.sum(parts, axis=0)


def random_rows(x: da.Array, n: int, seed: int | None) -> np.ndarray:
    """``n`` rows of ``x`` drawn at random without replacement, in file order.

    Every row block sends its own rows here (one pass over ``x``); they are
    joined in this process, never on one worker.
    """
    import dask
    from dask import delayed

    rng = np.random.default_rng(seed)
    m = min(int(n), x.shape[0])
    idx = np.sort(rng.choice(x.shape[0], size=m, replace=False))
    bounds = np.cumsum((0,) + x.chunks[0])
    parts = []
    for block, start, stop in zip(x.to_delayed().ravel(), bounds[:-1], bounds[1:]):
        local = idx[(idx >= start) & (idx < stop)] - start
        if local.size:
            parts.append(delayed(np.take)(block, local, axis=0))
    return np.concatenate(dask.compute(*parts))


def index_dim(name: str, n: int, *, values: Sequence[Any] | None = None) -> Dimension:
    """A channel dim such as ``component`` or ``cluster`` (index values)."""
    return Dimension(name, np.arange(n) if values is None else np.asarray(values),
                     quantity="index", units="", dimension_type=DimensionType.CHANNEL)


def derive(ds: Dataset, data: Any, dims: Sequence[Dimension], process: str,
           parameters: Mapping[str, Any], **attrs: Any) -> Dataset:
    """``ds.derive`` with this package's process name and distribution."""
    return ds.derive(data, list(dims), process=f"sidkit.analytics.{process}",
                     parameters=dict(parameters), package=PACKAGE, **attrs)


def as_dask(x: Any) -> da.Array:
    return x if isinstance(x, da.Array) else da.from_array(np.asarray(x))


def check_same_samples(ds: Dataset, other: Dataset, lay: Layout, what: str) -> Dataset:
    """Transpose ``other`` to the sample dims of ``lay`` or raise."""
    names = lay.sample_names
    if set(other.dim_names) != set(names):
        raise DimensionMismatchError(
            f"{what} has dims {list(other.dim_names)} but the samples of the data are {list(names)}"
        )
    other = other.transpose(*names)
    if other.shape != lay.sample_shape:
        raise DimensionMismatchError(
            f"{what} has shape {other.shape} but the samples of the data have {lay.sample_shape}"
        )
    return other
