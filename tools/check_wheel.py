#!/usr/bin/env python3
"""Check a repaired fastloss wheel: self-contained, within policy, baseline ISA.

    python tools/check_wheel.py WHEEL [--build-dir DIR]

Run with a Python that has auditwheel installed (for the manylinux policy
tables); needs binutils (readelf, objdump).  Checks, each printed as it runs:

1. The platform tag is a manylinux tag (auditwheel repair did its job).
2. libgomp is vendored in ``fastloss.libs/`` and every kernel module links
   that copy (found through an ``$ORIGIN`` run path), not the system's.
3. Every shared library any ELF file in the wheel needs is either in the wheel
   or on the manylinux policy's allow list for the wheel's tag.
4. x86_64 only: the kernels were compiled without ``-march``/``-m<isa>`` flags
   (read from the ``.GCC.command.line`` section ``-frecord-gcc-switches``
   leaves), and the baseline code is SSE2-only: no instruction that needs more
   than x86-64 (AVX/VEX, ymm/zmm, FMA, SSE3-4.2, BMI, POPCNT...) appears in a
   Cython-generated function.  Functions that do use such instructions (a C
   helper compiled with ``__attribute__((target("avx2")))`` and chosen at run
   time) are listed; they are allowed only in a module that detects the CPU
   (``__builtin_cpu_supports`` or ``cpuid``): since the vector kernels are
   compiled once per target (objects of ``src/fastloss/_kernels/simd/``),
   that is the ``simd`` module alone, and its per-target objects are the
   only command lines allowed ``-m<isa>`` flags: exactly the AVX2+FMA or the
   AVX-512F set.  The wheel's binaries are
   stripped, so the function names come from the unstripped twin in the build
   directory, matched by GNU build-id (same id = same link output).

Exit status 0 when every check passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FAILURES: list[str] = []


def check(ok: bool, what: str) -> bool:
    print(f"  [{'ok' if ok else 'FAIL'}] {what}")
    if not ok:
        FAILURES.append(what)
    return ok


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def is_elf(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


def dynamic(path: Path) -> tuple[list[str], list[str]]:
    """(NEEDED entries, RUNPATH/RPATH entries) of an ELF file."""
    needed, paths = [], []
    for line in run("readelf", "-d", str(path)).splitlines():
        match = re.search(r"\((NEEDED|RUNPATH|RPATH)\).*\[(.*)\]", line)
        if match:
            (needed if match.group(1) == "NEEDED" else paths).append(match.group(2))
    return needed, paths


def build_id(path: Path) -> str | None:
    match = re.search(r"Build ID:\s*([0-9a-f]+)", run("readelf", "-n", str(path)))
    return match.group(1) if match else None


def recorded_switches(path: Path) -> str | None:
    """The compiler command lines kept in .GCC.command.line, or None."""
    proc = subprocess.run(["readelf", "-p", ".GCC.command.line", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or "does not exist" in proc.stderr + proc.stdout:
        return None
    lines = [re.sub(r"^\s*\[\s*[0-9a-f]+\]\s*", "", line)
             for line in proc.stdout.splitlines() if "]" in line]
    return "\n".join(lines) or None


def policy_allow_list(tag: str) -> set[str]:
    """The manylinux policy's allowed system libraries for a platform tag."""
    import importlib.resources

    policies = json.loads(
        (importlib.resources.files("auditwheel.policy") / "manylinux-policy.json").read_text())
    name = re.sub(r"_(x86_64|aarch64|i686|ppc64le|s390x|armv7l)$", "", tag)
    for policy in policies:
        if policy["name"] == name or name in policy.get("aliases", []):
            return set(policy["lib_whitelist"])
    raise SystemExit(f"no manylinux policy named {name!r} in auditwheel's tables")


# --- x86-64 baseline (SSE2) instruction check ------------------------------
_VMX = {"verr", "verw", "vmcall", "vmlaunch", "vmresume", "vmxoff", "vmxon", "vmread",
        "vmwrite", "vmptrld", "vmptrst", "vmclear", "vmfunc"}
