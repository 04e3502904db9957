"""Tiny calls: the per-call cost of ``loss_gradient`` where the data is small.

Training loops and metric code call a loss on small batches many times;
there the Python layer (validation, conversion, allocation, the kernel
entry) is the cost, not the arithmetic.  For each case this times, side by
side and interleaved (round after round, every candidate once per round,
so a busy machine slows them alike):

- ``object``: ``loss.loss_gradient(y, p)`` of a loss object made once;
- ``function``: the function form, value only (``fl.mse(y, p)``): what a
  function form call costs (its instance is cached per parameter set);
- ``object loss``: ``loss(y, p)``, value only, for the function form to be
  compared with;
- ``numpy``: the two-line NumPy version of value and gradient;
- ``torch``: the same with autograd (``p.grad = None; loss.backward()``),
  if torch is importable.

and prints the best and median µs per call over the rounds, and each
candidate's best against fastloss's object call.  Run from the repository:
``python bench/bench_tiny.py [--rounds R] [--calls N]``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastloss as fl

try:
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
except ImportError:           # torch is optional here
    torch = None


def _mse_case(n):
    rng = np.random.default_rng(0)
    y, p = rng.random(n), rng.random(n)
    loss = fl.MeanSquaredError()

    def numpy_():
        d = p - y
        return float(d @ d) / n, d * (2.0 / n)

    cands = {"object": lambda: loss.loss_gradient(y, p),
             "object loss": lambda: loss(y, p),
             "function": lambda: fl.mse(y, p),
             "numpy": numpy_}
    if torch is not None:
        yt, pt = torch.from_numpy(y), torch.from_numpy(p).requires_grad_()

        def torch_():
            pt.grad = None
            v = F.mse_loss(pt, yt)
            v.backward()
            return v, pt.grad
        cands["torch"] = torch_
    return cands


def _sce_case(n, C):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, C))
    lab = rng.integers(0, C, n)
    loss = fl.SparseCategoricalCrossentropy(from_logits=True)
    r = np.arange(n)

    def numpy_():
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        value = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z[r, lab]))
        g = e / s
        g[r, lab] -= 1.0
        g /= n
        return value, g

    cands = {"object": lambda: loss.loss_gradient(lab, z),
             "object loss": lambda: loss(lab, z),
             "function": lambda: fl.sparse_categorical_crossentropy(lab, z, from_logits=True),
             "numpy": numpy_}
    if torch is not None:
        zt, lt = torch.from_numpy(z).requires_grad_(), torch.from_numpy(lab)

        def torch_():
            zt.grad = None
            v = F.cross_entropy(zt, lt)
            v.backward()
            return v, zt.grad
        cands["torch"] = torch_
    return cands


def _bce_case(n):
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.5).astype(np.float64)
    x = rng.standard_normal(n)
    loss = fl.BinaryCrossentropy(from_logits=True)

    def numpy_():
        value = float(np.mean(np.logaddexp(0.0, x) - y * x))
        return value, (1.0 / (1.0 + np.exp(-x)) - y) / n

    cands = {"object": lambda: loss.loss_gradient(y, x),
             "object loss": lambda: loss(y, x),
             "function": lambda: fl.binary_crossentropy(y, x, from_logits=True),
             "numpy": numpy_}
    if torch is not None:
        yt, xt = torch.from_numpy(y), torch.from_numpy(x).requires_grad_()

        def torch_():
            xt.grad = None
            v = F.binary_cross_entropy_with_logits(xt, yt)
            v.backward()
            return v, xt.grad
        cands["torch"] = torch_
    return cands


CASES = {
    "MSE f64 n=10": lambda: _mse_case(10),
    "MSE f64 n=100": lambda: _mse_case(100),
    "MSE f64 n=1000": lambda: _mse_case(1000),
    "sparse CE f64 (100, 10)": lambda: _sce_case(100, 10),
    "BCE logits f64 n=1000": lambda: _bce_case(1000),
}


def time_case(cands, rounds, calls):
    """{candidate: [µs per call, one per round]}, candidates interleaved."""
    out = {name: [] for name in cands}
    for fn in cands.values():          # warm-up: first-call costs are not per call
        for _ in range(50):
            fn()
    for _ in range(rounds):
        for name, fn in cands.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            out[name].append((time.perf_counter() - t0) / calls * 1e6)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args(argv)
    print(f"fastloss {fl.__version__ if hasattr(fl, '__version__') else ''} from "
          f"{fl.__file__}; threads {fl.get_num_threads()}; "
          f"torch {'-' if torch is None else torch.__version__}")
    print(f"{args.rounds} interleaved rounds of {args.calls} calls; µs per call, "
          "best (median); ratio = candidate best / fastloss object best")
    for case, make in CASES.items():
        res = time_case(make(), args.rounds, args.calls)
        ref = min(res["object"])
        print(f"\n{case}")
        for name, ts in res.items():
            print(f"  {name:12s} {min(ts):8.2f} ({statistics.median(ts):8.2f})  "
                  f"x{min(ts) / ref:6.2f}")


if __name__ == "__main__":
    main()
