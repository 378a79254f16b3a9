#!/usr/bin/env python3
"""The real perf tool on the host: `perf record` of a KVM guest, read back
with `perf report -D`.

Boots the given kernel under QEMU -icount (counters count instructions
exactly) with the static riscv64 perf (scripts/build-perf.sh) and the
perf_guest_attribution selftest as the workload. perf records the workload
four times: its guest spinning a known loop or idle (the same SBI calls and
host work, one iteration of the loop), each with `cycles:GH` (guest and
host) and with plain `cycles` (perf's default: no guest). Every sample's
cpumode and IP come from `perf report -D`; the table and one PASS/FAIL line
per expectation are printed.

    tests/perf/run.py [--host rust|c] [--echo]

On the Rust kernel (riscv perf attribution): with GH the loop's samples are
guest kernel samples with IPs in the loop and the idle guest gives almost
none; without G no sample is a guest sample, and the host samples of the
loop run are those of the idle run (none lost while the guest ran). On the
C kernel (no perf attribution) every sample is a host sample.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.dont_write_bytecode = True
import qemu  # noqa: E402

PERF = os.path.join(TOP, "build", "perf", "perf")
LOOP_SRC = os.path.join(HERE, "loop.c")
LOOP = os.path.join(TOP, "build", "perf", "loop")
# Iterations of tests/perf/loop.c for perf stat, on the host and in the
# VMM's guest (tests/vmm/run.py): 2 instructions each.
LOOP_ITERS = 20000000
# perf stat's user-mode instruction count of the loop program may exceed
# 2 * LOOP_ITERS by the program's own start and exit, at most this share.
STAT_TOLERANCE = 0.01
WORKLOAD = os.path.join(TOP, "build", "selftests", "riscv", "perf_guest_attribution")
# A prime period, so that samples do not fall into step with a loop.
PERIOD = 100003
RUNS = [  # name, event, workload
    ("gh-loop", "cycles:GH", "loop"),
    ("gh-idle", "cycles:GH", "idle"),
    ("default-loop", "cycles", "loop"),
    ("default-idle", "cycles", "idle"),
]
# perf_event_header.misc & PERF_RECORD_MISC_CPUMODE_MASK
CPUMODES = {1: "host kernel", 2: "host user", 4: "guest kernel", 5: "guest user"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SAMPLE = re.compile(r"PERF_RECORD_SAMPLE\(IP, (0x[0-9a-f]+)\): \d+/\d+: (0x[0-9a-f]+) ")
WORKLOAD_LINE = re.compile(r"^WORKLOAD (\w+) (0x[0-9a-f]+) (0x[0-9a-f]+)")
# Thresholds, in percent.
MIN_GUEST_IN_LOOP = 60     # of the loop run's samples (the rest: VM set-up, SBI calls)
MIN_IP_IN_LOOP = 95        # of the loop run's guest samples
MAX_GUEST_IDLE = 10        # of the idle run's samples (its guest code runs too)
MAX_HOST_LOSS = 10         # host samples of the loop run below the idle run's


def build_loop():
    """tests/perf/loop.c, static riscv64, rebuilt when the source changes."""
    if not os.path.exists(LOOP) or os.path.getmtime(LOOP) < os.path.getmtime(LOOP_SRC):
        os.makedirs(os.path.dirname(LOOP), exist_ok=True)
        subprocess.run(["riscv64-linux-gnu-gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror",
                        "-o", LOOP, LOOP_SRC], check=True)
    return LOOP


def stat_plan(name):
    """A plan entry: perf stat of the loop's user-mode cycles and instructions."""
    return (f"{name} 300 /bin/perf stat -x , -e cycles:u,instructions:u "
            f"/bin/loop {LOOP_ITERS}")


STAT_LINE = re.compile(r"^(\d+),[^,]*,(cycles|instructions):u,")


def parse_stat(lines):
    """{"cycles": n, "instructions": n} from `perf stat -x ,` output."""
    return {m.group(2): int(m.group(1)) for m in map(STAT_LINE.match, lines) if m}


def stat_ok(counts):
    """Whether a perf stat of the loop counted 2 instructions per iteration,
    within STAT_TOLERANCE, and some cycles."""
    want = 2 * LOOP_ITERS
    got = counts.get("instructions", 0)
    return counts.get("cycles", 0) > 0 and want <= got <= want * (1 + STAT_TOLERANCE)


GH_LINE = re.compile(r"^(\d+),[^,]*,cycles:([GH]),")
# The loop run's guest share of the samples against its guest share of the
# cycles (perf stat -e cycles:G, then cycles:H), in percentage points.
MAX_SHARE_GAP = 5


