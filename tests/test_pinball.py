"""PinballLoss / QuantileLoss (SPEC §4.2): one or several quantiles in one pass,
against a float64 NumPy formula, scikit-learn and central finite differences."""
import numpy as np
import pytest

import fastloss as fl
from conftest import central_gradient


def ref_elements(y, f, q):
    """Per-element loss and d/df in float64; q broadcasts over the last axis."""
    y, f = np.asarray(y, np.float64), np.asarray(f, np.float64)
    e = y - f
    loss = np.where(e >= 0, q * e, (1 - q) * (f - y))
    grad = np.where(e > 0, -q, np.where(e < 0, 1 - q, 0.0))
    return loss, grad


def ref_reduced(y, f, q, w=None, reduction="mean"):
    loss, _ = ref_elements(y, f, q)
    rows = loss if loss.ndim == 1 else loss.reshape(loss.shape[0], -1).mean(axis=1)
    ww = np.ones(rows.shape[0]) if w is None else np.asarray(w, np.float64)
    if reduction == "none":
        return ww * rows
    if reduction == "sum":
        return float(np.sum(ww * rows))
    return float(np.sum(ww * rows) / np.sum(ww))


def data(rng, shape, dtype=np.float64):
    y = rng.normal(size=shape)
    f = y + rng.normal(scale=1.5, size=shape)
    return y.astype(dtype), f.astype(dtype)


QS = np.array([0.05, 0.25, 0.5, 0.9])


def test_names_and_aliases():
    assert fl.QuantileLoss is fl.PinballLoss
    assert fl.get("quantile_loss", quantile=0.2).quantile == 0.2
    assert type(fl.get("PinballLoss")) is fl.PinballLoss
    assert {"PinballLoss", "pinball_loss", "QuantileLoss", "quantile_loss"} <= set(fl.available())
    assert fl.PinballLoss().quantile == 0.5
    y, f = np.array([1.0, -2.0, 3.0]), np.array([0.0, 0.0, 5.0])
    assert fl.pinball_loss(y, f, quantile=0.3) == fl.quantile_loss(y, f, quantile=0.3) \
        == fl.PinballLoss(0.3)(y, f)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape,quantile", [((50,), 0.3), ((50,), 0.9), ((40, 4), 0.7),
                                             ((40, 4), QS), ((40, 1), [0.2])])
def test_values_and_gradients_against_float64_reference(rng, dtype, reduction, weighted,
                                                        shape, quantile):
    y, f = data(rng, shape, dtype)
    w = rng.uniform(0.1, 2.0, size=shape[0]) if weighted else None
    q = np.asarray(quantile, np.float64)
    loss = fl.PinballLoss(quantile=quantile, reduction=reduction)
    y64, f64 = y.astype(np.float64), f.astype(np.float64)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    value = loss(y, f, sample_weight=w)
    expected = ref_reduced(y64, f64, q, w, reduction)
    if reduction == "none":
        assert value.dtype == dtype and value.shape == (shape[0],)
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=1e-7)
    else:
        assert isinstance(value, float) and value == pytest.approx(expected, rel=rtol)

    grad = loss.gradient(y, f, sample_weight=w)
    assert grad.dtype == dtype and grad.shape == f.shape
    k = 1 if len(shape) == 1 else shape[1]
    ww = np.ones(shape[0]) if w is None else w
    scale = 1.0 / ww.sum() if reduction == "mean" else 1.0
    wb = ww if len(shape) == 1 else ww[:, None]
    np.testing.assert_allclose(grad, ref_elements(y64, f64, q)[1] * wb * scale / k,
                               rtol=rtol, atol=1e-8)
    v2, g2 = loss.loss_gradient(y, f, sample_weight=w)
    np.testing.assert_array_equal(v2, value)
    np.testing.assert_array_equal(g2, grad)
    g3, h = loss.gradient_hessian(y, f, sample_weight=w)
    np.testing.assert_array_equal(g3, grad)
    assert h.dtype == dtype and not h.any()


@pytest.mark.parametrize("quantile", [0.3, QS])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_against_central_differences(rng, quantile, weighted):
    y, f = data(rng, (30, 4))
    # keep every error away from the kink (no tie within the step)
    f = np.where(np.abs(f - y) < 1e-3, y + 0.1, f)
    w = rng.uniform(0.1, 2.0, size=30) if weighted else None
    q = np.asarray(quantile, np.float64)
    grad = fl.PinballLoss(quantile).gradient(y, f, sample_weight=w)
    numeric = central_gradient(lambda x: ref_reduced(y, x, q, w), f)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_ties_give_zero_loss_and_gradient():
    y = np.array([1.0, -2.0, 0.0, 3.5])
    for q in (0.1, 0.5, 0.9):
        value, grad = fl.PinballLoss(q, reduction="none").loss_gradient(y, y.copy())
        assert not value.any() and not grad.any()


