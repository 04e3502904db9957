"""fastloss.lightgbm: custom objectives trained in real LightGBM boosters give the
same predictions as LightGBM's built-in objectives after the same rounds.

Conventions (see the module docstring): fastloss "mse" has twice the gradient
and hessian of "regression" (same leaves with lambda_l2 = 0; the hessian floor
min_sum_hessian_in_leaf is doubled); Huber's inside branch is "regression"
itself; "multiclass" uses the hessian K/(K-1)·p(1-p) where fastloss has
p(1-p), reproduced with learning_rate divided by K/(K-1).  Custom objectives
start from score 0, so the built-ins run with boost_from_average=False.
"""
import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")

import fastloss as fl  # noqa: E402
from fastloss.lightgbm import objective  # noqa: E402

ROUNDS = 8
BASE = dict(num_leaves=7, learning_rate=0.3, min_data_in_leaf=5, verbose=-1, num_threads=1,
            deterministic=True, boost_from_average=False, seed=0)


def assert_same(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.fixture
def data():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(400, 5))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + 0.3 * rng.normal(size=400)
    w = rng.uniform(0.3, 2.0, size=400)
    return X, y, w


def raw(params, X, y, w):
    booster = lgb.train(params, lgb.Dataset(X, label=y, weight=w), ROUNDS)
    return booster.predict(X, raw_score=True)


@pytest.mark.parametrize("weighted", [False, True])
def test_regression(data, weighted):
    X, y, w = data
    w = w if weighted else None
    builtin = raw(dict(BASE, objective="regression"), X, y, w)
    assert_same(raw(dict(BASE, objective=objective("mse"), min_sum_hessian_in_leaf=2e-3),
                    X, y, w), builtin)
    assert_same(raw(dict(BASE, objective=objective("huber", delta=1e300)), X, y, w), builtin)


def test_sklearn_api_passes_weight(data):
    X, y, w = data
    kw = {k: v for k, v in BASE.items() if k not in ("learning_rate",)}
    kw.update(n_estimators=ROUNDS, learning_rate=0.3)
    builtin = lgb.LGBMRegressor(**kw).fit(X, y, sample_weight=w).predict(X)
    custom = lgb.LGBMRegressor(objective=objective(fl.Huber(delta=1e300)), **kw)
    assert_same(custom.fit(X, y, sample_weight=w).predict(X), builtin)


def test_log_cosh_gradient_is_per_sample(data):
    X, y, w = data
    preds = y + np.linspace(-3, 3, len(y))
    grad, hess = objective("log_cosh")(y, preds, w)
    np.testing.assert_allclose(grad, w * np.tanh(preds - y), rtol=1e-12)
    np.testing.assert_allclose(hess, w / np.cosh(preds - y) ** 2, rtol=1e-12)


def test_binary(data):
    X, y, w = data
    yb = (y > 0).astype(float)
    builtin = raw(dict(BASE, objective="binary"), X, yb, w)
    assert_same(raw(dict(BASE, objective=objective("binary_crossentropy")), X, yb, w), builtin)


def test_multiclass_layout(data):
    X, y, w = data
    labels = np.digitize(y, [-1.0, 0.5, 2.0]).astype(float)  # K = 4
    params = dict(BASE, num_class=4)
    builtin = raw(dict(params, objective="multiclass"), X, labels, w)
    assert builtin.shape == (400, 4)
    scaled = dict(params, learning_rate=BASE["learning_rate"] / (4 / 3),
                  objective=objective("sparse_categorical_crossentropy"))
    assert_same(raw(scaled, X, labels, w), builtin)


# --------------------------------------------------- hessian= and ranking groups
@pytest.mark.parametrize("bad", ["UNIT", 0.0, -2, float("nan"), False, "1e-3"])
def test_bad_hessian_option_names_it(bad):
    with pytest.raises(ValueError, match="hessian"):
        objective("mae", hessian=bad)


def test_unit_and_floor_hessians(data):
    X, y, w = data
    preds = y + np.linspace(-2, 2, len(y))
    grad, hess = objective("pinball_loss", quantile=0.8, hessian="unit")(y, preds, w)
    np.testing.assert_allclose(grad, w * np.where(y > preds, -0.8, 0.2), rtol=1e-12)
    np.testing.assert_allclose(hess, w, rtol=1e-12)
    grad, hess = objective("pinball_loss", quantile=0.8, hessian=1e-2)(y, preds, w)
    np.testing.assert_array_equal(hess, np.full(len(y), 1e-2))
    with pytest.raises(ValueError, match="hessian"):
        objective("kl_divergence")


def ranknet_grad_ref(rel, s, group, w, sigma=1.0):
    """∂/∂s of Σ_groups Σ_{y_i > y_j} w_i w_j log(1 + exp(-σ(s_i - s_j))), float64."""
    same = group[:, None] == group[None, :]
    above = (rel[:, None] > rel[None, :]) & same
    rho = 1 / (1 + np.exp(sigma * (s[:, None] - s[None, :])))
    lam = sigma * rho * above * np.outer(w, w)
    return -lam.sum(axis=1) + lam.sum(axis=0)


def test_ranking_takes_the_dataset_groups(data):
    X, y, w = data
    rng = np.random.default_rng(3)
    sizes = np.array([50, 1, 149, 200])
    group = np.repeat(np.arange(4), sizes)
    rel = rng.integers(0, 5, size=400).astype(float)
    preds = rng.normal(size=400)
    ds = lgb.Dataset(X, rel, weight=w, group=sizes).construct()
    obj = objective("ranknet", hessian="unit", sigma=2.0)
    grad, hess = obj(preds, ds)
    w = np.asarray(ds.get_weight(), dtype=np.float64)   # LightGBM keeps weights in float32
    np.testing.assert_allclose(grad, ranknet_grad_ref(rel, preds, group, w, 2.0),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hess, w)
    # the scikit-learn path: (y_true, y_pred, weight, group sizes)
    grad2, _ = obj(rel, preds, ds.get_weight(), sizes)
    np.testing.assert_array_equal(grad2, grad)
    with pytest.raises(ValueError, match="groups"):
        obj(rel, preds, ds.get_weight(), sizes[:-1])


def test_lgbm_ranker_passes_groups():
    rng = np.random.default_rng(6)
    sizes = rng.integers(5, 30, size=40)
    n = int(sizes.sum())
    X = rng.normal(size=(n, 4))
    rel = np.clip(np.round(X[:, 0] + 0.3 * rng.normal(size=n) + 2), 0, 4).astype(int)
    ranker = lgb.LGBMRanker(objective=objective("ranknet", hessian="unit"), n_estimators=20,
                            num_leaves=7, min_child_samples=5, verbose=-1, n_jobs=1)
    s = ranker.fit(X, rel, group=sizes).predict(X)
    group = np.repeat(np.arange(sizes.size), sizes)
    pairs = (rel[:, None] > rel[None, :]) & (group[:, None] == group[None, :])
    assert np.mean((s[:, None] > s[None, :])[pairs]) > 0.85
