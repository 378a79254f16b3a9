// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile-guest fuzzer for the SBI PMU extension.
 *
 * Every vCPU runs, in its own host thread, a seeded sequence of SBI PMU
 * calls. Each vCPU and the host's memslot thread draw from their own
 * random streams, so a seed gives the same choices again; only what
 * depends on timing between threads (whether a call found the memslot
 * away, whether another vCPU was stopped already, when an overflow
 * arrived) can differ from run to run. About half of them are random (num_counters,
 * counter info, config match, start, stop, firmware read, snapshot
 * set_shmem, and unknown functions), with arguments biased towards edges:
 * unaligned, all-ones, unmapped, read-only and last-page addresses, huge
 * bases and masks, reserved flags. The other half are valid steps on
 * counters the vCPU configured: config matching of real hardware events
 * (cycles, instructions, cache and raw events, with and without SKIP_MATCH,
 * CLEAR_VALUE, AUTO_START and the inhibit flags) and of firmware events,
 * starts (plain, SET_INIT_VALUE, INIT_SNAPSHOT), stops (plain, RESET,
 * TAKE_SNAPSHOT) and overflows: a hardware counter started just below its
 * wrap, so that its perf event overflows and KVM raises the PMU overflow
 * interrupt (the guest keeps interrupts disabled and only looks at sip and
 * at the snapshot's overflow bitmap). Each call must return an SBI error
 * code the spec defines, SBI_ERR_FAILED only from a call that accesses the
 * snapshot area (or config matching with SKIP_MATCH of a free counter).
 *
 * Now and then a vCPU stops itself with SBI HSM hart_stop; another vCPU
 * polls hart_get_status and starts it again with hart_start, which makes
 * KVM reset it (its counters and its snapshot registration are dropped).
 * The restarted vCPU runs a few instructions with translation off from an
 * identity-mapped page, turns translation back on and goes on fuzzing from
 * where it stopped. Only one vCPU is stopped at a time, and only while
 * another vCPU has not finished (a finished vCPU still restarts a stopped
 * one before it leaves), so the run cannot deadlock.
 *
 * Meanwhile a host thread moves, deletes and recreates (on another
 * backing), or sets dirty logging on the memslot holding the areas, so
 * snapshot starts and stops race with memslot invalidation. A guest access
 * to an area while its memslot is away exits as MMIO: reads give zero,
 * writes are dropped.
 *
 * Afterwards the host prints how often each path was reached ("# path"
 * lines), checks that the key paths were reached in a long enough run,
 * checks that guest memory outside the pages offered as snapshot areas is
 * unchanged (canary pages sit right after each area page, in both
 * backings, so a misaligned area that spills is caught), then moves the
 * memslot under the areas and tears the VM down with areas registered and
 * counters running. With -k it asks kmemleak for a scan.
 *
 * Usage: pmu_snapshot_fuzz [-s seed] [-n calls per vCPU] [-v vCPUs] [-k]
 */
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
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

#define MAX_VCPUS	4
#define SLOT_BASE	((unsigned long)SZ_1G)
#define SLOT_ID		10
/* Per vCPU: an area page, then a canary page. Then one last page. */
#define SLOT_PAGES	(2 * MAX_VCPUS + 1)
#define SLOT_SIZE	(SLOT_PAGES * 4096UL)
#define AREA(v)		(SLOT_BASE + (2 * (v)) * 4096UL)
#define CANARY(v)	(SLOT_BASE + (2 * (v) + 1) * 4096UL)
#define LAST_PAGE	(SLOT_BASE + (SLOT_PAGES - 1) * 4096UL)
#define RO_PAGE		(SLOT_BASE + 0x100000UL)
#define RO_SLOT_ID	11
#define HOLE		(SLOT_BASE + 0x200000UL)
#define MOVED_BASE	(SLOT_BASE + 0x400000UL)
/* The page a restarted vCPU starts in: identity-mapped code, then records. */
#define STUB_PAGE	(SLOT_BASE + 0x10000000UL)
#define STUB_SLOT_ID	12
#define STUB_RECORDS	0x800
#define CANARY_BYTE	0xc3
#define RO_BYTE		0x5a
/* Each vCPU stops itself about once in this many steps. */
#define HSM_PERIOD	1024
/* The key paths must be reached by runs of at least this many calls per vCPU. */
#define KEY_CALLS	20000

#define SBI_EXT_HSM			0x48534D
#define SBI_HSM_HART_START		0
#define SBI_HSM_HART_STOP		1
#define SBI_HSM_HART_STATUS		2
#define SBI_HSM_STATE_STOPPED		1
#define SBI_ERR_NO_SHMEM		-9
#define SBI_PMU_FW_SET_TIMER		5
#define NR_OUTCOMES			10

#define EV_TYPE(e)		(((e) >> 16) & 0xf)
#define EV_TYPE_FW		0xf
#define EV_CACHE(id, op, res)	((1UL << 16) | ((id) << 3) | ((op) << 1) | (res))
#define EV_RAW			(2UL << 16)
#define EV_FW(code)		((0xfUL << 16) | (code))
#define CACHE_L1D		0
#define CACHE_DTLB		3
#define CACHE_ITLB		4
#define OP_READ			0
#define OP_WRITE		1
#define RES_ACCESS		0
#define RES_MISS		1

#define CFG_INHIBIT_SHIFT	3
#define STOP_FLAGS		(SBI_PMU_STOP_FLAG_RESET | SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT)
#define SIP_PMU_OVF		BIT(IRQ_PMU_OVF)

static unsigned long seed = 1, calls = 20000;
static int nr_vcpus = 2;

/* Paths whose reach is counted by the guest. */
enum {
	P_HW_CFG, P_HW_CFG_AUTO, P_HW_CFG_SKIP, P_FW_CFG,
	P_HW_START, P_HW_START_INIT, P_HW_START_SNAP,
	P_HW_STOP, P_HW_STOP_RESET, P_HW_STOP_SNAP,
	P_SNAP_START, P_SNAP_STOP, P_SNAP_FAILED,
	P_OVF_ARMED, P_OVF_BITMAP, P_OVF_IRQ,
	P_HSM_STOP, P_HSM_START, P_HSM_RESUMED,
	NR_PATHS
};

static const char *const path_names[NR_PATHS] = {
	[P_HW_CFG] = "hw config match succeeded",
	[P_HW_CFG_AUTO] = "hw config match with AUTO_START succeeded",
	[P_HW_CFG_SKIP] = "hw config match with SKIP_MATCH succeeded",
	[P_FW_CFG] = "fw config match succeeded",
	[P_HW_START] = "hw start succeeded",
	[P_HW_START_INIT] = "hw start SET_INIT_VALUE succeeded",
	[P_HW_START_SNAP] = "hw start INIT_SNAPSHOT succeeded",
	[P_HW_STOP] = "hw stop succeeded",
	[P_HW_STOP_RESET] = "hw stop RESET succeeded",
	[P_HW_STOP_SNAP] = "hw stop TAKE_SNAPSHOT succeeded",
	[P_SNAP_START] = "snapshot start succeeded",
	[P_SNAP_STOP] = "snapshot stop succeeded",
	[P_SNAP_FAILED] = "snapshot start/stop FAILED (memslot away)",
	[P_OVF_ARMED] = "hw start just below the wrap succeeded",
	[P_OVF_BITMAP] = "overflow bit seen after TAKE_SNAPSHOT",
	[P_OVF_IRQ] = "PMU overflow interrupt seen pending",
	[P_HSM_STOP] = "HSM hart_stop of a fuzzing vCPU",
	[P_HSM_START] = "HSM hart_start of a stopped vCPU",
	[P_HSM_RESUMED] = "restarted vCPU resumed fuzzing",
};

static const char *const fid_names[] = {
	"num_counters", "counter_get_info", "counter_config_matching", "counter_start",
	"counter_stop", "counter_fw_read", "counter_fw_read_hi", "snapshot_set_shmem",
	"unknown function",
};

static const char *const outcome_names[NR_OUTCOMES] = {
	"success", "FAILED", "NOT_SUPPORTED", "INVALID_PARAM", "DENIED", "INVALID_ADDRESS",
	"ALREADY_AVAILABLE", "ALREADY_STARTED", "ALREADY_STOPPED", "NO_SHMEM",
};

#define NR_FIDS	ARRAY_SIZE(fid_names)

/*
 * A vCPU's fuzzing state. It lives in guest memory, not in registers, so
 * that a vCPU restarted by HSM goes on from where it stopped.
 */
struct vstate {
	u64 s;			/* random state */
	unsigned long id;
	unsigned long calls;	/* SBI PMU calls to make */
	unsigned long ncalls;	/* made so far (the host's memslot thread reads it) */
	unsigned long synced;	/* ncalls / 4096 at the last GUEST_SYNC */
	unsigned long num;	/* counters */
	u64 hw, fw;		/* hardware and firmware counters, from counter info */
	/* The vCPU's view of KVM's state, kept from the calls' results: */
	u64 in_use;		/* configured counters */
	u64 noevent;		/* hardware counters in use whose perf event is gone */
	unsigned long area;	/* registered snapshot area, 0 for none */
	u8 width[64];		/* counter widths (bits - 1) */
};

struct counts {
	u64 fid[NR_FIDS][NR_OUTCOMES];
	u64 path[NR_PATHS];
};

/* Guest globals, set up by the host before the vCPUs run. */
static struct vstate vst[MAX_VCPUS];
static struct counts cnt[MAX_VCPUS];
static struct {
	unsigned long nr_vcpus;
	bool hsm;		/* stop and restart vCPUs */
	unsigned long stub;	/* where hart_start sends a vCPU */
} gcfg;

/*
 * HSM protocol word: the stopped (or stopping) vCPU + 1, whether another
 * vCPU has taken on its restart, and the number of vCPUs done fuzzing.
 */
#define HSM_VICTIM	0xffUL
#define HSM_CLAIMED	0x100UL
#define HSM_DONE	0x10000UL
static u64 hsm_word;

/* What the restart stub loads; one per vCPU in the stub page. */
struct restart_record {
	u64 satp, gp, sp, stvec, entry;
};

/* The offsets hsm_stub's instructions use. */
static_assert(offsetof(struct restart_record, gp) == 8, "gp");
static_assert(offsetof(struct restart_record, sp) == 16, "sp");
static_assert(offsetof(struct restart_record, stvec) == 24, "stvec");
static_assert(offsetof(struct restart_record, entry) == 32, "entry");

/*
 * Where hart_start sends a vCPU: a0 = hart id, a1 = its restart record
 * (in the same identity-mapped page). Translation is off at first, so the
 * code is position-independent; after satp is written it keeps running at
 * the same (identity-mapped) address and jumps to the C entry.
 */
extern char hsm_stub[], hsm_stub_end[];
asm(".pushsection .text\n"
	".balign 4\n"
	".global hsm_stub\n"
	"hsm_stub:\n"
	"	ld	t0, 0(a1)\n"
	"	csrw	satp, t0\n"
	"	sfence.vma\n"
	"	ld	gp, 8(a1)\n"
	"	ld	sp, 16(a1)\n"
	"	ld	t0, 24(a1)\n"
	"	csrw	stvec, t0\n"
	"	csrw	sscratch, a0\n"
	"	ld	t0, 32(a1)\n"
	"	jr	t0\n"
	".global hsm_stub_end\n"
	"hsm_stub_end:\n"
	".popsection\n");

static u64 next(u64 *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static unsigned long pick(u64 *s, const unsigned long *v, int n)
{
	return v[next(s) % n];
}

static unsigned long first_bit(u64 x)
{
	unsigned long i = 0;

	while (!(x & 1)) {
		x >>= 1;
		i++;
	}
	return i;
}

/* A random set bit of @x, which is not 0. */
static unsigned long rand_bit(u64 *s, u64 x)
{
	unsigned long n = 0, k, i;

	for (i = 0; i < 64; i++)
		n += (x >> i) & 1;
	k = next(s) % n;
	for (i = 0; i < 63; i++)
		if (((x >> i) & 1) && !k--)
			break;
	return i;
}

/* Whether @base and @mask name counters that exist (the spec's rule). */
static bool set_valid(unsigned long base, unsigned long mask, unsigned long num)
{
	unsigned long room;

	if (!mask || base >= num)
		return false;
	room = num - base;
	return room >= 64 || !(mask >> room);
}

static unsigned long edge_index(u64 *s, unsigned long num)
{
	const unsigned long v[] = { 0, 1, 2, num - 1, num, num + 1, 31, 32, 63, 64, 65,
				    1UL << 32, 1UL << 63, -1UL, -2UL };

	return next(s) & 1 ? next(s) % 80 : pick(s, v, ARRAY_SIZE(v));
}

static unsigned long edge_mask(u64 *s)
{
	const unsigned long v[] = { 0, 1, 2, 3, 0xff, 0xffff, 1UL << 63, -1UL, 0x80000001UL };

	return next(s) & 1 ? next(s) >> (next(s) % 64) : pick(s, v, ARRAY_SIZE(v));
}

static unsigned long edge_flags(u64 *s)
{
	const unsigned long v[] = { 0, 0, 1, 2, 3, 4, 7, 0xff, 1UL << 63, -1UL };

	return pick(s, v, ARRAY_SIZE(v));
}

static unsigned long edge_address(u64 *s, unsigned long id)
{
	const unsigned long v[] = {
		AREA(id), AREA(id), AREA(id) + 8, AREA(id) + 0x800, AREA(id) + 0xff8,
		LAST_PAGE, RO_PAGE, HOLE, 0, -1UL, -4096UL, 1UL << 63,
	};

	return pick(s, v, ARRAY_SIZE(v));
}

static unsigned long edge_event(u64 *s)
{
	unsigned long type = pick(s, (const unsigned long[]){ 0, 0, 1, 2, 0xf, 0xf, 3, 0xff }, 8);

	return (type << 16) | (next(s) % 40);
}

/* Whether a call with these arguments may access the snapshot area. */
static bool failure_allowed(unsigned long fid, unsigned long flags)
{
	switch (fid) {
	case SBI_EXT_PMU_COUNTER_CFG_MATCH:
		/* SKIP_MATCH of a counter that is not in use */
		return flags & SBI_PMU_CFG_FLAG_SKIP_MATCH;
	case SBI_EXT_PMU_COUNTER_START:
		return flags == SBI_PMU_START_FLAG_INIT_SNAPSHOT;
	case SBI_EXT_PMU_COUNTER_STOP:
		return !(flags & ~STOP_FLAGS) && (flags & SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
	case SBI_EXT_PMU_SNAPSHOT_SET_SHMEM:
		return true;
	}
	return false;
}

/* Whether @value starts counter @c less than 64 Ki events below its wrap. */
static bool below_wrap(struct vstate *v, unsigned long c, u64 value)
{
	unsigned long w = v->width[c & 63];
	u64 top = w >= 63 ? 0 : 1ULL << (w + 1);

	return top - value - 1 < SZ_64K;
}

static u64 near_wrap(struct vstate *v, unsigned long c)
{
	unsigned long w = v->width[c & 63];
	u64 top = w >= 63 ? 0 : 1ULL << (w + 1);

	return top - 1 - next(&v->s) % 4096;
}

/*
 * Keeps the vCPU's view of its counters and area up to date after a call,
 * and counts the paths the call reached.
 */
static void note(struct vstate *v, unsigned long fid, unsigned long a0, unsigned long a1,
		 unsigned long a2, unsigned long a3, struct sbiret r)
{
	u64 *path = cnt[v->id].path;
	bool valid = set_valid(a0, a1, v->num);
	u64 set = valid ? a1 << a0 : 0;
	u64 hw = set & v->in_use & v->hw & ~v->noevent;
	unsigned long c;
	u64 bitmap;

	switch (fid) {
	case SBI_EXT_PMU_COUNTER_CFG_MATCH:
		if (!r.error) {
			c = r.value;
			__GUEST_ASSERT(c < v->num && c != 1 && ((v->hw | v->fw) & BIT(c)),
				       "config match (%lx, %lx, %lx, %lx) gave counter %lu",
				       a0, a1, a2, a3, c);
			v->in_use |= BIT(c);
			v->noevent &= ~BIT(c);
			if (v->hw & BIT(c)) {
				path[P_HW_CFG]++;
				if (a2 & SBI_PMU_CFG_FLAG_AUTO_START)
					path[P_HW_CFG_AUTO]++;
				if (a2 & SBI_PMU_CFG_FLAG_SKIP_MATCH)
					path[P_HW_CFG_SKIP]++;
			} else {
				path[P_FW_CFG]++;
			}
		} else if (r.error == SBI_ERR_NOT_SUPPORTED && valid &&
			   (a2 & SBI_PMU_CFG_FLAG_SKIP_MATCH) && EV_TYPE(a3) != EV_TYPE_FW) {
			/* The counter's old perf event went, no new one came. */
			c = a0 + first_bit(a1);
			if (v->in_use & v->hw & BIT(c))
				v->noevent |= BIT(c);
		}
		break;
	case SBI_EXT_PMU_COUNTER_START:
		if (r.error == SBI_ERR_FAILURE)
			path[P_SNAP_FAILED]++;
		if (r.error)
			break;
		if (a2 == SBI_PMU_START_FLAG_INIT_SNAPSHOT)
			path[P_SNAP_START]++;
		if (!hw)
			break;
		path[P_HW_START]++;
		if (a2 == SBI_PMU_START_FLAG_SET_INIT_VALUE) {
			path[P_HW_START_INIT]++;
			if (below_wrap(v, first_bit(hw), a3))
				path[P_OVF_ARMED]++;
		}
		if (a2 == SBI_PMU_START_FLAG_INIT_SNAPSHOT)
			path[P_HW_START_SNAP]++;
		break;
	case SBI_EXT_PMU_COUNTER_STOP:
		if (r.error == SBI_ERR_FAILURE)
			path[P_SNAP_FAILED]++;
		if (!r.error && (a2 & SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT))
			path[P_SNAP_STOP]++;
		/*
		 * The overflow bits of the stopped counters this vCPU configured
		 * (counters that were already stopped are saved too).
		 */
		if ((!r.error || r.error == SBI_ERR_ALREADY_STOPPED) && valid &&
		    a2 == SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT && v->area == AREA(v->id)) {
			bitmap = READ_ONCE(*(u64 *)AREA(v->id));
			if (bitmap & a1 & (v->in_use >> a0))
				path[P_OVF_BITMAP]++;
		}
		if (!r.error && hw) {
			path[P_HW_STOP]++;
			if (a2 & SBI_PMU_STOP_FLAG_RESET)
				path[P_HW_STOP_RESET]++;
			if (a2 & SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT)
				path[P_HW_STOP_SNAP]++;
		}
		/* RESET releases the counters unless the flags or the set are refused. */
		if ((a2 & SBI_PMU_STOP_FLAG_RESET) && !(a2 & ~STOP_FLAGS) && valid &&
		    r.error != SBI_ERR_NO_SHMEM) {
			v->in_use &= ~set;
			v->noevent &= ~set;
		}
		break;
	case SBI_EXT_PMU_SNAPSHOT_SET_SHMEM:
		if (!r.error)
			v->area = a0 == -1UL && a1 == -1UL ? 0 : a0;
		else if (r.error == SBI_ERR_FAILURE)
			v->area = 0;
		break;
	}
}

/* One SBI PMU call: checks the error code, counts it, keeps the view up to date. */
static struct sbiret pmu_call(struct vstate *v, unsigned long fid, unsigned long a0,
			      unsigned long a1, unsigned long a2, unsigned long a3,
			      unsigned long a4)
{
	struct counts *c = &cnt[v->id];
	struct sbiret r;

	r = sbi_ecall(SBI_EXT_PMU, fid, a0, a1, a2, a3, a4, 0);
	__GUEST_ASSERT(r.error <= 0 && r.error > -NR_OUTCOMES,
		       "call %lu: fid %lu (%lx, %lx, %lx, %lx) returned error %ld",
		       v->ncalls, fid, a0, a1, a2, a3, r.error);
	__GUEST_ASSERT(r.error != SBI_ERR_FAILURE || failure_allowed(fid, a2),
		       "call %lu: fid %lu (%lx, %lx, %lx, %lx) returned FAILED",
		       v->ncalls, fid, a0, a1, a2, a3);
	c->fid[fid < NR_FIDS - 1 ? fid : NR_FIDS - 1][-r.error]++;
	v->ncalls++;
	note(v, fid, a0, a1, a2, a3, r);
	/* Interrupts stay disabled: an overflow only shows as pending. */
	if (csr_read(CSR_SIP) & SIP_PMU_OVF) {
		c->path[P_OVF_IRQ]++;
		csr_clear(CSR_SIP, SIP_PMU_OVF);
	}
	return r;
}

/* One call with random arguments biased to the edges. */
static void random_call(struct vstate *v)
{
	unsigned long fid = next(&v->s) % 9, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0;
	u64 *s = &v->s;

	switch (fid) {
	case SBI_EXT_PMU_COUNTER_GET_INFO:
	case SBI_EXT_PMU_COUNTER_FW_READ:
	case SBI_EXT_PMU_COUNTER_FW_READ_HI:
		a0 = edge_index(s, v->num);
		break;
	case SBI_EXT_PMU_COUNTER_CFG_MATCH:
		a0 = edge_index(s, v->num);
		a1 = edge_mask(s);
		a2 = next(s) & 3 ? next(s) & 0xff : -1UL;
		a3 = edge_event(s);
		a4 = next(s);
		break;
	case SBI_EXT_PMU_COUNTER_START:
		a0 = edge_index(s, v->num);
		a1 = edge_mask(s);
		a2 = edge_flags(s);
		a3 = next(s) & 1 ? -next(s) % 100000 : next(s);
		break;
	case SBI_EXT_PMU_COUNTER_STOP:
		a0 = edge_index(s, v->num);
		a1 = edge_mask(s);
		a2 = edge_flags(s);
		break;
	case SBI_EXT_PMU_SNAPSHOT_SET_SHMEM:
		a0 = edge_address(s, v->id);
		a1 = pick(s, (const unsigned long[]){ 0, 0, 0, 0, 1, -1UL }, 6);
		a2 = next(s) % 8 ? 0 : edge_flags(s);
		if (next(s) % 16 == 0) {
			a0 = -1UL;
			a1 = -1UL;
		}
		break;
	case 8:
		fid = next(s) & 1 ? 8 : next(s);
		a0 = next(s);
		break;
	}
	pmu_call(v, fid, a0, a1, a2, a3, a4);
}

/* Whether the registered area is a page of the areas' memslot. */
static bool area_in_slot(struct vstate *v)
{
	return v->area == AREA(v->id) || v->area == LAST_PAGE;
}

/*
 * A set of counters for a start or stop, mostly configured hardware
 * counters: returns the mask, *base the base.
 */
static unsigned long pick_set(struct vstate *v, unsigned long *base)
{
	u64 pool = v->in_use & v->hw & ~v->noevent;
	unsigned long c, r = next(&v->s) % 10;

	if (!pool || next(&v->s) % 4 == 0)
		pool = v->in_use;
	if (!pool)
		pool = v->hw;
	c = rand_bit(&v->s, pool);
	if (r < 6) {
		*base = c;
		return 1;
	}
	*base = 0;
	return r < 8 ? BIT(c) : pool;
}

static void valid_cfg_hw(struct vstate *v)
{
	static const unsigned long events[] = {
		SBI_PMU_HW_CPU_CYCLES, SBI_PMU_HW_CPU_CYCLES, SBI_PMU_HW_CPU_CYCLES,
		SBI_PMU_HW_INSTRUCTIONS, SBI_PMU_HW_INSTRUCTIONS, SBI_PMU_HW_INSTRUCTIONS,
		EV_CACHE(CACHE_DTLB, OP_READ, RES_MISS), EV_CACHE(CACHE_DTLB, OP_WRITE, RES_MISS),
		EV_CACHE(CACHE_ITLB, OP_READ, RES_MISS), EV_CACHE(CACHE_ITLB, OP_READ, RES_MISS),
		EV_CACHE(CACHE_L1D, OP_READ, RES_ACCESS), EV_RAW, EV_RAW,
		SBI_PMU_HW_CACHE_REFERENCES, SBI_PMU_HW_BRANCH_MISSES, SBI_PMU_HW_REF_CPU_CYCLES,
	};
	static const unsigned long how[] = {
		0, SBI_PMU_CFG_FLAG_CLEAR_VALUE, SBI_PMU_CFG_FLAG_AUTO_START,
		SBI_PMU_CFG_FLAG_CLEAR_VALUE | SBI_PMU_CFG_FLAG_AUTO_START,
	};
	u64 *s = &v->s, used = v->in_use & v->hw;
	unsigned long ev = pick(s, events, ARRAY_SIZE(events)), flags, base = 0, mask, data = 0;

	flags = pick(s, how, ARRAY_SIZE(how));
	if (next(s) % 4 == 0)
		flags |= (next(s) & 0x1f) << CFG_INHIBIT_SHIFT;
	if (ev == EV_RAW)
		data = next(s) & 1 ? next(s) & 0xffffffffffffUL :
				     pick(s, (const unsigned long[]){ 0, 1, 2, 0x19, -1UL }, 5);
	if (used && next(s) % 5 == 0) {
		/* Reconfigure a counter in use. */
		flags |= SBI_PMU_CFG_FLAG_SKIP_MATCH;
		mask = BIT(rand_bit(s, used));
		if (next(s) & 1) {
			base = first_bit(mask);
			mask = 1;
		}
	} else {
		switch (next(s) % 4) {
		case 0:
			mask = v->hw;
			break;
		case 1:
			mask = v->hw & ~v->in_use;
			break;
		case 2:
			/* the programmable counters only */
			mask = v->hw & ~(BIT(0) | BIT(2));
			break;
		default:
			base = 3;
			mask = v->hw >> 3;
			break;
		}
		if (!mask) {
			base = 0;
			mask = v->hw;
		}
	}
	pmu_call(v, SBI_EXT_PMU_COUNTER_CFG_MATCH, base, mask, flags, ev, data);
}

static void valid_cfg_fw(struct vstate *v)
{
	u64 *s = &v->s, used = v->in_use & v->fw;
	unsigned long flags = pick(s, (const unsigned long[]){ 0, SBI_PMU_CFG_FLAG_AUTO_START,
							SBI_PMU_CFG_FLAG_CLEAR_VALUE }, 3);
	unsigned long base = 0, mask = v->fw;

	if (used && next(s) % 4 == 0) {
		flags |= SBI_PMU_CFG_FLAG_SKIP_MATCH;
		base = rand_bit(s, used);
		mask = 1;
	} else if (next(s) & 1) {
		base = first_bit(v->fw);
		mask = v->fw >> base;
	}
	pmu_call(v, SBI_EXT_PMU_COUNTER_CFG_MATCH, base, mask, flags, EV_FW(next(s) % 24), 0);
}

static void valid_start(struct vstate *v)
{
	unsigned long base, mask = pick_set(v, &base), r = next(&v->s) % 10, value = 0, i;
	unsigned long flags = 0;

	if (r >= 3 && r < 7) {
		flags = SBI_PMU_START_FLAG_SET_INIT_VALUE;
		value = next(&v->s) & 1 ? near_wrap(v, base + first_bit(mask)) :
					  next(&v->s) % 100000;
	} else if (r >= 7) {
		flags = SBI_PMU_START_FLAG_INIT_SNAPSHOT;
		/* The slots are relative to the base. */
		for (i = 0; area_in_slot(v) && i < 64; i++)
			if ((mask >> i) & 1)
				WRITE_ONCE(((u64 *)v->area)[1 + i],
					   next(&v->s) & 1 ? near_wrap(v, base + i) :
							     next(&v->s) % 100000);
	}
	pmu_call(v, SBI_EXT_PMU_COUNTER_START, base, mask, flags, value, 0);
}

static void valid_stop(struct vstate *v)
{
	static const unsigned long how[] = {
		0, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT,
		SBI_PMU_STOP_FLAG_RESET, STOP_FLAGS,
	};
	unsigned long base, mask = pick_set(v, &base);

	pmu_call(v, SBI_EXT_PMU_COUNTER_STOP, base, mask, pick(&v->s, how, ARRAY_SIZE(how)), 0, 0);
}

/* One valid call, mostly on the counters this vCPU configured. */
static void valid_step(struct vstate *v)
{
	u64 *s = &v->s;
	unsigned long r = next(s) % 100;
	u64 fw;

	if (r < 8) {
		if (v->area == AREA(v->id) && next(s) % 4 == 0)
			pmu_call(v, SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, -1UL, -1UL, 0, 0, 0);
		else
			pmu_call(v, SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA(v->id), 0, 0, 0, 0);
	} else if (r < 33) {
		valid_cfg_hw(v);
	} else if (r < 38) {
		valid_cfg_fw(v);
	} else if (r < 63) {
		valid_start(v);
	} else if (r < 93) {
		valid_stop(v);
	} else {
		fw = v->in_use & v->fw ? v->in_use & v->fw : v->fw;
		pmu_call(v, SBI_EXT_PMU_COUNTER_FW_READ, rand_bit(s, fw), 0, 0, 0, 0);
	}
}

/*
 * A hardware counter started just below its wrap, a few instructions,
 * then, half of the time, a stop with TAKE_SNAPSHOT; otherwise the counter
 * runs on until a later stop. The overflow shows in the bitmap and as a
 * pending interrupt (the host's overflow interrupt may come a few
 * milliseconds late on QEMU).
 */
static void overflow_seq(struct vstate *v)
{
	static const unsigned long events[] = {
		SBI_PMU_HW_CPU_CYCLES, SBI_PMU_HW_INSTRUCTIONS,
		EV_CACHE(CACHE_ITLB, OP_READ, RES_MISS),
	};
	u64 *s = &v->s, *area = (u64 *)AREA(v->id);
	unsigned long c, value, spin;
	struct sbiret r;

	if (v->area != AREA(v->id))
		pmu_call(v, SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA(v->id), 0, 0, 0, 0);
	r = pmu_call(v, SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, v->hw,
		     next(s) & 1 ? SBI_PMU_CFG_FLAG_CLEAR_VALUE : 0,
		     pick(s, events, ARRAY_SIZE(events)), 0);
	if (r.error)
		return;
	c = r.value;
	value = near_wrap(v, c);
	if (next(s) & 1) {
		pmu_call(v, SBI_EXT_PMU_COUNTER_START, c, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE,
			 value, 0);
	} else {
		if (v->area == AREA(v->id))
			WRITE_ONCE(area[1], value);
		pmu_call(v, SBI_EXT_PMU_COUNTER_START, c, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT,
			 0, 0);
	}
	for (spin = next(s) % 256; spin; spin--)
		asm volatile("nop");
	if (next(s) & 1)
		return;
	pmu_call(v, SBI_EXT_PMU_COUNTER_STOP, c, 1,
		 next(s) % 4 ? SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT : STOP_FLAGS, 0, 0);
	if (next(s) & 1)
		pmu_call(v, SBI_EXT_PMU_COUNTER_STOP, c, 1, SBI_PMU_STOP_FLAG_RESET, 0, 0);
}

/* Restarts the stopped vCPU, unless there is none or another vCPU does. */
static void hsm_serve(struct vstate *v)
{
	u64 w = __atomic_load_n(&hsm_word, __ATOMIC_ACQUIRE);
	unsigned long target;
	struct sbiret r;

	if (!(w & HSM_VICTIM) || (w & HSM_CLAIMED) || (w & HSM_VICTIM) == v->id + 1)
		return;
	if (!__atomic_compare_exchange_n(&hsm_word, &w, w | HSM_CLAIMED, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	target = (w & HSM_VICTIM) - 1;
	/* It stops right after it set the word. */
	while (sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_STATUS, target, 0, 0, 0, 0, 0).value !=
	       SBI_HSM_STATE_STOPPED)
		;
	r = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_START, target, gcfg.stub,
		      gcfg.stub + STUB_RECORDS + target * sizeof(struct restart_record), 0, 0, 0);
	__GUEST_ASSERT(!r.error, "hart_start(%lu) = %ld", target, r.error);
	cnt[v->id].path[P_HSM_START]++;
}

/*
 * Stops this vCPU, if no other is stopped and another has not finished
 * (and so will restart it). On success it does not return: the vCPU
 * comes back in guest_resume().
 */
static void hsm_stop_self(struct vstate *v)
{
	u64 w = __atomic_load_n(&hsm_word, __ATOMIC_ACQUIRE);
	struct sbiret r;

	do {
		if ((w & (HSM_VICTIM | HSM_CLAIMED)) || w / HSM_DONE + 1 >= gcfg.nr_vcpus)
			return;
	} while (!__atomic_compare_exchange_n(&hsm_word, &w, w | (v->id + 1), false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	cnt[v->id].path[P_HSM_STOP]++;
	r = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_STOP, 0, 0, 0, 0, 0, 0);
	__GUEST_ASSERT(0, "hart_stop returned %ld", r.error);
}

static void fuzz(struct vstate *v)
{
	unsigned long r;

	while (v->ncalls < v->calls) {
		if (gcfg.hsm)
			hsm_serve(v);
		r = next(&v->s) % 100;
		if (r < 45)
			random_call(v);
		else if (r < 96)
			valid_step(v);
		else
			overflow_seq(v);
		if (next(&v->s) % HSM_PERIOD == 0 && gcfg.hsm)
			hsm_stop_self(v);
		if (v->ncalls / 4096 != v->synced) {
			v->synced = v->ncalls / 4096;
			GUEST_SYNC(v->ncalls);
		}
	}
	/* Done: restart a stopped vCPU before leaving. */
	__atomic_fetch_add(&hsm_word, HSM_DONE, __ATOMIC_ACQ_REL);
	while (gcfg.hsm && (__atomic_load_n(&hsm_word, __ATOMIC_ACQUIRE) & HSM_VICTIM))
		hsm_serve(v);
	/* End with an area registered and counters running. */
	pmu_call(v, SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA(v->id), 0, 0, 0, 0);
	pmu_call(v, SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, v->hw, SBI_PMU_CFG_FLAG_AUTO_START,
		 SBI_PMU_HW_INSTRUCTIONS, 0);
	pmu_call(v, SBI_EXT_PMU_COUNTER_START, 2, 1, 0, 0, 0);
	pmu_call(v, SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, v->fw, SBI_PMU_CFG_FLAG_AUTO_START,
		 EV_FW(SBI_PMU_FW_SET_TIMER), 0);
	GUEST_DONE();
}

static void guest_code(unsigned long id)
{
	struct vstate *v = &vst[id];
	union sbi_pmu_ctr_info info;
	struct sbiret r;
	unsigned long i;

	v->num = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0, 0, 0).value;
	for (i = 0; i < v->num && i < 64; i++) {
		r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_GET_INFO, i, 0, 0, 0, 0, 0);
		if (r.error)
			continue;
		info.value = r.value;
		v->width[i] = info.width;
		if (info.type == SBI_PMU_CTR_TYPE_FW)
			v->fw |= BIT(i);
		else
			v->hw |= BIT(i);
	}
	__GUEST_ASSERT(v->hw && v->fw, "hardware counters %lx, firmware counters %lx",
		       v->hw, v->fw);
	fuzz(v);
}

/* A vCPU restarted by HSM (through hsm_stub): KVM reset its PMU. */
static void guest_resume(unsigned long id)
{
	struct vstate *v = &vst[id];

	v->in_use = 0;
	v->noevent = 0;
	v->area = 0;
	cnt[id].path[P_HSM_RESUMED]++;
	__atomic_fetch_and(&hsm_word, ~(HSM_VICTIM | HSM_CLAIMED), __ATOMIC_RELEASE);
	fuzz(v);
}

static struct kvm_vm *vm;
static struct vstate *guest_vst;
static void *backing[2];
static int cur_backing;
static bool slots_done;
static unsigned long mmio_exits, dirty_pages;

enum { M_MOVE, M_RECREATE, M_DIRTY_LOG, NR_MOPS };
static unsigned long slot_ops[NR_MOPS];
static const char *const mop_names[NR_MOPS] = {
	[M_MOVE] = "memslot moved away and back",
	[M_RECREATE] = "memslot deleted and recreated on another backing",
	[M_DIRTY_LOG] = "memslot dirty logging on and off",
};

static void *vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct kvm_run *run = vcpu->run;
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_MMIO) {
			/* The guest touched an area while its memslot was away. */
			TEST_ASSERT(run->mmio.phys_addr >= SLOT_BASE &&
				    run->mmio.phys_addr + run->mmio.len <= SLOT_BASE + SLOT_SIZE,
				    "vCPU %u: MMIO at 0x%llx", vcpu->id, run->mmio.phys_addr);
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
			__atomic_fetch_add(&mmio_exits, 1, __ATOMIC_RELAXED);
			continue;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			continue;
		case UCALL_PRINTF:
			printf("# vCPU %u: %s", vcpu->id, uc.buffer);
			continue;
		case UCALL_DONE:
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			return NULL;
		default:
			TEST_FAIL("vCPU %u: unexpected exit %s", vcpu->id,
				  exit_reason_str(run->exit_reason));
		}
	}
}

