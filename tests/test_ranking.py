"""RankNet against a float64 NumPy pairwise formula, torch broadcasting with
autograd, finite differences; both kernel schemes (small groups in
parallel, large groups by rounds of tiles)."""
import numpy as np
import pytest

import fastloss as fl


def np_ranknet(y, s, group=None, w=None, sigma=1.0):
    """(Σ w_i w_j l_ij, Σ w_i w_j, d Σ/ds, per-group sums in first-appearance order)."""
    y = np.asarray(y, np.float64)
    s = np.asarray(s, np.float64)
    n = len(y)
    g = np.zeros(n, int) if group is None else np.asarray(group)
    w = np.ones(n) if w is None else np.asarray(w, np.float64)
    mask = (y[:, None] > y[None, :]) & (g[:, None] == g[None, :])
    d = sigma * (s[:, None] - s[None, :])
    ww = w[:, None] * w[None, :] * mask
    l = np.logaddexp(0.0, -d)
    sig = 0.5 * (1 - np.tanh(d / 2))            # sigmoid(-d)
    gmat = ww * sigma * sig
    grad = -gmat.sum(1) + gmat.sum(0)
    per_pair = ww * l
    _, first = np.unique(g, return_index=True)
    ids = g[np.sort(first)]
    per_group = np.array([per_pair[g == q].sum() for q in ids])
    return per_pair.sum(), ww.sum(), grad, per_group


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("grouped", [False, True])
def test_values_and_gradients(reduction, weighted, dtype, grouped):
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 4, n).astype(dtype)
    s = (rng.normal(size=n) * 2).astype(dtype)
    group = rng.choice([7, -2, 40, 3], size=n) if grouped else None
    w = rng.random(n) if weighted else None
    total, wsum, g, per_group = np_ranknet(y, s, group, w, sigma=1.5)
    loss = fl.RankNet(sigma=1.5, group=group, reduction=reduction)
    value, grad = loss.loss_gradient(y, s, sample_weight=w)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype
    if reduction == "none":
        assert value.shape == per_group.shape
        np.testing.assert_allclose(value, per_group, rtol=tol)
    elif reduction == "sum":
        assert value == pytest.approx(total, rel=tol)
    else:
        assert value == pytest.approx(total / wsum, rel=tol)
        g = g / wsum
    np.testing.assert_allclose(grad, g, rtol=tol, atol=tol * 1e-3)
    np.testing.assert_array_equal(
        fl.ranknet(y, s, sample_weight=w, sigma=1.5, group=group, reduction=reduction), value)


def test_call_time_group_and_order_of_appearance():
    rng = np.random.default_rng(1)
    y = rng.random(30)
    s = rng.normal(size=30)
    group = np.repeat([5, 1, 9], 10)[rng.permutation(30)]
    loss = fl.RankNet(reduction="none")
    value = loss(y, s, group=group)
    np.testing.assert_allclose(value, np_ranknet(y, s, group)[3], rtol=1e-12)
    order = [group[0]] + [q for q in dict.fromkeys(group) if q != group[0]]
    assert len(value) == len(set(group)) == len(order)
    assert loss(y, s) == pytest.approx(np_ranknet(y, s)[0], rel=1e-12)   # constructor default
    assert fl.RankNet(group=group).loss_gradient(y, s)[0] == pytest.approx(
        loss.loss_gradient(y, s, group=group)[0].sum() / np_ranknet(y, s, group)[1], rel=1e-12)
    # call-time group overrides the constructor's
    assert fl.RankNet(group=group)(y, s, group=None) == pytest.approx(
        np_ranknet(y, s)[0] / np_ranknet(y, s)[1], rel=1e-12)


