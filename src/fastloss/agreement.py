"""Agreement losses: Kappa (soft Cohen's kappa) and the hard ``cohen_kappa`` metric.

Kernel: ``_kernels/sets.pyx`` (``kappa``: one pass for the soft confusion
statistics, one for the gradient; ``kappa_hard`` for the metric).
"""
from __future__ import annotations

import numpy as np

from . import _validate
from ._base import Loss, gradient_array, loss_function
from ._kernels import sets as _sets
from ._threads import get_num_threads

__all__ = ["KappaLoss", "kappa_loss", "cohen_kappa"]

_WEIGHTS = (None, "linear", "quadratic")


def _check_weights(weights):
    return _validate.choice(weights, "weights", _WEIGHTS)


# The kernels' weight kinds: W is never formed (it is C×C), each kernel
# computes an entry from |a - b| and W's marginals in closed form.
_KIND = {None: 0, "linear": 1, "quadratic": 2}


class KappaLoss(Loss):
    """Soft Cohen's kappa loss, ``1 - κ = Σ W∘O / Σ W∘E``.

    ``y_true``: int labels ``(n,)`` in ``[0, C)``; ``y_pred``: probabilities
    ``(n, C)`` (logits with ``from_logits=True``, softmax over C).  Soft
    confusion ``O = Yᵀ P`` (rows: true class, columns: predicted), expected
    ``E = (Σ_i w_i Y_i)ᵀ (Σ_i w_i P_i) / Σw`` and weights ``W = 1 - I``
    (``weights=None``), ``|i - j| / (C - 1)`` (``"linear"``) or
    ``(i - j)² / (C - 1)²`` (``"quadratic"``).  ``sample_weight`` weighs
    the rows of O and both marginals.  With one-hot ``y_pred``,
    ``1 - loss`` equals ``sklearn.metrics.cohen_kappa_score(y, argmax ŷ,
    weights=...)`` over the labels 0..C-1.

    No ``reduction``: the loss is one number for the whole set.  Where κ is
    undefined (``Σw = 0``, or ``Σ W∘E = 0`` — every label and every
    prediction in one class) the loss is 0 with a zero gradient.
    Gradient: ``dL/dP_ib = w_i (W[y_i, b] - L v_b / Σw) / Σ W∘E`` with
    ``v = W`` weighted by the true-class histogram; chained through the
    softmax when ``from_logits``.  Probabilities are used as given (not
    renormalised or clipped: the loss is a ratio of bilinear sums).

    Non-finite input: NaN in ``y_pred`` (or ``sample_weight``) makes the
    loss and gradient NaN.  With ``from_logits=True`` a logit of -inf is a
    probability of exactly 0 (a masked class): loss and gradient stay finite,
    also when the masked class is a row's label (the loss is bounded; that
    class simply gets probability 0).  A row whose logits are all -inf has no
    distribution; it is treated as its true class masked: if its
    sample weight is > 0 the loss is +inf and the gradient 0 (never NaN); a
    row of weight 0 is left out.

    Cost: O(nC) time and O(C) memory beyond ``y_pred`` and the gradient
    (W is never formed; its entries and ``hᵀW`` have closed forms), so
    200 000 classes are as cheap per element as 5.
    """

    function_name = "kappa_loss"

    def __init__(self, weights=None, from_logits=False):
        super().__init__(reduction="mean")
        self.weights = _check_weights(weights)
        self.from_logits = _validate.boolean(from_logits, "from_logits")

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        yp = _validate.float_array(y_pred, "y_pred")
        if yp.ndim != 2:
            raise ValueError(f"y_pred must have shape (n, C), got {yp.shape}")
        n, C = yp.shape
        labels, _ = _validate.class_indices(y_true, n, C)
        w = _validate.sample_weight(sample_weight, n)
        grad = gradient_array(out, yp.shape, yp.dtype, (yp, labels, w)) if want_grad else None
        value, _ = _sets.kappa(labels, yp.reshape(-1), w, n, C, _KIND[self.weights],
                               self.from_logits, None if grad is None else grad.reshape(-1),
                               get_num_threads())
        return (float(value) if want_loss else None), grad, None


kappa_loss = loss_function(KappaLoss)


def _label_array(x, name):
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:      # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array: {exc}") from None


def cohen_kappa(y_true, y_pred_labels, weights=None, *, sample_weight=None):
    """Cohen's kappa of two label arrays, as ``sklearn.metrics.cohen_kappa_score``.

    The classes are the sorted union of the labels seen in either array;
    ``weights`` None, ``"linear"`` or ``"quadratic"`` use the distance
    between class positions in that list (as scikit-learn).  NaN where
    κ is undefined (expected disagreement 0), as scikit-learn.  O(n log n)
    time (the sorted union) and O(n + C) memory: no C×C confusion or weight
    matrix, so a million distinct labels are fine.

    >>> import numpy as np
    >>> import fastloss as fl
    >>> from sklearn.metrics import cohen_kappa_score
    >>> a = np.array([0, 1, 2, 2, 1, 0]); b = np.array([0, 2, 2, 1, 1, 0])
    >>> ours = fl.cohen_kappa(a, b, weights="linear")
    >>> bool(np.isclose(ours, cohen_kappa_score(a, b, weights="linear")))
    True
    """
    weights = _check_weights(weights)
    a = _label_array(y_true, "y_true")
    b = _label_array(y_pred_labels, "y_pred_labels")
    if a.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {a.shape}")
    if b.shape != a.shape:
        raise ValueError(f"y_pred_labels has shape {b.shape} but y_true has shape {a.shape}")
    if a.size == 0:
        raise ValueError("y_true is empty; nothing to compute")
    try:
        classes, idx = np.unique(np.concatenate([a, b]), return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"y_true and y_pred_labels must hold comparable labels: {exc}") from None
    idx = np.ascontiguousarray(idx.reshape(-1), dtype=np.int64)
    w = _validate.sample_weight(sample_weight, a.size)
    return float(_sets.kappa_hard(idx[:a.size], idx[a.size:], w, classes.size,
                                  _KIND[weights], get_num_threads()))
