"""`python -m fastloss` and the benchmark's case catalog, timed nothing.

Checked here: argument handling, that the agreement check catches a peer
that is wrong (the classic convention slips: a half-loss, a gradient not
divided by n), the JSON schema of ``bench --quick --json``, skipped and
absent rows, and — at tiny sizes — that every case's NumPy and torch peers
agree with each other and with fastloss where the loss is built.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import fastloss
from fastloss import __main__ as cli
from fastloss._bench import cases as C
from fastloss._bench import numpy_ref as npr
from fastloss._bench import report, runner

SPEC_LOSSES = {
    "mean_squared_error", "mean_absolute_error", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "binary_crossentropy", "hinge", "squared_hinge",
    "multiclass_hinge", "huber", "log_cosh", "poisson", "kl_divergence",
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "cosine_similarity_loss",
    "kappa_loss", "hellinger_distance", "giou_loss", "lovasz_softmax", "lovasz_hinge",
    "jaccard_loss", "balanced_crossentropy", "f1_loss", "ranknet",
    "pinball_loss", "lambdarank",                       # SPEC 4.2
    "diou_loss", "ciou_loss",                           # SPEC 4.3
    "expectile_loss", "pseudo_huber", "tweedie_deviance",  # SPEC 4.2
}
ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}


def _mse_case(*peers, name="mse_small", loss="mse", n=2000):
    shapes = {"full": (n,), "quick": (n,), "tiny": (n,)}
    return C.Case(name, loss, "regression", shapes, "float64", C._regression, peers=peers)


def _wrong_numpy(fn, label):
    peer = C.numpy_peer(fn)
    return C.Peer("numpy", label, peer.setup, peer.convert)


def _half_mse(y, f):            # sklearn's half-loss taken for MSE: value and gradient halved
    e = f - y
    return float(np.mean(0.5 * e * e)), e / e.size


def _undivided_mse(y, f):       # right value, gradient per sample (not divided by n)
    e = f - y
    return float(np.mean(e * e)), 2 * e


def _run(argv, cases, capsys):
    code = cli.main(argv, cases=cases)
    out = capsys.readouterr()
    return code, out.out, out.err


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize("argv", [
    ["bench", "--threads", "0"], ["bench", "--threads", "two"], ["bench", "--rounds", "-1"],
    ["bench", "--frobnicate"], ["bench", "--loss"], ["benchmark"],
])
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_unknown_loss_names_the_known_cases(capsys):
    code = cli.main(["bench", "--loss", "no_such_loss"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no_such_loss" in err and "mse" in err


def test_loss_selection_by_case_id_and_fastloss_names():
    # A case id selects that case alone; any other name of a loss, all its cases.
    assert [c.name for c in C.select(["mse"])] == ["mse"]
    assert [c.name for c in C.select(["mse_out"])] == ["mse_out"]
    assert [c.name for c in C.select(["MeanSquaredError", "huber", "mse"])] == ["mse", "mse_out", "huber"]
    assert [c.name for c in C.select(["mean_absolute_error"])] == ["mae"]
    assert len(C.select(None)) == len(C.CASES)


def test_plot_without_matplotlib_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = cli.main(["bench", "--quick", "--plot", "x.png"], cases=[_mse_case()])
    assert code == 2
    assert "matplotlib" in capsys.readouterr().err


def test_no_arguments_prints_help_then_a_quick_run(capsys):
    code, out, err = _run([], [_mse_case(C.numpy_peer(npr.mean_squared_error))], capsys)
    assert code == 0
    assert "python -m fastloss bench" in out
    assert "mse_small" in out and "vs numpy" in out
    assert "[1/1] mse_small" in err                     # progress line


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--quick", "--loss", "--threads", "--json", "--plot", "--rounds",
                   "--markdown"):
        assert option in out


def test_subprocess_entry_point_exit_status():
    proc = subprocess.run([sys.executable, "-m", "fastloss", "bench", "--loss", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "nope" in proc.stderr


def test_runs_with_only_numpy(tmp_path):
    """torch, sklearn and matplotlib blocked: the peers show as absent, exit 0."""
    code = (
        "import sys\n"
        "for m in ('torch', 'sklearn', 'matplotlib'): sys.modules[m] = None\n"
        "from fastloss.__main__ import main\n"
        f"sys.exit(main(['bench', '--quick', '--loss', 'mse', '--rounds', '1',"
        f" '--json', {str(tmp_path / 'r.json')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "absent" in proc.stdout
    row = json.loads((tmp_path / "r.json").read_text())["rows"][0]
    assert row["peers"]["torch"]["status"] == "absent"
    assert row["peers"]["sklearn"]["status"] == "absent"
    assert row["peers"]["numpy"]["status"] == "ok"
    assert "torch" not in sys.modules or sys.modules["torch"] is not None


# ------------------------------------------------------------ agreement check
@pytest.mark.parametrize("wrong", [_half_mse, _undivided_mse])
def test_a_wrong_peer_is_detected_and_fails_the_run(wrong, tmp_path, capsys):
    case = _mse_case(_wrong_numpy(wrong, "wrong numpy"))
    path = tmp_path / "r.json"
    code, out, err = _run(["bench", "--quick", "--rounds", "1", "--json", str(path)],
                          [case], capsys)
    assert code == 1
    assert "DISAGREE" in out and "!" in out and "NO: numpy" in out
    assert "DISAGREES" in err
    result = json.loads(path.read_text())
    assert result["ok"] is False and result["failed"] == ["mse_small"]
    assert result["rows"][0]["status"] == "disagree"
    assert result["rows"][0]["peers"]["numpy"]["status"] == "disagree"


def test_a_right_peer_passes(capsys):
    case = _mse_case(C.numpy_peer(npr.mean_squared_error))
    code, out, _ = _run(["bench", "--quick", "--rounds", "1"], [case], capsys)
    assert code == 0
    assert "yes" in out and "DISAGREE" not in out
    code, out, _ = _run(["bench", "--quick", "--rounds", "1", "--markdown"], [case], capsys)
    assert code == 0
    assert "| case | shape |" in out and "| mse_small | 2000 | float64 |" in out


def test_a_raising_peer_is_an_error(capsys):
    def broken(case, data, threads):
        raise RuntimeError("peer exploded")
    case = _mse_case(C.Peer("numpy", "broken", broken, lambda r, d: r))
    code, out, _ = _run(["bench", "--quick", "--rounds", "1"], [case], capsys)
    assert code == 1
    assert "peer exploded" in out


def test_compare_catches_one_wrong_element_nan_and_shape():
    case = _mse_case()
    g = np.linspace(-1, 1, 101)
    assert runner.compare(case, (1.0, g), (1.0, g.copy()))["ok"]
    bad = g.copy()
    bad[17] += 1e-6
    assert not runner.compare(case, (1.0, g), (1.0, bad))["ok"]
    assert not runner.compare(case, (1.0, g), (1.0 + 1e-6, g))["ok"]
    nan = g.copy()
    nan[3] = np.nan
    assert not runner.compare(case, (1.0, g), (1.0, nan))["ok"]
    assert not runner.compare(case, (math.nan, g), (1.0, g))["ok"]
    assert "shape" in runner.compare(case, (1.0, g), (1.0, g[:-1]))["reason"]
    f32 = C.Case("x", "mse", "r", {"tiny": (3,)}, "float32", C._regression)
    assert runner.compare(f32, (1.0, g), (1.0 + 1e-6, g * (1 + 1e-6)))["ok"]


def test_missing_loss_is_skipped_and_absent_peer_shown(tmp_path, capsys):
    ghost = C.Peer("torch", "not installed", lambda *a: None, lambda r, d: r,
                   requires="no_such_module_for_fastloss_tests")
    cases = [_mse_case(name="not_built", loss="no_such_loss"),
             _mse_case(C.numpy_peer(npr.mean_squared_error), ghost)]
    path = tmp_path / "r.json"
    code, out, _ = _run(["bench", "--quick", "--rounds", "1", "--json", str(path)],
                        cases, capsys)
    assert code == 0
    assert "skipped" in out and "absent" in out
    rows = json.loads(path.read_text())["rows"]
    assert rows[0]["status"] == "skipped" and rows[0]["fastloss"] is None
    assert rows[1]["peers"]["torch"]["status"] == "absent"
    assert rows[1]["peers"]["torch"]["time_s"] is None


# ------------------------------------------------------------------- schema
def test_quick_json_schema(tmp_path, capsys):
    path = tmp_path / "r.json"
    code = cli.main(["bench", "--quick", "--loss", "mse", "huber", "--threads", "2",
                     "--rounds", "1", "--json", str(path)])
    capsys.readouterr()
    assert code == 0
    r = json.loads(path.read_text())
    assert r["schema"] == "fastloss-bench/1"
    assert r["size"] == "quick" and r["threads"] == 2 and r["ok"] is True
    assert r["fastloss"] == fastloss.__version__ and r["failed"] == []
    assert set(r["config"]) >= {"numpy", "openmp", "omp_num_procs"}
    bw = r["bandwidth"]
    assert bw["threads"] == 2 and bw["gb_per_s"] > 0 and bw["gb_per_s_median"] > 0
    assert bw["gb_per_s"] >= bw["gb_per_s_median"]
    assert [row["case"] for row in r["rows"]] == ["mse", "huber"]
    for row in r["rows"]:
        assert set(row) >= {"case", "loss", "family", "params", "shape", "dtype", "status",
                            "elements", "bytes", "fastloss", "floor", "peers"}
        assert row["status"] == "ok"
        assert row["shape"] == list(C.BY_NAME[row["case"]].shape("quick"))
        assert row["elements"] == math.prod(row["shape"])
        fl = row["fastloss"]
        assert fl["time_s"] > 0 and fl["rounds"] >= 1
        assert fl["elements_per_s"] == pytest.approx(row["elements"] / fl["time_s"])
        assert fl["gb_per_s"] == pytest.approx(row["bytes"] / fl["time_s"] / 1e9)
        assert row["floor"]["ratio"] == pytest.approx(fl["time_s"] / row["floor"]["time_s"])
        assert "numpy" in row["peers"]
        for name, e in row["peers"].items():
            assert e["status"] in ("ok", "absent")
            if e["status"] == "ok":
                assert e["speedup"] == pytest.approx(e["time_s"] / fl["time_s"])
                assert 0 <= e["value_err"] < 1e-6 and 0 <= e["grad_err"] < 1e-6


def test_table_and_plot_from_a_report(tmp_path):
    pytest.importorskip("matplotlib")
    case = _mse_case(C.numpy_peer(npr.mean_squared_error))
    result = runner.run([case], size="tiny", threads=1, rounds=1,
                        bandwidth={"gb_per_s": 10.0, "gb_per_s_median": 8.0, "threads": 1,
                                   "bytes": 1, "trials": 1})
    text = report.table(result)
    assert "mse_small" in text.splitlines()[2]
    md = report.table(result, markdown=True)
    assert md.startswith("| case |") and md.count("\n") == 2
    report.plot(result, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ catalog
def test_catalog_covers_every_spec_loss():
    covered = {ALIASES.get(c.loss, c.loss) for c in C.CASES}
    assert covered == SPEC_LOSSES
    assert len({c.name for c in C.CASES}) == len(C.CASES)
    for case in C.CASES:
        assert set(case.shapes) == set(C.SIZES)
        assert [p.name for p in case.peers][0] == "numpy"


def _peer_results(case):
    data = case.data("tiny")
    out = {}
    for peer in case.peers:
        if peer.available():
            out[peer.name] = peer.convert(peer.setup(case, data, 1)(), data)
    return data, out


@pytest.mark.parametrize("case", C.CASES, ids=lambda c: c.name)
def test_peers_agree_with_each_other_at_tiny_size(case):
    """The NumPy reference and the torch / sklearn peers (independent code)
    give the same value and gradient: the references themselves are right."""
    _, results = _peer_results(case)
    if len(results) < 2:
        pytest.skip("only the NumPy peer is installed")
    for name, result in results.items():
        checked = runner.compare(case, results["numpy"], result)
        assert checked["ok"], f"{name}: {checked['reason']}"


@pytest.mark.parametrize("case", C.CASES, ids=lambda c: c.name)
def test_fastloss_agrees_with_every_peer_at_tiny_size(case):
    if not runner.has_loss(case):
        pytest.skip(f"{case.loss} is not in this build yet")
    row = runner.run_case(case, size="tiny", threads=1, rounds=1, budget=0.0)
    assert row["status"] == "ok", row
    assert row["peers"]["numpy"]["status"] == "ok"


# --------------------------------------------------- in-round floor, --contended
def _children_spinning():
    """Pids of this process's children running the busy-core spinner."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z" and b"while 1" in cmd:
            found.append(int(entry))
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_floor_is_the_in_round_triad(tmp_path, capsys):
    case = _mse_case(C.numpy_peer(npr.mean_squared_error), n=50_000)
    path = tmp_path / "r.json"
    code, out, _ = _run(["bench", "--quick", "--rounds", "2", "--json", str(path)],
                        [case], capsys)
    assert code == 0
    assert "triad GB/s" in out
    row = json.loads(path.read_text())["rows"][0]
    floor = row["floor"]
    assert floor["rounds"] == 2 and 0 < floor["best_s"] <= floor["time_s"]
    assert abs(floor["probe_bytes"] - row["bytes"]) <= 24
    assert floor["gb_per_s"] == pytest.approx(floor["probe_bytes"] / floor["best_s"] / 1e9)
    assert floor["gb_per_s_median"] == pytest.approx(floor["probe_bytes"] / floor["time_s"] / 1e9)
    assert floor["ratio"] == pytest.approx(row["fastloss"]["time_s"] / floor["time_s"])
    assert floor["ratio_best"] == pytest.approx(row["fastloss"]["best_s"] / floor["best_s"])
    assert f"{floor['gb_per_s']:.1f}/{floor['gb_per_s_median']:.1f}" in out


