/* fuzz_x86_emulate.c: libFuzzer target for the instruction completion of src/arch/x86/emulate.c
 * (x86_emulate_insn()): any instruction bytes in any register state, over a fake vCPU whose
 * guest-linear window is a few pages with per-page present/writable/user/not-RAM bits.
 * Besides ASan and UBSan it checks the contract: map() is never asked across a page, a fault
 * or a refusal leaves the registers as they were, a fault is one the completions can raise, and
 * a completion names the instruction and moves RIP (an int may land anywhere).
 *
 * Input layout (little-endian):
 *   [0]      mode: 0x01 64-bit (else 32-bit protected; with 0x40 too, real mode), 0x02 CPL 3,
 *            0x04 CR4.PCIDE, 0x08 CR4.OSXSAVE, 0x10 CR4.LA57, 0x20 RFLAGS.VM
 *   [1]      CPUID: 0x01 XSAVE, 0x02 MOVBE, 0x04 INVPCID, 0x08 SMAP, 0x10 CLWB, 0x20 XGETBV_ECX1,
 *            0x40 RDPRU
 *   [2,10)   page bits, one byte per page (0x1 present, 0x2 writable, 0x4 user, 0x8 not RAM)
 *   [10,42)  the 16 general registers, two bytes each: 0x8000 set means WINDOW + (v & 0x7fff),
 *            else the value itself; RIP, the IDT and the TSS lie in the window at fixed places
 *   [42,57)  the instruction (15 bytes)
 *   [57,..)  the window's contents (the rest zero)
 * tests/fuzz/make_corpus.py writes seeds in this format. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/emulate.h"

#define WINDOW 0xffffffff80000000ull
#define NPAGES 8
#define HDR 57

struct fake {
	uint8_t mem[NPAGES][4096];
	uint8_t bits[NPAGES];
	uint8_t cpuid;
	uint32_t mxcsr;
};

static struct fake fk;

static void *fake_map(void *ctx, uint64_t lin, size_t len, bool write, bool user, uint32_t *pf)
{
	struct fake *f = ctx;
	uint64_t page = (lin - WINDOW) >> 12;
	uint32_t wu = (write ? 2u : 0) | (user ? 4u : 0);

	if (len == 0 || (lin & 0xfff) + len > 4096)
		abort(); /* the contract: one page at a time */
	if (lin < WINDOW || page >= NPAGES || !(f->bits[page] & 1)) {
		*pf = wu;
		return NULL;
	}
	if ((write && !(f->bits[page] & 2)) || (user && !(f->bits[page] & 4))) {
		*pf = 1u | wu;
		return NULL;
	}
	if (f->bits[page] & 8) {
		*pf = ~0u;
		return NULL;
	}
	return &f->mem[page][lin & 0xfff];
}

static int fake_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	uint8_t c = ((struct fake *)ctx)->cpuid;

	memset(out, 0, 4 * sizeof(uint32_t));
	if (leaf == 1)
		out[2] = (c & 1 ? 1u << 26 : 0) | (c & 2 ? 1u << 22 : 0);
	else if (leaf == 7 && sub == 0)
		out[1] = (c & 4 ? 1u << 10 : 0) | (c & 8 ? 1u << 20 : 0) | (c & 0x10 ? 1u << 24 : 0);
	else if (leaf == 0xd && sub == 1)
		out[0] = c & 0x20 ? 1u << 2 : 0;
	else if (leaf == 0x80000008)
		out[1] = c & 0x40 ? 1u << 4 : 0;
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
	if (v & ~0xffffu)
		abort(); /* reserved bits must have been #GP */
	((struct fake *)ctx)->mxcsr = v;
	return 0;
}

static int fake_get_xcr0(void *ctx, uint64_t *v)
{
	(void)ctx;
	*v = 0x7;
	return 0;
}

static int fake_flush(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct x86_emu_ops ops = {
	.map = fake_map, .cpuid = fake_cpuid, .get_mxcsr = fake_get_mxcsr,
	.set_mxcsr = fake_set_mxcsr, .get_xcr0 = fake_get_xcr0, .flush_tlb = fake_flush,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvm_regs r, before;
	struct kvm_sregs s;
	struct x86_fault f;
	__u64 *gpr[16];
	const char *what = NULL;
	uint8_t mode, insn[15];
	int e;

	if (size < HDR)
		return 0;
	memset(&fk, 0, sizeof(fk));
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	mode = data[0];
	fk.cpuid = data[1];
	fk.mxcsr = 0x1f80;
	memcpy(fk.bits, data + 2, NPAGES);
	gpr[0] = &r.rax; gpr[1] = &r.rcx; gpr[2] = &r.rdx; gpr[3] = &r.rbx;
	gpr[4] = &r.rsp; gpr[5] = &r.rbp; gpr[6] = &r.rsi; gpr[7] = &r.rdi;
	gpr[8] = &r.r8; gpr[9] = &r.r9; gpr[10] = &r.r10; gpr[11] = &r.r11;
	gpr[12] = &r.r12; gpr[13] = &r.r13; gpr[14] = &r.r14; gpr[15] = &r.r15;
	for (int i = 0; i < 16; i++) {
		uint16_t v = (uint16_t)(data[10 + 2 * i] | data[11 + 2 * i] << 8);

		*gpr[i] = v & 0x8000 ? WINDOW + (v & 0x7fff) : v;
	}
	memcpy(insn, data + 42, sizeof(insn));
	memcpy(fk.mem, data + HDR, size - HDR < sizeof(fk.mem) ? size - HDR : sizeof(fk.mem));

	r.rip = WINDOW + 0x10;
	r.rflags = 0x2 | (mode & 0x20 ? 1u << 17 : 0);
	s.cr0 = mode & 0x40 && !(mode & 1) ? 0x10 : 0x80050033;
	s.cr4 = 0x620 | (mode & 4 ? 1u << 17 : 0) | (mode & 8 ? 1u << 18 : 0) |
		(mode & 0x10 ? 1u << 12 : 0);
	if (mode & 1) {
		s.efer = 0x500;
		s.cs.l = 1;
	} else {
		s.cs.db = 1;
	}
	s.cs.selector = mode & 2 ? 0x33 : 0x10;
	s.ss.selector = mode & 2 ? 0x2b : 0x18;
	s.idt.base = WINDOW + 0x1000;
	s.idt.limit = 0xfff;
	s.tr.base = WINDOW + 0x2000;
	s.gs.base = WINDOW + 0x3000;

	before = r;
	e = x86_emulate_insn(&ops, &fk, insn, sizeof(insn), &r, &s, &what, &f);
	if (e == 1) {
		if (memcmp(&before, &r, sizeof(r)) || !what)
			abort();
		if (f.vector != 6 && f.vector != 11 && f.vector != 12 && f.vector != 13 &&
		    f.vector != 14)
			abort();
	} else if (e == 0) {
		if (!what || (r.rip == before.rip && strncmp(what, "int", 3)))
			abort();
	} else if (e != -ENOTSUP || memcmp(&before, &r, sizeof(r))) {
		abort();
	}
	return 0;
}
