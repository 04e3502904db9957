"""Elementwise losses: one generic driver, one closed form per loss.

A loss here is three small inline functions of a target ``y`` and a
prediction ``f`` (both float64 whatever the array dtype):

    <loss>_loss(y, f)              -> l
    <loss>_loss_grad(y, f, &g)     -> l, sharing its transcendental work with g
    <loss>_grad_hess(y, f, &g, &h)

plus a tag struct listed in the ``Kind`` fused type and one line in each of
the three dispatchers below.  Cython specialises the driver for every
(Kind, dtype) pair, so each loss gets its own fully inlined loop from one
source: nothing else is written per loss.

Rows: the arrays are seen as (n, k), row-major; a sample's loss is the mean of
its k element losses, weighted by w_i.  The driver returns Σ_i w_i l_i and
writes, when asked, d/df of ``scale * Σ_i w_i l_i`` (and its diagonal second
derivative) and the per-row values w_i l_i.
"""
from cython.parallel cimport prange
from libc.math cimport exp, log, log1p, fabs, copysign, M_LN2

from fastloss._kernels._common cimport (
    floating, BLOCK_ELEMENTS, MIN_PARALLEL_ELEMENTS, threads_for,
    rows_per_block, combine_blocks, log1pexp, sign_of)


cdef struct Params:
    # Every scalar parameter an elementwise loss may read; each uses its own.
    double delta        # Huber threshold
    double eps          # Poisson: log(f + eps)


# ---------------------------------------------------------------- closed forms
# Squared error: (y - f)^2
cdef inline double squared_error_loss(double y, double f) noexcept nogil:
    cdef double e = f - y
    return e * e

cdef inline double squared_error_loss_grad(double y, double f, double* g) noexcept nogil:
    cdef double e = f - y
    g[0] = 2.0 * e
    return e * e

cdef inline void squared_error_grad_hess(double y, double f, double* g, double* h) noexcept nogil:
    g[0] = 2.0 * (f - y)
    h[0] = 2.0


# Absolute error: |y - f|; gradient sign(f - y), 0 at ties; hessian 0.
cdef inline double absolute_error_loss(double y, double f) noexcept nogil:
    return fabs(f - y)

cdef inline double absolute_error_loss_grad(double y, double f, double* g) noexcept nogil:
    cdef double e = f - y
    g[0] = sign_of(e)
    return fabs(e)

cdef inline void absolute_error_grad_hess(double y, double f, double* g, double* h) noexcept nogil:
    g[0] = sign_of(f - y)
    h[0] = 0.0


# Huber: e^2/2 inside |e| <= delta, delta (|e| - delta/2) outside.
# Written without branches: with c = min(|e|, delta) both pieces are
# c (|e| - c/2) and the gradient is copysign(c, e); random data would
# otherwise mispredict every other element.  A NaN error keeps c = NaN.
cdef inline double huber_clip(double a, double delta) noexcept nogil:
    return delta if a > delta else a

cdef inline double huber_loss(double y, double f, double delta) noexcept nogil:
    cdef double a = fabs(f - y), c = huber_clip(a, delta)
    return c * (a - 0.5 * c)

cdef inline double huber_loss_grad(double y, double f, double delta, double* g) noexcept nogil:
    cdef double e = f - y, a = fabs(e), c = huber_clip(a, delta)
    g[0] = copysign(c, e)
    return c * (a - 0.5 * c)

cdef inline void huber_grad_hess(double y, double f, double delta, double* g, double* h) noexcept nogil:
    cdef double e = f - y, a = fabs(e)
    g[0] = copysign(huber_clip(a, delta), e)
    h[0] = 1.0 if a <= delta else 0.0


# Log-cosh: log cosh(e) = |e| + log1p(exp(-2|e|)) - log 2, finite for any e.
cdef inline double log_cosh_loss(double y, double f) noexcept nogil:
    cdef double a = fabs(f - y)
    return a + log1p(exp(-2.0 * a)) - M_LN2

