"""The Loss base class: validate -> allocate -> one kernel call -> reduce.

A call without sample_weight, out= or call arguments first goes to the
instance's fast path (``Loss._fast``: a kernel module's ``Record``, filled
once from the parameters), which checks in C that the arrays are the common
case and runs the same kernel call with no Python in between; anything else
takes the checked path below, unchanged.

A concrete loss declares its parameters (checked in ``__init__``), its
metadata (class attributes, read by the registry and the adapters) and
implements ``_compute``; it holds no loops.  ``ElementwiseLoss`` is the
complete implementation for every loss whose per-element closed form lives in
``_kernels/pointwise.pyx``: such a loss only names its kernel and parameters.

The reduction lives here and nowhere else, for every family of units:
samples (``KernelOutputs``: the kernel adds ``w_i l_i`` and scales the
gradient), images, classes and pairs (``unit_weights`` / ``reduce_units``:
the kernel returns one loss per unit), with ``finish`` the one rule for a
reduced value and ``gradient_array`` the one rule for ``out=``.  The two
averages differ only in ``divisor``: ``"mean"`` divides by Σ w_u,
``"sum_over_batch_size"`` (Keras 3's default) by the number of units.
"""
from __future__ import annotations

import inspect
import types

import numpy as np

from . import _registry, _validate
from ._kernels import pointwise as _pointwise
from ._threads import get_num_threads

# SPEC: the probability clip where a loss takes probabilities.
EPS = 1e-7

class _GradientHessian:
    """``gradient_hessian`` exactly where it works.

    A loss has the method when its class says ``has_hessian`` and, for a
    class whose hessian is defined for logits only (``hessian_needs_logits``),
    when the instance has ``from_logits=True``; otherwise reading the
    attribute raises AttributeError, so ``hasattr(loss, "gradient_hessian")``
    is the test the adapters use.
    """

    def __get__(self, instance, owner=None):
        if instance is None:
            if not owner.has_hessian:
                raise AttributeError(f"{owner.__name__} has no gradient_hessian")
            return _gradient_hessian
        if not instance.has_hessian:
            raise AttributeError(f"{type(instance).__name__} has no gradient_hessian")
        if instance.hessian_needs_logits and not instance.from_logits:
            raise AttributeError(
                f"{type(instance).__name__} has gradient_hessian only with from_logits=True "
                "(the hessian is defined for logits)")
        return types.MethodType(_gradient_hessian, instance)


def _gradient_hessian(self, y_true, y_pred, sample_weight=None, **call_args):
    """(gradient, hessian diagonal), both scaled like the gradient."""
    if sample_weight is None and not call_args:
        r = self._fast(y_true, y_pred, 3)
        if r is not None:
            return r[1], r[2]
    _, grad, hess = self._run(y_true, y_pred, sample_weight, None, call_args,
                              want_loss=False, want_grad=True, want_hess=True)
    return grad, hess


_gradient_hessian.__name__ = _gradient_hessian.__qualname__ = "gradient_hessian"


def _no_fast(y_true, y_pred, mode):
    """The fast path of a loss that has none: every call is checked."""
    return None


