/* emulate.h: completing in userspace the few instructions KVM's emulator cannot run but whose
 * effect is simple (int3, fwait, cmpxchg16b, ldmxcsr/stmxcsr), so a guest is not stopped for them. */
#ifndef KILN_ARCH_X86_EMULATE_H
#define KILN_ARCH_X86_EMULATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/memory.h"

/* Called on KVM_EXIT_INTERNAL_ERROR / emulation failure with the bytes at the guest's RIP.
 *  - int3 (cc): delivers #BP through the guest's 64-bit IDT, with the return address after the
 *    int3, exactly as the CPU would (IST stack if the gate has one, 16-byte aligned frame of
 *    SS, RSP, RFLAGS, CS, RIP; IF cleared for an interrupt gate);
 *  - fwait (9b): no x87 exception can be pending (kiln never unmasks one), so it is a no-op:
 *    RIP moves past it;
 *  - cmpxchg16b m128 ([f0] [64|65] 48-4f 0f c7 /1, 64-bit mode): done atomically on the guest's
 *    memory, translated through its page tables; RDX:RAX and ZF set, RIP advanced; a
 *    misaligned operand gets #GP(0) injected instead (*what says so);
 *  - ldmxcsr / stmxcsr m32 ([REX] 0f ae /2, /3; Linux's kernel_fpu_begin()): MXCSR loaded from or
 *    stored to guest memory through KVM_GET_XSAVE/KVM_SET_XSAVE, RIP advanced; reserved bits in a
 *    loaded value get #GP(0).
 * Returns 0 when the instruction was completed and the vCPU may run on, with *what naming it;
 * -ENOTSUP for anything else (the caller stops the VM with its report). */
int arch_complete_insn(int vcpu_fd, const struct gmem *gm, const uint8_t *insn, unsigned int len,
		       const char **what);

/* Decodes cmpxchg16b's memory operand from the instruction bytes at r->rip (64-bit mode only:
 * lock and segment prefixes, REX with W, ModRM, SIB, disp8/disp32, RIP-relative; FS and GS
 * bases from s). Returns 0 with the operand's linear address and the instruction's length, or
 * -ENOTSUP when the bytes are not that instruction or are cut short. No KVM calls. */
int x86_decode_cmpxchg16b(const uint8_t *insn, unsigned int len, const struct kvm_regs *r,
			  const struct kvm_sregs *s, uint64_t *linear, unsigned int *ilen);

/* Decodes ldmxcsr (*store false) or stmxcsr (*store true) with a memory operand, as above, in
 * 64-bit mode. Returns 0 with the operand's linear address and the instruction's length, or
 * -ENOTSUP. No KVM calls. */
int x86_decode_mxcsr_op(const uint8_t *insn, unsigned int len, const struct kvm_regs *r,
			const struct kvm_sregs *s, bool *store, uint64_t *linear, unsigned int *ilen);

#endif
