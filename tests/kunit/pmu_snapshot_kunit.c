// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the pure core of the Rust SBI PMU snapshot
 * (arch/riscv/kvm/pmu_snapshot.rs). The cases are written in Rust and run
 * here as the parameters of one KUnit case, one KTAP line each.
 */

#include <kunit/test.h>
#include <linux/kvm_host.h>
#include <linux/string.h>

static const void *pmu_snapshot_core_gen(const void *prev, char *desc)
{
	/* Parameters are 1-based so that the first one is not NULL. */
	unsigned long next = (unsigned long)prev + 1;

	if (next > kvm_pmu_snapshot_test_count())
		return NULL;
	strscpy(desc, kvm_pmu_snapshot_test_name(next - 1), KUNIT_PARAM_DESC_SIZE);
	return (const void *)next;
}

static void pmu_snapshot_core(struct kunit *test)
{
	unsigned int index = (unsigned long)test->param_value - 1;
	size_t len = kvm_pmu_snapshot_test_scratch_size();
	u8 *scratch = kunit_kzalloc(test, len, GFP_KERNEL);
	char msg[192];
	u32 line;

	KUNIT_ASSERT_NOT_NULL(test, scratch);
	line = kvm_pmu_snapshot_test_run(index, scratch, len, msg, sizeof(msg));
	KUNIT_EXPECT_EQ_MSG(test, line, 0, "%s: tests.rs:%u: %s",
			    kvm_pmu_snapshot_test_name(index), line, msg);
}

/*
 * The Rust path keeps no kernel copy of the area; what it costs per vCPU is
 * the gfn_to_pfn_cache inside struct kvm_pmu. The C path allocates the
 * 4 KiB copy on registration.
 */
static void pmu_snapshot_vcpu_memory(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, sizeof(struct riscv_pmu_snapshot_data), 4096);
	KUNIT_EXPECT_LT(test, sizeof(struct gfn_to_pfn_cache), 512);
	kunit_info(test, "snapshot memory per vCPU: rust %zu bytes (in struct kvm_pmu), c %zu bytes (kzalloc)\n",
		   sizeof(struct gfn_to_pfn_cache), sizeof(struct riscv_pmu_snapshot_data));
}

static struct kunit_case pmu_snapshot_cases[] = {
	KUNIT_CASE_PARAM(pmu_snapshot_core, pmu_snapshot_core_gen),
	KUNIT_CASE(pmu_snapshot_vcpu_memory),
	{}
};

static struct kunit_suite pmu_snapshot_suite = {
	.name = "riscv_kvm_pmu_snapshot",
	.test_cases = pmu_snapshot_cases,
};

kunit_test_suite(pmu_snapshot_suite);
