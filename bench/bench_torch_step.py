"""A PyTorch training step through fastloss.torch against torch's own loss (issue 16).

    python bench/bench_torch_step.py                 # every loss, every shape
    python bench/bench_torch_step.py --loss sparse_ce --rounds 31
    python bench/bench_torch_step.py --threads 1
    python bench/bench_torch_step.py --baseline old_torch.py   # an older bridge, interleaved

(``git show main:src/fastloss/torch.py > old_torch.py`` gives the bridge of
another revision; it is loaded as a module of this fastloss and timed as one
more implementation in the same rounds.)

The step is what a training loop runs after the model's forward pass:
``z.grad = None; crit(z, y).backward()`` with float32 logits that require
grad (int64 labels for sparse CE), on ``--threads`` threads for both torch
(``torch.set_num_threads``) and fastloss.  Each round times ``--steps``
steps of fastloss, then of torch, then of fastloss's bare kernel
(``loss_gradient(..., out=)`` on the NumPy arrays, the bridge's floor), in
turn, so a burst of load on this shared machine hits all three alike; the
median round per implementation is reported per step, with
ratio = torch step / fastloss step (> 1: the bridge is faster).
Not a test: nothing is asserted about speed (pytest collects this file and
finds no tests).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

SHAPES = ((256, 1000), (4096, 100), (64, 10))


def _cases():
    import torch
    import torch.nn.functional as F

    import fastloss as fl
    import fastloss.torch as flt
    from fastloss._bench import torch_ref

    def labels(n, c, g):
        return torch.randint(0, c, (n,), generator=g)

    def onehot(n, c, g):
        return F.one_hot(labels(n, c, g), c).float()

    def binary(n, c, g):
        return (torch.rand(n, c, generator=g) < 0.3).float()

    def regression(n, c, g):
        return torch.randn(n, c, generator=g)

    return {
        "sparse_ce": (lambda: flt.SparseCategoricalCrossentropy(from_logits=True),
                      F.cross_entropy, labels,
                      lambda: fl.SparseCategoricalCrossentropy(from_logits=True)),
        "categorical_ce": (lambda: flt.CategoricalCrossentropy(from_logits=True),
                           F.cross_entropy, onehot,
                           lambda: fl.CategoricalCrossentropy(from_logits=True)),
        "bce": (lambda: flt.BinaryCrossentropy(from_logits=True),
                F.binary_cross_entropy_with_logits, binary,
                lambda: fl.BinaryCrossentropy(from_logits=True)),
        "binary_focal": (lambda: flt.BinaryFocalCrossentropy(gamma=2.0, alpha=0.25,
                                                             from_logits=True),
                         lambda x, t: torch_ref.binary_focal(t, x), binary,
                         lambda: fl.BinaryFocalCrossentropy(gamma=2.0, alpha=0.25,
                                                            from_logits=True)),
        "categorical_focal": (lambda: flt.CategoricalFocalCrossentropy(
                                  gamma=2.0, alpha=0.25, from_logits=True),
                              lambda x, t: torch_ref.categorical_focal(t, x), onehot,
                              lambda: fl.CategoricalFocalCrossentropy(
                                  gamma=2.0, alpha=0.25, from_logits=True)),
        "mse": (lambda: flt.MeanSquaredError(), F.mse_loss, regression,
                lambda: fl.MeanSquaredError()),
    }


def _step(crit, z, y):
    def run(steps):
        for _ in range(steps):
            z.grad = None
            crit(z, y).backward()
    return run


def _kernel(loss, z, y):
    yt = y.numpy()
    yp = z.detach().numpy()
    out = np.empty_like(yp)

    def run(steps):
        for _ in range(steps):
            loss.loss_gradient(yt, yp, out=out)
    return run


def _load_baseline(path):
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location("fastloss._baseline_torch", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def bench_one(name, shape, *, rounds, steps, threads, baseline=None, clock=time.perf_counter):
    import torch
    make_flt, ref, make_y, make_fl = _cases()[name]
    g = torch.Generator().manual_seed(0)
    n, c = shape
    z = torch.randn(n, c, generator=g).requires_grad_(True)
    y = make_y(n, c, g)
    impls = {"fastloss": _step(make_flt(), z, y), "torch": _step(ref, z, y),
             "kernel": _kernel(make_fl(), z, y)}
    if baseline is not None:
        impls["baseline"] = _step(baseline.FastlossLoss(make_fl()), z, y)
    # agreement first (the step must compute the same gradient)
    impls["fastloss"](1)
    g_fl = z.grad.clone()
    impls["torch"](1)
    err = float((g_fl - z.grad).abs().max() / z.grad.abs().max())
    for run in impls.values():
        run(steps)                       # warm-up
    times = {k: [] for k in impls}
    for _ in range(rounds):
        for k, run in impls.items():
            t0 = clock()
            run(steps)
            times[k].append((clock() - t0) / steps)
    return {k: statistics.median(v) for k, v in times.items()}, err


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loss", nargs="+", default=None)
    parser.add_argument("--shape", nargs="+", default=None, help="e.g. 256x1000")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=0,
                        help="steps per round (default: about 20 ms of torch steps)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the calling thread's CPU time (with --threads 1 only: "
                             "robust to other processes on a loaded machine)")
    parser.add_argument("--baseline", metavar="TORCH_PY", default=None,
                        help="another fastloss/torch.py, timed in the same rounds")
    args = parser.parse_args(argv)
    if args.cpu_time and args.threads != 1:
        parser.error("--cpu-time measures one thread: use it with --threads 1")

    import torch

    import fastloss as fl
    torch.set_num_threads(args.threads)
    fl.set_num_threads(args.threads)
    baseline = _load_baseline(args.baseline) if args.baseline else None
    names = args.loss or list(_cases())
    shapes = ([tuple(int(v) for v in s.split("x")) for s in args.shape] if args.shape
              else SHAPES)
    print(f"torch {torch.__version__}, fastloss {fl.__version__}, {args.threads} thread(s), "
          f"{args.rounds} interleaved rounds, median per step"
          f"{' (CPU time of this thread)' if args.cpu_time else ''}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"{'loss':<18} {'shape':>10} {'fastloss µs':>12} {'torch µs':>9} "
          f"{'kernel µs':>10} {'torch/fl':>9} {'grad err':>9}"
          + (f" {'baseline µs':>12} {'torch/base':>10}" if baseline else ""))
    for name in names:
        for shape in shapes:
            steps = args.steps or max(5, int(20e-3 / (2e-7 * shape[0] * shape[1] + 5e-5)))
            t, err = bench_one(name, shape, rounds=args.rounds, steps=steps,
                               threads=args.threads, baseline=baseline,
                               clock=time.thread_time if args.cpu_time else time.perf_counter)
            line = (f"{name:<18} {'x'.join(map(str, shape)):>10} {t['fastloss'] * 1e6:12.1f} "
                    f"{t['torch'] * 1e6:9.1f} {t['kernel'] * 1e6:10.1f} "
                    f"{t['torch'] / t['fastloss']:8.2f}x {err:9.1e}")
            if baseline:
                line += f" {t['baseline'] * 1e6:12.1f} {t['torch'] / t['baseline']:9.2f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
