"""fastloss.xgboost: custom objectives trained in real XGBoost boosters give the
same predictions as XGBoost's built-in objectives after the same rounds.

Conventions (see the module docstring): fastloss "mse" is (y - ŷ)², twice
reg:squarederror, so its trees equal the built-in's with reg_lambda and
min_child_weight doubled; Huber's inside branch is ½e², reg:squarederror
itself; multi:softprob uses the hessian 2p(1-p) where fastloss has p(1-p), so
it is reproduced with eta, reg_lambda and min_child_weight halved.  A custom
objective's base_score is a margin, the built-in logistic/softmax ones are
probabilities (0.5 -> margin 0).
"""
import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

import fastloss as fl  # noqa: E402
from fastloss.xgboost import objective  # noqa: E402

ROUNDS = 8
BASE = dict(max_depth=3, eta=0.3, tree_method="exact", nthread=1, seed=0)


def assert_same(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(400, 5))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + 0.3 * rng.normal(size=400)
    w = rng.uniform(0.3, 2.0, size=400)
    return X, y, w, rng


def margins(params, dtrain, obj=None):
    booster = xgb.train(params, dtrain, ROUNDS, obj=obj)
    return booster.predict(dtrain, output_margin=True)


@pytest.mark.parametrize("weighted", [False, True])
def test_squared_error(data, weighted):
    X, y, w, _ = data
    d = xgb.DMatrix(X, label=y, weight=w if weighted else None)
    params = dict(BASE, base_score=0.4)
    builtin = margins(dict(params, objective="reg:squarederror"), d)
    assert_same(margins(dict(params, reg_lambda=2.0, min_child_weight=2.0), d,
                        objective("mse")), builtin)
    assert_same(margins(params, d, objective("huber", delta=1e30)), builtin)


def test_sklearn_api_passes_sample_weight(data):
    X, y, w, _ = data
    kw = dict(n_estimators=ROUNDS, max_depth=3, learning_rate=0.3, tree_method="exact",
              n_jobs=1, base_score=0.4)
    builtin = xgb.XGBRegressor(**kw).fit(X, y, sample_weight=w).predict(X)
    custom = xgb.XGBRegressor(objective=objective(fl.Huber(delta=1e30)), **kw)
    assert_same(custom.fit(X, y, sample_weight=w).predict(X), builtin)


def test_huber_gradient_is_per_sample(data):
    X, y, w, rng = data
    preds = rng.normal(size=400).astype(np.float64)
    grad, hess = objective("huber", delta=0.5)(y, preds, sample_weight=w)
    e = preds - y
    np.testing.assert_allclose(grad, w * np.clip(e, -0.5, 0.5), rtol=1e-12)
    np.testing.assert_allclose(hess, w * (np.abs(e) <= 0.5), rtol=1e-12)


def test_loss_without_hessian_is_rejected():
    class NoHessian(fl.Loss):  # a loss with loss/gradient only (not registered)
        pass

    with pytest.raises(ValueError, match="hessian"):
        objective(NoHessian())


def test_binary_logistic(data):
    X, y, w, _ = data
    d = xgb.DMatrix(X, label=(y > 0).astype(float), weight=w)
    builtin = margins(dict(BASE, objective="binary:logistic", base_score=0.5), d)
    assert_same(margins(dict(BASE, base_score=0.0), d, objective("binary_crossentropy")),
                builtin)


def test_multiclass_softprob_layout(data):
    X, y, w, _ = data
    labels = np.digitize(y, [-1.0, 0.5, 2.0]).astype(float)  # 4 classes
    d = xgb.DMatrix(X, label=labels, weight=w)
    params = dict(BASE, num_class=4, base_score=0.0)
    builtin = margins(dict(params, objective="multi:softprob"), d)
    assert builtin.shape == (400, 4)
    half = dict(params, eta=BASE["eta"] / 2, reg_lambda=0.5, min_child_weight=0.5)
    assert_same(margins(half, d, objective("sparse_categorical_crossentropy")), builtin)
    obj = objective("sparse_categorical_crossentropy")
    grad, hess = obj(np.zeros((400, 4), dtype=np.float32), d)
    assert grad.shape == hess.shape == (400, 4)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-6)


def test_xgb_classifier_with_fastloss_softmax(data):
    X, y, w, _ = data
    labels = np.digitize(y, [-1.0, 0.5, 2.0])
    kw = dict(n_estimators=ROUNDS, max_depth=3, tree_method="exact", n_jobs=1, base_score=0.0)
    builtin = xgb.XGBClassifier(learning_rate=0.3, **kw).fit(X, labels, sample_weight=w)
    custom = xgb.XGBClassifier(objective=objective("sparse_categorical_crossentropy"),
                               learning_rate=0.15, reg_lambda=0.5, min_child_weight=0.5, **kw)
    custom.fit(X, labels, sample_weight=w)
    assert_same(custom.predict_proba(X), builtin.predict_proba(X))


