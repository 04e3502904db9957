"""PyTorch bridge: fastloss losses as autograd functions and ``nn.Module`` s
(``pip install 'fastloss[torch]'``).

::

    import fastloss.torch as flt
    criterion = flt.Huber(delta=2.0)              # any fastloss class name
    loss = criterion(output, target)              # torch's (input, target) order
    loss.backward()
    flt.apply("huber", output, target, delta=2.0) # the function form
    flt.FastlossLoss(fl.Huber(delta=2.0))         # a module around any Loss instance

The forward pass calls the fused ``loss_gradient`` once on CPU tensors, read
through NumPy without a copy when the tensor is contiguous (float32/float64
predictions; targets, labels and weights in any real dtype the loss takes,
int64 labels included).  Other layouts are made contiguous, float16/bfloat16
are computed in float32.  The gradient it writes is kept, and the backward
pass hands that very tensor to autograd when the incoming gradient is 1 (the
usual ``loss.backward()``): no pass over it, no copy.  Any other incoming
gradient (``(3 * loss).backward()``, ``reduction="none"`` rows) scales it in
place, one pass.  The gradient given away is forgotten, so later steps never
write into a tensor the caller holds; a second backward through a retained
graph (``retain_graph=True``) recomputes it from the saved inputs (an input
modified in place in between is torch's usual error).  The loss is
differentiable once: differentiating its gradient again (``create_graph=True``
then a second backward through it) raises a RuntimeError saying so.  Under
``torch.no_grad()`` (evaluation), or for an input that does not require
grad, only the value is computed.

``reduction="none"`` returns the per-sample values ``s_i l_i`` (losses whose
samples are independent); each sample's gradient is scaled by its own
incoming gradient.  Gradients flow to the prediction (``input``) only: a
target or sample weight that requires grad is an error, as is a tensor not on
the CPU.  Note the argument order: modules and ``apply`` take ``(input,
target)`` like ``torch.nn`` losses; fastloss's own API takes ``(y_true,
y_pred)``.
"""
from __future__ import annotations

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without torch
    # name= says which optional peer is missing, so callers (and
    # importlib-walking tools) can tell it from a broken fastloss install.
    raise ImportError("fastloss.torch needs PyTorch: pip install 'fastloss[torch]'",
                      name=exc.name or "torch") from exc

from . import _registry
from ._base import Loss
from ._objective import loss_class, rebuild, target_kind

__all__ = ["FastlossLoss", "apply", "loss_function"]

_NATIVE = (torch.float32, torch.float64)
_NARROW = (torch.float16, torch.bfloat16)
_Tensor = torch.Tensor


def _check_cpu(t, name):
    if isinstance(t, _Tensor) and not t.is_cpu:
        raise ValueError(f"{name} is on device {t.device}; fastloss computes on the CPU "
                         f"only: move it with .cpu() first")


def _as_numpy(t, name, *, floating):
    """A NumPy view of a CPU tensor (a copy only for non-contiguous or narrow dtypes)."""
    dtype = t.dtype
    # The common case (a contiguous tensor NumPy can view) in as few calls as
    # possible: this runs for every tensor argument of every training step.
    if (dtype in _NATIVE or (not floating and dtype not in _NARROW and not dtype.is_complex)) \
            and t.is_contiguous() and not t.is_neg():
        return (t.detach() if t.requires_grad else t).numpy()
    _check_cpu(t, name)
    t = t.detach()
    if t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if floating and t.dtype not in _NATIVE:
        t = t.to(torch.float32 if t.is_floating_point() else torch.float64)
    elif t.dtype in _NARROW:
        t = t.to(torch.float32)
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    return t.contiguous().numpy()


def _value(value, dtype):
    if isinstance(value, float):
        return torch.scalar_tensor(value, dtype=dtype)
    value = torch.from_numpy(value)
    return value if value.dtype == dtype else value.to(dtype)


