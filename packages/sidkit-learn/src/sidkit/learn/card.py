"""Model cards: the JSON file saved beside a model's weights.

A card says what the model is (``"model"``: the plugin name; ``"architecture"``),
how it was trained (``"training"``: recipe of the training data, epochs, loss,
optimiser, seed, time) and how well it does (``"metrics"``). It is plain JSON,
readable without torch::

    >>> card = read_model_card("my_model")          # doctest: +SKIP
    >>> card["architecture"], card["metrics"]        # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from sidkit.core import CorruptFileError, SidkitFileNotFoundError
from sidkit.core.atomic import replace_atomically
from sidkit.core.provenance import jsonable

__all__ = [
    "CARD_NAME",
    "CARD_FORMAT",
    "CARD_VERSION",
    "MAX_CARD_BYTES",
    "read_model_card",
    "write_model_card",
    "sha256_file",
]

CARD_NAME = "model_card.json"
CARD_FORMAT = "sidkit-learn model card"
CARD_VERSION = 1
#: A card larger than this is refused before it is parsed.
MAX_CARD_BYTES = 4 * 2**20

_REQUIRED = {"model": str, "architecture": dict, "training": dict, "metrics": dict}


def _card_path(path: str | os.PathLike[str]) -> Path:
    p = Path(os.fspath(path)).expanduser()
    return p / CARD_NAME if p.is_dir() or p.suffix != ".json" else p


def read_model_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the model card of a saved model.

    Parameters
    ----------
    path : str or os.PathLike
        The model folder, or its ``model_card.json``.

    Returns
    -------
    dict
        The card, with at least ``model``, ``architecture``, ``training`` and
        ``metrics``.

    Raises
    ------
    SidkitFileNotFoundError
        No card at ``path``.
    CorruptFileError
        The card is too large, not JSON, or misses required fields.
    """
    card_path = _card_path(path)
    if not card_path.is_file():
        raise SidkitFileNotFoundError(card_path, "model-card", "no model card here; "
                                      "pass the folder written by a model's save()")
    size = card_path.stat().st_size
    if size > MAX_CARD_BYTES:
        raise CorruptFileError(card_path, "model-card",
                               f"is {size} bytes, more than the {MAX_CARD_BYTES} allowed for a card")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(card_path, "model-card", f"is not valid JSON ({exc})") from exc
    if not isinstance(card, dict):
        raise CorruptFileError(card_path, "model-card", "is JSON but not an object")
    if card.get("format") != CARD_FORMAT:
        raise CorruptFileError(card_path, "model-card",
                               f"'format' is {card.get('format')!r}, expected {CARD_FORMAT!r}")
    for key, kind in _REQUIRED.items():
        if not isinstance(card.get(key), kind):
            raise CorruptFileError(card_path, "model-card",
                                   f"field '{key}' is missing or not a {kind.__name__}")
    return card


def _finite(obj: Any) -> Any:
    """NaN and infinities become None: strict JSON has no such numbers."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def write_model_card(card: dict[str, Any], folder: str | os.PathLike[str]) -> Path:
    """Write ``card`` as ``folder/model_card.json`` (atomically).

    ``format`` and ``format_version`` are filled in; values are made
    JSON-friendly with :func:`sidkit.core.provenance.jsonable`, and NaN or
    infinite numbers are written as ``null``.

    Returns
    -------
    pathlib.Path
        The card's path.
    """
    folder = Path(os.fspath(folder)).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    out = _finite({"format": CARD_FORMAT, "format_version": CARD_VERSION, **jsonable(card)})
    target = folder / CARD_NAME
    with replace_atomically(target) as tmp:
        tmp.write_text(json.dumps(out, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return target


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            h.update(block)
    return h.hexdigest()
