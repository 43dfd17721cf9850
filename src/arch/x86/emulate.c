/* emulate.c: userspace completion of the instructions KVM's emulator could not run (int3,
 * int imm8, fwait, cmpxchg16b, ldmxcsr/stmxcsr, clac/stac, clwb, xgetbv, invpcid) after an
 * emulation failure, and #UD for those the guest's CPUID hides (rdpru, movbe). The core,
 * x86_emulate_insn(), sees the vCPU through struct x86_emu_ops only, so it is unit-tested and
 * fuzzed without KVM; arch_complete_insn() gives it KVM's. */
#include "arch/x86/emulate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/x86/regs.h"
#include "util/checked.h"

#define X86_EFER_LMA_BIT (1ull << 10)
#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_VM (1ull << 17)
#define RFLAGS_AC (1ull << 18)
#define GATE_INTERRUPT 0xe
#define GATE_TRAP 0xf
#define VECTOR_UD 6
#define VECTOR_NP 11
#define VECTOR_SS 12
#define VECTOR_GP 13
#define VECTOR_PF 14
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_EM (1ull << 2)
#define X86_CR0_TS (1ull << 3)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_LA57 (1ull << 12)
#define X86_CR4_PCIDE (1ull << 17)
#define X86_CR4_OSXSAVE (1ull << 18)
#define MXCSR_VALID 0xffffu /* MXCSR_MASK with DAZ (SDM vol. 1, 11.6.6) */
#define XSAVE_MXCSR 24      /* legacy region (SDM vol. 1, table 13-1) */
#define XSAVE_XSTATE_BV 512 /* XSAVE header (13.4.2) */
#define XFEATURE_SSE (1ull << 1)
#define TSS64_IST1 0x24
/* CPUID feature bits (SDM vol. 2A, CPUID; AMD APM vol. 3, E.4.7 for RDPRU). */
#define CPUID_1_ECX_MOVBE (1u << 22)
#define CPUID_1_ECX_XSAVE (1u << 26)
#define CPUID_7_EBX_INVPCID (1u << 10)
#define CPUID_7_EBX_SMAP (1u << 20)
#define CPUID_7_EBX_CLWB (1u << 24)
#define CPUID_D1_EAX_XGETBV_ECX1 (1u << 2)
#define CPUID_80000008_EBX_RDPRU (1u << 4)
#define PF_ERR_P (1u << 0)
#define PF_ERR_W (1u << 1)
#define PF_ERR_U (1u << 2)
#define PF_NOT_RAM (~0u)
#define IDT_ERR(vec) ((uint32_t)(vec) * 8 + 2) /* error code naming an IDT entry (6.13) */

/* General register by its 4-bit encoding (SDM vol. 2, 2.1.5 and 2.2.1.2: REX extends it). */
static uint64_t gpr(const struct kvm_regs *r, unsigned int n)
{
	switch (n & 15) {
	case 0: return r->rax;
	case 1: return r->rcx;
	case 2: return r->rdx;
	case 3: return r->rbx;
	case 4: return r->rsp;
	case 5: return r->rbp;
	case 6: return r->rsi;
	case 7: return r->rdi;
	case 8: return r->r8;
	case 9: return r->r9;
	case 10: return r->r10;
	case 11: return r->r11;
	case 12: return r->r12;
	case 13: return r->r13;
	case 14: return r->r14;
	default: return r->r15;
	}
}

/* Legacy prefixes, any order (SDM vol. 2, 2.1.1), up to 4; in 64-bit mode only the FS and GS
 * overrides have a base (vol. 1, 3.4.2.1). Returns the index of the first other byte; an
 * operand- or address-size override or a repeat prefix ends the scan (it makes some other
 * instruction, or one Linux never uses here, and the caller's opcode check then rejects it). */
static unsigned int scan_prefixes(const uint8_t *insn, unsigned int len, const struct kvm_sregs *s,
				  uint64_t *seg_base)
{
	unsigned int i;

	*seg_base = 0;
	for (i = 0; i < len && i < 4; i++) {
		if (insn[i] == 0xf0 || insn[i] == 0x2e || insn[i] == 0x36 || insn[i] == 0x3e ||
		    insn[i] == 0x26)
			continue;
		if (insn[i] == 0x64)
			*seg_base = s->fs.base;
		else if (insn[i] == 0x65)
			*seg_base = s->gs.base;
		else
			break;
	}
	return i;
}

/* The memory operand of the ModRM byte at insn[i] in 64-bit mode (SDM vol. 2, 2.1.5 and 2.2.1):
 * SIB, disp8/disp32, RIP-relative, REX.B/REX.X extending base and index. Returns 0 with the
 * ModRM reg field, the linear address and the instruction's length; -ENOTSUP for a register
 * operand (mod 3) or bytes cut short. */
