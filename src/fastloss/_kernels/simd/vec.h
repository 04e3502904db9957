/* A width-independent vector layer for the fastloss kernels.
 *
 * A kernel is written once against the types and operations below and
 * compiled once per target; CMake passes the target as a macro and the
 * target's compiler flags (CMakeLists.txt):
 *
 *   FL_TARGET_SCALAR   one lane, plain C and libm (every CPU; the only
 *                      build on non-x86 machines)
 *   FL_TARGET_SSE2     4 float / 2 double lanes, mul + add for fma
 *   FL_TARGET_AVX2     8 / 4 lanes, AVX2 + FMA
 *   FL_TARGET_AVX512   16 / 8 lanes, AVX-512F (plus AVX2 + FMA), k-masks
 *
 * Types: vf32 / vf64 (FL_NF32 / FL_NF64 lanes), masks mf32 / mf64.
 * Everything after the per-target section (partial loads, sums, exp, log,
 * ...) is written once in terms of the per-target primitives.
 *
 * Semantics shared by every target:
 *   vXX_max(a, b) / vXX_min(a, b): a > b ? a : b (resp. <), so b is returned
 *     when either is NaN, as x86 max/min do: max(lo, x) keeps a NaN x.
 *   vXX_fma(a, b, c) = a b + c (fused where the target has FMA, else
 *     rounded twice: SSE2 and the scalar target give a few results 1 ulp
 *     apart from AVX2/AVX-512).
 *   Horizontal sums add the lanes pairwise in a fixed tree: a result
 *     depends on the data and the target only (never on threads).
 *
 * Transcendental functions.  Accuracy measured on this machine (Xeon with
 * AVX-512F) by tests/test_perf_paths.py::test_vector_math_accuracy's method:
 * max |result - exact| in ulp of the exact result rounded to the dtype, the
 * exact one from long double, over >= 3e5 arguments spread over the domain
 * (flushed results excluded: their absolute error is below the smallest
 * normal).  The test asserts the bound in the last column on every path.
 *
 *   function         domain                f32 sse2/avx2/avx512   f64 sse2/avx2/avx512  bound
 *   exp_nonpos       [-87.3 | -708.3, 0]   1.19 / 0.93 / 0.93     1.11 / 1.11 / 1.11    2
 *   exp              [-708.3, 709.7]       -                      1.14 / 1.10 / 1.10    2
 *   log              (0, DBL_MAX]          -                      1.98 / 1.98 / 2.01    2.5
 *   log1p_unit       [0, 1]                1.83 / 1.46 / 1.46     2.43 / 2.41 / 2.38    3
 *   expm1_nonpos     [-708.3, 0]           -                      1.42 / 1.41 / 1.37    2
 *   (scalar target: libm, <= 0.83 ulp on the same arguments; "-": no such
 *   function in that precision, none of the kernels needs it)
 *
 *   exp: n = round(x / ln 2), r = x - n ln 2 (ln 2 in two parts, n ln2_hi
 *   exact), exp(r) by its Taylor polynomial (degree 7 f32 / 13 f64, Horner),
 *   times 2^n from the exponent bits.  Below -87.33 (f32) / -708.39 (f64)
 *   the result is flushed to 0; f64 exp redoes lanes above 708 by libm
 *   (overflow to inf).  NaN propagates.
 *   log: x = 2^k m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s),
 *   s = (m - 1) / (m + 1), odd series to s^21; lanes outside [DBL_MIN,
 *   DBL_MAX] (0, negatives, subnormals, inf, NaN) are redone by libm.
 *   log1p_unit(z, u = 1 + z, d = 1 / u), z in [0, 1]: f64 log u by the
 *   same series plus the rounding of u, (z - (u - 1)) / u; f32 z P(z), P
 *   a degree-10 polynomial fitted on [0, 1] (no division: BCE and focal
 *   from logits run one per element instead of two; f32 column measured
 *   over 1.4e6 arguments, uniform and log-spaced down to 1e-45).
 *   expm1 (x <= 0) shares exp's reduction: s q + (s - 1), q = exp(r) - 1.
 *   The scalar target calls libm for all of them.
 */
#ifndef FASTLOSS_SIMD_VEC_H
#define FASTLOSS_SIMD_VEC_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FL_INLINE static inline __attribute__((always_inline))

#if defined(FL_TARGET_AVX512) + defined(FL_TARGET_AVX2) + defined(FL_TARGET_SSE2) \
    + defined(FL_TARGET_SCALAR) != 1
#error "define exactly one of FL_TARGET_SCALAR, FL_TARGET_SSE2, FL_TARGET_AVX2, FL_TARGET_AVX512"
#endif

/* Arithmetic of a vector type V of T elements whose intrinsics are OP(name)
 * (both x86 families below). */
#define FL_DEF_ARITH(V, T, OP)                                                        \
FL_INLINE V V##_load(const T* p) { return OP(loadu)(p); }                             \
FL_INLINE void V##_store(T* p, V v) { OP(storeu)(p, v); }                             \
FL_INLINE V V##_set1(T a) { return OP(set1)(a); }                                     \
FL_INLINE V V##_add(V a, V b) { return OP(add)(a, b); }                               \
FL_INLINE V V##_sub(V a, V b) { return OP(sub)(a, b); }                               \
FL_INLINE V V##_mul(V a, V b) { return OP(mul)(a, b); }                               \
FL_INLINE V V##_div(V a, V b) { return OP(div)(a, b); }                               \
FL_INLINE V V##_max(V a, V b) { return OP(max)(a, b); }                               \
FL_INLINE V V##_min(V a, V b) { return OP(min)(a, b); }                               \
FL_INLINE V V##_sqrt(V a) { return OP(sqrt)(a); }

