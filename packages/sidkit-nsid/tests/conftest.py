"""Shared helpers for the sidkit-nsid tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sidkit.core import Dataset, Dimension
from sidkit.core.testing import fixtures_dir, reference_fixtures

HERE = Path(__file__).resolve().parent
FIXTURES = fixtures_dir(HERE)
NSID_FIXTURES = reference_fixtures(HERE, fmt="nsid")
USID_FIXTURES = reference_fixtures(HERE, fmt="usid")

needs_fixtures = pytest.mark.skipif(
    not NSID_FIXTURES, reason=f"NSID reference fixtures not found under {FIXTURES}/reference (set SIDKIT_FIXTURES)"
)


def normalise(value):
    """The README's comparison rule: arrays -> lists, numpy scalars -> Python, bytes -> str."""
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, np.ndarray):
        return normalise(value.tolist())
    if isinstance(value, np.generic):
        return normalise(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


@pytest.fixture
def image() -> Dataset:
    rng = np.random.default_rng(0)
    data = rng.random((40, 30)).astype(np.float32)
    return Dataset(
        data,
        [
            Dimension.linear("x", 40, scale=0.5, quantity="length", units="nm", dimension_type="spatial"),
            Dimension.linear("y", 30, scale=0.5, offset=1.0, quantity="length", units="nm",
                             dimension_type="spatial"),
        ],
        title="HAADF image",
        quantity="intensity",
        units="counts",
        modality="STEM",
        source="test",
        metadata={"experiment": {"detector": "HAADF", "voltage_V": 200000}},
        original_metadata={"Vendor": {"Version": "1.0"}},
    )


@pytest.fixture
def spectrum() -> Dataset:
    return Dataset(
        np.linspace(0, 1, 128),
        [Dimension.linear("energy_loss", 128, scale=0.25, offset=100, quantity="energy loss",
                          units="eV", dimension_type="spectral")],
        title="EELS", quantity="intensity", units="counts", modality="EELS",
    )
