/* emulation_failure: an instruction KVM's emulator lacks, on an MMIO operand, must end the run
 * with KVM_EXIT_INTERNAL_ERROR (emulation failure) on any host: MMIO accesses are emulated. */
#include "entry.h"

void kmain(u64 probe);

void kmain(u64 probe)
{
	u32 v;

	check_entry_stack(probe);
	serial_puts("emulation failure: popcnt on MMIO\n");
	/* 0xd0000000 is unclaimed MMIO inside kiln's identity map (run with -m 128M). */
	__asm__ volatile("popcntl (%1), %0" : "=r"(v) : "r"(0xd0000000ull) : "memory");
	(void)v;
	guest_fail("popcnt on MMIO was emulated");
}