def plan():
    # One cycles event per run: QEMU maps an event to one counter only, and
    # a second counter of the same event counts nothing.
    lines = [stat_plan("stat")] + [
        f"{m}-stat-{kind} 900 /bin/perf stat -x , -e cycles:{m} /bin/perf_guest_attribution "
        f"--workload {kind}" for kind in ("loop", "idle") for m in "GH"]
    for name, event, kind in RUNS:
        data = f"/tmp/{name}.data"
        lines.append(f"{name} 900 /bin/perf record -q -e {event} -c {PERIOD} -o {data} "
                     f"/bin/perf_guest_attribution --workload {kind}")
        lines.append(f"{name}-report 900 /bin/perf report -D -i {data}")
    # perf kvm: guest and host samples in one report, by symbol.
    lines.append(f"kvm-record 900 /bin/perf kvm --host --guest record -q -c {PERIOD} "
                 "-o /tmp/kvm.data /bin/perf_guest_attribution --workload loop")
    lines.append("kvm-report 900 /bin/perf kvm --host --guest report -i /tmp/kvm.data --stdio "
                 "--sort sym -F sample,sym")
    return lines


def sections(lines):
    """{plan entry name: its output lines} from the framed console log."""
    out, cur = {}, None
    for raw in qemu.unsplice(lines):
        line = qemu.TS.sub("", raw) if raw.startswith("[") and "@@" not in raw else raw
        m = re.match(r"^@@BEGIN (\S+)", line)
        if m:
            cur = m.group(1)
            out[cur] = []
            continue
        if line.startswith("@@END "):
            cur = None
            continue
        if cur:
            out[cur].append(ANSI.sub("", line))
    return out


def tally(record, report):
    """Samples per cpumode, and guest samples with an IP in the loop."""
    loop = None
    for line in record:
        m = WORKLOAD_LINE.match(line)
        if m:
            loop = (int(m.group(2), 16), int(m.group(3), 16))
    t = {mode: 0 for mode in CPUMODES.values()}
    t.update(other=0, total=0, in_loop=0)
    for line in report:
        m = SAMPLE.search(line)
        if not m:
            continue
        mode = CPUMODES.get(int(m.group(1), 16) & 7, "other")
        t[mode] += 1
        t["total"] += 1
        ip = int(m.group(2), 16)
        if mode.startswith("guest") and loop and loop[0] <= ip <= loop[1]:
            t["in_loop"] += 1
    return t, loop


KVM_LINE = re.compile(r"^\s*(\d+)\s+\[(.)\] (\S+)")


def kvm_tally(report, loop):
    """From `perf [kvm --host --guest] report --sort sym`: samples per level
    ([k] host kernel, [.] host user, [g] guest kernel, [u] guest user), and
    guest kernel and user samples at loop addresses."""
    t = {"k": 0, ".": 0, "g": 0, "u": 0, "in_loop": 0, "in_loop_user": 0, "total": 0}
    for line in report:
        m = KVM_LINE.match(line)
        if not m:
            continue
        n, level, sym = int(m.group(1)), m.group(2), m.group(3)
        t[level] = t.get(level, 0) + n
        t["total"] += n
        at_loop = sym.startswith("0x") and loop[0] <= int(sym, 16) <= loop[1]
        if level == "g" and at_loop:
            t["in_loop"] += n
        if level == "." and at_loop:
            t["in_loop_user"] += n
    return t


