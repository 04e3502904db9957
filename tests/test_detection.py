"""GIoU, DIoU and CIoU losses in every box format against torchvision's
formulas (restated here in float64 NumPy, and in torch for autograd:
torchvision itself does not import beside torch 2.13 here), finite
differences, torchvision's ``box_convert`` conventions, the degenerate
cases of issue 13 and bad input."""
import math

import numpy as np
import pytest

import fastloss as fl

FORMATS = ("xyxy", "xywh", "cxcywh")
LOSSES = {"giou": (fl.GIoULoss, fl.giou_loss), "diou": (fl.DIoULoss, fl.diou_loss),
          "ciou": (fl.CIoULoss, fl.ciou_loss)}


# ------------------------------------------------------------ references
def np_to_xyxy(b, fmt):
    """torchvision.ops.box_convert(b, fmt, "xyxy") restated."""
    b = np.asarray(b, np.float64)
    a0, a1, a2, a3 = b.T
    if fmt == "xyxy":
        return b.copy()
    if fmt == "xywh":
        return np.stack([a0, a1, a0 + a2, a1 + a3], axis=1)
    return np.stack([a0 - 0.5 * a2, a1 - 0.5 * a3, a0 + 0.5 * a2, a1 + 0.5 * a3], axis=1)


def np_from_xyxy(b, fmt):
    """torchvision.ops.box_convert(b, "xyxy", fmt) restated."""
    x1, y1, x2, y2 = np.asarray(b, np.float64).T
    if fmt == "xyxy":
        return np.array(b, np.float64)
    if fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)


def np_inter_union(p, t):
    """torchvision's _loss_inter_union (boxes1 = prediction)."""
    x1, y1, x2, y2 = p.T
    a1, b1, a2, b2 = t.T
    ix1, iy1 = np.maximum(x1, a1), np.maximum(y1, b1)
    ix2, iy2 = np.minimum(x2, a2), np.minimum(y2, b2)
    mask = (iy2 > iy1) & (ix2 > ix1)
    inter = np.where(mask, (ix2 - ix1) * (iy2 - iy1), 0.0)
    union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
    return inter, union


def np_giou(t, p, eps=1e-7):
    """Per-box generalized_box_iou_loss in float64 (xyxy)."""
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    inter, union = np_inter_union(p, t)
    iou = inter / (union + eps)
    cx1, cy1 = np.minimum(p[:, 0], t[:, 0]), np.minimum(p[:, 1], t[:, 1])
    cx2, cy2 = np.maximum(p[:, 2], t[:, 2]), np.maximum(p[:, 3], t[:, 3])
    area_c = (cx2 - cx1) * (cy2 - cy1)
    return 1 - (iou - (area_c - union) / (area_c + eps))


def np_diou(t, p, eps=1e-7, with_iou=False):
    """Per-box distance_box_iou_loss in float64 (xyxy)."""
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    inter, union = np_inter_union(p, t)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = p.T
    a1, b1, a2, b2 = t.T
    xc1, yc1 = np.minimum(x1, a1), np.minimum(y1, b1)
    xc2, yc2 = np.maximum(x2, a2), np.maximum(y2, b2)
    diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    xp, yp = (x2 + x1) / 2, (y2 + y1) / 2
    xg, yg = (a1 + a2) / 2, (b1 + b2) / 2
    dist = (xp - xg) ** 2 + (yp - yg) ** 2
    loss = 1 - iou + dist / diag
    return (loss, iou) if with_iou else loss


