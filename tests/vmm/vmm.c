// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal KVM VMM for riscv64: boots a Linux Image as a guest with one
 * vCPU, an initrd and a device tree it writes with the kernel tree's libfdt
 * (scripts/dtc/libfdt, sequential-write API). The ONE_REG ids come from the
 * KVM selftests' RISCV_*_REG() macros (include/riscv/processor.h).
 *
 *   vmm --kernel Image [--initrd initrd] [--cmdline "..." | --cmdline-file f] [--mem MiB]
 *       [--timeout seconds] [--no-uart] [--dtb-out file]
 *       [--migrate-at text [--migrate-count n]]
 *
 * Console: the SBI debug console (DBCN, enabled through ONE_REG) and the
 * legacy SBI putchar are forwarded by KVM as KVM_EXIT_RISCV_SBI and go to
 * stdout; so does a write-only ns16550a at 0x10000000 (MMIO exits; polled,
 * no interrupt), for guests without an SBI tty driver.
 *
 * When the guest prints a line containing "@@MARK <tag>", the VMM prints
 * "@@VMMSTAT <tag> name=value ..." with the vCPU's KVM statistics
 * (KVM_GET_STATS_FD) read while the vCPU is stopped in that exit, and
 * "@@VMMIRQ <tag> irq=count ..." with the host's interrupt counts.
 *
 * With --migrate-at, the n'th (default first) console line that contains the text makes
 * the VMM move the guest into a new VM once the vCPU is out of KVM_RUN:
 * it finishes the pending exit (immediate_exit), saves every register
 * KVM_GET_REG_LIST names (the SBI PMU state among them), the guest's memory
 * and the UART's registers, closes the VM, builds a new one and restores
 * them all, then prints "@@MIGRATED registers=N pmu=P refused=R
 * changed=C mib=M ms=T".
 *
 * Exit codes: 0 guest shut down (SBI SRST shutdown, no failure reason),
 * 2 guest asked for a reboot (also what a guest panic with panic=-1 does),
 * 3 shutdown or reboot with reason "system failure", 4 unexpected exit from
 * KVM_RUN, 1 VMM error, 124 timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <libfdt.h>		/* scripts/dtc/libfdt */
#include "processor.h"		/* tools/testing/selftests/kvm/include/riscv */

#define RAM_BASE	0x80000000UL
#define KERNEL_OFF	0x200000UL
#define UART_BASE	0x10000000UL
#define UART_SIZE	0x100UL

#define SBI_EXT_0_1_CONSOLE_PUTCHAR	0x1
#define SBI_EXT_0_1_CONSOLE_GETCHAR	0x2
#define SBI_EXT_DBCN			0x4442434EUL
#define SBI_ERR_FAILED			-1L
#define SBI_ERR_NOT_SUPPORTED		-2L
#define SBI_SRST_REASON_SYS_FAILURE	1

#define EXIT_SHUTDOWN	0
#define EXIT_ERROR	1
#define EXIT_RESET	2
#define EXIT_SYSFAIL	3
#define EXIT_UNEXPECTED	4
#define EXIT_TIMEOUT	124

static int kvm_fd, vm_fd, vcpu_fd, stats_fd = -1, run_size;
static struct kvm_run *run;
static uint8_t *ram;
static uint64_t ram_size;
static const char *migrate_at;
static int migrate_count = 1, migrate_pending;
static struct kvm_stats_header stats_hdr;
static char *stats_desc;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vmm: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(EXIT_ERROR);
}

/* ---- ONE_REG (ids from the KVM selftests' RISCV_*_REG() macros) --------- */

static int get_reg(uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)val };

	return ioctl(vcpu_fd, KVM_GET_ONE_REG, &r);
}

static void set_reg(uint64_t id, uint64_t val, const char *what)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&val };

	if (ioctl(vcpu_fd, KVM_SET_ONE_REG, &r) < 0)
		die("KVM_SET_ONE_REG %s: %s", what, strerror(errno));
}

/* ---- device tree (libfdt, sequential write) --------------------------- */

/* Every libfdt sequential-write call returns 0 or -FDT_ERR_*. */
#define FDT_CHECK(call)	fdt_or_die((call), #call)

static void fdt_or_die(int err, const char *call)
{
	if (err < 0)
		die("%s: %s", call, fdt_strerror(err));
}

