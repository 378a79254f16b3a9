// SPDX-License-Identifier: GPL-2.0
/*
 * Migrating a guest whose SBI PMU counters run: the host saves every
 * register of KVM_GET_REG_LIST (the SBI PMU state included) and the
 * guest's memory, builds a new VM the same way, restores both and runs the
 * guest on. Its counters must continue from their saved values, still
 * started, and TAKE_SNAPSHOT must land in the same area. Restores of state
 * the vCPU could not have reached must fail with the KVM errno and change
 * nothing.
 *
 * With --c-path (the C implementation) only the snapshot register exists:
 * the area survives the migration, the counters do not.
 */
#include <errno.h>
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
#define SBI_PMU_FW_MAX		22
#define SBI_EXT_TIME		0x54494D45
#define SBI_EXT_TIME_SET_TIMER	0
#define EVENT_CYCLES		0x1
#define EVENT_FW_SET_TIMER	((SBI_PMU_EVENT_TYPE_FW << 16) | SBI_PMU_FW_SET_TIMER)
#define AREA_BASE		((unsigned long)SZ_1G)
#define SLOT_AREA		10
#define FW_START		7
#define LOOPS			20000

#define PMU_REG(n, size)	(KVM_REG_RISCV | KVM_REG_RISCV_SBI_STATE | \
				 KVM_REG_RISCV_SBI_PMU | (size) | (n))
#define SNAPSHOT_REG		PMU_REG(KVM_REG_RISCV_SBI_PMU_SNAPSHOT, KVM_REG_SIZE_U64)
#define CTR_REG(i)		PMU_REG(KVM_REG_RISCV_SBI_PMU_CTR(i), KVM_REG_SIZE_U256)
#define FW_REG(i)		PMU_REG(KVM_REG_RISCV_SBI_PMU_FW(i), KVM_REG_SIZE_U128)

enum stage { ST_SAVED = 1, ST_AFTER, ST_AREA };

static unsigned long sink;
/* The guest's number of counters, for the host to read. */
static unsigned long num_counters;

static void work(int timers)
{
	for (int i = 0; i < LOOPS; i++)
		WRITE_ONCE(sink, READ_ONCE(sink) + i);
	/* Each SET_TIMER call counts once on the firmware counter. */
	for (int i = 0; i < timers; i++)
		sbi_ecall(SBI_EXT_TIME, SBI_EXT_TIME_SET_TIMER, ~0UL, 0, 0, 0, 0, 0);
}

