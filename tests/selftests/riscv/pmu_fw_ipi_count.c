// SPDX-License-Identifier: GPL-2.0
/*
 * Firmware counters bumped from other vCPUs' threads.
 *
 * vCPU 0 counts SBI_PMU_FW_IPI_RCVD. vCPUs 1..N-1, each in its own host
 * thread, send it K IPIs each through the SBI IPI extension, all at the
 * same time. KVM counts a received IPI in the sender's thread, on the
 * receiver's counter, so the senders update vCPU 0's counter concurrently.
 * Meanwhile vCPU 0 keeps reading the counter (counter_fw_read) and starting
 * it again, which must give ALREADY_STARTED and change nothing (every other
 * such start asks for a huge initial value).
 *
 * Three phases, each opened by vCPU 0 and closed when every sender has sent
 * its K IPIs:
 *   1. counter started: vCPU 0 then stops it (no RESET) and must read
 *      exactly (N-1)*K, through counter_fw_read and TAKE_SNAPSHOT;
 *   2. counter stopped: the IPIs do not move it;
 *   3. started again without SET_INIT_VALUE, so it continues from the
 *      stopped value: exactly 2*(N-1)*K at the end.
 * Each sender counts its own IPI_SENT, started in phases 1 and 3 and
 * stopped in phase 2: K, K and 2K after the three phases.
 *
 * vCPU 0 never enables interrupts (sstatus.SIE stays clear): the IPIs stay
 * pending and are never taken, and vCPU 0 never waits for one. Every 32
 * reads it leaves the CPUs to the senders for a while (-p microseconds in
 * its host thread), so that the senders run at the same time as often as
 * possible: concurrent increments are what loses counts if KVM's increment
 * is not atomic. Whether a given run loses any depends on how often two
 * senders' SBI calls overlap, i.e. on -k and on how busy the machine is.
 *
 * Usage: pmu_fw_ipi_count [-v vCPUs, 3 or 4] [-k IPIs per sender per phase]
 *                         [-p pause of vCPU 0 in microseconds]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "test_util.h"
#include "ucall_common.h"

#include "pmu_snapshot_util.h"

#define SBI_EXT_IPI			0x735049
#define SBI_EXT_IPI_SEND_IPI		0
#define SBI_PMU_EVENT_TYPE_FW		0xf
#define SBI_PMU_FW_IPI_SENT		6
#define SBI_PMU_FW_IPI_RCVD		7
#define FW_EVENT(code)			((SBI_PMU_EVENT_TYPE_FW << 16) | (code))

#define AREA		((unsigned long)SZ_1G)
#define SLOT_AREA	10
#define MAX_VCPUS	4
#define PHASES		3
#define HUGE		BIT(62)

/* First argument of the guest's GUEST_SYNC6 reports. */
enum {
	R_OPEN = 0x1000,	/* receiver: phase opened (phase) */
	R_RESTART,		/* receiver: start before phase 3 (phase, err) */
	R_DURING,		/* receiver: (phase, reads, bad reads, starts, bad starts) */
	R_VALUE,		/* receiver: (phase, stop err, fw read err, value, slot) */
	S_WAIT,			/* sender: waits for the phase (phase) */
	S_SENT,			/* sender: (phase, fw read err, IPI_SENT, failed sends) */
	R_PAUSE,		/* receiver: lets the senders have the CPUs for a while */
};

/* The receiver pauses after this many reads, so that the senders overlap. */
#define READS_PER_PAUSE	32

/* Written by the host: the last phase every sender has finished. */
static unsigned long phase_done;

static unsigned long k_ipis = 100000;
static unsigned long pause_us = 1000;
static int nr_vcpus = 3;

/* Guest helpers. */
static long start(unsigned long ctr, unsigned long flags, unsigned long value)
{
	return pmu(SBI_EXT_PMU_COUNTER_START, ctr, 1, flags, value).error;
}

static long stop(unsigned long ctr, unsigned long flags)
{
	return pmu(SBI_EXT_PMU_COUNTER_STOP, ctr, 1, flags, 0).error;
}

static struct sbiret fw_read(unsigned long ctr)
{
	return pmu(SBI_EXT_PMU_COUNTER_FW_READ, ctr, 0, 0, 0);
}

