#!/usr/bin/env python3
"""Run every test of the project and print one summary.

Stages: set-up, kernel preparation, the Rust and C kernel builds, the riscv
selftests, the host-side cargo tests, then one QEMU boot per kernel variant
running KUnit (at boot) and the selftests. The last line is
'N passed, N failed' (', N skipped' if any); the exit code is non-zero on
any failure.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

TOP = qemu.TOP
ST = os.path.join(qemu.BUILD, "selftests", "riscv")
TIMES = []
# The tool paths scripts/lib.sh sets up for the shell scripts.
ENV = dict(os.environ, PATH=os.pathsep.join(["/usr/lib/llvm-19/bin",
                                             os.path.expanduser("~/.cargo/bin"),
                                             os.environ.get("PATH", "")]))


def stage(name, cmd, **kw):
    print(f"\n######## {name}", flush=True)
    start = time.time()
    r = subprocess.run(cmd, cwd=TOP, **kw)
    TIMES.append((name, time.time() - start))
    if r.returncode != 0:
        print(f"######## {name}: FAILED (exit {r.returncode})", flush=True)
    return r


def host_tests(results):
    print("\n######## host-side cargo tests", flush=True)
    start = time.time()
    r = subprocess.run(["cargo", "test", "--offline"],
                       cwd=os.path.join(TOP, "tests", "host"), capture_output=True, text=True)
    TIMES.append(("host-side cargo tests", time.time() - start))
    print(r.stdout + r.stderr)
    n = 0
    for line in r.stdout.splitlines():
        # One cargo test per shared case: "test tests::host::NAME ... ok".
        m = re.match(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", line)
        if m:
            n += 1
            results.add("host", m.group(1),
                        {"ok": "pass", "FAILED": "fail", "ignored": "skip"}[m.group(2)])
    if r.returncode != 0 or n == 0:
        results.add("host", "cargo test", "fail", f"exit {r.returncode}, {n} cases")


def add_pass_fail_lines(results, suite, what, r):
    """One result per "PASS name  (note)" / "FAIL name  (note)" line a runner
    printed; a failure of its own if it failed without printing any."""
    n = 0
    for line in r.stdout.splitlines():
        m = re.match(r"^(PASS|FAIL) (.+?)(?:  \((.*)\))?$", line)
        if m:
            n += 1
            results.add(suite, m.group(2), m.group(1).lower(), m.group(3) or "")
    if r.returncode != 0 and n == 0:
        results.add(suite, what, "fail", f"exit {r.returncode}")


def rust_gates(results):
    """rustfmt (the kernel's .rustfmt.toml) and clippy on the project's Rust."""
    print("\n######## rustfmt and clippy on the project's Rust", flush=True)
    start = time.time()
    # The kernel's own rustfmtcheck covers every .rs file of the tree,
    # the grafted project files included; the host crate is checked alike.
    r = subprocess.run(["make", "-s", "-C", os.path.join(qemu.BUILD, "linux"),
                        "O=" + os.path.join(qemu.BUILD, "kernel-rust"), "ARCH=riscv", "LLVM=1",
                        "rustfmtcheck"], capture_output=True, text=True, env=ENV)
    print(r.stdout[-3000:] + r.stderr[-2000:])
    results.add("gates", "make rustfmtcheck", "pass" if r.returncode == 0 else "fail")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(TOP, "tests/host/src"))
                   for f in fs if f.endswith(".rs"))
    r = subprocess.run(["rustfmt", "--edition", "2021", "--check", "--config-path",
                        os.path.join(qemu.BUILD, "linux", ".rustfmt.toml")] + files,
                       capture_output=True, text=True, env=ENV)
    print(r.stdout[-3000:] + r.stderr[-2000:])
    results.add("gates", "rustfmt --check tests/host", "pass" if r.returncode == 0 else "fail",
                f"{len(files)} files")
    r = subprocess.run(["bash", "scripts/clippy.sh"], cwd=TOP, capture_output=True, text=True)
    print(r.stdout[-4000:] + r.stderr[-4000:])
    results.add("gates", "clippy (CLIPPY=1) on our objects", "pass" if r.returncode == 0 else "fail")
    r = subprocess.run(["bash", "scripts/rust-docs.sh"], cwd=TOP, capture_output=True, text=True)
    print(r.stdout[-4000:] + r.stderr[-4000:])
    results.add("gates", "make rustdoc, rustdoc -Dwarnings -Dmissing_docs, all items documented",
                "pass" if r.returncode == 0 else "fail")
    # The patch series: written by `make patches`, then applied with git am to
    # a fresh unpack with checkpatch --strict on every patch (the exceptions
    # are listed, with their reasons, in glue/CHECKPATCH.md), and compared
    # with the tree the tests run on.
    r = subprocess.run([sys.executable, "scripts/patches.py", "make"], cwd=TOP,
                       capture_output=True, text=True)
    print(r.stdout[-3000:] + r.stderr[-3000:])
    results.add("series", "make patches", "pass" if r.returncode == 0 else "fail")
    if r.returncode == 0:
        r = subprocess.run([sys.executable, "scripts/patches.py", "check"], cwd=TOP,
                           capture_output=True, text=True)
        print(r.stdout[-6000:] + r.stderr[-3000:])
        add_pass_fail_lines(results, "series", "patches.py check", r)
    TIMES.append(("rustfmt + clippy + patch series", time.time() - start))


def script_tests(results):
    """Unit tests of the scripts themselves (tests/scripts): the manifest
    check, the boot helper's timeouts."""
    print("\n######## unit tests of the scripts", flush=True)
    r = subprocess.run([sys.executable, "-m", "unittest", "discover", "-v", "-s", "tests/scripts"],
                       cwd=TOP, capture_output=True, text=True)
    print(r.stderr[-3000:])
    found = 0
    for m in re.finditer(r"^(test_\w+) \(([\w.]+)\)(?:\n.*?)? \.\.\. (ok|FAIL|ERROR)$",
                         r.stderr, re.M):
        found += 1
        results.add("scripts", f"{m.group(2).split('.')[0]}.{m.group(1)}",
                    "pass" if m.group(3) == "ok" else "fail")
    ran = re.search(r"^Ran (\d+) tests?", r.stderr, re.M)
    if r.returncode != 0 or not ran or int(ran.group(1)) != found:
        results.add("scripts", "unittest discover tests/scripts", "fail",
                    f"exit {r.returncode}, {found} of {ran.group(1) if ran else '?'} results read")


def spectre_gate(variants, results):
    """The speculation gate over the built kernels: its unit tests (which
    include the unmasked kvm_riscv_vcpu_pmu_fw_ctr_read of the kernel built
    before the fix), then every SBI PMU function of each vmlinux."""
    print("\n######## Spectre-v1 gate on the built vmlinux", flush=True)
    start = time.time()
    r = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", "tests/gate"],
                       cwd=TOP, capture_output=True, text=True)
    print(r.stderr[-1500:])
    m = re.search(r"^Ran (\d+) tests?", r.stderr, re.M)
    results.add("gates", "spectre gate unit tests", "pass" if r.returncode == 0 and m else "fail",
                f"{m.group(1) if m else 0} tests")
    for v in variants:
        kdir = os.path.join(qemu.BUILD, "kernel-" + v)
        # The SBI dispatcher's switch compiles to a jump table indexed by the
        # function ID; the gate lists such tables without failing on them.
        r = subprocess.run([sys.executable, "scripts/spectre_gate.py", "--allow-jump-tables",
                            "--vmlinux", os.path.join(kdir, "vmlinux"), "--objdir", kdir],
                           cwd=TOP, capture_output=True, text=True)
        print("\n".join(r.stdout.splitlines()[-3:]) + r.stderr[-2000:])
        add_pass_fail_lines(results, f"spectre-gate[{v}]", "spectre_gate.py", r)
        if r.returncode != 0:
            results.add(f"spectre-gate[{v}]", "spectre_gate.py", "fail", f"exit {r.returncode}")
    TIMES.append(("spectre gate", time.time() - start))


