/* test_emulate.c: src/arch/x86/emulate.c without KVM. Decoding the memory operands of
 * cmpxchg16b, ldmxcsr and stmxcsr from the bytes KVM reports with an emulation failure (every
 * addressing form, prefixes, bytes that are some other instruction or cut short), and
 * x86_emulate_insn() completing each instruction over a fake vCPU: its architectural effect and
 * the faults it raises instead (#UD, #GP, #NP, #SS, #PF; CPL, CPUID, prefixes). Encodings are
 * what GNU as emits for the instructions named. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/emulate.h"

#define EFER_LMA (1ull << 10)

static struct kvm_regs regs;
static struct kvm_sregs sregs;

static void setup(void)
{
	memset(&regs, 0, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	sregs.efer = EFER_LMA | (1ull << 8);
	sregs.cs.l = 1;
	regs.rip = 0xffffffff81000000ull;
	regs.rax = 0x100;
	regs.rcx = 0x200;
	regs.rdx = 0x300;
	regs.rbx = 0x400;
	regs.rsp = 0x500;
	regs.rbp = 0x600;
	regs.rsi = 0x1000;
	regs.rdi = 0x2000;
	regs.r8 = 0x8000;
	regs.r9 = 3;
	regs.r12 = 0x12000;
	regs.r13 = 0x13000;
	regs.r15 = 0x15000;
	sregs.fs.base = 0x7f0000000000ull;
	sregs.gs.base = 0xffff888000000000ull;
}

TestSuite(cmpxchg16b, .init = setup);

/* Decodes `bytes` and checks the operand's linear address and the instruction's length. */
static void check(const uint8_t *bytes, unsigned int n, uint64_t want_lin, unsigned int want_len)
{
	uint64_t lin = 0;
	unsigned int len = 0;

	cr_assert_eq(x86_decode_cmpxchg16b(bytes, n, &regs, &sregs, &lin, &len), 0);
	cr_expect_eq(lin, want_lin, "linear 0x%llx, want 0x%llx", (unsigned long long)lin,
		     (unsigned long long)want_lin);
	cr_expect_eq(len, want_len, "length %u, want %u", len, want_len);
}

static void reject(const uint8_t *bytes, unsigned int n)
{
	uint64_t lin = 0;
	unsigned int len = 0;

	cr_expect_eq(x86_decode_cmpxchg16b(bytes, n, &regs, &sregs, &lin, &len), -ENOTSUP);
}

Test(cmpxchg16b, lock_register_indirect)
{
	static const uint8_t b[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x0e }; /* lock cmpxchg16b (%rsi) */

	check(b, sizeof(b), 0x1000, 5);
}

Test(cmpxchg16b, without_lock)
{
	static const uint8_t b[] = { 0x48, 0x0f, 0xc7, 0x0f }; /* cmpxchg16b (%rdi) */

	check(b, sizeof(b), 0x2000, 4);
}

Test(cmpxchg16b, gs_percpu_as_linux_slub)
{
	static const uint8_t b[] = { 0x65, 0x48, 0x0f, 0xc7, 0x0e }; /* cmpxchg16b %gs:(%rsi) */

	check(b, sizeof(b), 0xffff888000001000ull, 5);
}

Test(cmpxchg16b, fs_and_lock_either_order)
{
	static const uint8_t a[] = { 0xf0, 0x64, 0x48, 0x0f, 0xc7, 0x4f, 0x10 }; /* lock fs 16(%rdi) */
	static const uint8_t b[] = { 0x64, 0xf0, 0x48, 0x0f, 0xc7, 0x4f, 0x10 };

	check(a, sizeof(a), 0x7f0000002010ull, 7);
	check(b, sizeof(b), 0x7f0000002010ull, 7);
}

Test(cmpxchg16b, ds_override_has_no_base)
{
	static const uint8_t b[] = { 0x3e, 0x48, 0x0f, 0xc7, 0x0e };

	sregs.ds.base = 0x12345000;
	check(b, sizeof(b), 0x1000, 5);
}

Test(cmpxchg16b, disp8_negative)
{
	static const uint8_t b[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x4d, 0xf0 }; /* -16(%rbp) */

	check(b, sizeof(b), 0x5f0, 6);
}

Test(cmpxchg16b, disp32)
{
	/* lock cmpxchg16b 0x12340(%rbx) */
	static const uint8_t b[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x8b, 0x40, 0x23, 0x01, 0x00 };

	check(b, sizeof(b), 0x12740, 9);
}

Test(cmpxchg16b, rip_relative_from_next_instruction)
{
	/* lock cmpxchg16b 0x100(%rip): relative to the end of the 9-byte instruction */
	static const uint8_t b[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x0d, 0x00, 0x01, 0x00, 0x00 };

	check(b, sizeof(b), 0xffffffff81000000ull + 9 + 0x100, 9);
}

Test(cmpxchg16b, rip_relative_negative)
{
	static const uint8_t b[] = { 0x48, 0x0f, 0xc7, 0x0d, 0xf8, 0xff, 0xff, 0xff }; /* -8(%rip) */

	check(b, sizeof(b), 0xffffffff81000000ull + 8 - 8, 8);
}

