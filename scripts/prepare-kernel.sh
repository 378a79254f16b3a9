#!/bin/bash
# Unpack the pinned linux-source-6.12 tree into build/linux, graft the
# project's files into it and apply the glue/ patch series.
#
# Re-running is cheap and keeps incremental builds incremental: grafted files
# are only rewritten when their contents change, and the series is only
# re-applied (after reverting the previous one) when glue/ changed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC=$BUILD/linux
TARBALL=/usr/src/linux-source-6.12.tar.xz
APPLIED=$SRC/.rsproj-applied

kernel_version() {
	awk '/^VERSION =/ {v=$3} /^PATCHLEVEL =/ {p=$3} /^SUBLEVEL =/ {s=$3}
	     END {print v "." p "." s}' "$1/Makefile"
}

step "kernel: source $KERNEL_VERSION"
if [ ! -f "$SRC/Makefile" ]; then
	[ -f "$TARBALL" ] || die "$TARBALL missing: run scripts/setup.sh"
	have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
	[ "$have" = "$KERNEL_PKG_VERSION" ] ||
		die "linux-source-6.12 is '$have', this project is pinned to $KERNEL_PKG_VERSION"
	info "unpacking $TARBALL (about 20 s)"
	mkdir -p "$BUILD"
	rm -rf "$BUILD/linux-source-6.12" "$SRC"
	tar -C "$BUILD" -xf "$TARBALL"
	mv "$BUILD/linux-source-6.12" "$SRC"
fi
got=$(kernel_version "$SRC")
[ "$got" = "$KERNEL_VERSION" ] ||
	die "build/linux is Linux $got, this project is pinned to $KERNEL_VERSION (remove build/linux)"
info "Linux $got in $SRC"

step "kernel: glue patch series"
# Edits made in build/linux since the last prepare would be overwritten:
# refuse until they are saved (make glue-save) or dropped (make glue-reset).
python3 "$TOP/scripts/glue.py" check || die "unsaved edits in build/linux"
series_hash=$(series_hash)
if [ -f "$APPLIED/hash" ] && [ "$(cat "$APPLIED/hash")" = "$series_hash" ]; then
	info "series unchanged, already applied"
else
	# Keep the mtime of files whose contents the new series leaves as they
	# were, so that re-applying does not trigger needless rebuilds.
	KEEP=$(mktemp -d)
	for f in $(cat "$APPLIED"/*.patch "$TOP"/glue/*.patch 2>/dev/null |
		   sed -n 's|^+++ b/\([^\t ]*\).*|\1|p' | sort -u); do
		[ -f "$SRC/$f" ] && mkdir -p "$KEEP/$(dirname "$f")" && cp -p "$SRC/$f" "$KEEP/$f"
	done
	if [ -f "$APPLIED/series" ]; then
		# Restore the files the previous series touched from the tarball
		# (more robust than reverse-applying a series that may have been
		# half applied or edited by hand); files it created are removed.
		info "restoring the files the previous series touched"
		touched=$(sed -n 's|^+++ b/\([^\t ]*\).*|\1|p' "$APPLIED"/*.patch | sort -u)
		ORIG=$(mktemp -d)
		tar -C "$ORIG" -xf "$TARBALL" $(printf 'linux-source-6.12/%s ' $touched) 2>/dev/null || true
		for f in $touched; do
			rm -f "$SRC/$f"
			if [ -f "$ORIG/linux-source-6.12/$f" ]; then
				cp "$ORIG/linux-source-6.12/$f" "$SRC/$f"
			fi
		done
		rm -rf "$ORIG"
	fi
	rm -rf "$APPLIED"
	for p in $(series_names); do
		info "applying $p"
		if ! patch -d "$SRC" -p1 -s -f -N --dry-run < "$TOP/glue/$p" >/tmp/rsproj-patch.$$ 2>&1; then
			cat /tmp/rsproj-patch.$$ >&2
			die "glue/$p does not apply to Linux $got"
		fi
		patch -d "$SRC" -p1 -s -f -N < "$TOP/glue/$p"
		mkdir -p "$APPLIED"
		cp "$TOP/glue/$p" "$APPLIED/$p"
		echo "$p" >> "$APPLIED/series"
	done
	mkdir -p "$APPLIED"
	echo "$series_hash" > "$APPLIED/hash"
	(cd "$KEEP" && find . -type f) | while read -r f; do
		if cmp -s "$KEEP/$f" "$SRC/$f"; then touch -r "$KEEP/$f" "$SRC/$f"; fi
	done
	rm -rf "$KEEP"
	rm -f /tmp/rsproj-patch.$$
fi

step "kernel: graft project files"
# glue/manifest says where each project file goes in the kernel tree.
grafts=$(python3 "$TOP/scripts/patches.py" grafts) || die "glue/manifest is out of date"
n=0
while read -r from to; do
	mkdir -p "$(dirname "$SRC/$to")"
	cmp -s "$TOP/$from" "$SRC/$to" || { cp "$TOP/$from" "$SRC/$to"; info "updated $to"; }
	n=$((n + 1))
done <<< "$grafts"
info "$n project files in place"
python3 "$TOP/scripts/glue.py" record
