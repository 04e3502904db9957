/* Vectorised exp over a row, for the softmax family in rows.pyx.
 *
 * The library is built for baseline x86-64 (no -march flags).  Two paths:
 *
 *   "avx2+fma"  functions compiled with __attribute__((target("avx2,fma"))),
 *               chosen at run time when __builtin_cpu_supports says the CPU
 *               has both;
 *   "baseline"  what any x86-64 runs: the same exp with SSE2 (4 floats or
 *               2 doubles a vector, no FMA); other CPUs call libm exp/expf.
 *
 * The AVX2 exp works on arguments x <= 0 (all softmax needs: x - max(x)):
 *   n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two so n ln2_hi is
 *   exact), exp(r) by the degree-7 (float) / degree-13 (double) Taylor
 *   polynomial in Horner form with FMA, times 2^n built in the exponent bits.
 *   Truncation error is < 0.1 ulp on |r| <= ln2/2.  Measured maximum error
 *   (tests/test_classification.py checks <= 2 ulp on both paths): float
 *   0.90 ulp (AVX2+FMA) / 1.19 ulp (SSE2) against exp in float64 over 6e6
 *   arguments in [-87.3, 0]; double 1.0 ulp on both against glibc exp
 *   (itself < 1 ulp) over 6e6 arguments in [-708.3, 0].  Results
 *   below the smallest normal number (x < -87.33 float, x < -708.39 double)
 *   are flushed to 0 (absolute error below 1.2e-38 / 2.3e-308).  NaN
 *   propagates.
 *
 * Both paths also carry vectorised blocks of elementwise losses (binary
 * cross-entropy from logits, in float64 lanes, with a log1p by the atanh
 * series; about 2 ulp) for pointwise.pyx.  A third, "scalar" path (libm, no
 * vector blocks) is what non-x86 CPUs run and what tests force to compare
 * the vector forms with the closed forms.
 *
 * More vector forms (each the scalar closed form in float64 lanes, chosen at
 * run time, tested against the scalar path and float64 NumPy in
 * tests/test_perf_paths.py):
 *   - exp for any argument (fl_exp4_any: the polynomial up to 708, libm above)
 *     and expm1 sharing its reduction (fl_expm1_4: s q + (s - 1), a few ulp,
 *     no cancellation near 0): log-cosh and Poisson (log input) blocks;
 *   - log of positive normal doubles (fl_log4: exponent split + atanh series,
 *     measured max 1.99 ulp over the whole range, tested <= 2 ulp; other
 *     lanes go to libm): the KL (log input) row;
 *   - the Hellinger row (IEEE sqrt), the binary focal block for gamma = 2
 *     (AVX2 only), a NaN test and the hinge label check.
 *
 * Each path sums exp() in float64 lanes in a fixed order, so a row's result
 * depends only on the row (never on threads); the two paths may differ in
 * the last bit of a gradient.
 */
#ifndef FASTLOSS_FL_SIMD_H
#define FASTLOSS_FL_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define FL_X86 1
#include <immintrin.h>
#else
#define FL_X86 0
#endif

/* ------------------------------------------------------------ baseline */
static float fl_max_f_base(const float* x, ptrdiff_t n) {
    float m = -INFINITY;
    for (ptrdiff_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static double fl_max_d_base(const double* x, ptrdiff_t n) {
    double m = -INFINITY;
    for (ptrdiff_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* out[i] = exp(x[i] - m) (out may be NULL); returns the float64 sum. */
static double fl_expsum_f_base(const float* x, ptrdiff_t n, float m, float* out) {
    double s = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        float e = expf(x[i] - m);
        if (out) out[i] = e;
        s += (double)e;
    }
    return s;
}

static double fl_expsum_d_base(const double* x, ptrdiff_t n, double m, double* out) {
    double s = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        double e = exp(x[i] - m);
        if (out) out[i] = e;
        s += e;
    }
    return s;
}


/* 1 when some x[i] is NaN (multiclass hinge rows). */
static int fl_any_nan_f_base(const float* x, ptrdiff_t n) {
    int r = 0;
    for (ptrdiff_t i = 0; i < n; i++) r |= x[i] != x[i];
    return r;
}
static int fl_any_nan_d_base(const double* x, ptrdiff_t n) {
    int r = 0;
    for (ptrdiff_t i = 0; i < n; i++) r |= x[i] != x[i];
    return r;
}

#if FL_X86
/* ---------------------------------------------------------------- AVX2 */
/* GCC contracts a * b + c into an FMA wherever the target has one (its
 * default -ffp-contract=fast), and whether it does depends on the code
 * around an inlined element function: the main loop and the padded tail of
 * a block could round the same element differently, and one layout (or
 * mode) would give other bits than another.  So no implicit contraction in
 * the AVX2 functions; the explicit _mm256_fmadd_pd stay FMAs.  (Clang
 * contracts only within one source expression, never across intrinsics.) */
#if defined(__clang__)
#define FL_AVX2 __attribute__((target("avx2,fma")))
#else
#define FL_AVX2 __attribute__((target("avx2,fma"), optimize("fp-contract=off")))
#endif

FL_AVX2 static inline __m256 fl_exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3365f);
    const __m256 magic = _mm256_set1_ps(12582912.0f);      /* 1.5 * 2^23 */
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    __m256 xc = _mm256_max_ps(lo, x);                      /* NaN stays */
    __m256 t = _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 n = _mm256_sub_ps(t, magic);                    /* round(x/ln2) */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440054690583e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23);
    p = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    return _mm256_andnot_ps(under, p);
}

FL_AVX2 static inline __m256d fl_exp4(__m256d x) {
    const __m256d lo = _mm256_set1_pd(-708.39);
    const __m256d magic = _mm256_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
    __m256d under = _mm256_cmp_pd(x, lo, _CMP_LT_OQ);
    __m256d xc = _mm256_max_pd(lo, x);
    __m256d t = _mm256_fmadd_pd(xc, _mm256_set1_pd(1.4426950408889634074), magic);
    __m256d n = _mm256_sub_pd(t, magic);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), xc);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
    static const double c[14] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    __m256d p = _mm256_set1_pd(c[0]);
    for (int i = 1; i < 14; i++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c[i]));
    __m256i k = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_castpd_si256(magic));
    __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(k, _mm256_set1_epi64x(1023)), 52);
    p = _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
    return _mm256_andnot_pd(under, p);
}

FL_AVX2 static float fl_max_f_avx2(const float* x, ptrdiff_t n) {
    ptrdiff_t i = 0;
    float m = -INFINITY;
    if (n >= 16) {
        __m256 a = _mm256_loadu_ps(x), b = _mm256_loadu_ps(x + 8);
        for (i = 16; i + 16 <= n; i += 16) {
            a = _mm256_max_ps(a, _mm256_loadu_ps(x + i));
            b = _mm256_max_ps(b, _mm256_loadu_ps(x + i + 8));
        }
        a = _mm256_max_ps(a, b);
        float buf[8];
        _mm256_storeu_ps(buf, a);
        for (int j = 0; j < 8; j++) m = buf[j] > m ? buf[j] : m;
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

FL_AVX2 static double fl_max_d_avx2(const double* x, ptrdiff_t n) {
    ptrdiff_t i = 0;
    double m = -INFINITY;
    if (n >= 8) {
        __m256d a = _mm256_loadu_pd(x), b = _mm256_loadu_pd(x + 4);
        for (i = 8; i + 8 <= n; i += 8) {
            a = _mm256_max_pd(a, _mm256_loadu_pd(x + i));
            b = _mm256_max_pd(b, _mm256_loadu_pd(x + i + 4));
        }
        a = _mm256_max_pd(a, b);
        double buf[4];
        _mm256_storeu_pd(buf, a);
        for (int j = 0; j < 4; j++) m = buf[j] > m ? buf[j] : m;
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

FL_AVX2 static double fl_expsum_f_avx2(const float* x, ptrdiff_t n, float m, float* out) {
    __m256 vm = _mm256_set1_ps(m);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = fl_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        if (out) _mm256_storeu_ps(out + i, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    if (i < n) {   /* the tail through the same exp, masked */
        float xb[8], eb[8];
        ptrdiff_t r = n - i;
        for (int j = 0; j < 8; j++) xb[j] = j < r ? x[i + j] - m : 0.0f;
        _mm256_storeu_ps(eb, fl_exp8(_mm256_loadu_ps(xb)));
        for (int j = 0; j < 8; j++) if (j >= r) eb[j] = 0.0f;
        if (out) for (ptrdiff_t j = 0; j < r; j++) out[i + j] = eb[j];
        __m256 e = _mm256_loadu_ps(eb);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double buf[4];
    _mm256_storeu_pd(buf, _mm256_add_pd(s0, s1));
    return (buf[0] + buf[1]) + (buf[2] + buf[3]);
}

FL_AVX2 static double fl_expsum_d_avx2(const double* x, ptrdiff_t n, double m, double* out) {
    __m256d vm = _mm256_set1_pd(m);
    __m256d s0 = _mm256_setzero_pd();
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d e = fl_exp4(_mm256_sub_pd(_mm256_loadu_pd(x + i), vm));
        if (out) _mm256_storeu_pd(out + i, e);
        s0 = _mm256_add_pd(s0, e);
    }
    if (i < n) {
        double xb[4], eb[4];
        ptrdiff_t r = n - i;
        for (int j = 0; j < 4; j++) xb[j] = j < r ? x[i + j] - m : 0.0;
        _mm256_storeu_pd(eb, fl_exp4(_mm256_loadu_pd(xb)));
        for (int j = 0; j < 4; j++) if (j >= r) eb[j] = 0.0;
        if (out) for (ptrdiff_t j = 0; j < r; j++) out[i + j] = eb[j];
        s0 = _mm256_add_pd(s0, _mm256_loadu_pd(eb));
    }
    double buf[4];
    _mm256_storeu_pd(buf, s0);
    return (buf[0] + buf[1]) + (buf[2] + buf[3]);
}


/* log1p(z) for z in [0, 1] given u = 1 + z (rounded) and d = 1 / u:
 * log(u) + (z - (u - 1)) / u, with log(u) = k ln2 + 2 atanh(s),
 * s = (m - 1) / (m + 1), u = 2^k m, m in [sqrt(1/2), sqrt(2)] (|s| <= 0.1716):
 * the atanh series to s^21 leaves a truncation below 1e-17 relative.
 * About 2 ulp in double. */
FL_AVX2 static inline __m256d fl_log1p4(__m256d z, __m256d u, __m256d d) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d big = _mm256_cmp_pd(u, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    __m256d m = _mm256_blendv_pd(u, _mm256_mul_pd(u, _mm256_set1_pd(0.5)), big);
    __m256d k = _mm256_and_pd(big, one);
    __m256d s = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one));
    __m256d s2 = _mm256_mul_pd(s, s);
    __m256d q = _mm256_set1_pd(1.0 / 21.0);
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 19.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 17.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 15.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 13.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 11.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 9.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 7.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 5.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 3.0));
    /* log m = 2s + 2s * s2 * q */
    __m256d two_s = _mm256_add_pd(s, s);
    __m256d logm = _mm256_fmadd_pd(_mm256_mul_pd(two_s, s2), q, two_s);
    __m256d corr = _mm256_mul_pd(_mm256_sub_pd(z, _mm256_sub_pd(u, one)), d);
    __m256d lo = _mm256_fmadd_pd(k, _mm256_set1_pd(1.90821492927058770002e-10), corr);
    return _mm256_fmadd_pd(k, _mm256_set1_pd(6.93147180369123816490e-01),
                           _mm256_add_pd(logm, lo));
}

/* Weighted binary cross-entropy from logits on 4 doubles (pointwise.pyx
 * wbce_logit_loss_grad / _grad_hess, vectorised): returns the 4 losses,
 * writes the gradients and hessians (times gscale) to *g and *h. */
FL_AVX2 static inline __m256d fl_wbce_logit4_m(__m256d y, __m256d x, __m256d pos, __m256d neg,
                                               __m256d smooth, __m256d gscale, __m256d* g,
                                               __m256d* h, const int masked) {
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d ys = _mm256_fmadd_pd(y, _mm256_sub_pd(one, smooth),
                                 _mm256_mul_pd(smooth, _mm256_set1_pd(0.5)));
    __m256d ay = _mm256_mul_pd(pos, ys);
    __m256d by = _mm256_mul_pd(neg, _mm256_sub_pd(one, ys));
    __m256d negabs = _mm256_or_pd(x, sign);                    /* -|x| */
    __m256d z = fl_exp4(negabs);
    __m256d u = _mm256_add_pd(one, z);
    __m256d d = _mm256_div_pd(one, u);
    __m256d l1 = fl_log1p4(z, u, d);
    __m256d xpos = _mm256_cmp_pd(x, zero, _CMP_GE_OQ);
    __m256d zd = _mm256_mul_pd(z, d);
    __m256d pr = _mm256_blendv_pd(zd, d, xpos);                /* sigmoid(x)  */
    __m256d cp = _mm256_blendv_pd(d, zd, xpos);                /* sigmoid(-x) */
    __m256d spp = _mm256_add_pd(_mm256_max_pd(x, zero), l1);   /* softplus(x) */
    __m256d spn = _mm256_add_pd(_mm256_max_pd(_mm256_sub_pd(zero, x), zero), l1);
    if (masked) {
        /* a term of target weight 0 is 0, also where its softplus is +inf
         * (x = ±inf), not 0 inf = NaN; on finite x no bit changes */
        spn = _mm256_and_pd(_mm256_cmp_pd(ay, zero, _CMP_NEQ_UQ), spn);
        spp = _mm256_and_pd(_mm256_cmp_pd(by, zero, _CMP_NEQ_UQ), spp);
    }
    *g = _mm256_mul_pd(gscale, _mm256_fmsub_pd(by, pr, _mm256_mul_pd(ay, cp)));
    *h = _mm256_mul_pd(_mm256_mul_pd(gscale, _mm256_add_pd(ay, by)), _mm256_mul_pd(pr, cp));
    __m256d v = _mm256_fmadd_pd(ay, spn, _mm256_mul_pd(by, spp));
    /* NaN logits: max() above would have dropped them */
    __m256d nan = _mm256_cmp_pd(x, x, _CMP_UNORD_Q);
    return _mm256_or_pd(v, _mm256_and_pd(nan, x));
}
FL_AVX2 static inline __m256d fl_wbce_logit4_fast(__m256d y, __m256d x, __m256d pos,
                                                  __m256d neg, __m256d smooth, __m256d gscale,
                                                  __m256d* g, __m256d* h) {
    return fl_wbce_logit4_m(y, x, pos, neg, smooth, gscale, g, h, 0);
}
FL_AVX2 static inline __m256d fl_wbce_logit4(__m256d y, __m256d x, __m256d pos, __m256d neg,
                                             __m256d smooth, __m256d gscale, __m256d* g,
                                             __m256d* h) {
    return fl_wbce_logit4_m(y, x, pos, neg, smooth, gscale, g, h, 1);
}


/* Binary focal from logits with gamma = 2 (pointwise.pyx focal_logit_*,
 * vectorised; other gammas keep the scalar form).  With p = sigmoid(x),
 * q = sigmoid(-x), s = softplus(-x): F = q^2 s, F' = -2 p q^2 s - q^3,
 * F'' = 2 p q^2 s (2 p - q) + 5 p q^3; the negative term is F at -x. */
FL_AVX2 static inline __m256d fl_focal2_f4(__m256d p, __m256d q, __m256d s, __m256d sm,
                                           __m256d* d1, __m256d* d2) {
    const __m256d two = _mm256_set1_pd(2.0);
    __m256d qg = _mm256_mul_pd(q, q);
    /* p q^2 s, with sm = s except where p = 0 and s = inf (x = ±inf): 0 */
    __m256d pqs = _mm256_mul_pd(_mm256_mul_pd(p, qg), sm);
    __m256d q3 = _mm256_mul_pd(qg, q);
    /* explicit FMAs (FL_AVX2 turns off the implicit contraction) */
    *d1 = _mm256_fmsub_pd(_mm256_set1_pd(-2.0), pqs, q3);
    *d2 = _mm256_fmadd_pd(_mm256_mul_pd(two, pqs), _mm256_fmsub_pd(two, p, q),
                          _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(5.0), p), q3));
    return _mm256_mul_pd(qg, s);
}

