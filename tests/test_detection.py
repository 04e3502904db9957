"""GIoU loss against torchvision's formula (written here in NumPy and in torch
for autograd), finite differences and the degenerate cases of the issue."""
import numpy as np
import pytest

import fastloss as fl


def np_giou(t, p, eps=1e-7):
    """Per-box 1 - GIoU, torchvision's generalized_box_iou_loss in float64."""
    t = np.asarray(t, np.float64)
    p = np.asarray(p, np.float64)
    x1, y1, x2, y2 = p.T
    a1, b1, a2, b2 = t.T
    ix1, iy1 = np.maximum(x1, a1), np.maximum(y1, b1)
    ix2, iy2 = np.minimum(x2, a2), np.minimum(y2, b2)
    mask = (iy2 > iy1) & (ix2 > ix1)
    inter = np.where(mask, (ix2 - ix1) * (iy2 - iy1), 0.0)
    union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
    iou = inter / (union + eps)
    cx1, cy1 = np.minimum(x1, a1), np.minimum(y1, b1)
    cx2, cy2 = np.maximum(x2, a2), np.maximum(y2, b2)
    area_c = (cx2 - cx1) * (cy2 - cy1)
    return 1 - (iou - (area_c - union) / (area_c + eps))


def torch_giou(t, p, eps=1e-7):
    """The same formula in torch (torchvision cannot be imported here)."""
    torch = pytest.importorskip("torch")
    x1, y1, x2, y2 = p.unbind(-1)
    a1, b1, a2, b2 = t.unbind(-1)
    xk1, yk1 = torch.max(x1, a1), torch.max(y1, b1)
    xk2, yk2 = torch.min(x2, a2), torch.min(y2, b2)
    inter = torch.zeros_like(x1)
    mask = (yk2 > yk1) & (xk2 > xk1)
    inter[mask] = (xk2[mask] - xk1[mask]) * (yk2[mask] - yk1[mask])
    union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
    iou = inter / (union + eps)
    xc1, yc1 = torch.min(x1, a1), torch.min(y1, b1)
    xc2, yc2 = torch.max(x2, a2), torch.max(y2, b2)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    return 1 - (iou - ((area_c - union) / (area_c + eps)))


def boxes(rng, n, scale=10.0):
    xy = rng.random((n, 2)) * scale
    wh = rng.random((n, 2)) * scale * 0.5
    return np.concatenate([xy, xy + wh], axis=1)


def degenerate_pairs():
    """(target, prediction) pairs: zero width/height, identical, disjoint,
    touching, nested, shared edges (ties in every max/min)."""
    return np.array([
        [[0, 0, 2, 2], [0, 0, 2, 2]],          # identical
        [[0, 0, 2, 2], [3, 3, 5, 6]],          # disjoint
        [[0, 0, 2, 2], [2, 0, 4, 2]],          # touching edge
        [[0, 0, 2, 2], [1, 1, 1, 3]],          # zero width prediction
        [[0, 0, 2, 2], [1, 1, 3, 1]],          # zero height prediction
        [[1, 1, 1, 1], [1, 1, 1, 1]],          # identical points
        [[0, 0, 0, 0], [1, 1, 1, 1]],          # two distinct points
        [[0, 0, 4, 4], [1, 1, 2, 2]],          # nested
        [[0, 0, 4, 4], [0, 1, 4, 2]],          # shared x edges
        [[0, 0, 2, 3], [1, 0, 3, 3]],          # shared y edges
    ], dtype=np.float64)