static int decode_mem_operand(const uint8_t *insn, unsigned int len, unsigned int i,
			      unsigned int rex, uint64_t seg_base, const struct kvm_regs *r,
			      unsigned int *reg, uint64_t *linear, unsigned int *ilen)
{
	unsigned int mod, rm, sib, index;
	uint64_t addr = 0;
	int32_t disp = 0;
	bool rip_rel = false, disp32 = false;

	if (i >= len)
		return -ENOTSUP;
	mod = insn[i] >> 6;
	rm = insn[i] & 7;
	*reg = (insn[i] >> 3) & 7;
	if (mod == 3)
		return -ENOTSUP;
	i++;
	if (rm == 4) { /* SIB (table 2-3) */
		if (i >= len)
			return -ENOTSUP;
		sib = insn[i++];
		index = ((sib >> 3) & 7) | (rex & 2) << 2;
		if (index != 4) /* 100 without REX.X: no index */
			addr = gpr(r, index) << (sib >> 6);
		if ((sib & 7) == 5 && mod == 0)
			disp32 = true; /* no base, disp32 */
		else
			addr += gpr(r, (sib & 7) | (rex & 1) << 3);
	} else if (rm == 5 && mod == 0) {
		rip_rel = disp32 = true; /* RIP + disp32 (2.2.1.6) */
	} else {
		addr = gpr(r, rm | (rex & 1) << 3);
	}
	if (mod == 1) {
		if (i + 1 > len)
			return -ENOTSUP;
		disp = (int8_t)insn[i];
		i += 1;
	} else if (mod == 2 || disp32) {
		if (i + 4 > len)
			return -ENOTSUP;
		disp = (int32_t)((uint32_t)insn[i] | (uint32_t)insn[i + 1] << 8 |
				 (uint32_t)insn[i + 2] << 16 | (uint32_t)insn[i + 3] << 24);
		i += 4;
	}
	if (rip_rel)
		addr = r->rip + i;
	*linear = seg_base + addr + (uint64_t)(int64_t)disp;
	*ilen = i;
	return 0;
}

int x86_decode_cmpxchg16b(const uint8_t *insn, unsigned int len, const struct kvm_regs *r,
			  const struct kvm_sregs *s, uint64_t *linear, unsigned int *ilen)
{
	uint64_t seg_base;
	unsigned int i, reg;

	if (!(s->efer & X86_EFER_LMA_BIT) || !s->cs.l)
		return -ENOTSUP; /* only 64-bit code: REX.W does not exist elsewhere */
	i = scan_prefixes(insn, len, s, &seg_base);
	/* REX.W (0x48-0x4f), 0f c7 /1 with a memory operand. */
	if (i + 4 > len || (insn[i] & 0xf8) != 0x48 || insn[i + 1] != 0x0f || insn[i + 2] != 0xc7)
		return -ENOTSUP;
	if (decode_mem_operand(insn, len, i + 3, insn[i], seg_base, r, &reg, linear, ilen) ||
	    reg != 1)
		return -ENOTSUP;
	return 0;
}

int x86_decode_mxcsr_op(const uint8_t *insn, unsigned int len, const struct kvm_regs *r,
			const struct kvm_sregs *s, bool *store, uint64_t *linear, unsigned int *ilen)
{
	uint64_t seg_base;
	unsigned int i, rex = 0, reg;

	if (!(s->efer & X86_EFER_LMA_BIT) || !s->cs.l)
		return -ENOTSUP; /* Linux's kernel_fpu_begin(): 64-bit code */
	i = scan_prefixes(insn, len, s, &seg_base);
	if (i < len && (insn[i] & 0xf0) == 0x40)
		rex = insn[i++];
	/* 0f ae /2 (ldmxcsr m32), /3 (stmxcsr m32); /0, /1, /4-/7 are fxsave, xsave and friends. */
	if (i + 3 > len || insn[i] != 0x0f || insn[i + 1] != 0xae)
		return -ENOTSUP;
	if (decode_mem_operand(insn, len, i + 2, rex, seg_base, r, &reg, linear, ilen) ||
	    (reg != 2 && reg != 3))
		return -ENOTSUP;
	*store = reg == 3;
	return 0;
}

/* lock cmpxchg16b on the host's view of the guest's memory, which is atomic against the other
 * vCPUs (and against KVM's own emulation of locked instructions) because it is the same memory.
 * Inline assembly rather than __atomic_compare_exchange_n: for 16 bytes GCC calls libatomic. */
static bool host_cmpxchg16b(void *p, uint64_t *rax, uint64_t *rdx, uint64_t rbx, uint64_t rcx)
{
	bool equal;

	__asm__ volatile("lock cmpxchg16b %1"
			 : "=@ccz"(equal), "+m"(*(volatile unsigned __int128 *)p), "+a"(*rax),
			   "+d"(*rdx)
			 : "b"(rbx), "c"(rcx)
			 : "memory");
	return equal;
}

/* The legacy prefixes (SDM vol. 2, 2.1.1), any order, and a REX right after them in 64-bit mode
 * (2.2.1). */
struct prefixes {
	bool lock, rep, repne, opsize, adsize;
	bool seg_override, ss; /* any segment override; the last one SS */
	uint64_t seg_base;                          /* FS or GS base in 64-bit mode, else 0 */
	unsigned int rex;
	unsigned int n; /* bytes of prefixes, REX included */
};

