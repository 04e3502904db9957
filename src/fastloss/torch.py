"""PyTorch bridge: fastloss losses as autograd functions and ``nn.Module`` s
(``pip install 'fastloss[torch]'``).

::

    import fastloss.torch as flt
    criterion = flt.Huber(delta=2.0)              # any fastloss class name
    loss = criterion(output, target)              # torch's (input, target) order
    loss.backward()
    flt.apply("huber", output, target, delta=2.0) # the function form
    flt.FastlossLoss(fl.Huber(delta=2.0))         # a module around any Loss instance

The forward pass calls the fused ``loss_gradient`` once on CPU tensors (read
through NumPy without a copy when the tensor is contiguous float32/float64;
other layouts are made contiguous, float16/bfloat16 are computed in float32)
and keeps the gradient; the backward pass returns that gradient times the
incoming gradient (``once_differentiable``: no double backward).
``reduction="none"`` returns the per-sample values ``s_i l_i`` (losses whose
samples are independent); each row's gradient is scaled by its own incoming
gradient.  Gradients flow to the prediction (``input``) only: a target or
sample weight that requires grad is an error, as is a tensor not on the CPU.
Note the argument order: modules and ``apply`` take ``(input, target)`` like
``torch.nn`` losses; fastloss's own API takes ``(y_true, y_pred)``.
"""
from __future__ import annotations

import numpy as np

try:
    import torch
    from torch.autograd.function import once_differentiable
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


def _check_cpu(t, name):
    if isinstance(t, torch.Tensor) and t.device.type != "cpu":
        raise ValueError(f"{name} is on device {t.device}; fastloss computes on the CPU "
                         f"only: move it with .cpu() first")


def _as_numpy(t, name, *, floating):
    """A NumPy view of a CPU tensor (a copy only for non-contiguous or narrow dtypes)."""
    if not isinstance(t, torch.Tensor):
        return t
    _check_cpu(t, name)
    t = t.detach()
    if t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if floating and t.dtype not in _NATIVE:
        t = t.to(torch.float32 if t.is_floating_point() else torch.float64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.to(torch.float32)
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    return t.contiguous().numpy()


class _LossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, sample_weight, loss, call_args):
        yp = _as_numpy(input, "input", floating=True)
        yt = _as_numpy(target, "target", floating=False)
        sw = _as_numpy(sample_weight, "sample_weight", floating=False)
        value, grad = loss.loss_gradient(yt, yp, sw, **call_args)
        ctx.rows = loss.reduction == "none"
        grad = torch.from_numpy(grad)
        if grad.dtype != input.dtype:
            grad = grad.to(input.dtype)
        ctx.save_for_backward(grad)
        if ctx.rows:
            return torch.from_numpy(np.asarray(value)).to(input.dtype)
        return torch.tensor(value, dtype=input.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        if ctx.rows:
            scale = grad_output.reshape(grad_output.shape + (1,) * (grad.ndim - grad_output.ndim))
        else:
            scale = grad_output
        return grad * scale, None, None, None, None


def _resolve(loss, params):
    if isinstance(loss, Loss) and not params:
        return loss
    if isinstance(loss, Loss):
        return rebuild(loss, params)
    return loss_class(loss)(**params)


def apply(loss, input, target, sample_weight=None, **params):
    """The loss of `input` (predictions, the tensor that gets a gradient)
    against `target`: a 0-d tensor (``"mean"``/``"sum"``) or per-sample values
    (``"none"``).  `loss` is a fastloss name, class or Loss instance;
    `params` are its constructor keywords (``reduction`` among them)."""
    return loss_function(_resolve(loss, params), input, target, sample_weight)


def loss_function(loss, input, target, sample_weight=None, **call_args):
    """`apply` for a ready Loss instance; `call_args` go to its call (e.g. ``group=``)."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    for t, name in ((input, "input"), (target, "target"), (sample_weight, "sample_weight")):
        _check_cpu(t, name)
    for t, name in ((target, "target"), (sample_weight, "sample_weight")):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            raise ValueError(f"{name} requires grad; fastloss.torch differentiates with "
                             f"respect to input only (detach {name})")
    if loss.reduction == "none":
        target_kind(loss)  # set-level losses have no per-sample rows: clear error
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
