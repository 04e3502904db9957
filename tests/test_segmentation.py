"""Lovász-Softmax, Lovász hinge, Jaccard and F1/Dice against float64 NumPy
references written here (Lovász: the sort-based Algorithm 1 of Berman et
al.), a torch autograd transcription of the published reference, and
central finite differences."""
import numpy as np
import pytest

import fastloss as fl


# ----------------------------------------------------------- NumPy references
def np_lovasz_grad(gt_sorted):
    """Algorithm 1: gradient of the Lovász extension of the Jaccard loss."""
    gt = gt_sorted.astype(np.float64)
    gts = gt.sum()
    inter = gts - np.cumsum(gt)
    union = gts + np.cumsum(1.0 - gt)
    jac = 1.0 - inter / union
    jac[1:] = jac[1:] - jac[:-1]
    return jac


def np_softmax(z, axis):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def np_lovasz_softmax_flat(probs, labels, classes):
    """(loss, d loss / d probs) of (P, C) probabilities; P may be 0."""
    P, C = probs.shape
    grad = np.zeros_like(probs)
    if P == 0:
        return 0.0, grad
    chosen = list(range(C)) if classes in ("all", "present") else list(classes)
    losses, parts = [], []
    for c in chosen:
        fg = (labels == c).astype(np.float64)
        if classes == "present" and fg.sum() == 0:
            continue
        diff = fg - probs[:, c]
        err = np.abs(diff)
        perm = np.argsort(-err, kind="stable")
        g = np_lovasz_grad(fg[perm])
        losses.append(np.dot(err[perm], g))
        gc = np.zeros(P)
        gc[perm] = g * -np.sign(diff[perm])
        parts.append((c, gc))
    if not losses:
        return 0.0, grad
    for c, gc in parts:
        grad[:, c] += gc / len(losses)
    return float(np.mean(losses)), grad


def np_lovasz_softmax(probs, labels, classes="present", per_image=False, ignore=None,
                      from_logits=False):
    """Reference for (B, C, H, W) or (P, C) input: (loss, gradient)."""
    probs = np.asarray(probs, dtype=np.float64)
    z = probs
    if from_logits:
        probs = np_softmax(z, axis=1)

    def flat(pr, lab):
        C = pr.shape[1]
        if pr.ndim == 4:
            pf = np.moveaxis(pr, 1, -1).reshape(-1, C)
        else:
            pf = pr
        lf = lab.reshape(-1)
        valid = np.ones(lf.shape, bool) if ignore is None else lf != ignore
        loss, gv = np_lovasz_softmax_flat(pf[valid], lf[valid], classes)
        g = np.zeros_like(pf)
        g[valid] = gv
        if pr.ndim == 4:
            g = np.moveaxis(g.reshape(pr.shape[0], pr.shape[2], pr.shape[3], C), -1, 1)
        return loss, g

    if per_image:
        B = probs.shape[0]
        grad = np.zeros_like(probs)
        total = 0.0
        for b in range(B):
            l, g = flat(probs[b:b + 1], labels[b:b + 1])
            total += l
            grad[b:b + 1] = g / B
        loss = total / B
    else:
        loss, grad = flat(probs, labels)
    if from_logits:
        axis = 1
        s = np.sum(grad * probs, axis=axis, keepdims=True)
        grad = probs * (grad - s)
    return loss, grad


def np_lovasz_hinge(logits, labels, per_image=True, ignore=None):
    logits = np.asarray(logits, dtype=np.float64)

    def flat(lg, lab):
        lg, lab = lg.reshape(-1), lab.reshape(-1)
        valid = np.ones(lab.shape, bool) if ignore is None else lab != ignore
        g = np.zeros(lg.shape)
        if not valid.any():
            return 0.0, g
        x, y = lg[valid], lab[valid].astype(np.float64)
        t = 2 * y - 1
        err = 1 - x * t
        perm = np.argsort(-err, kind="stable")
        lg_ = np_lovasz_grad(y[perm])
        loss = np.dot(np.maximum(err[perm], 0), lg_)
        gv = np.zeros(x.shape)
        gv[perm] = lg_ * (err[perm] > 0) * -t[perm]
        g[valid] = gv
        return loss, g

    if per_image:
        B = logits.shape[0]
        grad = np.zeros_like(logits)
        total = 0.0
        for b in range(B):
            l, g = flat(logits[b], labels[b])
            total += l
            grad[b] = g.reshape(logits[b].shape) / B
        return total / B, grad
    loss, g = flat(logits, labels)
    return loss, g.reshape(logits.shape)


