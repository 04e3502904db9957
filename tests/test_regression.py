"""MSE, MAE, Huber, LogCosh, Poisson against float64 NumPy formulas and finite differences."""
import math

import numpy as np
import pytest

import fastloss as fl
from conftest import central_diagonal, central_gradient

EPS = 1e-7


# Per-element reference: (value, gradient wrt f, hessian wrt f), float64.
def ref_mse(y, f):
    return (y - f) ** 2, 2 * (f - y), np.full_like(f, 2.0)


def ref_mae(y, f):
    return np.abs(y - f), np.sign(f - y), np.zeros_like(f)


def ref_huber(delta):
    def ref(y, f):
        e = f - y
        inside = np.abs(e) <= delta
        v = np.where(inside, 0.5 * e * e, delta * (np.abs(e) - 0.5 * delta))
        g = np.where(inside, e, delta * np.sign(e))
        return v, g, inside.astype(float)
    return ref


def ref_log_cosh(y, f):
    e = f - y
    return np.logaddexp(e, -e) - np.log(2.0), np.tanh(e), 1.0 / np.cosh(e) ** 2


def ref_poisson(y, f):
    return f - y * np.log(f + EPS), 1 - y / (f + EPS), y / (f + EPS) ** 2


def ref_poisson_log(y, f):
    return np.exp(f) - y * f, np.exp(f) - y, np.exp(f)


def ref_pinball(q):
    def ref(y, f):
        e = y - f
        return (np.where(e >= 0, q * e, (1 - q) * (-e)),
                np.where(e > 0, -q, np.where(e < 0, 1 - q, 0.0)), np.zeros_like(f))
    return ref


CASES = {
    "mse": (fl.MeanSquaredError, {}, ref_mse, "real"),
    "mae": (fl.MeanAbsoluteError, {}, ref_mae, "real"),
    "huber": (fl.Huber, {"delta": 0.7}, ref_huber(0.7), "real"),
    "huber_default": (fl.Huber, {}, ref_huber(1.0), "real"),
    "log_cosh": (fl.LogCosh, {}, ref_log_cosh, "real"),
    "poisson": (fl.Poisson, {}, ref_poisson, "rate"),
    "poisson_log": (fl.Poisson, {"log_input": True}, ref_poisson_log, "real"),
    "pinball": (fl.PinballLoss, {"quantile": 0.3}, ref_pinball(0.3), "real"),
}
FUNCTIONS = {fl.MeanSquaredError: fl.mean_squared_error, fl.MeanAbsoluteError: fl.mae,
             fl.Huber: fl.huber, fl.LogCosh: fl.log_cosh, fl.Poisson: fl.poisson,
             fl.PinballLoss: fl.pinball_loss}


def make_data(rng, kind, shape):
    if kind == "rate":
        y = rng.poisson(2.0, size=shape).astype(float)
        f = rng.uniform(0.2, 4.0, size=shape)
    else:
        y = rng.normal(size=shape)
        f = y + rng.normal(scale=1.5, size=shape)
    return y, f


