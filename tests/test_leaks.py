"""Repeated calls do not grow resident memory: one loss of each kernel family,
a few thousand small calls and a few calls on a large input.

The full check (every registered loss, 10^5 small calls, larger inputs) is
tools/leak_check.py, which CI runs on its own; this is the part cheap enough
for every test run (about a second).  RSS is read from /proc/self/statm after
a warm-up, so allocator pools and NumPy's caches are filled before the first
reading.  A leak of a few hundred bytes per small call, or of one
output-sized array per large call, crosses the 5 MB limit.
"""
from __future__ import annotations

import gc
import os
import tracemalloc

import numpy as np
import pytest

import fastloss as fl

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                       reason="reads the resident set size from /proc/self/statm"),
    # ASan holds freed blocks in its quarantine (256 MB) before reuse, so RSS
    # grows there without any leak (tools/sanitize.sh runs this suite).
    pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                       reason="RSS is no measure of leaks under AddressSanitizer"),
]

LIMIT = 5 * 2**20
# Python objects and NumPy buffers alive after the calls that were not before:
# a kept scalar per call (3000 x ~32 bytes) or one kept gradient is over it.
TRACED_LIMIT = 64 * 2**10
SMALL_CALLS = 3000
LARGE_CALLS = 8


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _probs(rng, rows, C):
    p = rng.uniform(0.05, 1.0, (rows, C))
    return p / p.sum(axis=1, keepdims=True)


def inputs(name, n, rng):
    """(loss, y_true, y_pred, call keywords) with about n elements."""
    C = 5
    rows = max(1, n // C)
    labels = rng.integers(0, C, rows)
    if name == "mse":
        y = rng.normal(size=(rows, C))
        return fl.MeanSquaredError(), y, y + rng.normal(size=y.shape), {"sample_weight": np.ones(rows)}
    if name == "bce_logits":                        # float32: twice the elements
        n *= 2
        y = (rng.random(n) < 0.5).astype(np.float32)
        return fl.BinaryCrossentropy(from_logits=True), y, rng.normal(size=n).astype(np.float32), {}
    if name == "cce":
        return (fl.CategoricalCrossentropy(from_logits=True, reduction="none"),
                np.eye(C)[labels], rng.normal(size=(rows, C)), {})
    if name == "scce":
        return fl.SparseCategoricalCrossentropy(ignore_index=1), labels, _probs(rng, rows, C), {}
    if name == "hellinger_f32":                     # odd row length: vector tails
        rows *= 2
        return (fl.HellingerDistance(), _probs(rng, rows, C).astype(np.float32),
                _probs(rng, rows, C).astype(np.float32), {})
    if name == "giou":
        b = max(1, n // 4)
        def boxes():
            xy = rng.uniform(0, 10, (b, 2))
            return np.concatenate([xy, xy + rng.uniform(0.1, 3, (b, 2))], axis=1)
        return fl.GIoULoss(), boxes(), boxes(), {}
    if name == "ranknet":
        group = np.arange(n) // 8
        return fl.RankNet(), rng.integers(0, 3, n).astype(float), rng.normal(size=n), {"group": group}
    if name == "kappa":
        return fl.KappaLoss(weights="quadratic"), labels, _probs(rng, rows, C), {}
    if name == "lovasz_softmax":
        return fl.LovaszSoftmax(), labels, _probs(rng, rows, C), {}
    if name == "lovasz_hinge":
        side = max(1, int(np.sqrt(n / 2)))
        return (fl.LovaszHinge(), rng.integers(0, 2, (2, side, side)),
                rng.normal(size=(2, side, side)), {})
    if name == "jaccard":
        y = (rng.random((rows, C)) < 0.5).astype(float)
        return fl.JaccardLoss(class_axis=1), y, rng.random((rows, C)), {}
    raise AssertionError(name)


NAMES = ["mse", "bce_logits", "cce", "scce", "hellinger_f32", "giou", "ranknet", "kappa",
         "lovasz_softmax", "lovasz_hinge", "jaccard"]


def growth(loss, yt, yp, kw, calls):
    """(RSS growth, traced growth) over `calls` rounds of loss, gradient and
    loss_gradient.

    RSS sees every allocation, the kernels' own malloc included, but is
    coarse in a long test process: memory freed by earlier tests and kept by
    the allocator is reused before RSS moves.  tracemalloc is exact for
    Python objects and NumPy's array buffers (NumPy reports them to it), so
    a kept result shows however much free memory the process holds.
    """
    methods = [loss.loss, loss.gradient, loss.loss_gradient]
    for _ in range(max(2, calls // 10)):            # warm-up
        for m in methods:
            m(yt, yp, **kw)
    gc.collect()
    tracemalloc.start()
    try:
        traced = tracemalloc.get_traced_memory()[0]
        before = rss()
        for _ in range(calls):
            for m in methods:
                m(yt, yp, **kw)
        gc.collect()
        return rss() - before, tracemalloc.get_traced_memory()[0] - traced
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", NAMES)
def test_small_calls_do_not_grow_memory(name):
    loss, yt, yp, kw = inputs(name, 40, np.random.default_rng(0))
    grown, traced = growth(loss, yt, yp, kw, SMALL_CALLS // 3)
    assert grown < LIMIT
    assert traced < TRACED_LIMIT


@pytest.mark.parametrize("name", NAMES)
def test_large_calls_do_not_grow_memory(name):
    # 5e4 elements (float32: 1e5): every gradient is >= 0.4 MB, so keeping
    # the arrays of 8 calls x 2 methods that return them crosses the limit.
    loss, yt, yp, kw = inputs(name, 50_000, np.random.default_rng(1))
    grown, traced = growth(loss, yt, yp, kw, LARGE_CALLS)
    assert grown < LIMIT
    assert traced < TRACED_LIMIT


def test_the_measure_sees_a_leak():
    """The check can fail: holding on to every gradient is seen as growth
    (by tracemalloc exactly; RSS only once the allocator's free memory is used up)."""
    loss, yt, yp, kw = inputs("mse", 50_000, np.random.default_rng(2))
    kept = []

    class Leaky:
        def loss(self, *a, **k):
            return loss.loss(*a, **k)

        def gradient(self, *a, **k):
            g = loss.gradient(*a, **k)
            kept.append(g)
            return g

        def loss_gradient(self, *a, **k):
            v, g = loss.loss_gradient(*a, **k)
            kept.append(g)
            return v, g

    grown, traced = growth(Leaky(), yt, yp, kw, LARGE_CALLS)
    assert traced >= 16 * yp.nbytes                 # every kept gradient is counted
