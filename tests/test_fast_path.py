"""The fast path of small calls (``Loss._fast``, ``pointwise.Record``,
``rows.Record``) against the checked path.

A call without sample_weight / out= whose arrays are the common case
(exact ndarrays, C-contiguous, aligned, NumPy's own native float64/float32,
matching shapes; int64 labels in range) runs the kernel straight from a
record filled once.  Everything else takes the checked path.  These tests
check that (1) the fast path is taken exactly when it should be, (2) it
gives the checked path's bits for every method, reduction and dtype, and
(3) every bad or odd input still gives SPEC §1's error or result, whichever
path sees it first.
"""
import copy
import pickle

import numpy as np
import pytest

import fastloss as fl
from fastloss._kernels import pointwise as _pointwise
from fastloss._kernels import rows as _rows

REDUCTIONS = ("mean", "sum", "none", "sum_over_batch_size")
METHODS = ("call", "loss", "gradient", "loss_gradient", "gradient_hessian")
MODE = {"call": 0, "loss": 0, "loss_gradient": 1, "gradient": 2, "gradient_hessian": 3}


def _elementwise_cases():
    return [
        (fl.MeanSquaredError, {}, "reals"),
        (fl.MeanAbsoluteError, {}, "reals"),
        (fl.Huber, {"delta": 0.7}, "reals"),
        (fl.LogCosh, {}, "reals"),
        (fl.PinballLoss, {"quantile": 0.3}, "reals"),
        (fl.PseudoHuber, {"delta": 2.0}, "reals"),
        (fl.Poisson, {"log_input": True}, "counts"),
        (fl.TweedieDeviance, {"power": 1.5}, "positive"),
        (fl.BinaryCrossentropy, {"from_logits": True}, "binary"),
        (fl.BinaryCrossentropy, {"from_logits": False, "label_smoothing": 0.1}, "prob"),
        (fl.BinaryFocalCrossentropy, {"from_logits": True}, "binary"),
    ]


def _data(kind, shape, rng, dtype=np.float64):
    if kind == "reals":
        y, p = rng.normal(size=shape), rng.normal(size=shape)
    elif kind == "counts":
        y, p = rng.poisson(2.0, size=shape).astype(float), rng.normal(size=shape)
    elif kind == "positive":
        y, p = rng.gamma(2.0, size=shape), rng.gamma(2.0, size=shape) + 0.1
    elif kind == "binary":
        y, p = (rng.random(shape) < 0.4).astype(float), 3 * rng.normal(size=shape)
    else:
        y, p = (rng.random(shape) < 0.4).astype(float), rng.random(shape)
    return y.astype(dtype), p.astype(dtype)


def _call(loss, method, y, p):
    """The method's result as a tuple of arrays/floats."""
    if method == "call":
        return (loss(y, p),)
    if method == "loss":
        return (loss.loss(y, p),)
    if method == "gradient":
        return (loss.gradient(y, p),)
    return tuple(getattr(loss, method)(y, p))


def _bits(a):
    return np.asarray(a, dtype=np.float64).tobytes() if np.ndim(a) == 0 else \
        (np.asarray(a).dtype.str, np.asarray(a).shape, np.asarray(a).tobytes())


def _same_bits(r1, r2):
    assert len(r1) == len(r2)
    for a, b in zip(r1, r2):
        assert type(a) is type(b) or (np.ndim(a) == 0 and np.ndim(b) == 0)
        assert _bits(a) == _bits(b)


def _strided(x):
    """The same values in a non-contiguous view (the checked path copies it)."""
    big = np.empty((2 * x.shape[0],) + x.shape[1:], dtype=x.dtype)
    big[::2] = x
    return big[::2]


def _swapped(x):
    """The same values in the other byte order."""
    return x.astype(x.dtype.newbyteorder())


def _misaligned(x):
    """The same values at an odd address (not aligned to the dtype)."""
    buf = np.zeros(x.nbytes + 1, dtype=np.uint8)
    view = np.frombuffer(buf.data, dtype=x.dtype, count=x.size, offset=1).reshape(x.shape)
    view[...] = x
    assert not view.flags.aligned
    return view


