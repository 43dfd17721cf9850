/* SPDX-License-Identifier: MIT */
/*
 * vmm_probe: run one VMM and time its console: exec to the first byte, exec to a marker line,
 * and the VMM's resident memory when the marker appears (bench/arm64.py runs it in the arm64
 * tier's guest, where there is no Python).
 *
 *   vmm-probe [-t TIMEOUT_S] [-m MARKER] [-g GUEST_KIB] [-o FILE] PROGRAM [ARG...]
 *
 * Forks and execs PROGRAM (PATH is searched) with stdin from /dev/null, its stderr inherited and
 * its stdout a pipe, which the probe reads (copying it to FILE with -o) until the VMM exits.
 * It then prints one line on its own stdout:
 *
 *   first_ns=N marker_ns=N exit_ns=N rss_kib=N hwm_kib=N guest_kib=N status=N signal=N
 *   timed_out=0|1
 *
 * Times are from just before fork() on CLOCK_MONOTONIC: first_ns to the read that returned the
 * VMM's first byte, marker_ns to the read that completed MARKER (-1 when none came), exit_ns to
 * wait4()'s return. rss_kib and hwm_kib are VmRSS and VmHWM from /proc/PID/status, read as soon
 * as the marker was seen, while the VMM runs (-1 without a marker, or when the VMM had already
 * gone). guest_kib is what of rss_kib is guest RAM: the resident KiB (smaps' Rss) of the VMM's
 * writable mappings of at least GUEST_KIB (-g: the guest's memory size; -1 without -g), so
 * rss_kib - guest_kib is the VMM's own. status is the exit status (-1 after a signal), signal
 * the killing signal (0 if it exited). After TIMEOUT_S (default 300) the VMM is killed with
 * SIGKILL and timed_out=1.
 * Exit status: 0 when the line was printed, whatever the VMM did; 2 on a usage or system error.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARKER_MAX 256

static long long since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t0->tv_sec) * 1000000000LL + (now.tv_nsec - t0->tv_nsec);
}

/* VmRSS and VmHWM of pid in KiB; -1 each when they cannot be read (the process is gone). */
static void read_rss(pid_t pid, long *rss, long *hwm)
{
	char path[64], line[256];
	FILE *f;

	*rss = *hwm = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			*rss = strtol(line + 6, NULL, 10);
		else if (!strncmp(line, "VmHWM:", 6))
			*hwm = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

/* The resident KiB of pid's writable mappings of at least min_kib: its guest RAM when min_kib is
 * the guest's memory size (no VMM maps anything else that large and writable). -1 when smaps
 * cannot be read. */
static long guest_rss(pid_t pid, long min_kib)
{
	char path[64], line[512];
	unsigned long start, end;
	long total = 0, kib;
	int big = 0;
	char perms[8];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3)
			big = perms[1] == 'w' && (long)((end - start) / 1024) >= min_kib;
		else if (big && sscanf(line, "Rss: %ld kB", &kib) == 1)
			total += kib;
	}
	fclose(f);
	return total;
}

static int usage(void)
{
	fprintf(stderr, "usage: vmm-probe [-t TIMEOUT_S] [-m MARKER] [-g GUEST_KIB] [-o FILE] "
			"PROGRAM [ARG...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *marker = NULL, *outpath = NULL;
	long timeout_s = 300, rss = -1, hwm = -1, guest_kib = 0, guest = -1;
	long long first_ns = -1, marker_ns = -1, exit_ns;
	char window[2 * MARKER_MAX], buf[4096];
	size_t have = 0, mlen = 0;
	int opt, pfd[2], out = -1, status, timed_out = 0;
	struct timespec t0;
	struct rusage ru;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+t:m:g:o:")) != -1) {
		char *end;

		switch (opt) {
		case 't':
			errno = 0;
			timeout_s = strtol(optarg, &end, 10);
			if (errno || *end || timeout_s <= 0) {
				fprintf(stderr, "vmm-probe: -t %s: not a positive number of seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'm':
			marker = optarg;
			mlen = strlen(marker);
			if (!mlen || mlen > MARKER_MAX) {
				fprintf(stderr, "vmm-probe: -m: the marker must be 1 to %d bytes\n",
					MARKER_MAX);
				return 2;
			}
			break;
		case 'g':
			errno = 0;
			guest_kib = strtol(optarg, &end, 10);
			if (errno || *end || guest_kib <= 0) {
				fprintf(stderr, "vmm-probe: -g %s: not a positive number of KiB\n",
					optarg);
				return 2;
			}
			break;
		case 'o':
			outpath = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	if (outpath) {
		out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0) {
			fprintf(stderr, "vmm-probe: %s: %s\n", outpath, strerror(errno));
			return 2;
		}
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		perror("vmm-probe: pipe2");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("vmm-probe: fork");
		return 2;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(pfd[1], 1) < 0)
			_exit(127);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "vmm-probe: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);

	for (;;) {
		long long left = timeout_s * 1000LL - since(&t0) / 1000000;
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, left > 1000 ? 1000 : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			perror("vmm-probe: poll");
			kill(pid, SIGKILL);
			break;
		}
		if (!p.revents)
			continue;
		n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF: the VMM (and whatever held its stdout) is gone */
		if (first_ns < 0)
			first_ns = since(&t0);
		if (out >= 0 && write(out, buf, (size_t)n) != n) {
			fprintf(stderr, "vmm-probe: %s: write failed\n", outpath);
			close(out);
			out = -1;
		}
		if (marker && marker_ns < 0) {
			/* A sliding window holding the last mlen - 1 bytes and the new ones, so a
			 * marker split across reads is found. */
			for (ssize_t i = 0; i < n && marker_ns < 0; i++) {
				if (have == sizeof(window)) {
					memmove(window, window + have - (mlen - 1), mlen - 1);
					have = mlen - 1;
				}
				window[have++] = buf[i];
				if (have >= mlen && !memcmp(window + have - mlen, marker, mlen)) {
					marker_ns = since(&t0);
					read_rss(pid, &rss, &hwm);
					if (guest_kib)
						guest = guest_rss(pid, guest_kib);
				}
			}
		}
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("vmm-probe: wait4");
			return 2;
		}
	}
	exit_ns = since(&t0);
	if (out >= 0)
		close(out);
	printf("first_ns=%lld marker_ns=%lld exit_ns=%lld rss_kib=%ld hwm_kib=%ld guest_kib=%ld "
	       "status=%d signal=%d timed_out=%d\n",
	       first_ns, marker_ns, exit_ns, rss, hwm, guest, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0, timed_out);
	return 0;
}
