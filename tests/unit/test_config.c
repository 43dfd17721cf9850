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

Test(cli, virtio_discovery)
{
	enum cli_action a;
	const char *names[] = { "both", "acpi" };
	const enum virtio_discovery modes[] = { VIRTIO_DISCOVERY_BOTH, VIRTIO_DISCOVERY_ACPI };

	cr_assert_eq(PARSE(&a, "run", "-k", "x"), 0, "%s", err);
	cr_assert_eq(cfg.virtio_discovery, VIRTIO_DISCOVERY_BOTH, "the default");
	for (int i = 0; i < 2; i++) {
		char opt[64];

		snprintf(opt, sizeof(opt), "--virtio-discovery=%s", names[i]);
		cr_assert_eq(PARSE(&a, "run", "-k", "x", opt), 0, "%s", err);
		cr_assert_eq(cfg.virtio_discovery, modes[i], "%s", opt);
	}
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--virtio-discovery", "cmdline"), -EINVAL);
	assert_msg_has("--virtio-discovery: 'cmdline' is not a mode (both or acpi)");
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
							   "--virtio-discovery", NULL };
	     *o; o++)
		cr_assert_not_null(strstr(buf, *o), "run --help does not mention %s", *o);
	free(buf);
}

/* ---- config_parse_mac, config_parse_net ---------------------------------------------------- */

static struct vmm_net net;
static char *net_storage;

static void net_setup(void)
{
	memset(&net, 0x5a, sizeof(net));
	net_storage = NULL;
	memset(err, 0, sizeof(err));
}

static void net_teardown(void)
{
	free(net_storage);
	net_storage = NULL;
}

TestSuite(parse_net, .init = net_setup, .fini = net_teardown);

static void net_ok(const char *arg, unsigned int index)
{
	free(net_storage);
	net_storage = NULL;
	cr_assert_eq(config_parse_net(arg, index, &net, &net_storage, err, sizeof(err)), 0, "'%s': %s",
		     arg, err);
	cr_assert_not_null(net_storage);
}

/* A refused argument: one line that names --net and `part` (the bad value), nothing to free. */
static void net_bad(const char *arg, const char *part)
{
	free(net_storage);
	net_storage = NULL;
	memset(err, 0, sizeof(err));
	cr_assert_eq(config_parse_net(arg, 0, &net, &net_storage, err, sizeof(err)), -EINVAL,
		     "'%s' accepted", arg);
	cr_assert_null(net_storage, "'%s': nothing to free after an error", arg);
	cr_assert_null(net.id, "'%s': the interface is cleared on error", arg);
	cr_assert_null(strchr(err, '\n'), "'%s': one line: %s", arg, err);
	cr_assert_not_null(strstr(err, "--net"), "'%s': '%s' does not name --net", arg, err);
	cr_assert_not_null(strstr(err, part), "'%s': message '%s' lacks \"%s\"", arg, err, part);
}

Test(parse_net, mac_addresses)
{
	uint8_t mac[6] = { 1, 2, 3, 4, 5, 6 };
	static const char *const bad[] = { "", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00",
					   "aa-bb-cc-dd-ee-ff", "aabbccddeeff", "g0:00:00:00:00:00",
					   "a:bb:cc:dd:ee:ff0", " aa:bb:cc:dd:ee:f", "aa:bb:cc:dd:ee:f ",
					   "0x:bb:cc:dd:ee:ff" };

	cr_assert_eq(config_parse_mac("aa:FC:00:10:9b:02", mac), 0);
	cr_assert_eq(memcmp(mac, (uint8_t[]){ 0xaa, 0xfc, 0x00, 0x10, 0x9b, 0x02 }, 6), 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		cr_assert_eq(config_parse_mac(bad[i], mac), -EINVAL, "'%s' accepted", bad[i]);
		cr_assert_eq(mac[0], 0xaa, "'%s': output written on error", bad[i]);
	}
	cr_assert_eq(config_parse_mac(NULL, mac), -EINVAL);
	cr_assert_eq(config_parse_mac("01:00:5e:00:00:01", mac), 0, "syntax only: multicast parses");
	cr_assert_str_eq(config_bad_mac(mac), "is a multicast address");
	cr_assert_eq(config_parse_mac("00:00:00:00:00:00", mac), 0);
	cr_assert_str_eq(config_bad_mac(mac), "is all zeros");
	cr_assert_eq(config_parse_mac("02:00:00:00:00:01", mac), 0);
	cr_assert_null(config_bad_mac(mac), "locally administered unicast is fine");
}

