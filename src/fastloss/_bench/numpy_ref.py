"""Plain-NumPy loss + gradient, as a NumPy user would write them.

Each function takes ``(y_true, y_pred, **params)`` and returns
``(value, gradient)`` in fastloss's convention for the default reduction
("mean", no sample weights): the same value ``fl.get(name).loss_gradient``
returns and the gradient of that value with respect to ``y_pred``.  They are
written from SPEC.md's formulas, vectorised and in the input's dtype (what a
NumPy user gets), and serve both as the "numpy" peer of the benchmark and as
the independent reference of its agreement check.
"""
from __future__ import annotations

import numpy as np

LOG2 = np.log(2.0)


def _mean(l):
    return float(np.mean(l, dtype=np.float64))


def _log1pexp(x):
    """log(1 + exp(x)) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)


def _log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


# ---------------------------------------------------------------- regression
def mean_squared_error(y, f):
    e = f - y
    return _mean(e * e), (2 / e.size) * e


def mean_absolute_error(y, f):
    e = f - y
    return _mean(np.abs(e)), np.sign(e) / e.size


def huber(y, f, delta=1.0):
    e = f - y
    a = np.abs(e)
    inside = a <= delta
    l = np.where(inside, 0.5 * e * e, delta * (a - 0.5 * delta))
    g = np.where(inside, e, delta * np.sign(e)) / e.size
    return _mean(l), g.astype(f.dtype, copy=False)


def pinball_loss(y, f, quantile=0.5):
    """quantile: a float, or one per column of (n, k) input."""
    q = np.asarray(quantile, dtype=f.dtype)
    e = y - f
    l = np.where(e >= 0, q * e, (q - 1) * e)
    g = np.where(e > 0, -q, np.where(e < 0, 1 - q, 0)) / e.size
    return _mean(l), g.astype(f.dtype, copy=False)


def log_cosh(y, f):
    e = f - y
    a = np.abs(e)
    l = a + np.log1p(np.exp(-2 * a)) - LOG2
    return _mean(l), np.tanh(e) / e.size


def poisson(y, f, log_input=False):
    if log_input:
        m = np.exp(f)
        return _mean(m - y * f), (m - y) / f.size
    eps = 1e-7
    return _mean(f - y * np.log(f + eps)), (1 - y / (f + eps)) / f.size


def expectile(y, f, expectile=0.5):
    e = y - f
    a = np.where(y < f, 1 - expectile, expectile)
    return _mean(a * e * e), (-2 * a * e / e.size).astype(f.dtype, copy=False)


def pseudo_huber(y, f, delta=1.0):
    e = f - y
    r = np.sqrt(1 + (e / delta) ** 2)
    return _mean(delta * delta * (r - 1)), (e / r / e.size).astype(f.dtype, copy=False)


def tweedie_log(y, f, power=1.5):
    """Tweedie deviance at mean exp(f), 1 < power < 2 (y = 0 allowed)."""
    p = power
    a1, a2 = np.exp((1 - p) * f), np.exp((2 - p) * f)
    d = 2 * (np.power(y, 2 - p) / ((1 - p) * (2 - p)) - y * a1 / (1 - p) + a2 / (2 - p))
    return _mean(d), (2 * (a2 - y * a1) / f.size).astype(f.dtype, copy=False)


# ------------------------------------------------------------ classification
def sparse_categorical_crossentropy(y, x, from_logits=True):
    assert from_logits
    n = x.shape[0]
    logp = _log_softmax(x)
    rows = np.arange(n)
    g = np.exp(logp)
    g[rows, y] -= 1
    g /= n
    return -_mean(logp[rows, y]), g


def categorical_crossentropy(y, x, from_logits=True):
    assert from_logits
    n = x.shape[0]
    logp = _log_softmax(x)
    l = -(y * logp).sum(axis=1)
    g = (np.exp(logp) * y.sum(axis=1, keepdims=True) - y) / n
    return _mean(l), g


def binary_crossentropy(y, x, from_logits=True):
    assert from_logits
    l = _log1pexp(x) - y * x
    return _mean(l), (_sigmoid(x) - y) / x.size


def hinge(t, f):
    m = 1 - t * f
    return _mean(np.maximum(m, 0)), np.where(m > 0, -t, 0).astype(f.dtype) / f.size


def squared_hinge(t, f):
    m = np.maximum(1 - t * f, 0)
    return _mean(m * m), (-2 / f.size) * t * m


def multiclass_hinge(y, x):
    n = x.shape[0]
    rows = np.arange(n)
    xy = x[rows, y]
    other = x.copy()
    other[rows, y] = -np.inf
    j = other.argmax(axis=1)
    m = 1 + other[rows, j] - xy
    active = (m > 0).astype(x.dtype) / n
    g = np.zeros_like(x)
    g[rows, j] += active
    g[rows, y] -= active
    return _mean(np.maximum(m, 0)), g


def binary_focal_crossentropy(y, x, gamma=2.0, alpha=0.25, from_logits=True):
    assert from_logits
    p = _sigmoid(x)
    logp, log1mp = -_log1pexp(-x), -_log1pexp(x)
    a1, a0 = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)
    q = 1 - p
    l = -a1 * y * q ** gamma * logp - a0 * (1 - y) * p ** gamma * log1mp
    g = (a1 * y * q ** gamma * (gamma * p * logp - q)
         + a0 * (1 - y) * p ** gamma * (p - gamma * q * log1mp))
    return _mean(l), (g / x.size).astype(x.dtype, copy=False)


def categorical_focal_crossentropy(y, x, gamma=2.0, alpha=0.25, from_logits=True):
    assert from_logits
    n = x.shape[0]
    logp = _log_softmax(x)
    p = np.exp(logp)
    q = 1 - p
    a = alpha * y
    l = -(a * q ** gamma * logp).sum(axis=1)
    u = a * (gamma * q ** (gamma - 1) * p * logp - q ** gamma)
    g = (u - p * u.sum(axis=1, keepdims=True)) / n
    return _mean(l), g.astype(x.dtype, copy=False)


def balanced_crossentropy(y, x, beta=0.5, from_logits=True):
    assert from_logits
    p = _sigmoid(x)
    l = beta * y * _log1pexp(-x) + (1 - beta) * (1 - y) * _log1pexp(x)
    g = -beta * y * (1 - p) + (1 - beta) * (1 - y) * p
    return _mean(l), (g / x.size).astype(x.dtype, copy=False)


# -------------------------------------------------------------- distribution
def kl_divergence(y, f, log_input=True):
    assert log_input
    n = f.shape[0]
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0)
    l = (ylogy - y * f).sum(axis=1)
    return _mean(l), -y / n


def cosine_similarity_loss(y, f):
    n = f.shape[0]
    ny = np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    nf = np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    c = (y * f).sum(axis=1, keepdims=True) / (ny * nf)
    g = -(y / (ny * nf) - c * f / (nf * nf)) / n
    return _mean(1 - c), g.astype(f.dtype, copy=False)


def hellinger_distance(y, f):
    eps = 1e-7
    n = f.shape[0]
    fc = np.clip(f, eps, 1)
    rf = np.sqrt(fc)
    s = np.sqrt(y) - rf
    d = np.linalg.norm(s, axis=1, keepdims=True) / np.sqrt(2)
    safe = np.where(d > 0, d, 1)
    g = np.where(d > 0, -s / (4 * safe * rf), 0) * ((f >= eps) & (f <= 1)) / n
    return _mean(d), g.astype(f.dtype, copy=False)


def giou_loss(t, p, eps=1e-7):
    n = p.shape[0]
    px1, py1, px2, py2 = p.T
    tx1, ty1, tx2, ty2 = t.T
    pw, ph = px2 - px1, py2 - py1
    ap, at = pw * ph, (tx2 - tx1) * (ty2 - ty1)
    iw_raw = np.minimum(px2, tx2) - np.maximum(px1, tx1)
    ih_raw = np.minimum(py2, ty2) - np.maximum(py1, ty1)
    iw, ih = np.maximum(iw_raw, 0), np.maximum(ih_raw, 0)
    inter = iw * ih
    union = ap + at - inter
    cw = np.maximum(px2, tx2) - np.minimum(px1, tx1)
    ch = np.maximum(py2, ty2) - np.minimum(py1, ty1)
    area_c = cw * ch
    l = 1 - inter / (union + eps) + (area_c - union) / (area_c + eps)
    dU = inter / (union + eps) ** 2 - 1 / (area_c + eps)          # dL/dUnion
    dI = -1 / (union + eps) - dU                                    # dL/dInter (U = ap + at - I)
    dC = (union + eps) / (area_c + eps) ** 2                       # dL/dArea_c
    wi, hi = (iw_raw > 0), (ih_raw > 0)
    g = np.empty_like(p)
    # d inter: iw = min(px2, tx2) - max(px1, tx1) (clamped at 0)
    d_iw_x1 = -((wi & (px1 > tx1)) * ih)
    d_iw_x2 = (wi & (px2 < tx2)) * ih
    d_ih_y1 = -((hi & (py1 > ty1)) * iw)
    d_ih_y2 = (hi & (py2 < ty2)) * iw
    g[:, 0] = dU * -ph + dI * d_iw_x1 + dC * -ch * (px1 < tx1)
    g[:, 2] = dU * ph + dI * d_iw_x2 + dC * ch * (px2 > tx2)
    g[:, 1] = dU * -pw + dI * d_ih_y1 + dC * -cw * (py1 < ty1)
    g[:, 3] = dU * pw + dI * d_ih_y2 + dC * cw * (py2 > ty2)
    return _mean(l), g / n


# --------------------------------------------------------------- segmentation
def _lovasz_grad(fg_sorted):
    """Gradient of the Lovász extension of the Jaccard loss w.r.t. sorted errors."""
    gts = fg_sorted.sum()
    inter = gts - np.cumsum(fg_sorted)
    union = gts + np.cumsum(1 - fg_sorted)
    jac = 1 - inter / union
    jac[1:] = jac[1:] - jac[:-1]
    return jac


def lovasz_softmax(labels, probas, classes="present", per_image=False, from_logits=False):
    assert classes == "present" and not per_image and not from_logits
    b, c = probas.shape[:2]
    flat = np.moveaxis(probas, 1, -1).reshape(-1, c)
    lab = labels.reshape(-1)
    gflat = np.zeros_like(flat)
    terms = []
    for k in range(c):
        fg = (lab == k).astype(np.float64)
        if fg.sum() == 0:
            continue
        pk = flat[:, k].astype(np.float64)
        err = np.abs(fg - pk)
        order = np.argsort(-err, kind="stable")
        lg = _lovasz_grad(fg[order])
        terms.append(float(err[order] @ lg))
        gflat[order, k] = (np.sign(pk - fg)[order] * lg)
    if not terms:
        return 0.0, np.zeros_like(probas)
    gflat /= len(terms)
    g = np.moveaxis(gflat.reshape(probas.shape[0], *probas.shape[2:], c), -1, 1)
    return float(np.mean(terms)), np.ascontiguousarray(g)


def lovasz_hinge(labels, logits, per_image=True):
    assert per_image
    b = logits.shape[0]
    g = np.zeros_like(logits)
    total = 0.0
    for i in range(b):
        lab = labels[i].reshape(-1).astype(np.float64)
        x = logits[i].reshape(-1).astype(np.float64)
        signs = 2 * lab - 1
        err = 1 - x * signs
        order = np.argsort(-err, kind="stable")
        lg = _lovasz_grad(lab[order])
        es = err[order]
        total += float(np.maximum(es, 0) @ lg)
        gi = np.zeros_like(x)
        gi[order] = -signs[order] * (es > 0) * lg
        g[i] = gi.reshape(logits.shape[1:])
    return total / b, g / b


def _class_sums(y, f, class_axis):
    axes = tuple(a for a in range(f.ndim) if a != class_axis % f.ndim)
    shape = [1] * f.ndim
    shape[class_axis] = f.shape[class_axis]
    sum_ = lambda a: a.sum(axis=axes, dtype=np.float64).reshape(shape)   # noqa: E731
    return sum_, shape


def jaccard_loss(y, f, smooth=1e-10, class_axis=1):
    sum_, _ = _class_sums(y, f, class_axis)
    i, y2, f2 = sum_(y * f), sum_(y * y), sum_(f * f)
    d = y2 + f2 - i + smooth
    j = (i + smooth) / d
    c = j.size
    g = -(y / d - (i + smooth) / d ** 2 * (2 * f - y)) / c
    return float(np.mean(1 - j)), g.astype(f.dtype)


def f1_loss(y, f, smooth=1e-10, class_axis=1):
    sum_, _ = _class_sums(y, f, class_axis)
    i, sy, sf = sum_(y * f), sum_(y), sum_(f)
    d = sy + sf + smooth
    score = (2 * i + smooth) / d
    c = score.size
    g = -(2 * y / d - (2 * i + smooth) / d ** 2) / c
    return float(np.mean(1 - score)), g.astype(f.dtype)


def dice_label_map(labels, logits, smooth=1e-10):
    """Dice from a label map and (B, C, H, W) logits: NumPy softmax, the
    one-hot built, f1_loss, the gradient chained through the softmax."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    onehot = np.moveaxis(np.eye(logits.shape[1], dtype=logits.dtype)[labels], -1, 1)
    value, g = f1_loss(onehot, p, smooth, class_axis=1)
    g = p * (g - (g * p).sum(axis=1, keepdims=True))
    return value, g.astype(logits.dtype)


