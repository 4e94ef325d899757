"""Import time of sidkit.core (and listing plugins) vs numpy + dask.array alone.

Each figure is the median of several fresh interpreters, measured in one run.
Usage: python bench_import.py [--quick]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def _time(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    repeat = 3 if "--quick" in sys.argv else 9
    base = _time("import numpy, dask.array", repeat)
    core = _time("import sidkit.core", repeat)
    listing = _time("import sidkit.core as s; s.plugins(); s.readers(); s.writers()", repeat)
    print(f"core.import: sidkit.core {core:.3f} s, numpy+dask.array {base:.3f} s, ratio {core / base:.2f}x")
    print(f"core.import+plugins: {listing:.3f} s, numpy+dask.array {base:.3f} s, ratio {listing / base:.2f}x")


if __name__ == "__main__":
    main()
