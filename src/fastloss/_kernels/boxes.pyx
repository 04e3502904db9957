"""Box losses: GIoU, DIoU, CIoU; value and gradient of the four predicted
coordinates in one pass per box, boxes in any of torchvision's formats.

One blocked, threaded, deterministic driver (``boxes``) serves every box
loss: a loss is one ``box_loss_t`` formula on ``(x1, y1, x2, y2)`` boxes
(its value, and its gradient with respect to the predicted corners),
registered in ``KINDS`` / ``_FORMULAS``.  The driver converts each box from
the caller's format on the fly (no converted copy of the arrays) and chains
the corner gradient back to that format.

The closed forms follow torchvision's ``generalized_box_iou_loss``,
``distance_box_iou_loss`` and ``complete_box_iou_loss`` operation for
operation (same eps placement), in float64.  Their derivative is the one
torch autograd gives: ``max``/``min`` of two equal coordinates pass half of
the gradient to each side, the intersection is 0 (with zero gradient) unless
both of its sides are strictly positive, and CIoU's trade-off α is a
constant (torchvision computes it under ``no_grad``).  Where torchvision
divides 0 by 0 (CIoU's ``atan(w / h)`` of a box with w = h = 0) the limit
used is stated at the formula.
"""
from cython.parallel cimport prange
from libc.math cimport atan, M_PI, INFINITY
from cython.parallel cimport threadid
from fastloss._kernels._runtime cimport team, team_done

from fastloss._kernels._common cimport (
    floating, BLOCK_ELEMENTS, MIN_PARALLEL_ELEMENTS, threads_for, combine_blocks,
    fl_ndarray_head, plain_array, same_shape, head_layout_ok)
from fastloss._kernels cimport simd
from fastloss._kernels.simd cimport fl_kernels

# GIoU's vector form (simd/boxes.c), through the process's one kernel table
# (the pointer stays valid when the path changes; NULL entries on the scalar
# path, where the closed forms run)
cdef extern from "simd/kernels.h" nogil:
    ctypedef double (*fl_box_f32)(const float*, const float*, const double*, Py_ssize_t,
                                  int, double, double, float*, float*) noexcept nogil
    ctypedef double (*fl_box_f64)(const double*, const double*, const double*, Py_ssize_t,
                                  int, double, double, double*, double*) noexcept nogil
    fl_box_f32 fl_giou_entry_f(const fl_kernels*)
    fl_box_f64 fl_giou_entry_d(const fl_kernels*)

cdef const fl_kernels* KT = simd.kernels()

# the order is the ``kind`` index the Python layer passes
KINDS = ("giou", "diou", "ciou")
# torchvision.ops.box_convert names; the order is the ``fmt`` index
FORMATS = ("xyxy", "xywh", "cxcywh")

ctypedef double (*box_loss_t)(const double* t, const double* f, double eps,
                              double* g) noexcept nogil


cdef inline double _dmax(double a, double b) noexcept nogil:
    """d max(a, b) / da as torch.maximum's backward: 1, 1/2 at a tie, 0
    (0 with a NaN).  Integer arithmetic on the comparisons, which gcc turns
    into setcc rather than branches (it branches on ``(a > b) + 0.5 (a == b)``
    in doubles): for real boxes which side wins is a coin toss, and
    mispredicted branches cost more than the rest of the gradient."""
    return 0.5 * <double>(<int>(a >= b) + <int>(a > b))


# -- shared geometry ---------------------------------------------------------
cdef struct Overlap:
    double inter, union, ue, iou, iw, ih, w1, h1
    bint overlap


cdef inline void _overlap(const double* t, const double* f, double eps,
                          Overlap* o) noexcept nogil:
    """Intersection, union and IoU = I / (U + eps) of boxes f and t, as
    torchvision's ``_loss_inter_union`` (I = 0 unless both sides > 0)."""
    cdef double ix1 = f[0] if f[0] > t[0] else t[0]
    cdef double iy1 = f[1] if f[1] > t[1] else t[1]
    cdef double ix2 = f[2] if f[2] < t[2] else t[2]
    cdef double iy2 = f[3] if f[3] < t[3] else t[3]
    o.iw = ix2 - ix1
    o.ih = iy2 - iy1
    o.overlap = (iy2 > iy1) & (ix2 > ix1)
    o.inter = o.iw * o.ih if o.overlap else 0.0
    o.w1 = f[2] - f[0]
    o.h1 = f[3] - f[1]
    o.union = o.w1 * o.h1 + (t[2] - t[0]) * (t[3] - t[1]) - o.inter
    o.ue = o.union + eps
    o.iou = o.inter / o.ue


