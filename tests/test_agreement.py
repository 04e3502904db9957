"""Kappa loss against a float64 NumPy formula, scikit-learn's
cohen_kappa_score and finite differences; fl.cohen_kappa against sklearn."""
import numpy as np
import pytest

import fastloss as fl

WEIGHTS = [None, "linear", "quadratic"]


def np_weights(weights, C):
    i = np.arange(C)
    d = np.abs(i[:, None] - i[None, :]).astype(np.float64)
    if weights is None:
        return (d > 0).astype(np.float64)
    if weights == "linear":
        return d / (C - 1)
    return d ** 2 / (C - 1) ** 2


def np_kappa_loss(y, P, weights=None, w=None):
    n, C = P.shape
    w = np.ones(n) if w is None else w
    Y = np.eye(C)[y] * w[:, None]
    O = Y.T @ P
    E = np.outer(Y.sum(0), (P * w[:, None]).sum(0)) / w.sum()
    W = np_weights(weights, C)
    return np.sum(W * O) / np.sum(W * E)


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def data(rng, n=60, C=4):
    return rng.integers(0, C, n), softmax(rng.normal(size=(n, C)) * 2)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_and_gradient(weights, weighted, dtype):
    rng = np.random.default_rng(0)
    y, P = data(rng)
    P = P.astype(dtype)
    w = rng.random(len(y)) if weighted else None
    loss = fl.KappaLoss(weights=weights)
    value, grad = loss.loss_gradient(y, P, sample_weight=w)
    ref = np_kappa_loss(y, P.astype(np.float64), weights, w)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert isinstance(value, float) and value == pytest.approx(ref, rel=tol)
    assert grad.dtype == dtype and grad.shape == P.shape
    assert fl.kappa_loss(y, P, sample_weight=w, weights=weights) == value
    if dtype == np.float64:
        h = 1e-6
        for i, c in [(0, 0), (3, 2), (17, 1), (59, 3), (30, 0)]:
            pp, pm = P.copy(), P.copy()
            pp[i, c] += h
            pm[i, c] -= h
            num = (np_kappa_loss(y, pp, weights, w) - np_kappa_loss(y, pm, weights, w)) / (2 * h)
            assert grad[i, c] == pytest.approx(num, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_from_logits(weights):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 40)
    z = rng.normal(size=(40, 3))
    w = rng.random(40)
    loss = fl.KappaLoss(weights=weights, from_logits=True)
    value, grad = loss.loss_gradient(y, z, sample_weight=w)
    assert value == pytest.approx(np_kappa_loss(y, softmax(z), weights, w), rel=1e-13)
    h = 1e-6
    for i, c in [(0, 0), (5, 2), (39, 1)]:
        zp, zm = z.copy(), z.copy()
        zp[i, c] += h
        zm[i, c] -= h
        num = (np_kappa_loss(y, softmax(zp), weights, w)
               - np_kappa_loss(y, softmax(zm), weights, w)) / (2 * h)
        assert grad[i, c] == pytest.approx(num, rel=1e-6, abs=1e-9)
    torch = pytest.importorskip("torch")
    tz = torch.tensor(z, requires_grad=True)
    tw = torch.tensor(w)
    Y = torch.eye(3, dtype=torch.float64)[torch.tensor(y)] * tw[:, None]
    P = torch.softmax(tz, 1)
    O = Y.T @ P
    E = torch.outer(Y.sum(0), (P * tw[:, None]).sum(0)) / tw.sum()
    W = torch.tensor(np_weights(weights, 3))
    ((W * O).sum() / (W * E).sum()).backward()
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_one_hot_matches_sklearn(weights):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    y = rng.integers(0, 5, 200)
    pred = np.where(rng.random(200) < 0.6, y, rng.integers(0, 5, 200))
    P = np.eye(5)[pred]
    w = rng.random(200)
    assert 1 - fl.kappa_loss(y, P, weights=weights) == pytest.approx(
        sk.cohen_kappa_score(y, pred, weights=weights), rel=1e-12)
    assert 1 - fl.kappa_loss(y, P, weights=weights, sample_weight=w) == pytest.approx(
        sk.cohen_kappa_score(y, pred, weights=weights, sample_weight=w), rel=1e-12)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_cohen_kappa_matches_sklearn(weights):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    labels = np.array([-3, 2, 7, 10, 11])              # not 0..C-1, gaps
    a = labels[rng.integers(0, 5, 300)]
    b = np.where(rng.random(300) < 0.5, a, labels[rng.integers(0, 4, 300)])
    w = rng.random(300)
    assert fl.cohen_kappa(a, b, weights=weights) == pytest.approx(
        sk.cohen_kappa_score(a, b, weights=weights), rel=1e-12)
    assert fl.cohen_kappa(a, b, weights, sample_weight=w) == pytest.approx(
        sk.cohen_kappa_score(a, b, weights=weights, sample_weight=w), rel=1e-12)
    big_a = rng.integers(0, 6, 100000)
    big_b = np.where(rng.random(100000) < 0.3, big_a, rng.integers(0, 6, 100000))
    assert fl.cohen_kappa(big_a, big_b, weights) == pytest.approx(
        sk.cohen_kappa_score(big_a, big_b, weights=weights), rel=1e-10)
    # string labels work too (sorted union, as sklearn)
    s_a, s_b = np.array(["x", "y", "z", "x"]), np.array(["x", "z", "z", "y"])
    assert fl.cohen_kappa(s_a, s_b, weights) == pytest.approx(
        sk.cohen_kappa_score(s_a, s_b, weights=weights), rel=1e-12)


