/* args.c: kiln-jailer's command line (Firecracker's jailer's options, docs/jailer.md). */
#include "jailer/args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "jailer/errmsg.h"

void jailer_print_help(void)
{
	printf("usage: kiln-jailer --id ID --exec-file FILE --uid UID --gid GID [options] [-- KILN-ARGS...]\n"
	       "\n"
	       "Builds a chroot for one kiln process and execs it there, unprivileged\n"
	       "(Firecracker's jailer's options and meanings; docs/jailer.md).\n"
	       "\n"
	       "  --id ID                  1 to 64 letters, digits and '-'; the jail is\n"
	       "                           CHROOT-BASE/EXEC-NAME/ID/root\n"
	       "  --exec-file FILE         the kiln binary: copied into the jail with the\n"
	       "                           shared libraries it needs\n"
	       "  --uid UID, --gid GID     who kiln runs as, with no capabilities\n"
	       "  --chroot-base-dir DIR    where jails are built (default %s)\n"
	       "  --netns PATH             join this network namespace (e.g. /var/run/netns/NAME)\n"
	       "  --cgroup-version 1|2     cgroup hierarchy for --cgroup (default 1)\n"
	       "  --cgroup FILE=VALUE      write VALUE to FILE (e.g. memory.max=268435456) in the\n"
	       "                           cgroup PARENT/ID, which kiln joins (repeatable)\n"
	       "  --parent-cgroup PATH     parent of that cgroup, relative (default EXEC-NAME)\n"
	       "  --resource-limit RES=N   setrlimit: fsize (bytes) or no-file (default %d)\n"
	       "  --daemonize              new session, stdio on /dev/null\n"
	       "  --new-pid-ns             kiln is pid 1 of a new pid namespace; its host pid is\n"
	       "                           written to the jail's EXEC-NAME.pid\n"
	       "  --                       the rest goes to kiln, after --id ID and the\n"
	       "                           --start-time-us/--start-time-cpu-us/--parent-cpu-time-us\n"
	       "                           the jailer adds\n"
	       "  -h, --help, --version\n"
	       "\n"
	       "Exit status: 2 bad argument; 6 the host refused a step (each failure is one line).\n",
	       JAILER_DEFAULT_CHROOT_BASE, JAILER_DEFAULT_NOFILE);
}

static int parse_id_number(const char *text, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!*text || *text == '-' || *text == '+')
		return -1;
	errno = 0;
	v = strtoul(text, &end, 10);
	/* (uid_t)-1 means "unchanged" to setresuid(): refuse it. */
	if (errno || *end || v >= 0xffffffffUL)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > JAILER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
			return false;
	return true;
}

/* A relative path with no empty, "." or ".." component: it cannot climb out of the cgroup root. */
static bool relative_path_valid(const char *p)
{
	const char *c = p;

	if (!*p || *p == '/')
		return false;
	while (*c) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
		if (*c == '/')
			c++;
		else
			break;
	}
	return p[strlen(p) - 1] != '/';
}

/* "controller.name": lowercase letters, digits, '_' and '.', a '.' after the first character. */
static bool cgroup_file_valid(const char *f, size_t n)
{
	const char *dot = memchr(f, '.', n);

	if (!dot || dot == f || dot == f + n - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_' ||
		      f[i] == '.'))
			return false;
	return true;
}

static int parse_cgroup(const char *arg, struct jailer_args *a, char *err, size_t err_size)
{
	const char *eq = strchr(arg, '=');

	if (a->n_cgroups == JAILER_MAX_CGROUPS)
		return bad(err, err_size, "--cgroup: more than %d given", JAILER_MAX_CGROUPS);
	if (!eq || !cgroup_file_valid(arg, (size_t)(eq - arg)))
		return bad(err, err_size, "--cgroup: '%s' is not FILE=VALUE with FILE like memory.max", arg);
	if (!eq[1] || strpbrk(eq + 1, "\n\r"))
		return bad(err, err_size, "--cgroup: '%s': the value is empty or spans lines", arg);
	a->cgroups[a->n_cgroups].file = arg;
	a->cgroups[a->n_cgroups].value = eq + 1;
	a->n_cgroups++;
	return 0;
}

static int parse_rlimit(const char *arg, struct jailer_args *a, char *err, size_t err_size)
{
	const char *eq = strchr(arg, '=');
	int resource;
	char *end;
	unsigned long long v;

	if (!eq)
		return bad(err, err_size, "--resource-limit: '%s' is not RESOURCE=VALUE", arg);
	if ((size_t)(eq - arg) == 5 && !strncmp(arg, "fsize", 5))
		resource = RLIMIT_FSIZE;
	else if ((size_t)(eq - arg) == 7 && !strncmp(arg, "no-file", 7))
		resource = RLIMIT_NOFILE;
	else
		return bad(err, err_size, "--resource-limit: '%.*s' is not fsize or no-file",
			   (int)(eq - arg), arg);
	errno = 0;
	v = strtoull(eq + 1, &end, 10);
	if (!eq[1] || eq[1] == '-' || errno || *end)
		return bad(err, err_size, "--resource-limit: '%s' is not a number", eq + 1);
	for (size_t i = 0; i < a->n_rlimits; i++)
		if (a->rlimits[i].resource == resource) {
			a->rlimits[i].value = v;
			return 0;
		}
	a->rlimits[a->n_rlimits].resource = resource;
	a->rlimits[a->n_rlimits].value = v;
	a->n_rlimits++;
	return 0;
}

