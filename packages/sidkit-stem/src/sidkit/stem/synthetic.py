"""Synthetic 4D-STEM data with known answers, for tests, demos and benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np

from sidkit.core import Dataset, Dimension

__all__ = ["disk", "stem_dims", "shifted_disks", "lattice_patterns"]


def disk(shape: tuple[int, int], center: tuple[float, float], radius: float,
         edge: float = 0.6) -> np.ndarray:
    """A disk with a smooth (tanh) edge of width ``edge`` px at a sub-pixel centre."""
    p0 = np.arange(shape[0], dtype=float)[:, None] - center[0]
    p1 = np.arange(shape[1], dtype=float)[None, :] - center[1]
    r = np.hypot(p0, p1)
    return 0.5 * (1.0 - np.tanh((r - radius) / edge))


def stem_dims(scan_shape: tuple[int, int], det_shape: tuple[int, int], *,
              scan_step: float = 0.1, det_step: float = 1.0, det_units: str = "px",
              det_origin: tuple[float, float] | None = None) -> list[Dimension]:
    """Dims (y, x, ky, kx): scan in nm, detector in ``det_units`` with the
    origin at pixel ``det_origin`` (default the middle pixel n // 2)."""
    o = det_origin if det_origin is not None else (det_shape[0] // 2, det_shape[1] // 2)
    q = "reciprocal length" if det_units == "1/nm" else "scattering angle" if det_units == "mrad" else "pixel"
    return [
        Dimension.linear("y", scan_shape[0], scale=scan_step, units="nm", quantity="length",
                         dimension_type="spatial"),
        Dimension.linear("x", scan_shape[1], scale=scan_step, units="nm", quantity="length",
                         dimension_type="spatial"),
        Dimension.linear("ky", det_shape[0], scale=det_step, offset=-o[0] * det_step,
                         units=det_units, quantity=q, dimension_type="reciprocal"),
        Dimension.linear("kx", det_shape[1], scale=det_step, offset=-o[1] * det_step,
                         units=det_units, quantity=q, dimension_type="reciprocal"),
    ]


def shifted_disks(shifts: np.ndarray, det_shape: tuple[int, int] = (32, 32), radius: float = 6.0,
                  intensity: float = 100.0, **dims: Any) -> Dataset:
    """A 4D-STEM dataset of bright-field disks shifted by ``shifts`` (2, ny, nx) pixels
    from the detector's middle pixel (n // 2)."""
    shifts = np.asarray(shifts, dtype=float)
    ny, nx = shifts.shape[1:]
    c = (det_shape[0] // 2, det_shape[1] // 2)
    data = np.empty((ny, nx, *det_shape), dtype=np.float32)
    for i in range(ny):
        for j in range(nx):
            data[i, j] = intensity * disk(det_shape, (c[0] + shifts[0, i, j], c[1] + shifts[1, i, j]), radius)
    return Dataset(data, stem_dims((ny, nx), det_shape, **dims), title="synthetic disks",
                   units="counts", quantity="intensity", modality="4D-STEM")


def lattice_patterns(g: np.ndarray, det_shape: tuple[int, int] = (96, 96), radius: float = 3.0,
                     origin: tuple[float, float] | None = None, max_order: int = 4,
                     **dims: Any) -> Dataset:
    """Diffraction patterns of a lattice: ``g`` (ny, nx, 2, 2) holds, per scan
    position, the reciprocal vectors g1 = g[..., 0, :], g2 = g[..., 1, :] in
    pixels (det0, det1). Disks of ``radius`` px sit at origin + h g1 + k g2;
    the direct beam (h = k = 0) is twice as bright."""
    g = np.asarray(g, dtype=float)
    ny, nx = g.shape[:2]
    o = origin if origin is not None else (det_shape[0] / 2.0, det_shape[1] / 2.0)
    data = np.zeros((ny, nx, *det_shape), dtype=np.float32)
    hk = [(h, k) for h in range(-max_order, max_order + 1) for k in range(-max_order, max_order + 1)]
    for i in range(ny):
        for j in range(nx):
            pat = np.zeros(det_shape)
            for h, k in hk:
                p = np.asarray(o) + h * g[i, j, 0] + k * g[i, j, 1]
                if radius + 2 <= p[0] <= det_shape[0] - radius - 3 and radius + 2 <= p[1] <= det_shape[1] - radius - 3:
                    pat += (2.0 if h == k == 0 else 1.0) * disk(det_shape, (p[0], p[1]), radius)
            data[i, j] = pat
    return Dataset(data, stem_dims((ny, nx), det_shape, **dims), title="synthetic lattice",
                   units="counts", quantity="intensity", modality="4D-STEM")
