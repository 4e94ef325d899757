"""Text and HTML representations of a Dataset (``repr`` and Jupyter)."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["text_repr", "html_repr"]


def _chunks(ds: Dataset) -> str:
    return "(" + ", ".join(str(c[0]) if c else "0" for c in ds.chunks) + ")"


def _size(nbytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024  # type: ignore[assignment]
    return ""


def text_repr(ds: Dataset) -> str:
    """A few lines: title, shape, dtype, chunks, data type and each dim."""
    head = (
        f"<sidkit.Dataset {ds.title!r} shape={ds.shape} dtype={ds.dtype} "
        f"chunks={_chunks(ds)} {ds.data_type.name}>"
    )
    lines = [head, f"  values: {ds.quantity} [{ds.units}]"]
    for d in ds.dims:
        lines.append(f"  {d.name:<12} {d.dimension_type.name:<10} {d.describe()}")
    if ds.metadata:
        lines.append(f"  metadata keys: {', '.join(list(map(str, ds.metadata))[:8])}")
    return "\n".join(lines)


def _details(summary: str, obj: Any) -> str:
    body = html.escape(json.dumps(obj, indent=1, default=str)[:20000])
    return f"<details><summary>{html.escape(summary)}</summary><pre>{body}</pre></details>"


def html_repr(ds: Dataset) -> str:
    """HTML for Jupyter: a dims table with ranges and units, chunk layout and
    collapsible metadata, original metadata and provenance."""
    e = html.escape
    rows = "".join(
        f"<tr><td><b>{e(d.name)}</b></td><td>{e(d.dimension_type.name)}</td>"
        f"<td>{len(d)}</td><td>{e(d.describe())}</td><td>{e(d.quantity)}</td></tr>"
        for d in ds.dims
    )
    n_chunks = 1
    for c in ds.chunks:
        n_chunks *= len(c)
    return (
        "<div class='sidkit-dataset'>"
        f"<p><b>sidkit.Dataset</b> {e(ds.title)!s} &mdash; {e(ds.data_type.name)}"
        f" &mdash; {e(ds.quantity)} [{e(ds.units)}]</p>"
        f"<p>shape {ds.shape}, {ds.dtype}, {_size(ds.nbytes)}; "
        f"{n_chunks} chunks of {_chunks(ds)}</p>"
        "<table><thead><tr><th>dim</th><th>type</th><th>size</th><th>range</th>"
        f"<th>quantity</th></tr></thead><tbody>{rows}</tbody></table>"
        + _details(f"metadata ({len(ds.metadata)} keys)", ds.metadata)
        + _details(f"original_metadata ({len(ds.original_metadata)} keys)", ds.original_metadata)
        + _details(f"provenance ({len(ds.provenance)} records)", ds.provenance)
        + "</div>"
    )