static bool long_mode(const struct kvm_sregs *s)
{
	return (s->efer & X86_EFER_LMA_BIT) && s->cs.l;
}

/* CPL: 0 in real mode, 3 in virtual-8086 mode, else CS.RPL (which equals it outside the
 * transitions no completed instruction is in). */
static unsigned int cpl(const struct kvm_regs *r, const struct kvm_sregs *s)
{
	if (!(s->cr0 & X86_CR0_PE))
		return 0;
	if (r->rflags & RFLAGS_VM)
		return 3;
	return s->cs.selector & 3;
}

static void scan_all_prefixes(const uint8_t *insn, unsigned int len, const struct kvm_sregs *s,
			      struct prefixes *p)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < len && i < 14; i++) {
		switch (insn[i]) {
		case 0xf0: p->lock = true; continue;
		case 0xf2: p->repne = true; p->rep = false; continue;
		case 0xf3: p->rep = true; p->repne = false; continue;
		case 0x66: p->opsize = true; continue;
		case 0x67: p->adsize = true; continue;
		case 0x26: case 0x2e: case 0x3e: p->ss = false; p->seg_base = 0; break;
		case 0x36: p->ss = true; p->seg_base = 0; break;
		case 0x64: p->ss = false; p->seg_base = long_mode(s) ? s->fs.base : 0; break;
		case 0x65: p->ss = false; p->seg_base = long_mode(s) ? s->gs.base : 0; break;
		default: goto done;
		}
		p->seg_override = true;
	}
done:
	if (long_mode(s) && i < len && (insn[i] & 0xf0) == 0x40)
		p->rex = insn[i++];
	p->n = i;
}

/* RIP after an instruction of `ilen` bytes, wrapped to the code segment's size. */
static void advance(struct kvm_regs *r, const struct kvm_sregs *s, unsigned int ilen)
{
	r->rip += ilen;
	if (!long_mode(s))
		r->rip &= s->cs.db && (s->cr0 & X86_CR0_PE) ? 0xffffffffull : 0xffffull;
}

static bool canonical(const struct kvm_sregs *s, uint64_t lin)
{
	unsigned int bits = s->cr4 & X86_CR4_LA57 ? 57 : 48;

	return (uint64_t)((int64_t)(lin << (64 - bits)) >> (64 - bits)) == lin;
}

static int fault_of(struct x86_fault *f, uint8_t vector, bool has_error, uint32_t error)
{
	*f = (struct x86_fault){ .vector = vector, .has_error = has_error, .error = error };
	return 1;
}

static int ud(struct x86_fault *f)
{
	return fault_of(f, VECTOR_UD, false, 0);
}

static int gp0(struct x86_fault *f)
{
	return fault_of(f, VECTOR_GP, true, 0);
}

/* A #PF for `lin`, or -ENOTSUP where the page is not RAM (left to the report). */
static int page_fault(struct x86_fault *f, uint64_t lin, uint32_t pf_error)
{
	if (pf_error == PF_NOT_RAM)
		return -ENOTSUP;
	fault_of(f, VECTOR_PF, true, pf_error);
	f->cr2 = lin;
	return 1;
}

/* Reads `len` bytes at guest-linear `lin`, page by page. Returns 0, 1 with a #PF in *f, or
 * -ENOTSUP. */
static int read_linear(const struct x86_emu_ops *ops, void *ctx, uint64_t lin, void *dst,
		       size_t len, bool user, struct x86_fault *f)
{
	uint8_t *d = dst;

	while (len) {
		size_t chunk = 0x1000 - (lin & 0xfff) < len ? 0x1000 - (lin & 0xfff) : len;
		uint32_t pf_error = PF_NOT_RAM;
		const void *p = ops->map(ctx, lin, chunk, false, user, &pf_error);

		if (!p)
			return page_fault(f, lin, pf_error);
		memcpy(d, p, chunk);
		d += chunk;
		lin += chunk;
		len -= chunk;
	}
	return 0;
}

/* Writes `len` (at most 16) bytes at guest-linear `lin`: every page is checked before any byte
 * is written, so a fault leaves memory as it was. Returns 0, 1 with a #PF in *f, or -ENOTSUP. */
static int write_linear(const struct x86_emu_ops *ops, void *ctx, uint64_t lin, const void *src,
			size_t len, bool user, struct x86_fault *f)
{
	size_t first = 0x1000 - (lin & 0xfff) < len ? 0x1000 - (lin & 0xfff) : len;
	uint32_t pf_error = PF_NOT_RAM;
	uint8_t *p0, *p1 = NULL;

	if (len > 16)
		return -ENOTSUP;
	p0 = ops->map(ctx, lin, first, true, user, &pf_error);
	if (!p0)
		return page_fault(f, lin, pf_error);
	if (first < len) {
		p1 = ops->map(ctx, lin + first, len - first, true, user, &pf_error);
		if (!p1)
			return page_fault(f, lin + first, pf_error);
	}
	memcpy(p0, src, first);
	if (p1)
		memcpy(p1, (const uint8_t *)src + first, len - first);
	return 0;
}

