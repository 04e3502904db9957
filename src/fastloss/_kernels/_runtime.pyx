"""OpenMP runtime queries.

fastloss's thread setting *is* the OpenMP ``nthreads`` ICV of the calling
thread, so threadpoolctl's "openmp" limit (which sets that same ICV in the
OpenMP runtime fastloss is linked against) is obeyed without bookkeeping.
"""
cimport openmp
from cython.parallel cimport parallel

cdef extern from *:
    """
    #ifdef _OPENMP
    static int fastloss_openmp_macro(void) { return _OPENMP; }
    #else
    static int fastloss_openmp_macro(void) { return 0; }
    #endif
    """
    int fastloss_openmp_macro() noexcept nogil


def max_threads():
    """omp_get_max_threads() of the calling thread."""
    return openmp.omp_get_max_threads()


def set_max_threads(int n):
    openmp.omp_set_num_threads(n)


def num_procs():
    return openmp.omp_get_num_procs()


def openmp_version():
    """The _OPENMP date macro the kernels were compiled with (0: no OpenMP)."""
    return fastloss_openmp_macro()


def team_size(int requested):
    """Threads a parallel region asking for `requested` threads really gets."""
    cdef int got[1]      # an array element, so the parallel block shares it
    got[0] = 1
    with nogil, parallel(num_threads=requested):
        if openmp.omp_get_thread_num() == 0:
            got[0] = openmp.omp_get_num_threads()
    return got[0]
