/* emulate.c: userspace completion of int3 and fwait after an emulation failure. */
#include "arch/x86/emulate.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/regs.h"

#define X86_EFER_LMA_BIT (1ull << 10)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_VM (1ull << 17)
#define GATE_INTERRUPT 0xe
#define GATE_TRAP 0xf
#define VECTOR_BP 3
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

int arch_complete_insn(int vcpu_fd, const struct gmem *gm, const uint8_t *insn, unsigned int len,
		       const char **what)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	int e;

	if (len == 0 || (insn[0] != 0xcc && insn[0] != 0x9b))
		return -ENOTSUP;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	if (insn[0] == 0x9b) {
		*what = "fwait";
		r.rip += 1;
	} else {
		*what = "int3";
		e = deliver_bp(vcpu_fd, gm, &r, &s);
		if (e)
			return e;
	}
	return ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}
