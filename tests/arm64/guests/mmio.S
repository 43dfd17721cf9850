/* mmio.S: reads and writes an address no device claims; kiln must answer the read with all ones
 * and drop the write (and count both), and the guest says what it saw. */
#include "common.h"
	.section .text.head, "ax"
	.globl _start
_start:
	image_header start
start:
	mov x3, #UNCLAIMED_MMIO
	mov w4, #0x42
	str w4, [x3]
	ldr w5, [x3]
	mov w6, #0xffffffff
	cmp w5, w6
	b.ne 1f
	adr x0, ok
	b 2f
1:	adr x0, bad
2:	bl puts
	psci PSCI_SYSTEM_OFF
	b .
	define_puts
	.ltorg
ok:	.asciz "MMIO: unclaimed read returned all ones\n"
bad:	.asciz "MMIO: unclaimed read returned something else\n"
