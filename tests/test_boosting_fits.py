"""Real boosting fits with fastloss objectives against the boosters' built-in
objectives (issue 12, SPEC §4.2): small, seeded, single-threaded.

Quality is measured on held-out data with metrics written here in float64
NumPy (pinball loss, Tweedie deviance, NDCG@10, absolute error); the bigger
versions with printed figures are in bench/bench_fitting.py.
"""
import numpy as np
import pytest

import fastloss as fl

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

from fastloss.lightgbm import objective as lgb_objective  # noqa: E402
from fastloss.xgboost import objective as xgb_objective  # noqa: E402


# ------------------------------------------------------------ metrics (float64)
def pinball(y, p, q):
    e = y - p
    return float(np.mean(np.where(e >= 0, q * e, (q - 1) * e)))


def tweedie_deviance(y, mu, p):
    """Mean unit deviance, 1 < p < 2 (sklearn's mean_tweedie_deviance formula)."""
    d = 2 * (np.power(y, 2 - p) / ((1 - p) * (2 - p)) - y * np.power(mu, 1 - p) / (1 - p)
             + np.power(mu, 2 - p) / (2 - p))
    return float(np.mean(d))


def ndcg_at(rel, score, sizes, k=10):
    """Mean NDCG@k over the queries with a positive ideal DCG; gain 2^y - 1,
    discount 1/log2(2 + rank), ties in score broken by input order."""
    out, start = [], 0
    for m in sizes:
        r, s = rel[start:start + m], score[start:start + m]
        start += m
        disc = 1 / np.log2(np.arange(min(k, m)) + 2)
        ideal = np.sum((2.0 ** np.sort(r)[::-1][:k] - 1) * disc)
        if ideal > 0:
            order = np.argsort(-s, kind="stable")[:k]
            out.append(np.sum((2.0 ** r[order] - 1) * disc) / ideal)
    return float(np.mean(out))


def quantile_start(y, q):
    return fl.init_score(fl.PinballLoss(quantile=q), y)


def median_start(y):
    return fl.init_score(fl.MeanAbsoluteError(), y)


def regression_data(seed, n, heavy=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    noise = rng.standard_t(3, size=n) if heavy else (0.5 + np.abs(X[:, 2])) * rng.normal(size=n)
    y = X[:, 0] + np.sin(2 * X[:, 1]) + noise
    cut = n * 2 // 3
    return X[:cut], y[:cut], X[cut:], y[cut:]


# ------------------------------------------------------------------ the fits
@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_bce_with_init_score_matches_binary(weighted):
    """Same start (init_score = log-odds of the weighted mean, what ``binary``'s
    boost_from_average computes), same gradient p - y and hessian p(1 - p):
    the same raw scores from the first tree on."""
    rng = np.random.default_rng(1)
    n = 1000
    X = rng.normal(size=(n, 6))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.5 * X[:, 0] - X[:, 1] ** 2 + 0.5)))).astype(float)
    w = rng.uniform(0.2, 2.0, size=n) if weighted else None
    params = dict(num_leaves=15, learning_rate=0.2, min_data_in_leaf=10,
                  min_sum_hessian_in_leaf=1e-3, lambda_l2=0.0, verbose=-1, num_threads=1,
                  deterministic=True, force_col_wise=True, seed=0)
    rounds = 15
    builtin = lgb.train(dict(params, objective="binary"), lgb.Dataset(X, y, weight=w), rounds)
    start = fl.init_score("binary_crossentropy", y, w)
    m = np.average(y, weights=w)
    assert start == pytest.approx(np.log(m / (1 - m)), rel=1e-12)
    custom = lgb.train(dict(params, objective=lgb_objective("binary_crossentropy")),
                       lgb.Dataset(X, y, weight=w, init_score=np.full(n, start)), rounds)
    for it in (1, 2, 5, rounds):
        np.testing.assert_allclose(
            start + custom.predict(X, raw_score=True, num_iteration=it),
            builtin.predict(X, raw_score=True, num_iteration=it), rtol=0, atol=1e-6)


def test_lightgbm_softmax_with_log_prior_start_matches_multiclass():
    """A length-C start (log class priors, as ``multiclass`` boosts from) given
    as an (n, C) init_score; ``multiclass``'s hessian is K/(K-1)·p(1-p), so its
    learning rate is K/(K-1) times fastloss's (see fastloss.lightgbm)."""
    rng = np.random.default_rng(7)
    n, K = 900, 3
    X = rng.normal(size=(n, 4))
    labels = np.argmax(X[:, :K] + rng.gumbel(size=(n, K)) + [0.0, 0.5, 1.0], axis=1)
    start = fl.init_score("sparse_categorical_crossentropy", labels)
    np.testing.assert_allclose(start, np.log(np.bincount(labels) / n), rtol=1e-13)
    params = dict(num_class=K, num_leaves=7, min_data_in_leaf=10, lambda_l2=0.0, verbose=-1,
                  num_threads=1, deterministic=True, seed=0)
    builtin = lgb.train(dict(params, objective="multiclass", learning_rate=0.1 * K / (K - 1)),
                        lgb.Dataset(X, labels), 10)
    custom = lgb.train(dict(params, objective=lgb_objective("sparse_categorical_crossentropy"),
                            learning_rate=0.1),
                       lgb.Dataset(X, labels, init_score=np.tile(start, (n, 1))), 10)
    for it in (1, 10):
        np.testing.assert_allclose(start + custom.predict(X, raw_score=True, num_iteration=it),
                                   builtin.predict(X, raw_score=True, num_iteration=it),
                                   rtol=0, atol=1e-6)


