"""SPEC §1: the API shape, registry, dtypes, out=, and every input error."""
import inspect

import numpy as np
import pytest

import fastloss as fl


def data(rng, shape=(20,), dtype=np.float64):
    return rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)


# ----------------------------------------------------------------- registry
@pytest.mark.parametrize("name,cls", [
    ("huber", fl.Huber), ("Huber", fl.Huber), ("HUBER", fl.Huber),
    ("mse", fl.MeanSquaredError), ("mean_squared_error", fl.MeanSquaredError),
    ("MeanSquaredError", fl.MeanSquaredError), ("mae", fl.MeanAbsoluteError),
    ("log_cosh", fl.LogCosh), ("poisson", fl.Poisson),
])
def test_get_by_any_name(name, cls):
    assert type(fl.get(name)) is cls


def test_get_passes_parameters_and_rejects_unknown():
    loss = fl.get("huber", delta=2.0, reduction="sum")
    assert loss.delta == 2.0 and loss.reduction == "sum"
    with pytest.raises(ValueError, match="unknown loss 'nope'"):
        fl.get("nope")
    with pytest.raises(TypeError):
        fl.get("huber", nonsense=1)
    with pytest.raises(TypeError, match="name"):
        fl.get(3)


def test_available_lists_every_name_get_accepts():
    names = fl.available()
    assert names == sorted(names)
    for name in ("huber", "Huber", "mse", "mean_squared_error", "MeanAbsoluteError", "log_cosh", "poisson"):
        assert name in names
    for name in names:
        assert isinstance(fl.get(name), fl.Loss)


def test_function_form_signature_names_parameters():
    params = inspect.signature(fl.huber).parameters
    assert list(params)[:3] == ["y_true", "y_pred", "sample_weight"]
    assert "delta" in params and "reduction" in params
    assert fl.huber.__name__ == "huber"


def test_class_and_function_agree(rng):
    y, p = data(rng)
    w = rng.uniform(size=20)
    assert fl.huber(y, p, delta=2.0) == fl.Huber(delta=2.0)(y, p)
    assert fl.huber(y, p, w, delta=2.0, reduction="sum") == fl.Huber(2.0, reduction="sum")(y, p, w)
    assert fl.Huber(delta=2.0).loss(y, p, sample_weight=w) == fl.Huber(delta=2.0)(y, p, w)


def test_repr_and_params():
    assert repr(fl.Huber(delta=2.0)) == "Huber(delta=2.0, reduction='mean')"
    assert fl.Poisson(log_input=True).get_params() == {"log_input": True, "reduction": "mean"}


def test_only_hessian_losses_have_gradient_hessian():
    for name in ("mse", "mae", "huber", "log_cosh", "poisson", "ranknet", "lambdarank"):
        assert hasattr(fl.get(name), "gradient_hessian")
    for name in ("giou_loss", "kappa_loss", "jaccard_loss", "multiclass_hinge",
                 "categorical_focal_crossentropy", "kl_divergence"):
        assert not hasattr(fl.get(name), "gradient_hessian"), name
        assert not hasattr(type(fl.get(name)), "gradient_hessian"), name


@pytest.mark.parametrize("cls", [fl.CategoricalCrossentropy, fl.SparseCategoricalCrossentropy])
def test_softmax_hessian_exists_only_for_logits(cls, rng):
    """The hessian is defined for logits: with probabilities the method is
    absent (hasattr False), not present-and-raising."""
    assert cls.has_hessian and cls.hessian_needs_logits
    assert not hasattr(cls(), "gradient_hessian")
    with pytest.raises(AttributeError, match="from_logits=True"):
        cls().gradient_hessian  # noqa: B018
    loss = cls(from_logits=True)
    x = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6) if cls is fl.SparseCategoricalCrossentropy \
        else np.eye(4)[rng.integers(0, 4, size=6)]
    g, h = loss.gradient_hessian(y, x)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(g, (p - np.eye(4)[np.argmax(y, axis=1) if y.ndim == 2 else y]) / 6,
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, p * (1 - p) / 6, rtol=1e-12, atol=1e-15)


def test_metadata_is_declared_on_the_classes():
    assert fl.MeanSquaredError.target_kind == "elementwise"
    assert fl.SparseCategoricalCrossentropy.target_kind == "labels"
    assert fl.CategoricalCrossentropy.target_kind == "rows"
    assert fl.GIoULoss.target_kind == "rows"              # a box is one sample
    assert fl.JaccardLoss.target_kind is None and fl.RankNet.target_kind is None
    assert fl.BinaryCrossentropy.link == "sigmoid" and fl.CategoricalCrossentropy.link == "softmax"
    assert fl.Huber.link is None
    # the registry refuses a class whose metadata the adapters could not read
    with pytest.raises(TypeError, match="target_kind"):
        type("Bad", (fl.Loss,), {"target_kind": "pixels", "function_name": "bad_kind_loss"})
    with pytest.raises(TypeError, match="hessian_needs_logits"):
        type("Bad", (fl.Loss,), {"hessian_needs_logits": True, "function_name": "bad_h_loss"})
    assert "bad_kind_loss" not in fl.available() and "bad_h_loss" not in fl.available()


