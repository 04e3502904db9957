"""``fastloss.dask``: every fastloss loss over Dask arrays, exactly, and a
linear-model objective whose every evaluation is one distributed pass.

``pip install 'fastloss[dask]'`` (``dask[array]`` and ``distributed``);
``import fastloss`` imports neither.  ::

    import fastloss.dask as fld
    value = fld.mse(y_true, y_pred).compute()            # was: fl.mse(y_true, y_pred)
    value, grad = fld.loss_gradient("huber", y_true, y_pred, delta=2.0)
    dask.compute(value, da.store(grad, zarr_array, compute=False))   # one pass

Everything is lazy: values are 0-d dask arrays (1-D for ``reduction="none"``),
gradients and hessians dask arrays chunked like ``y_pred``.  Each chunk's
work is one call of the in-memory loss (one fastloss kernel call); value,
gradient and hessian of ``loss_gradient`` / ``gradient_hessian`` come out of
the same per-chunk task, so a chunk is read once per pass.  Partial sums are
float64 and combined in chunk order: the result does not depend on where or
when the chunks ran.  NumPy inputs are accepted (``y_pred`` becomes one
chunk; the other arrays are cut like ``y_pred``).

How each family is distributed (the plan follows the loss class's metadata,
``target_kind`` and its units, not a list of names):

- **samples** (``target_kind`` "elementwise", "labels", "rows"): chunks along
  axis 0 only; every other axis of ``y_pred`` must be one chunk (a row is one
  sample), else a ValueError says how to rechunk; a 1-D input of a "rows"
  loss is one row and must be one chunk.  Each chunk runs with
  ``reduction="sum"`` (``Σ w l`` and ``w ∂l``); ``"mean"`` divides by the
  global total weight, computed before the gradient pass from
  ``sample_weight`` alone (or n), or, for label losses with
  ``class_weight`` / ``ignore_index``, from the weights and the labels
  (``Σ w_i a_{y_i}`` over kept rows, SPEC's denominator), never from
  ``y_pred``.  Hinge labels ({-1, 1} or {0, 1}) are checked across chunks.
- **images** (``per_image=True`` Lovász): the same with images as the units
  (axis 0); ``per_image=False`` sorts all pixels at once: a ValueError.
- **query groups** (RankNet, LambdaRank): each group inside one chunk (``group`` chunked
  like ``y_pred``); a group id seen in two chunks is a ValueError naming
  ``group`` at compute time (the check runs before any value is combined or
  gradient scaled); ``group=None`` (one list) needs ``y_pred`` in one chunk.
  ``"mean"`` divides by the global ``Σ w_i w_j`` over pairs, computed from
  ``y_true``, ``sample_weight`` and ``group`` (LambdaRank with ``k``: only
  pairs with an item ranked within k by ``y_pred`` count, so that pass
  reads ``y_pred`` too).
- **sets** (Jaccard, F1/Dice, Tversky, Kappa): a statistics pass (per-chunk
  float64 sufficient statistics, per class, from one call of the kernel the
  in-memory loss calls: ``overlap_sums`` / ``overlap_pos_sums``,
  ``kappa_stats``), the sums combined in chunk order, the value and the
  gradient's constants from the loss's own finish (``overlap_scores`` and
  ``_finish``: the reduction and Tversky's γ; ``kappa_finish``), then a
  gradient pass, one kernel call per chunk with those global constants
  (``overlap_grad`` / ``overlap_pos_grad``, ``kappa_grad_given``).
  ``y_true`` may be dense (y_pred's shape) or a label map (integer classes,
  y_pred's shape without ``class_axis``, SPEC §4.3) with ``ignore_index``;
  ``from_logits=True`` takes the softmax along ``class_axis`` in both
  passes.  With ``class_axis=0`` the classes are the chunked axis: dense
  probabilities split there fine (each chunk holds whole classes), a label
  map or logits need all classes in one chunk (a ValueError says so).

Chunk tasks are Blockwise layers, so dask fuses the reads of the input
chunks (``da.from_zarr``, ``da.from_array``, ``map_blocks``) into them: each
chunk is read by the task that uses it, on one worker, and only float64
partial sums travel.  Out of core, turn off work stealing
(``distributed.scheduler.work-stealing: False``) so the task storing a
chunk's gradient runs where the gradient is; see ``bench/bench_dask.py``.

``fld.objective(loss, X, y, ...)`` is :func:`fastloss.objective` over a dask
``X``: ``fun(w) -> (value, gradient)`` for ``scipy.optimize.minimize(...,
jac=True)`` on the client, each call one distributed pass (per chunk: one
product, one fused ``loss_gradient``, one product back).

scikit-learn's ``LossRegressor`` / ``LossClassifier`` validate ``X`` with
scikit-learn's ``validate_data``, which turns a dask array into one NumPy
array on the client: they work for data that fits there, not out of core.
For a distributed fit use ``fld.objective`` with ``scipy.optimize.minimize``
(see the README), which is exactly the estimators' objective.
"""
from __future__ import annotations

import copy
import math
import operator

import numpy as np

try:
    import dask
    import dask.array as da
    import dask.threaded
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
    from dask.layers import ArrayBlockIdDep
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError("fastloss.dask needs dask[array] (and distributed for a cluster): "
                      "pip install 'fastloss[dask]'", name=exc.name or "dask") from exc

from . import _objective, _registry, _validate
from ._kernels import sets as _sets
from ._threads import get_num_threads
from ._base import Loss
from .agreement import KappaLoss
from .ranking import LambdaRank, RankNet, _score_ranks
from .segmentation import _KINDS, F1Loss, JaccardLoss, TverskyLoss

__all__ = ["loss", "gradient", "loss_gradient", "gradient_hessian", "objective",
           "DaskLinearObjective"]

