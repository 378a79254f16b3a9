// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of the SBI PMU snapshot paths, measured from inside a guest.
 *
 * Run under QEMU with -icount shift=0 -smp 1, where the guest's time CSR
 * advances with executed instructions, each row is the number of guest
 * timer ticks per call averaged over many iterations. The host prints one
 * "BENCH <row> <ticks per call>" line per row, and the kernel memory the
 * snapshot costs per vCPU as "BENCH_MEM <bytes>".
 *
 * The firmware rows come first. The hardware rows come after them: their
 * counters are configured through counter_config_matching for real events,
 * so each is backed by a host perf event. The 1-counter rows use cycles
 * (counter 0) alone; the 8-counter rows add instructions (counter 2) and
 * programmable counters with the other events the host can count. That set
 * is printed as one "BENCH_CTR <counter> <hw|fw> <event idx> <event> <value>"
 * line per counter, the value taken by a final stop with TAKE_SNAPSHOT.
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
/* The page of the event_get_info rows' array, after the area. */
#define EVENT_ARRAY		(AREA + 4096)
#define SBI_EXT_PMU_EVENT_GET_INFO	8
#define MEM_VCPUS		16
#define DEFAULT_ITERS		4000
/* Hardware events: SBI event type 0 (general) and type 1 (cache). */
#define HW_EVENT(code)		((unsigned long)(code))
#define CACHE_EVENT(id, op, res)	((1UL << 16) | ((id) << 3) | ((op) << 1) | (res))
/* Cache event fields (SBI v2.0, "Hardware cache events"). */
enum { C_L1D, C_L1I, C_LL, C_DTLB, C_ITLB, C_BPU };
enum { OP_READ, OP_WRITE };
enum { RES_ACCESS, RES_MISS };
#define EVENT_TYPE(eidx)	(((eidx) >> 16) & 0xf)
#define SET_COUNTERS		8

enum row {
	ROW_NULL, ROW_FW_READ, ROW_PAIR_1, ROW_SNAP_PAIR_1, ROW_PAIR_8, ROW_SNAP_PAIR_8,
	ROW_SET_SHMEM, ROW_HW_PAIR_1, ROW_HW_SNAP_PAIR_1, ROW_HW_PAIR_8, ROW_HW_SNAP_PAIR_8,
	ROW_EVENT_INFO_1, ROW_EVENT_INFO_8, ROW_EVENT_INFO_64,
	NR_ROWS
};

/* Guest-to-host messages other than a row's result (ucall stage numbers). */
enum {
	SYNC_COUNTER = NR_ROWS,	/* a counter of the hardware set: index, event idx */
	SYNC_SET_DONE,		/* the set was stopped with TAKE_SNAPSHOT: its mask */
};

#define HW_ROWS	((1UL << ROW_HW_PAIR_1) | (1UL << ROW_HW_SNAP_PAIR_1) | \
		 (1UL << ROW_HW_PAIR_8) | (1UL << ROW_HW_SNAP_PAIR_8))

static const char * const row_names[NR_ROWS] = {
	[ROW_NULL] = "null_sbi_call",
	[ROW_FW_READ] = "fw_counter_read",
	[ROW_PAIR_1] = "stop_start_1",
	[ROW_SNAP_PAIR_1] = "snapshot_stop_start_1",
	[ROW_PAIR_8] = "stop_start_8",
	[ROW_SNAP_PAIR_8] = "snapshot_stop_start_8",
	[ROW_SET_SHMEM] = "set_shmem",
	[ROW_HW_PAIR_1] = "hw_stop_start_1",
	[ROW_HW_SNAP_PAIR_1] = "hw_snapshot_stop_start_1",
	[ROW_HW_PAIR_8] = "hw_stop_start_8",
	[ROW_HW_SNAP_PAIR_8] = "hw_snapshot_stop_start_8",
	[ROW_EVENT_INFO_1] = "event_info_1",
	[ROW_EVENT_INFO_8] = "event_info_8",
	[ROW_EVENT_INFO_64] = "event_info_64",
};

/*
 * Events for the programmable hardware counters (3 and up), tried in this
 * order. The first three are the ones QEMU's virt machine maps to counters
 * (its riscv,event-to-mhpmcounters); the others are tried in case a host
 * offers them. Events the host cannot count fail config matching.
 */
