"""Input checking and conversion: every user-facing error is raised here.

Nothing in this module writes to a caller's array: conversions go through
``np.asarray``/``np.ascontiguousarray`` which copy only when the layout or dtype
must change, and kernels only read their inputs.
"""
from __future__ import annotations

import numbers

import numpy as np

# "sum_over_batch_size" is Keras 3's default: Σ w_i l_i / n over the units
# "mean" averages (weight-0 units counted); "mean" divides by Σ w_i instead.
REDUCTIONS = ("mean", "sum", "none", "sum_over_batch_size")
_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def _as_numeric(x, name):
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


_WORK_DTYPE = {dt: dt for dt in _NATIVE}     # the common case, without parsing a dtype


def work_dtype(y_pred_dtype):
    """float32/float64 stay as they are (in either byte order: '>f4' is float32
    for SPEC's rules); every other real dtype becomes float64."""
    dt = _WORK_DTYPE.get(y_pred_dtype)
    if dt is not None:
        return dt
    dt = np.dtype(y_pred_dtype)
    if dt.kind == "f" and dt.itemsize in (4, 8):
        return np.dtype(f"f{dt.itemsize}")          # native byte order
    return np.dtype(np.float64)


def kernel_array(x, dtype):
    """`x` as a C-contiguous, aligned, native-order array of `dtype`.

    np.ascontiguousarray keeps an array that sits at an odd address
    (np.frombuffer(..., offset=1)) as it is; the kernels and their vector
    loads assume element alignment, so such an array is copied here.  A copy
    is made only when one of the three properties is missing.
    """
    # The common case without np.require's Python-level argument handling
    # (~1 µs a call, paid 2-3 times by every checked call); anything else,
    # a subclass included, goes through np.require as before.
    if type(x) is np.ndarray and x.dtype == dtype:
        flags = x.flags
        if flags.c_contiguous and flags.aligned:
            return x
    return np.require(x, dtype=dtype, requirements=("C", "A"))


def native(x):
    """The caller's array as the kernels may read it: a misaligned or
    byte-swapped ndarray becomes an aligned native-order copy (the caller's
    array is never touched); anything else is returned as it is."""
    if isinstance(x, np.ndarray) and (not x.flags.aligned or not x.dtype.isnative):
        return x.astype(x.dtype.newbyteorder("="), order="K")
    return x


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
    return kernel_array(yt, dt), kernel_array(yp, dt)


_INT64_MIN, _INT64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max


def integer_ids(x, name):
    """Integer labels or ids as an int64 array, never wrapped.

    Integer dtypes are accepted if every value fits int64 (a uint64 2**64-1
    is out of range, not -1); a float array only if every value is integral
    and within int64 (1e20 is rejected, not turned into INT64_MIN).
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "f":
        if arr.size and not np.all(np.isfinite(arr) & (arr == np.floor(arr))):
            raise ValueError(f"{name} must hold integer values, got non-integer values")
        # 2**63 is exactly representable and already out of range
        if arr.size and not np.all((arr >= -(2.0 ** 63)) & (arr < 2.0 ** 63)):
            raise ValueError(f"{name} holds values outside the int64 range")
    elif kind == "u":
        if arr.dtype.itemsize == 8 and arr.size and arr.max() > _INT64_MAX:
            raise ValueError(f"{name} holds {arr.max()}, outside the int64 range")
    elif kind not in "bi":
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    return kernel_array(arr, np.int64)


def labels(y_true, shape, name="y_true"):
    """Integer class labels of `shape` (an int n means (n,)), as a contiguous
    int64 array of that shape."""
    if isinstance(shape, numbers.Integral):
        shape = (int(shape),)
    shape = tuple(shape)
    arr = np.asarray(y_true)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an integer array of labels, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} to match y_pred, got {arr.shape}")
    return integer_ids(arr, name)


def sample_weight(sample_weight, n):
    """None, or a float64 (n,) array of non-negative weights."""
    if sample_weight is None:
        return None
    w = _as_numeric(sample_weight, "sample_weight")
    if w.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {w.shape}")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has {w.shape[0]} entries, y_pred has {n} rows")
    w = kernel_array(w, np.float64)
    if (w < 0).any():
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
    if not out.flags.aligned:
        raise ValueError(f"{name} is not aligned to its dtype (e.g. a view at an odd byte offset)")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return out


def no_overlap(out, *inputs, name="out"):
    """`out` must not share memory with an input it would overwrite while read."""
    for arr in inputs:
        if arr is not None and np.may_share_memory(out, arr):
            raise ValueError(f"{name} shares memory with an input array")


def out_not_aliased(out, inputs, name="out"):
    """`out` must not share memory with any input (labels, groups and weights
    included): a kernel writing the gradient while it reads them would read
    what it wrote.  `inputs` maps argument names to the caller's objects."""
    if not isinstance(out, np.ndarray):
        return
    for arg, value in inputs.items():
        if isinstance(value, np.ndarray) and np.may_share_memory(out, value):
            raise ValueError(f"{name} shares memory with {arg}; pass a separate array")


