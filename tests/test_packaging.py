"""What the installed package is: show_config, its OpenMP runtime, its modules.

The tests marked by ``FASTLOSS_EXPECT_WHEEL=1`` (set by tools/build_wheel.sh,
which runs this suite against the repaired wheel in a fresh venv) also check
that fastloss was imported from site-packages, that its kernels call the
libgomp vendored in ``fastloss.libs/`` and that the shipped binaries were
compiled for baseline x86-64.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import re
import struct
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import pytest

import fastloss as fl
from fastloss import _config

LINUX = sys.platform.startswith("linux")
WHEEL = os.environ.get("FASTLOSS_EXPECT_WHEEL") == "1"
needs_linux = pytest.mark.skipif(not LINUX, reason="reads /proc/self/maps")
wheel_only = pytest.mark.skipif(not WHEEL, reason="only for the installed wheel "
                                "(FASTLOSS_EXPECT_WHEEL=1, set by tools/build_wheel.sh)")


def _printed(capsys) -> dict[str, str]:
    fl.show_config()
    lines = capsys.readouterr().out.splitlines()
    fields = dict(line.split(": ", 1) for line in lines)
    return {key.strip(): value for key, value in fields.items()}


def test_show_config_prints_version_threads_and_simd_path(capsys):
    shown = _printed(capsys)
    assert shown["fastloss"] == fl.__version__
    assert shown["num_threads"] == str(fl.get_num_threads())
    assert shown["simd_path"] == _config.simd_path() != ""
    with fl.num_threads(1):
        assert _printed(capsys)["num_threads"] == "1"
    assert set(shown) == set(fl.config())


def test_show_config_follows_the_thread_setting(capsys):
    with fl.num_threads(3):
        assert fl.config()["num_threads"] == 3
        assert _printed(capsys)["num_threads"] == "3"


@needs_linux
def test_openmp_runtime_is_the_loaded_library_fastloss_calls(capsys):
    runtime = fl.config()["openmp_runtime"]
    assert runtime is not None and os.path.isfile(runtime)
    assert re.search(r"lib(gomp|omp|iomp5)", os.path.basename(runtime))
    assert runtime in _config.openmp_libraries()
    assert _printed(capsys)["openmp_runtime"] == runtime
    # An independent witness: threadpoolctl lists the same file as an OpenMP library.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    paths = {os.path.realpath(info["filepath"]) for info in threadpoolctl.threadpool_info()
             if info["user_api"] == "openmp"}
    assert os.path.realpath(runtime) in paths


def test_threadpoolctl_limit_reaches_fastloss_runtime():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = fl.get_num_threads()
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fl.get_num_threads() == 1
        assert fl.config()["num_threads"] == 1
    assert fl.get_num_threads() == before


def test_simd_path_reads_every_kernel_modules_report(monkeypatch):
    import fastloss._kernels as kernels
    fl.set_simd_path("sse2")
    fake = types.ModuleType("fastloss._kernels.rows")
    fake.simd_path = lambda: "baseline"
    monkeypatch.setitem(sys.modules, "fastloss._kernels.rows", fake)
    monkeypatch.setattr(kernels, "rows", fake, raising=False)
    assert fl.config()["simd_path"] == "sse2"
    fake.simd_path = lambda: "avx2+fma"       # modules that disagree are named
    assert fl.config()["simd_path"] == "pointwise=sse2, rows=avx2"

    def broken():
        raise RuntimeError("cpuid failed")
    fake.simd_path = broken
    assert "rows=unknown (RuntimeError" in fl.config()["simd_path"]


def test_simd_path_without_kernel_modules(monkeypatch):
    for name in ("rows", "pointwise"):
        monkeypatch.setitem(sys.modules, f"fastloss._kernels.{name}", None)   # import fails
    assert fl.config()["simd_path"].startswith("baseline")


def test_cpu_features_are_known_names():
    features = _config.cpu_features()
    assert set(features) <= set(_config._CPU_FEATURES)
    if LINUX and _config.platform.machine() == "x86_64":
        assert "sse2" in features            # every x86-64 CPU has it


def test_every_module_imports():
    """Every module and compiled kernel the package ships imports.

    An adapter for an optional peer that is not installed may refuse with an
    ImportError naming that peer; a missing fastloss module may not.
    """
    names = [info.name for info in pkgutil.walk_packages(fl.__path__, "fastloss.")
             if not info.name.endswith("__main__")]
    assert "fastloss._kernels._runtime" in names
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing = (exc.name or "").split(".")[0]
            if not missing or missing == "fastloss":
                raise


# --- the installed wheel ----------------------------------------------------

def _kernel_binaries() -> list[Path]:
    return sorted(Path(fl.__file__).parent.joinpath("_kernels").glob("*.so"))


def _elf_section(path: Path, wanted: str) -> bytes | None:
    """Bytes of a named section of a 64-bit little-endian ELF file."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, path
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i):
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)

    names_offset = header(shstrndx)[4]
    for i in range(shnum):
        name, _, _, _, offset, size, *_ = header(i)
        end = data.index(b"\0", names_offset + name)
        if data[names_offset + name:end].decode() == wanted:
            return data[offset:offset + size]
    return None