static const unsigned long prog_events[] = {
	CACHE_EVENT(C_DTLB, OP_READ, RES_MISS),
	CACHE_EVENT(C_DTLB, OP_WRITE, RES_MISS),
	CACHE_EVENT(C_ITLB, OP_READ, RES_MISS),
	HW_EVENT(SBI_PMU_HW_CACHE_REFERENCES),
	HW_EVENT(SBI_PMU_HW_CACHE_MISSES),
	HW_EVENT(SBI_PMU_HW_BRANCH_INSTRUCTIONS),
	HW_EVENT(SBI_PMU_HW_BRANCH_MISSES),
	HW_EVENT(SBI_PMU_HW_BUS_CYCLES),
	HW_EVENT(SBI_PMU_HW_REF_CPU_CYCLES),
	CACHE_EVENT(C_L1D, OP_READ, RES_ACCESS),
	CACHE_EVENT(C_L1D, OP_READ, RES_MISS),
	CACHE_EVENT(C_L1I, OP_READ, RES_MISS),
	CACHE_EVENT(C_LL, OP_READ, RES_MISS),
	CACHE_EVENT(C_BPU, OP_READ, RES_MISS),
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

/* Guest: config matching of hardware event @eidx on counters 0 + @mask. */
static long config_hw(unsigned long mask, unsigned long eidx, unsigned long *ctr)
{
	struct sbiret r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0, eidx);

	if (r.error)
		return r.error;
	*ctr = r.value;
	GUEST_SYNC_ARGS(SYNC_COUNTER, r.value, eidx, 0, 0);
	return 0;
}

/* Guest: configures cycles, which KVM puts on counter 0. */
static void config_cycles(void)
{
	unsigned long ctr = -1UL;
	long err = config_hw(1UL << 0, HW_EVENT(SBI_PMU_HW_CPU_CYCLES), &ctr);

	__GUEST_ASSERT(!err && ctr == 0, "cfg_match cycles: %ld, counter %lu", err, ctr);
}

/*
 * Completes the hardware counter set (base 0) around cycles on counter 0:
 * instructions (counter 2), then as many programmable counters as the host
 * gives, with the events of prog_events[] in turn, up to SET_COUNTERS
 * counters. Should the host offer fewer, firmware counters from @fw_base
 * fill the set. Returns the set's mask.
 */
static unsigned long config_hw_set(unsigned long fw_base)
{
	unsigned long num = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	unsigned long prog = (num >= 64 ? ~0UL : (1UL << num) - 1) & ~7UL;
	unsigned long supported[ARRAY_SIZE(prog_events)];
	unsigned long set = 1UL << 0, ctr = -1UL;
	int n = 1, nsup = 0;
	long err;

	err = config_hw(1UL << 2, HW_EVENT(SBI_PMU_HW_INSTRUCTIONS), &ctr);
	__GUEST_ASSERT(!err && ctr == 2, "cfg_match instructions: %ld, counter %lu", err, ctr);
	set |= 1UL << ctr;
	n++;
	/* Each event once: the ones that fail are not offered. */
	for (unsigned long i = 0; i < ARRAY_SIZE(prog_events) && n < SET_COUNTERS; i++) {
		if (config_hw(prog, prog_events[i], &ctr))
			continue;
		supported[nsup++] = prog_events[i];
		set |= 1UL << ctr;
		n++;
	}
	/* Then the offered ones again, until the set or the counters run out. */
	for (int i = 0; nsup && n < SET_COUNTERS; i++, n++) {
		if (config_hw(prog, supported[i % nsup], &ctr))
			break;
		set |= 1UL << ctr;
	}
	for (int i = 0; n < SET_COUNTERS; i++, n++) {
		set |= 1UL << (fw_base + i);
		GUEST_SYNC_ARGS(SYNC_COUNTER, fw_base + i, FW_EVENT(i), 0, 0);
	}
	return set;
}

