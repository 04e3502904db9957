# Before any kernel module loads the OpenMP runtime: its wait policy is read
# once, at load time (fastloss/_omp_policy.py says which and why).
from .._omp_policy import apply as _apply_wait_policy

_apply_wait_policy()
del _apply_wait_policy
