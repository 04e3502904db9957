"""SPEC §4.1, the row parts: ``class_axis`` on CategoricalCrossentropy,
SparseCategoricalCrossentropy and CategoricalFocalCrossentropy; torch's
``label_smoothing`` (with ``weight`` and ``ignore_index``) on the sparse one;
per-class ``alpha`` on the focal one; labels out of range.

Values against float64 NumPy formulas written here (on the classes moved to
the last axis), gradients and hessians against central finite differences,
torch's ``cross_entropy`` on (N, C, H, W) where installed, every bad input
for every method and the function form.
"""
import numpy as np
import pytest

import fastloss as fl
from conftest import central_diagonal as fd_hess_diag
from conftest import central_gradient as fd_grad

EPS = 1e-7


# ------------------------------------------------------------ references
def _last(a, axis):
    """The classes moved to the last axis (a float64 copy)."""
    return np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _log_probs(x, logits):
    """log p over the last axis: log-softmax, or renormalised and clipped."""
    if logits:
        return _log_softmax(x)
    return np.log(np.clip(x / x.sum(axis=-1, keepdims=True), EPS, 1 - EPS))


def ref_cce(y, x, axis, logits, s=0.0, cw=None):
    """Per-sample -Σ_c a_c ỹ_c log p_c, samples' shape."""
    y, x = _last(y, axis), _last(x, axis)
    C = x.shape[-1]
    t = (y * (1 - s) + s / C) * (1.0 if cw is None else np.asarray(cw))
    return -(t * _log_probs(x, logits)).sum(axis=-1)


def ref_sce_smooth(labels, x, axis, logits, s, cw, ignore):
    """torch's definition: (1-s) a_y (-log p_y) + (s/C) Σ_c a_c (-log p_c);
    0 for ignored samples.  Returns (per-sample losses, a_{y_i} (0 ignored))."""
    x = _last(x, axis)
    C = x.shape[-1]
    a = np.ones(C) if cw is None else np.asarray(cw, dtype=np.float64)
    ign = labels == ignore if ignore is not None else np.zeros(labels.shape, bool)
    safe = np.where(ign, 0, labels)
    lp = _log_probs(x, logits)
    nll = -np.take_along_axis(lp, safe[..., None], axis=-1)[..., 0]
    per = (1 - s) * a[safe] * nll + (s / C) * -(a * lp).sum(axis=-1)
    return np.where(ign, 0.0, per), np.where(ign, 0.0, a[safe])


def ref_focal(y, x, axis, logits, gamma, alpha):
    y, x = _last(y, axis), _last(x, axis)
    C = x.shape[-1]
    al = np.ones(C) if alpha is None else np.broadcast_to(np.asarray(alpha, float), (C,))
    lp = _log_probs(x, logits)
    p = np.exp(lp)
    return -(al * y * (1 - p) ** gamma * lp).sum(axis=-1)


def reduce(per, w, reduction, mean_w=None):
    w = np.ones(per.shape) if w is None else w
    if reduction == "none":
        return w * per
    if reduction == "sum":
        return (w * per).sum()
    d = (w if mean_w is None else mean_w).sum()
    return (w * per).sum() / d if d else 0.0


# ------------------------------------------------------------------ data
LAYOUTS = [((3, 4), 1), ((4, 3), 0), ((2, 4, 3), 1), ((2, 3, 4), -1), ((2, 4, 3, 2), 1),
           ((2, 3, 2, 4), -1), ((3, 2, 4, 2), -2), ((2, 2, 3, 4), 3)]


def dense_data(rng, shape, axis, logits, onehot=False):
    C = shape[axis]
    x = rng.normal(0, 2, shape) if logits else rng.uniform(0.05, 1.0, shape)
    samples = _last(x, axis).shape[:-1]
    if onehot:
        y = np.eye(C)[rng.integers(0, C, samples)]
    else:
        y = rng.uniform(0, 1, samples + (C,))
        y /= y.sum(axis=-1, keepdims=True)
    return np.moveaxis(y, -1, axis).copy(), x, samples


DENSE = {
    "cce_logits": (fl.CategoricalCrossentropy, {"from_logits": True, "label_smoothing": 0.1,
                                                "class_weight": "cw"}, True, False),
    "cce_prob": (fl.CategoricalCrossentropy, {"label_smoothing": 0.2}, False, False),
    "focal_logits": (fl.CategoricalFocalCrossentropy, {"gamma": 1.5, "alpha": "alpha",
                                                       "from_logits": True}, True, True),
    "focal_prob": (fl.CategoricalFocalCrossentropy, {"gamma": 2.0, "alpha": 0.4}, False, False),
}