def test_one_hot_and_label_softmax_objectives_agree(data):
    X, y, w, rng = data
    labels = np.digitize(y, [-1.0, 0.5, 2.0]).astype(np.float32)
    raw = rng.normal(size=(400, 4))
    g1, h1 = objective("sparse_categorical_crossentropy")(labels, raw, sample_weight=w)
    g2, h2 = objective("categorical_crossentropy")(labels, raw, sample_weight=w)
    p = np.exp(raw - raw.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.eye(4)[labels.astype(int)]
    np.testing.assert_allclose(g1, w[:, None] * (p - onehot), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h1, w[:, None] * p * (1 - p), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h2, h1, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="outside"):
        objective("sparse_categorical_crossentropy")(labels + 4, raw)
    with pytest.raises(ValueError, match="outside"):
        objective("categorical_crossentropy")(labels + 4, raw)


# --------------------------------------------------- hessian= and ranking groups
@pytest.mark.parametrize("bad", ["Exact", "", 0, -1.0, float("nan"), float("inf"), True, None,
                                 [1.0]])
def test_bad_hessian_option_names_it(bad):
    with pytest.raises(ValueError, match="hessian"):
        objective("mae", hessian=bad)


def test_unit_and_floor_hessians(data):
    X, y, w, rng = data
    preds = y + rng.normal(size=400)
    grad, hess = objective("mae", hessian="unit")(y, preds, sample_weight=w)
    np.testing.assert_allclose(grad, w * np.sign(preds - y), rtol=1e-12)
    np.testing.assert_allclose(hess, w, rtol=1e-12)
    grad, hess = objective("mae", hessian="unit")(y, preds)
    np.testing.assert_array_equal(hess, np.ones(400))
    # the floor acts on the weighted hessian: Huber's w·1[|e| ≤ δ] floored at 0.3
    e = preds - y
    grad, hess = objective("huber", delta=0.5, hessian=0.3)(y, preds, sample_weight=w)
    np.testing.assert_allclose(grad, w * np.clip(e, -0.5, 0.5), rtol=1e-12)
    np.testing.assert_allclose(hess, np.maximum(w * (np.abs(e) <= 0.5), 0.3), rtol=1e-12)


def test_loss_without_hessian_boosts_with_unit_or_floor(data):
    X, y, w, rng = data
    labels = np.digitize(y, [-1.0, 0.5, 2.0])
    raw = rng.normal(size=(400, 4))
    with pytest.raises(ValueError, match="hessian='unit'"):
        objective("multiclass_hinge")
    # Crammer–Singer subgradient written out: +w at the best wrong class, -w at
    # the true one, where the margin is violated
    wrong = np.where(np.eye(4, dtype=bool)[labels], -np.inf, raw)
    c = wrong.argmax(axis=1)
    active = 1 + wrong.max(axis=1) - raw[np.arange(400), labels] > 0
    expected = np.zeros((400, 4))
    expected[np.arange(400), c] += w * active
    expected[np.arange(400), labels] -= w * active
    grad, hess = objective("multiclass_hinge", hessian="unit")(labels, raw, sample_weight=w)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    np.testing.assert_allclose(hess, np.repeat(w[:, None], 4, axis=1), rtol=1e-12)
    _, hess = objective("multiclass_hinge", hessian=0.25)(labels, raw, sample_weight=w)
    np.testing.assert_array_equal(hess, np.full((400, 4), 0.25))


def ranknet_grad_ref(rel, s, group, w, sigma=1.0):
    """∂/∂s of Σ_groups Σ_{y_i > y_j} w_i w_j log(1 + exp(-σ(s_i - s_j))), float64."""
    g = np.zeros(len(s))
    same = group[:, None] == group[None, :]
    above = (rel[:, None] > rel[None, :]) & same
    rho = 1 / (1 + np.exp(sigma * (s[:, None] - s[None, :])))
    lam = sigma * rho * above * np.outer(w, w)
    return -lam.sum(axis=1) + lam.sum(axis=0)


def test_ranking_takes_the_dmatrix_groups(data):
    X, y, w, rng = data
    sizes = np.array([30, 1, 70, 99, 200])
    group = np.repeat(np.arange(5), sizes)
    rel = rng.integers(0, 5, size=400).astype(float)
    preds = rng.normal(size=400).astype(np.float32)
    obj = objective("ranknet", hessian="unit")
    for d in (xgb.DMatrix(X, label=rel, group=sizes), xgb.DMatrix(X, label=rel, qid=group)):
        grad, hess = obj(preds, d)
        np.testing.assert_allclose(grad, ranknet_grad_ref(rel, preds.astype(float), group,
                                                          np.ones(400)), rtol=2e-5, atol=1e-5)
        np.testing.assert_array_equal(hess, np.ones(400))
    # XGBoost's ranking weights are per query: each pair of query g weighs w_g
    wq = np.array([0.5, 2.0, 1.0, 3.0, 0.25])
    d = xgb.DMatrix(X, label=rel, group=sizes, weight=wq)
    grad, _ = obj(preds, d)
    np.testing.assert_allclose(
        grad, ranknet_grad_ref(rel, preds.astype(float), group, np.sqrt(wq)[group]),
        rtol=2e-5, atol=1e-5)
    # a DMatrix without groups is one query
    grad, _ = obj(preds, xgb.DMatrix(X, label=rel))
    np.testing.assert_allclose(grad, ranknet_grad_ref(rel, preds.astype(float), np.zeros(400),
                                                      np.ones(400)), rtol=2e-5, atol=1e-4)


def test_ranking_booster_trains_on_groups():
    rng = np.random.default_rng(5)
    sizes = rng.integers(5, 30, size=40)
    n = int(sizes.sum())
    X = rng.normal(size=(n, 4))
    rel = np.clip(np.round(X[:, 0] + 0.3 * rng.normal(size=n) + 2), 0, 4)
    d = xgb.DMatrix(X, label=rel, group=sizes)
    booster = xgb.train(dict(BASE, base_score=0.0), d, 20, obj=objective("ranknet", hessian="unit"))
    s = booster.predict(d)
    group = np.repeat(np.arange(sizes.size), sizes)
    # fraction of correctly ordered pairs (y_i > y_j, same group), float64
    same = group[:, None] == group[None, :]
    pairs = (rel[:, None] > rel[None, :]) & same
    assert np.mean((s[:, None] > s[None, :])[pairs]) > 0.85
