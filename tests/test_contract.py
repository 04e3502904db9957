"""SPEC §1 over the registry: one deterministic suite for every registered loss.

Every class ``fl.available()`` names is run through the same checks, with the
per-loss input generator the property tests use (tests/_loss_cases.py), on
every constructor variant that generator knows:

- the function form equals the class form, bit for bit;
- ``out=``: written in place and returned; a wrong shape, dtype or layout is
  a ValueError naming ``out``;
- dtypes: float32 stays float32, float64 stays float64, other real dtypes
  are computed as float64, and y_true is converted to y_pred's dtype;
- nothing to average: with every sample weight 0, ``"mean"`` is 0.0 with a
  zero gradient (never NaN), for every loss that takes sample_weight;
- the caller's arrays are never modified;
- non-contiguous input gives the same bits as the same values contiguous;
- 1, 2 and 3 threads give the same bits above the parallel threshold;
- ``reduction="sum_over_batch_size"`` (every reduction above includes it) is
  the ``"sum"`` result / the number of units ``"mean"`` averages over, value
  and gradient, and Keras 3's definition restated;
- the metadata the adapters read (``target_kind``, ``has_hessian``,
  ``hessian_needs_logits``, ``link``) agrees with what the loss does, and no
  module lists loss classes by name.

Deterministic seeds (no hypothesis): a failure names the loss, its
parameters and the seed.
"""
from __future__ import annotations

import ast
import os
import pathlib
import sys

import numpy as np
import pytest

import fastloss as fl
from fastloss import _objective

sys.path.insert(0, os.path.dirname(__file__))
import _loss_cases as lc  # noqa: E402

SPECS = {s.cls: s for s in lc.SPECS}
CLASSES = sorted(lc.all_registered_classes(), key=lambda c: c.__name__)
IDS = [c.__name__ for c in CLASSES]

# The kernels go parallel from this many elements (_kernels/_common.pxd).
MIN_PARALLEL_ELEMENTS = 32768

# the generator's input kinds -> the target_kind a loss of that kind declares
GENERATOR_TARGET_KIND = {
    "reg": "elementwise", "poisson": "elementwise", "binary": "elementwise",
    "hinge": "elementwise",
    "dense_prob": "rows", "kl": "rows", "cosine": "rows", "boxes": "rows",
    "sparse": "labels",
    "kappa": None, "lovasz_softmax": None, "lovasz_hinge": None, "overlap": None,
    "rank": None,
}


def spec_of(cls):
    spec = SPECS.get(cls)
    if spec is None:
        pytest.fail(f"{cls.__name__} is registered but tests/_loss_cases.py has no "
                    "generator for it")
    return spec


# The box generator's rows have x2, y2 >= 0, so they are valid boxes in every
# torchvision format too (as xywh / cxcywh their last two values are w, h >= 0):
# every box loss is swept in each format (SPEC §4.3).
BOX_FORMATS = ({"box_format": "xywh"}, {"box_format": "cxcywh", "eps": 1e-3})


def variants(cls, C=3):
    """Every constructor variant the generator knows, as kwargs."""
    spec = spec_of(cls)
    extra = [dict(v) for v in BOX_FORMATS] if spec.kind == "boxes" else []
    return [p(C) for p in spec.params] + extra


def make(cls, seed, params, *, size=8, weighted=True, one_d=False, C=3):
    return lc.make_call(spec_of(cls), np.random.default_rng(seed), size=size, C=C,
                        params=params, weighted=weighted, one_d=one_d)


def reductions(spec):
    """The reductions swept: the spec's, plus Keras 3's "sum_over_batch_size"
    (SPEC §4.1) on every loss that takes a reduction."""
    if spec.reductions == (None,):
        return spec.reductions
    return tuple(spec.reductions) + ("sum_over_batch_size",)


def mean_reduction(spec):
    return None if spec.reductions == (None,) else "mean"


