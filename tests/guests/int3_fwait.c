/* int3_fwait: an int3 must reach the guest's #BP handler with the return address just after it,
 * and fwait must fall through (on hosts whose KVM cannot emulate them, kiln completes both). */
#include "entry.h"

struct idt_gate {
	u16 off_lo, sel;
	u8 ist, type_attr;
	u16 off_mid;
	u32 off_hi, zero;
} PACKED;

static struct idt_gate idt[32] __attribute__((aligned(16)));

void kmain(u64 probe);
void bp_handler(void);
extern char after_int3[];

/* The handler records the frame the CPU pushed and returns without iret (which some hosts
 * cannot emulate at ring 0): it restores RSP and RFLAGS and jumps back itself. */
u64 bp_frame[5];
__asm__(".text\n"
	".globl bp_handler\n"
	"bp_handler:\n"
	"	movq 0(%rsp), %rax; movq %rax, bp_frame+0(%rip)\n"
	"	movq 8(%rsp), %rax; movq %rax, bp_frame+8(%rip)\n"
	"	movq 16(%rsp), %rax; movq %rax, bp_frame+16(%rip)\n"
	"	movq 24(%rsp), %rax; movq %rax, bp_frame+24(%rip)\n"
	"	movq 32(%rsp), %rax; movq %rax, bp_frame+32(%rip)\n"
	"	movq 0(%rsp), %rcx\n"      /* return address */
	"	movq 24(%rsp), %rsp\n"     /* the interrupted stack */
	"	jmp *%rcx\n");

void kmain(u64 probe)
{
	struct {
		u16 limit;
		u64 base;
	} PACKED idtr = { sizeof(idt) - 1, (u64)(uptr)idt };
	u64 handler = (u64)(uptr)bp_handler, rsp_before;
	u16 cs;

	check_entry_stack(probe);
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[3] = (struct idt_gate){ .off_lo = (u16)handler, .sel = cs, .type_attr = 0x8e,
				    .off_mid = (u16)(handler >> 16), .off_hi = (u32)(handler >> 32) };
	__asm__ volatile("lidt %0" : : "m"(idtr));

	serial_puts("int3: trapping\n");
	__asm__ volatile("movq %%rsp, %0\n"
			 "int3\n"
			 ".globl after_int3\n"
			 "after_int3:\n"
			 : "=&r"(rsp_before) : : "rax", "rcx", "memory");
	if (bp_frame[0] != (u64)(uptr)after_int3)
		guest_fail("#BP return address is not the instruction after int3");
	if (bp_frame[1] != cs)
		guest_fail("#BP frame CS is wrong");
	if (bp_frame[3] != rsp_before)
		guest_fail("#BP frame RSP is not the interrupted stack pointer");
	serial_puts("int3: #BP delivered, return address right\n");

	__asm__ volatile("fwait" ::: "memory");
	serial_puts("fwait: fell through\n");
	guest_success();
}
