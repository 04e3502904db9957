"""Set-level kernels: Jaccard / F1 / Tversky (overlap), Kappa, Lovász (softmax and hinge).

Every loss here couples samples through a few sums, so each kernel is two
passes: one for the sums (per fixed-size block, combined in block order, so
the result never depends on the thread count) and one that writes the
gradient from those sums.  The overlap losses share their passes: three sums
per class, one formula per loss over them (overlap_scores, which also gives
the gradient's per-class coefficients), and two walks that produce the same
sums -- over flat dense arrays (overlap_sums / overlap_grad) and over
positions along a class axis (overlap_pos_*: label maps with the one-hot
implied, ignore_index, a softmax for logits).  Lovász is a task-parallel algorithm instead:
every (image, class) is one independent sort, each writing its own slot of
the loss array and its own elements of the gradient.
"""
from cython.parallel cimport prange, threadid
from libc.math cimport exp, log, fabs, NAN, INFINITY
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

import numpy as np

from fastloss._kernels._common cimport (
    floating, BLOCK_ELEMENTS, MIN_PARALLEL_ELEMENTS, threads_for, combine_blocks)
from fastloss._kernels cimport simd
from fastloss._kernels.simd cimport fl_kernels, FL_MATH_EXP_NONPOS
from fastloss._kernels._runtime cimport team, team_done

# The process's one kernel table (chosen by _kernels/simd.pyx; the pointer
# stays valid when the path changes).
cdef const fl_kernels* KT = simd.kernels()


# =============================================================== Jaccard / F1
# The arrays are seen as (outer, C, inner) with the class along the middle
# axis (C = 1 without a class axis).  Three sums per class:
#   Jaccard: S_yp = Σ w y p,  S_1 = Σ w y²,  S_2 = Σ w p²
#   F1:      S_yp = Σ w y p,  S_1 = Σ w y,   S_2 = Σ w p
# where w is the weight of the element's axis-0 row.  The gradient of the
# class loss is linear in (y, p): dL_c/dp = a_c y + b_c p + d_c.

cdef inline Py_ssize_t _overlap_block(Py_ssize_t total, Py_ssize_t C) noexcept nogil:
    """Elements per block: fixed by the shape, large enough that the
    per-block class sums stay small next to the data."""
    cdef Py_ssize_t b = 64 * C
    if b < BLOCK_ELEMENTS:
        b = BLOCK_ELEMENTS
    return b


def overlap_n_blocks(Py_ssize_t total, Py_ssize_t C):
    cdef Py_ssize_t b = _overlap_block(total, C)
    return (total + b - 1) // b


