"""GIoU's vector form (simd/boxes.c) on every SIMD path: values against a
float64 NumPy restatement of torchvision's formula, gradients against
central differences and against a float64 NumPy restatement of torch
autograd's subgradient at ties, the lengths that leave a partial vector
(every remainder of every lane count), weights and per-box output, every
box format, the degenerate pairs (ties in every max/min), infinities and
NaN.  The vector form claims the closed form's bits box by box (same
operations, no fused multiply-add): checked against the scalar path too."""
import numpy as np
import pytest

import fastloss as fl

from conftest import central_gradient
from test_detection import FORMATS, np_from_xyxy, np_to_xyxy


def ref_giou(t, p, eps=1e-7):
    """generalized_box_iou_loss per box, float64, xyxy."""
    x1, y1, x2, y2 = p.T
    a1, b1, a2, b2 = t.T
    ix1, iy1, ix2, iy2 = np.maximum(x1, a1), np.maximum(y1, b1), np.minimum(x2, a2), np.minimum(y2, b2)
    inter = np.where((iy2 > iy1) & (ix2 > ix1), (ix2 - ix1) * (iy2 - iy1), 0.0)
    union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
    cw = np.maximum(x2, a2) - np.minimum(x1, a1)
    ch = np.maximum(y2, b2) - np.minimum(y1, b1)
    area_c = cw * ch
    return 1 - (inter / (union + eps) - (area_c - union) / (area_c + eps))


def ref_giou_grad(t, p, eps=1e-7):
    """d l / d p (xyxy) as torch autograd gives it: max/min pass half to
    each side at a tie, an empty intersection passes nothing."""
    def dmax(a, b):          # d max(a, b) / da
        return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))
    x1, y1, x2, y2 = p.T
    a1, b1, a2, b2 = t.T
    ix1, iy1, ix2, iy2 = np.maximum(x1, a1), np.maximum(y1, b1), np.minimum(x2, a2), np.minimum(y2, b2)
    ov = (iy2 > iy1) & (ix2 > ix1)
    iw, ih = ix2 - ix1, iy2 - iy1
    inter = np.where(ov, iw * ih, 0.0)
    w1, h1 = x2 - x1, y2 - y1
    union = w1 * h1 + (a2 - a1) * (b2 - b1) - inter
    cw = np.maximum(x2, a2) - np.minimum(x1, a1)
    ch = np.maximum(y2, b2) - np.minimum(y1, b1)
    C = cw * ch
    # l = 1 - I/(U+eps) + (C - U)/(C + eps)
    with np.errstate(over="ignore"):                # areas near overflow: squares -> inf
        dl_dI = -1 / (union + eps)                  # at fixed U
        dl_dU = inter / (union + eps) ** 2 - 1 / (C + eps)
        dl_dC = (union + eps) / (C + eps) ** 2
    dI = np.where(ov, dl_dI - dl_dU, 0.0)           # U = A(p) + A(t) - I
    g = np.zeros_like(p)
    g[:, 0] = -dl_dU * h1 - dI * ih * dmax(x1, a1) - dl_dC * ch * dmax(-x1, -a1)
    g[:, 2] = dl_dU * h1 + dI * ih * dmax(-x2, -a2) + dl_dC * ch * dmax(x2, a2)
    g[:, 1] = -dl_dU * w1 - dI * iw * dmax(y1, b1) - dl_dC * cw * dmax(-y1, -b1)
    g[:, 3] = dl_dU * w1 + dI * iw * dmax(-y2, -b2) + dl_dC * cw * dmax(y2, b2)
    return g


def chain_to(fmt, g):
    """d l / d(p in fmt) from d l / d(p in xyxy)."""
    g0, g1, g2, g3 = g.T
    if fmt == "xyxy":
        return g
    if fmt == "xywh":
        return np.stack([g0 + g2, g1 + g3, g2, g3], axis=1)
    return np.stack([g0 + g2, g1 + g3, 0.5 * (g2 - g0), 0.5 * (g3 - g1)], axis=1)


def random_boxes(rng, n):
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(1, 30, (n, 2))
    t = np.hstack([xy, xy + wh])
    pxy = xy + rng.normal(0, 0.4, (n, 2)) * wh
    pwh = wh * rng.uniform(0.5, 1.5, (n, 2))
    return t, np.hstack([pxy, pxy + pwh])


def degenerate_pairs():
    return np.array([
        [[0, 0, 2, 2], [0, 0, 2, 2]],          # identical: ties everywhere
        [[0, 0, 2, 2], [3, 3, 5, 6]],          # disjoint
        [[0, 0, 2, 2], [1e6, 1e6, 1e6 + 2, 1e6 + 3]],
        [[0, 0, 2, 2], [2, 0, 4, 2]],          # touching edge
        [[0, 0, 2, 2], [1, 1, 1, 3]],          # zero width
        [[0, 0, 2, 2], [1, 1, 3, 1]],          # zero height
        [[1, 1, 1, 1], [1, 1, 1, 1]],          # identical points
        [[0, 0, 4, 4], [1, 1, 2, 2]],          # nested
        [[1, 1, 2, 2], [0, 0, 4, 4]],
        [[0, 0, 4, 4], [0, 1, 4, 2]],          # shared x edges
        [[0, 0, 2, 3], [1, 0, 3, 3]],          # shared y edges
        [[0, 0, 2, 2], [0, 0, 0, 0]],
        [[1e-300, 0, 2e-300, 1e-300], [0, 0, 1e-300, 1e-300]],   # tiny (subnormal areas)
        [[0, 0, 1e150, 1e150], [0, 0, 2e150, 1e150]],            # areas near overflow
    ], dtype=np.float64)


