/* test_linux.c: the Linux x86 boot protocol (src/loader/linux.c) and the e820 map
 * (src/arch/x86/memmap.c). bzImages are built in memory around <asm/bootparam.h>'s struct
 * setup_header, valid and hostile; a distribution kernel from /boot is parsed and loaded when
 * there is one; vmlinux and PVH kernels are small ELF64 files with their notes. Checked: the entry
 * state, the boot_params ("zero page") and hvm_start_info written into guest RAM, initrd
 * placement, and the e820 map for small and large guests (the large ones over dummy host
 * pointers, or lazily mapped memory, so no test needs gigabytes of real RAM).
 *
 * Every image is handed to the loaders in a copy that ends flush against a PROT_NONE page, so a
 * read past the end of a file faults at once, with or without ASan. */
#include <asm/bootparam.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "arch/x86/memmap.h"
#include "loader/loader.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define RAM_SIZE (128 * MIB)

#define ZERO_PAGE 0x7000ull /* X86_BOOT_INFO_ADDR */
#define CMDLINE 0x8000ull   /* X86_CMDLINE_ADDR */
#define RSDP 0xe0000ull     /* what the tests pass as loader_args.acpi_rsdp */
#define LEGACY_HOLE (X86_HIGH_MEMORY - X86_EBDA_START) /* 0x9fc00-0x100000, reserved */

#define KERNEL_PATH "bzImage.test"
#define INITRD_PATH "initrd.test"

#define HDR_OFF 0x1f1
#define HDR_END (HDR_OFF + sizeof(struct setup_header))
#define HDRS 0x53726448u /* "HdrS" */

#define PVH_MAGIC 0x336ec578u
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* Xen's public/arch-x86/hvm/start_info.h, version 1: what a PVH kernel reads. */
struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

/* ---- fixtures: guest RAM ----------------------------------------------------------------- */

static struct gmem *gm;
static struct gmem_region regs[GMEM_MAX_REGIONS];
static int nregs;
static char err[LOADER_ERR_MAX];

/* Guest RAM of `size` bytes laid out as kiln lays it out (RAM to 3 GiB, the rest from 4 GiB),
 * each region anonymous memory mapped without reserve: zero, and only what is touched costs
 * anything. Returns false when the host will not map that much. */
static bool ram_map(uint64_t size)
{
	nregs = gmem_layout(size, X86_MMIO_HOLE_START, regs);
	cr_assert_gt(nregs, 0, "gmem_layout(%llu MiB)", (unsigned long long)(size >> 20));
	for (int i = 0; i < nregs; i++) {
		void *p = mmap(NULL, regs[i].size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED) {
			while (i--)
				munmap(regs[i].hva, regs[i].size);
			nregs = 0;
			return false;
		}
		regs[i].hva = p;
	}
	cr_assert_eq(gmem_create_from(&gm, regs, (unsigned int)nregs), 0);
	memset(err, 0, sizeof(err));
	return true;
}

static void ram_unmap(void)
{
	gmem_destroy(gm);
	gm = NULL;
	for (int i = 0; i < nregs; i++)
		munmap(regs[i].hva, regs[i].size);
	nregs = 0;
}

/* Replaces the fixture's RAM with `size` bytes, or skips the test. */
static void ram_remap(uint64_t size)
{
	ram_unmap();
	if (!ram_map(size))
		cr_skip_test("the host will not map %llu MiB of (unreserved) memory",
			     (unsigned long long)(size >> 20));
}

static void ram_setup(void) { cr_assert(ram_map(RAM_SIZE), "cannot map 128 MiB"); }
static void ram_setup_256(void) { cr_assert(ram_map(256 * MIB), "cannot map 256 MiB"); }
static void ram_teardown(void) { ram_unmap(); }

TestSuite(bzimage, .init = ram_setup, .fini = ram_teardown);
TestSuite(distro, .init = ram_setup_256, .fini = ram_teardown);
TestSuite(vmlinux, .init = ram_setup, .fini = ram_teardown);
TestSuite(pvh, .init = ram_setup, .fini = ram_teardown);
TestSuite(e820);
TestSuite(e820_boot, .init = ram_setup, .fini = ram_teardown);
TestSuite(linux_detect, .init = ram_setup, .fini = ram_teardown);

/* Host pointer for guest [gpa, gpa+len); asserts it is RAM. */
static uint8_t *gp(uint64_t gpa, uint64_t len)
{
	uint8_t *p = gmem_ptr(gm, gpa, len);

	cr_assert_not_null(p, "guest range 0x%llx+0x%llx is not RAM", (unsigned long long)gpa,
			   (unsigned long long)len);
	return p;
}

/* True when guest [gpa, gpa+len) is all zero (RAM starts zeroed). */
static bool gzero(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gp(gpa, len);

	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* True when nothing at all was written to the first region of guest RAM. */
static bool ram_untouched(void) { return gzero(0, regs[0].size); }

static const char *gstr(uint64_t gpa)
{
	const uint8_t *p = gp(gpa, 1);

	cr_assert_not_null(memchr(p, '\0', regs[0].size - gpa), "unterminated guest string");
	return (const char *)p;
}

static struct boot_params zero_page(void)
{
	struct boot_params bp;

	cr_assert_eq(gmem_read(gm, &bp, ZERO_PAGE, sizeof(bp)), 0);
	return bp;
}

#define assert_zero_page_untouched() \
	cr_assert(gzero(ZERO_PAGE, sizeof(struct boot_params)), "boot_params written on failure")

/* The loader failed with -EINVAL and a message naming `path` and containing `phrase`. */
#define assert_rejected_as(rc, path, phrase)                                                    \
	do {                                                                                    \
		int rc_ = (rc);                                                                 \
		cr_assert_eq(rc_, -EINVAL, "expected -EINVAL, got %d (%s)", rc_, err);          \
		cr_assert_not_null(strstr(err, (path)), "message does not name %s: '%s'", (path), \
				   err);                                                        \
		cr_assert_not_null(strstr(err, (phrase)), "expected \"%s\" in '%s'", (phrase),    \
				   err);                                                        \
	} while (0)
#define assert_rejected(rc, phrase) assert_rejected_as(rc, KERNEL_PATH, phrase)

/* ---- images ------------------------------------------------------------------------------ */

/* A copy of `len` bytes ending exactly where a PROT_NONE page starts. The mapping lives as long
 * as the test's process (Criterion runs each test in its own). */
static const uint8_t *guarded(const void *src, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), span = (len + pg - 1) / pg * pg;
	uint8_t *base = mmap(NULL, span + pg, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(base, MAP_FAILED);
	cr_assert_eq(mprotect(base + span, pg, PROT_NONE), 0);
	if (len)
		memcpy(base + span - len, src, len);
	return base + span - len;
}

static struct loader_args mkargs(const void *k, size_t ksize, const char *cmdline, const void *rd,
				 size_t rdsize)
{
	struct loader_args a = {
		.kernel = { .data = guarded(k, ksize), .size = ksize, .path = KERNEL_PATH },
		.cmdline = cmdline,
		.acpi_rsdp = RSDP,
	};

	if (rd)
		a.initrd = (struct loader_image){ .data = guarded(rd, rdsize), .size = rdsize,
						  .path = INITRD_PATH };
	return a;
}

/* loader_load() on guarded copies of the kernel and initrd (rd NULL: none). */
static int load(const void *k, size_t ksize, const char *cmdline, const void *rd, size_t rdsize,
		struct boot_entry *e)
{
	struct loader_args a = mkargs(k, ksize, cmdline, rd, rdsize);

	return loader_load(gm, &a, e, err, sizeof(err));
}

/* An initrd of `size` bytes with recognisable contents. */
static uint8_t *make_initrd(size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	cr_assert_not_null(p);
	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 7 + 0x31);
	return p;
}

/* boot_params.e820_table is exactly what x86_memmap() reports for this guest. */
static void assert_e820_matches(const struct boot_params *bp)
{
	struct x86_memmap_entry map[X86_MEMMAP_MAX];
	unsigned int n = x86_memmap(gm, map);

	cr_assert_eq(bp->e820_entries, n, "e820_entries %u, x86_memmap %u", bp->e820_entries, n);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(bp->e820_table[i].addr, map[i].addr, "e820[%u].addr", i);
		cr_assert_eq(bp->e820_table[i].size, map[i].len, "e820[%u].size", i);
		cr_assert_eq(bp->e820_table[i].type, map[i].type, "e820[%u].type", i);
	}
	for (unsigned int i = n; i < E820_MAX_ENTRIES_ZEROPAGE; i++)
		cr_assert_eq(bp->e820_table[i].size, 0, "stray e820[%u]", i);
}

/* ---- bzImage builder --------------------------------------------------------------------- */

#define BZ_SECTS 4
#define BZ_SETUP ((BZ_SECTS + 1) * 512) /* boot sector + setup sectors */
#define BZ_PAYLOAD 0x3000u              /* the protected-mode kernel */
#define BZ_PREF 0x1000000ull            /* 16 MiB, as Debian's */
#define BZ_ALIGN 0x200000u
#define BZ_INIT 0x100000u /* init_size: 1 MiB from the load address */
#define BZ_MAX (BZ_SETUP + 0x8000)

