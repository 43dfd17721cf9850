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
 * kiln cannot run without on any architecture (arch_check_kvm() checks the rest). Returns 0, or -errno with a one-line explanation for the user written
 * to `why` (what is wrong and what to do). */
int __must_check kvm_open(struct kvm *kvm, const char *path, char *why, size_t why_size);
void kvm_close(struct kvm *kvm);

/* KVM_CHECK_EXTENSION on the system fd: > 0 when present. */
int kvm_check_cap(const struct kvm *kvm, long cap);

/* One KVM_EXIT_* reason kiln names (in --stats, crash reports and the metrics line). */
struct kvm_exit_reason {
	unsigned int reason; /* KVM_EXIT_* */
	const char *name;    /* "IO", "MMIO", "SHUTDOWN"... */
	const char *metric;  /* its metrics key ("exits_io"), or NULL: counted in exits_other */
};

/* The one table of exit-reason names, in KVM_EXIT_* order; *nr gets its length. */
const struct kvm_exit_reason *kvm_exit_reasons(unsigned int *nr);

/* Human name of a KVM_EXIT_* reason ("IO", "MMIO", "SHUTDOWN"...), "?" when unknown. */
const char *kvm_exit_reason_name(unsigned int reason);

#endif
