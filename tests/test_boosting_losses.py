"""SPEC §4.2's elementwise losses for gradient boosting: ExpectileLoss,
PseudoHuber, TweedieDeviance (and the init_kind metadata of the regression
losses, the vector forms of pinball / MAE / MSE / Huber).

References are float64 NumPy formulas written here, central finite
differences, scikit-learn's ``mean_tweedie_deviance`` / ``HalfTweedieLoss``
and XGBoost's ``reg:pseudohubererror`` (its gradient / hessian formula
restated, and its ``mphe`` metric where xgboost is installed).  Every value
test runs on every vector path (``simd_path``).
"""
import math

import numpy as np
import pytest

import fastloss as fl
from conftest import central_diagonal, central_gradient


# ------------------------------------------------------------- references
def ref_expectile(y, f, tau):
    e = y - f
    a = np.where(y < f, 1.0 - tau, tau)
    return a * e * e, -2.0 * a * e, 2.0 * a


def ref_pseudo_huber(y, f, delta):
    # XGBoost's PseudoHuberError (src/objective/regression_loss.h), restated:
    # z = predt - y, scale = 1 + z^2/slope^2, grad = z / sqrt(scale),
    # hess = slope^2 / ((slope^2 + z^2) sqrt(scale)); loss slope^2 (sqrt(scale) - 1)
    z = f - y
    scale = 1.0 + z * z / (delta * delta)
    ss = np.sqrt(scale)
    return (delta * delta * (ss - 1.0), z / ss,
            delta * delta / ((delta * delta + z * z) * ss))