Test(cmpxchg16b, sib_rex_b_and_x)
{
	/* lock cmpxchg16b 8(%r8,%r9,8): REX 0x4b (W, X, B), SIB scale 3 index 1 base 0 */
	static const uint8_t b[] = { 0xf0, 0x4b, 0x0f, 0xc7, 0x4c, 0xc8, 0x08 };

	check(b, sizeof(b), 0x8000 + 3 * 8 + 8, 7);
}

Test(cmpxchg16b, sib_rsp_base_no_index)
{
	static const uint8_t b[] = { 0x48, 0x0f, 0xc7, 0x0c, 0x24 }; /* cmpxchg16b (%rsp) */

	check(b, sizeof(b), 0x500, 5);
}

Test(cmpxchg16b, sib_r12_base_and_r12_index)
{
	/* (%r12): REX.B, SIB base 100 means r12, not "no base" */
	static const uint8_t a[] = { 0x49, 0x0f, 0xc7, 0x0c, 0x24 };
	/* (%rax,%r12,1): REX.X, index 100 with REX.X is r12, not "no index" */
	static const uint8_t b[] = { 0x4a, 0x0f, 0xc7, 0x0c, 0x20 };

	check(a, sizeof(a), 0x12000, 5);
	check(b, sizeof(b), 0x100 + 0x12000, 5);
}

Test(cmpxchg16b, sib_no_base_disp32)
{
	/* cmpxchg16b 0x1000(,%rsi,2): mod 00, base 101: no base, disp32 */
	static const uint8_t b[] = { 0x48, 0x0f, 0xc7, 0x0c, 0x75, 0x00, 0x10, 0x00, 0x00 };

	check(b, sizeof(b), 0x1000 * 2 + 0x1000, 9);
}

Test(cmpxchg16b, sib_rbp_and_r13_base_with_disp8)
{
	static const uint8_t a[] = { 0x48, 0x0f, 0xc7, 0x4c, 0x25, 0x10 }; /* 16(%rbp) */
	static const uint8_t b[] = { 0x49, 0x0f, 0xc7, 0x4c, 0x25, 0x10 }; /* 16(%r13) */

	check(a, sizeof(a), 0x610, 6);
	check(b, sizeof(b), 0x13010, 6);
}

Test(cmpxchg16b, r15_base)
{
	static const uint8_t b[] = { 0xf0, 0x49, 0x0f, 0xc7, 0x0f }; /* lock cmpxchg16b (%r15) */

	check(b, sizeof(b), 0x15000, 5);
}

Test(cmpxchg16b, other_instructions_rejected)
{
	static const uint8_t cx8[] = { 0xf0, 0x0f, 0xc7, 0x0e };	     /* cmpxchg8b: no REX.W */
	static const uint8_t rdrand[] = { 0x48, 0x0f, 0xc7, 0xf0 };  /* rdrand %rax: mod 3 */
	static const uint8_t vmptrld[] = { 0x48, 0x0f, 0xc7, 0x36 }; /* /6 */
	static const uint8_t opsize[] = { 0x66, 0x48, 0x0f, 0xc7, 0x0e };
	static const uint8_t addr32[] = { 0x67, 0x48, 0x0f, 0xc7, 0x0e };
	static const uint8_t rex_no_w[] = { 0x40, 0x0f, 0xc7, 0x0e };
	static const uint8_t popcnt[] = { 0xf3, 0x0f, 0xb8, 0xc0 };

	reject(cx8, sizeof(cx8));
	reject(rdrand, sizeof(rdrand));
	reject(vmptrld, sizeof(vmptrld));
	reject(opsize, sizeof(opsize));
	reject(addr32, sizeof(addr32));
	reject(rex_no_w, sizeof(rex_no_w));
	reject(popcnt, sizeof(popcnt));
}

Test(cmpxchg16b, cut_short_rejected)
{
	static const uint8_t b[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x8b, 0x40, 0x23, 0x01, 0x00 };
	static const uint8_t sib[] = { 0x48, 0x0f, 0xc7, 0x0c, 0x24 };

	for (unsigned int n = 0; n < sizeof(b); n++)
		reject(b, n);
	reject(sib, 4);
}

Test(cmpxchg16b, only_in_64_bit_mode)
{
	static const uint8_t b[] = { 0x48, 0x0f, 0xc7, 0x0e };

	sregs.cs.l = 0;
	reject(b, sizeof(b));
	sregs.cs.l = 1;
	sregs.efer = 0;
	reject(b, sizeof(b));
}

/* ldmxcsr / stmxcsr: the same operand decoder, REX optional. */
static void reject_mxcsr(const uint8_t *bytes, unsigned int n)
{
	uint64_t lin = 0;
	unsigned int len = 0;
	bool store;

	cr_expect_eq(x86_decode_mxcsr_op(bytes, n, &regs, &sregs, &store, &lin, &len), -ENOTSUP);
}

static void check_mxcsr(const uint8_t *bytes, unsigned int n, bool want_store, uint64_t want_lin,
			unsigned int want_len)
{
	uint64_t lin = 0;
	unsigned int len = 0;
	bool store = !want_store;

	cr_assert_eq(x86_decode_mxcsr_op(bytes, n, &regs, &sregs, &store, &lin, &len), 0);
	cr_expect_eq(store, want_store);
	cr_expect_eq(lin, want_lin, "linear 0x%llx, want 0x%llx", (unsigned long long)lin,
		     (unsigned long long)want_lin);
	cr_expect_eq(len, want_len, "length %u, want %u", len, want_len);
}

