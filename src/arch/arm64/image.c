/* image.c: the Linux arm64 Image header and the boot layout in RAM (Linux
 * Documentation/arch/arm64/booting.rst, sections 3 to 5). */
#include "arch/arm64/image.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Header fields are little-endian whatever the host: read them byte by byte. */
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint64_t align_down(uint64_t v, uint64_t align)
{
	return v & ~(align - 1);
}

/* align_up that reports a wrap past 2^64 instead of returning 0. */
static bool align_up_checked(uint64_t v, uint64_t align, uint64_t *res)
{
	if (add_overflow(v, align - 1, res))
		return false;
	*res &= ~(align - 1);
	return true;
}

int arm64_image_parse(const uint8_t *buf, size_t len, struct arm64_image_info *out, char *err,
		      size_t err_size)
{
	uint32_t magic;
	uint64_t page;

	if (len < ARM64_IMAGE_HDR_SIZE) {
		snprintf(err, err_size, "arm64 Image truncated: %zu bytes, the header alone is %u",
			 len, ARM64_IMAGE_HDR_SIZE);
		return -EINVAL;
	}
	magic = le32(buf + ARM64_IMAGE_MAGIC_OFF);
	if (magic != ARM64_IMAGE_MAGIC) {
		if (buf[0] == 0x1f && buf[1] == 0x8b)
			snprintf(err, err_size, "gzip-compressed (an Image.gz): decompress it, kiln "
				 "loads the plain arm64 Image");
		else if (buf[0] == 'M' && buf[1] == 'Z' && !memcmp(buf + 4, "zimg", 4))
			snprintf(err, err_size, "an EFI zboot image (vmlinuz.efi): kiln loads the "
				 "plain arm64 Image inside it");
		else
			snprintf(err, err_size, "not an arm64 Image: magic at offset %u is 0x%08" PRIx32
				 " (want 0x%08x, \"ARM\\x64\")", ARM64_IMAGE_MAGIC_OFF, magic,
				 ARM64_IMAGE_MAGIC);
		return -EINVAL;
	}

	memset(out, 0, sizeof(*out));
	out->file_size = len;
	out->image_size = le64(buf + 16);
	if (out->image_size == 0) {
		/* Before v3.17: text_offset's endianness was unspecified and the flags did not
		 * exist; booting.rst says to assume 0x80000. */
		out->text_offset = ARM64_IMAGE_LEGACY_TEXT_OFFSET;
		return 0;
	}
	out->text_offset = le64(buf + 8);
	out->flags = le64(buf + 24);
	out->big_endian = out->flags & ARM64_IMAGE_FLAG_BE;
	page = (out->flags & ARM64_IMAGE_FLAG_PAGE_MASK) >> ARM64_IMAGE_FLAG_PAGE_SHIFT;
	out->page_size_kib = page ? 4u << (2 * (page - 1)) : 0;
	out->place_anywhere = out->flags & ARM64_IMAGE_FLAG_PHYS_ANYWHERE;

	if (out->big_endian) {
		snprintf(err, err_size, "big-endian arm64 Image (flags 0x%" PRIx64 ", bit 0): kiln "
			 "boots little-endian kernels only", out->flags);
		return -EINVAL;
	}
	/* arch/arm64/kernel/head.S (v3.17 to v5.7, when TEXT_OFFSET existed) refused to build
	 * with a text_offset that is not 4 KiB-aligned or not below 2 MiB; anything else is not
	 * a kernel. */
	if (out->text_offset % 4096 || out->text_offset >= ARM64_KERNEL_ALIGN) {
		snprintf(err, err_size, "arm64 Image text_offset 0x%" PRIx64 " is not a 4 KiB "
			 "multiple below 2 MiB", out->text_offset);
		return -EINVAL;
	}
	return 0;
}