/* vCPU 0: counts the IPIs it receives, reading and restarting the counter. */
static void receiver_code(unsigned long senders, unsigned long k)
{
	unsigned long ctr = config(FW_EVENT(SBI_PMU_FW_IPI_RCVD));
	unsigned long before, after, last, reads, bad_reads, starts, bad_starts;
	u64 *slot;
	struct sbiret r;
	long err;

	err = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, AREA, 0, 0, 0).error;
	__GUEST_ASSERT(!err, "set_shmem = %ld", err);
	/* Slots are relative to the base of the stop, which is the counter. */
	slot = (u64 *)AREA + 1;
	err = start(ctr, SBI_PMU_START_FLAG_SET_INIT_VALUE, 0);
	__GUEST_ASSERT(!err, "start = %ld", err);

	for (unsigned long phase = 1; phase <= PHASES; phase++) {
		if (phase == 3) {
			err = start(ctr, 0, 0);
			GUEST_SYNC6(R_RESTART, phase, err, 0, 0, 0);
		}
		/* Reads are checked against this phase's start, so a loss shows once. */
		r = fw_read(ctr);
		__GUEST_ASSERT(!r.error, "fw_read = %ld", r.error);
		before = r.value;
		after = before + (phase == 2 ? 0 : senders * k);
		GUEST_SYNC6(R_OPEN, phase, before, 0, 0, 0);
		reads = 0;
		bad_reads = 0;
		starts = 0;
		bad_starts = 0;
		last = before;
		while (READ_ONCE(phase_done) < phase) {
			r = fw_read(ctr);
			reads++;
			/* Never an error, never backwards, never past the end. */
			if (r.error || r.value < last || r.value > after)
				bad_reads++;
			else
				last = r.value;
			if (reads % READS_PER_PAUSE == 0)
				GUEST_SYNC6(R_PAUSE, phase, 0, 0, 0, 0);
			if (phase == 2)
				continue;
			/* Every other start asks for a huge initial value. */
			err = start(ctr, starts & 1 ? SBI_PMU_START_FLAG_SET_INIT_VALUE : 0, HUGE);
			starts++;
			if (err != SBI_ERR_ALREADY_STARTED)
				bad_starts++;
		}
		GUEST_SYNC6(R_DURING, phase, reads, bad_reads, starts, bad_starts);

		WRITE_ONCE(*slot, -1UL);
		err = phase == 2 ? 0 : stop(ctr, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT);
		r = fw_read(ctr);
		/* A stopped counter is not stopped again: no snapshot in phase 2. */
		GUEST_SYNC6(R_VALUE, phase, err, r.error, r.value,
			    phase == 2 ? r.value : READ_ONCE(*slot));
	}
	GUEST_DONE();
}

/* vCPUs 1..N-1: K IPIs to vCPU 0 per phase, counting their own. */
static void sender_code(unsigned long k)
{
	unsigned long ctr = config(FW_EVENT(SBI_PMU_FW_IPI_SENT));
	unsigned long failed;
	struct sbiret r;
	long err;

	for (unsigned long phase = 1; phase <= PHASES; phase++) {
		if (phase != 2) {
			err = start(ctr, phase == 1 ? SBI_PMU_START_FLAG_SET_INIT_VALUE : 0, 0);
			__GUEST_ASSERT(!err, "sender: start = %ld", err);
		}
		GUEST_SYNC6(S_WAIT, phase, 0, 0, 0, 0);
		failed = 0;
		for (unsigned long i = 0; i < k; i++)
			if (sbi_ecall(SBI_EXT_IPI, SBI_EXT_IPI_SEND_IPI, 1, 0, 0, 0, 0, 0).error)
				failed++;
		if (phase != 2) {
			err = stop(ctr, 0);
			__GUEST_ASSERT(!err, "sender: stop = %ld", err);
		}
		r = fw_read(ctr);
		GUEST_SYNC6(S_SENT, phase, r.error, r.value, failed, 0);
	}
	GUEST_DONE();
}

