"""PyTorch forward passes the benchmark times with their backward.

Each function takes ``(t_true, x)`` — tensors made from the case's arrays,
``x`` a leaf with ``requires_grad`` — and returns the scalar loss whose
``backward()`` gives ``x.grad``.  Where torch has the loss built in it is
used with the reduction that equals fastloss's "mean"; where it has not (the
focal, hinge, Hellinger, GIoU, Lovász, Kappa and RankNet losses) the formula
is written with torch operations and differentiated by autograd, which is
what a PyTorch user does.  This module is imported only when torch is.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- built-ins
def mse(t, x):
    return F.mse_loss(x, t)


def mae(t, x):
    return F.l1_loss(x, t)


def huber(t, x, delta=1.0):
    return F.huber_loss(x, t, delta=delta)


def pinball(t, x, quantile=0.5):
    # no built-in: the formula, as a torch user writes it (autograd gives 0 at
    # ties through the where, as SPEC asks)
    q = torch.as_tensor(quantile, dtype=x.dtype)
    e = t - x
    return torch.where(e >= 0, q * e, (q - 1) * e).mean()


def poisson_log(t, x):
    return F.poisson_nll_loss(x, t, log_input=True, full=False)


# no built-ins for these three: the formulas, as a torch user writes them
def expectile(t, x, expectile=0.5):
    e = t - x
    a = torch.where(t < x, torch.tensor(1 - expectile, dtype=x.dtype),
                    torch.tensor(expectile, dtype=x.dtype))
    return (a * e * e).mean()


def pseudo_huber(t, x, delta=1.0):
    return (delta * delta * (torch.sqrt(1 + ((x - t) / delta) ** 2) - 1)).mean()


def tweedie_log(t, x, power=1.5):
    p = power
    d = 2 * (torch.pow(t, 2 - p) / ((1 - p) * (2 - p)) - t * torch.exp((1 - p) * x) / (1 - p)
             + torch.exp((2 - p) * x) / (2 - p))
    return d.mean()


def sparse_ce(t, x):
    return F.cross_entropy(x, t)


def soft_ce(t, x):
    return F.cross_entropy(x, t)          # probability targets: mean over rows


def bce_logits(t, x):
    return F.binary_cross_entropy_with_logits(x, t)


def balanced_ce(t, x, beta=0.5):
    # -β y log p - (1-β)(1-y) log(1-p) = (1-β) · BCE(pos_weight=β/(1-β))
    pw = torch.tensor(beta / (1 - beta), dtype=x.dtype)
    return (1 - beta) * F.binary_cross_entropy_with_logits(x, t, pos_weight=pw)


def kl_log_input(t, x):
    return F.kl_div(x, t, reduction="batchmean")


def cosine(t, x):
    return (1 - F.cosine_similarity(x, t, dim=1, eps=1e-12)).mean()


# ---------------------------------------------------- formulas with autograd
def log_cosh(t, x):
    a = (x - t).abs()
    return (a + F.softplus(-2 * a) - math.log(2.0)).mean()


def hinge(t, x):
    return torch.clamp(1 - t * x, min=0).mean()


def squared_hinge(t, x):
    return torch.clamp(1 - t * x, min=0).square().mean()


def multiclass_hinge(t, x):
    xy = x.gather(1, t[:, None])[:, 0]
    other = x.scatter(1, t[:, None], float("-inf")).amax(dim=1)
    return torch.clamp(1 + other - xy, min=0).mean()


def binary_focal(t, x, gamma=2.0, alpha=0.25):
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    a_t = alpha * t + (1 - alpha) * (1 - t)
    return (a_t * ce * (1 - p_t) ** gamma).mean()


def categorical_focal(t, x, gamma=2.0, alpha=0.25):
    logp = F.log_softmax(x, dim=1)
    p = logp.exp()
    return (-(alpha * t * (1 - p) ** gamma * logp).sum(dim=1)).mean()


def hellinger(t, x, eps=1e-7):
    s = t.sqrt() - x.clamp(eps, 1).sqrt()
    return (torch.linalg.vector_norm(s, dim=1) / math.sqrt(2)).mean()


def giou(t, x, eps=1e-7):
    px1, py1, px2, py2 = x.unbind(1)
    tx1, ty1, tx2, ty2 = t.unbind(1)
    ap = (px2 - px1) * (py2 - py1)
    at = (tx2 - tx1) * (ty2 - ty1)
    iw = (torch.minimum(px2, tx2) - torch.maximum(px1, tx1)).clamp(min=0)
    ih = (torch.minimum(py2, ty2) - torch.maximum(py1, ty1)).clamp(min=0)
    inter = iw * ih
    union = ap + at - inter
    area_c = ((torch.maximum(px2, tx2) - torch.minimum(px1, tx1))
              * (torch.maximum(py2, ty2) - torch.minimum(py1, ty1)))
    giou_ = inter / (union + eps) - (area_c - union) / (area_c + eps)
    return (1 - giou_).mean()


def _lovasz_grad(fg_sorted):
    gts = fg_sorted.sum()
    inter = gts - fg_sorted.cumsum(0)
    union = gts + (1 - fg_sorted).cumsum(0)
    jac = 1 - inter / union
    return torch.cat([jac[:1], jac[1:] - jac[:-1]])


def lovasz_softmax(t, x):
    """Berman et al.'s algorithm, classes="present", per_image=False."""
    c = x.shape[1]
    probas = x.movedim(1, -1).reshape(-1, c)
    labels = t.reshape(-1)
    losses = []
    for k in range(c):
        fg = (labels == k).to(x.dtype)
        if fg.sum() == 0:
            continue
        errors = (fg - probas[:, k]).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, _lovasz_grad(fg[perm])))
    return torch.stack(losses).mean()


