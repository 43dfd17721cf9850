/*
 * Multiboot v1 header and 32-bit entry. Built with -DMB_AOUT_KLUDGE for raw
 * binaries: then flag bit 16 is set and the address fields come from the
 * linker script symbols (__load_start, __load_end, __bss_end).
 * The spec leaves GDTR undefined, so we load our own flat GDT, switch to our
 * own stack in .bss and call kmain(eax, ebx).
 */
#define MB_MAGIC 0x1BADB002
#define MB_PAGE_ALIGN (1 << 0)
#define MB_MEMORY_INFO (1 << 1)
#define MB_AOUT (1 << 16)

#ifdef MB_AOUT_KLUDGE
#define MB_FLAGS (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT)
#else
#define MB_FLAGS (MB_PAGE_ALIGN | MB_MEMORY_INFO)
#endif

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
#ifdef MB_AOUT_KLUDGE
	.long mb_header		/* header_addr */
	.long __load_start	/* load_addr */
	.long __load_end	/* load_end_addr */
	.long __bss_end		/* bss_end_addr */
	.long _start		/* entry_addr */
#endif

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	movl %esp, mb_entry_esp	/* what the loader gave, for guests that check it (mb_low) */
	sgdt mb_entry_gdtr
	lgdt gdt_desc
	ljmp $0x08, $1f
1:	movw $0x10, %cx		/* keep eax (magic) and ebx (info) intact */
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %ss
	movw %cx, %fs
	movw %cx, %gs
	movl $stack_top, %esp
	xorl %ebp, %ebp
	pushl %ebx
	pushl %eax
	call kmain
2:	cli
	hlt
	jmp 2b

	.section .rodata
	.balign 8
gdt:
	.quad 0				/* null */
	.quad 0x00cf9b000000ffff	/* 0x08: flat 32-bit code, accessed */
	.quad 0x00cf93000000ffff	/* 0x10: flat data, accessed */
gdt_end:
	.balign 4
	.word 0
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.section .bss
	.balign 16
	.skip 8192
stack_top:
	.globl mb_entry_esp, mb_entry_gdtr
mb_entry_esp:
	.long 0
mb_entry_gdtr:
	.skip 6

	.section .note.GNU-stack, "", @progbits
