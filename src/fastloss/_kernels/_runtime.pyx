"""OpenMP runtime queries, and the team-size decision of every region.

fastloss's thread setting *is* the OpenMP ``nthreads`` ICV of the calling
thread, so threadpoolctl's "openmp" limit (which sets that same ICV in the
OpenMP runtime fastloss is linked against) is obeyed without bookkeeping.

Team size on a busy machine.  A parallel region ends when every thread of
its team has arrived, so a thread the OS does not schedule (its core runs
another process) holds up the whole call, by up to a scheduler time slice
(milliseconds).  The blocks of every kernel are handed out dynamically, so
the calling thread (thread 0) does the blocks a late thread does not get:
the share of blocks thread 0 did is a free measurement of whether the rest
of the team showed up.  :func:`team_done` records it after each region:
when thread 0 did more than 3/4 of the blocks, the extra threads were
late, and regions of that size (by powers of two of their block count) run
on the calling thread alone for a while (50 ms, doubling on every late
team up to 2 s; one region whose team keeps up resets it).  A late team
costs its region a wait for the late thread, so when the while is over the
team is not simply tried again: on Linux the CPUs the rest of the machine
kept busy since the period began (busy ticks of /proc/stat, one read per
period, less this process's own CPU time) must leave at least half a CPU
per extra thread besides the calling thread's own, otherwise the region
stays on one thread for another period.  (This process's own idle time,
between its calls, is no room for a team: the team runs during a call.)  The blocks are fixed whatever the team, so results
stay bit-identical; only the time changes.  This also keeps regions too
small to gain from a second thread (whose wake-up takes longer than their
work) on one thread.
``set_adaptive(False)`` (or FASTLOSS_ADAPTIVE_TEAM=0 in the environment)
turns it off: every region then gets the requested threads.
"""
import os

cimport openmp
from libc.stdio cimport FILE, fopen, fclose, fscanf

from posix.time cimport clock_gettime, timespec, CLOCK_PROCESS_CPUTIME_ID

cdef extern from "<unistd.h>" nogil:
    long sysconf(int name)
    int _SC_NPROCESSORS_ONLN
    int _SC_CLK_TCK
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


# --------------------------------------------------------------- team size
cdef enum:
    N_BUCKETS = 64          # regions by floor(log2(block count))

cdef double BACKOFF_FIRST = 0.05
cdef double BACKOFF_MAX = 2.0
cdef double solo_until[N_BUCKETS]
cdef double backoff[N_BUCKETS]
cdef long long n_late[N_BUCKETS]
cdef double idle_at[N_BUCKETS]      # /proc/stat idle and total ticks, and this
cdef double ticks_at[N_BUCKETS]     # process's CPU seconds, when the back-off
cdef double own_at[N_BUCKETS]       # period began (ticks_at 0: unknown)
cdef bint adaptive = os.environ.get("FASTLOSS_ADAPTIVE_TEAM", "1").strip() not in ("0", "off", "false")


cdef inline int _bucket(Py_ssize_t nblocks) noexcept nogil:
    cdef int k = 0
    while nblocks > 1 and k < N_BUCKETS - 1:
        nblocks >>= 1
        k += 1
    return k


cdef bint _cpu_ticks(double* idle, double* total) noexcept nogil:
    """The machine's idle (idle + iowait) and total CPU ticks so far, summed
    over its CPUs (the first line of /proc/stat); False where there is none."""
    cdef FILE* f = fopen("/proc/stat", "r")
    cdef unsigned long long u = 0, ni = 0, sy = 0, idl = 0, io = 0, irq = 0, sirq = 0, st = 0
    cdef int got
    if f == NULL:
        return False
    got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                 &u, &ni, &sy, &idl, &io, &irq, &sirq, &st)
    fclose(f)
    if got < 4:
        return False
    idle[0] = <double>(idl + io)
    total[0] = <double>(u + ni + sy + idl + io + irq + sirq + st)
    return True


cdef double _own_cpu() noexcept nogil:
    """CPU seconds this process has used (every thread)."""
    cdef timespec ts
    if clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0:
        return 0.0
    return <double>ts.tv_sec + 1e-9 * <double>ts.tv_nsec


cdef void _start_period(int k, double now, double length) noexcept nogil:
    cdef double idle, total
    solo_until[k] = now + length
    if _cpu_ticks(&idle, &total):
        idle_at[k] = idle
        ticks_at[k] = total
        own_at[k] = _own_cpu()
    else:
        ticks_at[k] = 0.0


