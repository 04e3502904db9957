"""
Custom objectives for XGBoost and LightGBM
==========================================

``fastloss.xgboost.objective(loss, **params)`` and
``fastloss.lightgbm.objective(loss, **params)`` turn any fastloss loss with a
hessian into a custom objective: per-sample gradient and hessian from one
``gradient_hessian`` call. Here both boosters fit data with heavy-tailed noise
under the Huber loss, and XGBoost fits the 10 % and 90 % quantiles with the
pinball loss; the fitted curves are compared with the squared-error fit.
"""

import lightgbm as lgb
import matplotlib.pyplot as plt
import numpy as np
import xgboost as xgb

import fastloss as fl
import fastloss.lightgbm
import fastloss.xgboost

rng = np.random.default_rng(0)
n = 2000
X = rng.uniform(0, 10, size=(n, 1))
noise = rng.standard_t(df=1.5, size=n)  # heavy tails: outliers
y = np.sin(X[:, 0]) * 3 + np.clip(noise, -30, 30)
grid = np.linspace(0, 10, 300)[:, None]

# %%
# XGBoost: the native API and the scikit-learn API
# ------------------------------------------------
# ``xgb.train(..., obj=objective)`` reads labels and weights from the DMatrix;
# ``XGBRegressor(objective=objective)`` passes ``(y_true, y_pred)``. A custom
# objective starts from ``base_score``; set it to the median for robust losses.
# One thread: on 2000 rows threads do not pay, and two OpenMP runtimes
# (XGBoost's and fastloss's) spinning on a busy machine cost far more.
huber = fastloss.xgboost.objective("huber", delta=1.0)
dtrain = xgb.DMatrix(X, label=y)
params = {
    "max_depth": 3,
    "eta": 0.1,
    "base_score": float(np.median(y)),
    "nthread": 1,
}
booster_huber = xgb.train(params, dtrain, num_boost_round=200, obj=huber)
booster_mse = xgb.train(
    {**params, "objective": "reg:squarederror"}, dtrain, num_boost_round=200
)
model = xgb.XGBRegressor(
    objective=huber,
    n_estimators=200,
    max_depth=3,
    learning_rate=0.1,
    base_score=float(np.median(y)),
    n_jobs=1,
).fit(X, y)
dgrid = xgb.DMatrix(grid)
train = xgb.DMatrix(X)
print("Huber loss of the fit on the training data:")
print(
    "  built-in squared error ",
    round(fl.huber(y, booster_mse.predict(train)), 4),
)
print(
    "  fastloss Huber         ",
    round(fl.huber(y, booster_huber.predict(train)), 4),
)
# the scikit-learn API grows the same trees
same = np.allclose(
    model.predict(grid), booster_huber.predict(dgrid), atol=1e-5
)
print("XGBRegressor == xgb.train with the same objective:", same)


# %%
# Quantiles with the pinball loss
# -------------------------------
# The pinball loss has hessian 0; ``hessian="unit"`` (each sample's weight, a
# gradient step, what XGBoost does for ``reg:quantileerror``) lets trees grow
# where this build supports it, and a constant hessian of 1 is the fallback.
def pinball_objective(q):
    try:
        return fastloss.xgboost.objective(
            "pinball_loss", quantile=q, hessian="unit"
        )
    except TypeError:  # an adapter without the hessian= option
        base = fastloss.xgboost.objective("pinball_loss", quantile=q)

        def fobj(preds, dtrain):
            grad, _ = base(preds, dtrain)
            return grad, np.ones_like(grad)

        return fobj


quantiles = {}
for q in (0.1, 0.9):
    b = xgb.train(
        {**params, "base_score": float(np.quantile(y, q))},
        dtrain,
        num_boost_round=200,
        obj=pinball_objective(q),
    )
    quantiles[q] = b.predict(dgrid)
    inside = np.mean(y <= b.predict(xgb.DMatrix(X)))
    print(
        f"quantile {q}: {inside:.1%} of the training targets lie below the fit"
    )

# %%
# LightGBM
# --------
# The objective goes into the parameters (``lgb.train``) or the estimator.
# LightGBM starts a custom objective from 0: give the Dataset an
# ``init_score`` (here the median) and add it back to the raw predictions.
start = float(np.median(y))
train_set = lgb.Dataset(X, label=y, init_score=np.full(n, start))
lgb_booster = lgb.train(
    {
        "objective": fastloss.lightgbm.objective("huber", delta=1.0),
        "num_leaves": 8,
        "learning_rate": 0.1,
        "verbose": -1,
        "num_threads": 1,
    },
    train_set,
    num_boost_round=200,
)
lgb_pred = lgb_booster.predict(grid) + start

fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.scatter(X[:, 0], y, s=3, color="grey", alpha=0.4, label="data")
ax.plot(grid, np.sin(grid) * 3, color="black", lw=1, label="truth")
ax.plot(grid, booster_mse.predict(dgrid), label="XGBoost squared error")
ax.plot(
    grid, booster_huber.predict(dgrid), label="XGBoost + fastloss Huber", lw=2
)
ax.plot(grid, lgb_pred, label="LightGBM + fastloss Huber", ls="--", lw=2)
ax.fill_between(
    grid[:, 0],
    quantiles[0.1],
    quantiles[0.9],
    alpha=0.15,
    label="XGBoost + fastloss pinball, 10–90 %",
)
ax.set_ylim(-12, 12)
ax.legend(fontsize=8, loc="lower left")
plt.show()
