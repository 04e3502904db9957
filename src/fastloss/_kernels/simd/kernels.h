/* The one kernel table: every vector kernel of the package, one struct type.
 *
 * simd/target.c fills one instance per target (designated initialisers,
 * compiled once per target with that target's flags); simd/dispatch.c picks
 * one per process (CPU detection, FASTLOSS_SIMD, set_simd_path) and is linked
 * into the one extension module that owns the choice (_kernels/simd.pyx).
 * Every other kernel module reads the chosen table through simd.pxd.
 *
 * A NULL entry means "no vector form on this target": the caller runs its
 * scalar closed form (the "scalar" target leaves every loss block NULL, so
 * that path is the closed forms with libm).
 */
#ifndef FASTLOSS_SIMD_KERNELS_H
#define FASTLOSS_SIMD_KERNELS_H

#include <stddef.h>

/* elementwise blocks, indexed by FL_PW_* */
enum {
    FL_PW_BCE_LOGIT = 0,     /* weighted BCE from logits (pos, neg, smooth) */
    FL_PW_FOCAL2_LOGIT = 1,  /* binary focal from logits, gamma = 2 (pos, neg) */
    FL_PW_LOGCOSH = 2,
    FL_PW_POISSON_LOG = 3,   /* Poisson with log-rate input */
    FL_PW_SQUARED = 4,       /* squared error */
    FL_PW_ABSOLUTE = 5,      /* absolute error */
    FL_PW_HUBER = 6,         /* Huber (pos = delta) */
    FL_PW_EXPECTILE = 7,     /* expectile (pos = tau) */
    FL_PW_PSEUDO_HUBER = 8,  /* pseudo-Huber (pos = delta) */
    FL_PW_PINBALL = 9,       /* pinball, one quantile (pos = q) */
    /* pinball, one quantile per column: an unweighted block starting a row of
     * k = pos > 1 elements, rows NULL; w holds the k quantiles */
    FL_PW_PINBALL_COLS = 10,
    FL_PW_TWEEDIE = 11,      /* Tweedie deviance, rate input (pos = power) */
    FL_PW_TWEEDIE_LOG = 12,  /* Tweedie deviance, log input (pos = power) */
    FL_PW_COUNT = 13
};

/* vector functions over arrays, for the accuracy tests, indexed by FL_MATH_* */
enum {
    FL_MATH_EXP_NONPOS = 0,  /* exp(x), x <= 0 */
    FL_MATH_EXP = 1,         /* exp(x), any x */
    FL_MATH_LOG = 2,
    FL_MATH_LOG1P_UNIT = 3,  /* log1p(z), z in [0, 1] */
    FL_MATH_EXPM1_NONPOS = 4,/* expm1(x), x <= 0 */
    FL_MATH_COUNT = 5
};

enum { FL_PATH_SCALAR = 0, FL_PATH_SSE2 = 1, FL_PATH_AVX2 = 2, FL_PATH_AVX512 = 3,
       FL_PATH_COUNT = 4 };

/* One block of elements: returns Σ w_i l_i (w NULL: all 1) and writes, where
 * the pointers are not NULL, gscale w_i dl/dx, gscale w_i d2l/dx2 and w_i l_i.
 * pos / neg / smooth are read by the binary losses only; pos is the
 * regression losses' parameter (see FL_PW_*; FL_PW_PINBALL_COLS reads w and
 * pos differently). */
typedef double (*fl_pw_f32)(const float* y, const float* x, const double* w, ptrdiff_t n,
                            double pos, double neg, double smooth, double gscale,
                            float* g, float* h, float* rows);
typedef double (*fl_pw_f64)(const double* y, const double* x, const double* w, ptrdiff_t n,
                            double pos, double neg, double smooth, double gscale,
                            double* g, double* h, double* rows);

/* GIoU over n boxes (boxes.pyx `_block`; rows of 4 coordinates in format
 * fmt, boxes.FORMATS): returns Σ w_i l_i (w NULL: all 1) and writes, where
 * the pointers are not NULL, scale w_i dl_i/dp and w_i l_i. */
typedef double (*fl_box_f32)(const float* t, const float* p, const double* w, ptrdiff_t n,
                             int fmt, double eps, double scale, float* g, float* rows);
typedef double (*fl_box_f64)(const double* t, const double* p, const double* w, ptrdiff_t n,
                             int fmt, double eps, double scale, double* g, double* rows);