# -------------------------------------------------------------- conversions
def test_dtype_rules(rng):
    y, p = data(rng, dtype=np.float32)
    g = fl.MeanSquaredError().gradient(y.astype(np.float64), p)
    assert g.dtype == np.float32                        # y_true converted to y_pred's dtype
    g = fl.MeanSquaredError().gradient(y, p.astype(np.float64))
    assert g.dtype == np.float64
    yi, pi = np.arange(5), np.arange(5)[::-1].copy()
    g = fl.MeanSquaredError().gradient(yi, pi)          # integers -> float64
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * (pi - yi) / 5)
    g = fl.mse(yi.astype(np.float16), pi.astype(np.float16))
    assert isinstance(g, float) and g == pytest.approx(np.mean((pi - yi) ** 2.0))
    assert isinstance(fl.mse([1, 2, 3], [1.5, 2, 2]), float)   # lists
    v = fl.mse(np.array([True, False]), np.array([1.0, 1.0]))   # booleans are real
    assert v == pytest.approx(0.5)


def test_non_contiguous_and_read_only_inputs(rng):
    y, p = data(rng, shape=(30, 4))
    expected_v, expected_g = fl.Huber().loss_gradient(y[:, ::2].copy(), p[:, ::2].copy())
    v, g = fl.Huber().loss_gradient(y[:, ::2], p[:, ::2])
    assert v == expected_v
    np.testing.assert_array_equal(g, expected_g)
    y.setflags(write=False)
    p.setflags(write=False)
    v2 = fl.Huber()(y, p)
    assert np.isfinite(v2)
    yf, pf = np.asfortranarray(y), np.asfortranarray(p)
    assert fl.Huber()(yf, pf) == v2


def test_inputs_never_modified(rng):
    y, p = data(rng, shape=(50, 3), dtype=np.float32)
    w = rng.uniform(size=50)
    copies = [a.copy() for a in (y, p, w)]
    for name in ("mse", "mae", "huber", "log_cosh"):
        loss = fl.get(name, reduction="sum")
        loss(y, p, w)
        loss.loss_gradient(y, p, w)
        loss.gradient_hessian(y, p, w)
        loss.gradient(y.astype(np.float64), p, w)
    for a, c in zip((y, p, w), copies):
        np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------- out=
def test_out_is_written_and_returned(rng):
    y, p = data(rng, shape=(10, 3))
    out = np.full((10, 3), np.nan)
    g = fl.MeanSquaredError().gradient(y, p, out=out)
    assert g is out
    np.testing.assert_allclose(out, 2 * (p - y) / 30)
    v, g2 = fl.MeanSquaredError().loss_gradient(y, p, out=out)
    assert g2 is out and v == pytest.approx(np.mean((p - y) ** 2))


@pytest.mark.parametrize("bad,exc,match", [
    (np.empty((10, 2)), ValueError, "out has shape"),
    (np.empty((10, 3), dtype=np.float32), ValueError, "out has dtype"),
    (np.empty((3, 10)).T, ValueError, "out must be C-contiguous"),
    ([[0.0] * 3] * 10, TypeError, "out must be a numpy.ndarray"),
])
def test_bad_out(rng, bad, exc, match):
    y, p = data(rng, shape=(10, 3))
    with pytest.raises(exc, match=match):
        fl.MeanSquaredError().gradient(y, p, out=bad)


def test_read_only_or_aliasing_out(rng):
    y, p = data(rng, shape=(10,))
    ro = np.empty(10)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="out is read-only"):
        fl.MeanSquaredError().gradient(y, p, out=ro)
    with pytest.raises(ValueError, match="out shares memory"):
        fl.MeanSquaredError().gradient(y, p, out=p)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("y_shape,p_shape", [((10,), (10, 1)), ((10, 1), (10,)), ((10, 2), (10, 3)),
                                             ((4,), (5,))])
def test_shape_mismatch_is_an_error(y_shape, p_shape):
    with pytest.raises(ValueError, match="y_true has shape .* y_pred has shape"):
        fl.mse(np.zeros(y_shape), np.zeros(p_shape))


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0)])
def test_empty_input_is_an_error(shape):
    with pytest.raises(ValueError, match="y_pred is empty"):
        fl.mse(np.zeros(shape), np.zeros(shape))


