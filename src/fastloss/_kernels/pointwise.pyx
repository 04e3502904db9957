"""Elementwise losses: one generic driver, one closed form per loss.

A loss here is three small inline functions of a target ``y`` and a
prediction ``f`` (both float64 whatever the array dtype):

    <loss>_loss(y, f)              -> l
    <loss>_loss_grad(y, f, &g)     -> l, sharing its transcendental work with g
    <loss>_grad_hess(y, f, &g, &h)

plus a tag struct listed in the ``Kind`` fused type and one line in each of
the three dispatchers below.  Cython specialises the driver for every
(Kind, dtype) pair, so each loss gets its own fully inlined loop from one
source: nothing else is written per loss.

Rows: the arrays are seen as (n, k), row-major; a sample's loss is the mean of
its k element losses, weighted by w_i.  The driver returns Σ_i w_i l_i and
writes, when asked, d/df of ``scale * Σ_i w_i l_i`` (and its diagonal second
derivative) and the per-row values w_i l_i.

A loss may also give a vectorised form of a whole flat block (one branch in
``_vector_block``, code in ``simd/pointwise.c``, compiled per target and
chosen once per process by ``_kernels/simd.pyx``: AVX-512F, AVX2+FMA or SSE2;
BCE from logits, binary focal from logits with gamma = 2, log-cosh and
Poisson with log input).  Where a loss has one
on the path in use, the driver takes it for every element: flat blocks,
blocks of one-element rows, and each row of k > 1 elements (weighted or with
per-row output), however short.  One formula per element is what makes
loss(), loss_gradient() and gradient() agree bit for bit whatever the
reduction (the layout a mode takes differs: gradient() with
reduction="none" runs the flat blocks, loss_gradient() the rows).  The
closed forms run for the other losses and on the "scalar" path.
"""
from cython.parallel cimport prange
from libc.math cimport exp, expm1, log, log1p, fabs, copysign, M_LN2, INFINITY

from fastloss._kernels._common cimport (
    floating, BLOCK_ELEMENTS, MIN_PARALLEL_ELEMENTS, threads_for,
    rows_per_block, combine_blocks, log1pexp, sign_of, clip_prob, check_buffers,
    Mode, LOSS, LOSS_GRAD, GRAD, GRAD_HESS)


cdef extern from "fl_scalar.h" nogil:
    double pos_part "fl_pos_part"(double x)
    double pos_ind "fl_pos_ind"(double x)
    double _pow_gamma "fl_pow_gamma"(double q, double gamma)

from fastloss._kernels cimport simd
from fastloss._kernels.simd cimport (
    fl_kernels, FL_PW_BCE_LOGIT, FL_PW_FOCAL2_LOGIT, FL_PW_LOGCOSH, FL_PW_POISSON_LOG)
from fastloss._kernels import simd as _simd

# The process's one kernel table (chosen by _kernels/simd.pyx; the pointer
# stays valid when the path changes).
cdef const fl_kernels* KT = simd.kernels()


def set_simd_path(str name):
    """Take vector path `name` (process-wide: every kernel module; "auto",
    "avx512", "avx2", "sse2" or "baseline" (= "sse2"), "scalar": the
    closed forms only); for tests and benchmarks."""
    return _simd.set_path("sse2" if name == "baseline" else name)


def simd_path():
    """The vector path this module's blocks take (the process's one path)."""
    return KT.name.decode()


cdef struct Params:
    # Every scalar parameter an elementwise loss may read; each uses its own.
    double delta        # Huber threshold
    double eps          # Poisson: log(f + eps); probability clip of the binary losses
    double pos          # binary losses: factor of the positive term (pos_weight, alpha, beta)
    double neg          # binary losses: factor of the negative term (1, 1 - alpha, 1 - beta)
    double smooth       # BCE label smoothing s: y -> y (1 - s) + s / 2
    double gamma        # focal exponent
    bint hinge01        # hinge labels are {0, 1}: t = 2y - 1 (else t = y)


# ---------------------------------------------------------------- closed forms
# Squared error: (y - f)^2
cdef inline double squared_error_loss(double y, double f) noexcept nogil:
    cdef double e = f - y
    return e * e

cdef inline double squared_error_loss_grad(double y, double f, double* g) noexcept nogil:
    cdef double e = f - y
    g[0] = 2.0 * e
    return e * e

cdef inline void squared_error_grad_hess(double y, double f, double* g, double* h) noexcept nogil:
    g[0] = 2.0 * (f - y)
    h[0] = 2.0