VARIANTS = {"strided": _strided, "swapped": _swapped, "misaligned": _misaligned,
            "list": lambda x: x.tolist(),
            "subclass": lambda x: x.view(type("Sub", (np.ndarray,), {}))}


# ---------------------------------------------------------- which path runs
def test_fast_path_is_taken_for_the_common_case(rng):
    y, p = rng.normal(size=50), rng.normal(size=50)
    loss = fl.MeanSquaredError()
    loss(y, p)
    assert isinstance(loss.__dict__["_fast"], _pointwise.Record)
    for mode in range(4):
        assert loss._fast(y, p, mode) is not None
    sce = fl.SparseCategoricalCrossentropy(from_logits=True)
    z, lab = rng.normal(size=(20, 5)), rng.integers(0, 5, 20)
    sce(lab, z)
    assert isinstance(sce.__dict__["_fast"], _rows.Record)
    assert sce._fast(lab, z, 1) is not None


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("which", ["y_true", "y_pred"])
def test_fast_path_declines_anything_else(rng, variant, which):
    y, p = rng.normal(size=40), rng.normal(size=40)
    loss = fl.MeanSquaredError()
    loss(y, p)
    args = [y, p]
    args[which == "y_pred"] = VARIANTS[variant](args[which == "y_pred"])
    assert loss._fast(*args, 1) is None


@pytest.mark.parametrize("y, p", [
    (np.zeros(3), np.zeros(4)),                           # shapes differ
    (np.zeros((3, 1)), np.zeros(3)),                      # (n, 1) against (n,)
    (np.zeros(0), np.zeros(0)),                           # empty
    (np.zeros((2, 0)), np.zeros((2, 0))),                 # empty rows
    (np.zeros(3, np.float32), np.zeros(3)),               # mixed dtypes
    (np.zeros(3, np.int64), np.zeros(3, np.int64)),       # integer data (converted)
    (np.float64(1.0), np.float64(2.0)),                   # not arrays
    (np.zeros(3), np.zeros(3).astype(">f8")),             # byte-swapped
])
def test_fast_path_declines_odd_input(y, p):
    loss = fl.MeanSquaredError()
    loss.__dict__.pop("_fast", None)
    assert loss._fast(y, p, 1) is None


def test_sparse_fast_path_declines_odd_labels(rng):
    z = rng.normal(size=(6, 4))
    sce = fl.SparseCategoricalCrossentropy(from_logits=True)
    good = np.array([0, 1, 2, 3, 0, 1])
    assert sce._fast(good, z, 1) is not None
    for lab in (good.astype(np.int32), good.astype(float), np.array([0, 1, 2, 4, 0, 1]),
                np.array([0, -1, 2, 3, 0, 1]), good[:5], good.reshape(2, 3),
                _strided(good), _swapped(good)):
        assert sce._fast(lab, z, 1) is None
    assert sce._fast(good, z.reshape(2, 3, 4), 1) is None
    assert sce._fast(good, np.asfortranarray(z), 1) is None


def test_losses_whose_calls_need_checks_have_no_fast_path(rng):
    y = (rng.random(8) < 0.5).astype(float)
    for loss in (fl.Hinge(), fl.SquaredHinge(),
                 fl.BinaryCrossentropy(pos_weight=[2.0]),
                 fl.SparseCategoricalCrossentropy(ignore_index=0),
                 fl.SparseCategoricalCrossentropy(class_weight=[1.0, 2.0]),
                 fl.SparseCategoricalCrossentropy(label_smoothing=0.1)):
        assert loss._fast(y, y, 0) is None
        assert loss.__dict__["_fast"] is not None and \
            not isinstance(loss.__dict__["_fast"], (_pointwise.Record, _rows.Record))


