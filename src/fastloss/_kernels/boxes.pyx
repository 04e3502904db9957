"""Box losses: GIoU, value and gradient of the four predicted coordinates in
one pass per box.

The closed form follows torchvision's ``generalized_box_iou_loss`` operation
for operation (same eps placement), in float64.  Its derivative is the one
torch autograd gives: ``max``/``min`` of two equal coordinates pass half of
the gradient to each side, the intersection is 0 (with zero gradient) unless
both of its sides are strictly positive.
"""
from cython.parallel cimport prange
from libc.stdint cimport int64_t

from fastloss._kernels._common cimport (
    floating, BLOCK_ELEMENTS, MIN_PARALLEL_ELEMENTS, threads_for, combine_blocks)


cdef inline double _dmax(double a, double b) noexcept nogil:
    """d max(a, b) / da as torch.maximum's backward: 1, 1/2 at a tie, 0."""
    if a > b:
        return 1.0
    if a == b:
        return 0.5
    return 0.0


cdef inline double giou_loss_grad(const double* t, const double* f, double eps,
                                  double* g) noexcept nogil:
    """1 - GIoU(f, t) for boxes (x1, y1, x2, y2); g (if not NULL) gets d/df."""
    cdef double x1 = f[0], y1 = f[1], x2 = f[2], y2 = f[3]
    cdef double a1 = t[0], b1 = t[1], a2 = t[2], b2 = t[3]
    cdef double ix1 = x1 if x1 > a1 else a1
    cdef double iy1 = y1 if y1 > b1 else b1
    cdef double ix2 = x2 if x2 < a2 else a2
    cdef double iy2 = y2 if y2 < b2 else b2
    cdef double iw = ix2 - ix1, ih = iy2 - iy1
    cdef bint overlap = (iy2 > iy1) and (ix2 > ix1)
    cdef double inter = iw * ih if overlap else 0.0
    cdef double w1 = x2 - x1, h1 = y2 - y1
    cdef double union = w1 * h1 + (a2 - a1) * (b2 - b1) - inter
    cdef double iou = inter / (union + eps)
    cdef double cx1 = x1 if x1 < a1 else a1
    cdef double cy1 = y1 if y1 < b1 else b1
    cdef double cx2 = x2 if x2 > a2 else a2
    cdef double cy2 = y2 if y2 > b2 else b2
    cdef double cw = cx2 - cx1, ch = cy2 - cy1
    cdef double area_c = cw * ch
    cdef double loss = 1.0 - (iou - ((area_c - union) / (area_c + eps)))
    cdef double ue, ce, dI, dU, dC, dIw, dIh
    if g == NULL:
        return loss
    ue = union + eps
    ce = area_c + eps
    # L = 1 - I/(U+eps) + (C - U)/(C+eps), U = A1 + A2 - I
    dU = inter / (ue * ue) - 1.0 / ce
    dI = -1.0 / ue - dU
    dC = ue / (ce * ce)
    # d area_1
    g[0] = -dU * h1
    g[2] = dU * h1
    g[1] = -dU * w1
    g[3] = dU * w1
    if overlap:
        dIw = dI * ih
        dIh = dI * iw
        # iw = min(x2, a2) - max(x1, a1)
        g[0] -= dIw * _dmax(x1, a1)
        g[2] += dIw * _dmax(a2, x2)
        g[1] -= dIh * _dmax(y1, b1)
        g[3] += dIh * _dmax(b2, y2)
    # cw = max(x2, a2) - min(x1, a1)
    g[0] -= dC * ch * _dmax(a1, x1)
    g[2] += dC * ch * _dmax(x2, a2)
    g[1] -= dC * cw * _dmax(b1, y1)
    g[3] += dC * cw * _dmax(y2, b2)
    return loss


cdef double _giou_block(const floating* yt, const floating* yp, const double* w,
                        Py_ssize_t r0, Py_ssize_t r1, double eps, double scale,
                        floating* grad, floating* rows) noexcept nogil:
    cdef double t[4]
    cdef double f[4]
    cdef double g[4]
    cdef double total = 0.0, l, wi
    cdef Py_ssize_t i, j
    for i in range(r0, r1):
        for j in range(4):
            t[j] = yt[4 * i + j]
            f[j] = yp[4 * i + j]
        wi = 1.0 if w == NULL else w[i]
        if grad != NULL:
            l = giou_loss_grad(t, f, eps, g)
            for j in range(4):
                grad[4 * i + j] = <floating>(scale * wi * g[j])
        else:
            l = giou_loss_grad(t, f, eps, NULL)
        if rows != NULL:
            rows[i] = <floating>(wi * l)
        total += wi * l
    return total


def giou(const floating[::1] y_true, const floating[::1] y_pred, const double[::1] sample_weight,
         Py_ssize_t n, double eps, double scale, floating[::1] grad, floating[::1] rows,
         int nthreads):
    """Σ_i w_i (1 - GIoU_i) over n boxes (flat (n*4,) arrays).

    grad (optional) gets scale * w_i * d l_i / d y_pred; rows (optional) w_i l_i.
    """
    if n < 1 or y_true.shape[0] != 4 * n or y_pred.shape[0] != 4 * n:
        raise ValueError("giou: arrays must hold n * 4 values")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("giou: sample_weight must hold n entries")
    if grad is not None and grad.shape[0] != 4 * n:
        raise ValueError("giou: grad has the wrong size")
    if rows is not None and rows.shape[0] != n:
        raise ValueError("giou: rows must hold n entries")
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
    with nogil:
        for b in prange(nb, schedule="static", num_threads=nt):
            r0 = b * rpb
            sums[b] = _giou_block(&y_true[0], &y_pred[0], w, r0, min(r0 + rpb, n),
                                  eps, scale, g, r)
        total = combine_blocks(&sums[0], nb)
    return total


def invalid_boxes(const floating[::1] boxes, Py_ssize_t n):
    """Index of the first box with x2 < x1 or y2 < y1, or -1 (NaN passes)."""
    cdef Py_ssize_t i
    for i in range(n):
        if boxes[4 * i + 2] < boxes[4 * i] or boxes[4 * i + 3] < boxes[4 * i + 1]:
            return i
    return -1
