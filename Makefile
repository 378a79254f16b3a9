# Entry points of the project. `make` builds the patched kernel and runs the
# demo; `make test` runs every test. Both install what they need first.

PYTHON ?= python3

.PHONY: all demo setup prepare kernel kernel-c selftests test bench bench-profile test-debug fuzz-long \
	host-test kunit patches check-series vmm perf perf-record glue-status glue-save glue-reset \
	run-test clean help

all: demo

help:
	@echo "make              set up, build the patched kernel, boot it and run the demo"
	@echo "make test         run every test; last line: N passed, N failed"
	@echo "make bench        Rust vs C snapshot paths, guest ticks per call (icount)"
	@echo "make bench-profile ROW=snapshot_stop_start_1   instructions per call of one row, by function"
	@echo "make test-debug   the Rust test suite on the debug kernel (KASAN, UBSAN, lockdep, kmemleak)"
	@echo "make fuzz-long    lifetimes + 1,000,000 hostile SBI PMU calls on 2 vCPUs, debug kernel"
	@echo "                  (SEED=, CALLS= per vCPU, VCPUS= change the run)"
	@echo "make kernel       build the Rust-path kernel (build/kernel-rust)"
	@echo "make kernel-c     build the C-path kernel (build/kernel-c)"
	@echo "make host-test    host-side cargo tests of the pure core"
	@echo "make kunit        the KUnit suite through tools/testing/kunit/kunit.py"
	@echo "make run-test T=pmu_snapshot_conformance [VARIANT=c]   one selftest alone"
	@echo "make vmm          the project's VMM boots the kernel as a KVM guest (Rust and C hosts)"
	@echo "make perf         cross-build the tree's perf tool, static riscv64 (build/perf/perf)"
	@echo "make perf-record  perf record of a KVM guest with the real perf tool (Rust and C hosts)"
	@echo "make patches      the project as a git format-patch series in build/patches/"
	@echo "make check-series git am the series onto a fresh tree, checkpatch and build after every patch"
	@echo "make glue-status  edits in build/linux that are in no patch yet"
	@echo "make glue-save P=N [FILES=...]   fold those edits into glue patch N, copy edited"
	@echo "                  project files back (FILES: kernel files no patch touched yet)"
	@echo "make glue-reset   drop the edits: the next prepare rewrites build/linux"
	@echo "make clean        remove build/"

setup:
	bash scripts/setup.sh

prepare: setup
	bash scripts/prepare-kernel.sh

kernel: prepare
	bash scripts/build-kernel.sh rust

kernel-c: prepare
	bash scripts/build-kernel.sh c

selftests: prepare
	bash scripts/build-selftests.sh rust

demo: kernel selftests
	$(PYTHON) scripts/qemu.py --variant rust --test pmu_snapshot_demo --show

test:
	$(PYTHON) scripts/test.py

bench:
	$(PYTHON) scripts/bench.py

ROW ?= snapshot_stop_start_1
bench-profile: kernel kernel-c selftests
	$(PYTHON) scripts/profile.py --row $(ROW)

test-debug:
	$(PYTHON) scripts/test.py debug

SEED ?= 20261123
CALLS ?= 500000
VCPUS ?= 2
fuzz-long:
	bash scripts/fuzz-long.sh $(SEED) $(CALLS) $(VCPUS)

vmm: kernel kernel-c selftests
	$(PYTHON) tests/vmm/run.py --host rust
	$(PYTHON) tests/vmm/run.py --host c

perf: prepare
	bash scripts/build-perf.sh

perf-record: kernel kernel-c selftests perf
	$(PYTHON) tests/perf/run.py --host rust
	$(PYTHON) tests/perf/run.py --host c

patches: setup
	$(PYTHON) scripts/patches.py make

check-series: patches prepare
	$(PYTHON) scripts/patches.py check --build

host-test:
	cd tests/host && cargo test --offline -- --nocapture

kunit: prepare
	bash scripts/kunit.sh

VARIANT ?= rust
run-test: prepare
	bash scripts/build-kernel.sh $(VARIANT)
	bash scripts/build-selftests.sh $(VARIANT)
	$(PYTHON) scripts/qemu.py --variant $(VARIANT) --test $(T) --show

glue-status:
	$(PYTHON) scripts/glue.py status

glue-save:
	@test -n "$(P)" || { echo "usage: make glue-save P=<patch number> [FILES=...]"; exit 2; }
	$(PYTHON) scripts/glue.py save $(P) $(FILES)

glue-reset:
	$(PYTHON) scripts/glue.py reset

clean:
	rm -rf build tests/host/target
