/* crash.S: a load pair from an address no device claims: a data abort without an instruction
 * syndrome, which KVM cannot emulate. kiln must report a crash (status 4) naming the address. */
#include "common.h"
	.section .text.head, "ax"
	.globl _start
_start:
	image_header start
start:
	adr x0, msg
	bl puts
	mov x2, #UNCLAIMED_MMIO
	ldp x0, x1, [x2]
	adr x0, survived
	bl puts
	psci PSCI_SYSTEM_OFF
	b .
	define_puts
	.ltorg
msg:	.asciz "crashing\n"
survived: .asciz "the crash was not reported\n"
