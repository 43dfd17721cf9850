/* test_loader.c: format detection and the ELF64, multiboot and flat loaders fed valid and hostile
 * images (src/loader/). Images are built in memory from <elf.h> structs; the real test guests are
 * loaded too when meson passes their folder in KILN_GUEST_DIR. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader/loader.h"

#define MIB (1024ull * 1024)
#define RAM_SIZE (16 * MIB)
#define POISON 0xaa

#define MB_MAGIC 0x1badb002u
#define MB_BOOT_MAGIC 0x2badb002u
#define MB_AOUT (1u << 16)
#define MBI_ADDR 0x7000u
#define CMDLINE_ADDR 0x8000u

#define IMG_MAX 0x4000
#define KERNEL_PATH "kernel.img"
#define INITRD_PATH "initrd.img"

/* ---- fixtures ---------------------------------------------------------------------------- */

static uint8_t *ram;
static struct gmem *gm;
static char err[LOADER_ERR_MAX];

/* 16 MiB of fake guest RAM at gpa 0, poisoned so that bss zeroing and stray writes show. */
static void ram_setup(void)
{
	struct gmem_region r;

	ram = malloc(RAM_SIZE);
	cr_assert_not_null(ram);
	memset(ram, POISON, RAM_SIZE);
	r = (struct gmem_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	cr_assert_eq(gmem_create_from(&gm, &r, 1), 0);
	memset(err, 0, sizeof(err));
}

static void ram_teardown(void)
{
	gmem_destroy(gm);
	free(ram);
}

TestSuite(elf64, .init = ram_setup, .fini = ram_teardown);
TestSuite(detect, .init = ram_setup, .fini = ram_teardown);
TestSuite(multiboot, .init = ram_setup, .fini = ram_teardown);
TestSuite(aout, .init = ram_setup, .fini = ram_teardown);
TestSuite(flat, .init = ram_setup, .fini = ram_teardown);
TestSuite(guests, .init = ram_setup, .fini = ram_teardown);

/* True when no byte of guest RAM was written. */
static bool ram_untouched(void)
{
	for (size_t i = 0; i < RAM_SIZE; i++)
		if (ram[i] != POISON)
			return false;
	return true;
}

static bool ram_is(uint64_t gpa, uint8_t v, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (ram[gpa + i] != v)
			return false;
	return true;
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v;

	cr_assert_eq(gmem_read(gm, &v, gpa, 4), 0, "read of 0x%llx", (unsigned long long)gpa);
	return v;
}

static uint64_t rd64(uint64_t gpa)
{
	uint64_t v;

	cr_assert_eq(gmem_read(gm, &v, gpa, 8), 0, "read of 0x%llx", (unsigned long long)gpa);
	return v;
}

/* A NUL-terminated string in guest RAM (asserts it ends inside RAM). */
static const char *gstr(uint64_t gpa)
{
	cr_assert_lt(gpa, RAM_SIZE);
	cr_assert_not_null(memchr(ram + gpa, '\0', RAM_SIZE - gpa), "unterminated guest string");
	return (const char *)ram + gpa;
}

/* The loader failed with -EINVAL and a message naming `path` and containing `phrase`. */
#define assert_rejected_as(rc, path, phrase)                                                    \
	do {                                                                                    \
		cr_assert_eq((rc), -EINVAL, "expected -EINVAL, got %d (%s)", (rc), err);        \
		cr_assert_not_null(strstr(err, (path)), "message does not name %s: '%s'", (path), \
				   err);                                                        \
		cr_assert_not_null(strstr(err, (phrase)), "expected \"%s\" in '%s'", (phrase),    \
				   err);                                                        \
	} while (0)
#define assert_rejected(rc, phrase) assert_rejected_as(rc, KERNEL_PATH, phrase)

/* ---- image builders ---------------------------------------------------------------------- */

struct image {
	_Alignas(8) uint8_t b[IMG_MAX];
	size_t size;
};

/* One program header to build; PT_LOAD data gets the bytes fill, fill+1, ... */
struct seg {
	uint32_t type;
	uint64_t paddr, offset, filesz, memsz;
	uint8_t fill;
};

static void fill_data(struct image *im, const struct seg *s)
{
	if (s->type != PT_LOAD || s->offset >= IMG_MAX || s->filesz > IMG_MAX - s->offset)
		return;
	for (uint64_t k = 0; k < s->filesz; k++)
		im->b[s->offset + k] = (uint8_t)(s->fill + k);
	if (s->offset + s->filesz > im->size)
		im->size = s->offset + s->filesz;
}

static Elf64_Ehdr *eh64(struct image *im) { return (Elf64_Ehdr *)im->b; }
static Elf64_Phdr *ph64(struct image *im, unsigned int i)
{
	return (Elf64_Phdr *)(im->b + sizeof(Elf64_Ehdr)) + i;
}
static Elf32_Ehdr *eh32(struct image *im) { return (Elf32_Ehdr *)im->b; }
static Elf32_Phdr *ph32(struct image *im, unsigned int i)
{
	return (Elf32_Phdr *)(im->b + sizeof(Elf32_Ehdr)) + i;
}

static void elf_ident(struct image *im, unsigned char cls)
{
	memcpy(im->b, ELFMAG, SELFMAG);
	im->b[EI_CLASS] = cls;
	im->b[EI_DATA] = ELFDATA2LSB;
	im->b[EI_VERSION] = EV_CURRENT;
}

static void build_elf64(struct image *im, uint64_t entry, const struct seg *segs, unsigned int n)
{
	Elf64_Ehdr *eh = eh64(im);

	memset(im, 0, sizeof(*im));
	elf_ident(im, ELFCLASS64);
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (Elf64_Half)n;
	im->size = sizeof(Elf64_Ehdr) + n * sizeof(Elf64_Phdr);
	for (unsigned int i = 0; i < n; i++) {
		*ph64(im, i) = (Elf64_Phdr){ .p_type = segs[i].type, .p_flags = PF_R | PF_X,
					     .p_offset = segs[i].offset, .p_vaddr = segs[i].paddr,
					     .p_paddr = segs[i].paddr, .p_filesz = segs[i].filesz,
					     .p_memsz = segs[i].memsz, .p_align = 0x1000 };
		fill_data(im, &segs[i]);
	}
}

static void build_elf32(struct image *im, uint32_t entry, const struct seg *segs, unsigned int n)
{
	Elf32_Ehdr *eh = eh32(im);

	memset(im, 0, sizeof(*im));
	elf_ident(im, ELFCLASS32);
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_386;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(Elf32_Ehdr);
	eh->e_ehsize = sizeof(Elf32_Ehdr);
	eh->e_phentsize = sizeof(Elf32_Phdr);
	eh->e_phnum = (Elf32_Half)n;
	im->size = sizeof(Elf32_Ehdr) + n * sizeof(Elf32_Phdr);
	for (unsigned int i = 0; i < n; i++) {
		*ph32(im, i) = (Elf32_Phdr){ .p_type = segs[i].type, .p_flags = PF_R | PF_X,
					     .p_offset = (Elf32_Off)segs[i].offset,
					     .p_vaddr = (Elf32_Addr)segs[i].paddr,
					     .p_paddr = (Elf32_Addr)segs[i].paddr,
					     .p_filesz = (Elf32_Word)segs[i].filesz,
					     .p_memsz = (Elf32_Word)segs[i].memsz, .p_align = 0x1000 };
		fill_data(im, &segs[i]);
	}
}

/* A multiboot v1 header at `off`; `aout` holds header_addr, load_addr, load_end_addr,
 * bss_end_addr and entry_addr, or is NULL. */
static void put_mb_header(struct image *im, size_t off, uint32_t flags, const uint32_t *aout)
{
	uint32_t h[8] = { MB_MAGIC, flags, -(MB_MAGIC + flags) };
	size_t len = 12;

	if (aout) {
		memcpy(&h[3], aout, 5 * sizeof(uint32_t));
		len = sizeof(h);
	}
	memcpy(im->b + off, h, len);
	if (off + len > im->size)
		im->size = off + len;
}

/* Deterministic junk with neither ELF magic nor a multiboot magic word in it. */
static void fill_random(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	p[0] = 0x4d; /* not 0x7f: never an ELF */
	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t w;

		memcpy(&w, p + i, 4);
		if (w == MB_MAGIC)
			p[i] ^= 1;
	}
}

