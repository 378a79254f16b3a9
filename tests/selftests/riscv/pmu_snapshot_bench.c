// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of the SBI PMU snapshot paths, measured from inside a guest.
 *
 * Run under QEMU with -icount shift=0 -smp 1, where the guest's time CSR
 * advances with executed instructions, each row is the number of guest
 * timer ticks per call averaged over many iterations. The host prints one
 * "BENCH <row> <ticks per call>" line per row, and the kernel memory the
 * snapshot costs per vCPU as "BENCH_MEM <bytes>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "test_util.h"
#include "ucall_common.h"

#include "pmu_snapshot_util.h"

#define FW_EVENT(code)		((0xfUL << 16) | (code))
#define AREA			((unsigned long)SZ_1G)
#define SLOT_AREA		10
#define MEM_VCPUS		16
#define DEFAULT_ITERS		4000

enum row {
	ROW_NULL, ROW_FW_READ, ROW_PAIR_1, ROW_SNAP_PAIR_1, ROW_PAIR_8, ROW_SNAP_PAIR_8,
	ROW_SET_SHMEM, NR_ROWS
};

static const char * const row_names[NR_ROWS] = {
	[ROW_NULL] = "null_sbi_call",
	[ROW_FW_READ] = "fw_counter_read",
	[ROW_PAIR_1] = "stop_start_1",
	[ROW_SNAP_PAIR_1] = "snapshot_stop_start_1",
	[ROW_PAIR_8] = "stop_start_8",
	[ROW_SNAP_PAIR_8] = "snapshot_stop_start_8",
	[ROW_SET_SHMEM] = "set_shmem",
};

static unsigned long iters = DEFAULT_ITERS;
/* The rows to measure, one bit per enum row; all by default. */
static unsigned long rows = (1UL << NR_ROWS) - 1;

/* Configures 8 firmware counters; returns the base (they are contiguous). */
static unsigned long config_fw_counters(void)
{
	unsigned long num = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	unsigned long mask = ((1UL << num) - 1) & ~2UL, base = 0;

	for (int i = 0; i < 8; i++) {
		struct sbiret r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0, FW_EVENT(i));

		__GUEST_ASSERT(!r.error, "cfg_match fw %d: %ld", i, r.error);
		if (!i)
			base = r.value;
		__GUEST_ASSERT(r.value == base + i, "fw counters not contiguous");
	}
	return base;
}

#define MEASURE(row, body) do {						\
	const unsigned long __row = (row);				\
	unsigned long __t0;						\
									\
	if (!(rows & (1UL << __row)))					\
		break;							\
	__t0 = csr_read(CSR_TIME);					\
	for (unsigned long __i = 0; __i < iters; __i++) {		\
		body;							\
	}								\
	GUEST_SYNC_ARGS(__row, csr_read(CSR_TIME) - __t0, iters, 0, 0);	\
} while (0)

static void guest_code(unsigned long n, unsigned long row_mask)
{
	unsigned long base;
	long err;

	iters = n;
	rows = row_mask;
	err = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA, 0, 0, 0).error;
	__GUEST_ASSERT(!err, "set_shmem: %ld", err);
	base = config_fw_counters();
	pmu(SBI_EXT_PMU_COUNTER_START, base, 0xff, SBI_PMU_START_FLAG_SET_INIT_VALUE, 0);

	MEASURE(ROW_NULL, sbi_ecall(SBI_EXT_BASE, SBI_EXT_BASE_GET_SPEC_VERSION,
				    0, 0, 0, 0, 0, 0));
	MEASURE(ROW_FW_READ, pmu(SBI_EXT_PMU_COUNTER_FW_READ, base, 0, 0, 0));
	MEASURE(ROW_PAIR_1, {
		pmu(SBI_EXT_PMU_COUNTER_STOP, base, 1, 0, 0);
		pmu(SBI_EXT_PMU_COUNTER_START, base, 1, 0, 0);
	});
	MEASURE(ROW_SNAP_PAIR_1, {
		pmu(SBI_EXT_PMU_COUNTER_STOP, base, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
		pmu(SBI_EXT_PMU_COUNTER_START, base, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	});
	MEASURE(ROW_PAIR_8, {
		pmu(SBI_EXT_PMU_COUNTER_STOP, base, 0xff, 0, 0);
		pmu(SBI_EXT_PMU_COUNTER_START, base, 0xff, 0, 0);
	});
	MEASURE(ROW_SNAP_PAIR_8, {
		pmu(SBI_EXT_PMU_COUNTER_STOP, base, 0xff, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
		pmu(SBI_EXT_PMU_COUNTER_START, base, 0xff, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	});
	MEASURE(ROW_SET_SHMEM, pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA, 0, 0, 0));
	GUEST_DONE();
}

/* Registers an area on each vCPU; the guest of vCPU i uses page i. */
static void mem_guest(unsigned long id)
{
	GUEST_SYNC(0);
	__GUEST_ASSERT(!pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA + id * 4096, 0, 0, 0).error,
		       "set_shmem");
	GUEST_SYNC(1);
}

static long meminfo_kb(const char *key)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = atol(line + strlen(key));
	if (f)
		fclose(f);
	return v;
}

static void run_until(struct kvm_vcpu *vcpu, unsigned long stage)
{
	struct ucall uc;

	vcpu_run(vcpu);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT(uc.cmd == UCALL_SYNC && uc.args[1] == stage, "vCPU out of step");
}

/* Kernel memory per vCPU that registering a snapshot area costs. */
static long snapshot_memory_per_vcpu(void)
{
	struct kvm_vcpu *vcpus[MEM_VCPUS];
	struct kvm_vm *vm;
	long before, after;

	vm = vm_create_with_vcpus(MEM_VCPUS, mem_guest, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA, SLOT_AREA, MEM_VCPUS, 0);
	for (int i = 0; i < MEM_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 1, i);
		run_until(vcpus[i], 0);
	}
	before = meminfo_kb("SUnreclaim:");
	for (int i = 0; i < MEM_VCPUS; i++)
		run_until(vcpus[i], 1);
	after = meminfo_kb("SUnreclaim:");
	kvm_vm_free(vm);
	return (after - before) * 1024 / MEM_VCPUS;
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	bool done = false;

	int nr_rows = NR_ROWS;

	if (argc > 1)
		iters = strtoul(argv[1], NULL, 0);
	/* An optional row name measures that row alone (for profiling). */
	if (argc > 2) {
		rows = 0;
		for (int i = 0; i < NR_ROWS; i++)
			if (!strcmp(argv[2], row_names[i]))
				rows = 1UL << i;
		TEST_ASSERT(rows, "unknown row %s", argv[2]);
		nr_rows = 1;
	}
	ksft_print_header();
	ksft_set_plan(nr_rows + (argc > 2 ? 0 : 1));
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA, SLOT_AREA, 1, 0);
	vcpu_args_set(vcpu, 2, iters, rows);
	while (!done) {
		vcpu_run(vcpu);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			printf("BENCH %s %.4f\n", row_names[uc.args[1]],
			       (double)uc.args[2] / uc.args[3]);
			ksft_test_result(uc.args[2] > 0, "%s measured\n", row_names[uc.args[1]]);
			break;
		case UCALL_DONE:
			done = true;
			break;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("unexpected exit");
		}
	}
	kvm_vm_free(vm);
	if (argc <= 2) {
		printf("BENCH_MEM %ld\n", snapshot_memory_per_vcpu());
		ksft_test_result_pass("snapshot memory per vCPU measured\n");
	}
	ksft_finished();
}
