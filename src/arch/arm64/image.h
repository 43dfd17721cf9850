/* image.h: the Linux arm64 Image header, and where the Image, its device tree and its initrd go
 * in guest RAM (Linux Documentation/arch/arm64/booting.rst). Pure code, no KVM: built and
 * unit-tested on any host. */
#ifndef KILN_ARCH_ARM64_IMAGE_H
#define KILN_ARCH_ARM64_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

/* The header: the first 64 bytes of an Image, every field little-endian. */
#define ARM64_IMAGE_HDR_SIZE 64u
#define ARM64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64" at offset 56 */
#define ARM64_IMAGE_MAGIC_OFF 56u

/* flags (booting.rst, "Header notes"); meaningful only when image_size is not zero. */
#define ARM64_IMAGE_FLAG_BE (1ull << 0)           /* kernel is big-endian */
#define ARM64_IMAGE_FLAG_PAGE_SHIFT 1             /* bits 1-2: 0 unspecified, 1 4K, 2 16K, 3 64K */
#define ARM64_IMAGE_FLAG_PAGE_MASK (3ull << 1)
#define ARM64_IMAGE_FLAG_PHYS_ANYWHERE (1ull << 3) /* 2 MiB base anywhere below 2^48 */

/* Before v3.17 image_size was zero and text_offset of unspecified endianness: booting.rst says
 * to assume 0x80000 then. */
#define ARM64_IMAGE_LEGACY_TEXT_OFFSET 0x80000ull

#define ARM64_KERNEL_ALIGN (2ull << 20) /* the Image goes text_offset past a 2 MiB boundary */
#define ARM64_DTB_ALIGN 8ull
#define ARM64_DTB_MAX (2ull << 20)
/* Kernels before v4.2 need the DTB within 512 MiB of the 2 MiB base below the Image. */
#define ARM64_DTB_WINDOW (512ull << 20)
/* The initrd must lie, with the Image, inside a 1 GiB-aligned window of at most 32 GiB. */
#define ARM64_INITRD_WINDOW_ALIGN (1ull << 30)
#define ARM64_INITRD_WINDOW (32ull << 30)
#define ARM64_INITRD_ALIGN 4096ull
/* With flags bit 3 set the Image (all image_size bytes) must be below this. */
#define ARM64_PHYS_LIMIT_48 (1ull << 48)

struct arm64_image_info {
	uint64_t text_offset; /* from the 2 MiB-aligned base to the Image's first byte */
	uint64_t image_size;  /* bytes from the Image's start the kernel uses (its BSS too); 0: legacy */
	uint64_t flags;       /* raw, 0 for a legacy (image_size 0) Image */
	bool big_endian;
	unsigned page_size_kib; /* 4, 16, 64, or 0 when the Image does not say */
	bool place_anywhere;    /* flags bit 3 */
	uint64_t file_size;     /* the buffer's length: what is copied into RAM */
};

/* Parses the header at the start of buf (len bytes, the whole Image file). Returns 0 and fills
 * *out, or -EINVAL with one line in err naming what is wrong (the file is too short, its magic is
 * not "ARM\x64" (a gzip or EFI zboot file is named as such), it is big-endian, or its text_offset
 * is not a 4 KiB multiple below 2 MiB as every arm64 kernel's head.S requires). A legacy Image
 * (image_size 0) gets text_offset 0x80000 and flags 0 whatever its header says. */
int __must_check arm64_image_parse(const uint8_t *buf, size_t len, struct arm64_image_info *out,
				   char *err, size_t err_size);

/* Where each piece goes, guest-physical. */
struct arm64_boot_layout {
	uint64_t kernel_base; /* the 2 MiB-aligned base: the Image is at kernel_base + text_offset */
	uint64_t kernel_addr; /* where the file's first byte goes; the entry point (pc) */
	uint64_t kernel_end;  /* kernel_addr + max(image_size, file_size): the kernel owns up to here */
	uint64_t dtb_addr;    /* 2 MiB-aligned, so a DTB (at most 2 MiB) lies in one 2 MiB block */
	uint64_t dtb_max;     /* the room at dtb_addr: the dtb_size asked for */
	uint64_t initrd_addr; /* 4 KiB-aligned; 0 when initrd_size is 0 */
	uint64_t initrd_size;
};

/* Lays out an Image described by *info in RAM [ram_base, ram_base + ram_size):
 *   - the Image at the lowest 2 MiB boundary at or above ram_base, plus text_offset (booting.rst
 *     asks for a base as close to the start of RAM as possible unless flags bit 3 is set, and
 *     kernels before v4.6 cannot use memory below it; with bit 3, it must end below 2^48);
 *   - the DTB (dtb_size bytes, at most 2 MiB: pass the size of the buffer the tree will be
 *     built into) at the highest 2 MiB boundary from which it fits both in RAM and within 512
 *     MiB of kernel_base;
 *   - the initrd (initrd_size bytes, 0 for none) just below the DTB, or failing that as high as
 *     it fits in RAM and in the 1 GiB-aligned 32 GiB window that holds the Image, above the DTB.
 * Nothing overlaps. Returns 0 and fills *out, or -EINVAL with one line in err naming what does
 * not fit and the sizes involved. */
int __must_check arm64_image_place(const struct arm64_image_info *info, uint64_t ram_base,
				   uint64_t ram_size, uint64_t dtb_size, uint64_t initrd_size,
				   struct arm64_boot_layout *out, char *err, size_t err_size);

#endif
