"""bench/: pytest-benchmark files (``bench_*.py``), not part of the test run.

    python -m pytest bench/ --benchmark-group-by=group            # full sizes
    FASTLOSS_BENCH_SIZE=quick python -m pytest bench/ --benchmark-group-by=group

Files named ``bench_*.py`` are collected here (pytest's default pattern is
``test_*.py``), so ``pytest bench/`` finds them while ``pytest`` (tests/) does not.
"""
import pytest


def pytest_collect_file(file_path, parent):
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
