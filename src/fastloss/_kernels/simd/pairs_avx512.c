/* pairs.c for the avx512 path.  Compiled with the module's baseline flags:
 * the ISA is enabled for this file's functions only (so the ranking
 * module's command line carries no -m flags, tools/check_wheel.py), and
 * they run only when the process's kernel table is on this path, which
 * simd/dispatch.c chose after detecting the CPU (pairs.h checks again). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx2,fma")
#endif
#define FL_TARGET_AVX512 1
#include "pairs.c"
#if defined(__clang__)
#pragma clang attribute pop
#endif
