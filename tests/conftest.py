"""Shared test helpers: a seeded generator and float64 finite differences."""
import os

import numpy as np
import pytest

import fastloss as fl

# The vector path this test session checks (FASTLOSS_SIMD, applied by
# fastloss at import; .ci/run runs the numeric tests once per path the CPU
# has).  A test that switches paths itself may restore "auto": the fixture
# below puts the session's path back after every test, so the rest of the
# session never silently runs on another path.
SESSION_SIMD = os.environ.get("FASTLOSS_SIMD", "auto").strip().lower() or "auto"


def pytest_report_header(config):
    return f"fastloss simd path: {fl.set_simd_path(SESSION_SIMD)} (FASTLOSS_SIMD={SESSION_SIMD})"


@pytest.fixture(params=fl.available_simd_paths())
def simd_path(request):
    """Run the test once on each vector path this CPU has; the autouse
    fixture below puts the session's path back afterwards."""
    fl.set_simd_path(request.param)
    return request.param


@pytest.fixture(autouse=True)
def _session_simd_path():
    yield
    fl.set_simd_path(SESSION_SIMD)


@pytest.fixture
def rng():
    return np.random.default_rng(20261130)


def central_gradient(fun, x, h=1e-6):
    """d fun / d x by central differences in float64, element by element."""
    x = np.array(x, dtype=np.float64)
    g = np.empty_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = fun(x)
        flat[i] = keep - h
        down = fun(x)
        flat[i] = keep
        gflat[i] = (up - down) / (2 * h)
    return g


def central_diagonal(grad_fun, x, h=1e-5):
    """Diagonal of the Jacobian of grad_fun (the hessian diagonal) by central differences."""
    x = np.array(x, dtype=np.float64)
    d = np.empty_like(x)
    flat, dflat = x.reshape(-1), d.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = grad_fun(x).reshape(-1)[i]
        flat[i] = keep - h
        down = grad_fun(x).reshape(-1)[i]
        flat[i] = keep
        dflat[i] = (up - down) / (2 * h)
    return d