cdef inline Py_ssize_t _seg_end(Py_ssize_t e, Py_ssize_t e1, Py_ssize_t inner,
                                Py_ssize_t C, Py_ssize_t row_len, bint weighted) noexcept nogil:
    """End of the run of elements from e that share one class and one sample row.

    (Values are returned, never written through pointers: prange only makes
    variables private that the loop body assigns.)"""
    cdef Py_ssize_t s = e1, nxt
    if C > 1:
        nxt = (e // inner + 1) * inner
        if nxt < s:
            s = nxt
    if weighted:
        nxt = (e // row_len + 1) * row_len
        if nxt < s:
            s = nxt
    return s


cdef inline Py_ssize_t _seg_class(Py_ssize_t e, Py_ssize_t inner, Py_ssize_t C) noexcept nogil:
    if C > 1:
        return (e // inner) % C
    return 0


cdef struct Sums3:
    double yp
    double s1
    double s2


cdef inline Sums3 _run_sums(const floating* y, const floating* p, Py_ssize_t e,
                            Py_ssize_t end, bint squares) noexcept nogil:
    """(Σ y p, Σ y² or Σ y, Σ p² or Σ p) over elements e..end: element e + i
    in lane i % 4 of each statistic, lanes combined as (0 + 1) + (2 + 3).
    (Returned by value: prange keeps a variable private only when the loop
    body assigns it.)"""
    cdef Sums3 out
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef double b0 = 0.0, b1 = 0.0, b2 = 0.0, b3 = 0.0
    cdef double c0 = 0.0, c1 = 0.0, c2 = 0.0, c3 = 0.0
    cdef double y0, y1, y2, y3, p0, p1, p2, p3
    while e + 4 <= end:
        y0 = y[e]
        y1 = y[e + 1]
        y2 = y[e + 2]
        y3 = y[e + 3]
        p0 = p[e]
        p1 = p[e + 1]
        p2 = p[e + 2]
        p3 = p[e + 3]
        a0 += y0 * p0
        a1 += y1 * p1
        a2 += y2 * p2
        a3 += y3 * p3
        if squares:
            b0 += y0 * y0
            b1 += y1 * y1
            b2 += y2 * y2
            b3 += y3 * y3
            c0 += p0 * p0
            c1 += p1 * p1
            c2 += p2 * p2
            c3 += p3 * p3
        else:
            b0 += y0
            b1 += y1
            b2 += y2
            b3 += y3
            c0 += p0
            c1 += p1
            c2 += p2
            c3 += p3
        e += 4
    while e < end:              # the last < 4 elements, into lane 0
        y0 = y[e]
        p0 = p[e]
        a0 += y0 * p0
        b0 += y0 * y0 if squares else y0
        c0 += p0 * p0 if squares else p0
        e += 1
    out.yp = (a0 + a1) + (a2 + a3)
    out.s1 = (b0 + b1) + (b2 + b3)
    out.s2 = (c0 + c1) + (c2 + c3)
    return out


cdef void _overlap_sums(const floating* y, const floating* p, const double* w,
                        Py_ssize_t total, Py_ssize_t C, Py_ssize_t inner,
                        Py_ssize_t row_len, bint squares, double* partial,
                        int nthreads) noexcept nogil:
    """partial[(s * C + c) * nblocks + b] = statistic s of class c in block b."""
    cdef Py_ssize_t bs = _overlap_block(total, C)
    cdef Py_ssize_t nb = (total + bs - 1) // bs
    cdef Py_ssize_t by_master, b, e, e1, end, c, row, cc
    cdef double syp, s1, s2, wi
    cdef Sums3 sm
    cdef int nt = threads_for(total, MIN_PARALLEL_ELEMENTS, nthreads)
    nt = team(nt, nb)
    by_master = 0
    for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
        by_master += threadid() == 0
        for cc in range(C):
            partial[(0 * C + cc) * nb + b] = 0.0
            partial[(1 * C + cc) * nb + b] = 0.0
            partial[(2 * C + cc) * nb + b] = 0.0
        e = b * bs
        e1 = min(e + bs, total)
        while e < e1:
            end = _seg_end(e, e1, inner, C, row_len, w != NULL)
            c = _seg_class(e, inner, C)
            row = e // row_len
            # Four running sums per statistic (element i of the run goes to
            # sum i % 4): one chain would wait an add latency per element.
            sm = _run_sums(y, p, e, end, squares)
            e = end
            syp = sm.yp
            s1 = sm.s1
            s2 = sm.s2
            wi = 1.0 if w == NULL else w[row]
            partial[(0 * C + c) * nb + b] += wi * syp
            partial[(1 * C + c) * nb + b] += wi * s1
            partial[(2 * C + c) * nb + b] += wi * s2
    team_done(nt, nb, by_master)


cdef void _overlap_grad(const floating* y, const floating* p, const double* w,
                        Py_ssize_t total, Py_ssize_t C, Py_ssize_t inner,
                        Py_ssize_t row_len, const double* coef,
                        floating* grad, int nthreads) noexcept nogil:
    """grad = w_row * (a_c y + b_c p + d_c), coef[3c..3c+2] = (a_c, b_c, d_c)."""
    cdef Py_ssize_t bs = _overlap_block(total, C)
    cdef Py_ssize_t nb = (total + bs - 1) // bs
    cdef Py_ssize_t by_master, b, e, e1, end, c, row
    cdef double a, bb, d, wi
    cdef int nt = threads_for(total, MIN_PARALLEL_ELEMENTS, nthreads)
    nt = team(nt, nb)
    by_master = 0
    for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
        by_master += threadid() == 0
        e = b * bs
        e1 = min(e + bs, total)
        while e < e1:
            end = _seg_end(e, e1, inner, C, row_len, w != NULL)
            c = _seg_class(e, inner, C)
            row = e // row_len
            wi = 1.0 if w == NULL else w[row]
            a = wi * coef[3 * c]
            bb = wi * coef[3 * c + 1]
            d = wi * coef[3 * c + 2]
            while e < end:
                grad[e] = <floating>(a * y[e] + bb * p[e] + d)
                e = e + 1
    team_done(nt, nb, by_master)


cdef enum OverlapKind:
    # The overlap losses, each a formula over one class's three sums.
    OV_JACCARD = 0      # sums (Σ w y p, Σ w y², Σ w p²)
    OV_F1 = 1           # sums (Σ w y p, Σ w y, Σ w p)
    OV_TVERSKY = 2      # the F1 sums: Σ (1-y) p = S_2 - S_yp, Σ y (1-p) = S_1 - S_yp


def overlap_kinds():
    """{name: kind} for overlap_scores."""
    return {"jaccard": OV_JACCARD, "f1": OV_F1, "tversky": OV_TVERSKY}


cdef inline int _check_sums(object sums, Py_ssize_t C) except -1:
    if sums.shape[0] != 3 or sums.shape[1] != C:
        raise ValueError(f"sums/coef must have shape (3, {C})")
    return 0


def overlap_scores(int kind, const double[:, ::1] sums, double smooth, double alpha,
                   double beta):
    """Per-class losses from the three sums of every class (shape (3, C)),
    and the per-class gradient coefficients (a, b, d), shape (3, C): the
    derivative of class c's loss with respect to an element of class c is
    w (a_c y + b_c p + d_c) (w the element's weight), because the loss
    depends on p only through S_yp (dS_yp/dp = w y) and S_2 (dS_2/dp = 2 w p
    for Jaccard's Σ p², w for the others'):
        a_c = dL_c/dS_yp,   b_c = 2 dL_c/dS_2 (Jaccard) or 0,
        d_c = dL_c/dS_2 (F1, Tversky) or 0.
    Jaccard: 1 - (S_yp + s) / (S_1 + S_2 - S_yp + s);  F1: 1 - (2 S_yp + s) /
    (S_1 + S_2 + s);  Tversky: 1 - (S_yp + s) / (S_yp + α (S_2 - S_yp) +
    β (S_1 - S_yp) + s)."""
    if kind < OV_JACCARD or kind > OV_TVERSKY:
        raise ValueError(f"overlap_scores: unknown kind {kind}")
    cdef Py_ssize_t C = sums.shape[1], c
    _check_sums(sums, C)
    losses_arr = np.empty(C, dtype=np.float64)
    coef_arr = np.empty((3, C), dtype=np.float64)
    cdef double[::1] losses = losses_arr
    cdef double[:, ::1] coef = coef_arr
    cdef double syp, s1, s2, num, den, d2
    with nogil:
        for c in range(C):
            syp = sums[0, c]
            s1 = sums[1, c]
            s2 = sums[2, c]
            if kind == OV_JACCARD:
                num = syp + smooth
                den = s1 + s2 - syp + smooth
                d2 = den * den
                coef[0, c] = -(den + num) / d2
                coef[1, c] = 2.0 * num / d2
                coef[2, c] = 0.0
            elif kind == OV_F1:
                num = 2.0 * syp + smooth
                den = s1 + s2 + smooth
                coef[0, c] = -2.0 / den
                coef[1, c] = 0.0
                coef[2, c] = num / (den * den)
            else:
                num = syp + smooth
                den = syp + alpha * (s2 - syp) + beta * (s1 - syp) + smooth
                d2 = den * den
                # dD/dS_yp = 1 - α - β, dD/dS_2 = α
                coef[0, c] = -(den - num * (1.0 - alpha - beta)) / d2
                coef[1, c] = 0.0
                coef[2, c] = alpha * num / d2
            losses[c] = 1.0 - num / den
    return losses_arr, coef_arr


cdef inline int _check_dense(object y_true, object y_pred, object sample_weight,
                             Py_ssize_t C, Py_ssize_t inner, Py_ssize_t row_len) except -1:
    cdef Py_ssize_t total = y_pred.shape[0]
    if total < 1:
        raise ValueError("overlap: y_pred is empty")
    if y_true.shape[0] != total:
        raise ValueError("overlap: y_true and y_pred differ in length")
    if C < 1 or inner < 1 or row_len < 1 or total % (C * inner):
        raise ValueError("overlap: C, inner and row_len must be >= 1 and C * inner "
                         "must divide the length of y_pred")
    if sample_weight is not None and (total % row_len
                                      or sample_weight.shape[0] != total // row_len):
        raise ValueError("overlap: sample_weight does not match the rows")
    return 0


def overlap_sums(const floating[::1] y_true, const floating[::1] y_pred,
                 const double[::1] sample_weight, Py_ssize_t C, Py_ssize_t inner,
                 Py_ssize_t row_len, bint squares, int nthreads):
    """The three sums of every class of flat (outer, C, inner) arrays, shape
    (3, C): (Σ w y p, Σ w y², Σ w p²) with squares (Jaccard), else (Σ w y p,
    Σ w y, Σ w p); w = sample_weight of the element's axis-0 row (row_len
    elements a row)."""
    _check_dense(y_true, y_pred, sample_weight, C, inner, row_len)
    cdef Py_ssize_t total = y_pred.shape[0], c, s
    cdef Py_ssize_t nb = overlap_n_blocks(total, C)
    partial_arr = np.empty(3 * C * nb, dtype=np.float64)
    sums_arr = np.empty((3, C), dtype=np.float64)
    cdef double[::1] partial = partial_arr
    cdef double[:, ::1] sums = sums_arr
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    with nogil:
        _overlap_sums(&y_true[0], &y_pred[0], w, total, C, inner, row_len,
                      squares, &partial[0], nthreads)
        for s in range(3):
            for c in range(C):
                sums[s, c] = combine_blocks(&partial[(s * C + c) * nb], nb)
    return sums_arr


def overlap_grad(const floating[::1] y_true, const floating[::1] y_pred,
                 const double[::1] sample_weight, Py_ssize_t C, Py_ssize_t inner,
                 Py_ssize_t row_len, const double[:, ::1] coef, floating[::1] grad,
                 int nthreads):
    """grad = w (a_c y + b_c p + d_c) per element, (a, b, d) = the rows of
    coef (shape (3, C), already scaled by the reduction)."""
    _check_dense(y_true, y_pred, sample_weight, C, inner, row_len)
    _check_sums(coef, C)
    if grad.shape[0] != y_pred.shape[0]:
        raise ValueError("overlap: grad must hold as many elements as y_pred")
    cdef Py_ssize_t c
    coef3_arr = np.empty(3 * C, dtype=np.float64)
    cdef double[::1] coef3 = coef3_arr
    for c in range(C):
        coef3[3 * c] = coef[0, c]
        coef3[3 * c + 1] = coef[1, c]
        coef3[3 * c + 2] = coef[2, c]
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    with nogil:
        _overlap_grad(&y_true[0], &y_pred[0], w, y_pred.shape[0], C, inner, row_len,
                      &coef3[0], &grad[0], nthreads)


# ------------------------------------ overlap over positions (label maps, softmax)
# y_pred seen as (outer, C, inner); a position is one (o, i), whose C values
# lie `inner` apart.  A tile of positions is copied into per-thread scratch
# laid out [c][t] (consecutive positions adjacent), so the softmax over the
# classes (max, exp, sum) and the sums are loops over t for any class axis,
# and the exponentials of a tile are one call of the vector exp.  y_true is
# a label map (outer, inner) -- the one-hot is implied: the labelled class's
# element adds w p to S_yp and w to S_1, nothing else is built -- or dense
# (outer, C, inner) when only the softmax needs this layout.  The sums and
# the gradient pass fill their tiles with the same function, so both see the
# same probabilities bit for bit.

cdef enum:
    # Scratch elements per tile: T = TILE_ELEMENTS // C positions (at least
    # one), a few tens of KiB of scratch that stays in L1/L2.
    TILE_ELEMENTS = 8192
    # The positions' blocks: at most this many (the partial sums are
    # 3 C per block), at least 4 tiles each.  Fixed by the shape alone.
    MAX_POS_BLOCKS = 256
    # A tile runs along one o (consecutive addresses, no gather) when a
    # position run is at least this long.
    CONTIG_INNER = 64


cdef struct PosLayout:
    Py_ssize_t outer
    Py_ssize_t C
    Py_ssize_t inner
    Py_ssize_t npos         # outer * inner
    Py_ssize_t T            # positions per tile at most
    Py_ssize_t pb           # positions per block
    Py_ssize_t nb           # blocks
    Py_ssize_t rows_div     # o // rows_div = the sample_weight row
    bint contig             # tiles lie inside one o


cdef PosLayout _pos_layout(Py_ssize_t outer, Py_ssize_t C, Py_ssize_t inner,
                           Py_ssize_t rows_div) noexcept nogil:
    cdef PosLayout L
    L.outer = outer
    L.C = C
    L.inner = inner
    L.npos = outer * inner
    L.T = TILE_ELEMENTS // C
    if L.T > L.npos:            # (small inputs: scratch of their own size)
        L.T = L.npos
    if L.T < 1:
        L.T = 1
    L.pb = (L.npos + MAX_POS_BLOCKS - 1) // MAX_POS_BLOCKS
    if L.pb < 4 * L.T:
        L.pb = 4 * L.T
    L.nb = (L.npos + L.pb - 1) // L.pb
    L.rows_div = rows_div
    L.contig = inner >= CONTIG_INNER
    return L


cdef inline int _pos_threads(const PosLayout* L, int nthreads) noexcept nogil:
    """Threads for a pass over the layout: never more than its blocks."""
    cdef int nt = threads_for(L.npos * L.C, MIN_PARALLEL_ELEMENTS, nthreads)
    if nt > L.nb:
        nt = <int>L.nb
    return nt if nt >= 1 else 1


cdef inline Py_ssize_t _tile_end(const PosLayout* L, Py_ssize_t q, Py_ssize_t q1) noexcept nogil:
    cdef Py_ssize_t end = q + L.T, nxt
    if end > q1:
        end = q1
    if L.contig:
        nxt = (q // L.inner + 1) * L.inner
        if nxt < end:
            end = nxt
    return end


cdef struct Scratch:
    void* e             # floating [C * T + T]: y_pred, then exp(z - m); the max
    double* p           # [C * T] probabilities
    double* y           # [C * T] dense targets, then the gradient w.r.t. p
    double* aux         # [T] the max, then 1 / Σ exp
    double* w           # [T] weight of each position (0: ignored / bad label)
    double* dot         # [T] Σ_c p g (softmax chain)
    int64_t* cls        # [T] label (-1: ignored / bad)
    Py_ssize_t* base    # [T] address of class 0 of each position
    double* acc         # [3 C] a block's sums


cdef inline double _dot2(const double* a, const double* b, Py_ssize_t n) noexcept nogil:
    """Σ a b, four running sums combined as (0 + 1) + (2 + 3): one chain would
    wait an add latency per element (the order is fixed, so is the result)."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t t = 0
    while t + 4 <= n:
        s0 += a[t] * b[t]
        s1 += a[t + 1] * b[t + 1]
        s2 += a[t + 2] * b[t + 2]
        s3 += a[t + 3] * b[t + 3]
        t += 4
    while t < n:
        s0 += a[t] * b[t]
        t += 1
    return (s0 + s1) + (s2 + s3)


cdef inline double _dot3(const double* a, const double* b, const double* c,
                         Py_ssize_t n) noexcept nogil:
    """Σ a b c, lanes as _dot2."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t t = 0
    while t + 4 <= n:
        s0 += a[t] * (b[t] * c[t])
        s1 += a[t + 1] * (b[t + 1] * c[t + 1])
        s2 += a[t + 2] * (b[t + 2] * c[t + 2])
        s3 += a[t + 3] * (b[t + 3] * c[t + 3])
        t += 4
    while t < n:
        s0 += a[t] * (b[t] * c[t])
        t += 1
    return (s0 + s1) + (s2 + s3)


cdef inline void _exp_nonpos(floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        KT.math_f[FL_MATH_EXP_NONPOS](x, n, x)
    else:
        KT.math_d[FL_MATH_EXP_NONPOS](x, n, x)


cdef Py_ssize_t _fill_tile(const floating* z, const floating* y, const int64_t* lab,
                           const double* sw, const PosLayout* L, Py_ssize_t q0,
                           Py_ssize_t q1, bint from_logits, bint has_ignore, int64_t ignore,
                           Scratch* S) noexcept nogil:
    """Probabilities (S.p), weights (S.w), labels (S.cls) or dense targets
    (S.y) of positions q0..q1-1, laid out [c][t] with nt = q1 - q0.  An
    ignored position or a label outside [0, C) gets weight 0 and
    probabilities 0 (whatever its y_pred holds).  Returns the number of
    labels outside [0, C) that are not ignore_index."""
    cdef Py_ssize_t nt = q1 - q0, C = L.C, inner = L.inner, t, c, q, o, k
    cdef Py_ssize_t bad = 0
    cdef floating* e = <floating*>S.e
    cdef floating* mx = e + C * L.T
    cdef const floating* src
    # the scratch pointers as locals: the compiler then knows they stay put
    # while the loops store through them
    cdef double* pp = S.p
    cdef double* yy = S.y
    cdef double* aux = S.aux
    cdef double* ww = S.w
    cdef int64_t* cls = S.cls
    cdef Py_ssize_t* base = S.base
    cdef double s
    cdef int64_t lv
    # -- addresses, weights, labels
    if L.contig:
        o = q0 // inner
        for t in range(nt):
            base[t] = o * C * inner + (q0 - o * inner) + t
    else:
        for t in range(nt):
            q = q0 + t
            o = q // inner
            base[t] = o * C * inner + (q - o * inner)
    for t in range(nt):
        ww[t] = 1.0 if sw == NULL else sw[((q0 + t) // inner) // L.rows_div]
    if lab != NULL:
        for t in range(nt):
            lv = lab[q0 + t]
            if has_ignore and lv == ignore:
                lv = -1
            elif lv < 0 or lv >= C:
                bad += 1
                lv = -1
            cls[t] = lv
            if lv < 0:
                ww[t] = 0.0
    # -- y_pred (and dense y_true) into [c][t]
    if L.contig:
        for c in range(C):
            src = z + base[0] + c * inner
            for t in range(nt):
                e[c * nt + t] = src[t]
        if y != NULL:
            for c in range(C):
                src = y + base[0] + c * inner
                for t in range(nt):
                    yy[c * nt + t] = src[t]
    else:
        for c in range(C):
            for t in range(nt):
                e[c * nt + t] = z[base[t] + c * inner]
        if y != NULL:
            for c in range(C):
                for t in range(nt):
                    yy[c * nt + t] = y[base[t] + c * inner]
    if not from_logits:
        for c in range(C):
            for t in range(nt):
                pp[c * nt + t] = e[c * nt + t]
        if lab != NULL:
            for t in range(nt):
                if cls[t] < 0:
                    for c in range(C):
                        pp[c * nt + t] = 0.0
        return bad
    # -- softmax along the classes: exp(z - max) in y_pred's type (the vector
    # exp of the path in use), the sum and its inverse in float64
    # (a select, not a branch: on random logits the branch mispredicts; a
    # NaN is skipped by the max and reaches the sum through its own exp)
    for t in range(nt):
        mx[t] = e[t]
    for c in range(1, C):
        for t in range(nt):
            mx[t] = e[c * nt + t] if e[c * nt + t] > mx[t] else mx[t]
    for t in range(nt):
        # every logit -inf: every probability is exactly 0 (no -inf - -inf)
        if mx[t] == -INFINITY:
            mx[t] = 0
    for c in range(C):
        for t in range(nt):
            e[c * nt + t] = e[c * nt + t] - mx[t]
    _exp_nonpos(e, C * nt)
    if lab != NULL:
        for t in range(nt):
            if cls[t] < 0:
                for c in range(C):
                    e[c * nt + t] = 0
    for t in range(nt):
        aux[t] = 0.0
    for c in range(C):
        for t in range(nt):
            aux[t] = aux[t] + e[c * nt + t]
    for t in range(nt):
        s = aux[t]
        aux[t] = 0.0 if s == 0.0 else 1.0 / s
    for c in range(C):
        for t in range(nt):
            pp[c * nt + t] = e[c * nt + t] * aux[t]
    return bad


cdef inline Scratch _scratch_at(char* base_e, double* base_d, int64_t* base_i,
                                Py_ssize_t* base_s, Py_ssize_t C, Py_ssize_t T, int tid,
                                Py_ssize_t esize) noexcept nogil:
    """Thread tid's slices of the scratch arrays (returned by value: prange
    keeps a variable private only when the loop body assigns it)."""
    cdef Scratch S
    cdef Py_ssize_t nd = 2 * C * T + 3 * T + 3 * C
    cdef double* d = base_d + tid * nd
    S.e = <void*>(base_e + tid * (C * T + T) * esize)
    S.p = d
    S.y = d + C * T
    S.aux = d + 2 * C * T
    S.w = S.aux + T
    S.dot = S.w + T
    S.acc = S.dot + T
    S.cls = base_i + tid * T
    S.base = base_s + tid * T
    return S


cdef class _PosScratch:
    """Per-thread scratch of the positions kernels (NumPy-owned memory)."""
    cdef object e_arr, d_arr, i_arr, s_arr
    cdef char* e
    cdef double* d
    cdef int64_t* i
    cdef Py_ssize_t* s
    cdef Py_ssize_t esize

    def __init__(self, int nthreads, Py_ssize_t C, Py_ssize_t T, object dtype):
        self.e_arr = np.empty(nthreads * (C * T + T), dtype=dtype)
        self.d_arr = np.empty(nthreads * (2 * C * T + 3 * T + 3 * C), dtype=np.float64)
        self.i_arr = np.empty(nthreads * T, dtype=np.int64)
        self.s_arr = np.empty(nthreads * T, dtype=np.intp)
        self.esize = self.e_arr.itemsize
        cdef char[::1] ev = self.e_arr.view(np.uint8)
        cdef double[::1] dv = self.d_arr
        cdef int64_t[::1] iv = self.i_arr
        cdef Py_ssize_t[::1] sv = self.s_arr
        self.e = &ev[0]
        self.d = &dv[0]
        self.i = &iv[0]
        self.s = &sv[0]


cdef int _check_pos(object labels, object y_true, object y_pred, object sample_weight,
                    Py_ssize_t outer, Py_ssize_t C, Py_ssize_t inner,
                    Py_ssize_t rows_div) except -1:
    if outer < 1 or C < 1 or inner < 1 or rows_div < 1 or outer % rows_div:
        raise ValueError("overlap_pos: outer, C, inner, rows_div must be >= 1 and "
                         "rows_div must divide outer")
    if y_pred.shape[0] != outer * C * inner:
        raise ValueError("overlap_pos: y_pred must hold outer * C * inner elements")
    if (labels is None) == (y_true is None):
        raise ValueError("overlap_pos: give exactly one of labels and y_true")
    if labels is not None and labels.shape[0] != outer * inner:
        raise ValueError("overlap_pos: labels must hold outer * inner entries")
    if y_true is not None and y_true.shape[0] != y_pred.shape[0]:
        raise ValueError("overlap_pos: y_true and y_pred differ in length")
    if sample_weight is not None and sample_weight.shape[0] != outer // rows_div:
        raise ValueError("overlap_pos: sample_weight must hold outer // rows_div entries")
    return 0


def overlap_pos_sums(const floating[::1] y_pred, const int64_t[::1] labels,
                     const floating[::1] y_true, const double[::1] sample_weight,
                     Py_ssize_t outer, Py_ssize_t C, Py_ssize_t inner, Py_ssize_t rows_div,
                     bint from_logits, bint squares, bint has_ignore, int64_t ignore,
                     int nthreads):
    """The three sums of every class (shape (3, C), as overlap_sums) of
    y_pred seen as (outer, C, inner) (y_pred comes first: it decides the
    float type when y_true is None), probabilities or (from_logits) logits
    softmaxed along C, against a label map (labels, (outer, inner)) or dense
    targets (y_true, y_pred's layout; give exactly one).  Positions labelled
    ignore_index (has_ignore) add nothing.  sample_weight[o // rows_div]
    weighs position (o, i).  Returns (sums, number of labels outside [0, C)
    that are not ignore_index); those positions add nothing either."""
    _check_pos(labels, y_true, y_pred, sample_weight, outer, C, inner, rows_div)
    cdef PosLayout L = _pos_layout(outer, C, inner, rows_div)
    cdef int nt = _pos_threads(&L, nthreads)
    cdef _PosScratch sc = _PosScratch(nt, C, L.T, np.float32 if floating is float else np.float64)
    partial_arr = np.empty(3 * C * L.nb, dtype=np.float64)
    bad_arr = np.zeros(L.nb, dtype=np.int64)
    sums_arr = np.empty((3, C), dtype=np.float64)
    cdef double[::1] partial = partial_arr
    cdef int64_t[::1] bad = bad_arr
    cdef double[:, ::1] sums = sums_arr
    cdef const double* sw = NULL if sample_weight is None else &sample_weight[0]
    cdef const int64_t* lab = NULL if labels is None else &labels[0]
    cdef const floating* yt = NULL if y_true is None else &y_true[0]
    cdef const floating* z = &y_pred[0]
    cdef Py_ssize_t by_master, b, q, q1, qe, c, t, nq, s, k, nb = L.nb
    cdef Scratch S
    cdef double wv
    with nogil:
        nt = team(nt, nb)
        by_master = 0
        for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
            by_master += threadid() == 0
            S = _scratch_at(sc.e, sc.d, sc.i, sc.s, C, L.T, threadid(), sc.esize)
            for c in range(3 * C):
                S.acc[c] = 0.0
            q = b * L.pb
            qe = min(q + L.pb, L.npos)
            while q < qe:
                q1 = _tile_end(&L, q, qe)
                nq = q1 - q
                bad[b] += _fill_tile(z, yt, lab, sw, &L, q, q1, from_logits, has_ignore,
                                     ignore, &S)
                for c in range(C):
                    if squares:
                        S.acc[2 * C + c] += _dot3(S.w, &S.p[c * nq], &S.p[c * nq], nq)
                    else:
                        S.acc[2 * C + c] += _dot2(S.w, &S.p[c * nq], nq)
                if lab != NULL:
                    for t in range(nq):
                        k = S.cls[t]
                        if k >= 0:
                            wv = S.w[t]
                            S.acc[k] += wv * S.p[k * nq + t]
                            S.acc[C + k] += wv
                else:
                    for c in range(C):
                        S.acc[c] += _dot3(S.w, &S.y[c * nq], &S.p[c * nq], nq)
                        if squares:
                            S.acc[C + c] += _dot3(S.w, &S.y[c * nq], &S.y[c * nq], nq)
                        else:
                            S.acc[C + c] += _dot2(S.w, &S.y[c * nq], nq)
                q = q1
            for s in range(3):
                for c in range(C):
                    partial[(s * C + c) * nb + b] = S.acc[s * C + c]
        team_done(nt, nb, by_master)
        for s in range(3):
            for c in range(C):
                sums[s, c] = combine_blocks(&partial[(s * C + c) * nb], nb)
    return sums_arr, int(bad_arr.sum())


cdef void _grad_tile(const PosLayout* L, Scratch* S, Py_ssize_t nq, bint labelled,
                     bint from_logits, const double* coef, floating* g) noexcept nogil:
    """Write the gradient of one filled tile: dL/dp = w (a_c y + b_c p + d_c)
    (a label map: the affine part everywhere, then w a_c at each position's
    own class), chained through the softmax when from_logits."""
    cdef Py_ssize_t C = L.C, inner = L.inner, c, t, k
    cdef double* pp = S.p
    cdef double* yy = S.y
    cdef double* ww = S.w
    cdef double* dot = S.dot
    cdef int64_t* cls = S.cls
    cdef Py_ssize_t* base = S.base
    cdef floating* dst
    cdef double a, bb, d
    for c in range(C):
        a = coef[c]
        bb = coef[C + c]
        d = coef[2 * C + c]
        if labelled:
            for t in range(nq):
                yy[c * nq + t] = ww[t] * (bb * pp[c * nq + t] + d)
        else:
            for t in range(nq):
                yy[c * nq + t] = ww[t] * (a * yy[c * nq + t] + bb * pp[c * nq + t] + d)
    if labelled:
        for t in range(nq):
            k = cls[t]
            if k >= 0:
                yy[k * nq + t] += ww[t] * coef[k]
    if from_logits:
        # dL/dz = p (g - <g, p>) per position
        for t in range(nq):
            dot[t] = 0.0
        for c in range(C):
            for t in range(nq):
                dot[t] = dot[t] + pp[c * nq + t] * yy[c * nq + t]
        for c in range(C):
            for t in range(nq):
                yy[c * nq + t] = pp[c * nq + t] * (yy[c * nq + t] - dot[t])
    if L.contig:
        for c in range(C):
            dst = g + base[0] + c * inner
            for t in range(nq):
                dst[t] = <floating>yy[c * nq + t]
    else:
        for c in range(C):
            for t in range(nq):
                g[base[t] + c * inner] = <floating>yy[c * nq + t]


def overlap_pos_grad(const floating[::1] y_pred, const int64_t[::1] labels,
                     const floating[::1] y_true, const double[::1] sample_weight,
                     Py_ssize_t outer, Py_ssize_t C, Py_ssize_t inner, Py_ssize_t rows_div,
                     bint from_logits, bint has_ignore, int64_t ignore,
                     const double[:, ::1] coef, floating[::1] grad, int nthreads):
    """The gradient for overlap_pos_sums's layout: g = w (a_c y + b_c p + d_c)
    with respect to the probabilities ((a, b, d) = the rows of coef, shape
    (3, C), scaled by the reduction), chained through the softmax when
    from_logits (p ⊙ (g - <g, p>) per position).  Ignored positions and
    labels outside [0, C) get 0."""
    _check_pos(labels, y_true, y_pred, sample_weight, outer, C, inner, rows_div)
    _check_sums(coef, C)
    if grad.shape[0] != y_pred.shape[0]:
        raise ValueError("overlap_pos: grad must hold as many elements as y_pred")
    cdef PosLayout L = _pos_layout(outer, C, inner, rows_div)
    cdef int nt = _pos_threads(&L, nthreads)
    cdef _PosScratch sc = _PosScratch(nt, C, L.T, np.float32 if floating is float else np.float64)
    cdef const double* sw = NULL if sample_weight is None else &sample_weight[0]
    cdef const int64_t* lab = NULL if labels is None else &labels[0]
    cdef const floating* yt = NULL if y_true is None else &y_true[0]
    cdef const floating* z = &y_pred[0]
    cdef floating* g = &grad[0]
    cdef Py_ssize_t by_master, b, q, q1, qe, nq, nb = L.nb
    cdef Scratch S
    with nogil:
        nt = team(nt, nb)
        by_master = 0
        for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
            by_master += threadid() == 0
            S = _scratch_at(sc.e, sc.d, sc.i, sc.s, C, L.T, threadid(), sc.esize)
            q = b * L.pb
            qe = min(q + L.pb, L.npos)
            while q < qe:
                q1 = _tile_end(&L, q, qe)
                nq = q1 - q
                _fill_tile(z, yt, lab, sw, &L, q, q1, from_logits, has_ignore, ignore, &S)
                _grad_tile(&L, &S, nq, lab != NULL, from_logits, &coef[0, 0], g)
                q = q1
        team_done(nt, nb, by_master)


# ====================================================================== Kappa
# Loss = Σ W∘O / Σ W∘E with O = Yᵀ P (weighted rows) and E = h qᵀ / Σw:
#   Num = Σ_i w_i Σ_b W[y_i, b] P_ib
#   Den = Σ_b v_b q_b / Σw,  v_b = Σ_a h_a W_ab,  h = Σ_i w_i e_{y_i},  q = Σ_i w_i P_i
# dL/dP_ib = w_i (W[y_i, b] - L v_b / Σw) / Den, then through the softmax.
#
# Every W this loss knows depends on |a - b| only, so W is never stored: a
# table f[d] = W at distance d (C entries) gives any entry, and v = hᵀW has a
# closed form in O(C) (recurrences over running sums, below).  A C×C matrix
# would be 298 GiB at C = 200 000 for an input of a few megabytes.
cdef enum KappaWeights:
    KAPPA_NONE = 0          # W = 1 - I
    KAPPA_LINEAR = 1        # |a - b| / (C - 1)
    KAPPA_QUADRATIC = 2     # (a - b)² / (C - 1)²

# Rows per block: at least this many, so the per-block class sums (C of
# them) stay a small fraction of the input even when one row is wider than
# a whole BLOCK_ELEMENTS block.
cdef enum:
    KAPPA_MIN_ROWS = 64


cdef inline Py_ssize_t _kappa_rows_per_block(Py_ssize_t C) noexcept nogil:
    cdef Py_ssize_t r = BLOCK_ELEMENTS // C
    if r < KAPPA_MIN_ROWS:
        r = KAPPA_MIN_ROWS
    return r


def kappa_n_blocks(Py_ssize_t n, Py_ssize_t C):
    cdef Py_ssize_t rpb = _kappa_rows_per_block(C)
    return (n + rpb - 1) // rpb


cdef void _kappa_table(int kind, Py_ssize_t C, double* fm) noexcept nogil:
    """fm[C - 1 + k] = W at signed distance k, k = -(C-1)..C-1 (2C - 1
    entries; the same doubles the C×C matrix held: d / (C - 1),
    d² / (C - 1)²).  Row a of W is then the contiguous &fm[C - 1 - a]."""
    cdef Py_ssize_t k, d
    cdef double m1 = <double>(C - 1), m2 = <double>(C - 1) * <double>(C - 1)
    for k in range(2 * C - 1):
        d = k - (C - 1)
        if d < 0:
            d = -d
        if kind == KAPPA_NONE or d == 0:     # d = 0 also for C = 1, not 0 / 0
            fm[k] = 0.0 if d == 0 else 1.0
        elif kind == KAPPA_LINEAR:
            fm[k] = <double>d / m1
        else:
            fm[k] = (<double>d * <double>d) / m2


cdef void _kappa_v(int kind, const double* h, Py_ssize_t C, double* v) noexcept nogil:
    """v_b = Σ_a h_a W_ab in O(C), from running sums of non-negative terms
    only (no 'total minus part' cancellation):
      none:      Σ_{a<b} h_a + Σ_{a>b} h_a
      linear:    (Lt(b) + Rt(b)) / (C-1),    Lt(b) = Σ_{a<b} h_a (b-a),
                 Lt(b+1) = Lt(b) + Σ_{a≤b} h_a, Rt mirrored
      quadratic: (Lq(b) + Rq(b)) / (C-1)²,   Lq(b) = Σ_{a<b} h_a (b-a)²,
                 Lq(b+1) = Lq(b) + 2 Lt(b) + Σ_{a≤b} h_a, Rq mirrored
    """
    cdef Py_ssize_t b
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, m
    if C == 1:
        v[0] = 0.0                       # W = 0 for one class, whatever the kind
        return
    # left halves, ascending: on entry to b, s0 = Σ_{a<b} h_a, s1 = Lt(b), s2 = Lq(b)
    for b in range(C):
        if kind == KAPPA_NONE:
            v[b] = s0
        elif kind == KAPPA_LINEAR:
            v[b] = s1
        else:
            v[b] = s2
        s0 = s0 + h[b]
        s2 = s2 + 2.0 * s1 + s0
        s1 = s1 + s0
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    for b in range(C - 1, -1, -1):
        if kind == KAPPA_NONE:
            v[b] = v[b] + s0
        elif kind == KAPPA_LINEAR:
            v[b] = v[b] + s1
        else:
            v[b] = v[b] + s2
        s0 = s0 + h[b]
        s2 = s2 + 2.0 * s1 + s0
        s1 = s1 + s0
    if kind == KAPPA_LINEAR:
        m = <double>(C - 1)
        for b in range(C):
            v[b] = v[b] / m
    elif kind == KAPPA_QUADRATIC:
        m = <double>(C - 1) * <double>(C - 1)
        for b in range(C):
            v[b] = v[b] / m


cdef inline bint _softmax_row(const floating* z, Py_ssize_t C, double* out) noexcept nogil:
    """out = softmax(z) in float64; a logit of -inf is a probability of
    exactly 0.  Returns False for a row of only -inf logits (no distribution:
    out is all 0), True otherwise (NaN logits give NaN probabilities)."""
    cdef double m = z[0], s = 0.0
    cdef Py_ssize_t c
    for c in range(1, C):
        if z[c] > m:
            m = z[c]
    if m == -INFINITY:
        for c in range(C):
            if z[c] != z[c]:             # a NaN the max skipped: propagate it
                for c in range(C):
                    out[c] = NAN
                return True
        for c in range(C):
            out[c] = 0.0
        return False
    for c in range(C):
        out[c] = exp(z[c] - m)
        s += out[c]
    for c in range(C):
        out[c] = out[c] / s
    return True


ctypedef fused src_t:
    float
    double


cdef inline double _w_dot(const double* wrow, const src_t* p, Py_ssize_t C) noexcept nogil:
    """Σ_c W[a, c] p_c for the row wrow of W."""
    cdef double t = 0.0
    cdef Py_ssize_t c
    for c in range(C):
        t = t + wrow[c] * p[c]
    return t


def kappa(const int64_t[::1] labels, const floating[::1] y_pred, const double[::1] sample_weight,
          Py_ssize_t n, Py_ssize_t C, int weights, bint from_logits,
          floating[::1] grad, int nthreads):
    """Soft kappa loss Σ W∘O / Σ W∘E of n rows of C probabilities (or logits).

    weights: 0 (W = 1 - I), 1 (linear), 2 (quadratic).  Memory O(C) beyond
    the arrays given, plus 2C per thread and 2C + 3 per block of at least
    64 rows (at most 1/32 of y_pred): no C×C array is formed.  Returns
    (loss, Σw); the loss is 0 with a zero gradient when Σw = 0 or
    Σ W∘E = 0, and +inf with a zero gradient when a row of weight > 0 has
    only -inf logits (from_logits).
    """
    if n < 1 or C < 1:
        raise ValueError("kappa: y_pred must have n >= 1 rows of C >= 1 classes")
    if labels.shape[0] != n:
        raise ValueError("kappa: labels must hold n entries")
    if y_pred.shape[0] != n * C:
        raise ValueError("kappa: y_pred must hold n * C entries")
    if weights < KAPPA_NONE or weights > KAPPA_QUADRATIC:
        raise ValueError(f"kappa: unknown weights kind {weights}")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("kappa: sample_weight must hold n entries")
    if grad is not None and grad.shape[0] != n * C:
        raise ValueError("kappa: grad must hold n * C entries")
    cdef Py_ssize_t k
    for k in range(n):
        if labels[k] < 0 or labels[k] >= C:
            raise ValueError(f"kappa: labels holds {labels[k]}, outside [0, {C})")
    cdef Py_ssize_t rpb = _kappa_rows_per_block(C)
    cdef Py_ssize_t nb = (n + rpb - 1) // rpb
    cdef int nt = threads_for(n * C, MIN_PARALLEL_ELEMENTS, nthreads)
    if nt > nb:
        nt = <int>nb
    # Per block, stat-major for combine_blocks: h (C), q (C), num, Σw,
    # masked weight.  A block accumulates h and q in its thread's own
    # contiguous buffer and stores them once at its end.
    partial_arr = np.empty((2 * C + 3) * nb, dtype=np.float64)
    rowbuf_arr = np.empty(nt * C if from_logits else 1, dtype=np.float64)
    accbuf_arr = np.empty(nt * 2 * C, dtype=np.float64)
    vecs_arr = np.empty(4 * C, dtype=np.float64)      # f (2C - 1), v, u
    cdef double[::1] partial = partial_arr
    cdef double[::1] rowbuf = rowbuf_arr
    cdef double[::1] accbuf = accbuf_arr
    cdef double[::1] vecs = vecs_arr
    cdef double* f = &vecs[0]
    cdef double* v = &vecs[2 * C]
    cdef double* u = &vecs[3 * C]
    cdef const double* wrow
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    cdef Py_ssize_t by_master, b, i, r0, r1, c, a, tid
    cdef double wi, num, den, sw, masked, L, t, scale, dot
    cdef double* pr
    cdef double* acc
    cdef const floating* row
    with nogil:
        _kappa_table(weights, C, f)
        nt = team(nt, nb)
        by_master = 0
        for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
            by_master += threadid() == 0
            tid = threadid()
            pr = &rowbuf[tid * C] if from_logits else NULL
            acc = &accbuf[tid * 2 * C]
            for c in range(2 * C):
                acc[c] = 0.0
            num = 0.0
            sw = 0.0
            masked = 0.0
            r0 = b * rpb
            r1 = min(r0 + rpb, n)
            for i in range(r0, r1):
                wi = 1.0 if w == NULL else w[i]
                a = labels[i]
                row = &y_pred[i * C]
                if from_logits:
                    if not _softmax_row(row, C, pr):
                        # No distribution in this row: its true class is
                        # masked (+inf loss) unless the row weighs nothing.
                        masked = masked + wi
                        continue
                    for c in range(C):
                        acc[C + c] += wi * pr[c]
                    num = num + wi * _w_dot(&f[C - 1 - a], pr, C)
                else:
                    for c in range(C):
                        acc[C + c] += wi * row[c]
                    num = num + wi * _w_dot(&f[C - 1 - a], row, C)
                acc[a] += wi
                sw = sw + wi
            for c in range(2 * C):
                partial[c * nb + b] = acc[c]
            partial[2 * C * nb + b] = num
            partial[(2 * C + 1) * nb + b] = sw
            partial[(2 * C + 2) * nb + b] = masked
        team_done(nt, nb, by_master)
        num = combine_blocks(&partial[2 * C * nb], nb)
        sw = combine_blocks(&partial[(2 * C + 1) * nb], nb)
        masked = combine_blocks(&partial[(2 * C + 2) * nb], nb)
        for c in range(C):
            u[c] = combine_blocks(&partial[c * nb], nb)         # h, for now
        _kappa_v(weights, u, C, v)
        den = 0.0
        for c in range(C):
            den += v[c] * combine_blocks(&partial[(C + c) * nb], nb)
        if sw > 0.0:
            den = den / sw
        if masked != 0.0:
            L = masked * INFINITY        # +inf (NaN for a NaN weight)
            scale = 0.0
        elif sw == 0.0 or (den == 0.0 and num == 0.0):
            L = 0.0
            scale = 0.0
        else:
            L = num / den
            scale = 1.0 / den
        if grad is not None:
            for c in range(C):
                u[c] = L * v[c] / sw if scale != 0.0 else 0.0
            nt = team(nt, nb)
            by_master = 0
            for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
                by_master += threadid() == 0
                tid = threadid()
                pr = &rowbuf[tid * C] if from_logits else NULL
                r0 = b * rpb
                r1 = min(r0 + rpb, n)
                for i in range(r0, r1):
                    wi = (1.0 if w == NULL else w[i]) * scale
                    a = labels[i]
                    wrow = &f[C - 1 - a]
                    row = &y_pred[i * C]
                    if scale == 0.0:
                        for c in range(C):
                            grad[i * C + c] = 0
                    elif from_logits:
                        _softmax_row(row, C, pr)
                        # g_c = w (W[a,c] - L v_c / Σw) / Den, then the softmax chain
                        dot = 0.0
                        for c in range(C):
                            t = wi * (wrow[c] - u[c])
                            dot = dot + t * pr[c]
                            grad[i * C + c] = <floating>t
                        for c in range(C):
                            grad[i * C + c] = <floating>(pr[c] * (grad[i * C + c] - dot))
                    else:
                        for c in range(C):
                            grad[i * C + c] = <floating>(wi * (wrow[c] - u[c]))
            team_done(nt, nb, by_master)
    return L, sw


def kappa_hard(const int64_t[::1] a_idx, const int64_t[::1] b_idx, const double[::1] sample_weight,
               Py_ssize_t C, int weights, int nthreads):
    """Cohen's kappa of two label-index arrays (indices in [0, C)).

    Returns 1 - Σ W∘O / Σ W∘E (NaN when Σ W∘E = 0, as scikit-learn).
    Memory O(n + C) beyond the arrays given: blocks hold at least 2C
    samples, so their 2C histogram sums never outnumber the samples; no
    C×C array is formed.
    """
    cdef Py_ssize_t n = a_idx.shape[0]
    if n < 1:
        raise ValueError("kappa_hard: a_idx is empty")
    if b_idx.shape[0] != n:
        raise ValueError("kappa_hard: b_idx must hold as many entries as a_idx")
    if C < 1:
        raise ValueError("kappa_hard: C must be >= 1")
    if weights < KAPPA_NONE or weights > KAPPA_QUADRATIC:
        raise ValueError(f"kappa_hard: unknown weights kind {weights}")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("kappa_hard: sample_weight must hold n entries")
    cdef Py_ssize_t k
    for k in range(n):
        if a_idx[k] < 0 or a_idx[k] >= C:
            raise ValueError(f"kappa_hard: a_idx holds {a_idx[k]}, outside [0, {C})")
        if b_idx[k] < 0 or b_idx[k] >= C:
            raise ValueError(f"kappa_hard: b_idx holds {b_idx[k]}, outside [0, {C})")
    cdef Py_ssize_t rpb = BLOCK_ELEMENTS
    if rpb < 2 * C:
        rpb = 2 * C
    cdef Py_ssize_t nb = (n + rpb - 1) // rpb
    cdef int nt = threads_for(n, MIN_PARALLEL_ELEMENTS, nthreads)
    if nt > nb:
        nt = <int>nb
    # per block, stat-major: h (C), g (C), num, Σw
    partial_arr = np.empty((2 * C + 2) * nb, dtype=np.float64)
    accbuf_arr = np.empty(nt * 2 * C, dtype=np.float64)
    vecs_arr = np.empty(4 * C, dtype=np.float64)       # f (2C - 1), h, v
    cdef double[::1] partial = partial_arr
    cdef double[::1] accbuf = accbuf_arr
    cdef double[::1] vecs = vecs_arr
    cdef double* f = &vecs[0]
    cdef double* h = &vecs[2 * C]
    cdef double* v = &vecs[3 * C]
    cdef double* acc
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    cdef Py_ssize_t by_master, b, i, r0, r1, a, c, tid
    cdef double wi, num, den, sw
    with nogil:
        _kappa_table(weights, C, f)
        nt = team(nt, nb)
        by_master = 0
        for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
            by_master += threadid() == 0
            tid = threadid()
            acc = &accbuf[tid * 2 * C]
            for c in range(2 * C):
                acc[c] = 0.0
            num = 0.0
            sw = 0.0
            r0 = b * rpb
            r1 = min(r0 + rpb, n)
            for i in range(r0, r1):
                wi = 1.0 if w == NULL else w[i]
                a = a_idx[i]
                c = b_idx[i]
                acc[a] += wi
                acc[C + c] += wi
                num = num + wi * f[C - 1 - a + c]
                sw = sw + wi
            for c in range(2 * C):
                partial[c * nb + b] = acc[c]
            partial[2 * C * nb + b] = num
            partial[(2 * C + 1) * nb + b] = sw
        team_done(nt, nb, by_master)
        num = combine_blocks(&partial[2 * C * nb], nb)
        sw = combine_blocks(&partial[(2 * C + 1) * nb], nb)
        for a in range(C):
            h[a] = combine_blocks(&partial[a * nb], nb)
        _kappa_v(weights, h, C, v)
        den = 0.0
        for c in range(C):
            den += v[c] * combine_blocks(&partial[(C + c) * nb], nb)
        if sw > 0.0:
            den = den / sw
    if den == 0.0:
        return NAN
    return 1.0 - num / den


# ===================================================================== Lovász
# Sort keys: an order-preserving map of the float bits to unsigned integers,
# complemented so that an ascending radix sort gives errors in descending
# order (+NaN first, as the largest; -0.0 is made +0.0 first so that the two
# zeros tie, as they compare).  The payload is the element's base address
# with the foreground bit in bit 31.  float32 keys travel with their payload
# in one 64-bit record (key << 32 | payload): one stream per radix pass.
cdef enum:
    FG_BIT = 0x80000000
    ADDR_MASK = 0x7FFFFFFF
    DIGIT_BITS = 11          # 3 passes for 32-bit keys, 6 for 64-bit ones
    RADIX = 2048
    DIGIT_MASK = 2047
    MAX_DIGITS = 6
    # one-byte labels (every task reads all labels of its images: 1 byte
    # instead of 8 a pixel a task), for C <= LAB8_MAX_C
    LAB8_IGNORED = 255
    LAB8_OTHER = 254
    LAB8_MAX_C = 254

cdef inline uint32_t _key32(float f) noexcept nogil:
    cdef uint32_t u
    f = f + <float>0.0       # -0.0 -> +0.0 (IEEE addition, kept without fast-math)
    memcpy(&u, &f, 4)
    if u & <uint32_t>0x80000000:
        u = ~u
    else:
        u = u | <uint32_t>0x80000000
    return ~u

cdef inline float _unkey32(uint32_t k) noexcept nogil:
    cdef uint32_t u = ~k
    cdef float f
    if u & <uint32_t>0x80000000:
        u = u & <uint32_t>0x7FFFFFFF
    else:
        u = ~u
    memcpy(&f, &u, 4)
    return f

cdef inline uint64_t _key64(double f) noexcept nogil:
    cdef uint64_t u
    f = f + 0.0
    memcpy(&u, &f, 8)
    if u & <uint64_t>0x8000000000000000ULL:
        u = ~u
    else:
        u = u | <uint64_t>0x8000000000000000ULL
    return ~u

cdef inline double _unkey64(uint64_t k) noexcept nogil:
    cdef uint64_t u = ~k
    cdef double f
    if u & <uint64_t>0x8000000000000000ULL:
        u = u & <uint64_t>0x7FFFFFFFFFFFFFFFULL
    else:
        u = ~u
    memcpy(&f, &u, 8)
    return f


cdef inline void _prefix(uint32_t* cnt) noexcept nogil:
    cdef uint32_t s = 0, tmp
    cdef int d
    for d in range(RADIX):
        tmp = cnt[d]
        cnt[d] = s
        s += tmp


cdef int _radix_sort_rec(uint64_t* a, uint64_t* a2, Py_ssize_t n,
                         uint32_t* counts) noexcept nogil:
    """Stable LSD radix sort of the records (key << 32 | payload) by key, 11
    bits a pass, given the three digit histograms (filled while the records
    were written); a pass whose digit is the same for every record is
    skipped.  Returns 0 if the result is in a, 1 if it is in a2."""
    cdef int dig, shift, where = 0
    cdef uint32_t d
    cdef Py_ssize_t i
    cdef uint32_t* cnt
    cdef uint64_t x
    cdef uint64_t* src = a
    cdef uint64_t* dst = a2
    cdef uint64_t* tmp
    for dig in range(3):
        cnt = &counts[dig * RADIX]
        shift = 32 + DIGIT_BITS * dig
        if cnt[<uint32_t>(a[0] >> shift) & DIGIT_MASK] == <uint32_t>n:
            continue
        _prefix(cnt)
        for i in range(n):
            x = src[i]
            d = <uint32_t>(x >> shift) & DIGIT_MASK
            dst[cnt[d]] = x
            cnt[d] += 1
        tmp = src
        src = dst
        dst = tmp
        where = 1 - where
    return where


cdef int _radix_sort64(uint64_t* k, uint32_t* v, uint64_t* k2, uint32_t* v2, Py_ssize_t n,
                       uint32_t* counts) noexcept nogil:
    """Stable LSD radix sort of (k, v) by the 64-bit k, 11 bits a pass; passes
    whose digit is the same for every element are skipped.  Returns 0 if
    the result is in (k, v), 1 if it is in (k2, v2)."""
    cdef int dig, shift, where = 0
    cdef uint32_t d
    cdef Py_ssize_t i
    cdef uint32_t* cnt
    cdef uint64_t x
    cdef uint64_t* sk = k
    cdef uint64_t* dk = k2
    cdef uint32_t* sv = v
    cdef uint32_t* dv = v2
    cdef uint64_t* tk
    cdef uint32_t* tv
    memset(counts, 0, MAX_DIGITS * RADIX * sizeof(uint32_t))
    for i in range(n):
        x = k[i]
        for dig in range(MAX_DIGITS):
            counts[dig * RADIX + (<uint32_t>(x >> (DIGIT_BITS * dig)) & DIGIT_MASK)] += 1
    for dig in range(MAX_DIGITS):
        cnt = &counts[dig * RADIX]
        shift = DIGIT_BITS * dig
        if cnt[<uint32_t>(k[0] >> shift) & DIGIT_MASK] == <uint32_t>n:
            continue
        _prefix(cnt)
        for i in range(n):
            x = sk[i]
            d = <uint32_t>(x >> shift) & DIGIT_MASK
            dk[cnt[d]] = x
            dv[cnt[d]] = sv[i]
            cnt[d] += 1
        tk = sk
        sk = dk
        dk = tk
        tv = sv
        sv = dv
        dv = tv
        where = 1 - where
    return where


def _lovasz_sort_order(const floating[::1] errors):
    """Test hook: the order in which the Lovász kernel visits `errors`
    (descending, ties in input order), by the kernel's own keys and sort."""
    cdef Py_ssize_t n = errors.shape[0], i
    order_arr = np.empty(n, dtype=np.int64)
    if n == 0:
        return order_arr
    cdef int64_t[::1] order = order_arr
    cdef uint64_t[::1] a = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] a2 = np.empty(n, dtype=np.uint64)
    cdef uint32_t[::1] v = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] v2 = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] counts = np.zeros(MAX_DIGITS * RADIX, dtype=np.uint32)
    cdef uint32_t key
    cdef int where
    with nogil:
        if floating is float:
            for i in range(n):
                key = _key32(errors[i])
                a[i] = (<uint64_t>key << 32) | <uint64_t>i
                counts[key & DIGIT_MASK] += 1
                counts[RADIX + ((key >> DIGIT_BITS) & DIGIT_MASK)] += 1
                counts[2 * RADIX + (key >> (2 * DIGIT_BITS))] += 1
            where = _radix_sort_rec(&a[0], &a2[0], n, &counts[0])
            for i in range(n):
                order[i] = <int64_t>(<uint32_t>(a2[i] if where else a[i]))
        else:
            for i in range(n):
                a[i] = _key64(errors[i])
                v[i] = <uint32_t>i
            where = _radix_sort64(&a[0], &v[0], &a2[0], &v2[0], n, &counts[0])
            for i in range(n):
                order[i] = <int64_t>(v2[i] if where else v[i])
    return order_arr


cdef double _lovasz_task(const floating* pred, const int64_t* lab, const uint8_t* lab8,
                         const double* lse,
                         Py_ssize_t b0, Py_ssize_t b1, Py_ssize_t C, Py_ssize_t HW,
                         Py_ssize_t c, bint hinge, bint from_logits,
                         bint has_ignore, int64_t ignore, double gscale, floating* grad,
                         uint64_t* keys, uint32_t* pay, uint64_t* keys2, uint32_t* pay2,
                         uint32_t* counts, bint zero_ignored) noexcept nogil:
    """Lovász loss of class c (target 1 for hinge) over images b0..b1.

    Writes gscale * d(loss)/d(pred) (d/d(probabilities) when from_logits, the
    softmax chain comes later) at the class-c elements of valid pixels.
    A valid pixel whose logits are all -inf (lse = -inf) has no distribution:
    its true class is masked, so the task's loss is +inf and its gradient 0
    (unless a NaN is also present, which propagates).  lab8 (may be NULL):
    the labels as one byte (LAB8_IGNORED, LAB8_OTHER as below), read
    instead of lab by every task.  With zero_ignored the
    task also writes 0 at its ignored pixels, so that the caller zeroes only
    the planes no task covers.

    The sorted walk touches the gradient through the permutation, so it
    reads nothing else at random: on probabilities the sign of fg - p is
    applied afterwards by one sequential pass over the task's pixels.
    """
    cdef Py_ssize_t b, hw, q, n = 0, gts = 0, k, off, addr
    cdef bint masked = False, has_nan = False, ign
    cdef bint is32 = floating is float
    cdef int64_t target = 1 if hinge else c
    cdef int64_t L
    cdef uint32_t fg, base, pk, key
    cdef uint64_t rec
    cdef double p, e, loss = 0.0, F = 0.0, Bc = 0.0, J, Jprev = 0.0, g, dsign, t, gtsd
    cdef uint64_t* k64 = keys
    cdef uint64_t* recs = keys
    cdef int where
    off = 0 if hinge else c * HW
    if is32:
        memset(counts, 0, 3 * RADIX * sizeof(uint32_t))
    for b in range(b0, b1):
        for hw in range(HW):
            q = b * HW + hw
            if lab8 != NULL:
                L = lab8[q]
                ign = L == LAB8_IGNORED
            else:
                L = lab[q]
                ign = has_ignore and L == ignore
            if ign:
                if zero_ignored and grad != NULL:
                    grad[b * C * HW + off + hw] = 0
                continue
            fg = 1 if L == target else 0
            gts += fg
            base = <uint32_t>(b * C * HW + hw)
            addr = base + off
            if hinge:
                e = 1.0 - pred[addr] * (2.0 * fg - 1.0)
            elif from_logits:
                if lse[q] == -INFINITY:
                    masked = True
                    e = 1.0          # placeholder: the task's loss is +inf
                else:
                    p = exp(pred[addr] - lse[q])
                    e = fabs(fg - p)
            else:
                e = fabs(fg - <double>pred[addr])
            if from_logits and e != e:
                has_nan = True
            if e <= 0.0:
                # Errors <= 0 sort after every other one except a -NaN (whose
                # loss is NaN and gradient 0 anyway), so they change no
                # earlier count; their terms are 0 (relu, or |fg - p| = 0 and
                # a zero sign) and so is their gradient: not sorted at all.
                if grad != NULL:
                    grad[addr] = 0
                continue
            if is32:
                key = _key32(<float>e)
                recs[n] = (<uint64_t>key << 32) | <uint64_t>(base | (fg << 31))
                counts[key & DIGIT_MASK] += 1
                counts[RADIX + ((key >> DIGIT_BITS) & DIGIT_MASK)] += 1
                counts[2 * RADIX + (key >> (2 * DIGIT_BITS))] += 1
            else:
                k64[n] = _key64(e)
                pay[n] = base | (fg << 31)
            n += 1
    if n == 0:
        return 0.0
    if masked and not has_nan:
        if grad != NULL:
            for k in range(n):
                if is32:
                    grad[(<uint32_t>recs[k] & ADDR_MASK) + off] = 0
                else:
                    grad[(pay[k] & ADDR_MASK) + off] = 0
        return INFINITY
    if is32:
        where = _radix_sort_rec(recs, keys2, n, counts)
        if where:
            recs = keys2
    else:
        where = _radix_sort64(k64, pay, keys2, pay2, n, counts)
        if where:
            k64 = keys2
            pay = pay2
    # Lovász gradient of the Jaccard loss from running counts:
    # J_k = 1 - (gts - F_k) / (gts + B_k),  g_k = J_k - J_{k-1}.
    gtsd = <double>gts
    for k in range(n):
        if is32:
            rec = recs[k]
            e = _unkey32(<uint32_t>(rec >> 32))
            pk = <uint32_t>rec
        else:
            e = _unkey64(k64[k])
            pk = pay[k]
        fg = pk >> 31
        F += <double>fg
        Bc += <double>(1 - fg)
        J = 1.0 - (gtsd - F) / (gtsd + Bc)
        g = J - Jprev
        Jprev = J
        addr = (pk & ADDR_MASK) + off
        if hinge:
            # g = 0 terms add nothing; skipping them keeps an infinite error
            # (a ±inf logit) from making inf * 0 = NaN.  The first term has
            # g > 0, so an infinite error still gives +inf.
            if e > 0.0:
                if g != 0.0:
                    loss += e * g
            elif e != e:
                loss += e
            if grad != NULL:
                # errors = 1 - f t: d/df = -t where relu is active
                grad[addr] = <floating>((-gscale * g * (2.0 * fg - 1.0)) if e > 0.0 else 0.0)
        else:
            loss += e * g
            if grad != NULL:
                if from_logits:
                    # d|fg - p|/dp = -sign(fg - p), 0 where p == fg; NaN at a NaN
                    dsign = (-1.0 if fg else 1.0) if e > 0.0 else (0.0 if e == 0.0 else e)
                    grad[addr] = <floating>(gscale * g * dsign)
                else:
                    grad[addr] = <floating>(gscale * g)    # times the sign, below
    if grad != NULL and not hinge and not from_logits:
        # -sign(fg - p) (0 at equality, NaN at NaN): exact, so multiplying the
        # rounded value gives the bits of rounding the product
        for b in range(b0, b1):
            for hw in range(HW):
                q = b * HW + hw
                if lab8 != NULL:
                    L = lab8[q]
                    ign = L == LAB8_IGNORED
                else:
                    L = lab[q]
                    ign = has_ignore and L == ignore
                if ign:
                    continue
                addr = b * C * HW + off + hw
                p = pred[addr]
                t = 1.0 if L == target else 0.0
                dsign = -1.0 if t > p else (1.0 if t < p else (0.0 if t == p else p))
                grad[addr] = <floating>(grad[addr] * dsign)
    return loss


cdef void _lse_pass(const floating* z, const int64_t* lab, Py_ssize_t B, Py_ssize_t C,
                    Py_ssize_t HW, double* lse, int nthreads) noexcept nogil:
    """lse[q] = log Σ_c exp(z_c) of every pixel: -inf for a pixel of only
    -inf logits (not -inf - -inf = NaN), NaN if a logit is NaN."""
    cdef Py_ssize_t P = B * HW, q, b, hw, c
    cdef double m, s, x
    cdef const floating* zz
    cdef int nt = threads_for(P * C, MIN_PARALLEL_ELEMENTS, nthreads)
    # per-pixel results: chunks handed out as threads come free
    for q in prange(P, schedule="dynamic", chunksize=4096, num_threads=nt):
        b = q // HW
        hw = q - b * HW
        zz = &z[b * C * HW + hw]
        m = zz[0]
        for c in range(1, C):
            x = zz[c * HW]
            if x > m:
                m = x
        s = 0.0
        if m == -INFINITY:
            for c in range(C):
                x = zz[c * HW]
                if x != x:
                    s = x
            lse[q] = -INFINITY if s == 0.0 else s
        else:
            for c in range(C):
                s = s + exp(zz[c * HW] - m)
            lse[q] = m + log(s)


cdef void _softmax_chain(const floating* z, const int64_t* lab, Py_ssize_t B, Py_ssize_t C,
                         Py_ssize_t HW, const double* lse, bint has_ignore, int64_t ignore,
                         floating* grad, int nthreads) noexcept nogil:
    """grad (holding dL/dp) becomes dL/dz = p ⊙ (dL/dp - <dL/dp, p>) per pixel.

    Ignored pixels and pixels of only -inf logits (lse = -inf: their tasks'
    losses are +inf with a zero gradient) get 0 without computing p, which
    may be NaN there (0 * NaN = NaN)."""
    cdef Py_ssize_t P = B * HW, q, b, hw, c
    cdef double s, p
    cdef const floating* zz
    cdef floating* gg
    cdef int nt = threads_for(P * C, MIN_PARALLEL_ELEMENTS, nthreads)
    # per-pixel results: chunks handed out as threads come free
    for q in prange(P, schedule="dynamic", chunksize=4096, num_threads=nt):
        b = q // HW
        hw = q - b * HW
        zz = &z[b * C * HW + hw]
        gg = &grad[b * C * HW + hw]
        if (has_ignore and lab[q] == ignore) or lse[q] == -INFINITY:
            for c in range(C):
                gg[c * HW] = 0
        else:
            s = 0.0
            for c in range(C):
                s = s + exp(zz[c * HW] - lse[q]) * gg[c * HW]
            for c in range(C):
                p = exp(zz[c * HW] - lse[q])
                gg[c * HW] = <floating>(p * (gg[c * HW] - s))


def lovasz_counts(const int64_t[::1] labels, Py_ssize_t B, Py_ssize_t HW, Py_ssize_t ncls,
                  bint has_ignore, int64_t ignore, int nthreads):
    """Per-image class counts of the valid labels, shape (B, ncls), and the
    number of labels outside [0, ncls) that are not ignore_index."""
    if labels.shape[0] != B * HW:
        raise ValueError("lovasz_counts: labels must hold B * HW entries")
    # Four partial tables per image (pixel hw counts into table hw % 4):
    # runs of one label then add to four counters in turn instead of one,
    # whose read-modify-write chain would bound the loop.  Only when the
    # tables are small next to the labels (else one table).
    cdef Py_ssize_t parts = 4 if 4 * ncls <= HW else 1
    part_arr = np.zeros((B, parts, ncls), dtype=np.int64)
    bad_arr = np.zeros(B, dtype=np.int64)
    cdef int64_t[:, :, ::1] part = part_arr
    cdef int64_t[::1] bad = bad_arr
    cdef Py_ssize_t b, hw
    cdef int64_t L
    cdef int64_t nbad
    cdef int64_t* tab
    cdef const int64_t* lab
    cdef int nt = threads_for(B * HW, MIN_PARALLEL_ELEMENTS, nthreads)
    cdef Py_ssize_t by_master
    with nogil:
        nt = team(nt, B)
        by_master = 0
        for b in prange(B, schedule="dynamic", chunksize=1, num_threads=nt):
            by_master += threadid() == 0
            tab = &part[b, 0, 0]
            lab = &labels[b * HW]
            nbad = 0
            for hw in range(HW):
                L = lab[hw]
                if has_ignore and L == ignore:
                    continue
                if <uint64_t>L < <uint64_t>ncls:
                    tab[(hw & (parts - 1)) * ncls + L] += 1
                else:
                    nbad = nbad + 1
            bad[b] = nbad
        team_done(nt, B, by_master)
    return part_arr.sum(axis=1), int(bad_arr.sum())


def lovasz(const floating[::1] pred, const int64_t[::1] labels,
           Py_ssize_t B, Py_ssize_t C, Py_ssize_t HW, bint hinge, bint from_logits,
           bint has_ignore, int64_t ignore,
           const int64_t[::1] task_b0, const int64_t[::1] task_b1, const int64_t[::1] task_c,
           const double[::1] task_gscale, floating[::1] grad, bint zero_grad, int nthreads):
    """Run the Lovász tasks: task t sorts class task_c[t] over images
    task_b0[t]..task_b1[t].  Returns the unscaled per-task losses; grad (if
    given) receives Σ_t task_gscale[t] d(loss_t)/d(pred), chained through
    the softmax when from_logits."""
    cdef Py_ssize_t N = pred.shape[0], ntasks = task_c.shape[0], t, maxp = 0, tid, by_master
    # Element addresses travel in 31 bits of the sort payload.
    if N > <Py_ssize_t>ADDR_MASK:
        raise ValueError(f"lovasz: pred has {N} elements, more than 2**31 - 1")
    if N != B * C * HW:
        raise ValueError("lovasz: pred must hold B * C * HW elements")
    if labels.shape[0] != B * HW:
        raise ValueError("lovasz: labels must hold B * HW entries")
    if task_b0.shape[0] != ntasks or task_b1.shape[0] != ntasks or task_gscale.shape[0] != ntasks:
        raise ValueError("lovasz: task_b0, task_b1, task_c and task_gscale differ in length")
    if grad is not None and grad.shape[0] != N:
        raise ValueError("lovasz: grad must hold as many elements as pred")
    for t in range(ntasks):
        if not (0 <= task_b0[t] < task_b1[t] <= B) or not (0 <= task_c[t] < C):
            raise ValueError(f"lovasz: task {t} (task_b0, task_b1, task_c) is out of range")
        maxp = max(maxp, (task_b1[t] - task_b0[t]) * HW)
    losses_arr = np.zeros(ntasks, dtype=np.float64)
    if ntasks == 0:
        if grad is not None:
            grad[:] = 0
        return losses_arr
    cdef int nt = threads_for(N, MIN_PARALLEL_ELEMENTS, nthreads)
    if nt > ntasks:
        nt = <int>ntasks
    if nt < 1:
        nt = 1
    keys_arr = np.empty(nt * maxp, dtype=np.uint64)
    keys2_arr = np.empty(nt * maxp, dtype=np.uint64)
    # float32 keys carry their payload inside the 64-bit record
    pay_arr = np.empty(1 if floating is float else nt * maxp, dtype=np.uint32)
    pay2_arr = np.empty(1 if floating is float else nt * maxp, dtype=np.uint32)
    rc_arr = np.empty(nt * MAX_DIGITS * RADIX, dtype=np.uint32)
    lse_arr = np.empty(B * HW if from_logits else 1, dtype=np.float64)
    cdef uint64_t[::1] keys = keys_arr
    cdef uint64_t[::1] keys2 = keys2_arr
    cdef uint32_t[::1] pay = pay_arr
    cdef uint32_t[::1] pay2 = pay2_arr
    cdef uint32_t[::1] rc = rc_arr
    cdef double[::1] lse = lse_arr
    cdef double[::1] losses = losses_arr
    cdef floating* g = NULL if grad is None else &grad[0]
    cdef Py_ssize_t e, plane, b, q
    cdef int64_t L
    # labels 0/1 for the hinge (C = 1), 0..C-1 otherwise
    cdef int64_t nlab = 2 if hinge else C
    cdef Py_ssize_t reads = 0
    for t in range(ntasks):
        reads += task_b1[t] - task_b0[t]
    # worth a pass when the tasks read every image's labels twice or more
    cdef bint compact = nlab <= LAB8_MAX_C and reads >= 2 * B
    lab8_arr = np.empty(B * HW if compact else 1, dtype=np.uint8)
    cdef uint8_t[::1] lab8 = lab8_arr
    cdef uint8_t* l8 = &lab8[0] if compact else NULL
    cdef int ntz = threads_for(N, MIN_PARALLEL_ELEMENTS, nthreads)
    # The (image, class) planes the tasks write whole (ignored pixels as 0);
    # only the others are zeroed here: no second pass over the gradient.
    cov_arr = np.zeros(B * C, dtype=np.uint8)
    cdef unsigned char[::1] cov = cov_arr
    if g != NULL and zero_grad:
        for t in range(ntasks):
            for b in range(task_b0[t], task_b1[t]):
                cov[b * C + task_c[t]] = 1
    with nogil:
        if compact:
            for q in prange(B * HW, schedule="dynamic", chunksize=16384, num_threads=ntz):
                L = labels[q]
                if has_ignore and L == ignore:
                    lab8[q] = LAB8_IGNORED
                elif 0 <= L < nlab:
                    lab8[q] = <uint8_t>L
                else:
                    lab8[q] = LAB8_OTHER
        if g != NULL and zero_grad:
            for plane in prange(B * C, schedule="dynamic", chunksize=16, num_threads=ntz):
                if not cov[plane]:
                    memset(&g[plane * HW], 0, HW * sizeof(floating))
        if from_logits:
            _lse_pass(&pred[0], &labels[0], B, C, HW, &lse[0], nthreads)
        # Tasks differ in size (per-image class counts), so they are handed out
        # dynamically; each writes only its own loss slot and gradient
        # elements, so the result is the same whichever thread runs it.
        nt = team(nt, ntasks)
        by_master = 0
        for t in prange(ntasks, schedule="dynamic", chunksize=1, num_threads=nt):
            tid = threadid()
            by_master += tid == 0
            losses[t] = _lovasz_task(&pred[0], &labels[0], l8, &lse[0],
                                     task_b0[t], task_b1[t], C, HW, task_c[t],
                                     hinge, from_logits, has_ignore, ignore,
                                     task_gscale[t], g,
                                     &keys[tid * maxp], &pay[0 if floating is float else tid * maxp],
                                     &keys2[tid * maxp], &pay2[0 if floating is float else tid * maxp],
                                     &rc[tid * MAX_DIGITS * RADIX], zero_grad)
        team_done(nt, ntasks, by_master)
        if g != NULL and from_logits:
            _softmax_chain(&pred[0], &labels[0], B, C, HW, &lse[0], has_ignore, ignore,
                           g, nthreads)
    return losses_arr


# ============================ Kappa with given global statistics (fastloss.dask)
# fastloss.dask runs kappa over chunks of rows: each chunk's statistics
# (kappa_stats), their sum over the chunks, the loss and the gradient's
# constants from the sum (kappa_finish, the same arithmetic as kappa), then
# each chunk's gradient from those constants (kappa_grad_given).  One kernel
# call per chunk and pass; the formulas are kappa's.

cdef int _check_kappa_args(object labels, object y_pred, object sample_weight, Py_ssize_t n,
                           Py_ssize_t C, int weights) except -1:
    cdef Py_ssize_t k
    if n < 1 or C < 1:
        raise ValueError("kappa: y_pred must have n >= 1 rows of C >= 1 classes")
    if labels.shape[0] != n:
        raise ValueError("kappa: labels must hold n entries")
    if y_pred.shape[0] != n * C:
        raise ValueError("kappa: y_pred must hold n * C entries")
    if weights < KAPPA_NONE or weights > KAPPA_QUADRATIC:
        raise ValueError(f"kappa: unknown weights kind {weights}")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError("kappa: sample_weight must hold n entries")
    for k in range(n):
        if labels[k] < 0 or labels[k] >= C:
            raise ValueError(f"kappa: labels holds {labels[k]}, outside [0, {C})")
    return 0


def kappa_stats(const int64_t[::1] labels, const floating[::1] y_pred,
                const double[::1] sample_weight, Py_ssize_t n, Py_ssize_t C, int weights,
                bint from_logits, int nthreads):
    """kappa's first pass alone: float64 array of 2C + 3 sums, (h (C), q (C),
    Num, Σw, masked weight), each combined over the blocks in block order.
    Sums of several chunks add up to the statistics of their concatenation."""
    _check_kappa_args(labels, y_pred, sample_weight, n, C, weights)
    cdef Py_ssize_t rpb = _kappa_rows_per_block(C)
    cdef Py_ssize_t nb = (n + rpb - 1) // rpb
    cdef int nt = threads_for(n * C, MIN_PARALLEL_ELEMENTS, nthreads)
    if nt > nb:
        nt = <int>nb
    partial_arr = np.empty((2 * C + 3) * nb, dtype=np.float64)
    rowbuf_arr = np.empty(nt * C if from_logits else 1, dtype=np.float64)
    accbuf_arr = np.empty(nt * 2 * C, dtype=np.float64)
    f_arr = np.empty(2 * C, dtype=np.float64)
    out_arr = np.empty(2 * C + 3, dtype=np.float64)
    cdef double[::1] partial = partial_arr
    cdef double[::1] rowbuf = rowbuf_arr
    cdef double[::1] accbuf = accbuf_arr
    cdef double[::1] fv = f_arr
    cdef double[::1] out = out_arr
    cdef double* f = &fv[0]
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    cdef Py_ssize_t b, i, r0, r1, c, a, tid, s
    cdef double wi, num, sw, masked
    cdef double* pr
    cdef double* acc
    cdef const floating* row
    with nogil:
        _kappa_table(weights, C, f)
        for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
            tid = threadid()
            pr = &rowbuf[tid * C] if from_logits else NULL
            acc = &accbuf[tid * 2 * C]
            for c in range(2 * C):
                acc[c] = 0.0
            num = 0.0
            sw = 0.0
            masked = 0.0
            r0 = b * rpb
            r1 = min(r0 + rpb, n)
            for i in range(r0, r1):
                wi = 1.0 if w == NULL else w[i]
                a = labels[i]
                row = &y_pred[i * C]
                if from_logits:
                    if not _softmax_row(row, C, pr):
                        masked = masked + wi
                        continue
                    for c in range(C):
                        acc[C + c] += wi * pr[c]
                    num = num + wi * _w_dot(&f[C - 1 - a], pr, C)
                else:
                    for c in range(C):
                        acc[C + c] += wi * row[c]
                    num = num + wi * _w_dot(&f[C - 1 - a], row, C)
                acc[a] += wi
                sw = sw + wi
            for c in range(2 * C):
                partial[c * nb + b] = acc[c]
            partial[2 * C * nb + b] = num
            partial[(2 * C + 1) * nb + b] = sw
            partial[(2 * C + 2) * nb + b] = masked
        for s in range(2 * C + 3):
            out[s] = combine_blocks(&partial[s * nb], nb)
    return out_arr


def kappa_finish(const double[::1] stats, Py_ssize_t C, int weights):
    """(loss, scale, u) from kappa_stats's sums (of one or many chunks), as
    kappa finishes: scale = 1 / Σ W∘E (0 where the loss is 0 or +inf with a
    zero gradient), u_c = L v_c / Σw; the gradient of a row is then
    w_i scale (W[y_i, c] - u_c)."""
    if C < 1 or stats.shape[0] != 2 * C + 3:
        raise ValueError(f"kappa_finish: stats must hold 2 C + 3 = {2 * C + 3} sums")
    if weights < KAPPA_NONE or weights > KAPPA_QUADRATIC:
        raise ValueError(f"kappa_finish: unknown weights kind {weights}")
    v_arr = np.empty(C, dtype=np.float64)
    u_arr = np.zeros(C, dtype=np.float64)
    cdef double[::1] v = v_arr
    cdef double[::1] u = u_arr
    cdef double num = stats[2 * C], sw = stats[2 * C + 1], masked = stats[2 * C + 2]
    cdef double den = 0.0, L, scale
    cdef Py_ssize_t c
    with nogil:
        _kappa_v(weights, &stats[0], C, &v[0])
        for c in range(C):
            den += v[c] * stats[C + c]
        if sw > 0.0:
            den = den / sw
        if masked != 0.0:
            L = masked * INFINITY
            scale = 0.0
        elif sw == 0.0 or (den == 0.0 and num == 0.0):
            L = 0.0
            scale = 0.0
        else:
            L = num / den
            scale = 1.0 / den
        if scale != 0.0:
            for c in range(C):
                u[c] = L * v[c] / sw
    return L, scale, u_arr


def kappa_grad_given(const int64_t[::1] labels, const floating[::1] y_pred,
                     const double[::1] sample_weight, Py_ssize_t n, Py_ssize_t C,
                     int weights, bint from_logits, double scale, const double[::1] u,
                     floating[::1] grad, int nthreads):
    """kappa's gradient pass for rows of a larger set, from kappa_finish's
    (scale, u) of the whole set: g_ic = w_i scale (W[y_i, c] - u_c), through
    the softmax when from_logits; all 0 when scale is 0."""
    _check_kappa_args(labels, y_pred, sample_weight, n, C, weights)
    if u.shape[0] != C:
        raise ValueError("kappa_grad_given: u must hold C entries")
    if grad.shape[0] != n * C:
        raise ValueError("kappa_grad_given: grad must hold n * C entries")
    cdef Py_ssize_t rpb = _kappa_rows_per_block(C)
    cdef Py_ssize_t nb = (n + rpb - 1) // rpb
    cdef int nt = threads_for(n * C, MIN_PARALLEL_ELEMENTS, nthreads)
    if nt > nb:
        nt = <int>nb
    rowbuf_arr = np.empty(nt * C if from_logits else 1, dtype=np.float64)
    f_arr = np.empty(2 * C, dtype=np.float64)
    cdef double[::1] rowbuf = rowbuf_arr
    cdef double[::1] fv = f_arr
    cdef double* f = &fv[0]
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    cdef Py_ssize_t b, i, r0, r1, c, a, tid
    cdef double wi, t, dot
    cdef double* pr
    cdef const double* wrow
    cdef const floating* row
    with nogil:
        _kappa_table(weights, C, f)
        for b in prange(nb, schedule="dynamic", chunksize=1, num_threads=nt):
            tid = threadid()
            pr = &rowbuf[tid * C] if from_logits else NULL
            r0 = b * rpb
            r1 = min(r0 + rpb, n)
            for i in range(r0, r1):
                wi = (1.0 if w == NULL else w[i]) * scale
                a = labels[i]
                wrow = &f[C - 1 - a]
                row = &y_pred[i * C]
                if scale == 0.0:
                    for c in range(C):
                        grad[i * C + c] = 0
                elif from_logits:
                    _softmax_row(row, C, pr)
                    dot = 0.0
                    for c in range(C):
                        t = wi * (wrow[c] - u[c])
                        dot = dot + t * pr[c]
                        grad[i * C + c] = <floating>t
                    for c in range(C):
                        grad[i * C + c] = <floating>(pr[c] * (grad[i * C + c] - dot))
                else:
                    for c in range(C):
                        grad[i * C + c] = <floating>(wi * (wrow[c] - u[c]))
