/* flat.c: raw real-mode binaries, kvmtool's convention: loaded at 0x10000, entered at 1000:0000. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "loader/loader.h"

int loader_load_flat(const struct gmem *gm, const struct loader_args *args, struct boot_entry *entry,
		     char *why, size_t why_size)
{
	const struct loader_image *k = &args->kernel;
	uint64_t room = gmem_low_end(gm) > X86_FLAT_LOAD_ADDR ? gmem_low_end(gm) - X86_FLAT_LOAD_ADDR : 0;
	void *dst;

	if (args->initrd.data) {
		snprintf(why, why_size, "%s: a flat binary cannot take an initrd (-i)", k->path);
		return -EINVAL;
	}
	if (args->cmdline) {
		snprintf(why, why_size, "%s: a flat binary cannot take a command line (-p)",
			 k->path);
		return -EINVAL;
	}
	if (k->size > room) {
		snprintf(why, why_size,
			 "%s: flat binary of %zu bytes does not fit in guest RAM above 0x%llx "
			 "(%llu bytes free)",
			 k->path, k->size, X86_FLAT_LOAD_ADDR, (unsigned long long)room);
		return -EINVAL;
	}
	dst = gmem_ptr(gm, X86_FLAT_LOAD_ADDR, k->size);
	if (!dst) {
		snprintf(why, why_size, "%s: load address 0x%llx is outside guest RAM", k->path,
			 X86_FLAT_LOAD_ADDR);
		return -EINVAL;
	}
	memcpy(dst, k->data, k->size);
	*entry = (struct boot_entry){
		.mode = BOOT_REAL16,
		.format = "flat",
		.rip = 0,
		.rsp = X86_FLAT_SP,
		.real_segment = X86_FLAT_SEGMENT,
		.image_start = X86_FLAT_LOAD_ADDR,
		.image_end = X86_FLAT_LOAD_ADDR + k->size,
	};
	return 0;
}