/* A "reg" property of one region: base and size, two cells each. */
static void fdt_reg(void *fdt, uint64_t base, uint64_t size)
{
	const fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };

	FDT_CHECK(fdt_property(fdt, "reg", reg, sizeof(reg)));
}

/* ---- ISA extensions KVM offers -------------------------------------- */

/* Names of enum KVM_RISCV_ISA_EXT_ID, in order (6.12 UAPI). */
static const char *const isa_ext_names[] = {
	"a", "c", "d", "f", "h", "i", "m", "svpbmt", "sstc", "svinval",
	"zihintpause", "zicbom", "zicboz", "zbb", "ssaia", "v", "svnapot",
	"zba", "zbs", "zicntr", "zicsr", "zifencei", "zihpm", "smstateen",
	"zicond", "zbc", "zbkb", "zbkc", "zbkx", "zknd", "zkne", "zknh", "zkr",
	"zksed", "zksh", "zkt", "zvbb", "zvbc", "zvkb", "zvkg", "zvkned",
	"zvknha", "zvknhb", "zvksed", "zvksh", "zvkt", "zfh", "zfhmin",
	"zihintntl", "zvfh", "zvfhmin", "zfa", "ztso", "zacas", "sscofpmf",
	"zimop", "zca", "zcb", "zcd", "zcf", "zcmop", "zawrs",
};

/*
 * Left out of the guest's device tree: the H extension (KVM never offers
 * it), Ssaia and Smstateen (the guest would need an AIA irqchip / state
 * enable CSRs this VMM does not set up).
 */
static int isa_ext_skipped(const char *n)
{
	return !strcmp(n, "h") || !strcmp(n, "ssaia") || !strcmp(n, "smstateen");
}

