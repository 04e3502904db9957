"""Row-wise losses: one generic row driver, one row function per loss.

A row of C values is one sample.  Per loss there is one inline function

    <loss>_row(p, y, label, x, C, mode, gs, g, h) -> l_i

reading the row's targets ``y`` (dense losses) or its class ``label`` (sparse
losses), its predictions ``x``, and writing ``gs * dl_i/dx`` into ``g`` (and
the diagonal second derivative into ``h``) as ``mode`` asks.  The gradient
row doubles as the scratch space (softmax numerators, per-class partial
derivatives), so no logits-sized temporary is ever allocated.  A tag struct
in the fused ``Kind`` type and a line in ``_row``/``_select`` register it.

The driver walks blocks of rows (``rows_per_block``), each block summing
``w_i l_i`` in float64 into ``block_sums[b]``; the block sums are combined in
block order, so results are bit-identical on every thread count.  A row with
a negative label (an ignored row of a sparse loss) has loss 0 and gradient 0.

The softmax family uses ``simd/rows.c``: a row max and a vectorised
``exp(x - max)`` with float64 sums, on the process's one vector path
(``_kernels/simd.pyx``: AVX-512F, AVX2+FMA, SSE2 or libm; ``simd_path()``
says which).
"""
from cython.parallel cimport prange
from libc.math cimport exp, log, sqrt, fabs, fmax, INFINITY, NAN
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from fastloss._kernels._common cimport (
    floating, MIN_PARALLEL_ELEMENTS, threads_for, rows_per_block, combine_blocks,
    clip_prob, check_buffers, Mode, LOSS, LOSS_GRAD, GRAD, GRAD_HESS)

cdef extern from "fl_scalar.h" nogil:
    double pow_gamma "fl_pow_gamma"(double q, double gamma)

from fastloss._kernels cimport simd
from fastloss._kernels.simd cimport fl_kernels, FL_MATH_EXP_NONPOS, FL_MATH_LOG
from fastloss._kernels import simd as _simd

# The process's one kernel table (chosen by _kernels/simd.pyx; the pointer
# stays valid when the path changes).
cdef const fl_kernels* KT = simd.kernels()


def simd_path():
    """The vector path the row kernels take (the process's one path:
    "avx512", "avx2", "sse2" or "scalar")."""
    return KT.name.decode()


def set_simd_path(str name):
    """Take vector path `name` for every kernel module ("auto", "avx512",
    "avx2", "sse2" or "baseline" (= "sse2"), "scalar"); for tests and
    benchmarks (not thread-safe against running kernels).  Returns the
    path now in use."""
    return _simd.set_path("sse2" if name == "baseline" else name)


def exp_nonpositive(const floating[::1] x, floating[::1] out):
    """out = exp(x) for x <= 0 through the path in use (accuracy tests)."""
    if x.shape[0] != out.shape[0]:
        raise ValueError("x and out differ in length")
    if x.shape[0] == 0:
        return
    with nogil:
        if floating is float:
            KT.math_f[FL_MATH_EXP_NONPOS](&x[0], x.shape[0], &out[0])
        else:
            KT.math_d[FL_MATH_EXP_NONPOS](&x[0], x.shape[0], &out[0])


def log_array(const double[::1] x, double[::1] out):
    """out = log(x) through the path in use ("scalar": libm; accuracy tests)."""
    cdef Py_ssize_t i
    if x.shape[0] != out.shape[0]:
        raise ValueError("x and out differ in length")
    if x.shape[0] == 0:
        return
    with nogil:
        if KT.path != 0:     # the scalar path: libm below
            KT.math_d[FL_MATH_LOG](&x[0], x.shape[0], &out[0])
        else:
            for i in range(x.shape[0]):
                out[i] = log(x[i])


cdef struct RParams:
    double eps          # probability clip
    double smooth       # categorical label smoothing s: y -> y (1 - s) + s / C
    double alpha        # focal: class factor (1 when alpha is None)
    double gamma        # focal exponent
    const double* cw    # dense CE class weights (length C) or NULL





