/* cpu.c: boot MSRs, FPU and local-APIC LVT set-up for every vCPU. */
#include "arch/x86/cpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/regs.h"
#include "util/log.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MISC_ENABLE_FAST_STRING 0x1
#define MTRR_ENABLE (1u << 11)
#define MTRR_TYPE_WRBACK 6

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_DM_NMI (4u << 8)
#define APIC_DM_EXTINT (7u << 8)

static const struct {
	uint32_t index;
	uint64_t value;
} boot_msrs[] = {
	{ MSR_IA32_SYSENTER_CS, 0 },	  { MSR_IA32_SYSENTER_ESP, 0 },
	{ MSR_IA32_SYSENTER_EIP, 0 },	  { MSR_STAR, 0 },
	{ MSR_LSTAR, 0 },		  { MSR_CSTAR, 0 },
	{ MSR_SYSCALL_MASK, 0 },	  { MSR_KERNEL_GS_BASE, 0 },
	{ MSR_IA32_TSC, 0 },		  { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
	{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WRBACK },
};

static int set_msrs(int fd, unsigned int id)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} one;

	/* One at a time: KVM_SET_MSRS stops at the first MSR it refuses, and hosts differ (AMD has
	 * no MISC_ENABLE fast-string bit, for one). */
	for (size_t i = 0; i < ARRAY_SIZE(boot_msrs); i++) {
		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.entry.index = boot_msrs[i].index;
		one.entry.data = boot_msrs[i].value;
		int r = ioctl(fd, KVM_SET_MSRS, &one);

		if (r < 0)
			return -errno;
		if (r != 1)
			pr_debug("vcpu%u: host refused MSR 0x%x", id, boot_msrs[i].index);
	}
	return 0;
}

static int set_fpu(int fd)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;    /* x87 reset value: all exceptions masked, extended precision */
	fpu.mxcsr = 0x1f80; /* SSE reset value: all exceptions masked */
	return ioctl(fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static int set_lint(int fd)
{
	struct kvm_lapic_state lapic;
	uint32_t v;

	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	/* Virtual wire: LINT0 passes the (masked) PIC's ExtINT, LINT1 carries NMI, as the MP
	 * table's local interrupt entries say. */
	memcpy(&v, &lapic.regs[APIC_LVT_LINT0], sizeof(v));
	v = (v & ~0x700u) | APIC_DM_EXTINT;
	memcpy(&lapic.regs[APIC_LVT_LINT0], &v, sizeof(v));
	memcpy(&v, &lapic.regs[APIC_LVT_LINT1], sizeof(v));
	v = (v & ~0x700u) | APIC_DM_NMI;
	memcpy(&lapic.regs[APIC_LVT_LINT1], &v, sizeof(v));
	return ioctl(fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

int x86_setup_vcpu_state(int vcpu_fd, unsigned int id)
{
	int e;

	if ((e = set_msrs(vcpu_fd, id)) || (e = set_fpu(vcpu_fd)) || (e = set_lint(vcpu_fd)))
		return e;
	return 0;
}

bool x86_regs_at_reset(const struct kvm_regs *r, const struct kvm_sregs *s)
{
	return s->cs.selector == 0xf000 && s->cs.base == 0xffff0000ull && r->rip == 0xfff0 &&
	       !(s->cr0 & X86_CR0_PE);
}
