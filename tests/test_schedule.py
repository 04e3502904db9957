"""Schedules, team sizes and the OpenMP wait policy (issue 16, "A busy machine").

The kernels hand their fixed blocks out dynamically, and a region whose extra
threads were late runs on the calling thread for a while (_runtime.pyx's
module docstring).  Neither may change a bit of any result:

- every registered loss gives the same bits at 1, 2, 3 and 7 threads (7 on
  a 2-core machine: threads are descheduled mid-region, blocks land on
  whichever thread is free), with the late-team back-off off so the teams
  really have that many threads, and with it on;
- the back-off's bookkeeping: a late team sends regions of its size to one
  thread, a team that keeps up resets it, other sizes are not affected;
- fastloss's runtime is loaded with OMP_WAIT_POLICY=passive unless the user
  chose a policy, and the process environment is left as it was.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss as fl
from fastloss._kernels import _runtime

sys.path.insert(0, os.path.dirname(__file__))
import _loss_cases as lc  # noqa: E402
from test_contract import CLASSES, IDS, evaluate, mean_reduction, same_results, spec_of  # noqa: E402


@pytest.fixture
def fixed_teams():
    """Every region gets the threads asked for (no late-team back-off)."""
    before = _runtime.set_adaptive(False)
    try:
        yield
    finally:
        _runtime.set_adaptive(before)


@pytest.fixture
def adaptive_teams():
    before = _runtime.set_adaptive(True)
    try:
        yield
    finally:
        _runtime.set_adaptive(before)


def _results_by_threads(cls, counts, seed, elements):
    spec = spec_of(cls)
    red = mean_reduction(spec)
    rng = np.random.default_rng(seed)
    out = []
    for dtype in (np.float64, np.float32):
        call = lc.big_call(spec, rng, elements=elements)
        call.arrays["y_pred"] = np.asarray(call.arrays["y_pred"]).astype(dtype)
        results = {}
        for k in counts:
            with fl.num_threads(k):
                results[k] = evaluate(call, red)
        out.append((call, dtype, results))
    return out


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_same_bits_on_more_threads_than_cores(cls, fixed_teams):
    # 200 000 values: dozens of blocks per region, so with 7 threads on 2
    # cores every block may be run by any thread, in any order.
    for call, dtype, results in _results_by_threads(cls, (1, 2, 3, 7), 1600, 200_000):
        for k in (2, 3, 7):
            bad = same_results(results[k], results[1])
            assert not bad, (cls.__name__, call.params, dtype, f"{k} threads", bad)


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_same_bits_with_the_back_off_on(cls, adaptive_teams):
    # Whether a region runs on one thread or two now depends on the
    # machine's load; the bits must not.
    for call, dtype, results in _results_by_threads(cls, (1, 2, 7), 1700, 60_000):
        for k in (2, 7):
            bad = same_results(results[k], results[1])
            assert not bad, (cls.__name__, call.params, dtype, f"{k} threads", bad)


def test_back_off_bookkeeping(adaptive_teams):
    _runtime.reset_team()
    assert _runtime._team(2, 100) == 2
    _runtime._record(2, 100, 99)            # thread 0 did 99 of 100 blocks: late team
    assert _runtime._team(2, 100) == 1
    assert _runtime._team(2, 127) == 1      # same size class (64..127 blocks)
    assert _runtime._team(2, 128) == 2      # another size class is not affected
    assert _runtime._team(1, 100) == 1
    state = _runtime.team_state()
    assert list(state) == [6] and state[6][0] == 1 and 0.0 < state[6][1] <= 0.05
    _runtime._record(2, 100, 99)            # a second late team backs off longer
    assert 0.05 < _runtime.team_state()[6][1] <= 0.1
    _runtime.reset_team()
    assert _runtime._team(2, 100) == 2 and _runtime.team_state() == {}


def test_a_team_that_keeps_up_resets_the_back_off(adaptive_teams):
    _runtime.reset_team()
    _runtime._record(2, 100, 99)
    _runtime._record(2, 100, 50)            # recorded by a region already running
    assert _runtime._team(2, 100) == 2
    _runtime._record(2, 100, 75)            # exactly 3/4 is not late
    assert _runtime._team(2, 100) == 2
    _runtime._record(2, 3, 3)               # too few blocks to tell
    _runtime._record(1, 100, 100)           # one thread tells nothing
    assert _runtime._team(2, 3) == 2 and _runtime._team(2, 100) == 2


def test_back_off_off_gives_every_region_its_threads(fixed_teams):
    _runtime._record(2, 100, 100)
    assert _runtime._team(2, 100) == 2
    assert _runtime.team_state() == {}
    assert not _runtime.get_adaptive()


def _child(code, **env):
    base = {k: v for k, v in os.environ.items()
            if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME",
                         "OMP_DISPLAY_ENV", "FASTLOSS_ADAPTIVE_TEAM")}
    base.update(env)
    return subprocess.run([sys.executable, "-c", code], env=base, capture_output=True,
                          text=True, timeout=120, check=True)


_SHOW = ("import os, fastloss, fastloss._omp_policy as p; "
         "print(p.state); print(os.environ.get('OMP_WAIT_POLICY'))")


def test_runtime_is_loaded_passive_and_the_environment_restored():
    r = _child(_SHOW, OMP_DISPLAY_ENV="true")
    state, env_after = r.stdout.split("\n")[:2]
    assert state.startswith("OMP_WAIT_POLICY=passive")
    assert env_after == "None"
    if "OMP_WAIT_POLICY" in r.stderr:        # libgomp prints its settings at load
        assert "OMP_WAIT_POLICY = 'PASSIVE'" in r.stderr


@pytest.mark.parametrize("var,value", [("OMP_WAIT_POLICY", "active"),
                                       ("GOMP_SPINCOUNT", "1000")])
def test_a_users_wait_policy_is_kept(var, value):
    r = _child(_SHOW, **{var: value, "OMP_DISPLAY_ENV": "true"})
    state = r.stdout.split("\n")[0]
    assert state == f"user: {var}={value}"
    if var == "OMP_WAIT_POLICY" and "OMP_WAIT_POLICY" in r.stderr:
        assert "OMP_WAIT_POLICY = 'ACTIVE'" in r.stderr


def test_environment_switch_turns_the_back_off_off():
    r = _child("from fastloss._kernels import _runtime as r; print(r.get_adaptive())",
               FASTLOSS_ADAPTIVE_TEAM="0")
    assert r.stdout.strip() == "False"


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="no /proc/stat")
def test_cpu_ticks_read_the_machines_idle_time():
    idle0, total0 = _runtime.cpu_ticks()
    assert 0 <= idle0 <= total0
    t = __import__("time").time() + 0.05
    while __import__("time").time() < t:
        pass
    idle1, total1 = _runtime.cpu_ticks()
    assert idle1 >= idle0 and total1 > total0


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="no /proc/stat")
def test_room_does_not_count_this_process_as_load():
    # This process spinning on one CPU is the calling thread's own work, not
    # load that would keep a team from running: the room for extra threads
    # is what the rest of the machine leaves, at most ncpu - 1.
    import time
    idle0, total0 = _runtime.cpu_ticks()
    own0 = _runtime.own_cpu()
    t = time.time() + 10
    while _runtime.own_cpu() - own0 < 0.2 and time.time() < t:
        pass
    room = _runtime.room_since(idle0, total0, own0)
    assert _runtime.own_cpu() - own0 >= 0.2
    assert np.isfinite(room) and room <= os.cpu_count() - 1 + 0.2
