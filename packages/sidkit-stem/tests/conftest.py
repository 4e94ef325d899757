"""Shared synthetic data for the sidkit-stem tests."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import Dataset
from sidkit.stem.synthetic import shifted_disks, stem_dims


def phase_and_shifts(ny: int = 24, nx: int = 20, scale: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """A smooth phase and the shift field (2, ny, nx) px = scale * grad(phase) (per scan pixel)."""
    yy, xx = np.mgrid[:ny, :nx]
    phi = np.sin(2 * np.pi * yy / ny) * np.cos(4 * np.pi * xx / nx) + 0.5 * np.cos(2 * np.pi * xx / nx + 0.3)
    g0, g1 = np.gradient(phi)
    return phi, scale * np.stack([g0, g1])


@pytest.fixture
def counts_4d() -> Dataset:
    """Integer counts (uint16) on a 6 x 7 scan with a 16 x 18 detector, chunked on every axis."""
    rng = np.random.default_rng(7)
    data = rng.poisson(50, size=(6, 7, 16, 18)).astype(np.uint16)
    dims = stem_dims((6, 7), (16, 18), det_step=0.5, det_units="1/nm")
    return Dataset(data, dims, title="counts", units="counts", chunks=(3, 4, 16, 18))


@pytest.fixture
def disks_with_field() -> tuple[Dataset, np.ndarray, np.ndarray]:
    phi, sh = phase_and_shifts()
    return shifted_disks(sh, (32, 32), radius=6.0), sh, phi