@wheel_only
def test_imported_from_site_packages_not_the_source_tree():
    site = os.path.realpath(sysconfig.get_paths()["platlib"])
    assert os.path.realpath(fl.__file__).startswith(site + os.sep)
    package = Path(fl.__file__).parent
    assert not list(package.rglob("*.pyx")) and not list(package.rglob("*.pxd"))
    assert not list(package.rglob("*.pyx.tp"))
    assert _kernel_binaries()


@wheel_only
@needs_linux
def test_wheel_kernels_call_the_vendored_libgomp():
    runtime = Path(fl.config()["openmp_runtime"])
    assert runtime.parent.name == "fastloss.libs"
    assert runtime.parent.parent == Path(fl.__file__).parent.parent
    assert re.fullmatch(r"libgomp-[0-9a-f]{8}\.so[.0-9]*", runtime.name), runtime.name


@wheel_only
@pytest.mark.skipif(not (LINUX and _config.platform.machine() == "x86_64"),
                    reason="the x86-64 baseline check reads x86_64 ELF files")
def test_wheel_kernels_compiled_without_isa_flags():
    for binary in _kernel_binaries():
        recorded = _elf_section(binary, ".GCC.command.line")
        assert recorded is not None, f"{binary.name}: no .GCC.command.line section"
        switches = recorded.replace(b"\0", b" ").decode()
        assert "-O3" in switches
        assert "-ffast-math" not in switches
        if binary.name.startswith("simd."):
            # the dispatch module alone carries the per-target vector objects
            # (-mavx2 -mfma, -mavx512f), chosen at run time after CPU detection;
            # tools/check_wheel.py checks its Cython code is SSE2-only
            assert "-mavx2" in switches, switches
            continue
        # -march=x86-64 is the baseline (and gcc's recorded default); nothing above it.
        assert not re.search(r"-march=(?!x86-64(\s|$))|-mavx|-mfma|-msse[34]|-mssse3|-ffast-math",
                             switches), switches


@pytest.mark.parametrize("module, peer", [("fastloss.torch", "torch"),
                                          ("fastloss.sklearn", "sklearn")])
def test_adapter_without_its_peer_names_the_peer(module, peer):
    """On a machine without the peer (a newcomer's `.[test]` venv has no torch)
    the adapter's ImportError carries `.name`, so it is told apart from a
    broken fastloss install."""
    code = (f"import sys; sys.modules[{peer!r}] = None\n"
            f"try:\n    import {module}\n"
            f"except ImportError as exc:\n    print((exc.name or '').split('.')[0])\n"
            f"else:\n    print('imported')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == peer
