"""Run cases: time fastloss and each peer side by side, check agreement.

Timing: every implementation is called once untimed (its result is the one
checked for agreement), then the implementations are timed in interleaved
rounds — fastloss, peer 1, peer 2, ..., again — so a burst of load on a
shared machine hits all of them alike; each reports its median round.
Before every call the runner sleeps 5 ms (untimed) so the idle OpenMP
workers of the previous implementation stop spinning.  A slow
implementation gets fewer rounds (``budget`` seconds each, at least one).

The floor: a streaming case's rounds include one more candidate, the
STREAM triad moving the same bytes on the same threads (probe.triad_call),
so the case and its floor are measured under the same load; "x floor" is
the case's median over the triad's median from those rounds (the best of
each is kept too).

Contended (``contended=True``): after its quiet rounds a case is timed again
while another process spins on one core (busy.busy_core): fastloss on
``threads`` threads, fastloss on one thread and NumPy, interleaved; the row
gets ``contended`` = those times, t(threads)/t(1) and NumPy's time over
fastloss's.  The team-size back-off of the kernels (_kernels/_runtime.pyx)
is reset before each quiet phase, so a case's quiet figures do not inherit
the previous case's contended state.
"""
from __future__ import annotations

import gc
import math
import time

import numpy as np

PEER_ORDER = ("numpy", "torch", "sklearn")


def has_loss(case):
    """Is the case's loss in this fastloss build (by registry name)?"""
    import fastloss
    return case.loss.lower() in {name.lower() for name in fastloss.available()}


def compare(case, fl_result, peer_result):
    """Agreement of (value, gradient) pairs, both in fastloss's convention.

    The value must agree to the case's relative tolerance, the gradient to
    that tolerance relative to its largest entry (``max |Δg| / max |g|``).
    Returns a dict: ``ok``, ``value_err``, ``grad_err``, ``reason``.
    """
    vtol, gtol = case.tolerances()
    fv, fg = fl_result
    pv, pg = peer_result
    fg, pg = np.asarray(fg), np.asarray(pg)
    out = {"ok": False, "value_err": None, "grad_err": None, "reason": ""}
    if fg.shape != pg.shape:
        out["reason"] = f"gradient shape {pg.shape} != fastloss {fg.shape}"
        return out
    fv, pv = float(fv), float(pv)
    value_err = abs(fv - pv) / max(abs(pv), 1e-3)
    f64, p64 = fg.astype(np.float64), pg.astype(np.float64)
    scale = float(np.max(np.abs(p64))) if p64.size else 0.0
    diff = float(np.max(np.abs(f64 - p64))) if p64.size else 0.0
    grad_err = diff / scale if scale > 0 else diff
    if not (np.isfinite(f64).all() and np.isfinite(p64).all()):
        grad_err = math.inf
    if not (math.isfinite(fv) and math.isfinite(pv)):
        value_err = math.inf
    out.update(value_err=value_err, grad_err=grad_err)
    reasons = []
    if not value_err <= vtol:
        reasons.append(f"value {fv:.9g} vs {pv:.9g} (rel. err {value_err:.2g} > {vtol:g})")
    if not grad_err <= gtol:
        reasons.append(f"gradient max|diff|/max|g| = {grad_err:.2g} > {gtol:g}")
    out["ok"] = not reasons
    out["reason"] = "; ".join(reasons)
    return out


def _timed(call):
    # torch, sklearn and fastloss each have an OpenMP runtime whose idle
    # workers spin for a moment after a parallel region: let them go to sleep
    # so one implementation's threads do not steal the next one's cores.
    time.sleep(0.005)
    t0 = time.perf_counter()
    result = call()
    return time.perf_counter() - t0, result


def _reset_teams():
    from .._kernels import _runtime
    _runtime.reset_team()


