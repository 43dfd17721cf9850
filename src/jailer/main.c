/* main.c: kiln-jailer: builds a chroot for one kiln process, confines it (mount, pid and network
 * namespaces, cgroups, rlimits, an unprivileged uid/gid with no capabilities) and execs kiln there.
 * Firecracker's jailer's steps, in its order (docs/jailer.md). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jailer/args.h"
#include "jailer/elfdeps.h"
#include "version.h"

#define EXIT_BAD_ARG 2
#define EXIT_HOST 6

static struct jailer_args args;

/* One line on stderr, then exit: every failure of the jailer is one of these. */
__attribute__((noreturn, format(printf, 2, 3))) static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("kiln-jailer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static uint64_t now_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* mkdir -p with `mode` for the directories it creates. */
static void make_dirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		die(EXIT_BAD_ARG, "%s: path too long", path);
	for (char *p = buf + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			die(EXIT_HOST, "mkdir %s: %m", buf);
		*p = c;
		if (!c)
			break;
	}
}

/* Copies `src` (following links) to `dst`, replacing it, with `mode`. */
static void copy_file(const char *src, const char *dst, mode_t mode)
{
	struct stat st;
	int in, out;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (in < 0)
		die(EXIT_HOST, "%s: cannot open: %m", src);
	if (fstat(in, &st) || !S_ISREG(st.st_mode))
		die(EXIT_BAD_ARG, "%s: not a regular file", src);
	/* Unlink first: a jail reused under the same id may hold a running copy (ETXTBSY). */
	if (unlink(dst) && errno != ENOENT)
		die(EXIT_HOST, "unlink %s: %m", dst);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0)
		die(EXIT_HOST, "%s: cannot create: %m", dst);
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
			char buf[65536];

			n = read(in, buf, sizeof(buf));
			if (n > 0 && write(out, buf, (size_t)n) != n)
				die(EXIT_HOST, "%s: write: %m", dst);
		}
		if (n < 0)
			die(EXIT_HOST, "copying %s to %s: %m", src, dst);
		if (n == 0)
			die(EXIT_HOST, "copying %s: it shrank while being copied", src);
		left -= n;
	}
	if (fchmod(out, mode) || close(out))
		die(EXIT_HOST, "%s: %m", dst);
	close(in);
}

/* The binary, and for a dynamically linked one its loader and libraries at the paths the loader
 * will look them up (root-owned, read-only to kiln's uid). */
static void copy_program(const char *root)
{
	struct elfdeps deps;
	char dst[PATH_MAX], err[512];

	if (snprintf(dst, sizeof(dst), "%s/%s", root, args.exec_name) >= (int)sizeof(dst))
		die(EXIT_BAD_ARG, "--exec-file: path in the jail too long");
	copy_file(args.exec_file, dst, 0755);
	if (elfdeps_collect(args.exec_file, &deps, err, sizeof(err)))
		die(EXIT_BAD_ARG, "--exec-file: %s", err);
	for (size_t i = 0; i < deps.n; i++) {
		char *slash;

		if (snprintf(dst, sizeof(dst), "%s%s", root, deps.paths[i]) >= (int)sizeof(dst))
			die(EXIT_BAD_ARG, "%s: path in the jail too long", deps.paths[i]);
		slash = strrchr(dst, '/');
		*slash = '\0';
		make_dirs(dst, 0755);
		*slash = '/';
		copy_file(deps.paths[i], dst, 0755);
	}
	elfdeps_free(&deps);
}

static void set_rlimits(void)
{
	for (size_t i = 0; i < args.n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = args.rlimits[i].value, .rlim_max = args.rlimits[i].value };

		if (setrlimit(args.rlimits[i].resource, &rl))
			die(EXIT_HOST, "--resource-limit %s=%llu: %m",
			    args.rlimits[i].resource == RLIMIT_FSIZE ? "fsize" : "no-file",
			    args.rlimits[i].value);
	}
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(text);

	if (fd < 0)
		die(EXIT_HOST, "%s: %m", path);
	if (write(fd, text, n) != (ssize_t)n) {
		int e = errno;

		close(fd);
		errno = e;
		die(EXIT_HOST, "writing '%s' to %s: %m", text, path);
	}
	close(fd);
}

