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
from fastloss._kernels.simd cimport fl_kernels, FL_MATH_EXP_NONPOS, FL_MATH_LOG1P_UNIT

# The process's one kernel table (chosen by _kernels/simd.pyx; the pointer
# stays valid when the path changes).
cdef const fl_kernels* KT = simd.kernels()

cdef enum:
    TILE = 512
    SMALL_GROUP = 2048
    MIN_PARALLEL_PAIRS = 65536
    NSUM = 3                # per block / group: Σ a l, Σ w_i w_j, pair count
    CHUNK = 256             # partners per vector exp / log1p call


cdef struct Pairs:
    const double* y
    const double* s
    const double* w
    const double* gain      # LambdaRank: 2^y; NULL for RankNet
    const double* disc      # 1 / log2(2 + rank)
    const double* top       # 1.0 where rank < k, else 0.0
    double sigma


cdef void _tile(const Pairs* P, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0, Py_ssize_t j1,
                bint diag, double inv_idcg, double* gi, double* gj, double* hi, double* hj,
                double* out) noexcept nogil:
    """Pairs i in [i0, i1) x j in [j0, j1) with y_i > y_j (and j > i when diag).

    Items are sorted by relevance, descending, within the group and the row
    range precedes the column range, so the partners of i are the suffix of
    the columns with y_j < y_i, and that suffix only shrinks as i advances:
    the inner loop has no branch on the labels.  Partners are taken CHUNK
    at a time so that exp and log1p run through the vector path's array
    functions (the scalar libm calls were most of the time per pair); the
    sums stay in one fixed order.  Adds the gradient of Σ a_ij l_ij to gi[i]
    and gj[j] (its hessian diagonal to hi, hj unless hi is NULL); out[0] +=
    Σ a_ij l_ij, out[1] += Σ w_i w_j, out[2] += the number of counted pairs."""
    cdef const double* y = P.y
    cdef const double* s = P.s
    cdef const double* w = P.w
    cdef const double* gain = P.gain
    cdef const double* disc = P.disc
    cdef const double* top = P.top
    cdef bint lam = gain != NULL
    cdef double sigma = P.sigma, sigma2 = P.sigma * P.sigma
    cdef bint want_h = hi != NULL
    cdef Py_ssize_t i, j, jj, t, m, e, p = j0
    cdef double yi, si, wi, x, z, l, r1, sig, ww, gh, hh, acc, hacc
    cdef double gni = 0.0, di = 0.0, ti = 1.0, a
    cdef double loss = 0.0, wsum = 0.0, count = 0.0
    cdef double xb[CHUNK]
    cdef double nb[CHUNK]
    cdef double zb[CHUNK]
    cdef double lb[CHUNK]
    cdef double sb[CHUNK]
    cdef double hb[CHUNK]
    cdef Py_ssize_t jb[CHUNK]
    cdef const fl_kernels* K = KT
    for i in range(i0, i1):
        yi = y[i]
        si = s[i]
        wi = w[i]
        if diag and p < i + 1:
            p = i + 1
        while p < j1 and not (y[p] < yi):
            p += 1
        acc = 0.0
        hacc = 0.0
        if lam:
            gni = gain[i]
            di = disc[i]
            ti = top[i]
        j = p
        while j < j1:
            m = 0
            if ti != 0.0:
                e = min(j + CHUNK, j1)
                while j < e:
                    jb[m] = j
                    m += 1
                    j += 1
            else:
                # i is ranked at or below k: only partners ranked above k count
                while j < j1 and m < CHUNK:
                    if top[j] != 0.0:
                        jb[m] = j
                        m += 1
                    j += 1
                if m == 0:
                    break
            for t in range(m):
                x = sigma * (si - s[jb[t]])              # σ (s_i - s_j), y_i > y_j
                xb[t] = x
                nb[t] = -fabs(x)
            K.math_d[FL_MATH_EXP_NONPOS](&nb[0], m, &zb[0])
            K.math_d[FL_MATH_LOG1P_UNIT](&zb[0], m, &lb[0])
            # no sums here: the compiler vectorises the division
            for t in range(m):
                x = xb[t]
                z = zb[t]
                r1 = 1.0 / (1.0 + z)
                lb[t] = lb[t] + (-x if x < 0.0 else 0.0)    # log(1 + exp(-x)), stable
                sb[t] = (z if x >= 0.0 else 1.0) * r1        # ρ = sigmoid(-x)
                hb[t] = z * r1 * r1                          # ρ(1 - ρ)
            for t in range(m):
                jj = jb[t]
                l = lb[t]
                sig = sb[t]
                ww = wi * w[jj]
                a = ww
                if lam:
                    a = ww * ((gni - gain[jj]) * fabs(di - disc[jj]) * inv_idcg)
                loss += a * l
                wsum += ww
                gh = sigma * a * sig
                acc -= gh
                gj[jj] += gh
                if want_h:
                    hh = sigma2 * a * hb[t]              # σ² a ρ(1 - ρ)
                    hacc += hh
                    hj[jj] += hh
            count += <double>m
        gi[i] += acc
        if want_h:
            hi[i] += hacc
    out[0] += loss
    out[1] += wsum
    out[2] += count


cdef void _big_group(const Pairs* P, Py_ssize_t g0, Py_ssize_t g1, double inv_idcg,
                     double* rowbuf, double* colbuf, double* hrow, double* hcol,
                     double* blk, int nthreads) noexcept nogil:
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
                      rowbuf, rowbuf, hrow, hrow, &blk[NSUM * I])
            elif J > I:
                _tile(P, i0, min(i0 + TILE, g1), j0, min(j0 + TILE, g1), False, inv_idcg,
                      rowbuf, colbuf, hrow, hcol, &blk[NSUM * I])
            else:
                # the column block comes first in the sorted order: it holds
                # the more relevant items, so it plays the row role
                _tile(P, j0, min(j0 + TILE, g1), i0, min(i0 + TILE, g1), False, inv_idcg,
                      colbuf, rowbuf, hcol, hrow, &blk[NSUM * I])
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
    """The vector path the pair kernel's exp and log1p take."""
    return KT.name.decode()


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
    cdef double[::1] blk
    cdef Py_ssize_t nb, small = 0
    cdef double total_w, total_c, scale, divisor, pairs, v
    cdef int nt
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
                          hrow, hrow, &gl[NSUM * g])
            team_done(nt, G, by_master)
    for g in range(G):
        g0 = starts[g]
        g1 = starts[g + 1]
        if g1 - g0 > SMALL_GROUP and not (lam and not inv[g] > 0.0):
            nb = (g1 - g0 + TILE - 1) // TILE
            blk = np.empty(NSUM * nb, dtype=np.float64)
            with nogil:
                _big_group(&P, g0, g1, inv[g], &rowbuf[0], &colbuf[0], hrow, hcol,
                           &blk[0], nthreads)
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
