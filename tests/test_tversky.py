"""TverskyLoss, and label maps / from_logits / ignore_index for Jaccard, F1
and Tversky (SPEC §4.3).

References written here: float64 NumPy sums, per-class losses and their
analytic gradients; a NumPy softmax and its Jacobian for from_logits;
central finite differences; a torch restatement of
segmentation_models_pytorch's TverskyLoss / DiceLoss (smp itself does not
import beside torch 2.13 here: it needs tqdm, timm, huggingface_hub).  The
label-map calls are compared with the dense one-hot calls to 1e-12.
"""
import numpy as np
import pytest

import fastloss as fl
from conftest import central_gradient

REDS = [r for r in ("mean", "sum", "none", "sum_over_batch_size")
        if r in fl._validate.REDUCTIONS]
OVERLAPS = {"jaccard": fl.JaccardLoss, "f1": fl.F1Loss, "tversky": fl.TverskyLoss}


# ----------------------------------------------------------------- references
def softmax(z, axis):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_chain(p, g, axis):
    """d/dz of a function whose gradient w.r.t. p = softmax(z) is g."""
    return p * (g - (g * p).sum(axis=axis, keepdims=True))


def one_hot(labels, C, axis, ignore=None):
    """Dense float64 one-hot of a label map, classes on `axis`; ignored
    positions are all zero."""
    lab = np.asarray(labels)
    valid = np.ones(lab.shape, bool) if ignore is None else lab != ignore
    oh = np.eye(C)[np.where(valid, lab, 0)] * valid[..., None]
    return np.moveaxis(oh, -1, axis % (lab.ndim + 1))


def class_terms(kind, y, p, k=None, w=None, smooth=1e-10, alpha=0.5, beta=0.5):
    """(u_c, du): the per-class losses and, per element, the derivative of
    its own class's loss with respect to it (float64)."""
    y = np.asarray(y, np.float64)
    p = np.asarray(p, np.float64)
    ww = np.ones(y.shape[0]) if w is None else np.asarray(w, np.float64)
    wb = ww.reshape((-1,) + (1,) * (y.ndim - 1)) * np.ones_like(y)
    if k is None:
        yc, pc, wc = y.reshape(1, -1), p.reshape(1, -1), wb.reshape(1, -1)
        moved = (1,) + y.shape
    else:
        yc = np.moveaxis(y, k, 0).reshape(y.shape[k], -1)
        pc = np.moveaxis(p, k, 0).reshape(y.shape[k], -1)
        wc = np.moveaxis(wb, k, 0).reshape(y.shape[k], -1)
        moved = np.moveaxis(y, k, 0).shape
    syp = (wc * yc * pc).sum(1)[:, None]
    s = smooth
    if kind == "jaccard":
        N = syp + s
        D = (wc * yc * yc).sum(1)[:, None] + (wc * pc * pc).sum(1)[:, None] - syp + s
        dN, dD = wc * yc, wc * (2 * pc - yc)
    elif kind == "f1":
        N = 2 * syp + s
        D = (wc * yc).sum(1)[:, None] + (wc * pc).sum(1)[:, None] + s
        dN, dD = 2 * wc * yc, wc
    else:
        s1 = (wc * yc).sum(1)[:, None]
        s2 = (wc * pc).sum(1)[:, None]
        N = syp + s
        D = syp + alpha * (s2 - syp) + beta * (s1 - syp) + s
        dN, dD = wc * yc, wc * ((1 - alpha - beta) * yc + alpha)
    u = (1 - N / D)[:, 0]
    du = -(dN * D - N * dD) / D ** 2
    if k is None:
        du = du.reshape(y.shape)
    else:
        du = np.moveaxis(du.reshape(moved), 0, k)
    return u, du


def reference(kind, y, p, k=None, w=None, reduction="mean", gamma=1.0, **kw):
    """(value, gradient) of the reduced loss: the units are the classes;
    gamma acts on the reduced value ("none": on each class's loss)."""
    u, du = class_terms(kind, y, p, k, w, **kw)
    C = u.size
    if reduction == "none":
        value = u ** gamma
        factor = gamma * u ** (gamma - 1)
    else:
        R = u.sum() / (1 if reduction == "sum" else C)
        value = R ** gamma
        factor = np.full(C, gamma * R ** (gamma - 1) / (1 if reduction == "sum" else C))
    shape = [1] * np.ndim(p)
    if k is None:
        return value, du * factor[0]
    shape[k] = C
    return value, du * factor.reshape(shape)


