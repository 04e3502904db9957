/* One target's kernels and its table: compiled once per target by CMake
 * with -DFL_TARGET_<NAME> and that target's flags (simd/vec.h). */
#include "kernels.h"
#include "vec.h"

#include "rows.c"
#include "pointwise.c"
#include "boxes.c"

#if defined(FL_TARGET_SCALAR)
#define FL_VEC(entry) NULL     /* the scalar path is the closed forms */
#else
#define FL_VEC(entry) entry
#endif

const fl_kernels FL_SUFFIX(fl_kernels) = {
    .name = FL_TARGET_NAME,
#if defined(FL_TARGET_AVX512)
    .path = FL_PATH_AVX512,
#elif defined(FL_TARGET_AVX2)
    .path = FL_PATH_AVX2,
#elif defined(FL_TARGET_SSE2)
    .path = FL_PATH_SSE2,
#else
    .path = FL_PATH_SCALAR,
#endif
    .max_f = fl_max_f,
    .max_d = fl_max_d,
    .expsum_f = fl_expsum_f,
    .expsum_d = fl_expsum_d,
    .any_nan_f = fl_any_nan_f,
    .any_nan_d = fl_any_nan_d,
    .hinge_labels_f = fl_hinge_labels_f,
    .hinge_labels_d = fl_hinge_labels_d,
    .sce_tile_f = fl_sce_tile_f,
    .sce_tile_d = fl_sce_tile_d,
    .kl_log_f = FL_VEC(fl_kl_log_f),
    .kl_log_d = FL_VEC(fl_kl_log_d),
    .hell_f = FL_VEC(fl_hell_f),
    .hell_d = FL_VEC(fl_hell_d),
    .cce_f = FL_VEC(fl_cce_f),
    .cce_d = FL_VEC(fl_cce_d),
    .focal_f = FL_VEC(fl_focal_f),
    .focal_d = FL_VEC(fl_focal_d),
    .cos_f = FL_VEC(fl_cos_f),
    .cos_d = FL_VEC(fl_cos_d),
    .sce_row_f = FL_VEC(fl_sce_row_f),
    .sce_row_d = FL_VEC(fl_sce_row_d),
    .pw_f = {
        [FL_PW_BCE_LOGIT] = FL_VEC(fl_bce_logit_f),
        [FL_PW_FOCAL2_LOGIT] = FL_VEC(fl_focal2_logit_f),
        [FL_PW_LOGCOSH] = FL_VEC(fl_logcosh_f),
        [FL_PW_POISSON_LOG] = FL_VEC(fl_poisson_log_f),
        [FL_PW_SQUARED] = FL_VEC(fl_squared_f),
        [FL_PW_ABSOLUTE] = FL_VEC(fl_absolute_f),
        [FL_PW_HUBER] = FL_VEC(fl_huber_f),
        [FL_PW_EXPECTILE] = FL_VEC(fl_expectile_f),
        [FL_PW_PSEUDO_HUBER] = FL_VEC(fl_pseudo_huber_f),
        [FL_PW_PINBALL] = FL_VEC(fl_pinball_f),
        [FL_PW_PINBALL_COLS] = FL_VEC(fl_pinball_cols_f),
        [FL_PW_TWEEDIE] = FL_VEC(fl_tweedie_f),
        [FL_PW_TWEEDIE_LOG] = FL_VEC(fl_tweedie_log_f),
    },
    .pw_d = {
        [FL_PW_BCE_LOGIT] = FL_VEC(fl_bce_logit_d),
        [FL_PW_FOCAL2_LOGIT] = FL_VEC(fl_focal2_logit_d),
        [FL_PW_LOGCOSH] = FL_VEC(fl_logcosh_d),
        [FL_PW_POISSON_LOG] = FL_VEC(fl_poisson_log_d),
        [FL_PW_SQUARED] = FL_VEC(fl_squared_d),
        [FL_PW_ABSOLUTE] = FL_VEC(fl_absolute_d),
        [FL_PW_HUBER] = FL_VEC(fl_huber_d),
        [FL_PW_EXPECTILE] = FL_VEC(fl_expectile_d),
        [FL_PW_PSEUDO_HUBER] = FL_VEC(fl_pseudo_huber_d),
        [FL_PW_PINBALL] = FL_VEC(fl_pinball_d),
        [FL_PW_PINBALL_COLS] = FL_VEC(fl_pinball_cols_d),
        [FL_PW_TWEEDIE] = FL_VEC(fl_tweedie_d),
        [FL_PW_TWEEDIE_LOG] = FL_VEC(fl_tweedie_log_d),
    },
    .giou_f = FL_VEC(fl_giou_f),
    .giou_d = FL_VEC(fl_giou_d),
    .math_f = {
        [FL_MATH_EXP_NONPOS] = fl_math_exp_nonpos_f,
        [FL_MATH_LOG1P_UNIT] = fl_math_log1p_unit_f,
    },
    .math_d = {
        [FL_MATH_EXP_NONPOS] = fl_math_exp_nonpos_d,
        [FL_MATH_EXP] = fl_math_exp_d,
        [FL_MATH_LOG] = fl_math_log_d,
        [FL_MATH_LOG1P_UNIT] = fl_math_log1p_unit_d,
        [FL_MATH_EXPM1_NONPOS] = fl_math_expm1_nonpos_d,
    },
};
