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

Gradient boosting (``--cases boosting``; the small versions are
tests/test_boosting_fits.py): fastloss objectives in XGBoost and LightGBM
against the built-in objectives, on held-out data, with the metric written
here in NumPy, and the fit time of each (one thread each, fitted one after
the other):

- LightGBM ``binary_crossentropy`` + ``init_score`` vs ``binary``: the
  largest raw-score difference over the iterations (should be ~1e-15).
- Pinball q = 0.9, ``hessian="unit"``: XGBoost vs ``reg:quantileerror``,
  LightGBM vs ``quantile`` (the built-ins refit leaves to residual quantiles,
  so they run with a smaller learning rate).
- MAE, ``hessian="exact"`` (hessian 0: nothing learnt) vs ``"unit"`` vs
  ``reg:absoluteerror`` / ``l1``.
- Tweedie p = 1.5 on the log scale vs ``reg:tweedie`` / ``tweedie``.
- LambdaRank(k=10) vs LightGBM ``lambdarank`` and XGBoost ``rank:ndcg``
  (NDCG@10 on held-out queries).
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


# ------------------------------------------------------------ gradient boosting
def _pinball(y, p, q):
    e = y - p
    return float(np.mean(np.where(e >= 0, q * e, (q - 1) * e)))


def _tweedie(y, mu, p):
    return float(np.mean(2 * (np.power(y, 2 - p) / ((1 - p) * (2 - p))
                              - y * np.power(mu, 1 - p) / (1 - p) + np.power(mu, 2 - p) / (2 - p))))


def _ndcg(rel, score, sizes, k=10):
    out, start = [], 0
    for m in sizes:
        r, s = rel[start:start + m], score[start:start + m]
        start += m
        disc = 1 / np.log2(np.arange(min(k, m)) + 2)
        ideal = np.sum((2.0 ** np.sort(r)[::-1][:k] - 1) * disc)
        if ideal > 0:
            out.append(np.sum((2.0 ** r[np.argsort(-s, kind="stable")[:k]] - 1) * disc) / ideal)
    return float(np.mean(out))


def _timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def _row(name, metric, builtin, custom, t_b, t_c, lower_better=True):
    rel = custom / builtin
    print(f"  {name:<46} {metric} built-in {builtin:9.5f} ({t_b:6.2f} s)   fastloss "
          f"{custom:9.5f} ({t_c:6.2f} s)   fastloss/built-in {rel:7.4f}"
          f"{'' if lower_better else ' (higher is better)'}", flush=True)


def _start(loss, kind, y):
    """init_score of `loss`, which must declare the start `kind`."""
    import fastloss as fl

    assert loss.init_kind == kind
    return fl.init_score(loss, y)