FL_AVX2 static inline __m256d fl_focal2_logit4(__m256d y, __m256d x, __m256d pos, __m256d neg,
                                               __m256d unused, __m256d gscale, __m256d* g,
                                               __m256d* h) {
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    (void)unused;
    __m256d ay = _mm256_mul_pd(pos, y);
    __m256d by = _mm256_mul_pd(neg, _mm256_sub_pd(one, y));
    __m256d z = fl_exp4(_mm256_or_pd(x, _mm256_set1_pd(-0.0)));
    __m256d u = _mm256_add_pd(one, z);
    __m256d d = _mm256_div_pd(one, u);
    __m256d l1 = fl_log1p4(z, u, d);
    __m256d xpos = _mm256_cmp_pd(x, zero, _CMP_GE_OQ);
    __m256d zd = _mm256_mul_pd(z, d);
    __m256d pr = _mm256_blendv_pd(zd, d, xpos);
    __m256d cp = _mm256_blendv_pd(d, zd, xpos);
    __m256d spp = _mm256_add_pd(_mm256_max_pd(x, zero), l1);
    __m256d spn = _mm256_add_pd(_mm256_max_pd(_mm256_sub_pd(zero, x), zero), l1);
    __m256d d1p, d2p, d1n, d2n, smp = spn, smn = spp;
    /* x = ±inf (rare, one test per 4 lanes): one softplus is +inf where its
     * sigmoid is 0, and p s -> 0; a term of weight 0 is 0, not 0 inf = NaN.
     * On finite lanes the masks change no bit, so which lanes share a
     * vector with an infinite one never matters. */
    __m256d xinf = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), x),
                                 _mm256_set1_pd(INFINITY), _CMP_EQ_OQ);
    int rare = _mm256_movemask_pd(xinf) != 0;
    if (__builtin_expect(rare, 0)) {
        smp = _mm256_and_pd(_mm256_cmp_pd(pr, zero, _CMP_NEQ_UQ), spn);
        smn = _mm256_and_pd(_mm256_cmp_pd(cp, zero, _CMP_NEQ_UQ), spp);
    }
    __m256d fp = fl_focal2_f4(pr, cp, spn, smp, &d1p, &d2p);
    __m256d fn = fl_focal2_f4(cp, pr, spp, smn, &d1n, &d2n);
    if (__builtin_expect(rare, 0)) {
        fp = _mm256_and_pd(_mm256_cmp_pd(ay, zero, _CMP_NEQ_UQ), fp);
        fn = _mm256_and_pd(_mm256_cmp_pd(by, zero, _CMP_NEQ_UQ), fn);
    }
    *g = _mm256_mul_pd(gscale, _mm256_fmsub_pd(ay, d1p, _mm256_mul_pd(by, d1n)));
    *h = _mm256_mul_pd(gscale, _mm256_fmadd_pd(ay, d2p, _mm256_mul_pd(by, d2n)));
    __m256d v = _mm256_fmadd_pd(ay, fp, _mm256_mul_pd(by, fn));
    __m256d nan = _mm256_cmp_pd(x, x, _CMP_UNORD_Q);
    return _mm256_or_pd(v, _mm256_and_pd(nan, x));
}

/* w l for the block sums: 0 where the weight is 0 and the loss +-inf (a
 * masked class), where the product would be NaN; NaN losses stay NaN. */
FL_AVX2 static inline __m256d fl_wmul4(__m256d W, __m256d v) {
    __m256d p = _mm256_mul_pd(W, v);
    /* only a NaN product can be 0 inf: one predicted test per 4 lanes */
    if (__builtin_expect(_mm256_movemask_pd(_mm256_cmp_pd(p, p, _CMP_UNORD_Q)) != 0, 0)) {
        __m256d inf = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), v),
                                    _mm256_set1_pd(INFINITY), _CMP_EQ_OQ);
        __m256d w0 = _mm256_cmp_pd(W, _mm256_setzero_pd(), _CMP_EQ_OQ);
        p = _mm256_andnot_pd(_mm256_and_pd(inf, w0), p);
    }
    return p;
}

FL_AVX2 static inline __m256d fl_load4_f(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
FL_AVX2 static inline __m256d fl_load4_d(const double* p) { return _mm256_loadu_pd(p); }
FL_AVX2 static inline void fl_store4_f(float* p, __m256d v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
FL_AVX2 static inline void fl_store4_d(double* p, __m256d v) { _mm256_storeu_pd(p, v); }

/* Weights given: w l with fl_wmul4; none (all 1): the plain product, so
 * the unweighted blocks pay nothing for the weight-0 rule. */
#define FL_WMUL4(W, V) fl_wmul4_if(w != NULL, (W), (V))
FL_AVX2 static inline __m256d fl_wmul4_if(int weighted, __m256d W, __m256d v) {
    return weighted ? fl_wmul4(W, v) : _mm256_mul_pd(W, v);
}
#define FL_MUL4(W, V) _mm256_mul_pd((W), (V))

/* Each vector block comes in two forms: a fast one without the fix-ups
 * for infinities (weight 0 times an infinite loss; BCE's zero-weight
 * softplus at x = ±inf), and one with them.  The fast one runs first; only
 * a NaN total (0 inf somewhere, or NaN data: rare) reruns the block with
 * the fix-ups, rewriting every output.  The two give the same bits on every
 * element whose loss is finite, so an element's result never depends on
 * the block it shares. */
#define FL_RERUN_BIN(NAME, T)                                                              \
FL_AVX2 static double NAME##_avx2(const T* y, const T* x, const double* w, ptrdiff_t n,   \
                                  double pos, double neg, double smooth, double gscale,    \
                                  T* g, T* h, T* rows) {                                   \
    double s = NAME##_fast_avx2(y, x, w, n, pos, neg, smooth, gscale, g, h, rows);         \
    if (__builtin_expect(s != s, 0))                                                       \
        s = NAME##_masked_avx2(y, x, w, n, pos, neg, smooth, gscale, g, h, rows);          \
    return s;                                                                              \
}
#define FL_RERUN_PW(NAME, T)                                                               \
FL_AVX2 static double NAME##_avx2(const T* y, const T* x, const double* w, ptrdiff_t n,   \
                                  double gscale, T* g, T* h, T* rows) {                    \
    double s = NAME##_fast_avx2(y, x, w, n, gscale, g, h, rows);                           \
    if (__builtin_expect(s != s, 0))                                                       \
        s = NAME##_masked_avx2(y, x, w, n, gscale, g, h, rows);                            \
    return s;                                                                              \
}

/* One block of weighted BCE from logits: Σ w_i l_i over n elements, with
 * gradient/hessian (gscale w_i times the derivative) and per-element w_i l_i
 * written where the pointers are not NULL; w NULL means weight 1.  Two
 * running sums over 4 lanes each, then a fixed reduction: the result
 * depends only on the block's data. */
