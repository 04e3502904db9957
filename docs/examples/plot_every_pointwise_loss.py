"""
Every elementwise loss in this build
====================================

One panel per elementwise loss registered in fastloss, at its default
parameters: the loss and its gradient against the error (regression losses)
or the logit of a positive example (losses with a sigmoid link). The list
comes from the registry, so a loss added to fastloss appears here without
editing this script.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastloss as fl
from fastloss import _registry

classes = [
    cls for cls in _registry.loss_classes() if cls.target_kind == "elementwise"
]
print(
    f"{len(classes)} elementwise losses:",
    ", ".join(cls.__name__ for cls in classes),
)

x = np.linspace(-3, 3, 301)
# losses of a positive mean are drawn over (0, 6] against the target 2
POSITIVE_MEAN = {"poisson", "tweedie_deviance"}

cols = 4
nrows = -(-len(classes) // cols)
fig, axes = plt.subplots(
    nrows, cols, figsize=(12, 2.6 * nrows), layout="constrained", squeeze=False
)
for ax, cls in zip(axes.flat, classes):
    params = {"from_logits": True} if cls.link == "sigmoid" else {}
    loss = cls(**params, reduction="none")
    if cls.function_name in POSITIVE_MEAN:
        xs, y, label = (
            np.linspace(0.05, 6, 300),
            np.full(300, 2.0),
            "μ (y = 2)",
        )
        pred = xs
    elif cls.link is not None or cls.function_name in (
        "hinge",
        "squared_hinge",
    ):
        xs, y, label = 2 * x, np.ones_like(x), "logit / score (y = 1)"
        pred = xs
    else:
        xs, y, label = x, np.zeros_like(x), "error ŷ − y"
        pred = xs
    ax.plot(xs, loss(y, pred), label="loss")
    ax.plot(xs, loss.gradient(y, pred), label="gradient", ls="--")
    ax.set_title(cls.__name__, fontsize=9)
    ax.set_xlabel(label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
for ax in list(axes.flat)[len(classes) :]:
    ax.set_visible(False)
axes.flat[0].legend(fontsize=7)
plt.show()
