/* test_arm64_image.c: the Linux arm64 Image header parser and the boot layout
 * (src/arch/arm64/image.c) against Documentation/arch/arm64/booting.rst: headers built in memory,
 * good and hostile, each handed over in a copy that ends flush against a PROT_NONE page so a read
 * past the end faults; layouts for small, large, unaligned and absurd RAM, and a seeded sweep that
 * checks every layout against the protocol's rules. Debian's arm64 kernel is parsed and placed too
 * when one is on this machine ($KILN_ARM64_IMAGE, or the arm64 tier's download in ~/.cache/kiln). */
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arm64/image.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define RAM_BASE 0x40000000ull /* where QEMU's virt board and kiln put arm64 RAM */

static char err[256];

/* ---- images ---------------------------------------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header as `make Image` writes it: a branch in code0, then the fields, then "ARM\x64". */
static void header(uint8_t *h, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(h, 0, ARM64_IMAGE_HDR_SIZE);
	put_le(h, 0x14000010, 4); /* b #0x40 */
	put_le(h + 8, text_offset, 8);
	put_le(h + 16, image_size, 8);
	put_le(h + 24, flags, 8);
	memcpy(h + 56, "ARM\x64", 4);
}

/* len bytes (a copy of src, or zeros past it) ending exactly at a PROT_NONE page. */
static uint8_t *guarded(const uint8_t *src, size_t src_len, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t span = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
	uint8_t *p = mmap(NULL, span + (size_t)page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(mprotect(p + span, (size_t)page, PROT_NONE), 0);
	p += span - len;
	memcpy(p, src, src_len < len ? src_len : len);
	return p;
}

static int parse(const uint8_t *h, size_t len, struct arm64_image_info *info)
{
	memset(err, 0, sizeof(err));
	return arm64_image_parse(guarded(h, ARM64_IMAGE_HDR_SIZE, len), len, info, err, sizeof(err));
}

Test(image, debian_like_image)
{
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image_info info;

	/* Debian 12's arm64 kernel: text_offset 0, LE, 4K pages, bit 3 set. */
	header(h, 0, 0x2210000, 0xa);
	cr_assert_eq(parse(h, 30 * MIB, &info), 0, "%s", err);
	cr_expect_eq(info.text_offset, 0);
	cr_expect_eq(info.image_size, 0x2210000);
	cr_expect_eq(info.flags, 0xa);
	cr_expect_not(info.big_endian);
	cr_expect_eq(info.page_size_kib, 4);
	cr_expect(info.place_anywhere);
	cr_expect_eq(info.file_size, 30 * MIB);
}

Test(image, page_size_and_placement_flags)
{
	static const unsigned kib[] = { 0, 4, 16, 64 };
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image_info info;

	for (unsigned p = 0; p < 4; p++) {
		for (unsigned anywhere = 0; anywhere < 2; anywhere++) {
			header(h, 0x80000, 0x1000000, (uint64_t)p << 1 | (uint64_t)anywhere << 3);
			cr_assert_eq(parse(h, 4096, &info), 0, "%s", err);
			cr_expect_eq(info.page_size_kib, kib[p], "flags page field %u", p);
			cr_expect_eq(info.place_anywhere, anywhere == 1);
			cr_expect_eq(info.text_offset, 0x80000);
		}
	}
}

Test(image, header_only_file)
{
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image_info info;

	header(h, 0, 0x100000, 0x2);
	cr_assert_eq(parse(h, ARM64_IMAGE_HDR_SIZE, &info), 0, "%s", err);
	cr_expect_eq(info.file_size, ARM64_IMAGE_HDR_SIZE);
}

Test(image, truncated)
{
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image_info info;

	header(h, 0, 0x100000, 0x2);
	for (size_t len = 0; len < ARM64_IMAGE_HDR_SIZE; len++) {
		cr_expect_eq(parse(h, len, &info), -EINVAL, "%zu bytes", len);
		cr_expect(strstr(err, "truncated") != NULL, "%zu bytes: %s", len, err);
	}
	cr_expect_str_eq(err, "arm64 Image truncated: 63 bytes, the header alone is 64");
}

Test(image, bad_magic)
{
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image_info info;

	header(h, 0, 0x100000, 0x2);
	h[59] = 0x65; /* "ARM\x65" */
	cr_expect_eq(parse(h, 4096, &info), -EINVAL);
	cr_expect_str_eq(err, "not an arm64 Image: magic at offset 56 is 0x654d5241 (want 0x644d5241, "
			 "\"ARM\\x64\")");
	/* The magic in the wrong byte order (a big-endian host's mistake) is refused too. */
	memcpy(h + 56, "\x64MRA", 4);
	cr_expect_eq(parse(h, 4096, &info), -EINVAL);
	cr_expect(strstr(err, "0x41524d64") != NULL, "%s", err);
}

Test(image, compressed_images_named)
{
	uint8_t h[ARM64_IMAGE_HDR_SIZE] = { 0x1f, 0x8b, 0x08 };
	struct arm64_image_info info;

	cr_expect_eq(parse(h, 4096, &info), -EINVAL);
	cr_expect(strstr(err, "gzip-compressed") != NULL, "%s", err);
	memset(h, 0, sizeof(h));
	memcpy(h, "MZ\0\0zimg", 8);
	cr_expect_eq(parse(h, 4096, &info), -EINVAL);
	cr_expect(strstr(err, "EFI zboot") != NULL, "%s", err);
}

Test(image, big_endian_refused)
{
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image_info info;

	header(h, 0, 0x100000, 0x3);
	cr_expect_eq(parse(h, 4096, &info), -EINVAL);
	cr_expect(info.big_endian);
	cr_expect_str_eq(err, "big-endian arm64 Image (flags 0x3, bit 0): kiln boots little-endian "
			 "kernels only");
}

Test(image, legacy_image_size_zero)
{
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image_info info;

	/* Before v3.17: text_offset in the kernel's own byte order (here big-endian 0x80000) and
	 * no flags; booting.rst says assume 0x80000, whatever the fields hold. */
	header(h, 0x0000080000000000ull, 0, 0xffffffffffffffffull);
	cr_assert_eq(parse(h, 8 * MIB, &info), 0, "%s", err);
	cr_expect_eq(info.text_offset, ARM64_IMAGE_LEGACY_TEXT_OFFSET);
	cr_expect_eq(info.image_size, 0);
	cr_expect_eq(info.flags, 0);
	cr_expect_not(info.big_endian);
	cr_expect_eq(info.page_size_kib, 0);
	cr_expect_not(info.place_anywhere);
}

Test(image, bad_text_offset)
{
	static const uint64_t bad[] = { 0x1001, 0x800, 2 * MIB, 0x8000000000000000ull,
					UINT64_MAX & ~0xfffull };
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image_info info;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		header(h, bad[i], 0x100000, 0x2);
		cr_expect_eq(parse(h, 4096, &info), -EINVAL, "text_offset 0x%llx",
			     (unsigned long long)bad[i]);
		cr_expect(strstr(err, "text_offset") != NULL, "%s", err);
	}
	header(h, 2 * MIB - 4096, 0x100000, 0x2); /* the largest head.S allowed */
	cr_expect_eq(parse(h, 4096, &info), 0, "%s", err);
}

