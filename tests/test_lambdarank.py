"""LambdaRank (SPEC §4.2) against a float64 NumPy pair-matrix formula written
here, central finite differences for the gradient and the hessian diagonal,
determinism across thread counts, both kernel schemes (small groups in
parallel, large groups by rounds of tiles), the SPEC-named edges and bad
input."""
import numpy as np
import pytest

import fastloss as fl
from conftest import central_diagonal, central_gradient


def np_lambdarank(y, s, group=None, w=None, sigma=1.0, k=None):
    """(Σ a l, Σ w_i w_j over counted pairs, gradient, hessian diagonal,
    per-group sums in first-appearance order), a = w_i w_j |ΔNDCG_ij|."""
    y = np.asarray(y, np.float64)
    s = np.asarray(s, np.float64)
    n = len(y)
    g = np.zeros(n, int) if group is None else np.asarray(group)
    w = np.ones(n) if w is None else np.asarray(w, np.float64)
    same = g[:, None] == g[None, :]
    # rank = number of group members scored higher, plus the tied ones
    # that come earlier in the input (SPEC: ties in input order)
    idx = np.arange(n)
    above = (s[None, :] > s[:, None]) | ((s[None, :] == s[:, None]) & (idx[None, :] < idx[:, None]))
    r = (above & same).sum(axis=1)
    inv_idcg = np.zeros(n)
    for q in np.unique(g):
        members = g == q
        ideal = np.sort(y[members])[::-1]
        m = len(ideal) if k is None else min(k, len(ideal))
        idcg = np.sum((2.0 ** ideal[:m] - 1) / np.log2(2 + np.arange(m)))
        inv_idcg[members] = 1 / idcg if idcg > 0 else 0.0
    mask = (y[:, None] > y[None, :]) & same & (inv_idcg[:, None] > 0)
    if k is not None:
        mask &= np.minimum(r[:, None], r[None, :]) < k
    disc = 1 / np.log2(2 + r)
    dndcg = np.abs((2.0 ** y[:, None] - 2.0 ** y[None, :]) * (disc[:, None] - disc[None, :]))
    dndcg = dndcg * inv_idcg[:, None]
    ww = w[:, None] * w[None, :] * mask
    a = ww * dndcg
    d = sigma * (s[:, None] - s[None, :])
    rho = 0.5 * (1 - np.tanh(d / 2))           # sigmoid(-d)
    pair = a * np.logaddexp(0.0, -d)
    gm = a * sigma * rho
    hm = a * sigma ** 2 * rho * (1 - rho)
    grad = -gm.sum(1) + gm.sum(0)
    hess = hm.sum(1) + hm.sum(0)
    _, first = np.unique(g, return_index=True)
    ids = g[np.sort(first)]
    per_group = np.array([pair[g == q].sum() for q in ids])
    return pair.sum(), ww.sum(), grad, hess, per_group