cdef inline void _overlap_grad(const double* t, const double* f, const Overlap* o,
                               double dU, double dI, double* g) noexcept nogil:
    """g = dL/df for L depending on f through U and I (partials dU, dI;
    U = A(f) + A(t) - I is counted here, so dI is the partial at fixed U)."""
    cdef double dIt = dI - dU
    # times the 0/1 flag, not a branch (overlap or not is unpredictable): an
    # empty intersection passes 0 (its finite sides; with infinite
    # coordinates the loss is not finite anyway)
    cdef double ov = <double>o.overlap
    cdef double dIw = dIt * o.ih * ov
    cdef double dIh = dIt * o.iw * ov
    g[0] = -dU * o.h1
    g[2] = dU * o.h1
    g[1] = -dU * o.w1
    g[3] = dU * o.w1
    # iw = min(x2, a2) - max(x1, a1)
    g[0] -= dIw * _dmax(f[0], t[0])
    g[2] += dIw * _dmax(t[2], f[2])
    g[1] -= dIh * _dmax(f[1], t[1])
    g[3] += dIh * _dmax(t[3], f[3])


cdef inline void _enclosing(const double* t, const double* f, double* cw,
                            double* ch) noexcept nogil:
    """Width and height of the smallest box enclosing f and t."""
    cdef double cx1 = f[0] if f[0] < t[0] else t[0]
    cdef double cy1 = f[1] if f[1] < t[1] else t[1]
    cdef double cx2 = f[2] if f[2] > t[2] else t[2]
    cdef double cy2 = f[3] if f[3] > t[3] else t[3]
    cw[0] = cx2 - cx1
    ch[0] = cy2 - cy1


cdef inline void _enclosing_grad(const double* t, const double* f, double dcw,
                                 double dch, double* g) noexcept nogil:
    """g += dL/df through cw = max(x2, a2) - min(x1, a1) (and ch alike)."""
    g[0] -= dcw * _dmax(t[0], f[0])
    g[2] += dcw * _dmax(f[2], t[2])
    g[1] -= dch * _dmax(t[1], f[1])
    g[3] += dch * _dmax(f[3], t[3])


cdef inline double _centre_distance(const double* t, const double* f, double eps,
                                    double* g) noexcept nogil:
    """DIoU's penalty ρ² / c², c² = (enclosing diagonal)² + eps; g += its
    gradient when g is not NULL."""
    cdef double cw, ch, c2, dx, dy, rho2, k, rc
    _enclosing(t, f, &cw, &ch)
    c2 = cw * cw + ch * ch + eps
    dx = (f[2] + f[0]) / 2.0 - (t[0] + t[2]) / 2.0
    dy = (f[3] + f[1]) / 2.0 - (t[1] + t[3]) / 2.0
    rho2 = dx * dx + dy * dy
    if g != NULL:
        # one division for the gradient (the value keeps torchvision's)
        rc = 1.0 / c2
        # d(ρ²)/dx1 = d(ρ²)/dx2 = 2 dx · 1/2
        g[0] += dx * rc
        g[2] += dx * rc
        g[1] += dy * rc
        g[3] += dy * rc
        k = -2.0 * rho2 * rc * rc
        _enclosing_grad(t, f, k * cw, k * ch, g)
    return rho2 / c2


cdef inline double _aspect(double w, double h) noexcept nogil:
    """atan(w / h) for w, h >= 0, torchvision's CIoU term; a box with h = 0
    gets the limit π/2 (w > 0) or 0 (a point box, where torchvision's 0/0
    is NaN).  NaN propagates."""
    if h > 0.0:
        return atan(w / h)
    if h == 0.0:
        if w > 0.0:
            return M_PI / 2.0
        if w == 0.0:
            return 0.0
    return w + h


