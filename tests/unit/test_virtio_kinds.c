/* test_virtio_kinds.c: the builder's table of virtio device kinds (devices/virtio/kind.h): every
 * row is complete, and each kind is made from a vmm_config, counted, saved, loaded and destroyed
 * through its row alone, as the builder, metrics and snapshots use it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder.h"
#include "config.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock.h"
#include "virtio_driver.h"

static struct fake_ram ram;
static char image[] = "/tmp/kiln-kinds-XXXXXX";
static int out_fd = -1;

static void setup(void)
{
	kind_env_create(&ram, image, &out_fd);
}

static void teardown(void)
{
	kind_env_destroy(&ram, image, out_fd);
}

TestSuite(kinds, .init = setup, .fini = teardown);

Test(kinds, rows_are_complete_and_distinct)
{
	unsigned int nr;
	const struct virtio_kind *const *kinds = builder_virtio_kinds(&nr);

	cr_assert_eq(nr, 5);
	/* The slot order docs/virtio.md gives: disks, console, rng, network interfaces, vsock. */
	cr_assert_eq(kinds[0], &virtio_blk_kind);
	cr_assert_eq(kinds[1], &virtio_console_kind);
	cr_assert_eq(kinds[2], &virtio_rng_kind);
	cr_assert_eq(kinds[3], &virtio_net_kind);
	cr_assert_eq(kinds[4], &virtio_vsock_kind);
	for (unsigned int i = 0; i < nr; i++) {
		const struct virtio_kind *k = kinds[i];

		cr_assert(k->kind && k->metrics_key && k->size && k->state_size, "row %u", i);
		cr_assert(k->count && k->init && k->destroy && k->transport && k->counters &&
				  k->save && k->load,
			  "row %s lacks a hook", k->kind);
		for (unsigned int j = 0; j < i; j++) {
			cr_assert_str_neq(k->kind, kinds[j]->kind);
			cr_assert_str_neq(k->metrics_key, kinds[j]->metrics_key);
		}
	}
}

Test(kinds, count_follows_the_config)
{
	struct vmm_config cfg;
	unsigned int nr, total = 0;
	const struct virtio_kind *const *kinds = builder_virtio_kinds(&nr);

	config_init(&cfg);
	for (unsigned int i = 0; i < nr; i++)
		cr_assert_eq(kinds[i]->count(&cfg), 0, "%s", kinds[i]->kind);
	cfg.nr_disks = 2;
	cfg.virtio_console = true;
	cfg.rng = true;
	cfg.nr_nets = 3;
	cfg.has_vsock = true;
	for (unsigned int i = 0; i < nr; i++)
		total += kinds[i]->count(&cfg);
	cr_assert_eq(virtio_blk_kind.count(&cfg), 2);
	cr_assert_eq(virtio_net_kind.count(&cfg), 3);
	cr_assert_eq(virtio_vsock_kind.count(&cfg), 1);
	cr_assert_eq(total, config_nr_virtio(&cfg), "the table and config_nr_virtio() agree");
}

/* Makes device 0 of `kind` as the builder would, checks what metrics and snapshots see, and
 * destroys it. */
static void through_the_row(const struct virtio_kind *kind, const struct vmm_config *cfg,
			    const char *name, unsigned int nr_counters)
{
	void *dev = calloc(1, kind->size), *state = calloc(1, kind->state_size);
	struct virtio_dev_env env = { .cfg = cfg, .index = 0, .name = name, .mem = ram.gm,
				      .base = 0xd0000000, .gsi = 5, .out_fd = out_fd };
	struct virtio_counter c[VIRTIO_MAX_COUNTERS];
	char err[256] = "";
	unsigned int n;

	cr_assert(dev && state);
	cr_assert_eq(kind->init(dev, &env, err, sizeof(err)), 0, "%s: %s", kind->kind, err);
	cr_assert_str_eq(kind->transport(dev)->name, name);
	cr_assert_eq(kind->transport(dev)->base, 0xd0000000);
	n = kind->counters(dev, c);
	cr_assert_eq(n, nr_counters, "%s counters", kind->kind);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(c[i].value, 0, "%s.%s before any request", kind->kind, c[i].name);
		cr_assert_str_neq(c[i].name, "device");
	}
	cr_assert_str_eq(c[n - 1].name, "guest_errors");
	kind->save(dev, state);
	cr_assert_eq(kind->load(dev, state), 0, "a device loads what it saved");
	kind->destroy(dev);
	free(state);
	free(dev);
}

