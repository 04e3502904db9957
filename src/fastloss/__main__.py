"""``python -m fastloss``: benchmark fastloss against what you would otherwise use.

    python -m fastloss                      short help, then a --quick run
    python -m fastloss bench [--quick] [--loss NAME ...] [--threads K]
                             [--json FILE] [--plot FILE.png] [--rounds N] [--markdown]
                             [--contended] [--simd-paths all|PATH ...]

The exit status is 0 when every peer agrees with fastloss, 1 when one
disagrees or fails, 2 for a usage error.
"""
from __future__ import annotations

import argparse
import sys

SHORT_HELP = """\
fastloss — loss values, gradients and hessians as Cython/OpenMP kernels.

  python -m fastloss bench            benchmark every loss at realistic sizes
  python -m fastloss bench --quick    the same at smaller sizes (< 1 minute)
  options: --loss NAME ... (only these), --threads K, --json FILE,
           --plot FILE.png (matplotlib), --rounds N, --contended (also with
           one core kept busy), --simd-paths all; --help for details.

Running the quick benchmark now (peers that are not installed show as absent).
"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m fastloss",
        description="Benchmark fastloss loss_gradient against NumPy, PyTorch (forward + "
                    "backward) and scikit-learn's sklearn._loss, and check they agree.")
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser(
        "bench", help="time every available loss and check agreement with each peer",
        description="Time fastloss's loss_gradient for every case at realistic sizes, "
                    "next to each installed peer, against this machine's memory-bandwidth "
                    "floor; check every peer agrees on value and gradient.")
    bench.add_argument("--quick", action="store_true",
                       help="smaller sizes and fewer rounds (under a minute on 2 cores)")
    bench.add_argument("--loss", nargs="+", metavar="NAME", default=None,
                       help="only these cases (case id or any fastloss name of the loss)")
    bench.add_argument("--threads", type=_positive_int, default=None, metavar="K",
                       help="threads for fastloss, torch, sklearn and the bandwidth probe "
                            "(default: fastloss.get_num_threads())")
    bench.add_argument("--json", metavar="FILE", default=None,
                       help="also write the full results as JSON")
    bench.add_argument("--plot", metavar="FILE.png", default=None,
                       help="also draw the speed-ups as a PNG (needs matplotlib)")
    bench.add_argument("--markdown", action="store_true",
                       help="print the table as Markdown (as in the README)")
    bench.add_argument("--rounds", type=_positive_int, default=None, metavar="N",
                       help="timing rounds per implementation (default 5, --quick 3; a slow one gets fewer)")
    bench.add_argument("--contended", action="store_true",
                       help="also time every case while another process spins on one core: "
                            "fastloss on K threads over fastloss on 1, and against NumPy")
    bench.add_argument("--simd-paths", nargs="+", metavar="PATH", default=None,
                       help="run the whole benchmark once per vector path (\"all\": every "
                            "path of fastloss.available_simd_paths()), each in its own process "
                            "with FASTLOSS_SIMD=PATH; --json/--plot files get the path in "
                            "their name")
    return parser


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _progress(index, total, row):
    width = len(str(total))
    head = f"[{index + 1:>{width}}/{total}] {row['case']:<18}"
    if row["status"] == "skipped":
        line = "skipped: not in this build"
    elif row["fastloss"] is None:
        line = f"ERROR: {row['reason']}"
    else:
        parts = [f"{row['fastloss']['time_s'] * 1e3:8.2f} ms"]
        if row["floor"]:
            parts.append(f"{row['floor']['ratio']:.2f}x floor")
        for name, e in row["peers"].items():
            if e["status"] == "absent":
                parts.append(f"{name} absent")
            elif e["speedup"] is not None:
                parts.append(f"{name} {e['speedup']:.2f}x"
                             + (" DISAGREES" if e["status"] == "disagree" else ""))
            else:
                parts.append(f"{name} {e['status'].upper()}")
        c = row.get("contended")
        if c:
            parts.append(f"busy t{c['threads']}/t1 {c['ratio']:.2f} (best {c['ratio_best']:.2f})")
        line = ", ".join(parts)
    print(f"{head} {line}", file=sys.stderr, flush=True)


def bench(args, cases=None):
    """Run the benchmark the parsed `args` ask for; returns the exit status."""
    import fastloss
    from ._bench import cases as case_defs, report as rep, runner

    try:
        chosen = case_defs.select(args.loss, cases)
    except ValueError as exc:
        print(f"python -m fastloss bench: error: {exc}", file=sys.stderr)
        return 2
    if args.plot and not case_defs.importable("matplotlib"):
        print("python -m fastloss bench: error: --plot needs matplotlib "
              "(pip install matplotlib)", file=sys.stderr)
        return 2
    if args.simd_paths:
        return _bench_simd_paths(args)
    threads = args.threads or fastloss.get_num_threads()
    size = "quick" if args.quick else "full"
    print(f"measuring memory bandwidth, then {len(chosen)} case(s) at {size} sizes "
          f"on {threads} thread(s)" + (", then again with one core busy" if args.contended
                                       else "") + "...", file=sys.stderr, flush=True)
    result = runner.run(chosen, size=size, threads=threads, rounds=args.rounds,
                        progress=_progress, contended=args.contended)
    print()
    print(rep.summary(result))
    print()
    print(rep.table(result, markdown=args.markdown))
    print()
    print(rep.legend(result))
    for row in result["rows"]:
        for name, e in row["peers"].items():
            if e["status"] in ("disagree", "error"):
                print(f"{row['case']}: {name} {e['status'].upper()}: {e['reason']}")
        if row["status"] == "error" and row["fastloss"] is None:
            print(f"{row['case']}: ERROR: {row['reason']}")
    if args.json:
        rep.write_json(result, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        rep.plot(result, args.plot)
        print(f"wrote {args.plot}")
    if not result["ok"]:
        print(f"disagreement or error in: {', '.join(result['failed'])}")
        return 1
    return 0


def _simd_argv(args, path):
    """The command line of one path's run: the same options, files renamed."""
    import os
    argv = ["bench"]
    if args.quick:
        argv.append("--quick")
    if args.loss:
        argv += ["--loss", *args.loss]
    for flag, value in (("--threads", args.threads), ("--rounds", args.rounds)):
        if value is not None:
            argv += [flag, str(value)]
    for flag, value in (("--json", args.json), ("--plot", args.plot)):
        if value:
            stem, ext = os.path.splitext(value)
            argv += [flag, f"{stem}.{path}{ext}"]
    if args.markdown:
        argv.append("--markdown")
    if args.contended:
        argv.append("--contended")
    return argv


