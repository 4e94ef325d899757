"""Provenance records: what was done to a dataset, with which parameters, by
which package and version."""

from __future__ import annotations

import datetime as _dt
import enum
import functools
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

import numpy as np

__all__ = ["make_record", "jsonable"]


def jsonable(obj: Any, *, max_array: int = 64) -> Any:
    """A JSON-friendly copy of ``obj``.

    numpy scalars become Python scalars, small arrays lists, large arrays a
    short description (``"<array float32 (512, 512)>"``), Datasets their title
    and shape, other objects their ``repr``.
    """
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, dict):
        return {str(k): jsonable(v, max_array=max_array) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, max_array=max_array) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.size <= max_array:
            return obj.tolist()
        return f"<array {obj.dtype} {obj.shape}>"
    shape = getattr(obj, "shape", None)
    if shape is not None and hasattr(obj, "dtype"):
        title = getattr(obj, "title", "")
        return f"<{type(obj).__name__} {title!r} {obj.dtype} {tuple(shape)}>"
    if isinstance(obj, enum.Enum):
        return obj.name
    return repr(obj)


@functools.lru_cache(maxsize=256)
def _package_version(package: str) -> str:
    try:
        return _dist_version(package)
    except PackageNotFoundError:
        return "unknown"


def make_record(
    process: str,
    parameters: dict[str, Any] | None = None,
    *,
    package: str = "sidkit-core",
    version: str | None = None,
) -> dict[str, Any]:
    """A provenance record.

    Parameters
    ----------
    process : str
        Dotted name of what ran, e.g. ``"sidkit.analytics.decompose"``.
    parameters : dict, optional
        Its parameters (made JSON-friendly with :func:`jsonable`).
    package : str, default "sidkit-core"
        Distribution that provides it.
    version : str, optional
        Its version; looked up from the installed distribution when omitted.

    Returns
    -------
    dict
        ``{"process", "parameters", "package", "version", "time"}``.
    """
    return {
        "process": process,
        "parameters": jsonable(parameters or {}),
        "package": package,
        "version": version or _package_version(package),
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