/* Debian's arm64 kernel: $KILN_ARM64_IMAGE, else one unpacked under ~/.cache/kiln; NULL if none. */
static char *debian_kernel(void)
{
	const char *env = getenv("KILN_ARM64_IMAGE"), *home = getenv("HOME");
	char pattern[512];
	glob_t g;
	char *path = NULL;

	if (env && *env)
		return strdup(env);
	if (!home)
		return NULL;
	snprintf(pattern, sizeof(pattern), "%s/.cache/kiln/*/*/boot/vmlinuz-*-arm64", home);
	if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc)
		path = strdup(g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return path;
}

Test(image, debian_arm64_kernel)
{
	char *path = debian_kernel();
	struct arm64_image_info info;
	struct arm64_boot_layout l;
	uint8_t *buf;
	long len;
	FILE *f;

	if (!path)
		cr_skip_test("no Debian arm64 kernel here (set KILN_ARM64_IMAGE to a vmlinuz-*-arm64)");
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	cr_assert_gt(len, 1 << 20, "%s", path);
	rewind(f);
	buf = malloc((size_t)len);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	/* Debian 12 ships a plain Image whose code0 is also an EFI stub's "MZ". */
	cr_assert_eq(arm64_image_parse(buf, (size_t)len, &info, err, sizeof(err)), 0, "%s: %s",
		     path, err);
	cr_expect_eq(info.text_offset, 0, "text_offset has been 0 since v5.8");
	cr_expect_geq(info.image_size, (uint64_t)len, "image_size counts the BSS too");
	cr_expect_eq(info.page_size_kib, 4);
	cr_expect_not(info.big_endian);
	cr_assert_eq(arm64_image_place(&info, RAM_BASE, 256 * MIB, 64 * KIB, 8 * MIB, &l, err,
				       sizeof(err)), 0, "%s", err);
	cr_expect_eq(l.kernel_addr, RAM_BASE);
	cr_expect_eq(l.kernel_end, RAM_BASE + info.image_size);
	cr_expect_gt(l.initrd_addr, l.kernel_end);
	free(buf);
	free(path);
}

