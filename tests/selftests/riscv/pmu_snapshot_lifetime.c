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
 * vCPU reset with hardware counters: vCPU 1 configures cycles and
 * instructions through config matching, starts them, registers an area and
 * stops itself with SBI HSM hart_stop; vCPU 0 starts it again with
 * hart_start, which resets it and so releases the counters' perf events.
 * The restarted vCPU reports to the host from the start address
 * (translation off); the host restores its translation, stack and trap
 * vector and lets it continue in C. The counters are gone (config matching
 * with SKIP_MATCH no longer finds them, a stop with TAKE_SNAPSHOT gives
 * NO_SHMEM), and they configure, start, count and stop again normally.
 *
 * Memslot deletion: the memslot under a registered area is deleted. Later
 * snapshot calls fail, and the deleted slot's memory, still visible to the
 * host through a second mapping of its memfd, is never written.
 *
 * Teardown: both VMs are freed with areas registered and counters running.
 * When kmemleak is available, an explicit scan must find nothing.
 */
#include <assert.h>
#include <pthread.h>
#include <semaphore.h>
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
#define SBI_HSM_HART_STOP		1
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
#define AREA_NEW	AREA_V0
#define SENTINEL_BYTE	0xa5
#define DELETED_BYTE	0x3c

/* First argument of a GUEST_SYNC_ARGS that reports a check. */
#define CHECK_MARK	0xc4ec

#define CHECK(id, ok, got, want) \
	GUEST_SYNC_ARGS(CHECK_MARK, id, !!(ok), (unsigned long)(got), (unsigned long)(want))

/* First argument of vCPU 1's GUEST_SYNC_ARGS before it stops itself. */
#define HW_READY_MARK	0x4877

/* Function ids of the reports the restarted vCPU makes with ecall. */
#define REPORT_AFTER_RESET	0x52
#define REPORT_REREGISTERED	0x53
#define REPORT_HW_RESTARTED	0x54

/* hart_start's opaque argument in the case with hardware counters. */
#define HW_OPAQUE	0x0dd5eed5UL

/* The numbers reset_entry's instructions use. */
static_assert(SBI_EXT_PMU == 0x504D55, "PMU extension id");
static_assert(SBI_EXT_PMU_COUNTER_START == 3, "PMU counter start");
static_assert(SBI_EXT_PMU_COUNTER_STOP == 4, "PMU counter stop");
static_assert(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM == 7, "PMU snapshot set_shmem");
static_assert(SBI_PMU_START_FLAG_INIT_SNAPSHOT == 2, "INIT_SNAPSHOT flag");
static_assert(SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT == 2, "TAKE_SNAPSHOT flag");
static_assert(KVM_RISCV_SELFTESTS_SBI_EXT == 0x08FFFFFF, "selftests extension id");
static_assert(AREA_V1 == 0x40001000, "area of vCPU 1");
static_assert(REPORT_HW_RESTARTED == 0x54, "hw_reset_entry's report");

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

/*
 * Where hart_start sends vCPU 1 in the case with hardware counters: one
 * report (a0 = hart id, a1 = opaque, as hart_start left them), after which
 * the host points the vCPU at hw_after_reset() with translation on.
 */
extern char hw_reset_entry[], hw_reset_ecall[];
asm(".pushsection .text\n"
	".balign 4\n"
	".global hw_reset_entry\n"
	".global hw_reset_ecall\n"
	"hw_reset_entry:\n"
	"	li	a7, 0x08FFFFFF\n"
	"	li	a6, 0x54\n"
	"hw_reset_ecall:\n"
	"	ecall\n"
	"1:	wfi\n"
	"	j	1b\n"
	".popsection\n");