def _data(rng, n, dtype, ties=True):
    y = rng.integers(0, 4, n).astype(dtype)
    s = rng.normal(size=n) * 2
    if ties:
        s = np.round(s * 2) / 2                # many tied scores
    return y, s.astype(dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("k", [None, 1, 3, 1000])
def test_values_gradients_hessians(reduction, weighted, dtype, grouped, k):
    rng = np.random.default_rng(0)
    n = 90
    y, s = _data(rng, n, dtype)
    group = rng.choice([7, -2, 40, 3], size=n) if grouped else None
    w = rng.random(n) if weighted else None
    total, wsum, g, h, per_group = np_lambdarank(y, s, group, w, sigma=1.5, k=k)
    assert wsum > 0
    loss = fl.LambdaRank(sigma=1.5, k=k, group=group, reduction=reduction)
    value, grad = loss.loss_gradient(y, s, sample_weight=w)
    g2, hess = loss.gradient_hessian(y, s, sample_weight=w)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype and hess.dtype == dtype
    if reduction == "none":
        assert value.shape == per_group.shape and value.dtype == dtype
        np.testing.assert_allclose(value, per_group, rtol=tol)
    elif reduction == "sum":
        assert value == pytest.approx(total, rel=tol)
    else:
        assert value == pytest.approx(total / wsum, rel=tol)
        g, h = g / wsum, h / wsum
    np.testing.assert_allclose(grad, g, rtol=tol, atol=tol * 1e-2 * np.abs(g).max())
    np.testing.assert_allclose(hess, h, rtol=tol, atol=tol * 1e-2 * np.abs(h).max())
    np.testing.assert_array_equal(g2, grad)
    np.testing.assert_array_equal(
        fl.lambdarank(y, s, sample_weight=w, sigma=1.5, k=k, group=group,
                      reduction=reduction), value)


def test_k_truncation_changes_the_loss_as_defined():
    """k=1 keeps only the pairs that involve the top-scored item."""
    y = np.array([0.0, 2.0, 1.0, 0.0])
    s = np.array([3.0, 2.0, 1.0, 0.0])             # ranks 0, 1, 2, 3
    total, wsum, *_ = np_lambdarank(y, s, k=1)
    # counted pairs: (1, 0) and (2, 0) (item 0 is ranked first); y_1 > y_0, y_2 > y_0
    assert wsum == 2.0
    assert fl.LambdaRank(k=1, reduction="sum")(y, s) == pytest.approx(total, rel=1e-14)
    assert fl.LambdaRank(k=1)(y, s) == pytest.approx(total / 2, rel=1e-14)
    # by hand: IDCG_1 = 3 (label 2 first); pair (1, 0): (4 - 1)(1/log2 3 - 1) / 3
    d = (4 - 1) * abs(1 / np.log2(3) - 1) / 3 * np.logaddexp(0, -(2.0 - 3.0)) + \
        (2 - 1) * abs(1 / np.log2(4) - 1) / 3 * np.logaddexp(0, -(1.0 - 3.0))
    assert fl.LambdaRank(k=1, reduction="sum")(y, s) == pytest.approx(d, rel=1e-14)
    # k beyond every group is k=None
    for k in (4, 5, 10**30):
        np.testing.assert_array_equal(fl.LambdaRank(k=k).loss_gradient(y, s)[1],
                                      fl.LambdaRank().loss_gradient(y, s)[1])


def test_ties_in_scores_follow_input_order():
    """Tied scores are ranked in input order: swapping two tied items with
    different labels changes which one gets the better discount."""
    y = np.array([2.0, 0.0, 1.0])
    s = np.array([1.0, 1.0, 0.0])
    v1 = fl.lambdarank(y, s, reduction="sum")
    assert v1 == pytest.approx(np_lambdarank(y, s)[0], rel=1e-14)
    # item 0 is ranked 0, item 1 ranked 1: pair (0, 1) weight by hand
    idcg = 3 + 1 / np.log2(3)
    d01 = (4 - 1) * (1 - 1 / np.log2(3)) / idcg
    d21 = (2 - 1) * (1 / np.log2(3) - 1 / np.log2(4)) / idcg
    d02 = (4 - 2) * (1 - 1 / np.log2(4)) / idcg
    by_hand = d01 * np.log(2) + d21 * np.logaddexp(0, 1) + d02 * np.logaddexp(0, -1)
    assert v1 == pytest.approx(by_hand, rel=1e-14)
    # the same items in the other input order: item with y=0 now ranked first
    y2, s2 = y[[1, 0, 2]], s[[1, 0, 2]]
    assert fl.lambdarank(y2, s2, reduction="sum") == pytest.approx(
        np_lambdarank(y2, s2)[0], rel=1e-14)
    assert fl.lambdarank(y2, s2, reduction="sum") != pytest.approx(v1, rel=1e-6)


def _no_ties(rng, n, groups):
    y = rng.integers(0, 4, n).astype(np.float64)
    s = rng.permutation(n) * 0.01 + rng.uniform(0, 0.002, n)   # gaps >= 0.008
    group = rng.integers(0, groups, n)
    return y, s, group


@pytest.mark.parametrize("k", [None, 2])
def test_gradient_and_hessian_finite_differences(k):
    rng = np.random.default_rng(2)
    y, s, group = _no_ties(rng, 40, 3)
    w = rng.uniform(0.2, 1.5, 40)
    loss = fl.LambdaRank(sigma=30.0, k=k, group=group)   # scaled: curvature on the gaps
    grad, hess = loss.gradient_hessian(y, s, sample_weight=w)
    num = central_gradient(lambda x: loss(y, x, sample_weight=w), s, h=1e-6)
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-9)
    numh = central_diagonal(lambda x: loss.gradient(y, x, sample_weight=w), s, h=1e-6)
    np.testing.assert_allclose(hess, numh, rtol=1e-5, atol=1e-8)


