"""fastloss.torch in a training step (issue 16): gradients equal autograd's
through torch formulas of the same losses, every way a backward can arrive
(grad_output 1, scaled, summed, per-sample, retained, create_graph), the
gradient handed over without a copy and never written again, zero-copy
inputs, non-contiguous inputs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastloss as fl  # noqa: E402
import fastloss.torch as flt  # noqa: E402

F = torch.nn.functional


# torch formulas of the losses (computed in float64, differentiated by autograd)
def _binary_focal(x, t, gamma=2.0, alpha=0.25):
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    a_t = alpha * t + (1 - alpha) * (1 - t)
    return (a_t * ce * (1 - p_t) ** gamma).mean()


def _categorical_focal(x, t, gamma=2.0, alpha=0.25):
    logp = F.log_softmax(x, dim=1)
    return (-(alpha * t * (1 - logp.exp()) ** gamma * logp).sum(dim=1)).mean()


def _labels(n, c, g):
    return torch.randint(0, c, (n,), generator=g)


def _onehot(n, c, g):
    return F.one_hot(_labels(n, c, g), c).double()


def _soft(n, c, g):
    return torch.softmax(torch.randn(n, c, generator=g, dtype=torch.float64), 1)


def _binary(n, c, g):
    return (torch.rand(n, c, generator=g) < 0.3).double()


def _real(n, c, g):
    return torch.randn(n, c, generator=g, dtype=torch.float64)


# name -> (bridge module, torch reference(x, t), target maker)
LOSSES = {
    "sparse_ce": (lambda: flt.SparseCategoricalCrossentropy(from_logits=True),
                  F.cross_entropy, _labels),
    "categorical_ce": (lambda: flt.CategoricalCrossentropy(from_logits=True),
                       F.cross_entropy, _soft),
    "bce_logits": (lambda: flt.BinaryCrossentropy(from_logits=True),
                   F.binary_cross_entropy_with_logits, _binary),
    "binary_focal": (lambda: flt.BinaryFocalCrossentropy(gamma=2.0, alpha=0.25,
                                                         from_logits=True),
                     _binary_focal, _binary),
    "categorical_focal": (lambda: flt.CategoricalFocalCrossentropy(gamma=2.0, alpha=0.25,
                                                                   from_logits=True),
                          _categorical_focal, _onehot),
    "mse": (lambda: flt.MeanSquaredError(), F.mse_loss, _real),
}
TOL = {torch.float32: 1e-6, torch.float64: 1e-12}


def _data(name, dtype, shape=(37, 11), seed=0):
    g = torch.Generator().manual_seed(seed)
    n, c = shape
    x = (3 * torch.randn(n, c, generator=g, dtype=torch.float64)).to(dtype)
    t = LOSSES[name][2](n, c, g)
    if t.is_floating_point():
        t = t.to(dtype)
    return x, t


def _reference(name, x, t, scale=1.0):
    """Value and gradient of scale * loss by autograd through the torch formula, in float64."""
    x64 = x.detach().double().requires_grad_(True)
    t64 = t.double() if t.is_floating_point() else t
    value = LOSSES[name][1](x64, t64) * scale
    value.backward()
    return value.detach(), x64.grad


def _close(got, want, dtype, what):
    got = got.double()
    err = float((got - want).abs().max() / max(float(want.abs().max()), 1e-300))
    assert err <= TOL[dtype], f"{what}: max|diff|/max|ref| = {err:.3g} > {TOL[dtype]:g}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(LOSSES))
def test_step_gradient_equals_autograd_of_the_torch_formula(name, dtype):
    x, t = _data(name, dtype)
    crit = LOSSES[name][0]()
    z = x.clone().requires_grad_(True)
    for step in range(3):                  # the training loop: grad reset, step
        z.grad = None
        value = crit(z, t)
        value.backward()
        want_v, want_g = _reference(name, z, t)
        assert value.dtype == dtype and value.shape == () and value.grad_fn is not None
        assert z.grad.dtype == dtype and z.grad.shape == z.shape
        _close(value.detach().reshape(1), want_v.reshape(1), dtype, "value")
        _close(z.grad, want_g, dtype, "gradient")
        with torch.no_grad():
            z -= 0.5 * z.grad               # the optimizer step, in place


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["sparse_ce", "bce_logits", "binary_focal", "mse"])
def test_grad_output_other_than_one(name, dtype):
    x, t = _data(name, dtype, seed=1)
    x2, t2 = _data(name, dtype, seed=2)
    crit = LOSSES[name][0]()
    z = x.clone().requires_grad_(True)
    (crit(z, t) * 3).backward()
    _close(z.grad, _reference(name, z, t, 3.0)[1], dtype, "3 * loss")
    # two losses of one input, summed (each backward gets grad_output 1 and
    # the two gradients are accumulated), then a weighted sum
    z.grad = None
    (crit(z, t) + crit(z, t2)).backward()
    _close(z.grad, _reference(name, z, t)[1] + _reference(name, z, t2)[1], dtype, "sum")
    z.grad = None
    (crit(z, t) * -0.25 + 2 * crit(z, t2)).backward()
    want = _reference(name, z, t, -0.25)[1] + _reference(name, z, t2, 2.0)[1]
    _close(z.grad, want, dtype, "weighted sum")
    # a loss that is not the last node: the gradient flows on to a layer
    w = torch.randn(x.shape[1], x.shape[1], dtype=dtype, requires_grad=True)
    w2 = w.detach().clone().requires_grad_(True)
    crit(x @ w, t).backward()
    LOSSES[name][1](x.double() @ w2.double(),
                    t.double() if t.is_floating_point() else t).backward()
    _close(w.grad, w2.grad, dtype, "upstream layer")


def test_gradient_is_handed_over_without_a_copy_and_never_written_again():
    x, t = _data("sparse_ce", torch.float32)
    crit = LOSSES["sparse_ce"][0]()
    z = x.clone().requires_grad_(True)
    loss = crit(z, t)
    stored = loss.grad_fn.grad.data_ptr()
    loss.backward()
    assert z.grad.data_ptr() == stored     # grad_output 1: no pass, no copy
    first = z.grad
    first_copy = first.clone()
    with torch.no_grad():
        z += 1.0
    for scale in (1.0, 3.0):               # later steps write elsewhere
        z.grad = None
        (crit(z, t) * scale).backward()
        assert z.grad.data_ptr() != first.data_ptr()
        assert torch.equal(first, first_copy)
    # accumulation (z.grad kept between backwards) adds into the caller's tensor
    z.grad = None
    crit(z, t).backward()
    acc = z.grad
    single = acc.clone()
    crit(z, t).backward()
    assert z.grad is acc
    torch.testing.assert_close(acc, 2 * single, rtol=0, atol=0)


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_second_backward_on_a_retained_graph(scale):
    x, t = _data("bce_logits", torch.float64, seed=3)
    crit = LOSSES["bce_logits"][0]()
    z = x.clone().requires_grad_(True)
    loss = crit(z, t) * scale
    loss.backward(retain_graph=True)
    want = _reference("bce_logits", z, t, scale)[1]
    _close(z.grad, want, torch.float64, "first backward")
    torch.nn.utils.clip_grad_norm_([z], 1e-3)   # the caller changes its gradient in place
    z.grad = None
    loss.backward(retain_graph=True)
    _close(z.grad, want, torch.float64, "second backward")
    loss.backward()                             # accumulates a third
    _close(z.grad, 2 * want, torch.float64, "third backward")
    # an input modified in place since the forward pass: torch's error, not a stale value
    y = x.clone().requires_grad_(True)
    h = y * 1.0
    loss = crit(h, t)
    loss.backward(retain_graph=True)
    with torch.no_grad():
        h += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_double_backward_raises_a_clear_error():
    x, t = _data("sparse_ce", torch.float64, seed=4)
    crit = LOSSES["sparse_ce"][0]()
    z = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(crit(z, t) * 2, z, create_graph=True)
    _close(g.detach(), _reference("sparse_ce", z, t, 2.0)[1], torch.float64, "first order")
    assert g.requires_grad                  # not silently a constant
    with pytest.raises(RuntimeError, match="differentiable once"):
        (g * g).sum().backward()
    # a gradient penalty mixing it with a differentiable term: still an error
    (g,) = torch.autograd.grad(crit(z, t) + (z ** 3).sum(), z, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiable once"):
        g.pow(2).sum().backward()


@pytest.mark.parametrize("name", list(LOSSES))
def test_non_contiguous_input(name):
    x, t = _data(name, torch.float64, seed=5)
    crit = LOSSES[name][0]()
    # a transposed leaf, and a strided view computed from a leaf
    leaf = x.t().contiguous().t().requires_grad_(True)
    assert not leaf.is_contiguous()
    crit(leaf, t).backward()
    _close(leaf.grad, _reference(name, leaf, t)[1], torch.float64, "transposed leaf")
    wide = torch.cat([x, x], 1).requires_grad_(True)
    view = wide[:, ::2]
    assert not view.is_contiguous()
    crit(view, t).backward()
    want = torch.zeros_like(wide)
    want[:, ::2] = _reference(name, view, t)[1]
    _close(wide.grad, want, torch.float64, "strided view")


def test_targets_get_no_gradient_and_may_not_require_one():
    x, t = _data("bce_logits", torch.float32, seed=6)
    z = x.clone().requires_grad_(True)
    crit = LOSSES["bce_logits"][0]()
    crit(z, t).backward()
    assert not t.requires_grad and t.grad is None
    with pytest.raises(ValueError, match="target requires grad"):
        crit(z, t.clone().requires_grad_(True))
    w = torch.rand(x.shape[0], requires_grad=True)
    with pytest.raises(ValueError, match="sample_weight requires grad"):
        crit(z, t, w)
    labels = _labels(x.shape[0], x.shape[1], torch.Generator().manual_seed(0))
    ce = LOSSES["sparse_ce"][0]()
    ce(z, labels).backward()
    assert labels.dtype == torch.int64 and not labels.requires_grad


def test_inputs_and_int64_labels_are_read_without_copies():
    seen = {}

    class Spy(fl.SparseCategoricalCrossentropy):   # not registered: no function_name
        def loss_gradient(self, y_true, y_pred, sample_weight=None, out=None):
            seen.update(y_true=y_true, y_pred=y_pred)
            return super().loss_gradient(y_true, y_pred, sample_weight, out)

        def loss(self, y_true, y_pred, sample_weight=None):
            seen["loss"] = True
            return super().loss(y_true, y_pred, sample_weight)

    x, t = _data("sparse_ce", torch.float32, seed=7)
    z = x.clone().requires_grad_(True)
    crit = flt.FastlossLoss(Spy(from_logits=True))
    crit(z, t).backward()
    assert seen["y_true"].dtype == np.int64
    assert np.shares_memory(seen["y_true"], t.numpy())
    assert np.shares_memory(seen["y_pred"], z.detach().numpy())
    assert "loss" not in seen
    # evaluation (no gradient wanted): the value alone, no gradient computed
    seen.clear()
    with torch.no_grad():
        value = crit(z, t)
    assert seen == {"loss": True} and value.grad_fn is None
    torch.testing.assert_close(value, F.cross_entropy(z.detach(), t))
    seen.clear()
    value = crit(x, t)                      # an input that does not require grad
    assert seen == {"loss": True} and not value.requires_grad


def test_reduction_none_rows_on_the_class_axis():
    """Per-pixel values of (N, C, H, W) logits: each pixel's gradient is scaled
    by its own incoming gradient, the classes' axis broadcast (axis 1)."""
    g = torch.Generator().manual_seed(8)
    x = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
    t = torch.randint(0, 5, (2, 3, 4), generator=g)
    v = torch.rand(2, 3, 4, generator=g, dtype=torch.float64)
    z = x.clone().requires_grad_(True)
    rows = flt.SparseCategoricalCrossentropy(from_logits=True, class_axis=1,
                                             reduction="none")(z, t)
    assert rows.shape == (2, 3, 4)
    (rows * v).sum().backward()
    z2 = x.clone().requires_grad_(True)
    ref = F.cross_entropy(z2, t, reduction="none")
    torch.testing.assert_close(rows.detach(), ref.detach(), rtol=1e-12, atol=1e-12)
    (ref * v).sum().backward()
    torch.testing.assert_close(z.grad, z2.grad, rtol=1e-12, atol=1e-12)