static void cpu_node(void *fdt)
{
	char exts[1024], isa[1024] = "rv64";
	size_t elen = 0, i;
	uint64_t v, base;
	const char *order = "imafdqcv";

	/* Single-letter extensions from the config register "isa". */
	if (get_reg(RISCV_CONFIG_REG(isa), &base) < 0)
		die("get config isa: %s", strerror(errno));
	for (i = 0; order[i]; i++)
		if (base & (1UL << (order[i] - 'a'))) {
			size_t l = strlen(isa);

			isa[l] = order[i];
			isa[l + 1] = 0;
		}

	for (i = 0; i < ARRAY_SIZE(isa_ext_names); i++) {
		const char *n = isa_ext_names[i];

		if (get_reg(RISCV_ISA_EXT_REG(i), &v) < 0 || !v || isa_ext_skipped(n))
			continue;
		memcpy(exts + elen, n, strlen(n) + 1);
		elen += strlen(n) + 1;
		if (strlen(n) > 1) {
			strcat(isa, "_");
			strcat(isa, n);
		}
	}

	FDT_CHECK(fdt_begin_node(fdt, "cpu@0"));
	FDT_CHECK(fdt_property_string(fdt, "device_type", "cpu"));
	FDT_CHECK(fdt_property_u32(fdt, "reg", 0));
	FDT_CHECK(fdt_property_string(fdt, "status", "okay"));
	FDT_CHECK(fdt_property_string(fdt, "compatible", "riscv"));
	FDT_CHECK(fdt_property_string(fdt, "riscv,isa", isa));
	FDT_CHECK(fdt_property_string(fdt, "riscv,isa-base", "rv64i"));
	FDT_CHECK(fdt_property(fdt, "riscv,isa-extensions", exts, elen));
	if (!get_reg(RISCV_CONFIG_REG(zicbom_block_size), &v) && v)
		FDT_CHECK(fdt_property_u32(fdt, "riscv,cbom-block-size", v));
	if (!get_reg(RISCV_CONFIG_REG(zicboz_block_size), &v) && v)
		FDT_CHECK(fdt_property_u32(fdt, "riscv,cboz-block-size", v));
	v = 8;
	get_reg(RISCV_CONFIG_REG(satp_mode), &v);
	FDT_CHECK(fdt_property_string(fdt, "mmu-type", v == 10 ? "riscv,sv57" :
				      v == 9 ? "riscv,sv48" : "riscv,sv39"));
	FDT_CHECK(fdt_begin_node(fdt, "interrupt-controller"));
	FDT_CHECK(fdt_property_u32(fdt, "#interrupt-cells", 1));
	FDT_CHECK(fdt_property(fdt, "interrupt-controller", "", 0));	/* empty */
	FDT_CHECK(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
	FDT_CHECK(fdt_property_u32(fdt, "phandle", 1));
	FDT_CHECK(fdt_end_node(fdt));
	FDT_CHECK(fdt_end_node(fdt));
	fprintf(stderr, "vmm: guest isa %s\n", isa);
}

/* Writes the device tree blob at fdt (at most max bytes); returns its size. */
static size_t make_fdt(void *fdt, size_t max, const char *cmdline, uint64_t initrd,
		       uint64_t initrd_len, int uart)
{
	char name[64];
	uint64_t v;

	FDT_CHECK(fdt_create(fdt, max));
	FDT_CHECK(fdt_finish_reservemap(fdt));
	FDT_CHECK(fdt_begin_node(fdt, ""));
	FDT_CHECK(fdt_property_u32(fdt, "#address-cells", 2));
	FDT_CHECK(fdt_property_u32(fdt, "#size-cells", 2));
	FDT_CHECK(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	FDT_CHECK(fdt_property_string(fdt, "model", "rsproj-vmm"));

	FDT_CHECK(fdt_begin_node(fdt, "chosen"));
	FDT_CHECK(fdt_property_string(fdt, "bootargs", cmdline));
	if (initrd_len) {
		FDT_CHECK(fdt_property_u64(fdt, "linux,initrd-start", initrd));
		FDT_CHECK(fdt_property_u64(fdt, "linux,initrd-end", initrd + initrd_len));
	}
	FDT_CHECK(fdt_end_node(fdt));

	FDT_CHECK(fdt_begin_node(fdt, "cpus"));
	FDT_CHECK(fdt_property_u32(fdt, "#address-cells", 1));
	FDT_CHECK(fdt_property_u32(fdt, "#size-cells", 0));
	if (get_reg(RISCV_TIMER_REG(frequency), &v) < 0)
		die("get timer frequency: %s", strerror(errno));
	FDT_CHECK(fdt_property_u32(fdt, "timebase-frequency", v));
	cpu_node(fdt);
	FDT_CHECK(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "memory@%lx", RAM_BASE);
	FDT_CHECK(fdt_begin_node(fdt, name));
	FDT_CHECK(fdt_property_string(fdt, "device_type", "memory"));
	fdt_reg(fdt, RAM_BASE, ram_size);
	FDT_CHECK(fdt_end_node(fdt));

	if (uart) {
		snprintf(name, sizeof(name), "serial@%lx", UART_BASE);
		FDT_CHECK(fdt_begin_node(fdt, name));
		FDT_CHECK(fdt_property_string(fdt, "compatible", "ns16550a"));
		fdt_reg(fdt, UART_BASE, UART_SIZE);
		FDT_CHECK(fdt_property_u32(fdt, "clock-frequency", 3686400));
		FDT_CHECK(fdt_end_node(fdt));
	}
	FDT_CHECK(fdt_end_node(fdt));
	FDT_CHECK(fdt_finish(fdt));
	return fdt_totalsize(fdt);
}

/* ---- statistics ----------------------------------------------------- */

static void stats_open(void)
{
	size_t len;

	if (stats_fd >= 0)	/* the previous VM's, after a migration */
		close(stats_fd);
	free(stats_desc);
	stats_desc = NULL;
	stats_fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (stats_fd < 0) {
		fprintf(stderr, "vmm: KVM_GET_STATS_FD: %s (no statistics)\n", strerror(errno));
		return;
	}
	if (pread(stats_fd, &stats_hdr, sizeof(stats_hdr), 0) != sizeof(stats_hdr))
		die("read stats header");
	len = (sizeof(struct kvm_stats_desc) + stats_hdr.name_size) * stats_hdr.num_desc;
	stats_desc = malloc(len);
	if (!stats_desc || pread(stats_fd, stats_desc, len, stats_hdr.desc_offset) != (ssize_t)len)
		die("read stats descriptors");
}

static void stats_print(const char *tag)
{
	size_t dsz = sizeof(struct kvm_stats_desc) + stats_hdr.name_size;
	uint32_t i;

	if (stats_fd < 0)
		return;
	printf("@@VMMSTAT %s", tag);
	for (i = 0; i < stats_hdr.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(stats_desc + i * dsz);
		uint64_t val;

		if (d->size != 1)
			continue;
		if (pread(stats_fd, &val, 8, stats_hdr.data_offset + d->offset) != 8)
			die("read stats");
		printf(" %s=%llu", d->name, (unsigned long long)val);
	}
	printf("\n");
	fflush(stdout);
}

/*
 * The host's interrupt counts (/proc/interrupts, summed over CPUs), to tell
 * host interrupts that exit the guest apart from the guest's own traps.
 */
static void irqs_print(const char *tag)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char buf[1024], name[64], *p, *end;
	unsigned long long sum, n;

	if (!f)
		return;
	printf("@@VMMIRQ %s", tag);
	if (!fgets(buf, sizeof(buf), f)) {	/* the CPU header */
		fclose(f);
		printf("\n");
		return;
	}
	while (fgets(buf, sizeof(buf), f)) {
		p = buf;
		while (*p == ' ')
			p++;
		if (sscanf(p, "%63[^:]", name) != 1 || !strchr(p, ':'))
			continue;
		p = strchr(p, ':') + 1;
		sum = 0;
		for (;;) {
			n = strtoull(p, &end, 10);
			if (end == p)
				break;
			sum += n;
			p = end;
		}
		printf(" %s=%llu", name, sum);
	}
	fclose(f);
	printf("\n");
}

/* ---- console -------------------------------------------------------- */

static char line[4096];
static size_t line_len;

static void console_putc(uint8_t c)
{
	char *m;

	putchar(c);
	if (c != '\n') {
		if (line_len < sizeof(line) - 1)
			line[line_len++] = c;
		return;
	}
	fflush(stdout);
	line[line_len] = 0;
	line_len = 0;
	if (migrate_at && strstr(line, migrate_at) && !--migrate_count) {
		migrate_pending = 1;
		migrate_at = NULL;	/* once */
	}
	m = strstr(line, "@@MARK ");
	if (m) {
		char tag[64];

		if (sscanf(m + 7, "%63s", tag) == 1) {
			stats_print(tag);
			irqs_print(tag);
			fflush(stdout);
		}
	}
}

static void *guest_ptr(uint64_t gpa, uint64_t len)
{
	if (gpa < RAM_BASE || gpa - RAM_BASE > ram_size || len > ram_size - (gpa - RAM_BASE))
		return NULL;
	return ram + (gpa - RAM_BASE);
}

static void handle_sbi(struct kvm_run *run)
{
	unsigned long ext = run->riscv_sbi.extension_id;
	unsigned long fid = run->riscv_sbi.function_id;
	unsigned long *a = run->riscv_sbi.args;
	uint8_t *p;
	unsigned long i;

	run->riscv_sbi.ret[0] = SBI_ERR_NOT_SUPPORTED;
	run->riscv_sbi.ret[1] = 0;
	if (ext == SBI_EXT_DBCN) {
		switch (fid) {
		case 0:		/* write(num_bytes, base_lo, base_hi) */
			p = a[2] ? NULL : guest_ptr(a[1], a[0]);
			if (!p) {
				run->riscv_sbi.ret[0] = -3; /* SBI_ERR_INVALID_PARAM */
				break;
			}
			for (i = 0; i < a[0]; i++)
				console_putc(p[i]);
			run->riscv_sbi.ret[0] = 0;
			run->riscv_sbi.ret[1] = a[0];
			break;
		case 1:		/* read: no input */
			run->riscv_sbi.ret[0] = 0;
			run->riscv_sbi.ret[1] = 0;
			break;
		case 2:		/* write_byte */
			console_putc(a[0]);
			run->riscv_sbi.ret[0] = 0;
			break;
		}
	} else if (ext == SBI_EXT_0_1_CONSOLE_PUTCHAR) {
		console_putc(a[0]);
		run->riscv_sbi.ret[0] = 0;
	} else if (ext == SBI_EXT_0_1_CONSOLE_GETCHAR) {
		run->riscv_sbi.ret[0] = -1;
	}
}

/* A 16550 that only transmits: LSR always "transmitter empty". */
static uint8_t uart_regs[8], uart_lcr;

static void handle_mmio(struct kvm_run *run)
{
	uint64_t off = run->mmio.phys_addr - UART_BASE;
	uint8_t v = 0;

	if (run->mmio.phys_addr < UART_BASE || off >= UART_SIZE) {
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0, sizeof(run->mmio.data));
		return;
	}
	if (run->mmio.is_write) {
		v = run->mmio.data[0];
		if (off == 0 && !(uart_lcr & 0x80))
			console_putc(v);
		else if (off == 3)
			uart_lcr = v;
		else if (off < 8)
			uart_regs[off] = v;
		return;
	}
	switch (off) {
	case 0:
		v = (uart_lcr & 0x80) ? uart_regs[0] : 0;
		break;
	case 1:
		v = uart_regs[1];
		break;
	case 2:			/* IIR: THR empty pending if enabled */
		v = (!(uart_lcr & 0x80) && (uart_regs[1] & 0x02)) ? 0xc2 : 0xc1;
		break;
	case 3:
		v = uart_lcr;
		break;
	case 5:			/* LSR: THRE | TEMT */
		v = 0x60;
		break;
	case 6:			/* MSR: DCD | DSR | CTS */
		v = 0xb0;
		break;
	default:
		v = off < 8 ? uart_regs[off] : 0;
	}
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	run->mmio.data[0] = v;
}

