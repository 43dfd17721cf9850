/*
 * pio: PIO_COUNT one-byte writes to the POST port 0x80, then SUCCESS (bench/pio.py).
 *
 * Every write is a VM exit that the monitor serves in user space (kiln, QEMU and bench/floor
 * all ignore the value), so the run time grows by PIO_COUNT exit round trips over the same
 * guest built with PIO_COUNT=0. Built from this one file as a 64-bit ELF (crt0_64.S: kiln and
 * the floor) and as a multiboot ELF32 (crt0_mb.S: QEMU); the output has the same length
 * whatever the count, so both builds do the same serial work besides the loop.
 */
#include "entry.h"

#ifndef PIO_COUNT
#error "build with -DPIO_COUNT=N"
#endif

#define POST_PORT 0x80

#ifdef __x86_64__
void kmain(u64 probe);

void kmain(u64 probe)
{
	check_entry_stack(probe);
#else
#include "multiboot.h"

void kmain(u32 magic);

void kmain(u32 magic)
{
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");
#endif
	/* outb is a volatile asm: the compiler keeps every write, and drops the loop for 0. */
	for (u32 n = PIO_COUNT; n != 0; n--)
		outb(POST_PORT, (u8)n);

	serial_puts("pio: writes to port 0x80: ");
	serial_put_hex_w((u32)PIO_COUNT, 8);
	serial_putc('\n');
	guest_success();
}
