# Shared declarations for every kernel module: float types, block sizes, the
# deterministic block-sum combine, numerically stable scalar helpers and the
# thread-count rule.  Everything here is inline, so no module is imported at
# run time for it.
from libc.math cimport exp, log, log1p, fabs, expm1
cimport openmp

ctypedef fused floating:
    float
    double

cdef enum:
    # Elements summed by one block.  Fixed (not derived from the thread count),
    # so every loss is the same sum of the same partial sums on any thread count.
    BLOCK_ELEMENTS = 4096
    # Below this many elements a loop stays on one thread: waking a team costs
    # more than the few microseconds of work it would share.
    MIN_PARALLEL_ELEMENTS = 32768


cdef enum Mode:
    # What one kernel call computes; the Python layer's _MODES maps onto it.
    LOSS = 0          # values only
    LOSS_GRAD = 1     # values and gradient
    GRAD = 2          # gradient only
    GRAD_HESS = 3     # gradient and hessian (no value)


cdef inline int check_buffers(int mode, Py_ssize_t n, Py_ssize_t size,
                              Py_ssize_t n_weights, Py_ssize_t n_grad,
                              Py_ssize_t n_hess, Py_ssize_t n_rows,
                              Py_ssize_t n_block_sums,
                              Py_ssize_t blocks_needed) except -1:
    """Lengths of a kernel call's buffers (-1: not given) against n rows of
    `size` elements in all, so a wrong direct call raises instead of reading
    or writing out of bounds."""
    if mode < 0 or mode > 3:
        raise ValueError(f"unknown mode {mode}")
    if n_weights != -1 and n_weights != n:
        raise ValueError("sample_weight must hold n entries")
    if mode != LOSS and n_grad != size:
        raise ValueError(f"grad must hold {size} elements")
    if mode == GRAD_HESS and n_hess != size:
        raise ValueError(f"hess must hold {size} elements")
    if n_rows != -1 and n_rows != n:
        raise ValueError("rows must hold n entries")
    if n_block_sums < blocks_needed:
        raise ValueError("block_sums is too short")
    return 0


cdef inline double clip_prob(double f, double eps, bint* inside) noexcept nogil:
    """f clipped to [eps, 1 - eps]; `inside` says whether the clip is inactive
    (where it is active the clipped function is flat: gradient 0).  NaN falls
    through unclipped and propagates."""
    if f < eps:
        inside[0] = False
        return eps
    if f > 1.0 - eps:
        inside[0] = False
        return 1.0 - eps
    inside[0] = True
    return f


cdef inline int threads_for(Py_ssize_t work, Py_ssize_t min_parallel,
                            int requested) noexcept nogil:
    """Thread count for a loop over `work` elements; 1 when too small."""
    if work < min_parallel or requested <= 1:
        return 1
    return requested


cdef inline Py_ssize_t rows_per_block(Py_ssize_t k) noexcept nogil:
    """Rows in one block for rows of k elements (at least one row)."""
    if k >= BLOCK_ELEMENTS:
        return 1
    return BLOCK_ELEMENTS // k


cdef inline double combine_blocks(const double* block_sums,
                                  Py_ssize_t nblocks) noexcept nogil:
    """Sum the block sums in block order, with Neumaier compensation.

    The order never depends on threads; compensation keeps 10^4 block sums
    as accurate as one exact sum rounded once, for practical purposes.
    The compensation term is only meaningful while the running sum is
    finite: once it is +-inf or NaN (an infinite loss, or a sum that
    overflows) the plain sum is the answer, and adding the compensation
    would turn +inf into inf - inf = NaN.
    """
    cdef double total = 0.0, comp = 0.0, t, x
    cdef Py_ssize_t b
    for b in range(nblocks):
        x = block_sums[b]
        t = total + x
        if fabs(total) >= fabs(x):
            comp += (total - t) + x
        else:
            comp += (x - t) + total
        total = t
    if total - total != 0.0:        # +-inf or NaN: no finite correction applies
        return total
    return total + comp


cdef inline double log1pexp(double x) noexcept nogil:
    """log(1 + exp(x)) for any finite x, without overflow or cancellation."""
    if x > 0.0:
        return x + log1p(exp(-x))
    return log1p(exp(x))


cdef inline double sigmoid(double x) noexcept nogil:
    cdef double z
    if x >= 0.0:
        return 1.0 / (1.0 + exp(-x))
    z = exp(x)
    return z / (1.0 + z)


cdef inline double log_sigmoid(double x) noexcept nogil:
    return -log1pexp(-x)


cdef extern from "fl_scalar.h":
    # -1, 0 or 1 (+-0 at +-0; NaN stays NaN), without a branch.
    double sign_of "fl_sign"(double x) noexcept nogil