# ------------------------------------------------- same bits on both paths
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", range(len(_elementwise_cases())))
def test_elementwise_fast_equals_checked_bits(rng, case, reduction, dtype, simd_path):
    cls, params, kind = _elementwise_cases()[case]
    for shape in [(1,), (37,), (5000,), (12, 3)]:
        y, p = _data(kind, shape, rng, dtype)
        loss = cls(**params, reduction=reduction)
        for method in METHODS:
            if method == "gradient_hessian" and not hasattr(loss, "gradient_hessian"):
                continue
            assert loss._fast(y, p, MODE[method]) is not None
            fast = _call(loss, method, y, p)
            for variant in ("strided", "swapped", "misaligned"):
                vy, vp = VARIANTS[variant](y), VARIANTS[variant](p)
                if not (variant == "strided" and y.size == 1):   # one element is contiguous
                    assert loss._fast(vy, vp, MODE[method]) is None
                _same_bits(fast, _call(loss, method, vy, vp))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("make", [
    lambda r: fl.SparseCategoricalCrossentropy(from_logits=True, reduction=r),
    lambda r: fl.SparseCategoricalCrossentropy(from_logits=False, reduction=r),
    lambda r: fl.MulticlassHinge(reduction=r),
])
def test_sparse_rows_fast_equals_checked_bits(rng, make, reduction, dtype, simd_path):
    for n, C in [(1, 3), (100, 10), (700, 7)]:
        loss = make(reduction)
        if getattr(loss, "from_logits", True):
            z = rng.normal(size=(n, C)).astype(dtype)
        else:
            z = (rng.random((n, C)) + 0.01).astype(dtype)
        lab = rng.integers(0, C, n)
        for method in METHODS:
            if method == "gradient_hessian" and not hasattr(loss, "gradient_hessian"):
                continue
            assert loss._fast(lab, z, MODE[method]) is not None
            fast = _call(loss, method, lab, z)
            for variant_lab, variant_z in [(lab.astype(np.int32), z), (lab, _swapped(z)),
                                           (lab.astype(float), _strided(z)),
                                           (_swapped(lab), _misaligned(z))]:
                assert loss._fast(variant_lab, variant_z, MODE[method]) is None
                _same_bits(fast, _call(loss, method, variant_lab, variant_z))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("make", [
    lambda r: fl.CategoricalCrossentropy(from_logits=True, reduction=r),
    lambda r: fl.CategoricalCrossentropy(label_smoothing=0.1, class_weight=[1, 2, 3, 4],
                                         reduction=r),
    lambda r: fl.CategoricalFocalCrossentropy(from_logits=True, reduction=r),
    lambda r: fl.CategoricalFocalCrossentropy(alpha=[0.1, 0.2, 0.3, 0.4], reduction=r),
    lambda r: fl.KLDivergence(reduction=r),
    lambda r: fl.CosineSimilarityLoss(reduction=r),
    lambda r: fl.HellingerDistance(reduction=r),
])
def test_dense_rows_fast_equals_checked_bits(rng, make, reduction):
    loss = make(reduction)
    y = rng.random((50, 4)) + 0.01
    y /= y.sum(axis=1, keepdims=True)
    z = rng.random((50, 4)) + 0.01
    for method in METHODS:
        if method == "gradient_hessian" and not hasattr(loss, "gradient_hessian"):
            continue
        assert loss._fast(y, z, MODE[method]) is not None
        fast = _call(loss, method, y, z)
        assert loss._fast(_strided(y), z, MODE[method]) is None
        _same_bits(fast, _call(loss, method, _strided(y), _swapped(z)))


def test_column_parameter_filled_per_call_for_another_row_length(rng):
    # a float quantile is filled for k = 1 once; (n, 3) input fills a local copy
    for k in (1, 3, 1, 5):
        y, p = rng.normal(size=(20, k)), rng.normal(size=(20, k))
        loss = fl.PinballLoss(quantile=0.2)
        assert loss._fast(y, p, 1) is not None
        _same_bits(loss.loss_gradient(y, p), loss.loss_gradient(_strided(y), p))
        ref = np.mean(np.where(y >= p, 0.2 * (y - p), 0.8 * (p - y)))
        assert loss(y, p) == pytest.approx(ref, rel=1e-12)
    focal = fl.CategoricalFocalCrossentropy(from_logits=True)
    for C in (3, 6):
        y = np.eye(C)[rng.integers(0, C, 30)]
        z = rng.normal(size=(30, C))
        assert focal._fast(y, z, 1) is not None
        _same_bits(focal.loss_gradient(y, z), focal.loss_gradient(y, _strided(z)))