def assert_close(got, want, tol):
    value, grad = got
    wv, wg = want
    if isinstance(wv, np.ndarray):
        np.testing.assert_allclose(value, wv, rtol=tol, atol=tol * 1e-3)
    else:
        assert value == pytest.approx(wv, rel=tol, abs=tol * 1e-3)
    scale = max(np.abs(wg).max(), 1e-300)
    np.testing.assert_allclose(grad, wg, rtol=tol, atol=tol * scale)


def _forms(loss, fn, params):
    """Every public way to evaluate one loss: name -> f(y, p, w) raising or
    returning something."""
    return {
        "call": lambda y, p, w=None: loss(y, p, w),
        "loss": lambda y, p, w=None: loss.loss(y, p, w),
        "gradient": lambda y, p, w=None: loss.gradient(y, p, w),
        "loss_gradient": lambda y, p, w=None: loss.loss_gradient(y, p, w),
        "function": lambda y, p, w=None: fn(y, p, w, **params),
    }


FUNCS = {fl.JaccardLoss: fl.jaccard_loss, fl.F1Loss: fl.f1_loss, fl.TverskyLoss: fl.tversky_loss}


# ------------------------------------------------------------- Tversky itself
TV_PARAMS = [dict(alpha=0.5, beta=0.5, gamma=1.0), dict(alpha=0.3, beta=0.7, gamma=1.0),
             dict(alpha=0.7, beta=0.2, gamma=2.0), dict(alpha=0.1, beta=0.9, gamma=0.75),
             dict(alpha=1.0, beta=0.0, gamma=1.5), dict(alpha=0.0, beta=0.0, gamma=1.0)]


@pytest.mark.parametrize("params", TV_PARAMS, ids=lambda d: "a{alpha}-b{beta}-g{gamma}".format(**d))
@pytest.mark.parametrize("class_axis", [None, 0, 1, -1])
@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tversky_matches_reference(params, class_axis, reduction, weighted, dtype):
    rng = np.random.default_rng(1)
    y = (rng.random((4, 3, 5)) > 0.5).astype(dtype)
    y[0, 0, 0] = 0.25                                 # a soft target too
    p = rng.random((4, 3, 5)).astype(dtype)
    w = rng.random(4) + 0.1 if weighted else None
    want = reference("tversky", y, p, class_axis, w, reduction, **params)
    loss = fl.TverskyLoss(class_axis=class_axis, reduction=reduction, **params)
    got = loss.loss_gradient(y, p, sample_weight=w)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert got[1].dtype == dtype
    if reduction == "none":
        assert got[0].shape == ((1,) if class_axis is None else (y.shape[class_axis],))
    assert_close(got, want, tol)
    # one pass, same bits; the function form gives the same value
    v = loss(y, p, sample_weight=w)
    np.testing.assert_array_equal(v, got[0])
    np.testing.assert_array_equal(loss.gradient(y, p, sample_weight=w), got[1])
    np.testing.assert_array_equal(
        fl.tversky_loss(y, p, w, class_axis=class_axis, reduction=reduction, **params), v)


