/* test_virtio_mmio.c: the virtio-mmio transport (src/devices/virtio/mmio.c) driven through its
 * register handlers as a guest driver would, on virtio-rng and virtio-console devices over fake
 * RAM, with no VM: no irqfd or ioeventfd is bound, so interrupts go through an irq_line and
 * QueueNotify writes signal the kick eventfd, which the tests then service like the I/O thread. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio/console.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "util/log.h"
#include "virtio_driver.h"

#define BASE 0xd0000000ull
#define GSI 5
#define OK_STATUS (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK)
#define RUNNING (OK_STATUS | VIRTIO_STATUS_DRIVER_OK)

static struct fake_ram ram;
static struct drv_queue dq;
static struct irq_rec irq;
static struct virtio_rng rng;
static struct virtio_mmio *t;

static void rng_setup(void)
{
	fake_ram_create(&ram);
	drv_queue_init(&dq, &ram, 16);
	cr_assert_eq(virtio_rng_init(&rng, "virtio-rng0", NULL, ram.gm, BASE, GSI, irq_rec_line(&irq, GSI)),
		     0);
	t = &rng.t;
	log_capture();
}

static void rng_teardown(void)
{
	log_release();
	virtio_rng_destroy(&rng);
	fake_ram_destroy(&ram);
}

TestSuite(mmio, .init = rng_setup, .fini = rng_teardown);
TestSuite(rng, .init = rng_setup, .fini = rng_teardown);

#define assert_log_has(needle)                                                            \
	cr_assert_not_null(strstr(log_text(), (needle)), "expected \"%s\" in the log: '%s'", \
			   (needle), log_text())

static uint32_t status(void) { return mmio_rd(t, VIRTIO_MMIO_STATUS); }

/* Posts one writable buffer of `len` bytes at DATA_BASE on the rng queue. */
static uint16_t post_rng(uint32_t len)
{
	struct seg s = { DATA_BASE, len, true };

	return drv_post(&dq, &s, 1);
}

/* ---- identification and features ------------------------------------------------------------ */

Test(mmio, identification_registers)
{
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_MAGIC), 0x74726976, "\"virt\"");
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR_KILN);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff, "no shared memory");
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NOTIFY), 0, "write-only reads as 0");
	cr_assert_eq(mmio_rd(t, 0x0f0), 0, "reserved reads as 0");
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "rng has one queue");
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
}

Test(mmio, device_features)
{
	mmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_FEATURES),
		     (1u << VIRTIO_F_RING_INDIRECT_DESC) | (1u << VIRTIO_F_RING_EVENT_IDX));
	mmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_FEATURES), 1, "VERSION_1 is bit 32");
	mmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	mmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