# ------------------------------------ torch transcription of the reference
def torch_lovasz_softmax(probas, labels, classes="present", per_image=False, ignore=None):
    """bermanmaxim/LovaszSoftmax pytorch ``lovasz_softmax``, transcribed."""
    torch = pytest.importorskip("torch")

    # the reference's `.float()` casts are `.to(dtype)` here so that float64
    # runs in float64 (the published code only runs in float32)
    def lovasz_grad(gt_sorted):
        p = len(gt_sorted)
        gts = gt_sorted.sum()
        intersection = gts - gt_sorted.cumsum(0)
        union = gts + (1 - gt_sorted).cumsum(0)
        jaccard = 1. - intersection / union
        if p > 1:
            jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
        return jaccard

    def mean(values):
        values = list(values)
        if not values:
            return 0
        acc = values[0]
        for v in values[1:]:
            acc = acc + v
        return acc / len(values)

    def flat_softmax(pr, lab):
        if pr.numel() == 0:
            return pr.sum() * 0.
        C = pr.size(1)
        losses = []
        class_to_sum = list(range(C)) if classes in ["all", "present"] else classes
        for c in class_to_sum:
            fg = (lab == c).to(pr.dtype)
            if classes == "present" and fg.sum() == 0:
                continue
            errors = (fg - pr[:, c]).abs()
            errors_sorted, perm = torch.sort(errors, 0, descending=True)
            losses.append(torch.dot(errors_sorted, lovasz_grad(fg[perm])))
        return mean(losses)

    def flatten(pr, lab):
        B, C, H, W = pr.size()
        pr = pr.permute(0, 2, 3, 1).contiguous().view(-1, C)
        lab = lab.view(-1)
        if ignore is None:
            return pr, lab
        valid = lab != ignore
        return pr[valid], lab[valid]

    if per_image:
        return mean(flat_softmax(*flatten(p.unsqueeze(0), l.unsqueeze(0)))
                    for p, l in zip(probas, labels))
    return flat_softmax(*flatten(probas, labels))


def torch_lovasz_hinge(logits, labels, per_image=True, ignore=None):
    torch = pytest.importorskip("torch")

    def lovasz_grad(gt_sorted):
        gts = gt_sorted.sum()
        intersection = gts - gt_sorted.cumsum(0)
        union = gts + (1 - gt_sorted).cumsum(0)
        jaccard = 1. - intersection / union
        if len(gt_sorted) > 1:
            jaccard[1:] = jaccard[1:] - jaccard[0:-1]
        return jaccard

    def flat(lg, lab):
        lg, lab = lg.reshape(-1), lab.reshape(-1)
        if ignore is not None:
            valid = lab != ignore
            lg, lab = lg[valid], lab[valid]
        if len(lab) == 0:
            return lg.sum() * 0.
        signs = 2. * lab.to(lg.dtype) - 1.
        errors = 1. - lg * signs
        errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
        grad = lovasz_grad(lab[perm].to(lg.dtype))
        return torch.dot(torch.relu(errors_sorted), grad)

    if per_image:
        parts = [flat(l.unsqueeze(0), y.unsqueeze(0)) for l, y in zip(logits, labels)]
        acc = parts[0]
        for p in parts[1:]:
            acc = acc + p
        return acc / len(parts)
    return flat(logits, labels)


# -------------------------------------------------------------------- data
def seg_data(rng, B=2, C=4, H=5, W=6, dtype=np.float64, logits=False):
    z = rng.normal(size=(B, C, H, W)) * 2
    labels = rng.integers(0, C, size=(B, H, W))
    if logits:
        return z.astype(dtype), labels
    return np_softmax(z, 1).astype(dtype), labels


def fd_check(f, x, grad, rng, k=12, h=1e-6, atol=1e-6):
    """Central differences of f at k random coordinates of x."""
    flat = x.reshape(-1)
    for idx in rng.choice(flat.size, size=min(k, flat.size), replace=False):
        xp = flat.copy()
        xm = flat.copy()
        xp[idx] += h
        xm[idx] -= h
        num = (f(xp.reshape(x.shape)) - f(xm.reshape(x.shape))) / (2 * h)
        assert abs(num - grad.reshape(-1)[idx]) <= atol + 1e-5 * abs(num), (idx, num)


