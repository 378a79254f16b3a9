// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes of an SBI PMU snapshot area.
 *
 * vCPU reset: a vCPU with an area registered and a counter running is
 * stopped by the host and started again by the other vCPU through SBI HSM
 * hart_start, which makes KVM reset it. The restarted vCPU runs a few
 * instructions with translation off: after the reset it has no area
 * (stop with TAKE_SNAPSHOT and start with INIT_SNAPSHOT give NO_SHMEM), the
 * old area is never written, and it can register a new one.
 *
 * Memslot deletion: the memslot under a registered area is deleted. Later
 * snapshot calls fail, and the deleted slot's memory, still visible to the
 * host through a second mapping of its memfd, is never written.
 *
 * Teardown: both VMs are freed with areas registered and counters running.
 * When kmemleak is available, an explicit scan must find nothing.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "test_util.h"
#include "ucall_common.h"

#include "pmu_snapshot_util.h"

#define SBI_EXT_HSM			0x48534D
#define SBI_HSM_HART_START		0
#define SBI_HSM_HART_STATUS		2
#define SBI_HSM_STATE_STOPPED		1
#define SBI_PMU_EVENT_TYPE_FW		0xf
#define SBI_PMU_FW_SET_TIMER		5
#define SBI_ERR_NO_SHMEM		-9
#define FW_SET_TIMER			((SBI_PMU_EVENT_TYPE_FW << 16) | SBI_PMU_FW_SET_TIMER)
#define SBI_EXT_TIME			0x54494D45

#define AREA_BASE	((unsigned long)SZ_1G)
#define AREA_V0		(AREA_BASE + 0x0000)
#define AREA_V1		(AREA_BASE + 0x1000)
#define SLOT_AREAS	10
#define AREA_PAGES	2
#define DELETABLE	(AREA_BASE + 0x100000)
#define SLOT_DELETABLE	11
#define PAGE		4096
#define SENTINEL_BYTE	0xa5
#define DELETED_BYTE	0x3c

/* First argument of a GUEST_SYNC_ARGS that reports a check. */
#define CHECK_MARK	0xc4ec

#define CHECK(id, ok, got, want) \
	GUEST_SYNC_ARGS(CHECK_MARK, id, !!(ok), (unsigned long)(got), (unsigned long)(want))

/* Function ids of the reports the restarted vCPU makes with ecall. */
#define REPORT_AFTER_RESET	0x52
#define REPORT_REREGISTERED	0x53

/* The numbers reset_entry's instructions use. */
static_assert(SBI_EXT_PMU == 0x504D55, "PMU extension id");
static_assert(SBI_EXT_PMU_COUNTER_START == 3, "PMU counter start");
static_assert(SBI_EXT_PMU_COUNTER_STOP == 4, "PMU counter stop");
static_assert(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM == 7, "PMU snapshot set_shmem");
static_assert(SBI_PMU_START_FLAG_INIT_SNAPSHOT == 2, "INIT_SNAPSHOT flag");
static_assert(SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT == 2, "TAKE_SNAPSHOT flag");
static_assert(KVM_RISCV_SELFTESTS_SBI_EXT == 0x08FFFFFF, "selftests extension id");
static_assert(AREA_V1 == 0x40001000, "area of vCPU 1");

/*
 * Where hart_start sends the reset vCPU: a0 = hart id, a1 = the counter it
 * ran before the reset. Translation is off, so only position-independent
 * code and guest physical addresses. Reports with two ecalls to the
 * selftests extension that the host reads from kvm_run.
 */