def test_large_fast_calls_are_the_same_for_every_thread_count(rng):
    y, p = rng.normal(size=300_000), rng.normal(size=300_000)
    loss = fl.Huber()
    with fl.num_threads(1):
        one = loss.loss_gradient(y, p)
    with fl.num_threads(2):
        two = loss.loss_gradient(y, p)
    _same_bits(one, two)
    z, lab = rng.normal(size=(20_000, 10)), rng.integers(0, 10, 20_000)
    sce = fl.SparseCategoricalCrossentropy(from_logits=True)
    with fl.num_threads(1):
        one = sce.loss_gradient(lab, z)
    with fl.num_threads(2):
        two = sce.loss_gradient(lab, z)
    _same_bits(one, two)


# ----------------------------------------------- values against references
def test_fast_values_match_a_float64_reference(rng):
    for n in (1, 10, 1000, 40_000):
        y, p = rng.normal(size=n), rng.normal(size=n)
        value, grad = fl.MeanSquaredError().loss_gradient(y, p)
        assert value == pytest.approx(np.mean((y - p) ** 2), rel=1e-12)
        np.testing.assert_allclose(grad, 2 * (p - y) / n, rtol=1e-12)
        assert fl.mse(y, p) == value
    z, lab = rng.normal(size=(100, 10)), rng.integers(0, 10, 100)
    value, grad = fl.SparseCategoricalCrossentropy(from_logits=True).loss_gradient(lab, z)
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    assert value == pytest.approx(np.mean(lse - z[np.arange(100), lab]), rel=1e-12)
    soft = np.exp(z - lse[:, None])
    soft[np.arange(100), lab] -= 1
    np.testing.assert_allclose(grad, soft / 100, rtol=1e-10, atol=1e-15)


# ---------------------------------------------------- bad input, both paths
@pytest.mark.parametrize("first", ["fast", "checked"])
def test_bad_input_errors_whichever_path_came_first(rng, first):
    y, p = rng.normal(size=10), rng.normal(size=10)
    loss = fl.MeanSquaredError()
    if first == "fast":
        loss(y, p)
    else:
        loss(y.tolist(), p.tolist())
    with pytest.raises(ValueError, match="y_true"):
        loss(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="y_true"):
        loss.loss_gradient(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="y_pred"):
        loss.gradient(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="y_pred"):
        loss(np.zeros((2, 0)), np.zeros((2, 0)))
    with pytest.raises(TypeError, match="y_pred"):
        loss(np.zeros(3), np.array(["a", "b", "c"]))
    with pytest.raises(TypeError, match="y_true"):
        loss(np.zeros(3, dtype=object), np.zeros(3))
    with pytest.raises(ValueError, match="sample_weight"):
        loss(y, p, sample_weight=-np.ones(10))


def test_nan_and_inf_propagate_on_the_fast_path():
    loss = fl.MeanSquaredError()
    y = np.array([0.0, 1.0, 2.0])
    p = np.array([0.0, np.nan, 2.0])
    assert loss._fast(y, p, 1) is not None
    value, grad = loss.loss_gradient(y, p)
    assert np.isnan(value) and np.isnan(grad[1]) and grad[0] == 0.0
    value = loss(y, np.array([0.0, np.inf, 2.0]))
    assert value == np.inf
    bce = fl.BinaryCrossentropy(from_logits=True, reduction="sum")
    value, grad = bce.loss_gradient(np.array([1.0, 0.0]), np.array([-np.inf, -np.inf]))
    assert value == np.inf and np.isfinite(grad).all()
    value, grad = bce.loss_gradient(np.array([0.0, 0.0]), np.array([-np.inf, 1.0]))
    assert np.isfinite(value)


