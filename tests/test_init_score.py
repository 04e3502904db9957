"""fastloss.init_score: the constant start of a boosting model (SPEC §4.2).

Every expected value is a float64 NumPy reference written here: the value
minimises the loss (checked against the loss written out in NumPy, by brute
force over candidates or by a zero derivative), or equals the closed form
(np.average, np.median, log-odds, log-priors).
"""
import numpy as np
import pytest

import fastloss as fl


def with_kind(loss, kind):
    """`loss`, after checking the start it declares (its ``init_kind``)."""
    assert loss.init_kind == kind
    return loss


def pinball_ref(y, m, q, w):
    e = y - m
    return float(np.sum(w * np.where(e >= 0, q * e, (q - 1) * e)))


@pytest.fixture
def rng():
    return np.random.default_rng(12)


@pytest.mark.parametrize("q", [0.05, 0.3, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("weighted", [False, True])
def test_quantile_minimises_weighted_pinball(rng, q, weighted):
    y = np.round(rng.normal(size=301), 1)   # rounded: many ties
    w = rng.uniform(0, 3, size=301) if weighted else np.ones(301)
    w[:20] = 0.0 if weighted else 1.0
    got = fl.init_score(with_kind(fl.PinballLoss(quantile=q), "quantile"), y,
                        w if weighted else None)
    best = min(pinball_ref(y, c, q, w) for c in np.unique(y))  # the minimum is at a data point
    assert pinball_ref(y, got, q, w) <= best * (1 + 1e-12) + 1e-12


@pytest.mark.parametrize("n", [10, 11, 200])
def test_unweighted_median_is_numpys(rng, n):
    y = rng.normal(size=n)
    got = fl.init_score(with_kind(fl.MeanAbsoluteError(), "median"), y)
    assert got == pytest.approx(np.median(y), rel=0, abs=1e-15)


def test_flat_minimum_gives_the_midpoint():
    # weights 1, 1 | 2: the cumulative weight hits W/2 exactly after 2 values,
    # so every m in [2, 3] minimises Σ w |y - m|; the midpoint is returned
    y = np.array([3.0, 1.0, 2.0])
    w = np.array([2.0, 1.0, 1.0])
    loss = with_kind(fl.MeanAbsoluteError(), "median")
    assert fl.init_score(loss, y, w) == 2.5
    assert fl.init_score(loss, np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 5.0])) == 3.0


def test_integer_weights_equal_repetition(rng):
    y = rng.normal(size=50)
    w = rng.integers(1, 4, size=50)
    loss = with_kind(fl.PinballLoss(quantile=0.7), "quantile")
    assert fl.init_score(loss, y, w) == fl.init_score(loss, np.repeat(y, w))


def test_quantile_per_column_with_an_array_of_quantiles(rng):
    y = rng.exponential(size=(400, 3))
    w = rng.uniform(0.5, 2, size=400)
    qs = np.array([0.1, 0.5, 0.95])
    got = fl.init_score(with_kind(fl.PinballLoss(quantile=qs), "quantile"), y, w)
    assert got.shape == (3,)
    for j, q in enumerate(qs):
        best = min(pinball_ref(y[:, j], c, q, w) for c in y[:, j])
        assert pinball_ref(y[:, j], got[j], q, w) <= best * (1 + 1e-12)
    with pytest.raises(ValueError, match="quantile"):
        fl.init_score(with_kind(fl.PinballLoss(quantile=qs), "quantile"), y[:, :2])


def test_weighted_mean_per_column(rng):
    y = rng.normal(size=(100, 2))
    w = rng.uniform(0, 2, size=100)
    loss = with_kind(fl.MeanSquaredError(), "mean")
    np.testing.assert_allclose(fl.init_score(loss, y, w), np.average(y, axis=0, weights=w),
                               rtol=1e-13)
    assert fl.init_score(loss, y[:, 0]) == pytest.approx(np.mean(y[:, 0]), rel=1e-14)