# ----------------------------------------------------------------- agreement
def kappa_weights(c, weights):
    i, j = np.indices((c, c))
    if weights is None:
        return (i != j).astype(np.float64)
    if weights == "linear":
        return np.abs(i - j) / (c - 1)
    return (i - j) ** 2 / (c - 1) ** 2


def kappa_loss(y, p, weights=None, from_logits=False):
    assert not from_logits
    n, c = p.shape
    w = kappa_weights(c, weights)
    onehot = np.eye(c)[y]
    o = onehot.T @ p
    a, b = onehot.sum(axis=0), p.sum(axis=0)
    e = np.outer(a, b) / n
    num, den = float((w * o).sum()), float((w * e).sum())
    g = (w[y] * den - num * (w.T @ a) / n) / den ** 2
    return num / den, g.astype(p.dtype)


# -------------------------------------------------------------------- ranking
def _lists(y, s, list_size):
    """(G, L) float64 relevance and scores: equal-sized contiguous lists
    (one list when list_size is None)."""
    L = s.shape[0] if list_size is None else list_size
    return y.reshape(-1, L).astype(np.float64), s.reshape(-1, L).astype(np.float64)


def ranknet(y, s, sigma=1.0, list_size=None):
    Y, S = _lists(y, s, list_size)
    d = S[:, :, None] - S[:, None, :]
    m = Y[:, :, None] > Y[:, None, :]
    npairs = int(m.sum())
    z = -sigma * d
    l = np.where(m, np.logaddexp(0, z), 0)
    lam = np.where(m, 1 / (1 + np.exp(-z)), 0)
    g = sigma * (lam.sum(axis=1) - lam.sum(axis=2)) / npairs
    return float(l.sum() / npairs), g.reshape(-1).astype(s.dtype)