enum {
	T_HART_START, T_RESET_STOP, T_RESET_START, T_RESET_UNTOUCHED, T_REREGISTER,
	T_HW_SKIP_BEFORE, T_HW_COUNT_BEFORE, T_HW_HART_START, T_HW_RESTARTED, T_HW_SKIP_AFTER,
	T_HW_NO_SHMEM, T_HW_RECONFIG, T_HW_RESTART, T_HW_RECOUNT, T_HW_UNTOUCHED,
	T_DELETE_STOP, T_DELETE_START, T_DELETE_SET_SHMEM, T_DELETE_UNTOUCHED,
	NR_CHECKS
};

static const char *const names[NR_CHECKS] = {
	[T_HART_START] = "HSM hart_start of the stopped vCPU -> SUCCESS",
	[T_RESET_STOP] = "after vCPU reset, stop TAKE_SNAPSHOT -> NO_SHMEM",
	[T_RESET_START] = "after vCPU reset, start INIT_SNAPSHOT -> NO_SHMEM",
	[T_RESET_UNTOUCHED] = "the area registered before the reset is not written",
	[T_REREGISTER] = "after vCPU reset, set_shmem registers a new area",
	[T_HW_SKIP_BEFORE] =
		"hardware counters configured: config_matching SKIP_MATCH on them -> SUCCESS",
	[T_HW_COUNT_BEFORE] = "hardware counters: cycles and instructions count before the reset",
	[T_HW_HART_START] = "HSM hart_start of the vCPU that ran hart_stop -> SUCCESS",
	[T_HW_RESTARTED] = "the restarted vCPU runs from the hart_start address, translation off",
	[T_HW_SKIP_AFTER] =
		"after vCPU reset, config_matching SKIP_MATCH on the old counters fails",
	[T_HW_NO_SHMEM] = "after vCPU reset, stop TAKE_SNAPSHOT of the old counters -> NO_SHMEM",
	[T_HW_RECONFIG] = "after vCPU reset, config_matching cycles and instructions -> SUCCESS",
	[T_HW_RESTART] = "after vCPU reset, start of the configured hardware counters -> SUCCESS",
	[T_HW_RECOUNT] = "after vCPU reset, the hardware counters count and stop normally",
	[T_HW_UNTOUCHED] = "hardware counters: the area registered before the reset is not written",
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

/* Configures a counter for hardware event @event; returns its index. */
static unsigned long config_hw(unsigned long event, long *err)
{
	unsigned long num = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	unsigned long mask = (num >= 64 ? ~0UL : (1UL << num) - 1) & ~2UL;
	struct sbiret r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0, event);

	*err = r.error;
	return r.value;
}

/* config_matching with SKIP_MATCH: counter @ctr, which should hold @event. */
static long skip_match(unsigned long ctr, unsigned long event)
{
	return pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, ctr, 1, SBI_PMU_CFG_FLAG_SKIP_MATCH,
		   event).error;
}

/* Guest work for the counters to count. */
static void spin(void)
{
	for (int i = 0; i < 100000; i++)
		asm volatile("" ::: "memory");
}

/* The smallest counter set that holds counters @a and @b: its base and mask. */
static unsigned long pair_base(unsigned long a, unsigned long b)
{
	return a < b ? a : b;
}

static unsigned long pair_mask(unsigned long a, unsigned long b)
{
	return BIT(a - pair_base(a, b)) | BIT(b - pair_base(a, b));
}

/* Counter @c's slot in the area at @area after a stop of the pair @a, @b. */
static u64 pair_slot(unsigned long area, unsigned long a, unsigned long b, unsigned long c)
{
	return READ_ONCE(((u64 *)area)[1 + c - pair_base(a, b)]);
}

/*
 * vCPU 1 before its reset: cycles and instructions configured and running,
 * an area registered; then it stops itself.
 */
