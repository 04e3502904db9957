"""The Lovász kernel's radix sort and the vector RankNet pair row, checked
directly (through test hooks of the kernel modules) against NumPy, and the
Lovász paths they changed end to end against the float64 references of
test_segmentation.py: errors <= 0 left out of the sort, the sign pass on
probabilities outside [0, 1], and gradients written whole (ignored pixels
and classes without a task are 0 even in a dirty out=)."""
import numpy as np
import pytest

import fastloss as fl
from fastloss._kernels import ranking as _ranking
from fastloss._kernels import sets as _sets
from test_segmentation import np_lovasz_hinge, np_lovasz_softmax


# ----------------------------------------------------------------- radix sort
def _expected_order(e):
    """Descending, ties in input order; +NaN first and -NaN last (the key
    order: the kernel's choice, SPEC only asks NaN to propagate, which the
    loss does whatever the order); -0.0 ties with +0.0."""
    e = np.asarray(e)
    neg_nan = np.isnan(e) & np.signbit(e)
    pos_nan = np.isnan(e) & ~np.signbit(e)
    rest = np.flatnonzero(~np.isnan(e))
    rest = rest[np.argsort(-e[rest], kind="stable")]
    return np.concatenate([np.flatnonzero(pos_nan), rest, np.flatnonzero(neg_nan)])


def _cases(dtype, rng):
    big = np.finfo(dtype).max
    tiny = np.finfo(dtype).smallest_subnormal
    yield np.array([], dtype=dtype)
    yield np.array([0.5], dtype=dtype)
    yield np.array([0.25, 0.75], dtype=dtype)
    yield np.array([0.75, 0.25], dtype=dtype)
    yield np.array([1.0, 1.0, 1.0], dtype=dtype)                      # every digit constant
    yield np.array([0.0, -0.0, 0.0, -0.0, 1.0, -1.0, -0.0], dtype=dtype)
    yield np.array([np.inf, -np.inf, 0.0, np.inf, 1.0, -np.inf, big, -big, tiny, -tiny],
                   dtype=dtype)
    yield rng.integers(0, 4, 1001).astype(dtype) / 4                   # many ties, odd size
    yield rng.standard_normal(4097).astype(dtype)                      # negatives too
    yield np.abs(rng.standard_normal(333)).astype(dtype) * 1e-30
    # arbitrary bit patterns (subnormals, huge, both signs): every digit varies
    ubits = np.uint32 if dtype == np.float32 else np.uint64
    bits = rng.integers(0, np.iinfo(ubits).max, 5001, dtype=ubits, endpoint=True).view(dtype)
    yield np.where(np.isnan(bits), dtype(0.5), bits).astype(dtype)
    yield np.array([1.0, np.nan, 0.0, np.nan, 2.0], dtype=dtype)
    yield np.array([1.0, np.copysign(np.nan, -1.0), 0.0, np.nan, -3.0], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_radix_order_is_a_stable_descending_argsort(dtype):
    rng = np.random.default_rng(16)
    for e in _cases(dtype, rng):
        got = _sets._lovasz_sort_order(np.ascontiguousarray(e))
        np.testing.assert_array_equal(got, _expected_order(e), err_msg=repr(e[:12]))


def test_radix_order_float32_keys_are_the_float32_values():
    # two float32 values one ulp apart keep their order; equal float32
    # values tie whatever float64 they came from (keys are the float32 bits)
    a = np.float32(0.3)
    e = np.array([a, np.nextafter(a, np.float32(1)), a, np.nextafter(a, np.float32(0))],
                 dtype=np.float32)
    np.testing.assert_array_equal(_sets._lovasz_sort_order(e), [1, 0, 2, 3])


# ---------------------------------------------------- Lovász paths end to end
def test_hinge_errors_at_and_below_zero_match_reference():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, size=(3, 9, 11))
    t = 2 * labels - 1
    # confident pixels (error < 0), margins exactly 1 (error exactly 0), and
    # some violating ones; also an image with no error above 0
    x = np.where(rng.random(labels.shape) < 0.5, 3.0 * t, rng.normal(size=labels.shape))
    x[0, :4] = 1.0 * t[0, :4]
    x[2] = 2.0 * t[2]
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        xs = x.astype(dtype)
        for per_image in (True, False):
            value, grad = fl.LovaszHinge(per_image=per_image).loss_gradient(labels, xs)
            ref_v, ref_g = np_lovasz_hinge(xs, labels, per_image=per_image)
            np.testing.assert_allclose(value, ref_v, rtol=tol, atol=1e-12)
            np.testing.assert_allclose(grad, ref_g, rtol=tol, atol=tol * 1e-2)
    v, g = fl.LovaszHinge().loss_gradient(labels[2:], x[2:])
    assert v == 0.0 and not g.any()