# ------------------------------------------------------------ row helpers
cdef inline double _rmax(const floating* x, Py_ssize_t C) noexcept nogil:
    if floating is float:
        return KT.max_f(x, C)
    else:
        return KT.max_d(x, C)


cdef inline double _expsum(const floating* x, Py_ssize_t C, double m,
                           floating* out) noexcept nogil:
    """Σ exp(x_j - m) in float64; the terms go to `out` unless it is NULL."""
    if floating is float:
        return KT.expsum_f(x, C, <float>m, out)
    else:
        return KT.expsum_d(x, C, m, out)


cdef inline double _exp1(floating xj, double m) noexcept nogil:
    """exp(x_j - m) with the bits _expsum gives that term (the same
    subtraction in the array's type, the same vector exp, lane by lane)."""
    cdef floating d, e
    if floating is float:
        d = xj - <float>m
        KT.math_f[FL_MATH_EXP_NONPOS](&d, 1, &e)
    else:
        d = xj - m
        KT.math_d[FL_MATH_EXP_NONPOS](&d, 1, &e)
    return e


cdef inline void _zero(floating* g, Py_ssize_t C) noexcept nogil:
    memset(g, 0, C * sizeof(floating))


cdef inline bint _any_nan(const floating* x, Py_ssize_t C) noexcept nogil:
    if floating is float:
        return KT.any_nan_f(x, C) != 0
    else:
        return KT.any_nan_d(x, C) != 0


cdef inline bint _all_masked(const floating* x, Py_ssize_t C, double m) noexcept nogil:
    """Every logit of the row is -inf (and none is NaN): each class has
    probability exactly 0, and the softmax's x - max would be -inf + inf."""
    return m == -INFINITY and not _any_nan(x, C)


cdef inline double weighted(double w, double v) noexcept nogil:
    """w l for the sums: a sample of weight 0 adds 0 even when its loss is
    +inf (a masked class), where the product would be 0 * inf = NaN.  NaN
    losses still propagate."""
    if w == 0.0 and fabs(v) == INFINITY:
        return 0.0
    return w * v





cdef inline double _row_sum(const floating* x, Py_ssize_t C) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t j
    for j in range(C):
        s += x[j]
    return s


cdef inline void _renorm_grad(floating* g, const floating* x, Py_ssize_t C,
                              double S, double gs) noexcept nogil:
    """g holds G_c = dl/dp_c of p = x / S: replace it by gs * dl/dx.

    dl/dx_j = (G_j - Σ_c G_c x_c / S) / S.
    """
    cdef double D = 0.0, invS = 1.0 / S
    cdef Py_ssize_t j
    for j in range(C):
        D += <double>g[j] * x[j]
    D *= invS
    for j in range(C):
        g[j] = <floating>(gs * (g[j] - D) * invS)


# ------------------------------------------------ softmax cross-entropy
# Dense, logits: l = -Σ t_c log softmax(x)_c with t_c = a_c (y_c (1-s) + s/C);
# gradient T p - t (T = Σ t_c), hessian diagonal T p (1 - p).
cdef inline double _target(const RParams* p, const floating* y, Py_ssize_t c,
                           Py_ssize_t C) noexcept nogil:
    cdef double t = y[c] * (1.0 - p.smooth) + p.smooth / C
    if p.cw != NULL:
        t = t * p.cw[c]
    return t