extern char reset_entry[];
asm(".pushsection .text\n"
	".balign 4\n"
	".global reset_entry\n"
	"reset_entry:\n"
	"	mv	s1, a1\n"
	"	li	a7, 0x504D55\n"
	/* stop(counter, 1, TAKE_SNAPSHOT) */
	"	li	a6, 4\n"
	"	mv	a0, s1\n"
	"	li	a1, 1\n"
	"	li	a2, 2\n"
	"	ecall\n"
	"	mv	s2, a0\n"
	/* start(counter, 1, INIT_SNAPSHOT, 0) */
	"	li	a6, 3\n"
	"	mv	a0, s1\n"
	"	li	a1, 1\n"
	"	li	a2, 2\n"
	"	li	a3, 0\n"
	"	ecall\n"
	"	mv	a1, a0\n"
	"	mv	a0, s2\n"
	"	li	a7, 0x08FFFFFF\n"
	"	li	a6, 0x52\n"
	"	ecall\n"
	/* set_shmem(AREA_V1, 0, 0) */
	"	li	a7, 0x504D55\n"
	"	li	a6, 7\n"
	"	li	a0, 0x40001000\n"
	"	li	a1, 0\n"
	"	li	a2, 0\n"
	"	ecall\n"
	"	li	a7, 0x08FFFFFF\n"
	"	li	a6, 0x53\n"
	"	ecall\n"
	"1:	wfi\n"
	"	j	1b\n"
	".popsection\n");

enum {
	T_HART_START, T_RESET_STOP, T_RESET_START, T_RESET_UNTOUCHED, T_REREGISTER,
	T_DELETE_STOP, T_DELETE_START, T_DELETE_SET_SHMEM, T_DELETE_UNTOUCHED,
	NR_CHECKS
};

static const char *const names[NR_CHECKS] = {
	[T_HART_START] = "HSM hart_start of the stopped vCPU -> SUCCESS",
	[T_RESET_STOP] = "after vCPU reset, stop TAKE_SNAPSHOT -> NO_SHMEM",
	[T_RESET_START] = "after vCPU reset, start INIT_SNAPSHOT -> NO_SHMEM",
	[T_RESET_UNTOUCHED] = "the area registered before the reset is not written",
	[T_REREGISTER] = "after vCPU reset, set_shmem registers a new area",
	[T_DELETE_STOP] = "memslot deleted: stop TAKE_SNAPSHOT -> FAILED",
	[T_DELETE_START] = "memslot deleted: start INIT_SNAPSHOT -> FAILED",
	[T_DELETE_SET_SHMEM] = "memslot deleted: set_shmem there -> INVALID_ADDRESS",
	[T_DELETE_UNTOUCHED] = "the deleted memslot's memory is not written",
};

static vm_paddr_t reset_entry_gpa;

static unsigned long config_set_timer(void)
{
	unsigned long num = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	unsigned long mask = (num >= 64 ? ~0UL : (1UL << num) - 1) & ~2UL;
	struct sbiret r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0, FW_SET_TIMER);

	__GUEST_ASSERT(!r.error, "cfg_match failed: %ld", r.error);
	return r.value;
}

/* Registers @area and leaves a firmware counter running; returns it. */
static unsigned long register_and_count(unsigned long area)
{
	unsigned long f;
	long err;

	err = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, area, 0, 0, 0).error;
	__GUEST_ASSERT(!err, "set_shmem(%lx) = %ld", area, err);
	f = config_set_timer();
	err = pmu(SBI_EXT_PMU_COUNTER_START, f, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 100).error;
	__GUEST_ASSERT(!err, "start = %ld", err);
	sbi_ecall(SBI_EXT_TIME, 0, ~0UL, 0, 0, 0, 0, 0);
	err = pmu(SBI_EXT_PMU_COUNTER_STOP, f, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0).error;
	__GUEST_ASSERT(!err && READ_ONCE(((u64 *)area)[1]) == 101,
		       "snapshot before the reset: err %ld, slot %lu", err,
		       READ_ONCE(((u64 *)area)[1]));
	pmu(SBI_EXT_PMU_COUNTER_START, f, 1, 0, 0);
	return f;
}

/* vCPU 1 before its reset: an area, a running counter, then wait. */
static void victim_code(void)
{
	GUEST_SYNC(register_and_count(AREA_V1));
	for (;;)
		asm volatile("wfi");
}