cdef inline double log_cosh_loss_grad(double y, double f, double* g) noexcept nogil:
    # tanh(e) = sign(e) (1 - z) / (1 + z) with z = exp(-2|e|): one exp for both.
    cdef double e = f - y, a = fabs(e), z = exp(-2.0 * a)
    g[0] = sign_of(e) * (1.0 - z) / (1.0 + z)
    return a + log1p(z) - M_LN2

cdef inline void log_cosh_grad_hess(double y, double f, double* g, double* h) noexcept nogil:
    cdef double e = f - y, a = fabs(e), z = exp(-2.0 * a), t
    t = (1.0 - z) / (1.0 + z)
    g[0] = sign_of(e) * t
    # sech^2 = 4z / (1 + z)^2, exact where 1 - tanh^2 would cancel.
    h[0] = 4.0 * z / ((1.0 + z) * (1.0 + z))


# Poisson, rate input: f - y log(f + eps)  (Keras).
cdef inline double poisson_loss(double y, double f, double eps) noexcept nogil:
    return f - y * log(f + eps)

cdef inline double poisson_loss_grad(double y, double f, double eps, double* g) noexcept nogil:
    cdef double r = 1.0 / (f + eps)
    g[0] = 1.0 - y * r
    return f - y * log(f + eps)

cdef inline void poisson_grad_hess(double y, double f, double eps, double* g, double* h) noexcept nogil:
    cdef double r = 1.0 / (f + eps)
    g[0] = 1.0 - y * r
    h[0] = y * r * r


# Poisson, log-rate input: exp(f) - y f  (torch poisson_nll_loss, log_input=True).
cdef inline double poisson_log_loss(double y, double f) noexcept nogil:
    return exp(f) - y * f

cdef inline double poisson_log_loss_grad(double y, double f, double* g) noexcept nogil:
    cdef double m = exp(f)
    g[0] = m - y
    return m - y * f

cdef inline void poisson_log_grad_hess(double y, double f, double* g, double* h) noexcept nogil:
    cdef double m = exp(f)
    g[0] = m - y
    h[0] = m


# ------------------------------------------------------------------- dispatch
cdef struct SquaredError:
    char _
cdef struct AbsoluteError:
    char _
cdef struct Huber:
    char _
cdef struct LogCosh:
    char _
cdef struct Poisson:
    char _
cdef struct PoissonLog:
    char _

ctypedef fused Kind:
    SquaredError
    AbsoluteError
    Huber
    LogCosh
    Poisson
    PoissonLog

# Names the Python layer uses; the order is the switch in `_select`.
KINDS = ("squared_error", "absolute_error", "huber", "log_cosh", "poisson",
         "poisson_log")


cdef inline double _loss(const Kind* kind, const Params* p, double y, double f) noexcept nogil:
    if Kind is SquaredError:
        return squared_error_loss(y, f)
    elif Kind is AbsoluteError:
        return absolute_error_loss(y, f)
    elif Kind is Huber:
        return huber_loss(y, f, p.delta)
    elif Kind is LogCosh:
        return log_cosh_loss(y, f)
    elif Kind is Poisson:
        return poisson_loss(y, f, p.eps)
    elif Kind is PoissonLog:
        return poisson_log_loss(y, f)


cdef inline double _loss_grad(const Kind* kind, const Params* p, double y, double f,
                              double* g) noexcept nogil:
    if Kind is SquaredError:
        return squared_error_loss_grad(y, f, g)
    elif Kind is AbsoluteError:
        return absolute_error_loss_grad(y, f, g)
    elif Kind is Huber:
        return huber_loss_grad(y, f, p.delta, g)
    elif Kind is LogCosh:
        return log_cosh_loss_grad(y, f, g)
    elif Kind is Poisson:
        return poisson_loss_grad(y, f, p.eps, g)
    elif Kind is PoissonLog:
        return poisson_log_loss_grad(y, f, g)


