# Shared settings and helpers for the scripts. Source it, do not run it.

# The pinned kernel: Debian's linux-source-6.12 package.
KERNEL_PKG_VERSION=6.12.117-1~deb12u1
KERNEL_VERSION=6.12.117
BINDGEN_VERSION=0.73.2

export TOP; TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
LLVM_BIN=/usr/lib/llvm-19/bin
export PATH="$LLVM_BIN:$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH=/usr/lib/llvm-19/lib

step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The glue patches, glue/NNNN-*.patch, in number order.
series_names() {
	(cd "$TOP/glue" && ls [0-9][0-9][0-9][0-9]-*.patch)
}

# The hash of the glue patches' names and contents: prepare re-applies the
# series when it changes.
series_hash() {
	{ series_names; (cd "$TOP/glue" && cat $(series_names)); } | sha256sum | cut -d' ' -f1
}
