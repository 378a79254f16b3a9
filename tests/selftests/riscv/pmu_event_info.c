// SPDX-License-Identifier: GPL-2.0
/*
 * SBI v3.0 PMU event_get_info (FID 8) and the rules of the SBI PMU that
 * mainline Linux added after 6.12, checked from inside a guest.
 *
 * Each check is one TAP line. The guest makes the SBI calls and reports
 * each check with GUEST_SYNC_ARGS(id, ok, got, want); the host checks
 * that the calls left memory outside the answered entries alone.
 *
 * With --no-event-info (a kernel without FID 8, such as the C path) the
 * event_get_info checks are skipped and the others still run.
 *
 * A second VM takes counter overflow interrupts as mainline's
 * sbi_pmu_test does since 6.15: five rounds per event, each handled by a
 * stop with TAKE_SNAPSHOT that leaves the counter stopped. Without the
 * series' fix of the restart period after an overflow, only the first
 * round's interrupt arrives under QEMU. --no-overflow skips these checks.
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

#define SBI_EXT_PMU_EVENT_GET_INFO	8
#define SBI_PMU_EVENT_TYPE_CACHE	0x1
#define SBI_PMU_EVENT_TYPE_RAW		0x2
#define SBI_PMU_EVENT_TYPE_RAW_V2	0x3
#define SBI_PMU_EVENT_TYPE_FW		0xf
#define EVENT(type, code)		(((type) << 16) | (code))
#define FW_MISALIGNED_LOAD		0
#define FW_ACCESS_LOAD			2
#define FW_SET_TIMER			5
#define FW_IPI_SENT			6
#define FW_MAX				22
/* L1D, read, access: cache_id 0, op_id 0, result_id 0. */
#define CACHE_L1D_READ_ACCESS		EVENT(SBI_PMU_EVENT_TYPE_CACHE, 0)

/* Guest physical layout: four pages of entries, then a hole. */
#define ARRAY_BASE	((unsigned long)SZ_1G)
#define ARRAY_PAGES	4
#define ARRAY_END	(ARRAY_BASE + ARRAY_PAGES * 4096)
#define RO_PAGE		(ARRAY_BASE + 0x10000)
#define HOLE		(ARRAY_BASE + 0x20000)
#define SLOT_ARRAY	10
#define SLOT_RO		11
#define STALE		0xfffffffeU

struct entry {
	u32 event_idx;
	u32 output;
	u64 event_data;
};

enum {
	E_FLAGS, E_MISALIGNED, E_NO_ENTRIES, E_SIZE_OVERFLOW, E_HIGH_HALF,
	E_READ_ONLY, E_HOLE, E_PARTLY_MISSING, E_HUGE, E_RESERVED, E_ANSWERS,
	E_WHOLE_WORD, E_FIELDS_KEPT, E_CROSS_PAGE, E_MATCHES_CFG, H_UNTOUCHED, E_TOP,
	M_SHMEM_TOP,
	M_FW_READ_UNCONFIGURED, M_FW_CFG_THEN_READ, M_FW_READ_HI, M_STOP_STOPPED,
	M_UNKNOWN_EVENT, M_RAW_V2, M_RAW_V2_WIDE, M_RAW_V2_CODE, M_CTR_INFO_BOUND,
	O_CYCLES, O_INSTRUCTIONS,
	NR_CHECKS
};

/* A check of event_get_info: skipped with --no-event-info. */
#define EI(text)	{ "event_info: " text, false, true }

