"""fastloss.objective: value and gradient of the penalised linear-model objective.

Values are checked against float64 NumPy formulas written here, gradients
against central finite differences, and the minimiser (found with SciPy's
L-BFGS through the helper) against Ridge's closed form.
"""
import numpy as np
import pytest

import fastloss as fl


def huber_np(e, delta):
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e * e, delta * (a - 0.5 * delta))


def log_softmax_np(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def central_differences(fun, w, h=1e-6):
    g = np.empty_like(w)
    for j in range(w.size):
        e = np.zeros_like(w)
        e[j] = h
        g[j] = (fun(w + e)[0] - fun(w - e)[0]) / (2 * h)
    return g


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 5))
    y = X @ rng.normal(size=5) + 0.5 + rng.standard_t(3, size=40)
    sw = rng.uniform(0.0, 2.0, size=40)
    return X, y, sw, rng


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_huber_value_and_gradient(data, fit_intercept, weighted):
    X, y, sw, rng = data
    sw = sw if weighted else None
    alpha, delta, scale = 0.3, 0.8, 0.25
    fun = fl.objective("huber", X, y, alpha=alpha, sample_weight=sw,
                       fit_intercept=fit_intercept, scale=scale, delta=delta)
    assert fun.n_params == 5 + fit_intercept
    w = rng.normal(size=fun.n_params)
    value, grad = fun(w)
    coef, b = w[:5], (w[5] if fit_intercept else 0.0)
    s = np.ones(40) if sw is None else sw
    expected = scale * (np.sum(s * huber_np(X @ coef + b - y, delta)) + alpha * coef @ coef)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(grad, central_differences(fun, w), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["mse", "mae", "log_cosh", "poisson"])
def test_regression_losses_gradient(data, name):
    X, y, sw, rng = data
    target = np.abs(y) if name == "poisson" else y
    fun = fl.objective(name, X * 0.3, target, alpha=0.1, sample_weight=sw, fit_intercept=True)
    w = rng.normal(size=fun.n_params) * 0.5
    value, grad = fun(w)
    z = X * 0.3 @ w[:5] + w[5]
    terms = {"mse": (target - z) ** 2, "mae": np.abs(target - z),
             "log_cosh": np.log(np.cosh(z - target)),
             "poisson": np.exp(z) - target * z}[name]  # a name gets log_input=True
    np.testing.assert_allclose(value, np.sum(sw * terms) + 0.1 * w[:5] @ w[:5], rtol=1e-10)
    np.testing.assert_allclose(grad, central_differences(fun, w), rtol=1e-5, atol=1e-6)


def test_multi_output_layout_and_sum_over_outputs(data):
    X, _, sw, rng = data
    Y = rng.normal(size=(40, 3))
    fun = fl.objective("mse", X, Y, alpha=0.7, sample_weight=sw, fit_intercept=True)
    assert fun.n_params == 3 * 6 and fun.n_outputs == 3
    w = rng.normal(size=fun.n_params)
    W, b = fun.unpack(w)
    np.testing.assert_array_equal(W, w.reshape(3, 6)[:, :5])
    np.testing.assert_array_equal(b, w.reshape(3, 6)[:, 5])
    value, grad = fun(w)
    R = Y - (X @ W.T + b)
    np.testing.assert_allclose(value, np.sum(sw[:, None] * R ** 2) + 0.7 * np.sum(W * W),
                               rtol=1e-12)
    np.testing.assert_allclose(grad, central_differences(fun, w), rtol=1e-6, atol=1e-6)


def test_loss_instance_keeps_its_parameters_and_reduction_is_sum(data):
    X, y, _, rng = data
    w = rng.normal(size=5)
    by_instance = fl.objective(fl.Huber(delta=0.5, reduction="mean"), X, y)
    by_name = fl.objective("huber", X, y, delta=0.5)
    assert by_instance(w)[0] == by_name(w)[0]
    np.testing.assert_allclose(by_instance(w)[0], np.sum(huber_np(X @ w - y, 0.5)), rtol=1e-12)


def test_minimiser_is_ridge_closed_form(data):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    X, y, sw, _ = data
    alpha = 2.5
    fun = fl.objective("mse", X, y, alpha=alpha, sample_weight=sw)
    res = scipy_optimize.minimize(fun, np.zeros(fun.n_params), jac=True, method="L-BFGS-B",
                                  options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 1000})
    closed = np.linalg.solve(X.T @ (sw[:, None] * X) + alpha * np.eye(5), X.T @ (sw * y))
    np.testing.assert_allclose(res.x, closed, rtol=1e-7)


def test_does_not_modify_inputs(data):
    X, y, sw, rng = data
    copies = [X.copy(), y.copy(), sw.copy()]
    w = rng.normal(size=6)
    w0 = w.copy()
    fl.objective("huber", X, y, alpha=1.0, sample_weight=sw, fit_intercept=True)(w)
    for a, b in zip([X, y, sw, w], copies + [w0]):
        np.testing.assert_array_equal(a, b)


