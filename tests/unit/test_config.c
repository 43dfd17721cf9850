/* test_config.c: size and count parsing, validation (src/config.c) and the command line
 * (src/control/cli.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control/cli.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)

/* ---- config_parse_size ------------------------------------------------------------------- */

static uint64_t size_ok(const char *s)
{
	uint64_t v = 0xdeadbeef;
	int e = config_parse_size(s, &v);

	cr_assert_eq(e, 0, "'%s' should parse, got %d", s, e);
	return v;
}

static void size_bad(const char *s, int expect)
{
	uint64_t v = 0xdeadbeef;
	int e = config_parse_size(s, &v);

	cr_assert_eq(e, expect, "'%s': expected %d, got %d", s, expect, e);
	cr_assert_eq(v, 0xdeadbeef, "'%s': output written on error", s);
}

Test(parse_size, bare_number_is_mib)
{
	cr_assert_eq(size_ok("128"), 128 * MIB);
	cr_assert_eq(size_ok("1"), MIB);
}

Test(parse_size, suffixes)
{
	cr_assert_eq(size_ok("128M"), 128 * MIB);
	cr_assert_eq(size_ok("1G"), GIB);
	cr_assert_eq(size_ok("4k"), 4 * KIB);
	cr_assert_eq(size_ok("4K"), 4 * KIB);
	cr_assert_eq(size_ok("2T"), 2 * TIB);
	cr_assert_eq(size_ok("512MiB"), 512 * MIB);
	cr_assert_eq(size_ok("1gb"), GIB);
	cr_assert_eq(size_ok("3GIB"), 3 * GIB);
	cr_assert_eq(size_ok("16kB"), 16 * KIB);
}

Test(parse_size, zero_parses)
{
	/* Rejected later by config_validate(), with a message about -m. */
	cr_assert_eq(size_ok("0"), 0);
	cr_assert_eq(size_ok("0G"), 0);
}

Test(parse_size, not_a_size)
{
	size_bad("", -EINVAL);
	size_bad("M", -EINVAL);
	size_bad("-1", -EINVAL);
	size_bad("+1", -EINVAL);
	size_bad("12X", -EINVAL);
	size_bad("1.5G", -EINVAL);
	size_bad("0x10", -EINVAL);
	size_bad("1Gi", -EINVAL);
	size_bad("1GBB", -EINVAL);
	size_bad("1MiBs", -EINVAL);
	size_bad("1 G", -EINVAL);
	size_bad(NULL, -EINVAL);
}

Test(parse_size, whitespace_refused)
{
	size_bad(" 128", -EINVAL);
	size_bad("128 ", -EINVAL);
	size_bad("\t1G", -EINVAL);
	size_bad("1G\n", -EINVAL);
}

Test(parse_size, overflow_is_erange)
{
	size_bad("18446744073709551615G", -ERANGE);
	size_bad("18446744073709551616", -ERANGE); /* does not fit strtoull */
	size_bad("99999999999999999999999K", -ERANGE);
	size_bad("17592186044416M", -ERANGE);       /* 2^44 MiB = 2^64 bytes */
	cr_assert_eq(size_ok("17592186044415M"), (17592186044415ull) << 20, "2^64 - 1 MiB fits");
	cr_assert_eq(size_ok("16777215T"), 16777215ull << 40);
	size_bad("16777216T", -ERANGE);
}

/* ---- config_parse_uint ------------------------------------------------------------------- */

