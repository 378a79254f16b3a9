// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal KVM VMM for riscv64: boots a Linux Image as a guest with one
 * vCPU, an initrd and a device tree it writes itself.
 *
 *   vmm --kernel Image [--initrd initrd] [--cmdline "..." | --cmdline-file f] [--mem MiB]
 *       [--timeout seconds] [--no-uart] [--dtb-out file]
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
 * Exit codes: 0 guest shut down (SBI SRST shutdown, no failure reason),
 * 2 guest asked for a reboot (also what a guest panic with panic=-1 does),
 * 3 shutdown or reboot with reason "system failure", 4 unexpected exit from
 * KVM_RUN, 1 VMM error, 124 timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/kvm.h>

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

static int vcpu_fd, stats_fd = -1;
static uint8_t *ram;
static uint64_t ram_size;
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

/* ---- ONE_REG ------------------------------------------------------- */

static uint64_t reg_id(uint64_t type, uint64_t idx)
{
	return KVM_REG_RISCV | KVM_REG_SIZE_U64 | type | idx;
}

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

/* ---- a small flattened device tree writer ---------------------------- */

struct fdt {
	uint8_t st[16384];	/* structure block */
	size_t st_len;
	char str[4096];		/* strings block */
	size_t str_len;
};

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void fdt_word(struct fdt *f, uint32_t v)
{
	if (f->st_len + 4 > sizeof(f->st))
		die("device tree too large");
	be32(f->st + f->st_len, v);
	f->st_len += 4;
}

static void fdt_bytes(struct fdt *f, const void *data, size_t len)
{
	if (f->st_len + len + 3 > sizeof(f->st))
		die("device tree too large");
	memcpy(f->st + f->st_len, data, len);
	f->st_len += len;
	while (f->st_len & 3)
		f->st[f->st_len++] = 0;
}

static uint32_t fdt_string(struct fdt *f, const char *name)
{
	size_t off = 0, n = strlen(name) + 1;

	while (off < f->str_len) {	/* reuse a name already there */
		if (!strcmp(f->str + off, name))
			return off;
		off += strlen(f->str + off) + 1;
	}
	if (f->str_len + n > sizeof(f->str))
		die("device tree strings too large");
	memcpy(f->str + f->str_len, name, n);
	f->str_len += n;
	return off;
}

static void fdt_begin(struct fdt *f, const char *name)
{
	fdt_word(f, 1);			/* FDT_BEGIN_NODE */
	fdt_bytes(f, name, strlen(name) + 1);
}

static void fdt_end(struct fdt *f)
{
	fdt_word(f, 2);			/* FDT_END_NODE */
}

static void fdt_prop(struct fdt *f, const char *name, const void *val, size_t len)
{
	fdt_word(f, 3);			/* FDT_PROP */
	fdt_word(f, len);
	fdt_word(f, fdt_string(f, name));
	fdt_bytes(f, val, len);
}

static void fdt_u32(struct fdt *f, const char *name, uint32_t v)
{
	uint8_t b[4];

	be32(b, v);
	fdt_prop(f, name, b, 4);
}

static void fdt_cells(struct fdt *f, const char *name, const uint64_t *v, int n)
{
	uint8_t b[64];
	int i;

	for (i = 0; i < n; i++) {	/* each value as two cells */
		be32(b + 8 * i, v[i] >> 32);
		be32(b + 8 * i + 4, v[i]);
	}
	fdt_prop(f, name, b, 8 * n);
}

/* A "reg" property of one region: base and size, two cells each. */
static void fdt_reg(struct fdt *f, uint64_t base, uint64_t size)
{
	const uint64_t reg[2] = { base, size };

	fdt_cells(f, "reg", reg, 2);
}

static void fdt_str(struct fdt *f, const char *name, const char *s)
{
	fdt_prop(f, name, s, strlen(s) + 1);
}

