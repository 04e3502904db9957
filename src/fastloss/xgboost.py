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
- With a custom objective XGBoost's ``base_score`` is a margin (no link)
  and is not estimated from the labels (it stays 0.5 unless set): set it,
  e.g. to ``fastloss.init_score`` (below).

``hessian=`` (``objective(loss, hessian="exact" | "unit" | h_min)``):

- ``"exact"`` (default): the loss's hessian diagonal, times the weight.
  MAE, hinge and pinball have hessian 0 (and Huber outside δ): XGBoost
  then makes no split and gives every leaf the weight 0 (measured with
  XGBoost 3.2, also with ``min_child_weight=0``), so the model never moves
  from ``base_score``.  A loss without a hessian is a ValueError here.
- ``"unit"``: each sample's weight (1 unweighted) as the hessian: a leaf
  becomes the (weighted, λ-shrunk) mean gradient, a gradient-descent step of
  size ``eta``.  This is what XGBoost's own ``reg:absoluteerror`` and
  ``reg:quantileerror`` do (they then also refit each leaf to the quantile
  of its residuals, which a custom objective cannot).
- a float ``h_min > 0``: ``max(h, h_min)`` on the weighted hessian XGBoost
  receives (a loss without a hessian: ``h_min`` everywhere).

Ranking losses (``"ranknet"``, ``"lambdarank"``) take the query groups of
the DMatrix (``xgboost.DMatrix(X, label=rel, group=sizes)`` or ``qid=``;
read with ``get_uint_info("group_ptr")``, rows of one query contiguous, as
XGBoost requires); a DMatrix without groups is one query, as for XGBoost's
own ``rank:*`` objectives.  XGBoost's ranking weights are per *query*: a
weight array with one value per group gives each item ``√w_g``, so each pair
of the group (weighted ``w_i w_j`` by fastloss) weighs ``w_g``.  Use
``xgboost.train`` for ranking: the scikit-learn wrapper passes the callable
no groups.

Starting where the built-in objective starts: ``fastloss.init_score(loss,
y)`` is the constant that minimises the loss, in the loss's input space (a
margin / log-rate for a loss name, the space the objective works in), e.g.
the 0.9-quantile for ``pinball_loss(quantile=0.9)`` or the log-odds for
``binary_crossentropy``.  Pass a scalar as ``base_score``::

    obj = fastloss.xgboost.objective("pinball_loss", quantile=0.9, hessian="unit")
    start = fastloss.init_score("pinball_loss", y, quantile=0.9)
    booster = xgboost.train({"base_score": start, ...}, dtrain, 100, obj=obj)

(``base_score`` is then also the start of ``booster.predict``: nothing else
to do).  An array start (a length-C ``log_prior`` for softmax losses, or
any per-sample offset) goes in as ``base_margin``, one row per sample:
``dtrain.set_base_margin(np.tile(start, (n, 1)))`` with ``base_score=0``,
and the same ``base_margin`` on every DMatrix you predict on.
"""
from __future__ import annotations

import numpy as np

from ._objective import booster_core, group_ids_from_sizes

__all__ = ["objective"]


class XGBoostObjective:
    """Custom objective for XGBoost built on a fastloss loss's gradient and hessian."""

    def __init__(self, loss, hessian="exact", **params):
        self._core = booster_core(loss, params, hessian=hessian)
        self.loss = self._core.loss
        self.hessian = self._core.hessian

    def __call__(self, preds_or_y_true, dtrain_or_y_pred, sample_weight=None):
        second = dtrain_or_y_pred
        group = None
        if hasattr(second, "get_label") and hasattr(second, "get_weight"):  # a DMatrix
            preds, labels = preds_or_y_true, second.get_label()
            weight = second.get_weight()
            if self._core.ranking:
                group, weight = self._groups(second, np.size(preds), weight)
        else:
            labels, preds, weight = preds_or_y_true, second, sample_weight
        return self._core(labels, preds, weight, group)

    @staticmethod
    def _groups(dmatrix, n, weight):
        ptr = np.asarray(dmatrix.get_uint_info("group_ptr"), dtype=np.int64)
        if ptr.size < 2:
            return None, weight
        group = group_ids_from_sizes(np.diff(ptr), n, "DMatrix")
        if weight is not None and np.size(weight) == ptr.size - 1 and np.size(weight) != n:
            # one weight per query (XGBoost's ranking convention): √w_g per
            # item, so that a pair of the query weighs w_g
            weight = np.sqrt(np.asarray(weight, dtype=np.float64))[group]
        return group, weight

    def __repr__(self):
        return f"fastloss.xgboost.objective({self.loss!r}, hessian={self.hessian!r})"


def objective(loss, hessian="exact", **params):
    """XGBoost custom objective for `loss` (a fastloss name or Loss instance);
    `hessian` is ``"exact"``, ``"unit"`` or a float ``h_min > 0``; `params`
    go to the loss constructor.  See the module docstring."""
    return XGBoostObjective(loss, hessian=hessian, **params)
