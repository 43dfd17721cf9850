/* linux.c: the Linux x86 boot protocol (bzImage and vmlinux, 64-bit entry) and PVH. */
#include <asm/bootparam.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/memmap.h"
#include "loader/loader.h"

#define BOOT_FLAG_MAGIC 0xaa55
#define HDRS_MAGIC 0x53726448 /* "HdrS" */
#define SETUP_HEADER_OFFSET 0x1f1
#define BZ_MIN_PROTOCOL 0x020c /* 2.12: xloadflags, so XLF_KERNEL_64 can be checked */
#define BZ_ENTRY64_OFFSET 0x200
#define LINUX_LOADER_TYPE 0xff /* "undefined" boot loader, as Firecracker and kvmtool */
#define LINUX_CMDLINE_DEFAULT 2048 /* x86 COMMAND_LINE_SIZE, for a vmlinux without a header */
#define LINUX_INITRD_MAX_DEFAULT 0x37ffffffu /* boot.rst: before protocol 2.03 */
#define LINUX_VMLINUX_ALIGN 0x1000000

#define PVH_START_MAGIC 0x336ec578
#define PVH_MEMMAP_ADDR (X86_BOOT_INFO_ADDR + 0x100)
#define PVH_MODLIST_ADDR (X86_BOOT_INFO_ADDR + 0x400)

/* hvm_start_info, version 1 (Xen's public/arch-x86/hvm/start_info.h). */
struct pvh_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
} __attribute__((packed));

struct pvh_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct pvh_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

bool linux_is_bzimage(const struct loader_image *img)
{
	uint16_t flag;
	uint32_t magic;

	if (img->size < SETUP_HEADER_OFFSET + sizeof(struct setup_header))
		return false;
	memcpy(&flag, img->data + 0x1fe, sizeof(flag));
	memcpy(&magic, img->data + 0x202, sizeof(magic));
	return flag == BOOT_FLAG_MAGIC && magic == HDRS_MAGIC;
}

/* The command line goes to X86_CMDLINE_ADDR; `max` counts the terminating NUL. A Linux kernel
 * (`is_linux`) gets args->linux_cmdline when there is one. */
static int put_cmdline(const struct gmem *gm, const struct loader_args *args, bool is_linux,
		       uint64_t max, char *why, size_t why_size)
{
	bool added = is_linux && args->linux_cmdline;
	const char *cmd = added ? args->linux_cmdline : args->cmdline ? args->cmdline : "";
	size_t len = strlen(cmd);

	if (max > X86_CMDLINE_MAX)
		max = X86_CMDLINE_MAX;
	if (len + 1 > max) {
		snprintf(why, why_size, "%s: command line of %zu bytes%s is too long (this kernel "
			 "takes at most %llu)", args->kernel.path, len,
			 added ? " (with kiln's virtio_mmio.device= parameters)" : "",
			 (unsigned long long)(max - 1));
		return -EINVAL;
	}
	if (gmem_write(gm, X86_CMDLINE_ADDR, cmd, len + 1)) {
		snprintf(why, why_size, "%s: guest RAM too small for the command line",
			 args->kernel.path);
		return -EINVAL;
	}
	return 0;
}

/* Places the initrd page-aligned at the top of RAM below `max_end` (exclusive) and above
 * `kernel_end`, as boot loaders do. No initrd: *addr = 0. Returns 0 or -EINVAL with a message. */
static int place_initrd(const struct gmem *gm, const struct loader_args *args, uint64_t kernel_end,
			uint64_t max_end, uint64_t *addr, char *why, size_t why_size)
{
	const struct loader_image *rd = &args->initrd;
	uint64_t top = gmem_low_end(gm), start = 0;
	void *dst = NULL;

	*addr = 0;
	if (!rd->data)
		return 0;
	if (max_end < top)
		top = max_end;
	if (rd->size <= top)
		start = (top - rd->size) & ~0xfffull;
	if (rd->size > top || start < align_up(kernel_end, 4096) ||
	    !(dst = gmem_ptr(gm, start, rd->size))) {
		snprintf(why, why_size,
			 "%s: initrd of %zu bytes does not fit between the kernel's end (0x%llx) and "
			 "0x%llx (the kernel's initrd limit or the end of low RAM)",
			 rd->path, rd->size, (unsigned long long)kernel_end, (unsigned long long)top);
		return -EINVAL;
	}
	memcpy(dst, rd->data, rd->size);
	*addr = start;
	return 0;
}

