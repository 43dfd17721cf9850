/*
 * mb_kbd: multiboot ELF32; waits for Ctrl-Alt-Del from the i8042 keyboard through IOAPIC pin 1.
 *
 * Enables the keyboard interrupt in the i8042 controller configuration byte (command 0x20 reads
 * it, 0x60 writes it; bit 0 enables IRQ 1) and checks it reads back, prints "kbd: ready" and
 * waits in hlt. Each interrupt drains the output buffer (port 0x60 while port 0x64 bit 0 is set)
 * and prints every byte as "kbd: 0x..". Once the scancode set 2 make codes of Ctrl, Alt and Del
 * (0x14 0x11 0xe0 0x71) have come in that order it prints "kbd: ctrl-alt-del" and SUCCESS.
 */
#include "irq32.h"
#include "multiboot.h"

#define KBD_PIN 1
#define KBD_VECTOR 0x21
#define I8042_DATA 0x60
#define I8042_STATUS 0x64 /* read: status; write: command */
#define I8042_STATUS_OBF 0x01
#define I8042_CMD_READ_CTR 0x20
#define I8042_CMD_WRITE_CTR 0x60
#define I8042_CTR_KBD_INT 0x01
#define MAX_DRAIN 16     /* bytes read per interrupt, at most (the device's buffer is smaller) */
#define MAX_BYTES 64     /* bytes without the sequence before the guest gives up */
#define WAIT_LOOPS 1000  /* bounded wait for the output buffer: each poll is a VM exit */

void kmain(u32 magic, const struct multiboot_info *mbi);

static const u8 ctrl_alt_del[4] = { 0x14, 0x11, 0xe0, 0x71 };
static u32 matched; /* bytes of ctrl_alt_del seen in order so far */
static u32 received;

/* Drains the controller's output buffer; the sequence may span several interrupts. */
void device_irq(void)
{
	for (int n = 0; n < MAX_DRAIN && (inb(I8042_STATUS) & I8042_STATUS_OBF); n++) {
		u8 b = inb(I8042_DATA);
		serial_puts("kbd: ");
		serial_put_hex_w(b, 2);
		serial_putc('\n');
		received++;
		if (b == ctrl_alt_del[matched])
			matched++;
		else
			matched = b == ctrl_alt_del[0] ? 1 : 0;
		if (matched == sizeof(ctrl_alt_del)) {
			serial_puts("kbd: ctrl-alt-del\n");
			guest_success();
		}
		if (received >= MAX_BYTES)
			guest_fail("no ctrl-alt-del sequence in the first 64 bytes");
	}
	lapic_eoi();
}

/* Reads a byte the controller answers a command with; FAIL if none comes. */
static u8 i8042_read_reply(void)
{
	for (int i = 0; i < WAIT_LOOPS; i++)
		if (inb(I8042_STATUS) & I8042_STATUS_OBF)
			return inb(I8042_DATA);
	guest_fail("the i8042 did not answer command 0x20 (status bit 0 never set)");
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)mbi;
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");

	irq_setup(KBD_PIN, KBD_VECTOR);

	/* Interrupts are still off: drop anything stale, then enable the keyboard interrupt. */
	for (int n = 0; n < MAX_DRAIN && (inb(I8042_STATUS) & I8042_STATUS_OBF); n++)
		(void)inb(I8042_DATA);
	outb(I8042_STATUS, I8042_CMD_READ_CTR);
	u8 ctr = i8042_read_reply();
	outb(I8042_STATUS, I8042_CMD_WRITE_CTR);
	outb(I8042_DATA, (u8)(ctr | I8042_CTR_KBD_INT));
	outb(I8042_STATUS, I8042_CMD_READ_CTR);
	u8 readback = i8042_read_reply();
	if (readback != (u8)(ctr | I8042_CTR_KBD_INT)) {
		serial_puts("FAIL: configuration byte reads back ");
		serial_put_hex_w(readback, 2);
		serial_puts(", wrote ");
		serial_put_hex_w(ctr | I8042_CTR_KBD_INT, 2);
		serial_putc('\n');
		debug_exit(EXIT_FAIL_CODE);
	}
	serial_puts("kbd: ready\n");
	idle_loop();
}
