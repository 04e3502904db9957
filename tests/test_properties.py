"""Property tests (hypothesis) of SPEC §1 for every registered loss.

For random valid inputs of every loss (shapes, parameters, reductions,
sample weights, dtypes including float16, integers and non-native byte
order, layouts including strided, negative-stride, Fortran and read-only):

- the caller's arrays are unchanged (bytes, and the memory around views);
- ``loss_gradient`` is bit for bit ``(loss, gradient)``, ``gradient_hessian()[0]``
  is ``gradient()``, ``gradient(out=buf)`` writes the same bits, the function
  form equals the class form;
- the gradient has y_pred's shape and SPEC's dtype (float32/float64 in any
  byte order -> the native one, everything else float64) and the results
  equal, bit for bit, those of the same values in C-contiguous native arrays
  of that dtype (so a '>f4' input is computed in float32, an int input as
  float64);
- 1, 2 and 3 threads give the same bits (inputs above the parallel threshold);
- special values (NaN, ±inf, ±1e300, subnormals, -0.0) follow SPEC's NaN and
  infinity rules, and -inf logits are masked classes;
- every kind of bad input SPEC §1 names raises ValueError/TypeError naming
  the argument.

Cases that could crash the interpreter (unaligned and stride-0 arrays, out=
sharing memory with any input, odd and huge labels) run in a subprocess
(tests/_loss_cases.py's worker), restarted after a crash, so a segfault is a
failure of that case and not of the test run.

Every example is drawn from a seed (hypothesis prints it on failure): rebuild
it with ``_loss_cases.make_call(BY_NAME[name], np.random.default_rng(seed), ...)``.
Case counts per category are printed at the end of the module (``-s`` or the
terminal summary).
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("hypothesis")     # in the [test] extra and cibuildwheel's test-requires

from hypothesis import given, note  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastloss as fl

sys.path.insert(0, os.path.dirname(__file__))
import _loss_cases as lc  # noqa: E402
from _hypothesis_profiles import PROFILE, SCALE, prop_settings  # noqa: E402

COUNTS: collections.Counter = collections.Counter()
_SEEN: set = set()


def count(category, key):
    """Count distinct cases (hypothesis replays examples while shrinking)."""
    if (category, key) not in _SEEN:
        _SEEN.add((category, key))
        COUNTS[category] += 1
SPEC_IDS = [s.name for s in lc.SPECS]
FLOAT_DTYPES = ["float32", "float64", ">f4", ">f8"]
OTHER_DTYPES = ["float16", "int64", "int32", "uint8", "bool"]
LAYOUTS = ["C", "strided", "negative", "fortran", "readonly"]
SPECIALS = ["nan", "inf", "-inf", "1e300", "-1e300", "subnormal", "-0.0"]
SPECIAL_VALUES = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "1e300": 1e300,
                  "-1e300": -1e300, "subnormal": 5e-324, "-0.0": -0.0}


@pytest.fixture(scope="module", autouse=True)
def _case_summary(request):
    start = time.perf_counter()
    yield
    lines = [f"property cases per category (profile {PROFILE}, scale {SCALE}, "
             f"{time.perf_counter() - start:.1f} s):"]
    for key in sorted(COUNTS):
        lines.append(f"  {key:<28} {COUNTS[key]}")
    lines.append(f"  {'TOTAL':<28} {sum(COUNTS.values())}")
    # past the output capture, so the counts show without -s
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    if capman is None:
        print("\n" + "\n".join(lines))
    else:
        with capman.global_and_fixture_disabled():
            print("\n" + "\n".join(lines))


def test_every_registered_loss_has_a_spec():
    """A new loss must get a generator here, or it would escape these tests."""
    covered = {s.cls for s in lc.SPECS}
    missing = sorted(c.__name__ for c in lc.all_registered_classes() - covered)
    assert not missing, f"no property-test spec for {missing}"


# -------------------------------------------------------------- valid input
def _cast(call, dtype, label_dtype, rng):
    """y_pred (and float y_true) to `dtype`, labels to `label_dtype`."""
    a = call.arrays
    a["y_pred"] = np.asarray(a["y_pred"]).astype(dtype)
    if call.spec.labels != "y_true":
        # y_true is converted to y_pred's dtype: give it the same or float64
        yt = np.asarray(a["y_true"])
        same_values = np.array_equal(yt.astype(dtype).astype(np.float64), yt)
        a["y_true"] = yt.astype(dtype if rng.integers(2) and same_values else np.float64)
    field = call.spec.labels
    if field and field in a:
        lab = np.asarray(a[field])
        ldt = np.dtype(label_dtype)
        if ldt.kind == "f" or (lab.min() >= np.iinfo(ldt).min and lab.max() <= np.iinfo(ldt).max):
            a[field] = lab.astype(ldt)
    if "sample_weight" in a and rng.integers(2):
        a["sample_weight"] = a["sample_weight"].astype(np.float32)


def _int_ok(spec, params):
    return spec.int_ok or bool(params.get("from_logits"))


def _check_valid(spec, seed, size, dtype, layout, label_dtype, weighted, with_out):
    rng = np.random.default_rng(seed)
    integral = np.dtype(dtype).kind in "biu"
    call = lc.make_call(spec, rng, size=size, weighted=weighted, integral=integral)
    if integral and not _int_ok(spec, call.params):
        dtype = "float16"           # this kind's valid values are not integers
    if np.dtype(dtype).kind == "b":
        call.arrays["y_pred"] = np.asarray(call.arrays["y_pred"]) > 0
        if spec.kind == "boxes":    # keep x2 >= x1
            yp = np.asarray(call.arrays["y_pred"], dtype=bool)
            yp[:, 2:] = True
            call.arrays["y_pred"] = yp
    _cast(call, dtype, label_dtype, rng)
    lay = call.copy()
    for key, arr in call.arrays.items():
        lay.arrays[key] = lc.relayout(np.asarray(arr), layout)
    note(f"params={call.params} shapes="
         f"{ {k: (v.shape, str(v.dtype)) for k, v in lay.arrays.items()} }")
    canonical = lc.canonical_call(call)
    fails = []
    # every reduction: the one-pass and dtype rules hold for each
    for red in spec.reductions:
        snap = lc.snapshot(lay.arrays)
        ref = lc.run_all(canonical, red)
        got = lc.run_all(lay, red, out=with_out)
        fails += [f"{red}: {f}" for f in lc.consistency_failures(lay, got, ref)]
        value = got["loss"]
        if red == "none":
            if not isinstance(value, np.ndarray) or value.ndim != 1:
                fails.append(f"reduction='none' returned {lc.describe(value)}")
        elif type(value) is not float:
            fails.append(f"reduction={red!r} returned {type(value).__name__}, not float")
        # valid finite data: probabilities are clipped and logits exact, so
        # every value is finite (GIoU with eps=0 divides 0 by 0 for two empty boxes)
        if not (spec.kind == "boxes" and call.params.get("eps") == 0.0):
            for what in ("loss", "gradient", "gradient_hessian"):
                v = got.get(what)
                v = v if what != "gradient_hessian" or v is None else np.concatenate(
                    [np.ravel(v[0]), np.ravel(v[1])])
                if v is not None and not np.all(np.isfinite(v)):
                    fails.append(f"{red}: finite valid input gave a non-finite {what}: "
                                 f"{lc.describe(v)}")
        bad = lc.unchanged(lay.arrays, snap)
        if bad:
            fails.append(f"{red}: modified the caller's {bad}")
    key = (spec.name, seed, size, dtype, layout, label_dtype, weighted, with_out)
    count("valid (one-pass, out=, function form, unchanged)", key)
    count(f"dtype {np.dtype(dtype).str if np.dtype(dtype).kind == 'f' else dtype}", key)
    count(f"layout {layout}", key)
    assert not fails, f"{spec.name} {call.params} dtype={dtype} layout={layout}:\n  " \
        + "\n  ".join(fails)


@pytest.mark.parametrize("spec", lc.SPECS, ids=SPEC_IDS)
@prop_settings(max_examples=30)
@given(seed=st.integers(0, 2 ** 32 - 1),
       size=st.sampled_from([1, 2, 3, 5, 8, 17, 40, 70, 130, 130]),
       dtype=st.sampled_from(["float32", "float64"]),
       layout=st.sampled_from(LAYOUTS),
       label_dtype=st.sampled_from(["int64", "int32", "uint16", "int8", "float64"]),
       weighted=st.booleans(), with_out=st.booleans(),
       simd=st.sampled_from(["auto"] + fl.available_simd_paths()))
def test_valid_input_invariants(spec, seed, size, dtype, layout, label_dtype, weighted,
                                with_out, simd):
    """Native float32/float64 in every (safe) layout and on every SIMD path:
    one pass = same bits, out=, function form, caller's arrays unchanged,
    layout-independent bits."""
    count(f"simd path {simd}", (spec.name, seed, size, dtype, layout, label_dtype, weighted,
                                with_out, simd))
    previous = fl.config()["simd_path"]
    fl.set_simd_path(simd)
    try:
        _check_valid(spec, seed, size, dtype, layout, label_dtype, weighted, with_out)
    finally:
        fl.set_simd_path(previous)


@pytest.mark.parametrize("spec", lc.SPECS, ids=SPEC_IDS)
@prop_settings(max_examples=8)
@given(seed=st.integers(0, 2 ** 32 - 1), size=st.integers(1, 9),
       dtype=st.sampled_from([">f4", ">f8"]), layout=st.sampled_from(["C", "strided"]),
       weighted=st.booleans(), with_out=st.booleans())
def test_byte_swapped_floats_keep_their_type(spec, seed, size, dtype, layout, weighted,
                                             with_out):
    """Non-native byte order computes in the same float type: '>f4' gives a
    float32 gradient with the bits of native float32, '>f8' those of float64."""
    _check_valid(spec, seed, size, dtype, layout, "int64", weighted, with_out)


@pytest.mark.parametrize("spec", lc.SPECS, ids=SPEC_IDS)
@prop_settings(max_examples=8)
@given(seed=st.integers(0, 2 ** 32 - 1), size=st.integers(1, 9),
       dtype=st.sampled_from(OTHER_DTYPES), weighted=st.booleans(), with_out=st.booleans())
def test_other_real_dtypes_are_float64(spec, seed, size, dtype, weighted, with_out):
    """float16, integers and booleans are computed as float64 (same bits as
    the float64 copy, float64 gradient)."""
    _check_valid(spec, seed, size, dtype, "C", "int64", weighted, with_out)


# ------------------------------------------------------------------ threads
@pytest.mark.parametrize("spec", lc.SPECS, ids=SPEC_IDS)
@prop_settings(max_examples=2)
@given(seed=st.integers(0, 2 ** 32 - 1), red_i=st.integers(0, 2),
       dtype=st.sampled_from(["float32", "float64"]))
def test_same_bits_at_1_2_3_threads(spec, seed, red_i, dtype):
    rng = np.random.default_rng(seed)
    call = lc.big_call(spec, rng)
    call.arrays["y_pred"] = call.arrays["y_pred"].astype(dtype)
    red = spec.reductions[red_i % len(spec.reductions)]
    note(f"params={call.params} reduction={red} size={call.arrays['y_pred'].shape}")
    results = {}
    for k in (1, 2, 3):
        with fl.num_threads(k):
            loss = call.loss(red)
            (yt, yp, w), kw = call.args()
            results[k] = (loss.loss(yt, yp, w, **kw), loss.gradient(yt, yp, w, **kw),
                          *loss.loss_gradient(yt, yp, w, **kw))
            if lc.has_hessian(call):
                results[k] += loss.gradient_hessian(yt, yp, w, **kw)
    count("threads 1/2/3 (>=48k values)", (spec.name, seed, red_i, dtype))
    fails = []
    for k in (2, 3):
        for i, what in enumerate(("loss", "gradient", "loss_gradient[0]", "loss_gradient[1]",
                                  "gradient_hessian[0]", "gradient_hessian[1]")[:len(results[1])]):
            if not lc.same(results[k][i], results[1][i]):
                fails.append(f"{what} at {k} threads differs from 1 thread: "
                             f"{lc.describe(results[k][i])} vs {lc.describe(results[1][i])}")
    r1 = results[1]
    if not lc.same(r1[0], r1[2]) or not lc.same(r1[1], r1[3]):
        fails.append("loss_gradient != (loss, gradient) at 1 thread")
    assert not fails, f"{spec.name} {call.params} {red}:\n  " + "\n  ".join(fails)


# ----------------------------------------------------------- special values
def _contributes(call, pos):
    """Whether y_pred's element `pos` takes part in the loss (a NaN there must
    reach the result), for the set-level and label losses that skip elements."""
    spec, a, p = call.spec, call.arrays, call.params
    k = spec.kind
    lab = np.asarray(a["y_true"])
    if k == "sparse":
        return p.get("ignore_index") is None or lab[pos[0]] != p.get("ignore_index")
    if k == "lovasz_softmax":
        yp = np.asarray(a["y_pred"])
        if yp.ndim == 4:
            b, c, h, w = pos
            pix_lab = lab[b, h, w]
            scope = lab[b] if p.get("per_image") else lab
        else:
            b, c = pos
            pix_lab = lab[b]
            scope = lab
        if p.get("ignore_index") is not None and pix_lab == p["ignore_index"]:
            return False
        classes = p.get("classes", "present")
        if classes == "all":
            return True
        if classes == "present":
            return bool(np.any(scope == c))
        return c in classes
    if k == "lovasz_hinge":
        return p.get("ignore_index") is None or lab[pos] != p["ignore_index"]
    if k == "rank":
        g = a.get("group")
        i = pos[0]
        same_group = np.ones(lab.shape, bool) if g is None else (np.asarray(g) == g[i])
        return bool(np.any(same_group & (lab != lab[i])))
    return True


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("spec", lc.SPECS, ids=SPEC_IDS)
@prop_settings(max_examples=24)
@given(seed=st.integers(0, 2 ** 32 - 1), size=st.integers(1, 8),
       special=st.sampled_from(SPECIALS), dtype=st.sampled_from(["float32", "float64", ">f8"]),
       in_target=st.booleans())
def test_special_values(spec, seed, size, special, dtype, in_target):
    rng = np.random.default_rng(seed)
    call = lc.make_call(spec, rng, size=size)
    call.arrays["y_pred"] = call.arrays["y_pred"].astype(dtype)
    where = "y_true" if in_target and spec.labels != "y_true" else "y_pred"
    arr = np.array(call.arrays[where], dtype=dtype if where == "y_pred" else np.float64)
    pos = tuple(int(rng.integers(s)) for s in arr.shape)
    with np.errstate(over="ignore"):            # 1e300 in float32 is inf, on purpose
        arr[pos] = SPECIAL_VALUES[special]
    if where == "y_pred" and spec.kind in ("kl", "dense_prob", "binary") and rng.integers(2):
        # a zero target where the prediction is special: SPEC's KL row says
        # such a term is 0 unless the prediction is NaN
        yt = np.array(call.arrays["y_true"], dtype=np.float64)
        yt[pos] = 0.0
        if spec.kind != "binary" and yt.ndim and yt.reshape(-1, yt.shape[-1]).shape[-1] > 1:
            rows = yt.reshape(-1, yt.shape[-1])
            r = np.ravel_multi_index(pos, yt.shape) // yt.shape[-1]
            if rows[r].sum() == 0:
                rows[r, (pos[-1] + 1) % yt.shape[-1]] = 1.0
            rows[r] /= rows[r].sum()
        call.arrays["y_true"] = yt
    if special in ("subnormal", "-0.0") and arr.ndim <= 2 and arr.shape[-1] > 1 and \
            where == "y_pred" and spec.kind in ("dense_prob", "sparse", "kappa", "kl") and \
            not call.params.get("from_logits") and not call.params.get("log_input"):
        row = arr[pos[:-1]] if arr.ndim == 2 else arr
        if not row.sum() > 1e-3:
            # a row summing to 0 (or to a subnormal) cannot be renormalised
            # without overflow: not the valid input this test is about
            row[(pos[-1] + 1) % row.shape[0]] = 1.0
    if spec.kind == "boxes" and special in ("subnormal", "-0.0") and pos[1] >= 2:
        arr[pos[0], pos[1] - 2] = 0.0          # keep x1 <= x2: a tiny box is still a box
    call.arrays[where] = arr
    value = arr[pos]
    note(f"params={call.params} {where}{list(pos)} = {value!r} shape={arr.shape}")
    count(f"special {special}", (spec.name, seed, size, dtype, in_target))
    results = {}
    fails = []
    for red in spec.reductions:
        snap = lc.snapshot(call.arrays)
        try:
            r = lc.run_all(call, red)
        except (ValueError, TypeError) as exc:
            # SPEC: NaN propagates and tiny numbers are numbers; only labels
            # of the hinge losses and boxes turned inside out by ±inf/1e300
            # are bad input here.
            allowed = (spec.kind == "hinge" and where == "y_true") or \
                (spec.kind == "boxes" and special not in ("nan", "subnormal", "-0.0"))
            allowed = allowed or (special in ("inf", "-inf", "1e300", "-1e300")
                                  and lc.names_argument(exc, (where,)))
            assert allowed and lc.names_argument(exc, (where,)), \
                f"{spec.name}: {where} holding {special} raised {type(exc).__name__}: {exc}"
            return
        fails += [f"{red}: {f}" for f in lc.consistency_failures(call, r)]
        bad = lc.unchanged(call.arrays, snap)
        if bad:
            fails.append(f"{red}: modified the caller's {bad}")
        results[red] = r
    vals = {red: r["loss"] for red, r in results.items()}
    grad = results[spec.reductions[0]]["gradient"]
    if special == "nan" and (where == "y_true" or _contributes(call, pos)):
        for red, v in vals.items():
            if not np.isnan(v).any():
                fails.append(f"NaN in {where}{list(pos)} did not propagate to {red!r}: {v!r}")
    if special in ("subnormal", "-0.0"):
        for red, v in vals.items():
            if not np.all(np.isfinite(v)):
                fails.append(f"finite tiny input {where}={value!r} gave {red!r} loss {v!r}")
        # (kappa's gradient is 1/Σ W∘E: with only a subnormal off the
        # diagonal it overflows, which is arithmetic, not a broken rule)
        if not np.all(np.isfinite(grad)) and spec.kind != "kappa":
            fails.append(f"finite tiny input {where}={value!r} gave a non-finite gradient")
    if "none" in vals:
        none = np.asarray(vals["none"], dtype=np.float64)
        if not np.isnan(none).any() and np.isposinf(none).any():
            for red in ("sum", "mean"):
                if not vals[red] == np.inf:
                    fails.append(f"a per-sample loss of +inf (none={none}) gave {red!r} = "
                                 f"{vals[red]!r}; SPEC: +inf, never NaN")
    assert not fails, f"{spec.name} {call.params}:\n  " + "\n  ".join(fails)


# ------------------------------------------------------ masked (-inf) logits
_LOGIT_SPECS = [s for s in lc.SPECS
                if any(p(3).get("from_logits") for p in s.params)]


@pytest.mark.parametrize("spec", _LOGIT_SPECS, ids=[s.name for s in _LOGIT_SPECS])
@prop_settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 32 - 1), size=st.integers(1, 8),
       dtype=st.sampled_from(["float32", "float64"]), positive_target=st.booleans())
def test_minus_inf_logit_is_a_masked_class(spec, seed, size, dtype, positive_target):
    rng = np.random.default_rng(seed)
    C = int(rng.integers(2, 5))
    choices = [p(C) for p in spec.params if p(C).get("from_logits")]
    params = dict(choices[int(rng.integers(len(choices)))])
    params["label_smoothing"] = 0.0 if "label_smoothing" in params else None
    if params["label_smoothing"] is None:
        del params["label_smoothing"]
    call = lc.make_call(spec, rng, size=size, C=C, params=params)
    a = call.arrays
    yp = np.array(a["y_pred"], dtype=dtype)
    k = spec.kind
    has_targets = k in ("binary", "dense_prob", "sparse")
    if k == "binary":
        yt = np.array(a["y_true"], dtype=np.float64)
        mask = rng.random(yp.shape) < 0.4
        yt[mask] = 0.0
        if positive_target:
            mask.flat[0] = True
            yt.flat[0] = 1.0
        a["y_true"] = yt
    else:
        class_axis = 1 if yp.ndim >= 2 else 0
        mask = rng.random(yp.shape) < 0.4
        # keep one class per row (pixel) unmasked: index 0 along class_axis
        idx = [slice(None)] * yp.ndim
        idx[class_axis] = 0
        mask[tuple(idx)] = False
        if k == "dense_prob":
            yt = np.array(a["y_true"], dtype=np.float64)
            yt[mask] = 0.0
            yt2 = yt.reshape(-1, yt.shape[-1])
            empty = yt2.sum(axis=1) == 0
            yt2[empty, 0] = 1.0
            yt2 /= yt2.sum(axis=1, keepdims=True)
            if positive_target:
                mask.reshape(-1, yt.shape[-1])[0, -1] = True
                yt2[0, -1] = max(yt2[0, -1], 0.25)
            a["y_true"] = yt2.reshape(yt.shape)
        elif k == "sparse":
            lab = np.asarray(a["y_true"]).copy()
            ig = call.params.get("ignore_index")
            for i in range(lab.shape[0]):
                if lab[i] != ig and mask[i, lab[i]]:
                    lab[i] = 0
            if positive_target:
                lab[0] = C - 1
                mask[0, C - 1] = True
            a["y_true"] = lab
    yp[mask] = -np.inf
    a["y_pred"] = yp
    note(f"params={call.params} y_true={a['y_true']!r} y_pred={yp!r}")
    count("masked -inf logits", (spec.name, seed, size, dtype, positive_target))
    expect_inf = positive_target and has_targets
    fails = []
    for red in spec.reductions:
        r = lc.run_all(call, red)
        fails += [f"{red}: {f}" for f in lc.consistency_failures(call, r)]
        v = np.asarray(r["loss"], dtype=np.float64)
        if expect_inf:
            if red != "none" and not v == np.inf:
                fails.append(f"{red}: a masked class with target > 0 must give +inf, got {v!r}")
        else:
            if not np.all(np.isfinite(v)):
                fails.append(f"{red}: masked classes (target 0) gave loss {v!r}")
            if not np.all(np.isfinite(r["gradient"])):
                fails.append(f"{red}: masked classes (target 0) gave gradient "
                             f"{r['gradient'].ravel()!r}")
    assert not fails, f"{spec.name} {call.params}:\n  " + "\n  ".join(fails)


# ----------------------------------------------------------------- bad input
def _methods(call, reduction, with_out_only=False):
    loss = call.loss(reduction)
    names = ["gradient", "loss_gradient"] if with_out_only else \
        ["loss", "gradient", "loss_gradient"] + \
        (["gradient_hessian"] if lc.has_hessian(call) else [])
    return [(n, getattr(loss, n)) for n in names]


def _expect_error(label, thunk, names, fails):
    try:
        thunk()
    except (ValueError, TypeError) as exc:
        if not lc.names_argument(exc, names):
            fails.append(f"{label}: {type(exc).__name__} does not name {names}: {exc}")
        return
    except Exception as exc:                               # noqa: BLE001
        fails.append(f"{label}: {type(exc).__name__} (not ValueError/TypeError): {exc}")
        return
    fails.append(f"{label}: no error")


def _bad_calls(call, red, rng):
    """(category, label, mutated arrays or None, out or None, names)."""
    spec, a = call.spec, call.arrays
    yp = np.asarray(a["y_pred"])
    cdt = lc.canonical_dtype(yp.dtype)
    out = []
    # shapes: y_true one sample short, and (n,) against (n, 1)
    m = dict(a)
    m["y_true"] = np.asarray(a["y_true"])[:-1]
    out.append(("shape mismatch", "y_true short", m, None, ("y_true", "y_pred")))
    if yp.ndim == 1 and spec.kind != "lovasz_hinge":
        m = dict(a)
        m["y_true"] = np.asarray(a["y_true"])[:, None]
        out.append(("shape mismatch", "(n,1) vs (n,)", m, None, ("y_true", "y_pred")))
    # nothing to compute
    m = {key: np.asarray(v)[:0] for key, v in a.items()}
    out.append(("empty input", "zero samples", m, None, ("y_true", "y_pred")))
    # sample_weight
    wl = call.weight_len()
    if wl is None:
        m = dict(a)
        m["sample_weight"] = np.ones(yp.shape[0])
        out.append(("sample_weight", "not taken", m, None, ("sample_weight",)))
    else:
        for label, w in (("too long", np.ones(wl + 1)), ("too short", np.ones(max(wl - 1, 0))),
                         ("negative", np.where(np.arange(wl) == wl - 1, -1.0, 1.0)),
                         ("2-D", np.ones((wl, 1))), ("strings", np.array(["a"] * wl))):
            m = dict(a)
            m["sample_weight"] = w
            out.append(("sample_weight", label, m, None, ("sample_weight",)))
    # non-numeric data
    m = dict(a)
    m["y_pred"] = np.full(yp.shape, "x")
    out.append(("non-numeric", "y_pred strings", m, None, ("y_pred",)))
    if spec.labels != "y_true":
        m = dict(a)
        m["y_true"] = np.full(np.shape(a["y_true"]), "x")
        out.append(("non-numeric", "y_true strings", m, None, ("y_true",)))
    # kind-specific bad data
    if spec.kind == "hinge":
        m = dict(a)
        yt = np.array(a["y_true"], dtype=np.float64)
        yt.flat[0] = 2.0
        m["y_true"] = yt
        out.append(("labels", "hinge label 2", m, None, ("y_true",)))
    if spec.kind == "boxes":
        for field in ("y_true", "y_pred"):
            m = dict(a)
            b = np.array(a[field], dtype=np.float64)
            b[0, 2] = b[0, 0] - 1.0
            m[field] = b
            out.append(("boxes", f"{field} x2 < x1", m, None, (field,)))
        m = {key: (np.asarray(v)[:, :3] if key in ("y_true", "y_pred") else v)
             for key, v in a.items()}
        out.append(("boxes", "(n, 3)", m, None, ("y_true", "y_pred")))
    if spec.labels == "y_true" and spec.kind != "lovasz_hinge":
        m = dict(a)
        lab = np.array(a["y_true"]).copy()
        C = yp.shape[1]
        lab.flat[0] = C
        m["y_true"] = lab
        ig = call.params.get("ignore_index")
        if ig != C:
            out.append(("labels", "label == C", m, None, ("y_true",)))
    if spec.kind == "rank":
        m = dict(a)
        m["group"] = np.zeros(yp.shape[0] + 1, dtype=np.int64)
        out.append(("group", "wrong length", m, None, ("group",)))
        m = dict(a)
        m["group"] = np.full(yp.shape[0], 0.5)
        out.append(("group", "non-integral", m, None, ("group",)))
        m = dict(a)
        m["y_pred"] = np.stack([yp, yp], axis=1)
        m["y_true"] = np.stack([a["y_true"]] * 2, axis=1)
        out.append(("shape mismatch", "2-D scores", m, None, ("y_true", "y_pred")))
    # out=
    for label, o in (("wrong shape", np.empty(yp.shape[:-1] + (yp.shape[-1] + 1,), cdt)),
                     ("wrong dtype", np.empty(yp.shape, np.float32 if cdt == np.float64
                                              else np.float64)),
                     ("byte-swapped", np.empty(yp.shape, cdt.newbyteorder(">"))),
                     ("int dtype", np.empty(yp.shape, np.int64)),
                     ("strided", np.empty(yp.shape[:-1] + (2 * yp.shape[-1],), cdt)[..., ::2]),
                     ("read-only", lc.relayout(np.empty(yp.shape, cdt), "readonly")),
                     ("a list", np.empty(yp.shape, cdt).tolist())):
        if label == "strided" and o.flags.c_contiguous:      # one element: nothing strided
            continue
        out.append(("out=", label, None, o, ("out",)))
    if yp.ndim >= 2 and yp.shape[0] > 1 and yp.shape[-1] > 1:
        out.append(("out=", "Fortran order", None, np.asfortranarray(np.empty(yp.shape, cdt)),
                    ("out",)))
    return out


@pytest.mark.parametrize("spec", lc.SPECS, ids=SPEC_IDS)
@prop_settings(max_examples=6)
@given(seed=st.integers(0, 2 ** 32 - 1), size=st.integers(2, 7), red_i=st.integers(0, 2))
def test_bad_input_names_the_argument(spec, seed, size, red_i):
    rng = np.random.default_rng(seed)
    call = lc.make_call(spec, rng, size=size, weighted=True)
    red = spec.reductions[red_i % len(spec.reductions)]
    note(f"params={call.params} reduction={red} "
         f"shapes={ {k: np.shape(v) for k, v in call.arrays.items()} }")
    fails = []
    for category, label, arrays, o, names in _bad_calls(call, red, rng):
        count(f"invalid: {category}", (spec.name, seed, size, red_i, label))
        c = call.copy()
        if arrays is not None:
            c.arrays = arrays
        (yt, yp, w), kw = c.args()
        if arrays is not None and "sample_weight" in arrays:
            w = arrays["sample_weight"]
        for mname, method in _methods(c, red, with_out_only=o is not None):
            if o is not None:
                thunk = (lambda method=method: method(yt, yp, w, out=o, **kw))
            else:
                thunk = (lambda method=method: method(yt, yp, w, **kw))
            _expect_error(f"{label} -> {mname}", thunk, names, fails)
    params = {k: v for k, v in call.params.items() if k != "group"}
    # an unknown reduction, in the class and the function form
    if spec.reductions != (None,):
        count("invalid: reduction", (spec.name, seed, size, red_i))
        params = {k: v for k, v in call.params.items() if k != "group"}
        _expect_error("reduction='avg' (class)",
                      lambda: fl.get(spec.name, reduction="avg", **params), ("reduction",), fails)
        (yt, yp, w), kw = call.args()
        fn = getattr(fl, spec.name)
        _expect_error("reduction='avg' (function)",
                      lambda: fn(yt, yp, w, reduction="avg", **params, **kw), ("reduction",),
                      fails)
        _expect_error("reduction=None (class)",
                      lambda: fl.get(spec.name, reduction=None, **params), ("reduction",), fails)
    # invalid constructor parameters: at construction or, at the latest, at the call
    yp = np.asarray(call.arrays["y_pred"])
    C = yp.shape[-1] if yp.ndim == 1 else yp.shape[1]
    for bad in spec.bad:
        kwargs, name = bad(C)
        count("invalid: parameter", (spec.name, seed, size, red_i, repr(kwargs)))
        (yt, yp, w), kw = call.args()

        kwargs = {**params, **kwargs}

        def construct_and_call(kwargs=kwargs):
            loss = fl.get(spec.name, **kwargs)
            loss(yt, yp, w, **kw)

        _expect_error(f"{kwargs}", construct_and_call, (name,), fails)
        fn = getattr(fl, spec.name)
        _expect_error(f"{kwargs} (function)", lambda kwargs=kwargs: fn(yt, yp, w, **kwargs, **kw),
                      (name,), fails)
    assert not fails, f"{spec.name} {call.params} {red}:\n  " + "\n  ".join(fails)


# ------------------------------------------- crash-prone cases, in a subprocess
def _run_worker(seed, start, timeout):
    env = dict(os.environ)
    env["PYTHONFAULTHANDLER"] = "1"
    proc = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                        "_loss_cases.py"), str(seed), str(start)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    return proc


def test_crash_prone_cases_in_a_subprocess():
    """Unaligned and stride-0 inputs, out= sharing memory with each input,
    odd and huge labels (uint64 2**64-1, float 1e20, NaN, 0.5, ±2**63, 2**40,
    -1, C, bool): valid ones give the results of their canonical copies, bad
    ones a ValueError/TypeError naming the argument; none may crash."""
    seed = 20261207 if os.environ.get("CI") else int(np.random.SeedSequence().entropy % 2 ** 31)
    cases = lc.crash_cases(seed)
    failures = []
    start, restarts = 0, 0
    while start < len(cases) and restarts < 40:
        proc = _run_worker(seed, start, timeout=120)
        last_started, ended = None, False
        for line in proc.stdout.splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "start" in msg:
                last_started = msg["start"]
            elif "done" in msg:
                COUNTS[f"subprocess {cases[msg['done']][0]}"] += 1
                if msg["fail"]:
                    failures.append((cases[msg["done"]], msg["fail"]))
            elif "end" in msg:
                ended = True
        if ended:
            break
        if last_started is None:
            pytest.fail(f"worker did not start: rc={proc.returncode}\n{proc.stderr[-3000:]}")
        COUNTS[f"subprocess {cases[last_started][0]}"] += 1
        tail = "\n      ".join(proc.stderr.strip().splitlines()[-6:])
        failures.append((cases[last_started],
                         f"CRASHED the interpreter (rc={proc.returncode}):\n      {tail}"))
        start, restarts = last_started + 1, restarts + 1
    if failures:
        lines = [f"{len(failures)} of {len(cases)} crash-prone cases failed (worker seed {seed}; "
                 f"rerun one with _loss_cases.run_case(case)):"]
        for case, msg in failures:
            lines.append(f"  {case}: {msg}")
        pytest.fail("\n".join(lines), pytrace=False)


# ------------------------------------------------- NaN edges SPEC names
def test_nan_edges_spec_names():
    """The NaN rules SPEC spells out for one loss each (random search may
    miss them): KL with log_input, a zero target and a NaN log-probability;
    a NaN box coordinate; a NaN relevance in RankNet."""
    fails = []
    y = np.array([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0]])
    lp = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]]))
    lp[0, 0] = np.nan                              # y = 0 there
    for red in ("mean", "sum", "none"):
        for dt in (np.float32, np.float64):
            v, g = fl.KLDivergence(log_input=True, reduction=red).loss_gradient(y, lp.astype(dt))
            if not np.isnan(v).any():
                fails.append(f"kl_divergence(log_input=True, {red}, {dt.__name__}): y=0, "
                             f"log p=NaN gave {v!r}, SPEC: NaN propagates (torch kl_div)")
    boxes = np.array([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 4.0]])
    nan_boxes = boxes.copy()
    nan_boxes[1, 3] = np.nan
    for red in ("mean", "sum"):
        if not np.isnan(fl.giou_loss(boxes, nan_boxes, reduction=red)):
            fails.append(f"giou_loss({red}) with a NaN coordinate is not NaN")
    rel = np.array([2.0, np.nan, 0.0])
    if not np.isnan(fl.ranknet(rel, np.array([0.1, 0.2, 0.3]))):
        fails.append("ranknet with a NaN relevance is not NaN")
    count("special nan (SPEC-named edges)", ("kl", "giou", "ranknet"))
    assert not fails, "\n  ".join(fails)