def test_function_form_reuses_the_loss_and_takes_array_parameters():
    x, t = _data("sparse_ce", torch.float64, seed=9)
    z = x.clone().requires_grad_(True)
    flt.apply("sparse_categorical_crossentropy", z, t, from_logits=True).backward()
    _close(z.grad, _reference("sparse_ce", z, t)[1], torch.float64, "apply")
    cw = np.linspace(0.5, 2.0, x.shape[1])       # unhashable: built for this call
    z.grad = None
    flt.apply("sparse_categorical_crossentropy", z, t, from_logits=True,
              class_weight=cw).backward()
    z2 = x.clone().requires_grad_(True)
    F.cross_entropy(z2, t, weight=torch.from_numpy(cw)).backward()
    _close(z.grad, z2.grad, torch.float64, "apply(class_weight=array)")


# ------------------------------------------- the bench's training-step cases
def test_bench_step_group_is_selected_by_its_name_and_ids_only():
    from fastloss._bench import cases as C, torch_step
    assert C.select(["torch_step"]) == list(torch_step.CASES)
    assert [c.name for c in C.select(["mse", "torch_step_mse"])] == ["mse", "torch_step_mse"]
    step_ids = {c.name for c in torch_step.CASES}
    assert not step_ids & {c.name for c in C.select(None)}
    assert not step_ids & {c.name for c in C.select(["MeanSquaredError"])}
    names = {c.loss for c in torch_step.CASES}
    assert {"sparse_categorical_crossentropy", "binary_crossentropy",
            "binary_focal_crossentropy", "mse"} <= names
    for case in torch_step.CASES:
        assert set(case.shapes) == set(C.SIZES)
        assert [p.name for p in case.peers] == ["numpy", "torch"]


