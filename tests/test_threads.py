"""Thread control: set/get, the context manager, threadpoolctl, and the OpenMP build."""
import threading

import numpy as np
import pytest

import fastloss as fl
from fastloss._kernels import _runtime


def test_built_with_openmp():
    assert _runtime.openmp_version() >= 201107


def test_set_get_and_context_manager():
    before = fl.get_num_threads()
    with fl.num_threads(1):
        assert fl.get_num_threads() == 1
        assert _runtime.team_size(fl.get_num_threads()) == 1
    assert fl.get_num_threads() == before
    fl.set_num_threads(2)
    try:
        assert fl.get_num_threads() == 2
        # A parallel region really gets the threads asked for.
        assert _runtime.team_size(2) == 2
    finally:
        fl.set_num_threads(before)


def test_context_manager_restores_after_error():
    before = fl.get_num_threads()
    with pytest.raises(RuntimeError):
        with fl.num_threads(1):
            raise RuntimeError("boom")
    assert fl.get_num_threads() == before


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError),
                                     ("2", TypeError)])
def test_bad_thread_counts(bad, exc):
    with pytest.raises(exc, match="n must"):
        fl.set_num_threads(bad)


def test_threadpoolctl_openmp_limit_is_obeyed():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with fl.num_threads(2):
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert fl.get_num_threads() == 1
        assert fl.get_num_threads() == 2


def test_kernels_release_the_gil():
    # Two Python threads run large kernels at once and get the right answers.
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=2_000_000), rng.normal(size=2_000_000)
    expected = fl.mse(y, p)
    results = []

    def work():
        with fl.num_threads(1):
            results.append(fl.mse(y, p))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4
