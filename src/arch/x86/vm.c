/* vm.c: the x86 parts of a KVM VM: the capabilities kiln needs, the real-mode TSS and identity
 * map, the irqchip (split or in-kernel with its PIT) and its routes (arch.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/board.h"
#include "arch/x86/irq.h"
#include "util/log.h"

/* Where KVM may put the real-mode TSS and identity page table on Intel hosts without
 * unrestricted guest: three pages just below the BIOS area, inside the MMIO hole (as QEMU does). */
#define X86_KVM_TSS_ADDR 0xfffbd000ull
#define X86_KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

int arch_check_kvm(const struct kvm *kvm, char *why, size_t why_size)
{
	if (kvm_check_cap(kvm, KVM_CAP_EXT_CPUID) <= 0) {
		snprintf(why, why_size, "this kernel's KVM lacks KVM_CAP_EXT_CPUID, which kiln needs");
		return -ENOTSUP;
	}
	return 0;
}

static int create_irqchip(struct arch_vm *a, struct vm *vm)
{
	const struct kvm *kvm = vm_kvm(vm);

	if (kvm_check_cap(kvm, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm_fd(vm), KVM_SET_TSS_ADDR, X86_KVM_TSS_ADDR) < 0)
		return -errno;
	if (kvm_check_cap(kvm, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t addr = X86_KVM_IDENTITY_MAP_ADDR;

		if (ioctl(vm_fd(vm), KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0)
			return -errno;
	}
	if (a->cfg->irqchip == IRQCHIP_SPLIT) {
		/* Local APICs in KVM; the IOAPIC's pins are GSIs 0..IOAPIC_NR_PINS-1. */
		if (kvm_check_cap(kvm, KVM_CAP_SPLIT_IRQCHIP) <= 0)
			return -ENOTSUP;
		return vm_enable_cap(vm, KVM_CAP_SPLIT_IRQCHIP, IOAPIC_NR_PINS);
	}
	{
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

		if (ioctl(vm_fd(vm), KVM_CREATE_IRQCHIP, 0) < 0 ||
		    ioctl(vm_fd(vm), KVM_CREATE_PIT2, &pit) < 0)
			return -errno;
	}
	return 0;
}

int arch_vm_setup(struct arch_vm *a, struct vm *vm, char *err, size_t err_size)
{
	int e;

	a->vm = vm;
	e = create_irqchip(a, vm);
	if (e) {
		snprintf(err, err_size, "cannot create the KVM VM (%s irqchip): %s",
			 a->cfg->irqchip == IRQCHIP_SPLIT ? "split" : "kernel", strerror(-e));
		return e;
	}
	/* Report emulation failures with the instruction bytes (KVM_INTERNAL_ERROR_EMULATION). */
	if (kvm_check_cap(vm_kvm(vm), KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0 &&
	    vm_enable_cap(vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1))
		pr_debug("KVM_CAP_EXIT_ON_EMULATION_FAILURE refused: reports lack instruction bytes");
	/* KVM's default routes put its PIT on IOAPIC pin 0; the tables say pin 2. */
	if (a->cfg->irqchip == IRQCHIP_KERNEL && (e = x86_setup_kernel_irq_routing(vm))) {
		snprintf(err, err_size, "cannot set the in-kernel irqchip's GSI routes: %s",
			 strerror(-e));
		return e;
	}
	return 0;
}
