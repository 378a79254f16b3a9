// SPDX-License-Identifier: GPL-2.0
/*
 * Runs inside the KVM guest booted by tests/vmm/vmm: counts cycles and
 * instructions with perf_event_open around a loop of known length, then
 * drives the two read paths the host counts:
 *
 *   baseline K rounds of reset, short loop, read of the disabled group: the
 *            exits that happen without any SBI PMU call.
 *   stopped  K times: enable, short loop, disable, read. The stop takes a
 *            snapshot (SBI stop with TAKE_SNAPSHOT) and the counter value is
 *            read from the snapshot area: no counter CSR is read, so the host
 *            sees no CSR exits.
 *   running  K reads of the running group: each read is a counter CSR read,
 *            which traps to KVM (hcounteren is 0x2): one CSR exit per counter
 *            per read.
 *
 * The group is enabled and disabled through its leader alone (the sibling
 * is created enabled and follows the leader): with PERF_IOC_FLAG_GROUP the
 * sibling's own enable would reschedule the whole group once more.
 *
 * Each phase is framed by "@@MARK <tag>" lines written to /dev/kmsg; printk
 * writes them to the console synchronously, and the VMM prints its vCPU
 * statistics when it sees them.
 *
 *   perfcount [K]      K rounds per read-path phase (default 200)
 *   perfcount --drain  sleeps 0.3 s (last plan entry: lets output go out)
 *   perfcount --unthrottle  lets perf sample at any rate (the guest's PMIs
 *                      are slow: each is a few SBI calls that trap to KVM)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static int kmsg = -1;

/* Waits until stdout has gone out (a polled UART transmits later). */
static void drain(void)
{
	fflush(stdout);
	tcdrain(1);
}

static void mark(const char *tag)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "@@MARK %s\n", tag);

	drain();
	if (kmsg < 0 || write(kmsg, buf, n) != n) {
		printf("%s", buf);
		fflush(stdout);
	}
}

static void spin(unsigned long n)
{
	/* two instructions per iteration */
	__asm__ volatile("1: addi %0, %0, -1\n\tbnez %0, 1b" : "+r"(n) : : "memory");
}

static int open_event(uint64_t config, int group)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_HARDWARE;
	a.config = config;
	a.disabled = group < 0;
	a.read_format = PERF_FORMAT_GROUP;
	return syscall(__NR_perf_event_open, &a, 0, -1, group, 0);
}

struct counts {
	uint64_t nr, cycles, instructions;
};

static int read_group(int fd, struct counts *c)
{
	return read(fd, c, sizeof(*c)) == sizeof(*c) && c->nr == 2 ? 0 : -1;
}

/* Writes `value` to the sysctl file `path`; 0 on success. */
static int sysctl_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(value, f) >= 0;

	if (f && fclose(f))
		ok = 0;
	if (!ok)
		printf("cannot write %s: %s\n", path, strerror(errno));
	return !ok;
}

/*
 * A sample rate perf never reaches, then no CPU-time limit on its
 * interrupts (in this order: with the limit off the rate is read-only).
 * Switching the limit off prints a kernel message, which goes out ahead of
 * any console output still queued: wait for the queue to drain first, so
 * that the message cuts no line in two.
 */
static int unthrottle(void)
{
	int ret;

	drain();
	ret = sysctl_write("/proc/sys/kernel/perf_event_max_sample_rate", "100000\n") |
	      sysctl_write("/proc/sys/kernel/perf_cpu_time_max_percent", "0\n");
	drain();
	return ret;
}

int main(int argc, char **argv)
{
	static const unsigned long loops[] = { 1000000, 10000000, 50000000 };
	unsigned long k, i;
	uint64_t prev_c = 0, prev_i = 0;
	struct counts c;
	int lead, ins, fails = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--drain")) {
		/* a last plan entry: lets init's lines before it go out */
		usleep(300000);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--unthrottle"))
		return unthrottle();
	k = argc > 1 ? strtoul(argv[1], NULL, 0) : 200;
	kmsg = open("/dev/kmsg", O_WRONLY);
	lead = open_event(PERF_COUNT_HW_CPU_CYCLES, -1);
	if (lead < 0) {
		printf("perf_event_open cycles: %s\nnot ok 1 perf_event_open\n", strerror(errno));
		return 1;
	}
	ins = open_event(PERF_COUNT_HW_INSTRUCTIONS, lead);
	if (ins < 0) {
		printf("perf_event_open instructions: %s\nnot ok 1 perf_event_open\n",
		       strerror(errno));
		return 1;
	}

	/* warm up: translate the loop and the ioctl paths once */
	ioctl(lead, PERF_EVENT_IOC_ENABLE, 0);
	spin(loops[0]);
	ioctl(lead, PERF_EVENT_IOC_DISABLE, 0);
	for (i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		ioctl(lead, PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
		ioctl(lead, PERF_EVENT_IOC_ENABLE, 0);
		spin(loops[i]);
		ioctl(lead, PERF_EVENT_IOC_DISABLE, 0);
		if (read_group(lead, &c)) {
			printf("read: %s\n", strerror(errno));
			return 1;
		}
		printf("count loop=%lu cycles=%llu instructions=%llu\n", loops[i],
		       (unsigned long long)c.cycles, (unsigned long long)c.instructions);
		if (!c.cycles || !c.instructions || c.cycles <= prev_c ||
		    c.instructions <= prev_i)
			fails++;
		prev_c = c.cycles;
		prev_i = c.instructions;
	}
	printf("%s 1 counts are non-zero and grow with the loop length\n", fails ? "not ok" : "ok");

	/* Baseline: the same rounds without enable/disable (no SBI PMU call). */
	fails = 0;
	mark("baseline-begin");
	for (i = 0; i < k; i++) {
		ioctl(lead, PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
		spin(1000);
		if (read_group(lead, &c))
			fails++;
	}
	mark("baseline-end");

	/* Stopped counters: every value comes out of the snapshot area. */
	mark("stopped-begin");
	for (i = 0; i < k; i++) {
		ioctl(lead, PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
		ioctl(lead, PERF_EVENT_IOC_ENABLE, 0);
		spin(1000);
		ioctl(lead, PERF_EVENT_IOC_DISABLE, 0);
		if (read_group(lead, &c) || !c.cycles || !c.instructions)
			fails++;
	}
	mark("stopped-end");
	printf("stopped k=%lu zero_or_failed_reads=%d\n", k, fails);

	/* Running counters: every read is a counter CSR read. */
	ioctl(lead, PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
	ioctl(lead, PERF_EVENT_IOC_ENABLE, 0);
	mark("running-begin");
	for (i = 0; i < k; i++)
		if (read_group(lead, &c))
			fails++;
	mark("running-end");
	ioctl(lead, PERF_EVENT_IOC_DISABLE, 0);
	printf("running k=%lu last cycles=%llu instructions=%llu\n", k,
	       (unsigned long long)c.cycles, (unsigned long long)c.instructions);
	printf("%s 2 reads of stopped and running counters succeed\n", fails ? "not ok" : "ok");
	drain();
	return fails ? 1 : 0;
}
