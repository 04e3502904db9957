"""``python -m fastloss``: benchmark fastloss against what you would otherwise use.

    python -m fastloss                      short help, then a --quick run
    python -m fastloss bench [--quick] [--loss NAME ...] [--threads K]
                             [--json FILE] [--plot FILE.png] [--rounds N] [--markdown]

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
           --plot FILE.png (matplotlib), --rounds N; --help for details.

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
    threads = args.threads or fastloss.get_num_threads()
    size = "quick" if args.quick else "full"
    print(f"measuring memory bandwidth, then {len(chosen)} case(s) at {size} sizes "
          f"on {threads} thread(s)...", file=sys.stderr, flush=True)
    result = runner.run(chosen, size=size, threads=threads, rounds=args.rounds,
                        progress=_progress)
    print()
    print(rep.summary(result))
    print()
    print(rep.table(result, markdown=args.markdown))
    print()
    print(rep.legend())
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
