/* sandbox.c: per-thread-role seccomp filters (built in, or a file's), NO_NEW_PRIVS, close_range. */
#include "util/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sandbox_bpf.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* The built-in filters are generated at build time (src/util/sandbox_gen.c holds the
 * allowlists; sandbox_bpf.c, in the build directory, their BPF), so start-up does no libseccomp
 * work: a thread entering its role only hands its program to the kernel. libseccomp compiles
 * only a --seccomp-filter FILE. */

struct role_state {
	struct sock_fprog prog; /* len 0: no filter for this role */
	bool owned;             /* prog.filter was malloc'd (a filter file, the test's trap copy) */
};

static struct role_state roles[SANDBOX_NR_ROLES];
static bool prepared, disabled_flag, inet_flag;

static const char *const role_names[SANDBOX_NR_ROLES] = { "owner", "api", "io", "vcpu", "gdb" };

const char *sandbox_role_name(enum sandbox_role role)
{
	return role < SANDBOX_NR_ROLES ? role_names[role] : "?";
}

/* ---- the filter file (docs/security.md, "--seccomp-filter FILE") ------------------------- */

static int parse_action(const char *s, uint32_t *out)
{
	static const struct { const char *name; uint32_t action; } actions[] = {
		{ "kill_process", SCMP_ACT_KILL_PROCESS }, { "kill", SCMP_ACT_KILL_PROCESS },
		{ "kill_thread", SCMP_ACT_KILL_THREAD }, { "trap", SCMP_ACT_TRAP },
		{ "log", SCMP_ACT_LOG },
	};

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (strcmp(s, actions[i].name) == 0) {
			*out = actions[i].action;
			return 0;
		}
	return -EINVAL;
}

static int parse_arg(json_t *a, struct scmp_arg_cmp *cmp, char *why, size_t why_size)
{
	static const struct { const char *name; enum scmp_compare op; } ops[] = {
		{ "eq", SCMP_CMP_EQ }, { "ne", SCMP_CMP_NE }, { "lt", SCMP_CMP_LT },
		{ "le", SCMP_CMP_LE }, { "gt", SCMP_CMP_GT }, { "ge", SCMP_CMP_GE },
	};
	json_t *index = json_object_get(a, "index"), *val = json_object_get(a, "val");
	json_t *op = json_object_get(a, "op"), *type = json_object_get(a, "type");
	bool dword = type && json_is_string(type) && strcmp(json_string_value(type), "dword") == 0;

	if (!json_is_object(a) || !json_is_integer(index) || json_integer_value(index) < 0 ||
	    json_integer_value(index) > 5) {
		snprintf(why, why_size, "an argument needs \"index\" 0 to 5");
		return -EINVAL;
	}
	if (!json_is_integer(val) || json_integer_value(val) < 0) {
		snprintf(why, why_size, "an argument needs a non-negative integer \"val\"");
		return -EINVAL;
	}
	if (type && (!json_is_string(type) || (!dword && strcmp(json_string_value(type), "qword")))) {
		snprintf(why, why_size, "argument \"type\" is not \"dword\" or \"qword\"");
		return -EINVAL;
	}
	cmp->arg = (unsigned int)json_integer_value(index);
	cmp->datum_b = (scmp_datum_t)json_integer_value(val);
	if (json_is_object(op) && json_is_integer(json_object_get(op, "masked_eq"))) {
		cmp->op = SCMP_CMP_MASKED_EQ;
		cmp->datum_a = (scmp_datum_t)json_integer_value(json_object_get(op, "masked_eq"));
		if (dword)
			cmp->datum_a &= 0xffffffffu;
		return 0;
	}
	for (size_t i = 0; json_is_string(op) && i < ARRAY_SIZE(ops); i++)
		if (strcmp(json_string_value(op), ops[i].name) == 0) {
			cmp->op = ops[i].op;
			cmp->datum_a = cmp->datum_b;
			if (dword && cmp->op == SCMP_CMP_EQ) {
				/* a 32-bit argument: whatever the upper half holds */
				cmp->op = SCMP_CMP_MASKED_EQ;
				cmp->datum_a = 0xffffffffu;
			}
			return 0;
		}
	snprintf(why, why_size, "\"op\" is not eq, ne, lt, le, gt, ge, {\"masked_eq\": M}");
	return -EINVAL;
}