/* vCPU 0: its own area and counter, then start the stopped vCPU 1. */
static void starter_code(unsigned long counter)
{
	long err;

	register_and_count(AREA_V0);
	while (sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_STATUS, 1, 0, 0, 0, 0, 0).value !=
	       SBI_HSM_STATE_STOPPED)
		;
	err = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_START, 1, reset_entry_gpa, counter,
			0, 0, 0).error;
	CHECK(T_HART_START, err == 0, err, 0);
	GUEST_DONE();
}

/* A single vCPU whose area's memslot the host deletes. */
static void delete_code(void)
{
	unsigned long f = register_and_count(DELETABLE);
	long err;

	GUEST_SYNC(0);
	err = pmu(SBI_EXT_PMU_COUNTER_STOP, f, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0).error;
	CHECK(T_DELETE_STOP, err == SBI_ERR_FAILURE, err, SBI_ERR_FAILURE);
	err = pmu(SBI_EXT_PMU_COUNTER_START, f, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0).error;
	CHECK(T_DELETE_START, err == SBI_ERR_FAILURE, err, SBI_ERR_FAILURE);
	err = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, DELETABLE, 0, 0, 0).error;
	CHECK(T_DELETE_SET_SHMEM, err == SBI_ERR_INVALID_ADDRESS, err, SBI_ERR_INVALID_ADDRESS);
	/* Running counter, area gone: the VM is torn down like this. */
	pmu(SBI_EXT_PMU_COUNTER_START, f, 1, 0, 0);
	GUEST_DONE();
}

static int passed, failed;

static void check(int id, bool ok, long got, long want)
{
	if (!ok)
		ksft_print_msg("%s: got %ld, want %ld\n", names[id], got, want);
	ksft_test_result(ok, "%s\n", names[id]);
	ok ? passed++ : failed++;
}

/* Runs @vcpu to its next ucall other than a check, reporting the checks. */
static uint64_t run_to_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	for (;;) {
		vcpu_run(vcpu);
		switch (get_ucall(vcpu, uc)) {
		case UCALL_SYNC:
			if (uc->args[1] == CHECK_MARK) {
				check(uc->args[2], uc->args[3], uc->args[4], uc->args[5]);
				continue;
			}
			return UCALL_SYNC;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(*uc);
			return UCALL_ABORT;
		case UCALL_DONE:
			return UCALL_DONE;
		default:
			TEST_FAIL("unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
		}
	}
}

/* Runs the restarted vCPU to its next report; returns the report's args. */
static void run_to_report(struct kvm_vcpu *vcpu, unsigned long fid, u64 *a0, u64 *a1)
{
	struct kvm_run *run = vcpu->run;

	vcpu_run(vcpu);
	TEST_ASSERT(run->exit_reason == KVM_EXIT_RISCV_SBI &&
		    run->riscv_sbi.extension_id == KVM_RISCV_SELFTESTS_SBI_EXT &&
		    run->riscv_sbi.function_id == fid,
		    "restarted vCPU: exit %s, want report 0x%lx",
		    exit_reason_str(run->exit_reason), fid);
	*a0 = run->riscv_sbi.args[0];
	*a1 = run->riscv_sbi.args[1];
	run->riscv_sbi.ret[0] = 0;
}

