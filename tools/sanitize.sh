#!/usr/bin/env bash
# The test suite against an AddressSanitizer + UndefinedBehaviorSanitizer
# build of the kernels, in a venv of its own.  Fails on any sanitizer report.
#
#   bash tools/sanitize.sh [--repro] [extra pytest arguments]
#
# --repro: then also tools/sanitize_repro.py (misaligned arrays and short
# lengths for every loss on every SIMD path); its findings fail the run too.
#
# Environment: FASTLOSS_ASAN_VENV (default .venv-asan), FASTLOSS_ASAN_LOGS
# (default build/asan-logs).  Nothing is reused from an earlier run: the venv,
# the build directory and the logs are made anew.
#
# How a report fails the run, twice over:
#   - the kernels are built with -fno-sanitize-recover=undefined and ASan
#     halts on its first error, so the process exits non-zero (pytest's own
#     exit status would do for a Python-level failure);
#   - every report is also written to $LOGS (ASan and UBSan log_path, one file
#     per process, subprocesses included); any non-empty file there fails the
#     run even if a report came from a child whose status nobody checked.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp() { echo "sanitize: [$(( $(date +%s) - start )) s] $*"; }

REPRO=0
if [[ "${1:-}" == "--repro" ]]; then
    REPRO=1
    shift
fi
VENV=${FASTLOSS_ASAN_VENV:-.venv-asan}
LOGS=${FASTLOSS_ASAN_LOGS:-build/asan-logs}
BUILD=build/asan

# The runtime the modules link against must be the first library loaded:
# python itself is not instrumented, so it is preloaded.  gcc ships it in
# libgcc-N-dev, which gcc depends on.
CC=${CC:-gcc}
libasan=$("$CC" -print-file-name=libasan.so)
libasan=$(readlink -f "$libasan" 2>/dev/null || true)
if [[ -z "$libasan" || ! -f "$libasan" ]]; then
    echo "sanitize: $CC has no libasan.so (install libasan for $CC, e.g. apt-get install libgcc-$("$CC" -dumpversion)-dev)" >&2
    exit 2
fi
# libstdc++ is preloaded too: ASan wraps __cxa_throw and looks the real one up
# when it starts; a C++ extension loaded later (matplotlib's ft2font throws
# while it imports) otherwise dies in "CHECK failed: real___cxa_throw".
libstdcxx=$(readlink -f "$("$CC" -print-file-name=libstdc++.so)" 2>/dev/null || true)
if [[ -z "$libstdcxx" || ! -f "$libstdcxx" ]]; then
    echo "sanitize: $CC has no libstdc++.so" >&2
    exit 2
fi
stamp "ASan runtime $libasan (with $libstdcxx)"

rm -rf "$VENV" "$BUILD" "$LOGS"
mkdir -p "$LOGS"
LOGS=$(cd "$LOGS" && pwd)   # children run in other directories (tmp_path)

stamp "fresh venv $VENV"
python3 -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q scikit-build-core cython cython-cmake ninja cmake numpy

stamp "sanitizer build (FASTLOSS_SANITIZE=ON, build dir $BUILD)"
# Not editable: the tests import the instrumented modules from site-packages.
# .[test] brings the peers (scikit-learn, xgboost, lightgbm) whose adapter
# tests drive the kernels through callbacks; torch is left out (its tests
# skip), since its own runtime libraries do not expect a preloaded ASan.
# install.strip=false keeps the symbols, so reports name functions and lines.
FASTLOSS_SANITIZE=ON python -m pip install -q --no-build-isolation \
    -C build-dir="$BUILD" -C install.strip=false '.[test]'

# gcc's libubsan ignores UBSAN_OPTIONS=log_path when ASan is loaded too (its
# reports would then go to the stderr that pytest captures and loses when the
# process aborts).  Every Python of this venv, subprocesses included, sets
# UBSan's report path itself at start-up, through this .pth hook.
site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cat > "$site/_fastloss_ubsan_log.py" <<'PY'
"""tools/sanitize.sh: UBSan's reports go to $FASTLOSS_UBSAN_LOG.<pid>."""
import ctypes
import os

