/* arm64.c: loader_load() on arm64: a Linux arm64 Image (arch/arm64/image.h parses its header and
 * places it, the device tree and the initrd; Documentation/arch/arm64/booting.rst). kiln's arm64
 * test guests are Images too. The device tree itself is the board's (arch_prepare_boot()). */
#include "loader/loader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"

int loader_load(const struct gmem *gm, const struct loader_args *args, struct boot_entry *entry,
		char *why, size_t why_size)
{
	const struct loader_image *k = &args->kernel, *rd = &args->initrd;
	const struct gmem_region *ram = gmem_region(gm, 0);
	struct arm64_image_info info;
	struct arm64_boot_layout l;
	char err[LOADER_ERR_MAX - 64];
	int e;

	memset(entry, 0, sizeof(*entry));
	if (args->flat) {
		snprintf(why, why_size, "--flat: raw real-mode binaries are x86 only");
		return -EINVAL;
	}
	if ((e = arm64_image_parse(k->data, k->size, &info, err, sizeof(err)))) {
		snprintf(why, why_size, "%s: %s", k->path, err);
		return e;
	}
	if ((e = arm64_image_place(&info, ram->gpa, ram->size, ARM64_DTB_SIZE,
				   rd->data ? rd->size : 0, &l, err, sizeof(err)))) {
		snprintf(why, why_size, "%s: %s", k->path, err);
		return e;
	}
	if (gmem_write(gm, l.kernel_addr, k->data, k->size) ||
	    (rd->data && gmem_write(gm, l.initrd_addr, rd->data, rd->size))) {
		snprintf(why, why_size, "%s: does not fit in guest RAM", k->path);
		return -EINVAL;
	}
	entry->format = "arm64 Image";
	entry->pc = l.kernel_addr;
	entry->linux_guest = true;
	entry->image_start = l.kernel_addr;
	entry->image_end = l.kernel_end;
	entry->dtb_addr = l.dtb_addr;
	entry->dtb_max = l.dtb_max;
	if (rd->data) {
		entry->initrd_start = l.initrd_addr;
		entry->initrd_end = l.initrd_addr + rd->size;
	}
	entry->cmdline = args->linux_cmdline ? args->linux_cmdline : args->cmdline;
	return 0;
}
