/* layout.h: kiln's arm64 guest-physical memory map. RAM starts at 0 (gmem's layout, as on x86)
 * and stops at the hole; the board's devices live in the hole, below 4 GiB, on 64 KiB
 * boundaries (the vGIC's frames need them); RAM above 3 GiB would go above 4 GiB, which the
 * device tree does not describe yet (arch_vm_create() refuses it). */
#ifndef KILN_ARCH_ARM64_LAYOUT_H
#define KILN_ARCH_ARM64_LAYOUT_H

#define ARM64_MMIO_HOLE_START 0xc0000000ull
#define ARM64_MAX_RAM ARM64_MMIO_HOLE_START

/* GICv3: distributor (64 KiB), then one 128 KiB redistributor a vCPU (RD_base + SGI_base).
 * GICv2: distributor, then the CPU interface (8 KiB, in a 64 KiB frame). */
#define ARM64_GIC_DIST_BASE 0xf0000000ull
#define ARM64_GIC_DIST_SIZE 0x10000ull
#define ARM64_GIC_CPU_BASE 0xf0010000ull
#define ARM64_GIC_CPU_SIZE 0x2000ull
#define ARM64_GIC_REDIST_BASE 0xf0100000ull
#define ARM64_GIC_REDIST_STRIDE 0x20000ull

/* PL011 console UART (ARM DDI 0183): one 4 KiB page. */
#define ARM64_UART_BASE 0xf8000000ull
#define ARM64_UART_SIZE 0x1000ull

/* virtio-mmio transports, one 4 KiB page each (docs/virtio.md). */
#define ARM64_VIRTIO_MMIO_BASE 0xd0000000ull
#define ARM64_VIRTIO_MMIO_STRIDE 0x1000ull

/* Shared peripheral interrupts, as the device tree numbers them (INTID - 32): the UART's, then
 * one a virtio device. */
#define ARM64_UART_SPI 1u
#define ARM64_VIRTIO_SPI_BASE 16u

/* The device tree's room in RAM (arm64_image_place() puts it on a 2 MiB boundary). */
#define ARM64_DTB_SIZE 0x10000ull

#endif
