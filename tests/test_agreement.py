"""Kappa loss against a float64 NumPy formula, scikit-learn's
cohen_kappa_score and finite differences; fl.cohen_kappa against sklearn."""
import numpy as np
import pytest

import fastloss as fl

WEIGHTS = [None, "linear", "quadratic"]


def np_weights(weights, C):
    i = np.arange(C)
    d = np.abs(i[:, None] - i[None, :]).astype(np.float64)
    if weights is None:
        return (d > 0).astype(np.float64)
    if weights == "linear":
        return d / (C - 1)
    return d ** 2 / (C - 1) ** 2


def np_kappa_loss(y, P, weights=None, w=None):
    n, C = P.shape
    w = np.ones(n) if w is None else w
    Y = np.eye(C)[y] * w[:, None]
    O = Y.T @ P
    E = np.outer(Y.sum(0), (P * w[:, None]).sum(0)) / w.sum()
    W = np_weights(weights, C)
    return np.sum(W * O) / np.sum(W * E)


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def data(rng, n=60, C=4):
    return rng.integers(0, C, n), softmax(rng.normal(size=(n, C)) * 2)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_and_gradient(weights, weighted, dtype):
    rng = np.random.default_rng(0)
    y, P = data(rng)
    P = P.astype(dtype)
    w = rng.random(len(y)) if weighted else None
    loss = fl.KappaLoss(weights=weights)
    value, grad = loss.loss_gradient(y, P, sample_weight=w)
    ref = np_kappa_loss(y, P.astype(np.float64), weights, w)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert isinstance(value, float) and value == pytest.approx(ref, rel=tol)
    assert grad.dtype == dtype and grad.shape == P.shape
    assert fl.kappa_loss(y, P, sample_weight=w, weights=weights) == value
    if dtype == np.float64:
        h = 1e-6
        for i, c in [(0, 0), (3, 2), (17, 1), (59, 3), (30, 0)]:
            pp, pm = P.copy(), P.copy()
            pp[i, c] += h
            pm[i, c] -= h
            num = (np_kappa_loss(y, pp, weights, w) - np_kappa_loss(y, pm, weights, w)) / (2 * h)
            assert grad[i, c] == pytest.approx(num, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_from_logits(weights):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 40)
    z = rng.normal(size=(40, 3))
    w = rng.random(40)
    loss = fl.KappaLoss(weights=weights, from_logits=True)
    value, grad = loss.loss_gradient(y, z, sample_weight=w)
    assert value == pytest.approx(np_kappa_loss(y, softmax(z), weights, w), rel=1e-13)
    h = 1e-6
    for i, c in [(0, 0), (5, 2), (39, 1)]:
        zp, zm = z.copy(), z.copy()
        zp[i, c] += h
        zm[i, c] -= h
        num = (np_kappa_loss(y, softmax(zp), weights, w)
               - np_kappa_loss(y, softmax(zm), weights, w)) / (2 * h)
        assert grad[i, c] == pytest.approx(num, rel=1e-6, abs=1e-9)
    torch = pytest.importorskip("torch")
    tz = torch.tensor(z, requires_grad=True)
    tw = torch.tensor(w)
    Y = torch.eye(3, dtype=torch.float64)[torch.tensor(y)] * tw[:, None]
    P = torch.softmax(tz, 1)
    O = Y.T @ P
    E = torch.outer(Y.sum(0), (P * tw[:, None]).sum(0)) / tw.sum()
    W = torch.tensor(np_weights(weights, 3))
    ((W * O).sum() / (W * E).sum()).backward()
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_one_hot_matches_sklearn(weights):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    y = rng.integers(0, 5, 200)
    pred = np.where(rng.random(200) < 0.6, y, rng.integers(0, 5, 200))
    P = np.eye(5)[pred]
    w = rng.random(200)
    assert 1 - fl.kappa_loss(y, P, weights=weights) == pytest.approx(
        sk.cohen_kappa_score(y, pred, weights=weights), rel=1e-12)
    assert 1 - fl.kappa_loss(y, P, weights=weights, sample_weight=w) == pytest.approx(
        sk.cohen_kappa_score(y, pred, weights=weights, sample_weight=w), rel=1e-12)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_cohen_kappa_matches_sklearn(weights):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    labels = np.array([-3, 2, 7, 10, 11])              # not 0..C-1, gaps
    a = labels[rng.integers(0, 5, 300)]
    b = np.where(rng.random(300) < 0.5, a, labels[rng.integers(0, 4, 300)])
    w = rng.random(300)
    assert fl.cohen_kappa(a, b, weights=weights) == pytest.approx(
        sk.cohen_kappa_score(a, b, weights=weights), rel=1e-12)
    assert fl.cohen_kappa(a, b, weights, sample_weight=w) == pytest.approx(
        sk.cohen_kappa_score(a, b, weights=weights, sample_weight=w), rel=1e-12)
    big_a = rng.integers(0, 6, 100000)
    big_b = np.where(rng.random(100000) < 0.3, big_a, rng.integers(0, 6, 100000))
    assert fl.cohen_kappa(big_a, big_b, weights) == pytest.approx(
        sk.cohen_kappa_score(big_a, big_b, weights=weights), rel=1e-10)
    # string labels work too (sorted union, as sklearn)
    s_a, s_b = np.array(["x", "y", "z", "x"]), np.array(["x", "z", "z", "y"])
    assert fl.cohen_kappa(s_a, s_b, weights) == pytest.approx(
        sk.cohen_kappa_score(s_a, s_b, weights=weights), rel=1e-12)


