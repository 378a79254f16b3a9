// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end check of perf guest/host attribution on riscv.
 *
 * The host samples cycles with perf_event_open() on the vCPU thread and
 * reads the ring buffer while, in turn, the guest runs a known loop, the
 * host runs a loop in user space, the guest does nothing but SBI calls,
 * and (with exclude_guest=1) the guest runs the loop again. The count of
 * samples per context is printed for each phase, and each expectation is
 * one TAP line.
 *
 * With --host-only (a kernel without the riscv perf attribution) the
 * expectation is the generic behaviour: every sample is a host sample.
 *
 * With --workload loop|idle it only runs the guest, for a profiler outside
 * (the real perf tool): the guest's loop (or, idle, one iteration of it),
 * then the same SBI calls in both; it prints the loop's address range as
 * "WORKLOAD <loop|idle> <first> <end>".
 */
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "test_util.h"
#include "ucall_common.h"

#define SAMPLE_PERIOD		50000
#define RING_PAGES		256
#define GUEST_LOOP_ITERS	60000000UL
#define HOST_LOOP_ITERS		60000000UL
#define SBI_CALLS		30000
/*
 * The SBI calls run in chunks, each sampled with its own period: under
 * QEMU -icount every run is exact to the instruction, and with one fixed
 * period the samples can fall into step with the loop of SBI calls and
 * land in its few guest instructions far more often than the guest's share
 * of the time (measured: 0% to 17% guest samples, depending on the build's
 * code layout alone).
 */
#define SBI_CHUNKS		30
#define PERIOD_DITHER		4096
/* Misattribution thresholds, in percent of a phase's samples. */
#define MIN_GUEST_IN_LOOP	80
#define MIN_IP_IN_LOOP		90
#define MIN_USER_IN_HOST_LOOP	80
#define MAX_GUEST_IN_SBI	10

enum { CTX_HOST_KERNEL, CTX_HOST_USER, CTX_GUEST_KERNEL, CTX_GUEST_USER, CTX_OTHER, NR_CTX };
static const char * const ctx_names[NR_CTX] = {
	"host kernel", "host user", "guest kernel", "guest user", "other",
};

struct tally {
	unsigned long n[NR_CTX];
	unsigned long total, guest_ip_in_loop, lost;
};

/* The guest's loop, with labels that bound its instructions. */
void guest_loop(unsigned long n);
extern char guest_loop_end[];
asm(".text\n"
	".global guest_loop\n"
	".global guest_loop_end\n"
	"guest_loop:\n"
	"1:	addi a0, a0, -1\n"
	"	bnez a0, 1b\n"
	"guest_loop_end:\n"
	"	ret\n");

/* Iterations of the guest's loop per stint. */
static unsigned long guest_iters = GUEST_LOOP_ITERS;

static void guest_code(void)
{
	for (;;) {
		guest_loop(guest_iters);
		GUEST_SYNC(1);
		for (int c = 0; c < SBI_CHUNKS; c++) {
			for (int i = 0; i < SBI_CALLS / SBI_CHUNKS; i++)
				sbi_ecall(SBI_EXT_BASE, SBI_EXT_BASE_GET_SPEC_VERSION,
					  0, 0, 0, 0, 0, 0);
			GUEST_SYNC(2);
		}
	}
}

struct sampler {
	int fd;
	struct perf_event_mmap_page *page;
	size_t size;
};

static void sampler_open(struct sampler *s, bool exclude_guest)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_HARDWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_HW_CPU_CYCLES,
		.sample_period = SAMPLE_PERIOD,
		.sample_type = PERF_SAMPLE_IP,
		.disabled = 1,
		.exclude_guest = exclude_guest,
		.exclude_hv = 1,
	};

	s->fd = syscall(__NR_perf_event_open, &attr, 0, -1, -1, 0);
	if (s->fd < 0)
		ksft_exit_skip("perf_event_open(cycles, sampling): %s\n", strerror(errno));
	s->size = (RING_PAGES + 1) * getpagesize();
	s->page = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	TEST_ASSERT(s->page != MAP_FAILED, "mmap of the perf ring buffer");
}

static void sampler_close(struct sampler *s)
{
	munmap(s->page, s->size);
	close(s->fd);
}

static int context_of(__u16 misc)
{
	switch (misc & PERF_RECORD_MISC_CPUMODE_MASK) {
	case PERF_RECORD_MISC_KERNEL: return CTX_HOST_KERNEL;
	case PERF_RECORD_MISC_USER: return CTX_HOST_USER;
	case PERF_RECORD_MISC_GUEST_KERNEL: return CTX_GUEST_KERNEL;
	case PERF_RECORD_MISC_GUEST_USER: return CTX_GUEST_USER;
	default: return CTX_OTHER;
	}
}

