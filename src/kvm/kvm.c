/* kvm.c: /dev/kvm, API version and capabilities, and the names of exit reasons. */
#include "kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_DEFAULT_PATH "/dev/kvm"

static const struct {
	long cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
};

int kvm_open(struct kvm *kvm, const char *path, char *why, size_t why_size)
{
	int version, err;

	if (!path)
		path = KVM_DEFAULT_PATH;
	kvm->fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		err = -errno;
		if (err == -ENOENT)
			snprintf(why, why_size,
				 "%s: not found: KVM is not available on this host (enable hardware "
				 "virtualization and load kvm_intel or kvm_amd)",
				 path);
		else if (err == -EACCES || err == -EPERM)
			snprintf(why, why_size,
				 "%s: permission denied: add your user to the 'kvm' group "
				 "(sudo usermod -aG kvm $USER, then log in again) or run as root",
				 path);
		else
			snprintf(why, why_size, "%s: cannot open: %s", path, strerror(-err));
		return err;
	}
	version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(why, why_size, "%s: KVM API version %d, kiln needs %d", path, version,
			 KVM_API_VERSION);
		kvm_close(kvm);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (kvm_check_cap(kvm, required_caps[i].cap) <= 0) {
			snprintf(why, why_size, "%s: this kernel's KVM lacks %s, which kiln needs", path,
				 required_caps[i].name);
			kvm_close(kvm);
			return -ENOTSUP;
		}
	}
	kvm->vcpu_mmap_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		snprintf(why, why_size, "%s: KVM_GET_VCPU_MMAP_SIZE failed", path);
		kvm_close(kvm);
		return -EINVAL;
	}
	/* KVM_CAP_MAX_VCPUS is the hard limit; without it the documented fallback is NR_VCPUS. */
	kvm->max_vcpus = kvm_check_cap(kvm, KVM_CAP_MAX_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = kvm_check_cap(kvm, KVM_CAP_NR_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = 4;
	return 0;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
}

int kvm_check_cap(const struct kvm *kvm, long cap)
{
	int r = ioctl(kvm->fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

/* Every KVM_EXIT_* reason kiln names, in KVM_EXIT_* order. `metric` is the reason's key in the
 * metrics line (control/metrics.c); reasons without one are summed into exits_other. */
static const struct kvm_exit_reason exit_reasons[] = {
	{ KVM_EXIT_UNKNOWN, "UNKNOWN", NULL },
	{ KVM_EXIT_EXCEPTION, "EXCEPTION", NULL },
	{ KVM_EXIT_IO, "IO", "exits_io" },
	{ KVM_EXIT_HYPERCALL, "HYPERCALL", NULL },
	{ KVM_EXIT_DEBUG, "DEBUG", NULL },
	{ KVM_EXIT_HLT, "HLT", "exits_hlt" },
	{ KVM_EXIT_MMIO, "MMIO", "exits_mmio" },
	{ KVM_EXIT_IRQ_WINDOW_OPEN, "IRQ_WINDOW_OPEN", NULL },
	{ KVM_EXIT_SHUTDOWN, "SHUTDOWN", "exits_shutdown" },
	{ KVM_EXIT_FAIL_ENTRY, "FAIL_ENTRY", "exits_fail_entry" },
	{ KVM_EXIT_INTR, "INTR", "exits_intr" },
	{ KVM_EXIT_SET_TPR, "SET_TPR", NULL },
	{ KVM_EXIT_TPR_ACCESS, "TPR_ACCESS", NULL },
	{ KVM_EXIT_NMI, "NMI", NULL },
	{ KVM_EXIT_INTERNAL_ERROR, "INTERNAL_ERROR", "exits_internal_error" },
	{ KVM_EXIT_OSI, "OSI", NULL },
	{ KVM_EXIT_PAPR_HCALL, "PAPR_HCALL", NULL },
	{ KVM_EXIT_WATCHDOG, "WATCHDOG", NULL },
	{ KVM_EXIT_EPR, "EPR", NULL },
	{ KVM_EXIT_SYSTEM_EVENT, "SYSTEM_EVENT", "exits_system_event" },
	{ KVM_EXIT_IOAPIC_EOI, "IOAPIC_EOI", "exits_ioapic_eoi" },
	{ KVM_EXIT_HYPERV, "HYPERV", NULL },
	{ KVM_EXIT_ARM_NISV, "ARM_NISV", NULL },
	{ KVM_EXIT_X86_RDMSR, "X86_RDMSR", NULL },
	{ KVM_EXIT_X86_WRMSR, "X86_WRMSR", NULL },
	{ KVM_EXIT_DIRTY_RING_FULL, "DIRTY_RING_FULL", NULL },
	{ KVM_EXIT_X86_BUS_LOCK, "X86_BUS_LOCK", NULL },
};

const struct kvm_exit_reason *kvm_exit_reasons(unsigned int *nr)
{
	*nr = ARRAY_SIZE(exit_reasons);
	return exit_reasons;
}

const char *kvm_exit_reason_name(unsigned int reason)
{
	for (size_t i = 0; i < ARRAY_SIZE(exit_reasons); i++)
		if (exit_reasons[i].reason == reason)
			return exit_reasons[i].name;
	return "?";
}