def test_xgboost_pinball_unit_hessian_close_to_quantileerror():
    """hessian="unit" turns XGBoost's Newton step into a gradient step (the
    built-in reg:quantileerror also uses unit hessians but then refits each
    leaf to a residual quantile, so it gets there with a smaller eta).
    Both start at the training 0.9-quantile from init_score."""
    X, y, Xt, yt = regression_data(1, 3000)
    q = 0.9
    start = quantile_start(y, q)
    dtrain, dtest = xgb.DMatrix(X, label=y), xgb.DMatrix(Xt)
    params = dict(max_depth=3, nthread=1, tree_method="hist", base_score=start, seed=0)
    builtin = xgb.train(dict(params, eta=0.1, objective="reg:quantileerror",
                             quantile_alpha=q), dtrain, 100)
    custom = xgb.train(dict(params, eta=0.5), dtrain, 100,
                       obj=xgb_objective("pinball_loss", quantile=q, hessian="unit"))
    ref = pinball(yt, builtin.predict(dtest), q)
    got = pinball(yt, custom.predict(dtest), q)
    assert got < pinball(yt, np.full_like(yt, start), q) * 0.8   # it learnt
    assert got <= ref * 1.02, (got, ref)


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_mae_unit_hessian_grows_trees_exact_cannot(booster):
    X, y, Xt, yt = regression_data(2, 1800, heavy=True)
    start = median_start(y)
    base = float(np.mean(np.abs(yt - start)))
    result = {}
    for h in ("exact", "unit"):
        obj = (xgb_objective if booster == "xgboost" else lgb_objective)("mae", hessian=h)
        if booster == "xgboost":
            model = xgb.train(dict(max_depth=3, eta=0.3, nthread=1, tree_method="hist",
                                   base_score=start, seed=0),
                              xgb.DMatrix(X, label=y), 30, obj=obj)
            pred = model.predict(xgb.DMatrix(Xt))
            splits = sum(tree.count("yes=") for tree in model.get_dump())
        else:
            model = lgb.train(dict(objective=obj, num_leaves=7, learning_rate=0.3, verbose=-1,
                                   num_threads=1, deterministic=True, seed=0),
                              lgb.Dataset(X, y, init_score=np.full(len(y), start)), 30)
            pred = start + model.predict(Xt, raw_score=True)
            splits = sum(t["num_leaves"] - 1 for t in model.dump_model()["tree_info"])
        result[h] = (float(np.mean(np.abs(yt - pred))), splits)
    mae_exact, splits_exact = result["exact"]
    mae_unit, splits_unit = result["unit"]
    # hessian 0: no split, and the predictions stay at the start (float32 in XGBoost)
    assert splits_exact == 0 and mae_exact >= base * (1 - 1e-6)
    assert splits_unit > 30 and mae_unit < 0.8 * base          # unit: real trees, lower error


def tweedie_data(seed, n):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    mu = np.exp(0.5 * X[:, 0] - 0.4 * X[:, 1] ** 2 + 0.3)
    # compound Poisson–gamma: N ~ Poisson(λ) claims of Gamma(α, θ) each;
    # power p = (α + 2)/(α + 1) = 1.5 for α = 1
    lam = mu ** 0.5 / 0.5
    N = rng.poisson(lam)
    y = np.array([rng.gamma(1.0, m / l, size=k).sum() if k else 0.0
                  for k, m, l in zip(N, mu, lam)])
    cut = n * 2 // 3
    return X[:cut], y[:cut], X[cut:], y[cut:]


