"""Every benchmark case, defined once.

A :class:`Case` names a fastloss loss (registry name + constructor
parameters), its realistic shape (and the smaller shapes of ``--quick`` and
of the tests), its dtype, a data generator, and its peers.  A :class:`Peer`
is one other way to compute the same loss and gradient (NumPy, PyTorch
forward + backward, scikit-learn's ``sklearn._loss``) together with the
conversion of its result to fastloss's convention, so the runner can both
time it and check that it agrees.  ``python -m fastloss bench`` and the
pytest-benchmark files in ``bench/`` both read :data:`CASES`.
"""
from __future__ import annotations

import importlib.util
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import numpy_ref as npr

SIZES = ("full", "quick", "tiny")


def importable(module):
    """Can `module` be imported?  Checked without importing it; a module
    blocked with ``sys.modules[name] = None`` counts as absent."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@dataclass
class Data:
    """One case's inputs: what fastloss is called with."""
    y_true: np.ndarray
    y_pred: np.ndarray
    call_kwargs: dict = field(default_factory=dict)

    @property
    def nbytes(self):
        """Bytes a single streaming pass reads and writes: inputs + gradient."""
        return self.y_true.nbytes + 2 * self.y_pred.nbytes


@dataclass(frozen=True)
class Peer:
    """Another implementation of a case's loss and gradient.

    ``setup(case, data, threads)`` runs untimed (conversions, imports) and
    returns the zero-argument call that is timed; ``convert(result, data)``
    turns that call's result into ``(value, gradient)`` in fastloss's
    convention for the agreement check.
    """
    name: str                       # column: "numpy", "torch", "sklearn"
    label: str                      # what exactly is run
    setup: Callable[..., Callable[[], Any]]
    convert: Callable[[Any, Data], tuple]
    requires: str | None = None     # module that must be importable

    def available(self):
        return self.requires is None or importable(self.requires)


@dataclass(frozen=True)
class Case:
    name: str                       # unique id, used by --loss too
    loss: str                       # fastloss registry name
    family: str                     # bench/ group
    shapes: dict                    # size ("full", "quick", "tiny") -> y_pred shape
    dtype: str
    make: Callable                  # (shape, dtype, rng) -> Data
    peers: tuple = ()
    params: dict = field(default_factory=dict)
    streaming: bool = True          # the bandwidth floor applies
    value_rtol: float | None = None  # agreement tolerances (None: by dtype)
    grad_rtol: float | None = None
    # Write the gradient into a buffer allocated once, untimed (``out=``;
    # sklearn peers get ``loss_out``/``gradient_out``): the steady state of a
    # training loop, without the kernel's page faults on fresh memory.
    into_out: bool = False

    def shape(self, size):
        return self.shapes[size]

    def data(self, size="full", seed=None):
        """Deterministic inputs for this case at a size."""
        if seed is None:
            seed = zlib.crc32(self.name.encode())
        rng = np.random.default_rng(seed)
        return self.make(tuple(self.shape(size)), np.dtype(self.dtype), rng)

    def loss_object(self):
        """The fastloss instance (raises if this build does not have the loss)."""
        import fastloss
        return fastloss.get(self.loss, **self.params)

    def fastloss_call(self, data):
        """The timed fastloss call: ``loss_gradient`` with the default reduction."""
        obj = self.loss_object()
        yt, yp, kw = data.y_true, data.y_pred, data.call_kwargs
        if self.into_out:
            kw = dict(kw, out=np.empty_like(yp))
        return lambda: obj.loss_gradient(yt, yp, **kw)

    def tolerances(self):
        f32 = np.dtype(self.dtype) == np.float32
        value = self.value_rtol if self.value_rtol is not None else (2e-5 if f32 else 1e-9)
        grad = self.grad_rtol if self.grad_rtol is not None else (1e-4 if f32 else 1e-9)
        return value, grad