cdef inline void _grad_hess(const Kind* kind, const Params* p, double y, double f,
                            double* g, double* h) noexcept nogil:
    if Kind is SquaredError:
        squared_error_grad_hess(y, f, g, h)
    elif Kind is AbsoluteError:
        absolute_error_grad_hess(y, f, g, h)
    elif Kind is Huber:
        huber_grad_hess(y, f, p.delta, g, h)
    elif Kind is LogCosh:
        log_cosh_grad_hess(y, f, g, h)
    elif Kind is Poisson:
        poisson_grad_hess(y, f, p.eps, g, h)
    elif Kind is PoissonLog:
        poisson_log_grad_hess(y, f, g, h)


# --------------------------------------------------------------------- driver
cdef enum Mode:
    LOSS = 0          # values only
    LOSS_GRAD = 1     # values and gradient
    GRAD = 2          # gradient only
    GRAD_HESS = 3     # gradient and hessian (no value)


cdef inline double _element(const Kind* kind, const Params* p,
                            const floating* y, const floating* f, Py_ssize_t e,
                            Mode mode, double gscale,
                            floating* grad, floating* hess) noexcept nogil:
    """Loss of element e; writes gscale * its derivatives as `mode` asks."""
    cdef double g = 0.0, h = 0.0, v = 0.0
    if mode == LOSS:
        v = _loss(kind, p, y[e], f[e])
    elif mode == LOSS_GRAD or mode == GRAD:
        v = _loss_grad(kind, p, y[e], f[e], &g)
        grad[e] = <floating>(gscale * g)
    else:
        _grad_hess(kind, p, y[e], f[e], &g, &h)
        grad[e] = <floating>(gscale * g)
        hess[e] = <floating>(gscale * h)
    return v


