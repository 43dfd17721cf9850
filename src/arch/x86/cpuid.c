/* cpuid.c: per-vCPU CPUID from KVM's supported set. */
#include "arch/x86/cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_1_ECX_HYPERVISOR (1u << 31)

void x86_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned int id, unsigned int nr)
{
	for (unsigned int i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			/* EBX[31:24] initial APIC id, EBX[23:16] logical processors per package. */
			e->ebx = (e->ebx & 0x0000ffffu) | ((id & 0xffu) << 24) | ((nr & 0xffu) << 16);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			break;
		case 0xb:
		case 0x1f:
			/* EDX is the x2APIC id on every sub-leaf. */
			e->edx = id;
			break;
		default:
			break;
		}
	}
}

int x86_setup_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned int id, unsigned int nr)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	int err = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, supported, size);
	x86_cpuid_patch(c, id, nr);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		err = -errno;
	free(c);
	return err;
}
