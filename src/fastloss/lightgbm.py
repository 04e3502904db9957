"""LightGBM custom objectives from fastloss losses (``pip install 'fastloss[lightgbm]'``).

``fastloss.lightgbm.objective(loss, **params)`` returns one callable that works
with both LightGBM APIs:

- ``lightgbm.train({"objective": fobj, ...}, train_set)``: called as
  ``fobj(preds, train_data)`` (labels and weights read from the Dataset);
- ``lightgbm.LGBMRegressor(objective=fobj)`` / ``LGBMClassifier``: called as
  ``fobj(y_true, y_pred, weight)`` (LightGBM passes the weights because the
  callable takes three arguments).

It returns ``(grad, hess)`` per sample (``gradient_hessian`` with
``reduction="none"``: weighted by the sample weight, not reduced), shaped
like the raw scores: ``(n,)``, or ``(n, num_class)`` for multiclass losses
(LightGBM >= 4 passes and accepts that 2-D layout).  Losses with
``from_logits`` are used with ``from_logits=True``.

Conventions to know when comparing with LightGBM's built-in objectives
(nothing is rescaled: the fastloss objective is the derivative of the fastloss loss):

- ``"mse"`` is ``(y - ŷ)²`` (gradient ``2(ŷ - y)``, hessian 2); ``regression``
  uses ``ŷ - y`` and 1.  With ``lambda_l2=0`` (LightGBM's default) a leaf
  value ``-G/H`` is the same; scale ``min_sum_hessian_in_leaf`` by 2.  Or use
  ``objective("huber", delta=large)``, exactly ``regression``'s derivatives.
- ``"binary_crossentropy"`` is ``binary`` (gradient ``p - y``, hessian ``p(1-p)``).
- ``"sparse_categorical_crossentropy"``: hessian ``p(1 - p)``; ``multiclass``
  uses ``K/(K-1) · p(1 - p)``, so it is reproduced with ``learning_rate``
  divided by ``K/(K-1)`` (and ``lambda_l2 = 0``).
- ``LGBMClassifier`` with a custom objective returns raw scores from
  ``predict_proba`` (LightGBM does not know the link); use ``lightgbm.train``
  or apply the sigmoid / softmax yourself.
- A custom objective starts from a zero score; the built-in ones start from
  the label average (``boost_from_average``): give the Dataset an
  ``init_score`` or set ``boost_from_average=False`` when comparing.

``hessian=`` (``objective(loss, hessian="exact" | "unit" | h_min)``):

- ``"exact"`` (default): the loss's hessian diagonal, times the weight.
  MAE, hinge and pinball have hessian 0 (and Huber outside δ): no leaf
  reaches ``min_sum_hessian_in_leaf``: LightGBM makes no split, its first
  tree is the constant 0 and training stops there.  A loss
  without a hessian is a ValueError here.
- ``"unit"``: each sample's weight (1 unweighted): a leaf is the weighted
  mean gradient, a gradient step of size ``learning_rate``, what LightGBM's
  own ``regression_l1`` / ``quantile`` do (before they refit each leaf to
  the quantile of its residuals, which a custom objective cannot).
- a float ``h_min > 0``: ``max(h, h_min)`` on the weighted hessian LightGBM
  receives (a loss without a hessian: ``h_min`` everywhere).

Ranking losses (``"ranknet"``, ``"lambdarank"``) take the query groups of
the Dataset (``lightgbm.Dataset(X, rel, group=sizes)``, read with
``get_group()``; with ``LGBMRanker(objective=obj).fit(X, rel, group=sizes)``
LightGBM passes the group sizes to the callable, which takes four
arguments).  A Dataset without groups is one query.  Weights are per item.

Starting where the built-in objective starts: ``fastloss.init_score(loss,
y)`` is the constant that minimises the loss, in the loss's input space (a
margin / log-rate for a loss name, the space the objective works in).  It
goes on the Dataset as ``init_score``, one value per sample (``(n, C)`` for
a length-C softmax start); LightGBM does not store it in the model, so add it
to ``predict(..., raw_score=True)`` yourself::

    obj = fastloss.lightgbm.objective("pinball_loss", quantile=0.9, hessian="unit")
    start = fastloss.init_score("pinball_loss", y, quantile=0.9)
    train = lightgbm.Dataset(X, y, init_score=np.full(len(y), start))
    booster = lightgbm.train({"objective": obj, ...}, train, 100)
    pred = start + booster.predict(X_test, raw_score=True)

(For a softmax start: ``init_score=np.tile(start, (n, 1))`` and
``start + booster.predict(X_test, raw_score=True)``.)
"""
from __future__ import annotations

import numpy as np

from ._objective import booster_core, group_ids_from_sizes

__all__ = ["objective"]


class LightGBMObjective:
    """Custom objective for LightGBM built on a fastloss loss's gradient and hessian."""

    def __init__(self, loss, hessian="exact", **params):
        self._core = booster_core(loss, params, hessian=hessian)
        self.loss = self._core.loss
        self.hessian = self._core.hessian

    # Four parameters: LightGBM's scikit-learn wrapper then passes (y_true,
    # y_pred, weight, group), group being the query sizes (None without).
    def __call__(self, preds_or_y_true, data_or_y_pred, weight=None, group=None):
        second = data_or_y_pred
        if hasattr(second, "get_label") and hasattr(second, "get_weight"):  # a Dataset
            preds, labels, weight = preds_or_y_true, second.get_label(), second.get_weight()
            group = second.get_group() if self._core.ranking else None
        else:
            labels, preds = preds_or_y_true, second
        ids = None
        if self._core.ranking and group is not None and np.size(group) > 0:
            ids = group_ids_from_sizes(group, np.size(preds), "Dataset")
        return self._core(labels, preds, weight, ids)

    def __repr__(self):
        return f"fastloss.lightgbm.objective({self.loss!r}, hessian={self.hessian!r})"


def objective(loss, hessian="exact", **params):
    """LightGBM custom objective for `loss` (a fastloss name or Loss instance);
    `hessian` is ``"exact"``, ``"unit"`` or a float ``h_min > 0``; `params`
    go to the loss constructor.  See the module docstring."""
    return LightGBMObjective(loss, hessian=hessian, **params)
