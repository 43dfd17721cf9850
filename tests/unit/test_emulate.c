/* test_emulate.c: decoding the memory operands of cmpxchg16b, ldmxcsr and stmxcsr
 * (src/arch/x86/emulate.c) from the bytes KVM reports with an emulation failure: every
 * addressing form, prefixes, and bytes that are some other instruction or cut short. Encodings are what GNU as emits for the instructions named. */
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
