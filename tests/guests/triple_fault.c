/* triple_fault: with an empty IDT a #GP cannot be delivered, so the vCPU must shut down (triple fault). */
#include "entry.h"

void kmain(u64 probe);

void kmain(u64 probe)
{
	check_entry_stack(probe);

	serial_puts("triple fault: going down\n");

	struct {
		u16 limit;
		u64 base;
	} PACKED empty_idt = { 0, 0 };
	__asm__ volatile("lidt %0" : : "m"(empty_idt));

	/* Non-canonical address: #GP -> no IDT entry -> #DF -> no IDT entry -> triple fault. */
	u64 v;
	__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(0x8000000000000000ull) : "memory");

	(void)v;
	guest_fail("still running after the triple fault");
}
