#!/usr/bin/env python3
"""make bench-profile: where the instructions of one benchmark row go.

Runs the pmu_snapshot_bench selftest for one row under QEMU (-icount
shift=0 -smp 1) with the insn_profile TCG plugin, once with ITERS and once
with 3 * ITERS iterations. The difference of the two runs is exactly
2 * ITERS iterations of the row: boot and set-up cancel out. Instructions
are attributed to the function holding each translation block (from the
kernel's vmlinux symbols) and printed per iteration, for the C and the
Rust kernel side by side.

    scripts/profile.py [--row snapshot_stop_start_1] [--iters 300] [--top 30]

--row takes any row of `make bench` (scripts/bench.py ROWS), the hardware
rows (hw_*) included; BENCH_PROG names the pmu_snapshot_bench binary as for
scripts/bench.py.
"""
import argparse
import bisect
import collections
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402
from bench import PROG, ROWS  # noqa: E402

PLUGIN_SRC = os.path.join(qemu.TOP, "scripts", "profile", "insn_profile.c")
PLUGIN = os.path.join(qemu.BUILD, "profile", "insn_profile.so")
KERNEL_BASE = 0xFFFFFFFF00000000
# The LLVM the kernels are built with (scripts/lib.sh), installed by set-up.
LLVM_NM = "/usr/lib/llvm-19/bin/llvm-nm"


def build_plugin():
    """Builds the plugin (host compiler, no QEMU headers needed)."""
    os.makedirs(os.path.dirname(PLUGIN), exist_ok=True)
    if os.path.exists(PLUGIN) and os.path.getmtime(PLUGIN) >= os.path.getmtime(PLUGIN_SRC):
        return
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", PLUGIN,
                    PLUGIN_SRC], check=True)


class Symbols:
    """Text symbols of a vmlinux, for address-to-function lookup."""

    def __init__(self, vmlinux):
        out = subprocess.run([LLVM_NM, "-n", "-C", "--defined-only", vmlinux], check=True,
                             capture_output=True, text=True).stdout
        self.addrs, self.names = [], []
        for line in out.splitlines():
            # Demangled Rust names hold spaces: "<addr> <type> <name>".
            parts = line.split(maxsplit=2)
            # Local labels (.L*) and mapping symbols ($x, $d) are not functions.
            if len(parts) == 3 and parts[1] in "tTwW" and parts[2][0] not in ".$":
                self.addrs.append(int(parts[0], 16))
                self.names.append(parts[2])

    def name(self, addr):
        if addr < KERNEL_BASE:
            # Below the kernel: OpenSBI (M-mode, physical addresses), the
            # selftest's user space and the guest.
            return "[firmware]" if 0x80000000 <= addr < 0x80200000 else "[user space / guest]"
        i = bisect.bisect_right(self.addrs, addr) - 1
        return self.names[i] if i >= 0 else "[unknown kernel]"


def profile_run(variant, row, iters):
    """Runs the row with the plugin; returns {block vaddr: instructions}."""
    out = os.path.join(qemu.BUILD, "profile", f"{variant}-{row}-{iters}.blocks")
    log = os.path.join(qemu.BUILD, "logs", f"profile-{variant}-{row}-{iters}.console.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    plan = [f"bench 900 /bin/pmu_snapshot_bench {iters} {row}"]
    lines, _, timed_out = qemu.boot(variant, plan, {"/bin/pmu_snapshot_bench": PROG}, log,
                                    timeout=1800, smp=1, icount=True,
                                    extra=["-plugin", f"{PLUGIN},out={out}"])
    if timed_out or not any(line.startswith(f"BENCH {row} ") for line in lines):
        sys.exit(f"profile run {variant} {row} {iters} failed (log: {log})")
    blocks = collections.Counter()
    with open(out) as f:
        for line in f:
            vaddr, insns, runs = line.split()
            blocks[int(vaddr, 16)] += int(insns) * int(runs)
    return blocks


def per_function(variant, row, iters):
    """Instructions per iteration of the row, by function."""
    syms = Symbols(os.path.join(qemu.BUILD, "kernel-" + variant, "vmlinux"))
    short = profile_run(variant, row, iters)
    long = profile_run(variant, row, 3 * iters)
    funcs = collections.Counter()
    for vaddr in set(short) | set(long):
        funcs[syms.name(vaddr)] += long[vaddr] - short[vaddr]
    n = 2 * iters
    return {name: v / n for name, v in funcs.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--row", default="snapshot_stop_start_1", choices=[k for k, _ in ROWS])
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--variant", choices=("c", "rust", "both"), default="both")
    a = ap.parse_args()
    build_plugin()
    variants = ("c", "rust") if a.variant == "both" else (a.variant,)
    prof = {v: per_function(v, a.row, a.iters) for v in variants}
    names = sorted(set().union(*prof.values()),
                   key=lambda k: -max(abs(p.get(k, 0)) for p in prof.values()))
    print(f"\n{a.row}: guest-visible instructions per iteration, by function"
          f" (difference of {a.iters} and {3 * a.iters} iterations)\n")
    print(f"{'function':56}" + "".join(f"{v:>10}" for v in variants))
    for name in names[:a.top]:
        vals = [prof[v].get(name, 0) for v in variants]
        if max(abs(x) for x in vals) < 0.5:
            continue
        print(f"{name[-56:]:56}" + "".join(f"{x:10.1f}" for x in vals))
    print(f"{'total':56}" + "".join(f"{sum(prof[v].values()):10.1f}" for v in variants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