def boosting_cases(scale, seed):
    try:
        import lightgbm as lgb
        import xgboost as xgb
    except ImportError as exc:
        print(f"boosting cases skipped: {exc}")
        return
    import fastloss as fl
    from fastloss.lightgbm import objective as lobj
    from fastloss.xgboost import objective as xobj

    print(f"gradient boosting (XGBoost {xgb.__version__}, LightGBM {lgb.__version__}; "
          "one thread; held-out metrics)")
    rng = np.random.default_rng(seed)
    n = max(int(60_000 * scale), 3000)
    cut = n * 2 // 3

    # binary cross-entropy from the same start as `binary`
    X = rng.normal(size=(n, 10))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.5 * X[:, 0] - X[:, 1] ** 2 + 0.5)))).astype(float)
    # float32-exact weights: LightGBM keeps weights in float32 and averages
    # them for its start, init_score would otherwise differ in the 8th digit
    w = rng.uniform(0.2, 2.0, size=n).astype(np.float32).astype(np.float64)
    P = dict(num_leaves=31, learning_rate=0.1, min_data_in_leaf=20, min_sum_hessian_in_leaf=1e-3,
             lambda_l2=0.0, verbose=-1, num_threads=1, deterministic=True, force_col_wise=True,
             seed=0)
    b, t_b = _timed(lambda: lgb.train(dict(P, objective="binary"), lgb.Dataset(X, y, weight=w), 200))
    start = fl.init_score("binary_crossentropy", y, w)
    c, t_c = _timed(lambda: lgb.train(dict(P, objective=lobj("binary_crossentropy")),
                                      lgb.Dataset(X, y, weight=w, init_score=np.full(n, start)), 200))
    diff = max(np.max(np.abs(b.predict(X, raw_score=True, num_iteration=it)
                             - start - c.predict(X, raw_score=True, num_iteration=it)))
               for it in (1, 10, 50, 200))
    print(f"  LightGBM binary_crossentropy+init_score vs binary, {n} rows, 200 trees: "
          f"max |Δ raw score| over iterations {diff:.1e}  (built-in {t_b:.2f} s, fastloss {t_c:.2f} s)")

    # quantile 0.9 and MAE
    X = rng.normal(size=(n, 8))
    y = X[:, 0] + np.sin(2 * X[:, 1]) + (0.5 + np.abs(X[:, 2])) * rng.normal(size=n)
    Xtr, ytr, Xte, yte = X[:cut], y[:cut], X[cut:], y[cut:]
    q = 0.9
    start = _start(fl.PinballLoss(quantile=q), "quantile", ytr)
    dtr, dte = xgb.DMatrix(Xtr, label=ytr), xgb.DMatrix(Xte)
    PX = dict(max_depth=4, nthread=1, tree_method="hist", base_score=start, seed=0)
    b, t_b = _timed(lambda: xgb.train(dict(PX, eta=0.1, objective="reg:quantileerror",
                                           quantile_alpha=q), dtr, 200))
    c, t_c = _timed(lambda: xgb.train(dict(PX, eta=0.5), dtr, 200,
                                      obj=xobj("pinball_loss", quantile=q, hessian="unit")))
    _row("XGBoost pinball q=0.9 unit vs reg:quantileerror", "pinball",
         _pinball(yte, b.predict(dte), q), _pinball(yte, c.predict(dte), q), t_b, t_c)
    PL = dict(num_leaves=15, min_data_in_leaf=20, verbose=-1, num_threads=1, deterministic=True,
              seed=0)
    b, t_b = _timed(lambda: lgb.train(dict(PL, learning_rate=0.1, objective="quantile", alpha=q),
                                      lgb.Dataset(Xtr, ytr), 200))
    c, t_c = _timed(lambda: lgb.train(
        dict(PL, learning_rate=0.5, objective=lobj("pinball_loss", quantile=q, hessian="unit")),
        lgb.Dataset(Xtr, ytr, init_score=np.full(cut, start)), 200))
    _row("LightGBM pinball q=0.9 unit vs quantile", "pinball",
         _pinball(yte, b.predict(Xte), q), _pinball(yte, start + c.predict(Xte, raw_score=True), q),
         t_b, t_c)
    start = _start(fl.MeanAbsoluteError(), "median", ytr)
    b, t_b = _timed(lambda: xgb.train(dict(PX, base_score=start, eta=0.1,
                                           objective="reg:absoluteerror"), dtr, 200))
    for h in ("exact", "unit"):
        c, t_c = _timed(lambda: xgb.train(dict(PX, base_score=start, eta=0.3), dtr, 200,
                                          obj=xobj("mae", hessian=h)))
        _row(f"XGBoost MAE hessian={h!r} vs reg:absoluteerror", "MAE",
             float(np.mean(np.abs(yte - b.predict(dte)))),
             float(np.mean(np.abs(yte - c.predict(dte)))), t_b, t_c)
    print(f"    (constant start, the training median: MAE {np.mean(np.abs(yte - start)):.5f})")

    # Tweedie
    if hasattr(fl, "TweedieDeviance"):
        X = rng.normal(size=(n, 6))
        mu = np.exp(0.5 * X[:, 0] - 0.4 * X[:, 1] ** 2 + 0.3)
        lam = mu ** 0.5 / 0.5
        N = rng.poisson(lam)
        y = np.array([rng.gamma(1.0, m / l, size=k).sum() if k else 0.0
                      for k, m, l in zip(N, mu, lam)])
        Xtr, ytr, Xte, yte = X[:cut], y[:cut], X[cut:], y[cut:]
        start = fl.init_score("tweedie_deviance", ytr, power=1.5)
        dtr, dte = xgb.DMatrix(Xtr, label=ytr), xgb.DMatrix(Xte)
        PX = dict(max_depth=4, eta=0.1, nthread=1, tree_method="hist", seed=0)
        b, t_b = _timed(lambda: xgb.train(dict(PX, objective="reg:tweedie",
                                               tweedie_variance_power=1.5,
                                               base_score=float(np.mean(ytr))), dtr, 200))
        c, t_c = _timed(lambda: xgb.train(dict(PX, base_score=start, reg_lambda=2.0,
                                               min_child_weight=2.0), dtr, 200,
                                          obj=xobj("tweedie_deviance", power=1.5)))
        _row("XGBoost tweedie p=1.5 vs reg:tweedie", "deviance",
             _tweedie(yte, b.predict(dte), 1.5),
             _tweedie(yte, np.exp(c.predict(dte, output_margin=True)), 1.5), t_b, t_c)
        PL = dict(num_leaves=15, learning_rate=0.1, min_data_in_leaf=20, lambda_l2=0.0,
                  verbose=-1, num_threads=1, deterministic=True, seed=0)
        b, t_b = _timed(lambda: lgb.train(dict(PL, objective="tweedie", tweedie_variance_power=1.5),
                                          lgb.Dataset(Xtr, ytr), 200))
        c, t_c = _timed(lambda: lgb.train(
            dict(PL, min_sum_hessian_in_leaf=2e-3, objective=lobj("tweedie_deviance", power=1.5)),
            lgb.Dataset(Xtr, ytr, init_score=np.full(cut, start)), 200))
        _row("LightGBM tweedie p=1.5 vs tweedie", "deviance", _tweedie(yte, b.predict(Xte), 1.5),
             _tweedie(yte, np.exp(start + c.predict(Xte, raw_score=True)), 1.5), t_b, t_c)
    else:
        print("  Tweedie: TweedieDeviance not in this build, skipped")

    # LambdaRank
    if hasattr(fl, "LambdaRank"):
        n_q = max(int(3000 * scale), 500)
        sizes = rng.integers(2, 101, size=n_q)
        m = int(sizes.sum())
        X = rng.normal(size=(m, 10))
        latent = X[:, 0] + 0.5 * X[:, 1] - 0.5 * X[:, 2] ** 2 + 0.7 * rng.normal(size=m)
        rel = np.digitize(latent, [-0.5, 0.5, 1.2, 2.0]).astype(float)
        cq = n_q * 2 // 3
        cut_r = int(sizes[:cq].sum())
        Xtr, rtr, gtr = X[:cut_r], rel[:cut_r], sizes[:cq]
        Xte, rte, gte = X[cut_r:], rel[cut_r:], sizes[cq:]
        PL = dict(num_leaves=31, learning_rate=0.1, min_data_in_leaf=20, verbose=-1,
                  num_threads=1, deterministic=True, seed=0)
        b, t_b = _timed(lambda: lgb.train(dict(PL, objective="lambdarank"),
                                          lgb.Dataset(Xtr, rtr, group=gtr), 200))
        c, t_c = _timed(lambda: lgb.train(dict(PL, objective=lobj("lambdarank", k=10)),
                                          lgb.Dataset(Xtr, rtr, group=gtr), 200))
        _row(f"LightGBM LambdaRank(k=10) vs lambdarank, {n_q} q", "NDCG@10",
             _ndcg(rte, b.predict(Xte), gte), _ndcg(rte, c.predict(Xte), gte), t_b, t_c,
             lower_better=False)
        dtr, dte = xgb.DMatrix(Xtr, label=rtr, group=gtr), xgb.DMatrix(Xte)
        PX = dict(max_depth=6, eta=0.1, nthread=1, tree_method="hist", seed=0)
        b, t_b = _timed(lambda: xgb.train(dict(PX, objective="rank:ndcg"), dtr, 200))
        c, t_c = _timed(lambda: xgb.train(dict(PX, base_score=0.0), dtr, 200,
                                          obj=xobj("lambdarank", k=10)))
        _row(f"XGBoost LambdaRank(k=10) vs rank:ndcg, {n_q} q", "NDCG@10",
             _ndcg(rte, b.predict(dte), gte), _ndcg(rte, c.predict(dte), gte), t_b, t_c,
             lower_better=False)
    else:
        print("  LambdaRank: not in this build, skipped")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the row counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", default="linear,boosting",
                        help="comma-separated: linear (sklearn estimators), boosting")
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
    cases = set(args.cases.split(","))
    if "linear" in cases:
        huber_case(int(1_000_000 * args.scale), 50, args.repeats, args.seed)
        if "sparse_categorical_crossentropy" in fastloss.available():
            multinomial_case(int(100_000 * args.scale), 100, 10, args.repeats, args.seed)
        else:
            print("sparse_categorical_crossentropy not available in this build: skipped")
    if "boosting" in cases:
        boosting_cases(args.scale, args.seed)


if __name__ == "__main__":
    main()