# Absolute error: |y - f|; gradient sign(f - y), 0 at ties; hessian 0.
cdef inline double absolute_error_loss(double y, double f) noexcept nogil:
    return fabs(f - y)

cdef inline double absolute_error_loss_grad(double y, double f, double* g) noexcept nogil:
    cdef double e = f - y
    g[0] = sign_of(e)
    return fabs(e)

cdef inline void absolute_error_grad_hess(double y, double f, double* g, double* h) noexcept nogil:
    g[0] = sign_of(f - y)
    h[0] = 0.0


# Huber: e^2/2 inside |e| <= delta, delta (|e| - delta/2) outside.
# Written without branches: with c = min(|e|, delta) both pieces are
# c (|e| - c/2) and the gradient is copysign(c, e); random data would
# otherwise mispredict every other element.  A NaN error keeps c = NaN.
cdef inline double huber_clip(double a, double delta) noexcept nogil:
    return delta if a > delta else a

cdef inline double huber_loss(double y, double f, double delta) noexcept nogil:
    cdef double a = fabs(f - y), c = huber_clip(a, delta)
    return c * (a - 0.5 * c)

cdef inline double huber_loss_grad(double y, double f, double delta, double* g) noexcept nogil:
    cdef double e = f - y, a = fabs(e), c = huber_clip(a, delta)
    g[0] = copysign(c, e)
    return c * (a - 0.5 * c)

cdef inline void huber_grad_hess(double y, double f, double delta, double* g, double* h) noexcept nogil:
    cdef double e = f - y, a = fabs(e)
    g[0] = copysign(huber_clip(a, delta), e)
    h[0] = 1.0 if a <= delta else 0.0


# Log-cosh: log cosh(e) = |e| + log1p(exp(-2|e|)) - log 2, finite for any e.
cdef inline double log_cosh_loss(double y, double f) noexcept nogil:
    cdef double a = fabs(f - y)
    return a + log1p(exp(-2.0 * a)) - M_LN2

cdef inline double log_cosh_loss_grad(double y, double f, double* g) noexcept nogil:
    # tanh(e) = sign(e) (-m) / (1 + z) with m = expm1(-2|e|), z = exp(-2|e|):
    # tanh keeps its digits for tiny e (1 - z would not).  (This scalar form
    # is the fallback; long blocks take the vector form in simd/pointwise.c.)
    cdef double e = f - y, a = fabs(e), m = expm1(-2.0 * a), z = exp(-2.0 * a)
    g[0] = sign_of(e) * (-m) / (1.0 + z)
    return a + log1p(z) - M_LN2

cdef inline void log_cosh_grad_hess(double y, double f, double* g, double* h) noexcept nogil:
    cdef double e = f - y, a = fabs(e), m = expm1(-2.0 * a), z = exp(-2.0 * a), t
    t = (-m) / (1.0 + z)
    g[0] = sign_of(e) * t
    # sech^2 = 4z / (1 + z)^2, exact where 1 - tanh^2 would cancel.
    h[0] = 4.0 * z / ((1.0 + z) * (1.0 + z))


# Poisson, rate input: f - y log(f + eps)  (Keras).
cdef inline double poisson_loss(double y, double f, double eps) noexcept nogil:
    return f - y * log(f + eps)

cdef inline double poisson_loss_grad(double y, double f, double eps, double* g) noexcept nogil:
    cdef double r = 1.0 / (f + eps)
    g[0] = 1.0 - y * r
    return f - y * log(f + eps)

cdef inline void poisson_grad_hess(double y, double f, double eps, double* g, double* h) noexcept nogil:
    cdef double r = 1.0 / (f + eps)
    g[0] = 1.0 - y * r
    h[0] = y * r * r


# Poisson, log-rate input: exp(f) - y f  (torch poisson_nll_loss, log_input=True).
cdef inline double poisson_log_loss(double y, double f) noexcept nogil:
    return exp(f) - y * f

cdef inline double poisson_log_loss_grad(double y, double f, double* g) noexcept nogil:
    cdef double m = exp(f)
    g[0] = m - y
    return m - y * f

cdef inline void poisson_log_grad_hess(double y, double f, double* g, double* h) noexcept nogil:
    cdef double m = exp(f)
    g[0] = m - y
    h[0] = m


