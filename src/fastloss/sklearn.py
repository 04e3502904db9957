"""scikit-learn estimators whose objective is a fastloss loss: ``LossRegressor``
and ``LossClassifier`` (``pip install 'fastloss[sklearn]'``).

Both are linear models fitted with SciPy's L-BFGS on ::

    Σ_i s_i l_i(y_i, x_i·W + b)  +  alpha · ‖W‖²

(the loss in its ``"sum"`` reduction, ``s_i`` = ``sample_weight``, intercept
not penalised), computed by :func:`fastloss.objective`: per iteration one
product ``X Wᵀ``, one fused ``loss_gradient`` and one product ``Gᵀ X``.  The
optimiser works on that objective divided by ``Σ s_i`` (same minimiser; its
tolerances then do not depend on n).  ``tol`` is L-BFGS' ``gtol`` on that
scaled objective (``ftol`` is 64 machine epsilons, as in scikit-learn's
LogisticRegression); ``max_iter`` caps the iterations (a ConvergenceWarning
says when it was reached).

How ``alpha`` maps to scikit-learn's estimators (same objective, same minimiser):

- ``LossRegressor("mse", alpha=a)``  ==  ``Ridge(alpha=a)`` (also multi-output).
- ``LossClassifier("binary_crossentropy", alpha=a)`` on two classes and
  ``LossClassifier("sparse_categorical_crossentropy", alpha=a)`` on more
  classes  ==  ``LogisticRegression(C=1/(2a))`` (lbfgs, L2); the default
  ``alpha=0.5`` is LogisticRegression's default ``C=1``.
- ``HuberRegressor(epsilon=e, alpha=a)`` estimates a scale ``σ`` jointly with
  ``w``; its coefficients are those of ``LossRegressor("huber",
  delta=e·σ, alpha=a·σ/2)`` (HuberRegressor's term ``σ H_e(r/σ)`` is
  ``(2/σ)·huber_{δ=eσ}(r)``).

The loss is a fastloss name (``loss_params`` go to its constructor) or a
``Loss`` instance.  A linear model outputs logits: a loss with ``from_logits``
is used with ``from_logits=True`` and ``"poisson"`` with ``log_input=True``
(``predict`` then returns ``exp`` of the linear predictor).  A loss parameter
whose name is also an estimator parameter (the focal loss' ``alpha``) is given
through a ``Loss`` instance: ``LossClassifier(fl.BinaryFocalCrossentropy(alpha=0.5))``.
X is used in float64.
"""
from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted
except ImportError as exc:  # pragma: no cover - exercised only without sklearn
    raise ImportError("fastloss.sklearn needs scikit-learn and SciPy: "
                      "pip install 'fastloss[sklearn]'", name=exc.name or "sklearn") from exc

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, X="no_validation", y="no_validation", reset=True, **kw):
        return estimator._validate_data(X, y, reset=reset, **kw)

from ._base import Loss
from ._objective import (LinearObjective, for_linear_model, init_parameters, loss_class,
                         target_kind)

__all__ = ["LossRegressor", "LossClassifier"]


def _expit(z):
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _softmax(Z):
    Z = Z - Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