/* Writes the blob at dst (at most max bytes); returns its size. */
static size_t fdt_finish(struct fdt *f, uint8_t *dst, size_t max)
{
	size_t off_rsv = 40, off_st = off_rsv + 16, off_str, total;

	fdt_word(f, 9);			/* FDT_END */
	off_str = off_st + f->st_len;
	total = off_str + f->str_len;
	if (total > max)
		die("device tree does not fit");
	memset(dst, 0, off_st);		/* header and the empty reserve map */
	be32(dst + 0, 0xd00dfeed);
	be32(dst + 4, total);
	be32(dst + 8, off_st);
	be32(dst + 12, off_str);
	be32(dst + 16, off_rsv);
	be32(dst + 20, 17);		/* version */
	be32(dst + 24, 16);		/* last compatible version */
	be32(dst + 28, 0);		/* boot cpu */
	be32(dst + 32, f->str_len);
	be32(dst + 36, f->st_len);
	memcpy(dst + off_st, f->st, f->st_len);
	memcpy(dst + off_str, f->str, f->str_len);
	return total;
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

static void cpu_node(struct fdt *f)
{
	char exts[1024], isa[1024] = "rv64";
	size_t elen = 0, i;
	uint64_t v, base;
	const char *order = "imafdqcv";

	/* Single-letter extensions from the config register "isa". */
	if (get_reg(reg_id(KVM_REG_RISCV_CONFIG, KVM_REG_RISCV_CONFIG_REG(isa)), &base) < 0)
		die("get config isa: %s", strerror(errno));
	for (i = 0; order[i]; i++)
		if (base & (1UL << (order[i] - 'a'))) {
			size_t l = strlen(isa);

			isa[l] = order[i];
			isa[l + 1] = 0;
		}

	for (i = 0; i < sizeof(isa_ext_names) / sizeof(isa_ext_names[0]); i++) {
		const char *n = isa_ext_names[i];
		uint64_t id = reg_id(KVM_REG_RISCV_ISA_EXT, KVM_REG_RISCV_ISA_SINGLE | i);

		if (get_reg(id, &v) < 0 || !v || isa_ext_skipped(n))
			continue;
		memcpy(exts + elen, n, strlen(n) + 1);
		elen += strlen(n) + 1;
		if (strlen(n) > 1) {
			strcat(isa, "_");
			strcat(isa, n);
		}
	}

	fdt_begin(f, "cpu@0");
	fdt_str(f, "device_type", "cpu");
	fdt_u32(f, "reg", 0);
	fdt_str(f, "status", "okay");
	fdt_str(f, "compatible", "riscv");
	fdt_str(f, "riscv,isa", isa);
	fdt_str(f, "riscv,isa-base", "rv64i");
	fdt_prop(f, "riscv,isa-extensions", exts, elen);
	if (!get_reg(reg_id(KVM_REG_RISCV_CONFIG, KVM_REG_RISCV_CONFIG_REG(zicbom_block_size)),
		     &v) && v)
		fdt_u32(f, "riscv,cbom-block-size", v);
	if (!get_reg(reg_id(KVM_REG_RISCV_CONFIG, KVM_REG_RISCV_CONFIG_REG(zicboz_block_size)),
		     &v) && v)
		fdt_u32(f, "riscv,cboz-block-size", v);
	v = 8;
	get_reg(reg_id(KVM_REG_RISCV_CONFIG, KVM_REG_RISCV_CONFIG_REG(satp_mode)), &v);
	fdt_str(f, "mmu-type", v == 10 ? "riscv,sv57" : v == 9 ? "riscv,sv48" : "riscv,sv39");
	fdt_begin(f, "interrupt-controller");
	fdt_u32(f, "#interrupt-cells", 1);
	fdt_prop(f, "interrupt-controller", NULL, 0);
	fdt_str(f, "compatible", "riscv,cpu-intc");
	fdt_u32(f, "phandle", 1);
	fdt_end(f);
	fdt_end(f);
	fprintf(stderr, "vmm: guest isa %s\n", isa);
}

static size_t make_fdt(uint8_t *dst, size_t max, const char *cmdline, uint64_t initrd,
		       uint64_t initrd_len, int uart)
{
	static struct fdt f;
	uint64_t v, cells[2];
	char name[64];

	fdt_begin(&f, "");
	fdt_u32(&f, "#address-cells", 2);
	fdt_u32(&f, "#size-cells", 2);
	fdt_str(&f, "compatible", "linux,dummy-virt");
	fdt_str(&f, "model", "rsproj-vmm");

	fdt_begin(&f, "chosen");
	fdt_str(&f, "bootargs", cmdline);
	if (initrd_len) {
		cells[0] = initrd;
		fdt_cells(&f, "linux,initrd-start", cells, 1);
		cells[0] = initrd + initrd_len;
		fdt_cells(&f, "linux,initrd-end", cells, 1);
	}
	fdt_end(&f);

	fdt_begin(&f, "cpus");
	fdt_u32(&f, "#address-cells", 1);
	fdt_u32(&f, "#size-cells", 0);
	if (get_reg(reg_id(KVM_REG_RISCV_TIMER, KVM_REG_RISCV_TIMER_REG(frequency)), &v) < 0)
		die("get timer frequency: %s", strerror(errno));
	fdt_u32(&f, "timebase-frequency", v);
	cpu_node(&f);
	fdt_end(&f);

	snprintf(name, sizeof(name), "memory@%lx", RAM_BASE);
	fdt_begin(&f, name);
	fdt_str(&f, "device_type", "memory");
	fdt_reg(&f, RAM_BASE, ram_size);
	fdt_end(&f);

	if (uart) {
		snprintf(name, sizeof(name), "serial@%lx", UART_BASE);
		fdt_begin(&f, name);
		fdt_str(&f, "compatible", "ns16550a");
		fdt_reg(&f, UART_BASE, UART_SIZE);
		fdt_u32(&f, "clock-frequency", 3686400);
		fdt_end(&f);
	}
	fdt_end(&f);
	return fdt_finish(&f, dst, max);
}

/* ---- statistics ----------------------------------------------------- */

static void stats_open(void)
{
	size_t len;

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
		"           [--timeout s] [--no-uart] [--dtb-out file]\n");
	exit(EXIT_ERROR);
}

