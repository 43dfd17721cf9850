/* count.S: counts over the PL011 on timer interrupts, one decimal number a line after a "count"
 * line, for ever: the snapshot tests pause it mid-count and check that a restored copy goes on
 * with the very next number. Each CPU takes its virtual timer's interrupt (PPI 27) through the
 * GICv3 (distributor, its redistributor, its CPU interface), so the count goes on only if all of
 * that state came back; with a second CPU (PSCI CPU_ON of MPIDR 1 succeeds) the two take turns:
 * on its tick, CPU n prints the next number if it equals n modulo the CPU count. Interrupts stay
 * masked (PSTATE.I): wfi wakes on a pending one, which the CPU then acknowledges itself. Plain
 * loads and stores only (the MMU is off: Device memory, no exclusives). */
#include "common.h"
#define GICD_BASE 0xf0000000      /* src/arch/arm64/layout.h */
#define GICR_SGI_BASE 0xf0110000  /* the first redistributor's SGI/PPI frame; 128 KiB a CPU */
#define VTIMER_INTID 27
/* The GICv3 CPU interface (op0 3, op1 0, CRn, CRm, op2) */
#define ICC_PMR_EL1 S3_0_C4_C6_0
#define ICC_IAR1_EL1 S3_0_C12_C12_0
#define ICC_EOIR1_EL1 S3_0_C12_C12_1
#define ICC_IGRPEN1_EL1 S3_0_C12_C12_7
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
	cbz x0, 1f
	mov x22, #1                /* no second CPU */
	adr x5, ncpus
	str x22, [x5]
	dsb sy
1:	ldr x1, =GICD_BASE
	mov w2, #0x12              /* GICD_CTLR: ARE, EnableGrp1 */
	str w2, [x1]
	b setup

secondary:                         /* x0 = 1 */
	mov x19, x0
	adr x5, ncpus
	ldr x22, [x5]

/* x19 = this CPU, x22 = CPUs counting: its redistributor, CPU interface and timer. */
setup:
	ldr x1, =GICR_SGI_BASE
	lsl x2, x19, #17
	add x1, x1, x2
	mov w2, #(1 << VTIMER_INTID)
	str w2, [x1, #0x80]        /* GICR_IGROUPR0: group 1 */
	str w2, [x1, #0x100]       /* GICR_ISENABLER0 */
	mov x2, #0xff
	msr ICC_PMR_EL1, x2
	mov x2, #1
	msr ICC_IGRPEN1_EL1, x2
	isb
	mrs x23, cntfrq_el0
	mov x2, #50
	udiv x23, x23, x2          /* a tick every 20 ms */
	msr cntv_tval_el0, x23
	mov x2, #1
	msr cntv_ctl_el0, x2       /* enabled, not masked */
	isb

loop:
	wfi
	mrs x0, ICC_IAR1_EL1
	cmp x0, #1020
	b.hs loop                  /* spurious */
	msr cntv_tval_el0, x23     /* the next tick (the line drops) */
	isb
	msr ICC_EOIR1_EL1, x0
	isb
	cmp x0, #VTIMER_INTID
	b.ne loop
	adr x5, counter
	ldr x20, [x5]
	udiv x6, x20, x22
	msub x7, x6, x22, x20      /* counter modulo the CPU count */
	cmp x7, x19
	b.ne loop
	mov x0, x20
	bl putnum
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