def test_log_mean_for_poisson_on_the_log_scale(rng):
    y = rng.poisson(3.0, size=500).astype(float)
    w = rng.uniform(0, 2, size=500)
    expected = np.log(np.average(y, weights=w))
    # a name is configured as the boosting adapters do: log_input=True
    assert fl.init_score("poisson", y, w) == pytest.approx(expected, rel=1e-13)
    loss = with_kind(fl.Poisson(log_input=True), "log_mean")
    assert fl.init_score(loss, y, w) == pytest.approx(expected, rel=1e-13)
    # the derivative of Σ w (exp(x) - y x) at the start is 0
    x = fl.init_score(loss, y, w)
    assert abs(np.sum(w * (np.exp(x) - y))) < 1e-9 * np.sum(w * y)
    with pytest.raises(ValueError, match="y_true"):
        fl.init_score(loss, -y - 1)


@pytest.mark.parametrize("pos_weight,smoothing", [(None, 0.0), (3.0, 0.0), (None, 0.2),
                                                  (0.5, 0.1)])
def test_log_odds_zeroes_the_bce_gradient(rng, pos_weight, smoothing):
    y = (rng.uniform(size=700) < 0.3).astype(float)
    w = rng.uniform(0, 2, size=700)
    loss = fl.BinaryCrossentropy(from_logits=True, pos_weight=pos_weight,
                                 label_smoothing=smoothing)
    x = fl.init_score(loss, y, w)
    q = 1.0 if pos_weight is None else pos_weight
    t = y * (1 - smoothing) + smoothing / 2
    p = 1 / (1 + np.exp(-x))
    # d/dx Σ w (-(q t log p + (1 - t) log(1 - p))) = Σ w ((q t + 1 - t) p - q t)
    assert abs(np.sum(w * ((q * t + 1 - t) * p - q * t))) < 1e-10 * np.sum(w)
    if pos_weight is None and smoothing == 0.0:
        m = np.average(y, weights=w)
        assert x == pytest.approx(np.log(m / (1 - m)), rel=1e-13)
        assert fl.init_score("binary_crossentropy", y, w) == x    # names: logits
        prob = fl.init_score(fl.BinaryCrossentropy(), y, w)         # probabilities
        assert prob == pytest.approx(m, rel=1e-13)


def test_balanced_crossentropy_log_odds(rng):
    y = (rng.uniform(size=300) < 0.6).astype(float)
    x = fl.init_score(fl.BalancedCrossentropy(beta=0.3, from_logits=True), y)
    p = 1 / (1 + np.exp(-x))
    assert abs(np.sum(0.3 * y * (p - 1) + 0.7 * (1 - y) * p)) < 1e-10 * y.size