Test(parse_net, tap_defaults_and_index)
{
	net_ok("tap=tap0", 0);
	cr_assert_str_eq(net.id, "eth0");
	cr_assert_eq(net.backend, NET_BACKEND_TAP);
	cr_assert_str_eq(net.tap, "tap0");
	cr_assert_not(net.has_mac);
	cr_assert_eq(net.mtu, 0, "0: the default MTU");
	cr_assert_eq(net.nr_hostfwd, 0);
	net_ok("tap=fc-tap7", 3);
	cr_assert_str_eq(net.id, "eth3");
	cr_assert_str_eq(net.tap, "fc-tap7");
}

Test(parse_net, tap_every_option)
{
	net_ok("tap=tap1,mac=AA:FC:00:00:00:01,mtu=9000", 1);
	cr_assert(net.has_mac);
	cr_assert_eq(memcmp(net.mac, (uint8_t[]){ 0xaa, 0xfc, 0, 0, 0, 1 }, 6), 0);
	cr_assert_eq(net.mtu, 9000);
	net_ok("tap=t,mtu=68,,mtu=65535", 0);
	cr_assert_eq(net.mtu, 65535, "the last one wins; empty options are skipped");
}

Test(parse_net, argument_is_copied)
{
	char arg[] = "tap=tap0,mac=06:00:00:00:00:01";

	net_ok(arg, 0);
	memset(arg, 'Z', sizeof(arg) - 1);
	cr_assert_str_eq(net.tap, "tap0");
	cr_assert_str_eq(net.id, "eth0");
}

Test(parse_net, tap_names)
{
	net_ok("tap=012345678901234", 0);
	cr_assert_eq(strlen(net.tap), 15, "IFNAMSIZ - 1 bytes fit");
	net_bad("tap=0123456789012345", "TAP name '0123456789012345' is longer than 15 bytes");
	net_bad("tap=", "TAP name '' is empty");
	net_bad("tap", "no TAP name");
	net_bad("tap=a/b", "TAP name 'a/b'");
	net_bad("tap=a b", "TAP name 'a b'");
	net_bad("tap=a\tb", "TAP name");
	net_bad("tap=eth0:1", "TAP name 'eth0:1'");
	net_bad("tap=..", "TAP name '..'");
}

Test(parse_net, user_defaults)
{
	net_ok("user", 2);
	cr_assert_str_eq(net.id, "eth2");
	cr_assert_eq(net.backend, NET_BACKEND_USER);
	cr_assert_null(net.tap);
	cr_assert_eq(net.user_net, 0x0a000200, "10.0.2.0");
	cr_assert_eq(net.user_prefix, 24);
	cr_assert_eq(net.nr_hostfwd, 0);
}

Test(parse_net, user_every_option)
{
	net_ok("user,net=192.168.76.0/22,hostfwd=tcp::2222-:22,"
	       "hostfwd=udp:127.0.0.1:5353-192.168.76.15:53,hostfwd=:0.0.0.0:8080-:80,"
	       "mac=52:54:00:12:34:56,mtu=1400", 0);
	cr_assert_eq(net.user_net, 0xc0a84c00);
	cr_assert_eq(net.user_prefix, 22);
	cr_assert_eq(net.nr_hostfwd, 3);
	cr_assert_not(net.hostfwd[0].udp);
	cr_assert_eq(net.hostfwd[0].host_addr, 0, "empty HOSTADDR: any");
	cr_assert_eq(net.hostfwd[0].host_port, 2222);
	cr_assert_eq(net.hostfwd[0].guest_port, 22);
	cr_assert(net.hostfwd[1].udp);
	cr_assert_eq(net.hostfwd[1].host_addr, 0x7f000001);
	cr_assert_eq(net.hostfwd[1].host_port, 5353);
	cr_assert_eq(net.hostfwd[1].guest_port, 53);
	cr_assert_not(net.hostfwd[2].udp, "an empty protocol is tcp, as QEMU");
	cr_assert_eq(net.hostfwd[2].host_port, 8080);
	cr_assert(net.has_mac);
	cr_assert_eq(net.mac[5], 0x56);
	cr_assert_eq(net.mtu, 1400);
}