def lambdarank(y, s, sigma=1.0, k=None, list_size=None):
    """Pair matrices per list: |ΔNDCG| from stable score ranks, IDCG_k."""
    Y, S = _lists(y, s, list_size)
    G, L = S.shape
    order = np.argsort(-S, axis=1, kind="stable")
    r = np.empty_like(order)
    np.put_along_axis(r, order, np.broadcast_to(np.arange(L), (G, L)), axis=1)
    disc = 1 / np.log2(2 + r)
    m = L if k is None else min(k, L)
    ideal = -np.sort(-Y, axis=1)[:, :m]
    idcg = ((2 ** ideal - 1) / np.log2(2 + np.arange(m))).sum(axis=1)
    inv = np.where(idcg > 0, 1 / np.where(idcg > 0, idcg, 1), 0)
    mask = (Y[:, :, None] > Y[:, None, :]) & (inv > 0)[:, None, None]
    if k is not None:
        mask &= np.minimum(r[:, :, None], r[:, None, :]) < k
    gain = 2 ** Y
    a = np.abs((gain[:, :, None] - gain[:, None, :]) * (disc[:, :, None] - disc[:, None, :]))
    a = np.where(mask, a * inv[:, None, None], 0)
    npairs = int(mask.sum())
    z = -sigma * (S[:, :, None] - S[:, None, :])
    loss = float((a * np.logaddexp(0, z)).sum())
    lam = a / (1 + np.exp(-z))
    g = sigma * (lam.sum(axis=1) - lam.sum(axis=2))
    return loss / npairs, (g / npairs).reshape(-1).astype(s.dtype)