if os.environ.get("FASTLOSS_UBSAN_LOG"):
    ctypes.CDLL("libubsan.so.1").__sanitizer_set_report_path(
        os.environ["FASTLOSS_UBSAN_LOG"].encode())
PY
echo "import _fastloss_ubsan_log" > "$site/_fastloss_ubsan_log.pth"

# The build really is instrumented: every kernel module needs libasan and
# libubsan and calls ASan's checks.  (Found without importing: the import
# needs the preloaded runtime.)
python - <<'EOF'
import glob, importlib.util, os, subprocess, sys
pkg = importlib.util.find_spec("fastloss").submodule_search_locations[0]
if "site-packages" not in pkg:
    sys.exit(f"sanitize: fastloss imported from {pkg}, not from the venv")
mods = sorted(glob.glob(os.path.join(pkg, "_kernels", "*.so")))
if not mods:
    sys.exit("sanitize: no compiled kernel modules found")
for so in mods:
    needed = subprocess.run(["readelf", "-d", so], capture_output=True, text=True, check=True).stdout
    syms = subprocess.run(["nm", "-D", "--undefined-only", so], capture_output=True, text=True,
                          check=True).stdout
    if "libasan" not in needed or "libubsan" not in needed or "__asan_report" not in syms:
        sys.exit(f"sanitize: {so} is not built with -fsanitize=address,undefined")
print(f"sanitize: {len(mods)} instrumented kernel modules in {pkg}")
EOF

# detect_leaks=0: CPython does not free everything at exit, LeakSanitizer
#   would report that (tools/leak_check.py measures fastloss's own leaks).
# allocator_may_return_null=1: a huge allocation returns NULL (NumPy raises
#   MemoryError) as under glibc, instead of ASan aborting the process.
# PYTHONMALLOC=malloc: Python objects (bytes, bytearray buffers handed to
#   np.frombuffer) come from malloc, so ASan puts red zones around them too.
# UBSan: print_stacktrace for the frames; halt_on_error for any check the
#   build could still recover from.
export LD_PRELOAD="$libasan:$libstdcxx${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=0:exitcode=86:log_path=$LOGS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"
export FASTLOSS_UBSAN_LOG="$LOGS/ubsan"
export PYTHONMALLOC=malloc
export PYTHONFAULTHANDLER=1

# Deselected, each for a reason that has nothing to do with the kernels:
#   (none so far).  Nothing needs it today: tests/test_leaks.py skips itself
#   under ASan (its quarantine holds freed memory, so RSS is no measure);
#   torch is not installed here, so its comparisons skip as for a newcomer;
#   the wheel-only checks of test_packaging skip without FASTLOSS_EXPECT_WHEEL;
#   the tests that start subprocesses run them under ASan too (LD_PRELOAD and
#   the options are inherited, their reports land in the same logs).
DESELECT=()

stamp "test suite under ASan + UBSan"
set +e
# -v, less the passed and skipped lines: a report ends the process in the
# middle of a test, and that test's unfinished line is then the last one shown.
python -m pytest tests/ -p no:cacheprovider -v ${DESELECT[@]+"${DESELECT[@]}"} "$@" 2>&1 \
    | grep --line-buffered -v -E ' (PASSED|SKIPPED|XFAIL|XPASS)( \(.*\))? +\[ *[0-9]+%\]$'
status=${PIPESTATUS[0]}
repro_status=0
if [[ $REPRO -eq 1 ]]; then
    stamp "tools/sanitize_repro.py under ASan + UBSan"
    python tools/sanitize_repro.py
    repro_status=$?
fi
set -e
unset LD_PRELOAD
deactivate

reports=$(find "$LOGS" -type f -size +0 | sort)
if [[ -n "$reports" ]]; then
    for f in $reports; do
        echo "==== $f"
        cat "$f"
    done
    stamp "FAILED: sanitizer reports above (pytest exit status $status)"
    exit 1
fi
if [[ $repro_status -ne 0 ]]; then
    stamp "FAILED: tools/sanitize_repro.py found the reports listed above"
    exit 1
fi
if [[ $status -ne 0 ]]; then
    stamp "FAILED: pytest exit status $status (86 = ASan, 87 = UBSan, 5 = no test ran)"
    exit "$status"
fi
stamp "passed, no sanitizer report; took $(( $(date +%s) - start )) s"
