#!/bin/bash
# Cross-build the riscv KVM selftests this project runs: the upstream
# sbi_pmu_test and get-reg-list (which the series teaches the SBI PMU state
# registers) and the project's own selftests (grafted from tests/selftests).
#   build-selftests.sh VARIANT
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=${1:-rust}
SRC=$BUILD/linux
OUT=$BUILD/kernel-$VARIANT
ST=$BUILD/selftests
# Built from the same tree for every kernel variant.
PROGS="riscv/sbi_pmu_test get-reg-list $(cd "$TOP/tests/selftests" && ls riscv/*.c | sed 's/\.c$//')"

step "selftests: kernel headers"
make -s -C "$SRC" O="$OUT" ARCH=riscv LLVM=1 headers >/dev/null
info "installed in ${OUT#$TOP/}/usr/include"

step "selftests: cross-build $(echo $PROGS | wc -w) programs"
mkdir -p "$ST"
make -s -C "$SRC/tools/testing/selftests/kvm" ARCH=riscv \
	CROSS_COMPILE=riscv64-linux-gnu- OUTPUT="$ST" \
	KHDR_INCLUDES="-isystem $OUT/usr/include" \
	EXTRA_CFLAGS="-static -Wno-unused-command-line-argument" LDFLAGS=-static \
	$(for p in $PROGS; do printf '%s ' "$ST/$p"; done) 2>&1 | sed 's/^/    /' | tee "$ST/build.log"
# The project's own selftests must build without a warning.
ours=$(cd "$TOP/tests/selftests" && ls riscv/*.c riscv/*.h | tr '\n' '|' | sed 's/|$//')
if grep -E "($ours):[0-9]+:[0-9]+: warning" "$ST/build.log"; then
	die "warnings in the project's selftests"
fi
for p in $PROGS; do
	[ -x "$ST/$p" ] || die "selftest $p was not built"
	info "built $p"
done
# tests/selftests/LIST names programs in riscv/, where the split test is not.
ln -f "$ST/get-reg-list" "$ST/riscv/get-reg-list"
