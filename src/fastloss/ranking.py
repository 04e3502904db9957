"""Ranking losses: RankNet.

Kernel: ``_kernels/ranking.pyx`` (blocked pairwise, O(n) memory,
deterministic combine).
"""
from __future__ import annotations

import numpy as np

from . import _validate
from ._base import Loss, gradient_array, loss_function, reduce_units
from ._kernels import ranking as _ranking
from ._threads import get_num_threads

__all__ = ["RankNet", "ranknet"]

_UNSET = object()


class RankNet(Loss):
    """RankNet pairwise loss (Burges et al., 2005).

    ``y_true``: relevance ``(n,)``; ``y_pred``: scores ``(n,)``; ``group``:
    integer query ids ``(n,)``, any values in any order (None: one list).
    Over the pairs ``(i, j)`` of one group with ``y_i > y_j``:
    ``l_ij = log(1 + exp(-σ(ŷ_i - ŷ_j)))`` (stable), gradient
    ``∓σ sigmoid(-σ(ŷ_i - ŷ_j))`` to i and j.  ``sample_weight`` is per item:
    a pair weighs ``w_i w_j``.

    reduction (units = pairs): ``"mean"`` = ``Σ w_i w_j l_ij / Σ w_i w_j``
    (0 with a zero gradient when there is no pair), ``"sum"`` = the
    weighted sum, ``"none"`` = per-group weighted sums in order of first
    appearance of the group id (shape (G,)); its gradient is that of the
    sum.  ``group`` may be given to the constructor or at call time
    (``loss(y, s, group=q)``); a call-time value wins.

    A NaN relevance makes the loss and the whole gradient NaN; NaN scores
    propagate through their pairs.

    Agrees with torch broadcasting over the n×n difference matrix and with
    allRank's RankNet without padding.  Memory O(n): pairs are visited by
    cache-sized tiles, never stored.
    """

    function_name = "ranknet"

    def __init__(self, sigma=1.0, group=None, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.sigma = _validate.positive(sigma, "sigma")
        self.group = group

    def __call__(self, y_true, y_pred, sample_weight=None, group=_UNSET):
        return self.loss(y_true, y_pred, sample_weight, group=group)

    def loss(self, y_true, y_pred, sample_weight=None, group=_UNSET):
        return super().loss(y_true, y_pred, sample_weight, group=group)

    def gradient(self, y_true, y_pred, sample_weight=None, out=None, group=_UNSET):
        return super().gradient(y_true, y_pred, sample_weight, out, group=group)

    def loss_gradient(self, y_true, y_pred, sample_weight=None, out=None, group=_UNSET):
        return super().loss_gradient(y_true, y_pred, sample_weight, out, group=group)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out, group=_UNSET):
        yt, yp = _validate.float_pair(y_true, y_pred, max_ndim=1)
        n = yp.shape[0]
        if group is _UNSET:
            group = self.group
        w = _validate.sample_weight(sample_weight, n)
        # one sort: by group, relevance descending inside a group (the kernel
        # then finds each item's partners as a contiguous suffix)
        if group is None:
            order = np.argsort(-yt, kind="stable").astype(np.int64, copy=False)
            starts = np.array([0, n], dtype=np.int64)
            first_order = np.zeros(1, dtype=np.int64)
        else:
            g = _validate.group_ids(group, n)
            order = np.lexsort((-yt, g)).astype(np.int64, copy=False)
            gs = g[order]
            cut = np.flatnonzero(gs[1:] != gs[:-1]) + 1
            starts = np.concatenate([[0], cut, [n]]).astype(np.int64)
            # groups in sorted-id order -> order of first appearance
            _, first = np.unique(g, return_index=True)     # ids ascending, as `starts`
            first_order = np.argsort(first, kind="stable")
        grad = gradient_array(out, yp.shape, yp.dtype, (yt, yp, w)) if want_grad else None
        if np.isnan(yt).any():
            # a NaN relevance: whether it is above or below its partners is
            # undefined, so the result is NaN (loss, per-group values, gradient)
            group_loss = np.full(len(starts) - 1, np.nan)
            total_w = np.nan
            if grad is not None:
                grad[...] = np.nan
        else:
            group_loss, total_w = _ranking.ranknet(
                yt, yp, w, order, starts, self.sigma, self.reduction == "mean",
                grad, get_num_threads())
        value = None
        if want_loss:
            # units: pairs; "none" gives per-group sums in order of first appearance
            value = reduce_units(self.reduction, group_loss, total_w, yp.dtype,
                                 order=first_order)
        return value, grad, None


ranknet = loss_function(RankNet)