# ------------------------------------------------ binary (probability / logit)
# Weighted binary cross-entropy, l = -(a y log p + b (1 - y) log(1 - p)):
# BCE (a = pos_weight, b = 1), balanced CE (a = beta, b = 1 - beta).  Labels
# are smoothed first: y -> y (1 - s) + s / 2 (s = 0 leaves y as it is).
#
# Probability input: p is clipped to [eps, 1 - eps]; where the clip is active
# the function is constant, so gradient and hessian are 0 there.
cdef inline double wbce_loss(double y, double f, const Params* p) noexcept nogil:
    cdef bint inside
    cdef double q = clip_prob(f, p.eps, &inside)
    y = y * (1.0 - p.smooth) + 0.5 * p.smooth
    return -(p.pos * y * log(q) + p.neg * (1.0 - y) * log1p(-q))

cdef inline double wbce_loss_grad(double y, double f, const Params* p, double* g) noexcept nogil:
    cdef bint inside
    cdef double q = clip_prob(f, p.eps, &inside)
    y = y * (1.0 - p.smooth) + 0.5 * p.smooth
    g[0] = (-p.pos * y / q + p.neg * (1.0 - y) / (1.0 - q)) if inside else 0.0
    return -(p.pos * y * log(q) + p.neg * (1.0 - y) * log1p(-q))

cdef inline void wbce_grad_hess(double y, double f, const Params* p, double* g, double* h) noexcept nogil:
    cdef bint inside
    cdef double q = clip_prob(f, p.eps, &inside), r = 1.0 - q
    y = y * (1.0 - p.smooth) + 0.5 * p.smooth
    if inside:
        g[0] = -p.pos * y / q + p.neg * (1.0 - y) / r
        h[0] = p.pos * y / (q * q) + p.neg * (1.0 - y) / (r * r)
    else:
        g[0] = 0.0
        h[0] = 0.0


# Logit input x: log p = -softplus(-x), log(1 - p) = -softplus(x), from one
# exp(-|x|); exact and finite for any finite x (±1e30 included).
#   l = a y softplus(-x) + b (1 - y) softplus(x)
#   g = (a y + b (1 - y)) sigmoid(x) - a y,   h = (a y + b (1 - y)) p (1 - p)
cdef inline void _logistic(double x, double* sp_pos, double* sp_neg,
                           double* prob, double* comp) noexcept nogil:
    """softplus(x), softplus(-x), sigmoid(x), sigmoid(-x) from one exp."""
    # Selects rather than an if/else: on random logits a branch on the sign
    # mispredicts every other element.  (A NaN x gives NaN through l1.)
    cdef double z = exp(-fabs(x)), l1 = log1p(z), d = 1.0 / (1.0 + z), zd = z * d
    cdef bint pos = x >= 0.0
    sp_pos[0] = (x if pos else 0.0) + l1
    sp_neg[0] = (0.0 if pos else -x) + l1
    prob[0] = d if pos else zd
    comp[0] = zd if pos else d

cdef inline double _term(double a, double f) noexcept nogil:
    """a f, and 0 where the target weight a is 0: a logit of ±inf gives one
    softplus = +inf (a class of probability exactly 0) and 0 inf would be
    NaN.  (A select, not a branch.)"""
    cdef double t = a * f
    return t if a != 0.0 else 0.0

cdef inline double wbce_logit_loss(double y, double x, const Params* p) noexcept nogil:
    cdef double spp, spn, pr, cp
    _logistic(x, &spp, &spn, &pr, &cp)
    y = y * (1.0 - p.smooth) + 0.5 * p.smooth
    return _term(p.pos * y, spn) + _term(p.neg * (1.0 - y), spp)

cdef inline double wbce_logit_loss_grad(double y, double x, const Params* p, double* g) noexcept nogil:
    cdef double spp, spn, pr, cp, ay, by
    _logistic(x, &spp, &spn, &pr, &cp)
    y = y * (1.0 - p.smooth) + 0.5 * p.smooth
    ay = p.pos * y
    by = p.neg * (1.0 - y)
    # (ay + by) p - ay = by p - ay (1 - p): no cancellation at either end.
    g[0] = by * pr - ay * cp
    return _term(ay, spn) + _term(by, spp)

cdef inline void wbce_logit_grad_hess(double y, double x, const Params* p, double* g, double* h) noexcept nogil:
    cdef double spp, spn, pr, cp, ay, by
    _logistic(x, &spp, &spn, &pr, &cp)
    y = y * (1.0 - p.smooth) + 0.5 * p.smooth
    ay = p.pos * y
    by = p.neg * (1.0 - y)
    g[0] = by * pr - ay * cp
    h[0] = (ay + by) * pr * cp


