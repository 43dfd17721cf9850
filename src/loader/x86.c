/* x86.c: loader_load() on x86-64: which of the x86 formats (flat, bzImage, multiboot, ELF, PVH)
 * an image is, from its contents. */
#include "loader/loader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int loader_load(const struct gmem *gm, const struct loader_args *args, struct boot_entry *entry,
		char *why, size_t why_size)
{
	const struct loader_image *k = &args->kernel;
	long mb, bad;

	memset(entry, 0, sizeof(*entry));
	if (args->flat)
		return loader_load_flat(gm, args, entry, why, why_size);
	if (linux_is_bzimage(k))
		return loader_load_bzimage(gm, args, entry, why, why_size);
	mb = multiboot_find_header(k, &bad);
	if (mb >= 0)
		return loader_load_multiboot(gm, args, (size_t)mb, entry, why, why_size);
	if (elf_is_elf(k) && elf_class(k) == 2 /* ELFCLASS64 */) {
		uint32_t pvh;

		/* A Linux vmlinux takes the 64-bit boot protocol; another ELF with only a PVH entry
		 * (Xen-style kernels) takes PVH; anything else is a bare 64-bit ELF. */
		if (elf_has_linux_note(k))
			return loader_load_vmlinux(gm, args, entry, why, why_size);
		if (elf_pvh_entry(k, &pvh) == 0)
			return loader_load_pvh(gm, args, pvh, entry, why, why_size);
		return loader_load_elf64(gm, args, entry, why, why_size);
	}
	if (bad >= 0) {
		snprintf(why, why_size,
			 "%s: multiboot header at offset 0x%lx has a bad checksum "
			 "(magic + flags + checksum must be 0)",
			 k->path, bad);
		return -EINVAL;
	}
	if (elf_is_elf(k)) {
		if (elf_class(k) == 1 /* ELFCLASS32 */)
			snprintf(why, why_size,
				 "%s: 32-bit ELF without a multiboot header: kiln boots 32-bit kernels "
				 "through multiboot only",
				 k->path);
		else
			snprintf(why, why_size, "%s: ELF of unknown class %u", k->path,
				 k->size > 4 ? k->data[4] : 0);
		return -EINVAL;
	}
	snprintf(why, why_size,
		 "%s: unknown format: not a Linux bzImage, 64-bit ELF or multiboot kernel "
		 "(for a raw real-mode binary, use --flat)",
		 k->path);
	return -EINVAL;
}
