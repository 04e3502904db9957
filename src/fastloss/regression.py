"""Regression losses: MSE, MAE, Huber, Log-Cosh, Poisson, Pinball (quantile),
Expectile, pseudo-Huber, Tweedie deviance.

All are elementwise: for y_pred of shape (n,) each element is a sample; for
(n, k) a sample's loss is the mean over its k outputs (Keras' convention;
with unit weights the "mean" reduction then equals torch's mean over all
elements).  All have ``gradient_hessian``.
"""
from __future__ import annotations

from . import _validate
from ._base import ElementwiseLoss, loss_function, table_losses
from ._kernels import pointwise as _pointwise

# The classes that are exactly one elementwise kind come from their row of the
# kernel table (_kernels/pointwise.pyx.tp): kind, parameters (checked by the
# kernel module), defaults, names and aliases.  Only their documentation is
# written here, by kind.
_DOCS = {
    "squared_error": """Mean squared error, ``l = (y - ŷ)²``.

    Gradient ``2(ŷ - y)``, hessian 2 (times the reduction's weight scale).
    Agrees with ``keras.losses.MeanSquaredError`` and ``torch.nn.functional.mse_loss``.
    """,

    "absolute_error": """Mean absolute error, ``l = |y - ŷ|``.

    Gradient ``sign(ŷ - y)``, 0 where ŷ == y (as torch's ``l1_loss``);
    hessian 0.  Agrees with ``keras.losses.MeanAbsoluteError`` and ``torch.nn.functional.l1_loss``.
    """,

    "huber": """Huber loss with threshold ``delta`` (> 0), ``e = ŷ - y``:

    ``½e²`` where ``|e| ≤ δ``, else ``δ(|e| - ½δ)``.  Gradient ``e`` inside,
    ``δ sign(e)`` outside; hessian 1 inside, 0 outside (at ``|e| = δ`` the
    inside branch is taken).  Agrees with ``keras.losses.Huber`` and
    ``torch.nn.functional.huber_loss``.
    """,

    "log_cosh": """Log-cosh loss, ``l = log cosh(ŷ - y)``.

    Computed as ``|e| + log1p(exp(-2|e|)) - log 2`` so it stays finite and
    exact for any error (no overflow at ``|e| = 1e4``).  Gradient ``tanh(e)``,
    hessian ``sech²(e)``.  Agrees with ``keras.losses.LogCosh``.
    """,

    "pinball": """Pinball (quantile) loss at quantile ``q``, ``e = y - ŷ``:

    ``q e`` where ``y ≥ ŷ``, else ``(1 - q)(ŷ - y)``.  Gradient ``-q`` where
    ``y > ŷ``, ``1 - q`` where ``y < ŷ``, 0 at ties (as the subgradient
    scikit-learn's ``PinballLoss`` uses away from ties); hessian 0.

    ``quantile`` is a float in (0, 1) (default 0.5: half the absolute
    error), or a 1-D array of k values for ``(n, k)`` input: column j uses
    ``quantile[j]``, so several quantiles are fitted in one pass.  A sample's
    loss is the mean over its k columns, as for every elementwise loss; the
    length of an array ``quantile`` is checked against ``y_pred`` at call
    time.  Agrees with ``sklearn.metrics.mean_pinball_loss(alpha=q)`` (for k
    columns with one q each: the mean over columns of the per-column
    values).  Alias ``QuantileLoss`` / ``quantile_loss``.
    """,

    "expectile": """Expectile loss (asymmetric least squares, Newey & Powell 1987) at
    expectile ``τ`` in (0, 1), ``e = y - ŷ``:

    ``l = |τ - 1[y < ŷ]| e²``: ``τ e²`` where ``y ≥ ŷ``, ``(1 - τ) e²`` where
    ``y < ŷ``.  Gradient ``-2 τ e`` / ``-2 (1 - τ) e``, hessian ``2τ`` /
    ``2(1 - τ)``.  At a tie (``y == ŷ``) the indicator is 0: gradient 0,
    hessian ``2τ`` (SPEC is silent; the loss is C¹ there and this is the
    right-hand second derivative in ``y - ŷ``).  ``τ = 0.5`` is half the
    squared error.  Minimising it over a constant gives the τ-expectile of
    y (no ``init_kind``: ``fastloss.init_score`` does not cover it).
    """,

    "pseudo_huber": """Pseudo-Huber loss with slope ``delta`` (> 0), ``e = ŷ - y``:

    ``l = δ² (√(1 + (e/δ)²) - 1)``; gradient ``e / √(1 + (e/δ)²)``, hessian
    ``(1 + (e/δ)²)^(-3/2)`` (positive; it underflows to 0 only for errors
    beyond ~1e100 δ, ~1e13 δ in float32).  Computed without cancellation
    for tiny errors and without overflow for huge ones (the gradient tends
    to ``δ sign(e)``, the loss to ``δ|e|``).  Agrees with XGBoost's
    ``reg:pseudohubererror`` with ``huber_slope = δ`` (its gradient,
    hessian and ``mphe`` metric).
    """,
}

