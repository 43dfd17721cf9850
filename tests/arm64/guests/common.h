/* common.h: what kiln's arm64 test guests share (assembly): the Image header kiln's loader
 * wants (Linux Documentation/arch/arm64/booting.rst), the board's PL011 and PSCI calls. Every
 * guest is position-independent (adr only), so it runs wherever the loader puts it. */
#ifndef UART_BASE /* bench/arm64.py builds hello for QEMU's -M virt (PL011 at 0x09000000) */
#define UART_BASE 0xf8000000 /* src/arch/arm64/layout.h, ARM64_UART_BASE */
#endif
#define UART_DR 0x00
#define UNCLAIMED_MMIO 0xe0000000 /* in the device hole, no device there */

#define PSCI_VERSION 0x84000000
#define PSCI_CPU_ON 0xc4000003
#define PSCI_SYSTEM_OFF 0x84000008
#define PSCI_SYSTEM_RESET 0x84000009

/* The 64-byte Image header; `entry` is the code's first label. */
.macro image_header entry
	b \entry                /* code0 */
	.long 0                 /* code1 */
	.quad 0                 /* text_offset */
	.quad __image_end - _start /* image_size */
	.quad 0x2               /* flags: little-endian, 4 KiB pages */
	.quad 0, 0, 0           /* res2-4 */
	.ascii "ARM\x64"        /* magic */
	.long 0                 /* res5 */
.endm

/* puts: x0 = NUL-terminated string (clobbers x0-x2). */
.macro define_puts
puts:
	mov x1, #UART_BASE
1:	ldrb w2, [x0], #1
	cbz w2, 2f
	str w2, [x1, #UART_DR]
	b 1b
2:	ret
.endm

.macro psci fn
	ldr x0, =\fn
	hvc #0
.endm