#define FL_BIN_DRIVER(NAME, T, LOAD, STORE, ELEM, WMUL)                                        \
FL_AVX2 static double NAME(const T* y, const T* x, const double* w, ptrdiff_t n,          \
                           double pos, double neg, double smooth, double gscale,           \
                           T* g, T* h, T* rows) {                                          \
    __m256d P = _mm256_set1_pd(pos), N = _mm256_set1_pd(neg), S = _mm256_set1_pd(smooth); \
    __m256d G = _mm256_set1_pd(gscale), one = _mm256_set1_pd(1.0);                         \
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), gv, hv, v, W;              \
    ptrdiff_t i = 0;                                                                       \
    for (; i + 8 <= n; i += 8) {                                                           \
        W = w ? _mm256_loadu_pd(w + i) : one;                                              \
        v = WMUL(W, ELEM(LOAD(y + i), LOAD(x + i), P, N, S,             \
                                            _mm256_mul_pd(G, W), &gv, &hv));               \
        s0 = _mm256_add_pd(s0, v);                                                         \
        if (g) STORE(g + i, gv);                                                           \
        if (h) STORE(h + i, hv);                                                           \
        if (rows) STORE(rows + i, v);                                                      \
        W = w ? _mm256_loadu_pd(w + i + 4) : one;                                          \
        v = WMUL(W, ELEM(LOAD(y + i + 4), LOAD(x + i + 4), P, N, S,     \
                                            _mm256_mul_pd(G, W), &gv, &hv));               \
        s1 = _mm256_add_pd(s1, v);                                                         \
        if (g) STORE(g + i + 4, gv);                                                       \
        if (h) STORE(h + i + 4, hv);                                                       \
        if (rows) STORE(rows + i + 4, v);                                                  \
    }                                                                                      \
    double buf[4], gb[4], hb[4], tail = 0.0;                                               \
    for (; i < n; i += 4) {            /* the tail, 4 at a time, padded */                 \
        T yb[4] = {0, 0, 0, 0}, xb[4] = {0, 0, 0, 0};                                      \
        double wb[4] = {1, 1, 1, 1};                                                       \
        ptrdiff_t r = n - i < 4 ? n - i : 4;                                               \
        for (ptrdiff_t j = 0; j < r; j++) {                                                \
            yb[j] = y[i + j]; xb[j] = x[i + j]; if (w) wb[j] = w[i + j];                   \
        }                                                                                  \
        W = _mm256_loadu_pd(wb);                                                           \
        v = WMUL(W, ELEM(LOAD(yb), LOAD(xb), P, N, S,                   \
                                            _mm256_mul_pd(G, W), &gv, &hv));               \
        _mm256_storeu_pd(buf, v);                                                          \
        _mm256_storeu_pd(gb, gv);                                                          \
        _mm256_storeu_pd(hb, hv);                                                          \
        for (ptrdiff_t j = 0; j < r; j++) {                                                \
            tail += buf[j];                                                                \
            if (g) g[i + j] = (T)gb[j];                                                    \
            if (h) h[i + j] = (T)hb[j];                                                    \
            if (rows) rows[i + j] = (T)buf[j];                                             \
        }                                                                                  \
    }                                                                                      \
    _mm256_storeu_pd(buf, _mm256_add_pd(s0, s1));                                          \
    return ((buf[0] + buf[1]) + (buf[2] + buf[3])) + tail;                                 \
}

FL_BIN_DRIVER(fl_wbce_logit_f_fast_avx2, float, fl_load4_f, fl_store4_f, fl_wbce_logit4_fast, FL_MUL4)
FL_BIN_DRIVER(fl_wbce_logit_d_fast_avx2, double, fl_load4_d, fl_store4_d, fl_wbce_logit4_fast, FL_MUL4)
FL_BIN_DRIVER(fl_wbce_logit_f_masked_avx2, float, fl_load4_f, fl_store4_f, fl_wbce_logit4, FL_WMUL4)
FL_BIN_DRIVER(fl_wbce_logit_d_masked_avx2, double, fl_load4_d, fl_store4_d, fl_wbce_logit4, FL_WMUL4)
FL_RERUN_BIN(fl_wbce_logit_f, float)
FL_RERUN_BIN(fl_wbce_logit_d, double)
FL_BIN_DRIVER(fl_focal2_logit_f_fast_avx2, float, fl_load4_f, fl_store4_f, fl_focal2_logit4, FL_MUL4)
FL_BIN_DRIVER(fl_focal2_logit_d_fast_avx2, double, fl_load4_d, fl_store4_d, fl_focal2_logit4, FL_MUL4)
FL_BIN_DRIVER(fl_focal2_logit_f_masked_avx2, float, fl_load4_f, fl_store4_f, fl_focal2_logit4, FL_WMUL4)
FL_BIN_DRIVER(fl_focal2_logit_d_masked_avx2, double, fl_load4_d, fl_store4_d, fl_focal2_logit4, FL_WMUL4)
FL_RERUN_BIN(fl_focal2_logit_f, float)
FL_RERUN_BIN(fl_focal2_logit_d, double)


/* ------------------------------------------- more elementwise vector blocks
 * Element functions f(y, x, gscale, &g, &h) -> loss on 4 doubles, for
 * pointwise.pyx's `_vector_block`: each is the scalar closed form of the same
 * loss in float64 lanes.  Accuracy: exp <= 1 ulp (above), log1p about 2 ulp
 * (fl_log1p4); tests/test_perf_paths.py compares every block with the scalar
 * path and a float64 NumPy reference. */

/* exp for any x: the polynomial exp (x <= 708; below -708.39 flushed to 0,
 * an absolute error under 2.3e-308), lanes above 708 redone by libm exp
 * (overflow to inf; rare, so the branch is predictable). */
FL_AVX2 static inline __m256d fl_exp4_any(__m256d x) {
    __m256d e = fl_exp4(x);
    __m256d big = _mm256_cmp_pd(x, _mm256_set1_pd(708.0), _CMP_GT_OQ);
    if (__builtin_expect(_mm256_movemask_pd(big) != 0, 0)) {
        double xb[4], eb[4];
        _mm256_storeu_pd(xb, x);
        _mm256_storeu_pd(eb, e);
        for (int j = 0; j < 4; j++) if (xb[j] > 708.0) eb[j] = exp(xb[j]);
        e = _mm256_loadu_pd(eb);
    }
    return e;
}

/* exp(x) - 1 and exp(x) for x <= 0, from one reduction: with x = n ln2 + r,
 * q = exp(r) - 1 (the exp polynomial without its constant term, so no
 * cancellation), s = 2^n: expm1 = s q + (s - 1), exp = s q + s.  Below
 * -708.39 exp is flushed to 0 and expm1 is -1.  A few ulp (tested). */
FL_AVX2 static inline __m256d fl_expm1_4(__m256d x, __m256d* ex) {
    const __m256d lo = _mm256_set1_pd(-708.39);
    const __m256d magic = _mm256_set1_pd(6755399441055744.0);
    __m256d under = _mm256_cmp_pd(x, lo, _CMP_LT_OQ);
    __m256d xc = _mm256_max_pd(lo, x);
    __m256d t = _mm256_fmadd_pd(xc, _mm256_set1_pd(1.4426950408889634074), magic);
    __m256d n = _mm256_sub_pd(t, magic);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), xc);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
    static const double c[13] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0};
    __m256d p = _mm256_set1_pd(c[0]);
    for (int i = 1; i < 13; i++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c[i]));
    __m256d q = _mm256_mul_pd(p, r);
    __m256i k = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_castpd_si256(magic));
    __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(k, _mm256_set1_epi64x(1023)), 52);
    __m256d sc = _mm256_andnot_pd(under, _mm256_castsi256_pd(bits));
    *ex = _mm256_fmadd_pd(sc, q, sc);
    return _mm256_fmadd_pd(sc, q, _mm256_sub_pd(sc, _mm256_set1_pd(1.0)));
}

/* log cosh(e), e = x - y: |e| + log1p(z) - ln 2, z = exp(-2|e|);
 * g = sign(e) (-expm1(-2|e|)) / (1 + z) (accurate for tiny e too),
 * h = 4 z / (1 + z)^2. */
FL_AVX2 static inline __m256d fl_logcosh4(__m256d y, __m256d x, __m256d G,
                                          __m256d* g, __m256d* h) {
    const __m256d one = _mm256_set1_pd(1.0), sign = _mm256_set1_pd(-0.0);
    __m256d e = _mm256_sub_pd(x, y);
    __m256d a = _mm256_andnot_pd(sign, e);
    __m256d z, em = fl_expm1_4(_mm256_mul_pd(a, _mm256_set1_pd(-2.0)), &z);
    __m256d u = _mm256_add_pd(one, z);
    __m256d d = _mm256_div_pd(one, u);
    __m256d l1 = fl_log1p4(z, u, d);
    __m256d t = _mm256_mul_pd(_mm256_sub_pd(_mm256_setzero_pd(), em), d);
    t = _mm256_or_pd(t, _mm256_and_pd(sign, e));             /* copysign(t, e) */
    *g = _mm256_mul_pd(G, t);
    *h = _mm256_mul_pd(G, _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(4.0), z),
                                        _mm256_mul_pd(d, d)));
    return _mm256_sub_pd(_mm256_add_pd(a, l1), _mm256_set1_pd(6.93147180559945309417e-01));
}

/* Poisson with log-rate input: exp(x) - y x; g = exp(x) - y, h = exp(x). */
FL_AVX2 static inline __m256d fl_poisson_log4(__m256d y, __m256d x, __m256d G,
                                              __m256d* g, __m256d* h) {
    __m256d m = fl_exp4_any(x);
    *g = _mm256_mul_pd(G, _mm256_sub_pd(m, y));
    *h = _mm256_mul_pd(G, m);
    return _mm256_sub_pd(m, _mm256_mul_pd(y, x));
}

#define FL_PW_DRIVER(NAME, T, LOAD, STORE, ELEM, WMUL)                                        \
FL_AVX2 static double NAME(const T* y, const T* x, const double* w, ptrdiff_t n,          \
                           double gscale, T* g, T* h, T* rows) {                           \
    __m256d G = _mm256_set1_pd(gscale), one = _mm256_set1_pd(1.0);                         \
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), gv, hv, v, W;              \
    ptrdiff_t i = 0;                                                                       \
    for (; i + 8 <= n; i += 8) {                                                           \
        W = w ? _mm256_loadu_pd(w + i) : one;                                              \
        v = WMUL(W, ELEM(LOAD(y + i), LOAD(x + i), _mm256_mul_pd(G, W), &gv, &hv)); \
        s0 = _mm256_add_pd(s0, v);                                                         \
        if (g) STORE(g + i, gv);                                                           \
        if (h) STORE(h + i, hv);                                                           \
        if (rows) STORE(rows + i, v);                                                      \
        W = w ? _mm256_loadu_pd(w + i + 4) : one;                                          \
        v = WMUL(W, ELEM(LOAD(y + i + 4), LOAD(x + i + 4), _mm256_mul_pd(G, W),   \
                                  &gv, &hv));                                              \
        s1 = _mm256_add_pd(s1, v);                                                         \
        if (g) STORE(g + i + 4, gv);                                                       \
        if (h) STORE(h + i + 4, hv);                                                       \
        if (rows) STORE(rows + i + 4, v);                                                  \
    }                                                                                      \
    double buf[4], gb[4], hb[4], tail = 0.0;                                               \
    for (; i < n; i += 4) {                                                                \
        T yb[4] = {0, 0, 0, 0}, xb[4] = {0, 0, 0, 0};                                      \
        double wb[4] = {1, 1, 1, 1};                                                       \
        ptrdiff_t r = n - i < 4 ? n - i : 4;                                               \
        for (ptrdiff_t j = 0; j < r; j++) {                                                \
            yb[j] = y[i + j]; xb[j] = x[i + j]; if (w) wb[j] = w[i + j];                   \
        }                                                                                  \
        W = _mm256_loadu_pd(wb);                                                           \
        v = WMUL(W, ELEM(LOAD(yb), LOAD(xb), _mm256_mul_pd(G, W), &gv, &hv));     \
        _mm256_storeu_pd(buf, v);                                                          \
        _mm256_storeu_pd(gb, gv);                                                          \
        _mm256_storeu_pd(hb, hv);                                                          \
        for (ptrdiff_t j = 0; j < r; j++) {                                                \
            tail += buf[j];                                                                \
            if (g) g[i + j] = (T)gb[j];                                                    \
            if (h) h[i + j] = (T)hb[j];                                                    \
            if (rows) rows[i + j] = (T)buf[j];                                             \
        }                                                                                  \
    }                                                                                      \
    _mm256_storeu_pd(buf, _mm256_add_pd(s0, s1));                                          \
    return ((buf[0] + buf[1]) + (buf[2] + buf[3])) + tail;                                 \
}

