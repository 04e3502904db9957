"""KL divergence, cosine similarity loss, Hellinger distance (SPEC §2 rows 9, 11, 13):
float64 NumPy formulas, central finite differences, torch/keras conventions,
guards at zero norm / zero distance / zero probability, reductions x weights x
dtypes, determinism, bad input."""
import numpy as np
import pytest

import fastloss as fl
from conftest import central_gradient as fd_grad

EPS = 1e-7


def ref_kl(y, f):
    yc, pc = np.clip(y, EPS, 1), np.clip(f, EPS, 1)
    return np.sum(yc * np.log(yc / pc), axis=-1)


def ref_kl_log(y, f):
    safe = np.where(y > 0, y, 1.0)
    return np.sum(np.where(y > 0, y * (np.log(safe) - f), 0.0), axis=-1)


def ref_cosine(y, f):
    a = np.maximum(np.linalg.norm(y, axis=-1), 1e-12)
    b = np.maximum(np.linalg.norm(f, axis=-1), 1e-12)
    return 1 - np.sum(y * f, axis=-1) / (a * b)


def ref_hellinger(y, f):
    return np.linalg.norm(np.sqrt(y) - np.sqrt(np.clip(f, EPS, 1)), axis=-1) / np.sqrt(2)


CASES = {
    "kl": (fl.KLDivergence, {}, ref_kl, "dist"),
    "kl_log": (fl.KLDivergence, {"log_input": True}, ref_kl_log, "logdist"),
    "cosine": (fl.CosineSimilarityLoss, {}, ref_cosine, "real"),
    "hellinger": (fl.HellingerDistance, {}, ref_hellinger, "dist"),
}
FUNCTIONS = {fl.KLDivergence: fl.kl_divergence, fl.CosineSimilarityLoss: fl.cosine_similarity_loss,
             fl.HellingerDistance: fl.hellinger_distance}


def make(rng, kind, n, k):
    if kind == "real":
        return rng.normal(size=(n, k)), rng.normal(size=(n, k))
    y = rng.dirichlet(np.ones(k), n)
    y[0, 0] = 0.0                      # a zero-probability target entry
    y[0] /= y[0].sum()
    f = rng.dirichlet(np.ones(k), n)
    if kind == "logdist":
        f = np.log(f)
    return y, f