TestSuite(mxcsr, .init = setup);

Test(mxcsr, ldmxcsr_as_kernel_fpu_begin)
{
	static const uint8_t b[] = { 0x0f, 0xae, 0x54, 0x24, 0x04 }; /* ldmxcsr 0x4(%rsp) */

	check_mxcsr(b, sizeof(b), false, 0x504, 5);
}

Test(mxcsr, stmxcsr_forms)
{
	static const uint8_t a[] = { 0x0f, 0xae, 0x1e };			/* stmxcsr (%rsi) */
	static const uint8_t b[] = { 0x41, 0x0f, 0xae, 0x5f, 0x08 };	/* stmxcsr 8(%r15) */
	static const uint8_t c[] = { 0x0f, 0xae, 0x1d, 0x10, 0x00, 0x00, 0x00 }; /* 0x10(%rip) */
	static const uint8_t d[] = { 0x65, 0x0f, 0xae, 0x1c, 0x25, 0x20, 0x00, 0x00, 0x00 }; /* %gs:0x20 */

	check_mxcsr(a, sizeof(a), true, 0x1000, 3);
	check_mxcsr(b, sizeof(b), true, 0x15008, 5);
	check_mxcsr(c, sizeof(c), true, 0xffffffff81000000ull + 7 + 0x10, 7);
	check_mxcsr(d, sizeof(d), true, 0xffff888000000020ull, 9);
}

Test(mxcsr, other_0f_ae_rejected)
{
	static const uint8_t fxsave[] = { 0x0f, 0xae, 0x06 };	  /* /0 */
	static const uint8_t xrstor[] = { 0x0f, 0xae, 0x2e };	  /* /5 */
	static const uint8_t clflush[] = { 0x0f, 0xae, 0x3e };	  /* /7 */
	static const uint8_t lfence[] = { 0x0f, 0xae, 0xe8 };	  /* mod 3 */
	static const uint8_t rdfsbase[] = { 0xf3, 0x48, 0x0f, 0xae, 0xc0 };
	static const uint8_t clwb[] = { 0x66, 0x0f, 0xae, 0x36 };
	static const uint8_t cut[] = { 0x0f, 0xae, 0x54, 0x24 };

	reject_mxcsr(fxsave, sizeof(fxsave));
	reject_mxcsr(xrstor, sizeof(xrstor));
	reject_mxcsr(clflush, sizeof(clflush));
	reject_mxcsr(lfence, sizeof(lfence));
	reject_mxcsr(rdfsbase, sizeof(rdfsbase));
	reject_mxcsr(clwb, sizeof(clwb));
	reject_mxcsr(cut, sizeof(cut));
}

/* x86_emulate_insn() over a fake vCPU: guest-linear pages at LIN_BASE backed by an array, each
 * with its own present/writable/user bits, a CPUID table of the few leaves it asks, MXCSR, XCR0
 * and a count of TLB flushes. Checks the architectural effect of each instruction it completes,
 * and the exception it raises instead (SDM vol. 2 "Protected Mode Exceptions" of each). */
#define LIN_BASE 0xffffffff80000000ull
#define NPAGES 16
#define PG_P 1u
#define PG_W 2u
#define PG_U 4u
#define PG_NOT_RAM 8u
#define IDT_PAGE 1
#define STACK_PAGE 4 /* the stack grows down from the end of page 4 */
#define DATA_PAGE 6
#define RO_PAGE 7
#define ABSENT_PAGE 8
#define USER_PAGE 9
#define MMIO_PAGE 10
#define TSS_PAGE 11
#define IST_PAGE 12

struct fake {
	uint8_t mem[NPAGES][4096];
	unsigned int flags[NPAGES];
	uint32_t cpuid1_ecx, cpuid7_ebx, cpuid_d1_eax, cpuid_80000008_ebx;
	uint32_t mxcsr;
	uint64_t xcr0;
	unsigned int flushes;
};

static struct fake fk;

static uint64_t lin_of(unsigned int page, unsigned int off)
{
	return LIN_BASE + page * 4096ull + off;
}

static void *fake_map(void *ctx, uint64_t lin, size_t len, bool write, bool user, uint32_t *pf)
{
	struct fake *f = ctx;
	uint64_t page = (lin - LIN_BASE) >> 12;
	uint32_t wu = (write ? 2u : 0) | (user ? 4u : 0);

	cr_assert_leq((lin & 0xfff) + len, 4096, "map() asked across a page");
	if (lin < LIN_BASE || page >= NPAGES || !(f->flags[page] & PG_P)) {
		*pf = wu;
		return NULL;
	}
	if ((write && !(f->flags[page] & PG_W)) || (user && !(f->flags[page] & PG_U))) {
		*pf = 1u | wu;
		return NULL;
	}
	if (f->flags[page] & PG_NOT_RAM) {
		*pf = ~0u;
		return NULL;
	}
	return &f->mem[page][lin & 0xfff];
}

static int fake_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	struct fake *f = ctx;

	memset(out, 0, 4 * sizeof(uint32_t));
	if (leaf == 1)
		out[2] = f->cpuid1_ecx;
	else if (leaf == 7 && sub == 0)
		out[1] = f->cpuid7_ebx;
	else if (leaf == 0xd && sub == 1)
		out[0] = f->cpuid_d1_eax;
	else if (leaf == 0x80000008)
		out[1] = f->cpuid_80000008_ebx;
	else
		return -ENOENT;
	return 0;
}

