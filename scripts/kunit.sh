#!/bin/bash
# Run the project's KUnit suite the upstream way: tools/testing/kunit/kunit.py
# with the grafted arch/riscv/kvm/.kunitconfig, building into build/kunit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC=$BUILD/linux
step "kunit.py: build and run arch/riscv/kvm/.kunitconfig (about 5 min from scratch)"
cd "$SRC"
python3 tools/testing/kunit/kunit.py run --arch=riscv \
	--make_options LLVM=1 --jobs "$(nproc)" \
	--build_dir "$BUILD/kunit" --timeout 300 \
	--kunitconfig arch/riscv/kvm/.kunitconfig "$@"
