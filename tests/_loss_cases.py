"""Small valid inputs for every registered loss, and the checks the property
tests share (tests/test_properties.py and the crash-isolating subprocess).

Each loss gets a ``Spec``: how its inputs look (read from the loss classes'
docstrings and SPEC §2-§3), which constructor parameters are valid, which
are not (and the argument the error must name), and where sample weights go.
Data are drawn from a NumPy generator seeded by the caller, so a failing
hypothesis example (which prints the seed) is reproducible by hand.

The module also runs as a worker (``python _loss_cases.py SEED START``): it
builds the cases that could crash the interpreter (unaligned and stride-0
arrays, out= sharing memory with any input, odd and huge labels) and prints
one line per case, so a segfault is reported against the case that caused it.
"""
from __future__ import annotations

import json
import os
import sys
import traceback

import numpy as np

import fastloss as fl

REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- the specs
class Spec:
    """How to call one loss.

    kind      input family (names the generator below)
    params    callables C -> constructor kwargs (valid variants)
    bad       callables C -> (constructor kwargs, argument the error names)
    labels    name of the integer array argument ("y_true", "group") or None
    int_ok    integer-valued y_pred is valid input for this kind
    """

    def __init__(self, name, kind, params=(lambda C: {},), bad=(), labels=None, int_ok=False,
                 reductions=REDUCTIONS):
        self.name = name
        self.kind = kind
        self.params = params
        self.bad = bad
        self.labels = labels
        self.int_ok = int_ok
        self.reductions = reductions

    @property
    def cls(self):
        return type(fl.get(self.name))

    def __repr__(self):
        return self.name


def _p(**kw):
    return lambda C: dict(kw)


def _bad(name, **kw):
    return lambda C: (dict(kw), name)


_CW = lambda C: {"class_weight": np.linspace(0.5, 2.0, C)}      # noqa: E731