def float_array(x, name, max_size=None):
    """`x` as a C-contiguous float32/float64 array (y_pred's dtype rules)
    for a loss whose y_true is not of y_pred's shape.  The size limit is
    checked on the caller's array as given (a broadcast view costs nothing),
    before any copy or conversion could allocate gigabytes."""
    arr = _as_numeric(x, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); nothing to compute")
    if max_size is not None and arr.size > max_size:
        raise ValueError(f"{name} has {arr.size} elements (shape {arr.shape}); this loss "
                         f"handles at most {max_size}")
    return kernel_array(arr, work_dtype(arr.dtype))


def class_indices(y_true, n, C, ignore_index=None, name="y_true"):
    """(labels, ignored): class indices (n,) in [0, C) as int64, except
    entries equal to `ignore_index` (returned as the boolean mask `ignored`,
    or None when nothing is ignored; their labels are -1 in the returned
    copy)."""
    labels_ = labels(y_true, n, name)
    ignored = None
    if ignore_index is not None:
        mask = labels_ == ignore_index
        if mask.any():
            ignored = mask
            labels_ = np.where(mask, -1, labels_)
    if not labels_.size:
        return labels_, ignored
    if ignored is None:
        # two reductions and no temporaries in the common (valid) case
        if np.minimum.reduce(labels_) >= 0 and np.maximum.reduce(labels_) < C:
            return labels_, ignored
        bad = (labels_ >= C) | (labels_ < 0)
    else:
        bad = (labels_ >= C) | ((labels_ < 0) & ~ignored)
        if not bad.any():
            return labels_, ignored
    first = int(np.asarray(y_true).reshape(-1)[np.argmax(bad)])
    raise ValueError(f"{name} holds class index {first} outside [0, {C})"
                     + ("" if ignore_index is None else
                        f" that is not ignore_index={ignore_index}"))


def optional_integer(value, name):
    """None or a Python int (bool and floats are refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer or None, got {value!r}")
    return int(value)


def class_weight(value, name="class_weight"):
    """None, or a private read-only float64 copy of a 1-D array of finite
    non-negative class weights (its length is checked against C per call,
    by `class_weight_width`)."""
    if value is None:
        return None
    cw = _as_numeric(value, name)
    if cw.ndim != 1 or cw.size == 0:
        raise ValueError(f"{name} must be a 1-D array of length C, got shape {cw.shape}")
    cw = np.array(cw, dtype=np.float64)          # a private copy
    if not np.all(np.isfinite(cw)) or np.any(cw < 0):
        raise ValueError(f"{name} must hold finite non-negative numbers")
    cw.flags.writeable = False
    return cw


def class_weight_width(cw, C, name="class_weight"):
    if cw is not None and cw.shape[0] != C:
        raise ValueError(f"{name} has {cw.shape[0]} entries, y_pred has {C} classes")


def group_ids(group, n, name="group"):
    """Query ids (n,) as int64 (any integers, never wrapped)."""
    g = np.asarray(group)
    if g.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match y_pred, got {g.shape}")
    return integer_ids(g, name)


def choice(value, name, choices):
    """`value` if it is one of `choices` (compared with ==, strings by value)."""
    for c in choices:
        if value is c or (isinstance(value, str) and isinstance(c, str) and value == c):
            return value
    raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def optional_unit_interval(value, name):
    """None, or a number in [0, 1]."""
    return None if value is None else unit_interval(value, name)


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


def non_negative_column(value, name):
    """A float >= 0, or a read-only 1-D float64 array of them (one per column)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return non_negative(value, name)
    if isinstance(value, (str, bytes, bool)):
        raise TypeError(f"{name} must be a real number or a 1-D array of them, "
                        f"got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or a 1-D array of them, "
                        f"got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a float or a non-empty 1-D array, got shape "
                         f"{arr.shape}")
    if not (arr >= 0).all():
        raise ValueError(f"{name} must be >= 0 (each entry), got {value!r}")
    arr.setflags(write=False)
    return arr


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
