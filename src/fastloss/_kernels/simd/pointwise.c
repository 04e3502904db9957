/* Elementwise loss blocks (pointwise.pyx `_vector_block`), written once
 * against vec.h; included by target.c, compiled once per vector target (the
 * scalar target has none: its path is pointwise.pyx's closed forms).
 *
 * Each loss is an element form in float64 lanes (the scalar closed form of
 * the same loss); one driver walks a block for every loss and both dtypes.
 * float32 data of the binary losses from logits (BCE, focal gamma = 2) is
 * computed in float32 lanes, twice as many per vector, wherever a whole
 * vector's labels are exactly 0 or 1 and there is no label smoothing: then
 * every term is a product of non-negative factors (no cancellation), so the
 * float32 transcendental functions (<= 2 ulp, vec.h) keep the float32 result
 * within a few ulp; vectors with soft labels take the float64 form.  Weights
 * and scales are applied in float64, and block sums are float64. */
#if !defined(FL_TARGET_SCALAR)

/* the block's parameters as lanes, and pos as a scalar (Tweedie's power,
 * which selects a form per call) */
typedef struct { vf64 pos, neg, smooth; double pos_d; } fl_bin64;

/* The logistic pieces of a logit x in lanes V (vf32 / vf64, masks M), from
 * one exp and one division: pr = sigmoid(x), cp = sigmoid(-x) (each without
 * cancellation), spp = softplus(x), spn = softplus(-x). */