SPECS = [
    Spec("mean_squared_error", "reg", int_ok=True),
    Spec("mean_absolute_error", "reg", int_ok=True),
    Spec("huber", "reg", (_p(), _p(delta=0.3), _p(delta=3.0)),
         (_bad("delta", delta=0.0), _bad("delta", delta=-1.0), _bad("delta", delta=float("nan"))),
         int_ok=True),
    Spec("log_cosh", "reg", int_ok=True),
    Spec("pinball_loss", "reg", (_p(), _p(quantile=0.1), _p(quantile=0.9)),
         (_bad("quantile", quantile=0.0), _bad("quantile", quantile=1.0),
          _bad("quantile", quantile=float("nan")), _bad("quantile", quantile=[[0.5]])),
         int_ok=True),
    Spec("poisson", "poisson", (_p(log_input=False), _p(log_input=True)),
         (_bad("log_input", log_input="yes"),), int_ok=True),
    Spec("binary_crossentropy", "binary",
         (_p(), _p(from_logits=True), _p(label_smoothing=0.1), _p(pos_weight=2.0),
          _p(from_logits=True, pos_weight=0.5, label_smoothing=0.2)),
         (_bad("label_smoothing", label_smoothing=1.5), _bad("label_smoothing", label_smoothing=-0.1),
          _bad("pos_weight", pos_weight=-1.0), _bad("from_logits", from_logits="no"))),
    Spec("balanced_crossentropy", "binary", (_p(), _p(beta=0.3), _p(beta=0.8, from_logits=True)),
         (_bad("beta", beta=1.5), _bad("beta", beta=-0.5))),
    Spec("binary_focal_crossentropy", "binary",
         (_p(), _p(gamma=0.0), _p(alpha=None), _p(from_logits=True), _p(gamma=1.5, alpha=0.6,
                                                                       from_logits=True),
          _p(gamma=0.5)),
         (_bad("gamma", gamma=-1.0), _bad("alpha", alpha=1.5), _bad("alpha", alpha=-0.1))),
    Spec("hinge", "hinge", int_ok=True),
    Spec("squared_hinge", "hinge", int_ok=True),
    Spec("categorical_crossentropy", "dense_prob",
         (_p(), _p(from_logits=True), _p(label_smoothing=0.1), _CW,
          lambda C: {"from_logits": True, "label_smoothing": 0.2, **_CW(C)}),
         (_bad("label_smoothing", label_smoothing=2.0),
          lambda C: ({"class_weight": np.ones(C + 1)}, "class_weight"),
          lambda C: ({"class_weight": -np.ones(C)}, "class_weight"))),
    Spec("sparse_categorical_crossentropy", "sparse",
         (_p(), _p(from_logits=True), _CW, _p(ignore_index=-100),
          lambda C: {"from_logits": True, "ignore_index": 2 ** 62, **_CW(C)}),
         (lambda C: ({"class_weight": np.ones(C + 2)}, "class_weight"),
          _bad("ignore_index", ignore_index=1.5)),
         labels="y_true"),
    Spec("categorical_focal_crossentropy", "dense_prob",
         (_p(), _p(from_logits=True), _p(gamma=0.0), _p(alpha=None, gamma=1.0), _p(gamma=0.5),
          _p(gamma=0.5, from_logits=True)),
         (_bad("gamma", gamma=-2.0), _bad("alpha", alpha=2.0))),
    Spec("multiclass_hinge", "sparse", labels="y_true"),
    Spec("kl_divergence", "kl", (_p(log_input=False), _p(log_input=True))),
    Spec("cosine_similarity_loss", "cosine", int_ok=True),
    Spec("hellinger_distance", "dense_prob"),
    Spec("giou_loss", "boxes", (_p(), _p(eps=0.0), _p(eps=1e-3)), (_bad("eps", eps=-1.0),),
         int_ok=True),
    Spec("kappa_loss", "kappa",
         (_p(), _p(weights="linear"), _p(weights="quadratic"), _p(from_logits=True),
          _p(weights="quadratic", from_logits=True)),
         (_bad("weights", weights="cubic"), _bad("from_logits", from_logits=3)),
         labels="y_true", reductions=(None,)),
    Spec("lovasz_softmax", "lovasz_softmax",
         (_p(), _p(classes="all"), _p(classes=[0, 1]), _p(per_image=True), _p(ignore_index=255),
          _p(from_logits=True), _p(per_image=True, classes="all", ignore_index=-1)),
         (_bad("classes", classes="some"), lambda C: ({"classes": [C + 3]}, "classes"),
          _bad("per_image", per_image="yes")),
         labels="y_true"),
    Spec("lovasz_hinge", "lovasz_hinge",
         (_p(), _p(per_image=False), _p(ignore_index=255), _p(per_image=False, ignore_index=-1)),
         (_bad("ignore_index", ignore_index=0.5),), labels="y_true"),
    Spec("jaccard_loss", "overlap", (_p(), _p(smooth=1.0), _p(class_axis=1), _p(class_axis=-1)),
         (_bad("smooth", smooth=-1.0), _bad("class_axis", class_axis=7)), int_ok=True),
    Spec("f1_loss", "overlap", (_p(), _p(smooth=1.0), _p(class_axis=1), _p(class_axis=-1)),
         (_bad("smooth", smooth=-1.0), _bad("class_axis", class_axis=-9)), int_ok=True),
    Spec("ranknet", "rank", (_p(), _p(sigma=0.5), _p(group="ids"), _p(sigma=2.0, group="ids")),
         (_bad("sigma", sigma=0.0), _bad("sigma", sigma=-1.0)), labels="group", int_ok=True),
    Spec("lambdarank", "rank", (_p(), _p(k=1), _p(k=3, group="ids"), _p(sigma=2.0, group="ids")),
         (_bad("sigma", sigma=0.0), _bad("k", k=0), _bad("k", k=1.5)), labels="group",
         int_ok=True),
    # box_format variants are swept by tests/test_contract.py (BOX_FORMATS):
    # test_properties' bad boxes (x2 = x1 - 1) are bad in xyxy only
    Spec("diou_loss", "boxes", (_p(), _p(eps=0.0), _p(eps=1e-3)),
         (_bad("eps", eps=-1.0), _bad("box_format", box_format="xyhw")), int_ok=True),
    Spec("ciou_loss", "boxes", (_p(), _p(eps=0.0), _p(eps=1e-3)),
         (_bad("eps", eps=-1.0), _bad("box_format", box_format="XYXY")), int_ok=True),
    Spec("expectile_loss", "reg", (_p(), _p(expectile=0.1), _p(expectile=0.9)),
         (_bad("expectile", expectile=0.0), _bad("expectile", expectile=1.0),
          _bad("expectile", expectile=float("nan"))), int_ok=True),
    Spec("pseudo_huber", "reg", (_p(), _p(delta=0.3), _p(delta=3.0)),
         (_bad("delta", delta=0.0), _bad("delta", delta=-1.0)), int_ok=True),
    # powers where y = 0 is in the domain (the generator draws Poisson counts),
    # log input or power 0: the property tests put -0.0 and booleans in y_pred
    # as valid data, and a rate of 0 is outside the domain for power >= 1
    # (rate input is tested in test_boosting_losses.py)
    Spec("tweedie_deviance", "poisson",
         (_p(log_input=True), _p(power=0.0), _p(power=1.0, log_input=True),
          _p(power=1.2, log_input=True), _p(power=0.0, log_input=True)),
         (_bad("power", power=0.5), _bad("power", power=-1.0), _bad("power", power=float("nan")),
          _bad("log_input", log_input="yes"))),
    Spec("tversky_loss", "overlap",
         (_p(), _p(alpha=0.3, beta=0.7), _p(class_axis=1, gamma=0.75), _p(class_axis=-1, gamma=2.0),
          _p(class_axis=1, from_logits=True), _p(class_axis=-1, alpha=1.0, beta=0.0, smooth=1.0)),
         (_bad("alpha", alpha=1.5), _bad("beta", beta=-0.1), _bad("gamma", gamma=-1.0),
          _bad("from_logits", from_logits="yes"), _bad("ignore_index", ignore_index=0.5),
          _bad("class_axis", class_axis=5)), int_ok=True),
]

