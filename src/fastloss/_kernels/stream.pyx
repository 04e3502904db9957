"""A STREAM-like memory-bandwidth probe for the benchmark's floor.

The probe runs on the same OpenMP runtime and thread count as the loss
kernels, and hands out the same 4096-element blocks dynamically as they do,
so "bytes moved / bandwidth" is the time a loss kernel that only streams its
inputs and output would need on this machine, under the same load (with a
static schedule a descheduled thread's half would hold the probe up where
the kernels' other thread takes its blocks).  It never backs off to one
thread, as the kernels may on a busy machine: it measures what the memory
gives the threads asked for.  NumPy is single-threaded, so it cannot
measure the bandwidth of two cores.
"""
from cython.parallel cimport prange

cdef enum:
    BLOCK = 4096        # _common.pxd's BLOCK_ELEMENTS


def triad(double[::1] a, const double[::1] b, const double[::1] c, double s, int nthreads):
    """a = b + s * c (STREAM triad: two arrays read, one written)."""
    cdef Py_ssize_t n = a.shape[0], i
    if b.shape[0] != n or c.shape[0] != n:
        raise ValueError("a, b and c must have the same length")
    if nthreads < 1:
        raise ValueError("nthreads must be >= 1")
    cdef Py_ssize_t blk, e1
    with nogil:
        for blk in prange((n + BLOCK - 1) // BLOCK, schedule="dynamic", chunksize=1,
                          num_threads=nthreads):
            e1 = min(blk * BLOCK + BLOCK, n)
            for i in range(blk * BLOCK, e1):
                a[i] = b[i] + s * c[i]


def fill(double[::1] a, double value, int nthreads):
    """a[:] = value, touching the pages from the threads that will use them."""
    cdef Py_ssize_t n = a.shape[0], i
    if nthreads < 1:
        raise ValueError("nthreads must be >= 1")
    cdef Py_ssize_t blk, e1
    with nogil:
        for blk in prange((n + BLOCK - 1) // BLOCK, schedule="dynamic", chunksize=1,
                          num_threads=nthreads):
            e1 = min(blk * BLOCK + BLOCK, n)
            for i in range(blk * BLOCK, e1):
                a[i] = value
