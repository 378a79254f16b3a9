// SPDX-License-Identifier: GPL-2.0
/*
 * Conformance of the SBI PMU snapshot (snapshot_set_shmem, INIT_SNAPSHOT,
 * TAKE_SNAPSHOT) with the SBI specification, checked from inside a guest.
 *
 * Each check is one TAP line. The guest makes the SBI calls and reports
 * each check with GUEST_SYNC_ARGS(id, ok, got, want); checks that need the
 * host (memory outside the registered area, memslot changes) are done by
 * the host at the guest's request. A second VM with two vCPUs checks that
 * every vCPU's area holds its own values only.
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

#define SBI_EXT_TIME			0x54494D45
#define SBI_PMU_EVENT_TYPE_FW		0xf
#define SBI_PMU_FW_SET_TIMER		5
#define SBI_PMU_FW_IPI_SENT		6
#define SBI_ERR_NO_SHMEM		-9
#define FW_EVENT(code)			((SBI_PMU_EVENT_TYPE_FW << 16) | (code))
#define HW_EVENT(code)			(code)

/* Guest physical layout, identity mapped where the guest touches it. */
#define AREA_BASE	((unsigned long)SZ_1G)
#define AREA_A		(AREA_BASE + 0x0000)
#define AREA_B		(AREA_BASE + 0x1000)
#define CANARY		(AREA_BASE + 0x2000)
#define AREA_V1		(AREA_BASE + 0x3000)
#define RO_PAGE		(AREA_BASE + 0x10000)
#define HOLE		(AREA_BASE + 0x20000)
#define MOVABLE		(AREA_BASE + 0x30000)
#define MOVED		(AREA_BASE + 0x40000)
#define SLOT_AREAS	10
#define SLOT_RO		11
#define SLOT_MOVABLE	12
#define AREA_PAGES	4
#define WORDS		512
#define SENTINEL	0x5e471e155e471e15UL
/* An initial value no counter reaches in a test run. */
#define HUGE_VALUE	BIT(62)
#define SMALL_VALUE	1000UL

struct check {
	const char *name;
	bool host;
};

enum {
	C_FLAGS, C_MISALIGNED, C_HIGH_HALF, C_HOLE, C_READ_ONLY, C_DISABLE,
	C_NO_SHMEM_STOP, C_NO_SHMEM_START, C_REGISTER, C_ZEROED, C_STOP_VALUE,
	C_OTHER_SLOTS, C_RESERVED, C_BITMAP_CLEAR, C_INIT_SNAPSHOT, C_RELATIVE,
	C_START_RESERVED_FLAG, C_STOP_RESERVED_FLAG, C_EXCLUSIVE_FLAGS,
	C_ALREADY_STOPPED, C_OVERFLOW_BIT, C_RESET_CLEARS_BIT, C_REPLACE,
	C_OLD_AREA_UNTOUCHED, C_CTR_INFO_BOUND, C_WRAPPING_BASE, C_FW_READ,
	C_FW_READ_HW, C_HW_STARTED_SET_INIT, C_HW_STARTED_INIT_SNAPSHOT,
	C_DISABLED_STOP, H_OUTSIDE_UNTOUCHED, H_MOVE, C_MOVED_STOP,
	C_MOVED_START, H_MOVED_UNTOUCHED, C_MULTI_OWN, H_MULTI_AREAS,
	NR_CHECKS
};

