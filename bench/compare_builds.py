#!/usr/bin/env python3
"""Side-by-side timing of two fastloss builds on every vector path.

    python bench/compare_builds.py --old /tmp/venv-old/bin/python \\
        --new /tmp/venv-new/bin/python [--cases bce sparse_ce ...] \\
        [--paths avx512 avx2 sse2] [--rounds 5] [--calls 5]

Each build runs in its own interpreter (two venvs, e.g. one built from a
worktree at the commit the other branched from).  A round starts one process
per build and case, in alternating order, so both builds see the same noise
of a shared machine; a process builds the case's full-size data
(``fastloss._bench.cases``, the inputs of ``python -m fastloss bench``), then
times ``loss_gradient`` on each path in turn (``fastloss.set_simd_path``):
one warm-up call, then the minimum of ``--calls`` calls.  The table shows the
median over rounds of those minima and the median over rounds of new / old
(each round's pair ran back to back: the ratio survives the load of other
processes better than either time).  ``--threads`` (default 1) sets
OMP_NUM_THREADS for both: on a shared machine a parallel region waits for its
slowest thread, which mostly measures the neighbours; on one thread the time
taken is the thread's CPU time (``time.thread_time``), which time spent
descheduled does not inflate.

A path a build does not have (an older build without AVX-512 kernels) is
timed on that build's widest path instead, marked ``*``: the "avx512" row
then compares the new AVX-512 kernels with what the old build ran on this
CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CASES = ("bce", "binary_focal", "balanced_ce", "sparse_ce", "categorical_ce",
         "categorical_focal", "log_cosh", "poisson", "kl_divergence", "hellinger",
         "mse", "huber", "mae")

WORKER = r"""
import json, sys, time
import fastloss
from fastloss._bench import cases as C
name, paths, calls = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
case = next(c for c in C.CASES if c.name == name)
data = case.data("full")
call = case.fastloss_call(data)
if hasattr(fastloss, "set_simd_path"):
    have, select = fastloss.available_simd_paths(), fastloss.set_simd_path
else:
    # builds before the process-wide switch: each kernel module had its own,
    # "auto" (AVX2+FMA at most), "baseline" (SSE2) or "scalar"
    from fastloss._kernels import pointwise, rows
    legacy = {"avx2": "auto", "sse2": "baseline", "scalar": "scalar"}
    have = list(legacy)
    def select(path):
        for module in (pointwise, rows):
            module.set_simd_path(legacy[path])
# one thread: its CPU time, which the other processes of a shared machine
# do not inflate (wall time otherwise)
clock = time.thread_time if fastloss.get_num_threads() == 1 else time.perf_counter
out = {}
for path in paths:
    used = path if path in have else have[0]
    select(used)
    call()
    best = float("inf")
    for _ in range(calls):
        time.sleep(0.005)
        t0 = clock()
        call()
        best = min(best, clock() - t0)
    out[path] = (best, used)
out["_bytes"] = (int(data.nbytes) if case.streaming else 0, "")
print(json.dumps(out))
"""


PROBE = r"""
import json
from fastloss._bench.probe import bandwidth
print(json.dumps(bandwidth(int(__import__("sys").argv[1]))))
"""


def probe_bandwidth(python, threads):
    """Best-of-10 triad bandwidth (bytes/s) at the timing's thread count."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    done = subprocess.run([python, "-c", PROBE, str(threads)], capture_output=True,
                          text=True, timeout=600, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["gb_per_s"] * 1e9


def run_one(python, case, paths, calls, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("FASTLOSS_SIMD", None)
    done = subprocess.run([python, "-c", WORKER, case, ",".join(paths), str(calls)],
                          capture_output=True, text=True, timeout=900, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{python} {case}: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="python of the old build")
    parser.add_argument("--new", required=True, help="python of the new build")
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    parser.add_argument("--paths", nargs="+", default=["avx512", "avx2", "sse2"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the raw timings here")
    args = parser.parse_args(argv)

    times = {b: {c: {p: [] for p in args.paths} for c in args.cases} for b in ("old", "new")}
    used = {b: {} for b in ("old", "new")}
    nbytes = {}
    # Probed before and after the timings; the larger (least disturbed) is the
    # floor, so "x floor" is never flattered by a probe that ran under load.
    bandwidths = [probe_bandwidth(args.new, args.threads)]
    for r in range(args.rounds):
        for i, case in enumerate(args.cases):
            order = ("old", "new") if (r + i) % 2 == 0 else ("new", "old")
            for build in order:
                res = run_one(getattr(args, build), case, args.paths, args.calls, args.threads)
                nbytes[case] = res.pop("_bytes")[0]
                for path, (t, u) in res.items():
                    times[build][case][path].append(t)
                    used[build][path] = u
            print(f"round {r + 1}/{args.rounds} {case} done", file=sys.stderr, flush=True)

    bandwidths.append(probe_bandwidth(args.new, args.threads))
    bw = max(bandwidths)
    print(f"\nbandwidth floor: {bw / 1e9:.1f} GB/s (triad, {args.threads} thread(s), "
          f"best of the probes before and after)")

    def floor(case, t):
        return f"{t / (nbytes[case] / bw):.2f}" if nbytes.get(case) else "-"

    for path in args.paths:
        mark = "" if used["old"].get(path) == path else "*"
        print(f"\npath {path} (old build on {used['old'].get(path)}{mark}, new on "
              f"{used['new'].get(path)}); {args.threads} thread(s); medians of "
              f"{args.rounds} rounds")
        print("| case | old ms | new ms | old x floor | new x floor | new/old (median of round ratios) |")
        print("|---|---:|---:|---:|---:|---:|")
        for case in args.cases:
            old, new = times["old"][case][path], times["new"][case][path]
            ratio = statistics.median(n / o for n, o in zip(new, old))
            mo, mn = statistics.median(old), statistics.median(new)
            print(f"| {case} | {mo * 1e3:.2f} | {mn * 1e3:.2f} | {floor(case, mo)} | "
                  f"{floor(case, mn)} | {ratio:.3f} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"times": times, "used": used, "bytes": nbytes,
                       "bandwidth": bw}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
