// SPDX-License-Identifier: GPL-2.0
/*
 * The SBI PMU snapshot area and dirty logging: with KVM_MEM_LOG_DIRTY_PAGES
 * on the memslot that holds the area, every write KVM makes to the area
 * (snapshot_set_shmem zeroing it, a stop with TAKE_SNAPSHOT) must show in
 * KVM_GET_DIRTY_LOG, so that a pre-copy migration sends the page again;
 * calls that only read it (a start with INIT_SNAPSHOT) or do not touch it
 * (a plain stop) leave it clean.
 *
 * The guest makes one step per GUEST_SYNC; after each step the host reads
 * (and so clears) the slot's dirty bitmap. Each expectation is one TAP line.
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

#define SBI_PMU_EVENT_TYPE_FW	0xf
#define SBI_PMU_FW_SET_TIMER	5
#define PAGE		4096UL
#define AREA_BASE	((unsigned long)SZ_1G)
/* Two pages in the slot: the area, and a neighbour that must stay clean. */
#define SLOT_PAGES	2
#define SLOT_AREA	10

enum step {
	S_REGISTER,		/* snapshot_set_shmem zeroes the area */
	S_CONFIG_START,		/* cfg_match + start of a firmware counter, no snapshot */
	S_TAKE_SNAPSHOT,	/* stop with TAKE_SNAPSHOT writes its slot */
	S_INIT_SNAPSHOT,	/* start with INIT_SNAPSHOT only reads the area */
	S_PLAIN_STOP,		/* stop without TAKE_SNAPSHOT does not touch it */
	S_SNAPSHOT_AGAIN,	/* a second TAKE_SNAPSHOT after the log was read */
	NR_STEPS,
};

static const struct {
	const char *name;
	bool dirty;
} steps[NR_STEPS] = {
	[S_REGISTER] = { "snapshot_set_shmem: the area's page is in the dirty log", true },
	[S_CONFIG_START] = { "cfg_match and a plain start: the page stays clean", false },
	[S_TAKE_SNAPSHOT] = { "stop with TAKE_SNAPSHOT: the page is in the dirty log", true },
	[S_INIT_SNAPSHOT] = { "start with INIT_SNAPSHOT (reads the area): the page stays clean",
			      false },
	[S_PLAIN_STOP] = { "stop without TAKE_SNAPSHOT: the page stays clean", false },
	[S_SNAPSHOT_AGAIN] = { "TAKE_SNAPSHOT after the log was read: dirty again", true },
};

static void guest_code(void)
{
	unsigned long ctr;
	struct sbiret r;

	r = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA_BASE, 0, 0, 0);
	__GUEST_ASSERT(!r.error, "set_shmem: %ld", r.error);
	GUEST_SYNC(S_REGISTER);

	ctr = config((SBI_PMU_EVENT_TYPE_FW << 16) | SBI_PMU_FW_SET_TIMER);
	r = pmu(SBI_EXT_PMU_COUNTER_START, ctr, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 7);
	__GUEST_ASSERT(!r.error, "start: %ld", r.error);
	GUEST_SYNC(S_CONFIG_START);

	r = pmu(SBI_EXT_PMU_COUNTER_STOP, ctr, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
	__GUEST_ASSERT(!r.error, "stop TAKE_SNAPSHOT: %ld", r.error);
	GUEST_SYNC(S_TAKE_SNAPSHOT);

	r = pmu(SBI_EXT_PMU_COUNTER_START, ctr, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	__GUEST_ASSERT(!r.error, "start INIT_SNAPSHOT: %ld", r.error);
	GUEST_SYNC(S_INIT_SNAPSHOT);

	r = pmu(SBI_EXT_PMU_COUNTER_STOP, ctr, 1, 0, 0);
	__GUEST_ASSERT(!r.error, "plain stop: %ld", r.error);
	GUEST_SYNC(S_PLAIN_STOP);

	r = pmu(SBI_EXT_PMU_COUNTER_START, ctr, 1, 0, 0);
	__GUEST_ASSERT(!r.error, "start: %ld", r.error);
	r = pmu(SBI_EXT_PMU_COUNTER_STOP, ctr, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
	__GUEST_ASSERT(!r.error, "stop TAKE_SNAPSHOT: %ld", r.error);
	GUEST_SYNC(S_SNAPSHOT_AGAIN);
	GUEST_DONE();
}

int main(void)
{
	unsigned long bitmap[1];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int step = 0;

	ksft_print_header();
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	if (!__vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_PMU))
		ksft_exit_skip("SBI PMU not available\n");
	ksft_set_plan(NR_STEPS + 1);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA_BASE, SLOT_AREA, SLOT_PAGES,
				    KVM_MEM_LOG_DIRTY_PAGES);
	virt_map(vm, AREA_BASE, AREA_BASE, SLOT_PAGES);
	/* Start from a clean log: nothing was written to the slot yet. */
	kvm_vm_get_dirty_log(vm, SLOT_AREA, bitmap);

	for (;;) {
		vcpu_run(vcpu);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			TEST_ASSERT(uc.args[1] == step, "guest at step %lu, want %d",
				    uc.args[1], step);
			memset(bitmap, 0, sizeof(bitmap));
			kvm_vm_get_dirty_log(vm, SLOT_AREA, bitmap);
			ksft_test_result(!!(bitmap[0] & 1) == steps[step].dirty && !(bitmap[0] & 2),
					 "%s (bitmap 0x%lx)\n", steps[step].name, bitmap[0]);
			step++;
			continue;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		case UCALL_DONE:
			break;
		default:
			TEST_FAIL("unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
		}
		break;
	}
	ksft_test_result(step == NR_STEPS, "the guest made all %d steps (%d)\n", NR_STEPS, step);
	kvm_vm_free(vm);
	ksft_finished();
}