# ------------------------------------------------------------------ helpers
def _resolve(loss, params):
    """A Loss instance from a name / class / instance and constructor kwargs."""
    if isinstance(loss, Loss):
        if params:
            return _objective.rebuild(loss, params)
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss(**params)
    if isinstance(loss, str):
        return _registry.get(loss, **params)
    raise TypeError(f"loss must be a fastloss loss name or Loss instance, got "
                    f"{type(loss).__name__}")


def _with_reduction(loss, reduction):
    new = copy.copy(loss)
    new.reduction = reduction
    return new


def _as_dask(x, name):
    if x is None:
        return None
    if isinstance(x, da.Array):
        arr = x
    else:
        a = np.asarray(x)
        arr = da.from_array(a, chunks=a.shape or ())
    if any(math.isnan(s) for s in arr.shape):
        raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() "
                         "first")
    return arr


def _align(x, name, chunks0, n, what="y_pred"):
    """`x` (dask or NumPy) cut along axis 0 like y_pred (chunks0), every
    other axis one chunk."""
    if x is None:
        return None
    arr = _as_dask(x, name)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(f"{name} has shape {arr.shape}; its axis 0 must have {n} entries "
                         f"like {what}'s")
    want = (tuple(chunks0),) + tuple((s,) for s in arr.shape[1:])
    if arr.chunks != want:
        arr = arr.rechunk(want)
    return arr


def _row_whole(yp, name, loss):
    for ax in range(1, yp.ndim):
        if len(yp.chunks[ax]) > 1:
            raise ValueError(
                f"{name} is chunked along axis {ax} (chunks {yp.chunks[ax]}); "
                f"{type(loss).__name__} needs every row (sample or image) whole in one "
                f"chunk: rechunk with {name}.rechunk({{{ax}: -1}}) and cut only axis 0")


def _keys(arr, i):
    """The key of block i along axis 0 (every other axis one block)."""
    if arr is None:
        return None
    return (arr.name, i) + (0,) * (arr.ndim - 1)


def _graph(name, layer, deps):
    return HighLevelGraph.from_collections(name, layer, dependencies=[d for d in deps
                                                                     if d is not None])


def _scalar(name, layer, deps):
    """A 0-d float64 dask array from a layer whose key is (name,)."""
    return da.Array(_graph(name, layer, deps), name, chunks=(), dtype=np.float64,
                    meta=np.empty((), dtype=np.float64))


def _second_pass(fin, *arrays):
    """The inputs again for a pass that runs after `fin` (the global
    statistics): fresh read tasks bound to `fin`, so the first pass's chunks
    are released as soon as their statistics are taken instead of being
    held in memory until the gradient pass (out of core, they do not fit)."""
    from dask.graph_manipulation import bind
    after = da.Array(fin.graph, fin.name, chunks=(), dtype=object,
                     meta=np.empty((), dtype=object))
    present = [a for a in arrays if a is not None]
    bound = iter(bind(present, after))
    return [None if a is None else next(bound) for a in arrays]


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _unwrap(x):
    # a contracted one-block axis reaches the function as a list of one block
    while isinstance(x, list):
        x = x[0]
    return x


def _chunk_call(func, consts, per_chunk, block_id, *rest):
    args = list(consts)
    if per_chunk is not None:
        args.append(per_chunk[block_id[0]])
    return func(*args, *[_unwrap(r) for r in rest])


def _as_array(part):
    """A _Part's one key (name,) as a 0-d dask array (an argument of a blockwise layer)."""
    return da.Array(part.graph, part.name, chunks=(), dtype=object,
                    meta=np.empty((), dtype=object))


_ABSENT = object()


def _per_chunk(name, yp, arrays, func, consts=(), per_chunk=None, scalar=_ABSENT, dtype=object,
               chunks=None):
    """One task per axis-0 chunk of `yp`: func(*consts, per_chunk[i], scalar,
    *blocks of `arrays` (None stays None)); `scalar` (a 0-d dask array, or
    None) is left out when not given.

    A Blockwise layer, not a hand-written dict: dask fuses the tasks that
    produce the input chunks (Zarr or NumPy reads, map_blocks) into it, so
    a chunk is read by the task that uses it, on that worker, instead of
    being read on one worker and shipped to another.  Every array is cut
    along axis 0 like `yp` (axis 0 of an array of another length, and every
    other axis, must be one chunk).  The result has `chunks` (yp's along
    axis 0 by default) and holds what func returns."""
    args = []
    fresh = iter(_LETTERS[1:])
    for a in arrays:
        if a is None:
            args += [None, None]
            continue
        first = "a" if (a.shape[0] == yp.shape[0] and a.chunks[0] == yp.chunks[0]) else next(fresh)
        args += [a, first + "".join(next(fresh) for _ in range(a.ndim - 1))]
    if scalar is None:
        args = [None, None] + args
    elif scalar is not _ABSENT:
        args = [scalar, ""] + args
    out_ind = "a" if chunks is None else "a" + "".join(next(fresh) for _ in chunks[1:])
    # the output's other axes are one chunk; blockwise needs their sizes
    new_axes = {out_ind[j]: chunks[j][0] for j in range(1, len(out_ind))}
    meta = np.empty((0,) * len(out_ind), dtype=dtype)
    return da.blockwise(_chunk_call, out_ind, func, None, tuple(consts), None, per_chunk, None,
                        ArrayBlockIdDep((yp.chunks[0],)), "a", *args, name=name,
                        dtype=dtype, meta=meta, concatenate=False, align_arrays=False,
                        new_axes=new_axes, adjust_chunks=None)


class _Part:
    """A layer's keys as a pseudo-collection (for HighLevelGraph deps)."""

    def __init__(self, name, layer, deps):
        self.name = name
        self.graph = _graph(name, layer, deps)

    def __dask_graph__(self):
        return self.graph

    def __dask_layers__(self):
        return (self.name,)


def _sum_in_order(parts):
    """Float64 sum in chunk order (deterministic; +inf stays +inf)."""
    total = 0.0
    for p in parts:
        total += float(p)
    return total


