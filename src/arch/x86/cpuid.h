/* cpuid.h: the CPUID a vCPU reports: KVM's supported set, normalised per vCPU. */
#ifndef KILN_ARCH_X86_CPUID_H
#define KILN_ARCH_X86_CPUID_H

#include <linux/kvm.h>

#include "util/checked.h"

/* Patches a copy of KVM_GET_SUPPORTED_CPUID for vCPU `id` of `nr`: initial APIC ids (leaf 1 and
 * the x2APIC topology leaves) and the hypervisor bit. Exposed for unit tests. */
void x86_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned int id, unsigned int nr);

/* Patches a copy of `supported` for the vCPU and sets it with KVM_SET_CPUID2 (which KVM needs
 * before KVM_SET_SREGS may enable long mode). Returns 0 or -errno. */
int __must_check x86_setup_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned int id,
				 unsigned int nr);

#endif