def test_piecewise_sides():
    # y > f: q (y - f), gradient -q; y < f: (1 - q)(f - y), gradient 1 - q.
    y, f = np.array([2.0, 0.0]), np.array([0.0, 2.0])
    value, grad = fl.PinballLoss(0.2, reduction="none").loss_gradient(y, f)
    np.testing.assert_allclose(value, [0.4, 1.6], rtol=1e-15)
    np.testing.assert_allclose(grad, [-0.2, 0.8], rtol=1e-15)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("quantile", [0.1, 0.5, 0.95, QS])
def test_agrees_with_sklearn_mean_pinball_loss(rng, weighted, quantile):
    metrics = pytest.importorskip("sklearn.metrics")
    k = 4
    y, f = data(rng, (200, k))
    w = rng.uniform(0.1, 2.0, size=200) if weighted else None
    q = np.broadcast_to(np.asarray(quantile, np.float64), (k,))
    # sklearn takes one alpha: one call per column, averaged over columns
    # (= its multioutput="uniform_average" when all alphas are equal).
    expected = np.mean([metrics.mean_pinball_loss(y[:, j], f[:, j], alpha=q[j],
                                                  sample_weight=w) for j in range(k)])
    assert fl.pinball_loss(y, f, w, quantile=quantile) == pytest.approx(expected, rel=1e-12)
    if np.ndim(quantile) == 0:
        assert fl.pinball_loss(y[:, 0], f[:, 0], w, quantile=quantile) == pytest.approx(
            metrics.mean_pinball_loss(y[:, 0], f[:, 0], alpha=quantile, sample_weight=w),
            rel=1e-12)
        assert fl.pinball_loss(y, f, w, quantile=quantile) == pytest.approx(
            metrics.mean_pinball_loss(y, f, alpha=quantile, sample_weight=w), rel=1e-12)