def _kw(kw, C):
    out = dict(kw)
    if out.get("class_weight") == "cw":
        out["class_weight"] = np.linspace(0.5, 2.0, C)
    if isinstance(out.get("alpha"), str):
        out["alpha"] = np.linspace(0.1, 0.9, C)
    return out


def _ref_dense(cls, kw, y, x, axis, logits):
    if cls is fl.CategoricalCrossentropy:
        return ref_cce(y, x, axis, logits, kw.get("label_smoothing", 0.0),
                       kw.get("class_weight"))
    return ref_focal(y, x, axis, logits, kw["gamma"], kw.get("alpha", 0.25))


@pytest.mark.parametrize("shape, axis", LAYOUTS)
@pytest.mark.parametrize("name", sorted(DENSE))
def test_dense_class_axis_against_reference(name, shape, axis, rng):
    cls, kw, logits, onehot = DENSE[name]
    C = shape[axis]
    kw = _kw(kw, C)
    y, x, samples = dense_data(rng, shape, axis, logits, onehot)
    per = _ref_dense(cls, kw, y, x, axis, logits)
    w = rng.uniform(0.2, 2.0, samples)
    for reduction in ("mean", "sum", "none"):
        for sw in (None, w):
            got = cls(**kw, class_axis=axis, reduction=reduction)(y, x, sample_weight=sw)
            expect = reduce(per, sw, reduction)
            np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-14)
            if reduction == "none":
                assert got.shape == samples
    loss = cls(**kw, class_axis=axis, reduction="mean")
    value, g = loss.loss_gradient(y, x, sample_weight=w)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, fd_grad(lambda z: loss(y, z, sample_weight=w), x),
                               rtol=1e-5, atol=1e-8)
    # one pass, same bits, in this layout too
    assert value == loss(y, x, sample_weight=w)
    np.testing.assert_array_equal(g, loss.gradient(y, x, sample_weight=w))
    if logits and hasattr(loss, "gradient_hessian"):
        g2, h = loss.gradient_hessian(y, x, sample_weight=w)
        np.testing.assert_array_equal(g2, g)
        np.testing.assert_allclose(
            h, fd_hess_diag(lambda z: loss.gradient(y, z, sample_weight=w), x),
            rtol=1e-4, atol=1e-7)
    assert fl.get(cls.function_name, **kw, class_axis=axis)(y, x) == pytest.approx(
        reduce(per, None, "mean"), rel=1e-12)
    fn = getattr(fl, cls.function_name)
    assert fn(y, x, w, **kw, class_axis=axis) == loss(y, x, w)


SPARSE = {
    "plain_logits": ({"from_logits": True}, True),
    "plain_prob": ({}, False),
    "cw_ignore_logits": ({"from_logits": True, "class_weight": "cw", "ignore_index": -100},
                         True),
    "smooth_logits": ({"from_logits": True, "label_smoothing": 0.15}, True),
    "smooth_cw_ignore_logits": ({"from_logits": True, "label_smoothing": 0.3,
                                 "class_weight": "cw", "ignore_index": 1}, True),
    "smooth_cw_ignore_prob": ({"label_smoothing": 0.25, "class_weight": "cw",
                               "ignore_index": -1}, False),
}