struct bz {
	uint8_t b[BZ_MAX];
	size_t size;
};

static struct setup_header *H(struct bz *z) { return (struct setup_header *)(z->b + HDR_OFF); }

static uint8_t payload_byte(size_t i) { return (uint8_t)(i * 13 + 7); }

/* A protocol 2.15, 64-bit, relocatable bzImage: 4 setup sectors, then BZ_PAYLOAD bytes. */
static void build_bz(struct bz *z)
{
	struct setup_header *h = H(z);

	memset(z, 0, sizeof(*z));
	for (size_t i = 0; i < BZ_SETUP; i++)
		z->b[i] = (uint8_t)(i * 3 + 1); /* real-mode code the loader must not copy */
	for (size_t i = 0; i < BZ_PAYLOAD; i++)
		z->b[BZ_SETUP + i] = payload_byte(i);
	memset(h, 0, sizeof(*h));
	h->setup_sects = BZ_SECTS;
	h->syssize = BZ_PAYLOAD / 16;
	h->boot_flag = 0xaa55;
	h->jump = (uint16_t)(0xeb | (HDR_END - 0x202) << 8); /* jmp over the whole header */
	h->header = HDRS;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = BZ_ALIGN;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 0x7ff;
	h->pref_address = BZ_PREF;
	h->init_size = BZ_INIT;
	z->size = BZ_SETUP + BZ_PAYLOAD;
}

static int load_bz(struct bz *z, const char *cmdline, const void *rd, size_t rdsize,
		   struct boot_entry *e)
{
	return load(z->b, z->size, cmdline, rd, rdsize, e);
}

/* A header check failed: -EINVAL, the message, and not one byte of guest RAM written. */
#define assert_bz_refused(z, phrase)                                                            \
	do {                                                                                    \
		struct boot_entry e_;                                                           \
		assert_rejected(load_bz((z), "console=ttyS0", NULL, 0, &e_), (phrase));          \
		cr_assert(ram_untouched(), "guest RAM written by a refused bzImage");            \
	} while (0)

/* ---- bzImage: valid ---------------------------------------------------------------------- */

Test(bzimage, valid_loads_at_pref_address_and_enters_at_0x200)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	cr_assert_eq(load_bz(&z, "console=ttyS0", NULL, 0, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "Linux bzImage");
	cr_assert_eq(e.mode, BOOT_LONG64);
	cr_assert_eq(e.rip, BZ_PREF + 0x200);
	cr_assert_eq(e.rsi, X86_BOOT_INFO_ADDR);
	cr_assert_eq(e.rsi, ZERO_PAGE);
	cr_assert_eq(e.rsp, X86_BOOT_STACK_TOP);
	cr_assert(e.linux_guest);
	cr_assert_eq(e.image_start, BZ_PREF);
	cr_assert_eq(e.image_end, BZ_PREF + BZ_INIT, "the image spans init_size");
	cr_assert_eq(memcmp(gp(BZ_PREF, BZ_PAYLOAD), z.b + BZ_SETUP, BZ_PAYLOAD), 0,
		     "protected-mode kernel not copied to the load address");
	/* Nothing but the zero page and the command line below the kernel. */
	cr_assert(gzero(0, ZERO_PAGE), "written below the zero page");
	cr_assert(gzero(CMDLINE + 0x1000, BZ_PREF - CMDLINE - 0x1000), "written below the kernel");
	cr_assert(gzero(BZ_PREF + BZ_INIT, RAM_SIZE - BZ_PREF - BZ_INIT),
		  "written above the kernel without an initrd");
}

Test(bzimage, boot_params_header_and_loader_fields)
{
	struct bz z;
	struct boot_entry e;
	struct boot_params bp;

	build_bz(&z);
	cr_assert_eq(load_bz(&z, "console=ttyS0 root=/dev/vda", NULL, 0, &e), 0, "%s", err);
	bp = zero_page();
	/* The file's setup header travels into boot_params... */
	cr_assert_eq(bp.hdr.boot_flag, 0xaa55);
	cr_assert_eq(bp.hdr.header, HDRS);
	cr_assert_eq(bp.hdr.version, 0x020f);
	cr_assert_eq(bp.hdr.setup_sects, BZ_SECTS);
	cr_assert_eq(bp.hdr.kernel_alignment, BZ_ALIGN);
	cr_assert_eq(bp.hdr.relocatable_kernel, 1);
	cr_assert_eq(bp.hdr.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	cr_assert_eq(bp.hdr.init_size, BZ_INIT);
	cr_assert_eq(bp.hdr.pref_address, BZ_PREF);
	cr_assert_eq(bp.hdr.cmdline_size, 0x7ff);
	cr_assert_eq(bp.hdr.initrd_addr_max, 0x7fffffff);
	cr_assert(bp.hdr.loadflags & LOADED_HIGH);
	/* ...with what the boot loader writes. */
	cr_assert_eq(bp.hdr.type_of_loader, 0xff);
	cr_assert_eq(bp.hdr.cmd_line_ptr, CMDLINE);
	cr_assert_str_eq(gstr(CMDLINE), "console=ttyS0 root=/dev/vda");
	cr_assert_eq(bp.hdr.vid_mode, 0xffff);
	cr_assert_eq(bp.hdr.code32_start, BZ_PREF);
	cr_assert_eq(bp.hdr.ramdisk_image, 0, "no initrd");
	cr_assert_eq(bp.hdr.ramdisk_size, 0);
	cr_assert_eq(bp.ext_ramdisk_image, 0);
	cr_assert_eq(bp.ext_cmd_line_ptr, 0);
	cr_assert_eq(bp.acpi_rsdp_addr, RSDP);
	assert_e820_matches(&bp);
	cr_assert_eq(bp.e820_entries, 3, "128 MiB: low RAM, legacy hole, RAM from 1 MiB");
}

Test(bzimage, no_command_line_is_an_empty_string)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_eq(zero_page().hdr.cmd_line_ptr, CMDLINE);
	cr_assert_str_eq(gstr(CMDLINE), "");
}

Test(bzimage, rsdp_zero_when_the_platform_has_none)
{
	struct bz z;
	struct boot_entry e;
	struct loader_args a;

	build_bz(&z);
	a = mkargs(z.b, z.size, NULL, NULL, 0);
	a.acpi_rsdp = 0;
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(zero_page().acpi_rsdp_addr, 0);
}

Test(bzimage, direct_call_matches_detection)
{
	struct bz z;
	struct boot_entry e;
	struct loader_args a;

	build_bz(&z);
	a = mkargs(z.b, z.size, "x", NULL, 0);
	cr_assert_eq(loader_load_bzimage(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(e.format, "Linux bzImage");
	cr_assert_eq(e.rip, BZ_PREF + 0x200);
}

Test(bzimage, initrd_page_aligned_at_top_of_low_ram)
{
	struct bz z;
	struct boot_entry e;
	struct boot_params bp;
	size_t size = 0x3001;
	uint8_t *rd = make_initrd(size);
	uint64_t start;

	build_bz(&z);
	cr_assert_eq(load_bz(&z, NULL, rd, size, &e), 0, "%s", err);
	bp = zero_page();
	start = bp.hdr.ramdisk_image;
	cr_assert_eq(bp.hdr.ramdisk_size, size);
	cr_assert_eq(bp.ext_ramdisk_image, 0);
	cr_assert_eq(start % 4096, 0, "initrd at 0x%llx is not page aligned",
		     (unsigned long long)start);
	cr_assert_eq(start, (RAM_SIZE - size) & ~0xfffull, "not at the top of RAM: 0x%llx",
		     (unsigned long long)start);
	cr_assert_leq(start + size, RAM_SIZE);
	cr_assert_leq(start + size, (uint64_t)bp.hdr.initrd_addr_max + 1);
	cr_assert_geq(start, BZ_PREF + BZ_INIT, "initrd inside the kernel's init_size");
	cr_assert_eq(memcmp(gp(start, size), rd, size), 0, "initrd contents");
	assert_e820_matches(&bp);
	free(rd);
}

Test(bzimage, initrd_ends_below_initrd_addr_max)
{
	struct bz z;
	struct boot_entry e;
	struct boot_params bp;
	size_t size = 0x2800;
	uint8_t *rd = make_initrd(size);

	build_bz(&z);
	H(&z)->initrd_addr_max = 0x3ffffff; /* last byte the initrd may occupy: 64 MiB - 1 */
	cr_assert_eq(load_bz(&z, NULL, rd, size, &e), 0, "%s", err);
	bp = zero_page();
	cr_assert_eq(bp.hdr.ramdisk_image, (0x4000000 - size) & ~0xfffull);
	cr_assert_leq(bp.hdr.ramdisk_image + size, 0x4000000ull);
	cr_assert_eq(memcmp(gp(bp.hdr.ramdisk_image, size), rd, size), 0);
	free(rd);
}

Test(bzimage, initrd_just_fits_above_the_kernel)
{
	struct bz z;
	struct boot_entry e;
	uint8_t *rd = make_initrd(0x1000);

	build_bz(&z);
	/* Exactly one page between load + init_size and initrd_addr_max. */
	H(&z)->initrd_addr_max = (uint32_t)(BZ_PREF + BZ_INIT + 0xfff);
	cr_assert_eq(load_bz(&z, NULL, rd, 0x1000, &e), 0, "%s", err);
	cr_assert_eq(zero_page().hdr.ramdisk_image, BZ_PREF + BZ_INIT);
	free(rd);
}

Test(bzimage, initrd_that_cannot_fit_below_initrd_addr_max)
{
	struct bz z;
	struct boot_entry e;
	uint8_t *rd = make_initrd(0x1001);

	build_bz(&z);
	H(&z)->initrd_addr_max = (uint32_t)(BZ_PREF + BZ_INIT + 0xfff);
	assert_rejected_as(load_bz(&z, NULL, rd, 0x1001, &e), INITRD_PATH,
			   "does not fit between the kernel's end");
	assert_zero_page_untouched();
	free(rd);
}

Test(bzimage, initrd_larger_than_ram)
{
	struct bz z;
	struct boot_entry e;
	size_t size = RAM_SIZE + 0x1000;
	uint8_t *rd = calloc(1, size);

	build_bz(&z);
	assert_rejected_as(load_bz(&z, NULL, rd, size, &e), INITRD_PATH, "does not fit");
	assert_zero_page_untouched();
	free(rd);
}

Test(bzimage, pref_address_zero_means_1mib_aligned_up)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->pref_address = 0;
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_eq(e.image_start, 0x200000, "1 MiB aligned up to kernel_alignment 2 MiB");
	cr_assert_eq(e.rip, 0x200200);
	cr_assert_eq(memcmp(gp(0x200000, BZ_PAYLOAD), z.b + BZ_SETUP, BZ_PAYLOAD), 0);
}

Test(bzimage, relocatable_unaligned_pref_address_aligned_up)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->pref_address = BZ_PREF + 0x1234;
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_eq(e.image_start, BZ_PREF + BZ_ALIGN);
	cr_assert_eq(e.rip, BZ_PREF + BZ_ALIGN + 0x200);
	cr_assert_eq(zero_page().hdr.code32_start, BZ_PREF + BZ_ALIGN);
}