@pytest.mark.parametrize("class_axis", [None, 1])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_tversky_half_half_is_f1(class_axis, reduction):
    """α = β = 0.5, γ = 1 is F1 exactly when smooth = 0; with smooth > 0 the
    two differ only through the smoothing term (F1 adds s to 2N, 2D)."""
    rng = np.random.default_rng(2)
    y = (rng.random((6, 4, 3)) > 0.6).astype(np.float64)
    p = rng.random((6, 4, 3))
    w = rng.random(6)
    tv = fl.TverskyLoss(smooth=0.0, class_axis=class_axis, reduction=reduction)
    f1 = fl.F1Loss(smooth=0.0, class_axis=class_axis, reduction=reduction)
    a, b = tv.loss_gradient(y, p, w), f1.loss_gradient(y, p, w)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-13)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-15)
    s = 0.5
    tv = fl.TverskyLoss(smooth=s, class_axis=class_axis, reduction=reduction)
    f1 = fl.F1Loss(smooth=2 * s, class_axis=class_axis, reduction=reduction)
    np.testing.assert_allclose(tv(y, p, w), f1(y, p, w), rtol=1e-13)
    # the same smooth: not equal
    assert not np.allclose(fl.TverskyLoss(smooth=s)(y, p, w), fl.F1Loss(smooth=s)(y, p, w),
                           rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.75, 1.0, 2.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_tversky_finite_differences(gamma, reduction):
    rng = np.random.default_rng(3)
    y = rng.random((5, 3, 2))
    p = rng.random((5, 3, 2))
    w = rng.random(5) + 0.2
    loss = fl.TverskyLoss(alpha=0.3, beta=0.6, gamma=gamma, smooth=1e-3, class_axis=1,
                          reduction=reduction)

    def total(x):
        return float(np.sum(loss(y, x, sample_weight=w)))
    num = central_gradient(total, p)
    np.testing.assert_allclose(loss.gradient(y, p, sample_weight=w), num, rtol=1e-6, atol=1e-8)


def test_tversky_gamma_edges():
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    # a perfect prediction: loss 0; γ < 1 has an infinite slope at 0, taken as 0
    v, g = fl.TverskyLoss(gamma=0.5, smooth=0.0).loss_gradient(y, y)
    assert v == 0.0 and np.all(g == 0.0)
    # γ = 0: the constant 1, gradient 0
    p = np.array([[0.3, 0.6], [0.2, 0.9]])
    v, g = fl.TverskyLoss(gamma=0.0, class_axis=1).loss_gradient(y, p)
    assert v == 1.0 and np.all(g == 0.0)
    # α weighs false positives, β false negatives
    fp_heavy = np.array([[1.0, 1.0], [1.0, 1.0]])          # only false positives
    assert fl.tversky_loss(y, fp_heavy, alpha=0.0, beta=1.0) == pytest.approx(0.0, abs=1e-9)
    assert fl.tversky_loss(y, fp_heavy, alpha=1.0, beta=0.0) == pytest.approx(0.5)


def test_tversky_empty_masks():
    y = np.zeros((3, 4))
    assert fl.tversky_loss(y, y) == 0.0
    v, g = fl.TverskyLoss(class_axis=1, gamma=2.0).loss_gradient(y, y)
    assert v == 0.0 and np.all(np.isfinite(g))


def test_tversky_registry_and_repr():
    loss = fl.get("tversky_loss", alpha=0.2, beta=0.8, gamma=1.5, class_axis=1)
    assert isinstance(loss, fl.TverskyLoss)
    assert isinstance(fl.get("TverskyLoss"), fl.TverskyLoss)
    assert loss.get_params()["beta"] == 0.8
    assert "TverskyLoss(" in repr(loss)


# ---------------------------------------------------------------- smp, restated
def smp_tversky(torch, logits, labels, alpha=0.5, beta=0.5, gamma=1.0, smooth=0.0,
                eps=1e-7, ignore_index=None):
    """segmentation_models_pytorch TverskyLoss(mode="multiclass",
    from_logits=True) as published (v0.5): log_softmax().exp(), the one-hot
    of the (masked) labels, sums over dims (0, 2), the intersection from the
    L1 difference, clamp_min(eps) of the denominator, the loss of a class
    absent from y_true zeroed, then mean ** gamma.  DiceLoss is this with
    α = β = 0.5, γ = 1 (soft_dice_score: 2·inter / card, the same number)."""
    F = torch.nn.functional
    bs, C = logits.shape[:2]
    y_pred = logits.log_softmax(dim=1).exp()
    y_true = labels.reshape(bs, -1)
    y_pred = y_pred.reshape(bs, C, -1)
    if ignore_index is not None:
        mask = y_true != ignore_index
        y_pred = y_pred * mask.unsqueeze(1)
        y_true = F.one_hot((y_true * mask).to(torch.long), C).permute(0, 2, 1) * mask.unsqueeze(1)
    else:
        y_true = F.one_hot(y_true, C).permute(0, 2, 1)
    y_true = y_true.type_as(y_pred)
    dims = (0, 2)
    output_sum = y_pred.sum(dim=dims)
    target_sum = y_true.sum(dim=dims)
    difference = torch.linalg.vector_norm(y_pred - y_true, ord=1, dim=dims)
    intersection = (output_sum + target_sum - difference) / 2
    fp = output_sum - intersection
    fn = target_sum - intersection
    score = (intersection + smooth) / (intersection + alpha * fp + beta * fn + smooth).clamp_min(eps)
    loss = (1.0 - score) * (y_true.sum(dims) > 0).to(score.dtype)
    return loss.mean() ** gamma


@pytest.mark.parametrize("params", [dict(alpha=0.5, beta=0.5, gamma=1.0),
                                    dict(alpha=0.3, beta=0.7, gamma=1.0),
                                    dict(alpha=0.7, beta=0.3, gamma=1.5),
                                    dict(alpha=0.2, beta=0.8, gamma=0.75)])
@pytest.mark.parametrize("ignore", [None, 255])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tversky_matches_smp(params, ignore, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    B, C, H, W = 2, 4, 5, 6
    z = (rng.normal(size=(B, C, H, W)) * 2).astype(dtype)
    lab = rng.integers(0, C, (B, H, W))
    lab[0, 0, :C] = np.arange(C)                      # every class present
    if ignore is not None:
        lab[1, 2:4] = ignore
    tz = torch.tensor(z, requires_grad=True)
    ref = smp_tversky(torch, tz, torch.tensor(lab), ignore_index=ignore, **params)
    ref.backward()
    loss = fl.TverskyLoss(class_axis=1, from_logits=True, smooth=0.0, ignore_index=ignore,
                          **params)
    v, g = loss.loss_gradient(lab, z)
    tol = 2e-5 if dtype == np.float32 else 1e-11
    assert v == pytest.approx(ref.item(), rel=tol)
    gt = tz.grad.numpy()
    np.testing.assert_allclose(g, gt, rtol=tol, atol=tol * np.abs(gt).max())
    if params["alpha"] == params["beta"] == 0.5 and params["gamma"] == 1.0:
        dice = fl.DiceLoss(class_axis=1, from_logits=True, smooth=0.0, ignore_index=ignore)
        vd, gd = dice.loss_gradient(lab, z)
        assert vd == pytest.approx(ref.item(), rel=tol)
        np.testing.assert_allclose(gd, gt, rtol=tol, atol=tol * np.abs(gt).max())


# ----------------------------------------------------------------- label maps
# (y_pred shape, class_axis): channel-first images, channel-last images,
# (P, C) rows, classes on axis 0, a long contiguous run of positions
LAYOUTS = [((2, 4, 5, 6), 1), ((2, 5, 6, 4), -1), ((30, 3), 1), ((3, 4, 5), 0),
           ((2, 3, 150), 1), ((3, 2, 4, 70), 2)]
KINDS = [("jaccard", {}), ("f1", {}), ("tversky", dict(alpha=0.3, beta=0.7, gamma=1.5))]


def _label_data(rng, shape, k, dtype=np.float64):
    k = k % len(shape)
    C = shape[k]
    lshape = shape[:k] + shape[k + 1:]
    lab = rng.integers(0, C, lshape)
    z = (rng.normal(size=shape) * 2).astype(dtype)
    return lab, z, C, k


@pytest.mark.parametrize("shape,k", LAYOUTS)
@pytest.mark.parametrize("kind,params", KINDS, ids=[k for k, _ in KINDS])
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_label_map_equals_dense_one_hot(shape, k, kind, params, from_logits, reduction,
                                        weighted):
    rng = np.random.default_rng(5)
    lab, z, C, kk = _label_data(rng, shape, k)
    x = z if from_logits else softmax(z, kk)
    oh = one_hot(lab, C, kk)
    w = rng.random(shape[0]) + 0.1 if weighted else None
    loss = OVERLAPS[kind](class_axis=k, from_logits=from_logits, reduction=reduction, **params)
    got = loss.loss_gradient(lab, x, sample_weight=w)
    dense = loss.loss_gradient(oh, x, sample_weight=w)
    np.testing.assert_allclose(got[0], dense[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[1], dense[1], rtol=1e-12,
                               atol=1e-12 * np.abs(dense[1]).max())
    # and both equal the float64 reference (through a NumPy softmax)
    p = softmax(z, kk) if from_logits else x
    rv, rg = reference(kind, oh, p, kk, w, reduction, **params)
    if from_logits:
        rg = softmax_chain(p, rg, kk)
    assert_close(got, (rv, rg), 1e-12)
    # loss / gradient / function form: the same bits
    np.testing.assert_array_equal(loss(lab, x, w), got[0])
    np.testing.assert_array_equal(loss.gradient(lab, x, w), got[1])
    np.testing.assert_array_equal(
        FUNCS[type(loss)](lab, x, w, class_axis=k, from_logits=from_logits,
                          reduction=reduction, **params), got[0])


@pytest.mark.parametrize("shape,k", [((2, 4, 5, 6), 1), ((2, 5, 6, 4), -1), ((3, 2, 4, 70), 2)])
@pytest.mark.parametrize("kind,params", KINDS, ids=[k for k, _ in KINDS])
def test_label_map_float32(shape, k, kind, params):
    rng = np.random.default_rng(6)
    lab, z, C, kk = _label_data(rng, shape, k, np.float32)
    loss = OVERLAPS[kind](class_axis=k, from_logits=True, **params)
    v, g = loss.loss_gradient(lab, z)
    assert g.dtype == np.float32
    p = softmax(z, kk)
    rv, rg = reference(kind, one_hot(lab, C, kk), p, kk, **params)
    assert v == pytest.approx(rv, rel=2e-5)
    np.testing.assert_allclose(g, softmax_chain(p, rg, kk), rtol=2e-4,
                               atol=2e-5 * np.abs(rg).max())


@pytest.mark.parametrize("kind,params", KINDS + [("tversky", dict(gamma=0.5))],
                         ids=["jaccard", "f1", "tversky", "tversky-g.5"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_from_logits_finite_differences(kind, params, reduction):
    """The gradient with respect to the logits (through the softmax)."""
    rng = np.random.default_rng(7)
    lab, z, C, kk = _label_data(rng, (2, 3, 2, 3), 1)
    lab[0, 0, 0] = 9
    w = np.array([0.7, 1.3])
    loss = OVERLAPS[kind](class_axis=1, from_logits=True, ignore_index=9, smooth=1e-3,
                          reduction=reduction, **params)

    def total(x):
        return float(np.sum(loss(lab, x, sample_weight=w)))
    num = central_gradient(total, z)
    g = loss.gradient(lab, z, sample_weight=w)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)
    assert np.all(g[0, :, 0, 0] == 0.0)                # the ignored position
    # dense targets with from_logits: the same softmax path
    dense = OVERLAPS[kind](class_axis=1, from_logits=True, smooth=1e-3, reduction=reduction,
                           **params)
    y = one_hot(lab, C, 1, ignore=9)
    num = central_gradient(lambda x: float(np.sum(dense(y, x, sample_weight=w))), z)
    np.testing.assert_allclose(dense.gradient(y, z, sample_weight=w), num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind,params", KINDS, ids=[k for k, _ in KINDS])
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore", [255, -1, 0])
def test_ignore_index_leaves_positions_out(kind, params, from_logits, ignore):
    """Ignored positions add nothing to any sum (whatever y_pred holds
    there, NaN and inf included) and get a zero gradient: the loss is the
    dense loss of the other positions."""
    rng = np.random.default_rng(8)
    B, C, H, W = 2, 4, 5, 6
    lab = rng.integers(0 if ignore != 0 else 1, C, (B, H, W))
    lab[0, 0, :C] = np.arange(C)
    keep = rng.random((B, H, W)) < 0.7
    keep[0, 0, :C] = True
    lab = np.where(keep, lab, ignore)
    keep = lab != ignore           # (ignore = 0: class 0 is never a valid label)
    z = rng.normal(size=(B, C, H, W)) * 2
    bad = ~keep
    x = z if from_logits else softmax(z, 1)
    x = x.copy()
    x[:, 0][bad] = np.nan
    x[:, 1][bad] = np.inf
    w = rng.random(B) + 0.5
    loss = OVERLAPS[kind](class_axis=1, from_logits=from_logits, ignore_index=ignore, **params)
    v, g = loss.loss_gradient(lab, x, sample_weight=w)
    # reference: the valid positions only (P, C) rows, weights repeated
    moved_p = np.moveaxis(softmax(z, 1), 1, -1)[keep]
    rows_w = np.broadcast_to(w[:, None, None], keep.shape)[keep]
    oh = np.eye(C)[lab[keep]]
    rv, rg = reference(kind, oh, moved_p, 1, rows_w, **params)
    if from_logits:
        rg = softmax_chain(moved_p, rg, 1)
    assert v == pytest.approx(rv, rel=1e-12)
    gm = np.moveaxis(g, 1, -1)
    np.testing.assert_allclose(gm[keep], rg, rtol=1e-11, atol=1e-13)
    assert np.all(gm[~keep] == 0.0)


def test_everything_ignored_is_zero():
    lab = np.full((2, 3, 3), 255)
    z = np.random.default_rng(9).normal(size=(2, 4, 3, 3))
    for cls in OVERLAPS.values():
        v, g = cls(class_axis=1, from_logits=True, ignore_index=255).loss_gradient(lab, z)
        assert v == 0.0 and np.all(g == 0.0)


def test_masked_logits():
    """-inf is a probability of exactly 0; a position of only -inf logits
    has every probability 0 (finite, no NaN); NaN at a valid position
    propagates."""
    rng = np.random.default_rng(10)
    lab, z, C, kk = _label_data(rng, (2, 3, 4, 4), 1)
    z[:, 2] = -np.inf                                  # class 2 masked everywhere
    lab[lab == 2] = 0
    z[0, :, 1, 1] = -np.inf                            # one position with no distribution
    for kind, params in KINDS:
        loss = OVERLAPS[kind](class_axis=1, from_logits=True, **params)
        v, g = loss.loss_gradient(lab, z)
        assert np.isfinite(v) and np.all(np.isfinite(g))
        p = np.nan_to_num(softmax(np.where(np.isinf(z), -1e300, z), 1))
        p[0, :, 1, 1] = 0.0
        rv, rg = reference(kind, one_hot(lab, C, 1), p, 1, **params)
        assert v == pytest.approx(rv, rel=1e-12)
        assert np.all(g[:, 2] == 0.0) and np.all(g[0, :, 1, 1] == 0.0)
        zn = z.copy()
        zn[1, 0, 0, 0] = np.nan
        assert np.isnan(loss(lab, zn))


def test_label_map_not_materialised():
    """No one-hot (nor any array of y_pred's size) is built for a label
    map: the traced peak of a loss call stays far below y_pred's bytes."""
    import tracemalloc
    rng = np.random.default_rng(11)
    lab, z, C, kk = _label_data(rng, (2, 64, 96, 96), 1)
    loss = fl.DiceLoss(class_axis=1, from_logits=True)
    loss(lab, z)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        loss(lab, z)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < z.nbytes / 8, (peak, z.nbytes)


@pytest.mark.parametrize("kind,params", KINDS, ids=[k for k, _ in KINDS])
def test_label_map_deterministic_across_threads(kind, params):
    rng = np.random.default_rng(12)
    lab, z, C, kk = _label_data(rng, (4, 6, 40, 50), 1, np.float32)
    lab[0, :3] = 255
    w = rng.random(4)
    loss = OVERLAPS[kind](class_axis=1, from_logits=True, ignore_index=255, **params)
    last = np.ascontiguousarray(np.moveaxis(z, 1, -1))
    loss_last = OVERLAPS[kind](class_axis=-1, from_logits=True, ignore_index=255, **params)
    with fl.num_threads(1):
        a = loss.loss_gradient(lab, z, w)
        c = loss_last.loss_gradient(lab, last, w)
    for k in (2, 3):
        with fl.num_threads(k):
            b = loss.loss_gradient(lab, z, w)
            d = loss_last.loss_gradient(lab, last, w)
        assert a[0] == b[0] and c[0] == d[0]
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(c[1], d[1])


def test_label_map_on_every_simd_path(simd_path):
    rng = np.random.default_rng(13)
    lab, z, C, kk = _label_data(rng, (2, 5, 8, 70), 1)
    p = softmax(z, 1)
    for kind, params in KINDS:
        v, g = OVERLAPS[kind](class_axis=1, from_logits=True, **params).loss_gradient(lab, z)
        rv, rg = reference(kind, one_hot(lab, C, 1), p, 1, **params)
        assert_close((v, g), (rv, softmax_chain(p, rg, 1)), 1e-12)


def test_label_map_out_and_caller_arrays_unchanged():
    rng = np.random.default_rng(14)
    lab, z, C, kk = _label_data(rng, (2, 3, 4, 5), 1)
    lab0, z0 = lab.copy(), z.copy()
    loss = fl.TverskyLoss(class_axis=1, from_logits=True, gamma=2.0)
    out = np.empty_like(z)
    v, g = loss.loss_gradient(lab, z, out=out)
    assert g is out
    np.testing.assert_array_equal(lab, lab0)
    np.testing.assert_array_equal(z, z0)
    with pytest.raises(ValueError, match="out"):
        loss.gradient(lab, z, out=np.empty((2, 3, 4, 4)))
    # labels as integral floats are accepted (SPEC §1), non-integral ones are not
    np.testing.assert_array_equal(loss(lab.astype(float), z), v)


# ------------------------------------------------------------------ bad input
BAD_LABEL_CASES = {
    "label C": lambda lab, C: np.where(lab == 0, C, lab),
    "label -1": lambda lab, C: np.where(lab == 0, -1, lab),
    "non-integral": lambda lab, C: lab + 0.5,
    "huge": lambda lab, C: np.where(lab == 0, 2 ** 40, lab),
}


@pytest.mark.parametrize("cls", list(OVERLAPS.values()))
@pytest.mark.parametrize("form", ["call", "loss", "gradient", "loss_gradient", "function"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_bad_labels_name_y_true(cls, form, from_logits):
    rng = np.random.default_rng(15)
    lab, z, C, kk = _label_data(rng, (2, 3, 4, 5), 1)
    params = dict(class_axis=1, from_logits=from_logits, ignore_index=255)
    f = _forms(cls(**params), FUNCS[cls], params)[form]
    for name, make in BAD_LABEL_CASES.items():
        with pytest.raises(ValueError, match="y_true"):
            f(make(lab, C), z)
    # the wrong shape: neither y_pred's shape nor it without class_axis
    for bad in (lab[:, :3], lab[..., None], lab.reshape(2, -1)):
        with pytest.raises(ValueError, match="y_true"):
            f(bad, z)
    with pytest.raises(TypeError, match="y_true"):
        f(lab.astype(str), z)
    # a label equal to ignore_index is fine; a dense y_true with ignore_index is not
    f(np.where(lab == 0, 255, lab), z)
    with pytest.raises(ValueError, match="ignore_index"):
        f(one_hot(lab, C, 1), z)
    with pytest.raises(ValueError, match="sample_weight"):
        f(lab, z, np.ones(3))
    with pytest.raises(ValueError, match="class_axis"):
        p2 = dict(params, class_axis=4)
        _forms(cls(**p2), FUNCS[cls], p2)[form](lab, z)


@pytest.mark.parametrize("cls", list(OVERLAPS.values()))
def test_bad_parameters(cls):
    fn = FUNCS[cls]
    y = np.ones((3, 4))
    # (at the call: fastloss.objective constructs with from_logits=True)
    for form, f in _forms(cls(from_logits=True), fn, {"from_logits": True}).items():
        with pytest.raises(ValueError, match="from_logits"):
            f(y, y)
    for form, f in _forms(cls(ignore_index=0), fn, {"ignore_index": 0}).items():
        with pytest.raises(ValueError, match="ignore_index"):
            f(y, y)
    with pytest.raises(TypeError, match="ignore_index"):
        cls(class_axis=1, ignore_index=1.5)
    with pytest.raises(TypeError, match="from_logits"):
        cls(class_axis=1, from_logits=1)
    with pytest.raises(ValueError, match="class_axis"):
        fn(y, y, class_axis=-3)


def test_tversky_bad_parameters():
    y = np.ones((3, 4))
    for name, value in [("alpha", 1.5), ("alpha", -0.1), ("beta", 2.0), ("beta", -1.0),
                        ("gamma", -0.5), ("smooth", -1.0), ("alpha", float("nan"))]:
        with pytest.raises(ValueError, match=name):
            fl.TverskyLoss(**{name: value})
        with pytest.raises(ValueError, match=name):
            fl.tversky_loss(y, y, **{name: value})
    with pytest.raises(TypeError, match="gamma"):
        fl.TverskyLoss(gamma="2")
    with pytest.raises(ValueError, match="reduction"):
        fl.TverskyLoss(reduction="avg")
    with pytest.raises(ValueError, match="y_pred"):
        fl.tversky_loss(np.ones((0, 3)), np.ones((0, 3)))
    with pytest.raises(ValueError, match="shape"):
        fl.tversky_loss(y, y[:, :2])