_TABLE = table_losses("regression", _DOCS)
globals().update(_TABLE)

# The constant that minimises each loss, by kind, for fastloss.init_score
# (SPEC §4.2); a class without `init_kind` has no closed-form start.
for _kind, _init in {"squared_error": "mean", "absolute_error": "median",
                     "pinball": "quantile", "pseudo_huber": "mean"}.items():
    for _cls in _TABLE.values():
        if isinstance(_cls, type) and _cls._kind(None) == _kind:
            _cls.init_kind = _init
del _kind, _init, _cls


class Poisson(ElementwiseLoss):
    """Poisson negative log-likelihood (without the ``log y!`` term).

    ``log_input=False`` (default): ŷ is the rate, ``l = ŷ - y log(ŷ + 1e-7)``
    as ``keras.losses.Poisson``; gradient ``1 - y/(ŷ + eps)``, hessian
    ``y/(ŷ + eps)²``.  A negative rate gives NaN, as in Keras.

    ``log_input=True``: ŷ is the log-rate, ``l = exp(ŷ) - y ŷ`` as
    ``torch.nn.functional.poisson_nll_loss(log_input=True, full=False)``;
    gradient ``exp(ŷ) - y``, hessian ``exp(ŷ)``.
    """

    function_name = "poisson"

    def __init__(self, log_input=False, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.log_input = _validate.boolean(log_input, "log_input")

    def _kind(self):
        return "poisson_log" if self.log_input else "poisson"

    def _kernel_params(self):
        return {} if self.log_input else {"eps": 1e-7}

    @property
    def init_kind(self):
        """``fastloss.init_score``'s start: the log of the weighted mean for
        log-rate input, the weighted mean for rate input."""
        return "log_mean" if self.log_input else "mean"


poisson = loss_function(Poisson)


class TweedieDeviance(ElementwiseLoss):
    """Tweedie unit deviance ``d(y, μ)`` at ``power`` p (0, or ≥ 1).

    ``μ = ŷ`` (``log_input=False``) or ``μ = exp(ŷ)`` (``log_input=True``,
    the log link of gradient boosting and GLMs):

    - p = 0: ``(y - μ)²`` (squared error);
    - p = 1: ``2 (y log(y/μ) - y + μ)`` (Poisson deviance; ``y log y`` is 0
      at ``y = 0``, its limit);
    - p = 2: ``2 (log(μ/y) + y/μ - 1)`` (Gamma deviance);
    - otherwise ``2 (y^(2-p) / ((1-p)(2-p)) - y μ^(1-p) / (1-p) + μ^(2-p) / (2-p))``.

    The ``"mean"`` reduction equals ``sklearn.metrics.mean_tweedie_deviance
    (power=p)``.  Gradient and hessian are the exact first and second
    derivatives with respect to ``y_pred``: for rate input
    ``2 μ^-p (μ - y)`` and ``2 μ^(-p-1) (p y + (1 - p) μ)`` (negative where
    ``μ > p y / (p - 1)``, p > 1: the true second derivative, not a
    Fisher-scoring one); with ``log_input=True`` ``2 (μ^(2-p) - y μ^(1-p))``
    and ``2 ((2-p) μ^(2-p) - (1-p) y μ^(1-p))``, twice scikit-learn's
    ``HalfTweedieLoss(power)`` gradient and hessian.

    Domain, checked in the kernel's own pass: for p ≥ 1, ``y_true ≥ 0`` and
    ``μ > 0`` (with ``log_input=True`` only ``y_pred = -inf`` is μ = 0); for
    p ≥ 2, ``y_true > 0``.  A value outside is a ValueError naming
    ``y_true`` or ``y_pred`` (raised after the pass: a gradient passed as
    ``out=`` may then hold partial results).  NaN is no domain error; it
    propagates.  A power in (0, 1) (no Tweedie distribution exists there)
    or negative is a ValueError naming ``power``.
    """

    function_name = "tweedie_deviance"

    def __init__(self, power=1.5, log_input=False, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.power = _pointwise.check("tweedie", {"power": power})["power"]
        self.log_input = _validate.boolean(log_input, "log_input")

    def _kind(self):
        return "tweedie_log" if self.log_input else "tweedie"

    def _kernel_params(self):
        return {"power": self.power}

    @property
    def init_kind(self):
        """``fastloss.init_score``'s start: the log of the weighted mean for
        ``log_input=True``, the weighted mean otherwise."""
        return "log_mean" if self.log_input else "mean"


tweedie_deviance = loss_function(TweedieDeviance)

__all__ = [*_TABLE, "Poisson", "poisson", "TweedieDeviance", "tweedie_deviance"]
