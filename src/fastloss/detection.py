"""Detection losses: GIoU, DIoU, CIoU.

Boxes are rows of an ``(n, 4)`` array in one of torchvision's
``box_convert`` formats (``box_format``): ``"xyxy"`` = ``(x1, y1, x2, y2)``,
``"xywh"`` = ``(x1, y1, w, h)``, ``"cxcywh"`` = ``(cx, cy, w, h)``.  One
kernel driver (``_kernels/boxes.pyx``) serves the three losses: it reads
each box in the given format, computes the loss and the gradient of the
four corners in float64, and chains it back to the format's coordinates.
A loss here is its kernel name and its docstring.
"""
from __future__ import annotations

from . import _validate
from ._base import KernelOutputs, Loss, loss_function
from ._kernels import boxes as _boxes
from ._threads import get_num_threads

__all__ = ["GIoULoss", "giou_loss", "DIoULoss", "diou_loss", "CIoULoss", "ciou_loss"]

_FORMAT_LAYOUT = {"xyxy": "(x1, y1, x2, y2)", "xywh": "(x1, y1, w, h)",
                  "cxcywh": "(cx, cy, w, h)"}


def _check_boxes(arr, name, fmt):
    bad = _boxes.invalid_boxes(arr.reshape(-1), arr.shape[0], _boxes.FORMATS.index(fmt))
    if bad >= 0:
        what = "x2 < x1 or y2 < y1" if fmt == "xyxy" else "a negative width or height"
        raise ValueError(f"{name} row {bad} is not a {fmt} box {_FORMAT_LAYOUT[fmt]}: "
                         f"{what} ({arr[bad].tolist()})")


