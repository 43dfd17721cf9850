/* count.S: counts over the PL011, one decimal number a line after a "count" line, for ever: the
 * snapshot tests pause it mid-count and check that a restored copy goes on with the very next
 * number. With a second CPU (PSCI CPU_ON of MPIDR 1 succeeds) the two take turns: CPU n prints
 * the numbers equal to n modulo the CPU count, so both vCPUs' state must come back for the count
 * to go on. Plain loads and stores only (the MMU is off: Device memory, no exclusives). */
#include "common.h"
#define DELAY 400000
	.section .text.head, "ax"
	.globl _start
_start:
	image_header start
start:
	adr x0, hello
	bl puts
	mov x19, #0                /* this CPU's number */
	adr x5, ncpus
	mov x22, #2
	str x22, [x5]              /* before CPU_ON: the secondary reads it */
	dsb sy
	ldr x0, =PSCI_CPU_ON
	mov x1, #1
	adr x2, secondary
	mov x3, #1
	hvc #0
	cbz x0, loop
	mov x22, #1                /* no second CPU */
	adr x5, ncpus
	str x22, [x5]
	dsb sy
	b loop

secondary:                         /* x0 = 1 */
	mov x19, x0
	adr x5, ncpus
	ldr x22, [x5]

/* x19 = this CPU, x22 = CPUs counting */
loop:
	adr x5, counter
1:	ldr x20, [x5]
	udiv x6, x20, x22
	msub x7, x6, x22, x20      /* counter modulo the CPU count */
	cmp x7, x19
	b.ne 1b
	mov x0, x20
	bl putnum
	ldr x9, =DELAY
2:	subs x9, x9, #1
	b.ne 2b
	add x20, x20, #1
	adr x5, counter
	str x20, [x5]
	dsb sy
	b loop

/* putnum: x0 in decimal and a newline (clobbers x0-x4); only the CPU whose turn it is calls it,
 * so the digit buffer is shared. */
putnum:
	adr x1, numend
	mov x4, #10
3:	udiv x2, x0, x4
	msub x3, x2, x4, x0
	add w3, w3, #'0'
	strb w3, [x1, #-1]!
	mov x0, x2
	cbnz x0, 3b
	mov x2, #UART_BASE
4:	ldrb w3, [x1], #1
	cbz w3, 5f
	str w3, [x2, #UART_DR]
	b 4b
5:	mov w3, #'\n'
	str w3, [x2, #UART_DR]
	ret

	define_puts
	.ltorg
hello:	.asciz "count\n"
numbuf:	.space 24
numend:	.byte 0
	.balign 8
counter: .quad 0
ncpus:	.quad 1
