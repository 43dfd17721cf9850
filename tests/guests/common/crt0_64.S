/*
 * Entry for 64-bit ELF guests. The monitor enters at e_entry in long mode with
 * identity-mapped paging and a stack in RSP. We prove that stack works with a
 * push/pop of a 64-bit pattern, switch to our own stack in .bss and call
 * kmain(probe, cmdline), where probe is the value popped back (see entry.h) and
 * cmdline is what the monitor left in RDI (kiln: the -p text, or 0).
 */
#include "entry.h"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	cld
	movq %rdi, %rsi
	movabs $ENTRY_STACK_PROBE, %rax
	pushq %rax
	popq %rdi
	leaq stack_top(%rip), %rsp
	xorl %ebp, %ebp
	call kmain
1:	cli
	hlt
	jmp 1b

	.section .bss
	.balign 16
	.skip 8192
stack_top:

	.section .note.GNU-stack, "", @progbits