# ------------------------------------------------------------- Lovász softmax
@pytest.mark.parametrize("classes", ["present", "all", [0, 2], [1, 1, 3]])
@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("ignore", [None, 255])
def test_lovasz_softmax_matches_numpy(classes, per_image, ignore):
    rng = np.random.default_rng(1)
    probs, labels = seg_data(rng, B=3, C=5)
    labels[labels == 4] = 2               # class 4 absent everywhere
    labels[0, 0] = 1                      # keep class 1 present
    if ignore is not None:
        labels[rng.random(labels.shape) < 0.3] = ignore
        labels[2] = ignore                # one image entirely ignored
    loss = fl.LovaszSoftmax(classes=classes, per_image=per_image, ignore_index=ignore)
    value, grad = loss.loss_gradient(labels, probs)
    ref_value, ref_grad = np_lovasz_softmax(probs, labels, classes, per_image, ignore)
    assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-14)
    assert fl.lovasz_softmax(labels, probs, classes=classes, per_image=per_image,
                             ignore_index=ignore) == value


@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_softmax_from_logits(per_image):
    rng = np.random.default_rng(2)
    z, labels = seg_data(rng, B=2, C=3, logits=True)
    labels[0, 1, :] = -1
    loss = fl.LovaszSoftmax(per_image=per_image, from_logits=True, ignore_index=-1)
    value, grad = loss.loss_gradient(labels, z)
    ref_value, ref_grad = np_lovasz_softmax(z, labels, "present", per_image, -1, from_logits=True)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-14)
    fd_check(lambda x: loss(labels, x), z, grad, rng)


@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_softmax_finite_differences(per_image):
    rng = np.random.default_rng(3)
    probs, labels = seg_data(rng, B=2, C=3)
    loss = fl.LovaszSoftmax(per_image=per_image, classes="all")
    fd_check(lambda x: loss(labels, x), probs, loss.gradient(labels, probs), rng, k=20)


@pytest.mark.parametrize("classes", ["present", "all", [1, 2]])
@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lovasz_softmax_matches_torch_reference(classes, per_image, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    probs, labels = seg_data(rng, B=2, C=4, H=7, W=6, dtype=dtype)
    labels[labels == 3] = 0
    labels[0, :2] = 255
    tp = torch.tensor(probs, requires_grad=True)
    ref = torch_lovasz_softmax(tp, torch.tensor(labels), classes, per_image, 255)
    ref.backward()
    value, grad = fl.LovaszSoftmax(classes=classes, per_image=per_image,
                                   ignore_index=255).loss_gradient(labels, probs)
    assert grad.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert value == pytest.approx(ref.item(), rel=tol, abs=tol)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=tol, atol=tol)


def test_lovasz_softmax_pc_form_and_float32():
    rng = np.random.default_rng(5)
    probs = np_softmax(rng.normal(size=(40, 3)), 1)
    labels = rng.integers(0, 3, 40)
    value, grad = fl.LovaszSoftmax().loss_gradient(labels, probs)
    ref_value, ref_grad = np_lovasz_softmax(probs, labels)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    v32, g32 = fl.LovaszSoftmax().loss_gradient(labels, probs.astype(np.float32))
    assert isinstance(v32, float) and g32.dtype == np.float32
    assert v32 == pytest.approx(ref_value, rel=1e-5)
    np.testing.assert_allclose(g32, ref_grad, rtol=1e-5, atol=1e-6)


def test_lovasz_softmax_everything_ignored():
    rng = np.random.default_rng(6)
    probs, labels = seg_data(rng)
    labels[:] = 7
    for per_image in (False, True):
        loss = fl.LovaszSoftmax(per_image=per_image, ignore_index=7)
        value, grad = loss.loss_gradient(labels, probs)
        assert value == 0.0 and not np.any(grad)
        logit_loss = fl.LovaszSoftmax(per_image=per_image, ignore_index=7, from_logits=True)
        value, grad = logit_loss.loss_gradient(labels, probs)
        assert value == 0.0 and not np.any(grad)