FL_PW_DRIVER(fl_logcosh_f_fast_avx2, float, fl_load4_f, fl_store4_f, fl_logcosh4, FL_MUL4)
FL_PW_DRIVER(fl_logcosh_d_fast_avx2, double, fl_load4_d, fl_store4_d, fl_logcosh4, FL_MUL4)
FL_PW_DRIVER(fl_logcosh_f_masked_avx2, float, fl_load4_f, fl_store4_f, fl_logcosh4, FL_WMUL4)
FL_PW_DRIVER(fl_logcosh_d_masked_avx2, double, fl_load4_d, fl_store4_d, fl_logcosh4, FL_WMUL4)
FL_RERUN_PW(fl_logcosh_f, float)
FL_RERUN_PW(fl_logcosh_d, double)
FL_PW_DRIVER(fl_poisson_log_f_fast_avx2, float, fl_load4_f, fl_store4_f, fl_poisson_log4, FL_MUL4)
FL_PW_DRIVER(fl_poisson_log_d_fast_avx2, double, fl_load4_d, fl_store4_d, fl_poisson_log4, FL_MUL4)
FL_PW_DRIVER(fl_poisson_log_f_masked_avx2, float, fl_load4_f, fl_store4_f, fl_poisson_log4, FL_WMUL4)
FL_PW_DRIVER(fl_poisson_log_d_masked_avx2, double, fl_load4_d, fl_store4_d, fl_poisson_log4, FL_WMUL4)
FL_RERUN_PW(fl_poisson_log_f, float)
FL_RERUN_PW(fl_poisson_log_d, double)


/* Hellinger distance of one row (rows.pyx hellinger_row, vectorised):
 * D = |sqrt(y) - sqrt(p)|_2, p = clip(x, eps, 1); returns D / sqrt 2 and,
 * when g is not NULL, g_j = -gs (sqrt y_j - sqrt p_j) / (2 sqrt 2 D sqrt p_j)
 * where x_j is inside the clip (0 elsewhere, and 0 everywhere when D = 0).
 * The squares are summed in 4 lanes in a fixed order, then the lanes
 * pairwise: the result depends only on the row.  sqrt is correctly rounded
 * (IEEE) on every path. */
#define FL_HELL_TAIL_LOAD(T, N)                                                            \
    T yb[N], xb[N];                                                                        \
    for (int j = 0; j < N; j++) { yb[j] = i + j < C ? y[i + j] : (T)1;                    \
                                  xb[j] = i + j < C ? x[i + j] : (T)1; }

#define FL_HELL_AVX2(NAME, T, LOAD, STORE)                                                 \
FL_AVX2 static double NAME(const T* y, const T* x, ptrdiff_t C, double eps, double gs,    \
                           T* g) {                                                         \
    const __m256d E = _mm256_set1_pd(eps), one = _mm256_set1_pd(1.0);                     \
    __m256d acc = _mm256_setzero_pd(), s, rp, yv, xv;                                      \
    ptrdiff_t i = 0;                                                                       \
    for (; i < C; i += 4) {                                                                \
        if (i + 4 <= C) { yv = LOAD(y + i); xv = LOAD(x + i); }                            \
        else { FL_HELL_TAIL_LOAD(T, 4) yv = LOAD(yb); xv = LOAD(xb); }                     \
        rp = _mm256_sqrt_pd(_mm256_min_pd(one, _mm256_max_pd(E, xv)));                    \
        s = _mm256_sub_pd(_mm256_sqrt_pd(yv), rp);                                         \
        acc = _mm256_fmadd_pd(s, s, acc);                                                  \
    }                                                                                      \
    double buf[4];                                                                         \
    _mm256_storeu_pd(buf, acc);                                                            \
    double D = sqrt((buf[0] + buf[1]) + (buf[2] + buf[3]));                                \
    if (g) {                                                                               \
        if (D > 0.0 || D != D) {                                                           \
            const __m256d K = _mm256_set1_pd(-gs / (D * 1.4142135623730951 * 2.0));        \
            for (i = 0; i < C; i += 4) {                                                   \
                if (i + 4 <= C) { yv = LOAD(y + i); xv = LOAD(x + i); }                    \
                else { FL_HELL_TAIL_LOAD(T, 4) yv = LOAD(yb); xv = LOAD(xb); }             \
                __m256d in = _mm256_and_pd(_mm256_cmp_pd(xv, E, _CMP_NLT_UQ),              \
                                           _mm256_cmp_pd(xv, one, _CMP_NGT_UQ));           \
                rp = _mm256_sqrt_pd(_mm256_min_pd(one, _mm256_max_pd(E, xv)));            \
                s = _mm256_sub_pd(_mm256_sqrt_pd(yv), rp);                                 \
                __m256d gv = _mm256_and_pd(in, _mm256_div_pd(_mm256_mul_pd(K, s), rp));    \
                if (i + 4 <= C) STORE(g + i, gv);                                          \
                else { double t[4]; _mm256_storeu_pd(t, gv);                               \
                       for (ptrdiff_t j = 0; i + j < C; j++) g[i + j] = (T)t[j]; }         \
            }                                                                              \
        } else {                                                                           \
            for (i = 0; i < C; i++) g[i] = (T)0;                                           \
        }                                                                                  \
    }                                                                                      \
    return D / 1.4142135623730951;                                                         \
}
FL_HELL_AVX2(fl_hellinger_f_avx2, float, fl_load4_f, fl_store4_f)
FL_HELL_AVX2(fl_hellinger_d_avx2, double, fl_load4_d, fl_store4_d)


/* log(x) for positive normal finite x: x = 2^k m, m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s), s = (m - 1) / (m + 1) (|s| <= 0.1716, series to s^21,
 * truncation < 1e-17 relative), plus k ln2 in two parts.  Measured <= 2 ulp
 * (tests/test_perf_paths.py).  Lanes outside [DBL_MIN, DBL_MAX] (0,
 * negatives, subnormals, inf, NaN: rare) are redone by libm log. */
FL_AVX2 static inline __m256d fl_log4(__m256d x) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256i b = _mm256_castpd_si256(x);
    __m256i e = _mm256_srli_epi64(b, 52);
    /* exponent field as a double: bits 0x433.. | e minus 2^52 */
    __m256d kd = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(e, _mm256_set1_epi64x(0x4330000000000000LL))),
        _mm256_set1_pd(4503599627370496.0 + 1023.0));
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(
        _mm256_and_si256(b, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
        _mm256_set1_epi64x(0x3FF0000000000000LL)));                 /* [1, 2) */
    __m256d big = _mm256_cmp_pd(m, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), big);
    kd = _mm256_add_pd(kd, _mm256_and_pd(big, one));
    __m256d s = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one));
    __m256d s2 = _mm256_mul_pd(s, s);
    __m256d q = _mm256_set1_pd(1.0 / 21.0);
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 19.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 17.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 15.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 13.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 11.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 9.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 7.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 5.0));
    q = _mm256_fmadd_pd(q, s2, _mm256_set1_pd(1.0 / 3.0));
    __m256d two_s = _mm256_add_pd(s, s);
    __m256d logm = _mm256_fmadd_pd(_mm256_mul_pd(two_s, s2), q, two_s);
    __m256d r = _mm256_fmadd_pd(kd, _mm256_set1_pd(6.93147180369123816490e-01),
                                _mm256_fmadd_pd(kd, _mm256_set1_pd(1.90821492927058770002e-10),
                                                logm));
    __m256d ok = _mm256_and_pd(_mm256_cmp_pd(x, _mm256_set1_pd(2.2250738585072014e-308), _CMP_GE_OQ),
                               _mm256_cmp_pd(x, _mm256_set1_pd(1.7976931348623157e308), _CMP_LE_OQ));
    if (__builtin_expect(_mm256_movemask_pd(ok) != 0xF, 0)) {
        double xb[4], rb[4];
        _mm256_storeu_pd(xb, x);
        _mm256_storeu_pd(rb, r);
        for (int j = 0; j < 4; j++)
            if (!(xb[j] >= 2.2250738585072014e-308 && xb[j] <= 1.7976931348623157e308))
                rb[j] = log(xb[j]);
        r = _mm256_loadu_pd(rb);
    }
    return r;
}

/* KL divergence with log-probability input, one row (rows.pyx kl_log_row):
 * returns Σ_j y_j (log y_j - x_j) over y_j != 0 (4 lanes, fixed order) and
 * writes g_j = -gs y_j when g is not NULL. */
#define FL_KLLOG_AVX2(NAME, T, LOAD, STORE)                                                \
FL_AVX2 static double NAME(const T* y, const T* x, ptrdiff_t C, double gs, T* g) {        \
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();                   \
    const __m256d G = _mm256_set1_pd(-gs);                                                 \
    __m256d acc = zero, xsum = zero, yv, xv;                                               \
    ptrdiff_t i = 0;                                                                       \
    for (; i < C; i += 4) {                                                                \
        T yb[4], xb[4];                                                                    \
        if (i + 4 <= C) { yv = LOAD(y + i); xv = LOAD(x + i); }                            \
        else { for (int j = 0; j < 4; j++) { yb[j] = i + j < C ? y[i + j] : (T)0;         \
                                             xb[j] = i + j < C ? x[i + j] : (T)0; }        \
               yv = LOAD(yb); xv = LOAD(xb); }                                             \
        __m256d nz = _mm256_cmp_pd(yv, zero, _CMP_NEQ_UQ);                                 \
        __m256d ly = fl_log4(_mm256_blendv_pd(one, yv, nz));                              \
        /* y_j = 0: term 0 (x_j = -inf included); a NaN x_j anywhere makes   \
         * the row NaN: the lanes' sum of x is NaN then (or with +inf and    \
         * -inf both present), and only then is the row scanned for one */                \
        acc = _mm256_add_pd(acc, _mm256_and_pd(nz, _mm256_mul_pd(yv, _mm256_sub_pd(ly, xv)))); \
        xsum = _mm256_add_pd(xsum, xv);                                                    \
        if (g) {                                                                           \
            __m256d gv = _mm256_mul_pd(G, yv);                                             \
            if (i + 4 <= C) STORE(g + i, gv);                                              \
            else { double t[4]; _mm256_storeu_pd(t, gv);                                   \
                   for (ptrdiff_t j = 0; i + j < C; j++) g[i + j] = (T)t[j]; }             \
        }                                                                                  \
    }                                                                                      \
    double buf[4];                                                                         \
    _mm256_storeu_pd(buf, acc);                                                            \
    if (__builtin_expect(_mm256_movemask_pd(_mm256_cmp_pd(xsum, xsum, _CMP_UNORD_Q)), 0))   \
        for (ptrdiff_t j = 0; j < C; j++) if (x[j] != x[j]) return NAN;                    \
    return (buf[0] + buf[1]) + (buf[2] + buf[3]);                                          \
}
FL_KLLOG_AVX2(fl_kl_log_f_avx2, float, fl_load4_f, fl_store4_f)
FL_KLLOG_AVX2(fl_kl_log_d_avx2, double, fl_load4_d, fl_store4_d)

