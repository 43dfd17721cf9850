/* layout.h: kiln's x86 guest-physical memory map. */
#ifndef KILN_ARCH_X86_LAYOUT_H
#define KILN_ARCH_X86_LAYOUT_H

/* Low memory kiln fills before entry (ELF and multiboot guests; the flat format uses none). */
#define X86_GDT_ADDR 0x500ull
#define X86_PML4_ADDR 0x1000ull
#define X86_PDPT_ADDR 0x2000ull
#define X86_PD_ADDR 0x3000ull /* four page directories: the first 4 GiB in 2 MiB pages */
#define X86_BOOT_INFO_ADDR 0x7000ull /* multiboot information, memory map, module list */
#define X86_BOOT_INFO_SIZE 0x1000ull
#define X86_CMDLINE_ADDR 0x8000ull
#define X86_CMDLINE_MAX 0x1000ull /* including the NUL */
#define X86_BOOT_STRINGS_ADDR 0x9000ull /* module strings, boot loader name */
#define X86_BOOT_STRINGS_SIZE 0x1000ull
#define X86_BOOT_STACK_TOP 0x20000ull
#define X86_RESERVED_END 0x20000ull /* guest images may not load below this */

/* Conventional memory ends where the EBDA/VGA/BIOS area would start. */
#define X86_EBDA_START 0x9fc00ull
#define X86_HIGH_MEMORY 0x100000ull
#define X86_RESET_VECTOR 0xffff0ull /* f000:fff0 */

/* Flat real-mode binaries (kvmtool convention). */
#define X86_FLAT_LOAD_ADDR 0x10000ull
#define X86_FLAT_SEGMENT 0x1000
#define X86_FLAT_SP 0x8000

/* RAM stops at 3 GiB; the rest of RAM goes above 4 GiB. */
#define X86_MMIO_HOLE_START 0xc0000000ull
/* virtio-mmio transports, one 4 KiB page each, inside the hole (docs/virtio.md). */
#define X86_VIRTIO_MMIO_BASE 0xd0000000ull
#define X86_VIRTIO_MMIO_STRIDE 0x1000ull
#define X86_MMIO_HOLE_END 0x100000000ull
#define X86_IOAPIC_ADDR 0xfec00000ull
#define X86_LAPIC_ADDR 0xfee00000ull

/* The legacy BIOS area: kiln keeps the MP table (EBDA) and the ACPI tables (0xe0000) here, so
 * guest images may not load into it. */
#define X86_BIOS_AREA_START X86_EBDA_START
#define X86_BIOS_AREA_END X86_HIGH_MEMORY

/* I/O ports of platform devices kiln emulates (besides the ISA classics). */
#define X86_POST_PORT 0x80
#define X86_PCI_CONFIG_PORT 0xcf8 /* address 0xcf8, data 0xcfc-0xcff */
/* Ports of PC devices kiln leaves absent but guests probe (arch/x86/legacy.c). */
#define X86_SUPERIO_PORT 0x2e     /* Super I/O configuration index, data at 0x2f */
#define X86_SUPERIO_ALT_PORT 0x4e /* the other pair: index 0x4e, data 0x4f */
#define X86_DMA_PAGE_PORT 0x81    /* 8237 DMA page registers 0x81-0x8f (0x80 is POST) */
#define X86_DMA_PAGE_PORTS 15
#define X86_PIT_PORT 0x40         /* 8254 PIT counters 0x40-0x42, mode 0x43 (split irqchip: none) */
#define X86_PIT_PORTS 4
#define X86_FW_CFG_PORT 0x510     /* QEMU's fw_cfg selector (16-bit) and data port 0x511 */
#define X86_FW_CFG_PORTS 2
#define X86_FW_CFG_DMA_PORT 0x514 /* fw_cfg DMA address, 0x514-0x51b */
#define X86_FW_CFG_DMA_PORTS 8
/* The ACPI PM1a blocks, PM timer and reset ports, the SCI, the IOAPIC ID and the MP/ACPI table
 * areas are in arch/x86/acpi.h. */

/* GDT selectors kiln's boot GDT provides (Linux's 64-bit boot protocol wants 0x10/0x18). */
#define X86_GDT_CODE32 0x08
#define X86_GDT_CODE64 0x10
#define X86_GDT_DATA 0x18
#define X86_GDT_ENTRIES 4

#endif
