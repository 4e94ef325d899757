"""`sidkit info` describes every real and reference fixture: one dataset line per
dataset the readers return, dims with units, and exit status 0."""

from __future__ import annotations

import json

import pytest

import sidkit.core as sk
from sidkit.core.cli import main

from .conftest import ALL_FIXTURES, fixture_id, needs_fixtures

CASES = [pytest.param(p, e, id=fixture_id(p, e)) for p, e in ALL_FIXTURES]


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), CASES)
def test_sidkit_info_works_on_every_fixture(path, expected, capsys):
    assert main(["info", str(path), "--json"]) == 0
    summaries = json.loads(capsys.readouterr().out)
    datasets = sk.load_all(path)
    assert [s["name"] for s in summaries] == list(datasets)
    for s, ds in zip(summaries, datasets.values()):
        assert s["shape"] == list(ds.shape)
        assert [d["units"] for d in s["dims"]] == [d.units for d in ds.dims]
    assert main(["info", str(path)]) == 0
    assert str(path) in capsys.readouterr().out