static int build_from_json(json_t *role_obj, scmp_filter_ctx *out, char *why, size_t why_size)
{
	json_t *filter = json_object_get(role_obj, "filter");
	json_t *def = json_object_get(role_obj, "default_action");
	json_t *fa = json_object_get(role_obj, "filter_action");
	uint32_t action = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	size_t i;
	json_t *rule;

	if (!json_is_object(role_obj) || !json_is_array(filter)) {
		snprintf(why, why_size, "needs a \"filter\" array");
		return -EINVAL;
	}
	if (def && (!json_is_string(def) || parse_action(json_string_value(def), &action))) {
		snprintf(why, why_size, "\"default_action\" is not kill_process, kill_thread, trap or log");
		return -EINVAL;
	}
	if (fa && (!json_is_string(fa) || strcmp(json_string_value(fa), "allow"))) {
		snprintf(why, why_size, "\"filter_action\" must be \"allow\"");
		return -EINVAL;
	}
	ctx = seccomp_init(action);
	if (!ctx) {
		snprintf(why, why_size, "libseccomp: cannot create a filter");
		return -ENOMEM;
	}
	json_array_foreach(filter, i, rule) {
		json_t *name = json_object_get(rule, "syscall"), *args = json_object_get(rule, "args");
		struct scmp_arg_cmp cmps[6];
		unsigned int n = 0;
		int nr, e;

		if (!json_is_string(name)) {
			snprintf(why, why_size, "filter[%zu] needs a \"syscall\" name", i);
			goto fail;
		}
		nr = seccomp_syscall_resolve_name(json_string_value(name));
		if (nr == __NR_SCMP_ERROR) {
			snprintf(why, why_size, "filter[%zu]: unknown syscall '%.64s'", i,
				 json_string_value(name));
			goto fail;
		}
		if (args && (!json_is_array(args) || json_array_size(args) > 6)) {
			snprintf(why, why_size, "filter[%zu]: \"args\" is not an array of up to 6", i);
			goto fail;
		}
		for (; args && n < json_array_size(args); n++) {
			char what[96];

			if (parse_arg(json_array_get(args, n), &cmps[n], what, sizeof(what))) {
				snprintf(why, why_size, "filter[%zu] (%.64s): %s", i,
					 json_string_value(name), what);
				goto fail;
			}
		}
		e = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmps);
		if (e) {
			snprintf(why, why_size, "filter[%zu] (%.64s): libseccomp refused it: %s", i,
				 json_string_value(name), strerror(-e));
			goto fail;
		}
	}
	*out = ctx;
	return 0;
fail:
	seccomp_release(ctx);
	return -EINVAL;
}

/* Compiles `ctx` to BPF in `prog` (malloc'd). Returns 0 or -errno. */
static int compile(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	int fd = memfd_create("kiln-seccomp", MFD_CLOEXEC), e;
	off_t size;

	if (fd < 0)
		return -errno;
	/* a balanced tree of syscall numbers rather than a list: fewer instructions a call */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	e = seccomp_export_bpf(ctx, fd);
	size = e ? -1 : lseek(fd, 0, SEEK_END);
	if (!e && (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
		   size > BPF_MAXINSNS * (off_t)sizeof(struct sock_filter)))
		e = -E2BIG;
	if (!e && !(prog->filter = malloc((size_t)size)))
		e = -ENOMEM;
	if (!e && pread(fd, prog->filter, (size_t)size, 0) != size) {
		free(prog->filter);
		prog->filter = NULL;
		e = -EIO;
	}
	if (!e)
		prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	close(fd);
	return e;
}

