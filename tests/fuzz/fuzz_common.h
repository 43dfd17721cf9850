/* fuzz_common.h: what every virtio fuzz target sets up the same way: guest RAM with nothing
 * mapped after it, and 32-bit register accesses to a device's transport. */
#ifndef KILN_TESTS_FUZZ_COMMON_H
#define KILN_TESTS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/virtio.h"
#include "kvm/memory.h"

/* `size` bytes of RAM at guest-physical 0 (*ram its host address), ending at a page boundary
 * followed by an inaccessible page, so any overrun faults. Aborts on failure. */
static inline struct gmem *fuzz_guest_ram(size_t size, uint8_t **ram)
{
	struct gmem_region r;
	struct gmem *gm;
	uint8_t *p = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	if (p == MAP_FAILED || mprotect(p + size, 4096, PROT_NONE))
		abort();
	r = (struct gmem_region){ .gpa = 0, .size = size, .hva = p };
	if (gmem_create_from(&gm, &r, 1))
		abort();
	*ram = p;
	return gm;
}

static inline void fuzz_mmio_wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_write(t, off, &v, 4);
}

static inline uint32_t fuzz_mmio_rd(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v = 0;

	virtio_mmio_read(t, off, &v, 4);
	return v;
}

/* The driver's side of one queue: size, ring addresses (16-bit offsets into RAM, plus `high`,
 * which may move them outside it) and QueueReady. Any of it may be refused: that is the game. */
static inline void fuzz_queue_setup(struct virtio_mmio *t, unsigned int q, uint16_t num,
				    uint16_t desc, uint16_t avail, uint16_t used, uint64_t high)
{
	fuzz_mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, q);
	fuzz_mmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, num);
	fuzz_mmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(desc + high));
	fuzz_mmio_wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(avail + high));
	fuzz_mmio_wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(used + high));
	fuzz_mmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* A driver's status and feature steps up to FEATURES_OK, offering `features`. */
static inline void fuzz_driver_features(struct virtio_mmio *t, uint64_t features)
{
	const uint32_t drv = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	fuzz_mmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	fuzz_mmio_wr(t, VIRTIO_MMIO_STATUS, drv);
	fuzz_mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fuzz_mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	fuzz_mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fuzz_mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	fuzz_mmio_wr(t, VIRTIO_MMIO_STATUS, drv | VIRTIO_STATUS_FEATURES_OK);
}

/* The last status step: DRIVER_OK. */
static inline void fuzz_driver_ok(struct virtio_mmio *t)
{
	fuzz_mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						    VIRTIO_STATUS_FEATURES_OK |
						    VIRTIO_STATUS_DRIVER_OK);
}

#endif
