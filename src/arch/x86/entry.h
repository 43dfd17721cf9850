/* entry.h: the x86 state the boot vCPU starts in, as a loader asks for it and regs.c sets it. */
#ifndef KILN_ARCH_X86_ENTRY_H
#define KILN_ARCH_X86_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

enum boot_mode {
	BOOT_REAL16, /* 16-bit real mode, CS=DS=ES=SS=real_segment */
	BOOT_PROT32, /* 32-bit protected mode, flat segments, paging off (multiboot) */
	BOOT_LONG64, /* 64-bit long mode, identity-mapped first 4 GiB, flat GDT */
};

/* Where and how the boot vCPU starts: the result every loader fills in. */
struct boot_entry {
	enum boot_mode mode;
	const char *format; /* "flat", "elf64", "multiboot (ELF)", "multiboot (a.out kludge)" */
	uint64_t rip;
	uint64_t rsp;
	uint16_t real_segment;
	uint32_t eax, ebx; /* multiboot: magic and information address; PVH: ebx = start info */
	uint64_t rdi;      /* elf64: address of the command line, 0 without -p */
	uint64_t rsi;      /* Linux 64-bit boot protocol: address of boot_params (the zero page) */
	bool linux_guest;  /* a Linux kernel: the platform must look like one Linux expects */
	uint64_t image_start, image_end; /* guest-physical span the image occupies */
	uint64_t gdt_addr; /* protected/long mode: where kiln's boot GDT goes; 0: X86_GDT_ADDR */
};

#endif
