/* elf.c: 64-bit ELF kernels entered in long mode, and the PT_LOAD loader multiboot shares. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "loader/loader.h"

#define ELF_MAX_PHDRS ELF_MAX_LOADS

/* A program header of either class, copied out of the image once. */
struct elf_seg {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

bool elf_is_elf(const struct loader_image *img)
{
	return img->size >= EI_NIDENT && memcmp(img->data, ELFMAG, SELFMAG) == 0;
}

int elf_class(const struct loader_image *img)
{
	if (!elf_is_elf(img))
		return 0;
	return img->data[EI_CLASS] == ELFCLASS32 || img->data[EI_CLASS] == ELFCLASS64
		       ? img->data[EI_CLASS]
		       : 0;
}

/* Reads the header and program headers into host structs after checking every size. */
static int elf_parse(const struct loader_image *img, struct elf_seg *segs, unsigned int *nsegs,
		     uint64_t *entry, char *why, size_t why_size)
{
	int cls = elf_class(img);
	uint64_t phoff, phend;
	unsigned int phnum, phentsize, machine, type;
	size_t ehsize = cls == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);

	if (!cls) {
		snprintf(why, why_size, "%s: not an ELF file of a known class", img->path);
		return -EINVAL;
	}
	if (img->size < ehsize) {
		snprintf(why, why_size, "%s: truncated ELF: %zu bytes, the header alone needs %zu",
			 img->path, img->size, ehsize);
		return -EINVAL;
	}
	if (img->data[EI_DATA] != ELFDATA2LSB) {
		snprintf(why, why_size, "%s: not a little-endian ELF", img->path);
		return -EINVAL;
	}
	if (cls == ELFCLASS64) {
		Elf64_Ehdr eh;

		memcpy(&eh, img->data, sizeof(eh));
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
		machine = eh.e_machine;
		type = eh.e_type;
		*entry = eh.e_entry;
	} else {
		Elf32_Ehdr eh;

		memcpy(&eh, img->data, sizeof(eh));
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
		machine = eh.e_machine;
		type = eh.e_type;
		*entry = eh.e_entry;
	}
	if (machine != (cls == ELFCLASS64 ? EM_X86_64 : EM_386)) {
		snprintf(why, why_size, "%s: ELF for machine %u, not x86", img->path, machine);
		return -EINVAL;
	}
	if (type != ET_EXEC) {
		snprintf(why, why_size, "%s: ELF type %u is not an executable (ET_EXEC)",
			 img->path, type);
		return -EINVAL;
	}
	if (phnum == 0 || phnum > ELF_MAX_PHDRS) {
		snprintf(why, why_size, "%s: ELF has %u program headers (1 to %u expected)",
			 img->path, phnum, ELF_MAX_PHDRS);
		return -EINVAL;
	}
	if (phentsize != (cls == ELFCLASS64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr))) {
		snprintf(why, why_size, "%s: bad ELF program header size %u", img->path, phentsize);
		return -EINVAL;
	}
	if (add_overflow(phoff, (uint64_t)phnum * phentsize, &phend) || phend > img->size) {
		snprintf(why, why_size,
			 "%s: truncated ELF: program headers end at 0x%llx, past the file's %zu bytes",
			 img->path, (unsigned long long)(phoff + (uint64_t)phnum * phentsize), img->size);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < phnum; i++) {
		const uint8_t *p = img->data + phoff + (uint64_t)i * phentsize;

		if (cls == ELFCLASS64) {
			Elf64_Phdr ph;

			memcpy(&ph, p, sizeof(ph));
			segs[i] = (struct elf_seg){ ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
						    ph.p_memsz };
		} else {
			Elf32_Phdr ph;

			memcpy(&ph, p, sizeof(ph));
			segs[i] = (struct elf_seg){ ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
						    ph.p_memsz };
		}
	}
	*nsegs = phnum;
	return 0;
}