def test_bad_input(data):
    X, y, sw, _ = data
    with pytest.raises(ValueError, match="X"):
        fl.objective("mse", X[0], y)
    with pytest.raises(ValueError, match="y"):
        fl.objective("mse", X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        fl.objective("mse", X, y, sample_weight=sw[:-1])
    with pytest.raises(ValueError, match="alpha"):
        fl.objective("mse", X, y, alpha=-1.0)
    with pytest.raises(TypeError, match="X"):
        fl.objective("mse", X.astype(complex), y)
    with pytest.raises(ValueError, match="unknown loss"):
        fl.objective("no_such_loss", X, y)
    with pytest.raises(TypeError, match="gamma"):
        fl.objective("huber", X, y, gamma=1.0)
    with pytest.raises(ValueError, match="w must have shape"):
        fl.objective("mse", X, y)(np.zeros(3))
    with pytest.raises(ValueError, match="n_outputs"):
        fl.objective("mse", X, y, n_outputs=2)
    for set_level in ("jaccard_loss", "kappa_loss", "ranknet", "lovasz_hinge"):
        with pytest.raises(ValueError, match="couples samples"):
            fl.objective(set_level, X, y)


def test_rows_loss_giou_scores_each_box(data):
    """GIoU is a per-sample (rows) loss: a linear model with four outputs
    per sample, one box each, has the summed GIoU loss as its objective."""
    X, _, sw, rng = data
    lo = rng.uniform(0, 1, size=(40, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.5, 1.5, size=(40, 2))], axis=1)
    fun = fl.objective("giou_loss", X, boxes, sample_weight=sw, fit_intercept=True)
    w = np.zeros(fun.n_params)
    w.reshape(4, 6)[:, 5] = [0.2, 0.2, 1.5, 1.5]        # every prediction the box (.2,.2,1.5,1.5)
    value, grad = fun(w)
    pred = np.broadcast_to([0.2, 0.2, 1.5, 1.5], (40, 4))
    np.testing.assert_allclose(value, np.sum(sw * fl.GIoULoss(reduction="none")(boxes, pred)),
                               rtol=1e-12)
    np.testing.assert_allclose(grad, central_differences(fun, w), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_sparse_categorical_crossentropy_multinomial(data, fit_intercept):
    X, _, sw, rng = data
    labels = rng.integers(0, 4, size=40)
    fun = fl.objective("sparse_categorical_crossentropy", X, labels, alpha=0.2,
                       sample_weight=sw, fit_intercept=fit_intercept, n_outputs=4)
    assert fun.n_params == 4 * (5 + fit_intercept)
    w = rng.normal(size=fun.n_params) * 0.3
    value, grad = fun(w)
    W, b = fun.unpack(w)
    logp = log_softmax_np(X @ W.T + b)
    expected = -np.sum(sw * logp[np.arange(40), labels]) + 0.2 * np.sum(W * W)
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    np.testing.assert_allclose(grad, central_differences(fun, w), rtol=1e-6, atol=1e-6)


def test_binary_crossentropy_from_logits(data):
    X, _, sw, rng = data
    y01 = (rng.uniform(size=40) < 0.5).astype(float)
    fun = fl.objective("binary_crossentropy", X, y01, alpha=0.1, sample_weight=sw,
                       fit_intercept=True)
    w = rng.normal(size=6)
    value, grad = fun(w)
    z = X @ w[:5] + w[5]
    terms = np.logaddexp(0, z) - y01 * z
    np.testing.assert_allclose(value, np.sum(sw * terms) + 0.1 * w[:5] @ w[:5], rtol=1e-10)
    np.testing.assert_allclose(grad, central_differences(fun, w), rtol=1e-6, atol=1e-6)


def test_same_bits_on_one_and_two_fastloss_threads():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50_000, 4))
    y = X @ rng.normal(size=4) + rng.standard_t(2, size=50_000)
    sw = rng.uniform(0, 2, size=50_000)
    fun = fl.objective("huber", X, y, alpha=0.5, sample_weight=sw, fit_intercept=True)
    w = rng.normal(size=5)
    z = fun.decision(w)  # the BLAS product is the same in both calls; fastloss's part varies
    with fl.num_threads(1):
        one = fl.Huber(reduction="sum").loss_gradient(y, z, sw)
        v1, g1 = fun(w)
    with fl.num_threads(2):
        two = fl.Huber(reduction="sum").loss_gradient(y, z, sw)
        v2, g2 = fun(w)
    assert one[0] == two[0] and np.array_equal(one[1], two[1])
    assert v1 == v2 and np.array_equal(g1, g2)


def test_importing_fastloss_imports_no_optional_library():
    import subprocess
    import sys

    code = ("import sys, fastloss, fastloss.xgboost, fastloss.lightgbm\n"
            "heavy = ('sklearn', 'scipy', 'torch', 'xgboost', 'lightgbm')\n"
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