/* A guest CPUID bit: leaf, subleaf, register (0 eax .. 3 edx), mask. A leaf the guest lacks
 * reads as zeros. */
static bool has_cpuid(const struct x86_emu_ops *ops, void *ctx, uint32_t leaf, uint32_t sub,
		      unsigned int reg, uint32_t mask)
{
	uint32_t out[4] = { 0, 0, 0, 0 };

	if (ops->cpuid(ctx, leaf, sub, out))
		return false;
	return out[reg] & mask;
}

/* The memory operand of a 64-bit-mode instruction whose ModRM byte is at insn[i]: checks the
 * address is canonical (#GP(0), #SS(0) through SS). Returns 0 with the linear address, the
 * ModRM reg field (REX.R-extended) and the instruction's length; 1 with a fault; -ENOTSUP for a
 * register operand, 32-bit addressing or bytes cut short. */
static int mem_operand(const uint8_t *insn, unsigned int len, unsigned int i,
		       const struct prefixes *p, const struct kvm_regs *r,
		       const struct kvm_sregs *s, unsigned int *reg, uint64_t *lin,
		       unsigned int *ilen, struct x86_fault *f)
{
	unsigned int mod, rm, base;
	bool ss;

	if (p->adsize || decode_mem_operand(insn, len, i, p->rex, p->seg_base, r, reg, lin, ilen))
		return -ENOTSUP;
	*reg |= (p->rex & 4) << 1;
	/* SS is the default segment of an RSP or RBP base (SDM vol. 1, 3.7.4.1). */
	mod = insn[i] >> 6;
	rm = insn[i] & 7;
	if (rm == 4)
		base = insn[i + 1] & 7; /* the SIB byte, there since decode_mem_operand() passed */
	else
		base = rm;
	ss = p->ss || (!p->seg_override && !(p->rex & 1) &&
		       ((rm == 4 && base == 4) || (base == 5 && mod != 0)));
	if (!canonical(s, *lin))
		return fault_of(f, ss ? VECTOR_SS : VECTOR_GP, true, 0);
	return 0;
}

/* int3 and int imm8 through a 64-bit IDT gate from CPL 0 to CPL 0 (SDM vol. 3, 6.12.1 and 6.14;
 * vol. 2A, "INT n/INTO/INT3/INT1"): the gate must lie within the IDT limit, be an interrupt or
 * trap gate whose DPL is at least the CPL (else #GP(vector*8+2)) and be present (else
 * #NP(vector*8+2)). The frame: SS, RSP, RFLAGS, CS, RIP after the instruction, on the IST stack
 * if the gate names one, 16-byte aligned; no error code (a software interrupt has none); TF, NT,
 * RF (and IF for an interrupt gate) cleared. A change of privilege or of code segment is left to
 * the report. */
static int soft_int(const struct x86_emu_ops *ops, void *ctx, struct kvm_regs *r,
		    const struct kvm_sregs *s, unsigned int vector, unsigned int ilen,
		    struct x86_fault *f)
{
	uint8_t gate[16];
	uint64_t target, rsp, frame[5];
	unsigned int type, ist, dpl;
	uint16_t sel;
	int e;

	if (!long_mode(s))
		return -ENOTSUP;
	if ((uint64_t)vector * 16 + 15 > s->idt.limit)
		return fault_of(f, VECTOR_GP, true, IDT_ERR(vector));
	e = read_linear(ops, ctx, s->idt.base + vector * 16, gate, sizeof(gate), false, f);
	if (e)
		return e < 0 ? e : -ENOTSUP; /* a #PF reading the IDT is a double fault */
	type = gate[5] & 0xf;
	dpl = (gate[5] >> 5) & 3;
	ist = gate[4] & 0x7;
	sel = (uint16_t)(gate[2] | gate[3] << 8);
	if ((type != GATE_INTERRUPT && type != GATE_TRAP) || dpl < cpl(r, s))
		return fault_of(f, VECTOR_GP, true, IDT_ERR(vector));
	if (!(gate[5] & 0x80))
		return fault_of(f, VECTOR_NP, true, IDT_ERR(vector));
	if (cpl(r, s) != 0 || sel != s->cs.selector)
		return -ENOTSUP;
	target = (uint64_t)(gate[0] | gate[1] << 8) | (uint64_t)(gate[6] | gate[7] << 8) << 16 |
		 (uint64_t)(gate[8] | gate[9] << 8 | gate[10] << 16 | (uint32_t)gate[11] << 24) << 32;
	if (!canonical(s, target))
		return -ENOTSUP;
	rsp = r->rsp;
	if (ist) {
		e = read_linear(ops, ctx, s->tr.base + TSS64_IST1 + (ist - 1) * 8, &rsp,
				sizeof(rsp), false, f);
		if (e)
			return e < 0 ? e : -ENOTSUP;
	}
	rsp &= ~0xfull;
	frame[0] = r->rip + ilen;
	frame[1] = s->cs.selector;
	frame[2] = r->rflags;
	frame[3] = r->rsp;
	frame[4] = s->ss.selector;
	rsp -= sizeof(frame);
	for (unsigned int i = 0; i < 5; i++) {
		uint32_t pf_error;
		uint64_t *slot = ops->map(ctx, rsp + i * 8, 8, true, false, &pf_error);

		if (!slot)
			return -ENOTSUP; /* a #PF pushing the frame: a double fault, not ours */
		memcpy(slot, &frame[i], 8);
	}
	r->rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
	if (type == GATE_INTERRUPT)
		r->rflags &= ~RFLAGS_IF;
	r->rsp = rsp;
	r->rip = target;
	return 0;
}