int main(int argc, char **argv)
{
	const char *kernel = NULL, *initrd = NULL, *dtb_out = NULL;
	const char *cmdline = "earlycon=sbi console=ttyS0 panic=-1";
	uint64_t kernel_len, initrd_gpa = 0, initrd_len = 0, fdt_gpa, image_size;
	int kvm, vm, i, uart = 1, timeout = 0, mmap_size;
	struct kvm_userspace_memory_region mem;
	struct kvm_run *run;
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

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm: %s", strerror(errno));
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap guest memory: %s", strerror(errno));
	mem = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = ram_size,
		.userspace_addr = (uintptr_t)ram,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mem) < 0)
		die("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	vcpu_fd = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		die("KVM_CREATE_VCPU: %s", strerror(errno));
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run: %s", strerror(errno));

	/* The SBI debug console is off by default: turn it on. */
	set_reg(reg_id(KVM_REG_RISCV_SBI_EXT, KVM_REG_RISCV_SBI_SINGLE | KVM_RISCV_SBI_EXT_DBCN),
		1, "SBI DBCN enable");
	if (get_reg(reg_id(KVM_REG_RISCV_SBI_EXT, KVM_REG_RISCV_SBI_SINGLE | KVM_RISCV_SBI_EXT_PMU),
		    &v) < 0 || !v)
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
	set_reg(reg_id(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(regs.pc)),
		RAM_BASE + KERNEL_OFF, "pc");
	set_reg(reg_id(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(regs.a0)), 0, "a0");
	set_reg(reg_id(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(regs.a1)), fdt_gpa, "a1");
	stats_open();

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
	}
}
