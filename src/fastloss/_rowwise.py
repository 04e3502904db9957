"""The row family's plumbing (``_kernels/rows.pyx``): a row of y_pred is one
sample whose values are coupled (classes, a distribution, a vector).

Shared by every module with row-wise losses (classification, distribution),
so that no family module imports another's; the reduction itself is
``_base.KernelOutputs``.

Layout: the classes of a sample lie along one axis of y_pred, ``class_axis``
(-1 unless a loss takes the parameter).  The other axes enumerate the
samples, in C order: their shape is the samples' shape, which sparse labels,
``sample_weight`` and the ``"none"`` result have.  The kernel walks the class
axis with its stride (``Layout.S``), so y_pred is never transposed.
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from . import _validate
from ._base import KernelOutputs
from ._kernels import rows as _rows
from ._threads import get_num_threads

# kernel name -> index in the kernel's table, built once (not per call)
_KIND_INDEX = {name: i for i, name in enumerate(_rows.KINDS)}


class Layout(NamedTuple):
    """n samples of C classes; the classes of a sample are S apart (S = 1:
    contiguous rows); `samples` is the samples' shape (its product is n)."""
    n: int
    C: int
    S: int
    samples: tuple


def class_axis(value, name="class_axis"):
    """A class_axis parameter: a Python int (its range is checked per call)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


def layout(shape, axis, name="class_axis"):
    """The Layout of an array of `shape` (ndim >= 2) with classes on `axis`."""
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for y_pred with {ndim} "
                         f"dimensions (shape {tuple(shape)})")
    axis %= ndim
    C = shape[axis]
    samples = tuple(shape[:axis]) + tuple(shape[axis + 1:])
    return Layout(math.prod(samples), C, math.prod(shape[axis + 1:]), samples)


def _rows_layout(yp):
    """(n, C) rows: the layout the losses without class_axis take."""
    n, C = yp.shape
    return Layout(n, C, 1, (n,))


def dense_rows(y_true, y_pred, axis=None):
    """(y_true, y_pred, layout) for losses with a target of y_pred's shape.

    1-D input is one row (Keras; the samples' shape is then (1,)).
    `axis` None: at most two dimensions, classes last; an int: any rank >= 2
    with the classes on that axis (1-D input still one row).
    """
    yt, yp = _validate.float_pair(y_true, y_pred, max_ndim=2 if axis is None else None)
    if yp.ndim == 1:
        if axis is not None and axis not in (-1, 0):
            layout(yp.shape, axis)          # raises, naming class_axis
        return yt, yp, Layout(1, yp.shape[0], 1, (1,))
    if axis is None:
        return yt, yp, _rows_layout(yp)
    return yt, yp, layout(yp.shape, axis)


def sparse_rows(y_true, y_pred, ignore_index=None, axis=None):
    """(labels, y_pred, ignored, layout) for losses taking class indices.

    y_pred: floats, (n, C) (`axis` None) or any rank >= 2 with the classes
    on `axis`; y_true: integer labels of the samples' shape (y_pred's shape
    without the class axis), each in [0, C) or equal to ``ignore_index``
    (returned as the flat boolean mask `ignored`, or None when no sample is
    ignored).  Labels of ignored samples are -1 in the returned flat copy;
    the kernel skips them.  Any other label is a ValueError naming y_true.
    """
    yp = _validate._as_numeric(y_pred, "y_pred")
    if axis is None and yp.ndim != 2:
        raise ValueError(f"y_pred must have shape (n, C), got shape {yp.shape}")
    if yp.ndim < 2:
        raise ValueError(f"y_pred must have at least 2 dimensions (samples and classes), "
                         f"got shape {yp.shape}")
    if yp.size == 0:
        raise ValueError(f"y_pred is empty (shape {yp.shape}); nothing to compute")
    lay = _rows_layout(yp) if axis is None else layout(yp.shape, axis)
    yp = _validate.kernel_array(yp, _validate.work_dtype(yp.dtype))
    if yp.ndim > 2 or lay.S > 1:
        y_true = _validate.labels(y_true, lay.samples).reshape(-1)
    labels, ignored = _validate.class_indices(y_true, lay.n, lay.C, ignore_index)
    return labels, yp, ignored, lay


def sample_weights(sample_weight, lay):
    """sample_weight of the samples' shape as a flat float64 array (or None)."""
    if sample_weight is None:
        return None
    if len(lay.samples) > 1:
        sw = _validate._as_numeric(sample_weight, "sample_weight")
        if sw.shape != lay.samples:
            raise ValueError(f"sample_weight must have the samples' shape {lay.samples}, "
                             f"got {sw.shape}")
        sample_weight = sw.reshape(-1)
    return _validate.sample_weight(sample_weight, lay.n)


def row_record(kind, params, reduction, min_C=1):
    """The fast path of a row loss of `kind` with exactly `params` (see
    ``_kernels.rows.Record``: (n, C) y_pred with C >= `min_C`, dense
    targets or labels, no sample_weight or out=); for ``Loss._fast_record``."""
    return _rows.record(_KIND_INDEX[kind], params, reduction, get_num_threads, min_C)


def run_rows(kind, params, yt, labels, yp, w, reduction, lay, *,
             want_loss, want_grad, want_hess, out, mean_weights=None):
    """Allocate and run one row kernel on checked arrays of layout `lay`.

    `params` is exactly the kind's record (``_kernels.rows.PARAMS[kind]``;
    the kernel refuses unknown and missing keys).  `w` is the per-sample
    weight array (None: all 1) the kernel multiplies each loss by;
    `mean_weights`, when given, are the weights "mean" divides by instead
    (a loss whose class weights act inside the row).  The gradient and
    hessian get y_pred's shape, the "none" result the samples' shape.
    """
    o = KernelOutputs(reduction, lay.n, w if mean_weights is None else mean_weights,
                      yp.shape, yp.dtype, _rows.n_blocks(lay.n, lay.C, lay.S),
                      want_loss=want_loss, want_grad=want_grad, want_hess=want_hess,
                      out=out, inputs=(yt, yp, w))
    total = _rows.rows(
        _KIND_INDEX[kind], params,
        yp.reshape(-1) if yt is None else yt.reshape(-1), labels,
        yp.reshape(-1), w, lay.n, lay.C, lay.S, o.mode, o.scale,
        o.flat_grad, o.flat_hess, o.rows, o.block_sums, get_num_threads())
    value, grad, hess = o.result(total)
    if reduction == "none" and value is not None and value.shape != lay.samples:
        value = value.reshape(lay.samples)
    return value, grad, hess