@pytest.mark.parametrize("shape, axis", LAYOUTS)
@pytest.mark.parametrize("name", sorted(SPARSE))
def test_sparse_class_axis_against_reference(name, shape, axis, rng):
    kw, logits = SPARSE[name]
    C = shape[axis]
    kw = _kw(kw, C)
    _, x, samples = dense_data(rng, shape, axis, logits)
    labels = rng.integers(0, C, samples)
    ignore = kw.get("ignore_index")
    if ignore is not None:
        flat = labels.reshape(-1)
        flat[::3] = ignore
    s = kw.get("label_smoothing", 0.0)
    per, ay = ref_sce_smooth(labels, x, axis, logits, s, kw.get("class_weight"), ignore)
    w = rng.uniform(0.2, 2.0, samples)
    for reduction in ("mean", "sum", "none"):
        for sw in (None, w):
            sw1 = np.ones(samples) if sw is None else sw
            got = fl.SparseCategoricalCrossentropy(**kw, class_axis=axis,
                                                   reduction=reduction)(labels, x, sw)
            if s == 0.0:
                # a_{y_i} is part of the sample weight (SPEC 3b)
                expect = reduce(np.where(ay > 0, per / np.where(ay > 0, ay, 1), 0.0),
                                sw1 * ay, reduction)
            else:
                expect = reduce(per, sw1, reduction, mean_w=sw1 * ay)
            np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-14)
            if reduction == "none":
                assert got.shape == samples
    loss = fl.SparseCategoricalCrossentropy(**kw, class_axis=axis)
    value, g = loss.loss_gradient(labels, x, sample_weight=w)
    np.testing.assert_allclose(g, fd_grad(lambda z: loss(labels, z, sample_weight=w), x),
                               rtol=1e-5, atol=1e-8)
    if ignore is not None:
        ign = np.moveaxis(np.broadcast_to((labels == ignore)[..., None], samples + (C,)), -1,
                          axis % x.ndim)
        assert np.all(g[ign] == 0)
    assert value == loss(labels, x, sample_weight=w)
    np.testing.assert_array_equal(g, loss.gradient(labels, x, sample_weight=w))
    if logits:
        g2, h = loss.gradient_hessian(labels, x, sample_weight=w)
        np.testing.assert_array_equal(g2, g)
        np.testing.assert_allclose(
            h, fd_hess_diag(lambda z: loss.gradient(labels, z, sample_weight=w), x),
            rtol=1e-4, atol=1e-7)
    assert fl.sparse_categorical_crossentropy(labels, x, w, **kw, class_axis=axis) == \
        loss(labels, x, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["plain_logits", "smooth_cw_ignore_logits",
                                  "smooth_cw_ignore_prob", "plain_prob"])
def test_sparse_channel_first_is_the_moved_layout(name, dtype, rng, simd_path):
    """(N, C, H, W) with class_axis=1 computes what the (N·H·W, C) rows give:
    the same formula per sample, to rounding (the plane-wise softmax sums
    the classes in another order)."""
    kw, logits = SPARSE[name]
    N, C, H, W = 2, 7, 5, 33        # 330 positions: blocks, tiles and tails
    kw = _kw(kw, C)
    x = (rng.normal(0, 3, (N, C, H, W)) if logits
         else rng.uniform(0.01, 1, (N, C, H, W))).astype(dtype)
    if logits:
        x[0, :, 0, 0] = -np.inf               # every class masked
        x[1, 2, 1, 1] = -np.inf               # one class masked
    labels = rng.integers(0, C, (N, H, W))
    if "ignore_index" in kw:
        labels[0, 1, ::4] = kw["ignore_index"]
    w = rng.uniform(0, 2, (N, H, W))
    rows_x = np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(-1, C)
    tol = dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    for reduction in ("mean", "sum", "none"):
        a = fl.SparseCategoricalCrossentropy(**kw, class_axis=1, reduction=reduction)
        b = fl.SparseCategoricalCrossentropy(**kw, reduction=reduction)
        va, ga = a.loss_gradient(labels, x, w)
        vb, gb = b.loss_gradient(labels.reshape(-1), rows_x, w.reshape(-1))
        assert ga.dtype == dtype and ga.shape == x.shape
        np.testing.assert_allclose(np.asarray(va).reshape(-1), np.asarray(vb).reshape(-1),
                                   **tol)
        np.testing.assert_allclose(np.moveaxis(ga, 1, -1).reshape(-1, C), gb, **tol)
        assert np.array_equal(np.asarray(va), np.asarray(a.loss(labels, x, w)), equal_nan=True)
        np.testing.assert_array_equal(ga, a.gradient(labels, x, w))
        if logits:
            np.testing.assert_array_equal(a.gradient_hessian(labels, x, w)[0], ga)
    if logits:
        # the fully masked position: +inf loss, gradient minus its target row
        # (-onehot(y); the smoothed, class-weighted row with label smoothing)
        none = fl.SparseCategoricalCrossentropy(**kw, class_axis=1, reduction="none")
        v, g = none.loss_gradient(labels, x)
        y0 = labels[0, 0, 0]
        if y0 != kw.get("ignore_index"):
            assert v[0, 0, 0] == np.inf
            s = kw.get("label_smoothing", 0.0)
            a = kw.get("class_weight", np.ones(C))
            expect = -a * ((1 - s) * (np.arange(C) == y0) + s / C)
            np.testing.assert_allclose(g[0, :, 0, 0], expect, rtol=1e-6)


