"""RankNet and LambdaRank: one blocked pairwise kernel with O(n) memory.

Items are first gathered in group order, by relevance descending within a
group (the Python layer sorts once and keeps the permutation).  Within a
group every pair (i, j) with y_i > y_j is visited once: the pair loss is
``a_ij log(1 + exp(-σ(s_i - s_j)))`` (stable form), its gradient
``∓σ a_ij sigmoid(-σ(s_i - s_j))`` goes to both items and its hessian
``σ² a_ij ρ(1 - ρ)`` (ρ = that sigmoid, formed as z/(1+z)² so it keeps its
relative precision far from 0) to both diagonals.  RankNet: a_ij = w_i w_j.
LambdaRank: a_ij = w_i w_j |ΔNDCG_ij|, from per-item gains 2^y, discounts
1/log2(2 + rank) and a top-k flag (the Python layer computes the ranks by a
stable sort of the scores), and a per-group 1/IDCG_k formed here.
Relevance must not be NaN here (the Python layer handles NaN).

Two schemes, chosen by the group size only (never by the thread count):
- groups of at most SMALL_GROUP items: one task per group, groups in
  parallel; the task walks its pairs in a fixed order.
- larger groups: the group is cut into tiles of TILE items.  Round 0 runs
  the diagonal tiles (I, I); round r >= 1 the tiles (I, I + r mod nb).  In
  one round every block is the row block of exactly one tile and the column
  block of exactly one tile, so a tile adds its row sums into ``rowbuf`` and
  its column sums into ``colbuf`` without any other thread touching those
  entries; rounds run in a fixed order, so every sum is formed in the same
  order on any thread count.  Memory: two length-n buffers (four with the
  hessian), plus three length-n arrays for LambdaRank.
"""
from cython.parallel cimport prange
from libc.math cimport exp2, log2, fabs, isnan, NAN
from libc.stdint cimport int64_t
from cython.parallel cimport threadid
from fastloss._kernels._runtime cimport team, team_done

import numpy as np

from fastloss._kernels._common cimport floating
from fastloss._kernels cimport simd
from fastloss._kernels.simd cimport fl_kernels, FL_MATH_EXP

cdef extern from "simd/pairs.h" nogil:
    ctypedef struct fl_pair_row_args:
        double si, wi, sigma
        const double* s
        const double* w
        const double* gain
        const double* disc
        const double* top
        double gni, di, inv_idcg
        int only_top
        const double* ep
        const double* em
        double epi, emi
    ctypedef void (*fl_pair_row_fn)(const fl_pair_row_args*, Py_ssize_t, double*, double*,
                                    double*) noexcept nogil
    fl_pair_row_fn fl_pair_row_for(int path)

# The process's one kernel table (chosen by _kernels/simd.pyx; the pointer
# stays valid when the path changes).
cdef const fl_kernels* KT = simd.kernels()

cdef enum:
    TILE = 512
    SMALL_GROUP = 2048
    MIN_PARALLEL_PAIRS = 65536
    NSUM = 3                # per block / group: Σ a l, Σ w_i w_j, pair count
    SEP_HALF_RANGE = 16     # |σ (s - centre)| bound for the product form of exp


cdef struct Pairs:
    const double* y
    const double* s
    const double* w
    const double* gain      # LambdaRank: 2^y; NULL for RankNet
    const double* disc      # 1 / log2(2 + rank)
    const double* top       # 1.0 where rank < k, else 0.0
    const double* ep        # exp(σ (s - c_g)) and exp(-σ (s - c_g)), c_g the centre
    const double* em        # of the group's scores (groups with sep[g] only)
    double sigma


