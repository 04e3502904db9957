/* The one choice of vector path per process: the per-target tables
 * (simd/target.c), CPU detection and the selection.  Compiled once, with
 * the baseline flags, into the one module that owns it (_kernels/simd.pyx);
 * the other kernel modules read the chosen table through simd.pxd. */
#include "kernels.h"

extern const fl_kernels fl_kernels_scalar;
#if defined(FASTLOSS_X86_TARGETS)
extern const fl_kernels fl_kernels_sse2, fl_kernels_avx2, fl_kernels_avx512;
#endif

/* Every caller holds this one pointer's target (never a copy): switching
 * the path switches every module at once. */
static fl_kernels fl_active;

static const fl_kernels* fl_table_of(int path) {
#if defined(FASTLOSS_X86_TARGETS)
    switch (path) {
    case FL_PATH_SSE2: return &fl_kernels_sse2;
    case FL_PATH_AVX2: return &fl_kernels_avx2;
    case FL_PATH_AVX512: return &fl_kernels_avx512;
    default: break;
    }
#endif
    (void)path;
    return &fl_kernels_scalar;
}

int fl_cpu_has_path(int path) {
    if (path == FL_PATH_SCALAR) return 1;
#if defined(FASTLOSS_X86_TARGETS)
    __builtin_cpu_init();
    switch (path) {
    case FL_PATH_SSE2: return 1;
    case FL_PATH_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FL_PATH_AVX512:
        /* libgcc / compiler-rt also check that the OS saves the zmm state */
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2")
               && __builtin_cpu_supports("fma");
    default: return 0;
    }
#else
    return 0;
#endif
}

int fl_select_path(int path) {
    if (path < 0) {
        path = FL_PATH_COUNT - 1;
        while (path > 0 && !fl_cpu_has_path(path)) path--;
    }
    if (path >= FL_PATH_COUNT || !fl_cpu_has_path(path)) return -1;
    fl_active = *fl_table_of(path);
#if defined(FASTLOSS_X86_TARGETS)
    /* The Hellinger row is bound by sqrt and division, which 512-bit lanes
     * do no faster per element here, while the wide registers cost clock:
     * measured 7-9% slower than the 256-bit row (rows of 100, thread CPU
     * time, min of 21 runs), so the AVX-512 path keeps AVX2's. */
    if (path == FL_PATH_AVX512) {
        fl_active.hell_f = fl_kernels_avx2.hell_f;
        fl_active.hell_d = fl_kernels_avx2.hell_d;
    }
#endif
    return path;
}

const fl_kernels* fl_kernels_active(void) {
    if (fl_active.name == NULL) fl_select_path(-1);
    return &fl_active;
}
