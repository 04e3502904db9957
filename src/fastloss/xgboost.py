"""XGBoost custom objectives from fastloss losses (``pip install 'fastloss[xgboost]'``).

``fastloss.xgboost.objective(loss, **params)`` returns one callable that works
with both XGBoost APIs:

- ``xgboost.train(params, dtrain, obj=fobj)``: called as ``fobj(preds, dtrain)``
  (labels and weights are read from the DMatrix);
- ``xgboost.XGBRegressor(objective=fobj)`` / ``XGBClassifier``: called as
  ``fobj(y_true, y_pred, sample_weight=...)``.

It returns ``(grad, hess)`` per sample (``gradient_hessian`` with
``reduction="none"``: weighted by the sample weight, not reduced), of the
shape of the raw scores: ``(n,)``, or ``(n, num_class)`` for multiclass
losses (XGBoost >= 2 passes and accepts that 2-D layout).  Losses with
``from_logits`` are used with ``from_logits=True`` (boosters work on margins).

Conventions to know when comparing with XGBoost's built-in objectives (the
fastloss objective is the true derivative of the fastloss loss; nothing is
rescaled):

- ``"mse"`` is ``(y - ŷ)²``: gradient ``2(ŷ - y)``, hessian 2, twice
  ``reg:squarederror``'s ``½(y - ŷ)²``.  The same trees come out with
  ``reg_lambda``, ``min_child_weight`` and ``gamma`` doubled; or use
  ``objective("huber", delta=inf-like)`` whose inside branch is ``½e²``
  (gradient ``ŷ - y``, hessian 1), exactly ``reg:squarederror``.
- ``"binary_crossentropy"`` is ``binary:logistic`` (gradient ``p - y``,
  hessian ``p(1 - p)``); predictions are margins (``output_margin=True``).
- ``"sparse_categorical_crossentropy"``: gradient ``p - onehot(y)``, hessian
  ``p(1 - p)``; ``multi:softprob`` uses the hessian ``2p(1 - p)``, so it is
  reproduced with ``eta``, ``reg_lambda`` and ``min_child_weight`` halved.
- With a custom objective XGBoost's ``base_score`` is a margin (no link);
  set it explicitly when comparing.
"""
from __future__ import annotations

from ._objective import PerSampleGradHess

__all__ = ["objective"]


class XGBoostObjective:
    """Custom objective for XGBoost built on a fastloss loss's ``gradient_hessian``."""

    def __init__(self, loss, **params):
        self._core = PerSampleGradHess(loss, params)
        self.loss = self._core.loss

    def __call__(self, preds_or_y_true, dtrain_or_y_pred, sample_weight=None):
        second = dtrain_or_y_pred
        if hasattr(second, "get_label") and hasattr(second, "get_weight"):  # a DMatrix
            preds, labels = preds_or_y_true, second.get_label()
            weight = second.get_weight()
        else:
            labels, preds, weight = preds_or_y_true, second, sample_weight
        grad, hess = self._core(labels, preds, weight)
        return grad, hess

    def __repr__(self):
        return f"fastloss.xgboost.objective({self.loss!r})"


def objective(loss, **params):
    """XGBoost custom objective for `loss` (a fastloss name or Loss instance);
    `params` go to the loss constructor.  See the module docstring."""
    return XGBoostObjective(loss, **params)