Test(mmio, version_1_is_required)
{
	cr_assert_eq(drv_negotiate(t, VIRTIO_F(VIRTIO_F_RING_EVENT_IDX)),
		     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER,
		     "a legacy driver does not get FEATURES_OK");
	assert_log_has("virtio-rng0: driver features 0x20000000 refused (offered 0x130000000)");
	cr_assert_eq(t->faults, 1);
	cr_assert_eq(drv_negotiate(t, 0), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	cr_assert_eq(drv_negotiate(t, STD_FEATURES), OK_STATUS);
}

Test(mmio, features_not_offered_are_refused)
{
	cr_assert_eq(drv_negotiate(t, STD_FEATURES | VIRTIO_F(0)),
		     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	cr_assert_eq(drv_negotiate(t, STD_FEATURES | VIRTIO_F(33)),
		     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	cr_assert_eq(drv_negotiate(t, STD_FEATURES | VIRTIO_F(VIRTIO_F_RING_EVENT_IDX) |
					      VIRTIO_F(VIRTIO_F_RING_INDIRECT_DESC)),
		     OK_STATUS, "everything offered together is fine");
}

Test(mmio, driver_features_frozen_after_features_ok)
{
	struct virtio_mmio_state s;

	cr_assert_eq(drv_negotiate(t, STD_FEATURES), OK_STATUS);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_F_RING_EVENT_IDX);
	virtio_mmio_save(t, &s);
	cr_assert_eq(s.driver_features, STD_FEATURES);
	/* A selector beyond the two words is ignored too. */
	mmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	virtio_mmio_save(t, &s);
	cr_assert_eq(s.driver_features, 0);
}

/* ---- status rules ----------------------------------------------------------------------------- */

Test(mmio, clearing_status_bits_needs_a_reset)
{
	cr_assert_eq(drv_negotiate(t, STD_FEATURES), OK_STATUS);
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	cr_assert_eq(status(), OK_STATUS, "bits are not cleared");
	assert_log_has("status 0x1 clears bits of 0xb without a reset; ignored");
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER_OK);
	cr_assert_eq(status(), OK_STATUS, "a write that both clears and sets is ignored whole");
}

Test(mmio, driver_ok_needs_features_ok)
{
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(t, VIRTIO_MMIO_STATUS,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	cr_assert_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	assert_log_has("DRIVER_OK without FEATURES_OK; ignored");
	cr_assert_not(virtio_mmio_running(t));
	/* Both at once with refused features: neither sticks. */
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	mmio_wr(t, VIRTIO_MMIO_STATUS, RUNNING);
	cr_assert_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
}

Test(mmio, driver_cannot_set_needs_reset_and_may_set_failed)
{
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FAILED);
	cr_assert_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FAILED);
	mmio_wr(t, VIRTIO_MMIO_STATUS, 0x1ff);
	cr_assert_eq(status() & ~0xffu, 0, "only 8 status bits");
}

Test(mmio, reset_clears_everything)
{
	struct virtio_mmio_state s, zero = { 0 };

	drv_start(t, STD_FEATURES | VIRTIO_F(VIRTIO_F_RING_EVENT_IDX), &dq, 1);
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED_RING);
	mmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	mmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(status(), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	virtio_mmio_save(t, &s);
	cr_assert_eq(memcmp(&s, &zero, sizeof(s)), 0, "state after reset is all zero");
	cr_assert_null(t->queues[0].desc);
	/* And the device works again after a fresh initialisation. */
	drv_queue_init(&dq, &ram, 16);
	drv_start(t, STD_FEATURES, &dq, 1);
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 1);
}

/* ---- queue registers -------------------------------------------------------------------------- */

Test(mmio, queue_registers_reach_the_queue)
{
	struct virtio_mmio_state s;

	cr_assert_eq(drv_negotiate(t, STD_FEATURES | VIRTIO_F(VIRTIO_F_RING_INDIRECT_DESC)),
		     OK_STATUS);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, 64);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x12345000);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x1);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x2000);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0x2);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x3000);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0x3);
	virtio_mmio_save(t, &s);
	cr_assert_eq(s.queues[0].size, 64);
	cr_assert_eq(s.queues[0].desc, 0x112345000ull);
	cr_assert_eq(s.queues[0].avail, 0x200002000ull);
	cr_assert_eq(s.queues[0].used, 0x300003000ull);
	cr_assert_eq(s.queues[0].ready, 0);
	/* QueueNum above 16 bits cannot be a size. */
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, 0x10010);
	virtio_mmio_save(t, &s);
	cr_assert_eq(s.queues[0].size, 0);
}

Test(mmio, queue_registers_ignored_once_ready)
{
	struct virtio_mmio_state before, after;

	cr_assert_eq(drv_negotiate(t, STD_FEATURES), OK_STATUS);
	drv_setup_queue(t, 0, &dq);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_READY), 1);
	cr_assert_not_null(t->queues[0].desc);
	virtio_mmio_save(t, &before);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, 8);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x9000);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x9000);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 1);
	virtio_mmio_save(t, &after);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
	cr_assert_eq(t->queues[0].desc, ram.mem + RING_DESC, "the rings did not move");
}

Test(mmio, queue_ready_after_driver_ok_ignored)
{
	drv_start(t, STD_FEATURES, &dq, 1);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_READY), 0, "a queue may be stopped");
	cr_assert_null(t->queues[0].desc);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, 16);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_READY), 0, "not re-enabled after DRIVER_OK");
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 0, "a stopped queue is not processed");
}

