/* hello64: 64-bit ELF entered in long mode; checks the entry stack and 64-bit arithmetic, says hello. */
#include "entry.h"

void kmain(u64 probe);

void kmain(u64 probe)
{
	check_entry_stack(probe);

	/* Only a 64-bit code segment computes with values above 4 GiB. */
	volatile u64 big = 0x100000000ull;
	u64 x = big * 3 + 1;
	if ((x >> 32) != 3 || (u32)x != 1)
		guest_fail("64-bit arithmetic is broken: not in long mode");

	serial_puts("kiln elf64: hello from long mode\n");
	guest_success();
}