def _compute(loss, call_args, input, target, sample_weight, want_grad=True):
    """(value tensor, gradient tensor or None) of one fused ``loss_gradient`` call."""
    yp = _as_numpy(input, "input", floating=True)
    if isinstance(target, _Tensor):
        target = _as_numpy(target, "target", floating=False)
    if isinstance(sample_weight, _Tensor):
        sample_weight = _as_numpy(sample_weight, "sample_weight", floating=False)
    if not want_grad:
        return _value(loss.loss(target, yp, sample_weight, **call_args), input.dtype), None
    value, grad = loss.loss_gradient(target, yp, sample_weight, **call_args)
    # fastloss's fresh array becomes the tensor's storage: no copy
    grad = torch.from_numpy(grad)
    dtype = input.dtype
    if grad.dtype != dtype:
        grad = grad.to(dtype)
    return _value(value, dtype), grad


def _scaled(ctx, grad, grad_output):
    """The gradient given to autograd: `grad` itself when grad_output is 1,
    else `grad` scaled in place (one pass; `grad` is no longer ours)."""
    if grad_output.ndim == 0:
        if grad_output.item() != 1.0:
            grad.mul_(grad_output)
        return grad
    # reduction="none": grad_output has the samples' shape; the gradient has
    # the classes' axis more (class_axis losses) or trailing axes
    extra = grad.ndim - grad_output.ndim
    if extra:
        axis = getattr(ctx.args[0], "class_axis", None)
        if axis is not None and extra == 1:
            grad_output = grad_output.unsqueeze(axis % grad.ndim)
        else:
            grad_output = grad_output.reshape(grad_output.shape + (1,) * extra)
    return grad.mul_(grad_output)


def _take_grad(ctx):
    grad = ctx.grad
    if grad is not None:
        ctx.grad = None
        return grad
    # A second backward through a retained graph: the first one gave the
    # gradient away (the caller owns it now and may have changed it), so it is
    # computed again from the saved inputs (torch raises if they were
    # modified in place since the forward pass).
    loss, call_args, target, sample_weight = ctx.args
    saved = ctx.saved_tensors
    input = saved[0]
    if isinstance(target, _Tensor):
        target = saved[1]
    if isinstance(sample_weight, _Tensor):
        sample_weight = saved[-1]
    with torch.no_grad():
        return _compute(loss, call_args, input, target, sample_weight)[1]


class _NoDoubleBackward(torch.autograd.Function):
    """The gradient handed out under ``create_graph=True``: its value, tied to
    the loss's input and to grad_output so that differentiating it again
    (with respect to either) raises rather than being silently a constant."""

    @staticmethod
    def forward(ctx, grad, input, grad_output):
        return grad.view_as(grad)

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise RuntimeError(
            "fastloss.torch: a fastloss loss is differentiable once; its gradient "
            "(from create_graph=True) cannot be differentiated again (double backward, "
            "Hessian-vector products, gradient penalties through the loss). Use the "
            "torch formula of the loss for second derivatives, or fastloss's "
            "gradient_hessian for the diagonal Hessian")


class _LossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, sample_weight, loss, call_args):
        value, grad = _compute(loss, call_args, input, target, sample_weight)
        # The gradient is an attribute, not a saved tensor: backward gives it
        # away and drops it (a second reference would make autograd copy it
        # into .grad instead of taking it).  The inputs are saved (no copy)
        # for a second backward, which must compute it again.
        ctx.grad = grad
        ctx.args = (loss, call_args, target, sample_weight)
        ctx.save_for_backward(input, *(t for t in (target, sample_weight)
                                       if isinstance(t, _Tensor)))
        return value

    @staticmethod
    def backward(ctx, grad_output):
        if torch.is_grad_enabled():
            # create_graph=True: the gradient comes back tied to the input, so
            # that differentiating it again is a clear error, not a silent 0
            with torch.no_grad():
                grad = _scaled(ctx, _take_grad(ctx), grad_output.detach())
            return (_NoDoubleBackward.apply(grad, ctx.saved_tensors[0], grad_output),
                    None, None, None, None)
        return _scaled(ctx, _take_grad(ctx), grad_output), None, None, None, None