/* ---- the VM, and moving the guest into a new one ------------------- */

/* A VM with guest memory at RAM_BASE backed by @mem, and one vCPU. */
static void create_machine(uint8_t *mem)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = ram_size,
		.userspace_addr = (uintptr_t)mem,
	};

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	ram = mem;
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		die("KVM_CREATE_VCPU: %s", strerror(errno));
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run: %s", strerror(errno));
	stats_open();
}

static uint8_t *alloc_ram(void)
{
	uint8_t *mem = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (mem == MAP_FAILED)
		die("mmap guest memory: %s", strerror(errno));
	return mem;
}

/* One saved register; the largest a riscv vCPU has here is 32 bytes. */
struct saved_reg {
	uint64_t id;
	uint64_t val[4];
};

/* Everything the guest needs to run on: registers, memory, devices. */
struct machine_state {
	struct saved_reg *regs;
	uint64_t nregs;
	uint8_t *mem;
	uint8_t uart_regs[8], uart_lcr;
};

static bool is_pmu_reg(uint64_t id)
{
	return (id & (KVM_REG_RISCV_TYPE_MASK | KVM_REG_RISCV_SUBTYPE_MASK)) ==
	       (KVM_REG_RISCV_SBI_STATE | KVM_REG_RISCV_SBI_PMU);
}