Test(parse_net, guest_address_is_checked_against_net)
{
	net_ok("user,hostfwd=tcp::2222-10.0.2.15:22", 0);
	net_ok("user,hostfwd=tcp::2222-192.168.0.15:22,net=192.168.0.0/24", 0);
	cr_assert_eq(net.user_net, 0xc0a80000, "net= after hostfwd= still counts");
	net_bad("user,hostfwd=tcp::2222-10.0.3.15:22", "guest address 10.0.3.15 is outside net "
						       "10.0.2.0/24");
	net_bad("user,net=192.168.0.0/24,hostfwd=tcp::2222-10.0.2.15:22", "10.0.2.15 is outside");
	net_bad("user,hostfwd=tcp::2222-10.0.2.20:22", "guest address 10.0.2.20 is not the guest's "
						       "DHCP address 10.0.2.15");
	net_bad("user,hostfwd=tcp::2222-guest:22", "guest address 'guest'");
}

Test(parse_net, hostfwd_limit)
{
	char arg[512] = "user";

	for (unsigned int i = 0; i < CONFIG_MAX_HOSTFWD; i++)
		sprintf(arg + strlen(arg), ",hostfwd=tcp::%u-:22", 2000 + i);
	net_ok(arg, 0);
	cr_assert_eq(net.nr_hostfwd, CONFIG_MAX_HOSTFWD);
	strcat(arg, ",hostfwd=tcp::3000-:22");
	net_bad(arg, "hostfwd 'tcp::3000-:22': more than 8 forwards");
}