def test_domain_errors_on_the_fast_path(rng):
    loss = fl.TweedieDeviance(power=2.0)
    y, p = rng.gamma(2.0, size=20), rng.gamma(2.0, size=20) + 0.1
    assert loss._fast(y, p, 0) is not None
    y[3] = 0.0
    with pytest.raises(ValueError, match="y_true"):
        loss(y, p)
    y[3] = 1.0
    p[5] = -1.0
    with pytest.raises(ValueError, match="y_pred"):
        loss.loss_gradient(y, p)
    with pytest.raises(ValueError, match="y_pred"):
        loss.loss_gradient(y, _strided(p))
    big_y, big_p = rng.gamma(2.0, size=100_000), rng.gamma(2.0, size=100_000) + 0.1
    big_p[-1] = -2.0                               # in the last of many blocks
    with pytest.raises(ValueError, match="y_pred"):
        loss(big_y, big_p)


def test_sparse_label_errors_on_the_fast_path(rng):
    z = rng.normal(size=(5, 3))
    sce = fl.SparseCategoricalCrossentropy(from_logits=True)
    sce(np.array([0, 1, 2, 0, 1]), z)
    with pytest.raises(ValueError, match="y_true"):
        sce(np.array([0, 1, 3, 0, 1]), z)
    with pytest.raises(ValueError, match="y_true"):
        sce.loss_gradient(np.array([0, -1, 2, 0, 1]), z)
    with pytest.raises(ValueError, match="y_true"):
        sce(np.array([0, 1, 2, 0]), z)
    with pytest.raises(ValueError, match="y_pred"):
        sce(np.array([0]), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="class_weight"):
        fl.CategoricalCrossentropy(class_weight=[1.0, 2.0])(np.eye(3), z[:3])
    with pytest.raises(ValueError, match="2 classes"):
        fl.MulticlassHinge()(np.zeros(5, dtype=np.int64), np.zeros((5, 1)))


def test_callers_arrays_are_never_modified(rng):
    y, p = rng.normal(size=100), rng.normal(size=100)
    y0, p0 = y.copy(), p.copy()
    y.flags.writeable = False
    p.flags.writeable = False
    loss = fl.Huber()
    for method in METHODS:
        _call(loss, method, y, p)
    assert np.array_equal(y, y0) and np.array_equal(p, p0)
    z, lab = rng.normal(size=(30, 4)), rng.integers(0, 4, 30)
    z0, lab0 = z.copy(), lab.copy()
    fl.SparseCategoricalCrossentropy(from_logits=True).gradient_hessian(lab, z)
    assert np.array_equal(z, z0) and np.array_equal(lab, lab0)


def test_results_are_fresh_arrays(rng):
    y, p = rng.normal(size=10), rng.normal(size=10)
    loss = fl.MeanSquaredError(reduction="none")
    v1, g1 = loss.loss_gradient(y, p)
    v2, g2 = loss.loss_gradient(y, p)
    assert not np.shares_memory(g1, g2) and not np.shares_memory(v1, v2)
    assert not np.shares_memory(g1, p) and not np.shares_memory(g1, y)
    assert g1.flags.c_contiguous and g1.flags.writeable and g1.dtype == p.dtype


def test_out_and_sample_weight_still_take_the_checked_path(rng):
    y, p = rng.normal(size=10), rng.normal(size=10)
    loss = fl.MeanSquaredError()
    with pytest.raises(ValueError, match="out"):
        loss.gradient(y, p, out=p)                   # aliases y_pred
    with pytest.raises(ValueError, match="out"):
        loss.gradient(y, p, out=np.empty(10, np.float32))
    out = np.empty(10)
    g = loss.gradient(y, p, out=out)
    assert g is out
    _same_bits((g,), (loss.gradient(y, p),))
    w = np.ones(10)
    assert loss(y, p, sample_weight=w) == pytest.approx(loss(y, p), rel=1e-15)


