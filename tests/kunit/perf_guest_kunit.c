// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the riscv perf guest/host attribution in Rust
 * (arch/riscv/kernel/perf_guest.rs): the four contexts, the guest IP, and
 * the real perf_misc_flags()/perf_instruction_pointer() with no guest.
 */

#include <kunit/test.h>
#include <linux/perf_event.h>
#include <linux/string.h>
#include <asm/ptrace.h>

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
	char msg[192];
	u32 line = riscv_perf_guest_test_run(index, msg, sizeof(msg));

	KUNIT_EXPECT_EQ_MSG(test, line, 0, "%s: line %u: %s",
			    riscv_perf_guest_test_name(index), line, msg);
}

/*
 * With no guest running, the Rust perf_misc_flags() calls a sample user or
 * kernel exactly when the kernel's own user_mode() does, for every value
 * of the previous-privilege bits and the status bits around them.
 */
static void perf_guest_host_mode_is_user_mode(struct kunit *test)
{
	static const unsigned long bits[] = {
		0, SR_PP, SR_SPP, SR_SPIE, SR_SIE, SR_SUM, SR_PP | SR_SPIE, ~0UL, ~SR_PP,
	};
	struct pt_regs regs = {};
	unsigned long want;
	int i;

	KUNIT_ASSERT_EQ(test, perf_guest_state(), 0);
	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		regs.status = bits[i];
		regs.epc = 0x1000 + i;
		want = user_mode(&regs) ? PERF_RECORD_MISC_USER : PERF_RECORD_MISC_KERNEL;
		KUNIT_EXPECT_EQ_MSG(test, perf_misc_flags(&regs), want, "status %#lx", bits[i]);
		KUNIT_EXPECT_EQ(test, perf_instruction_pointer(&regs), regs.epc);
	}
}

static struct kunit_case perf_guest_cases[] = {
	KUNIT_CASE_PARAM(perf_guest_case, perf_guest_gen),
	KUNIT_CASE(perf_guest_host_mode_is_user_mode),
	{}
};

static struct kunit_suite perf_guest_suite = {
	.name = "riscv_perf_guest",
	.test_cases = perf_guest_cases,
};

kunit_test_suite(perf_guest_suite);
