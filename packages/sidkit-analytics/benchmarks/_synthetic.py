"""Synthetic data shared by the benchmarks (not a test module)."""

from __future__ import annotations

import numpy as np


def spectral_image(ny: int, nx: int, ne: int, k: int = 8, seed: int = 0) -> np.ndarray:
    """float32 (ny, nx, ne): mixtures of ``k`` Gaussian end-members plus noise."""
    rng = np.random.default_rng(seed)
    e = np.linspace(0, 1, ne, dtype=np.float32)
    centres = rng.uniform(0.1, 0.9, k).astype(np.float32)
    em = np.exp(-0.5 * ((e[None] - centres[:, None]) / 0.05) ** 2).astype(np.float32)
    labels = rng.integers(0, k, ny * nx)
    ab = np.eye(k, dtype=np.float32)[labels] * 0.8 + rng.random((ny * nx, k), dtype=np.float32) * 0.2
    out = (ab @ em).reshape(ny, nx, ne)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(0.02)
    return out
