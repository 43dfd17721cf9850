/* emulate.h: completing in userspace the few instructions KVM's emulator cannot run but whose
 * effect is simple (int3, fwait), so a guest is not stopped for them. */
#ifndef KILN_ARCH_X86_EMULATE_H
#define KILN_ARCH_X86_EMULATE_H

#include <stdint.h>

#include "kvm/memory.h"

/* Called on KVM_EXIT_INTERNAL_ERROR / emulation failure with the bytes at the guest's RIP.
 *  - int3 (cc): delivers #BP through the guest's 64-bit IDT, with the return address after the
 *    int3, exactly as the CPU would (IST stack if the gate has one, 16-byte aligned frame of
 *    SS, RSP, RFLAGS, CS, RIP; IF cleared for an interrupt gate);
 *  - fwait (9b): no x87 exception can be pending (kiln never unmasks one), so it is a no-op:
 *    RIP moves past it.
 * Returns 0 when the instruction was completed and the vCPU may run on, with *what naming it;
 * -ENOTSUP for anything else (the caller stops the VM with its report). */
int arch_complete_insn(int vcpu_fd, const struct gmem *gm, const uint8_t *insn, unsigned int len,
		       const char **what);

#endif
