"""pytest-benchmark: the ranking losses, fastloss and each peer side by side.

The cases (shapes, data, peers) are those of `python -m fastloss bench`:
fastloss._bench.cases.  Run with `--benchmark-group-by=group`.
"""
import pytest

from fastloss._bench import pytest_support


@pytest.mark.parametrize("case, impl", pytest_support.params("ranking"))
def test_ranking(benchmark, case, impl):
    pytest_support.run(benchmark, case, impl)


_MEMORY_SCRIPT = r"""
import resource, sys, time, tracemalloc
import numpy as np
import fastloss as fl
n = int(sys.argv[1])
rng = np.random.default_rng(0)
y = rng.integers(0, 5, n).astype(np.float64)
s = 0.5 * y + rng.standard_normal(n)
loss = fl.LambdaRank()
loss.loss_gradient(y[:1000], s[:1000])              # warm: imports, thread pool
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
t0 = time.perf_counter()
loss.loss_gradient(y, s)
loss.gradient_hessian(y, s)
seconds = time.perf_counter() - t0
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(traced, (peak - base) * 1024, seconds)
"""


def test_lambdarank_memory_is_linear_one_list_50k():
    """LambdaRank on one list of 50,000 items (1.25e9 pairs): the memory the
    call takes stays O(n) -- far under the 20 GB a pair matrix would need,
    and under 200 MB.  Measured in a fresh process: traced (NumPy and
    Python) allocations and the growth of the resident-set high-water mark."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, "50000"], check=True,
                         capture_output=True, text=True).stdout.split()
    traced, rss_growth, seconds = int(out[0]), int(out[1]), float(out[2])
    print(f"\nLambdaRank n=50,000 one list: traced peak {traced / 2**20:.1f} MB, "
          f"RSS high-water growth {rss_growth / 2**20:.1f} MB, {seconds:.1f} s "
          "(loss_gradient + gradient_hessian)")
    assert traced < 200 * 2**20
    assert rss_growth < 200 * 2**20