/* The e820 map into the zero page. */
static void fill_e820(const struct gmem *gm, struct boot_params *bp)
{
	struct x86_memmap_entry map[X86_MEMMAP_MAX];
	unsigned int n = x86_memmap(gm, map);

	for (unsigned int i = 0; i < n; i++)
		bp->e820_table[i] = (struct boot_e820_entry){ .addr = map[i].addr, .size = map[i].len,
							      .type = map[i].type };
	bp->e820_entries = (uint8_t)n;
}

/* Common tail of both Linux formats: command line, initrd, e820, RSDP, then the zero page. */
static int finish_linux(const struct gmem *gm, const struct loader_args *args,
			struct boot_params *bp, uint64_t kernel_end, uint64_t initrd_max,
			char *why, size_t why_size)
{
	uint64_t rd;
	int e;

	/* cmdline_size excludes the NUL (boot.rst); put_cmdline's limit includes it. */
	e = put_cmdline(gm, args, true,
			bp->hdr.cmdline_size ? (uint64_t)bp->hdr.cmdline_size + 1 : LINUX_CMDLINE_DEFAULT,
			why, why_size);
	if (e)
		return e;
	e = place_initrd(gm, args, kernel_end, initrd_max, &rd, why, why_size);
	if (e)
		return e;
	bp->hdr.type_of_loader = LINUX_LOADER_TYPE;
	bp->hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_ADDR;
	bp->hdr.vid_mode = 0xffff; /* "normal" */
	bp->hdr.ramdisk_image = (uint32_t)rd;
	bp->hdr.ramdisk_size = rd ? (uint32_t)args->initrd.size : 0;
	bp->ext_ramdisk_image = (uint32_t)(rd >> 32);
	bp->acpi_rsdp_addr = args->acpi_rsdp;
	fill_e820(gm, bp);
	if (gmem_write(gm, X86_BOOT_INFO_ADDR, bp, sizeof(*bp))) {
		snprintf(why, why_size, "%s: guest RAM too small for boot_params", args->kernel.path);
		return -EINVAL;
	}
	return 0;
}

int loader_load_bzimage(const struct gmem *gm, const struct loader_args *args,
			struct boot_entry *entry, char *why, size_t why_size)
{
	const struct loader_image *k = &args->kernel;
	struct boot_params bp;
	struct setup_header *h = &bp.hdr;
	size_t hdr_len, setup_size;
	uint64_t load, end, kernel_size;
	unsigned int setup_sects;
	void *dst;
	int e;