# ------------------------------------------------------------- DIoU / CIoU
def _diou_parts(t, p, eps):
    """Per-box DIoU loss, IoU, its gradient w.r.t. the predicted corners
    (ties, which the benchmark data avoid, take one side), and (w, h) of p."""
    px1, py1, px2, py2 = p.T
    tx1, ty1, tx2, ty2 = t.T
    pw, ph = px2 - px1, py2 - py1
    iw_raw = np.minimum(px2, tx2) - np.maximum(px1, tx1)
    ih_raw = np.minimum(py2, ty2) - np.maximum(py1, ty1)
    iw, ih = np.maximum(iw_raw, 0), np.maximum(ih_raw, 0)
    inter = iw * ih
    union = pw * ph + (tx2 - tx1) * (ty2 - ty1) - inter
    iou = inter / (union + eps)
    cw = np.maximum(px2, tx2) - np.minimum(px1, tx1)
    ch = np.maximum(py2, ty2) - np.minimum(py1, ty1)
    c2 = cw * cw + ch * ch + eps
    dx = (px1 + px2) / 2 - (tx1 + tx2) / 2
    dy = (py1 + py2) / 2 - (ty1 + ty2) / 2
    rho2 = dx * dx + dy * dy
    loss = 1 - iou + rho2 / c2
    dU = inter / (union + eps) ** 2                 # d(-I/(U+eps))/dU
    dI = -1 / (union + eps) - dU                    # through I, U = A_p + A_t - I
    k = -2 * rho2 / c2 ** 2                         # d(ρ²/c²)/d(c²) · 2
    wi, hi = iw_raw > 0, ih_raw > 0
    g = np.empty_like(p)
    g[:, 0] = -dU * ph - dI * (wi & (px1 > tx1)) * ih + dx / c2 - k * cw * (px1 < tx1)
    g[:, 2] = dU * ph + dI * (wi & (px2 < tx2)) * ih + dx / c2 + k * cw * (px2 > tx2)
    g[:, 1] = -dU * pw - dI * (hi & (py1 > ty1)) * iw + dy / c2 - k * ch * (py1 < ty1)
    g[:, 3] = dU * pw + dI * (hi & (py2 < ty2)) * iw + dy / c2 + k * ch * (py2 > ty2)
    return loss, iou, g, pw, ph


def diou_loss(t, p, eps=1e-7):
    loss, _, g, _, _ = _diou_parts(t, p, eps)
    return _mean(loss), g / p.shape[0]


def ciou_loss(t, p, eps=1e-7):
    loss, iou, g, pw, ph = _diou_parts(t, p, eps)
    d = np.arctan((t[:, 2] - t[:, 0]) / (t[:, 3] - t[:, 1])) - np.arctan(pw / ph)
    v = (4 / np.pi ** 2) * d * d
    alpha = v / (1 - iou + v + eps)                 # a constant in the gradient
    dv = alpha * 2 * (4 / np.pi ** 2) * d / (pw * pw + ph * ph)
    g[:, 0] += dv * ph
    g[:, 2] -= dv * ph
    g[:, 1] -= dv * pw
    g[:, 3] += dv * pw
    return _mean(loss + alpha * v), g / p.shape[0]
