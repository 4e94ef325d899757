"""Private: keep BLAS single-threaded inside dask tasks.

dask already runs one task per core; a multi-threaded BLAS inside each task
oversubscribes the cores, and OpenBLAS in particular slows down many times
on the skinny products used here (patterns x a few weight maps). While at
least one sidkit-stem task runs in a process, BLAS is limited to one
thread (reference-counted across dask's threads); the original limit is
restored when the last one ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.Lock()
_DEPTH = 0
_LIMITER: Any = None
_CONTROLLER: Any = None


def _controller() -> Any:
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the body with BLAS limited to one thread (re-entrant, thread-safe)."""
    global _DEPTH, _LIMITER
    with _LOCK:
        if _DEPTH == 0:
            try:
                _LIMITER = _controller().limit(limits=1, user_api="blas")
            except Exception:  # no controllable BLAS: run as is
                _LIMITER = None
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0 and _LIMITER is not None:
                _LIMITER.restore_original_limits()
                _LIMITER = None
