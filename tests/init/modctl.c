// SPDX-License-Identifier: GPL-2.0
/*
 * Loads or removes a kernel module in the test initramfs, which has no
 * module tools, and says so as one TAP test:
 *
 *   modctl load /lib/kvm.ko     finit_module() of the file
 *   modctl unload kvm           delete_module() of the named module
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long ret;
	int fd;

	if (argc != 3 || (strcmp(argv[1], "load") && strcmp(argv[1], "unload"))) {
		fprintf(stderr, "usage: modctl load FILE | modctl unload NAME\n");
		return 2;
	}
	printf("TAP version 13\n1..1\n");
	if (!strcmp(argv[1], "load")) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		ret = fd < 0 ? -1 : syscall(SYS_finit_module, fd, "", 0);
	} else {
		ret = syscall(SYS_delete_module, argv[2], O_NONBLOCK);
	}
	printf("%sok 1 %s %s%s%s\n", ret ? "not " : "", argv[1], argv[2],
	       ret ? ": " : "", ret ? strerror(errno) : "");
	return ret ? 1 : 0;
}