class Loss:
    """Base of every fastloss loss.

    Subclasses set ``function_name`` (and optionally ``aliases``) to be
    registered for ``fastloss.get`` and given a function form, and describe
    themselves with class attributes (the registry, ``fastloss.objective``,
    the scikit-learn, torch and boosting adapters read these and nothing
    else):

    target_kind
        How y_true relates to y_pred, per sample: ``"elementwise"`` (same
        shape, every element its own term), ``"labels"`` (integer class
        indices (n,) for y_pred (n, C)), ``"rows"`` (same shape (n, k); a row
        is one sample whose k values are coupled), or None: a set-level loss
        whose value is not a sum over independent samples.
    has_hessian
        The loss has ``gradient_hessian`` (SPEC marks it H).
    hessian_needs_logits
        ... only with ``from_logits=True``.
    link
        With ``from_logits=True``, how scores become probabilities:
        ``"sigmoid"``, ``"softmax"`` or None (not a probabilistic loss).
    """

    function_name: str = ""
    aliases: tuple = ()
    target_kind: str | None = None
    has_hessian: bool = False
    hessian_needs_logits: bool = False
    link: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.has_hessian and "gradient_hessian" not in cls.__dict__:
            cls.gradient_hessian = _GradientHessian()
        # constructor parameter names, once per class (get_params, repr, clone)
        cls._param_names = tuple(
            name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
        if cls.__dict__.get("function_name"):
            _registry.register(cls, (cls.__name__, cls.function_name, *cls.aliases))

    def __init__(self, *, reduction="mean"):
        self.reduction = _validate.reduction(reduction)

    # -- the fast path --------------------------------------------------------
    # A call without sample_weight, out= or call arguments first offers its
    # arrays to the instance's fast path, ``self._fast(y_true, y_pred,
    # mode)`` (mode as ``_MODES``): a kernel entry that checks in C, in a
    # few compares, that they are the common case (exact ndarrays,
    # C-contiguous, aligned, native float64/float32, shapes that match) and
    # runs the kernel with the parameter record filled at the first call,
    # or returns None, and the call takes the checked path (_run) as
    # before.  It reads the same record and makes the same kernel call as
    # the checked path would, so both give the same bits (tests/test_fast_path.py).
    # The record is built from the instance's parameters on first use and
    # dropped whenever an attribute is set, so it never outlives them.

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name != "_fast":
            self.__dict__.pop("_fast", None)

    def __getstate__(self):
        # the record is a per-process C object: a copy or an unpickled loss
        # builds its own on first use
        state = self.__dict__.copy()
        state.pop("_fast", None)
        return state

    def _fast(self, y_true, y_pred, mode):
        """The first call: build this instance's fast path (or note that it
        has none), keep it in the instance and run it."""
        return self._fast_path()(y_true, y_pred, mode)

    def _fast_path(self):
        """This instance's fast path, built once (see ``_fast_record``)."""
        fast = self.__dict__.get("_fast")
        if fast is None:
            try:
                fast = self._fast_record()
            except (TypeError, ValueError):
                fast = None     # a parameter set after construction is bad: the checked path names it
            fast = fast or _no_fast
            self.__dict__["_fast"] = fast
        return fast

    def _fast_record(self):
        """For a subclass: a callable ``(y_true, y_pred, mode)`` returning
        (value, gradient, hessian) for the common case and None otherwise
        (a kernel module's ``Record``), or None when the loss has no fast
        path.  Called once per instance (again after a parameter changes)."""
        return None

    # -- public API -----------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None, **call_args):
        """The reduced loss (a float), or per-sample values for reduction="none"."""
        if sample_weight is None and not call_args:
            r = self._fast(y_true, y_pred, 0)
            if r is not None:
                return r[0]
        return self.loss(y_true, y_pred, sample_weight, **call_args)

    def loss(self, y_true, y_pred, sample_weight=None, **call_args):
        """Same as calling the loss."""
        if sample_weight is None and not call_args:
            r = self._fast(y_true, y_pred, 0)
            if r is not None:
                return r[0]
        value, _, _ = self._run(y_true, y_pred, sample_weight, None, call_args,
                                want_loss=True, want_grad=False, want_hess=False)
        return value

    def gradient(self, y_true, y_pred, sample_weight=None, out=None, **call_args):
        """d(reduced loss)/d y_pred, shape and dtype of y_pred (into `out` if given)."""
        if sample_weight is None and out is None and not call_args:
            r = self._fast(y_true, y_pred, 2)
            if r is not None:
                return r[1]
        _, grad, _ = self._run(y_true, y_pred, sample_weight, out, call_args,
                               want_loss=False, want_grad=True, want_hess=False)
        return grad

    def loss_gradient(self, y_true, y_pred, sample_weight=None, out=None, **call_args):
        """(loss, gradient) from one pass over the data."""
        if sample_weight is None and out is None and not call_args:
            r = self._fast(y_true, y_pred, 1)
            if r is not None:
                return r[0], r[1]
        value, grad, _ = self._run(y_true, y_pred, sample_weight, out, call_args,
                                   want_loss=True, want_grad=True, want_hess=False)
        return value, grad

    def _run(self, y_true, y_pred, sample_weight, out, call_args, *, want_loss,
             want_grad, want_hess):
        """The one way from a public method into a family's ``_compute``.

        Two hostile-input rules live here so that no family can miss them:
        ``out=`` may not share memory with anything the kernel reads (the
        predictions, targets, labels, weights, groups, or an array parameter
        of the loss) -- the kernel would read what it has already written;
        and a misaligned or byte-swapped array is replaced by an aligned,
        native-order copy before any kernel sees it (the caller's array is
        never modified).
        """
        if out is not None:
            _validate.out_not_aliased(out, {
                "y_true": y_true, "y_pred": y_pred, "sample_weight": sample_weight,
                **call_args, **self._array_params()})
        native = _validate.native
        if call_args:
            call_args = {key: native(value) for key, value in call_args.items()}
        return self._compute(native(y_true), native(y_pred), native(sample_weight),
                             want_loss=want_loss, want_grad=want_grad, want_hess=want_hess,
                             out=out, **call_args)

    def _array_params(self):
        """The loss's array-valued parameters (class weights, groups, ...)."""
        return {name: value for name, value in vars(self).items()
                if isinstance(value, np.ndarray)}

    # -- for subclasses -------------------------------------------------------
    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        """Return (value or None, gradient or None, hessian or None)."""
        raise NotImplementedError

    def get_params(self, deep=True):
        """Constructor arguments of this instance (``deep`` is accepted for
        scikit-learn's ``clone``; a loss holds no nested estimators)."""
        return {name: getattr(self, name) for name in self._param_names
                if hasattr(self, name)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class WithHessian:
    """Mixin for the losses SPEC marks H: they have ``gradient_hessian``."""

    has_hessian = True


# The reductions that divide Σ w_u l_u by something: "mean" by Σ w_u,
# "sum_over_batch_size" by the number of units (weight-0 ones counted).
AVERAGING = ("mean", "sum_over_batch_size")


def divisor(reduction, total_weight, n_units):
    """What an averaging reduction divides Σ w_u l_u by: Σ w_u for "mean",
    the number of units for "sum_over_batch_size" (Keras 3); None for
    "sum" and "none".  This is the one place the two averages differ."""
    if reduction == "mean":
        return float(total_weight)
    if reduction == "sum_over_batch_size":
        return float(n_units)
    return None


def weight_scale(reduction, n, w):
    """(gradient scale, divisor) for a kernel that scales the gradient
    itself over n samples: 1/divisor for an averaging reduction (0 when the
    divisor is 0), 1 otherwise; the divisor is Σw for "mean", n for
    "sum_over_batch_size" (Σw for "sum"/"none", unused)."""
    total_weight = float(n) if w is None else float(w.sum())
    d = divisor(reduction, total_weight, n)
    if d is None:
        return 1.0, total_weight
    if d == 0.0:
        return 0.0, d
    return 1.0 / d, d


def unit_weights(reduction, n, w=None):
    """(w_u, per-unit gradient scale, divisor) for a kernel that takes one
    scale per unit (images, classes): ``w_u / divisor`` for an averaging
    reduction (0 when the divisor is 0), ``w_u`` otherwise.  `w` is None
    (every unit weighs 1) or a checked float64 (n,) array."""
    w = np.ones(n) if w is None else w
    total_weight = float(w.sum())
    d = divisor(reduction, total_weight, n)
    if d is None:
        return w, w, total_weight
    if d == 0.0:
        return w, np.zeros(n), d
    return w, w / d, d


def finish(reduction, total, total_weight, rows, scale=None):
    """The value the caller sees for a reduction, from Σ w_u l_u (or the rows).

    `total_weight` is the divisor of an averaging reduction (from
    :func:`divisor`, :func:`weight_scale` or :func:`unit_weights`).  An
    average is ``total · scale`` when the kernel scaled the gradient by
    `scale` (value and gradient then use one factor, bit for bit), else
    ``total / total_weight``; 0.0 when there is nothing to average.
    """
    if reduction == "none":
        return rows
    if reduction == "sum":
        return float(total)
    if total_weight == 0.0:
        return 0.0
    if scale is None:
        return float(float(total) / total_weight)
    return float(total * scale)


def reduce_units(reduction, unit_losses, total_weight, dtype, order=None):
    """The value of a loss whose kernel returns one weighted loss per unit
    (image, class or query group): "none" gives them (in `order`, if given)
    in y_pred's dtype, "sum" their sum, an average their sum divided by
    `total_weight` (the reduction's divisor)."""
    if reduction == "none":
        rows = unit_losses if order is None else unit_losses[order]
        return rows.astype(dtype)
    return finish(reduction, float(np.sum(unit_losses)), total_weight, None)


def gradient_array(out, shape, dtype, inputs=()):
    """The gradient's array: a fresh one, or the caller's `out` once its
    shape, dtype and layout are checked and it shares no memory with the
    (converted) `inputs` the kernel reads."""
    grad = _validate.out_array(out, shape, dtype)
    if out is not None:
        _validate.no_overlap(grad, *inputs)
    return grad


_MODES = {(True, False, False): 0, (True, True, False): 1,
          (False, True, False): 2, (False, True, True): 3}


class KernelOutputs:
    """What one blocked kernel call writes, allocated (or checked) once.

    Every family's runner builds one of these, passes its arrays to its
    kernel and hands the kernel's Σ w_i l_i to ``value``: the reduction,
    ``out=`` and allocation rules live here and nowhere else.
    """

    def __init__(self, reduction, n, w, shape, dtype, n_blocks, *, want_loss,
                 want_grad, want_hess, out, inputs=()):
        self.reduction = reduction
        self.want_loss = want_loss
        self.scale, self.total_weight = weight_scale(reduction, n, w)
        self.mode = _MODES[(want_loss, want_grad, want_hess)]
        self.grad = self.hess = None
        if want_grad:
            self.grad = (np.empty(shape, dtype=dtype) if out is None
                         else gradient_array(out, shape, dtype, (*inputs, w)))
        if want_hess:
            self.hess = np.empty(shape, dtype=dtype)
        self.rows = np.empty(n, dtype=dtype) if (want_loss and reduction == "none") else None
        self.block_sums = np.empty(n_blocks, dtype=np.float64)

    @property
    def flat_grad(self):
        return None if self.grad is None else self.grad.reshape(-1)

    @property
    def flat_hess(self):
        return None if self.hess is None else self.hess.reshape(-1)

    def result(self, total):
        """(value or None, gradient, hessian) from the kernel's Σ w_i l_i."""
        value = None
        if self.want_loss:
            value = finish(self.reduction, total, self.total_weight, self.rows, self.scale)
        return value, self.grad, self.hess


def run_pointwise(kind, params, yt, yp, sample_weight, reduction, *,
                  want_loss, want_grad, want_hess, out):
    """Allocate and run one elementwise kernel on checked float arrays
    (from ``_validate.float_pair``); see ``Loss._compute`` for the result."""
    n = yp.shape[0]
    k = yp.size // n
    w = _validate.sample_weight(sample_weight, n)
    o = KernelOutputs(reduction, n, w, yp.shape, yp.dtype, _pointwise.n_blocks(n, k),
                      want_loss=want_loss, want_grad=want_grad, want_hess=want_hess,
                      out=out, inputs=(yt, yp))
    total = _pointwise.pointwise(
        kind, params, yt.reshape(-1), yp.reshape(-1), w, n, k, o.mode, o.scale,
        o.flat_grad, o.flat_hess, o.rows, o.block_sums, get_num_threads())
    return o.result(total)


class ElementwiseLoss(WithHessian, Loss):
    """A loss computed element by element by ``_kernels/pointwise.pyx``.

    y_pred of shape (n,) is n samples; (n, k, ...) is n samples whose loss is
    the mean over their k (or more) elements.  Subclasses give ``_kind()`` (a
    name in ``pointwise.KINDS``) and ``_kernel_params()``: exactly the keys
    of that kind's record, ``pointwise.PARAMS[kind]`` (the kernel rejects an
    unknown or missing key).  A kind that is exactly one public class gets
    that class from its table row (:func:`table_losses`).
    """

    target_kind = "elementwise"

    def _kind(self) -> str:
        raise NotImplementedError

    def _kernel_params(self) -> dict:
        return {}

    def _check_targets(self, y_true):
        """Hook: reject targets the loss does not define (after conversion)."""

    # The fast path (pointwise.Record) is this _compute without its checks:
    # a subclass that overrides _compute declares ``_fast_elementwise = True``
    # beside it only when its own _compute adds nothing a Record does not do.
    _fast_elementwise = True

    def _fast_record(self):
        cls = type(self)
        for klass in cls.__mro__:
            if "_compute" in klass.__dict__:
                if not klass.__dict__.get("_fast_elementwise", False):
                    return None
                break
        if cls._check_targets is not ElementwiseLoss._check_targets:
            return None
        return _pointwise.record(_pointwise.KINDS.index(self._kind()), self._kernel_params(),
                                 self.reduction, get_num_threads)

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        kind = _pointwise.KINDS.index(self._kind())
        yt, yp = _validate.float_pair(y_true, y_pred)
        self._check_targets(yt)
        # the record the fast path filled from these parameters, if there is
        # one: the kernel then neither re-checks nor re-fills them
        rec = self._fast_path()
        params = rec if type(rec) is _pointwise.Record else self._kernel_params()
        return run_pointwise(kind, params, yt, yp, sample_weight,
                             self.reduction, want_loss=want_loss, want_grad=want_grad,
                             want_hess=want_hess, out=out)


def table_losses(module, docs):
    """The public classes and functions of `module` that the elementwise
    table (``_kernels/pointwise.pyx.tp``, ``pointwise.LOSSES``) defines:
    {public name: class or function}, ``docs`` giving each class's docstring
    by kind.

    Such a class is exactly its kind: its constructor parameters are the
    kind's record (checked by ``pointwise.check``, defaults from the row),
    its kernel parameters are those values, its names and aliases those of
    the row.  A class alias (a capitalised alias) names the same class.
    """
    out = {}
    for kind, (mod, cls_name, fn_name, aliases, defaults) in _pointwise.LOSSES.items():
        if mod != module:
            continue
        cls = _table_class(kind, module, cls_name, fn_name, aliases, defaults,
                           docs[kind])
        out[cls_name] = cls
        fn = loss_function(cls)
        out[fn_name] = fn
        for alias in aliases:
            out[alias] = cls if alias[:1].isupper() else fn
    return out


def _table_class(kind, module, cls_name, fn_name, aliases, defaults, doc):
    names = [spec[0] for spec in _pointwise.PARAMS[kind]]
    params = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                default=defaults[name]) for name in names]
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params,
         inspect.Parameter("reduction", inspect.Parameter.KEYWORD_ONLY, default="mean")])

    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{cls_name}(): {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values["self"]
        Loss.__init__(self, reduction=values.pop("reduction"))
        for name, value in _pointwise.check(kind, values).items():
            setattr(self, name, value)

    __init__.__signature__ = signature
    __init__.__qualname__ = f"{cls_name}.__init__"
    return type(cls_name, (ElementwiseLoss,), {
        "__doc__": doc, "__module__": f"fastloss.{module}", "__qualname__": cls_name,
        "__init__": __init__, "function_name": fn_name,
        "aliases": tuple(a for a in aliases if a != cls_name),
        "_kind": lambda self: kind,
        "_kernel_params": lambda self: {name: getattr(self, name) for name in names},
    })


# Parameter sets whose instance a function form keeps.
_FUNCTION_CACHE = 64


def loss_function(cls, name=None):
    """The function form of a loss class: same value, parameters as keywords.

    ``fn(y_true, y_pred, sample_weight=None, **constructor_kwargs)``.
    """
    name = name or cls.function_name
    # One instance per parameter set, kept: a call then costs what a loss
    # object's call costs (its fast path is built once).  Keys carry each
    # value's type, so True is never taken for 1 (one raises, the other
    # not); unhashable values (arrays) build an instance per call.
    instances = {}

    def fn(y_true, y_pred, sample_weight=None, **params):
        try:
            key = tuple([(k, type(v), v) for k, v in params.items()])
            loss = instances[key]
        except KeyError:
            loss = cls(**params)
            if len(instances) >= _FUNCTION_CACHE:
                instances.clear()
            instances[key] = loss
        except TypeError:
            loss = cls(**params)
        return loss(y_true, y_pred, sample_weight)

    init = inspect.signature(cls.__init__)
    kw = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
          for p in list(init.parameters.values())[1:]
          if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    head = [inspect.Parameter("y_true", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("y_pred", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("sample_weight", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              default=None)]
    fn.__signature__ = inspect.Signature(head + kw)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Function form of :class:`{cls.__name__}`: "
                  f"``{cls.__name__}(**kwargs)(y_true, y_pred, sample_weight)``.\n\n"
                  + (cls.__doc__ or ""))
    fn.__module__ = cls.__module__
    return fn
