/* SPDX-License-Identifier: MIT */
/*
 * measure: run one command and report its wall time, the time to its first
 * byte of output, and its peak RSS.
 *
 *   measure FD TIMEOUT_S PROGRAM [ARG...]
 *
 * Forks, execs PROGRAM (PATH is searched) with the inherited stdin and stderr
 * and a pipe as its stdout, copies what arrives on that pipe to measure's own
 * stdout, waits for the command with wait4(), and writes one line to file
 * descriptor FD (which the command does not inherit):
 *
 *   wall_ns=N maxrss_kib=N status=N signal=N timed_out=0|1 utime_us=N stime_us=N
 *   first_output_ns=N
 *
 * (one line). status is the exit status (-1 if killed by a signal), signal the
 * killing signal (0 if it exited). wall_ns runs from just before fork() to
 * just after wait4() returned, on CLOCK_MONOTONIC; first_output_ns from the
 * same start to the moment the first byte was read from the command's stdout
 * (-1 if it wrote none). If TIMEOUT_S (> 0) passes first, the command is
 * killed with SIGKILL and timed_out=1. Exit status: 0 when the line was
 * written (whatever the command did), 2 on a usage or system error.
 *
 * Until the first byte measure sleeps in ppoll() on the pipe. After it, it
 * no longer wakes for every write (that would cost the command a wake-up per
 * serial byte): it sleeps until SIGCHLD and empties the pipe every
 * DRAIN_MS, so a command that writes a lot is not blocked on a full pipe.
 * The rest of the output is copied after wait4(); a process the command
 * left behind holding the pipe open does not keep measure waiting.
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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_MS 20

static volatile pid_t child;
static volatile sig_atomic_t timed_out;
static volatile sig_atomic_t child_exited;
static int out_failed;

static void on_chld(int sig)
{
	(void)sig;
	child_exited = 1;
}

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

/* Copies one read()'s worth of the pipe to stdout; returns what read() returned. */
static ssize_t copy_some(int rfd)
{
	char buf[65536];
	ssize_t n, w, off;

	do
		n = read(rfd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	for (off = 0; n > 0 && off < n && !out_failed; off += w) {
		w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR) {
			w = 0;
		} else if (w < 0) {
			/* Keep draining the pipe so the command is not blocked; drop the data. */
			fprintf(stderr, "measure: write stdout: %s\n", strerror(errno));
			out_failed = 1;
		}
	}
	return n;
}

static int parse_nonneg(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *out >= 0;
}

/* Copies what is in the (non-blocking) pipe to stdout, until it is empty or at EOF. */
static void drain(int rfd)
{
	while (copy_some(rfd) > 0)
		;
}

int main(int argc, char **argv)
{
	long fd, timeout_s;
	struct timespec t0, t1, tfirst;
	struct rusage ru;
	struct sigaction sa;
	sigset_t chld, old_mask, wait_mask;
	int status, pipefd[2], got_first = 0, pipe_open = 1;
	long long first_ns = -1;
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
	/* SIGCHLD stays blocked except inside ppoll(), so its arrival cannot be missed. */
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigaction(SIGCHLD, &sa, NULL) < 0 || sigprocmask(SIG_BLOCK, &chld, &old_mask) < 0) {
		perror("measure: SIGCHLD");
		return 2;
	}
	wait_mask = old_mask;
	sigdelset(&wait_mask, SIGCHLD);

	/* Only the read end is non-blocking: the command sees an ordinary pipe. */
	if (pipe2(pipefd, O_CLOEXEC) < 0 || fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0) {
		perror("measure: pipe");
		return 2;
	}
	(void)fcntl(pipefd[0], F_SETPIPE_SZ, 1 << 20); /* room between drains; best effort */

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 2;
	}
	if (pid == 0) {
		/* The alarm is not inherited across fork; the handlers are reset by exec, the mask is not. */
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		if (pipefd[1] == STDOUT_FILENO ? fcntl(STDOUT_FILENO, F_SETFD, 0) < 0
					       : dup2(pipefd[1], STDOUT_FILENO) < 0) {
			fprintf(stderr, "measure: stdout pipe: %s\n", strerror(errno));
			_exit(127);
		}
		execvp(argv[3], argv + 3);
		fprintf(stderr, "measure: %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	child = pid;
	close(pipefd[1]);
	if (timeout_s > 0)
		alarm((unsigned)timeout_s);

	/*
	 * Sleep on the pipe until its first byte (or EOF), then only until SIGCHLD,
	 * emptying the pipe every DRAIN_MS. A SIGALRM timeout kills the child, and
	 * its SIGCHLD ends the loop.
	 */
	while (!child_exited) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		struct timespec period = { 0, DRAIN_MS * 1000000L };
		int on_pipe = !got_first && pipe_open;
		int n = ppoll(&pfd, on_pipe ? 1 : 0, got_first ? &period : NULL, &wait_mask);

		if (n < 0 && errno != EINTR) {
			perror("measure: ppoll");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return 2;
		}
		if (on_pipe && n > 0) {
			ssize_t got;

			clock_gettime(CLOCK_MONOTONIC, &tfirst);
			got = copy_some(pipefd[0]);
			if (got > 0) {
				got_first = 1;
				first_ns = ns_between(&t0, &tfirst);
			} else if (got == 0 || errno != EAGAIN) {
				pipe_open = 0;
			}
		} else if (got_first && n == 0) {
			drain(pipefd[0]);
		}
	}
	/* The child wrote and exited before this process woke up for the first byte. */
	if (!got_first && pipe_open) {
		clock_gettime(CLOCK_MONOTONIC, &tfirst);
		if (copy_some(pipefd[0]) > 0)
			first_ns = ns_between(&t0, &tfirst);
	}

	do
		r = wait4(pid, &status, 0, &ru);
	while (r < 0 && errno == EINTR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	if (r < 0) {
		perror("measure: wait4");
		return 2;
	}
	drain(pipefd[0]);
	close(pipefd[0]);

	if (dprintf((int)fd,
		    "wall_ns=%lld maxrss_kib=%ld status=%d signal=%d timed_out=%d "
		    "utime_us=%lld stime_us=%lld first_output_ns=%lld\n",
		    ns_between(&t0, &t1), ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0, (int)timed_out, tv_us(&ru.ru_utime),
		    tv_us(&ru.ru_stime), first_ns) < 0) {
		perror("measure: write result");
		return 2;
	}
	return 0;
}
