#!/bin/bash
# The long hostile-guest run: pmu_snapshot_fuzz with at least 1,000,000 SBI
# PMU calls over 2 vCPUs on the debug kernel (KASAN, UBSAN, kmemleak,
# lockdep), then an explicit kmemleak scan. Fails on any report.
#   fuzz-long.sh [seed] [calls per vCPU] [vCPUs] [variant]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SEED=${1:-20261123}
CALLS=${2:-500000}
VCPUS=${3:-2}
VARIANT=${4:-debug}

bash "$TOP/scripts/setup.sh" >/dev/null
bash "$TOP/scripts/prepare-kernel.sh"
bash "$TOP/scripts/build-kernel.sh" "$VARIANT"
bash "$TOP/scripts/build-selftests.sh" "$VARIANT"
step "fuzz: seed $SEED, $CALLS calls on each of $VCPUS vCPUs, $VARIANT kernel"
python3 - "$SEED" "$CALLS" "$VCPUS" "$VARIANT" <<'PY'
import os, sys, time
sys.path.insert(0, os.path.join(os.environ["TOP"], "scripts"))
import qemu
seed, calls, vcpus, variant = sys.argv[1:5]
args = ["-s", seed, "-n", calls, "-v", vcpus, "-k"]
sel = os.path.join(qemu.BUILD, "selftests", "riscv")
# The lifetime checks first (vCPU reset, memslot deletion, teardown), then the fuzzer
# and its kmemleak scan, all in the same boot.
t = [{"name": "pmu_snapshot_lifetime", "path": os.path.join(sel, "pmu_snapshot_lifetime"),
      "timeout": 300, "args": []},
     {"name": "pmu_snapshot_fuzz", "path": os.path.join(qemu.BUILD, "selftests", "riscv",
      "pmu_snapshot_fuzz"), "timeout": 5400, "args": args}]
r = qemu.Results()
start = time.time()
lines, secs, log = qemu.run(variant, t, r, label=f"fuzz-long-{variant}", timeout=5700)
# The results, the run's parameters and how often each path was reached.
for line in qemu.unsplice(lines):
    if line.startswith(("ok ", "not ok ", "# seed", "# path", "# Totals")):
        print("    " + line)
for suite, name, status, note in r.items:
    if status != "pass":
        print(f"    {status.upper()} {suite}: {name} {note}")
print(f"    {int(calls) * int(vcpus)} calls, {vcpus} vCPUs, seed {seed}, "
      f"{secs:.0f} s, console log {log}")
p, f = r.count("pass"), r.count("fail")
print(f"{p} passed, {f} failed")
sys.exit(1 if f else 0)
PY
