"""Benchmark cases for a PyTorch training step through ``fastloss.torch`` (issue 16).

The step a training loop runs once the model's output ``z`` (float32, a leaf
that requires grad) is known::

    z.grad = None
    crit(z, y).backward()

with ``crit`` a ``fastloss.torch`` module (the fastloss column) or torch's
own loss (the torch peer: ``F.cross_entropy`` and friends, or the formula
of ``torch_ref`` for the focal loss), sparse labels as int64 tensors.  Both
run on the case's thread count (``torch.set_num_threads``).  One timed call
is ``steps`` such steps (``steps_for(shape)``: about 2e6 elements of work),
so the table's time (and its elem/s, which counts one step's elements) is
per ``steps`` steps, and its "vs torch" ratio is the per-step ratio.
``bench/bench_torch_step.py`` prints per-step times.  The NumPy peer (the catalog's reference, first as
everywhere) runs the loss's NumPy value and gradient the same number of
times; it is the agreement reference, not a training step.

These cases are a group of their own, run with ``python -m fastloss bench
--loss torch_step`` (or a case id): they are not in ``cases.CASES`` (a
full run), and a loss name (``mse``) does not select them; see
``cases.select``.  torch must be installed.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import numpy_ref as npr
from .cases import (Case, Peer, _binary_logits, _class_logits, _regression, importable)

GROUP = "torch_step"


def steps_for(shape):
    """Steps per timed call: ~2e6 elements of work, between 5 and 200 steps."""
    size = 1
    for d in shape:
        size *= d
    return max(5, min(200, 2_000_000 // size))


@dataclass(frozen=True)
class TorchStepCase(Case):
    """A Case whose fastloss call is ``steps_for(shape)`` training steps
    through ``fastloss.torch``; ``labels_long``: y_true as int64 labels."""
    labels_long: bool = False

    def _tensors(self, data):
        import torch
        z = torch.from_numpy(data.y_pred.copy()).requires_grad_(True)
        y = torch.from_numpy(data.y_true)
        return z, (y.long() if self.labels_long else y)

    def fastloss_call(self, data):
        import torch

        import fastloss
        import fastloss.torch as flt
        # the runner sets fastloss's threads around this call; torch's ops in
        # the step (autograd, the scaling of a non-unit grad_output) get as many
        torch.set_num_threads(fastloss.get_num_threads())
        crit = flt.FastlossLoss(self.loss_object())
        z, y = self._tensors(data)
        return _stepper(crit, z, y, steps_for(data.y_pred.shape))


def _stepper(crit, z, y, steps):
    def call():
        for _ in range(steps):
            z.grad = None
            value = crit(z, y)
            value.backward()
        return value.detach(), z.grad
    return call


def _convert(result, data):
    value, grad = result
    return float(value), grad.numpy()


def torch_step_peer(fn_name, label, **params):
    """torch's own loss (``torch_ref.<fn_name>(t, x)``) in the same steps."""
    def setup(case, data, threads):
        import torch

        from . import torch_ref
        torch.set_num_threads(threads)
        fn = getattr(torch_ref, fn_name)
        z, y = case._tensors(data)
        return _stepper(lambda x, t: fn(t, x, **params), z, y,
                        steps_for(data.y_pred.shape))
    return Peer("torch", f"{label} (x steps_for(shape) steps)", setup, _convert,
                requires="torch")


def numpy_steps_peer(fn, **params):
    """The NumPy reference value and gradient, as many times as the steps."""
    def setup(case, data, threads):
        yt, yp = data.y_true, data.y_pred
        steps = steps_for(yp.shape)

        def call():
            for _ in range(steps):
                result = fn(yt, yp, **params)
            return result
        return call
    return Peer("numpy", f"numpy {fn.__name__} (reference, no autograd)", setup,
                lambda r, d: r)


def _sizes(full, tiny=(64, 10)):
    return {"full": full, "quick": full, "tiny": tiny}


_FOCAL = {"gamma": 2.0, "alpha": 0.25}

CASES = tuple(TorchStepCase(*args, **kwargs) for args, kwargs in (
    (("torch_step_sparse_ce", "sparse_categorical_crossentropy", GROUP, _sizes((256, 1000)),
      "float32", _class_logits),
     dict(params={"from_logits": True}, labels_long=True, streaming=False, peers=(
         numpy_steps_peer(npr.sparse_categorical_crossentropy),
         torch_step_peer("sparse_ce", "torch F.cross_entropy step")))),
    (("torch_step_sparse_ce_4096", "sparse_categorical_crossentropy", GROUP,
      _sizes((4096, 100)), "float32", _class_logits),
     dict(params={"from_logits": True}, labels_long=True, streaming=False, peers=(
         numpy_steps_peer(npr.sparse_categorical_crossentropy),
         torch_step_peer("sparse_ce", "torch F.cross_entropy step")))),
    (("torch_step_sparse_ce_64", "sparse_categorical_crossentropy", GROUP,
      _sizes((64, 10)), "float32", _class_logits),
     dict(params={"from_logits": True}, labels_long=True, streaming=False, peers=(
         numpy_steps_peer(npr.sparse_categorical_crossentropy),
         torch_step_peer("sparse_ce", "torch F.cross_entropy step")))),
    (("torch_step_bce", "binary_crossentropy", GROUP, _sizes((256, 1000)), "float32",
      _binary_logits),
     dict(params={"from_logits": True}, streaming=False, peers=(
         numpy_steps_peer(npr.binary_crossentropy),
         torch_step_peer("bce_logits", "torch F.binary_cross_entropy_with_logits step")))),
    (("torch_step_binary_focal", "binary_focal_crossentropy", GROUP, _sizes((256, 1000)),
      "float32", _binary_logits),
     dict(params={**_FOCAL, "from_logits": True}, streaming=False, peers=(
         numpy_steps_peer(npr.binary_focal_crossentropy, **_FOCAL),
         torch_step_peer("binary_focal", "torch sigmoid focal formula step", **_FOCAL)))),
    (("torch_step_mse", "mse", GROUP, _sizes((256, 1000)), "float32", _regression),
     dict(streaming=False, peers=(
         numpy_steps_peer(npr.mean_squared_error),
         torch_step_peer("mse", "torch F.mse_loss step")))),
))


def available():
    """The step cases need torch (the fastloss column runs through it)."""
    return importable("torch")