def _resolve(loss, params):
    if isinstance(loss, Loss) and not params:
        return loss
    if isinstance(loss, Loss):
        return rebuild(loss, params)
    return loss_class(loss)(**params)


_RESOLVED: dict = {}
_PLAIN = (str, int, float, bool, type(None))


def _plain(value):
    return isinstance(value, _PLAIN) or (
        isinstance(value, tuple) and all(isinstance(v, _PLAIN) for v in value))


def _resolve_cached(loss, params):
    """`_resolve` for the function form, remembered when the loss is named
    by a string or class and every parameter is a plain value (a training
    loop calling ``apply("huber", ...)`` builds the loss once); array or
    tensor parameters build it per call, so their current values are used."""
    if isinstance(loss, Loss) or not isinstance(loss, (str, type)) \
            or not all(_plain(v) for v in params.values()):
        return _resolve(loss, params)
    key = (loss, tuple(sorted(params.items())))
    obj = _RESOLVED.get(key)
    if obj is None:
        obj = _resolve(loss, params)
        if len(_RESOLVED) < 256:
            _RESOLVED[key] = obj
    return obj


def apply(loss, input, target, sample_weight=None, **params):
    """The loss of `input` (predictions, the tensor that gets a gradient)
    against `target`: a 0-d tensor (``"mean"``/``"sum"``) or per-sample values
    (``"none"``).  `loss` is a fastloss name, class or Loss instance;
    `params` are its constructor keywords (``reduction`` among them)."""
    return loss_function(_resolve_cached(loss, params), input, target, sample_weight)


def loss_function(loss, input, target, sample_weight=None, **call_args):
    """`apply` for a ready Loss instance; `call_args` go to its call (e.g. ``group=``)."""
    if not isinstance(input, _Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    _check_cpu(input, "input")
    for t, name in ((target, "target"), (sample_weight, "sample_weight")):
        if isinstance(t, _Tensor) and (t.requires_grad or not t.is_cpu):
            _check_cpu(t, name)
            raise ValueError(f"{name} requires grad; fastloss.torch differentiates with "
                             f"respect to input only (detach {name})")
    if loss.reduction == "none":
        target_kind(loss)  # set-level losses have no per-sample rows: clear error
    if not input.requires_grad or not torch.is_grad_enabled():
        # nothing to differentiate (evaluation, torch.no_grad()): the value alone
        return _compute(loss, call_args, input, target, sample_weight, want_grad=False)[0]
    return _LossFunction.apply(input, target, sample_weight, loss, call_args)


class FastlossLoss(torch.nn.Module):
    """``nn.Module`` around a fastloss loss: ``FastlossLoss("huber", delta=2.0)``
    or ``FastlossLoss(fl.Huber(delta=2.0))``; ``forward(input, target,
    sample_weight=None, **call_args)``."""

    def __init__(self, loss, **params):
        super().__init__()
        self.loss = _resolve(loss, params)

    def forward(self, input, target, sample_weight=None, **call_args):
        return loss_function(self.loss, input, target, sample_weight, **call_args)

    def extra_repr(self):
        return repr(self.loss)


_MODULES: dict = {}


def _module_class(cls):
    if cls not in _MODULES:
        def __init__(self, *args, **params):
            FastlossLoss.__init__(self, cls(*args, **params))

        _MODULES[cls] = type(cls.__name__, (FastlossLoss,), {
            "__init__": __init__, "__module__": __name__,
            "__doc__": f"``nn.Module`` form of :class:`fastloss.{cls.__name__}` "
                       f"(constructor arguments as that class; forward(input, target, "
                       f"sample_weight=None)).\n\n{cls.__doc__ or ''}"})
    return _MODULES[cls]


def __getattr__(name):
    """``fastloss.torch.<LossClass>``: the module form of every registered loss."""
    for cls in _registry.loss_classes():
        if cls.__name__ == name:
            return _module_class(cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {cls.__name__ for cls in _registry.loss_classes()})
