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
"""
from __future__ import annotations

from ._objective import PerSampleGradHess

__all__ = ["objective"]


class LightGBMObjective:
    """Custom objective for LightGBM built on a fastloss loss's ``gradient_hessian``."""

    def __init__(self, loss, **params):
        self._core = PerSampleGradHess(loss, params)
        self.loss = self._core.loss

    def __call__(self, preds_or_y_true, data_or_y_pred, weight=None):
        second = data_or_y_pred
        if hasattr(second, "get_label") and hasattr(second, "get_weight"):  # a Dataset
            preds, labels, weight = preds_or_y_true, second.get_label(), second.get_weight()
        else:
            labels, preds = preds_or_y_true, second
        return self._core(labels, preds, weight)

    def __repr__(self):
        return f"fastloss.lightgbm.objective({self.loss!r})"


def objective(loss, **params):
    """LightGBM custom objective for `loss` (a fastloss name or Loss instance);
    `params` go to the loss constructor.  See the module docstring."""
    return LightGBMObjective(loss, **params)