static void hw_victim_code(void)
{
	unsigned long cy, in, base, mask;
	long err, err2;
	u64 vcy, vin;

	cy = config_hw(SBI_PMU_HW_CPU_CYCLES, &err);
	in = config_hw(SBI_PMU_HW_INSTRUCTIONS, &err2);
	__GUEST_ASSERT(!err && !err2 && cy != in, "cfg_match: %ld %ld", err, err2);
	base = pair_base(cy, in);
	mask = pair_mask(cy, in);

	/* In use: SKIP_MATCH finds them (and reconfigures them, still stopped). */
	err = skip_match(cy, SBI_PMU_HW_CPU_CYCLES);
	err2 = skip_match(in, SBI_PMU_HW_INSTRUCTIONS);
	CHECK(T_HW_SKIP_BEFORE, !err && !err2, err ?: err2, 0);

	err = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA_V1, 0, 0, 0).error;
	__GUEST_ASSERT(!err, "set_shmem = %ld", err);
	err = pmu(SBI_EXT_PMU_COUNTER_START, base, mask, SBI_PMU_START_FLAG_SET_INIT_VALUE,
		  0).error;
	spin();
	err2 = pmu(SBI_EXT_PMU_COUNTER_STOP, base, mask, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0).error;
	vcy = pair_slot(AREA_V1, cy, in, cy);
	vin = pair_slot(AREA_V1, cy, in, in);
	CHECK(T_HW_COUNT_BEFORE, !err && !err2 && vcy && vin,
	      err ?: err2 ?: (vcy < vin ? vcy : vin), 1);

	/* Running into the reset. */
	err = pmu(SBI_EXT_PMU_COUNTER_START, base, mask, 0, 0).error;
	__GUEST_ASSERT(!err, "start before the reset = %ld", err);
	GUEST_SYNC_ARGS(HW_READY_MARK, cy, in, 0, 0);
	err = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_STOP, 0, 0, 0, 0, 0, 0).error;
	GUEST_FAIL("hart_stop returned %ld", err);
}

/*
 * vCPU 1 after its reset, with translation, stack and trap vector restored
 * by the host: @cy and @in are the counters it had configured.
 */
static void hw_after_reset(unsigned long cy, unsigned long in)
{
	unsigned long base = pair_base(cy, in), mask = pair_mask(cy, in);
	unsigned long cy2, in2;
	long err, err2;
	u64 vcy, vin;

	/* Released: SKIP_MATCH no longer finds them. */
	err = skip_match(cy, SBI_PMU_HW_CPU_CYCLES);
	err2 = skip_match(in, SBI_PMU_HW_INSTRUCTIONS);
	CHECK(T_HW_SKIP_AFTER, err && err2, err ? err2 : err, SBI_ERR_FAILURE);
	err = pmu(SBI_EXT_PMU_COUNTER_STOP, base, mask, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0).error;
	CHECK(T_HW_NO_SHMEM, err == SBI_ERR_NO_SHMEM, err, SBI_ERR_NO_SHMEM);

	/* A fresh start: configure, start, count, stop. */
	err = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA_NEW, 0, 0, 0).error;
	__GUEST_ASSERT(!err, "set_shmem after the reset = %ld", err);
	cy2 = config_hw(SBI_PMU_HW_CPU_CYCLES, &err);
	in2 = config_hw(SBI_PMU_HW_INSTRUCTIONS, &err2);
	CHECK(T_HW_RECONFIG, !err && !err2 && cy2 != in2, err ?: err2, 0);
	if (err || err2 || cy2 == in2)
		GUEST_DONE();
	base = pair_base(cy2, in2);
	mask = pair_mask(cy2, in2);
	err = pmu(SBI_EXT_PMU_COUNTER_START, base, mask, SBI_PMU_START_FLAG_SET_INIT_VALUE,
		  0).error;
	CHECK(T_HW_RESTART, !err, err, 0);
	spin();
	err = pmu(SBI_EXT_PMU_COUNTER_STOP, base, mask, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0).error;
	/* got: the error, else the smaller of the two values (want it non-zero). */
	vcy = pair_slot(AREA_NEW, cy2, in2, cy2);
	vin = pair_slot(AREA_NEW, cy2, in2, in2);
	CHECK(T_HW_RECOUNT, !err && vcy && vin, err ?: (vcy < vin ? vcy : vin), 1);
	pmu(SBI_EXT_PMU_COUNTER_STOP, base, mask, SBI_PMU_STOP_FLAG_RESET, 0);
	GUEST_DONE();
}