/* log of each x[i] (tests of the accuracy claim) */
FL_AVX2 static void fl_log_array_d_avx2(const double* x, ptrdiff_t n, double* out) {
    for (ptrdiff_t i = 0; i < n; i += 4) {
        double b[4] = {1, 1, 1, 1};
        for (int j = 0; j < 4 && i + j < n; j++) b[j] = x[i + j];
        _mm256_storeu_pd(b, fl_log4(_mm256_loadu_pd(b)));
        for (int j = 0; j < 4 && i + j < n; j++) out[i + j] = b[j];
    }
}


FL_AVX2 static int fl_any_nan_f_avx2(const float* x, ptrdiff_t n) {
    __m256 acc = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_or_ps(acc, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    int r = _mm256_movemask_ps(acc) != 0;
    for (; i < n; i++) r |= x[i] != x[i];
    return r;
}
FL_AVX2 static int fl_any_nan_d_avx2(const double* x, ptrdiff_t n) {
    __m256d acc = _mm256_setzero_pd();
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d v = _mm256_loadu_pd(x + i);
        acc = _mm256_or_pd(acc, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
    }
    int r = _mm256_movemask_pd(acc) != 0;
    for (; i < n; i++) r |= x[i] != x[i];
    return r;
}

/* exp of each x[i] <= 0 into out[i] (for tests of the accuracy claim). */
FL_AVX2 static void fl_exp_array_f_avx2(const float* x, ptrdiff_t n, float* out) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, fl_exp8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) {
        float b[8] = {x[i], 0, 0, 0, 0, 0, 0, 0};
        _mm256_storeu_ps(b, fl_exp8(_mm256_loadu_ps(b)));
        out[i] = b[0];
    }
}

FL_AVX2 static void fl_exp_array_d_avx2(const double* x, ptrdiff_t n, double* out) {
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, fl_exp4(_mm256_loadu_pd(x + i)));
    for (; i < n; i++) {
        double b[4] = {x[i], 0, 0, 0};
        _mm256_storeu_pd(b, fl_exp4(_mm256_loadu_pd(b)));
        out[i] = b[0];
    }
}

#ifdef __SSE2__
/* ---------------------------------------------------------------- SSE2
 * The same exp for the baseline x86-64 (SSE2 is part of it): 4 floats or
 * 2 doubles per vector, mul + add instead of FMA.  Accuracy measured as
 * for AVX2 (tests check <= 2 ulp). */
static inline __m128 fl_exp4f_sse2(__m128 x) {
    const __m128 lo = _mm_set1_ps(-87.3365f);
    const __m128 magic = _mm_set1_ps(12582912.0f);
    __m128 under = _mm_cmplt_ps(x, lo);
    __m128 xc = _mm_max_ps(lo, x);                          /* NaN stays */
    __m128 t = _mm_add_ps(_mm_mul_ps(xc, _mm_set1_ps(1.44269504088896341f)), magic);
    __m128 n = _mm_sub_ps(t, magic);
    __m128 r = _mm_sub_ps(xc, _mm_mul_ps(n, _mm_set1_ps(0.693359375f)));
    r = _mm_sub_ps(r, _mm_mul_ps(n, _mm_set1_ps(-2.12194440054690583e-4f)));
    __m128 p = _mm_set1_ps(1.0f / 5040.0f);
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f / 720.0f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f / 120.0f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f / 24.0f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f / 6.0f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(0.5f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f));
    __m128i k = _mm_sub_epi32(_mm_castps_si128(t), _mm_castps_si128(magic));
    __m128i bits = _mm_slli_epi32(_mm_add_epi32(k, _mm_set1_epi32(127)), 23);
    p = _mm_mul_ps(p, _mm_castsi128_ps(bits));
    return _mm_andnot_ps(under, p);
}

static inline __m128d fl_exp2d_sse2(__m128d x) {
    const __m128d lo = _mm_set1_pd(-708.39);
    const __m128d magic = _mm_set1_pd(6755399441055744.0);
    __m128d under = _mm_cmplt_pd(x, lo);
    __m128d xc = _mm_max_pd(lo, x);
    __m128d t = _mm_add_pd(_mm_mul_pd(xc, _mm_set1_pd(1.4426950408889634074)), magic);
    __m128d n = _mm_sub_pd(t, magic);
    __m128d r = _mm_sub_pd(xc, _mm_mul_pd(n, _mm_set1_pd(6.93147180369123816490e-01)));
    r = _mm_sub_pd(r, _mm_mul_pd(n, _mm_set1_pd(1.90821492927058770002e-10)));
    static const double c[14] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    __m128d p = _mm_set1_pd(c[0]);
    for (int i = 1; i < 14; i++) p = _mm_add_pd(_mm_mul_pd(p, r), _mm_set1_pd(c[i]));
    __m128i k = _mm_sub_epi64(_mm_castpd_si128(t), _mm_castpd_si128(magic));
    __m128i bits = _mm_slli_epi64(_mm_add_epi64(k, _mm_set1_epi64x(1023)), 52);
    p = _mm_mul_pd(p, _mm_castsi128_pd(bits));
    return _mm_andnot_pd(under, p);
}

static double fl_expsum_f_sse2(const float* x, ptrdiff_t n, float m, float* out) {
    __m128 vm = _mm_set1_ps(m);
    __m128d s0 = _mm_setzero_pd(), s1 = _mm_setzero_pd();
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 e = fl_exp4f_sse2(_mm_sub_ps(_mm_loadu_ps(x + i), vm));
        if (out) _mm_storeu_ps(out + i, e);
        s0 = _mm_add_pd(s0, _mm_cvtps_pd(e));
        s1 = _mm_add_pd(s1, _mm_cvtps_pd(_mm_movehl_ps(e, e)));
    }
    if (i < n) {
        float xb[4], eb[4];
        ptrdiff_t r = n - i;
        for (int j = 0; j < 4; j++) xb[j] = j < r ? x[i + j] - m : 0.0f;
        _mm_storeu_ps(eb, fl_exp4f_sse2(_mm_loadu_ps(xb)));
        for (int j = 0; j < 4; j++) if (j >= r) eb[j] = 0.0f;
        if (out) for (ptrdiff_t j = 0; j < r; j++) out[i + j] = eb[j];
        __m128 e = _mm_loadu_ps(eb);
        s0 = _mm_add_pd(s0, _mm_cvtps_pd(e));
        s1 = _mm_add_pd(s1, _mm_cvtps_pd(_mm_movehl_ps(e, e)));
    }
    double buf[2];
    _mm_storeu_pd(buf, _mm_add_pd(s0, s1));
    return buf[0] + buf[1];
}

static double fl_expsum_d_sse2(const double* x, ptrdiff_t n, double m, double* out) {
    __m128d vm = _mm_set1_pd(m);
    __m128d s0 = _mm_setzero_pd(), s1 = _mm_setzero_pd();
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128d e0 = fl_exp2d_sse2(_mm_sub_pd(_mm_loadu_pd(x + i), vm));
        __m128d e1 = fl_exp2d_sse2(_mm_sub_pd(_mm_loadu_pd(x + i + 2), vm));
        if (out) { _mm_storeu_pd(out + i, e0); _mm_storeu_pd(out + i + 2, e1); }
        s0 = _mm_add_pd(s0, e0);
        s1 = _mm_add_pd(s1, e1);
    }
    for (; i < n; i += 2) {
        double xb[2], eb[2];
        ptrdiff_t r = n - i < 2 ? n - i : 2;
        for (int j = 0; j < 2; j++) xb[j] = j < r ? x[i + j] - m : 0.0;
        _mm_storeu_pd(eb, fl_exp2d_sse2(_mm_loadu_pd(xb)));
        for (int j = 0; j < 2; j++) if (j >= r) eb[j] = 0.0;
        if (out) for (ptrdiff_t j = 0; j < r; j++) out[i + j] = eb[j];
        s0 = _mm_add_pd(s0, _mm_loadu_pd(eb));
    }
    double buf[2];
    _mm_storeu_pd(buf, _mm_add_pd(s0, s1));
    return buf[0] + buf[1];
}

static void fl_exp_array_f_sse2(const float* x, ptrdiff_t n, float* out) {
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, fl_exp4f_sse2(_mm_loadu_ps(x + i)));
    for (; i < n; i++) {
        float b[4] = {x[i], 0, 0, 0};
        _mm_storeu_ps(b, fl_exp4f_sse2(_mm_loadu_ps(b)));
        out[i] = b[0];
    }
}

static void fl_exp_array_d_sse2(const double* x, ptrdiff_t n, double* out) {
    ptrdiff_t i = 0;
    for (; i + 2 <= n; i += 2) _mm_storeu_pd(out + i, fl_exp2d_sse2(_mm_loadu_pd(x + i)));
    for (; i < n; i++) {
        double b[2] = {x[i], 0};
        _mm_storeu_pd(b, fl_exp2d_sse2(_mm_loadu_pd(b)));
        out[i] = b[0];
    }
}
/* log1p and weighted BCE from logits on 2 doubles: the AVX2 forms above
 * with mul + add and and/andnot selects (SSE2 has no FMA or blendv). */
static inline __m128d fl_sel2(__m128d mask, __m128d a, __m128d b) {
    return _mm_or_pd(_mm_and_pd(mask, a), _mm_andnot_pd(mask, b));
}

static inline __m128d fl_log1p2_sse2(__m128d z, __m128d u, __m128d d) {
    const __m128d one = _mm_set1_pd(1.0);
    __m128d big = _mm_cmpgt_pd(u, _mm_set1_pd(1.4142135623730951));
    __m128d m = fl_sel2(big, _mm_mul_pd(u, _mm_set1_pd(0.5)), u);
    __m128d k = _mm_and_pd(big, one);
    __m128d s = _mm_div_pd(_mm_sub_pd(m, one), _mm_add_pd(m, one));
    __m128d s2 = _mm_mul_pd(s, s);
    static const double c[10] = {1.0 / 21.0, 1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0,
                                 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0};
    __m128d q = _mm_set1_pd(c[0]);
    for (int i = 1; i < 10; i++) q = _mm_add_pd(_mm_mul_pd(q, s2), _mm_set1_pd(c[i]));
    __m128d two_s = _mm_add_pd(s, s);
    __m128d logm = _mm_add_pd(_mm_mul_pd(_mm_mul_pd(two_s, s2), q), two_s);
    __m128d corr = _mm_mul_pd(_mm_sub_pd(z, _mm_sub_pd(u, one)), d);
    __m128d lo = _mm_add_pd(_mm_mul_pd(k, _mm_set1_pd(1.90821492927058770002e-10)), corr);
    return _mm_add_pd(_mm_mul_pd(k, _mm_set1_pd(6.93147180369123816490e-01)),
                      _mm_add_pd(logm, lo));
}