class _BoxLoss(Loss):
    """Shared body of the box losses: parameters, checks, one kernel call."""

    target_kind = "rows"
    _kind = ""
    _torchvision = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # the parameters and rules every box loss shares, once
        cls.__doc__ = (cls.__doc__ or "") + _COMMON.format(name=cls._torchvision,
                                                          cls=cls.__name__)

    def __init__(self, eps=1e-7, box_format="xyxy", *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.eps = _validate.non_negative(eps, "eps")
        self.box_format = _validate.choice(box_format, "box_format", _boxes.FORMATS)

    def _fast_record(self):
        fmt = _validate.choice(self.box_format, "box_format", _boxes.FORMATS)
        return _boxes.record(_boxes.KINDS.index(self._kind), _boxes.FORMATS.index(fmt),
                             self.eps, self.reduction)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        # checked again: the attribute may have been set after construction
        fmt = _validate.choice(self.box_format, "box_format", _boxes.FORMATS)
        yt, yp = _validate.float_pair(y_true, y_pred, min_ndim=2, max_ndim=2)
        if yp.shape[1] != 4:
            raise ValueError(f"y_pred must have shape (n, 4) {_FORMAT_LAYOUT[fmt]}, "
                             f"got {yp.shape}")
        _check_boxes(yt, "y_true", fmt)
        _check_boxes(yp, "y_pred", fmt)
        n = yp.shape[0]
        w = _validate.sample_weight(sample_weight, n)
        # The box kernel keeps its block sums itself (n_blocks=0 here).
        o = KernelOutputs(self.reduction, n, w, yp.shape, yp.dtype, 0, want_loss=want_loss,
                          want_grad=want_grad, want_hess=want_hess, out=out, inputs=(yt, yp))
        total = _boxes.boxes(_boxes.KINDS.index(self._kind), _boxes.FORMATS.index(fmt),
                             yt.reshape(-1), yp.reshape(-1), w, n, self.eps, o.scale,
                             o.flat_grad, o.rows, get_num_threads())
        return o.result(total)


_COMMON = """
    Parameters
    ----------
    eps : float >= 0
        The guard torchvision adds to every denominator (default 1e-7).
    box_format : "xyxy", "xywh" or "cxcywh"
        How a row of y_true and y_pred is read, torchvision ``box_convert``
        names: ``(x1, y1, x2, y2)``, ``(x1, y1, w, h)``, ``(cx, cy, w, h)``;
        the loss is that of the converted boxes (``x2 = x1 + w``;
        ``x1 = cx - w/2``, ``x2 = cx + w/2``) and the gradient is with
        respect to y_pred *in the given format*.  No converted copy of the
        arrays is made.  Same values as
        ``torchvision.ops.{name}(box_convert(p, fmt, "xyxy"), box_convert(t, fmt, "xyxy"))``::

            loss = fl.{cls}(box_format="cxcywh")      # rows (cx, cy, w, h)
            value, grad = loss.loss_gradient(boxes_true, boxes_pred)   # grad in cxcywh

    reduction : "mean", "sum", "none" or "sum_over_batch_size"
        Over boxes, SPEC §1 (``sample_weight`` weighs boxes).

    y_true and y_pred are ``(n, 4)``.  A box with a negative width or height
    (x2 < x1 or y2 < y1 in xyxy; w < 0 or h < 0 otherwise) in either is a
    ValueError naming y_true or y_pred; NaN propagates.  Degenerate boxes
    (zero width or height, points, identical, disjoint or nested boxes)
    give finite values and gradients (for eps > 0).

    The gradient equals torch autograd through torchvision's formula: where
    two coordinates tie inside a ``max``/``min`` each side gets half
    (torch's ``maximum``/``minimum`` backward), and the intersection
    contributes nothing where it is empty.  Computed in float64 whatever the
    dtype.  Not marked H: no ``gradient_hessian``.
"""


class GIoULoss(_BoxLoss):
    """Generalized IoU loss, ``l_i = 1 - GIoU(ŷ_i, y_i)``.

    With ``I`` the intersection area (0 unless both of its sides are > 0),
    ``U = A(ŷ) + A(y) - I`` and ``C`` the area of the smallest enclosing box:
    ``l = 1 - I / (U + eps) + (C - U) / (C + eps)``, exactly as torchvision's
    ``generalized_box_iou_loss``::

        fl.GIoULoss()(boxes_true, boxes_pred)                 # xyxy, mean over boxes
        fl.giou_loss(t, p, box_format="xywh", reduction="sum")
"""

    function_name = "giou_loss"
    _kind = "giou"
    _torchvision = "generalized_box_iou_loss"


class DIoULoss(_BoxLoss):
    """Distance IoU loss (Zheng et al., AAAI 2020), torchvision's
    ``distance_box_iou_loss``.

    ``l = 1 - I / (U + eps) + ρ² / (c² + eps)``: ``I``, ``U`` as in
    :class:`GIoULoss`, ``ρ`` the distance between the two boxes' centres,
    ``c`` the diagonal of the smallest enclosing box (so identical points
    give ``0 / eps = 0``, not NaN)::

        fl.DIoULoss()(boxes_true, boxes_pred)                 # xyxy, mean over boxes
        fl.diou_loss(t, p, box_format="cxcywh", reduction="sum_over_batch_size")
"""

    function_name = "diou_loss"
    _kind = "diou"
    _torchvision = "distance_box_iou_loss"


class CIoULoss(_BoxLoss):
    """Complete IoU loss (Zheng et al., AAAI 2020), torchvision's
    ``complete_box_iou_loss``.

    ``l = DIoU loss + α v``, ``v = 4/π² (atan(w_y / h_y) - atan(w_ŷ / h_ŷ))²``,
    ``α = v / (1 - IoU + v + eps)``.  As in torchvision, α is held constant
    in the gradient (it is computed under ``no_grad`` there)::

        fl.CIoULoss()(boxes_true, boxes_pred)                 # xyxy, mean over boxes
        fl.ciou_loss(t, p, box_format="xywh", sample_weight=w)

    Choices where torchvision is not finite: ``atan(w / 0)`` is its limit
    π/2 and a point box (w = h = 0, torchvision's 0/0 = NaN) has aspect
    term 0 with zero gradient; the aspect gradient uses atan2's derivative
    ``(h, -w) / (w² + h²)``, finite at h = 0 (where torch autograd through
    ``atan(w / h)`` gives NaN); α = 0 where v = 0 (torchvision's 0/0 for
    identical boxes with eps = 0).
"""

    function_name = "ciou_loss"
    _kind = "ciou"
    _torchvision = "complete_box_iou_loss"


giou_loss = loss_function(GIoULoss)
diou_loss = loss_function(DIoULoss)
ciou_loss = loss_function(CIoULoss)
