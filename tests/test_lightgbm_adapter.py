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