static void guest_code(void)
{
	u64 *area = (u64 *)AREA_BASE;
	unsigned long hw, fw, mask;
	u64 hw1, fw1;
	struct sbiret r;

	/* Counters go by base 0 and a mask: snapshot slot i is counter i. */
	num_counters = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	r = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA_BASE, 0, 0, 0);
	__GUEST_ASSERT(!r.error, "set_shmem: %ld", r.error);
	hw = config(EVENT_CYCLES);
	fw = config(EVENT_FW_SET_TIMER);
	r = pmu(SBI_EXT_PMU_COUNTER_START, 0, BIT(hw), SBI_PMU_START_FLAG_SET_INIT_VALUE, 1000);
	__GUEST_ASSERT(!r.error, "start hw: %ld", r.error);
	r = pmu(SBI_EXT_PMU_COUNTER_START, 0, BIT(fw), SBI_PMU_START_FLAG_SET_INIT_VALUE, FW_START);
	__GUEST_ASSERT(!r.error, "start fw: %ld", r.error);
	work(3);
	/* Values before the migration: stop, snapshot, start on from them. */
	r = pmu(SBI_EXT_PMU_COUNTER_STOP, 0, BIT(hw), SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
	__GUEST_ASSERT(!r.error, "stop hw: %ld", r.error);
	hw1 = READ_ONCE(area[1 + hw]);
	r = pmu(SBI_EXT_PMU_COUNTER_STOP, 0, BIT(fw), SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
	__GUEST_ASSERT(!r.error, "stop fw: %ld", r.error);
	fw1 = READ_ONCE(area[1 + fw]);
	r = pmu(SBI_EXT_PMU_COUNTER_START, 0, BIT(hw), 0, 0);
	__GUEST_ASSERT(!r.error, "restart hw: %ld", r.error);
	r = pmu(SBI_EXT_PMU_COUNTER_START, 0, BIT(fw), 0, 0);
	__GUEST_ASSERT(!r.error, "restart fw: %ld", r.error);
	WRITE_ONCE(area[1 + hw], 0);
	WRITE_ONCE(area[1 + fw], 0);

	/* The host migrates the guest here, its counters running. */
	GUEST_SYNC_ARGS(ST_SAVED, hw, fw, hw1, fw1);

	work(2);
	r = pmu(SBI_EXT_PMU_COUNTER_STOP, 0, BIT(hw), SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
	fw1 = r.error;
	r = pmu(SBI_EXT_PMU_COUNTER_STOP, 0, BIT(fw), SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
	GUEST_SYNC_ARGS(ST_AFTER, fw1, r.error, READ_ONCE(area[1 + hw]), READ_ONCE(area[1 + fw]));

	/* A counter configured after the migration: the area is still there. */
	mask = num_counters >= 64 ? ~0UL : (1UL << num_counters) - 1;
	pmu(SBI_EXT_PMU_COUNTER_STOP, 0, mask & ~2UL, SBI_PMU_STOP_FLAG_RESET, 0);
	fw = config(EVENT_FW_SET_TIMER);
	r = pmu(SBI_EXT_PMU_COUNTER_START, 0, BIT(fw), SBI_PMU_START_FLAG_SET_INIT_VALUE, 40);
	__GUEST_ASSERT(!r.error, "start fw again: %ld", r.error);
	work(1);
	r = pmu(SBI_EXT_PMU_COUNTER_STOP, 0, BIT(fw), SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
	GUEST_SYNC_ARGS(ST_AREA, r.error, READ_ONCE(area[1 + fw]), 0, 0);
	GUEST_DONE();
}

static struct kvm_vm *new_vm(struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_code);

	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA_BASE, SLOT_AREA, 1, 0);
	virt_map(vm, AREA_BASE, AREA_BASE, 1);
	return vm;
}

/*
 * The guest names its ucall by the host address of the ucall in the memory
 * of the VM it was created in: once moved, that address is in the old VM's
 * slot 0, and is moved to the new VM's.
 */
static struct {
	unsigned long from, to, size;
} moved_ucalls;

static struct ucall run_to(struct kvm_vcpu *vcpu, int stage)
{
	unsigned long *arg = &vcpu->run->riscv_sbi.args[0];
	struct ucall uc;

	/* KVM_RUN itself: vcpu_run() would look at the ucall before the fix-up. */
	TEST_ASSERT(!__vcpu_run(vcpu), "KVM_RUN: %s", strerror(errno));
	if (vcpu->run->exit_reason == KVM_EXIT_RISCV_SBI && *arg - moved_ucalls.from <
	    moved_ucalls.size)
		*arg += moved_ucalls.to - moved_ucalls.from;
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_SYNC:
		TEST_ASSERT(uc.args[1] == stage, "guest at stage %lu, want %d", uc.args[1], stage);
		return uc;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
	}
	return uc;
}

/* A register and its value (the largest, a counter, is 32 bytes). */
struct saved_reg {
	u64 id;
	u64 val[4];
};

static int get_one(struct kvm_vcpu *vcpu, u64 id, u64 *val)
{
	memset(val, 0, 32);
	return __vcpu_get_reg(vcpu, id, val);
}

static int set_one(struct kvm_vcpu *vcpu, u64 id, const u64 *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(unsigned long)val };

	return __vcpu_ioctl(vcpu, KVM_SET_ONE_REG, &reg);
}

