"""
Classification losses: what γ, α, β and label smoothing do
==========================================================

Binary losses as functions of the logit ``x`` of a positive example
(``y = 1``, ``from_logits=True``): the loss, its gradient and its hessian.
Focal loss is where pictures help most: γ flattens the loss of examples that
are already right (large x), so training concentrates on the hard ones.
Then the hinge family as functions of the score, and the categorical losses
along the logit of the true class.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastloss as fl

# sphinx_gallery_thumbnail_number = 2

logits = np.linspace(-6, 6, 401)
positive = np.ones_like(logits)


def curves(name, param, make_loss, values, y_true, x, xlabel):
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 2.9), layout="constrained")
    for v in values:
        loss = make_loss(v)
        grad, hess = loss.gradient_hessian(y_true, x)
        axes[0].plot(x, loss(y_true, x), label=f"{param}={v}")
        axes[1].plot(x, grad)
        axes[2].plot(x, hess)
    for ax, title in zip(axes, ["loss", "gradient", "hessian"]):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(name)
    return fig


# %%
# Binary cross-entropy and label smoothing
# ----------------------------------------
# With smoothing s the target becomes ``1 - s/2``: the loss no longer goes to
# 0 and its minimum moves to a finite logit, where the gradient crosses 0.
curves(
    "BinaryCrossentropy (y = 1)",
    "label_smoothing",
    lambda s: fl.BinaryCrossentropy(
        from_logits=True, label_smoothing=s, reduction="none"
    ),
    [0.0, 0.1, 0.3],
    positive,
    logits,
    "logit x",
)

# %%
# Binary focal loss: the focusing parameter γ
# -------------------------------------------
# γ = 0 is cross-entropy (here without the α factor). Larger γ shrinks the
# loss and gradient of confident, correct predictions.
curves(
    "BinaryFocalCrossentropy (y = 1, alpha=None)",
    "gamma",
    lambda g: fl.BinaryFocalCrossentropy(
        gamma=g, alpha=None, from_logits=True, reduction="none"
    ),
    [0.0, 1.0, 2.0, 5.0],
    positive,
    logits,
    "logit x",
)

# %%
# Focal α and balanced cross-entropy β weigh the two classes
# ----------------------------------------------------------
# Both multiply the positive term by a weight and the negative term by one
# minus it; drawn here for a negative example (y = 0), whose term is scaled
# by 1 - α (or 1 - β).
negative = np.zeros_like(logits)
curves(
    "BinaryFocalCrossentropy (y = 0, gamma=2)",
    "alpha",
    lambda a: fl.BinaryFocalCrossentropy(
        gamma=2.0, alpha=a, from_logits=True, reduction="none"
    ),
    [0.1, 0.25, 0.5],
    negative,
    logits,
    "logit x",
)
curves(
    "BalancedCrossentropy (y = 0)",
    "beta",
    lambda b: fl.BalancedCrossentropy(
        beta=b, from_logits=True, reduction="none"
    ),
    [0.25, 0.5, 0.75],
    negative,
    logits,
    "logit x",
)

# %%
# Hinge and squared hinge
# -----------------------
# Labels may be ±1 or 0/1. The hinge gradient is a step (hessian 0), the
# squared hinge's is linear inside the margin.
scores = np.linspace(-3, 3, 401)
fig, axes = plt.subplots(1, 3, figsize=(9.5, 2.9), layout="constrained")
for cls in (fl.Hinge, fl.SquaredHinge):
    loss = cls(reduction="none")
    grad, hess = loss.gradient_hessian(positive, scores)
    axes[0].plot(scores, loss(positive, scores), label=cls.__name__)
    axes[1].plot(scores, grad)
    axes[2].plot(scores, hess)
for ax, title in zip(axes, ["loss", "gradient", "hessian"]):
    ax.set_title(title)
    ax.set_xlabel("score ŷ for the label t = +1")
    ax.grid(alpha=0.3)
axes[0].legend()

# %%
# Categorical losses along the logit of the true class
# ----------------------------------------------------
# Three classes, the true class first, the other two logits at 0. The
# categorical focal loss takes probabilities here (its γ sweep), the others
# logits; the multiclass hinge is flat once the true score leads by 1.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.1), layout="constrained")
rows = np.zeros((logits.size, 3))
rows[:, 0] = logits
labels = np.zeros(logits.size, dtype=np.int64)
onehot = np.eye(3)[labels]
for name, loss, y in [
    (
        "SparseCategoricalCrossentropy",
        fl.SparseCategoricalCrossentropy(from_logits=True, reduction="none"),
        labels,
    ),
    (
        "CategoricalCrossentropy, s=0.2",
        fl.CategoricalCrossentropy(
            from_logits=True, label_smoothing=0.2, reduction="none"
        ),
        onehot,
    ),
    ("MulticlassHinge", fl.MulticlassHinge(reduction="none"), labels),
]:
    axes[0].plot(logits, loss(y, rows), label=name)
    axes[1].plot(logits, loss.gradient(y, rows)[:, 0])
axes[0].set_title("loss")
axes[1].set_title("gradient of the true-class logit")
for ax in axes:
    ax.set_xlabel("logit of the true class (others 0)")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=8)

# %%
p_true = np.linspace(0.02, 0.98, 241)
probs = np.stack([p_true, (1 - p_true) / 2, (1 - p_true) / 2], axis=1)
fig, ax = plt.subplots(figsize=(5, 3.1), layout="constrained")
for g in [0.0, 1.0, 2.0, 5.0]:
    ax.plot(
        p_true,
        fl.CategoricalFocalCrossentropy(gamma=g, alpha=None, reduction="none")(
            np.eye(3)[np.zeros(p_true.size, dtype=int)], probs
        ),
        label=f"gamma={g}",
    )
ax.set_title("CategoricalFocalCrossentropy")
ax.set_xlabel("probability of the true class")
ax.grid(alpha=0.3)
ax.legend()

plt.show()
