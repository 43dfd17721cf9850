/* cpuid.h: the CPUID a vCPU reports: KVM's supported set, normalised per vCPU. */
#ifndef KILN_ARCH_X86_CPUID_H
#define KILN_ARCH_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "kvm/kvm.h"
#include "util/checked.h"

/* Patches a copy of KVM_GET_SUPPORTED_CPUID for vCPU `id` of `nr`: initial APIC ids (leaf 1 and
 * the x2APIC topology leaves) and the hypervisor bit. Exposed for unit tests. */
void x86_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned int id, unsigned int nr);

/* Sets the CPUID feature bits of what KVM emulates on any host but KVM_GET_SUPPORTED_CPUID
 * reports only where the host CPU has it: today CPUID.1:ECX[24] TSC-deadline when
 * `tsc_deadline` (KVM_CAP_TSC_DEADLINE_TIMER). Exposed for unit tests. */
void x86_cpuid_add_kvm_features(struct kvm_cpuid2 *cpuid, bool tsc_deadline);

/* KVM_GET_SUPPORTED_CPUID with x86_cpuid_add_kvm_features() applied as `kvm`'s capabilities say:
 * the set every vCPU's CPUID starts from. Caller frees; NULL on failure (errno set). */
struct kvm_cpuid2 *x86_supported_cpuid(const struct kvm *kvm);

/* Patches a copy of `supported` for the vCPU and sets it with KVM_SET_CPUID2 (which KVM needs
 * before KVM_SET_SREGS may enable long mode). Returns 0 or -errno. */
int __must_check x86_setup_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned int id,
				 unsigned int nr);

#endif