static bool is_pmu_reg(u64 id)
{
	return (id & (KVM_REG_RISCV_TYPE_MASK | KVM_REG_RISCV_SUBTYPE_MASK)) ==
	       (KVM_REG_RISCV_SBI_STATE | KVM_REG_RISCV_SBI_PMU);
}

/* Whether every PMU register of @saved reads back the same on @vcpu. */
static bool pmu_state_is(struct kvm_vcpu *vcpu, struct saved_reg *saved, int n)
{
	u64 now[4];

	for (int i = 0; i < n; i++) {
		if (!is_pmu_reg(saved[i].id))
			continue;
		if (get_one(vcpu, saved[i].id, now) ||
		    memcmp(now, saved[i].val, KVM_REG_SIZE(saved[i].id)))
			return false;
	}
	return true;
}

/* A memory slot's contents, as a migration sends them. */
struct saved_slot {
	u64 gpa, size;
	void *data;
	unsigned long hva;
};

static void save_slot(struct kvm_vm *vm, int slot, struct saved_slot *out)
{
	struct userspace_mem_region *r = memslot2region(vm, slot);

	out->gpa = r->region.guest_phys_addr;
	out->size = r->region.memory_size;
	out->hva = (unsigned long)r->host_mem;
	out->data = malloc(out->size);
	TEST_ASSERT(out->data, "malloc");
	memcpy(out->data, r->host_mem, out->size);
}

static void load_slot(struct kvm_vm *vm, int slot, struct saved_slot *in)
{
	struct userspace_mem_region *r = memslot2region(vm, slot);

	TEST_ASSERT(r->region.memory_size == in->size && r->region.guest_phys_addr == in->gpa,
		    "slot %d differs between the VMs", slot);
	memcpy(r->host_mem, in->data, in->size);
	free(in->data);
	if (!slot) {
		moved_ucalls.from = in->hva;
		moved_ucalls.to = (unsigned long)r->host_mem;
		moved_ucalls.size = in->size;
	}
}

/* Bad states for a running counter @hw and a firmware counter @fw. */
static void check_bad_restores(struct kvm_vcpu *vcpu, struct saved_reg *saved, int n,
			       unsigned long hw, unsigned long fw, bool c_path)
{
	u64 good[4], bad[4];
	const struct {
		const char *what;
		u64 id;
		int word;
		u64 value;
		int err;
		bool rust_only;
	} cases[] = {
		{ "a snapshot area not 4 KiB aligned", SNAPSHOT_REG, 0, AREA_BASE + 64, EINVAL },
		{ "a snapshot area outside guest memory", SNAPSHOT_REG, 0, 3UL << 32, EINVAL },
		{ "a snapshot register of 32 bits",
		  SNAPSHOT_REG ^ KVM_REG_SIZE_U64 ^ KVM_REG_SIZE_U32, 0, AREA_BASE, EINVAL },
		{ "a counter past the last", CTR_REG(64), 0, 0, ENOENT },
		{ "a firmware event past the last", FW_REG(SBI_PMU_FW_MAX), 0, 0, ENOENT },
		{ "an event this host cannot count (hardware code 0xff)", CTR_REG(hw), 0, 0xff,
		  EINVAL, true },
		{ "a firmware event on a hardware counter", CTR_REG(hw), 0, EVENT_FW_SET_TIMER,
		  EINVAL, true },
		{ "a hardware event on a firmware counter", CTR_REG(fw), 0, EVENT_CYCLES, EINVAL,
		  true },
		{ "an unknown counter flag", CTR_REG(hw), 2, 1 << 7 | 1, EINVAL, true },
		{ "an unknown firmware event flag", FW_REG(SBI_PMU_FW_SET_TIMER), 1, 2, EINVAL,
		  true },
	};

	for (int i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret, err;

		if (c_path && cases[i].rust_only) {
			ksft_test_result_skip("refused: %s (no counter registers on the C path)\n",
					      cases[i].what);
			continue;
		}
		/* Start from the register's current value where it has one. */
		memset(good, 0, sizeof(good));
		get_one(vcpu, cases[i].id, good);
		memcpy(bad, good, sizeof(bad));
		bad[cases[i].word] = cases[i].value;
		ret = set_one(vcpu, cases[i].id, bad);
		err = ret ? errno : 0;
		ksft_test_result(ret == -1 && err == cases[i].err && pmu_state_is(vcpu, saved, n),
				 "refused: %s: errno %d (want %d), state unchanged\n",
				 cases[i].what, err, cases[i].err);
	}
}