cdef inline double cce_logit_row(const RParams* p, const floating* y, Py_ssize_t label,
                                 const floating* x, Py_ssize_t C, Mode mode, double gs,
                                 floating* g, floating* h) noexcept nogil:
    cdef double m = _rmax(x, C), S, lS, t, T = 0.0, v = 0.0, pj, invS
    cdef Py_ssize_t j
    if _all_masked(x, C, m):
        # every p_j is 0: -t_j log p_j = +inf where t_j != 0, gradient -t_j
        for j in range(C):
            t = _target(p, y, j, C)
            if t != 0.0:
                v += t * INFINITY
            if mode != LOSS:
                g[j] = <floating>(-gs * t)
                if mode == GRAD_HESS:
                    h[j] = 0
        return v
    S = _expsum(x, C, m, NULL if mode == LOSS else g)
    lS = log(S)
    for j in range(C):
        t = _target(p, y, j, C)
        T += t
        if t != 0.0:          # 0 log 0 = 0, even for a -inf logit
            # -log p_j = (m - x_j) + log S: the large terms cancel first
            v += t * ((m - x[j]) + lS)
    if S != S:                # a NaN logit: NaN even where every t_j is 0
        v = S
    if mode != LOSS:
        invS = 1.0 / S
        for j in range(C):
            pj = g[j] * invS
            if mode == GRAD_HESS:
                h[j] = <floating>(gs * T * pj * (1.0 - pj))
            g[j] = <floating>(gs * (T * pj - _target(p, y, j, C)))
    return v


# Dense, probabilities: each row renormalised to sum 1, then clipped to
# [eps, 1 - eps]; l = -Σ t_c log p_c; G_c = -t_c / p_c where unclipped.
cdef inline double cce_prob_row(const RParams* p, const floating* y, Py_ssize_t label,
                                const floating* x, Py_ssize_t C, Mode mode, double gs,
                                floating* g, floating* h) noexcept nogil:
    cdef double S = _row_sum(x, C), t, q, v = 0.0
    cdef bint inside
    cdef Py_ssize_t j
    for j in range(C):
        t = _target(p, y, j, C)
        q = clip_prob(x[j] / S, p.eps, &inside)
        if t != 0.0:
            v -= t * log(q)
        if mode != LOSS:
            g[j] = <floating>((-t / q) if inside else 0.0)
    if mode != LOSS:
        _renorm_grad(g, x, C, S, gs)
    return v


# Sparse, logits: l = logsumexp(x) - x_y; gradient softmax(x) - onehot(y),
# the true class as -(Σ_{j≠y} e_j) / S so it keeps its digits when p_y ≈ 1.
cdef inline double sce_logit_row(const RParams* p, const floating* y, Py_ssize_t label,
                                 const floating* x, Py_ssize_t C, Mode mode, double gs,
                                 floating* g, floating* h) noexcept nogil:
    cdef double m = _rmax(x, C), S, r, pj, ey
    cdef floating rf
    cdef Py_ssize_t j
    if _all_masked(x, C, m):
        # p = 0 everywhere: loss +inf, gradient -onehot(y)
        if mode != LOSS:
            _zero(g, C)
            g[label] = <floating>(-gs)
            if mode == GRAD_HESS:
                _zero(h, C)
        return INFINITY
    if mode == LOSS:
        S = _expsum(x, C, m, NULL)
        return (m - x[label]) + log(S)
    S = _expsum(x, C, m, g)
    ey = g[label]
    r = gs / S
    # One gradient formula for every mode (gradient_hessian()[0] must equal
    # gradient() bit for bit): e_j times r rounded to the array's type, a
    # product the compiler vectorises in float32.
    rf = <floating>r
    if mode == GRAD_HESS:
        for j in range(C):
            pj = g[j] / S
            h[j] = <floating>(gs * pj * (1.0 - pj))
            g[j] = g[j] * rf
    else:
        for j in range(C):
            g[j] = g[j] * rf
    g[label] = <floating>(r * (ey - S))
    return (m - x[label]) + log(S)


