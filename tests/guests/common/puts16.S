/* puts16.S: real-mode serial output shared by the flat guests (#include it in .text). */
/* puts: write the NUL-terminated string at %cs:%si to COM1, waiting (bounded) for THR empty.
 * Clobbers %ax, %bx, %cx, %dx, %si. */
puts:
	movb %cs:(%si), %bl
	testb %bl, %bl
	jz 3f
	incw %si
	movw $0x3fd, %dx		/* LSR */
	movw $1000, %cx			/* bounded wait for THRE */
2:	inb %dx, %al
	testb $0x20, %al
	loopz 2b
	movw $0x3f8, %dx		/* THR */
	movb %bl, %al
	outb %al, %dx
	jmp puts
3:	ret