def test_lovasz_softmax_per_image_reductions_and_weights():
    rng = np.random.default_rng(7)
    probs, labels = seg_data(rng, B=4)
    labels[3] = -5                                     # image 3: nothing valid
    w = np.array([1.0, 2.0, 0.5, 3.0])
    per = np.array([np_lovasz_softmax(probs[b:b + 1], labels[b:b + 1], ignore=-5)[0]
                    for b in range(4)])
    grads = [np_lovasz_softmax(probs[b:b + 1], labels[b:b + 1], ignore=-5)[1] for b in range(4)]
    none = fl.LovaszSoftmax(per_image=True, ignore_index=-5, reduction="none")
    np.testing.assert_allclose(none(labels, probs, sample_weight=w), w * per, rtol=1e-12)
    assert none(labels, probs, sample_weight=w).shape == (4,)
    for red, expect, gs in [("mean", np.sum(w * per) / w.sum(), w / w.sum()),
                            ("sum", np.sum(w * per), w)]:
        loss = fl.LovaszSoftmax(per_image=True, ignore_index=-5, reduction=red)
        value, grad = loss.loss_gradient(labels, probs, sample_weight=w)
        assert value == pytest.approx(expect, rel=1e-12)
        expect_grad = np.concatenate([gs[b] * grads[b] for b in range(4)])
        np.testing.assert_allclose(grad, expect_grad, rtol=1e-12, atol=1e-15)
    g_none = none.gradient(labels, probs, sample_weight=w)
    np.testing.assert_allclose(
        g_none, fl.LovaszSoftmax(per_image=True, ignore_index=-5, reduction="sum")
        .gradient(labels, probs, sample_weight=w))
    zero = fl.LovaszSoftmax(per_image=True).loss_gradient(labels % 4, probs,
                                                          sample_weight=np.zeros(4))
    assert zero[0] == 0.0 and not np.any(zero[1])
    one = fl.LovaszSoftmax(reduction="none")(labels % 4, probs)
    assert one.shape == (1,)


def test_lovasz_softmax_bad_input():
    rng = np.random.default_rng(8)
    probs, labels = seg_data(rng)
    with pytest.raises(ValueError, match="y_true"):
        fl.lovasz_softmax(labels + 4, probs)
    with pytest.raises(ValueError, match="y_true"):
        fl.lovasz_softmax(labels[:, :-1], probs)
    with pytest.raises(ValueError, match="classes"):
        fl.lovasz_softmax(labels, probs, classes=[0, 9])
    with pytest.raises(ValueError, match="classes"):
        fl.LovaszSoftmax(classes="some")
    with pytest.raises(ValueError, match="sample_weight"):
        fl.lovasz_softmax(labels, probs, sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="sample_weight"):
        fl.lovasz_softmax(labels, probs, sample_weight=np.ones(3), per_image=True)
    with pytest.raises(ValueError, match="per_image"):
        fl.lovasz_softmax(labels.reshape(-1)[:10], probs.reshape(-1, 4)[:10], per_image=True)
    with pytest.raises(ValueError, match="y_pred"):
        fl.lovasz_softmax(labels, probs[0])
    with pytest.raises(TypeError, match="y_true"):
        fl.lovasz_softmax(labels.astype(str), probs)
    with pytest.raises(ValueError, match="reduction"):
        fl.LovaszSoftmax(reduction="avg")
    with pytest.raises(ValueError, match="out"):
        fl.LovaszSoftmax().gradient(labels, probs, out=np.empty(3))
    before = probs.copy()
    fl.LovaszSoftmax(from_logits=True).loss_gradient(labels, probs)
    np.testing.assert_array_equal(probs, before)


def test_lovasz_softmax_out_and_nan():
    rng = np.random.default_rng(9)
    probs, labels = seg_data(rng)
    out = np.empty_like(probs)
    g = fl.LovaszSoftmax().gradient(labels, probs, out=out)
    assert g is out
    np.testing.assert_array_equal(out, fl.LovaszSoftmax().gradient(labels, probs))
    probs[0, 0, 0, 0] = np.nan
    assert np.isnan(fl.lovasz_softmax(labels, probs))


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("from_logits", [False, True])
def test_lovasz_deterministic_across_threads(per_image, from_logits):
    rng = np.random.default_rng(10)
    probs, labels = seg_data(rng, B=3, C=6, H=48, W=48, dtype=np.float32, logits=from_logits)
    loss = fl.LovaszSoftmax(per_image=per_image, from_logits=from_logits)
    with fl.num_threads(1):
        v1, g1 = loss.loss_gradient(labels, probs)
    with fl.num_threads(2):
        v2, g2 = loss.loss_gradient(labels, probs)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)


