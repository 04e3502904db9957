"""fastloss.torch: the autograd bridge.  Values and gradients against torch's own
losses, gradcheck in float64, zero-copy reads, reductions, errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastloss as fl  # noqa: E402
import fastloss.torch as flt  # noqa: E402

F = torch.nn.functional


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 4, generator=g, dtype=torch.float64) * 2
    t = torch.randn(9, 4, generator=g, dtype=torch.float64)
    w = torch.rand(9, generator=g, dtype=torch.float64)
    return x, t, w


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("make", [lambda r: flt.Huber(delta=0.7, reduction=r),
                                  lambda r: flt.MeanSquaredError(reduction=r),
                                  lambda r: flt.LogCosh(reduction=r),
                                  lambda r: flt.FastlossLoss("mae", reduction=r),
                                  lambda r: flt.Poisson(log_input=True, reduction=r)])
def test_gradcheck_float64(pair, reduction, make):
    x, t, w = pair
    x = x.clone().requires_grad_(True)
    crit = make(reduction)
    if isinstance(crit.loss, fl.MeanAbsoluteError):
        x = (t + torch.sign(x) * (0.1 + x.abs())).detach().requires_grad_(True)  # no ties
    assert torch.autograd.gradcheck(lambda v: crit(v, t), (x,))
    assert torch.autograd.gradcheck(lambda v: crit(v, t, w), (x,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_torch_losses(pair, dtype):
    x, t, _ = pair
    x, t = x.to(dtype), t.to(dtype)
    for ours, ref in [(flt.Huber(delta=0.7), lambda a: F.huber_loss(a, t, delta=0.7)),
                      (flt.MeanSquaredError(), lambda a: F.mse_loss(a, t)),
                      # "sum" adds per-sample losses, each the mean over its 4 outputs
                      (flt.MeanAbsoluteError(reduction="sum"),
                       lambda a: F.l1_loss(a, t, reduction="sum") / 4),
                      (flt.Poisson(log_input=True),
                       lambda a: F.poisson_nll_loss(a, t.abs(), log_input=True))]:
        target = t.abs() if isinstance(ours.loss, fl.Poisson) else t
        a = x.clone().requires_grad_(True)
        b = x.clone().requires_grad_(True)
        va, vb = ours(a, target), ref(b)
        (va * 3).backward()
        (vb * 3).backward()
        assert va.dtype == dtype and va.shape == ()
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(va, vb, rtol=tol, atol=tol)
        torch.testing.assert_close(a.grad, b.grad, rtol=tol, atol=tol)


def test_reduction_none_scales_rows(pair):
    x, t, w = pair
    x = x.clone().requires_grad_(True)
    rows = flt.Huber(delta=0.7, reduction="none")(x, t, w)
    assert rows.shape == (9,)
    ref_rows = w * F.huber_loss(x, t, delta=0.7, reduction="none").mean(dim=1)
    torch.testing.assert_close(rows, ref_rows.detach())
    v = torch.arange(9, dtype=torch.float64)
    (rows * v).sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    (w * F.huber_loss(x2, t, delta=0.7, reduction="none").mean(dim=1) * v).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)


def test_zero_copy_for_contiguous_float_tensors(pair):
    x, t, _ = pair
    seen = {}

    class Spy(fl.MeanSquaredError):  # not registered: no function_name of its own
        def loss_gradient(self, y_true, y_pred, sample_weight=None, out=None):
            seen["y_pred"], seen["y_true"] = y_pred, y_true
            return super().loss_gradient(y_true, y_pred, sample_weight, out)

    x = x.clone().requires_grad_(True)
    flt.FastlossLoss(Spy())(x, t).backward()
    assert np.shares_memory(seen["y_pred"], x.detach().numpy())
    assert np.shares_memory(seen["y_true"], t.numpy())
    # a non-contiguous view is read through a contiguous copy, with the same result
    xt = x.detach().t().requires_grad_(True)
    tt = t.t()
    value = flt.FastlossLoss(Spy())(xt, tt)
    torch.testing.assert_close(value, F.mse_loss(xt, tt))


def test_float16_input_is_computed_in_float32(pair):
    x, t, _ = pair
    x16 = x.to(torch.float16).requires_grad_(True)
    value = flt.MeanSquaredError()(x16, t.to(torch.float16))
    value.backward()
    assert value.dtype == torch.float16 and x16.grad.dtype == torch.float16
    ref = F.mse_loss(x16.detach().float(), t.to(torch.float16).float())
    torch.testing.assert_close(value.float(), ref, rtol=1e-3, atol=1e-3)


def test_apply_and_module_forms_agree(pair):
    x, t, w = pair
    a = flt.apply("huber", x, t, w, delta=0.7)
    b = flt.Huber(delta=0.7)(x, t, w)
    c = flt.FastlossLoss(fl.Huber(delta=0.7))(x, t, w)
    assert float(a) == float(b) == float(c) == fl.huber(t.numpy(), x.numpy(), w.numpy(), delta=0.7)
    assert "Huber" in dir(flt) and isinstance(b, torch.Tensor)
    assert isinstance(flt.Huber(delta=0.7), torch.nn.Module)


def test_errors(pair):
    x, t, _ = pair
    meta = torch.empty(9, 4, device="meta")
    with pytest.raises(ValueError, match="input is on device meta.*CPU"):
        flt.MeanSquaredError()(meta, t)
    with pytest.raises(ValueError, match="target is on device meta"):
        flt.MeanSquaredError()(x, meta)
    with pytest.raises(ValueError, match="target requires grad"):
        flt.MeanSquaredError()(x, t.clone().requires_grad_(True))
    with pytest.raises(TypeError, match="input"):
        flt.MeanSquaredError()(x.numpy(), t)
    with pytest.raises(ValueError, match="shape"):
        flt.MeanSquaredError()(x, t[:, :2])
    with pytest.raises(ValueError, match="delta"):
        flt.Huber(delta=-1.0)
    with pytest.raises(AttributeError):
        flt.NoSuchLoss


def test_sparse_categorical_crossentropy_matches_cross_entropy():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(12, 5, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 5, (12,), generator=g)
    crit = flt.SparseCategoricalCrossentropy(from_logits=True)
    assert torch.autograd.gradcheck(lambda z: crit(z, labels), (logits,))
    value = crit(logits, labels)
    torch.testing.assert_close(value, F.cross_entropy(logits, labels))


def test_binary_crossentropy_with_logits_gradcheck():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(10, generator=g, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(10, generator=g) < 0.5).double()
    crit = flt.BinaryCrossentropy(from_logits=True)
    assert torch.autograd.gradcheck(lambda z: crit(z, y), (logits,))
    torch.testing.assert_close(crit(logits, y), F.binary_cross_entropy_with_logits(logits, y))


def test_set_level_losses_go_through_the_bridge():
    g = torch.Generator().manual_seed(3)
    probs = torch.rand(6, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    masks = (torch.rand(6, 3, generator=g, dtype=torch.float64) > 0.5).double()
    assert torch.autograd.gradcheck(lambda v: flt.JaccardLoss()(v, masks), (probs,))
    scores = torch.randn(8, generator=g, dtype=torch.float64).requires_grad_(True)
    relevance = torch.randint(0, 3, (8,), generator=g).double()
    assert torch.autograd.gradcheck(lambda v: flt.RankNet()(v, relevance), (scores,))
    with pytest.raises(ValueError, match="set-level"):
        flt.RankNet(reduction="none")(scores, relevance)


def test_reduction_none_follows_target_kind():
    """Per-sample losses (target_kind not None) give per-sample values and
    a gradient scaled row by row; boxes are samples (GIoU is a rows loss)."""
    g = torch.Generator().manual_seed(5)
    lo = torch.rand(5, 2, generator=g, dtype=torch.float64)
    target = torch.cat([lo, lo + 0.5 + torch.rand(5, 2, generator=g, dtype=torch.float64)], 1)
    pred = (target + 0.1 * torch.randn(5, 4, generator=g, dtype=torch.float64))
    pred = torch.cat([pred[:, :2], torch.maximum(pred[:, 2:], pred[:, :2] + 0.1)], 1)
    pred.requires_grad_(True)
    rows = flt.GIoULoss(reduction="none")(pred, target)
    assert rows.shape == (5,)
    torch.testing.assert_close(rows.detach().numpy(),
                               fl.GIoULoss(reduction="none")(target.numpy(), pred.detach().numpy()))
    assert torch.autograd.gradcheck(lambda v: flt.GIoULoss(reduction="none")(v, target).sum(),
                                    (pred,))
    with pytest.raises(ValueError, match="set-level"):
        flt.JaccardLoss(reduction="none")(pred, target)
