"""The vector row kernels of simd/rows.c on every path (``simd_path``):

* ``sce_tile`` -- sparse softmax cross-entropy from logits with the lanes
  across samples: classes on an inner axis (``class_axis=1``, the plane-wise
  form) and short contiguous rows (C <= 24);
* ``sce_row`` -- the same loss on one long contiguous row.

Every value, gradient and hessian against float64 formulas written here, at
sizes that are not multiples of any vector width (tails), one sample, class
counts 1..40, tiles that end inside an image row and cross images, large
|logits|, -inf logits (some classes, and every class of a sample), NaN,
ignore_index, sample weights with zeros; the one-pass rules (loss() and
gradient() equal loss_gradient()'s parts bit for bit) and bit-identical
results at 1, 2 and 3 threads.
"""
import numpy as np
import pytest

import fastloss as fl


# ------------------------------------------------------------ references
def ref_sce(labels, x, w=None, ignore=None):
    """Per-sample loss, gradient and hessian diagonal of l = logsumexp(x) -
    x_y in float64 on rows (n, C); ignored samples 0; w multiplies both.
    A row of -inf logits: loss +inf, gradient -onehot, hessian 0."""
    x = np.asarray(x, dtype=np.float64)
    n, C = x.shape
    ign = np.zeros(n, bool) if ignore is None else labels == ignore
    y = np.where(ign, 0, labels)
    m = x.max(axis=1, keepdims=True)
    masked = np.isneginf(m[:, 0])
    msafe = np.where(masked[:, None], 0.0, m)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        e = np.exp(x - msafe)
        S = e.sum(axis=1, keepdims=True)
        p = e / S
        loss = (msafe[:, 0] - x[np.arange(n), y]) + np.log(S[:, 0])
    g = p.copy()
    g[np.arange(n), y] -= 1.0
    hess = p * (1.0 - p)
    loss[masked] = np.inf
    g[masked] = 0.0
    g[masked, y[masked]] = -1.0
    hess[masked] = 0.0
    wv = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        lw = np.where((wv == 0) & np.isinf(loss), 0.0, wv * loss)
    lw[ign] = 0.0
    g = g * wv[:, None]
    hess = hess * wv[:, None]
    g[ign] = 0.0
    hess[ign] = 0.0
    return lw, g, hess


def _tol(dtype):
    return (2e-5, 2e-6) if dtype == np.float32 else (1e-12, 1e-13)


def _close(a, b, dtype, scale=1.0):
    rtol, atol = _tol(dtype)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale)


def _to_axis1(x, shape):
    """Rows (n, C) of samples in C order of `shape` (N, H, W) moved to
    (N, C, H, W) (a contiguous copy)."""
    N, H, W = shape
    C = x.shape[1]
    return np.ascontiguousarray(np.moveaxis(x.reshape(N, H, W, C), -1, 1))


def _from_axis1(a):
    C = a.shape[1]
    return np.moveaxis(a, 1, -1).reshape(-1, C)


def _data(rng, n, C, dtype, scale=3.0):
    x = (rng.standard_normal((n, C)) * scale).astype(dtype)
    y = rng.integers(0, C, n)
    return x, y


# ------------------------------------------- contiguous rows, all class counts
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 255, 257, 600])
def test_rows_every_class_count(simd_path, dtype, n):
    rng = np.random.default_rng(n)
    L = fl.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    for C in list(range(1, 41)) + [63, 100, 1000]:
        x, y = _data(rng, n, C, dtype)
        l, g = L.loss_gradient(y, x)
        g2, h = L.gradient_hessian(y, x)
        rl, rg, rh = ref_sce(y, x)
        _close(l, rl, dtype, 10)
        _close(g, rg, dtype)
        _close(h, rh, dtype)
        np.testing.assert_array_equal(g2, g)
        np.testing.assert_array_equal(L.loss(y, x), l)
        np.testing.assert_array_equal(L.gradient(y, x), g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [1, 2, 10, 17, 32, 33, 1000])
