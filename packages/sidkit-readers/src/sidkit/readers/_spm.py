"""Helpers shared by the scanning-probe readers (IBW, ARDF, Nanonis, Nanoscope, GWY).

Unit classification, dimension building and dataset assembly, so every SPM
reader names, types and calibrates its axes the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sidkit.core import Dataset, Dimension, DimensionType, make_record

from ._version import __version__

__all__ = [
    "LENGTH_UNITS",
    "dimension_type_for",
    "quantity_for",
    "linear_dim",
    "spm_dataset",
    "plain",
    "safe_name",
]

LENGTH_UNITS = {"m", "km", "mm", "um", "µm", "μm", "nm", "pm", "fm", "å", "Å", "angstrom"}
_TIME_UNITS = {"s", "ms", "us", "µs", "ns", "ps", "min", "h"}


def dimension_type_for(units: str, default: DimensionType = DimensionType.UNKNOWN) -> DimensionType:
    """SPATIAL for lengths, TEMPORAL for times, ``default`` otherwise."""
    u = (units or "").strip()
    if u in LENGTH_UNITS or (len(u) > 1 and u.lower() in LENGTH_UNITS):
        return DimensionType.SPATIAL
    if u in _TIME_UNITS:
        return DimensionType.TEMPORAL
    return default


def quantity_for(units: str) -> str:
    """A physical quantity name guessed from SI units."""
    u = (units or "").strip()
    table = {"V": "voltage", "mV": "voltage", "A": "current", "nA": "current", "pA": "current",
             "Hz": "frequency", "N": "force", "nN": "force", "deg": "angle", "°": "angle",
             "rad": "angle", "N/m": "stiffness"}
    if dimension_type_for(u) is DimensionType.SPATIAL:
        return "length"
    if dimension_type_for(u) is DimensionType.TEMPORAL:
        return "time"
    return table.get(u, "generic")


def linear_dim(name: str, size: int, scale: float, offset: float, units: str,
               dimension_type: DimensionType | str | None = None) -> Dimension:
    """A uniformly spaced dimension with a guessed quantity and type.

    Non-finite or zero ``scale`` falls back to 1 (index values), so a damaged
    calibration never breaks the dataset.
    """
    scale = float(scale) if np.isfinite(scale) and scale != 0 else 1.0
    offset = float(offset) if np.isfinite(offset) else 0.0
    kind = dimension_type if dimension_type is not None else dimension_type_for(units)
    return Dimension.linear(name, int(size), scale=scale, offset=offset, units=units or "",
                            quantity=quantity_for(units), dimension_type=kind)


_PLAIN = frozenset((bool, int, float, str, type(None)))


def plain(obj: Any, *, depth: int = 0) -> Any:
    """JSON-like plain Python copy of parsed metadata (bytes decoded, numpy unwrapped)."""
    if depth > 32:
        return repr(obj)
    kind = type(obj)
    if depth < 32 and (kind is dict or kind is list or kind is tuple):
        # the common case: plain values are kept as they are, without a call each
        deeper = depth + 1
        if kind is dict:
            return {(k if type(k) is str else str(plain(k, depth=deeper))):
                    (v if type(v) in _PLAIN else plain(v, depth=deeper)) for k, v in obj.items()}
        return [v if type(v) in _PLAIN else plain(v, depth=deeper) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, bytes):
        return obj.decode("latin-1").rstrip("\x00")
    if isinstance(obj, np.generic):
        return plain(obj.item(), depth=depth + 1)
    if isinstance(obj, np.ndarray):
        if obj.size > 4096:
            return f"<array {obj.dtype} {obj.shape}>"
        if obj.dtype.kind in "SUV":
            return [plain(v, depth=depth + 1) for v in obj.ravel().tolist()]
        return obj.tolist()
    if isinstance(obj, Mapping):
        return {str(plain(k, depth=depth + 1)): plain(v, depth=depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, depth=depth + 1) for v in obj]
    return repr(obj)


def safe_name(title: str, taken: Mapping[str, Any]) -> str:
    """A unique, readable dataset key from a channel title."""
    base = re.sub(r"\s+", "_", str(title).strip()) or "channel"
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


def spm_dataset(data: Any, dims: list[Dimension], *, path: Path, reader: str, title: str,
                units: str, metadata: dict[str, Any], original_metadata: dict[str, Any],
                modality: str = "SPM", quantity: str | None = None, **attrs: Any) -> Dataset:
    """A Dataset with the common attributes and a read provenance record."""
    return Dataset(
        data, dims, title=title, quantity=quantity or quantity_for(units), units=units or "",
        modality=modality, source=str(path), metadata=metadata, original_metadata=original_metadata,
        provenance=[make_record(f"sidkit.readers.{reader}.read", {"path": str(path)},
                                package="sidkit-readers", version=__version__)],
        **attrs,
    )