/* The mount point of a cgroup hierarchy from /proc/mounts: v2's, or the v1 one holding
 * `controller` in its options. */
static int find_cgroup_mount(int version, const char *controller, char *out, size_t out_size)
{
	FILE *f = fopen("/proc/mounts", "re");
	char dev[256], dir[PATH_MAX], type[64], opts[1024];
	int found = -1;

	if (!f)
		die(EXIT_HOST, "/proc/mounts: %m");
	while (found && fscanf(f, "%255s %4095s %63s %1023s %*d %*d", dev, dir, type, opts) == 4) {
		char *save = NULL;

		if (version == 2) {
			if (!strcmp(type, "cgroup2") && snprintf(out, out_size, "%s", dir) < (int)out_size)
				found = 0;
			continue;
		}
		if (strcmp(type, "cgroup"))
			continue;
		for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
			if (!strcmp(o, controller) && snprintf(out, out_size, "%s", dir) < (int)out_size)
				found = 0;
	}
	fclose(f);
	return found;
}

/* Joins BASE/PARENT/ID (made if missing) and writes each --cgroup value there. v2: one
 * hierarchy, the parent's subtree_control gets the controllers the files belong to. v1: one
 * hierarchy per controller. Without --cgroup, v2 joins an existing PARENT as Firecracker does. */
static void setup_cgroups(void)
{
	char base[PATH_MAX], dir[PATH_MAX + 256], file[PATH_MAX + 512], pid[32];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (args.cgroup_version == 2) {
		struct stat st;

		if (!args.n_cgroups && strcmp(args.parent_cgroup, args.exec_name) == 0)
			return;
		if (find_cgroup_mount(2, NULL, base, sizeof(base)))
			die(EXIT_HOST, "--cgroup-version 2: no cgroup2 file system is mounted");
		snprintf(dir, sizeof(dir), "%s/%s", base, args.parent_cgroup);
		if (!args.n_cgroups) {
			if (stat(dir, &st) == 0) {
				snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
				write_file(file, pid);
			}
			return;
		}
		make_dirs(dir, 0755);
		/* Enable each file's controller for the children of every level down to ours. */
		for (size_t i = 0; i < args.n_cgroups; i++) {
			char ctl[64], *p = dir + strlen(base);
			size_t n = strcspn(args.cgroups[i].file, ".");

			snprintf(ctl, sizeof(ctl), "+%.*s", (int)n, args.cgroups[i].file);
			for (;;) {
				char c = *p;

				*p = '\0';
				snprintf(file, sizeof(file), "%s/cgroup.subtree_control", dir);
				write_file(file, ctl);
				*p = c;
				if (!c)
					break;
				p = strchr(p + 1, '/') ? strchr(p + 1, '/') : p + strlen(p);
			}
		}
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", args.id);
		make_dirs(dir, 0755);
		for (size_t i = 0; i < args.n_cgroups; i++) {
			snprintf(file, sizeof(file), "%s/%.*s", dir,
				 (int)(args.cgroups[i].value - 1 - args.cgroups[i].file), args.cgroups[i].file);
			write_file(file, args.cgroups[i].value);
		}
		snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
		write_file(file, pid);
		return;
	}
	for (size_t i = 0; i < args.n_cgroups; i++) {
		char ctl[64];
		size_t n = strcspn(args.cgroups[i].file, ".");

		snprintf(ctl, sizeof(ctl), "%.*s", (int)n, args.cgroups[i].file);
		if (find_cgroup_mount(1, ctl, base, sizeof(base)))
			die(EXIT_HOST, "--cgroup %.*s: no cgroup v1 hierarchy has the %s controller",
			    (int)(args.cgroups[i].value - 1 - args.cgroups[i].file), args.cgroups[i].file,
			    ctl);
		snprintf(dir, sizeof(dir), "%s/%s/%s", base, args.parent_cgroup, args.id);
		make_dirs(dir, 0755);
		snprintf(file, sizeof(file), "%s/%.*s", dir,
			 (int)(args.cgroups[i].value - 1 - args.cgroups[i].file), args.cgroups[i].file);
		write_file(file, args.cgroups[i].value);
		snprintf(file, sizeof(file), "%s/tasks", dir);
		write_file(file, pid);
	}
}

