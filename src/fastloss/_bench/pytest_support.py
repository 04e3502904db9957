"""The glue between the case catalog and pytest-benchmark (``bench/``).

``params(family)`` lists ``(case, implementation)`` pairs for one family,
case by case, so ``pytest bench/ --benchmark-group-by=group`` prints
fastloss and each installed peer side by side for every case (the group is
the case).  ``run(benchmark, case, impl)`` times one implementation and
checks, untimed, that a peer agrees with fastloss.  Sizes: the environment
variable ``FASTLOSS_BENCH_SIZE`` = ``full`` (default), ``quick`` or ``tiny``.
"""
from __future__ import annotations

import os

from .cases import CASES


def size():
    value = os.environ.get("FASTLOSS_BENCH_SIZE", "full")
    if value not in ("full", "quick", "tiny"):
        raise ValueError(f"FASTLOSS_BENCH_SIZE must be full, quick or tiny, got {value!r}")
    return value


def params(family):
    """pytest parameters ``(case, impl)`` for one family, with readable ids."""
    import pytest
    out = []
    for case in CASES:
        if case.family != family:
            continue
        for impl in ["fastloss"] + [p.name for p in case.peers]:
            out.append(pytest.param(case, impl, id=f"{case.name}-{impl}"))
    return out


_LAST = {}


def _data(case, size_):
    """The case's data, kept for the next test only (one case at a time in memory)."""
    key = (case.name, size_)
    if key not in _LAST:
        _LAST.clear()
        _LAST[key] = case.data(size_)
    return _LAST[key]


def run(benchmark, case, impl):
    import pytest

    import fastloss
    from .runner import compare, has_loss
    if not has_loss(case):
        pytest.skip(f"{case.loss} is not in this fastloss build")
    size_ = size()
    data = _data(case, size_)
    threads = fastloss.get_num_threads()
    benchmark.group = f"{case.name} {'x'.join(map(str, case.shape(size_)))} {case.dtype}"
    benchmark.extra_info.update(case=case.name, impl=impl, threads=threads,
                                elements=int(data.y_pred.size), bytes=int(data.nbytes))
    fl_call = case.fastloss_call(data)
    if impl == "fastloss":
        benchmark(fl_call)
        return
    peer = next(p for p in case.peers if p.name == impl)
    if not peer.available():
        pytest.skip(f"{peer.requires} is not installed")
    call = peer.setup(case, data, threads)
    checked = compare(case, fl_call(), peer.convert(call(), data))
    assert checked["ok"], f"{impl} disagrees with fastloss: {checked['reason']}"
    benchmark.extra_info["peer"] = peer.label
    benchmark(call)