# ---------------------------------------------------------------- Lovász hinge
@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("ignore", [None, 2])
def test_lovasz_hinge_matches_numpy_and_torch(per_image, ignore):
    rng = np.random.default_rng(11)
    logits = rng.normal(size=(3, 6, 7)) * 1.5
    labels = rng.integers(0, 2, size=(3, 6, 7))
    if ignore is not None:
        labels[rng.random(labels.shape) < 0.25] = ignore
        labels[1] = ignore
    loss = fl.LovaszHinge(per_image=per_image, ignore_index=ignore)
    value, grad = loss.loss_gradient(labels, logits)
    ref_value, ref_grad = np_lovasz_hinge(logits, labels, per_image, ignore)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    fd_check(lambda x: loss(labels, x), logits, grad, rng)
    torch = pytest.importorskip("torch")
    tl = torch.tensor(logits, requires_grad=True)
    ref = torch_lovasz_hinge(tl, torch.tensor(labels), per_image, ignore)
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tl.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_lovasz_hinge_1d_and_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    logits = rng.normal(size=50).astype(np.float32)
    labels = rng.integers(0, 2, 50)
    for per_image in (True, False):      # 1-D per_image: each pixel is an image (reference zip)
        tl = torch.tensor(logits, requires_grad=True)
        ref = torch_lovasz_hinge(tl, torch.tensor(labels), per_image)
        ref.backward()
        value, grad = fl.LovaszHinge(per_image=per_image).loss_gradient(labels, logits)
        assert grad.dtype == np.float32
        assert value == pytest.approx(ref.item(), rel=1e-5)
        np.testing.assert_allclose(grad, tl.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_lovasz_hinge_reductions_weights_and_errors():
    rng = np.random.default_rng(13)
    logits = rng.normal(size=(4, 5, 5))
    labels = rng.integers(0, 2, size=(4, 5, 5))
    w = np.array([0.5, 1.0, 2.0, 0.0])
    per = np.array([np_lovasz_hinge(logits[b:b + 1], labels[b:b + 1])[0] for b in range(4)])
    np.testing.assert_allclose(fl.lovasz_hinge(labels, logits, sample_weight=w, reduction="none"),
                               w * per, rtol=1e-12)
    assert fl.lovasz_hinge(labels, logits, sample_weight=w) == pytest.approx(
        np.sum(w * per) / w.sum(), rel=1e-12)
    assert fl.lovasz_hinge(labels, logits, sample_weight=w, reduction="sum") == pytest.approx(
        np.sum(w * per), rel=1e-12)
    labels_all_ignored = np.full(labels.shape, 9)
    v, g = fl.LovaszHinge(ignore_index=9).loss_gradient(labels_all_ignored, logits)
    assert v == 0.0 and not np.any(g)
    with pytest.raises(ValueError, match="y_true"):
        fl.lovasz_hinge(labels * 2, logits)
    with pytest.raises(ValueError, match="y_true"):
        fl.lovasz_hinge(labels[:2], logits)
    with pytest.raises(ValueError, match="sample_weight"):
        fl.lovasz_hinge(labels, logits, per_image=False, sample_weight=w)
    with pytest.raises(TypeError, match="ignore_index"):
        fl.LovaszHinge(ignore_index=1.5)


def test_lovasz_hinge_deterministic_across_threads():
    rng = np.random.default_rng(14)
    logits = rng.normal(size=(6, 80, 80)).astype(np.float32)
    labels = rng.integers(0, 2, size=logits.shape)
    for per_image in (True, False):
        loss = fl.LovaszHinge(per_image=per_image)
        with fl.num_threads(1):
            v1, g1 = loss.loss_gradient(labels, logits)
        with fl.num_threads(2):
            v2, g2 = loss.loss_gradient(labels, logits)
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)


# --------------------------------------------------------------- Jaccard / F1
def np_overlap(y, p, kind, class_axis=None, w=None, smooth=1e-10):
    """Per-class losses and the gradient of their sum."""
    y = np.asarray(y, np.float64)
    p = np.asarray(p, np.float64)
    ww = np.ones(y.shape[0]) if w is None else w
    wb = ww.reshape((-1,) + (1,) * (y.ndim - 1)) * np.ones_like(y)
    if class_axis is None:
        yc, pc, wc = y.reshape(1, -1), p.reshape(1, -1), wb.reshape(1, -1)
    else:
        yc = np.moveaxis(y, class_axis, 0).reshape(y.shape[class_axis], -1)
        pc = np.moveaxis(p, class_axis, 0).reshape(y.shape[class_axis], -1)
        wc = np.moveaxis(wb, class_axis, 0).reshape(y.shape[class_axis], -1)
    syp = (wc * yc * pc).sum(1)
    if kind == "jaccard":
        num = syp + smooth
        den = (wc * yc * yc).sum(1) + (wc * pc * pc).sum(1) - syp + smooth
        g = -(yc * den[:, None] - num[:, None] * (2 * pc - yc)) / den[:, None] ** 2
    else:
        num = 2 * syp + smooth
        den = (wc * yc).sum(1) + (wc * pc).sum(1) + smooth
        g = -(2 * yc * den[:, None] - num[:, None]) / den[:, None] ** 2
    g = g * wc
    if class_axis is None:
        g = g.reshape(y.shape)
    else:
        moved = np.moveaxis(y, class_axis, 0).shape
        g = np.moveaxis(g.reshape(moved), 0, class_axis)
    return 1 - num / den, g


