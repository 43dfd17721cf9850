/* emulate.c: userspace completion of int3, fwait and cmpxchg16b after an emulation failure. */
#include "arch/x86/emulate.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

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

int x86_decode_cmpxchg16b(const uint8_t *insn, unsigned int len, const struct kvm_regs *r,
			  const struct kvm_sregs *s, uint64_t *linear, unsigned int *ilen)
{
	uint64_t seg_base = 0, addr = 0;
	unsigned int i = 0, rex, mod, rm, sib, index;
	int32_t disp = 0;
	bool rip_rel = false, disp32 = false;

	if (!(s->efer & X86_EFER_LMA_BIT) || !s->cs.l)
		return -ENOTSUP; /* only 64-bit code: REX.W does not exist elsewhere */
	/* Legacy prefixes, any order (SDM vol. 2, 2.1.1); in 64-bit mode only FS and GS overrides
	 * have a base (3.4.2.1). An operand- or address-size override or a repeat prefix makes
	 * some other instruction, or one Linux never uses: leave it to the report. */
	for (; i < len && i < 4; i++) {
		if (insn[i] == 0xf0 || insn[i] == 0x2e || insn[i] == 0x36 || insn[i] == 0x3e ||
		    insn[i] == 0x26)
			continue;
		if (insn[i] == 0x64)
			seg_base = s->fs.base;
		else if (insn[i] == 0x65)
			seg_base = s->gs.base;
		else
			break;
	}
	/* REX.W (0x48-0x4f), 0f c7, ModRM with reg = 1 and a memory operand (mod != 3). */
	if (i + 4 > len || (insn[i] & 0xf8) != 0x48 || insn[i + 1] != 0x0f || insn[i + 2] != 0xc7)
		return -ENOTSUP;
	rex = insn[i];
	i += 3;
	mod = insn[i] >> 6;
	rm = insn[i] & 7;
	if (((insn[i] >> 3) & 7) != 1 || mod == 3)
		return -ENOTSUP;
	i++;
	if (rm == 4) { /* SIB (SDM vol. 2, 2.1.5, table 2-3) */
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
		rip_rel = disp32 = true; /* RIP + disp32 (SDM vol. 2, 2.2.1.6) */
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

int arch_complete_insn(int vcpu_fd, const struct gmem *gm, const uint8_t *insn, unsigned int len,
		       const char **what)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	bool fault;
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
