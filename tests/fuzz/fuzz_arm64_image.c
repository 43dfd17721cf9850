/* fuzz_arm64_image.c: libFuzzer target for the arm64 boot path that reads a file
 * (src/arch/arm64/image.c) and the device tree written from its result (src/arch/arm64/fdt.c).
 * Input: 16 control bytes, then the Image file.
 *   c[0..3]  guest RAM size in 4 KiB units, minus one     c[4..7]  RAM base in 4 KiB units
 *   c[8..11] DTB size (only the low 22 bits)              c[12]    RAM base shift (bits 0-4)
 *   c[13]    initrd size shift (bits 0-5)                 c[14]    initrd size mantissa
 *   c[15]    CPUs (bits 0-4, plus one), GICv2 (bit 5), no UART (bit 6), kaslr seed (bit 7)
 * Parsing reads only the file's bytes (it ends where libFuzzer's buffer does); a layout that is
 * accepted must follow booting.rst (aborts otherwise), and a tree that is built must pass
 * libfdt's full check. Everything is arithmetic: no guest RAM is mapped. */
#include <libfdt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/image.h"

#define CTL 16
#define FDT_BUF (64 * 1024)

static uint64_t le32(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

/* a + b, or UINT64_MAX where that wraps: the limits the layout code saturates the same way. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

/* booting.rst's rules, as arm64_image_place() promises them. */
static void check_layout(const struct arm64_image_info *info, const struct arm64_boot_layout *l,
			 uint64_t base, uint64_t size, uint64_t dtb, uint64_t initrd)
{
	uint64_t end = base + size;
	uint64_t span = info->image_size > info->file_size ? info->image_size : info->file_size;

	if (l->kernel_base % ARM64_KERNEL_ALIGN || l->kernel_base < base ||
	    l->kernel_base - base >= ARM64_KERNEL_ALIGN ||
	    l->kernel_addr != l->kernel_base + info->text_offset ||
	    l->kernel_end != l->kernel_addr + span || l->kernel_end > end)
		abort();
	if (info->place_anywhere && l->kernel_end > ARM64_PHYS_LIMIT_48)
		abort();
	if (l->dtb_addr % ARM64_DTB_ALIGN || l->dtb_addr < l->kernel_end ||
	    l->dtb_addr + dtb > end || l->dtb_addr + dtb > sat_add(l->kernel_base, ARM64_DTB_WINDOW) ||
	    l->dtb_addr / ARM64_KERNEL_ALIGN != (l->dtb_addr + dtb - 1) / ARM64_KERNEL_ALIGN ||
	    l->dtb_max != dtb)
		abort();
	if (l->initrd_size != initrd || (!initrd && l->initrd_addr))
		abort();
	if (initrd && (l->initrd_addr % ARM64_INITRD_ALIGN || l->initrd_addr < l->kernel_end ||
		       l->initrd_addr + initrd > end ||
		       overlap(l->dtb_addr, dtb, l->initrd_addr, initrd) ||
		       l->initrd_addr + initrd >
			       sat_add(l->kernel_base & ~(ARM64_INITRD_WINDOW_ALIGN - 1),
				       ARM64_INITRD_WINDOW)))
		abort();
}

static void build_tree(const uint8_t *c, const struct arm64_boot_layout *l, uint64_t base,
		       uint64_t size)
{
	static uint8_t buf[FDT_BUF];
	struct arm64_fdt_desc d = {
		.mem_base = base, .mem_size = size,
		.nr_cpus = (c[15] & 31u) + 1, .gic_version = c[15] & 32 ? 2 : 3,
		.gic_dist_base = 0x08000000, .gic_dist_size = 0x10000,
		.gic_redist_base = 0x080a0000, .gic_redist_size = 0xf60000,
		.gic_cpu_base = 0x08010000, .gic_cpu_size = 0x10000,
		.timer_ppis = { 13, 14, 11, 10 },
		.uart_base = 0x09000000, .uart_size = c[15] & 64 ? 0 : 0x1000, .uart_spi = 1,
		.virtio = { { 0x0a000000, 0x200, 16 }, { 0x0a000200, 0x200, 17 } },
		.nr_virtio = 2,
		.bootargs = "console=ttyAMA0",
		.initrd_start = l->initrd_addr,
		.initrd_end = l->initrd_addr + l->initrd_size,
		.kaslr_seed = c[15] & 128 ? le32(c) : 0,
	};
	char err[256];
	size_t room = l->dtb_max < FDT_BUF ? (size_t)l->dtb_max : FDT_BUF;

	err[0] = 0;
	if (arm64_fdt_build(buf, room, &d, err, sizeof(err))) {
		if (!err[0])
			abort(); /* a refusal says why */
		return;
	}
	if (fdt_check_full(buf, room) || fdt_totalsize(buf) > room)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arm64_image_info info;
	struct arm64_boot_layout l;
	uint64_t ram_base, ram_size, dtb, initrd;
	char err[256];
	uint8_t *img;
	size_t len;

	if (size < CTL)
		return 0;
	ram_size = (le32(data) + 1) << 12;
	ram_base = le32(data + 4) << 12 << (data[12] & 31);
	dtb = le32(data + 8) & 0x3fffff;
	initrd = (uint64_t)data[14] << (data[13] & 63);
	/* A copy of exactly the file's length, so ASan sees any read past its end. */
	len = size - CTL;
	img = malloc(len ? len : 1);
	if (!img)
		abort();
	memcpy(img, data + CTL, len);
	err[0] = 0;
	if (arm64_image_parse(img, len, &info, err, sizeof(err))) {
		if (!err[0])
			abort();
		goto out;
	}
	if (arm64_image_place(&info, ram_base, ram_size, dtb, initrd, &l, err, sizeof(err))) {
		if (!err[0])
			abort();
		goto out;
	}
	check_layout(&info, &l, ram_base, ram_size, dtb, initrd);
	build_tree(data, &l, ram_base, ram_size);
out:
	free(img);
	return 0;
}