_ABOVE_SSE2 = {
    # SSE3
    "addsubpd", "addsubps", "haddpd", "haddps", "hsubpd", "hsubps", "lddqu", "movddup",
    "movshdup", "movsldup",
    # SSSE3
    "pabsb", "pabsd", "pabsw", "palignr", "phaddd", "phaddsw", "phaddw", "phsubd",
    "phsubsw", "phsubw", "pmaddubsw", "pmulhrsw", "pshufb", "psignb", "psignd", "psignw",
    # SSE4.1 / 4.2
    "blendpd", "blendps", "blendvpd", "blendvps", "dppd", "dpps", "extractps", "insertps",
    "movntdqa", "mpsadbw", "packusdw", "pblendvb", "pblendw", "pcmpeqq", "pextrb", "pextrd",
    "pextrq", "phminposuw", "pinsrb", "pinsrd", "pinsrq", "pmaxsb", "pmaxsd", "pmaxud",
    "pmaxuw", "pminsb", "pminsd", "pminud", "pminuw", "pmuldq", "pmulld", "ptest", "roundpd",
    "roundps", "roundsd", "roundss", "pcmpestri", "pcmpestrm", "pcmpistri", "pcmpistrm",
    "pcmpgtq", "crc32b", "crc32w", "crc32l", "crc32q", "crc32",
    # POPCNT, LZCNT, BMI1/2, MOVBE  (tzcnt is left out: gcc emits `rep bsf`,
    # which runs as bsf on any x86-64 and which objdump prints as tzcnt)
    "popcnt", "lzcnt", "andn", "bextr", "blsi", "blsmsk", "blsr", "bzhi", "mulx", "pdep",
    "pext", "rorx", "sarx", "shlx", "shrx", "movbe",
}
_PREFIXES = {"rep", "repz", "repe", "repnz", "repne", "lock", "notrack", "bnd", "data16",
             "addr32", "cs", "ds", "ss", "es", "fs", "gs", "rex", "rex.w", "rex.b", "rex.r",
             "rex.x", "rex.wb", "rex.wr", "rex.wx", "rex.wrb", "rex.wxb", "rex.rb", "rex.xb"}
_WIDE_REGISTER = re.compile(r"%[yz]mm\d+|%k[0-7]\b")


def beyond_baseline(mnemonic: str, operands: str) -> bool:
    if _WIDE_REGISTER.search(operands):
        return True
    if mnemonic.startswith("pmovsx") or mnemonic.startswith("pmovzx"):
        return True
    if mnemonic.startswith("v") and mnemonic not in _VMX:
        return True
    return mnemonic in _ABOVE_SSE2


def scan_functions(path: Path) -> dict[str, dict[str, int]]:
    """{function: {non-baseline mnemonic: count}} from objdump's disassembly."""
    found: dict[str, dict[str, int]] = {}
    function = "?"
    text = run("objdump", "-d", "-w", "--no-show-raw-insn", str(path))
    for line in text.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if header:
            function = header.group(1)
            continue
        insn = re.match(r"^\s+[0-9a-f]+:\s+(.*)$", line)
        if not insn:
            continue
        tokens = insn.group(1).split("#")[0].split()
        while tokens and tokens[0] in _PREFIXES:
            tokens = tokens[1:]
        if not tokens:
            continue
        mnemonic, operands = tokens[0], " ".join(tokens[1:])
        if beyond_baseline(mnemonic, operands):
            counts = found.setdefault(function, {})
            counts[mnemonic] = counts.get(mnemonic, 0) + 1
    return found


def detects_cpu(path: Path) -> bool:
    symbols = run("objdump", "-T", "-t", str(path))
    if re.search(r"__cpu_model|__cpu_indicator_init|__cpu_features|getauxval", symbols):
        return True
    return re.search(r"\tcpuid\b|\scpuid\s*$", run("objdump", "-d", "--no-show-raw-insn",
                                                   str(path)), re.MULTILINE) is not None


_CYTHON_CODE = re.compile(r"^(__pyx_|__Pyx_|PyInit_|__pyx)")
# -march=x86-64 is the baseline itself (gcc records its default there too).
_ISA_FLAG = re.compile(r"(?<!\S)(-march=(?!x86-64(?:\s|$))\S+|-mavx\S*|-mfma\S*|-msse3|-mssse3|-msse4\S*|"
                       r"-mbmi\S*|-mpopcnt|-mlzcnt|-mf16c)(?!\S)")


# The per-target vector objects (src/fastloss/_kernels/simd/target.c, built
# once per target with exactly that target's -m flags, CMakeLists.txt) are
# linked into the one module that detects the CPU and chooses among them
# (_kernels/simd.pyx): their command lines may carry those flag sets, no other.
_TARGET_FLAG_SETS = ({"-mavx2", "-mfma"}, {"-mavx512f", "-mavx2", "-mfma"})


def baseline_switches(module_name: str, switches: str) -> str:
    """The recorded command lines that must be baseline: all of them, except
    the per-target vector objects of the simd module."""
    if not module_name.startswith("simd."):
        return switches
    return "\n".join(line for line in switches.splitlines()
                     if set(_ISA_FLAG.findall(line)) not in _TARGET_FLAG_SETS)


