/* fdt.h: the device tree an arm64 guest boots with, built with libfdt from a plain description
 * of the board (the node and property forms follow what QEMU's -M virt hands Linux). Pure code,
 * no KVM: built and unit-tested on any host. */
#ifndef KILN_ARCH_ARM64_FDT_H
#define KILN_ARCH_ARM64_FDT_H

#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

#define ARM64_FDT_MAX_VIRTIO 32
#define ARM64_FDT_MAX_CPUS_GICV2 8 /* GICv2 targets at most 8 CPUs */
#define ARM64_FDT_MAX_CPUS 512
/* Each vCPU's GICv3 redistributor: an RD_base and an SGI_base frame of 64 KiB. */
#define ARM64_GICV3_REDIST_STRIDE 0x20000ull

/* Interrupt numbers are as the device tree writes them: a PPI's number is its INTID - 16
 * (0-15), an SPI's its INTID - 32 (0-987). */
#define ARM64_FDT_MAX_PPI 15u
#define ARM64_FDT_MAX_SPI 987u

/* The timer PPIs KVM and QEMU's virt board use, in timer_ppis[] order. */
#define ARM64_TIMER_PPI_SECURE 13u   /* INTID 29 */
#define ARM64_TIMER_PPI_NONSECURE 14u /* INTID 30, the EL1 physical timer */
#define ARM64_TIMER_PPI_VIRT 11u     /* INTID 27, the EL1 virtual timer */
#define ARM64_TIMER_PPI_HYP 10u      /* INTID 26 */

/* Phandles in the tree kiln builds. */
#define ARM64_FDT_PHANDLE_GIC 1u
#define ARM64_FDT_PHANDLE_CLOCK 2u

struct arm64_fdt_virtio {
	uint64_t addr, size; /* the virtio-mmio register window */
	unsigned spi;
};

struct arm64_fdt_desc {
	uint64_t mem_base, mem_size; /* guest RAM, one range */
	unsigned nr_cpus;            /* cpu i gets arm64_fdt_cpu_mpidr(i) */
	int gic_version;             /* 3 or 2 */
	uint64_t gic_dist_base, gic_dist_size;
	uint64_t gic_redist_base, gic_redist_size; /* v3: nr_cpus * 128 KiB at least */
	uint64_t gic_cpu_base, gic_cpu_size;       /* v2: the CPU interface */
	unsigned timer_ppis[4]; /* secure, non-secure, virtual, hyp (ARM64_TIMER_PPI_*) */
	uint64_t uart_base, uart_size; /* a PL011; uart_size 0: none (and no stdout-path) */
	unsigned uart_spi;
	struct arm64_fdt_virtio virtio[ARM64_FDT_MAX_VIRTIO];
	unsigned nr_virtio;
	const char *bootargs;              /* NULL: none */
	uint64_t initrd_start, initrd_end; /* [start, end) guest-physical; both 0: none */
	uint64_t kaslr_seed;               /* 0: none */
};

/* The MPIDR_EL1 affinity KVM gives vCPU i unless told otherwise (arch/arm64/kvm/sys_regs.c,
 * reset_mpidr(): Aff0 = i % 16, Aff1 = (i / 16) % 256, Aff2 = (i / 4096) % 256), which is what
 * each cpu node's reg says: i itself for the first 16. */
uint64_t arm64_fdt_cpu_mpidr(unsigned cpu);

/* Builds the flattened device tree for *d into buf (size bytes; the finished tree's length is
 * fdt_totalsize(buf)). Nodes: the root ("linux,dummy-virt", 2 address and 2 size cells), memory,
 * cpus (PSCI enable-method), psci (0.2+ over HVC), the GIC (v3 with its redistributor region or
 * v2), the architected timer, a fixed 24 MHz apb-pclk clock and the PL011 using it, one
 * virtio_mmio node per device (edge-rising SPI, dma-coherent), and chosen (bootargs,
 * linux,initrd-start/end, stdout-path, kaslr-seed). Returns 0, or -EINVAL with one line in err
 * naming the field and value that is wrong (GIC version, CPU count against the GIC, an interrupt
 * number out of range, an empty or overflowing region, an initrd that ends before it starts), or
 * -ENOSPC when the tree does not fit in size bytes. */
int __must_check arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_desc *d, char *err,
				 size_t err_size);

#endif
