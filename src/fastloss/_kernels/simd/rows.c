/* Row kernels (rows.pyx and the hinge label check of pointwise.pyx), written
 * once against vec.h; included by target.c, compiled once per target.
 *
 * f32 rows are computed in f32 lanes where the result is exact or one
 * transcendental function of the element (max, NaN test, exp(x - m));
 * the sums are accumulated in float64 lanes in a fixed order, so a row's
 * result depends only on the row and the target.
 *
 * Measured accuracy of the row losses (Xeon with AVX-512F; SSE2, AVX2 and
 * AVX-512 within 1 ulp of each other; float32 logits N(0, 16), 2e4 rows):
 * max |result - float64 reference| in ulp of max(|l|, 1) for the loss and
 * of the row's largest |g| for the gradient, float32 results:
 *   kernel                      loss    gradient
 *   sce_tile (rows of 10)       0.66    6.6   (the true class's e_y - S
 *   sce_tile (planes of 21)     3.5     4.4    loses digits as p_y -> 1,
 *   sce_row (rows of 1000)      0.51    0.55   as the row form's does)
 *   cce_row (100)               0.51    1.07
 *   focal_row (100, gamma 2)    0.52    1.12
 *   cos_row (100)               0.50    0.50
 *   hell_row (100)              0.25    1.08
 * (float64 results: <= 5 ulp of max(|l|, 1) for every loss.) */

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

/* Sparse softmax cross-entropy from logits over a tile of t samples, the
 * lanes running across samples (one sample per lane, its C classes walked
 * one after the other), so short rows and strided class axes take full
 * vectors.  Two layouts:
 *   contiguous = 0: sample u's class c at x[c S + u] (classes on an inner
 *     axis, S positions after it: (N, C, H, W) with S = H W), read plane by
 *     plane in sequential runs;
 *   contiguous = 1: rows of C (x[u C + c]), for short rows; copied into the
 *     tile by a scalar transpose (C values per row).
 * Every value is computed from the tile buf (C planes of t, in L1):
 *   pass 1  the tile and the running max of each sample (x > m ? x : m)
 *   pass 2  e_c = exp(x_c - m) in the array's type and lanes (f32: 16 lanes
 *           on AVX-512, 8 on AVX2), S = Σ_c e_c in float64 in class order
 *           (lane by lane: the order never depends on t, the target or the
 *           threads), log S in float64 lanes (vec.h fl_log_f64: <= 2.01 ulp;
 *           libm on the scalar target)
 *   scalar  per sample: l = (m - x_y) + log S (ignored label: 0; every logit
 *           -inf and none NaN: +inf), w l added to `total` in sample order
 *   pass 3  g_c = e_c * (gs / S rounded to the array's type), the true class
 *           (gs / S)(e_y - S) so it keeps its digits as p_y -> 1; ignored
 *           samples 0, fully masked ones -gs on the label (-onehot), written
 *           plane by plane (each output plane once, in sequence).
 * These are the formulas of rows.pyx's sce_logit_row, in the same order, so
 * loss(), gradient() and loss_gradient() give the same bits; measured max
 * error of the f32 exp here is vec.h's exp_nonpos (0.93 ulp AVX2/AVX-512,
 * 1.19 SSE2).  buf holds (C + 12) t values of the array's type.  nx / tn:
 * the next tile (planes only), prefetched plane by plane while this runs. */