Test(parse_uint, bounds)
{
	unsigned long v = 77;

	cr_assert_eq(config_parse_uint("1", 1, 254, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(config_parse_uint("254", 1, 254, &v), 0);
	cr_assert_eq(v, 254);
	v = 77;
	cr_assert_eq(config_parse_uint("0", 1, 254, &v), -ERANGE);
	cr_assert_eq(config_parse_uint("255", 1, 254, &v), -ERANGE);
	cr_assert_eq(config_parse_uint("18446744073709551616", 0, ULONG_MAX, &v), -ERANGE);
	cr_assert_eq(v, 77, "untouched on error");
	cr_assert_eq(config_parse_uint("18446744073709551615", 0, ULONG_MAX, &v), 0);
	cr_assert_eq(v, ULONG_MAX);
}

Test(parse_uint, not_a_number)
{
	unsigned long v = 77;

	cr_assert_eq(config_parse_uint("", 0, 10, &v), -EINVAL);
	cr_assert_eq(config_parse_uint("abc", 0, 10, &v), -EINVAL);
	cr_assert_eq(config_parse_uint("-1", 0, 10, &v), -EINVAL);
	cr_assert_eq(config_parse_uint("3x", 0, 10, &v), -EINVAL);
	cr_assert_eq(config_parse_uint(" 3", 0, 10, &v), -EINVAL);
	cr_assert_eq(config_parse_uint("3 ", 0, 10, &v), -EINVAL);
	cr_assert_eq(config_parse_uint(NULL, 0, 10, &v), -EINVAL);
	cr_assert_eq(v, 77);
}

/* ---- config_validate --------------------------------------------------------------------- */

static struct vmm_config cfg;
static char err[CONFIG_ERR_MAX];

static void cfg_setup(void)
{
	config_init(&cfg);
	cfg.kernel_path = "guest.elf";
	memset(err, 0, sizeof(err));
}

TestSuite(validate, .init = cfg_setup);

#define assert_msg_has(needle) \
	cr_assert_not_null(strstr(err, (needle)), "expected \"%s\" in '%s'", (needle), err)

Test(validate, defaults)
{
	struct vmm_config c;

	config_init(&c);
	cr_assert_eq(c.mem_size, 128 * MIB);
	cr_assert_eq(c.nr_vcpus, 1);
	cr_assert_eq(c.irqchip, IRQCHIP_SPLIT);
	cr_assert_eq(c.debug_exit, false);
	cr_assert_eq(c.debug_exit_port, 0xf4);
	cr_assert_null(c.kernel_path);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "defaults plus a kernel are valid: %s", err);
}

Test(validate, missing_kernel)
{
	cfg.kernel_path = NULL;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("-k");
}

Test(validate, zero_memory)
{
	cfg.mem_size = 0;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("-m");
	assert_msg_has("0");
}

Test(validate, below_one_mib)
{
	cfg.mem_size = MIB - 4096;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("-m");
	assert_msg_has("1044480");
	assert_msg_has("1 MiB");
	cfg.mem_size = MIB;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "exactly 1 MiB is fine: %s", err);
}

Test(validate, not_a_page_multiple)
{
	cfg.mem_size = 128 * MIB + 512;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("-m");
	assert_msg_has("4 KiB");
	cfg.mem_size = 128 * MIB + 4096;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(validate, vcpu_count)
{
	cfg.nr_vcpus = 0;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("-c");
	assert_msg_has("0 vCPUs");
	cfg.nr_vcpus = 255;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("255");
	assert_msg_has("254");
	cfg.nr_vcpus = 254;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

/* ---- cli_parse --------------------------------------------------------------------------- */

TestSuite(cli, .init = cfg_setup);

static struct controller_opts copts;
static int verbosity;

/* Runs cli_parse over a NULL-terminated list of arguments after "kiln". */
#define PARSE(action, ...)                                                              \
	({                                                                              \
		char *argv_[] = { "kiln", __VA_ARGS__, NULL };                          \
		config_init(&cfg);                                                      \
		cli_parse((int)ARRAY_SIZE(argv_) - 1, argv_, &cfg, &copts, (action), &verbosity, err,\
			  sizeof(err));                                                 \
	})

Test(cli, no_command)
{
	char *argv[] = { "kiln", NULL };
	enum cli_action a;

	cr_assert_eq(cli_parse(1, argv, &cfg, &copts, &a, &verbosity, err, sizeof(err)), -EINVAL);
	assert_msg_has("--help");
}

Test(cli, help_and_version)
{
	enum cli_action a = CLI_RUN;

	cr_assert_eq(PARSE(&a, "--help"), 0);
	cr_assert_eq(a, CLI_HELP);
	a = CLI_RUN;
	cr_assert_eq(PARSE(&a, "-h"), 0);
	cr_assert_eq(a, CLI_HELP);
	a = CLI_RUN;
	cr_assert_eq(PARSE(&a, "help"), 0);
	cr_assert_eq(a, CLI_HELP);
	cr_assert_eq(PARSE(&a, "--version"), 0);
	cr_assert_eq(a, CLI_VERSION);
	a = CLI_RUN;
	cr_assert_eq(PARSE(&a, "-V"), 0);
	cr_assert_eq(a, CLI_VERSION);
	cr_assert_eq(PARSE(&a, "run", "--help"), 0);
	cr_assert_eq(a, CLI_RUN_HELP);
	a = CLI_RUN;
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-h"), 0);
	cr_assert_eq(a, CLI_RUN_HELP);
}

Test(cli, unknown_command)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "boot", "-k", "x"), -EINVAL);
	assert_msg_has("'boot'");
}

