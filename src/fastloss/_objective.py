"""``fastloss.objective``: the objective of a linear model under a fastloss loss,
as ``fun(w) -> (value, gradient)`` for ``scipy.optimize.minimize(jac=True)``.

NumPy only (SciPy is the caller's business).  The adapters (``fastloss.sklearn``,
``fastloss.xgboost``, ``fastloss.lightgbm``, ``fastloss.torch``) share the loss
table and the loss re-parametrisation helpers below.
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

from . import _registry, _validate
from ._base import Loss

__all__ = ["objective"]


def target_kind(loss) -> str:
    """The loss's ``target_kind`` (class metadata, see ``fastloss.Loss``):
    "elementwise", "labels" or "rows"; a set-level loss (None) is a ValueError."""
    kind = type(loss).target_kind
    if kind is None:
        raise ValueError(
            f"loss {type(loss).__name__} couples samples (a set-level loss); a linear-model "
            "objective or a per-sample gradient needs a loss whose value is a sum over samples")
    return kind


def loss_class(loss):
    """The Loss subclass named by `loss` (a name, a class or an instance)."""
    if isinstance(loss, Loss):
        return type(loss)
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss
    if isinstance(loss, str):
        return type(_registry.get(loss))
    raise TypeError(f"loss must be a fastloss loss name or Loss instance, got {type(loss).__name__}")


def init_parameters(cls) -> list:
    return list(cls._param_names)


def rebuild(loss, params=None, **overrides):
    """A new Loss like `loss` (name, class or instance) with `params` (user
    keywords) and `overrides` (set by the adapter, e.g. reduction="sum").

    Overrides for parameters the class does not take are dropped; a user value
    that contradicts an override is a ValueError naming the parameter.
    """
    cls = loss_class(loss)
    names = init_parameters(cls)
    base = loss.get_params() if isinstance(loss, Loss) else {}
    given = dict(params or {})
    if isinstance(loss, Loss) and given:
        raise ValueError(f"loss parameters {sorted(given)} were given both as keywords "
                         f"and through the Loss instance {loss!r}; give them in one place")
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise TypeError(f"{cls.__name__} has no parameter(s) {unknown}; "
                        f"it takes {[n for n in names if n != 'reduction']}")
    merged = {**base, **given}
    for key, value in overrides.items():
        if key not in names:
            continue
        if key in given and key != "reduction" and given[key] != value:
            raise ValueError(f"{key}={given[key]!r} is not supported here: "
                             f"this adapter needs {key}={value!r}")
        merged[key] = value
    new = cls(**merged)
    if isinstance(loss, Loss):
        # A parameter that get_params could not read (no attribute of that
        # name) would silently fall back to its default: copy the instance's
        # state instead and set only the overridden attributes.
        missing = [n for n in names if n not in base]
        if missing:
            new = copy.copy(loss)
            for key, value in overrides.items():
                if key in names:
                    setattr(new, key, value)
    return new


def for_linear_model(loss, params=None, *, reduction="sum"):
    """The loss a linear model's outputs are scored with: given `reduction`,
    ``from_logits=True`` where the loss has it (a linear model outputs logits)
    and, for a loss *name*, ``log_input=True`` (Poisson on the log scale)."""
    overrides = {"reduction": reduction, "from_logits": True}
    if not isinstance(loss, Loss):
        if "log_input" in init_parameters(loss_class(loss)) and "log_input" not in (params or {}):
            overrides["log_input"] = True
    return rebuild(loss, params, **overrides)


def _as_2d_float(X, name="X"):
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype != np.float64 or not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr = np.ascontiguousarray(arr, dtype=np.float64)
    return arr


class LinearObjective:
    """``fun(w) -> (value, gradient)`` of a linear model under a fastloss loss.

    The model is ``ŷ = X Wᵀ + b`` with ``W`` of shape ``(k, d)`` (``k`` = 1 for a
    1-D ``y``: then ``ŷ = X w + b`` of shape ``(n,)``).  The objective is ::

        scale · ( Σ_i Σ_terms s_i l(y, ŷ) + alpha · ‖W‖² )

    with the loss in its ``"sum"`` reduction (for elementwise losses every
    output of every sample is one term, so a 2-D ``y`` gives Σ over samples and
    outputs, as Ridge's ``‖Y - XW‖²_F``), sample weights ``s_i`` and the
    intercept not penalised.  ``w`` is ``W`` with the intercept appended to
    each row (when ``fit_intercept``), flattened row by row; ``unpack(w)``
    gives ``(W, b)``.  One call does one product ``X Wᵀ``, one fused
    ``loss_gradient`` and one product ``Gᵀ X``.
    """

    def __init__(self, loss, X, y, *, alpha=0.0, sample_weight=None, fit_intercept=False,
                 n_outputs=None, scale=1.0):
        self.loss = loss
        self.X = X = _as_2d_float(X)
        n, d = X.shape
        self.alpha = _validate.non_negative(alpha, "alpha")
        self.scale = _validate.positive(scale, "scale")
        self.fit_intercept = _validate.boolean(fit_intercept, "fit_intercept")
        self.kind = kind = target_kind(loss)
        w = _validate.sample_weight(sample_weight, n)
        if kind == "labels":
            if n_outputs is None:
                labels = _validate.labels(y, n, "y")
                n_outputs = int(labels.max()) + 1 if labels.size else 1
            labels, _ = _validate.class_indices(y, n, n_outputs, name="y")
            self.target, self.shape = labels, (n, int(n_outputs))
        else:
            yt = np.asarray(y)
            if yt.dtype.kind not in "biuf":
                raise TypeError(f"y must hold real numbers, got dtype {yt.dtype}")
            if yt.ndim not in (1, 2) or yt.shape[0] != n:
                raise ValueError(f"y must have shape ({n},) or ({n}, k) to match X, got {yt.shape}")
            if kind == "rows" and yt.ndim != 2:
                raise ValueError(f"{type(loss).__name__} needs a 2-D y of shape (n, k), got {yt.shape}")
            if n_outputs is not None and n_outputs != (1 if yt.ndim == 1 else yt.shape[1]):
                raise ValueError(f"n_outputs={n_outputs} does not match y of shape {yt.shape}")
            self.shape = yt.shape
            target = np.ascontiguousarray(yt, dtype=np.float64)
            if kind == "elementwise" and yt.ndim == 2:
                # every (sample, output) is one term: score the flat array
                target = target.reshape(-1)
                if w is not None:
                    w = np.repeat(w, yt.shape[1])
            self.target = target
        self.sample_weight = w
        self.n_features = d
        self.n_outputs = 1 if len(self.shape) == 1 else self.shape[1]
        self.n_params = self.n_outputs * (d + self.fit_intercept)
        self._ones = None

    def unpack(self, w):
        """(W of shape (k, d), b of shape (k,)) from the flat parameters."""
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.n_params,):
            raise ValueError(f"w must have shape ({self.n_params},), got {w.shape}")
        Wb = w.reshape(self.n_outputs, self.n_features + self.fit_intercept)
        coef = Wb[:, :self.n_features]
        intercept = Wb[:, self.n_features] if self.fit_intercept else np.zeros(self.n_outputs)
        return coef, intercept

    def decision(self, w):
        """The model outputs ŷ for parameters w, shape (n,) or (n, k)."""
        coef, intercept = self.unpack(w)
        if len(self.shape) == 1:
            z = self.X @ coef[0]
            if self.fit_intercept:
                z += intercept[0]
        else:
            z = self.X @ coef.T
            if self.fit_intercept:
                z += intercept
        return z

    def __call__(self, w):
        coef, _ = self.unpack(w)
        z = self.decision(w)
        flat = self.kind == "elementwise" and z.ndim == 2
        scored = z.reshape(-1) if flat else z
        value, g = self.loss.loss_gradient(self.target, scored, self.sample_weight)
        g = g.reshape(z.shape)
        grad = np.empty((self.n_outputs, self.n_features + self.fit_intercept))
        if g.ndim == 1:
            grad[0, :self.n_features] = self.X.T @ g
            if self.fit_intercept:
                grad[0, -1] = g.sum()
        else:
            # Xᵀ G rather than Gᵀ X: the (d, k) output splits better across BLAS threads
            grad[:, :self.n_features] = (self.X.T @ g).T
            if self.fit_intercept:  # column sums as a BLAS product: one pass, any thread
                if self._ones is None:
                    self._ones = np.ones(g.shape[0])
                grad[:, -1] = self._ones @ g
        if self.alpha:
            value += self.alpha * float(np.sum(coef * coef))
            grad[:, :self.n_features] += (2.0 * self.alpha) * coef
        return value * self.scale, grad.reshape(-1) * self.scale


def objective(loss, X, y, alpha=0.0, sample_weight=None, *, fit_intercept=False,
              n_outputs=None, scale=1.0, **loss_params):
    """The L2-penalised objective of a linear model under a fastloss loss.

    Returns ``fun`` with ``fun(w) -> (value, gradient)``, ready for
    ``scipy.optimize.minimize(fun, np.zeros(fun.n_params), jac=True)``::

        value(w) = scale · ( Σ_i s_i l_i(y_i, x_i·W + b) + alpha · ‖W‖² )

    - `loss`: a fastloss name (``"huber"``; `loss_params` go to its
      constructor; a loss with ``from_logits`` gets ``from_logits=True``, and
      ``"poisson"`` gets ``log_input=True``, since a linear model outputs logits
      / log-rates) or a ``Loss`` instance (used as configured).  Either way the
      ``"sum"`` reduction is used, so ``alpha`` has Ridge's meaning:
      ``objective("mse", X, y, alpha=a)`` is Ridge's ``‖y - Xw‖² + a‖w‖²``.
    - `y`: targets of the loss: ``(n,)`` gives a 1-D model (``w`` = d
      coefficients, then the intercept); ``(n, k)`` gives k outputs (every
      output of every sample is a term for elementwise losses); integer class
      indices ``(n,)`` for label losses (``sparse_categorical_crossentropy``,
      ``multiclass_hinge``) give ``n_outputs`` columns (default ``max(y) + 1``).
    - `fit_intercept`: append one unpenalised intercept per output to ``w``.
    - `scale`: multiplies value and gradient (e.g. ``1 / Σ s_i`` to optimise a
      mean, which keeps L-BFGS' tolerances independent of n; same minimiser).

    ``fun.unpack(w) -> (W, b)`` splits the parameters (``W`` is ``(k, d)``, row
    by row as ``w`` is laid out); ``fun.decision(w)`` gives ``ŷ``.
    """
    if isinstance(loss, Loss):
        loss = rebuild(loss, loss_params, reduction="sum")
    else:
        loss = for_linear_model(loss, loss_params)
    return LinearObjective(loss, X, y, alpha=alpha, sample_weight=sample_weight,
                           fit_intercept=fit_intercept, n_outputs=n_outputs, scale=scale)


HESSIANS = ("exact", "unit")


def hessian_option(value):
    """``"exact"``, ``"unit"`` or a finite float ``h_min > 0`` (checked)."""
    if isinstance(value, str):
        if value in HESSIANS:
            return value
    elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        h_min = float(value)
        if h_min > 0 and np.isfinite(h_min):
            return h_min
    raise ValueError(f"hessian must be 'exact', 'unit' or a finite float h_min > 0, got {value!r}")


def is_ranking(cls) -> bool:
    """A ranking loss (RankNet, LambdaRank): its pairs live inside query groups."""
    return "group" in init_parameters(cls)


def group_ids_from_sizes(sizes, n, source):
    """Query ids 0, 0, ..., 1, 1, ... from group sizes (contiguous groups, as
    XGBoost's group_ptr and LightGBM's Dataset groups are)."""
    sizes = np.asarray(sizes, dtype=np.int64).reshape(-1)
    if np.any(sizes < 0) or int(sizes.sum()) != n:
        raise ValueError(f"the query groups of the {source} hold {int(sizes.sum())} items "
                         f"(sizes {sizes[:5].tolist()}...), the predictions {n}")
    return np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)


class PerSampleGradHess:
    """Per-sample gradient and hessian of a fastloss loss for a boosting library.

    The loss is used with ``reduction="none"`` (so the gradient of row i is
    ``s_i ∂l_i/∂ŷ_i``: weighted, not reduced) and ``from_logits=True`` where it
    has that parameter (boosters output raw scores).  ``__call__(labels, raw,
    weight, group=None)`` returns ``(grad, hess)`` of ``raw``'s shape:

    - elementwise losses: ``labels`` of ``raw``'s shape (``raw`` 1-D), or, for a
      2-D ``raw`` (n, K), class indices (n,) scored one-vs-rest on one-hot targets;
    - label losses (sparse categorical cross-entropy): class indices (n,),
      ``raw`` (n, K);
    - row losses on one-hot targets (categorical cross-entropy): class indices
      (n,) are one-hot encoded, ``raw`` (n, K).

    A set-level loss is a ValueError here; the ranking losses, whose pairs
    live inside query groups, have their own core (``GroupedGradHess``);
    ``booster_core`` picks the right one.

    ``hessian`` (see ``hessian_option``): ``"exact"`` = the loss's diagonal
    (a loss without ``gradient_hessian`` is a ValueError here, at
    construction); ``"unit"`` = each sample's weight (1 unweighted), a plain
    gradient step with the booster's Newton machinery; a float ``h_min`` =
    ``max(h, h_min)`` on the weighted hessian (a loss without a hessian
    counts as ``h = 0``, so every sample then gets ``h_min``, weight-0 ones
    too: their gradient is 0, so they add curvature to a leaf and nothing
    else).
    """

    ranking = False
    reduction = "none"

    def __init__(self, loss, params=None, hessian="exact"):
        self.hessian = hessian_option(hessian)
        self.loss = for_linear_model(loss, params, reduction=self.reduction)
        self.has_hessian = hasattr(self.loss, "gradient_hessian")
        if self.hessian == "exact" and not self.has_hessian:
            raise ValueError(
                f"{type(self.loss).__name__} has no hessian (no gradient_hessian: only the "
                "losses SPEC marks H have one); pass hessian='unit' or a float h_min > 0 to "
                "boost with its gradient")
        self.kind = None if self.ranking else target_kind(self.loss)

    def _grad_hess(self, labels, raw, weight, call_args):
        if self.hessian == "exact" or (self.has_hessian and self.hessian != "unit"):
            grad, hess = self.loss.gradient_hessian(labels, raw, sample_weight=weight,
                                                    **call_args)
            if self.hessian != "exact":
                hess = np.maximum(hess, self.hessian)
            return grad, hess
        grad = self.loss.gradient(labels, raw, sample_weight=weight, **call_args)
        if self.hessian == "unit":
            if weight is None:
                hess = np.ones_like(grad)
            else:
                w = np.asarray(weight, dtype=grad.dtype)
                hess = np.ascontiguousarray(np.broadcast_to(
                    w.reshape((-1,) + (1,) * (grad.ndim - 1)), grad.shape))
        else:
            hess = np.full_like(grad, self.hessian)
        return grad, hess

    def __call__(self, labels, raw, weight=None, group=None):
        raw = np.asarray(raw)
        labels = np.asarray(labels)
        if weight is not None and np.size(weight) == 0:
            weight = None
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
        call_args = {}
        if self.ranking:
            if raw.ndim != 1:
                raise ValueError(f"{type(self.loss).__name__} needs one score per item, "
                                 f"got raw scores of shape {raw.shape}")
            if group is not None:
                call_args["group"] = group
        elif raw.ndim == 2 and self.kind != "labels":
            index, _ = _validate.class_indices(labels, raw.shape[0], raw.shape[1], name="labels")
            labels = np.zeros(raw.shape, dtype=raw.dtype)
            labels[np.arange(raw.shape[0]), index] = 1
        elif self.kind == "labels":
            if raw.ndim != 2:
                raise ValueError(f"{type(self.loss).__name__} needs one raw score per class "
                                 f"(set num_class / num_class in the booster), got shape {raw.shape}")
            labels = _validate.labels(labels, raw.shape[0], "labels")
        return self._grad_hess(labels, raw, weight, call_args)


class GroupedGradHess(PerSampleGradHess):
    """Per-item gradient and hessian of a ranking loss (a ``group`` parameter:
    RankNet, LambdaRank) for a boosting library: relevance (n,), scores (n,)
    and query ids ``group`` (n,) (None: the loss's own ``group``, else one
    list).  The loss is used with ``reduction="sum"``, whose gradient is per
    item (what ``"none"``, per-group values, differentiates too); ``hessian``
    as in ``PerSampleGradHess``."""

    ranking = True
    reduction = "sum"

    def __init__(self, loss, params=None, hessian="exact"):
        if not is_ranking(loss_class(loss)):
            raise ValueError(f"{loss_class(loss).__name__} is not a ranking loss (no group)")
        super().__init__(loss, params, hessian)


def booster_core(loss, params=None, hessian="exact"):
    """The gradient/hessian core of the boosting adapters for `loss`:
    ``GroupedGradHess`` for ranking losses, ``PerSampleGradHess`` otherwise."""
    cls = GroupedGradHess if is_ranking(loss_class(loss)) else PerSampleGradHess
    return cls(loss, params, hessian)
