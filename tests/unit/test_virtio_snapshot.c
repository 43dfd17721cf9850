/* test_virtio_snapshot.c: every virtio device's saved state round-trips through its row of the
 * builder's table (kind.h), as snapshots use it: a device driven to a running state is saved,
 * the state is loaded into a fresh device over the same guest RAM, which saves it again equal;
 * the fresh device then serves the guest's queues from where the first one stopped. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "config.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock.h"
#include "util/io_thread.h"
#include "virtio_driver.h"

#define QSIZE 16
#define QSTRIDE 0x1000 /* queue q's three parts in [0x20000 + q * 0x1000, +0x1000) */
#define BUF 0x40000    /* the test's request buffers */

static struct fake_ram ram;
static char image[] = "/tmp/kiln-snapdev-XXXXXX";
static char vsock_path[64];
static int out_fd = -1;
static struct drv_queue qs[VIRTIO_MMIO_MAX_QUEUES];

static void setup(void)
{
	kind_env_create(&ram, image, &out_fd);
	snprintf(vsock_path, sizeof(vsock_path), "/tmp/kiln-snapdev-vsock.%d", getpid());
}

static void teardown(void)
{
	unlink(vsock_path);
	kind_env_destroy(&ram, image, out_fd);
}

TestSuite(devsnap, .init = setup, .fini = teardown);

static void *make(const struct virtio_kind *kind, const struct vmm_config *cfg, const char *name)
{
	void *dev = calloc(1, kind->size);
	struct virtio_dev_env env = { .cfg = cfg, .index = 0, .name = name, .mem = ram.gm,
				      .base = 0xd0000000, .gsi = 5, .out_fd = out_fd };
	char err[256] = "";

	cr_assert_not_null(dev);
	cr_assert_eq(kind->init(dev, &env, err, sizeof(err)), 0, "%s: %s", kind->kind, err);
	return dev;
}

/* Device A, running with every queue set up and `traffic` done on it, is saved; device B, fresh,
 * loads the state and saves it again: the same bytes. A is destroyed; B is returned (state in
 * *out, kind->state_size bytes, the caller frees both). */
static void *round_trip(const struct virtio_kind *kind, const struct vmm_config *cfg,
			const char *name, void (*traffic)(struct virtio_mmio *t), void **out)
{
	void *a = make(kind, cfg, name), *b;
	void *sa = calloc(1, kind->state_size), *sb = calloc(1, kind->state_size);
	struct virtio_mmio *t = kind->transport(a);
	unsigned int nq = t->ops->nr_queues;

	cr_assert(sa && sb);
	for (unsigned int q = 0; q < nq; q++) {
		uint64_t base = 0x20000 + q * QSTRIDE;

		drv_queue_init_at(&qs[q], &ram, QSIZE, base, base + 0x100, base + 0x200);
	}
	drv_start(t, STD_FEATURES, qs, nq);
	if (traffic)
		traffic(t);
	kind->save(a, sa);
	kind->destroy(a);
	free(a);

	b = make(kind, cfg, name);
	cr_assert_eq(kind->load(b, sa), 0, "%s loads the state it saved", kind->kind);
	kind->save(b, sb);
	cr_assert_eq(memcmp(sa, sb, kind->state_size), 0, "%s: saved again, the same state",
		     kind->kind);
	cr_assert(virtio_mmio_running(kind->transport(b)), "%s runs on after the load", kind->kind);
	free(sb);
	*out = sa;
	return b;
}

/* ---- virtio-blk ---------------------------------------------------------------------------- */

static void blk_read(struct virtio_mmio *t, uint64_t sector)
{
	uint8_t *hdr = ram_at(&ram, BUF, 16);
	struct seg segs[] = { { BUF, 16, false }, { BUF + 0x1000, 512, true },
			      { BUF + 0x800, 1, true } };

	memset(hdr, 0, 16);
	memcpy(hdr + 8, &sector, 8); /* type 0: VIRTIO_BLK_T_IN */
	*ram_at(&ram, BUF + 0x800, 1) = 0xff;
	drv_post(&qs[0], segs, 3);
	drv_notify(t, 0);
}

static void blk_traffic(struct virtio_mmio *t)
{
	blk_read(t, 0);
	blk_read(t, 1);
	cr_assert_eq(drv_used_idx(&qs[0]), 2);
}