cdef inline double _aspect_gap(double wt, double ht, double wf, double hf) noexcept nogil:
    """_aspect(wt, ht) - _aspect(wf, hf) with one atan instead of two: for
    sizes >= 0, atan a - atan b = atan((a - b) / (1 + ab)) (no branch
    correction: the difference lies in (-π/2, π/2)), i.e.
    atan((wt hf - wf ht) / (ht hf + wt wf)), which also covers h = 0.  A
    zero (point boxes, a flat box against a thin one), infinite or NaN
    denominator takes the two-atan path."""
    cdef double den = ht * hf + wt * wf
    if den > 0.0 and den < INFINITY:
        return atan((wt * hf - wf * ht) / den)
    return _aspect(wt, ht) - _aspect(wf, hf)


# -- the formulas (one per loss) ----------------------------------------------
cdef double giou_formula(const double* t, const double* f, double eps,
                         double* g) noexcept nogil:
    """1 - I/(U+eps) + (C - U)/(C+eps), C the enclosing area."""
    cdef Overlap o
    cdef double cw, ch, area_c, r, rc, dU, dC, loss
    _overlap(t, f, eps, &o)
    _enclosing(t, f, &cw, &ch)
    area_c = cw * ch
    loss = 1.0 - (o.iou - ((area_c - o.union) / (area_c + eps)))
    if g == NULL:
        return loss
    # two divisions for the gradient (the value keeps torchvision's)
    r = 1.0 / o.ue
    rc = 1.0 / (area_c + eps)
    dU = o.inter * r * r - rc
    dC = o.ue * rc * rc
    _overlap_grad(t, f, &o, dU, -r, g)
    _enclosing_grad(t, f, dC * ch, dC * cw, g)
    return loss


cdef double diou_formula(const double* t, const double* f, double eps,
                         double* g) noexcept nogil:
    """1 - I/(U+eps) + ρ²/(c² + eps), ρ the distance of the centres, c the
    diagonal of the enclosing box."""
    cdef Overlap o
    cdef double r
    _overlap(t, f, eps, &o)
    if g != NULL:
        r = 1.0 / o.ue
        _overlap_grad(t, f, &o, o.inter * r * r, -r, g)
    return 1.0 - o.iou + _centre_distance(t, f, eps, g)


cdef double ciou_formula(const double* t, const double* f, double eps,
                         double* g) noexcept nogil:
    """DIoU + α v, v = 4/π² (atan(w_t/h_t) - atan(w_f/h_f))², α = v /
    (1 - IoU + v + eps) held constant in the gradient (0 where v = 0, also
    when eps = 0 makes torchvision's 0/0 NaN for identical boxes)."""
    cdef Overlap o
    cdef double wf, hf, d, v, alpha, r2, dv, loss, r
    _overlap(t, f, eps, &o)
    wf = o.w1
    hf = o.h1
    d = _aspect_gap(t[2] - t[0], t[3] - t[1], wf, hf)
    v = (4.0 / (M_PI * M_PI)) * (d * d)
    alpha = 0.0 if v == 0.0 else v / (1.0 - o.iou + v + eps)
    if g != NULL:
        r = 1.0 / o.ue
        _overlap_grad(t, f, &o, o.inter * r * r, -r, g)
    loss = 1.0 - o.iou + _centre_distance(t, f, eps, g) + alpha * v
    if g != NULL:
        # dv/dw_f = -2 (4/π²) d h/(w² + h²), dv/dh_f = +2 (4/π²) d w/(w² + h²)
        # (atan2's derivative: finite at h = 0; 0 for a point box)
        r2 = wf * wf + hf * hf
        if r2 > 0.0:
            dv = alpha * 2.0 * (4.0 / (M_PI * M_PI)) * d / r2
            g[0] += dv * hf
            g[2] -= dv * hf
            g[1] -= dv * wf
            g[3] += dv * wf
    return loss


cdef box_loss_t _FORMULAS[3]
_FORMULAS[0] = giou_formula
_FORMULAS[1] = diou_formula
_FORMULAS[2] = ciou_formula


# -- formats -----------------------------------------------------------------
cdef inline void _to_xyxy(int fmt, const floating* src, double* b) noexcept nogil:
    """One box in `fmt` as (x1, y1, x2, y2) in float64 (torchvision's
    box_convert: x2 = x + w; x1 = cx - w/2, x2 = cx + w/2)."""
    cdef double a0 = src[0], a1 = src[1], a2 = src[2], a3 = src[3]
    if fmt == 0:
        b[0] = a0
        b[1] = a1
        b[2] = a2
        b[3] = a3
    elif fmt == 1:
        b[0] = a0
        b[1] = a1
        b[2] = a0 + a2
        b[3] = a1 + a3
    else:
        b[0] = a0 - 0.5 * a2
        b[1] = a1 - 0.5 * a3
        b[2] = a0 + 0.5 * a2
        b[3] = a1 + 0.5 * a3