static int load_file(const char *path, char *err, size_t err_size)
{
	/* Firecracker's names too, so its files (compiled by seccompiler from this JSON) load. */
	static const char *const aliases[SANDBOX_NR_ROLES] = { "vmm", NULL, NULL, NULL, NULL };
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	const char *key;
	json_t *v;
	int e = 0;

	if (!doc) {
		snprintf(err, err_size, "--seccomp-filter %s: %s", path, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(doc)) {
		snprintf(err, err_size, "--seccomp-filter %s: not a JSON object of thread roles", path);
		json_decref(doc);
		return -EINVAL;
	}
	json_object_foreach(doc, key, v) {
		scmp_filter_ctx ctx;
		char why[200];
		int r;

		for (r = 0; r < SANDBOX_NR_ROLES; r++)
			if (strcmp(key, role_names[r]) == 0 || (aliases[r] && strcmp(key, aliases[r]) == 0))
				break;
		if (r == SANDBOX_NR_ROLES) {
			snprintf(err, err_size, "--seccomp-filter %s: unknown thread role '%.64s' (owner "
				 "or vmm, api, io, vcpu, gdb)", path, key);
			e = -EINVAL;
			break;
		}
		if (roles[r].prog.len) {
			snprintf(err, err_size, "--seccomp-filter %s: role '%s' given twice", path, key);
			e = -EINVAL;
			break;
		}
		if ((e = build_from_json(v, &ctx, why, sizeof(why)))) {
			snprintf(err, err_size, "--seccomp-filter %s: %s: %s", path, key, why);
			break;
		}
		e = compile(ctx, &roles[r].prog);
		seccomp_release(ctx);
		if (e) {
			snprintf(err, err_size, "--seccomp-filter %s: %s: cannot compile it: %s", path,
				 key, strerror(-e));
			break;
		}
		roles[r].owned = true;
	}
	if (!e && !roles[SANDBOX_OWNER].prog.len) {
		snprintf(err, err_size, "--seccomp-filter %s: no filter for the owner thread "
			 "(\"owner\" or \"vmm\")", path);
		e = -EINVAL;
	}
	json_decref(doc);
	return e;
}

/* ---- the test hooks (meson -Dseccomp_test, never in release builds) ------------------------ */

#ifdef KILN_SECCOMP_TEST
static void sigsys_report(int sig, siginfo_t *si, void *uc)
{
	char msg[256], name[16] = "";
	int n;

	(void)sig;
	(void)uc;
	prctl(PR_GET_NAME, name);
	n = snprintf(msg, sizeof(msg), "kiln: seccomp-test: forbidden syscall %d on thread %s\n",
		     si->si_syscall, name);
#if defined(__x86_64__)
	if (si->si_syscall == SYS_openat) /* its path, the second argument, for the report */
		n = snprintf(msg, sizeof(msg), "kiln: seccomp-test: forbidden openat '%.128s' on thread %s\n",
			     (const char *)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSI], name);
#endif
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	_exit(128 + SIGSYS);
}

/* KILN_SECCOMP_TEST_TRAP: the built-in filters trap (SIGSYS, reported with the call's number by
 * sigsys_report()) instead of killing, to find a call a filter misses: each program is copied
 * with its kill returns made traps. */
static int test_trap(char *err, size_t err_size)
{
	struct sigaction sa = { .sa_sigaction = sigsys_report, .sa_flags = SA_SIGINFO };

	if (!getenv("KILN_SECCOMP_TEST_TRAP"))
		return 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	for (int r = 0; r < SANDBOX_NR_ROLES; r++) {
		struct sock_filter *copy = malloc(roles[r].prog.len * sizeof(*copy));

		if (!copy) {
			snprintf(err, err_size, "seccomp: out of memory");
			return -ENOMEM;
		}
		memcpy(copy, roles[r].prog.filter, roles[r].prog.len * sizeof(*copy));
		for (unsigned int i = 0; i < roles[r].prog.len; i++)
			if (copy[i].code == (BPF_RET | BPF_K) && copy[i].k == SECCOMP_RET_KILL_PROCESS)
				copy[i].k = SECCOMP_RET_TRAP;
		roles[r].prog.filter = copy;
		roles[r].owned = true;
	}
	return 0;
}

/* KILN_SECCOMP_TEST_VIOLATE=ROLE:CALL makes the first thread of ROLE attempt CALL (execve,
 * openat, socket (AF_INET), ptrace) right after it installs its filter: the process must die of
 * SIGSYS. */
static void test_violate(enum sandbox_role role)
{
	const char *v = getenv("KILN_SECCOMP_TEST_VIOLATE");
	const char *colon = v ? strchr(v, ':') : NULL;
	static int done;
	long r = 0;

	if (!colon || (size_t)(colon - v) != strlen(role_names[role]) ||
	    strncmp(v, role_names[role], (size_t)(colon - v)) ||
	    __atomic_exchange_n(&done, 1, __ATOMIC_SEQ_CST))
		return;
	if (strcmp(colon + 1, "execve") == 0)
		r = syscall(SYS_execve, "/bin/true", (char *[]){ "true", NULL }, (char *[]){ NULL });
	else if (strcmp(colon + 1, "openat") == 0)
		r = syscall(SYS_openat, AT_FDCWD, "/kiln-seccomp-test", O_RDONLY);
	else if (strcmp(colon + 1, "socket") == 0)
		r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	else if (strcmp(colon + 1, "ptrace") == 0)
		r = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
	pr_err("seccomp-test: %s thread made '%s' and was not stopped (returned %ld)",
	       role_names[role], colon + 1, r);
}
#endif

/* ---- public ------------------------------------------------------------------------------ */

void sandbox_close_inherited_fds(void)
{
	/* Nothing else is open yet; an old kernel without close_range gets the loop. */
	if (syscall(SYS_close_range, 3u, ~0u, 0u)) {
		long max = sysconf(_SC_OPEN_MAX);

		for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
			close((int)fd);
	}
}

