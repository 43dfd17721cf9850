/* fuzz_common.h: what every virtio fuzz target sets up the same way: guest RAM with nothing
 * mapped after it, and 32-bit register accesses to a device's transport. */
#ifndef KILN_TESTS_FUZZ_COMMON_H
#define KILN_TESTS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "devices/virtio/mmio.h"
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

#endif