static int load_image(const struct image *im, const char *cmdline, bool flat, struct boot_entry *e)
{
	struct loader_args a = {
		.kernel = { .data = im->b, .size = im->size, .path = KERNEL_PATH },
		.cmdline = cmdline,
		.flat = flat,
	};

	return loader_load(gm, &a, e, err, sizeof(err));
}

static int load_with_initrd(const struct image *im, const void *initrd, size_t initrd_size,
			    const char *cmdline, bool flat, struct boot_entry *e)
{
	struct loader_args a = {
		.kernel = { .data = im->b, .size = im->size, .path = KERNEL_PATH },
		.initrd = { .data = initrd, .size = initrd_size, .path = INITRD_PATH },
		.cmdline = cmdline,
		.flat = flat,
	};

	return loader_load(gm, &a, e, err, sizeof(err));
}

/* ---- ELF64 ------------------------------------------------------------------------------- */

#define E64_ENTRY 0x100010ull

/* Text at 1 MiB, data+bss at 1 MiB + 4 KiB, plus two headers the loader must ignore. */
static void build_valid_elf64(struct image *im)
{
	const struct seg segs[] = {
		{ PT_LOAD, 0x100000, 0x1000, 0x200, 0x200, 0x10 },
		{ PT_LOAD, 0x101000, 0x1200, 0x40, 0x1000, 0x80 },
		{ PT_NOTE, 0, UINT64_MAX, 0x100, 0x100, 0 },  /* not loaded: its offset is never used */
		{ PT_GNU_STACK, 0, 0, 0, 0, 0 },
	};

	build_elf64(im, E64_ENTRY, segs, ARRAY_SIZE(segs));
}

Test(elf64, valid_image_loads)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "elf64");
	cr_assert_eq(e.mode, BOOT_LONG64);
	cr_assert_eq(e.rip, E64_ENTRY);
	cr_assert_eq(e.rsp, 0x20000);
	cr_assert_eq(e.rdi, 0, "no command line, no pointer");
	cr_assert_eq(e.image_start, 0x100000);
	cr_assert_eq(e.image_end, 0x102000);
}

Test(elf64, bytes_copied_and_bss_zeroed)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_eq(memcmp(ram + 0x100000, im.b + 0x1000, 0x200), 0, "text segment");
	cr_assert_eq(memcmp(ram + 0x101000, im.b + 0x1200, 0x40), 0, "data segment");
	cr_assert(ram_is(0x101040, 0, 0x1000 - 0x40), "bss not zeroed");
	cr_assert(ram_is(0x100200, POISON, 0xe00), "gap between segments written");
	cr_assert(ram_is(0x102000, POISON, 0x1000), "written past the last segment");
	cr_assert(ram_is(0x20000, POISON, 0x100000 - 0x20000), "written below the image");
}

Test(elf64, direct_call_matches_detection)
{
	struct image im;
	struct boot_entry e;
	struct loader_args a = { .kernel = { .data = NULL, .path = KERNEL_PATH } };

	build_valid_elf64(&im);
	a.kernel.data = im.b;
	a.kernel.size = im.size;
	cr_assert_eq(loader_load_elf64(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e.rip, E64_ENTRY);
}

Test(elf64, command_line_written_and_passed_in_rdi)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	cr_assert_eq(load_image(&im, "console=ttyS0 quiet", false, &e), 0, "%s", err);
	cr_assert_eq(e.rdi, CMDLINE_ADDR);
	cr_assert_str_eq(gstr(CMDLINE_ADDR), "console=ttyS0 quiet");
}

Test(elf64, longest_command_line_accepted_one_more_refused)
{
	struct image im;
	struct boot_entry e;
	char *cmd = malloc(4097);

	memset(cmd, 'x', 4096);
	cmd[4095] = '\0'; /* 4095 characters + NUL fill the 4 KiB area */
	build_valid_elf64(&im);
	cr_assert_eq(load_image(&im, cmd, false, &e), 0, "%s", err);
	cr_assert_eq(strlen(gstr(CMDLINE_ADDR)), 4095);
	cmd[4095] = 'x';
	cmd[4096] = '\0';
	assert_rejected(load_image(&im, cmd, false, &e), "too long");
	free(cmd);
}

Test(elf64, initrd_refused)
{
	struct image im;
	struct boot_entry e;
	static const uint8_t initrd[16];

	build_valid_elf64(&im);
	assert_rejected(load_with_initrd(&im, initrd, sizeof(initrd), NULL, false, &e), "initrd");
	cr_assert(ram_untouched());
}

Test(elf64, truncated_header)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	im.size = 40; /* more than e_ident, less than an Elf64_Ehdr */
	assert_rejected(load_image(&im, NULL, false, &e), "truncated ELF");
	cr_assert_not_null(strstr(err, "64"), "message gives the header size: %s", err);
}

Test(elf64, truncated_program_headers)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	im.size = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 8; /* second header cut */
	assert_rejected(load_image(&im, NULL, false, &e), "program headers end");
	cr_assert(ram_untouched());
}

Test(elf64, phoff_overflow)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	eh64(&im)->e_phoff = UINT64_MAX - 8;
	assert_rejected(load_image(&im, NULL, false, &e), "truncated ELF");
	cr_assert_not_null(strstr(err, "program headers"), "%s", err);

	eh64(&im)->e_phoff = im.size; /* just past the end */
	assert_rejected(load_image(&im, NULL, false, &e), "program headers");
	cr_assert(ram_untouched());
}