#define FL_LOGISTIC(V, M, EXP, LOG1P, x, pr, cp, spp, spn)                           \
    do {                                                                            \
        const V one_ = V##_set1(1.0f), zero_ = V##_zero();                          \
        V z_ = EXP(V##_negabs(x));                                                  \
        V u_ = V##_add(one_, z_), d_ = V##_div(one_, u_);                           \
        V l1_ = LOG1P(z_, u_, d_);                                                  \
        M xpos_ = V##_ge(x, zero_);                                                 \
        V zd_ = V##_mul(z_, d_);                                                    \
        pr = V##_select(xpos_, d_, zd_);                                            \
        cp = V##_select(xpos_, zd_, d_);                                            \
        spp = V##_add(V##_max(x, zero_), l1_);                                      \
        spn = V##_add(V##_max(V##_sub(zero_, x), zero_), l1_);                      \
    } while (0)
#define FL_LOGISTIC64(x, pr, cp, spp, spn) \
    FL_LOGISTIC(vf64, mf64, fl_exp_nonpos_f64, fl_log1p_unit_f64, x, pr, cp, spp, spn)

/* BCE from logits: derivatives unscaled */
/* `masked` (a constant after inlining): the fix-ups for infinities (a term
 * of target weight 0 is 0 where its softplus is +inf, at x = ±inf), which
 * change no bit of an element with a finite loss; a block runs without them
 * first and reruns with them only when its total is NaN (fl_pw_entry). */
FL_INLINE vf64 fl_bce64(vf64 y, vf64 x, const fl_bin64* P, vf64* g, vf64* h, int masked) {
    const vf64 one = vf64_set1(1.0), zero = vf64_zero();
    vf64 ys = vf64_fma(y, vf64_sub(one, P->smooth), vf64_mul(P->smooth, vf64_set1(0.5)));
    vf64 ay = vf64_mul(P->pos, ys), by = vf64_mul(P->neg, vf64_sub(one, ys));
    vf64 pr, cp, spp, spn;
    FL_LOGISTIC64(x, pr, cp, spp, spn);
    /* a term of target weight 0 is 0, also where its softplus is +inf
     * (x = ±inf), not 0 inf = NaN */
    if (masked) {
        spn = vf64_keep(vf64_ne(ay, zero), spn);
        spp = vf64_keep(vf64_ne(by, zero), spp);
    }
    *g = vf64_sub(vf64_mul(by, pr), vf64_mul(ay, cp));
    *h = vf64_mul(vf64_add(ay, by), vf64_mul(pr, cp));
    vf64 v = vf64_fma(ay, spn, vf64_mul(by, spp));
    return vf64_select(vf64_unord(x, x), x, v);         /* max() dropped a NaN */
}

/* focal, gamma = 2, of one side: p = sigmoid(t), q = sigmoid(-t), s =
 * softplus(-t): F = q^2 s, F' = -2 p q^2 s - q^3, F'' = 2 p q^2 s (2p - q)
 * + 5 p q^3; at t = ±inf p = 0 and s = inf, and p s (-> 0) is taken as 0 */
#define FL_FOCAL2_SIDE(V, p, q, s, d1, d2, F)                                       \
    do {                                                                            \
        V qg_ = V##_mul(q, q);                                                      \
        V sm_ = V##_keep(V##_ne(p, V##_zero()), s);                                 \
        V pqs_ = V##_mul(V##_mul(p, qg_), sm_);                                     \
        V q3_ = V##_mul(qg_, q);                                                    \
        d1 = V##_sub(V##_mul(V##_set1(-2.0), pqs_), q3_);                           \
        d2 = V##_add(V##_mul(V##_mul(V##_set1(2.0), pqs_),                          \
                             V##_sub(V##_mul(V##_set1(2.0), p), q)),                \
                     V##_mul(V##_mul(V##_set1(5.0), p), q3_));                      \
        F = V##_mul(qg_, s);                                                        \
    } while (0)

FL_INLINE vf64 fl_focal2_64(vf64 y, vf64 x, const fl_bin64* P, vf64* g, vf64* h, int masked) {
    const vf64 one = vf64_set1(1.0), zero = vf64_zero();
    vf64 ay = vf64_mul(P->pos, y), by = vf64_mul(P->neg, vf64_sub(one, y));
    vf64 pr, cp, spp, spn;
    FL_LOGISTIC64(x, pr, cp, spp, spn);
    vf64 d1p, d2p, d1n, d2n, fp, fn;
    FL_FOCAL2_SIDE(vf64, pr, cp, spn, d1p, d2p, fp);
    FL_FOCAL2_SIDE(vf64, cp, pr, spp, d1n, d2n, fn);
    if (masked) {                              /* weight 0: term 0, also if F = inf */
        fp = vf64_keep(vf64_ne(ay, zero), fp);
        fn = vf64_keep(vf64_ne(by, zero), fn);
    }
    *g = vf64_sub(vf64_mul(ay, d1p), vf64_mul(by, d1n));
    *h = vf64_add(vf64_mul(ay, d2p), vf64_mul(by, d2n));
    vf64 v = vf64_add(vf64_mul(ay, fp), vf64_mul(by, fn));
    return vf64_select(vf64_unord(x, x), x, v);
}

/* log cosh(e), e = x - y: |e| + log1p(z) - ln 2, z = exp(-2|e|);
 * g = sign(e) (-expm1(-2|e|)) / (1 + z) (accurate for tiny e), h = 4 z / (1 + z)^2 */
FL_INLINE vf64 fl_logcosh64(vf64 y, vf64 x, vf64* g, vf64* h) {
    const vf64 one = vf64_set1(1.0);
    vf64 e = vf64_sub(x, y), a = vf64_abs(e), z;
    vf64 em = fl_expm1_nonpos_f64(vf64_mul(a, vf64_set1(-2.0)), &z);
    vf64 u = vf64_add(one, z), d = vf64_div(one, u);
    vf64 l1 = fl_log1p_unit_f64(z, u, d);
    *g = vf64_copysign(vf64_mul(vf64_sub(vf64_zero(), em), d), e);
    *h = vf64_mul(vf64_mul(vf64_set1(4.0), z), vf64_mul(d, d));
    return vf64_sub(vf64_add(a, l1), vf64_set1(6.93147180559945309417e-01));
}

/* Poisson, log-rate input: exp(x) - y x; g = exp(x) - y, h = exp(x) */
FL_INLINE vf64 fl_poisson_log64(vf64 y, vf64 x, vf64* g, vf64* h) {
    vf64 m = fl_exp_f64(x);
    *g = vf64_sub(m, y);
    *h = m;
    return vf64_sub(m, vf64_mul(y, x));
}

/* The regression losses below mirror pointwise.pyx.tp's closed forms
 * operation for operation (selects where those select; NaN handled as
 * there); they are cheap, and a block through here costs no per-element
 * call or mode test, where the generic closed-form loop does. */

/* -1, 0 or +1 with the sign of e (±0 and NaN returned unchanged: fl_sign) */
FL_INLINE vf64 fl_sign64(vf64 e) {
    mf64 keep_e = mf64_or(vf64_eq(e, vf64_zero()), vf64_unord(e, e));
    return vf64_select(keep_e, e, vf64_copysign(vf64_set1(1.0), e));
}

/* squared error, e = x - y: e^2; g = 2e, h = 2 */
FL_INLINE vf64 fl_squared64(vf64 y, vf64 x, vf64* g, vf64* h) {
    vf64 e = vf64_sub(x, y);
    *g = vf64_mul(vf64_set1(2.0), e);
    *h = vf64_set1(2.0);
    return vf64_mul(e, e);
}

/* absolute error: |e|; g = sign(e) (0 at ties), h = 0 */
FL_INLINE vf64 fl_absolute64(vf64 y, vf64 x, vf64* g, vf64* h) {
    vf64 e = vf64_sub(x, y);
    *g = fl_sign64(e);
    *h = vf64_zero();
    return vf64_abs(e);
}

/* Huber, c = min(|e|, delta) (NaN kept: a select, not minpd): c (|e| - c/2);
 * g = copysign(c, e), h = 1 where |e| <= delta */
FL_INLINE vf64 fl_huber64(vf64 y, vf64 x, vf64 delta, vf64* g, vf64* h) {
    vf64 e = vf64_sub(x, y), a = vf64_abs(e);
    vf64 c = vf64_select(vf64_gt(a, delta), delta, a);
    *g = vf64_copysign(c, e);
    *h = vf64_keep(vf64_le(a, delta), vf64_set1(1.0));
    return vf64_mul(c, vf64_sub(a, vf64_mul(vf64_set1(0.5), c)));
}

/* 1 where e < 0, 0 where e >= 0 (either zero), NaN for NaN: 0.5 (|s| - s) */
FL_INLINE vf64 fl_neg_ind64(vf64 e, vf64* s) {
    *s = fl_sign64(e);
    return vf64_mul(vf64_set1(0.5), vf64_sub(vf64_abs(*s), *s));
}

/* expectile, e = y - x, a = tau + 1[e < 0] (1 - 2 tau): a e^2; g = -2 a e, h = 2 a */
FL_INLINE vf64 fl_expectile64(vf64 y, vf64 x, vf64 tau, vf64* g, vf64* h) {
    vf64 e = vf64_sub(y, x), s;
    vf64 n = fl_neg_ind64(e, &s);
    vf64 a = vf64_add(tau, vf64_mul(n, vf64_sub(vf64_set1(1.0), vf64_mul(vf64_set1(2.0), tau))));
    *g = vf64_mul(vf64_mul(vf64_set1(-2.0), a), e);
    *h = vf64_mul(vf64_set1(2.0), a);
    return vf64_mul(a, vf64_mul(e, e));
}

/* pseudo-Huber, t = e / delta, r = sqrt(1 + t^2) (|t| beyond 1e8):
 * delta^2 t (t / (r + 1)); g = e / r, h = 1 / r^3 */
FL_INLINE vf64 fl_pseudo_huber64(vf64 y, vf64 x, vf64 delta, vf64* g, vf64* h) {
    const vf64 one = vf64_set1(1.0);
    vf64 e = vf64_sub(x, y), t = vf64_div(e, delta), at = vf64_abs(t);
    vf64 r = vf64_sqrt(vf64_add(one, vf64_mul(t, t)));
    r = vf64_select(vf64_gt(at, vf64_set1(1e8)), at, r);
    vf64 ir = vf64_div(one, r);
    *g = vf64_div(e, r);        /* the closed forms' operation */
    *h = vf64_mul(vf64_mul(ir, ir), ir);
    return vf64_mul(vf64_mul(delta, delta), vf64_mul(t, vf64_div(t, vf64_add(r, one))));
}

/* pinball at quantile q, e = y - x, n = 1[e < 0]: e (q - n); g = n - q |s|, h = 0 */
FL_INLINE vf64 fl_pinball64(vf64 y, vf64 x, vf64 q, vf64* g, vf64* h) {
    vf64 e = vf64_sub(y, x), s;
    vf64 n = fl_neg_ind64(e, &s);
    *g = vf64_sub(n, vf64_mul(q, vf64_abs(s)));
    *h = vf64_zero();
    return vf64_mul(e, vf64_sub(q, n));
}

/* Tweedie deviance at power p (pos), rate input (x = mu) or log input
 * (x = log mu), as pointwise.pyx.tp's _tweedie / _tweedie_log: the same
 * special powers 0, 1, 2 (p is one value per call: a predicted branch),
 * and for the others mu^a = exp(a log mu), y^(2-p) = exp((2-p) log y)
 * where the closed forms call pow().  The domain is checked by the driver
 * (pointwise.pyx.tp, Row.domain), never here. */
FL_INLINE vf64 fl_tweedie64(vf64 y, vf64 x, double p, int log_input, vf64* g, vf64* h) {
    const vf64 one = vf64_set1(1.0), two = vf64_set1(2.0), zero = vf64_zero();
    const vf64 inf = vf64_set1(INFINITY);
    vf64 mu = log_input ? fl_exp_f64(x) : x, e, r, v;
    mf64 ypos = vf64_gt(y, zero);
    /* y where y > 0, else 1: the logs of y below are masked where y <= 0,
     * and log(0) would send every vector with a zero target (a third of
     * count data) through vec.h's libm fix-up */
    vf64 ysafe = vf64_select(ypos, y, one);
    if (p == 0.0) {
        e = vf64_sub(mu, y);
        *g = log_input ? vf64_mul(two, vf64_mul(e, mu)) : vf64_mul(two, e);
        *h = log_input ? vf64_mul(vf64_mul(two, mu), vf64_sub(vf64_mul(two, mu), y)) : two;
        return vf64_mul(e, e);
    }
    if (p == 1.0) {
        /* y log(y / mu), 0 where y <= 0 (y = 0; a NaN y is carried by -y) */
        vf64 xl = log_input ? vf64_mul(y, vf64_sub(fl_log_f64(ysafe), x))
                            : vf64_mul(y, fl_log_f64(vf64_div(ysafe, mu)));
        v = vf64_mul(two, vf64_add(vf64_sub(vf64_keep(ypos, xl), y), mu));
        if (log_input) {
            *g = vf64_mul(two, vf64_sub(mu, y));
            *h = vf64_mul(two, mu);
        } else {
            r = vf64_div(one, mu);
            *g = vf64_mul(two, vf64_sub(one, vf64_mul(y, r)));
            *h = vf64_mul(vf64_mul(vf64_mul(two, y), r), r);
        }
        return v;
    }
    if (p == 2.0) {
        if (log_input) {
            vf64 ym = vf64_mul(y, fl_exp_f64(vf64_sub(zero, x)));
            *g = vf64_mul(two, vf64_sub(one, ym));
            *h = vf64_mul(two, ym);
            return vf64_mul(two, vf64_sub(vf64_add(vf64_sub(x, fl_log_f64(y)), ym), one));
        }
        r = vf64_div(one, mu);
        *g = vf64_mul(vf64_mul(vf64_mul(two, vf64_sub(mu, y)), r), r);
        *h = vf64_mul(vf64_mul(vf64_mul(vf64_mul(two, vf64_sub(vf64_mul(two, y), mu)), r), r), r);
        return vf64_mul(two, vf64_sub(vf64_add(fl_log_f64(vf64_div(mu, y)), vf64_mul(y, r)), one));
    }
    const vf64 P = vf64_set1(p), q1 = vf64_set1(1.0 - p), q2 = vf64_set1(2.0 - p);
    vf64 lmu = log_input ? x : fl_log_f64(x);
    vf64 a1 = fl_exp_f64(vf64_mul(q1, lmu)), a2;
    if (log_input) {
        a2 = fl_exp_f64(vf64_mul(q2, x));
    } else {
        a2 = vf64_mul(a1, mu);
        a2 = vf64_select(vf64_eq(mu, inf), fl_exp_f64(vf64_mul(q2, lmu)), a2);   /* not 0 inf */
    }
    /* y^(2-p), 0 where y == 0 (0 y: NaN kept) */
    vf64 y2 = vf64_select(ypos, fl_exp_f64(vf64_mul(q2, fl_log_f64(ysafe))), vf64_mul(zero, y));
    vf64 t1 = vf64_keep(vf64_ne(y, zero), vf64_mul(y, a1));          /* y a1, 0 at y = 0 */
    v = vf64_mul(two, vf64_add(vf64_sub(vf64_div(y2, vf64_mul(q1, q2)), vf64_div(t1, q1)),
                               vf64_div(a2, q2)));
    mf64 both = mf64_and(vf64_eq(t1, inf), vf64_eq(a2, inf));
    if (log_input) {
        *g = vf64_mul(two, vf64_sub(a2, t1));
        *h = vf64_mul(two, vf64_sub(vf64_mul(q2, a2), vf64_mul(q1, t1)));
        *g = vf64_select(both, vf64_sub(zero, inf), *g);
        *h = vf64_select(both, inf, *h);
    } else {
        r = vf64_div(y, mu);
        *g = vf64_mul(vf64_mul(two, a1), vf64_sub(one, r));
        *h = vf64_mul(vf64_mul(two, vf64_div(a1, mu)), vf64_add(vf64_mul(P, r), q1));
    }
    return vf64_select(both, inf, v);
}

FL_INLINE vf64 fl_elem64(int kind, vf64 y, vf64 x, const fl_bin64* P, vf64* g, vf64* h,
                         int masked) {
    switch (kind) {
    case FL_PW_BCE_LOGIT: return fl_bce64(y, x, P, g, h, masked);
    case FL_PW_FOCAL2_LOGIT: return fl_focal2_64(y, x, P, g, h, masked);
    case FL_PW_LOGCOSH: return fl_logcosh64(y, x, g, h);
    case FL_PW_SQUARED: return fl_squared64(y, x, g, h);
    case FL_PW_ABSOLUTE: return fl_absolute64(y, x, g, h);
    case FL_PW_HUBER: return fl_huber64(y, x, P->pos, g, h);
    case FL_PW_EXPECTILE: return fl_expectile64(y, x, P->pos, g, h);
    case FL_PW_PSEUDO_HUBER: return fl_pseudo_huber64(y, x, P->pos, g, h);
    case FL_PW_PINBALL: return fl_pinball64(y, x, P->pos, g, h);
    case FL_PW_TWEEDIE: return fl_tweedie64(y, x, P->pos_d, 0, g, h);
    case FL_PW_TWEEDIE_LOG: return fl_tweedie64(y, x, P->pos_d, 1, g, h);
    default: return fl_poisson_log64(y, x, g, h);
    }
}

/* The binary losses on hard labels (y in {0, 1}) in float32 lanes: with
 * c = pos (y = 1) or neg (y = 0) the loss is c L, the derivatives c dL, c d2L;
 * returns L, writes dL and d2L. */
FL_INLINE vf32 fl_hard32(int kind, mf32 y1, vf32 x, vf32* g, vf32* h) {
    const vf32 zero = vf32_zero();
    vf32 pr, cp, spp, spn, v;
    FL_LOGISTIC(vf32, mf32, fl_exp_nonpos_f32, fl_log1p_unit_f32, x, pr, cp, spp, spn);
    if (kind == FL_PW_BCE_LOGIT) {
        /* y = 1: softplus(-x), -sigmoid(-x); y = 0: softplus(x), sigmoid(x) */
        v = vf32_select(y1, spn, spp);
        *g = vf32_select(y1, vf32_sub(zero, cp), pr);
        *h = vf32_mul(pr, cp);
    } else {
        /* y = 1: F(x); y = 0: F(-x), derivative -F'(-x) */
        vf32 p = vf32_select(y1, pr, cp), q = vf32_select(y1, cp, pr);
        vf32 s = vf32_select(y1, spn, spp), d1, d2;
        FL_FOCAL2_SIDE(vf32, p, q, s, d1, d2, v);
        *g = vf32_select(y1, d1, vf32_sub(zero, d1));
        *h = d2;
    }
    return vf32_select(vf32_unord(x, x), x, v);
}

/* w l for the sums; masked: 0 where the weight is 0 and the loss ±inf (a
 * masked class), where the product would be NaN; NaN losses stay NaN. */
FL_INLINE vf64 fl_wmul64(vf64 W, vf64 v, int masked) {
    vf64 p = vf64_mul(W, v);
    if (masked) {
        mf64 drop = mf64_and(vf64_eq(W, vf64_zero()),
                             vf64_eq(vf64_abs(v), vf64_set1(INFINITY)));
        p = vf64_select(drop, vf64_zero(), p);
    }
    return p;
}

/* The binary losses on float32 data: each element with a label of exactly
 * 0 or 1 in float32 lanes (fl_hard32), any other in float64 lanes
 * (fl_elem64); which form an element takes depends on its own label only,
 * never on its neighbours or on where the block starts, so every layout
 * (flat blocks, rows of k, the padded tail) gives it the same bits. */
FL_INLINE double fl_bin_block_f32(int kind, const float* y, const float* x, const double* w,
                                  ptrdiff_t n, const fl_bin64* P, vf64 G,
                                  float* g, float* h, float* rows, int masked) {
    const vf64 one = vf64_set1(1.0), zero = vf64_zero();
    const vf64 Gpos = vf64_mul(G, P->pos), Gneg = vf64_mul(G, P->neg);
    vf64 acc[2] = {zero, zero};
    for (ptrdiff_t i = 0; i < n; i += FL_NF32) {
        ptrdiff_t r = n - i < FL_NF32 ? n - i : FL_NF32;
        vf32 yv = r == FL_NF32 ? vf32_load(y + i) : vf32_load_part(y + i, r, 0.0f);
        vf32 xv = r == FL_NF32 ? vf32_load(x + i) : vf32_load_part(x + i, r, 0.0f);
        mf32 y1 = vf32_eq(yv, vf32_set1(1.0f));
        mf32 hard = mf32_or(y1, vf32_eq(yv, vf32_zero()));
        int any_hard = mf32_any(hard), all_hard = mf32_all(hard);
        vf32 v32 = vf32_zero(), g32 = vf32_zero(), h32 = vf32_zero();
        if (any_hard) v32 = fl_hard32(kind, y1, xv, &g32, &h32);
        for (int k = 0; k < FL_HALVES; k++) {
            ptrdiff_t j = i + k * FL_NF64, rk = r - k * FL_NF64;
            if (rk <= 0) break;
            if (rk > FL_NF64) rk = FL_NF64;
            vf64 W = !w ? one : rk == FL_NF64 ? vf64_load(w + j) : vf64_load_part(w + j, rk, 1.0);
            vf64 yk = vf32_widen(yv, k), v = zero, gv = zero, hv = zero;
            if (any_hard) {
                /* unweighted: the class factors and their products with G
                 * chosen per lane, not multiplied (W = 1: the same bits) */
                mf64 y1k = vf64_gt(yk, vf64_set1(0.5));
                vf64 c = w ? vf64_mul(W, vf64_select(y1k, P->pos, P->neg))
                           : vf64_select(y1k, P->pos, P->neg);
                vf64 Gc = w ? vf64_mul(G, c) : vf64_select(y1k, Gpos, Gneg);
                v = fl_wmul64(c, vf32_widen(v32, k), masked);
                if (g) gv = vf64_mul(Gc, vf32_widen(g32, k));
                if (h) hv = vf64_mul(Gc, vf32_widen(h32, k));
            }
            if (!all_hard) {
                vf64 g2, h2, e = fl_elem64(kind, yk, vf32_widen(xv, k), P, &g2, &h2, masked);
                vf64 GW = vf64_mul(G, W), v2 = w ? fl_wmul64(W, e, masked) : e;
                g2 = vf64_mul(GW, g2);
                h2 = vf64_mul(GW, h2);
                if (any_hard) {
                    mf64 hk = mf64_or(vf64_eq(yk, one), vf64_eq(yk, zero));
                    v = vf64_select(hk, v, v2);
                    gv = vf64_select(hk, gv, g2);
                    hv = vf64_select(hk, hv, h2);
                } else {
                    v = v2;
                    gv = g2;
                    hv = h2;
                }
            }
            if (rk == FL_NF64) {
                acc[k & 1] = vf64_add(acc[k & 1], v);
                if (g) vf64_store_f32(g + j, gv);
                if (h) vf64_store_f32(h + j, hv);
                if (rows) vf64_store_f32(rows + j, v);
            } else {
                acc[k & 1] = vf64_add(acc[k & 1], vf64_keep(fl_first64(rk), v));
                if (g) vf64_store_f32_part(g + j, gv, rk);
                if (h) vf64_store_f32_part(h + j, hv, rk);
                if (rows) vf64_store_f32_part(rows + j, v, rk);
            }
        }
    }
    return vf64_hsum(vf64_add(acc[0], acc[1]));
}

/* One block of n elements of loss `kind`; F32: the data are float32. */
FL_INLINE double fl_pw_block(int kind, int F32, const void* y, const void* x, const double* w,
                             ptrdiff_t n, double pos, double neg, double smooth, double gscale,
                             void* g, void* h, void* rows, int masked) {
    const fl_bin64 P = {vf64_set1(pos), vf64_set1(neg), vf64_set1(smooth), pos};
    const vf64 G = vf64_set1(gscale), one = vf64_set1(1.0);
    vf64 acc[2] = {vf64_zero(), vf64_zero()};
    if (F32 && (kind == FL_PW_BCE_LOGIT || kind == FL_PW_FOCAL2_LOGIT) && smooth == 0.0)
        return fl_bin_block_f32(kind, (const float*)y, (const float*)x, w, n, &P, G,
                                (float*)g, (float*)h, (float*)rows, masked);
    ptrdiff_t i = 0;
    for (; i + FL_NF32 <= n; i += FL_NF32) {
        for (int k = 0; k < FL_HALVES; k++) {
            ptrdiff_t j = i + k * FL_NF64;
            vf64 W = w ? vf64_load(w + j) : one, gv, hv;
            vf64 e = fl_elem64(kind, fl_ld(y, j, F32), fl_ld(x, j, F32), &P, &gv, &hv, masked);
            vf64 v = w ? fl_wmul64(W, e, masked) : e;
            vf64 GW = vf64_mul(G, W);
            acc[k & 1] = vf64_add(acc[k & 1], v);
            if (g) fl_st(g, j, vf64_mul(GW, gv), F32);
            if (h) fl_st(h, j, vf64_mul(GW, hv), F32);
            if (rows) fl_st(rows, j, v, F32);
        }
    }
    for (; i < n; i += FL_NF64) {           /* the tail, padded with y = x = 0, w = 1 */
        ptrdiff_t r = n - i < FL_NF64 ? n - i : FL_NF64;
        vf64 W = w ? vf64_load_part(w + i, r, 1.0) : one, gv, hv;
        vf64 e = fl_elem64(kind, fl_ld_part(y, i, r, 0.0, F32), fl_ld_part(x, i, r, 0.0, F32),
                           &P, &gv, &hv, masked);
        vf64 v = w ? fl_wmul64(W, e, masked) : e;
        vf64 GW = vf64_mul(G, W);
        acc[0] = vf64_add(acc[0], vf64_keep(fl_first64(r), v));
        if (g) fl_st_part(g, i, vf64_mul(GW, gv), r, F32);
        if (h) fl_st_part(h, i, vf64_mul(GW, hv), r, F32);
        if (rows) fl_st_part(rows, i, v, r, F32);
    }
    return vf64_hsum(vf64_add(acc[0], acc[1]));
}

/* The block without the infinity fix-ups, rerun with them only when its
 * total is NaN (0 inf somewhere, or NaN data: rare): the fix-ups then cost
 * nothing on finite data, and both forms give every element with a finite
 * loss the same bits, so no element depends on the block it shares. */
FL_INLINE double fl_pw_entry(int kind, int F32, const void* y, const void* x,
                             const double* w, ptrdiff_t n, double pos, double neg,
                             double smooth, double gscale, void* g, void* h, void* rows) {
    double s = fl_pw_block(kind, F32, y, x, w, n, pos, neg, smooth, gscale, g, h, rows, 0);
    if (__builtin_expect(s != s, 0))
        s = fl_pw_block(kind, F32, y, x, w, n, pos, neg, smooth, gscale, g, h, rows, 1);
    return s;
}

#define FL_DEF_PW(KIND, NAMEF, NAMED)                                                \
static double NAMEF(const float* y, const float* x, const double* w, ptrdiff_t n,   \
                    double pos, double neg, double smooth, double gscale,           \
                    float* g, float* h, float* rows) {                              \
    return fl_pw_entry(KIND, 1, y, x, w, n, pos, neg, smooth, gscale, g, h, rows);  \
}                                                                                   \
static double NAMED(const double* y, const double* x, const double* w, ptrdiff_t n, \
                    double pos, double neg, double smooth, double gscale,           \
                    double* g, double* h, double* rows) {                           \
    return fl_pw_entry(KIND, 0, y, x, w, n, pos, neg, smooth, gscale, g, h, rows);  \
}
FL_DEF_PW(FL_PW_BCE_LOGIT, fl_bce_logit_f, fl_bce_logit_d)
FL_DEF_PW(FL_PW_FOCAL2_LOGIT, fl_focal2_logit_f, fl_focal2_logit_d)
FL_DEF_PW(FL_PW_LOGCOSH, fl_logcosh_f, fl_logcosh_d)
FL_DEF_PW(FL_PW_POISSON_LOG, fl_poisson_log_f, fl_poisson_log_d)
FL_DEF_PW(FL_PW_SQUARED, fl_squared_f, fl_squared_d)
FL_DEF_PW(FL_PW_ABSOLUTE, fl_absolute_f, fl_absolute_d)
FL_DEF_PW(FL_PW_HUBER, fl_huber_f, fl_huber_d)
FL_DEF_PW(FL_PW_EXPECTILE, fl_expectile_f, fl_expectile_d)
FL_DEF_PW(FL_PW_PSEUDO_HUBER, fl_pseudo_huber_f, fl_pseudo_huber_d)
FL_DEF_PW(FL_PW_PINBALL, fl_pinball_f, fl_pinball_d)
FL_DEF_PW(FL_PW_TWEEDIE, fl_tweedie_f, fl_tweedie_d)
FL_DEF_PW(FL_PW_TWEEDIE_LOG, fl_tweedie_log_f, fl_tweedie_log_d)

/* Pinball with one quantile per column (FL_PW_PINBALL_COLS): n elements
 * that start a row of k = (ptrdiff_t)pos > 1 elements, unweighted, no
 * per-row output (the driver's flat blocks and its rows of k); `w` carries
 * the k quantiles.  Element i takes quantile[i mod k] through the same
 * fl_pinball64 as the one-quantile form, so every layout gives it the same
 * bits.  For several rows of k up to FL_COLS_SMALL the quantiles of
 * consecutive lanes come from a copy of the quantile row repeated past k
 * (the lanes starting at column c are qe[c..c+lanes), whatever k is); one
 * row (the driver's weighted rows) or longer rows load the quantiles row
 * by row. */
#define FL_COLS_SMALL 64
FL_INLINE double fl_pinball_cols(int F32, const void* y, const void* x, const double* q,
                                 ptrdiff_t n, ptrdiff_t k, double gscale, void* g, void* h) {
    const vf64 G = vf64_set1(gscale);
    vf64 acc[2] = {vf64_zero(), vf64_zero()}, gv, hv;
    int a = 0;
    if (k <= FL_COLS_SMALL && n > k) {
        double qe[FL_COLS_SMALL + FL_NF64];
        for (ptrdiff_t j = 0, c = 0; j < k + FL_NF64; j++, c = c + 1 == k ? 0 : c + 1)
            qe[j] = q[c];
        ptrdiff_t c = 0, i = 0;
        for (; i + FL_NF64 <= n; i += FL_NF64) {
            vf64 v = fl_pinball64(fl_ld(y, i, F32), fl_ld(x, i, F32), vf64_load(qe + c), &gv, &hv);
            acc[a] = vf64_add(acc[a], v);
            a ^= 1;
            if (g) fl_st(g, i, vf64_mul(G, gv), F32);
            if (h) fl_st(h, i, vf64_mul(G, hv), F32);
            c += FL_NF64;
            while (c >= k) c -= k;
        }
        if (i < n) {
            ptrdiff_t r = n - i;
            vf64 v = fl_pinball64(fl_ld_part(y, i, r, 0.0, F32), fl_ld_part(x, i, r, 0.0, F32),
                                  vf64_load(qe + c), &gv, &hv);
            acc[0] = vf64_add(acc[0], vf64_keep(fl_first64(r), v));
            if (g) fl_st_part(g, i, vf64_mul(G, gv), r, F32);
            if (h) fl_st_part(h, i, vf64_mul(G, hv), r, F32);
        }
    } else {
        for (ptrdiff_t i0 = 0; i0 < n; i0 += k) {
            ptrdiff_t j = 0;
            for (; j + FL_NF64 <= k; j += FL_NF64) {
                ptrdiff_t i = i0 + j;
                vf64 v = fl_pinball64(fl_ld(y, i, F32), fl_ld(x, i, F32), vf64_load(q + j),
                                      &gv, &hv);
                acc[a] = vf64_add(acc[a], v);
                a ^= 1;
                if (g) fl_st(g, i, vf64_mul(G, gv), F32);
                if (h) fl_st(h, i, vf64_mul(G, hv), F32);
            }
            if (j < k) {
                ptrdiff_t i = i0 + j, r = k - j;
                vf64 v = fl_pinball64(fl_ld_part(y, i, r, 0.0, F32),
                                      fl_ld_part(x, i, r, 0.0, F32),
                                      vf64_load_part(q + j, r, 0.5), &gv, &hv);
                acc[a] = vf64_add(acc[a], vf64_keep(fl_first64(r), v));
                a ^= 1;
                if (g) fl_st_part(g, i, vf64_mul(G, gv), r, F32);
                if (h) fl_st_part(h, i, vf64_mul(G, hv), r, F32);
            }
        }
    }
    return vf64_hsum(vf64_add(acc[0], acc[1]));
}

static double fl_pinball_cols_f(const float* y, const float* x, const double* w, ptrdiff_t n,
                                double pos, double neg, double smooth, double gscale,
                                float* g, float* h, float* rows) {
    (void)neg; (void)smooth; (void)rows;
    return fl_pinball_cols(1, y, x, w, n, (ptrdiff_t)pos, gscale, g, h);
}
static double fl_pinball_cols_d(const double* y, const double* x, const double* w, ptrdiff_t n,
                                double pos, double neg, double smooth, double gscale,
                                double* g, double* h, double* rows) {
    (void)neg; (void)smooth; (void)rows;
    return fl_pinball_cols(0, y, x, w, n, (ptrdiff_t)pos, gscale, g, h);
}

#endif
