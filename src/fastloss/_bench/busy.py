"""A busy core for ``bench --contended``: another process spinning on one CPU.

:func:`busy_core` starts ``python -c "while 1: pass"`` pinned to one CPU (the
last one this process may run on) and stops it when the block ends, however
it ends: normal exit, an exception, Ctrl-C (KeyboardInterrupt unwinds through
the ``finally``).  Should the benchmark itself be killed outright (SIGKILL,
or SIGTERM, which Python does not turn into an exception), the spinner asked
the kernel to kill it when its parent dies (Linux ``PR_SET_PDEATHSIG``) and
checks once that its parent has not already gone, so it never outlives the
benchmark.  An ``atexit`` hook is a last net for paths that skip the block's
``finally`` (``os._exit`` excepted).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import time

# The spinner's program: die with the parent, pin to one CPU, spin.
_SPIN = """\
import os, sys
parent = int(sys.argv[1])
try:
    import ctypes, signal
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))   # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() != parent:          # the parent died before prctl took effect
    sys.exit(0)
try:
    os.sched_setaffinity(0, {int(sys.argv[2])})
except (AttributeError, OSError):
    pass
while 1:
    pass
"""

_live = set()


def _stop(proc):
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:   # pragma: no cover - a kill does not fail
        pass
    _live.discard(proc)


@atexit.register
def _stop_all():
    for proc in list(_live):
        _stop(proc)


def default_core():
    """The CPU the spinner is pinned to: the last one this process may use."""
    try:
        return max(os.sched_getaffinity(0))
    except AttributeError:          # not Linux: let the OS place it
        return (os.cpu_count() or 1) - 1


@contextlib.contextmanager
def busy_core(core=None):
    """``with busy_core() as proc:`` one CPU is kept busy by another process
    (``proc``, a Popen) for the block; it is gone when the block ends."""
    core = default_core() if core is None else int(core)
    proc = subprocess.Popen([sys.executable, "-c", _SPIN, str(os.getpid()), str(core)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _live.add(proc)
    proc.core = core
    try:
        time.sleep(0.2)             # past the interpreter's start: spinning
        yield proc
    finally:
        _stop(proc)