@pytest.mark.parametrize("case_id", ["torch_step_sparse_ce", "torch_step_bce",
                                     "torch_step_binary_focal", "torch_step_mse"])
def test_bench_step_cases_agree_with_their_peers_at_tiny_size(case_id):
    from fastloss._bench import cases as C, runner
    (case,) = C.select([case_id])
    row = runner.run_case(case, size="tiny", threads=1, rounds=1, budget=0.0)
    assert row["status"] == "ok", row
    assert {name: e["status"] for name, e in row["peers"].items()} == {"numpy": "ok",
                                                                        "torch": "ok"}


def test_function_form_reads_tensor_parameters_at_each_call():
    x, t = _data("sparse_ce", torch.float64, seed=10)
    cw = torch.linspace(0.5, 2.0, x.shape[1], dtype=torch.float64)
    first = flt.apply("sparse_categorical_crossentropy", x, t, from_logits=True,
                      class_weight=cw)
    cw.mul_(3.0).add_(torch.arange(x.shape[1], dtype=torch.float64))   # changed in place
    second = flt.apply("sparse_categorical_crossentropy", x, t, from_logits=True,
                       class_weight=cw)
    torch.testing.assert_close(second, F.cross_entropy(x, t, weight=cw), rtol=1e-12, atol=0)
    assert float(first) != float(second)