/* Guest: one stop + start pair outside the timed loop; both must succeed. */
static void check_pair(unsigned long mask, unsigned long stop_flags, unsigned long start_flags)
{
	long e1 = pmu(SBI_EXT_PMU_COUNTER_STOP, 0, mask, stop_flags, 0).error;
	long e2 = pmu(SBI_EXT_PMU_COUNTER_START, 0, mask, start_flags, 0).error;

	__GUEST_ASSERT(!e1 && !e2, "mask %#lx: stop %ld, start %ld", mask, e1, e2);
}

#define MEASURE_N(row, n, body) do {					\
	const unsigned long __row = (row), __n = (n);			\
	unsigned long __t0;						\
									\
	if (!(rows & (1UL << __row)))					\
		break;							\
	__t0 = csr_read(CSR_TIME);					\
	for (unsigned long __i = 0; __i < __n; __i++) {			\
		body;							\
	}								\
	GUEST_SYNC_ARGS(__row, csr_read(CSR_TIME) - __t0, __n, 0, 0);	\
} while (0)
#define MEASURE(row, body)	MEASURE_N(row, iters, body)

/*
 * The hardware rows; @fw_base is the first of the firmware counters. The
 * 1-counter rows run with cycles as the only hardware counter: a perf
 * event enabled reschedules every running event of its context, so other
 * running hardware counters would add their own cost to each start.
 */