def _bench_simd_paths(args):
    """One benchmark per vector path, each in a fresh process with
    FASTLOSS_SIMD set (the path is chosen once per process); the exit status
    is the worst of them."""
    import os
    import subprocess
    import fastloss
    available = fastloss.available_simd_paths()
    paths = available if [p.lower() for p in args.simd_paths] == ["all"] else args.simd_paths
    unknown = [p for p in paths if p not in available]
    if unknown:
        print(f"python -m fastloss bench: error: --simd-paths: {', '.join(unknown)} not "
              f"available here (available: {', '.join(available)}, or all)", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        print(f"=== SIMD path: {path} (FASTLOSS_SIMD={path}) ===", flush=True)
        env = dict(os.environ, FASTLOSS_SIMD=path)
        proc = subprocess.run([sys.executable, "-m", "fastloss", *_simd_argv(args, path)],
                              env=env)
        print(flush=True)
        status = max(status, proc.returncode)
    return status


def main(argv=None, cases=None):
    """Entry point; `cases` replaces the built-in case list (for tests)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    if not argv:
        print(SHORT_HELP)
        argv = ["bench", "--quick"]
    args = parser.parse_args(argv)
    if args.command != "bench":
        parser.print_help()
        return 0
    return bench(args, cases)


if __name__ == "__main__":
    sys.exit(main())
