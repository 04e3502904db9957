"""Classification losses (SPEC §2 rows 3a, 3b, 4, 5a, 5b, 5c, 10a, 10b, 17):
values against float64 NumPy formulas written here, gradients and hessians
against central finite differences, torch autograd / sklearn where installed,
extreme logits, reductions x weights x dtypes, determinism, bad input."""
import numpy as np
import pytest

import fastloss as fl
from conftest import central_diagonal as fd_hess_diag
from conftest import central_gradient as fd_grad
from fastloss._kernels import rows as _rows

EPS = 1e-7


# ------------------------------------------------------------ helpers


def sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def softplus(x):
    return np.logaddexp(0.0, x)


def log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


# -------------------------------------------- elementwise reference formulas
def ref_bce(s=0.0, q=1.0, logits=False):
    def f(y, x):
        y = y * (1 - s) + s / 2
        if logits:
            return q * y * softplus(-x) + (1 - y) * softplus(x)
        p = np.clip(x, EPS, 1 - EPS)
        return -(q * y * np.log(p) + (1 - y) * np.log(1 - p))
    return f


def ref_balanced(beta, logits=False):
    def f(y, x):
        if logits:
            lp, lq = -softplus(-x), -softplus(x)
        else:
            p = np.clip(x, EPS, 1 - EPS)
            lp, lq = np.log(p), np.log(1 - p)
        return -beta * y * lp - (1 - beta) * (1 - y) * lq
    return f


def ref_focal(gamma, alpha, logits=False):
    a1, a0 = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)

    def f(y, x):
        if logits:
            p, lp, lq = sigmoid(x), -softplus(-x), -softplus(x)
        else:
            p = np.clip(x, EPS, 1 - EPS)
            lp, lq = np.log(p), np.log(1 - p)
        return -a1 * y * (1 - p) ** gamma * lp - a0 * (1 - y) * p ** gamma * lq
    return f


def ref_hinge(y, x):
    t = 2 * y - 1 if set(np.unique(y)) <= {0.0, 1.0} else y
    return np.maximum(0.0, 1 - t * x)


def ref_sq_hinge(y, x):
    return ref_hinge(y, x) ** 2


# name: (class, kwargs, reference, target kind, prediction kind)
ELEMENTWISE = {
    "bce": (fl.BinaryCrossentropy, {}, ref_bce(), "soft", "prob"),
    "bce_smooth_pos": (fl.BinaryCrossentropy, {"label_smoothing": 0.2, "pos_weight": 2.5},
                       ref_bce(0.2, 2.5), "binary", "prob"),
    "bce_logits": (fl.BinaryCrossentropy, {"from_logits": True}, ref_bce(logits=True),
                   "soft", "logit"),
    "bce_logits_smooth_pos": (fl.BinaryCrossentropy,
                              {"from_logits": True, "label_smoothing": 0.1, "pos_weight": 0.3},
                              ref_bce(0.1, 0.3, True), "binary", "logit"),
    "balanced": (fl.BalancedCrossentropy, {"beta": 0.7}, ref_balanced(0.7), "binary", "prob"),
    "balanced_logits": (fl.BalancedCrossentropy, {"beta": 0.2, "from_logits": True},
                        ref_balanced(0.2, True), "soft", "logit"),
    "focal": (fl.BinaryFocalCrossentropy, {}, ref_focal(2.0, 0.25), "binary", "prob"),
    "focal_soft_g15": (fl.BinaryFocalCrossentropy, {"gamma": 1.5, "alpha": 0.6},
                       ref_focal(1.5, 0.6), "soft", "prob"),
    "focal_noalpha_logits": (fl.BinaryFocalCrossentropy, {"alpha": None, "from_logits": True},
                             ref_focal(2.0, None, True), "binary", "logit"),
    "focal_g0_logits": (fl.BinaryFocalCrossentropy, {"gamma": 0.0, "from_logits": True},
                        ref_focal(0.0, 0.25, True), "soft", "logit"),
    "focal_g3_logits": (fl.BinaryFocalCrossentropy, {"gamma": 3.0, "alpha": 0.4,
                                                     "from_logits": True},
                        ref_focal(3.0, 0.4, True), "soft", "logit"),
    "hinge_pm1": (fl.Hinge, {}, ref_hinge, "pm1", "real"),
    "hinge_01": (fl.Hinge, {}, ref_hinge, "binary", "real"),
    "sq_hinge_pm1": (fl.SquaredHinge, {}, ref_sq_hinge, "pm1", "real"),
    "sq_hinge_01": (fl.SquaredHinge, {}, ref_sq_hinge, "binary", "real"),
}
FUNCTIONS = {fl.BinaryCrossentropy: fl.binary_crossentropy,
             fl.BalancedCrossentropy: fl.balanced_crossentropy,
             fl.BinaryFocalCrossentropy: fl.binary_focal_crossentropy,
             fl.Hinge: fl.hinge, fl.SquaredHinge: fl.squared_hinge}


def make_binary(rng, tkind, pkind, shape):
    if tkind == "soft":
        y = rng.uniform(0, 1, shape)
    elif tkind == "binary":
        y = rng.integers(0, 2, shape).astype(float)
    else:
        y = rng.choice([-1.0, 1.0], shape)
    if pkind == "prob":
        x = rng.uniform(0.02, 0.98, shape)
    elif pkind == "logit":
        x = rng.normal(0, 3, shape)
    else:
        x = rng.normal(0, 1.5, shape)
        # keep finite differences away from the hinge kink
        t = np.where(y == 0, -1, y)
        x = np.where(np.abs(1 - t * x) < 1e-3, x + 0.01, x)
    return y, x


def reduce(vals, w, reduction):
    w = np.ones(vals.shape[0]) if w is None else w
    if reduction == "none":
        return w * vals
    if reduction == "sum":
        return np.sum(w * vals)
    return np.sum(w * vals) / np.sum(w)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("shape", [(13,), (6, 3)])