# Sparse, probabilities: renormalise, clip, l = -log p_y.
cdef inline double sce_prob_row(const RParams* p, const floating* y, Py_ssize_t label,
                                const floating* x, Py_ssize_t C, Mode mode, double gs,
                                floating* g, floating* h) noexcept nogil:
    cdef double S = _row_sum(x, C), q
    cdef bint inside
    q = clip_prob(x[label] / S, p.eps, &inside)
    if mode != LOSS:
        _zero(g, C)
        g[label] = <floating>((-1.0 / q) if inside else 0.0)
        _renorm_grad(g, x, C, S, gs)
    return -log(q)


# -------------------------------------------------- categorical focal
# l = -Σ_c u_c (1 - p_c)^γ log p_c with u_c = α y_c.
# Logits (p = softmax(x), L_c = log p_c exact):
#   k_c = u_c [(1-p_c)^γ - γ (1-p_c)^(γ-1) p_c L_c],  dl/dx_j = p_j Σ_c k_c - k_j
# (the bracket's second term tends to 0 as p_c -> 1 for every γ >= 0, and as
# p_c -> 0 (p log p -> 0: a masked class, logit -inf), and is taken as 0
# there).
cdef inline double _focal_k(double u, double pc, double qc, double L, double gamma) noexcept nogil:
    cdef double qg = pow_gamma(qc, gamma)
    if qc > 0.0 and gamma != 0.0 and pc != 0.0:
        return u * (qg - gamma * (qg / qc) * pc * L)
    return u * qg


cdef inline double cfocal_logit_row(const RParams* p, const floating* y, Py_ssize_t label,
                                    const floating* x, Py_ssize_t C, Mode mode, double gs,
                                    floating* g, floating* h) noexcept nogil:
    # In LOSS mode the driver lends a scratch row as `g`, so every mode reads
    # the same e_j from the same vector exp (loss() equals
    # loss_gradient()[0] bit for bit); _exp1 gives the same bits should that
    # allocation fail.
    cdef double m = _rmax(x, C), S, lS, u, e, pc, qc, L, v = 0.0, K = 0.0, invS
    cdef Py_ssize_t j
    if _all_masked(x, C, m):
        # every p_c is 0: -u_c log p_c = +inf where u_c != 0, k_c = u_c
        for j in range(C):
            u = p.alpha * y[j]
            if u != 0.0:
                v += u * INFINITY
            if mode != LOSS:
                g[j] = <floating>(-gs * u)
        return v
    S = _expsum(x, C, m, g)
    lS = log(S)
    invS = 1.0 / S
    for j in range(C):
        u = p.alpha * y[j]
        if u == 0.0:
            continue
        e = g[j] if g != NULL else _exp1(x[j], m)
        pc = e * invS
        qc = (S - e) * invS          # 1 - p_c without cancellation
        L = (x[j] - m) - lS
        v -= u * pow_gamma(qc, p.gamma) * L
        if mode != LOSS:
            K += _focal_k(u, pc, qc, L, p.gamma)
    if S != S:                # a NaN logit: NaN even where every u_c is 0
        v = S
    if mode != LOSS:
        for j in range(C):
            e = g[j]
            pc = e * invS
            u = p.alpha * y[j]
            if u == 0.0:
                g[j] = <floating>(gs * pc * K)
            else:
                g[j] = <floating>(gs * (pc * K - _focal_k(u, pc, (S - e) * invS,
                                                          (x[j] - m) - lS, p.gamma)))
    return v


# Probabilities (renormalised, clipped):
#   G_c = -u_c [(1-p_c)^γ / p_c - γ (1-p_c)^(γ-1) log p_c] where unclipped.
cdef inline double cfocal_prob_row(const RParams* p, const floating* y, Py_ssize_t label,
                                   const floating* x, Py_ssize_t C, Mode mode, double gs,
                                   floating* g, floating* h) noexcept nogil:
    cdef double S = _row_sum(x, C), u, q, r, qg, lq, v = 0.0, G
    cdef bint inside
    cdef Py_ssize_t j
    for j in range(C):
        u = p.alpha * y[j]
        G = 0.0
        if u != 0.0:
            q = clip_prob(x[j] / S, p.eps, &inside)
            r = 1.0 - q
            qg = pow_gamma(r, p.gamma)
            lq = log(q)
            v -= u * qg * lq
            if inside:
                G = -u * (qg / q - p.gamma * (qg / r) * lq)
        if mode != LOSS:
            g[j] = <floating>G
    if mode != LOSS:
        _renorm_grad(g, x, C, S, gs)
    return v


