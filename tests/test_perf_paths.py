"""Fast paths of tests/... kernels agree with the scalar closed forms and with
float64 NumPy references; they are deterministic across thread counts.

Every vector block, on every path this CPU has (AVX-512F, AVX2+FMA, SSE2;
simd/vec.h), is run next to the forced "scalar" path on inputs long enough to take it (blocks of
>= 64 elements, > MIN_PARALLEL_ELEMENTS elements for the parallel driver).
"""
import numpy as np
import pytest

import fastloss as fl
from fastloss._kernels import pointwise

PATHS = tuple(fl.available_simd_paths())      # widest first, "scalar" last
VECTOR_PATHS = PATHS[:-1]
N_PAR = 70_001          # > MIN_PARALLEL_ELEMENTS, odd: a vector tail too


def _on_path(path, fn):
    try:
        pointwise.set_simd_path(path)
        return fn()
    finally:
        fl.set_simd_path("auto")


def _log_cosh_ref(y, f):
    e = f.astype(np.float64) - y.astype(np.float64)
    a = np.abs(e)
    z = np.exp(-2 * a)
    return a + np.log1p(z) - np.log(2.0), np.tanh(e), 4 * z / (1 + z) ** 2


def _poisson_log_ref(y, f):
    y = y.astype(np.float64)
    m = np.exp(f.astype(np.float64))
    return m - y * f, m - y, m


CASES = [
    ("log_cosh", lambda: fl.LogCosh, _log_cosh_ref,
     lambda rng, n: (rng.normal(0, 3, n), rng.normal(0, 3, n))),
    ("poisson_log", lambda: (lambda **kw: fl.Poisson(log_input=True, **kw)), _poisson_log_ref,
     lambda rng, n: (rng.poisson(2.0, n).astype(float), rng.normal(0, 2, n))),
]


