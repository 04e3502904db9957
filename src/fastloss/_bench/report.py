"""The benchmark's outputs: the text table, the JSON file, the plot."""
from __future__ import annotations

import json

from .runner import PEER_ORDER


def _dim(d):
    """10000000 -> 1e7, 2000000 -> 2e6; other sizes as they are."""
    text = str(d)
    head = text.rstrip("0")
    if d >= 10**5 and len(head) == 1:
        return f"{head}e{len(text) - 1}"
    return text


def _shape(row):
    return "x".join(_dim(d) for d in row["shape"])


def _ms(t):
    ms = t * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    return f"{ms:.3g}" if ms >= 1 else f"{ms:.2f}"


def _rate(x):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def peer_names(report):
    seen = {name for row in report["rows"] for name in row["peers"]}
    return [p for p in PEER_ORDER if p in seen] + sorted(seen - set(PEER_ORDER))


def _peer_cell(entry):
    if entry is None:
        return "-"
    status = entry["status"]
    if status == "absent":
        return "absent"
    if status == "error":
        return "ERROR"
    if entry["speedup"] is None:
        return "?"
    cell = f"{entry['speedup']:.2f}x" if entry["speedup"] < 10 else f"{entry['speedup']:.1f}x"
    return cell + (" !" if status == "disagree" else "")


def _busy(report):
    return any(r.get("contended") for r in report["rows"])