#define FL_DEF_SCE_TILE(NAME, T, V, M, NL, EXP, H, WIDEN)                            \
static double NAME(const long long* labels, const T* x, const double* w, ptrdiff_t t,  \
                   ptrdiff_t C, ptrdiff_t S, int contiguous, double scale, T* g, T* h,  \
                   T* rows, const T* nx, ptrdiff_t tn, T* buf, double total) {          \
    T* tile = buf;                                                                  \
    T* mx = buf + C * t;                                                            \
    T* rf = mx + t;                                                                 \
    T* lab = rf + t;                                                                \
    T* gy = lab + t;                                                                \
    T* sp = gy + t;                                                                 \
    /* float64 scratch after the T arrays, rounded up to a double's alignment \
       (an odd t of float32 values would leave it 4-byte aligned) */            \
    const ptrdiff_t per_double = (ptrdiff_t)(sizeof(double) / sizeof(T));         \
    const ptrdiff_t used = (C + 5) * t;                                            \
    double* sums = (double*)(void*)(buf + (used + per_double - 1) / per_double * per_double); \
    double* logs = sums + t;                                                        \
    const V ninf = V##_set1((T)-INFINITY);                                          \
    ptrdiff_t c, u, j;                                                              \
    /* pass 1 */                                                                    \
    if (contiguous) {                                                               \
        for (u = 0; u < t; u++)                                                     \
            for (c = 0; c < C; c++) tile[c * t + u] = x[u * C + c];                 \
    }                                                                               \
    for (c = 0; c < C; c++) {                                                       \
        const T* xc = contiguous ? tile + c * t : x + c * S;                        \
        T* tc = tile + c * t;                                                       \
        for (u = 0; u < t; u += NL) {                                               \
            ptrdiff_t r = t - u < NL ? t - u : NL;                                  \
            V v = r == NL ? V##_load(xc + u) : V##_load_part(xc + u, r, (T)0);      \
            V m = c == 0 ? ninf : (r == NL ? V##_load(mx + u)                       \
                                           : V##_load_part(mx + u, r, (T)0));       \
            m = V##_max(v, m);                                                      \
            if (r == NL) {                                                          \
                if (!contiguous) V##_store(tc + u, v);                              \
                V##_store(mx + u, m);                                               \
            } else {                                                                \
                if (!contiguous) V##_store_part(tc + u, v, r);                      \
                V##_store_part(mx + u, m, r);                                       \
            }                                                                       \
        }                                                                           \
        if (nx != NULL)                                                             \
            for (u = 0; u < tn; u += 64 / (ptrdiff_t)sizeof(T))                     \
                __builtin_prefetch(nx + c * S + u);                                 \
    }                                                                               \
    for (u = 0; u < t; u++) {           /* x of the true class, before pass 2 */    \
        long long y = labels[u];                                                    \
        gy[u] = tile[(y > 0 ? (ptrdiff_t)y : 0) * t + u];                           \
    }                                                                               \
    /* pass 2 */                                                                    \
    for (u = 0; u < t; u += NL) {                                                   \
        ptrdiff_t r = t - u < NL ? t - u : NL;                                      \
        V m = r == NL ? V##_load(mx + u) : V##_load_part(mx + u, r, (T)0);          \
        vf64 s[H];                                                                  \
        for (j = 0; j < H; j++) s[j] = vf64_zero();                                 \
        for (c = 0; c < C; c++) {                                                   \
            T* tc = tile + c * t + u;                                               \
            V e = EXP(V##_sub(r == NL ? V##_load(tc) : V##_load_part(tc, r, (T)0), m)); \
            if (r == NL) V##_store(tc, e);                                          \
            else V##_store_part(tc, e, r);                                          \
            for (j = 0; j < H; j++) s[j] = vf64_add(s[j], WIDEN(e, j));             \
        }                                                                           \
        for (j = 0; j < H; j++) {                                                   \
            ptrdiff_t rj = r - j * FL_NF64;                                         \
            vf64 lg = fl_log_f64(s[j]);                                             \
            if (rj >= FL_NF64) {                                                    \
                vf64_store(sums + u + j * FL_NF64, s[j]);                           \
                vf64_store(logs + u + j * FL_NF64, lg);                             \
            } else if (rj > 0) {                                                    \
                vf64_store_part(sums + u + j * FL_NF64, s[j], rj);                  \
                vf64_store_part(logs + u + j * FL_NF64, lg, rj);                    \
            }                                                                       \
        }                                                                           \
    }                                                                               \
    /* per sample */                                                                \
    for (u = 0; u < t; u++) {                                                       \
        double wi = w == NULL ? 1.0 : w[u], gsb = scale * wi, v;                    \
        long long y = labels[u];                                                    \
        rf[u] = (T)(gsb / sums[u]);                                                 \
        if (y < 0) {                    /* ignored: loss 0, gradient 0 */           \
            v = 0.0;                                                                \
            sp[u] = 1; lab[u] = -1; gy[u] = 0;                                      \
        } else if (mx[u] == -INFINITY && fl_masked_##T(x, u, C, S, contiguous)) {   \
            v = INFINITY;               /* every class masked: p = 0 */             \
            sp[u] = 1; lab[u] = (T)y; gy[u] = (T)(-gsb);                            \
        } else {                                                                    \
            v = ((double)mx[u] - (double)gy[u]) + logs[u];                          \
            sp[u] = 0; lab[u] = (T)y;                                               \
            gy[u] = (T)((gsb / sums[u]) * ((double)tile[(ptrdiff_t)y * t + u] - sums[u])); \
        }                                                                           \
        if (wi == 0.0 && fabs(v) == INFINITY) v = 0.0;                              \
        else v = wi * v;                                                            \
        if (rows != NULL) rows[u] = (T)v;                                           \
        total += v;                                                                 \
    }                                                                               \
    if (g == NULL) return total;                                                    \
    if (h != NULL) {                                                                \
        for (c = 0; c < C; c++)                                                     \
            for (u = 0; u < t; u++) {                                               \
                double pj = tile[c * t + u] / sums[u];                              \
                double gsb = scale * (w == NULL ? 1.0 : w[u]);                      \
                h[contiguous ? u * C + c : c * S + u] =                             \
                    sp[u] != 0 ? (T)0 : (T)(gsb * pj * (1.0 - pj));                 \
            }                                                                       \
    }                                                                               \
    /* pass 3 */                                                                    \
    for (c = 0; c < C; c++) {                                                       \
        T* tc = tile + c * t;                                                       \
        T* gc = contiguous ? tc : g + c * S;                                        \
        const V cv = V##_set1((T)c), zero = V##_set1((T)0);                         \
        for (u = 0; u < t; u += NL) {                                               \
            ptrdiff_t r = t - u < NL ? t - u : NL;                                  \
            V e, f, l, q, sv;                                                       \
            if (r == NL) {                                                          \
                e = V##_load(tc + u); f = V##_load(rf + u); l = V##_load(lab + u);  \
                q = V##_load(gy + u); sv = V##_load(sp + u);                        \
            } else {                                                                \
                e = V##_load_part(tc + u, r, (T)0); f = V##_load_part(rf + u, r, (T)0); \
                l = V##_load_part(lab + u, r, (T)0); q = V##_load_part(gy + u, r, (T)0); \
                sv = V##_load_part(sp + u, r, (T)0);                                \
            }                                                                       \
            V gv = V##_select(V##_ne(sv, zero), zero, V##_mul(e, f));               \
            gv = V##_select(V##_eq(l, cv), q, gv);                                  \
            if (r == NL) V##_store(gc + u, gv);                                     \
            else V##_store_part(gc + u, gv, r);                                     \
        }                                                                           \
    }                                                                               \
    if (contiguous)                                                                 \
        for (u = 0; u < t; u++)                                                     \
            for (c = 0; c < C; c++) g[u * C + c] = tile[c * t + u];                 \
    return total;                                                                   \
}
/* every logit of sample u is -inf and none is NaN (its max is then -inf) */
#define FL_DEF_MASKED(T)                                                             \
FL_INLINE int fl_masked_##T(const T* x, ptrdiff_t u, ptrdiff_t C, ptrdiff_t S,       \
                            int contiguous) {                                       \
    for (ptrdiff_t c = 0; c < C; c++) {                                             \
        T v = contiguous ? x[u * C + c] : x[c * S + u];                             \
        if (v != v) return 0;                                                       \
    }                                                                               \
    return 1;                                                                       \
}
FL_DEF_MASKED(float)
FL_DEF_MASKED(double)
FL_INLINE vf64 fl_widen_f32(vf32 v, int j) { return vf32_widen(v, j); }
FL_INLINE vf64 fl_widen_f64(vf64 v, int j) { (void)j; return v; }
FL_DEF_SCE_TILE(fl_sce_tile_f, float, vf32, mf32, FL_NF32, fl_exp_nonpos_f32, FL_HALVES,
                fl_widen_f32)
FL_DEF_SCE_TILE(fl_sce_tile_d, double, vf64, mf64, FL_NF64, fl_exp_nonpos_f64, 1, fl_widen_f64)

/* Sparse softmax cross-entropy from logits, one contiguous row (long rows;
 * short ones go through the tile above): rows.pyx's sce_logit_row with its
 * last pass, g_j = e_j * (gs / S rounded to the array's type), at this
 * target's width; the same max, exp and sums (fl_max_*, fl_expsum_*), so
 * the same bits as that row function.  g NULL: the loss only; h not NULL:
 * the hessian diagonal gs p (1 - p) too. */
#define FL_DEF_SCE_ROW(NAME, T, V, NL, MAX, EXPSUM, ANYNAN)                          \
static double NAME(const T* y, const T* x, ptrdiff_t C, ptrdiff_t label, double gs,    \
                   T* g, T* h) {                                                    \
    (void)y;                                                                        \
    double m = MAX(x, C), S, r, ey;                                                 \
    ptrdiff_t j;                                                                    \
    if (m == -INFINITY && !ANYNAN(x, C)) {      /* p = 0: +inf, -onehot(y) */       \
        if (g != NULL) {                                                            \
            memset(g, 0, (size_t)C * sizeof(T));                                    \
            g[label] = (T)(-gs);                                                    \
            if (h != NULL) memset(h, 0, (size_t)C * sizeof(T));                     \
        }                                                                           \
        return INFINITY;                                                            \
    }                                                                               \
    if (g == NULL) {                                                                \
        S = EXPSUM(x, C, (T)m, NULL);                                               \
        return (m - x[label]) + log(S);                                             \
    }                                                                               \
    S = EXPSUM(x, C, (T)m, g);                                                      \
    ey = g[label];                                                                  \
    r = gs / S;                                                                     \
    if (h != NULL)                                                                  \
        for (j = 0; j < C; j++) {                                                   \
            double pj = g[j] / S;                                                   \
            h[j] = (T)(gs * pj * (1.0 - pj));                                       \
        }                                                                           \
    const V rv = V##_set1((T)r);                                                    \
    for (j = 0; j + NL <= C; j += NL) V##_store(g + j, V##_mul(V##_load(g + j), rv)); \
    if (j < C) V##_store_part(g + j, V##_mul(V##_load_part(g + j, C - j, (T)0), rv), C - j); \
    g[label] = (T)(r * (ey - S));                                                   \
    return (m - x[label]) + log(S);                                                 \
}
FL_DEF_SCE_ROW(fl_sce_row_f, float, vf32, FL_NF32, fl_max_f, fl_expsum_f, fl_any_nan_f)
FL_DEF_SCE_ROW(fl_sce_row_d, double, vf64, FL_NF64, fl_max_d, fl_expsum_d, fl_any_nan_d)

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
 * D = 0).  sqrt is correctly rounded on every target.  The square roots and
 * the division run once: the first pass stores q_j = (sqrt y_j - sqrt p_j) /
 * sqrt p_j in g (rounded to the array's type: float32 gradients carry at
 * most one more rounding than K q_j computed at once, measured <= 1 ulp),
 * the second multiplies by K = -gs / (2 sqrt 2 D) where x_j is inside. */
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
        if (g) {
            vf64 q = vf64_div(s, rp);
            if (r == FL_NF64) fl_st(g, i, q, F32);
            else fl_st_part(g, i, q, r, F32);
        }
    }
    double D = sqrt(vf64_hsum(acc));
    if (g) {
        if (D > 0.0 || D != D) {
            const vf64 K = vf64_set1(-gs / (D * 1.4142135623730951 * 2.0));
            for (i = 0; i < C; i += FL_NF64) {
                ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
                vf64 qv;
                if (r == FL_NF64) { xv = fl_ld(x, i, F32); qv = fl_ld(g, i, F32); }
                else { xv = fl_ld_part(x, i, r, 1.0, F32); qv = fl_ld_part(g, i, r, 0.0, F32); }
                mf64 in = mf64_and(vf64_nlt(xv, E), vf64_ngt(xv, one));
                vf64 gv = vf64_keep(in, vf64_mul(K, qv));
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

/* Softmax cross-entropy from logits with dense targets, one row (rows.pyx's
 * cce_logit_row): t_c = a_c (y_c (1 - s) + s / C) (a: class weights, or 1),
 * l = Σ_{t_c != 0} t_c ((m - x_c) + log S), g_c = gs (T p_c - t_c), h_c = gs
 * T p_c (1 - p_c), T = Σ t_c.  max and exp (f32 lanes for f32 rows, vec.h
 * exp_nonpos <= 1.19 ulp) as the sparse row; the target terms in float64
 * lanes (4 on AVX2, 8 on AVX-512), their sums in lane order. */
FL_INLINE double fl_cce_row(const void* y, const void* x, ptrdiff_t C, double smooth,
                            const double* cw, double gs, void* g, void* h, int F32) {
    const double m = F32 ? (double)fl_max_f((const float*)x, C) : fl_max_d((const double*)x, C);
    const vf64 A = vf64_set1(1.0 - smooth), B = vf64_set1(smooth / (double)C);
    const vf64 zero = vf64_zero();
    ptrdiff_t i;
    if (m == -INFINITY && !(F32 ? fl_any_nan_f((const float*)x, C)
                                : fl_any_nan_d((const double*)x, C))) {
        /* every p_c is 0: -t_c log p_c = +inf where t_c != 0, gradient -t_c */
        double v = 0.0;
        for (i = 0; i < C; i++) {
            double yc = F32 ? ((const float*)y)[i] : ((const double*)y)[i];
            double t = yc * (1.0 - smooth) + smooth / (double)C;
            if (cw) t = t * cw[i];
            if (t != 0.0) v += t * INFINITY;
            if (g) {
                if (F32) ((float*)g)[i] = (float)(-gs * t);
                else ((double*)g)[i] = -gs * t;
                if (h) {
                    if (F32) ((float*)h)[i] = 0.0f;
                    else ((double*)h)[i] = 0.0;
                }
            }
        }
        return v;
    }
    const double S = F32 ? fl_expsum_f((const float*)x, C, (float)m, (float*)g)
                         : fl_expsum_d((const double*)x, C, m, (double*)g);
    const vf64 M = vf64_set1(m), LS = vf64_set1(log(S));
    vf64 T = zero, V = zero, yv, xv, t;
    for (i = 0; i < C; i += FL_NF64) {
        ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
        if (r == FL_NF64) { yv = fl_ld(y, i, F32); xv = fl_ld(x, i, F32); }
        else { yv = fl_ld_part(y, i, r, 0.0, F32); xv = fl_ld_part(x, i, r, 0.0, F32); }
        t = vf64_add(vf64_mul(yv, A), B);
        if (cw) t = vf64_mul(t, r == FL_NF64 ? vf64_load(cw + i) : vf64_load_part(cw + i, r, 0.0));
        if (r < FL_NF64) t = vf64_keep(fl_first64(r), t);
        T = vf64_add(T, t);
        /* 0 log 0 = 0, even for a -inf logit (t 0 times inf) */
        V = vf64_add(V, vf64_keep(vf64_ne(t, zero), vf64_mul(t, vf64_add(vf64_sub(M, xv), LS))));
    }
    double v = vf64_hsum(V);
    if (S != S) v = S;        /* a NaN logit: NaN even where every t_c is 0 */
    if (g) {
        const double Tsum = vf64_hsum(T);
        const vf64 invS = vf64_set1(1.0 / S), TT = vf64_set1(Tsum), G = vf64_set1(gs);
        const vf64 GT = vf64_set1(gs * Tsum);
        for (i = 0; i < C; i += FL_NF64) {
            ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
            vf64 ev;
            if (r == FL_NF64) { yv = fl_ld(y, i, F32); ev = fl_ld(g, i, F32); }
            else { yv = fl_ld_part(y, i, r, 0.0, F32); ev = fl_ld_part(g, i, r, 0.0, F32); }
            t = vf64_add(vf64_mul(yv, A), B);
            if (cw) t = vf64_mul(t, r == FL_NF64 ? vf64_load(cw + i) : vf64_load_part(cw + i, r, 0.0));
            vf64 pj = vf64_mul(ev, invS);
            if (h) {
                vf64 hv = vf64_mul(vf64_mul(GT, pj), vf64_sub(vf64_set1(1.0), pj));
                if (r == FL_NF64) fl_st(h, i, hv, F32);
                else fl_st_part(h, i, hv, r, F32);
            }
            vf64 gv = vf64_mul(G, vf64_sub(vf64_mul(TT, pj), t));
            if (r == FL_NF64) fl_st(g, i, gv, F32);
            else fl_st_part(g, i, gv, r, F32);
        }
    }
    return v;
}
static double fl_cce_f(const float* y, const float* x, ptrdiff_t C, double smooth,
                       const double* cw, double gs, float* g, float* h) {
    return fl_cce_row(y, x, C, smooth, cw, gs, g, h, 1);
}
static double fl_cce_d(const double* y, const double* x, ptrdiff_t C, double smooth,
                       const double* cw, double gs, double* g, double* h) {
    return fl_cce_row(y, x, C, smooth, cw, gs, g, h, 0);
}

/* Cosine loss of one row (rows.pyx's cosine_row): 1 - <y, f> / (max(|y|,
 * 1e-12) max(|f|, 1e-12)), g = gs (d f - y / (a B)) with d = c / |f|^2
 * (0 where the clamp of |f| is active).  The three sums in float64 lanes. */
FL_INLINE double fl_cos_row(const void* y, const void* x, ptrdiff_t C, double gs, void* g,
                            int F32) {
    vf64 yy = vf64_zero(), ff = vf64_zero(), yf = vf64_zero(), yv, xv;
    ptrdiff_t i;
    for (i = 0; i < C; i += FL_NF64) {
        ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
        if (r == FL_NF64) { yv = fl_ld(y, i, F32); xv = fl_ld(x, i, F32); }
        else { yv = fl_ld_part(y, i, r, 0.0, F32); xv = fl_ld_part(x, i, r, 0.0, F32); }
        yy = vf64_fma(yv, yv, yy);
        ff = vf64_fma(xv, xv, ff);
        yf = vf64_fma(yv, xv, yf);
    }
    double syy = vf64_hsum(yy), sff = vf64_hsum(ff), syf = vf64_hsum(yf);
    double a = sqrt(syy), b = sqrt(sff), Bc, c;
    if (a < 1e-12) a = 1e-12;
    Bc = b > 1e-12 ? b : 1e-12;
    c = syf / (a * Bc);
    if (g) {
        const vf64 D = vf64_set1(b > 1e-12 ? c / sff : 0.0), AB = vf64_set1(a * Bc);
        const vf64 G = vf64_set1(gs);
        for (i = 0; i < C; i += FL_NF64) {
            ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
            if (r == FL_NF64) { yv = fl_ld(y, i, F32); xv = fl_ld(x, i, F32); }
            else { yv = fl_ld_part(y, i, r, 0.0, F32); xv = fl_ld_part(x, i, r, 0.0, F32); }
            vf64 gv = vf64_mul(G, vf64_sub(vf64_mul(D, xv), vf64_div(yv, AB)));
            if (r == FL_NF64) fl_st(g, i, gv, F32);
            else fl_st_part(g, i, gv, r, F32);
        }
    }
    return 1.0 - c;
}
/* (1 - p)^gamma for q = 1 - p in [0, 1]: the scalar closed form's exact
 * cases (gamma 0, 1, 2, 3: products), else exp(gamma log q) (vec.h log
 * <= 2.01 ulp, exp <= 1.14 ulp; q = 0 gives exp(-inf) = 0) */
FL_INLINE vf64 fl_pow_gamma_f64(vf64 q, double gamma) {
    if (gamma == 2.0) return vf64_mul(q, q);
    if (gamma == 1.0) return q;
    if (gamma == 0.0) return vf64_set1(1.0);
    if (gamma == 3.0) return vf64_mul(vf64_mul(q, q), q);
    return fl_exp_f64(vf64_mul(vf64_set1(gamma), fl_log_f64(q)));
}

/* k_c = u [(1-p)^γ - γ (1-p)^(γ-1) p L] (the second term 0 where q, γ or p
 * is 0), and u (1-p)^γ in *ug for the loss */
FL_INLINE vf64 fl_focal_k(vf64 u, vf64 pc, vf64 qc, vf64 L, double gamma, vf64* ug) {
    const vf64 zero = vf64_zero();
    vf64 qg = fl_pow_gamma_f64(qc, gamma);
    *ug = vf64_mul(u, qg);
    if (gamma == 0.0) return *ug;
    mf64 full = mf64_and(vf64_gt(qc, zero), vf64_ne(pc, zero));
    vf64 sec = vf64_mul(vf64_mul(vf64_mul(vf64_set1(gamma),
                                          vf64_div(qg, vf64_select(full, qc, vf64_set1(1.0)))),
                                 pc), L);
    return vf64_mul(u, vf64_sub(qg, vf64_keep(full, sec)));
}

/* Categorical focal loss from logits, one row (rows.pyx's cfocal_logit_row,
 * which calls this with its e row g): l = -Σ_c u_c (1-p_c)^γ L_c, u_c =
 * α_c y_c, L_c = (x_c - m) - log S; dl/dx_j = p_j Σ_c k_c - k_j.  The exp in
 * the array's lanes (f32: 16 per AVX-512 vector, 8 per AVX2; exp_nonpos
 * <= 1.19 ulp), the focal terms in float64 lanes with their sums in lane
 * order.  g must not be NULL (it receives e_j, then the gradient when
 * `grad`); returns the loss. */
FL_INLINE double fl_focal_row(const void* y, const void* x, ptrdiff_t C, double gamma,
                              const double* alpha, double gs, void* g, int grad, int F32) {
    const double m = F32 ? (double)fl_max_f((const float*)x, C) : fl_max_d((const double*)x, C);
    const vf64 zero = vf64_zero();
    ptrdiff_t i;
    if (m == -INFINITY && !(F32 ? fl_any_nan_f((const float*)x, C)
                                : fl_any_nan_d((const double*)x, C))) {
        double v = 0.0;               /* every p_c is 0: +inf where u_c != 0, k_c = u_c */
        for (i = 0; i < C; i++) {
            double u = alpha[i] * (F32 ? ((const float*)y)[i] : ((const double*)y)[i]);
            if (u != 0.0) v += u * INFINITY;
            if (grad) {
                if (F32) ((float*)g)[i] = (float)(-gs * u);
                else ((double*)g)[i] = -gs * u;
            }
        }
        return v;
    }
    const double S = F32 ? fl_expsum_f((const float*)x, C, (float)m, (float*)g)
                         : fl_expsum_d((const double*)x, C, m, (double*)g);
    const vf64 Sv = vf64_set1(S), invS = vf64_set1(1.0 / S), M = vf64_set1(m),
               LS = vf64_set1(log(S));
    vf64 V = zero, Kv = zero, yv, xv, ev, av, ug;
    for (i = 0; i < C; i += FL_NF64) {
        ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
        if (r == FL_NF64) {
            yv = fl_ld(y, i, F32); xv = fl_ld(x, i, F32); ev = fl_ld(g, i, F32);
            av = vf64_load(alpha + i);
        } else {
            yv = fl_ld_part(y, i, r, 0.0, F32); xv = fl_ld_part(x, i, r, 0.0, F32);
            ev = fl_ld_part(g, i, r, 0.0, F32); av = vf64_load_part(alpha + i, r, 0.0);
        }
        vf64 u = vf64_mul(av, yv);
        mf64 nz = vf64_ne(u, zero);
        /* one-hot targets: most vectors have no target class, and add 0 */
        if (!mf64_any(nz)) continue;
        vf64 pc = vf64_mul(ev, invS), qc = vf64_mul(vf64_sub(Sv, ev), invS);
        vf64 L = vf64_sub(vf64_sub(xv, M), LS);
        vf64 k = fl_focal_k(u, pc, qc, L, gamma, &ug);
        V = vf64_sub(V, vf64_keep(nz, vf64_mul(ug, L)));
        Kv = vf64_add(Kv, vf64_keep(nz, k));
    }
    double v = vf64_hsum(V);
    if (S != S) v = S;        /* a NaN logit: NaN even where every u_c is 0 */
    if (grad) {
        const vf64 K = vf64_set1(vf64_hsum(Kv)), G = vf64_set1(gs);
        for (i = 0; i < C; i += FL_NF64) {
            ptrdiff_t r = C - i < FL_NF64 ? C - i : FL_NF64;
            if (r == FL_NF64) {
                yv = fl_ld(y, i, F32); xv = fl_ld(x, i, F32); ev = fl_ld(g, i, F32);
                av = vf64_load(alpha + i);
            } else {
                yv = fl_ld_part(y, i, r, 0.0, F32); xv = fl_ld_part(x, i, r, 0.0, F32);
                ev = fl_ld_part(g, i, r, 0.0, F32); av = vf64_load_part(alpha + i, r, 0.0);
            }
            vf64 u = vf64_mul(av, yv);
            mf64 nz = vf64_ne(u, zero);
            vf64 pc = vf64_mul(ev, invS), gv;
            if (mf64_any(nz)) {
                vf64 qc = vf64_mul(vf64_sub(Sv, ev), invS);
                vf64 L = vf64_sub(vf64_sub(xv, M), LS);
                vf64 k = vf64_keep(nz, fl_focal_k(u, pc, qc, L, gamma, &ug));
                gv = vf64_mul(G, vf64_sub(vf64_mul(pc, K), k));
            } else {
                gv = vf64_mul(G, vf64_mul(pc, K));     /* k = 0: the same product */
            }
            if (r == FL_NF64) fl_st(g, i, gv, F32);
            else fl_st_part(g, i, gv, r, F32);
        }
    }
    return v;
}
static double fl_focal_f(const float* y, const float* x, ptrdiff_t C, double gamma,
                         const double* alpha, double gs, float* g, int grad) {
    return fl_focal_row(y, x, C, gamma, alpha, gs, g, grad, 1);
}
static double fl_focal_d(const double* y, const double* x, ptrdiff_t C, double gamma,
                         const double* alpha, double gs, double* g, int grad) {
    return fl_focal_row(y, x, C, gamma, alpha, gs, g, grad, 0);
}

static double fl_cos_f(const float* y, const float* x, ptrdiff_t C, double gs, float* g) {
    return fl_cos_row(y, x, C, gs, g, 1);
}
static double fl_cos_d(const double* y, const double* x, ptrdiff_t C, double gs, double* g) {
    return fl_cos_row(y, x, C, gs, g, 0);
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
