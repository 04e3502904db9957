"""``fastloss.show_config()``: what this build is and what it will use."""
from __future__ import annotations

import platform
import sys

import numpy as np

from ._kernels import _runtime
from ._threads import get_num_threads


def config() -> dict:
    """The facts ``show_config`` prints, as a dict."""
    from . import __version__
    return {
        "fastloss": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "openmp": _runtime.openmp_version(),
        "omp_num_procs": _runtime.num_procs(),
        "num_threads": get_num_threads(),
    }


def show_config() -> None:
    """Print the version, the OpenMP build and the thread count in use."""
    for key, value in config().items():
        print(f"{key:>14}: {value}")