def evaluate(call, reduction, *, hessian=True):
    """loss, gradient, loss_gradient (and gradient_hessian) of a call."""
    loss = call.loss(reduction)
    (yt, yp, w), kw = call.args()
    r = {"loss": loss.loss(yt, yp, w, **kw), "gradient": loss.gradient(yt, yp, w, **kw)}
    r["loss_gradient"] = loss.loss_gradient(yt, yp, w, **kw)
    if hessian and hasattr(loss, "gradient_hessian"):
        r["gradient_hessian"] = loss.gradient_hessian(yt, yp, w, **kw)
    return r


def same_results(a, b):
    """The keys whose results differ in a bit (tuples compared item by item)."""
    bad = []
    for key in a:
        x, y = a[key], b[key]
        pairs = zip(x, y) if isinstance(x, tuple) else [(x, y)]
        if not all(lc.same(u, v) for u, v in pairs):
            bad.append(key)
    return bad


def test_every_registered_loss_has_a_generator():
    missing = sorted(c.__name__ for c in CLASSES if c not in SPECS)
    assert not missing, f"no generator in tests/_loss_cases.py for {missing}"


# ------------------------------------------------------ function == class
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_function_form_equals_class_form(cls):
    spec = spec_of(cls)
    fn = getattr(fl, cls.function_name)
    assert type(fl.get(cls.function_name)) is cls and type(fl.get(cls.__name__)) is cls
    for i, params in enumerate(variants(cls)):
        for reduction in reductions(spec):
            call = make(cls, 100 + i, params)
            got = call.function_value(reduction)
            want = call.loss(reduction)(*call.args()[0], **call.args()[1])
            assert lc.same(got, want), (cls.__name__, params, reduction, got, want)
    assert fn.__name__ == cls.function_name


# ------------------------------------------------------------------ out=
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_out_is_written_in_place_and_checked(cls):
    spec = spec_of(cls)
    for i, params in enumerate(variants(cls)):
        call = make(cls, 200 + i, params)
        loss = call.loss(mean_reduction(spec))
        (yt, yp, w), kw = call.args()
        want = loss.gradient(yt, yp, w, **kw)
        buf = np.full(yp.shape, np.nan, dtype=want.dtype)
        assert loss.gradient(yt, yp, w, out=buf, **kw) is buf
        assert lc.same(buf, want), (cls.__name__, params)
        buf2 = np.full(yp.shape, np.nan, dtype=want.dtype)
        value, g = loss.loss_gradient(yt, yp, w, out=buf2, **kw)
        assert g is buf2 and lc.same(buf2, want), (cls.__name__, params)
        other = np.float32 if want.dtype == np.float64 else np.float64
        bad = {
            "shape": np.zeros((yp.shape[0] + 1,) + yp.shape[1:], dtype=want.dtype),
            "flat shape": np.zeros(yp.size + 1, dtype=want.dtype),
            "dtype": np.zeros(yp.shape, dtype=other),
            "layout": np.zeros(yp.shape + (2,), dtype=want.dtype)[..., 0],
        }
        if yp.ndim == 2 and min(yp.shape) > 1:
            bad["Fortran layout"] = np.zeros(yp.shape, dtype=want.dtype, order="F")
        for what, arr in bad.items():
            for method in (loss.gradient, loss.loss_gradient):
                with pytest.raises(ValueError, match="out") as info:
                    method(yt, yp, w, out=arr, **kw)
                assert "out" in str(info.value), (cls.__name__, what)


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_dtype_rules(cls):
    spec = spec_of(cls)
    red = "none" if "none" in spec.reductions else spec.reductions[0]
    for i, params in enumerate(variants(cls)):
        call = make(cls, 300 + i, params)
        yp64 = np.asarray(call.arrays["y_pred"], dtype=np.float64)
        for dtype in (np.float32, np.float64):
            c = call.copy()
            c.arrays["y_pred"] = yp64.astype(dtype)
            r = evaluate(c, red)
            assert r["gradient"].dtype == dtype, (cls.__name__, params, dtype)
            if isinstance(r["loss"], np.ndarray):
                assert r["loss"].dtype == dtype
            for key in ("gradient_hessian",):
                if key in r:
                    assert r[key][1].dtype == dtype
            if spec.labels != "y_true":
                # y_true is converted to y_pred's dtype: float64 targets give the
                # same bits as the same targets rounded to y_pred's dtype first
                yt64 = np.asarray(call.arrays["y_true"], dtype=np.float64)
                c.arrays["y_true"] = yt64
                c2 = c.copy()
                c2.arrays["y_true"] = yt64.astype(dtype)
                bad = same_results(evaluate(c, red), evaluate(c2, red))
                assert not bad, (cls.__name__, params, dtype, bad)
        # any other real dtype is computed as float64
        others = ["float16"]
        if spec.int_ok or params.get("from_logits"):
            others += ["int64", "int32"]
        for other in others:
            c = lc.make_call(spec, np.random.default_rng(350 + i), size=8, C=3,
                             params=params, weighted=True,
                             integral=np.dtype(other).kind in "iu")
            yp = np.asarray(c.arrays["y_pred"]).astype(other)
            c.arrays["y_pred"] = yp
            ref = c.copy()
            ref.arrays["y_pred"] = yp.astype(np.float64)
            got, want = evaluate(c, red), evaluate(ref, red)
            assert got["gradient"].dtype == np.float64, (cls.__name__, other)
            bad = same_results(got, want)
            assert not bad, (cls.__name__, params, other, bad)
        if not isinstance(r["loss"], np.ndarray):
            assert type(r["loss"]) is float


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_reduced_loss_is_a_python_float(cls):
    spec = spec_of(cls)
    for red in reductions(spec):
        if red == "none":
            continue
        call = make(cls, 380, variants(cls)[0])
        value = call.loss(red)(*call.args()[0], **call.args()[1])
        assert type(value) is float, (cls.__name__, red, type(value))


