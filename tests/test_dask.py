"""fastloss.dask (SPEC §5) on a real dask.distributed LocalCluster of two
worker processes: every registered loss over dask arrays equals the
in-memory call on the same data (rtol 1e-12, float64) for several chunkings,
with and without sample_weight, every reduction; the chunkings SPEC calls
errors raise a ValueError saying what to rechunk; a worker killed mid-run
gives the in-memory result or an error, never a wrong number; the linear
objective fits like the in-memory one; XGBoost and LightGBM train on the
cluster with fastloss objectives.

Skipped where dask / distributed are not installed (the plain test run);
``import fastloss`` never imports dask (checked in a subprocess, always).
"""
import importlib.util
import os
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

import fastloss as fl

sys.path.insert(0, os.path.dirname(__file__))
import _loss_cases as lc  # noqa: E402

HAVE_DASK = all(importlib.util.find_spec(m) is not None
                for m in ("dask", "distributed"))
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="dask and distributed not installed")


def test_import_fastloss_does_not_import_dask():
    code = ("import sys, fastloss, fastloss.xgboost, fastloss.lightgbm\n"
            "bad = [m for m in ('dask', 'distributed', 'dask.array') if m in sys.modules]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def client():
    if not HAVE_DASK:
        pytest.skip("dask and distributed not installed")
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0", memory_limit="2GB", silence_logs=40)
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(scope="module")
def fld():
    if not HAVE_DASK:
        pytest.skip("dask and distributed not installed")
    import fastloss.dask as mod
    return mod


def close(a, b, what=""):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    scale = max(1.0, float(np.nanmax(np.abs(b), initial=0.0)))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13 * scale, err_msg=what)