class _LossLinearModel(BaseEstimator):
    """Shared parameter handling and the L-BFGS fit."""

    _own_params = ("loss", "alpha", "fit_intercept", "max_iter", "tol")

    def __init__(self, loss, *, alpha, fit_intercept, max_iter, tol, **loss_params):
        self.loss = loss
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        for key, value in loss_params.items():
            self._check_loss_param_name(key)
            setattr(self, key, value)

    # -- loss keyword parameters: they are estimator parameters too ----------
    def _check_loss_param_name(self, key):
        if key in self._own_params or key.startswith("_") or key.endswith("_") \
                or hasattr(type(self), key):
            raise TypeError(f"{key!r} cannot be a loss parameter of {type(self).__name__}")

    def _loss_params(self):
        own = set(self._own_params)
        return {k: v for k, v in vars(self).items()
                if k not in own and not k.startswith("_") and not k.endswith("_")}

    def get_params(self, deep=True):
        # No parameter is an estimator; a Loss instance has a get_params of its
        # own but is not one, so it is not descended into (deep is moot).
        params = super().get_params(deep=False)
        params.update(self._loss_params())
        return params

    def __sklearn_clone__(self):
        # sklearn.base.clone would treat a Loss instance (it has get_params)
        # as an estimator; copy it instead, clone everything else as usual.
        from sklearn.base import clone

        params = {k: copy.deepcopy(v) if isinstance(v, Loss) else clone(v, safe=False)
                  for k, v in self.get_params(deep=False).items()}
        return type(self)(**params)

    def set_params(self, **params):
        own = {k: v for k, v in params.items() if k in self._own_params}
        for key, value in params.items():
            if key not in own:
                self._check_loss_param_name(key)
                setattr(self, key, value)
        return super().set_params(**own) if own else self

    # -- fitting --------------------------------------------------------------
    def _check_params(self):
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, numbers.Real) \
                or not self.alpha >= 0:
            raise ValueError(f"alpha must be a real number >= 0, got {self.alpha!r}")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, numbers.Integral) \
                or self.max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter!r}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) \
                or not self.tol >= 0:
            raise ValueError(f"tol must be a real number >= 0, got {self.tol!r}")
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise ValueError(f"fit_intercept must be True or False, got {self.fit_intercept!r}")

    def _make_loss(self):
        return for_linear_model(self.loss, self._loss_params())

    def _lbfgs(self, loss, X, target, sample_weight, n_outputs, alpha):
        from scipy.optimize import minimize

        total = float(X.shape[0]) if sample_weight is None else float(np.sum(sample_weight))
        if not total > 0:
            raise ValueError("sample_weight sums to 0: nothing to fit")
        fun = LinearObjective(loss, X, target, alpha=alpha, sample_weight=sample_weight,
                              fit_intercept=bool(self.fit_intercept), n_outputs=n_outputs,
                              scale=1.0 / total)
        result = minimize(fun, np.zeros(fun.n_params), method="L-BFGS-B", jac=True,
                          options={"maxiter": int(self.max_iter), "maxls": 50,
                                   "gtol": float(self.tol),
                                   "ftol": 64 * np.finfo(float).eps})
        if result.status == 1 or (not result.success and result.nit >= self.max_iter):
            warnings.warn(f"{type(self).__name__}: L-BFGS did not converge in "
                          f"max_iter={self.max_iter} iterations; increase max_iter or tol",
                          ConvergenceWarning, stacklevel=3)
        self.n_iter_ = max(int(result.nit), 1)
        return fun.unpack(result.x)

    def _decision(self, X):
        check_is_fitted(self, "coef_")
        X = _validate_data(self, X, dtype=np.float64, reset=False)
        coef = np.atleast_2d(self.coef_)
        z = X @ coef.T + self.intercept_
        return z.ravel() if np.ndim(self.coef_) == 1 or coef.shape[0] == 1 else z

    def _sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float64)


