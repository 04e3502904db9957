"""Ranking losses: RankNet and LambdaRank.

Kernel: ``_kernels/ranking.pyx`` (blocked pairwise, O(n) memory,
deterministic combine).  The sorts (by group and relevance; LambdaRank's
ranks by score) are done here, once per call, with NumPy's stable sorts --
except groups given as runs of ids with integral relevance, which the kernel
module orders by one counting sort per group (``runs_order``).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _validate
from ._base import Loss, gradient_array, loss_function, reduce_units
from ._kernels import ranking as _ranking
from ._threads import get_num_threads

__all__ = ["RankNet", "ranknet", "LambdaRank", "lambdarank"]

_UNSET = object()

# 2**y overflows float64 from y = 1024 on: LambdaRank's gains need y below it
_MAX_RELEVANCE = 1024.0


# The pair kernel's divisor of the gradient and hessian, by reduction:
# 1 = the total pair weight, 2 = the number of counted pairs, else none.
_AVERAGE = {"mean": 1, "sum_over_batch_size": 2}


class _Pairwise(Loss):
    """The call plumbing shared by the pairwise ranking losses: ``group`` may
    be given to the constructor or at call time (a call-time value wins)."""

    has_hessian = True

    def __call__(self, y_true, y_pred, sample_weight=None, group=_UNSET):
        return self.loss(y_true, y_pred, sample_weight, group=group)

    def loss(self, y_true, y_pred, sample_weight=None, group=_UNSET):
        return super().loss(y_true, y_pred, sample_weight, group=group)

    def gradient(self, y_true, y_pred, sample_weight=None, out=None, group=_UNSET):
        return super().gradient(y_true, y_pred, sample_weight, out, group=group)

    def loss_gradient(self, y_true, y_pred, sample_weight=None, out=None, group=_UNSET):
        return super().loss_gradient(y_true, y_pred, sample_weight, out, group=group)

    def _check_relevance(self, yt):
        """Hook: reject relevance the loss does not define (NaN is handled later)."""

    def _ndcg(self):
        """None for RankNet; LambdaRank: its k (0 = every rank)."""
        return None

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out, group=_UNSET):
        yt, yp = _validate.float_pair(y_true, y_pred, max_ndim=1)
        n = yp.shape[0]
        if group is _UNSET:
            group = self.group
        w = _validate.sample_weight(sample_weight, n)
        g = None if group is None else _validate.group_ids(group, n)
        self._check_relevance(yt)
        # one sort: by group, relevance descending inside a group (the kernel
        # then finds each item's partners as a contiguous suffix)
        if g is None:
            order = np.argsort(-yt, kind="stable").astype(np.int64, copy=False)
            starts = np.array([0, n], dtype=np.int64)
            first_order = np.zeros(1, dtype=np.int64)
        elif (runs := _ranking.runs_order(yt, g)) is not None:
            # ids never decrease (lists one after another): groups in id
            # order are in order of first appearance
            order, starts = runs
            first_order = np.arange(len(starts) - 1)
        else:
            order = np.lexsort((-yt, g)).astype(np.int64, copy=False)
            gs = g[order]
            cut = np.flatnonzero(gs[1:] != gs[:-1]) + 1
            starts = np.concatenate([[0], cut, [n]]).astype(np.int64)
            # groups in sorted-id order -> order of first appearance
            _, first = np.unique(g, return_index=True)     # ids ascending, as `starts`
            first_order = np.argsort(first, kind="stable")
        k = self._ndcg()
        rank = None
        if k is not None:
            rank = _score_ranks(yp, g, starts)
        grad = gradient_array(out, yp.shape, yp.dtype, (yt, yp, w)) if want_grad else None
        hess = np.empty(yp.shape, yp.dtype) if want_hess else None
        if np.isnan(yt).any():
            # a NaN relevance: whether it is above or below its partners is
            # undefined, so the result is NaN (loss, per-group values, gradient)
            group_loss = np.full(len(starts) - 1, np.nan)
            total_w = np.nan
            for arr in (grad, hess):
                if arr is not None:
                    arr[...] = np.nan
        else:
            group_loss, total_w, n_pairs = _ranking.pairwise(
                yt, yp, w, order, starts, rank, 0 if k is None else min(k, n), self.sigma,
                _AVERAGE.get(self.reduction, 0), grad, hess, get_num_threads())
            if self.reduction == "sum_over_batch_size":
                # the divisor is the number of counted pairs, weight-0 ones included
                total_w = float(n_pairs)
        value = None
        if want_loss:
            # units: pairs; "none" gives per-group sums in order of first appearance
            value = reduce_units(self.reduction, group_loss, total_w, yp.dtype,
                                 order=first_order)
        return value, grad, hess


def _score_ranks(yp, g, starts):
    """Each item's 0-based rank in its group by score, descending, ties in
    input order (a stable sort); groups are in ascending id order, as
    `starts`."""
    n = yp.shape[0]
    rank = np.empty(n, dtype=np.int64)
    if g is None:
        rank[np.argsort(-yp, kind="stable")] = np.arange(n)
    else:
        by_score = np.lexsort((-yp, g))
        rank[by_score] = np.arange(n) - np.repeat(starts[:-1], np.diff(starts))
    return rank


class RankNet(_Pairwise):
    """RankNet pairwise loss (Burges et al., 2005).

    ``y_true``: relevance ``(n,)``; ``y_pred``: scores ``(n,)``; ``group``:
    integer query ids ``(n,)``, any values in any order (None: one list).
    Over the pairs ``(i, j)`` of one group with ``y_i > y_j``:
    ``l_ij = log(1 + exp(-σ(ŷ_i - ŷ_j)))`` (stable), gradient
    ``∓σ ρ_ij`` to i and j, ``ρ_ij = sigmoid(-σ(ŷ_i - ŷ_j))``.
    ``sample_weight`` is per item: a pair weighs ``w_i w_j``.

    reduction (units = pairs): ``"mean"`` = ``Σ w_i w_j l_ij / Σ w_i w_j``
    (0 with a zero gradient when there is no pair), ``"sum"`` = the
    weighted sum, ``"none"`` = per-group weighted sums in order of first
    appearance of the group id (shape (G,)); its gradient is that of the
    sum.  ``group`` may be given to the constructor or at call time
    (``loss(y, s, group=q)``); a call-time value wins.

    ``gradient_hessian`` (H): the hessian diagonal
    ``Σ_{pairs ∋ i} w_i w_j σ² ρ_ij (1 - ρ_ij)``, scaled like the gradient
    (divided by ``Σ w_i w_j`` for "mean"), as gradient-boosting rankers use.

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


