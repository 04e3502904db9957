"""fastloss.sklearn: LossRegressor / LossClassifier.

scikit-learn's own estimator checks, agreement with Ridge, HuberRegressor,
PoissonRegressor and LogisticRegression(lbfgs) where the objectives coincide
(the alpha mappings are those of the module docstring), and use inside
Pipeline / GridSearchCV / cross_val_score.
"""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

import fastloss as fl  # noqa: E402
from fastloss.sklearn import LossClassifier, LossRegressor  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import (HuberRegressor, LogisticRegression,  # noqa: E402
                                  PoissonRegressor, Ridge)
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

# Small max_iter / tol keep the checks quick; they still converge on the
# checks' small data sets (the sample-weight equivalence check passes).
_CHECKED = [LossRegressor(max_iter=200, tol=1e-5), LossClassifier(max_iter=200, tol=1e-5),
            LossClassifier("sparse_categorical_crossentropy", max_iter=200, tol=1e-5)]


@parametrize_with_checks(_CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def rel_err(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))


@pytest.fixture
def regression():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6)) * rng.uniform(0.5, 3, size=6)
    y = X @ rng.normal(size=6) + 1.5 + rng.standard_t(2, size=300)
    sw = rng.uniform(0.2, 2.0, size=300)
    return X, y, sw, rng


TIGHT = dict(tol=1e-12, max_iter=5000)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 30.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_mse_agrees_with_ridge(regression, alpha, weighted):
    X, y, sw, _ = regression
    sw = sw if weighted else None
    ridge = Ridge(alpha=alpha, solver="cholesky").fit(X, y, sample_weight=sw)
    ours = LossRegressor("mse", alpha=alpha, **TIGHT).fit(X, y, sample_weight=sw)
    assert rel_err(ours.coef_, ridge.coef_) < 1e-5
    assert rel_err(ours.intercept_, ridge.intercept_) < 1e-5
    assert isinstance(ours.intercept_, float) and ours.coef_.shape == (6,)


def test_mse_multi_output_agrees_with_ridge(regression):
    X, _, sw, rng = regression
    Y = X @ rng.normal(size=(6, 3)) + rng.normal(size=(300, 3))
    ridge = Ridge(alpha=5.0, solver="cholesky").fit(X, Y, sample_weight=sw)
    ours = LossRegressor("mse", alpha=5.0, **TIGHT).fit(X, Y, sample_weight=sw)
    assert ours.coef_.shape == (3, 6) and ours.intercept_.shape == (3,)
    assert rel_err(ours.coef_, ridge.coef_) < 1e-5
    assert rel_err(ours.intercept_, ridge.intercept_) < 1e-5
    np.testing.assert_allclose(ours.predict(X), ridge.predict(X), rtol=1e-5, atol=1e-8)


def _huber_objective(X, y, sw, delta, ridge, coef, intercept):
    """Σ s_i huber_δ(r_i) + ridge‖w‖² and its gradient in (w, b), float64."""
    r = X @ coef + intercept - y
    inside = np.abs(r) <= delta
    value = np.sum(sw * np.where(inside, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)))
    dr = sw * np.where(inside, r, delta * np.sign(r))
    grad = np.r_[X.T @ dr + 2 * ridge * coef, np.sum(dr)]
    return value + ridge * coef @ coef, grad


@pytest.mark.parametrize("epsilon, alpha", [(1.35, 1e-4), (1.5, 1.0)])
def test_huber_agrees_with_huber_regressor(regression, epsilon, alpha):
    # HuberRegressor minimises  Σ s_i (σ + σ H_ε(r_i/σ)) + alpha‖w‖²  over (w, σ);
    # at its σ its w minimises  Σ s_i huber_{δ=εσ}(r_i) + (alpha σ / 2)‖w‖².
    # One HuberRegressor fit (its L-BFGS may stop on SciPy's ftol, or report
    # ABNORMAL on a warm-started refit, depending on the SciPy release), then
    # the comparison is made where it cannot depend on where SciPy stopped:
    # at sklearn's σ, our fit is a stationary point of that objective (its
    # gradient vanishes), no worse than sklearn's coefficients, and within the
    # distance sklearn's early stop allows.
    X, y, sw, _ = regression
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = HuberRegressor(epsilon=epsilon, alpha=alpha, tol=1e-12, max_iter=10000)
        ref.fit(X, y, sample_weight=sw)
    sigma = ref.scale_
    delta, ridge = epsilon * sigma, alpha * sigma / 2
    ours = LossRegressor("huber", delta=delta, alpha=ridge, **TIGHT)
    ours.fit(X, y, sample_weight=sw)
    ours_value, ours_grad = _huber_objective(X, y, sw, delta, ridge, ours.coef_, ours.intercept_)
    ref_value, _ = _huber_objective(X, y, sw, delta, ridge, ref.coef_, ref.intercept_)
    assert np.max(np.abs(ours_grad)) < 1e-6 * max(1.0, ours_value)
    assert ours_value <= ref_value * (1 + 1e-9)
    assert rel_err(ours.coef_, ref.coef_) < 1e-3
    assert rel_err(ours.intercept_, ref.intercept_) < 1e-3


