/* i8042_reset: raw real-mode binary that reboots through the i8042 reset line (0xfe to port 0x64). */

#define I8042_COMMAND 0x64
#define DEBUG_EXIT 0xf4

	.code16
	.text
	.globl _start
_start:
	cli
	movw $msg_reset, %si
	call puts
	movb $0xfe, %al			/* pulse the CPU reset line */
	outb %al, $I8042_COMMAND
	/* Still running: the monitor ignored the reset request. */
	movw $msg_fail, %si
	call puts
	movl $0x11, %eax
	outl %eax, $DEBUG_EXIT
1:	hlt
	jmp 1b

#include "puts16.S"

msg_reset:	.asciz "i8042: requesting a reset\n"
msg_fail:	.asciz "FAIL: still running after the i8042 reset\n"

	.section .note.GNU-stack, "", @progbits
