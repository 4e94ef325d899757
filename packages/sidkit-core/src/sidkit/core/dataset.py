"""The N-dimensional :class:`Dataset`: a lazy dask array that knows its
dimensions, units, kind, metadata and history."""

from __future__ import annotations

import copy as _copy
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from .dimension import Dimension
from .enums import DataType, DimensionType
from .errors import DimensionMismatchError, UnsupportedOperationError
from .fastpath import chain_direct_read, direct_read, one_block, wrap_numpy
from .provenance import make_record

__all__ = ["Dataset", "guess_data_type"]

DimKey = str | int | DimensionType

_ATTRS = ("title", "quantity", "units", "data_type", "modality", "source")


def guess_data_type(dims: Sequence[Dimension]) -> DataType:
    """The most likely :class:`DataType` for a set of dimensions.

    Two spatial (or reciprocal) dims make an image; with a spectral dim, a
    spectral image; with a temporal or other dim, an image stack; two spatial
    plus two reciprocal dims, 4D-STEM. One spectral dim is a spectrum, any
    other single dim a line plot.
    """
    kinds = [d.dimension_type for d in dims]
    n = len(kinds)
    sp = kinds.count(DimensionType.SPATIAL)
    rc = kinds.count(DimensionType.RECIPROCAL)
    spec = kinds.count(DimensionType.SPECTRAL)
    if n == 1:
        return DataType.SPECTRUM if spec == 1 else DataType.LINE_PLOT
    if n == 2:
        if spec == 1:
            return DataType.LINE_PLOT_FAMILY if sp + rc == 0 else DataType.SPECTRAL_IMAGE
        return DataType.IMAGE
    if n == 3:
        if spec == 1 and sp + rc + kinds.count(DimensionType.UNKNOWN) == 2:
            return DataType.SPECTRAL_IMAGE
        if sp == 2 or rc == 2 or (sp + rc) < 2:
            return DataType.IMAGE_STACK
    if n == 4 and sp == 2 and rc == 2:
        return DataType.IMAGE_4D
    if n == 4 and spec >= 1 and sp == 2:
        return DataType.SPECTRAL_IMAGE
    return DataType.UNKNOWN


def _as_dask(data: Any, chunks: Any = "auto") -> da.Array:
    if isinstance(data, da.Array):
        return data
    if isinstance(data, Dataset):
        return data.data
    if isinstance(data, np.ndarray) and type(data) is np.ndarray:
        return wrap_numpy(data, chunks)
    arr = data if hasattr(data, "shape") and hasattr(data, "dtype") else np.asarray(data)
    if type(arr) is np.ndarray:
        return wrap_numpy(arr, chunks)
    return da.from_array(arr, chunks=chunks if np.ndim(arr) else ())


def _units_binary(name: str, a: Dataset | None, b: Dataset | None, units: str) -> str:
    if name in {"multiply", "divide", "true_divide"} and a is not None and b is not None:
        op = "*" if name == "multiply" else "/"
        return f"({a.units}){op}({b.units})"
    return units


_KEEP_UNITS = {
    "add", "subtract", "negative", "positive", "absolute", "fabs", "conjugate", "conj",
    "real", "imag", "maximum", "minimum", "fmax", "fmin", "multiply", "divide",
    "true_divide", "floor", "ceil", "rint", "trunc", "remainder", "mod", "fmod",
}
_BOOL_RESULT = {
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_not", "logical_xor",
    "signbit",
}