Test(parse_net, each_bad_part_is_named)
{
	static const struct {
		const char *arg, *part;
	} cases[] = {
		{ "tap=x,mtu=10", "mtu '10' is out of range (68 to 65535)" },
		{ "tap=x,mtu=67", "mtu '67'" },
		{ "tap=x,mtu=65536", "mtu '65536'" },
		{ "tap=x,mtu=abc", "mtu 'abc' is not a number" },
		{ "tap=x,mtu=", "mtu ''" },
		{ "tap=x,mac=01:00:5e:00:00:01", "mac '01:00:5e:00:00:01' is a multicast address" },
		{ "tap=x,mac=ff:ff:ff:ff:ff:ff", "multicast" },
		{ "tap=x,mac=00:00:00:00:00:00", "is all zeros" },
		{ "tap=x,mac=zz", "mac 'zz' is not a MAC address" },
		{ "bogus", "'bogus' is not a backend" },
		{ "user=x", "'user=x' is not a backend" },
		{ "", "no backend" },
		{ ",tap=x", "no backend" },
		{ "tap=x,net=10.0.0.0/8", "unknown option 'net=10.0.0.0/8'" },
		{ "tap=x,hostfwd=tcp::1-:2", "unknown option 'hostfwd=tcp::1-:2'" },
		{ "user,bogus", "--net user: unknown option 'bogus'" },
		{ "user,net=10.0.2.0", "net '10.0.2.0' is not A.B.C.D/PREFIX" },
		{ "user,net=10.0.2/24", "'10.0.2' is not an IPv4 address" },
		{ "user,net=10.0.0.0/7", "prefix '7' is out of range (8 to 27)" },
		{ "user,net=10.0.0.0/31", "prefix '31'" },
		{ "user,net=10.0.0.0/x", "prefix 'x' is not a number" },
		{ "user,net=10.0.2.1/24", "net '10.0.2.1/24' has host bits set (the network is "
					  "10.0.2.0/24)" },
		{ "user,hostfwd=tcp::0-:22", "hostfwd 'tcp::0-:22': host port '0'" },
		{ "user,hostfwd=tcp::65536-:22", "host port '65536'" },
		{ "user,hostfwd=tcp::x-:22", "host port 'x'" },
		{ "user,hostfwd=tcp::2222-:0", "guest port '0'" },
		{ "user,hostfwd=tcp::2222-:", "guest port ''" },
		{ "user,hostfwd=sctp::1-:2", "protocol 'sctp' is not tcp or udp" },
		{ "user,hostfwd=tcp:1.2.3.4.5:1-:2", "host address '1.2.3.4.5'" },
		{ "user,hostfwd=tcp::1-:2:3", "hostfwd 'tcp::1-:2:3' is not [tcp|udp]:" },
		{ "user,hostfwd=tcp::1:2", "hostfwd 'tcp::1:2'" },
		{ "user,hostfwd=2222-:22", "hostfwd '2222-:22'" },
		{ "user,hostfwd=", "hostfwd ''" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		net_bad(cases[i].arg, cases[i].part);
}

/* ---- config_parse_vsock --------------------------------------------------------------------- */

static struct vmm_vsock vsock;
static char *vsock_storage;

static void vsock_setup(void)
{
	memset(&vsock, 0x5a, sizeof(vsock));
	vsock_storage = NULL;
	memset(err, 0, sizeof(err));
}

static void vsock_teardown(void)
{
	free(vsock_storage);
	vsock_storage = NULL;
}

TestSuite(parse_vsock, .init = vsock_setup, .fini = vsock_teardown);

static void vsock_ok(const char *arg, uint32_t cid, const char *uds)
{
	free(vsock_storage);
	vsock_storage = NULL;
	cr_assert_eq(config_parse_vsock(arg, &vsock, &vsock_storage, err, sizeof(err)), 0,
		     "'%s': %s", arg, err);
	cr_assert_not_null(vsock_storage);
	cr_assert_str_eq(vsock.id, "vsock0", "'%s'", arg);
	cr_assert_eq(vsock.guest_cid, cid, "'%s': cid %u", arg, vsock.guest_cid);
	cr_assert_str_eq(vsock.uds_path, uds, "'%s'", arg);
}

/* A refused argument: exactly `msg`, one line, nothing to free, the device cleared. */
static void vsock_bad(const char *arg, const char *msg)
{
	free(vsock_storage);
	vsock_storage = NULL;
	memset(&vsock, 0x5a, sizeof(vsock));
	memset(err, 0, sizeof(err));
	cr_assert_eq(config_parse_vsock(arg, &vsock, &vsock_storage, err, sizeof(err)), -EINVAL,
		     "'%s' accepted", arg);
	cr_assert_null(vsock_storage, "'%s': nothing to free after an error", arg);
	cr_assert_null(vsock.id, "'%s': the device is cleared on error", arg);
	cr_assert_null(vsock.uds_path, "'%s': the device is cleared on error", arg);
	cr_assert_eq(vsock.guest_cid, 0, "'%s': the device is cleared on error", arg);
	cr_assert_null(strchr(err, '\n'), "'%s': one line: %s", arg, err);
	cr_assert_str_eq(err, msg, "'%s'", arg);
}

Test(parse_vsock, good)
{
	vsock_ok("cid=3,uds=/tmp/v.sock", 3, "/tmp/v.sock");
	vsock_ok("uds=./v.sock,cid=52", 52, "./v.sock");
	vsock_ok("cid=4294967294,uds=v", 0xfffffffe, "v");
	vsock_ok("cid=0003,uds=v", 3, "v"); /* leading zeros are still decimal */
}

Test(parse_vsock, argument_is_copied)
{
	char arg[] = "cid=7,uds=/run/v.sock";

	vsock_ok(arg, 7, "/run/v.sock");
	memset(arg, 'x', sizeof(arg) - 1);
	cr_assert_str_eq(vsock.uds_path, "/run/v.sock");
	cr_assert_str_eq(vsock.id, "vsock0");
}

Test(parse_vsock, uds_length)
{
	char path[CONFIG_VSOCK_UDS_MAX + 2], arg[CONFIG_VSOCK_UDS_MAX + 16];

	/* 96 bytes, then "_4294967295" and the NUL: exactly sun_path's 108. */
	memset(path, 'p', CONFIG_VSOCK_UDS_MAX);
	path[0] = '/';
	path[CONFIG_VSOCK_UDS_MAX] = '\0';
	snprintf(arg, sizeof(arg), "cid=3,uds=%s", path);
	vsock_ok(arg, 3, path);
	cr_assert_eq(strlen(path) + strlen("_4294967295") + 1, 108);
	path[CONFIG_VSOCK_UDS_MAX] = 'p';
	path[CONFIG_VSOCK_UDS_MAX + 1] = '\0';
	snprintf(arg, sizeof(arg), "cid=3,uds=%s", path);
	free(vsock_storage);
	vsock_storage = NULL;
	cr_assert_eq(config_parse_vsock(arg, &vsock, &vsock_storage, err, sizeof(err)), -EINVAL,
		     "97 bytes accepted");
	cr_assert_null(vsock_storage);
	assert_msg_has("--vsock: uds '/ppp");
	assert_msg_has("' is longer than 96 bytes (the guest's connections go to <uds>_<port>, which "
		       "must fit a Unix socket address)");
}

Test(parse_vsock, long_path_keeps_the_reason)
{
	char arg[400] = "cid=3,uds=/";

	memset(arg + strlen(arg), 'q', 300);
	free(vsock_storage);
	vsock_storage = NULL;
	cr_assert_eq(config_parse_vsock(arg, &vsock, &vsock_storage, err, sizeof(err)), -EINVAL);
	assert_msg_has("qqq...' is longer than 96 bytes");
	assert_msg_has("must fit a Unix socket address)");
}

Test(parse_vsock, each_bad_part_is_named)
{
	static const char reserved[] =
		"is reserved (0: hypervisor, 1: local, 2: host; a guest has 3 to 4294967294)";
	static const struct {
		const char *arg, *msg;
	} cases[] = {
		{ "cid=0,uds=/v", "--vsock: cid '0' " },
		{ "cid=1,uds=/v", "--vsock: cid '1' " },
		{ "cid=2,uds=/v", "--vsock: cid '2' " },
		{ "cid=4294967295,uds=/v",
		  "--vsock: cid '4294967295' is out of range (3 to 4294967294)" },
		{ "cid=4294967296,uds=/v",
		  "--vsock: cid '4294967296' is out of range (3 to 4294967294)" },
		{ "cid=99999999999999999999999,uds=/v",
		  "--vsock: cid '99999999999999999999999' is out of range (3 to 4294967294)" },
		{ "cid=0x3,uds=/v", "--vsock: cid '0x3' is not a decimal number (3 to 4294967294)" },
		{ "cid=three,uds=/v",
		  "--vsock: cid 'three' is not a decimal number (3 to 4294967294)" },
		{ "cid=-3,uds=/v", "--vsock: cid '-3' is not a decimal number (3 to 4294967294)" },
		{ "cid=+3,uds=/v", "--vsock: cid '+3' is not a decimal number (3 to 4294967294)" },
		{ "cid= 3,uds=/v", "--vsock: cid ' 3' is not a decimal number (3 to 4294967294)" },
		{ "cid=3x,uds=/v", "--vsock: cid '3x' is not a decimal number (3 to 4294967294)" },
		{ "cid=,uds=/v", "--vsock: cid '' is not a decimal number (3 to 4294967294)" },
		{ "cid=3,uds=", "--vsock: uds '' is empty" },
		{ "cid=3", "--vsock 'cid=3': no uds= (cid=N,uds=PATH)" },
		{ "uds=/v", "--vsock 'uds=/v': no cid= (cid=N,uds=PATH)" },
		{ "", "--vsock '': no cid= (cid=N,uds=PATH)" },
		{ ",", "--vsock ',': no cid= (cid=N,uds=PATH)" },
		{ "cid=3,cid=4,uds=/v", "--vsock: cid given twice ('3' and '4')" },
		{ "cid=3,uds=/a,uds=/b", "--vsock: uds given twice ('/a' and '/b')" },
		{ "cid=3,uds=/v,port=52", "--vsock: unknown option 'port=52' (cid=N,uds=PATH)" },
		{ "3,uds=/v", "--vsock: unknown option '3' (cid=N,uds=PATH)" },
		{ "CID=3,uds=/v", "--vsock: unknown option 'CID=3' (cid=N,uds=PATH)" },
		{ "cid=3,path=/v", "--vsock: unknown option 'path=/v' (cid=N,uds=PATH)" },
	};
	char msg[CONFIG_ERR_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n = strlen(cases[i].msg);

		/* The reserved CIDs share their reason. */
		snprintf(msg, sizeof(msg), "%s%s", cases[i].msg,
			 cases[i].msg[n - 1] == ' ' ? reserved : "");
		vsock_bad(cases[i].arg, msg);
	}
}

Test(parse_vsock, bad_cid_and_uds_helpers)
{
	cr_assert_not_null(config_bad_vsock_cid(-1));
	cr_assert_not_null(config_bad_vsock_cid(0));
	cr_assert_not_null(config_bad_vsock_cid(2));
	cr_assert_null(config_bad_vsock_cid(3));
	cr_assert_null(config_bad_vsock_cid(0xfffffffe));
	cr_assert_not_null(config_bad_vsock_cid(0xffffffff));
	cr_assert_not_null(config_bad_vsock_cid(1ll << 40));
	cr_assert_str_eq(config_bad_vsock_uds(NULL), "is empty");
	cr_assert_str_eq(config_bad_vsock_uds(""), "is empty");
	cr_assert_null(config_bad_vsock_uds("v.sock"));
}

/* ---- config_validate: the vsock device ------------------------------------------------------ */

Test(validate, vsock)
{
	cfg.has_vsock = true;
	cfg.vsock = (struct vmm_vsock){ .id = "vsock0", .guest_cid = 3, .uds_path = "/tmp/v.sock" };
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	cfg.vsock.guest_cid = 2;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "cid 2");
	cr_assert_str_eq(err, "--vsock vsock0: cid 2 is reserved (0: hypervisor, 1: local, 2: host; a "
			      "guest has 3 to 4294967294)");
	cfg.vsock.guest_cid = 0xffffffff;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "cid 0xffffffff");
	cr_assert_str_eq(err, "--vsock vsock0: cid 4294967295 is out of range (3 to 4294967294)");
	cfg.vsock.guest_cid = 0xfffffffe;
	cfg.vsock.uds_path = "";
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "empty uds");
	cr_assert_str_eq(err, "--vsock vsock0: uds '' is empty");
	cfg.vsock.uds_path = NULL;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "no uds");
	cr_assert_str_eq(err, "--vsock vsock0: uds '' is empty");
	cfg.vsock.uds_path = "/tmp/v.sock";
	cfg.vsock.id = "";
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "empty id");
	cr_assert_str_eq(err, "--vsock: id '' must be 1 to 64 bytes");
	cfg.vsock.id = NULL;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "no id");
	cfg.has_vsock = false;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "without has_vsock the rest is not "
		     "looked at: %s", err);
}