Test(mmio, selector_beyond_queues)
{
	struct virtio_mmio_state s;

	cr_assert_eq(drv_negotiate(t, STD_FEATURES), OK_STATUS);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 7);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, 16);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	virtio_mmio_save(t, &s);
	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		cr_assert_eq(s.queues[i].size, 0, "queue %u untouched", i);
}

Test(mmio, bad_ring_at_queue_ready_needs_reset)
{
	cr_assert_eq(drv_negotiate(t, STD_FEATURES), OK_STATUS);
	dq.size = 3;
	drv_setup_queue(t, 0, &dq);
	cr_assert_eq(status(), OK_STATUS | VIRTIO_STATUS_NEEDS_RESET);
	assert_log_has("virtio-rng0: queue 0: queue size 3 is not a power of two in 1..256; device "
		       "needs reset");
	cr_assert_eq(irq.edges, 0, "no interrupt before DRIVER_OK");
	mmio_wr(t, VIRTIO_MMIO_STATUS, RUNNING);
	cr_assert_not(virtio_mmio_running(t));
}

/* ---- access widths and configuration space ---------------------------------------------------- */

Test(mmio, register_accesses_must_be_32_bit)
{
	uint8_t b[8];
	uint16_t w = VIRTIO_STATUS_ACKNOWLEDGE;
	uint64_t q = VIRTIO_STATUS_ACKNOWLEDGE;

	memset(b, 0xcc, sizeof(b));
	virtio_mmio_read(t, VIRTIO_MMIO_MAGIC, b, 2);
	cr_assert_eq(b[0], 0xcc, "a 2-byte read returns nothing");
	virtio_mmio_read(t, VIRTIO_MMIO_MAGIC, b, 8);
	cr_assert_eq(b[0], 0xcc);
	virtio_mmio_read(t, VIRTIO_MMIO_MAGIC + 1, b, 4);
	cr_assert_eq(b[0], 0xcc, "misaligned");
	virtio_mmio_write(t, VIRTIO_MMIO_STATUS, &w, 2);
	virtio_mmio_write(t, VIRTIO_MMIO_STATUS, &q, 8);
	virtio_mmio_write(t, VIRTIO_MMIO_STATUS + 2, &w, 4);
	virtio_mmio_write(t, VIRTIO_MMIO_STATUS, b, 1);
	cr_assert_eq(status(), 0);
	assert_log_has("virtio-rng0: 2-byte read of register 0x000 (registers are 32-bit)");
	assert_log_has("virtio-rng0: 2-byte write to register 0x070 (registers are 32-bit)");
	assert_log_has("4-byte write to register 0x072");
	cr_assert_eq(t->faults, 7);
}

Test(mmio, writes_to_read_only_registers)
{
	mmio_wr(t, VIRTIO_MMIO_MAGIC, 0);
	mmio_wr(t, VIRTIO_MMIO_INTERRUPT_STATUS, 0);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NUM_MAX, 1);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_MAGIC), VIRTIO_MMIO_MAGIC_VALUE);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	assert_log_has("write of 0x0 to read-only or reserved register 0x000");
	assert_log_has("register 0x034");
}

Test(mmio, config_space_of_a_device_without_one)
{
	uint32_t v = 0x12345678;

	virtio_mmio_read(t, VIRTIO_MMIO_CONFIG, &v, 4);
	cr_assert_eq(v, 0x12345678, "rng has no configuration space: nothing is read");
	mmio_wr(t, VIRTIO_MMIO_CONFIG, 1);
	assert_log_has("write to configuration space offset 0x0 ignored");
}

/* ---- notifications, interrupts, faults ------------------------------------------------------- */

