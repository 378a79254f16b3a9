// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of the test initramfs: mounts the pseudo file systems, runs every
 * line of /plan as a test program with a time limit, frames each run with
 * markers the host-side runner parses, and powers the machine off.
 *
 * /plan lines: <name> <timeout seconds> <program> [args...]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 32

static void setup(void)
{
	int fd;

	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mkdir("/dev", 0755);
	mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);

	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(char *line)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0, status = 0, timeout;
	char *name, *tok;
	double start;
	pid_t pid, w;

	name = strtok(line, " \t\n");
	tok = strtok(NULL, " \t\n");
	if (!name || !tok || name[0] == '#')
		return;
	timeout = atoi(tok);
	while (argc < MAX_ARGS && (tok = strtok(NULL, " \t\n")))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (!argc)
		return;

	printf("@@BEGIN %s\n", name);
	start = now();
	pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		printf("exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (now() - start > timeout) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("@@END %s timeout %.1fs\n", name, now() - start);
			return;
		}
		usleep(20000);
	}
	if (WIFEXITED(status))
		printf("@@END %s rc=%d %.1fs\n", name, WEXITSTATUS(status), now() - start);
	else
		printf("@@END %s signal=%d %.1fs\n", name, WTERMSIG(status), now() - start);
}

int main(void)
{
	char line[1024];
	FILE *plan;

	setup();
	printf("@@INIT\n");
	plan = fopen("/plan", "r");
	if (!plan) {
		printf("@@ERROR no /plan\n");
	} else {
		while (fgets(line, sizeof(line), plan))
			run(line);
		fclose(plan);
	}
	printf("@@DONE\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