Test(elf64, segment_data_past_end_of_file)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	ph64(&im, 1)->p_filesz = 0x100; /* 0x1200 + 0x100 > file size 0x1240 */
	assert_rejected(load_image(&im, NULL, false, &e), "runs past the end of the file");
	cr_assert(ram_untouched(), "segment 0 was copied before segment 1 was checked");
}

Test(elf64, segment_offset_overflow)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	ph64(&im, 0)->p_offset = UINT64_MAX - 0x10; /* offset + filesz wraps */
	assert_rejected(load_image(&im, NULL, false, &e), "runs past the end of the file");
	cr_assert(ram_untouched());
}

Test(elf64, filesz_greater_than_memsz)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	ph64(&im, 0)->p_memsz = 0x100; /* filesz 0x200 */
	assert_rejected(load_image(&im, NULL, false, &e), "exceeds memory size");
	cr_assert(ram_untouched());
}

Test(elf64, segment_outside_ram)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	ph64(&im, 1)->p_paddr = RAM_SIZE - 0x800; /* memsz 0x1000 crosses the end of RAM */
	assert_rejected(load_image(&im, NULL, false, &e), "outside guest RAM");
	cr_assert(ram_untouched());

	ph64(&im, 1)->p_paddr = 0x40000000;
	assert_rejected(load_image(&im, NULL, false, &e), "outside guest RAM");
	cr_assert(ram_untouched());
}

Test(elf64, segment_wrapping_2_64)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	ph64(&im, 1)->p_paddr = UINT64_MAX - 0x7ff; /* + memsz 0x1000 wraps */
	assert_rejected(load_image(&im, NULL, false, &e), "wraps around");
	cr_assert(ram_untouched());
}

Test(elf64, segment_below_boot_area_end)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	ph64(&im, 1)->p_paddr = 0x1f000; /* ends at 0x20000 but starts inside kiln's area */
	assert_rejected(load_image(&im, NULL, false, &e), "boot area");
	cr_assert(ram_untouched());

	ph64(&im, 1)->p_paddr = 0;
	assert_rejected(load_image(&im, NULL, false, &e), "boot area");
}

Test(elf64, segment_at_boot_area_end_accepted)
{
	struct image im;
	struct boot_entry e;
	const struct seg segs[] = { { PT_LOAD, 0x20000, 0x1000, 0x100, 0x100, 1 } };

	build_elf64(&im, 0x20000, segs, 1);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_eq(e.image_start, 0x20000);
}

Test(elf64, overlapping_segments)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	ph64(&im, 1)->p_paddr = 0x1001f0; /* last 16 bytes of segment 0 */
	assert_rejected(load_image(&im, NULL, false, &e), "overlaps segment 0");
	cr_assert(ram_untouched());

	ph64(&im, 1)->p_paddr = 0x0ff800; /* [0xff800, 0x100800) covers segment 0's start */
	assert_rejected(load_image(&im, NULL, false, &e), "overlaps the legacy BIOS area");
	cr_assert(ram_untouched());
}

Test(elf64, entry_outside_every_segment)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	eh64(&im)->e_entry = 0x100200; /* one past segment 0, in the gap */
	assert_rejected(load_image(&im, NULL, false, &e), "entry point 0x100200 is not inside");
	cr_assert(ram_untouched());
	eh64(&im)->e_entry = 0x102000; /* one past segment 1's bss */
	assert_rejected(load_image(&im, NULL, false, &e), "not inside any loaded segment");
}

Test(elf64, entry_in_bss_accepted)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	eh64(&im)->e_entry = 0x101fff;
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_eq(e.rip, 0x101fff);
}

Test(elf64, no_pt_load)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	ph64(&im, 0)->p_type = PT_NOTE;
	ph64(&im, 1)->p_type = PT_NOTE;
	assert_rejected(load_image(&im, NULL, false, &e), "no loadable segment");

	build_valid_elf64(&im);
	ph64(&im, 0)->p_memsz = 0; /* empty PT_LOADs count as none */
	ph64(&im, 0)->p_filesz = 0;
	ph64(&im, 1)->p_memsz = 0;
	ph64(&im, 1)->p_filesz = 0;
	assert_rejected(load_image(&im, NULL, false, &e), "no loadable segment");
	cr_assert(ram_untouched());
}

Test(elf64, wrong_machine)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	eh64(&im)->e_machine = EM_AARCH64;
	assert_rejected(load_image(&im, NULL, false, &e), "not x86");
	cr_assert_not_null(strstr(err, "183"), "machine number in '%s'", err);
	eh64(&im)->e_machine = EM_386; /* 32-bit machine in a 64-bit file */
	assert_rejected(load_image(&im, NULL, false, &e), "not x86");
	cr_assert(ram_untouched());
}

Test(elf64, big_endian)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	im.b[EI_DATA] = ELFDATA2MSB;
	assert_rejected(load_image(&im, NULL, false, &e), "not a little-endian ELF");
	cr_assert(ram_untouched());
}

Test(elf64, et_dyn_refused)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	eh64(&im)->e_type = ET_DYN;
	assert_rejected(load_image(&im, NULL, false, &e), "not an executable");
	cr_assert(ram_untouched());
}

Test(elf64, zero_phnum)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	eh64(&im)->e_phnum = 0;
	assert_rejected(load_image(&im, NULL, false, &e), "0 program headers");
}

Test(elf64, too_many_program_headers)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	eh64(&im)->e_phnum = 0xffff; /* PN_XNUM: the real count would live elsewhere */
	assert_rejected(load_image(&im, NULL, false, &e), "program headers");
	cr_assert(ram_untouched());
}

Test(elf64, bad_program_header_size)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	eh64(&im)->e_phentsize = sizeof(Elf32_Phdr);
	assert_rejected(load_image(&im, NULL, false, &e), "program header size");
}

Test(elf64, entry_above_identity_map)
{
	struct image im;
	struct boot_entry e;
	struct gmem *high;
	uint8_t *hram = malloc(0x10000);
	struct gmem_region r[2] = {
		{ .gpa = 0, .size = RAM_SIZE, .hva = ram },
		{ .gpa = 0xc0000000ull, .size = 0x10000, .hva = hram },
	};
	const struct seg segs[] = { { PT_LOAD, 0xc0000000ull, 0x1000, 0x100, 0x100, 1 } };
	struct loader_args a = { .kernel = { .path = KERNEL_PATH } };

	/* RAM at 3 GiB exists here (a fake region), but kiln's page tables stop short of it. */
	cr_assert_eq(gmem_create_from(&high, r, 2), 0);
	build_elf64(&im, 0xc0000010ull, segs, 1);
	a.kernel.data = im.b;
	a.kernel.size = im.size;
	assert_rejected(loader_load(high, &a, &e, err, sizeof(err)), "identity map");
	gmem_destroy(high);
	free(hram);
}