Test(devsnap, blk)
{
	struct vmm_config cfg;
	struct virtio_blk_state *s;
	void *b;

	config_init(&cfg);
	cfg.disks[0] = (struct vmm_disk){ .path = image, .io = DISK_IO_SYNC };
	cfg.nr_disks = 1;
	b = round_trip(&virtio_blk_kind, &cfg, "virtio-blk0", blk_traffic, (void **)&s);
	cr_expect_eq(s->transport.queues[0].next_avail, 2);
	cr_expect_eq(s->transport.queues[0].next_used, 2);
	/* The restored device takes the guest's next request, and only that one. */
	blk_read(virtio_blk_kind.transport(b), 2);
	cr_expect_eq(drv_used_idx(&qs[0]), 3, "the next request completes after the restore");
	cr_expect_eq(*ram_at(&ram, BUF + 0x800, 1), 0, "with status OK");
	virtio_blk_kind.destroy(b);
	free(b);
	free(s);
}

/* ---- virtio-rng ---------------------------------------------------------------------------- */

static void rng_request(struct virtio_mmio *t)
{
	struct seg seg = { BUF, 64, true };

	drv_post(&qs[0], &seg, 1);
	drv_notify(t, 0);
}

static void rng_traffic(struct virtio_mmio *t)
{
	rng_request(t);
	cr_assert_eq(drv_used_idx(&qs[0]), 1);
}

Test(devsnap, rng)
{
	struct vmm_config cfg;
	struct virtio_rng_state *s;
	void *b;

	config_init(&cfg);
	cfg.rng = true;
	b = round_trip(&virtio_rng_kind, &cfg, "virtio-rng0", rng_traffic, (void **)&s);
	cr_expect_eq(s->transport.queues[0].next_used, 1);
	rng_request(virtio_rng_kind.transport(b));
	cr_expect_eq(drv_used_idx(&qs[0]), 2, "the next request is served after the restore");
	virtio_rng_kind.destroy(b);
	free(b);
	free(s);
}

/* ---- virtio-console ------------------------------------------------------------------------ */

static void console_tx(struct virtio_mmio *t)
{
	struct seg seg = { BUF, 4, false };

	memcpy(ram_at(&ram, BUF, 4), "abc\n", 4);
	drv_post(&qs[VIRTIO_CONSOLE_TXQ], &seg, 1);
	drv_notify(t, VIRTIO_CONSOLE_TXQ);
}

static void console_traffic(struct virtio_mmio *t)
{
	console_tx(t);
	cr_assert_eq(drv_used_idx(&qs[VIRTIO_CONSOLE_TXQ]), 1);
}

Test(devsnap, console)
{
	struct vmm_config cfg;
	struct virtio_console_state *s;
	void *b;

	config_init(&cfg);
	cfg.virtio_console = true;
	b = round_trip(&virtio_console_kind, &cfg, "virtio-console0", console_traffic, (void **)&s);
	cr_expect_eq(s->transport.queues[VIRTIO_CONSOLE_TXQ].next_used, 1);
	console_tx(virtio_console_kind.transport(b));
	cr_expect_eq(drv_used_idx(&qs[VIRTIO_CONSOLE_TXQ]), 2, "output goes on after the restore");
	virtio_console_kind.destroy(b);
	free(b);
	free(s);
}

/* ---- virtio-net ---------------------------------------------------------------------------- */

Test(devsnap, net)
{
	struct vmm_config cfg;
	struct virtio_net_state *s;
	void *b;

	config_init(&cfg);
	/* User-mode networking: no root or TAP needed (what the device saves is the same). */
	cfg.nets[0] = (struct vmm_net){ .id = "eth0", .backend = NET_BACKEND_USER,
					.user_net = 0x0a000200, .user_prefix = 24 };
	cfg.nr_nets = 1;
	b = round_trip(&virtio_net_kind, &cfg, "virtio-net0", NULL, (void **)&s);
	cr_expect_eq(memcmp(s->mac, ((struct virtio_net *)b)->mac, 6), 0,
		     "the fresh device (another random MAC) took the saved one");
	virtio_net_kind.destroy(b);
	free(b);
	free(s);
}

/* ---- virtio-vsock -------------------------------------------------------------------------- */

