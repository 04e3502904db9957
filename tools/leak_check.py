"""Memory-leak check: many calls of every registered loss, resident memory must
not grow.

    python tools/leak_check.py                    # the CI counts: 10^5 small, 20 large
    python tools/leak_check.py --full             # 10^5 small, 10^3 large (about 30 min)
    python tools/leak_check.py --only Huber --only RankNet

For each loss class in the registry (every name of ``fastloss.available()``
resolves to one of them; a class without inputs here fails the check, so a new
loss cannot slip past it) two phases run:

  small: ``--small-calls`` calls on a few dozen elements (per-call allocations,
         reference counts, error-free Python paths);
  large: ``--large-calls`` calls on about ``--large-size`` elements (buffers of
         megabytes: one lost gradient or temporary shows at once, so 20 calls
         find any leak that grows with the input; a fixed-size leak per call
         is the small phase's to find).

Each call cycles through the loss's methods (loss, gradient, loss_gradient,
gradient_hessian where it has one), a few parameter sets (reductions,
from_logits and the like, which pick different kernels), float32 and float64,
with and without ``sample_weight``.  The resident set size (``/proc/self/statm``)
is read after a warm-up (the allocator's pools and NumPy's caches fill first)
and after the calls, each time after ``gc.collect()``; a growth of
``--limit-mb`` (5 MB) or more in any phase fails the check (exit status 1).

Inputs are made once per phase; outputs are allocated by each call and dropped,
so a result the library keeps alive is counted.  Linux only (statm).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

import fastloss as fl
from fastloss import _registry

PAGE = os.sysconf("SC_PAGE_SIZE")
METHODS = ("loss", "gradient", "loss_gradient", "gradient_hessian")


def fix_mmap_threshold():
    """Large blocks always from mmap, returned to the system when freed.

    glibc raises its mmap threshold after the first large free, so later
    buffers of that size come from the heap, and one freed buffer stays
    resident: a one-time step of one buffer's size (+7.5 MB for 10^6
    float64) that is not a leak.  A fixed threshold (mallopt M_MMAP_THRESHOLD)
    removes that step; a leaked buffer stays mapped and counted.
    """
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 128 * 1024)           # M_MMAP_THRESHOLD
    except (OSError, AttributeError):          # not glibc: keep the default
        pass


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


# ---------------------------------------------------------------- inputs
# Each builder: (n elements, dtype, rng) -> list of cases
#   (loss instance, y_true, y_pred, keyword arguments of the call).
# Shapes are odd on purpose (row lengths 3 and 5): vector loops end in tails.

def _probs(rng, shape, dtype):
    return rng.uniform(0.02, 0.98, shape).astype(dtype)


def _binary(rng, shape, dtype):
    return (rng.random(shape) < 0.4).astype(dtype)


def _rows_for(n, k):
    return max(1, n // k)


def _weights(rng, n):
    return rng.uniform(0.0, 2.0, n)


def _elementwise(make_target, make_pred, configs):
    def build(n, dtype, rng):
        rows = _rows_for(n, 3)
        shape = (rows, 3) if n > 8 else (n,)
        yt = make_target(rng, shape, dtype)
        cases = []
        for i, kw in enumerate(configs):
            yp = make_pred(rng, shape, dtype, kw)
            call = {"sample_weight": _weights(rng, shape[0])} if i % 2 else {}
            cases.append((kw, yt, yp, call))
        return cases
    return build


def _pred_prob_or_logit(rng, shape, dtype, kw):
    if kw.get("from_logits"):
        return rng.normal(0, 3, shape).astype(dtype)
    return _probs(rng, shape, dtype)


def _pred_normal(rng, shape, dtype, kw):
    return rng.normal(0, 2, shape).astype(dtype)


def _pred_positive(rng, shape, dtype, kw):
    if kw.get("log_input"):
        return rng.normal(0, 1, shape).astype(dtype)
    return rng.uniform(0.1, 3.0, shape).astype(dtype)


def _target_normal(rng, shape, dtype):
    return rng.normal(0, 2, shape).astype(dtype)


def _target_counts(rng, shape, dtype):
    return rng.poisson(1.5, shape).astype(dtype)


def _target_pm1(rng, shape, dtype):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(dtype)


def _rows(C, make_pred, configs, make_target=None):
    def build(n, dtype, rng):
        rows = _rows_for(n, C)
        if make_target is None:
            yt = np.eye(C, dtype=dtype)[rng.integers(0, C, rows)]
        else:
            yt = make_target(rng, (rows, C), dtype)
        cases = []
        for i, kw in enumerate(configs):
            yp = make_pred(rng, (rows, C), dtype, kw)
            call = {"sample_weight": _weights(rng, rows)} if i % 2 else {}
            cases.append((kw, yt, yp, call))
        return cases
    return build


def _pred_row_probs(rng, shape, dtype, kw):
    if kw.get("from_logits"):
        return rng.normal(0, 2, shape).astype(dtype)
    p = rng.uniform(0.05, 1.0, shape)
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


def _pred_row_kl(rng, shape, dtype, kw):
    p = _pred_row_probs(rng, shape, dtype, {})
    return np.log(p).astype(dtype) if kw.get("log_input") else p


def _target_row_dist(rng, shape, dtype):
    return _pred_row_probs(rng, shape, dtype, {})


def _labels(C, make_pred, configs):
    def build(n, dtype, rng):
        rows = _rows_for(n, C)
        labels = rng.integers(0, C, rows)
        cases = []
        for i, kw in enumerate(configs):
            yp = make_pred(rng, (rows, C), dtype, kw)
            call = {"sample_weight": _weights(rng, rows)} if i % 2 else {}
            cases.append((kw, labels, yp, call))
        return cases
    return build


def _giou(n, dtype, rng):
    rows = _rows_for(n, 4)

    def boxes():
        xy = rng.uniform(0, 10, (rows, 2))
        wh = rng.uniform(0.1, 5, (rows, 2))
        return np.concatenate([xy, xy + wh], axis=1).astype(dtype)
    t = boxes()
    return [({}, t, boxes(), {}),
            ({"reduction": "none"}, t, boxes(), {"sample_weight": _weights(rng, rows)}),
            ({"reduction": "sum"}, t, boxes(), {})]


def _box_formats(n, dtype, rng):
    """_giou's boxes read in each box format (their last two columns are
    >= 0, so they are valid xywh / cxcywh boxes too), with sum_over_batch_size."""
    cases = _giou(n, dtype, rng)
    t, p = cases[0][1], cases[0][2]
    return cases + [({"box_format": "xywh", "reduction": "sum_over_batch_size"}, t, p, {}),
                    ({"box_format": "cxcywh", "reduction": "none"}, t, p,
                     {"sample_weight": _weights(rng, t.shape[0])})]


def _ranknet(n, dtype, rng):
    group = np.repeat(np.arange(n // 8 + 1), 8)[:n]     # lists of 8 items
    y = rng.integers(0, 4, n).astype(dtype)
    s = rng.normal(0, 1, n).astype(dtype)
    return [({}, y, s, {"group": group}),
            ({"reduction": "none"}, y, s, {"group": group, "sample_weight": _weights(rng, n)}),
            ({"reduction": "sum", "sigma": 2.0}, y, s, {"group": group})]


def _lambdarank(n, dtype, rng):
    group = np.repeat(np.arange(n // 8 + 1), 8)[:n]     # lists of 8 items
    y = rng.integers(0, 4, n).astype(dtype)
    s = rng.normal(0, 1, n).astype(dtype)
    return [({}, y, s, {"group": group}),
            ({"reduction": "none", "k": 3}, y, s,
             {"group": group, "sample_weight": _weights(rng, n)}),
            ({"reduction": "sum", "sigma": 2.0, "k": 1}, y, s, {"group": group})]


def _kappa(n, dtype, rng):
    C = 5
    rows = _rows_for(n, C)
    labels = rng.integers(0, C, rows)
    return [({}, labels, _pred_row_probs(rng, (rows, C), dtype, {}), {}),
            ({"weights": "quadratic", "from_logits": True}, labels,
             _pred_row_probs(rng, (rows, C), dtype, {"from_logits": True}),
             {"sample_weight": _weights(rng, rows)}),
            ({"weights": "linear"}, labels, _pred_row_probs(rng, (rows, C), dtype, {}), {})]


def _lovasz_softmax(n, dtype, rng):
    C = 3
    P = _rows_for(n, C)
    labels = rng.integers(0, C, P)
    side = max(1, int(np.sqrt(P / 2)))
    img_labels = rng.integers(0, C, (2, side, side))
    return [({}, labels, _pred_row_probs(rng, (P, C), dtype, {}), {}),
            ({"from_logits": True, "classes": "all", "ignore_index": 0}, labels,
             rng.normal(0, 2, (P, C)).astype(dtype), {}),
            ({"per_image": True}, img_labels,
             np.moveaxis(_pred_row_probs(rng, (2 * side * side, C), dtype, {})
                         .reshape(2, side, side, C), -1, 1).copy(), {})]


def _lovasz_hinge(n, dtype, rng):
    side = max(1, int(np.sqrt(n / 2)))
    labels = rng.integers(0, 2, (2, side, side))
    logits = rng.normal(0, 2, (2, side, side)).astype(dtype)
    flat = labels.reshape(-1)
    return [({}, labels, logits, {}),
            ({"per_image": False, "ignore_index": 1}, flat, logits.reshape(-1), {}),
            ({"reduction": "sum"}, labels, logits, {})]


def _overlap(n, dtype, rng):
    C = 5
    rows = _rows_for(n, C)
    y = _binary(rng, (rows, C), dtype)
    p = _probs(rng, (rows, C), dtype)
    return [({}, y, p, {}), ({"class_axis": 1}, y, p, {}),
            ({"class_axis": -1, "reduction": "none"}, y, p, {})]


BCE_CONFIGS = [{}, {"from_logits": True}, {"label_smoothing": 0.1, "reduction": "sum"},
               {"from_logits": True, "pos_weight": 2.0, "reduction": "none"}]

BUILDERS = {
    "MeanSquaredError": _elementwise(_target_normal, _pred_normal,
                                     [{}, {"reduction": "sum"}, {"reduction": "none"}]),
    "MeanAbsoluteError": _elementwise(_target_normal, _pred_normal,
                                      [{}, {"reduction": "sum"}, {"reduction": "none"}]),
    "Huber": _elementwise(_target_normal, _pred_normal,
                          [{}, {"delta": 0.5, "reduction": "none"}, {"reduction": "sum"}]),
    "LogCosh": _elementwise(_target_normal, _pred_normal, [{}, {"reduction": "none"}]),
    "PinballLoss": _elementwise(_target_normal, _pred_normal,
                                [{}, {"quantile": 0.9, "reduction": "none"}, {"reduction": "sum"}]),
    "Poisson": _elementwise(_target_counts, _pred_positive,
                            [{}, {"log_input": True}, {"log_input": True, "reduction": "none"}]),
    "BinaryCrossentropy": _elementwise(_binary, _pred_prob_or_logit, BCE_CONFIGS),
    "BalancedCrossentropy": _elementwise(_binary, _pred_prob_or_logit,
                                         [{}, {"beta": 0.3, "from_logits": True}]),
    "BinaryFocalCrossentropy": _elementwise(
        _binary, _pred_prob_or_logit,
        [{}, {"from_logits": True}, {"gamma": 1.5, "alpha": None, "reduction": "none"},
         {"gamma": 0.0, "from_logits": True, "reduction": "sum"}]),
    "Hinge": _elementwise(_target_pm1, _pred_normal, [{}, {"reduction": "none"}]),
    "SquaredHinge": _elementwise(_binary, _pred_normal, [{}, {"reduction": "sum"}]),
    "CategoricalCrossentropy": _rows(5, _pred_row_probs,
                                     [{}, {"from_logits": True},
                                      {"label_smoothing": 0.1, "reduction": "none"},
                                      {"from_logits": True, "class_weight": [1, 2, 1, 0.5, 1]}]),
    "CategoricalFocalCrossentropy": _rows(5, _pred_row_probs,
                                          [{}, {"from_logits": True, "reduction": "none"}]),
    "KLDivergence": _rows(5, _pred_row_kl, [{}, {"log_input": True, "reduction": "none"}],
                          _target_row_dist),
    "CosineSimilarityLoss": _rows(5, _pred_row_kl, [{}, {"reduction": "sum"}], _target_row_dist),
    "HellingerDistance": _rows(5, _pred_row_kl, [{}, {"reduction": "none"}], _target_row_dist),
    "SparseCategoricalCrossentropy": _labels(
        5, _pred_row_probs,
        [{}, {"from_logits": True}, {"from_logits": True, "ignore_index": 2, "reduction": "none"},
         {"class_weight": [1, 2, 1, 0.5, 1]}]),
    "MulticlassHinge": _labels(5, _pred_normal, [{}, {"reduction": "none"}]),
    "GIoULoss": _giou,
    "RankNet": _ranknet,
    "KappaLoss": _kappa,
    "LovaszSoftmax": _lovasz_softmax,
    "LovaszHinge": _lovasz_hinge,
    "JaccardLoss": _overlap,
    "F1Loss": _overlap,
    "LambdaRank": _lambdarank,
    "DIoULoss": _box_formats,
    "CIoULoss": _box_formats,
    "ExpectileLoss": _elementwise(_target_normal, _pred_normal,
                                  [{}, {"expectile": 0.9, "reduction": "none"}]),
    "PseudoHuber": _elementwise(_target_normal, _pred_normal,
                                [{}, {"delta": 0.5, "reduction": "sum"}]),
    "TweedieDeviance": _elementwise(_target_counts, _pred_positive,
                                    [{}, {"log_input": True, "power": 1.0},
                                     {"power": 1.5, "log_input": True, "reduction": "none"}]),
}


def _overlap_label_maps(n, dtype, rng):
    """Dense input, label maps (channel-first and channel-last), logits."""
    C = 4
    side = max(1, int(np.sqrt(_rows_for(n, C) / 2)))
    labels = rng.integers(0, C, (2, side, side))
    labels[0, 0, 0] = 255
    logits = rng.normal(0, 2, (2, C, side, side)).astype(dtype)
    last = np.ascontiguousarray(np.moveaxis(logits, 1, -1))
    return [*_overlap(n, dtype, rng),
            ({"class_axis": 1, "from_logits": True, "ignore_index": 255}, labels, logits,
             {"sample_weight": _weights(rng, 2)}),
            ({"class_axis": -1, "from_logits": True, "gamma": 0.75, "reduction": "none"},
             np.where(labels == 255, 0, labels), last, {}),
            ({"class_axis": 1, "alpha": 0.3, "beta": 0.7, "reduction": "sum"},
             np.where(labels == 255, 1, labels), _pred_row_probs(
                 rng, (2 * side * side, C), dtype, {}).reshape(2, side, side, C)
             .transpose(0, 3, 1, 2).copy(), {})]


BUILDERS["TverskyLoss"] = _overlap_label_maps


def calls_for(cls, n, rng):
    """Every (bound method, args, kwargs) one phase cycles through."""
    builder = BUILDERS.get(cls.__name__)
    if builder is None:
        raise SystemExit(f"leak_check: no inputs for {cls.__name__}; add a builder to "
                         "tools/leak_check.py (every registered loss is checked)")
    calls = []
    for dtype in (np.float64, np.float32):
        for kw, yt, yp, call in builder(n, dtype, rng):
            loss = cls(**kw)
            for name in METHODS:
                method = getattr(loss, name, None)
                if method is not None:
                    calls.append((method, (yt, yp), call))
    return calls


def valid_calls(cls, calls):
    """The calls that succeed once.  A builder whose inputs raise would only
    measure the error path, so that is fatal; the one exception is a
    gradient_hessian that a parameter set does not define (e.g. categorical
    cross-entropy on probabilities: the hessian is for logits)."""
    kept = []
    for method, args, kwargs in calls:
        try:
            method(*args, **kwargs)
        except ValueError:
            if method.__name__ == "gradient_hessian":
                continue
            raise
        except Exception as exc:               # noqa: BLE001 - reported, then fatal
            raise SystemExit(f"leak_check: {cls.__name__}.{method.__name__} rejects the "
                             f"check's inputs: {type(exc).__name__}: {exc}") from None
        kept.append((method, args, kwargs))
    return kept


def phase(cls, n, count, warmup, rng):
    """(RSS growth in bytes, seconds) over `count` calls after `warmup` calls."""
    calls = valid_calls(cls, calls_for(cls, n, rng))
    m = len(calls)
    for i in range(warmup):
        method, args, kwargs = calls[i % m]
        method(*args, **kwargs)
    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    for i in range(count):
        method, args, kwargs = calls[i % m]
        method(*args, **kwargs)
    seconds = time.perf_counter() - t0
    gc.collect()
    return rss_bytes() - before, seconds       # the inputs are alive at both reads


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small-calls", type=int, default=100_000)
    ap.add_argument("--small-size", type=int, default=40, help="elements per small input")
    ap.add_argument("--large-calls", type=int, default=20)
    ap.add_argument("--full", action="store_true",
                    help="the issue's counts: 10^5 small and 10^3 large calls")
    ap.add_argument("--large-size", type=int, default=1_000_000,
                    help="elements per large input")
    ap.add_argument("--limit-mb", type=float, default=5.0)
    ap.add_argument("--only", action="append", help="class name (repeatable)")
    args = ap.parse_args(argv)
    if args.full:
        args.small_calls, args.large_calls = 100_000, 1_000

    classes = _registry.loss_classes()
    covered = {c.__name__ for c in classes}
    for name in fl.available():                 # every public name is one of the classes
        assert type(fl.get(name)).__name__ in covered, name
    if args.only:
        unknown = set(args.only) - covered
        if unknown:
            ap.error(f"unknown loss class(es) {sorted(unknown)}")
        classes = [c for c in classes if c.__name__ in args.only]

    fix_mmap_threshold()
    rng = np.random.default_rng(0)
    limit = args.limit_mb * 2**20
    failed = []
    start = time.perf_counter()
    print(f"leak_check: {len(classes)} loss classes, {args.small_calls} calls on "
          f"{args.small_size} elements, {args.large_calls} calls on {args.large_size} "
          f"elements, limit {args.limit_mb} MB growth per phase; RSS now "
          f"{rss_bytes() / 2**20:.0f} MB", flush=True)
    for cls in classes:
        for label, n, count in (("small", args.small_size, args.small_calls),
                                ("large", args.large_size, args.large_calls)):
            if count <= 0:
                continue
            warmup = max(1, min(count // 10, 2000 if label == "small" else 20))
            grown, seconds = phase(cls, n, count, warmup, rng)
            bad = grown >= limit
            print(f"  {cls.__name__:30s} {label}: {count:7d} calls {seconds:7.1f} s  "
                  f"RSS {grown / 2**20:+7.2f} MB{'  LEAK' if bad else ''}", flush=True)
            if bad:
                failed.append(f"{cls.__name__} ({label})")
    total = time.perf_counter() - start
    if failed:
        print(f"leak_check: FAILED after {total:.0f} s: RSS grew by {args.limit_mb} MB or "
              f"more in {', '.join(failed)}")
        return 1
    print(f"leak_check: passed in {total:.0f} s, no phase grew by {args.limit_mb} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
