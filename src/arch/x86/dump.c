/* dump.c: x86 register dumps and instruction bytes for crash reports. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/x86/cpu.h"
#include "util/log.h"

static void dump_seg(unsigned int id, const char *name, const struct kvm_segment *s)
{
	pr_err("vcpu%u: %-4s sel=0x%04x base=0x%016llx limit=0x%08x dpl=%u type=0x%x l=%u db=%u "
	       "present=%u",
	       id, name, s->selector, (unsigned long long)s->base, s->limit, s->dpl, s->type, s->l,
	       s->db, s->present);
}

void arch_dump_regs(const struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	unsigned int id = vcpu->id;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		pr_err("vcpu%u: cannot read registers: %s", id, strerror(errno));
		return;
	}
	pr_err("vcpu%u: rip=0x%016llx rsp=0x%016llx rflags=0x%08llx", id, r.rip, r.rsp, r.rflags);
	pr_err("vcpu%u: rax=0x%016llx rbx=0x%016llx rcx=0x%016llx rdx=0x%016llx", id, r.rax, r.rbx,
	       r.rcx, r.rdx);
	pr_err("vcpu%u: rsi=0x%016llx rdi=0x%016llx rbp=0x%016llx r8 =0x%016llx", id, r.rsi, r.rdi,
	       r.rbp, r.r8);
	pr_err("vcpu%u: cr0=0x%08llx cr2=0x%016llx cr3=0x%016llx cr4=0x%08llx efer=0x%llx", id,
	       s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	dump_seg(id, "cs", &s.cs);
	dump_seg(id, "ss", &s.ss);
	dump_seg(id, "ds", &s.ds);
	pr_err("vcpu%u: gdt base=0x%llx limit=0x%x idt base=0x%llx limit=0x%x", id, s.gdt.base,
	       s.gdt.limit, s.idt.base, s.idt.limit);
}

/* arch.h. From KVM when it gives them (KVM_INTERNAL_ERROR_EMULATION with the instruction bytes),
 * else at CS.base + RIP through the guest's page tables (KVM_TRANSLATE), within one page. */
unsigned int arch_insn_bytes(const struct vcpu *vcpu, const struct gmem *mem, uint8_t *out,
			     unsigned int max)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_translation tr;
	const uint8_t *p;

	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    run->emulation_failure.insn_size <= max) {
		memcpy(out, run->emulation_failure.insn_bytes, run->emulation_failure.insn_size);
		return run->emulation_failure.insn_size;
	}
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return 0;
	tr = (struct kvm_translation){ .linear_address = s.cs.base + r.rip };
	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return 0;
	/* Stay inside the page: the next one may map elsewhere. */
	for (unsigned int n = max; n > 0; n--) {
		if (((tr.physical_address & 0xfff) + n) > 0x1000)
			continue;
		p = gmem_ptr(mem, tr.physical_address, n);
		if (p) {
			memcpy(out, p, n);
			return n;
		}
	}
	return 0;
}

/* arch.h. After a KVM_EXIT_SHUTDOWN (triple fault), AMD SVM has reset the vCPU to its INIT state
 * before KVM reports it; Intel VT-x keeps the guest's registers. */
bool arch_crash_state_lost(const struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	return vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN &&
	       ioctl(vcpu->fd, KVM_GET_REGS, &r) == 0 && ioctl(vcpu->fd, KVM_GET_SREGS, &s) == 0 &&
	       x86_regs_at_reset(&r, &s);
}