def test_contended_reports_ratios_and_stops_the_spinner(tmp_path, capsys):
    case = _mse_case(C.numpy_peer(npr.mean_squared_error), n=50_000)
    path = tmp_path / "r.json"
    code, out, err = _run(["bench", "--quick", "--rounds", "2", "--threads", "2",
                           "--contended", "--json", str(path)], [case], capsys)
    assert code == 0
    head = next(line for line in out.splitlines() if line.startswith("case"))
    assert "busy t2/t1" in head and "busy vs numpy" in head
    assert "contended: a spinning process" in out and "busy t2/t1" in err
    r = json.loads(path.read_text())
    assert r["contended"] is True
    c = r["rows"][0]["contended"]
    assert c["threads"] == 2 and c["rounds"] == 2
    assert c["ratio"] == pytest.approx(c["time_s"] / c["time_1_s"])
    assert c["ratio_best"] == pytest.approx(c["best_s"] / c["best_1_s"])
    assert c["best_s"] <= c["time_s"] and c["best_1_s"] <= c["time_1_s"]
    assert f"{c['ratio']:.2f}/{c['ratio_best']:.2f}" in out
    assert c["numpy_speedup"] == pytest.approx(c["numpy_time_s"] / c["time_s"])
    assert c["busy_core"] in os.sched_getaffinity(0)
    assert _children_spinning() == []