# Binary focal, l = a y A(p) + b (1 - y) A(1 - p),  A(p) = -(1 - p)^γ log p.
# Probability input, clipped to [eps, 1 - eps] (derivatives 0 where clipped):
#   A'(p)  = γ (1-p)^(γ-1) log p - (1-p)^γ / p
#   A''(p) = -γ(γ-1)(1-p)^(γ-2) log p + 2γ (1-p)^(γ-1) / p + (1-p)^γ / p²
# and the negative term mirrors it: d/dp A(1-p) = -A'(1-p), d²/dp² = A''(1-p).
cdef inline double _focal_a(double p, double gamma, double* d1, double* d2) noexcept nogil:
    """A(p) and, when d1 is not NULL, A'(p) (and A''(p) when d2 is not NULL)."""
    cdef double q = 1.0 - p, lp = log(p), qg = _pow_gamma(q, gamma)
    if d1 != NULL:
        d1[0] = gamma * (qg / q) * lp - qg / p
        if d2 != NULL:
            d2[0] = (-gamma * (gamma - 1.0) * (qg / (q * q)) * lp
                     + 2.0 * gamma * (qg / q) / p + qg / (p * p))
    return -qg * lp

cdef inline double focal_loss(double y, double f, const Params* p) noexcept nogil:
    cdef bint inside
    cdef double q = clip_prob(f, p.eps, &inside)
    return (p.pos * y * _focal_a(q, p.gamma, NULL, NULL)
            + p.neg * (1.0 - y) * _focal_a(1.0 - q, p.gamma, NULL, NULL))

cdef inline double focal_loss_grad(double y, double f, const Params* p, double* g) noexcept nogil:
    cdef bint inside
    cdef double q = clip_prob(f, p.eps, &inside), d1p, d1n, v
    v = (p.pos * y * _focal_a(q, p.gamma, &d1p, NULL)
         + p.neg * (1.0 - y) * _focal_a(1.0 - q, p.gamma, &d1n, NULL))
    g[0] = (p.pos * y * d1p - p.neg * (1.0 - y) * d1n) if inside else 0.0
    return v

cdef inline void focal_grad_hess(double y, double f, const Params* p, double* g, double* h) noexcept nogil:
    cdef bint inside
    cdef double q = clip_prob(f, p.eps, &inside), d1p, d1n, d2p, d2n
    _focal_a(q, p.gamma, &d1p, &d2p)
    _focal_a(1.0 - q, p.gamma, &d1n, &d2n)
    if inside:
        g[0] = p.pos * y * d1p - p.neg * (1.0 - y) * d1n
        h[0] = p.pos * y * d2p + p.neg * (1.0 - y) * d2n
    else:
        g[0] = 0.0
        h[0] = 0.0


# Logit input: with p = σ(x), q = σ(-x), s = softplus(-x),
#   F(x) = q^γ s  (= A(σ(x))),  F' = -γ p q^γ s - q^(γ+1),
#   F'' = γ p q^γ s (γ p - q) + (2γ + 1) p q^(γ+1);
# the negative term is F(-x): derivative -F'(-x), second derivative F''(-x).
# No power of a vanishing base is ever divided, so ±1e30 stays finite; at
# x = ±inf one of p, s is 0 and the other inf, and p s (-> 0) is taken as 0.
cdef inline double _focal_f(double p, double q, double s, double gamma,
                            double* d1, double* d2) noexcept nogil:
    cdef double qg = _pow_gamma(q, gamma), ps
    if d1 != NULL:
        ps = p * s if p != 0.0 else 0.0
        d1[0] = -gamma * ps * qg - qg * q
        if d2 != NULL:
            d2[0] = gamma * ps * qg * (gamma * p - q) + (2.0 * gamma + 1.0) * p * qg * q
    return qg * s

cdef inline double focal_logit_loss(double y, double x, const Params* p) noexcept nogil:
    cdef double spp, spn, pr, cp
    _logistic(x, &spp, &spn, &pr, &cp)
    return (_term(p.pos * y, _focal_f(pr, cp, spn, p.gamma, NULL, NULL))
            + _term(p.neg * (1.0 - y), _focal_f(cp, pr, spp, p.gamma, NULL, NULL)))

cdef inline double focal_logit_loss_grad(double y, double x, const Params* p, double* g) noexcept nogil:
    cdef double spp, spn, pr, cp, d1p, d1n, v
    _logistic(x, &spp, &spn, &pr, &cp)
    v = (_term(p.pos * y, _focal_f(pr, cp, spn, p.gamma, &d1p, NULL))
         + _term(p.neg * (1.0 - y), _focal_f(cp, pr, spp, p.gamma, &d1n, NULL)))
    g[0] = p.pos * y * d1p - p.neg * (1.0 - y) * d1n
    return v

