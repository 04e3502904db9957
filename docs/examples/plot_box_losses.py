"""
Box losses: GIoU (and DIoU, CIoU)
=================================

A target box and predictions that move, shrink or stretch. GIoU keeps a
gradient when the boxes do not overlap (plain IoU is flat at 0 there); DIoU
adds the distance between the centres and CIoU the aspect ratio, where this
build has them. Boxes are rows ``(x1, y1, x2, y2)``.
"""

import matplotlib.patches as patches
import matplotlib.pyplot as plt
import numpy as np

import fastloss as fl

losses = {"GIoU": fl.giou_loss}
for name, fn in [("DIoU", "diou_loss"), ("CIoU", "ciou_loss")]:
    if hasattr(fl, fn):
        losses[name] = getattr(fl, fn)

target = np.array([[2.0, 2.0, 6.0, 5.0]])
predictions = {
    "overlapping": [3.0, 2.5, 7.0, 5.5],
    "disjoint": [7.5, 1.0, 9.5, 3.0],
    "inside, other shape": [3.0, 2.5, 4.0, 4.8],
}

# %%
# Three predictions and their losses
# -----------------------------------
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), layout="constrained")
for ax, (title, box) in zip(axes, predictions.items()):
    pred = np.array([box])
    for b, colour, label in [
        (target[0], "tab:green", "target"),
        (pred[0], "tab:red", "prediction"),
    ]:
        ax.add_patch(
            patches.Rectangle(
                (b[0], b[1]),
                b[2] - b[0],
                b[3] - b[1],
                fill=False,
                lw=2,
                edgecolor=colour,
                label=label,
            )
        )
    text = ", ".join(f"{k} {fn(target, pred):.3f}" for k, fn in losses.items())
    ax.set_title(f"{title}\n{text}", fontsize=9)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 7)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=8, loc="upper left")

# %%
# Sliding the prediction along x
# ------------------------------
# The loss and the derivative of the loss along the slide (the sum of the
# gradients of x1 and x2, from ``loss_gradient``). IoU alone would give no
# signal once the boxes are apart (an offset beyond ±4).
offsets = np.linspace(-8, 8, 321)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
for name in losses:
    cls = type(fl.get(losses[name].__name__))
    values, slopes = [], []
    for dx in offsets:
        pred = target + np.array([[dx, 0.5, dx, 0.5]])
        v, g = cls().loss_gradient(target, pred)
        values.append(v)
        slopes.append(g[0, 0] + g[0, 2])
    axes[0].plot(offsets, values, label=name)
    axes[1].plot(offsets, slopes, label=name)
axes[0].set_title("loss")
axes[1].set_title("d loss / d offset")
for ax in axes:
    ax.set_xlabel("horizontal offset of the prediction")
    ax.grid(alpha=0.3)
axes[0].legend()
plt.show()