static int fake_get_mxcsr(void *ctx, uint32_t *v)
{
	*v = ((struct fake *)ctx)->mxcsr;
	return 0;
}

static int fake_set_mxcsr(void *ctx, uint32_t v)
{
	((struct fake *)ctx)->mxcsr = v;
	return 0;
}

static int fake_get_xcr0(void *ctx, uint64_t *v)
{
	*v = ((struct fake *)ctx)->xcr0;
	return 0;
}

static int fake_flush(void *ctx)
{
	((struct fake *)ctx)->flushes++;
	return 0;
}

static const struct x86_emu_ops fake_ops = {
	.map = fake_map, .cpuid = fake_cpuid, .get_mxcsr = fake_get_mxcsr,
	.set_mxcsr = fake_set_mxcsr, .get_xcr0 = fake_get_xcr0, .flush_tlb = fake_flush,
};

#define RIP0 (LIN_BASE + 0x100)
#define HANDLER 0xffffffff81234560ull
#define KERNEL_CS 0x10
#define KERNEL_SS 0x18

/* A 64-bit interrupt (type 0xe) or trap (0xf) gate for `vector` with the given DPL and IST. */
static void set_gate(unsigned int vector, unsigned int type, unsigned int dpl, bool present,
		     unsigned int ist)
{
	uint8_t *g = &fk.mem[IDT_PAGE][vector * 16];

	memset(g, 0, 16);
	g[0] = (uint8_t)HANDLER;
	g[1] = (uint8_t)(HANDLER >> 8);
	g[2] = KERNEL_CS;
	g[4] = (uint8_t)ist;
	g[5] = (uint8_t)((present ? 0x80 : 0) | dpl << 5 | type);
	g[6] = (uint8_t)(HANDLER >> 16);
	g[7] = (uint8_t)(HANDLER >> 24);
	for (int i = 0; i < 4; i++)
		g[8 + i] = (uint8_t)(HANDLER >> (32 + 8 * i));
}

static void setup_insn(void)
{
	setup();
	memset(&fk, 0, sizeof(fk));
	for (unsigned int i = 0; i < NPAGES; i++)
		fk.flags[i] = PG_P | PG_W;
	fk.flags[RO_PAGE] = PG_P;
	fk.flags[ABSENT_PAGE] = 0;
	fk.flags[USER_PAGE] = PG_P | PG_W | PG_U;
	fk.flags[MMIO_PAGE] = PG_P | PG_W | PG_NOT_RAM;
	fk.cpuid1_ecx = (1u << 26) | (1u << 22);             /* XSAVE, MOVBE */
	fk.cpuid7_ebx = (1u << 10) | (1u << 20) | (1u << 24); /* INVPCID, SMAP, CLWB */
	fk.mxcsr = 0x1f80;
	fk.xcr0 = 0x2000000e7ull;
	regs.rip = RIP0;
	regs.rsp = lin_of(STACK_PAGE, 4096 - 8); /* not 16-byte aligned: the CPU aligns it */
	regs.rflags = 0x246 | (1u << 18);
	sregs.cr0 = 0x80050033; /* PG, AM, WP, NE, ET, MP, PE */
	sregs.cr4 = 0x406a0;    /* OSXSAVE, OSFXSR, PAE, ... */
	sregs.cs.selector = KERNEL_CS;
	sregs.ss.selector = KERNEL_SS;
	sregs.idt.base = lin_of(IDT_PAGE, 0);
	sregs.idt.limit = 256 * 16 - 1;
	sregs.tr.base = lin_of(TSS_PAGE, 0);
}

TestSuite(insn, .init = setup_insn);

static const char *what;
static struct x86_fault fault;

static int run(const uint8_t *b, unsigned int n)
{
	what = NULL;
	memset(&fault, 0xa5, sizeof(fault));
	return x86_emulate_insn(&fake_ops, &fk, b, n, &regs, &sregs, &what, &fault);
}

/* The instruction must raise `vector` (with `error` where has_error) and leave the registers. */
static void expect_fault(const uint8_t *b, unsigned int n, uint8_t vector, bool has_error,
			 uint32_t error)
{
	struct kvm_regs before = regs;

	cr_assert_eq(run(b, n), 1, "no fault raised");
	cr_expect_eq(fault.vector, vector, "vector %u, want %u", fault.vector, vector);
	cr_expect_eq(fault.has_error, has_error);
	if (has_error)
		cr_expect_eq(fault.error, error, "error code 0x%x, want 0x%x", fault.error, error);
	cr_expect(memcmp(&before, &regs, sizeof(regs)) == 0, "registers changed by a fault");
}

static void expect_ud(const uint8_t *b, unsigned int n)
{
	expect_fault(b, n, 6, false, 0);
}

static void expect_gp0(const uint8_t *b, unsigned int n)
{
	expect_fault(b, n, 13, true, 0);
}

static void expect_notsup(const uint8_t *b, unsigned int n)
{
	struct kvm_regs before = regs;

	cr_expect_eq(run(b, n), -ENOTSUP);
	cr_expect(memcmp(&before, &regs, sizeof(regs)) == 0, "registers changed");
}

static uint64_t stack_slot(unsigned int i)
{
	uint64_t v;

	memcpy(&v, &fk.mem[STACK_PAGE][4096 - 16 - 40 + i * 8], 8);
	return v;
}

