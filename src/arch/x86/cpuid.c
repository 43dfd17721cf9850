/* cpuid.c: per-vCPU CPUID from KVM's supported set. */
#include "arch/x86/cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

#define CPUID_1_EDX_HTT (1u << 28)
#define TOPO_LEVEL_SMT 1
#define TOPO_LEVEL_CORE 2

/* Bits an APIC id needs to number `n` things: ceil(log2(n)). */
static unsigned int id_bits(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* The topology kiln presents: one package, `nr` cores, one thread each; APIC id = vCPU index. */
void x86_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned int id, unsigned int nr)
{
	for (unsigned int i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			/* EBX[31:24] initial APIC id, EBX[23:16] logical processors per package. */
			e->ebx = (e->ebx & 0x0000ffffu) | ((id & 0xffu) << 24) | ((nr & 0xffu) << 16);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (nr > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 4:
			/* EAX[31:26]: cores per package - 1; EAX[25:14]: threads sharing this cache - 1
			 * (one per core, except caches shared package-wide: level 3). */
			if ((e->eax & 0x1f) == 0)
				break; /* no cache at this index */
			e->eax &= 0x00003fffu;
			e->eax |= ((nr - 1) & 0x3f) << 26;
			if (((e->eax >> 5) & 0x7) == 3)
				e->eax |= ((nr - 1) & 0xfff) << 14;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology (SDM vol. 2A, CPUID leaf 0BH): sub-leaf 0 the SMT level
			 * (one thread), sub-leaf 1 the core level (nr cores), then the end marker. */
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (TOPO_LEVEL_SMT << 8) | 0;
			} else if (e->index == 1) {
				e->eax = id_bits(nr);
				e->ebx = nr;
				e->ecx = (TOPO_LEVEL_CORE << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index & 0xff;
			}
			e->edx = id; /* the x2APIC id, on every sub-leaf */
			break;
		case 0x80000008:
			/* AMD: ECX[7:0] cores - 1, ECX[15:12] APIC id bits for the core number. */
			e->ecx = (e->ecx & ~0xf0ffu) | ((nr - 1) & 0xff) | (id_bits(nr) << 12);
			break;
		case 0x8000001e:
			/* AMD extended APIC id, core id, one thread per core, node 0. */
			e->eax = id;
			e->ebx = id & 0xff;
			e->ecx = 0;
			break;
		default:
			break;
		}
	}
}

void x86_cpuid_add_kvm_features(struct kvm_cpuid2 *cpuid, bool tsc_deadline)
{
	for (unsigned int i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		/* KVM's local APIC emulates the TSC-deadline timer mode (SDM vol. 3A, 11.5.4.1) on
		 * any host, but KVM_GET_SUPPORTED_CPUID shows the bit only where the host CPU has
		 * it: never on AMD. As QEMU and Firecracker, trust the capability. */
		if (e->function == 1 && tsc_deadline)
			e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
	}
}

/* KVM_GET_SUPPORTED_CPUID; caller frees. Returns NULL on failure (errno set). */
static struct kvm_cpuid2 *get_supported_cpuid(const struct kvm *kvm)
{
	/* The kernel says E2BIG until the buffer is large enough. */
	for (unsigned int nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c =
			calloc(1, sizeof(*c) + nent * sizeof(struct kvm_cpuid_entry2));

		if (!c)
			return NULL;
		c->nent = nent;
		if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	errno = E2BIG;
	return NULL;
}

struct kvm_cpuid2 *x86_supported_cpuid(const struct kvm *kvm)
{
	struct kvm_cpuid2 *c = get_supported_cpuid(kvm);

	if (c)
		x86_cpuid_add_kvm_features(c, kvm_check_cap(kvm, KVM_CAP_TSC_DEADLINE_TIMER) > 0);
	return c;
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