def selftests_for(variant, short=False):
    """The LIST entries for a kernel variant. The debug kernel runs the Rust
    ones (`make test-debug`), or with `short` only the entries LIST marks
    for it (the debug boot of `make test`)."""
    want = "rust" if variant == "debug" and not short else variant
    tests = [] if short else [{"name": "sbi_pmu_test", "path": os.path.join(ST, "sbi_pmu_test"),
                               "parser": qemu.parse_sbi_pmu_test, "timeout": 120}]
    listing = os.path.join(TOP, "tests", "selftests", "LIST")
    if os.path.exists(listing):
        for line in open(listing):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            name, variants, timeout = parts[0], parts[1].split(","), int(parts[2])
            if want in variants or "all" in variants:
                args = [a for a in parts[3:] if a != "@icount"]
                t = {"name": name, "path": os.path.join(ST, name), "timeout": timeout,
                     "args": args, "icount": "@icount" in parts[3:]}
                dev = os.path.join(TOP, "tests", "selftests", f"{want}-path-deviations.txt")
                if name == "pmu_snapshot_conformance" and os.path.exists(dev):
                    t["parser"] = qemu.expect_deviations(qemu.load_deviations(dev))
                if name == "get-reg-list":
                    t["parser"] = qemu.parse_get_reg_list
                tests.append(t)
    return tests


