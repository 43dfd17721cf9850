/* insn: the architectural effect of each instruction kiln completes where KVM's emulator
 * cannot run it (PVM hosts; on other hosts KVM or the CPU runs them and kiln must never see
 * them): int imm8 through the IDT, clac/stac, xgetbv, clwb, invpcid, and #UD for rdpru and the
 * register form of movbe. Faults are checked too (#GP for a bad XCR or INVPCID type or a
 * non-canonical CLWB address, #UD for xgetbv with CR4.OSXSAVE clear). Parts whose feature the
 * guest's CPUID does not offer (QEMU's TCG lacks some) print "skipped" with the reason. */
#include "entry.h"

struct idt_gate {
	u16 off_lo, sel;
	u8 ist, type_attr;
	u16 off_mid;
	u32 off_hi, zero;
} PACKED;

static struct idt_gate idt[256] __attribute__((aligned(16)));

void kmain(u64 probe);

/* Every handler records the vector, the error code (0 where the CPU pushes none), the frame's
 * RIP and RSP, then resumes at resume_rip on resume_rsp (no iret, which some hosts cannot
 * emulate at ring 0). TRY() below sets both around one instruction. */
u64 resume_rip, resume_rsp, got_vector = ~0ull, got_error, got_rip, got_rsp, got_cs;
void exc_common(void);
__asm__(".text\n"
	"exc_common:\n"
	"	popq %rax; movq %rax, got_vector(%rip)\n"
	"	popq %rax; movq %rax, got_error(%rip)\n"
	"	movq 0(%rsp), %rax; movq %rax, got_rip(%rip)\n"
	"	movq 8(%rsp), %rax; movq %rax, got_cs(%rip)\n"
	"	movq 24(%rsp), %rax; movq %rax, got_rsp(%rip)\n"
	"	movq resume_rsp(%rip), %rsp\n"
	"	jmp *resume_rip(%rip)\n");