cdef inline void focal_logit_grad_hess(double y, double x, const Params* p, double* g, double* h) noexcept nogil:
    cdef double spp, spn, pr, cp, d1p, d1n, d2p, d2n
    _logistic(x, &spp, &spn, &pr, &cp)
    _focal_f(pr, cp, spn, p.gamma, &d1p, &d2p)
    _focal_f(cp, pr, spp, p.gamma, &d1n, &d2n)
    g[0] = p.pos * y * d1p - p.neg * (1.0 - y) * d1n
    h[0] = p.pos * y * d2p + p.neg * (1.0 - y) * d2n


# Hinge, l = max(0, 1 - t f), t = y (labels ±1) or 2y - 1 (labels 0/1).
# Gradient -t where the margin is violated (1 - t f > 0), else 0; hessian 0.
# Branch-free through fl_pos_part / fl_pos_ind: on random data the margin
# is violated about half the time and a branch would mispredict as often.
cdef inline double hinge_loss(double y, double f, const Params* p) noexcept nogil:
    cdef double t = (2.0 * y - 1.0) if p.hinge01 else y
    return pos_part(1.0 - t * f)

cdef inline double hinge_loss_grad(double y, double f, const Params* p, double* g) noexcept nogil:
    cdef double t = (2.0 * y - 1.0) if p.hinge01 else y, m = 1.0 - t * f
    g[0] = -t * pos_ind(m)          # NaN margin: NaN gradient
    return pos_part(m)

cdef inline void hinge_grad_hess(double y, double f, const Params* p, double* g, double* h) noexcept nogil:
    hinge_loss_grad(y, f, p, g)
    h[0] = 0.0


# Squared hinge, l = max(0, 1 - t f)²: gradient -2 t m, hessian 2 t² where
# m = 1 - t f > 0, else 0.
cdef inline double squared_hinge_loss(double y, double f, const Params* p) noexcept nogil:
    cdef double m = hinge_loss(y, f, p)
    return m * m

cdef inline double squared_hinge_loss_grad(double y, double f, const Params* p, double* g) noexcept nogil:
    cdef double t = (2.0 * y - 1.0) if p.hinge01 else y, m = hinge_loss(y, f, p)
    g[0] = -2.0 * t * m
    return m * m

cdef inline void squared_hinge_grad_hess(double y, double f, const Params* p, double* g, double* h) noexcept nogil:
    cdef double t = (2.0 * y - 1.0) if p.hinge01 else y, m = 1.0 - t * f
    g[0] = -2.0 * t * pos_part(m)
    h[0] = 2.0 * t * t * pos_ind(m)


# ------------------------------------------------------------------- dispatch
cdef struct SquaredError:
    char _
cdef struct AbsoluteError:
    char _
cdef struct Huber:
    char _
cdef struct LogCosh:
    char _
cdef struct Poisson:
    char _
cdef struct PoissonLog:
    char _
cdef struct WBCE:
    char _
cdef struct WBCELogit:
    char _
cdef struct Focal:
    char _
cdef struct FocalLogit:
    char _
cdef struct Hinge:
    char _
cdef struct SquaredHinge:
    char _

ctypedef fused Kind:
    SquaredError
    AbsoluteError
    Huber
    LogCosh
    Poisson
    PoissonLog
    WBCE
    WBCELogit
    Focal
    FocalLogit
    Hinge
    SquaredHinge

# Names the Python layer uses; the order is the switch in `_select`.
KINDS = ("squared_error", "absolute_error", "huber", "log_cosh", "poisson",
         "poisson_log", "wbce", "wbce_logit", "focal", "focal_logit", "hinge",
         "squared_hinge")


cdef inline double _loss(const Kind* kind, const Params* p, double y, double f) noexcept nogil:
    if Kind is SquaredError:
        return squared_error_loss(y, f)
    elif Kind is AbsoluteError:
        return absolute_error_loss(y, f)
    elif Kind is Huber:
        return huber_loss(y, f, p.delta)
    elif Kind is LogCosh:
        return log_cosh_loss(y, f)
    elif Kind is Poisson:
        return poisson_loss(y, f, p.eps)
    elif Kind is PoissonLog:
        return poisson_log_loss(y, f)
    elif Kind is WBCE:
        return wbce_loss(y, f, p)
    elif Kind is WBCELogit:
        return wbce_logit_loss(y, f, p)
    elif Kind is Focal:
        return focal_loss(y, f, p)
    elif Kind is FocalLogit:
        return focal_logit_loss(y, f, p)
    elif Kind is Hinge:
        return hinge_loss(y, f, p)
    elif Kind is SquaredHinge:
        return squared_hinge_loss(y, f, p)


