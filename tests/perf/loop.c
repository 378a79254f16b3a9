// SPDX-License-Identifier: GPL-2.0
/*
 * A loop of known length for the real perf tool: N iterations of two
 * instructions (2N instructions in user mode, plus the program's own start
 * and exit). Prints the loop's address range first, so that a runner can
 * tell samples in the loop from the others:
 *
 *   loop N    prints "LOOP <first> <end> <N>", then runs the loop
 */
#include <stdio.h>
#include <stdlib.h>

void spin(unsigned long n);
extern char spin_end[];
/* The linker's symbol for the first byte of the program's first mapping. */
extern char __executable_start[];
asm(".text\n"
	".global spin\n"
	".global spin_end\n"
	"spin:\n"
	"1:	addi a0, a0, -1\n"
	"	bnez a0, 1b\n"
	"spin_end:\n"
	"	ret\n");

int main(int argc, char *argv[])
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;

	if (!n) {
		fprintf(stderr, "usage: loop N (N > 0)\n");
		return 2;
	}
	printf("LOOP %#lx %#lx %lu %#lx\n", (unsigned long)spin, (unsigned long)spin_end, n,
	       (unsigned long)__executable_start);
	fflush(stdout);
	spin(n);
	return 0;
}
