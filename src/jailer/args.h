/* args.h: kiln-jailer's command line, parsed and checked with no side effects (Firecracker's
 * jailer's options and meanings, docs/jailer.md). */
#ifndef KILN_JAILER_ARGS_H
#define KILN_JAILER_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JAILER_ID_MAX 64
#define JAILER_MAX_CGROUPS 32
#define JAILER_MAX_RLIMITS 8
#define JAILER_DEFAULT_CHROOT_BASE "/srv/jailer"
/* Firecracker's default when no --resource-limit no-file= is given. */
#define JAILER_DEFAULT_NOFILE 2048

/* One --cgroup FILE=VALUE: `file` is a cgroup interface file ("memory.max", "cpu.max"); its
 * controller is the part before the first '.'. Both point into argv. */
struct jailer_cgroup {
	const char *file;
	const char *value;
};

/* One --resource-limit: the setrlimit() resource and its value (soft and hard). */
struct jailer_rlimit {
	int resource;
	unsigned long long value;
};

struct jailer_args {
	const char *id;
	const char *exec_file;
	const char *exec_name; /* basename of exec_file */
	uid_t uid;
	gid_t gid;
	const char *chroot_base;
	const char *netns;
	int cgroup_version; /* 1 or 2 */
	const char *parent_cgroup; /* relative path; default exec_name */
	struct jailer_cgroup cgroups[JAILER_MAX_CGROUPS];
	size_t n_cgroups;
	struct jailer_rlimit rlimits[JAILER_MAX_RLIMITS];
	size_t n_rlimits;
	bool daemonize;
	bool new_pid_ns;
	bool help;
	bool version;
	/* kiln's own arguments: what followed "--" (NULL-terminated, points into argv). */
	char **extra;
	int n_extra;
};

/* Parses argv (not modified; the struct points into it). Checks every value's syntax, but
 * touches no file: the caller checks that paths exist. Returns 0, or -1 with one line naming the
 * option and the value in `err`. */
int jailer_parse_args(int argc, char **argv, struct jailer_args *args, char *err, size_t err_size);

/* Prints the usage text. */
void jailer_print_help(void);

#endif