def pct(part, whole):
    return 100.0 * part / whole if whole else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="rust", choices=("rust", "c"))
    ap.add_argument("--echo", action="store_true")
    args = ap.parse_args()
    for f in (PERF, WORKLOAD):
        if not os.path.exists(f):
            print(f"FAIL set-up  (missing {os.path.relpath(f, TOP)})")
            return 1
    log = os.path.join(qemu.BUILD, "logs", f"perf-tool-{args.host}.console.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    start = time.time()
    lines, secs, timed_out = qemu.boot(
        args.host, plan(), {"/bin/perf": PERF, "/bin/perf_guest_attribution": WORKLOAD,
                            "/bin/loop": build_loop()},
        log, timeout=1800, smp=1, icount=True, echo=args.echo)
    print(f"boot: {time.time() - start:.0f} s, console log {os.path.relpath(log, TOP)}")
    if timed_out:
        print(f"FAIL boot  ({timed_out})")
        return 1
    out = sections(lines)
    t = {}
    for name, event, kind in RUNS:
        if name not in out or f"{name}-report" not in out:
            print(f"FAIL {name}: perf record and report ran  (no output)")
            return 1
        t[name], loop = tally(out[name], out[f"{name}-report"])
        if loop is None:
            print(f"FAIL {name}: the workload ran  (no WORKLOAD line)")
            return 1

    if "kvm-record" not in out or "kvm-report" not in out:
        print("FAIL perf kvm record and report ran  (no output)")
        return 1
    _, kvm_loop = tally(out["kvm-record"], [])
    kvm = kvm_tally(out["kvm-report"], kvm_loop or (1, 0))

    print(f"\nperf record -c {PERIOD} of perf_guest_attribution --workload, {args.host} kernel")
    cols = ["host kernel", "host user", "guest kernel", "guest user", "other", "total", "in_loop"]
    print(f"| run | event | {' | '.join(c.replace('in_loop', 'guest IP in loop') for c in cols)} |")
    print("|---|---|" + "---|" * len(cols))
    for name, event, kind in RUNS:
        print(f"| {kind} | `{event}` | " + " | ".join(str(t[name][c]) for c in cols) + " |")
    print(f"\nperf kvm --host --guest record/report of the loop: {kvm['k']} host kernel "
          f"[k], {kvm['.']} host user [.], {kvm['g']} guest kernel [g] ({kvm['in_loop']} "
          f"in the loop), {kvm['u']} guest user [u] of {kvm['total']}")
    print()

    def check(ok, what, note):
        print(f"{'PASS' if ok else 'FAIL'} {what}  ({note})")
        return ok

    guest = {n: t[n]["guest kernel"] + t[n]["guest user"] for n in t}
    host = {n: t[n]["host kernel"] + t[n]["host user"] for n in t}
    counts = parse_stat(out.get("stat", []))
    print(f"perf stat -e cycles:u,instructions:u loop {LOOP_ITERS} (host, icount): "
          f"{counts.get('cycles')} cycles, {counts.get('instructions')} instructions")
    ok = check(stat_ok(counts), f"perf stat on the host: instructions:u of the loop within "
               f"{STAT_TOLERANCE:.0%} above 2 x {LOOP_ITERS}", str(counts))
    ok &= check(all(t[n]["total"] >= 50 for n in t), "every run has samples to judge",
                ", ".join(f"{n} {t[n]['total']}" for n in t))
    shares = {}
    for kind in ("loop", "idle"):
        gh = {m.group(2): int(m.group(1)) for m in map(
            GH_LINE.match, out.get(f"G-stat-{kind}", []) + out.get(f"H-stat-{kind}", [])) if m}
        cycles_share = pct(gh.get("G", 0), gh.get("G", 0) + gh.get("H", 0))
        sample_share = pct(guest[f"gh-{kind}"], t[f"gh-{kind}"]["total"])
        shares[kind] = (gh, cycles_share, sample_share)
        print(f"guest {kind}: perf stat -e cycles:G, -e cycles:H: {gh.get('G')} guest, "
              f"{gh.get('H')} host cycles ({cycles_share:.1f}% guest); cycles:GH samples "
              f"{sample_share:.1f}% guest")
    if args.host == "rust":
        for kind, (gh, cycles_share, sample_share) in shares.items():
            ok &= check(gh.get("G", 0) > 0 and gh.get("H", 0) > 0 and
                        abs(sample_share - cycles_share) <= MAX_SHARE_GAP,
                        f"cycles:GH, guest {kind}: the guest's share of the samples is its share "
                        f"of the cycles (perf stat cycles:G, cycles:H) within {MAX_SHARE_GAP} "
                        "points", f"{sample_share:.1f}% of samples, {cycles_share:.1f}% of cycles")
        ok &= check(pct(guest["gh-loop"], t["gh-loop"]["total"]) >= MIN_GUEST_IN_LOOP,
                    f"cycles:GH, guest loop: >= {MIN_GUEST_IN_LOOP}% guest samples",
                    f"{pct(guest['gh-loop'], t['gh-loop']['total']):.1f}%")
        ok &= check(pct(t["gh-loop"]["in_loop"], t["gh-loop"]["guest kernel"]) >= MIN_IP_IN_LOOP,
                    f"cycles:GH, guest loop: >= {MIN_IP_IN_LOOP}% of guest samples in the loop",
                    f"{t['gh-loop']['in_loop']} of {t['gh-loop']['guest kernel']}")
        ok &= check(pct(guest["gh-idle"], t["gh-idle"]["total"]) <= MAX_GUEST_IDLE,
                    f"cycles:GH, idle guest: <= {MAX_GUEST_IDLE}% guest samples (host work "
                    "for the guest stays host)",
                    f"{pct(guest['gh-idle'], t['gh-idle']['total']):.1f}%")
        ok &= check(pct(kvm["g"], kvm["total"]) >= MIN_GUEST_IN_LOOP and
                    pct(kvm["in_loop"], kvm["g"]) >= MIN_IP_IN_LOOP,
                    f"perf kvm --host --guest report: >= {MIN_GUEST_IN_LOOP}% [g] samples, "
                    f">= {MIN_IP_IN_LOOP}% of them in the loop",
                    f"{kvm['g']} of {kvm['total']}, {kvm['in_loop']} in the loop")
    else:
        ok &= check(kvm["g"] + kvm["u"] == 0 and kvm["total"] >= 50,
                    "perf kvm --host --guest report without the perf attribution: no [g] samples",
                    f"{kvm['g'] + kvm['u']} of {kvm['total']}")
        ok &= check(guest["gh-loop"] + guest["gh-idle"] == 0,
                    "cycles:GH without the perf attribution: every sample is a host sample",
                    f"{guest['gh-loop'] + guest['gh-idle']} guest samples")
    ok &= check(guest["default-loop"] + guest["default-idle"] == 0,
                "cycles (no G): no guest samples",
                f"{guest['default-loop'] + guest['default-idle']}")
    loss = pct(host["default-idle"] - host["default-loop"], host["default-idle"])
    ok &= check(loss <= MAX_HOST_LOSS,
                f"cycles (no G): the loop run keeps the idle run's host samples "
                f"(at most {MAX_HOST_LOSS}% fewer)",
                f"{host['default-loop']} vs {host['default-idle']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