# ------------------------------------------- multiclass (Crammer-Singer) hinge
# l = max(0, 1 + max_{c≠y} x_c - x_y); gradient +1 on the best wrong class
# (the first on ties) and -1 on the true class where l > 0.
cdef inline double mhinge_row(const RParams* p, const floating* y, Py_ssize_t label,
                              const floating* x, Py_ssize_t C, Mode mode, double gs,
                              floating* g, floating* h) noexcept nogil:
    cdef double best = -INFINITY, v
    cdef Py_ssize_t j, bi = -1
    cdef bint nan
    # Vector passes (simd/rows.c): the max of the wrong classes (either side of
    # the label) and a NaN test; then the first wrong class reaching the max,
    # a scan that stops there.  (One scalar loop with a compare-and-branch
    # per element was ~3x slower on 1000 classes.)
    if C > 1:
        best = fmax(_rmax(x, label) if label > 0 else -INFINITY,
                    _rmax(x + label + 1, C - label - 1) if label < C - 1 else -INFINITY)
    if floating is float:
        nan = KT.any_nan_f(x, C) != 0
    else:
        nan = KT.any_nan_d(x, C) != 0
    if not nan:
        for j in range(C):
            if j != label and x[j] == best:
                bi = j
                break
    v = 1.0 + best - x[label]
    if nan:
        v = NAN
    if mode != LOSS:
        _zero(g, C)
        if nan:
            g[label] = <floating>NAN
        elif v > 0.0:
            g[bi] = <floating>gs
            g[label] = <floating>(-gs)
    if v > 0.0 or nan:
        return v
    return 0.0


# ---------------------------------------------------------- distributions
# KL, probabilities: Σ_j ỹ_j log(ỹ_j / p_j), both clipped to [eps, 1] (Keras);
# gradient -ỹ_j / p_j where p is unclipped.
cdef inline double _clip_unit(double f, double eps, bint* inside) noexcept nogil:
    if f < eps:
        inside[0] = False
        return eps
    if f > 1.0:
        inside[0] = False
        return 1.0
    inside[0] = True
    return f


cdef inline double kl_row(const RParams* p, const floating* y, Py_ssize_t label,
                          const floating* x, Py_ssize_t C, Mode mode, double gs,
                          floating* g, floating* h) noexcept nogil:
    cdef double v = 0.0, yc, pc
    cdef bint inside, ignored
    cdef Py_ssize_t j
    for j in range(C):
        yc = _clip_unit(y[j], p.eps, &ignored)
        pc = _clip_unit(x[j], p.eps, &inside)
        v += yc * log(yc / pc)
        if mode != LOSS:
            g[j] = <floating>((-gs * yc / pc) if inside else 0.0)
    return v


# KL, log-probabilities: Σ_j y_j (log y_j - x_j); a term with y_j = 0 is 0
# (also for x_j = -inf, probability 0) unless x_j is NaN, which propagates as
# in torch's kl_div.  Gradient -y_j (torch's), whatever x_j.
cdef inline double kl_log_row(const RParams* p, const floating* y, Py_ssize_t label,
                              const floating* x, Py_ssize_t C, Mode mode, double gs,
                              floating* g, floating* h) noexcept nogil:
    cdef double v = 0.0, yc
    cdef Py_ssize_t j
    # Vector form (simd/rows.c: a polynomial log, <= 2 ulp, in 4 / 2 lanes).
    if floating is float:
        if KT.kl_log_f != NULL:
            return KT.kl_log_f(y, x, C, gs, g if mode != LOSS else NULL)
    else:
        if KT.kl_log_d != NULL:
            return KT.kl_log_d(y, x, C, gs, g if mode != LOSS else NULL)
    for j in range(C):
        yc = y[j]
        if yc != 0.0:
            v += yc * (log(yc) - x[j])
        elif x[j] != x[j]:    # a NaN log-probability propagates (torch kl_div)
            v += x[j]
        if mode != LOSS:
            g[j] = <floating>(-gs * yc)
    return v