def test_undefined_kappa():
    y = np.zeros(5, dtype=int)
    P = np.tile([1.0, 0.0, 0.0], (5, 1))
    v, g = fl.KappaLoss().loss_gradient(y, P)
    assert v == 0.0 and not np.any(g)
    v, g = fl.KappaLoss().loss_gradient(np.array([0, 1, 2]), np.eye(3), sample_weight=np.zeros(3))
    assert v == 0.0 and not np.any(g)
    assert np.isnan(fl.cohen_kappa([1, 1, 1], [1, 1, 1]))


def test_bad_input():
    rng = np.random.default_rng(4)
    y, P = data(rng, 10, 3)
    with pytest.raises(ValueError, match="y_true"):
        fl.kappa_loss(y + 3, P)
    with pytest.raises(ValueError, match="y_true"):
        fl.kappa_loss(y - 5, P)
    with pytest.raises(ValueError, match="y_true"):
        fl.kappa_loss(y[:5], P)
    with pytest.raises(ValueError, match="y_true"):
        fl.kappa_loss(y + 0.5, P)
    with pytest.raises(ValueError, match="y_pred"):
        fl.kappa_loss(y, P[:, 0])
    with pytest.raises(ValueError, match="weights"):
        fl.KappaLoss(weights="cubic")
    with pytest.raises(ValueError, match="weights"):
        fl.cohen_kappa(y, y, weights="cubic")
    with pytest.raises(ValueError, match="sample_weight"):
        fl.kappa_loss(y, P, sample_weight=-np.ones(10))
    with pytest.raises(ValueError, match="y_pred_labels"):
        fl.cohen_kappa(y, y[:3])
    with pytest.raises(TypeError, match="from_logits"):
        fl.KappaLoss(from_logits=1)
    with pytest.raises(TypeError):
        fl.KappaLoss(reduction="sum")                     # Kappa has no reduction
    before = P.copy()
    fl.KappaLoss(from_logits=True).loss_gradient(y, P)
    np.testing.assert_array_equal(P, before)
    assert isinstance(fl.get("kappa_loss"), fl.KappaLoss)


@pytest.mark.parametrize("from_logits", [False, True])
def test_deterministic_across_threads(from_logits):
    rng = np.random.default_rng(5)
    y = rng.integers(0, 7, 30000)
    P = softmax(rng.normal(size=(30000, 7))).astype(np.float32)
    w = rng.random(30000)
    loss = fl.KappaLoss(weights="quadratic", from_logits=from_logits)
    with fl.num_threads(1):
        v1, g1 = loss.loss_gradient(y, P, sample_weight=w)
    with fl.num_threads(2):
        v2, g2 = loss.loss_gradient(y, P, sample_weight=w)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)
    out = np.empty_like(P)
    assert loss.gradient(y, P, sample_weight=w, out=out) is out
    np.testing.assert_array_equal(out, g1)