/* ---- detection --------------------------------------------------------------------------- */

Test(detect, random_bytes_unknown_format_suggests_flat)
{
	struct image im;
	struct boot_entry e;

	memset(&im, 0, sizeof(im));
	fill_random(im.b, 4096, 12345);
	im.size = 4096;
	assert_rejected(load_image(&im, NULL, false, &e), "unknown format");
	cr_assert_not_null(strstr(err, "--flat"), "no --flat hint: %s", err);
	cr_assert(ram_untouched());
}

Test(detect, empty_and_tiny_images_unknown)
{
	struct image im;
	struct boot_entry e;

	memset(&im, 0, sizeof(im));
	im.size = 0;
	assert_rejected(load_image(&im, NULL, false, &e), "unknown format");
	memcpy(im.b, "\x7f" "ELF\x02", 5); /* ELF magic but shorter than e_ident */
	im.size = 5;
	assert_rejected(load_image(&im, NULL, false, &e), "unknown format");
}

Test(detect, elf32_without_multiboot_header)
{
	struct image im;
	struct boot_entry e;
	const struct seg segs[] = { { PT_LOAD, 0x100000, 0x1000, 0x100, 0x100, 1 } };

	build_elf32(&im, 0x100000, segs, 1);
	assert_rejected(load_image(&im, NULL, false, &e), "32-bit ELF without a multiboot header");
	cr_assert(ram_untouched());
}

Test(detect, elf_of_unknown_class)
{
	struct image im;
	struct boot_entry e;
	struct loader_image li = { .data = im.b };

	build_valid_elf64(&im);
	im.b[EI_CLASS] = 7;
	li.size = im.size;
	assert_rejected(load_image(&im, NULL, false, &e), "unknown class 7");
	cr_assert_eq(elf_class(&li), 0);
}

Test(detect, multiboot_bad_checksum)
{
	struct image im;
	struct boot_entry e;

	memset(&im, 0, sizeof(im));
	fill_random(im.b, 1024, 99);
	im.size = 1024;
	put_mb_header(&im, 0x40, 0, NULL);
	memset(im.b + 0x48, 0x12, 4); /* break the checksum */
	assert_rejected(load_image(&im, NULL, false, &e), "bad checksum");
	cr_assert_not_null(strstr(err, "0x40"), "offset of the bad header in '%s'", err);
}

Test(detect, elf_helpers)
{
	struct image im;
	struct loader_image li;

	build_valid_elf64(&im);
	li = (struct loader_image){ .data = im.b, .size = im.size };
	cr_assert(elf_is_elf(&li));
	cr_assert_eq(elf_class(&li), ELFCLASS64);
	im.b[EI_CLASS] = ELFCLASS32;
	cr_assert_eq(elf_class(&li), ELFCLASS32);
	li.size = EI_NIDENT - 1;
	cr_assert_not(elf_is_elf(&li), "shorter than e_ident");
	cr_assert_eq(elf_class(&li), 0);
	li.size = im.size;
	im.b[1] = 'e';
	cr_assert_not(elf_is_elf(&li));
}

/* ---- multiboot_find_header --------------------------------------------------------------- */

static long find_at(size_t size, long put_at, uint32_t checksum_delta, long *bad)
{
	static uint8_t buf[3 * 4096];
	uint32_t h[3] = { MB_MAGIC, 0, -MB_MAGIC + checksum_delta };
	struct loader_image li = { .data = buf, .size = size, .path = KERNEL_PATH };

	memset(buf, 0, sizeof(buf));
	if (put_at >= 0)
		memcpy(buf + put_at, h, sizeof(h));
	return multiboot_find_header(&li, bad);
}

Test(detect, multiboot_header_at_start)
{
	long bad;

	cr_assert_eq(find_at(4096, 0, 0, &bad), 0);
	cr_assert_eq(bad, -1);
}

Test(detect, multiboot_header_must_fit_in_8k)
{
	long bad;

	cr_assert_eq(find_at(3 * 4096, 8180, 0, &bad), 8180, "ends exactly at 8192");
	cr_assert_eq(find_at(3 * 4096, 8184, 0, &bad), -1, "ends 4 bytes past 8192");
	cr_assert_eq(find_at(3 * 4096, 8188, 0, &bad), -1, "only the magic is in the first 8 KiB");
	cr_assert_eq(find_at(3 * 4096, 8192, 0, &bad), -1);
	cr_assert_eq(bad, -1);
}

Test(detect, multiboot_header_must_fit_in_file)
{
	long bad;

	cr_assert_eq(find_at(112, 100, 0, &bad), 100, "ends at the end of the file");
	cr_assert_eq(find_at(111, 100, 0, &bad), -1, "one byte short");
	cr_assert_eq(find_at(11, -1, 0, &bad), -1, "shorter than any header");
}

Test(detect, multiboot_unaligned_magic_ignored)
{
	long bad;

	for (long off = 1; off < 4; off++) {
		cr_assert_eq(find_at(4096, 64 + off, 0, &bad), -1, "magic at offset %ld", 64 + off);
		cr_assert_eq(bad, -1);
	}
}

Test(detect, multiboot_bad_then_good)
{
	static uint8_t buf[256];
	uint32_t badh[3] = { MB_MAGIC, 0, 1 }, good[3] = { MB_MAGIC, 3, -(MB_MAGIC + 3) };
	struct loader_image li = { .data = buf, .size = sizeof(buf) };
	long bad;

	memcpy(buf + 16, badh, sizeof(badh));
	memcpy(buf + 64, good, sizeof(good));
	cr_assert_eq(multiboot_find_header(&li, &bad), 64);
	cr_assert_eq(bad, 16);
	li.size = 64; /* the good one is now outside the file */
	cr_assert_eq(multiboot_find_header(&li, &bad), -1);
	cr_assert_eq(bad, 16);
}

/* ---- multiboot (ELF) --------------------------------------------------------------------- */

#define MB_ENTRY 0x100020u

/* ELF32 with one segment at 1 MiB whose first bytes are the multiboot header; memsz leaves the
 * kernel ending at 0x101800, so a module goes to the next page, 0x102000. */
static void build_mb_elf(struct image *im, uint32_t flags)
{
	const struct seg segs[] = { { PT_LOAD, 0x100000, 0x1000, 0x300, 0x1800, 0x40 } };

	build_elf32(im, MB_ENTRY, segs, 1);
	put_mb_header(im, 0x1000, flags, NULL);
}