def dist_boot(results):
    """The distribution-style kernel (KVM=m, no KUnit, warnings as errors):
    load kvm.ko, run the conformance and perf attribution selftests against
    it, remove the module (KVM unregisters its perf guest callbacks), load it
    again (and it registers them again) and run both again. One boot with
    -icount shift=0, which the perf attribution test needs."""
    print("\n######## QEMU boot: dist kernel, kvm.ko loaded, removed, loaded again", flush=True)
    start = time.time()
    ko = os.path.join(qemu.BUILD, "kernel-dist", "arch", "riscv", "kvm", "kvm.ko")
    modctl = qemu.init_tool("modctl")

    def mod(name, *args, files=None):
        return {"name": name, "path": modctl, "timeout": 60, "args": list(args),
                "files": files or {}}

    def selftest(name, n):
        return {"name": f"{name}-{n}", "path": os.path.join(ST, name), "timeout": 300}

    tests = [mod("load-kvm", "load", "/lib/kvm.ko", files={"/lib/kvm.ko": ko}),
             selftest("pmu_snapshot_conformance", 1), selftest("perf_guest_attribution", 1),
             mod("unload-kvm", "unload", "kvm"), mod("reload-kvm", "load", "/lib/kvm.ko"),
             selftest("pmu_snapshot_conformance", 2), selftest("perf_guest_attribution", 2)]
    _, secs, log = qemu.run("dist", tests, results, label="dist", icount=True)
    TIMES.append(("QEMU boot (dist, module)", time.time() - start))
    print(f"console log: {os.path.relpath(log, TOP)}")


def vmm_guest(variant, results):
    """The project's VMM boots the project's kernel as a KVM guest inside the
    QEMU machine; the guest's own PMU driver uses the snapshot (tests/vmm)."""
    print(f"\n######## VMM: Linux guest on the {variant} kernel", flush=True)
    start = time.time()
    # -icount: the guest's perf stat counts exactly (tests/vmm/run.py). The
    # VMM also moves the counting guest into a new VM: the C path saves no
    # counter state, and its guest must lose counts.
    args = ["--host", variant, "--icount", "--migrate"]
    r = subprocess.run([sys.executable, "tests/vmm/run.py"] + args, cwd=TOP,
                       capture_output=True, text=True)
    TIMES.append((f"VMM guest boot ({variant})", time.time() - start))
    print(r.stdout[-4000:] + r.stderr[-2000:])
    add_pass_fail_lines(results, f"{variant}/vmm-guest", "run.py", r)


