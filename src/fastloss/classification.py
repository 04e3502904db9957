"""Classification losses: cross-entropies (binary, categorical, sparse),
focal losses, the hinge family and balanced cross-entropy.

Binary losses (BCE, binary focal, balanced CE, hinge, squared hinge) are
elementwise (``_kernels/pointwise.pyx``): y_pred of shape (n,) is n samples;
(n, k) is n samples whose loss is the mean of their k outputs (Keras).
Categorical losses (CCE, sparse CCE, categorical focal, multiclass hinge)
are row-wise (``_kernels/rows.pyx``): the C class scores of a sample are
coupled and its loss is the **sum** over classes.  Dense ones take (n, C) or
a 1-D (C,) pair, which is one sample (``reduction="none"`` then gives shape
(1,)); sparse ones take y_pred (n, C) and integer labels (n,).  CCE, sparse
CCE and categorical focal also take ``class_axis``: y_pred of any rank >= 2
with the classes on that axis (torch's (N, C, H, W) with ``class_axis=1``,
Keras' (batch, ..., C) with the default -1), every other position a sample;
the kernel reads the class axis with its stride, never a transposed copy.

Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps = 1e-7`` (Keras);
where the clip is active the gradient (and hessian) is 0, the derivative of
the clipped function.  With ``from_logits=True`` nothing is clipped: the
log-sigmoid / log-softmax forms used are exact and finite for any finite
logit (±1e4 in float32, ±1e30 in float64).

Infinite logits (SPEC §1): a logit of -inf is a probability of exactly 0, a
masked class (for the binary losses +inf masks the negative class).  Loss
and gradient stay finite while the target gives the masked class no weight
(a ``class_weight`` of 0 included; label smoothing gives every class
weight); otherwise the sample's loss is +inf, and so are ``"sum"`` and
``"mean"``, while the gradient stays finite.  A row of only -inf logits has
every class masked.  A sample of weight 0 adds 0 even then.  NaN in the
data propagates to the loss and the gradient.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _rowwise, _validate
from ._base import EPS, ElementwiseLoss, Loss, loss_function, run_pointwise
from ._kernels import pointwise as _pointwise
from ._rowwise import dense_rows, row_record, run_rows, sample_weights, sparse_rows

__all__ = [
    "BinaryCrossentropy", "binary_crossentropy",
    "BinaryFocalCrossentropy", "binary_focal_crossentropy",
    "BalancedCrossentropy", "balanced_crossentropy",
    "Hinge", "hinge",
    "SquaredHinge", "squared_hinge",
    "CategoricalCrossentropy", "categorical_crossentropy",
    "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
    "CategoricalFocalCrossentropy", "categorical_focal_crossentropy",
    "MulticlassHinge", "multiclass_hinge",
]

_POINTWISE_KIND = {name: i for i, name in enumerate(_pointwise.KINDS)}


# ----------------------------------------------------------------- binary
class BinaryCrossentropy(ElementwiseLoss):
    """Binary cross-entropy, ``l = -(q y log p + (1 - y) log(1 - p))``.

    Parameters
    ----------
    from_logits : bool
        False: y_pred are probabilities, clipped to ``[1e-7, 1 - 1e-7]``
        (gradient 0 where clipped).  True: y_pred are logits ``x`` and
        ``l = q y softplus(-x) + (1 - y) softplus(x)``, exact for any x.
    label_smoothing : float in [0, 1]
        Targets become ``y (1 - s) + s / 2`` (Keras).
    pos_weight : float >= 0, 1-D array of k floats >= 0, or None
        ``q``, the weight of the positive term (torch's ``pos_weight``);
        None means 1.  An array gives column j of ``(n, k)`` multilabel
        input the weight ``pos_weight[j]``, as torch's
        ``BCEWithLogitsLoss(pos_weight=tensor)`` (its length is checked
        against ``y_pred`` at call time; 1-D ``y_pred`` is one column)::

            fl.BinaryCrossentropy(from_logits=True, pos_weight=[1.0, 3.0, 0.5])(y, x)  # x: (n, 3)

    Gradient (logits) ``(q y + 1 - y) σ(x) - q y``, hessian
    ``(q y + 1 - y) σ(x)(1 - σ(x))``.  Agrees with ``keras.losses.BinaryCrossentropy``
    and ``torch.nn.functional.binary_cross_entropy(_with_logits)`` (torch clamps
    log at -100 instead of clipping p; the values agree away from 0 and 1).
    """

    function_name = "binary_crossentropy"
    aliases = ("bce",)
    link = "sigmoid"
    init_kind = property(lambda self: "log_odds" if self.from_logits else "probability")

    def __init__(self, from_logits=False, label_smoothing=0.0, pos_weight=None, *,
                 reduction="mean"):
        super().__init__(reduction=reduction)
        self.from_logits = _validate.boolean(from_logits, "from_logits")
        self.label_smoothing = _validate.unit_interval(label_smoothing, "label_smoothing")
        self.pos_weight = (None if pos_weight is None
                           else _validate.non_negative_column(pos_weight, "pos_weight"))

    def _kind(self):
        return "wbce_logit" if self.from_logits else "wbce"

    def _check_columns(self, y_pred):
        """An array pos_weight has one entry per column of y_pred."""
        if isinstance(self.pos_weight, np.ndarray):
            shape = np.shape(y_pred)
            k = 1 if len(shape) == 1 else (shape[1] if len(shape) == 2 else None)
            if k != self.pos_weight.shape[0]:
                raise ValueError(
                    f"pos_weight has {self.pos_weight.shape[0]} entries: it needs one per "
                    f"column of (n, k) y_pred (or 1 for 1-D y_pred), got y_pred of shape "
                    f"{shape}")

    def _compute(self, y_true, y_pred, sample_weight, **kw):
        self._check_columns(y_pred)
        return super()._compute(y_true, y_pred, sample_weight, **kw)

    # Beside _check_columns, which only an array pos_weight needs (and then
    # the loss has no fast path), _compute is ElementwiseLoss's.
    _fast_elementwise = True

    def _fast_record(self):
        if isinstance(self.pos_weight, np.ndarray):
            return None
        return super()._fast_record()

    def _kernel_params(self):
        return {"pos": 1.0 if self.pos_weight is None else self.pos_weight, "neg": 1.0,
                "smooth": self.label_smoothing, "eps": EPS}


class BalancedCrossentropy(ElementwiseLoss):
    """Balanced cross-entropy, ``l = -β y log p - (1 - β)(1 - y) log(1 - p)``.

    ``beta`` in [0, 1] weighs the positive term (β = 0.5 gives half of BCE).
    ``from_logits`` as in :class:`BinaryCrossentropy` (probabilities clipped
    to ``[1e-7, 1 - 1e-7]``, logits exact).  Has ``gradient_hessian``.
    """

    function_name = "balanced_crossentropy"
    link = "sigmoid"
    init_kind = property(lambda self: "log_odds" if self.from_logits else "probability")

    def __init__(self, beta=0.5, from_logits=False, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.beta = _validate.unit_interval(beta, "beta")
        self.from_logits = _validate.boolean(from_logits, "from_logits")

    def _kind(self):
        return "wbce_logit" if self.from_logits else "wbce"

    def _kernel_params(self):
        return {"pos": self.beta, "neg": 1.0 - self.beta, "smooth": 0.0, "eps": EPS}


class BinaryFocalCrossentropy(ElementwiseLoss):
    """Binary focal loss,
    ``l = -α y (1-p)^γ log p - (1-α)(1-y) p^γ log(1-p)``.

    Parameters
    ----------
    gamma : float >= 0
        Focusing exponent (0 gives α-weighted BCE).
    alpha : float in [0, 1] or None
        Class balance; None drops the α and 1-α factors (both 1).
    from_logits : bool
        False: probabilities clipped to ``[1e-7, 1 - 1e-7]`` everywhere in the
        formula (gradient 0 where clipped).  True: ``p = σ(x)`` with
        ``log p = -softplus(-x)`` and ``1 - p = σ(-x)``, exact for any x.

    Gradient and hessian are analytic (see ``pointwise.pyx``).  With 0/1
    labels this is torchvision's ``sigmoid_focal_loss`` (from_logits=True,
    mean = its "mean" for 1-D input) and ``keras.losses.BinaryFocalCrossentropy(
    apply_class_balancing=True)``; for soft labels the formula above is used
    as written (Keras mixes the label into ``p_t`` instead).
    """

    function_name = "binary_focal_crossentropy"
    link = "sigmoid"

    def __init__(self, gamma=2.0, alpha=0.25, from_logits=False, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.gamma = _validate.non_negative(gamma, "gamma")
        self.alpha = _validate.optional_unit_interval(alpha, "alpha")
        self.from_logits = _validate.boolean(from_logits, "from_logits")

    def _kind(self):
        return "focal_logit" if self.from_logits else "focal"

    def _kernel_params(self):
        a = self.alpha
        return {"pos": 1.0 if a is None else a, "neg": 1.0 if a is None else 1.0 - a,
                "gamma": self.gamma, "eps": EPS}


def _hinge_labels(yt):
    """True when the labels are {0, 1} (to map to ±1); False for {-1, 1}."""
    kind = _pointwise.hinge_label_kind(yt.reshape(-1))     # one pass, in the kernel
    if kind >= 0:
        return kind == 1
    raise ValueError("y_true for a hinge loss must hold labels all in {-1, 1} "
                     "or all in {0, 1}")


class _HingeBase(ElementwiseLoss):
    def __init__(self, *, reduction="mean"):
        super().__init__(reduction=reduction)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        # The label convention is a property of this call's data, so it goes
        # to the kernel as a parameter (the instance keeps no call state).
        yt, yp = _validate.float_pair(y_true, y_pred)
        params = {"hinge01": _hinge_labels(yt)}
        return run_pointwise(_POINTWISE_KIND[self._kind()], params, yt, yp,
                             sample_weight, self.reduction, want_loss=want_loss,
                             want_grad=want_grad, want_hess=want_hess, out=out)


class Hinge(_HingeBase):
    """Hinge loss, ``l = max(0, 1 - t ŷ)``.

    Labels ``t`` are all in {-1, 1}, or all in {0, 1} (then mapped to
    ``2y - 1``, as Keras does); any other label is a ValueError.  Gradient
    ``-t`` where ``1 - t ŷ > 0`` and 0 elsewhere (0 at the kink); hessian 0.
    Agrees with ``keras.losses.Hinge``.
    """

    function_name = "hinge"

    def _kind(self):
        return "hinge"


class SquaredHinge(_HingeBase):
    """Squared hinge loss, ``l = max(0, 1 - t ŷ)²`` (labels as :class:`Hinge`).

    Gradient ``-2 t max(0, 1 - t ŷ)``, hessian ``2 t²`` where the margin is
    violated, else 0.  Agrees with ``keras.losses.SquaredHinge``.
    """

    function_name = "squared_hinge"

    def _kind(self):
        return "squared_hinge"


# --------------------------------------------------------------- row-wise
def _focal_alpha(value):
    """alpha of the categorical focal loss: None, a float in [0, 1], or a
    private read-only float64 copy of a 1-D array of them (one per class;
    its length is checked against C per call)."""
    if value is None or isinstance(value, numbers.Real):
        return _validate.optional_unit_interval(value, "alpha")
    a = np.asarray(value)
    if a.dtype.kind not in "biuf" or isinstance(value, (str, bytes)):
        raise TypeError(f"alpha must be None, a float or a 1-D array of floats, got "
                        f"{type(value).__name__}")
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"alpha must be a float or a 1-D array of length C, got shape {a.shape}")
    a = np.array(a, dtype=np.float64)               # a private copy
    if not np.all((a >= 0.0) & (a <= 1.0)):         # NaN fails too
        raise ValueError("alpha must hold numbers in [0, 1]")
    a.flags.writeable = False
    return a


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy with one target distribution per sample,
    ``l = -Σ_c a_c ỹ_c log p_c``, ``ỹ = y (1 - s) + s / C``; **sum** over classes.

    Parameters
    ----------
    from_logits : bool
        False: each sample's probabilities are renormalised to sum 1, then
        clipped to ``[1e-7, 1 - 1e-7]`` (Keras); the gradient flows through
        the renormalisation and is 0 for clipped entries.  True: ``log p``
        is the log-softmax ``x - max - log Σ exp(x - max)``, exact for any
        finite logits; gradient ``T p - a ỹ`` with ``T = Σ_c a_c ỹ_c``,
        hessian diagonal ``T p (1 - p)`` (``gradient_hessian``, logits only).
    label_smoothing : float in [0, 1]
    class_weight : array of length C or None
        ``a_c``, multiplies each class term; ``"mean"`` still divides by
        Σ sample_weight (as torch's ``cross_entropy`` with probability targets).
    class_axis : int
        The axis of y_pred holding the classes (negative counts from the
        end).  y_pred and y_true have one shape, of any rank >= 2 (e.g.
        ``(N, C, H, W)`` with ``class_axis=1``, as torch); every other
        position is a sample, and ``sample_weight`` and the ``"none"``
        result have the samples' shape (y_pred's without the class axis).
        The class axis is read with its stride (no transposed copy).  A 1-D
        pair is one sample (``"none"`` gives shape (1,)).  Out of range: a
        ValueError naming class_axis.

    A term with ``ỹ_c = 0`` contributes 0 even for a logit of -inf.
    Agrees with ``keras.losses.CategoricalCrossentropy`` and
    ``torch.nn.functional.cross_entropy`` with probability targets.
    """

    function_name = "categorical_crossentropy"
    aliases = ("cce",)
    target_kind = "rows"
    has_hessian = True
    hessian_needs_logits = True
    link = "softmax"
    init_kind = property(lambda self: "log_prior" if self.from_logits else "prior")

    def __init__(self, from_logits=False, label_smoothing=0.0, class_weight=None,
                 class_axis=-1, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.from_logits = _validate.boolean(from_logits, "from_logits")
        self.label_smoothing = _validate.unit_interval(label_smoothing, "label_smoothing")
        self.class_weight = _validate.class_weight(class_weight)
        self.class_axis = _rowwise.class_axis(class_axis)

    def _fast_record(self):
        # (n, C) input: classes last whether class_axis is -1 or 1
        if self.class_axis not in (-1, 1):
            return None
        return row_record("cce_logit" if self.from_logits else "cce_prob",
                          {"smooth": self.label_smoothing, "eps": EPS,
                           "class_weight": self.class_weight}, self.reduction)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        yt, yp, lay = dense_rows(y_true, y_pred, self.class_axis)
        _validate.class_weight_width(self.class_weight, lay.C)
        w = sample_weights(sample_weight, lay)
        return run_rows("cce_logit" if self.from_logits else "cce_prob",
                        {"smooth": self.label_smoothing, "eps": EPS,
                         "class_weight": self.class_weight}, yt, None, yp, w,
                        self.reduction, lay, want_loss=want_loss,
                        want_grad=want_grad, want_hess=want_hess, out=out)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer class labels, ``l = -log p_{y_i}``.

    y_true: integer labels of the samples' shape; y_pred: probabilities or
    logits with one more axis, the classes (``(n, C)`` and ``(n,)`` by
    default).

    Parameters
    ----------
    from_logits : bool
        False: each sample's probabilities renormalised to sum 1 and clipped
        to ``[1e-7, 1 - 1e-7]`` (Keras).  True: ``l = logsumexp(x) - x_y`` in
        one pass per sample (max, vectorised exp, log-sum-exp, loss and
        gradient ``softmax - onehot`` written straight into the gradient);
        hessian diagonal ``p (1 - p)`` (``gradient_hessian``, logits only).
    class_weight : array of length C or None
        ``a_c``.  Without label smoothing the sample weight becomes
        ``w_i = sample_weight_i · a_{y_i}``.
    ignore_index : int or None
        Samples whose label equals it get weight 0.
    label_smoothing : float in [0, 1]
        torch's definition (with ``weight=class_weight``):
        ``l_i = (1-s) a_{y_i} (-log p_{y_i}) + (s/C) Σ_c a_c (-log p_c)``,
        ``"mean"`` dividing by ``Σ_i sample_weight_i a_{y_i}`` over the
        samples not ignored (``"none"`` gives ``sample_weight_i l_i``).  It
        is the categorical cross-entropy of the smoothed one-hot row; with
        probabilities (renormalised and clipped as above, where torch has
        no such form) the same formula is used.  Hessian: ``T p (1 - p)``,
        ``T = (1-s) a_{y_i} + (s/C) Σ_c a_c``.
    class_axis : int
        The axis of y_pred holding the classes; y_true has y_pred's shape
        without it (``(N, C, H, W)`` logits with ``(N, H, W)`` labels and
        ``class_axis=1`` is torch's ``cross_entropy`` layout), and so do
        ``sample_weight`` and the ``"none"`` result.  The class axis is read
        with its stride (no transposed copy).  Out of range: a ValueError
        naming class_axis.

    ``"mean"`` is ``Σ w_i l_i / Σ w_i`` over the effective weights, exactly
    torch's ``cross_entropy(weight=..., ignore_index=..., label_smoothing=...)``;
    every sample ignored (or weighted 0) gives 0.0 and a zero gradient.
    ``"none"`` returns ``w_i l_i`` (0 for ignored samples).  A label outside
    ``[0, C)`` that is not ``ignore_index`` is a ValueError naming y_true.
    """

    function_name = "sparse_categorical_crossentropy"
    aliases = ("scce",)
    target_kind = "labels"
    has_hessian = True
    hessian_needs_logits = True
    link = "softmax"
    init_kind = property(lambda self: "log_prior" if self.from_logits else "prior")

    def __init__(self, from_logits=False, class_weight=None, ignore_index=None,
                 label_smoothing=0.0, class_axis=-1, *, reduction="mean"):
        super().__init__(reduction=reduction)
        self.from_logits = _validate.boolean(from_logits, "from_logits")
        self.class_weight = _validate.class_weight(class_weight)
        self.ignore_index = _validate.optional_integer(ignore_index, "ignore_index")
        self.label_smoothing = _validate.unit_interval(label_smoothing, "label_smoothing")
        self.class_axis = _rowwise.class_axis(class_axis)

    def _fast_record(self):
        # the plain case: (n, C) input, labels that are the sample weights'
        # only factor (no class weight, nothing ignored, no smoothing)
        if (self.class_weight is not None or self.ignore_index is not None
                or self.label_smoothing != 0.0 or self.class_axis not in (-1, 1)):
            return None
        return row_record("sce_logit" if self.from_logits else "sce_prob",
                          {} if self.from_logits else {"eps": EPS}, self.reduction)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        labels, yp, ignored, lay = sparse_rows(y_true, y_pred, self.ignore_index,
                                               self.class_axis)
        cw = self.class_weight
        _validate.class_weight_width(cw, lay.C)
        w = sample_weights(sample_weight, lay)
        eff = None
        if cw is not None or ignored is not None:
            eff = np.ones(lay.n) if w is None else w.copy()
            if cw is not None:
                eff *= cw[np.where(labels < 0, 0, labels)]
            if ignored is not None:
                eff[ignored] = 0.0
        if self.label_smoothing == 0.0:
            # a_{y_i} is a factor of the whole sample: it goes into the weight
            return run_rows("sce_logit" if self.from_logits else "sce_prob",
                            {} if self.from_logits else {"eps": EPS},
                            None, labels, yp, w if eff is None else eff, self.reduction,
                            lay, want_loss=want_loss, want_grad=want_grad,
                            want_hess=want_hess, out=out)
        # every class term has its own a_c: the row applies them, the sample
        # weight stays sample_weight_i, and "mean" divides by Σ w_i a_{y_i}
        return run_rows("sce_smooth_logit" if self.from_logits else "sce_smooth_prob",
                        {"smooth": self.label_smoothing, "eps": EPS, "class_weight": cw},
                        None, labels, yp, w, self.reduction, lay, want_loss=want_loss,
                        want_grad=want_grad, want_hess=want_hess, out=out,
                        mean_weights=eff)


class CategoricalFocalCrossentropy(Loss):
    """Categorical focal loss, ``l = -Σ_c α_c y_c (1 - p_c)^γ log p_c``;
    **sum** over classes.

    Parameters
    ----------
    gamma : float >= 0
    alpha : float in [0, 1], a 1-D array of C of them (one α per class), or
        None (no α factor).  An array whose length is not y_pred's number of
        classes is a ValueError naming alpha.
    from_logits : bool
        False: each sample's probabilities renormalised and clipped to
        ``[1e-7, 1 - 1e-7]`` as ``keras.losses.CategoricalFocalCrossentropy``
        does; gradient through the renormalisation, 0 for clipped entries.
        True: ``p = softmax(x)`` with exact ``log p`` and
        ``1 - p_c = Σ_{j≠c} e_j / Σ e`` (no cancellation), nothing clipped
        (Keras clips the softmax as well; the values agree away from 0 and 1).
    class_axis : int
        As :class:`CategoricalCrossentropy`: y_pred and y_true of one shape,
        any rank >= 2, classes on this axis (read with its stride);
        ``sample_weight`` and ``"none"`` in the samples' shape.

    The gradient is analytic: with logits, ``dl/dx_j = p_j K - k_j`` where
    ``k_c = α_c y_c [(1-p_c)^γ - γ (1-p_c)^(γ-1) p_c log p_c]`` and ``K = Σ k_c``.
    No ``gradient_hessian`` (SPEC).  Agrees with
    ``keras.losses.CategoricalFocalCrossentropy`` (a scalar α; Keras has no
    per-class form, whose formula is the one above).
    """

    function_name = "categorical_focal_crossentropy"
    target_kind = "rows"
    link = "softmax"

    def __init__(self, gamma=2.0, alpha=0.25, from_logits=False, class_axis=-1, *,
                 reduction="mean"):
        super().__init__(reduction=reduction)
        self.gamma = _validate.non_negative(gamma, "gamma")
        self.alpha = _focal_alpha(alpha)
        self.from_logits = _validate.boolean(from_logits, "from_logits")
        self.class_axis = _rowwise.class_axis(class_axis)

    def _fast_record(self):
        if self.class_axis not in (-1, 1):
            return None
        return row_record("cfocal_logit" if self.from_logits else "cfocal_prob",
                          {"gamma": self.gamma,
                           "alpha": 1.0 if self.alpha is None else self.alpha, "eps": EPS},
                          self.reduction)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        yt, yp, lay = dense_rows(y_true, y_pred, self.class_axis)
        if isinstance(self.alpha, np.ndarray) and self.alpha.shape[0] != lay.C:
            raise ValueError(f"alpha has {self.alpha.shape[0]} entries, y_pred has "
                             f"{lay.C} classes")
        w = sample_weights(sample_weight, lay)
        params = {"gamma": self.gamma, "alpha": 1.0 if self.alpha is None else self.alpha,
                  "eps": EPS}
        return run_rows("cfocal_logit" if self.from_logits else "cfocal_prob", params,
                        yt, None, yp, w, self.reduction, lay, want_loss=want_loss,
                        want_grad=want_grad, want_hess=want_hess, out=out)


class MulticlassHinge(Loss):
    """Crammer–Singer multiclass hinge,
    ``l = max(0, 1 + max_{c≠y} ŷ_c - ŷ_y)``.

    y_true: integer labels (n,) in ``[0, C)``; y_pred: (n, C) decision
    values, C >= 2.  Gradient: where ``l > 0``, +1 on the best wrong class
    (the first one on ties) and -1 on the true class; 0 elsewhere (and at
    the kink).  No ``gradient_hessian`` (SPEC).  The mean with sample
    weights equals ``sklearn.metrics.hinge_loss(y, ŷ, labels=range(C),
    sample_weight=w)`` for multiclass input.
    """

    function_name = "multiclass_hinge"
    target_kind = "labels"

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction=reduction)

    def _fast_record(self):
        return row_record("multiclass_hinge", {}, self.reduction, min_C=2)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        labels, yp, _, lay = sparse_rows(y_true, y_pred)
        if lay.C < 2:
            raise ValueError(f"y_pred must have at least 2 classes (columns), got {lay.C}")
        w = _validate.sample_weight(sample_weight, lay.n)
        return run_rows("multiclass_hinge", {}, None, labels, yp, w, self.reduction,
                        lay, want_loss=want_loss, want_grad=want_grad,
                        want_hess=want_hess, out=out)


binary_crossentropy = loss_function(BinaryCrossentropy)
balanced_crossentropy = loss_function(BalancedCrossentropy)
binary_focal_crossentropy = loss_function(BinaryFocalCrossentropy)
hinge = loss_function(Hinge)
squared_hinge = loss_function(SquaredHinge)
categorical_crossentropy = loss_function(CategoricalCrossentropy)
sparse_categorical_crossentropy = loss_function(SparseCategoricalCrossentropy)
categorical_focal_crossentropy = loss_function(CategoricalFocalCrossentropy)
multiclass_hinge = loss_function(MulticlassHinge)