static inline __m128d fl_wbce_logit2_sse2(__m128d y, __m128d x, __m128d pos, __m128d neg,
                                          __m128d smooth, __m128d gscale, __m128d* g,
                                          __m128d* h) {
    const __m128d one = _mm_set1_pd(1.0), zero = _mm_setzero_pd();
    __m128d ys = _mm_add_pd(_mm_mul_pd(y, _mm_sub_pd(one, smooth)),
                            _mm_mul_pd(smooth, _mm_set1_pd(0.5)));
    __m128d ay = _mm_mul_pd(pos, ys);
    __m128d by = _mm_mul_pd(neg, _mm_sub_pd(one, ys));
    __m128d z = fl_exp2d_sse2(_mm_or_pd(x, _mm_set1_pd(-0.0)));
    __m128d u = _mm_add_pd(one, z);
    __m128d d = _mm_div_pd(one, u);
    __m128d l1 = fl_log1p2_sse2(z, u, d);
    __m128d xpos = _mm_cmpge_pd(x, zero);
    __m128d zd = _mm_mul_pd(z, d);
    __m128d pr = fl_sel2(xpos, d, zd);
    __m128d cp = fl_sel2(xpos, zd, d);
    __m128d spp = _mm_add_pd(_mm_max_pd(x, zero), l1);
    __m128d spn = _mm_add_pd(_mm_max_pd(_mm_sub_pd(zero, x), zero), l1);
    spn = _mm_and_pd(_mm_cmpneq_pd(ay, zero), spn);       /* weight 0: term 0 */
    spp = _mm_and_pd(_mm_cmpneq_pd(by, zero), spp);
    *g = _mm_mul_pd(gscale, _mm_sub_pd(_mm_mul_pd(by, pr), _mm_mul_pd(ay, cp)));
    *h = _mm_mul_pd(_mm_mul_pd(gscale, _mm_add_pd(ay, by)), _mm_mul_pd(pr, cp));
    __m128d v = _mm_add_pd(_mm_mul_pd(ay, spn), _mm_mul_pd(by, spp));
    __m128d nan = _mm_cmpunord_pd(x, x);
    return _mm_or_pd(v, _mm_and_pd(nan, x));
}

/* Two floats in and out through memcpy: a float array is only 4-byte
 * aligned, and reading it through a double* (movsd from a cast pointer)
 * was undefined behaviour (misaligned, and a float object read as a
 * double); gcc turns the 8-byte memcpy into one unaligned movq. */
static inline __m128d fl_load2_f(const float* p) {
    double d;
    memcpy(&d, p, sizeof d);
    return _mm_cvtps_pd(_mm_castpd_ps(_mm_set_sd(d)));
}
static inline __m128d fl_load2_d(const double* p) { return _mm_loadu_pd(p); }
static inline void fl_store2_f(float* p, __m128d v) {
    double d = _mm_cvtsd_f64(_mm_castps_pd(_mm_cvtpd_ps(v)));
    memcpy(p, &d, sizeof d);
}
static inline void fl_store2_d(double* p, __m128d v) { _mm_storeu_pd(p, v); }

static inline __m128d fl_wmul2(__m128d W, __m128d v) {      /* fl_wmul4 */
    __m128d p = _mm_mul_pd(W, v);
    if (__builtin_expect(_mm_movemask_pd(_mm_cmpunord_pd(p, p)) != 0, 0)) {
        __m128d inf = _mm_cmpeq_pd(_mm_andnot_pd(_mm_set1_pd(-0.0), v), _mm_set1_pd(INFINITY));
        __m128d w0 = _mm_cmpeq_pd(W, _mm_setzero_pd());
        p = _mm_andnot_pd(_mm_and_pd(inf, w0), p);
    }
    return p;
}
#define FL_WMUL2(W, V) fl_wmul2_if(w != NULL, (W), (V))
static inline __m128d fl_wmul2_if(int weighted, __m128d W, __m128d v) {
    return weighted ? fl_wmul2(W, v) : _mm_mul_pd(W, v);
}

#define FL_WBCE_DRIVER_SSE2(NAME, T, LOAD, STORE)                                          \
static double NAME(const T* y, const T* x, const double* w, ptrdiff_t n,                   \
                   double pos, double neg, double smooth, double gscale,                   \
                   T* g, T* h, T* rows) {                                                  \
    __m128d P = _mm_set1_pd(pos), N = _mm_set1_pd(neg), S = _mm_set1_pd(smooth);           \
    __m128d G = _mm_set1_pd(gscale), one = _mm_set1_pd(1.0);                               \
    __m128d s0 = _mm_setzero_pd(), s1 = _mm_setzero_pd(), gv, hv, v, W;                    \
    ptrdiff_t i = 0;                                                                       \
    for (; i + 4 <= n; i += 4) {                                                           \
        W = w ? _mm_loadu_pd(w + i) : one;                                                 \
        v = FL_WMUL2(W, fl_wbce_logit2_sse2(LOAD(y + i), LOAD(x + i), P, N, S,           \
                                              _mm_mul_pd(G, W), &gv, &hv));                \
        s0 = _mm_add_pd(s0, v);                                                            \
        if (g) STORE(g + i, gv);                                                           \
        if (h) STORE(h + i, hv);                                                           \
        if (rows) STORE(rows + i, v);                                                      \
        W = w ? _mm_loadu_pd(w + i + 2) : one;                                             \
        v = FL_WMUL2(W, fl_wbce_logit2_sse2(LOAD(y + i + 2), LOAD(x + i + 2), P, N, S,   \
                                              _mm_mul_pd(G, W), &gv, &hv));                \
        s1 = _mm_add_pd(s1, v);                                                            \
        if (g) STORE(g + i + 2, gv);                                                       \
        if (h) STORE(h + i + 2, hv);                                                       \
        if (rows) STORE(rows + i + 2, v);                                                  \
    }                                                                                      \
    double buf[2], gb[2], hb[2], tail = 0.0;                                               \
    for (; i < n; i += 2) {                                                                \
        T yb[2] = {0, 0}, xb[2] = {0, 0};                                                  \
        double wb[2] = {1, 1};                                                             \
        ptrdiff_t r = n - i < 2 ? n - i : 2;                                               \
        for (ptrdiff_t j = 0; j < r; j++) {                                                \
            yb[j] = y[i + j]; xb[j] = x[i + j]; if (w) wb[j] = w[i + j];                   \
        }                                                                                  \
        W = _mm_loadu_pd(wb);                                                              \
        v = FL_WMUL2(W, fl_wbce_logit2_sse2(LOAD(yb), LOAD(xb), P, N, S,                 \
                                              _mm_mul_pd(G, W), &gv, &hv));                \
        _mm_storeu_pd(buf, v);                                                             \
        _mm_storeu_pd(gb, gv);                                                             \
        _mm_storeu_pd(hb, hv);                                                             \
        for (ptrdiff_t j = 0; j < r; j++) {                                                \
            tail += buf[j];                                                                \
            if (g) g[i + j] = (T)gb[j];                                                    \
            if (h) h[i + j] = (T)hb[j];                                                    \
            if (rows) rows[i + j] = (T)buf[j];                                             \
        }                                                                                  \
    }                                                                                      \
    _mm_storeu_pd(buf, _mm_add_pd(s0, s1));                                                \
    return (buf[0] + buf[1]) + tail;                                                       \
}

FL_WBCE_DRIVER_SSE2(fl_wbce_logit_f_sse2, float, fl_load2_f, fl_store2_f)
FL_WBCE_DRIVER_SSE2(fl_wbce_logit_d_sse2, double, fl_load2_d, fl_store2_d)

/* log cosh and Poisson (log input) on 2 doubles: the AVX2 forms above. */
static inline __m128d fl_exp2d_any_sse2(__m128d x) {
    __m128d e = fl_exp2d_sse2(x);
    __m128d big = _mm_cmpgt_pd(x, _mm_set1_pd(708.0));
    if (__builtin_expect(_mm_movemask_pd(big) != 0, 0)) {
        double xb[2], eb[2];
        _mm_storeu_pd(xb, x);
        _mm_storeu_pd(eb, e);
        for (int j = 0; j < 2; j++) if (xb[j] > 708.0) eb[j] = exp(xb[j]);
        e = _mm_loadu_pd(eb);
    }
    return e;
}

static inline __m128d fl_expm1_2d_sse2(__m128d x, __m128d* ex) {
    const __m128d lo = _mm_set1_pd(-708.39);
    const __m128d magic = _mm_set1_pd(6755399441055744.0);
    __m128d under = _mm_cmplt_pd(x, lo);
    __m128d xc = _mm_max_pd(lo, x);
    __m128d t = _mm_add_pd(_mm_mul_pd(xc, _mm_set1_pd(1.4426950408889634074)), magic);
    __m128d n = _mm_sub_pd(t, magic);
    __m128d r = _mm_sub_pd(xc, _mm_mul_pd(n, _mm_set1_pd(6.93147180369123816490e-01)));
    r = _mm_sub_pd(r, _mm_mul_pd(n, _mm_set1_pd(1.90821492927058770002e-10)));
    static const double c[13] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0};
    __m128d p = _mm_set1_pd(c[0]);
    for (int i = 1; i < 13; i++) p = _mm_add_pd(_mm_mul_pd(p, r), _mm_set1_pd(c[i]));
    __m128d q = _mm_mul_pd(p, r);
    __m128i k = _mm_sub_epi64(_mm_castpd_si128(t), _mm_castpd_si128(magic));
    __m128i bits = _mm_slli_epi64(_mm_add_epi64(k, _mm_set1_epi64x(1023)), 52);
    __m128d sc = _mm_andnot_pd(under, _mm_castsi128_pd(bits));
    __m128d sq = _mm_mul_pd(sc, q);
    *ex = _mm_add_pd(sq, sc);
    return _mm_add_pd(sq, _mm_sub_pd(sc, _mm_set1_pd(1.0)));
}

static inline __m128d fl_logcosh2_sse2(__m128d y, __m128d x, __m128d G, __m128d* g, __m128d* h) {
    const __m128d one = _mm_set1_pd(1.0), sign = _mm_set1_pd(-0.0);
    __m128d e = _mm_sub_pd(x, y);
    __m128d a = _mm_andnot_pd(sign, e);
    __m128d z, em = fl_expm1_2d_sse2(_mm_mul_pd(a, _mm_set1_pd(-2.0)), &z);
    __m128d u = _mm_add_pd(one, z);
    __m128d d = _mm_div_pd(one, u);
    __m128d l1 = fl_log1p2_sse2(z, u, d);
    __m128d t = _mm_mul_pd(_mm_sub_pd(_mm_setzero_pd(), em), d);
    t = _mm_or_pd(t, _mm_and_pd(sign, e));
    *g = _mm_mul_pd(G, t);
    *h = _mm_mul_pd(G, _mm_mul_pd(_mm_mul_pd(_mm_set1_pd(4.0), z), _mm_mul_pd(d, d)));
    return _mm_sub_pd(_mm_add_pd(a, l1), _mm_set1_pd(6.93147180559945309417e-01));
}

static inline __m128d fl_poisson_log2_sse2(__m128d y, __m128d x, __m128d G, __m128d* g, __m128d* h) {
    __m128d m = fl_exp2d_any_sse2(x);
    *g = _mm_mul_pd(G, _mm_sub_pd(m, y));
    *h = _mm_mul_pd(G, m);
    return _mm_sub_pd(m, _mm_mul_pd(y, x));
}

