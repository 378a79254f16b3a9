// SPDX-License-Identifier: GPL-2.0
/*
 * Demo of the SBI PMU snapshot: a guest registers a snapshot area, counts
 * cycles, instructions and its own SBI set_timer calls, stops the counters
 * with TAKE_SNAPSHOT and prints the values it reads from the area. Each
 * expectation on the values is one TAP line.
 */
#include <stdio.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "test_util.h"
#include "ucall_common.h"

#include "pmu_snapshot_util.h"

#define SBI_EXT_TIME		0x54494D45
#define FW_SET_TIMER_EVENT	((0xfUL << 16) | 5)
#define AREA			((unsigned long)SZ_1G)
#define SLOT_AREA		10
#define TIMER_CALLS		25

enum { CYCLES, INSTRUCTIONS, SET_TIMER, NR_EVENTS };

static const char * const event_names[NR_EVENTS] = {
	"cycles", "instructions", "SBI set_timer calls",
};

static void guest_code(void)
{
	static const unsigned long events[NR_EVENTS] = {
		SBI_PMU_HW_CPU_CYCLES, SBI_PMU_HW_INSTRUCTIONS, FW_SET_TIMER_EVENT,
	};
	struct riscv_pmu_snapshot_data *area = (void *)AREA;
	unsigned long num = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	unsigned long mask = ((1UL << num) - 1) & ~2UL;
	unsigned long idx[NR_EVENTS];
	struct sbiret r;
	int i;

	r = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA, 0, 0, 0);
	__GUEST_ASSERT(!r.error, "snapshot_set_shmem: %ld", r.error);
	GUEST_PRINTF("guest: snapshot area registered at 0x%lx\n", AREA);

	for (i = 0; i < NR_EVENTS; i++) {
		r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0, events[i]);
		__GUEST_ASSERT(!r.error, "cfg_match: %ld", r.error);
		idx[i] = r.value;
		r = pmu(SBI_EXT_PMU_COUNTER_START, idx[i], 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 0);
		__GUEST_ASSERT(!r.error, "start: %ld", r.error);
	}
	for (int n = 0; n < 100000; n++)
		barrier();
	for (i = 0; i < TIMER_CALLS; i++)
		sbi_ecall(SBI_EXT_TIME, 0, ~0UL, 0, 0, 0, 0, 0);

	for (i = 0; i < NR_EVENTS; i++) {
		/* Base = the counter itself, so its value lands in slot 0. */
		r = pmu(SBI_EXT_PMU_COUNTER_STOP, idx[i], 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
		__GUEST_ASSERT(!r.error, "stop: %ld", r.error);
		GUEST_SYNC_ARGS(i, idx[i], area->ctr_values[0], area->ctr_overflow_mask, 0);
	}
	GUEST_DONE();
}

int main(void)
{
	unsigned long values[NR_EVENTS] = {};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	bool done = false;

	ksft_print_header();
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	if (!__vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_PMU))
		ksft_exit_skip("SBI PMU not available\n");
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA, SLOT_AREA, 1, 0);
	virt_map(vm, AREA, AREA, 1);
	ksft_set_plan(NR_EVENTS);

	while (!done) {
		vcpu_run(vcpu);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_PRINTF:
			printf("%s", uc.buffer);
			break;
		case UCALL_SYNC:
			values[uc.args[1]] = uc.args[3];
			printf("guest: counter %2lu (%-19s) stopped with TAKE_SNAPSHOT, ",
			       uc.args[2], event_names[uc.args[1]]);
			printf("snapshot slot 0 = %lu, overflow bitmap = 0x%lx\n",
			       uc.args[3], uc.args[4]);
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

	ksft_test_result(values[CYCLES] > 0, "cycles counted in the snapshot\n");
	ksft_test_result(values[INSTRUCTIONS] > 100000,
			 "instructions counted in the snapshot (> loop length)\n");
	ksft_test_result(values[SET_TIMER] == TIMER_CALLS,
			 "exactly %d set_timer calls counted in the snapshot\n", TIMER_CALLS);
	ksft_finished();
}