cdef inline double _flat_block(const Kind* kind, const Params* p,
                               const floating* y, const floating* f,
                               Py_ssize_t e0, Py_ssize_t e1, Mode mode,
                               double gscale, floating* grad, floating* hess) noexcept nogil:
    """Unweighted elements e0..e1: four running sums hide the add latency."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t e = e0
    while e + 4 <= e1:
        s0 += _element(kind, p, y, f, e, mode, gscale, grad, hess)
        s1 += _element(kind, p, y, f, e + 1, mode, gscale, grad, hess)
        s2 += _element(kind, p, y, f, e + 2, mode, gscale, grad, hess)
        s3 += _element(kind, p, y, f, e + 3, mode, gscale, grad, hess)
        e += 4
    while e < e1:
        s0 += _element(kind, p, y, f, e, mode, gscale, grad, hess)
        e += 1
    return (s0 + s1) + (s2 + s3)


cdef inline double _row_block(const Kind* kind, const Params* p,
                              const floating* y, const floating* f, const double* w,
                              Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k, Mode mode,
                              double scale, floating* grad, floating* hess,
                              floating* rows) noexcept nogil:
    """Rows r0..r1 with their weights (or per-row output): Σ w_i l_i."""
    cdef double total = 0.0, row, wi, inv_k = 1.0 / k
    cdef Py_ssize_t i
    for i in range(r0, r1):
        wi = 1.0 if w == NULL else w[i]
        row = _flat_block(kind, p, y, f, i * k, i * k + k, mode,
                          scale * wi * inv_k, grad, hess) * inv_k
        if rows != NULL:
            rows[i] = <floating>(wi * row)
        total += wi * row
    return total


cdef double _run(const Kind* kind, const Params* p,
                 const floating* y, const floating* f, const double* w,
                 Py_ssize_t n, Py_ssize_t k, Mode mode, double scale,
                 floating* grad, floating* hess, floating* rows,
                 double* block_sums, int nthreads) noexcept nogil:
    """Σ_i w_i l_i over n rows of k elements, blocks in parallel.

    Block b always covers the same rows, and the block sums are combined in
    block order, so the result is bit-identical for every thread count.
    """
    cdef Py_ssize_t rpb = rows_per_block(k)
    cdef Py_ssize_t nblocks = (n + rpb - 1) // rpb
    cdef Py_ssize_t b, r0, r1
    cdef bint flat = (w == NULL and rows == NULL)
    cdef int nt = threads_for(n * k, MIN_PARALLEL_ELEMENTS, nthreads)
    for b in prange(nblocks, schedule="static", num_threads=nt):
        r0 = b * rpb
        r1 = min(r0 + rpb, n)
        if flat:
            block_sums[b] = _flat_block(kind, p, y, f, r0 * k, r1 * k, mode,
                                        scale / k, grad, hess)
        else:
            block_sums[b] = _row_block(kind, p, y, f, w, r0, r1, k, mode,
                                       scale, grad, hess, rows)
    if flat:
        return combine_blocks(block_sums, nblocks) / k
    return combine_blocks(block_sums, nblocks)


def n_blocks(Py_ssize_t n, Py_ssize_t k):
    """Length of the block-sum buffer `pointwise` needs for n rows of k."""
    cdef Py_ssize_t rpb = rows_per_block(k)
    return (n + rpb - 1) // rpb


cdef double _select(int kind, const Params* p,
                    const floating* y, const floating* f, const double* w,
                    Py_ssize_t n, Py_ssize_t k, Mode mode, double scale,
                    floating* grad, floating* hess, floating* rows,
                    double* block_sums, int nthreads) noexcept nogil:
    if kind == 0:
        return _run(<SquaredError*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 1:
        return _run(<AbsoluteError*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 2:
        return _run(<Huber*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 3:
        return _run(<LogCosh*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 4:
        return _run(<Poisson*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 5:
        return _run(<PoissonLog*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    return 0.0


def pointwise(int kind, dict params,
              const floating[::1] y_true, const floating[::1] y_pred,
              const double[::1] sample_weight, Py_ssize_t n, Py_ssize_t k,
              int mode, double scale,
              floating[::1] grad, floating[::1] hess, floating[::1] rows,
              double[::1] block_sums, int nthreads):
    """Run elementwise loss `kind` (index into KINDS) over n rows of k.

    The arrays are flat and C-contiguous; sample_weight, grad, hess and rows
    may be None.  Sizes are checked by the Python layer and again here, so a
    wrong call raises instead of reading out of bounds.  Returns Σ w_i l_i.
    """
    cdef Params p
    p.delta = params.get("delta", 1.0)
    p.eps = params.get("eps", 1e-7)
    if kind < 0 or kind >= len(KINDS):
        raise ValueError(f"unknown elementwise kind {kind}")
    if mode < 0 or mode > 3:
        raise ValueError(f"unknown mode {mode}")
    if n < 1 or k < 1 or y_true.shape[0] != n * k or y_pred.shape[0] != n * k:
        raise ValueError("y_true/y_pred do not hold n * k elements")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("sample_weight must hold n entries")
    if mode != LOSS and (grad is None or grad.shape[0] != n * k):
        raise ValueError("grad must hold n * k elements")
    if mode == GRAD_HESS and (hess is None or hess.shape[0] != n * k):
        raise ValueError("hess must hold n * k elements")
    if rows is not None and rows.shape[0] != n:
        raise ValueError("rows must hold n entries")
    if block_sums.shape[0] < n_blocks(n, k):
        raise ValueError("block_sums is too short")
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    cdef floating* g = NULL if grad is None else &grad[0]
    cdef floating* h = NULL if hess is None else &hess[0]
    cdef floating* r = NULL if rows is None else &rows[0]
    cdef double total
    with nogil:
        total = _select(kind, &p, &y_true[0], &y_pred[0], w, n, k, <Mode>mode,
                        scale, g, h, r, &block_sums[0], nthreads)
    return total