def test_ranknet_hessian_against_reference_and_finite_differences():
    rng = np.random.default_rng(5)
    n = 60
    y = rng.integers(0, 4, n).astype(np.float64)
    s = rng.normal(size=n)
    w = rng.random(n)
    group = rng.integers(0, 3, n)
    mask = (y[:, None] > y[None, :]) & (group[:, None] == group[None, :])
    ww = w[:, None] * w[None, :] * mask
    d = 0.7 * (s[:, None] - s[None, :])
    rho = 0.5 * (1 - np.tanh(d / 2))
    hm = ww * 0.49 * rho * (1 - rho)
    h_ref = hm.sum(0) + hm.sum(1)
    for reduction, scale in (("sum", 1.0), ("none", 1.0), ("mean", 1 / ww.sum())):
        loss = fl.RankNet(sigma=0.7, group=group, reduction=reduction)
        g, h = loss.gradient_hessian(y, s, sample_weight=w)
        np.testing.assert_array_equal(g, loss.gradient(y, s, sample_weight=w))
        np.testing.assert_allclose(h, h_ref * scale, rtol=1e-12)
    loss = fl.RankNet(sigma=0.7, group=group)
    numh = central_diagonal(lambda x: loss.gradient(y, x, sample_weight=w), s, h=1e-5)
    np.testing.assert_allclose(loss.gradient_hessian(y, s, sample_weight=w)[1], numh,
                               rtol=1e-6, atol=1e-10)
    # float32 scores: same to float32 precision
    g32, h32 = fl.RankNet(sigma=0.7, group=group).gradient_hessian(
        y.astype(np.float32), s.astype(np.float32), sample_weight=w)
    assert h32.dtype == np.float32
    np.testing.assert_allclose(h32, h_ref / ww.sum(), rtol=2e-5)
    # far-apart scores: the hessian is tiny but positive and finite, not 0 - 0
    g, h = fl.RankNet(reduction="sum").gradient_hessian(np.array([1.0, 0.0]),
                                                        np.array([30.0, 0.0]))
    assert h[0] == pytest.approx(np.exp(-30.0) / (1 + np.exp(-30.0)) ** 2, rel=1e-12)


def test_tiled_large_group_and_hessian():
    """One list above the small-group size runs by rounds of tiles."""
    rng = np.random.default_rng(3)
    n = 2600
    y, s = _data(rng, n, np.float64)
    w = rng.random(n)
    for k in (None, 10):
        total, wsum, g, h, _ = np_lambdarank(y, s, None, w, k=k)
        loss = fl.LambdaRank(k=k, reduction="sum")
        value, grad = loss.loss_gradient(y, s, sample_weight=w)
        _, hess = loss.gradient_hessian(y, s, sample_weight=w)
        assert value == pytest.approx(total, rel=1e-11)
        np.testing.assert_allclose(grad, g, rtol=1e-9, atol=1e-12 * np.abs(g).max())
        np.testing.assert_allclose(hess, h, rtol=1e-9, atol=1e-12 * np.abs(h).max())
    # RankNet's hessian on the tiled path (odd number of tiles) and small groups
    n2 = 2300
    y2 = rng.random(n2)
    s2 = rng.normal(size=n2)
    group = np.where(np.arange(n2) < 2150, 1, rng.integers(2, 6, n2))[rng.permutation(n2)]
    mask = (y2[:, None] > y2[None, :]) & (group[:, None] == group[None, :])
    d = s2[:, None] - s2[None, :]
    rho = 0.5 * (1 - np.tanh(d / 2))
    hm = mask * rho * (1 - rho)
    _, h = fl.RankNet(group=group, reduction="sum").gradient_hessian(y2, s2)
    np.testing.assert_allclose(h, hm.sum(0) + hm.sum(1), rtol=1e-10)


