#!/usr/bin/env python3
"""Boot a kernel of this project under QEMU with a test initramfs, and
parse what it printed: KUnit KTAP, the tests' TAP, and kernel reports.

Used by scripts/test.py and the demo; run it alone with
    scripts/qemu.py --variant rust --test sbi_pmu_test
"""
import argparse
import json
import os
import re
import select
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
ST = os.path.join(BUILD, "selftests")

# Kernel messages that fail a run wherever they appear.
REPORTS = [
    (re.compile(r"Kernel panic"), "kernel panic"),
    (re.compile(r"\bOops\b|Unable to handle kernel"), "kernel oops"),
    (re.compile(r"^\s*WARNING:|\bWARNING: CPU"), "kernel WARNING"),
    (re.compile(r"\bBUG:"), "kernel BUG"),
    (re.compile(r"KASAN:"), "KASAN report"),
    (re.compile(r"UBSAN:"), "UBSAN report"),
    (re.compile(r"possible circular locking|possible recursive locking|inconsistent lock state|"
                r"suspicious RCU usage|lock held when returning"), "lockdep report"),
    (re.compile(r"unreferenced object 0x"), "kmemleak leak"),
    (re.compile(r"Call Trace:"), "call trace"),
]
TS = re.compile(r"^\[\s*\d+\.\d+\]\s?")


def qemu_cmd(image, initrd, smp=2, icount=False, append="", extra=()):
    cmd = [
        "qemu-system-riscv64", "-M", "virt,aia=aplic-imsic",
        "-cpu", "rv64,h=true,sscofpmf=true,smaia=true,ssaia=true",
        "-smp", str(smp), "-m", "1G", "-nographic", "-bios", "default",
        "-kernel", image, "-initrd", initrd, "-no-reboot",
        "-append", "console=ttyS0 panic=-1 " + append,
    ]
    if icount:
        cmd += ["-icount", "shift=0,sleep=off"]
    return cmd + list(extra)


def init_tool(name):
    """Builds tests/init/NAME.c as a static riscv64 program; returns its path."""
    out = os.path.join(BUILD, name)
    src = os.path.join(TOP, "tests", "init", name + ".c")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run(["riscv64-linux-gnu-gcc", "-static", "-O2", "-Wall", "-Werror",
                        "-o", out, src], check=True)
    return out


def pack_initramfs(kdir, plan, programs, out):
    """Writes a gzip'd initramfs with /init, /plan and the given programs."""
    init = init_tool("init")
    plan_file = out + ".plan"
    with open(plan_file, "w") as f:
        f.write("".join(line + "\n" for line in plan))
    spec = ["dir /dev 0755 0 0", "nod /dev/console 0600 0 0 c 5 1",
            "dir /proc 0755 0 0", "dir /sys 0755 0 0", "dir /tmp 1777 0 0",
            "dir /bin 0755 0 0", "dir /lib 0755 0 0", f"file /init {init} 0755 0 0",
            f"file /plan {plan_file} 0644 0 0"]
    for dest, path in programs.items():
        spec.append(f"file {dest} {path} 0755 0 0")
    spec_file = out + ".spec"
    with open(spec_file, "w") as f:
        f.write("\n".join(spec) + "\n")
    gen = os.path.join(kdir, "usr", "gen_init_cpio")
    with open(out, "wb") as f:
        cpio = subprocess.Popen([gen, spec_file], stdout=subprocess.PIPE)
        subprocess.run(["gzip", "-1"], stdin=cpio.stdout, stdout=f, check=True)
        if cpio.wait() != 0:
            raise RuntimeError("gen_init_cpio failed")


# Seconds without a byte on the console after which boot() stops QEMU: a
# machine that hangs without a word would otherwise run to the overall
# timeout. Outside the test programs a passing boot is never quiet for
# long: the longest gap between kernel messages before init, the debug
# kernel's KASAN/lockdep boot included, is under 2 s (build/logs/); a plan
# entry (a test program) gets its own limit instead, see plan_silence().
SILENCE = 120