#define FL_PW_DRIVER_SSE2(NAME, T, LOAD, STORE, ELEM)                                      \
static double NAME(const T* y, const T* x, const double* w, ptrdiff_t n,                   \
                   double gscale, T* g, T* h, T* rows) {                                   \
    __m128d G = _mm_set1_pd(gscale), one = _mm_set1_pd(1.0);                               \
    __m128d s0 = _mm_setzero_pd(), s1 = _mm_setzero_pd(), gv, hv, v, W;                    \
    ptrdiff_t i = 0;                                                                       \
    for (; i + 4 <= n; i += 4) {                                                           \
        W = w ? _mm_loadu_pd(w + i) : one;                                                 \
        v = FL_WMUL2(W, ELEM(LOAD(y + i), LOAD(x + i), _mm_mul_pd(G, W), &gv, &hv));     \
        s0 = _mm_add_pd(s0, v);                                                            \
        if (g) STORE(g + i, gv);                                                           \
        if (h) STORE(h + i, hv);                                                           \
        if (rows) STORE(rows + i, v);                                                      \
        W = w ? _mm_loadu_pd(w + i + 2) : one;                                             \
        v = FL_WMUL2(W, ELEM(LOAD(y + i + 2), LOAD(x + i + 2), _mm_mul_pd(G, W),         \
                               &gv, &hv));                                                 \
        s1 = _mm_add_pd(s1, v);                                                            \
        if (g) STORE(g + i + 2, gv);                                                       \
        if (h) STORE(h + i + 2, hv);                                                       \
        if (rows) STORE(rows + i + 2, v);                                                  \
    }                                                                                      \
    double buf[2], gb[2], hb[2], tail = 0.0;                                               \
    for (; i < n; i += 2) {                                                                \
        T yb[2] = {0, 0}, xb[2] = {0, 0};                                                  \
        double wb[2] = {1, 1};                                                             \
        ptrdiff_t r = n - i < 2 ? n - i : 2;                                               \
        for (ptrdiff_t j = 0; j < r; j++) {                                                \
            yb[j] = y[i + j]; xb[j] = x[i + j]; if (w) wb[j] = w[i + j];                   \
        }                                                                                  \
        W = _mm_loadu_pd(wb);                                                              \
        v = FL_WMUL2(W, ELEM(LOAD(yb), LOAD(xb), _mm_mul_pd(G, W), &gv, &hv));           \
        _mm_storeu_pd(buf, v);                                                             \
        _mm_storeu_pd(gb, gv);                                                             \
        _mm_storeu_pd(hb, hv);                                                             \
        for (ptrdiff_t j = 0; j < r; j++) {                                                \
            tail += buf[j];                                                                \
            if (g) g[i + j] = (T)gb[j];                                                    \
            if (h) h[i + j] = (T)hb[j];                                                    \
            if (rows) rows[i + j] = (T)buf[j];                                             \
        }                                                                                  \
    }                                                                                      \
    _mm_storeu_pd(buf, _mm_add_pd(s0, s1));                                                \
    return (buf[0] + buf[1]) + tail;                                                       \
}

FL_PW_DRIVER_SSE2(fl_logcosh_f_sse2, float, fl_load2_f, fl_store2_f, fl_logcosh2_sse2)
FL_PW_DRIVER_SSE2(fl_logcosh_d_sse2, double, fl_load2_d, fl_store2_d, fl_logcosh2_sse2)
FL_PW_DRIVER_SSE2(fl_poisson_log_f_sse2, float, fl_load2_f, fl_store2_f, fl_poisson_log2_sse2)
FL_PW_DRIVER_SSE2(fl_poisson_log_d_sse2, double, fl_load2_d, fl_store2_d, fl_poisson_log2_sse2)

/* Hellinger row on 2 doubles a vector (the AVX2 form above, mul + add);
 * two accumulators so the lane order matches 4 lanes: acc0 holds lanes
 * 0,1 and acc1 lanes 2,3 of each group of 4. */
#define FL_HELL_SSE2(NAME, T, LOAD, STORE)                                                 \
static double NAME(const T* y, const T* x, ptrdiff_t C, double eps, double gs, T* g) {    \
    const __m128d E = _mm_set1_pd(eps), one = _mm_set1_pd(1.0);                            \
    __m128d a0 = _mm_setzero_pd(), a1 = _mm_setzero_pd(), s, rp, yv, xv;                   \
    ptrdiff_t i = 0;                                                                       \
    for (; i < C; i += 2) {                                                                \
        if (i + 2 <= C) { yv = LOAD(y + i); xv = LOAD(x + i); }                            \
        else { FL_HELL_TAIL_LOAD(T, 2) yv = LOAD(yb); xv = LOAD(xb); }                     \
        rp = _mm_sqrt_pd(_mm_min_pd(one, _mm_max_pd(E, xv)));                              \
        s = _mm_sub_pd(_mm_sqrt_pd(yv), rp);                                               \
        if ((i & 2) == 0) a0 = _mm_add_pd(a0, _mm_mul_pd(s, s));                           \
        else a1 = _mm_add_pd(a1, _mm_mul_pd(s, s));                                        \
    }                                                                                      \
    double b0[2], b1[2];                                                                   \
    _mm_storeu_pd(b0, a0);                                                                 \
    _mm_storeu_pd(b1, a1);                                                                 \
    double D = sqrt((b0[0] + b0[1]) + (b1[0] + b1[1]));                                    \
    if (g) {                                                                               \
        if (D > 0.0 || D != D) {                                                           \
            const __m128d K = _mm_set1_pd(-gs / (D * 1.4142135623730951 * 2.0));           \
            for (i = 0; i < C; i += 2) {                                                   \
                if (i + 2 <= C) { yv = LOAD(y + i); xv = LOAD(x + i); }                    \
                else { FL_HELL_TAIL_LOAD(T, 2) yv = LOAD(yb); xv = LOAD(xb); }             \
                __m128d in = _mm_and_pd(_mm_cmpnlt_pd(xv, E), _mm_cmpngt_pd(xv, one));     \
                rp = _mm_sqrt_pd(_mm_min_pd(one, _mm_max_pd(E, xv)));                      \
                s = _mm_sub_pd(_mm_sqrt_pd(yv), rp);                                       \
                __m128d gv = _mm_and_pd(in, _mm_div_pd(_mm_mul_pd(K, s), rp));             \
                if (i + 2 <= C) STORE(g + i, gv);                                          \
                else { double t[2]; _mm_storeu_pd(t, gv); g[i] = (T)t[0]; }                \
            }                                                                              \
        } else {                                                                           \
            for (i = 0; i < C; i++) g[i] = (T)0;                                           \
        }                                                                                  \
    }                                                                                      \
    return D / 1.4142135623730951;                                                         \
}
FL_HELL_SSE2(fl_hellinger_f_sse2, float, fl_load2_f, fl_store2_f)
FL_HELL_SSE2(fl_hellinger_d_sse2, double, fl_load2_d, fl_store2_d)

/* log and the KL (log input) row on 2 doubles: the AVX2 forms above. */
static inline __m128d fl_log2d_sse2(__m128d x) {
    const __m128d one = _mm_set1_pd(1.0);
    __m128i b = _mm_castpd_si128(x);
    __m128i e = _mm_srli_epi64(b, 52);
    __m128d kd = _mm_sub_pd(
        _mm_castsi128_pd(_mm_or_si128(e, _mm_set1_epi64x(0x4330000000000000LL))),
        _mm_set1_pd(4503599627370496.0 + 1023.0));
    __m128d m = _mm_castsi128_pd(_mm_or_si128(
        _mm_and_si128(b, _mm_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
        _mm_set1_epi64x(0x3FF0000000000000LL)));
    __m128d big = _mm_cmpgt_pd(m, _mm_set1_pd(1.4142135623730951));
    m = fl_sel2(big, _mm_mul_pd(m, _mm_set1_pd(0.5)), m);
    kd = _mm_add_pd(kd, _mm_and_pd(big, one));
    __m128d s = _mm_div_pd(_mm_sub_pd(m, one), _mm_add_pd(m, one));
    __m128d s2 = _mm_mul_pd(s, s);
    static const double c[10] = {1.0 / 21.0, 1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0,
                                 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0};
    __m128d q = _mm_set1_pd(c[0]);
    for (int i = 1; i < 10; i++) q = _mm_add_pd(_mm_mul_pd(q, s2), _mm_set1_pd(c[i]));
    __m128d two_s = _mm_add_pd(s, s);
    __m128d logm = _mm_add_pd(_mm_mul_pd(_mm_mul_pd(two_s, s2), q), two_s);
    __m128d r = _mm_add_pd(_mm_mul_pd(kd, _mm_set1_pd(6.93147180369123816490e-01)),
                           _mm_add_pd(_mm_mul_pd(kd, _mm_set1_pd(1.90821492927058770002e-10)),
                                      logm));
    __m128d ok = _mm_and_pd(_mm_cmpge_pd(x, _mm_set1_pd(2.2250738585072014e-308)),
                            _mm_cmple_pd(x, _mm_set1_pd(1.7976931348623157e308)));
    if (__builtin_expect(_mm_movemask_pd(ok) != 0x3, 0)) {
        double xb[2], rb[2];
        _mm_storeu_pd(xb, x);
        _mm_storeu_pd(rb, r);
        for (int j = 0; j < 2; j++)
            if (!(xb[j] >= 2.2250738585072014e-308 && xb[j] <= 1.7976931348623157e308))
                rb[j] = log(xb[j]);
        r = _mm_loadu_pd(rb);
    }
    return r;
}

#define FL_KLLOG_SSE2(NAME, T, LOAD, STORE)                                                \
static double NAME(const T* y, const T* x, ptrdiff_t C, double gs, T* g) {                \
    const __m128d one = _mm_set1_pd(1.0), zero = _mm_setzero_pd();                         \
    const __m128d G = _mm_set1_pd(-gs);                                                    \
    __m128d a0 = zero, a1 = zero, yv, xv, t;                                               \
    ptrdiff_t i = 0;                                                                       \
    for (; i < C; i += 2) {                                                                \
        T yb[2], xb[2];                                                                    \
        if (i + 2 <= C) { yv = LOAD(y + i); xv = LOAD(x + i); }                            \
        else { yb[0] = y[i]; yb[1] = (T)0; xb[0] = x[i]; xb[1] = (T)0;                     \
               yv = LOAD(yb); xv = LOAD(xb); }                                             \
        __m128d nz = _mm_cmpneq_pd(yv, zero);                                              \
        __m128d ly = fl_log2d_sse2(fl_sel2(nz, yv, one));                                  \
        t = _mm_and_pd(nz, _mm_mul_pd(yv, _mm_sub_pd(ly, xv)));                            \
        t = _mm_or_pd(t, _mm_and_pd(_mm_cmpunord_pd(xv, xv), xv));   /* NaN x_j */         \
        if ((i & 2) == 0) a0 = _mm_add_pd(a0, t); else a1 = _mm_add_pd(a1, t);             \
        if (g) {                                                                           \
            __m128d gv = _mm_mul_pd(G, yv);                                                \
            if (i + 2 <= C) STORE(g + i, gv);                                              \
            else { double tb[2]; _mm_storeu_pd(tb, gv); g[i] = (T)tb[0]; }                 \
        }                                                                                  \
    }                                                                                      \
    double b0[2], b1[2];                                                                   \
    _mm_storeu_pd(b0, a0);                                                                 \
    _mm_storeu_pd(b1, a1);                                                                 \
    return (b0[0] + b0[1]) + (b1[0] + b1[1]);                                              \
}
FL_KLLOG_SSE2(fl_kl_log_f_sse2, float, fl_load2_f, fl_store2_f)
FL_KLLOG_SSE2(fl_kl_log_d_sse2, double, fl_load2_d, fl_store2_d)

static void fl_log_array_d_sse2(const double* x, ptrdiff_t n, double* out) {
    for (ptrdiff_t i = 0; i < n; i += 2) {
        double b[2] = {1, 1};
        for (int j = 0; j < 2 && i + j < n; j++) b[j] = x[i + j];
        _mm_storeu_pd(b, fl_log2d_sse2(_mm_loadu_pd(b)));
        for (int j = 0; j < 2 && i + j < n; j++) out[i + j] = b[j];
    }
}
#define FL_HAVE_SSE2 1
#endif  /* __SSE2__ */
#endif  /* FL_X86 */

static void fl_exp_array_f_base(const float* x, ptrdiff_t n, float* out) {
    for (ptrdiff_t i = 0; i < n; i++) out[i] = expf(x[i]);
}

static void fl_exp_array_d_base(const double* x, ptrdiff_t n, double* out) {
    for (ptrdiff_t i = 0; i < n; i++) out[i] = exp(x[i]);
}

/* Hinge label sets in one pass: bit 0 set when some label is not in
 * {-1, 1}, bit 1 when some label is not in {0, 1} (NaN is in neither).
 * SSE2 compares OR-ed into masks (no branch, no per-element count). */
#define FL_LABELS_BODY(T, CMPNE, SET1, LOADU, OR, AND, MOVEMASK, VT, W)                \
    ptrdiff_t i = 0; int bad = 0;                                                       \
    VT one = SET1((T)1), mone = SET1((T)-1), zero = SET1((T)0);                         \
    VT apm = CMPNE(zero, zero), a01 = apm;          /* all false */                     \
    for (; i + W <= n; i += W) {                                                        \
        VT v = LOADU(y + i), ne1 = CMPNE(v, one);                                       \
        apm = OR(apm, AND(ne1, CMPNE(v, mone)));                                        \
        a01 = OR(a01, AND(ne1, CMPNE(v, zero)));                                        \
    }                                                                                   \
    if (MOVEMASK(apm)) bad |= 1;                                                        \
    if (MOVEMASK(a01)) bad |= 2;                                                        \
    for (; i < n; i++) {                                                                \
        T v = y[i];                                                                     \
        if (!(v == (T)1 || v == (T)-1)) bad |= 1;                                       \
        if (!(v == (T)1 || v == (T)0)) bad |= 2;                                        \
    }                                                                                   \
    return bad;

#ifdef FL_HAVE_SSE2
static int fl_hinge_labels_d(const double* y, ptrdiff_t n) {
    FL_LABELS_BODY(double, _mm_cmpneq_pd, _mm_set1_pd, _mm_loadu_pd, _mm_or_pd, _mm_and_pd,
                   _mm_movemask_pd, __m128d, 2)
}
static int fl_hinge_labels_f(const float* y, ptrdiff_t n) {
    FL_LABELS_BODY(float, _mm_cmpneq_ps, _mm_set1_ps, _mm_loadu_ps, _mm_or_ps, _mm_and_ps,
                   _mm_movemask_ps, __m128, 4)
}
#else
static int fl_hinge_labels_d(const double* y, ptrdiff_t n) {
    int bad = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        if (!(y[i] == 1.0 || y[i] == -1.0)) bad |= 1;
        if (!(y[i] == 1.0 || y[i] == 0.0)) bad |= 2;
    }
    return bad;
}
static int fl_hinge_labels_f(const float* y, ptrdiff_t n) {
    int bad = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        if (!(y[i] == 1.0f || y[i] == -1.0f)) bad |= 1;
        if (!(y[i] == 1.0f || y[i] == 0.0f)) bad |= 2;
    }
    return bad;
}
#endif

