"""Segmentation losses: Lovász-Softmax, Lovász hinge, Jaccard, F1/Dice, Tversky.

These are set-level losses (SPEC §3): the loss of a set is not a sum of
per-sample terms, so ``reduction`` acts over the units each loss names.
Kernels: ``_kernels/sets.pyx`` (two passes for Jaccard/F1/Tversky: the
sums, one formula per loss over them, the gradient; a radix sort per
(image, class) task for Lovász, tasks in parallel).
"""
from __future__ import annotations

import numpy as np

from . import _validate
from ._base import Loss, gradient_array, loss_function, reduce_units, unit_weights
from ._kernels import sets as _sets
from ._threads import get_num_threads

__all__ = [
    "LovaszSoftmax", "lovasz_softmax",
    "LovaszHinge", "lovasz_hinge",
    "JaccardLoss", "jaccard_loss",
    "F1Loss", "f1_loss", "DiceLoss", "dice_loss",
    "TverskyLoss", "tversky_loss",
]


# ------------------------------------------------------------------ helpers
# The Lovász kernel carries element addresses in 31 bits of its sort payload.
_LOVASZ_MAX_ELEMENTS = 2**31 - 1


def _image_units(sample_weight, per_image, B, reduction):
    """(w_b, per-image gradient scale, Σw): images are the units with
    ``per_image``; otherwise the one set of all pixels is the only unit."""
    if not per_image:
        if sample_weight is not None:
            raise ValueError("sample_weight weights images and needs per_image=True")
        return unit_weights(reduction, 1)
    return unit_weights(reduction, B, _validate.sample_weight(sample_weight, B))


def _lovasz_counts(labels, B, HW, C, per_image, ignore):
    """(valid pixels per (set, class), number of bad labels); the sets are
    the images with ``per_image``, otherwise the one set of all pixels."""
    return _sets.lovasz_counts(labels, B if per_image else 1, HW if per_image else B * HW, C,
                               ignore is not None, 0 if ignore is None else ignore,
                               get_num_threads())


def _run_lovasz(yp, labels, B, C, HW, *, per_image, ti, tc, gscale, hinge, from_logits,
                ignore, want_grad, out):
    """One kernel call over the tasks (set ti[t], class tc[t]); a task's set
    is its image with ``per_image``, else all B images."""
    if per_image:
        tb0, tb1 = ti, ti + 1
    else:
        tb0, tb1 = np.zeros_like(ti), np.full_like(ti, B)
    grad = gradient_array(out, yp.shape, yp.dtype, (yp, labels)) if want_grad else None
    losses = _sets.lovasz(
        yp.reshape(-1), labels, B, C, HW, hinge, from_logits, ignore is not None,
        0 if ignore is None else ignore,
        np.ascontiguousarray(tb0, dtype=np.int64), np.ascontiguousarray(tb1, dtype=np.int64),
        np.ascontiguousarray(tc, dtype=np.int64), np.ascontiguousarray(gscale, dtype=np.float64),
        None if grad is None else grad.reshape(-1), True, get_num_threads())
    return losses, grad