Test(multiboot, elf_loads_with_magic_and_info_pointer)
{
	struct image im;
	struct boot_entry e;

	build_mb_elf(&im, 0x3);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "multiboot (ELF)");
	cr_assert_eq(e.mode, BOOT_PROT32);
	cr_assert_eq(e.rip, MB_ENTRY);
	cr_assert_eq(e.eax, MB_BOOT_MAGIC);
	cr_assert_eq(e.ebx, MBI_ADDR);
	cr_assert_eq(e.rsp, 0x20000);
	cr_assert_eq(e.image_start, 0x100000);
	cr_assert_eq(e.image_end, 0x101800);
	cr_assert_eq(memcmp(ram + 0x100000, im.b + 0x1000, 0x300), 0);
	cr_assert(ram_is(0x100300, 0, 0x1500), "bss not zeroed");
}

Test(multiboot, direct_call_with_header_offset)
{
	struct image im;
	struct boot_entry e;
	struct loader_args a = { .kernel = { .path = KERNEL_PATH } };

	build_mb_elf(&im, 0);
	a.kernel.data = im.b;
	a.kernel.size = im.size;
	cr_assert_eq(loader_load_multiboot(gm, &a, 0x1000, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e.eax, MB_BOOT_MAGIC);
}

Test(multiboot, info_structure)
{
	struct image im;
	struct boot_entry e;
	uint32_t mmap, mmap_len;

	build_mb_elf(&im, 0x3);
	cr_assert_eq(load_image(&im, "console=ttyS0 quiet", false, &e), 0, "%s", err);

	/* flags: mem_* (0), cmdline (2), mmap (6), boot_loader_name (9); no modules (3). */
	cr_assert_eq(rd32(MBI_ADDR + 0), 0x245, "flags 0x%x", rd32(MBI_ADDR));
	cr_assert_eq(rd32(MBI_ADDR + 4), 639, "mem_lower: 0x9fc00 bytes in KiB");
	cr_assert_eq(rd32(MBI_ADDR + 8), (RAM_SIZE - MIB) >> 10, "mem_upper: RAM above 1 MiB in KiB");
	cr_assert_eq(rd32(MBI_ADDR + 20), 0, "mods_count");

	cr_assert_eq(rd32(MBI_ADDR + 16), CMDLINE_ADDR);
	cr_assert_str_eq(gstr(rd32(MBI_ADDR + 16)), KERNEL_PATH " console=ttyS0 quiet");

	cr_assert_eq(strncmp(gstr(rd32(MBI_ADDR + 64)), "kiln", 4), 0, "boot_loader_name '%s'",
		     gstr(rd32(MBI_ADDR + 64)));

	mmap_len = rd32(MBI_ADDR + 44);
	mmap = rd32(MBI_ADDR + 48);
	cr_assert_eq(mmap_len, 3 * 24, "three 24-byte entries, got %u bytes", mmap_len);
	/* entry: size (20, not counting itself), base, length, type */
	cr_assert_eq(rd32(mmap + 0), 20);
	cr_assert_eq(rd64(mmap + 4), 0);
	cr_assert_eq(rd64(mmap + 12), 0x9fc00);
	cr_assert_eq(rd32(mmap + 20), 1);
	cr_assert_eq(rd32(mmap + 24), 20);
	cr_assert_eq(rd64(mmap + 28), 0x9fc00);
	cr_assert_eq(rd64(mmap + 36), 0x100000 - 0x9fc00);
	cr_assert_eq(rd32(mmap + 44), 2, "legacy area reserved");
	cr_assert_eq(rd64(mmap + 52), 0x100000);
	cr_assert_eq(rd64(mmap + 60), RAM_SIZE - MIB);
	cr_assert_eq(rd32(mmap + 68), 1);
}

Test(multiboot, command_line_without_user_text_is_the_path)
{
	struct image im;
	struct boot_entry e;

	build_mb_elf(&im, 0);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_str_eq(gstr(rd32(MBI_ADDR + 16)), KERNEL_PATH);
}

Test(multiboot, module_after_kernel)
{
	struct image im;
	struct boot_entry e;
	static const char initrd[] = "module contents\nsecond line\n";
	uint32_t mods, start, end;

	build_mb_elf(&im, 0x3);
	cr_assert_eq(load_with_initrd(&im, initrd, sizeof(initrd) - 1, NULL, false, &e), 0, "%s",
		     err);
	cr_assert_eq(rd32(MBI_ADDR + 0), 0x24d, "flags with MBI_MODS: 0x%x", rd32(MBI_ADDR));
	cr_assert_eq(rd32(MBI_ADDR + 20), 1, "mods_count");
	mods = rd32(MBI_ADDR + 24);
	start = rd32(mods + 0);
	end = rd32(mods + 4);
	cr_assert_eq(start % 4096, 0, "module at 0x%x is not page aligned", start);
	cr_assert_eq(start, 0x102000, "first page after the kernel's end 0x101800");
	cr_assert_eq(end, start + sizeof(initrd) - 1);
	cr_assert_str_eq(gstr(rd32(mods + 8)), INITRD_PATH);
	cr_assert_eq(memcmp(ram + start, initrd, sizeof(initrd) - 1), 0);
	cr_assert_eq(e.image_end, end, "image span includes the module");
}

Test(multiboot, module_too_big_for_ram)
{
	struct image im;
	struct boot_entry e;
	size_t big = RAM_SIZE;
	uint8_t *initrd = calloc(1, big);

	build_mb_elf(&im, 0);
	assert_rejected_as(load_with_initrd(&im, initrd, big, NULL, false, &e), INITRD_PATH,
			   "does not fit");
	free(initrd);
}

Test(multiboot, module_filling_ram_exactly)
{
	struct image im;
	struct boot_entry e;
	size_t size = RAM_SIZE - 0x102000;
	uint8_t *initrd = malloc(size + 1);

	memset(initrd, 0x3c, size + 1);
	build_mb_elf(&im, 0);
	cr_assert_eq(load_with_initrd(&im, initrd, size, NULL, false, &e), 0, "%s", err);
	cr_assert_eq(ram[RAM_SIZE - 1], 0x3c);
	assert_rejected_as(load_with_initrd(&im, initrd, size + 1, NULL, false, &e), INITRD_PATH,
			   "does not fit");
	free(initrd);
}

Test(multiboot, unsupported_required_flags)
{
	struct image im;
	struct boot_entry e;

	build_mb_elf(&im, 0x3 | (1u << 3));
	assert_rejected(load_image(&im, NULL, false, &e), "requires features");
	cr_assert_not_null(strstr(err, "0x8"), "names the unsupported bits: %s", err);
	build_mb_elf(&im, 1u << 15);
	assert_rejected(load_image(&im, NULL, false, &e), "requires features");
	cr_assert(ram_untouched());
}

Test(multiboot, optional_flags_ignored)
{
	struct image im;
	struct boot_entry e;

	build_mb_elf(&im, 0x3 | (1u << 2) | (1u << 20)); /* video mode; an unknown optional bit */
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
}

Test(multiboot, command_line_too_long)
{
	struct image im;
	struct boot_entry e;
	/* path + ' ' + text + NUL must fit in 4096 bytes */
	size_t fits = 4096 - strlen(KERNEL_PATH) - 2;
	char *cmd = malloc(fits + 2);

	memset(cmd, 'c', fits + 1);
	cmd[fits] = '\0';
	build_mb_elf(&im, 0);
	cr_assert_eq(load_image(&im, cmd, false, &e), 0, "%s", err);
	cr_assert_eq(strlen(gstr(CMDLINE_ADDR)), 4095);
	cmd[fits] = 'c';
	cmd[fits + 1] = '\0';
	assert_rejected(load_image(&im, cmd, false, &e), "too long");
	free(cmd);
}

Test(multiboot, neither_elf_nor_aout)
{
	struct image im;
	struct boot_entry e;

	memset(&im, 0, sizeof(im));
	fill_random(im.b, 512, 7);
	im.size = 512;
	put_mb_header(&im, 8, 0x3, NULL);
	assert_rejected(load_image(&im, NULL, false, &e), "neither ELF nor marked as a.out kludge");
	cr_assert(ram_untouched());
}

/* Issue 17: a segment at 0x8000 (a real-mode trampoline) moves kiln's boot information to the
 * lowest free 32 KiB block (0xa000: GDT, information page, command line, strings, stack). */
Test(multiboot, low_segment_moves_boot_information)
{
	const struct seg segs[] = { { PT_LOAD, 0x100000, 0x1000, 0x300, 0x1800, 0x40 },
				    { PT_LOAD, 0x8000, 0x1400, 0x100, 0x1800, 0x5a } };
	struct image im;
	struct boot_entry e;

	build_elf32(&im, MB_ENTRY, segs, 2);
	put_mb_header(&im, 0x1000, 0x3, NULL);
	cr_assert_eq(load_with_initrd(&im, "module", 6, "x", false, &e), 0, "%s", err);
	cr_assert_eq(e.gdt_addr, 0xa000);
	cr_assert_eq(e.ebx, 0xb000, "the information page follows the GDT page");
	cr_assert_eq(e.rsp, 0x12000, "a 16 KiB stack on top of the block");
	cr_assert_eq(memcmp(ram + 0x8000, im.b + 0x1400, 0x100), 0, "the low segment is intact");
	cr_assert(ram_is(0x8100, 0, 0x1700), "its bss zeroed, not boot information");
	cr_assert_eq(rd32(0xb000 + 16), 0xc000, "command line");
	cr_assert_not_null(strstr(gstr(0xc000), " x"));
	cr_assert_eq(rd32(0xb000 + 48), 0xb100, "memory map in the information page");
	cr_assert_eq(rd32(0xb000 + 20), 1, "one module");
	cr_assert_eq(rd32(0xb000 + 24), 0xb400, "module list in the information page");
	cr_assert_eq(rd32(0xb400), 0x102000, "module on the page after the kernel");
	cr_assert_str_eq(gstr(rd32(0xb400 + 8)), INITRD_PATH);
	cr_assert_geq(rd32(0xb000 + 64), 0xd000, "loader name in the strings page");
	cr_assert_lt(rd32(0xb000 + 64), 0xe000);
}

/* The image needs all of conventional memory and RAM ends right after it: no room, one line. */
Test(multiboot, no_room_for_boot_information)
{
	const struct seg segs[] = { { PT_LOAD, 0x100000, 0x1000, 0x300, RAM_SIZE - 0x104000, 0x40 },
				    { PT_LOAD, 0x1000, 0x1400, 0x100, 0x9e000, 0x5a } };
	struct image im;
	struct boot_entry e;

	build_elf32(&im, MB_ENTRY, segs, 2);
	put_mb_header(&im, 0x1000, 0x3, NULL);
	assert_rejected(load_image(&im, NULL, false, &e),
			"no room for kiln's multiboot boot information (32 KiB)");
	cr_assert_not_null(strstr(err, "takes [0x1000-0xffc000)"), "%s", err);
	cr_assert_null(strchr(err, '\n'), "one line");
}

Test(multiboot, hostile_elf_segment_refused)
{
	struct image im;
	struct boot_entry e;

	build_mb_elf(&im, 0);
	ph32(&im, 0)->p_paddr = 0xe0000; /* over the ACPI tables: a true conflict */
	assert_rejected(load_image(&im, NULL, false, &e), "overlaps the legacy BIOS area");
	cr_assert(ram_untouched());
	build_mb_elf(&im, 0);
	ph32(&im, 0)->p_filesz = 0x1000; /* past the end of the file (0x1300 bytes) */
	assert_rejected(load_image(&im, NULL, false, &e), "runs past the end of the file");
	cr_assert(ram_untouched());
}

/* ---- multiboot a.out kludge -------------------------------------------------------------- */

#define AOUT_LOAD 0x200000u
#define AOUT_HOFF 0x20u
#define AOUT_FILE 0x400u

struct aout_fields {
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/* A raw image of 0x400 bytes with the header at 0x20: loads 0x300 bytes at 2 MiB, bss to +8 KiB,
 * entry at +0x40. */
static struct aout_fields aout_default(void)
{
	return (struct aout_fields){
		.header_addr = AOUT_LOAD + AOUT_HOFF,
		.load_addr = AOUT_LOAD,
		.load_end_addr = AOUT_LOAD + 0x300,
		.bss_end_addr = AOUT_LOAD + 0x2000,
		.entry_addr = AOUT_LOAD + 0x40,
	};
}

static void build_aout(struct image *im, const struct aout_fields *f, size_t file_size)
{
	uint32_t w[5] = { f->header_addr, f->load_addr, f->load_end_addr, f->bss_end_addr,
			  f->entry_addr };

	memset(im, 0, sizeof(*im));
	for (size_t i = 0; i < file_size; i++)
		im->b[i] = (uint8_t)(i * 7 + 3);
	im->size = file_size;
	put_mb_header(im, AOUT_HOFF, 0x3 | MB_AOUT, w);
}

Test(aout, valid_image_loads)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	build_aout(&im, &f, AOUT_FILE);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "multiboot (a.out kludge)");
	cr_assert_eq(e.mode, BOOT_PROT32);
	cr_assert_eq(e.rip, AOUT_LOAD + 0x40);
	cr_assert_eq(e.eax, MB_BOOT_MAGIC);
	cr_assert_eq(e.ebx, MBI_ADDR);
	cr_assert_eq(e.image_start, AOUT_LOAD);
	cr_assert_eq(e.image_end, AOUT_LOAD + 0x2000);
	cr_assert_eq(memcmp(ram + AOUT_LOAD, im.b, 0x300), 0, "load range copied from file start");
	cr_assert(ram_is(AOUT_LOAD + 0x300, 0, 0x2000 - 0x300), "bss not zeroed");
	cr_assert(ram_is(AOUT_LOAD + 0x2000, POISON, 0x1000), "written past bss_end_addr");
	cr_assert(ram_is(AOUT_LOAD - 0x1000, POISON, 0x1000), "written below load_addr");
}