Test(mmio, queue_notify_processes_and_interrupts)
{
	uint32_t id, len;
	uint16_t head;

	drv_start(t, STD_FEATURES, &dq, 1);
	dq.next_desc = 9;
	head = post_rng(64);
	cr_assert_eq(irq.edges, 0);
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 1);
	drv_used_elem(&dq, 0, &id, &len);
	cr_assert_eq(id, head);
	cr_assert_eq(len, 64);
	cr_assert_eq(irq.edges, 1);
	cr_assert_eq(irq.gsi, GSI);
	cr_assert_eq(irq.level, 0, "an edge: raised then lowered");
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED_RING);
	mmio_wr(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED_RING,
		     "acknowledging another bit leaves this one");
	mmio_wr(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED_RING);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* A kick with nothing new is harmless. */
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 1);
	cr_assert_eq(irq.edges, 1);
}

Test(mmio, kick_without_notification_is_spurious)
{
	drv_start(t, STD_FEATURES, &dq, 1);
	post_rng(8);
	virtio_mmio_kick(&t->kicks[0], 0);
	cr_assert_eq(drv_used_idx(&dq), 0, "the eventfd was not signalled");
}

Test(mmio, buffers_posted_before_driver_ok)
{
	cr_assert_eq(drv_negotiate(t, STD_FEATURES), OK_STATUS);
	drv_setup_queue(t, 0, &dq);
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 0, "not processed before DRIVER_OK");
	mmio_wr(t, VIRTIO_MMIO_STATUS, RUNNING);
	virtio_mmio_kick(&t->kicks[0], 0); /* DRIVER_OK signalled the kick eventfd */
	cr_assert_eq(drv_used_idx(&dq), 1);
}

Test(mmio, notify_of_missing_queue)
{
	drv_start(t, STD_FEATURES, &dq, 1);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	assert_log_has("virtio-rng0: notify for queue 1, which does not exist");
	assert_log_has("notify for queue 4294967295");
	cr_assert_eq(t->faults, 2);
	cr_assert_eq(status(), RUNNING, "not a reason to stop the device");
}

Test(mmio, bad_chain_sets_needs_reset)
{
	struct seg good = { DATA_BASE, 8, true };

	drv_start(t, STD_FEATURES, &dq, 1);
	drv_write_desc(&ram, dq.desc, 0, DATA_BASE, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	drv_make_avail(&dq, 0);
	drv_notify(t, 0);
	cr_assert_eq(status(), RUNNING | VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	cr_assert_eq(irq.edges, 1, "a configuration-change interrupt");
	cr_assert_eq(drv_used_idx(&dq), 0);
	assert_log_has("virtio-rng0: queue 0: descriptor 0: chain loops");
	cr_assert_not(virtio_mmio_running(t));
	/* Nothing more is processed, the driver cannot clear the bit, the device stays quiet. */
	dq.next_desc = 1;
	drv_post(&dq, &good, 1);
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 0);
	cr_assert_eq(irq.edges, 1);
	mmio_wr(t, VIRTIO_MMIO_STATUS, RUNNING);
	cr_assert_eq(status(), RUNNING | VIRTIO_STATUS_NEEDS_RESET);
	/* A reset recovers. */
	mmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(status(), 0);
	drv_queue_init(&dq, &ram, 16);
	drv_start(t, STD_FEATURES, &dq, 1);
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 1);
}

Test(mmio, event_idx_suppresses_interrupts)
{
	drv_start(t, STD_FEATURES | VIRTIO_F(VIRTIO_F_RING_EVENT_IDX), &dq, 1);
	drv_set_used_event(&dq, 2);
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(irq.edges, 1, "first used buffer");
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(irq.edges, 1, "used_event 2 not reached");
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(irq.edges, 2);
	cr_assert_eq(drv_used_idx(&dq), 3);
	cr_assert_eq(drv_avail_event(&dq), 3);
}