Test(devsnap, vsock)
{
	struct vmm_config cfg;
	struct virtio_vsock_state *s;
	struct seg ev = { BUF, 4, true };
	uint32_t id, len;
	void *b;

	config_init(&cfg);
	cfg.has_vsock = true;
	cfg.vsock = (struct vmm_vsock){ .id = "vsock0", .guest_cid = 3, .uds_path = vsock_path };
	b = round_trip(&virtio_vsock_kind, &cfg, "virtio-vsock0", NULL, (void **)&s);
	cr_expect_eq(s->cid, 3);

	/* The restored device owes the guest a transport reset: it goes out with the first event
	 * buffer (here, one the guest posts after the restore). */
	memset(ram_at(&ram, BUF, 4), 0xee, 4);
	drv_post(&qs[VIRTIO_VSOCK_EVQ], &ev, 1);
	drv_notify(virtio_vsock_kind.transport(b), VIRTIO_VSOCK_EVQ);
	cr_assert_eq(drv_used_idx(&qs[VIRTIO_VSOCK_EVQ]), 1, "the reset event is delivered");
	drv_used_elem(&qs[VIRTIO_VSOCK_EVQ], 0, &id, &len);
	cr_expect_eq(len, 4);
	cr_expect_eq(*(uint32_t *)ram_at(&ram, BUF, 4), 0, "VIRTIO_VSOCK_EVENT_TRANSPORT_RESET");
	virtio_vsock_kind.save(b, s);
	virtio_vsock_kind.destroy(b);
	free(b);

	/* With an event buffer already posted when the state is loaded, the event goes at once. */
	b = make(&virtio_vsock_kind, &cfg, "virtio-vsock0");
	drv_post(&qs[VIRTIO_VSOCK_EVQ], &ev, 1);
	cr_assert_eq(virtio_vsock_kind.load(b, s), 0);
	cr_expect_eq(drv_used_idx(&qs[VIRTIO_VSOCK_EVQ]), 2, "the load itself delivers the reset");
	virtio_vsock_kind.destroy(b);
	free(b);
	free(s);
}

/* A state the device cannot be in is refused and changes nothing. */
Test(devsnap, refused_state_changes_nothing)
{
	struct vmm_config cfg;
	struct virtio_rng_state *s, bad, after;
	void *b;

	config_init(&cfg);
	cfg.rng = true;
	b = round_trip(&virtio_rng_kind, &cfg, "virtio-rng0", rng_traffic, (void **)&s);
	bad = *s;
	bad.transport.queues[0].size = 3; /* not a power of two, on a ready queue */
	cr_expect_eq(virtio_rng_kind.load(b, &bad), -EINVAL);
	bad = *s;
	bad.transport.queues[5].ready = 1; /* a queue rng does not have */
	cr_expect_eq(virtio_rng_kind.load(b, &bad), -EINVAL);
	virtio_rng_kind.save(b, &after);
	cr_expect_eq(memcmp(s, &after, sizeof(after)), 0, "the refused loads changed nothing");
	virtio_rng_kind.destroy(b);
	free(b);
	free(s);
}

/* ---- the I/O thread's pause, which a snapshot takes around saving ---------------------------- */

static int served;

static void count_event(void *opaque, uint32_t events)
{
	eventfd_t v;

	(void)events;
	if (!eventfd_read(*(int *)opaque, &v))
		__atomic_add_fetch(&served, (int)v, __ATOMIC_SEQ_CST);
}

static int served_now(void)
{
	return __atomic_load_n(&served, __ATOMIC_SEQ_CST);
}

static bool wait_served(int n)
{
	for (int i = 0; i < 2000 && served_now() < n; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	return served_now() >= n;
}

Test(devsnap, io_thread_pause_holds_every_handler_until_resume)
{
	struct io_thread *io;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	cr_assert_geq(fd, 0);
	cr_assert_eq(io_thread_create(&io), 0);
	io_thread_pause(io); /* not started: quiet already, returns at once */
	io_thread_resume(io);
	cr_assert_eq(io_thread_add(io, fd, count_event, &fd), 0);
	cr_assert_eq(io_thread_start(io, "test-io"), 0);
	cr_assert_eq(eventfd_write(fd, 1), 0);
	cr_assert(wait_served(1), "the handler runs");
	for (int round = 0; round < 3; round++) {
		io_thread_pause(io);
		cr_assert_eq(eventfd_write(fd, 1), 0);
		nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
		cr_assert_eq(served_now(), 1 + round, "no handler runs while paused (round %d)", round);
		io_thread_resume(io);
		cr_assert(wait_served(2 + round), "after the resume the event is served (round %d)",
			  round);
	}
	io_thread_pause(io);
	io_thread_resume(io);
	io_thread_destroy(io); /* stops and joins: a pause left nothing behind */
	close(fd);
}