Test(cli, run_defaults)
{
	enum cli_action a = CLI_HELP;

	cr_assert_eq(PARSE(&a, "run", "-k", "guest.elf"), 0, "%s", err);
	cr_assert_eq(a, CLI_RUN);
	cr_assert_str_eq(cfg.kernel_path, "guest.elf");
	cr_assert_null(cfg.initrd_path);
	cr_assert_null(cfg.cmdline);
	cr_assert_null(cfg.kvm_path);
	cr_assert_eq(cfg.mem_size, 128 * MIB);
	cr_assert_eq(cfg.nr_vcpus, 1);
	cr_assert_not(cfg.flat);
	cr_assert_not(cfg.debug_exit);
	cr_assert_not(cfg.stats);
	cr_assert_eq(cfg.irqchip, IRQCHIP_SPLIT);
}

Test(cli, run_without_kernel_caught_by_validate)
{
	enum cli_action a = CLI_HELP;

	cr_assert_eq(PARSE(&a, "run"), 0, "%s", err);
	cr_assert_eq(a, CLI_RUN);
	cr_assert_null(cfg.kernel_path);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("-k");
}

Test(cli, run_fills_every_field)
{
	enum cli_action a = CLI_HELP;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-i", "initrd.img", "-m", "256M", "-c", "2", "-p",
			   "a b", "--flat", "--debug-exit=0x501", "--stats", "--irqchip=kernel",
			   "--kvm-device", "/dev/kvm2"),
		     0, "%s", err);
	cr_assert_eq(a, CLI_RUN);
	cr_assert_str_eq(cfg.kernel_path, "x");
	cr_assert_str_eq(cfg.initrd_path, "initrd.img");
	cr_assert_eq(cfg.mem_size, 256 * MIB);
	cr_assert_eq(cfg.nr_vcpus, 2);
	cr_assert_str_eq(cfg.cmdline, "a b");
	cr_assert(cfg.flat);
	cr_assert(cfg.debug_exit);
	cr_assert_eq(cfg.debug_exit_port, 0x501);
	cr_assert(cfg.stats);
	cr_assert_eq(cfg.irqchip, IRQCHIP_KERNEL);
	cr_assert_str_eq(cfg.kvm_path, "/dev/kvm2");
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(cli, long_option_names)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "--kernel", "k", "--initrd=i", "--cmdline", "c", "--memory=1G",
			   "--cpus=4", "--irqchip", "split"),
		     0, "%s", err);
	cr_assert_str_eq(cfg.kernel_path, "k");
	cr_assert_str_eq(cfg.initrd_path, "i");
	cr_assert_str_eq(cfg.cmdline, "c");
	cr_assert_eq(cfg.mem_size, GIB);
	cr_assert_eq(cfg.nr_vcpus, 4);
	cr_assert_eq(cfg.irqchip, IRQCHIP_SPLIT);
}

Test(cli, repeated_parses_are_independent)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "first", "-m", "64M"), 0, "%s", err);
	cr_assert_eq(PARSE(&a, "run", "-c", "3", "-k", "second"), 0, "%s", err);
	cr_assert_str_eq(cfg.kernel_path, "second");
	cr_assert_eq(cfg.nr_vcpus, 3);
	cr_assert_eq(cfg.mem_size, 128 * MIB, "config_init()ed again");
}

Test(cli, debug_exit_default_port)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--debug-exit"), 0, "%s", err);
	cr_assert(cfg.debug_exit);
	cr_assert_eq(cfg.debug_exit_port, 0xf4);
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--debug-exit=0xfffc"), 0, "%s", err);
	cr_assert_eq(cfg.debug_exit_port, 0xfffc, "4-byte port at the top of the space");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--debug-exit=244"), 0, "%s", err);
	cr_assert_eq(cfg.debug_exit_port, 0xf4, "decimal works too");
}

Test(cli, verbosity)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-v", "--verbose"), 0, "%s", err);
	cr_assert_eq(verbosity, 2);
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-q"), 0, "%s", err);
	cr_assert_lt(verbosity, 0);
	cr_assert_eq(PARSE(&a, "run", "-k", "x"), 0, "%s", err);
	cr_assert_eq(verbosity, 0, "each parse starts from the default");
	cr_assert_eq(PARSE(&a, "--help"), 0);
	cr_assert_eq(verbosity, 0);
}

