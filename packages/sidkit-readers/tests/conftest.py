from __future__ import annotations

from pathlib import Path

import pytest

from sidkit.core.testing import fixtures_dir, real_fixtures

HERE = Path(__file__).parent
FIXTURES = fixtures_dir(HERE)
REAL = real_fixtures(HERE)

needs_fixtures = pytest.mark.skipif(
    not (FIXTURES / "real").is_dir(), reason=f"real fixtures not found at {FIXTURES / 'real'}"
)