def check_baseline(module: Path, twins: dict[str, Path]) -> None:
    bid = build_id(module)
    twin = twins.get(bid or "")
    switches = recorded_switches(module) or (twin and recorded_switches(twin))
    if switches is None:
        check(False, f"{module.name}: compile flags recorded (.GCC.command.line)")
    else:
        flags = sorted(set(_ISA_FLAG.findall(baseline_switches(module.name, switches))))
        check(not flags, f"{module.name}: compiled without ISA flags"
              + (" (outside the per-target vector objects)" if module.name.startswith("simd.")
                 else "")
              + (f" (found {' '.join(flags)})" if flags else ""))
    if twin is None:
        # No symbols: the whole stripped file must be baseline.
        found = scan_functions(module)
        total = sum(sum(c.values()) for c in found.values())
        check(total == 0, f"{module.name}: no unstripped twin with build-id {bid}; whole file "
              f"SSE2-only ({total} non-baseline instructions)")
        return
    found = scan_functions(twin)
    in_cython = {f: c for f, c in found.items() if _CYTHON_CODE.match(f)}
    in_helpers = {f: c for f, c in found.items() if not _CYTHON_CODE.match(f)}
    check(not in_cython, f"{module.name}: Cython-generated code is SSE2-only"
          + "".join(f"\n         {f}: {c}" for f, c in sorted(in_cython.items())[:10]))
    if in_helpers:
        print(f"         runtime-dispatched functions (non-baseline ISA): "
              + ", ".join(f"{f} {sum(c.values())} insn" for f, c in sorted(in_helpers.items())))
        check(detects_cpu(twin), f"{module.name}: detects the CPU before using them")
    else:
        print(f"         {module.name}: no function uses more than SSE2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--build-dir", type=Path, action="append", default=[],
                        help="where the unstripped build outputs are (repeatable)")
    args = parser.parse_args()

    name = args.wheel.name
    tag = name[:-len(".whl")].split("-")[-1]
    print(f"checking {name}")
    check(tag.split(".")[0].startswith("manylinux_"), f"platform tag is manylinux ({tag})")
    allowed = policy_allow_list(tag.split(".")[0])

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(args.wheel) as archive:
            archive.extractall(root)
        elves = sorted(p for p in root.rglob("*") if p.is_file() and is_elf(p))
        vendored = sorted(p for p in elves if p.parent.name.endswith(".libs"))
        modules = sorted(p for p in elves if p not in vendored)
        print(f"  extension modules: {', '.join(p.relative_to(root).as_posix() for p in modules)}")
        print(f"  vendored libraries: {', '.join(p.relative_to(root).as_posix() for p in vendored) or '-'}")
        gomp = [p for p in vendored if p.name.startswith("libgomp")]
        check(len(gomp) == 1, "libgomp is vendored in fastloss.libs/")
        in_wheel = {p.name for p in vendored}
        for elf in elves:
            needed, paths = dynamic(elf)
            outside = [lib for lib in needed if lib not in in_wheel and lib not in allowed]
            check(not outside, f"{elf.name}: needs only vendored or {tag.split('.')[0]} policy "
                  f"libraries ({', '.join(needed)})"
                  + (f"; outside policy: {', '.join(outside)}" if outside else ""))
            # A module that uses OpenMP links the vendored copy through
            # $ORIGIN; one without OpenMP (the SIMD dispatch module) needs none.
            if elf in modules and any("gomp" in lib for lib in needed):
                uses_vendored = any(lib in in_wheel for lib in needed if "gomp" in lib)
                check(uses_vendored and "libgomp.so.1" not in needed,
                      f"{elf.name}: links the vendored libgomp")
                check(any("$ORIGIN" in p for p in paths),
                      f"{elf.name}: finds it through $ORIGIN ({', '.join(paths) or 'no run path'})")
            elif elf in modules:
                print(f"  [ok] {elf.name}: uses no OpenMP (links no libgomp)")

        if tag.endswith("x86_64"):
            twins: dict[str, Path] = {}
            for build_dir in args.build_dir:
                for candidate in build_dir.rglob("*.so"):
                    if candidate.is_file() and is_elf(candidate):
                        bid = build_id(candidate)
                        if bid:
                            twins.setdefault(bid, candidate)
            for module in modules:
                check_baseline(module, twins)

    if FAILURES:
        print(f"wheel check: {len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print("wheel check: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