/* Reads every record in the ring buffer into @t. */
static void drain(struct sampler *s, struct tally *t)
{
	char *data = (char *)s->page + getpagesize();
	__u64 size = s->page->data_size, head, tail = s->page->data_tail;

	memset(t, 0, sizeof(*t));
	head = __atomic_load_n(&s->page->data_head, __ATOMIC_ACQUIRE);
	while (tail < head) {
		struct { struct perf_event_header h; __u64 ip; } rec;
		size_t off = tail % size, first;

		first = sizeof(rec.h) <= size - off ? sizeof(rec.h) : size - off;
		memcpy(&rec, data + off, first);
		memcpy((char *)&rec + first, data, sizeof(rec.h) - first);
		if (rec.h.size < sizeof(rec.h))
			break;
		if (rec.h.type == PERF_RECORD_SAMPLE) {
			off = (tail + sizeof(rec.h)) % size;
			first = sizeof(rec.ip) <= size - off ? sizeof(rec.ip) : size - off;
			memcpy(&rec.ip, data + off, first);
			memcpy((char *)&rec.ip + first, data, sizeof(rec.ip) - first);
			int c = context_of(rec.h.misc);

			t->n[c]++;
			t->total++;
			if (c == CTX_GUEST_KERNEL && rec.ip >= (unsigned long)guest_loop &&
			    rec.ip < (unsigned long)guest_loop_end)
				t->guest_ip_in_loop++;
		} else if (rec.h.type == PERF_RECORD_LOST) {
			t->lost++;
		}
		tail += rec.h.size;
	}
	__atomic_store_n(&s->page->data_tail, tail, __ATOMIC_RELEASE);
}

static void print_tally(const char *phase, struct tally *t)
{
	ksft_print_msg("%-34s %6lu samples:", phase, t->total);
	for (int c = 0; c < NR_CTX; c++)
		if (t->n[c] || c < CTX_OTHER)
			printf(" %s %lu (%lu%%)", ctx_names[c], t->n[c],
			       t->total ? t->n[c] * 100 / t->total : 0);
	printf("; guest IPs in the loop %lu\n", t->guest_ip_in_loop);
}

static void run_to_sync(struct kvm_vcpu *vcpu, int stage)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		TEST_ASSERT(uc.args[1] == stage, "guest at stage %lu, want %d", uc.args[1], stage);
		return;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
	}
}

static unsigned long pct(unsigned long part, unsigned long whole)
{
	return whole ? part * 100 / whole : 0;
}

static void phase(struct sampler *s, struct kvm_vcpu *vcpu, int stage, struct tally *t)
{
	/* A fixed seed: the same periods in every run. */
	static unsigned int seed = 1;
	__u64 period;

	ioctl(s->fd, PERF_EVENT_IOC_RESET, 0);
	ioctl(s->fd, PERF_EVENT_IOC_ENABLE, 0);
	if (vcpu && stage == 2) {
		for (int c = 0; c < SBI_CHUNKS; c++) {
			period = SAMPLE_PERIOD + rand_r(&seed) % PERIOD_DITHER;
			ioctl(s->fd, PERF_EVENT_IOC_PERIOD, &period);
			run_to_sync(vcpu, stage);
		}
		period = SAMPLE_PERIOD;
		ioctl(s->fd, PERF_EVENT_IOC_PERIOD, &period);
	} else if (vcpu) {
		run_to_sync(vcpu, stage);
	} else {
		for (unsigned long i = 0; i < HOST_LOOP_ITERS; i++)
			barrier();
	}
	ioctl(s->fd, PERF_EVENT_IOC_DISABLE, 0);
	drain(s, t);
}

/* Best effort: let earlier tests' long PMIs not throttle this one. */
static void unthrottle(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_cpu_time_max_percent", "w");

	if (f) {
		fputs("0\n", f);
		fclose(f);
	}
	f = fopen("/proc/sys/kernel/perf_event_max_sample_rate", "w");
	if (f) {
		fputs("100000\n", f);
		fclose(f);
	}
}

