"""Lattice vectors fitted to Bragg disks, and strain maps against a reference."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, DataType, Dimension, DimensionMismatchError, DimensionType

from ._axes import PACKAGE

__all__ = ["lattice_vectors", "strain_map", "guess_lattice"]

STRAIN_FIELDS = ("exx", "eyy", "exy", "rotation")


def _points(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.all(np.isfinite(table[:, :2]), axis=1)
    return table[ok, :2], table[ok, 2]


def guess_lattice(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin, g1, g2 from one pattern's disks (peak, field): the strongest
    disk is the direct beam, g1 the shortest vector to another disk, g2 the
    shortest one not parallel to g1, with g1 x g2 > 0."""
    pts, inten = _points(np.asarray(table, dtype=float))
    if len(pts) < 3:
        raise ValueError(f"need at least 3 disks to guess a lattice, found {len(pts)}")
    origin = pts[int(np.argmax(inten))]
    vec = pts - origin
    r = np.hypot(vec[:, 0], vec[:, 1])
    cand = np.argsort(r)[1:]
    g1 = vec[cand[0]]
    g2 = None
    for k in cand[1:]:
        v = vec[k]
        sin = abs(g1[0] * v[1] - g1[1] * v[0]) / (np.hypot(*g1) * np.hypot(*v))
        if sin > 0.3:
            g2 = v
            break
    if g2 is None:
        raise ValueError("all disks lie on one line; cannot find a second lattice vector")
    if g1[0] * g2[1] - g1[1] * g2[0] < 0:
        g2 = -g2
    return origin, g1, g2


def _fit_one(pts: np.ndarray, origin: np.ndarray, g1: np.ndarray, g2: np.ndarray,
             tolerance: float) -> np.ndarray:
    out = np.full((3, 2), np.nan)
    if len(pts) < 3:
        return out
    o = pts[int(np.argmin(np.hypot(*(pts - origin).T)))]
    basis = np.column_stack([g1, g2])
    try:
        frac = np.linalg.solve(basis, (pts - o).T).T
    except np.linalg.LinAlgError:
        return out
    hk = np.round(frac)
    ok = np.all(np.abs(frac - hk) < tolerance, axis=1)
    if ok.sum() < 3:
        return out
    a = np.column_stack([np.ones(ok.sum()), hk[ok]])
    if np.linalg.matrix_rank(a) < 3:
        return out
    coef, *_ = np.linalg.lstsq(a, pts[ok], rcond=None)
    return coef


def _fit_block(block: np.ndarray, origin: np.ndarray, g1: np.ndarray, g2: np.ndarray,
               tolerance: float) -> np.ndarray:
    a, b = block.shape[:2]
    out = np.full((a, b, 3, 2), np.nan)
    for i in range(a):
        for j in range(b):
            pts, _ = _points(block[i, j])
            out[i, j] = _fit_one(pts, origin, g1, g2, tolerance)
    return out


