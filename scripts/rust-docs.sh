#!/bin/bash
# Documentation gates for the project's Rust, on the built Rust kernel:
#  1. the kernel's own `make rustdoc`, with no warning;
#  2. rustdoc on each of our crates (pmu_snapshot, perf_guest) with the exact
#     flags the kernel build used for it, private items included, with
#     -Dwarnings -Dmissing_docs; the HTML goes to build/rustdoc/;
#  3. clippy's missing_docs_in_private_items on the same crates, as an error:
#     every item, private or not, has a doc comment.
# Steps 2 and 3 take the kernel's command line for the object from its .cmd
# file, so they see the same cfgs, editions and externs as the real build.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OUT=$BUILD/kernel-rust
OBJS="arch/riscv/kvm/pmu_snapshot.o arch/riscv/kernel/perf_guest.o"
DOCS=$BUILD/rustdoc
export RUSTC_BOOTSTRAP=1
fail=0

step "rustdoc: make rustdoc"
log=$(mktemp)
make -s -C "$BUILD/linux" O="$OUT" ARCH=riscv LLVM=1 rustdoc >"$log" 2>&1 || {
	cat "$log"
	die "make rustdoc failed"
}
if grep -q "warning" "$log"; then
	cat "$log"
	info "make rustdoc: warnings"
	fail=1
else
	info "make rustdoc: no warnings"
fi

# kernel_cmd OBJ TOOL: the build's command line for OBJ with TOOL as the driver.
kernel_cmd() {
	local cmdfile
	cmdfile="$OUT/$(dirname "$1")/.$(basename "$1").cmd"
	[ -f "$cmdfile" ] || die "no $cmdfile: build the Rust kernel first"
	sed -n "s|^savedcmd_$1 := ||p" "$cmdfile" |
		sed -E -e "s/^RUST_MODFILE=[^ ]* [^ ]+ /$2 /" -e 's/ --emit=[^ ]*//g' \
		       -e 's/ --out-dir [^ ]*//' -e 's/ -Zbinary_dep_depinfo=y//' \
		       -e 's/ -Wclippy::missing_docs_in_private_items//'
}

for o in $OBJS; do
	crate=$(basename "$o" .o)
	step "rustdoc: $crate (private items included, -Dwarnings -Dmissing_docs)"
	rm -rf "${DOCS:?}/$crate"
	mkdir -p "$DOCS"
	# The crate's modules are private, so its intra-doc links point to
	# private items; that is what --document-private-items renders.
	if (cd "$OUT" && eval "$(kernel_cmd "$o" rustdoc)" -o "$DOCS" --document-private-items \
		-Dwarnings -Dmissing_docs -Arustdoc::private_intra_doc_links) >"$log" 2>&1; then
		info "documented in ${DOCS#$TOP/}/$crate/index.html"
	else
		cat "$log"
		fail=1
	fi

	step "clippy: missing_docs_in_private_items on $crate"
	tmp=$(mktemp -d)
	if (cd "$OUT" && eval "$(kernel_cmd "$o" clippy-driver)" --emit=metadata --out-dir "$tmp" \
		-Dclippy::missing_docs_in_private_items) >"$log" 2>&1; then
		info "every item documented"
	else
		grep -A4 "^error" "$log" | head -60
		info "$(grep -c "^error: missing documentation" "$log") undocumented items"
		fail=1
	fi
	rm -rf "$tmp"
done
rm -f "$log"
[ $fail = 0 ] || die "documentation gates failed"