# ---------------------------------------------------- nothing to average
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_zero_total_weight_mean_is_zero_with_zero_gradient(cls):
    spec = spec_of(cls)
    red = mean_reduction(spec)
    tested = 0
    for i, params in enumerate(variants(cls)):
        call = make(cls, 400 + i, params, weighted=False)
        m = call.weight_len()
        if m is None:          # this variant takes no sample_weight (Lovász, one set)
            continue
        call.arrays["sample_weight"] = np.zeros(m)
        loss = call.loss(red)
        (yt, yp, w), kw = call.args()
        value, grad = loss.loss_gradient(yt, yp, w, **kw)
        assert value == 0.0 and type(value) is float, (cls.__name__, params, value)
        assert not np.isnan(grad).any() and not grad.any(), (cls.__name__, params)
        assert lc.same(loss.loss(yt, yp, w, **kw), value)
        if hasattr(loss, "gradient_hessian"):
            g, h = loss.gradient_hessian(yt, yp, w, **kw)
            assert not g.any() and not np.isnan(h).any(), (cls.__name__, params)
        tested += 1
    assert tested, f"{cls.__name__}: no variant takes sample_weight"


# ------------------------------------------------- sum_over_batch_size
def n_units(call, rows):
    """How many units "mean" averages over (SPEC §4.1): the rows of
    ``"none"`` (samples, images, classes) -- except for ranking losses,
    whose "none" gives per-group sums while the units are the pairs
    (i, j) of one group with y_i > y_j, counted here; with LambdaRank's
    ``k`` only pairs with min(r_i, r_j) < k count (r: 0-based rank by score
    descending within the group, ties in input order; SPEC §4.2)."""
    if call.spec.kind == "rank":
        y = np.asarray(call.arrays["y_true"], dtype=np.float64)
        s = np.asarray(call.arrays["y_pred"], dtype=np.float64)
        g = np.asarray(call.arrays.get("group", np.zeros(y.shape[0], dtype=np.int64)))
        pair = (g[:, None] == g[None, :]) & (y[:, None] > y[None, :])
        k = call.params.get("k")
        if k is not None:
            rank = np.empty(y.shape[0], dtype=np.int64)
            for gid in np.unique(g):
                idx = np.flatnonzero(g == gid)
                rank[idx[np.argsort(-s[idx], kind="stable")]] = np.arange(idx.size)
            pair &= np.minimum(rank[:, None], rank[None, :]) < k
        return int(pair.sum())
    return np.asarray(rows).size


