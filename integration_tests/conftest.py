from __future__ import annotations

from pathlib import Path

import pytest

from sidkit.core.testing import fixtures_dir, real_fixtures, reference_fixtures

HERE = Path(__file__).parent
FIXTURES = fixtures_dir(HERE)
REAL = real_fixtures(HERE)
REFERENCE = reference_fixtures(HERE)
ALL_FIXTURES = [(p, e) for p, e in REAL + REFERENCE]

needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"shared fixtures not found at {FIXTURES} (set SIDKIT_FIXTURES)"
)


def fixture_id(path: Path, expected: dict) -> str:
    return f"{expected.get('format', '?')}/{path.name}"
