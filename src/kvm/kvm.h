/* kvm.h: the /dev/kvm system handle and capability checks. */
#ifndef KILN_KVM_KVM_H
#define KILN_KVM_KVM_H

#include <linux/kvm.h>
#include <stddef.h>

#include "util/checked.h"

struct kvm {
	int fd;
	int vcpu_mmap_size;
	int max_vcpus;
};

/* Opens /dev/kvm (path may be NULL for the default), checks the API version and the capabilities
 * kiln cannot run without. Returns 0, or -errno with a one-line explanation for the user written
 * to `why` (what is wrong and what to do). */
int __must_check kvm_open(struct kvm *kvm, const char *path, char *why, size_t why_len);
void kvm_close(struct kvm *kvm);

/* KVM_CHECK_EXTENSION on the system fd: > 0 when present. */
int kvm_check_cap(const struct kvm *kvm, long cap);

/* KVM_GET_SUPPORTED_CPUID; caller frees. Returns NULL on failure (errno set). */
struct kvm_cpuid2 *kvm_supported_cpuid(const struct kvm *kvm);

/* Human name of a KVM_EXIT_* reason ("IO", "MMIO", "SHUTDOWN"...). */
const char *kvm_exit_reason_name(unsigned int reason);

#endif