def test_quiet_run_has_no_contended_columns(capsys):
    case = _mse_case(C.numpy_peer(npr.mean_squared_error))
    code, out, _ = _run(["bench", "--quick", "--rounds", "1"], [case], capsys)
    assert code == 0 and "busy" not in out


def test_busy_core_spins_on_one_cpu_and_stops_on_error_and_ctrl_c():
    from fastloss._bench.busy import busy_core
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc):
            with busy_core() as proc:
                assert proc.poll() is None
                assert os.sched_getaffinity(proc.pid) == {proc.core}
                assert proc.pid in _children_spinning()
                raise exc("stop")
        assert proc.poll() is not None and not _alive(proc.pid)
    assert _children_spinning() == []


def test_busy_core_dies_with_a_killed_parent():
    code = ("import os, signal, sys\n"
            "from fastloss._bench.busy import busy_core\n"
            "with busy_core() as proc:\n"
            "    print(proc.pid, flush=True)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == -9
    spinner = int(proc.stdout.split()[0])
    for _ in range(100):
        if not _alive(spinner):
            break
        time.sleep(0.05)
    assert not _alive(spinner)


# ---------------------------------------------------------------- --simd-paths
def test_simd_paths_rejects_an_unknown_path(capsys):
    code = cli.main(["bench", "--quick", "--simd-paths", "no_such_path"])
    assert code == 2
    assert "no_such_path" in capsys.readouterr().err


def test_simd_paths_passes_the_options_on():
    args = cli._parser().parse_args(["bench", "--quick", "--loss", "mse", "huber", "--rounds",
                                     "2", "--threads", "1", "--json", "out/r.json", "--plot",
                                     "p.png", "--contended", "--simd-paths", "all"])
    argv = cli._simd_argv(args, "sse2")
    assert argv[:2] == ["bench", "--quick"] and "--simd-paths" not in argv
    assert argv[argv.index("--loss") + 1:argv.index("--loss") + 3] == ["mse", "huber"]
    assert argv[argv.index("--json") + 1] == "out/r.sse2.json"
    assert argv[argv.index("--plot") + 1] == "p.sse2.png"
    assert "--contended" in argv and argv[argv.index("--rounds") + 1] == "2"


def test_simd_paths_runs_each_path_in_its_own_process(tmp_path):
    path = fastloss.available_simd_paths()[-1]
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "fastloss", "bench", "--quick", "--loss",
                           "mse", "--rounds", "1", "--json", str(out), "--simd-paths", path],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"=== SIMD path: {path}" in proc.stdout and f"SIMD {path}" in proc.stdout
    r = json.loads((tmp_path / f"r.{path}.json").read_text())
    assert r["config"]["simd_path"] == path
