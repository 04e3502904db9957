"""One vector path for the whole process: FASTLOSS_SIMD at import,
fastloss.set_simd_path at run time, every kernel module on the same path,
show_config reporting it; and the same answers (to rounding) on each path."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss as fl
from fastloss import _config

PATHS = fl.available_simd_paths()


def test_scalar_is_always_available_and_listed_last():
    assert PATHS[-1] == "scalar"
    assert len(set(PATHS)) == len(PATHS)


@pytest.mark.parametrize("path", PATHS)
def test_every_module_takes_the_path_asked_for(path):
    assert fl.set_simd_path(path) == path
    assert set(_config.simd_paths_in_use().values()) == {path}
    assert fl.config()["simd_path"] == path


def test_auto_is_the_widest_path():
    assert fl.set_simd_path("auto") == PATHS[0]


@pytest.mark.parametrize("bad", ["avx1024", "AVX2 ", 3, None])
def test_unknown_path_is_a_value_error(bad):
    with pytest.raises(ValueError, match="name"):
        fl.set_simd_path(bad)


def test_a_path_this_build_or_cpu_lacks_is_a_clear_error():
    for name in ("avx512", "avx2", "sse2"):
        if name in PATHS:
            continue
        with pytest.raises(ValueError, match=name):
            fl.set_simd_path(name)


def _import_with(value):
    env = dict(os.environ, FASTLOSS_SIMD=value)
    return subprocess.run([sys.executable, "-c", "import fastloss as fl; print(fl.config()['simd_path'])"],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("path", PATHS)
def test_environment_variable_sets_the_path_at_import(path):
    done = _import_with(path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [path]


def test_environment_variable_with_an_unknown_path_fails_the_import_clearly():
    done = _import_with("sse5")
    assert done.returncode != 0
    assert "FASTLOSS_SIMD" in done.stderr and "sse5" in done.stderr


@pytest.mark.parametrize("path", PATHS)
def test_paths_agree_to_rounding(path):
    # the same transcendental losses on the scalar closed forms and on `path`
    rng = np.random.default_rng(11)
    x = rng.normal(scale=4, size=(5000, 6))
    y = rng.uniform(size=(5000, 6))
    labels = rng.integers(0, 6, 5000)
    cases = [
        (fl.BinaryCrossentropy(from_logits=True), y, x),
        (fl.LogCosh(), y, x),
        (fl.Poisson(log_input=True), y, x),
        (fl.SparseCategoricalCrossentropy(from_logits=True), labels, x),
        (fl.CategoricalCrossentropy(from_logits=True), y / y.sum(1, keepdims=True), x),
        (fl.KLDivergence(log_input=True), y / y.sum(1, keepdims=True),
         x - np.log(np.exp(x).sum(1, keepdims=True))),
        (fl.HellingerDistance(), y / y.sum(1, keepdims=True), np.abs(x) / np.abs(x).sum(1, keepdims=True)),
    ]
    for dtype, rtol in ((np.float64, 1e-13), (np.float32, 2e-6)):
        for loss, a, b in cases:
            a, b = (a if a.dtype.kind == "i" else a.astype(dtype)), b.astype(dtype)
            fl.set_simd_path("scalar")
            ref_v, ref_g = loss.loss_gradient(a, b)
            fl.set_simd_path(path)
            v, g = loss.loss_gradient(a, b)
            name = f"{type(loss).__name__} {np.dtype(dtype).name}"
            assert v == pytest.approx(ref_v, rel=rtol), name
            np.testing.assert_allclose(g, ref_g, rtol=rtol * 10, atol=rtol * np.abs(ref_g).max(),
                                       err_msg=name)


def test_paths_follow_the_cpu():
    """avx512 is a path exactly where the CPU has AVX-512F (with AVX2 and
    FMA), avx2 where it has AVX2 and FMA; x86 always has sse2."""
    features = set(_config.cpu_features())
    x86 = "sse2" in features
    assert ("avx512" in PATHS) == (x86 and {"avx512f", "avx2", "fma"} <= features)
    assert ("avx2" in PATHS) == (x86 and {"avx2", "fma"} <= features)
    assert ("sse2" in PATHS) == x86
    assert PATHS == [p for p in ("avx512", "avx2", "sse2", "scalar") if p in PATHS]


@pytest.mark.parametrize("path", PATHS)
def test_every_module_reports_the_one_path(path):
    from fastloss._kernels import pointwise, rows, simd
    fl.set_simd_path(path)
    assert simd.path() == pointwise.simd_path() == rows.simd_path() == path
    # a module's own switch is the same process-wide switch
    other = PATHS[-1] if path != PATHS[-1] else PATHS[0]
    rows.set_simd_path(other)
    assert pointwise.simd_path() == other and fl.config()["simd_path"] == other
