"""Regression losses: MSE, MAE, Huber, Log-Cosh, Poisson.

All are elementwise: for y_pred of shape (n,) each element is a sample; for
(n, k) a sample's loss is the mean over its k outputs (Keras' convention;
with unit weights the "mean" reduction then equals torch's mean over all
elements).  All five have ``gradient_hessian``.
"""
from __future__ import annotations

from . import _validate
from ._base import ElementwiseLoss, loss_function

__all__ = [
    "MeanSquaredError", "mean_squared_error", "mse",
    "MeanAbsoluteError", "mean_absolute_error", "mae",
    "Huber", "huber",
    "LogCosh", "log_cosh",
    "Poisson", "poisson",
]


class MeanSquaredError(ElementwiseLoss):
    """Mean squared error, ``l = (y - ŷ)²``.

    Gradient ``2(ŷ - y)``, hessian 2 (times the reduction's weight scale).
    Agrees with ``keras.losses.MeanSquaredError`` and ``torch.nn.functional.mse_loss``.
    """

    function_name = "mean_squared_error"
    aliases = ("mse",)

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction=reduction)

    def _kind(self):
        return "squared_error"


class MeanAbsoluteError(ElementwiseLoss):
    """Mean absolute error, ``l = |y - ŷ|``.

    Gradient ``sign(ŷ - y)``, 0 where ŷ == y (as torch's ``l1_loss``);
    hessian 0.  Agrees with ``keras.losses.MeanAbsoluteError`` and ``torch.nn.functional.l1_loss``.
    """

    function_name = "mean_absolute_error"
    aliases = ("mae",)

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction=reduction)

    def _kind(self):
        return "absolute_error"


class Huber(ElementwiseLoss):
    """Huber loss with threshold ``delta`` (> 0), ``e = ŷ - y``:

    ``½e²`` where ``|e| ≤ δ``, else ``δ(|e| - ½δ)``.  Gradient ``e`` inside,
    ``δ sign(e)`` outside; hessian 1 inside, 0 outside (at ``|e| = δ`` the
    inside branch is taken).  Agrees with ``keras.losses.Huber`` and
    ``torch.nn.functional.huber_loss``.
    """

    function_name = "huber"

    def __init__(self, delta=1.0, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.delta = _validate.positive(delta, "delta")

    def _kind(self):
        return "huber"

    def _kernel_params(self):
        return {"delta": self.delta}


class LogCosh(ElementwiseLoss):
    """Log-cosh loss, ``l = log cosh(ŷ - y)``.

    Computed as ``|e| + log1p(exp(-2|e|)) - log 2`` so it stays finite and
    exact for any error (no overflow at |e| = 1e4).  Gradient ``tanh(e)``,
    hessian ``sech²(e)``.  Agrees with ``keras.losses.LogCosh``.
    """

    function_name = "log_cosh"
    aliases = ("logcosh",)

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction=reduction)

    def _kind(self):
        return "log_cosh"


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
        return {"eps": 1e-7}


mean_squared_error = mse = loss_function(MeanSquaredError)
mean_absolute_error = mae = loss_function(MeanAbsoluteError)
huber = loss_function(Huber)
log_cosh = loss_function(LogCosh)
poisson = loss_function(Poisson)