static const struct {
	const char *name;
	bool host, event_info, overflow;
} checks[NR_CHECKS] = {
	[E_FLAGS] = EI("flags != 0 -> INVALID_PARAM"),
	[E_MISALIGNED] = EI("address not 16-byte aligned -> INVALID_PARAM"),
	[E_NO_ENTRIES] = EI("num_entries 0 -> INVALID_PARAM"),
	[E_SIZE_OVERFLOW] = EI("16 * num_entries overflows -> INVALID_PARAM"),
	[E_HIGH_HALF] = EI("high half on RV64 -> INVALID_ADDRESS"),
	[E_READ_ONLY] = EI("read-only memslot -> INVALID_ADDRESS"),
	[E_HOLE] = EI("no memory -> INVALID_ADDRESS"),
	[E_PARTLY_MISSING] = EI("array running into a hole -> INVALID_ADDRESS, nothing written"),
	[E_HUGE] = EI("2^40 entries -> INVALID_ADDRESS, nothing written"),
	[E_RESERVED] = EI("reserved event_idx bit -> INVALID_PARAM, nothing written"),
	[E_ANSWERS] = EI("supported events as this host counts them"),
	[E_WHOLE_WORD] = EI("the whole output word written (bits 1-31 zero)"),
	[E_FIELDS_KEPT] = EI("event_idx and event_data left alone"),
	[E_CROSS_PAGE] = EI("an array across a page boundary"),
	[E_MATCHES_CFG] = EI("answers what config matching accepts"),
	[H_UNTOUCHED] = { "event_info: memory past the array and the read-only page unchanged",
			  true, true },
	[E_TOP] = EI("the last 16 bytes of the address space -> INVALID_ADDRESS"),
	[M_SHMEM_TOP] = { "set_shmem: the last page of the address space -> INVALID_ADDRESS" },
	[M_FW_READ_UNCONFIGURED] = { "fw read of an unconfigured fw counter -> INVALID_PARAM" },
	[M_FW_CFG_THEN_READ] = { "cfg_match(ACCESS_LOAD) on that counter, then fw read succeeds" },
	[M_FW_READ_HI] = { "fw read_hi on RV64 -> 0" },
	[M_STOP_STOPPED] = { "stop of a stopped counter -> ALREADY_STOPPED" },
	[M_UNKNOWN_EVENT] = { "cfg_match(event 0x1234) -> NOT_SUPPORTED" },
	[M_RAW_V2] = { "cfg_match(raw v2, 48-bit data) counts" },
	[M_RAW_V2_WIDE] = { "cfg_match(raw v2, data bits 48-55) -> NOT_SUPPORTED on this host" },
	[M_RAW_V2_CODE] = { "cfg_match(type 3, code != 0) -> NOT_SUPPORTED" },
	[M_CTR_INFO_BOUND] = { "counter_get_info(64) -> INVALID_PARAM" },
	[O_CYCLES] = { "overflow: 5 interrupts from cycles, each stop sets the overflow bit",
		       false, false, true },
	[O_INSTRUCTIONS] = { "overflow: 5 interrupts from instructions, each stop sets the bit",
			     false, false, true },
};

#define CHECK(id, cond, got, want) \
	GUEST_SYNC_ARGS(id, !!(cond), (unsigned long)(got), (unsigned long)(want), 0)
#define HOST(id) GUEST_SYNC_ARGS(id, 0, 0, 0, 0)

static struct entry *entries(unsigned long gpa)
{
	return (struct entry *)gpa;
}

static long event_info(unsigned long lo, unsigned long hi, unsigned long n, unsigned long flags)
{
	return pmu(SBI_EXT_PMU_EVENT_GET_INFO, lo, hi, n, flags).error;
}

static void fill(unsigned long gpa, int n, u32 idx)
{
	for (int i = 0; i < n; i++)
		entries(gpa)[i] = (struct entry){ idx, STALE, 0x5a5a0000 + i };
}

/* The index of the first of @n entries whose output is not @want, or -1. */
static long first_output_not(unsigned long gpa, int n, u32 want)
{
	for (int i = 0; i < n; i++)
		if (entries(gpa)[i].output != want)
			return i;
	return -1;
}

/* Configures @event on any counter (reset afterwards); the SBI error. */
static long cfg_probe(unsigned long event, unsigned long data)
{
	unsigned long num = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	unsigned long mask = (num >= 64 ? ~0UL : (1UL << num) - 1) & ~2UL;
	struct sbiret r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0,
				    event, data, 0);

	if (!r.error)
		pmu(SBI_EXT_PMU_COUNTER_STOP, r.value, 1, SBI_PMU_STOP_FLAG_RESET, 0);
	return r.error;
}