def test_rows_extremes(simd_path, dtype, C):
    """Large |logits|, -inf logits, fully masked rows, ignored rows, weights
    with zeros, a NaN row."""
    rng = np.random.default_rng(C)
    n = 300
    big = 80.0 if dtype == np.float32 else 600.0
    x, y = _data(rng, n, C, dtype, scale=big)
    x[5] = np.inf * -1                      # every class masked
    if C > 1:
        x[7, (y[7] + 1) % C] = -np.inf      # one masked class, not the label
        x[8, :C // 2] = -np.inf              # half the classes masked
        y[8] = C - 1
    x[9] = big                              # all equal, large
    y[11] = -100                            # ignored
    x[11] = np.nan                          # ... even with NaN logits
    w = rng.uniform(0.5, 2.0, n)
    w[12] = 0.0
    x[12] = -np.inf                         # weight 0 on an infinite loss: 0
    L = fl.SparseCategoricalCrossentropy(from_logits=True, ignore_index=-100,
                                         reduction="none")
    l, g = L.loss_gradient(y, x, sample_weight=w)
    _, h = L.gradient_hessian(y, x, sample_weight=w)
    rl, rg, rh = ref_sce(y, x, w, ignore=-100)
    assert np.isinf(l[5]) and l[12] == 0.0 and l[11] == 0.0
    _close(l, rl, dtype, 100)
    _close(g, rg, dtype)
    _close(h, rh, dtype)
    np.testing.assert_array_equal(L.loss(y, x, sample_weight=w), l)
    # a NaN logit in a counted row: its loss and gradient row are NaN
    x[20, 0] = np.nan
    l, g = L.loss_gradient(y, x, sample_weight=w)
    assert np.isnan(l[20]) and np.isnan(g[20]).all()
    assert np.isfinite(np.delete(l, [5, 20])).all()


# ------------------------------------------------- classes on an inner axis
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 5), (3, 7, 43), (2, 17, 31), (1, 600, 1)])
@pytest.mark.parametrize("C", [1, 3, 16, 21, 40])
def test_planes(simd_path, dtype, shape, C):
    """(N, C, H, W) logits against the float64 reference on the rows; the
    tiles (256 positions) end inside an image and at image ends."""
    rng = np.random.default_rng(C * 1000 + sum(shape))
    n = int(np.prod(shape))
    x, y = _data(rng, n, C, dtype, scale=20.0)
    if n > 4:
        x[3] = -np.inf
        y[4] = -1
        if C > 1:
            x[2, (y[2] + 1) % C] = -np.inf
    w = rng.uniform(0.0, 2.0, n)
    x4, y4, w4 = _to_axis1(x, shape), y.reshape(shape), w.reshape(shape)
    L = fl.SparseCategoricalCrossentropy(from_logits=True, class_axis=1, ignore_index=-1,
                                         reduction="none")
    l, g = L.loss_gradient(y4, x4, sample_weight=w4)
    g2, h = L.gradient_hessian(y4, x4, sample_weight=w4)
    rl, rg, rh = ref_sce(y, x, w, ignore=-1)
    _close(l.reshape(-1), rl, dtype, 100)
    _close(_from_axis1(g), rg, dtype)
    _close(_from_axis1(h), rh, dtype)
    np.testing.assert_array_equal(g2, g)
    np.testing.assert_array_equal(L.loss(y4, x4, sample_weight=w4), l)
    np.testing.assert_array_equal(L.gradient(y4, x4, sample_weight=w4), g)
    # the mean agrees with the rows layout's
    Lm = fl.SparseCategoricalCrossentropy(from_logits=True, class_axis=1, ignore_index=-1)
    Lr = fl.SparseCategoricalCrossentropy(from_logits=True, ignore_index=-1)
    rtol, _ = _tol(dtype)
    assert Lm(y4, x4, sample_weight=w4) == pytest.approx(Lr(y, x, sample_weight=w),
                                                         rel=rtol, abs=rtol)


# --------------------------------------------------------------- threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["rows10", "rows1000", "planes"])
def test_threads_bit_identical(simd_path, dtype, layout):
    rng = np.random.default_rng(3)
    if layout == "planes":
        x = (rng.standard_normal((3, 21, 97, 61)) * 4).astype(dtype)
        y = rng.integers(0, 21, (3, 97, 61))
        L = fl.SparseCategoricalCrossentropy(from_logits=True, class_axis=1)
    else:
        C = 10 if layout == "rows10" else 1000
        x, y = _data(rng, 200_000 // C * 3 + 13, C, dtype)
        L = fl.SparseCategoricalCrossentropy(from_logits=True)
    old = fl.get_num_threads()
    try:
        out = []
        for t in (1, 2, 3):
            fl.set_num_threads(t)
            out.append(L.loss_gradient(y, x))
    finally:
        fl.set_num_threads(old)
    for v, g in out[1:]:
        assert v == out[0][0]
        np.testing.assert_array_equal(g, out[0][1])


# ---------------------------------------------- dense rows: CCE, cosine, Hellinger
def ref_cce(y, x, s=0.0, cw=None):
    """-Σ t_c log softmax(x)_c, t = a (y (1-s) + s/C); gradient T p - t,
    hessian T p (1 - p), in float64 (rows of finite logits)."""
    y, x = np.asarray(y, np.float64), np.asarray(x, np.float64)
    C = x.shape[1]
    t = (y * (1 - s) + s / C) * (1.0 if cw is None else np.asarray(cw, np.float64))
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    S = e.sum(axis=1, keepdims=True)
    lp = (x - m) - np.log(S)
    p = e / S
    T = t.sum(axis=1, keepdims=True)
    return -(t * lp).sum(axis=1), T * p - t, T * p * (1 - p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 3, 130])