/* ---- layout ---------------------------------------------------------------------------------- */

static struct arm64_image_info image(uint64_t text_offset, uint64_t image_size, uint64_t file_size,
				     bool anywhere)
{
	return (struct arm64_image_info){ .text_offset = text_offset, .image_size = image_size,
					  .file_size = file_size, .place_anywhere = anywhere,
					  .page_size_kib = 4 };
}

static int place(const struct arm64_image_info *info, uint64_t base, uint64_t size, uint64_t dtb,
		 uint64_t initrd, struct arm64_boot_layout *l)
{
	memset(err, 0, sizeof(err));
	return arm64_image_place(info, base, size, dtb, initrd, l, err, sizeof(err));
}

Test(layout, small_guest)
{
	struct arm64_image_info info = image(0, 32 * MIB, 20 * MIB, true);
	struct arm64_boot_layout l;

	cr_assert_eq(place(&info, RAM_BASE, 256 * MIB, 64 * KIB, 8 * MIB, &l), 0, "%s", err);
	cr_expect_eq(l.kernel_base, RAM_BASE);
	cr_expect_eq(l.kernel_addr, RAM_BASE);
	cr_expect_eq(l.kernel_end, RAM_BASE + 32 * MIB, "image_size, not the file, counts");
	/* The top 2 MiB boundary below RAM's end from which 64 KiB fits. */
	cr_expect_eq(l.dtb_addr, RAM_BASE + 254 * MIB);
	cr_expect_eq(l.dtb_max, 64 * KIB);
	cr_expect_eq(l.initrd_addr, RAM_BASE + 246 * MIB);
	cr_expect_eq(l.initrd_size, 8 * MIB);
}

Test(layout, no_initrd)
{
	struct arm64_image_info info = image(0, 32 * MIB, 20 * MIB, true);
	struct arm64_boot_layout l;

	cr_assert_eq(place(&info, RAM_BASE, 128 * MIB, 2 * MIB, 0, &l), 0, "%s", err);
	cr_expect_eq(l.dtb_addr, RAM_BASE + 126 * MIB);
	cr_expect_eq(l.initrd_addr, 0);
	cr_expect_eq(l.initrd_size, 0);
}

Test(layout, legacy_text_offset)
{
	struct arm64_image_info info = image(ARM64_IMAGE_LEGACY_TEXT_OFFSET, 0, 9 * MIB, false);
	struct arm64_boot_layout l;

	cr_assert_eq(place(&info, RAM_BASE, 64 * MIB, 64 * KIB, 0, &l), 0, "%s", err);
	cr_expect_eq(l.kernel_base, RAM_BASE);
	cr_expect_eq(l.kernel_addr, RAM_BASE + 0x80000);
	cr_expect_eq(l.kernel_end, RAM_BASE + 0x80000 + 9 * MIB, "no image_size: the file counts");
}

Test(layout, file_longer_than_image_size)
{
	struct arm64_image_info info = image(0, 4 * MIB, 6 * MIB, false);
	struct arm64_boot_layout l;

	cr_assert_eq(place(&info, RAM_BASE, 64 * MIB, 64 * KIB, 0, &l), 0, "%s", err);
	cr_expect_eq(l.kernel_end, RAM_BASE + 6 * MIB, "everything copied is reserved");
}

Test(layout, unaligned_ram_base)
{
	struct arm64_image_info info = image(0x80000, 16 * MIB, 10 * MIB, false);
	struct arm64_boot_layout l;

	cr_assert_eq(place(&info, RAM_BASE + 0x1000, 128 * MIB, 64 * KIB, MIB, &l), 0, "%s", err);
	cr_expect_eq(l.kernel_base, RAM_BASE + 2 * MIB, "the first 2 MiB boundary in RAM");
	cr_expect_eq(l.kernel_addr, RAM_BASE + 2 * MIB + 0x80000);
}

