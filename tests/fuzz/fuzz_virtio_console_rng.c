/* fuzz_virtio_console_rng.c: libFuzzer target for virtio-console's and virtio-rng's queues: the
 * input picks a device, becomes a small guest RAM plus control bytes, and a driver set up through
 * the virtio-mmio registers kicks the queues; kiln serves whatever chains the bytes describe
 * (console: transmit to /dev/null, receive of host bytes; rng: entropy, optionally through a small
 * rate limiter that holds requests back).
 *
 * Input layout (little-endian):
 *   [0]      device: bit 0 clear console, set rng; bit 1 (rng) a 64-byte, 2-request limiter
 *   [1]      flags: bits 0-1 rings of queue 0/1 at +RING_HIGH (outside RAM), 0x04 no VERSION_1,
 *            0x08 EVENT_IDX, 0x10 INDIRECT_DESC
 *   [2,18)   queue 0 and queue 1 (console only): QueueNum, desc, avail, used (16 bits each)
 *   [18,40)  operations, one byte each:
 *              0x00-0x1f  QueueNotify for queue (op & 1), then the I/O thread's kick handler
 *              0x20-0x3f  the driver publishes ((op >> 1) & 0xf) entries on queue (op & 1)
 *              0x40-0x5f  host input: (op & 0x1f) + 1 bytes pushed to the console, then flushed;
 *                         rng: the rate limiter's timer fires
 *              0x60-0x7f  write register (op & 0x1f) * 4 with the next operation byte as value
 *              0x80-0xbf  read register (op & 0x3f) * 4
 *              0xc0-0xff  odd: save and load the device; even: reset and set up again
 *   [40,..)  guest RAM contents (RAM_SIZE bytes; the rest is zero)
 * tests/fuzz/make_corpus.py writes seeds in this format. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/console.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "util/log.h"
#include "fuzz_common.h"

#define RAM_SIZE 0x10000
#define CTL_SIZE 40
#define CTL_OPS 18
#define RING_HIGH 0xffff0000ull
#define BASE 0xd0000000ull

static uint8_t *ram;
static struct gmem *gm;
static struct virtio_console con;
static struct virtio_rng rng, rng_limited;
static struct virtio_mmio *t; /* the device this input drives */
static unsigned int nr_queues;

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_virtio_console_rng: invariant broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct rate_limiter_cfg none = { 0 };
	const struct rate_limiter_cfg small = {
		.bandwidth = { .size = 64, .refill_ms = 1000 },
		.ops = { .size = 2, .refill_ms = 1000 },
	};
	int out = open("/dev/null", O_WRONLY | O_CLOEXEC);

	(void)argc, (void)argv;
	log_set_level(getenv("KILN_FUZZ_LOG") ? LOG_DEBUG : LOG_OFF);
	gm = fuzz_guest_ram(RAM_SIZE, &ram);
	if (out < 0 ||
	    virtio_console_init(&con, "virtio-console0", gm, BASE, 5, (struct irq_line){ 0 }, out,
				NULL, NULL) ||
	    virtio_rng_init(&rng, "virtio-rng0", &none, gm, BASE, 6, (struct irq_line){ 0 }) ||
	    virtio_rng_init(&rng_limited, "virtio-rng1", &small, gm, BASE, 7,
			    (struct irq_line){ 0 })) {
		fprintf(stderr, "fuzz_virtio_console_rng: cannot create the devices\n");
		abort();
	}
	return 0;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* A driver's initialisation from the control bytes (it may well fail: that is fine). */
static void setup(const uint8_t *ctl)
{
	uint8_t f = ctl[1];
	uint64_t features = (f & 0x04) ? 0 : VIRTIO_BIT(VIRTIO_F_VERSION_1);

	if (f & 0x08)
		features |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (f & 0x10)
		features |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	fuzz_driver_features(t, features);
	for (unsigned int q = 0; q < nr_queues; q++) {
		const uint8_t *c = ctl + 2 + 8 * q;

		fuzz_queue_setup(t, q, rd16(c), rd16(c + 2), rd16(c + 4), rd16(c + 6),
				 (f & (1u << q)) ? RING_HIGH : 0);
	}
	fuzz_driver_ok(t);
}