/* ------------------------------------------------------------- dispatch */
enum { FL_PW_LOGCOSH = 0, FL_PW_POISSON_LOG = 1, FL_PW_COUNT = 2 };

typedef struct {
    float (*max_f)(const float*, ptrdiff_t);
    double (*max_d)(const double*, ptrdiff_t);
    double (*expsum_f)(const float*, ptrdiff_t, float, float*);
    double (*expsum_d)(const double*, ptrdiff_t, double, double*);
    void (*exp_array_f)(const float*, ptrdiff_t, float*);
    void (*exp_array_d)(const double*, ptrdiff_t, double*);
    /* vectorised blocks of elementwise losses; NULL on the baseline path */
    double (*wbce_logit_f)(const float*, const float*, const double*, ptrdiff_t, double,
                           double, double, double, float*, float*, float*);
    double (*wbce_logit_d)(const double*, const double*, const double*, ptrdiff_t, double,
                           double, double, double, double*, double*, double*);
    /* binary focal from logits, gamma = 2 (NULL: scalar form) */
    double (*focal2_f)(const float*, const float*, const double*, ptrdiff_t, double,
                       double, double, double, float*, float*, float*);
    double (*focal2_d)(const double*, const double*, const double*, ptrdiff_t, double,
                       double, double, double, double*, double*, double*);
    int (*any_nan_f)(const float*, ptrdiff_t);
    int (*any_nan_d)(const double*, ptrdiff_t);
    /* KL (log input) row and a log array for tests (NULL: scalar / libm) */
    double (*kl_log_f)(const float*, const float*, ptrdiff_t, double, float*);
    double (*kl_log_d)(const double*, const double*, ptrdiff_t, double, double*);
    void (*log_array_d)(const double*, ptrdiff_t, double*);
    /* Hellinger row (NULL: scalar closed form in rows.pyx) */
    double (*hell_f)(const float*, const float*, ptrdiff_t, double, double, float*);
    double (*hell_d)(const double*, const double*, ptrdiff_t, double, double, double*);
    /* parameter-free elementwise blocks, indexed by FL_PW_* (NULL: none) */
    double (*pw_f[FL_PW_COUNT])(const float*, const float*, const double*, ptrdiff_t, double,
                                float*, float*, float*);
    double (*pw_d[FL_PW_COUNT])(const double*, const double*, const double*, ptrdiff_t, double,
                                double*, double*, double*);
    const char* name;
} fl_simd_table;

static fl_simd_table fl_simd = {
    fl_max_f_base, fl_max_d_base, fl_expsum_f_base, fl_expsum_d_base,
    fl_exp_array_f_base, fl_exp_array_d_base, NULL, NULL, NULL, NULL, fl_any_nan_f_base, fl_any_nan_d_base, NULL, NULL, NULL, NULL, NULL, {NULL, NULL}, {NULL, NULL},
    "baseline"};

/* Pick the path (at module import): mode 0 detects the CPU, 1 forces the
 * baseline (SSE2) path, 2 the plain scalar C path (libm, no vector blocks;
 * for tests of the vector forms against the closed forms). */
static void fl_simd_init(int mode) {
    int force_baseline = mode != 0;
#ifdef FL_HAVE_SSE2
    fl_simd_table base = {
        fl_max_f_base, fl_max_d_base, fl_expsum_f_sse2, fl_expsum_d_sse2,
        fl_exp_array_f_sse2, fl_exp_array_d_sse2,
        fl_wbce_logit_f_sse2, fl_wbce_logit_d_sse2, NULL, NULL,
        fl_any_nan_f_base, fl_any_nan_d_base,
        fl_kl_log_f_sse2, fl_kl_log_d_sse2, fl_log_array_d_sse2,
        fl_hellinger_f_sse2, fl_hellinger_d_sse2,
        {fl_logcosh_f_sse2, fl_poisson_log_f_sse2},
        {fl_logcosh_d_sse2, fl_poisson_log_d_sse2}, "baseline"};
#else
    fl_simd_table base = {
        fl_max_f_base, fl_max_d_base, fl_expsum_f_base, fl_expsum_d_base,
        fl_exp_array_f_base, fl_exp_array_d_base, NULL, NULL, NULL, NULL, fl_any_nan_f_base, fl_any_nan_d_base, NULL, NULL, NULL, NULL, NULL, {NULL, NULL}, {NULL, NULL},
        "baseline"};
#endif
    fl_simd = base;
    if (mode == 2) {
        fl_simd_table scalar = {
            fl_max_f_base, fl_max_d_base, fl_expsum_f_base, fl_expsum_d_base,
            fl_exp_array_f_base, fl_exp_array_d_base, NULL, NULL, NULL, NULL,
            fl_any_nan_f_base, fl_any_nan_d_base, NULL, NULL, NULL, NULL, NULL,
            {NULL, NULL}, {NULL, NULL}, "scalar"};
        fl_simd = scalar;
        return;
    }
#if FL_X86
    if (!force_baseline) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            fl_simd_table avx = {
                fl_max_f_avx2, fl_max_d_avx2, fl_expsum_f_avx2, fl_expsum_d_avx2,
                fl_exp_array_f_avx2, fl_exp_array_d_avx2,
                fl_wbce_logit_f_avx2, fl_wbce_logit_d_avx2,
                fl_focal2_logit_f_avx2, fl_focal2_logit_d_avx2,
                fl_any_nan_f_avx2, fl_any_nan_d_avx2,
                fl_kl_log_f_avx2, fl_kl_log_d_avx2, fl_log_array_d_avx2,
                fl_hellinger_f_avx2, fl_hellinger_d_avx2,
                {fl_logcosh_f_avx2, fl_poisson_log_f_avx2},
                {fl_logcosh_d_avx2, fl_poisson_log_d_avx2}, "avx2+fma"};
            fl_simd = avx;
        }
    }
#else
    (void)force_baseline;
#endif
}

static inline float fl_max_f(const float* x, ptrdiff_t n) { return fl_simd.max_f(x, n); }
static inline double fl_max_d(const double* x, ptrdiff_t n) { return fl_simd.max_d(x, n); }
static inline double fl_expsum_f(const float* x, ptrdiff_t n, float m, float* out) {
    return fl_simd.expsum_f(x, n, m, out);
}
static inline double fl_expsum_d(const double* x, ptrdiff_t n, double m, double* out) {
    return fl_simd.expsum_d(x, n, m, out);
}
static inline const char* fl_simd_name(void) { return fl_simd.name; }
static inline int fl_has_wbce_logit(void) { return fl_simd.wbce_logit_f != NULL; }
static inline double fl_wbce_logit_f(const float* y, const float* x, const double* w,
                                     ptrdiff_t n, double pos, double neg, double smooth,
                                     double gscale, float* g, float* h, float* rows) {
    return fl_simd.wbce_logit_f(y, x, w, n, pos, neg, smooth, gscale, g, h, rows);
}
static inline double fl_wbce_logit_d(const double* y, const double* x, const double* w,
                                     ptrdiff_t n, double pos, double neg, double smooth,
                                     double gscale, double* g, double* h, double* rows) {
    return fl_simd.wbce_logit_d(y, x, w, n, pos, neg, smooth, gscale, g, h, rows);
}
static inline int fl_has_focal2(void) { return fl_simd.focal2_f != NULL; }
static inline double fl_focal2_f(const float* y, const float* x, const double* w, ptrdiff_t n,
                                 double pos, double neg, double gscale,
                                 float* g, float* h, float* rows) {
    return fl_simd.focal2_f(y, x, w, n, pos, neg, 0.0, gscale, g, h, rows);
}
static inline double fl_focal2_d(const double* y, const double* x, const double* w, ptrdiff_t n,
                                 double pos, double neg, double gscale,
                                 double* g, double* h, double* rows) {
    return fl_simd.focal2_d(y, x, w, n, pos, neg, 0.0, gscale, g, h, rows);
}
static inline int fl_has_pw(int kind) { return fl_simd.pw_f[kind] != NULL; }
static inline double fl_pw_f(int kind, const float* y, const float* x, const double* w,
                             ptrdiff_t n, double gscale, float* g, float* h, float* rows) {
    return fl_simd.pw_f[kind](y, x, w, n, gscale, g, h, rows);
}
static inline double fl_pw_d(int kind, const double* y, const double* x, const double* w,
                             ptrdiff_t n, double gscale, double* g, double* h, double* rows) {
    return fl_simd.pw_d[kind](y, x, w, n, gscale, g, h, rows);
}

#endif  /* FASTLOSS_FL_SIMD_H */