# ---------------------------------------------------------- case building
def _chunkings(n, units):
    """Chunk sizes along axis 0: one chunk, uneven chunks, chunks of one row.
    `units`: sizes of the blocks that may not be split (groups), or None."""
    if units is not None:
        out = [(n,)]
        if len(units) > 1:
            out.append(tuple(units))
        return out
    out = [(n,)]
    if n >= 3:
        a = max(1, n // 3)
        out.append((a, n - a - 1, 1) if n - a - 1 > 0 else (a, n - a))
    if n >= 2:
        out.append((1,) * n)
    return out


def _prepare(call):
    """Rows sorted by group (so groups can be kept inside chunks); the
    sizes of the groups, or None where rows are independent."""
    a = call.arrays
    if "group" in a:
        order = np.argsort(a["group"], kind="stable")
        for key in list(a):
            a[key] = np.asarray(a[key])[order]
        _, sizes = np.unique(a["group"], return_counts=True)
        return [int(s) for s in sizes]
    return None


def _global_sort(spec, call):
    p = call.params
    return ((spec.kind == "lovasz_softmax" and not p.get("per_image"))
            or (spec.kind == "lovasz_hinge" and not p.get("per_image", True)))


def _splittable(spec, call):
    """Whether axis 0 of y_pred may be cut for this call."""
    yp = call.arrays["y_pred"]
    if spec.kind in ("dense_prob", "kl", "cosine") and yp.ndim == 1:
        return False                        # a 1-D input is one row
    if spec.kind == "rank" and "group" not in call.arrays:
        return False                        # one list
    return True


def _dask_arrays(call, chunks0):
    import dask.array as da
    out = {}
    yp = call.arrays["y_pred"]
    for key, arr in call.arrays.items():
        arr = np.asarray(arr)
        if key == "sample_weight" and arr.shape[0] != yp.shape[0]:
            out[key] = da.from_array(arr, chunks=arr.shape)
            continue
        out[key] = da.from_array(arr, chunks=(chunks0,) + arr.shape[1:])
    return out


def _collections(fld, call, reduction, arrays, every_method=True):
    """The lazy results; loss() and gradient() alone only where `every_method`
    (they share their plan with loss_gradient; this keeps the batch small)."""
    loss = call.loss(reduction)
    kw = {"group": arrays["group"]} if "group" in arrays else {}
    yt, yp, w = arrays["y_true"], arrays["y_pred"], arrays.get("sample_weight")
    out = {"loss_gradient": fld.loss_gradient(loss, yt, yp, w, **kw)}
    if every_method:
        out["loss"] = fld.loss(loss, yt, yp, w, **kw)
        out["gradient"] = fld.gradient(loss, yt, yp, w, **kw)
    if lc.has_hessian(call):
        out["gradient_hessian"] = fld.gradient_hessian(loss, yt, yp, w, **kw)
    return out


def _reference(call, reduction):
    loss = call.loss(reduction)
    (yt, yp, w), kw = call.args()
    ref = {"loss": loss.loss(yt, yp, w, **kw), "gradient": loss.gradient(yt, yp, w, **kw)}
    if lc.has_hessian(call):
        ref["hessian"] = loss.gradient_hessian(yt, yp, w, **kw)[1]
    return ref


def _check(got, ref, label):
    if "loss" in got:
        close(got["loss"], ref["loss"], label + " loss")
        close(got["gradient"], ref["gradient"], label + " gradient")
    close(got["loss_gradient"][0], ref["loss"], label + " loss_gradient value")
    close(got["loss_gradient"][1], ref["gradient"], label + " loss_gradient gradient")
    if "gradient_hessian" in got:
        close(got["gradient_hessian"][0], ref["gradient"], label + " gradient_hessian grad")
        close(got["gradient_hessian"][1], ref["hessian"], label + " hessian")


def _size(spec):
    return {"lovasz_softmax": 12, "lovasz_hinge": 9}.get(spec.kind, 7)


def test_every_registered_loss_has_a_case():
    covered = {type(fl.get(s.name)) for s in lc.SPECS}
    assert lc.all_registered_classes() <= covered


@needs_dask
@pytest.mark.parametrize("spec", lc.SPECS, ids=lambda s: s.name)
def test_equals_in_memory(client, fld, spec):
    """Every parameter variant, chunking, weighting and reduction of one loss,
    computed on the cluster in one batch and compared one by one."""
    import dask
    rng = np.random.default_rng(zlib.crc32(spec.name.encode()))
    cases = []
    # the full grid on the first variant that can be distributed, one weighted
    # uneven run on the others
    first = 0
    if spec.kind.startswith("lovasz"):
        first = next(i for i, p in enumerate(spec.params)
                     if p(3).get("per_image", spec.kind == "lovasz_hinge"))
    for pi, params in enumerate(spec.params):
        grid = pi == first
        for weighted in ((False, True) if grid else (True,)):
            C = 3
            call = lc.make_call(spec, rng, size=_size(spec), C=C, params=params(C),
                                weighted=weighted, one_d=False if not grid else None)
            if _global_sort(spec, call):
                # SPEC §5: one global sort is a ValueError, whatever the chunking
                with pytest.raises(ValueError, match="per_image"):
                    fld.loss(call.loss("mean"), call.arrays["y_true"], call.arrays["y_pred"])
                continue
            units = _prepare(call)
            chunkings = (_chunkings(call.arrays["y_pred"].shape[0], units)
                         if _splittable(spec, call) else [(call.arrays["y_pred"].shape[0],)])
            if not grid:
                chunkings = chunkings[-1:]
            for ci, chunks0 in enumerate(chunkings):
                for reduction in (spec.reductions if grid else spec.reductions[:1]):
                    arrays = _dask_arrays(call, chunks0)
                    label = (f"{spec.name} {call.params} w={weighted} chunks={chunks0} "
                             f"reduction={reduction}")
                    cases.append((label, call.copy(), reduction,
                                  _collections(fld, call, reduction, arrays,
                                               every_method=ci == len(chunkings) // 2)))
    computed = dask.compute([c[3] for c in cases])[0]
    for (label, call, reduction, _), got in zip(cases, computed):
        _check(got, _reference(call, reduction), label)


@needs_dask
def test_one_d_rows_and_float32(client, fld):
    """A 1-D input of a row loss is one row (one chunk); float32 gradients
    keep their dtype and agree with the in-memory call to float32 precision."""
    import dask.array as da
    rng = np.random.default_rng(5)
    y = rng.dirichlet(np.ones(6))
    p = rng.dirichlet(np.ones(6))
    v, g = fld.loss_gradient("kl_divergence", y, p)
    close(v.compute(), fl.kl_divergence(y, p))
    close(g.compute(), fl.KLDivergence().gradient(y, p))
    yt = rng.normal(size=(1000, 3)).astype(np.float32)
    yp = rng.normal(size=(1000, 3)).astype(np.float32)
    g = fld.gradient("huber", da.from_array(yt, chunks=(300, 3)),
                     da.from_array(yp, chunks=(300, 3))).compute()
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, fl.Huber().gradient(yt, yp), rtol=1e-6, atol=1e-12)


@needs_dask
def test_function_forms_and_numpy_inputs(client, fld):
    """fld.<name>(...) is the two-line change from fl.<name>(...); NumPy
    inputs are wrapped."""
    import dask.array as da
    rng = np.random.default_rng(9)
    y, p = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    yd, pd = da.from_array(y, chunks=(20, 2)), da.from_array(p, chunks=(20, 2))
    close(fld.mse(yd, pd).compute(), fl.mse(y, p))
    close(fld.huber(yd, pd, delta=0.5, reduction="sum").compute(),
          fl.huber(y, p, delta=0.5, reduction="sum"))
    close(fld.Huber(y, p).compute(), fl.huber(y, p))
    close(fld.loss(fl.LogCosh(), y, p).compute(), fl.log_cosh(y, p))
    with pytest.raises(AttributeError):
        fld.no_such_loss


@needs_dask
def test_sklearn_estimators_take_dask_arrays_in_memory(client):
    """LossRegressor validates X with scikit-learn, which materialises a dask
    array on the client (documented): the fit equals the NumPy fit."""
    pytest.importorskip("sklearn")
    import dask.array as da

    from fastloss.sklearn import LossRegressor
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=300)
    a = LossRegressor("huber").fit(da.from_array(X, chunks=(100, 3)),
                                   da.from_array(y, chunks=100))
    b = LossRegressor("huber").fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)


# ------------------------------------------------------------- error cases
@needs_dask
def test_splitting_a_row_is_an_error(fld):
    import dask.array as da
    yp = da.ones((10, 4), chunks=(5, 2))
    with pytest.raises(ValueError, match=r"rechunk\(\{1: -1\}\)"):
        fld.loss("categorical_crossentropy", yp, yp)
    with pytest.raises(ValueError, match="axis 1"):
        fld.gradient("mse", yp, yp)
    lab = da.zeros(10, chunks=5, dtype=np.int64)
    with pytest.raises(ValueError, match="rechunk"):
        fld.loss("sparse_categorical_crossentropy", lab, yp)
    with pytest.raises(ValueError, match="rechunk"):
        fld.loss("jaccard_loss", yp, yp, class_axis=1)
    with pytest.raises(ValueError, match="rechunk"):
        fld.loss("kappa_loss", lab, yp)
    one_row = da.ones(8, chunks=3) / 8
    with pytest.raises(ValueError, match="one row"):
        fld.loss("kl_divergence", one_row, one_row)


@needs_dask
def test_lovasz_global_sort_is_an_error(fld):
    import dask.array as da
    yp = da.ones((4, 3, 2, 2), chunks=(2, 3, 2, 2)) / 3
    lab = da.zeros((4, 2, 2), chunks=(2, 2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="per_image=False"):
        fld.loss("lovasz_softmax", lab, yp)
    with pytest.raises(ValueError, match="per_image=False"):
        fld.loss("lovasz_hinge", lab, lab.astype(float), per_image=False)
    with pytest.raises(ValueError, match="axis 2"):
        fld.loss("lovasz_softmax", lab, yp.rechunk((2, 3, 1, 2)), per_image=True)


@needs_dask
def test_ranking_groups_must_stay_in_chunks(client, fld):
    import dask.array as da
    y = da.from_array(np.array([1.0, 0, 2, 1, 0, 3]), chunks=3)
    s = da.from_array(np.arange(6.0), chunks=3)
    with pytest.raises(ValueError, match="group"):
        fld.loss("ranknet", y, s)                          # one list over two chunks
    split = da.from_array(np.array([0, 0, 1, 1, 1, 2]), chunks=3)   # group 1 in both
    for fn in (fld.loss, fld.gradient):
        with pytest.raises(ValueError, match="group"):
            fn("ranknet", y, s, group=split).compute()
    with pytest.raises(ValueError, match="group"):
        fld.gradient("ranknet", y, s, group=split, reduction="sum").compute()
    ok = da.from_array(np.array([0, 0, 0, 1, 1, 1]), chunks=3)
    close(fld.loss("ranknet", y, s, group=ok).compute(),
          fl.ranknet(y.compute(), s.compute(), group=ok.compute()))


@needs_dask
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ranknet_nan_relevance_spreads_to_every_chunk(client, fld, reduction):
    """In memory a NaN relevance makes the loss and the whole gradient NaN;
    a chunk without the NaN must not return finite numbers either."""
    import dask
    import dask.array as da
    y = np.array([1.0, np.nan, 2, 1, 0, 3])
    s = np.arange(6.0)
    g = np.array([0, 0, 0, 1, 1, 1])
    v, gr = dask.compute(*fld.loss_gradient(
        "ranknet", da.from_array(y, chunks=3), da.from_array(s, chunks=3),
        group=da.from_array(g, chunks=3), reduction=reduction))
    assert np.isnan(v).all() and np.isnan(gr).all()
    rv, rg = fl.RankNet(reduction=reduction).loss_gradient(y, s, group=g)
    assert np.isnan(rv).all() and np.isnan(rg).all()


@needs_dask
def test_hinge_conventions_mixed_across_chunks(client, fld):
    import dask.array as da
    y = da.from_array(np.array([-1.0, 1, 1, 0, 1, 0]), chunks=3)
    p = da.from_array(np.linspace(-1, 1, 6), chunks=3)
    with pytest.raises(ValueError, match="y_true"):
        fld.loss("hinge", y, p).compute()
    with pytest.raises(ValueError, match="y_true"):     # as the in-memory call
        fl.hinge(y.compute(), p.compute())


@needs_dask
def test_bad_arguments(fld):
    import dask.array as da
    yp = da.ones(10, chunks=5)
    with pytest.raises(ValueError, match="sample_weight"):
        fld.loss("mse", yp, yp, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="y_true"):
        fld.loss("mse", da.ones(9, chunks=5), yp)
    with pytest.raises(ValueError, match="delta"):
        fld.loss("huber", yp, yp, delta=-1.0)
    with pytest.raises(AttributeError, match="gradient_hessian"):
        fld.gradient_hessian("jaccard_loss", yp, yp)
    with pytest.raises(TypeError, match="loss"):
        fld.loss(3, yp, yp)


# ------------------------------------------------------ label maps (SPEC §4.3)
_OVERLAP = {"jaccard_loss": fl.JaccardLoss, "f1_loss": fl.F1Loss, "tversky_loss": fl.TverskyLoss}


def _label_map_case(rng, name, class_axis, from_logits, ignore_index, weighted):
    """(loss params, y_true label map, y_pred, sample_weight) for a
    (n, C, 3, 2) y_pred with the classes on `class_axis`."""
    n, C = 7, 4
    shape = [n, 3, 2]
    k = class_axis % 4
    shape.insert(k, C)
    yp = rng.normal(size=shape) * 2 if from_logits else rng.uniform(size=shape)
    lab_shape = tuple(shape[:k] + shape[k + 1:])
    lab = rng.integers(0, C, size=lab_shape)
    params = {"class_axis": class_axis, "from_logits": from_logits}
    if ignore_index is not None:
        lab[rng.random(lab_shape) < 0.25] = ignore_index
        params["ignore_index"] = ignore_index
    if name == "tversky_loss":
        params.update(alpha=0.3, beta=0.7, gamma=0.75)
    w = None
    if weighted:
        w = rng.uniform(0.0, 2.0, size=shape[0])
        w[0] = 0.0
    return params, lab, yp, w


@needs_dask
@pytest.mark.parametrize("name", sorted(_OVERLAP))
def test_overlap_label_maps_equal_in_memory(client, fld, name):
    """Integer class maps as y_true (the one-hot implied, ignore_index
    positions left out, logits softmaxed along the class axis): value and
    gradient equal the in-memory call for every reduction, chunking and
    weighting (class_axis=0 puts classes on axis 0: one chunk there)."""
    import dask
    import dask.array as da
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    cases = []
    for class_axis in (1, -1, 3, 0):
        for from_logits in (False, True):
            for ignore_index in (None, -1, 255):
                for weighted in (False, True):
                    params, lab, yp, w = _label_map_case(rng, name, class_axis, from_logits,
                                                         ignore_index, weighted)
                    n = yp.shape[0]
                    chunkings = [(n,)] if class_axis == 0 else [(n,), (3, 3, 1), (1,) * n]
                    for chunks0 in chunkings:
                        for reduction in ("mean", "sum", "none"):
                            loss = _OVERLAP[name](reduction=reduction, **params)
                            lab_chunks = (lab.shape if class_axis == 0
                                          else (chunks0,) + lab.shape[1:])
                            args = (da.from_array(lab, chunks=lab_chunks),
                                    da.from_array(yp, chunks=(chunks0,) + yp.shape[1:]),
                                    None if w is None else da.from_array(w, chunks=chunks0))
                            label = f"{name} {params} w={weighted} {chunks0} {reduction}"
                            cases.append((label, loss, (lab, yp, w),
                                          fld.loss_gradient(loss, *args)))
    got = dask.compute([c[3] for c in cases])[0]
    for (label, loss, arrays, _), (value, grad) in zip(cases, got):
        ref_v, ref_g = loss.loss_gradient(*arrays)
        close(value, ref_v, label + " value")
        close(grad, ref_g, label + " gradient")
        assert grad.dtype == ref_g.dtype


@needs_dask
def test_overlap_label_maps_float32_and_errors(client, fld):
    import dask.array as da
    rng = np.random.default_rng(11)
    yp = rng.uniform(size=(8, 3, 4, 4)).astype(np.float32)
    lab = rng.integers(0, 3, size=(8, 4, 4))
    v, g = fld.loss_gradient("jaccard_loss", da.from_array(lab, chunks=(3, 4, 4)),
                             da.from_array(yp, chunks=(3, 3, 4, 4)), class_axis=1)
    ref_v, ref_g = fl.JaccardLoss(class_axis=1).loss_gradient(lab, yp)
    assert g.dtype == np.float32 and g.compute().dtype == np.float32
    np.testing.assert_allclose(v.compute(), ref_v, rtol=1e-6)
    np.testing.assert_allclose(g.compute(), ref_g, rtol=1e-5, atol=1e-9)
    # a label outside [0, C) that is not ignore_index: the in-memory ValueError
    bad = lab.copy()
    bad[5, 0, 0] = 7
    with pytest.raises(ValueError, match="outside"):
        fld.loss("f1_loss", da.from_array(bad, chunks=(3, 4, 4)),
                 da.from_array(yp, chunks=(3, 3, 4, 4)), class_axis=1).compute()
    with pytest.raises(ValueError, match="outside"):
        fl.f1_loss(bad, yp, class_axis=1)
    # classes on axis 0 with a label map: every chunk needs all classes
    yp0 = np.moveaxis(yp, 1, 0)
    with pytest.raises(ValueError, match=r"rechunk\(\{0: -1\}\)"):
        fld.loss("jaccard_loss", lab, da.from_array(yp0, chunks=(2, 8, 4, 4)), class_axis=0)
    # ignore_index needs a label map; from_logits needs class_axis (as in memory)
    with pytest.raises(ValueError, match="ignore_index"):
        fld.loss("jaccard_loss", yp, da.from_array(yp, chunks=(3, 3, 4, 4)), class_axis=1,
                 ignore_index=0)
    with pytest.raises(ValueError, match="class_axis"):
        fld.loss("tversky_loss", yp, da.from_array(yp, chunks=(3, 3, 4, 4)), from_logits=True)
    with pytest.raises(ValueError, match="y_true"):
        fld.loss("jaccard_loss", lab[:, :2], da.from_array(yp, chunks=(3, 3, 4, 4)),
                 class_axis=1)


# ------------------------------------------------------ laziness and passes
@needs_dask
def test_lazy_and_one_read_per_pass(fld):
    """Building the graph computes nothing; computing value and gradient
    together reads every chunk of y_pred and y_true once (pointwise) or once
    per pass (two passes: statistics, gradient) for set-level losses."""
    import dask
    import dask.array as da
    reads = {}

    def source(block, block_id=None, tag=""):
        reads[(tag, block_id)] = reads.get((tag, block_id), 0) + 1
        return block

    base = np.random.default_rng(0).uniform(size=(40, 3))

    def counted(name):
        return da.from_array(base, chunks=(7, 3)).map_blocks(
            source, tag=name, dtype=base.dtype, meta=np.empty((0, 0)))

    with dask.config.set(scheduler="sync"):
        for loss_name, passes in (("mse", 1), ("binary_crossentropy", 1), ("jaccard_loss", 2)):
            reads.clear()
            yt, yp = counted("yt"), counted("yp")
            reads.clear()
            v, g = fld.loss_gradient(loss_name, yt, yp, sample_weight=np.ones(40))
            assert reads == {}
            dask.compute(v, g)
            assert set(reads.values()) == {passes}, (loss_name, reads)
            assert len(reads) == 2 * 6


# -------------------------------------------------------------- resilience
def _slow(block):
    time.sleep(0.15)
    return block


@needs_dask
def test_worker_killed_mid_computation(client, fld):
    import dask
    import dask.array as da
    rng = np.random.default_rng(3)
    y = rng.normal(size=(4000, 2))
    p = rng.normal(size=(4000, 2))
    w = rng.uniform(size=4000)
    yp = da.from_array(p, chunks=(100, 2)).map_blocks(_slow, dtype=p.dtype)
    v, g = fld.loss_gradient("huber", da.from_array(y, chunks=(100, 2)), yp,
                             da.from_array(w, chunks=100))
    fut = client.compute([v, g])
    time.sleep(1.0)
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), 9)
    try:
        got_v, got_g = fut.result(timeout=120) if hasattr(fut, "result") else \
            [f.result(timeout=120) for f in fut]
    except Exception as exc:        # a clear error is acceptable, a wrong number is not
        assert "worker" in (type(exc).__name__ + str(exc)).lower(), exc
        return
    close(got_v, fl.huber(y, p, w))
    close(got_g, fl.Huber().gradient(y, p, w))
    assert not dask.is_dask_collection(got_g)


