/* cmpxchg16b: the compare-exchange must store on a match and load on a mismatch, with ZF, for
 * each addressing form Linux uses (lock + register, GS-relative per-CPU without lock, RIP-relative,
 * SIB with REX-extended registers), and a misaligned operand must raise #GP(0) at the
 * instruction (on hosts whose KVM cannot emulate it at ring 0, kiln completes it). */
#include "entry.h"

struct idt_gate {
	u16 off_lo, sel;
	u8 ist, type_attr;
	u16 off_mid;
	u32 off_hi, zero;
} PACKED;

static struct idt_gate idt[32] __attribute__((aligned(16)));
static u64 cell[8] __attribute__((aligned(16)));
u64 rip_cell[2] __attribute__((aligned(16)));

void kmain(u64 probe);
void gp_handler(void);
extern char misaligned_insn[], after_misaligned[];

/* #GP handler: records error code and return address, then resumes at after_misaligned on the
 * interrupted stack (no iret, which some hosts cannot emulate at ring 0). */
u64 gp_frame[3];
__asm__(".text\n"
	".globl gp_handler\n"
	"gp_handler:\n"
	"	movq 0(%rsp), %rax; movq %rax, gp_frame+0(%rip)\n"   /* error code */
	"	movq 8(%rsp), %rax; movq %rax, gp_frame+8(%rip)\n"   /* RIP */
	"	movq 32(%rsp), %rax; movq %rax, gp_frame+16(%rip)\n" /* RSP */
	"	movq 32(%rsp), %rsp\n"
	"	jmp after_misaligned\n");

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
	u64 handler = (u64)(uptr)gp_handler, rax, rdx, rsp_before;
	u8 zf;
	u16 cs;

	check_entry_stack(probe);

	/* lock cmpxchg16b (%rsi), a match: RCX:RBX stored, ZF set, RDX:RAX kept. */
	cell[0] = 0x1111;
	cell[1] = 0x2222;
	rax = 0x1111;
	rdx = 0x2222;
	__asm__ volatile("lock cmpxchg16b (%[p])\n\tsetz %[zf]"
			 : [zf] "=r"(zf), "+a"(rax), "+d"(rdx)
			 : [p] "S"(cell), "b"(0x3333ull), "c"(0x4444ull) : "memory", "cc");
	expect(zf && cell[0] == 0x3333 && cell[1] == 0x4444 && rax == 0x1111 && rdx == 0x2222,
	       "lock cmpxchg16b (%rsi): a match did not store RCX:RBX with ZF set");
	serial_puts("cmpxchg16b: match stored, ZF=1\n");

	/* A mismatch: memory unchanged, RDX:RAX loaded from it, ZF clear. */
	rax = 0x1111;
	rdx = 0x2222;
	__asm__ volatile("lock cmpxchg16b (%[p])\n\tsetz %[zf]"
			 : [zf] "=r"(zf), "+a"(rax), "+d"(rdx)
			 : [p] "S"(cell), "b"(0x5555ull), "c"(0x6666ull) : "memory", "cc");
	expect(!zf && cell[0] == 0x3333 && cell[1] == 0x4444 && rax == 0x3333 && rdx == 0x4444,
	       "lock cmpxchg16b (%rsi): a mismatch did not load RDX:RAX with ZF clear");
	serial_puts("cmpxchg16b: mismatch loaded RDX:RAX, ZF=0\n");

	/* GS-relative without lock, as Linux's this_cpu_cmpxchg_double: GS base = cell. */
	cell[2] = 7;
	cell[3] = 8;
	rax = 7;
	rdx = 8;
	__asm__ volatile("wrmsr" : : "c"(0xc0000101u), "a"((u32)(uptr)cell),
			 "d"((u32)((u64)(uptr)cell >> 32)));
	__asm__ volatile("cmpxchg16b %%gs:16(%[p])\n\tsetz %[zf]"
			 : [zf] "=r"(zf), "+a"(rax), "+d"(rdx)
			 : [p] "S"(0ull), "b"(9ull), "c"(10ull) : "memory", "cc");
	expect(zf && cell[2] == 9 && cell[3] == 10, "cmpxchg16b %gs:16(%rsi) did not store");
	serial_puts("cmpxchg16b: gs-relative stored\n");

	/* RIP-relative. */
	rip_cell[0] = 1;
	rip_cell[1] = 2;
	rax = 1;
	rdx = 2;
	__asm__ volatile("lock cmpxchg16b rip_cell(%%rip)\n\tsetz %[zf]"
			 : [zf] "=r"(zf), "+a"(rax), "+d"(rdx)
			 : "b"(3ull), "c"(4ull) : "memory", "cc");
	expect(zf && rip_cell[0] == 3 && rip_cell[1] == 4, "lock cmpxchg16b rip_cell(%rip) did not store");
	serial_puts("cmpxchg16b: rip-relative stored\n");

	/* SIB with REX.B and REX.X: 8(%r8,%r9,8) = cell[4] with r8 = cell + 8, r9 = 2. */
	cell[4] = 0xaa;
	cell[5] = 0xbb;
	rax = 0xaa;
	rdx = 0xbb;
	{
		register u64 base __asm__("r8") = (u64)(uptr)cell + 8;
		register u64 idx __asm__("r9") = 2;

		__asm__ volatile("lock cmpxchg16b 8(%[b],%[x],8)\n\tsetz %[zf]"
				 : [zf] "=r"(zf), "+a"(rax), "+d"(rdx)
				 : [b] "r"(base), [x] "r"(idx), "b"(0xccull), "c"(0xddull)
				 : "memory", "cc");
	}
	expect(zf && cell[4] == 0xcc && cell[5] == 0xdd, "lock cmpxchg16b 8(%r8,%r9,8) did not store");
	serial_puts("cmpxchg16b: sib r8+r9*8+8 stored\n");

	/* A misaligned operand: #GP(0) with the instruction's own address, memory unchanged. */
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[13] = (struct idt_gate){ .off_lo = (u16)handler, .sel = cs, .type_attr = 0x8e,
				     .off_mid = (u16)(handler >> 16), .off_hi = (u32)(handler >> 32) };
	__asm__ volatile("lidt %0" : : "m"(idtr));
	gp_frame[1] = 0;
	rax = rdx = 0;
	__asm__ volatile("movq %%rsp, %[sp]\n"
			 ".globl misaligned_insn\n"
			 "misaligned_insn:\n"
			 "lock cmpxchg16b 8(%[p])\n"
			 ".globl after_misaligned\n"
			 "after_misaligned:\n"
			 : [sp] "=&r"(rsp_before), "+a"(rax), "+d"(rdx)
			 : [p] "S"(cell), "b"(1ull), "c"(1ull)
			 : "memory", "cc");
	expect(gp_frame[1] == (u64)(uptr)misaligned_insn,
	       "misaligned cmpxchg16b: no #GP at the instruction");
	expect(gp_frame[0] == 0 && gp_frame[2] == rsp_before, "misaligned cmpxchg16b: #GP frame is wrong");
	expect(cell[1] == 0x4444 && cell[2] == 9, "misaligned cmpxchg16b changed memory");
	serial_puts("cmpxchg16b: misaligned operand raised #GP(0)\n");
	guest_success();
}