static const struct {
	u32 event_idx;
	u64 event_data;
	u32 want;	/* 2: whatever config matching says */
} answers[] = {
	{ SBI_PMU_HW_CPU_CYCLES, 0, 1 },
	{ SBI_PMU_HW_INSTRUCTIONS, 0, 1 },
	{ SBI_PMU_HW_NO_EVENT, 0, 0 },
	{ 0x20, 0, 0 },				/* no such hardware event */
	{ CACHE_L1D_READ_ACCESS, 0, 2 },
	{ SBI_PMU_HW_BRANCH_INSTRUCTIONS, 0, 2 },
	{ EVENT(SBI_PMU_EVENT_TYPE_RAW, 0), 0x1, 2 },
	{ EVENT(SBI_PMU_EVENT_TYPE_RAW_V2, 0), 0x1, 2 },
	{ EVENT(SBI_PMU_EVENT_TYPE_RAW_V2, 0), 1UL << 50, 0 },
	{ EVENT(SBI_PMU_EVENT_TYPE_RAW_V2, 1), 0x1, 0 },
	{ EVENT(SBI_PMU_EVENT_TYPE_FW, FW_IPI_SENT), 0, 1 },
	{ EVENT(SBI_PMU_EVENT_TYPE_FW, FW_SET_TIMER), 0, 1 },
	{ EVENT(SBI_PMU_EVENT_TYPE_FW, FW_MISALIGNED_LOAD), 0, 0 },	/* KVM never counts it */
	{ EVENT(SBI_PMU_EVENT_TYPE_FW, FW_MAX), 0, 0 },
	{ EVENT(SBI_PMU_EVENT_TYPE_FW, 0xffff), 0, 0 },	/* platform firmware event */
	{ EVENT(0x5, 0), 0, 0 },			/* no such type */
};

#define NR_ANSWERS	ARRAY_SIZE(answers)