def test_undefined_kappa():
    y = np.zeros(5, dtype=int)
    P = np.tile([1.0, 0.0, 0.0], (5, 1))
    v, g = fl.KappaLoss().loss_gradient(y, P)
    assert v == 0.0 and not np.any(g)
    v, g = fl.KappaLoss().loss_gradient(np.array([0, 1, 2]), np.eye(3), sample_weight=np.zeros(3))
    assert v == 0.0 and not np.any(g)
    assert np.isnan(fl.cohen_kappa([1, 1, 1], [1, 1, 1]))


def test_bad_input():
    rng = np.random.default_rng(4)
    y, P = data(rng, 10, 3)
    with pytest.raises(ValueError, match="y_true"):
        fl.kappa_loss(y + 3, P)
    with pytest.raises(ValueError, match="y_true"):
        fl.kappa_loss(y - 5, P)
    with pytest.raises(ValueError, match="y_true"):
        fl.kappa_loss(y[:5], P)
    with pytest.raises(ValueError, match="y_true"):
        fl.kappa_loss(y + 0.5, P)
    with pytest.raises(ValueError, match="y_pred"):
        fl.kappa_loss(y, P[:, 0])
    with pytest.raises(ValueError, match="weights"):
        fl.KappaLoss(weights="cubic")
    with pytest.raises(ValueError, match="weights"):
        fl.cohen_kappa(y, y, weights="cubic")
    with pytest.raises(ValueError, match="sample_weight"):
        fl.kappa_loss(y, P, sample_weight=-np.ones(10))
    with pytest.raises(ValueError, match="y_pred_labels"):
        fl.cohen_kappa(y, y[:3])
    with pytest.raises(TypeError, match="from_logits"):
        fl.KappaLoss(from_logits=1)
    with pytest.raises(TypeError):
        fl.KappaLoss(reduction="sum")                     # Kappa has no reduction
    before = P.copy()
    fl.KappaLoss(from_logits=True).loss_gradient(y, P)
    np.testing.assert_array_equal(P, before)
    assert isinstance(fl.get("kappa_loss"), fl.KappaLoss)


@pytest.mark.parametrize("from_logits", [False, True])
def test_deterministic_across_threads(from_logits):
    rng = np.random.default_rng(5)
    y = rng.integers(0, 7, 30000)
    P = softmax(rng.normal(size=(30000, 7))).astype(np.float32)
    w = rng.random(30000)
    loss = fl.KappaLoss(weights="quadratic", from_logits=from_logits)
    with fl.num_threads(1):
        v1, g1 = loss.loss_gradient(y, P, sample_weight=w)
    with fl.num_threads(2):
        v2, g2 = loss.loss_gradient(y, P, sample_weight=w)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)
    out = np.empty_like(P)
    assert loss.gradient(y, P, sample_weight=w, out=out) is out
    np.testing.assert_array_equal(out, g1)


