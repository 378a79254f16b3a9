#!/bin/bash
# Install everything the build and the tests need, idempotently.
# On a machine that is already set up this finishes in seconds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

APT_PKGS="clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc make gcc file
  libelf-dev libssl-dev cpio xz-utils gzip perl python3 rsync git
  python3-ply python3-git
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross linux-source-6.12"
BPO_PKGS="qemu-system-misc opensbi"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

pkg_ok() {
	# pkg_ok NAME [VERSION]: true when NAME (at VERSION) is installed.
	local v
	v=$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null) || return 1
	case "$v" in "install ok installed"*) ;; *) return 1 ;; esac
	[ -z "${2:-}" ] || [ "${v##* }" = "$2" ]
}

step "apt: bookworm-backports suite"
BPO_FILE=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
	# Reuse the mirror this machine's apt already uses for bookworm.
	uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
	fi
	[ -n "$uri" ] || die "cannot find the bookworm mirror in the apt configuration"
	info "adding bookworm-backports from the machine's own mirror"
	printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$uri" | $SUDO tee "$BPO_FILE" >/dev/null
	NEED_UPDATE=1
fi

step "apt: packages"
missing=""
for p in $APT_PKGS; do
	if [ "$p" = linux-source-6.12 ]; then
		pkg_ok "$p" "$KERNEL_PKG_VERSION" || missing="$missing $p=$KERNEL_PKG_VERSION"
	else
		pkg_ok "$p" || missing="$missing $p"
	fi
done
bpo_missing=""
for p in $BPO_PKGS; do
	if ! pkg_ok "$p" || ! dpkg-query -W -f='${Version}' "$p" | grep -q bpo; then
		bpo_missing="$bpo_missing $p"
	fi
done
if [ -n "$missing$bpo_missing" ]; then
	info "installing:$missing$bpo_missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	[ -z "$missing" ] || $SUDO apt-get install -y -q --no-install-recommends $missing
	[ -z "$bpo_missing" ] || $SUDO apt-get install -y -q --no-install-recommends \
		-t bookworm-backports $bpo_missing
else
	info "all packages present"
fi

step "rust: rust-src, rustfmt and clippy components"
for c in rust-src rustfmt clippy; do
	if rustup component list --installed | grep -q "^$c"; then
		info "$c present"
	else
		rustup component add "$c"
	fi
done

step "rust: bindgen-cli $BINDGEN_VERSION"
if command -v bindgen >/dev/null && bindgen --version | grep -q " $BINDGEN_VERSION$"; then
	info "present"
else
	info "building bindgen-cli (about 2 minutes)"
	cargo install --locked bindgen-cli --version "$BINDGEN_VERSION"
fi

step "set-up done"
