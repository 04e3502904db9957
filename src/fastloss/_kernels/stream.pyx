"""A STREAM-like memory-bandwidth probe for the benchmark's floor.

The probe runs on the same OpenMP runtime, thread count and static schedule
as the loss kernels, so "bytes moved / bandwidth" is the time a loss kernel
that only streams its inputs and output would need on this machine.
NumPy is single-threaded, so it cannot measure the bandwidth of two cores.
"""
from cython.parallel cimport prange


def triad(double[::1] a, const double[::1] b, const double[::1] c, double s, int nthreads):
    """a = b + s * c (STREAM triad: two arrays read, one written)."""
    cdef Py_ssize_t n = a.shape[0], i
    if b.shape[0] != n or c.shape[0] != n:
        raise ValueError("a, b and c must have the same length")
    if nthreads < 1:
        raise ValueError("nthreads must be >= 1")
    with nogil:
        for i in prange(n, schedule="static", num_threads=nthreads):
            a[i] = b[i] + s * c[i]


def fill(double[::1] a, double value, int nthreads):
    """a[:] = value, touching the pages from the threads that will use them."""
    cdef Py_ssize_t n = a.shape[0], i
    if nthreads < 1:
        raise ValueError("nthreads must be >= 1")
    with nogil:
        for i in prange(n, schedule="static", num_threads=nthreads):
            a[i] = value