def lovasz_hinge(t, x):
    """per_image=True: mean over images of the flat Lovász hinge."""
    losses = []
    for i in range(x.shape[0]):
        lab = t[i].reshape(-1).to(x.dtype)
        signs = 2 * lab - 1
        errors = 1 - x[i].reshape(-1) * signs
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(F.relu(errors_sorted), _lovasz_grad(lab[perm])))
    return torch.stack(losses).mean()


def _class_sums(a):
    return a.sum(dim=tuple(d for d in range(a.ndim) if d != 1))


def jaccard(t, x, smooth=1e-10):
    i, y2, f2 = _class_sums(t * x), _class_sums(t * t), _class_sums(x * x)
    return (1 - (i + smooth) / (y2 + f2 - i + smooth)).mean()


def f1(t, x, smooth=1e-10):
    i, sy, sf = _class_sums(t * x), _class_sums(t), _class_sums(x)
    return (1 - (2 * i + smooth) / (sy + sf + smooth)).mean()


def dice_label_map(t, x, smooth=1e-10):
    """Dice from a label map and channel-first logits as a torch user writes
    it (segmentation_models_pytorch's DiceLoss does the same): softmax over
    the classes, the one-hot of the labels moved to axis 1, the class sums."""
    p = torch.softmax(x, 1)
    onehot = F.one_hot(t, x.shape[1]).movedim(-1, 1).to(x.dtype)
    return f1(onehot, p, smooth)


def kappa(t, x, weights="quadratic"):
    n, c = x.shape
    i, j = torch.meshgrid(torch.arange(c), torch.arange(c), indexing="ij")
    if weights is None:
        w = (i != j).to(x.dtype)
    elif weights == "linear":
        w = (i - j).abs().to(x.dtype) / (c - 1)
    else:
        w = ((i - j) ** 2).to(x.dtype) / (c - 1) ** 2
    onehot = F.one_hot(t, c).to(x.dtype)
    o = onehot.T @ x
    e = torch.outer(onehot.sum(0), x.sum(0)) / n
    return (w * o).sum() / (w * e).sum()


def ranknet(t, x, sigma=1.0, list_size=None):
    L = x.shape[0] if list_size is None else list_size
    t, x = t.reshape(-1, L), x.reshape(-1, L)        # equal-sized contiguous lists
    diff = x[:, :, None] - x[:, None, :]
    mask = t[:, :, None] > t[:, None, :]
    return F.softplus(-sigma * diff[mask]).mean()


def lambdarank(t, x, sigma=1.0, k=None, list_size=None):
    """RankNet pairs weighted by |ΔNDCG| (held constant: computed without grad)."""
    L = x.shape[0] if list_size is None else list_size
    y, s = t.reshape(-1, L).to(x.dtype), x.reshape(-1, L)
    with torch.no_grad():
        order = torch.argsort(s, dim=1, descending=True, stable=True)
        r = torch.empty_like(order)
        r.scatter_(1, order, torch.arange(L).expand_as(order).contiguous())
        disc = 1 / torch.log2(2.0 + r.to(x.dtype))
        m = L if k is None else min(k, L)
        ideal = torch.sort(y, dim=1, descending=True).values[:, :m]
        idcg = ((2 ** ideal - 1) / torch.log2(2.0 + torch.arange(m, dtype=x.dtype))).sum(1)
        inv = torch.where(idcg > 0, 1 / idcg, torch.zeros_like(idcg))
        mask = (y[:, :, None] > y[:, None, :]) & (inv > 0)[:, None, None]
        if k is not None:
            mask &= torch.minimum(r[:, :, None], r[:, None, :]) < k
        gain = 2 ** y
        a = ((gain[:, :, None] - gain[:, None, :]) * (disc[:, :, None] - disc[:, None, :])).abs()
        a = torch.where(mask, a * inv[:, None, None], torch.zeros_like(a))
    pair = F.softplus(-sigma * (s[:, :, None] - s[:, None, :]))
    return (a * pair).sum() / mask.sum()


def _diou_parts(t, x, eps):
    """torchvision's _diou_iou_loss (per box): (1 - IoU + ρ²/c², IoU)."""
    px1, py1, px2, py2 = x.unbind(1)
    tx1, ty1, tx2, ty2 = t.unbind(1)
    iw = (torch.minimum(px2, tx2) - torch.maximum(px1, tx1)).clamp(min=0)
    ih = (torch.minimum(py2, ty2) - torch.maximum(py1, ty1)).clamp(min=0)
    inter = iw * ih
    union = (px2 - px1) * (py2 - py1) + (tx2 - tx1) * (ty2 - ty1) - inter
    iou = inter / (union + eps)
    diag = ((torch.maximum(px2, tx2) - torch.minimum(px1, tx1)) ** 2
            + (torch.maximum(py2, ty2) - torch.minimum(py1, ty1)) ** 2 + eps)
    dist = ((px1 + px2) / 2 - (tx1 + tx2) / 2) ** 2 + ((py1 + py2) / 2 - (ty1 + ty2) / 2) ** 2
    return 1 - iou + dist / diag, iou


def diou(t, x, eps=1e-7):
    return _diou_parts(t, x, eps)[0].mean()


def ciou(t, x, eps=1e-7):
    loss, iou = _diou_parts(t, x, eps)
    v = (4 / math.pi ** 2) * torch.pow(
        torch.atan((t[:, 2] - t[:, 0]) / (t[:, 3] - t[:, 1]))
        - torch.atan((x[:, 2] - x[:, 0]) / (x[:, 3] - x[:, 1])), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return (loss + alpha * v).mean()