/* Runs the guest's loop (or one iteration, idle) and then its SBI calls. */
static int run_workload(const char *kind)
{
	bool idle = !strcmp(kind, "idle");
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (!idle && strcmp(kind, "loop"))
		ksft_exit_fail_msg("--workload takes loop or idle, not %s\n", kind);
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	guest_iters = idle ? 1 : GUEST_LOOP_ITERS;
	sync_global_to_guest(vm, guest_iters);
	printf("WORKLOAD %s %#lx %#lx\n", kind, (unsigned long)guest_loop,
	       (unsigned long)guest_loop_end);
	run_to_sync(vcpu, 1);
	for (int c = 0; c < SBI_CHUNKS; c++)
		run_to_sync(vcpu, 2);
	kvm_vm_free(vm);
	return 0;
}

int main(int argc, char *argv[])
{
	bool host_only = argc > 1 && !strcmp(argv[1], "--host-only");
	struct tally loop, user, sbi, excl;
	struct kvm_vcpu *vcpu;
	struct sampler s;
	struct kvm_vm *vm;
	unsigned long guest;

	if (argc > 2 && !strcmp(argv[1], "--workload"))
		return run_workload(argv[2]);
	ksft_print_header();
	unthrottle();
	sampler_open(&s, false);
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	ksft_set_plan(host_only ? 4 : 6);
	ksft_print_msg("expectation: %s\n", host_only ?
		       "generic perf, every sample is a host sample" :
		       "riscv perf attribution, guest samples marked as guest");

	/*
	 * Warm-up round, not judged: after another VM used the SBI PMU on
	 * this machine, the first guest stint of a new VM sees no samples.
	 */
	phase(&s, vcpu, 1, &loop);
	print_tally("warm-up (not judged):", &loop);
	phase(&s, vcpu, 2, &loop);
	phase(&s, vcpu, 1, &loop);
	print_tally("guest runs its loop:", &loop);
	phase(&s, NULL, 0, &user);
	print_tally("host runs a user-space loop:", &user);
	phase(&s, vcpu, 2, &sbi);
	print_tally("guest makes only SBI calls:", &sbi);
	sampler_close(&s);

	sampler_open(&s, true);
	phase(&s, vcpu, 1, &excl);
	print_tally("guest loop, exclude_guest=1:", &excl);
	sampler_close(&s);
	kvm_vm_free(vm);

	TEST_ASSERT(loop.total > 20 && user.total > 20 && sbi.total > 20,
		    "too few samples to judge (%lu, %lu, %lu)", loop.total, user.total, sbi.total);

	guest = loop.n[CTX_GUEST_KERNEL] + loop.n[CTX_GUEST_USER];
	if (host_only) {
		ksft_test_result(guest == 0,
				 "generic perf: no guest samples while the guest loops\n");
	} else {
		ksft_test_result(pct(guest, loop.total) >= MIN_GUEST_IN_LOOP,
				 "guest loop: >= %d%% of samples are GUEST_KERNEL (%lu%%)\n",
				 MIN_GUEST_IN_LOOP, pct(guest, loop.total));
		ksft_test_result(pct(loop.guest_ip_in_loop, loop.n[CTX_GUEST_KERNEL]) >=
				 MIN_IP_IN_LOOP,
				 "guest loop: >= %d%% of guest samples have an IP in the loop (%lu%%)\n",
				 MIN_IP_IN_LOOP,
				 pct(loop.guest_ip_in_loop, loop.n[CTX_GUEST_KERNEL]));
	}
	ksft_test_result(pct(user.n[CTX_HOST_USER], user.total) >= MIN_USER_IN_HOST_LOOP &&
			 user.n[CTX_GUEST_KERNEL] + user.n[CTX_GUEST_USER] == 0,
			 "host loop: >= %d%% USER samples and no guest samples (%lu%%)\n",
			 MIN_USER_IN_HOST_LOOP, pct(user.n[CTX_HOST_USER], user.total));
	guest = sbi.n[CTX_GUEST_KERNEL] + sbi.n[CTX_GUEST_USER];
	ksft_test_result(pct(guest, sbi.total) <= (host_only ? 0 : MAX_GUEST_IN_SBI),
			 "SBI calls: host kernel work is not attributed to the guest (%lu%% guest)\n",
			 pct(guest, sbi.total));
	if (!host_only)
		ksft_test_result(sbi.n[CTX_HOST_KERNEL] > sbi.total / 2,
				 "SBI calls: most samples are host kernel (%lu%%)\n",
				 pct(sbi.n[CTX_HOST_KERNEL], sbi.total));
	guest = excl.n[CTX_GUEST_KERNEL] + excl.n[CTX_GUEST_USER];
	ksft_test_result(guest == 0, "exclude_guest=1: no guest samples (%lu of %lu)\n",
			 guest, excl.total);
	ksft_finished();
}
