/* The RankNet / LambdaRank pair row (pairs.h), written once against vec.h
 * and compiled once per target: pairs_<target>.c define the target and
 * include this file (no -m flags: the ISA by pragma, see there).
 *
 * Per pair, as the scalar form it replaces (ranking.pyx): z = exp(-|x|)
 * (from two per-item factors when the caller gives them, pairs.h),
 * u = 1 + z, d = 1 / u; l = log1p(z) + max(-x, 0) (stable for any x),
 * rho = (x >= 0 ? z : 1) d, rho (1 - rho) = z d^2 (keeps its relative
 * precision far from 0).  Partners come NF64 at a time; the last partial
 * vector loads padded lanes and masks them out of every sum and store. */
#include "kernels.h"
#include "vec.h"
#include "pairs.h"

static const double fl_pairs_ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};

FL_INLINE void fl_pair_block(const fl_pair_row_args* a, const double* s, const double* w,
                             const double* gain, const double* disc, const double* top,
                             double* gj, double* hj, ptrdiff_t n, vf64* loss, vf64* wsum,
                             vf64* acc, vf64* hacc, vf64* cnt) {
    /* n == FL_NF64: a full vector; else the first n lanes */
    const int full = n == FL_NF64;
    const vf64 one = vf64_set1(1.0), zero = vf64_zero();
    const vf64 sig = vf64_set1(a->sigma);
    vf64 sj = full ? vf64_load(s) : vf64_load_part(s, n, 0.0);
    vf64 wj = full ? vf64_load(w) : vf64_load_part(w, n, 0.0);
    mf64 m = full ? vf64_ge(one, zero) : vf64_gt(vf64_load_part(fl_pairs_ones, n, 0.0), zero);
    vf64 x = vf64_mul(sig, vf64_sub(vf64_set1(a->si), sj));
    mf64 neg = vf64_lt(x, zero);
    vf64 z;
    if (a->ep != NULL) {
        /* exp(-x) = em_i ep_j and exp(x) = ep_i em_j; at most 1 (a product
         * may round above 1 where x is 0); min(1, NaN) keeps the NaN */
        vf64 epj = full ? vf64_load(a->ep + (s - a->s)) : vf64_load_part(a->ep + (s - a->s), n, 1.0);
        vf64 emj = full ? vf64_load(a->em + (s - a->s)) : vf64_load_part(a->em + (s - a->s), n, 1.0);
        z = vf64_select(neg, vf64_mul(vf64_set1(a->epi), emj), vf64_mul(vf64_set1(a->emi), epj));
        z = vf64_min(one, z);
    } else {
        z = fl_exp_nonpos_f64(vf64_negabs(x));
    }
    vf64 u = vf64_add(one, z);
    vf64 d = vf64_div(one, u);
    vf64 l = vf64_add(fl_log1p_unit_f64(z, u, d), vf64_keep(neg, vf64_sub(zero, x)));
    vf64 rho = vf64_mul(vf64_select(neg, one, z), d);
    vf64 ww = vf64_mul(vf64_set1(a->wi), wj);
    vf64 pw = ww;
    if (gain != NULL) {
        vf64 gn = full ? vf64_load(gain) : vf64_load_part(gain, n, 0.0);
        vf64 ds = full ? vf64_load(disc) : vf64_load_part(disc, n, 0.0);
        vf64 dd = vf64_abs(vf64_sub(vf64_set1(a->di), ds));
        pw = vf64_mul(ww, vf64_mul(vf64_mul(vf64_sub(vf64_set1(a->gni), gn), dd),
                                   vf64_set1(a->inv_idcg)));
        if (a->only_top) {
            vf64 tp = full ? vf64_load(top) : vf64_load_part(top, n, 0.0);
            m = mf64_and(m, vf64_ne(tp, zero));
        }
    }
    *loss = vf64_add(*loss, vf64_keep(m, vf64_mul(pw, l)));
    *wsum = vf64_add(*wsum, vf64_keep(m, ww));
    *cnt = vf64_add(*cnt, vf64_keep(m, one));
    vf64 gh = vf64_keep(m, vf64_mul(vf64_mul(sig, pw), rho));
    *acc = vf64_sub(*acc, gh);
    if (full) {
        vf64_store(gj, vf64_add(vf64_load(gj), gh));
    } else {
        vf64_store_part(gj, vf64_add(vf64_load_part(gj, n, 0.0), gh), n);
    }
    if (hj != NULL) {
        vf64 hh = vf64_keep(m, vf64_mul(vf64_mul(vf64_mul(sig, sig), pw),
                                        vf64_mul(vf64_mul(z, d), d)));
        *hacc = vf64_add(*hacc, hh);
        if (full) {
            vf64_store(hj, vf64_add(vf64_load(hj), hh));
        } else {
            vf64_store_part(hj, vf64_add(vf64_load_part(hj, n, 0.0), hh), n);
        }
    }
}

void FL_SUFFIX(fl_pair_row)(const fl_pair_row_args* a, ptrdiff_t m, double* gj, double* hj,
                            double* out) {
    vf64 loss = vf64_zero(), wsum = vf64_zero(), acc = vf64_zero(), hacc = vf64_zero();
    vf64 cnt = vf64_zero();
    const double* gain = a->gain;
    ptrdiff_t j = 0;
    for (; j + FL_NF64 <= m; j += FL_NF64) {
        fl_pair_block(a, a->s + j, a->w + j, gain ? gain + j : NULL, gain ? a->disc + j : NULL,
                      gain ? a->top + j : NULL, gj + j, hj ? hj + j : NULL, FL_NF64,
                      &loss, &wsum, &acc, &hacc, &cnt);
    }
    if (j < m) {
        fl_pair_block(a, a->s + j, a->w + j, gain ? gain + j : NULL, gain ? a->disc + j : NULL,
                      gain ? a->top + j : NULL, gj + j, hj ? hj + j : NULL, m - j,
                      &loss, &wsum, &acc, &hacc, &cnt);
    }
    out[0] += vf64_hsum(loss);
    out[1] += vf64_hsum(wsum);
    out[2] += vf64_hsum(acc);
    out[3] += vf64_hsum(hacc);
    out[4] += vf64_hsum(cnt);
}
