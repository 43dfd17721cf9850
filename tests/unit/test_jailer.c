/* test_jailer.c: kiln-jailer's command line (src/jailer/args.c) and its reading of a program's
 * shared libraries (src/jailer/elfdeps.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "jailer/args.h"
#include "jailer/elfdeps.h"

static struct jailer_args a;
static char err[512];

/* Parses a NULL-terminated list after argv[0]. */
#define PARSE(...)                                                                 \
	({                                                                         \
		char *argv_[] = { "kiln-jailer", __VA_ARGS__, NULL };             \
		err[0] = '\0';                                                     \
		jailer_parse_args((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, &a, err, \
				  sizeof(err));                                    \
	})

#define BASE "--id", "vm-1", "--exec-file", "/usr/bin/kiln", "--uid", "123", "--gid", "100"

Test(jailer_args, minimal_has_firecrackers_defaults)
{
	cr_assert_eq(PARSE(BASE), 0, "%s", err);
	cr_expect_str_eq(a.id, "vm-1");
	cr_expect_str_eq(a.exec_name, "kiln");
	cr_expect_eq(a.uid, 123);
	cr_expect_eq(a.gid, 100);
	cr_expect_str_eq(a.chroot_base, "/srv/jailer");
	cr_expect_eq(a.cgroup_version, 1);
	cr_expect_str_eq(a.parent_cgroup, "kiln");
	cr_expect_eq(a.n_rlimits, 1);
	cr_expect_eq(a.rlimits[0].resource, RLIMIT_NOFILE);
	cr_expect_eq(a.rlimits[0].value, 2048);
	cr_expect_not(a.daemonize);
	cr_expect_not(a.new_pid_ns);
	cr_expect_eq(a.n_extra, 0);
}

Test(jailer_args, every_option_and_kilns_arguments)
{
	cr_assert_eq(PARSE(BASE, "--chroot-base-dir", "/tmp/j", "--netns", "/var/run/netns/x",
			   "--cgroup-version", "2", "--cgroup", "memory.max=268435456", "--cgroup",
			   "cpu.max=50000 100000", "--parent-cgroup", "uvms/ext", "--resource-limit",
			   "fsize=1000", "--resource-limit", "no-file=64", "--daemonize", "--new-pid-ns",
			   "--", "--config-file", "vm.json", "--no-api"),
		     0, "%s", err);
	cr_expect_str_eq(a.chroot_base, "/tmp/j");
	cr_expect_str_eq(a.netns, "/var/run/netns/x");
	cr_expect_eq(a.cgroup_version, 2);
	cr_assert_eq(a.n_cgroups, 2);
	cr_expect_str_eq(a.cgroups[1].value, "50000 100000");
	cr_expect_eq(strncmp(a.cgroups[1].file, "cpu.max=", 8), 0);
	cr_expect_str_eq(a.parent_cgroup, "uvms/ext");
	cr_assert_eq(a.n_rlimits, 2); /* no-file replaced the default, fsize added */
	cr_expect_eq(a.rlimits[0].value, 64);
	cr_expect_eq(a.rlimits[1].resource, RLIMIT_FSIZE);
	cr_expect_eq(a.rlimits[1].value, 1000);
	cr_expect(a.daemonize && a.new_pid_ns);
	cr_assert_eq(a.n_extra, 3);
	cr_expect_str_eq(a.extra[0], "--config-file");
	cr_expect_str_eq(a.extra[2], "--no-api");
}

Test(jailer_args, equals_form)
{
	cr_assert_eq(PARSE("--id=a", "--exec-file=/x/kiln", "--uid=0", "--gid=0"), 0, "%s", err);
	cr_expect_str_eq(a.id, "a");
}

/* Each bad command line: refused with one line that names the option and the value. */
static void refused(const char *want, int rc)
{
	cr_expect_eq(rc, -1, "accepted, expected '%s'", want);
	cr_expect(strstr(err, want), "error '%s' lacks '%s'", err, want);
	cr_expect_null(strchr(err, '\n'), "error spans lines: '%s'", err);
}

Test(jailer_args, bad_input)
{
	refused("--id is required", PARSE("--exec-file", "/k", "--uid", "1", "--gid", "1"));
	refused("--exec-file is required", PARSE("--id", "a", "--uid", "1", "--gid", "1"));
	refused("--uid and --gid are required", PARSE("--id", "a", "--exec-file", "/k", "--uid", "1"));
	refused("--id: 'a_b'", PARSE("--id", "a_b", "--exec-file", "/k", "--uid", "1", "--gid", "1"));
	refused("--id: ''", PARSE("--id", "", "--exec-file", "/k", "--uid", "1", "--gid", "1"));
	refused("--id: '0123456789012345678901234567890123456789012345678901234567890123x'",
		PARSE("--id", "0123456789012345678901234567890123456789012345678901234567890123x"));
	refused("--uid: '-1'", PARSE("--id", "a", "--exec-file", "/k", "--uid", "-1", "--gid", "1"));
	refused("--uid: '4294967295'", PARSE("--id", "a", "--uid", "4294967295"));
	refused("--gid: '1x'", PARSE("--id", "a", "--gid", "1x"));
	refused("--exec-file: '/usr/bin/'", PARSE("--id", "a", "--exec-file", "/usr/bin/", "--uid", "1",
						 "--gid", "1"));
	refused("--chroot-base-dir: 'rel'", PARSE(BASE, "--chroot-base-dir", "rel"));
	refused("--chroot-base-dir: '/'", PARSE(BASE, "--chroot-base-dir", "/"));
	refused("--chroot-base-dir: '/a/../etc'", PARSE(BASE, "--chroot-base-dir", "/a/../etc"));
	refused("--netns: 'ns'", PARSE(BASE, "--netns", "ns"));
	refused("--cgroup-version: '3'", PARSE(BASE, "--cgroup-version", "3"));
	refused("--cgroup: 'memory'", PARSE(BASE, "--cgroup", "memory"));
	refused("--cgroup: '../x.max=1'", PARSE(BASE, "--cgroup", "../x.max=1"));
	refused("--cgroup: 'memory.max='", PARSE(BASE, "--cgroup", "memory.max="));
	refused("--parent-cgroup: '../x'", PARSE(BASE, "--parent-cgroup", "../x"));
	refused("--parent-cgroup: '/abs'", PARSE(BASE, "--parent-cgroup", "/abs"));
	refused("--parent-cgroup: 'a//b'", PARSE(BASE, "--parent-cgroup", "a//b"));
	refused("--resource-limit: 'stack'", PARSE(BASE, "--resource-limit", "stack=1"));
	refused("--resource-limit: '-5'", PARSE(BASE, "--resource-limit", "fsize=-5"));
	refused("--resource-limit: 'no-file'", PARSE(BASE, "--resource-limit", "no-file"));
	refused("--bogus: unknown option", PARSE(BASE, "--bogus"));
	refused("--uid: needs a value", PARSE("--id", "a", "--uid"));
	refused("'stray': unexpected argument", PARSE(BASE, "stray"));
}

Test(jailer_args, help_and_version)
{
	cr_assert_eq(PARSE("--help"), 0);
	cr_expect(a.help);
	cr_assert_eq(PARSE("--version"), 0);
	cr_expect(a.version);
}

/* ---- elfdeps ------------------------------------------------------------------------------ */

static bool listed(const struct elfdeps *d, const char *suffix)
{
	for (size_t i = 0; i < d->n; i++) {
		size_t n = strlen(d->paths[i]), m = strlen(suffix);

		if (n >= m && !strcmp(d->paths[i] + n - m, suffix))
			return true;
	}
	return false;
}

Test(elfdeps, dynamic_program_lists_loader_and_libraries_transitively)
{
	struct elfdeps d;
	const char *kiln = getenv("KILN_BINARY");

	cr_assert_not_null(kiln, "KILN_BINARY not set");
	cr_assert_eq(elfdeps_collect(kiln, &d, err, sizeof(err)), 0, "%s", err);
	cr_expect(listed(&d, "/ld-linux-x86-64.so.2") || listed(&d, "/ld-linux-aarch64.so.1"),
		  "no ELF interpreter listed");
	cr_expect(listed(&d, "/libc.so.6"));
	cr_expect(listed(&d, "/libjansson.so.4"));
	/* libslirp needs glib, which kiln does not link directly: found transitively. */
	cr_expect(listed(&d, "/libglib-2.0.so.0"));
	for (size_t i = 0; i < d.n; i++) {
		cr_expect_eq(d.paths[i][0], '/', "%s", d.paths[i]);
		cr_expect_eq(access(d.paths[i], R_OK), 0, "%s", d.paths[i]);
		for (size_t j = 0; j < i; j++)
			cr_expect_str_neq(d.paths[i], d.paths[j], "listed twice");
	}
	elfdeps_free(&d);
}

Test(elfdeps, static_program_needs_nothing)
{
	struct elfdeps d;

	if (access("/bin/busybox", R_OK))
		cr_skip_test("no /bin/busybox (busybox-static) here");
	cr_assert_eq(elfdeps_collect("/bin/busybox", &d, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(d.n, 0);
}

Test(elfdeps, not_elf_and_missing)
{
	struct elfdeps d;
	char path[] = "/tmp/kiln-elfdeps-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	cr_expect_eq(elfdeps_collect(path, &d, err, sizeof(err)), -1);
	cr_expect(strstr(err, "not an ELF file"), "%s", err);
	unlink(path);
	cr_expect_eq(elfdeps_collect("/nonexistent/kiln", &d, err, sizeof(err)), -1);
	cr_expect(strstr(err, "/nonexistent/kiln: cannot open"), "%s", err);
}
