"""Damaged copies of every real fixture either load or raise a SidkitError naming the file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sidkit.core import SidkitError, load_all

from .conftest import REAL, needs_fixtures


def _variants(data: bytes):
    n = len(data)
    rng = np.random.default_rng(n)
    yield "empty", b""
    yield "truncated-header", data[: min(64, n)]
    yield "truncated-half", data[: n // 2]
    yield "truncated-end", data[: max(0, n - 7)]
    head = bytearray(data)
    head[: min(256, n)] = bytes(min(256, n))
    yield "zeroed-header", bytes(head)
    flipped = bytearray(data)
    for pos in rng.integers(0, max(1, min(n, 4096)), size=16):
        flipped[int(pos)] ^= 0xFF
    yield "flipped-bytes", bytes(flipped)


CASES = [
    pytest.param(p, e, name, id=f"{e['format']}/{p.name}/{name}")
    for p, e in REAL
    for name in ("empty", "truncated-header", "truncated-half", "truncated-end",
                 "zeroed-header", "flipped-bytes")
]


@needs_fixtures
@pytest.mark.parametrize(("path", "expected", "variant"), CASES)
def test_corrupted_copy_loads_or_raises_sidkit_error_naming_file(tmp_path, path, expected, variant):
    for comp in expected.get("companions", []):
        shutil.copy(path.parent / comp["file"], tmp_path / comp["file"])
    data = dict(_variants(path.read_bytes()))[variant]
    bad = tmp_path / path.name
    bad.write_bytes(data)
    try:
        for ds in load_all(bad).values():
            ds.compute()
    except SidkitError as exc:
        assert bad.name in str(exc), f"message does not name the file: {exc}"
