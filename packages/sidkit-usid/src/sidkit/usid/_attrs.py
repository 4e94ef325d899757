"""Private helpers: HDF5 attributes to plain Python and back.

Kept here (not in ``sidkit.core.hdf5``) because sidkit-core had no attribute
encoder when this package was written; see the package README.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sidkit.core.hdf5 import attr_to_python

__all__ = [
    "decode_attr",
    "decode_attrs",
    "decode_str_list",
    "encode_attr",
    "flatten_metadata",
    "to_json",
    "from_json",
    "BOOKKEEPING",
    "SIDKIT_PREFIX",
]

#: Attributes pyUSID/sidpy add to every object for book-keeping.
BOOKKEEPING = frozenset({"machine_id", "platform", "timestamp", "pyUSID_version", "sidpy_version"})
#: Attributes sidkit writes for exact round trips start with this.
SIDKIT_PREFIX = "sidkit_"
#: Longest JSON attribute sidkit will parse (hostile files).
MAX_JSON_CHARS = 64 * 2**20


def decode_attr(value: Any) -> Any:
    """An attribute value as JSON-friendly Python (lists, str, numbers).

    Returns ``None`` for object and region references, which are links
    rather than metadata.
    """
    import h5py

    if isinstance(value, (h5py.Reference, h5py.RegionReference)):
        return None
    value = attr_to_python(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            return [decode_attr(v) for v in value.tolist()]
        if value.dtype.names is not None:
            return None
        return value.tolist()
    if isinstance(value, list):
        return [decode_attr(v) if not isinstance(v, str) else v for v in value]
    return value


def decode_attrs(obj: Any) -> dict[str, Any]:
    """Every non-reference attribute of an h5py object, decoded.

    Attributes that cannot be read (unsupported types) are skipped.
    """
    out: dict[str, Any] = {}
    for key in obj.attrs:
        try:
            value = decode_attr(obj.attrs[key])
        except (OSError, TypeError, ValueError, KeyError):
            continue
        if value is not None:
            out[str(key)] = value
    return out


def decode_str_list(value: Any) -> list[str]:
    """A ``labels``/``units`` attribute (array or scalar) as a list of str."""
    value = attr_to_python(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in value]
    return [str(value)]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, (str, bytes)):
        return str(value.name)  # enums
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def to_json(value: Any) -> str:
    """JSON text of nested metadata (numpy values become Python values)."""
    return json.dumps(_plain(value), allow_nan=True, ensure_ascii=False)


def from_json(text: Any) -> Any:
    """Parse a JSON attribute written by :func:`to_json`; ``None`` if unusable."""
    text = attr_to_python(text)
    if not isinstance(text, str) or len(text) > MAX_JSON_CHARS:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def encode_attr(value: Any) -> Any:
    """A value HDF5 can store as an attribute, or ``None`` to skip it.

    str stays str (variable-length UTF-8), numbers stay numbers, lists of
    numbers become arrays, lists of str become fixed-length byte arrays
    (the pyUSID convention); anything else is stored as JSON text.
    """
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, (str, bool, int, float)):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            return str(value)
        return value
    if isinstance(value, list):
        if not value:
            return to_json(value)
        if all(isinstance(v, str) for v in value):
            return np.array([v.encode("utf-8") for v in value])
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            try:
                return np.asarray(value)
            except (OverflowError, ValueError):
                return to_json(value)
        return to_json(value)
    return to_json(value)


def flatten_metadata(metadata: Mapping[str, Any], sep: str = "-", prefix: str = "") -> dict[str, Any]:
    """Nested dicts to one level with joined keys (sidpy's ``flatten_dict`` style)."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten_metadata(value, sep, name))
        else:
            out[name] = value
    return out