def test_poisson_agrees_with_poisson_regressor(regression):
    # PoissonRegressor: (1/n) Σ half-deviance + (alpha/2)‖w‖²  ->  ours: alpha n / 2
    X, _, _, rng = regression
    X = X / 3
    y = rng.poisson(np.exp(X @ np.array([0.3, -0.2, 0.1, 0.0, 0.2, -0.1]) + 0.5))
    ref = PoissonRegressor(alpha=0.05, tol=1e-12, max_iter=5000).fit(X, y)
    ours = LossRegressor("poisson", alpha=0.05 * len(y) / 2, **TIGHT).fit(X, y)
    assert rel_err(ours.coef_, ref.coef_) < 1e-5
    assert rel_err(ours.intercept_, ref.intercept_) < 1e-5
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-5)


def test_integer_weights_equal_repeated_rows(regression):
    X, y, _, rng = regression
    counts = rng.integers(0, 3, size=len(y))
    a = LossRegressor(delta=1.0, **TIGHT).fit(X, y, sample_weight=counts)
    b = LossRegressor(delta=1.0, **TIGHT).fit(np.repeat(X, counts, 0), np.repeat(y, counts))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6)


def test_pipeline_grid_search_cross_val(regression):
    X, _, _, rng = regression
    y = X @ rng.normal(size=6) + rng.normal(size=len(X))
    pipe = make_pipeline(StandardScaler(), LossRegressor("huber", tol=1e-8))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    grid = GridSearchCV(pipe, {"lossregressor__delta": [0.5, 2.0],
                               "lossregressor__alpha": [0.0, 10.0]}, cv=3).fit(X, y)
    best = grid.best_estimator_[-1]
    assert best.delta in (0.5, 2.0) and best.alpha in (0.0, 10.0)
    assert set(grid.cv_results_["param_lossregressor__delta"]) == {0.5, 2.0}
    # the refitted best model is the plain model fitted with those parameters
    direct = make_pipeline(StandardScaler(), LossRegressor(
        "huber", tol=1e-8, delta=best.delta, alpha=best.alpha)).fit(X, y)
    np.testing.assert_allclose(grid.predict(X), direct.predict(X), rtol=1e-10)


def test_loss_parameters_are_estimator_parameters():
    est = LossRegressor("huber", delta=2.0)
    assert est.get_params()["delta"] == 2.0
    twin = clone(est)
    assert twin.delta == 2.0 and twin.get_params() == est.get_params()
    est.set_params(delta=3.0, alpha=1.0)
    assert (est.delta, est.alpha) == (3.0, 1.0)
    assert "delta=3.0" in repr(est)
    assert "delta" not in LossRegressor().get_params()
    with pytest.raises(TypeError, match="fit"):
        LossRegressor(fit=1)


def test_loss_instance_and_conflicts(regression):
    X, y, _, _ = regression
    a = LossRegressor(fl.Huber(delta=0.7), **TIGHT).fit(X, y)
    b = LossRegressor("huber", delta=0.7, **TIGHT).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    with pytest.raises(ValueError, match="both"):
        LossRegressor(fl.Huber(delta=0.7), delta=0.7).fit(X, y)
    # a Loss instance survives clone (a copy, same parameters) and model selection
    est = LossRegressor(fl.Huber(delta=0.7), **TIGHT)
    twin = clone(est)
    assert twin.loss is not est.loss and twin.loss.delta == 0.7
    grid = GridSearchCV(est, {"alpha": [0.0, 1.0]}, cv=3).fit(X, y)
    assert grid.best_estimator_.loss.delta == 0.7
    assert cross_val_score(est, X, y, cv=3).shape == (3,)


def test_bad_parameters(regression):
    X, y, _, _ = regression
    with pytest.raises(ValueError, match="alpha"):
        LossRegressor(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="max_iter"):
        LossRegressor(max_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="delta"):
        LossRegressor(delta=-1.0).fit(X, y)
    with pytest.raises(TypeError, match="gamma"):
        LossRegressor(gamma=2.0).fit(X, y)
    with pytest.raises(ValueError, match="unknown loss"):
        LossRegressor("nope").fit(X, y)
    with pytest.raises(ValueError, match="log_input"):
        LossRegressor(fl.Poisson()).fit(X, np.abs(y))
    with pytest.raises(ValueError, match="log_input"):
        LossRegressor("poisson", log_input=False).fit(X, np.abs(y))
    with pytest.raises(ValueError, match="(?i)sample.weight"):
        LossRegressor().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        LossRegressor().fit(X, y, sample_weight=-np.ones(len(y)))


def test_convergence_warning_and_n_iter(regression):
    X, y, _, _ = regression
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        est = LossRegressor(max_iter=2).fit(X, y)
    assert 1 <= est.n_iter_ <= 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert LossRegressor().fit(X, y).n_iter_ >= 2


# -- classification -------------------------------------------------------------

