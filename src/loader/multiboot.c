/* multiboot.c: multiboot v1 kernels (ELF or a.out kludge), booted as the Multiboot 0.6.96 spec says. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/memmap.h"
#include "loader/loader.h"
#include "version.h"

#define MB_HEADER_MAGIC 0x1badb002u
#define MB_BOOTLOADER_MAGIC 0x2badb002u
#define MB_SEARCH_LIMIT 8192
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE (1u << 2)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define MB_FLAGS_UNDERSTOOD (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO_MODE)

/* Multiboot information flags (spec 3.3). */
#define MBI_MEMORY (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table;
	uint32_t boot_loader_name, apm_table;
	uint32_t vbe[6];
	uint8_t framebuffer[22];
} __attribute__((packed));

struct mb_mmap_entry {
	uint32_t size; /* of the rest of the entry: 20 */
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

struct mb_module {
	uint32_t mod_start, mod_end, string, reserved;
};

/* Where kiln's boot information goes. By default layout.h's fixed low-memory addresses (the
 * image loads at or above X86_RESERVED_END, as most kernels do). An image that needs memory
 * below that (a real-mode trampoline at 0x8000, say) gets the same pieces packed into one
 * MB_AREA_SIZE block the image leaves free: the boot GDT, the information page (MBI, memory
 * map, module list), the command line, the strings, and a small stack on top. */
struct mb_area {
	uint64_t gdt, mbi, cmdline, strings, stack_top;
};

#define MBI_MMAP_OFF 0x100
#define MBI_MODS_OFF 0x400
#define MB_AREA_SIZE 0x8000ull /* four pages, then a 16 KiB stack */
#define MB_MAX_RANGES (ELF_MAX_LOADS + 1)

static const struct mb_area mb_default_area = {
	.gdt = X86_GDT_ADDR,
	.mbi = X86_BOOT_INFO_ADDR,
	.cmdline = X86_CMDLINE_ADDR,
	.strings = X86_BOOT_STRINGS_ADDR,
	.stack_top = X86_BOOT_STACK_TOP,
};

static struct mb_area mb_area_at(uint64_t base)
{
	return (struct mb_area){ .gdt = base, .mbi = base + 0x1000, .cmdline = base + 0x2000,
				 .strings = base + 0x3000, .stack_top = base + MB_AREA_SIZE };
}

static bool mb_range_free(const struct elf_range *r, unsigned int n, uint64_t start, uint64_t len)
{
	for (unsigned int i = 0; i < n; i++)
		if (ranges_overlap(start, len, r[i].start, r[i].end - r[i].start))
			return false;
	return true;
}

/* Chooses where the boot information goes around the image's ranges `r` (kernel and module):
 * the default area when nothing is below X86_RESERVED_END; else the lowest free block in
 * conventional memory (below the EBDA); else the first one after the image, below the MMIO
 * hole and inside RAM. Returns false when there is no room at all. */
static bool mb_place_area(const struct elf_range *r, unsigned int n, uint64_t low_end,
			  struct mb_area *area)
{
	uint64_t conv_end = low_end < X86_EBDA_START ? low_end : X86_EBDA_START, top = 0;