# ----------------------------------- parameters, copies and the function form
def test_changing_a_parameter_rebuilds_the_record(rng):
    y, p = rng.normal(size=50), 3 * rng.normal(size=50)
    loss = fl.Huber(delta=1.0)
    first = loss(y, p)
    loss.delta = 0.25
    assert loss(y, p) == fl.Huber(delta=0.25)(y, p) != first
    loss.reduction = "sum"
    assert loss(y, p) == fl.Huber(delta=0.25, reduction="sum")(y, p)
    loss.delta = -1.0                                # no fast path for a bad record
    with pytest.raises(ValueError, match="delta"):
        loss(y, p)


def test_a_loss_with_a_record_pickles_and_copies(rng):
    y, p = rng.normal(size=50), rng.normal(size=50)
    for loss in (fl.Huber(delta=0.5), fl.SparseCategoricalCrossentropy(from_logits=True)):
        if isinstance(loss, fl.SparseCategoricalCrossentropy):
            y, p = rng.integers(0, 5, 50), rng.normal(size=(50, 5))
        expected = loss(y, p)
        assert "_fast" in loss.__dict__
        for clone in (pickle.loads(pickle.dumps(loss)), copy.deepcopy(loss), copy.copy(loss)):
            assert "_fast" not in clone.__dict__
            assert clone(y, p) == expected
        assert repr(loss).startswith(type(loss).__name__)


def test_function_form_caches_instances_without_confusing_values(rng):
    y, p = rng.normal(size=20), 3 * rng.normal(size=20)
    assert fl.huber(y, p, delta=1) == fl.Huber(delta=1.0)(y, p)
    with pytest.raises(TypeError, match="delta"):
        fl.huber(y, p, delta=True)
    assert fl.huber(y, p, delta=2.0) == fl.Huber(delta=2.0)(y, p)
    assert fl.huber(y, p, delta=1.0, reduction="sum") == fl.Huber(reduction="sum")(y, p)
    with pytest.raises(ValueError, match="delta"):
        fl.huber(y, p, delta=float("nan"))
    q = np.array([0.1, 0.9])
    y2, p2 = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
    assert fl.pinball_loss(y2, p2, quantile=q) == fl.PinballLoss(quantile=q)(y2, p2)
    w = rng.random(20)
    assert fl.mse(y, p, w) == fl.MeanSquaredError()(y, p, sample_weight=w)
    for i in range(200):                           # more parameter sets than are kept
        assert fl.huber(y, p, delta=1.0 + i) == fl.Huber(delta=1.0 + i)(y, p)


# ----------------------------------------------------------------- boxes
def _boxes(rng, n, fmt, dtype=np.float64):
    xy = rng.random((n, 2)) * 10
    wh = rng.random((n, 2)) * 5 + 0.1
    if fmt == "xyxy":
        b = np.hstack([xy, xy + wh])
    elif fmt == "xywh":
        b = np.hstack([xy, wh])
    else:
        b = np.hstack([xy + wh / 2, wh])
    return b.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fmt", ["xyxy", "xywh", "cxcywh"])
@pytest.mark.parametrize("cls", [fl.GIoULoss, fl.DIoULoss, fl.CIoULoss])
def test_box_fast_equals_checked_bits(rng, cls, fmt, reduction, dtype):
    loss = cls(box_format=fmt, reduction=reduction)
    for n in (1, 7, 1500):                      # 1500 boxes: two blocks
        t, p = _boxes(rng, n, fmt, dtype), _boxes(rng, n, fmt, dtype)
        for method in ("call", "loss", "gradient", "loss_gradient"):
            assert loss._fast(t, p, MODE[method]) is not None
            fast = _call(loss, method, t, p)
            assert loss._fast(_swapped(t), p, MODE[method]) is None
            _same_bits(fast, _call(loss, method, _swapped(t), _misaligned(p)))
            _same_bits(fast, _call(loss, method, t.tolist(), _strided(p)))