# ------------------------------------------------------------------- peers
def numpy_peer(fn, **params):
    """NumPy: ``fn(y_true, y_pred, **params) -> (value, gradient)``, already
    in fastloss's convention."""
    def setup(case, data, threads):
        yt, yp = data.y_true, data.y_pred
        return lambda: fn(yt, yp, **params)
    return Peer("numpy", f"numpy {fn.__name__}", setup, lambda r, d: r)


def torch_peer(fn_name, label, labels_long=False, **params):
    """PyTorch: ``torch_ref.<fn_name>(t_true, x, **params)``, forward and
    ``backward()``; the leaf's gradient is returned."""
    def setup(case, data, threads):
        import torch
        from . import torch_ref
        torch.set_num_threads(threads)       # same cores as fastloss
        fn = getattr(torch_ref, fn_name)
        t = torch.from_numpy(data.y_true)
        if labels_long:
            t = t.long()
        yp = data.y_pred

        def call():
            x = torch.from_numpy(yp).requires_grad_(True)
            loss = fn(t, x, **params)
            loss.backward()
            return loss.detach(), x.grad
        return call

    def convert(result, data):
        value, grad = result
        return float(value), grad.numpy()
    return Peer("torch", label, setup, convert, requires="torch")


def sklearn_peer(make_loss, label, value_scale, grad_scale, labels=False):
    """scikit-learn: ``make_loss().loss_gradient(y, raw, n_threads=threads)``
    then the sum of the per-sample losses (its result before any reduction).
    fastloss's mean is ``value_scale * sum / n`` and its gradient
    ``grad_scale * gradient / n`` (sklearn's half-losses are per sample)."""
    def setup(case, data, threads):
        loss = make_loss(data)
        y = data.y_true.astype(data.y_pred.dtype) if labels else data.y_true
        raw = data.y_pred
        outs = {}
        if case.into_out:
            outs = {"loss_out": np.empty_like(raw), "gradient_out": np.empty_like(raw)}

        def call():
            per_sample, grad = loss.loss_gradient(y, raw, n_threads=threads, **outs)
            return float(np.sum(per_sample, dtype=np.float64)), grad
        return call

    def convert(result, data):
        total, grad = result
        n = data.y_pred.shape[0]
        return value_scale * total / n, grad * (grad_scale / n)
    return Peer("sklearn", label, setup, convert, requires="sklearn")


def _sk(cls_name, **kwargs):
    def make(data):
        from sklearn._loss import loss as skl
        kw = {k: (v(data) if callable(v) else v) for k, v in kwargs.items()}
        return getattr(skl, cls_name)(**kw)
    return make


def _sk_pinball(quantile):
    # by attribute: its class name is also fastloss's, which no string here may hold
    def make(data):
        from sklearn._loss import loss as skl
        return skl.PinballLoss(quantile=quantile)
    return make


def _sk_tweedie_peer(power):
    """scikit-learn's HalfTweedieLoss (log link): its per-sample loss drops
    the term that makes the deviance 0 at the optimum
    (``constant_to_optimal_zero``, added untimed), and is half the deviance."""
    def setup(case, data, threads):
        from sklearn._loss import loss as skl
        loss = skl.HalfTweedieLoss(power=power)
        y, raw = data.y_true, data.y_pred
        const = float(np.sum(loss.constant_to_optimal_zero(y), dtype=np.float64))

        def call():
            per_sample, grad = loss.loss_gradient(y, raw, n_threads=threads)
            return float(np.sum(per_sample, dtype=np.float64)) + const, grad
        return call

    def convert(result, data):
        total, grad = result
        n = data.y_pred.shape[0]
        return 2.0 * total / n, grad * (2.0 / n)
    return Peer("sklearn", f"sklearn HalfTweedieLoss(power={power}) + constant_to_optimal_zero",
                setup, convert, requires="sklearn")


# -------------------------------------------------------------- generators
def _regression(shape, dtype, rng):
    y = rng.standard_normal(shape).astype(dtype)
    return Data(y, (y + rng.standard_normal(shape)).astype(dtype))