Test(bzimage, non_relocatable_aligned_pref_address_loads_there)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->relocatable_kernel = 0;
	H(&z)->pref_address = 0x2400000; /* 36 MiB, 2 MiB aligned */
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_eq(e.image_start, 0x2400000);
	cr_assert_eq(e.rip, 0x2400200);
}

Test(bzimage, setup_sects_zero_means_four)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->setup_sects = 0; /* boot.rst: 0 stands for 4 */
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_eq(memcmp(gp(BZ_PREF, BZ_PAYLOAD), z.b + BZ_SETUP, BZ_PAYLOAD), 0);
}

Test(bzimage, init_size_exactly_to_the_end_of_ram)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->init_size = (uint32_t)(RAM_SIZE - BZ_PREF);
	H(&z)->initrd_addr_max = 0x7fffffff;
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_eq(e.image_end, RAM_SIZE);
}

Test(bzimage, syssize_zero_or_rounded_up_accepted)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->syssize = 0; /* not given */
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
	build_bz(&z);
	z.size -= 5; /* payload 0x2ffb bytes: syssize 0x300 paragraphs rounds it up */
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
}

Test(bzimage, longest_command_line_kiln_holds)
{
	struct bz z;
	struct boot_entry e;
	char *cmd = malloc(4097);

	build_bz(&z);
	H(&z)->cmdline_size = 0xffffffff; /* bigger than kiln's 4 KiB area: clamped to it */
	memset(cmd, 'c', 4096);
	cmd[4095] = '\0';
	cr_assert_eq(load_bz(&z, cmd, NULL, 0, &e), 0, "%s", err);
	cr_assert_eq(strlen(gstr(CMDLINE)), 4095);
	cmd[4095] = 'c';
	cmd[4096] = '\0';
	assert_rejected(load_bz(&z, cmd, NULL, 0, &e), "too long");
	free(cmd);
}

/* ---- bzImage: hostile headers ------------------------------------------------------------ */

Test(bzimage, protocol_2_11_too_old)
{
	struct bz z;

	build_bz(&z);
	H(&z)->version = 0x020b;
	assert_bz_refused(&z, "boot protocol 2.11 is too old");
}

Test(bzimage, protocol_2_12_is_enough)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->version = 0x020c;
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
}

Test(bzimage, loadflags_without_loaded_high)
{
	struct bz z;

	build_bz(&z);
	H(&z)->loadflags = 0;
	assert_bz_refused(&z, "loadflags lacks LOADED_HIGH");
}

Test(bzimage, xloadflags_without_kernel_64)
{
	struct bz z;

	build_bz(&z);
	H(&z)->xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	assert_bz_refused(&z, "xloadflags lacks XLF_KERNEL_64");
}

Test(bzimage, setup_sects_past_end_of_file)
{
	struct bz z;

	build_bz(&z);
	H(&z)->setup_sects = 0xff; /* 128 KiB of setup in a 14.5 KiB file */
	assert_bz_refused(&z, "setup sectors but the file is");
	cr_assert_not_null(strstr(err, "truncated bzImage"), "%s", err);
	build_bz(&z);
	z.size = BZ_SETUP; /* setup, and not one byte of kernel */
	assert_bz_refused(&z, "truncated bzImage: 4 setup sectors");
}

Test(bzimage, syssize_larger_than_file)
{
	struct bz z;

	build_bz(&z);
	H(&z)->syssize = BZ_PAYLOAD / 16 + 1;
	assert_bz_refused(&z, "bytes of protected-mode kernel");
	cr_assert_not_null(strstr(err, "truncated bzImage"), "%s", err);
	build_bz(&z);
	H(&z)->syssize = 0xffffffff; /* * 16 must not wrap */
	assert_bz_refused(&z, "bytes of protected-mode kernel");
}

Test(bzimage, kernel_alignment_zero)
{
	struct bz z;

	build_bz(&z);
	H(&z)->kernel_alignment = 0;
	assert_bz_refused(&z, "kernel_alignment 0x0 is not a power of two");
}

Test(bzimage, kernel_alignment_not_power_of_two)
{
	struct bz z;

	build_bz(&z);
	H(&z)->kernel_alignment = 0x300000;
	assert_bz_refused(&z, "kernel_alignment 0x300000 is not a power of two");
}

Test(bzimage, non_relocatable_unaligned_pref_address)
{
	struct bz z;

	build_bz(&z);
	H(&z)->relocatable_kernel = 0;
	H(&z)->pref_address = BZ_PREF + 0x1000;
	assert_bz_refused(&z, "pref_address 0x1001000 is not aligned to kernel_alignment");
}

Test(bzimage, init_size_smaller_than_payload)
{
	struct bz z;

	build_bz(&z);
	H(&z)->init_size = BZ_PAYLOAD - 1;
	assert_bz_refused(&z, "init_size 0x2fff is smaller than its protected-mode kernel");
}

Test(bzimage, init_size_beyond_ram)
{
	struct bz z;

	build_bz(&z);
	H(&z)->init_size = (uint32_t)(RAM_SIZE - BZ_PREF + 0x1000);
	assert_bz_refused(&z, "(init_size)");
	cr_assert_not_null(strstr(err, "more than guest RAM (128 MiB)"), "%s", err);
	build_bz(&z);
	H(&z)->init_size = 0xffffffff;
	assert_bz_refused(&z, "(init_size)");
}

Test(bzimage, pref_address_beyond_ram)
{
	struct bz z;

	build_bz(&z);
	H(&z)->pref_address = 0x100000000ull; /* RAM above 4 GiB, none here */
	assert_bz_refused(&z, "more than guest RAM");
}

Test(bzimage, command_line_longer_than_cmdline_size)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->cmdline_size = 16;
	assert_rejected(load_bz(&z, "0123456789abcdefg", NULL, 0, &e), "is too long");
	cr_assert_not_null(strstr(err, "17 bytes"), "%s", err);
	assert_zero_page_untouched();
}

/* kiln's virtio_mmio.device= parameters (loader_args.linux_cmdline) reach a Linux kernel only;
 * a line too long with them says so. */
Test(bzimage, linux_cmdline_replaces_the_users)
{
	struct bz z;
	struct boot_entry e;
	struct loader_args a;

	build_bz(&z);
	a = mkargs(z.b, z.size, "console=ttyS0", NULL, 0);
	a.linux_cmdline = "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5";
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(gstr(CMDLINE), "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5");

	build_bz(&z);
	H(&z)->cmdline_size = 20;
	a = mkargs(z.b, z.size, "console=ttyS0", NULL, 0);
	a.linux_cmdline = "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5";
	assert_rejected(loader_load(gm, &a, &e, err, sizeof(err)), "is too long");
	cr_assert_not_null(strstr(err, "virtio_mmio.device="), "%s", err);
}

/* boot.rst: cmdline_size is "the maximum size of the command line without the terminating
 * zero"; Linux sets it to COMMAND_LINE_SIZE - 1 (0x7ff). A line of exactly that many
 * characters is one the kernel takes. */
