// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin that counts the guest instructions executed per
 * translation block start address, for `make bench-profile`.
 *
 * At exit it writes one line per block that ran, "<vaddr hex> <insns>
 * <executions>", to the file named by the plugin argument out=<path>.
 * scripts/profile.py turns two such files into instructions per function.
 *
 * Only the handful of plugin API entry points used here are declared; they
 * are the stable C interface of QEMU's plugin loader (API version 2 and
 * later), so no QEMU headers are needed to build this file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info;

enum { CB_NO_REGS = 0 };

void qemu_plugin_register_vcpu_tb_trans_cb(plugin_id_t id,
					   void (*cb)(plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
					  void (*cb)(unsigned int, void *),
					  int flags, void *udata);
void qemu_plugin_register_atexit_cb(plugin_id_t id, void (*cb)(plugin_id_t, void *),
				    void *udata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

/* The oldest plugin API this file needs. */
EXPORT int qemu_plugin_version = 2;

/* One translation block: where it starts, its length, how often it ran. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t runs;
	struct block *next;
};

#define BUCKETS (1u << 20)

static struct block **table;
static char *out_path;

/* The block record for (vaddr, insns); a block retranslated alike reuses it. */
static struct block *lookup(uint64_t vaddr, uint64_t insns)
{
	unsigned int h = (unsigned int)((vaddr >> 1) * 0x9e3779b97f4a7c15ull >> 44) & (BUCKETS - 1);
	struct block *b;

	for (b = table[h]; b; b = b->next)
		if (b->vaddr == vaddr && b->insns == insns)
			return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		abort();
	b->vaddr = vaddr;
	b->insns = insns;
	b->next = table[h];
	table[h] = b;
	return b;
}

static void on_exec(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	((struct block *)udata)->runs++;
}

static void on_translate(plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b = lookup(qemu_plugin_tb_vaddr(tb), qemu_plugin_tb_n_insns(tb));

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, CB_NO_REGS, b);
}

static void write_profile(plugin_id_t id, void *udata)
{
	FILE *f = fopen(out_path, "w");

	(void)id;
	(void)udata;
	if (!f) {
		perror(out_path);
		return;
	}
	for (unsigned int h = 0; h < BUCKETS; h++)
		for (struct block *b = table[h]; b; b = b->next)
			if (b->runs)
				fprintf(f, "%llx %llu %llu\n", (unsigned long long)b->vaddr,
					(unsigned long long)b->insns,
					(unsigned long long)b->runs);
	fclose(f);
}

EXPORT int qemu_plugin_install(plugin_id_t id, const struct qemu_info *info, int argc,
			       char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			out_path = strdup(argv[i] + 4);
	if (!out_path) {
		fprintf(stderr, "insn_profile: out=<path> is required\n");
		return -1;
	}
	table = calloc(BUCKETS, sizeof(*table));
	if (!table)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, write_profile, NULL);
	return 0;
}