def perf_tool(variant, results):
    """The real perf tool on the host records a KVM guest (tests/perf)."""
    print(f"\n######## perf record of a KVM guest on the {variant} kernel", flush=True)
    start = time.time()
    r = subprocess.run([sys.executable, "tests/perf/run.py", "--host", variant], cwd=TOP,
                       capture_output=True, text=True)
    TIMES.append((f"perf tool boot ({variant})", time.time() - start))
    print(r.stdout[-4000:] + r.stderr[-2000:])
    add_pass_fail_lines(results, f"{variant}/perf-tool", "run.py", r)


def main():
    # `test.py` runs everything on the Rust and C kernels, and the LIST
    # entries marked "debug" on the debug kernel (KASAN, UBSAN, lockdep,
    # DEBUG_ATOMIC_SLEEP, kmemleak); `test.py debug` runs the whole Rust
    # suite on the debug kernel.
    variants = sys.argv[1:] or ["rust", "c", "debug"]
    short_debug = not sys.argv[1:]
    results = qemu.Results()
    t0 = time.time()
    fatal = False
    steps = [("set-up", ["bash", "scripts/setup.sh"]),
             ("kernel preparation", ["bash", "scripts/prepare-kernel.sh"])]
    steps += [(f"kernel build ({v})", ["bash", "scripts/build-kernel.sh", v]) for v in variants]
    if short_debug:
        # The distribution-style build: KVM=m, no KUnit, -Dwarnings and
        # CONFIG_WERROR; it must build without a warning.
        steps += [("kernel build (dist: KVM=m, no KUnit, warnings as errors)",
                   ["bash", "scripts/build-kernel.sh", "dist"])]
    steps += [("selftests build", ["bash", "scripts/build-selftests.sh", variants[0]])]
    if any(v in ("rust", "c") for v in variants):
        steps += [("perf build (static riscv64, cached)", ["bash", "scripts/build-perf.sh"])]
    for name, cmd in steps:
        r = stage(name, cmd)
        results.add("build", name, "pass" if r.returncode == 0 else "fail")
        if r.returncode != 0:
            fatal = True
            break
    host_tests(results)
    script_tests(results)
    if not fatal:
        if "rust" in variants:
            rust_gates(results)
        spectre_gate([v for v in variants if v in ("rust", "c")], results)
        for variant in variants:
            tests = selftests_for(variant, short=short_debug and variant == "debug")
            # Tests marked @icount get their own boot with -icount shift=0,sleep=off,
            # where counters count instructions exactly.
            for icount in (False, True):
                mine = [t for t in tests if t.get("icount", False) == icount]
                if not mine:
                    continue
                label = variant + ("-icount" if icount else "")
                print(f"\n######## QEMU boot: {label} kernel", flush=True)
                start = time.time()
                _, secs, log = qemu.run(variant, mine, results, label=label,
                                        icount=icount, smp=1 if icount else 2)
                TIMES.append((f"QEMU boot ({label})", time.time() - start))
                print(f"console log: {os.path.relpath(log, TOP)}")
            if variant in ("rust", "c"):
                vmm_guest(variant, results)
                perf_tool(variant, results)
        if short_debug:
            dist_boot(results)

    print("\n######## results")
    for suite, name, status, note in results.items:
        if status != "pass" or os.environ.get("VERBOSE"):
            print(f"{status.upper():4} {suite}: {name}" + (f" ({note})" if note else ""))
    suites = {}
    for suite, _, status, _ in results.items:
        s = suites.setdefault(suite, [0, 0, 0])
        s[["pass", "fail", "skip"].index(status)] += 1
    for suite, (p, f, s) in suites.items():
        print(f"  {suite:45} {p:4} passed {f:3} failed {s:3} skipped")
    print("\n######## times")
    for name, secs in TIMES:
        print(f"  {name:30} {secs:7.1f} s")
    print(f"  {'total':30} {time.time() - t0:7.1f} s")
    p, f, s = (results.count(x) for x in ("pass", "fail", "skip"))
    print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
