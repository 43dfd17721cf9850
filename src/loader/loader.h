/* loader.h: guest image formats: detection, loading into guest RAM, and the entry state they ask for. */
#ifndef KILN_LOADER_LOADER_H
#define KILN_LOADER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/entry.h"
#include "kvm/memory.h"
#include "util/checked.h"

/* A size for the message buffers (`why`) the functions below fill: every message fits. They
 * take the buffer's size (`why_size`) and never write more, truncating a longer message. */
#define LOADER_ERR_MAX 320

/* An image mapped read-only from a file (or any buffer, in tests). */
struct loader_image {
	const uint8_t *data;
	size_t size;
	const char *path; /* for messages and the multiboot command line */
};

struct loader_args {
	struct loader_image kernel;
	struct loader_image initrd; /* data NULL when absent */
	const char *cmdline;        /* -p text, may be NULL */
	const char *linux_cmdline;  /* a Linux kernel's (bzImage, vmlinux) instead, when not NULL:
				     * cmdline plus what the board adds (arch_guest_cmdline()) */
	bool flat;                  /* --flat: raw real-mode binary */
	uint64_t acpi_rsdp;         /* where the platform put the ACPI RSDP, 0 when none */
};

/* Maps `path` read-only. Returns 0, or -errno with "<path>: <reason>" in `why`. */
int __must_check loader_map_file(struct loader_image *img, const char *path, char *why,
				 size_t why_size);
void loader_unmap_file(struct loader_image *img);

/* Detects the kernel's format from its contents (never its name) and loads it and the initrd into
 * `gm`, writing whatever boot structures the format needs. Returns 0, or -EINVAL with a one-line
 * message in `why` naming the file and what is wrong. Never reads outside the images nor writes
 * outside guest RAM. */
int __must_check loader_load(const struct gmem *gm, const struct loader_args *args,
			     struct boot_entry *entry, char *why, size_t why_size);

/* Format loaders, called by loader_load(); exposed for tests. Same contract. */
int __must_check loader_load_flat(const struct gmem *gm, const struct loader_args *args,
				  struct boot_entry *entry, char *why, size_t why_size);
int __must_check loader_load_elf64(const struct gmem *gm, const struct loader_args *args,
				   struct boot_entry *entry, char *why, size_t why_size);
int __must_check loader_load_multiboot(const struct gmem *gm, const struct loader_args *args,
				       size_t header_offset, struct boot_entry *entry, char *why,
				       size_t why_size);
/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst): a bzImage entered at its 64-bit
 * entry point, and a vmlinux ELF entered at e_entry, both with boot_params (the "zero page"):
 * setup header, e820 map, command line, initrd, ACPI RSDP. */
int __must_check loader_load_bzimage(const struct gmem *gm, const struct loader_args *args,
				     struct boot_entry *entry, char *why, size_t why_size);
int __must_check loader_load_vmlinux(const struct gmem *gm, const struct loader_args *args,
				     struct boot_entry *entry, char *why, size_t why_size);
/* PVH: an ELF with a XEN_ELFNOTE_PHYS32_ENTRY note, entered in 32-bit protected mode with EBX
 * pointing to an hvm_start_info (command line, initrd as module 0, memory map, RSDP). */
int __must_check loader_load_pvh(const struct gmem *gm, const struct loader_args *args,
				 uint32_t entry32, struct boot_entry *entry, char *why,
				 size_t why_size);

/* True when the image starts like a bzImage: boot flag 0xaa55 and "HdrS" in the setup header. */
bool linux_is_bzimage(const struct loader_image *img);
/* For an ELF: whether it carries Linux's "Linux" ELF note, and the PVH entry from a
 * XEN_ELFNOTE_PHYS32_ENTRY note (returns 0 or -ENOENT when there is none). */
bool elf_has_linux_note(const struct loader_image *img);
int elf_pvh_entry(const struct loader_image *img, uint32_t *entry32);

/* Offset of the first valid multiboot v1 header in the first 8 KiB (4-byte aligned, checksum
 * good), or -1. When only headers with a bad checksum were seen, *bad_offset gets the first one
 * (else -1). */
long multiboot_find_header(const struct loader_image *img, long *bad_offset);

/* ELF helpers shared by the ELF and multiboot loaders. Loads every PT_LOAD segment of a 32- or
 * 64-bit little-endian x86 ELF at its physical address: each must lie in RAM at or above
 * `min_addr`, fit its file, and not overlap another. Reports the span and the entry point. */
int __must_check elf_load_segments(const struct gmem *gm, const struct loader_image *img,
				   uint64_t min_addr, uint64_t *lo, uint64_t *hi, uint64_t *entry,
				   char *why, size_t why_size);
bool elf_is_elf(const struct loader_image *img);
/* The guest-physical ranges [start, end) an ELF's PT_LOAD segments take, for an image that
 * elf_load_segments() accepted: at most `max`; returns how many (0 when the image does not
 * parse). */
#define ELF_MAX_LOADS 128
struct elf_range {
	uint64_t start, end;
};
unsigned int elf_load_ranges(const struct loader_image *img, struct elf_range *r, unsigned int max);
/* ELFCLASS32 or ELFCLASS64, 0 when unknown. */
int elf_class(const struct loader_image *img);

#endif