def test_scalar_input_is_an_error():
    with pytest.raises(ValueError, match="y_pred must have at least 1"):
        fl.mse(np.float64(1.0), np.float64(2.0))


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([1 + 1j, 2j]), np.array([None, 1.0])])
def test_non_numeric_data_is_a_type_error(bad):
    with pytest.raises(TypeError, match="y_pred must hold real numbers"):
        fl.mse(np.zeros(2), bad)
    with pytest.raises(TypeError, match="y_true must hold real numbers"):
        fl.mse(bad, np.zeros(2))


def test_ragged_input_is_a_value_error():
    with pytest.raises(ValueError, match="y_pred"):
        fl.mse([1.0, 2.0], [[1.0], [1.0, 2.0]])


@pytest.mark.parametrize("w,match", [
    (-np.ones(5), "sample_weight must be non-negative"),
    (np.ones(4), "sample_weight has 4 entries, y_pred has 5 rows"),
    (np.ones((5, 1)), "sample_weight must be 1-D"),
])
def test_bad_sample_weight(w, match):
    with pytest.raises(ValueError, match=match):
        fl.mse(np.zeros(5), np.ones(5), sample_weight=w)


def test_sample_weight_type():
    with pytest.raises(TypeError, match="sample_weight"):
        fl.mse(np.zeros(2), np.ones(2), sample_weight=["a", "b"])


@pytest.mark.parametrize("reduction", ["avg", None, "MEAN", 1])
def test_unknown_reduction(reduction):
    with pytest.raises(ValueError, match="reduction must be one of"):
        fl.MeanSquaredError(reduction=reduction)
    with pytest.raises(ValueError, match="reduction"):
        fl.mse(np.zeros(2), np.ones(2), reduction=reduction)


@pytest.mark.parametrize("delta,exc", [(0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                       ("1", TypeError), (None, TypeError)])
def test_bad_huber_delta(delta, exc):
    with pytest.raises(exc, match="delta"):
        fl.Huber(delta=delta)


def test_bad_poisson_flag():
    with pytest.raises(TypeError, match="log_input"):
        fl.Poisson(log_input="yes")


# ---------------------------------------------------------------- semantics
def test_zero_total_weight_mean_is_zero(rng):
    y, p = data(rng)
    w = np.zeros(20)
    loss = fl.MeanSquaredError()
    v, g = loss.loss_gradient(y, p, sample_weight=w)
    assert v == 0.0 and not np.isnan(v)
    np.testing.assert_array_equal(g, 0.0)
    g2, h = loss.gradient_hessian(y, p, sample_weight=w)
    np.testing.assert_array_equal(h, 0.0)


def test_nan_propagates(rng):
    y, p = data(rng)
    p[3] = np.nan
    for name in ("mse", "mae", "huber", "log_cosh", "poisson"):
        v, g = fl.get(name).loss_gradient(y, p)
        assert np.isnan(v), name
        assert np.isnan(g[3]), name
        rows = fl.get(name, reduction="none")(y, p)
        assert np.isnan(rows[3]) and not np.isnan(rows[2]), name


def test_reduction_none_gradient_is_gradient_of_sum(rng):
    y, p = data(rng, shape=(8, 2))
    w = rng.uniform(size=8)
    g_none = fl.Huber(reduction="none").gradient(y, p, w)
    g_sum = fl.Huber(reduction="sum").gradient(y, p, w)
    np.testing.assert_array_equal(g_none, g_sum)
    assert fl.Huber(reduction="sum")(y, p, w) == pytest.approx(fl.Huber(reduction="none")(y, p, w).sum())


def test_trailing_dimensions_are_row_elements(rng):
    # (n, a, b) is n samples of a*b elements each.
    y, p = data(rng, shape=(6, 2, 3))
    rows = fl.mse(y, p, reduction="none")
    np.testing.assert_allclose(rows, ((y - p) ** 2).reshape(6, -1).mean(axis=1))
    assert fl.mse(y, p).__class__ is float


def test_every_loss_rebuilds_from_its_params():
    # get_params must name every constructor argument, so that
    # type(loss)(**loss.get_params()) is the same loss (sklearn's clone relies on it).
    from fastloss._registry import loss_classes
    for cls in loss_classes():
        loss = cls()
        params = loss.get_params()
        assert type(loss)(**params).get_params() == params, cls.__name__
        assert loss.get_params(deep=False) == params


def test_sklearn_clone_of_a_loss():
    sklearn_base = pytest.importorskip("sklearn.base")
    loss = fl.Huber(delta=2.5, reduction="sum")
    copy = sklearn_base.clone(loss, safe=False)
    assert copy is not loss and type(copy) is fl.Huber
    assert copy.get_params() == {"delta": 2.5, "reduction": "sum"}
