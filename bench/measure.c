/* SPDX-License-Identifier: MIT */
/*
 * measure: run one command and report its wall time and peak RSS.
 *
 *   measure FD TIMEOUT_S PROGRAM [ARG...]
 *
 * Forks, execs PROGRAM (PATH is searched) with the inherited stdin, stdout
 * and stderr, waits for it with wait4(), and writes one line to file
 * descriptor FD (which the command does not inherit):
 *
 *   wall_ns=N maxrss_kib=N status=N signal=N timed_out=0|1 utime_us=N stime_us=N
 *
 * status is the exit status (-1 if killed by a signal), signal the killing
 * signal (0 if it exited). wall_ns runs from just before fork() to just after
 * wait4() returned, on CLOCK_MONOTONIC. If TIMEOUT_S (> 0) passes first, the
 * command is killed with SIGKILL and timed_out=1. Exit status: 0 when the
 * line was written (whatever the command did), 2 on a usage or system error.
 *
 * Why this exists: bench/startup.py could call wait4() itself, but Linux
 * folds the RSS high-water mark of the pre-exec address space into the
 * child's ru_maxrss. A child forked (or vforked) from a Python interpreter
 * therefore reports at least the interpreter's ~10 MiB, which hides the 1-2
 * MiB a small monitor uses. Forked from this small program the inherited
 * part is a few hundred KiB at most, below anything it measures.
 * An exec that fails shows as status 127 with a message on stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child > 0)
		kill(child, SIGKILL);
}

static long long ns_between(const struct timespec *a, const struct timespec *b)
{
	return (long long)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

static long long tv_us(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000LL + tv->tv_usec;
}

static int parse_nonneg(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *out >= 0;
}

int main(int argc, char **argv)
{
	long fd, timeout_s;
	struct timespec t0, t1;
	struct rusage ru;
	struct sigaction sa;
	int status;
	pid_t pid, r;

	if (argc < 4 || !parse_nonneg(argv[1], &fd) || fd > 1024 ||
	    !parse_nonneg(argv[2], &timeout_s)) {
		fprintf(stderr, "usage: %s FD TIMEOUT_S PROGRAM [ARG...]\n", argv[0]);
		return 2;
	}
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "measure: fd %ld: %s\n", fd, strerror(errno));
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGALRM, &sa, NULL) < 0) {
		perror("measure: sigaction");
		return 2;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 2;
	}
	if (pid == 0) {
		/* The alarm is not inherited across fork; the handler is reset by exec. */
		execvp(argv[3], argv + 3);
		fprintf(stderr, "measure: %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	child = pid;
	if (timeout_s > 0)
		alarm((unsigned)timeout_s);
	do
		r = wait4(pid, &status, 0, &ru);
	while (r < 0 && errno == EINTR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	if (r < 0) {
		perror("measure: wait4");
		return 2;
	}

	if (dprintf((int)fd,
		    "wall_ns=%lld maxrss_kib=%ld status=%d signal=%d timed_out=%d "
		    "utime_us=%lld stime_us=%lld\n",
		    ns_between(&t0, &t1), ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0, (int)timed_out, tv_us(&ru.ru_utime),
		    tv_us(&ru.ru_stime)) < 0) {
		perror("measure: write result");
		return 2;
	}
	return 0;
}