# -------------------------------------------------------------- Lovász
class LovaszSoftmax(Loss):
    """Lovász-Softmax loss (Berman, Rannen Triki & Blaschko, CVPR 2018).

    ``y_pred``: probabilities of shape ``(B, C, H, W)`` or ``(P, C)`` (with
    ``from_logits=True``: logits, softmax over C).  ``y_true``: int labels
    ``(B, H, W)`` or ``(P,)`` in ``[0, C)`` or equal to ``ignore_index``.

    Per class c: errors ``|fg_c - p_c|`` over the valid pixels, sorted in
    descending order, dotted with the Lovász gradient of the Jaccard loss
    (``lovasz_grad`` of the reference); the loss of a set of pixels is the
    mean over the chosen classes.  Exactly ``lovasz_softmax`` of
    bermanmaxim/LovaszSoftmax (pytorch):

    - ``classes="present"``: only classes with at least one valid pixel of
      the set (the image when ``per_image``); ``"all"``: every class; a list
      of class indices: those classes, absent or not (a repeated index counts
      twice, an empty list gives 0, as the reference's ``mean``).
    - ``per_image=False``: one set of all pixels.  ``per_image=True``: one
      loss per image (needs 4-D input), averaged over images; an image with
      no valid pixel counts 0.  Everything ignored: loss 0, zero gradient.
    - the gradient equals the reference's autograd gradient: the sort
      permutation is a constant, ``d|fg - p|/dp = -sign(fg - p)`` (0 at
      equality); with ``from_logits`` it is chained through the softmax.

    reduction (units = images): with ``per_image=True``, ``"mean"`` is
    ``Σ w_b l_b / Σ w_b`` (sample_weight, length B, weighs images),
    ``"sum"`` is ``Σ w_b l_b`` and ``"none"`` the array ``w_b l_b`` of shape
    (B,).  With ``per_image=False`` there is one unit: ``"mean"`` and
    ``"sum"`` give the loss, ``"none"`` an array of shape (1,), and
    sample_weight is a ValueError (pixels carry no weight in this loss).

    Algorithm: per (image, class) task an O(P) LSD radix sort of the float
    error bits (exact keys: 32-bit for float32, 64-bit for float64), the
    Lovász gradient from running counts, and the gradient scattered through
    the permutation; tasks run in parallel, each writing its own elements.
    Sorting ties may be ordered differently from ``torch.sort`` (the value
    does not depend on it; the gradient at exact ties may).  Computed in
    float64 from float32 errors for float32 input (the sort keys are the
    float32 errors, as the reference sorts them); where the reference raises
    (C = 1 with ``classes`` "present"/"all") this computes the one class.
    At most 2**31 - 1 elements in ``y_pred`` (a ValueError naming y_pred,
    raised before anything is copied).

    Non-finite input: NaN in a value the loss uses (a probability of a
    chosen class at a valid pixel, or any logit of a valid pixel) makes the
    loss NaN; values at ignored pixels and of classes left out are not used.
    With ``from_logits=True`` a logit of -inf is a probability of exactly 0
    (a masked class): loss and gradient stay finite, also when the masked
    class is the pixel's label (its error is then 1).  A valid pixel whose
    logits are all -inf has no distribution; it is treated as its true
    class masked: the loss of every set (image with ``per_image``) holding
    it is +inf and that set's gradient 0, never NaN.  Ignored pixels may
    hold any logits.
    """

    function_name = "lovasz_softmax"

    def __init__(self, classes="present", per_image=False, ignore_index=None,
                 from_logits=False, *, reduction="mean"):
        super().__init__(reduction=reduction)
        if isinstance(classes, str):
            if classes not in ("present", "all"):
                raise ValueError(f"classes must be 'present', 'all' or a list of class "
                                 f"indices, got {classes!r}")
        else:
            try:
                arr = np.asarray(classes)
            except (TypeError, ValueError):
                arr = np.asarray([None])
            if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
                raise ValueError(f"classes must be 'present', 'all' or a list of class "
                                 f"indices, got {classes!r}")
            classes = [int(c) for c in arr]
        self.classes = classes
        self.per_image = _validate.boolean(per_image, "per_image")
        self.ignore_index = _validate.optional_integer(ignore_index, "ignore_index")
        self.from_logits = _validate.boolean(from_logits, "from_logits")

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        yp = _validate.float_array(y_pred, "y_pred", _LOVASZ_MAX_ELEMENTS)
        if yp.ndim == 4:
            B, C, H, W = yp.shape
            HW = H * W
            labels = _validate.labels(y_true, (B, H, W)).reshape(-1)
        elif yp.ndim == 2:
            if self.per_image:
                raise ValueError("per_image=True needs y_pred of shape (B, C, H, W); "
                                 f"got {yp.shape}")
            # (P, C): P one-pixel "images" of the (B, C, HW) layout.
            B, C = yp.shape
            HW = 1
            labels = _validate.labels(y_true, (B,)).reshape(-1)
        else:
            raise ValueError(f"y_pred must have shape (B, C, H, W) or (P, C), got {yp.shape}")
        ignore = self.ignore_index
        if isinstance(self.classes, list):
            for c in self.classes:
                if not 0 <= c < C:
                    raise ValueError(f"classes holds {c}, outside [0, {C})")
        per_image = self.per_image
        counts, bad = _lovasz_counts(labels, B, HW, C, per_image, ignore)
        if bad:
            raise ValueError(f"y_true holds {bad} label(s) outside [0, {C})"
                             + ("" if ignore is None else f" that are not ignore_index={ignore}"))
        w, iscale, total = _image_units(sample_weight, per_image, B, self.reduction)
        # multiplicity of every (image, class) in the class mean
        if self.classes == "present":
            mult = (counts > 0).astype(np.float64)
        elif self.classes == "all":
            mult = np.ones(counts.shape)
        else:
            mult = np.tile(np.bincount(np.asarray(self.classes, dtype=np.int64),
                                       minlength=C).astype(np.float64), (counts.shape[0], 1))
        has_pixels = counts.sum(axis=1) > 0
        mult[~has_pixels] = 0.0
        denom = mult.sum(axis=1)
        ti, tc = np.nonzero(mult)
        tw = mult[ti, tc] / denom[ti]
        losses, grad = _run_lovasz(
            yp, labels, B, C, HW, per_image=per_image, ti=ti, tc=tc, gscale=tw * iscale[ti],
            hinge=False, from_logits=self.from_logits, ignore=ignore, want_grad=want_grad,
            out=out)
        value = None
        if want_loss:
            image_loss = np.bincount(ti, weights=tw * losses, minlength=counts.shape[0])
            value = reduce_units(self.reduction, w * image_loss, total, yp.dtype)
        return value, grad, None


