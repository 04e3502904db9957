"""Out-of-core fastloss.dask on a LocalCluster (SPEC §5, issue 14).

    python bench/bench_dask.py                       # 2e9 float32 elements (needs ~40 GB of disk)
    python bench/bench_dask.py --elements 5e8        # a shorter run
    python bench/bench_dask.py --only fit

1. ``loss_gradient`` of MSE and of BCE from logits over N float32 elements
   stored as uncompressed Zarr arrays on disk (written here, chunked along
   axis 0), the gradient written back to Zarr, value and gradient in one
   pass (``dask.compute(value, da.store(..., compute=False))``); the same for
   Jaccard over a (64, 21, 512, 512) float32 stack.  Reported: elements/s next
   to the in-memory kernel's (``Loss.loss_gradient`` on ~1e8 elements, same
   process count of threads), the ratio, and the peak RSS of every process
   (client, scheduler, each worker).  The gradient written to disk is checked
   on its first 1e8 elements against the in-memory gradient of that prefix
   (rescaled: "mean" divides by the global n), without loading all of it.
2. A fit: ``fastloss.dask.objective("huber", X, y)`` with L-BFGS on X of
   1e7 x 20 float64 (chunked, generated on the workers) against the
   in-memory ``fastloss.objective`` fit on the same data: max |coef diff|.

The Zarr files go under --dir (default /tmp/fastloss-bench-dask) and are
deleted at the end.  Timings on a shared 2-core machine are noisy: the
in-memory and the cluster run are interleaved (in-memory, cluster,
in-memory) and the best of the in-memory runs is used.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time

import numpy as np

import dask
import dask.array as da
import zarr
from distributed import Client, LocalCluster

import fastloss as fl
import fastloss.dask as fld


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one_thread():
    import fastloss
    fastloss.set_num_threads(1)
    return True


COMPRESSOR = None          # set from --compressor in main()


def compressors(name):
    """None (raw chunks: the fastest for random floats, which do not
    compress) or one of Blosc's fast codecs with byte shuffle (a 0/1
    label array shrinks ~30x)."""
    if name == "none":
        return None
    from zarr.codecs import BloscCodec
    return BloscCodec(cname=name, clevel=1, shuffle="shuffle")


def zarr_array(path, shape, chunks, dtype="float32"):
    return zarr.create_array(store=path, shape=shape, chunks=chunks, dtype=dtype,
                             compressors=COMPRESSOR, overwrite=True)


def write_inputs(root, n, chunk, kind):
    """y_true and y_pred as Zarr arrays of n float32 values, generated on the
    workers chunk by chunk (never in one process' memory)."""
    # PCG64 drawing float32 directly: several times faster than
    # RandomState's float64 draws, which dominated writing 2e9 elements
    rs = da.random.default_rng(42)
    if kind == "mse":
        yt = rs.standard_normal(n, chunks=chunk, dtype=np.float32)
        yp = rs.standard_normal(n, chunks=chunk, dtype=np.float32)
    else:                                   # BCE from logits: labels 0/1, logits
        yt = (rs.random(n, chunks=chunk, dtype=np.float32) < 0.3).astype(np.float32)
        yp = 2.0 * rs.standard_normal(n, chunks=chunk, dtype=np.float32)
    zt = zarr_array(os.path.join(root, "y_true.zarr"), (n,), (chunk,))
    zp = zarr_array(os.path.join(root, "y_pred.zarr"), (n,), (chunk,))
    da.store([yt, yp], [zt, zp], lock=False)


_IN_MEMORY = """
import sys, time, numpy as np, fastloss as fl
kind, shape = sys.argv[1], tuple(int(s) for s in sys.argv[2].split(","))
rng = np.random.default_rng(0)
if kind == "mse":
    loss = fl.MeanSquaredError()
    yt = rng.standard_normal(shape, dtype=np.float32); yp = rng.standard_normal(shape, dtype=np.float32)
elif kind == "bce":
    loss = fl.BinaryCrossentropy(from_logits=True)
    yt = (rng.random(shape) < 0.3).astype(np.float32); yp = 2 * rng.standard_normal(shape, dtype=np.float32)
else:
    loss = fl.JaccardLoss(class_axis=1)
    yt = (rng.random(shape, dtype=np.float32) < 0.2).astype(np.float32)
    yp = rng.random(shape, dtype=np.float32)
best = float("inf")
for _ in range(3):
    t = time.perf_counter(); loss.loss_gradient(yt, yp); best = min(best, time.perf_counter() - t)
print(yp.size / best)
"""


def in_memory_rate_subprocess(kind, shape):
    """The in-memory kernel's elements/s (best of 3 loss_gradient calls), in a
    process of its own: its arrays do not count in the client's peak RSS."""
    import subprocess
    out = subprocess.run([sys.executable, "-c", _IN_MEMORY, kind,
                          ",".join(str(int(s)) for s in shape)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def open_input(path):
    """A dask array over a Zarr array opened with zarr's LocalStore: a path
    given to da.from_zarr goes through fsspec's async wrapper, which reads a
    chunk at half the speed or less."""
    return da.from_zarr(zarr.open_array(path, mode="r"))


def cluster_run(client, loss, root, out_name):
    yt = open_input(os.path.join(root, "y_true.zarr"))
    yp = open_input(os.path.join(root, "y_pred.zarr"))
    zg = zarr_array(os.path.join(root, out_name), yp.shape, yp.chunksize)
    t = time.perf_counter()
    value, grad = fld.loss_gradient(loss, yt, yp)
    store = da.store(grad, zg, lock=False, compute=False)
    v, _ = dask.compute(value, store)
    return float(v), yp.size / (time.perf_counter() - t)


def _second(a, b):
    return b.copy()


def io_floor_run(root, out_name):
    """The same read-two-write-one pipeline with no loss (the disk's share):
    elements/s of reading y_true and y_pred and writing a copy of y_pred."""
    yt = open_input(os.path.join(root, "y_true.zarr"))
    yp = open_input(os.path.join(root, "y_pred.zarr"))
    zg = zarr_array(os.path.join(root, out_name), yp.shape, yp.chunksize)
    t = time.perf_counter()
    da.store(da.map_blocks(_second, yt, yp, dtype=yp.dtype), zg, lock=False)
    return yp.size / (time.perf_counter() - t)


def stage_times(root, loss):
    """Where one chunk's time goes, timed on a worker: reading its y_true and
    y_pred chunks through Zarr, the kernel (one loss_gradient call), writing
    the gradient chunk through Zarr, and the same bytes read with
    np.fromfile (what the file system gives without Zarr's copies)."""
    zt = zarr.open_array(os.path.join(root, "y_true.zarr"), mode="r")
    zp = zarr.open_array(os.path.join(root, "y_pred.zarr"), mode="r")
    c = zp.chunks[0]
    out = {}
    t = time.perf_counter()
    yt, yp = zt[:c], zp[:c]
    out["zarr_read_s"] = time.perf_counter() - t
    t = time.perf_counter()
    g = loss.loss_gradient(yt, yp)[1]
    out["kernel_s"] = time.perf_counter() - t
    # a scratch array of its own: writing into grad.zarr would replace the
    # first chunk of the gradient the prefix check then reads
    zg = zarr_array(os.path.join(root, "stage.zarr"), (c,), (c,))
    t = time.perf_counter()
    zg[:] = g
    out["zarr_write_s"] = time.perf_counter() - t
    if COMPRESSOR is None:
        t = time.perf_counter()
        for name in ("y_true.zarr", "y_pred.zarr"):
            np.fromfile(os.path.join(root, name, "c", "0"), dtype=np.float32)
        out["raw_read_s"] = time.perf_counter() - t
    out["elements"] = int(c)
    return out


def peak_rss(client):
    workers = client.run(rss_mb)
    sched = client.run_on_scheduler(rss_mb)
    return {"client": rss_mb(), "scheduler": sched,
            **{f"worker {i}": v for i, v in enumerate(workers.values())}}


def bench_pointwise(client, args, report):
    n = int(float(args.elements))
    chunk = int(float(args.chunk))
    root = os.path.join(args.dir, "pointwise")
    os.makedirs(root, exist_ok=True)
    m = int(float(args.memory_elements))
    for name, loss, kind in (("mse", fl.MeanSquaredError(), "mse"),
                             ("bce_logits", fl.BinaryCrossentropy(from_logits=True), "bce")):
        t = time.perf_counter()
        write_inputs(root, n, chunk, kind)
        t_write = time.perf_counter() - t
        mem1 = in_memory_rate_subprocess(kind, (m,))
        value, rate = cluster_run(client, loss, root, "grad.zarr")
        floor = io_floor_run(root, "copy.zarr") if args.io_floor else None
        stages = client.submit(stage_times, root, loss, pure=False).result()
        mem2 = in_memory_rate_subprocess(kind, (m,))
        m = min(m, 10**7)             # the check reads a prefix into the client
        yt = np.asarray(zarr.open_array(os.path.join(root, "y_true.zarr"))[:m])
        yp = np.asarray(zarr.open_array(os.path.join(root, "y_pred.zarr"))[:m])
        # correctness on the prefix: the gradient on disk equals the in-memory one
        g_disk = np.asarray(zarr.open_array(os.path.join(root, "grad.zarr"))[:m])
        ok = bool(np.allclose(g_disk * (n / m), loss.gradient(yt, yp), rtol=1e-5,
                              atol=1e-12))
        del yt, yp, g_disk
        mem = max(mem1, mem2)
        row = {"loss": name, "elements": n, "chunk": chunk, "value": value,
               "cluster_elem_per_s": rate, "in_memory_elem_per_s": mem,
               "ratio": rate / mem, "write_s": t_write, "gradient_prefix_ok": ok,
               "io_floor_elem_per_s": floor, "load_avg_1min": os.getloadavg()[0],
               "compressor": args.compressor, "one_chunk_stages_s": stages,
               "ratio_to_io_floor": None if floor is None else rate / floor}
        report["pointwise"].append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(root)
        os.makedirs(root, exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)


def bench_jaccard(client, args, report):
    shape = tuple(int(s) for s in args.jaccard_shape.split(","))
    root = os.path.join(args.dir, "jaccard")
    os.makedirs(root, exist_ok=True)
    per = int(args.jaccard_images_per_chunk)
    chunks = (per,) + shape[1:]
    rs = da.random.RandomState(1)
    yt = (rs.random_sample(shape, chunks=chunks) < 0.2).astype(np.float32)
    yp = rs.random_sample(shape, chunks=chunks).astype(np.float32)
    zt = zarr_array(os.path.join(root, "y_true.zarr"), shape, chunks)
    zp = zarr_array(os.path.join(root, "y_pred.zarr"), shape, chunks)
    da.store([yt, yp], [zt, zp], lock=False)
    loss = fl.JaccardLoss(class_axis=1)
    sub = max(1, shape[0] // 4)
    mem1 = in_memory_rate_subprocess("jaccard", (sub,) + shape[1:])
    value, rate = cluster_run(client, loss, root, "grad.zarr")
    mem2 = in_memory_rate_subprocess("jaccard", (sub,) + shape[1:])
    mem = max(mem1, mem2)
    row = {"loss": "jaccard(class_axis=1)", "shape": shape, "chunk": chunks, "value": value,
           "cluster_elem_per_s": rate, "in_memory_elem_per_s": mem, "ratio": rate / mem,
           "in_memory_shape": (sub,) + shape[1:], "load_avg_1min": os.getloadavg()[0],
           "compressor": args.compressor}
    report["jaccard"] = row
    print(json.dumps(row), flush=True)
    shutil.rmtree(root, ignore_errors=True)


def bench_fit(client, args, report):
    from scipy.optimize import minimize
    n, d = int(float(args.fit_rows)), 20
    chunk = max(1, n // 40)
    rs = da.random.RandomState(7)
    X = rs.standard_normal((n, d), chunks=(chunk, d))
    coef = np.linspace(-2, 2, d)
    y = X @ coef + 0.5 + rs.standard_t(3, size=n, chunks=chunk)
    X, y = dask.persist(X, y)
    opts = dict(jac=True, method="L-BFGS-B",
                options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 1000})
    t = time.perf_counter()
    f_d = fld.objective("huber", X, y, fit_intercept=True, scale=1.0 / n)
    res_d = minimize(f_d, np.zeros(d + 1), **opts)
    t_d = time.perf_counter() - t
    Xm, ym = dask.compute(X, y)
    t = time.perf_counter()
    f_m = fl.objective("huber", Xm, ym, fit_intercept=True, scale=1.0 / n)
    res_m = minimize(f_m, np.zeros(d + 1), **opts)
    t_m = time.perf_counter() - t
    row = {"rows": n, "features": d, "chunks": len(X.chunks[0]),
           "max_abs_coef_diff": float(np.max(np.abs(res_d.x - res_m.x))),
           "cluster_s": t_d, "cluster_evals": int(res_d.nfev), "in_memory_s": t_m,
           "in_memory_evals": int(res_m.nfev)}
    report["fit"] = row
    print(json.dumps(row), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--elements", default="2e9")
    ap.add_argument("--chunk", default="2.5e7", help="elements per Zarr / dask chunk")
    ap.add_argument("--memory-elements", default="1e8")
    ap.add_argument("--jaccard-shape", default="64,21,512,512")
    ap.add_argument("--jaccard-images-per-chunk", default="2")
    ap.add_argument("--fit-rows", default="1e7")
    ap.add_argument("--dir", default="/tmp/fastloss-bench-dask")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads-per-worker", type=int, default=1)
    ap.add_argument("--memory-limit", default="2.8GB")
    ap.add_argument("--only", choices=("pointwise", "jaccard", "fit"), nargs="*")
    ap.add_argument("--io-floor", action="store_true",
                    help="also time the same Zarr read/write pipeline without a loss")
    ap.add_argument("--compressor", default="none", choices=("none", "lz4", "zstd"),
                    help="Zarr codec of the inputs and the gradient")
    ap.add_argument("--keep-work-stealing", action="store_true",
                    help="leave dask's work stealing on (see main())")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    need = 3 * 4 * float(args.elements) / 2**30
    free = shutil.disk_usage(os.path.dirname(args.dir.rstrip("/")) or "/").free / 2**30
    print(f"disk: {free:.1f} GiB free, the pointwise part needs {need:.1f} GiB", flush=True)
    os.makedirs(args.dir, exist_ok=True)
    report = {"pointwise": [], "args": vars(args)}
    global COMPRESSOR
    COMPRESSOR = compressors(args.compressor)
    # Work stealing off: an idle worker otherwise steals the task that stores
    # a chunk's gradient from the worker holding it (while that worker reads
    # its next chunk) and pulls the 100 MB over TCP, which costs more than
    # waiting; measured 0.9-2.3 s of transfers per 4 chunks with it on, none
    # with it off.
    dask.config.set({"distributed.scheduler.work-stealing": args.keep_work_stealing})
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                           processes=True,
                           memory_limit=args.memory_limit, dashboard_address=":0")
    client = Client(cluster)
    client.run(one_thread)
    try:
        only = args.only or ("pointwise", "jaccard", "fit")
        if "pointwise" in only:
            if need > free - 2:
                sys.exit(f"not enough disk under {args.dir}: need {need:.1f} GiB")
            bench_pointwise(client, args, report)
        if "jaccard" in only:
            bench_jaccard(client, args, report)
        if "fit" in only:
            bench_fit(client, args, report)
        report["peak_rss_mb"] = peak_rss(client)
        print(json.dumps({"peak_rss_mb": report["peak_rss_mb"]}), flush=True)
    finally:
        client.close()
        cluster.close()
        shutil.rmtree(args.dir, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return report


if __name__ == "__main__":
    main()