def _poisson_log(shape, dtype, rng):
    f = (0.5 * rng.standard_normal(shape)).astype(dtype)
    y = rng.poisson(np.exp(f)).astype(dtype)
    return Data(y, f)


def _binary_logits(shape, dtype, rng):
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    y = (rng.random(shape) < 1 / (1 + np.exp(-x))).astype(dtype)
    return Data(y, x)


def _pm1(shape, dtype, rng):
    f = rng.standard_normal(shape).astype(dtype)
    t = np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(dtype)
    return Data(t, f)


def _class_logits(shape, dtype, rng):
    n, c = shape
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    return Data(rng.integers(0, c, n), x)


def _soft_targets(shape, dtype, rng):
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    y = rng.random(shape) ** 4
    y /= y.sum(axis=1, keepdims=True)
    return Data(y.astype(dtype), x)


def _onehot_targets(shape, dtype, rng):
    n, c = shape
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    return Data(np.eye(c, dtype=dtype)[rng.integers(0, c, n)], x)


def _distributions(shape, dtype, rng):
    def rows():
        a = rng.random(shape) ** 2
        return (a / a.sum(axis=1, keepdims=True)).astype(dtype)
    return Data(rows(), rows())


def _log_distributions(shape, dtype, rng):
    d = _distributions(shape, dtype, rng)
    return Data(d.y_true, np.log(d.y_pred).astype(dtype))


def _embeddings(shape, dtype, rng):
    y = rng.standard_normal(shape)
    return Data(y.astype(dtype), (y + rng.standard_normal(shape)).astype(dtype))


def _boxes(shape, dtype, rng):
    n = shape[0]
    xy = rng.uniform(0, 500, (n, 2))
    wh = rng.uniform(5, 100, (n, 2))
    t = np.hstack([xy, xy + wh])
    pxy = xy + rng.normal(0, 0.3, (n, 2)) * wh
    pwh = wh * rng.uniform(0.5, 1.5, (n, 2))
    p = np.hstack([pxy, pxy + pwh])
    t, p = t.astype(dtype), p.astype(dtype)
    # A predicted edge exactly on the target's (float32 rounding makes a few
    # per million) is a kink of min/max where every library picks its own
    # subgradient (torch splits it in half): keep the benchmark off kinks.
    tie = p == t
    p[tie] = np.nextafter(p[tie], np.inf)
    return Data(t, p)


def _softmax(x, axis):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def _segmentation_probas(shape, dtype, rng):
    b, c, h, w = shape
    labels = rng.integers(0, c, (b, h, w))
    logits = rng.standard_normal(shape, dtype=np.float32) * 2
    boosted = np.take_along_axis(logits, labels[:, None], axis=1) + 2.0
    np.put_along_axis(logits, labels[:, None], boosted, axis=1)
    return Data(labels, _softmax(logits, 1).astype(dtype))


def _segmentation_onehot(shape, dtype, rng):
    d = _segmentation_probas(shape, dtype, rng)
    onehot = np.moveaxis(np.eye(shape[1], dtype=dtype)[d.y_true], -1, 1)
    return Data(np.ascontiguousarray(onehot), d.y_pred)


def _segmentation_logits(shape, dtype, rng):
    """(N, C, H, W) logits and (N, H, W) labels (torch's cross_entropy layout),
    from a fixed seed: the (N·H·W, C) case below holds the same numbers."""
    b, c, h, w = shape
    rng = np.random.default_rng(21)
    return Data(rng.integers(0, c, (b, h, w)), (2 * rng.standard_normal(shape)).astype(dtype))


def _segmentation_logits_rows(shape, dtype, rng):
    """_segmentation_logits's data moved to the (N·H·W, C) layout."""
    nchw = next(s for s in _SEG.values() if (s[0] * s[2] * s[3], s[1]) == tuple(shape))
    d = _segmentation_logits(nchw, dtype, rng)
    return Data(d.y_true.reshape(-1),
                np.ascontiguousarray(np.moveaxis(d.y_pred, 1, -1)).reshape(shape))