def run_case(case, *, size="full", threads=2, rounds=5, budget=3.0, peers=None,
             bandwidth=None, contended=False):
    """Benchmark one case; returns its row (a JSON-ready dict).

    ``bandwidth``: anything true times the in-round triad (the floor) for a
    streaming case; ``contended``: also time it with one core kept busy."""
    import fastloss
    row = {"case": case.name, "loss": case.loss, "family": case.family,
           "params": dict(case.params), "shape": list(case.shape(size)),
           "dtype": case.dtype, "status": "ok", "reason": "", "fastloss": None,
           "floor": None, "peers": {}, "contended": None}
    if not has_loss(case):
        row.update(status="skipped", reason=f"{case.loss!r} is not in this fastloss build")
        return row
    data = case.data(size)
    row["elements"] = int(data.y_pred.size)
    row["bytes"] = int(data.nbytes)
    impls = []                     # (name, peer or None, timed call)
    _reset_teams()
    with fastloss.num_threads(threads):
        try:
            fl_call = case.fastloss_call(data)
            t_warm, fl_result = _timed(fl_call)
        except Exception as exc:   # a broken loss is reported, not raised
            row.update(status="error", reason=f"fastloss: {type(exc).__name__}: {exc}")
            return row
        impls.append(("fastloss", None, fl_call, t_warm))
        for peer in case.peers:
            if peers is not None and peer.name not in peers:
                continue
            entry = {"label": peer.label, "status": "ok", "time_s": None, "speedup": None,
                     "value_err": None, "grad_err": None, "reason": ""}
            row["peers"][peer.name] = entry
            if not peer.available():
                entry.update(status="absent", reason=f"{peer.requires} is not installed")
                continue
            try:
                call = peer.setup(case, data, threads)
                t_peer, result = _timed(call)
                checked = compare(case, fl_result, peer.convert(result, data))
            except Exception as exc:
                entry.update(status="error", reason=f"{type(exc).__name__}: {exc}")
                row["status"] = "error"
                continue
            del result
            entry.update(value_err=checked["value_err"], grad_err=checked["grad_err"])
            if not checked["ok"]:
                entry.update(status="disagree", reason=checked["reason"])
                if row["status"] == "ok":
                    row["status"] = "disagree"
            impls.append((peer.name, peer, call, t_peer))
        triad = None
        if case.streaming and bandwidth:
            from . import probe
            triad = probe.triad_call(data.nbytes, threads)
            t_triad, _ = _timed(triad)
            impls.append(("triad", None, triad, t_triad))
        del fl_result
        gc.collect()
        times = _time_rounds(impls, rounds, budget)
    t_fl = times["fastloss"]
    row["fastloss"] = {"time_s": t_fl, "best_s": min(times.raw["fastloss"]),
                       "rounds": len(times.raw["fastloss"]),
                       "elements_per_s": data.y_pred.size / t_fl,
                       "gb_per_s": data.nbytes / t_fl / 1e9}
    if triad is not None:
        t_med, t_best = times["triad"], min(times.raw["triad"])
        row["floor"] = {"time_s": t_med, "best_s": t_best, "ratio": t_fl / t_med,
                        "ratio_best": row["fastloss"]["best_s"] / t_best,
                        "rounds": len(times.raw["triad"]), "probe_bytes": triad.bytes,
                        "gb_per_s": triad.bytes / t_best / 1e9,
                        "gb_per_s_median": triad.bytes / t_med / 1e9}
        del triad
    for name, entry in row["peers"].items():
        if name in times:
            entry["time_s"] = times[name]
            entry["rounds"] = len(times.raw[name])
            entry["speedup"] = times[name] / t_fl
    if contended:
        row["contended"] = _run_contended(case, data, impls, threads, rounds, budget)
    return row


