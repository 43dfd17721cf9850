/* mb_echo: multiboot ELF32; echoes serial input received through IOAPIC pin 4 interrupts until it gets 'q'. */
#include "irq32.h"
#include "multiboot.h"

#define SERIAL_PIN 4
#define SERIAL_VECTOR 0x24
#define MAX_BYTES 4096

void kmain(u32 magic, const struct multiboot_info *mbi);

static u32 received;

/* Drain the receiver, echo every byte, then EOI; 'q' ends the test. */
void device_irq(void)
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

	irq_setup(SERIAL_PIN, SERIAL_VECTOR);

	/* OUT2 gates the UART's IRQ line; enabling IER raises it at once if data is already waiting. */
	outb(COM1 + UART_MCR, 0x0b);
	outb(COM1 + UART_IER, 0x01);

	serial_puts("echo: ready\n");
	idle_loop();
}
