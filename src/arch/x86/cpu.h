/* cpu.h: per-vCPU x86 state at power-on beyond CPUID: boot MSRs, FPU control words, and the local
 * APIC's LINT0/LINT1 wiring, as Linux's startup code and the MP table expect them. */
#ifndef KILN_ARCH_X86_CPU_H
#define KILN_ARCH_X86_CPU_H

#include "util/checked.h"

/* Sets the MSRs a boot loader leaves in a known state (SYSENTER/SYSCALL targets zero, TSC zero,
 * fast strings on, MTRRs enabled with write-back default), the x87/SSE control words (FCW 0x37f,
 * MXCSR 0x1f80), and LVT LINT0 = ExtINT, LINT1 = NMI. Call after KVM_SET_CPUID2 and before the
 * vCPU first runs. Returns 0 or -errno; an MSR the host refuses is skipped (logged at debug). */
int __must_check x86_setup_vcpu_state(int vcpu_fd, unsigned int id);

#endif