Test(aout, load_end_zero_loads_whole_file)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	f.load_end_addr = 0;
	f.bss_end_addr = 0;
	build_aout(&im, &f, AOUT_FILE);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_eq(memcmp(ram + AOUT_LOAD, im.b, AOUT_FILE), 0);
	cr_assert_eq(e.image_end, AOUT_LOAD + AOUT_FILE);
	cr_assert_eq(ram[AOUT_LOAD + AOUT_FILE], POISON, "no bss without bss_end_addr");
}

Test(aout, load_addr_below_header_start_of_file)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	/* header_addr - load_addr = 0x10: the image starts at file offset 0x10. */
	f.load_addr = AOUT_LOAD + 0x10;
	f.load_end_addr = AOUT_LOAD + 0x110;
	f.entry_addr = AOUT_LOAD + 0x10;
	build_aout(&im, &f, AOUT_FILE);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_eq(memcmp(ram + AOUT_LOAD + 0x10, im.b + 0x10, 0x100), 0);
}

Test(aout, load_addr_above_header_addr)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	f.load_addr = f.header_addr + 4;
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "do not match");
	cr_assert(ram_untouched());
}

Test(aout, header_addr_implies_negative_file_offset)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	f.header_addr = AOUT_LOAD + 0x40; /* says the header is at 0x40, it is at 0x20 */
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "do not match");
	cr_assert(ram_untouched());
}

