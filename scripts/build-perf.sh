#!/bin/bash
# Cross-build the perf tool of the patched tree (tools/perf) as a static
# riscv64 binary, build/perf/perf, with every optional library off.
# Skipped when the tree's tools sources and this script are unchanged.
#   build-perf.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC=$BUILD/linux
OUT=$BUILD/perf
OBJ=$OUT/obj
STAMP=$OUT/.stamp
CROSS=riscv64-linux-gnu-
# Every optional library perf 6.12's Makefile.config can look for, off:
# the cross sysroot has none of them, and the binary must link statically.
PERF_OPTS="NO_LIBELF=1 NO_DWARF=1 NO_LIBDW_DWARF_UNWIND=1 NO_LIBUNWIND=1
  NO_LIBTRACEEVENT=1 NO_JEVENTS=1 NO_LIBPYTHON=1 NO_LIBPERL=1 NO_LIBBPF=1
  NO_LIBNUMA=1 NO_SLANG=1 NO_GTK2=1 NO_LIBAUDIT=1 NO_LIBCRYPTO=1 NO_LIBZSTD=1
  NO_LZMA=1 NO_ZLIB=1 NO_LIBCAP=1 NO_LIBBABELTRACE=1 NO_DEMANGLE=1
  NO_LIBDEBUGINFOD=1 NO_SDT=1 NO_AUXTRACE=1 NO_CAPSTONE=1 NO_LIBLLVM=1
  NO_LIBPFM4=1 NO_JVMTI=1 NO_SHELLCHECK=1"

[ -d "$SRC/tools/perf" ] || die "no kernel tree in ${SRC#$TOP/}: run scripts/prepare-kernel.sh (or make) first"

# The sources perf's build reads: its own, the tools libraries and headers,
# every arch's header copies (perf-regs-arch and the arm64 sysreg table use
# them), the build machinery and the top Makefile (the kernel version perf
# reports), plus this script.
src_hash() {
	{
		(cd "$SRC" && find tools/perf tools/lib tools/include tools/arch \
			tools/build tools/scripts Makefile -type f -print0 | LC_ALL=C sort -z |
			xargs -0 sha256sum)
		sha256sum <"$0"
	} | sha256sum | cut -d' ' -f1
}

step "perf: static riscv64 build"
hash=$(src_hash)
if [ -x "$OUT/perf" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$hash" ]; then
	info "up to date: ${OUT#$TOP/}/perf"
	exit 0
fi

missing=""
for t in gcc:gcc make:make flex:flex bison:bison file:file \
	${CROSS}gcc:gcc-riscv64-linux-gnu ${CROSS}strip:binutils-riscv64-linux-gnu; do
	command -v "${t%%:*}" >/dev/null || missing="$missing ${t#*:}"
done
[ -f /usr/riscv64-linux-gnu/lib/libc.a ] || missing="$missing libc6-dev-riscv64-cross"
[ -z "$missing" ] || die "missing packages:$missing (run scripts/setup.sh)"

rm -f "$STAMP" "$OUT/perf"
mkdir -p "$OBJ"
info "make -C ${SRC#$TOP/}/tools/perf ARCH=riscv CROSS_COMPILE=$CROSS perf (log: ${OUT#$TOP/}/build.log)"
start=$SECONDS
# Only the perf target: the dlfilter shared objects cannot link statically.
# PKG_CONFIG_LIBDIR: only the riscv64 multiarch .pc files (none are installed).
# shellcheck disable=SC2086
if ! PKG_CONFIG_LIBDIR=/usr/lib/riscv64-linux-gnu/pkgconfig \
	make -C "$SRC/tools/perf" -j"$(nproc)" ARCH=riscv CROSS_COMPILE=$CROSS \
	HOSTCC=gcc LDFLAGS=-static O="$OBJ" $PERF_OPTS perf >"$OUT/build.log" 2>&1; then
	tail -n 30 "$OUT/build.log" | sed 's/^/    /'
	die "perf build failed (full log: ${OUT#$TOP/}/build.log)"
fi
${CROSS}strip -o "$OUT/perf" "$OBJ/perf"
file -b "$OUT/perf" | grep -q 'statically linked' || die "${OUT#$TOP/}/perf is not static"
echo "$hash" >"$STAMP"
info "built ${OUT#$TOP/}/perf ($(( $(stat -c %s "$OUT/perf") / 1024 )) KiB) in $((SECONDS - start)) s"