cdef void _tile(const Pairs* P, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0, Py_ssize_t j1,
                bint diag, double inv_idcg, double* gi, double* gj, double* hi, double* hj,
                double* out, fl_pair_row_fn row, bint sep) noexcept nogil:
    """Pairs i in [i0, i1) x j in [j0, j1) with y_i > y_j (and j > i when diag).

    Items are sorted by relevance, descending, within the group and the row
    range precedes the column range, so the partners of i are the suffix of
    the columns with y_j < y_i, and that suffix only shrinks as i advances:
    one call of the vector row kernel (simd/pairs.c, the process's path)
    per row, with no branch on the labels inside.  An item ranked at or
    below k (LambdaRank) counts only the partners ranked above k: the row
    kernel masks the others out.  sep: the group's exp(±σ(s - c)) factors
    are valid (P.ep, P.em), so exp(-|x|) is one product per pair.  Adds the
    gradient of Σ a_ij l_ij to gi[i] and gj[j] (its hessian diagonal to hi,
    hj unless hi is NULL); out[0] += Σ a_ij l_ij, out[1] += Σ w_i w_j,
    out[2] += the number of counted pairs."""
    cdef const double* y = P.y
    cdef bint lam = P.gain != NULL
    cdef bint want_h = hi != NULL
    cdef Py_ssize_t i, p = j0
    cdef double yi
    cdef double loss = 0.0, wsum = 0.0, count = 0.0
    cdef double acc[5]
    cdef fl_pair_row_args A
    A.sigma = P.sigma
    A.gain = NULL
    A.disc = NULL
    A.top = NULL
    A.gni = 0.0
    A.di = 0.0
    A.inv_idcg = inv_idcg
    A.only_top = 0
    A.ep = NULL
    A.em = NULL
    A.epi = 0.0
    A.emi = 0.0
    for i in range(i0, i1):
        yi = y[i]
        if diag and p < i + 1:
            p = i + 1
        while p < j1 and not (y[p] < yi):
            p += 1
        if p >= j1:
            break          # later rows are no more relevant: no partners either
        A.si = P.s[i]
        A.wi = P.w[i]
        A.s = &P.s[p]
        A.w = &P.w[p]
        if sep:
            A.ep = &P.ep[p]
            A.em = &P.em[p]
            A.epi = P.ep[i]
            A.emi = P.em[i]
        if lam:
            A.gain = &P.gain[p]
            A.disc = &P.disc[p]
            A.top = &P.top[p]
            A.gni = P.gain[i]
            A.di = P.disc[i]
            A.only_top = P.top[i] == 0.0
        acc[0] = 0.0
        acc[1] = 0.0
        acc[2] = 0.0
        acc[3] = 0.0
        acc[4] = 0.0
        row(&A, j1 - p, &gj[p], &hj[p] if want_h else NULL, &acc[0])
        loss += acc[0]
        wsum += acc[1]
        count += acc[4]
        gi[i] += acc[2]
        if want_h:
            hi[i] += acc[3]
    out[0] += loss
    out[1] += wsum
    out[2] += count