BY_NAME = {s.name: s for s in SPECS}


def all_registered_classes():
    return {type(fl.get(n)) for n in fl.available()}


# --------------------------------------------------------------- a valid call
class Call:
    """One valid call: arrays, constructor params, call-time kwargs.

    ``arrays`` maps argument name -> array ("y_true", "y_pred",
    "sample_weight", "group"); ``params`` are constructor kwargs.
    """

    def __init__(self, spec, params, arrays):
        self.spec = spec
        self.params = params
        self.arrays = arrays

    def copy(self):
        return Call(self.spec, dict(self.params), dict(self.arrays))

    def loss(self, reduction):
        kw = dict(self.params)
        kw.pop("group", None)
        if reduction is not None:
            kw["reduction"] = reduction
        return fl.get(self.spec.name, **kw)

    def args(self):
        a = self.arrays
        call_kw = {}
        if "group" in a:
            call_kw["group"] = a["group"]
        return (a["y_true"], a["y_pred"], a.get("sample_weight")), call_kw

    def function_value(self, reduction):
        fn = getattr(fl, self.spec.name)
        kw = dict(self.params)
        kw.pop("group", None)
        if reduction is not None:
            kw["reduction"] = reduction
        if "group" in self.arrays:
            kw["group"] = self.arrays["group"]
        a = self.arrays
        return fn(a["y_true"], a["y_pred"], a.get("sample_weight"), **kw)

    def weight_len(self):
        """Length of sample_weight, or None where the loss takes none."""
        k, yp, p = self.spec.kind, self.arrays["y_pred"], self.params
        if k == "lovasz_softmax":
            return yp.shape[0] if p.get("per_image") else None
        if k == "lovasz_hinge":
            return yp.shape[0] if p.get("per_image", True) else None
        if yp.ndim == 1 and k in ("dense_prob", "kl", "cosine"):
            return 1
        return yp.shape[0]