def test_class_axis_is_deterministic_across_threads(rng):
    x = rng.normal(0, 2, (3, 6, 40, 50)).astype(np.float32)
    labels = rng.integers(0, 6, (3, 40, 50))
    y = np.moveaxis(np.eye(6, dtype=np.float32)[labels], -1, 1).copy()
    for loss, target in ((fl.SparseCategoricalCrossentropy(from_logits=True, class_axis=1,
                                                           label_smoothing=0.1), labels),
                         (fl.SparseCategoricalCrossentropy(from_logits=True, class_axis=1),
                          labels),
                         (fl.CategoricalCrossentropy(from_logits=True, class_axis=1), y),
                         (fl.CategoricalFocalCrossentropy(from_logits=True, class_axis=1), y)):
        results = []
        for k in (1, 2, 3):
            with fl.num_threads(k):
                results.append(loss.loss_gradient(target, x))
        for v, g in results[1:]:
            assert v == results[0][0]
            np.testing.assert_array_equal(g, results[0][1])


def test_class_axis_reads_no_transposed_copy(rng):
    """The caller's arrays are untouched and a non-contiguous y_pred gives
    the contiguous array's result."""
    x = rng.normal(size=(2, 5, 4, 3))
    labels = rng.integers(0, 5, (2, 4, 3))
    keep_x, keep_l = x.copy(), labels.copy()
    loss = fl.SparseCategoricalCrossentropy(from_logits=True, class_axis=1)
    v, g = loss.loss_gradient(labels, x)
    np.testing.assert_array_equal(x, keep_x)
    np.testing.assert_array_equal(labels, keep_l)
    xt = np.asfortranarray(x)
    v2, g2 = loss.loss_gradient(labels, xt)
    assert v2 == v
    np.testing.assert_array_equal(g2, g)


