"""Timing helpers shared by every package's ``benchmarks/`` scripts.

Benchmarks compare sidkit with the limit (raw h5py, plain numpy, the
reference reader) as a ratio measured in one run; these helpers time both
sides the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["best_time", "best_time_and_result", "duel"]


def best_time_and_result(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls of ``fn``, and the last call's result."""
    best, out = float("inf"), None
    for _ in range(max(1, int(repeat))):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def best_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best wall time in seconds of ``repeat`` calls of ``fn``."""
    return best_time_and_result(fn, repeat)[0]


def duel(a: Callable[[], Any], b: Callable[[], Any], repeat: int = 3, *,
         statistic: Callable[[list[float]], float] = min) -> tuple[float, float]:
    """Times of ``a`` and ``b`` called alternately, so that both see the
    same machine load: ``statistic`` (default the best) of ``repeat`` calls each.

    Pass ``statistic=statistics.median`` for figures of a few milliseconds,
    where a single lucky call would decide the best.
    """
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(max(1, int(repeat))):
        ta.append(best_time(a, 1))
        tb.append(best_time(b, 1))
    return statistic(ta), statistic(tb)
