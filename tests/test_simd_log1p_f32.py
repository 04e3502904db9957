"""The float32 log1p_unit of vec.h (z P(z), a fitted polynomial, no
division) on every vector path: every tail length of every lane count,
the ends of its domain and subnormals, against long-double log1p, within
the bound vec.h's table states; and the losses that use it (BCE and focal
from logits in float32 lanes) at extreme logits, ±inf and NaN against
float64 references written here."""
import numpy as np
import pytest

import fastloss as fl
from fastloss._kernels import simd

PATHS = [p for p in fl.available_simd_paths() if p != "scalar"]


def ulp_err(got, x):
    ref = np.log1p(x.astype(np.longdouble))
    ok = np.abs(ref) >= np.finfo(np.float32).tiny
    err = np.abs((got[ok] - ref[ok]) / np.spacing(np.abs(ref[ok]).astype(np.float32)))
    return float(err.max()) if err.size else 0.0, ok


@pytest.mark.parametrize("path", PATHS)
def test_log1p_unit_f32_tails_ends_and_subnormals(path):
    fl.set_simd_path(path)
    special = np.array([0.0, 1.0, np.nextafter(np.float32(1), np.float32(0)), 0.5,
                        1e-45, 1e-38, 1.2e-38, 3e-8, 6e-8, 1e-4, 0.41421356, 0.41421357],
                       dtype=np.float32)
    rng = np.random.default_rng(1)
    for n in range(1, 35):                         # every tail of 4, 8 and 16 lanes
        x = np.concatenate([special, rng.uniform(0, 1, n).astype(np.float32)])[:n]
        out = np.full(n + 3, -7.0, np.float32)     # lanes past n untouched
        assert simd.apply("log1p_unit", x, out[:n])
        assert np.all(out[n:] == -7.0)
        err, ok = ulp_err(out[:n], x)
        assert err <= 2.0, (n, err)
        # results below the smallest normal: log1p(z) = z there, absolute error
        assert np.all(np.abs(out[:n][~ok] - x[~ok]) <= np.finfo(np.float32).tiny)
    x = np.concatenate([special, np.geomspace(1e-45, 1.0, 200001).astype(np.float32),
                        rng.uniform(0, 1, 200001).astype(np.float32)])
    out = np.empty_like(x)
    simd.apply("log1p_unit", x, out)
    assert ulp_err(out, x)[0] <= 2.0
    assert out[0] == 0.0 and not np.signbit(out[0])
    assert np.all(np.diff(out[np.argsort(x)]) >= -np.spacing(np.float32(1)))   # monotone to an ulp


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype_hard", [True, False])
def test_bce_and_focal_f32_lanes_extreme_logits(path, dtype_hard):
    fl.set_simd_path(path)
    x = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 0.3, -0.3, 5, -5, 16, -16, 17, -17,
                  30, -30, 87, -87, 88, -88, 104, -104, 3e38, -3e38, np.inf, -np.inf],
                 dtype=np.float32)
    x = np.tile(x, 3)[:71]                        # a 71-element call: partial vectors
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, x.size).astype(np.float32)
    if not dtype_hard:
        y[::5] = 0.25                              # soft labels: float64 lanes there
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    sp_pos, sp_neg = np.logaddexp(0, -x64), np.logaddexp(0, x64)      # softplus(-x), softplus(x)
    with np.errstate(invalid="ignore"):
        ref = np.where(y64 == 1, sp_pos, 0.0) + np.where(y64 == 0, sp_neg, 0.0) \
            + np.where((y64 != 0) & (y64 != 1), y64 * sp_pos + (1 - y64) * sp_neg, 0.0)
        def sigmoid(t):                            # without cancellation on either side
            e = np.exp(-np.abs(t))
            return np.where(t >= 0, 1 / (1 + e), e / (1 + e))
        sig = sigmoid(x64)
        ref_g = np.where(y64 == 1, -sigmoid(-x64), np.where(y64 == 0, sig, sig - y64))
    v, g = fl.BinaryCrossentropy(from_logits=True, reduction="none").loss_gradient(y, x)
    fin = np.isfinite(ref)
    np.testing.assert_allclose(v[fin], ref[fin], rtol=4e-7, atol=1e-37)
    np.testing.assert_allclose(g, ref_g, rtol=4e-7, atol=1e-37)
    assert np.all(np.isinf(v[~fin]))               # a logit of ±inf on the wrong side
    # focal, gamma = 2, alpha = 0.25: a q^2 softplus(-x) (y = 1), (1 - a) p^2 softplus(x) (y = 0)
    p = sig
    with np.errstate(invalid="ignore", over="ignore"):
        yy = y64
        f1 = (1 - p) ** 2 * sp_pos
        f0 = p ** 2 * sp_neg
        f1 = np.where(p == 0, np.where(np.isinf(sp_pos), np.inf, f1), f1)
        ref_f = 0.25 * yy * f1 + 0.75 * (1 - yy) * f0
    vf = fl.BinaryFocalCrossentropy(gamma=2.0, alpha=0.25, from_logits=True,
                                    reduction="none")(y, x)
    fin = np.isfinite(ref_f) & np.isfinite(vf)
    assert fin.sum() >= x.size - 6
    np.testing.assert_allclose(vf[fin], ref_f[fin], rtol=2e-6, atol=1e-37)
    # NaN logits propagate to their element only
    xn = x.copy()
    xn[[3, 40]] = np.nan
    vn = fl.BinaryCrossentropy(from_logits=True, reduction="none")(y, xn)
    assert np.isnan(vn[3]) and np.isnan(vn[40])
    keep = np.setdiff1d(np.arange(x.size), [3, 40])
    np.testing.assert_array_equal(vn[keep], v[keep])
