/* cputemplate.h: the guest's CPUID and MSRs under a CPU template: kiln's defaults, the static
 * templates T2 and C3, custom templates and --cpuid-mask (docs/cpu-templates.md). */
#ifndef KILN_ARCH_X86_CPUTEMPLATE_H
#define KILN_ARCH_X86_CPUTEMPLATE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util/checked.h"

/* The KVM paravirtual features leaf (Documentation/virt/kvm/x86/cpuid.rst): EAX holds the
 * KVM_FEATURE_* bits. */
#define X86_CPUID_KVM_FEATURES 0x40000001u

/* KVM_FEATURE_* bits a guest may see unless a template or mask says otherwise: every feature
 * of Linux 6.x's list except the three asynchronous page fault ones (ASYNC_PF 4,
 * ASYNC_PF_VMEXIT 10, ASYNC_PF_INT 14), and none KVM adds later until kiln lists it. */
#define X86_KVM_FEATURES_DEFAULT                                                                 \
	((1u << 0) | (1u << 1) | (1u << 3) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 9) |      \
	 (1u << 11) | (1u << 12) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) | (1u << 24))

/* The modifiers of static template `name` (as config_cpu_template_name() returns it), or NULL
 * for "None" and unknown names. */
const struct cpu_mods *x86_static_template(const char *name);

/* kiln's CPUID policy before any template: the KVM features leaf keeps only
 * X86_KVM_FEATURES_DEFAULT. Pure function over the table. */
void x86_cpuid_apply_defaults(struct kvm_cpuid2 *cpuid);

/* Applies `m`'s CPUID modifiers to the table in order. A modifier of an entry the table lacks is
 * skipped when `skip_missing` (the static templates: nothing to hide there), else it fails with
 * -EINVAL and a one-line message "<what>: CPUID leaf 0x.. subleaf 0x.. is not in this host's
 * supported set" in err. Pure function over the table. */
int __must_check x86_cpuid_apply_mods(struct kvm_cpuid2 *cpuid, const struct cpu_mods *m,
				      bool skip_missing, const char *what, char *err,
				      size_t err_size);

/* THE guest CPUID for `cfg`, before the per-vCPU topology patch (x86_cpuid_patch()): a copy of
 * `supported` with kiln's defaults, then the static or custom template, then the
 * --cpuid-mask masks applied. This is the feature set a guest of `cfg` sees (snapshots compare
 * against it). Returns a table the caller frees, or NULL with a message in err (-EINVAL cases of
 * x86_cpuid_apply_mods(); errno ENOMEM or EINVAL). */
struct kvm_cpuid2 *x86_cpuid_for_config(const struct kvm_cpuid2 *supported,
					const struct vmm_config *cfg, char *err, size_t err_size);

/* Applies `m`'s MSR modifiers to vCPU `vcpu_fd` (after kiln's boot MSRs): each MSR is read,
 * filtered and written back. Returns 0, or -EINVAL with "<what>: MSR 0x.. ..." in err when KVM
 * refuses to read or write one, or -errno. */
int __must_check x86_apply_msr_mods(int vcpu_fd, const struct cpu_mods *m, const char *what,
				    char *err, size_t err_size);

#endif
