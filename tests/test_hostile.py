"""Hostile input that used to crash, hang or answer wrongly (the reliability
issue's list), each case written so it fails on the old behaviour:

- out= sharing memory with any input (labels, groups, weights, parameters);
- per-sample +inf, or a sum that overflows, reduced to NaN;
- forked children hanging on the next parallel call;
- big-endian float32 computed as float64;
- integer labels and ids wrapped instead of rejected;
- arrays at odd addresses handed to the kernels as if aligned.

Cases that used to crash the interpreter run in a subprocess, so a crash is a
failed test rather than a dead test run.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastloss as fl


def run_isolated(code, timeout=120):
    """Run `code` in a fresh interpreter; return its stdout (fails on a crash)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- out= aliasing --------------------------------------------------------------

def test_out_sharing_memory_with_labels_is_refused_not_a_crash():
    # The sparse CE gradient kernel used to overwrite the labels it was
    # reading (a heap overflow / SIGSEGV), multiclass hinge silently gave a
    # wrong gradient.
    out = run_isolated("""
        import numpy as np, fastloss as fl
        for loss in (fl.SparseCategoricalCrossentropy(from_logits=True), fl.MulticlassHinge()):
            n, C = 64, 4
            buf = np.zeros((n, C))
            lab = buf.view(np.int64).reshape(-1)[:n]   # labels inside the gradient buffer
            lab[:] = np.arange(n) % C
            x = np.random.default_rng(0).normal(size=(n, C))
            try:
                loss.gradient(lab, x, out=buf)
            except ValueError as exc:
                assert "out" in str(exc) and "y_true" in str(exc), exc
                print("refused")
            else:
                print("accepted")
    """)
    assert out.split() == ["refused", "refused"]


@pytest.mark.parametrize("method", ["gradient", "loss_gradient"])
@pytest.mark.parametrize("what", ["y_true", "y_pred", "sample_weight", "group", "class_weight"])
def test_out_may_not_alias_any_input(what, method):
    rng = np.random.default_rng(2)
    n, C = 30, 3
    if what == "group":
        loss = fl.RankNet()
        y, s = rng.integers(0, 3, n).astype(float), rng.normal(size=n)
        out = np.zeros(n)
        group = out.view(np.int64)                    # ids written over by the gradient
        group[:] = np.repeat(np.arange(3), 10)
        with pytest.raises(ValueError, match="out.*group"):
            getattr(loss, method)(y, s, out=out, group=group)
        return
    if what == "class_weight":
        out = np.zeros((n, C))
        cw = out.reshape(-1)[:C]
        cw[:] = 1.0
        loss = fl.SparseCategoricalCrossentropy(from_logits=True, class_weight=np.ones(C))
        loss.class_weight = cw                        # the parameter array inside out
        with pytest.raises(ValueError, match="out.*class_weight"):
            getattr(loss, method)(rng.integers(0, C, n), rng.normal(size=(n, C)), out=out)
        return
    loss = fl.MeanSquaredError()
    yt, yp = rng.normal(size=(n, C)), rng.normal(size=(n, C))
    if what == "sample_weight":
        out = np.zeros(n)                             # a 1-D problem: weights inside out
        with pytest.raises(ValueError, match="out.*sample_weight"):
            getattr(loss, method)(rng.normal(size=n), rng.normal(size=n), out=out,
                                  sample_weight=out[::-1])
        return
    out = yt if what == "y_true" else yp
    with pytest.raises(ValueError, match=f"out.*{what}"):
        getattr(loss, method)(yt, yp, out=out)


def test_a_separate_out_is_still_written():
    rng = np.random.default_rng(3)
    yt, yp = rng.normal(size=50), rng.normal(size=50)
    out = np.empty(50)
    g = fl.MeanSquaredError().gradient(yt, yp, out=out)
    assert g is out
    np.testing.assert_allclose(out, 2 * (yp - yt) / 50, rtol=1e-14)


# --- infinities -----------------------------------------------------------------