cdef inline double _loss_grad(const Kind* kind, const Params* p, double y, double f,
                              double* g) noexcept nogil:
    if Kind is SquaredError:
        return squared_error_loss_grad(y, f, g)
    elif Kind is AbsoluteError:
        return absolute_error_loss_grad(y, f, g)
    elif Kind is Huber:
        return huber_loss_grad(y, f, p.delta, g)
    elif Kind is LogCosh:
        return log_cosh_loss_grad(y, f, g)
    elif Kind is Poisson:
        return poisson_loss_grad(y, f, p.eps, g)
    elif Kind is PoissonLog:
        return poisson_log_loss_grad(y, f, g)
    elif Kind is WBCE:
        return wbce_loss_grad(y, f, p, g)
    elif Kind is WBCELogit:
        return wbce_logit_loss_grad(y, f, p, g)
    elif Kind is Focal:
        return focal_loss_grad(y, f, p, g)
    elif Kind is FocalLogit:
        return focal_logit_loss_grad(y, f, p, g)
    elif Kind is Hinge:
        return hinge_loss_grad(y, f, p, g)
    elif Kind is SquaredHinge:
        return squared_hinge_loss_grad(y, f, p, g)


cdef inline void _grad_hess(const Kind* kind, const Params* p, double y, double f,
                            double* g, double* h) noexcept nogil:
    if Kind is SquaredError:
        squared_error_grad_hess(y, f, g, h)
    elif Kind is AbsoluteError:
        absolute_error_grad_hess(y, f, g, h)
    elif Kind is Huber:
        huber_grad_hess(y, f, p.delta, g, h)
    elif Kind is LogCosh:
        log_cosh_grad_hess(y, f, g, h)
    elif Kind is Poisson:
        poisson_grad_hess(y, f, p.eps, g, h)
    elif Kind is PoissonLog:
        poisson_log_grad_hess(y, f, g, h)
    elif Kind is WBCE:
        wbce_grad_hess(y, f, p, g, h)
    elif Kind is WBCELogit:
        wbce_logit_grad_hess(y, f, p, g, h)
    elif Kind is Focal:
        focal_grad_hess(y, f, p, g, h)
    elif Kind is FocalLogit:
        focal_logit_grad_hess(y, f, p, g, h)
    elif Kind is Hinge:
        hinge_grad_hess(y, f, p, g, h)
    elif Kind is SquaredHinge:
        squared_hinge_grad_hess(y, f, p, g, h)


# --------------------------------------------------------------------- driver



cdef inline double _element(const Kind* kind, const Params* p,
                            const floating* y, const floating* f, Py_ssize_t e,
                            Mode mode, double gscale,
                            floating* grad, floating* hess) noexcept nogil:
    """Loss of element e; writes gscale * its derivatives as `mode` asks."""
    cdef double g = 0.0, h = 0.0, v = 0.0
    if mode == LOSS:
        v = _loss(kind, p, y[e], f[e])
    elif mode == LOSS_GRAD or mode == GRAD:
        v = _loss_grad(kind, p, y[e], f[e], &g)
        grad[e] = <floating>(gscale * g)
    else:
        _grad_hess(kind, p, y[e], f[e], &g, &h)
        grad[e] = <floating>(gscale * g)
        hess[e] = <floating>(gscale * h)
    return v


