/* cputemplate.c: kiln's CPUID defaults, the static templates T2 and C3, and custom modifiers
 * applied to a CPUID table and a vCPU's MSRs (docs/cpu-templates.md). */
#include "arch/x86/cputemplate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define EAX 0
#define EBX 1
#define ECX 2
#define EDX 3
#define SIGNIFICANT_INDEX KVM_CPUID_FLAG_SIGNIFCANT_INDEX /* sic, the UAPI spelling */

#define MOD(l, s, f, r, fil, val)                                                               \
	{ .leaf = (l), .subleaf = (s), .flags = (f), .has_flags = true, .reg = (r),               \
	  .bits = { .filter = (fil), .value = (val) } }

/* Firecracker's T2 (src/vmm/src/cpu_config/x86_64/static_cpu_templates/t2.rs): the features of
 * an AWS T2 instance, without the leaf 1 EAX family/model/stepping it also sets (kiln keeps the
 * host's signature, which must match its vendor). Bits in the filter with value 0 are hidden. */
static const struct cpu_mods t2 = {
	.nr_cpuid = 10,
	.cpuid = {
		MOD(0x1, 0, 0, ECX, 0x0004cdfc, 0),
		MOD(0x1, 0, 0, EDX, 0xe8641080, 0x00001080),
		MOD(0x7, 0, SIGNIFICANT_INDEX, EBX, 0xffefda14, 0x00000200),
		MOD(0x7, 0, SIGNIFICANT_INDEX, ECX, 0x40415f5e, 0),
		MOD(0x7, 0, SIGNIFICANT_INDEX, EDX, 0x0000011c, 0),
		MOD(0xd, 0, SIGNIFICANT_INDEX, EAX, 0x000002f8, 0),
		MOD(0xd, 1, SIGNIFICANT_INDEX, EAX, 0x0000000e, 0),
		MOD(0x80000001, 0, 0, ECX, 0x20000100, 0),
		MOD(0x80000001, 0, 0, EDX, 0x04000000, 0),
		MOD(0x80000008, 0, 0, EBX, 0x00000200, 0),
	},
};

/* Firecracker's C3 (static_cpu_templates/c3.rs), likewise without the leaf 1 EAX signature. */
static const struct cpu_mods c3 = {
	.nr_cpuid = 9,
	.cpuid = {
		MOD(0x1, 0, 0, ECX, 0x0040dd3c, 0),
		MOD(0x1, 0, 0, EDX, 0xa8641080, 0x00001080),
		MOD(0x7, 0, SIGNIFICANT_INDEX, EBX, 0xffafdd3c, 0),
		MOD(0x7, 0, SIGNIFICANT_INDEX, ECX, 0x4041481e, 0),
		MOD(0x7, 0, SIGNIFICANT_INDEX, EDX, 0x0000000c, 0),
		MOD(0xd, 0, SIGNIFICANT_INDEX, EAX, 0x000002f8, 0),
		MOD(0xd, 1, SIGNIFICANT_INDEX, EAX, 0x0000000e, 0),
		MOD(0x80000001, 0, 0, ECX, 0x00000120, 0),
		MOD(0x80000001, 0, 0, EDX, 0x04000000, 0),
	},
};

const struct cpu_mods *x86_static_template(const char *name)
{
	if (!name)
		return NULL;
	if (strcmp(name, "T2") == 0)
		return &t2;
	if (strcmp(name, "C3") == 0)
		return &c3;
	return NULL;
}

void x86_cpuid_apply_defaults(struct kvm_cpuid2 *cpuid)
{
	for (unsigned int i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == X86_CPUID_KVM_FEATURES)
			e->eax &= X86_KVM_FEATURES_DEFAULT;
	}
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, unsigned int reg)
{
	switch (reg) {
	case EAX:
		return &e->eax;
	case EBX:
		return &e->ebx;
	case ECX:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

int x86_cpuid_apply_mods(struct kvm_cpuid2 *cpuid, const struct cpu_mods *m, bool skip_missing,
			 const char *what, char *err, size_t err_size)
{
	for (unsigned int k = 0; k < m->nr_cpuid && k < CONFIG_MAX_CPUID_MODS; k++) {
		const struct cpu_cpuid_mod *mod = &m->cpuid[k];
		struct kvm_cpuid_entry2 *e = NULL;

		for (unsigned int i = 0; i < cpuid->nent && !e; i++)
			if (cpuid->entries[i].function == mod->leaf &&
			    cpuid->entries[i].index == mod->subleaf)
				e = &cpuid->entries[i];
		if (!e) {
			if (skip_missing)
				continue;
			snprintf(err, err_size,
				 "%s: CPUID leaf 0x%x subleaf 0x%x is not in this host's supported set",
				 what, mod->leaf, mod->subleaf);
			return -EINVAL;
		}
		if (mod->has_flags)
			e->flags = mod->flags;
		uint32_t *r = reg_of(e, mod->reg);
		uint32_t filter = (uint32_t)mod->bits.filter;

		*r = (*r & ~filter) | ((uint32_t)mod->bits.value & filter);
	}
	return 0;
}

struct kvm_cpuid2 *x86_cpuid_for_config(const struct kvm_cpuid2 *supported,
					const struct vmm_config *cfg, char *err, size_t err_size)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	const struct cpu_mods *st = cfg->has_cpu_custom ? NULL : x86_static_template(cfg->cpu_template);

	if (!c) {
		snprintf(err, err_size, "out of memory for the guest's CPUID");
		errno = ENOMEM;
		return NULL;
	}
	memcpy(c, supported, size);
	x86_cpuid_apply_defaults(c);
	if ((st && x86_cpuid_apply_mods(c, st, true, cfg->cpu_template, err, err_size)) ||
	    (cfg->has_cpu_custom &&
	     x86_cpuid_apply_mods(c, &cfg->cpu_custom, false, "cpu-config", err, err_size)) ||
	    x86_cpuid_apply_mods(c, &cfg->cpu_masks, false, "--cpuid-mask", err, err_size)) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	return c;
}

int x86_apply_msr_mods(int vcpu_fd, const struct cpu_mods *m, const char *what, char *err,
		       size_t err_size)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} one;

	for (unsigned int k = 0; k < m->nr_msr && k < CONFIG_MAX_MSR_MODS; k++) {
		const struct cpu_msr_mod *mod = &m->msr[k];
		int r;

		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.entry.index = mod->addr;
		r = ioctl(vcpu_fd, KVM_GET_MSRS, &one);
		if (r < 0)
			return -errno;
		if (r != 1) {
			snprintf(err, err_size, "%s: MSR 0x%x is not one KVM lets this vCPU read", what,
				 mod->addr);
			return -EINVAL;
		}
		one.entry.data = (one.entry.data & ~mod->bits.filter) |
				 (mod->bits.value & mod->bits.filter);
		r = ioctl(vcpu_fd, KVM_SET_MSRS, &one);
		if (r < 0)
			return -errno;
		if (r != 1) {
			snprintf(err, err_size, "%s: KVM refused the value 0x%llx for MSR 0x%x", what,
				 (unsigned long long)one.entry.data, mod->addr);
			return -EINVAL;
		}
	}
	return 0;
}