static void reset_lifetime(void)
{
	struct kvm_mp_state stopped = { .mp_state = KVM_MP_STATE_STOPPED };
	struct kvm_vcpu *vcpus[2];
	struct ucall uc;
	struct kvm_vm *vm;
	u64 err, err2;
	u8 *area;

	vm = vm_create_with_vcpus(2, NULL, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA_BASE, SLOT_AREAS,
				    AREA_PAGES, 0);
	virt_map(vm, AREA_BASE, AREA_BASE, AREA_PAGES);
	reset_entry_gpa = addr_gva2gpa(vm, (vm_vaddr_t)reset_entry);
	sync_global_to_guest(vm, reset_entry_gpa);
	vcpu_arch_set_entry_point(vcpus[0], starter_code);
	vcpu_arch_set_entry_point(vcpus[1], victim_code);

	/* vCPU 1 registers its area and leaves a counter running. */
	TEST_ASSERT(run_to_ucall(vcpus[1], &uc) == UCALL_SYNC, "vCPU 1 did not sync");
	vcpu_args_set(vcpus[0], 1, uc.args[1]);
	area = addr_gpa2hva(vm, AREA_V1);
	memset(area, SENTINEL_BYTE, PAGE);

	/* The host stops vCPU 1; vCPU 0 starts it again, which resets it. */
	vcpu_mp_state_set(vcpus[1], &stopped);
	TEST_ASSERT(run_to_ucall(vcpus[0], &uc) == UCALL_DONE, "vCPU 0 did not finish");

	run_to_report(vcpus[1], REPORT_AFTER_RESET, &err, &err2);
	check(T_RESET_STOP, (long)err == SBI_ERR_NO_SHMEM, err, SBI_ERR_NO_SHMEM);
	check(T_RESET_START, (long)err2 == SBI_ERR_NO_SHMEM, err2, SBI_ERR_NO_SHMEM);
	check(T_RESET_UNTOUCHED, all_bytes(area, PAGE, SENTINEL_BYTE), area[8], SENTINEL_BYTE);
	run_to_report(vcpus[1], REPORT_REREGISTERED, &err, &err2);
	check(T_REREGISTER, err == 0, err, 0);

	/* Both vCPUs have areas; vCPU 0's counter still runs. */
	kvm_vm_free(vm);
}

static void delete_lifetime(void)
{
	struct userspace_mem_region *region;
	struct kvm_vcpu *vcpu;
	struct ucall uc;
	struct kvm_vm *vm;
	u8 *view;

	vm = vm_create_with_one_vcpu(&vcpu, delete_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA_BASE, SLOT_AREAS,
				    AREA_PAGES, 0);
	virt_map(vm, AREA_BASE, AREA_BASE, AREA_PAGES);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_SHMEM, DELETABLE, SLOT_DELETABLE, 1, 0);
	virt_map(vm, DELETABLE, DELETABLE, 1);

	TEST_ASSERT(run_to_ucall(vcpu, &uc) == UCALL_SYNC, "no sync before the deletion");
	/* A second view of the memfd outlives the memslot's own mapping. */
	region = memslot2region(vm, SLOT_DELETABLE);
	view = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, region->fd, 0);
	TEST_ASSERT(view != MAP_FAILED, "mmap of the memslot's memfd");
	memset(view, DELETED_BYTE, PAGE);
	vm_mem_region_delete(vm, SLOT_DELETABLE);

	TEST_ASSERT(run_to_ucall(vcpu, &uc) == UCALL_DONE, "vCPU did not finish");
	check(T_DELETE_UNTOUCHED, all_bytes(view, PAGE, DELETED_BYTE), view[8], DELETED_BYTE);
	munmap(view, PAGE);
	kvm_vm_free(vm);
}

int main(void)
{
	bool kmemleak = !access("/sys/kernel/debug/kmemleak", R_OK);
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	bool snapshot;

	ksft_print_header();
	vm = vm_create_with_one_vcpu(&vcpu, NULL);
	snapshot = __vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_PMU) &&
		   __vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_HSM);
	kvm_vm_free(vm);
	if (!snapshot)
		ksft_exit_skip("SBI PMU and HSM not available\n");

	ksft_set_plan(NR_CHECKS + kmemleak);
	reset_lifetime();
	delete_lifetime();
	if (kmemleak)
		kmemleak_scan();
	if (passed + failed != NR_CHECKS)
		ksft_exit_fail_msg("ran %d of %d checks\n", passed + failed, NR_CHECKS);
	ksft_finished();
}
