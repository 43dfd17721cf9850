/* smp.S: the boot CPU checks PSCI is 0.2 or later, then starts CPUs 1, 2, ... (MPIDR Aff0 = the
 * number, as kiln's device tree says) with PSCI CPU_ON until PSCI refuses one (no such CPU).
 * Each secondary sets its flag; the boot CPU waits (bounded) for every flag, prints
 * "SMP: N CPUs up through PSCI CPU_ON" and powers off. Plain stores and loads only: with the
 * MMU off, memory is Device memory, where exclusives are not to be relied on. */
#include "common.h"
	.section .text.head, "ax"
	.globl _start
_start:
	image_header start
start:
	psci PSCI_VERSION
	lsr x1, x0, #16            /* major */
	cbnz x1, 1f
	adr x0, old_psci
	bl puts
	b off
1:	mov x20, #1                /* next CPU to start */
2:	cmp x20, #8
	b.ge wait
	ldr x0, =PSCI_CPU_ON
	mov x1, x20                /* target MPIDR */
	adr x2, secondary
	mov x3, x20                /* context: the secondary's x0 */
	hvc #0
	cbnz x0, wait              /* refused: no such CPU */
	add x20, x20, #1
	b 2b
wait:	/* x20 = CPUs started, the boot CPU included */
	adr x5, flags
	ldr x6, =200000000         /* bounded: a CPU that never comes in fails the test */
3:	mov x7, #1
	mov x8, #1                 /* CPUs seen, the boot CPU included */
4:	cmp x7, x20
	b.ge 5f
	ldrb w9, [x5, x7]
	add x8, x8, x9
	add x7, x7, #1
	b 4b
5:	cmp x8, x20
	b.eq 6f
	subs x6, x6, #1
	b.ne 3b
	adr x0, timeout
	bl puts
	b off
6:	adr x0, smp
	bl puts
	mov x1, #UART_BASE
	add w2, w20, #'0'
	str w2, [x1, #UART_DR]
	adr x0, smp_tail
	bl puts
off:	psci PSCI_SYSTEM_OFF
	b .

/* A secondary, x0 = its number: sets its flag and waits for the power-off. */
secondary:
	adr x5, flags
	mov w6, #1
	strb w6, [x5, x0]
	dsb sy
1:	wfi
	b 1b

	define_puts
	.ltorg
old_psci: .asciz "SMP: PSCI older than 0.2\n"
timeout: .asciz "SMP: a started CPU never came in\n"
smp:	.asciz "SMP: "
smp_tail: .asciz " CPUs up through PSCI CPU_ON\n"
	.balign 8
flags:	.space 8