def test_cce_rows(simd_path, dtype, n):
    rng = np.random.default_rng(n + 7)
    for C in list(range(1, 41)) + [100, 1000]:
        x = (rng.standard_normal((n, C)) * 5).astype(dtype)
        y = rng.dirichlet(np.ones(C), n).astype(dtype)
        y[0] = 0.0
        y[0, -1] = 1.0                      # a one-hot row
        cw = rng.uniform(0.1, 2.0, C)
        for s, w in ((0.0, None), (0.1, cw)):
            L = fl.CategoricalCrossentropy(from_logits=True, label_smoothing=s, class_weight=w,
                                           reduction="none")
            l, g = L.loss_gradient(y, x)
            g2, h = L.gradient_hessian(y, x)
            rl, rg, rh = ref_cce(y, x, s, w)
            _close(l, rl, dtype, 10)
            _close(g, rg, dtype)
            _close(h, rh, dtype)
            np.testing.assert_array_equal(g2, g)
            np.testing.assert_array_equal(L.loss(y, x), l)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cce_rows_masked(simd_path, dtype):
    """-inf logits where the target is 0 (0 log 0 = 0), where it is not
    (+inf), every logit -inf (+inf, gradient -t), large logits, NaN."""
    C = 37
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((6, C)) * 3).astype(dtype)
    y = rng.dirichlet(np.ones(C), 6).astype(dtype)
    y[0, 3] = 0.0
    x[0, 3] = -np.inf
    x[1, 5] = -np.inf
    x[2] = -np.inf
    x[3] = 80.0 if dtype == np.float32 else 700.0
    x[3, 1] = -(80.0 if dtype == np.float32 else 700.0)
    x[5, 2] = np.nan
    L = fl.CategoricalCrossentropy(from_logits=True, reduction="none")
    l, g = L.loss_gradient(y, x)
    x64 = x[[0, 3, 4]].astype(np.float64)
    rl, rg, _ = ref_cce(y[[0, 3, 4]], np.where(np.isinf(x64), -1e300, x64))
    _close(l[[0, 3, 4]], rl, dtype, 100)
    _close(g[[0, 3, 4]], rg, dtype)
    assert l[1] == np.inf and l[2] == np.inf and np.isnan(l[5])
    _close(g[2], -y[2].astype(np.float64), dtype)
    assert np.isnan(g[5]).all()


def ref_cosine_grad(y, f):
    y, f = np.asarray(y, np.float64), np.asarray(f, np.float64)
    a = np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    nb = np.linalg.norm(f, axis=1, keepdims=True)
    b = np.maximum(nb, 1e-12)
    c = (y * f).sum(axis=1, keepdims=True) / (a * b)
    d = np.where(nb > 1e-12, c / np.where(nb > 0, nb * nb, 1.0), 0.0)
    return 1 - c[:, 0], d * f - y / (a * b)


def ref_hell_grad(y, f, eps=1e-7):
    y, f = np.asarray(y, np.float64), np.asarray(f, np.float64)
    p = np.clip(f, eps, 1)
    s = np.sqrt(y) - np.sqrt(p)
    D = np.linalg.norm(s, axis=1, keepdims=True)
    inside = (f >= eps) & (f <= 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.where(inside & (D > 0), -(s / (D * np.sqrt(2))) / (2 * np.sqrt(p)), 0.0)
    return D[:, 0] / np.sqrt(2), g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 5, 70])
