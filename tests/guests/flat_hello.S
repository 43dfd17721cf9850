/* flat_hello: raw real-mode binary; checks it was entered with CS=DS=ES=SS=0x1000 and SP=0x8000. */

#define DEBUG_EXIT 0xf4

	.code16
	.text
	.globl _start
_start:
	cli
	cld
	cmpw $0x8000, %sp
	jne bad_sp
	movw %cs, %ax
	cmpw $0x1000, %ax
	jne bad_cs
	movw %ss, %ax
	cmpw $0x1000, %ax
	jne bad_ss
	movw %ds, %ax
	cmpw $0x1000, %ax
	jne bad_ds
	movw %es, %ax
	cmpw $0x1000, %ax
	jne bad_es

	movw $msg_hello, %si
	call puts
	movw $msg_success, %si
	call puts
	movl $0x10, %eax
	jmp exit

bad_sp:	movw $msg_bad_sp, %si
	jmp fail
bad_cs:	movw $msg_bad_cs, %si
	jmp fail
bad_ss:	movw $msg_bad_ss, %si
	jmp fail
bad_ds:	movw $msg_bad_ds, %si
	jmp fail
bad_es:	movw $msg_bad_es, %si
	/* fall through */
fail:
	movw %cs, %ax		/* make the stack usable before calling puts */
	movw %ax, %ss
	movw $0x8000, %sp
	pushw %si
	movw $msg_fail, %si
	call puts
	popw %si
	call puts
	movl $0x11, %eax
exit:
	movw $DEBUG_EXIT, %dx
	outl %eax, %dx
1:	cli
	hlt
	jmp 1b

/* Print the NUL-terminated string at %cs:%si (CS-relative, so a wrong DS cannot garble it). */
#include "puts16.S"

msg_hello:	.asciz "kiln flat: hello from real mode\n"
msg_success:	.asciz "SUCCESS\n"
msg_fail:	.asciz "FAIL: "
msg_bad_sp:	.asciz "SP is not 0x8000 at entry\n"
msg_bad_cs:	.asciz "CS is not 0x1000\n"
msg_bad_ss:	.asciz "SS is not 0x1000\n"
msg_bad_ds:	.asciz "DS is not 0x1000\n"
msg_bad_es:	.asciz "ES is not 0x1000\n"

	.section .note.GNU-stack, "", @progbits
