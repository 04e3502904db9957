"""BinaryCrossentropy(pos_weight=array): one positive weight per column of
(n, k) multilabel input (SPEC §4.1, torch ``BCEWithLogitsLoss(pos_weight)``)."""
import numpy as np
import pytest

import fastloss as fl

from conftest import central_diagonal, central_gradient

K = 5


def _data(rng, n=37, k=K, dtype=np.float64):
    y = (rng.random((n, k)) < 0.4).astype(dtype)
    y[::7] = rng.random((len(y[::7]), k))            # some soft labels too
    x = rng.normal(scale=3.0, size=(n, k)).astype(dtype)
    q = np.array([1.0, 3.0, 0.5, 0.0, 7.25])[:k]
    return y, x, q


def _reference(y, x, q, w=None, reduction="mean", from_logits=True, smooth=0.0):
    """float64: per element q_j y log p + (1 - y) log(1 - p), a sample's loss
    the mean over its k columns (the elementwise convention), then reduced."""
    y = y.astype(np.float64) * (1 - smooth) + 0.5 * smooth
    x = x.astype(np.float64)
    if from_logits:
        log_p, log_1mp = -np.logaddexp(0.0, -x), -np.logaddexp(0.0, x)
    else:
        p = np.clip(x, 1e-7, 1 - 1e-7)
        log_p, log_1mp = np.log(p), np.log1p(-p)
    per_sample = -(q * y * log_p + (1 - y) * log_1mp).mean(axis=1)
    w = np.ones(len(y)) if w is None else w
    if reduction == "none":
        return w * per_sample
    if reduction == "sum":
        return float(np.sum(w * per_sample))
    return float(np.sum(w * per_sample) / np.sum(w))


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "sum_over_batch_size"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_against_the_float64_reference(rng, simd_path, from_logits, reduction,
                                              weighted, dtype):
    y, x, q = _data(rng, dtype=dtype)
    if not from_logits:
        x = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)
    w = rng.random(len(y)) if weighted else None
    loss = fl.BinaryCrossentropy(from_logits=from_logits, pos_weight=q, label_smoothing=0.1,
                                 reduction=reduction if reduction != "sum_over_batch_size"
                                 else "sum")
    got = loss(y, x, w)
    want = _reference(y, x, q, w, "sum" if reduction == "sum_over_batch_size" else reduction,
                      from_logits, smooth=0.1)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300)
    if reduction == "sum_over_batch_size":
        sobs = fl.BinaryCrossentropy(from_logits=from_logits, pos_weight=q, label_smoothing=0.1,
                                     reduction=reduction)(y, x, w)
        assert sobs == pytest.approx(want / len(y), rel=rtol)


@pytest.mark.parametrize("from_logits", [True, False])
def test_gradient_and_hessian_by_central_differences(rng, simd_path, from_logits):
    y, x, q = _data(rng, n=6)
    if not from_logits:
        x = 1 / (1 + np.exp(-x / 3))                    # away from the clip
    w = rng.random(len(y))
    loss = fl.BinaryCrossentropy(from_logits=from_logits, pos_weight=q, reduction="sum")
    value, grad = loss.loss_gradient(y, x, w)
    fd = central_gradient(lambda z: _reference(y, z, q, w, "sum", from_logits), x,
                          h=1e-6 if from_logits else 1e-8)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    g2, hess = loss.gradient_hessian(y, x, w)
    assert np.array_equal(g2, grad)
    fdh = central_diagonal(lambda z: loss.gradient(y, z, w), x,
                           h=1e-6 if from_logits else 1e-8)
    np.testing.assert_allclose(hess, fdh, rtol=1e-5, atol=1e-6)


def test_agrees_with_torch_bce_with_logits(rng):
    torch = pytest.importorskip("torch")
    y, x, q = _data(rng, n=50)
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(q))(xt, torch.tensor(y))
    ref.backward()
    value, grad = fl.BinaryCrossentropy(from_logits=True, pos_weight=q).loss_gradient(y, x)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-11, atol=1e-15)


