"""``fastloss.init_score``: the constant prediction that minimises a loss.

A gradient-boosting model starts from one constant score and adds trees to
it.  XGBoost's and LightGBM's built-in objectives choose that constant
themselves (the label mean, median, quantile, log-odds, ...); a custom
objective starts from whatever the user passes (0 by default), and the
first trees are then spent walking from 0 to where the built-in starts.
``init_score(loss, y_true)`` gives that start for a fastloss loss, in the
loss's input space (a margin for ``from_logits`` losses, a log-rate for
``log_input`` losses).  How to hand it to a booster: see the module
docstrings of ``fastloss.xgboost`` (``base_score`` / ``base_margin``) and
``fastloss.lightgbm`` (``init_score`` on the Dataset).

Which constant a loss has is class metadata, ``init_kind`` (read here and
nowhere else; a loss without it raises NotImplementedError):

================  ======================================================
``"mean"``        weighted mean (MSE; PseudoHuber starts there too;
                  Poisson / Tweedie with the mean as input)
``"median"``      weighted median (MAE)
``"quantile"``    weighted q-quantile, per column (Pinball, ``loss.quantile``)
``"log_mean"``    log of the weighted mean (Poisson / Tweedie, log_input)
``"log_odds"``    log-odds of the (weighted, smoothed, pos-weighted) mean
                  (binary cross-entropies with logits)
``"probability"`` the same as a probability (binary cross-entropies on probabilities)
``"log_prior"``   log class priors, a length-C array (softmax cross-entropies with logits)
``"prior"``       the class priors themselves (softmax cross-entropies on probabilities)
================  ======================================================
"""
from __future__ import annotations

import numpy as np

from . import _validate
from ._base import Loss
from ._objective import for_linear_model, loss_class, rebuild

__all__ = ["init_score"]

KINDS = ("mean", "median", "quantile", "log_mean", "log_odds", "probability",
         "log_prior", "prior")