/* cmpxchg16b m128: if RDX:RAX equals m128, ZF = 1 and m128 = RCX:RBX, else ZF = 0 and RDX:RAX =
 * m128 (SDM vol. 2A, "CMPXCHG8B/CMPXCHG16B"). A misaligned operand is #GP(0); the operand is
 * written through the guest's page tables (#PF where they refuse it). */
static int do_cmpxchg16b(const struct x86_emu_ops *ops, void *ctx, const uint8_t *insn,
			 unsigned int len, struct kvm_regs *r, const struct kvm_sregs *s,
			 struct x86_fault *f)
{
	uint64_t lin, rax = r->rax, rdx = r->rdx;
	unsigned int ilen;
	uint32_t pf_error = PF_NOT_RAM;
	void *p;

	if (x86_decode_cmpxchg16b(insn, len, r, s, &lin, &ilen))
		return -ENOTSUP;
	if (lin & 15 || !canonical(s, lin))
		return gp0(f);
	p = ops->map(ctx, lin, 16, true, cpl(r, s) == 3, &pf_error);
	if (!p)
		return page_fault(f, lin, pf_error);
	if (host_cmpxchg16b(p, &rax, &rdx, r->rbx, r->rcx)) {
		r->rflags |= RFLAGS_ZF;
	} else {
		r->rflags &= ~RFLAGS_ZF;
		r->rax = rax;
		r->rdx = rdx;
	}
	advance(r, s, ilen);
	return 0;
}

/* ldmxcsr m32 / stmxcsr m32 (SDM vol. 2B, "LDMXCSR", "STMXCSR"): reserved bits (above
 * MXCSR_MASK, 0xffff on every CPU with DAZ) in a loaded value are #GP(0). CR0.EM, CR0.TS or no
 * CR4.OSFXSR would be #UD or #NM, which Linux never takes in kernel_fpu_begin(): left to the
 * report, as is user mode. */
static int do_mxcsr(const struct x86_emu_ops *ops, void *ctx, const uint8_t *insn,
		    unsigned int len, struct kvm_regs *r, const struct kvm_sregs *s,
		    const char **what, struct x86_fault *f)
{
	uint64_t lin;
	unsigned int ilen;
	uint32_t v;
	bool store;
	int e;

	if (x86_decode_mxcsr_op(insn, len, r, s, &store, &lin, &ilen))
		return -ENOTSUP;
	if ((s->cr0 & (X86_CR0_EM | X86_CR0_TS)) || !(s->cr4 & X86_CR4_OSFXSR) || cpl(r, s) != 0)
		return -ENOTSUP;
	*what = store ? "stmxcsr" : "ldmxcsr";
	if (!canonical(s, lin))
		return gp0(f);
	if (store) {
		e = ops->get_mxcsr(ctx, &v);
		if (e)
			return e;
		e = write_linear(ops, ctx, lin, &v, sizeof(v), false, f);
		if (e)
			return e;
	} else {
		e = read_linear(ops, ctx, lin, &v, sizeof(v), false, f);
		if (e)
			return e;
		if (v & ~MXCSR_VALID)
			return gp0(f);
		e = ops->set_mxcsr(ctx, v);
		if (e)
			return e;
	}
	advance(r, s, ilen);
	return 0;
}

/* xgetbv (0f 01 d0; SDM vol. 2C, "XGETBV"): EDX:EAX = XCR[ECX]. #UD without XSAVE in CPUID or
 * with CR4.OSXSAVE clear; #GP(0) for an XCR other than 0, or 1 where CPUID offers it. XCR1 is
 * XINUSE & XCR0; KVM does not report XINUSE, and reporting a component in use when it is in
 * its initial state is allowed (SDM vol. 1, 13.6), so it reads as XCR0. */
static int do_xgetbv(const struct x86_emu_ops *ops, void *ctx, struct kvm_regs *r,
		     const struct kvm_sregs *s, unsigned int ilen, struct x86_fault *f)
{
	uint32_t ecx = (uint32_t)r->rcx;
	uint64_t v;
	int e;

	if (!has_cpuid(ops, ctx, 1, 0, 2, CPUID_1_ECX_XSAVE) || !(s->cr4 & X86_CR4_OSXSAVE))
		return ud(f);
	if (ecx > 1 || (ecx == 1 && !has_cpuid(ops, ctx, 0xd, 1, 0, CPUID_D1_EAX_XGETBV_ECX1)))
		return gp0(f);
	e = ops->get_xcr0(ctx, &v);
	if (e)
		return e;
	r->rax = (uint32_t)v;
	r->rdx = v >> 32;
	advance(r, s, ilen);
	return 0;
}