int main(int argc, char **argv)
{
	struct kvm_vcpu *vcpu, *vcpu2;
	unsigned long hw, fw, hw1, fw1, hw_saved = 0;
	struct kvm_reg_list *list;
	struct saved_reg *saved;
	int n, npmu = 0, refused = 0;
	struct kvm_vm *vm, *vm2;
	struct saved_slot mem[2];
	bool c_path = argc > 1 && !strcmp(argv[1], "--c-path");
	u64 cur[4];
	struct ucall uc;

	ksft_print_header();
	vm = new_vm(&vcpu);
	if (!__vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_PMU))
		ksft_exit_skip("SBI PMU not available\n");
	ksft_set_plan(21);
	/* The encoding the README documents. */
	ksft_test_result(SNAPSHOT_REG == 0x803000000a020000ULL &&
			 CTR_REG(5) == 0x805000000a020105ULL &&
			 FW_REG(21) == 0x804000000a020215ULL &&
			 sizeof(struct kvm_riscv_sbi_pmu_ctr) == 32 &&
			 sizeof(struct kvm_riscv_sbi_pmu_fw) == 16 &&
			 KVM_RISCV_SBI_PMU_CTR_CONFIGURED == 1 &&
			 KVM_RISCV_SBI_PMU_CTR_STARTED == 2 &&
			 KVM_RISCV_SBI_PMU_CTR_OVERFLOWN == 4 && KVM_RISCV_SBI_PMU_CTR_UINH == 8 &&
			 KVM_RISCV_SBI_PMU_CTR_SINH == 16 && KVM_RISCV_SBI_PMU_FW_STARTED == 1,
			 "register ids, struct sizes and flags as documented\n");

	uc = run_to(vcpu, ST_SAVED);
	hw = uc.args[2];
	fw = uc.args[3];
	hw1 = uc.args[4];
	fw1 = uc.args[5];
	ksft_test_result(fw1 == FW_START + 3 && hw1 > 1000,
			 "before: fw counter %lu counted 3 calls from %d (%lu), cycles counter %lu: %lu\n",
			 fw, FW_START, fw1, hw, hw1);

	/* Finish the SYNC exit in the old vCPU, without entering the guest. */
	vcpu_run_complete_io(vcpu);

	list = vcpu_get_reg_list(vcpu);
	n = list->n;
	saved = calloc(n, sizeof(*saved));
	TEST_ASSERT(saved, "calloc");
	for (int i = 0; i < n; i++) {
		saved[i].id = list->reg[i];
		TEST_ASSERT(KVM_REG_SIZE(saved[i].id) <= sizeof(saved[i].val),
			    "register 0x%lx is larger than 32 bytes", saved[i].id);
		TEST_ASSERT(!get_one(vcpu, saved[i].id, saved[i].val),
			    "KVM_GET_ONE_REG 0x%lx", saved[i].id);
		npmu += is_pmu_reg(saved[i].id);
	}
	sync_global_from_guest(vm, num_counters);
	{
		int want = c_path ? 1 : 1 + (int)num_counters + SBI_PMU_FW_MAX;

		ksft_test_result(npmu == want,
				 "KVM_GET_REG_LIST lists %d PMU registers (want %d: %lu counters)\n",
				 npmu, want, num_counters);
	}
	get_one(vcpu, SNAPSHOT_REG, cur);
	ksft_test_result(cur[0] == AREA_BASE,
			 "saved: the snapshot register holds the area (0x%lx)\n", cur[0]);
	if (c_path) {
		ksft_test_result(get_one(vcpu, CTR_REG(hw), cur) == -1 && errno == ENOENT,
				 "saved: no counter register on the C path (ENOENT)\n");
	} else {
		get_one(vcpu, CTR_REG(hw), cur);
		hw_saved = cur[3];
		ksft_test_result(cur[0] == EVENT_CYCLES &&
				 cur[2] == (KVM_RISCV_SBI_PMU_CTR_CONFIGURED |
					    KVM_RISCV_SBI_PMU_CTR_STARTED) && cur[3] >= hw1,
				 "saved: counter %lu: cycles, configured, started, %lu >= %lu (flags 0x%lx)\n",
				 hw, cur[3], hw1, cur[2]);
	}

	/*
	 * The memory goes too; then the old VM, whose perf events would hold
	 * the host counters, is gone before a new one, built the same way,
	 * gets the memory and the registers.
	 */
	save_slot(vm, 0, &mem[0]);
	save_slot(vm, SLOT_AREA, &mem[1]);
	kvm_vm_free(vm);
	vm2 = new_vm(&vcpu2);
	load_slot(vm2, 0, &mem[0]);
	load_slot(vm2, SLOT_AREA, &mem[1]);
	for (int i = 0; i < n; i++) {
		if (!get_one(vcpu2, saved[i].id, cur) &&
		    !memcmp(cur, saved[i].val, KVM_REG_SIZE(saved[i].id)))
			continue;
		if (set_one(vcpu2, saved[i].id, saved[i].val)) {
			ksft_print_msg("KVM_SET_ONE_REG 0x%lx: %s\n", saved[i].id, strerror(errno));
			refused++;
		}
	}
	ksft_test_result(!refused && pmu_state_is(vcpu2, saved, n),
			 "restore: %d registers into a new vCPU, %d refused, PMU registers read back\n",
			 n, refused);

	check_bad_restores(vcpu2, saved, n, hw, fw, c_path);

	uc = run_to(vcpu2, ST_AFTER);
	if (c_path) {
		ksft_test_result(!uc.args[2] && !uc.args[4],
				 "after: C path: the area survives (TAKE_SNAPSHOT: %ld), the counters not (%lu)\n",
				 (long)uc.args[2], uc.args[4]);
		ksft_test_result_skip("after: hardware counter went on (C path: not saved)\n");
		ksft_test_result_skip("after: firmware counter went on (C path: not saved)\n");
	} else {
		ksft_test_result(!uc.args[2] && !uc.args[3],
				 "after: both stops with TAKE_SNAPSHOT succeed (%ld, %ld): still started, no NO_SHMEM\n",
				 (long)uc.args[2], (long)uc.args[3]);
		ksft_test_result(uc.args[4] > hw_saved,
				 "after: the cycles counter went on from its saved value: %lu > %lu\n",
				 uc.args[4], hw_saved);
		ksft_test_result(uc.args[5] == fw1 + 2,
				 "after: the firmware counter went on exactly: %lu == %lu + 2\n",
				 uc.args[5], fw1);
	}

	uc = run_to(vcpu2, ST_AREA);
	ksft_test_result(!uc.args[2] && uc.args[3] == 41,
			 "after: a new counter snapshots into the restored area (err %ld, %lu == 41)\n",
			 (long)uc.args[2], uc.args[3]);
	uc = run_to(vcpu2, 0);
	ksft_test_result(uc.cmd == UCALL_DONE, "the guest finished\n");
	free(saved);
	free(list);
	kvm_vm_free(vm2);
	ksft_finished();
}