@pytest.mark.parametrize("cls", [fl.RankNet, fl.LambdaRank])
@pytest.mark.parametrize("layout", ["one_list_4096", "groups_1000x100"])
def test_bit_identical_across_thread_counts(cls, layout):
    rng = np.random.default_rng(4)
    if layout == "one_list_4096":
        n, group = 4096, None
    else:
        n, group = 100_000, np.repeat(rng.permutation(1000), 100)
    y, s = _data(rng, n, np.float32)
    w = rng.random(n)
    kw = {"k": 10} if cls is fl.LambdaRank else {}
    results = {}
    for t in (1, 2, 3):
        with fl.num_threads(t):
            loss = cls(group=group, **kw)
            v, g = loss.loss_gradient(y, s, sample_weight=w)
            g2, h = loss.gradient_hessian(y, s, sample_weight=w)
            results[t] = (v, g, g2, h)
    for t in (2, 3):
        assert results[t][0] == results[1][0]
        for a, b in zip(results[t][1:], results[1][1:]):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(results[1][1], results[1][2])


def test_nothing_to_average():
    # all labels 0: IDCG 0; all labels 2: no pair; one-item groups: no pair
    for y, group in ((np.zeros(6), None), (np.full(6, 2.0), None),
                     (np.arange(6.0), np.arange(6))):
        s = np.linspace(-1, 1, 6)
        for k in (None, 2):
            loss = fl.LambdaRank(k=k, group=group)
            v, g = loss.loss_gradient(y, s)
            _, h = loss.gradient_hessian(y, s)
            assert v == 0.0 and not np.any(g) and not np.any(h)
            assert fl.LambdaRank(k=k, group=group, reduction="sum")(y, s) == 0.0
            none = fl.LambdaRank(k=k, group=group, reduction="none")(y, s)
            assert none.shape == (len(np.unique(group)) if group is not None else 1,)
            assert not np.any(none)
    # weights all 0: nothing to average either
    y = np.array([2.0, 1.0, 0.0])
    v, g = fl.LambdaRank().loss_gradient(y, np.zeros(3), sample_weight=np.zeros(3))
    assert v == 0.0 and not np.any(g)


def test_group_with_idcg_zero_adds_nothing():
    """Labels so small that 2^y - 1 rounds to 0: pairs exist, IDCG is 0,
    so the group adds neither loss nor weight to the mean's divisor."""
    y = np.array([5e-324, 0.0, 3.0, 1.0, 0.0])
    s = np.array([0.1, 0.5, -0.2, 0.3, 0.0])
    group = np.array([4, 4, 9, 9, 9])
    both = fl.LambdaRank(group=group)
    alone = fl.LambdaRank()
    v, g = both.loss_gradient(y, s)
    v9, g9 = alone.loss_gradient(y[2:], s[2:])
    assert v == v9
    np.testing.assert_array_equal(g[:2], 0.0)
    np.testing.assert_array_equal(g[2:], g9)
    np.testing.assert_array_equal(fl.LambdaRank(group=group, reduction="none")(y, s),
                                  [0.0, fl.LambdaRank(reduction="sum")(y[2:], s[2:])])


def test_group_handling_matches_ranknet():
    rng = np.random.default_rng(6)
    y, s = _data(rng, 30, np.float64)
    group = np.repeat([5, 1, 9], 10)[rng.permutation(30)]
    total, wsum, g, _, per_group = np_lambdarank(y, s, group)
    loss = fl.LambdaRank(reduction="none")
    np.testing.assert_allclose(loss(y, s, group=group), per_group, rtol=1e-12)
    assert fl.LambdaRank(group=group)(y, s) == pytest.approx(total / wsum, rel=1e-12)
    # call-time group overrides the constructor's
    t0, w0, *_ = np_lambdarank(y, s)
    assert fl.LambdaRank(group=group)(y, s, group=None) == pytest.approx(t0 / w0, rel=1e-12)
    np.testing.assert_allclose(fl.LambdaRank(group=group).gradient(y, s), g / wsum,
                               rtol=1e-12, atol=1e-15)
    # the same bad group, the same message as RankNet's
    for bad in ([0, 1], np.array(["a"] * 30), np.full(30, 0.5)):
        with pytest.raises((ValueError, TypeError)) as r:
            fl.ranknet(y, s, group=bad)
        with pytest.raises(r.type, match="group") as lam:
            fl.lambdarank(y, s, group=bad)
        assert str(lam.value) == str(r.value)