class Dataset(NDArrayOperatorsMixin):
    """An N-dimensional array with dimensions, units, metadata and provenance.

    The data are a :class:`dask.array.Array`; nothing is computed until
    :meth:`compute`, :func:`numpy.asarray`, ``float()`` or a plot asks for
    values.

    Parameters
    ----------
    data : array_like or dask.array.Array
        The values; numpy (or any array-like) input is wrapped lazily.
    dims : sequence of Dimension or str, optional
        One per axis. A ``str`` gives a dimension of that name with index
        values. Without dims, axes are named ``dim_0``, ``dim_1``, ...
    title, quantity, units : str
        What the values are: e.g. ``"HAADF"``, ``"intensity"``, ``"counts"``.
    data_type : DataType or str, optional
        Kind of dataset; guessed from the dims' types when omitted.
    modality, source : str
        Technique (``"STEM"``, ``"EELS"``) and origin (file, instrument).
    metadata, original_metadata : dict, optional
        Normalised metadata, and the file's own metadata as read.
    provenance : list of dict, optional
        History records (see :func:`sidkit.core.provenance.make_record`).
    variance : array_like, optional
        Variance of every value; same shape as ``data``.
    chunks : dask chunk specification, default "auto"
        Chunking used when wrapping a non-dask array.

    Raises
    ------
    DimensionMismatchError
        The number or lengths of dims do not match the data, or dim names repeat.
    """

    __array_priority__ = 20

    def __init__(
        self,
        data: Any,
        dims: Sequence[Dimension | str] | None = None,
        *,
        title: str = "",
        quantity: str = "generic",
        units: str = "a.u.",
        data_type: DataType | str | None = None,
        modality: str = "",
        source: str = "",
        metadata: Mapping[str, Any] | None = None,
        original_metadata: Mapping[str, Any] | None = None,
        provenance: Iterable[Mapping[str, Any]] | None = None,
        variance: Any = None,
        chunks: Any = "auto",
    ) -> None:
        # a numpy array that makes one block is wrapped in dask only when
        # ``.data`` is first asked for: building a dask array costs more than
        # reading a small one (a file may hold dozens)
        self._numpy: np.ndarray | None = None
        self._dask: da.Array | None = None
        if type(data) is np.ndarray and one_block(data, chunks):
            self._numpy, self._chunk_spec = data, chunks
            shape = data.shape
        else:
            self._dask = _as_dask(data, chunks)
            shape = self._dask.shape
        self._dims: tuple[Dimension, ...] = self._check_dims(shape, dims)
        self.title = str(title)
        self.quantity = str(quantity)
        self.units = str(units)
        self.data_type = (
            guess_data_type(self._dims) if data_type is None else DataType.coerce(data_type)
        )
        self.modality = str(modality)
        self.source = str(source)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.original_metadata: dict[str, Any] = dict(original_metadata or {})
        self.provenance: list[dict[str, Any]] = [dict(r) for r in (provenance or [])]
        self._variance: da.Array | None = None
        self.variance = variance
        self._fold_orders: dict[str, tuple[str, ...]] = {}

    @staticmethod
    def _check_dims(shape: tuple[int, ...], dims: Sequence[Dimension | str] | None) -> tuple[Dimension, ...]:
        if dims is None:
            return tuple(Dimension(f"dim_{i}", n) for i, n in enumerate(shape))
        if isinstance(dims, (str, Dimension)):
            dims = [dims]
        dims = [Dimension(d, shape[i]) if isinstance(d, str) and i < len(shape) else d
                for i, d in enumerate(dims)]
        if len(dims) != len(shape):
            raise DimensionMismatchError(
                f"{len(dims)} dims given for data of shape {shape} ({len(shape)} axes)"
            )
        for i, (d, n) in enumerate(zip(dims, shape)):
            if not isinstance(d, Dimension):
                raise DimensionMismatchError(f"dim {i} is {d!r}, not a Dimension or str")
            if len(d) != n:
                raise DimensionMismatchError(
                    f"dimension '{d.name}' has {len(d)} values but axis {i} has length {n}"
                )
        names = [d.name for d in dims]
        if len(set(names)) != len(names):
            raise DimensionMismatchError(f"dimension names must be unique, got {names}")
        return tuple(dims)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_array(
        cls,
        array: Any,
        *,
        dims: Sequence[Dimension | str] | None = None,
        title: str = "",
        quantity: str = "generic",
        units: str = "a.u.",
        data_type: DataType | str | None = None,
        modality: str = "",
        source: str = "",
        metadata: Mapping[str, Any] | None = None,
        original_metadata: Mapping[str, Any] | None = None,
        chunks: Any = "auto",
    ) -> Dataset:
        """Wrap a numpy or dask array (the entry point for users of sidpy).

        See :class:`Dataset` for the parameters. The returned dataset carries
        a provenance record of its creation.
        """
        ds = cls(
            array,
            dims,
            title=title,
            quantity=quantity,
            units=units,
            data_type=data_type,
            modality=modality,
            source=source,
            metadata=_copy.deepcopy(dict(metadata or {})),
            original_metadata=_copy.deepcopy(dict(original_metadata or {})),
            chunks=chunks,
        )
        ds.provenance.append(make_record("sidkit.core.Dataset.from_array", {"shape": ds.shape}))
        return ds

    def derive(
        self,
        data: Any = None,
        dims: Sequence[Dimension | str] | None = None,
        *,
        process: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        package: str = "sidkit-core",
        keep_variance: bool = False,
        **attrs: Any,
    ) -> Dataset:
        """A new dataset made from this one, with a provenance record.

        Every function that derives a dataset from another should build its
        result with this method, so attributes and history travel along.

        Parameters
        ----------
        data : array_like, optional
            New values; this dataset's data when omitted.
        dims : sequence of Dimension, optional
            New dims; this dataset's dims when omitted.
        process : str, optional
            Dotted name of what ran; no record is added when omitted.
        parameters : dict, optional
            Its parameters, stored in the record.
        package : str
            Distribution providing ``process``.
        keep_variance : bool, default False
            Carry the variance along (only when shapes are unchanged).
        **attrs
            Attributes to change: ``title``, ``units``, ``data_type``, ...

        Returns
        -------
        Dataset
        """
        new_data = self._data if data is None else data
        new_dims = self._dims if dims is None else dims
        kwargs: dict[str, Any] = {a: getattr(self, a) for a in _ATTRS}
        if dims is not None and "data_type" not in attrs:
            kwargs["data_type"] = None
        kwargs.update(metadata=_copy.deepcopy(self.metadata),
                      original_metadata=_copy.deepcopy(self.original_metadata),
                      provenance=_copy.deepcopy(self.provenance))
        kwargs.update(attrs)
        out = Dataset(new_data, new_dims, **kwargs)
        if keep_variance and self._variance is not None and out.shape == self.shape:
            out._variance = self._variance
        if process is not None:
            out.provenance.append(make_record(process, dict(parameters or {}), package=package))
        out._fold_orders = {k: v for k, v in self._fold_orders.items() if k in out.dim_names}
        return out

    # ------------------------------------------------------------------ basic attributes
    @property
    def data(self) -> da.Array:
        """The values as a lazy :class:`dask.array.Array`."""
        return self._data

    @property
    def _data(self) -> da.Array:
        if self._dask is None:
            self._dask = wrap_numpy(self._numpy, self._chunk_spec)
        return self._dask

    @property
    def _array(self) -> Any:
        """The numpy values not yet wrapped, else the dask array (for shape, dtype, ...)."""
        return self._numpy if self._dask is None else self._dask

    @property
    def dims(self) -> tuple[Dimension, ...]:
        """One :class:`Dimension` per axis, in axis order."""
        return self._dims

    @property
    def dim_names(self) -> tuple[str, ...]:
        """The dims' names in axis order."""
        return tuple(d.name for d in self._dims)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self._array.shape)

    @property
    def ndim(self) -> int:
        return self._array.ndim

    @property
    def size(self) -> int:
        return int(self._array.size)

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def nbytes(self) -> int:
        return int(self._array.nbytes)

    @property
    def chunks(self) -> tuple[tuple[int, ...], ...]:
        return self._data.chunks

    @property
    def variance(self) -> da.Array | None:
        """Variance of each value as a dask array, or None."""
        return self._variance

    @variance.setter
    def variance(self, value: Any) -> None:
        if value is None:
            self._variance = None
            return
        shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
        if shape != self._data.shape:
            raise DimensionMismatchError(
                f"variance shape {shape} differs from data shape {self._data.shape}"
            )
        var = _as_dask(value, self._data.chunks)
        self._variance = var

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Dataset")
        return self.shape[0]

    # ------------------------------------------------------------------ dim lookup
    def axis(self, key: DimKey) -> int:
        """Axis index of a dim given by name or (possibly negative) index.

        Raises
        ------
        KeyError
            No dim has that name.
        IndexError
            The index is out of range.
        """
        if isinstance(key, (bool, np.bool_)):
            raise TypeError(f"{key!r} is not a dim name or index")
        if isinstance(key, numbers.Integral):
            i = int(key)
            if not -self.ndim <= i < self.ndim:
                raise IndexError(f"axis {i} is out of range for {self.ndim} dims")
            return i % self.ndim
        if isinstance(key, str):
            for i, d in enumerate(self._dims):
                if d.name == key:
                    return i
            raise KeyError(f"no dim named {key!r}; dims are {list(self.dim_names)}")
        raise TypeError(f"{key!r} is not a dim name or index")

    def axes(self, key: DimKey | Sequence[DimKey] | None) -> tuple[int, ...]:
        """Axis indices for a name, index, :class:`DimensionType` or a tuple of them.

        ``None`` means every axis. A DimensionType (or its name, when no dim
        has that name) means every dim of that type.
        """
        if key is None:
            return tuple(range(self.ndim))
        keys = list(key) if isinstance(key, (tuple, list)) else [key]
        out: list[int] = []
        for k in keys:
            if isinstance(k, DimensionType) or (
                isinstance(k, str) and k not in self.dim_names and _is_dim_type(k)
            ):
                kind = DimensionType.coerce(k)
                found = [i for i, d in enumerate(self._dims) if d.dimension_type == kind]
                if not found:
                    raise KeyError(f"no dim of type {kind.name}; dims are {self._dims_brief()}")
                out.extend(found)
            else:
                out.append(self.axis(k))
        if len(set(out)) != len(out):
            raise ValueError(f"dims repeat in {key!r}")
        return tuple(out)

    def dim(self, key: DimKey) -> Dimension:
        """The :class:`Dimension` given by name or index."""
        return self._dims[self.axis(key)]

    def dims_of_type(self, kind: DimensionType | str) -> tuple[Dimension, ...]:
        """All dims of one :class:`DimensionType`, in axis order."""
        kind = DimensionType.coerce(kind)
        return tuple(d for d in self._dims if d.dimension_type == kind)

    def _dims_brief(self) -> str:
        return ", ".join(f"{d.name} ({d.dimension_type.name})" for d in self._dims)

    def set_dim(self, key: DimKey, dim: Dimension) -> Dataset:
        """A copy with one dim replaced (same length required)."""
        i = self.axis(key)
        dims = list(self._dims)
        dims[i] = dim
        return self.derive(dims=dims, data_type=self.data_type)

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, key: Any) -> Dataset:
        if isinstance(key, Dataset):
            key = key.data
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is None for k in key):
            raise UnsupportedOperationError("new axes (None) are not supported; use expand_dims")
        n_ell = sum(1 for k in key if k is Ellipsis)
        if n_ell > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        # boolean masks over several axes are not supported: keep it simple and explicit
        n_used = sum(np.ndim(k) if _is_bool_array(k) else 1 for k in key if k is not Ellipsis)
        if n_used > self.ndim:
            raise IndexError(f"too many indices for a Dataset with {self.ndim} dims")
        if n_ell:
            i = next(j for j, k in enumerate(key) if k is Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - n_used) + key[i + 1 :]
        key = key + (slice(None),) * (self.ndim - len(key))
        arrays = [k for k in key if not isinstance(k, (slice, numbers.Integral))]
        if len(arrays) > 1:
            raise UnsupportedOperationError(
                "only one integer array or boolean mask per index; index in two steps"
            )
        new_dims: list[Dimension] = []
        norm_key: list[Any] = []
        for d, k in zip(self._dims, key):
            if isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_)):
                n = len(d)
                if not -n <= int(k) < n:
                    raise IndexError(f"index {k} is out of range for dim '{d.name}' of length {n}")
                norm_key.append(int(k))
                continue
            if isinstance(k, slice):
                norm_key.append(k)
                new_dims.append(d.replace(values=d.values[k]))
                continue
            idx = np.asarray(k.compute() if hasattr(k, "compute") else k)
            if idx.dtype == bool:
                if idx.ndim != 1 or idx.shape[0] != len(d):
                    raise IndexError(
                        f"boolean mask of shape {idx.shape} does not match dim '{d.name}' ({len(d)})"
                    )
            elif idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
                raise IndexError(f"index for dim '{d.name}' must be an int, slice, 1-D int array or mask")
            norm_key.append(idx)
            new_dims.append(d.replace(values=d.values[idx]))
        data = self._data[tuple(norm_key)]
        out = self.derive(
            data, new_dims,
            data_type=self.data_type if data.ndim == self.ndim else None,
        )
        if self._variance is not None:
            out._variance = self._variance[tuple(norm_key)]
        return out

    def isel(self, indexers: Mapping[DimKey, Any] | None = None, **kwargs: Any) -> Dataset:
        """Select by position along named dims: ``ds.isel(x=slice(0, 10), energy=5)``."""
        sel = dict(indexers or {}, **kwargs)
        key: list[Any] = [slice(None)] * self.ndim
        for name, index in sel.items():
            key[self.axis(name)] = index
        return self[tuple(key)]

    def sel(
        self,
        indexers: Mapping[DimKey, Any] | None = None,
        *,
        method: str | None = None,
        **kwargs: Any,
    ) -> Dataset:
        """Select by coordinate value along named dims.

        A value picks one element (exactly, or the nearest with
        ``method="nearest"``); a ``slice(start, stop)`` of values keeps every
        element whose value lies between them, both ends included; a list of
        values picks each.

        Examples
        --------
        >>> ds.sel(energy_loss=slice(400.0, 600.0))   # doctest: +SKIP
        >>> ds.sel(x=1.25, method="nearest")           # doctest: +SKIP
        """
        sel = dict(indexers or {}, **kwargs)
        index: dict[str, Any] = {}
        for name, value in sel.items():
            d = self.dim(name)
            if isinstance(value, slice):
                v = d.values.astype(float)
                lo = -np.inf if value.start is None else float(value.start)
                hi = np.inf if value.stop is None else float(value.stop)
                if lo > hi:
                    lo, hi = hi, lo
                tol = 1e-9 * (abs(d.scale) if len(d) > 1 else 1.0)
                hits = np.nonzero((v >= lo - tol) & (v <= hi + tol))[0]
                if value.step is not None:
                    hits = hits[:: int(value.step)]
                if hits.size and np.all(np.diff(hits) == 1):
                    index[d.name] = slice(int(hits[0]), int(hits[-1]) + 1)
                else:
                    index[d.name] = hits
            elif np.ndim(value) == 1:
                index[d.name] = np.array([d.index_of(x, method) for x in value], dtype=int)
            else:
                index[d.name] = d.index_of(value, method)
        return self.isel(index)

    # ------------------------------------------------------------------ numpy protocol
    def _values(self, **kwargs: Any) -> np.ndarray:
        """Compute the data: by a reader's direct read where one is registered
        (see :mod:`sidkit.core.fastpath`), else block by block with dask."""
        if not kwargs:
            if self._dask is None:
                return self._numpy
            arr = direct_read(self._data)
            if arr is not None:
                return arr
        return np.asarray(self._data.compute(**kwargs))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self._values()
        return arr.astype(dtype, copy=False) if dtype is not None else arr

    def to_numpy(self) -> np.ndarray:
        """Compute and return the values as a numpy array."""
        return np.asarray(self)

    def _scalar(self) -> Any:
        if self.size != 1:
            raise TypeError(f"only a Dataset of one element converts to a scalar (shape {self.shape})")
        return np.asarray(self._data.compute()).reshape(()).item()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __complex__(self) -> complex:
        return complex(self._scalar())

    def __bool__(self) -> bool:
        return bool(self._scalar())

    def _compatible(self, other: Dataset) -> None:
        if other.shape != self.shape or other.dim_names != self.dim_names:
            raise DimensionMismatchError(
                f"cannot combine datasets with dims {self._dims_brief()} {self.shape} "
                f"and {other._dims_brief()} {other.shape}; transpose or select first"
            )
        for a, b in zip(self._dims, other._dims):
            if a.units != b.units or not np.allclose(
                np.asarray(a.values, dtype=float) if np.issubdtype(a.values.dtype, np.number) else 0,
                np.asarray(b.values, dtype=float) if np.issubdtype(b.values.dtype, np.number) else 0,
            ):
                raise DimensionMismatchError(
                    f"dim '{a.name}' differs between the datasets (values or units); "
                    "they are not on the same grid"
                )

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or "out" in kwargs:
            raise UnsupportedOperationError(
                f"numpy.{ufunc.__name__}.{method} (or out=) is not supported on a Dataset; "
                "apply it to ds.data"
            )
        datasets = [x for x in inputs if isinstance(x, Dataset)]
        first = datasets[0]
        for other in datasets[1:]:
            first._compatible(other)
        raw = [x.data if isinstance(x, Dataset) else x for x in inputs]
        for x in raw:
            if isinstance(x, np.ndarray) and x.nbytes > 0 and np.broadcast_shapes(x.shape, first.shape) != first.shape:
                raise DimensionMismatchError(
                    f"an array of shape {x.shape} would change the Dataset's shape {first.shape}"
                )
        result = ufunc(*raw, **kwargs)
        name = ufunc.__name__
        if name in _BOOL_RESULT:
            units = ""
        elif name in _KEEP_UNITS:
            a = inputs[0] if isinstance(inputs[0], Dataset) else None
            b = inputs[1] if len(inputs) > 1 and isinstance(inputs[1], Dataset) else None
            units = _units_binary(name, a, b, first.units)
        else:
            units = "a.u."

        def wrap(r: Any) -> Any:
            if not hasattr(r, "shape") or tuple(r.shape) != first.shape:
                return r
            return first.derive(r, data_type=first.data_type, units=units,
                                process=f"numpy.{name}", parameters={})

        if isinstance(result, tuple):
            return tuple(wrap(r) for r in result)
        return wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        name = func.__name__
        handler = _ARRAY_FUNCTIONS.get(name)
        if handler is not None:
            return handler(*args, **kwargs)
        dfunc = getattr(da, name, None)
        if dfunc is None or name in _NOT_NATURAL:
            raise UnsupportedOperationError(
                f"numpy.{name} is not supported on a Dataset; call it on ds.data "
                "(a dask array) or on np.asarray(ds)"
            )
        first = next(x for x in _flatten(args) if isinstance(x, Dataset))
        result = dfunc(*_unwrap(args), **_unwrap(kwargs))
        if isinstance(result, da.Array) and result.shape == first.shape:
            return first.derive(result, data_type=first.data_type,
                                process=f"numpy.{name}", parameters={})
        return result

    # ------------------------------------------------------------------ reductions
    def _reduce(self, op: str, dim: Any = None, *, skipna: bool = False,
                keepdims: bool = False, **kwargs: Any) -> Dataset:
        axes = self.axes(dim)
        fname = f"nan{op}" if skipna else op
        result = getattr(da, fname)(self._data, axis=axes, keepdims=keepdims, **kwargs)
        if keepdims:
            dims = [d.replace(values=d.values[:1]) if i in axes else d for i, d in enumerate(self._dims)]
        else:
            dims = [d for i, d in enumerate(self._dims) if i not in axes]
        units = self.units
        if op == "var":
            units = f"({self.units})^2" if self.units not in {"", "a.u."} else self.units
        return self.derive(
            result, dims, units=units,
            process=f"sidkit.core.Dataset.{op}",
            parameters={"dim": [self._dims[i].name for i in axes], "skipna": skipna, **kwargs},
        )

    def sum(self, dim: Any = None, *, skipna: bool = False, keepdims: bool = False) -> Dataset:
        """Sum over ``dim``: a name, an index, a DimensionType, a tuple of them, or all.

        Returns a lazy Dataset without the reduced dims; ``float()`` of a full
        reduction computes it.
        """
        return self._reduce("sum", dim, skipna=skipna, keepdims=keepdims)

    def mean(self, dim: Any = None, *, skipna: bool = False, keepdims: bool = False) -> Dataset:
        """Mean over ``dim`` (see :meth:`sum`)."""
        return self._reduce("mean", dim, skipna=skipna, keepdims=keepdims)

    def std(self, dim: Any = None, *, ddof: int = 0, skipna: bool = False, keepdims: bool = False) -> Dataset:
        """Standard deviation over ``dim`` (see :meth:`sum`)."""
        return self._reduce("std", dim, skipna=skipna, keepdims=keepdims, ddof=ddof)

    def var(self, dim: Any = None, *, ddof: int = 0, skipna: bool = False, keepdims: bool = False) -> Dataset:
        """Variance over ``dim`` (see :meth:`sum`); units are squared."""
        return self._reduce("var", dim, skipna=skipna, keepdims=keepdims, ddof=ddof)

    def min(self, dim: Any = None, *, skipna: bool = False, keepdims: bool = False) -> Dataset:
        """Minimum over ``dim`` (see :meth:`sum`)."""
        return self._reduce("min", dim, skipna=skipna, keepdims=keepdims)

    def max(self, dim: Any = None, *, skipna: bool = False, keepdims: bool = False) -> Dataset:
        """Maximum over ``dim`` (see :meth:`sum`)."""
        return self._reduce("max", dim, skipna=skipna, keepdims=keepdims)

    # ------------------------------------------------------------------ reshaping
    def transpose(self, *dims: DimKey) -> Dataset:
        """Reorder axes by name or index; no argument reverses them."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        order = tuple(range(self.ndim))[::-1] if not dims else tuple(self.axis(d) for d in dims)
        if sorted(order) != list(range(self.ndim)):
            raise ValueError(f"transpose needs every dim once, got {dims!r} for {list(self.dim_names)}")
        out = self.derive(self._data.transpose(order), [self._dims[i] for i in order],
                          data_type=self.data_type)
        if self._variance is not None:
            out._variance = self._variance.transpose(order)
        return out

    @property
    def T(self) -> Dataset:
        return self.transpose()

    def squeeze(self, dim: DimKey | Sequence[DimKey] | None = None) -> Dataset:
        """Drop length-1 dims (all of them, or those named)."""
        axes = [i for i, n in enumerate(self.shape) if n == 1] if dim is None else list(self.axes(dim))
        for i in axes:
            if self.shape[i] != 1:
                raise ValueError(f"dim '{self._dims[i].name}' has length {self.shape[i]}, not 1")
        key = tuple(0 if i in axes else slice(None) for i in range(self.ndim))
        return self[key]

    def expand_dims(self, dim: Dimension | str, axis: int = 0) -> Dataset:
        """Insert a new length-1 dim at ``axis``."""
        d = Dimension(dim, 1) if isinstance(dim, str) else dim
        if len(d) != 1:
            raise DimensionMismatchError(f"a new dim must have length 1, '{d.name}' has {len(d)}")
        dims = list(self._dims)
        dims.insert(axis, d)
        return self.derive(da.expand_dims(self._data, axis), dims)

    def rechunk(self, chunks: Any = "auto") -> Dataset:
        """Change the dask chunking; a dict may name dims: ``{"energy": -1}``."""
        if isinstance(chunks, Mapping):
            chunks = {self.axis(k): v for k, v in chunks.items()}
        out = self.derive(self._data.rechunk(chunks), data_type=self.data_type)
        if self._variance is not None:
            out._variance = self._variance.rechunk(out.chunks)
        return out

    def astype(self, dtype: Any) -> Dataset:
        """Lazily cast the values to ``dtype``."""
        return self.derive(self._data.astype(dtype), data_type=self.data_type, keep_variance=True)

    def compute(self, **kwargs: Any) -> Dataset:
        """Compute the values now; the result holds them in memory."""
        arr = self._values(**kwargs)
        out = self.derive(wrap_numpy(arr, self._data.chunks),
                          data_type=self.data_type)
        if self._variance is not None:
            out._variance = da.from_array(np.asarray(self._variance.compute(**kwargs)),
                                          chunks=self._data.chunks)
        return out

    def persist(self, **kwargs: Any) -> Dataset:
        """Compute the values and keep them in (possibly distributed) memory, as dask chunks."""
        out = self.derive(self._data.persist(**kwargs), data_type=self.data_type)
        if self._variance is not None:
            out._variance = self._variance.persist(**kwargs)
        return out

    def copy(self, deep: bool = True) -> Dataset:
        """A copy; ``deep`` copies metadata, original metadata and provenance too.

        The dask graph is immutable and is shared either way.
        """
        out = Dataset.__new__(Dataset)
        out.__dict__.update(self.__dict__)
        if deep:
            for a in ("metadata", "original_metadata", "provenance", "_fold_orders"):
                setattr(out, a, _copy.deepcopy(getattr(self, a)))
        else:
            for a in ("metadata", "original_metadata", "_fold_orders"):
                setattr(out, a, dict(getattr(self, a)))
            out.provenance = list(self.provenance)
        return out

    # ------------------------------------------------------------------ fold / unfold
    def fold(self, dims: Sequence[DimKey], name: str) -> Dataset:
        """Merge ``dims`` into one axis ``name``, row-major in the order given.

        The new axis stands where the first of ``dims`` stood; the other dims
        keep their order. :meth:`unfold` restores the original dims exactly.

        Examples
        --------
        A spectral image (x, y, energy) becomes a samples x features matrix:

        >>> flat = si.fold(("x", "y"), "position")   # doctest: +SKIP
        >>> flat.dim_names                            # doctest: +SKIP
        ('position', 'energy')
        """
        if isinstance(dims, (str, int)):
            dims = [dims]
        axes = [self.axis(d) for d in dims]
        if len(set(axes)) != len(axes) or not axes:
            raise ValueError(f"fold needs distinct dims, got {dims!r}")
        if name in self.dim_names and self.axis(name) not in axes:
            raise ValueError(f"'{name}' already names another dim")
        rest = [i for i in range(self.ndim) if i not in axes]
        pos = sum(1 for i in rest if i < axes[0])
        order = rest[:pos] + axes + rest[pos:]
        data = self._data.transpose(order)
        new_shape = data.shape[:pos] + (int(np.prod([self.shape[i] for i in axes])),) + data.shape[pos + len(axes):]
        data = data.reshape(new_shape)
        chain_direct_read(data, self._data, lambda v: v.transpose(order).reshape(new_shape),
                          in_memory_only=True)
        parts = tuple(self._dims[i] for i in axes)
        kinds = {d.dimension_type for d in parts}
        folded = Dimension(
            name, new_shape[pos], quantity="index", units="",
            dimension_type=kinds.pop() if len(kinds) == 1 else DimensionType.UNKNOWN,
        )
        folded._parts = parts
        dims_out = [self._dims[i] for i in rest[:pos]] + [folded] + [self._dims[i] for i in rest[pos:]]
        out = self.derive(data, dims_out, data_type=self.data_type,
                          process="sidkit.core.Dataset.fold",
                          parameters={"dims": [d.name for d in parts], "name": name})
        out._fold_orders[name] = self.dim_names
        if self._variance is not None:
            out._variance = self._variance.transpose(order).reshape(new_shape)
        return out

    def unfold(self, name: str) -> Dataset:
        """Split a dim made by :meth:`fold` back into the dims it came from.

        Raises
        ------
        ValueError
            ``name`` was not made by :meth:`fold`, or its length changed.
        """
        i = self.axis(name)
        d = self._dims[i]
        parts = d._parts
        if not parts:
            raise ValueError(f"dim '{name}' was not made by fold(); nothing to unfold")
        sizes = tuple(len(p) for p in parts)
        if int(np.prod(sizes)) != len(d):
            raise ValueError(
                f"dim '{name}' has {len(d)} elements but its parts {[p.name for p in parts]} "
                f"need {int(np.prod(sizes))}; it was sliced after folding"
            )
        shape = self.shape[:i] + sizes + self.shape[i + 1 :]
        data = self._data.reshape(shape)
        dims = list(self._dims[:i]) + list(parts) + list(self._dims[i + 1 :])
        out = self.derive(data, dims, data_type=self.data_type,
                          process="sidkit.core.Dataset.unfold", parameters={"name": name})
        if self._variance is not None:
            out._variance = self._variance.reshape(shape)
        order = self._fold_orders.get(name)
        out._fold_orders.pop(name, None)
        if order and set(order) == set(out.dim_names) and tuple(order) != out.dim_names:
            out = out.transpose(*order)
        return out

    # ------------------------------------------------------------------ interop
    def to_xarray(self) -> Any:
        """A lazy :class:`xarray.DataArray` with coords, units and all attributes.

        Requires the ``xarray`` extra.
        """
        from .plugins import require

        xr = require("xarray", extra="xarray", package="sidkit-core", reader="Dataset.to_xarray")
        coords = {
            d.name: (d.name, d.values, {
                "units": d.units, "quantity": d.quantity,
                "dimension_type": d.dimension_type.name,
            })
            for d in self._dims
        }
        attrs = {
            "title": self.title, "quantity": self.quantity, "units": self.units,
            "data_type": self.data_type.name, "modality": self.modality, "source": self.source,
            "metadata": _copy.deepcopy(self.metadata),
            "original_metadata": _copy.deepcopy(self.original_metadata),
            "provenance": _copy.deepcopy(self.provenance),
        }
        return xr.DataArray(self._data, dims=self.dim_names, coords=coords, attrs=attrs,
                            name=self.title)

    @classmethod
    def from_xarray(cls, array: Any) -> Dataset:
        """Build a Dataset from an :class:`xarray.DataArray` (inverse of :meth:`to_xarray`)."""
        dims = []
        for name in array.dims:
            if name in array.coords:
                c = array.coords[name]
                dims.append(Dimension(
                    str(name), np.asarray(c.values),
                    quantity=c.attrs.get("quantity", "generic"),
                    units=c.attrs.get("units", "a.u."),
                    dimension_type=c.attrs.get("dimension_type", "UNKNOWN"),
                ))
            else:
                dims.append(Dimension(str(name), array.sizes[name]))
        a = array.attrs
        data = array.data if isinstance(array.data, da.Array) else array.values
        return cls(
            data, dims,
            title=a.get("title", array.name or ""),
            quantity=a.get("quantity", "generic"), units=a.get("units", "a.u."),
            data_type=a.get("data_type"), modality=a.get("modality", ""),
            source=a.get("source", ""),
            metadata=_copy.deepcopy(a.get("metadata", {})),
            original_metadata=_copy.deepcopy(a.get("original_metadata", {})),
            provenance=_copy.deepcopy(a.get("provenance", [])),
        )

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        from .display import text_repr

        return text_repr(self)

    def _repr_html_(self) -> str:
        from .display import html_repr

        return html_repr(self)

    def plot(self, **kwargs: Any) -> Any:
        """Draw the picture that suits the data type; returns the matplotlib Figure.

        Requires the ``plot`` extra (matplotlib).
        """
        from .plotting import plot

        return plot(self, **kwargs)


def _is_dim_type(name: str) -> bool:
    try:
        DimensionType(name)
    except ValueError:
        return False
    return True


def _is_bool_array(k: Any) -> bool:
    return hasattr(k, "dtype") and np.dtype(k.dtype) == bool


def _flatten(args: Any) -> Iterable[Any]:
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flatten(a)
        else:
            yield a


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, Dataset):
        return obj.data
    if isinstance(obj, tuple):
        return tuple(_unwrap(o) for o in obj)
    if isinstance(obj, list):
        return [_unwrap(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _np_reduction(op: str):
    def handler(a: Dataset, axis: Any = None, *args: Any, keepdims: bool = False, **kwargs: Any) -> Dataset:
        kwargs.pop("out", None)
        kwargs.pop("dtype", None)
        ddof = kwargs.pop("ddof", None)
        extra = {"ddof": ddof} if ddof is not None else {}
        return a._reduce(op.replace("nan", ""), axis, skipna=op.startswith("nan"),
                         keepdims=keepdims, **extra)

    return handler


_ARRAY_FUNCTIONS: dict[str, Any] = {
    name: _np_reduction(name)
    for name in ("sum", "mean", "std", "var", "min", "max", "nansum", "nanmean", "nanstd",
                 "nanvar", "nanmin", "nanmax")
}
_ARRAY_FUNCTIONS.update({
    "amin": _np_reduction("min"),
    "amax": _np_reduction("max"),
    "transpose": lambda a, axes=None: a.transpose(*(axes or ())),
    "squeeze": lambda a, axis=None: a.squeeze(axis),
    "copy": lambda a, *args, **kw: a.copy(),
    "shape": lambda a: a.shape,
    "ndim": lambda a: a.ndim,
    "size": lambda a, axis=None: a.size if axis is None else a.shape[axis],
})
# dask functions whose result would not line up with the dims
_NOT_NATURAL = {"concatenate", "stack", "reshape", "moveaxis", "swapaxes", "rollaxis",
                "ravel", "flip", "fliplr", "flipud", "rot90", "roll", "broadcast_to",
                "expand_dims", "atleast_1d", "atleast_2d", "atleast_3d", "dot",
                "tensordot", "matmul", "einsum", "outer", "diff", "cumsum", "cumprod",
                "sort", "argsort", "fft"}
