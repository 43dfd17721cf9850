/* Multiboot v1 constants and the boot information structures a loader hands over. */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H

#include "types.h"

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002

#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MODS (1u << 3)
#define MBI_FLAG_MMAP (1u << 6)
#define MBI_FLAG_LOADER (1u << 9)

struct multiboot_info {
	u32 flags;
	u32 mem_lower; /* KiB */
	u32 mem_upper; /* KiB */
	u32 boot_device;
	u32 cmdline;
	u32 mods_count;
	u32 mods_addr;
	u32 syms[4];
	u32 mmap_length;
	u32 mmap_addr;
	u32 drives_length;
	u32 drives_addr;
	u32 config_table;
	u32 boot_loader_name;
};

struct multiboot_module {
	u32 mod_start;
	u32 mod_end;
	u32 string;
	u32 reserved;
};

/* size counts the bytes after itself; the next entry starts at (u8 *)&size + size + 4. */
struct multiboot_mmap_entry {
	u32 size;
	u64 base_addr;
	u64 length;
	u32 type;
} PACKED;

#endif