# --------------------------------------------------------------- objective
@needs_dask
def test_objective_matches_in_memory(client, fld):
    import dask.array as da
    from scipy.optimize import minimize
    rng = np.random.default_rng(7)
    n, d = 100_000, 20
    X = rng.normal(size=(n, d))
    coef = rng.normal(size=d)
    y = X @ coef + 0.5 + rng.standard_t(3, size=n)
    w = rng.uniform(0.5, 1.5, size=n)
    Xd = da.from_array(X, chunks=(30_000, d))
    f_mem = fl.objective("huber", X, y, alpha=1.0, sample_weight=w, fit_intercept=True,
                         scale=1.0 / w.sum())
    f_dsk = fld.objective("huber", Xd, y, alpha=1.0, sample_weight=w, fit_intercept=True,
                          scale=1.0 / w.sum())
    assert f_dsk.n_params == f_mem.n_params == d + 1
    w0 = rng.normal(size=d + 1)
    v0, g0 = f_dsk(w0)
    r0, rg0 = f_mem(w0)
    close(v0, r0)
    close(g0, rg0)
    opts = dict(jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15,
                                                        "maxiter": 500})
    a = minimize(f_dsk, np.zeros(d + 1), **opts).x
    b = minimize(f_mem, np.zeros(d + 1), **opts).x
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    coef_d, b_d = f_dsk.unpack(a)
    assert coef_d.shape == (1, d) and b_d.shape == (1,)