def test_agrees_with_sklearn_pinball_gradient(rng):
    loss_mod = pytest.importorskip("sklearn._loss.loss")
    y, f = data(rng, (300,))
    sk = loss_mod.PinballLoss(quantile=0.8)
    g_sk = sk.gradient(y_true=y, raw_prediction=f)
    np.testing.assert_allclose(fl.PinballLoss(0.8, reduction="sum").gradient(y, f), g_sk,
                               rtol=1e-15)
    np.testing.assert_allclose(fl.PinballLoss(0.8, reduction="none")(y, f),
                               sk.loss(y_true=y, raw_prediction=f), rtol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_several_quantiles_in_one_pass_equal_separate_calls(rng, reduction, weighted, dtype):
    n, k = 3000, len(QS)
    y, f = data(rng, (n, k), dtype)
    w = rng.uniform(0.1, 2.0, size=n) if weighted else None
    value, grad = fl.PinballLoss(QS, reduction=reduction).loss_gradient(y, f, sample_weight=w)
    parts = [fl.PinballLoss(q, reduction=reduction).loss_gradient(
        np.ascontiguousarray(y[:, j]), np.ascontiguousarray(f[:, j]), sample_weight=w)
        for j, q in enumerate(QS)]
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(value, sum(v for v, _ in parts) / k, rtol=rtol)
    for j, (_, g) in enumerate(parts):
        np.testing.assert_allclose(grad[:, j], g / k, rtol=rtol)


def test_quantile_per_value_of_a_3d_sample(rng):
    # (n, a, b): a sample has a * b values, quantile gives one per value
    y, f = data(rng, (20, 2, 3))
    q = np.linspace(0.1, 0.9, 6)
    assert fl.pinball_loss(y, f, quantile=q) == pytest.approx(
        ref_reduced(y.reshape(20, 6), f.reshape(20, 6), q), rel=1e-12)


@pytest.mark.parametrize("quantile", [0.35, QS])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bit_identical_across_thread_counts(quantile, weighted, dtype):
    rng = np.random.default_rng(5)
    n = 60_000                                   # 240 000 values: above the parallel threshold
    y, f = data(rng, (n, 4), dtype)
    w = rng.uniform(0, 2, size=n) if weighted else None
    results = []
    for nt in (1, 2, 3):
        with fl.num_threads(nt):
            loss = fl.PinballLoss(quantile)
            results.append((loss.loss_gradient(y, f, sample_weight=w),
                            fl.PinballLoss(quantile, reduction="none")(y, f, sample_weight=w)))
    (v1, g1), r1 = results[0]
    for (v, g), r in results[1:]:
        assert v == v1
        np.testing.assert_array_equal(g, g1)
        np.testing.assert_array_equal(r, r1)
    assert v1 == pytest.approx(ref_reduced(y, f, np.asarray(quantile), w), rel=1e-9)


@pytest.mark.parametrize("path", fl.available_simd_paths())
@pytest.mark.parametrize("shape,quantile", [((70_000,), 0.3), ((20_000, 4), QS)])
def test_every_simd_path(path, shape, quantile):
    rng = np.random.default_rng(11)
    y, f = data(rng, shape)
    w = rng.uniform(0.1, 2.0, size=shape[0])
    fl.set_simd_path(path)
    try:
        for weights in (None, w):
            value, grad = fl.PinballLoss(quantile).loss_gradient(y, f, sample_weight=weights)
            assert value == pytest.approx(ref_reduced(y, f, np.asarray(quantile), weights),
                                          rel=1e-11)
            k = 1 if len(shape) == 1 else shape[1]
            ww = np.ones(shape[0]) if weights is None else weights
            wb = ww if len(shape) == 1 else ww[:, None]
            np.testing.assert_allclose(
                grad, ref_elements(y, f, np.asarray(quantile))[1] * wb / ww.sum() / k,
                rtol=1e-12)
    finally:
        fl.set_simd_path("auto")


def test_nan_propagates_and_infinite_error_is_infinite():
    y = np.array([0.0, 1.0, 2.0])
    f = np.array([0.0, np.nan, 1.0])
    value, grad = fl.PinballLoss(0.3, reduction="none").loss_gradient(y, f)
    assert np.isnan(value[1]) and np.isnan(grad[1]) and np.isfinite(value[[0, 2]]).all()
    assert np.isnan(fl.pinball_loss(y, f))
    assert fl.pinball_loss(np.array([np.inf, 0.0]), np.array([0.0, 0.0])) == np.inf


def test_nothing_to_average_and_out(rng):
    y, f = data(rng, (10, 4))
    value, grad = fl.PinballLoss(QS).loss_gradient(y, f, sample_weight=np.zeros(10))
    assert value == 0.0 and not grad.any()
    out = np.empty_like(f)
    g = fl.PinballLoss(QS).gradient(y, f, out=out)
    assert g is out
    q = QS.copy()
    loss = fl.PinballLoss(q)
    q[0] = 0.99                                   # the loss keeps its own copy
    assert loss.quantile[0] == QS[0]


@pytest.mark.parametrize("quantile", [0.0, 1.0, -0.5, 1.5, float("nan"), float("inf"),
                                      [0.5, 1.0], [0.5, float("nan")], [[0.5, 0.5]], []])
def test_bad_quantile_is_a_value_error_naming_it(quantile):
    with pytest.raises(ValueError, match="quantile"):
        fl.PinballLoss(quantile)
    with pytest.raises(ValueError, match="quantile"):
        fl.pinball_loss(np.zeros(3), np.zeros(3), quantile=quantile)


def test_non_numeric_quantile_is_a_type_error():
    for bad in ("0.5", None, True):
        with pytest.raises(TypeError, match="quantile"):
            fl.PinballLoss(bad)


@pytest.mark.parametrize("shape,quantile", [((10, 3), QS), ((10,), QS), ((10, 4), [0.5, 0.5]),
                                             ((10, 2, 2), QS[:2])])
def test_wrong_quantile_length_for_the_input(shape, quantile):
    y = np.zeros(shape)
    with pytest.raises(ValueError, match="quantile"):
        fl.PinballLoss(quantile)(y, y)
    with pytest.raises(ValueError, match="quantile"):
        fl.PinballLoss(quantile).gradient(y, y)


def test_other_bad_input():
    with pytest.raises(ValueError, match="reduction"):
        fl.PinballLoss(0.5, reduction="avg")
    with pytest.raises(ValueError):
        fl.pinball_loss(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="sample_weight"):
        fl.pinball_loss(np.zeros(3), np.zeros(3), sample_weight=[1.0, -1.0, 1.0])