# ------------------------------------------------- many classes, no C×C matrix
from conftest import central_gradient  # noqa: E402


def w_of_distance(weights, d, C):
    """W at distance d (any array of ints), the definition of SPEC §3 row 12."""
    d = np.abs(d).astype(np.float64)
    if weights is None:
        return (d > 0).astype(np.float64)
    if C == 1:
        return np.zeros_like(d)
    if weights == "linear":
        return d / (C - 1)
    return d ** 2 / (C - 1) ** 2


def np_kappa_rows(y, P, weights=None, w=None):
    """(loss, gradient) of the soft kappa in float64, forming only the rows of W
    that belong to labels present (at most n × C): an independent route to
    the same definition for C too large for the C×C reference above."""
    P = np.asarray(P, dtype=np.float64)
    n, C = P.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    cols = np.arange(C)
    present, inv = np.unique(y, return_inverse=True)
    Wrows = w_of_distance(weights, present[:, None] - cols[None, :], C)   # (k, C)
    h = np.bincount(inv, weights=w, minlength=present.size)
    v = h @ Wrows
    q = w @ P
    sw = w.sum()
    num = np.sum(w * np.sum(Wrows[inv] * P, axis=1))
    den = v @ q / sw
    L = num / den
    grad = w[:, None] * (Wrows[inv] - L * v[None, :] / sw) / den
    return L, grad


@pytest.mark.parametrize("weights", WEIGHTS)
def test_rows_reference_agrees_with_full_matrix(weights):
    # the reference used for large C is checked against the C×C one
    rng = np.random.default_rng(10)
    y, P = data(rng, 30, 6)
    w = rng.random(30)
    assert np_kappa_rows(y, P, weights, w)[0] == pytest.approx(
        np_kappa_loss(y, P, weights, w), rel=1e-13)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("C", [1, 2, 3, 7, 64, 300])
def test_closed_forms_match_weight_matrix(weights, C):
    """Value and gradient against the float64 formula with W formed (C×C):
    the closed forms for hᵀW and the per-row sums keep float64 accuracy."""
    rng = np.random.default_rng(C)
    n = 3 * C + 5
    y = rng.integers(0, C, n)
    P = softmax(rng.normal(size=(n, C)) * 2)
    w = rng.random(n) * 3
    value, grad = fl.KappaLoss(weights=weights).loss_gradient(y, P, sample_weight=w)
    if C == 1:
        assert value == 0.0 and not np.any(grad)          # W = 0: κ undefined
        return
    assert value == pytest.approx(np_kappa_loss(y, P, weights, w), rel=1e-12)
    _, ref_grad = np_kappa_rows(y, P, weights, w)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13 * np.abs(ref_grad).max())


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("from_logits", [False, True])
def test_gradient_finite_differences_weighted(weights, from_logits):
    rng = np.random.default_rng(11)
    n, C = 9, 5
    y = rng.integers(0, C, n)
    z = rng.normal(size=(n, C))
    x = z if from_logits else softmax(z)
    w = rng.random(n) + 0.1

    def f(x):
        return np_kappa_loss(y, softmax(x) if from_logits else x, weights, w)

    grad = fl.KappaLoss(weights=weights, from_logits=from_logits).gradient(y, x, sample_weight=w)
    np.testing.assert_allclose(grad, central_gradient(f, x), rtol=1e-6, atol=1e-9)


def _peak_bytes(fun):
    """(fun(), peak bytes traced while it ran); NumPy reports its buffers."""
    import tracemalloc
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fun()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()


@pytest.mark.parametrize("weights", WEIGHTS)
def test_200000_classes_small_memory(weights):
    """1.6 MB of input used to ask for a 298 GiB weight matrix (C×C)."""
    P = np.full((1, 200000), 5e-6)
    (value, grad), peak = _peak_bytes(
        lambda: fl.KappaLoss(weights=weights).loss_gradient([0], P))
    # one row: O = E, so Σ W∘O / Σ W∘E = 1 and the gradient is 0
    assert value == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(grad, 0.0, atol=1e-12)
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert fl.kappa_loss([0], P, weights=weights) == value