@needs_dask
def test_objective_labels(client, fld):
    import dask.array as da
    rng = np.random.default_rng(8)
    X = rng.normal(size=(500, 4))
    lab = rng.integers(0, 3, size=500)
    f_mem = fl.objective("sparse_categorical_crossentropy", X, lab, alpha=0.3,
                         fit_intercept=True)
    f_dsk = fld.objective("sparse_categorical_crossentropy", da.from_array(X, chunks=(170, 4)),
                          da.from_array(lab, chunks=170), alpha=0.3, fit_intercept=True)
    w0 = rng.normal(size=f_mem.n_params)
    v, g = f_dsk(w0)
    rv, rg = f_mem(w0)
    close(v, rv)
    close(g, rg)


# ---------------------------------------------------------------- boosting
@needs_dask
def test_xgboost_dask_custom_objective(client):
    pytest.importorskip("xgboost")
    import dask.array as da
    dxgb = pytest.importorskip("xgboost.dask", exc_type=ImportError)

    import fastloss.xgboost as flx
    rng = np.random.default_rng(11)
    X = rng.normal(size=(400, 5))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + 0.3 * rng.normal(size=400)
    w = rng.uniform(0.3, 2.0, size=400)
    Xd, yd, wd = (da.from_array(X, chunks=(200, 5)), da.from_array(y, chunks=200),
                  da.from_array(w, chunks=200))
    base = dict(max_depth=3, eta=0.3, tree_method="hist", nthread=1, seed=0, base_score=0.4)

    def margins(params, obj=None):
        dtrain = dxgb.DaskDMatrix(client, Xd, yd, weight=wd)
        out = dxgb.train(client, params, dtrain, 8, obj=obj)
        return dxgb.predict(client, out["booster"], dtrain, output_margin=True).compute()

    builtin = margins(dict(base, objective="reg:squarederror"))
    custom = margins(dict(base, reg_lambda=2.0, min_child_weight=2.0), flx.objective("mse"))
    np.testing.assert_allclose(custom, builtin, rtol=1e-6, atol=1e-6)
    huber = margins(base, flx.objective("huber", delta=1e30))
    np.testing.assert_allclose(huber, builtin, rtol=1e-6, atol=1e-6)