Test(bzimage, command_line_of_exactly_cmdline_size_accepted)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->cmdline_size = 16;
	cr_assert_eq(load_bz(&z, "0123456789abcdef", NULL, 0, &e), 0,
		     "16 characters for cmdline_size 16 refused: %s", err);
	cr_assert_str_eq(gstr(CMDLINE), "0123456789abcdef");
}

/* The header ends at 0x202 + the jump's offset: fields past it are not the kernel's, and are not
 * read (here: not even the version, so the protocol counts as too old). */
Test(bzimage, header_shorter_than_its_jump_says)
{
	struct bz z;

	build_bz(&z);
	z.b[0x201] = 0x00;
	assert_bz_refused(&z, "is too old");
}

/* A kernel may name any pref_address; below 1 MiB it would land on kiln's GDT, page tables, zero
 * page and command line (0x500-0x9000) and the BIOS area (ACPI, MP table; e820-reserved). The
 * loader must refuse it, or (relocatable) put it at 1 MiB or above. */
static void assert_never_below_1mib(struct bz *z, const char *what)
{
	struct boot_entry e;
	int rc = load_bz(z, "console=ttyS0", NULL, 0, &e);

	if (rc == 0)
		cr_assert_geq(e.image_start, X86_HIGH_MEMORY,
			      "%s: kernel loaded at 0x%llx, over kiln's boot area", what,
			      (unsigned long long)e.image_start);
	else
		assert_rejected(rc, "pref_address");
}

Test(bzimage, pref_address_below_1mib_non_relocatable)
{
	struct bz z;

	build_bz(&z);
	H(&z)->relocatable_kernel = 0;
	H(&z)->kernel_alignment = 0x1000;
	H(&z)->pref_address = 0x1000;
	assert_never_below_1mib(&z, "pref_address 0x1000");
	build_bz(&z);
	H(&z)->relocatable_kernel = 0;
	H(&z)->kernel_alignment = 0x80000;
	H(&z)->pref_address = 0x80000; /* init_size 1 MiB runs over the legacy hole */
	assert_never_below_1mib(&z, "pref_address 0x80000");
}

Test(bzimage, pref_address_below_1mib_relocatable)
{
	struct bz z;

	build_bz(&z);
	H(&z)->kernel_alignment = 0x10000;
	H(&z)->pref_address = 0x10000;
	assert_never_below_1mib(&z, "relocatable, pref_address 0x10000");
}

/* align_up(pref_address, kernel_alignment) must not wrap around 2^64 to address 0. */
Test(bzimage, pref_address_aligned_up_past_2_64)
{
	struct bz z;

	build_bz(&z);
	H(&z)->pref_address = UINT64_MAX - BZ_ALIGN + 2; /* unaligned; aligning up wraps to 0 */
	assert_never_below_1mib(&z, "pref_address 0xffffffffffe00001");
}

/* The format loaders are "exposed for tests. Same contract": never read outside the image. */
Test(bzimage, direct_call_on_an_image_shorter_than_the_header)
{
	struct bz z;
	struct boot_entry e;
	struct loader_args a;

	build_bz(&z);
	a = mkargs(z.b, 0x100, NULL, NULL, 0); /* ends before 0x1f1 */
	cr_assert_eq(loader_load_bzimage(gm, &a, &e, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, KERNEL_PATH), "%s", err);
	cr_assert(ram_untouched());
}

/* ---- a distribution kernel --------------------------------------------------------------- */

/* Maps the first /boot/vmlinuz-* (Debian's linux-image-amd64), or skips. `initrd` gets the
 * matching /boot/initrd.img-* when there is one (data NULL otherwise). */
static void map_distro_kernel(struct loader_image *k, struct loader_image *initrd)
{
	static char kpath[512], rpath[600];
	glob_t g;

	memset(initrd, 0, sizeof(*initrd));
	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		globfree(&g);
		cr_skip_test("no /boot/vmlinuz-* on this host (apt-get install linux-image-amd64 "
			     "to run the distribution-kernel tests)");
	}
	snprintf(kpath, sizeof(kpath), "%s", g.gl_pathv[0]);
	globfree(&g);
	if (access(kpath, R_OK) != 0)
		cr_skip_test("%s is not readable", kpath);
	cr_assert_eq(loader_map_file(k, kpath, err, sizeof(err)), 0, "%s", err);
	snprintf(rpath, sizeof(rpath), "/boot/initrd.img-%s", kpath + strlen("/boot/vmlinuz-"));
	if (access(rpath, R_OK) == 0)
		cr_assert_eq(loader_map_file(initrd, rpath, err, sizeof(err)), 0, "%s", err);
	cr_log_info("distribution kernel %s (%zu bytes), initrd %s", kpath, k->size,
		    initrd->data ? rpath : "(none)");
}

static struct setup_header distro_header(const struct loader_image *k)
{
	struct setup_header h;

	cr_assert_geq(k->size, HDR_END, "%s is shorter than a setup header", k->path);
	memcpy(&h, k->data + HDR_OFF, sizeof(h));
	return h;
}

