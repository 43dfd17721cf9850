/*
 * Ring 3 for the 32-bit multiboot guests whose heavy work must not run at ring 0 (on a PVM host
 * KVM emulates ring-0 code at about 0.5 million instructions per second and runs ring 3
 * natively; docs/design.md). enter_ring3() loads a GDT with a DPL-3 code/data pair and a TSS
 * for the way back, sets EFLAGS.IOPL=3 so the serial port and debug-exit stay reachable, and
 * SYSEXITs to the guest's user_main() on a stack of its own. Paging stays off, so the virtio
 * registers and rings are reachable from ring 3 too. Interrupts stay disabled.
 *
 * ring3_trap_exceptions() first makes every vector report itself (irq32.h's stubs) so a fault
 * at ring 3 prints its vector instead of triple-faulting.
 *
 * This header defines code and data: include it from exactly one file, which defines
 * user_main() and device_irq() (irq32.h).
 */
#ifndef GUEST_RING3_H
#define GUEST_RING3_H

#include "irq32.h"

/* Provided by the guest: what runs at ring 3; it must not return. */
void user_main(void);

/* GDT: 0x08 is crt0's ring-0 code (irq32.h's gates use it); SYSEXIT with SYSENTER_CS = 0x10
 * returns to CS 0x20 | 3 and SS 0x28 | 3, the same layout as Linux's flat segments. */
#define RING3_CODE0 0x10
#define RING3_DATA0 0x18
#define RING3_TSS 0x30
#define MSR_SYSENTER_CS 0x174
#define EFLAGS_IOPL3 0x3000

struct tss32 {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u32 es, cs, ss, ds, fs, gs, ldt;
	u16 trap, iomap_base;
} PACKED;

static struct tss32 ring3_tss;
static u64 ring3_gdt[7] __attribute__((aligned(8)));
static u8 ring3_kstack[8192] __attribute__((aligned(16)));
static u8 ring3_ustack[32768] __attribute__((aligned(16)));

/* Ring 3 starts here with CS 0x23 and SS 0x2b; the other data segments still hold ring 0's. */
__asm__(".pushsection .text\n"
	".code32\n"
	"ring3_entry:\n"
	"	movw $0x2b, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %fs\n"
	"	movw %ax, %gs\n"
	"	call user_main\n"
	"	ud2\n"
	".popsection\n");
void ring3_entry(void);

static u64 ring3_seg(u32 base, u32 limit, u32 access, u32 flags)
{
	return (u64)(limit & 0xffff) | (u64)(base & 0xffffff) << 16 | (u64)access << 40 |
	       (u64)((limit >> 16) & 0xf) << 48 | (u64)flags << 52 | (u64)(base >> 24) << 56;
}

static void ring3_trap_exceptions(void)
{
	(void)irq_setup; /* no device interrupt is routed */
	for (u32 v = 0; v < 256; v++)
		set_gate(v, vector_stubs + 16 * v);
	struct {
		u16 limit;
		u32 base;
	} PACKED idtr = { sizeof(idt) - 1, (u32)(uptr)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

static NORETURN void enter_ring3(void)
{
	ring3_gdt[0] = 0;
	ring3_gdt[1] = ring3_seg(0, 0xfffff, 0x9b, 0xc);  /* 0x08 code, DPL 0 */
	ring3_gdt[2] = ring3_seg(0, 0xfffff, 0x9b, 0xc);  /* 0x10 code, DPL 0 */
	ring3_gdt[3] = ring3_seg(0, 0xfffff, 0x93, 0xc);  /* 0x18 data, DPL 0 */
	ring3_gdt[4] = ring3_seg(0, 0xfffff, 0xfb, 0xc);  /* 0x20 code, DPL 3 */
	ring3_gdt[5] = ring3_seg(0, 0xfffff, 0xf3, 0xc);  /* 0x28 data, DPL 3 */
	ring3_gdt[6] = ring3_seg((u32)(uptr)&ring3_tss, sizeof(ring3_tss) - 1, 0x89, 0x0); /* TSS */
	ring3_tss.ss0 = RING3_DATA0;
	ring3_tss.esp0 = (u32)(uptr)(ring3_kstack + sizeof(ring3_kstack));
	ring3_tss.iomap_base = sizeof(ring3_tss); /* no I/O bitmap: IOPL 3 alone grants ports */
	struct {
		u16 limit;
		u32 base;
	} PACKED gdtr = { sizeof(ring3_gdt) - 1, (u32)(uptr)ring3_gdt };
	__asm__ volatile("lgdt %0\n"
			 "ljmp %1, $1f\n"
			 "1: movw %w2, %%ax\n"
			 "movw %%ax, %%ds\n"
			 "movw %%ax, %%es\n"
			 "movw %%ax, %%ss\n"
			 "ltr %w3\n"
			 : : "m"(gdtr), "i"(RING3_CODE0), "r"(RING3_DATA0), "r"(RING3_TSS)
			 : "eax", "memory");
	__asm__ volatile("wrmsr" : : "c"(MSR_SYSENTER_CS), "a"(RING3_CODE0), "d"(0));
	__asm__ volatile("pushfl\n"
			 "orl %0, (%%esp)\n"
			 "popfl\n" : : "i"(EFLAGS_IOPL3) : "memory", "cc");
	__asm__ volatile("sysexit" : : "c"(ring3_ustack + sizeof(ring3_ustack)), "d"(ring3_entry));
	__builtin_unreachable();
}

/* The time-stamp counter (readable at ring 3: CR4.TSD is clear), for bounded waits. */
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

#endif