Test(aout, load_end_not_above_load_addr)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	f.load_end_addr = f.load_addr;
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "is not above load_addr");
	f.load_end_addr = f.load_addr - 0x100;
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "is not above load_addr");
	cr_assert(ram_untouched());
}

Test(aout, bss_end_below_load_end)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	f.bss_end_addr = f.load_end_addr - 1;
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "is below the loaded end");
	cr_assert(ram_untouched());
}

Test(aout, below_boot_area)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	f.load_addr = 0x10000;
	f.header_addr = 0x10000 + AOUT_HOFF;
	f.load_end_addr = 0x10300;
	f.bss_end_addr = 0x12000;
	f.entry_addr = 0x10040;
	build_aout(&im, &f, AOUT_FILE);
	cr_assert_eq(load_image(&im, NULL, false, &e), 0, "%s", err);
	cr_assert_eq(e.gdt_addr, 0x1000, "boot information in the first free block, below the image");
	cr_assert_eq(e.ebx, 0x2000);
	cr_assert_eq(e.rsp, 0x9000);
	cr_assert_eq(memcmp(ram + 0x10000, im.b, 0x300), 0);
}

Test(aout, outside_ram)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();
	uint32_t base = RAM_SIZE - 0x1000;

	/* Loaded part fits, bss runs 4 KiB past the end of RAM. */
	f = (struct aout_fields){ base + AOUT_HOFF, base, base + 0x300, base + 0x2000, base + 0x40 };
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "outside guest RAM");
	cr_assert(ram_untouched());

	base = 0xfffffc00; /* the load range itself crosses 4 GiB */
	f = (struct aout_fields){ base + AOUT_HOFF, base, 0, 0, base + 0x40 };
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "outside guest RAM");
	cr_assert(ram_untouched());
}

Test(aout, entry_outside_image)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	f.entry_addr = f.load_end_addr; /* first bss byte: not loaded code */
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "entry_addr");
	f.entry_addr = f.load_addr - 1;
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "outside the loaded image");
	cr_assert(ram_untouched());
}

Test(aout, truncated_file)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	f.load_end_addr = f.load_addr + AOUT_FILE + 1;
	f.bss_end_addr = 0;
	build_aout(&im, &f, AOUT_FILE);
	assert_rejected(load_image(&im, NULL, false, &e), "truncated");
	cr_assert(ram_untouched());
}

Test(aout, truncated_header_fields)
{
	struct image im;
	struct boot_entry e;
	struct aout_fields f = aout_default();

	build_aout(&im, &f, AOUT_FILE);
	im.size = AOUT_HOFF + 16; /* magic, flags, checksum and header_addr only */
	assert_rejected(load_image(&im, NULL, false, &e), "truncated multiboot header");
	cr_assert(ram_untouched());
}

/* ---- flat -------------------------------------------------------------------------------- */