Test(mmio, no_interrupt_flag_without_event_idx)
{
	drv_start(t, STD_FEATURES, &dq, 1);
	drv_set_avail_flags(&dq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	post_rng(8);
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 1);
	cr_assert_eq(irq.edges, 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

/* ---- snapshots -------------------------------------------------------------------------------- */

Test(mmio, save_load_round_trip)
{
	struct virtio_rng other;
	struct virtio_rng_state s, s2;
	struct irq_rec irq2;

	drv_start(t, STD_FEATURES | VIRTIO_F(VIRTIO_F_RING_EVENT_IDX), &dq, 1);
	post_rng(8);
	drv_notify(t, 0);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_rng_save(&rng, &s);
	cr_assert_eq(s.transport.status, RUNNING);
	cr_assert_eq(s.transport.queues[0].next_avail, 1);
	cr_assert_eq(s.transport.queues[0].next_used, 1);
	cr_assert_eq(s.transport.interrupt_status, VIRTIO_INT_USED_RING);

	cr_assert_eq(virtio_rng_init(&other, "virtio-rng1", NULL, ram.gm, BASE, GSI,
				     irq_rec_line(&irq2, GSI)), 0);
	cr_assert_eq(virtio_rng_load(&other, &s), 0);
	virtio_rng_save(&other, &s2);
	cr_assert_eq(memcmp(&s, &s2, sizeof(s)), 0, "what was loaded saves the same");
	cr_assert_eq(mmio_rd(&other.t, VIRTIO_MMIO_STATUS), RUNNING);
	cr_assert_eq(mmio_rd(&other.t, VIRTIO_MMIO_QUEUE_READY), 1);
	/* The restored device goes on where the first one stopped, event idx state included. */
	drv_set_used_event(&dq, 1);
	post_rng(8);
	drv_notify(&other.t, 0);
	cr_assert_eq(drv_used_idx(&dq), 2);
	cr_assert_eq(irq2.edges, 1);
	virtio_rng_destroy(&other);
}

/* A rejected load leaves either the device as it was or a reset device, never half a state. */
static void load_rejects(const struct virtio_rng_state *s)
{
	struct virtio_rng_state before, after, zero = { 0 };

	virtio_rng_save(&rng, &before);
	cr_assert_eq(virtio_rng_load(&rng, s), -EINVAL);
	virtio_rng_save(&rng, &after);
	cr_assert(!memcmp(&after, &zero, sizeof(after)) || !memcmp(&after, &before, sizeof(after)),
		  "half-loaded state after a rejected load");
	if (!memcmp(&after, &zero, sizeof(after)))
		cr_assert_null(t->queues[0].desc);
	cr_assert_eq(virtio_rng_load(&rng, &before), 0, "reload the state for the next case");
}

Test(mmio, load_rejects_bad_state)
{
	struct virtio_rng_state good, s;

	drv_start(t, STD_FEATURES, &dq, 1);
	virtio_rng_save(&rng, &good);

	s = good;
	s.transport.driver_features |= VIRTIO_F(0);
	load_rejects(&s);
	s = good;
	s.transport.status = 0x100;
	load_rejects(&s);
	s = good;
	s.transport.queues[0].size = 12;
	load_rejects(&s);
	s = good;
	s.transport.queues[0].used = FAKE_RAM_SIZE;
	load_rejects(&s);
	s = good;
	s.transport.queues[0].desc = RING_DESC + 4;
	load_rejects(&s);
	s = good;
	s.transport.queues[1] = s.transport.queues[0]; /* rng has no queue 1 */
	load_rejects(&s);
	/* And the good state still loads. */
	cr_assert_eq(virtio_rng_load(&rng, &good), 0);
	cr_assert(virtio_mmio_running(t));
}

/* What a misbehaving guest can bring the device to must load back too, or a guest could make its
 * own snapshot impossible to restore. */
Test(mmio, load_accepts_states_a_guest_can_reach)
{
	struct virtio_rng_state good, s;

	drv_start(t, STD_FEATURES, &dq, 1);
	virtio_rng_save(&rng, &good);

	/* Features written before a FEATURES_OK that did not stick. */
	s = good;
	s.transport.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	s.transport.driver_features |= VIRTIO_F(0);
	for (unsigned int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		s.transport.queues[q] = (struct virtq_state){ 0 };
	cr_assert_eq(virtio_rng_load(&rng, &s), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_STATUS), s.transport.status);

	/* A ready queue with bad rings, the device flagged NEEDS_RESET: loads, stays broken, and
	 * a reset recovers it. */
	s = good;
	s.transport.queues[0].size = 12;
	s.transport.status |= VIRTIO_STATUS_NEEDS_RESET;
	cr_assert_eq(virtio_rng_load(&rng, &s), 0);
	cr_assert(t->queues[0].broken);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET,
		     VIRTIO_STATUS_NEEDS_RESET);
	drv_start(t, STD_FEATURES, &dq, 1);
	cr_assert(virtio_mmio_running(t), "a reset brings the device back");
}

/* A broken queue is reported once, however often the guest kicks it. */
Test(mmio, broken_queue_counted_once)
{
	drv_start(t, STD_FEATURES, &dq, 1);
	drv_write_desc(&ram, dq.desc, 0, DATA_BASE, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	drv_make_avail(&dq, 0);
	drv_notify(t, 0);
	cr_assert_eq(t->faults, 1);
	for (int i = 0; i < 5; i++)
		drv_notify(t, 0);
	cr_assert_eq(t->faults, 1, "kicks of a broken queue are not new faults");
}

/* ---- virtio-rng ------------------------------------------------------------------------------- */

static bool all_bytes(uint64_t gpa, uint64_t len, uint8_t v)
{
	const uint8_t *p = ram_at(&ram, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

Test(rng, fills_every_writable_buffer)
{
	struct seg s[] = { { DATA_BASE, 100, true }, { DATA_BASE + 0x1000, 300, true } };
	uint32_t id, len;

	drv_start(t, STD_FEATURES, &dq, 1);
	memset(ram_at(&ram, DATA_BASE, 0x2000), 0, 0x2000);
	drv_post(&dq, s, 2);
	drv_notify(t, 0);
	drv_used_elem(&dq, 0, &id, &len);
	cr_assert_eq(len, 400);
	cr_assert_not(all_bytes(DATA_BASE, 100, 0), "first buffer filled");
	cr_assert_not(all_bytes(DATA_BASE + 0x1000, 300, 0), "second buffer filled");
	cr_assert(all_bytes(DATA_BASE + 100, 0x1000 - 100, 0), "nothing between");
	cr_assert(all_bytes(DATA_BASE + 0x1000 + 300, 0x1000 - 300, 0), "nothing after");
	cr_assert_eq(rng.bytes, 400);
}

Test(rng, large_request_is_capped)
{
	uint32_t id, len;

	drv_start(t, STD_FEATURES, &dq, 1);
	post_rng(VIRTIO_RNG_MAX_REQUEST + 4096);
	drv_notify(t, 0);
	drv_used_elem(&dq, 0, &id, &len);
	cr_assert_eq(len, VIRTIO_RNG_MAX_REQUEST);
	cr_assert(all_bytes(DATA_BASE + VIRTIO_RNG_MAX_REQUEST, 4096, 0xa5),
		  "bytes beyond what was reported are untouched");
}

Test(rng, readable_buffers_are_reported_and_skipped)
{
	struct seg s[] = { { DATA_BASE, 16, false }, { DATA_BASE + 0x100, 16, true } };
	uint32_t id, len;

	drv_start(t, STD_FEATURES, &dq, 1);
	drv_post(&dq, s, 2);
	drv_notify(t, 0);
	drv_used_elem(&dq, 0, &id, &len);
	cr_assert_eq(len, 16);
	cr_assert(all_bytes(DATA_BASE, 16, 0xa5), "the readable buffer is not written");
	assert_log_has("request 0 has device-readable buffers");
}

Test(rng, several_requests_one_interrupt)
{
	drv_start(t, STD_FEATURES, &dq, 1);
	for (unsigned int i = 0; i < 5; i++)
		post_rng(4);
	drv_notify(t, 0);
	cr_assert_eq(drv_used_idx(&dq), 5);
	cr_assert_eq(irq.edges, 1);
}

/* ---- virtio-console --------------------------------------------------------------------------- */

static struct virtio_console con;
static struct drv_queue rxq, txq;
static int pipefd[2];
static unsigned int wakes;

static void on_wake(void *opaque)
{
	cr_assert_eq(opaque, &wakes);
	wakes++;
}

static void con_setup(void)
{
	fake_ram_create(&ram);
	drv_queue_init(&rxq, &ram, 16);
	drv_queue_init_at(&txq, &ram, 16, 0x5000, 0x6000, 0x7000);
	wakes = 0;
	cr_assert_eq(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0);
	cr_assert_eq(virtio_console_init(&con, "virtio-console0", ram.gm, BASE, GSI,
					 irq_rec_line(&irq, GSI), pipefd[1], on_wake, &wakes),
		     0);
	t = &con.t;
	log_capture();
}

static void con_teardown(void)
{
	log_release();
	virtio_console_destroy(&con);
	close(pipefd[0]);
	close(pipefd[1]);
	fake_ram_destroy(&ram);
}

TestSuite(console, .init = con_setup, .fini = con_teardown);

static void con_start(void)
{
	struct drv_queue qs[2] = { rxq, txq };

	drv_start(t, STD_FEATURES, qs, 2);
}

Test(console, identity_and_queues)
{
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

Test(console, transmit_writes_to_fd)
{
	struct seg s[] = { { DATA_BASE, 6, false }, { DATA_BASE + 0x100, 5, false } };
	char out[32] = { 0 };
	uint32_t id, len;

	memcpy(ram_at(&ram, DATA_BASE, 6), "hello ", 6);
	memcpy(ram_at(&ram, DATA_BASE + 0x100, 5), "world", 5);
	con_start();
	drv_post(&txq, s, 2);
	drv_notify(t, VIRTIO_CONSOLE_TXQ);
	cr_assert_eq(read(pipefd[0], out, sizeof(out) - 1), 11);
	cr_assert_str_eq(out, "hello world");
	cr_assert_eq(drv_used_idx(&txq), 1);
	drv_used_elem(&txq, 0, &id, &len);
	cr_assert_eq(len, 0, "nothing written into a transmit buffer");
	cr_assert_eq(con.tx_bytes, 11);
	cr_assert_eq(irq.edges, 1);
	cr_assert_eq(drv_used_idx(&rxq), 0);
}

Test(console, receive)
{
	struct seg s[] = { { DATA_BASE, 4, true }, { DATA_BASE + 0x100, 4, true } };
	uint32_t id, len;
	uint16_t head;

	cr_assert_eq(virtio_console_rx_space(&con), 0, "not running yet");
	con_start();
	cr_assert_eq(virtio_console_rx_space(&con), 0, "no receive buffer");
	head = drv_post(&rxq, s, 2);
	drv_notify(t, VIRTIO_CONSOLE_RXQ);
	cr_assert_eq(wakes, 1, "new receive buffers wake the reader");
	cr_assert_eq(virtio_console_rx_space(&con), 8);
	cr_assert_eq(virtio_console_rx_push(&con, (const uint8_t *)"abcdef", 6), 6);
	cr_assert_eq(virtio_console_rx_space(&con), 2);
	cr_assert_eq(virtio_console_rx_push(&con, (const uint8_t *)"ghijk", 5), 2, "only what fits");
	cr_assert_eq(drv_used_idx(&rxq), 0, "nothing handed over before the flush");
	virtio_console_rx_flush(&con);
	cr_assert_eq(drv_used_idx(&rxq), 1);
	drv_used_elem(&rxq, 0, &id, &len);
	cr_assert_eq(id, head);
	cr_assert_eq(len, 8);
	cr_assert_eq(memcmp(ram_at(&ram, DATA_BASE, 4), "abcd", 4), 0);
	cr_assert_eq(memcmp(ram_at(&ram, DATA_BASE + 0x100, 4), "efgh", 4), 0);
	cr_assert_eq(irq.edges, 1);
	cr_assert_eq(con.rx_bytes, 8);
	cr_assert_eq(virtio_console_rx_space(&con), 0, "the only buffer is used");
	cr_assert_eq(virtio_console_rx_push(&con, (const uint8_t *)"x", 1), 0);
}

Test(console, partial_receive_buffer_is_flushed)
{
	struct seg s = { DATA_BASE, 64, true };
	uint32_t id, len;

	con_start();
	drv_post(&rxq, &s, 1);
	drv_post(&rxq, &s, 1);
	cr_assert_eq(virtio_console_rx_space(&con), 64);
	virtio_console_rx_flush(&con);
	cr_assert_eq(drv_used_idx(&rxq), 0, "an empty buffer is kept, not returned");
	cr_assert_eq(virtio_console_rx_push(&con, (const uint8_t *)"hi", 2), 2);
	virtio_console_rx_flush(&con);
	drv_used_elem(&rxq, 0, &id, &len);
	cr_assert_eq(len, 2);
	cr_assert_eq(virtio_console_rx_space(&con), 64, "the next buffer");
}

Test(console, receive_chain_without_writable_bytes)
{
	/* A driver bug: a receive chain with no writable buffer. It must not stall the console for
	 * good: the next good buffer is used. */
	struct seg bad = { DATA_BASE, 16, false }, good = { DATA_BASE + 0x100, 16, true };
	uint32_t id, len;

	con_start();
	drv_post(&rxq, &bad, 1);
	drv_post(&rxq, &good, 1);
	cr_assert_eq(virtio_console_rx_space(&con), 16);
	cr_assert_eq(drv_used_idx(&rxq), 1, "the bad chain is given back");
	drv_used_elem(&rxq, 0, &id, &len);
	cr_assert_eq(id, 0);
	cr_assert_eq(len, 0);
	assert_log_has("virtio-console0: receive buffer 0 has no writable bytes");
	cr_assert_eq(virtio_console_rx_push(&con, (const uint8_t *)"ok", 2), 2);
	virtio_console_rx_flush(&con);
	drv_used_elem(&rxq, 1, &id, &len);
	cr_assert_eq(id, 1);
	cr_assert_eq(len, 2);
	cr_assert_eq(memcmp(ram_at(&ram, DATA_BASE + 0x100, 2), "ok", 2), 0);
}

Test(console, save_returns_untouched_receive_buffer)
{
	struct virtio_console_state s;
	struct seg b = { DATA_BASE, 16, true };

	con_start();
	drv_post(&rxq, &b, 1);
	cr_assert_eq(virtio_console_rx_space(&con), 16);
	virtio_console_save(&con, &s);
	cr_assert_eq(s.transport.queues[VIRTIO_CONSOLE_RXQ].next_avail, 0,
		     "the taken but unused buffer is back in the ring");
	cr_assert_eq(virtio_console_load(&con, &s), 0);
	cr_assert_eq(virtio_console_rx_space(&con), 16);
}

Test(console, save_hands_over_partly_filled_buffer)
{
	struct virtio_console_state s;
	struct seg b = { DATA_BASE, 16, true };

	con_start();
	drv_post(&rxq, &b, 1);
	cr_assert_eq(virtio_console_rx_space(&con), 16);
	cr_assert_eq(virtio_console_rx_push(&con, (const uint8_t *)"abc", 3), 3);
	virtio_console_save(&con, &s);
	cr_assert_eq(drv_used_idx(&rxq), 1, "filled bytes are delivered, not lost");
	cr_assert_eq(s.transport.queues[VIRTIO_CONSOLE_RXQ].next_avail, 1);
	cr_assert_eq(s.transport.queues[VIRTIO_CONSOLE_RXQ].next_used, 1);
}

Test(console, bad_transmit_chain_needs_reset)
{
	con_start();
	drv_make_avail(&txq, 99);
	drv_notify(t, VIRTIO_CONSOLE_TXQ);
	cr_assert_eq(status(), RUNNING | VIRTIO_STATUS_NEEDS_RESET);
	assert_log_has("virtio-console0: queue 1: available entry 99 is not a descriptor index");
}