def test_elementwise_value_grad_hess(name, shape, rng):
    cls, kw, ref, tkind, pkind = ELEMENTWISE[name]
    y, x = make_binary(rng, tkind, pkind, shape)
    w = rng.uniform(0.2, 2.0, shape[0])
    per = ref(y, x)
    rows = per if per.ndim == 1 else per.mean(axis=1)
    for reduction in ("mean", "sum", "none"):
        loss = cls(**kw, reduction=reduction)
        for sw in (None, w):
            np.testing.assert_allclose(loss(y, x, sample_weight=sw), reduce(rows, sw, reduction),
                                       rtol=1e-12, atol=1e-14)
    loss = cls(**kw, reduction="sum")
    fun = lambda z: loss(y, z, sample_weight=w)
    g = loss.gradient(y, x, sample_weight=w)
    np.testing.assert_allclose(g, fd_grad(fun, x), rtol=1e-5, atol=1e-7)
    v, g2 = loss.loss_gradient(y, x, sample_weight=w)
    assert v == pytest.approx(fun(x), rel=1e-14)
    np.testing.assert_array_equal(g, g2)
    gh, hh = loss.gradient_hessian(y, x, sample_weight=w)
    np.testing.assert_allclose(gh, g, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(hh, fd_hess_diag(lambda z: loss.gradient(y, z, sample_weight=w), x),
                               rtol=1e-4, atol=1e-6)
    # the function form gives the same value
    assert FUNCTIONS[cls](y, x, w, reduction="sum", **kw) == pytest.approx(v, rel=1e-15)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_float32(name, reduction, rng):
    cls, kw, ref, tkind, pkind = ELEMENTWISE[name]
    y, x = make_binary(rng, tkind, pkind, (40,))
    w = rng.uniform(0.0, 2.0, 40)
    loss = cls(**kw, reduction=reduction)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    v, g = loss.loss_gradient(y32, x32, sample_weight=w)
    assert g.dtype == np.float32
    v64, g64 = loss.loss_gradient(y32.astype(float), x32.astype(float), sample_weight=w)
    if reduction == "none":
        assert v.dtype == np.float32 and v.shape == (40,)
    else:
        assert isinstance(v, float)
    np.testing.assert_allclose(v, v64, rtol=2e-6)
    np.testing.assert_allclose(g, g64, rtol=2e-6, atol=1e-7)


def test_probability_clip_gradient_is_zero():
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    p = np.array([0.0, 1.0, 1.0, 0.0, 5e-8, 1 - 5e-9])
    for cls, kw in [(fl.BinaryCrossentropy, {}), (fl.BinaryFocalCrossentropy, {}),
                    (fl.BalancedCrossentropy, {"beta": 0.3})]:
        v, g = cls(**kw, reduction="none").loss_gradient(y, p)
        assert np.all(np.isfinite(v))
        np.testing.assert_array_equal(g, 0.0)
        gh, h = cls(**kw).gradient_hessian(y, p)
        np.testing.assert_array_equal(h, 0.0)
    # Keras clips: -log(1e-7) for a confidently wrong prediction
    assert fl.binary_crossentropy([1.0], [0.0]) == pytest.approx(-np.log(EPS), rel=1e-12)


@pytest.mark.parametrize("dtype,big", [(np.float32, 1e4), (np.float64, 1e30)])
def test_binary_extreme_logits(dtype, big):
    x = np.array([big, -big, big, -big, 0.0], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=dtype)
    v, g = fl.BinaryCrossentropy(from_logits=True, reduction="none").loss_gradient(y, x)
    np.testing.assert_allclose(v.astype(float), [0, 0, big, big, np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(g.astype(float), [0, 0, 1, -1, -0.5], atol=1e-12)
    for kw in [{}, {"alpha": None, "gamma": 0.5}, {"gamma": 0.0}]:
        loss = fl.BinaryFocalCrossentropy(from_logits=True, reduction="none", **kw)
        v, g = loss.loss_gradient(y, x)
        g2, h = loss.gradient_hessian(y, x)
        assert np.all(np.isfinite(v)) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))
        a1 = 1.0 if kw.get("alpha", 0.25) is None else 0.25
        a0 = 1.0 if kw.get("alpha", 0.25) is None else 0.75
        np.testing.assert_allclose(v[2:4].astype(float), [a0 * big, a1 * big], rtol=1e-6)
        np.testing.assert_allclose(g[2:4].astype(float), [a0, -a1], rtol=1e-6)
    v, g = fl.BalancedCrossentropy(beta=0.3, from_logits=True,
                                   reduction="none").loss_gradient(y, x)
    np.testing.assert_allclose(v[:4].astype(float), [0, 0, 0.7 * big, 0.3 * big], rtol=1e-6)


def test_bce_and_cross_entropy_against_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.normal(0, 3, (20, 3))
    y = rng.integers(0, 2, (20, 3)).astype(float)
    xt = torch.tensor(x, requires_grad=True)
    ref = F.binary_cross_entropy_with_logits(xt, torch.tensor(y), pos_weight=torch.tensor(1.7, dtype=torch.float64))
    ref.backward()
    v, g = fl.BinaryCrossentropy(from_logits=True, pos_weight=1.7).loss_gradient(y, x)
    assert v == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-15)
    p = sigmoid(x)
    pt = torch.tensor(p, requires_grad=True)
    ref = F.binary_cross_entropy(pt, torch.tensor(y))
    ref.backward()
    v, g = fl.BinaryCrossentropy().loss_gradient(y, p)
    assert v == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(g, pt.grad.numpy(), rtol=1e-9)
    # torchvision's sigmoid_focal_loss, written out in torch (autograd does the rest)
    for alpha in (0.25, None):
        xt = torch.tensor(x, requires_grad=True)
        tt = torch.tensor(y)
        pr = torch.sigmoid(xt)
        ce = F.binary_cross_entropy_with_logits(xt, tt, reduction="none")
        pt_ = pr * tt + (1 - pr) * (1 - tt)
        lt = ce * (1 - pt_) ** 2
        if alpha is not None:
            lt = (alpha * tt + (1 - alpha) * (1 - tt)) * lt
        lt.mean().backward()
        v, g = fl.BinaryFocalCrossentropy(alpha=alpha, from_logits=True).loss_gradient(y, x)
        assert v * 1 == pytest.approx(lt.mean().item(), rel=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_hinge_labels():
    x = np.array([0.3, -2.0, 0.9, 1.5])
    assert fl.hinge([0, 1, 1, 0], x) == pytest.approx(fl.hinge([-1, 1, 1, -1], x))
    assert fl.squared_hinge([1, 1, 1, 1], x) == pytest.approx(np.mean(np.maximum(0, 1 - x) ** 2))
    for bad in ([-1, 0, 1, 1], [0, 2, 1, 0], [0.5, 1, 1, 0], [np.nan, 1, 1, 0]):
        with pytest.raises(ValueError, match="y_true"):
            fl.Hinge()(bad, x)
        with pytest.raises(ValueError, match="y_true"):
            fl.SquaredHinge().gradient(bad, x)
    # subgradient 0 at the kink, hessian 0 for hinge
    g, h = fl.Hinge(reduction="sum").gradient_hessian([1.0, -1.0], [1.0, 0.5])
    np.testing.assert_array_equal(g, [0.0, 1.0])
    np.testing.assert_array_equal(h, 0.0)


# ------------------------------------------------------------ row-wise
def ref_cce(y, x, logits, s=0.0, cw=None):
    C = x.shape[1]
    t = y * (1 - s) + s / C
    if cw is not None:
        t = t * cw
    if logits:
        lp = log_softmax(x)
    else:
        lp = np.log(np.clip(x / x.sum(axis=1, keepdims=True), EPS, 1 - EPS))
    return -(t * lp).sum(axis=1)


def ref_cfocal(y, x, logits, gamma, alpha):
    a = 1.0 if alpha is None else alpha
    if logits:
        lp = log_softmax(x)
        p = np.exp(lp)
    else:
        p = np.clip(x / x.sum(axis=1, keepdims=True), EPS, 1 - EPS)
        lp = np.log(p)
    return -(a * y * (1 - p) ** gamma * lp).sum(axis=1)


def ref_sparse(lab, x, logits):
    onehot = np.eye(x.shape[1])[lab]
    return ref_cce(onehot, x, logits)


def ref_mhinge(lab, x):
    n = x.shape[0]
    true = x[np.arange(n), lab]
    other = np.where(np.eye(x.shape[1], dtype=bool)[lab], -np.inf, x).max(axis=1)
    return np.maximum(0, 1 + other - true)


def dense_data(rng, n, C, logits, onehot=False):
    y = np.eye(C)[rng.integers(0, C, n)] if onehot else rng.dirichlet(np.ones(C), n)
    x = rng.normal(0, 2, (n, C)) if logits else rng.uniform(0.05, 1.0, (n, C))
    return y, x


DENSE = {
    "cce_prob": (fl.CategoricalCrossentropy, {}, lambda y, x: ref_cce(y, x, False), False),
    "cce_logits": (fl.CategoricalCrossentropy, {"from_logits": True},
                   lambda y, x: ref_cce(y, x, True), True),
    "cce_smooth_cw": (fl.CategoricalCrossentropy,
                      {"from_logits": True, "label_smoothing": 0.2,
                       "class_weight": [0.5, 1.0, 2.0, 0.1]},
                      lambda y, x: ref_cce(y, x, True, 0.2, np.array([0.5, 1.0, 2.0, 0.1])), True),
    "cce_prob_smooth_cw": (fl.CategoricalCrossentropy,
                           {"label_smoothing": 0.1, "class_weight": [1.0, 3.0, 0.0, 1.0]},
                           lambda y, x: ref_cce(y, x, False, 0.1, np.array([1.0, 3.0, 0.0, 1.0])),
                           False),
    "cfocal_prob": (fl.CategoricalFocalCrossentropy, {},
                    lambda y, x: ref_cfocal(y, x, False, 2.0, 0.25), False),
    "cfocal_logits": (fl.CategoricalFocalCrossentropy, {"from_logits": True, "gamma": 1.5,
                                                        "alpha": None},
                      lambda y, x: ref_cfocal(y, x, True, 1.5, None), True),
    "cfocal_logits_g0": (fl.CategoricalFocalCrossentropy, {"from_logits": True, "gamma": 0.0},
                         lambda y, x: ref_cfocal(y, x, True, 0.0, 0.25), True),
}


@pytest.mark.parametrize("name", sorted(DENSE))
def test_dense_rows(name, rng):
    cls, kw, ref, logits = DENSE[name]
    y, x = dense_data(rng, 7, 4, logits)
    w = rng.uniform(0.2, 2.0, 7)
    rows = ref(y, x)
    for reduction in ("mean", "sum", "none"):
        for sw in (None, w):
            np.testing.assert_allclose(cls(**kw, reduction=reduction)(y, x, sample_weight=sw),
                                       reduce(rows, sw, reduction), rtol=1e-12, atol=1e-14)
    loss = cls(**kw, reduction="sum")
    g = loss.gradient(y, x, sample_weight=w)
    np.testing.assert_allclose(g, fd_grad(lambda z: loss(y, z, sample_weight=w), x),
                               rtol=1e-5, atol=1e-7)
    if hasattr(loss, "gradient_hessian"):
        if logits:
            g2, h = loss.gradient_hessian(y, x, sample_weight=w)
            np.testing.assert_allclose(g2, g, rtol=1e-14, atol=1e-16)
            np.testing.assert_allclose(
                h, fd_hess_diag(lambda z: loss.gradient(y, z, sample_weight=w), x),
                rtol=1e-4, atol=1e-6)
        else:
            with pytest.raises(ValueError, match="from_logits"):
                loss.gradient_hessian(y, x)
    # float32 against float64 on the same (rounded) data, every reduction x weights
    y32, x32 = y.astype(np.float32), x.astype(np.float32)
    for reduction in ("mean", "sum", "none"):
        for sw in (None, w):
            v32, g32 = cls(**kw, reduction=reduction).loss_gradient(y32, x32, sw)
            v64, g64 = cls(**kw, reduction=reduction).loss_gradient(
                y32.astype(float), x32.astype(float), sw)
            assert g32.dtype == np.float32
            if reduction == "none":
                assert v32.dtype == np.float32 and v32.shape == (7,)
            np.testing.assert_allclose(v32, v64, rtol=2e-6)
            np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-7)


