"""The OpenMP wait policy fastloss's runtime starts with.

GNU libgomp's idle threads spin before they sleep: by default about 300 000
``pause`` iterations, several milliseconds on current x86, after every
parallel region and at every barrier.  On a machine whose cores are all
busy (another process, a data loader, torch's or BLAS's own pool) that spin
takes the core the late thread of the team needs, and a call that takes
2 ms on one thread took 36 ms on two (issue 16).  fastloss's kernels run one
or two parallel regions per call, each long enough (the one-thread cut-off
is 32 768 elements) that waking a sleeping thread costs a few per cent of
it, so the idle threads of fastloss's runtime should sleep at once:
``OMP_WAIT_POLICY=passive``, the standard setting every OpenMP runtime
reads (libgomp: no spinning; LLVM's libomp: a block time of 0).

The runtime reads its environment once, when it is loaded, so
:func:`apply` runs before the first kernel module is imported: when the
user has set none of ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` and
``KMP_BLOCKTIME``, it sets ``OMP_WAIT_POLICY=passive``, loads the runtime,
and restores the environment, so child processes and OpenMP runtimes loaded
later (torch's, scikit-learn's) see the user's environment unchanged.  A
user who wants spinning sets ``OMP_WAIT_POLICY=active`` (or a
``GOMP_SPINCOUNT``) before importing fastloss.  When the runtime fastloss
links was already loaded by another module (an editable build using the
system ``libgomp.so.1`` after something else loaded it), its policy is
already fixed and fastloss leaves it; wheels carry their own renamed copy
of libgomp, which nothing else loads.
"""
from __future__ import annotations

import importlib
import os

USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
DEFAULT = ("OMP_WAIT_POLICY", "passive")

# What apply() did, for fastloss.config() and the tests: "passive (set by
# fastloss)", "user: OMP_WAIT_POLICY=active", "runtime already loaded".
state = None


def _runtime_loaded():
    """Is a library named exactly libgomp.so.1 / libomp.so mapped already?
    (A renamed copy, torch's or a wheel's, is a different runtime.)"""
    try:
        with open("/proc/self/maps") as fh:
            maps = fh.read()
    except OSError:
        return False
    names = {line.rsplit("/", 1)[-1] for line in maps.splitlines() if "/" in line}
    return bool(names & {"libgomp.so.1", "libomp.so", "libomp.so.5", "libiomp5.so"})


def apply():
    """Load fastloss's OpenMP runtime with the default wait policy unless
    the user chose one; returns (and records in ``state``) what it did."""
    global state
    if state is not None:
        return state
    user = [f"{k}={os.environ[k]}" for k in USER_VARIABLES if k in os.environ]
    if user:
        state = "user: " + ", ".join(user)
    elif _runtime_loaded():
        state = "runtime already loaded (its own policy)"
    else:
        key, value = DEFAULT
        os.environ[key] = value
        try:
            importlib.import_module("fastloss._kernels._runtime")
        finally:
            os.environ.pop(key, None)
        state = f"{key}={value} (set by fastloss)"
    importlib.import_module("fastloss._kernels._runtime")
    return state
