"""Timing helpers of the benchmark scripts (``sidkit.core.benchmarking``)."""

from __future__ import annotations

import statistics

from sidkit.core.benchmarking import best_time_and_result, duel


def test_best_time_and_result_returns_the_last_result():
    calls = []
    seconds, out = best_time_and_result(lambda: calls.append(1) or len(calls), repeat=4)
    assert out == 4 and seconds >= 0


def test_duel_alternates_the_two_callables():
    order: list[str] = []
    duel(lambda: order.append("a"), lambda: order.append("b"), repeat=3)
    assert order == ["a", "b", "a", "b", "a", "b"]


def test_duel_applies_the_statistic_to_each_side():
    seen: list[int] = []

    def count(times: list[float]) -> float:
        seen.append(len(times))
        return statistics.median(times)

    ta, tb = duel(lambda: None, lambda: sum(range(10_000)), repeat=5, statistic=count)
    assert seen == [5, 5] and 0 <= ta and 0 <= tb