def reduced_ref(ref, y, f, w, reduction):
    """The reduced loss of SPEC §1 in float64."""
    v = ref(y, f)[0]
    rows = v if v.ndim == 1 else v.reshape(v.shape[0], -1).mean(axis=1)
    ww = np.ones(rows.shape[0]) if w is None else w
    if reduction == "none":
        return ww * rows
    if reduction == "sum":
        return np.sum(ww * rows)
    return np.sum(ww * rows) / np.sum(ww)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("shape", [(13,), (9, 4)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_value_gradient_hessian(rng, case, shape, reduction, weighted, dtype):
    cls, params, ref, kind = CASES[case]
    y, f = make_data(rng, kind, shape)
    w = rng.uniform(0.1, 2.0, size=shape[0]) if weighted else None
    loss = cls(reduction=reduction, **params)
    yd, fd = y.astype(dtype), f.astype(dtype)
    # Reference on the values the kernel really sees (rounded to dtype).
    y64, f64 = yd.astype(np.float64), fd.astype(np.float64)
    rtol = 1e-12 if dtype == np.float64 else 2e-6

    expected = reduced_ref(ref, y64, f64, w, reduction)
    value = loss(yd, fd, sample_weight=w)
    if reduction == "none":
        assert isinstance(value, np.ndarray) and value.shape == (shape[0],)
        assert value.dtype == dtype
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=1e-6 if dtype == np.float32 else 0)
    else:
        assert isinstance(value, float)
        assert value == pytest.approx(expected, rel=rtol)
    # Function form: same value.
    fn_value = FUNCTIONS[cls](yd, fd, w, reduction=reduction, **params)
    np.testing.assert_array_equal(fn_value, value)

    # Gradient of the reduced quantity ("none": of Σ w_i l_i) by central differences.
    target = "sum" if reduction == "none" else reduction
    grad = loss.gradient(yd, fd, sample_weight=w)
    assert grad.shape == f.shape and grad.dtype == dtype
    if dtype == np.float64:
        numeric = central_gradient(lambda x: reduced_ref(ref, y64, x, w, target), f64)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    # Analytic reference gradient (exact formula), both dtypes.
    nrow = shape[0]
    per_elem = ref(y64, f64)[1]
    k = 1 if len(shape) == 1 else shape[1]
    ww = np.ones(nrow) if w is None else w
    scale = 1.0 / ww.sum() if target == "mean" else 1.0
    wb = ww if len(shape) == 1 else ww[:, None]
    np.testing.assert_allclose(grad, per_elem * wb * scale / k, rtol=rtol, atol=1e-7)

    value2, grad2 = loss.loss_gradient(yd, fd, sample_weight=w)
    np.testing.assert_array_equal(value2, value)
    np.testing.assert_array_equal(grad2, grad)

    g3, hess = loss.gradient_hessian(yd, fd, sample_weight=w)
    np.testing.assert_array_equal(g3, grad)
    assert hess.shape == f.shape and hess.dtype == dtype
    np.testing.assert_allclose(hess, ref(y64, f64)[2] * wb * scale / k, rtol=rtol, atol=1e-7)
    if dtype == np.float64 and case not in ("mae",):
        numeric_h = central_diagonal(
            lambda x: ref(y64, x)[1] * wb * scale / k, f64)
        np.testing.assert_allclose(hess, numeric_h, rtol=1e-5, atol=1e-7)


def test_mae_gradient_is_zero_at_ties():
    y = np.array([1.0, 2.0, 3.0])
    f = np.array([1.0, 2.5, 2.0])
    np.testing.assert_array_equal(fl.MeanAbsoluteError(reduction="sum").gradient(y, f), [0.0, 1.0, -1.0])


def test_huber_boundary_takes_quadratic_branch():
    # |e| == delta exactly: both branches agree on the value; gradient e, hessian 1.
    loss = fl.Huber(delta=0.5, reduction="sum")
    y, f = np.array([0.0, 0.0]), np.array([0.5, -0.5])
    assert loss(y, f) == pytest.approx(0.25)
    g, h = loss.gradient_hessian(y, f)
    np.testing.assert_array_equal(g, [0.5, -0.5])
    np.testing.assert_array_equal(h, [1.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_cosh_large_errors_are_finite(dtype):
    e = np.array([1e4, -1e4, 3e4, 1e-3], dtype=dtype)
    y = np.zeros_like(e)
    loss = fl.LogCosh(reduction="none")
    value, grad = loss.loss_gradient(y, e)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value[:3], np.abs(e[:3].astype(float)) - math.log(2), rtol=1e-7)
    np.testing.assert_allclose(value[3], math.log(math.cosh(1e-3)), rtol=1e-4)
    np.testing.assert_array_equal(grad[:3], np.sign(e[:3]))
    _, hess = loss.gradient_hessian(y, e)
    assert np.all(np.isfinite(hess)) and hess[0] == 0.0


def test_poisson_agrees_with_torch_formula_for_log_input(rng):
    torch = pytest.importorskip("torch")
    y = rng.poisson(3.0, size=50).astype(float)
    f = rng.normal(size=50)
    ft = torch.tensor(f, requires_grad=True)
    out = torch.nn.functional.poisson_nll_loss(ft, torch.tensor(y), log_input=True)
    out.backward()
    value, grad = fl.Poisson(log_input=True).loss_gradient(y, f)
    assert value == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(grad, ft.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name,torch_fn,params", [
    ("mse", "mse_loss", {}), ("mae", "l1_loss", {}), ("huber", "huber_loss", {"delta": 1.3}),
])
def test_against_torch_autograd(rng, name, torch_fn, params):
    torch = pytest.importorskip("torch")
    y = rng.normal(size=(40, 3))
    f = rng.normal(size=(40, 3))
    ft = torch.tensor(f, requires_grad=True)
    out = getattr(torch.nn.functional, torch_fn)(ft, torch.tensor(y), **params)
    out.backward()
    value, grad = fl.get(name, **params).loss_gradient(y, f)
    assert value == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(grad, ft.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_float32_sum_accuracy_over_2e7_elements():
    rng = np.random.default_rng(7)
    n = 20_000_000
    y = rng.normal(size=n).astype(np.float32)
    f = rng.normal(size=n).astype(np.float32)
    value = fl.mse(y, f, reduction="sum")
    # Differences of two float32 numbers of this range, and their squares,
    # are exact in float64; fsum then gives the correctly rounded sum.
    e = y.astype(np.float64) - f.astype(np.float64)
    exact = math.fsum((e * e).tolist())
    assert abs(value - exact) <= 1e-6 * exact
    mean = fl.mse(y, f)
    assert abs(mean - exact / n) <= 1e-6 * exact / n


@pytest.mark.parametrize("case", ["mse", "mae", "huber", "log_cosh", "poisson", "poisson_log"])
def test_deterministic_across_thread_counts(case):
    cls, params, _, kind = CASES[case]
    rng = np.random.default_rng(3)
    y, f = make_data(rng, kind, (250_000, 4))     # 10^6 elements
    w = rng.uniform(0, 2, size=250_000)
    for shape_y, shape_f, weights in ((y.ravel(), f.ravel(), None), (y, f, w)):
        results = []
        for nt in (1, 2):
            with fl.num_threads(nt):
                v, g = cls(**params).loss_gradient(shape_y, shape_f, sample_weight=weights)
                gh = cls(**params).gradient_hessian(shape_y, shape_f, sample_weight=weights)
                rows = cls(reduction="none", **params)(shape_y, shape_f, sample_weight=weights)
            results.append((v, g, gh, rows))
        (v1, g1, gh1, r1), (v2, g2, gh2, r2) = results
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)
        np.testing.assert_array_equal(gh1[0], gh2[0])
        np.testing.assert_array_equal(gh1[1], gh2[1])
        np.testing.assert_array_equal(r1, r2)


def test_large_unweighted_and_weighted_paths_agree(rng):
    # The flat (unweighted) and per-row (weighted) kernels must give the same
    # answer when every weight is 1.
    y, f = rng.normal(size=(50_000, 3)), rng.normal(size=(50_000, 3))
    ones = np.ones(50_000)
    for loss in (fl.MeanSquaredError(), fl.Huber(delta=0.3), fl.LogCosh()):
        a, ga = loss.loss_gradient(y, f)
        b, gb = loss.loss_gradient(y, f, sample_weight=ones)
        assert a == pytest.approx(b, rel=1e-13)
        np.testing.assert_allclose(ga, gb, rtol=1e-14)


# ------------------------------------------------ the elementwise kernel table
def _raw_kernel_call(kind, params, n=8, k=1):
    """One direct call of the elementwise kernel (what run_pointwise does)."""
    from fastloss._kernels import pointwise
    y = np.linspace(-1.0, 1.0, n * k)
    f = np.linspace(1.0, -1.0, n * k)
    return pointwise.pointwise(pointwise.KINDS.index(kind), params, y, f, None, n, k, 0, 1.0,
                               None, None, None, np.empty(pointwise.n_blocks(n, k)), 1)


def test_kernel_rejects_unknown_and_missing_parameters():
    # The old kernel read params.get("delta", 1.0): a misspelt or forgotten key
    # silently ran with a default.  Every key is checked against the kind's record.
    assert _raw_kernel_call("huber", {"delta": 0.5}) == pytest.approx(
        sum(fl.huber(np.linspace(-1, 1, 8), np.linspace(1, -1, 8), delta=0.5, reduction="none")))
    with pytest.raises(ValueError, match="missing.*delta"):
        _raw_kernel_call("huber", {})
    with pytest.raises(ValueError, match="unknown.*delt"):
        _raw_kernel_call("huber", {"delta": 1.0, "delt": 2.0})
    with pytest.raises(ValueError, match="unknown.*eps"):
        _raw_kernel_call("squared_error", {"eps": 1e-7})
    with pytest.raises(ValueError, match="delta"):
        _raw_kernel_call("huber", {"delta": -1.0})
    with pytest.raises(TypeError, match="hinge01"):
        _raw_kernel_call("hinge", {"hinge01": 1.0})


def test_every_kind_has_a_record_and_every_class_names_a_kind():
    from fastloss._base import ElementwiseLoss
    from fastloss._kernels import pointwise
    assert set(pointwise.PARAMS) == set(pointwise.KINDS)
    for cls in fl._registry.loss_classes():
        if issubclass(cls, ElementwiseLoss):
            assert cls.__new__(cls).__class__._kind is not ElementwiseLoss._kind
    for kind, (module, cls_name, fn_name, aliases, defaults) in pointwise.LOSSES.items():
        cls = getattr(fl, cls_name)
        assert cls.__module__ == f"fastloss.{module}" and cls.__doc__
        assert getattr(fl, fn_name).__name__ == fn_name
        assert set(defaults) == {name for name, _, _ in pointwise.PARAMS[kind]}
        assert cls()._kernel_params().keys() == set(defaults)
        assert cls().get_params() == {**defaults, "reduction": "mean"}


def test_table_classes_take_positional_and_keyword_parameters():
    y, f = np.array([0.0, 0.0]), np.array([3.0, -0.5])
    assert fl.Huber(2.0)(y, f) == fl.Huber(delta=2.0)(y, f) == fl.huber(y, f, delta=2.0)
    assert fl.Huber(2.0)(y, f) == pytest.approx((2.0 * (3.0 - 1.0) + 0.125) / 2)
    with pytest.raises(TypeError, match="Huber"):
        fl.Huber(1.0, 2.0)
    with pytest.raises(TypeError):
        fl.Huber(deltaa=1.0)
    with pytest.raises(ValueError, match="delta"):
        fl.Huber(delta=float("nan"))
    with pytest.raises(ValueError, match="reduction"):
        fl.MeanSquaredError(reduction="avg")


# ------------------------------------------------ reliability: every SIMD path
from fastloss._kernels import pointwise as _pointwise  # noqa: E402


def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


SAME_BITS = {
    "mse": lambda r: fl.MeanSquaredError(reduction=r),
    "mae": lambda r: fl.MeanAbsoluteError(reduction=r),
    "huber": lambda r: fl.Huber(delta=0.7, reduction=r),
    "log_cosh": lambda r: fl.LogCosh(reduction=r),
    "poisson": lambda r: fl.Poisson(reduction=r),
    "poisson_log": lambda r: fl.Poisson(log_input=True, reduction=r),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(SAME_BITS))
def test_one_pass_same_bits(name, dtype, simd_path, rng):
    """SPEC §1: loss_gradient() is (loss(), gradient()) bit for bit and
    gradient_hessian()[0] is gradient(), for every reduction, 1-D and 2-D
    input (several blocks, vector tails), weights or not, on every path.
    (Was: gradient() with reduction="none" on 2-D input ran the vector
    blocks where loss_gradient() ran the scalar closed forms: ~1e-16 apart
    for log-cosh and Poisson.)"""
    for shape in [(5003,), (1531, 3), (67, 130)]:
        y = rng.poisson(2.0, shape).astype(float)
        f = rng.uniform(0.1, 4, shape) if name == "poisson" else rng.normal(1, 2, shape)
        yt, yp = y.astype(dtype), f.astype(dtype)
        for reduction in ("mean", "sum", "none"):
            loss = SAME_BITS[name](reduction)
            for w in (None, rng.uniform(0, 2, shape[0])):
                v, g = loss.loss_gradient(yt, yp, w)
                assert _bits(v) == _bits(loss.loss(yt, yp, w))
                g1 = loss.gradient(yt, yp, w)
                assert _bits(g) == _bits(g1), np.max(np.abs(g - g1))
                assert _bits(loss.gradient_hessian(yt, yp, w)[0]) == _bits(g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinite_loss_reduces_to_inf(dtype, simd_path):
    """A per-sample loss of +inf (Poisson with log input: exp overflows) makes
    "sum" and "mean" +inf on every path, weighted or not, also across block
    boundaries; a weight-0 sample with an infinite loss adds 0."""
    n = 9000
    f = np.zeros(n)
    f[[10, 4500]] = 800.0                       # exp(800) overflows float64
    y = np.ones(n)
    for shape in [(n,), (n // 3, 3)]:
        yt, yp = y.reshape(shape).astype(dtype), f.reshape(shape).astype(dtype)
        for w in (None, np.ones(shape[0])):
            for reduction in ("sum", "mean"):
                assert fl.Poisson(log_input=True, reduction=reduction)(yt, yp, w) == np.inf
            r = fl.Poisson(log_input=True, reduction="none")(yt, yp, w)
            assert np.isinf(r).sum() == 2 and not np.isnan(r).any()
        w = np.ones(shape[0])
        w[(yp > 50).reshape(shape[0], -1).any(axis=1)] = 0.0
        v = fl.Poisson(log_input=True, reduction="mean")(yt, yp, w)
        assert np.isfinite(v)
