/* Shared between crt0_64.S and 64-bit guests: the entry-stack probe pattern. */
#ifndef GUEST_ENTRY_H
#define GUEST_ENTRY_H

#define ENTRY_STACK_PROBE 0x6b696c6e2d737470 /* "kiln-stp" */

#ifndef __ASSEMBLER__
#include "exit.h"

/* crt0 pushed ENTRY_STACK_PROBE on the monitor's stack and popped it back into probe. */
static inline void check_entry_stack(u64 probe)
{
	if (probe != ENTRY_STACK_PROBE)
		guest_fail("the stack in RSP at entry did not hold a pushed value");
}
#endif

#endif