@pytest.fixture
def classification():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 5))
    W = rng.normal(size=(5, 4)) * 1.5
    labels = np.argmax(X @ W + rng.gumbel(size=(400, 4)), axis=1)
    sw = rng.uniform(0.2, 2.0, size=400)
    return X, labels, sw


@pytest.mark.parametrize("C", [0.05, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_crossentropy_agrees_with_logistic_regression(classification, C, weighted):
    X, labels, sw = classification
    y = np.where(labels % 2 == 0, "even", "odd")
    sw = sw if weighted else None
    ref = LogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=10000)
    ref.fit(X, y, sample_weight=sw)
    ours = LossClassifier("binary_crossentropy", alpha=1 / (2 * C), **TIGHT)
    ours.fit(X, y, sample_weight=sw)
    assert ours.coef_.shape == (1, 5) and list(ours.classes_) == ["even", "odd"]
    assert rel_err(ours.coef_, ref.coef_) < 1e-5
    assert rel_err(ours.intercept_, ref.intercept_) < 1e-5
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("C", [0.05, 1.0])
def test_sparse_categorical_crossentropy_agrees_with_multinomial_lr(classification, C):
    X, labels, sw = classification
    ref = LogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=10000)
    ref.fit(X, labels, sample_weight=sw)
    ours = LossClassifier("sparse_categorical_crossentropy", alpha=1 / (2 * C), **TIGHT)
    ours.fit(X, labels, sample_weight=sw)
    assert ours.coef_.shape == (4, 5)
    assert rel_err(ours.coef_, ref.coef_) < 1e-5
    assert rel_err(ours.intercept_, ref.intercept_) < 1e-5
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-5)


def test_one_vs_rest_equals_per_class_binary_fits(classification):
    X, labels, _ = classification
    joint = LossClassifier("binary_crossentropy", alpha=0.3, **TIGHT).fit(X, labels)
    for c in range(4):
        single = LossClassifier("binary_crossentropy", alpha=0.3, **TIGHT)
        single.fit(X, labels == c)
        np.testing.assert_allclose(joint.coef_[c], single.coef_[0], rtol=1e-6, atol=1e-9)
    proba = joint.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_two_class_softmax_is_stored_as_a_difference(classification):
    X, labels, _ = classification
    y = labels % 2
    soft = LossClassifier("sparse_categorical_crossentropy", alpha=1.0, **TIGHT).fit(X, y)
    # symmetric columns ±v/2 with penalty alpha‖v‖²/2: the binary fit with alpha/2
    binary = LossClassifier("binary_crossentropy", alpha=0.5, **TIGHT).fit(X, y)
    assert soft.coef_.shape == (1, 5) and soft.decision_function(X).shape == (len(y),)
    assert rel_err(soft.coef_, binary.coef_) < 1e-5
    np.testing.assert_allclose(soft.predict_proba(X), binary.predict_proba(X), rtol=1e-5)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge", "multiclass_hinge",
                                  "binary_focal_crossentropy", "categorical_crossentropy"])
def test_other_losses_fit_and_predict(classification, loss):
    X, labels, _ = classification
    est = LossClassifier(loss, alpha=0.1, max_iter=500).fit(X, labels)
    assert est.score(X, labels) > 0.6
    assert hasattr(est, "predict_proba") == ("hinge" not in loss)
    assert est.decision_function(X).shape == (len(labels), 4)


def test_classifier_pipeline_grid_search(classification):
    X, labels, _ = classification
    pipe = make_pipeline(StandardScaler(), LossClassifier("sparse_categorical_crossentropy"))
    assert np.mean(cross_val_score(pipe, X, labels, cv=3)) > 0.6
    grid = GridSearchCV(pipe, {"lossclassifier__alpha": [0.01, 100.0]}, cv=3).fit(X, labels)
    assert grid.best_params_["lossclassifier__alpha"] in (0.01, 100.0)
    grid = GridSearchCV(LossClassifier("binary_focal_crossentropy"), {"gamma": [0.0, 2.0]},
                        cv=3).fit(X, labels)
    assert grid.best_estimator_.gamma in (0.0, 2.0)


def test_classifier_errors(classification):
    X, labels, _ = classification
    with pytest.raises(ValueError, match="2 classes"):
        LossClassifier().fit(X, np.zeros(len(labels)))
    with pytest.raises(ValueError, match="from_logits"):
        LossClassifier("binary_crossentropy", from_logits=False).fit(X, labels)
    with pytest.raises(ValueError, match="elementwise"):
        LossRegressor("sparse_categorical_crossentropy").fit(X, labels)


def test_class_weight_of_the_loss_equals_sample_weight(classification):
    X, labels, _ = classification
    cw = np.array([0.5, 2.0, 1.0, 3.0])  # indexed by position in classes_
    a = LossClassifier("sparse_categorical_crossentropy", class_weight=cw, **TIGHT)
    a.fit(X, labels)
    b = LossClassifier("sparse_categorical_crossentropy", **TIGHT)
    b.fit(X, labels, sample_weight=cw[labels])
    assert rel_err(a.coef_, b.coef_) < 1e-6
    assert clone(a).class_weight is not cw and np.array_equal(clone(a).class_weight, cw)