cdef double _room(int k, double idle, double total) noexcept nogil:
    """CPUs left for extra threads since bucket k's period began: the CPUs
    less those the rest of the machine kept busy, less the calling thread's."""
    cdef double ncpu = <double>sysconf(_SC_NPROCESSORS_ONLN)
    cdef double per_cpu = (total - ticks_at[k]) / ncpu          # ticks of one CPU
    cdef double seconds = per_cpu / <double>sysconf(_SC_CLK_TCK)
    cdef double busy = ((total - ticks_at[k]) - (idle - idle_at[k])) / per_cpu
    cdef double own = (_own_cpu() - own_at[k]) / seconds
    cdef double others = busy - own
    if others < 0.0:
        others = 0.0
    return ncpu - 1.0 - others


cdef int team(int nt, Py_ssize_t nblocks) noexcept nogil:
    """Threads for a region of `nblocks` blocks that asks for nt: nt, or 1
    while regions of its size are backing off after a late team."""
    if nt <= 1 or not adaptive:
        return nt
    cdef int k = _bucket(nblocks)
    cdef double now, idle, total
    if solo_until[k] == 0.0:
        return nt
    now = openmp.omp_get_wtime()
    if now < solo_until[k]:
        return 1
    if ticks_at[k] > 0.0 and _cpu_ticks(&idle, &total):
        if total - ticks_at[k] < 4.0:
            solo_until[k] = now + backoff[k] / 2    # too few ticks to tell yet
            return 1
        if _room(k, idle, total) < 0.5 * (nt - 1):
            _start_period(k, now, backoff[k] / 2)   # still busy: not worth a late team
            return 1
    return nt


cdef void team_done(int nt, Py_ssize_t nblocks, Py_ssize_t by_master) noexcept nogil:
    """Record a region: nt threads ran nblocks blocks, thread 0 did by_master.
    (The state is shared by every Python thread without a lock: a lost
    update only changes when the next probe of the team happens.)"""
    if nt <= 1 or nblocks < 2 * nt or not adaptive:
        return          # one thread, or too few blocks to tell
    cdef int k = _bucket(nblocks)
    cdef double b
    if 4 * by_master > 3 * nblocks:
        b = backoff[k]
        if b < BACKOFF_FIRST:
            b = BACKOFF_FIRST
        _start_period(k, openmp.omp_get_wtime(), b)
        backoff[k] = b * 2.0 if b * 2.0 < BACKOFF_MAX else BACKOFF_MAX
        n_late[k] += 1
    else:
        solo_until[k] = 0.0
        backoff[k] = 0.0


def set_adaptive(bint on):
    """Turn the late-team back-off on or off (returns the previous setting);
    turning it either way forgets what was recorded."""
    global adaptive
    cdef bint before = adaptive
    adaptive = on
    reset_team()
    return before


def get_adaptive():
    return adaptive


def reset_team():
    """Forget every late team recorded."""
    cdef int k
    for k in range(N_BUCKETS):
        solo_until[k] = 0.0
        backoff[k] = 0.0
        n_late[k] = 0
        ticks_at[k] = 0.0


def team_state():
    """{bucket: (late teams recorded, seconds of solo left)} for the buckets
    that recorded one (bucket k: regions of 2**k to 2**(k+1) - 1 blocks)."""
    cdef double now = openmp.omp_get_wtime()
    return {k: (int(n_late[k]), max(0.0, solo_until[k] - now) if solo_until[k] else 0.0)
            for k in range(N_BUCKETS) if n_late[k]}


def _record(int nt, Py_ssize_t nblocks, Py_ssize_t by_master):
    """team_done from Python (tests)."""
    team_done(nt, nblocks, by_master)


def _team(int nt, Py_ssize_t nblocks):
    """team from Python (tests)."""
    return team(nt, nblocks)


def cpu_ticks():
    """(idle, total) CPU ticks of the machine (/proc/stat), or None."""
    cdef double idle, total
    if _cpu_ticks(&idle, &total):
        return idle, total
    return None


def room_since(double idle0, double total0, double own0):
    """CPUs left for extra threads since (idle0, total0) ticks and own0 CPU
    seconds (tests; see _room)."""
    cdef double idle, total
    if not _cpu_ticks(&idle, &total):
        return None
    idle_at[N_BUCKETS - 1] = idle0
    ticks_at[N_BUCKETS - 1] = total0
    own_at[N_BUCKETS - 1] = own0
    return _room(N_BUCKETS - 1, idle, total)


def own_cpu():
    """This process's CPU seconds."""
    return _own_cpu()