/* clwb m8 (66 0f ae /6 with a memory operand; SDM vol. 2A, "CLWB"): writes a cache line back;
 * guest memory is the host's, coherent, and kiln has no persistent memory, so only its faults
 * are left: #UD without CLWB in CPUID, #GP(0)/#SS(0) for a non-canonical address, #PF where
 * the byte could not be read. */
static int do_clwb(const struct x86_emu_ops *ops, void *ctx, const uint8_t *insn,
		   unsigned int len, unsigned int i, const struct prefixes *p, struct kvm_regs *r,
		   const struct kvm_sregs *s, struct x86_fault *f)
{
	uint64_t lin;
	unsigned int reg, ilen;
	uint8_t byte;
	int e;

	if (!has_cpuid(ops, ctx, 7, 0, 1, CPUID_7_EBX_CLWB))
		return ud(f);
	e = mem_operand(insn, len, i, p, r, s, &reg, &lin, &ilen, f);
	if (e)
		return e;
	e = read_linear(ops, ctx, lin, &byte, 1, cpl(r, s) == 3, f);
	if (e)
		return e;
	advance(r, s, ilen);
	return 0;
}

/* invpcid r64, m128 (66 0f 38 82 /r; SDM vol. 2A, "INVPCID"): #UD without INVPCID in CPUID or
 * for a register operand; #GP(0) above CPL 0, for a type above 3, a descriptor with bits 63:12
 * set, a non-canonical address for type 0, a PCID other than 0 for types 0 and 1 with
 * CR4.PCIDE clear; #PF reading the descriptor. Any type is done by invalidating every TLB entry
 * of the vCPU, which the SDM allows ("may invalidate more"). */
static int do_invpcid(const struct x86_emu_ops *ops, void *ctx, const uint8_t *insn,
		      unsigned int len, unsigned int i, const struct prefixes *p,
		      struct kvm_regs *r, const struct kvm_sregs *s, struct x86_fault *f)
{
	uint64_t lin, desc[2], type;
	unsigned int reg, ilen;
	int e;

	if (!has_cpuid(ops, ctx, 7, 0, 1, CPUID_7_EBX_INVPCID) || (insn[i] >> 6) == 3)
		return ud(f);
	if (!long_mode(s))
		return -ENOTSUP; /* the r32 form of protected mode */
	if (cpl(r, s) != 0)
		return gp0(f);
	e = mem_operand(insn, len, i, p, r, s, &reg, &lin, &ilen, f);
	if (e)
		return e;
	e = read_linear(ops, ctx, lin, desc, sizeof(desc), false, f);
	if (e)
		return e;
	type = gpr(r, reg);
	if (type > 3 || desc[0] >> 12)
		return gp0(f);
	if (type == 0 && !canonical(s, desc[1]))
		return gp0(f);
	if (type <= 1 && !(s->cr4 & X86_CR4_PCIDE) && (desc[0] & 0xfff))
		return gp0(f);
	e = ops->flush_tlb(ctx);
	if (e)
		return e;
	advance(r, s, ilen);
	return 0;
}