static void join_netns(void)
{
	int fd = open(args.netns, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die(EXIT_BAD_ARG, "--netns %s: %m", args.netns);
	if (setns(fd, CLONE_NEWNET))
		die(EXIT_HOST, "--netns %s: setns: %m", args.netns);
	close(fd);
}

/* A new mount namespace whose root is the jail: pivot_root, the old root detached. */
static void enter_jail(const char *root)
{
	if (unshare(CLONE_NEWNS))
		die(EXIT_HOST, "unshare(CLONE_NEWNS): %m");
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL))
		die(EXIT_HOST, "making / private in the new mount namespace: %m");
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL))
		die(EXIT_HOST, "bind-mounting %s on itself: %m", root);
	if (chdir(root))
		die(EXIT_HOST, "chdir %s: %m", root);
	if (mkdir("old_root", 0700) && errno != EEXIST)
		die(EXIT_HOST, "mkdir %s/old_root: %m", root);
	if (syscall(SYS_pivot_root, ".", "old_root"))
		die(EXIT_HOST, "pivot_root to %s: %m", root);
	if (umount2("old_root", MNT_DETACH))
		die(EXIT_HOST, "unmounting the old root: %m");
	if (rmdir("old_root"))
		die(EXIT_HOST, "rmdir old_root: %m");
	if (chroot(".") || chdir("/"))
		die(EXIT_HOST, "chroot to the jail: %m");
}

static void own(const char *path)
{
	if (chown(path, args.uid, args.gid))
		die(EXIT_HOST, "chown %s to %u:%u: %m", path, (unsigned)args.uid, (unsigned)args.gid);
}

/* Creates `path` as a character device owned by kiln's uid/gid, readable and writable by it only.
 * Returns 0, or -errno for a device the host does not let us create (the caller decides). */
static int make_dev(const char *path, unsigned major_nr, unsigned minor_nr)
{
	if (unlink(path) && errno != ENOENT)
		return -errno;
	if (mknod(path, S_IFCHR | 0600, makedev(major_nr, minor_nr)))
		return -errno;
	own(path);
	return 0;
}

static void populate_jail(void)
{
	static const char *const dirs[] = { "/dev", "/dev/net", "/run" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (mkdir(dirs[i], 0755) && errno != EEXIST)
			die(EXIT_HOST, "mkdir %s in the jail: %m", dirs[i]);
		own(dirs[i]);
	}
	own("/");
	errno = 0;
	if (make_dev("/dev/kvm", 10, 232) || make_dev("/dev/net/tun", 10, 200))
		die(EXIT_HOST, "mknod in the jail: %m");
	if (make_dev("/dev/urandom", 1, 9))
		fprintf(stderr, "kiln-jailer: warning: no /dev/urandom in the jail: %s\n", strerror(errno));
}

/* Forks twice so kiln is in a session of its own with no controlling terminal, its stdio on
 * /dev/null (opened before the chroot). */
static void daemonize(int dev_null)
{
	pid_t pid = fork();

	if (pid < 0)
		die(EXIT_HOST, "fork: %m");
	if (pid)
		_exit(0);
	if (setsid() < 0)
		die(EXIT_HOST, "setsid: %m");
	pid = fork();
	if (pid < 0)
		die(EXIT_HOST, "fork: %m");
	if (pid)
		_exit(0);
	if (dup2(dev_null, 0) < 0 || dup2(dev_null, 1) < 0 || dup2(dev_null, 2) < 0)
		die(EXIT_HOST, "redirecting stdio to /dev/null: %m");
	close(dev_null);
}

/* kiln becomes pid 1 of a new pid namespace; the parent writes its pid (as seen from outside) to
 * /EXEC-NAME.pid in the jail and exits 0, as Firecracker's jailer does. */
static void new_pid_namespace(void)
{
	char path[PATH_MAX], text[32];
	pid_t pid;
	int fd;

	if (unshare(CLONE_NEWPID))
		die(EXIT_HOST, "unshare(CLONE_NEWPID): %m");
	pid = fork();
	if (pid < 0)
		die(EXIT_HOST, "fork: %m");
	if (pid == 0)
		return;
	snprintf(path, sizeof(path), "/%s.pid", args.exec_name);
	snprintf(text, sizeof(text), "%d", (int)pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd)) {
		kill(pid, SIGKILL);
		die(EXIT_HOST, "%s: %m", path);
	}
	_exit(0);
}