def run(path, t, p, fmt="xyxy", w=None, reduction="none", dtype=np.float64):
    fl.set_simd_path(path)
    loss = fl.GIoULoss(box_format=fmt, reduction=reduction)
    return loss.loss_gradient(t.astype(dtype), p.astype(dtype), sample_weight=w)


@pytest.mark.parametrize("fmt", FORMATS)
def test_values_and_gradients_against_references(simd_path, fmt):
    rng = np.random.default_rng(7)
    t, p = random_boxes(rng, 203)
    tf, pf = np_from_xyxy(t, fmt), np_from_xyxy(p, fmt)
    v, g = run(simd_path, tf, pf, fmt)
    np.testing.assert_allclose(v, ref_giou(t, p), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g, chain_to(fmt, ref_giou_grad(t, p)), rtol=1e-11, atol=1e-15)
    # central differences through the reference value, on a few boxes
    for i in (0, 57, 202):
        fd = central_gradient(lambda q: ref_giou(t[i:i + 1], np_to_xyxy(q, fmt))[0], pf[i:i + 1],
                              h=1e-6)
        np.testing.assert_allclose(g[i:i + 1], fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_remainder_weights_rows_and_scalar_bits(simd_path, dtype):
    rng = np.random.default_rng(11)
    for n in range(1, 20):                 # every tail of 2, 4 and 8 lanes
        t, p = random_boxes(rng, n)
        w = rng.uniform(0, 2, n)
        for fmt in FORMATS:
            tf, pf = np_from_xyxy(t, fmt).astype(dtype), np_from_xyxy(p, fmt).astype(dtype)
            v, g = run(simd_path, tf, pf, fmt, w=w, dtype=dtype)
            v0, g0 = run("scalar", tf, pf, fmt, w=w, dtype=dtype)
            np.testing.assert_array_equal(v, v0)
            np.testing.assert_array_equal(g, g0)
            t64, p64 = np_to_xyxy(tf.astype(np.float64), fmt), np_to_xyxy(pf.astype(np.float64), fmt)
            tol = 1e-6 if dtype == np.float32 else 1e-13
            np.testing.assert_allclose(v, w * ref_giou(t64, p64), rtol=tol, atol=1e-7 * tol)
            ref_g = w[:, None] * chain_to(fmt, ref_giou_grad(t64, p64))
            np.testing.assert_allclose(g, ref_g, rtol=10 * tol, atol=1e-6 * tol)
            s, gs = run(simd_path, tf, pf, fmt, w=w, reduction="sum", dtype=dtype)
            assert s == pytest.approx(float(np.sum(w * ref_giou(t64, p64))), rel=tol)
            np.testing.assert_array_equal(gs, g)


@pytest.mark.parametrize("fmt", FORMATS)
def test_degenerate_pairs_and_ties(simd_path, fmt):
    pairs = degenerate_pairs()
    t, p = pairs[:, 0], pairs[:, 1]
    # shuffled into one call, so each pair sits at several lane positions
    order = np.concatenate([np.arange(len(t))] * 3)
    np.random.default_rng(3).shuffle(order)
    t, p = t[order], p[order]
    tf, pf = np_from_xyxy(t, fmt), np_from_xyxy(p, fmt)
    v, g = run(simd_path, tf, pf, fmt)
    ref = ref_giou(np_to_xyxy(tf, fmt), np_to_xyxy(pf, fmt))
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(v, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        g, chain_to(fmt, ref_giou_grad(np_to_xyxy(tf, fmt), np_to_xyxy(pf, fmt))), rtol=1e-10, atol=1e-12)
    v0, g0 = run("scalar", tf, pf, fmt)
    np.testing.assert_array_equal(v, v0)
    np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinities_and_nan_stay_in_their_box(simd_path, dtype):
    rng = np.random.default_rng(5)
    t, p = random_boxes(rng, 21)
    p[3] = [np.nan, 0, 1, 1]                   # NaN propagates (SPEC §1)
    p[10] = [0, 0, 1, np.nan]
    t[17] = [0, 0, np.inf, 1]                  # an infinite box: C = inf
    p[8] = [-np.inf, 0, 1, 1]
    v, g = run(simd_path, t, p, dtype=dtype)
    v0, g0 = run("scalar", t, p, dtype=dtype)
    np.testing.assert_array_equal(v, v0)       # NaN where the closed form has NaN
    np.testing.assert_array_equal(g, g0)
    for i in (3, 10):
        assert np.isnan(v[i])
    ok = np.setdiff1d(np.arange(21), [3, 8, 10, 17])
    t64, p64 = t.astype(dtype).astype(np.float64), p.astype(dtype).astype(np.float64)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(v[ok], ref_giou(t64[ok], p64[ok]), rtol=tol)
    assert np.all(np.isfinite(g[ok]))
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(v[[8, 17]], ref_giou(t64[[8, 17]], p64[[8, 17]]), rtol=tol)
    # the total is NaN (a NaN box), and the mean reduction says so
    fl.set_simd_path(simd_path)
    assert np.isnan(fl.giou_loss(t.astype(dtype), p.astype(dtype)))


def test_long_input_is_the_same_on_every_path_and_thread_count(simd_path):
    rng = np.random.default_rng(9)
    t, p = random_boxes(rng, 70001)
    fl.set_simd_path(simd_path)
    out = []
    for k in (1, 2, 3):
        with fl.num_threads(k):
            out.append(fl.GIoULoss().loss_gradient(t.astype(np.float32), p.astype(np.float32)))
    for v, g in out[1:]:
        assert v == out[0][0]
        np.testing.assert_array_equal(g, out[0][1])
    np.testing.assert_allclose(out[0][0], np.mean(ref_giou(t.astype(np.float32).astype(np.float64),
                                                           p.astype(np.float32).astype(np.float64))),
                               rtol=1e-12)