class LambdaRank(_Pairwise):
    """LambdaRank: RankNet's pairs weighted by ``|ΔNDCG|`` (Burges, 2010).

    ``y_true``: relevance ``(n,)`` (non-negative, below 1024); ``y_pred``:
    scores ``(n,)``; ``group``: integer query ids ``(n,)`` exactly as for
    :class:`RankNet` (None: one list; constructor or call time).

    Over the pairs ``(i, j)`` of one group with ``y_i > y_j``::

        l = Σ w_i w_j |ΔNDCG_ij| log(1 + exp(-σ(ŷ_i - ŷ_j)))
        |ΔNDCG_ij| = |(2^y_i - 2^y_j) (1/log2(2 + r_i) - 1/log2(2 + r_j))| / IDCG_k

    ``r`` is an item's 0-based rank in its group sorted by ``ŷ``
    descending; tied scores keep their input order (a stable sort), so the
    weights are deterministic at ties.  ``IDCG_k`` sums the ``k`` largest
    ideal gains ``(2^y - 1) / log2(2 + rank)`` of the group (``k=None``:
    all of them).

    ``k`` (a positive integer or None): only pairs with ``min(r_i, r_j) < k``
    (at least one item in the top k by score) count, and IDCG is truncated
    at k; the discounts in ``|ΔNDCG|`` are not truncated.  A group whose
    IDCG is 0 (every label 0) adds nothing, not even to the mean's divisor.

    reduction (units = counted pairs): ``"mean"`` = ``l / Σ w_i w_j`` over
    the counted pairs (0 with a zero gradient when there is none), ``"sum"``
    = ``l``, ``"none"`` = per-group sums in order of first appearance.

    The gradient holds ``|ΔNDCG|`` fixed (it is piecewise constant in ŷ,
    so this is the exact derivative wherever no two scores of a group
    tie); ``gradient_hessian`` (H) gives the diagonal
    ``Σ w_i w_j |ΔNDCG_ij| σ² ρ_ij (1 - ρ_ij)``, ``ρ_ij = sigmoid(-σ(ŷ_i - ŷ_j))``,
    scaled like the gradient.

    Choices where SPEC is silent: relevance must be in ``[0, 1024)``
    (negative labels have negative gains and make IDCG meaningless; 2^y
    overflows from 1024 on): anything else is a ValueError naming
    ``y_true``; NaN relevance makes everything NaN, as in RankNet.  A NaN
    score makes its group's ranks undefined: that group's loss and
    gradient are NaN.

    Peers: the NumPy pair-matrix formula above (tests); LightGBM's
    ``lambdarank`` objective uses the same pair weights but normalises its
    gradients differently, so it is not bit-comparable.  Memory O(n): no
    pair matrix, the ranks and gains are length-n arrays.
    """

    function_name = "lambdarank"

    def __init__(self, sigma=1.0, k=None, group=None, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.sigma = _validate.positive(sigma, "sigma")
        if k is not None:
            if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
                raise TypeError(f"k must be a positive integer or None, got {k!r}")
            if not k >= 1:
                raise ValueError(f"k must be a positive integer or None, got {k!r}")
            k = int(k)
        self.k = k
        self.group = group

    def _ndcg(self):
        return 0 if self.k is None else self.k

    def _check_relevance(self, yt):
        if np.any(yt < 0) or np.any(yt >= _MAX_RELEVANCE):
            bad = yt[(yt < 0) | (yt >= _MAX_RELEVANCE)][0]
            raise ValueError(
                "y_true must hold relevance in [0, 1024) for LambdaRank (the gain is "
                f"2**y_true - 1), got {bad!r}")


ranknet = loss_function(RankNet)
lambdarank = loss_function(LambdaRank)