int x86_emulate_insn(const struct x86_emu_ops *ops, void *ctx, const uint8_t *insn,
		     unsigned int len, struct kvm_regs *r, const struct kvm_sregs *s,
		     const char **what, struct x86_fault *f)
{
	struct prefixes p;
	const uint8_t *op;
	unsigned int n, i;

	if (len == 0)
		return -ENOTSUP;
	if (len > 15)
		len = 15;
	if (insn[0] == 0x9b) {
		*what = "fwait";
		advance(r, s, 1);
		return 0;
	}
	scan_all_prefixes(insn, len, s, &p);
	i = p.n;
	op = insn + i;
	n = len - i;
	if (n >= 1 && (op[0] == 0xcc || op[0] == 0xcd)) {
		unsigned int vector = op[0] == 0xcc ? 3 : 0, ilen = i + (op[0] == 0xcc ? 1 : 2);

		*what = op[0] == 0xcc ? "int3" : "int imm8";
		if (op[0] == 0xcd) {
			if (n < 2)
				return -ENOTSUP;
			vector = op[1];
		}
		if (p.lock)
			return ud(f);
		return soft_int(ops, ctx, r, s, vector, ilen, f);
	}
	if (n < 3 || op[0] != 0x0f)
		return -ENOTSUP;
	if (op[1] == 0x01 && (op[2] == 0xca || op[2] == 0xcb || op[2] == 0xd0 || op[2] == 0xfd)) {
		if (p.rep || p.repne)
			return -ENOTSUP; /* f3/f2 0f 01 ca/cb are FRED's eretu/erets */
		if (op[2] == 0xd0) {
			*what = "xgetbv";
			return p.lock ? ud(f) : do_xgetbv(ops, ctx, r, s, i + 3, f);
		}
		if (op[2] == 0xfd) {
			/* rdpru (AMD APM vol. 3): completed only as the #UD of a guest whose CPUID
			 * hides it; KVM never offers it, and MPERF/APERF are not ours to read. */
			*what = "rdpru";
			if (p.lock || !has_cpuid(ops, ctx, 0x80000008, 0, 1, CPUID_80000008_EBX_RDPRU))
				return ud(f);
			return -ENOTSUP;
		}
		/* clac/stac (SDM vol. 2A, "CLAC", vol. 2B "STAC"): RFLAGS.AC cleared or set; #UD
		 * without SMAP in CPUID, above CPL 0, in virtual-8086 mode. */
		*what = op[2] == 0xca ? "clac" : "stac";
		if (p.lock || !has_cpuid(ops, ctx, 7, 0, 1, CPUID_7_EBX_SMAP) || cpl(r, s) != 0)
			return ud(f);
		if (op[2] == 0xca)
			r->rflags &= ~RFLAGS_AC;
		else
			r->rflags |= RFLAGS_AC;
		advance(r, s, i + 3);
		return 0;
	}
	if (op[1] == 0xae && p.opsize && !p.rep && !p.repne && ((op[2] >> 3) & 7) == 6 &&
	    (op[2] >> 6) != 3) {
		*what = "clwb";
		if (p.lock)
			return ud(f);
		if (!long_mode(s))
			return -ENOTSUP;
		return do_clwb(ops, ctx, insn, len, i + 2, &p, r, s, f);
	}
	if (op[1] == 0x38 && op[2] == 0x82 && p.opsize && !p.rep && !p.repne) {
		*what = "invpcid";
		if (n < 4)
			return -ENOTSUP;
		if (p.lock)
			return ud(f);
		return do_invpcid(ops, ctx, insn, len, i + 3, &p, r, s, f);
	}
	if (op[1] == 0x38 && (op[2] == 0xf0 || op[2] == 0xf1) && !p.rep && !p.repne) {
		/* movbe (SDM vol. 2B, "MOVBE"): #UD without MOVBE in CPUID, with lock, or with a
		 * register operand (it has only memory forms). KVM's emulator does the memory form
		 * where CPUID offers it; kiln does not. */
		*what = "movbe";
		if (n < 4)
			return -ENOTSUP;
		if (p.lock || !has_cpuid(ops, ctx, 1, 0, 2, CPUID_1_ECX_MOVBE) || (op[3] >> 6) == 3)
			return ud(f);
		return -ENOTSUP;
	}
	if (op[1] == 0xc7) {
		*what = "cmpxchg16b";
		return do_cmpxchg16b(ops, ctx, insn, len, r, s, f);
	}
	if (op[1] == 0xae)
		return do_mxcsr(ops, ctx, insn, len, r, s, what, f);
	return -ENOTSUP;
}

/* The vCPU as struct x86_emu_ops sees it, over KVM ioctls. */
struct kvm_emu {
	int fd;
	const struct gmem *gm;
};

/* KVM_TRANSLATE walks the guest's page tables; it says whether the page is writable and user
 * accessible, so the #PF error code follows (P set where the page is present). */
static void *kvm_map(void *ctx, uint64_t lin, size_t len, bool write, bool user,
		     uint32_t *pf_error)
{
	struct kvm_emu *k = ctx;
	struct kvm_translation tr = { .linear_address = lin };
	uint32_t wu = (write ? PF_ERR_W : 0) | (user ? PF_ERR_U : 0);
	void *p;

	*pf_error = PF_NOT_RAM;
	if ((lin & 0xfff) + len > 0x1000 || ioctl(k->fd, KVM_TRANSLATE, &tr) < 0)
		return NULL;
	if (!tr.valid) {
		*pf_error = wu;
		return NULL;
	}
	if ((write && !tr.writeable) || (user && !tr.usermode)) {
		*pf_error = PF_ERR_P | wu;
		return NULL;
	}
	p = gmem_ptr(k->gm, tr.physical_address, len);
	if (!p)
		*pf_error = PF_NOT_RAM;
	return p;
}

/* KVM_GET_CPUID2: the table kiln set with KVM_SET_CPUID2. Looked up on each call; these are
 * rare exits. */
static int kvm_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	enum { MAX_ENTRIES = 256 };
	struct kvm_emu *k = ctx;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAX_ENTRIES * sizeof(c->entries[0]));
	int e = -ENOENT;

	if (!c)
		return -ENOMEM;
	c->nent = MAX_ENTRIES;
	if (ioctl(k->fd, KVM_GET_CPUID2, c) < 0) {
		e = -errno;
		goto out;
	}
	for (uint32_t i = 0; i < c->nent && i < MAX_ENTRIES; i++) {
		const struct kvm_cpuid_entry2 *en = &c->entries[i];

		if (en->function != leaf ||
		    ((en->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && en->index != subleaf))
			continue;
		out[0] = en->eax;
		out[1] = en->ebx;
		out[2] = en->ecx;
		out[3] = en->edx;
		e = 0;
		break;
	}
out:
	free(c);
	return e;
}

