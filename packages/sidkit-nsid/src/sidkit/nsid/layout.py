"""The NSID layout: names, attributes and how main datasets are found.

pyNSID (``write_nsid_dataset``) writes each dataset as::

    /Measurement_000/Channel_000/<name>/            group, book-keeping attrs
    /Measurement_000/Channel_000/<name>/<name>      main dataset
        attrs quantity, units, main_data_name (the title), data_type,
              modality, source, pyNSID_version, ...
        one HDF5 dimension scale attached per axis
    /Measurement_000/Channel_000/<name>/<dim>       1-D scale: name, units,
                                                    quantity, dimension_type
    /Measurement_000/Channel_000/<name>/metadata    nested groups + attributes
    /Measurement_000/Channel_000/<name>/original_metadata
    /Measurement_000/Channel_000/<name>/provenance

sidkit adds two siblings that pyNSID ignores (it reads only groups whose
names do not start with ``_``): ``_sidkit_encoding`` (a JSON string with the
kinds of metadata values plain attributes cannot express, see
:func:`sidkit.core.hdf5.write_tree`) and, when the dataset has one,
``_sidkit_variance``.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "MAIN_ATTRS",
    "USID_ATTRS",
    "TREES",
    "ENCODING_NAME",
    "VARIANCE_NAME",
    "PYNSID_LAYOUT_VERSION",
    "is_dimension_scale",
    "is_nsid_main",
    "find_main_datasets",
    "safe_name",
]

#: Attributes pyNSID writes on (and requires of) a main dataset.
MAIN_ATTRS = ("quantity", "units", "main_data_name", "data_type", "modality", "source")
#: Attributes that mark a USID main dataset (never NSID).
USID_ATTRS = ("Position_Indices", "Position_Values", "Spectroscopic_Indices", "Spectroscopic_Values")
#: Dict-valued Dataset attributes stored as nested groups beside the main dataset.
TREES = ("metadata", "original_metadata", "provenance")
#: Sibling dataset holding the metadata kinds (JSON).
ENCODING_NAME = "_sidkit_encoding"
#: Sibling dataset holding the variance, when there is one.
VARIANCE_NAME = "_sidkit_variance"
#: The pyNSID release whose layout sidkit writes; pyNSID requires the attribute.
PYNSID_LAYOUT_VERSION = "0.0.7.2"

_MAX_OBJECTS = 200_000


def _attr_str(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    try:
        import numpy as np

        if isinstance(value, np.bytes_):
            return bytes(value).decode("utf-8", "replace")
    except ImportError:  # pragma: no cover
        pass
    return None


def is_dimension_scale(dset: Any) -> bool:
    """True when ``dset`` is an HDF5 dimension scale."""
    try:
        return _attr_str(dset.attrs.get("CLASS")) == "DIMENSION_SCALE"
    except (OSError, KeyError, TypeError, ValueError):
        return False


def is_nsid_main(dset: Any) -> bool:
    """True when ``dset`` (an h5py object) is an NSID main dataset.

    A main dataset carries ``main_data_name``, or ``quantity``, ``units``
    and ``data_type`` with a dimension scale on every axis. USID main
    datasets (``Position_Indices`` etc.) and dimension scales are not main.
    Never raises.
    """
    import h5py

    try:
        if not isinstance(dset, h5py.Dataset):
            return False
        keys = set(dset.attrs.keys())
        if keys & set(USID_ATTRS) or ("CLASS" in keys and is_dimension_scale(dset)):
            return False
        if "main_data_name" in keys:
            return True
        if {"quantity", "units", "data_type"} <= keys and dset.ndim > 0:
            return all(len(dset.dims[i]) > 0 for i in range(dset.ndim))
    except (OSError, KeyError, TypeError, ValueError, RuntimeError):
        return False
    return False


def find_main_datasets(
    h5file: Any,
    *,
    allow_external: bool = False,
    max_objects: int = _MAX_OBJECTS,
    first_only: bool = False,
) -> tuple[list[str], list[str]]:
    """Paths of every NSID main dataset, in file (name) order.

    The walk follows hard links only (soft links would visit objects twice);
    external links are followed only with ``allow_external``.

    Parameters
    ----------
    h5file : h5py.File or h5py.Group
        Where to look.
    allow_external : bool, default False
        Follow external links.
    max_objects : int
        Stop after visiting this many objects (hostile files).
    first_only : bool, default False
        Stop at the first main dataset (for a cheap yes/no).

    Returns
    -------
    mains : list of str
        HDF5 paths of the main datasets.
    external : list of str
        Descriptions of external links that were not followed.
    """
    import h5py

    mains: list[str] = []
    external: list[str] = []
    seen: set[Any] = set()
    count = 0

    def walk(group: Any, prefix: str, depth: int) -> None:
        nonlocal count
        if depth > 64:
            return
        for name in group:
            count += 1
            if count > max_objects or (first_only and mains):
                return
            try:
                link = group.get(name, getlink=True)
            except (OSError, KeyError, RuntimeError, ValueError):
                continue
            if isinstance(link, h5py.SoftLink):
                continue
            if isinstance(link, h5py.ExternalLink):
                if not allow_external:
                    external.append(f"{prefix}/{name} -> {link.filename}:{link.path}")
                    continue
            try:
                obj = group[name]
            except (OSError, KeyError, RuntimeError, ValueError):
                continue
            try:
                info = h5py.h5o.get_info(obj.id)
                key: Any = (info.fileno, info.addr)
            except Exception:  # pragma: no cover - identity only guards against cycles
                key = obj.name
            if key in seen:
                continue
            seen.add(key)
            if isinstance(obj, h5py.Group):
                walk(obj, f"{prefix}/{name}", depth + 1)
            elif is_nsid_main(obj):
                mains.append(f"{prefix}/{name}")  # the path in this file, through links

    walk(h5file, h5file.name.rstrip("/"), 0)
    return mains, external


def safe_name(name: str, default: str = "dataset") -> str:
    """A valid HDF5 link name for ``name`` ("/" replaced, never empty or ".")."""
    out = str(name).strip().replace("/", "\u2215")
    if out in ("", ".", ".."):
        out = default
    return out


def fspath(path: str | os.PathLike[str]) -> str:
    """``os.fspath`` for messages."""
    return os.fspath(path)