def _dirichlet(rng, n, C):
    p = rng.gamma(1.0, size=(n, C)) + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def make_call(spec, rng, size=8, C=None, params=None, weighted=False, integral=False,
              one_d=None):
    """A valid Call for `spec`: size ~ number of samples; data are float64
    (labels int64) and integral-valued when `integral` (for int dtypes)."""
    C = C if C is not None else int(rng.integers(2, 5 if rng.integers(3) else 12))
    if params is None:
        params = spec.params[int(rng.integers(len(spec.params)))](C)
    params = dict(params)
    n = max(1, int(size))
    k = spec.kind
    logits = bool(params.get("from_logits"))
    one_d = bool(rng.integers(3) == 0) if one_d is None else one_d
    shape = (n,) if one_d else (n, int(rng.integers(1, 4 if rng.integers(3) else 10)))
    rint = np.rint if integral else (lambda x: x)
    a = {}
    if k == "reg":
        a["y_true"] = rint(rng.normal(size=shape) * 2)
        a["y_pred"] = rint(rng.normal(size=shape) * 2)
    elif k == "poisson":
        a["y_true"] = rng.poisson(2.0, size=shape).astype(np.float64)
        if params.get("log_input"):
            a["y_pred"] = rint(rng.normal(size=shape))
        else:
            a["y_pred"] = rint(rng.uniform(0.05, 4.0, size=shape))
    elif k == "binary":
        y = rng.integers(0, 2, size=shape).astype(np.float64)
        if rng.integers(3) == 0 and not integral:
            y = rng.uniform(size=shape)                    # soft labels
        a["y_true"] = y
        a["y_pred"] = rint(rng.normal(size=shape) * 2) if logits else \
            rint(rng.uniform(0.001, 0.999, size=shape))
    elif k == "hinge":
        y = rng.integers(0, 2, size=shape).astype(np.float64)
        a["y_true"] = 2 * y - 1 if rng.integers(2) else y
        a["y_pred"] = rint(rng.normal(size=shape) * 2)
    elif k in ("dense_prob", "kl", "cosine"):
        if k == "cosine":
            yt, yp = rint(rng.normal(size=(n, C)) * 2), rint(rng.normal(size=(n, C)) * 2)
        else:
            yt = _dirichlet(rng, n, C)
            if k == "kl" and params.get("log_input"):
                yp = np.log(_dirichlet(rng, n, C))
            elif logits:
                yp = rint(rng.normal(size=(n, C)) * 2)
            else:
                yp = _dirichlet(rng, n, C)
        if one_d:                                     # one row of C values
            yt, yp = yt[0], yp[0]
        a["y_true"], a["y_pred"] = yt, yp
    elif k == "sparse":
        lab = rng.integers(0, C, size=n)
        ig = params.get("ignore_index")
        if ig is not None and n > 1:
            lab[rng.random(n) < 0.3] = ig
        a["y_true"] = lab.astype(np.int64)
        if logits or spec.name == "multiclass_hinge":
            a["y_pred"] = rint(rng.normal(size=(n, C)) * 2)
        else:
            a["y_pred"] = _dirichlet(rng, n, C)
    elif k == "boxes":
        def boxes():
            x1, y1 = rng.uniform(0, 10, size=n), rng.uniform(0, 10, size=n)
            w, h = rng.uniform(0, 5, size=n), rng.uniform(0, 5, size=n)
            return rint(np.stack([x1, y1, x1 + w, y1 + h], axis=1))
        a["y_true"], a["y_pred"] = boxes(), boxes()
    elif k == "kappa":
        a["y_true"] = rng.integers(0, C, size=n).astype(np.int64)
        a["y_pred"] = rng.normal(size=(n, C)) * 2 if logits else _dirichlet(rng, n, C)
    elif k == "lovasz_softmax":
        four = params.get("per_image") or rng.integers(2)
        ig = params.get("ignore_index")
        if four:
            B, H, W = max(1, n // 4), int(rng.integers(1, 4)), int(rng.integers(1, 4))
            lab = rng.integers(0, C, size=(B, H, W))
            x = rng.normal(size=(B, C, H, W)) * 2
            axis = 1
        else:
            lab = rng.integers(0, C, size=n)
            x = rng.normal(size=(n, C)) * 2
            axis = 1
        if ig is not None:
            lab[rng.random(lab.shape) < 0.2] = ig
        if not logits:
            x = np.exp(x - x.max(axis=axis, keepdims=True))
            x /= x.sum(axis=axis, keepdims=True)
        a["y_true"], a["y_pred"] = lab.astype(np.int64), x
    elif k == "lovasz_hinge":
        shp = (max(1, n // 3), int(rng.integers(1, 4)), int(rng.integers(1, 4))) \
            if rng.integers(2) else (n,)
        lab = rng.integers(0, 2, size=shp)
        ig = params.get("ignore_index")
        if ig is not None:
            lab[rng.random(shp) < 0.2] = ig
        a["y_true"], a["y_pred"] = lab.astype(np.int64), rint(rng.normal(size=shp) * 2)
    elif k == "overlap":
        ca = params.get("class_axis")
        if ca is None:
            shp = shape
        elif ca == 1:
            shp = (n, C) if rng.integers(2) else (n, C, 2, 2)
        else:
            shp = (n, C)
        a["y_true"] = rng.integers(0, 2, size=shp).astype(np.float64)
        a["y_pred"] = rint(rng.uniform(size=shp))
    elif k == "rank":
        a["y_true"] = rng.integers(0, 4, size=n).astype(np.float64)
        a["y_pred"] = rint(rng.normal(size=n) * 2)
        if params.get("group") == "ids":
            params.pop("group")
            ng = int(rng.integers(1, 4))
            ids = rng.choice(np.array([-7, 3, 2 ** 40, 0, 11]), size=ng, replace=False)
            a["group"] = ids[rng.integers(0, ng, size=n)].astype(np.int64)
        else:
            params.pop("group", None)
    else:
        raise AssertionError(k)
    if not logits and not integral and rng.integers(4) == 0:
        a["y_pred"] = _exact_probabilities(k, a["y_pred"], rng, params)
    call = Call(spec, params, a)
    if weighted:
        m = call.weight_len()
        if m is not None:
            w = rng.uniform(0.0, 2.0, size=m)
            w[rng.random(m) < 0.2] = 0.0
            a["sample_weight"] = w
    return call


def _exact_probabilities(kind, yp, rng, params):
    """Some probabilities exactly 0 and 1 (one-hot rows, 0/1 binary)."""
    yp = np.array(yp, dtype=np.float64)
    if kind == "binary":
        hit = rng.random(yp.shape) < 0.5
        yp[hit] = rng.integers(0, 2, size=int(hit.sum()))
    elif kind in ("dense_prob", "sparse", "kappa") or (kind == "kl"
                                                       and not params.get("log_input")):
        if yp.ndim == 1:
            yp = np.eye(yp.shape[0])[int(rng.integers(yp.shape[0]))]
        else:
            hit = rng.random(yp.shape[0]) < 0.6
            yp[hit] = np.eye(yp.shape[1])[rng.integers(0, yp.shape[1], size=int(hit.sum()))]
    elif kind == "lovasz_softmax":
        C = yp.shape[1]
        lab = rng.integers(0, C, size=(yp.shape[0],) + yp.shape[2:])
        yp = np.moveaxis(np.eye(C)[lab], -1, 1).copy()
    elif kind == "overlap":
        yp = np.rint(yp)
    return yp


def big_call(spec, rng, elements=48_000):
    """A call above the kernels' parallel thresholds (~`elements` values)."""
    k = spec.kind
    C = 4
    per_sample = {"reg": 1, "poisson": 1, "binary": 1, "hinge": 1, "boxes": 4, "rank": 1,
                  "lovasz_hinge": 1, "overlap": 1}.get(k, C)
    n = elements // per_sample
    params = spec.params[int(rng.integers(len(spec.params)))](C)
    if k == "rank" and params.get("group") is None:
        params["group"] = "ids"        # pairs are O(n_g^2): keep groups small below
    weighted = bool(rng.integers(2))
    while True:
        call = make_call(spec, np.random.default_rng(rng.integers(2 ** 31)), size=n, C=C,
                         params=params, weighted=weighted, one_d=(k == "rank") or None)
        if call.arrays["y_pred"].size >= elements:
            break
        n *= 2
    if k == "rank":
        call.arrays["group"] = rng.integers(0, n // 40, size=n).astype(np.int64)
    return call


# ----------------------------------------------------------------- comparing
def canonical_dtype(dt):
    """The dtype SPEC computes in: float32/float64 (any byte order) stay, the rest float64."""
    dt = np.dtype(dt)
    if dt.kind == "f" and dt.itemsize in (4, 8):
        return dt.newbyteorder("=")
    return np.dtype(np.float64)


def same(a, b):
    """Bit-identical results (floats, arrays or None); NaN equals NaN
    whatever its payload, but -0.0 and 0.0 differ."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) != isinstance(b, np.ndarray):
        return False
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if not np.array_equal(nan_a, nan_b):
        return False
    return np.where(nan_a, 0, a).tobytes() == np.where(nan_b, 0, b).tobytes()


def describe(x):
    if isinstance(x, np.ndarray):
        return f"array(dtype={x.dtype}, shape={x.shape}, {np.array2string(x.ravel()[:6])}...)"
    return repr(x)


def snapshot(arrays):
    """Bytes of every input and of the buffer under it (catches writes into
    gaps of strided views)."""
    snap = {}
    for name, arr in arrays.items():
        if not isinstance(arr, np.ndarray):
            continue
        base = arr
        while isinstance(base.base, np.ndarray):
            base = base.base
        raw = bytes(base.base) if isinstance(base.base, (bytes, bytearray)) else None
        snap[name] = (arr.copy(), np.array(base, copy=True).tobytes(), raw)
    return snap


def unchanged(arrays, snap):
    bad = []
    for name, (copy, base_bytes, raw) in snap.items():
        arr = arrays[name]
        base = arr
        while isinstance(base.base, np.ndarray):
            base = base.base
        if not same(arr, copy) or arr.tobytes() != copy.tobytes():
            bad.append(name)
        elif np.array(base, copy=True).tobytes() != base_bytes:
            bad.append(name + " (memory around the view)")
        elif raw is not None and bytes(base.base) != raw:
            bad.append(name + " (buffer)")
    return bad


# ------------------------------------------------------------------ layouts
def relayout(arr, layout):
    """The same values as `arr` in another memory layout."""
    if not isinstance(arr, np.ndarray):
        return arr
    if layout == "C":
        return np.ascontiguousarray(arr)
    if layout == "strided":                  # every other element on every axis
        buf = np.full(tuple(2 * s for s in arr.shape), 7, dtype=arr.dtype)
        view = buf[tuple(slice(None, None, 2) for _ in arr.shape)]
        view[...] = arr
        return view
    if layout == "negative":
        flipped = np.ascontiguousarray(arr[tuple(slice(None, None, -1) for _ in arr.shape)])
        return flipped[tuple(slice(None, None, -1) for _ in arr.shape)]
    if layout == "fortran":
        return np.asfortranarray(arr)
    if layout == "readonly":
        out = np.array(arr, copy=True)
        out.setflags(write=False)
        return out
    if layout == "unaligned":
        raw = bytearray(arr.nbytes + 1)
        out = np.frombuffer(raw, dtype=arr.dtype, count=arr.size, offset=1).reshape(arr.shape)
        out[...] = arr
        return out
    if layout == "stride0":
        # rows all equal to the first: a broadcast view with stride 0 on axis 0
        return np.broadcast_to(arr[:1], arr.shape)
    raise AssertionError(layout)


# ---------------------------------------------------------- the core checks
def run_all(call, reduction, *, hessian=True, out=False):
    """Every entry point once: dict of results (or the exception raised)."""
    loss = call.loss(reduction)
    (yt, yp, w), kw = call.args()
    r = {"loss": loss.loss(yt, yp, w, **kw),
         "call": loss(yt, yp, w, **kw),
         "gradient": loss.gradient(yt, yp, w, **kw),
         "loss_gradient": loss.loss_gradient(yt, yp, w, **kw),
         "function": call.function_value(reduction)}
    if hessian and has_hessian(call):
        r["gradient_hessian"] = loss.gradient_hessian(yt, yp, w, **kw)
    if out:
        buf = np.full(np.shape(yp), np.nan, dtype=canonical_dtype(np.asarray(yp).dtype))
        try:
            got = loss.gradient(yt, yp, w, out=buf, **kw)
            r["out"] = (got is buf, buf.copy())
        except (ValueError, TypeError) as exc:
            r["out"] = exc
    return r


def has_hessian(call):
    loss = call.loss(None if call.spec.reductions == (None,) else "mean")
    if not hasattr(loss, "gradient_hessian"):
        return False
    return not (hasattr(loss, "from_logits") and isinstance(loss, (fl.CategoricalCrossentropy,
                fl.SparseCategoricalCrossentropy)) and not loss.from_logits)


def consistency_failures(call, r, ref=None):
    """The SPEC §1 identities between the results of `run_all` (and, when
    `ref` is given, bit-equality with the results on canonical C arrays)."""
    fails = []
    yp = np.asarray(call.arrays["y_pred"])
    cdt = canonical_dtype(yp.dtype)
    g = r["gradient"]
    if not isinstance(g, np.ndarray) or g.dtype != cdt or g.shape != yp.shape:
        fails.append(f"gradient dtype/shape {getattr(g, 'dtype', None)} {np.shape(g)}, "
                     f"expected {cdt} {yp.shape}")
    if not same(r["loss"], r["call"]):
        fails.append(f"loss() {describe(r['loss'])} != __call__ {describe(r['call'])}")
    lv, lg = r["loss_gradient"]
    if not same(lv, r["loss"]):
        fails.append(f"loss_gradient()[0] {describe(lv)} != loss() {describe(r['loss'])}")
    if not same(lg, g):
        diff = "" if not (isinstance(lg, np.ndarray) and isinstance(g, np.ndarray)
                          and lg.shape == g.shape) else \
            f" (max |diff| {np.nanmax(np.abs(lg.astype(float) - g.astype(float)), initial=0)})"
        fails.append("loss_gradient()[1] != gradient()" + diff)
    if not same(r["function"], r["loss"]):
        fails.append(f"function form {describe(r['function'])} != class form "
                     f"{describe(r['loss'])}")
    if "gradient_hessian" in r:
        gh, h = r["gradient_hessian"]
        if not same(gh, g):
            fails.append("gradient_hessian()[0] != gradient()")
        if not isinstance(h, np.ndarray) or h.shape != yp.shape or h.dtype != cdt:
            fails.append(f"hessian dtype/shape {getattr(h, 'dtype', None)} {np.shape(h)}")
    if isinstance(r.get("out"), Exception):
        fails.append(f"gradient(out=C-contiguous {np.dtype(cdt)} array) raised: {r['out']}")
    elif "out" in r:
        is_buf, buf = r["out"]
        if not is_buf:
            fails.append("gradient(out=buf) did not return buf")
        if not same(buf, g):
            fails.append("gradient(out=buf) wrote other values than gradient()")
    if ref is not None:
        for key in ("loss", "gradient"):
            if not same(r[key], ref[key]):
                fails.append(f"{key} differs from the same values in float C-contiguous "
                             f"{cdt} arrays: {describe(r[key])} vs {describe(ref[key])}")
    return fails


def canonical_call(call):
    """The call with every array C-contiguous, native, aligned, y_pred (and
    float y_true) in the dtype SPEC computes in, labels int64."""
    c = call.copy()
    yp = np.asarray(call.arrays["y_pred"])
    cdt = canonical_dtype(yp.dtype)
    for name, arr in call.arrays.items():
        arr = np.asarray(arr)
        if name == "y_pred" or (name == "y_true" and call.spec.labels != "y_true"):
            c.arrays[name] = np.array(arr, dtype=cdt, order="C", copy=True)
        elif name == "sample_weight":
            c.arrays[name] = np.array(arr, dtype=np.float64, order="C", copy=True)
        else:
            c.arrays[name] = np.array(arr, dtype=np.int64, order="C", copy=True)
    return c


def names_argument(exc, names):
    msg = str(exc)
    return any(n in msg for n in names)


# ---------------------------------------------------- crash-prone (worker)
def crash_cases(seed):
    """Cases that could crash the interpreter.  Each is (category, spec name,
    description, seed of its own): rebuilt deterministically in `run_case`."""
    cases = []
    rng = np.random.default_rng(seed)
    for spec in SPECS:
        for layout in ("unaligned", "stride0", "unaligned", "stride0", "unaligned-big"):
            cases.append(("layout:" + layout, spec.name, layout, int(rng.integers(2 ** 31))))
        for target in ("y_pred", "y_true", "sample_weight", "group"):
            if target == "group" and spec.kind != "rank":
                continue
            cases.append(("out-aliasing", spec.name, target, int(rng.integers(2 ** 31))))
        if spec.labels:
            for bad in ("uint64_max", "float_1e20", "float_nan", "float_half", "int64_max",
                        "int64_min", "huge", "minus_one", "uint8_C", "bool"):
                cases.append(("odd-labels", spec.name, bad, int(rng.integers(2 ** 31))))
    return cases


_ODD = {
    "uint64_max": (lambda lab, C: np.where(np.arange(lab.size) == 0, 2 ** 64 - 1,
                                           lab).astype(np.uint64)),
    "float_1e20": (lambda lab, C: np.where(np.arange(lab.size) == 0, 1e20, lab).astype(float)),
    "float_nan": (lambda lab, C: np.where(np.arange(lab.size) == 0, np.nan, lab).astype(float)),
    "float_half": (lambda lab, C: np.where(np.arange(lab.size) == 0, 0.5, lab).astype(float)),
    "int64_max": (lambda lab, C: np.where(np.arange(lab.size) == 0, 2 ** 63 - 1, lab)),
    "int64_min": (lambda lab, C: np.where(np.arange(lab.size) == 0, -2 ** 63, lab)),
    "huge": (lambda lab, C: np.where(np.arange(lab.size) == 0, 2 ** 40, lab)),
    "minus_one": (lambda lab, C: np.where(np.arange(lab.size) == 0, -1, lab)),
    "uint8_C": (lambda lab, C: np.where(np.arange(lab.size) == 0, C, lab).astype(np.uint8)),
    "bool": (lambda lab, C: lab.astype(bool)),
}


def run_case(case):
    """Run one crash-prone case; return None (passed) or a failure message."""
    category, name, what, seed = case
    spec = BY_NAME[name]
    rng = np.random.default_rng(seed)
    if category.startswith("layout:"):
        if what == "unaligned-big":
            call, what = big_call(spec, rng), "unaligned"
        else:
            call = make_call(spec, rng, size=int(rng.integers(2, 70)),
                             weighted=bool(rng.integers(2)))
        if what == "stride0":
            # every row equal: keep the data valid for every kind (labels too)
            for key, arr in call.arrays.items():
                call.arrays[key] = np.ascontiguousarray(np.broadcast_to(arr[:1], arr.shape))
        ref_call = canonical_call(call)
        lay = call.copy()
        for key, arr in call.arrays.items():
            lay.arrays[key] = relayout(np.asarray(arr), what)
        reductions = spec.reductions
        red = reductions[int(rng.integers(len(reductions)))]
        snap = snapshot(lay.arrays)
        try:
            ref = run_all(ref_call, red)
            got = run_all(lay, red)
        except (ValueError, TypeError) as exc:
            return f"valid {what} input raised {type(exc).__name__}: {exc}"
        fails = consistency_failures(lay, got, ref)
        bad = unchanged(lay.arrays, snap)
        if bad:
            fails.append(f"modified the caller's {bad}")
        return "; ".join(fails) or None
    if category == "out-aliasing":
        call = make_call(spec, rng, size=int(rng.integers(2, 9)), weighted=True)
        call = canonical_call(call)
        yp = call.arrays["y_pred"]
        if what not in call.arrays:
            return None
        src = call.arrays[what]
        # one buffer big enough for the gradient; the input is a view on it
        nbytes = max(yp.nbytes, src.nbytes)
        raw = np.zeros(nbytes // 8 + 2, dtype=np.int64)
        inp = raw.view(src.dtype)[:src.size].reshape(src.shape)
        inp[...] = src
        out = raw.view(yp.dtype)[:yp.size].reshape(yp.shape)
        if what == "y_pred":
            out = inp
        call.arrays[what] = inp
        red = spec.reductions[int(rng.integers(len(spec.reductions)))]
        loss = call.loss(red)
        (yt, ypp, w), kw = call.args()
        for method in ("gradient", "loss_gradient"):
            try:
                getattr(loss, method)(yt, ypp, w, out=out, **kw)
            except (ValueError, TypeError) as exc:
                if "out" not in str(exc):
                    return f"{method}: {type(exc).__name__} does not name out: {exc}"
                continue
            except Exception as exc:                      # noqa: BLE001
                return f"{method}: {type(exc).__name__}: {exc}"
            return f"{method}(out= sharing memory with {what}) did not raise"
        return None
    if category == "odd-labels":
        call = make_call(spec, rng, size=int(rng.integers(2, 9)))
        field = spec.labels
        if field == "group" and "group" not in call.arrays:
            call.arrays["group"] = np.zeros(call.arrays["y_pred"].shape[0], dtype=np.int64)
        lab = np.asarray(call.arrays[field])
        C = 2 if spec.kind in ("lovasz_hinge", "rank") else call.arrays["y_pred"].shape[1]
        flat = _ODD[what](lab.reshape(-1), C)
        odd = flat.reshape(lab.shape)
        call.arrays[field] = odd
        red = spec.reductions[int(rng.integers(len(spec.reductions)))]
        ig = call.params.get("ignore_index")
        # which of these SPEC calls valid
        if field == "group":
            # ids are any integers; 2**64-1 is not representable in int64, so
            # it is either refused or kept distinct from every other id (a
            # uint64 array holds no -1 it could be confused with)
            valid = what in ("int64_max", "int64_min", "huge", "minus_one", "uint8_C", "bool",
                             "uint64_max")
        elif what == "bool":
            valid = True
        elif what == "uint8_C" and spec.kind == "lovasz_hinge":
            valid = ig == 2
        else:
            as_int = {"int64_max": 2 ** 63 - 1, "int64_min": -2 ** 63, "huge": 2 ** 40,
                      "minus_one": -1, "uint8_C": C}.get(what)
            valid = as_int is not None and as_int == ig
        snap = snapshot(call.arrays)
        try:
            r = run_all(call, red)
        except (ValueError, TypeError) as exc:
            if field == "group" and what == "uint64_max" and "group" in str(exc):
                return None
            if valid:
                return f"valid labels {what} raised {type(exc).__name__}: {exc}"
            if field not in str(exc):
                return f"{type(exc).__name__} does not name {field}: {exc}"
            return None
        except Exception as exc:                           # noqa: BLE001
            return f"{type(exc).__name__}: {exc}"
        if not valid:
            return (f"{field} holding {what} (first entry {flat[0]!r}) was accepted: loss "
                    f"{describe(r['loss'])}")
        fails = consistency_failures(call, r)
        if field == "group" and what != "bool":
            # ids are any integers: same result as small distinct ids in their place
            ids = np.unique(odd, return_inverse=True)[1].reshape(odd.shape)
            c2 = call.copy()
            c2.arrays["group"] = ids.astype(np.int64)
            r2 = run_all(c2, red)
            if not same(r2["loss"], r["loss"]):
                fails.append(f"group ids {what} give {describe(r['loss'])}, remapped ids "
                             f"{describe(r2['loss'])}")
        bad = unchanged(call.arrays, snap)
        if bad:
            fails.append(f"modified the caller's {bad}")
        return "; ".join(fails) or None
    raise AssertionError(category)


def worker(seed, start):
    """Run crash_cases(seed)[start:], one flushed line per case."""
    cases = crash_cases(seed)
    for i in range(start, len(cases)):
        print(json.dumps({"start": i}), flush=True)
        try:
            msg = run_case(cases[i])
        except Exception:                                   # noqa: BLE001
            msg = "unexpected exception:\n" + traceback.format_exc()
        print(json.dumps({"done": i, "fail": msg}), flush=True)
    print(json.dumps({"end": len(cases)}), flush=True)


if __name__ == "__main__":
    worker(int(sys.argv[1]), int(sys.argv[2]))
    sys.stdout.flush()
    os._exit(0)