static void publish(unsigned int q, unsigned int count)
{
	const struct virtq *vq = &t->queues[q];
	uint16_t idx;

	if (q >= nr_queues || !vq->avail)
		return;
	memcpy(&idx, vq->avail + 2, 2);
	idx = (uint16_t)(idx + count);
	memcpy(vq->avail + 2, &idx, 2);
}

static void host_input(unsigned int len)
{
	uint8_t buf[32];

	if (t != &con.t) {
		virtio_rng_rate_timer(t == &rng.t ? &rng : &rng_limited, 0);
		return;
	}
	for (unsigned int i = 0; i < len; i++)
		buf[i] = (uint8_t)('a' + i);
	if (virtio_console_rx_space(&con) > 0)
		(void)virtio_console_rx_push(&con, buf, len);
	virtio_console_rx_flush(&con);
}

static void save_load(void)
{
	int e;
	uint32_t status;

	if (t == &con.t) {
		struct virtio_console_state s;

		virtio_console_save(&con, &s);
		e = virtio_console_load(&con, &s);
		status = s.transport.status;
	} else {
		struct virtio_rng *r = t == &rng.t ? &rng : &rng_limited;
		struct virtio_rng_state s;

		virtio_rng_save(r, &s);
		e = virtio_rng_load(r, &s);
		status = s.transport.status;
	}
	/* A healthy device's state must load back (as in fuzz_virtio_blk). */
	if (e)
		check(!(status & VIRTIO_STATUS_FEATURES_OK) || (status & VIRTIO_STATUS_NEEDS_RESET),
		      "a healthy device's saved state loads back");
}

/* What must hold after every operation. */
static void invariants(void)
{
	check(!(t->st.status & ~0xffu), "status is 8 bits");
	for (unsigned int q = 0; q < nr_queues; q++) {
		const struct virtq *vq = &t->queues[q];

		if (!vq->desc)
			continue;
		check(vq->st->size && vq->st->size <= VIRTQ_MAX_SIZE &&
			      !(vq->st->size & (vq->st->size - 1)),
		      "an active queue has a valid size");
		check(vq->desc == ram + vq->st->desc && vq->avail == ram + vq->st->avail &&
			      vq->used == ram + vq->st->used,
		      "an active queue's rings are in RAM where the driver put them");
		/* The device never hands back more chains than the driver made available. */
		if (!vq->broken)
			check((uint16_t)(vq->st->next_avail - vq->st->next_used) <= vq->st->size,
			      "used never runs ahead of available");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ctl[CTL_SIZE] = { 0 };
	size_t n = size < CTL_SIZE ? size : CTL_SIZE;

	memcpy(ctl, data, n);
	memset(ram, 0, RAM_SIZE);
	if (size > CTL_SIZE)
		memcpy(ram, data + CTL_SIZE, size - CTL_SIZE < RAM_SIZE ? size - CTL_SIZE : RAM_SIZE);
	if (!(ctl[0] & 1)) {
		t = &con.t;
		nr_queues = 2;
	} else {
		t = (ctl[0] & 2) ? &rng_limited.t : &rng.t;
		nr_queues = 1;
	}
	t->faults = 0;
	setup(ctl);
	for (unsigned int i = CTL_OPS; i < CTL_SIZE; i++) {
		uint8_t op = ctl[i];

		if (op < 0x20) {
			fuzz_mmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, op & 1);
			if ((op & 1) < nr_queues)
				virtio_mmio_kick(&t->kicks[op & 1], 0);
		} else if (op < 0x40) {
			publish(op & 1, (op >> 1) & 0xf);
		} else if (op < 0x60) {
			host_input((op & 0x1fu) + 1);
		} else if (op < 0x80) {
			uint32_t v = i + 1 < CTL_SIZE ? ctl[++i] : 0;

			fuzz_mmio_wr(t, (uint64_t)(op & 0x1f) * 4, v);
		} else if (op < 0xc0) {
			(void)fuzz_mmio_rd(t, (uint64_t)(op & 0x3f) * 4);
		} else if (op & 1) {
			save_load();
		} else {
			setup(ctl);
		}
		invariants();
	}
	/* Whatever happened, a reset returns the device to a clean state. */
	fuzz_mmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	check(fuzz_mmio_rd(t, VIRTIO_MMIO_STATUS) == 0 && t->queues[0].desc == NULL, "reset");
	return 0;
}
