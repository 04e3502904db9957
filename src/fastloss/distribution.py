"""Distribution losses: KL divergence, cosine similarity loss, Hellinger distance.

All three are row-wise (``_kernels/rows.pyx``): y_true and y_pred have the
same shape (n, k), a row is one sample, and a 1-D pair is one row.  None has
``gradient_hessian`` (SPEC).
"""
from __future__ import annotations

from . import _validate
from ._base import EPS, Loss, loss_function
from ._kernels import rows as _rows
from ._rowwise import dense_rows, row_record, run_rows

__all__ = [
    "KLDivergence", "kl_divergence",
    "CosineSimilarityLoss", "cosine_similarity_loss",
    "HellingerDistance", "hellinger_distance",
]


class _DenseRowLoss(Loss):
    target_kind = "rows"
    _row_kind = ""

    def _kind(self):
        return self._row_kind

    def _kernel_params(self):
        # exactly the kind's record: the probability clip where it has one
        return {"eps": EPS} if _rows.PARAMS[self._kind()] else {}

    def _fast_record(self):
        return row_record(self._kind(), self._kernel_params(), self.reduction)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        yt, yp, lay = dense_rows(y_true, y_pred)
        w = _validate.sample_weight(sample_weight, lay.n)
        return run_rows(self._kind(), self._kernel_params(), yt, None, yp, w, self.reduction,
                        lay, want_loss=want_loss, want_grad=want_grad,
                        want_hess=want_hess, out=out)


class KLDivergence(_DenseRowLoss):
    """Kullback–Leibler divergence of each row, row **sum**.

    ``log_input=False``: ``l = Σ_j ỹ_j log(ỹ_j / p_j)`` with y and ŷ both
    clipped to ``[1e-7, 1]`` (Keras ``KLDivergence``; the clipped y is used
    in the factor too); gradient ``-ỹ_j / ŷ_j``, 0 where ŷ is clipped.

    ``log_input=True``: ŷ are log-probabilities, ``l = Σ_j y_j (log y_j - ŷ_j)``
    with terms where ``y_j = 0`` equal to 0 (torch's ``kl_div``), unless
    ``ŷ_j`` is NaN: NaN propagates.  A log-probability of -inf (probability
    0) adds 0 where ``y_j = 0`` and makes the loss +inf where ``y_j > 0``.
    Gradient ``-y_j`` (torch's, whatever ŷ_j).  Our ``"mean"`` is torch's
    ``reduction="batchmean"``.
    """

    function_name = "kl_divergence"
    aliases = ("kld", "kullback_leibler_divergence")

    def __init__(self, log_input=False, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.log_input = _validate.boolean(log_input, "log_input")

    def _kind(self):
        return "kl_log" if self.log_input else "kl"


class CosineSimilarityLoss(_DenseRowLoss):
    """Cosine similarity loss,
    ``l = 1 - ⟨y, ŷ⟩ / (max(‖y‖, 1e-12) · max(‖ŷ‖, 1e-12))`` per row.

    Keras' ``CosineSimilarity`` + 1 (Keras returns -cos).  The gradient is
    the derivative of this clamped formula: where ``‖ŷ‖ < 1e-12`` it is
    ``-y / (max(‖y‖, 1e-12) · 1e-12)``, finite (no NaN at zero norm).
    Norms are accumulated in float64.
    """

    function_name = "cosine_similarity_loss"
    _row_kind = "cosine"

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction=reduction)


class HellingerDistance(_DenseRowLoss):
    """Hellinger distance of each row, ``l = ‖√y - √p‖₂ / √2`` with
    ``p = clip(ŷ, 1e-7, 1)`` inside the root.

    Gradient ``dl/dŷ_j = -(√y_j - √p_j) / (2 √2 D √p_j)`` with
    ``D = ‖√y - √p‖``: 0 where ŷ is clipped, and 0 for a row whose distance
    is 0 (no 0/0).  y is not clipped (a negative target gives NaN).
    """

    function_name = "hellinger_distance"
    aliases = ("hellinger",)
    _row_kind = "hellinger"

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction=reduction)


kl_divergence = loss_function(KLDivergence)
cosine_similarity_loss = loss_function(CosineSimilarityLoss)
hellinger_distance = loss_function(HellingerDistance)
