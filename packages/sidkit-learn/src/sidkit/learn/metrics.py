"""Scores for found atoms against true positions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["PointMatch", "match_points"]


@dataclass(frozen=True)
class PointMatch:
    """How well found points match true points.

    Attributes
    ----------
    true_positives, false_positives, false_negatives : int
        Matched found points, unmatched found points, unmatched true points.
    precision, recall, f1 : float
        ``tp / (tp + fp)``, ``tp / (tp + fn)`` and their harmonic mean (1 when
        there is nothing to find and nothing was found).
    mean_distance : float
        Mean distance of matched pairs (NaN without matches), in the points' units.
    """

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float
    mean_distance: float

    def as_dict(self) -> dict[str, Any]:
        """The scores as a plain dict (for model cards)."""
        return asdict(self)


def _points(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be an (n, d) array of points, got shape {arr.shape}")
    return arr


def match_points(found: Any, true: Any, tolerance: float = 1.0, *,
                 exclude_border: float = 0.0, shape: tuple[float, ...] | None = None) -> PointMatch:
    """Match found points one-to-one to true points within ``tolerance``.

    Pairs are matched greedily from the closest; each point is used at most
    once. With ``exclude_border`` and ``shape``, the points are matched
    first, then those closer than ``exclude_border`` to the edge of the box
    ``[0, shape - 1]`` are not scored: an unmatched point there is neither a
    false positive nor a false negative, and a pair counts when either of its
    points lies inside (atoms cut by the image edge are ill-defined).

    Parameters
    ----------
    found, true : array_like, shape (n, d)
        Point coordinates (e.g. ``(row, column)`` in pixels).
    tolerance : float, default 1.0
        Largest distance of a match, in the points' units.
    exclude_border : float, default 0.0
        Margin, in the points' units, ignored at the edges of ``shape``.
    shape : tuple of float, optional
        Size of the box along each coordinate; needed with ``exclude_border``.

    Returns
    -------
    PointMatch
    """
    from scipy.spatial import cKDTree

    f, t = _points(found, "found"), _points(true, "true")
    pairs_f: list[int] = []
    pairs_t: list[int] = []
    dists: list[float] = []
    if len(f) and len(t):
        pairs = cKDTree(f).sparse_distance_matrix(cKDTree(t), tolerance, output_type="ndarray")
        order = np.argsort(pairs["v"], kind="stable")
        used_f: set[int] = set()
        used_t: set[int] = set()
        for k in order:
            i, j = int(pairs["i"][k]), int(pairs["j"][k])
            if i in used_f or j in used_t:
                continue
            used_f.add(i)
            used_t.add(j)
            pairs_f.append(i)
            pairs_t.append(j)
            dists.append(float(pairs["v"][k]))
    scored_f = np.ones(len(f), dtype=bool)
    scored_t = np.ones(len(t), dtype=bool)
    if exclude_border > 0:
        if shape is None:
            raise ValueError("exclude_border needs shape")
        hi = np.asarray(shape, dtype=float) - 1 - exclude_border
        if len(f):
            scored_f = np.all((f >= exclude_border) & (f <= hi), axis=1)
        if len(t):
            scored_t = np.all((t >= exclude_border) & (t <= hi), axis=1)
    # a pair counts when either of its points is in the scored region
    kept = [k for k in range(len(dists)) if scored_f[pairs_f[k]] or scored_t[pairs_t[k]]]
    tp = len(kept)
    dist_sum = float(sum(dists[k] for k in kept))
    matched_f = np.zeros(len(f), dtype=bool)
    matched_t = np.zeros(len(t), dtype=bool)
    matched_f[pairs_f] = True
    matched_t[pairs_t] = True
    fp = int(np.sum(scored_f & ~matched_f))
    fn = int(np.sum(scored_t & ~matched_t))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PointMatch(tp, fp, fn, precision, recall, f1, dist_sum / tp if tp else float("nan"))
