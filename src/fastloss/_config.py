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
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            text = info.read()
    except OSError:
        return []
    match = re.search(r"^(flags|Features)\s*:\s*(.*)$", text, re.MULTILINE)
    flags = set(match.group(2).split()) if match else set()
    return [name for name in _CPU_FEATURES if name in flags]


def simd_path() -> str:
    """The vector code path the kernels use on this CPU.

    Kernels that dispatch at run time report their choice through
    ``fastloss._kernels.rows.simd_path()``; without it every kernel runs the
    code compiled for the build's baseline target.
    """
    try:
        from ._kernels import rows
    except ImportError:
        rows = None
    report = getattr(rows, "simd_path", None)
    if callable(report):
        try:
            return str(report())
        except Exception as exc:  # a report must never break show_config
            return f"unknown ({type(exc).__name__}: {exc})"
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "baseline (SSE2, no runtime dispatch)"
    if machine in ("aarch64", "arm64"):
        return "baseline (NEON, no runtime dispatch)"
    return "baseline (no runtime dispatch)"


def config() -> dict:
    """The facts ``show_config`` prints, as a dict."""
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
    """Print the version, the OpenMP runtime, the thread count and the SIMD path."""
    for key, value in config().items():
        if isinstance(value, list):
            value = ", ".join(value) if value else "-"
        elif value is None:
            value = "-"
        print(f"{key:>15}: {value}")