enum { OPT_ID = 256, OPT_EXEC, OPT_UID, OPT_GID, OPT_CHROOT, OPT_NETNS, OPT_CGV, OPT_CGROUP,
       OPT_PARENT, OPT_RLIMIT, OPT_DAEMON, OPT_PIDNS, OPT_VERSION };

static const struct option options[] = {
	{ "id", required_argument, NULL, OPT_ID },
	{ "exec-file", required_argument, NULL, OPT_EXEC },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "chroot-base-dir", required_argument, NULL, OPT_CHROOT },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "cgroup-version", required_argument, NULL, OPT_CGV },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "parent-cgroup", required_argument, NULL, OPT_PARENT },
	{ "resource-limit", required_argument, NULL, OPT_RLIMIT },
	{ "daemonize", no_argument, NULL, OPT_DAEMON },
	{ "new-pid-ns", no_argument, NULL, OPT_PIDNS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

int jailer_parse_args(int argc, char **argv, struct jailer_args *a, char *err, size_t err_size)
{
	bool have_uid = false, have_gid = false;
	unsigned v;
	int c;

	memset(a, 0, sizeof(*a));
	a->chroot_base = JAILER_DEFAULT_CHROOT_BASE;
	a->cgroup_version = 1;
	a->rlimits[0].resource = RLIMIT_NOFILE;
	a->rlimits[0].value = JAILER_DEFAULT_NOFILE;
	a->n_rlimits = 1;
	optind = 0; /* full re-initialisation: the unit tests parse many command lines */
	opterr = 0;
	/* '+': stop at the first non-option, so "--" ends the jailer's options. */
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_ID:
			if (!id_valid(optarg))
				return bad(err, err_size, "--id: '%s' must be 1 to %d letters, digits or '-'",
					   optarg, JAILER_ID_MAX);
			a->id = optarg;
			break;
		case OPT_EXEC:
			a->exec_file = optarg;
			break;
		case OPT_UID:
			if (parse_id_number(optarg, &v))
				return bad(err, err_size, "--uid: '%s' is not a user id", optarg);
			a->uid = v;
			have_uid = true;
			break;
		case OPT_GID:
			if (parse_id_number(optarg, &v))
				return bad(err, err_size, "--gid: '%s' is not a group id", optarg);
			a->gid = v;
			have_gid = true;
			break;
		case OPT_CHROOT:
			if (optarg[0] != '/' || strstr(optarg, "/../") || !strcmp(optarg, "/"))
				return bad(err, err_size, "--chroot-base-dir: '%s' must be an absolute path other than /",
					   optarg);
			a->chroot_base = optarg;
			break;
		case OPT_NETNS:
			if (optarg[0] != '/')
				return bad(err, err_size, "--netns: '%s' must be an absolute path", optarg);
			a->netns = optarg;
			break;
		case OPT_CGV:
			if (strcmp(optarg, "1") && strcmp(optarg, "2"))
				return bad(err, err_size, "--cgroup-version: '%s' is not 1 or 2", optarg);
			a->cgroup_version = optarg[0] - '0';
			break;
		case OPT_CGROUP:
			if (parse_cgroup(optarg, a, err, err_size))
				return -1;
			break;
		case OPT_PARENT:
			if (!relative_path_valid(optarg))
				return bad(err, err_size, "--parent-cgroup: '%s' must be a relative path without . or ..",
					   optarg);
			a->parent_cgroup = optarg;
			break;
		case OPT_RLIMIT:
			if (parse_rlimit(optarg, a, err, err_size))
				return -1;
			break;
		case OPT_DAEMON:
			a->daemonize = true;
			break;
		case OPT_PIDNS:
			a->new_pid_ns = true;
			break;
		case 'h':
			a->help = true;
			return 0;
		case OPT_VERSION:
			a->version = true;
			return 0;
		case ':':
			return bad(err, err_size, "%s: needs a value", argv[optind - 1]);
		default:
			return bad(err, err_size, "%s: unknown option (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return bad(err, err_size, "'%s': unexpected argument (kiln's arguments go after --)",
			   argv[optind]);
	a->extra = argv + optind;
	a->n_extra = argc - optind;
	if (!a->id)
		return bad(err, err_size, "--id is required");
	if (!a->exec_file || !*a->exec_file)
		return bad(err, err_size, "--exec-file is required");
	if (!have_uid || !have_gid)
		return bad(err, err_size, "--uid and --gid are required");
	a->exec_name = strrchr(a->exec_file, '/') ? strrchr(a->exec_file, '/') + 1 : a->exec_file;
	if (!*a->exec_name || !strcmp(a->exec_name, ".") || !strcmp(a->exec_name, ".."))
		return bad(err, err_size, "--exec-file: '%s' does not name a file", a->exec_file);
	if (!a->parent_cgroup)
		a->parent_cgroup = a->exec_name;
	return 0;
}
