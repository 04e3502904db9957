# The one kernel table (simd/kernels.h) and its owner's accessor: other
# kernel modules `from fastloss._kernels.simd cimport ...` and call through
# the table this module chose (Cython imports `kernels` through a capsule,
# so the table, the CPU detection and the choice exist once per process).
cdef extern from "simd/kernels.h" nogil:
    enum:
        FL_PW_BCE_LOGIT
        FL_PW_FOCAL2_LOGIT
        FL_PW_LOGCOSH
        FL_PW_POISSON_LOG
        FL_PW_COUNT
        FL_MATH_EXP_NONPOS
        FL_MATH_EXP
        FL_MATH_LOG
        FL_MATH_LOG1P_UNIT
        FL_MATH_EXPM1_NONPOS
        FL_MATH_COUNT
    ctypedef double (*fl_pw_f32)(const float*, const float*, const double*, Py_ssize_t,
                                 double, double, double, double,
                                 float*, float*, float*) noexcept nogil
    ctypedef double (*fl_pw_f64)(const double*, const double*, const double*, Py_ssize_t,
                                 double, double, double, double,
                                 double*, double*, double*) noexcept nogil
    ctypedef struct fl_kernels:
        const char* name
        int path
        float (*max_f)(const float*, Py_ssize_t) noexcept nogil
        double (*max_d)(const double*, Py_ssize_t) noexcept nogil
        double (*expsum_f)(const float*, Py_ssize_t, float, float*) noexcept nogil
        double (*expsum_d)(const double*, Py_ssize_t, double, double*) noexcept nogil
        int (*any_nan_f)(const float*, Py_ssize_t) noexcept nogil
        int (*any_nan_d)(const double*, Py_ssize_t) noexcept nogil
        int (*hinge_labels_f)(const float*, Py_ssize_t) noexcept nogil
        int (*hinge_labels_d)(const double*, Py_ssize_t) noexcept nogil
        double (*sce_tile_f)(const long long*, const float*, const double*, Py_ssize_t,
                             Py_ssize_t, Py_ssize_t, int, double, float*, float*, float*,
                             const float*, Py_ssize_t, float*, double) noexcept nogil
        double (*sce_tile_d)(const long long*, const double*, const double*, Py_ssize_t,
                             Py_ssize_t, Py_ssize_t, int, double, double*, double*, double*,
                             const double*, Py_ssize_t, double*, double) noexcept nogil
        double (*kl_log_f)(const float*, const float*, Py_ssize_t, double,
                           float*) noexcept nogil
        double (*kl_log_d)(const double*, const double*, Py_ssize_t, double,
                           double*) noexcept nogil
        double (*hell_f)(const float*, const float*, Py_ssize_t, double, double,
                         float*) noexcept nogil
        double (*hell_d)(const double*, const double*, Py_ssize_t, double, double,
                         double*) noexcept nogil
        double (*cce_f)(const float*, const float*, Py_ssize_t, double, const double*, double,
                        float*, float*) noexcept nogil
        double (*cce_d)(const double*, const double*, Py_ssize_t, double, const double*,
                        double, double*, double*) noexcept nogil
        double (*focal_f)(const float*, const float*, Py_ssize_t, double, const double*,
                          double, float*, int) noexcept nogil
        double (*focal_d)(const double*, const double*, Py_ssize_t, double, const double*,
                          double, double*, int) noexcept nogil
        double (*cos_f)(const float*, const float*, Py_ssize_t, double, float*) noexcept nogil
        double (*cos_d)(const double*, const double*, Py_ssize_t, double,
                        double*) noexcept nogil
        double (*sce_row_f)(const float*, const float*, Py_ssize_t, Py_ssize_t, double,
                            float*, float*) noexcept nogil
        double (*sce_row_d)(const double*, const double*, Py_ssize_t, Py_ssize_t, double,
                            double*, double*) noexcept nogil
        # sizes only for Cython's view of the struct (C's layout comes from
        # kernels.h); kept equal to FL_PW_COUNT / FL_MATH_COUNT
        fl_pw_f32 pw_f[FL_PW_COUNT]
        fl_pw_f64 pw_d[FL_PW_COUNT]
        void (*math_f[5])(const float*, Py_ssize_t, float*) noexcept nogil
        void (*math_d[5])(const double*, Py_ssize_t, double*) noexcept nogil


cdef const fl_kernels* kernels() noexcept nogil
