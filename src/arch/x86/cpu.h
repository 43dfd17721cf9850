/* cpu.h: per-vCPU x86 state at power-on beyond CPUID: boot MSRs, FPU control words, and the local
 * APIC's LINT0/LINT1 wiring, as Linux's startup code and the MP table expect them. */
#ifndef KILN_ARCH_X86_CPU_H
#define KILN_ARCH_X86_CPU_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "util/checked.h"

/* Sets the MSRs a boot loader leaves in a known state (SYSENTER/SYSCALL targets zero, TSC zero,
 * fast strings on, MTRRs enabled with write-back default), the x87/SSE control words (FCW 0x37f,
 * MXCSR 0x1f80), and LVT LINT0 = ExtINT, LINT1 = NMI. Call after KVM_SET_CPUID2 and before the
 * vCPU first runs. Returns 0 or -errno; an MSR the host refuses is skipped (logged at debug). */
int __must_check x86_setup_vcpu_state(int vcpu_fd, unsigned int id);

/* Whether `r` and `s` are the state an INIT or power-on leaves (SDM vol. 3A, 9.1.1, table 9-1):
 * CS selector 0xf000 with base 0xffff0000, RIP 0xfff0, CR0.PE clear. On AMD SVM, KVM reports a
 * triple fault (KVM_EXIT_SHUTDOWN) only after resetting the vCPU this way (the VMCB is undefined
 * after a shutdown intercept), so a crash report can say the faulting state is lost. */
bool x86_regs_at_reset(const struct kvm_regs *r, const struct kvm_sregs *s);

#endif