def test_box_fast_path_declines_and_errors(rng):
    loss = fl.GIoULoss()
    t, p = _boxes(rng, 5, "xyxy"), _boxes(rng, 5, "xyxy")
    assert loss._fast(t, p, 1) is not None
    assert loss._fast(t[:, :3].copy(), p[:, :3].copy(), 1) is None
    assert loss._fast(t.reshape(-1), p.reshape(-1), 1) is None
    big_t, big_p = _boxes(rng, 10_000, "xyxy"), _boxes(rng, 10_000, "xyxy")
    assert loss._fast(big_t, big_p, 1) is None     # parallel sizes take the checked path
    _same_bits(loss.loss_gradient(big_t, big_p), loss.loss_gradient(big_t, _strided(big_p)))
    bad = p.copy()
    bad[3, 2] = bad[3, 0] - 1.0                    # x2 < x1
    assert loss._fast(t, bad, 1) is None
    with pytest.raises(ValueError, match="y_pred row 3"):
        loss.loss_gradient(t, bad)
    with pytest.raises(ValueError, match="y_true row 3"):
        loss(bad, p)
    with pytest.raises(ValueError, match="y_pred"):
        loss(t[:, :3], p[:, :3])
    nan = p.copy()
    nan[1, 0] = np.nan
    value, grad = loss.loss_gradient(t, nan)
    assert np.isnan(value) and np.isnan(grad[1]).any()
    loss.box_format = "cxcywh"                     # a changed parameter rebuilds the record
    assert loss(t, p) == fl.GIoULoss(box_format="cxcywh")(t, p)
    loss.box_format = "yxyx"
    with pytest.raises(ValueError, match="box_format"):
        loss(t, p)


def test_checked_path_reads_the_record_and_still_names_bad_lengths(rng):
    y, p = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    w = rng.random(20)
    q = fl.PinballLoss(quantile=[0.1, 0.5, 0.9])
    assert isinstance(q._fast_path(), _pointwise.Record)
    assert q._fast(y, p, 1) is not None
    e = y - p
    qs = np.array([0.1, 0.5, 0.9])
    ref = np.sum(w * np.mean(np.where(e >= 0, qs * e, (qs - 1) * e), axis=1)) / w.sum()
    assert q(y, p, sample_weight=w) == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ValueError, match="quantile"):
        q(y[:, :2], p[:, :2])
    with pytest.raises(ValueError, match="quantile"):
        q(y[:, :2], p[:, :2], sample_weight=w)
    # a float parameter filled for k = 1 serves weighted (n, 3) calls too
    h = fl.PinballLoss(quantile=0.25)
    h(y[:, 0].copy(), p[:, 0].copy())
    ref = np.sum(w * np.mean(np.where(e >= 0, 0.25 * e, -0.75 * e), axis=1)) / w.sum()
    assert h(y, p, sample_weight=w) == pytest.approx(ref, rel=1e-12)


def test_float_column_parameters_serve_long_rows_and_longer_ones(rng):
    # a float quantile / pos_weight / alpha serves rows of up to 1024 values
    # from the record; longer rows fill their own copy; same bits either way
    for k in (2, 1024, 1500):
        y, p = rng.normal(size=(3, k)), rng.normal(size=(3, k))
        b = (rng.random((3, k)) < 0.5).astype(float)
        for loss, yt in ((fl.PinballLoss(quantile=0.7), y),
                         (fl.BinaryCrossentropy(from_logits=True, pos_weight=2.0), b)):
            assert loss._fast(yt, p, 1) is not None
            _same_bits(loss.loss_gradient(yt, p), loss.loss_gradient(_strided(yt), p))
            _same_bits(loss.gradient_hessian(yt, p), loss.gradient_hessian(yt, _swapped(p)))
        e = y - p
        assert fl.PinballLoss(quantile=0.7)(y, p) == pytest.approx(
            np.mean(np.where(e >= 0, 0.7 * e, -0.3 * e)), rel=1e-12)
    focal = fl.CategoricalFocalCrossentropy(alpha=0.3, from_logits=True)
    for C in (4, 1100):
        y = np.eye(C)[rng.integers(0, C, 5)]
        z = rng.normal(size=(5, C))
        assert focal._fast(y, z, 1) is not None
        _same_bits(focal.loss_gradient(y, z), focal.loss_gradient(y, _strided(z)))
