"""
Benchmark: fastloss against NumPy, PyTorch and scikit-learn
===========================================================

``python -m fastloss bench --json docs/bench.json --plot docs/bench.png``
times fastloss's ``loss_gradient`` (value and gradient in one call) next to
every installed peer and checks that they agree. The first figure draws the
recorded run shipped with the documentation (``docs/bench.json``: 2 threads on
2 cores, see the README for the machine); the second times a few losses on
this machine while the documentation is built.
"""

import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fastloss as fl

# sphinx-gallery runs this file from docs/examples; the JSON is one level up
here = (
    Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
)
report = json.loads((here.parent / "bench.json").read_text())

# %%
# The recorded run
# ----------------
# Speed-up of fastloss over each peer (peer time / fastloss time), log scale;
# a peer that has no such loss is left out.
rows = [r for r in report["rows"] if r["fastloss"] is not None]
peers = ["numpy", "torch", "sklearn"]
colours = {"numpy": "#4c72b0", "torch": "#dd8452", "sklearn": "#55a868"}
fig, ax = plt.subplots(
    figsize=(9, 0.42 * len(rows) + 1.4), layout="constrained"
)
ypos = np.arange(len(rows))[::-1]
for j, peer in enumerate(peers):
    speedups = [
        r["peers"].get(peer, {}).get("speedup") or np.nan for r in rows
    ]
    ax.barh(
        ypos + 0.27 * (1 - j),
        speedups,
        height=0.26,
        color=colours[peer],
        label=f"over {peer}",
    )
ax.axvline(1.0, color="grey", lw=0.8, ls="--")
ax.set_xscale("log")
ax.set_yticks(ypos)
ax.set_yticklabels(
    [f"{r['case']} {'x'.join(map(str, r['shape']))}" for r in rows], fontsize=7
)
ax.set_xlabel("speed-up of fastloss loss_gradient (log scale)")
ax.set_title(
    f"fastloss {report['fastloss']}, {report['threads']} threads, "
    f"STREAM triad {report['bandwidth']['gb_per_s']:.1f} GB/s",
    fontsize=10,
)
ax.legend(loc="lower right", fontsize=8)
ax.grid(axis="x", which="both", alpha=0.3)

# %%
# A quick measurement now
# -----------------------
# Five rounds each, interleaved, median time; NumPy computes the same value
# and gradient with array expressions. Documentation builds share their
# machine, so read the ratios, not the milliseconds.
rng = np.random.default_rng(0)
n = 1_000_000
y, p = rng.random(n), rng.random(n)


def numpy_mse(y, p):
    d = p - y
    return np.mean(d * d), 2 * d / d.size


def numpy_huber(y, p, delta=0.5):
    e = p - y
    inside = np.abs(e) <= delta
    value = np.where(
        inside, 0.5 * e * e, delta * (np.abs(e) - 0.5 * delta)
    ).mean()
    return value, np.where(inside, e, delta * np.sign(e)) / e.size


def numpy_log_cosh(y, p):
    e = p - y
    return np.mean(np.log(np.cosh(e))), np.tanh(e) / e.size


cases = {
    "mse": (fl.MeanSquaredError(), numpy_mse),
    "huber": (fl.Huber(delta=0.5), numpy_huber),
    "log_cosh": (fl.LogCosh(), numpy_log_cosh),
}
times = {name: {"fastloss": [], "numpy": []} for name in cases}
for _ in range(5):
    for name, (loss, ref) in cases.items():
        for label, fn in (("fastloss", loss.loss_gradient), ("numpy", ref)):
            t0 = time.perf_counter()
            value, grad = fn(y, p)
            times[name][label].append(time.perf_counter() - t0)
        assert np.isclose(loss(y, p), ref(y, p)[0])
ratio = {
    name: np.median(t["numpy"]) / np.median(t["fastloss"])
    for name, t in times.items()
}
for name, r in ratio.items():
    print(
        f"{name:9s} fastloss {1e3 * np.median(times[name]['fastloss']):6.2f}"
        f" ms, numpy {1e3 * np.median(times[name]['numpy']):6.2f} ms,"
        f" speed-up {r:.1f}x"
    )
fig, ax = plt.subplots(figsize=(5, 2.4), layout="constrained")
ax.barh(list(ratio)[::-1], list(ratio.values())[::-1], color=colours["numpy"])
ax.axvline(1.0, color="grey", lw=0.8, ls="--")
ax.set_xlabel(
    f"speed-up over NumPy, n = {n:,}, {fl.get_num_threads()} threads"
)
plt.show()
