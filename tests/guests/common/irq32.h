/*
 * One device interrupt for 32-bit multiboot guests: an IDT, the legacy PICs masked, the local
 * APIC enabled and one IOAPIC pin routed (edge, active high, unmasked) to a vector whose handler
 * calls the guest's device_irq().
 *
 * Interrupts only ever arrive while the CPU sits in idle_loop's hlt, so the handlers never
 * return with IRET: they drop the interrupt frame, reset the stack saved by idle_loop and go
 * back to waiting. (On a PVM host, KVM runs CPL0 guest code in its instruction emulator, which
 * cannot emulate a protected-mode IRET and stops the VM with an emulation failure.)
 * device_isr calls device_irq(); spurious_isr just waits again; vector_stubs holds one 16-byte
 * stub per vector that reports it via unexpected_vector().
 *
 * This header defines code and data, not just declarations: include it from exactly one file
 * (each guest is a single C file).
 */
#ifndef GUEST_IRQ32_H
#define GUEST_IRQ32_H

#include "apic.h"
#include "exit.h"

#define SPURIOUS_VECTOR 0xff /* lapic_enable()'s spurious vector */
#define KERNEL_CS 0x08       /* from crt0_mb.S's GDT */

/* Provided by the guest: runs on every interrupt of the routed pin, must end with lapic_eoi(). */
void device_irq(void);
void unexpected_vector(u32 vector);

__asm__(
	".pushsection .text\n"
	".code32\n"
	"idle_loop:\n"
	"	movl %esp, idle_esp\n"
	"idle_wait:\n"
	"	sti\n"
	"	hlt\n"
	"	cli\n"
	"	jmp idle_wait\n"
	"device_isr:\n"
	"	cld\n"
	"	movl idle_esp, %esp\n"
	"	call device_irq\n"
	"	jmp idle_wait\n"
	"spurious_isr:\n"
	"	movl idle_esp, %esp\n"
	"	jmp idle_wait\n"
	"	.balign 16\n"
	"vector_stubs:\n"
	"	.set vec, 0\n"
	"	.rept 256\n"
	"	.balign 16\n"
	"	pushl $vec\n"
	"	call unexpected_vector\n"
	"	.set vec, vec + 1\n"
	"	.endr\n"
	".popsection\n");

extern const char device_isr[], spurious_isr[], vector_stubs[];
/* Waits for interrupts with them enabled, forever; never returns. */
NORETURN void idle_loop(void);
u32 idle_esp;

struct idt_gate {
	u16 offset_lo;
	u16 selector;
	u8 zero;
	u8 type_attr;
	u16 offset_hi;
} PACKED;

static struct idt_gate idt[256];

static void set_gate(u32 vector, const void *handler)
{
	uptr addr = (uptr)handler;
	idt[vector].offset_lo = (u16)addr;
	idt[vector].selector = KERNEL_CS;
	idt[vector].zero = 0;
	idt[vector].type_attr = 0x8e; /* present, DPL 0, 32-bit interrupt gate */
	idt[vector].offset_hi = (u16)(addr >> 16);
}

void unexpected_vector(u32 vector)
{
	serial_puts("FAIL: unexpected interrupt or exception, vector ");
	serial_put_hex(vector);
	serial_putc('\n');
	debug_exit(EXIT_FAIL_CODE);
}

/* Every vector reports itself as unexpected except `vector` (device_isr) and the spurious one;
 * PICs masked, local APIC enabled, IOAPIC `pin` routed to `vector` on APIC 0. Interrupts stay
 * disabled until idle_loop(). */
static void irq_setup(u32 pin, u8 vector)
{
	for (u32 v = 0; v < 256; v++)
		set_gate(v, vector_stubs + 16 * v);
	set_gate(vector, device_isr);
	set_gate(SPURIOUS_VECTOR, spurious_isr);
	struct {
		u16 limit;
		u32 base;
	} PACKED idtr = { sizeof(idt) - 1, (u32)(uptr)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));

	/* Mask the legacy PICs: interrupts come only through the IOAPIC. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);

	lapic_enable();
	ioapic_route(pin, vector, 0);
}

#endif