def _sparse_ce_class_axis1(y, x):
    """NumPy reference on (N, C, H, W): the (n, C) one on the moved axis."""
    c = x.shape[1]
    rows = np.moveaxis(x, 1, -1).reshape(-1, c)
    value, g = npr.sparse_categorical_crossentropy(y.reshape(-1), rows)
    return value, np.moveaxis(g.reshape(*y.shape, c), -1, 1)


def _segmentation_label_logits(shape, dtype, rng):
    """A label map and channel-first logits (the true class boosted)."""
    b, c, h, w = shape
    labels = rng.integers(0, c, (b, h, w))
    logits = rng.standard_normal(shape, dtype=np.float32) * 2
    boosted = np.take_along_axis(logits, labels[:, None], axis=1) + 2.0
    np.put_along_axis(logits, labels[:, None], boosted, axis=1)
    return Data(labels, logits.astype(dtype))


def _binary_maps(shape, dtype, rng):
    labels = (rng.random(shape) < 0.3).astype(np.int64)
    logits = (rng.standard_normal(shape) + 1.5 * (2 * labels - 1)).astype(dtype)
    return Data(labels, logits)


def _ratings(shape, dtype, rng):
    n, c = shape
    y = rng.integers(0, c, n)
    logits = rng.standard_normal(shape)
    logits[np.arange(n), y] += 1.5
    return Data(y, _softmax(logits, 1).astype(dtype))


def _relevance(shape, dtype, rng):
    n = shape[0]
    y = rng.integers(0, 5, n).astype(dtype)
    return Data(y, (0.5 * y + rng.standard_normal(n)).astype(dtype))


