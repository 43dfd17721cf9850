/* mptable.h: the Intel MultiProcessor table (MP spec 1.4), for guests booted without ACPI. */
#ifndef KILN_ARCH_X86_MPTABLE_H
#define KILN_ARCH_X86_MPTABLE_H

#include <stdint.h>

#include "arch/x86/acpi.h"
#include "kvm/memory.h"
#include "util/checked.h"

/* Writes the MP floating pointer structure (at base rounded up to 16 bytes, where Linux's scan
 * of 0xf0000-0xfffff or of the first KiB of the EBDA finds it) followed by the configuration
 * table into guest RAM [base, base+size): one processor entry per vCPU (APIC id i, enabled, the
 * BSP flag on APIC id 0), one ISA bus, the IOAPIC (id X86_IOAPIC_ID, as in the MADT), I/O interrupt
 * entries for ISA IRQs 0-15 (identity to IOAPIC pins, IRQ 0 to pin 2, IRQ 2 the cascade left
 * out) and for each virtio-mmio device on a pin above 15, and local interrupt entries (LINT0
 * ExtINT, LINT1 NMI). Returns 0, -EINVAL for a bad platform (x86_platform_check), -EFAULT when
 * the range is not one block of RAM below 4 GiB, -ENOSPC when the tables do not fit (nothing is
 * written then). Writes nothing outside [base, base+size). */
int __must_check x86_mptable_build(const struct gmem *gm, uint64_t base, uint64_t size,
				   const struct x86_platform *p);

/* ---- layout (MP 1.4, chapter 4), shared with the tests -------------------------------------- */

#define MP_FPS_SIG "_MP_"
#define MP_FPS_LEN 16
#define MP_FPS_PHYSPTR 4
#define MP_FPS_LENGTH 8 /* in 16-byte paragraphs: 1 */
#define MP_FPS_SPEC_REV 9
#define MP_FPS_CHECKSUM 10
#define MP_FPS_FEATURE1 11 /* 0: a configuration table is present */
#define MP_FPS_FEATURE2 12 /* bit 7 IMCRP: 0, virtual wire mode */

#define MP_SPEC_REV_1_4 4

#define MPC_SIG "PCMP"
#define MPC_HEADER_LEN 44
#define MPC_BASE_LENGTH 4
#define MPC_SPEC_REV 6
#define MPC_CHECKSUM 7
#define MPC_OEM_ID 8
#define MPC_PRODUCT_ID 16
#define MPC_ENTRY_COUNT 34
#define MPC_LAPIC_ADDR 36

#define MPC_PROCESSOR 0
#define MPC_BUS 1
#define MPC_IOAPIC 2
#define MPC_IOINT 3
#define MPC_LINT 4
#define MPC_PROCESSOR_LEN 20
#define MPC_ENTRY_LEN 8 /* every other entry type */

#define MPC_CPU_ENABLED (1u << 0)
#define MPC_CPU_BSP (1u << 1)
#define MPC_IOAPIC_ENABLED (1u << 0)
#define MP_INT 0
#define MP_NMI 1
#define MP_EXTINT 3
#define MP_APIC_ALL 0xff
#define MP_ISA_BUS_ID 0

#endif