Test(layout, dtb_within_512m_of_the_kernel)
{
	struct arm64_image_info info = image(0, 32 * MIB, 20 * MIB, true);
	struct arm64_boot_layout l;

	/* 4 GiB of RAM: the DTB stays below kernel_base + 512 MiB for kernels before v4.2. */
	cr_assert_eq(place(&info, RAM_BASE, 4 * GIB, 64 * KIB, 16 * MIB, &l), 0, "%s", err);
	cr_expect_eq(l.dtb_addr, RAM_BASE + 510 * MIB);
	cr_expect_eq(l.initrd_addr, RAM_BASE + 494 * MIB);
}

Test(layout, large_initrd_goes_above_the_dtb)
{
	struct arm64_image_info info = image(0, 32 * MIB, 20 * MIB, true);
	struct arm64_boot_layout l;

	/* 700 MiB does not fit between the kernel and the DTB (under 480 MiB there). */
	cr_assert_eq(place(&info, RAM_BASE, 2 * GIB, 64 * KIB, 700 * MIB, &l), 0, "%s", err);
	cr_expect_eq(l.dtb_addr, RAM_BASE + 510 * MIB);
	cr_expect_eq(l.initrd_addr, RAM_BASE + 2 * GIB - 700 * MIB);
	cr_expect_geq(l.initrd_addr, l.dtb_addr + l.dtb_max);
}

Test(layout, initrd_stays_in_the_32g_window)
{
	struct arm64_image_info info = image(0, 32 * MIB, 20 * MIB, true);
	struct arm64_boot_layout l;

	/* 64 GiB of RAM (arithmetic only: nothing is mapped): the initrd ends at the 32 GiB
	 * window that starts at the kernel's 1 GiB boundary, not at RAM's end. */
	cr_assert_eq(place(&info, RAM_BASE, 64 * GIB, 64 * KIB, GIB, &l), 0, "%s", err);
	cr_expect_eq(l.initrd_addr + l.initrd_size, RAM_BASE + 32 * GIB);
}

Test(layout, refusals)
{
	struct arm64_image_info big = image(0, 32 * MIB, 20 * MIB, false);
	struct arm64_image_info any = image(0, 32 * MIB, 20 * MIB, true);
	struct arm64_boot_layout l;

	cr_expect_eq(place(&big, RAM_BASE, 16 * MIB, 64 * KIB, 0, &l), -EINVAL);
	cr_expect_str_eq(err, "arm64 Image needs 0x2000000 bytes at text_offset 0x0 past a 2 MiB "
			 "boundary; guest RAM 0x40000000-0x41000000 is too small");
	/* Room for the kernel, none for the DTB after it. */
	cr_expect_eq(place(&big, RAM_BASE, 33 * MIB, 2 * MIB, 0, &l), -EINVAL);
	cr_expect(strstr(err, "no room for the device tree") != NULL, "%s", err);
	cr_expect_eq(place(&big, RAM_BASE, 64 * MIB, 60 * MIB, 0, &l), -EINVAL);
	cr_expect_str_eq(err, "device tree of 62914560 bytes: arm64 allows 1 to 2097152");
	cr_expect_eq(place(&big, RAM_BASE, 64 * MIB, 0, 0, &l), -EINVAL);
	cr_expect_eq(place(&big, RAM_BASE, 64 * MIB, 64 * KIB, 60 * MIB, &l), -EINVAL);
	cr_expect(strstr(err, "initrd of 62914560 bytes does not fit") != NULL, "%s", err);
	cr_expect_eq(l.initrd_addr, 0);
	/* RAM that wraps, is empty, or has no 2 MiB boundary with room after it. */
	cr_expect_eq(place(&big, UINT64_MAX - MIB, 2 * MIB, 64 * KIB, 0, &l), -EINVAL);
	cr_expect(strstr(err, "not a valid range") != NULL, "%s", err);
	cr_expect_eq(place(&big, RAM_BASE, 0, 64 * KIB, 0, &l), -EINVAL);
	cr_expect_eq(place(&big, UINT64_MAX - 2 * MIB + 1, 2 * MIB - 1, 64 * KIB, 0, &l), -EINVAL);
	cr_expect(strstr(err, "too small") != NULL, "%s", err);
	/* Bit 3 set: the kernel must end below 2^48; clear: it may go anywhere in RAM. */
	cr_expect_eq(place(&any, 1ull << 48, GIB, 64 * KIB, 0, &l), -EINVAL);
	cr_expect(strstr(err, "48-bit") != NULL, "%s", err);
	cr_expect_eq(place(&big, 1ull << 48, GIB, 64 * KIB, 0, &l), 0, "%s", err);
	/* A huge image_size from a hostile header. */
	big.image_size = UINT64_MAX - 4096;
	cr_expect_eq(place(&big, RAM_BASE, GIB, 64 * KIB, 0, &l), -EINVAL);
}