Test(flat, loads_at_0x10000_in_real_mode)
{
	struct image im;
	struct boot_entry e;

	memset(&im, 0, sizeof(im));
	fill_random(im.b, 512, 3);
	im.size = 512;
	cr_assert_eq(load_image(&im, NULL, true, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "flat");
	cr_assert_eq(e.mode, BOOT_REAL16);
	cr_assert_eq(e.real_segment, 0x1000);
	cr_assert_eq(e.rip, 0);
	cr_assert_eq(e.rsp, 0x8000);
	cr_assert_eq(e.image_start, 0x10000);
	cr_assert_eq(e.image_end, 0x10200);
	cr_assert_eq(memcmp(ram + 0x10000, im.b, 512), 0);
	cr_assert(ram_is(0x10200, POISON, 0x1000), "written past the image");
	cr_assert(ram_is(0, POISON, 0x10000), "written below the image");
}

Test(flat, flag_overrides_detection)
{
	struct image im;
	struct boot_entry e;

	build_valid_elf64(&im);
	cr_assert_eq(load_image(&im, NULL, true, &e), 0, "%s", err);
	cr_assert_str_eq(e.format, "flat", "--flat loads even an ELF as raw bytes");
	cr_assert_eq(memcmp(ram + 0x10000, im.b, im.size), 0);
}

Test(flat, too_big_for_ram)
{
	struct loader_args a = { .kernel = { .path = KERNEL_PATH } };
	struct boot_entry e;
	size_t room = RAM_SIZE - 0x10000;
	uint8_t *big = calloc(1, room + 1);

	a.kernel.data = big;
	a.kernel.size = room + 1;
	assert_rejected(loader_load_flat(gm, &a, &e, err, sizeof(err)), "does not fit");
	cr_assert(ram_untouched());
	a.kernel.size = room; /* exactly up to the end of RAM */
	cr_assert_eq(loader_load_flat(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e.image_end, RAM_SIZE);
	free(big);
}

Test(flat, ram_ending_below_load_address)
{
	struct loader_args a = { .kernel = { .path = KERNEL_PATH } };
	struct boot_entry e;
	struct gmem *tiny;
	static uint8_t small[0x8000];
	struct gmem_region r = { .gpa = 0, .size = sizeof(small), .hva = small };
	static const uint8_t code[16];

	cr_assert_eq(gmem_create_from(&tiny, &r, 1), 0);
	a.kernel.data = code;
	a.kernel.size = sizeof(code);
	assert_rejected(loader_load_flat(tiny, &a, &e, err, sizeof(err)), "does not fit");
	gmem_destroy(tiny);
}

Test(flat, initrd_refused)
{
	struct image im;
	struct boot_entry e;
	static const uint8_t initrd[8];

	memset(&im, 0, sizeof(im));
	im.size = 64;
	assert_rejected(load_with_initrd(&im, initrd, sizeof(initrd), NULL, true, &e),
			"cannot take an initrd");
	cr_assert(ram_untouched());
}

Test(flat, cmdline_refused)
{
	struct image im;
	struct boot_entry e;

	memset(&im, 0, sizeof(im));
	im.size = 64;
	assert_rejected(load_image(&im, "quiet", true, &e), "cannot take a command line");
	cr_assert(ram_untouched());
}

/* ---- loader_map_file --------------------------------------------------------------------- */

static char tmpdir[64];

static void tmpdir_setup(void)
{
	strcpy(tmpdir, "/tmp/kiln-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	memset(err, 0, sizeof(err));
}

static void tmpdir_teardown(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/data", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

TestSuite(map_file, .init = tmpdir_setup, .fini = tmpdir_teardown);

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

Test(map_file, missing_file)
{
	struct loader_image img;
	char path[128];

	snprintf(path, sizeof(path), "%s/does-not-exist", tmpdir);
	cr_assert_eq(loader_map_file(&img, path, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, path), "path in '%s'", err);
	cr_assert_not_null(strstr(err, "cannot open"), "%s", err);
	cr_assert_null(img.data);
}

Test(map_file, directory)
{
	struct loader_image img;

	cr_assert_eq(loader_map_file(&img, tmpdir, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, tmpdir), "%s", err);
	cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
	cr_assert_null(img.data);
}

Test(map_file, empty_file)
{
	struct loader_image img;
	char path[128];

	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_file(path, "", 0);
	cr_assert_eq(loader_map_file(&img, path, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, path), "%s", err);
	cr_assert_not_null(strstr(err, "empty file"), "%s", err);
	cr_assert_null(img.data);
}

Test(map_file, maps_contents_and_unmaps)
{
	struct loader_image img;
	char path[128];
	static const char text[] = "kiln test image\n";

	snprintf(path, sizeof(path), "%s/data", tmpdir);
	write_file(path, text, sizeof(text) - 1);
	cr_assert_eq(loader_map_file(&img, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(img.size, sizeof(text) - 1);
	cr_assert_eq(memcmp(img.data, text, img.size), 0);
	cr_assert_str_eq(img.path, path);
	loader_unmap_file(&img);
	cr_assert_null(img.data);
	cr_assert_eq(img.size, 0);
	loader_unmap_file(&img); /* twice is harmless */
}

/* ---- the real test guests ---------------------------------------------------------------- */

/* Maps $KILN_GUEST_DIR/name, or skips the test when meson did not say where the guests are. */
static void map_guest(struct loader_image *img, const char *name, char *path, size_t len)
{
	const char *dir = getenv("KILN_GUEST_DIR");

	if (!dir || !*dir)
		cr_skip_test("KILN_GUEST_DIR not set");
	snprintf(path, len, "%s/%s", dir, name);
	if (access(path, R_OK) != 0)
		cr_skip_test("%s not built", path);
	cr_assert_eq(loader_map_file(img, path, err, sizeof(err)), 0, "%s", err);
}

Test(guests, hello64_elf)
{
	struct loader_args a = { 0 };
	struct boot_entry e;
	char path[512];

	map_guest(&a.kernel, "hello64.elf", path, sizeof(path));
	a.cmdline = "hello";
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(e.format, "elf64");
	cr_assert_eq(e.mode, BOOT_LONG64);
	cr_assert_geq(e.image_start, 0x20000);
	cr_assert(e.rip >= e.image_start && e.rip < e.image_end, "entry 0x%llx outside the image",
		  (unsigned long long)e.rip);
	cr_assert_eq(e.rdi, CMDLINE_ADDR);
	cr_assert_str_eq(gstr(CMDLINE_ADDR), "hello");
	loader_unmap_file(&a.kernel);
}

Test(guests, mb_hello_with_module)
{
	struct loader_args a = { 0 };
	struct boot_entry e;
	char path[512], mod[512];
	const char *src = getenv("KILN_TEST_SRCDIR");
	uint32_t mods;

	map_guest(&a.kernel, "mb_hello.elf", path, sizeof(path));
	if (!src)
		cr_skip_test("KILN_TEST_SRCDIR not set");
	snprintf(mod, sizeof(mod), "%s/guests/module.txt", src);
	cr_assert_eq(loader_map_file(&a.initrd, mod, err, sizeof(err)), 0, "%s", err);
	a.cmdline = "arg1 arg2";
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(e.format, "multiboot (ELF)");
	cr_assert_eq(e.mode, BOOT_PROT32);
	cr_assert_eq(e.eax, MB_BOOT_MAGIC);
	cr_assert_eq(rd32(MBI_ADDR + 20), 1);
	mods = rd32(MBI_ADDR + 24);
	cr_assert_eq(rd32(mods + 4) - rd32(mods + 0), a.initrd.size);
	cr_assert_eq(memcmp(ram + rd32(mods), a.initrd.data, a.initrd.size), 0);
	cr_assert_str_eq(gstr(rd32(mods + 8)), mod);
	cr_assert_not_null(strstr(gstr(CMDLINE_ADDR), " arg1 arg2"));
	loader_unmap_file(&a.initrd);
	loader_unmap_file(&a.kernel);
}

Test(guests, mb_aout_bin)
{
	struct loader_args a = { 0 };
	struct boot_entry e;
	char path[512];

	map_guest(&a.kernel, "mb_aout.bin", path, sizeof(path));
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(e.format, "multiboot (a.out kludge)");
	cr_assert_eq(e.image_start, 0x100000, "aout.ld links at 1 MiB");
	cr_assert_gt(e.image_end, e.image_start + a.kernel.size, "has a bss beyond the file");
	cr_assert(ram_is(e.image_start + a.kernel.size, 0, e.image_end - e.image_start -
							 a.kernel.size),
		  "bss not zeroed");
	loader_unmap_file(&a.kernel);
}

Test(guests, flat_hello_needs_flag)
{
	struct loader_args a = { 0 };
	struct boot_entry e;
	char path[512];

	map_guest(&a.kernel, "flat_hello.bin", path, sizeof(path));
	assert_rejected_as(loader_load(gm, &a, &e, err, sizeof(err)), path, "--flat");
	a.flat = true;
	cr_assert_eq(loader_load(gm, &a, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e.mode, BOOT_REAL16);
	cr_assert_eq(memcmp(ram + 0x10000, a.kernel.data, a.kernel.size), 0);
	loader_unmap_file(&a.kernel);
}
