/* Ending a guest: isa-debug-exit at port 0xf4 and the SUCCESS / FAIL convention. */
#ifndef GUEST_EXIT_H
#define GUEST_EXIT_H

#include "serial.h"

#define DEBUG_EXIT_PORT 0xf4
#define EXIT_SUCCESS_CODE 0x10 /* monitor exits with (0x10 << 1) | 1 = 33 */
#define EXIT_FAIL_CODE 0x11    /* monitor exits with (0x11 << 1) | 1 = 35 */

static inline NORETURN void debug_exit(u32 v)
{
	outl(DEBUG_EXIT_PORT, v);
	halt_forever(); /* only reached when no debug-exit device is present */
}

static inline NORETURN void guest_success(void)
{
	serial_puts("SUCCESS\n");
	debug_exit(EXIT_SUCCESS_CODE);
}

static inline NORETURN void guest_fail(const char *reason)
{
	serial_puts("FAIL: ");
	serial_puts(reason);
	serial_putc('\n');
	debug_exit(EXIT_FAIL_CODE);
}

#endif