# Cosine: 1 - <y, f> / (max(|y|, 1e-12) max(|f|, 1e-12)); where |f| < 1e-12
# the clamp is active and the gradient is -y / (a 1e-12) (finite).
cdef inline double cosine_row(const RParams* p, const floating* y, Py_ssize_t label,
                              const floating* x, Py_ssize_t C, Mode mode, double gs,
                              floating* g, floating* h) noexcept nogil:
    cdef double yy = 0.0, ff = 0.0, yf = 0.0, a, b, B, c, d
    cdef Py_ssize_t j
    for j in range(C):
        yy += <double>y[j] * y[j]
        ff += <double>x[j] * x[j]
        yf += <double>y[j] * x[j]
    a = sqrt(yy)
    if a < 1e-12:
        a = 1e-12
    b = sqrt(ff)
    B = b if b > 1e-12 else 1e-12
    c = yf / (a * B)
    if mode != LOSS:
        d = (c / ff) if b > 1e-12 else 0.0
        for j in range(C):
            g[j] = <floating>(gs * (d * x[j] - y[j] / (a * B)))
    return 1.0 - c


# Hellinger: |sqrt(y) - sqrt(p)|_2 / sqrt(2), p = clip(f, eps, 1);
# gradient -(s_j / (D sqrt 2)) / (2 sqrt p_j) where unclipped, 0 when D = 0.
cdef inline double hellinger_row(const RParams* p, const floating* y, Py_ssize_t label,
                                 const floating* x, Py_ssize_t C, Mode mode, double gs,
                                 floating* g, floating* h) noexcept nogil:
    cdef double D2 = 0.0, s, D, rp, k
    cdef bint inside
    cdef Py_ssize_t j
    # Vector form (simd/rows.c: AVX2+FMA or SSE2, the same formula in 4 / 2
    # float64 lanes; sqrt is exact-rounded on both): one pass for D, one for
    # the gradient, no libm call and no branch per element.
    if floating is float:
        if KT.hell_f != NULL:
            return KT.hell_f(y, x, C, p.eps, gs, g if mode != LOSS else NULL)
    else:
        if KT.hell_d != NULL:
            return KT.hell_d(y, x, C, p.eps, gs, g if mode != LOSS else NULL)
    for j in range(C):
        s = sqrt(<double>y[j]) - sqrt(_clip_unit(x[j], p.eps, &inside))
        D2 += s * s
    D = sqrt(D2)
    if mode != LOSS:
        if D > 0.0 or D != D:
            k = -gs / (D * 1.4142135623730951 * 2.0)
            for j in range(C):
                rp = sqrt(_clip_unit(x[j], p.eps, &inside))
                g[j] = <floating>((k * (sqrt(<double>y[j]) - rp) / rp) if inside else 0.0)
        else:
            _zero(g, C)
    return D / 1.4142135623730951


# ------------------------------------------------------------------- dispatch
cdef struct CCELogit:
    char _
cdef struct CCEProb:
    char _
cdef struct SCELogit:
    char _
cdef struct SCEProb:
    char _
cdef struct CFocalLogit:
    char _
cdef struct CFocalProb:
    char _
cdef struct MHinge:
    char _
cdef struct KL:
    char _
cdef struct KLLog:
    char _
cdef struct Cosine:
    char _
cdef struct Hellinger:
    char _