/* Drops to uid/gid with no supplementary groups and no capabilities, including for uid 0: the
 * bounding and ambient sets are emptied first, so exec grants none back. */
static void drop_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			die(EXIT_HOST, "dropping capability %d from the bounding set: %m", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		die(EXIT_HOST, "clearing ambient capabilities: %m");
	if (setgroups(0, NULL) || setresgid(args.gid, args.gid, args.gid))
		die(EXIT_HOST, "--gid %u: %m", (unsigned)args.gid);
	if (setresuid(args.uid, args.uid, args.uid))
		die(EXIT_HOST, "--uid %u: %m", (unsigned)args.uid);
	if (syscall(SYS_capset, &hdr, data))
		die(EXIT_HOST, "capset: %m");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die(EXIT_HOST, "PR_SET_NO_NEW_PRIVS: %m");
}

int main(int argc, char **argv)
{
	uint64_t start_us = now_us(CLOCK_MONOTONIC), start_cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID);
	char err[512], root[PATH_MAX], exec_path[PATH_MAX + 2], n1[24], n2[24], n3[24];
	char *envp[] = { NULL };
	char **kiln_argv;
	struct stat st;
	int dev_null = -1, k = 0;

	if (jailer_parse_args(argc, argv, &args, err, sizeof(err)))
		die(EXIT_BAD_ARG, "%s", err);
	if (args.help) {
		jailer_print_help();
		return 0;
	}
	if (args.version) {
		printf("kiln-jailer %s\n", KILN_VERSION);
		return 0;
	}
	/* Nothing the caller left open crosses into the jail. */
	if (syscall(SYS_close_range, 3, ~0U, 0))
		die(EXIT_HOST, "close_range: %m");
	if (stat(args.exec_file, &st) || !S_ISREG(st.st_mode) || access(args.exec_file, X_OK))
		die(EXIT_BAD_ARG, "--exec-file %s: not an executable regular file", args.exec_file);
	if (args.netns && (stat(args.netns, &st) || S_ISDIR(st.st_mode)))
		die(EXIT_BAD_ARG, "--netns %s: no such namespace file", args.netns);
	if (clearenv())
		die(EXIT_HOST, "clearenv: %m");

	if (snprintf(root, sizeof(root), "%s/%s/%s/root", args.chroot_base, args.exec_name, args.id) >=
	    (int)sizeof(root))
		die(EXIT_BAD_ARG, "--chroot-base-dir: the jail's path is too long");
	make_dirs(root, 0755);
	copy_program(root);
	set_rlimits();
	setup_cgroups();
	if (args.netns)
		join_netns();
	if (args.daemonize && (dev_null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		die(EXIT_HOST, "/dev/null: %m");
	enter_jail(root);
	populate_jail();
	if (args.daemonize)
		daemonize(dev_null);
	if (args.new_pid_ns)
		new_pid_namespace();
	drop_privileges();

	kiln_argv = calloc((size_t)args.n_extra + 10, sizeof(*kiln_argv));
	if (!kiln_argv)
		die(EXIT_HOST, "out of memory");
	snprintf(exec_path, sizeof(exec_path), "/%s", args.exec_name);
	snprintf(n1, sizeof(n1), "%" PRIu64, start_us);
	snprintf(n2, sizeof(n2), "%" PRIu64, start_cpu_us);
	snprintf(n3, sizeof(n3), "%" PRIu64, now_us(CLOCK_PROCESS_CPUTIME_ID) - start_cpu_us);
	kiln_argv[k++] = exec_path;
	kiln_argv[k++] = "--id";
	kiln_argv[k++] = (char *)args.id;
	kiln_argv[k++] = "--start-time-us";
	kiln_argv[k++] = n1;
	kiln_argv[k++] = "--start-time-cpu-us";
	kiln_argv[k++] = n2;
	kiln_argv[k++] = "--parent-cpu-time-us";
	kiln_argv[k++] = n3;
	for (int i = 0; i < args.n_extra; i++)
		kiln_argv[k++] = args.extra[i];
	execve(exec_path, kiln_argv, envp);
	die(EXIT_HOST, "exec %s in the jail: %m", exec_path);
}