def test_categorical_focal_has_no_hessian():
    assert not hasattr(fl.CategoricalFocalCrossentropy(), "gradient_hessian")
    assert not hasattr(fl.MulticlassHinge(), "gradient_hessian")


SPARSE = {
    "sce_prob": ({}, False),
    "sce_logits": ({"from_logits": True}, True),
    "sce_logits_cw_ignore": ({"from_logits": True, "class_weight": [0.5, 2.0, 1.0, 0.3, 1.2],
                              "ignore_index": -100}, True),
    "sce_prob_cw_ignore_inside": ({"class_weight": [0.5, 2.0, 1.0, 0.3, 1.2],
                                   "ignore_index": 2}, False),
}


@pytest.mark.parametrize("name", sorted(SPARSE))
def test_sparse_rows(name, rng):
    kw, logits = SPARSE[name]
    n, C = 9, 5
    _, x = dense_data(rng, n, C, logits)
    lab = rng.integers(0, C, n)
    lab[[1, 4]] = kw.get("ignore_index", 0) if "ignore_index" in kw else lab[[1, 4]]
    ign = np.zeros(n, bool) if "ignore_index" not in kw else lab == kw["ignore_index"]
    cw = np.ones(C) if "class_weight" not in kw else np.asarray(kw["class_weight"])
    safe = np.where(ign, 0, lab)
    per = ref_sparse(safe, x, logits)
    w = rng.uniform(0.2, 2.0, n)
    for reduction in ("mean", "sum", "none"):
        for sw in (None, w):
            eff = (np.ones(n) if sw is None else sw) * cw[safe] * ~ign
            expect = eff * per
            if reduction == "sum":
                expect = expect.sum()
            elif reduction == "mean":
                expect = expect.sum() / eff.sum()
            got = fl.SparseCategoricalCrossentropy(**kw, reduction=reduction)(lab, x, sw)
            np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-15)
    loss = fl.SparseCategoricalCrossentropy(**kw)
    g = loss.gradient(lab, x, sample_weight=w)
    np.testing.assert_allclose(g, fd_grad(lambda z: loss(lab, z, sample_weight=w), x),
                               rtol=1e-5, atol=1e-7)
    assert np.all(g[ign] == 0)
    if logits:
        _, h = loss.gradient_hessian(lab, x, sample_weight=w)
        np.testing.assert_allclose(
            h, fd_hess_diag(lambda z: loss.gradient(lab, z, sample_weight=w), x),
            rtol=1e-4, atol=1e-6)
    assert fl.sparse_categorical_crossentropy(lab, x, w, **kw) == loss(lab, x, w)
    x32 = x.astype(np.float32)
    for reduction in ("mean", "sum", "none"):
        for sw in (None, w):
            one = fl.SparseCategoricalCrossentropy(**kw, reduction=reduction)
            v32, g32 = one.loss_gradient(lab, x32, sw)
            v64, g64 = one.loss_gradient(lab, x32.astype(float), sw)
            assert g32.dtype == np.float32
            np.testing.assert_allclose(v32, v64, rtol=2e-6, atol=1e-12)
            np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-7)


def test_sparse_matches_dense_onehot(rng):
    x = rng.normal(0, 3, (30, 6))
    lab = rng.integers(0, 6, 30)
    for logits in (True, False):
        xx = x if logits else sigmoid(x)
        a = fl.SparseCategoricalCrossentropy(from_logits=logits).loss_gradient(lab, xx)
        b = fl.CategoricalCrossentropy(from_logits=logits).loss_gradient(np.eye(6)[lab], xx)
        assert a[0] == pytest.approx(b[0], rel=1e-13)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-10, atol=1e-15)


def test_cross_entropy_against_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    n, C = 40, 6
    x = rng.normal(0, 3, (n, C))
    lab = rng.integers(0, C, n)
    lab[::7] = -100
    cw = rng.uniform(0.1, 2.0, C)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-6)):
        xt = torch.tensor(x.astype(dtype), requires_grad=True)
        ref = F.cross_entropy(xt, torch.tensor(lab), weight=torch.tensor(cw.astype(dtype)),
                              ignore_index=-100)
        ref.backward()
        v, g = fl.SparseCategoricalCrossentropy(from_logits=True, class_weight=cw,
                                                ignore_index=-100).loss_gradient(lab, x.astype(dtype))
        assert v == pytest.approx(ref.item(), rel=tol)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=10 * tol, atol=tol / 10)
    y = rng.dirichlet(np.ones(C), n)
    xt = torch.tensor(x, requires_grad=True)
    ref = F.cross_entropy(xt, torch.tensor(y), weight=torch.tensor(cw), label_smoothing=0.15)
    ref.backward()
    v, g = fl.CategoricalCrossentropy(from_logits=True, class_weight=cw,
                                      label_smoothing=0.15).loss_gradient(y, x)
    assert v == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-16)


def test_all_ignored_gives_zero():
    x = np.random.default_rng(1).normal(size=(4, 3))
    loss = fl.SparseCategoricalCrossentropy(from_logits=True, ignore_index=-1)
    v, g = loss.loss_gradient([-1, -1, -1, -1], x)
    assert v == 0.0
    np.testing.assert_array_equal(g, 0.0)
    assert loss([-1, 0, -1, -1], x, sample_weight=[1.0, 0.0, 1.0, 1.0]) == 0.0