	if (!linux_is_bzimage(k)) {
		snprintf(why, why_size,
			 "%s: not a bzImage (no boot flag and \"HdrS\", or shorter than the setup header)",
			 k->path);
		return -EINVAL;
	}
	memset(&bp, 0, sizeof(bp));
	/* The header runs from 0x1f1 to 0x202 + the jump's offset (boot.rst "The real-mode kernel
	 * header"); copy what this protocol defines, never past the file. */
	hdr_len = 0x202 + k->data[0x201] - SETUP_HEADER_OFFSET;
	if (hdr_len > sizeof(*h))
		hdr_len = sizeof(*h);
	memcpy(h, k->data + SETUP_HEADER_OFFSET, hdr_len);
	if (h->version < BZ_MIN_PROTOCOL) {
		snprintf(why, why_size,
			 "%s: bzImage boot protocol %u.%02u is too old (kiln needs 2.12 or newer for "
			 "the 64-bit entry)",
			 k->path, h->version >> 8, h->version & 0xff);
		return -EINVAL;
	}
	if (!(h->loadflags & LOADED_HIGH)) {
		snprintf(why, why_size, "%s: not a bzImage (loadflags lacks LOADED_HIGH: a zImage)",
			 k->path);
		return -EINVAL;
	}
	if (!(h->xloadflags & XLF_KERNEL_64)) {
		snprintf(why, why_size,
			 "%s: bzImage has no 64-bit entry point (xloadflags lacks XLF_KERNEL_64)", k->path);
		return -EINVAL;
	}
	setup_sects = h->setup_sects ? h->setup_sects : 4;
	setup_size = (size_t)(setup_sects + 1) * 512;
	if (setup_size >= k->size) {
		snprintf(why, why_size,
			 "%s: truncated bzImage: %u setup sectors but the file is %zu bytes", k->path,
			 setup_sects, k->size);
		return -EINVAL;
	}
	kernel_size = k->size - setup_size;
	if (h->syssize && (uint64_t)h->syssize * 16 > kernel_size + 15) {
		snprintf(why, why_size,
			 "%s: truncated bzImage: the header says 0x%llx bytes of protected-mode kernel, "
			 "the file has 0x%llx",
			 k->path, (unsigned long long)h->syssize * 16, (unsigned long long)kernel_size);
		return -EINVAL;
	}
	if (h->kernel_alignment == 0 || (h->kernel_alignment & (h->kernel_alignment - 1))) {
		snprintf(why, why_size, "%s: bzImage kernel_alignment 0x%x is not a power of two",
			 k->path, h->kernel_alignment);
		return -EINVAL;
	}
	/* pref_address is where it runs without relocating; a non-relocatable kernel must go
	 * there (2.10+), and it must be aligned for either. */
	load = h->pref_address ? h->pref_address : X86_HIGH_MEMORY;
	if (load < X86_HIGH_MEMORY) {
		if (!h->relocatable_kernel) {
			snprintf(why, why_size,
				 "%s: bzImage pref_address 0x%llx is below 1 MiB (kiln's boot area) and "
				 "the kernel is not relocatable",
				 k->path, (unsigned long long)load);
			return -EINVAL;
		}
		load = X86_HIGH_MEMORY;
	}
	if (load % h->kernel_alignment && !h->relocatable_kernel) {
		snprintf(why, why_size,
			 "%s: bzImage pref_address 0x%llx is not aligned to kernel_alignment 0x%x and "
			 "the kernel is not relocatable",
			 k->path, (unsigned long long)load, h->kernel_alignment);
		return -EINVAL;
	}
	if (add_overflow(load, (uint64_t)h->kernel_alignment - 1, &end)) {
		snprintf(why, why_size,
			 "%s: bzImage pref_address 0x%llx aligned to 0x%x is past 2^64", k->path,
			 (unsigned long long)load, h->kernel_alignment);
		return -EINVAL;
	}
	load = end & ~((uint64_t)h->kernel_alignment - 1);
	if (h->init_size < kernel_size) {
		snprintf(why, why_size,
			 "%s: bzImage init_size 0x%x is smaller than its protected-mode kernel (0x%llx)",
			 k->path, h->init_size, (unsigned long long)kernel_size);
		return -EINVAL;
	}
	if (add_overflow(load, (uint64_t)h->init_size, &end) || end > gmem_low_end(gm) ||
	    !(dst = gmem_ptr(gm, load, h->init_size))) {
		snprintf(why, why_size,
			 "%s: the kernel needs 0x%x bytes (init_size) at 0x%llx: more than guest RAM "
			 "(%llu MiB)",
			 k->path, h->init_size, (unsigned long long)load,
			 (unsigned long long)(gmem_size(gm) >> 20));
		return -EINVAL;
	}
	memcpy(dst, k->data + setup_size, kernel_size);
	h->code32_start = (uint32_t)load;
	e = finish_linux(gm, args, &bp, end,
			 (uint64_t)(h->initrd_addr_max ? h->initrd_addr_max : LINUX_INITRD_MAX_DEFAULT) + 1,
			 why, why_size);
	if (e)
		return e;
	*entry = (struct boot_entry){
		.mode = BOOT_LONG64,
		.format = "Linux bzImage",
		.rip = load + BZ_ENTRY64_OFFSET,
		.rsp = X86_BOOT_STACK_TOP,
		.rsi = X86_BOOT_INFO_ADDR,
		.linux_guest = true,
		.image_start = load,
		.image_end = end,
	};
	return 0;
}

int loader_load_vmlinux(const struct gmem *gm, const struct loader_args *args,
			struct boot_entry *entry, char *why, size_t why_size)
{
	struct boot_params bp;
	uint64_t lo, hi, rip;
	int e;