def table(report, markdown=False):
    """One row per case: fastloss loss_gradient time, throughput, ratio to the
    bandwidth floor, the in-round triad's bandwidth (best/median), and
    speed-up over each peer (peer time / fastloss time; above 1 fastloss is
    faster).  "!" marks a peer that disagrees.  GB/s and the floor are shown
    only for cases that stream their data (not for the sort- or pair-bound
    Lovász and RankNet).  A contended run adds t(k threads)/t(1 thread) and
    NumPy's time over fastloss's, both with one core busy."""
    peers = peer_names(report)
    busy = _busy(report)
    head = ["case", "shape", "dtype", "fastloss ms", "elem/s", "GB/s", "x floor", "triad GB/s"]
    head += [f"vs {p}" for p in peers] + ["agree"]
    if busy:
        head += [f"busy t{report['threads']}/t1", "busy vs numpy"]
    lines = []
    for row in report["rows"]:
        cells = [row["case"], _shape(row), row["dtype"]]
        if row["status"] == "skipped":
            lines.append(cells + ["skipped"] + [""] * (len(head) - 5)
                         + ["(not in this build)"])
            continue
        fl = row["fastloss"]
        if fl is None:      # fastloss itself failed
            lines.append(cells + ["ERROR"] + [""] * (len(head) - 5) + [row["reason"][:40]])
            continue
        floor = row["floor"]
        cells += [_ms(fl["time_s"]), _rate(fl["elements_per_s"]),
                  f"{fl['gb_per_s']:.3g}" if floor else "-",
                  f"{floor['ratio']:.2f}" if floor else "-",
                  _triad_cell(floor)]
        cells += [_peer_cell(row["peers"].get(p)) for p in peers]
        bad = [p for p, e in row["peers"].items() if e["status"] in ("disagree", "error")]
        cells.append("yes" if not bad else "NO: " + ",".join(bad))
        if busy:
            cells += _busy_cells(row.get("contended"))
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(head) + " |",
               "|" + "|".join("---" if i < 3 else "--:" for i in range(len(head))) + "|"]
        out += ["| " + " | ".join(c.replace("|", "/") for c in cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i < 3 else str(c).rjust(w)   # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    out = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines]
    return "\n".join(out)


def _triad_cell(floor):
    """The in-round triad's GB/s, best/median ("-": no floor for this case)."""
    if not floor or "gb_per_s" not in floor:
        return "-"
    return f"{floor['gb_per_s']:.1f}/{floor['gb_per_s_median']:.1f}"


def _busy_cells(c):
    if not c:
        return ["-", "-"]
    ratio = f"{c['ratio']:.2f}/{c['ratio_best']:.2f}"
    vs = "-" if c.get("numpy_speedup") is None else f"{c['numpy_speedup']:.2f}x"
    return [ratio, vs]


def summary(report):
    """The lines printed above and below the table."""
    cfg = report["config"]
    bw = report["bandwidth"]
    lines = [f"fastloss {report['fastloss']} | {report['size']} sizes | "
             f"{report['threads']} thread(s), {cfg['omp_num_procs']} core(s) | "
             + (f"SIMD {cfg['simd_path']} | " if cfg.get("simd_path") else "")
             + f"numpy {cfg['numpy']}"
             + "".join(f", {k} {v or 'absent'}" for k, v in report["peer_versions"].items()
                       if k != "numpy")]
    if bw:
        lines.append(f"memory bandwidth (STREAM triad, {bw['threads']} threads, once before "
                     f"the cases): {bw['gb_per_s']:.1f} GB/s best, "
                     f"{bw['gb_per_s_median']:.1f} GB/s median; each case's floor is its own "
                     f"in-round triad (column \"triad GB/s\")")
    if report.get("contended"):
        cores = sorted({r["contended"]["busy_core"] for r in report["rows"]
                        if r.get("contended")})
        lines.append(f"contended: a spinning process pinned to CPU {cores} during each case's "
                     f"second set of rounds; busy t{report['threads']}/t1 = fastloss on "
                     f"{report['threads']} thread(s) / on 1 thread, both under that load")
    return "\n".join(lines)


def legend(report=None):
    busy = ""
    if report is not None and _busy(report):
        busy = (f" busy t{report['threads']}/t1: with one core busy, fastloss on "
                f"{report['threads']} thread(s) / fastloss on 1, medians/bests of the same "
                "rounds (target <= 1.1); busy vs numpy: "
                "NumPy's time / fastloss's, same load.")
    return ("time: median of interleaved rounds of loss_gradient (value + gradient). "
            "x floor: time / the median time of a STREAM triad moving the same bytes, "
            "timed in the same rounds (triad GB/s: its best/median). "
            "vs peer: peer time / fastloss time (>1: fastloss faster); torch = forward+backward."
            + busy)


def write_json(report, path):
    with open(path, "w") as fh:
        json.dump(report, fh, indent=1, default=float)
        fh.write("\n")


def plot(report, path):
    """One bar group per case: the speed-up over each peer (log scale).  A
    black tick on a bar marks the speed-up fastloss would have at the memory
    bandwidth floor (peer time / floor time), where the floor applies."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import numpy as np

    rows = [r for r in report["rows"] if r["fastloss"] is not None]
    peers = peer_names(report)
    colours = {"numpy": "#4c72b0", "torch": "#dd8452", "sklearn": "#55a868"}
    height = 0.8 / max(len(peers), 1)
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.6))
    ypos = np.arange(len(rows))[::-1]
    drew_floor = False
    for j, peer in enumerate(peers):
        for y, row in zip(ypos, rows):
            e = row["peers"].get(peer)
            if not e or e["speedup"] is None:
                continue
            yy = y + 0.4 - (j + 0.5) * height
            bad = e["status"] == "disagree"
            ax.barh(yy, e["speedup"], height=height * 0.9, color=colours.get(peer, "grey"),
                    hatch="xx" if bad else None, edgecolor="red" if bad else None)
            ax.text(e["speedup"] * 1.04, yy, f"{e['speedup']:.1f}x", va="center", fontsize=7)
            if row["floor"]:
                ceiling = e["time_s"] / row["floor"]["time_s"]
                ax.plot([ceiling, ceiling], [yy - height * 0.45, yy + height * 0.45],
                        color="black", lw=1.5)
                drew_floor = True
    for j, peer in enumerate(peers):
        ax.barh(np.nan, 0, color=colours.get(peer, "grey"), label=f"over {peer}")
    if drew_floor:
        ax.plot([], [], color="black", lw=1.5, label="at the bandwidth floor")
    if any(e["status"] == "disagree" for r in rows for e in r["peers"].values()):
        ax.barh(np.nan, 0, color="white", hatch="xx", edgecolor="red", label="DISAGREES")
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.set_yticks(ypos)
    ax.set_yticklabels([f"{r['case']}\n{_shape(r)} {r['dtype']}" for r in rows], fontsize=7)
    ax.set_xlabel("speed-up of fastloss loss_gradient (peer time / fastloss time, log scale)")
    bw = report["bandwidth"]
    title = f"fastloss {report['fastloss']}, {report['threads']} threads"
    if bw:
        title += f", STREAM triad {bw['gb_per_s']:.1f} GB/s"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