def np_ciou(t, p, eps=1e-7, alpha=None):
    """Per-box complete_box_iou_loss in float64 (xyxy); `alpha` given: the
    trade-off held at that value (for finite differences of the gradient
    torchvision defines)."""
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    d, iou = np_diou(t, p, eps, with_iou=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (4 / math.pi ** 2) * (np.arctan((t[:, 2] - t[:, 0]) / (t[:, 3] - t[:, 1]))
                                  - np.arctan((p[:, 2] - p[:, 0]) / (p[:, 3] - p[:, 1]))) ** 2
        a = v / (1 - iou + v + eps) if alpha is None else alpha
    return d + a * v


NP_REF = {"giou": np_giou, "diou": np_diou, "ciou": np_ciou}


def np_ref(kind, t, p, fmt="xyxy", eps=1e-7):
    return NP_REF[kind](np_to_xyxy(t, fmt), np_to_xyxy(p, fmt), eps)


def torch_ref(kind, t, p, fmt="xyxy", eps=1e-7):
    """torchvision's loss of box_convert(p, fmt, "xyxy") restated in torch
    (per box), p a tensor in `fmt` (autograd flows back to it)."""
    torch = pytest.importorskip("torch")

    def to_xyxy(b):
        a0, a1, a2, a3 = b.unbind(-1)
        if fmt == "xyxy":
            return a0, a1, a2, a3
        if fmt == "xywh":
            return a0, a1, a0 + a2, a1 + a3
        return a0 - 0.5 * a2, a1 - 0.5 * a3, a0 + 0.5 * a2, a1 + 0.5 * a3

    x1, y1, x2, y2 = to_xyxy(p)
    x1g, y1g, x2g, y2g = to_xyxy(t)
    xk1, yk1 = torch.max(x1, x1g), torch.max(y1, y1g)
    xk2, yk2 = torch.min(x2, x2g), torch.min(y2, y2g)
    inter = torch.zeros_like(x1)
    mask = (yk2 > yk1) & (xk2 > xk1)
    inter[mask] = (xk2[mask] - xk1[mask]) * (yk2[mask] - yk1[mask])
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    iou = inter / (union + eps)
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    if kind == "giou":
        area_c = (xc2 - xc1) * (yc2 - yc1)
        return 1 - (iou - ((area_c - union) / (area_c + eps)))
    diag = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    xp, yp = (x2 + x1) / 2, (y2 + y1) / 2
    xg, yg = (x1g + x2g) / 2, (y1g + y2g) / 2
    diou = 1 - iou + (((xp - xg) ** 2) + ((yp - yg) ** 2)) / diag
    if kind == "diou":
        return diou
    v = (4 / (torch.pi ** 2)) * torch.pow(
        torch.atan((x2g - x1g) / (y2g - y1g)) - torch.atan((x2 - x1) / (y2 - y1)), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou + alpha * v


def torch_loss_grad(kind, t, p, fmt="xyxy", eps=1e-7):
    torch = pytest.importorskip("torch")
    tp = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    ref = torch_ref(kind, torch.tensor(t, dtype=torch.float64), tp, fmt, eps)
    ref.sum().backward()
    return ref.detach().numpy(), tp.grad.numpy()


# ----------------------------------------------------------------- data
def boxes(rng, n, scale=10.0, fmt="xyxy"):
    xy = rng.random((n, 2)) * scale
    wh = rng.random((n, 2)) * scale * 0.5 + 0.01
    return np_from_xyxy(np.concatenate([xy, xy + wh], axis=1), fmt)


def degenerate_pairs():
    """(target, prediction) xyxy pairs: zero width/height, points,
    identical, disjoint, far apart, touching, nested, shared edges (ties in
    every max/min)."""
    return np.array([
        [[0, 0, 2, 2], [0, 0, 2, 2]],          # identical
        [[0, 0, 2, 2], [3, 3, 5, 6]],          # disjoint
        [[0, 0, 2, 2], [1e6, 1e6, 1e6 + 2, 1e6 + 3]],   # far apart
        [[0, 0, 2, 2], [2, 0, 4, 2]],          # touching edge
        [[0, 0, 2, 2], [1, 1, 1, 3]],          # zero width prediction
        [[0, 0, 2, 2], [1, 1, 3, 1]],          # zero height prediction
        [[1, 1, 3, 1], [0, 0, 2, 2]],          # zero height target
        [[1, 1, 1, 1], [1, 1, 1, 1]],          # identical points
        [[0, 0, 0, 0], [1, 1, 1, 1]],          # two distinct points
        [[0, 0, 2, 2], [1, 1, 1, 1]],          # point inside a box
        [[0, 0, 4, 4], [1, 1, 2, 2]],          # nested (prediction inside)
        [[1, 1, 2, 2], [0, 0, 4, 4]],          # nested (target inside)
        [[0, 0, 4, 4], [0, 1, 4, 2]],          # shared x edges
        [[0, 0, 2, 3], [1, 0, 3, 3]],          # shared y edges
        [[0, 0, 2, 2], [0, 0, 0, 0]],          # point at a corner
    ], dtype=np.float64)


def torch_defined(kind, t, p):
    """Rows where torchvision's formula is finite in value and gradient
    (CIoU's atan(w / h) has no derivative at h = 0 and no value at w = h = 0)."""
    if kind != "ciou":
        return np.ones(len(t), bool)
    return (t[:, 3] > t[:, 1]) & (p[:, 3] > p[:, 1])


def mixed(rng, n):
    t = np.concatenate([boxes(rng, n), degenerate_pairs()[:, 0]])
    p = np.concatenate([boxes(rng, n), degenerate_pairs()[:, 1]])
    p[: n // 3] = t[: n // 3] + rng.normal(size=(n // 3, 4)) * 0.3     # overlapping
    p[:, 2:] = np.maximum(p[:, 2:], p[:, :2])
    return t, p


# -------------------------------------------------- values and autograd
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", list(LOSSES))
def test_values_and_autograd_in_every_format(kind, fmt):
    rng = np.random.default_rng(0)
    t, p = mixed(rng, 60)
    ok = torch_defined(kind, t, p)
    tf, pf = np_from_xyxy(t, fmt), np_from_xyxy(p, fmt)
    cls = LOSSES[kind][0]
    value = cls(box_format=fmt, reduction="none")(tf, pf)
    grad = cls(box_format=fmt, reduction="sum").gradient(tf, pf)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    ref_v, ref_g = torch_loss_grad(kind, tf[ok], pf[ok], fmt)
    np.testing.assert_allclose(value[ok], ref_v, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(value[ok], np_ref(kind, tf[ok], pf[ok], fmt), rtol=1e-13,
                               atol=1e-15)
    np.testing.assert_allclose(grad[ok], ref_g, rtol=1e-11, atol=1e-13)
    assert ok.sum() > len(t) - 10       # CIoU: only the zero-height pairs are left out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", list(LOSSES))
def test_finite_differences_in_every_format(kind, fmt):
    """Central differences of the float64 reference (CIoU: with α held at
    its value, the gradient torchvision defines)."""
    rng = np.random.default_rng(1)
    t, p = boxes(rng, 25), boxes(rng, 25)
    p[:10] = t[:10] + rng.normal(size=(10, 4)) * 0.1       # overlapping boxes
    p[:, 2:] = np.maximum(p[:, 2:], p[:, :2] + 0.05)
    tf, pf = np_from_xyxy(t, fmt), np_from_xyxy(p, fmt)
    g = LOSSES[kind][0](box_format=fmt, reduction="sum").gradient(tf, pf)
    alpha = None
    if kind == "ciou":
        _, iou = np_diou(t, p, with_iou=True)
        v = (4 / math.pi ** 2) * (np.arctan((t[:, 2] - t[:, 0]) / (t[:, 3] - t[:, 1]))
                                  - np.arctan((p[:, 2] - p[:, 0]) / (p[:, 3] - p[:, 1]))) ** 2
        alpha = v / (1 - iou + v + 1e-7)

    def f(q):
        qx = np_to_xyxy(q, fmt)
        if kind == "ciou":
            return np_ciou(np_to_xyxy(tf, fmt), qx, alpha=alpha)
        return NP_REF[kind](np_to_xyxy(tf, fmt), qx)

    h = 1e-6
    num = np.empty_like(pf)
    for j in range(4):
        pp, pm = pf.copy(), pf.copy()
        pp[:, j] += h
        pm[:, j] -= h
        num[:, j] = (f(pp) - f(pm)) / (2 * h)         # boxes are independent
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def test_ciou_alpha_is_held_constant():
    """The CIoU gradient is not that of the full function (α varies with
    the boxes) but that of α·v with α fixed, as torchvision's no_grad."""
    t = np.array([[0.0, 0.0, 4.0, 2.0]])
    p = np.array([[0.5, 0.2, 2.5, 3.0]])
    g = fl.CIoULoss(reduction="sum").gradient(t, p)
    h = 1e-6
    full = np.empty(4)
    for j in range(4):
        pp, pm = p.copy(), p.copy()
        pp[0, j] += h
        pm[0, j] -= h
        full[j] = (np_ciou(t, pp)[0] - np_ciou(t, pm)[0]) / (2 * h)
    assert np.max(np.abs(full - g[0])) > 1e-4


# ----------------------------------------------------- box_convert rules
def test_box_convert_conventions():
    """One box in the three torchvision formats is one box."""
    xyxy = np.array([[4.0, 3.0, 6.0, 7.0]])
    xywh = np.array([[4.0, 3.0, 2.0, 4.0]])
    cxcywh = np.array([[5.0, 5.0, 2.0, 4.0]])
    np.testing.assert_array_equal(np_to_xyxy(xywh, "xywh"), xyxy)
    np.testing.assert_array_equal(np_to_xyxy(cxcywh, "cxcywh"), xyxy)
    t = np.array([[3.0, 2.0, 8.0, 5.0]])
    for cls, _ in LOSSES.values():
        want = cls()(t, xyxy)
        assert cls(box_format="xywh")(np_from_xyxy(t, "xywh"), xywh) == want
        assert cls(box_format="cxcywh")(np_from_xyxy(t, "cxcywh"), cxcywh) == want


@pytest.mark.parametrize("fmt", ["xywh", "cxcywh"])
@pytest.mark.parametrize("kind", list(LOSSES))
def test_format_is_the_xyxy_loss_of_the_converted_boxes(kind, fmt):
    """Values: the xyxy loss of box_convert(·, fmt, "xyxy") bit for bit
    (the kernel converts with the same float64 operations); gradient: the
    xyxy gradient times the conversion's Jacobian (the chain rule)."""
    rng = np.random.default_rng(5)
    t, p = mixed(rng, 40)
    tf, pf = np_from_xyxy(t, fmt), np_from_xyxy(p, fmt)
    tx, px = np_to_xyxy(tf, fmt), np_to_xyxy(pf, fmt)
    cls = LOSSES[kind][0]
    np.testing.assert_array_equal(cls(box_format=fmt, reduction="none")(tf, pf),
                                  cls(reduction="none")(tx, px))
    gx = cls(reduction="sum").gradient(tx, px)
    # d(x1, y1, x2, y2) / d(format coordinates)
    if fmt == "xywh":
        J = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1]], float)
    else:
        J = np.array([[1, 0, -.5, 0], [0, 1, 0, -.5], [1, 0, .5, 0], [0, 1, 0, .5]], float)
    np.testing.assert_allclose(cls(box_format=fmt, reduction="sum").gradient(tf, pf),
                               gx @ J, rtol=1e-13, atol=1e-15)


# -------------------------------------------------------- degenerate boxes
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", list(LOSSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_degenerate_boxes_are_finite(kind, fmt, dtype):
    pairs = degenerate_pairs()
    t, p = np_from_xyxy(pairs[:, 0], fmt).astype(dtype), np_from_xyxy(pairs[:, 1], fmt).astype(dtype)
    for reduction in ("none", "sum", "mean", "sum_over_batch_size"):
        v, g = LOSSES[kind][0](box_format=fmt, reduction=reduction).loss_gradient(t, p)
        assert np.all(np.isfinite(v)) and np.all(np.isfinite(g)), (kind, fmt, reduction)
    rows = LOSSES[kind][0](box_format=fmt, reduction="none")(t, p)
    ref = np_ref(kind, t.astype(np.float64), p.astype(np.float64), fmt)
    defined = np.isfinite(ref)
    assert defined.sum() >= len(pairs) - 4      # CIoU: torchvision's 0/0 at points
    np.testing.assert_allclose(rows[defined], ref[defined],
                               rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-7)


def test_degenerate_values_by_hand():
    pairs = degenerate_pairs()
    t, p = pairs[:, 0], pairs[:, 1]
    for kind in LOSSES:
        rows = LOSSES[kind][0](reduction="none")(t, p)
        assert rows[0] == pytest.approx(0.0, abs=1e-7)     # identical boxes
        assert rows[7] == pytest.approx(1.0, abs=1e-12)    # identical points: 1 - 0/eps
        assert 1.0 < rows[2] < 3.0                          # far apart, every penalty < 1
        assert 1.0 < rows[1]                                # disjoint
    # points: no aspect term (CIoU == DIoU where a box has w = h = 0)
    pt = [7, 8]
    np.testing.assert_array_equal(fl.CIoULoss(reduction="none")(t[pt], p[pt]),
                                  fl.DIoULoss(reduction="none")(t[pt], p[pt]))
    # a zero-height box: atan(w / 0) is the limit π/2
    v = fl.CIoULoss(reduction="none")(t[5:6], p[5:6])[0]
    diou, iou = np_diou(t[5:6], p[5:6], with_iou=True)
    vv = (4 / math.pi ** 2) * (math.pi / 4 - math.pi / 2) ** 2
    assert v == pytest.approx(diou[0] + vv / (1 - iou[0] + vv + 1e-7) * vv, rel=1e-14)


def test_ciou_gradient_at_zero_height_is_the_limit():
    """Where torch's atan(w / h) gradient is NaN (h = 0) ours is the limit
    of torch's gradient as h -> 0+ (atan2's derivative)."""
    t = np.array([[0.0, 0.0, 2.0, 2.0]])
    p = np.array([[3.0, 3.0, 5.0, 3.0]])     # disjoint: only the aspect term is singular
    g0 = fl.CIoULoss(reduction="sum").gradient(t, p)
    assert np.all(np.isfinite(g0))
    prev = None
    for h in (1e-4, 1e-6, 1e-8):
        q = p.copy()
        q[0, 3] += h
        _, gt = torch_loss_grad("ciou", t, q)
        err = np.max(np.abs(gt - g0))
        assert prev is None or err < prev
        prev = err
    assert prev < 1e-6


def test_eps_zero_identical_boxes_ciou_is_finite():
    b = np.array([[0.0, 0.0, 2.0, 3.0]])
    for cls, _ in LOSSES.values():
        v, g = cls(eps=0.0).loss_gradient(b, b)
        assert v == 0.0 and np.all(np.isfinite(g))


# ------------------------------------------------ reductions, weights, dtypes
@pytest.mark.parametrize("kind", list(LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "sum_over_batch_size"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reductions_weights_dtypes(kind, reduction, weighted, dtype):
    rng = np.random.default_rng(2)
    fmt = FORMATS[rng.integers(3)]
    t = boxes(rng, 40, fmt=fmt).astype(dtype)
    p = boxes(rng, 40, fmt=fmt).astype(dtype)
    w = rng.random(40) if weighted else None
    if weighted:
        w[::7] = 0.0
    per = np_ref(kind, t, p, fmt)
    ww = np.ones(40) if w is None else w
    cls, fn = LOSSES[kind]
    loss = cls(box_format=fmt, reduction=reduction)
    value, grad = loss.loss_gradient(t, p, sample_weight=w)
    _, g_sum = torch_loss_grad(kind, t.astype(np.float64), p.astype(np.float64), fmt)
    g_sum = g_sum * ww[:, None]
    tol = 2e-6 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype
    div = {"none": 1.0, "sum": 1.0, "mean": ww.sum(), "sum_over_batch_size": 40.0}[reduction]
    if reduction == "none":
        assert value.dtype == dtype and value.shape == (40,)
        np.testing.assert_allclose(value, ww * per, rtol=tol, atol=1e-7)
    else:
        assert type(value) is float
        assert value == pytest.approx(np.sum(ww * per) / div, rel=tol)
    np.testing.assert_allclose(grad, g_sum / div, rtol=tol * 10, atol=1e-7 / div)
    np.testing.assert_array_equal(
        fn(t, p, sample_weight=w, reduction=reduction, box_format=fmt), value)


def test_eps_registry_and_signature():
    rng = np.random.default_rng(3)
    t, p = boxes(rng, 5), boxes(rng, 5)
    for kind, (cls, fn) in LOSSES.items():
        assert fn(t, p, eps=1e-3) == pytest.approx(np.mean(np_ref(kind, t, p, eps=1e-3)),
                                                   rel=1e-13)
        assert fl.get(cls.function_name).eps == 1e-7
        assert fl.get(cls.__name__, eps=0.5).eps == 0.5
        assert fl.get(cls.function_name, box_format="cxcywh").box_format == "cxcywh"
        assert cls(1e-3, "xywh").get_params() == {"eps": 1e-3, "box_format": "xywh",
                                                  "reduction": "mean"}
        z = np.zeros((3, 4))
        v, g = cls().loss_gradient(z, z)               # all points: 0/eps
        assert np.isfinite(v) and np.all(np.isfinite(g))
        assert not hasattr(cls(), "gradient_hessian")
    assert {"DIoULoss", "diou_loss", "CIoULoss", "ciou_loss"} <= set(fl.available())


# ---------------------------------------------------------------- bad input
def _methods(loss):
    return {"__call__": lambda t, p: loss(t, p), "loss": lambda t, p: loss.loss(t, p),
            "gradient": lambda t, p: loss.gradient(t, p),
            "loss_gradient": lambda t, p: loss.loss_gradient(t, p)}


NEGATIVE = {   # one box per format with a negative width, and one with a negative height
    "xyxy": ([2.0, 0.0, 1.0, 1.0], [0.0, 2.0, 1.0, 1.0]),
    "xywh": ([0.0, 0.0, -1.0, 1.0], [0.0, 0.0, 1.0, -0.5]),
    "cxcywh": ([1.0, 1.0, -2.0, 1.0], [1.0, 1.0, 2.0, -1e-30]),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", list(LOSSES))
def test_negative_width_or_height_names_the_argument(kind, fmt):
    good = np_from_xyxy(np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 3.0, 2.0]]), fmt)
    cls, fn = LOSSES[kind]
    for bad_row in NEGATIVE[fmt]:
        bad = good.copy()
        bad[1] = bad_row
        for name, (t, p) in {"y_true": (bad, good), "y_pred": (good, bad)}.items():
            for dtype in (np.float64, np.float32):
                tt, pp = t.astype(dtype), p.astype(dtype)
                for method, call in _methods(cls(box_format=fmt)).items():
                    with pytest.raises(ValueError, match=f"{name} row 1 .*{fmt}"):
                        call(tt, pp)
                with pytest.raises(ValueError, match=name):
                    fn(tt, pp, box_format=fmt)
    # a valid xyxy box is not a valid box in another format when its
    # "x2" is negative: the check reads the given format
    if fmt != "xyxy":
        neg = np.array([[-3.0, -3.0, -1.0, -1.0]])
        with pytest.raises(ValueError, match="y_pred"):
            fn(good[:1], neg, box_format=fmt)
        fl.get(cls.function_name)(neg, neg)            # fine as xyxy


@pytest.mark.parametrize("kind", list(LOSSES))
def test_unknown_box_format_names_box_format(kind):
    cls, fn = LOSSES[kind]
    good = np.array([[0.0, 0.0, 1.0, 1.0]])
    for bad in ("xyhw", "XYXY", "cxcy", None, 3, ("xyxy",)):
        with pytest.raises(ValueError, match="box_format"):
            cls(box_format=bad)
        with pytest.raises(ValueError, match="box_format"):
            fn(good, good, box_format=bad)
        with pytest.raises(ValueError, match="box_format"):
            fl.get(cls.function_name, box_format=bad)
    loss = cls()
    loss.box_format = "yxyx"          # set after construction: every method still checks
    for method, call in _methods(loss).items():
        with pytest.raises(ValueError, match="box_format"):
            call(good, good)


@pytest.mark.parametrize("kind", list(LOSSES))
def test_other_bad_input_and_nan(kind):
    cls, fn = LOSSES[kind]
    good = np.array([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="y_pred"):
        fn(np.ones((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="shape"):
        fn(good, np.ones((2, 4)))
    with pytest.raises(ValueError, match="y_pred"):
        fn(good.reshape(-1), good.reshape(-1))
    with pytest.raises(ValueError, match="eps"):
        cls(eps=-1.0)
    with pytest.raises(ValueError, match="sample_weight"):
        fn(good, good, sample_weight=[1.0, 2.0])
    with pytest.raises(TypeError, match="y_pred"):
        fn(good, np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError, match="out"):
        cls().gradient(good, good, out=np.empty((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="reduction"):
        cls(reduction="avg")
    for fmt in FORMATS:
        for j in range(4):
            nan = good.copy()
            nan[0, j] = np.nan
            assert np.isnan(fn(good, nan, box_format=fmt)), (fmt, j)
            v, g = cls(box_format=fmt).loss_gradient(nan, good)
            assert np.isnan(v)
    p = good.copy()
    cls().loss_gradient(good, p)
    np.testing.assert_array_equal(p, good)


# ------------------------------------------- threads, out=, one pass
@pytest.mark.parametrize("kind", list(LOSSES))
def test_deterministic_across_threads_and_out(kind):
    rng = np.random.default_rng(4)
    for fmt in FORMATS:
        t = boxes(rng, 20000, fmt=fmt).astype(np.float32)
        p = boxes(rng, 20000, fmt=fmt).astype(np.float32)
        w = rng.random(20000)
        loss = LOSSES[kind][0](box_format=fmt)
        results = []
        for k in (1, 2, 3):
            with fl.num_threads(k):
                results.append(loss.loss_gradient(t, p, sample_weight=w))
        for v, g in results[1:]:
            assert v == results[0][0]
            np.testing.assert_array_equal(g, results[0][1])
        out = np.empty_like(p)
        assert loss.gradient(t, p, sample_weight=w, out=out) is out
        np.testing.assert_array_equal(out, results[0][1])


def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


@pytest.mark.parametrize("kind", list(LOSSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_pass_same_bits(kind, dtype):
    """SPEC §1: loss_gradient() is (loss(), gradient()) bit for bit for every
    reduction and format, weights or not, one block or several (the box
    kernel has no vector path, so this holds on every SIMD path alike)."""
    rng = np.random.default_rng(4)
    for n in (7, 3001):
        for fmt in FORMATS:
            t = np_from_xyxy(np.concatenate([boxes(rng, n), degenerate_pairs()[:, 0]]),
                             fmt).astype(dtype)
            p = np_from_xyxy(np.concatenate([boxes(rng, n), degenerate_pairs()[:, 1]]),
                             fmt).astype(dtype)
            for reduction in ("mean", "sum", "none", "sum_over_batch_size"):
                loss = LOSSES[kind][0](box_format=fmt, reduction=reduction)
                for w in (None, rng.random(t.shape[0])):
                    v, g = loss.loss_gradient(t, p, w)
                    assert _bits(v) == _bits(loss.loss(t, p, w))
                    assert _bits(g) == _bits(loss.gradient(t, p, w))


def test_ciou_aspect_term_on_flat_and_thin_boxes():
    """A flat target (h = 0) against a thin prediction (w = 0): the aspect
    angles are π/2 and 0 (torchvision: atan(w/0) = π/2, atan(0/h) = 0), so
    v = 4/π² (π/2)² = 1 and, the boxes being disjoint (IoU = 0),
    CIoU - DIoU = α v = 1 / (2 + eps)."""
    t = np.array([[0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 2.0, 2.0]])
    p = np.array([[5.0, 5.0, 5.0, 7.0], [5.0, 5.0, 5.0, 7.0]])
    gap = fl.CIoULoss(reduction="none")(t, p) - fl.DIoULoss(reduction="none")(t, p)
    assert gap[0] == pytest.approx(1.0 / (2.0 + 1e-7), rel=1e-14)
    # a square target against the thin box: v = 4/π² (π/4)² = 1/4
    assert gap[1] == pytest.approx(0.25 * 0.25 / (1.0 + 0.25 + 1e-7), rel=1e-14)
    g = fl.CIoULoss(reduction="sum").gradient(t, p)
    assert np.all(np.isfinite(g))
