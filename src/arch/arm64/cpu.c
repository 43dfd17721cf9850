/* cpu.c: arm64 vCPUs: KVM_ARM_VCPU_INIT with the host's preferred target and PSCI 0.2 (the
 * secondaries start powered off; the guest starts them with PSCI CPU_ON, which KVM handles), the
 * boot vCPU's entry registers, register dumps and the exits only arm64 has. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arm64/board.h"
#include "util/log.h"

/* A core register's KVM_{GET,SET}_ONE_REG id (Documentation/virt/kvm/api.rst, 4.68). */
#define ARM64_CORE_REG(x)                                                                          \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                     \
	 (offsetof(struct kvm_regs, x) / sizeof(uint32_t)))

/* PSTATE at entry: EL1h with debug, SError, IRQ and FIQ masked (booting.rst). */
#define ARM64_PSR_MODE_EL1H 0x5ull
#define ARM64_PSR_DAIF (0xfull << 6)

static int set_reg(const struct vcpu *vcpu, uint64_t id, uint64_t val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&val };

	return ioctl(vcpu->fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int get_reg(const struct vcpu *vcpu, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(vcpu->fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

int arch_vcpu_setup(struct arch_vm *a, struct vcpu *vcpu, char *err, size_t err_size)
{
	struct kvm_vcpu_init init;

	if (!a->have_target) {
		if (ioctl(vm_fd(a->vm), KVM_ARM_PREFERRED_TARGET, &a->vcpu_init) < 0) {
			snprintf(err, err_size, "KVM_ARM_PREFERRED_TARGET failed: %s", strerror(errno));
			return -errno;
		}
		a->vcpu_init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
		a->have_target = true;
	}
	init = a->vcpu_init;
	/* Only the boot vCPU runs from the start; the others wait for PSCI CPU_ON. */
	if (vcpu->id)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		snprintf(err, err_size, "vcpu%u: KVM_ARM_VCPU_INIT (target %u) failed: %s", vcpu->id,
			 init.target, strerror(errno));
		return -errno;
	}
	vcpu->rip_sync_ok = false; /* arm64 KVM has no KVM_CAP_SYNC_REGS */
	return 0;
}

/* Called once every vCPU exists: the vGIC can be initialized now, then the boot vCPU gets
 * Linux's entry state: x0 = the device tree, x1-x3 = 0, pc = the Image. */
int arch_boot_vcpu_setup(struct arch_vm *a, struct vcpu *vcpu, const struct boot_entry *entry)
{
	int e = arm64_gic_init(a);

	if (e) {
		pr_err("cannot initialize the in-kernel GICv%d: %s", a->gic_version, strerror(-e));
		return e;
	}
	if ((e = set_reg(vcpu, ARM64_CORE_REG(regs.pstate), ARM64_PSR_MODE_EL1H | ARM64_PSR_DAIF)) ||
	    (e = set_reg(vcpu, ARM64_CORE_REG(regs.regs[0]), a->dtb_addr)) ||
	    (e = set_reg(vcpu, ARM64_CORE_REG(regs.regs[1]), 0)) ||
	    (e = set_reg(vcpu, ARM64_CORE_REG(regs.regs[2]), 0)) ||
	    (e = set_reg(vcpu, ARM64_CORE_REG(regs.regs[3]), 0)) ||
	    (e = set_reg(vcpu, ARM64_CORE_REG(regs.pc), entry->pc)))
		return e;
	return 0;
}

bool arch_exit_rip_sync(struct vcpu *vcpu, bool on)
{
	(void)vcpu;
	(void)on;
	return false;
}

uint64_t arch_exit_rip(const struct vcpu *vcpu)
{
	(void)vcpu;
	return 0;
}

void arch_dump_regs(const struct vcpu *vcpu)
{
	uint64_t pc = 0, sp = 0, pstate = 0, x[31];
	char line[160];
	int e;

	e = get_reg(vcpu, ARM64_CORE_REG(regs.pc), &pc);
	e = e ? e : get_reg(vcpu, ARM64_CORE_REG(sp_el1), &sp);
	e = e ? e : get_reg(vcpu, ARM64_CORE_REG(regs.pstate), &pstate);
	for (unsigned int i = 0; i < 31 && !e; i++)
		e = get_reg(vcpu, ARM64_CORE_REG(regs.regs[i]), &x[i]);
	if (e) {
		pr_err("vcpu%u: cannot read the registers: %s", vcpu->id, strerror(-e));
		return;
	}
	pr_err("vcpu%u: pc=0x%016" PRIx64 " sp_el1=0x%016" PRIx64 " pstate=0x%08" PRIx64, vcpu->id,
	       pc, sp, pstate);
	for (unsigned int i = 0; i < 31; i += 4) {
		int len = 0;

		for (unsigned int j = i; j < i + 4 && j < 31; j++)
			len += snprintf(line + len, sizeof(line) - (size_t)len, "%sx%-2u=0x%016" PRIx64,
					j == i ? "" : " ", j, x[j]);
		pr_err("vcpu%u: %s", vcpu->id, line);
	}
}

bool arch_crash_state_lost(const struct vcpu *vcpu)
{
	(void)vcpu;
	return false;
}

/* Exits only arm64 has. A data abort KVM could not decode is the guest's fault: reported here
 * with its address, then as an unhandled exit (a crash) by the caller. */
bool arch_handle_exit(struct arch_vm *a, struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	(void)a;
	switch (run->exit_reason) {
	case KVM_EXIT_ARM_NISV:
		pr_err("vcpu%u: data abort at 0x%llx that KVM cannot emulate (no instruction "
		       "syndrome: not a plain load or store, ESR 0x%llx)",
		       vcpu->id, (unsigned long long)run->arm_nisv.fault_ipa,
		       (unsigned long long)run->arm_nisv.esr_iss);
		return false;
	default:
		return false;
	}
}
