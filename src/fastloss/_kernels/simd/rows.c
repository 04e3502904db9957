/* Row kernels (rows.pyx and the hinge label check of pointwise.pyx), written
 * once against vec.h; included by target.c, compiled once per target.
 *
 * f32 rows are computed in f32 lanes where the result is exact or one
 * transcendental function of the element (max, NaN test, exp(x - m));
 * the sums are accumulated in float64 lanes in a fixed order, so a row's
 * result depends only on the row and the target. */

/* lanes j < r set */
static const float fl_iota32[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const double fl_iota64[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
FL_INLINE mf32 fl_first32(ptrdiff_t r) { return vf32_lt(vf32_load(fl_iota32), vf32_set1((float)r)); }
FL_INLINE mf64 fl_first64(ptrdiff_t r) { return vf64_lt(vf64_load(fl_iota64), vf64_set1((double)r)); }

/* max of a row (NaN handling as a running x > m ? x : m per lane) */
#define FL_DEF_MAX(NAME, T, V, NL)                                                   \
static T NAME(const T* x, ptrdiff_t n) {                                            \
    ptrdiff_t i = 0;                                                                \
    T m = -INFINITY;                                                                \
    if (n >= 2 * NL) {                                                              \
        V a = V##_load(x), b = V##_load(x + NL);                                    \
        for (i = 2 * NL; i + 2 * NL <= n; i += 2 * NL) {                            \
            a = V##_max(a, V##_load(x + i));                                        \
            b = V##_max(b, V##_load(x + i + NL));                                   \
        }                                                                           \
        m = (T)V##_hmax(V##_max(a, b));                                             \
    }                                                                               \
    for (; i < n; i++) m = x[i] > m ? x[i] : m;                                     \
    return m;                                                                       \
}
FL_DEF_MAX(fl_max_f, float, vf32, FL_NF32)
FL_DEF_MAX(fl_max_d, double, vf64, FL_NF64)

/* 1 when some x[i] is NaN */
#define FL_DEF_ANY_NAN(NAME, T, V, M, NL)                                            \
static int NAME(const T* x, ptrdiff_t n) {                                          \
    M acc = M##_none();                                                             \
    ptrdiff_t i = 0;                                                                \
    for (; i + NL <= n; i += NL) {                                                  \
        V v = V##_load(x + i);                                                      \
        acc = M##_or(acc, V##_unord(v, v));                                         \
    }                                                                               \
    int r = M##_any(acc);                                                           \
    for (; i < n; i++) r |= x[i] != x[i];                                           \
    return r;                                                                       \
}
FL_DEF_ANY_NAN(fl_any_nan_f, float, vf32, mf32, FL_NF32)
FL_DEF_ANY_NAN(fl_any_nan_d, double, vf64, mf64, FL_NF64)

/* hinge label sets in one pass (NaN is in neither set) */
#define FL_DEF_LABELS(NAME, T, V, M, NL)                                             \
static int NAME(const T* y, ptrdiff_t n) {                                          \
    const V one = V##_set1((T)1), mone = V##_set1((T)-1), zero = V##_set1((T)0);    \
    M apm = M##_none(), a01 = M##_none();                                           \
    ptrdiff_t i = 0;                                                                \
    int bad = 0;                                                                    \
    for (; i + NL <= n; i += NL) {                                                  \
        V v = V##_load(y + i);                                                      \
        M ne1 = V##_ne(v, one);                                                     \
        apm = M##_or(apm, M##_and(ne1, V##_ne(v, mone)));                           \
        a01 = M##_or(a01, M##_and(ne1, V##_ne(v, zero)));                           \
    }                                                                               \
    if (M##_any(apm)) bad |= 1;                                                     \
    if (M##_any(a01)) bad |= 2;                                                     \
    for (; i < n; i++) {                                                            \
        T v = y[i];                                                                 \
        if (!(v == (T)1 || v == (T)-1)) bad |= 1;                                   \
        if (!(v == (T)1 || v == (T)0)) bad |= 2;                                    \
    }                                                                               \
    return bad;                                                                     \
}
FL_DEF_LABELS(fl_hinge_labels_f, float, vf32, mf32, FL_NF32)
FL_DEF_LABELS(fl_hinge_labels_d, double, vf64, mf64, FL_NF64)

/* Σ exp(x_i - m): f32 rows in f32 lanes (exp in f32), sums in f64 lanes,
 * one accumulator per half vector (short add chains).  The tail lanes past
 * n are -inf (exp = 0). */
FL_INLINE void fl_acc_f32(vf64* s, vf32 e) {
    s[0] = vf64_add(s[0], vf32_widen(e, 0));
    if (FL_HALVES > 1) s[1] = vf64_add(s[1], vf32_widen(e, 1));
}
FL_INLINE void fl_acc_f64(vf64* s, vf64 e) { s[0] = vf64_add(s[0], e); }

#define FL_DEF_EXPSUM(NAME, T, V, NL, EXP, ACC, FIRST)                               \
static double NAME(const T* x, ptrdiff_t n, T m, T* out) {                          \
    const V M = V##_set1(m);                                                        \
    vf64 s[4] = {vf64_zero(), vf64_zero(), vf64_zero(), vf64_zero()};               \
    ptrdiff_t i = 0;                                                                \
    for (; i + 2 * NL <= n; i += 2 * NL) {                                          \
        V e0 = EXP(V##_sub(V##_load(x + i), M));                                    \
        V e1 = EXP(V##_sub(V##_load(x + i + NL), M));                               \
        if (out) {                                                                  \
            V##_store(out + i, e0);                                                 \
            V##_store(out + i + NL, e1);                                            \
        }                                                                           \
        ACC(s, e0);                                                                 \
        ACC(s + 2, e1);                                                             \
    }                                                                               \
    for (; i + NL <= n; i += NL) {                                                  \
        V e = EXP(V##_sub(V##_load(x + i), M));                                     \
        if (out) V##_store(out + i, e);                                             \
        ACC(s, e);                                                                  \
    }                                                                               \
    if (i < n) {                                                                    \
        ptrdiff_t r = n - i < NL ? n - i : NL;                                      \
        V d = V##_sub(V##_load_part(x + i, r, (T)0), M);                            \
        V e = EXP(V##_select(FIRST(r), d, V##_set1((T)-INFINITY)));                 \
        if (out) V##_store_part(out + i, e, r);                                     \
        ACC(s, e);                                                                  \
    }                                                                               \
    return vf64_hsum(vf64_add(vf64_add(s[0], s[1]), vf64_add(s[2], s[3])));         \
}
FL_DEF_EXPSUM(fl_expsum_f, float, vf32, FL_NF32, fl_exp_nonpos_f32, fl_acc_f32, fl_first32)
FL_DEF_EXPSUM(fl_expsum_d, double, vf64, FL_NF64, fl_exp_nonpos_f64, fl_acc_f64, fl_first64)

/* float64 lanes over float32 or float64 data (F32 a compile-time constant
 * after inlining) */
FL_INLINE vf64 fl_ld(const void* p, ptrdiff_t i, int F32) {
    return F32 ? vf64_load_f32((const float*)p + i) : vf64_load((const double*)p + i);
}
FL_INLINE vf64 fl_ld_part(const void* p, ptrdiff_t i, ptrdiff_t r, double fill, int F32) {
    return F32 ? vf64_load_f32_part((const float*)p + i, r, (float)fill)
               : vf64_load_part((const double*)p + i, r, fill);
}
FL_INLINE void fl_st(void* p, ptrdiff_t i, vf64 v, int F32) {
    if (F32) vf64_store_f32((float*)p + i, v);
    else vf64_store((double*)p + i, v);
}
FL_INLINE void fl_st_part(void* p, ptrdiff_t i, vf64 v, ptrdiff_t r, int F32) {
    if (F32) vf64_store_f32_part((float*)p + i, v, r);
    else vf64_store_part((double*)p + i, v, r);
}

#if !defined(FL_TARGET_SCALAR)
/* KL divergence with log-probability input, one row: Σ_j y_j (log y_j - x_j)
 * over y_j != 0 and g_j = -gs y_j (g not NULL).  float64 lanes. */
FL_INLINE double fl_kl_log_row(const void* y, const void* x, ptrdiff_t C, double gs,
                               void* g, int F32) {
    const vf64 one = vf64_set1(1.0), zero = vf64_zero(), G = vf64_set1(-gs);
    vf64 acc = zero, yv, xv;
    mf64 nanx = mf64_none();
    for (ptrdiff_t i = 0; i < C; i += FL_NF64) {
        ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
        if (r == FL_NF64) { yv = fl_ld(y, i, F32); xv = fl_ld(x, i, F32); }
        else { yv = fl_ld_part(y, i, r, 0.0, F32); xv = fl_ld_part(x, i, r, 0.0, F32); }
        mf64 nz = vf64_ne(yv, zero);
        vf64 ly = fl_log_f64(vf64_select(nz, yv, one));
        /* y_j = 0: term 0 (x_j = -inf included), but a NaN x_j makes the
         * row NaN (noted here, applied once at the end) */
        acc = vf64_add(acc, vf64_keep(nz, vf64_mul(yv, vf64_sub(ly, xv))));
        nanx = mf64_or(nanx, vf64_unord(xv, xv));
        if (g) {
            vf64 gv = vf64_mul(G, yv);
            if (r == FL_NF64) fl_st(g, i, gv, F32);
            else fl_st_part(g, i, gv, r, F32);
        }
    }
    if (__builtin_expect(mf64_any(nanx), 0)) return NAN;
    return vf64_hsum(acc);
}
static double fl_kl_log_f(const float* y, const float* x, ptrdiff_t C, double gs, float* g) {
    return fl_kl_log_row(y, x, C, gs, g, 1);
}
static double fl_kl_log_d(const double* y, const double* x, ptrdiff_t C, double gs, double* g) {
    return fl_kl_log_row(y, x, C, gs, g, 0);
}

/* Hellinger distance of one row: D = |sqrt(y) - sqrt(p)|_2, p = clip(x, eps,
 * 1); returns D / sqrt 2 and g_j = -gs (sqrt y_j - sqrt p_j) / (2 sqrt 2 D
 * sqrt p_j) where x_j is inside the clip (0 elsewhere, 0 everywhere when
 * D = 0).  sqrt is correctly rounded on every target. */
FL_INLINE double fl_hell_row(const void* y, const void* x, ptrdiff_t C, double eps, double gs,
                             void* g, int F32) {
    const vf64 E = vf64_set1(eps), one = vf64_set1(1.0);
    vf64 acc = vf64_zero(), s, rp, yv, xv;
    ptrdiff_t i;
    for (i = 0; i < C; i += FL_NF64) {
        ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
        if (r == FL_NF64) { yv = fl_ld(y, i, F32); xv = fl_ld(x, i, F32); }
        else { yv = fl_ld_part(y, i, r, 1.0, F32); xv = fl_ld_part(x, i, r, 1.0, F32); }
        rp = vf64_sqrt(vf64_min(one, vf64_max(E, xv)));
        s = vf64_sub(vf64_sqrt(yv), rp);
        acc = vf64_fma(s, s, acc);
    }
    double D = sqrt(vf64_hsum(acc));
    if (g) {
        if (D > 0.0 || D != D) {
            const vf64 K = vf64_set1(-gs / (D * 1.4142135623730951 * 2.0));
            for (i = 0; i < C; i += FL_NF64) {
                ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
                if (r == FL_NF64) { yv = fl_ld(y, i, F32); xv = fl_ld(x, i, F32); }
                else { yv = fl_ld_part(y, i, r, 1.0, F32); xv = fl_ld_part(x, i, r, 1.0, F32); }
                mf64 in = mf64_and(vf64_nlt(xv, E), vf64_ngt(xv, one));
                rp = vf64_sqrt(vf64_min(one, vf64_max(E, xv)));
                s = vf64_sub(vf64_sqrt(yv), rp);
                vf64 gv = vf64_keep(in, vf64_div(vf64_mul(K, s), rp));
                if (r == FL_NF64) fl_st(g, i, gv, F32);
                else fl_st_part(g, i, gv, r, F32);
            }
        } else if (F32) {
            memset(g, 0, (size_t)C * sizeof(float));
        } else {
            memset(g, 0, (size_t)C * sizeof(double));
        }
    }
    return D / 1.4142135623730951;
}
static double fl_hell_f(const float* y, const float* x, ptrdiff_t C, double eps, double gs,
                        float* g) {
    return fl_hell_row(y, x, C, eps, gs, g, 1);
}
static double fl_hell_d(const double* y, const double* x, ptrdiff_t C, double eps, double gs,
                        double* g) {
    return fl_hell_row(y, x, C, eps, gs, g, 0);
}
#endif

/* out[i] = f(x[i]) through this target's vector function (accuracy tests) */
#define FL_DEF_MATH(NAME, T, V, NL, EXPR)                                            \
static void NAME(const T* x, ptrdiff_t n, T* out) {                                 \
    for (ptrdiff_t i = 0; i < n; i += NL) {                                         \
        ptrdiff_t r = n - i < NL ? n - i : NL;                                      \
        V v = r == NL ? V##_load(x + i) : V##_load_part(x + i, r, (T)0);            \
        V res = EXPR;                                                               \
        if (r == NL) V##_store(out + i, res);                                       \
        else V##_store_part(out + i, res, r);                                       \
    }                                                                               \
}
FL_INLINE vf32 fl_log1p_of_f32(vf32 z) {
    vf32 u = vf32_add(vf32_set1(1.0f), z);
    return fl_log1p_unit_f32(z, u, vf32_div(vf32_set1(1.0f), u));
}
FL_INLINE vf64 fl_log1p_of_f64(vf64 z) {
    vf64 u = vf64_add(vf64_set1(1.0), z);
    return fl_log1p_unit_f64(z, u, vf64_div(vf64_set1(1.0), u));
}
FL_INLINE vf64 fl_expm1_of_f64(vf64 x) {
    vf64 e;
    return fl_expm1_nonpos_f64(x, &e);
}
FL_DEF_MATH(fl_math_exp_nonpos_f, float, vf32, FL_NF32, fl_exp_nonpos_f32(v))
FL_DEF_MATH(fl_math_log1p_unit_f, float, vf32, FL_NF32, fl_log1p_of_f32(v))
FL_DEF_MATH(fl_math_exp_nonpos_d, double, vf64, FL_NF64, fl_exp_nonpos_f64(v))
FL_DEF_MATH(fl_math_exp_d, double, vf64, FL_NF64, fl_exp_f64(v))
FL_DEF_MATH(fl_math_log_d, double, vf64, FL_NF64, fl_log_f64(v))
FL_DEF_MATH(fl_math_log1p_unit_d, double, vf64, FL_NF64, fl_log1p_of_f64(v))
FL_DEF_MATH(fl_math_expm1_nonpos_d, double, vf64, FL_NF64, fl_expm1_of_f64(v))