OVERLAP = [(fl.JaccardLoss, "jaccard"), (fl.F1Loss, "f1")]


@pytest.mark.parametrize("cls,kind", OVERLAP)
@pytest.mark.parametrize("class_axis", [None, 0, 1, -1])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overlap_values_and_gradients(cls, kind, class_axis, reduction, weighted, dtype):
    rng = np.random.default_rng(20)
    y = (rng.random((4, 3, 5)) > 0.5).astype(dtype)
    p = rng.random((4, 3, 5)).astype(dtype)
    w = rng.random(4) + 0.1 if weighted else None
    losses, g = np_overlap(y, p, kind, class_axis, w)
    C = len(losses)
    loss = cls(class_axis=class_axis, reduction=reduction)
    value, grad = loss.loss_gradient(y, p, sample_weight=w)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype
    if reduction == "none":
        assert value.shape == (C,)
        np.testing.assert_allclose(value, losses, rtol=tol)
    elif reduction == "sum":
        assert value == pytest.approx(losses.sum(), rel=tol)
    else:
        assert value == pytest.approx(losses.mean(), rel=tol)
        g = g / C
    np.testing.assert_allclose(grad, g, rtol=tol, atol=tol * 1e-2)


@pytest.mark.parametrize("cls", [fl.JaccardLoss, fl.F1Loss])
def test_overlap_finite_differences(cls):
    rng = np.random.default_rng(21)
    y = rng.random((6, 4))
    p = rng.random((6, 4))
    w = rng.random(6)
    loss = cls(class_axis=1, smooth=1e-3)
    fd_check(lambda x: loss(y, x, sample_weight=w), p, loss.gradient(y, p, sample_weight=w), rng)


def test_overlap_empty_masks_and_sklearn():
    y = np.zeros((3, 4))
    assert fl.jaccard_loss(y, y) == 0.0
    assert fl.f1_loss(y, y) == 0.0
    v, g = fl.F1Loss().loss_gradient(y, y)
    assert np.all(np.isfinite(g))
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(22)
    yt = rng.integers(0, 2, 200)
    yp = rng.integers(0, 2, 200)
    assert 1 - fl.f1_loss(yt, yp.astype(float), smooth=0.0) == pytest.approx(
        sklearn_metrics.f1_score(yt, yp), rel=1e-12)
    assert 1 - fl.jaccard_loss(yt, yp.astype(float), smooth=0.0) == pytest.approx(
        sklearn_metrics.jaccard_score(yt, yp), rel=1e-12)


def test_dice_aliases():
    assert fl.DiceLoss is fl.F1Loss
    rng = np.random.default_rng(23)
    y, p = rng.random((5, 3)), rng.random((5, 3))
    assert fl.dice_loss(y, p, class_axis=1) == fl.f1_loss(y, p, class_axis=1)
    assert isinstance(fl.get("dice_loss"), fl.F1Loss)
    assert isinstance(fl.get("DiceLoss"), fl.F1Loss)
    assert isinstance(fl.get("jaccard_loss"), fl.JaccardLoss)