cdef inline bint _vector_block(const Kind* kind, const Params* p,
                               const floating* y, const floating* f, const double* w,
                               Py_ssize_t e0, Py_ssize_t e1, Mode mode, double gscale,
                               floating* grad, floating* hess, floating* rows,
                               double* total) noexcept nogil:
    """Optional SIMD form of a loss over elements e0..e1 (k = 1 rows, a
    flat unweighted block, or one row of k elements): writes
    Σ w_e l_e to total, gscale w_e dl/df and the hessian as `mode` asks and,
    when `rows` is not NULL, w_e l_e.  `w` (NULL: all 1) and `rows` are
    indexed like y and f.  Returns False when the loss has no vector form
    (for this size or CPU) and the closed forms must run instead.

    A vector form computes the same closed form in float64 lanes (float32
    data is widened), so it differs from the scalar one by rounding only.
    Where a loss has a vector form on the path in use it is taken for every
    block, however short (lanes are independent, a short block is a padded
    tail): an element's value and derivatives then never depend on the
    layout, the reduction or the mode (loss_gradient() is bit for bit
    (loss(), gradient()), gradient_hessian()[0] is gradient()).
    """
    cdef floating* g = NULL if mode == LOSS else grad + e0
    cdef floating* h = hess + e0 if mode == GRAD_HESS else NULL
    cdef floating* r = NULL if rows == NULL else rows + e0
    cdef const double* we = NULL if w == NULL else w + e0
    cdef int pw = -1
    if Kind is WBCELogit:
        pw = FL_PW_BCE_LOGIT
    elif Kind is FocalLogit:
        if p.gamma == 2.0:
            pw = FL_PW_FOCAL2_LOGIT
    elif Kind is LogCosh:
        pw = FL_PW_LOGCOSH
    elif Kind is PoissonLog:
        pw = FL_PW_POISSON_LOG
    if pw >= 0 and KT.pw_d[pw] != NULL:
        if floating is float:
            total[0] = KT.pw_f[pw](y + e0, f + e0, we, e1 - e0, p.pos, p.neg, p.smooth,
                                  gscale, g, h, r)
        else:
            total[0] = KT.pw_d[pw](y + e0, f + e0, we, e1 - e0, p.pos, p.neg, p.smooth,
                                  gscale, g, h, r)
        return True
    return False


cdef inline double _flat_block(const Kind* kind, const Params* p,
                               const floating* y, const floating* f,
                               Py_ssize_t e0, Py_ssize_t e1, Mode mode,
                               double gscale, floating* grad, floating* hess) noexcept nogil:
    """Unweighted elements e0..e1: four running sums hide the add latency.

    `_element` has a single call site (the inner loop of a fixed 4 trips,
    which gcc unrolls completely after inlining): with four call sites gcc
    kept it out of line, and every element paid a call and the mode tests.
    Element e0 + 4 i + j goes to sum j, the last < 4 elements to sum 0."""
    cdef double s[4]
    cdef Py_ssize_t e = e0, j
    s[0] = 0.0
    if _vector_block(kind, p, y, f, NULL, e0, e1, mode, gscale, grad, hess, NULL, &s[0]):
        return s[0]
    s[1] = 0.0
    s[2] = 0.0
    s[3] = 0.0
    while e < e1:
        if e + 4 <= e1:
            for j in range(4):
                s[j] += _element(kind, p, y, f, e + j, mode, gscale, grad, hess)
            e += 4
        else:
            s[0] += _element(kind, p, y, f, e, mode, gscale, grad, hess)
            e += 1
    return (s[0] + s[1]) + (s[2] + s[3])


cdef inline double weighted(double w, double v) noexcept nogil:
    """w l for the sums: a sample of weight 0 adds 0 even when its loss is
    +inf (a logit of ±inf against a target that masks it), where the
    product would be 0 * inf = NaN.  NaN losses still propagate."""
    if w == 0.0 and fabs(v) == INFINITY:
        return 0.0
    return w * v


cdef inline double _row_block(const Kind* kind, const Params* p,
                              const floating* y, const floating* f, const double* w,
                              Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k, Mode mode,
                              double scale, floating* grad, floating* hess,
                              floating* rows) noexcept nogil:
    """Rows r0..r1 with their weights (or per-row output): Σ w_i l_i."""
    cdef double total = 0.0, row, wi, inv_k = 1.0 / k
    cdef Py_ssize_t i
    for i in range(r0, r1):
        wi = 1.0 if w == NULL else w[i]
        row = weighted(wi, _flat_block(kind, p, y, f, i * k, i * k + k, mode,
                                       scale * wi * inv_k, grad, hess) * inv_k)
        if rows != NULL:
            rows[i] = <floating>row
        total += row
    return total


cdef double _run(const Kind* kind, const Params* p,
                 const floating* y, const floating* f, const double* w,
                 Py_ssize_t n, Py_ssize_t k, Mode mode, double scale,
                 floating* grad, floating* hess, floating* rows,
                 double* block_sums, int nthreads) noexcept nogil:
    """Σ_i w_i l_i over n rows of k elements, blocks in parallel.

    Block b always covers the same rows, and the block sums are combined in
    block order, so the result is bit-identical for every thread count.
    """
    cdef Py_ssize_t rpb = rows_per_block(k)
    cdef Py_ssize_t nblocks = (n + rpb - 1) // rpb
    cdef Py_ssize_t b, r0, r1
    cdef bint flat = (w == NULL and rows == NULL)
    cdef int nt = threads_for(n * k, MIN_PARALLEL_ELEMENTS, nthreads)
    for b in prange(nblocks, schedule="static", num_threads=nt):
        r0 = b * rpb
        r1 = min(r0 + rpb, n)
        if flat:
            block_sums[b] = _flat_block(kind, p, y, f, r0 * k, r1 * k, mode,
                                        scale / k, grad, hess)
        elif not (k == 1 and _vector_block(kind, p, y, f, w, r0, r1, mode, scale, grad,
                                           hess, rows, &block_sums[b])):
            block_sums[b] = _row_block(kind, p, y, f, w, r0, r1, k, mode,
                                       scale, grad, hess, rows)
    if flat:
        return combine_blocks(block_sums, nblocks) / k
    return combine_blocks(block_sums, nblocks)