class LossRegressor(RegressorMixin, _LossLinearModel):
    """Linear regression under a fastloss loss plus an L2 penalty.

    Parameters
    ----------
    loss : str or fastloss.Loss, default "huber"
        A regression loss: ``"mse"``, ``"mae"``, ``"huber"``, ``"log_cosh"``,
        ``"poisson"`` (log link: fitted with ``log_input=True``), or any
        elementwise loss.
    alpha : float >= 0, default 0.0
        Penalty ``alpha · ‖coef‖²`` added to the summed loss (Ridge's alpha).
    fit_intercept : bool, default True
    max_iter : int, default 1000
    tol : float, default 1e-6
        L-BFGS ``gtol`` on the objective divided by ``Σ sample_weight``.
    **loss_params
        Constructor arguments of the loss, e.g. ``delta=1.35`` for Huber.

    Attributes
    ----------
    coef_ : (n_features,) or (n_targets, n_features)
    intercept_ : float or (n_targets,)
    n_iter_ : int
        L-BFGS iterations.
    n_features_in_, feature_names_in_
        As in scikit-learn.

    Notes
    -----
    See the module docstring for the exact objective and how ``alpha`` maps to
    Ridge and HuberRegressor.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from fastloss.sklearn import LossRegressor
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    >>> ours = LossRegressor("mse", alpha=2.0, tol=1e-10).fit(X, y)
    >>> ridge = Ridge(alpha=2.0).fit(X, y)
    >>> bool(np.allclose(ours.coef_, ridge.coef_, atol=1e-6))
    True
    """

    def __init__(self, loss="huber", *, alpha=0.0, fit_intercept=True, max_iter=1000,
                 tol=1e-6, **loss_params):
        super().__init__(loss, alpha=alpha, fit_intercept=fit_intercept, max_iter=max_iter,
                         tol=tol, **loss_params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        try:
            # a loss with a log link (log_input) is fitted on the log scale and
            # predicts exp(...): its targets are non-negative
            tags.target_tags.positive_only = "log_input" in init_parameters(loss_class(self.loss))
        except (TypeError, ValueError):  # an invalid loss is reported by fit
            pass
        return tags

    def _log_link(self):
        return getattr(self, "_fitted_log_link", False)

    def fit(self, X, y, sample_weight=None):
        """Fit the coefficients; returns self."""
        self._check_params()
        loss = self._make_loss()
        if target_kind(loss) != "elementwise":
            raise ValueError(f"LossRegressor needs an elementwise loss; {type(loss).__name__} "
                             "is not (use LossClassifier for class labels)")
        if getattr(loss, "log_input", True) is False:
            raise ValueError("LossRegressor fits Poisson on the log scale: use log_input=True "
                             "(the default for loss=\"poisson\"); predict returns exp(X coef + b)")
        X, y = _validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        sw = self._sample_weight(sample_weight, X)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        coef, intercept = self._lbfgs(loss, X, y, sw, None, float(self.alpha))
        if y.ndim == 1:
            self.coef_, self.intercept_ = coef[0].copy(), float(intercept[0])
        else:
            self.coef_, self.intercept_ = coef.copy(), intercept.copy()
        self._fitted_log_link = bool(getattr(loss, "log_input", False))
        return self

    def predict(self, X):
        """Predictions: the linear output (``exp`` of it for Poisson)."""
        z = self._decision(X)
        return np.exp(z) if self._log_link() else z


class LossClassifier(ClassifierMixin, _LossLinearModel):
    """Linear classifier under a fastloss loss plus an L2 penalty.

    Parameters
    ----------
    loss : str or fastloss.Loss, default "binary_crossentropy"
        - binary losses (``"binary_crossentropy"``, ``"hinge"``,
          ``"squared_hinge"``, ``"binary_focal_crossentropy"``,
          ``"balanced_crossentropy"``): one score column for two classes;
          for more classes one-vs-rest, fitted jointly (each class's column
          minimises its own binary objective with the same ``alpha``).
        - multiclass losses (``"sparse_categorical_crossentropy"``,
          ``"multiclass_hinge"`` on labels; ``"categorical_crossentropy"``,
          ``"categorical_focal_crossentropy"`` on one-hot targets): one score
          column per class.  With two classes the two symmetric columns are
          fitted as the loss defines them and stored as their difference
          (``coef_`` of shape (1, n_features)).

        Losses with ``from_logits`` are used with ``from_logits=True``.
    alpha : float >= 0, default 0.5
        Penalty ``alpha · ‖coef‖²``; ``alpha = 1/(2C)`` of LogisticRegression
        (the default is its ``C=1``).
    fit_intercept : bool, default True
    max_iter : int, default 1000
    tol : float, default 1e-6
    **loss_params
        Constructor arguments of the loss (e.g. ``gamma=1.0``).

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    coef_ : ndarray (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray (1,) or (n_classes,)
    n_iter_ : int
        L-BFGS iterations.
    n_features_in_ : int

    Notes
    -----
    ``predict_proba`` exists for the cross-entropy losses (sigmoid / softmax
    of the scores; one-vs-rest sigmoids are normalised per row), not for the
    hinge losses.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from fastloss.sklearn import LossClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 2))
    >>> y = (X[:, 0] + rng.normal(size=80) > 0).astype(int)
    >>> ours = LossClassifier(alpha=0.5, tol=1e-10).fit(X, y)   # C = 1/(2 alpha)
    >>> ref = LogisticRegression(C=1.0, tol=1e-10).fit(X, y)
    >>> bool(np.allclose(ours.coef_, ref.coef_, atol=1e-5))
    True
    >>> ours.predict_proba(X[:2]).shape
    (2, 2)
    """

    def __init__(self, loss="binary_crossentropy", *, alpha=0.5, fit_intercept=True,
                 max_iter=1000, tol=1e-6, **loss_params):
        super().__init__(loss, alpha=alpha, fit_intercept=fit_intercept, max_iter=max_iter,
                         tol=tol, **loss_params)

    def _link(self):
        """The loss's ``link`` metadata: "sigmoid", "softmax" or None."""
        try:
            return loss_class(self.loss).link
        except (TypeError, ValueError):  # an invalid loss is reported by fit
            return None

    def fit(self, X, y, sample_weight=None):
        """Fit the coefficients; returns self."""
        self._check_params()
        loss = self._make_loss()
        kind = target_kind(loss)
        X, y = _validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        sw = self._sample_weight(sample_weight, X)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes "
                             f"in y; got 1 class ({self.classes_[0]!r})")
        y_index = y_index.reshape(-1)
        n_outputs = None
        if kind == "labels":
            target, n_outputs = y_index, n_classes
        elif kind == "rows":
            target = np.eye(n_classes)[y_index]
        elif n_classes == 2:
            target = y_index.astype(np.float64)
        else:  # one-vs-rest: every (sample, class) is a binary term
            target = np.eye(n_classes)[y_index]
        coef, intercept = self._lbfgs(loss, X, target, sw, n_outputs, float(self.alpha))
        if coef.shape[0] == 2 and n_classes == 2:
            coef = coef[1:] - coef[:1]
            intercept = intercept[1:] - intercept[:1]
        self.coef_, self.intercept_ = coef.copy(), intercept.copy()
        return self

    def decision_function(self, X):
        """Scores: (n,) for two classes (positive means classes_[1]), else (n, n_classes)."""
        return self._decision(X)

    def predict(self, X):
        z = self.decision_function(X)
        index = (z > 0).astype(np.intp) if z.ndim == 1 else np.argmax(z, axis=1)
        return self.classes_[index]

    def _has_proba(self):
        return self._link() is not None

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities: sigmoid / softmax of the scores."""
        z = self.decision_function(X)
        if z.ndim == 1:
            p = _expit(z)
            return np.column_stack([1.0 - p, p])
        if self._link() == "softmax":
            return _softmax(z)
        p = _expit(z)
        return p / p.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

