"""The Loss base class: validate -> allocate -> one kernel call -> reduce.

A concrete loss declares its parameters (checked in ``__init__``) and
implements ``_compute``; it holds no loops.  ``ElementwiseLoss`` is the
complete implementation for every loss whose per-element closed form lives in
``_kernels/pointwise.pyx``: such a loss only names its kernel and parameters.
"""
from __future__ import annotations

import inspect

import numpy as np

from . import _registry, _validate
from ._kernels import pointwise as _pointwise
from ._threads import get_num_threads


class Loss:
    """Base of every fastloss loss.

    Subclasses set ``function_name`` (and optionally ``aliases``) to be
    registered for ``fastloss.get`` and given a function form.
    """

    function_name: str = ""
    aliases: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("function_name"):
            _registry.register(cls, (cls.__name__, cls.function_name, *cls.aliases))

    def __init__(self, *, reduction="mean"):
        self.reduction = _validate.reduction(reduction)

    # -- public API -----------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None, **call_args):
        """The reduced loss (a float), or per-sample values for reduction="none"."""
        return self.loss(y_true, y_pred, sample_weight, **call_args)

    def loss(self, y_true, y_pred, sample_weight=None, **call_args):
        """Same as calling the loss."""
        value, _, _ = self._run(y_true, y_pred, sample_weight, None, call_args,
                                want_loss=True, want_grad=False, want_hess=False)
        return value

    def gradient(self, y_true, y_pred, sample_weight=None, out=None, **call_args):
        """d(reduced loss)/d y_pred, shape and dtype of y_pred (into `out` if given)."""
        _, grad, _ = self._run(y_true, y_pred, sample_weight, out, call_args,
                               want_loss=False, want_grad=True, want_hess=False)
        return grad

    def loss_gradient(self, y_true, y_pred, sample_weight=None, out=None, **call_args):
        """(loss, gradient) from one pass over the data."""
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
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names if hasattr(self, name)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class WithHessian:
    """Mixin for the losses SPEC marks H: adds ``gradient_hessian``."""

    def gradient_hessian(self, y_true, y_pred, sample_weight=None, **call_args):
        """(gradient, hessian diagonal), both scaled like the gradient."""
        _, grad, hess = self._run(y_true, y_pred, sample_weight, None, call_args,
                                  want_loss=False, want_grad=True, want_hess=True)
        return grad, hess


def weight_scale(reduction, n, w):
    """(gradient scale, Σw): 1/Σw for "mean" (0 when Σw is 0), 1 otherwise."""
    total_weight = float(n) if w is None else float(np.sum(w))
    if reduction != "mean":
        return 1.0, total_weight
    if total_weight == 0.0:
        return 0.0, total_weight
    return 1.0 / total_weight, total_weight


def finish(reduction, total, scale, total_weight, rows):
    """The value the caller sees for a reduction, from Σ w_i l_i (or the rows)."""
    if reduction == "none":
        return rows
    if reduction == "sum":
        return float(total)
    if total_weight == 0.0:
        return 0.0
    return float(total * scale)


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
            self.grad = _validate.out_array(out, shape, dtype)
            if out is not None:
                _validate.no_overlap(self.grad, *inputs, w)
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
            value = finish(self.reduction, total, self.scale, self.total_weight, self.rows)
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

    def _kind(self) -> str:
        raise NotImplementedError

    def _kernel_params(self) -> dict:
        return {}

    def _check_targets(self, y_true):
        """Hook: reject targets the loss does not define (after conversion)."""

    def _compute(self, y_true, y_pred, sample_weight, *, want_loss, want_grad,
                 want_hess, out):
        kind = _pointwise.KINDS.index(self._kind())
        yt, yp = _validate.float_pair(y_true, y_pred)
        self._check_targets(yt)
        return run_pointwise(kind, self._kernel_params(), yt, yp, sample_weight,
                             self.reduction, want_loss=want_loss, want_grad=want_grad,
                             want_hess=want_hess, out=out)


def table_losses(module, docs):
    """The public classes and functions of `module` that the elementwise
    table (``_kernels/pointwise.pyx.tp``, ``pointwise.LOSSES``) defines:
    {public name: class or function}, ``docs`` giving each class's docstring.

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
                           docs[cls_name])
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


def loss_function(cls, name=None):
    """The function form of a loss class: same value, parameters as keywords.

    ``fn(y_true, y_pred, sample_weight=None, **constructor_kwargs)``.
    """
    name = name or cls.function_name

    def fn(y_true, y_pred, sample_weight=None, **params):
        return cls(**params)(y_true, y_pred, sample_weight)

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