def n_blocks(Py_ssize_t n, Py_ssize_t k):
    """Length of the block-sum buffer `pointwise` needs for n rows of k."""
    cdef Py_ssize_t rpb = rows_per_block(k)
    return (n + rpb - 1) // rpb


cdef double _select(int kind, const Params* p,
                    const floating* y, const floating* f, const double* w,
                    Py_ssize_t n, Py_ssize_t k, Mode mode, double scale,
                    floating* grad, floating* hess, floating* rows,
                    double* block_sums, int nthreads) noexcept nogil:
    if kind == 0:
        return _run(<SquaredError*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 1:
        return _run(<AbsoluteError*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 2:
        return _run(<Huber*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 3:
        return _run(<LogCosh*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 4:
        return _run(<Poisson*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 5:
        return _run(<PoissonLog*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 6:
        return _run(<WBCE*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 7:
        return _run(<WBCELogit*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 8:
        return _run(<Focal*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 9:
        return _run(<FocalLogit*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 10:
        return _run(<Hinge*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    elif kind == 11:
        return _run(<SquaredHinge*>NULL, p, y, f, w, n, k, mode, scale, grad, hess, rows, block_sums, nthreads)
    return 0.0


def pointwise(int kind, dict params,
              const floating[::1] y_true, const floating[::1] y_pred,
              const double[::1] sample_weight, Py_ssize_t n, Py_ssize_t k,
              int mode, double scale,
              floating[::1] grad, floating[::1] hess, floating[::1] rows,
              double[::1] block_sums, int nthreads):
    """Run elementwise loss `kind` (index into KINDS) over n rows of k.

    The arrays are flat and C-contiguous; sample_weight, grad, hess and rows
    may be None.  Sizes are checked by the Python layer and again here, so a
    wrong call raises instead of reading out of bounds.  Returns Σ w_i l_i.
    """
    cdef Params p
    p.delta = params.get("delta", 1.0)
    p.eps = params.get("eps", 1e-7)
    p.pos = params.get("pos", 1.0)
    p.neg = params.get("neg", 1.0)
    p.smooth = params.get("smooth", 0.0)
    p.gamma = params.get("gamma", 2.0)
    p.hinge01 = params.get("hinge01", False)
    if kind < 0 or kind >= len(KINDS):
        raise ValueError(f"unknown elementwise kind {kind}")
    if n < 1 or k < 1 or y_true.shape[0] != n * k or y_pred.shape[0] != n * k:
        raise ValueError("y_true/y_pred do not hold n * k elements")
    check_buffers(mode, n, n * k,
                  -1 if sample_weight is None else sample_weight.shape[0],
                  -1 if grad is None else grad.shape[0],
                  -1 if hess is None else hess.shape[0],
                  -1 if rows is None else rows.shape[0],
                  block_sums.shape[0], n_blocks(n, k))
    cdef const double* w = NULL if sample_weight is None else &sample_weight[0]
    cdef floating* g = NULL if grad is None else &grad[0]
    cdef floating* h = NULL if hess is None else &hess[0]
    cdef floating* r = NULL if rows is None else &rows[0]
    cdef double total
    with nogil:
        total = _select(kind, &p, &y_true[0], &y_pred[0], w, n, k, <Mode>mode,
                        scale, g, h, r, &block_sums[0], nthreads)
    return total


def hinge_label_kind(const floating[::1] y):
    """One pass over hinge labels: 0 when all are in {-1, 1}, 1 when all
    are in {0, 1}, -1 otherwise (replaces four NumPy passes and their
    temporaries; SSE2 compares, see simd/pointwise.c)."""
    cdef int bad
    if y.shape[0] == 0:
        return 0
    with nogil:
        if floating is float:
            bad = KT.hinge_labels_f(&y[0], y.shape[0])
        else:
            bad = KT.hinge_labels_d(&y[0], y.shape[0])
    if not bad & 1:
        return 0
    if not bad & 2:
        return 1
    return -1