def ref_tweedie(y, mu, p):
    """Unit deviance and its first two derivatives in mu (float64)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if p == 0:
            d = (y - mu) ** 2
        elif p == 1:
            d = 2 * (np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0) - y + mu)
        elif p == 2:
            d = 2 * (np.log(mu / y) + y / mu - 1)
        else:
            d = 2 * (np.power(y, 2 - p) / ((1 - p) * (2 - p)) - y * mu ** (1 - p) / (1 - p)
                     + mu ** (2 - p) / (2 - p))
    with np.errstate(over="ignore", divide="ignore"):
        g = 2 * mu ** (-p) * (mu - y)
        h = 2 * mu ** (-p - 1) * (p * y + (1 - p) * mu)
    return d, g, h


def ref_tweedie_log(y, f, p):
    mu = np.exp(f)
    d, _, _ = ref_tweedie(y, mu, p)
    a1, a2 = np.exp((1 - p) * f), np.exp((2 - p) * f)
    return d, 2 * (a2 - y * a1), 2 * ((2 - p) * a2 - (1 - p) * y * a1)


def reduce_ref(elem, w, reduction, shape):
    rows = elem if len(shape) == 1 else elem.reshape(shape[0], -1).mean(axis=1)
    ww = np.ones(shape[0]) if w is None else w
    if reduction == "none":
        return ww * rows
    if reduction == "sum":
        return float(np.sum(ww * rows))
    return float(np.sum(ww * rows) / np.sum(ww))


def grad_scale(w, reduction, shape):
    """d(reduced)/d(element) factor: w_i / k (/ Σw for mean)."""
    k = 1 if len(shape) == 1 else int(np.prod(shape[1:]))
    ww = np.ones(shape[0]) if w is None else w
    s = ww / k
    if reduction == "mean":
        s = s / ww.sum()
    return s.reshape((-1,) + (1,) * (len(shape) - 1))


def _reg_data(rng, shape):
    y = rng.normal(size=shape) * 2
    return y, y + rng.normal(size=shape) * 1.5


def _tweedie_data(rng, shape, p, log_input):
    y = rng.poisson(2.0, size=shape).astype(np.float64)
    if p >= 2:
        y = y + rng.uniform(0.1, 1.0, size=shape)
    elif p > 0:
        y = y * rng.uniform(0.5, 1.5, size=shape)      # zeros kept, non-integers too
    f = rng.normal(scale=0.7, size=shape) + 0.5
    return y, (f if log_input else np.exp(f))


# (id, loss factory, reference (y, f) -> (l, g, h), data (rng, shape) -> (y, f))
CASES = [
    ("expectile_0.5", lambda: fl.ExpectileLoss(), lambda y, f: ref_expectile(y, f, 0.5),
     _reg_data),
    ("expectile_0.2", lambda: fl.ExpectileLoss(expectile=0.2),
     lambda y, f: ref_expectile(y, f, 0.2), _reg_data),
    ("expectile_0.9", lambda: fl.ExpectileLoss(0.9), lambda y, f: ref_expectile(y, f, 0.9),
     _reg_data),
    ("pseudo_huber_1", lambda: fl.PseudoHuber(), lambda y, f: ref_pseudo_huber(y, f, 1.0),
     _reg_data),
    ("pseudo_huber_0.3", lambda: fl.PseudoHuber(delta=0.3),
     lambda y, f: ref_pseudo_huber(y, f, 0.3), _reg_data),
    ("pseudo_huber_4", lambda: fl.PseudoHuber(4.0), lambda y, f: ref_pseudo_huber(y, f, 4.0),
     _reg_data),
] + [
    (f"tweedie_{p}_{'log' if lg else 'rate'}",
     (lambda p=p, lg=lg: fl.TweedieDeviance(power=p, log_input=lg)),
     (lambda y, f, p=p, lg=lg: (ref_tweedie_log if lg else ref_tweedie)(y, f, p)),
     (lambda rng, shape, p=p, lg=lg: _tweedie_data(rng, shape, p, lg)))
    for p in (0.0, 1.0, 1.5, 2.0, 3.0) for lg in (False, True)
]
IDS = [c[0] for c in CASES]


def _with(loss, reduction):
    loss.reduction = reduction
    return loss


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(203,), (67, 3)])
def test_values_gradients_hessians(case, dtype, shape, simd_path, rng):
    _, make, ref, gen = case
    y, f = gen(rng, shape)
    y, f = y.astype(dtype), f.astype(dtype)
    yd, fd = y.astype(np.float64), f.astype(np.float64)
    l_ref, g_ref, h_ref = ref(yd, fd)
    rtol = 1e-10 if dtype == np.float64 else 2e-5
    w = rng.uniform(0.0, 2.0, size=shape[0])
    w[3] = 0.0
    for weights in (None, w):
        for reduction in ("mean", "sum", "none"):
            loss = _with(make(), reduction)
            v = loss(y, f, sample_weight=weights)
            expect = reduce_ref(l_ref, weights, reduction, shape)
            np.testing.assert_allclose(v, expect, rtol=rtol, atol=1e-12)
            if reduction == "none":
                assert v.dtype == dtype and v.shape == (shape[0],)
            else:
                assert isinstance(v, float)
            s = grad_scale(weights, reduction, shape)
            g, h = loss.gradient_hessian(y, f, sample_weight=weights)
            assert g.dtype == h.dtype == dtype and g.shape == h.shape == shape
            scale = np.abs(s * g_ref).max()
            np.testing.assert_allclose(g, s * g_ref, rtol=rtol, atol=rtol * scale)
            hscale = np.abs(s * h_ref).max()
            np.testing.assert_allclose(h, s * h_ref, rtol=rtol, atol=rtol * hscale)
            # one pass, same bits
            v2, g2 = loss.loss_gradient(y, f, sample_weight=weights)
            np.testing.assert_array_equal(np.asarray(v2), np.asarray(v))
            np.testing.assert_array_equal(g2, loss.gradient(y, f, sample_weight=weights))
            np.testing.assert_array_equal(g2, g)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case, rng):
    _, make, _, gen = case
    y, f = gen(rng, (9, 2))
    loss = _with(make(), "sum")
    w = rng.uniform(0.5, 2.0, size=9)
    fun = lambda x: loss(y, x, sample_weight=w)                 # noqa: E731
    g = loss.gradient(y, f, sample_weight=w)
    np.testing.assert_allclose(g, central_gradient(fun, f, h=1e-6), rtol=1e-5, atol=1e-7)
    h = loss.gradient_hessian(y, f, sample_weight=w)[1]
    gfun = lambda x: loss.gradient(y, x, sample_weight=w)       # noqa: E731
    np.testing.assert_allclose(h, central_diagonal(gfun, f, h=1e-5), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_function_form_and_out(case, rng):
    _, make, _, gen = case
    loss = make()
    fn = getattr(fl, loss.function_name)
    y, f = gen(rng, (40,))
    assert fn(y, f, **loss.get_params()) == loss(y, f)
    assert fl.get(type(loss).__name__, **{k: v for k, v in loss.get_params().items()
                                          if k != "reduction"})(y, f) == loss(y, f)
    out = np.empty_like(f)
    g = loss.gradient(y, f, out=out)
    assert g is out
    np.testing.assert_array_equal(out, loss.gradient(y, f))
    with pytest.raises(ValueError, match="out"):
        loss.gradient(y, f, out=np.empty(41))


def test_every_reduction_total_weight_zero(rng):
    y, f = _reg_data(rng, (10,))
    for loss in (fl.ExpectileLoss(0.3), fl.PseudoHuber(2.0), fl.TweedieDeviance(0.0)):
        v, g = loss.loss_gradient(y, f, sample_weight=np.zeros(10))
        assert v == 0.0 and not g.any()


# ------------------------------------------------------------ expectile
def test_expectile_ties(simd_path):
    y = np.array([1.0, 2.0, -3.0, 0.0, 5.0])
    loss = fl.ExpectileLoss(0.25, reduction="sum")
    v, g = loss.loss_gradient(y, y.copy())
    assert v == 0.0 and not g.any()
    _, h = loss.gradient_hessian(y, y.copy())
    np.testing.assert_array_equal(h, np.full(5, 0.5))       # 2 tau: the indicator is 0


def test_expectile_half_is_half_mse(rng):
    y, f = _reg_data(rng, (300,))
    assert fl.expectile_loss(y, f) == pytest.approx(0.5 * fl.mse(y, f), rel=1e-14)


def test_expectile_minimiser_is_the_expectile(rng):
    """The constant minimising the weighted loss is the tau-expectile:
    Σ w |tau - 1[y < m]| (y - m) = 0."""
    y = rng.exponential(size=500)
    tau = 0.8
    loss = fl.ExpectileLoss(tau)
    lo, hi = y.min(), y.max()
    for _ in range(200):
        m = 0.5 * (lo + hi)
        if loss.gradient(y, np.full_like(y, m)).sum() > 0:
            hi = m
        else:
            lo = m
    a = np.where(y < m, 1 - tau, tau)
    assert abs(np.sum(a * (y - m))) < 1e-9 * len(y)
    assert m > np.mean(y)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_expectile_bad_parameter(bad):
    with pytest.raises(ValueError, match="expectile"):
        fl.ExpectileLoss(bad)
    with pytest.raises(ValueError, match="expectile"):
        fl.expectile_loss([1.0], [1.0], expectile=bad)
    with pytest.raises(TypeError, match="expectile"):
        fl.ExpectileLoss("0.5")


# ---------------------------------------------------------- pseudo-Huber
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pseudo_huber_huge_and_tiny_errors(dtype, simd_path):
    delta = 2.0
    y = np.zeros(6, dtype)
    f = np.array([1e200, -1e200, 1e30, -1e5, 1e-10, -3e-9]
                 if dtype == np.float64 else [3e38, -3e38, 1e30, -1e5, 1e-10, -3e-9], dtype)
    loss = fl.PseudoHuber(delta, reduction="none")
    v = loss(y, f)
    g, h = loss.gradient_hessian(y, f)
    fd = f.astype(np.float64)
    # exact: delta^2 (sqrt(1 + t^2) - 1) = delta^2 t^2 / (sqrt(1 + t^2) + 1)
    t = fd / delta
    with np.errstate(over="ignore"):
        r = np.where(np.abs(t) > 1e8, np.abs(t), np.sqrt(1 + t * t))
    expect = delta * delta * t * (t / (r + 1))
    finite = np.isfinite(expect.astype(dtype))
    assert np.isfinite(v[finite]).all()
    np.testing.assert_allclose(v[finite], expect[finite], rtol=1e-6)
    # tiny errors: ~e^2/2 with every digit (no cancellation)
    np.testing.assert_allclose(v[4:], 0.5 * fd[4:] ** 2, rtol=1e-6)
    # gradient -> delta sign(e), never NaN
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g[:4], delta * np.sign(fd[:4]), rtol=1e-6)
    assert np.isfinite(h).all() and (h >= 0).all()
    np.testing.assert_allclose(h[4:], 1.0, rtol=1e-6)
    # every reduction stays finite or +inf, never NaN
    for reduction in ("sum", "mean"):
        assert not math.isnan(fl.PseudoHuber(delta, reduction=reduction)(y, f))


def test_pseudo_huber_hessian_positive(rng, simd_path):
    y, f = _reg_data(rng, (1000,))
    _, h = fl.PseudoHuber(0.5).gradient_hessian(y, f * 50)
    assert (h > 0).all()


def test_pseudo_huber_between_quadratic_and_linear(rng):
    y, f = _reg_data(rng, (500,))
    e = np.abs(f - y)
    v = fl.PseudoHuber(1.0, reduction="none")(y, f)
    assert (v <= 0.5 * e * e + 1e-15).all() and (v <= e).all()


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_pseudo_huber_bad_parameter(bad):
    with pytest.raises(ValueError, match="delta"):
        fl.PseudoHuber(bad)
    with pytest.raises(ValueError, match="delta"):
        fl.pseudo_huber([1.0], [1.0], delta=bad)


def test_pseudo_huber_agrees_with_xgboost(rng):
    xgb = pytest.importorskip("xgboost")
    n = 400
    X = rng.normal(size=(n, 3))
    y = rng.normal(size=n) * 3
    margin = rng.normal(size=n)
    w = rng.uniform(0.2, 2.0, size=n)
    for delta in (0.5, 1.0, 3.0):
        # the mphe metric at the starting margin (round 0, before any tree)
        d = xgb.DMatrix(X, label=y, base_margin=margin, weight=w)
        res = {}
        xgb.train({"objective": "reg:pseudohubererror", "huber_slope": delta,
                   "eval_metric": "mphe", "max_depth": 1, "eta": 1e-12},
                  d, num_boost_round=1, evals=[(d, "t")], evals_result=res, verbose_eval=False)
        ours = fl.pseudo_huber(y, margin, sample_weight=w, delta=delta)
        assert res["t"]["mphe"][0] == pytest.approx(ours, rel=1e-5)
        # one round of depth-0 trees: the leaf is -Σg / (Σh + lambda) (XGBoost's
        # Newton step), from XGBoost's own gradient and hessian; ours must give it
        d2 = xgb.DMatrix(X, label=y, base_margin=margin, weight=w)
        bst = xgb.train({"objective": "reg:pseudohubererror", "huber_slope": delta,
                         "max_depth": 0, "max_leaves": 1, "grow_policy": "lossguide",
                         "eta": 1.0, "lambda": 1.0, "min_child_weight": 0,
                         "tree_method": "hist"}, d2, num_boost_round=1)
        step = bst.predict(d2, output_margin=True) - margin
        g, h = fl.PseudoHuber(delta, reduction="sum").gradient_hessian(y, margin,
                                                                       sample_weight=w)
        np.testing.assert_allclose(step, -g.sum() / (h.sum() + 1.0), rtol=1e-4)


# ---------------------------------------------------------------- Tweedie
POWERS = [0.0, 1.0, 1.5, 2.0, 3.0]


@pytest.mark.parametrize("p", POWERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tweedie_matches_sklearn_metric(p, dtype, rng, simd_path):
    from sklearn.metrics import mean_tweedie_deviance
    y, mu = _tweedie_data(rng, (500,), p, False)
    y, mu = y.astype(dtype), mu.astype(dtype)
    w = rng.uniform(0.1, 3.0, size=500)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    expect = mean_tweedie_deviance(y.astype(np.float64), mu.astype(np.float64), power=p)
    assert fl.tweedie_deviance(y, mu, power=p) == pytest.approx(expect, rel=rtol)
    expect_w = mean_tweedie_deviance(y.astype(np.float64), mu.astype(np.float64),
                                     sample_weight=w, power=p)
    assert fl.tweedie_deviance(y, mu, sample_weight=w, power=p) == pytest.approx(expect_w,
                                                                                  rel=rtol)
    # log input: the same deviance at mu = exp(y_pred)
    f = np.log(mu.astype(np.float64)).astype(dtype)
    expect_l = mean_tweedie_deviance(y.astype(np.float64), np.exp(f.astype(np.float64)), power=p)
    assert fl.tweedie_deviance(y, f, power=p, log_input=True) == pytest.approx(expect_l, rel=rtol)


@pytest.mark.parametrize("p", POWERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tweedie_log_input_is_twice_sklearn_half_tweedie(p, dtype, rng, simd_path):
    skl = pytest.importorskip("sklearn._loss.loss")
    y, f = _tweedie_data(rng, (300,), p, True)
    y, f = y.astype(dtype), f.astype(dtype)
    half = skl.HalfTweedieLoss(power=p)
    g_sk, h_sk = half.gradient_hessian(y_true=y.astype(np.float64),
                                       raw_prediction=f.astype(np.float64))
    g, h = fl.TweedieDeviance(p, log_input=True, reduction="sum").gradient_hessian(y, f)
    rtol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(g, 2 * g_sk, rtol=rtol, atol=rtol * np.abs(g_sk).max())
    np.testing.assert_allclose(h, 2 * h_sk, rtol=rtol, atol=rtol * np.abs(h_sk).max())


@pytest.mark.parametrize("p", [1.0, 1.2, 1.5, 1.9])
def test_tweedie_zero_targets(p, simd_path):
    """y = 0 is in the domain for 1 <= p < 2: the deviance is its limit
    2 mu^(2-p) / (2-p) (p = 1: 2 mu), finite, with finite derivatives."""
    mu = np.array([1e-300, 1e-8, 0.5, 3.0, 1e8])
    y = np.zeros_like(mu)
    v = fl.TweedieDeviance(p, reduction="none")(y, mu)
    np.testing.assert_allclose(v, 2 * mu ** (2 - p) / (2 - p), rtol=1e-12)
    g, h = fl.TweedieDeviance(p, reduction="sum").gradient_hessian(y, mu)
    np.testing.assert_allclose(g, 2 * mu ** (1 - p), rtol=1e-12)
    # 2 (1-p) mu^-p: finite wherever mu^-p is (it overflows at mu = 1e-300)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(h, 2 * (1 - p) * mu ** -p, rtol=1e-12)
    vl = fl.TweedieDeviance(p, log_input=True, reduction="none")(y, np.log(mu))
    np.testing.assert_allclose(vl, 2 * mu ** (2 - p) / (2 - p), rtol=1e-10)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_tweedie_tiny_mean(p, simd_path):
    """mu -> 0 against a positive target: the deviance grows without NaN;
    with log input, exp(y_pred) underflowing is no domain error."""
    y = np.array([1.0, 2.0])
    mu = np.array([1e-300, 1e-30])
    v = fl.TweedieDeviance(p, reduction="none")(y, mu)
    with np.errstate(over="ignore", invalid="ignore"):
        d, _, _ = ref_tweedie(y, mu, p)
    assert not np.isnan(v).any()
    ok = np.isfinite(d)       # the three-term reference overflows (inf - inf) for p > 2
    np.testing.assert_allclose(v[ok], d[ok], rtol=1e-10)
    # there the deviance ~ y mu^(1-p) / (p-1) overflows: +inf
    assert (v[~ok] == np.inf).all()
    f = np.array([-800.0, -60.0])
    vl, gl = fl.TweedieDeviance(p, log_input=True, reduction="none").loss_gradient(y, f)
    assert not np.isnan(vl).any() and not np.isnan(gl).any()
    if p < 2:
        # y mu^(1-p) / (1-p) dominates, or y log(1/mu) at p = 1: both finite
        assert np.isfinite(vl).all()


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("log_input", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tweedie_domain_errors_found_in_the_pass(p, log_input, dtype, simd_path):
    n = 20_000                                     # several blocks, maybe threads
    y = np.full(n, 2.0, dtype)
    f = np.full(n, 0.5 if log_input else 1.5, dtype)
    w = np.ones(n)
    bad_y = y.copy()
    bad_y[n - 3] = -1.0
    bad_f = f.copy()
    bad_f[7] = -np.inf if log_input else (0.0 if p < 2 else -2.0)
    for reduction in ("mean", "sum", "none"):
        loss = fl.TweedieDeviance(p, log_input=log_input, reduction=reduction)
        for call in (loss.loss, loss.gradient, loss.loss_gradient, loss.gradient_hessian):
            for weights in (None, w):
                with pytest.raises(ValueError, match="y_true"):
                    call(bad_y, f, sample_weight=weights)
                with pytest.raises(ValueError, match="y_pred"):
                    call(y, bad_f, sample_weight=weights)
                with pytest.raises(ValueError, match="y_pred"):
                    call(y.reshape(-1, 4), bad_f.reshape(-1, 4), sample_weight=None)
    if p >= 2:
        zero_y = y.copy()
        zero_y[5] = 0.0
        with pytest.raises(ValueError, match="y_true"):
            fl.tweedie_deviance(zero_y, f, power=p, log_input=log_input)


def test_tweedie_power_zero_has_no_domain(rng):
    y = rng.normal(size=50)
    f = rng.normal(size=50)
    assert fl.tweedie_deviance(y, f, power=0.0) == pytest.approx(fl.mse(y, f), rel=1e-14)


def test_tweedie_nan_propagates():
    y = np.array([1.0, np.nan, 2.0])
    mu = np.array([1.0, 1.0, np.nan])
    assert math.isnan(fl.tweedie_deviance(y, mu))
    g = fl.TweedieDeviance().gradient(y, mu)
    assert np.isnan(g[1:]).all() and np.isfinite(g[0])


@pytest.mark.parametrize("bad", [0.5, 0.01, 0.999, -1.0, -0.5, float("nan"), float("inf")])
def test_tweedie_bad_power(bad):
    with pytest.raises(ValueError, match="power"):
        fl.TweedieDeviance(power=bad)
    with pytest.raises(ValueError, match="power"):
        fl.tweedie_deviance([1.0], [1.0], power=bad)


def test_tweedie_bad_log_input():
    with pytest.raises((TypeError, ValueError), match="log_input"):
        fl.TweedieDeviance(log_input="yes")


def test_tweedie_hessian_is_the_exact_second_derivative():
    """For p > 1 the rate-input hessian is negative where mu > p y / (p - 1)."""
    h = fl.TweedieDeviance(1.5, reduction="sum").gradient_hessian([1.0], [5.0])[1]
    assert h[0] == pytest.approx(2 * 5.0 ** -2.5 * (1.5 - 0.5 * 5.0), rel=1e-14)
    assert h[0] < 0


# ------------------------------------------------------------- init_kind
def test_init_kind():
    assert fl.MeanSquaredError.init_kind == "mean"
    assert fl.MeanAbsoluteError.init_kind == "median"
    assert fl.PinballLoss.init_kind == "quantile" and fl.QuantileLoss.init_kind == "quantile"
    assert fl.PseudoHuber.init_kind == "mean"
    assert fl.Poisson().init_kind == "mean" and fl.Poisson(log_input=True).init_kind == "log_mean"
    assert fl.TweedieDeviance().init_kind == "mean"
    assert fl.TweedieDeviance(log_input=True).init_kind == "log_mean"
    assert not hasattr(fl.ExpectileLoss(), "init_kind")
    assert not hasattr(fl.Huber(), "init_kind")


# -------------------------------- vector forms: pinball, MAE, MSE, Huber
def _closed_form(fn):
    """fn() on the scalar path (the closed forms), the path restored after."""
    keep = fl.simd_path() if hasattr(fl, "simd_path") else None
    fl.set_simd_path("scalar")
    try:
        return fn()
    finally:
        if keep is not None:
            fl.set_simd_path(keep)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 13, 70, 130])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pinball_columns_every_path(k, dtype, rng, simd_path):
    n = 257
    y = rng.normal(size=(n, k)).astype(dtype)
    f = (y + rng.normal(size=(n, k))).astype(dtype)
    f[::7] = y[::7]                                    # ties: gradient 0
    q = rng.uniform(0.02, 0.98, size=k)
    e = y.astype(np.float64) - f.astype(np.float64)
    elem = np.where(e >= 0, q * e, (q - 1) * e)
    gel = np.where(e > 0, -q, np.where(e < 0, 1 - q, 0.0))
    w = rng.uniform(0, 2, size=n)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for weights in (None, w):
        for reduction in ("mean", "sum", "none"):
            loss = fl.PinballLoss(q, reduction=reduction)
            v, g = loss.loss_gradient(y, f, sample_weight=weights)
            np.testing.assert_allclose(v, reduce_ref(elem, weights, reduction, (n, k)),
                                       rtol=rtol, atol=1e-12)
            np.testing.assert_allclose(g, grad_scale(weights, reduction, (n, k)) * gel,
                                       rtol=rtol, atol=1e-14)
            np.testing.assert_array_equal(g, loss.gradient(y, f, sample_weight=weights))
            np.testing.assert_array_equal(np.asarray(v),
                                          np.asarray(loss(y, f, sample_weight=weights)))
            assert (g.reshape(n, k)[::7] == 0).all()


@pytest.mark.parametrize("make", [lambda: fl.MeanAbsoluteError(), lambda: fl.MeanSquaredError(),
                                  lambda: fl.Huber(0.7), lambda: fl.PinballLoss(0.3),
                                  lambda: fl.ExpectileLoss(0.3), lambda: fl.PseudoHuber(0.7)],
                         ids=["mae", "mse", "huber", "pinball", "expectile", "pseudo_huber"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vector_forms_match_closed_forms(make, dtype, rng, simd_path):
    """The vector forms compute the closed forms' operations: the same
    elements to rounding (equal bits but for fused multiply-adds), NaN and
    ties included."""
    n = 1001
    y = rng.normal(size=n).astype(dtype)
    f = (y + rng.normal(size=n)).astype(dtype)
    f[::9] = y[::9]
    f[5] = np.nan
    y[17] = np.nan
    loss = make()
    loss.reduction = "none"
    v, g = loss.loss_gradient(y, f)
    _, h = loss.gradient_hessian(y, f)
    vs, gs, hs = _closed_form(lambda: (*loss.loss_gradient(y, f), loss.gradient_hessian(y, f)[1]))
    rtol = 1e-15 if dtype == np.float64 else 1e-7
    for a, b in ((v, vs), (g, gs), (h, hs)):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0)
    assert np.isnan(v[[5, 17]]).all() and np.isnan(g[[5, 17]]).all()