# ---------------------------------------------------------------- torch
def test_sparse_matches_torch_cross_entropy_nchw_weight_ignore_smoothing(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    N, C, H, W = 3, 6, 5, 7
    x = rng.normal(0, 2, (N, C, H, W))
    t = rng.integers(0, C, (N, H, W))
    t[0, 0, :3] = -100
    t[2, 4, 1] = -100
    cw = rng.uniform(0.3, 2.0, C)
    for s in (0.0, 0.2, 1.0):
        for reduction in ("mean", "sum", "none"):
            loss = fl.SparseCategoricalCrossentropy(
                from_logits=True, class_weight=cw, ignore_index=-100, label_smoothing=s,
                class_axis=1, reduction=reduction)
            v, g = loss.loss_gradient(t, x)
            xt = torch.tensor(x, requires_grad=True)
            ref = F.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(cw),
                                  ignore_index=-100, label_smoothing=s, reduction=reduction)
            ref.sum().backward()
            np.testing.assert_allclose(v, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
            # float32: torch's float32 result, to float32 rounding
            v32, g32 = loss.loss_gradient(t, x.astype(np.float32))
            x32 = torch.tensor(x.astype(np.float32), requires_grad=True)
            r32 = F.cross_entropy(x32, torch.tensor(t), weight=torch.tensor(cw, dtype=torch.float32),
                                  ignore_index=-100, label_smoothing=s, reduction=reduction)
            r32.sum().backward()
            np.testing.assert_allclose(v32, r32.detach().numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(g32, x32.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_sparse_smoothing_matches_torch_rows_without_weights(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(0, 3, (40, 9))
    t = rng.integers(0, 9, 40)
    for s in (0.05, 0.5):
        v, g = fl.SparseCategoricalCrossentropy(from_logits=True, label_smoothing=s
                                                ).loss_gradient(t, x)
        xt = torch.tensor(x, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(xt, torch.tensor(t), label_smoothing=s)
        ref.backward()
        assert v == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-15)


# ------------------------------------------------------------ focal alpha
def test_focal_per_class_alpha(rng):
    C = 5
    alpha = np.array([0.1, 0.9, 0.5, 0.0, 1.0])
    for logits in (True, False):
        y, x, samples = dense_data(rng, (6, C), 1, logits)
        loss = fl.CategoricalFocalCrossentropy(gamma=2.0, alpha=alpha, from_logits=logits,
                                               reduction="sum")
        np.testing.assert_allclose(loss(y, x), ref_focal(y, x, 1, logits, 2.0, alpha).sum(),
                                   rtol=1e-12)
        np.testing.assert_allclose(loss.gradient(y, x), fd_grad(lambda z: loss(y, z), x),
                                   rtol=1e-5, atol=1e-8)
        # an array of one value is that scalar, bit for bit
        same = fl.CategoricalFocalCrossentropy(gamma=2.0, alpha=np.full(C, 0.3),
                                               from_logits=logits)
        scalar = fl.CategoricalFocalCrossentropy(gamma=2.0, alpha=0.3, from_logits=logits)
        v1, g1 = same.loss_gradient(y, x)
        v2, g2 = scalar.loss_gradient(y, x)
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)
    # the caller's array is copied: changing it later changes nothing
    a = alpha.copy()
    loss = fl.CategoricalFocalCrossentropy(alpha=a)
    a[:] = 0.0
    assert loss(y, x) > 0


# ------------------------------------------------------------- bad input
def _methods(loss):
    """Every way to call a loss object (the hessian where it has one)."""
    calls = [loss, loss.loss, loss.gradient, loss.loss_gradient]
    if hasattr(loss, "gradient_hessian"):
        calls.append(loss.gradient_hessian)
    return calls


def _all_calls(cls, kw):
    """(callable(y_true, y_pred, **call_kw)) for every method and the function form."""
    fn = getattr(fl, cls.function_name)
    return _methods(cls(**kw)) + [lambda yt, yp, **k: fn(yt, yp, **kw, **k)]


CLASSES = [fl.CategoricalCrossentropy, fl.SparseCategoricalCrossentropy,
           fl.CategoricalFocalCrossentropy]


def _valid(cls, rng, shape=(2, 3, 4, 5), axis=1):
    x = rng.normal(size=shape)
    axis %= len(shape)
    C = shape[axis]
    samples = shape[:axis] + shape[axis + 1:]
    if cls is fl.SparseCategoricalCrossentropy:
        return rng.integers(0, C, samples), x
    y = np.moveaxis(np.eye(C)[rng.integers(0, C, samples)], -1, axis).copy()
    return y, x


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("axis", [4, -5, 10, -100])
def test_class_axis_out_of_range(cls, axis, rng):
    y, x = _valid(cls, rng, axis=1)
    for call in _all_calls(cls, {"from_logits": True, "class_axis": axis}):
        with pytest.raises(ValueError, match="class_axis"):
            call(y, x)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("axis", [1.0, "1", None, True, [1]])
def test_class_axis_must_be_an_integer(cls, axis):
    with pytest.raises(TypeError, match="class_axis"):
        cls(class_axis=axis)
    with pytest.raises(TypeError, match="class_axis"):
        getattr(fl, cls.function_name)(np.zeros((2, 3)), np.ones((2, 3)), class_axis=axis)


@pytest.mark.parametrize("cls", CLASSES)
def test_one_dimensional_input_takes_only_its_axis(cls, rng):
    if cls is fl.SparseCategoricalCrossentropy:
        with pytest.raises(ValueError, match="y_pred"):
            cls(class_axis=0)(np.array([1]), np.ones(3))
        return
    y, x = np.array([0.0, 1.0, 0.0]), np.array([0.2, 0.5, 0.3])
    assert cls(class_axis=0)(y, x) == cls()(y, x)
    with pytest.raises(ValueError, match="class_axis"):
        cls(class_axis=1)(y, x)


@pytest.mark.parametrize("bad", [5, -1, 7, 100])
def test_sparse_labels_out_of_range_name_y_true(bad, rng):
    """Every method and the function form, with and without ignore_index,
    both layouts."""
    for shape, axis in (((6, 5), -1), ((2, 5, 3, 4), 1)):
        _, x = _valid(fl.SparseCategoricalCrossentropy, rng, shape, axis)
        samples = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
        labels = rng.integers(0, 5, samples)
        labels.reshape(-1)[3] = bad
        for kw in ({"from_logits": True}, {}, {"ignore_index": -100, "from_logits": True},
                   {"label_smoothing": 0.1, "from_logits": True},
                   {"label_smoothing": 0.1, "class_weight": np.ones(5)}):
            for call in _all_calls(fl.SparseCategoricalCrossentropy, {**kw, "class_axis": axis}):
                with pytest.raises(ValueError, match="y_true"):
                    call(labels, x)


@pytest.mark.parametrize("bad", [5, -2, 99])
def test_multiclass_hinge_labels_out_of_range_name_y_true(bad, rng):
    x = rng.normal(size=(6, 5))
    labels = rng.integers(0, 5, 6)
    labels[2] = bad
    for call in _all_calls(fl.MulticlassHinge, {}):
        with pytest.raises(ValueError, match="y_true"):
            call(labels, x)


def test_ignore_index_is_not_out_of_range(rng):
    x = rng.normal(size=(2, 5, 3))
    labels = rng.integers(0, 5, (2, 3))
    labels[0, 0] = 7
    loss = fl.SparseCategoricalCrossentropy(from_logits=True, ignore_index=7, class_axis=1,
                                            label_smoothing=0.2)
    assert np.isfinite(loss(labels, x))
    assert np.all(loss.gradient(labels, x)[0, :, 0] == 0)


@pytest.mark.parametrize("cls", CLASSES)
def test_sample_weight_has_the_samples_shape(cls, rng):
    y, x = _valid(cls, rng)                   # (2, 3, 4, 5), class_axis=1
    for bad in (np.ones((2, 3, 4, 5)), np.ones(40), np.ones((2, 5, 4)), np.ones((2, 4))):
        for call in _all_calls(cls, {"from_logits": True, "class_axis": 1}):
            with pytest.raises(ValueError, match="sample_weight"):
                call(y, x, sample_weight=bad)
    for call in _all_calls(cls, {"from_logits": True, "class_axis": 1}):
        with pytest.raises(ValueError, match="sample_weight"):
            call(y, x, sample_weight=-np.ones((2, 4, 5)))


@pytest.mark.parametrize("cls", CLASSES)
def test_targets_of_the_wrong_shape_name_y_true(cls, rng):
    y, x = _valid(cls, rng)
    for call in _all_calls(cls, {"from_logits": True, "class_axis": 1}):
        with pytest.raises(ValueError, match="y_true"):
            call(y[:1], x)


@pytest.mark.parametrize("alpha", [np.full(4, 0.5), np.full(6, 0.5), [[0.5] * 5]])
def test_focal_alpha_of_the_wrong_length_names_alpha(alpha, rng):
    y, x = _valid(fl.CategoricalFocalCrossentropy, rng, (3, 5), -1)
    try:
        calls = _all_calls(fl.CategoricalFocalCrossentropy, {"alpha": alpha})
    except ValueError as exc:           # a 2-D alpha is refused by the constructor
        assert "alpha" in str(exc)
        with pytest.raises(ValueError, match="alpha"):
            fl.categorical_focal_crossentropy(y, x, alpha=alpha)
        return
    for call in calls:
        with pytest.raises(ValueError, match="alpha"):
            call(y, x)


@pytest.mark.parametrize("alpha", [[0.5, 1.5, 0.2], [0.5, -0.1, 0.2], [0.5, np.nan, 0.2], []])
def test_focal_alpha_out_of_range_names_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        fl.CategoricalFocalCrossentropy(alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        fl.categorical_focal_crossentropy(np.eye(3), np.full((3, 3), 1 / 3), alpha=alpha)


@pytest.mark.parametrize("alpha", ["0.5", ["a", "b"]])
def test_focal_alpha_non_numeric_is_a_type_error(alpha):
    with pytest.raises(TypeError, match="alpha"):
        fl.CategoricalFocalCrossentropy(alpha=alpha)


@pytest.mark.parametrize("s", [-0.1, 1.5, np.nan, "0.1"])
def test_sparse_label_smoothing_out_of_range(s):
    with pytest.raises((ValueError, TypeError), match="label_smoothing"):
        fl.SparseCategoricalCrossentropy(label_smoothing=s)
    with pytest.raises((ValueError, TypeError), match="label_smoothing"):
        fl.sparse_categorical_crossentropy(np.array([0, 1]), np.ones((2, 3)), label_smoothing=s)


def test_smoothing_everything_ignored_gives_zero(rng):
    x = rng.normal(size=(2, 4, 3))
    labels = np.full((2, 3), -100)
    loss = fl.SparseCategoricalCrossentropy(from_logits=True, ignore_index=-100,
                                            label_smoothing=0.3, class_axis=1)
    v, g = loss.loss_gradient(labels, x)
    assert v == 0.0 and np.all(g == 0)
    assert np.all(loss.__class__(**{**loss.get_params(), "reduction": "none"})(labels, x) == 0)
