"""Read NSID files (pyNSID / sidpy HDF5) into :class:`~sidkit.core.Dataset`.

Every NSID main dataset of the file becomes one Dataset, in file order,
keyed by its pyNSID group name (``.../Channel_000/image/image`` -> ``"image"``;
the HDF5 path when two share a name). Data are read lazily through
:func:`sidkit.core.hdf5.lazy_array`: nothing is loaded until computed, the
dask graph pickles by path and no file handle or lock is kept.

What is recovered:

- the on-disk dtype (never upcast), shape and data;
- the title (``main_data_name``), quantity, units, data type, modality, source;
- one :class:`~sidkit.core.Dimension` per axis from its dimension scale
  (name, values, quantity, units, dimension type);
- ``metadata`` and ``original_metadata`` (exactly as written by sidkit; the
  plain sidpy values for pyNSID files);
- provenance: a sidkit list of records comes back as written. sidpy stores a
  nested dict (``{"sidpy": {"from_array_": "..."}}``); each of its top-level
  entries becomes one record ``{"process": key, "package": "sidpy",
  "parameters": {}, "version": "", "time": "", "record": value}``;
- other sibling groups whose names do not start with ``_`` (for example a
  pyNSID ``Structure_000``) go into ``original_metadata`` under their name.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    DataType,
    Dimension,
    DimensionType,
    SidkitError,
    UnknownFormatError,
    UnsafeFileError,
)
from sidkit.core.fastpath import wrap_numpy
from sidkit.core.hdf5 import attr_to_python, check_storage, h5_file, is_hdf5, lazy_array, open_h5, read_tree
from sidkit.core.plugins import Reader

from .layout import ENCODING_NAME, TREES, VARIANCE_NAME, find_main_datasets, is_nsid_main

__all__ = ["NsidReader", "read_nsid"]

READER = "nsid"
#: Longest axis read (its dimension values are loaded eagerly).
MAX_DIM_LENGTH = 2**26
#: Largest dataset accepted (bytes), lazy or not.
MAX_BYTES = 2**48
#: Largest dataset read eagerly with ``lazy=False`` (bytes).
MAX_EAGER_BYTES = 2**34
_MAX_ENCODING_CHARS = 64 * 2**20


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    value = attr_to_python(value)
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else ", ".join(str(v) for v in value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return str(value)


def _attr(obj: Any, name: str, default: str, keys: Any = None) -> str:
    try:
        if keys is not None and name not in keys:
            return default
        return _text(obj.attrs[name] if keys is not None else obj.attrs.get(name), default)
    except (OSError, KeyError, TypeError, ValueError):
        return default


def _dimension_type(text: str) -> DimensionType:
    try:
        return DimensionType.coerce(text)
    except ValueError:
        return DimensionType.UNKNOWN


def _data_type(text: str | None) -> DataType | None:
    if text is None:
        return None
    try:
        return DataType.coerce(text)
    except ValueError:
        return DataType.UNKNOWN


def _provenance_records(tree: Any) -> list[dict[str, Any]]:
    """sidkit keeps provenance as a list of records; sidpy as a nested dict."""
    if isinstance(tree, (list, tuple)):
        return [dict(r) if isinstance(r, dict) else {"record": r} for r in tree]
    if isinstance(tree, dict):
        return [
            {"process": str(k), "package": "sidpy", "parameters": {}, "version": "", "time": "",
             "record": v}
            for k, v in tree.items()
        ]
    return []


class _DatasetReader:
    """Reads one main dataset of an open file."""

    def __init__(self, path: Path, fh: Any, *, lazy: bool, chunks: Any, strict: bool,
                 allow_external: bool, max_dim_length: int) -> None:
        self.path = path
        self.fh = fh
        self.lazy = lazy
        self.chunks = chunks
        self.strict = strict
        self.allow_external = allow_external
        self.max_dim_length = max_dim_length

    def fail(self, detail: str, cls: type[SidkitError] = CorruptFileError) -> SidkitError:
        return cls(self.path, READER, detail)  # type: ignore[call-arg]

    def sibling(self, parent: Any, name: str) -> Any:
        """``parent[name]`` if it exists, refusing external links unless allowed."""
        import h5py

        link = parent.get(name, getlink=True)
        if link is None or isinstance(link, h5py.SoftLink):
            return None
        if isinstance(link, h5py.ExternalLink) and not self.allow_external:
            raise self.fail(f"{parent.name}/{name} is an external link to {link.filename}:{link.path}; "
                            "pass allow_external=True to follow it", UnsafeFileError)
        return parent.get(name)

    def read(self, h5path: str) -> Dataset:
        dset = self.fh[h5path]
        check_storage(dset, self.path, READER, allow_external=self.allow_external)
        if dset.dtype.kind not in "biufc":
            raise self.fail(f"main dataset {h5path} has dtype {dset.dtype}, not a numeric type; "
                            "NSID main data must be numbers")
        if dset.ndim > 32:
            raise self.fail(f"main dataset {h5path} declares {dset.ndim} axes (HDF5 allows 32)",
                            UnsafeFileError)
        nbytes = int(np.prod([int(n) for n in dset.shape], dtype=object)) * dset.dtype.itemsize
        if nbytes > MAX_BYTES:
            raise self.fail(f"main dataset {h5path} declares shape {dset.shape} "
                            f"({nbytes} bytes), beyond sidkit's limit of {MAX_BYTES} bytes",
                            UnsafeFileError)
        dims = self.dims(dset)
        parent = dset.parent
        encoding = self.encoding(parent)
        trees = {}
        for tree in TREES:
            obj = self.sibling(parent, tree)
            trees[tree] = {}
            if obj is not None and hasattr(obj, "attrs") and not hasattr(obj, "dtype"):
                trees[tree] = read_tree(obj, encoding.get(tree), path=self.path, reader=READER,
                                        allow_external=self.allow_external)
        original = trees["original_metadata"]
        if not isinstance(original, dict):
            original = {"original_metadata": original}
        extras = self.extra_groups(parent)
        for key, value in extras.items():
            original.setdefault(key, value)
        metadata = trees["metadata"]
        if not isinstance(metadata, dict):
            metadata = {"metadata": metadata}
        keys = set(dset.attrs.keys())
        title = dset.attrs["main_data_name"] if "main_data_name" in keys else (
            dset.attrs["title"] if "title" in keys else None)
        data_type_attr = dset.attrs["data_type"] if "data_type" in keys else None
        data = self.data(dset, nbytes, h5path)
        ds = Dataset(
            data,
            dims,
            title=_text(title, dset.name.rsplit("/", 1)[-1]),
            quantity=_attr(dset, "quantity", "generic", keys),
            units=_attr(dset, "units", "a.u.", keys),
            data_type=_data_type(None if data_type_attr is None else _text(data_type_attr, "")),
            modality=_attr(dset, "modality", "", keys),
            source=_attr(dset, "source", "", keys),
            metadata=metadata,
            original_metadata=original,
            provenance=_provenance_records(trees["provenance"]),
        )
        var = self.sibling(parent, VARIANCE_NAME)
        if var is not None and getattr(var, "shape", None) == dset.shape:
            check_storage(var, self.path, READER, allow_external=self.allow_external)
            ds.variance = self.data(var, nbytes, f"{h5path.rsplit('/', 1)[0]}/{VARIANCE_NAME}")
        return ds

    def data(self, dset: Any, nbytes: int, h5path: str) -> Any:
        if self.lazy:
            # address the data by its path in *this* file (it differs from
            # dset.name when reached through an allowed external link)
            view = SimpleNamespace(name=h5path, shape=dset.shape, dtype=dset.dtype, chunks=dset.chunks)
            return lazy_array(self.path, view, READER, chunks=self.chunks)
        if nbytes > MAX_EAGER_BYTES:
            raise self.fail(f"{dset.name} holds {nbytes} bytes; read it with lazy=True",
                            UnsafeFileError)
        out = np.empty(dset.shape, dtype=dset.dtype)
        if out.size:
            dset.read_direct(out)
        # sidkit.core wraps it lazily; computing it whole hands this very array back
        return out if self.chunks is None else wrap_numpy(out, self.chunks)

    def encoding(self, parent: Any) -> dict[str, Any]:
        obj = self.sibling(parent, ENCODING_NAME)
        if obj is None or not hasattr(obj, "dtype") or obj.shape != () or obj.dtype.kind not in "OS":
            return {}
        try:
            raw = obj[()]
            text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            if len(text) > _MAX_ENCODING_CHARS:
                raise ValueError("encoding record too large")
            enc = json.loads(text)
        except (ValueError, TypeError, OSError) as exc:
            warnings.warn(f"{self.path}: ignoring unreadable {parent.name}/{ENCODING_NAME} ({exc}); "
                          "metadata is decoded plainly", stacklevel=4)
            return {}
        return enc if isinstance(enc, dict) else {}

    def extra_groups(self, parent: Any) -> dict[str, Any]:
        import h5py

        out: dict[str, Any] = {}
        for name in parent:
            if name.startswith("_") or name in TREES:
                continue
            link = parent.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            obj = parent[name]
            if isinstance(obj, h5py.Group) and not any(is_nsid_main(obj.get(k)) for k in obj):
                out[name] = read_tree(obj, path=self.path, reader=READER,
                                      allow_external=self.allow_external)
        return out

    def dims(self, dset: Any) -> list[Dimension]:
        dims: list[Dimension] = []
        names: set[str] = set()
        for axis, n in enumerate(dset.shape):
            n = int(n)
            if n > self.max_dim_length:
                raise self.fail(
                    f"axis {axis} of {dset.name} declares {n} elements, more than the limit of "
                    f"{self.max_dim_length} (pass max_dim_length= to raise it)", UnsafeFileError)
            dim = self.dim(dset, axis, n)
            name, k = dim.name, 1
            while name in names:
                name = f"{dim.name}_{k}"
                k += 1
            names.add(name)
            dims.append(dim if name == dim.name else dim.replace(name=name))
        return dims

    def dim(self, dset: Any, axis: int, n: int) -> Dimension:
        try:
            proxy = dset.dims[axis]
            label = proxy.label
            count = len(proxy)
            scale = proxy[count - 1] if count else None
        except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
            return self.missing(dset, axis, n, f"its dimension scale is unreadable ({exc})")
        if scale is None:
            return self.missing(dset, axis, n, "no dimension scale is attached")
        if scale.ndim != 1 or int(scale.shape[0]) != n:
            return self.missing(dset, axis, n, f"its dimension scale {scale.name} has shape "
                                f"{scale.shape}, but the axis has length {n}")
        check_storage(scale, self.path, READER, allow_external=self.allow_external)
        if scale.dtype.kind in "biuf":
            values = scale[()] if n else np.zeros(0, dtype=scale.dtype)
        elif scale.dtype.kind in "OS":
            values = np.asarray(scale.asstr()[()], dtype=str)
        else:
            return self.missing(dset, axis, n, f"its dimension scale {scale.name} has dtype {scale.dtype}")
        fallback = label or scale.name.rsplit("/", 1)[-1] or f"dim_{axis}"
        keys = set(scale.attrs.keys())
        name = _attr(scale, "name", fallback, keys) or fallback
        return Dimension(
            name,
            np.asarray(values),
            quantity=_attr(scale, "quantity", "generic", keys),
            units=_attr(scale, "units", "a.u.", keys),
            dimension_type=_dimension_type(_attr(scale, "dimension_type", "UNKNOWN", keys)),
        )

    def missing(self, dset: Any, axis: int, n: int, why: str) -> Dimension:
        msg = f"axis {axis} of NSID dataset {dset.name}: {why}"
        if self.strict:
            raise self.fail(msg + "; pass strict=False to read it with index values")
        warnings.warn(f"{self.path}: {msg}; using index values", stacklevel=5)
        return Dimension(f"dim_{axis}", n)


def _dataset_names(paths: list[str]) -> list[str]:
    """pyNSID group names (``.../image/image`` -> ``image``), unique."""
    parents = [p.rsplit("/", 1)[0] for p in paths]
    wanted = []
    for p, parent in zip(paths, parents):
        parts = p.strip("/").split("/")
        if len(parts) >= 2 and (parts[-1] == parts[-2] or parents.count(parent) == 1):
            wanted.append(parts[-2])
        else:
            wanted.append(parts[-1])
    out = []
    for p, w in zip(paths, wanted):
        out.append(w if wanted.count(w) == 1 else p.strip("/"))
    return out


def read_nsid(
    path: str | os.PathLike[str],
    *,
    lazy: bool = True,
    chunks: Any = None,
    strict: bool = True,
    allow_external: bool = False,
    max_dim_length: int = MAX_DIM_LENGTH,
) -> dict[str, Dataset]:
    """Read every NSID main dataset of a file.

    Parameters
    ----------
    path : str or os.PathLike
        The HDF5 file.
    lazy : bool, default True
        Return dask arrays backed by the file (nothing is read until
        computed); ``False`` reads the data now.
    chunks : dask chunk specification, optional
        Dask chunks; by default whole multiples of the HDF5 chunks (~64 MiB).
    strict : bool, default True
        A missing or inconsistent dimension scale raises
        :class:`~sidkit.core.CorruptFileError`; ``False`` warns and uses index
        values instead.
    allow_external : bool, default False
        Follow external links, external raw storage and virtual datasets;
        otherwise they raise :class:`~sidkit.core.UnsafeFileError`.
    max_dim_length : int
        Longest axis accepted (its values are read eagerly).

    Returns
    -------
    dict of str to Dataset
        In file order, keyed by pyNSID group name.

    Raises
    ------
    UnknownFormatError
        The file holds no NSID main dataset.
    CorruptFileError, TruncatedFileError
        The file is damaged or a dataset breaks the layout.
    UnsafeFileError
        External data, or absurd declared sizes.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        from sidkit.core import SidkitFileNotFoundError

        raise SidkitFileNotFoundError(path, READER, "no such file or directory")
    with open_h5(path, READER) as fh:
        try:
            mains, external = find_main_datasets(fh, allow_external=allow_external)
            if not mains:
                if external:
                    raise UnsafeFileError(
                        path, READER,
                        "no NSID dataset inside the file; it has external links "
                        f"({'; '.join(external[:5])}) which are not followed unless allow_external=True")
                raise UnknownFormatError(
                    path, READER,
                    "no NSID main dataset found (a dataset with 'main_data_name' or with "
                    "'quantity'/'units'/'data_type' and dimension scales); is it USID or plain HDF5?")
            reader = _DatasetReader(path, fh, lazy=lazy, chunks=chunks, strict=strict,
                                    allow_external=allow_external, max_dim_length=max_dim_length)
            names = _dataset_names(mains)
            return {name: reader.read(p) for name, p in zip(names, mains)}
        except SidkitError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError, TypeError, AttributeError) as exc:
            raise CorruptFileError(path, READER, f"the NSID structure is unreadable: "
                                   f"{type(exc).__name__}: {exc}") from exc