@pytest.mark.parametrize("dtype,big", [(np.float32, 1e4), (np.float64, 1e30)])
def test_softmax_extreme_logits(dtype, big):
    x = np.array([[big, -big, 0.0], [-big, big, big], [0.0, 0.0, -big]], dtype=dtype)
    lab = np.array([1, 1, 0])
    v, g = fl.SparseCategoricalCrossentropy(from_logits=True,
                                            reduction="none").loss_gradient(lab, x)
    np.testing.assert_allclose(v.astype(float), [2 * big, np.log(2), np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(g.astype(float),
                               [[1, -1, 0], [0, -0.5, 0.5], [-0.5, 0.5, 0]], atol=1e-6)
    _, h = fl.SparseCategoricalCrossentropy(from_logits=True).gradient_hessian(lab, x)
    assert np.all(np.isfinite(h))
    y = np.eye(3, dtype=dtype)[lab]
    v2 = fl.CategoricalCrossentropy(from_logits=True, reduction="none")(y, x)
    np.testing.assert_allclose(v2.astype(float), v.astype(float), rtol=1e-6)
    vf, gf = fl.CategoricalFocalCrossentropy(from_logits=True, alpha=None,
                                             reduction="none").loss_gradient(y, x)
    assert np.all(np.isfinite(vf)) and np.all(np.isfinite(gf))
    assert float(vf[0]) == pytest.approx(2 * big, rel=1e-6)


def test_multiclass_hinge(rng):
    n, C = 25, 4
    x = rng.normal(0, 1, (n, C))
    lab = rng.integers(0, C, n)
    w = rng.uniform(0.1, 2.0, n)
    per = ref_mhinge(lab, x)
    for reduction in ("mean", "sum", "none"):
        for sw in (None, w):
            np.testing.assert_allclose(fl.MulticlassHinge(reduction=reduction)(lab, x, sw),
                                       reduce(per, sw, reduction), rtol=1e-13)
    g = fl.MulticlassHinge(reduction="sum").gradient(lab, x)
    active = per > 0
    best = np.where(np.eye(C, dtype=bool)[lab], -np.inf, x).argmax(axis=1)
    expect = np.zeros_like(x)
    expect[np.arange(n)[active], best[active]] = 1
    expect[np.arange(n)[active], lab[active]] = -1
    np.testing.assert_array_equal(g, expect)
    np.testing.assert_allclose(g, fd_grad(lambda z: fl.MulticlassHinge(reduction="sum")(lab, z), x),
                               atol=1e-6)
    assert fl.multiclass_hinge(lab, x, w) == fl.MulticlassHinge()(lab, x, w)
    for reduction in ("mean", "sum", "none"):
        v32, g32 = fl.MulticlassHinge(reduction=reduction).loss_gradient(
            lab, x.astype(np.float32), w)
        np.testing.assert_allclose(v32, reduce(ref_mhinge(lab, x.astype(np.float32).astype(float)),
                                               w, reduction), rtol=2e-6)
        assert g32.dtype == np.float32
    skm = pytest.importorskip("sklearn.metrics")
    assert fl.multiclass_hinge(lab, x, w) == pytest.approx(
        skm.hinge_loss(lab, x, labels=np.arange(C), sample_weight=w), rel=1e-12)


def test_determinism_across_threads(rng):
    n, C = 3000, 37
    x = rng.normal(0, 3, (n, C)).astype(np.float32)
    lab = rng.integers(0, C, n)
    y = np.eye(C, dtype=np.float32)[lab]
    w = rng.uniform(0, 1, n)
    cases = [(fl.SparseCategoricalCrossentropy(from_logits=True, ignore_index=3), lab, x),
             (fl.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), y, x),
             (fl.CategoricalFocalCrossentropy(), y, sigmoid(x)),
             (fl.MulticlassHinge(), lab, x),
             (fl.BinaryCrossentropy(from_logits=True), y, x),
             (fl.BinaryFocalCrossentropy(), y, sigmoid(x))]
    for loss, yt, yp in cases:
        with fl.num_threads(1):
            v1, g1 = loss.loss_gradient(yt, yp, w)
        with fl.num_threads(2):
            v2, g2 = loss.loss_gradient(yt, yp, w)
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)


def check_exp_accuracy(rng):
    x = np.concatenate([np.linspace(-87.3, 0, 200001), -rng.exponential(3, 200000)])
    x = x[x >= -87.3].astype(np.float32)
    out = np.empty_like(x)
    _rows.exp_nonpositive(x, out)
    ref = np.exp(x.astype(np.float64))
    assert np.max(np.abs(out - ref) / np.spacing(ref.astype(np.float32))) <= 2.0
    xd = np.concatenate([np.linspace(-708.3, 0, 200001), -rng.exponential(30, 200000)])
    xd = xd[xd >= -708.3]
    outd = np.empty_like(xd)
    _rows.exp_nonpositive(xd, outd)
    assert np.max(np.abs(outd - np.exp(xd)) / np.spacing(np.exp(xd))) <= 2.0
    for dtype in (np.float32, np.float64):
        small = np.array([-1e30, -np.inf, -800.0, np.nan, 0.0], dtype=dtype)
        o = np.empty_like(small)
        _rows.exp_nonpositive(small, o)
        assert o[0] == 0 and o[1] == 0 and o[2] == 0 and np.isnan(o[3]) and o[4] == 1


def test_simd_exp_accuracy_and_path_agreement(rng):
    # The vector exp on every path the CPU has, and the softmax loss it feeds
    # agreeing (to float32 rounding) with the session's own path.
    check_exp_accuracy(rng)
    X = rng.normal(0, 4, (50, 33)).astype(np.float32)
    lab = rng.integers(0, 33, 50)
    loss = fl.SparseCategoricalCrossentropy(from_logits=True)
    v1, g1 = loss.loss_gradient(lab, X)
    session = fl.config()["simd_path"]
    for other in fl.available_simd_paths():
        try:
            assert fl.set_simd_path(other) == other
            check_exp_accuracy(rng)
            v2, g2 = loss.loss_gradient(lab, X)
        finally:
            fl.set_simd_path(session)
        assert fl.config()["simd_path"] == session
        assert v1 == pytest.approx(v2, rel=1e-6)
        np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-9)


def test_nan_propagates():
    x = np.array([[0.1, np.nan, 0.3], [0.2, 0.3, 0.4]])
    for loss, yt in [(fl.SparseCategoricalCrossentropy(from_logits=True, reduction="none"), [0, 1]),
                     (fl.MulticlassHinge(reduction="none"), [0, 1]),
                     (fl.CategoricalCrossentropy(from_logits=True, reduction="none"),
                      np.eye(3)[[0, 1]]),
                     (fl.CategoricalFocalCrossentropy(reduction="none"), np.eye(3)[[0, 1]])]:
        v, g = loss.loss_gradient(yt, x)
        assert np.isnan(v[0]) and np.isfinite(v[1])
        assert np.isnan(g[0]).any() and np.all(np.isfinite(g[1]))