@needs_dask
def test_lightgbm_dask_custom_objective(client):
    lgb = pytest.importorskip("lightgbm")
    # lightgbm.dask needs dask.dataframe (pandas, pyarrow): 'dask[dataframe]'
    pytest.importorskip("dask.dataframe", exc_type=ImportError)
    import dask.array as da

    import fastloss.lightgbm as fll
    rng = np.random.default_rng(13)
    X = rng.normal(size=(400, 5))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + 0.3 * rng.normal(size=400)
    w = rng.uniform(0.3, 2.0, size=400)
    # one partition: LightGBM then trains on the one worker holding it, the
    # same way for both objectives (with two partitions the machines' ranks
    # and data placement change from fit to fit, and so do the trees)
    Xd, yd, wd = (da.from_array(X, chunks=(400, 5)), da.from_array(y, chunks=400),
                  da.from_array(w, chunks=400))
    kw = dict(num_leaves=7, learning_rate=0.3, min_child_samples=5, verbose=-1, n_jobs=1,
              deterministic=True, boost_from_average=False, random_state=0, n_estimators=8,
              client=client, tree_learner="data")
    builtin = lgb.DaskLGBMRegressor(objective="regression", **kw).fit(
        Xd, yd, sample_weight=wd).predict(Xd).compute()
    custom = lgb.DaskLGBMRegressor(objective=fll.objective("huber", delta=1e300), **kw).fit(
        Xd, yd, sample_weight=wd).predict(Xd).compute()
    np.testing.assert_allclose(custom, builtin, rtol=1e-6, atol=1e-6)