static int one_reg(unsigned long req, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)val };

	return ioctl(vcpu_fd, req, &r);
}

static void save_machine(struct machine_state *st)
{
	struct kvm_reg_list probe = { .n = 0 }, *list;

	/* Finish the exit the vCPU is in (an MMIO or SBI result), without running the guest. */
	run->immediate_exit = 1;
	if (ioctl(vcpu_fd, KVM_RUN, 0) == 0 || errno != EINTR)
		die("KVM_RUN with immediate_exit: %s", strerror(errno));
	run->immediate_exit = 0;

	if (ioctl(vcpu_fd, KVM_GET_REG_LIST, &probe) == 0 || errno != E2BIG)
		die("KVM_GET_REG_LIST: %s", strerror(errno));
	list = malloc(sizeof(*list) + probe.n * sizeof(uint64_t));
	st->regs = calloc(probe.n, sizeof(*st->regs));
	if (!list || !st->regs)
		die("out of memory");
	list->n = probe.n;
	if (ioctl(vcpu_fd, KVM_GET_REG_LIST, list) < 0)
		die("KVM_GET_REG_LIST: %s", strerror(errno));
	st->nregs = list->n;
	for (uint64_t i = 0; i < list->n; i++) {
		st->regs[i].id = list->reg[i];
		if (KVM_REG_SIZE(list->reg[i]) > sizeof(st->regs[i].val))
			die("register 0x%llx is larger than 32 bytes",
			    (unsigned long long)list->reg[i]);
		if (one_reg(KVM_GET_ONE_REG, list->reg[i], st->regs[i].val) < 0)
			die("KVM_GET_ONE_REG 0x%llx: %s", (unsigned long long)list->reg[i],
			    strerror(errno));
	}
	free(list);

	/* What a migration sends: a copy, not the old VM's memory itself. */
	st->mem = alloc_ram();
	memcpy(st->mem, ram, ram_size);
	memcpy(st->uart_regs, uart_regs, sizeof(uart_regs));
	st->uart_lcr = uart_lcr;
}