def reduce(vals, w, reduction):
    w = np.ones(vals.shape[0]) if w is None else w
    if reduction == "none":
        return w * vals
    if reduction == "sum":
        return np.sum(w * vals)
    return np.sum(w * vals) / np.sum(w)


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients(name, rng):
    cls, kw, ref, kind = CASES[name]
    y, f = make(rng, kind, 8, 5)
    w = rng.uniform(0.1, 2.0, 8)
    per = ref(y, f)
    for reduction in ("mean", "sum", "none"):
        for sw in (None, w):
            np.testing.assert_allclose(cls(**kw, reduction=reduction)(y, f, sw),
                                       reduce(per, sw, reduction), rtol=1e-12, atol=1e-15)
    loss = cls(**kw, reduction="sum")
    v, g = loss.loss_gradient(y, f, w)
    np.testing.assert_allclose(g, fd_grad(lambda z: loss(y, z, w), f), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(g, loss.gradient(y, f, w))
    assert not hasattr(loss, "gradient_hessian")
    assert FUNCTIONS[cls](y, f, w, reduction="sum", **kw) == v
    for reduction in ("mean", "sum", "none"):
        v32, g32 = cls(**kw, reduction=reduction).loss_gradient(
            y.astype(np.float32), f.astype(np.float32), w)
        v64, g64 = cls(**kw, reduction=reduction).loss_gradient(
            y.astype(np.float32).astype(float), f.astype(np.float32).astype(float), w)
        assert g32.dtype == np.float32
        np.testing.assert_allclose(v32, v64, rtol=2e-6)
        np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_dimensional_input_is_one_row(name, rng):
    cls, kw, ref, kind = CASES[name]
    y, f = make(rng, kind, 1, 6)
    v, g = cls(**kw).loss_gradient(y[0], f[0])
    assert v == pytest.approx(float(ref(y, f)[0]), rel=1e-12)
    assert g.shape == (6,)
    assert cls(**kw, reduction="none")(y[0], f[0]).shape == (1,)


def test_kl_against_torch(rng):
    torch = pytest.importorskip("torch")
    y, f = make(rng, "logdist", 10, 4)
    ft = torch.tensor(f, requires_grad=True)
    ref = torch.nn.functional.kl_div(ft, torch.tensor(y), reduction="batchmean")
    ref.backward()
    v, g = fl.KLDivergence(log_input=True).loss_gradient(y, f)
    assert v == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(g, ft.grad.numpy(), rtol=1e-12)


def test_kl_zero_probabilities():
    y = np.array([[0.0, 1.0], [0.5, 0.5]])
    f = np.array([[0.0, 1.0], [1.0, 0.0]])
    v, g = fl.KLDivergence(reduction="none").loss_gradient(y, f)
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(v, ref_kl(y, f), rtol=1e-12)
    assert g[0, 0] == 0.0 and g[1, 1] == 0.0          # clipped entries
    v, g = fl.KLDivergence(log_input=True, reduction="none").loss_gradient(
        y, np.array([[-np.inf, 0.0], [np.log(0.5), np.log(0.5)]]))
    np.testing.assert_allclose(v, [0.0, 0.0], atol=1e-15)
    assert np.all(np.isfinite(g))


def test_cosine_guards():
    y = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    f = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 0.0, 0.0]])
    v, g = fl.CosineSimilarityLoss(reduction="none").loss_gradient(y, f)
    np.testing.assert_allclose(v, [1.0, 1.0, 0.0], atol=1e-15)
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[2], 0.0)     # perfect alignment: stationary
    np.testing.assert_array_equal(g[1], 0.0)     # zero target: constant loss
    # keras CosineSimilarity returns -cos; ours is 1 + that
    assert fl.cosine_similarity_loss([3.0, 4.0], [4.0, 3.0]) == pytest.approx(1 - 24 / 25)


def test_hellinger_guards():
    y = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]])
    f = np.array([[0.2, 0.8], [1.0, 0.0], [0.7, 0.3]])
    v, g = fl.HellingerDistance(reduction="none").loss_gradient(y, f)
    np.testing.assert_allclose(v, ref_hellinger(y, f), rtol=1e-12)
    assert v[0] == 0.0
    np.testing.assert_array_equal(g[0], 0.0)     # zero distance
    assert np.all(np.isfinite(g))
    assert g[1, 1] == 0.0                        # clipped at 0


def test_determinism_across_threads(rng):
    y, f = make(rng, "dist", 5000, 17)
    w = rng.uniform(size=5000)
    for cls, kw in [(fl.KLDivergence, {}), (fl.HellingerDistance, {}),
                    (fl.CosineSimilarityLoss, {})]:
        loss = cls(**kw)
        with fl.num_threads(1):
            v1, g1 = loss.loss_gradient(y, f, w)
        with fl.num_threads(2):
            v2, g2 = loss.loss_gradient(y, f, w)
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        fl.KLDivergence()(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="y_pred"):
        fl.HellingerDistance()(np.ones((2, 2, 2)), np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="empty"):
        fl.CosineSimilarityLoss()(np.ones((0, 2)), np.ones((0, 2)))
    with pytest.raises(TypeError, match="log_input"):
        fl.KLDivergence(log_input=1)
    with pytest.raises(ValueError, match="sample_weight"):
        fl.KLDivergence()(np.ones((3, 2)) / 2, np.ones((3, 2)) / 2, sample_weight=[1, 1])
    with pytest.raises(TypeError, match="y_true"):
        fl.KLDivergence()(np.array([["a", "b"]]), np.ones((1, 2)))
    assert isinstance(fl.get("kl_divergence", log_input=True), fl.KLDivergence)
    assert isinstance(fl.get("HellingerDistance"), fl.HellingerDistance)


