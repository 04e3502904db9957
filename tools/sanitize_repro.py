"""Hostile-but-valid inputs for the sanitizer build: arrays at misaligned
addresses and every short length, for every registered loss, on every SIMD path.

    bash tools/sanitize.sh --repro      # builds, runs the suite, then this
    python tools/sanitize_repro.py      # in an environment sanitize.sh set up

SPEC §1 accepts any C-contiguous array, and NumPy makes unaligned ones
(``np.frombuffer(buf, offset=1)``, fields of packed structured arrays,
slices of byte buffers), so a kernel must not assume more alignment than the
element's own, nor read past the last element.  Each group below (variant x
SIMD path) runs in a child process, because a sanitizer report ends the process
(-fno-sanitize-recover, halt_on_error).  When a child dies, its last "case"
line names the call, the report is printed, and the group goes on from the
next loss, so one run lists every loss that triggers a report.  Outside the
sanitizer build the same calls still check something: the result on the
misaligned copy must equal, bit for bit, the result on the aligned original.

Variants:
  f32_at_4   float32 y_true, y_pred and out= at an address = 4 (mod 8), other
             arrays aligned: each element is aligned, but a pair of floats
             read as one double (fl_load2_f / fl_store2_f) is not;
  odd        every array (float32 and float64 data, int64 labels and group
             ids, sample_weight, out=) at an odd address;
  tails      aligned arrays of 1 to 17 rows (vector loops' tails: a read past
             the last element is an ASan heap-buffer-overflow).
A loss that triggers a report is listed once per variant and path (the child
goes on from the next loss); the summary groups the reports by source line.
Exit status 1 when any child reported or any result differed.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ("f32_at_4", "odd", "tails")
# every vector path a CPU can have; the ones this CPU lacks are skipped
PATHS = ("auto", "avx512", "avx2", "sse2", "scalar")


def _available():
    import fastloss
    return fastloss.available_simd_paths()


def misaligned(a, offset):
    """A copy of `a` whose data starts `offset` bytes past a malloc'd address."""
    import numpy as np
    a = np.ascontiguousarray(a)
    buf = bytearray(a.nbytes + offset)
    m = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=offset).reshape(a.shape)
    m[...] = a
    return m


def same(a, b):
    import numpy as np
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b or (a != a and b != b)


def child(variant, path, start_class):
    """Run one group's calls from loss number `start_class`; print a line
    before each call (a sanitizer report ends the process: the last line
    names the call)."""
    import numpy as np

    sys.path.insert(0, HERE)
    import leak_check
    from fastloss import _registry
    import fastloss

    fastloss.set_simd_path(path)
    number = 0
    bad = 0
    sizes = range(1, 18) if variant == "tails" else (5, 40)
    dtypes = (np.float32,) if variant == "f32_at_4" else (np.float64, np.float32)
    offset = {"f32_at_4": 4, "odd": 1}.get(variant)

    def hostile(a):
        if offset is None or not isinstance(a, np.ndarray):
            return a
        if variant == "f32_at_4" and a.dtype != np.float32:
            return a
        return misaligned(a, offset)

    for index, cls in enumerate(_registry.loss_classes()):
        if index < start_class:
            continue
        rng = np.random.default_rng(index)
        builder = leak_check.BUILDERS[cls.__name__]
        for n in sizes:
            for dtype in dtypes:
                elements = n * 5 if variant == "tails" else n
                for kw, yt, yp, call in builder(elements, dtype, rng):
                    loss = cls(**kw)
                    for method_name in leak_check.METHODS:
                        method = getattr(loss, method_name, None)
                        if method is None:
                            continue
                        number += 1
                        print(f"case {index} {cls.__name__}({kw}).{method_name} n={elements} "
                              f"{np.dtype(dtype).name} y_true {yt.dtype}{yt.shape} "
                              f"y_pred {yp.shape} {sorted(call)}", flush=True)
                        try:
                            want = method(yt, yp, **call)
                        except ValueError:
                            continue            # e.g. a hessian a parameter set lacks
                        if offset is None:
                            continue
                        hcall = {k: hostile(v) for k, v in call.items()}
                        got = method(hostile(yt), hostile(yp), **hcall)
                        if not same(want, got):
                            bad += 1
                            print(f"DIFFERS: {cls.__name__}({kw}).{method_name} gives another "
                                  f"result on misaligned arrays", flush=True)
                        if method_name in ("gradient", "loss_gradient"):
                            out = hostile(np.empty(yp.shape, yp.dtype))
                            try:
                                got = method(hostile(yt), hostile(yp), out=out, **hcall)
                            except ValueError as exc:
                                if "out" in str(exc) and not out.flags.aligned:
                                    continue    # refusing it is as good as using it well
                                raise
                            grad = got[1] if isinstance(got, tuple) else got
                            ref = want[1] if isinstance(want, tuple) else want
                            if not same(ref, grad) or not same(ref, out):
                                bad += 1
                                print(f"DIFFERS: {cls.__name__}({kw}).{method_name} gives "
                                      "another gradient into a misaligned out=", flush=True)
    print(f"done {number}", flush=True)
    return 1 if bad else 0


