/* RankNet / LambdaRank pair rows (simd/pairs.c, built once per path by
 * pairs_<path>.c), and the choice among them by the path of the process's
 * kernel table (kernels.h: FL_PATH_*), so that set_simd_path / FASTLOSS_SIMD
 * apply.  Compiled into the ranking module only (CMakeLists.txt). */
#ifndef FASTLOSS_SIMD_PAIRS_H
#define FASTLOSS_SIMD_PAIRS_H

#include <stddef.h>
#include "kernels.h"

/* One row item i against the partners j in [0, m) of the arrays given
 * (all of them pairs with y_i > y_j):
 *   x = sigma (si - s[j]), l = log(1 + exp(-x)), rho = sigmoid(-x),
 *   with exp(-|x|) from the factors ep / em when given (see below),
 *   a = wi w[j] (RankNet; gain == NULL) or
 *       wi w[j] (gni - gain[j]) |di - disc[j]| inv_idcg (LambdaRank),
 * and with `only_top` only the partners with top[j] != 0 count.
 * Adds sigma a rho to gj[j] and sigma^2 a rho (1 - rho) to hj[j] (hj may be
 * NULL); out[0] += sum a l, out[1] += sum wi w[j], out[2] -= sum sigma a
 * rho (the row's gradient), out[3] += sum of the hessian terms, out[4] +=
 * the number of counted pairs.  Sums run lane-wise then in a fixed tree:
 * the result depends on the data and the path only. */
typedef struct {
    double si, wi, sigma;
    const double* s;
    const double* w;
    const double* gain;   /* LambdaRank only, else NULL */
    const double* disc;
    const double* top;
    double gni, di, inv_idcg;
    int only_top;
    /* exp(+-sigma (s - c)) of the partners and of i (c: a centre of the
     * group's scores), or ep == NULL: then exp(-|x|) is formed per pair.
     * exp(-|x|) = em_i ep_j (x >= 0) or ep_i em_j: one product per pair. */
    const double* ep;
    const double* em;
    double epi, emi;
} fl_pair_row_args;

typedef void (*fl_pair_row_fn)(const fl_pair_row_args* a, ptrdiff_t m, double* gj,
                               double* hj, double* out);

void fl_pair_row_scalar(const fl_pair_row_args*, ptrdiff_t, double*, double*, double*);
#if defined(FASTLOSS_X86_TARGETS)
void fl_pair_row_sse2(const fl_pair_row_args*, ptrdiff_t, double*, double*, double*);
void fl_pair_row_avx2(const fl_pair_row_args*, ptrdiff_t, double*, double*, double*);
void fl_pair_row_avx512(const fl_pair_row_args*, ptrdiff_t, double*, double*, double*);
#endif

static inline fl_pair_row_fn fl_pair_row_for(int path) {
#if defined(FASTLOSS_X86_TARGETS)
    /* the path was chosen for this CPU (simd/dispatch.c); checked again so
     * that this module never runs an instruction its CPU lacks */
    switch (path) {
    case FL_PATH_SSE2: return fl_pair_row_sse2;
    case FL_PATH_AVX2:
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return fl_pair_row_avx2;
        break;
    case FL_PATH_AVX512:
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2")
            && __builtin_cpu_supports("fma"))
            return fl_pair_row_avx512;
        break;
    default: break;
    }
#endif
    (void)path;
    return fl_pair_row_scalar;
}

#endif /* FASTLOSS_SIMD_PAIRS_H */