@pytest.mark.parametrize("name", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_log_priors_sparse_and_one_hot(rng, name):
    labels = rng.choice(4, size=600, p=[0.1, 0.2, 0.3, 0.4])
    w = rng.uniform(0, 2, size=600)
    expected = np.log(np.bincount(labels, weights=w, minlength=4) / w.sum())
    got_sparse = fl.init_score(name, labels, w)
    got_onehot = fl.init_score(name, np.eye(4)[labels], w)
    np.testing.assert_allclose(got_sparse, expected, rtol=1e-13)
    np.testing.assert_allclose(got_onehot, expected, rtol=1e-13)
    probs = fl.init_score(fl.get(name), labels, w)                   # probabilities
    np.testing.assert_allclose(probs, np.exp(expected), rtol=1e-13)


def test_log_priors_with_class_weight_smoothing_and_ignore_index(rng):
    labels = rng.choice(3, size=500)
    w = rng.uniform(0.2, 2, size=500)
    a = np.array([1.0, 2.0, 0.5])
    s = 0.1
    x = fl.init_score(fl.CategoricalCrossentropy(from_logits=True, class_weight=a,
                                                 label_smoothing=s), np.eye(3)[labels], w)
    t = np.eye(3)[labels] * (1 - s) + s / 3
    p = np.exp(x) / np.exp(x).sum()
    # d/dx_c Σ_i w_i (-Σ_c a_c t_ic log softmax(x)_c) = Σ_i w_i (T_i p_c - a_c t_ic)
    T = t @ a
    np.testing.assert_allclose(w @ (T[:, None] * p - a * t), 0.0, atol=1e-10 * w.sum())
    labels_ign = labels.copy()
    labels_ign[:100] = -1
    got = fl.init_score(fl.SparseCategoricalCrossentropy(from_logits=True, ignore_index=-1),
                        labels_ign, w)
    cnt = np.bincount(labels[100:], weights=w[100:], minlength=3)
    np.testing.assert_allclose(got, np.log(cnt / cnt.sum()), rtol=1e-13)


def test_degenerate_inputs():
    mse = with_kind(fl.MeanSquaredError(), "mean")
    assert fl.init_score(mse, [1.0, 2.0], [0.0, 0.0]) == 0.0          # nothing to fit
    assert np.isnan(fl.init_score(mse, [1.0, np.nan]))
    assert np.isnan(fl.init_score(with_kind(fl.MeanAbsoluteError(), "median"), [1.0, np.nan]))
    assert fl.init_score("binary_crossentropy", [0.0, 0.0]) == -np.inf   # infimum, not attained
    assert fl.init_score("binary_crossentropy", [0.0, 1.0], [0.0, 0.0]) == 0.0


def test_losses_without_a_start_and_bad_input():
    for loss in (fl.LogCosh(), fl.Hinge(), "ranknet"):
        with pytest.raises(NotImplementedError, match="LogCosh|Hinge|RankNet"):
            fl.init_score(loss, [0.0, 1.0])
    mse = with_kind(fl.MeanSquaredError(), "mean")
    with pytest.raises(ValueError, match="sample_weight"):
        fl.init_score(mse, [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="sample_weight"):
        fl.init_score(mse, [1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="y_true"):
        fl.init_score(mse, [])
    with pytest.raises(ValueError, match="y_true"):
        fl.init_score(mse, np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="y_true"):
        fl.init_score(mse, ["a", "b"])
    with pytest.raises(TypeError, match="loss"):
        fl.init_score(3.0, [1.0])
    with pytest.raises(ValueError, match="y_true"):
        fl.init_score("binary_crossentropy", [0.0, 2.0])
    with pytest.raises(ValueError, match="y_true"):
        fl.init_score("sparse_categorical_crossentropy", [0.5, 1.0])
    with pytest.raises(ValueError, match="unknown loss"):
        fl.init_score("no_such_loss", [1.0])


@pytest.mark.parametrize("power", [0.0, 1.0, 1.5, 2.0, 3.0])
def test_tweedie_starts(rng, power):
    y = rng.gamma(2.0, 1.5, size=400)
    w = rng.uniform(0, 2, size=400)
    m = np.average(y, weights=w)
    x = fl.init_score(fl.TweedieDeviance(power=power, log_input=True), y, w)
    assert x == pytest.approx(np.log(m), rel=1e-13)
    mu = np.exp(x)
    # d/dx Σ w d(y, e^x) = Σ w 2(μ^(2-p) - y μ^(1-p)) = 2 μ^(1-p) Σ w (μ - y): zero at the start
    assert abs(np.sum(w * 2 * (mu ** (2 - power) - y * mu ** (1 - power)))) < 1e-9 * np.sum(w * y)
    assert fl.init_score("tweedie_deviance", y, w, power=power) == x     # names: log scale
    assert fl.init_score(fl.TweedieDeviance(power=power), y, w) == pytest.approx(m, rel=1e-13)


def test_pseudo_huber_starts_at_the_mean_and_expectile_has_no_start(rng):
    y = rng.normal(size=200)
    w = rng.uniform(0, 2, size=200)
    assert fl.init_score("pseudo_huber", y, w) == pytest.approx(np.average(y, weights=w),
                                                                rel=1e-13)
    with pytest.raises(NotImplementedError, match="ExpectileLoss"):
        fl.init_score("expectile_loss", y, w)
