/* regs.h: x86 boot-time CPU state: boot GDT, identity page tables, and registers per entry mode. */
#ifndef KILN_ARCH_X86_REGS_H
#define KILN_ARCH_X86_REGS_H

#include <linux/kvm.h>
#include <stdint.h>

#include "arch/x86/entry.h"
#include "kvm/memory.h"
#include "util/checked.h"

/* Control-register and EFER bits (Intel SDM vol. 3, 2.5 and 2.2.1). */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_PAE (1ull << 5)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)

/* Page-table entry bits. */
#define X86_PTE_P (1ull << 0)
#define X86_PTE_RW (1ull << 1)
#define X86_PTE_PS (1ull << 7)

/* Segment-descriptor flags word (bits 8..15 and 20..23 of the descriptor's high dword). */
#define X86_GDT_FLAGS_CODE32 0xc09b /* G, D, P, DPL0, S, exec/read, accessed */
#define X86_GDT_FLAGS_CODE64 0xa09b /* G, L, P, DPL0, S, exec/read, accessed */
#define X86_GDT_FLAGS_DATA 0xc093   /* G, B, P, DPL0, S, read/write, accessed */

/* Encodes a GDT descriptor. */
uint64_t x86_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);
/* The kvm_segment KVM_SET_SREGS needs for that same descriptor at `selector`. */
struct kvm_segment x86_gdt_to_segment(uint64_t desc, uint16_t selector);

/* Writes the boot GDT at `gdt_addr` (0: X86_GDT_ADDR; the multiboot loader may move it, see
 * boot_entry.gdt_addr) and, for long mode, the identity page tables into guest RAM (the areas
 * layout.h reserves). Returns 0 or -EFAULT when RAM is too small. */
int __must_check x86_write_boot_tables(const struct gmem *gm, enum boot_mode mode,
				       uint64_t gdt_addr);

/* Writes a reset stub at the real-mode reset vector (f000:fff0 = 0xffff0), where a BIOS would be:
 * a guest that resets by jumping there (Linux's reboot=bios, or its EFI reboot, which Linux
 * forces on a HW-reduced ACPI platform with EFI) resets. Returns 0 or -EFAULT. */
int __must_check x86_write_reset_vector(const struct gmem *gm);

/* Sets the boot vCPU's registers for `entry` (flat real mode, 32-bit protected, 64-bit long
 * mode). Returns 0 or -errno from KVM_SET_SREGS/KVM_SET_REGS. */
int __must_check x86_setup_boot_vcpu(int vcpu_fd, const struct boot_entry *entry);

#endif