/* The areas' memslot at @gpa on the current backing; size 0 deletes it. */
static void set_slot(u32 flags, unsigned long gpa, unsigned long size)
{
	vm_set_user_memory_region(vm, SLOT_ID, flags, gpa, size, backing[cur_backing]);
}

/* Calls the vCPUs made so far. */
static unsigned long progress(void)
{
	unsigned long sum = 0;
	int v;

	for (v = 0; v < nr_vcpus; v++)
		sum += READ_ONCE(guest_vst[v].ncalls);
	return sum;
}

/* Waits until the vCPUs made @target calls in all; false if they finished first. */
static bool wait_calls(unsigned long target)
{
	while (progress() < target) {
		if (READ_ONCE(slots_done))
			return false;
		usleep(300);
	}
	return true;
}

/*
 * Every 500 to 2500 calls, takes the areas' memslot away for 8 to 400
 * calls, in one of three ways, and puts it back.
 */
static void *memslot_thread(void *arg)
{
	u64 s = seed * 0x9e3779b97f4a7c15ULL + 0x5107;
	unsigned long at = 0, op, log[1];
	int i;

	for (;;) {
		at += 500 + next(&s) % 2000;
		if (!wait_calls(at))
			return NULL;
		op = next(&s) % NR_MOPS;
		switch (op) {
		case M_MOVE:
			set_slot(0, MOVED_BASE, SLOT_SIZE);
			break;
		case M_RECREATE:
			set_slot(0, SLOT_BASE, 0);
			break;
		case M_DIRTY_LOG:
			set_slot(KVM_MEM_LOG_DIRTY_PAGES, SLOT_BASE, SLOT_SIZE);
			break;
		}
		at += 8 + next(&s) % 400;
		wait_calls(at);
		switch (op) {
		case M_RECREATE:
			cur_backing ^= 1;
			break;
		case M_DIRTY_LOG:
			kvm_vm_get_dirty_log(vm, SLOT_ID, log);
			for (i = 0; i < SLOT_PAGES; i++)
				dirty_pages += (log[0] >> i) & 1;
			break;
		}
		set_slot(0, SLOT_BASE, SLOT_SIZE);
		slot_ops[op]++;
	}
}

