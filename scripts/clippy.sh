#!/bin/bash
# Build the project's Rust objects with clippy (make CLIPPY=1) and fail on
# any warning in them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OUT=$BUILD/kernel-rust
OBJS="arch/riscv/kvm/pmu_snapshot.o arch/riscv/kernel/perf_guest.o"
step "clippy: $OBJS"
log=$(mktemp)
# Force a rebuild of just these objects with clippy-driver.
for o in $OBJS; do rm -f "$OUT/$o"; done
make -s -C "$BUILD/linux" O="$OUT" ARCH=riscv LLVM=1 CLIPPY=1 $OBJS >"$log" 2>&1 || {
	cat "$log"
	die "clippy build failed"
}
# The objects are rebuilt without clippy by the next normal build.
if grep -q "^warning\|^error" "$log"; then
	cat "$log"
	die "clippy reported warnings in the project's Rust"
fi
info "no clippy warnings"
rm -f "$log"