def test_a_uniform_array_is_the_scalar_bit_for_bit(rng, simd_path):
    y, x, _ = _data(rng, n=301)
    for dtype in (np.float32, np.float64):
        yy, xx = y.astype(dtype), x.astype(dtype)
        a = fl.BinaryCrossentropy(from_logits=True, pos_weight=np.full(K, 2.5))
        b = fl.BinaryCrossentropy(from_logits=True, pos_weight=2.5)
        for method in ("loss", "gradient", "loss_gradient", "gradient_hessian"):
            got, want = getattr(a, method)(yy, xx), getattr(b, method)(yy, xx)
            for g, w_ in zip(np.atleast_1d(got) if method == "loss" else got,
                             np.atleast_1d(want) if method == "loss" else want):
                assert np.array_equal(g, w_), method


def test_columns_are_not_mixed_up_in_long_rows(rng, simd_path):
    """k large enough for several vector blocks per row: column j reads q_j."""
    k = 67
    y = (rng.random((40, k)) < 0.5).astype(np.float64)
    x = rng.normal(size=(40, k))
    q = rng.random(k) * 4
    got = fl.BinaryCrossentropy(from_logits=True, pos_weight=q, reduction="none")(y, x)
    np.testing.assert_allclose(got, _reference(y, x, q, reduction="none"), rtol=1e-12)


def test_one_entry_for_one_dimensional_input(rng):
    y = (rng.random(20) < 0.5).astype(float)
    x = rng.normal(size=20)
    a = fl.binary_crossentropy(y, x, from_logits=True, pos_weight=[3.0])
    b = fl.binary_crossentropy(y, x, from_logits=True, pos_weight=3.0)
    assert a == b


@pytest.mark.parametrize("method", ["__call__", "loss", "gradient", "loss_gradient",
                                    "gradient_hessian"])
def test_a_pos_weight_of_the_wrong_length_names_it(rng, method):
    y, x, _ = _data(rng)
    loss = fl.BinaryCrossentropy(from_logits=True, pos_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="pos_weight"):
        getattr(loss, method)(y, x)
    with pytest.raises(ValueError, match="pos_weight"):
        getattr(loss, method)(y[:, 0].copy(), x[:, 0].copy())
    with pytest.raises(ValueError, match="pos_weight"):
        getattr(loss, method)(y.reshape(37, 5, 1), x.reshape(37, 5, 1))


def test_the_function_form_checks_the_length_too(rng):
    y, x, _ = _data(rng)
    with pytest.raises(ValueError, match="pos_weight"):
        fl.binary_crossentropy(y, x, from_logits=True, pos_weight=np.ones(K + 1))


@pytest.mark.parametrize("bad, err", [([1.0, -0.5], ValueError), ([[1.0, 2.0]], ValueError),
                                      ([], ValueError), ("abc", TypeError),
                                      ([1.0, float("nan")], ValueError), (-1.0, ValueError),
                                      (["a", "b"], TypeError)])
def test_bad_pos_weight_is_refused_at_construction(bad, err):
    with pytest.raises(err, match="pos_weight"):
        fl.BinaryCrossentropy(pos_weight=bad)
    with pytest.raises(err, match="pos_weight"):
        fl.binary_crossentropy(np.zeros((2, 2)), np.zeros((2, 2)), pos_weight=bad)


def test_the_callers_array_is_not_kept_writable_or_modified():
    q = np.array([1.0, 2.0])
    loss = fl.BinaryCrossentropy(from_logits=True, pos_weight=q)
    q[0] = 100.0                                       # the loss keeps its own copy
    y = np.array([[1.0, 1.0]])
    x = np.array([[0.0, 0.0]])
    assert loss(y, x) == pytest.approx(np.log(2) * (1.0 + 2.0) / 2, rel=1e-14)
