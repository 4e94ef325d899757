"""Every real instrument file in SIDKIT_FIXTURES/real is read as its expected file says.

New fixtures are picked up without new code: the cases are the files present.
"""

from __future__ import annotations

import pytest

from sidkit.core import load_all
from sidkit.core.testing import match_real_expected

from .conftest import REAL, needs_fixtures

CASES = [pytest.param(p, e, id=f"{e['format']}/{p.name}") for p, e in REAL]


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), CASES)
def test_real_fixture_matches_expected(path, expected):
    datasets = load_all(path)
    problems = match_real_expected(datasets, expected)
    assert problems == {i: [] for i in problems}, problems


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), CASES)
def test_real_fixture_loads_lazily(path, expected):
    datasets = load_all(path, lazy=True)
    for ds in datasets.values():
        assert ds.data.__class__.__module__.startswith("dask")
        assert ds.shape == tuple(ds.data.shape)