#define STUB(name, vec, pushes_error)                                                        \
	void name(void);                                                                     \
	__asm__(".text\n" #name ":\n" pushes_error "	pushq $" #vec "\n	jmp exc_common\n")
STUB(exc_ud, 6, "	pushq $0\n");
STUB(exc_gp, 13, "");
STUB(exc_pf, 14, "");
STUB(exc_int40, 0x40, "	pushq $0\n");

/* Runs `insn` (asm text, input operands `in`, clobbers beyond RAX in the rest) with a resume
 * point right after it; a handler, if one runs, lands there with got_vector set. */
#define TRY(insn, in, ...)                                                                   \
	do {                                                                                 \
		got_vector = ~0ull;                                                          \
		__asm__ volatile("leaq 1f(%%rip), %%rax; movq %%rax, resume_rip(%%rip)\n"    \
				 "movq %%rsp, resume_rsp(%%rip)\n" insn "\n1:\n"                 \
				 : : in : "rax", "memory", "cc", ##__VA_ARGS__);              \
	} while (0)

#define COMMA ,

static void set_gate(unsigned int vec, void (*fn)(void), u16 cs)
{
	u64 h = (u64)(uptr)fn;

	idt[vec] = (struct idt_gate){ .off_lo = (u16)h, .sel = cs, .type_attr = 0x8e,
				      .off_mid = (u16)(h >> 16), .off_hi = (u32)(h >> 32) };
}

static void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static void expect(int cond, const char *what)
{
	if (!cond)
		guest_fail(what);
}

static void expect_vector(u64 vec, u64 error, const char *what)
{
	if (got_vector != vec || (vec != 6 && got_error != error)) {
		serial_puts("vector ");
		serial_put_hex(got_vector);
		serial_puts(" error ");
		serial_put_hex(got_error);
		serial_putc('\n');
		guest_fail(what);
	}
}

static u64 rflags(void)
{
	u64 f;

	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

static u64 read_cr4(void)
{
	u64 v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static void write_cr4(u64 v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

#define CR4_PCIDE (1ull << 17)
#define CR4_OSXSAVE (1ull << 18)
#define RFLAGS_AC (1ull << 18)

static void test_int_imm8(u16 cs)
{
	extern char after_int40[];
	u64 rsp_before;

	__asm__ volatile("movq %%rsp, %0" : "=r"(rsp_before));
	TRY("int $0x40\n.globl after_int40\nafter_int40:", );
	expect_vector(0x40, 0, "int $0x40 did not reach the handler of vector 0x40");
	expect(got_rip == (u64)(uptr)after_int40, "int $0x40: frame RIP is not after the int");
	expect(got_cs == cs, "int $0x40: frame CS is wrong");
	expect(got_rsp == rsp_before, "int $0x40: frame RSP is not the interrupted stack");
	serial_puts("insn: int 0x40 delivered through the IDT, frame right\n");
}

static void test_clac_stac(u32 ebx7)
{
	u64 after_stac, after_clac;

	if (!(ebx7 & (1u << 20))) {
		serial_puts("insn: clac/stac skipped: SMAP not in CPUID\n");
		return;
	}
	__asm__ volatile("stac; pushfq; popq %0; clac; pushfq; popq %1"
			 : "=r"(after_stac), "=r"(after_clac) : : "memory", "cc");
	expect(after_stac & RFLAGS_AC, "stac did not set RFLAGS.AC");
	expect(!(after_clac & RFLAGS_AC), "clac did not clear RFLAGS.AC");
	expect(!(rflags() & RFLAGS_AC), "RFLAGS.AC set after clac");
	serial_puts("insn: stac set AC, clac cleared it\n");
}

static void test_xgetbv(u32 ecx1)
{
	u32 a, b, c, d, lo = 0, hi = 0;
	u64 cr4 = read_cr4(), supported;

	if (!(ecx1 & (1u << 26))) {
		serial_puts("insn: xgetbv skipped: XSAVE not in CPUID\n");
		return;
	}
	cpuid(0xd, 0, &a, &b, &c, &d);
	supported = (u64)d << 32 | a;
	write_cr4(cr4 | CR4_OSXSAVE);
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	expect(lo & 1, "xgetbv(0): XCR0 without x87, which is always set");
	expect(!(((u64)hi << 32 | lo) & ~supported), "xgetbv(0): XCR0 beyond CPUID.(0xd,0)");
	TRY("movl $0x55, %%ecx; xgetbv", , "rcx", "rdx");
	expect_vector(13, 0, "xgetbv with ECX=0x55 did not raise #GP(0)");
	write_cr4(cr4 & ~CR4_OSXSAVE);
	TRY("xorl %%ecx, %%ecx; xgetbv", , "rcx", "rdx");
	expect_vector(6, 0, "xgetbv with CR4.OSXSAVE clear did not raise #UD");
	write_cr4(cr4 | CR4_OSXSAVE);
	serial_puts("insn: xgetbv read XCR0 ");
	serial_put_hex(((u64)hi << 32) | lo);
	serial_puts(", #GP for XCR 0x55, #UD without CR4.OSXSAVE\n");
}

static u64 clwb_cell = 0x1234567890abcdefull;

static void test_clwb(u32 ebx7)
{
	if (!(ebx7 & (1u << 24))) {
		serial_puts("insn: clwb skipped: CLWB not in CPUID\n");
		return;
	}
	TRY("clwb %0", "m"(clwb_cell));
	expect(got_vector == ~0ull, "clwb of a mapped variable faulted");
	expect(clwb_cell == 0x1234567890abcdefull, "clwb changed memory");
	TRY("clwb (%0)", "r"(0x0000800000000000ull));
	expect_vector(13, 0, "clwb of a non-canonical address did not raise #GP(0)");
	serial_puts("insn: clwb kept memory, #GP(0) for a non-canonical address\n");
}

/* invpcid: a 4 KiB page at linear 512 GiB (PML4 slot 1, unused by kiln's tables) is switched
 * between two physical pages; after each INVPCID type the read must see the new one. */
static u64 pdpt[512] __attribute__((aligned(4096)));
static u64 pd[512] __attribute__((aligned(4096)));
static u64 pt[512] __attribute__((aligned(4096)));
static u64 page_a[512] __attribute__((aligned(4096)));
static u64 page_b[512] __attribute__((aligned(4096)));
#define TEST_LIN 0x8000000000ull

static void invpcid(u64 type, u64 pcid, u64 lin)
{
	struct {
		u64 pcid, lin;
	} desc = { pcid, lin };

	__asm__ volatile("invpcid %0, %1" : : "m"(desc), "r"(type) : "memory");
}

static void test_invpcid(u32 ebx7)
{
	static const char *const type_name[] = { "individual address", "single context",
						  "all contexts with globals", "all contexts" };
	u64 cr3, *pml4;
	volatile u64 *test = (volatile u64 *)(uptr)TEST_LIN;
	struct {
		u64 pcid, lin;
	} desc = { 0, 0 };

	if (!(ebx7 & (1u << 10))) {
		serial_puts("insn: invpcid skipped: INVPCID not in CPUID\n");
		return;
	}
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (u64 *)(uptr)(cr3 & 0x000ffffffffff000ull);
	expect(!(pml4[1] & 1), "PML4 slot 1 is in use: no room for the invpcid test page");
	page_a[0] = 0xaaaa;
	page_b[0] = 0xbbbb;
	pdpt[0] = (u64)(uptr)pd | 3;
	pd[0] = (u64)(uptr)pt | 3;
	pt[0] = (u64)(uptr)page_a | 3;
	pml4[1] = (u64)(uptr)pdpt | 3;
	expect(*test == 0xaaaa, "the test page does not read page A");
	for (u64 type = 0; type < 4; type++) {
		u64 *next = type & 1 ? page_a : page_b;

		pt[0] = (u64)(uptr)next | 3;
		invpcid(type, 0, TEST_LIN);
		if (*test != next[0]) {
			serial_puts("invpcid type: ");
			serial_puts(type_name[type]);
			serial_putc('\n');
			guest_fail("after invpcid the test page still reads the old page");
		}
	}
	TRY("invpcid %0, %1", "m"(desc) COMMA "r"(4ull));
	expect_vector(13, 0, "invpcid type 4 did not raise #GP(0)");
	if (!(read_cr4() & CR4_PCIDE)) {
		desc.pcid = 1;
		TRY("invpcid %0, %1", "m"(desc) COMMA "r"(1ull));
		expect_vector(13, 0, "invpcid type 1, PCID 1 with CR4.PCIDE clear did not raise #GP(0)");
	}
	pml4[1] = 0;
	invpcid(2, 0, 0);
	serial_puts("insn: invpcid types 0-3 made a changed PTE visible, #GP(0) for type 4\n");
}

static void test_ud(u32 ecx1)
{
	u32 a, b, c, d;

	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a >= 0x80000008)
		cpuid(0x80000008, 0, &a, &b, &c, &d);
	else
		b = 0;
	if (b & (1u << 4)) {
		serial_puts("insn: rdpru skipped: RDPRU is in CPUID\n");
	} else {
		TRY(".byte 0x0f, 0x01, 0xfd", , "rcx", "rdx"); /* rdpru */
		expect_vector(6, 0, "rdpru, hidden by CPUID, did not raise #UD");
		serial_puts("insn: rdpru raised #UD (not in CPUID)\n");
	}
	TRY(".byte 0x0f, 0x38, 0xf0, 0xc1", , "rcx"); /* movbe %ecx, %eax: no such form */
	expect_vector(6, 0, "movbe with a register operand did not raise #UD");
	if (!(ecx1 & (1u << 22))) {
		TRY("movbe (%%rsp), %%ecx", , "rcx");
		expect_vector(6, 0, "movbe, hidden by CPUID, did not raise #UD");
	}
	serial_puts("insn: movbe register form raised #UD\n");
}

void kmain(u64 probe)
{
	struct {
		u16 limit;
		u64 base;
	} PACKED idtr = { sizeof(idt) - 1, (u64)(uptr)idt };
	u32 a, b, ecx1, ebx7, d;
	u16 cs;

	check_entry_stack(probe);
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	set_gate(6, exc_ud, cs);
	set_gate(13, exc_gp, cs);
	set_gate(14, exc_pf, cs);
	set_gate(0x40, exc_int40, cs);
	__asm__ volatile("lidt %0" : : "m"(idtr));
	cpuid(1, 0, &a, &b, &ecx1, &d);
	cpuid(7, 0, &a, &ebx7, &b, &d);

	test_int_imm8(cs);
	test_clac_stac(ebx7);
	test_xgetbv(ecx1);
	test_clwb(ebx7);
	test_invpcid(ebx7);
	test_ud(ecx1);
	guest_success();
}
