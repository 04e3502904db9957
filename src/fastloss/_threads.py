"""Thread control.

The thread count is the OpenMP ``nthreads`` setting of the calling thread,
read by every kernel at call time.  threadpoolctl's ``threadpool_limits(k,
user_api="openmp")`` sets that same value in the OpenMP runtime fastloss
links, so its limit applies to fastloss with nothing else to do.  Like any
OpenMP setting it is per Python thread: a new thread starts from the
``OMP_NUM_THREADS`` default.
"""
from __future__ import annotations

import contextlib
import numbers

from ._kernels import _runtime


def get_num_threads() -> int:
    """Threads a large kernel will use from this Python thread."""
    return int(_runtime.max_threads())


def set_num_threads(n: int) -> None:
    """Use `n` threads (n >= 1) for kernels called from this Python thread."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    _runtime.set_max_threads(int(n))


@contextlib.contextmanager
def num_threads(n: int):
    """``with fl.num_threads(k): ...`` runs the block on k threads, then restores."""
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield n
    finally:
        _runtime.set_max_threads(previous)
