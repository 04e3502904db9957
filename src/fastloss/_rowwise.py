"""The row family's plumbing (``_kernels/rows.pyx``): a row of y_pred is one
sample whose values are coupled (classes, a distribution, a vector).

Shared by every module with row-wise losses (classification, distribution),
so that no family module imports another's; the reduction itself is
``_base.KernelOutputs``.
"""
from __future__ import annotations

import numpy as np

from . import _validate
from ._base import KernelOutputs
from ._kernels import rows as _rows
from ._threads import get_num_threads

# kernel name -> index in the kernel's table, built once (not per call)
_KIND_INDEX = {name: i for i, name in enumerate(_rows.KINDS)}


def dense_rows(y_true, y_pred):
    """(y_true, y_pred) as float (n, C) arrays and y_pred's own shape.

    1-D input is one row (Keras); more than two dimensions is an error.
    """
    yt, yp = _validate.float_pair(y_true, y_pred, max_ndim=2)
    if yp.ndim == 1:
        return yt.reshape(1, -1), yp.reshape(1, -1), yp.shape
    return yt, yp, yp.shape


def sparse_rows(y_true, y_pred, ignore_index=None):
    """(labels, y_pred, ignored) for losses taking class indices.

    y_pred must be (n, C) floats; y_true integer labels (n,) in [0, C),
    except rows equal to ``ignore_index`` (returned as the boolean mask
    `ignored`, or None when no row is ignored).  Labels of ignored rows are
    set to -1 in the returned copy; the kernel skips them.
    """
    yp = _validate._as_numeric(y_pred, "y_pred")
    if yp.ndim != 2:
        raise ValueError(f"y_pred must have shape (n, C), got shape {yp.shape}")
    if yp.size == 0:
        raise ValueError(f"y_pred is empty (shape {yp.shape}); nothing to compute")
    n, C = yp.shape
    yp = np.ascontiguousarray(yp, dtype=_validate.work_dtype(yp.dtype))
    labels, ignored = _validate.class_indices(y_true, n, C, ignore_index)
    return labels, yp, ignored


def run_rows(kind, params, yt, labels, yp, w, reduction, shape, *,
             want_loss, want_grad, want_hess, out):
    """Allocate and run one row kernel on checked (n, C) arrays.

    `params` is exactly the kind's record (``_kernels.rows.PARAMS[kind]``;
    the kernel refuses unknown and missing keys).  `w` is the per-row weight
    array (None: all 1) the reduction uses; the gradient and hessian get
    y_pred's original `shape`.
    """
    n, C = yp.shape
    o = KernelOutputs(reduction, n, w, shape, yp.dtype, _rows.n_blocks(n, C),
                      want_loss=want_loss, want_grad=want_grad, want_hess=want_hess,
                      out=out, inputs=(yt, yp))
    total = _rows.rows(
        _KIND_INDEX[kind], params,
        yp.reshape(-1) if yt is None else yt.reshape(-1), labels,
        yp.reshape(-1), w, n, C, o.mode, o.scale,
        o.flat_grad, o.flat_hess, o.rows, o.block_sums, get_num_threads())
    return o.result(total)