cdef inline void _from_xyxy_grad(int fmt, double* g) noexcept nogil:
    """Chain dL/d(x1, y1, x2, y2) (in place) into dL/d(the box in `fmt`)."""
    cdef double g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3]
    if fmt == 1:
        g[0] = g0 + g2
        g[1] = g1 + g3
    elif fmt == 2:
        g[0] = g0 + g2
        g[1] = g1 + g3
        g[2] = 0.5 * (g2 - g0)
        g[3] = 0.5 * (g3 - g1)


# -- the one driver -------------------------------------------------------------
cdef double _block(box_loss_t formula, int fmt, const floating* yt, const floating* yp,
                   const double* w, Py_ssize_t r0, Py_ssize_t r1, double eps, double scale,
                   floating* grad, floating* rows) noexcept nogil:
    cdef double t[4]
    cdef double f[4]
    cdef double g[4]
    cdef double total = 0.0, l, wi, s
    cdef Py_ssize_t i, j
    cdef fl_box_f32 vf
    cdef fl_box_f64 vd
    # GIoU's vector form, where the path has one: the same operations in
    # float64 lanes, so every box gets the closed form's bits (simd/boxes.c)
    if formula == giou_formula:
        if floating is float:
            vf = fl_giou_entry_f(KT)
            if vf != NULL:
                return vf(yt + 4 * r0, yp + 4 * r0, NULL if w == NULL else w + r0, r1 - r0,
                          fmt, eps, scale, NULL if grad == NULL else grad + 4 * r0,
                          NULL if rows == NULL else rows + r0)
        else:
            vd = fl_giou_entry_d(KT)
            if vd != NULL:
                return vd(yt + 4 * r0, yp + 4 * r0, NULL if w == NULL else w + r0, r1 - r0,
                          fmt, eps, scale, NULL if grad == NULL else grad + 4 * r0,
                          NULL if rows == NULL else rows + r0)
    for i in range(r0, r1):
        _to_xyxy(fmt, yt + 4 * i, t)
        _to_xyxy(fmt, yp + 4 * i, f)
        wi = 1.0 if w == NULL else w[i]
        if grad != NULL:
            l = formula(t, f, eps, g)
            _from_xyxy_grad(fmt, g)
            s = scale * wi
            for j in range(4):
                grad[4 * i + j] = <floating>(s * g[j])
        else:
            l = formula(t, f, eps, NULL)
        if rows != NULL:
            rows[i] = <floating>(wi * l)
        total += wi * l
    return total


def boxes(int kind, int fmt, const floating[::1] y_true, const floating[::1] y_pred,
          const double[::1] sample_weight, Py_ssize_t n, double eps, double scale,
          floating[::1] grad, floating[::1] rows, int nthreads):
    """Σ_i w_i l_i over n boxes (flat (n*4,) arrays in format FORMATS[fmt])
    for the loss KINDS[kind].

    grad (optional) gets scale * w_i * d l_i / d y_pred (in that format);
    rows (optional) w_i l_i.  Blocks of fixed size, summed in block order:
    the result does not depend on the thread count.
    """
    if not 0 <= kind < len(KINDS):
        raise ValueError(f"boxes: unknown kind {kind}")
    if not 0 <= fmt < len(FORMATS):
        raise ValueError(f"boxes: unknown format {fmt}")
    if n < 1 or y_true.shape[0] != 4 * n or y_pred.shape[0] != 4 * n:
        raise ValueError("boxes: arrays must hold n * 4 values")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("boxes: sample_weight must hold n entries")
    if grad is not None and grad.shape[0] != 4 * n:
        raise ValueError("boxes: grad has the wrong size")
    if rows is not None and rows.shape[0] != n:
        raise ValueError("boxes: rows must hold n entries")
    cdef box_loss_t formula = _FORMULAS[kind]
    cdef Py_ssize_t rpb = BLOCK_ELEMENTS // 4
    cdef Py_ssize_t nb = (n + rpb - 1) // rpb, b, r0
    cdef int nt = threads_for(4 * n, MIN_PARALLEL_ELEMENTS, nthreads)
    import numpy as np
    sums_arr = np.empty(nb, dtype=np.float64)
    cdef double[::1] sums = sums_arr
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    cdef floating* g = NULL if grad is None else &grad[0]
    cdef floating* r = NULL if rows is None else &rows[0]
    cdef double total
    cdef Py_ssize_t by_master
    with nogil:
        nt = team(nt, nb)
        by_master = 0
        for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
            by_master += threadid() == 0
            r0 = b * rpb
            sums[b] = _block(formula, fmt, &y_true[0], &y_pred[0], w, r0,
                             min(r0 + rpb, n), eps, scale, g, r)
        team_done(nt, nb, by_master)
        total = combine_blocks(&sums[0], nb)
    return total


