/* entry.h: the arm64 state the boot vCPU starts in, as the Image loader (loader/arm64.c) asks for
 * it and cpu.c sets it: Linux's arm64 boot protocol (Documentation/arch/arm64/booting.rst), x0 =
 * the device tree's address, x1-x3 = 0, MMU and caches off, EL1h with DAIF masked. */
#ifndef KILN_ARCH_ARM64_ENTRY_H
#define KILN_ARCH_ARM64_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

struct boot_entry {
	const char *format;  /* "arm64 Image" */
	uint64_t pc;         /* the Image's first byte */
	bool linux_guest;
	uint64_t image_start, image_end; /* guest-physical span the kernel owns */
	uint64_t dtb_addr, dtb_max;      /* where the board's device tree goes, and its room */
	uint64_t initrd_start, initrd_end; /* [start, end), both 0 without an initrd */
	const char *cmdline;             /* bootargs (the board's copy), NULL: none */
};

#endif