static void destroy_machine(void)
{
	munmap(run, run_size);
	close(vcpu_fd);
	close(vm_fd);
	munmap(ram, ram_size);
}

/*
 * Restores @st into the new VM's vCPU in KVM_GET_REG_LIST order (the
 * configuration and ISA registers before the state they enable); a register
 * that already reads the saved value is left alone. Returns how many were
 * refused; @changed counts the ones set.
 */
static int restore_machine(struct machine_state *st, int *changed)
{
	uint64_t cur[4];
	int refused = 0;

	for (uint64_t i = 0; i < st->nregs; i++) {
		struct saved_reg *r = &st->regs[i];

		memset(cur, 0, sizeof(cur));
		if (one_reg(KVM_GET_ONE_REG, r->id, cur) == 0 &&
		    !memcmp(cur, r->val, KVM_REG_SIZE(r->id)))
			continue;
		if (one_reg(KVM_SET_ONE_REG, r->id, r->val) < 0) {
			fprintf(stderr, "vmm: restore 0x%llx: %s\n", (unsigned long long)r->id,
				strerror(errno));
			refused++;
			continue;
		}
		(*changed)++;
	}
	memcpy(uart_regs, st->uart_regs, sizeof(uart_regs));
	uart_lcr = st->uart_lcr;
	return refused;
}