/* ====================================================== per-target section */
#if defined(FL_TARGET_AVX512)
#include <immintrin.h>
#define FL_TARGET_NAME "avx512"
#define FL_SUFFIX(name) name##_avx512
#define FL_NF32 16
#define FL_NF64 8
#define FL_HAS_FMA 1
typedef __m512 vf32;
typedef __m512d vf64;
typedef __mmask16 mf32;
typedef __mmask8 mf64;
/* the operations both lane types share, for V = vf32 / vf64 (T its element,
 * OP(name) its intrinsic, S its letter, ALL its full mask) */
#define FL_DEF_LANES512(V, M, T, OP, S, ALL)                                          \
FL_DEF_ARITH(V, T, OP)                                                                \
FL_INLINE V V##_fma(V a, V b, V c) { return OP(fmadd)(a, b, c); }                     \
FL_INLINE V V##_fnma(V a, V b, V c) { return OP(fnmadd)(a, b, c); }                   \
/* AVX-512F has bitwise operations on integers only */                              \
FL_INLINE V V##_or(V a, V b) {                                                        \
    return _mm512_castsi512_##S(_mm512_or_si512(_mm512_cast##S##_si512(a),            \
                                                 _mm512_cast##S##_si512(b)));          \
}                                                                                     \
FL_INLINE V V##_and(V a, V b) {                                                       \
    return _mm512_castsi512_##S(_mm512_and_si512(_mm512_cast##S##_si512(a),           \
                                                  _mm512_cast##S##_si512(b)));         \
}                                                                                     \
FL_INLINE V V##_andnot(V a, V b) {   /* ~a & b */                                     \
    return _mm512_castsi512_##S(_mm512_andnot_si512(_mm512_cast##S##_si512(a),        \
                                                     _mm512_cast##S##_si512(b)));      \
}                                                                                     \
FL_INLINE M V##_lt(V a, V b) { return _mm512_cmp_##S##_mask(a, b, _CMP_LT_OQ); }\
FL_INLINE M V##_le(V a, V b) { return _mm512_cmp_##S##_mask(a, b, _CMP_LE_OQ); }\
FL_INLINE M V##_gt(V a, V b) { return _mm512_cmp_##S##_mask(a, b, _CMP_GT_OQ); }\
FL_INLINE M V##_ge(V a, V b) { return _mm512_cmp_##S##_mask(a, b, _CMP_GE_OQ); }\
FL_INLINE M V##_eq(V a, V b) { return _mm512_cmp_##S##_mask(a, b, _CMP_EQ_OQ); }\
FL_INLINE M V##_ne(V a, V b) { return _mm512_cmp_##S##_mask(a, b, _CMP_NEQ_UQ); }\
FL_INLINE M V##_unord(V a, V b) { return _mm512_cmp_##S##_mask(a, b, _CMP_UNORD_Q); }\
FL_INLINE V V##_select(M m, V a, V b) { return OP(mask_blend)(m, b, a); }             \
FL_INLINE V V##_keep(M m, V a) { return OP(maskz_mov)(m, a); }                        \
FL_INLINE M M##_and(M a, M b) { return (M)(a & b); }                                  \
FL_INLINE M M##_or(M a, M b) { return (M)(a | b); }                                   \
FL_INLINE M M##_none(void) { return 0; }                                              \
FL_INLINE int M##_any(M m) { return m != 0; }                                         \
FL_INLINE int M##_all(M m) { return m == ALL; }
#define FL_PS512(op) _mm512_##op##_ps
#define FL_PD512(op) _mm512_##op##_pd
FL_DEF_LANES512(vf32, mf32, float, FL_PS512, ps, 0xFFFF)
FL_DEF_LANES512(vf64, mf64, double, FL_PD512, pd, 0xFF)
FL_INLINE mf64 vf64_nlt(vf64 a, vf64 b) { return _mm512_cmp_pd_mask(a, b, _CMP_NLT_UQ); }
FL_INLINE mf32 vf32_nlt(vf32 a, vf32 b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLT_UQ); }
FL_INLINE mf64 vf64_ngt(vf64 a, vf64 b) { return _mm512_cmp_pd_mask(a, b, _CMP_NGT_UQ); }
/* the bits of t shifted left 23 / 52 (2^n from a magic-rounded float) */
FL_INLINE vf32 vf32_shl23(vf32 t) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23));
}
FL_INLINE vf64 vf64_shl52(vf64 t) {
    return _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_castpd_si512(t), 52));
}
FL_INLINE vf64 vf64_shr52(vf64 t) {
    return _mm512_castsi512_pd(_mm512_srli_epi64(_mm512_castpd_si512(t), 52));
}
/* FL_NF64 floats widened / narrowed */
FL_INLINE vf64 vf64_load_f32(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
FL_INLINE void vf64_store_f32(float* p, vf64 v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
/* half h (0: lanes 0..FL_NF64-1, 1: the rest) of a vf32, widened */
FL_INLINE vf64 vf32_widen(vf32 v, int h) {
    __m256 half = h ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))
                    : _mm512_castps512_ps256(v);
    return _mm512_cvtps_pd(half);
}

