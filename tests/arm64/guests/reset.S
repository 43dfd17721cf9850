/* reset.S: asks PSCI SYSTEM_RESET (kiln: a reset, status 0, "reset" in its log). */
#include "common.h"
	.section .text.head, "ax"
	.globl _start
_start:
	image_header start
start:
	adr x0, msg
	bl puts
	psci PSCI_SYSTEM_RESET
	b .
	define_puts
	.ltorg
msg:	.asciz "resetting\n"
