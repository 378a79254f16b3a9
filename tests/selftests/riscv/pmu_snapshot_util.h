/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the SBI PMU snapshot selftests in this directory.
 */
#ifndef SELFTEST_KVM_RISCV_PMU_SNAPSHOT_UTIL_H
#define SELFTEST_KVM_RISCV_PMU_SNAPSHOT_UTIL_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"
#include "kvm_util.h"
#include "sbi.h"

/* Guest: one SBI PMU call. */
static inline struct sbiret pmu(int fid, unsigned long a0, unsigned long a1,
				unsigned long a2, unsigned long a3)
{
	return sbi_ecall(SBI_EXT_PMU, fid, a0, a1, a2, a3, 0, 0);
}

/*
 * Guest: configures a counter for @event among all counters (the time
 * counter 1 excluded); returns its index.
 */
static inline unsigned long config(unsigned long event)
{
	unsigned long num = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0).value;
	unsigned long mask = (num >= 64 ? ~0UL : (1UL << num) - 1) & ~2UL;
	struct sbiret r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0, event);

	__GUEST_ASSERT(!r.error, "cfg_match(%lx) failed: %ld", event, r.error);
	return r.value;
}

/* Host: whether all @n bytes at @p are @v. */
static inline bool all_bytes(const u8 *p, size_t n, u8 v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/*
 * Host: asks kmemleak for two scans (it reports an object only once it has
 * been unreferenced for a full scan) and reports, as one TAP line, how many
 * unreferenced objects it found; a skip line without kmemleak.
 */
static inline void kmemleak_scan(void)
{
	const char *path = "/sys/kernel/debug/kmemleak";
	char line[256];
	int leaks = 0;
	FILE *f;

	for (int i = 0; i < 2; i++) {
		f = fopen(path, "w");
		if (!f) {
			ksft_test_result_skip("kmemleak not available\n");
			return;
		}
		fputs("scan\n", f);
		fclose(f);
		sleep(6);
	}
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strstr(line, "unreferenced object"))
			leaks++;
		printf("# %s", line);
	}
	if (f)
		fclose(f);
	ksft_test_result(leaks == 0, "kmemleak: %d unreferenced objects after an explicit scan\n",
			 leaks);
}

#endif /* SELFTEST_KVM_RISCV_PMU_SNAPSHOT_UTIL_H */
