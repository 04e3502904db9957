"""Fitting time: fastloss.sklearn estimators vs the matching scikit-learn estimators.

    python bench/bench_fitting.py                    # the sizes of issue 7
    python bench/bench_fitting.py --scale 0.1        # 10x fewer rows, quick
    python bench/bench_fitting.py --repeats 5

Cases (same data, same tolerance, same iteration cap for both):

- Huber, 10^6 x 50: ``LossRegressor(loss="huber")`` vs ``HuberRegressor``.
  HuberRegressor also fits a scale σ, so the objectives are not identical;
  the fastloss model uses ``delta = epsilon · σ`` and ``alpha = alpha_sk · σ/2``
  with σ from HuberRegressor's fit (the same minimiser in w, see
  ``fastloss.sklearn``).  Iteration counts differ (HuberRegressor's L-BFGS
  stops on SciPy's default ftol), so time per iteration is reported too.
- Multinomial logistic, 10^5 x 100, 10 classes:
  ``LossClassifier("sparse_categorical_crossentropy", alpha=1/(2C))`` vs
  ``LogisticRegression(C, solver="lbfgs")``: the same objective, so the
  coefficients are compared too.

Each fit is timed ``--repeats`` times, the two estimators alternately; the
median is reported with the ratio sklearn / fastloss (> 1: fastloss faster).
Timings on a shared machine are noisy: repeat and read the medians.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def timed_pair(make_a, make_b, X, y, repeats):
    """Median fit times of two estimators, fitted alternately (a, b, a, b, ...)
    so that a change in the machine's load hits both alike."""
    times, models = ([], []), [None, None]
    for _ in range(repeats):
        for i, make in enumerate((make_a, make_b)):
            models[i] = make()
            start = time.perf_counter()
            models[i].fit(X, y)
            times[i].append(time.perf_counter() - start)
    return statistics.median(times[0]), models[0], statistics.median(times[1]), models[1]


def report(name, n, d, t_fl, it_fl, t_sk, it_sk, extra=""):
    print(f"{name:<34} {n:>9} x {d:<4} fastloss {t_fl:8.3f} s ({it_fl:4d} it, "
          f"{1e3 * t_fl / it_fl:7.1f} ms/it)   sklearn {t_sk:8.3f} s ({it_sk:4d} it, "
          f"{1e3 * t_sk / it_sk:7.1f} ms/it)   ratio {t_sk / t_fl:5.2f}x "
          f"(per it {t_sk / it_sk / (t_fl / it_fl):5.2f}x){extra}", flush=True)


def huber_case(n, d, repeats, seed):
    from sklearn.linear_model import HuberRegressor

    from fastloss.sklearn import LossRegressor

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + rng.standard_t(2, size=n)
    eps, alpha, tol, max_iter = 1.35, 1e-4, 1e-5, 100
    sigma = HuberRegressor(epsilon=eps, alpha=alpha, tol=tol, max_iter=max_iter).fit(X, y).scale_
    t_sk, sk, t_fl, fl = timed_pair(
        lambda: HuberRegressor(epsilon=eps, alpha=alpha, tol=tol, max_iter=max_iter),
        lambda: LossRegressor("huber", delta=eps * sigma, alpha=alpha * sigma / 2, tol=tol,
                              max_iter=max_iter), X, y, repeats)
    diff = np.max(np.abs(fl.coef_ - sk.coef_)) / np.max(np.abs(sk.coef_))
    report("Huber (LossRegressor/HuberRegressor)", n, d, t_fl, fl.n_iter_, t_sk,
           int(sk.n_iter_), f"  max|Δcoef|/max|coef| {diff:.1e}")


def multinomial_case(n, d, k, repeats, seed):
    from sklearn.linear_model import LogisticRegression

    from fastloss.sklearn import LossClassifier

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    labels = np.argmax(X @ rng.normal(size=(d, k)) * 0.3 + rng.gumbel(size=(n, k)), axis=1)
    C, tol, max_iter = 1.0, 1e-6, 200
    t_sk, sk, t_fl, fl = timed_pair(
        lambda: LogisticRegression(C=C, solver="lbfgs", tol=tol, max_iter=max_iter),
        lambda: LossClassifier("sparse_categorical_crossentropy", alpha=1 / (2 * C), tol=tol,
                               max_iter=max_iter), X, labels, repeats)
    diff = np.max(np.abs(fl.coef_ - sk.coef_)) / np.max(np.abs(sk.coef_))
    report(f"Softmax CE, {k} classes (vs LogReg)", n, d, t_fl, fl.n_iter_, t_sk,
           int(np.max(sk.n_iter_)), f"  max|Δcoef|/max|coef| {diff:.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the row counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit the BLAS pool (both estimators) to this many threads")
    parser.add_argument("--threads", type=int, default=None,
                        help="fastloss (OpenMP) threads; default: fastloss's setting")
    args = parser.parse_args()

    import fastloss
    from threadpoolctl import threadpool_info, threadpool_limits

    if args.blas_threads is not None:
        threadpool_limits(args.blas_threads, user_api="blas")
    if args.threads is not None:
        fastloss.set_num_threads(args.threads)

    blas = [f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info()]
    print(f"fastloss {fastloss.__version__}, {fastloss.get_num_threads()} OpenMP threads; "
          f"pools {blas}; median of {args.repeats}")
    warnings.simplefilter("ignore")  # ConvergenceWarnings of capped runs
    huber_case(int(1_000_000 * args.scale), 50, args.repeats, args.seed)
    if "sparse_categorical_crossentropy" in fastloss.available():
        multinomial_case(int(100_000 * args.scale), 100, 10, args.repeats, args.seed)
    else:
        print("sparse_categorical_crossentropy not available in this build: skipped")


if __name__ == "__main__":
    main()