def test_cosine_hellinger_rows(simd_path, dtype, n):
    rng = np.random.default_rng(n)
    for C in list(range(1, 41)) + [128, 1000]:
        y = rng.standard_normal((n, C)).astype(dtype)
        f = (rng.standard_normal((n, C)) * 1e3).astype(dtype)
        f[0] = 0.0                          # the clamp of |f|
        L = fl.CosineSimilarityLoss(reduction="none")
        l, g = L.loss_gradient(y, f)
        rl, rg = ref_cosine_grad(y, f)
        _close(l, rl, dtype, 10)
        _close(g * 1e3, rg * 1e3, dtype, 1e3)
        np.testing.assert_array_equal(L.loss(y, f), l)
        yp = rng.dirichlet(np.ones(C), n).astype(dtype)
        pp = rng.dirichlet(np.ones(C), n).astype(dtype)
        pp[0, 0] = 0.0                      # clipped: gradient 0 there
        if n > 1:
            pp[1] = yp[1]                   # D = 0: gradient 0
        H = fl.HellingerDistance(reduction="none")
        l, g = H.loss_gradient(yp, pp)
        rl, rg = ref_hell_grad(yp, pp)
        _close(l, rl, dtype, 10)
        rtol, atol = _tol(dtype)
        np.testing.assert_allclose(g, rg, rtol=rtol * 10, atol=atol * np.abs(rg).max())
        np.testing.assert_array_equal(H.loss(yp, pp), l)


# ------------------------------------------------------- categorical focal
def ref_focal(y, x, gamma, alpha):
    """Per-row -Σ_c α_c y_c (1-p_c)^γ log p_c and its gradient in float64:
    k_c = u_c [(1-p_c)^γ - γ (1-p_c)^(γ-1) p_c log p_c], dl/dx_j = p_j Σ k - k_j."""
    y, x = np.asarray(y, np.float64), np.asarray(x, np.float64)
    u = np.asarray(alpha, np.float64) * y
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    S = e.sum(axis=1, keepdims=True)
    p = e / S
    q = (S - e) / S
    L = (x - m) - np.log(S)
    loss = -(u * q ** gamma * L).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sec = np.where((q > 0) & (p > 0) & (gamma != 0), gamma * q ** (gamma - 1) * p * L, 0.0)
    k = u * (q ** gamma - sec)
    return loss, p * k.sum(axis=1, keepdims=True) - k


def test_focal_reference_against_differences():
    from conftest import central_gradient
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6))
    y = rng.dirichlet(np.ones(6), 3)
    for gamma in (0.0, 1.5, 2.0):
        _, g = ref_focal(y, x, gamma, 0.3)
        fd = central_gradient(lambda z: ref_focal(y, z, gamma, 0.3)[0].sum(), x)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 3.0, 0.5, 2.7])
def test_focal_rows(simd_path, dtype, gamma):
    rng = np.random.default_rng(int(gamma * 10))
    for C in list(range(1, 41)) + [100]:
        n = 1 if C % 3 == 0 else 37
        x = (rng.standard_normal((n, C)) * 4).astype(dtype)
        y = np.eye(C, dtype=dtype)[rng.integers(0, C, n)]
        if n > 1:
            y[1] = rng.dirichlet(np.ones(C)).astype(dtype)     # a soft row
        alpha = rng.uniform(0.1, 1.0, C)
        L = fl.CategoricalFocalCrossentropy(gamma=gamma, alpha=alpha, from_logits=True,
                                            reduction="none")
        l, g = L.loss_gradient(y, x)
        rl, rg = ref_focal(y, x, gamma, alpha)
        rtol, atol = _tol(dtype)
        np.testing.assert_allclose(l, rl, rtol=rtol * 10, atol=atol * 10)
        np.testing.assert_allclose(g, rg, rtol=rtol * 10, atol=atol * 10)
        np.testing.assert_array_equal(L.loss(y, x), l)
        np.testing.assert_array_equal(L.gradient(y, x), g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_focal_rows_masked(simd_path, dtype):
    C = 19
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((5, C)) * 3).astype(dtype)
    y = np.eye(C, dtype=dtype)[[0, 1, 2, 3, 4]]
    x[0, 5] = -np.inf                       # a masked class with target 0
    x[1, 1] = -np.inf                       # the target class masked: +inf
    x[2] = -np.inf                          # every class masked
    x[3, 7] = np.nan
    x[4, 4] = 80.0 if dtype == np.float32 else 700.0    # p_y rounds to 1
    L = fl.CategoricalFocalCrossentropy(gamma=2.0, alpha=0.25, from_logits=True,
                                        reduction="none")
    l, g = L.loss_gradient(y, x)
    x64 = x.astype(np.float64)
    rl, rg = ref_focal(y[[0, 4]], np.where(np.isinf(x64[[0, 4]]), -1e300, x64[[0, 4]]), 2.0,
                       0.25)
    _close(l[[0, 4]], rl, dtype, 10)
    _close(g[[0, 4]], rg, dtype)
    assert l[1] == np.inf and l[2] == np.inf and np.isnan(l[3])
    _close(g[2], -0.25 * y[2].astype(np.float64), dtype)
    assert np.isfinite(g[[0, 1, 4]]).all()
    np.testing.assert_array_equal(L.loss(y, x), l)