# ------------------------------------------------ reliability: every SIMD path
from fastloss._kernels import rows as _rows  # noqa: E402


def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [lambda r: fl.KLDivergence(reduction=r),
                                  lambda r: fl.KLDivergence(log_input=True, reduction=r),
                                  lambda r: fl.CosineSimilarityLoss(reduction=r),
                                  lambda r: fl.HellingerDistance(reduction=r)],
                         ids=["kl", "kl_log", "cosine", "hellinger"])
def test_one_pass_same_bits(make, dtype, simd_path, rng):
    """SPEC §1: loss_gradient() is (loss(), gradient()) bit for bit, for every
    reduction, 1-D and 2-D input, weights or not, on every path."""
    for shape in [(41,), (903, 13), (5, 1000)]:
        y = rng.dirichlet(np.ones(shape[-1]), shape[:-1] or None)
        y[..., 1] = 0.0
        f = rng.dirichlet(np.ones(shape[-1]), shape[:-1] or None)
        if make("mean").get_params().get("log_input"):
            f = np.log(f)
        n = shape[0] if len(shape) == 2 else 1
        for reduction in ("mean", "sum", "none"):
            loss = make(reduction)
            for w in (None, rng.uniform(0, 2, n)):
                yt, yp = y.astype(dtype), f.astype(dtype)
                v, g = loss.loss_gradient(yt, yp, w)
                assert _bits(v) == _bits(loss.loss(yt, yp, w))
                assert _bits(g) == _bits(loss.gradient(yt, yp, w))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [2, 13])
def test_kl_log_input_nan_and_minus_inf(C, dtype, simd_path, rng):
    """SPEC row 9 / §1: with log_input=True a NaN log-probability propagates
    even where y_j = 0 (torch's kl_div; was: swallowed, e.g. 0.1 for the
    example below); a log-probability of -inf (probability 0) adds 0 where
    y_j = 0 and makes the loss +inf where y_j > 0, for every reduction; the
    gradient is -y_j (torch's) and stays finite."""
    assert np.isnan(fl.kl_divergence(np.array([[0, 1]], dtype),
                                     np.array([[np.nan, -0.1]], dtype), log_input=True))
    n = 300
    y = rng.dirichlet(np.ones(C), n)
    y[:, 0] = 0.0
    y /= y.sum(axis=1, keepdims=True)
    f = np.log(rng.dirichlet(np.ones(C), n))
    f[::3, 0] = -np.inf                          # masked where y = 0: finite
    loss = fl.KLDivergence(log_input=True, reduction="none")
    v, g = loss.loss_gradient(y.astype(dtype), f.astype(dtype))
    expect = ref_kl_log(y, np.where(np.isinf(f), 0.0, f))
    np.testing.assert_allclose(v, expect, rtol=2e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_array_equal(g, -y.astype(dtype))
    fn = f.copy()
    fn[4, 0] = np.nan                            # NaN where y = 0
    for reduction in ("mean", "sum", "none"):
        v, g = fl.KLDivergence(log_input=True, reduction=reduction).loss_gradient(
            y.astype(dtype), fn.astype(dtype))
        assert np.isnan(v[4] if reduction == "none" else v)
        if reduction == "none":
            assert np.isfinite(np.delete(v, 4)).all()
    fi = f.copy()
    fi[7, 1] = -np.inf                           # masked where y > 0: +inf
    for reduction in ("mean", "sum", "none"):
        v, g = fl.KLDivergence(log_input=True, reduction=reduction).loss_gradient(
            y.astype(dtype), fi.astype(dtype))
        assert (v[7] if reduction == "none" else v) == np.inf
        assert np.isfinite(g).all()
        if reduction == "none":
            assert np.isfinite(np.delete(v, 7)).all()
    w = np.ones(n)
    w[7] = 0.0
    v = fl.KLDivergence(log_input=True, reduction="sum")(y.astype(dtype), fi.astype(dtype), w)
    assert np.isfinite(v)
