"""Detection losses: GIoU.

Boxes are rows ``(x1, y1, x2, y2)`` of an ``(n, 4)`` array; the kernel
(``_kernels/boxes.pyx``) computes each box's loss and the gradient of its
four predicted coordinates in one pass.
"""
from __future__ import annotations

from . import _validate
from ._base import KernelOutputs, Loss, loss_function
from ._kernels import boxes as _boxes
from ._threads import get_num_threads

__all__ = ["GIoULoss", "giou_loss"]


def _check_boxes(arr, name):
    bad = _boxes.invalid_boxes(arr.reshape(-1), arr.shape[0])
    if bad >= 0:
        raise ValueError(f"{name} row {bad} is not a box: x2 < x1 or y2 < y1 "
                         f"({arr[bad].tolist()})")


class GIoULoss(Loss):
    """Generalized IoU loss, ``l_i = 1 - GIoU(ŷ_i, y_i)`` for boxes ``(x1, y1, x2, y2)``.

    With ``I`` the intersection area (0 unless both of its sides are > 0),
    ``U = A(ŷ) + A(y) - I`` and ``C`` the area of the smallest enclosing box:
    ``l = 1 - I / (U + eps) + (C - U) / (C + eps)``, exactly as torchvision's
    ``generalized_box_iou_loss`` (eps = 1e-7 by default).  y_true and y_pred
    are ``(n, 4)``; a box with x2 < x1 or y2 < y1 in either is a ValueError,
    NaN propagates.  Degenerate boxes (zero width or height, identical or
    disjoint boxes) give finite values and gradients.

    The gradient is taken with respect to the four predicted coordinates and
    equals torch autograd through torchvision's formula: where two
    coordinates tie inside a ``max``/``min`` each side gets half (torch's
    ``maximum``/``minimum`` backward), and the intersection contributes
    nothing where it is empty.  Computed in float64 whatever the dtype.

    ``reduction`` and ``sample_weight`` (per box) follow SPEC §1; not
    marked H, so there is no ``gradient_hessian``.
    """

    function_name = "giou_loss"
    target_kind = "rows"

    def __init__(self, eps=1e-7, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.eps = _validate.non_negative(eps, "eps")

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        yt, yp = _validate.float_pair(y_true, y_pred, min_ndim=2, max_ndim=2)
        if yp.shape[1] != 4:
            raise ValueError(f"y_pred must have shape (n, 4) (x1, y1, x2, y2), got {yp.shape}")
        _check_boxes(yt, "y_true")
        _check_boxes(yp, "y_pred")
        n = yp.shape[0]
        w = _validate.sample_weight(sample_weight, n)
        # The box kernel keeps its block sums itself (n_blocks=0 here).
        o = KernelOutputs(self.reduction, n, w, yp.shape, yp.dtype, 0, want_loss=want_loss,
                          want_grad=want_grad, want_hess=want_hess, out=out, inputs=(yt, yp))
        total = _boxes.giou(yt.reshape(-1), yp.reshape(-1), w, n, self.eps, o.scale,
                            o.flat_grad, o.rows, get_num_threads())
        return o.result(total)


giou_loss = loss_function(GIoULoss)
