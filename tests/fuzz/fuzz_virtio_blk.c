/* fuzz_virtio_blk.c: libFuzzer target for the virtqueue and virtio-blk request path: the input
 * becomes a small guest RAM plus a few control bytes; a driver set up through the virtio-mmio
 * registers kicks the queue and kiln parses and executes whatever chains the bytes describe,
 * on a memfd image with the synchronous backend.
 *
 * Input layout (little-endian):
 *   [0,2)   QueueNum written by the driver (any value: bad sizes are part of the game)
 *   [2,4)   descriptor table address   } guest-physical; flag 0x01 below moves
 *   [4,6)   available ring address     } all three up by RING_HIGH (outside RAM)
 *   [6,8)   used ring address          }
 *   [8]     flags: 0x01 rings at +RING_HIGH, 0x02 no VERSION_1, 0x04 EVENT_IDX, 0x08 INDIRECT_DESC
 *   [9,32)  operations, one byte each:
 *             0x00-0x3f  QueueNotify (odd: for queue 1, which does not exist)
 *             0x40-0x7f  the driver publishes (op & 0x3f) more entries: avail idx += n
 *             0x80-0xbf  write register (op & 0x3f) * 4 with the next operation byte as value
 *             0xc0-0xff  odd: save and load the device; even: reset and set up again
 *   [32,..) guest RAM contents (RAM_SIZE bytes; the rest is zero)
 * tests/fuzz/make_corpus.py writes seeds in this format. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/virtio.h"
#include "util/log.h"
#include "fuzz_common.h"

#define RAM_SIZE 0x10000
#define IMAGE_SECTORS 64
#define CTL_SIZE 32
#define RING_HIGH 0xffff0000ull
#define BASE 0xd0000000ull

static uint8_t *ram;
static struct gmem *gm;
static struct virtio_blk blk;
static int image = -1;

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_virtio_blk: invariant broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct virtio_blk_opts o = { .id = "fuzz-disk", .backend = DISK_IO_SYNC };
	char path[64], err[256];

	(void)argc, (void)argv;
	log_set_level(getenv("KILN_FUZZ_LOG") ? LOG_DEBUG : LOG_OFF);
	gm = fuzz_guest_ram(RAM_SIZE, &ram);
	image = memfd_create("kiln-fuzz-image", MFD_CLOEXEC);
	if (image < 0 || ftruncate(image, IMAGE_SECTORS * VIRTIO_BLK_SECTOR))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", image);
	o.path = path;
	if (virtio_blk_init(&blk, "virtio-blk0", &o, gm, BASE, 5, (struct irq_line){ 0 }, err,
			    sizeof(err))) {
		fprintf(stderr, "fuzz_virtio_blk: %s\n", err);
		abort();
	}
	return 0;
}

static void wr(uint64_t off, uint32_t v) { fuzz_mmio_wr(&blk.t, off, v); }
static uint32_t rd(uint64_t off) { return fuzz_mmio_rd(&blk.t, off); }

/* A driver's initialisation from the control bytes (it may well fail: that is fine). */
static void setup(const uint8_t *ctl)
{
	uint16_t num, d, a, u;
	uint64_t features = VIRTIO_BIT(VIRTIO_F_VERSION_1);

	memcpy(&num, ctl, 2);
	memcpy(&d, ctl + 2, 2);
	memcpy(&a, ctl + 4, 2);
	memcpy(&u, ctl + 6, 2);
	if (ctl[8] & 0x02)
		features = 0;
	if (ctl[8] & 0x04)
		features |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (ctl[8] & 0x08)
		features |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	fuzz_driver_features(&blk.t, features);
	fuzz_queue_setup(&blk.t, 0, num, d, a, u, (ctl[8] & 0x01) ? RING_HIGH : 0);
	fuzz_driver_ok(&blk.t);
}

/* What must hold after every operation with the synchronous backend. */
static void invariants(void)
{
	const struct virtq *q = &blk.t.queues[0];

	check(blk.inflight == 0, "nothing stays in flight with the sync backend");
	/* Every chain taken is answered at once: the used index follows the available one. */
	if (!q->broken)
		check(q->st->next_used == q->st->next_avail, "every popped chain was pushed");
	check(q->st->size == 0 || q->st->size <= 0xffff, "queue size");
	check(!(blk.t.st.status & ~0xffu), "status is 8 bits");
	if (q->desc) {
		check(q->st->size && q->st->size <= VIRTQ_MAX_SIZE &&
			      !(q->st->size & (q->st->size - 1)),
		      "an active queue has a valid size");
		check(q->desc == ram + q->st->desc && q->avail == ram + q->st->avail &&
			      q->used == ram + q->st->used,
		      "an active queue's rings are in RAM where the driver put them");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ctl[CTL_SIZE] = { 0 };
	size_t n = size < CTL_SIZE ? size : CTL_SIZE;
	eventfd_t ev;

	memcpy(ctl, data, n);
	memset(ram, 0, RAM_SIZE);
	if (size > CTL_SIZE)
		memcpy(ram, data + CTL_SIZE, size - CTL_SIZE < RAM_SIZE ? size - CTL_SIZE : RAM_SIZE);
	/* A fresh, zeroed image each run, so runs do not depend on one another. */
	if (ftruncate(image, 0) || ftruncate(image, IMAGE_SECTORS * VIRTIO_BLK_SECTOR))
		abort();
	blk.t.faults = 0;
	setup(ctl);
	(void)eventfd_read(blk.t.kick_fd[0], &ev);
	for (unsigned int i = 9; i < CTL_SIZE; i++) {
		uint8_t op = ctl[i];

		if (op < 0x40) {
			wr(VIRTIO_MMIO_QUEUE_NOTIFY, op & 1);
			virtio_mmio_kick(&blk.t.kicks[0], 0);
		} else if (op < 0x80) {
			const struct virtq *q = &blk.t.queues[0];

			/* The driver publishes entries it (maybe) wrote into the ring. */
			if (q->avail) {
				uint16_t idx;

				memcpy(&idx, q->avail + 2, 2);
				idx = (uint16_t)(idx + (op & 0x3f));
				memcpy(q->avail + 2, &idx, 2);
			}
		} else if (op < 0xc0) {
			uint32_t v = i + 1 < CTL_SIZE ? ctl[++i] : 0;

			wr((uint64_t)(op & 0x3f) * 4, v);
			(void)rd((uint64_t)(op & 0x3f) * 4);
		} else if (op & 1) {
			struct virtio_blk_state s;

			virtio_blk_save(&blk, &s);
			/* A healthy device's state must load back. (One a driver broke may not:
			 * load refuses unoffered driver features and ready queues whose rings
			 * are bad, both reachable before FEATURES_OK or with NEEDS_RESET.) */
			if (virtio_blk_load(&blk, &s))
				check(!(s.transport.status & VIRTIO_STATUS_FEATURES_OK) ||
					      (s.transport.status & VIRTIO_STATUS_NEEDS_RESET),
				      "a healthy device's saved state loads back");
		} else {
			setup(ctl);
		}
		invariants();
	}
	/* Whatever happened, a reset returns the device to a clean state. */
	wr(VIRTIO_MMIO_STATUS, 0);
	check(rd(VIRTIO_MMIO_STATUS) == 0 && blk.t.queues[0].desc == NULL, "reset");
	return 0;
}
