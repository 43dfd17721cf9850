/* mxcsr: stmxcsr and ldmxcsr with memory operands as Linux's kernel_fpu_begin() uses them must
 * store and load MXCSR, and reserved bits in a loaded value must raise #GP(0) at the instruction
 * (on hosts whose KVM cannot emulate them at ring 0, kiln completes them). */
#include "entry.h"

struct idt_gate {
	u16 off_lo, sel;
	u8 ist, type_attr;
	u16 off_mid;
	u32 off_hi, zero;
} PACKED;

static struct idt_gate idt[32] __attribute__((aligned(16)));
u32 rip_word;

void kmain(u64 probe);
void gp_handler(void);
extern char bad_ldmxcsr[], after_bad_ldmxcsr[];

/* #GP handler: records error code and return address, resumes at after_bad_ldmxcsr on the
 * interrupted stack (no iret, which some hosts cannot emulate at ring 0). */
u64 gp_frame[2];
__asm__(".text\n"
	".globl gp_handler\n"
	"gp_handler:\n"
	"	movq 0(%rsp), %rax; movq %rax, gp_frame+0(%rip)\n"
	"	movq 8(%rsp), %rax; movq %rax, gp_frame+8(%rip)\n"
	"	movq 32(%rsp), %rsp\n"
	"	jmp after_bad_ldmxcsr\n");

static void expect(int cond, const char *what)
{
	if (!cond)
		guest_fail(what);
}

void kmain(u64 probe)
{
	struct {
		u16 limit;
		u64 base;
	} PACKED idtr = { sizeof(idt) - 1, (u64)(uptr)idt };
	u64 handler = (u64)(uptr)gp_handler;
	u32 word = 0, bad = 0x10000, got;
	u16 cs;

	check_entry_stack(probe);

	/* stmxcsr through a register, then RIP-relative: the reset value 0x1f80. */
	__asm__ volatile("stmxcsr %0" : "=m"(word));
	if (word != 0x1f80) {
		serial_puts("mxcsr: stmxcsr stored ");
		serial_put_hex(word);
		serial_puts("\n");
		guest_fail("stmxcsr (reg): MXCSR is not the reset value 0x1f80");
	}
	__asm__ volatile("stmxcsr rip_word(%%rip)" ::: "memory");
	expect(rip_word == 0x1f80, "stmxcsr rip_word(%rip) did not store MXCSR");
	serial_puts("mxcsr: stmxcsr stored 0x1f80\n");

	/* ldmxcsr 4(%rsp), as kernel_fpu_begin_mask(): FTZ and DAZ on, read back. */
	__asm__ volatile("subq $16, %%rsp\n\t"
			 "movl %1, 4(%%rsp)\n\t"
			 "ldmxcsr 4(%%rsp)\n\t"
			 "stmxcsr 8(%%rsp)\n\t"
			 "movl 8(%%rsp), %0\n\t"
			 "addq $16, %%rsp"
			 : "=r"(got) : "r"(0x9fc0u) : "memory");
	expect(got == 0x9fc0, "ldmxcsr 4(%rsp) did not load MXCSR");
	serial_puts("mxcsr: ldmxcsr loaded 0x9fc0\n");

	/* A reserved bit: #GP(0) at the instruction, MXCSR unchanged. */
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[13] = (struct idt_gate){ .off_lo = (u16)handler, .sel = cs, .type_attr = 0x8e,
				     .off_mid = (u16)(handler >> 16), .off_hi = (u32)(handler >> 32) };
	__asm__ volatile("lidt %0" : : "m"(idtr));
	__asm__ volatile(".globl bad_ldmxcsr\n"
			 "bad_ldmxcsr:\n"
			 "ldmxcsr %0\n"
			 ".globl after_bad_ldmxcsr\n"
			 "after_bad_ldmxcsr:\n"
			 : : "m"(bad) : "rax", "memory");
	expect(gp_frame[1] == (u64)(uptr)bad_ldmxcsr && gp_frame[0] == 0,
	       "ldmxcsr with a reserved bit: no #GP(0) at the instruction");
	__asm__ volatile("stmxcsr %0" : "=m"(word));
	expect(word == 0x9fc0, "ldmxcsr with a reserved bit changed MXCSR");
	serial_puts("mxcsr: reserved bit raised #GP(0)\n");

	word = 0x1f80;
	__asm__ volatile("ldmxcsr %0" : : "m"(word));
	guest_success();
}
