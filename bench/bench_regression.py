"""pytest-benchmark: the regression losses, fastloss and each peer side by side.

The cases (shapes, data, peers) are those of `python -m fastloss bench`:
fastloss._bench.cases.  Run with `--benchmark-group-by=group`.
"""
import pytest

from fastloss._bench import pytest_support


@pytest.mark.parametrize("case, impl", pytest_support.params("regression"))
def test_regression(benchmark, case, impl):
    pytest_support.run(benchmark, case, impl)
