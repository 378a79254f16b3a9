#!/bin/bash
# Configure and build one kernel variant out of tree.
#   build-kernel.sh rust   Rust snapshot and perf paths (the default build)
#   build-kernel.sh c      the original C snapshot path, no project perf parts
#   build-kernel.sh debug  the Rust paths with KASAN, UBSAN, kmemleak, lockdep ...
#   build-kernel.sh debug-c the C path with the same checkers
#   build-kernel.sh dist   distribution-style: KVM=m, no KUnit, warnings as errors
# The output goes to build/kernel-<variant>; the build is incremental.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=${1:-rust}
# SRC and OUT may be given (scripts/patches.py builds the series tree);
# CONFIG_STAMP joins the configuration hash, and LENIENT_CONFIG=1 lets
# options that the tree does not define yet drop out (patch-by-patch builds).
SRC=${SRC:-$BUILD/linux}
OUT=${OUT:-$BUILD/kernel-$VARIANT}
FRAGS="$TOP/tests/config/base.config $TOP/tests/config/$VARIANT.config ${EXTRA_FRAGMENTS:-}"
JOBS=${JOBS:-$(nproc)}
MAKE=(make -C "$SRC" O="$OUT" ARCH=riscv LLVM=1 -j"$JOBS")

for f in $FRAGS; do [ -f "$f" ] || die "missing config fragment $f"; done
mkdir -p "$OUT"

step "kernel[$VARIANT]: configure"
cfg_hash=$( (cat $FRAGS "$SRC/.rsproj-applied/hash" 2>/dev/null; echo "${CONFIG_STAMP:-}") |
	sha256sum | cut -d' ' -f1)
if [ ! -f "$OUT/.config" ] || [ "$(cat "$OUT/.rsproj-config-hash" 2>/dev/null)" != "$cfg_hash" ]; then
	"${MAKE[@]}" -s tinyconfig >/dev/null
	KCONFIG_CONFIG="$OUT/.config" "$SRC/scripts/kconfig/merge_config.sh" \
		-m -O "$OUT" "$OUT/.config" $FRAGS >/dev/null
	"${MAKE[@]}" -s olddefconfig >/dev/null
	# Every option a fragment asks for must have survived olddefconfig.
	bad=0
	# A later fragment's value of an option overrides an earlier one's
	# (as merge_config.sh does): check each option's last value.
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) want="# ${line%=n} is not set" ;;
		CONFIG_*) want=$line ;;
		*) continue ;;
		esac
		if ! grep -qxF "$want" "$OUT/.config"; then
			if [ "${line#*=}" = n ] && ! grep -q "^${line%=n}=" "$OUT/.config"; then
				continue
			fi
			info "config: wanted '$line', got '$(grep "^${line%%=*}=\|${line%%=*} is not set" "$OUT/.config" || echo unset)'"
			bad=1
		fi
	done < <(grep -h '^CONFIG_' $FRAGS | awk -F= '{last[$1] = $0; order[$1] = NR}
		END {for (k in last) print order[k] "\t" last[k]}' | sort -n | cut -f2-)
	if [ $bad = 1 ] && [ "${LENIENT_CONFIG:-0}" = 1 ]; then
		info "config: options above are not (yet) defined by this tree"
	elif [ $bad = 1 ]; then
		die "kernel configuration does not match the fragments"
	fi
	echo "$cfg_hash" > "$OUT/.rsproj-config-hash"
	info "configured from:$(for f in $FRAGS; do printf ' %s' "${f#$TOP/}"; done)"
else
	info "configuration up to date"
fi

step "kernel[$VARIANT]: rust toolchain check"
"${MAKE[@]}" -s rustavailable | sed 's/^/    /'

# A build with modules (KVM=m) builds them too.
TARGETS="Image"
if grep -q '^CONFIG_MODULES=y' "$OUT/.config"; then
	TARGETS="Image modules"
fi
step "kernel[$VARIANT]: build $TARGETS (incremental; about 3 min from scratch on 2 cores)"
start=$(date +%s)
log=$OUT/build.log
# Show warnings and errors as they come, and a progress line every 300 steps.
if ! "${MAKE[@]}" $TARGETS > >(tee "$log" | awk '
	/^  [A-Z]/ { n++; if (n % 300 == 0) printf "    ... %d build steps\n", n; fflush(); next }
	{ print "    " $0; fflush() }') 2>&1; then
	sleep 1
	die "kernel build failed (log: $log)"
fi
sleep 1
info "built $OUT/arch/riscv/boot/Image in $(( $(date +%s) - start )) s"
