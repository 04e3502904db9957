"""Thread control.

The thread count is the OpenMP ``nthreads`` setting of the calling thread,
read by every kernel at call time.  threadpoolctl's ``threadpool_limits(k,
user_api="openmp")`` sets that same value in the OpenMP runtime fastloss
links, so its limit applies to fastloss with nothing else to do.  Like any
OpenMP setting it is per Python thread: a new thread starts from the
``OMP_NUM_THREADS`` default.

On a busy machine: fastloss's OpenMP runtime is loaded with
``OMP_WAIT_POLICY=passive`` unless the user set a wait policy
(fastloss/_omp_policy.py), the kernels hand their fixed blocks out
dynamically, and a region whose extra threads turn up late runs on the
calling thread for a while (fastloss/_kernels/_runtime.pyx).  So the
setting is the most threads a call uses: with every core busy a call may
use fewer, and gets the same bits either way (blocks and their combining
order never depend on the threads).  ``FASTLOSS_ADAPTIVE_TEAM=0`` makes
every call use the threads set.

Fork: GNU libgomp's thread pool does not survive ``fork()``; a child that
starts a parallel region the parent's pool served waits forever for threads
that no longer exist.  In a forked child (``os.fork``, multiprocessing's
"fork" start method) every kernel therefore runs on one thread, whatever
the setting; "spawn" and "forkserver" children start fresh and are not
affected.
"""
from __future__ import annotations

import contextlib
import numbers
import os

from ._kernels import _runtime

# The OpenMP setting is a C int.
MAX_THREADS = 2**31 - 1

_in_forked_child = False


def _after_fork_in_child():
    global _in_forked_child
    _in_forked_child = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def get_num_threads() -> int:
    """Threads a large kernel will use from this Python thread (1 in a
    forked child, see the module docstring)."""
    if _in_forked_child:
        return 1
    return int(_runtime.max_threads())


def set_num_threads(n: int) -> None:
    """Use `n` threads (1 <= n <= 2**31 - 1) for kernels called from this
    Python thread."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer, got {type(n).__name__}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"n must be between 1 and {MAX_THREADS}, got {n}")
    _runtime.set_max_threads(int(n))


@contextlib.contextmanager
def num_threads(n: int):
    """``with fl.num_threads(k): ...`` runs the block on k threads, then restores.

    >>> import fastloss as fl
    >>> before = fl.get_num_threads()
    >>> with fl.num_threads(1):
    ...     fl.get_num_threads()
    1
    >>> fl.get_num_threads() == before
    True
    """
    previous = int(_runtime.max_threads())
    set_num_threads(n)
    try:
        yield n
    finally:
        _runtime.set_max_threads(previous)