Test(validate, vsock_uds_97_bytes)
{
	static char path[CONFIG_VSOCK_UDS_MAX + 2];

	memset(path, 'p', CONFIG_VSOCK_UDS_MAX);
	cfg.has_vsock = true;
	cfg.vsock = (struct vmm_vsock){ .id = "v", .guest_cid = 3, .uds_path = path };
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "96 bytes: %s", err);
	path[CONFIG_VSOCK_UDS_MAX] = 'p';
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "97 bytes");
	assert_msg_has("--vsock v: uds 'ppp");
	assert_msg_has("is longer than 96 bytes");
}

/* ---- config_validate: network interfaces ---------------------------------------------------- */

static struct vmm_net *add_net(const char *id, enum net_backend_kind backend, const char *tap)
{
	struct vmm_net *n = &cfg.nets[cfg.nr_nets++];

	*n = (struct vmm_net){ .id = id, .backend = backend, .tap = tap };
	if (backend == NET_BACKEND_USER) {
		n->user_net = 0x0a000200;
		n->user_prefix = 24;
	}
	return n;
}

static struct vmm_hostfwd *add_fwd(struct vmm_net *n, bool udp, uint32_t addr, uint16_t port)
{
	struct vmm_hostfwd *f = &n->hostfwd[n->nr_hostfwd++];