# ------------------------------------------- the common call, checked once
import numpy as _np

cdef object _ndarray = _np.ndarray
cdef object _F64 = _np.dtype(_np.float64)
cdef object _F32 = _np.dtype(_np.float32)
cdef object _empty = _np.empty
# The array fields the fast path reads agree with this NumPy (see _common).
cdef bint _HEAD_OK = head_layout_ok(_np)
# Below this many values a call keeps the GIL (releasing it costs more).
cdef Py_ssize_t _KEEP_GIL = 4096

# What Record takes for a loss's reduction.
REDUCTION_CODES = {"mean": 0, "sum": 1, "none": 2, "sum_over_batch_size": 3}


cdef class Record:
    """One box loss's kernel call with its parameters decoded once.

    ``rec(y_true, y_pred, mode)`` (mode 0: value, 1: value and gradient,
    2: gradient) runs the common small call -- y_true and y_pred exact
    ``numpy.ndarray``s (n, 4), 1 <= n and 4 n below the parallel threshold,
    C-contiguous, aligned, of NumPy's own native float64 or float32
    descriptor, one dtype for both, every box valid in the format; no
    sample_weight, no out= (the caller's part) -- on one thread, and returns
    (value, gradient, None), bit for bit what ``boxes`` gives through
    ``_base.KernelOutputs`` (the same blocks, summed in the same order).
    Anything else returns None and the caller takes the checked path.
    """
    cdef readonly int kind
    cdef readonly int fmt
    cdef readonly double eps
    cdef readonly int reduction

    def __call__(self, y_true, y_pred, int mode):
        return _fast(self, y_true, y_pred, mode)

    def __reduce__(self):
        raise TypeError("a boxes.Record is per process; pickle the loss instead")


def record(int kind, int fmt, double eps, str reduction):
    """The Record of box loss KINDS[kind] in format FORMATS[fmt]."""
    if not 0 <= kind < len(KINDS):
        raise ValueError(f"boxes: unknown kind {kind}")
    if not 0 <= fmt < len(FORMATS):
        raise ValueError(f"boxes: unknown format {fmt}")
    if reduction not in REDUCTION_CODES:
        raise ValueError(f"unknown reduction {reduction!r}")
    cdef Record rec = Record.__new__(Record)
    rec.kind, rec.fmt, rec.eps = kind, fmt, eps
    rec.reduction = REDUCTION_CODES[reduction]
    return rec


cdef double _serial(box_loss_t formula, int fmt, const floating* yt, const floating* yp,
                    Py_ssize_t n, double eps, double scale, floating* grad,
                    floating* rows) noexcept nogil:
    """`boxes`'s blocks and their ordered sum, on the calling thread (a
    call below the parallel threshold has at most 8 blocks)."""
    cdef double sums[8]
    cdef Py_ssize_t rpb = BLOCK_ELEMENTS // 4
    cdef Py_ssize_t nb = (n + rpb - 1) // rpb, b, r0
    for b in range(nb):
        r0 = b * rpb
        sums[b] = _block(formula, fmt, yt, yp, NULL, r0, min(r0 + rpb, n), eps, scale,
                         grad, rows)
    return combine_blocks(sums, nb)


cdef inline double _serial_typed(bint f32, box_loss_t formula, int fmt, const char* yt,
                                 const char* yp, Py_ssize_t n, double eps, double scale,
                                 void* g, void* r) noexcept nogil:
    if f32:
        return _serial(formula, fmt, <const float*>yt, <const float*>yp, n, eps, scale,
                       <float*>g, <float*>r)
    return _serial(formula, fmt, <const double*>yt, <const double*>yp, n, eps, scale,
                   <double*>g, <double*>r)