# -------------------------------------------------------- sample-wise plan
def _hinge_like(loss):
    # Hinge losses read the label convention ({-1, 1} or {0, 1}) off the data:
    # the convention must be the same for every chunk.
    from .classification import _HingeBase
    return isinstance(loss, _HingeBase)


def _prep_sample_chunk(loss, n, yt, w):
    """(Σ of the chunk's effective row weights, has -1, has 0)."""
    kind = type(loss).target_kind
    if w is None:
        eff = None
        total = float(n)
    else:
        eff = np.asarray(w, dtype=np.float64)
        total = None
    if kind == "labels" and yt is not None and (
            getattr(loss, "class_weight", None) is not None
            or getattr(loss, "ignore_index", None) is not None):
        lab = np.asarray(yt)
        eff = np.ones(n) if eff is None else eff.copy()
        ig = getattr(loss, "ignore_index", None)
        keep = np.ones(n, dtype=bool) if ig is None else (lab != ig)
        cw = getattr(loss, "class_weight", None)
        if cw is not None:
            idx = np.where(keep, lab, 0).astype(np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= len(cw)):
                raise ValueError(f"y_true holds labels outside [0, {len(cw)})")
            eff = eff * np.asarray(cw, dtype=np.float64)[idx]
        eff = np.where(keep, eff, 0.0)
        total = None
    if total is None:
        total = float(np.sum(eff, dtype=np.float64))
    flags = (False, False)
    if _hinge_like(loss) and yt is not None:
        y = np.asarray(yt)
        flags = (bool((y == -1).any()), bool((y == 0).any()))
    return total, flags


def _prep_sample_combine(parts):
    if any(p[1][0] for p in parts) and any(p[1][1] for p in parts):
        raise ValueError("y_true for a hinge loss must hold labels all in {-1, 1} or all in "
                         "{0, 1}; the chunks of y_true mix the two conventions")
    return _sum_in_order(p[0] for p in parts)


# reductions that divide Σ w l by a global count or weight (SPEC §1, §4.1)
_DIVIDED = ("mean", "sum_over_batch_size")


def _scale_of(reduction, total_weight):
    if reduction not in _DIVIDED:
        return 1.0
    return 0.0 if total_weight == 0.0 else 1.0 / total_weight


def _call(loss_c, method, yt, yp, w, extra):
    return getattr(loss_c, method)(yt, yp, w, **extra)


def _sample_chunk(loss_c, mode, reduction, prep, yt, yp, w, group):
    """One chunk: one in-memory call of the loss with reduction "sum" (or
    "none"); the gradient and hessian scaled by the global 1/Σw for "mean"."""
    extra = {} if group is None else {"group": group}
    value = grad = hess = None
    if mode == "loss":
        value = _call(loss_c, "loss", yt, yp, w, extra)
    elif mode == "gradient":
        grad = _call(loss_c, "gradient", yt, yp, w, extra)
    elif mode == "loss_gradient":
        value, grad = _call(loss_c, "loss_gradient", yt, yp, w, extra)
    else:
        grad, hess = _call(loss_c, "gradient_hessian", yt, yp, w, extra)
    if group is not None and prep is not None and math.isnan(prep):
        # a NaN relevance anywhere makes the whole result NaN, as in memory
        value = (np.full(np.shape(value), np.nan, dtype=np.asarray(value).dtype)
                 if reduction == "none" and value is not None
                 else (math.nan if value is not None else None))
        for arr in (grad, hess):
            if arr is not None:
                arr[...] = np.nan
        return value, grad, hess
    if prep is not None and reduction in _DIVIDED:
        scale = _scale_of(reduction, prep)
        if grad is not None and scale != 1.0:
            grad = np.multiply(grad, scale, out=grad) if scale else np.zeros_like(grad)
        if hess is not None and scale != 1.0:
            hess = np.multiply(hess, scale, out=hess) if scale else np.zeros_like(hess)
    if value is not None and reduction != "none":
        value = float(value)
    return value, grad, hess


def _finish_value(reduction, parts, prep):
    total = _sum_in_order(parts)
    if reduction == "sum":
        return np.float64(total)
    if math.isnan(prep):
        return np.float64(math.nan)
    if prep == 0.0:
        return np.float64(0.0)
    return np.float64(total / prep)


# ------------------------------------------------------------- group prep
def _pair_weight_chunk(yt, w, group):
    """(sorted unique group ids of the chunk, Σ w_i w_j over its pairs y_i > y_j)."""
    y = np.asarray(yt, dtype=np.float64)
    n = y.shape[0]
    ww = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    g = np.zeros(n, dtype=np.int64) if group is None else np.asarray(group)
    if n == 0:
        return np.empty(0, dtype=np.int64), 0.0
    order = np.lexsort((y, g))
    gs, ys, ws = g[order], y[order], ww[order]
    new_group = np.r_[True, gs[1:] != gs[:-1]]
    new_run = new_group | np.r_[True, ys[1:] != ys[:-1]]
    idx = np.arange(n)
    gstart = np.maximum.accumulate(np.where(new_group, idx, 0))
    rstart = np.maximum.accumulate(np.where(new_run, idx, 0))
    cw = np.concatenate([[0.0], np.cumsum(ws)])
    below = cw[rstart] - cw[gstart]          # Σ w_j, same group, y_j < y_i
    ids = gs[new_group]
    if np.isnan(y).any():
        return ids, math.nan
    return ids, float(np.sum(ws * below))


def _pair_weight_combine(parts):
    ids = [p[0] for p in parts]
    allids = np.concatenate(ids) if ids else np.empty(0)
    uniq, counts = np.unique(allids, return_counts=True)
    if (counts > 1).any():
        bad = uniq[counts > 1][:5].tolist()
        raise ValueError(
            f"group: query id(s) {bad} appear in more than one chunk; every group must lie "
            "inside one chunk: sort the rows by group and rechunk y_pred, y_true, "
            "sample_weight and group with chunk boundaries at group boundaries")
    return _sum_in_order(p[1] for p in parts)