typedef struct fl_kernels {
    const char* name;
    int path;
    /* row helpers (every target) */
    float (*max_f)(const float* x, ptrdiff_t n);
    double (*max_d)(const double* x, ptrdiff_t n);
    /* Σ exp(x_i - m) in float64; the terms go to out unless it is NULL */
    double (*expsum_f)(const float* x, ptrdiff_t n, float m, float* out);
    double (*expsum_d)(const double* x, ptrdiff_t n, double m, double* out);
    int (*any_nan_f)(const float* x, ptrdiff_t n);
    int (*any_nan_d)(const double* x, ptrdiff_t n);
    /* bit 0: some label not in {-1, 1}; bit 1: some label not in {0, 1} */
    int (*hinge_labels_f)(const float* y, ptrdiff_t n);
    int (*hinge_labels_d)(const double* y, ptrdiff_t n);
    /* sparse softmax cross-entropy from logits (every target; rows.c):
     * one tile of t samples, lanes across samples (classes S apart, or rows
     * of C when contiguous), returning total + Σ w_i l_i in sample order */
    double (*sce_tile_f)(const long long* labels, const float* x, const double* w,
                         ptrdiff_t t, ptrdiff_t C, ptrdiff_t S, int contiguous, double scale,
                         float* g, float* h, float* rows, const float* nx, ptrdiff_t tn,
                         float* buf, double total);
    double (*sce_tile_d)(const long long* labels, const double* x, const double* w,
                         ptrdiff_t t, ptrdiff_t C, ptrdiff_t S, int contiguous, double scale,
                         double* g, double* h, double* rows, const double* nx, ptrdiff_t tn,
                         double* buf, double total);
    /* row losses (NULL: closed form) */
    double (*kl_log_f)(const float* y, const float* x, ptrdiff_t C, double gs, float* g);
    double (*kl_log_d)(const double* y, const double* x, ptrdiff_t C, double gs, double* g);
    double (*hell_f)(const float* y, const float* x, ptrdiff_t C, double eps, double gs,
                     float* g);
    double (*hell_d)(const double* y, const double* x, ptrdiff_t C, double eps, double gs,
                     double* g);
    double (*cce_f)(const float* y, const float* x, ptrdiff_t C, double smooth,
                    const double* class_weight, double gs, float* g, float* h);
    double (*cce_d)(const double* y, const double* x, ptrdiff_t C, double smooth,
                    const double* class_weight, double gs, double* g, double* h);
    /* g: the row's e_j (never NULL), then its gradient when grad != 0 */
    double (*focal_f)(const float* y, const float* x, ptrdiff_t C, double gamma,
                      const double* alpha, double gs, float* g, int grad);
    double (*focal_d)(const double* y, const double* x, ptrdiff_t C, double gamma,
                      const double* alpha, double gs, double* g, int grad);
    double (*cos_f)(const float* y, const float* x, ptrdiff_t C, double gs, float* g);
    double (*cos_d)(const double* y, const double* x, ptrdiff_t C, double gs, double* g);
    /* one long row (y unused; g NULL: the loss only) */
    double (*sce_row_f)(const float* y, const float* x, ptrdiff_t C, ptrdiff_t label,
                        double gs, float* g, float* h);
    double (*sce_row_d)(const double* y, const double* x, ptrdiff_t C, ptrdiff_t label,
                        double gs, double* g, double* h);
    /* elementwise blocks (NULL: closed forms) */
    fl_pw_f32 pw_f[FL_PW_COUNT];
    fl_pw_f64 pw_d[FL_PW_COUNT];
    /* GIoU blocks (NULL: closed form) */
    fl_box_f32 giou_f;
    fl_box_f64 giou_d;
    /* the vector functions themselves (NULL: not in this precision) */
    void (*math_f[FL_MATH_COUNT])(const float* x, ptrdiff_t n, float* out);
    void (*math_d[FL_MATH_COUNT])(const double* x, ptrdiff_t n, double* out);
} fl_kernels;

/* the GIoU entries of a table, for boxes.pyx (whose view of the struct,
 * simd.pxd's, does not name them) */
static inline fl_box_f32 fl_giou_entry_f(const fl_kernels* k) { return k->giou_f; }
static inline fl_box_f64 fl_giou_entry_d(const fl_kernels* k) { return k->giou_d; }

/* simd/dispatch.c */
const fl_kernels* fl_kernels_active(void);
int fl_cpu_has_path(int path);
int fl_select_path(int path);      /* -1: the widest the CPU has; returns the path */

#endif
