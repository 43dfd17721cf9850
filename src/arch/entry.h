/* entry.h: struct boot_entry, the architecture's start state of the boot vCPU (arch.h). */
#ifndef KILN_ARCH_ENTRY_H
#define KILN_ARCH_ENTRY_H

#if defined(__x86_64__)
#include "arch/x86/entry.h"
#elif defined(__aarch64__)
#include "arch/arm64/entry.h"
#else
#error "kiln has architectures x86-64 (src/arch/x86) and arm64 (src/arch/arm64) only"
#endif

#endif