Test(kinds, blk_from_its_row)
{
	struct vmm_config cfg;
	io_handler_fn fn = NULL;
	void *dev;
	char err[256];

	config_init(&cfg);
	cfg.disks[0] = (struct vmm_disk){ .path = image, .io = DISK_IO_SYNC };
	cfg.nr_disks = 1;
	through_the_row(&virtio_blk_kind, &cfg, "virtio-blk0", 10);

	/* The sync backend has no completion fd; a missing image is bad input (-EINVAL). */
	dev = calloc(1, virtio_blk_kind.size);
	cr_assert_eq(virtio_blk_kind.init(dev,
					  &(struct virtio_dev_env){ .cfg = &cfg, .name = "virtio-blk0",
								    .mem = ram.gm, .base = 0xd0000000,
								    .gsi = 5 },
					  err, sizeof(err)),
		     0);
	cr_assert_lt(virtio_blk_kind.io_fd(dev, &fn), 0);
	virtio_blk_kind.destroy(dev);
	cfg.disks[0].path = "/nonexistent/kiln-disk.img";
	memset(dev, 0, virtio_blk_kind.size);
	cr_assert_eq(virtio_blk_kind.init(dev,
					  &(struct virtio_dev_env){ .cfg = &cfg, .name = "virtio-blk0",
								    .mem = ram.gm, .base = 0xd0000000,
								    .gsi = 5 },
					  err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "/nonexistent/kiln-disk.img"), "the message names the file: %s", err);
	free(dev);
}

Test(kinds, console_from_its_row)
{
	struct vmm_config cfg;

	config_init(&cfg);
	cfg.virtio_console = true;
	through_the_row(&virtio_console_kind, &cfg, "virtio-console0", 3);
}

Test(kinds, rng_from_its_row)
{
	struct vmm_config cfg;

	config_init(&cfg);
	cfg.rng = true;
	through_the_row(&virtio_rng_kind, &cfg, "virtio-rng0", 2);
}

Test(kinds, net_from_its_row)
{
	struct vmm_config cfg;

	config_init(&cfg);
	/* User-mode networking: no root or TAP needed. */
	cfg.nets[0] = (struct vmm_net){ .id = "eth0", .backend = NET_BACKEND_USER,
					.user_net = 0x0a000200, .user_prefix = 24 };
	cfg.nr_nets = 1;
	through_the_row(&virtio_net_kind, &cfg, "virtio-net0", 9);
}

Test(kinds, vsock_from_its_row)
{
	struct vmm_config cfg;
	io_handler_fn fn = NULL;
	char path[64];
	void *dev;

	snprintf(path, sizeof(path), "/tmp/kiln-kinds-vsock.%d", getpid());
	config_init(&cfg);
	cfg.has_vsock = true;
	cfg.vsock = (struct vmm_vsock){ .id = "vsock0", .guest_cid = 3, .uds_path = path };
	through_the_row(&virtio_vsock_kind, &cfg, "virtio-vsock0", 13);
	cr_assert_neq(access(path, F_OK), 0, "the socket is removed with the device");

	/* Its connections are one epoll fd the I/O thread watches. */
	dev = calloc(1, virtio_vsock_kind.size);
	cr_assert_eq(virtio_vsock_kind.init(dev,
					    &(struct virtio_dev_env){ .cfg = &cfg,
								      .name = "virtio-vsock0",
								      .mem = ram.gm,
								      .base = 0xd0000000, .gsi = 5 },
					    (char[256]){ 0 }, 256),
		     0);
	cr_assert_geq(virtio_vsock_kind.io_fd(dev, &fn), 0);
	cr_assert_eq(fn, virtio_vsock_io);
	virtio_vsock_kind.destroy(dev);
	free(dev);

	/* A CID the specification reserves is bad input. */
	cfg.vsock.guest_cid = 2;
	dev = calloc(1, virtio_vsock_kind.size);
	cr_assert_eq(virtio_vsock_kind.init(dev,
					    &(struct virtio_dev_env){ .cfg = &cfg,
								      .name = "virtio-vsock0",
								      .mem = ram.gm,
								      .base = 0xd0000000, .gsi = 5 },
					    (char[256]){ 0 }, 256),
		     -EINVAL);
	free(dev);
}