	*f = (struct vmm_hostfwd){ .udp = udp, .host_addr = addr, .host_port = port,
				   .guest_port = 22 };
	return f;
}

#define assert_invalid(msg)                                                                  \
	do {                                                                                 \
		cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "accepted");  \
		cr_assert_str_eq(err, (msg));                                                \
	} while (0)

Test(validate, nets_distinct)
{
	struct vmm_net *n;

	add_net("eth0", NET_BACKEND_TAP, "tap0");
	n = add_net("eth1", NET_BACKEND_TAP, "tap1");
	n->has_mac = true;
	memcpy(n->mac, (uint8_t[]){ 6, 0, 0, 0, 0, 1 }, 6);
	n = add_net("eth2", NET_BACKEND_USER, NULL);
	add_fwd(n, false, 0, 2222);
	add_fwd(n, true, 0, 2222);                  /* udp and tcp ports are apart */
	add_fwd(n, false, 0x7f000001, 8080);
	add_fwd(n, false, 0x7f000002, 8080);        /* two host addresses, one port */
	n = add_net("eth3", NET_BACKEND_USER, NULL);
	n->has_mac = true;
	memcpy(n->mac, (uint8_t[]){ 6, 0, 0, 0, 0, 2 }, 6);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_nr_virtio(&cfg), 4);
}

Test(validate, nets_at_most_8)
{
	static const char *const ids[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };

	for (unsigned int i = 0; i < CONFIG_MAX_NETS; i++)
		add_net(ids[i], NET_BACKEND_USER, NULL);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "8 interfaces fit: %s", err);
	cfg.nr_nets = CONFIG_MAX_NETS + 1; /* a caller that overran the array */
	assert_invalid("--net: 9 network interfaces, at most 8");
}

Test(validate, nets_count_in_the_virtio_total)
{
	cfg.nr_disks = CONFIG_MAX_DISKS - 2;
	for (unsigned int i = 0; i < cfg.nr_disks; i++)
		cfg.disks[i] = (struct vmm_disk){ .path = "d.img" };
	add_net("eth0", NET_BACKEND_USER, NULL);
	add_net("eth1", NET_BACKEND_TAP, "tap0");
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "14 disks and 2 nets: %s", err);
	cfg.rng = true;
	assert_invalid("--disk/--net: 17 virtio devices, at most 16 (disks, console, rng and network "
		       "interfaces together)");
}

