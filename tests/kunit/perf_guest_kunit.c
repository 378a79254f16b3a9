// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the riscv perf guest/host attribution in Rust
 * (arch/riscv/kernel/perf_guest.rs): the four contexts, the guest IP, and
 * the real perf_misc_flags()/perf_instruction_pointer() with no guest.
 */

#include <kunit/test.h>
#include <linux/perf_event.h>
#include <linux/string.h>

static const void *perf_guest_gen(const void *prev, char *desc)
{
	/* Parameters are 1-based so that the first one is not NULL. */
	unsigned long next = (unsigned long)prev + 1;

	if (next > riscv_perf_guest_test_count())
		return NULL;
	strscpy(desc, riscv_perf_guest_test_name(next - 1), KUNIT_PARAM_DESC_SIZE);
	return (const void *)next;
}

static void perf_guest_case(struct kunit *test)
{
	unsigned int index = (unsigned long)test->param_value - 1;
	u32 line = riscv_perf_guest_test_run(index);

	KUNIT_EXPECT_EQ_MSG(test, line, 0, "%s: check at line %u failed",
			    riscv_perf_guest_test_name(index), line);
}

static struct kunit_case perf_guest_cases[] = {
	KUNIT_CASE_PARAM(perf_guest_case, perf_guest_gen),
	{}
};

static struct kunit_suite perf_guest_suite = {
	.name = "riscv_perf_guest",
	.test_cases = perf_guest_cases,
};

kunit_test_suite(perf_guest_suite);