/* Every layout the seeded sweep finds must follow booting.rst and overlap nothing. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t pick(const uint64_t *v, unsigned n)
{
	return v[rnd() % n];
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

Test(layout, sweep_follows_booting_rst)
{
	static const uint64_t bases[] = { 0, RAM_BASE, RAM_BASE + 0x1000, 0x80000000, 1ull << 40,
					  (1ull << 48) - GIB };
	static const uint64_t sizes[] = { 16 * MIB, 64 * MIB, 130 * MIB, 512 * MIB, GIB + 3 * MIB,
					  8 * GIB, 40 * GIB };
	static const uint64_t files[] = { 64, 2 * MIB, 20 * MIB, 40 * MIB };
	static const uint64_t dtbs[] = { 8, 4096, 64 * KIB, 2 * MIB };
	static const uint64_t initrds[] = { 0, 1, 4096, 5 * MIB + 3, 300 * MIB, 900 * MIB,
					    3 * GIB };
	unsigned placed = 0, refused = 0;

	for (unsigned i = 0; i < 20000; i++) {
		struct arm64_image_info info = image(rnd() % 512 * 4096, pick(files, 4) + rnd() % 2 *
						     (rnd() % (64 * MIB)), pick(files, 4),
						     rnd() & 1);
		uint64_t base = pick(bases, 6), size = pick(sizes, 7), dtb = pick(dtbs, 4);
		uint64_t initrd = pick(initrds, 7);
		struct arm64_boot_layout l;
		uint64_t span = info.image_size > info.file_size ? info.image_size : info.file_size;

		if (place(&info, base, size, dtb, initrd, &l)) {
			cr_assert(err[0], "a refusal says why");
			refused++;
			continue;
		}
		placed++;
		cr_assert_eq(l.kernel_base % (2 * MIB), 0);
		cr_assert_eq(l.kernel_addr, l.kernel_base + info.text_offset);
		cr_assert_lt(l.kernel_base - base, 2 * MIB, "as close to RAM's start as it goes");
		cr_assert_eq(l.kernel_end, l.kernel_addr + span);
		cr_assert_leq(l.kernel_end, base + size);
		cr_assert_eq(l.dtb_addr % ARM64_DTB_ALIGN, 0);
		cr_assert_eq(l.dtb_addr / (2 * MIB), (l.dtb_addr + dtb - 1) / (2 * MIB),
			     "the DTB lies in one 2 MiB block");
		cr_assert_geq(l.dtb_addr, base);
		cr_assert_leq(l.dtb_addr + dtb, base + size);
		cr_assert_leq(l.dtb_addr + dtb, l.kernel_base + ARM64_DTB_WINDOW);
		cr_assert_not(overlap(l.kernel_base, l.kernel_end - l.kernel_base, l.dtb_addr, dtb));
		cr_assert_eq(l.initrd_size, initrd);
		if (!initrd) {
			cr_assert_eq(l.initrd_addr, 0);
			continue;
		}
		cr_assert_eq(l.initrd_addr % ARM64_INITRD_ALIGN, 0);
		cr_assert_geq(l.initrd_addr, base);
		cr_assert_leq(l.initrd_addr + initrd, base + size);
		cr_assert_not(overlap(l.kernel_base, l.kernel_end - l.kernel_base, l.initrd_addr,
				      initrd));
		cr_assert_not(overlap(l.dtb_addr, dtb, l.initrd_addr, initrd));
		cr_assert_leq(l.initrd_addr + initrd,
			      (l.kernel_base & ~(GIB - 1)) + ARM64_INITRD_WINDOW,
			      "initrd and kernel in one 1 GiB-aligned 32 GiB window");
	}
	cr_expect_gt(placed, 5000, "placed %u", placed);
	cr_expect_gt(refused, 500, "refused %u", refused);
}