static void hw_rows(unsigned long fw_base)
{
	unsigned long set;
	long err;

	config_cycles();
	pmu(SBI_EXT_PMU_COUNTER_START, 0, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 0);
	if (rows & (1UL << ROW_HW_PAIR_1))
		check_pair(1, 0, 0);
	MEASURE(ROW_HW_PAIR_1, {
		pmu(SBI_EXT_PMU_COUNTER_STOP, 0, 1, 0, 0);
		pmu(SBI_EXT_PMU_COUNTER_START, 0, 1, 0, 0);
	});
	if (rows & (1UL << ROW_HW_SNAP_PAIR_1))
		check_pair(1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, SBI_PMU_START_FLAG_INIT_SNAPSHOT);
	MEASURE(ROW_HW_SNAP_PAIR_1, {
		pmu(SBI_EXT_PMU_COUNTER_STOP, 0, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
		pmu(SBI_EXT_PMU_COUNTER_START, 0, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	});
	set = config_hw_set(fw_base);
	/* Counter 0 and the firmware counters are running already. */
	pmu(SBI_EXT_PMU_COUNTER_START, 0, set & ~1UL, SBI_PMU_START_FLAG_SET_INIT_VALUE, 0);
	if (rows & (1UL << ROW_HW_PAIR_8))
		check_pair(set, 0, 0);
	MEASURE(ROW_HW_PAIR_8, {
		pmu(SBI_EXT_PMU_COUNTER_STOP, 0, set, 0, 0);
		pmu(SBI_EXT_PMU_COUNTER_START, 0, set, 0, 0);
	});
	if (rows & (1UL << ROW_HW_SNAP_PAIR_8))
		check_pair(set, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, SBI_PMU_START_FLAG_INIT_SNAPSHOT);
	MEASURE(ROW_HW_SNAP_PAIR_8, {
		pmu(SBI_EXT_PMU_COUNTER_STOP, 0, set, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
		pmu(SBI_EXT_PMU_COUNTER_START, 0, set, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
	});
	/* The counters' values for the host to print: they counted. */
	err = pmu(SBI_EXT_PMU_COUNTER_STOP, 0, set, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0).error;
	__GUEST_ASSERT(!err, "final stop: %ld", err);
	GUEST_SYNC_ARGS(SYNC_SET_DONE, set, 0, 0, 0);
}

/*
 * event_get_info over 1, 8 and 64 entries, the events a driver asks about
 * at probe: each hardware, cache and raw event creates and releases a host
 * perf event, so these rows run fewer calls (a 64th of the others for 64
 * entries).
 */
static void event_info_rows(void)
{
	static const struct { u32 idx; u64 data; } mix[] = {
		{ SBI_PMU_HW_CPU_CYCLES, 0 },
		{ SBI_PMU_HW_INSTRUCTIONS, 0 },
		{ CACHE_EVENT(C_L1D, OP_READ, RES_ACCESS), 0 },
		{ FW_EVENT(6), 0 },				/* IPI_SENT */
		{ SBI_PMU_HW_BRANCH_INSTRUCTIONS, 0 },
		{ 2 << 16, 0x1 },				/* a raw event */
		{ FW_EVENT(5), 0 },				/* SET_TIMER */
		{ FW_EVENT(8), 0 },				/* FENCE_I_SENT */
	};
	u64 *e = (u64 *)EVENT_ARRAY;

	for (int i = 0; i < 64; i++) {
		e[2 * i] = mix[i % ARRAY_SIZE(mix)].idx;
		e[2 * i + 1] = mix[i % ARRAY_SIZE(mix)].data;
	}
	/*
	 * Enough calls that one host interrupt more or less in the loop stays
	 * below the 0.1% two runs may differ by (2,500 single-entry calls
	 * once differed by 0.3%).
	 */
	MEASURE_N(ROW_EVENT_INFO_1, iters,
		  pmu(SBI_EXT_PMU_EVENT_GET_INFO, EVENT_ARRAY, 0, 1, 0));
	MEASURE_N(ROW_EVENT_INFO_8, iters / 4 ?: 1,
		  pmu(SBI_EXT_PMU_EVENT_GET_INFO, EVENT_ARRAY, 0, 8, 0));
	MEASURE_N(ROW_EVENT_INFO_64, iters / 16 ?: 1,
		  pmu(SBI_EXT_PMU_EVENT_GET_INFO, EVENT_ARRAY, 0, 64, 0));
}

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

	/* Hardware counters, backed by host perf events, after every firmware row. */
	if (rows & HW_ROWS)
		hw_rows(base);
	event_info_rows();
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

/* Host: the name of an event of the hardware set. */
static const char *event_name(unsigned long eidx, char *buf, size_t len)
{
	static const char * const cache[] = { "L1-dcache", "L1-icache", "LLC", "dTLB", "iTLB",
					      "branch", "node" };
	static const char * const op[] = { "load", "store", "prefetch" };
	unsigned long code = eidx & 0xffff;

	switch (EVENT_TYPE(eidx)) {
	case 0:
		if (code == SBI_PMU_HW_CPU_CYCLES)
			return "cycles";
		if (code == SBI_PMU_HW_INSTRUCTIONS)
			return "instructions";
		snprintf(buf, len, "hw-event-%lu", code);
		return buf;
	case 1:
		if ((code >> 3) < ARRAY_SIZE(cache) && ((code >> 1) & 3) < ARRAY_SIZE(op)) {
			snprintf(buf, len, "%s-%s-%s", cache[code >> 3], op[(code >> 1) & 3],
				 code & 1 ? "misses" : "accesses");
			return buf;
		}
		break;
	case 0xf:
		snprintf(buf, len, "firmware-%lu", code);
		return buf;
	}
	snprintf(buf, len, "event-%#lx", eidx);
	return buf;
}

/*
 * Host: one BENCH_CTR line per counter of the hardware set @mask (base 0),
 * with its event from @event[] and the value the final stop saved in its
 * slot (word 1 + counter of the area).
 */
static void print_set(struct kvm_vm *vm, unsigned long mask, const unsigned long *event)
{
	const u64 *area = addr_gpa2hva(vm, AREA);
	char name[64];

	for (int i = 0; i < 64; i++) {
		if (!(mask & (1UL << i)))
			continue;
		printf("BENCH_CTR %d %s %#lx %s %llu\n", i,
		       EVENT_TYPE(event[i]) == 0xf ? "fw" : "hw", event[i],
		       event_name(event[i], name, sizeof(name)), (unsigned long long)area[1 + i]);
	}
}

int main(int argc, char *argv[])
{
	unsigned long set_event[64] = { 0 };
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
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA, SLOT_AREA, 2, 0);
	virt_map(vm, EVENT_ARRAY, EVENT_ARRAY, 1);
	vcpu_args_set(vcpu, 2, iters, rows);
	while (!done) {
		vcpu_run(vcpu);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			if (uc.args[1] == SYNC_COUNTER) {
				set_event[uc.args[2] & 63] = uc.args[3];
				break;
			}
			if (uc.args[1] == SYNC_SET_DONE) {
				print_set(vm, uc.args[2], set_event);
				break;
			}
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
