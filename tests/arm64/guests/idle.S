/* idle.S: prints a line, then waits for interrupts forever (wfi), for tests that drive a running
 * VM through the API. */
#include "common.h"
	.section .text.head, "ax"
	.globl _start
_start:
	image_header start
start:
	adr x0, msg
	bl puts
1:	wfi
	b 1b
	define_puts
	.ltorg
msg:	.asciz "idle\n"