class NsidReader(Reader):
    """Read NSID HDF5 files written by pyNSID, sidpy or sidkit.

    Options (``sidkit.core.load(path, **options)``): ``chunks``, ``strict``,
    ``allow_external``, ``max_dim_length`` (see :func:`read_nsid`).
    """

    name: ClassVar[str] = "nsid"
    extensions: ClassVar[tuple[str, ...]] = (".h5", ".hdf5", ".hf5", ".nsid")
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-nsid"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "NSID HDF5 (pyNSID / sidpy datasets)"

    def sniff(self, head: bytes) -> bool:
        """True for any HDF5 file (the layout is checked by :meth:`claims`)."""
        try:
            return is_hdf5(head)
        except Exception:  # pragma: no cover - sniff never raises
            return False

    def claims(self, path: Path, head: bytes) -> bool:
        """True when the HDF5 file holds an NSID main dataset. Never raises."""
        if not self.sniff(head):
            return False
        try:
            with h5_file(path, "r") as fh:
                mains, external = find_main_datasets(fh, max_objects=20_000, first_only=True)
                # a file whose only content is behind external links is claimed
                # so that reading it explains why it is refused
                return bool(mains) or (bool(external) and len(fh) == len(external))
        except Exception:
            return False

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every NSID dataset of ``path`` (see :func:`read_nsid`)."""
        return read_nsid(path, lazy=lazy, **options)