def test_out_and_inputs_untouched(rng):
    x = rng.normal(size=(5, 4))
    lab = rng.integers(0, 4, 5)
    keep = x.copy()
    out = np.empty_like(x)
    loss = fl.SparseCategoricalCrossentropy(from_logits=True)
    g = loss.gradient(lab, x, out=out)
    assert g is out
    np.testing.assert_array_equal(x, keep)
    with pytest.raises(ValueError, match="out"):
        loss.gradient(lab, x, out=np.empty((5, 3)))
    with pytest.raises(ValueError, match="out"):
        loss.gradient(lab, x, out=np.empty((5, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="out"):
        loss.gradient(lab, x, out=x)


def test_bad_input():
    x = np.random.default_rng(0).normal(size=(4, 3))
    S = fl.SparseCategoricalCrossentropy
    with pytest.raises(ValueError, match="y_true"):
        S(from_logits=True)([0, 1, 3, 0], x)
    with pytest.raises(ValueError, match="y_true"):
        S(from_logits=True)([0, 1, -1, 0], x)
    with pytest.raises(ValueError, match="y_true"):
        S(from_logits=True, ignore_index=-100)([0, 1, -1, 0], x)
    with pytest.raises(ValueError, match="y_true"):
        S()([0, 1, 2], x)
    with pytest.raises(TypeError, match="y_true"):
        S()(["a", "b", "c", "d"], x)
    with pytest.raises(ValueError, match="y_pred"):
        S()([0, 1, 2, 0], x[:, :, None])
    with pytest.raises(ValueError, match="class_weight"):
        S(class_weight=[1.0, 2.0])([0, 1, 2, 0], x)
    with pytest.raises(ValueError, match="class_weight"):
        fl.CategoricalCrossentropy(class_weight=[1.0, 2.0])(np.eye(3)[[0, 1, 2, 0]], x)
    with pytest.raises(ValueError, match="class_weight"):
        S(class_weight=[1.0, -2.0, 1.0])
    with pytest.raises(TypeError, match="ignore_index"):
        S(ignore_index=1.5)
    with pytest.raises(ValueError, match="y_pred"):
        fl.MulticlassHinge()([0, 0, 0, 0], x[:, :1])
    with pytest.raises(ValueError, match="y_true"):
        fl.MulticlassHinge()([0, 5, 0, 0], x)
    with pytest.raises(ValueError, match="shape"):
        fl.CategoricalCrossentropy()(np.ones((4, 2)), x)
    with pytest.raises(ValueError, match="shape"):
        fl.BinaryCrossentropy()(np.ones(4), np.ones((4, 1)))
    with pytest.raises(ValueError, match="beta"):
        fl.BalancedCrossentropy(beta=1.5)
    with pytest.raises(ValueError, match="gamma"):
        fl.BinaryFocalCrossentropy(gamma=-1)
    with pytest.raises(ValueError, match="gamma"):
        fl.CategoricalFocalCrossentropy(gamma=-0.1)
    with pytest.raises(ValueError, match="alpha"):
        fl.BinaryFocalCrossentropy(alpha=1.2)
    with pytest.raises(ValueError, match="label_smoothing"):
        fl.CategoricalCrossentropy(label_smoothing=-0.1)
    with pytest.raises(ValueError, match="label_smoothing"):
        fl.BinaryCrossentropy(label_smoothing=2)
    with pytest.raises(ValueError, match="pos_weight"):
        fl.BinaryCrossentropy(pos_weight=-1)
    with pytest.raises(TypeError, match="from_logits"):
        fl.BinaryCrossentropy(from_logits="yes")
    with pytest.raises(ValueError, match="sample_weight"):
        S()([0, 1, 2, 0], x, sample_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="reduction"):
        fl.MulticlassHinge(reduction="avg")


def test_registry_names():
    for name, cls in [("binary_crossentropy", fl.BinaryCrossentropy),
                      ("SparseCategoricalCrossentropy", fl.SparseCategoricalCrossentropy),
                      ("categorical_crossentropy", fl.CategoricalCrossentropy),
                      ("hinge", fl.Hinge), ("squared_hinge", fl.SquaredHinge),
                      ("multiclass_hinge", fl.MulticlassHinge),
                      ("binary_focal_crossentropy", fl.BinaryFocalCrossentropy),
                      ("categorical_focal_crossentropy", fl.CategoricalFocalCrossentropy),
                      ("balanced_crossentropy", fl.BalancedCrossentropy)]:
        assert isinstance(fl.get(name), cls)
    assert fl.get("binary_focal_crossentropy", gamma=1.0).gamma == 1.0


@pytest.mark.parametrize("dtype,big", [(np.float32, 1e4), (np.float64, 1e30)])
def test_bce_logits_vector_path_matches_closed_form(dtype, big, rng):
    """Long unweighted blocks take the SIMD form (AVX2 or SSE2): it must agree
    with the float64 formula and with the scalar closed form."""
    from fastloss._kernels import pointwise
    n = 5003
    x = (rng.normal(0, 1, n) * rng.choice([0.01, 1.0, 30.0, 1e3], n)).astype(dtype)
    x[:6] = [big, -big, big, -big, 0.0, np.nan]
    y = rng.uniform(0, 1, n).astype(dtype)
    y[:4] = [1, 0, 0, 1]
    for kw in ({}, {"label_smoothing": 0.1, "pos_weight": 2.5}):
        loss = fl.BinaryCrossentropy(from_logits=True, reduction="sum", **kw)
        v, g = loss.loss_gradient(y[6:], x[6:])
        expect = ref_bce(kw.get("label_smoothing", 0.0), kw.get("pos_weight", 1.0), True)(
            y[6:].astype(float), x[6:].astype(float)).sum()
        assert v == pytest.approx(expect, rel=1e-12)
        gh, h = loss.gradient_hessian(y[6:], x[6:])
        for path in ("scalar", "baseline"):
            try:
                pointwise.set_simd_path(path)
                v2, g2 = loss.loss_gradient(y[6:], x[6:])
                gh2, h2 = loss.gradient_hessian(y[6:], x[6:])
            finally:
                pointwise.set_simd_path("auto")
            assert v == pytest.approx(v2, rel=1e-13)
            rtol = 1e-6 if dtype == np.float32 else 1e-11
            np.testing.assert_allclose(g, g2, rtol=rtol, atol=1e-30)
            np.testing.assert_allclose(gh, gh2, rtol=rtol, atol=1e-30)
            np.testing.assert_allclose(h, h2, rtol=rtol, atol=1e-30)
        vb, gb = fl.BinaryCrossentropy(from_logits=True, reduction="mean").loss_gradient(
            y[:5000], x[:5000])
        assert np.isnan(vb) and np.isnan(gb[5])
        assert np.all(np.isfinite(np.delete(gb, 5)))
        np.testing.assert_allclose(gb[:4].astype(float) * 5000, [0, 0, 1, -1], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_logits_vector_path_weighted_rows(dtype, reduction, rng):
    """1-D input with sample weights / per-row output also takes the SIMD form."""
    from fastloss._kernels import pointwise
    n = 9001
    x = rng.normal(0, 4, n).astype(dtype)
    y = rng.integers(0, 2, n).astype(dtype)
    w = rng.uniform(0, 2, n)
    w[::10] = 0.0
    loss = fl.BinaryCrossentropy(from_logits=True, pos_weight=1.5, reduction=reduction)
    v, g = loss.loss_gradient(y, x, w)
    gh, h = loss.gradient_hessian(y, x, w)
    per = ref_bce(0.0, 1.5, True)(y.astype(float), x.astype(float))
    np.testing.assert_allclose(v, reduce(per, w, reduction), rtol=1e-6 if dtype == np.float32
                               else 1e-12)
    for path in ("scalar", "baseline"):
        try:
            pointwise.set_simd_path(path)
            v2, g2 = loss.loss_gradient(y, x, w)
            _, h2 = loss.gradient_hessian(y, x, w)
        finally:
            pointwise.set_simd_path("auto")
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(v, v2, rtol=rtol)
        np.testing.assert_allclose(g, g2, rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(gh, g2, rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(h, h2, rtol=rtol, atol=1e-30)
    with fl.num_threads(1):
        v1, g1 = loss.loss_gradient(y, x, w)
    with fl.num_threads(2):
        v3, g3 = loss.loss_gradient(y, x, w)
    np.testing.assert_array_equal(v1, v3)
    np.testing.assert_array_equal(g1, g3)


# ------------------------------------------------ reliability: every SIMD path
from fastloss._kernels import pointwise as _pointwise  # noqa: E402

def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def assert_same_bits(loss, yt, yp, w):
    """SPEC §1 "one pass, same bits": loss_gradient() is (loss(), gradient())
    bit for bit, and gradient_hessian()[0] is gradient()."""
    v = loss.loss(yt, yp, w)
    v2, g2 = loss.loss_gradient(yt, yp, w)
    g = loss.gradient(yt, yp, w)
    assert _bits(v) == _bits(v2), (v, v2)
    assert _bits(g) == _bits(g2), np.max(np.abs(g.astype(float) - g2))
    # softmax losses define the hessian for logits only
    if hasattr(loss, "gradient_hessian") and (isinstance(loss, ElementwiseLossTypes)
                                              or loss.from_logits):
        gh, _ = loss.gradient_hessian(yt, yp, w)
        assert _bits(gh) == _bits(g), np.max(np.abs(g.astype(float) - gh))


ElementwiseLossTypes = (fl.BinaryCrossentropy, fl.BalancedCrossentropy,
                        fl.BinaryFocalCrossentropy, fl.Hinge, fl.SquaredHinge)

# name: (factory, kind of data); every loss of classification.py, both input kinds
SAME_BITS = {
    "bce": (lambda r: fl.BinaryCrossentropy(reduction=r), "prob"),
    "bce_logits": (lambda r: fl.BinaryCrossentropy(from_logits=True, label_smoothing=0.1,
                                                   pos_weight=1.7, reduction=r), "logit"),
    "balanced": (lambda r: fl.BalancedCrossentropy(0.3, reduction=r), "prob"),
    "balanced_logits": (lambda r: fl.BalancedCrossentropy(0.3, from_logits=True, reduction=r),
                        "logit"),
    "focal": (lambda r: fl.BinaryFocalCrossentropy(reduction=r), "prob"),
    "focal_logits": (lambda r: fl.BinaryFocalCrossentropy(from_logits=True, reduction=r),
                     "logit"),
    "focal_logits_g15": (lambda r: fl.BinaryFocalCrossentropy(gamma=1.5, from_logits=True,
                                                              reduction=r), "logit"),
    "hinge": (lambda r: fl.Hinge(reduction=r), "pm1"),
    "sq_hinge": (lambda r: fl.SquaredHinge(reduction=r), "pm1"),
    "cce": (lambda r: fl.CategoricalCrossentropy(reduction=r), "rows_prob"),
    "cce_logits": (lambda r: fl.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1,
                                                        reduction=r), "rows_logit"),
    "cfocal": (lambda r: fl.CategoricalFocalCrossentropy(reduction=r), "rows_prob"),
    "cfocal_logits": (lambda r: fl.CategoricalFocalCrossentropy(from_logits=True, reduction=r),
                      "rows_logit"),
    "cfocal_logits_g15": (lambda r: fl.CategoricalFocalCrossentropy(gamma=1.5, from_logits=True,
                                                                    reduction=r), "rows_logit"),
    "sce": (lambda r: fl.SparseCategoricalCrossentropy(reduction=r), "sparse_prob"),
    "sce_logits": (lambda r: fl.SparseCategoricalCrossentropy(from_logits=True, reduction=r),
                   "sparse_logit"),
    "sce_logits_cw": (lambda r: fl.SparseCategoricalCrossentropy(
        from_logits=True, class_weight=[1.0, 0.5, 2.0, 0.0, 1.0, 3.0, 1.0], ignore_index=2,
        reduction=r), "sparse_logit"),
    "mhinge": (lambda r: fl.MulticlassHinge(reduction=r), "sparse_real"),
}


def same_bits_data(rng, kind, shape, dtype):
    """(y_true, y_pred, rows) for a loss's kind of data in `shape`."""
    n = shape[0]
    if kind.startswith("sparse"):
        C = 7
        x = rng.normal(0, 3, (n, C)) if kind != "sparse_prob" else rng.uniform(0.01, 1, (n, C))
        return rng.integers(0, C, n), x.astype(dtype), n
    if kind.startswith("rows"):
        y = rng.dirichlet(np.ones(shape[-1]), shape[:-1] or None)
        y[..., 0] = 0.0                          # a zero target in every row
        x = rng.normal(0, 3, shape) if kind == "rows_logit" else rng.uniform(0.01, 1, shape)
        return y.astype(dtype), x.astype(dtype), (n if len(shape) == 2 else 1)
    if kind == "pm1":
        y = rng.choice([-1.0, 1.0], shape)
        x = rng.normal(0, 1.5, shape)
    else:
        y = rng.uniform(0, 1, shape)
        y.reshape(-1)[::5] = 1.0
        x = rng.normal(0, 4, shape) if kind == "logit" else rng.uniform(0, 1, shape)
        if kind == "logit":
            x.reshape(-1)[::97] = 35.0           # large logits on both sides
            x.reshape(-1)[1::97] = -35.0
    return y.astype(dtype), x.astype(dtype), n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(SAME_BITS))
def test_one_pass_same_bits(name, dtype, simd_path, rng):
    """Every mode computes each value and derivative with the same arithmetic,
    for every reduction, layout (1-D and 2-D, several blocks, vector tails),
    dtype, weighting and SIMD path.  (Before: gradient() with
    reduction="none" ran the vector blocks on 2-D input where
    loss_gradient() ran the scalar closed forms; sparse CE's
    gradient_hessian() scaled e_j in float64 where gradient() did it in
    float32; categorical focal loss() used libm exp where the other modes
    used the vector exp.)"""
    factory, kind = SAME_BITS[name]
    shapes = [(5003, 7), (613, 3)] if kind.startswith("sparse") else [(5003,), (1531, 3)]
    if kind.startswith("rows"):
        shapes = [(37,), (701, 9)]
    for shape in shapes:
        yt, yp, n_rows = same_bits_data(rng, kind, shape, dtype)
        for reduction in ("mean", "sum", "none"):
            loss = factory(reduction)
            for w in (None, rng.uniform(0, 2, n_rows)):
                assert_same_bits(loss, yt, yp, w)


# --------------------------------------- NaN and infinite logits (SPEC §1)
@pytest.mark.parametrize("gamma", [2.0, 1.5, 0.5])
def test_categorical_focal_logits_nan_propagates(gamma, simd_path):
    """A NaN logit makes its row's loss and gradient NaN (the reduced loss
    too), identically on every thread count, with no exception swallowed in
    the kernel.  (Was: Cython's complex power inside the noexcept kernel
    raised TypeError, which was swallowed, and the loss came back finite and
    thread-count dependent; a NaN row with zero targets still gives 0.)"""
    loss = fl.CategoricalFocalCrossentropy(gamma=gamma, from_logits=True)
    v, g = loss.loss_gradient([[0, 1, 0]], [[0.5, np.nan, 0.1]])
    assert np.isnan(v) and np.isnan(g).all()
    v, g = loss.loss_gradient([[0, 0, 0]], [[0.5, np.nan, 0.1]])
    assert np.isnan(v) and np.isnan(g).all()
    rng = np.random.default_rng(7)
    n, C = 20000, 10
    x = rng.normal(0, 2, (n, C))
    x[::7, 3] = np.nan
    y = np.eye(C)[rng.integers(0, C, n)]
    bad = np.zeros(n, bool)
    bad[::7] = True
    for dtype in (np.float32, np.float64):
        per_thread = []
        for k in (1, 2):
            with fl.num_threads(k):
                v, g = loss.loss_gradient(y.astype(dtype), x.astype(dtype))
                rows = fl.CategoricalFocalCrossentropy(gamma=gamma, from_logits=True,
                                                       reduction="none")(y, x.astype(dtype))
            assert np.isnan(v)
            assert np.isnan(g[bad]).all() and np.isfinite(g[~bad]).all()
            assert np.isnan(rows[bad]).all() and np.isfinite(rows[~bad]).all()
            per_thread.append((g, rows))
        np.testing.assert_array_equal(per_thread[0][0], per_thread[1][0])
        np.testing.assert_array_equal(per_thread[0][1], per_thread[1][1])


def test_categorical_focal_uses_no_complex_power():
    """The kernels use C pow() (or products for integer exponents), never
    Cython's `**` on doubles: its complex-power fallback raised inside
    noexcept nogil functions, where the exception was lost."""
    import pathlib
    import re
    src = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastloss" / "_kernels"
    if not src.is_dir():
        pytest.skip("kernel sources not available (installed wheel)")
    names = sorted(p.name for p in src.iterdir() if p.name.endswith((".pyx", ".pyx.tp", ".pxd")))
    assert "rows.pyx.tp" in names and "pointwise.pyx.tp" in names
    for name in names:
        code = re.sub(r'"""(.|\n)*?"""', "", (src / name).read_text())
        code = "\n".join(re.sub(r'"[^"]*"', "", line.split("#")[0])
                         for line in code.splitlines())
        assert "**" not in code, f"{name} uses ** (use pow() / fl_pow_gamma)"


def _masked_binary_data(rng, n, dtype):
    """Logits with -inf where y = 0 and +inf where y = 1: each masks the class
    the target gives no weight (probability exactly 0 for it)."""
    x = rng.normal(0, 3, n)
    y = rng.integers(0, 2, n).astype(float)
    mask = np.zeros(n, bool)
    mask[5::11] = True
    x[mask] = np.where(y[mask] == 0, -np.inf, np.inf)
    return y.astype(dtype), x.astype(dtype), mask


BINARY_LOGIT_LOSSES = {
    "bce": (lambda **k: fl.BinaryCrossentropy(from_logits=True, pos_weight=1.5, **k),
            ref_bce(0.0, 1.5, True)),
    "balanced": (lambda **k: fl.BalancedCrossentropy(0.3, from_logits=True, **k),
                 ref_balanced(0.3, True)),
    "focal": (lambda **k: fl.BinaryFocalCrossentropy(from_logits=True, **k),
              ref_focal(2.0, 0.25, True)),
    "focal_g15": (lambda **k: fl.BinaryFocalCrossentropy(gamma=1.5, alpha=None,
                                                         from_logits=True, **k),
                  ref_focal(1.5, None, True)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY_LOGIT_LOSSES))
def test_binary_logits_infinite_mask(name, dtype, simd_path, rng):
    """SPEC §1 Infinities: a logit of -inf (+inf) is a probability of exactly
    0 (1).  Where the target gives the masked class no weight, the loss and
    gradient stay finite (the element adds 0 and has gradient 0); where it
    does (y = 1 at -inf, or label smoothing), the loss is +inf and every
    reduction says +inf; the gradient stays finite.  (Was: 0 * inf = NaN.)"""
    make, ref = BINARY_LOGIT_LOSSES[name]
    for shape in [(8209,), (1031, 3)]:
        n = int(np.prod(shape))
        y, x, mask = _masked_binary_data(rng, n, dtype)
        y, x, mask = y.reshape(shape), x.reshape(shape), mask.reshape(shape)
        rows = shape[0]
        for w in (None, rng.uniform(0.5, 2, rows)):
            v, g = make(reduction="sum").loss_gradient(y, x, w)
            gh, h = make(reduction="sum").gradient_hessian(y, x, w)
            per = np.where(mask, 0.0, ref(y.astype(float), np.where(mask, 0.0, x.astype(float))))
            per = per.reshape(rows, -1).mean(axis=1)
            expect = np.sum(per * (1.0 if w is None else w))
            assert np.isfinite(v) and v == pytest.approx(expect, rel=1e-5)
            assert np.isfinite(g).all() and np.isfinite(h).all()
            assert np.all(g[mask] == 0) and np.all(h[mask] == 0)
            # the unmasked elements' gradient is what it is without the mask
            g_free = make(reduction="sum").gradient(y, np.where(mask, 0, x).astype(dtype), w)
            np.testing.assert_array_equal(g[~mask], g_free[~mask])
        # the masked class carries weight: +inf for every reduction, finite gradient
        y2 = y.copy()
        hit = np.argwhere(mask.reshape(-1) & (x.reshape(-1) == -np.inf))[0, 0]
        y2.reshape(-1)[hit] = 1
        for reduction in ("sum", "mean"):
            v, g = make(reduction=reduction).loss_gradient(y2, x)
            assert v == np.inf
            assert np.isfinite(g).all()
        r = make(reduction="none")(y2, x)
        assert r[hit // (n // rows)] == np.inf and np.isfinite(np.delete(r, hit // (n // rows))).all()
        # ... unless the sample has weight 0
        w0 = np.ones(rows)
        w0[hit // (n // rows)] = 0.0
        for reduction in ("sum", "mean", "none"):
            v, g = make(reduction=reduction).loss_gradient(y2, x, w0)
            assert np.isfinite(v).all() and np.isfinite(g).all()


def test_bce_logits_label_smoothing_masked_is_inf(simd_path):
    """Label smoothing gives both classes weight, so either infinite logit
    masks a weighted class: +inf."""
    x = np.zeros(100)
    x[40] = -np.inf
    for dtype in (np.float32, np.float64):
        loss = fl.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum")
        v, g = loss.loss_gradient(np.zeros(100, dtype), x.astype(dtype))
        assert v == np.inf and np.isfinite(g).all()
        v = loss(np.ones(100, dtype), -x.astype(dtype))
        assert v == np.inf


def _shifted(x):
    """-inf logits replaced by a finite logit 1000 below the row's minimum:
    its exp underflows to exactly 0, the same probability as -inf."""
    fin = np.where(np.isfinite(x), x, np.inf).min(axis=1, keepdims=True)
    return np.where(np.isneginf(x), fin - 1000.0, x)


CATEGORICAL_LOGIT_LOSSES = {
    "cce": (lambda **k: fl.CategoricalCrossentropy(from_logits=True, **k),
            lambda y, x: ref_cce(y, x, True)),
    "cce_smooth_cw0": (lambda **k: fl.CategoricalCrossentropy(
        from_logits=True, label_smoothing=0.1, class_weight=[1, 1, 0, 1, 1, 1, 0, 1, 1], **k),
        lambda y, x: ref_cce(y, x, True, 0.1, np.array([1, 1, 0, 1, 1, 1, 0, 1, 1.0]))),
    "cfocal": (lambda **k: fl.CategoricalFocalCrossentropy(from_logits=True, **k),
               lambda y, x: ref_cfocal(y, x, True, 2.0, 0.25)),
    "cfocal_g15": (lambda **k: fl.CategoricalFocalCrossentropy(gamma=1.5, from_logits=True, **k),
                   lambda y, x: ref_cfocal(y, x, True, 1.5, 0.25)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CATEGORICAL_LOGIT_LOSSES))
def test_softmax_logits_minus_inf_masks_a_class(name, dtype, simd_path, rng):
    """A -inf logit is a class of probability 0: finite loss and gradient
    where no target weight is on it, +inf (every reduction) where there is;
    a row of only -inf logits is all masked (never NaN)."""
    make, ref = CATEGORICAL_LOGIT_LOSSES[name]
    n, C = 3001, 9
    x = rng.normal(0, 2, (n, C))
    lab = rng.integers(0, C, n)
    lab = np.where(lab == 2, 3, lab)
    y = np.eye(C)[lab]
    x[:, 2] = -np.inf                            # class 2 masked everywhere, y = 0 there
    x[::5, 6] = np.where(lab[::5] == 6, 0.5, -np.inf)
    xs = _shifted(x)
    for reduction in ("sum", "mean"):
        v, g = make(reduction=reduction).loss_gradient(y.astype(dtype), x.astype(dtype))
        expect = ref(y, xs).sum() / (1 if reduction == "sum" else n)
        assert np.isfinite(v) and v == pytest.approx(expect, rel=1e-5)
        assert np.isfinite(g).all()
        g_shift = make(reduction=reduction).gradient(y.astype(dtype), xs.astype(dtype))
        np.testing.assert_allclose(g, g_shift, rtol=1e-5, atol=1e-12)
        assert np.all(g[:, 2] == 0)
    # label smoothing without a zero class weight puts weight on class 2
    smoothed = fl.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    assert smoothed(y.astype(dtype), x.astype(dtype)) == np.inf
    # a weighted class masked in one row: +inf for every reduction
    y2, x2 = y.copy(), x.copy()
    x2[10, 4] = -np.inf
    y2[10] = 0.0
    y2[10, 4] = 1.0
    x = x2
    for reduction in ("sum", "mean", "none"):
        v, g = make(reduction=reduction).loss_gradient(y2.astype(dtype), x.astype(dtype))
        assert np.isfinite(g).all()
        if reduction == "none":
            assert v[10] == np.inf and np.isfinite(np.delete(v, 10)).all()
        else:
            assert v == np.inf
    w = np.ones(n)
    w[10] = 0.0
    v, g = make(reduction="mean").loss_gradient(y2.astype(dtype), x.astype(dtype), w)
    assert np.isfinite(v) and np.isfinite(g).all()
    # every class masked
    xm = np.full((2, C), -np.inf, dtype)
    ym = np.zeros((2, C), dtype)
    ym[0, 1] = 1.0
    v, g = make(reduction="none").loss_gradient(ym, xm)
    smooth = name == "cce_smooth_cw0"            # smoothing weighs every class of row 1
    assert v[0] == np.inf and v[1] == (np.inf if smooth else 0.0)
    assert np.isfinite(g).all() and g[0, 1] < 0
    assert smooth or np.all(np.delete(g, 1, axis=1) == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_logits_minus_inf_masks_a_class(dtype, simd_path, rng):
    n, C = 3001, 9
    x = rng.normal(0, 2, (n, C))
    lab = rng.integers(0, C, n)
    x[np.arange(n), (lab + 1) % C] = -np.inf      # a wrong class masked in every row
    loss = fl.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    v, g = loss.loss_gradient(lab, x.astype(dtype))
    gh, h = fl.SparseCategoricalCrossentropy(from_logits=True).gradient_hessian(
        lab, x.astype(dtype))
    assert np.isfinite(v) and v == pytest.approx(ref_sparse(lab, _shifted(x), True).sum(),
                                                 rel=1e-5)
    assert np.isfinite(g).all() and np.isfinite(gh).all() and np.isfinite(h).all()
    # the label's class masked: +inf, unless its class weight (or the
    # sample weight) is 0 or the row is ignored
    x[7, lab[7]] = -np.inf
    for reduction in ("sum", "mean", "none"):
        v, g = fl.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction
                                                ).loss_gradient(lab, x.astype(dtype))
        assert np.isfinite(g).all()
        assert (v[7] if reduction == "none" else v) == np.inf
    cw = np.ones(C)
    cw[lab[7]] = 0.0
    w = np.ones(n)
    w[7] = 0.0
    for kw, sw in [({"class_weight": cw}, None), ({}, w), ({"ignore_index": -5}, None)]:
        lab2 = lab.copy()
        if "ignore_index" in kw:
            lab2[7] = -5
        for reduction in ("sum", "mean", "none"):
            v, g = fl.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction, **kw
                                                    ).loss_gradient(lab2, x.astype(dtype), sw)
            assert np.isfinite(v).all() and np.isfinite(g).all()
    xm = np.full((1, C), -np.inf, dtype)
    v, g = fl.SparseCategoricalCrossentropy(from_logits=True).loss_gradient([3], xm)
    assert v == np.inf and np.isfinite(g).all()


# ------------------------------------- no alignment beyond the element size
_ALIGN_HARNESS = r"""
#include "fl_simd.h"
#include <stdio.h>
#include <string.h>

enum { N = 77 };
/* 64-byte aligned storage; views start one element in, so a float view is
 * 4-byte aligned only (not 8, 16 or 32) and a double view 8-byte only. */
static _Alignas(64) double st[16][N + 8];

#define F(k) ((float*)st[k] + 1)
#define D(k) (st[k] + 1)

static double run_f(float* y, float* x, float* g, float* h, float* r) {
    double s = 0.0; float m = fl_simd.max_f(x, N);
    s += m + fl_simd.expsum_f(x, N, m, g) + fl_simd.any_nan_f(x, N);
    fl_simd.exp_array_f(g, N, h);
    if (fl_simd.wbce_logit_f) s += fl_simd.wbce_logit_f(y, x, NULL, N, 1.5, 1.0, 0.1, 1.0, g, h, r);
    if (fl_simd.focal2_f) s += fl_simd.focal2_f(y, x, NULL, N, 0.25, 0.75, 0.0, 1.0, g, h, r);
    if (fl_simd.kl_log_f) s += fl_simd.kl_log_f(y, x, N, 1.0, g);
    if (fl_simd.hell_f) s += fl_simd.hell_f(y, y, N, 1e-7, 1.0, g);
    for (int k = 0; k < FL_PW_COUNT; k++) if (fl_simd.pw_f[k]) s += fl_simd.pw_f[k](y, x, NULL, N, 1.0, g, h, r);
    s += fl_hinge_labels_f(y, N);
    for (int i = 0; i < N; i++) s += (double)g[i] + (double)h[i] + (double)r[i];
    return s;
}
static double run_d(double* y, double* x, double* g, double* h, double* r) {
    double s = 0.0, m = fl_simd.max_d(x, N);
    s += m + fl_simd.expsum_d(x, N, m, g) + fl_simd.any_nan_d(x, N);
    fl_simd.exp_array_d(g, N, h);
    if (fl_simd.wbce_logit_d) s += fl_simd.wbce_logit_d(y, x, NULL, N, 1.5, 1.0, 0.1, 1.0, g, h, r);
    if (fl_simd.focal2_d) s += fl_simd.focal2_d(y, x, NULL, N, 0.25, 0.75, 0.0, 1.0, g, h, r);
    if (fl_simd.kl_log_d) s += fl_simd.kl_log_d(y, x, N, 1.0, g);
    if (fl_simd.hell_d) s += fl_simd.hell_d(y, y, N, 1e-7, 1.0, g);
    if (fl_simd.log_array_d) fl_simd.log_array_d(y, N, h);
    for (int k = 0; k < FL_PW_COUNT; k++) if (fl_simd.pw_d[k]) s += fl_simd.pw_d[k](y, x, NULL, N, 1.0, g, h, r);
    s += fl_hinge_labels_d(y, N);
    for (int i = 0; i < N; i++) s += g[i] + h[i] + r[i];
    return s;
}

int main(void) {
    for (int mode = 0; mode < 3; mode++) {
        fl_simd_init(mode);
        for (int i = 0; i < N; i++) {
            F(0)[i] = (float)((i * 7) % 3 == 0);  F(1)[i] = (float)(i - 38) / 7.0f;
            D(2)[i] = (double)((i * 7) % 3 == 0); D(3)[i] = (double)(i - 38) / 7.0;
        }
        double a = run_f(F(0), F(1), F(4), F(5), F(6));
        double b = run_d(D(2), D(3), D(7), D(8), D(9));
        /* the same data at 32-byte aligned addresses must give the same bits */
        float yf[N + 8] __attribute__((aligned(32))), xf[N + 8] __attribute__((aligned(32)));
        float gf[N + 8] __attribute__((aligned(32))), hf[N + 8] __attribute__((aligned(32)));
        float rf[N + 8] __attribute__((aligned(32)));
        memcpy(yf, F(0), N * sizeof(float)); memcpy(xf, F(1), N * sizeof(float));
        double a2 = run_f(yf, xf, gf, hf, rf);
        if (memcmp(&a, &a2, sizeof a) != 0) { printf("mode %d: float results differ\n", mode); return 2; }
        printf("%d %.17g %.17g\n", mode, a, b);
    }
    return 0;
}
"""


def test_simd_kernels_need_only_element_alignment(tmp_path):
    """fl_simd.h reads and writes float32 / float64 arrays aligned to their
    element size only (a float32 array is 4-byte aligned): every vector entry
    point on every path runs under UBSan's alignment check with arrays 4 (8)
    bytes off a 16/32-byte boundary, and gives the bits it gives aligned.
    (Was: the SSE2 path read two floats through a double*.)"""
    import pathlib
    import shutil
    import subprocess
    inc = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastloss" / "_kernels"
    cc = shutil.which("gcc") or shutil.which("cc")
    if not (inc / "fl_simd.h").is_file() or cc is None:
        pytest.skip("needs the kernel headers and a C compiler")
    src = tmp_path / "align.c"
    src.write_text(_ALIGN_HARNESS)
    exe = tmp_path / "align"
    flags = ["-O2", "-fsanitize=alignment,undefined", "-fno-sanitize-recover=all"]
    built = subprocess.run([cc, *flags, f"-I{inc}", str(src), "-o", str(exe), "-lm"],
                           capture_output=True, text=True)
    if built.returncode != 0:
        probe = tmp_path / "probe.c"
        probe.write_text("int main(void) { return 0; }\n")
        if subprocess.run([cc, *flags, str(probe), "-o", str(tmp_path / "probe")],
                          capture_output=True).returncode != 0:
            pytest.skip("the C compiler has no UBSan")
        pytest.fail(built.stderr)
    ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "runtime error" not in ran.stderr, ran.stderr
    assert len(ran.stdout.splitlines()) == 3


# ------------------------------------------------ the row kernel's records
def _raw_rows_call(kind, params, n=4, C=3):
    """One direct call of the row kernel (what _rowwise.run_rows does)."""
    x = np.linspace(-1.0, 1.0, n * C)
    y = np.full(n * C, 1.0 / C)
    labels = np.arange(n, dtype=np.int64) % C
    return _rows.rows(_rows.KINDS.index(kind), params, y, labels, x, None, n, C, 1, 0, 1.0,
                      None, None, None, np.empty(_rows.n_blocks(n, C)), 1)


def test_row_kernel_rejects_unknown_and_missing_parameters():
    # The old kernel read params.get("eps", 1e-7), .get("alpha", 1.0), ...: a
    # misspelt or forgotten key silently ran with a default.
    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    ref = np.sum(np.log(np.exp(x).sum(1)) - x[np.arange(4), np.arange(4) % 3])
    assert _raw_rows_call("sce_logit", {}) == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ValueError, match="missing.*eps"):
        _raw_rows_call("sce_prob", {})
    with pytest.raises(ValueError, match="unknown.*eps"):
        _raw_rows_call("sce_logit", {"eps": 1e-7})
    with pytest.raises(ValueError, match="missing.*class_weight"):
        _raw_rows_call("cce_logit", {"smooth": 0.0, "eps": 1e-7})
    with pytest.raises(ValueError, match="unknown.*gama.*missing.*gamma"):
        _raw_rows_call("cfocal_logit", {"gama": 2.0, "alpha": 1.0, "eps": 1e-7})
    with pytest.raises(ValueError, match="unknown.*eps"):
        _raw_rows_call("cosine", {"eps": 1e-7})
    with pytest.raises(ValueError, match="smooth"):
        _raw_rows_call("cce_prob", {"smooth": 1.5, "eps": 1e-7, "class_weight": None})
    with pytest.raises(ValueError, match="class_weight has 2 entries"):
        _raw_rows_call("cce_prob", {"smooth": 0.0, "eps": 1e-7, "class_weight": [1.0, 2.0]})
    with pytest.raises(ValueError, match="alpha"):
        _raw_rows_call("cfocal_prob", {"gamma": 2.0, "alpha": [0.5, 0.5], "eps": 1e-7})
    with pytest.raises(ValueError, match="gamma"):
        _raw_rows_call("cfocal_prob", {"gamma": -1.0, "alpha": 1.0, "eps": 1e-7})
    with pytest.raises(ValueError, match="unknown row kind"):
        _rows.check("nope", {})


def test_every_row_kind_has_a_record_and_every_class_passes_exactly_it(rng):
    assert set(_rows.PARAMS) == set(_rows.KINDS)
    assert set(_rows.SPARSE) == {"sce_logit", "sce_prob", "multiclass_hinge",
                                 "sce_smooth_logit", "sce_smooth_prob"}
    # each class's call reaches the kernel with its kind's exact record (the
    # kernel raises otherwise), on both forms where it has two
    x = rng.normal(size=(5, 4))
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    labels = rng.integers(0, 4, 5)
    for loss in (fl.CategoricalCrossentropy(), fl.CategoricalCrossentropy(from_logits=True),
                 fl.CategoricalFocalCrossentropy(), fl.CategoricalFocalCrossentropy(from_logits=True),
                 fl.KLDivergence(), fl.KLDivergence(log_input=True), fl.CosineSimilarityLoss(),
                 fl.HellingerDistance()):
        assert np.isfinite(loss(p, p if not getattr(loss, "from_logits", False) else x))
    for loss in (fl.SparseCategoricalCrossentropy(), fl.SparseCategoricalCrossentropy(from_logits=True),
                 fl.SparseCategoricalCrossentropy(label_smoothing=0.1),
                 fl.SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                 fl.MulticlassHinge()):
        assert np.isfinite(loss(labels, p))
