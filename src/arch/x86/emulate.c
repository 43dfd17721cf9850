/* emulate.c: userspace completion of int3, fwait, cmpxchg16b and ldmxcsr/stmxcsr after an
 * emulation failure. */
#include "arch/x86/emulate.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/x86/regs.h"

#define X86_EFER_LMA_BIT (1ull << 10)
#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_VM (1ull << 17)
#define GATE_INTERRUPT 0xe
#define GATE_TRAP 0xf
#define VECTOR_BP 3
#define VECTOR_GP 13
#define X86_CR0_EM (1ull << 2)
#define X86_CR0_TS (1ull << 3)
#define X86_CR4_OSFXSR (1ull << 9)
#define MXCSR_VALID 0xffffu /* MXCSR_MASK with DAZ (SDM vol. 1, 11.6.6) */
#define XSAVE_MXCSR 24      /* legacy region (SDM vol. 1, table 13-1) */
#define XSAVE_XSTATE_BV 512 /* XSAVE header (13.4.2) */
#define XFEATURE_SSE (1ull << 1)
#define TSS64_IST1 0x24

/* Host pointer for `len` bytes at guest-linear `lin`, through the guest's page tables; the
 * range must not cross a page (the next page may map elsewhere). */
static void *linear_ptr(int fd, const struct gmem *gm, uint64_t lin, size_t len)
{
	struct kvm_translation tr = { .linear_address = lin };

	if ((lin & 0xfff) + len > 0x1000 || ioctl(fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid ||
	    !tr.writeable)
		return NULL;
	return gmem_ptr(gm, tr.physical_address, len);
}

static int read_linear(int fd, const struct gmem *gm, uint64_t lin, void *dst, size_t len)
{
	uint8_t *d = dst;

	while (len) {
		size_t chunk = 0x1000 - (lin & 0xfff) < len ? 0x1000 - (lin & 0xfff) : len;
		struct kvm_translation tr = { .linear_address = lin };
		const void *p;

		if (ioctl(fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid ||
		    !(p = gmem_ptr(gm, tr.physical_address, chunk)))
			return -EFAULT;
		memcpy(d, p, chunk);
		d += chunk;
		lin += chunk;
		len -= chunk;
	}
	return 0;
}

/* #BP through a 64-bit IDT gate at CPL 0 (SDM vol. 3, 6.14 "Exception and interrupt handling in
 * 64-bit mode"). */
static int deliver_bp(int fd, const struct gmem *gm, struct kvm_regs *r, struct kvm_sregs *s)
{
	uint8_t gate[16];
	uint64_t target, rsp, frame[5];
	unsigned int type, ist;
	uint16_t sel;

	if (!(s->efer & X86_EFER_LMA_BIT) || !s->cs.l || (s->cs.selector & 3) != 0)
		return -ENOTSUP; /* only 64-bit code at CPL 0: where Linux's self-tests run */
	if ((uint64_t)VECTOR_BP * 16 + 15 > s->idt.limit ||
	    read_linear(fd, gm, s->idt.base + VECTOR_BP * 16, gate, sizeof(gate)))
		return -ENOTSUP;
	type = gate[5] & 0xf;
	ist = gate[4] & 0x7;
	sel = (uint16_t)(gate[2] | gate[3] << 8);
	if (!(gate[5] & 0x80) || (type != GATE_INTERRUPT && type != GATE_TRAP) ||
	    sel != s->cs.selector)
		return -ENOTSUP; /* not present, or a code segment we would have to load */
	target = (uint64_t)(gate[0] | gate[1] << 8) | (uint64_t)(gate[6] | gate[7] << 8) << 16 |
		 (uint64_t)(gate[8] | gate[9] << 8 | gate[10] << 16 | (uint32_t)gate[11] << 24) << 32;
	rsp = r->rsp;
	if (ist && read_linear(fd, gm, s->tr.base + TSS64_IST1 + (ist - 1) * 8, &rsp, sizeof(rsp)))
		return -ENOTSUP;
	rsp &= ~0xfull;
	/* The frame, lowest address first: RIP (after the int3), CS, RFLAGS, RSP, SS. */
	frame[0] = r->rip + 1;
	frame[1] = s->cs.selector;
	frame[2] = r->rflags;
	frame[3] = r->rsp;
	frame[4] = s->ss.selector;
	rsp -= sizeof(frame);
	for (unsigned int i = 0; i < 5; i++) {
		uint64_t *slot = linear_ptr(fd, gm, rsp + i * 8, 8);

		if (!slot)
			return -ENOTSUP;
		*slot = frame[i];
	}
	r->rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
	if (type == GATE_INTERRUPT)
		r->rflags &= ~RFLAGS_IF;
	r->rsp = rsp;
	r->rip = target;
	return 0;
}

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

/* #GP(0) at the faulting instruction, RIP unchanged (a fault). */
static int inject_gp(int fd)
{
	struct kvm_vcpu_events ev;

	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = VECTOR_GP;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = 0;
	return ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

/* cmpxchg16b m128 (SDM vol. 2A, "CMPXCHG8B/CMPXCHG16B"): if RDX:RAX equals m128, ZF = 1 and
 * m128 = RCX:RBX, else ZF = 0 and RDX:RAX = m128. A misaligned operand is #GP(0). The operand
 * is translated through the guest's page tables (KVM_TRANSLATE); one that is not mapped
 * writable is left to the report (it would be a #PF, which Linux never takes here). */
static int complete_cmpxchg16b(int fd, const struct gmem *gm, const uint8_t *insn, unsigned int len,
			       struct kvm_regs *r, const struct kvm_sregs *s, bool *fault)
{
	uint64_t lin, rax = r->rax, rdx = r->rdx;
	unsigned int ilen;
	void *p;

	*fault = false;
	if (x86_decode_cmpxchg16b(insn, len, r, s, &lin, &ilen))
		return -ENOTSUP;
	if (lin & 15) {
		*fault = true;
		return inject_gp(fd);
	}
	if ((s->cs.selector & 3) == 3) {
		struct kvm_translation tr = { .linear_address = lin };

		if (ioctl(fd, KVM_TRANSLATE, &tr) < 0 || !tr.usermode)
			return -ENOTSUP;
	}
	p = linear_ptr(fd, gm, lin, 16);
	if (!p)
		return -ENOTSUP;
	if (host_cmpxchg16b(p, &rax, &rdx, r->rbx, r->rcx)) {
		r->rflags |= RFLAGS_ZF;
	} else {
		r->rflags &= ~RFLAGS_ZF;
		r->rax = rax;
		r->rdx = rdx;
	}
	r->rip += ilen;
	return 0;
}

/* ldmxcsr m32 / stmxcsr m32 (SDM vol. 2B, "LDMXCSR", "STMXCSR"): MXCSR through KVM_GET_XSAVE and
 * KVM_SET_XSAVE (KVM_GET_FPU's mxcsr reads 0 and KVM_SET_FPU ignores it on some hosts, this
 * workplace's among them). In the XSAVE image MXCSR is at byte 24 of the legacy area, and KVM
 * takes it from a KVM_SET_XSAVE only when XSTATE_BV (byte 512) has the SSE bit. Reserved bits
 * (above MXCSR_MASK, 0xffff on every CPU with DAZ) in a loaded value are #GP(0). CR0.EM, CR0.TS
 * or no CR4.OSFXSR would be #UD or #NM, which Linux never takes in kernel_fpu_begin(): left to
 * the report. */
static int complete_mxcsr_op(int fd, const struct gmem *gm, const uint8_t *insn, unsigned int len,
			     struct kvm_regs *r, const struct kvm_sregs *s, const char **what,
			     bool *fault)
{
	struct kvm_xsave xs;
	uint64_t lin, bv;
	unsigned int ilen;
	uint32_t v;
	bool store;

	*fault = false;
	if (x86_decode_mxcsr_op(insn, len, r, s, &store, &lin, &ilen))
		return -ENOTSUP;
	if ((s->cr0 & (X86_CR0_EM | X86_CR0_TS)) || !(s->cr4 & X86_CR4_OSFXSR) ||
	    (s->cs.selector & 3) == 3)
		return -ENOTSUP;
	if (ioctl(fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	if (store) {
		uint32_t *p = linear_ptr(fd, gm, lin, sizeof(v));

		if (!p)
			return -ENOTSUP;
		memcpy(p, (const uint8_t *)xs.region + XSAVE_MXCSR, sizeof(v));
		*what = "stmxcsr";
	} else {
		if (read_linear(fd, gm, lin, &v, sizeof(v)))
			return -ENOTSUP;
		*what = "ldmxcsr";
		if (v & ~MXCSR_VALID) {
			*fault = true;
			return inject_gp(fd);
		}
		memcpy((uint8_t *)xs.region + XSAVE_MXCSR, &v, sizeof(v));
		memcpy(&bv, (const uint8_t *)xs.region + XSAVE_XSTATE_BV, sizeof(bv));
		bv |= XFEATURE_SSE;
		memcpy((uint8_t *)xs.region + XSAVE_XSTATE_BV, &bv, sizeof(bv));
		if (ioctl(fd, KVM_SET_XSAVE, &xs) < 0)
			return -errno;
	}
	r->rip += ilen;
	return 0;
}

/* arch.h. On x86, after KVM_EXIT_INTERNAL_ERROR / emulation failure, with the bytes at RIP:
 *  - int3 (cc): delivers #BP through the guest's 64-bit IDT, with the return address after the
 *    int3, exactly as the CPU would (IST stack if the gate has one, 16-byte aligned frame of
 *    SS, RSP, RFLAGS, CS, RIP; IF cleared for an interrupt gate);
 *  - fwait (9b): no x87 exception can be pending (kiln never unmasks one), so it is a no-op:
 *    RIP moves past it;
 *  - cmpxchg16b m128 ([f0] [64|65] 48-4f 0f c7 /1, 64-bit mode): done atomically on the guest's
 *    memory, translated through its page tables; RDX:RAX and ZF set, RIP advanced; a
 *    misaligned operand gets #GP(0) injected instead (*what says so);
 *  - ldmxcsr / stmxcsr m32 ([REX] 0f ae /2, /3; Linux's kernel_fpu_begin()): MXCSR loaded from or
 *    stored to guest memory through KVM_GET_XSAVE/KVM_SET_XSAVE, RIP advanced; reserved bits in a
 *    loaded value get #GP(0).
 * -ENOTSUP for anything else. */
int arch_complete_insn(const struct vcpu *vcpu, const struct gmem *gm, const uint8_t *insn,
		       unsigned int len, const char **what)
{
	int vcpu_fd = vcpu->fd;
	struct kvm_regs r;
	struct kvm_sregs s;
	uint64_t lin;
	unsigned int ilen;
	bool fault, store;
	int e;

	if (len == 0)
		return -ENOTSUP;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	if (insn[0] == 0x9b) {
		*what = "fwait";
		r.rip += 1;
	} else if (insn[0] == 0xcc) {
		*what = "int3";
		e = deliver_bp(vcpu_fd, gm, &r, &s);
		if (e)
			return e;
	} else if (x86_decode_mxcsr_op(insn, len, &r, &s, &store, &lin, &ilen) == 0) {
		e = complete_mxcsr_op(vcpu_fd, gm, insn, len, &r, &s, what, &fault);
		if (e)
			return e;
		if (fault) {
			*what = "ldmxcsr (reserved bits: #GP)";
			return 0;
		}
	} else {
		e = complete_cmpxchg16b(vcpu_fd, gm, insn, len, &r, &s, &fault);
		if (e)
			return e;
		*what = fault ? "cmpxchg16b (misaligned: #GP)" : "cmpxchg16b";
		if (fault)
			return 0;
	}
	return ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}