Test(cli, err_size_truncates)
{
	char *argv[] = { "kiln", "run", "-c", "many", NULL };
	char *disk[] = { "kiln", "run", "-k", "x", "--disk", "d.img,bogus", NULL };
	char small[8];
	enum cli_action a;

	config_init(&cfg);
	memset(small, 'z', sizeof(small));
	cr_assert_eq(cli_parse(4, argv, &cfg, &copts, &a, &verbosity, small, sizeof(small)),
		     -EINVAL);
	cr_assert_str_eq(small, "-c/--cp");
	config_init(&cfg);
	memset(small, 'z', sizeof(small));
	cr_assert_eq(cli_parse(6, disk, &cfg, &copts, &a, &verbosity, small, sizeof(small)),
		     -EINVAL);
	cr_assert_eq(strlen(small), sizeof(small) - 1, "--disk's message is cut to fit too");
}

Test(cli, unknown_option)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--bogus"), -EINVAL);
	assert_msg_has("'--bogus'");
	cr_assert_eq(PARSE(&a, "run", "-z", "-k", "x"), -EINVAL);
	assert_msg_has("'-z'");
}

Test(cli, value_given_to_option_without_one)
{
	enum cli_action a;

	/* getopt reports these as '?' with optopt set to the long option's value (>= 256). */
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--flat=yes"), -EINVAL);
	assert_msg_has("--flat");
	assert_msg_has("takes no value");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--stats=1"), -EINVAL);
	assert_msg_has("--stats");
}

Test(cli, missing_option_value)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k"), -EINVAL);
	assert_msg_has("-k");
	assert_msg_has("missing value");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--memory"), -EINVAL);
	assert_msg_has("--memory");
	assert_msg_has("missing value");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-c"), -EINVAL);
	assert_msg_has("-c");
}

Test(cli, bad_irqchip)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--irqchip=userspace"), -EINVAL);
	assert_msg_has("--irqchip");
	assert_msg_has("'userspace'");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--irqchip="), -EINVAL);
	assert_msg_has("--irqchip");
}

Test(cli, bad_debug_exit_port)
{
	enum cli_action a;
	const char *bad[] = { "0x10000", "0xfffd", "abc", "", "-1", "0x501z", "99999999999999999999" };

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		char opt[64];

		snprintf(opt, sizeof(opt), "--debug-exit=%s", bad[i]);
		cr_assert_eq(PARSE(&a, "run", "-k", "x", opt), -EINVAL, "%s accepted", opt);
		assert_msg_has("--debug-exit");
		if (*bad[i]) {
			char quoted[64];

			snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
			assert_msg_has(quoted);
		}
	}
}

Test(cli, stray_positional_argument)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "guest.elf"), -EINVAL);
	assert_msg_has("'guest.elf'");
	assert_msg_has("-k");
	cr_assert_eq(PARSE(&a, "run", "guest.elf", "-m", "64"), -EINVAL, "options after it too");
	assert_msg_has("'guest.elf'");
}

Test(cli, bad_memory)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-m", "12X"), -EINVAL);
	assert_msg_has("-m");
	assert_msg_has("'12X'");
	assert_msg_has("not a size");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--memory=18446744073709551615G"), -EINVAL);
	assert_msg_has("too large");
}

Test(cli, cpus_zero_caught_by_validate)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-c", "0"), 0, "%s", err);
	cr_assert_eq(cfg.nr_vcpus, 0);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("-c");
	assert_msg_has("0 vCPUs");
}

Test(cli, cpus_255_caught_by_validate)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-c", "255"), 0, "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("255");
}

Test(cli, cpus_not_a_number)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-c", "abc"), -EINVAL);
	assert_msg_has("-c");
	assert_msg_has("'abc'");
	assert_msg_has("not a number");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--cpus=2x"), -EINVAL);
	assert_msg_has("'2x'");
}

Test(cli, cpus_out_of_range)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-c", "99999"), -EINVAL);
	assert_msg_has("-c");
	assert_msg_has("99999");
	assert_msg_has("out of range");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-c", "99999999999999999999999"), -EINVAL);
	assert_msg_has("out of range");
}

Test(cli, memory_zero_caught_by_validate)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "-m", "0"), 0, "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_msg_has("-m");
}

Test(cli, help_text_mentions_options)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_print_help(f);
	cli_print_run_help(f);
	fclose(f);
	cr_assert_not_null(strstr(buf, "kiln run"));
	for (const char *const *o = (const char *const[]){ "--kernel", "--initrd", "--cmdline",
							   "--memory", "--cpus", "--flat",
							   "--debug-exit", "--irqchip", "--stats",
							   NULL };
	     *o; o++)
		cr_assert_not_null(strstr(buf, *o), "run --help does not mention %s", *o);
	free(buf);
}