Test(insn, int_imm8_through_interrupt_gate)
{
	static const uint8_t b[] = { 0xcd, 0x40 }; /* int $0x40 */
	uint64_t rsp = regs.rsp, rflags = regs.rflags;

	set_gate(0x40, 0xe, 0, true, 0);
	cr_assert_eq(run(b, sizeof(b)), 0);
	cr_expect_str_eq(what, "int imm8");
	cr_expect_eq(regs.rip, HANDLER);
	cr_expect_eq(regs.rsp, lin_of(STACK_PAGE, 4096 - 16 - 40), "frame on the 16-byte aligned stack");
	cr_expect_eq(stack_slot(0), RIP0 + 2, "return address after the int");
	cr_expect_eq(stack_slot(1), KERNEL_CS);
	cr_expect_eq(stack_slot(2), rflags);
	cr_expect_eq(stack_slot(3), rsp);
	cr_expect_eq(stack_slot(4), KERNEL_SS);
	cr_expect_eq(regs.rflags & (1u << 9), 0, "an interrupt gate clears IF");
}

Test(insn, int_imm8_through_trap_gate_keeps_if_clears_tf)
{
	static const uint8_t b[] = { 0xcd, 0x80 };

	regs.rflags |= 1u << 8;
	set_gate(0x80, 0xf, 0, true, 0);
	cr_assert_eq(run(b, sizeof(b)), 0);
	cr_expect_eq(regs.rip, HANDLER);
	cr_expect_neq(regs.rflags & (1u << 9), 0, "a trap gate keeps IF");
	cr_expect_eq(regs.rflags & (1u << 8), 0, "TF cleared");
}

Test(insn, int_imm8_vectors_with_error_codes_push_none)
{
	static const uint8_t b[] = { 0xcd, 0x0e }; /* int $14: #PF's vector, but no error code */

	set_gate(14, 0xe, 0, true, 0);
	cr_assert_eq(run(b, sizeof(b)), 0);
	cr_expect_eq(stack_slot(0), RIP0 + 2);
	cr_expect_eq(stack_slot(4), KERNEL_SS);
}

Test(insn, int_imm8_on_ist_stack)
{
	static const uint8_t b[] = { 0xcd, 0x41 };
	uint64_t ist = lin_of(IST_PAGE, 4096);

	memcpy(&fk.mem[TSS_PAGE][0x24 + 8], &ist, 8); /* IST2 */
	set_gate(0x41, 0xe, 0, true, 2);
	cr_assert_eq(run(b, sizeof(b)), 0);
	cr_expect_eq(regs.rsp, ist - 40);
}

Test(insn, int3_both_encodings)
{
	static const uint8_t cc[] = { 0xcc }, cd3[] = { 0xcd, 0x03 };
	struct kvm_regs start = regs;

	set_gate(3, 0xe, 3, true, 0);
	cr_assert_eq(run(cc, 1), 0);
	cr_expect_str_eq(what, "int3");
	cr_expect_eq(stack_slot(0), RIP0 + 1);
	regs = start;
	cr_assert_eq(run(cd3, 2), 0);
	cr_expect_eq(stack_slot(0), RIP0 + 2);
}

Test(insn, int_imm8_faults)
{
	static const uint8_t b[] = { 0xcd, 0x40 }, locked[] = { 0xf0, 0xcd, 0x40 };

	set_gate(0x40, 0xe, 0, false, 0);
	expect_fault(b, 2, 11, true, 0x40 * 8 + 2); /* #NP naming the IDT entry */
	set_gate(0x40, 0xc, 0, true, 0);            /* a call gate */
	expect_fault(b, 2, 13, true, 0x40 * 8 + 2);
	set_gate(0x40, 0xe, 0, true, 0);
	sregs.idt.limit = 0x40 * 16 + 14; /* the gate's last byte beyond the limit */
	expect_fault(b, 2, 13, true, 0x40 * 8 + 2);
	sregs.idt.limit = 0xfff;
	expect_ud(locked, 3);
	/* From CPL 3, a DPL 0 gate is #GP; a DPL 3 one needs a stack switch: not done here. */
	sregs.cs.selector = 0x33;
	expect_fault(b, 2, 13, true, 0x40 * 8 + 2);
	set_gate(0x40, 0xe, 3, true, 0);
	expect_notsup(b, 2);
	expect_notsup(b, 1); /* cut short */
}

Test(insn, clac_stac)
{
	static const uint8_t clac[] = { 0x0f, 0x01, 0xca }, stac[] = { 0x0f, 0x01, 0xcb };

	cr_assert_eq(run(clac, 3), 0);
	cr_expect_str_eq(what, "clac");
	cr_expect_eq(regs.rflags & (1u << 18), 0);
	cr_expect_eq(regs.rip, RIP0 + 3);
	cr_assert_eq(run(stac, 3), 0);
	cr_expect_str_eq(what, "stac");
	cr_expect_neq(regs.rflags & (1u << 18), 0);
	cr_expect_eq(regs.rflags & ~(1ull << 18), 0x246);
	cr_expect_eq(regs.rip, RIP0 + 6);
}

