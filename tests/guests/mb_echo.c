/* mb_echo: multiboot ELF32; echoes serial input received through IOAPIC pin 4 interrupts until it gets 'q'. */
#include "apic.h"
#include "exit.h"
#include "multiboot.h"

#define SERIAL_PIN 4
#define SERIAL_VECTOR 0x24
#define SPURIOUS_VECTOR 0xff
#define MAX_BYTES 4096
#define KERNEL_CS 0x08 /* from crt0_mb.S's GDT */

void kmain(u32 magic, const struct multiboot_info *mbi);
void serial_irq(void);
void unexpected_vector(u32 vector);

/*
 * Interrupts only ever arrive while the CPU sits in idle_loop's hlt, so the
 * handlers never return with IRET: they drop the interrupt frame, reset the
 * stack saved by idle_loop and go back to waiting. (On a PVM host, KVM runs
 * CPL0 guest code in its instruction emulator, which cannot emulate a
 * protected-mode IRET and stops the VM with an emulation failure.)
 * serial_isr calls serial_irq(); spurious_isr just waits again; vector_stubs
 * holds one 16-byte stub per vector that reports it via unexpected_vector().
 */
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
	"serial_isr:\n"
	"	cld\n"
	"	movl idle_esp, %esp\n"
	"	call serial_irq\n"
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

extern const char serial_isr[], spurious_isr[], vector_stubs[];
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
static u32 received;

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

/* Drain the receiver, echo every byte, then EOI; 'q' ends the test. */
void serial_irq(void)
{
	/* Edge-triggered: the line must drop (receiver empty) before the next byte can interrupt. */
	while (inb(COM1 + UART_LSR) & UART_LSR_DR) {
		char c = (char)inb(COM1 + UART_RBR);
		serial_putc(c);
		received++;
		if (c == 'q') {
			serial_puts("\necho: got ");
			serial_put_dec(received);
			serial_puts(" bytes\n");
			guest_success();
		}
		if (received >= MAX_BYTES) {
			serial_putc('\n');
			guest_fail("no 'q' in the first 4096 bytes");
		}
	}
	lapic_eoi();
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)mbi;
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");

	for (u32 v = 0; v < 256; v++)
		set_gate(v, vector_stubs + 16 * v);
	set_gate(SERIAL_VECTOR, serial_isr);
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
	ioapic_route(SERIAL_PIN, SERIAL_VECTOR, 0);

	/* OUT2 gates the UART's IRQ line; enabling IER raises it at once if data is already waiting. */
	outb(COM1 + UART_MCR, 0x0b);
	outb(COM1 + UART_IER, 0x01);

	serial_puts("echo: ready\n");
	idle_loop();
}