def init_score(loss, y_true, sample_weight=None, **params):
    """The constant prediction that minimises `loss` on `y_true`.

    Parameters
    ----------
    loss : str or Loss
        A fastloss loss instance (used as configured) or a registry name
        (``params`` go to its constructor).  A *name* is configured the way
        the boosting adapters configure it (``fastloss.xgboost.objective``,
        ``fastloss.lightgbm.objective``): ``from_logits=True`` and
        ``log_input=True`` where the loss has them, so
        ``init_score("binary_crossentropy", y)`` is a margin and
        ``init_score("poisson", y)`` a log-rate, ready for ``base_score``.
    y_true : array
        The targets: ``(n,)`` or ``(n, k)`` for elementwise losses (a 2-D
        ``y_true`` gives one start per column, a length-k array); class
        indices ``(n,)`` or one-hot / probability rows ``(n, C)`` for the
        softmax cross-entropies (either for both of them).
    sample_weight : array (n,) or None
        Non-negative weights; weight-0 samples are left out entirely.

    Returns
    -------
    float, or a float64 array: length k for 2-D elementwise targets (and
    for a Pinball loss with k quantiles), length C for softmax losses.

    What is minimised, by ``loss.init_kind``:

    - ``"mean"``: ``Σ w y / Σ w``.
    - ``"median"`` / ``"quantile"``: the weighted q-quantile (q = 0.5 for
      the median) **defined as the minimiser of the weighted pinball loss**
      ``Σ w_i ρ_q(y_i - m)``, so that it is exactly the best constant for
      Pinball / MAE: with the values sorted and cumulative weights ``W_k``
      (total ``W``), it is the smallest ``y_(k)`` with ``W_k > qW``; when
      some ``W_k`` equals ``qW`` (up to rounding, 1e-12 W) every point of
      ``[y_(k), y_(k+1)]`` minimises and the midpoint is returned.  For unit
      weights and q = 0.5 that is NumPy's ``median`` (the mean of the two
      middle values for even n); it is not NumPy's default (linearly
      interpolated) ``quantile``, whose value need not minimise the pinball
      loss.  A Pinball loss with an array ``quantile`` uses ``quantile[j]``
      for column j of a 2-D ``y_true``.
    - ``"log_mean"``: ``log(Σ w y / Σ w)`` (``-inf`` if every target is 0:
      the infimum is not attained).  Negative targets are a ValueError.
    - ``"log_odds"``: ``log(a m / (b (1 - m)))`` with ``m`` the weighted mean of
      the (label-smoothed) targets and ``a``, ``b`` the positive and
      negative weights (``pos_weight`` and 1 for BinaryCrossentropy; β and
      1 - β for BalancedCrossentropy); ``±inf`` if ``m`` is 0 or 1.  Targets
      outside [0, 1] are a ValueError.  ``"probability"``: the same as a
      probability, ``a m / (a m + b (1 - m))``.
    - ``"log_prior"``: ``log(A_c / Σ A)`` with ``A_c = Σ_i w_i a_c ỹ_ic``
      (``a_c`` = class_weight, ``ỹ`` = the label-smoothed target row; rows
      whose label is ``ignore_index`` are left out); ``-inf`` for a class
      with no weight.  Class indices give C = max label + 1.  Softmax
      logits are defined up to a constant; these sum to ``log 1`` in
      probability, i.e. ``logsumexp = 0``.  ``"prior"``: ``A_c / Σ A``.

    Total weight 0 (nothing to fit): the neutral start, 0.0 in the loss's
    input space (0.5 / uniform priors for the probability kinds).  NaN
    in ``y_true`` gives NaN for the columns that hold it.  A loss whose
    class has no ``init_kind`` raises NotImplementedError naming it.
    """
    loss = _resolve(loss, params)
    kind = getattr(loss, "init_kind", None)
    if kind is None:
        raise NotImplementedError(
            f"fastloss.init_score has no constant start for {type(loss).__name__}: it is "
            "defined for losses with an init_kind (mean, median, quantile, log-odds, log-mean, "
            "log-prior minimisers); start that booster from 0 or your own value")
    if kind not in KINDS:
        raise NotImplementedError(f"{type(loss).__name__}.init_kind={kind!r} is not one of {KINDS}")
    if kind in ("log_prior", "prior"):
        return _priors(loss, y_true, sample_weight, log=kind == "log_prior")
    y, w = _targets(y_true, sample_weight)
    if w is not None and not np.sum(w) > 0:
        neutral = 0.5 if kind == "probability" else 0.0
        return neutral if y.ndim == 1 else np.full(y.shape[1], neutral)
    if kind in ("median", "quantile"):
        q = 0.5 if kind == "median" else getattr(loss, "quantile")
        return _per_column(y, w, lambda col, wc, j: _weighted_quantile(col, wc, _qj(q, j, y)))
    if kind in ("log_odds", "probability"):
        return _per_column(y, w, lambda col, wc, j: _binary(loss, col, wc, kind, j))
    if kind == "log_mean" and np.any(y < 0):
        raise ValueError(f"y_true must be non-negative for {type(loss).__name__} "
                         "(a log-mean start), got a negative target")

    def mean(col, wc, j):
        m = _weighted_mean(col, wc)
        if kind == "log_mean":
            with np.errstate(divide="ignore"):
                return float(np.log(m)) if m == m else m
        return m
    return _per_column(y, w, mean)


# ----------------------------------------------------------------- helpers
def _resolve(loss, params):
    if isinstance(loss, Loss):
        return rebuild(loss, params) if params else loss
    if isinstance(loss, str) or (isinstance(loss, type) and issubclass(loss, Loss)):
        return for_linear_model(loss, params, reduction="mean")
    raise TypeError(f"loss must be a fastloss loss name or Loss instance, got {type(loss).__name__}")


def _targets(y_true, sample_weight):
    y = np.asarray(y_true)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y_true must hold real numbers, got dtype {y.dtype}")
    if y.ndim not in (1, 2):
        raise ValueError(f"y_true must have shape (n,) or (n, k), got {y.shape}")
    if y.shape[0] == 0 or y.size == 0:
        raise ValueError(f"y_true is empty (shape {y.shape})")
    w = _validate.sample_weight(sample_weight, y.shape[0])
    return y.astype(np.float64, copy=False), w


def _qj(q, j, y):
    q = np.asarray(q, dtype=np.float64)
    if q.ndim == 0:
        return float(q)
    k = 1 if y.ndim == 1 else y.shape[1]
    if q.shape != (k,):
        raise ValueError(f"quantile has {q.size} values, y_true has {k} column(s)")
    return float(q[j])


def _per_column(y, w, fn):
    if y.ndim == 1:
        return fn(y, w, 0)
    return np.array([fn(y[:, j], w, j) for j in range(y.shape[1])], dtype=np.float64)