ctypedef fused Kind:
    CCELogit
    CCEProb
    SCELogit
    SCEProb
    CFocalLogit
    CFocalProb
    MHinge
    KL
    KLLog
    Cosine
    Hellinger

# Names the Python layer uses; the order is the switch in `_select`.
KINDS = ("cce_logit", "cce_prob", "sce_logit", "sce_prob", "cfocal_logit",
         "cfocal_prob", "multiclass_hinge", "kl", "kl_log", "cosine", "hellinger")
# Kinds that read a class label per row instead of a target row.
SPARSE = ("sce_logit", "sce_prob", "multiclass_hinge")


cdef inline double _row(const Kind* kind, const RParams* p, const floating* y,
                        Py_ssize_t label, const floating* x, Py_ssize_t C, Mode mode,
                        double gs, floating* g, floating* h) noexcept nogil:
    if Kind is CCELogit:
        return cce_logit_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is CCEProb:
        return cce_prob_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is SCELogit:
        return sce_logit_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is SCEProb:
        return sce_prob_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is CFocalLogit:
        return cfocal_logit_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is CFocalProb:
        return cfocal_prob_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is MHinge:
        return mhinge_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is KL:
        return kl_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is KLLog:
        return kl_log_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is Cosine:
        return cosine_row(p, y, label, x, C, mode, gs, g, h)
    elif Kind is Hellinger:
        return hellinger_row(p, y, label, x, C, mode, gs, g, h)


# --------------------------------------------------------------------- driver
cdef inline double _block(const Kind* kind, const RParams* p,
                          const floating* y, const long long* labels,
                          const floating* x, const double* w,
                          Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t C, Mode mode,
                          double scale, floating* grad, floating* hess,
                          floating* rows) noexcept nogil:
    """Rows r0..r1: Σ w_i l_i, writing each row's gradient as it goes."""
    cdef double total = 0.0, wi, v
    cdef Py_ssize_t i, label = 0
    cdef floating* g = NULL
    cdef floating* h = NULL
    cdef floating* scratch = NULL
    if Kind is CFocalLogit:
        # The row reads its e_j back from the gradient row; loss() has none,
        # so it gets a scratch row (one per block, so per thread).
        if grad == NULL:
            scratch = <floating*>malloc(C * sizeof(floating))
            g = scratch           # NULL if malloc failed: the row then uses _exp1
    for i in range(r0, r1):
        wi = 1.0 if w == NULL else w[i]
        if grad != NULL:
            g = grad + i * C
        if hess != NULL:
            h = hess + i * C
        if labels != NULL:
            label = <Py_ssize_t>labels[i]
            if label < 0:              # ignored row
                if g != NULL:
                    _zero(g, C)
                if h != NULL:
                    _zero(h, C)
                if rows != NULL:
                    rows[i] = 0
                continue
        v = _row(kind, p, NULL if y == NULL else y + i * C, label, x + i * C, C,
                 mode, scale * wi, g, h)
        v = weighted(wi, v)
        if rows != NULL:
            rows[i] = <floating>v
        total += v
    free(scratch)
    return total


cdef double _run(const Kind* kind, const RParams* p,
                 const floating* y, const long long* labels,
                 const floating* x, const double* w,
                 Py_ssize_t n, Py_ssize_t C, Mode mode, double scale,
                 floating* grad, floating* hess, floating* rows,
                 double* block_sums, int nthreads) noexcept nogil:
    cdef Py_ssize_t rpb = rows_per_block(C)
    cdef Py_ssize_t nblocks = (n + rpb - 1) // rpb
    cdef Py_ssize_t b, r0, r1
    cdef int nt = threads_for(n * C, MIN_PARALLEL_ELEMENTS, nthreads)
    for b in prange(nblocks, schedule="static", num_threads=nt):
        r0 = b * rpb
        r1 = min(r0 + rpb, n)
        block_sums[b] = _block(kind, p, y, labels, x, w, r0, r1, C, mode, scale,
                               grad, hess, rows)
    return combine_blocks(block_sums, nblocks)