def test_overlap_bad_input():
    y = np.ones((3, 4))
    with pytest.raises(ValueError, match="class_axis"):
        fl.jaccard_loss(y, y, class_axis=2)
    with pytest.raises(ValueError, match="class_axis"):
        fl.jaccard_loss(y, y, class_axis=-3)
    with pytest.raises(TypeError, match="class_axis"):
        fl.JaccardLoss(class_axis=1.0)
    with pytest.raises(ValueError, match="smooth"):
        fl.F1Loss(smooth=-1)
    with pytest.raises(ValueError, match="shape"):
        fl.f1_loss(y, y[:, :2])
    with pytest.raises(ValueError, match="sample_weight"):
        fl.f1_loss(y, y, sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        fl.f1_loss(np.ones((0, 2)), np.ones((0, 2)))
    p = np.full((3, 4), np.nan)
    assert np.isnan(fl.jaccard_loss(y, p))


@pytest.mark.parametrize("cls", [fl.JaccardLoss, fl.F1Loss])
def test_overlap_deterministic_across_threads(cls):
    rng = np.random.default_rng(24)
    y = rng.random((64, 7, 300)).astype(np.float32)
    p = rng.random((64, 7, 300)).astype(np.float32)
    w = rng.random(64)
    for axis in (None, 1):
        loss = cls(class_axis=axis)
        with fl.num_threads(1):
            v1, g1 = loss.loss_gradient(y, p, sample_weight=w)
        with fl.num_threads(2):
            v2, g2 = loss.loss_gradient(y, p, sample_weight=w)
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lovasz_softmax_from_logits_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(30)
    z, labels = seg_data(rng, B=2, C=3, H=6, W=5, dtype=dtype, logits=True)
    tz = torch.tensor(z, requires_grad=True)
    ref = torch_lovasz_softmax(torch.softmax(tz, 1), torch.tensor(labels), "present", True)
    ref.backward()
    value, grad = fl.LovaszSoftmax(per_image=True, from_logits=True).loss_gradient(labels, z)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype
    assert value == pytest.approx(ref.item(), rel=tol)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=tol, atol=tol * 0.1)


# ------------------------------------------------- messages, limits, -inf, NaN
def _forms(cls, **params):
    """Every public way to evaluate a loss: (name, fun(y, p) -> (value, grad))."""
    loss = cls(**params)
    fn = {fl.LovaszSoftmax: fl.lovasz_softmax, fl.LovaszHinge: fl.lovasz_hinge}[cls]
    return {
        "call": lambda y, p: (loss(y, p), None),
        "loss": lambda y, p: (loss.loss(y, p), None),
        "gradient": lambda y, p: (None, loss.gradient(y, p)),
        "loss_gradient": lambda y, p: loss.loss_gradient(y, p),
        "function": lambda y, p: (fn(y, p, **params), None),
    }


FORMS = ["call", "loss", "gradient", "loss_gradient", "function"]


def _peak_bytes(fun):
    """Peak bytes traced while fun() ran (NumPy reports its buffers)."""
    import tracemalloc
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fun()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("cls", [fl.LovaszSoftmax, fl.LovaszHinge])
def test_lovasz_ragged_y_pred_names_y_pred(cls, form):
    f = _forms(cls)[form]
    with pytest.raises(ValueError, match="y_pred"):
        f([0, 1], [[0.5, 0.5], [1.0]])


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("layout", ["softmax_pc", "softmax_bchw", "hinge"])
def test_lovasz_over_2_31_elements_names_y_pred_without_copying(layout, form):
    """Too many elements for the kernel's 31-bit addresses: a ValueError naming
    y_pred, raised before y_pred or y_true is copied (stride-0 views here;
    a copy would be gigabytes)."""
    if layout == "softmax_pc":
        cls, P = fl.LovaszSoftmax, 2**31 // 2 + 1
        yp = np.broadcast_to(np.float32(0.5), (P, 2))
        yt = np.broadcast_to(np.int64(0), (P,))
    elif layout == "softmax_bchw":
        cls = fl.LovaszSoftmax
        yp = np.broadcast_to(np.float32(0.5), (1, 2, 2**15, 2**15))
        yt = np.broadcast_to(np.int64(0), (1, 2**15, 2**15))
    else:
        cls = fl.LovaszHinge
        yp = np.broadcast_to(np.float32(0.5), (2, 2**30))
        yt = np.broadcast_to(np.int64(1), (2, 2**30))
    assert yp.size > 2**31 - 1
    f = _forms(cls)[form]

    def run():
        with pytest.raises(ValueError, match="y_pred"):
            f(yt, yp)

    assert _peak_bytes(run) < 16 * 2**20


@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_softmax_masked_class_logits_finite(per_image):
    """A logit of -inf is a probability of exactly 0 (a masked class): loss
    and gradient finite and equal to the definition with p = 0 (also at a
    pixel whose own label is masked: its error is 1)."""
    rng = np.random.default_rng(30)
    z, labels = seg_data(rng, B=2, C=4, H=3, W=4, logits=True)
    labels = np.minimum(labels, 2)               # class 3: never a target
    z[:, 3] = -np.inf
    z[0, labels[0, 1, 2], 1, 2] = -np.inf        # one pixel's own label masked
    loss = fl.LovaszSoftmax(classes="all", per_image=per_image, from_logits=True)
    value, grad = loss.loss_gradient(labels, z)
    ref_value, ref_grad = np_lovasz_softmax(z, labels, "all", per_image, from_logits=True)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-14)
    assert np.all(grad[np.isinf(z)] == 0.0)


