"""The process's one vector path: CPU detection, the choice, the table.

The kernels are compiled once per target (scalar, sse2, avx2 = AVX2 + FMA,
avx512 = AVX-512F) into this module (simd/target.c, simd/dispatch.c); this
module chooses one table at import (the widest the CPU runs) and every other
kernel module calls through it (``kernels()`` in simd.pxd).  ``set_path``
switches every module at once.
"""
from cython cimport floating

cdef extern from "simd/kernels.h" nogil:
    const fl_kernels* fl_kernels_active()
    int fl_cpu_has_path(int path)
    int fl_select_path(int path)

# the path names, in the order of FL_PATH_* (narrowest first)
PATHS = ("scalar", "sse2", "avx2", "avx512")


cdef const fl_kernels* kernels() noexcept nogil:
    return fl_kernels_active()


fl_select_path(-1)


def available_paths():
    """The paths this build can take on this CPU, widest first."""
    return [name for i, name in reversed(list(enumerate(PATHS))) if fl_cpu_has_path(i)]


def set_path(str name):
    """Take path `name` ("auto": the widest available) for every kernel
    module; a path this CPU or build lacks is a ValueError.  Not thread-safe
    against kernels running at the time.  Returns the path now in use."""
    if name == "auto":
        fl_select_path(-1)
        return path()
    if name not in PATHS:
        raise ValueError(f"name must be one of {('auto',) + PATHS}, got {name!r}")
    if fl_select_path(PATHS.index(name)) < 0:
        raise ValueError(f"name={name!r}: this CPU cannot run it "
                         f"(paths here: {', '.join(available_paths())})")
    return path()


def path():
    """The path every kernel module takes now."""
    return fl_kernels_active().name.decode()


_MATH = {"exp_nonpos": FL_MATH_EXP_NONPOS, "exp": FL_MATH_EXP, "log": FL_MATH_LOG,
         "log1p_unit": FL_MATH_LOG1P_UNIT, "expm1_nonpos": FL_MATH_EXPM1_NONPOS}


def math_functions():
    """Names of the vector functions `apply` runs (accuracy tests)."""
    return tuple(_MATH)


def apply(str name, const floating[::1] x, floating[::1] out):
    """out = name(x) through the current path's vector function (the
    accuracy tests); False when the path has no such function in this
    precision."""
    if name not in _MATH:
        raise ValueError(f"name must be one of {tuple(_MATH)}, got {name!r}")
    if x.shape[0] != out.shape[0]:
        raise ValueError("x and out differ in length")
    cdef int k = _MATH[name]
    cdef const fl_kernels* K = fl_kernels_active()
    if floating is float:
        if K.math_f[k] == NULL:
            return False
        if x.shape[0]:
            with nogil:
                K.math_f[k](&x[0], x.shape[0], &out[0])
    else:
        if K.math_d[k] == NULL:
            return False
        if x.shape[0]:
            with nogil:
                K.math_d[k](&x[0], x.shape[0], &out[0])
    return True
