"""Regression losses: MSE, MAE, Huber, Log-Cosh, Poisson, Pinball (quantile).

All are elementwise: for y_pred of shape (n,) each element is a sample; for
(n, k) a sample's loss is the mean over its k outputs (Keras' convention;
with unit weights the "mean" reduction then equals torch's mean over all
elements).  All have ``gradient_hessian``.
"""
from __future__ import annotations

from . import _validate
from ._base import ElementwiseLoss, loss_function, table_losses

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
    exact for any error (no overflow at |e| = 1e4).  Gradient ``tanh(e)``,
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
}

_TABLE = table_losses("regression", _DOCS)
globals().update(_TABLE)


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


poisson = loss_function(Poisson)

__all__ = [*_TABLE, "Poisson", "poisson"]