cdef void _big_group(const Pairs* P, Py_ssize_t g0, Py_ssize_t g1, double inv_idcg,
                     double* rowbuf, double* colbuf, double* hrow, double* hcol,
                     double* blk, int nthreads, fl_pair_row_fn row, bint sep) noexcept nogil:
    """Every pair of the group [g0, g1) by rounds of tiles; blk holds
    NSUM * nb per-block sums.  hrow, hcol: NULL without the hessian."""
    cdef Py_ssize_t n = g1 - g0
    cdef Py_ssize_t nb = (n + TILE - 1) // TILE, r, I, J, ntile, i0, j0, by_master
    cdef int nt = nthreads, ntr
    if nt < 1:
        nt = 1
    for I in range(NSUM * nb):
        blk[I] = 0.0
    for r in range(nb // 2 + 1):
        ntile = nb
        if r > 0 and 2 * r == nb:
            ntile = nb // 2           # (I, I + nb/2) and (I + nb/2, I) are one pair
        ntr = team(nt, ntile)
        by_master = 0
        for I in prange(ntile, schedule="dynamic", chunksize=1, num_threads=ntr):
            by_master += threadid() == 0
            J = (I + r) % nb
            i0 = g0 + I * TILE
            j0 = g0 + J * TILE
            if r == 0:
                _tile(P, i0, min(i0 + TILE, g1), i0, min(i0 + TILE, g1), True, inv_idcg,
                      rowbuf, rowbuf, hrow, hrow, &blk[NSUM * I], row, sep)
            elif J > I:
                _tile(P, i0, min(i0 + TILE, g1), j0, min(j0 + TILE, g1), False, inv_idcg,
                      rowbuf, colbuf, hrow, hcol, &blk[NSUM * I], row, sep)
            else:
                # the column block comes first in the sorted order: it holds
                # the more relevant items, so it plays the row role
                _tile(P, j0, min(j0 + TILE, g1), i0, min(i0 + TILE, g1), False, inv_idcg,
                      colbuf, rowbuf, hcol, hrow, &blk[NSUM * I], row, sep)
        team_done(ntr, ntile, by_master)


cdef double _inv_idcg(const double* ys, Py_ssize_t g0, Py_ssize_t g1,
                      Py_ssize_t k) noexcept nogil:
    """1 / IDCG_k of the group [g0, g1) (relevance descending: the ideal
    order), 0 when IDCG_k is not > 0 (the group adds nothing)."""
    cdef Py_ssize_t t, m = g1 - g0
    cdef double idcg = 0.0
    if k > 0 and k < m:
        m = k
    for t in range(m):
        idcg += (exp2(ys[g0 + t]) - 1.0) / log2(2.0 + <double>t)
    return 1.0 / idcg if idcg > 0.0 else 0.0


def simd_path():
    """The vector path the pair kernel takes."""
    return KT.name.decode()


def _pair_row(double si, double wi, double sigma, const double[::1] s, const double[::1] w,
              double[::1] gj, double[::1] hj, double centre=NAN):
    """Test hook: one RankNet row of the vector pair kernel on the current
    path -- (Σ a l, Σ w_i w_j, row gradient, row hessian, pair count); gj and
    hj (length len(s)) receive the partners' terms.  A finite `centre` c
    takes exp(-|x|) from the factors exp(±σ(s - c)) (NumPy's exp here)."""
    cdef fl_pair_row_args A
    cdef double acc[5]
    cdef Py_ssize_t m = s.shape[0]
    cdef double[::1] epv, emv
    if w.shape[0] != m or gj.shape[0] != m or (hj is not None and hj.shape[0] != m):
        raise ValueError("_pair_row: s, w, gj and hj differ in length")
    A.si = si
    A.wi = wi
    A.sigma = sigma
    A.s = &s[0] if m else NULL
    A.w = &w[0] if m else NULL
    A.gain = NULL
    A.disc = NULL
    A.top = NULL
    A.gni = 0.0
    A.di = 0.0
    A.inv_idcg = 0.0
    A.only_top = 0
    A.ep = NULL
    A.em = NULL
    A.epi = 0.0
    A.emi = 0.0
    if centre == centre and m:
        ep_arr = np.exp(sigma * np.asarray(s) - centre)
        em_arr = np.exp(-(sigma * np.asarray(s) - centre))
        epv = ep_arr
        emv = em_arr
        A.ep = &epv[0]
        A.em = &emv[0]
        A.epi = float(np.exp(sigma * si - centre))
        A.emi = float(np.exp(-(sigma * si - centre)))
    acc[0] = 0.0
    acc[1] = 0.0
    acc[2] = 0.0
    acc[3] = 0.0
    acc[4] = 0.0
    fl_pair_row_for(KT.path)(&A, m, &gj[0] if m else NULL,
                             NULL if hj is None or m == 0 else &hj[0], &acc[0])
    return acc[0], acc[1], acc[2], acc[3], acc[4]


def runs_order(const floating[::1] y, const int64_t[::1] g):
    """(order, starts) listing the items by group id, relevance descending
    within a group (ties in input order), when the ids never decrease (each
    group one run, as lists usually come) and each group's relevance is
    integral over at most 256 levels: one counting sort per group instead
    of a comparison sort of all items.  None otherwise (the caller sorts)."""
    cdef Py_ssize_t n = y.shape[0], i, a, b, G = 1, gi, pos
    cdef double hi, lo, r
    cdef int ri, d
    cdef Py_ssize_t cnt[258]
    if g.shape[0] != n:
        raise ValueError("runs_order: y and g differ in length")
    if n == 0:
        return None
    for i in range(1, n):
        if g[i] < g[i - 1]:
            return None
        if g[i] != g[i - 1]:
            G += 1
    starts_arr = np.empty(G + 1, dtype=np.int64)
    order_arr = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] starts = starts_arr
    cdef int64_t[::1] order = order_arr
    starts[0] = 0
    gi = 1
    for i in range(1, n):
        if g[i] != g[i - 1]:
            starts[gi] = i
            gi += 1
    starts[G] = n
    for gi in range(G):
        a = starts[gi]
        b = starts[gi + 1]
        hi = y[a]
        lo = y[a]
        for i in range(a, b):
            if not (y[i] <= hi):
                if y[i] != y[i]:
                    return None
                hi = y[i]
            if y[i] < lo:
                lo = y[i]
        if not (hi - lo <= 255.0):     # also inf - inf
            return None
        for d in range(258):
            cnt[d] = 0
        for i in range(a, b):
            r = hi - y[i]
            ri = <int>r
            if <double>ri != r:
                return None
            cnt[ri + 1] += 1
        for d in range(1, 258):
            cnt[d] += cnt[d - 1]
        for i in range(a, b):
            ri = <int>(hi - y[i])
            pos = cnt[ri]
            cnt[ri] = pos + 1
            order[a + pos] = i
    return order_arr, starts_arr