def keras_sum_over_batch_size(values):
    """Keras 3 ``reduce_values(values, reduction="sum_over_batch_size")``
    restated: ``divide_no_nan(sum(values), prod(values.shape))``, where
    values are the per-unit losses already multiplied by sample_weight
    (our "none" result)."""
    values = np.asarray(values, dtype=np.float64)
    return 0.0 if values.size == 0 else float(np.sum(values) / values.size)


# Families whose "sum_over_batch_size" is not built yet (none).
_SOBS_PENDING = set()


def units_add_up(spec, params):
    """False where the reduced loss is not a sum over units: a focal power
    applied after the class average (Tversky's ``(mean_c l_c)^γ``, SPEC
    §4.3).  There "sum_over_batch_size" is the class average, as "mean"."""
    return not (spec.kind == "overlap" and params.get("gamma", 1.0) != 1.0)


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_sum_over_batch_size_is_the_sum_over_the_number_of_units(cls):
    spec = spec_of(cls)
    if spec.reductions == (None,):
        assert "reduction" not in cls._param_names
        return
    if spec.kind in _SOBS_PENDING:
        pytest.xfail(f"{cls.__name__}: sum_over_batch_size needs the pair count in ranking.py")
    for i, params in enumerate(variants(cls)):
        for weighted in (True, False):
            for one_d in (False, True):
                call = make(cls, 420 + i, params, weighted=weighted, one_d=one_d, size=9)
                (yt, yp, w), kw = call.args()
                if not units_add_up(spec, params):
                    got = call.loss("sum_over_batch_size").loss_gradient(yt, yp, w, **kw)
                    want = call.loss("mean").loss_gradient(yt, yp, w, **kw)
                    assert lc.same(got[0], want[0]) and lc.same(got[1], want[1]), params
                    continue
                rows = call.loss("none")(yt, yp, w, **kw)
                n = n_units(call, rows)
                s_val, s_grad = call.loss("sum").loss_gradient(yt, yp, w, **kw)
                loss = call.loss("sum_over_batch_size")
                value, grad = loss.loss_gradient(yt, yp, w, **kw)
                where = (cls.__name__, params, weighted, one_d)
                assert type(value) is float, where
                if n == 0:
                    assert value == 0.0 and not grad.any(), where
                    continue
                assert value == pytest.approx(s_val / n, rel=1e-12, abs=1e-300), where
                np.testing.assert_allclose(grad, s_grad / n, rtol=1e-12, atol=1e-300,
                                           err_msg=str(where))
                if spec.kind != "rank":
                    assert value == pytest.approx(keras_sum_over_batch_size(rows),
                                                  rel=1e-12, abs=1e-300), where
                if hasattr(loss, "gradient_hessian"):
                    g, h = loss.gradient_hessian(yt, yp, w, **kw)
                    _, h_sum = call.loss("sum").gradient_hessian(yt, yp, w, **kw)
                    assert lc.same(g, grad), where
                    np.testing.assert_allclose(h, h_sum / n, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_sum_over_batch_size_counts_weight_zero_units(cls):
    """Unlike "mean", the divisor does not change when units weigh 0."""
    spec = spec_of(cls)
    if spec.reductions == (None,) or spec.kind in _SOBS_PENDING:
        return
    tested = 0
    for i, params in enumerate(variants(cls)):
        call = make(cls, 470 + i, params, weighted=False, size=9)
        m = call.weight_len()
        if m is None or m < 2 or not units_add_up(spec, params):
            continue
        (yt, yp, _), kw = call.args()
        loss = call.loss("sum_over_batch_size")
        full = loss(yt, yp, None, **kw)
        w = np.ones(m)
        w[1::2] = 0.0
        rows = call.loss("none")(yt, yp, None, **kw)
        n = n_units(call, rows)
        kept = call.loss("sum")(yt, yp, w, **kw)
        assert loss(yt, yp, w, **kw) == pytest.approx(kept / n, rel=1e-12, abs=1e-300)
        zero = loss.loss_gradient(yt, yp, np.zeros(m), **kw)
        assert zero[0] == 0.0 and not zero[1].any(), (cls.__name__, params)
        assert np.isfinite(full)
        tested += 1
    assert tested, f"{cls.__name__}: no variant takes sample_weight"


def test_sum_over_batch_size_is_a_reduction_name():
    assert fl.get("mse", reduction="sum_over_batch_size").reduction == "sum_over_batch_size"
    with pytest.raises(ValueError, match="reduction"):
        fl.MeanSquaredError(reduction="sum_over_batch")
    with pytest.raises(ValueError, match="reduction"):
        fl.mean_squared_error([1.0], [2.0], reduction="SUM_OVER_BATCH_SIZE")


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_nan_sample_weight_propagates(cls):
    """NaN in the data propagates (SPEC §1), a sample weight included: the
    one reducer makes no family turn it into "nothing to average"."""
    spec = spec_of(cls)
    for i, params in enumerate(variants(cls)):
        call = make(cls, 450 + i, params, weighted=False)
        m = call.weight_len()
        if m is None:
            continue
        w = np.ones(m)
        # on a sample that counts (an ignored one has weight 0 whatever it is given)
        ig = params.get("ignore_index")
        lab = np.asarray(call.arrays["y_true"]).reshape(m, -1)
        w[np.argmax(~(lab == ig).all(axis=1)) if ig is not None else 0] = np.nan
        call.arrays["sample_weight"] = w
        for red in reductions(spec):
            if red == "none":
                continue
            value = call.loss(red)(*call.args()[0], **call.args()[1])
            assert np.isnan(value), (cls.__name__, params, red, value)


# ------------------------------------------------------- inputs unmodified
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_inputs_are_never_modified(cls):
    spec = spec_of(cls)
    for i, params in enumerate(variants(cls)):
        for dtype in (np.float64, np.float32):
            call = make(cls, 500 + i, params)
            call.arrays["y_pred"] = np.asarray(call.arrays["y_pred"]).astype(dtype)
            snap = lc.snapshot(call.arrays)
            for red in reductions(spec):
                lc.run_all(call, red, out=True)
            bad = lc.unchanged(call.arrays, snap)
            assert not bad, (cls.__name__, params, bad)


# -------------------------------------------------- non-contiguous input
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
@pytest.mark.parametrize("layout", ["strided", "negative", "fortran"])
def test_non_contiguous_input_gives_the_same_bits(cls, layout):
    spec = spec_of(cls)
    for i, params in enumerate(variants(cls)):
        call = lc.canonical_call(make(cls, 600 + i, params, size=9))
        lay = call.copy()
        for key, arr in call.arrays.items():
            lay.arrays[key] = lc.relayout(arr, layout)
        for red in reductions(spec):
            bad = same_results(evaluate(lay, red), evaluate(call, red))
            assert not bad, (cls.__name__, params, layout, red, bad)


# ---------------------------------------------------------------- threads
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_same_bits_at_1_2_3_threads(cls):
    spec = spec_of(cls)
    red = mean_reduction(spec)
    rng = np.random.default_rng(700)
    for dtype in (np.float64, np.float32):
        call = lc.big_call(spec, rng)
        call.arrays["y_pred"] = np.asarray(call.arrays["y_pred"]).astype(dtype)
        assert call.arrays["y_pred"].size > MIN_PARALLEL_ELEMENTS
        results = {}
        for k in (1, 2, 3):
            with fl.num_threads(k):
                results[k] = evaluate(call, red)
        for k in (2, 3):
            bad = same_results(results[k], results[1])
            assert not bad, (cls.__name__, call.params, dtype, f"{k} threads", bad)


# ---------------------------------------------------------------- metadata
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_gradient_hessian_exists_exactly_where_it_works(cls):
    spec = spec_of(cls)
    assert isinstance(cls.has_hessian, bool) and isinstance(cls.hessian_needs_logits, bool)
    if cls.hessian_needs_logits:
        assert cls.has_hessian and "from_logits" in cls._param_names
    if not cls.has_hessian:
        assert not hasattr(cls, "gradient_hessian")
    for i, params in enumerate(variants(cls)):
        call = make(cls, 800 + i, params)
        loss = call.loss(mean_reduction(spec))
        expected = cls.has_hessian and (not cls.hessian_needs_logits
                                        or bool(params.get("from_logits")))
        assert hasattr(loss, "gradient_hessian") == expected, (cls.__name__, params)
        (yt, yp, w), kw = call.args()
        if expected:
            g, h = loss.gradient_hessian(yt, yp, w, **kw)
            assert lc.same(g, loss.gradient(yt, yp, w, **kw))
            assert h.shape == yp.shape and h.dtype == g.dtype
            assert not np.isnan(h).any()
        else:
            with pytest.raises(AttributeError, match="gradient_hessian"):
                loss.gradient_hessian  # noqa: B018
    # the boosting adapters take exactly the per-sample losses with a hessian
    # (they use from_logits=True where the loss has it)
    if cls.has_hessian and cls.target_kind is not None:
        _objective.PerSampleGradHess(cls.function_name)
    else:
        with pytest.raises(ValueError):
            _objective.PerSampleGradHess(cls.function_name)


def _row_subset(call, m):
    c = call.copy()
    for key in ("y_true", "y_pred", "sample_weight", "group"):
        if key in c.arrays:
            c.arrays[key] = np.ascontiguousarray(np.asarray(c.arrays[key])[:m])
    return c


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_target_kind_matches_the_inputs_and_behaviour(cls):
    spec = spec_of(cls)
    kind = cls.target_kind
    assert kind == GENERATOR_TARGET_KIND[spec.kind], (cls.__name__, kind, spec.kind)
    if kind is None:
        with pytest.raises(ValueError, match="couples samples"):
            _objective.target_kind(cls())
    else:
        assert _objective.target_kind(cls()) == kind
    coupled = 0
    for i, params in enumerate(variants(cls)):
        if params.get("per_image", cls is fl.LovaszHinge):
            params = {**params, "per_image": False}        # images, not pixels, would be the units
        call = make(cls, 900 + i, params, size=12, weighted=False)
        yt, yp = np.asarray(call.arrays["y_true"]), np.asarray(call.arrays["y_pred"])
        if kind == "elementwise":
            assert yt.shape == yp.shape
        elif kind == "rows":
            assert yt.shape == yp.shape and yp.ndim == 2
        elif kind == "labels":
            assert yt.shape == yp.shape[:1] and yt.dtype.kind in "iu" and yp.ndim == 2
        # a per-sample loss: the first m samples alone give their own rows of
        # the full call (values of "none", gradient of "sum"); a set-level
        # loss couples them
        m = yp.shape[0] // 2
        sub = _row_subset(call, m)
        red = "sum" if spec.reductions != (None,) else None
        g_full = call.loss(red).gradient(*call.args()[0], **call.args()[1])
        g_sub = sub.loss(red).gradient(*sub.args()[0], **sub.args()[1])
        independent = np.allclose(g_full[:m], g_sub, rtol=1e-12, atol=1e-15)
        if kind is not None:
            assert independent, (cls.__name__, params)
            v_full = call.loss("none")(*call.args()[0], **call.args()[1])
            v_sub = sub.loss("none")(*sub.args()[0], **sub.args()[1])
            assert v_full.shape == (yp.shape[0],)
            np.testing.assert_allclose(v_full[:m], v_sub, rtol=1e-12, atol=1e-15)
        else:
            coupled += not independent
    if kind is None:
        assert coupled, f"{cls.__name__} declares target_kind None but its samples " \
                        "never coupled"


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_link_metadata(cls):
    assert cls.link in (None, "sigmoid", "softmax")
    if cls.link is not None:
        assert "from_logits" in cls._param_names
    if cls.link == "softmax":
        assert cls.target_kind in ("rows", "labels")


def test_no_module_lists_loss_classes_by_name():
    """Metadata lives on the classes: no module names a loss class in a
    string (except its ``__all__`` and ``aliases``)."""
    names = {c.__name__ for c in CLASSES}
    root = pathlib.Path(fl.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id in ("__all__", "aliases")
                       for t in targets):
                    allowed.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in allowed:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    assert not found, "loss classes named in strings:\n" + "\n".join(found)