static void release_all(void)
{
	for (int r = 0; r < SANDBOX_NR_ROLES; r++) {
		if (roles[r].owned)
			free(roles[r].prog.filter);
		roles[r] = (struct role_state){ 0 };
	}
}

int sandbox_prepare(const struct sandbox_opts *opts, char *err, size_t err_size)
{
	int e;

	if (prepared)
		return 0;
	if (opts->disabled) {
		disabled_flag = true;
		return 0;
	}
	/* glibc loads the time zone (opens /etc/localtime) on the first time conversion, gmtime_r()
	 * too: the RTC's (devices/rtc.c), on a vCPU thread. Now, while opening files is allowed. */
	tzset();
	/* jansson seeds its hash function from /dev/urandom on the first object it makes, which may
	 * be the API thread's first request body (no openat there): seed it now, from getrandom(),
	 * which costs no file. */
	{
		uint32_t seed = 0;

		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed) || !seed)
			seed = (uint32_t)time(NULL) ^ (uint32_t)getpid() ^ 1u;
		json_object_seed(seed);
	}
	/* One malloc arena for every thread. glibc gives a busy thread an arena of its own, and the
	 * first time it shrinks one of those (after a burst of frees: the API thread under load) it
	 * reads /proc/sys/vm/overcommit_memory; it also calls sched_getaffinity when a ninth arena
	 * is wanted. Either, on a thread whose filter allows no openat, killed kiln at random. The
	 * main arena trims with brk, which every role has; small blocks stay in each thread's
	 * tcache, so the shared arena's lock is rarely taken. */
#ifndef KILN_SANITIZER_BUILD
	/* (A sanitizer build's malloc is the sanitizer's, which has no such arenas and ignores
	 * mallopt; its filters allow the files its runtime reads.) */
	if (mallopt(M_ARENA_MAX, 1) != 1)
		pr_warn("seccomp: cannot limit malloc to one arena: a thread may die of SIGSYS");
#endif
	if (opts->filter_file) {
		if ((e = load_file(opts->filter_file, err, err_size))) {
			release_all();
			return e;
		}
	} else {
		int v = opts->inet ? SANDBOX_BPF_INET : SANDBOX_BPF_PLAIN;

		for (int r = 0; r < SANDBOX_NR_ROLES; r++)
			roles[r].prog = (struct sock_fprog){
				.len = sandbox_bpf[r][v].len,
				.filter = (struct sock_filter *)sandbox_bpf[r][v].insns,
			};
#ifdef KILN_SECCOMP_TEST
		if ((e = test_trap(err, err_size))) {
			release_all();
			return e;
		}
#endif
	}
	prepared = true;
	inet_flag = opts->inet || opts->filter_file; /* a file's own rules decide */
	return 0;
}

int sandbox_enter(enum sandbox_role role)
{
	int e;

	if (!prepared || disabled_flag || role >= SANDBOX_NR_ROLES)
		return 0;
	if (!roles[role].prog.len)
		return 0; /* a filter file without this role: the thread keeps what it inherited */
	/* The owner's filter goes to every thread that exists when it loads (a sanitizer's
	 * background thread), the others' to their own thread only. NO_NEW_PRIVS first: the
	 * kernel refuses a filter from an unprivileged thread without it. */
	e = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : 0;
	if (!e) {
		long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				 role == SANDBOX_OWNER ? SECCOMP_FILTER_FLAG_TSYNC : 0,
				 &roles[role].prog);

		e = r < 0 ? -errno : r > 0 ? -EBUSY : 0; /* r > 0: a thread TSYNC could not sync */
	}
	if (e) {
		pr_err("seccomp: cannot install the %s filter: %s", role_names[role], strerror(-e));
		return e;
	}
#ifdef KILN_SECCOMP_TEST
	if (getenv("KILN_SECCOMP_TEST_TRAP")) {
		/* Threads that block every signal would otherwise be killed by the trap (the kernel
		 * forces a blocked SIGSYS to its default action) before sigsys_report() names the
		 * call. */
		sigset_t sys;

		sigemptyset(&sys);
		sigaddset(&sys, SIGSYS);
		pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	}
	test_violate(role);
#endif
	return 0;
}

bool sandbox_allows_inet(void) { return !prepared || disabled_flag || inet_flag; }

bool sandbox_active(void)
{
	return prepared && !disabled_flag;
}

unsigned int sandbox_builtin_count(enum sandbox_role role)
{
	return role < SANDBOX_NR_ROLES ? sandbox_bpf_nr_syscalls[role] : 0;
}
