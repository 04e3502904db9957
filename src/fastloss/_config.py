"""``fastloss.show_config()``: what this build is and what it will use.

Besides versions it answers the questions a bug report needs:

* which OpenMP runtime fastloss's kernels really call (a wheel carries its own
  ``libgomp`` copy in ``fastloss.libs/``; a source build uses the compiler's),
  and every other OpenMP runtime loaded in the process (torch and
  scikit-learn bring their own);
* how many threads a large kernel will use;
* which SIMD path the kernels take on this CPU (the wheel is built for
  baseline x86-64; faster paths are chosen at run time).
"""
from __future__ import annotations

import ctypes
import functools
import os
import platform
import re
import sys

import numpy as np

from ._kernels import _runtime
from ._threads import get_num_threads

# File names of the OpenMP runtimes in use on Linux/macOS (GNU, LLVM, Intel),
# also as auditwheel/delocate rename them (libgomp-1a2b3c4d.so.1.0.0).
_OPENMP_NAME = re.compile(r"lib(gomp|omp|iomp5|iomp)([-.][^/]*)?\.(so|dylib)([.0-9]*)$")

# SIMD features worth naming, in /proc/cpuinfo's spelling, widest last.
_CPU_FEATURES = ("sse2", "sse4_2", "avx", "avx2", "fma", "avx512f", "asimd", "sve")