#elif defined(FL_TARGET_AVX2) || defined(FL_TARGET_SSE2)
#include <immintrin.h>
#if defined(FL_TARGET_AVX2)
#define FL_TARGET_NAME "avx2"
#define FL_SUFFIX(name) name##_avx2
#define FL_NF32 8
#define FL_NF64 4
#define FL_HAS_FMA 1
typedef __m256 vf32;
typedef __m256d vf64;
#define FL_PS(op) _mm256_##op##_ps
#define FL_PD(op) _mm256_##op##_pd
#define FL_SI(op) _mm256_##op
#define FL_CAST_PS_SI _mm256_castps_si256
#define FL_CAST_SI_PS _mm256_castsi256_ps
#define FL_CAST_PD_SI _mm256_castpd_si256
#define FL_CAST_SI_PD _mm256_castsi256_pd
#define FL_CMPPS(a, b, p) _mm256_cmp_ps(a, b, p)
#define FL_CMPPD(a, b, p) _mm256_cmp_pd(a, b, p)
#define FL_MASK32_ALL 0xFF
#define FL_MASK64_ALL 0xF
FL_INLINE vf32 vf32_fma(vf32 a, vf32 b, vf32 c) { return _mm256_fmadd_ps(a, b, c); }
FL_INLINE vf32 vf32_fnma(vf32 a, vf32 b, vf32 c) { return _mm256_fnmadd_ps(a, b, c); }
FL_INLINE vf64 vf64_fma(vf64 a, vf64 b, vf64 c) { return _mm256_fmadd_pd(a, b, c); }
FL_INLINE vf64 vf64_fnma(vf64 a, vf64 b, vf64 c) { return _mm256_fnmadd_pd(a, b, c); }
FL_INLINE vf32 vf32_select(vf32 m, vf32 a, vf32 b) { return _mm256_blendv_ps(b, a, m); }
FL_INLINE vf64 vf64_select(vf64 m, vf64 a, vf64 b) { return _mm256_blendv_pd(b, a, m); }
FL_INLINE vf64 vf64_load_f32(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
FL_INLINE void vf64_store_f32(float* p, vf64 v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
FL_INLINE vf64 vf32_widen(vf32 v, int h) {
    return _mm256_cvtps_pd(h ? _mm256_extractf128_ps(v, 1) : _mm256_castps256_ps128(v));
}
#else
#define FL_TARGET_NAME "sse2"
#define FL_SUFFIX(name) name##_sse2
#define FL_NF32 4
#define FL_NF64 2
#define FL_HAS_FMA 0
typedef __m128 vf32;
typedef __m128d vf64;
#define FL_PS(op) _mm_##op##_ps
#define FL_PD(op) _mm_##op##_pd
#define FL_SI(op) _mm_##op
#define FL_CAST_PS_SI _mm_castps_si128
#define FL_CAST_SI_PS _mm_castsi128_ps
#define FL_CAST_PD_SI _mm_castpd_si128
#define FL_CAST_SI_PD _mm_castsi128_pd
#define FL_CMPPS(a, b, p) fl_sse2_cmpps_##p(a, b)
#define FL_CMPPD(a, b, p) fl_sse2_cmppd_##p(a, b)
#define FL_MASK32_ALL 0xF
#define FL_MASK64_ALL 0x3
/* SSE2 has no predicate-immediate compare: one function per predicate */
FL_INLINE __m128 fl_sse2_cmpps__CMP_LT_OQ(__m128 a, __m128 b) { return _mm_cmplt_ps(a, b); }
FL_INLINE __m128 fl_sse2_cmpps__CMP_LE_OQ(__m128 a, __m128 b) { return _mm_cmple_ps(a, b); }
FL_INLINE __m128 fl_sse2_cmpps__CMP_GT_OQ(__m128 a, __m128 b) { return _mm_cmpgt_ps(a, b); }
FL_INLINE __m128 fl_sse2_cmpps__CMP_GE_OQ(__m128 a, __m128 b) { return _mm_cmpge_ps(a, b); }
FL_INLINE __m128 fl_sse2_cmpps__CMP_EQ_OQ(__m128 a, __m128 b) { return _mm_cmpeq_ps(a, b); }
FL_INLINE __m128 fl_sse2_cmpps__CMP_NEQ_UQ(__m128 a, __m128 b) { return _mm_cmpneq_ps(a, b); }
FL_INLINE __m128 fl_sse2_cmpps__CMP_UNORD_Q(__m128 a, __m128 b) { return _mm_cmpunord_ps(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_LT_OQ(__m128d a, __m128d b) { return _mm_cmplt_pd(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_LE_OQ(__m128d a, __m128d b) { return _mm_cmple_pd(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_GT_OQ(__m128d a, __m128d b) { return _mm_cmpgt_pd(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_GE_OQ(__m128d a, __m128d b) { return _mm_cmpge_pd(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_EQ_OQ(__m128d a, __m128d b) { return _mm_cmpeq_pd(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_NEQ_UQ(__m128d a, __m128d b) { return _mm_cmpneq_pd(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_UNORD_Q(__m128d a, __m128d b) { return _mm_cmpunord_pd(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_NLT_UQ(__m128d a, __m128d b) { return _mm_cmpnlt_pd(a, b); }
FL_INLINE __m128 fl_sse2_cmpps__CMP_NLT_UQ(__m128 a, __m128 b) { return _mm_cmpnlt_ps(a, b); }
FL_INLINE __m128d fl_sse2_cmppd__CMP_NGT_UQ(__m128d a, __m128d b) { return _mm_cmpngt_pd(a, b); }
/* no FMA: rounded twice */
FL_INLINE vf32 vf32_fma(vf32 a, vf32 b, vf32 c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
FL_INLINE vf32 vf32_fnma(vf32 a, vf32 b, vf32 c) { return _mm_sub_ps(c, _mm_mul_ps(a, b)); }
FL_INLINE vf64 vf64_fma(vf64 a, vf64 b, vf64 c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
FL_INLINE vf64 vf64_fnma(vf64 a, vf64 b, vf64 c) { return _mm_sub_pd(c, _mm_mul_pd(a, b)); }
/* no blendv: and / andnot / or */
FL_INLINE vf32 vf32_select(vf32 m, vf32 a, vf32 b) {
    return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b));
}
FL_INLINE vf64 vf64_select(vf64 m, vf64 a, vf64 b) {
    return _mm_or_pd(_mm_and_pd(m, a), _mm_andnot_pd(m, b));
}
/* two floats through a 64-bit integer load/store (movq): no alignment or
 * aliasing assumption about p */
FL_INLINE vf64 vf64_load_f32(const float* p) {
    return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i*)(const void*)p)));
}
FL_INLINE void vf64_store_f32(float* p, vf64 v) {
    _mm_storel_epi64((__m128i*)(void*)p, _mm_castps_si128(_mm_cvtpd_ps(v)));
}
FL_INLINE vf64 vf32_widen(vf32 v, int h) { return _mm_cvtps_pd(h ? _mm_movehl_ps(v, v) : v); }
#endif
typedef vf32 mf32;
typedef vf64 mf64;
/* the operations both lane types share, for V = vf32 / vf64 (T its element,
 * OP(name) its intrinsic, CMP its compare, ALL its full movemask) */
#define FL_DEF_LANES(V, M, T, OP, CMP, ALL)                                           \
FL_DEF_ARITH(V, T, OP)                                                                \
FL_INLINE V V##_or(V a, V b) { return OP(or)(a, b); }                                 \
FL_INLINE V V##_and(V a, V b) { return OP(and)(a, b); }                               \
FL_INLINE V V##_andnot(V a, V b) { return OP(andnot)(a, b); }                         \
FL_INLINE M V##_lt(V a, V b) { return CMP(a, b, _CMP_LT_OQ); }                        \
FL_INLINE M V##_le(V a, V b) { return CMP(a, b, _CMP_LE_OQ); }                        \
FL_INLINE M V##_gt(V a, V b) { return CMP(a, b, _CMP_GT_OQ); }                        \
FL_INLINE M V##_ge(V a, V b) { return CMP(a, b, _CMP_GE_OQ); }                        \
FL_INLINE M V##_eq(V a, V b) { return CMP(a, b, _CMP_EQ_OQ); }                        \
FL_INLINE M V##_ne(V a, V b) { return CMP(a, b, _CMP_NEQ_UQ); }                       \
FL_INLINE M V##_unord(V a, V b) { return CMP(a, b, _CMP_UNORD_Q); }                   \
FL_INLINE V V##_keep(M m, V a) { return OP(and)(m, a); }                              \
FL_INLINE M M##_and(M a, M b) { return OP(and)(a, b); }                               \
FL_INLINE M M##_or(M a, M b) { return OP(or)(a, b); }                                 \
FL_INLINE M M##_none(void) { return OP(setzero)(); }                                  \
FL_INLINE int M##_any(M m) { return OP(movemask)(m) != 0; }                           \
FL_INLINE int M##_all(M m) { return OP(movemask)(m) == ALL; }
FL_DEF_LANES(vf32, mf32, float, FL_PS, FL_CMPPS, FL_MASK32_ALL)
FL_DEF_LANES(vf64, mf64, double, FL_PD, FL_CMPPD, FL_MASK64_ALL)
FL_INLINE mf64 vf64_nlt(vf64 a, vf64 b) { return FL_CMPPD(a, b, _CMP_NLT_UQ); }
FL_INLINE mf32 vf32_nlt(vf32 a, vf32 b) { return FL_CMPPS(a, b, _CMP_NLT_UQ); }
FL_INLINE mf64 vf64_ngt(vf64 a, vf64 b) { return FL_CMPPD(a, b, _CMP_NGT_UQ); }
FL_INLINE vf32 vf32_shl23(vf32 t) { return FL_CAST_SI_PS(FL_SI(slli_epi32)(FL_CAST_PS_SI(t), 23)); }
FL_INLINE vf64 vf64_shl52(vf64 t) { return FL_CAST_SI_PD(FL_SI(slli_epi64)(FL_CAST_PD_SI(t), 52)); }
FL_INLINE vf64 vf64_shr52(vf64 t) { return FL_CAST_SI_PD(FL_SI(srli_epi64)(FL_CAST_PD_SI(t), 52)); }

#else /* FL_TARGET_SCALAR: one lane, plain C */
#define FL_TARGET_NAME "scalar"
#define FL_SUFFIX(name) name##_scalar
#define FL_NF32 1
#define FL_NF64 1
#define FL_HAS_FMA 0
typedef float vf32;
typedef double vf64;
typedef int mf32;
typedef int mf64;
#define FL_DEF_LANES1(V, M, T, SQRT)                                                  \
FL_INLINE V V##_load(const T* p) { return *p; }                                       \
FL_INLINE void V##_store(T* p, V v) { *p = v; }                                       \
FL_INLINE V V##_set1(T a) { return a; }                                               \
FL_INLINE V V##_add(V a, V b) { return a + b; }                                       \
FL_INLINE V V##_sub(V a, V b) { return a - b; }                                       \
FL_INLINE V V##_mul(V a, V b) { return a * b; }                                       \
FL_INLINE V V##_div(V a, V b) { return a / b; }                                       \
FL_INLINE V V##_fma(V a, V b, V c) { return a * b + c; }                              \
FL_INLINE V V##_fnma(V a, V b, V c) { return c - a * b; }                             \
FL_INLINE V V##_max(V a, V b) { return a > b ? a : b; }                               \
FL_INLINE V V##_min(V a, V b) { return a < b ? a : b; }                               \
FL_INLINE V V##_sqrt(V a) { return SQRT(a); }                                         \
FL_INLINE M V##_lt(V a, V b) { return a < b; }                                        \
FL_INLINE M V##_le(V a, V b) { return a <= b; }                                       \
FL_INLINE M V##_gt(V a, V b) { return a > b; }                                        \
FL_INLINE M V##_ge(V a, V b) { return a >= b; }                                       \
FL_INLINE M V##_eq(V a, V b) { return a == b; }                                       \
FL_INLINE M V##_ne(V a, V b) { return !(a == b); }                                    \
FL_INLINE M V##_unord(V a, V b) { return a != a || b != b; }                          \
FL_INLINE V V##_select(M m, V a, V b) { return m ? a : b; }                           \
FL_INLINE V V##_keep(M m, V a) { return m ? a : (T)0; }                               \
FL_INLINE M M##_and(M a, M b) { return a & b; }                                       \
FL_INLINE M M##_or(M a, M b) { return a | b; }                                        \
FL_INLINE M M##_none(void) { return 0; }                                              \
FL_INLINE int M##_any(M m) { return m != 0; }                                         \
FL_INLINE int M##_all(M m) { return m != 0; }
FL_DEF_LANES1(vf32, mf32, float, sqrtf)
FL_DEF_LANES1(vf64, mf64, double, sqrt)
FL_INLINE mf64 vf64_nlt(vf64 a, vf64 b) { return !(a < b); }
FL_INLINE mf32 vf32_nlt(vf32 a, vf32 b) { return !(a < b); }
FL_INLINE mf64 vf64_ngt(vf64 a, vf64 b) { return !(a > b); }
FL_INLINE vf64 vf64_load_f32(const float* p) { return (double)*p; }
FL_INLINE void vf64_store_f32(float* p, vf64 v) { *p = (float)v; }
FL_INLINE vf64 vf32_widen(vf32 v, int h) { (void)h; return (double)v; }
FL_INLINE vf64 vf64_bits_op(vf64 a, vf64 b, int op) {
    uint64_t x, y;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    x = op == 0 ? (x | y) : op == 1 ? (x & y) : (~x & y);
    memcpy(&a, &x, 8);
    return a;
}
FL_INLINE vf64 vf64_or(vf64 a, vf64 b) { return vf64_bits_op(a, b, 0); }
FL_INLINE vf64 vf64_and(vf64 a, vf64 b) { return vf64_bits_op(a, b, 1); }
FL_INLINE vf64 vf64_andnot(vf64 a, vf64 b) { return vf64_bits_op(a, b, 2); }
#endif

/* ====================================================== written once */
/* lanes a vf64 covers of a vf32 (2 on vector targets, 1 on scalar) */
#define FL_HALVES (FL_NF32 / FL_NF64)

FL_INLINE vf32 vf32_zero(void) { return vf32_set1(0.0f); }
FL_INLINE vf64 vf64_zero(void) { return vf64_set1(0.0); }

/* the first n (< lanes) elements of p, the other lanes `fill` (AVX-512:
 * masked loads, which never touch the lanes past n) */
#if defined(FL_TARGET_AVX512)
FL_INLINE vf32 vf32_load_part(const float* p, ptrdiff_t n, float fill) {
    return _mm512_mask_loadu_ps(vf32_set1(fill), (__mmask16)((1u << n) - 1u), p);
}
FL_INLINE void vf32_store_part(float* p, vf32 v, ptrdiff_t n) {
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), v);
}
FL_INLINE vf64 vf64_load_part(const double* p, ptrdiff_t n, double fill) {
    return _mm512_mask_loadu_pd(vf64_set1(fill), (__mmask8)((1u << n) - 1u), p);
}
FL_INLINE void vf64_store_part(double* p, vf64 v, ptrdiff_t n) {
    _mm512_mask_storeu_pd(p, (__mmask8)((1u << n) - 1u), v);
}
FL_INLINE vf64 vf64_load_f32_part(const float* p, ptrdiff_t n, float fill) {
    __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << n) - 1u), p);
    return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}
FL_INLINE void vf64_store_f32_part(float* p, vf64 v, ptrdiff_t n) {
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u),
                          _mm512_castps256_ps512(_mm512_cvtpd_ps(v)));
}
#elif defined(FL_TARGET_AVX2)
/* AVX masked loads / stores (lanes past n never touched) */
FL_INLINE __m256i fl_first_epi32(ptrdiff_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
FL_INLINE __m256i fl_first_epi64(ptrdiff_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}
FL_INLINE vf32 vf32_load_part(const float* p, ptrdiff_t n, float fill) {
    __m256i m = fl_first_epi32(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
FL_INLINE void vf32_store_part(float* p, vf32 v, ptrdiff_t n) {
    _mm256_maskstore_ps(p, fl_first_epi32(n), v);
}
FL_INLINE vf64 vf64_load_part(const double* p, ptrdiff_t n, double fill) {
    __m256i m = fl_first_epi64(n);
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m));
}
FL_INLINE void vf64_store_part(double* p, vf64 v, ptrdiff_t n) {
    _mm256_maskstore_pd(p, fl_first_epi64(n), v);
}
FL_INLINE vf64 vf64_load_f32_part(const float* p, ptrdiff_t n, float fill) {
    __m128i m = _mm256_castsi256_si128(fl_first_epi32(n));
    __m128 v = _mm_blendv_ps(_mm_set1_ps(fill), _mm_maskload_ps(p, m), _mm_castsi128_ps(m));
    return _mm256_cvtps_pd(v);
}
FL_INLINE void vf64_store_f32_part(float* p, vf64 v, ptrdiff_t n) {
    _mm_maskstore_ps(p, _mm256_castsi256_si128(fl_first_epi32(n)), _mm256_cvtpd_ps(v));
}
#else
/* through a buffer: LOAD_PART / STORE_PART of LOAD / STORE, which move NL
 * elements of type T */
#define FL_DEF_PART(V, T, NL, LOAD_PART, STORE_PART, LOAD, STORE)                     \
FL_INLINE V LOAD_PART(const T* p, ptrdiff_t n, T fill) {                              \
    T b[NL];                                                                          \
    for (int j = 0; j < NL; j++) b[j] = j < n ? p[j] : fill;                          \
    return LOAD(b);                                                                   \
}                                                                                     \
FL_INLINE void STORE_PART(T* p, V v, ptrdiff_t n) {                                   \
    T b[NL];                                                                          \
    STORE(b, v);                                                                      \
    for (ptrdiff_t j = 0; j < n; j++) p[j] = b[j];                                    \
}
FL_DEF_PART(vf32, float, FL_NF32, vf32_load_part, vf32_store_part, vf32_load, vf32_store)
FL_DEF_PART(vf64, double, FL_NF64, vf64_load_part, vf64_store_part, vf64_load, vf64_store)
FL_DEF_PART(vf64, float, FL_NF64, vf64_load_f32_part, vf64_store_f32_part,
            vf64_load_f32, vf64_store_f32)
#endif

/* Σ lanes in a fixed pairwise tree */
FL_INLINE double vf64_hsum(vf64 v) {
    double b[FL_NF64];
    vf64_store(b, v);
    for (int w = FL_NF64 / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) b[j] = b[j] + b[j + w];
    return b[0];
}
#if defined(FL_TARGET_AVX512)
/* a max tree (a NaN lane may or may not win: the callers test NaN apart) */
FL_INLINE float vf32_hmax(vf32 v) { return _mm512_reduce_max_ps(v); }
FL_INLINE double vf64_hmax(vf64 v) { return _mm512_reduce_max_pd(v); }
#else
FL_INLINE float vf32_hmax(vf32 v) {
    float b[FL_NF32], m = -INFINITY;
    vf32_store(b, v);
    for (int j = 0; j < FL_NF32; j++) m = b[j] > m ? b[j] : m;
    return m;
}
FL_INLINE double vf64_hmax(vf64 v) {
    double b[FL_NF64], m = -INFINITY;
    vf64_store(b, v);
    for (int j = 0; j < FL_NF64; j++) m = b[j] > m ? b[j] : m;
    return m;
}
#endif
/* acc + the lanes of a vf32 in float64 (low half first) */
FL_INLINE vf64 vf64_add_f32(vf64 acc, vf32 v) {
    for (int h = 0; h < FL_HALVES; h++) acc = vf64_add(acc, vf32_widen(v, h));
    return acc;
}

FL_INLINE vf32 vf32_abs(vf32 x) {
#if defined(FL_TARGET_SCALAR)
    return fabsf(x);
#else
    return vf32_andnot(vf32_set1(-0.0f), x);
#endif
}
FL_INLINE vf64 vf64_abs(vf64 x) { return vf64_andnot(vf64_set1(-0.0), x); }
/* -|x| */
FL_INLINE vf32 vf32_negabs(vf32 x) {
#if defined(FL_TARGET_SCALAR)
    return -fabsf(x);
#else
    return vf32_or(x, vf32_set1(-0.0f));
#endif
}
FL_INLINE vf64 vf64_negabs(vf64 x) { return vf64_or(x, vf64_set1(-0.0)); }
/* |a| with the sign of s */
FL_INLINE vf64 vf64_copysign(vf64 a, vf64 s) {
    const vf64 sign = vf64_set1(-0.0);
    return vf64_or(vf64_andnot(sign, a), vf64_and(sign, s));
}

/* FL_NF64 boxes of 4 coordinates, stored box after box (box j at p[4j ..
 * 4j + 3]), as 4 vectors of one coordinate each (c[m] lane j = p[4j + m]),
 * and back: register transposes, no gathers or scatters.  Vector targets
 * only (the scalar target's box path is the closed forms). */
#if defined(FL_TARGET_AVX512)
/* r[i] holds boxes 2i and 2i + 1; a 4 x 8 transpose, its own inverse up to
 * the operand order: two-source permutes, then 256-bit halves */
FL_INLINE void fl_boxes_transpose(const vf64 r[4], vf64 c[4]) {
    const __m512i i0 = _mm512_setr_epi64(0, 4, 8, 12, 1, 5, 9, 13);
    const __m512i i1 = _mm512_setr_epi64(2, 6, 10, 14, 3, 7, 11, 15);
    vf64 a = _mm512_permutex2var_pd(r[0], i0, r[1]), b = _mm512_permutex2var_pd(r[0], i1, r[1]);
    vf64 d = _mm512_permutex2var_pd(r[2], i0, r[3]), e = _mm512_permutex2var_pd(r[2], i1, r[3]);
    c[0] = _mm512_shuffle_f64x2(a, d, 0x44);
    c[1] = _mm512_shuffle_f64x2(a, d, 0xEE);
    c[2] = _mm512_shuffle_f64x2(b, e, 0x44);
    c[3] = _mm512_shuffle_f64x2(b, e, 0xEE);
}
FL_INLINE void fl_boxes_untranspose(const vf64 c[4], vf64 r[4]) {
    const __m512i i0 = _mm512_setr_epi64(0, 4, 8, 12, 1, 5, 9, 13);
    const __m512i i1 = _mm512_setr_epi64(2, 6, 10, 14, 3, 7, 11, 15);
    vf64 a = _mm512_shuffle_f64x2(c[0], c[1], 0x44), d = _mm512_shuffle_f64x2(c[0], c[1], 0xEE);
    vf64 b = _mm512_shuffle_f64x2(c[2], c[3], 0x44), e = _mm512_shuffle_f64x2(c[2], c[3], 0xEE);
    r[0] = _mm512_permutex2var_pd(a, i0, b);
    r[1] = _mm512_permutex2var_pd(a, i1, b);
    r[2] = _mm512_permutex2var_pd(d, i0, e);
    r[3] = _mm512_permutex2var_pd(d, i1, e);
}
#define FL_BOX_ROW 8               /* coordinates per r[i] */
#elif defined(FL_TARGET_AVX2)
/* r[i] is box i: the 4 x 4 transpose, which is its own inverse */
FL_INLINE void fl_boxes_transpose(const vf64 r[4], vf64 c[4]) {
    vf64 t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    vf64 t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    c[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    c[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    c[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    c[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
FL_INLINE void fl_boxes_untranspose(const vf64 c[4], vf64 r[4]) { fl_boxes_transpose(c, r); }
#define FL_BOX_ROW 4
#elif defined(FL_TARGET_SSE2)
/* r = (box 0 x1 y1, box 1 x1 y1, box 0 x2 y2, box 1 x2 y2) */
FL_INLINE void fl_boxes_transpose(const vf64 r[4], vf64 c[4]) {
    c[0] = _mm_unpacklo_pd(r[0], r[1]);
    c[1] = _mm_unpackhi_pd(r[0], r[1]);
    c[2] = _mm_unpacklo_pd(r[2], r[3]);
    c[3] = _mm_unpackhi_pd(r[2], r[3]);
}
FL_INLINE void fl_boxes_untranspose(const vf64 c[4], vf64 r[4]) {
    r[0] = _mm_unpacklo_pd(c[0], c[1]);
    r[1] = _mm_unpackhi_pd(c[0], c[1]);
    r[2] = _mm_unpacklo_pd(c[2], c[3]);
    r[3] = _mm_unpackhi_pd(c[2], c[3]);
}
#endif
#if !defined(FL_TARGET_SCALAR)
#if defined(FL_TARGET_SSE2)
/* offset of r[i] in the 8 coordinates of two boxes */
#define FL_BOX_AT(i) ((i) == 0 ? 0 : (i) == 1 ? 4 : (i) == 2 ? 2 : 6)
#else
#define FL_BOX_AT(i) ((i) * FL_BOX_ROW)
#endif
FL_INLINE void vf64_load_boxes(const double* p, vf64 c[4]) {
    vf64 r[4];
    for (int i = 0; i < 4; i++) r[i] = vf64_load(p + FL_BOX_AT(i));
    fl_boxes_transpose(r, c);
}
FL_INLINE void vf64_load_boxes_f32(const float* p, vf64 c[4]) {
    vf64 r[4];
    for (int i = 0; i < 4; i++) r[i] = vf64_load_f32(p + FL_BOX_AT(i));
    fl_boxes_transpose(r, c);
}
FL_INLINE void vf64_store_boxes(double* p, const vf64 c[4]) {
    vf64 r[4];
    fl_boxes_untranspose(c, r);
    for (int i = 0; i < 4; i++) vf64_store(p + FL_BOX_AT(i), r[i]);
}
FL_INLINE void vf64_store_boxes_f32(float* p, const vf64 c[4]) {
    vf64 r[4];
    fl_boxes_untranspose(c, r);
    for (int i = 0; i < 4; i++) vf64_store_f32(p + FL_BOX_AT(i), r[i]);
}
#endif

/* lanes where `ok` is clear redone by the libm function f (rare lanes:
 * the branch is predictable) */
#define FL_FIXUP64(r, x, ok, f)                                                \
    do {                                                                       \
        if (__builtin_expect(!mf64_all(ok), 0)) {                              \
            double xb_[FL_NF64], rb_[FL_NF64], mb_[FL_NF64];                   \
            vf64_store(xb_, x);                                                \
            vf64_store(rb_, r);                                                \
            vf64_store(mb_, vf64_select(ok, vf64_set1(1.0), vf64_zero()));     \
            for (int j_ = 0; j_ < FL_NF64; j_++)                               \
                if (mb_[j_] == 0.0) rb_[j_] = f(xb_[j_]);                      \
            r = vf64_load(rb_);                                                \
        }                                                                      \
    } while (0)

#if defined(FL_TARGET_SCALAR)
FL_INLINE vf32 fl_exp_nonpos_f32(vf32 x) { return expf(x); }
FL_INLINE vf64 fl_exp_nonpos_f64(vf64 x) { return exp(x); }
FL_INLINE vf64 fl_exp_f64(vf64 x) { return exp(x); }
FL_INLINE vf64 fl_expm1_nonpos_f64(vf64 x, vf64* ex) { *ex = exp(x); return expm1(x); }
FL_INLINE vf64 fl_log_f64(vf64 x) { return log(x); }
FL_INLINE vf32 fl_log1p_unit_f32(vf32 z, vf32 u, vf32 d) { (void)u; (void)d; return log1pf(z); }
FL_INLINE vf64 fl_log1p_unit_f64(vf64 z, vf64 u, vf64 d) { (void)u; (void)d; return log1p(z); }
#else
/* exp(x) for x <= 0 (f32: flushed to 0 below -87.3365) */
FL_INLINE vf32 fl_exp_nonpos_f32(vf32 x) {
    const vf32 lo = vf32_set1(-87.3365f), magic = vf32_set1(12582912.0f); /* 1.5 2^23 */
    mf32 keep = vf32_nlt(x, lo);                                  /* NaN: kept */
    vf32 xc = vf32_max(lo, x);                                    /* NaN stays */
    vf32 t = vf32_fma(xc, vf32_set1(1.44269504088896341f), magic);
    vf32 n = vf32_sub(t, magic);                                  /* round(x / ln2) */
    vf32 r = vf32_fnma(n, vf32_set1(0.693359375f), xc);
    r = vf32_fnma(n, vf32_set1(-2.12194440054690583e-4f), r);
    vf32 p = vf32_set1(1.0f / 5040.0f);
    p = vf32_fma(p, r, vf32_set1(1.0f / 720.0f));
    p = vf32_fma(p, r, vf32_set1(1.0f / 120.0f));
    p = vf32_fma(p, r, vf32_set1(1.0f / 24.0f));
    p = vf32_fma(p, r, vf32_set1(1.0f / 6.0f));
    p = vf32_fma(p, r, vf32_set1(0.5f));
    p = vf32_fma(p, r, vf32_set1(1.0f));
    p = vf32_fma(p, r, vf32_set1(1.0f));
    /* t's low mantissa bits hold n + 2^22; +127 - 2^22 ... shifted to the exponent */
    vf32 scale = vf32_shl23(vf32_add(t, vf32_set1(127.0f)));
    return vf32_keep(keep, vf32_mul(p, scale));
}

/* exp(x) for x <= 708 (reduction and polynomial; flushed below -708.39) */
FL_INLINE vf64 fl_exp_core_f64(vf64 x, vf64* scale, vf64* q) {
    const vf64 lo = vf64_set1(-708.39), magic = vf64_set1(6755399441055744.0); /* 1.5 2^52 */
    mf64 keep = vf64_nlt(x, lo);
    vf64 xc = vf64_max(lo, x);
    vf64 t = vf64_fma(xc, vf64_set1(1.4426950408889634074), magic);
    vf64 n = vf64_sub(t, magic);
    vf64 r = vf64_fnma(n, vf64_set1(6.93147180369123816490e-01), xc);
    r = vf64_fnma(n, vf64_set1(1.90821492927058770002e-10), r);
    static const double c[13] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0};
    vf64 p = vf64_set1(c[0]);
    for (int i = 1; i < 13; i++) p = vf64_fma(p, r, vf64_set1(c[i]));
    *q = vf64_mul(p, r);                                 /* exp(r) - 1 */
    /* t's low bits hold n (+ 2^51); adding 1023 and shifting by 52 leaves
     * exactly the biased exponent of 2^n */
    vf64 s = vf64_shl52(vf64_add(t, vf64_set1(1023.0)));
    *scale = vf64_keep(keep, s);
    return vf64_fma(*scale, *q, *scale);
}
FL_INLINE vf64 fl_exp_nonpos_f64(vf64 x) {
    vf64 s, q;
    return fl_exp_core_f64(x, &s, &q);
}
FL_INLINE vf64 fl_exp_f64(vf64 x) {
    /* lanes above 708 (and NaN) by libm: overflow to inf, NaN stays */
    vf64 s, q, e = fl_exp_core_f64(vf64_min(x, vf64_set1(708.0)), &s, &q);
    FL_FIXUP64(e, x, vf64_le(x, vf64_set1(708.0)), exp);
    return e;
}
/* expm1(x) for x <= 0, and exp(x) in *ex, from one reduction */
FL_INLINE vf64 fl_expm1_nonpos_f64(vf64 x, vf64* ex) {
    vf64 s, q;
    *ex = fl_exp_core_f64(x, &s, &q);
    return vf64_fma(s, q, vf64_sub(s, vf64_set1(1.0)));
}

/* log(m) for m in [sqrt(1/2), sqrt(2)] by 2 atanh(s) */
FL_INLINE vf64 fl_log_mid_f64(vf64 m) {
    const vf64 one = vf64_set1(1.0);
    vf64 s = vf64_div(vf64_sub(m, one), vf64_add(m, one));
    vf64 s2 = vf64_mul(s, s);
    static const double c[10] = {1.0 / 21.0, 1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0,
                                 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0};
    vf64 q = vf64_set1(c[0]);
    for (int i = 1; i < 10; i++) q = vf64_fma(q, s2, vf64_set1(c[i]));
    vf64 two_s = vf64_add(s, s);
    return vf64_fma(vf64_mul(two_s, s2), q, two_s);
}
/* log(x); lanes outside [DBL_MIN, DBL_MAX] by libm */
FL_INLINE vf64 fl_log_f64(vf64 x) {
    const vf64 one = vf64_set1(1.0);
    /* exponent field as a double: 2^52 + e, minus 2^52 + 1023 */
    vf64 kd = vf64_sub(vf64_or(vf64_shr52(x), vf64_set1(4503599627370496.0)),
                       vf64_set1(4503599627370496.0 + 1023.0));
    vf64 mant_bits;
    {
        uint64_t mm = 0x000FFFFFFFFFFFFFULL;
        double md;
        memcpy(&md, &mm, 8);
        mant_bits = vf64_set1(md);
    }
    vf64 m = vf64_or(vf64_and(x, mant_bits), one);                 /* [1, 2) */
    mf64 big = vf64_gt(m, vf64_set1(1.4142135623730951));
    m = vf64_select(big, vf64_mul(m, vf64_set1(0.5)), m);
    kd = vf64_add(kd, vf64_keep(big, one));
    vf64 r = vf64_fma(kd, vf64_set1(6.93147180369123816490e-01),
                      vf64_fma(kd, vf64_set1(1.90821492927058770002e-10), fl_log_mid_f64(m)));
    mf64 ok = mf64_and(vf64_ge(x, vf64_set1(2.2250738585072014e-308)),
                       vf64_le(x, vf64_set1(1.7976931348623157e308)));
    FL_FIXUP64(r, x, ok, log);
    return r;
}

/* log1p(z), z in [0, 1], given u = 1 + z (rounded) and d = 1 / u */
FL_INLINE vf64 fl_log1p_unit_f64(vf64 z, vf64 u, vf64 d) {
    const vf64 one = vf64_set1(1.0);
    mf64 big = vf64_gt(u, vf64_set1(1.4142135623730951));
    vf64 m = vf64_select(big, vf64_mul(u, vf64_set1(0.5)), u);
    vf64 k = vf64_keep(big, one);
    vf64 corr = vf64_mul(vf64_sub(z, vf64_sub(u, one)), d);
    vf64 lo = vf64_fma(k, vf64_set1(1.90821492927058770002e-10), corr);
    return vf64_fma(k, vf64_set1(6.93147180369123816490e-01), vf64_add(fl_log_mid_f64(m), lo));
}
/* log1p(z), z in [0, 1], as z P(z): P of degree 10 fitted here (weighted
 * least squares on Chebyshev nodes of [0, 1], reweighted towards equal
 * relative error; coefficients rounded to float).  No division and no
 * reduction, where the log series needs one of each (u and d unused). */
FL_INLINE vf32 fl_log1p_unit_f32(vf32 z, vf32 u, vf32 d) {
    (void)u;
    (void)d;
    static const float c[11] = {
        2.030213829e-03f, -1.340739336e-02f, 4.147793725e-02f, -8.244141191e-02f,
        1.241841167e-01f, -1.610568017e-01f, 1.989074498e-01f, -2.498726994e-01f,
        3.333255947e-01f, -4.999998212e-01f, 1.0f};
    vf32 p = vf32_set1(c[0]);
    for (int i = 1; i < 11; i++) p = vf32_fma(p, z, vf32_set1(c[i]));
    return vf32_mul(z, p);
}
#endif

#endif /* FASTLOSS_SIMD_VEC_H */