static void migrate(void)
{
	struct machine_state st;
	struct timespec t0, t1;
	int refused, changed = 0, pmu = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	save_machine(&st);
	destroy_machine();
	create_machine(st.mem);
	refused = restore_machine(&st, &changed);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (uint64_t i = 0; i < st.nregs; i++)
		pmu += is_pmu_reg(st.regs[i].id);
	printf("@@MIGRATED registers=%llu pmu=%d refused=%d changed=%d mib=%llu ms=%lld\n",
	       (unsigned long long)st.nregs, pmu, refused, changed,
	       (unsigned long long)(ram_size >> 20),
	       (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	fflush(stdout);
	free(st.regs);
}

/* ---- main ----------------------------------------------------------- */

static uint64_t load_file(const char *path, uint64_t gpa, uint64_t max)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint64_t done = 0;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", path, strerror(errno));
	if ((uint64_t)st.st_size > max || !guest_ptr(gpa, st.st_size))
		die("%s does not fit in guest memory", path);
	while (done < (uint64_t)st.st_size) {
		n = read(fd, ram + (gpa - RAM_BASE) + done, st.st_size - done);
		if (n <= 0)
			die("read %s", path);
		done += n;
	}
	close(fd);
	return done;
}

static char *read_text(const char *path)
{
	static char buf[2048];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		die("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return buf;
}

static void on_alarm(int sig)
{
	(void)sig;
	fflush(stdout);
	fprintf(stderr, "\nvmm: timeout\n");	/* not async-signal-safe; exiting anyway */
	_exit(EXIT_TIMEOUT);
}

static void usage(void)
{
	fprintf(stderr, "usage: vmm --kernel Image [--initrd file] [--cmdline str | --cmdline-file f]\n"
		"           [--mem MiB]\n"
		"           [--timeout s] [--no-uart] [--dtb-out file]\n"
		"           [--migrate-at text [--migrate-count n]]\n");
	exit(EXIT_ERROR);
}

int main(int argc, char **argv)
{
	const char *kernel = NULL, *initrd = NULL, *dtb_out = NULL;
	const char *cmdline = "earlycon=sbi console=ttyS0 panic=-1";
	uint64_t kernel_len, initrd_gpa = 0, initrd_len = 0, fdt_gpa, image_size;
	int i, uart = 1, timeout = 0;
	size_t fdt_len;
	uint64_t v;

	ram_size = 256UL << 20;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--kernel") && i + 1 < argc)
			kernel = argv[++i];
		else if (!strcmp(argv[i], "--initrd") && i + 1 < argc)
			initrd = argv[++i];
		else if (!strcmp(argv[i], "--cmdline") && i + 1 < argc)
			cmdline = argv[++i];
		else if (!strcmp(argv[i], "--mem") && i + 1 < argc)
			ram_size = strtoull(argv[++i], NULL, 0) << 20;
		else if (!strcmp(argv[i], "--cmdline-file") && i + 1 < argc)
			cmdline = read_text(argv[++i]);
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dtb-out") && i + 1 < argc)
			dtb_out = argv[++i];
		else if (!strcmp(argv[i], "--no-uart"))
			uart = 0;
		else if (!strcmp(argv[i], "--migrate-at") && i + 1 < argc)
			migrate_at = argv[++i];
		else if (!strcmp(argv[i], "--migrate-count") && i + 1 < argc)
			migrate_count = atoi(argv[++i]);
		else
			usage();
	}
	if (!kernel || ram_size < (64UL << 20))
		usage();
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (timeout) {
		signal(SIGALRM, on_alarm);
		alarm(timeout);
	}

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("/dev/kvm: %s", strerror(errno));
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		die("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	create_machine(alloc_ram());

	/* The SBI debug console is off by default: turn it on. */
	set_reg(RISCV_SBI_EXT_REG(KVM_RISCV_SBI_EXT_DBCN), 1, "SBI DBCN enable");
	if (get_reg(RISCV_SBI_EXT_REG(KVM_RISCV_SBI_EXT_PMU), &v) < 0 || !v)
		fprintf(stderr, "vmm: warning: SBI PMU extension not available to the guest\n");

	/* Image at RAM + 2 MiB; initrd after the kernel's memory footprint. */
	kernel_len = load_file(kernel, RAM_BASE + KERNEL_OFF, ram_size / 2);
	memcpy(&image_size, ram + KERNEL_OFF + 16, 8);
	if (memcmp(ram + KERNEL_OFF + 56, "RSC\x05", 4))
		fprintf(stderr, "vmm: warning: %s has no RISC-V Image header\n", kernel);
	if (image_size < kernel_len)
		image_size = kernel_len;
	if (initrd) {
		initrd_gpa = (RAM_BASE + KERNEL_OFF + image_size + (8UL << 20)) & ~0xfffffUL;
		initrd_len = load_file(initrd, initrd_gpa,
				       RAM_BASE + ram_size - (4UL << 20) - initrd_gpa);
	}
	fdt_gpa = RAM_BASE + ram_size - (2UL << 20);
	fdt_len = make_fdt(ram + (fdt_gpa - RAM_BASE), 1UL << 20, cmdline, initrd_gpa, initrd_len,
			   uart);
	if (dtb_out) {
		FILE *f = fopen(dtb_out, "w");

		if (!f || fwrite(ram + (fdt_gpa - RAM_BASE), 1, fdt_len, f) != fdt_len)
			die("write %s", dtb_out);
		fclose(f);
	}
	fprintf(stderr, "vmm: kernel %llu bytes at 0x%lx, initrd %llu bytes at 0x%llx, fdt %zu bytes at 0x%llx\n",
		(unsigned long long)kernel_len, RAM_BASE + KERNEL_OFF,
		(unsigned long long)initrd_len, (unsigned long long)initrd_gpa, fdt_len,
		(unsigned long long)fdt_gpa);

	/* Boot protocol: pc = Image, a0 = hart id, a1 = device tree, S-mode. */
	set_reg(RISCV_CORE_REG(regs.pc), RAM_BASE + KERNEL_OFF, "pc");
	set_reg(RISCV_CORE_REG(regs.a0), 0, "a0");
	set_reg(RISCV_CORE_REG(regs.a1), fdt_gpa, "a1");

	for (;;) {
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN: %s", strerror(errno));
		}
		switch (run->exit_reason) {
		case KVM_EXIT_RISCV_SBI:
			handle_sbi(run);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(run);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			if (line_len)		/* end the guest's last line */
				console_putc('\n');
			stats_print("exit");
			v = run->system_event.ndata ? run->system_event.data[0] : 0;
			fprintf(stderr, "vmm: guest system event type %u reason %llu\n",
				run->system_event.type, (unsigned long long)v);
			if (v == SBI_SRST_REASON_SYS_FAILURE)
				return EXIT_SYSFAIL;
			if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
				return EXIT_SHUTDOWN;
			return EXIT_RESET;
		case KVM_EXIT_INTR:
			break;
		default:
			if (line_len)
				console_putc('\n');
			fprintf(stderr, "vmm: unexpected exit reason %u\n", run->exit_reason);
			return EXIT_UNEXPECTED;
		}
		if (migrate_pending) {
			migrate_pending = 0;
			migrate();
		}
	}
}