Test(validate, net_ids)
{
	static char id64[CONFIG_NET_ID_MAX + 2];

	memset(id64, 'i', CONFIG_NET_ID_MAX);
	add_net(id64, NET_BACKEND_USER, NULL);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "a 64-byte id: %s", err);
	id64[CONFIG_NET_ID_MAX] = 'i';
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "a 65-byte id");
	assert_msg_has("must be 1 to 64 bytes");
	cfg.nets[0].id = "";
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "an empty id");
	cfg.nets[0].id = NULL;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "no id");
	assert_msg_has("interface 0");
	cfg.nets[0].id = "net0";
	add_net("net1", NET_BACKEND_TAP, "tap0");
	add_net("net0", NET_BACKEND_TAP, "tap1");
	assert_invalid("--net: id 'net0' is used twice");
}

Test(validate, net_tap_used_twice)
{
	add_net("eth0", NET_BACKEND_TAP, "tap0");
	add_net("eth1", NET_BACKEND_USER, NULL);
	add_net("eth2", NET_BACKEND_TAP, "tap0");
	assert_invalid("--net eth2: TAP 'tap0' is also used by eth0");
}

Test(validate, net_mac_used_twice)
{
	struct vmm_net *a = add_net("eth0", NET_BACKEND_TAP, "tap0");
	struct vmm_net *b = add_net("eth1", NET_BACKEND_USER, NULL);

	a->has_mac = b->has_mac = true;
	memcpy(a->mac, (uint8_t[]){ 0xaa, 0xfc, 0, 0, 0, 1 }, 6);
	memcpy(b->mac, a->mac, 6);
	assert_invalid("--net eth1: mac aa:fc:00:00:00:01 is also used by eth0");
}

/* What the API fills without config_parse_net() is checked again. */
Test(validate, net_parts_from_elsewhere)
{
	struct vmm_net *n = add_net("eth0", NET_BACKEND_TAP, "tap/0");

	assert_invalid("--net eth0: TAP name 'tap/0' contains '/', ':' or whitespace");
	n->tap = NULL;
	assert_invalid("--net eth0: TAP name '' is empty");
	n->tap = "tap0";
	n->has_mac = true;
	n->mac[0] = 0x01;
	assert_invalid("--net eth0: mac 01:00:00:00:00:00 is a multicast address");
	n->mac[0] = 0x02;
	n->mtu = 67;
	assert_invalid("--net eth0: mtu 67 is out of range (68 to 65535)");
	n->mtu = 68;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	n->backend = (enum net_backend_kind)7;
	assert_invalid("--net eth0: unknown backend 7");
}

Test(validate, user_net_parts)
{
	struct vmm_net *n = add_net("eth0", NET_BACKEND_USER, NULL);

	n->user_prefix = 31;
	assert_invalid("--net eth0: net prefix 31 is out of range (8 to 27)");
	n->user_prefix = 24;
	n->user_net = 0x0a000201;
	assert_invalid("--net eth0: net 10.0.2.1/24 has host bits set");
	n->user_net = 0x0a000200;
	add_fwd(n, false, 0, 0);
	assert_invalid("--net eth0: hostfwd 0 has port 0");
	n->nr_hostfwd = CONFIG_MAX_HOSTFWD + 1;
	assert_invalid("--net eth0: 9 hostfwd rules, at most 8");
}

Test(validate, host_port_forwarded_twice)
{
	struct vmm_net *a = add_net("eth0", NET_BACKEND_USER, NULL);
	struct vmm_net *b;

	add_fwd(a, false, 0x7f000001, 2222);
	add_fwd(a, false, 0, 2222);
	assert_invalid("--net eth0: host port 2222/tcp is forwarded twice (also by eth0)");
	a->nr_hostfwd = 1;
	b = add_net("eth1", NET_BACKEND_USER, NULL);
	add_fwd(b, false, 0x7f000001, 2222);
	assert_invalid("--net eth1: host port 2222/tcp is forwarded twice (also by eth0)");
	b->hostfwd[0].udp = true;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

/* ---- cli_parse: --net ------------------------------------------------------------------------ */

Test(cli, net_interfaces_in_order)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--net", "tap=tap0,mac=06:00:ac:10:00:02",
			   "--net=user,hostfwd=tcp::2222-:22", "--net", "tap=tap1,mtu=9000"),
		     0, "%s", err);
	cr_assert_eq(cfg.nr_nets, 3);
	cr_assert_str_eq(cfg.nets[0].id, "eth0");
	cr_assert_str_eq(cfg.nets[0].tap, "tap0");
	cr_assert(cfg.nets[0].has_mac);
	cr_assert_str_eq(cfg.nets[1].id, "eth1");
	cr_assert_eq(cfg.nets[1].backend, NET_BACKEND_USER);
	cr_assert_eq(cfg.nets[1].hostfwd[0].host_port, 2222);
	cr_assert_str_eq(cfg.nets[2].id, "eth2");
	cr_assert_eq(cfg.nets[2].mtu, 9000);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(PARSE(&a, "run", "-k", "x"), 0, "%s", err);
	cr_assert_eq(cfg.nr_nets, 0, "each parse starts without interfaces");
}