def _relevance_lists(list_size):
    """Relevance in contiguous query lists of `list_size` items (group ids
    passed to fastloss; the peers reshape to (n / list_size, list_size))."""
    def make(shape, dtype, rng):
        d = _relevance(shape, dtype, rng)
        d.call_kwargs = {"group": np.arange(shape[0]) // list_size}
        return d
    return make


# ------------------------------------------------------------------ catalog
_N = {"full": (10**7,), "quick": (2 * 10**6,), "tiny": (1000,)}
_N3 = {"full": (3_333_333, 3), "quick": (666_667, 3), "tiny": (333, 3)}
_Q3 = (0.1, 0.5, 0.9)
_LOGITS = {"full": (10**5, 1000), "quick": (10**4, 1000), "tiny": (64, 10)}
_ROWS = {"full": (10**5, 100), "quick": (2 * 10**4, 100), "tiny": (64, 10)}
_LISTS = {"full": (100_000,), "quick": (20_000,), "tiny": (1000,)}    # lists of 100
_SEG = {"full": (8, 21, 256, 256), "quick": (2, 21, 128, 128), "tiny": (2, 4, 8, 8)}

def _n_classes(data):
    return data.y_pred.shape[1]


CASES = (
    # -- regression ---------------------------------------------------------
    Case("mse", "mse", "regression", _N, "float64", _regression, peers=(
        numpy_peer(npr.mean_squared_error),
        torch_peer("mse", "torch mse_loss fwd+bwd"),
        sklearn_peer(_sk("HalfSquaredError"), "sklearn HalfSquaredError", 2.0, 2.0))),
    Case("mse_out", "mse", "regression", _N, "float64", _regression, into_out=True, peers=(
        numpy_peer(npr.mean_squared_error),
        sklearn_peer(_sk("HalfSquaredError"), "sklearn HalfSquaredError into loss_out/gradient_out",
                     2.0, 2.0),)),
    Case("mae", "mae", "regression", _N, "float64", _regression, peers=(
        numpy_peer(npr.mean_absolute_error),
        torch_peer("mae", "torch l1_loss fwd+bwd"),
        sklearn_peer(_sk("AbsoluteError"), "sklearn AbsoluteError", 1.0, 1.0))),
    Case("huber", "huber", "regression", _N, "float64", _regression, params={"delta": 1.0},
         peers=(numpy_peer(npr.huber, delta=1.0),
                torch_peer("huber", "torch huber_loss fwd+bwd", delta=1.0),
                sklearn_peer(_sk("HuberLoss", delta=1.0), "sklearn HuberLoss", 1.0, 1.0))),
    Case("pinball", "pinball_loss", "regression", _N, "float64", _regression,
         params={"quantile": 0.3}, peers=(
             numpy_peer(npr.pinball_loss, quantile=0.3),
             torch_peer("pinball", "torch pinball formula fwd+bwd (autograd)", quantile=0.3),
             sklearn_peer(_sk_pinball(0.3), "sklearn PinballLoss", 1.0, 1.0))),
    # three quantiles in one pass (sklearn's PinballLoss takes one)
    Case("pinball_3q", "pinball_loss", "regression", _N3, "float64", _regression,
         params={"quantile": _Q3}, peers=(
             numpy_peer(npr.pinball_loss, quantile=_Q3),
             torch_peer("pinball", "torch pinball formula fwd+bwd (autograd)", quantile=_Q3))),
    Case("log_cosh", "log_cosh", "regression", _N, "float64", _regression, peers=(
        numpy_peer(npr.log_cosh),
        torch_peer("log_cosh", "torch log-cosh formula fwd+bwd"))),
    Case("poisson", "poisson", "regression", _N, "float64", _poisson_log,
         params={"log_input": True}, peers=(
             numpy_peer(npr.poisson, log_input=True),
             torch_peer("poisson_log", "torch poisson_nll_loss(log_input) fwd+bwd"),
             sklearn_peer(_sk("HalfPoissonLoss"), "sklearn HalfPoissonLoss", 1.0, 1.0))),
    Case("expectile", "expectile_loss", "regression", _N, "float64", _regression,
         params={"expectile": 0.3}, peers=(
             numpy_peer(npr.expectile, expectile=0.3),
             torch_peer("expectile", "torch expectile formula fwd+bwd (autograd)",
                        expectile=0.3))),
    Case("pseudo_huber", "pseudo_huber", "regression", _N, "float64", _regression,
         params={"delta": 1.0}, peers=(
             numpy_peer(npr.pseudo_huber, delta=1.0),
             torch_peer("pseudo_huber", "torch pseudo-Huber formula fwd+bwd (autograd)",
                        delta=1.0))),
    Case("tweedie", "tweedie_deviance", "regression", _N, "float64", _poisson_log,
         params={"power": 1.5, "log_input": True}, peers=(
             numpy_peer(npr.tweedie_log, power=1.5),
             torch_peer("tweedie_log", "torch Tweedie deviance formula fwd+bwd (autograd)",
                        power=1.5),
             _sk_tweedie_peer(1.5))),
    # -- classification -----------------------------------------------------
    Case("sparse_ce", "sparse_categorical_crossentropy", "classification", _LOGITS,
         "float32", _class_logits, params={"from_logits": True}, peers=(
             numpy_peer(npr.sparse_categorical_crossentropy),
             torch_peer("sparse_ce", "torch cross_entropy fwd+bwd", labels_long=True),
             sklearn_peer(_sk("HalfMultinomialLoss", n_classes=_n_classes),
                          "sklearn HalfMultinomialLoss", 1.0, 1.0, labels=True))),
    # torch's segmentation layout: classes on axis 1, read with their stride
    Case("sparse_ce_nchw", "sparse_categorical_crossentropy", "classification", _SEG,
         "float32", _segmentation_logits, params={"from_logits": True, "class_axis": 1},
         peers=(numpy_peer(_sparse_ce_class_axis1),
                torch_peer("sparse_ce", "torch cross_entropy (N,C,H,W) fwd+bwd",
                           labels_long=True))),
    # the same numbers in the (N·H·W, C) layout (class_axis=-1)
    Case("sparse_ce_nhwc", "sparse_categorical_crossentropy", "classification",
         {size: (shape[0] * shape[2] * shape[3], shape[1]) for size, shape in _SEG.items()},
         "float32", _segmentation_logits_rows, params={"from_logits": True}, peers=(
             numpy_peer(npr.sparse_categorical_crossentropy),
             torch_peer("sparse_ce", "torch cross_entropy (N·H·W, C) fwd+bwd",
                        labels_long=True))),
    Case("categorical_ce", "categorical_crossentropy", "classification", _ROWS, "float32",
         _soft_targets, params={"from_logits": True}, peers=(
             numpy_peer(npr.categorical_crossentropy),
             torch_peer("soft_ce", "torch cross_entropy(prob. targets) fwd+bwd"))),
    Case("bce", "binary_crossentropy", "classification", _N, "float32", _binary_logits,
         params={"from_logits": True}, peers=(
             numpy_peer(npr.binary_crossentropy),
             torch_peer("bce_logits", "torch BCE-with-logits fwd+bwd"),
             sklearn_peer(_sk("HalfBinomialLoss"), "sklearn HalfBinomialLoss", 1.0, 1.0))),
    Case("binary_focal", "binary_focal_crossentropy", "classification", _N, "float32",
         _binary_logits, params={"gamma": 2.0, "alpha": 0.25, "from_logits": True}, peers=(
             numpy_peer(npr.binary_focal_crossentropy, gamma=2.0, alpha=0.25),
             torch_peer("binary_focal", "torch sigmoid focal formula fwd+bwd"))),
    Case("categorical_focal", "categorical_focal_crossentropy", "classification", _ROWS,
         "float32", _onehot_targets, params={"gamma": 2.0, "alpha": 0.25, "from_logits": True},
         peers=(numpy_peer(npr.categorical_focal_crossentropy, gamma=2.0, alpha=0.25),
                torch_peer("categorical_focal", "torch softmax focal formula fwd+bwd"))),
    Case("balanced_ce", "balanced_crossentropy", "classification", _N, "float32",
         _binary_logits, params={"beta": 0.3, "from_logits": True}, peers=(
             numpy_peer(npr.balanced_crossentropy, beta=0.3),
             torch_peer("balanced_ce", "torch BCE-with-logits(pos_weight) fwd+bwd", beta=0.3))),
    Case("hinge", "hinge", "classification", _N, "float64", _pm1, peers=(
        numpy_peer(npr.hinge),
        torch_peer("hinge", "torch clamp formula fwd+bwd"))),
    Case("squared_hinge", "squared_hinge", "classification", _N, "float64", _pm1, peers=(
        numpy_peer(npr.squared_hinge),
        torch_peer("squared_hinge", "torch clamp formula fwd+bwd"))),
    Case("multiclass_hinge", "multiclass_hinge", "classification", _LOGITS, "float32",
         _class_logits, peers=(
             numpy_peer(npr.multiclass_hinge),
             torch_peer("multiclass_hinge", "torch Crammer-Singer formula fwd+bwd",
                        labels_long=True))),
    # -- distribution -------------------------------------------------------
    Case("kl_divergence", "kl_divergence", "distribution", _ROWS, "float32",
         _log_distributions, params={"log_input": True}, peers=(
             numpy_peer(npr.kl_divergence),
             torch_peer("kl_log_input", "torch kl_div(batchmean) fwd+bwd"))),
    Case("cosine", "cosine_similarity_loss", "distribution",
         {"full": (10**5, 128), "quick": (2 * 10**4, 128), "tiny": (64, 8)}, "float32",
         _embeddings, peers=(
             numpy_peer(npr.cosine_similarity_loss),
             torch_peer("cosine", "torch 1 - cosine_similarity fwd+bwd"))),
    Case("hellinger", "hellinger_distance", "distribution", _ROWS, "float32",
         _distributions, peers=(
             numpy_peer(npr.hellinger_distance),
             torch_peer("hellinger", "torch Hellinger formula fwd+bwd"))),
    # -- detection ----------------------------------------------------------
    Case("giou", "giou_loss", "detection",
         {"full": (10**6, 4), "quick": (2 * 10**5, 4), "tiny": (100, 4)}, "float32", _boxes,
         peers=(numpy_peer(npr.giou_loss),
                torch_peer("giou", "torch GIoU formula fwd+bwd"))),
    Case("diou", "diou_loss", "detection",
         {"full": (10**6, 4), "quick": (2 * 10**5, 4), "tiny": (100, 4)}, "float32", _boxes,
         peers=(numpy_peer(npr.diou_loss),
                torch_peer("diou", "torch torchvision-DIoU formula fwd+bwd"))),
    Case("ciou", "ciou_loss", "detection",
         {"full": (10**6, 4), "quick": (2 * 10**5, 4), "tiny": (100, 4)}, "float32", _boxes,
         peers=(numpy_peer(npr.ciou_loss),
                torch_peer("ciou", "torch torchvision-CIoU formula fwd+bwd"))),
    # -- segmentation -------------------------------------------------------
    # Lovász gradients are differences of consecutive Jaccard values (about
    # 1/P apart): the torch reference, run in float32 as its users run it,
    # keeps only ~3 digits of them, and float32 ties reorder the sort.  So
    # the gradient is compared to 1e-2 of its largest entry (values to 2e-5).
    Case("lovasz_softmax", "lovasz_softmax", "segmentation", _SEG, "float32",
         _segmentation_probas, params={"per_image": False}, streaming=False,
         grad_rtol=1e-2, peers=(
             numpy_peer(npr.lovasz_softmax),
             torch_peer("lovasz_softmax", "torch reference algorithm (sort/cumsum) fwd+bwd",
                        labels_long=True))),
    Case("lovasz_hinge", "lovasz_hinge", "segmentation",
         {"full": (8, 256, 256), "quick": (4, 128, 128), "tiny": (2, 8, 8)}, "float32",
         _binary_maps, params={"per_image": True}, streaming=False, grad_rtol=1e-2, peers=(
             numpy_peer(npr.lovasz_hinge),
             torch_peer("lovasz_hinge", "torch reference algorithm (sort/cumsum) fwd+bwd",
                        labels_long=True))),
    Case("jaccard", "jaccard_loss", "segmentation", _SEG, "float32", _segmentation_onehot,
         params={"class_axis": 1}, peers=(
             numpy_peer(npr.jaccard_loss),
             torch_peer("jaccard", "torch soft-Jaccard formula fwd+bwd"))),
    Case("f1", "f1_loss", "segmentation", _SEG, "float32", _segmentation_onehot,
         params={"class_axis": 1}, peers=(
             numpy_peer(npr.f1_loss),
             torch_peer("f1", "torch soft-Dice formula fwd+bwd"))),
    # Dice from a label map + logits: fastloss softmaxes along the class axis
    # and never builds the one-hot; torch runs softmax + one_hot + Dice.
    Case("dice_label_map", "f1_loss", "segmentation", _SEG, "float32",
         _segmentation_label_logits, params={"class_axis": 1, "from_logits": True}, peers=(
             numpy_peer(npr.dice_label_map),
             torch_peer("dice_label_map", "torch softmax + one_hot + soft-Dice fwd+bwd",
                        labels_long=True))),
    # -- agreement ----------------------------------------------------------
    Case("kappa", "kappa_loss", "agreement",
         {"full": (10**6, 5), "quick": (2 * 10**5, 5), "tiny": (200, 4)}, "float64", _ratings,
         params={"weights": "quadratic"}, peers=(
             numpy_peer(npr.kappa_loss, weights="quadratic"),
             torch_peer("kappa", "torch soft-kappa formula fwd+bwd", labels_long=True))),
    # -- ranking ------------------------------------------------------------
    Case("ranknet", "ranknet", "ranking",
         {"full": (4096,), "quick": (2048,), "tiny": (60,)}, "float64", _relevance,
         params={"sigma": 1.0}, streaming=False, peers=(
             numpy_peer(npr.ranknet),
             torch_peer("ranknet", "torch broadcasting + autograd fwd+bwd"))),
    Case("ranknet_lists", "ranknet", "ranking", _LISTS, "float64", _relevance_lists(100),
         params={"sigma": 1.0}, streaming=False, peers=(
             numpy_peer(npr.ranknet, list_size=100),
             torch_peer("ranknet", "torch (G, L, L) broadcasting + autograd fwd+bwd",
                        list_size=100))),
    Case("lambdarank", "lambdarank", "ranking",
         {"full": (4096,), "quick": (2048,), "tiny": (60,)}, "float64", _relevance,
         params={"sigma": 1.0}, streaming=False, peers=(
             numpy_peer(npr.lambdarank),
             torch_peer("lambdarank", "torch |dNDCG| matrix (no grad) + autograd fwd+bwd"))),
    Case("lambdarank_lists", "lambdarank", "ranking", _LISTS, "float64", _relevance_lists(100),
         params={"sigma": 1.0, "k": 10}, streaming=False, peers=(
             numpy_peer(npr.lambdarank, k=10, list_size=100),
             torch_peer("lambdarank", "torch |dNDCG| matrix (no grad) + autograd fwd+bwd",
                        k=10, list_size=100))),
)

BY_NAME = {case.name: case for case in CASES}


def select(names=None, cases=None):
    """Cases by id or by any fastloss name of their loss (``mse``, ``Huber``...).

    A name that is a case id selects that case alone (``mse`` is not also
    ``mse_out``); any other name selects every case of that loss.
    """
    cases = CASES if cases is None else cases
    if not names:
        return list(cases)
    chosen = []
    for name in names:
        key = name.lower()
        hits = [c for c in cases if c.name == key]
        if not hits:
            hits = [c for c in cases if c.loss == key or _aliases(c, key)]
        if not hits:
            raise ValueError(f"--loss: no benchmark case for {name!r}; "
                             f"known: {', '.join(c.name for c in cases)}")
        chosen += [c for c in hits if c not in chosen]
    return chosen


def _aliases(case, key):
    try:
        import fastloss
        return type(case.loss_object()) is type(fastloss.get(key))
    except Exception:   # the loss or the name is not in this build
        return False


# -- PyTorch training steps through fastloss.torch (issue 16) ---------------
# A group of their own (_bench/torch_step.py): ``--loss torch_step`` selects
# all of them, a step case's id selects that one.  A loss name and a run of
# every case leave them out: they time a training step (torch's autograd
# around the kernel), not loss_gradient.
from . import torch_step as _torch_step  # noqa: E402

_select_loss_cases = select


def select(names=None, cases=None):  # noqa: F811 - extends the select above
    """`select` above, plus the training-step group: the name ``torch_step``
    (every step case) or a step case's id (``torch_step_sparse_ce``...)."""
    if not names or cases is not None:
        return _select_loss_cases(names, cases)
    by_id = {case.name: case for case in _torch_step.CASES}
    steps, rest = [], []
    for name in names:
        key = name.lower()
        hits = (list(_torch_step.CASES) if key == _torch_step.GROUP
                else [by_id[key]] if key in by_id else None)
        if hits is None:
            rest.append(name)
            continue
        if not _torch_step.available():
            raise ValueError(f"--loss: {name!r} is a PyTorch training step; it needs torch "
                             f"(pip install 'fastloss[torch]')")
        steps += [case for case in hits if case not in steps]
    return (_select_loss_cases(rest) if rest else []) + steps
