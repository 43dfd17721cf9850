/* emulate.h: completing in userspace the few instructions KVM's emulator cannot run but whose
 * effect is simple (int3, fwait, cmpxchg16b, ldmxcsr/stmxcsr), so a guest is not stopped for them. */
#ifndef KILN_ARCH_X86_EMULATE_H
#define KILN_ARCH_X86_EMULATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/memory.h"


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
