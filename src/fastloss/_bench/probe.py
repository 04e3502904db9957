"""A STREAM-like memory-bandwidth probe (the "floor" column).

``bandwidth(threads)`` times the triad ``a = b + s*c`` of
``fastloss._kernels.stream`` on arrays far larger than the last-level cache,
with the same OpenMP runtime and thread count as the loss kernels, and
reports bytes read + written per second (STREAM's convention: 3 arrays x
8 bytes per element, write-allocate traffic not counted — a loss kernel's
gradient store pays that same hidden cost).  Like STREAM it reports the best
of several trials (the least-disturbed one); the median is kept too, since
the machine may be shared.
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