/* MXCSR through KVM_GET_XSAVE and KVM_SET_XSAVE (KVM_GET_FPU's mxcsr reads 0 and KVM_SET_FPU
 * ignores it on some hosts, this workplace's among them). In the XSAVE image MXCSR is at byte 24
 * of the legacy area, and KVM takes it from a KVM_SET_XSAVE only when XSTATE_BV (byte 512) has
 * the SSE bit. */
static int kvm_get_mxcsr(void *ctx, uint32_t *v)
{
	struct kvm_emu *k = ctx;
	struct kvm_xsave xs;

	if (ioctl(k->fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	memcpy(v, (const uint8_t *)xs.region + XSAVE_MXCSR, sizeof(*v));
	return 0;
}

static int kvm_set_mxcsr(void *ctx, uint32_t v)
{
	struct kvm_emu *k = ctx;
	struct kvm_xsave xs;
	uint64_t bv;

	if (ioctl(k->fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	memcpy((uint8_t *)xs.region + XSAVE_MXCSR, &v, sizeof(v));
	memcpy(&bv, (const uint8_t *)xs.region + XSAVE_XSTATE_BV, sizeof(bv));
	bv |= XFEATURE_SSE;
	memcpy((uint8_t *)xs.region + XSAVE_XSTATE_BV, &bv, sizeof(bv));
	return ioctl(k->fd, KVM_SET_XSAVE, &xs) < 0 ? -errno : 0;
}

static int kvm_get_xcr0(void *ctx, uint64_t *v)
{
	struct kvm_emu *k = ctx;
	struct kvm_xcrs xcrs;

	if (ioctl(k->fd, KVM_GET_XCRS, &xcrs) < 0)
		return -errno;
	for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++) {
		if (xcrs.xcrs[i].xcr == 0) {
			*v = xcrs.xcrs[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

/* KVM has no ioctl that flushes a vCPU's TLB, but KVM_SET_SREGS with a CR3 other than the
 * current one resets its MMU context and requests a flush of the guest's TLB (x86.c,
 * __set_sregs(): kvm_mmu_reset_context() and KVM_REQ_TLB_FLUSH_GUEST). Two calls, CR3 with bit 3
 * flipped (PWT, or a PCID bit: legal either way) and then CR3 as it was, do that and leave the
 * state unchanged. */
static int kvm_flush_tlb(void *ctx)
{
	struct kvm_emu *k = ctx;
	struct kvm_sregs s;
	int e = 0;

	if (ioctl(k->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cr3 ^= 8;
	if (ioctl(k->fd, KVM_SET_SREGS, &s) < 0)
		e = -errno;
	s.cr3 ^= 8;
	if (ioctl(k->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	return e;
}

static const struct x86_emu_ops kvm_emu_ops = {
	.map = kvm_map,
	.cpuid = kvm_cpuid,
	.get_mxcsr = kvm_get_mxcsr,
	.set_mxcsr = kvm_set_mxcsr,
	.get_xcr0 = kvm_get_xcr0,
	.flush_tlb = kvm_flush_tlb,
};

/* Raises `f` at the faulting instruction, RIP unchanged; a #PF sets CR2 first. */
static int inject(int fd, const struct x86_fault *f)
{
	struct kvm_vcpu_events ev;

	if (f->vector == VECTOR_PF) {
		struct kvm_sregs s;

		if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
			return -errno;
		s.cr2 = f->cr2;
		if (ioctl(fd, KVM_SET_SREGS, &s) < 0)
			return -errno;
	}
	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = f->vector;
	ev.exception.has_error_code = f->has_error;
	ev.exception.error_code = f->error;
	return ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

/* arch.h. On x86, after KVM_EXIT_INTERNAL_ERROR / emulation failure, x86_emulate_insn() with the
 * bytes at RIP (emulate.h lists what it completes); an exception it raises instead is injected,
 * and *what then says which ("xgetbv: #GP"). -ENOTSUP for anything else. */
int arch_complete_insn(const struct vcpu *vcpu, const struct gmem *gm, const uint8_t *insn,
		       unsigned int len, const char **what)
{
	static const char *const fault_name[] = {
		[VECTOR_UD] = "#UD", [VECTOR_NP] = "#NP", [VECTOR_SS] = "#SS",
		[VECTOR_GP] = "#GP", [VECTOR_PF] = "#PF",
	};
	struct kvm_emu k = { .fd = vcpu->fd, .gm = gm };
	struct x86_fault f;
	struct kvm_regs r;
	struct kvm_sregs s;
	const char *name = "?";
	int e;

	if (ioctl(k.fd, KVM_GET_REGS, &r) < 0 || ioctl(k.fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	e = x86_emulate_insn(&kvm_emu_ops, &k, insn, len, &r, &s, &name, &f);
	if (e < 0)
		return e;
	if (e == 1) {
		static __thread char buf[48];

		snprintf(buf, sizeof(buf), "%s (raised %s)", name,
			 f.vector < ARRAY_SIZE(fault_name) && fault_name[f.vector] ?
				 fault_name[f.vector] : "an exception");
		*what = buf;
		return inject(k.fd, &f);
	}
	*what = name;
	return ioctl(k.fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}