def _infinite_cases():
    big = 1e200
    yield "mse", fl.MeanSquaredError(), np.zeros(3), np.array([0.5, big, 1.0])
    yield "mae", fl.MeanAbsoluteError(), np.zeros(3), np.array([0.5, np.inf, 1.0])
    yield "huber", fl.Huber(), np.zeros(3), np.array([0.5, np.inf, 1.0])
    yield "log_cosh", fl.LogCosh(), np.zeros(3), np.array([0.5, np.inf, 1.0])
    yield "poisson", fl.Poisson(log_input=True), np.ones(3), np.array([0.5, 800.0, 1.0])
    yield "bce_logits", fl.BinaryCrossentropy(from_logits=True), np.ones(3), np.array([0.5, -np.inf, 1.0])
    yield "hinge", fl.Hinge(), np.ones(3), np.array([0.5, -np.inf, 1.0])
    yield "squared_hinge", fl.SquaredHinge(), np.ones(3), np.array([0.5, -big, 1.0])
    logits = np.array([[0.0, 1.0], [1e308, -1e308], [1.0, 0.0]])
    yield "sparse_ce", fl.SparseCategoricalCrossentropy(from_logits=True), np.array([0, 1, 0]), logits
    yield "cce", fl.CategoricalCrossentropy(from_logits=True), np.eye(2)[[0, 1, 0]], logits
    yield "multiclass_hinge", fl.MulticlassHinge(), np.array([0, 1, 0]), logits
    logp = np.log(np.array([[0.5, 0.5], [1.0, 1e-300], [0.25, 0.75]]))
    logp[1, 1] = -np.inf
    yield "kl_log", fl.KLDivergence(log_input=True), np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]), logp


@pytest.mark.parametrize("name, loss, yt, yp", list(_infinite_cases()), ids=lambda c: c if isinstance(c, str) else "")
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_an_infinite_sample_makes_the_reduction_inf_not_nan(name, loss, yt, yp, reduction):
    loss.reduction = "none"
    rows = loss(yt, yp)
    assert np.isposinf(rows).any() and not np.isnan(rows).any(), rows
    loss.reduction = reduction
    assert loss(yt, yp) == np.inf
    assert loss.loss_gradient(yt, yp)[0] == np.inf


@pytest.mark.parametrize("n", [2, 100_000])          # one block, and many blocks over threads
def test_a_sum_that_overflows_is_inf_not_nan(n):
    yp = np.zeros(n)
    yp[0] = yp[-1] = 1e154                             # each square is finite, their sum is not
    assert np.isfinite(fl.mse(np.zeros(n), yp, reduction="none")).all()
    assert fl.mse(np.zeros(n), yp, reduction="sum") == np.inf
    assert fl.mse(np.zeros(n), yp) == np.inf
    with fl.num_threads(1):
        assert fl.mse(np.zeros(n), yp, reduction="sum") == np.inf


# --- fork -----------------------------------------------------------------------

_FORK_CHILD = """
    import os, sys, numpy as np, fastloss as fl
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=400_000), rng.normal(size=400_000)   # parallel in the parent
    with fl.num_threads(2):
        parent = fl.mse(y, p)
    {body}
"""


def test_os_fork_child_computes_and_does_not_hang():
    out = run_isolated(textwrap.dedent(_FORK_CHILD).format(body=textwrap.dedent("""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            fl.set_num_threads(2)                     # asked for, cannot be had safely
            value = fl.mse(y, p)
            os.write(w, repr(value == parent).encode())
            os._exit(0)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        print(os.read(r, 100).decode(), os.waitstatus_to_exitcode(status))
    """)), timeout=60)
    assert out.split() == ["True", "0"]


@pytest.mark.skipif(sys.platform != "linux", reason="the fork start method is a POSIX feature")
def test_fork_pool_workers_compute_and_do_not_hang():
    out = run_isolated(textwrap.dedent(_FORK_CHILD).format(body=textwrap.dedent("""
        import multiprocessing
        def work(i):
            return fl.mse(y, p) == parent and fl.get_num_threads() == 1
        with multiprocessing.get_context("fork").Pool(2) as pool:
            print(all(pool.map(work, range(4))))
    """)), timeout=60)
    assert out.split() == ["True"]


# --- byte order -----------------------------------------------------------------

@pytest.mark.parametrize("code", [">f4", "<f4", ">f8"])
def test_non_native_byte_order_keeps_the_float_width(code):
    rng = np.random.default_rng(4)
    yt, yp = rng.normal(size=9).astype(code), rng.normal(size=9).astype(code)
    native = np.dtype(code).newbyteorder("=")
    loss = fl.MeanSquaredError()
    grad = loss.gradient(yt, yp)
    assert grad.dtype == native
    ref = loss.gradient(yt.astype(native), yp.astype(native))
    assert np.array_equal(grad, ref)
    out = np.empty(9, dtype=native)
    assert loss.gradient(yt, yp, out=out) is out
    assert loss.loss_gradient(yt, yp)[0] == loss(yt.astype(native), yp.astype(native))


def test_byte_swapped_labels_and_weights_are_read_right():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 4)).astype(">f8")
    lab, w = (np.arange(20) % 4).astype(">i8"), rng.uniform(size=20).astype(">f8")
    loss = fl.SparseCategoricalCrossentropy(from_logits=True)
    got = loss.loss_gradient(lab, x, sample_weight=w)
    ref = loss.loss_gradient(lab.astype("<i8"), x.astype("<f8"), sample_weight=w.astype("<f8"))
    assert got[0] == ref[0] and np.array_equal(got[1], ref[1])