def test_values_and_autograd_random_and_degenerate():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    t = np.concatenate([boxes(rng, 50), degenerate_pairs()[:, 0]])
    p = np.concatenate([boxes(rng, 50), degenerate_pairs()[:, 1]])
    tp = torch.tensor(p, requires_grad=True)
    ref = torch_giou(torch.tensor(t), tp)
    ref.sum().backward()
    np.testing.assert_allclose(fl.GIoULoss(reduction="none")(t, p), ref.detach().numpy(),
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fl.GIoULoss(reduction="none")(t, p), np_giou(t, p), rtol=1e-13)
    g = fl.GIoULoss(reduction="sum").gradient(t, p)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, tp.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_finite_differences():
    rng = np.random.default_rng(1)
    t, p = boxes(rng, 30), boxes(rng, 30)
    p[:10] = t[:10] + rng.normal(size=(10, 4)) * 0.1       # overlapping boxes
    p[:, 2:] = np.maximum(p[:, 2:], p[:, :2] + 0.01)
    loss = fl.GIoULoss(reduction="sum")
    g = loss.gradient(t, p)
    h = 1e-6
    for i in range(30):
        for j in range(4):
            pp, pm = p.copy(), p.copy()
            pp[i, j] += h
            pm[i, j] -= h
            num = (np_giou(t, pp).sum() - np_giou(t, pm).sum()) / (2 * h)
            assert g[i, j] == pytest.approx(num, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reductions_weights_dtypes(reduction, weighted, dtype):
    rng = np.random.default_rng(2)
    t, p = boxes(rng, 40).astype(dtype), boxes(rng, 40).astype(dtype)
    w = rng.random(40) if weighted else None
    per = np_giou(t, p)
    ww = np.ones(40) if w is None else w
    loss = fl.GIoULoss(reduction=reduction)
    value, grad = loss.loss_gradient(t, p, sample_weight=w)
    # gradient of Σ w_i l_i from the float64 autograd-equivalent formula
    g_sum = fl.GIoULoss(reduction="sum").gradient(t.astype(np.float64), p.astype(np.float64),
                                                  sample_weight=w)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype
    if reduction == "none":
        assert value.dtype == dtype and value.shape == (40,)
        np.testing.assert_allclose(value, ww * per, rtol=tol)
        np.testing.assert_allclose(grad, g_sum, rtol=tol, atol=1e-9)
    elif reduction == "sum":
        assert value == pytest.approx(np.sum(ww * per), rel=tol)
        np.testing.assert_allclose(grad, g_sum, rtol=tol, atol=1e-9)
    else:
        assert value == pytest.approx(np.sum(ww * per) / ww.sum(), rel=tol)
        np.testing.assert_allclose(grad, g_sum / ww.sum(), rtol=tol, atol=1e-9)
    np.testing.assert_array_equal(fl.giou_loss(t, p, sample_weight=w, reduction=reduction),
                                  value)


def test_eps_and_function_form():
    rng = np.random.default_rng(3)
    t, p = boxes(rng, 5), boxes(rng, 5)
    assert fl.giou_loss(t, p, eps=1e-3) == pytest.approx(np.mean(np_giou(t, p, 1e-3)), rel=1e-13)
    assert fl.get("giou_loss").eps == 1e-7
    assert fl.get("GIoULoss", eps=0.5).eps == 0.5
    z = np.zeros((3, 4))
    v, g = fl.GIoULoss().loss_gradient(z, z)               # all points: 0/eps
    assert np.isfinite(v) and np.all(np.isfinite(g))


def test_bad_input_and_nan():
    good = np.array([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="y_pred"):
        fl.giou_loss(good, np.array([[2.0, 0.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="y_true"):
        fl.giou_loss(np.array([[0.0, 2.0, 1.0, 1.0]]), good)
    with pytest.raises(ValueError, match="y_pred"):
        fl.giou_loss(np.ones((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="shape"):
        fl.giou_loss(good, np.ones((2, 4)))
    with pytest.raises(ValueError, match="y_pred"):
        fl.giou_loss(good.reshape(-1), good.reshape(-1))
    with pytest.raises(ValueError, match="eps"):
        fl.GIoULoss(eps=-1.0)
    with pytest.raises(ValueError, match="sample_weight"):
        fl.giou_loss(good, good, sample_weight=[1.0, 2.0])
    with pytest.raises(TypeError, match="y_pred"):
        fl.giou_loss(good, np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError, match="out"):
        fl.GIoULoss().gradient(good, good, out=np.empty((1, 4), dtype=np.float32))
    nan = good.copy()
    nan[0, 1] = np.nan
    assert np.isnan(fl.giou_loss(good, nan))
    v, g = fl.GIoULoss().loss_gradient(nan, good)
    assert np.isnan(v)
    p = good.copy()
    fl.GIoULoss().loss_gradient(good, p)
    np.testing.assert_array_equal(p, good)


def test_deterministic_across_threads_and_out():
    rng = np.random.default_rng(4)
    t = boxes(rng, 20000).astype(np.float32)
    p = boxes(rng, 20000).astype(np.float32)
    w = rng.random(20000)
    loss = fl.GIoULoss()
    with fl.num_threads(1):
        v1, g1 = loss.loss_gradient(t, p, sample_weight=w)
    with fl.num_threads(2):
        v2, g2 = loss.loss_gradient(t, p, sample_weight=w)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)
    out = np.empty_like(p)
    assert loss.gradient(t, p, sample_weight=w, out=out) is out
    np.testing.assert_array_equal(out, g1)


def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_pass_same_bits(dtype):
    """SPEC §1: loss_gradient() is (loss(), gradient()) bit for bit for every
    reduction, weights or not, one block or several (the box kernel has no
    vector path, so this holds on every SIMD path alike)."""
    rng = np.random.default_rng(4)
    for n in (7, 3001):
        t = np.concatenate([boxes(rng, n), degenerate_pairs()[:, 0]]).astype(dtype)
        p = np.concatenate([boxes(rng, n), degenerate_pairs()[:, 1]]).astype(dtype)
        for reduction in ("mean", "sum", "none"):
            loss = fl.GIoULoss(reduction=reduction)
            for w in (None, rng.random(t.shape[0])):
                v, g = loss.loss_gradient(t, p, w)
                assert _bits(v) == _bits(loss.loss(t, p, w))
                assert _bits(g) == _bits(loss.gradient(t, p, w))