static void event_info_checks(void)
{
	unsigned long a = ARRAY_BASE, last = ARRAY_END - sizeof(struct entry);
	long err, idx, got;

	fill(a, 1, SBI_PMU_HW_CPU_CYCLES);
	err = event_info(a, 0, 1, 1);
	CHECK(E_FLAGS, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	err = event_info(a + 8, 0, 1, 0);
	CHECK(E_MISALIGNED, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	err = event_info(a, 0, 0, 0);
	CHECK(E_NO_ENTRIES, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	err = event_info(a, 0, 1UL << 60, 0);
	CHECK(E_SIZE_OVERFLOW, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
	err = event_info(a, 1, 1, 0);
	CHECK(E_HIGH_HALF, err == SBI_ERR_INVALID_ADDRESS, err, SBI_ERR_INVALID_ADDRESS);
	err = event_info(RO_PAGE, 0, 1, 0);
	CHECK(E_READ_ONLY, err == SBI_ERR_INVALID_ADDRESS, err, SBI_ERR_INVALID_ADDRESS);
	err = event_info(HOLE, 0, 1, 0);
	CHECK(E_HOLE, err == SBI_ERR_INVALID_ADDRESS, err, SBI_ERR_INVALID_ADDRESS);
	fill(last, 1, SBI_PMU_HW_CPU_CYCLES);
	err = event_info(last, 0, 2, 0);
	CHECK(E_PARTLY_MISSING, err == SBI_ERR_INVALID_ADDRESS && entries(last)->output == STALE,
	      err, SBI_ERR_INVALID_ADDRESS);
	err = event_info(a, 0, 1UL << 40, 0);
	CHECK(E_HUGE, err == SBI_ERR_INVALID_ADDRESS && entries(a)->output == STALE,
	      err, SBI_ERR_INVALID_ADDRESS);
	fill(a, 8, SBI_PMU_HW_CPU_CYCLES);
	entries(a)[7].event_idx |= BIT(20);
	err = event_info(a, 0, 8, 0);
	idx = first_output_not(a, 8, STALE);
	CHECK(E_RESERVED, err == SBI_ERR_INVALID_PARAM && idx < 0,
	      err != SBI_ERR_INVALID_PARAM ? err : idx, SBI_ERR_INVALID_PARAM);

	/* One array of every kind of event, behind a stale output word each. */
	for (int i = 0; i < NR_ANSWERS; i++)
		entries(a)[i] = (struct entry){ answers[i].event_idx, STALE,
						answers[i].event_data };
	entries(a)[NR_ANSWERS] = (struct entry){ 0x5e47, STALE, 0x5e47 };
	err = event_info(a, 0, NR_ANSWERS, 0);
	__GUEST_ASSERT(!err, "event_info(%lu entries) = %ld", NR_ANSWERS, err);
	got = -1;
	for (int i = 0; i < NR_ANSWERS && got < 0; i++)
		if (answers[i].want != 2 && entries(a)[i].output != answers[i].want)
			got = i;
	CHECK(E_ANSWERS, got < 0, got, -1);
	got = -1;
	for (int i = 0; i < NR_ANSWERS && got < 0; i++)
		if (entries(a)[i].output > 1)
			got = i;
	CHECK(E_WHOLE_WORD, got < 0 && entries(a)[NR_ANSWERS].output == STALE, got, -1);
	got = -1;
	for (int i = 0; i < NR_ANSWERS && got < 0; i++)
		if (entries(a)[i].event_idx != answers[i].event_idx ||
		    entries(a)[i].event_data != answers[i].event_data)
			got = i;
	CHECK(E_FIELDS_KEPT, got < 0, got, -1);
	got = -1;
	for (int i = 0; i < NR_ANSWERS && got < 0; i++) {
		u32 fw = answers[i].event_idx >> 16 == SBI_PMU_EVENT_TYPE_FW;

		/*
		 * Firmware events: KVM's own list, checked above. Config matching
		 * takes SBI_PMU_HW_NO_EVENT for cycles; event_info says it is no
		 * event, as the specification does.
		 */
		if (fw || answers[i].event_idx == SBI_PMU_HW_NO_EVENT)
			continue;
		if (entries(a)[i].output != !cfg_probe(answers[i].event_idx,
						       answers[i].event_data))
			got = i;
	}
	CHECK(E_MATCHES_CFG, got < 0, got, -1);

	/* Four entries, two on each side of the boundary of pages 1 and 2. */
	fill(a + 8192 - 32, 4, SBI_PMU_HW_INSTRUCTIONS);
	err = event_info(a + 8192 - 32, 0, 4, 0);
	idx = first_output_not(a + 8192 - 32, 4, 1);
	CHECK(E_CROSS_PAGE, !err && idx < 0, err ? err : idx, 0);
	HOST(H_UNTOUCHED);
	err = event_info(-16UL, 0, 1, 0);
	CHECK(E_TOP, err == SBI_ERR_INVALID_ADDRESS, err, SBI_ERR_INVALID_ADDRESS);
}

static void mainline_checks(void)
{
	unsigned long num = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	unsigned long fw = num, ctr;
	struct sbiret r;
	long err;

	for (unsigned long i = 0; i < num && fw == num; i++) {
		r = pmu(SBI_EXT_PMU_COUNTER_GET_INFO, i, 0, 0, 0);
		if (!r.error && (r.value >> (__riscv_xlen - 1)))
			fw = i;
	}
	__GUEST_ASSERT(fw < num, "no firmware counter among %lu", num);
	err = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, -4096UL, 0, 0, 0).error;
	CHECK(M_SHMEM_TOP, err == SBI_ERR_INVALID_ADDRESS, err, SBI_ERR_INVALID_ADDRESS);
	r = pmu(SBI_EXT_PMU_COUNTER_FW_READ, fw, 0, 0, 0);
	CHECK(M_FW_READ_UNCONFIGURED, r.error == SBI_ERR_INVALID_PARAM, r.error,
	      SBI_ERR_INVALID_PARAM);
	r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, fw, 1, 0, EVENT(SBI_PMU_EVENT_TYPE_FW,
							       FW_ACCESS_LOAD));
	err = r.error ? r.error : (long)(r.value != fw);
	if (!err)
		err = pmu(SBI_EXT_PMU_COUNTER_FW_READ, fw, 0, 0, 0).error;
	CHECK(M_FW_CFG_THEN_READ, !err, err, 0);
	r = pmu(SBI_EXT_PMU_COUNTER_FW_READ_HI, fw, 0, 0, 0);
	CHECK(M_FW_READ_HI, !r.error && !r.value, r.error ? r.error : (long)r.value, 0);
	err = pmu(SBI_EXT_PMU_COUNTER_STOP, fw, 1, 0, 0).error;
	CHECK(M_STOP_STOPPED, err == SBI_ERR_ALREADY_STOPPED, err, SBI_ERR_ALREADY_STOPPED);
	pmu(SBI_EXT_PMU_COUNTER_STOP, fw, 1, SBI_PMU_STOP_FLAG_RESET, 0);

	err = cfg_probe(0x1234, 0);
	CHECK(M_UNKNOWN_EVENT, err == SBI_ERR_NOT_SUPPORTED, err, SBI_ERR_NOT_SUPPORTED);
	r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_CFG_MATCH, 0,
		      (num >= 64 ? ~0UL : (1UL << num) - 1) & ~2UL,
		      SBI_PMU_CFG_FLAG_AUTO_START, EVENT(SBI_PMU_EVENT_TYPE_RAW_V2, 0), 0x1, 0);
	if (!r.error) {
		ctr = r.value;
		err = pmu(SBI_EXT_PMU_COUNTER_STOP, ctr, 1, SBI_PMU_STOP_FLAG_RESET, 0).error;
	} else {
		err = r.error;
	}
	CHECK(M_RAW_V2, !err, err, 0);
	err = cfg_probe(EVENT(SBI_PMU_EVENT_TYPE_RAW_V2, 0), 1UL << 50);
	CHECK(M_RAW_V2_WIDE, err == SBI_ERR_NOT_SUPPORTED, err, SBI_ERR_NOT_SUPPORTED);
	err = cfg_probe(EVENT(SBI_PMU_EVENT_TYPE_RAW_V2, 1), 0x1);
	CHECK(M_RAW_V2_CODE, err == SBI_ERR_NOT_SUPPORTED, err, SBI_ERR_NOT_SUPPORTED);
	err = pmu(SBI_EXT_PMU_COUNTER_GET_INFO, 64, 0, 0, 0).error;
	CHECK(M_CTR_INFO_BOUND, err == SBI_ERR_INVALID_PARAM, err, SBI_ERR_INVALID_PARAM);
}

#define OVERFLOWS	5
/* Iterations of the wait loop before an overflow counts as missing. */
#define OVERFLOW_WAIT	50000000UL

/* Shared with the interrupt handler. */
static unsigned long ovf_irqs, ovf_counter, ovf_bit_missing;

/* Stops the counter and takes the snapshot; the counter stays stopped. */
static void overflow_handler(struct ex_regs *regs)
{
	u64 *area = (u64 *)ARRAY_BASE;

	GUEST_ASSERT_EQ(regs->cause & ~CAUSE_IRQ_FLAG, IRQ_PMU_OVF);
	__GUEST_ASSERT(!pmu(SBI_EXT_PMU_COUNTER_STOP, READ_ONCE(ovf_counter), 1,
			    SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0).error, "stop in the handler");
	csr_clear(CSR_SIP, BIT(IRQ_PMU_OVF));
	if (!(area[0] & 1))
		WRITE_ONCE(ovf_bit_missing, ovf_bit_missing + 1);
	WRITE_ONCE(ovf_irqs, ovf_irqs + 1);
}

/*
 * Five rounds, as mainline's sbi_pmu_test: configure the event, start it
 * from the snapshot 10,000 events below overflow, wait for the interrupt,
 * then reset the counter, which the handler left stopped.
 */
static void overflow_event(int id, unsigned long event)
{
	u64 *area = (u64 *)ARRAY_BASE;
	unsigned long round, reset_err = 0;
	long err;

	ovf_irqs = 0;
	ovf_bit_missing = 0;
	for (round = 0; round < OVERFLOWS; round++) {
		WRITE_ONCE(ovf_counter, config(event));
		area[1] = ULONG_MAX - 10000;
		err = pmu(SBI_EXT_PMU_COUNTER_START, ovf_counter, 1,
			  SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0).error;
		__GUEST_ASSERT(!err, "start %lu: %ld", round, err);
		for (unsigned long w = 0; w < OVERFLOW_WAIT && READ_ONCE(ovf_irqs) == round; w++)
			;
		err = pmu(SBI_EXT_PMU_COUNTER_STOP, ovf_counter, 1,
			  SBI_PMU_STOP_FLAG_RESET, 0).error;
		if (err != SBI_ERR_ALREADY_STOPPED)
			reset_err = err;
		if (READ_ONCE(ovf_irqs) == round)
			break;
	}
	CHECK(id, ovf_irqs == OVERFLOWS && !ovf_bit_missing && !reset_err,
	      ovf_irqs != OVERFLOWS ? ovf_irqs :
	      ovf_bit_missing ? 100 + ovf_bit_missing : reset_err,
	      OVERFLOWS);
}

static void overflow_guest(void)
{
	long err = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, ARRAY_BASE, 0, 0, 0).error;

	__GUEST_ASSERT(!err, "set_shmem: %ld", err);
	csr_set(CSR_IE, BIT(IRQ_PMU_OVF));
	local_irq_enable();
	overflow_event(O_CYCLES, SBI_PMU_HW_CPU_CYCLES);
	overflow_event(O_INSTRUCTIONS, SBI_PMU_HW_INSTRUCTIONS);
	GUEST_DONE();
}