cdef object _fast(Record rec, y_true, y_pred, int mode):
    if not _HEAD_OK or mode < 0 or mode > 2:
        return None
    cdef object dtype = _F64
    cdef fl_ndarray_head* hp = plain_array(y_pred, _ndarray, _F64)
    if hp == NULL:
        dtype = _F32
        hp = plain_array(y_pred, _ndarray, _F32)
        if hp == NULL:
            return None
    cdef fl_ndarray_head* ht = plain_array(y_true, _ndarray, dtype)
    if ht == NULL or hp.nd != 2 or hp.dimensions[1] != 4 or not same_shape(ht, hp):
        return None
    cdef Py_ssize_t n = hp.dimensions[0]
    if n < 1 or 4 * n >= MIN_PARALLEL_ELEMENTS or 8 * (BLOCK_ELEMENTS // 4) < n:
        return None
    cdef bint f32 = dtype is _F32
    if f32:
        if (_first_invalid(<const float*>ht.data, n, rec.fmt) >= 0
                or _first_invalid(<const float*>hp.data, n, rec.fmt) >= 0):
            return None                  # the checked path names the box
    elif (_first_invalid(<const double*>ht.data, n, rec.fmt) >= 0
            or _first_invalid(<const double*>hp.data, n, rec.fmt) >= 0):
        return None
    cdef double scale = 1.0
    if rec.reduction == 0 or rec.reduction == 3:
        scale = 1.0 / <double>n          # the divisor: Σw = n, or n boxes
    grad = rows = None
    if mode != 0:
        grad = _empty(y_pred.shape, dtype)
    if rec.reduction == 2 and mode != 2:
        rows = _empty(n, dtype)
    cdef void* g = NULL if grad is None else (<fl_ndarray_head*><void*>grad).data
    cdef void* r = NULL if rows is None else (<fl_ndarray_head*><void*>rows).data
    cdef box_loss_t formula = _FORMULAS[rec.kind]
    cdef double total
    if 4 * n >= _KEEP_GIL:
        with nogil:
            total = _serial_typed(f32, formula, rec.fmt, ht.data, hp.data, n, rec.eps,
                                  scale, g, r)
    else:
        total = _serial_typed(f32, formula, rec.fmt, ht.data, hp.data, n, rec.eps, scale,
                              g, r)
    value = None
    if mode != 2:
        if rec.reduction == 2:
            value = rows
        elif rec.reduction == 1:
            value = total
        else:
            value = total * scale
    return value, grad, None


cdef Py_ssize_t _first_invalid(const floating* b, Py_ssize_t n, int fmt) noexcept nogil:
    """Chunks of 256 boxes OR their compares without a branch per box (gcc
    vectorises the loop; the early-exit loop ran at ~1 ns a box, a third of
    GIoU's vector kernel twice over); a chunk with a bad box is scanned
    again for its first one."""
    cdef Py_ssize_t i, c, end
    cdef int bad
    for c in range(0, n, 256):
        end = c + 256 if c + 256 < n else n
        bad = 0
        if fmt == 0:
            for i in range(c, end):
                bad |= (b[4 * i + 2] < b[4 * i]) | (b[4 * i + 3] < b[4 * i + 1])
        else:
            for i in range(c, end):
                bad |= (b[4 * i + 2] < 0) | (b[4 * i + 3] < 0)
        if bad:
            for i in range(c, end):
                if fmt == 0:
                    if b[4 * i + 2] < b[4 * i] or b[4 * i + 3] < b[4 * i + 1]:
                        return i
                elif b[4 * i + 2] < 0 or b[4 * i + 3] < 0:
                    return i
    return -1


def invalid_boxes(const floating[::1] boxes, Py_ssize_t n, int fmt=0):
    """Index of the first box with a negative width or height in format
    FORMATS[fmt] (x2 < x1 or y2 < y1 for xyxy; w < 0 or h < 0 otherwise),
    or -1.  NaN passes (it propagates to the result)."""
    cdef Py_ssize_t bad
    if not 0 <= fmt < len(FORMATS):
        raise ValueError(f"invalid_boxes: unknown format {fmt}")
    if n < 0 or boxes.shape[0] < 4 * n:
        raise ValueError("invalid_boxes: boxes must hold n * 4 values")
    if n == 0:
        return -1
    with nogil:
        bad = _first_invalid(&boxes[0], n, fmt)
    return bad
