"""Text and HTML representations of a Dataset (``repr`` and Jupyter).

:func:`text_repr` is what ``repr(ds)`` prints; :func:`html_repr` is what
Jupyter shows (``Dataset._repr_html_``): the title, data type and values'
quantity, a table of dims with their type, size, range and units, the dask
chunk layout, and collapsible metadata, original metadata and provenance, in
the manner of xarray's and dask's reprs. Both only read attributes: nothing
is computed, and long metadata are cut to stay small.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["text_repr", "html_repr", "format_size", "chunk_summary"]

#: At most this many entries of a mapping or list are shown at each level.
MAX_ITEMS = 50
#: Nesting deeper than this is shown as "...".
MAX_DEPTH = 6
#: Longer strings are cut.
MAX_STRING = 200

_CSS = """
<style>
.sidkit-dataset { font-family: var(--jp-code-font-family, monospace); font-size: 13px;
  line-height: 1.35; max-width: 900px; }
.sidkit-dataset .sk-head { margin: 0 0 4px 0; }
.sidkit-dataset .sk-type { color: var(--jp-ui-font-color2, #555); }
.sidkit-dataset table.sk-dims { border-collapse: collapse; margin: 4px 0; }
.sidkit-dataset table.sk-dims th, .sidkit-dataset table.sk-dims td {
  text-align: left; padding: 1px 10px 1px 0; border: none; }
.sidkit-dataset table.sk-dims th { color: var(--jp-ui-font-color2, #555); font-weight: normal; }
.sidkit-dataset details { margin: 1px 0; }
.sidkit-dataset details > summary { cursor: pointer; }
.sidkit-dataset ul { list-style: none; margin: 0; padding-left: 16px; }
.sidkit-dataset .sk-key { font-weight: bold; }
.sidkit-dataset .sk-muted { color: var(--jp-ui-font-color2, #777); }
</style>
"""


def format_size(nbytes: float) -> str:
    """Bytes in binary units: ``"1.5 MiB"``."""
    nbytes = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return ""  # pragma: no cover


def _chunks(ds: Dataset) -> str:
    return "(" + ", ".join(str(c[0]) if c else "0" for c in ds.chunks) + ")"


def chunk_summary(ds: Dataset) -> str:
    """``"6 chunks of (2, 3, 5), 120 B each"``: how the dask array is cut."""
    n_chunks = math.prod(len(c) for c in ds.chunks) if ds.chunks else 1
    largest = math.prod(max(c) if c else 0 for c in ds.chunks) if ds.chunks else 1
    each = format_size(largest * ds.dtype.itemsize)
    word = "chunk" if n_chunks == 1 else "chunks"
    return f"{n_chunks} {word} of {_chunks(ds)}, {each} each"


def _dim_units(units: str) -> str:
    return f" [{units}]" if units else ""


def text_repr(ds: Dataset) -> str:
    """A few lines: title, shape, dtype, chunks, data type, values and each dim."""
    head = (
        f"<sidkit.Dataset {ds.title!r} shape={ds.shape} dtype={ds.dtype} "
        f"chunks={_chunks(ds)} {ds.data_type.name}>"
    )
    values = f"  values: {ds.quantity}{_dim_units(ds.units)}"
    extras = [f"{k}: {v}" for k, v in (("modality", ds.modality), ("source", ds.source)) if v]
    if ds.variance is not None:
        extras.append("with variance")
    lines = [head, values + ("  (" + "; ".join(extras) + ")" if extras else "")]
    width = max([len(d.name) for d in ds.dims] + [10]) + 2
    for d in ds.dims:
        lines.append(f"  {d.name:<{width}} {d.dimension_type.name:<10} {d.describe()}")
    if ds.metadata:
        keys = list(map(str, ds.metadata))
        more = f" (+{len(keys) - 8} more)" if len(keys) > 8 else ""
        lines.append(f"  metadata: {', '.join(keys[:8])}{more}")
    if ds.provenance:
        last = ds.provenance[-1].get("process", "?") if isinstance(ds.provenance[-1], Mapping) else "?"
        lines.append(f"  provenance: {len(ds.provenance)} record(s), last {last}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- HTML
def _short(value: Any) -> str:
    """A short, escaped text for a leaf value."""
    if isinstance(value, np.ndarray):
        if value.size > 8:
            text = f"array{value.shape} {value.dtype}"
        else:
            text = np.array2string(value, threshold=8, precision=6)
    elif isinstance(value, (bytes, bytearray)):
        text = f"{len(value)} bytes"
    else:
        text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > MAX_STRING:
        text = text[:MAX_STRING] + "…"
    return html.escape(text)


def _tree(obj: Any, depth: int = 0) -> str:
    """Nested mappings and lists as nested collapsible lists."""
    if depth > MAX_DEPTH:
        return "<span class='sk-muted'>…</span>"
    if isinstance(obj, Mapping):
        items = list(obj.items())
    elif _is_short_list(obj):
        return _short(list(obj))
    elif isinstance(obj, Sequence) and not isinstance(obj, (str, bytes, bytearray)):
        items = list(enumerate(obj))
    else:
        return _short(obj)
    if not items:
        return "<span class='sk-muted'>{}</span>" if isinstance(obj, Mapping) else "<span class='sk-muted'>[]</span>"
    rows = []
    for key, value in items[:MAX_ITEMS]:
        k = html.escape(str(key))
        if isinstance(value, Mapping) or (
            isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))
            and not _is_short_list(value)
        ):
            n = len(value)
            rows.append(
                f"<li><details><summary><span class='sk-key'>{k}</span> "
                f"<span class='sk-muted'>({n})</span></summary>{_tree(value, depth + 1)}</details></li>"
            )
        else:
            rows.append(f"<li><span class='sk-key'>{k}</span>: {_tree(value, depth + 1)}</li>")
    if len(items) > MAX_ITEMS:
        rows.append(f"<li class='sk-muted'>… {len(items) - MAX_ITEMS} more</li>")
    return "<ul>" + "".join(rows) + "</ul>"


def _is_short_list(obj: Any) -> bool:
    """A list of at most 16 numbers, strings or None, shown on one line."""
    return (
        isinstance(obj, (list, tuple)) and len(obj) <= 16
        and all(v is None or isinstance(v, (bool, int, float, str, np.generic)) for v in obj)
    )


def _section(summary: str, obj: Any, count: int) -> str:
    body = _tree(obj) if count else "<span class='sk-muted'>empty</span>"
    return (
        f"<details><summary>{html.escape(summary)} "
        f"<span class='sk-muted'>({count})</span></summary>{body}</details>"
    )


def _provenance(records: Sequence[Any]) -> str:
    if not records:
        return _section("provenance", [], 0)
    rows = []
    for k, r in enumerate(records[:MAX_ITEMS]):
        if isinstance(r, Mapping):
            what = html.escape(str(r.get("process", "?")))
            pkg = html.escape(" ".join(str(r.get(x, "")) for x in ("package", "version")).strip())
            when = html.escape(str(r.get("time", r.get("timestamp", ""))))
            params = r.get("parameters", {})
            rows.append(
                f"<li><details><summary>{k + 1}. <span class='sk-key'>{what}</span> "
                f"<span class='sk-muted'>{pkg} {when}</span></summary>{_tree(params, 1)}</details></li>"
            )
        else:
            rows.append(f"<li>{k + 1}. {_short(r)}</li>")
    if len(records) > MAX_ITEMS:
        rows.append(f"<li class='sk-muted'>… {len(records) - MAX_ITEMS} more</li>")
    return (
        f"<details><summary>provenance <span class='sk-muted'>({len(records)})</span></summary>"
        f"<ul>{''.join(rows)}</ul></details>"
    )


def html_repr(ds: Dataset) -> str:
    """HTML for Jupyter.

    Shows the title, data type, values' quantity and units, shape, dtype and
    size, a dims table (name, type, size, range, units, quantity), the chunk
    layout, and collapsible metadata, original metadata and provenance.
    Every text from the dataset is HTML-escaped.
    """
    e = html.escape
    rows = "".join(
        f"<tr><td><b>{e(d.name)}</b></td><td>{e(d.dimension_type.name.lower())}</td>"
        f"<td>{len(d)}</td><td>{e(_range(d))}</td><td>{e(d.units)}</td>"
        f"<td>{e(d.quantity)}</td></tr>"
        for d in ds.dims
    )
    facts = [f"shape {ds.shape}", str(ds.dtype), format_size(ds.nbytes)]
    if ds.variance is not None:
        facts.append("with variance")
    extras = "".join(
        f"<div><span class='sk-muted'>{name}:</span> {e(value)}</div>"
        for name, value in (("modality", ds.modality), ("source", ds.source)) if value
    )
    units = f" [{e(ds.units)}]" if ds.units else ""
    return (
        _CSS
        + "<div class='sidkit-dataset'>"
        f"<div class='sk-head'><b>sidkit.Dataset</b> <b>{e(repr(ds.title))}</b> "
        f"<span class='sk-type'>{e(ds.data_type.name.lower().replace('_', ' '))}</span>"
        f" &mdash; {e(ds.quantity)}{units}</div>"
        f"<div>{e(', '.join(facts))}; {e(chunk_summary(ds))}</div>"
        + extras
        + "<table class='sk-dims'><thead><tr><th>dim</th><th>type</th><th>size</th>"
        "<th>range</th><th>units</th><th>quantity</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        + _section("metadata", ds.metadata, len(ds.metadata))
        + _section("original_metadata", ds.original_metadata, len(ds.original_metadata))
        + _provenance(ds.provenance)
        + "</div>"
    )


def _range(d: Any) -> str:
    v = d.values
    if v.size == 0:
        return "empty"
    if np.issubdtype(v.dtype, np.number):
        text = f"{v[0]:.4g} … {v[-1]:.4g}" if v.size > 1 else f"{v[0]:.4g}"
        if v.size > 1 and d.is_uniform:
            text += f" (step {d.scale:.4g})"
        return text
    return f"{v[0]!s} … {v[-1]!s}" if v.size > 1 else str(v[0])