def _run_contended(case, data, impls, threads, rounds, budget):
    """fastloss on `threads` threads and on 1, and NumPy, interleaved, with
    one core kept busy by another process."""
    import fastloss
    from .busy import busy_core
    fl_call = impls[0][2]

    def on(k):
        def call():
            with fastloss.num_threads(k):
                return fl_call()
        return call

    timed = [(f"fastloss@{threads}", None, on(threads), impls[0][3]),
             ("fastloss@1", None, on(1), impls[0][3] * threads)]
    timed += [(name, peer, call, t) for name, peer, call, t in impls if name == "numpy"]
    out = {"threads": int(threads)}
    with busy_core() as proc:
        out["busy_core"] = proc.core
        for _, _, call, _ in timed:     # each once, untimed, under the load
            _timed(call)
        times = _time_rounds(timed, rounds, budget)
    t_n, t_1 = times[f"fastloss@{threads}"], times["fastloss@1"]
    b_n, b_1 = min(times.raw[f"fastloss@{threads}"]), min(times.raw["fastloss@1"])
    out.update(time_s=t_n, time_1_s=t_1, ratio=t_n / t_1,
               best_s=b_n, best_1_s=b_1, ratio_best=b_n / b_1,
               rounds=len(times.raw[f"fastloss@{threads}"]))
    out["numpy_time_s"] = times.get("numpy")
    out["numpy_speedup"] = times["numpy"] / t_n if "numpy" in times else None
    return out


class _Times(dict):
    raw: dict


def _time_rounds(impls, rounds, budget):
    """Interleaved rounds; median seconds per implementation name."""
    counts = {name: max(1, min(rounds, int(budget / max(t_warm, 1e-9))))
              for name, _, _, t_warm in impls}
    raw = {name: [] for name, *_ in impls}
    for r in range(max(counts.values())):
        for name, _, call, _ in impls:
            if r < counts[name]:
                t, result = _timed(call)
                del result
                raw[name].append(t)
    out = _Times({name: float(np.median(ts)) for name, ts in raw.items()})
    out.raw = raw
    return out


def run(cases, *, size="full", threads=2, rounds=None, budget=None, peers=None,
        bandwidth=True, progress=None, contended=False):
    """Benchmark `cases`; returns the report (a JSON-ready dict).

    ``bandwidth=True`` runs the STREAM-like probe once first (the report's
    ``bandwidth``, for reference; a dict is taken as those numbers) and times
    the triad inside every streaming case's rounds (its floor);
    ``None``/False leaves the floor out.  ``contended=True`` also times every
    case with one core kept busy (see the module docstring).
    ``progress(index, total, row)`` is called after every case.
    """
    import fastloss
    from . import probe
    quick = size != "full"
    if rounds is None:
        rounds = 3 if quick else 5
    if budget is None:
        budget = 0.2 if quick else 2.0
    if bandwidth is True:
        bandwidth = probe.bandwidth(threads, quick=quick)
    elif not bandwidth:
        bandwidth = None
    rows = []
    for i, case in enumerate(cases):
        row = run_case(case, size=size, threads=threads, rounds=rounds, budget=budget,
                       peers=peers, bandwidth=bandwidth, contended=contended)
        rows.append(row)
        gc.collect()
        if progress is not None:
            progress(i, len(cases), row)
    failed = [r["case"] for r in rows if r["status"] in ("disagree", "error")]
    return {
        "schema": "fastloss-bench/1",
        "fastloss": fastloss.__version__,
        "config": fastloss.config(),
        "size": size,
        "threads": int(threads),
        "rounds": int(rounds),
        "time_unit": "s",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bandwidth": bandwidth,
        "contended": bool(contended),
        "peer_versions": _peer_versions(peers),
        "rows": rows,
        "failed": failed,
        "ok": not failed,
    }


def _peer_versions(peers):
    import sys
    from .cases import importable
    out = {"numpy": np.__version__}
    for name, module in (("torch", "torch"), ("sklearn", "sklearn")):
        if peers is not None and name not in peers:
            continue
        if not importable(module):
            out[name] = None
        elif sys.modules.get(module) is not None:
            out[name] = getattr(sys.modules[module], "__version__", "?")
    return out