def _pair_weight_topk_chunk(k, yt, yp, w, group):
    """LambdaRank with k: (group ids, Σ w_i w_j over the pairs y_i > y_j with
    min(r_i, r_j) < k), r the 0-based rank by y_pred descending in its group
    (ties in input order: a chunk keeps its groups' order).  The pairs with
    both items at rank >= k are subtracted from all pairs (a group of pairs
    always has IDCG > 0: y_i > y_j >= 0)."""
    ids, total = _pair_weight_chunk(yt, w, group)
    y = np.asarray(yt, dtype=np.float64)
    n = y.shape[0]
    if n == 0 or math.isnan(total):
        return ids, total
    s = np.asarray(yp, dtype=np.float64)
    g = None if group is None else np.asarray(group)
    starts = None
    if g is not None:
        gs = np.sort(g)
        starts = np.r_[np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]]), n]
    low = _score_ranks(s, g, starts) >= k          # the in-memory loss's ranks
    if not low.any():
        return ids, total
    ww = None if w is None else np.asarray(w, dtype=np.float64)[low]
    _, outside = _pair_weight_chunk(y[low], ww, None if g is None else g[low])
    return ids, total - outside


# Ranking losses the per-group plan knows: their "mean" divides by Σ w_i w_j
# over the counted pairs y_i > y_j: from labels and weights alone
# (`_pair_weight_chunk`), or, for LambdaRank with k (only pairs with an item
# ranked within k by y_pred count), from one more read of y_pred.
_GROUP_LOSSES = (RankNet, LambdaRank)


# ------------------------------------------------------------------ plans
class _SamplePlan:
    """Per-chunk independent units along axis 0 (samples, images, groups)."""

    def __init__(self, loss, yt, yp, w, group=None, units="samples"):
        self.loss, self.yt, self.yp, self.w, self.group = loss, yt, yp, w, group
        self.units = units

    def build(self, mode):
        loss, yt, yp, w, group = self.loss, self.yt, self.yp, self.w, self.group
        reduction = loss.reduction
        nb = len(yp.chunks[0])
        token = tokenize(loss, yt, yp, w, group, mode)
        # the prep pass: the global "mean" denominator and cross-chunk checks,
        # from weights, labels and groups (never y_pred)
        need_prep = (reduction in _DIVIDED or _hinge_like(loss) or self.units == "groups")
        # "sum_over_batch_size" divides by the number of units, weight-0 ones
        # included: the prep then counts, it does not weigh
        wp = None if reduction == "sum_over_batch_size" else w
        prep = None
        if need_prep:
            pname = "fastloss-prep-" + token
            top_k = getattr(loss, "k", None)
            if self.units == "groups" and top_k is not None:
                parts = _per_chunk(pname + "-part", yp, [yt, yp, wp, group],
                                   _pair_weight_topk_chunk, (top_k,))
                combine = _pair_weight_combine
            elif self.units == "groups":
                parts = _per_chunk(pname + "-part", yp, [yt, wp, group], _pair_weight_chunk)
                combine = _pair_weight_combine
            else:
                read_labels = ((type(loss).target_kind == "labels"
                                and reduction != "sum_over_batch_size") or _hinge_like(loss))
                # a 1-D input of a row loss is one row (one sample), not n
                one_row = type(loss).target_kind == "rows" and yp.ndim == 1
                sizes = [1 if one_row else int(c) for c in yp.chunks[0]]
                parts = _per_chunk(pname + "-part", yp, [yt if read_labels else None, wp],
                                   _prep_sample_chunk, (loss,), per_chunk=sizes)
                combine = _prep_sample_combine
            layer = {(pname,): (combine, [(parts.name, i) for i in range(nb)])}
            prep = _as_array(_Part(pname, layer, [parts]))
        chunk_red = "none" if reduction == "none" else "sum"
        loss_c = _with_reduction(loss, chunk_red)
        cname = "fastloss-chunk-" + token
        chunks = _per_chunk(cname, yp, [yt, yp, w, group], _sample_chunk,
                            (loss_c, mode, reduction), scalar=prep)
        out = {}
        if mode in ("loss", "loss_gradient"):
            out["value"] = self._value(chunks, cname, nb, reduction, prep, token)
        if mode != "loss":
            out["grad"] = self._array(chunks, cname, 1, "grad", token)
        if mode == "gradient_hessian":
            out["hess"] = self._array(chunks, cname, 2, "hess", token)
        return out

    def _array(self, chunks, cname, field, what, token):
        yp = self.yp
        name = f"fastloss-{what}-" + token
        layer = {}
        for i in range(len(yp.chunks[0])):
            layer[(name, i) + (0,) * (yp.ndim - 1)] = (operator.getitem, (cname, i), field)
        return da.Array(_graph(name, layer, [chunks]), name, chunks=yp.chunks, dtype=yp.dtype,
                        meta=np.empty((0,) * yp.ndim, dtype=yp.dtype))

    def _value(self, chunks, cname, nb, reduction, prep, token):
        yp = self.yp
        prep_key = None if prep is None else (prep.name,)
        name = "fastloss-value-" + token
        layer = {}
        # one small task per chunk picks the value out, so the chunk's
        # gradient is released as soon as it is stored, not held until the end
        for i in range(nb):
            layer[(name + "-part", i)] = (operator.getitem, (cname, i), 0)
        if reduction == "none":
            if self.units == "groups":
                sizes = (math.nan,) * nb
            else:
                sizes = yp.chunks[0]
            for i in range(nb):
                layer[(name, i)] = (np.asarray, (name + "-part", i))
            return da.Array(_graph(name, layer, [chunks]), name, chunks=(sizes,),
                            dtype=yp.dtype, meta=np.empty((0,), dtype=yp.dtype))
        parts = [(name + "-part", i) for i in range(nb)]
        layer[(name,)] = (_finish_value, reduction, parts, prep_key)
        return _scalar(name, layer, [chunks])