static const struct check checks[NR_CHECKS] = {
	[C_FLAGS] = { "set_shmem: non-zero flags -> INVALID_PARAM" },
	[C_MISALIGNED] = { "set_shmem: address not 4096-aligned -> INVALID_PARAM" },
	[C_HIGH_HALF] = { "set_shmem: non-zero high half on RV64 -> INVALID_ADDRESS" },
	[C_HOLE] = { "set_shmem: no memslot -> INVALID_ADDRESS" },
	[C_READ_ONLY] = { "set_shmem: read-only memslot -> INVALID_ADDRESS" },
	[C_DISABLE] = { "set_shmem: lo = hi = -1 disables -> SUCCESS" },
	[C_NO_SHMEM_STOP] = { "stop TAKE_SNAPSHOT without area -> NO_SHMEM" },
	[C_NO_SHMEM_START] = { "start INIT_SNAPSHOT without area -> NO_SHMEM" },
	[C_REGISTER] = { "set_shmem: writable aligned page -> SUCCESS" },
	[C_ZEROED] = { "set_shmem: the new area reads all zero" },
	[C_STOP_VALUE] = { "stop TAKE_SNAPSHOT saves the counter value in its slot" },
	[C_OTHER_SLOTS] = { "stop TAKE_SNAPSHOT leaves other slots and bitmap bits alone" },
	[C_RESERVED] = { "stop TAKE_SNAPSHOT leaves the reserved area alone" },
	[C_BITMAP_CLEAR] = { "stop TAKE_SNAPSHOT: no overflow -> bitmap bit clear" },
	[C_INIT_SNAPSHOT] = { "start INIT_SNAPSHOT starts from the slot value" },
	[C_RELATIVE] = { "slots are relative to counter_idx_base" },
	[C_START_RESERVED_FLAG] = { "start: reserved flag bit -> INVALID_PARAM" },
	[C_STOP_RESERVED_FLAG] = { "stop: reserved flag bit -> INVALID_PARAM" },
	[C_EXCLUSIVE_FLAGS] = { "start: SET_INIT_VALUE with INIT_SNAPSHOT -> INVALID_PARAM" },
	[C_ALREADY_STOPPED] = {
		"stop: ALREADY_STOPPED does not suppress other counters' snapshot" },
	[C_OVERFLOW_BIT] = { "stop TAKE_SNAPSHOT after overflow -> bitmap bit set" },
	[C_RESET_CLEARS_BIT] = { "stop RESET|TAKE_SNAPSHOT clears the overflow bit" },
	[C_REPLACE] = { "set_shmem again: new area replaces the old one" },
	[C_OLD_AREA_UNTOUCHED] = { "the replaced area is never written again" },
	[C_CTR_INFO_BOUND] = { "counter_get_info(64) -> INVALID_PARAM" },
	[C_WRAPPING_BASE] = { "stop: base + mask wrapping around -> INVALID_PARAM" },
	[C_FW_READ] = { "counter_fw_read of a firmware counter returns its value" },
	[C_FW_READ_HW] = { "counter_fw_read of a hardware counter -> INVALID_PARAM" },
	[C_HW_STARTED_SET_INIT] = {
		"started hardware counter: start SET_INIT_VALUE -> ALREADY_STARTED, value kept" },
	[C_HW_STARTED_INIT_SNAPSHOT] = {
		"started hardware counter: start INIT_SNAPSHOT -> ALREADY_STARTED, value kept" },
	[C_DISABLED_STOP] = { "after disable, stop TAKE_SNAPSHOT -> NO_SHMEM" },
	[H_OUTSIDE_UNTOUCHED] = { "memory outside the registered areas unchanged", true },
	[H_MOVE] = { "host moves the memslot of a registered area", true },
	[C_MOVED_STOP] = { "area's memslot moved: stop TAKE_SNAPSHOT -> FAILED" },
	[C_MOVED_START] = { "area's memslot moved: start INIT_SNAPSHOT -> FAILED" },
	[H_MOVED_UNTOUCHED] = { "the moved memslot's memory is not written", true },
	[C_MULTI_OWN] = { "two vCPUs: each area holds its own vCPU's value" },
	[H_MULTI_AREAS] = { "two vCPUs: host sees both areas intact", true },
};

static long set_shmem(unsigned long lo, unsigned long hi, unsigned long flags)
{
	return pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, lo, hi, flags, 0).error;
}

static long start(unsigned long base, unsigned long mask, unsigned long flags,
		  unsigned long value)
{
	return pmu(SBI_EXT_PMU_COUNTER_START, base, mask, flags, value).error;
}

static long stop(unsigned long base, unsigned long mask, unsigned long flags)
{
	return pmu(SBI_EXT_PMU_COUNTER_STOP, base, mask, flags, 0).error;
}

static void set_timer_calls(int n)
{
	while (n--)
		sbi_ecall(SBI_EXT_TIME, 0, ~0UL, 0, 0, 0, 0, 0);
}

