"""
Set-level losses: two masks and what Jaccard, F1 and Lovász measure
===================================================================

Segmentation losses score a whole mask at once. A disk is the target; a
second disk, the prediction, slides away from it. For each offset fastloss
computes the soft Jaccard loss, the soft F1 (Dice) loss, the Lovász hinge of
logits ``±2`` and the Lovász-Softmax of the two-class probabilities (and the
Tversky loss where this build has it). With 0/1 masks, ``1 - jaccard_loss`` is
the intersection over union.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastloss as fl

size = 64
yy, xx = np.mgrid[:size, :size]


def disk(cx, cy, r=14):
    return ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r).astype(np.float64)


target = disk(32, 32)


def scores(pred):
    """The set-level losses of a 0/1 prediction against the target."""
    out = {
        "Jaccard": fl.jaccard_loss(target, pred),
        "F1 / Dice": fl.f1_loss(target, pred),
        # logits: +2 inside the predicted mask, -2 outside; one image
        "Lovász hinge": fl.lovasz_hinge(
            target[None].astype(np.int64), (4 * pred - 2)[None]
        ),
        # probabilities of (background, foreground) per pixel, classes on axis 1
        "Lovász-Softmax": fl.lovasz_softmax(
            target[None].astype(np.int64),
            np.stack([1 - pred, pred])[None] * 0.9 + 0.05,
        ),
    }
    if hasattr(fl, "tversky_loss"):
        out["Tversky α=0.3 β=0.7"] = fl.tversky_loss(
            target, pred, alpha=0.3, beta=0.7
        )
    return out


# %%
# Three predictions
# -----------------
# Green: the target only; red: the prediction only; yellow: both. The
# Lovász-Softmax is given probabilities 0.95 / 0.05, so even the perfect
# mask pays 0.05 per pixel.
fig, axes = plt.subplots(1, 3, figsize=(9, 4.25), layout="constrained")
for ax, shift in zip(axes, [0, 8, 20]):
    pred = disk(32 + shift, 32)
    picture = np.stack([pred, target, np.zeros_like(target)], axis=-1)
    ax.imshow(picture, interpolation="nearest")
    ax.set_title(f"offset {shift} px", fontsize=11)
    values = "\n".join(f"{k}: {v:.3f}" for k, v in scores(pred).items())
    ax.set_xlabel(values, fontsize=9.5, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])

# %%
# The losses as the prediction slides away
# ----------------------------------------
# Jaccard and F1 saturate at 1 once the disks no longer touch; the Lovász
# losses keep counting the margin of every pixel.
shifts = np.arange(0, 33, 2)
table = {k: [] for k in scores(target)}
for s in shifts:
    for k, v in scores(disk(32 + s, 32)).items():
        table[k].append(v)
fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
for k, v in table.items():
    ax.plot(shifts, v, marker="o", ms=3, label=k)
ax.set_xlabel("offset of the predicted disk (pixels)")
ax.set_ylabel("loss")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)

# %%
# Where the gradient pushes
# -------------------------
# The gradient of the soft F1 loss with respect to a soft prediction (0.5
# everywhere on the shifted disk): negative (raise the score) on target
# pixels, positive (lower it) elsewhere.
soft = 0.5 * disk(40, 32)
grad = fl.F1Loss().gradient(target, soft)
fig, ax = plt.subplots(figsize=(4.2, 3.6), layout="constrained")
lim = np.abs(grad).max()
im = ax.imshow(grad, cmap="RdBu_r", vmin=-lim, vmax=lim)
fig.colorbar(im, ax=ax, shrink=0.8)
ax.set_title("F1Loss().gradient(target, soft)", fontsize=9)
ax.set_xticks([])
ax.set_yticks([])
plt.show()