Test(insn, clac_stac_faults)
{
	static const uint8_t clac[] = { 0x0f, 0x01, 0xca }, locked[] = { 0xf0, 0x0f, 0x01, 0xcb };
	static const uint8_t eretu[] = { 0xf3, 0x0f, 0x01, 0xca };

	expect_ud(locked, 4);
	expect_notsup(eretu, 4);
	sregs.cs.selector = 0x33;
	expect_ud(clac, 3); /* CPL 3 */
	sregs.cs.selector = KERNEL_CS;
	fk.cpuid7_ebx = 0;
	expect_ud(clac, 3); /* no SMAP in CPUID */
}

Test(insn, clac_in_real_mode_wraps_ip)
{
	static const uint8_t clac[] = { 0x0f, 0x01, 0xca };

	sregs.efer = 0;
	sregs.cs.l = 0;
	sregs.cr0 = 0x10;
	sregs.cs.selector = 0x1003; /* RPL bits mean nothing in real mode */
	regs.rip = 0xfffe;
	cr_assert_eq(run(clac, 3), 0);
	cr_expect_eq(regs.rip, 1);
}

Test(insn, xgetbv)
{
	static const uint8_t b[] = { 0x0f, 0x01, 0xd0 };

	regs.rcx = 0xffffffff00000000ull; /* only ECX counts */
	regs.rax = regs.rdx = ~0ull;
	cr_assert_eq(run(b, 3), 0);
	cr_expect_str_eq(what, "xgetbv");
	cr_expect_eq(regs.rax, 0xe7);
	cr_expect_eq(regs.rdx, 2);
	cr_expect_eq(regs.rip, RIP0 + 3);
	fk.cpuid_d1_eax = 1u << 2;
	regs.rcx = 1;
	cr_assert_eq(run(b, 3), 0);
	cr_expect_eq(regs.rax, 0xe7, "XINUSE reads as XCR0");
}

Test(insn, xgetbv_faults)
{
	static const uint8_t b[] = { 0x0f, 0x01, 0xd0 }, locked[] = { 0xf0, 0x0f, 0x01, 0xd0 };

	regs.rcx = 1; /* XCR1 without CPUID.(0xd,1):EAX[2] */
	expect_gp0(b, 3);
	regs.rcx = 2;
	fk.cpuid_d1_eax = 1u << 2;
	expect_gp0(b, 3);
	regs.rcx = 0;
	expect_ud(locked, 4);
	sregs.cr4 &= ~(1ull << 18);
	expect_ud(b, 3); /* CR4.OSXSAVE clear */
	sregs.cr4 |= 1ull << 18;
	fk.cpuid1_ecx = 0;
	expect_ud(b, 3);
}

Test(insn, xgetbv_at_cpl3)
{
	static const uint8_t b[] = { 0x0f, 0x01, 0xd0 };

	sregs.cs.selector = 0x33;
	regs.rcx = 0;
	cr_assert_eq(run(b, 3), 0);
	cr_expect_eq(regs.rax, 0xe7);
}

Test(insn, clwb_forms)
{
	static const uint8_t rdi[] = { 0x66, 0x0f, 0xae, 0x37 };
	static const uint8_t r8[] = { 0x66, 0x41, 0x0f, 0xae, 0x70, 0x08 };
	uint8_t snapshot[4096];

	regs.rdi = lin_of(DATA_PAGE, 64);
	regs.r8 = lin_of(RO_PAGE, 0); /* a read suffices */
	memset(fk.mem[DATA_PAGE], 0x5a, 4096);
	memcpy(snapshot, fk.mem[DATA_PAGE], 4096);
	cr_assert_eq(run(rdi, sizeof(rdi)), 0);
	cr_expect_str_eq(what, "clwb");
	cr_expect_eq(regs.rip, RIP0 + 4);
	cr_expect(memcmp(snapshot, fk.mem[DATA_PAGE], 4096) == 0, "clwb changed memory");
	cr_assert_eq(run(r8, sizeof(r8)), 0);
	cr_expect_eq(regs.rip, RIP0 + 10);
}

Test(insn, clwb_faults)
{
	static const uint8_t rdi[] = { 0x66, 0x0f, 0xae, 0x37 };
	static const uint8_t rsp[] = { 0x66, 0x0f, 0xae, 0x34, 0x24 };
	static const uint8_t rbp[] = { 0x66, 0x0f, 0xae, 0x75, 0x10 };
	static const uint8_t ds_rbp[] = { 0x3e, 0x66, 0x0f, 0xae, 0x75, 0x10 };
	static const uint8_t locked[] = { 0xf0, 0x66, 0x0f, 0xae, 0x37 };

	regs.rdi = lin_of(ABSENT_PAGE, 3);
	cr_assert_eq(run(rdi, 4), 1);
	cr_expect_eq(fault.vector, 14);
	cr_expect_eq(fault.error, 0, "supervisor read of a page not present");
	cr_expect_eq(fault.cr2, lin_of(ABSENT_PAGE, 3));
	regs.rdi = lin_of(DATA_PAGE, 0);
	sregs.cs.selector = 0x33;
	cr_assert_eq(run(rdi, 4), 1);
	cr_expect_eq(fault.vector, 14);
	cr_expect_eq(fault.error, 1 | 4, "user read of a supervisor page");
	regs.rdi = lin_of(USER_PAGE, 0);
	cr_expect_eq(run(rdi, 4), 0);
	sregs.cs.selector = KERNEL_CS;
	regs.rdi = lin_of(MMIO_PAGE, 0);
	expect_notsup(rdi, 4);
	regs.rdi = 0x0000800000000000ull; /* non-canonical */
	expect_gp0(rdi, 4);
	regs.rsp = regs.rbp = 0x8000000000000000ull;
	expect_fault(rsp, sizeof(rsp), 12, true, 0); /* #SS(0) through the stack segment */
	expect_fault(rbp, sizeof(rbp), 12, true, 0);
	expect_gp0(ds_rbp, sizeof(ds_rbp));
	regs.rdi = lin_of(DATA_PAGE, 0);
	expect_ud(locked, sizeof(locked));
	fk.cpuid7_ebx = 0;
	expect_ud(rdi, 4);
}