def plan_silence(plan, silence=SILENCE, icount=False):
    """The silence limit of each plan entry while it runs: its own timeout
    plus `silence`. A test program may print nothing until it finishes
    (pmu_snapshot_fuzz on the debug kernel is silent for 150 s), and init
    ends it at its timeout with an @@END line. Under icount init's clock
    counts instructions, not seconds: no limit (None) there."""
    limits = {}
    for line in plan:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            limits[parts[0]] = None if icount or silence is None else int(parts[1]) + silence
    return limits


class Console:
    """What watch() saw: the console lines, the seconds it ran, why it
    stopped the command (None: it ended by itself; "timeout after N s";
    "silent for N s") and the longest stretch without output (s)."""

    def __init__(self):
        self.lines, self.secs, self.stopped, self.longest_silence = [], 0.0, None, 0.0


FRAME = re.compile(r"@@(BEGIN|END) (\S+)")


def watch(cmd, log, timeout, silence=SILENCE, echo=False, entry_silence=None):
    """Runs cmd (QEMU) with stdout and stderr as its console, writing every
    line to log (and to stdout with echo), and kills it once `timeout`
    seconds have passed or once it has printed nothing for `silence`
    seconds (None: no silence limit). From an "@@BEGIN name" line to its
    "@@END name", entry_silence[name] replaces `silence` if name is there.
    Returns a Console."""
    entry_silence = entry_silence or {}
    con, entry, buf = Console(), None, b""
    start = time.time()
    last, deadline = start, start + timeout
    with open(log, "w") as f:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        fd = p.stdout.fileno()
        while True:
            limit = entry_silence[entry] if entry is not None else silence
            now = time.time()
            if now >= deadline:
                con.stopped = f"timeout after {timeout:g} s"
            elif limit is not None and now >= last + limit:
                con.stopped = f"silent for {limit:g} s"
            if con.stopped:
                p.kill()
                break
            wait = deadline - now if limit is None else min(deadline, last + limit) - now
            if not select.select([fd], [], [], wait)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:  # the console closed: QEMU is exiting
                try:
                    p.wait(timeout=max(0.0, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    con.stopped = f"timeout after {timeout:g} s"
                    p.kill()
                break
            now = time.time()
            con.longest_silence = max(con.longest_silence, now - last)
            last = now
            *done, buf = (buf + chunk).split(b"\n")
            for raw in done:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                f.write(line + "\n")
                con.lines.append(line)
                if echo:
                    print(line, flush=True)
                m = FRAME.search(line)
                if m and m.group(1) == "BEGIN" and entry is None and m.group(2) in entry_silence:
                    entry = m.group(2)
                elif m and m.group(1) == "END" and m.group(2) == entry:
                    entry = None
        if buf:
            con.lines.append(buf.decode("utf-8", "replace"))
            f.write(con.lines[-1] + "\n")
        p.wait()
        p.stdout.close()
    con.secs = time.time() - start
    con.longest_silence = max(con.longest_silence, min(time.time(), deadline) - last)
    return con


def boot(variant, plan, programs, log, timeout=600, smp=2, icount=False, echo=False,
         extra=(), silence=SILENCE, entry_silence=None, kdir=None, append=""):
    """Boots the variant's kernel (kdir: another build directory than
    $BUILD/kernel-<variant>) with `append` added to its command line;
    returns (console lines, seconds, timed_out). timed_out is False, or why
    QEMU was stopped: "timeout after N s" (`timeout` seconds in all) or
    "silent for N s" (no console output for `silence` seconds; while a plan
    entry runs, for entry_silence[name], by default plan_silence())."""
    kdir = kdir or os.path.join(BUILD, "kernel-" + variant)
    image = os.path.join(kdir, "arch", "riscv", "boot", "Image")
    initrd = log + ".initramfs.gz"
    pack_initramfs(kdir, plan, programs, initrd)
    if entry_silence is None:
        entry_silence = plan_silence(plan, silence, icount)
    con = watch(qemu_cmd(image, initrd, smp, icount, append=append, extra=extra), log, timeout,
                silence, echo, entry_silence)
    return con.lines, con.secs, con.stopped or False


class Results:
    """Test results: (suite, name, status, note) with status pass/fail/skip."""

    def __init__(self):
        self.items = []

    def add(self, suite, name, status, note=""):
        self.items.append((suite, name, status, note))

    def count(self, status):
        return sum(1 for i in self.items if i[2] == status)


def parse_ktap(lines, results, log):
    """Adds one result per KUnit leaf test (parameters count as leaves), as
    the kernel's own KTAP parser reads them: `kunit.py parse --json` over
    the console up to the start of the test programs."""
    boot_lines = []
    for line in lines:
        if line.startswith("@@INIT"):
            break
        boot_lines.append(line)
    if not any("KTAP version" in line for line in boot_lines):
        return  # a kernel built without KUnit
    if any(TS.sub("", line).strip() == "1..0" for line in boot_lines):
        return  # KUnit without suites (the C kernel)
    ktap = log + ".ktap"
    with open(ktap, "w") as f:
        f.write("".join(line + "\n" for line in boot_lines))
    out = log + ".kunit.json"
    if os.path.exists(out):
        os.remove(out)  # never read an earlier boot's results
    tool = os.path.join(BUILD, "linux", "tools", "testing", "kunit", "kunit.py")
    r = subprocess.run([sys.executable, tool, "parse", "--json=" + out, ktap],
                       capture_output=True, text=True)
    if not os.path.exists(out):
        results.add("kunit", "kunit.py parse", "fail", f"exit {r.returncode}, no JSON")
        return
    with open(out) as f:
        top = json.load(f)
    n = 0

    def walk(group, path):
        nonlocal n
        for case in group.get("test_cases", []):
            n += 1
            status = {"PASS": "pass", "SKIP": "skip"}.get(case["status"], "fail")
            results.add("kunit:" + "/".join(path), case["name"], status,
                        "" if status == "pass" else case["status"])
        for sub in group.get("sub_groups", []):
            walk(sub, path + [sub["name"]])

    walk(top, [])
    if n == 0:
        results.add("kunit", "kunit.py parse", "fail", "no KUnit results on the console")
    elif r.returncode != 0 and not any(i[2] == "fail" for i in results.items):
        results.add("kunit", "kunit.py parse", "fail", f"exit {r.returncode}")


# A kernel message that interrupted a line of a test's output: the line's
# start, then the message (which ends the console line).
SPLICED = re.compile(r"^(.+?)\[\s*\d+\.\d+\] \S.*$")


def unsplice(lines):
    """Rejoins test output lines that a kernel message cut in two.

    The console interleaves printk output with the tests' writes: "ok 6 x"
    can arrive as "o[ 6.07] message" and "k 6 x". The start of the cut line
    goes back in front of the line after the message.
    """
    out, carry = [], ""
    for raw in lines:
        m = SPLICED.match(raw)
        if m and not raw.startswith("[") and "@@" not in m.group(1):
            out.append(raw[len(m.group(1)):])
            carry += m.group(1)
            continue
        out.append(carry + raw)
        carry = ""
    return out


def parse_runs(lines, results, parsers):
    """Adds the results of every framed test program run."""
    begin = re.compile(r"^@@BEGIN (\S+)")
    end = re.compile(r"^@@END (\S+) (.*)")
    cur, body, seen = None, [], set()
    for raw in unsplice(lines):
        line = TS.sub("", raw) if raw.startswith("[") and "@@" not in raw else raw
        m = begin.match(line)
        if m:
            cur, body = m.group(1), []
            continue
        m = end.match(line)
        if m and cur == m.group(1):
            seen.add(cur)
            parsers.get(cur, parse_tap)(cur, body, m.group(2), results)
            cur = None
            continue
        if cur:
            body.append(line)
    if cur:
        results.add("selftest", cur, "fail", "did not finish")
        seen.add(cur)
    return seen


def exit_status(tail):
    m = re.match(r"rc=(\d+)", tail)
    if m:
        return int(m.group(1))
    return None


def parse_tap(name, body, tail, results):
    """kselftest TAP: one result per 'ok'/'not ok' line, plus the exit code."""
    res_re = re.compile(r"^(ok|not ok) (\d+) (.*?)(?:\s+#\s*(SKIP|XFAIL)\b.*)?$")
    n, plan = 0, None
    for line in body:
        p = re.match(r"^1\.\.(\d+)$", line)
        if p and plan is None:
            plan = int(p.group(1))
        m = res_re.match(line)
        if not m:
            continue
        n += 1
        if m.group(4):
            status = "skip"
        else:
            status = "pass" if m.group(1) == "ok" else "fail"
        results.add("selftest:" + name, m.group(3).strip(), status)
    rc = exit_status(tail)
    if plan is not None and n != plan and rc != 4:
        # A result line the parser could not read is a result lost.
        results.add("selftest:" + name, "TAP plan", "fail", f"plan 1..{plan}, {n} results read")
    if rc is None:
        results.add("selftest:" + name, "exit", "fail", tail)
    elif rc == 4 and n == 0:
        results.add("selftest:" + name, "(whole)", "skip", "skipped")
    elif rc != 0 and rc != 4:
        results.add("selftest:" + name, "exit", "fail", f"exit code {rc}")
    elif n == 0:
        results.add("selftest:" + name, "(whole)", "fail", "no TAP results")


SBI_PMU_SUBTESTS = ["basic", "event verification", "event verification with snapshot",
                    "event verification with overflow"]


def parse_sbi_pmu_test(name, body, tail, results):
    """Upstream sbi_pmu_test prints 'SBI PMU <what> test : PASS' per subtest."""
    text = "\n".join(body)
    rc = exit_status(tail)
    skipped = "SKIP" in text.upper() and rc == 4
    for sub in SBI_PMU_SUBTESTS:
        if f"SBI PMU {sub} test : PASS" in text:
            results.add("selftest:" + name, sub, "pass")
        elif skipped:
            results.add("selftest:" + name, sub, "skip", "test skipped")
        else:
            results.add("selftest:" + name, sub, "fail", tail)
    if rc not in (0, 4):
        results.add("selftest:" + name, "exit", "fail", tail)


def parse_get_reg_list(name, body, tail, results):
    """Upstream get-reg-list prints '<config>: PASS' per vCPU configuration it
    could run (a TAP skip line for the others) and exits non-zero on any
    failure; the sbi-pmu configuration, which checks the SBI PMU state
    registers, must be among the passes."""
    passed = [m.group(1) for m in (re.match(r"^(\S+): PASS$", ln) for ln in body) if m]
    for config in passed:
        results.add("selftest:" + name, config, "pass")
    if "sbi-pmu" not in passed:
        results.add("selftest:" + name, "sbi-pmu", "fail", tail)
    if exit_status(tail) != 0:
        results.add("selftest:" + name, "exit", "fail", tail)


def load_deviations(path):
    """Reads '<check name> | <why>' lines."""
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, why = line.partition(" | ")
            out[name.strip()] = why.strip()
    return out


def expect_deviations(deviations):
    """A TAP parser for a differential run: the listed checks must fail,
    every other check must pass, and the exit code may be 1 only because
    of the listed failures."""
    def parser(name, body, tail, results):
        inner = Results()
        parse_tap(name, body, tail, inner)
        seen = set()
        for suite, check, status, note in inner.items:
            if check == "exit":
                continue
            if check in deviations:
                seen.add(check)
                if status == "fail":
                    results.add(suite, check, "pass", "expected deviation: " + deviations[check])
                else:
                    results.add(suite, check, "fail", "expected this path to deviate here")
            else:
                results.add(suite, check, status, note)
        for check in deviations:
            if check not in seen:
                results.add("selftest:" + name, check, "fail", "check never ran")
        rc = exit_status(tail)
        if rc not in (0, 1):
            results.add("selftest:" + name, "exit", "fail", tail)
    return parser


def scan_reports(lines):
    """Returns the kernel reports found in the console output."""
    found = []
    for raw in lines:
        for pat, what in REPORTS:
            if pat.search(raw):
                found.append(f"{what}: {raw.strip()}")
                break
    return found


def run(variant, tests, results, label=None, timeout=900, smp=2, echo=False, icount=False):
    """Boots once, running the named tests; adds every result."""
    label = label or variant
    plan, programs, parsers = [], {}, {}
    for t in tests:
        plan.append(f"{t['name']} {t.get('timeout', 300)} /bin/{os.path.basename(t['path'])} "
                    + " ".join(t.get("args", [])))
        programs["/bin/" + os.path.basename(t["path"])] = t["path"]
        programs.update(t.get("files", {}))
        if t.get("parser"):
            parsers[t["name"]] = t["parser"]
    logdir = os.path.join(BUILD, "logs")
    os.makedirs(logdir, exist_ok=True)
    log = os.path.join(logdir, f"{label}.console.log")
    lines, secs, timed_out = boot(variant, plan, programs, log, timeout, smp, icount, echo)
    mine = Results()
    if not icount:
        # An icount boot runs the same KUnit suites again; count them once.
        parse_ktap(lines, mine, log)
    seen = parse_runs(lines, mine, parsers)
    for t in tests:
        if t["name"] not in seen:
            mine.add("selftest:" + t["name"], "(whole)", "fail", "never ran")
    for suite, name, status, note in mine.items:
        results.add(f"{label}/{suite}", name, status, note)
    boot_name = f"boot[{label}]"
    problems = scan_reports(lines)
    if timed_out:
        problems.append(timed_out)  # "timeout after N s" or "silent for N s"
    if not any(line.startswith("@@DONE") for line in lines) and not timed_out:
        problems.append("init did not finish")
    if problems:
        for p in problems[:20]:
            results.add(boot_name, "clean console", "fail", p)
    else:
        results.add(boot_name, "clean console", "pass", f"{secs:.0f} s")
    return lines, secs, log


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--variant", default="rust")
    ap.add_argument("--test", action="append", default=[],
                    help="selftest program under build/selftests/riscv (repeatable)")
    ap.add_argument("--echo", action="store_true", help="print the console as it comes")
    ap.add_argument("--show", action="store_true", help="print what the test programs printed")
    ap.add_argument("--icount", action="store_true",
                    help="-icount shift=0,sleep=off -smp 1: counters count instructions exactly")
    a = ap.parse_args()
    results = Results()
    tests = []
    for t in a.test:
        t = {"name": t, "path": os.path.join(ST, "riscv", t)}
        if t["name"] == "sbi_pmu_test":
            t["parser"] = parse_sbi_pmu_test
        if t["name"] == "get-reg-list":
            t["parser"] = parse_get_reg_list
        tests.append(t)
    lines, secs, log = run(a.variant, tests, results, echo=a.echo, icount=a.icount,
                           smp=1 if a.icount else 2)
    if a.show:
        inside = False
        for line in lines:
            if line.startswith("@@BEGIN"):
                inside = True
                print(f"---- {line.split()[1]} (in a KVM guest on the {a.variant} kernel, under QEMU)")
                continue
            if line.startswith("@@END"):
                inside = False
                print("----")
                continue
            if inside:
                print("  " + line)
    for suite, name, status, note in results.items:
        print(f"{status.upper():4} {suite} {name} {note}")
    print(f"console log: {log} ({secs:.0f} s)")
    fails = results.count("fail")
    print(f"{results.count('pass')} passed, {fails} failed"
          + (f", {results.count('skip')} skipped" if results.count("skip") else ""))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
