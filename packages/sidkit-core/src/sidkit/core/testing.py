"""Helpers for testing readers and writers against the shared fixtures.

``SIDKIT_FIXTURES`` names the fixtures folder; without it, a ``shared/fixtures``
folder beside (or above) the working directory or the calling test is used.
The comparison rules are those of ``fixtures/real/README.md``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import Dataset

__all__ = [
    "fixtures_dir",
    "real_fixtures",
    "reference_fixtures",
    "normalise_units",
    "compare_real",
    "match_real_expected",
]


def fixtures_dir(start: str | os.PathLike[str] | None = None) -> Path:
    """The shared fixtures folder (it may not exist; check ``.is_dir()``)."""
    env = os.environ.get("SIDKIT_FIXTURES")
    if env:
        return Path(env).expanduser()
    origins = [Path.cwd()]
    if start is not None:
        origins.insert(0, Path(start).resolve())
    for origin in origins:
        for parent in [origin, *origin.parents]:
            for cand in (parent / "shared" / "fixtures", parent.parent / "shared" / "fixtures"):
                if cand.is_dir():
                    return cand
    return origins[0].parent / "shared" / "fixtures"


def _pairs(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if not folder.is_dir():
        return
    for exp in sorted(folder.rglob("*.expected.json")):
        data = exp.with_name(exp.name[: -len(".expected.json")])
        with open(exp, encoding="utf-8") as fh:
            yield data, json.load(fh)


def real_fixtures(start: str | os.PathLike[str] | None = None, family: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """``(data file, expected dict)`` for every real-instrument fixture, optionally of one family."""
    root = fixtures_dir(start) / "real"
    return [(p, e) for p, e in _pairs(root) if family is None or e.get("format") == family]


def reference_fixtures(start: str | os.PathLike[str] | None = None, fmt: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """``(file, expected dict)`` for every pyNSID/pyUSID reference file, optionally of one format."""
    root = fixtures_dir(start) / "reference"
    return [(p, e) for p, e in _pairs(root) if fmt is None or e.get("format") == fmt]


_UNIT_ALIASES = {"um": "µm", "micron": "µm", "microns": "µm", "a": "å", "angstrom": "å", "sec": "s"}


def normalise_units(units: str | None) -> str:
    """Spell units one way: ``1/nm`` = ``1 / nm`` = ``nm^-1``; ``um`` = ``µm``."""
    if units is None:
        return ""
    u = str(units).strip().replace(" ", "").replace("μ", "µ").replace("Å", "å")
    m = re.fullmatch(r"(.+?)(\^-1|\*\*-1|-1)", u)
    if m and not u.startswith("1/"):
        u = "1/" + m.group(1)
    inverse = u.startswith("1/")
    base = u[2:] if inverse else u
    base = _UNIT_ALIASES.get(base.lower(), base)
    return ("1/" if inverse else "") + base


def _close(a: float, b: float, rtol: float, atol: float = 0.0) -> bool:
    """Equal within tolerance; two NaNs (e.g. sums over NaN-padded data) are equal."""
    return bool(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def _checksums(values: np.ndarray) -> dict[str, float]:
    v = np.abs(values) if np.iscomplexobj(values) else values
    v = v.astype(np.float64)
    return {
        "sum": float(v.sum()),
        "sum_abs": float(np.abs(v).sum()),
        "min": float(v.min()) if v.size else 0.0,
        "max": float(v.max()) if v.size else 0.0,
        "mean": float(v.mean()) if v.size else 0.0,
    }


def compare_real(ds: Dataset, exp: Mapping[str, Any]) -> list[str]:
    """Differences between a Dataset and one expected dataset of a real fixture.

    Returns an empty list when ``ds`` reproduces ``exp`` (same shape in some
    axis order, dtype, checksums to 1e-6, calibrated dims to 1e-4, units up
    to spelling, non-empty ``original_metadata``).
    """
    problems: list[str] = []
    shape = list(exp["shape"])
    if sorted(ds.shape) != sorted(shape):
        return [f"shape {ds.shape} != expected {tuple(shape)}"]
    if np.dtype(ds.dtype).newbyteorder("=") != np.dtype(exp["dtype"]).newbyteorder("="):
        problems.append(f"dtype {ds.dtype} != expected {exp['dtype']}")
    values = np.asarray(ds)
    got = _checksums(values)
    for key, want in exp.get("checksums", {}).items():
        if want is None or key not in got:
            continue
        if not _close(got[key], float(want), 1e-6, 1e-9 * max(1.0, abs(got["sum_abs"]))):
            problems.append(f"checksum {key}: {got[key]!r} != expected {want!r}")
    axes = exp.get("axes") or []
    best: list[str] | None = None
    for perm in itertools.permutations(range(ds.ndim)):
        if [ds.shape[p] for p in perm] != shape:
            continue
        errs = []
        for ax, p in zip(axes, perm):
            d = ds.dims[p]
            if ax.get("scale") is not None and np.isfinite(ax["scale"]):  # NaN: the reference did not calibrate it
                if len(d) > 1 and not _close(d.scale, ax["scale"], 1e-4, 1e-12):
                    errs.append(f"axis {ax.get('name')}: scale {d.scale} != {ax['scale']}")
                if ax.get("offset") is not None and not _close(
                    d.offset, ax["offset"], 1e-4, 1e-4 * abs(ax["scale"])
                ):
                    errs.append(f"axis {ax.get('name')}: offset {d.offset} != {ax['offset']}")
            if ax.get("units") not in (None, "", "<undefined>") and normalise_units(d.units) != normalise_units(ax["units"]):
                errs.append(f"axis {ax.get('name')}: units {d.units!r} != {ax['units']!r}")
        if best is None or len(errs) < len(best):
            best = errs
        if not errs:
            break
    problems.extend(best or [])
    if not ds.original_metadata:
        problems.append("original_metadata is empty")
    return problems


def match_real_expected(datasets: Mapping[str, Dataset], expected: Mapping[str, Any]) -> dict[int, list[str]]:
    """For every expected dataset, the problems of the best-matching returned one.

    Returns
    -------
    dict of int to list of str
        Expected index to problems; all lists empty means the reader passes.
    """
    out: dict[int, list[str]] = {}
    for exp in expected["datasets"]:
        candidates = list(datasets.values())
        if "channels" in exp:
            # a reader may return each labelled channel as its own dataset
            results = [compare_real(ds, exp) for ds in candidates]
            if not any(not r for r in results):
                per_channel = []
                for ch in exp["channels"]:
                    ch_exp = {**exp, **ch}
                    ch_exp["axes"] = [a for i, a in enumerate(exp.get("axes", []))
                                      if i != exp.get("channel_axis")]
                    rs = [compare_real(ds, ch_exp) for ds in candidates]
                    per_channel.extend(min(rs, key=len) if rs else ["no dataset"])
                out[exp["index"]] = per_channel
                continue
        results = [compare_real(ds, exp) for ds in candidates]
        out[exp["index"]] = min(results, key=len) if results else ["no dataset returned"]
    return out