/* Host side. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t opened = PTHREAD_COND_INITIALIZER;
static unsigned long open_phase;
static int finished[PHASES + 1];
static double opened_at[PHASES + 1];
static unsigned long *done_hva;
static int passed, failed;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One TAP result; the vCPU threads report concurrently. */
static void check(bool ok, const char *fmt, ...)
{
	char name[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&lock);
	ksft_test_result(ok, "%s\n", name);
	ok ? passed++ : failed++;
	pthread_mutex_unlock(&lock);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lock);
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	fflush(stdout);
	va_end(ap);
	pthread_mutex_unlock(&lock);
}

static u64 next_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	u64 cmd;

	vcpu_run(vcpu);
	cmd = get_ucall(vcpu, uc);
	if (cmd == UCALL_ABORT)
		REPORT_GUEST_ASSERT(*uc);
	TEST_ASSERT(cmd == UCALL_SYNC || cmd == UCALL_DONE, "vCPU %u: unexpected exit %s",
		    vcpu->id, exit_reason_str(vcpu->run->exit_reason));
	return cmd;
}

static void *receiver_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	unsigned long senders = nr_vcpus - 1, value[PHASES + 1] = {}, want;
	struct ucall uc;
	long restart_err = 0;
	bool ok;

	while (next_ucall(vcpu, &uc) == UCALL_SYNC) {
		unsigned long phase = uc.args[1];

		switch (uc.args[0]) {
		case R_PAUSE:
			usleep(pause_us);
			break;
		case R_RESTART:
			restart_err = uc.args[2];
			break;
		case R_OPEN:
			if (phase == 3) {
				diag("phase 3: start of the stopped counter: err %ld, from %lu\n",
				     restart_err, uc.args[2]);
				check(!restart_err && uc.args[2] == value[2],
				      "phase 3: start without SET_INIT_VALUE -> SUCCESS, from the stopped value");
			}
			pthread_mutex_lock(&lock);
			open_phase = phase;
			opened_at[phase] = now();
			pthread_cond_broadcast(&opened);
			pthread_mutex_unlock(&lock);
			break;
		case R_DURING:
			diag("phase %lu: %lu firmware reads during the IPIs, %lu bad; "
			     "%lu starts of the started counter, %lu not ALREADY_STARTED\n",
			     phase, uc.args[2], uc.args[3], uc.args[4], uc.args[5]);
			if (phase == 2)
				check(uc.args[2] > 0 && uc.args[3] == 0,
				      "phase 2: firmware reads of the stopped counter never change");
			else
				check(uc.args[2] > 0 && uc.args[3] == 0,
				      "phase %lu: firmware reads during the IPIs: no error, never backwards or past the total",
				      phase);
			if (phase != 2)
				check(uc.args[4] > 0 && uc.args[5] == 0,
				      "phase %lu: start of the started counter -> ALREADY_STARTED",
				      phase);
			break;
		case R_VALUE:
			/* Phase 2 compares with what phase 1 ended at; 1 and 3 are absolute. */
			want = phase == 1 ? senders * k_ipis :
			       phase == 2 ? value[1] : 2 * senders * k_ipis;
			value[phase] = uc.args[4];
			diag("phase %lu: IPI_RCVD %lu (counter_fw_read), %lu (snapshot), want %lu; "
			     "stop err %ld, read err %ld\n", phase, value[phase], uc.args[5], want,
			     (long)uc.args[2], (long)uc.args[3]);
			if (phase != 2)
				diag("phase %lu: %ld of %lu increments lost\n", phase,
				     (long)(value[phase - 1] + senders * k_ipis - value[phase]),
				     senders * k_ipis);
			ok = !uc.args[2] && !uc.args[3] && value[phase] == want &&
			     uc.args[5] == want;
			if (phase == 1)
				check(ok, "phase 1: IPI_RCVD = (N-1)*K by fw read and snapshot");
			else if (phase == 2)
				check(ok, "phase 2: the stopped IPI_RCVD ignores the IPIs");
			else
				check(ok, "phase 3: IPI_RCVD continues to 2*(N-1)*K");
			break;
		default:
			TEST_FAIL("receiver: unknown report 0x%lx", uc.args[0]);
		}
	}
	return NULL;
}

