"""
A scikit-learn pipeline with a fastloss loss
============================================

``fastloss.sklearn.LossRegressor`` and ``LossClassifier`` are linear models
fitted by L-BFGS on any fastloss loss. They are ordinary estimators: they go
into a ``Pipeline``, ``GridSearchCV`` tunes the loss parameters next to the
model's, and ``cross_val_score`` scores them. Here a Huber regression resists
outliers that pull an ordinary least-squares fit, and a grid search picks δ.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastloss as fl
from fastloss.sklearn import LossClassifier, LossRegressor

rng = np.random.default_rng(1)
n = 300
X = rng.uniform(-3, 3, size=(n, 1))
y = 2.0 * X[:, 0] + 1.0 + rng.normal(scale=0.5, size=n)
outliers = rng.choice(n, 30, replace=False)
y[outliers] += rng.uniform(10, 25, size=30)  # one-sided contamination

# %%
# Huber in a pipeline, δ chosen by cross-validation
# -------------------------------------------------
# Scoring by the mean absolute error: a robust score for a robust fit.
pipe = make_pipeline(
    StandardScaler(), LossRegressor(loss="huber", delta=1.0, alpha=1e-3)
)
search = GridSearchCV(
    pipe,
    {"lossregressor__delta": [0.3, 1.0, 3.0, 10.0]},
    scoring="neg_mean_absolute_error",
    cv=5,
).fit(X, y)
best_delta = search.best_params_["lossregressor__delta"]
print("best delta:", best_delta)
ols = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
for name, model in [
    ("least squares", ols),
    ("fastloss Huber", search.best_estimator_),
]:
    mae = -cross_val_score(
        model, X, y, scoring="neg_mean_absolute_error", cv=5
    ).mean()
    print(f"{name:15s} cross-validated MAE {mae:.3f}")

grid = np.linspace(-3, 3, 100)[:, None]
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.scatter(
    X[:, 0], y, s=8, color="grey", alpha=0.6, label="data (10 % outliers)"
)
ax.plot(grid, 2 * grid + 1, color="black", lw=1, label="truth")
ax.plot(grid, ols.predict(grid), label="LinearRegression")
ax.plot(
    grid,
    search.predict(grid),
    lw=2,
    label=f"LossRegressor(huber, delta={best_delta})",
)
ax.legend(fontsize=8)

# %%
# A classifier on a fastloss loss
# -------------------------------
# ``LossClassifier`` with the focal loss; a loss parameter that clashes with an
# estimator parameter (the focal loss' ``alpha``) is given through a Loss
# instance. Its ``predict_proba`` uses the loss's link (sigmoid here).
Xc = rng.normal(size=(400, 2))
yc = (Xc[:, 0] + 0.5 * Xc[:, 1] + rng.normal(scale=0.7, size=400) > 0).astype(
    int
)
clf = make_pipeline(
    StandardScaler(),
    LossClassifier(
        fl.BinaryFocalCrossentropy(gamma=2.0, alpha=0.5), alpha=0.1
    ),
)
print(
    "focal-loss classifier, 5-fold accuracy:",
    round(cross_val_score(clf, Xc, yc, cv=5).mean(), 3),
)
clf.fit(Xc, yc)
xx, yy = np.meshgrid(np.linspace(-3, 3, 120), np.linspace(-3, 3, 120))
proba = clf.predict_proba(np.c_[xx.ravel(), yy.ravel()])[:, 1].reshape(
    xx.shape
)
fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
cs = ax.contourf(xx, yy, proba, levels=11, cmap="RdBu_r", alpha=0.7)
ax.scatter(Xc[:, 0], Xc[:, 1], c=yc, cmap="RdBu_r", s=8, edgecolor="k", lw=0.2)
fig.colorbar(cs, ax=ax, label="P(y = 1)")
plt.show()