def test_create_graph_through_grad_outputs_raises_too():
    x, t = _data("mse", torch.float64, seed=11)
    z = x.clone().requires_grad_(True)
    v = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(LOSSES["mse"][0]()(z, t), z, grad_outputs=v, create_graph=True)
    _close(g.detach(), _reference("mse", z, t, 2.0)[1], torch.float64, "first order")
    with pytest.raises(RuntimeError, match="differentiable once"):
        torch.autograd.grad(g.sum(), v)


def test_bridge_calls_the_loss_the_way_its_fast_path_takes():
    """The kernel's fast path (issue 16, tiny calls) takes exact C-contiguous
    aligned ndarrays with NumPy's own float32/float64/int64 descriptors and
    no out= / sample_weight: the bridge calls the loss exactly so."""
    calls = []

    class Spy(fl.SparseCategoricalCrossentropy):
        def loss_gradient(self, *args, **kwargs):
            calls.append((args, kwargs))
            return super().loss_gradient(*args, **kwargs)

    for dtype, np_dtype in ((torch.float32, np.float32), (torch.float64, np.float64)):
        x, t = _data("sparse_ce", dtype, seed=12)
        z = x.clone().requires_grad_(True)
        flt.FastlossLoss(Spy(from_logits=True))(z, t).backward()
        (y_true, y_pred, sample_weight), kwargs = calls.pop()
        assert kwargs == {} and sample_weight is None
        for arr, want in ((y_pred, np_dtype), (y_true, np.int64)):
            assert type(arr) is np.ndarray and arr.dtype is np.dtype(want)
            assert arr.flags.c_contiguous and arr.flags.aligned