static void guest_code(unsigned long with_event_info)
{
	if (with_event_info)
		event_info_checks();
	mainline_checks();
	GUEST_DONE();
}

static int passed, failed;
static u8 ro_image[4096];

static void report(int id, bool ok, const char *note)
{
	if (!ok)
		ksft_print_msg("%s: %s\n", checks[id].name, note);
	ksft_test_result(ok, "%s\n", checks[id].name);
	ok ? passed++ : failed++;
}

/* Host: the entries past the answered ones and the read-only page. */
static void untouched(struct kvm_vm *vm)
{
	struct entry *e = addr_gpa2hva(vm, ARRAY_BASE);
	bool ok = e[NR_ANSWERS].output == STALE && e[NR_ANSWERS].event_idx == 0x5e47 &&
		  !memcmp(addr_gpa2hva(vm, RO_PAGE), ro_image, 4096);

	report(H_UNTOUCHED, ok, "an entry past the array or the read-only page changed");
}

/* Runs @vcpu until the guest is done, reporting its checks. */
static void run(struct kvm_vm *vm, struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	char note[96];

	for (;;) {
		vcpu_run(vcpu);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			if (checks[uc.args[1]].host) {
				untouched(vm);
			} else {
				snprintf(note, sizeof(note), "got %ld (0x%lx), want %ld",
					 (long)uc.args[3], uc.args[3], (long)uc.args[4]);
				report(uc.args[1], uc.args[2], note);
			}
			continue;
		case UCALL_DONE:
			return;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			return;
		default:
			TEST_FAIL("unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
		}
	}
}