	if (mb_range_free(r, n, 0, X86_RESERVED_END)) {
		*area = mb_default_area;
		return true;
	}
	/* Page 0 stays out: a real-mode image may want its interrupt vector table there. */
	for (uint64_t base = 0x1000; base + MB_AREA_SIZE <= conv_end; base += 0x1000) {
		if (mb_range_free(r, n, base, MB_AREA_SIZE)) {
			*area = mb_area_at(base);
			return true;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		if (r[i].end > top)
			top = r[i].end;
	top = align_up(top, 0x1000);
	if (top < X86_HIGH_MEMORY && top + MB_AREA_SIZE > X86_BIOS_AREA_START)
		top = X86_HIGH_MEMORY; /* the BIOS area holds the MP and ACPI tables */
	if (top + MB_AREA_SIZE > low_end || top + MB_AREA_SIZE > X86_MMIO_HOLE_START)
		return false;
	*area = mb_area_at(top);
	return true;
}

long multiboot_find_header(const struct loader_image *img, long *bad_offset)
{
	size_t limit = img->size < MB_SEARCH_LIMIT ? img->size : MB_SEARCH_LIMIT;

	*bad_offset = -1;
	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t w[3];

		memcpy(w, img->data + off, sizeof(w));
		if (w[0] != MB_HEADER_MAGIC)
			continue;
		if ((uint32_t)(w[0] + w[1] + w[2]) == 0)
			return (long)off;
		if (*bad_offset < 0)
			*bad_offset = (long)off;
	}
	return -1;
}

/* a.out kludge: the header's addresses say what part of the file goes where (spec 3.1.3). */
static int load_aout(const struct gmem *gm, const struct loader_image *k, size_t hoff,
		     const struct mb_header *h, uint64_t *lo, uint64_t *hi, uint64_t *rip, char *why,
		     size_t why_size)
{
	uint64_t file_off, load_size, load_end, bss_end;
	uint8_t *dst;

	if (hoff + sizeof(*h) > k->size) {
		snprintf(why, why_size, "%s: truncated multiboot header (a.out kludge fields)",
			 k->path);
		return -EINVAL;
	}
	if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > hoff) {
		snprintf(why, why_size,
			 "%s: multiboot header_addr 0x%x / load_addr 0x%x do not match the header's "
			 "offset 0x%zx in the file",
			 k->path, h->header_addr, h->load_addr, hoff);
		return -EINVAL;
	}
	file_off = hoff - (h->header_addr - h->load_addr);
	if (h->load_end_addr == 0) {
		load_size = k->size - file_off;
	} else if (h->load_end_addr <= h->load_addr) {
		snprintf(why, why_size, "%s: multiboot load_end_addr 0x%x is not above load_addr 0x%x",
			 k->path, h->load_end_addr, h->load_addr);
		return -EINVAL;
	} else {
		load_size = (uint64_t)h->load_end_addr - h->load_addr;
	}
	if (file_off + load_size > k->size) {
		snprintf(why, why_size,
			 "%s: truncated: multiboot load range needs 0x%llx bytes from offset 0x%llx, the "
			 "file has %zu",
			 k->path, (unsigned long long)load_size, (unsigned long long)file_off, k->size);
		return -EINVAL;
	}
	load_end = h->load_addr + load_size;
	bss_end = h->bss_end_addr ? h->bss_end_addr : load_end;
	if (bss_end < load_end) {
		snprintf(why, why_size, "%s: multiboot bss_end_addr 0x%x is below the loaded end 0x%llx",
			 k->path, h->bss_end_addr, (unsigned long long)load_end);
		return -EINVAL;
	}
	if (ranges_overlap(h->load_addr, bss_end - h->load_addr, X86_BIOS_AREA_START,
			   X86_BIOS_AREA_END - X86_BIOS_AREA_START)) {
		snprintf(why, why_size,
			 "%s: multiboot image [0x%x-0x%llx) overlaps the legacy BIOS area 0x%llx-0x%llx "
			 "where kiln keeps the MP and ACPI tables",
			 k->path, h->load_addr, (unsigned long long)bss_end, X86_BIOS_AREA_START,
			 X86_BIOS_AREA_END - 1);
		return -EINVAL;
	}
	dst = gmem_ptr(gm, h->load_addr, bss_end - h->load_addr);
	if (!dst) {
		snprintf(why, why_size,
			 "%s: multiboot image [0x%x-0x%llx) is outside guest RAM (%llu MiB)", k->path,
			 h->load_addr, (unsigned long long)bss_end,
			 (unsigned long long)(gmem_size(gm) >> 20));
		return -EINVAL;
	}
	if (h->entry_addr < h->load_addr || h->entry_addr >= load_end) {
		snprintf(why, why_size, "%s: multiboot entry_addr 0x%x is outside the loaded image",
			 k->path, h->entry_addr);
		return -EINVAL;
	}
	memcpy(dst, k->data + file_off, load_size);
	memset(dst + load_size, 0, bss_end - load_end);
	*lo = h->load_addr;
	*hi = bss_end;
	*rip = h->entry_addr;
	return 0;
}

/* Copies a string to the boot-strings page; returns its guest address or 0 when out of room. */
static uint32_t put_string(const struct gmem *gm, const struct mb_area *area, uint64_t *cursor,
			   const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, len = la + (b ? lb + 1 : 0) + 1;
	uint64_t at = *cursor;
	char *dst;

	if (at + len > area->strings + X86_BOOT_STRINGS_SIZE)
		return 0;
	dst = gmem_ptr(gm, at, len);
	if (!dst)
		return 0;
	memcpy(dst, a, la);
	if (b) {
		dst[la] = ' ';
		memcpy(dst + la + 1, b, lb);
	}
	dst[len - 1] = '\0';
	*cursor += len;
	return (uint32_t)at;
}

int loader_load_multiboot(const struct gmem *gm, const struct loader_args *args,
			  size_t header_offset, struct boot_entry *entry, char *why,
			  size_t why_size)
{
	const struct loader_image *k = &args->kernel;
	struct mb_header h = { 0 };
	struct mb_info mbi = { 0 };
	struct x86_memmap_entry map[X86_MEMMAP_MAX];
	struct mb_mmap_entry mm[X86_MEMMAP_MAX];
	struct elf_range ranges[MB_MAX_RANGES];
	struct mb_area area;
	uint64_t lo, hi, rip, strings, low_end = gmem_low_end(gm), mod_start = 0;
	size_t cmdlen;
	unsigned int nmap, nranges = 0;
	char *cmd;
	int e;

	if (header_offset > k->size || k->size - header_offset < 12) {
		snprintf(why, why_size, "%s: no multiboot header at offset 0x%zx", k->path,
			 header_offset);
		return -EINVAL;
	}
	memcpy(&h, k->data + header_offset,
	       k->size - header_offset < sizeof(h) ? k->size - header_offset : sizeof(h));
	if (h.flags & 0xffff & ~MB_FLAGS_UNDERSTOOD) {
		snprintf(why, why_size,
			 "%s: multiboot header requires features kiln does not provide (flags 0x%x)",
			 k->path, h.flags & 0xffff & ~MB_FLAGS_UNDERSTOOD);
		return -EINVAL;
	}
	if (h.flags & MB_FLAG_AOUT_KLUDGE) {
		e = load_aout(gm, k, header_offset, &h, &lo, &hi, &rip, why, why_size);
	} else if (elf_is_elf(k)) {
		/* Any address in RAM: the boot information moves out of the image's way. */
		e = elf_load_segments(gm, k, 0, &lo, &hi, &rip, why, why_size);
		if (!e)
			nranges = elf_load_ranges(k, ranges, ELF_MAX_LOADS);
		if (!e && rip >= X86_MMIO_HOLE_START) {
			snprintf(why, why_size,
				 "%s: multiboot entry point 0x%llx is not reachable in 32-bit mode",
				 k->path, (unsigned long long)rip);
			e = -EINVAL;
		}
	} else {
		snprintf(why, why_size,
			 "%s: multiboot kernel is neither ELF nor marked as a.out kludge (flag 16)",
			 k->path);
		e = -EINVAL;
	}
	if (e)
		return e;
	if (!nranges)
		ranges[nranges++] = (struct elf_range){ lo, hi };
	/* The module goes on the next page after the kernel (checked against RAM below), or at
	 * 1 MiB when that would run into the BIOS area (a kernel all in low memory). */
	if (args->initrd.data) {
		mod_start = align_up(hi, 4096);
		if (mod_start < X86_HIGH_MEMORY &&
		    ranges_overlap(mod_start, args->initrd.size, X86_BIOS_AREA_START,
				   X86_BIOS_AREA_END - X86_BIOS_AREA_START))
			mod_start = X86_HIGH_MEMORY;
		ranges[nranges++] = (struct elf_range){ mod_start, mod_start + args->initrd.size };
	}
	if (!mb_place_area(ranges, nranges, low_end, &area)) {
		snprintf(why, why_size,
			 "%s: no room for kiln's multiboot boot information (%llu KiB): the image%s "
			 "takes [0x%llx-0x%llx) and guest RAM (%llu MiB) has no free block left "
			 "below 0x%llx or after it",
			 k->path, MB_AREA_SIZE >> 10, args->initrd.data ? " and its module" : "",
			 (unsigned long long)lo,
			 (unsigned long long)(args->initrd.data ? ranges[nranges - 1].end : hi),
			 (unsigned long long)(gmem_size(gm) >> 20), X86_EBDA_START);
		return -EINVAL;
	}
	strings = area.strings;

	/* The command line is the kernel's path and the user's text, as GRUB and QEMU pass it. */
	cmdlen = strlen(k->path) + (args->cmdline ? strlen(args->cmdline) + 1 : 0) + 1;
	if (cmdlen > X86_CMDLINE_MAX) {
		snprintf(why, why_size, "%s: command line of %zu bytes is too long (max %llu)",
			 k->path, cmdlen - 1, X86_CMDLINE_MAX - 1);
		return -EINVAL;
	}
	cmd = gmem_ptr(gm, area.cmdline, cmdlen);
	if (!cmd) {
		snprintf(why, why_size, "%s: guest RAM too small for boot information", k->path);
		return -EINVAL;
	}
	snprintf(cmd, cmdlen, "%s%s%s", k->path, args->cmdline ? " " : "",
		 args->cmdline ? args->cmdline : "");
	mbi.flags = MBI_MEMORY | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
	mbi.cmdline = (uint32_t)area.cmdline;
	mbi.mem_lower = (uint32_t)((low_end < X86_EBDA_START ? low_end : X86_EBDA_START) >> 10);
	mbi.mem_upper = low_end > X86_HIGH_MEMORY ? (uint32_t)((low_end - X86_HIGH_MEMORY) >> 10) : 0;
	mbi.boot_device = 0xffffffff; /* not booted from a BIOS disk */
	mbi.boot_loader_name = put_string(gm, &area, &strings, "kiln " KILN_VERSION, NULL);

	nmap = x86_memmap(gm, map);
	for (unsigned int i = 0; i < nmap; i++)
		mm[i] = (struct mb_mmap_entry){ .size = sizeof(mm[i]) - 4, .addr = map[i].addr,
						.len = map[i].len, .type = map[i].type };
	mbi.mmap_addr = (uint32_t)(area.mbi + MBI_MMAP_OFF);
	mbi.mmap_length = nmap * (uint32_t)sizeof(mm[0]);
	if (gmem_write(gm, mbi.mmap_addr, mm, mbi.mmap_length)) {
		snprintf(why, why_size, "%s: guest RAM too small for boot information", k->path);
		return -EINVAL;
	}

	if (args->initrd.data) {
		const struct loader_image *m = &args->initrd;
		uint64_t start = mod_start, end;
		struct mb_module mod;
		void *dst;

		if (add_overflow(start, (uint64_t)m->size, &end) || end > low_end ||
		    end > X86_MMIO_HOLE_START || !(dst = gmem_ptr(gm, start, m->size))) {
			snprintf(why, why_size,
				 "%s: module of %zu bytes does not fit in guest RAM after the kernel "
				 "(0x%llx-0x%llx)",
				 m->path, m->size, (unsigned long long)start,
				 (unsigned long long)low_end);
			return -EINVAL;
		}
		memcpy(dst, m->data, m->size);
		mod = (struct mb_module){ .mod_start = (uint32_t)start, .mod_end = (uint32_t)end,
					  .string = put_string(gm, &area, &strings, m->path, NULL) };
		if (!mod.string || gmem_write(gm, area.mbi + MBI_MODS_OFF, &mod, sizeof(mod))) {
			snprintf(why, why_size, "%s: module path too long for the boot information",
				 m->path);
			return -EINVAL;
		}
		mbi.flags |= MBI_MODS;
		mbi.mods_count = 1;
		mbi.mods_addr = (uint32_t)(area.mbi + MBI_MODS_OFF);
		hi = end;
	}
	if (gmem_write(gm, area.mbi, &mbi, sizeof(mbi))) {
		snprintf(why, why_size, "%s: guest RAM too small for boot information", k->path);
		return -EINVAL;
	}
	*entry = (struct boot_entry){
		.mode = BOOT_PROT32,
		.format = (h.flags & MB_FLAG_AOUT_KLUDGE) ? "multiboot (a.out kludge)" : "multiboot (ELF)",
		.rip = rip,
		.rsp = area.stack_top,
		.eax = MB_BOOTLOADER_MAGIC,
		.ebx = (uint32_t)area.mbi,
		.image_start = lo,
		.image_end = hi,
		.gdt_addr = area.gdt,
	};
	return 0;
}
