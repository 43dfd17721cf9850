/* test_virtio_config.c: --disk parsing (config_parse_disk) and the virtio checks of
 * config_validate (src/config.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct vmm_disk d;
static char *storage;
static char err[CONFIG_ERR_MAX];

static void setup(void)
{
	memset(&d, 0x5a, sizeof(d));
	storage = NULL;
	memset(err, 0, sizeof(err));
}

static void teardown(void) { free(storage); }

TestSuite(parse_disk, .init = setup, .fini = teardown);
TestSuite(validate_disks, .init = setup, .fini = teardown);

#define assert_err(needle) \
	cr_assert_not_null(strstr(err, (needle)), "expected \"%s\" in '%s'", (needle), err)

static void parse_ok(const char *arg)
{
	free(storage);
	storage = NULL;
	cr_assert_eq(config_parse_disk(arg, &d, &storage, err, sizeof(err)), 0, "'%s': %s", arg, err);
	cr_assert_not_null(storage);
}

static void parse_bad(const char *arg)
{
	free(storage);
	storage = NULL;
	memset(err, 0, sizeof(err));
	cr_assert_eq(config_parse_disk(arg, &d, &storage, err, sizeof(err)), -EINVAL, "'%s' should fail", arg);
	cr_assert_null(storage, "nothing to free after an error");
	cr_assert_null(d.path, "the disk is cleared on error");
	cr_assert_neq(err[0], 0, "an error message");
	cr_assert_null(strchr(err, '\n'), "one line");
}

Test(parse_disk, path_only_gives_defaults)
{
	parse_ok("disk.img");
	cr_assert_str_eq(d.path, "disk.img");
	cr_assert_null(d.id);
	cr_assert_not(d.ro);
	cr_assert_eq(d.cache, DISK_CACHE_WRITEBACK);
	cr_assert_eq(d.io, DISK_IO_AUTO);
}

Test(parse_disk, every_option)
{
	parse_ok("/var/img/root.raw,ro,id=rootfs,cache=none,io=io_uring");
	cr_assert_str_eq(d.path, "/var/img/root.raw");
	cr_assert(d.ro);
	cr_assert_str_eq(d.id, "rootfs");
	cr_assert_eq(d.cache, DISK_CACHE_NONE);
	cr_assert_eq(d.io, DISK_IO_URING);

	parse_ok("a,io=sync,cache=writeback");
	cr_assert_eq(d.io, DISK_IO_SYNC);
	cr_assert_eq(d.cache, DISK_CACHE_WRITEBACK);
	parse_ok("a,io=sync,io=auto");
	cr_assert_eq(d.io, DISK_IO_AUTO, "the last one wins");
	parse_ok("a,cache=none,cache=writeback");
	cr_assert_eq(d.cache, DISK_CACHE_WRITEBACK);
	parse_ok("a,ro,rw");
	cr_assert_not(d.ro);
	parse_ok("a,rw,ro");
	cr_assert(d.ro);
}

Test(parse_disk, argument_is_copied)
{
	char arg[] = "img,id=x";

	parse_ok(arg);
	memset(arg, 'Z', sizeof(arg) - 1);
	cr_assert_str_eq(d.path, "img");
	cr_assert_str_eq(d.id, "x");
	cr_assert_geq(d.path, storage);
	cr_assert_lt(d.path, storage + sizeof(arg));
}

Test(parse_disk, id_of_20_bytes)
{
	parse_ok("img,id=01234567890123456789");
	cr_assert_str_eq(d.id, "01234567890123456789");
	cr_assert_eq(strlen(d.id), CONFIG_DISK_ID_MAX);
}

Test(parse_disk, id_longer_than_20)
{
	parse_bad("img,id=012345678901234567890");
	cr_assert_str_eq(err, "--disk img: id '012345678901234567890' is longer than 20 bytes");
}

Test(parse_disk, empty_path)
{
	parse_bad("");
	assert_err("no image path");
	parse_bad(",ro");
	cr_assert_str_eq(err, "--disk ',ro': no image path (PATH[,ro][,id=NAME]"
			      "[,cache=none|writeback][,io=auto|io_uring|sync])");
}

Test(parse_disk, unknown_options)
{
	static const char *const bad[] = { "img,rox",      "img,RO",         "img,cache=",
					   "img,cache=directsync", "img,io=aio", "img,id=",
					   "img,id",       "img,=x",         "img,foo=bar" };

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_bad(bad[i]);
		assert_err("unknown option");
		assert_err("--disk img:");
	}
	parse_bad("img,ro,bogus");
	cr_assert_str_eq(err, "--disk img: unknown option 'bogus' (ro, id=NAME, "
			      "cache=none|writeback, io=auto|io_uring|sync)");
}

Test(parse_disk, empty_options_are_skipped)
{
	parse_ok("img,,ro,");
	cr_assert_str_eq(d.path, "img");
	cr_assert(d.ro);
}

/* ---- config_validate ---------------------------------------------------------------------- */

static struct vmm_config cfg;

static void add_disk(const char *path, const char *id)
{
	cfg.disks[cfg.nr_disks++] = (struct vmm_disk){ .path = path, .id = id };
}

static void cfg_init(void)
{
	config_init(&cfg);
	cfg.kernel_path = "guest.elf";
}

Test(validate_disks, distinct_ids_and_no_ids)
{
	cfg_init();
	add_disk("a.img", "a");
	add_disk("b.img", "b");
	add_disk("c.img", NULL);
	add_disk("d.img", NULL);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_nr_virtio(&cfg), 4);
}

Test(validate_disks, duplicate_id)
{
	cfg_init();
	add_disk("a.img", "root");
	add_disk("b.img", "data");
	add_disk("c.img", "root");
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "--disk c.img: id 'root' is used twice");
}

Test(validate_disks, missing_path)
{
	cfg_init();
	add_disk("a.img", NULL);
	add_disk("", NULL);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "--disk: disk 1 has no path");
	cfg.disks[1].path = NULL;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
}

Test(validate_disks, long_id_from_elsewhere)
{
	/* The API fills disks without config_parse_disk(): validation checks the id again. */
	cfg_init();
	add_disk("a.img", "123456789012345678901");
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	assert_err("longer than 20 bytes");
}

Test(validate_disks, too_many_devices)
{
	static char paths[CONFIG_MAX_DISKS][16];

	cfg_init();
	for (unsigned int i = 0; i < CONFIG_MAX_DISKS; i++) {
		snprintf(paths[i], sizeof(paths[i]), "d%u.img", i);
		add_disk(paths[i], NULL);
	}
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "16 disks fit: %s", err);
	cfg.rng = true;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "--disk: 17 virtio devices, at most 16 (disks, console, rng and "
			      "network interfaces together)");
	cfg.rng = false;
	cfg.virtio_console = true;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cfg.nr_disks = CONFIG_MAX_DISKS - 2;
	cfg.rng = true;
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "14 disks, console and rng: %s", err);
	cr_assert_eq(config_nr_virtio(&cfg), 16);
	cfg.nr_disks = CONFIG_MAX_DISKS + 1; /* a caller that overran the array */
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
}