def test_softmax_probabilities_equal_to_target_and_outside_unit_interval():
    rng = np.random.default_rng(4)
    B, C, H, W = 2, 5, 6, 7
    labels = rng.integers(0, C, size=(B, H, W))
    probs = rng.random((B, C, H, W))
    onehot = np.moveaxis(np.eye(C)[labels], -1, 1)
    exact = rng.random((B, C, H, W)) < 0.3
    probs = np.where(exact, onehot, probs)             # |fg - p| = 0: left out of the sort
    probs[0, :, 0, :] += 0.7                           # p > 1 (d|fg - p|/dp = +1 at fg)
    probs[1, :, 1, :] -= 1.2                           # p < 0 (d/dp = -1 off fg)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        ps = probs.astype(dtype)
        for per_image in (False, True):
            for classes in ("present", "all", [0, 3]):
                loss = fl.LovaszSoftmax(classes=classes, per_image=per_image)
                value, grad = loss.loss_gradient(labels, ps)
                ref_v, ref_g = np_lovasz_softmax(ps, labels, classes, per_image)
                np.testing.assert_allclose(value, ref_v, rtol=tol, atol=1e-12)
                np.testing.assert_allclose(grad, ref_g, rtol=tol, atol=tol * 1e-2)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("per_image", [False, True])
def test_gradient_is_written_whole_into_a_dirty_out(from_logits, per_image):
    rng = np.random.default_rng(5)
    B, C, H, W = 3, 6, 5, 8
    labels = rng.integers(0, 3, size=(B, H, W))        # classes 3..5 absent: no task
    labels[0, :2] = 255                                # ignored pixels
    labels[2] = 255                                    # an image with no valid pixel
    z = rng.normal(size=(B, C, H, W))
    y_pred = z if from_logits else np.exp(z) / np.exp(z).sum(1, keepdims=True)
    loss = fl.LovaszSoftmax(per_image=per_image, ignore_index=255, from_logits=from_logits)
    out = np.full(y_pred.shape, 7.5)
    loss.gradient(labels, y_pred, out=out)
    _, ref_g = np_lovasz_softmax(y_pred, labels, "present", per_image, 255,
                                 from_logits=from_logits)
    np.testing.assert_allclose(out, ref_g, rtol=1e-12, atol=1e-15)
    ignored = np.broadcast_to((labels == 255)[:, None], out.shape)
    assert not out[ignored].any()
    if not from_logits:
        assert not out[:, 3:].any()
    hinge_out = np.full((B, H, W), -3.0)
    hl = np.where(labels == 255, 255, labels % 2)
    fl.LovaszHinge(per_image=per_image, ignore_index=255).gradient(hl, z[:, 0], out=hinge_out)
    np.testing.assert_allclose(hinge_out, np_lovasz_hinge(z[:, 0], hl, per_image, 255)[1],
                               rtol=1e-12, atol=1e-15)
    assert not hinge_out[labels == 255].any()


# -------------------------------------------------------- RankNet pair row
def _np_row(si, wi, sigma, s, w):
    x = sigma * (si - s)
    l = np.logaddexp(0.0, -x)
    z = np.exp(-np.abs(x))
    rho = np.where(x >= 0, z, 1.0) / (1.0 + z)      # sigmoid(-x)
    a = wi * w
    gh = sigma * a * rho
    hh = sigma * sigma * a * z / (1.0 + z) ** 2      # rho (1 - rho), no cancellation
    return (np.sum(a * l), np.sum(a), -np.sum(gh), np.sum(hh), float(s.size)), gh, hh