def test_finite_differences_and_torch():
    rng = np.random.default_rng(2)
    y = rng.random(50)
    s = rng.normal(size=50)
    w = rng.random(50)
    group = rng.integers(0, 3, 50)
    loss = fl.RankNet(sigma=0.7, group=group)
    grad = loss.gradient(y, s, sample_weight=w)
    h = 1e-6
    for i in range(0, 50, 7):
        sp, sm = s.copy(), s.copy()
        sp[i] += h
        sm[i] -= h
        num = (loss(y, sp, sample_weight=w) - loss(y, sm, sample_weight=w)) / (2 * h)
        assert grad[i] == pytest.approx(num, rel=1e-6, abs=1e-10)
    torch = pytest.importorskip("torch")
    ts = torch.tensor(s, requires_grad=True)
    ty, tw, tg = torch.tensor(y), torch.tensor(w), torch.tensor(group)
    mask = (ty[:, None] > ty[None, :]) & (tg[:, None] == tg[None, :])
    ww = tw[:, None] * tw[None, :] * mask
    pair = torch.nn.functional.softplus(-0.7 * (ts[:, None] - ts[None, :]))
    ref = (ww * pair).sum() / ww.sum()
    ref.backward()
    assert loss(y, s, sample_weight=w) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, ts.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_large_group_tiled_path():
    """One group above the small-group size runs by rounds of tiles."""
    rng = np.random.default_rng(3)
    n = 2600                                    # > 2048: tiled, nb = 6 (even) rounds
    y = rng.integers(0, 5, n).astype(np.float64)
    s = rng.normal(size=n)
    w = rng.random(n)
    total, wsum, g, _ = np_ranknet(y, s, None, w)
    value, grad = fl.RankNet(reduction="sum").loss_gradient(y, s, sample_weight=w)
    assert value == pytest.approx(total, rel=1e-11)
    np.testing.assert_allclose(grad, g, rtol=1e-10, atol=1e-12)
    # mixed: one large group (odd number of tiles) and small groups
    n2 = 2300                                   # large group: 2150 items, nb = 5 (odd)
    y2 = rng.random(n2)
    s2 = rng.normal(size=n2)
    group = np.where(np.arange(n2) < 2150, 1, rng.integers(2, 6, n2))[rng.permutation(n2)]
    total, wsum, g, per_group = np_ranknet(y2, s2, group)
    loss = fl.RankNet(reduction="none", group=group)
    value, grad = loss.loss_gradient(y2, s2)
    np.testing.assert_allclose(value, per_group, rtol=1e-11)
    np.testing.assert_allclose(grad, g, rtol=1e-10, atol=1e-12)
    with fl.num_threads(1):
        v1, g1 = loss.loss_gradient(y2, s2)
    with fl.num_threads(2):
        v2, g2 = loss.loss_gradient(y2, s2)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(g1, g2)


def test_deterministic_many_small_groups():
    rng = np.random.default_rng(4)
    n = 20000
    y = rng.integers(0, 5, n).astype(np.float32)
    s = rng.normal(size=n).astype(np.float32)
    group = rng.integers(0, 200, n)
    loss = fl.RankNet(group=group)
    with fl.num_threads(1):
        v1, g1 = loss.loss_gradient(y, s)
    with fl.num_threads(2):
        v2, g2 = loss.loss_gradient(y, s)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)


def test_stability_and_edge_cases():
    y = np.array([1.0, 0.0])
    v, g = fl.RankNet(reduction="sum").loss_gradient(y, np.array([-1e4, 1e4]))
    assert v == pytest.approx(2e4) and np.allclose(g, [-1.0, 1.0])
    v, g = fl.RankNet(reduction="sum").loss_gradient(y, np.array([1e4, -1e4]))
    assert v == 0.0 and np.all(np.isfinite(g))
    # no pairs: all ties, or singleton groups
    v, g = fl.RankNet().loss_gradient(np.ones(5), np.arange(5.0))
    assert v == 0.0 and not np.any(g)
    v, g = fl.RankNet(group=np.arange(5)).loss_gradient(np.arange(5.0), np.ones(5))
    assert v == 0.0 and not np.any(g)
    v, g = fl.RankNet().loss_gradient(np.array([1.0, np.nan, 0.0]), np.zeros(3))
    assert np.isnan(v) and np.all(np.isnan(g))
    assert np.all(np.isnan(fl.ranknet(np.array([1.0, np.nan]), np.zeros(2), reduction="none")))
    assert np.isnan(fl.ranknet(np.array([1.0, 0.0]), np.array([np.nan, 0.0])))


def test_bad_input():
    y = np.arange(4.0)
    with pytest.raises(ValueError, match="sigma"):
        fl.RankNet(sigma=0.0)
    with pytest.raises(ValueError, match="group"):
        fl.ranknet(y, y, group=[0, 1])
    with pytest.raises(TypeError, match="group"):
        fl.ranknet(y, y, group=np.array(["a", "b", "c", "d"]))
    with pytest.raises(ValueError, match="group"):
        fl.ranknet(y, y, group=np.array([0.5, 1, 1, 1]))
    with pytest.raises(ValueError, match="y_pred"):
        fl.ranknet(y.reshape(2, 2), y.reshape(2, 2))
    with pytest.raises(ValueError, match="shape"):
        fl.ranknet(y, y[:3])
    with pytest.raises(ValueError, match="sample_weight"):
        fl.ranknet(y, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        fl.RankNet(reduction="max")
    s = y.copy()
    fl.RankNet().loss_gradient(y, s, out=np.empty(4))
    np.testing.assert_array_equal(s, y)
    with pytest.raises(ValueError, match="out"):
        fl.RankNet().gradient(y, s, out=s)
