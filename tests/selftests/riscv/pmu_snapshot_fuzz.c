// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile-guest fuzzer for the SBI PMU extension.
 *
 * Every vCPU runs, in its own host thread, a seeded and reproducible
 * sequence of random SBI PMU calls (num_counters, counter info, config
 * match, start, stop, firmware read, snapshot set_shmem, and unknown
 * functions), with arguments biased towards edges: unaligned, all-ones,
 * unmapped, read-only and last-page addresses, huge bases and masks,
 * reserved flags. Each call must return an SBI error code the spec
 * defines. Afterwards the host checks that guest memory outside the pages
 * offered as snapshot areas is unchanged (canary pages sit right after
 * each area page, so a misaligned area that spills is caught), then moves
 * the memslot under the areas and tears the VM down with areas registered
 * and counters running. With --kmemleak it asks kmemleak for a scan.
 *
 * Usage: pmu_snapshot_fuzz [-s seed] [-n calls per vCPU] [-v vCPUs] [-k]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define AREA(v)		(SLOT_BASE + (2 * (v)) * 4096UL)
#define CANARY(v)	(SLOT_BASE + (2 * (v) + 1) * 4096UL)
#define LAST_PAGE	(SLOT_BASE + (SLOT_PAGES - 1) * 4096UL)
#define RO_PAGE		(SLOT_BASE + 0x100000UL)
#define RO_SLOT_ID	11
#define HOLE		(SLOT_BASE + 0x200000UL)
#define MOVED_BASE	(SLOT_BASE + 0x400000UL)
#define CANARY_BYTE	0xc3
#define RO_BYTE		0x5a

static unsigned long seed = 1, calls = 20000;
static int nr_vcpus = 2;

struct guest_args {
	unsigned long seed;
	unsigned long calls;
	unsigned long id;
};

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

static void guest_code(struct guest_args *a)
{
	u64 s = a->seed * 0x9e3779b97f4a7c15ULL + a->id + 1;
	unsigned long num, i;
	struct sbiret r;

	num = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0, 0, 0).value;
	for (i = 0; i < a->calls; i++) {
		unsigned long fid = next(&s) % 9, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0;

		switch (fid) {
		case SBI_EXT_PMU_COUNTER_GET_INFO:
		case SBI_EXT_PMU_COUNTER_FW_READ:
		case SBI_EXT_PMU_COUNTER_FW_READ_HI:
			a0 = edge_index(&s, num);
			break;
		case SBI_EXT_PMU_COUNTER_CFG_MATCH:
			a0 = edge_index(&s, num);
			a1 = edge_mask(&s);
			a2 = next(&s) & 3 ? next(&s) & 0xff : -1UL;
			a3 = edge_event(&s);
			a4 = next(&s);
			break;
		case SBI_EXT_PMU_COUNTER_START:
			a0 = edge_index(&s, num);
			a1 = edge_mask(&s);
			a2 = edge_flags(&s);
			a3 = next(&s) & 1 ? -next(&s) % 100000 : next(&s);
			break;
		case SBI_EXT_PMU_COUNTER_STOP:
			a0 = edge_index(&s, num);
			a1 = edge_mask(&s);
			a2 = edge_flags(&s);
			break;
		case SBI_EXT_PMU_SNAPSHOT_SET_SHMEM:
			a0 = edge_address(&s, a->id);
			a1 = pick(&s, (const unsigned long[]){ 0, 0, 0, 0, 1, -1UL }, 6);
			a2 = next(&s) % 8 ? 0 : edge_flags(&s);
			if (next(&s) % 16 == 0) {
				a0 = -1UL;
				a1 = -1UL;
			}
			break;
		case 8:
			fid = next(&s) & 1 ? 8 : next(&s);
			a0 = next(&s);
			break;
		}
		r = sbi_ecall(SBI_EXT_PMU, fid, a0, a1, a2, a3, a4, 0);
		__GUEST_ASSERT(r.error <= 0 && r.error >= -9,
			       "call %lu: fid %lu (%lx, %lx, %lx, %lx) returned error %ld",
			       i, fid, a0, a1, a2, a3, r.error);
		if (i % 4096 == 0)
			GUEST_SYNC(i);
	}
	/* End with an area registered and counters running. */
	sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA(a->id), 0, 0, 0, 0, 0);
	GUEST_DONE();
}

static struct kvm_vcpu *vcpus[MAX_VCPUS];

static void *vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			continue;
		case UCALL_DONE:
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			return NULL;
		default:
			TEST_FAIL("vCPU %u: unexpected exit %s", vcpu->id,
				  exit_reason_str(vcpu->run->exit_reason));
		}
	}
}

int main(int argc, char *argv[])
{
	struct guest_args args[MAX_VCPUS];
	pthread_t threads[MAX_VCPUS];
	bool kmemleak = false;
	struct kvm_vm *vm;
	vm_vaddr_t gva;
	int opt, v;

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
	ksft_set_plan(4 + kmemleak);
	ksft_print_msg("seed %lu, %lu calls per vCPU, %d vCPUs: %lu calls\n", seed, calls,
		       nr_vcpus, calls * nr_vcpus);

	vm = vm_create_with_vcpus(nr_vcpus, NULL, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, SLOT_BASE, SLOT_ID, SLOT_PAGES, 0);
	virt_map(vm, SLOT_BASE, SLOT_BASE, SLOT_PAGES);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, RO_PAGE, RO_SLOT_ID, 1,
				    KVM_MEM_READONLY);
	memset(addr_gpa2hva(vm, SLOT_BASE), CANARY_BYTE, SLOT_PAGES * 4096);
	memset(addr_gpa2hva(vm, RO_PAGE), RO_BYTE, 4096);
	for (v = 0; v < nr_vcpus; v++) {
		gva = vm_vaddr_alloc(vm, sizeof(args[v]), 0x10000);
		args[v] = (struct guest_args){ .seed = seed, .calls = calls, .id = v };
		memcpy(addr_gva2hva(vm, gva), &args[v], sizeof(args[v]));
		vcpu_arch_set_entry_point(vcpus[v], guest_code);
		vcpu_args_set(vcpus[v], 1, gva);
	}
	for (v = 0; v < nr_vcpus; v++)
		pthread_create(&threads[v], NULL, vcpu_thread, vcpus[v]);
	for (v = 0; v < nr_vcpus; v++)
		pthread_join(threads[v], NULL);
	ksft_test_result_pass("%lu calls on %d vCPUs returned SBI error codes only\n",
			      calls * nr_vcpus, nr_vcpus);

	bool canaries = true;

	for (v = 0; v < MAX_VCPUS; v++)
		canaries &= all_bytes(addr_gpa2hva(vm, CANARY(v)), 4096, CANARY_BYTE);
	for (v = nr_vcpus; v < MAX_VCPUS; v++)
		canaries &= all_bytes(addr_gpa2hva(vm, AREA(v)), 4096, CANARY_BYTE);
	ksft_test_result(canaries, "canary pages after the area pages are unchanged\n");
	ksft_test_result(all_bytes(addr_gpa2hva(vm, RO_PAGE), 4096, RO_BYTE),
			 "the read-only memslot is unchanged\n");

	/* Move the memslot under the registered areas, then tear down. */
	memset(addr_gpa2hva(vm, SLOT_BASE), CANARY_BYTE, SLOT_PAGES * 4096);
	vm_mem_region_move(vm, SLOT_ID, MOVED_BASE);
	kvm_vm_free(vm);
	ksft_test_result_pass("memslot moved and VM torn down with areas registered\n");
	if (kmemleak)
		kmemleak_scan();
	ksft_finished();
}
