"""Shared test helpers: a seeded generator and float64 finite differences."""
import numpy as np
import pytest


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