def _mapped_objects() -> list[tuple[int, int, str]]:
    """(start, end, path) of every file mapped into this process (Linux)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5].startswith("/"):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            found.append((start, end, fields[5]))
    return found


def openmp_libraries() -> list[str]:
    """Paths of all OpenMP runtime libraries loaded in this process (Linux)."""
    seen: list[str] = []
    for _, _, path in _mapped_objects():
        if _OPENMP_NAME.search(os.path.basename(path)) and path not in seen:
            seen.append(path)
    return seen


def openmp_runtime() -> str | None:
    """Path of the OpenMP runtime library fastloss's kernels call.

    The symbol ``omp_get_max_threads`` is looked up the way the kernel module
    itself resolves it (``dlsym`` on the module's handle searches the module
    and its own dependencies), and the library holding that address is read
    from ``/proc/self/maps``.  None where that is not possible.
    """
    try:
        module = ctypes.CDLL(_runtime.__file__)
        address = ctypes.cast(module.omp_get_max_threads, ctypes.c_void_p).value
    except (OSError, AttributeError, TypeError):
        return None
    for start, end, path in _mapped_objects():
        if start <= address < end:
            return path
    return None


def cpu_features() -> list[str]:
    """The SIMD features of this CPU that matter to the kernels (Linux)."""
    return list(_cpu_features())


@functools.lru_cache(maxsize=1)
def _cpu_features() -> tuple:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            text = info.read()
    except OSError:
        return ()
    match = re.search(r"^(flags|Features)\s*:\s*(.*)$", text, re.MULTILINE)
    flags = set(match.group(2).split()) if match else set()
    return tuple(name for name in _CPU_FEATURES if name in flags)


# The names FASTLOSS_SIMD and set_simd_path take: "auto" and the paths of
# _kernels/simd.pyx, the one module that owns the choice for the process.
SIMD_PATHS = ("auto", "avx512", "avx2", "sse2", "scalar")
# earlier kernel modules' names for the same paths
_REPORTED = {"avx2+fma": "avx2", "baseline": "sse2"}


def _simd_owner():
    """The module holding the process's one vector path (None if it cannot
    be imported, so show_config still works)."""
    try:
        from ._kernels import simd
    except ImportError:
        return None
    return simd


def _simd_modules():
    """The kernel modules that call through the vector table, by name."""
    import importlib
    found = {}
    for name in ("pointwise", "rows"):
        try:
            found[name] = importlib.import_module(f"fastloss._kernels.{name}")
        except ImportError:
            pass
    return found


def available_simd_paths() -> list[str]:
    """The vector paths this build can take on this CPU, widest first
    (each one is a valid ``FASTLOSS_SIMD`` / ``set_simd_path`` value)."""
    owner = _simd_owner()
    return list(owner.available_paths()) if owner is not None else ["scalar"]


def set_simd_path(name: str) -> str:
    """Make every kernel module take one vector path, for the whole process.

    ``name``: "auto" (the widest this CPU runs), "avx512" (AVX-512F),
    "avx2" (AVX2+FMA), "sse2" (the x86-64 baseline), "scalar" (the closed
    forms, libm only).  A path the CPU (or this build) lacks is a
    ValueError.  ``FASTLOSS_SIMD`` sets the same at import.  Not thread-safe
    against kernels running at the time: set it before the work starts.
    Returns the path now in use.
    """
    if not isinstance(name, str) or name not in SIMD_PATHS:
        raise ValueError(f"name must be one of {SIMD_PATHS}, got {name!r}")
    if name != "auto" and name not in available_simd_paths():
        raise ValueError(f"name={name!r}: this CPU cannot run it "
                         f"(paths here: {', '.join(available_simd_paths())})")
    owner = _simd_owner()
    if owner is not None:
        owner.set_path(name)
    return simd_path()


def simd_paths_in_use() -> dict:
    """{kernel module: the path it really takes}, as each module reports it."""
    found = {}
    for label, module in _simd_modules().items():
        report = getattr(module, "simd_path", None)
        if not callable(report):
            continue
        try:
            name = str(report())
            found[label] = _REPORTED.get(name, name)
        except Exception as exc:  # a report must never break show_config
            found[label] = f"unknown ({type(exc).__name__}: {exc})"
    return found


def simd_path() -> str:
    """The vector path every kernel takes ("avx512", "avx2", "sse2" or
    "scalar"); modules that disagree are all listed (that would be a bug)."""
    paths = simd_paths_in_use()
    if not paths:
        return "baseline (no runtime dispatch)"
    if len(set(paths.values())) == 1:
        return next(iter(paths.values()))
    return ", ".join(f"{k}={v}" for k, v in paths.items())


def apply_environment() -> None:
    """Honour ``FASTLOSS_SIMD`` (read once, at import)."""
    wanted = os.environ.get("FASTLOSS_SIMD", "").strip().lower()
    if wanted and wanted != "auto":
        try:
            set_simd_path(wanted)
        except ValueError as exc:
            raise ValueError(f"FASTLOSS_SIMD={wanted!r}: {exc}") from None


def config() -> dict:
    """The facts ``show_config`` prints, as a dict.

    >>> import fastloss as fl
    >>> cfg = fl.config()
    >>> cfg["fastloss"] == fl.__version__ and cfg["num_threads"] >= 1
    True
    """
    from . import __version__
    libraries = openmp_libraries()
    runtime = openmp_runtime()
    others = [path for path in libraries if path != runtime]
    return {
        "fastloss": __version__,
        "location": os.path.dirname(os.path.abspath(__file__)),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "openmp": _runtime.openmp_version(),
        "openmp_runtime": runtime,
        "other_openmp": others,
        "omp_num_procs": _runtime.num_procs(),
        "num_threads": get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "cpu_features": cpu_features(),
        "simd_path": simd_path(),
    }


def show_config() -> None:
    """Print the version, the OpenMP runtime, the thread count and the SIMD path.

    One ``key: value`` line per entry of :func:`config` (its keys, in order):
    ``fastloss``, ``location``, ``python``, ``numpy``, ``machine``, ``openmp``,
    ``openmp_runtime``, ``other_openmp``, ``omp_num_procs``, ``num_threads``,
    ``OMP_NUM_THREADS``, ``cpu_features``, ``simd_path``.

    >>> import fastloss as fl
    >>> fl.show_config()                                  # doctest: +ELLIPSIS
           fastloss: ...
    ...
          simd_path: ...
    """
    for key, value in config().items():
        if isinstance(value, list):
            value = ", ".join(value) if value else "-"
        elif value is None:
            value = "-"
        print(f"{key:>15}: {value}")
