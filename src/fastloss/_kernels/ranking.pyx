"""RankNet: a blocked pairwise kernel with O(n) memory.

Items are first gathered in group order, by relevance descending within a
group (the Python layer sorts once and keeps the permutation).  Within a
group every pair (i, j) with y_i > y_j is visited once: the pair loss is
``log(1 + exp(-σ(s_i - s_j)))`` (stable form) and its gradient
``∓σ sigmoid(-σ(s_i - s_j))`` goes to both items.  Relevance must not be
NaN here (the Python layer handles NaN).

Two schemes, chosen by the group size only (never by the thread count):
- groups of at most SMALL_GROUP items: one task per group, groups in
  parallel; the task walks its pairs in a fixed order.
- larger groups: the group is cut into tiles of TILE items.  Round 0 runs
  the diagonal tiles (I, I); round r >= 1 the tiles (I, I + r mod nb).  In
  one round every block is the row block of exactly one tile and the column
  block of exactly one tile, so a tile adds its row sums into ``rowbuf`` and
  its column sums into ``colbuf`` without any other thread touching those
  entries; rounds run in a fixed order, so every sum is formed in the same
  order on any thread count.  Memory: two length-n buffers.
"""
from cython.parallel cimport prange
from libc.math cimport exp, log1p, fabs
from libc.stdint cimport int64_t

import numpy as np

from fastloss._kernels._common cimport floating, combine_blocks

cdef enum:
    TILE = 512
    SMALL_GROUP = 2048
    MIN_PARALLEL_PAIRS = 65536


cdef void _tile(const double* y, const double* s, const double* w,
                Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0, Py_ssize_t j1,
                bint diag, double sigma, double* gi, double* gj,
                double* out) noexcept nogil:
    """Pairs i in [i0, i1) x j in [j0, j1) with y_i > y_j (and j > i when diag).

    Items are sorted by relevance, descending, within the group and the row
    range precedes the column range, so the partners of i are the suffix of
    the columns with y_j < y_i, and that suffix only shrinks as i advances:
    the inner loop has no branch on the labels.  Adds the gradient of
    Σ w_i w_j l_ij to gi[i] and gj[j]; out[0] += Σ w_i w_j l_ij,
    out[1] += Σ w_i w_j."""
    cdef Py_ssize_t i, j, p = j0
    cdef double yi, si, wi, x, ax, z, l, sig, ww, gh, acc, loss = 0.0, wsum = 0.0
    for i in range(i0, i1):
        yi = y[i]
        si = s[i]
        wi = w[i]
        if diag and p < i + 1:
            p = i + 1
        while p < j1 and not (y[p] < yi):
            p += 1
        acc = 0.0
        for j in range(p, j1):
            x = sigma * (si - s[j])                # σ (s_i - s_j), y_i > y_j
            ax = fabs(x)
            z = exp(-ax)
            l = log1p(z) + 0.5 * (ax - x)          # log(1 + exp(-x)), stable
            sig = (z if x >= 0.0 else 1.0) / (1.0 + z)    # sigmoid(-x)
            ww = wi * w[j]
            loss += ww * l
            wsum += ww
            gh = sigma * ww * sig
            acc -= gh
            gj[j] += gh
        gi[i] += acc
    out[0] += loss
    out[1] += wsum