int arm64_image_place(const struct arm64_image_info *info, uint64_t ram_base, uint64_t ram_size,
		      uint64_t dtb_size, uint64_t initrd_size, struct arm64_boot_layout *out,
		      char *err, size_t err_size)
{
	uint64_t ram_end, kernel_span, limit, win_end, top;

	memset(out, 0, sizeof(*out));
	if (add_overflow(ram_base, ram_size, &ram_end) || ram_size == 0) {
		snprintf(err, err_size, "guest RAM at 0x%" PRIx64 " of 0x%" PRIx64 " bytes is not "
			 "a valid range", ram_base, ram_size);
		return -EINVAL;
	}
	if (dtb_size == 0 || dtb_size > ARM64_DTB_MAX) {
		snprintf(err, err_size, "device tree of %" PRIu64 " bytes: arm64 allows 1 to %llu",
			 dtb_size, ARM64_DTB_MAX);
		return -EINVAL;
	}

	/* The kernel owns image_size bytes from its first byte (its BSS included); a file longer
	 * than that (trailing data) is still copied, so it is reserved too. */
	kernel_span = info->image_size > info->file_size ? info->image_size : info->file_size;
	if (!align_up_checked(ram_base, ARM64_KERNEL_ALIGN, &out->kernel_base) ||
	    add_overflow(out->kernel_base, info->text_offset, &out->kernel_addr) ||
	    add_overflow(out->kernel_addr, kernel_span, &out->kernel_end) ||
	    out->kernel_end > ram_end) {
		snprintf(err, err_size, "arm64 Image needs 0x%" PRIx64 " bytes at text_offset 0x%"
			 PRIx64 " past a 2 MiB boundary; guest RAM 0x%" PRIx64 "-0x%" PRIx64
			 " is too small", kernel_span, info->text_offset, ram_base, ram_end);
		return -EINVAL;
	}
	if (info->place_anywhere && out->kernel_end > ARM64_PHYS_LIMIT_48) {
		snprintf(err, err_size, "arm64 Image would end at 0x%" PRIx64 ", above the 48-bit "
			 "limit its flags (bit 3) ask for", out->kernel_end);
		return -EINVAL;
	}

	/* The DTB: as high as it goes in RAM and within 512 MiB of the 2 MiB base. */
	limit = ram_end;
	if (out->kernel_base < ram_end && ram_end - out->kernel_base > ARM64_DTB_WINDOW)
		limit = out->kernel_base + ARM64_DTB_WINDOW;
	if (out->kernel_end > limit || limit - out->kernel_end < dtb_size ||
	    (out->dtb_addr = align_down(limit - dtb_size, ARM64_KERNEL_ALIGN)) < out->kernel_end) {
		snprintf(err, err_size, "no room for the device tree (%" PRIu64 " bytes, 2 MiB-"
			 "aligned) between the kernel's end 0x%" PRIx64 " and 0x%" PRIx64,
			 dtb_size, out->kernel_end, limit);
		out->dtb_addr = 0;
		return -EINVAL;
	}
	out->dtb_max = dtb_size;
	if (initrd_size == 0)
		return 0;

	/* The initrd: with the Image, inside a 1 GiB-aligned window of 32 GiB. */
	win_end = align_down(out->kernel_base, ARM64_INITRD_WINDOW_ALIGN) + ARM64_INITRD_WINDOW;
	if (win_end < out->kernel_base) /* the window ends at 2^64 */
		win_end = UINT64_MAX;
	out->initrd_size = initrd_size;
	/* First choice: right below the DTB. */
	if (out->dtb_addr - out->kernel_end >= initrd_size) {
		out->initrd_addr = align_down(out->dtb_addr - initrd_size, ARM64_INITRD_ALIGN);
		if (out->initrd_addr >= out->kernel_end)
			return 0;
	}
	/* Else as high as it goes above the DTB. */
	top = ram_end < win_end ? ram_end : win_end;
	limit = out->dtb_addr + dtb_size; /* at most ram_end: no wrap */
	if (top > limit && top - limit >= initrd_size) {
		out->initrd_addr = align_down(top - initrd_size, ARM64_INITRD_ALIGN);
		if (out->initrd_addr >= limit)
			return 0;
	}
	out->initrd_addr = 0;
	out->initrd_size = 0;
	snprintf(err, err_size, "initrd of %" PRIu64 " bytes does not fit in guest RAM 0x%" PRIx64
		 "-0x%" PRIx64 " beside the kernel (to 0x%" PRIx64 ") and the device tree, below 0x%"
		 PRIx64 " (32 GiB past the kernel's 1 GiB boundary)", initrd_size, ram_base, ram_end,
		 out->kernel_end, win_end);
	return -EINVAL;
}