def _weighted_mean(y, w):
    if w is None:
        return float(np.mean(y))
    total = float(np.sum(w))
    if total == 0.0:
        return 0.0
    keep = w > 0   # a weight-0 NaN target adds nothing
    return float(np.dot(w[keep], y[keep]) / total)


def _weighted_quantile(y, w, q):
    if w is not None:
        keep = w > 0
        y, w = y[keep], w[keep]
        if y.size == 0:
            return 0.0
    if np.isnan(y).any():
        return float("nan")
    order = np.argsort(y, kind="stable")
    ys = y[order]
    cum = np.cumsum(np.ones_like(ys) if w is None else w[order])
    total = cum[-1]
    target = q * total
    # the first sorted value whose cumulative weight reaches q·W: left of it
    # at most q·W, right of it at most (1-q)·W, so 0 is in the subgradient
    k = int(np.searchsorted(cum, target - 1e-12 * total, side="left"))
    k = min(k, ys.size - 1)
    if abs(cum[k] - target) <= 1e-12 * total and k + 1 < ys.size:
        # the pinball loss is flat on [y_(k), y_(k+1)]: its midpoint
        return float(0.5 * (ys[k] + ys[k + 1]))
    return float(ys[k])


def _binary(loss, y, w, kind, j):
    if np.any((y < 0) | (y > 1)):
        raise ValueError(f"y_true must be in [0, 1] for {type(loss).__name__}, got values "
                         "outside it")
    s = getattr(loss, "label_smoothing", 0.0) or 0.0
    m = _weighted_mean(y * (1.0 - s) + 0.5 * s, w)
    if m != m:
        return m
    if hasattr(loss, "beta"):
        a, b = loss.beta, 1.0 - loss.beta
    else:
        pw = getattr(loss, "pos_weight", None)
        pw = None if pw is None else np.asarray(pw, dtype=np.float64).reshape(-1)
        a = 1.0 if pw is None else float(pw[j] if pw.size > 1 else pw[0])
        b = 1.0
    pos, neg = a * m, b * (1.0 - m)
    if kind == "probability":
        return float(pos / (pos + neg)) if pos + neg > 0 else 0.5
    with np.errstate(divide="ignore"):
        if pos == 0 and neg == 0:
            return 0.0
        return float(np.log(pos) - np.log(neg))


def _priors(loss, y_true, sample_weight, *, log):
    y = np.asarray(y_true)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y_true must hold real numbers, got dtype {y.dtype}")
    if y.ndim == 1:
        if y.size == 0:
            raise ValueError("y_true is empty (shape (0,))")
        labels = _validate.labels(y, y.shape[0])
        w = _validate.sample_weight(sample_weight, y.shape[0])
        ignore = getattr(loss, "ignore_index", None)
        keep = np.ones(labels.shape, dtype=bool) if ignore is None else labels != ignore
        if np.any(labels[keep] < 0):
            raise ValueError("y_true holds negative class indices")
        C = int(labels[keep].max()) + 1 if keep.any() else 1
        counts = np.bincount(labels[keep], weights=None if w is None else w[keep], minlength=C)
        counts = counts.astype(np.float64)
        smooth_total = float(counts.sum())
    elif y.ndim == 2:
        if y.size == 0:
            raise ValueError(f"y_true is empty (shape {y.shape})")
        w = _validate.sample_weight(sample_weight, y.shape[0])
        rows = y.astype(np.float64, copy=False)
        if w is not None:
            keep = w > 0
            rows, w = rows[keep], w[keep]
        counts = rows.sum(axis=0) if w is None else w @ rows
        C = y.shape[1]
        smooth_total = float(y.shape[0] if w is None else w.sum())
    else:
        raise ValueError(f"y_true must be class indices (n,) or target rows (n, C), got {y.shape}")
    s = getattr(loss, "label_smoothing", 0.0) or 0.0
    mass = (1.0 - s) * counts + (s / C) * smooth_total
    cw = getattr(loss, "class_weight", None)
    if cw is not None:
        cw = np.asarray(cw, dtype=np.float64)
        if cw.shape != (C,):
            raise ValueError(f"class_weight has {cw.size} entries, y_true has {C} classes")
        mass = mass * cw
    total = float(mass.sum())
    if total == 0.0:
        return np.zeros(C) if log else np.full(C, 1.0 / C)
    prior = mass / total
    if not log:
        return prior
    with np.errstate(divide="ignore"):
        return np.log(prior)
