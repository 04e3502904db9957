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


# ------------------------------------------------ the entries' fast path
# The common call -- an exact numpy.ndarray, C-contiguous and aligned, whose
# dtype is NumPy's own float64/float32 (or int64) descriptor -- is recognised
# by reading the array object's first fields directly: the buffer protocol
# would build a format string for every fresh array (~0.3 µs each) and a
# typed memoryview allocates an object besides.  These fields are NumPy's
# PyArrayObject_fields (numpy/ndarraytypes.h), unchanged since NumPy 1.0 and
# kept by NumPy 2; the build has no NumPy headers, so they are spelled here,
# and every module using them checks them against NumPy's own view of a few
# arrays at import (`head_layout_ok`) and never takes the fast path if they
# disagree.  The dtype test is pointer identity with NumPy's descriptor
# singletons (native byte order by construction): any other descriptor --
# byte-swapped, a structured or subclassed dtype, an equal but distinct
# object -- simply takes the checked path.
cdef extern from *:
    """
    typedef struct {
        PyObject_HEAD
        char *data;
        int nd;
        Py_ssize_t *dimensions;
        Py_ssize_t *strides;
        PyObject *base;
        PyObject *descr;
        int flags;
    } fl_ndarray_head;
    """
    ctypedef struct fl_ndarray_head:
        char* data
        int nd
        Py_ssize_t* dimensions
        Py_ssize_t* strides
        void* descr
        int flags

cdef enum:
    # NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED (ABI constants)
    FL_C_ALIGNED = 0x0001 | 0x0100


cdef inline fl_ndarray_head* plain_array(object x, object ndarray, object dtype):
    """x's fields when x is exactly `ndarray`, C-contiguous, aligned and of
    descriptor `dtype`; NULL otherwise (the caller then takes the checked
    path)."""
    if type(x) is not ndarray:
        return NULL
    cdef fl_ndarray_head* h = <fl_ndarray_head*><void*>x
    if (h.flags & FL_C_ALIGNED) != FL_C_ALIGNED or h.descr != <void*>dtype:
        return NULL
    return h


cdef inline bint same_shape(const fl_ndarray_head* a, const fl_ndarray_head* b) noexcept:
    cdef int d
    if a.nd != b.nd:
        return False
    for d in range(a.nd):
        if a.dimensions[d] != b.dimensions[d]:
            return False
    return True


cdef inline Py_ssize_t size_of(const fl_ndarray_head* a) noexcept:
    cdef Py_ssize_t s = 1
    cdef int d
    for d in range(a.nd):
        s *= a.dimensions[d]
    return s


cdef inline bint head_layout_ok(object np) except -1:
    """The fields above agree with NumPy on a few arrays (data address,
    rank, shape, strides, descriptor, contiguity and alignment flags)."""
    cdef fl_ndarray_head* h
    base = np.zeros(64, dtype=np.uint8)
    samples = [np.arange(12.0).reshape(3, 4), np.arange(12.0).reshape(3, 4)[:, ::2],
               np.zeros(5, dtype=np.float32), np.zeros(0),
               np.frombuffer(base.data, np.float64, 3, 1),       # misaligned
               np.zeros(3, dtype=">f8")]
    for a in samples:
        if type(a) is not np.ndarray:
            return False
        h = <fl_ndarray_head*><void*>a
        if (<size_t>h.data != <size_t>a.__array_interface__["data"][0]
                or h.nd != a.ndim
                or h.descr != <void*>a.dtype
                or bool(h.flags & 0x0001) != bool(a.flags.c_contiguous)
                or bool(h.flags & 0x0100) != bool(a.flags.aligned)):
            return False
        for d in range(a.ndim):
            if h.dimensions[d] != a.shape[d] or h.strides[d] != a.strides[d]:
                return False
    return True