Test(cli, net_errors)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--net", "tap="), -EINVAL);
	assert_msg_has("--net tap=: TAP name '' is empty");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--net", "tap=x,mtu=10"), -EINVAL);
	assert_msg_has("mtu '10'");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--net", "bogus"), -EINVAL);
	assert_msg_has("'bogus'");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--net"), -EINVAL);
	assert_msg_has("missing value");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--net", "tap=a", "--net", "tap=a"), 0, "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "the same TAP twice");
	assert_msg_has("TAP 'a' is also used by eth0");
	cr_assert_eq(PARSE(&a, "--api-sock", "s", "--net", "tap=a"), -EINVAL);
	assert_msg_has("--net: only with 'kiln run'");
}

Test(cli, net_at_most_8)
{
	char *argv[32] = { "kiln", "run", "-k", "x" };
	int argc = 4;
	enum cli_action a;

	for (unsigned int i = 0; i <= CONFIG_MAX_NETS; i++) {
		argv[argc++] = "--net";
		argv[argc++] = "user";
	}
	config_init(&cfg);
	cr_assert_eq(cli_parse(argc, argv, &cfg, &copts, &a, &verbosity, err, sizeof(err)), -EINVAL);
	assert_msg_has("--net user: more than 8 network interfaces");
	config_init(&cfg);
	cr_assert_eq(cli_parse(argc - 2, argv, &cfg, &copts, &a, &verbosity, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(cfg.nr_nets, CONFIG_MAX_NETS);
}

Test(cli, help_text_mentions_net)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_print_run_help(f);
	fclose(f);
	cr_assert_not_null(strstr(buf, "--net tap=NAME[,mac=MAC][,mtu=N]\n"));
	cr_assert_not_null(strstr(buf, "--net user[,net=A.B.C.D/P][,hostfwd="));
	cr_assert_not_null(strstr(buf, "convenience and development, TAP for performance"));
	free(buf);
}

/* ---- cli_parse: --vsock ---------------------------------------------------------------------- */

Test(cli, vsock)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--vsock", "cid=3,uds=/tmp/v.sock"), 0, "%s", err);
	cr_assert(cfg.has_vsock);
	cr_assert_str_eq(cfg.vsock.id, "vsock0");
	cr_assert_eq(cfg.vsock.guest_cid, 3);
	cr_assert_str_eq(cfg.vsock.uds_path, "/tmp/v.sock");
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--vsock=uds=v,cid=99"), 0, "%s", err);
	cr_assert_eq(cfg.vsock.guest_cid, 99);
	cr_assert_eq(PARSE(&a, "run", "-k", "x"), 0, "%s", err);
	cr_assert_not(cfg.has_vsock, "each parse starts without a vsock device");
}

Test(cli, vsock_errors)
{
	enum cli_action a;

	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--vsock", "cid=2,uds=/v"), -EINVAL);
	assert_msg_has("--vsock: cid '2' is reserved");
	cr_assert_not(cfg.has_vsock);
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--vsock", "cid=3"), -EINVAL);
	assert_msg_has("--vsock 'cid=3': no uds=");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--vsock"), -EINVAL);
	assert_msg_has("--vsock: missing value");
	cr_assert_eq(PARSE(&a, "run", "-k", "x", "--vsock", "cid=3,uds=/a", "--vsock", "cid=4,uds=/b"),
		     -EINVAL);
	cr_assert_str_eq(err, "--vsock cid=4,uds=/b: given twice (one vsock device at most)");
	cr_assert_eq(PARSE(&a, "--api-sock", "s", "--vsock", "cid=3,uds=/v"), -EINVAL);
	assert_msg_has("--vsock: only with 'kiln run'");
}

Test(cli, help_text_mentions_vsock)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_print_run_help(f);
	fclose(f);
	cr_assert_not_null(strstr(buf, "--vsock cid=N,uds=PATH"));
	cr_assert_not_null(strstr(buf, "3 to 4294967294"));
	free(buf);
}