/* vCPU 0: waits (at most 20 s) for vCPU 1 to stop itself, then starts it. */
static void hw_starter_code(unsigned long entry, unsigned long opaque)
{
	unsigned long t0 = csr_read(CSR_TIME);
	long err = SBI_ERR_FAILURE;

	while (csr_read(CSR_TIME) - t0 < 200000000UL) {
		if (sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_STATUS, 1, 0, 0, 0, 0, 0).value ==
		    SBI_HSM_STATE_STOPPED) {
			err = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_START, 1, entry, opaque,
					0, 0, 0).error;
			break;
		}
	}
	CHECK(T_HW_HART_START, err == 0, err, 0);
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
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
/* Whether vCPU 0 started vCPU 1 again; else vCPU 1's thread waits for ever. */
static bool hw_hart_started;

/* One TAP line; two vCPU threads report at once in the hardware-counter case. */
static void check(int id, bool ok, long got, long want)
{
	pthread_mutex_lock(&check_lock);
	if (!ok)
		ksft_print_msg("%s: got %ld, want %ld\n", names[id], got, want);
	ksft_test_result(ok, "%s\n", names[id]);
	ok ? passed++ : failed++;
	if (id == T_HW_HART_START)
		hw_hart_started = ok;
	pthread_mutex_unlock(&check_lock);
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

/* The registers the selftest library gave vCPU 1 at creation. */
struct boot_regs {
	u64 sp, gp, satp, stvec, sscratch;
};

static void save_boot_regs(struct kvm_vcpu *vcpu, struct boot_regs *r)
{
	vcpu_get_reg(vcpu, RISCV_CORE_REG(regs.sp), &r->sp);
	vcpu_get_reg(vcpu, RISCV_CORE_REG(regs.gp), &r->gp);
	vcpu_get_reg(vcpu, RISCV_GENERAL_CSR_REG(satp), &r->satp);
	vcpu_get_reg(vcpu, RISCV_GENERAL_CSR_REG(stvec), &r->stvec);
	vcpu_get_reg(vcpu, RISCV_GENERAL_CSR_REG(sscratch), &r->sscratch);
}

struct hw_victim {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct boot_regs regs;
	vm_paddr_t ecall_gpa;
	sem_t ready;
};

/*
 * vCPU 1 of the hardware-counter case, in a thread of its own (its perf
 * events count for this thread): up to its hart_stop, then, once vCPU 0 has
 * started it again, from the start address to the end.
 */
static void *hw_victim_thread(void *arg)
{
	struct hw_victim *v = arg;
	struct kvm_vcpu *vcpu = v->vcpu;
	struct kvm_run *run = vcpu->run;
	u64 cy, in, pc, satp;
	struct ucall uc;
	bool ok;
	u8 *old;

	TEST_ASSERT(run_to_ucall(vcpu, &uc) == UCALL_SYNC && uc.args[1] == HW_READY_MARK,
		    "vCPU 1 did not get ready to stop");
	cy = uc.args[2];
	in = uc.args[3];
	old = addr_gpa2hva(v->vm, AREA_V1);
	memset(old, SENTINEL_BYTE, PAGE);
	sem_post(&v->ready);

	/* hart_stop: this KVM_RUN waits until vCPU 0 starts the vCPU again. */
	vcpu_run(vcpu);
	TEST_ASSERT(run->exit_reason == KVM_EXIT_RISCV_SBI &&
		    run->riscv_sbi.extension_id == KVM_RISCV_SELFTESTS_SBI_EXT &&
		    run->riscv_sbi.function_id == REPORT_HW_RESTARTED,
		    "restarted vCPU: exit %s, want its report",
		    exit_reason_str(run->exit_reason));
	vcpu_get_reg(vcpu, RISCV_CORE_REG(regs.pc), &pc);
	vcpu_get_reg(vcpu, RISCV_GENERAL_CSR_REG(satp), &satp);
	ok = pc == v->ecall_gpa && satp == 0 && run->riscv_sbi.args[0] == 1 &&
	     run->riscv_sbi.args[1] == HW_OPAQUE;
	if (!ok)
		ksft_print_msg("restarted at pc 0x%lx (want 0x%lx), satp 0x%lx, a0 %lu, a1 0x%lx\n",
			       (unsigned long)pc, (unsigned long)v->ecall_gpa, (unsigned long)satp,
			       (unsigned long)run->riscv_sbi.args[0],
			       (unsigned long)run->riscv_sbi.args[1]);
	check(T_HW_RESTARTED, ok, pc, v->ecall_gpa);

	/*
	 * What a boot loader would do: translation, global pointer, stack and
	 * trap vector as at creation, then C. KVM steps over the reporting ecall
	 * (sepc += 4) when the vCPU runs again, and passes ret[0], ret[1] as
	 * a0, a1.
	 */
	vcpu_set_reg(vcpu, RISCV_GENERAL_CSR_REG(satp), v->regs.satp);
	vcpu_set_reg(vcpu, RISCV_GENERAL_CSR_REG(stvec), v->regs.stvec);
	vcpu_set_reg(vcpu, RISCV_GENERAL_CSR_REG(sscratch), v->regs.sscratch);
	vcpu_set_reg(vcpu, RISCV_CORE_REG(regs.sp), v->regs.sp);
	vcpu_set_reg(vcpu, RISCV_CORE_REG(regs.gp), v->regs.gp);
	vcpu_set_reg(vcpu, RISCV_CORE_REG(regs.pc), (unsigned long)hw_after_reset - 4);
	run->riscv_sbi.ret[0] = cy;
	run->riscv_sbi.ret[1] = in;
	TEST_ASSERT(run_to_ucall(vcpu, &uc) == UCALL_DONE, "restarted vCPU did not finish");
	check(T_HW_UNTOUCHED, all_bytes(old, PAGE, SENTINEL_BYTE), old[8], SENTINEL_BYTE);
	return NULL;
}

static void hw_reset_lifetime(void)
{
	struct kvm_vcpu *vcpus[2];
	struct hw_victim victim;
	pthread_t thread;
	struct ucall uc;
	struct kvm_vm *vm;

	vm = vm_create_with_vcpus(2, NULL, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA_BASE, SLOT_AREAS,
				    AREA_PAGES, 0);
	virt_map(vm, AREA_BASE, AREA_BASE, AREA_PAGES);
	vcpu_arch_set_entry_point(vcpus[0], hw_starter_code);
	vcpu_args_set(vcpus[0], 2, addr_gva2gpa(vm, (vm_vaddr_t)hw_reset_entry), HW_OPAQUE);
	vcpu_arch_set_entry_point(vcpus[1], hw_victim_code);

	victim.vm = vm;
	victim.vcpu = vcpus[1];
	victim.ecall_gpa = addr_gva2gpa(vm, (vm_vaddr_t)hw_reset_ecall);
	save_boot_regs(vcpus[1], &victim.regs);
	sem_init(&victim.ready, 0, 0);
	pthread_create(&thread, NULL, hw_victim_thread, &victim);
	sem_wait(&victim.ready);

	/* vCPU 1 stops itself; vCPU 0 starts it again, which resets it. */
	TEST_ASSERT(run_to_ucall(vcpus[0], &uc) == UCALL_DONE, "vCPU 0 did not finish");
	if (!hw_hart_started)
		ksft_exit_fail_msg("vCPU 1 was not started again: it waits for ever\n");
	pthread_join(thread, NULL);
	sem_destroy(&victim.ready);
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
	hw_reset_lifetime();
	delete_lifetime();
	if (kmemleak)
		kmemleak_scan();
	if (passed + failed != NR_CHECKS)
		ksft_exit_fail_msg("ran %d of %d checks\n", passed + failed, NR_CHECKS);
	ksft_finished();
}
