/* unknown_io: port 0x2f0 and MMIO at 0xd0000000 have nothing behind them: reads give all ones, writes are ignored. */
#include "entry.h"

#define EMPTY_PORT 0x2f0
#define EMPTY_MMIO 0xd0000000ul

void kmain(u64 probe);

static void expect(const char *what, u32 got, u32 want)
{
	serial_puts("unknown io: ");
	serial_puts(what);
	serial_puts(" = ");
	serial_put_hex(got);
	serial_putc('\n');
	if (got != want)
		guest_fail("unexpected value from an unclaimed address");
}

void kmain(u64 probe)
{
	check_entry_stack(probe);

	expect("inb 0x2f0", inb(EMPTY_PORT), 0xff);
	expect("inw 0x2f0", inw(EMPTY_PORT), 0xffff);
	expect("inl 0x2f0", inl(EMPTY_PORT), 0xffffffff);
	outb(EMPTY_PORT, 0x12);
	outw(EMPTY_PORT, 0x1234);
	outl(EMPTY_PORT, 0x12345678);
	expect("inl 0x2f0 after write", inl(EMPTY_PORT), 0xffffffff);

	expect("mmio 0xd0000000", mmio_read32(EMPTY_MMIO), 0xffffffff);
	mmio_write32(EMPTY_MMIO, 0x12345678);
	expect("mmio 0xd0000000 after write", mmio_read32(EMPTY_MMIO), 0xffffffff);

	guest_success();
}