def lattice_vectors(disks: Dataset, *, g1: Any = None, g2: Any = None, origin: Any = None,
                    guess_at: tuple[int, int] | None = None, tolerance: float = 0.25) -> Dataset:
    """Fit origin + h g1 + k g2 to the disks of every pattern, lazily.

    Parameters
    ----------
    disks : Dataset
        From :func:`find_bragg_disks` (scan0, scan1, peak, field).
    g1, g2, origin : (float, float), optional
        Starting lattice vectors and direct-beam position, in the disks'
        units (calibrated detector units, or px). Guessed from one pattern
        (see :func:`guess_lattice`) when omitted.
    guess_at : (int, int), optional
        Scan position (indices) used for the guess; default the scan centre.
    tolerance : float, default 0.25
        Disks whose fractional (h, k) is further than this from integers are
        left out of the fit.

    Returns
    -------
    Dataset
        IMAGE_MAP (scan0, scan1, vector, component): ``vector`` is
        (origin, g1, g2), ``component`` the two detector dims, in the disks'
        units. Positions with fewer than 3 indexed disks are NaN.
    """
    if disks.ndim != 4 or disks.shape[-1] < 3:
        raise DimensionMismatchError(
            f"lattice_vectors needs find_bragg_disks output (scan0, scan1, peak, field), got {disks.shape}"
        )
    tab = disks.data
    if g1 is None or g2 is None or origin is None:
        i, j = guess_at if guess_at is not None else (disks.shape[0] // 2, disks.shape[1] // 2)
        o0, a, b = guess_lattice(np.asarray(tab[i, j].compute()))
        origin = o0 if origin is None else origin
        g1 = a if g1 is None else g1
        g2 = b if g2 is None else g2
    origin, g1, g2 = (np.asarray(v, dtype=float).reshape(2) for v in (origin, g1, g2))
    tab = tab.rechunk({2: -1, 3: -1})
    fit = da.map_blocks(_fit_block, tab, origin, g1, g2, float(tolerance), dtype=float,
                        chunks=(tab.chunks[0], tab.chunks[1], (3,), (2,)))
    vec = Dimension("vector", 3, quantity="lattice vector", units="", dimension_type=DimensionType.CHANNEL)
    comp = Dimension("component", 2, quantity="component", units="", dimension_type=DimensionType.CHANNEL)
    res = disks.derive(fit, [disks.dims[0], disks.dims[1], vec, comp], process="sidkit.stem.lattice_vectors",
                       parameters={"g1": g1, "g2": g2, "origin": origin, "tolerance": tolerance},
                       package=PACKAGE, title="lattice vectors", quantity="reciprocal lattice vector",
                       data_type=DataType.IMAGE_MAP)
    res.metadata.setdefault("stem", {})["vectors"] = ["origin", "g1", "g2"]
    return res


def _reference_mask(reference: Any, shape: tuple[int, int]) -> np.ndarray:
    if reference is None:
        return np.ones(shape, dtype=bool)
    if isinstance(reference, tuple) and all(isinstance(s, slice) for s in reference):
        m = np.zeros(shape, dtype=bool)
        m[reference] = True
        return m
    m = np.asarray(reference)
    if m.shape != shape or m.dtype != bool:
        raise DimensionMismatchError(
            f"reference must be a pair of slices or a boolean mask of the scan shape {shape}, "
            f"got {getattr(m, 'dtype', type(reference))} {m.shape}"
        )
    return m


def _strain_block(block: np.ndarray, g0: np.ndarray, rot: np.ndarray) -> np.ndarray:
    a, b = block.shape[:2]
    out = np.full((a, b, 4), np.nan)
    for i in range(a):
        for j in range(b):
            g = block[i, j, 1:3].T  # columns g1, g2
            if not np.all(np.isfinite(g)) or abs(np.linalg.det(g)) < 1e-12:
                continue
            f = (g0 @ np.linalg.inv(g)).T
            f = rot.T @ f @ rot
            e = 0.5 * (f + f.T) - np.eye(2)
            out[i, j] = (e[0, 0], e[1, 1], e[0, 1], np.rad2deg(0.5 * (f[1, 0] - f[0, 1])))
    return out


def strain_map(lattice: Dataset, reference: Any = None, *, rotation: float = 0.0) -> Dataset:
    """Infinitesimal strain and lattice rotation against a reference region.

    With reciprocal vectors G = [g1 g2] at a position and G0 averaged over
    the reference, the deformation gradient is ``F = (G0 G^-1)^T``; the
    strain is ``(F + F^T) / 2 - I`` and the rotation ``(F10 - F01) / 2``.

    Parameters
    ----------
    lattice : Dataset
        From :func:`lattice_vectors`.
    reference : (slice, slice) or bool array, optional
        Scan region of the unstrained reference; default the whole scan.
    rotation : float, default 0
        Angle (degrees) of the x axis of the strain frame from the first
        detector dim, counter-clockwise in the (det0, det1) plane; 0 gives
        x = det0, y = det1.

    Returns
    -------
    Dataset
        IMAGE_STACK (component, scan0, scan1) with components
        ``exx, eyy, exy`` (dimensionless, 0.01 = 1 %) and ``rotation``
        (degrees); names in ``metadata["stem"]["components"]``.
    """
    if lattice.ndim != 4 or lattice.shape[2:] != (3, 2):
        raise DimensionMismatchError(
            f"strain_map needs lattice_vectors output (scan0, scan1, 3, 2), got {lattice.shape}"
        )
    shape = lattice.shape[:2]
    if isinstance(reference, tuple) and all(isinstance(s, slice) for s in reference):
        _reference_mask(reference, shape)
        ref = np.asarray(lattice.data[reference].compute()).reshape(-1, 3, 2)
    else:
        mask = _reference_mask(reference, shape)
        ref = np.asarray(lattice.data.compute())[mask]
    g0 = np.nanmean(ref[:, 1:3], axis=0).T
    if not np.all(np.isfinite(g0)):
        raise ValueError("no position of the reference region has fitted lattice vectors")
    t = np.deg2rad(rotation)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    data = lattice.data.rechunk({2: -1, 3: -1})
    out = da.map_blocks(_strain_block, data, g0, rot, dtype=float,
                        chunks=(data.chunks[0], data.chunks[1], (4,)), drop_axis=3)
    out = out.transpose(2, 0, 1)
    comp = Dimension("component", 4, quantity="component", units="", dimension_type=DimensionType.CHANNEL)
    res = lattice.derive(out, [comp, lattice.dims[0], lattice.dims[1]], process="sidkit.stem.strain_map",
                         parameters={"reference": "all" if reference is None else
                                     (str(reference) if isinstance(reference, tuple) else "mask"),
                                     "rotation": rotation, "g0": g0},
                         package=PACKAGE, title="strain map", quantity="strain", units="",
                         data_type=DataType.IMAGE_STACK)
    res.metadata.setdefault("stem", {}).update({"components": list(STRAIN_FIELDS),
                                                "rotation_units": "deg", "frame_rotation_deg": rotation})
    return res
