/* memmap.c: the e820-style map every x86 boot protocol reports. */
#include "arch/x86/memmap.h"

#include "arch/x86/layout.h"

unsigned int x86_memmap(const struct gmem *gm, struct x86_memmap_entry *out)
{
	unsigned int n = 0;
	uint64_t low_end = gmem_low_end(gm);

	out[n++] = (struct x86_memmap_entry){ 0, low_end < X86_EBDA_START ? low_end : X86_EBDA_START,
					      X86_MEMMAP_RAM };
	if (low_end > X86_EBDA_START)
		out[n++] = (struct x86_memmap_entry){ X86_EBDA_START, X86_HIGH_MEMORY - X86_EBDA_START,
						      X86_MEMMAP_RESERVED };
	if (low_end > X86_HIGH_MEMORY)
		out[n++] = (struct x86_memmap_entry){ X86_HIGH_MEMORY, low_end - X86_HIGH_MEMORY,
						      X86_MEMMAP_RAM };
	for (unsigned int i = 0; i < gmem_nr_regions(gm) && n < X86_MEMMAP_MAX; i++) {
		const struct gmem_region *r = gmem_region(gm, i);

		if (r->gpa >= X86_MMIO_HOLE_END)
			out[n++] = (struct x86_memmap_entry){ r->gpa, r->size, X86_MEMMAP_RAM };
	}
	return n;
}
