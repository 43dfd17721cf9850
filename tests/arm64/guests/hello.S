/* hello.S: prints a line on the PL011 and powers off through PSCI SYSTEM_OFF (kiln: status 0). */
#include "common.h"
	.section .text.head, "ax"
	.globl _start
_start:
	image_header start
start:
	adr x0, msg
	bl puts
	psci PSCI_SYSTEM_OFF
	b .
	define_puts
	.ltorg
msg:	.asciz "Hello from an arm64 guest\n"
