/* fuzz_loader.c: libFuzzer target for the guest image loaders (src/loader/): the input's first
 * byte chooses how it is loaded (detected from its contents as `kiln run -k` does, or as a flat
 * --flat binary, with or without an initrd and a command line), the rest is the image. ELF (32
 * and 64 bit), multiboot (ELF and a.out kludge), bzImage, vmlinux and PVH all come from the
 * detection path. Loading must refuse or succeed without reading outside the image or writing
 * outside guest RAM, whose end is followed by an inaccessible page. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "loader/loader.h"

#define RAM_SIZE (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem *gm;
	static uint8_t *ram;
	static const uint8_t initrd[] = "fuzz initrd";
	struct loader_args args;
	struct boot_entry entry;
	char why[LOADER_ERR_MAX];

	if (!gm)
		gm = fuzz_guest_ram(RAM_SIZE, &ram);
	if (size < 1)
		return 0;
	memset(&args, 0, sizeof(args));
	args.kernel = (struct loader_image){ .data = data + 1, .size = size - 1, .path = "fuzz" };
	args.flat = data[0] & 1;
	if (data[0] & 2)
		args.initrd = (struct loader_image){ .data = initrd, .size = sizeof(initrd),
						     .path = "fuzz-initrd" };
	args.cmdline = data[0] & 4 ? "console=ttyS0 fuzz" : NULL;
	args.acpi_rsdp = data[0] & 8 ? 0xe0000 : 0;
	memset(&entry, 0, sizeof(entry));
	(void)loader_load(gm, &args, &entry, why, sizeof(why));
	return 0;
}
