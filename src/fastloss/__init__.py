"""fastloss: machine-learning losses, gradients and hessians on the CPU.

Typed Cython kernels with OpenMP; see SPEC.md for the contract.
"""
from __future__ import annotations

__version__ = "0.1.0"

from ._base import Loss
from ._objective import objective
from ._init_score import init_score
from ._config import available_simd_paths, config, set_simd_path, show_config
from ._registry import available, get
from ._threads import get_num_threads, num_threads, set_num_threads
from .agreement import *  # noqa: F401,F403
from .classification import *  # noqa: F401,F403
from .detection import *  # noqa: F401,F403
from .distribution import *  # noqa: F401,F403
from .ranking import *  # noqa: F401,F403
from .regression import *  # noqa: F401,F403
from .segmentation import *  # noqa: F401,F403
from . import agreement, classification, detection, distribution, ranking, regression, segmentation

__all__ = (
    ["Loss", "objective", "init_score", "available", "get", "get_num_threads", "set_num_threads", "num_threads",
     "show_config", "config", "set_simd_path", "available_simd_paths", "__version__"]
    + regression.__all__ + classification.__all__ + distribution.__all__
    + detection.__all__ + segmentation.__all__ + agreement.__all__ + ranking.__all__
)

# FASTLOSS_SIMD=auto|avx2|sse2|scalar: one vector path for the whole process.
from ._config import apply_environment as _apply_environment  # noqa: E402

_apply_environment()
del _apply_environment