def test_xgboost_tweedie_close_to_builtin():
    """fastloss's deviance is twice XGBoost's half-deviance objective: twice
    the gradient and hessian, so reg_lambda and min_child_weight are doubled."""
    X, y, Xt, yt = tweedie_data(3, 3000)
    start = fl.init_score("tweedie_deviance", y, power=1.5)
    assert start == pytest.approx(np.log(np.mean(y)), rel=1e-12)
    dtrain, dtest = xgb.DMatrix(X, label=y), xgb.DMatrix(Xt)
    params = dict(max_depth=3, eta=0.1, nthread=1, tree_method="hist", seed=0)
    builtin = xgb.train(dict(params, objective="reg:tweedie", tweedie_variance_power=1.5,
                             base_score=float(np.mean(y))), dtrain, 100)
    custom = xgb.train(dict(params, base_score=start, reg_lambda=2.0, min_child_weight=2.0),
                       dtrain, 100,
                       obj=xgb_objective("tweedie_deviance", power=1.5, log_input=True))
    ref = tweedie_deviance(yt, builtin.predict(dtest), 1.5)
    got = tweedie_deviance(yt, np.exp(custom.predict(dtest, output_margin=True)), 1.5)
    assert got <= ref * 1.01, (got, ref)
    assert got < tweedie_deviance(yt, np.full_like(yt, np.mean(y)), 1.5) * 0.95


def test_lightgbm_tweedie_close_to_builtin():
    X, y, Xt, yt = tweedie_data(4, 3000)
    start = fl.init_score("tweedie_deviance", y, power=1.5)
    params = dict(num_leaves=15, learning_rate=0.1, min_data_in_leaf=20, lambda_l2=0.0,
                  verbose=-1, num_threads=1, deterministic=True, seed=0)
    builtin = lgb.train(dict(params, objective="tweedie", tweedie_variance_power=1.5),
                        lgb.Dataset(X, y), 100)
    custom = lgb.train(dict(params, min_sum_hessian_in_leaf=2e-3,
                            objective=lgb_objective("tweedie_deviance", power=1.5,
                                                    log_input=True)),
                       lgb.Dataset(X, y, init_score=np.full(len(y), start)), 100)
    ref = tweedie_deviance(yt, builtin.predict(Xt), 1.5)
    got = tweedie_deviance(yt, np.exp(start + custom.predict(Xt, raw_score=True)), 1.5)
    assert got <= ref * 1.01, (got, ref)


def ltr_data(seed, n_queries):
    """Ragged queries (2–60 items), graded labels 0–4 from a noisy linear score."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 61, size=n_queries)
    n = int(sizes.sum())
    X = rng.normal(size=(n, 8))
    latent = X[:, 0] + 0.5 * X[:, 1] - 0.5 * X[:, 2] ** 2 + 0.7 * rng.normal(size=n)
    rel = np.digitize(latent, [-0.5, 0.5, 1.2, 2.0]).astype(float)   # 0..4
    return X, rel, sizes


def test_lightgbm_lambdarank_close_to_builtin():
    X, rel, sizes = ltr_data(5, 400)
    cut_q = 280
    cut = int(sizes[:cut_q].sum())
    Xtr, rtr, str_ = X[:cut], rel[:cut], sizes[:cut_q]
    Xte, rte, ste = X[cut:], rel[cut:], sizes[cut_q:]
    params = dict(num_leaves=15, learning_rate=0.1, min_data_in_leaf=20, verbose=-1,
                  num_threads=1, deterministic=True, seed=0)
    builtin = lgb.train(dict(params, objective="lambdarank"),
                        lgb.Dataset(Xtr, rtr, group=str_), 60)
    custom = lgb.train(dict(params, objective=lgb_objective("lambdarank", k=10)),
                       lgb.Dataset(Xtr, rtr, group=str_), 60)
    ref = ndcg_at(rte, builtin.predict(Xte), ste)
    got = ndcg_at(rte, custom.predict(Xte), ste)
    assert got >= ref * 0.99, (got, ref)
    assert got > ndcg_at(rte, np.zeros(len(rte)), ste) + 0.1


def one_thread():
    """The README examples use the boosters' default (all cores) threads: one
    thread here, where oversubscription only costs time."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return threadpoolctl.threadpool_limits(1)


@pytest.mark.parametrize("which", ["quantile", "ranking"])
def test_readme_boosting_examples_run(which):
    """The README's "Gradient boosting" examples, run as written."""
    import pathlib
    import re

    readme = pathlib.Path(__file__).resolve().parents[1] / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not next to tests/ (installed package)")
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("<!-- boosting:start -->"):text.index("<!-- boosting:end -->")]
    quantile_code, ranking_code = re.findall(r"```python\n(.*?)```", section, re.S)
    if which == "quantile":
        scope = {}
        with one_thread():
            exec(compile(quantile_code, "README-quantile", "exec"), scope)
        for pred in (scope["pred_xgb"], scope["pred_lgb"]):
            assert 0.8 < np.mean(scope["y_test"] <= pred) < 0.97
    else:
        scope = {}
        with one_thread():
            exec(compile(ranking_code, "README-ranking", "exec"), scope)
        sizes, rel = scope["sizes"], scope["relevance"].astype(float)
        for s in (scope["scores_xgb"], scope["scores_lgb"]):
            assert ndcg_at(rel, s, sizes) > ndcg_at(rel, -s, sizes) + 0.2
