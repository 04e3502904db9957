"""fastloss, PyTorch and scikit-learn in one process, each with its own OpenMP.

A wheel of each carries its own copy of libgomp (``fastloss.libs/``,
``torch/lib/``, ``scikit_learn.libs/``).  These tests load them together, with
fastloss imported first and last, run threaded work in each — fastloss also from two Python
threads at once while torch computes — and check the results.  Each scenario
runs in a fresh interpreter with a timeout, so a crash fails the test with the
child's output and a deadlock fails it instead of hanging the suite.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

TIMEOUT_S = 180

SCRIPT = textwrap.dedent(r'''
    import os, sys
    from concurrent.futures import ThreadPoolExecutor

    order = sys.argv[1].split(",")
    for name in order:                     # the import order under test
        __import__({"sklearn": "sklearn.cluster"}.get(name, name))

    import numpy as np
    import fastloss as fl

    rng = np.random.default_rng(7)
    n = 300_000                            # well above the one-thread threshold
    y = rng.standard_normal(n)
    p = y + rng.standard_normal(n)
    expected = float(np.mean((p - y) ** 2))
    expected_grad = 2.0 * (p - y) / n

    def fastloss_work():
        with fl.num_threads(2):
            value, grad = fl.MeanSquaredError().loss_gradient(y, p)
        assert abs(value - expected) <= 1e-12 * expected, (value, expected)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=0)
        return value, grad

    v2, g2 = fastloss_work()
    with fl.num_threads(1):
        v1, g1 = fl.MeanSquaredError().loss_gradient(y, p)
    assert v1 == v2 and np.array_equal(g1, g2), "thread count changed the bits"

    if "torch" in order:
        import torch
        torch.set_num_threads(2)
        def torch_work():
            t = torch.from_numpy(rng.standard_normal(1_000_000))
            e = torch.exp(t).numpy()       # an OpenMP parallel_for in torch
            np.testing.assert_allclose(e, np.exp(t.numpy()), rtol=1e-13)
            a = torch.from_numpy(y).requires_grad_(False)
            b = torch.from_numpy(p).requires_grad_(True)
            loss = torch.nn.functional.mse_loss(b, a)
            loss.backward()
            assert abs(loss.item() - expected) <= 1e-10 * expected
            np.testing.assert_allclose(b.grad.numpy(), expected_grad, rtol=1e-10, atol=1e-18)
        torch_work()

    if "sklearn" in order:
        from sklearn.cluster import KMeans
        def sklearn_work():
            X = rng.standard_normal((10_000, 8)) + rng.integers(0, 4, 10_000)[:, None] * 3.0
            km = KMeans(n_clusters=4, n_init=1, random_state=0).fit(X)   # OpenMP in sklearn
            d = ((X[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1)
            assert np.mean(km.labels_ == d.argmin(1)) > 0.999
        sklearn_work()

    # Interleave: fastloss from two Python threads at once (two OpenMP teams of
    # fastloss's runtime) while the main thread runs the other libraries.
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(fastloss_work) for _ in range(4)]
        for _ in range(2):
            if "torch" in order:
                torch_work()
            if "sklearn" in order:
                sklearn_work()
        for f in futures:
            value, grad = f.result()
            assert value == v2 and np.array_equal(grad, g2)

    # threadpoolctl's OpenMP limit reaches fastloss's runtime whichever is loaded.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        with threadpool_limits(1, user_api="openmp"):
            assert fl.get_num_threads() == 1, fl.get_num_threads()
            assert fastloss_work()[0] == v2

    cfg = fl.config()
    print("runtime:", cfg["openmp_runtime"])
    print("others:", ";".join(cfg["other_openmp"]))
    print("OK")
''')


def _available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _run(order: tuple[str, ...]) -> str:
    for name in order:
        if not _available(name):
            pytest.skip(f"{name} is not installed")
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    try:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, ",".join(order)],
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"import order {order}: no result after {TIMEOUT_S} s (deadlock?)\n"
                    f"{exc.stdout or ''}\n{exc.stderr or ''}")
    assert proc.returncode == 0, (
        f"import order {order}: exit code {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    assert proc.stdout.strip().endswith("OK"), proc.stdout
    return proc.stdout


def _reported(stdout: str, key: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in stdout.splitlines()
                if line.startswith(key + ":"))


def _check_own_runtimes(out: str, order: tuple[str, ...]) -> None:
    """Under the wheel: fastloss calls its vendored libgomp, even when torch's
    libgomp.so.1 was loaded first, and every library brought its own copy."""
    if os.environ.get("FASTLOSS_EXPECT_WHEEL") != "1":
        return   # a source build links the system libgomp.so.1 and may share torch's
    assert "fastloss.libs" in _reported(out, "runtime"), out
    others = [path for path in _reported(out, "others").split(";") if path]
    assert len(others) >= len(order) - 1, out


@pytest.mark.parametrize("order", [
    ("fastloss", "torch", "sklearn"),
    ("torch", "sklearn", "fastloss"),
], ids="-".join)
def test_fastloss_torch_sklearn_one_process(order):
    _check_own_runtimes(_run(order), order)


@pytest.mark.parametrize("order", [("sklearn", "fastloss")],
                         ids="-".join)
def test_fastloss_sklearn_one_process(order):
    _check_own_runtimes(_run(order), order)