static struct kvm_vm *create(struct kvm_vcpu **vcpu, void *guest)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest);

	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, ARRAY_BASE, SLOT_ARRAY,
				    ARRAY_PAGES, 0);
	virt_map(vm, ARRAY_BASE, ARRAY_BASE, ARRAY_PAGES);
	return vm;
}

int main(int argc, char *argv[])
{
	bool with_event_info = true, with_overflow = true;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int planned = 0;

	for (int i = 1; i < argc; i++) {
		with_event_info &= strcmp(argv[i], "--no-event-info") != 0;
		with_overflow &= strcmp(argv[i], "--no-overflow") != 0;
	}
	ksft_print_header();
	vm = create(&vcpu, guest_code);
	if (!__vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_PMU) ||
	    !__vcpu_has_isa_ext(vcpu, KVM_RISCV_ISA_EXT_SSCOFPMF))
		ksft_exit_skip("SBI PMU with Sscofpmf not available\n");
	for (int i = 0; i < NR_CHECKS; i++)
		planned += (with_event_info || !checks[i].event_info) &&
			   (with_overflow || !checks[i].overflow);
	ksft_set_plan(NR_CHECKS);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, RO_PAGE, SLOT_RO, 1,
				    KVM_MEM_READONLY);
	memset(addr_gpa2hva(vm, RO_PAGE), 0x4f, 4096);
	memcpy(ro_image, addr_gpa2hva(vm, RO_PAGE), 4096);
	vcpu_args_set(vcpu, 1, with_event_info);
	run(vm, vcpu);
	kvm_vm_free(vm);

	if (with_overflow) {
		vm = create(&vcpu, overflow_guest);
		vm_init_vector_tables(vm);
		vm_install_interrupt_handler(vm, overflow_handler);
		vcpu_init_vector_tables(vcpu);
		run(vm, vcpu);
		kvm_vm_free(vm);
	}

	for (int i = 0; i < NR_CHECKS; i++) {
		if (!with_event_info && checks[i].event_info)
			ksft_test_result_skip("%s (--no-event-info)\n", checks[i].name);
		if (!with_overflow && checks[i].overflow)
			ksft_test_result_skip("%s (--no-overflow)\n", checks[i].name);
	}
	ksft_print_msg("%d checks passed, %d failed\n", passed, failed);
	if (passed + failed != planned)
		ksft_exit_fail_msg("ran %d of %d checks\n", passed + failed, planned);
	ksft_finished();
}
