#!/usr/bin/env python3
"""make bench: the Rust and the C snapshot paths side by side.

Boots each kernel variant twice under QEMU with -icount shift=0,sleep=off -smp 1 (the
guest's time CSR then advances with executed instructions: one tick per 100
instructions) and runs the pmu_snapshot_bench selftest, which reports guest
timer ticks per call for each row. Prints the table, the spread between the
two runs, and the snapshot memory per vCPU.
"""
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

ITERS = int(os.environ.get("BENCH_ITERS", "20000"))
RUNS = 2
STATIC_MEM = {}
ROWS = [
    ("null_sbi_call", "null SBI call (trap round trip)"),
    ("fw_counter_read", "firmware counter read"),
    ("stop_start_1", "stop + start, 1 counter"),
    ("snapshot_stop_start_1", "stop TAKE_SNAPSHOT + start INIT_SNAPSHOT, 1 counter"),
    ("stop_start_8", "stop + start, 8 counters"),
    ("snapshot_stop_start_8", "stop TAKE_SNAPSHOT + start INIT_SNAPSHOT, 8 counters"),
    ("set_shmem", "snapshot_set_shmem"),
]


def run_once(variant, n):
    prog = os.path.join(qemu.BUILD, "selftests", "riscv", "pmu_snapshot_bench")
    plan = [f"bench 900 /bin/pmu_snapshot_bench {ITERS}"]
    log = os.path.join(qemu.BUILD, "logs", f"bench-{variant}-{n}.console.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    lines, secs, timed_out = qemu.boot(variant, plan, {"/bin/pmu_snapshot_bench": prog}, log,
                                       timeout=1200, smp=1, icount=True)
    rows, mem = {}, None
    for line in lines:
        m = re.search(r"snapshot memory per vCPU: rust (\d+) bytes", line)
        if m:
            STATIC_MEM["rust"] = int(m.group(1))
        m = re.match(r"^BENCH (\S+) ([\d.]+)", line)
        if m:
            rows[m.group(1)] = float(m.group(2))
        m = re.match(r"^BENCH_MEM (-?\d+)", line)
        if m:
            mem = int(m.group(1))
    problems = qemu.scan_reports(lines)
    if timed_out or problems or len(rows) != len(ROWS) or mem is None:
        sys.exit(f"bench run {variant}#{n} failed: {problems or 'timeout or missing rows'}"
                 f" (log: {log})")
    print(f"  {variant} run {n}: {secs:.0f} s", flush=True)
    return rows, mem


def main():
    for cmd in (["bash", "scripts/setup.sh"], ["bash", "scripts/prepare-kernel.sh"],
                ["bash", "scripts/build-kernel.sh", "rust"], ["bash", "scripts/build-kernel.sh", "c"],
                ["bash", "scripts/build-selftests.sh", "rust"]):
        subprocess.run(cmd, cwd=qemu.TOP, check=True)
    print(f"\n######## benchmark: {ITERS} iterations per row, {RUNS} runs per kernel,"
          " qemu -icount shift=0,sleep=off -smp 1")
    res, mem = {}, {}
    for variant in ("c", "rust"):
        runs = [run_once(variant, n + 1) for n in range(RUNS)]
        res[variant] = runs
        mem[variant] = [m for _, m in runs]

    def mean(v, row):
        return statistics.mean(r[row] for r, _ in res[v])

    def spread(v, row):
        vals = [r[row] for r, _ in res[v]]
        return (max(vals) - min(vals)) / statistics.mean(vals) * 100 if statistics.mean(vals) else 0

    print("\nguest timer ticks per call (1 tick = 100 guest-visible instructions)\n")
    print(f"| {'path':52} | {'C':>9} | {'Rust':>9} | {'Rust/C':>6} | {'spread C':>8} | {'spread Rust':>11} |")
    print(f"|{'-' * 54}|{'-' * 11}|{'-' * 11}|{'-' * 8}|{'-' * 10}|{'-' * 13}|")
    worst = 0.0
    slower = []
    for key, label in ROWS:
        c, r = mean("c", key), mean("rust", key)
        sc, sr = spread("c", key), spread("rust", key)
        worst = max(worst, sc, sr)
        # Slower means by more than the 0.1% two runs may disagree by (the
        # null call, which runs no code of either path, is equal).
        if r > c * 1.001:
            slower.append(key)
        print(f"| {label:52} | {c:9.2f} | {r:9.2f} | {r / c:6.3f} | {sc:7.3f}% | {sr:10.3f}% |")
    print()
    ok = True
    for n in (1, 8):
        oc = mean("c", f"snapshot_stop_start_{n}") - mean("c", f"stop_start_{n}")
        orr = mean("rust", f"snapshot_stop_start_{n}") - mean("rust", f"stop_start_{n}")
        ratio = orr / oc if oc else float("inf")
        print(f"snapshot overhead, {n} counter{'s' if n > 1 else ''}: C {oc:.2f} ticks, "
              f"Rust {orr:.2f} ticks, Rust/C {ratio:.3f}")
        ok &= ratio <= 0.1
    print(f"kernel memory for the snapshot per vCPU: C {statistics.mean(mem['c']):.0f} bytes "
          f"allocated at registration, Rust {statistics.mean(mem['rust']):.0f} bytes "
          f"(SUnreclaim delta over 16 vCPUs); the Rust path's gfn_to_pfn_cache adds "
          f"{STATIC_MEM.get('rust', '?')} bytes to struct kvm_vcpu")
    print(f"largest spread between the two runs of a kernel: {worst:.3f}%")
    verdict = []
    if worst > 0.1:
        verdict.append("runs disagree by more than 0.1%")
    if slower:
        verdict.append("Rust slower than C on: " + ", ".join(slower))
    if not ok:
        verdict.append("Rust snapshot overhead above a tenth of C's")
    print("targets: " + ("all met" if not verdict else "; ".join(verdict)))
    return 1 if verdict else 0


if __name__ == "__main__":
    sys.exit(main())