@pytest.mark.parametrize("m", list(range(0, 19)) + [31, 64, 257])
def test_pair_row_every_remainder(simd_path, m):
    """Every partner count modulo the lane width (1, 2, 4, 8 doubles): the
    masked last vector adds nothing for its padded lanes and writes no
    partner outside [0, m)."""
    rng = np.random.default_rng(m)
    s = rng.normal(size=m) * 3
    w = rng.random(m) + 0.5
    si, wi, sigma = 0.3, 1.7, 1.3
    guard = 1e300
    ref, gh, hh = _np_row(si, wi, sigma, s, w)
    # exp(-|x|) per pair, and as a product of per-item factors about a centre
    for centre in (np.nan, 0.7):
        gbuf = np.full(m + 18, guard)
        hbuf = np.full(m + 18, guard)
        gbuf[9:9 + m] = 0.25                          # the kernel adds to what is there
        hbuf[9:9 + m] = 0.5
        sums = _ranking._pair_row(si, wi, sigma, s, w, gbuf[9:9 + m], hbuf[9:9 + m], centre)
        np.testing.assert_allclose(sums, ref, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(gbuf[9:9 + m], 0.25 + gh, rtol=1e-13)
        np.testing.assert_allclose(hbuf[9:9 + m], 0.5 + hh, rtol=1e-13)
        assert (gbuf[:9] == guard).all() and (gbuf[9 + m:] == guard).all()
        assert (hbuf[:9] == guard).all() and (hbuf[9 + m:] == guard).all()


def test_pair_row_extreme_differences(simd_path):
    """exp(-|x|) underflows far from 0: l = 0 or -x exactly, rho 0 or 1,
    never NaN; an infinite score gives l = +inf (x = -inf) or 0."""
    s = np.array([-800.0, -40.0, 0.0, 40.0, 800.0, 1e-300, -1e-300, 0.3, 0.3])
    w = np.ones(s.size)
    g = np.zeros(s.size)
    h = np.zeros(s.size)
    sums = _ranking._pair_row(0.3, 1.0, 1.0, s, w, g, h)
    ref, gh, hh = _np_row(0.3, 1.0, 1.0, s, w)
    np.testing.assert_allclose(sums, ref, rtol=1e-13)
    np.testing.assert_allclose(g, gh, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(h, hh, rtol=1e-13, atol=1e-300)
    # the product form near x = 0 (equal scores: a product may round above
    # 1, the kernel keeps it at 1) and across a centre
    near = np.array([0.3, 0.3, np.nextafter(0.3, 1), np.nextafter(0.3, 0), -5.0, 9.0, 0.31])
    for centre in (0.3, -2.0, 4.0):
        g = np.zeros(near.size)
        h = np.zeros(near.size)
        sums = _ranking._pair_row(0.3, 1.0, 1.0, near, np.ones(near.size), g, h, centre)
        ref, gh, hh = _np_row(0.3, 1.0, 1.0, near, np.ones(near.size))
        np.testing.assert_allclose(sums, ref, rtol=1e-13)
        np.testing.assert_allclose(g, gh, rtol=1e-13)
        np.testing.assert_allclose(h, hh, rtol=1e-13)
        # a NaN score propagates through the product form too
        nan = near.copy()
        nan[3] = np.nan
        sums = _ranking._pair_row(0.3, 1.0, 1.0, nan, np.ones(nan.size), np.zeros(nan.size),
                                  np.zeros(nan.size), centre)
        assert np.isnan(sums[0]) and np.isnan(sums[2]) and np.isnan(sums[3])
    inf = _ranking._pair_row(-np.inf, 1.0, 1.0, np.array([0.0, 1.0, 2.0]), np.ones(3),
                             np.zeros(3), None)
    assert inf[0] == np.inf and inf[2] == -3.0 and inf[4] == 3.0
    zero = _ranking._pair_row(np.inf, 1.0, 1.0, np.array([0.0, 1.0, 2.0]), np.ones(3),
                              np.zeros(3), None)
    assert zero[0] == 0.0 and zero[2] == 0.0


@pytest.mark.parametrize("where", [0, 3, 99])
def test_nan_score_anywhere_in_a_group_propagates(simd_path, where):
    rng = np.random.default_rng(where)
    y = rng.integers(0, 3, 100).astype(np.float64)
    s = rng.standard_normal(100)
    s[where] = np.nan
    value, grad = fl.RankNet(group=np.repeat([0, 1], 50)).loss_gradient(y, s)
    assert np.isnan(value)
    assert np.isnan(grad[where])


def test_ranknet_paths_agree(rng):
    """Every vector path against the float64 pair matrix, one big list (the
    tiled scheme) and many small ones, with weights and the hessian."""
    n = 2600
    y = rng.integers(0, 4, n).astype(np.float64)
    w = rng.random(n) + 0.5
    group = np.repeat(np.arange(26), 100)[rng.permutation(n)]
    # scores within ±16 of a centre (exp(-|x|) as a product of per-item
    # factors) and spread wider (exp per pair)
    for grp, s in ((None, 0.5 * y + rng.standard_normal(n)),
                   (group, 0.5 * y + rng.standard_normal(n)),
                   (None, 0.5 * y + 15 * rng.standard_normal(n)),
                   (group, 0.5 * y + 15 * rng.standard_normal(n))):
        ids = np.zeros(n, int) if grp is None else grp
        same = ids[:, None] == ids[None, :]
        mask = same & (y[:, None] > y[None, :])
        x = s[:, None] - s[None, :]
        a = np.where(mask, w[:, None] * w[None, :], 0.0)
        rho = 1.0 / (1.0 + np.exp(x))
        total = np.sum(a * np.logaddexp(0.0, -x)) / a.sum()
        gmat = a * rho
        g = (gmat.sum(0) - gmat.sum(1)) / a.sum()
        hmat = a * rho * (1 - rho)
        hess = (hmat.sum(0) + hmat.sum(1)) / a.sum()
        for path in fl.available_simd_paths():
            fl.set_simd_path(path)
            loss = fl.RankNet(group=grp)
            value, grad = loss.loss_gradient(y, s, sample_weight=w)
            g2, h2 = loss.gradient_hessian(y, s, sample_weight=w)
            np.testing.assert_allclose(value, total, rtol=1e-12)
            np.testing.assert_allclose(grad, g, rtol=1e-10, atol=1e-15)
            np.testing.assert_array_equal(g2, grad)
            np.testing.assert_allclose(h2, hess, rtol=1e-10, atol=1e-15)
            with fl.num_threads(1):
                v1, gr1 = loss.loss_gradient(y, s, sample_weight=w)
            assert v1 == value
            np.testing.assert_array_equal(gr1, grad)


# ------------------------------------------------ group order by runs
def test_runs_order_is_lexsort_or_declines():
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 40, 60)
    g = np.repeat(np.cumsum(rng.integers(1, 5, sizes.size)) - 50, sizes).astype(np.int64)
    n = g.size
    for dtype in (np.float64, np.float32):
        y = (rng.integers(0, 6, n) - 2).astype(dtype)            # negatives, many ties
        order, starts = _ranking.runs_order(y, g)
        np.testing.assert_array_equal(order, np.lexsort((-y, g)))
        cut = np.flatnonzero(g[1:] != g[:-1]) + 1
        np.testing.assert_array_equal(starts, np.concatenate([[0], cut, [n]]))
        wide = y.copy()
        wide[0] = 300.0                                           # a span of 256+ levels
        frac = y.copy()
        frac[5] = 0.5
        nan = y.copy()
        nan[-1] = np.nan
        inf = y.copy()
        inf[3] = np.inf
        for bad in (wide, frac, nan, inf):
            assert _ranking.runs_order(bad.astype(dtype), g) is None
        assert _ranking.runs_order(y, g[::-1].copy()) is None     # ids decrease
    one = _ranking.runs_order(np.array([1.0, 3.0, 1.0, 2.0]), np.zeros(4, np.int64))
    np.testing.assert_array_equal(one[0], [1, 3, 0, 2])


@pytest.mark.parametrize("cls", [fl.RankNet, fl.LambdaRank])
def test_grouped_results_do_not_depend_on_the_sort_taken(cls, rng, monkeypatch):
    """Runs of ids (counting sort per group) against the lexsort the call
    takes otherwise: the same order, so the same bits."""
    n = 3000
    g = np.repeat(np.arange(30), 100)
    y = rng.integers(0, 5, n).astype(np.float64)
    s = 0.5 * y + rng.standard_normal(n)
    w = rng.random(n)
    assert _ranking.runs_order(y, g) is not None
    for red in ("none", "mean", "sum"):
        loss = cls(reduction=red)
        v1, g1 = loss.loss_gradient(y, s, sample_weight=w, group=g)
        h1 = loss.gradient_hessian(y, s, sample_weight=w, group=g)[1]
        with monkeypatch.context() as m:
            m.setattr(_ranking, "runs_order", lambda *a: None)
            v2, g2 = loss.loss_gradient(y, s, sample_weight=w, group=g)
            h2 = loss.gradient_hessian(y, s, sample_weight=w, group=g)[1]
        np.testing.assert_array_equal(v1, v2)
        np.testing.assert_array_equal(g1, g2)
        np.testing.assert_array_equal(h1, h2)