@pytest.mark.parametrize("name,make,ref,gen", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_vector_blocks_match_scalar_and_reference(name, make, ref, gen, dtype, reduction,
                                                  weighted, rng):
    n = 9001
    y, f = (a.astype(dtype) for a in gen(rng, n))
    w = rng.uniform(0, 2, n) if weighted else None
    loss = make()(reduction=reduction)
    res = {p: _on_path(p, lambda: (loss.loss_gradient(y, f, w),
                                   loss.gradient_hessian(y, f, w)))
           for p in PATHS}
    lv, gv, hv = ref(y, f)
    ww = np.ones(n) if w is None else w
    scale = {"mean": 1.0 / (ww.sum() if weighted else n), "sum": 1.0, "none": 1.0}[reduction]
    if reduction == "none":
        want_v = ww * lv
    else:
        want_v = np.sum(ww * lv) * scale
    tol = 2e-6 if dtype == np.float32 else 1e-12
    for p, ((v, g), (g2, h)) in res.items():
        np.testing.assert_allclose(v, want_v, rtol=tol, atol=tol * np.max(np.abs(want_v)),
                                   err_msg=p)
        np.testing.assert_allclose(g, scale * ww * gv, rtol=tol, atol=tol * scale, err_msg=p)
        np.testing.assert_allclose(g2, g, rtol=tol, atol=tol * scale, err_msg=p)
        np.testing.assert_allclose(h, scale * ww * hv, rtol=tol, atol=tol * scale, err_msg=p)
    # the vector paths differ from the scalar closed form by rounding only
    (vs, gs), (_, hs) = res["scalar"]
    for p in VECTOR_PATHS:
        (v, g), (_, h) = res[p]
        # absolute slack for per-row values that cancel to ~0 (both forms do)
        np.testing.assert_allclose(v, vs, rtol=1e-13 if dtype == np.float64 else 1e-6,
                                   atol=1e-15 * np.max(np.abs(vs)))
        np.testing.assert_allclose(g, gs, rtol=1e-13 if dtype == np.float64 else 1e-6,
                                   atol=1e-300)


@pytest.mark.parametrize("name,make,ref,gen", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vector_blocks_deterministic_across_threads(name, make, ref, gen, dtype, rng):
    y, f = (a.astype(dtype) for a in gen(rng, N_PAR))
    loss = make()()
    out = []
    for k in (1, 2):
        with fl.num_threads(k):
            out.append(loss.loss_gradient(y, f))
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_vector_exp_any_argument_and_special_values():
    """Poisson(log input): exp over the whole double range (libm above 708,
    overflow to inf, flush to 0 below -708.39), NaN propagates; log-cosh of
    huge errors and NaN."""
    f = np.linspace(-720, 720, 1001)
    f[::97] = [700.0, 708.5, 709.7, 709.79, 800.0, -708.0, -708.5, -745.0, 0.0, 1e-300, 5.0][:len(f[::97])]
    y = np.zeros_like(f)
    loss = fl.Poisson(log_input=True, reduction="none")
    for p in VECTOR_PATHS:
        with np.errstate(over="ignore"):
            v, g = _on_path(p, lambda: loss.loss_gradient(y, f))
            want = np.exp(f)
        finite = np.isfinite(want) & (want > 2.3e-308)
        np.testing.assert_allclose(v[finite], want[finite], rtol=3e-16 * 2, err_msg=p)
        assert np.all(np.isinf(v[~np.isfinite(want)]))
        assert np.all(np.abs(v[want <= 2.3e-308]) <= 2.3e-308)
    f2 = np.full(200, 1.0)
    f2[7] = np.nan
    for p in VECTOR_PATHS:
        v, g = _on_path(p, lambda: loss.loss_gradient(np.ones(200), f2))
        assert np.isnan(v[7]) and np.isnan(g[7]) and np.all(np.isfinite(np.delete(g, 7)))
        lc = fl.LogCosh(reduction="none")
        e = np.concatenate([[1e300, -1e300, np.nan, 0.0, -0.0], np.linspace(-30, 30, 195)])
        v, g = _on_path(p, lambda: lc.loss_gradient(np.zeros(200), e))
        vs, gs = _on_path("scalar", lambda: lc.loss_gradient(np.zeros(200), e))
        np.testing.assert_allclose(v, vs, rtol=1e-15, atol=1e-300)
        np.testing.assert_allclose(g, gs, rtol=4.5e-16, atol=0)     # 2 ulp
        np.testing.assert_array_equal(np.signbit(g[[0, 1, 3, 4]]), np.signbit(gs[[0, 1, 3, 4]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hinge_label_pass(dtype, rng):
    """The one-pass SSE2 label check (vector body and scalar tail)."""
    from fastloss._kernels.pointwise import hinge_label_kind
    for n in (1, 3, 4, 5, 17, 1001):
        pm = rng.choice([-1.0, 1.0], n).astype(dtype)
        zo = rng.choice([0.0, 1.0], n).astype(dtype)
        assert hinge_label_kind(pm) == 0
        assert hinge_label_kind(zo) == (0 if np.all(zo == 1) else 1)
        for bad in (np.nan, 2.0, -0.5, np.inf, 0.0):
            for where in {0, n // 2, n - 1}:
                b = pm.copy()
                b[where] = bad
                want = -1 if (bad != 0.0 or np.any(b == -1)) else 1
                assert hinge_label_kind(b) == want, (n, bad, where)


@pytest.mark.parametrize("loss_cls", [fl.Hinge, fl.SquaredHinge])
def test_hinge_branch_free_forms(loss_cls, rng):
    """Branch-free hinge forms: margins > 0, = 0, < 0 and NaN, against NumPy."""
    n = 5000
    y = rng.choice([-1.0, 1.0], n)
    f = rng.normal(size=n)
    f[:10] = y[:10]                 # margin exactly 0
    f[10] = np.nan
    v, g = loss_cls(reduction="none").loss_gradient(y, f)
    gh, h = loss_cls(reduction="none").gradient_hessian(y, f)
    m = 1 - y * f
    mp = np.maximum(m, 0)
    sq = loss_cls is fl.SquaredHinge
    want_v = mp ** 2 if sq else mp
    want_g = -2 * y * mp if sq else -y * (m > 0)
    ok = ~np.isnan(f)
    np.testing.assert_allclose(v[ok], want_v[ok], rtol=1e-15)
    np.testing.assert_allclose(g[ok], want_g[ok], rtol=1e-12)
    np.testing.assert_array_equal(gh, g)
    if sq:
        np.testing.assert_allclose(h[ok], (2 * (m > 0))[ok], rtol=1e-15)
    assert np.isnan(v[10]) and np.isnan(g[10]) and np.isnan(gh[10])
    assert np.isfinite(v[ok]).all() and np.isfinite(g[ok]).all()


def _on_rows_path(path, fn):
    from fastloss._kernels import rows
    try:
        rows.set_simd_path(path)
        return fn()
    finally:
        fl.set_simd_path("auto")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [1, 3, 4, 7, 100])
@pytest.mark.parametrize("weighted", [False, True])
def test_hellinger_vector_rows(dtype, C, weighted, rng):
    n = 700
    y = rng.dirichlet(np.ones(C), n).astype(dtype)
    p = rng.dirichlet(np.ones(C), n).astype(dtype)
    p[0, 0] = 1e-12            # below eps: clipped, gradient 0
    if C > 1:
        p[1, 1] = 1.5          # above 1: clipped
    p[2] = y[2]                # D = 0: gradient 0
    w = rng.uniform(0, 2, n) if weighted else None
    loss = fl.HellingerDistance(reduction="none")
    res = {path: _on_rows_path(path, lambda: loss.loss_gradient(y, p, w)) for path in PATHS}
    eps = 1e-7
    pc = np.clip(p.astype(np.float64), eps, 1.0)
    s = np.sqrt(y.astype(np.float64)) - np.sqrt(pc)
    D = np.sqrt(np.sum(s * s, axis=1))
    ww = np.ones(n) if w is None else w
    inside = (p >= eps) & (p <= 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        want_g = np.where(inside & (D[:, None] > 0),
                          -ww[:, None] * s / (2 * np.sqrt(2) * D[:, None] * np.sqrt(pc)), 0.0)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for path, (v, g) in res.items():
        np.testing.assert_allclose(v, ww * D / np.sqrt(2), rtol=tol, atol=1e-300, err_msg=path)
        np.testing.assert_allclose(g, want_g, rtol=tol, atol=tol * np.abs(want_g).max(),
                                   err_msg=path)
        assert np.all(g[2] == 0) and g[0, 0] == 0
    nanp = p.copy()
    nanp[3, 0] = np.nan
    for path in PATHS:
        v, g = _on_rows_path(path, lambda: loss.loss_gradient(y, nanp))
        assert np.isnan(v[3]) and np.isnan(g[3]).all() and np.isfinite(v[4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hellinger_deterministic_across_threads(dtype, rng):
    y = rng.dirichlet(np.ones(50), 2000).astype(dtype)       # 100k elements
    p = rng.dirichlet(np.ones(50), 2000).astype(dtype)
    out = []
    for k in (1, 2):
        with fl.num_threads(k):
            out.append(fl.HellingerDistance().loss_gradient(y, p))
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_vector_log_accuracy(rng):
    """The polynomial log (KL rows) is within 2 ulp of the exact log over the
    whole positive double range; 0, negatives, subnormals, inf and NaN go to
    libm (IEEE results)."""
    from fastloss._kernels import rows
    x = np.concatenate([rng.uniform(1e-12, 1, 200_000),
                        np.exp(rng.uniform(-700, 700, 200_000)),
                        [1.0, 2.0, np.sqrt(2), 0.5, 1 - 2**-53, 1 + 2**-52]])
    exact = np.log(x.astype(np.longdouble))
    for path in VECTOR_PATHS:
        out = np.empty_like(x)
        _on_rows_path(path, lambda: rows.log_array(x, out))
        ulp = np.abs((out - exact) / np.spacing(np.abs(out)))
        assert float(ulp.max()) <= 2.0, path
        special = np.array([0.0, -1.0, np.inf, np.nan, 5e-324, 1e-310])
        sout = np.empty_like(special)
        _on_rows_path(path, lambda: rows.log_array(special, sout))
        with np.errstate(divide="ignore", invalid="ignore"):
            np.testing.assert_array_equal(sout, np.log(special))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [1, 3, 5, 100])
@pytest.mark.parametrize("weighted", [False, True])
def test_kl_log_vector_rows(dtype, C, weighted, rng):
    n = 600
    y = rng.dirichlet(np.ones(C), n).astype(dtype)
    y[0, 0] = 0.0                        # a zero target contributes 0 ...
    x = np.log(rng.dirichlet(np.ones(C), n)).astype(dtype)
    x[0, 0] = -np.inf                    # ... even against a -inf log-probability
    w = rng.uniform(0, 2, n) if weighted else None
    loss = fl.KLDivergence(log_input=True, reduction="none")
    res = {path: _on_rows_path(path, lambda: loss.loss_gradient(y, x, w)) for path in PATHS}
    y64, x64 = y.astype(np.float64), x.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y64 != 0, y64 * (np.log(np.where(y64 != 0, y64, 1)) - x64), 0.0)
    ww = np.ones(n) if w is None else w
    want = ww * terms.sum(axis=1)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    for path, (v, g) in res.items():
        np.testing.assert_allclose(v, want, rtol=tol, atol=tol * np.abs(want).max(),
                                   err_msg=path)
        np.testing.assert_allclose(g, -ww[:, None] * y64, rtol=tol, err_msg=path)
    neg = y.copy()
    neg[1, 0] = -0.1                     # log of a negative target: NaN, as libm
    for path in PATHS:
        v, _ = _on_rows_path(path, lambda: loss.loss_gradient(neg, x))
        assert np.isnan(v[1]) and np.isfinite(v[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_log_deterministic_across_threads(dtype, rng):
    y = rng.dirichlet(np.ones(50), 2000).astype(dtype)
    x = np.log(rng.dirichlet(np.ones(50), 2000)).astype(dtype)
    out = []
    for k in (1, 2):
        with fl.num_threads(k):
            out.append(fl.KLDivergence(log_input=True).loss_gradient(y, x))
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])


@pytest.mark.parametrize("loss_cls", [fl.JaccardLoss, fl.F1Loss])
@pytest.mark.parametrize("weighted", [False, True])
def test_overlap_sums_lanes(loss_cls, weighted, rng):
    """Jaccard / F1 sums in four lanes: runs of every length mod 4, against a
    float64 NumPy reference, bit-identical at 1 and 2 threads."""
    shape = (3, 5, 97, 71)                 # 3 * 5 * 6887 > MIN_PARALLEL_ELEMENTS
    y = (rng.random(shape) < 0.3).astype(np.float32)
    p = rng.random(shape).astype(np.float32)
    w = rng.uniform(0.5, 2, 3) if weighted else None
    out = []
    for k in (1, 2):
        with fl.num_threads(k):
            out.append(loss_cls(class_axis=1, reduction="none").loss_gradient(y, p, w))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    ww = np.ones(3) if w is None else w
    y64, p64 = y.astype(np.float64), p.astype(np.float64)
    wb = ww[:, None, None, None]
    i = np.sum(wb * y64 * p64, axis=(0, 2, 3))
    if loss_cls is fl.JaccardLoss:
        a, b = np.sum(wb * y64 ** 2, axis=(0, 2, 3)), np.sum(wb * p64 ** 2, axis=(0, 2, 3))
        want = 1 - (i + 1e-10) / (a + b - i + 1e-10)
    else:
        a, b = np.sum(wb * y64, axis=(0, 2, 3)), np.sum(wb * p64, axis=(0, 2, 3))
        want = 1 - (2 * i + 1e-10) / (a + b + 1e-10)
    np.testing.assert_allclose(out[0][0], want, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [2, 7, 33])
def test_multiclass_hinge_vector_max(dtype, C, rng):
    """Multiclass hinge rows through the vector max / NaN passes: labels at
    both ends, ties (first wrong class wins), -inf, NaN; every path."""
    from fastloss._kernels import rows
    n = 64
    x = rng.normal(size=(n, C)).astype(dtype)
    lab = rng.integers(0, C, n)
    lab[0], lab[1] = 0, C - 1
    if C > 2:
        x[2, :] = 0.5                        # all tied: first wrong class
        x[3, :] = -np.inf
        x[3, lab[3]] = 0.0
    x[4, lab[4]] = np.nan
    if C > 1:
        x[5, (lab[5] + 1) % C] = np.nan
    for path in PATHS:
        v, g = _on_rows_path(path, lambda: fl.MulticlassHinge(reduction="none").loss_gradient(
            lab, x))
        for i in range(n):
            row = x[i].astype(np.float64)
            if np.isnan(row).any():
                assert np.isnan(v[i]) and np.isnan(g[i, lab[i]]), (path, i)
                continue
            wrong = [j for j in range(C) if j != lab[i]]
            want_g = np.zeros(C)
            if not wrong:
                assert v[i] == 0 and np.all(g[i] == 0)
                continue
            best = max(row[j] for j in wrong)
            bi = next(j for j in wrong if row[j] == best)
            m = 1 + best - row[lab[i]]
            if m > 0:
                want_g[bi], want_g[lab[i]] = 1.0, -1.0
            assert v[i] == pytest.approx(max(m, 0.0), rel=1e-6), (path, i)
            np.testing.assert_array_equal(g[i], want_g, err_msg=f"{path} row {i}")


def _focal_logit_ref(y, x, alpha, gamma):
    y, x = y.astype(np.float64), x.astype(np.float64)
    p = 1 / (1 + np.exp(-x))
    def F(t):            # A(sigmoid(t)) = -(1 - sigmoid(t))^gamma log sigmoid(t)
        return (1 / (1 + np.exp(t))) ** gamma * np.logaddexp(0, -t)
    l = alpha * y * F(x) + (1 - alpha) * (1 - y) * F(-x)
    h = 1e-5
    lp = alpha * y * F(x + h) + (1 - alpha) * (1 - y) * F(-(x + h))
    lm = alpha * y * F(x - h) + (1 - alpha) * (1 - y) * F(-(x - h))
    return l, (lp - lm) / (2 * h), (lp - 2 * l + lm) / h ** 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_focal_logit_gamma2_vector_block(dtype, reduction, weighted, rng):
    n = 9001
    x = rng.normal(0, 3, n).astype(dtype)
    y = rng.integers(0, 2, n).astype(dtype)
    w = rng.uniform(0, 2, n) if weighted else None
    loss = fl.BinaryFocalCrossentropy(gamma=2.0, alpha=0.25, from_logits=True,
                                      reduction=reduction)
    res = {p: _on_path(p, lambda: (loss.loss_gradient(y, x, w), loss.gradient_hessian(y, x, w)))
           for p in PATHS}
    (vs, gs), (ghs, hs) = res["scalar"]
    rt = 1e-6 if dtype == np.float32 else 1e-12
    for p in VECTOR_PATHS:
        (v, g), (gh, h) = res[p]
        np.testing.assert_allclose(v, vs, rtol=rt, atol=rt * np.max(np.abs(vs)), err_msg=p)
        np.testing.assert_allclose(g, gs, rtol=rt, atol=rt * np.max(np.abs(gs)), err_msg=p)
        np.testing.assert_allclose(gh, g, rtol=0, atol=0, err_msg=p)
        np.testing.assert_allclose(h, hs, rtol=rt, atol=rt * np.max(np.abs(hs)), err_msg=p)
    # and the float64 reference (finite differences for the derivatives)
    lv, lg, lh = _focal_logit_ref(y, x, 0.25, 2.0)
    (v, g), (_, h) = res[PATHS[0]]
    ww = np.ones(n) if w is None else w
    scale = {"mean": 1.0 / (ww.sum() if weighted else n), "sum": 1.0, "none": 1.0}[reduction]
    want_v = ww * lv if reduction == "none" else np.sum(ww * lv) * scale
    np.testing.assert_allclose(v, want_v, rtol=2e-6, atol=2e-6 * np.max(np.abs(want_v)))
    np.testing.assert_allclose(g, scale * ww * lg, rtol=1e-5, atol=1e-6 * scale)
    # (a second difference in float64 is good to ~1e-6 of the loss: absolute slack)
    np.testing.assert_allclose(h, scale * ww * lh, rtol=1e-3,
                               atol=1e-3 * np.max(np.abs(scale * ww * lh)))


def test_focal_logit_vector_block_special_values_and_threads(rng):
    loss = fl.BinaryFocalCrossentropy(gamma=2.0, from_logits=True, reduction="none")
    x = np.concatenate([[np.nan, 1e30, -1e30, 0.0, 800.0, -800.0], rng.normal(size=200)])
    y = rng.integers(0, 2, x.size).astype(float)
    v, g = loss.loss_gradient(y, x)
    vs, gs = _on_path("scalar", lambda: loss.loss_gradient(y, x))
    assert np.isnan(v[0]) and np.isnan(g[0])
    np.testing.assert_allclose(v[1:], vs[1:], rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(g[1:], gs[1:], rtol=1e-13, atol=1e-300)
    big_x = rng.normal(0, 3, N_PAR).astype(np.float32)
    big_y = rng.integers(0, 2, N_PAR).astype(np.float32)
    out = []
    for k in (1, 2):
        with fl.num_threads(k):
            out.append(fl.BinaryFocalCrossentropy(from_logits=True).loss_gradient(big_y, big_x))
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])


# -------------------------------------------- the vector functions (simd/vec.h)
def _math_domain(name, dtype, rng):
    f32 = dtype == np.float32
    if name == "exp_nonpos":
        lo = -87.3 if f32 else -708.3
        x = np.concatenate([np.linspace(lo, 0, 300_001), -rng.exponential(3, 100_000)])
        return x[x >= lo]
    if name == "exp":
        return np.concatenate([np.linspace(-708.3, 709.7, 300_001), rng.normal(0, 5, 100_000)])
    if name == "log":
        span = 80 if f32 else 700
        return np.concatenate([rng.uniform(1e-12, 1, 200_000),
                               np.exp(rng.uniform(-span, span, 200_000)),
                               np.linspace(0.5, 2, 100_001),
                               [1.0, 2.0, np.sqrt(2), 0.5, 1 - 2**-53, 1 + 2**-52]])
    if name == "log1p_unit":
        return np.concatenate([np.linspace(0, 1, 300_001), np.exp(rng.uniform(-60, 0, 100_000))])
    return np.concatenate([np.linspace(-708.3, 0, 300_001),          # expm1_nonpos
                           -np.exp(rng.uniform(-40, 3, 100_000))])


_MATH_REF = {"exp_nonpos": np.exp, "exp": np.exp, "log": np.log, "log1p_unit": np.log1p,
             "expm1_nonpos": np.expm1}
# the bounds vec.h's header states (measured values there)
_MATH_ULP = {"exp_nonpos": 2.0, "exp": 2.0, "log": 2.5, "log1p_unit": 3.0,
             "expm1_nonpos": 2.0}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(_MATH_REF))
def test_vector_math_accuracy(path, dtype, name, rng):
    """Each vector function of each path against a long-double reference, in
    ulp of the exact result rounded to the dtype."""
    from fastloss._kernels import simd
    x = _math_domain(name, dtype, rng).astype(dtype)
    out = np.empty_like(x)
    fl.set_simd_path(path)
    if not simd.apply(name, x, out):
        assert dtype == np.float32 and name in ("exp", "log", "expm1_nonpos")
        return
    ref = _MATH_REF[name](x.astype(np.longdouble))
    ok = np.abs(ref) >= np.finfo(dtype).tiny            # flushed results: absolute error
    ulp = np.abs((out[ok] - ref[ok]) / np.spacing(np.abs(ref[ok]).astype(dtype)))
    assert float(ulp.max()) <= _MATH_ULP[name], (path, float(ulp.max()))
    assert np.all(np.abs(out[~ok] - ref[~ok].astype(np.float64)) <= np.finfo(dtype).tiny)
    special = np.array([np.nan, -np.inf, -1e30, 0.0], dtype=dtype)
    sout = np.empty_like(special)
    if name in ("exp_nonpos", "exp"):
        simd.apply(name, special, sout)
        assert np.isnan(sout[0]) and sout[1] == 0 and sout[2] == 0 and sout[3] == 1


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("loss_name", ["bce", "focal", "balanced"])
def test_float32_lanes_hard_soft_and_special_labels(path, loss_name, rng):
    """float32 BCE / focal (gamma 2) / balanced CE from logits take float32
    lanes where a vector's labels are all 0 or 1 and float64 lanes elsewhere:
    blocks mixing both, special logits, against a float64 reference and the
    scalar closed forms; loss/gradient/hessian modes agree bit for bit."""
    n = 4099
    x = rng.normal(0, 4, n)
    x[:8] = [0.0, -0.0, 30.0, -30.0, 90.0, -90.0, 1e-30, -1e-30]
    y = rng.integers(0, 2, n).astype(np.float64)
    y[1000:1100] = rng.uniform(0, 1, 100)         # soft labels: float64 lanes there
    y[2003] = 0.5
    make = {"bce": lambda: fl.BinaryCrossentropy(from_logits=True, pos_weight=1.7,
                                                 reduction="none"),
            "focal": lambda: fl.BinaryFocalCrossentropy(gamma=2.0, alpha=0.3, from_logits=True,
                                                        reduction="none"),
            "balanced": lambda: fl.BalancedCrossentropy(beta=0.3, from_logits=True,
                                                        reduction="none")}[loss_name]
    loss = make()
    y32, x32 = y.astype(np.float32), x.astype(np.float32)
    fl.set_simd_path("scalar")
    vs, gs = loss.loss_gradient(y32, x32)
    _, hs = loss.gradient_hessian(y32, x32)
    fl.set_simd_path(path)
    v, g = loss.loss_gradient(y32, x32)
    g2, h = loss.gradient_hessian(y32, x32)
    np.testing.assert_array_equal(loss(y32, x32), v)
    np.testing.assert_array_equal(loss.gradient(y32, x32), g)
    np.testing.assert_array_equal(g2, g)
    for got, want in ((v, vs), (g, gs), (h, hs)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * np.max(np.abs(want)))
    if loss_name != "focal":
        # float64 reference: l = a y softplus(-x) + b (1 - y) softplus(x)
        a, b = (1.7, 1.0) if loss_name == "bce" else (0.3, 0.7)
        y64, x64 = y32.astype(np.float64), x32.astype(np.float64)
        want = a * y64 * np.logaddexp(0, -x64) + b * (1 - y64) * np.logaddexp(0, x64)
        sig = 1 / (1 + np.exp(-x64))
        want_g = b * (1 - y64) * sig - a * y64 * (1 - sig)
        np.testing.assert_allclose(v, want, rtol=2e-6, atol=1e-30)
        np.testing.assert_allclose(g, want_g, rtol=2e-6, atol=1e-7 * np.abs(want_g).max())
    xn = x32.copy()
    xn[[5, 1001]] = np.nan
    v, g = loss.loss_gradient(y32, xn)
    assert np.isnan(v[[5, 1001]]).all() and np.isnan(g[[5, 1001]]).all()
    assert np.isfinite(np.delete(v, [5, 1001])).all()



@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("k", [3, 5, 16])
def test_float32_lanes_same_bits_in_every_layout(path, k, rng):
    """An element takes float32 or float64 lanes by its own label only, so
    gradient() (flat blocks) and loss_gradient() / gradient_hessian() (rows of
    k elements) give it the same bits, however rows and vectors align."""
    n = 3001
    x = rng.normal(0, 4, (n, k)).astype(np.float32)
    y = rng.integers(0, 2, (n, k)).astype(np.float32)
    y[::7, 1] = 0.25                                   # soft labels here and there
    w = rng.uniform(0, 2, n)
    fl.set_simd_path(path)
    for loss in (fl.BinaryCrossentropy(from_logits=True, reduction="none"),
                 fl.BinaryFocalCrossentropy(gamma=2.0, from_logits=True, reduction="none")):
        for sw in (None, w):
            v, g = loss.loss_gradient(y, x, sw)
            np.testing.assert_array_equal(loss.gradient(y, x, sw), g)
            np.testing.assert_array_equal(loss.gradient_hessian(y, x, sw)[0], g)
            np.testing.assert_array_equal(loss(y, x, sw), v)