#define CHECK(id, cond, got, want) \
	GUEST_SYNC_ARGS(id, !!(cond), (unsigned long)(got), (unsigned long)(want), 0)
#define HOST(id) GUEST_SYNC_ARGS(id, 0, 0, 0, 0)

/*
 * The guest's view of an area. KVM writes it only inside SBI calls, and
 * sbi_ecall() clobbers memory, so plain accesses see every update.
 */
static u64 *words(unsigned long gpa)
{
	return (u64 *)gpa;
}

static void fill(unsigned long gpa, u64 pattern)
{
	for (int i = 0; i < WORDS; i++)
		words(gpa)[i] = pattern ^ i;
}

/* Returns the first word index in [from, to) that differs from fill(), or -1. */
static long changed(unsigned long gpa, u64 pattern, int from, int to)
{
	for (int i = from; i < to; i++)
		if (words(gpa)[i] != (pattern ^ i))
			return i;
	return -1;
}

static void guest_code(void)
{
	unsigned long f1, f2, cy, in, rel, t0;
	struct sbiret ret;
	long err, idx;
	bool ok;

	/* Argument validation. */
	err = set_shmem(AREA_A, 0, 1);
	CHECK(C_FLAGS, err == SBI_ERR_INVALID_PARAM,
	      err, SBI_ERR_INVALID_PARAM);
	err = set_shmem(AREA_A + 8, 0, 0);
	ok = err == SBI_ERR_INVALID_PARAM;
	if (ok)
		err = set_shmem(AREA_A + 0x800, 0, 0);
	CHECK(C_MISALIGNED, ok && err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	err = set_shmem(AREA_A, 1, 0);
	CHECK(C_HIGH_HALF, err == SBI_ERR_INVALID_ADDRESS,
	      err, SBI_ERR_INVALID_ADDRESS);
	err = set_shmem(HOLE, 0, 0);
	CHECK(C_HOLE, err == SBI_ERR_INVALID_ADDRESS,
	      err, SBI_ERR_INVALID_ADDRESS);
	err = set_shmem(RO_PAGE, 0, 0);
	CHECK(C_READ_ONLY, err == SBI_ERR_INVALID_ADDRESS,
	      err, SBI_ERR_INVALID_ADDRESS);
	err = set_shmem(-1UL, -1UL, 0);
	CHECK(C_DISABLE, err == 0, err, 0);

	f1 = config(FW_EVENT(SBI_PMU_FW_SET_TIMER));
	f2 = config(FW_EVENT(SBI_PMU_FW_IPI_SENT));
	cy = config(HW_EVENT(SBI_PMU_HW_CPU_CYCLES));
	err = stop(f1, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_NO_SHMEM_STOP, err ==
	      SBI_ERR_NO_SHMEM, err, SBI_ERR_NO_SHMEM);
	err = start(f1, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	CHECK(C_NO_SHMEM_START, err ==
	      SBI_ERR_NO_SHMEM, err, SBI_ERR_NO_SHMEM);
	stop(f1, 1, 0);

	/* Registration zeroes the area. */
	fill(AREA_A, 0xaaaa);
	err = set_shmem(AREA_A, 0, 0);
	CHECK(C_REGISTER, err == 0, err, 0);
	idx = -1;
	for (int i = 0; i < WORDS && idx < 0; i++)
		if (words(AREA_A)[i])
			idx = i;
	CHECK(C_ZEROED, idx < 0, idx, -1);

	/* A stop writes the stopped counter's slot and nothing else. */
	fill(AREA_A, SENTINEL);
	start(f1, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 1000);
	set_timer_calls(5);
	err = stop(f1, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_STOP_VALUE, !err && words(AREA_A)[1] == 1005, words(AREA_A)[1], 1005);
	idx = changed(AREA_A, SENTINEL, 2, 65);
	if (idx < 0 && (words(AREA_A)[0] & ~1UL) != (SENTINEL & ~1UL))
		idx = 0;
	CHECK(C_OTHER_SLOTS, idx < 0, idx, -1);
	idx = changed(AREA_A, SENTINEL, 65, WORDS);
	CHECK(C_RESERVED, idx < 0, idx, -1);
	CHECK(C_BITMAP_CLEAR, !(words(AREA_A)[0] & 1), words(AREA_A)[0], 0);

	/* A start with INIT_SNAPSHOT starts from the slot. */
	words(AREA_A)[1] = 5000;
	err = start(f1, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	set_timer_calls(3);
	err = err ?: stop(f1, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_INIT_SNAPSHOT, !err && words(AREA_A)[1] == 5003, words(AREA_A)[1], 5003);

	/* With a lower base the same counter is slot f1 - base. */
	fill(AREA_A, SENTINEL);
	rel = f1 > 2 ? 2 : f1;
	words(AREA_A)[1 + rel] = 7000;
	err = start(f1 - rel, 1UL << rel, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	set_timer_calls(2);
	err = err ?: stop(f1 - rel, 1UL << rel, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_RELATIVE, !err && words(AREA_A)[1 + rel] == 7002 &&
	      (rel == 0 || words(AREA_A)[1] == (SENTINEL ^ 1)),
	      words(AREA_A)[1 + rel], 7002);

	/* Reserved and exclusive flags. */
	err = start(f1, 1, 1UL << 2, 0);
	CHECK(C_START_RESERVED_FLAG, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	stop(f1, 1, 0);
	start(f1, 1, 0, 0);
	err = stop(f1, 1, 1UL << 2);
	CHECK(C_STOP_RESERVED_FLAG, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	stop(f1, 1, 0);
	err = start(f1, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE | SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	CHECK(C_EXCLUSIVE_FLAGS, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	stop(f1, 1, 0);

	/* f1 is stopped, f2 runs: one stop of both must still save f2. */
	fill(AREA_A, SENTINEL);
	start(f2, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 777);
	err = stop(f1, 1UL | (1UL << (f2 - f1)), SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_ALREADY_STOPPED, err == SBI_ERR_ALREADY_STOPPED &&
	      words(AREA_A)[1 + f2 - f1] == 777, words(AREA_A)[1 + f2 - f1], 777);

	/* Overflow of the cycle counter sets its bit; RESET clears it. */
	fill(AREA_A, SENTINEL);
	words(AREA_A)[0] = 0;
	start(cy, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, -10000UL);
	/* Wait (at most 2 s of the 10 MHz timebase) for the overflow interrupt. */
	t0 = csr_read(CSR_TIME);
	while (!(csr_read(CSR_SIP) & BIT(IRQ_PMU_OVF)) && csr_read(CSR_TIME) - t0 < 20000000)
		;
	err = stop(cy, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	csr_clear(CSR_SIP, BIT(IRQ_PMU_OVF));
	CHECK(C_OVERFLOW_BIT, !err && (words(AREA_A)[0] & 1), words(AREA_A)[0], 1);
	/* A configured hardware counter is not a firmware counter. */
	err = pmu(SBI_EXT_PMU_COUNTER_FW_READ, cy, 0, 0, 0).error;
	CHECK(C_FW_READ_HW, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	err = stop(cy, 1, SBI_PMU_STOP_FLAG_RESET | SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_RESET_CLEARS_BIT, !(words(AREA_A)[0] & 1), words(AREA_A)[0], 0);

	/* A second registration replaces the first. */
	fill(AREA_A, 0xa);
	err = set_shmem(AREA_B, 0, 0);
	start(f1, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 42);
	err = err ?: stop(f1, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_REPLACE, !err && words(AREA_B)[1] == 42, words(AREA_B)[1], 42);
	idx = changed(AREA_A, 0xa, 0, WORDS);
	CHECK(C_OLD_AREA_UNTOUCHED, idx < 0, idx, -1);

	/* Hostile indices. */
	err = pmu(SBI_EXT_PMU_COUNTER_GET_INFO, 64, 0, 0, 0).error;
	CHECK(C_CTR_INFO_BOUND, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	err = stop(-1UL, 1UL << (cy + 1), SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_WRAPPING_BASE, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);

	/* Firmware counter reads: firmware counters only. */
	start(f1, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 555);
	stop(f1, 1, 0);
	ret = pmu(SBI_EXT_PMU_COUNTER_FW_READ, f1, 0, 0, 0);
	CHECK(C_FW_READ, !ret.error && ret.value == 555, ret.value, 555);

	/*
	 * A second start of a running hardware counter is ALREADY_STARTED and
	 * changes nothing: neither its value nor its perf event. It runs from
	 * SMALL_VALUE; a start asking for HUGE_VALUE must not become its value.
	 */
	in = config(HW_EVENT(SBI_PMU_HW_INSTRUCTIONS));
	err = start(in, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, SMALL_VALUE);
	__GUEST_ASSERT(!err, "start(instructions) = %ld", err);
	err = start(in, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, HUGE_VALUE);
	__GUEST_ASSERT(!stop(in, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT), "stop(instructions)");
	/* got: the start's error if it is wrong, else the saved value. */
	CHECK(C_HW_STARTED_SET_INIT, err == SBI_ERR_ALREADY_STARTED &&
	      words(AREA_B)[1] >= SMALL_VALUE && words(AREA_B)[1] < HUGE_VALUE / 2,
	      err != SBI_ERR_ALREADY_STARTED ? (unsigned long)err : words(AREA_B)[1],
	      SMALL_VALUE);
	err = start(in, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, SMALL_VALUE);
	__GUEST_ASSERT(!err, "start(instructions) = %ld", err);
	words(AREA_B)[1] = HUGE_VALUE;
	err = start(in, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	__GUEST_ASSERT(!stop(in, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT), "stop(instructions)");
	CHECK(C_HW_STARTED_INIT_SNAPSHOT, err == SBI_ERR_ALREADY_STARTED &&
	      words(AREA_B)[1] >= SMALL_VALUE && words(AREA_B)[1] < HUGE_VALUE / 2,
	      err != SBI_ERR_ALREADY_STARTED ? (unsigned long)err : words(AREA_B)[1],
	      SMALL_VALUE);
	stop(in, 1, SBI_PMU_STOP_FLAG_RESET);

	/* Disable, then nothing may be written anywhere. */
	fill(AREA_B, 0xb);
	set_shmem(-1UL, -1UL, 0);
	start(f1, 1, 0, 0);
	err = stop(f1, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_DISABLED_STOP, err == SBI_ERR_NO_SHMEM && changed(AREA_B, 0xb, 0, WORDS) < 0,
	      err, SBI_ERR_NO_SHMEM);
	HOST(H_OUTSIDE_UNTOUCHED);

	/* The memslot under a registered area moves away. */
	err = set_shmem(MOVABLE, 0, 0);
	__GUEST_ASSERT(!err, "set_shmem(MOVABLE) = %ld", err);
	start(f1, 1, 0, 0);
	HOST(H_MOVE);
	err = stop(f1, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	CHECK(C_MOVED_STOP, err == SBI_ERR_FAILURE, err, SBI_ERR_FAILURE);
	err = start(f1, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	CHECK(C_MOVED_START, err == SBI_ERR_FAILURE, err, SBI_ERR_FAILURE);
	HOST(H_MOVED_UNTOUCHED);
	set_shmem(-1UL, -1UL, 0);
	GUEST_DONE();
}

/* Two vCPUs, one area each: vCPU @id counts (id + 1) * 3 timer calls from id * 1000. */
static void multi_guest(unsigned long id)
{
	unsigned long area = id ? AREA_V1 : AREA_A;
	unsigned long f = config(FW_EVENT(SBI_PMU_FW_SET_TIMER));
	unsigned long want = id * 1000 + (id + 1) * 3;

	__GUEST_ASSERT(!set_shmem(area, 0, 0), "set_shmem");
	start(f, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, id * 1000);
	set_timer_calls((id + 1) * 3);
	stop(f, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	/* Let the other vCPU run its whole sequence, then look again. */
	GUEST_SYNC_ARGS(-1UL, id, 0, 0, 0);
	CHECK(C_MULTI_OWN, words(area)[1] == want, words(area)[1], want);
	GUEST_DONE();
}

static int passed, failed;

static void report(int id, bool ok, const char *fmt, ...)
{
	char note[160] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	if (!ok)
		ksft_print_msg("%s: %s\n", checks[id].name, note);
	ksft_test_result(ok, "%s\n", checks[id].name);
	ok ? passed++ : failed++;
}

static u64 *host_words(struct kvm_vm *vm, unsigned long gpa)
{
	return addr_gpa2hva(vm, gpa);
}

static u8 ro_image[4096], canary_image[4096], moved_image[4096];

static void host_action(struct kvm_vm *vm, int id)
{
	switch (id) {
	case H_OUTSIDE_UNTOUCHED: {
		bool ok = !memcmp(host_words(vm, CANARY), canary_image, 4096) &&
			  !memcmp(host_words(vm, RO_PAGE), ro_image, 4096);
		report(id, ok, "canary or read-only page changed");
		break;
	}
	case H_MOVE:
		memset(host_words(vm, MOVABLE), 0x6d, 4096);
		memcpy(moved_image, host_words(vm, MOVABLE), 4096);
		vm_mem_region_move(vm, SLOT_MOVABLE, MOVED);
		report(id, true, "");
		break;
	case H_MOVED_UNTOUCHED:
		report(id, !memcmp(host_words(vm, MOVED), moved_image, 4096),
		       "memory of the moved slot was written");
		break;
	default:
		TEST_FAIL("unknown host action %d", id);
	}
}

static bool handle(struct kvm_vcpu *vcpu, struct kvm_vm *vm)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		if (uc.args[1] == -1UL)
			return true;
		if (checks[uc.args[1]].host)
			host_action(vm, uc.args[1]);
		else
			report(uc.args[1], uc.args[2], "got %ld (0x%lx), want %ld",
			       (long)uc.args[3], uc.args[3], (long)uc.args[4]);
		return true;
	case UCALL_DONE:
		return false;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		return false;
	default:
		TEST_FAIL("unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
		return false;
	}
}

static void add_memory(struct kvm_vm *vm)
{
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA_BASE, SLOT_AREAS,
				    AREA_PAGES, 0);
	virt_map(vm, AREA_BASE, AREA_BASE, AREA_PAGES);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, RO_PAGE, SLOT_RO, 1,
				    KVM_MEM_READONLY);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, MOVABLE, SLOT_MOVABLE, 1, 0);
	memset(host_words(vm, RO_PAGE), 0x4f, 4096);
	memcpy(ro_image, host_words(vm, RO_PAGE), 4096);
	memset(host_words(vm, CANARY), 0xca, 4096);
	memcpy(canary_image, host_words(vm, CANARY), 4096);
}

static void run_single(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	add_memory(vm);
	while (handle(vcpu, vm))
		;
	kvm_vm_free(vm);
}

static void run_multi(void)
{
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	u64 a, b;

	vm = vm_create_with_vcpus(2, multi_guest, vcpus);
	add_memory(vm);
	vcpu_args_set(vcpus[0], 1, 0);
	vcpu_args_set(vcpus[1], 1, 1);
	/* vCPU 0 up to its pause, all of vCPU 1, then the rest of vCPU 0. */
	handle(vcpus[0], vm);
	while (handle(vcpus[1], vm))
		;
	while (handle(vcpus[0], vm))
		;
	a = host_words(vm, AREA_A)[1];
	b = host_words(vm, AREA_V1)[1];
	report(H_MULTI_AREAS, a == 3 && b == 1006, "area 0 slot 0 = %lu, area 1 slot 0 = %lu",
	       a, b);
	kvm_vm_free(vm);
}

int main(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	bool snapshot;

	ksft_print_header();
	vm = vm_create_with_one_vcpu(&vcpu, NULL);
	snapshot = __vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_PMU) &&
		   __vcpu_has_isa_ext(vcpu, KVM_RISCV_ISA_EXT_SSCOFPMF);
	kvm_vm_free(vm);
	if (!snapshot)
		ksft_exit_skip("SBI PMU with Sscofpmf not available\n");

	/* C_MULTI_OWN is reported by each of the two vCPUs. */
	ksft_set_plan(NR_CHECKS + 1);
	run_single();
	run_multi();
	ksft_print_msg("%d checks passed, %d failed\n", passed, failed);
	if (passed + failed != NR_CHECKS + 1)
		ksft_exit_fail_msg("ran %d of %d checks\n", passed + failed, NR_CHECKS + 1);
	ksft_finished();
}
