"""
Regression losses: loss, gradient and hessian
=============================================

How the regression losses of fastloss behave as a function of the error
``e = ŷ - y``, with the parameter that matters swept: ``delta`` for Huber (and
pseudo-Huber where this build has it), ``quantile`` for the pinball loss,
``expectile`` for the expectile loss and ``power`` for the Tweedie deviance.
Everything is computed by fastloss, with ``reduction="none"`` so that each
element is one point of the curve; the hessian comes from ``gradient_hessian``.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastloss as fl

# sphinx_gallery_thumbnail_number = 2

errors = np.linspace(-3, 3, 401)
zeros = np.zeros_like(errors)


def curves(name, param, make_loss, values, y_true, y_pred, x, xlabel):
    """Loss | gradient | hessian of ``make_loss(v)`` for each v in values,
    drawn against x (the error, or the predicted mean)."""
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 2.9), layout="constrained")
    for v in values:
        loss = make_loss(v)
        grad, hess = loss.gradient_hessian(y_true, y_pred)
        axes[0].plot(x, loss(y_true, y_pred), label=f"{param}={v}")
        axes[1].plot(x, grad)
        axes[2].plot(x, hess)
    for ax, title in zip(axes, ["loss", "gradient", "hessian"]):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    if param:
        axes[0].legend()
    fig.suptitle(name)
    return fig


# %%
# Squared, absolute and log-cosh errors
# -------------------------------------
# MSE's gradient grows with the error; MAE's is a step (hessian 0); log-cosh
# is quadratic near 0 and linear far away, with a smooth hessian sech²(e).
fig, axes = plt.subplots(1, 3, figsize=(9.5, 2.9), layout="constrained")
for cls in (fl.MeanSquaredError, fl.MeanAbsoluteError, fl.LogCosh):
    loss = cls(reduction="none")
    grad, hess = loss.gradient_hessian(zeros, errors)
    axes[0].plot(errors, loss(zeros, errors), label=cls.__name__)
    axes[1].plot(errors, grad)
    axes[2].plot(errors, hess)
for ax, name in zip(axes, ["loss", "gradient", "hessian"]):
    ax.set_title(name)
    ax.set_xlabel("error  ŷ − y")
    ax.grid(alpha=0.3)
axes[0].set_ylim(0, 4)
axes[0].legend()

# %%
# Huber: ``delta`` moves the switch from quadratic to linear
# ----------------------------------------------------------
# Inside ``|e| ≤ δ`` the loss is ½e² (gradient e, hessian 1); outside it grows
# linearly with slope δ and the hessian is 0.
curves(
    "Huber",
    "delta",
    lambda d: fl.Huber(delta=d, reduction="none"),
    [0.5, 1.0, 2.0],
    zeros,
    errors,
    errors,
    "error  ŷ − y",
)

# %%
# Pseudo-Huber: a Huber loss whose hessian never vanishes
# -------------------------------------------------------
# Drawn when this build has it (it is the loss XGBoost calls
# ``reg:pseudohubererror``).
if hasattr(fl, "PseudoHuber"):
    curves(
        "PseudoHuber",
        "delta",
        lambda d: fl.PseudoHuber(delta=d, reduction="none"),
        [0.5, 1.0, 2.0],
        zeros,
        errors,
        errors,
        "error  ŷ − y",
    )

# %%
# Pinball loss: one quantile per curve
# ------------------------------------
# The slope is ``-q`` below the target and ``1 - q`` above it, so minimising
# it gives the q-quantile. Several quantiles can also be fitted in one pass
# with an ``(n, k)`` prediction and ``quantile=[q1, ..., qk]``.
curves(
    "PinballLoss",
    "quantile",
    lambda q: fl.PinballLoss(quantile=q, reduction="none"),
    [0.1, 0.5, 0.9],
    zeros,
    errors,
    errors,
    "error  ŷ − y",
)

# %%
# Expectile loss: the asymmetric squared error
# --------------------------------------------
if hasattr(fl, "ExpectileLoss"):
    curves(
        "ExpectileLoss",
        "expectile",
        lambda t: fl.ExpectileLoss(expectile=t, reduction="none"),
        [0.1, 0.5, 0.9],
        zeros,
        errors,
        errors,
        "error  ŷ − y",
    )

# %%
# Poisson and Tweedie: losses of a positive mean
# ----------------------------------------------
# For counts and positive amounts the prediction is a rate μ, and the loss is
# not a function of the error alone. Here the target is y = 2 and μ varies.
# The Tweedie deviance interpolates between squared error (power 0), Poisson
# (1) and Gamma (2).
rate = np.linspace(0.05, 6, 400)
y2 = np.full_like(rate, 2.0)
curves(
    "Poisson",
    "log_input",
    lambda li: fl.Poisson(log_input=li, reduction="none"),
    [False],
    y2,
    rate,
    rate,
    "predicted rate μ (y = 2)",
)
if hasattr(fl, "TweedieDeviance"):
    fig = curves(
        "TweedieDeviance",
        "power",
        lambda p: fl.TweedieDeviance(power=p, reduction="none"),
        [0.0, 1.0, 1.5, 2.0, 3.0],
        y2,
        rate,
        rate,
        "predicted mean μ (y = 2)",
    )
    fig.axes[2].set_ylim(-1, 10)

plt.show()