def test_registry_and_metadata():
    assert isinstance(fl.get("lambdarank", k=3), fl.LambdaRank)
    assert isinstance(fl.get("LambdaRank"), fl.LambdaRank)
    assert "lambdarank" in fl.available() or "LambdaRank" in fl.available()
    for cls in (fl.RankNet, fl.LambdaRank):
        assert cls.has_hessian and not cls.hessian_needs_logits and cls.target_kind is None
        assert hasattr(cls(), "gradient_hessian")


def test_stability_and_nan():
    y = np.array([1.0, 0.0])
    v, g = fl.LambdaRank(reduction="sum").loss_gradient(y, np.array([-1e4, 1e4]))
    assert np.isfinite(v) and v > 0 and np.all(np.isfinite(g))
    v, g = fl.LambdaRank(reduction="sum").loss_gradient(y, np.array([1e4, -1e4]))
    assert v == 0.0 and np.all(np.isfinite(g))
    # NaN relevance: everything NaN, as RankNet
    v, g = fl.LambdaRank().loss_gradient(np.array([1.0, np.nan, 0.0]), np.zeros(3))
    assert np.isnan(v) and np.all(np.isnan(g))
    # a NaN score: its group's ranks are undefined, that group is NaN
    y = np.array([1.0, 0.0, 2.0, 0.0, 1.0])
    s = np.array([np.nan, 0.0, 0.3, 0.1, 0.2])
    group = np.array([1, 1, 2, 2, 2])
    none = fl.LambdaRank(group=group, reduction="none", k=1)(y, s)
    assert np.isnan(none[0]) and np.isfinite(none[1])
    g = fl.LambdaRank(group=group, reduction="sum", k=1).gradient(y, s)
    assert np.all(np.isnan(g[:2])) and np.all(np.isfinite(g[2:]))
    assert np.isnan(fl.lambdarank(y, s, group=group))


def test_bad_input():
    y = np.arange(4.0)
    for k, exc in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError),
                   ("3", TypeError)):
        with pytest.raises(exc, match="k"):
            fl.LambdaRank(k=k)
        with pytest.raises(exc, match="k"):
            fl.lambdarank(y, y, k=k)
    with pytest.raises(ValueError, match="sigma"):
        fl.LambdaRank(sigma=0.0)
    for bad in (-1.0, 1024.0, np.inf, -np.inf):
        yb = y.copy()
        yb[2] = bad
        with pytest.raises(ValueError, match="y_true"):
            fl.lambdarank(yb, y)
    with pytest.raises(ValueError, match="y_pred"):
        fl.lambdarank(y.reshape(2, 2), y.reshape(2, 2))
    with pytest.raises(ValueError, match="shape"):
        fl.lambdarank(y, y[:3])
    with pytest.raises(ValueError, match="sample_weight"):
        fl.lambdarank(y, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        fl.lambdarank(y, y, sample_weight=-np.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        fl.LambdaRank(reduction="max")
    with pytest.raises(ValueError, match="y_pred"):
        fl.lambdarank(np.array([]), np.array([]))
    s = y.copy()
    fl.LambdaRank().loss_gradient(y, s, out=np.empty(4))
    np.testing.assert_array_equal(s, y)
    with pytest.raises(ValueError, match="out"):
        fl.LambdaRank().gradient(y, s, out=s)
    with pytest.raises(ValueError, match="out"):
        fl.LambdaRank().gradient(y, s, out=np.empty(4, np.float32))
