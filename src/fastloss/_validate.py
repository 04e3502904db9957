"""Input checking and conversion: every user-facing error is raised here.

Nothing in this module writes to a caller's array: conversions go through
``np.asarray``/``np.ascontiguousarray`` which copy only when the layout or dtype
must change, and kernels only read their inputs.
"""
from __future__ import annotations

import numbers

import numpy as np

REDUCTIONS = ("mean", "sum", "none")
_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def _as_numeric(x, name):
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def work_dtype(y_pred_dtype):
    """float32/float64 stay as they are; every other real dtype becomes float64."""
    dt = np.dtype(y_pred_dtype)
    return dt if dt in _NATIVE else np.dtype(np.float64)


def float_pair(y_true, y_pred, *, min_ndim=1, max_ndim=None):
    """y_true and y_pred as C-contiguous arrays of one float dtype and one shape.

    The dtype is y_pred's (float32/float64) or float64 for any other real
    dtype; y_true is converted to it.  Shapes must match exactly.
    """
    yp = _as_numeric(y_pred, "y_pred")
    yt = _as_numeric(y_true, "y_true")
    if yp.ndim < min_ndim:
        raise ValueError(f"y_pred must have at least {min_ndim} dimension(s), got shape {yp.shape}")
    if max_ndim is not None and yp.ndim > max_ndim:
        raise ValueError(f"y_pred must have at most {max_ndim} dimensions, got shape {yp.shape}")
    if yt.shape != yp.shape:
        raise ValueError(
            f"y_true has shape {yt.shape} but y_pred has shape {yp.shape}; "
            "shapes must match exactly (no broadcasting)")
    if yp.size == 0:
        raise ValueError(f"y_pred is empty (shape {yp.shape}); nothing to compute")
    dt = work_dtype(yp.dtype)
    return np.ascontiguousarray(yt, dtype=dt), np.ascontiguousarray(yp, dtype=dt)


def labels(y_true, shape, name="y_true"):
    """Integer class labels of `shape` (an int n means (n,)), as a contiguous
    int64 array of that shape."""
    if isinstance(shape, numbers.Integral):
        shape = (int(shape),)
    shape = tuple(shape)
    arr = np.asarray(y_true)
    if arr.dtype.kind == "f":
        if arr.size and not np.all(np.isfinite(arr) & (arr == np.floor(arr))):
            raise ValueError(f"{name} must hold integer labels, got non-integer values")
    elif arr.dtype.kind not in "biu":
        raise TypeError(f"{name} must be an integer array of labels, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} to match y_pred, got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def sample_weight(sample_weight, n):
    """None, or a float64 (n,) array of non-negative weights."""
    if sample_weight is None:
        return None
    w = _as_numeric(sample_weight, "sample_weight")
    if w.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {w.shape}")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has {w.shape[0]} entries, y_pred has {n} rows")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    return w


def reduction(value):
    if not isinstance(value, str) or value not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {value!r}")
    return value


def out_array(out, shape, dtype, name="out"):
    """A fresh array, or the caller's `out` after checking shape/dtype/layout."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return out


def no_overlap(out, *inputs, name="out"):
    """`out` must not share memory with an input it would overwrite while read."""
    for arr in inputs:
        if arr is not None and np.may_share_memory(out, arr):
            raise ValueError(f"{name} shares memory with an input array")


def positive(value, name):
    v = real(value, name)
    if not v > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def non_negative(value, name):
    v = real(value, name)
    if not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def unit_interval(value, name):
    v = real(value, name)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return v


def real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if v != v:
        raise ValueError(f"{name} must not be NaN")
    return v


def boolean(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