cdef void _big_group(const double* y, const double* s, const double* w,
                     Py_ssize_t g0, Py_ssize_t g1, double sigma,
                     double* rowbuf, double* colbuf, double* blk, int nthreads) noexcept nogil:
    """Every pair of the group [g0, g1) by rounds of tiles; blk holds
    2 * nb per-block (loss, weight) sums."""
    cdef Py_ssize_t n = g1 - g0
    cdef Py_ssize_t nb = (n + TILE - 1) // TILE, r, I, J, ntile, i0, j0
    cdef int nt = nthreads
    if nt < 1:
        nt = 1
    for I in range(2 * nb):
        blk[I] = 0.0
    for r in range(nb // 2 + 1):
        ntile = nb
        if r > 0 and 2 * r == nb:
            ntile = nb // 2           # (I, I + nb/2) and (I + nb/2, I) are one pair
        for I in prange(ntile, schedule="static", num_threads=nt):
            J = (I + r) % nb
            i0 = g0 + I * TILE
            j0 = g0 + J * TILE
            if r == 0:
                _tile(y, s, w, i0, min(i0 + TILE, g1), i0, min(i0 + TILE, g1),
                      True, sigma, rowbuf, rowbuf, &blk[2 * I])
            elif J > I:
                _tile(y, s, w, i0, min(i0 + TILE, g1), j0, min(j0 + TILE, g1),
                      False, sigma, rowbuf, colbuf, &blk[2 * I])
            else:
                # the column block comes first in the sorted order: it holds
                # the more relevant items, so it plays the row role
                _tile(y, s, w, j0, min(j0 + TILE, g1), i0, min(i0 + TILE, g1),
                      False, sigma, colbuf, rowbuf, &blk[2 * I])


def ranknet(const floating[::1] y_true, const floating[::1] y_pred, const double[::1] sample_weight,
            const int64_t[::1] order, const int64_t[::1] starts, double sigma, bint mean,
            floating[::1] grad, int nthreads):
    """RankNet over groups.  `order` lists the items group by group, by
    relevance descending within a group (no NaN), and `starts` (length
    G + 1) the group boundaries in that order.

    Returns (per-group Σ w_h w_l l (float64, length G), Σ of all pair
    weights).  grad (optional) gets d(Σ w_h w_l l)/d y_pred, divided by the
    total pair weight when `mean` (0 when there is no pair).
    """
    cdef Py_ssize_t n = y_pred.shape[0], G = starts.shape[0] - 1, k, g, g0, g1, i
    if n < 1 or y_true.shape[0] != n or order.shape[0] != n or G < 1:
        raise ValueError("ranknet: inconsistent sizes")
    if starts[0] != 0 or starts[G] != n:
        raise ValueError("ranknet: starts must run from 0 to n")
    for g in range(G):
        if starts[g + 1] <= starts[g]:
            raise ValueError("ranknet: empty group")
    for k in range(n):
        if order[k] < 0 or order[k] >= n:
            raise ValueError("ranknet: order out of range")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("ranknet: sample_weight must hold n entries")
    if grad is not None and grad.shape[0] != n:
        raise ValueError("ranknet: grad has the wrong size")
    ys_arr = np.empty(n, dtype=np.float64)
    ss_arr = np.empty(n, dtype=np.float64)
    ws_arr = np.empty(n, dtype=np.float64)
    row_arr = np.zeros(n, dtype=np.float64)
    col_arr = np.zeros(n, dtype=np.float64)
    gl_arr = np.zeros(2 * G, dtype=np.float64)     # (loss, weight) per group
    cdef double[::1] ys = ys_arr
    cdef double[::1] ss = ss_arr
    cdef double[::1] ws = ws_arr
    cdef double[::1] rowbuf = row_arr
    cdef double[::1] colbuf = col_arr
    cdef double[::1] gl = gl_arr
    cdef double[::1] blk
    cdef Py_ssize_t nb, small = 0
    cdef double total_w, scale, pairs
    cdef int nt
    with nogil:
        for k in range(n):
            i = order[k]
            ys[k] = y_true[i]
            ss[k] = y_pred[i]
            ws[k] = 1.0 if sample_weight is None else sample_weight[i]
        pairs = 0.0
        for g in range(G):
            if starts[g + 1] - starts[g] <= SMALL_GROUP:
                small += 1
                pairs += <double>(starts[g + 1] - starts[g]) * (starts[g + 1] - starts[g])
        nt = nthreads if pairs >= MIN_PARALLEL_PAIRS else 1
        if small > 0:
            for g in prange(G, schedule="dynamic", num_threads=nt):
                g0 = starts[g]
                g1 = starts[g + 1]
                if g1 - g0 <= SMALL_GROUP:
                    _tile(&ys[0], &ss[0], &ws[0], g0, g1, g0, g1, True, sigma,
                          &rowbuf[0], &rowbuf[0], &gl[2 * g])
    for g in range(G):
        g0 = starts[g]
        g1 = starts[g + 1]
        if g1 - g0 > SMALL_GROUP:
            nb = (g1 - g0 + TILE - 1) // TILE
            blk = np.empty(2 * nb, dtype=np.float64)
            with nogil:
                _big_group(&ys[0], &ss[0], &ws[0], g0, g1, sigma,
                           &rowbuf[0], &colbuf[0], &blk[0], nthreads)
                # per-block sums in block order (loss at even, weight at odd)
                for k in range(nb):
                    gl[2 * g] += blk[2 * k]
                    gl[2 * g + 1] += blk[2 * k + 1]
    total_w = 0.0
    for g in range(G):
        total_w += gl[2 * g + 1]
    if grad is not None:
        scale = 1.0
        if mean:
            scale = 1.0 / total_w if total_w != 0.0 else 0.0
        with nogil:
            for k in range(n):
                grad[order[k]] = <floating>(scale * (rowbuf[k] + colbuf[k]))
    return gl_arr[0::2].copy(), total_w