# ----------------------------------------------------------- set-level plan
# Jaccard, F1/Dice, Tversky and Kappa: each chunk's statistics are one call
# of the kernel the in-memory loss calls (``_sets.overlap_sums`` /
# ``overlap_pos_sums``, ``_sets.kappa_stats``), combined in chunk order; the
# loss's own finish turns the global sums into the value and the gradient's
# constants (``overlap_scores`` and ``_finish``; ``kappa_finish``); each
# chunk's gradient is one call of the gradient kernel with those global
# constants (``overlap_grad`` / ``overlap_pos_grad``, ``kappa_grad_given``).

def _set_spec(cls):
    """The overlap kind of a loss class ("jaccard", "f1", "tversky"), or None."""
    for base, kind in ((TverskyLoss, "tversky"), (JaccardLoss, "jaccard"), (F1Loss, "f1")):
        if issubclass(cls, base):
            return kind
    return None


def _positions(shape, k):
    outer = int(np.prod(shape[:k], dtype=np.int64))
    inner = int(np.prod(shape[k + 1:], dtype=np.int64))
    return outer, shape[k], inner


class _OverlapChunk:
    """One chunk's arguments for the overlap kernels, checked as the
    in-memory ``_OverlapLoss._compute`` checks them."""

    def __init__(self, loss, k, label_map, yt, yp, w):
        self.yp = yp = _validate.float_array(yp, "y_pred")
        n = yp.shape[0]
        self.labels = self.yt = None
        if label_map:
            self.labels = _validate.labels(yt, yp.shape[:k] + yp.shape[k + 1:])
        else:
            if np.shape(yt) != yp.shape:
                raise ValueError(f"y_true has shape {np.shape(yt)}; it must have y_pred's "
                                 f"shape {yp.shape} (no broadcasting)")
            self.yt, self.yp = yt, yp = _validate.float_pair(yt, yp)
        self.w = w = _validate.sample_weight(w, n)
        self.class_w = None
        self.dense = self.labels is None and not loss.from_logits
        ignore = loss.ignore_index
        if self.dense:
            C, inner = (1, 1) if k is None else _positions(yp.shape, k)[1:]
            self.args = (self.yt.reshape(-1), yp.reshape(-1), w, C, inner, yp.size // n)
        else:
            outer, C, inner = _positions(yp.shape, k)
            # sample_weight weighs axis 0: rows of positions for k >= 1, the
            # classes for k = 0 (applied to the class sums, as in memory)
            pos_w, self.class_w = (None, w) if k == 0 else (w, None)
            self.args = (yp.reshape(-1), None if self.labels is None else self.labels.reshape(-1),
                         None if self.yt is None else self.yt.reshape(-1), pos_w, outer, C,
                         inner, max(outer // n, 1) if k else 1, loss.from_logits)
            self.ignore = (ignore is not None, 0 if ignore is None else ignore)
        self.C = C


def _overlap_stats_chunk(loss, k, label_map, C, offset, yt, yp, w):
    """The chunk's three sums per class, (3, C) float64 (with class_axis=0
    the chunk's classes are columns offset.. of the whole set's)."""
    ch = _OverlapChunk(loss, k, label_map, yt, yp, w)
    squares = _set_spec(type(loss)) == "jaccard"
    if ch.dense:
        sums = _sets.overlap_sums(*ch.args, squares, get_num_threads())
    else:
        sums, bad = _sets.overlap_pos_sums(*ch.args, squares, *ch.ignore, get_num_threads())
        if bad:
            ig = loss.ignore_index
            raise ValueError(f"y_true holds {bad} label(s) outside [0, {ch.C})"
                             + ("" if ig is None else f" that are not ignore_index={ig}"))
        if ch.class_w is not None:
            sums = sums * ch.class_w
    if k != 0:
        return sums
    out = np.zeros((3, C))
    out[:, offset:offset + ch.C] = sums
    return out


def _overlap_finish(loss, dtype, sums):
    """(the value, the gradient's per-class coefficients (3, C) scaled by the
    reduction and Tversky's γ), by the in-memory loss's own formulas."""
    alpha, beta = loss._alpha_beta()
    losses, coef = _sets.overlap_scores(_KINDS[_set_spec(type(loss))],
                                        np.ascontiguousarray(sums), loss.smooth, alpha, beta)
    value, scale = loss._finish(losses, dtype)
    return value, coef * scale


def _overlap_value(loss, fin):
    value = fin[0]
    if loss.reduction == "none":
        return np.asarray(value)
    return np.float64(value)


def _overlap_grad_chunk(loss, k, label_map, offset, fin, yt, yp, w):
    ch = _OverlapChunk(loss, k, label_map, yt, yp, w)
    coef = fin[1]
    if k == 0:
        coef = coef[:, offset:offset + ch.C]
        if ch.class_w is not None:
            coef = coef * ch.class_w
    coef = np.ascontiguousarray(coef)
    grad = np.empty(ch.yp.shape, dtype=ch.yp.dtype)
    if ch.dense:
        _sets.overlap_grad(*ch.args, coef, grad.reshape(-1), get_num_threads())
    else:
        _sets.overlap_pos_grad(*ch.args, *ch.ignore, coef, grad.reshape(-1), get_num_threads())
    return grad


class _OverlapPlan:
    def __init__(self, loss, yt, yp, w, k, label_map):
        self.loss, self.yt, self.yp, self.w = loss, yt, yp, w
        self.k, self.label_map = k, label_map

    def build(self, mode):
        if mode == "gradient_hessian":
            raise AttributeError(f"{type(self.loss).__name__} has no gradient_hessian")
        loss, yt, yp, w, k = self.loss, self.yt, self.yp, self.w, self.k
        C = 1 if k is None else yp.shape[k]
        nb = len(yp.chunks[0])
        offsets = np.concatenate([[0], np.cumsum(yp.chunks[0])]).astype(int).tolist()
        dtype = _validate.work_dtype(yp.dtype)
        token = tokenize(loss, yt, yp, w, mode, self.label_map)
        sname = "fastloss-stats-" + token
        parts = _per_chunk(sname + "-part", yp, [yt, yp, w], _overlap_stats_chunk,
                           (loss, k, self.label_map, C), per_chunk=offsets)
        layer = {(sname + "-sum",): (_stats_combine, [(parts.name, i) for i in range(nb)]),
                 (sname,): (_overlap_finish, loss, dtype, (sname + "-sum",))}
        fin = _Part(sname, layer, [parts])
        out = {}
        if mode in ("loss", "loss_gradient"):
            vname = "fastloss-value-" + token
            if loss.reduction == "none":
                vl = {(vname, 0): (_overlap_value, loss, (sname,))}
                out["value"] = da.Array(_graph(vname, vl, [fin]), vname, chunks=((C,),),
                                        dtype=dtype, meta=np.empty((0,), dtype=dtype))
            else:
                out["value"] = _scalar(vname, {(vname,): (_overlap_value, loss, (sname,))},
                                       [fin])
        if mode != "loss":
            gname = "fastloss-grad-" + token
            yt2, yp2, w2 = _second_pass(fin, yt, yp, w)
            out["grad"] = _per_chunk(gname, yp, [yt2, yp2, w2], _overlap_grad_chunk,
                                     (loss, k, self.label_map), per_chunk=offsets,
                                     scalar=_as_array(fin), dtype=dtype, chunks=yp.chunks)
        return out


def _stats_combine(parts):
    """Float64 sum of the chunks' statistics, in chunk order."""
    total = np.zeros_like(parts[0])
    for p in parts:
        total = total + p
    return total


# ----------------------------------------------------------------- Kappa
_KAPPA_KIND = {None: 0, "linear": 1, "quadratic": 2}


def _kappa_args(loss, yt, yp, w):
    P = _validate.float_array(yp, "y_pred")
    if P.ndim != 2:
        raise ValueError(f"y_pred must have shape (n, C), got {P.shape}")
    n, C = P.shape
    labels, _ = _validate.class_indices(yt, n, C)
    return labels, P, _validate.sample_weight(w, n), n, C, _KAPPA_KIND[loss.weights]


def _kappa_stats_chunk(loss, yt, yp, w):
    labels, P, ww, n, C, kind = _kappa_args(loss, yt, yp, w)
    return _sets.kappa_stats(labels, P.reshape(-1), ww, n, C, kind, loss.from_logits,
                             get_num_threads())


def _kappa_finish(loss, C, st):
    return _sets.kappa_finish(st, C, _KAPPA_KIND[loss.weights])


def _kappa_value(fin):
    return np.float64(fin[0])


def _kappa_grad_chunk(loss, fin, yt, yp, w):
    labels, P, ww, n, C, kind = _kappa_args(loss, yt, yp, w)
    _, scale, u = fin
    grad = np.empty(P.shape, dtype=P.dtype)
    _sets.kappa_grad_given(labels, P.reshape(-1), ww, n, C, kind, loss.from_logits, scale, u,
                           grad.reshape(-1), get_num_threads())
    return grad


class _KappaPlan:
    def __init__(self, loss, yt, yp, w):
        self.loss, self.yt, self.yp, self.w = loss, yt, yp, w

    def build(self, mode):
        if mode == "gradient_hessian":
            raise AttributeError("KappaLoss has no gradient_hessian")
        loss, yt, yp, w = self.loss, self.yt, self.yp, self.w
        if yp.ndim != 2:
            raise ValueError(f"y_pred must have shape (n, C), got {yp.shape}")
        _row_whole(yp, "y_pred", loss)
        nb = len(yp.chunks[0])
        dtype = _validate.work_dtype(yp.dtype)
        token = tokenize(loss, yt, yp, w, mode)
        sname = "fastloss-kstats-" + token
        parts = _per_chunk(sname + "-part", yp, [yt, yp, w], _kappa_stats_chunk, (loss,))
        layer = {(sname + "-sum",): (_stats_combine, [(parts.name, i) for i in range(nb)]),
                 (sname,): (_kappa_finish, loss, yp.shape[1], (sname + "-sum",))}
        fin = _Part(sname, layer, [parts])
        out = {}
        if mode in ("loss", "loss_gradient"):
            vname = "fastloss-value-" + token
            out["value"] = _scalar(vname, {(vname,): (_kappa_value, (sname,))}, [fin])
        if mode != "loss":
            gname = "fastloss-grad-" + token
            yt2, yp2, w2 = _second_pass(fin, yt, yp, w)
            out["grad"] = _per_chunk(gname, yp, [yt2, yp2, w2], _kappa_grad_chunk, (loss,),
                                     scalar=_as_array(fin), dtype=dtype, chunks=yp.chunks)
        return out


# ------------------------------------------------------------ the planner
def _overlap_plan(loss, y_true, yp, sample_weight):
    """Jaccard / F1 / Tversky: dense y_true of y_pred's shape, or a label map
    (y_pred's shape without the class axis, SPEC §4.3)."""
    n, c0 = yp.shape[0], yp.chunks[0]
    # the in-memory checks: from_logits and ignore_index need class_axis,
    # which must be in range
    k = loss._class_axis(np.empty((0,) * yp.ndim))
    ytd = _as_dask(y_true, "y_true")
    label_map = k is not None and ytd.ndim == yp.ndim - 1
    if label_map and ytd.shape != yp.shape[:k] + yp.shape[k + 1:]:
        raise ValueError(f"y_true must have shape {yp.shape[:k] + yp.shape[k + 1:]} to match "
                         f"y_pred, got {ytd.shape}")
    if not label_map:
        if ytd.shape != yp.shape:
            hint = "" if k is None else f" or, as a label map, {yp.shape[:k] + yp.shape[k + 1:]}"
            raise ValueError(f"y_true has shape {ytd.shape}; it must have y_pred's shape "
                             f"{yp.shape}{hint} (no broadcasting)")
        if loss.ignore_index is not None:
            raise ValueError("ignore_index applies to a label map (integer y_true of y_pred's "
                             "shape without class_axis); y_true has y_pred's shape")
    if k is not None and len(yp.chunks[k]) > 1 and k != 0:
        raise ValueError(f"y_pred is chunked along its class axis {k}; rechunk with "
                         f"y_pred.rechunk({{{k}: -1}}) and cut only axis 0")
    _row_whole(yp, "y_pred", loss)
    if k == 0 and len(c0) > 1 and (loss.from_logits or label_map):
        what = "from_logits=True (the softmax runs along axis 0)" if loss.from_logits else \
            "a label map y_true (each position's class is on axis 0)"
        raise ValueError(f"class_axis=0 with {what}: y_pred must be one chunk along axis 0; "
                         "rechunk with y_pred.rechunk({0: -1}) or put the classes on another "
                         "axis")
    if label_map and k == 0:
        yt = ytd.rechunk(ytd.shape)         # every chunk needs the whole map
    else:
        yt = _align(ytd, "y_true", c0, n)
    w = _align(sample_weight, "sample_weight", c0, n)
    return _OverlapPlan(loss, yt, yp, w, k, label_map)


def _plan(loss, y_true, y_pred, sample_weight, group):
    yp = _as_dask(y_pred, "y_pred")
    if yp.ndim == 0 or yp.size == 0:
        raise ValueError(f"y_pred is empty or 0-d (shape {yp.shape}); nothing to compute")
    n = yp.shape[0]
    c0 = yp.chunks[0]
    cls = type(loss)
    name = cls.__name__
    if _set_spec(cls) is not None:
        return _overlap_plan(loss, y_true, yp, sample_weight)
    yt = _align(y_true, "y_true", c0, n)
    if cls.target_kind is not None:
        _row_whole(yp, "y_pred", loss)
        if cls.target_kind == "rows" and yp.ndim == 1 and len(c0) > 1:
            raise ValueError(f"a 1-D y_pred is one row for {name}; it cannot be cut: "
                             "rechunk y_pred (and y_true) to one chunk, or give 2-D rows")
        if yp.ndim == 1 and cls.target_kind == "rows":
            w = _as_dask(sample_weight, "sample_weight")
            if w is not None:
                w = w.rechunk(w.shape)
        else:
            w = _align(sample_weight, "sample_weight", c0, n)
        return _SamplePlan(loss, yt, yp, w)
    if issubclass(cls, KappaLoss):
        w = _align(sample_weight, "sample_weight", c0, n)
        return _KappaPlan(loss, yt, yp, w)
    if hasattr(loss, "per_image"):
        if not loss.per_image:
            raise ValueError(
                f"{name} with per_image=False sorts all pixels of the set at once and cannot "
                "be split into chunks: use per_image=True (one image per unit, images along "
                "axis 0), or compute it in memory")
        _row_whole(yp, "y_pred", loss)
        w = _align(sample_weight, "sample_weight", c0, n)
        return _SamplePlan(loss, yt, yp, w, units="images")
    if "group" in cls._param_names and issubclass(cls, _GROUP_LOSSES):
        if group is None:
            group = getattr(loss, "group", None)
        if group is None and len(c0) > 1:
            raise ValueError(
                f"group is None: {name} then ranks all of y_pred as one list, which must be "
                "one chunk; pass group= (query ids, a dask array chunked like y_pred, every "
                "group inside one chunk) or rechunk y_pred to one chunk")
        g = _align(group, "group", c0, n)
        w = _align(sample_weight, "sample_weight", c0, n)
        loss = _with_reduction(loss, loss.reduction)
        loss.group = None
        return _SamplePlan(loss, yt, yp, w, group=g, units="groups")
    raise NotImplementedError(f"fastloss.dask has no distributed plan for {name} yet")


def _run(mode, loss, y_true, y_pred, sample_weight, params):
    group = params.pop("group", None) if "group" in params else None
    loss = _resolve(loss, params)
    if mode == "gradient_hessian" and not hasattr(loss, "gradient_hessian"):
        raise AttributeError(f"{type(loss).__name__} has no gradient_hessian")
    return _plan(loss, y_true, y_pred, sample_weight, group).build(mode)


def loss(loss, y_true, y_pred, sample_weight=None, **params):
    """The loss as a lazy 0-d dask array (1-D for ``reduction="none"``).

    `loss`: a fastloss Loss or a registry name; `params` go to its
    constructor (``reduction=`` included), except ``group=`` (query ids of
    a ranking loss, a dask array chunked like `y_pred`)."""
    return _run("loss", loss, y_true, y_pred, sample_weight, dict(params))["value"]


def gradient(loss, y_true, y_pred, sample_weight=None, **params):
    """d(reduced loss)/d y_pred, a lazy dask array chunked like `y_pred`."""
    return _run("gradient", loss, y_true, y_pred, sample_weight, dict(params))["grad"]


def loss_gradient(loss, y_true, y_pred, sample_weight=None, **params):
    """(value, gradient), lazy; computing both together reads each chunk once
    per pass (``dask.compute(value, grad)`` or ``da.store(..., compute=False)``)."""
    out = _run("loss_gradient", loss, y_true, y_pred, sample_weight, dict(params))
    return out["value"], out["grad"]


def gradient_hessian(loss, y_true, y_pred, sample_weight=None, **params):
    """(gradient, hessian diagonal), lazy, from one pass; losses SPEC marks H."""
    out = _run("gradient_hessian", loss, y_true, y_pred, sample_weight, dict(params))
    return out["grad"], out["hess"]


# -------------------------------------------------------------- objective
def _objective_chunk(loss, X, y, w, params, fit_intercept, n_outputs):
    fun = _objective.LinearObjective(loss, X, y, alpha=0.0, sample_weight=w,
                                     fit_intercept=fit_intercept, n_outputs=n_outputs)
    return fun(params)


def _objective_combine(parts):
    value = 0.0
    grad = np.zeros_like(parts[0][1])
    for v, g in parts:
        value += float(v)
        grad += g
    return value, grad


class DaskLinearObjective:
    """``fun(w) -> (value, gradient)`` of :func:`fastloss.objective` over a
    dask ``X``: each call is one distributed pass (see :func:`objective`)."""

    def __init__(self, loss, X, y, *, alpha=0.0, sample_weight=None, fit_intercept=False,
                 n_outputs=None, scale=1.0, persist=True):
        self.loss = loss
        X = _as_dask(X, "X")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
        n, d = X.shape
        if n == 0 or d == 0:
            raise ValueError(f"X is empty (shape {X.shape})")
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        c0 = X.chunks[0]
        yy = _align(y, "y", c0, n, what="X")
        w = _align(sample_weight, "sample_weight", c0, n, what="X")
        self.kind = kind = _objective.target_kind(loss)
        if kind == "labels" and n_outputs is None:
            n_outputs = int(yy.max().compute()) + 1
        if persist:
            X, yy, w = dask.persist(X, yy, w)
        self.X, self.y, self.sample_weight = X, yy, w
        self.alpha = float(alpha)
        self.scale = float(scale)
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.fit_intercept = bool(fit_intercept)
        # the shape bookkeeping (unpack, n_params) is fastloss.objective's own:
        # build it on the first rows, which are small
        head = min(n, int(c0[0]))
        yh = yy[:head].compute()
        self._local = _objective.LinearObjective(
            loss, np.zeros((head, d)), yh, fit_intercept=fit_intercept, n_outputs=n_outputs)
        self.n_outputs_arg = n_outputs if kind == "labels" else None
        self.n_features = d
        self.n_outputs = self._local.n_outputs
        self.n_params = self._local.n_params

    def unpack(self, w):
        return self._local.unpack(w)

    def __call__(self, params):
        params = np.asarray(params, dtype=np.float64)
        coef, _ = self.unpack(params)
        X, y, w = self.X, self.y, self.sample_weight
        nb = len(X.chunks[0])
        token = tokenize(X, y, w, params, self.loss, self.fit_intercept)
        name = "fastloss-objective-" + token
        layer = {(name + "-part", i): (_objective_chunk, self.loss, (X.name, i, 0), _keys(y, i),
                                       _keys(w, i), params, self.fit_intercept,
                                       self.n_outputs_arg)
                 for i in range(nb)}
        layer[(name,)] = (_objective_combine, [(name + "-part", i) for i in range(nb)])
        part = _Part(name, layer, [X, y, w])
        value, grad = dask.compute(_Delayed(part, (name,)))[0]
        grad = grad.reshape(self.n_outputs, -1)
        if self.alpha:
            value += self.alpha * float(np.sum(coef * coef))
            grad[:, :self.n_features] += (2.0 * self.alpha) * coef
        return value * self.scale, grad.reshape(-1) * self.scale


class _Delayed:
    """One key of a graph as a computable collection."""

    def __init__(self, part, key):
        self._part, self._key = part, key

    def __dask_graph__(self):
        return self._part.graph

    def __dask_keys__(self):
        return [self._key]

    def __dask_layers__(self):
        return (self._part.name,)

    @staticmethod
    def __dask_optimize__(dsk, keys, **kwargs):
        return dsk

    def __dask_postcompute__(self):
        return operator.itemgetter(0), ()

    def __dask_tokenize__(self):
        return self._key

    __dask_scheduler__ = staticmethod(dask.threaded.get)


def objective(loss, X, y, alpha=0.0, sample_weight=None, *, fit_intercept=False,
              n_outputs=None, scale=1.0, persist=True, **loss_params):
    """:func:`fastloss.objective` over a dask ``X`` (rows chunked; features
    one chunk): ``fun(w) -> (value, gradient)`` for
    ``scipy.optimize.minimize(fun, np.zeros(fun.n_params), jac=True)``.

    Same arguments and meaning as :func:`fastloss.objective`; `y` and
    `sample_weight` are cut like ``X``.  Each call is one distributed pass:
    per chunk one product, one fused ``loss_gradient`` (``"sum"``
    reduction), one product back; the per-chunk values and gradients come
    back to the client and are added in chunk order (deterministic).  With
    ``persist=True`` (default) ``X``, ``y`` and the weights are persisted on
    the workers once, so an evaluation does not recompute them.
    """
    if isinstance(loss, Loss):
        loss = _objective.rebuild(loss, loss_params, reduction="sum")
    else:
        loss = _objective.for_linear_model(loss, loss_params)
    return DaskLinearObjective(loss, X, y, alpha=alpha, sample_weight=sample_weight,
                               fit_intercept=fit_intercept, n_outputs=n_outputs, scale=scale,
                               persist=persist)


# ------------------------------------------------------- function forms
def _function_form(cls):
    def fn(y_true, y_pred, sample_weight=None, **params):
        return loss(cls, y_true, y_pred, sample_weight, **params)
    fn.__name__ = fn.__qualname__ = cls.function_name
    fn.__doc__ = (f"``fld.loss({cls.function_name!r}, ...)``: {cls.__name__} over dask "
                  "arrays, a lazy value.")
    return fn


def __getattr__(name):
    # fld.mse(y, p), fld.huber(...): every registered name as a lazy value
    try:
        cls = type(_registry.get(name)) if not name.startswith("_") else None
    except (ValueError, TypeError):
        cls = None
    if cls is None:
        raise AttributeError(f"module 'fastloss.dask' has no attribute {name!r}")
    return _function_form(cls)