	e = elf_load_segments(gm, &args->kernel, X86_HIGH_MEMORY, &lo, &hi, &rip, why, why_size);
	if (e)
		return e;
	if (hi > X86_MMIO_HOLE_START) {
		snprintf(why, why_size,
			 "%s: vmlinux ends at 0x%llx, outside kiln's identity map of low memory",
			 args->kernel.path, (unsigned long long)hi);
		return -EINVAL;
	}
	memset(&bp, 0, sizeof(bp));
	/* No setup header in a vmlinux: write the fields the kernel reads, as a bzImage would
	 * carry them. */
	bp.hdr.boot_flag = BOOT_FLAG_MAGIC;
	bp.hdr.header = HDRS_MAGIC;
	bp.hdr.version = 0x020f;
	bp.hdr.loadflags = LOADED_HIGH;
	bp.hdr.kernel_alignment = LINUX_VMLINUX_ALIGN;
	bp.hdr.cmdline_size = LINUX_CMDLINE_DEFAULT - 1; /* as Linux's header.S: without the NUL */
	bp.hdr.initrd_addr_max = 0x7fffffff;
	bp.hdr.code32_start = (uint32_t)lo;
	e = finish_linux(gm, args, &bp, hi, (uint64_t)bp.hdr.initrd_addr_max + 1, why, why_size);
	if (e)
		return e;
	*entry = (struct boot_entry){
		.mode = BOOT_LONG64,
		.format = "Linux vmlinux",
		.rip = rip,
		.rsp = X86_BOOT_STACK_TOP,
		.rsi = X86_BOOT_INFO_ADDR,
		.linux_guest = true,
		.image_start = lo,
		.image_end = hi,
	};
	return 0;
}

int loader_load_pvh(const struct gmem *gm, const struct loader_args *args, uint32_t entry32,
		    struct boot_entry *entry, char *why, size_t why_size)
{
	struct x86_memmap_entry map[X86_MEMMAP_MAX];
	struct pvh_memmap_entry mm[X86_MEMMAP_MAX];
	struct pvh_start_info si = { .magic = PVH_START_MAGIC, .version = 1 };
	uint64_t lo, hi, rip, rd;
	unsigned int n;
	int e;

	e = elf_load_segments(gm, &args->kernel, X86_HIGH_MEMORY, &lo, &hi, &rip, why, why_size);
	if (e)
		return e;
	if (entry32 < lo || entry32 >= hi) {
		snprintf(why, why_size, "%s: PVH entry point 0x%x is outside the loaded image",
			 args->kernel.path, entry32);
		return -EINVAL;
	}
	e = put_cmdline(gm, args, false, LINUX_CMDLINE_DEFAULT, why, why_size);
	if (e)
		return e;
	e = place_initrd(gm, args, hi, (uint64_t)LINUX_INITRD_MAX_DEFAULT + 1, &rd, why, why_size);
	if (e)
		return e;
	if (rd) {
		struct pvh_modlist_entry mod = { .paddr = rd, .size = args->initrd.size };

		if (gmem_write(gm, PVH_MODLIST_ADDR, &mod, sizeof(mod)))
			return -EINVAL;
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_ADDR;
	}
	n = x86_memmap(gm, map);
	for (unsigned int i = 0; i < n; i++)
		mm[i] = (struct pvh_memmap_entry){ .addr = map[i].addr, .size = map[i].len,
						   .type = map[i].type };
	si.cmdline_paddr = X86_CMDLINE_ADDR;
	si.rsdp_paddr = args->acpi_rsdp;
	si.memmap_paddr = PVH_MEMMAP_ADDR;
	si.memmap_entries = n;
	if (gmem_write(gm, PVH_MEMMAP_ADDR, mm, n * sizeof(mm[0])) ||
	    gmem_write(gm, X86_BOOT_INFO_ADDR, &si, sizeof(si))) {
		snprintf(why, why_size, "%s: guest RAM too small for the PVH start info",
			 args->kernel.path);
		return -EINVAL;
	}
	*entry = (struct boot_entry){
		.mode = BOOT_PROT32,
		.format = "PVH",
		.rip = entry32,
		.rsp = X86_BOOT_STACK_TOP,
		.ebx = (uint32_t)X86_BOOT_INFO_ADDR,
		.linux_guest = elf_has_linux_note(&args->kernel),
		.image_start = lo,
		.image_end = hi,
	};
	return 0;
}