/* Whether the canary pages of @b are unchanged. */
static bool canaries_intact(u8 *b)
{
	bool ok = true;
	int v;

	for (v = 0; v < MAX_VCPUS; v++)
		ok &= all_bytes(b + CANARY(v) - SLOT_BASE, 4096, CANARY_BYTE);
	for (v = nr_vcpus; v < MAX_VCPUS; v++)
		ok &= all_bytes(b + AREA(v) - SLOT_BASE, 4096, CANARY_BYTE);
	return ok;
}

/* Sets up the page hart_start sends vCPUs to. */
static void setup_stub(struct kvm_vcpu **vcpus)
{
	struct restart_record *rec;
	u8 *page;
	int v;

	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, STUB_PAGE, STUB_SLOT_ID, 1, 0);
	virt_map(vm, STUB_PAGE, STUB_PAGE, 1);
	page = addr_gpa2hva(vm, STUB_PAGE);
	TEST_ASSERT(hsm_stub_end - hsm_stub <= STUB_RECORDS, "restart stub too long");
	memcpy(page, hsm_stub, hsm_stub_end - hsm_stub);
	rec = (struct restart_record *)(page + STUB_RECORDS);
	for (v = 0; v < nr_vcpus; v++) {
		vcpu_get_reg(vcpus[v], RISCV_GENERAL_CSR_REG(satp), &rec[v].satp);
		vcpu_get_reg(vcpus[v], RISCV_CORE_REG(regs.gp), &rec[v].gp);
		vcpu_get_reg(vcpus[v], RISCV_CORE_REG(regs.sp), &rec[v].sp);
		vcpu_get_reg(vcpus[v], RISCV_GENERAL_CSR_REG(stvec), &rec[v].stvec);
		rec[v].entry = (unsigned long)guest_resume;
	}
	gcfg.stub = STUB_PAGE;
}