static void *sender_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	unsigned long want;
	struct ucall uc;

	while (next_ucall(vcpu, &uc) == UCALL_SYNC) {
		unsigned long phase = uc.args[1];

		switch (uc.args[0]) {
		case S_WAIT:
			pthread_mutex_lock(&lock);
			while (open_phase < phase)
				pthread_cond_wait(&opened, &lock);
			pthread_mutex_unlock(&lock);
			break;
		case S_SENT:
			want = phase == 3 ? 2 * k_ipis : k_ipis;
			diag("phase %lu: vCPU %u IPI_SENT %lu, want %lu; %lu sends failed\n", phase,
			     vcpu->id, uc.args[3], want, uc.args[4]);
			check(!uc.args[2] && uc.args[3] == want && !uc.args[4],
			      "vCPU %u: IPI_SENT = %s after phase %lu, every send_ipi -> SUCCESS",
			      vcpu->id, phase == 3 ? "2K" : "K", phase);
			pthread_mutex_lock(&lock);
			if (++finished[phase] == nr_vcpus - 1) {
				double secs = now() - opened_at[phase];

				printf("# phase %lu: %d senders x %lu IPIs in %.2f s (%.0f/s)\n",
				       phase, nr_vcpus - 1, k_ipis, secs,
				       (nr_vcpus - 1) * k_ipis / secs);
				__atomic_store_n(done_hva, phase, __ATOMIC_RELEASE);
			}
			pthread_mutex_unlock(&lock);
			break;
		default:
			TEST_FAIL("sender: unknown report 0x%lx", uc.args[0]);
		}
	}
	return NULL;
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	pthread_t threads[MAX_VCPUS];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	double t0;
	bool ok;
	int opt;

	while ((opt = getopt(argc, argv, "v:k:p:")) != -1) {
		switch (opt) {
		case 'v':
			nr_vcpus = atoi(optarg);
			break;
		case 'k':
			k_ipis = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			pause_us = strtoul(optarg, NULL, 0);
			break;
		default:
			printf("usage: %s [-v 3|4] [-k IPIs per sender per phase] [-p us]\n",
			       argv[0]);
			exit(KSFT_FAIL);
		}
	}
	TEST_ASSERT(nr_vcpus >= 3 && nr_vcpus <= MAX_VCPUS, "-v: 3 or 4 vCPUs");
	TEST_ASSERT(k_ipis > 0, "-k: at least one IPI");

	ksft_print_header();
	vm = vm_create_with_one_vcpu(&vcpu, NULL);
	ok = __vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_PMU) &&
	     __vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_IPI);
	kvm_vm_free(vm);
	if (!ok)
		ksft_exit_skip("SBI PMU and IPI not available\n");

	/*
	 * Receiver: reads, starts and value in phases 1 and 3, reads and value
	 * in phase 2, the start before phase 3; senders: one per phase each.
	 */
	ksft_set_plan(9 + (nr_vcpus - 1) * PHASES);
	ksft_print_msg("%d vCPUs: %d senders x %lu IPIs per phase\n", nr_vcpus, nr_vcpus - 1,
		       k_ipis);

	vm = vm_create_with_vcpus(nr_vcpus, NULL, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, AREA, SLOT_AREA, 1, 0);
	virt_map(vm, AREA, AREA, 1);
	done_hva = addr_gva2hva(vm, (vm_vaddr_t)&phase_done);
	vcpu_arch_set_entry_point(vcpus[0], receiver_code);
	vcpu_args_set(vcpus[0], 2, nr_vcpus - 1, k_ipis);
	for (int v = 1; v < nr_vcpus; v++) {
		vcpu_arch_set_entry_point(vcpus[v], sender_code);
		vcpu_args_set(vcpus[v], 1, k_ipis);
	}

	t0 = now();
	pthread_create(&threads[0], NULL, receiver_thread, vcpus[0]);
	for (int v = 1; v < nr_vcpus; v++)
		pthread_create(&threads[v], NULL, sender_thread, vcpus[v]);
	for (int v = 0; v < nr_vcpus; v++)
		pthread_join(threads[v], NULL);
	ksft_print_msg("all phases in %.1f s\n", now() - t0);
	kvm_vm_free(vm);
	if (passed + failed != 9 + (nr_vcpus - 1) * PHASES)
		ksft_exit_fail_msg("ran %d of %d checks\n", passed + failed,
				   9 + (nr_vcpus - 1) * PHASES);
	ksft_finished();
}