def pairwise(const floating[::1] y_true, const floating[::1] y_pred,
             const double[::1] sample_weight, const int64_t[::1] order,
             const int64_t[::1] starts, const int64_t[::1] rank, Py_ssize_t k,
             double sigma, int average, floating[::1] grad, floating[::1] hess, int nthreads):
    """RankNet (rank None) or LambdaRank over groups.

    `order` lists the items group by group, by relevance descending within
    a group (no NaN), and `starts` (length G + 1) the group boundaries in
    that order.  LambdaRank: `rank` (length n, caller's indexing) is each
    item's 0-based rank in its group by score, descending; `k` > 0 counts
    only pairs with an item ranked above k and truncates IDCG (0: all).  A
    group holding a NaN score gets NaN for its loss, weight and gradient.

    Returns (per-group Σ a l (float64, length G), Σ of all counted pair
    weights w_i w_j, number of counted pairs).  grad and hess (optional)
    get d(Σ a l)/d y_pred and its diagonal second derivative, divided by
    the reduction's divisor: `average` 1 ("mean") the total pair weight, 2
    ("sum_over_batch_size") the number of counted pairs, 0 none (a zero
    divisor gives 0).
    """
    cdef Py_ssize_t n = y_pred.shape[0], G = starts.shape[0] - 1, q, g, g0, g1, i, by_master
    cdef bint lam = rank is not None
    if n < 1 or y_true.shape[0] != n or order.shape[0] != n or G < 1:
        raise ValueError("ranking: inconsistent sizes")
    if starts[0] != 0 or starts[G] != n:
        raise ValueError("ranking: starts must run from 0 to n")
    for g in range(G):
        if starts[g + 1] <= starts[g]:
            raise ValueError("ranking: empty group")
    for q in range(n):
        if order[q] < 0 or order[q] >= n:
            raise ValueError("ranking: order out of range")
    if lam:
        if rank.shape[0] != n:
            raise ValueError("ranking: rank must hold n entries")
        for q in range(n):
            if rank[q] < 0 or rank[q] >= n:
                raise ValueError("ranking: rank out of range")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("ranking: sample_weight must hold n entries")
    if grad is not None and grad.shape[0] != n:
        raise ValueError("ranking: grad has the wrong size")
    if hess is not None and hess.shape[0] != n:
        raise ValueError("ranking: hess has the wrong size")
    ys_arr = np.empty(n, dtype=np.float64)
    ss_arr = np.empty(n, dtype=np.float64)
    ws_arr = np.empty(n, dtype=np.float64)
    row_arr = np.zeros(n, dtype=np.float64)
    col_arr = np.zeros(n, dtype=np.float64)
    gl_arr = np.zeros(NSUM * G, dtype=np.float64)     # (loss, weight, count) per group
    inv_arr = np.zeros(G, dtype=np.float64)           # 1/IDCG_k; NaN: a NaN score
    cdef double[::1] ys = ys_arr
    cdef double[::1] ss = ss_arr
    cdef double[::1] ws = ws_arr
    cdef double[::1] rowbuf = row_arr
    cdef double[::1] colbuf = col_arr
    cdef double[::1] gl = gl_arr
    cdef double[::1] inv = inv_arr
    cdef double[::1] hrow_v, hcol_v, gain_v, disc_v, top_v
    cdef double* hrow = NULL
    cdef double* hcol = NULL
    cdef Pairs P
    if hess is not None:
        hrow_v = np.zeros(n, dtype=np.float64)
        hcol_v = np.zeros(n, dtype=np.float64)
        hrow = &hrow_v[0]
        hcol = &hcol_v[0]
    P.y = &ys[0]
    P.s = &ss[0]
    P.w = &ws[0]
    P.gain = NULL
    P.disc = NULL
    P.top = NULL
    P.sigma = sigma
    if lam:
        gain_v = np.empty(n, dtype=np.float64)
        disc_v = np.empty(n, dtype=np.float64)
        top_v = np.empty(n, dtype=np.float64)
        P.gain = &gain_v[0]
        P.disc = &disc_v[0]
        P.top = &top_v[0]
    # exp(-|x|) as a product of per-item factors in groups whose scores lie
    # within ±SEP_HALF_RANGE / σ of their centre: relative error of the
    # product about (|σ(s_i - c)| + |σ(s_j - c)|) 2^-53 + 3 ulp, as forming
    # σ(s_i - s_j) and its exp would have
    ep_arr = np.empty(n, dtype=np.float64)
    em_arr = np.empty(n, dtype=np.float64)
    sep_arr = np.zeros(G, dtype=np.uint8)
    cdef double[::1] epv = ep_arr
    cdef double[::1] emv = em_arr
    cdef unsigned char[::1] sepv = sep_arr
    cdef double lo, hi, cen
    P.ep = &epv[0]
    P.em = &emv[0]
    cdef double[::1] blk
    cdef Py_ssize_t nb, small = 0
    cdef double total_w, total_c, scale, divisor, pairs, v
    cdef int nt
    cdef fl_pair_row_fn row = fl_pair_row_for(KT.path)
    with nogil:
        for q in range(n):
            i = order[q]
            ys[q] = y_true[i]
            ss[q] = y_pred[i]
            ws[q] = 1.0 if sample_weight is None else sample_weight[i]
            if lam:
                gain_v[q] = exp2(ys[q])
                disc_v[q] = 1.0 / log2(2.0 + <double>rank[i])
                top_v[q] = 1.0 if (k <= 0 or rank[i] < k) else 0.0
        if lam:
            for g in range(G):
                g0 = starts[g]
                g1 = starts[g + 1]
                inv[g] = _inv_idcg(&ys[0], g0, g1, k)
                for q in range(g0, g1):
                    if isnan(ss[q]):
                        inv[g] = NAN     # ranks in this group are undefined
                        break
        for g in range(G):
            g0 = starts[g]
            g1 = starts[g + 1]
            lo = ss[g0] * sigma
            hi = lo
            for q in range(g0, g1):
                v = ss[q] * sigma
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
                if v != v:
                    hi = NAN
                    break
            # false for NaN and infinite scores (those keep the exp per pair)
            sepv[g] = (hi - lo) <= 2.0 * SEP_HALF_RANGE
            cen = lo + 0.5 * (hi - lo)
            for q in range(g0, g1):
                epv[q] = ss[q] * sigma - cen if sepv[g] else 0.0
                emv[q] = -epv[q]
        KT.math_d[FL_MATH_EXP](&epv[0], n, &epv[0])
        KT.math_d[FL_MATH_EXP](&emv[0], n, &emv[0])
        pairs = 0.0
        for g in range(G):
            if starts[g + 1] - starts[g] <= SMALL_GROUP:
                small += 1
                pairs += <double>(starts[g + 1] - starts[g]) * (starts[g + 1] - starts[g])
        nt = nthreads if pairs >= MIN_PARALLEL_PAIRS else 1
        if small > 0:
            nt = team(nt, G)
            by_master = 0
            for g in prange(G, schedule="dynamic", chunksize=1, num_threads=nt):
                by_master += threadid() == 0
                g0 = starts[g]
                g1 = starts[g + 1]
                # a LambdaRank group with IDCG 0 (or a NaN score) is skipped
                if g1 - g0 <= SMALL_GROUP and not (lam and not inv[g] > 0.0):
                    _tile(&P, g0, g1, g0, g1, True, inv[g], &rowbuf[0], &rowbuf[0],
                          hrow, hrow, &gl[NSUM * g], row, sepv[g])
            team_done(nt, G, by_master)
    for g in range(G):
        g0 = starts[g]
        g1 = starts[g + 1]
        if g1 - g0 > SMALL_GROUP and not (lam and not inv[g] > 0.0):
            nb = (g1 - g0 + TILE - 1) // TILE
            blk = np.empty(NSUM * nb, dtype=np.float64)
            with nogil:
                _big_group(&P, g0, g1, inv[g], &rowbuf[0], &colbuf[0], hrow, hcol,
                           &blk[0], nthreads, row, sepv[g])
                # per-block sums in block order
                for q in range(nb):
                    for i in range(NSUM):
                        gl[NSUM * g + i] += blk[NSUM * q + i]
    if lam:
        for g in range(G):
            if isnan(inv[g]):
                for i in range(NSUM):
                    gl[NSUM * g + i] = NAN
                for q in range(starts[g], starts[g + 1]):
                    rowbuf[q] = NAN
                    if hrow != NULL:
                        hrow[q] = NAN
    total_w = 0.0
    total_c = 0.0
    for g in range(G):
        total_w += gl[NSUM * g + 1]
        total_c += gl[NSUM * g + 2]
    scale = 1.0
    if average:
        divisor = total_w if average == 1 else total_c
        scale = 1.0 / divisor if divisor != 0.0 else 0.0
    if grad is not None:
        with nogil:
            for q in range(n):
                grad[order[q]] = <floating>(scale * (rowbuf[q] + colbuf[q]))
    if hess is not None:
        with nogil:
            for q in range(n):
                hess[order[q]] = <floating>(scale * (hrow[q] + hcol[q]))
    return gl_arr[0::NSUM].copy(), total_w, total_c