static size_t distro_payload(const struct loader_image *k, const struct setup_header *h)
{
	size_t setup = ((size_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;

	cr_assert_lt(setup, k->size);
	return k->size - setup;
}

Test(distro, header_is_a_modern_64bit_relocatable_bzimage)
{
	struct loader_image k, rd;
	struct setup_header h;
	size_t payload;

	map_distro_kernel(&k, &rd);
	h = distro_header(&k);
	payload = distro_payload(&k, &h);
	cr_assert(linux_is_bzimage(&k), "%s not detected as a bzImage", k.path);
	cr_assert_eq(h.boot_flag, 0xaa55);
	cr_assert_eq(h.header, HDRS);
	cr_assert_geq(h.version, 0x020c, "protocol %x", h.version);
	cr_assert(h.loadflags & LOADED_HIGH);
	cr_assert(h.xloadflags & XLF_KERNEL_64, "xloadflags 0x%x", h.xloadflags);
	cr_assert(h.relocatable_kernel);
	cr_assert(h.kernel_alignment && !(h.kernel_alignment & (h.kernel_alignment - 1)),
		  "kernel_alignment 0x%x", h.kernel_alignment);
	cr_assert_geq(h.init_size, payload, "init_size 0x%x < payload 0x%zx", h.init_size, payload);
	cr_assert_leq((uint64_t)h.syssize * 16, payload + 15, "syssize beyond the file");
	cr_assert_gt(h.cmdline_size, 0);
	cr_assert_eq(h.setup_data, 0);
	cr_log_info("protocol %u.%02u, setup_sects %u, pref_address 0x%llx, kernel_alignment "
		    "0x%x, init_size 0x%x, cmdline_size %u, initrd_addr_max 0x%x, xloadflags 0x%x",
		    h.version >> 8, h.version & 0xff, h.setup_sects,
		    (unsigned long long)h.pref_address, h.kernel_alignment, h.init_size,
		    h.cmdline_size, h.initrd_addr_max, h.xloadflags);
	loader_unmap_file(&k);
	loader_unmap_file(&rd);
}

Test(distro, loads_into_256mib_with_its_initrd)
{
	struct loader_image k, rd;
	struct loader_args a = { .cmdline = "console=ttyS0 panic=-1 root=/dev/vda",
				 .acpi_rsdp = RSDP };
	struct setup_header h;
	struct boot_entry e;
	struct boot_params bp;
	uint64_t load, top;
	size_t payload, setup;

	map_distro_kernel(&k, &rd);
	h = distro_header(&k);
	payload = distro_payload(&k, &h);
	setup = k.size - payload;
	a.kernel = k;
	a.initrd = rd;
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	load = (h.pref_address ? h.pref_address : X86_HIGH_MEMORY);
	load = (load + h.kernel_alignment - 1) & ~(uint64_t)(h.kernel_alignment - 1);
	cr_assert_str_eq(e.format, "Linux bzImage");
	cr_assert_eq(e.mode, BOOT_LONG64);
	cr_assert_eq(e.image_start, load);
	cr_assert_eq(e.image_end, load + h.init_size);
	cr_assert_eq(e.rip, load + 0x200);
	cr_assert_eq(e.rsi, ZERO_PAGE);
	cr_assert(e.linux_guest);
	cr_assert_eq(memcmp(gp(load, payload), k.data + setup, payload), 0, "payload not copied");

	bp = zero_page();
	cr_assert_eq(bp.hdr.setup_sects, h.setup_sects);
	cr_assert_eq(bp.hdr.version, h.version);
	cr_assert_eq(bp.hdr.kernel_alignment, h.kernel_alignment);
	cr_assert_eq(bp.hdr.init_size, h.init_size);
	cr_assert_eq(bp.hdr.xloadflags, h.xloadflags);
	cr_assert_eq(bp.hdr.type_of_loader, 0xff);
	cr_assert_eq(bp.hdr.cmd_line_ptr, CMDLINE);
	cr_assert_str_eq(gstr(CMDLINE), a.cmdline);
	cr_assert_eq(bp.hdr.vid_mode, 0xffff);
	cr_assert_eq(bp.hdr.code32_start, load);
	cr_assert_eq(bp.acpi_rsdp_addr, RSDP);
	assert_e820_matches(&bp);
	if (rd.data) {
		uint64_t start = bp.hdr.ramdisk_image;

		top = 256 * MIB < (uint64_t)h.initrd_addr_max + 1 ? 256 * MIB
								: (uint64_t)h.initrd_addr_max + 1;
		cr_assert_eq(bp.hdr.ramdisk_size, rd.size);
		cr_assert_eq(start % 4096, 0);
		cr_assert_eq(start, (top - rd.size) & ~0xfffull, "initrd at 0x%llx",
			     (unsigned long long)start);
		cr_assert_geq(start, e.image_end, "initrd inside init_size");
		cr_assert_eq(memcmp(gp(start, rd.size), rd.data, rd.size), 0, "initrd contents");
	} else {
		cr_assert_eq(bp.hdr.ramdisk_image, 0);
	}
	loader_unmap_file(&k);
	loader_unmap_file(&rd);
}

/* Debian's kernel says cmdline_size 0x7ff: 2047 characters plus the NUL. */
Test(distro, takes_a_command_line_of_cmdline_size_characters)
{
	struct loader_image k, rd;
	struct loader_args a = { .acpi_rsdp = RSDP };
	struct setup_header h;
	struct boot_entry e;
	static char cmd[X86_CMDLINE_MAX + 2];

	map_distro_kernel(&k, &rd);
	h = distro_header(&k);
	if (h.cmdline_size >= X86_CMDLINE_MAX)
		cr_skip_test("cmdline_size %u is beyond kiln's area", h.cmdline_size);
	memset(cmd, 'k', h.cmdline_size + 1);
	cmd[h.cmdline_size] = '\0';
	a.kernel = k;
	a.cmdline = cmd;
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%u characters refused: %s",
		     h.cmdline_size, err);
	cr_assert_eq(strlen(gstr(CMDLINE)), h.cmdline_size);
	cmd[h.cmdline_size] = 'k';
	cmd[h.cmdline_size + 1] = '\0';
	a.kernel = k;
	assert_rejected_as(loader_load(gm, &a, &e, err, sizeof(err)), k.path, "too long");
	loader_unmap_file(&k);
	loader_unmap_file(&rd);
}

/* ---- ELF builder: vmlinux and PVH -------------------------------------------------------- */

#define VM_LOAD 0x1000000ull
#define VM_ENTRY (VM_LOAD + 0x100)
#define VM_DATA_OFF 0x1000
#define VM_FILESZ 0x800
#define VM_MEMSZ 0x2000
#define VM_NOTE_OFF (VM_DATA_OFF + VM_FILESZ) /* notes last: they end the file */
#define ELF_MAX 0x3000

struct elfimg {
	_Alignas(8) uint8_t b[ELF_MAX];
	size_t size;
};

static Elf64_Ehdr *EH(struct elfimg *im) { return (Elf64_Ehdr *)im->b; }
static Elf64_Phdr *PH(struct elfimg *im, int i)
{
	return (Elf64_Phdr *)(im->b + sizeof(Elf64_Ehdr)) + i;
}

/* ELF64 executable: PT_LOAD of 0x800 bytes (memsz 0x2000) at 16 MiB, then an empty PT_NOTE at
 * the end of the file that add_note() grows. */
static void build_elf(struct elfimg *im)
{
	Elf64_Ehdr *eh = EH(im);

	memset(im, 0, sizeof(*im));
	memcpy(im->b, ELFMAG, SELFMAG);
	im->b[EI_CLASS] = ELFCLASS64;
	im->b[EI_DATA] = ELFDATA2LSB;
	im->b[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = VM_ENTRY;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	*PH(im, 0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
				   .p_offset = VM_DATA_OFF, .p_vaddr = VM_LOAD, .p_paddr = VM_LOAD,
				   .p_filesz = VM_FILESZ, .p_memsz = VM_MEMSZ, .p_align = 0x1000 };
	*PH(im, 1) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R, .p_offset = VM_NOTE_OFF,
				   .p_align = 4 };
	for (size_t i = 0; i < VM_FILESZ; i++)
		im->b[VM_DATA_OFF + i] = (uint8_t)(i * 5 + 2);
	im->size = VM_NOTE_OFF;
}

static void put_raw(struct elfimg *im, const void *p, size_t len)
{
	if (!len)
		return;
	cr_assert_leq(im->size + len, ELF_MAX);
	memcpy(im->b + im->size, p, len);
	im->size += len;
	PH(im, 1)->p_filesz = im->size - VM_NOTE_OFF;
}

static void add_note(struct elfimg *im, const char *name, uint32_t namesz, uint32_t type,
		     const void *desc, uint32_t descsz)
{
	uint32_t h[3] = { namesz, descsz, type };
	static const uint8_t pad[4];

	put_raw(im, h, sizeof(h));
	put_raw(im, name, namesz);
	put_raw(im, pad, (4 - namesz % 4) % 4);
	put_raw(im, desc, descsz);
	put_raw(im, pad, (4 - descsz % 4) % 4);
}

static void add_linux_note(struct elfimg *im)
{
	uint32_t salt = 0x600dcafe;

	add_note(im, "Linux", 6, 0x100 /* LINUX_ELFNOTE_BUILD_SALT */, &salt, 4);
}

static void add_gnu_note(struct elfimg *im)
{
	uint8_t id[20];

	memset(id, 0x42, sizeof(id));
	add_note(im, "GNU", 4, NT_GNU_BUILD_ID, id, sizeof(id));
}

static void add_pvh_note(struct elfimg *im, uint32_t entry)
{
	add_note(im, "Xen", 4, XEN_ELFNOTE_PHYS32_ENTRY, &entry, 4);
}

static int load_elf(const struct elfimg *im, const char *cmdline, const void *rd, size_t rdsize,
		    struct boot_entry *e)
{
	return load(im->b, im->size, cmdline, rd, rdsize, e);
}

static struct loader_image elf_image(const struct elfimg *im)
{
	return (struct loader_image){ .data = guarded(im->b, im->size), .size = im->size,
				      .path = KERNEL_PATH };
}

/* ---- vmlinux ----------------------------------------------------------------------------- */

Test(vmlinux, linux_note_detected)
{
	struct elfimg im;
	struct loader_image li;
	uint32_t pvh = 0;

	build_elf(&im);
	add_gnu_note(&im);
	add_linux_note(&im); /* second note in the segment: the walk must step over the first */
	li = elf_image(&im);
	cr_assert(elf_has_linux_note(&li));
	cr_assert_eq(elf_pvh_entry(&li, &pvh), -ENOENT);
	build_elf(&im);
	add_gnu_note(&im);
	li = elf_image(&im);
	cr_assert_not(elf_has_linux_note(&li));
}

Test(vmlinux, loads_as_linux_vmlinux)
{
	struct elfimg im;
	struct boot_entry e;

	build_elf(&im);
	add_linux_note(&im);
	cr_assert_eq(load_elf(&im, "console=ttyS0", NULL, 0, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "Linux vmlinux");
	cr_assert_eq(e.mode, BOOT_LONG64);
	cr_assert_eq(e.rip, VM_ENTRY);
	cr_assert_eq(e.rsi, ZERO_PAGE);
	cr_assert_eq(e.rsp, X86_BOOT_STACK_TOP);
	cr_assert(e.linux_guest);
	cr_assert_eq(e.image_start, VM_LOAD);
	cr_assert_eq(e.image_end, VM_LOAD + VM_MEMSZ);
	cr_assert_eq(memcmp(gp(VM_LOAD, VM_FILESZ), im.b + VM_DATA_OFF, VM_FILESZ), 0);
	cr_assert(gzero(VM_LOAD + VM_FILESZ, VM_MEMSZ - VM_FILESZ), "bss");
}

Test(vmlinux, boot_params_synthesised)
{
	struct elfimg im;
	struct boot_entry e;
	struct boot_params bp;

	build_elf(&im);
	add_linux_note(&im);
	cr_assert_eq(load_elf(&im, "root=/dev/vda ro", NULL, 0, &e), 0, "%s", err);
	bp = zero_page();
	cr_assert_eq(bp.hdr.boot_flag, 0xaa55);
	cr_assert_eq(bp.hdr.header, HDRS);
	cr_assert_geq(bp.hdr.version, 0x020c, "version 0x%x", bp.hdr.version);
	cr_assert(bp.hdr.loadflags & LOADED_HIGH);
	cr_assert_eq(bp.hdr.type_of_loader, 0xff);
	cr_assert_eq(bp.hdr.cmd_line_ptr, CMDLINE);
	cr_assert_str_eq(gstr(CMDLINE), "root=/dev/vda ro");
	cr_assert_gt(bp.hdr.cmdline_size, strlen("root=/dev/vda ro"));
	cr_assert_eq(bp.hdr.vid_mode, 0xffff);
	cr_assert_eq(bp.hdr.code32_start, VM_LOAD);
	cr_assert_eq(bp.hdr.ramdisk_image, 0);
	cr_assert_eq(bp.hdr.ramdisk_size, 0);
	cr_assert_eq(bp.acpi_rsdp_addr, RSDP);
	assert_e820_matches(&bp);
}

Test(vmlinux, initrd_above_the_image_below_2gib)
{
	struct elfimg im;
	struct boot_entry e;
	struct boot_params bp;
	size_t size = 0x5123;
	uint8_t *rd = make_initrd(size);

	build_elf(&im);
	add_linux_note(&im);
	cr_assert_eq(load_elf(&im, NULL, rd, size, &e), 0, "%s", err);
	bp = zero_page();
	cr_assert_eq(bp.hdr.ramdisk_image, (RAM_SIZE - size) & ~0xfffull);
	cr_assert_eq(bp.hdr.ramdisk_size, size);
	cr_assert_geq(bp.hdr.ramdisk_image, e.image_end);
	cr_assert_leq(bp.hdr.ramdisk_image + size, (uint64_t)bp.hdr.initrd_addr_max + 1);
	cr_assert_eq(memcmp(gp(bp.hdr.ramdisk_image, size), rd, size), 0);
	free(rd);
}

Test(vmlinux, without_the_note_a_bare_elf64)
{
	struct elfimg im;
	struct boot_entry e;

	build_elf(&im);
	add_gnu_note(&im);
	cr_assert_eq(load_elf(&im, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "elf64");
	cr_assert_not(e.linux_guest);
	cr_assert_eq(e.rsi, 0);
	assert_zero_page_untouched();
}

Test(vmlinux, linux_note_wins_over_a_pvh_note)
{
	struct elfimg im;
	struct boot_entry e;
	struct loader_image li;
	uint32_t pvh = 0;

	build_elf(&im); /* as Linux's own vmlinux: both notes */
	add_pvh_note(&im, VM_LOAD + 0x40);
	add_linux_note(&im);
	li = elf_image(&im);
	cr_assert_eq(elf_pvh_entry(&li, &pvh), 0);
	cr_assert_eq(pvh, VM_LOAD + 0x40);
	cr_assert_eq(load_elf(&im, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "Linux vmlinux");
	cr_assert_eq(e.rip, VM_ENTRY);
}

Test(vmlinux, segment_below_1mib_refused)
{
	struct elfimg im;
	struct boot_entry e;

	build_elf(&im);
	add_linux_note(&im);
	PH(&im, 0)->p_paddr = 0x80000;
	EH(&im)->e_entry = 0x80000;
	assert_rejected(load_elf(&im, NULL, NULL, 0, &e), "boot area");
	cr_assert(ram_untouched());
}

Test(vmlinux, command_line_too_long)
{
	struct elfimg im;
	struct boot_entry e;
	char cmd[2050];

	build_elf(&im);
	add_linux_note(&im);
	memset(cmd, 'v', 2048);
	cmd[2048] = '\0';
	assert_rejected(load_elf(&im, cmd, NULL, 0, &e), "too long");
	assert_zero_page_untouched();
}

/* Kiln's page tables identity-map the first 4 GiB only; a vmlinux above that would be entered in
 * unmapped memory. The elf64 loader refuses that ("identity map"); so must this one. */
Test(vmlinux, segment_above_4gib_refused)
{
	struct elfimg im;
	struct boot_entry e;

	ram_remap(5 * GIB);
	build_elf(&im);
	add_linux_note(&im);
	PH(&im, 0)->p_paddr = 0x101000000ull;
	EH(&im)->e_entry = 0x101000100ull;
	cr_assert_eq(load_elf(&im, NULL, NULL, 0, &e), -EINVAL,
		     "vmlinux entered at 0x%llx, outside the 4 GiB identity map (%s)",
		     (unsigned long long)e.rip, err);
	cr_assert_not_null(strstr(err, KERNEL_PATH), "%s", err);
}

/* Hostile notes: each is ignored (not a Linux kernel: a bare elf64), nothing is read outside the
 * file (the guard page after it faults at once), nothing crashes. */
static void assert_plain_elf64(struct elfimg *im, const char *what)
{
	struct boot_entry e;
	struct loader_image li = elf_image(im);
	uint32_t pvh;

	cr_assert_not(elf_has_linux_note(&li), "%s: seen as Linux", what);
	cr_assert_eq(elf_pvh_entry(&li, &pvh), -ENOENT, "%s: seen as PVH", what);
	cr_assert_eq(load_elf(im, NULL, NULL, 0, &e), 0, "%s: %s", what, err);
	cr_assert_str_eq(e.format, "elf64", "%s", what);
}

Test(vmlinux, note_segment_past_end_of_file_ignored)
{
	struct elfimg im;

	build_elf(&im);
	add_linux_note(&im);
	PH(&im, 1)->p_filesz += 4; /* one word past the end */
	assert_plain_elf64(&im, "p_filesz past EOF");
	build_elf(&im);
	add_linux_note(&im);
	PH(&im, 1)->p_offset = UINT64_MAX - 8; /* offset + filesz wraps */
	assert_plain_elf64(&im, "p_offset wraps");
	build_elf(&im);
	add_linux_note(&im);
	PH(&im, 1)->p_offset = im.size; /* starts at EOF */
	assert_plain_elf64(&im, "p_offset at EOF");
}

Test(vmlinux, note_header_truncated)
{
	struct elfimg im;

	build_elf(&im);
	add_linux_note(&im);
	PH(&im, 1)->p_filesz = 11; /* not even the 12-byte note header */
	assert_plain_elf64(&im, "filesz 11");
	build_elf(&im);
	add_linux_note(&im);
	PH(&im, 1)->p_filesz = 12 + 4; /* header and part of the name */
	assert_plain_elf64(&im, "name cut");
	build_elf(&im);
	add_linux_note(&im);
	PH(&im, 1)->p_filesz = 12 + 8 + 2; /* name, half the descriptor */
	assert_plain_elf64(&im, "desc cut");
}

Test(vmlinux, note_sizes_oversized)
{
	struct elfimg im;
	uint32_t h[3];

	build_elf(&im);
	h[0] = 0xffffffff, h[1] = 4, h[2] = 1; /* namesz: 4 GiB of name */
	put_raw(&im, h, sizeof(h));
	add_linux_note(&im); /* unreachable: the walk cannot step over the bad note */
	assert_plain_elf64(&im, "namesz 0xffffffff");

	build_elf(&im);
	h[0] = 6, h[1] = 0xfffffffd, h[2] = 1; /* descsz: aligned up it is 4 GiB */
	put_raw(&im, h, sizeof(h));
	put_raw(&im, "Linux\0\0\0", 8);
	assert_plain_elf64(&im, "descsz 0xfffffffd");

	build_elf(&im);
	h[0] = 0xfffffffe, h[1] = 0xfffffffe, h[2] = 18;
	put_raw(&im, h, sizeof(h));
	put_raw(&im, "Xen\0", 4);
	assert_plain_elf64(&im, "both sizes huge");
}

Test(vmlinux, near_miss_names_are_not_linux)
{
	struct elfimg im;
	uint32_t v = 1;

	build_elf(&im);
	add_note(&im, "Linux", 5, 0x100, &v, 4); /* no NUL counted */
	assert_plain_elf64(&im, "namesz 5");
	build_elf(&im);
	add_note(&im, "Linux\0\0", 7, 0x100, &v, 4);
	assert_plain_elf64(&im, "namesz 7");
	build_elf(&im);
	add_note(&im, "linux", 6, 0x100, &v, 4);
	assert_plain_elf64(&im, "lower case");
}

Test(vmlinux, note_ending_exactly_at_eof_found)
{
	struct elfimg im;
	struct loader_image li;

	build_elf(&im);
	add_note(&im, "Linux", 6, 0x100, NULL, 0); /* no descriptor: the name ends the file */
	li = elf_image(&im);
	cr_assert(elf_has_linux_note(&li));
}

Test(vmlinux, tiny_or_broken_elf_has_no_notes)
{
	struct elfimg im;
	struct loader_image li;
	uint32_t pvh;

	build_elf(&im);
	add_linux_note(&im);
	li = (struct loader_image){ .data = guarded(im.b, 20), .size = 20, .path = KERNEL_PATH };
	cr_assert_not(elf_has_linux_note(&li));
	cr_assert_eq(elf_pvh_entry(&li, &pvh), -ENOENT);
	EH(&im)->e_phnum = 0xffff; /* program headers past the end */
	li = elf_image(&im);
	cr_assert_not(elf_has_linux_note(&li));
	li = (struct loader_image){ .data = guarded("", 0), .size = 0, .path = KERNEL_PATH };
	cr_assert_not(elf_has_linux_note(&li));
	cr_assert_eq(elf_pvh_entry(&li, &pvh), -ENOENT);
}

/* ---- PVH --------------------------------------------------------------------------------- */

#define PVH_ENTRY (VM_LOAD + 0x40)

static struct hvm_start_info start_info(void)
{
	struct hvm_start_info si;

	cr_assert_eq(gmem_read(gm, &si, ZERO_PAGE, sizeof(si)), 0);
	return si;
}

Test(pvh, loads_with_start_info)
{
	struct elfimg im;
	struct boot_entry e;
	struct hvm_start_info si;
	struct x86_memmap_entry map[X86_MEMMAP_MAX];
	unsigned int n;

	build_elf(&im);
	add_gnu_note(&im);
	add_pvh_note(&im, PVH_ENTRY);
	cr_assert_eq(load_elf(&im, "console=hvc0", NULL, 0, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "PVH");
	cr_assert_eq(e.mode, BOOT_PROT32);
	cr_assert_eq(e.rip, PVH_ENTRY, "entered at the note's entry, not e_entry");
	cr_assert_eq(e.ebx, ZERO_PAGE);
	cr_assert_not(e.linux_guest, "no Linux note");
	cr_assert_eq(e.image_start, VM_LOAD);
	cr_assert_eq(e.image_end, VM_LOAD + VM_MEMSZ);
	cr_assert_eq(memcmp(gp(VM_LOAD, VM_FILESZ), im.b + VM_DATA_OFF, VM_FILESZ), 0);

	si = start_info();
	cr_assert_eq(si.magic, PVH_MAGIC);
	cr_assert_eq(si.version, 1);
	cr_assert_eq(si.nr_modules, 0);
	cr_assert_eq(si.cmdline_paddr, CMDLINE);
	cr_assert_str_eq(gstr(si.cmdline_paddr), "console=hvc0");
	cr_assert_eq(si.rsdp_paddr, RSDP);
	cr_assert_eq(si.reserved, 0);
	n = x86_memmap(gm, map);
	cr_assert_eq(si.memmap_entries, n);
	cr_assert_neq(si.memmap_paddr, 0);
	cr_assert(!ranges_overlap(si.memmap_paddr, n * sizeof(struct hvm_memmap_table_entry),
				  ZERO_PAGE, sizeof(si)),
		  "memmap over the start info");
	for (unsigned int i = 0; i < n; i++) {
		struct hvm_memmap_table_entry m;

		cr_assert_eq(gmem_read(gm, &m, si.memmap_paddr + i * sizeof(m), sizeof(m)), 0);
		cr_assert_eq(m.addr, map[i].addr, "memmap[%u].addr", i);
		cr_assert_eq(m.size, map[i].len, "memmap[%u].size", i);
		cr_assert_eq(m.type, map[i].type, "memmap[%u].type", i);
		cr_assert_eq(m.reserved, 0);
	}
}

Test(pvh, initrd_is_module_0)
{
	struct elfimg im;
	struct boot_entry e;
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	size_t size = 0x1801;
	uint8_t *rd = make_initrd(size);

	build_elf(&im);
	add_pvh_note(&im, PVH_ENTRY);
	cr_assert_eq(load_elf(&im, NULL, rd, size, &e), 0, "%s", err);
	si = start_info();
	cr_assert_eq(si.nr_modules, 1);
	cr_assert_neq(si.modlist_paddr, 0);
	cr_assert(!ranges_overlap(si.modlist_paddr, sizeof(mod), ZERO_PAGE, sizeof(si)));
	cr_assert(!ranges_overlap(si.modlist_paddr, sizeof(mod), si.memmap_paddr,
				  si.memmap_entries * sizeof(struct hvm_memmap_table_entry)));
	cr_assert_eq(gmem_read(gm, &mod, si.modlist_paddr, sizeof(mod)), 0);
	cr_assert_eq(mod.size, size);
	cr_assert_eq(mod.paddr % 4096, 0);
	cr_assert_geq(mod.paddr, e.image_end);
	cr_assert_eq(mod.paddr, (RAM_SIZE - size) & ~0xfffull);
	cr_assert_eq(memcmp(gp(mod.paddr, size), rd, size), 0);
	cr_assert_str_eq(gstr(si.cmdline_paddr), "");
	free(rd);
}

Test(pvh, eight_byte_descriptor_accepted)
{
	struct elfimg im;
	struct boot_entry e;
	uint64_t entry = PVH_ENTRY;

	build_elf(&im);
	add_note(&im, "Xen", 4, XEN_ELFNOTE_PHYS32_ENTRY, &entry, 8);
	cr_assert_eq(load_elf(&im, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "PVH");
	cr_assert_eq(e.rip, PVH_ENTRY);
}

Test(pvh, other_xen_notes_are_not_pvh)
{
	struct elfimg im;
	uint32_t entry = PVH_ENTRY;
	uint16_t half = 0x40;

	build_elf(&im);
	add_note(&im, "Xen", 4, 17, &entry, 4); /* another Xen note type */
	assert_plain_elf64(&im, "type 17");
	build_elf(&im);
	add_note(&im, "Xen", 4, XEN_ELFNOTE_PHYS32_ENTRY, &half, 2); /* descriptor too short */
	assert_plain_elf64(&im, "descsz 2");
	build_elf(&im);
	add_note(&im, "Xe", 3, XEN_ELFNOTE_PHYS32_ENTRY, &entry, 4);
	assert_plain_elf64(&im, "name Xe");
}

Test(pvh, entry_outside_the_image_refused)
{
	struct elfimg im;
	struct boot_entry e;

	build_elf(&im);
	add_pvh_note(&im, (uint32_t)(VM_LOAD + VM_MEMSZ)); /* one past the end */
	assert_rejected(load_elf(&im, NULL, NULL, 0, &e),
			"PVH entry point 0x1002000 is outside the loaded image");
	assert_zero_page_untouched();
	build_elf(&im);
	add_pvh_note(&im, (uint32_t)(VM_LOAD - 1));
	assert_rejected(load_elf(&im, NULL, NULL, 0, &e), "is outside the loaded image");
	build_elf(&im);
	add_pvh_note(&im, 0);
	assert_rejected(load_elf(&im, NULL, NULL, 0, &e), "is outside the loaded image");
	assert_zero_page_untouched();
}

Test(pvh, linux_guest_when_the_linux_note_is_there_too)
{
	struct elfimg im;
	struct boot_entry e;
	struct loader_args a;

	build_elf(&im);
	add_pvh_note(&im, PVH_ENTRY);
	add_linux_note(&im);
	a = mkargs(im.b, im.size, NULL, NULL, 0);
	cr_assert_eq(loader_load_pvh(gm, &a, PVH_ENTRY, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert(e.linux_guest);
	cr_assert_str_eq(e.format, "PVH");
}

/* ---- e820 via x86_memmap ----------------------------------------------------------------- */

/* A gmem laid out for `size` bytes over host pointers that are never dereferenced. */
static struct gmem *fake_gmem(uint64_t size)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct gmem *g;
	int n = gmem_layout(size, X86_MMIO_HOLE_START, r);

	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++)
		r[i].hva = (void *)(uintptr_t)(0x100000000000ull + (uint64_t)i * 0x10000000000ull);
	cr_assert_eq(gmem_create_from(&g, r, (unsigned int)n), 0);
	return g;
}

/* Sorted, disjoint, clear of the MMIO hole, RAM entries backed by guest RAM, RAM total = size
 * less the legacy hole. */
static void check_memmap(const struct gmem *g, uint64_t size, const struct x86_memmap_entry *m,
			 unsigned int n)
{
	uint64_t ram = 0;

	cr_assert_gt(n, 0);
	cr_assert_leq(n, X86_MEMMAP_MAX);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_gt(m[i].len, 0, "entry %u empty", i);
		if (i)
			cr_assert_geq(m[i].addr, m[i - 1].addr + m[i - 1].len,
				      "entry %u unsorted or overlapping", i);
		cr_assert_not(ranges_overlap(m[i].addr, m[i].len, X86_MMIO_HOLE_START,
					     X86_MMIO_HOLE_END - X86_MMIO_HOLE_START),
			      "entry %u [0x%llx+0x%llx) in the MMIO hole", i,
			      (unsigned long long)m[i].addr, (unsigned long long)m[i].len);
		cr_assert(m[i].type == X86_MEMMAP_RAM || m[i].type == X86_MEMMAP_RESERVED);
		if (m[i].type == X86_MEMMAP_RAM) {
			cr_assert_not_null(gmem_ptr(g, m[i].addr, m[i].len),
					   "RAM entry %u is not guest RAM", i);
			ram += m[i].len;
		}
	}
	cr_assert_eq(ram, size - LEGACY_HOLE, "RAM total 0x%llx for a 0x%llx guest",
		     (unsigned long long)ram, (unsigned long long)size);
}

#define assert_entry(m, i, a, l, t)                                                             \
	do {                                                                                    \
		cr_assert_eq((m)[i].addr, (a), "entry %d addr 0x%llx", (i),                      \
			     (unsigned long long)(m)[i].addr);                                  \
		cr_assert_eq((m)[i].len, (l), "entry %d len 0x%llx", (i),                        \
			     (unsigned long long)(m)[i].len);                                   \
		cr_assert_eq((m)[i].type, (t), "entry %d type", (i));                            \
	} while (0)

Test(e820, guest_128mib)
{
	struct gmem *g = fake_gmem(128 * MIB);
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	unsigned int n = x86_memmap(g, m);

	cr_assert_eq(n, 3);
	assert_entry(m, 0, 0, 0x9fc00, X86_MEMMAP_RAM);
	assert_entry(m, 1, 0x9fc00, 0x100000 - 0x9fc00, X86_MEMMAP_RESERVED);
	assert_entry(m, 2, 0x100000, 128 * MIB - 0x100000, X86_MEMMAP_RAM);
	check_memmap(g, 128 * MIB, m, n);
	gmem_destroy(g);
}

Test(e820, guest_3gib_fills_low_memory_exactly)
{
	struct gmem *g = fake_gmem(3 * GIB);
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	unsigned int n = x86_memmap(g, m);

	cr_assert_eq(gmem_nr_regions(g), 1);
	cr_assert_eq(n, 3);
	assert_entry(m, 0, 0, 0x9fc00, X86_MEMMAP_RAM);
	assert_entry(m, 1, 0x9fc00, 0x60400, X86_MEMMAP_RESERVED);
	assert_entry(m, 2, 0x100000, 0xc0000000 - 0x100000, X86_MEMMAP_RAM);
	cr_assert_eq(m[2].addr + m[2].len, X86_MMIO_HOLE_START);
	for (unsigned int i = 0; i < n; i++)
		cr_assert_lt(m[i].addr, X86_MMIO_HOLE_END, "nothing above 4 GiB");
	check_memmap(g, 3 * GIB, m, n);
	gmem_destroy(g);
}

Test(e820, guest_5gib_continues_above_4gib)
{
	struct gmem *g = fake_gmem(5 * GIB);
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	unsigned int n = x86_memmap(g, m);

	cr_assert_eq(gmem_nr_regions(g), 2);
	cr_assert_eq(n, 4);
	assert_entry(m, 0, 0, 0x9fc00, X86_MEMMAP_RAM);
	assert_entry(m, 1, 0x9fc00, 0x60400, X86_MEMMAP_RESERVED);
	assert_entry(m, 2, 0x100000, 0xc0000000 - 0x100000, X86_MEMMAP_RAM);
	assert_entry(m, 3, 4 * GIB, 2 * GIB, X86_MEMMAP_RAM);
	check_memmap(g, 5 * GIB, m, n);
	gmem_destroy(g);
}

Test(e820, guest_3gib_plus_one_page)
{
	struct gmem *g = fake_gmem(3 * GIB + 4096);
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	unsigned int n = x86_memmap(g, m);

	cr_assert_eq(n, 4);
	assert_entry(m, 3, 4 * GIB, 4096, X86_MEMMAP_RAM);
	check_memmap(g, 3 * GIB + 4096, m, n);
	gmem_destroy(g);
}

Test(e820, guest_of_1mib_has_no_ram_above_it)
{
	struct gmem *g = fake_gmem(MIB);
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	unsigned int n = x86_memmap(g, m);

	cr_assert_eq(n, 2);
	assert_entry(m, 0, 0, 0x9fc00, X86_MEMMAP_RAM);
	assert_entry(m, 1, 0x9fc00, 0x60400, X86_MEMMAP_RESERVED);
	check_memmap(g, MIB, m, n);
	gmem_destroy(g);
}

Test(e820, guest_smaller_than_conventional_memory)
{
	struct gmem *g = fake_gmem(512 * KIB);
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	unsigned int n = x86_memmap(g, m);

	cr_assert_eq(n, 1);
	assert_entry(m, 0, 0, 512 * KIB, X86_MEMMAP_RAM);
	gmem_destroy(g);
}

/* The zero page of a bzImage loaded into large guests (lazily mapped, untouched but for what the
 * loader writes): its e820 table and where the initrd goes. */
Test(e820_boot, bzimage_in_a_5gib_guest)
{
	struct bz z;
	struct boot_entry e;
	struct boot_params bp;
	size_t size = 0x2000;
	uint8_t *rd = make_initrd(size);

	ram_remap(5 * GIB);
	build_bz(&z);
	cr_assert_eq(load_bz(&z, NULL, rd, size, &e), 0, "%s", err);
	bp = zero_page();
	assert_e820_matches(&bp);
	cr_assert_eq(bp.e820_entries, 4);
	cr_assert_eq(bp.e820_table[3].addr, 4 * GIB);
	cr_assert_eq(bp.e820_table[3].size, 2 * GIB);
	/* initrd_addr_max 0x7fffffff, below the end of low RAM (3 GiB): ends at 2 GiB. */
	cr_assert_eq(bp.hdr.ramdisk_image, 0x80000000 - size);
	cr_assert_eq(bp.ext_ramdisk_image, 0);
	cr_assert_eq(memcmp(gp(bp.hdr.ramdisk_image, size), rd, size), 0);
	free(rd);
}

Test(e820_boot, bzimage_in_a_3gib_guest_initrd_below_the_hole)
{
	struct bz z;
	struct boot_entry e;
	struct boot_params bp;
	size_t size = 0x2345;
	uint8_t *rd = make_initrd(size);

	ram_remap(3 * GIB);
	build_bz(&z);
	H(&z)->initrd_addr_max = 0xffffffff; /* no limit: the end of low RAM is */
	cr_assert_eq(load_bz(&z, NULL, rd, size, &e), 0, "%s", err);
	bp = zero_page();
	assert_e820_matches(&bp);
	cr_assert_eq(bp.e820_entries, 3);
	cr_assert_eq(bp.hdr.ramdisk_image, (0xc0000000 - size) & ~0xfffull);
	cr_assert_leq(bp.hdr.ramdisk_image + size, X86_MMIO_HOLE_START);
	cr_assert_eq(memcmp(gp(bp.hdr.ramdisk_image, size), rd, size), 0);
	free(rd);
}

Test(e820_boot, vmlinux_and_pvh_in_a_5gib_guest)
{
	struct elfimg im;
	struct boot_entry e;
	struct hvm_start_info si;
	struct boot_params bp;

	ram_remap(5 * GIB);
	build_elf(&im);
	add_linux_note(&im);
	cr_assert_eq(load_elf(&im, NULL, NULL, 0, &e), 0, "%s", err);
	bp = zero_page();
	assert_e820_matches(&bp);
	cr_assert_eq(bp.e820_entries, 4);

	build_elf(&im);
	add_pvh_note(&im, PVH_ENTRY);
	cr_assert_eq(load_elf(&im, NULL, NULL, 0, &e), 0, "%s", err);
	si = start_info();
	cr_assert_eq(si.memmap_entries, 4);
	{
		struct hvm_memmap_table_entry m;

		cr_assert_eq(gmem_read(gm, &m, si.memmap_paddr + 3 * sizeof(m), sizeof(m)), 0);
		cr_assert_eq(m.addr, 4 * GIB);
		cr_assert_eq(m.size, 2 * GIB);
		cr_assert_eq(m.type, X86_MEMMAP_RAM);
	}
}

/* ---- detection order --------------------------------------------------------------------- */

#define MB_MAGIC 0x1badb002u

Test(linux_detect, bzimage_with_a_multiboot_header_is_a_bzimage)
{
	struct bz z;
	struct boot_entry e;
	struct loader_image li;
	uint32_t mb[3] = { MB_MAGIC, 0, -MB_MAGIC };
	long bad;

	build_bz(&z);
	memcpy(z.b + 0x400, mb, sizeof(mb)); /* in the setup sectors, inside the first 8 KiB */
	li = (struct loader_image){ .data = guarded(z.b, z.size), .size = z.size };
	cr_assert_eq(multiboot_find_header(&li, &bad), 0x400, "the multiboot header is valid");
	cr_assert(linux_is_bzimage(&li));
	cr_assert_eq(load_bz(&z, NULL, NULL, 0, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "Linux bzImage");
}

Test(linux_detect, shorter_than_the_header_is_not_a_bzimage)
{
	struct bz z;
	struct boot_entry e;
	struct loader_image li;

	build_bz(&z);
	for (size_t len = 0x206; len < HDR_END; len += 0x31) {
		z.size = len; /* boot flag and "HdrS" present, the rest of the header cut */
		li = (struct loader_image){ .data = guarded(z.b, len), .size = len };
		cr_assert_not(linux_is_bzimage(&li), "%zu bytes detected as a bzImage", len);
		assert_rejected(load_bz(&z, NULL, NULL, 0, &e), "unknown format");
	}
	z.size = HDR_END - 1;
	assert_rejected(load_bz(&z, NULL, NULL, 0, &e), "unknown format");
	cr_assert(ram_untouched());
}

Test(linux_detect, exactly_the_header_is_a_truncated_bzimage)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	z.size = HDR_END;
	assert_rejected(load_bz(&z, NULL, NULL, 0, &e), "truncated bzImage");
	cr_assert(ram_untouched());
}

Test(linux_detect, wrong_magic_is_not_a_bzimage)
{
	struct bz z;
	struct boot_entry e;

	build_bz(&z);
	H(&z)->boot_flag = 0x55aa;
	assert_rejected(load_bz(&z, NULL, NULL, 0, &e), "unknown format");
	build_bz(&z);
	H(&z)->header = 0x53726468; /* "hdrS" */
	assert_rejected(load_bz(&z, NULL, NULL, 0, &e), "unknown format");
	cr_assert(ram_untouched());
}

Test(pvh, linux_cmdline_is_not_for_other_kernels)
{
	struct elfimg im;
	struct boot_entry e;
	struct loader_args a;

	build_elf(&im);
	add_gnu_note(&im);
	add_pvh_note(&im, PVH_ENTRY);
	a = mkargs(im.b, im.size, "console=hvc0", NULL, 0);
	a.linux_cmdline = "console=hvc0 virtio_mmio.device=4K@0xd0000000:5";
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(e.format, "PVH");
	cr_assert_str_eq(gstr(CMDLINE), "console=hvc0");
}