Test(insn, clwb_neighbours_not_taken)
{
	static const uint8_t clflushopt[] = { 0x66, 0x0f, 0xae, 0x3f };
	static const uint8_t xsaveopt[] = { 0x0f, 0xae, 0x37 };
	static const uint8_t tpause[] = { 0x66, 0x0f, 0xae, 0xf0 };
	static const uint8_t addr32[] = { 0x67, 0x66, 0x0f, 0xae, 0x37 };

	regs.rdi = lin_of(DATA_PAGE, 0);
	expect_notsup(clflushopt, 4);
	expect_notsup(xsaveopt, 3);
	expect_notsup(tpause, 4);
	expect_notsup(addr32, 5);
}

/* A 16-byte INVPCID descriptor at DATA_PAGE: PCID, then the linear address. */
static void descriptor(uint64_t pcid, uint64_t lin)
{
	memcpy(&fk.mem[DATA_PAGE][0], &pcid, 8);
	memcpy(&fk.mem[DATA_PAGE][8], &lin, 8);
	regs.rdi = lin_of(DATA_PAGE, 0);
}

Test(insn, invpcid_each_type_flushes)
{
	static const uint8_t b[] = { 0x66, 0x0f, 0x38, 0x82, 0x07 }; /* invpcid (%rdi), %rax */
	static const uint8_t r8[] = { 0x66, 0x44, 0x0f, 0x38, 0x82, 0x06 }; /* (%rsi), %r8 */

	descriptor(0, 0xffff888000001000ull);
	for (uint64_t type = 0; type < 4; type++) {
		regs.rax = type;
		regs.rip = RIP0;
		cr_assert_eq(run(b, sizeof(b)), 0, "type %llu", (unsigned long long)type);
		cr_expect_str_eq(what, "invpcid");
		cr_expect_eq(regs.rip, RIP0 + 5);
	}
	cr_expect_eq(fk.flushes, 4);
	regs.rsi = regs.rdi;
	regs.r8 = 2;
	regs.rax = 99; /* would be #GP if REX.R were ignored */
	cr_assert_eq(run(r8, sizeof(r8)), 0);
	cr_expect_eq(fk.flushes, 5);
}

Test(insn, invpcid_faults)
{
	static const uint8_t b[] = { 0x66, 0x0f, 0x38, 0x82, 0x07 };
	static const uint8_t reg_form[] = { 0x66, 0x0f, 0x38, 0x82, 0xc7 };
	static const uint8_t locked[] = { 0xf0, 0x66, 0x0f, 0x38, 0x82, 0x07 };

	descriptor(0, 0xffff888000001000ull);
	regs.rax = 4;
	expect_gp0(b, sizeof(b)); /* type above 3 */
	regs.rax = 0;
	descriptor(1ull << 12, 0);
	expect_gp0(b, sizeof(b)); /* reserved descriptor bits */
	descriptor(0, 0x0000800000000000ull);
	expect_gp0(b, sizeof(b)); /* type 0, non-canonical address */
	regs.rax = 2;
	cr_expect_eq(run(b, sizeof(b)), 0, "the address means nothing to type 2");
	regs.rip = RIP0;
	regs.rax = 1;
	descriptor(5, 0);
	expect_gp0(b, sizeof(b)); /* PCID 5 with CR4.PCIDE clear */
	sregs.cr4 |= 1ull << 17;
	cr_expect_eq(run(b, sizeof(b)), 0);
	regs.rip = RIP0;
	sregs.cs.selector = 0x33;
	expect_gp0(b, sizeof(b)); /* CPL 3 */
	sregs.cs.selector = KERNEL_CS;
	regs.rdi = lin_of(ABSENT_PAGE, 0);
	cr_assert_eq(run(b, sizeof(b)), 1);
	cr_expect_eq(fault.vector, 14);
	cr_expect_eq(fault.cr2, lin_of(ABSENT_PAGE, 0));
	regs.rdi = lin_of(DATA_PAGE, 0);
	expect_ud(reg_form, sizeof(reg_form));
	expect_ud(locked, sizeof(locked));
	fk.cpuid7_ebx = 0;
	expect_ud(b, sizeof(b));
	cr_expect_eq(fk.flushes, 2);
}

Test(insn, invpcid_descriptor_across_pages)
{
	static const uint8_t b[] = { 0x66, 0x0f, 0x38, 0x82, 0x07 };
	uint64_t bad = 1ull << 40;

	/* PCID in the last 8 bytes of DATA_PAGE, the address in the first 8 of the next page. */
	memset(fk.mem[DATA_PAGE + 1], 0, 8);
	memcpy(&fk.mem[DATA_PAGE][4088], &bad, 8);
	regs.rdi = lin_of(DATA_PAGE, 4088);
	regs.rax = 2;
	expect_gp0(b, sizeof(b));
}