@pytest.mark.parametrize("form", FORMS)
def test_lovasz_softmax_all_masked_pixel_is_inf_never_nan(form):
    """A valid pixel of only -inf logits has no distribution: its label is
    masked, so the loss is +inf and the gradient 0, never NaN."""
    rng = np.random.default_rng(31)
    z, labels = seg_data(rng, B=2, C=3, H=3, W=3, logits=True)
    z[1, :, 2, 0] = -np.inf
    value, grad = _forms(fl.LovaszSoftmax, from_logits=True)[form](labels, z)
    if value is not None:
        assert value == np.inf
    if grad is not None:
        assert not np.any(np.isnan(grad)) and not np.any(grad)


def test_lovasz_softmax_all_masked_pixel_per_image():
    # only its image is +inf; the other image's loss and gradient are unchanged
    rng = np.random.default_rng(32)
    z, labels = seg_data(rng, B=2, C=3, H=3, W=3, logits=True)
    finite_z = z.copy()
    z[1, :, 2, 0] = -np.inf
    loss = fl.LovaszSoftmax(per_image=True, from_logits=True, reduction="none")
    per = loss(labels, z)
    assert per[1] == np.inf and per[0] == pytest.approx(loss(labels, finite_z)[0], rel=1e-14)
    mean = fl.LovaszSoftmax(per_image=True, from_logits=True)
    value, grad = mean.loss_gradient(labels, z)
    assert value == np.inf
    assert not np.any(np.isnan(grad)) and not np.any(grad[1])
    np.testing.assert_allclose(grad[0], mean.gradient(labels, finite_z)[0], rtol=1e-14)


@pytest.mark.parametrize("bad", [-np.inf, np.nan])
def test_lovasz_softmax_ignored_pixel_may_hold_anything(bad):
    rng = np.random.default_rng(33)
    z, labels = seg_data(rng, B=2, C=3, H=3, W=3, logits=True)
    labels[0, 1, 1] = 255
    ref = fl.LovaszSoftmax(ignore_index=255, from_logits=True).loss_gradient(labels, z)
    z[0, :, 1, 1] = bad
    value, grad = fl.LovaszSoftmax(ignore_index=255, from_logits=True).loss_gradient(labels, z)
    assert value == ref[0]
    assert np.all(grad[0, :, 1, 1] == 0.0)
    np.testing.assert_array_equal(grad, ref[1])


def test_lovasz_softmax_nan_logit_propagates():
    rng = np.random.default_rng(34)
    z, labels = seg_data(rng, B=2, C=3, H=3, W=3, logits=True)
    z[1, 2, 0, 1] = np.nan
    for per_image in (False, True):
        value, grad = fl.LovaszSoftmax(per_image=per_image, from_logits=True).loss_gradient(
            labels, z)
        assert np.isnan(value)
        assert np.any(np.isnan(grad))
    z[1, :, 0, 1] = [-np.inf, np.nan, -np.inf]   # NaN beside -inf: not a masked pixel
    assert np.isnan(fl.lovasz_softmax(labels, z, from_logits=True))
    probs, labels = seg_data(rng, B=1, C=3, H=2, W=2)
    probs[0, labels[0, 0, 0], 0, 0] = np.nan
    value, grad = fl.LovaszSoftmax().loss_gradient(labels, probs)
    assert np.isnan(value) and np.isnan(grad[0, labels[0, 0, 0], 0, 0])


@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_hinge_infinite_logits_inf_not_nan(per_image):
    """An infinite error (logit +inf on background, -inf on foreground) makes
    the loss +inf, never inf * 0 = NaN; the gradient stays finite."""
    x = np.array([[np.inf, np.inf, 0.3, -0.2], [0.5, -0.5, 1.0, -np.inf]])
    y = np.array([[0, 0, 0, 0], [1, 0, 1, 1]])       # image 0: no foreground
    value, grad = fl.LovaszHinge(per_image=per_image).loss_gradient(y, x)
    assert value == np.inf
    assert np.all(np.isfinite(grad))
    # the finite entries' gradient is the reference's (sort order fixed by the errors)
    xf = np.where(np.isinf(x), np.sign(x) * 1e6, x)
    _, ref_grad = np_lovasz_hinge(xf, y, per_image)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    x[0, 2] = np.nan
    assert np.isnan(fl.lovasz_hinge(y, x, per_image=per_image))
