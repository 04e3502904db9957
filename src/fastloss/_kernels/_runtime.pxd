# The team-size decision every parallel region of the kernels asks for (the
# state lives once per process in _runtime; other kernel modules cimport
# these through a capsule, as they do simd's table).
cdef int team(int nt, Py_ssize_t nblocks) noexcept nogil
cdef void team_done(int nt, Py_ssize_t nblocks, Py_ssize_t by_master) noexcept nogil