/* One TAP line: path @name was reached (skipped in short runs or if impossible). */
static void key_path(const char *name, u64 count, bool possible)
{
	if (!possible)
		ksft_test_result_skip("path reached: %s (not possible in this run)\n", name);
	else if (calls < KEY_CALLS)
		ksft_test_result_skip("path reached: %s (fewer than %d calls per vCPU)\n", name,
				      KEY_CALLS);
	else
		ksft_test_result(count > 0, "path reached: %s\n", name);
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	pthread_t threads[MAX_VCPUS], slot_thread;
	struct counts total = {};
	unsigned long ncalls = 0;
	bool kmemleak = false;
	int opt, v, f, o, p;

	while ((opt = getopt(argc, argv, "s:n:v:k")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			calls = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			nr_vcpus = atoi(optarg);
			break;
		case 'k':
			kmemleak = true;
			break;
		default:
			exit(KSFT_FAIL);
		}
	}
	TEST_ASSERT(nr_vcpus >= 1 && nr_vcpus <= MAX_VCPUS, "1 to %d vCPUs", MAX_VCPUS);

	ksft_print_header();
	ksft_set_plan(9 + kmemleak);
	ksft_print_msg("seed %lu, %lu calls per vCPU, %d vCPUs: %lu calls\n", seed, calls,
		       nr_vcpus, calls * nr_vcpus);

	vm = vm_create_with_vcpus(nr_vcpus, guest_code, vcpus);
	for (v = 0; v < 2; v++) {
		backing[v] = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		TEST_ASSERT(backing[v] != MAP_FAILED, "mmap of the areas' backing");
		memset(backing[v], CANARY_BYTE, SLOT_SIZE);
	}
	set_slot(0, SLOT_BASE, SLOT_SIZE);
	virt_map(vm, SLOT_BASE, SLOT_BASE, SLOT_PAGES);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, RO_PAGE, RO_SLOT_ID, 1,
				    KVM_MEM_READONLY);
	memset(addr_gpa2hva(vm, RO_PAGE), RO_BYTE, 4096);

	gcfg.nr_vcpus = nr_vcpus;
	gcfg.hsm = nr_vcpus > 1 && __vcpu_has_sbi_ext(vcpus[0], KVM_RISCV_SBI_EXT_HSM);
	setup_stub(vcpus);
	for (v = 0; v < nr_vcpus; v++) {
		vst[v] = (struct vstate){
			.s = seed * 0x9e3779b97f4a7c15ULL + v + 1, .id = v, .calls = calls,
		};
		vcpu_args_set(vcpus[v], 1, v);
	}
	sync_global_to_guest(vm, gcfg);
	sync_global_to_guest(vm, vst);
	guest_vst = addr_gva2hva(vm, (vm_vaddr_t)vst);

	for (v = 0; v < nr_vcpus; v++)
		pthread_create(&threads[v], NULL, vcpu_thread, vcpus[v]);
	pthread_create(&slot_thread, NULL, memslot_thread, NULL);
	for (v = 0; v < nr_vcpus; v++)
		pthread_join(threads[v], NULL);
	WRITE_ONCE(slots_done, true);
	pthread_join(slot_thread, NULL);

	sync_global_from_guest(vm, cnt);
	sync_global_from_guest(vm, vst);
	for (v = 0; v < nr_vcpus; v++) {
		ncalls += vst[v].ncalls;
		for (f = 0; f < NR_FIDS; f++)
			for (o = 0; o < NR_OUTCOMES; o++)
				total.fid[f][o] += cnt[v].fid[f][o];
		for (p = 0; p < NR_PATHS; p++)
			total.path[p] += cnt[v].path[p];
	}
	for (f = 0; f < NR_FIDS; f++)
		for (o = 0; o < NR_OUTCOMES; o++)
			if (total.fid[f][o])
				ksft_print_msg("path %s/%s: %lu\n", fid_names[f], outcome_names[o],
					       total.fid[f][o]);
	for (p = 0; p < NR_PATHS; p++)
		ksft_print_msg("path %s: %lu\n", path_names[p], total.path[p]);
	for (o = 0; o < NR_MOPS; o++)
		ksft_print_msg("path %s: %lu\n", mop_names[o], slot_ops[o]);
	ksft_print_msg("path area access while its memslot was away (MMIO exit): %lu\n",
		       mmio_exits);
	ksft_print_msg("path area pages dirty-logged: %lu\n", dirty_pages);

	ksft_test_result_pass("%lu calls on %d vCPUs returned SBI error codes only\n",
			      ncalls, nr_vcpus);
	ksft_test_result(canaries_intact(backing[0]) && canaries_intact(backing[1]),
			 "canary pages after the area pages are unchanged\n");
	ksft_test_result(all_bytes(addr_gpa2hva(vm, RO_PAGE), 4096, RO_BYTE),
			 "the read-only memslot is unchanged\n");
	key_path("hardware counter start succeeded", total.path[P_HW_START], true);
	key_path("snapshot stop succeeded", total.path[P_SNAP_STOP], true);
	key_path("counter overflow observed",
		 total.path[P_OVF_BITMAP] + total.path[P_OVF_IRQ], true);
	key_path("HSM restart of a stopped vCPU", total.path[P_HSM_RESUMED], gcfg.hsm);
	key_path("memslot under the areas moved", slot_ops[M_MOVE], true);

	/* Move the memslot under the registered areas, then tear down. */
	set_slot(0, MOVED_BASE, SLOT_SIZE);
	kvm_vm_free(vm);
	munmap(backing[0], SLOT_SIZE);
	munmap(backing[1], SLOT_SIZE);
	ksft_test_result_pass("memslot moved and VM torn down with areas registered\n");
	if (kmemleak)
		kmemleak_scan();
	ksft_finished();
}