class LovaszHinge(Loss):
    """Lovász hinge loss for binary segmentation (Berman et al., CVPR 2018).

    ``y_pred``: logits of shape ``(B, H, W)`` (or any ``(B, ...)``, images
    along axis 0) or ``(P,)``; ``y_true``: labels of the same shape in
    {0, 1} or equal to ``ignore_index``.  Signs ``t = 2y - 1``, errors
    ``1 - ŷ t`` sorted in descending order, ``relu`` of them dotted with the
    Lovász gradient.  Exactly ``lovasz_hinge`` of bermanmaxim/LovaszSoftmax:
    ``per_image=True`` (default) averages the per-image losses over axis 0
    (so a 1-D input is P one-pixel images, as the reference's ``zip``);
    an image with no valid pixel counts 0.  Gradient as the reference's
    autograd (sort permutation constant, ``relu'(0) = 0``).

    reduction and sample_weight: as :class:`LovaszSoftmax` (units = images
    with ``per_image=True``; one unit otherwise).  At most 2**31 - 1
    elements.  NaN in a logit of a valid pixel makes the loss NaN; a logit
    of ±inf whose error is +inf (-inf on a foreground pixel, +inf on a
    background one) makes the loss +inf, never NaN, with a finite gradient.
    """

    function_name = "lovasz_hinge"

    def __init__(self, per_image=True, ignore_index=None, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.per_image = _validate.boolean(per_image, "per_image")
        self.ignore_index = _validate.optional_integer(ignore_index, "ignore_index")

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        yp = _validate.float_array(y_pred, "y_pred", _LOVASZ_MAX_ELEMENTS)
        labels = _validate.labels(y_true, yp.shape).reshape(-1)
        B = yp.shape[0]
        HW = yp.size // B
        ignore = self.ignore_index
        per_image = self.per_image
        counts, bad = _lovasz_counts(labels, B, HW, 2, per_image, ignore)
        if bad:
            raise ValueError(f"y_true holds {bad} label(s) not in {{0, 1}}"
                             + ("" if ignore is None else f" and not ignore_index={ignore}"))
        w, iscale, total = _image_units(sample_weight, per_image, B, self.reduction)
        ti = np.flatnonzero(counts.sum(axis=1) > 0)
        losses, grad = _run_lovasz(
            yp, labels, B, 1, HW, per_image=per_image, ti=ti, tc=np.zeros(ti.size, dtype=np.int64),
            gscale=iscale[ti], hinge=True, from_logits=False, ignore=ignore,
            want_grad=want_grad, out=out)
        value = None
        if want_loss:
            image_loss = np.bincount(ti, weights=losses, minlength=counts.shape[0])
            value = reduce_units(self.reduction, w * image_loss, total, yp.dtype)
        return value, grad, None


# ------------------------------------------------- Jaccard / F1 / Tversky
_KINDS = _sets.overlap_kinds()


def _positions(shape, k):
    """(outer, C, inner) of y_pred with the classes on axis k."""
    outer = int(np.prod(shape[:k], dtype=np.int64))
    inner = int(np.prod(shape[k + 1:], dtype=np.int64))
    return outer, shape[k], inner


class _OverlapLoss(Loss):
    """Jaccard, F1 and Tversky: one formula each over a class's three sums
    (``_sets.overlap_scores``), the sums and the gradient pass shared.

    Three input paths reach the same sums: dense y_true with probabilities
    (``_sets.overlap_sums`` / ``overlap_grad``, the flat contiguous walk);
    a label map or ``from_logits`` (``_sets.overlap_pos_sums`` /
    ``overlap_pos_grad``, which walk positions and their classes along the
    class axis, softmax and implied one-hot included).
    """

    _kind = "f1"
    _gamma = 1.0

    def __init__(self, smooth=1e-10, class_axis=None, from_logits=False, ignore_index=None,
                 *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.smooth = _validate.non_negative(smooth, "smooth")
        self.class_axis = _validate.optional_integer(class_axis, "class_axis")
        self.from_logits = _validate.boolean(from_logits, "from_logits")
        self.ignore_index = _validate.optional_integer(ignore_index, "ignore_index")

    def _alpha_beta(self):
        return 0.0, 0.0

    def _class_axis(self, yp):
        k = self.class_axis
        if k is None:
            # checked here, not in the constructor: fastloss.objective builds
            # every loss that has from_logits with from_logits=True and must
            # then be able to say that a set-level loss does not fit it
            if self.from_logits:
                raise ValueError("from_logits=True needs class_axis (the softmax runs along "
                                 "the class axis)")
            if self.ignore_index is not None:
                raise ValueError("ignore_index needs class_axis (it marks positions of a "
                                 "label map)")
            return None
        if not -yp.ndim <= k < yp.ndim:
            raise ValueError(f"class_axis={k} is out of range for y_pred with "
                             f"{yp.ndim} dimension(s)")
        return k % yp.ndim

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        yp = _validate.float_array(y_pred, "y_pred")
        k = self._class_axis(yp)
        n = yp.shape[0]
        nthreads = get_num_threads()
        label_map = k is not None and np.ndim(y_true) == yp.ndim - 1
        labels = yt = None
        if label_map:
            labels = _validate.labels(y_true, yp.shape[:k] + yp.shape[k + 1:])
        elif np.shape(y_true) != yp.shape:
            _validate._as_numeric(y_true, "y_true")
            hint = ("" if k is None else
                    f" or, as a label map, {yp.shape[:k] + yp.shape[k + 1:]}")
            raise ValueError(f"y_true has shape {np.shape(y_true)}; it must have y_pred's "
                             f"shape {yp.shape}{hint} (no broadcasting)")
        else:
            if self.ignore_index is not None:
                raise ValueError("ignore_index applies to a label map (integer y_true of "
                                 "y_pred's shape without class_axis); y_true has y_pred's "
                                 "shape")
            yt, yp = _validate.float_pair(y_true, yp)
        w = _validate.sample_weight(sample_weight, n)
        grad = None
        if want_grad:
            grad = gradient_array(out, yp.shape, yp.dtype, (yp, yt, labels, w))
        squares = self._kind == "jaccard"
        if labels is None and not self.from_logits:
            # dense targets and probabilities: the contiguous walk
            if k is None:
                C, inner = 1, 1
            else:
                _, C, inner = _positions(yp.shape, k)
            row_len = yp.size // n
            args = (yt.reshape(-1), yp.reshape(-1), w, C, inner, row_len)
            sums = _sets.overlap_sums(*args, squares, nthreads)
            class_w = None
        else:
            outer, C, inner = _positions(yp.shape, k)
            # sample_weight weighs axis 0: the rows of positions for k >= 1,
            # the classes for k = 0 (applied to each class's sums, as the
            # dense walk does)
            pos_w, class_w = (None, w) if k == 0 else (w, None)
            ignore = self.ignore_index
            args = (yp.reshape(-1), None if labels is None else labels.reshape(-1),
                    None if yt is None else yt.reshape(-1), pos_w,
                    outer, C, inner, max(outer // n, 1) if k else 1, self.from_logits)
            sums, bad = _sets.overlap_pos_sums(*args, squares, ignore is not None,
                                               0 if ignore is None else ignore, nthreads)
            if bad:
                raise ValueError(f"y_true holds {bad} label(s) outside [0, {C})"
                                 + ("" if ignore is None else
                                    f" that are not ignore_index={ignore}"))
            if class_w is not None:
                sums = np.ascontiguousarray(sums * class_w)
            args = args + (ignore is not None, 0 if ignore is None else ignore)
        alpha, beta = self._alpha_beta()
        losses, coef = _sets.overlap_scores(_KINDS[self._kind], sums, self.smooth, alpha, beta)
        value, scale = self._finish(losses, yp.dtype)
        if want_grad:
            coef = coef * scale
            if class_w is not None:
                coef = coef * class_w
            coef = np.ascontiguousarray(coef)
            if labels is None and not self.from_logits:
                _sets.overlap_grad(*args, coef, grad.reshape(-1), nthreads)
            else:
                _sets.overlap_pos_grad(*args, coef, grad.reshape(-1), nthreads)
        return (value if want_loss else None), grad, None

    def _finish(self, losses, dtype):
        """(the reduced value, the per-class factor of the class gradients).

        The units are the classes, each of weight 1 (sample_weight weighs
        elements inside every class's sums); ``gamma`` is applied to the
        reduced value (``"none"``: to each class's own loss)."""
        C = losses.shape[0]
        _, class_scale, n_classes = unit_weights(self.reduction, C)
        gamma = self._gamma
        if gamma == 1.0:
            return reduce_units(self.reduction, losses, n_classes, dtype), class_scale
        with np.errstate(all="ignore"):
            if self.reduction == "none":
                return (np.power(losses, gamma).astype(dtype),
                        class_scale * _power_slope(losses, gamma))
            base = np.float64(reduce_units(self.reduction, losses, n_classes, dtype))
            return float(np.power(base, gamma)), class_scale * _power_slope(base, gamma)


def _power_slope(x, gamma):
    """d x^γ / dx = γ x^(γ-1); for γ < 1 it is infinite at x = 0, a minimum
    of a loss that is >= 0, and is taken as 0 there (γ = 0: a constant)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        slope = gamma * np.power(x, gamma - 1.0)
    if gamma < 1.0:
        slope = np.where(x == 0.0, 0.0, slope)
    return slope


class JaccardLoss(_OverlapLoss):
    """Soft Jaccard loss ``1 - (Σ y ŷ + s) / (Σ y² + Σ ŷ² - Σ y ŷ + s)``.

    Sums run over all elements (the seed's formula), ``s = smooth`` (≥ 0;
    it makes empty masks give 0).  ``class_axis=k`` (negative allowed): one
    score per index along axis k, each over its own elements.

    reduction (units = classes): ``"mean"`` averages the class losses,
    ``"sum"`` adds them, ``"none"`` returns them, shape (C,) (shape (1,)
    without class_axis); the gradient of ``"none"`` is that of the sum.
    ``sample_weight`` (length ``y_pred.shape[0]``) multiplies every element
    of sample i inside each sum (a weighted soft Jaccard); it does not
    weigh classes.  Gradient: ``-(y D - N (2ŷ - y)) / D²`` per element,
    N and D the numerator and denominator of its class.

    Label maps, ``from_logits`` and ``ignore_index`` (need ``class_axis``):
    exactly as :class:`F1Loss`; equal to the dense one-hot call (there
    ``Σ y² = Σ y``).  The union keeps the seed's ``Σ ŷ²``, so this is not
    smp's ``JaccardLoss`` (whose union is ``Σ ŷ + Σ y - Σ y ŷ``)::

        fl.JaccardLoss(class_axis=1, from_logits=True)(labels, logits)
        # labels (N, H, W) int, logits (N, C, H, W); one-hot never built
    """

    function_name = "jaccard_loss"
    _kind = "jaccard"


class F1Loss(_OverlapLoss):
    """Soft F1 / Dice loss ``1 - (2 Σ y ŷ + s) / (Σ y + Σ ŷ + s)``.

    Alias ``DiceLoss`` / ``dice_loss``.  Sums over all elements,
    ``s = smooth`` (≥ 0, empty masks give 0); ``class_axis``, reduction and
    sample_weight exactly as :class:`JaccardLoss`.  With 0/1 predictions
    ``1 - loss`` equals scikit-learn's binary ``f1_score`` (smooth → 0).
    Gradient ``-(2 y D - N) / D²`` per element.

    Options that need ``class_axis`` (shared by Jaccard and Tversky):

    - **label maps**: y_true may be an integer array of y_pred's shape
      without ``class_axis`` (class indices in ``[0, C)``); the one-hot it
      stands for is implied, never built, and the result equals the dense
      one-hot call.  A label outside ``[0, C)`` that is not
      ``ignore_index`` is a ValueError naming y_true::

          fl.DiceLoss(class_axis=1)(labels, probs)   # labels (N, H, W), probs (N, C, H, W)
          # = fl.DiceLoss(class_axis=1)(one_hot(labels) moved to axis 1, probs)

    - **from_logits=True**: y_pred are logits, softmaxed along
      ``class_axis`` (with a label map or dense targets); the gradient is
      with respect to the logits.  A logit of -inf is a probability of 0; a
      position whose logits are all -inf has every probability 0 (no NaN);
      a +inf logit gives NaN, as torch's softmax.  As smp's
      ``DiceLoss(mode="multiclass", from_logits=True, smooth=0)`` when every
      class is present (smp zeroes the loss of an absent class)::

          loss = fl.DiceLoss(class_axis=1, from_logits=True)
          value, dlogits = loss.loss_gradient(labels, logits)

    - **ignore_index** (label maps only): positions holding it are left out
      of every sum, whatever y_pred holds there, and get a zero gradient
      (torch's / smp's ``ignore_index``)::

          fl.dice_loss(labels, logits, class_axis=1, from_logits=True, ignore_index=255)

    sample_weight with a class axis weighs axis 0 as for dense input: the
    samples when ``class_axis`` ≠ 0 (every position of sample i), the
    classes when ``class_axis=0``.
    """

    function_name = "f1_loss"
    aliases = ("DiceLoss", "dice_loss")
    _kind = "f1"


class TverskyLoss(_OverlapLoss):
    """Tversky loss (with a focal exponent): ``(1 - TI)^γ``,
    ``TI = (Σ y ŷ + s) / (Σ y ŷ + α Σ (1-y) ŷ + β Σ y (1-ŷ) + s)``.

    α weighs false positives, β false negatives (each in [0, 1]),
    ``γ = gamma ≥ 0``, ``s = smooth ≥ 0``.  Computed from F1's sums:
    ``Σ (1-y) ŷ = Σ ŷ - Σ y ŷ`` and ``Σ y (1-ŷ) = Σ y - Σ y ŷ``.
    α = β = 0.5, γ = 1 is :class:`F1Loss` up to the smoothing term
    (``TI = (Σyŷ + s) / ((Σy + Σŷ)/2 + s)``; equal for s = 0)::

        fl.TverskyLoss(alpha=0.3, beta=0.7)(y, p)            # recall-weighted Dice
        fl.tversky_loss(labels, logits, class_axis=1, from_logits=True, gamma=0.75)

    ``class_axis=k``: one index ``TI_c`` per class and the loss
    ``(mean_c (1 - TI_c))^γ`` -- segmentation_models_pytorch's
    ``TverskyLoss(mode="multiclass", alpha, beta, gamma, smooth=0)`` where
    every class is present (smp zeroes the term of a class absent from
    y_true, and clamps the denominator at eps=1e-7).  Label maps,
    ``from_logits`` and ``ignore_index``: as :class:`F1Loss`.

    reduction (units = classes) and γ, where SPEC gives only ``"mean"``:
    γ applies to the reduced value: ``"mean"`` ``(Σ_c (1-TI_c) / C)^γ``,
    ``"sum"`` ``(Σ_c (1-TI_c))^γ``; ``"none"`` gives each class's own loss
    ``(1 - TI_c)^γ`` (what the loss is on that class alone), shape (C,),
    with the gradient of their sum.  For γ < 1 the slope of ``x^γ`` at
    x = 0 is infinite; the gradient there is 0 (a minimum).  With
    predictions or targets outside [0, 1], 1 - TI may be negative and a
    non-integer γ gives NaN.  sample_weight as :class:`F1Loss`.
    """

    function_name = "tversky_loss"
    _kind = "tversky"

    def __init__(self, alpha=0.5, beta=0.5, gamma=1.0, smooth=1e-10, class_axis=None,
                 from_logits=False, ignore_index=None, *, reduction="mean"):
        self.alpha = _validate.unit_interval(alpha, "alpha")
        self.beta = _validate.unit_interval(beta, "beta")
        self.gamma = _validate.non_negative(gamma, "gamma")
        super().__init__(smooth=smooth, class_axis=class_axis, from_logits=from_logits,
                         ignore_index=ignore_index, reduction=reduction)

    @property
    def _gamma(self):
        return self.gamma

    def _alpha_beta(self):
        return self.alpha, self.beta


DiceLoss = F1Loss

lovasz_softmax = loss_function(LovaszSoftmax)
lovasz_hinge = loss_function(LovaszHinge)
jaccard_loss = loss_function(JaccardLoss)
f1_loss = loss_function(F1Loss)
dice_loss = loss_function(F1Loss, name="dice_loss")
tversky_loss = loss_function(TverskyLoss)