def first_report(log_dir):
    """(error line, the frames that locate it) of the first sanitizer log."""
    for path in sorted(glob.glob(os.path.join(log_dir, "*"))):
        with open(path, errors="replace") as f:
            text = f.read().splitlines()
        errors = [t for t in text if "runtime error" in t or "ERROR: AddressSanitizer" in t]
        frames = [t.strip() for t in text if t.strip().startswith("#")]
        # Frames up to the first one in fastloss's own code (a Cython-generated
        # .c file or a kernel header), at most 5.
        top = []
        for t in frames[:8]:
            top.append(t)
            if "/fastloss/_kernels/" in t and "/simd/" not in t:
                break
        if errors or frames:
            return (errors[0] if errors else text[0]), top[:5]
    return None


def location(error_line):
    """The source location of a report, without addresses: the key to group by."""
    import re
    return re.sub(r"0x[0-9a-f]+", "", error_line).strip()


def run_group(variant, path, env):
    """Children until the group is done; returns [(summary, error line, frames)]."""
    findings = []
    start = 0
    while True:
        log_dir = tempfile.mkdtemp(prefix=f"fastloss-repro-{variant}-{path}-")
        child_env = dict(env)
        opts = [o for o in child_env.get("ASAN_OPTIONS", "").split(":")
                if o and not o.startswith("log_path=")]
        child_env["ASAN_OPTIONS"] = ":".join(opts + [f"log_path={log_dir}/asan"])
        child_env["FASTLOSS_UBSAN_LOG"] = f"{log_dir}/ubsan"
        proc = subprocess.run([sys.executable, __file__, "--child", variant, path, str(start)],
                              env=child_env, capture_output=True, text=True)
        out = proc.stdout.splitlines()
        cases = [line for line in out if line.startswith("case ")]
        for line in out:
            if line.startswith("DIFFERS"):
                findings.append((f"[{variant}, {path}] {line}", line, []))
        report = first_report(log_dir)
        shutil.rmtree(log_dir, ignore_errors=True)
        done = any(line.startswith("done") for line in out)
        if done and proc.returncode in (0, 1) and report is None:
            return findings
        last = " ".join(cases[-1].split()[2:]) if cases else "(before the first call)"
        if report is None:
            tail = proc.stderr.strip().splitlines()[-6:]
            report = (f"exit status {proc.returncode}", tail)
        findings.append((f"[{variant}, {path}] {last}", report[0], report[1]))
        if not cases:
            return findings
        start = int(cases[-1].split()[1]) + 1  # go on with the next loss


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", nargs=3, metavar=("VARIANT", "PATH", "START"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--variant", action="append", choices=VARIANTS)
    ap.add_argument("--path", action="append", choices=PATHS)
    args = ap.parse_args(argv)
    if args.child:
        variant, path, start = args.child
        return child(variant, path, int(start))
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):
        print("sanitize_repro: not under the sanitizer build (no libasan in LD_PRELOAD): "
              "only the results are compared; run it through tools/sanitize.sh --repro")
    findings = []
    for variant in args.variant or VARIANTS:
        for path in args.path or _available():
            found = run_group(variant, path, os.environ)
            print(f"sanitize_repro: {variant:9s} {path:8s} "
                  f"{'clean' if not found else f'{len(found)} loss(es) with a report'}",
                  flush=True)
            findings.extend(found)
    by_location = {}
    for where, error, frames in findings:
        by_location.setdefault(location(error), (frames, []))[1].append(where)
    for error, (frames, wheres) in by_location.items():
        print(f"\n== {error}")
        for frame in frames:
            print(f"     {frame}")
        for where in wheres:
            print(f"   {where}")
    print(f"\nsanitize_repro: {len(findings)} finding(s) at {len(by_location)} source location(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
