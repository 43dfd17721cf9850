/* beyond_ram: with -m 128M, guest-physical 512 MiB is not RAM, so a write there must not read back. */
#include "entry.h"

#define BEYOND_RAM 0x20000000ul
#define PATTERN 0x12345678u

void kmain(u64 probe);

void kmain(u64 probe)
{
	check_entry_stack(probe);

	mmio_write32(BEYOND_RAM, PATTERN);
	u32 v = mmio_read32(BEYOND_RAM);
	serial_puts("beyond ram: read ");
	serial_put_hex_w(v, 8);
	serial_putc('\n');
	if (v == PATTERN)
		guest_fail("memory beyond the configured RAM size kept a written value");
	guest_success();
}
