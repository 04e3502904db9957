"""A STREAM-like memory-bandwidth probe (the "floor" column).

``bandwidth(threads)`` times the triad ``a = b + s*c`` of
``fastloss._kernels.stream`` on arrays far larger than the last-level cache,
with the same OpenMP runtime and thread count as the loss kernels, and
reports bytes read + written per second (STREAM's convention: 3 arrays x
8 bytes per element, write-allocate traffic not counted — a loss kernel's
gradient store pays that same hidden cost).  Like STREAM it reports the best
of several trials (the least-disturbed one); the median is kept too, since
the machine may be shared.

A probe run once per benchmark is not a floor to trust on a shared machine:
it catches whatever load there was in its second (12 GB/s in a run where
the triad measured 19-21 GB/s within the hour, issue 16).  So
:func:`triad_call` gives the runner a triad moving the same bytes as a case,
timed as one more implementation in that case's interleaved rounds: the
case and its floor see the same load, and the "x floor" column divides
their times from the same rounds.
"""
from __future__ import annotations

import time

import numpy as np


def bandwidth(threads, n=None, trials=10, quick=False):
    """Dict with ``gb_per_s`` (best trial), ``gb_per_s_median``, ``threads``,
    ``bytes`` per trial and ``trials``."""
    from .._kernels import stream
    if n is None:
        n = 4 * 10**6 if quick else 10**7     # 96 MB / 240 MB per trial, > any L3
    a, b, c = np.empty(n), np.empty(n), np.empty(n)
    stream.fill(a, 0.0, threads)
    stream.fill(b, 1.0, threads)
    stream.fill(c, 2.0, threads)
    stream.triad(a, b, c, 3.0, threads)          # warm up the thread team
    times = []
    for _ in range(trials):
        t0 = time.perf_counter()
        stream.triad(a, b, c, 3.0, threads)
        times.append(time.perf_counter() - t0)
    if a[n // 2] != 7.0:
        raise RuntimeError("bandwidth probe computed a wrong triad")
    nbytes = 3 * 8 * n
    return {"gb_per_s": nbytes / min(times) / 1e9,
            "gb_per_s_median": nbytes / float(np.median(times)) / 1e9,
            "threads": int(threads), "bytes": nbytes, "trials": trials}


def triad_call(nbytes, threads):
    """A zero-argument call running the triad over arrays that move `nbytes`
    bytes (read + written, STREAM's count; at least 3 x 8 kB), on `threads`
    threads; ``.bytes`` holds the exact count.  The pages are touched by
    the threads that will use them, before any timing."""
    from .._kernels import stream
    n = max(int(round(nbytes / 24)), 1024)
    a, b, c = np.empty(n), np.empty(n), np.empty(n)
    stream.fill(a, 0.0, threads)
    stream.fill(b, 1.0, threads)
    stream.fill(c, 2.0, threads)

    def call():
        stream.triad(a, b, c, 3.0, threads)
        return None

    call.bytes = 24 * n
    return call