int elf_load_segments(const struct gmem *gm, const struct loader_image *img, uint64_t min_addr,
		      uint64_t *lo, uint64_t *hi, uint64_t *entry, char *why, size_t why_size)
{
	struct elf_seg segs[ELF_MAX_PHDRS];
	unsigned int n, loads = 0;
	uint64_t low = UINT64_MAX, high = 0, end, fend;
	bool entry_ok = false;
	int e;

	e = elf_parse(img, segs, &n, entry, why, why_size);
	if (e)
		return e;
	/* Check everything before copying anything. */
	for (unsigned int i = 0; i < n; i++) {
		const struct elf_seg *s = &segs[i];

		if (s->type != PT_LOAD || s->memsz == 0)
			continue;
		if (s->filesz > s->memsz) {
			snprintf(why, why_size,
				 "%s: segment %u: file size 0x%llx exceeds memory size 0x%llx",
				 img->path, i, (unsigned long long)s->filesz,
				 (unsigned long long)s->memsz);
			return -EINVAL;
		}
		if (add_overflow(s->offset, s->filesz, &fend) || fend > img->size) {
			snprintf(why, why_size,
				 "%s: truncated ELF: segment %u's data (0x%llx bytes at offset 0x%llx) "
				 "runs past the end of the file (%zu bytes)",
				 img->path, i, (unsigned long long)s->filesz,
				 (unsigned long long)s->offset, img->size);
			return -EINVAL;
		}
		if (add_overflow(s->paddr, s->memsz, &end)) {
			snprintf(why, why_size, "%s: segment %u: address 0x%llx + size wraps around",
				 img->path, i, (unsigned long long)s->paddr);
			return -EINVAL;
		}
		if (s->paddr < min_addr) {
			snprintf(why, why_size,
				 "%s: segment %u at 0x%llx overlaps kiln's boot area (below 0x%llx)",
				 img->path, i, (unsigned long long)s->paddr,
				 (unsigned long long)min_addr);
			return -EINVAL;
		}
		if (ranges_overlap(s->paddr, s->memsz, X86_BIOS_AREA_START,
				   X86_BIOS_AREA_END - X86_BIOS_AREA_START)) {
			snprintf(why, why_size,
				 "%s: segment %u [0x%llx-0x%llx) overlaps the legacy BIOS area "
				 "0x%llx-0x%llx where kiln keeps the MP and ACPI tables",
				 img->path, i, (unsigned long long)s->paddr, (unsigned long long)end,
				 X86_BIOS_AREA_START, X86_BIOS_AREA_END - 1);
			return -EINVAL;
		}
		if (!gmem_ptr(gm, s->paddr, s->memsz)) {
			snprintf(why, why_size,
				 "%s: segment %u [0x%llx-0x%llx) is outside guest RAM (%llu MiB)",
				 img->path, i, (unsigned long long)s->paddr, (unsigned long long)end,
				 (unsigned long long)(gmem_size(gm) >> 20));
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (segs[j].type != PT_LOAD || segs[j].memsz == 0)
				continue;
			if (ranges_overlap(s->paddr, s->memsz, segs[j].paddr, segs[j].memsz)) {
				snprintf(why, why_size,
					 "%s: segment %u [0x%llx-0x%llx) overlaps segment %u", img->path, i,
					 (unsigned long long)s->paddr, (unsigned long long)end, j);
				return -EINVAL;
			}
		}
		if (*entry >= s->paddr && *entry < end)
			entry_ok = true;
		if (s->paddr < low)
			low = s->paddr;
		if (end > high)
			high = end;
		loads++;
	}
	if (!loads) {
		snprintf(why, why_size, "%s: ELF has no loadable segment", img->path);
		return -EINVAL;
	}
	if (!entry_ok) {
		snprintf(why, why_size, "%s: entry point 0x%llx is not inside any loaded segment",
			 img->path, (unsigned long long)*entry);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct elf_seg *s = &segs[i];
		uint8_t *dst;

		if (s->type != PT_LOAD || s->memsz == 0)
			continue;
		dst = gmem_ptr(gm, s->paddr, s->memsz);
		memcpy(dst, img->data + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	*lo = low;
	*hi = high;
	return 0;
}

unsigned int elf_load_ranges(const struct loader_image *img, struct elf_range *r, unsigned int max)
{
	struct elf_seg segs[ELF_MAX_PHDRS];
	unsigned int n, k = 0;
	uint64_t entry;
	char why[8];

	if (elf_parse(img, segs, &n, &entry, why, sizeof(why)))
		return 0;
	for (unsigned int i = 0; i < n && k < max; i++)
		if (segs[i].type == PT_LOAD && segs[i].memsz)
			r[k++] = (struct elf_range){ segs[i].paddr, segs[i].paddr + segs[i].memsz };
	return k;
}

int loader_load_elf64(const struct gmem *gm, const struct loader_args *args,
		      struct boot_entry *entry, char *why, size_t why_size)
{
	const struct loader_image *k = &args->kernel;
	uint64_t lo, hi, rip;
	int e;

	if (args->initrd.data) {
		snprintf(why, why_size,
			 "%s: a plain 64-bit ELF kernel has no way to receive an initrd (-i); use a "
			 "multiboot kernel",
			 k->path);
		return -EINVAL;
	}
	if (args->cmdline && strlen(args->cmdline) >= X86_CMDLINE_MAX) {
		snprintf(why, why_size, "%s: command line of %zu bytes is too long (max %llu)",
			 k->path, strlen(args->cmdline), X86_CMDLINE_MAX - 1);
		return -EINVAL;
	}
	e = elf_load_segments(gm, k, X86_RESERVED_END, &lo, &hi, &rip, why, why_size);
	if (e)
		return e;
	if (rip >= X86_MMIO_HOLE_START) {
		snprintf(why, why_size,
			 "%s: entry point 0x%llx is outside kiln's identity map of low memory",
			 k->path, (unsigned long long)rip);
		return -EINVAL;
	}
	*entry = (struct boot_entry){
		.mode = BOOT_LONG64,
		.format = "elf64",
		.rip = rip,
		.rsp = X86_BOOT_STACK_TOP,
		.image_start = lo,
		.image_end = hi,
	};
	/* The command line, if any, is a NUL-terminated string at X86_CMDLINE_ADDR; RDI points to it. */
	if (args->cmdline) {
		if (gmem_write(gm, X86_CMDLINE_ADDR, args->cmdline, strlen(args->cmdline) + 1)) {
			snprintf(why, why_size, "%s: guest RAM too small for the command line",
				 k->path);
			return -EINVAL;
		}
		entry->rdi = X86_CMDLINE_ADDR;
	}
	return 0;
}

/* Calls `fn` for each note in the image's PT_NOTE segments, every size checked against the file.
 * Stops early when fn returns true; returns whether it did. */
static bool elf_find_note(const struct loader_image *img,
			  bool (*fn)(const char *name, uint32_t namesz, uint32_t type,
				     const uint8_t *desc, uint32_t descsz, void *ctx),
			  void *ctx)
{
	struct elf_seg segs[ELF_MAX_PHDRS];
	unsigned int n;
	uint64_t entry, end;
	char why[LOADER_ERR_MAX];

	if (elf_parse(img, segs, &n, &entry, why, sizeof(why)))
		return false;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t off = segs[i].offset, limit;

		if (segs[i].type != PT_NOTE || add_overflow(off, segs[i].filesz, &limit) ||
		    limit > img->size)
			continue;
		/* Each note: namesz, descsz, type, then name and desc, each padded to 4 bytes. */
		while (off + 12 <= limit) {
			uint32_t h[3];
			uint64_t name_off, desc_off;

			memcpy(h, img->data + off, sizeof(h));
			name_off = off + 12;
			desc_off = name_off + align_up(h[0], 4);
			if (add_overflow(desc_off, align_up(h[1], 4), &end) || end > limit ||
			    desc_off > limit)
				break;
			if (fn((const char *)img->data + name_off, h[0], h[2], img->data + desc_off, h[1],
			       ctx))
				return true;
			off = end;
		}
	}
	return false;
}

static bool is_linux_note(const char *name, uint32_t namesz, uint32_t type, const uint8_t *desc,
			  uint32_t descsz, void *ctx)
{
	(void)type;
	(void)desc;
	(void)descsz;
	(void)ctx;
	return namesz == 6 && memcmp(name, "Linux", 6) == 0;
}

#define XEN_ELFNOTE_PHYS32_ENTRY 18

static bool is_pvh_note(const char *name, uint32_t namesz, uint32_t type, const uint8_t *desc,
			uint32_t descsz, void *ctx)
{
	if (namesz != 4 || memcmp(name, "Xen", 4) != 0 || type != XEN_ELFNOTE_PHYS32_ENTRY ||
	    (descsz != 4 && descsz != 8))
		return false;
	memcpy(ctx, desc, 4); /* the entry is a 32-bit physical address */
	return true;
}

bool elf_has_linux_note(const struct loader_image *img)
{
	return elf_is_elf(img) && elf_find_note(img, is_linux_note, NULL);
}

int elf_pvh_entry(const struct loader_image *img, uint32_t *entry32)
{
	return elf_is_elf(img) && elf_find_note(img, is_pvh_note, entry32) ? 0 : -ENOENT;
}