def n_blocks(Py_ssize_t n, Py_ssize_t C):
    """Length of the block-sum buffer `rows` needs for n rows of C."""
    cdef Py_ssize_t rpb = rows_per_block(C)
    return (n + rpb - 1) // rpb


cdef double _select(int kind, const RParams* p,
                    const floating* y, const long long* labels,
                    const floating* x, const double* w,
                    Py_ssize_t n, Py_ssize_t C, Mode mode, double scale,
                    floating* grad, floating* hess, floating* rows,
                    double* block_sums, int nthreads) noexcept nogil:
    if kind == 0:
        return _run(<CCELogit*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 1:
        return _run(<CCEProb*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 2:
        return _run(<SCELogit*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 3:
        return _run(<SCEProb*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 4:
        return _run(<CFocalLogit*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 5:
        return _run(<CFocalProb*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 6:
        return _run(<MHinge*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 7:
        return _run(<KL*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 8:
        return _run(<KLLog*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 9:
        return _run(<Cosine*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 10:
        return _run(<Hellinger*>NULL, p, y, labels, x, w, n, C, mode, scale, grad, hess, rows, block_sums, nthreads)
    return 0.0


def rows(int kind, dict params,
         const floating[::1] y_true, const long long[::1] labels,
         const floating[::1] y_pred, const double[::1] sample_weight,
         const double[::1] class_weight, Py_ssize_t n, Py_ssize_t C,
         int mode, double scale,
         floating[::1] grad, floating[::1] hess, floating[::1] rows,
         double[::1] block_sums, int nthreads):
    """Run row loss `kind` (index into KINDS) over n rows of C.

    Arrays are flat and C-contiguous.  Dense kinds read `y_true` (n * C);
    sparse kinds read `labels` (n), which the caller has checked to lie in
    [0, C) or be negative (ignored row) -- checked again here.  Returns
    Σ w_i l_i.
    """
    cdef RParams p
    cdef Py_ssize_t i
    p.eps = params.get("eps", 1e-7)
    p.smooth = params.get("smooth", 0.0)
    p.alpha = params.get("alpha", 1.0)
    p.gamma = params.get("gamma", 2.0)
    p.cw = NULL
    if kind < 0 or kind >= len(KINDS):
        raise ValueError(f"unknown row kind {kind}")
    if n < 1 or C < 1 or y_pred.shape[0] != n * C:
        raise ValueError("y_pred does not hold n * C elements")
    sparse = KINDS[kind] in SPARSE
    if sparse:
        if labels is None or labels.shape[0] != n:
            raise ValueError("labels must hold n entries")
        for i in range(n):
            if labels[i] >= C:
                raise ValueError("a label is >= the number of classes")
    elif y_true is None or y_true.shape[0] != n * C:
        raise ValueError("y_true does not hold n * C elements")
    if class_weight is not None:
        if class_weight.shape[0] != C:
            raise ValueError("class_weight must hold C entries")
        p.cw = &class_weight[0]
    check_buffers(mode, n, n * C,
                  -1 if sample_weight is None else sample_weight.shape[0],
                  -1 if grad is None else grad.shape[0],
                  -1 if hess is None else hess.shape[0],
                  -1 if rows is None else rows.shape[0],
                  block_sums.shape[0], n_blocks(n, C))
    cdef const floating* yt = NULL if (sparse or y_true is None) else &y_true[0]
    cdef const long long* lab = NULL if not sparse else &labels[0]
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    cdef floating* g = NULL if grad is None else &grad[0]
    cdef floating* h = NULL if hess is None else &hess[0]
    cdef floating* r = NULL if rows is None else &rows[0]
    cdef double total
    with nogil:
        total = _select(kind, &p, yt, lab, &y_pred[0], w, n, C, <Mode>mode, scale,
                        g, h, r, &block_sums[0], nthreads)
    return total