Test(insn, rdpru_hidden_is_ud)
{
	static const uint8_t b[] = { 0x0f, 0x01, 0xfd };

	expect_ud(b, 3);
	cr_expect_str_eq(what, "rdpru");
	fk.cpuid_80000008_ebx = 1u << 4;
	expect_notsup(b, 3);
}

Test(insn, movbe)
{
	static const uint8_t load[] = { 0x0f, 0x38, 0xf0, 0x06 }; /* movbe (%rsi), %eax */
	static const uint8_t reg_form[] = { 0x0f, 0x38, 0xf0, 0xc1 };
	static const uint8_t crc32[] = { 0xf2, 0x0f, 0x38, 0xf0, 0x06 };

	expect_notsup(load, 4); /* offered: KVM's emulator's job */
	expect_ud(reg_form, 4);  /* no register form, offered or not */
	cr_expect_str_eq(what, "movbe");
	expect_notsup(crc32, 5);
	fk.cpuid1_ecx = 0;
	expect_ud(load, 4);
	expect_notsup(crc32, 5);
}

Test(insn, fwait_and_unknown)
{
	static const uint8_t fwait[] = { 0x9b }, nop[] = { 0x90 }, rdtscp[] = { 0x0f, 0x01, 0xf9 };

	cr_assert_eq(run(fwait, 1), 0);
	cr_expect_eq(regs.rip, RIP0 + 1);
	expect_notsup(nop, 1);
	expect_notsup(rdtscp, 3);
	cr_expect_eq(run(fwait, 0), -ENOTSUP);
}

Test(insn, cmpxchg16b_through_the_core)
{
	static const uint8_t b[] = { 0xf0, 0x48, 0x0f, 0xc7, 0x0e }; /* lock cmpxchg16b (%rsi) */
	uint64_t cell[2] = { 0x1111, 0x2222 };

	memcpy(&fk.mem[DATA_PAGE][16], cell, 16);
	regs.rsi = lin_of(DATA_PAGE, 16);
	regs.rax = 0x1111;
	regs.rdx = 0x2222;
	regs.rbx = 0x3333;
	regs.rcx = 0x4444;
	cr_assert_eq(run(b, sizeof(b)), 0);
	memcpy(cell, &fk.mem[DATA_PAGE][16], 16);
	cr_expect(cell[0] == 0x3333 && cell[1] == 0x4444 && (regs.rflags & 0x40));
	cr_expect_eq(regs.rip, RIP0 + 5);
	cr_assert_eq(run(b, sizeof(b)), 0); /* now a mismatch */
	cr_expect(regs.rax == 0x3333 && regs.rdx == 0x4444 && !(regs.rflags & 0x40));
	regs.rsi = lin_of(DATA_PAGE, 8);
	expect_gp0(b, sizeof(b)); /* misaligned */
	regs.rsi = lin_of(RO_PAGE, 0);
	cr_assert_eq(run(b, sizeof(b)), 1);
	cr_expect_eq(fault.vector, 14);
	cr_expect_eq(fault.error, 1 | 2, "supervisor write to a read-only page");
}

Test(insn, ldmxcsr_stmxcsr_through_the_core)
{
	static const uint8_t ld[] = { 0x0f, 0xae, 0x16 }, st[] = { 0x0f, 0xae, 0x1f };
	uint32_t v = 0x9fc0;

	memcpy(&fk.mem[DATA_PAGE][0], &v, 4);
	regs.rsi = lin_of(DATA_PAGE, 0);
	regs.rdi = lin_of(DATA_PAGE, 8);
	cr_assert_eq(run(ld, 3), 0);
	cr_expect_str_eq(what, "ldmxcsr");
	cr_expect_eq(fk.mxcsr, 0x9fc0);
	cr_assert_eq(run(st, 3), 0);
	memcpy(&v, &fk.mem[DATA_PAGE][8], 4);
	cr_expect_eq(v, 0x9fc0);
	v = 0x10000;
	memcpy(&fk.mem[DATA_PAGE][0], &v, 4);
	expect_gp0(ld, 3); /* reserved bit */
	cr_expect_eq(fk.mxcsr, 0x9fc0);
}

Test(insn, stmxcsr_across_pages)
{
	static const uint8_t st[] = { 0x0f, 0xae, 0x1f };
	uint8_t lo[2], hi[2];

	fk.mxcsr = 0x11223344 & 0xffff;
	regs.rdi = lin_of(2, 4094); /* two bytes in pages 2 and 3 */
	cr_assert_eq(run(st, 3), 0);
	memcpy(lo, &fk.mem[2][4094], 2);
	memcpy(hi, &fk.mem[3][0], 2);
	cr_expect(lo[0] == 0x44 && lo[1] == 0x33 && hi[0] == 0 && hi[1] == 0);
	regs.rdi = lin_of(RO_PAGE - 1, 4094); /* the second page is read-only: nothing written */
	memset(fk.mem[RO_PAGE - 1], 0xee, 4096);
	cr_assert_eq(run(st, 3), 1);
	cr_expect_eq(fault.vector, 14);
	cr_expect_eq(fault.cr2, lin_of(RO_PAGE, 0));
	cr_expect_eq(fk.mem[RO_PAGE - 1][4095], 0xee, "written before the fault");
}