@pytest.mark.parametrize("weights", WEIGHTS)
def test_200000_classes_values_weighted(weights):
    rng = np.random.default_rng(12)
    n, C = 6, 200000
    y = np.array([0, 199999, 5, 100000, 5, 123456])
    P = rng.random((n, C)).astype(np.float32)
    P /= P.sum(1, keepdims=True)
    w = rng.random(n) + 0.5
    (value, grad), peak = _peak_bytes(
        lambda: fl.KappaLoss(weights=weights).loss_gradient(y, P, sample_weight=w))
    ref, ref_grad = np_kappa_rows(y, P, weights, w)
    assert value == pytest.approx(ref, rel=1e-9)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-6 * np.abs(ref_grad).max())
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("weights", WEIGHTS)
def test_wide_rows_several_blocks_deterministic(weights):
    # rows wider than one 4096-element block: blocks of 64 rows each
    rng = np.random.default_rng(13)
    n, C = 200, 4500
    y = rng.integers(0, C, n)
    P = softmax(rng.normal(size=(n, C)))
    w = rng.random(n)
    loss = fl.KappaLoss(weights=weights)
    with fl.num_threads(1):
        v1, g1 = loss.loss_gradient(y, P, sample_weight=w)
    with fl.num_threads(2):
        v2, g2 = loss.loss_gradient(y, P, sample_weight=w)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)
    ref, ref_grad = np_kappa_rows(y, P, weights, w)
    assert v1 == pytest.approx(ref, rel=1e-11)
    np.testing.assert_allclose(g1, ref_grad, rtol=1e-9, atol=1e-12 * np.abs(ref_grad).max())


