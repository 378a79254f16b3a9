#!/usr/bin/env python3
"""Builds the riscv64 VMM (tests/vmm/vmm.c) and the guest perf program, boots
the project's kernel under QEMU, and inside it runs the VMM, which boots a
kernel Image as a KVM guest. Checks the guest's boot log (SBI PMU snapshot in
use, no PMU errors), the perf counts, the host-side exit counts of the two
read paths, and the VMM's exit code.

    tests/vmm/run.py [--host rust|c|debug] [--guest IMAGE] [--icount] [--echo] [-k N]
                     [--timeout S] [--silence S] [--migrate]

With --migrate the guest runs one more perf stat (-I 100 ms intervals) of
a long loop, and the VMM moves it into a new VM at the third interval: the
counts must go on growing after the move, and with --icount the intervals
must add up to the loop's instructions.

Everything it writes goes to build/vmm/.
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(TOP, "build", "vmm")
os.makedirs(OUT, exist_ok=True)
# scripts/qemu.py builds its init under $BUILD: keep it in build/vmm.
os.environ["BUILD"] = OUT
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.dont_write_bytecode = True
import qemu  # noqa: E402

# tests/perf/run.py: the loop program and the parsing of perf's output.
_spec = importlib.util.spec_from_file_location("perf_tool", os.path.join(TOP, "tests", "perf",
                                                                         "run.py"))
perf_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(perf_tool)

HOST_KDIR = os.path.join(TOP, "build", "kernel-rust")
HOST_IMAGE = os.path.join(HOST_KDIR, "arch", "riscv", "boot", "Image")
UAPI = os.path.join(HOST_KDIR, "usr", "include")
CC_BASE = ["riscv64-linux-gnu-gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror"]
CC = CC_BASE + ["-isystem", UAPI]
LINUX = os.path.join(TOP, "build", "linux")
LIBFDT = os.path.join(LINUX, "scripts", "dtc", "libfdt")
KVM_ST = os.path.join(LINUX, "tools", "testing", "selftests", "kvm")
# vmm.c: libfdt's sequential writer and what it needs, compiled with it; the
# KVM selftests' riscv processor.h (ONE_REG id macros) with the include dirs
# the selftests build with. tools/include goes before the UAPI headers (its
# linux/types.h has what tools/include/linux/list.h needs); -isystem: their
# warnings are not ours.
VMM_SOURCES = [os.path.join(LIBFDT, f) for f in ("fdt.c", "fdt_sw.c", "fdt_strerror.c")]
VMM_FLAGS = ["-I", LIBFDT] + [x for d in (
    os.path.join(LINUX, "tools", "include"), os.path.join(LINUX, "tools", "arch", "riscv", "include"),
    UAPI, os.path.join(KVM_ST, "include"), os.path.join(KVM_ST, "include", "riscv"),
    os.path.join(LINUX, "tools", "testing", "selftests")) for x in ("-isystem", d)]
# perf record's period in the guest (cycles:u of the loop; a prime).
GUEST_PERIOD = 100003
# The loop perf stat -I counts across the migration: 10^9 instructions.
MIGRATE_ITERS = 500000000
MIGRATE_AT = 3
INTERVAL_LINE = re.compile(r"^\s*([\d.]+);(\d+);[^;]*;(cycles|instructions):u;")
GUEST_CMDLINE = "earlycon=sbi console={console} kunit.enable=0 panic=-1 rdinit=/init"
PMU_ERRORS = re.compile(r"pmu snapshot setup failed|failed to disable snapshot|"
                        r"(Starting|Stopping) counter idx \d+ failed|"
                        r"SBI PMU extension doesn't provide|riscv-pmu-sbi.*(fail|error)", re.I)


def build(name):
    src = os.path.join(HERE, name + ".c")
    out = os.path.join(OUT, name)
    cmd, srcs = CC + ["-o", out, src], [src]
    if name == "vmm":
        srcs += VMM_SOURCES
        cmd = CC_BASE + VMM_FLAGS + ["-o", out] + srcs
    if not os.path.exists(out) or os.path.getmtime(out) < max(map(os.path.getmtime, srcs)):
        subprocess.run(cmd, check=True)
    return out


def stat_lines(lines, what="VMMSTAT"):
    stats = {}
    for line in lines:
        m = re.search(r"@@" + what + r" (\S+) (.*)", line)
        if m:
            stats[m.group(1)] = {k: int(v) for k, v in
                                 (kv.split("=") for kv in m.group(2).split())}
    return stats


def check_migration(body, entries, icount, check, c_path):
    """The checks of --migrate: the VMM moved the guest with every register
    restored, and the guest's perf stat intervals go on counting. The C path
    saves only the snapshot area: its guest must lose counts."""
    moved = [ln for ln in body if ln.startswith("@@MIGRATED ")]
    info = dict(kv.split("=") for kv in moved[0].split()[1:]) if moved else {}
    check("migration: the VMM moved the guest into a new VM, no register refused",
          len(moved) == 1 and info.get("refused") == "0" and int(info.get("changed", 0)) > 0,
          moved[0] if moved else "no @@MIGRATED line")
    # KVM_GET_REG_LIST's SBI PMU registers: the snapshot area, every counter
    # and every firmware event.
    if c_path:
        check("migration: C path: only the snapshot area is in the register list",
              info.get("pmu") == "1", f"{info.get('pmu')} PMU registers")
    else:
        check("migration: the SBI PMU state is in the register list",
              int(info.get("pmu", 0)) > 1 + 22, f"{info.get('pmu')} PMU registers")
    lines = entries.get("mstat", [])
    at = next((i for i, ln in enumerate(lines) if ln.startswith("@@MIGRATED")), len(lines))
    counts = {"before": {}, "after": {}}
    for i, ln in enumerate(lines):
        m = INTERVAL_LINE.match(ln)
        if m:
            side = counts["before" if i < at else "after"]
            side.setdefault(m.group(3), []).append(int(m.group(2)))
    growing = all(len(counts[s].get(e, [])) >= 2 and all(counts[s][e])
                  for s in counts for e in ("cycles", "instructions"))
    check("migration: guest perf stat counts on after the move (every interval > 0, "
          ">= 2 intervals each side)", (growing or c_path) and at < len(lines),
          " ".join(f"{s}: {len(counts[s].get('instructions', []))} intervals" for s in counts))
    total = sum(sum(counts[s].get("instructions", [])) for s in counts)
    want = 2 * MIGRATE_ITERS
    if icount and c_path:
        check("migration: icount: C path: the counters were lost, the intervals add up "
              f"to less than 2 x N - {perf_tool.STAT_TOLERANCE:.0%}",
              0 < total < want * (1 - perf_tool.STAT_TOLERANCE), f"{total} vs {want}")
    elif icount:
        check("migration: icount: the intervals add up to the loop's 2 x N instructions "
              f"within {perf_tool.STAT_TOLERANCE:.0%} (none lost or counted twice)",
              want <= total <= want * (1 + perf_tool.STAT_TOLERANCE), f"{total} vs {want}")
    check("migration: the loop's perf stat finished", any(
        ln.startswith("@@END mstat rc=0") for ln in body))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="rust", choices=["rust", "c", "debug"],
                    help="host kernel: build/kernel-<host> (default rust)")
    ap.add_argument("--guest", default=HOST_IMAGE, help="guest kernel Image")
    ap.add_argument("--console", default=None,
                    help="guest console= (default hvc0 if the guest has HVC_RISCV_SBI, else ttyS0)")
    ap.add_argument("--icount", action="store_true", help="QEMU -icount shift=0,sleep=off -smp 1")
    ap.add_argument("--echo", action="store_true", help="print the console as it comes")
    ap.add_argument("-k", type=int, default=200, help="reads per read-path phase")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--silence", type=int, default=qemu.SILENCE,
                    help="stop QEMU after this many seconds without console output "
                         f"(default {qemu.SILENCE})")
    ap.add_argument("--guest-append", default="", help="more guest kernel parameters")
    ap.add_argument("--migrate", action="store_true",
                    help="move the guest into a new VM while its perf counts a loop")
    ap.add_argument("--expect-rc", type=int, default=0,
                    help="expected VMM exit code (e.g. 2 with --guest-append rdinit=/none)")
    a = ap.parse_args()

    vmm, perfcount = build("vmm"), build("perfcount")
    console = a.console
    if console is None:
        cfg = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(a.guest))))), ".config")
        has_hvc = os.path.exists(cfg) and "CONFIG_HVC_RISCV_SBI=y" in open(cfg).read()
        console = "hvc0" if has_hvc else "ttyS0,115200"
    cmdline = os.path.join(OUT, "guest.cmdline")
    with open(cmdline, "w") as f:
        f.write(GUEST_CMDLINE.format(console=console) + " " + a.guest_append + "\n")

    guest_initrd = os.path.join(OUT, "guest-initramfs.gz")
    # The guest also runs the real perf tool (scripts/build-perf.sh) on the
    # loop of tests/perf: perf stat and perf record, through its own PMU
    # driver and the snapshot.
    guest_plan = [f"perfcount 240 /bin/perfcount {a.k}", "unthrottle 10 /bin/perfcount --unthrottle",
                  perf_tool.stat_plan("gstat"),
                  f"grecord 240 /bin/perf record -q -e cycles:u -c {GUEST_PERIOD} "
                  f"-o /tmp/g.data /bin/loop {perf_tool.LOOP_ITERS}",
                  "greport 240 /bin/perf report -i /tmp/g.data --stdio --sort sym -F sample,sym",
                  "drain 10 /bin/perfcount --drain"]
    if a.migrate:
        # Before "drain", which lets the console empty before the guest powers
        # off; ";" separates the fields, so that only these lines carry the
        # VMM's trigger.
        guest_plan.insert(-1, f"mstat 300 /bin/perf stat -I 100 -x ; -e cycles:u,instructions:u "
                              f"/bin/loop {MIGRATE_ITERS}")
    qemu.pack_initramfs(HOST_KDIR, guest_plan,
                        {"/bin/perfcount": perfcount, "/bin/perf": perf_tool.PERF,
                         "/bin/loop": perf_tool.build_loop()}, guest_initrd)
    vmm_args = ("/bin/vmm --kernel /bin/guest-Image --initrd /bin/guest-initramfs.gz "
                "--cmdline-file /bin/guest.cmdline --timeout 400")
    if console.startswith("hvc"):
        vmm_args += " --no-uart"  # the SBI debug console carries everything
    if a.migrate:
        vmm_args += f" --migrate-at ;instructions:u; --migrate-count {MIGRATE_AT}"
    log = os.path.join(OUT, f"console-{a.host}{'-icount' if a.icount else ''}.log")
    # The host initramfs goes to <log>.initramfs.gz. The guest's boot log and
    # perfcount keep the console busy: the silence limit holds inside the VMM's
    # plan entry too, not only outside it.
    lines, secs, timed_out = qemu.boot(
        a.host, [f"vmm 450 {vmm_args}"],
        {"/bin/vmm": vmm, "/bin/guest-Image": a.guest, "/bin/guest-initramfs.gz": guest_initrd,
         "/bin/guest.cmdline": cmdline}, log, timeout=a.timeout, smp=1 if a.icount else 2,
        icount=a.icount, echo=a.echo, silence=a.silence, entry_silence={"vmm": a.silence},
        kdir=os.path.join(TOP, "build", "kernel-" + a.host), append="kunit.enable=0")

    results = []

    def check(name, ok, note=""):
        results.append((name, ok, note))

    # The VMM's part of the console: between the host init's frame lines.
    body, rc = [], None
    inside = False
    for line in lines:
        if line.startswith("@@BEGIN vmm"):
            inside = True
        elif line.startswith("@@END vmm"):
            inside = False
            m = re.search(r"rc=(\d+)", line)
            rc = int(m.group(1)) if m else line
        elif inside:
            body.append(line)
    check("host boot clean", not qemu.scan_reports([ln for ln in lines if ln not in body])
          and not timed_out, timed_out or "")
    check(f"vmm exit code {a.expect_rc}", rc == a.expect_rc, f"rc={rc}")
    if a.expect_rc:
        for name, ok, note in results:
            print(f"{'PASS' if ok else 'FAIL'} {name}" + (f"  ({note})" if note else ""))
        fails = sum(1 for r in results if not r[1])
        print(f"{len(results) - fails} passed, {fails} failed")
        return 1 if fails else 0
    check("guest printed its boot log through the VMM",
          any("Linux version" in ln for ln in body)
          and any(ln.startswith("@@END perfcount rc=0") for ln in body))
    check("guest log: SBI PMU snapshot detected",
          any("SBI PMU snapshot detected" in ln for ln in body))
    errs = [ln for ln in body if PMU_ERRORS.search(ln)]
    check("guest log: no PMU errors", not errs, "; ".join(errs[:3]))
    reports = qemu.scan_reports(body)
    check("guest log: no kernel reports", not reports, "; ".join(reports[:3]))

    counts = [tuple(int(x) for x in m.groups()) for m in
              (re.search(r"count loop=(\d+) cycles=(\d+) instructions=(\d+)", ln) for ln in body)
              if m]
    ok = len(counts) == 3 and all(c[1] and c[2] for c in counts) and all(
        counts[i + 1][1] > counts[i][1] and counts[i + 1][2] > counts[i][2] for i in range(2))
    check("perf counts non-zero and growing with the loop", ok, str(counts))
    if a.icount and len(counts) == 3:
        # exactly 2 instructions per iteration, plus the syscall overhead
        d = counts[2][2] - counts[1][2]
        want = 2 * (counts[2][0] - counts[1][0])
        check("icount: instruction delta = 2 per iteration", abs(d - want) < want // 100,
              f"delta {d}, expected {want}")
    # The real perf tool in the guest: plan entries framed like the host's.
    entries = perf_tool.sections(body)
    gstat = perf_tool.parse_stat(entries.get("gstat", []))
    if a.icount:
        # Exact counts: the host's perf stat of the same loop under icount
        # (tests/perf/run.py) counts within the same bound.
        check(f"guest perf stat: instructions:u of the loop within "
              f"{perf_tool.STAT_TOLERANCE:.0%} above 2 x {perf_tool.LOOP_ITERS}",
              perf_tool.stat_ok(gstat), str(gstat))
    else:
        # Without icount QEMU's counters follow wall-clock time.
        check("guest perf stat: cycles:u and instructions:u counted",
              gstat.get("cycles", 0) > 0 and gstat.get("instructions", 0) > 0, str(gstat))
    loop = None
    for ln in entries.get("grecord", []):
        # perf report shows a user address relative to its mapping's start.
        m = re.match(r"^LOOP (0x[0-9a-f]+) (0x[0-9a-f]+) \d+ (0x[0-9a-f]+)", ln)
        if m:
            base = int(m.group(3), 16)
            loop = (int(m.group(1), 16) - base, int(m.group(2), 16) - base)
    kvm = perf_tool.kvm_tally(entries.get("greport", []), loop or (1, 0))
    check("guest perf record: >= 90% of the samples in the loop",
          kvm["total"] >= 50 and kvm["in_loop_user"] * 10 >= kvm["total"] * 9,
          f"{kvm['in_loop_user']} of {kvm['total']} (period {GUEST_PERIOD})")
    if a.migrate:
        check_migration(body, entries, a.icount, check, a.host in ("c", "debug-c"))
    check("perfcount ok 1", any(ln.startswith("ok 1 ") for ln in body))
    check("perfcount ok 2", any(ln.startswith("ok 2 ") for ln in body))

    st = stat_lines(body)
    irqs = stat_lines(body, "VMMIRQ")

    def irq_delta(phase):
        b, e = irqs.get(phase + "-begin"), irqs.get(phase + "-end")
        if not b or not e:
            return {}
        return {k: e[k] - b.get(k, 0) for k in e if e[k] != b.get(k, 0)}

    def delta(phase, key):
        b, e = st.get(phase + "-begin"), st.get(phase + "-end")
        return None if not b or not e else e.get(key, 0) - b.get(key, 0)

    k = a.k

    def uncategorised(phase):
        # exits that are not MMIO, CSR, WFI/WRS or forwarded SBI exits: the SBI
        # calls KVM handles itself (PMU, timer, IPI ...), interrupts, faults
        keys = ("mmio_exit_user", "mmio_exit_kernel", "csr_exit_user", "csr_exit_kernel",
                "wfi_exit_stat", "wrs_exit_stat", "ecall_exit_stat")
        e = delta(phase, "exits")
        return None if e is None else e - sum(delta(phase, x) for x in keys)

    s_csr, s_exits = delta("stopped", "csr_exit_kernel"), delta("stopped", "exits")
    r_csr, r_exits = delta("running", "csr_exit_kernel"), delta("running", "exits")
    check("host: stopped reads come from the snapshot (no counter CSR exits)",
          s_csr is not None and s_csr < max(2, k // 20),
          f"{k} enable/disable/read rounds: csr_exit_kernel +{s_csr}, exits +{s_exits}")
    s_other, b_other = uncategorised("stopped"), uncategorised("baseline")
    s_irq = sum(irq_delta("stopped").values())
    b_irq = sum(irq_delta("baseline").values())
    per_round = None if s_other is None or b_other is None else (s_other - b_other) / k
    # Per round the guest driver makes 8 SBI PMU calls: enabling the group adds
    # both counters (config-match, start each), disabling deletes both (stop,
    # stop-reset each). All 4 stops carry TAKE_SNAPSHOT; after the first stop
    # of each counter the driver reads its value, from the snapshot area.
    check("host: stopped phase = 8 SBI PMU calls per round, no CSR read",
          per_round is not None and per_round >= 7.5,
          f"exits +{s_exits}; in-kernel-handled exits +{s_other} (host interrupts meanwhile,"
          f" all CPUs: {s_irq}); baseline +{b_other} ({b_irq}): "
          + ("?" if per_round is None else f"{per_round:.2f}") + " per round")
    check("host: running reads trap as counter CSR reads (2 per read)",
          r_csr is not None and r_csr >= 2 * k,
          f"{k} reads: csr_exit_kernel +{r_csr}, exits +{r_exits}")

    for name, ok, note in results:
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f"  ({note})" if note else ""))
    for phase in ("baseline", "stopped", "running"):
        print(f"  host interrupts during {phase}: {irq_delta(phase)}")
    for tag in ("baseline-begin", "baseline-end", "stopped-begin", "stopped-end", "running-begin", "running-end", "exit"):
        if tag in st:
            print(f"  stats {tag}: " + " ".join(f"{k}={v}" for k, v in st[tag].items()))
    fails = sum(1 for r in results if not r[1])
    print(f"console log: {log} ({secs:.0f} s)")
    print(f"{len(results) - fails} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
