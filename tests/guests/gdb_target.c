/* gdb_target: a 64-bit ELF guest with symbols for the gdb stub's tests (tests/e2e/gdb-session.sh):
 * a function taking an argument, a global variable to watch, a spin until gdb writes `release`,
 * then SUCCESS (so without a debugger it never ends). Built with -g -O0 so
 * every line is a place gdb can stop. */
#include "entry.h"

void kmain(u64 probe);
u64 add_one(u64 arg);

volatile u64 watched; /* gdb sets a watchpoint here */
volatile u64 release; /* the guest spins until gdb sets it (after interrupting it with Ctrl-C) */

__attribute__((noinline)) u64 add_one(u64 arg)
{
	u64 r = arg + 1;

	r = r * 1;
	return r;
}

void kmain(u64 probe)
{
	u64 total;

	check_entry_stack(probe);
	total = add_one(41);
	total += 100;
	watched = total;
	if (watched != 142)
		guest_fail("add_one(41) + 100 is not 142");
	serial_puts("gdb_target: watched = 142\n");
	while (!release)
		__asm__ volatile("pause");
	guest_success();
}