# --- integers never wrapped -----------------------------------------------------

def test_uint64_max_label_is_out_of_range_not_minus_one():
    x = np.zeros((2, 3))
    lab = np.array([0, 2**64 - 1], dtype=np.uint64)
    loss = fl.SparseCategoricalCrossentropy(from_logits=True, ignore_index=-1)
    for call in (loss.loss, loss.gradient, loss.loss_gradient):
        with pytest.raises(ValueError, match="y_true"):
            call(lab, x)


@pytest.mark.parametrize("bad", [1e20, -1e20, 2.0**63])
def test_float_label_beyond_int64_is_rejected(bad):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="y_true"):
        fl.sparse_categorical_crossentropy(np.array([0.0, bad]), x, from_logits=True)
    with pytest.raises(ValueError, match="y_true"):
        fl.multiclass_hinge(np.array([0.0, bad]), x)


def test_float_group_ids_are_not_merged_by_wrapping():
    y, s = np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.3, 0.1, -0.2, 0.4])
    with pytest.raises(ValueError, match="group"):
        fl.ranknet(y, s, group=np.array([1e20, 1e20, 2e20, 2e20]))
    with pytest.raises(ValueError, match="group"):
        fl.ranknet(y, s, group=np.array([0, 0, 2**64 - 1, 2**64 - 1], dtype=np.uint64))
    # in range, float ids are the integer ids
    a = fl.ranknet(y, s, group=np.array([3.0, 3.0, 7.0, 7.0]), reduction="none")
    b = fl.ranknet(y, s, group=np.array([3, 3, 7, 7]), reduction="none")
    assert np.array_equal(a, b) and a.shape == (2,)


@pytest.mark.parametrize("n", [2**31, 2**63, 10**30])
def test_set_num_threads_out_of_range_is_a_value_error(n):
    before = fl.get_num_threads()
    with pytest.raises(ValueError, match="n must"):
        fl.set_num_threads(n)
    assert fl.get_num_threads() == before


# --- alignment ------------------------------------------------------------------

def _unaligned(a):
    """A copy of `a` whose data sits one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    view = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    view[...] = a
    assert not view.flags.aligned
    return view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unaligned_arrays_give_the_aligned_answer(dtype):
    out = run_isolated(f"""
        import numpy as np, fastloss as fl, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_hostile import _unaligned
        rng = np.random.default_rng(6)
        dt = np.{np.dtype(dtype).name}
        yt, yp = rng.uniform(0.05, 0.95, (64, 3)).astype(dt), rng.normal(size=(64, 3)).astype(dt)
        lab = rng.integers(0, 3, 64)
        cases = [
            (fl.LogCosh(), yt, yp), (fl.BinaryCrossentropy(from_logits=True), yt, yp),
            (fl.Poisson(log_input=True), yt, yp),
            (fl.HellingerDistance(), yt / yt.sum(1, keepdims=True), np.abs(yp) / np.abs(yp).sum(1, keepdims=True)),
            (fl.SparseCategoricalCrossentropy(from_logits=True), lab, yp),
            (fl.KLDivergence(log_input=True), yt / yt.sum(1, keepdims=True), np.log(np.abs(yp) / np.abs(yp).sum(1, keepdims=True))),
        ]
        for loss, a, b in cases:
            ref = loss.loss_gradient(a, b)
            got = loss.loss_gradient(_unaligned(a), _unaligned(b))
            assert got[0] == ref[0] and np.array_equal(got[1], ref[1]), type(loss).__name__
        w = rng.uniform(size=64)
        ref = fl.mse(yt, yp, sample_weight=w)
        assert fl.mse(_unaligned(yt), _unaligned(yp), sample_weight=_unaligned(w)) == ref
        print("ok")
    """)
    assert out.split() == ["ok"]


def test_unaligned_out_is_refused():
    out = _unaligned(np.zeros(10))
    with pytest.raises(ValueError, match="out"):
        fl.MeanSquaredError().gradient(np.zeros(10), np.ones(10), out=out)


def test_caller_arrays_are_untouched_by_the_copies():
    yt = np.arange(6, dtype=">f4")
    yp = _unaligned(np.linspace(0, 1, 6))
    before = (yt.tobytes(), yp.tobytes())
    fl.MeanSquaredError().loss_gradient(yt, yp)
    assert (yt.tobytes(), yp.tobytes()) == before and yt.dtype == np.dtype(">f4")