def cohen_closed_form(a, b, weights, C):
    """Cohen's kappa when a and b are permutations of 0..C-1 (every class
    once in each): E = 1/C everywhere, so Σ W∘E = Σ_ab W_ab / C, with
    Σ_ab |a - b| = (C³ - C)/3 and Σ_ab (a - b)² = C²(C² - 1)/6."""
    num = w_of_distance(weights, a - b, C).sum()
    if weights is None:
        total = C * C - C
    elif weights == "linear":
        total = (C ** 3 - C) / 3 / (C - 1)
    else:
        total = C * C * (C * C - 1) / 6 / (C - 1) ** 2
    return 1.0 - num / (total / C)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_cohen_kappa_200000_distinct_labels(weights):
    rng = np.random.default_rng(14)
    C = 200000
    a = rng.permutation(C)
    b = a.copy()
    swap = rng.choice(C, size=(C // 4, 2), replace=False)
    b[swap[:, 0]], b[swap[:, 1]] = a[swap[:, 1]], a[swap[:, 0]]   # still a permutation
    k, peak = _peak_bytes(lambda: fl.cohen_kappa(a, b, weights))
    assert k == pytest.approx(cohen_closed_form(a, b, weights, C), rel=1e-10, abs=1e-12)
    assert peak < 128 * 2**20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("weights", WEIGHTS)
def test_cohen_kappa_many_labels_weighted_matches_sklearn(weights):
    # more classes than fit one 4096-sample block twice: blocks of 2C samples
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(15)
    n, C = 6000, 2100
    a = rng.integers(0, C, n)
    b = np.where(rng.random(n) < 0.4, a, rng.integers(0, C, n))
    w = rng.random(n)
    assert fl.cohen_kappa(a, b, weights, sample_weight=w) == pytest.approx(
        sk.cohen_kappa_score(a, b, weights=weights, sample_weight=w), rel=1e-10)
    with fl.num_threads(1):
        k1 = fl.cohen_kappa(a, b, weights, sample_weight=w)
    with fl.num_threads(2):
        k2 = fl.cohen_kappa(a, b, weights, sample_weight=w)
    assert k1 == k2


# ------------------------------------------------------------ messages, -inf, NaN
def _all_forms(weights=None, from_logits=False):
    """Every public way to evaluate the loss."""
    loss = fl.KappaLoss(weights=weights, from_logits=from_logits)
    kw = dict(weights=weights, from_logits=from_logits)
    return {
        "call": lambda y, p, **k: loss(y, p, **k),
        "loss": lambda y, p, **k: loss.loss(y, p, **k),
        "gradient": lambda y, p, **k: loss.gradient(y, p, **k),
        "loss_gradient": lambda y, p, **k: loss.loss_gradient(y, p, **k),
        "function": lambda y, p, **k: fl.kappa_loss(y, p, **kw, **k),
    }


@pytest.mark.parametrize("form", list(_all_forms()))
def test_ragged_y_pred_names_y_pred(form):
    f = _all_forms()[form]
    with pytest.raises(ValueError, match="y_pred"):
        f([0, 1], [[0.5, 0.5], [1.0]])


def test_cohen_kappa_ragged_names_argument():
    with pytest.raises(ValueError, match="y_true"):
        fl.cohen_kappa([[1, 2], [1]], [1, 2])
    with pytest.raises(ValueError, match="y_pred_labels"):
        fl.cohen_kappa([1, 2], [[1, 2], [1]])


@pytest.mark.parametrize("weights", WEIGHTS)
def test_masked_class_logits_finite(weights):
    """A logit of -inf is a probability of exactly 0: finite loss and gradient,
    equal to the definition with that probability 0 (also for a label's class)."""
    rng = np.random.default_rng(16)
    n, C = 12, 4
    y = rng.integers(0, 3, n)                # class 3 is never a target
    z = rng.normal(size=(n, C))
    z[:, 3] = -np.inf                        # masked everywhere
    z[2, y[2]] = -np.inf                     # and one row's own label
    w = rng.random(n) + 0.1
    value, grad = fl.KappaLoss(weights=weights, from_logits=True).loss_gradient(
        y, z, sample_weight=w)
    P = softmax(z)
    assert P[2, y[2]] == 0.0 and np.all(P[:, 3] == 0.0)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert value == pytest.approx(np_kappa_loss(y, P, weights, w), rel=1e-12)
    finite = np.isfinite(z)
    assert np.all(grad[~finite] == 0.0)

    def f(x):
        zz = z.copy()
        zz[finite] = x[finite]
        return np_kappa_loss(y, softmax(zz), weights, w)

    x0 = np.where(finite, z, 0.0)
    num = central_gradient(f, x0)
    np.testing.assert_allclose(grad[finite], num[finite], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("form", list(_all_forms()))
def test_all_masked_row_is_inf_never_nan(form):
    """A row of only -inf logits has no distribution: its label is masked, so
    the loss is +inf (sample weight > 0) and the gradient 0, never NaN."""
    rng = np.random.default_rng(17)
    y = rng.integers(0, 3, 8)
    z = rng.normal(size=(8, 3))
    z[4] = -np.inf
    f = _all_forms(from_logits=True)[form]
    out = f(y, z)
    value, grad = (out if form == "loss_gradient" else
                   (None, out) if form == "gradient" else (out, None))
    if value is not None:
        assert value == np.inf
    if grad is not None:
        assert not np.any(np.isnan(grad)) and not np.any(grad)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_all_masked_row_of_weight_zero_is_left_out(weights):
    rng = np.random.default_rng(18)
    y = rng.integers(0, 3, 8)
    z = rng.normal(size=(8, 3))
    z[4] = -np.inf
    w = rng.random(8) + 0.1
    w[4] = 0.0
    keep = np.arange(8) != 4
    loss = fl.KappaLoss(weights=weights, from_logits=True)
    value, grad = loss.loss_gradient(y, z, sample_weight=w)
    ref_value, ref_grad = loss.loss_gradient(y[keep], z[keep], sample_weight=w[keep])
    assert value == pytest.approx(ref_value, rel=1e-14)
    assert np.all(grad[4] == 0.0)
    np.testing.assert_allclose(grad[keep], ref_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("weights", WEIGHTS)
def test_nan_propagates(weights, from_logits):
    rng = np.random.default_rng(19)
    y, P = data(rng, 10, 3)
    x = np.log(P) if from_logits else P
    x[3, 1] = np.nan
    loss = fl.KappaLoss(weights=weights, from_logits=from_logits)
    value, grad = loss.loss_gradient(y, x)
    assert np.isnan(value) and np.isnan(loss(y, x))
    assert np.any(np.isnan(grad))
    # NaN next to -inf logits still propagates (is not taken for a masked row)
    if from_logits:
        x[3] = [-np.inf, np.nan, -np.inf]
        assert np.isnan(loss(y, x))
