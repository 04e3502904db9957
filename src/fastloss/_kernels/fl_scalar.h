/* Scalar helpers that must compile without branches.
 *
 * gcc turns `(x > 0) - (x < 0)` into compare-and-jump once it is inlined into
 * a larger loop body; on random data that jump mispredicts half the time
 * (measured: mean absolute error's gradient 4x slower on random signs than
 * on sorted ones).  Integer masks on the IEEE bits keep it branch-free. */
#ifndef FASTLOSS_FL_SCALAR_H
#define FASTLOSS_FL_SCALAR_H
#include <stdint.h>
#include <string.h>

/* -1, 0 or +1 with the sign of x (+-0 for +-0); NaN is returned unchanged. */
static inline double fl_sign(double x)
{
    const uint64_t SIGN = 0x8000000000000000ULL;
    const uint64_t ONE = 0x3ff0000000000000ULL;      /* bits of 1.0 */
    const uint64_t EXP = 0x7ff0000000000000ULL;
    uint64_t b, r, mag, nonzero, isnan;
    double out;
    memcpy(&b, &x, sizeof b);
    mag = b & ~SIGN;
    nonzero = (uint64_t)0 - (uint64_t)(mag != 0);
    isnan = (uint64_t)0 - (uint64_t)(mag > EXP);
    r = (b & SIGN) | (ONE & nonzero);
    r = (b & isnan) | (r & ~isnan);
    memcpy(&out, &r, sizeof out);
    return out;
}
#endif
