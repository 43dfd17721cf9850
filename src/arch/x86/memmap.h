/* memmap.h: the guest's physical memory map as a firmware would report it (e820 / multiboot). */
#ifndef KILN_ARCH_X86_MEMMAP_H
#define KILN_ARCH_X86_MEMMAP_H

#include <stdint.h>

#include "kvm/memory.h"

#define X86_MEMMAP_RAM 1
#define X86_MEMMAP_RESERVED 2
#define X86_MEMMAP_MAX 8

struct x86_memmap_entry {
	uint64_t addr;
	uint64_t len;
	uint32_t type;
};

/* Fills `out` (X86_MEMMAP_MAX entries) for the RAM in `gm`: conventional memory up to the EBDA,
 * the legacy area reserved, RAM from 1 MiB to the MMIO hole, RAM above 4 GiB. Returns the count. */
unsigned int x86_memmap(const struct gmem *gm, struct x86_memmap_entry *out);

#endif
