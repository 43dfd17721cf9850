/* emulate.h: completing in userspace the few instructions KVM's emulator cannot run but whose
 * effect is simple (int3, int imm8, fwait, cmpxchg16b, ldmxcsr/stmxcsr, clac/stac, clwb,
 * xgetbv, invpcid), and raising #UD for those the guest's CPUID does not offer (rdpru, movbe),
 * so a guest is not stopped for them. */
#ifndef KILN_ARCH_X86_EMULATE_H
#define KILN_ARCH_X86_EMULATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
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

/* What completing an instruction needs of a vCPU besides its registers. kiln's is over KVM
 * ioctls (arch_complete_insn()); the unit tests' and the fuzzer's over memory. Each returns 0 or
 * -errno unless it says otherwise; ctx is passed through. */
struct x86_emu_ops {
	/* Host address of `len` bytes (not crossing a page) at guest-linear `lin`, for a read or
	 * a write at user or supervisor privilege. NULL when the guest's page tables refuse it,
	 * with *pf_error the #PF error code (SDM vol. 3, 4.7: P, W, U), or with *pf_error = ~0u
	 * when the page is mapped but not RAM (kiln then leaves the instruction to the report). */
	void *(*map)(void *ctx, uint64_t lin, size_t len, bool write, bool user, uint32_t *pf_error);
	/* The guest's CPUID leaf/subleaf as kiln set it: 0 with eax, ebx, ecx, edx in out[], or
	 * -ENOENT (a leaf the guest does not have reads as zeros). */
	int (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
	int (*get_mxcsr)(void *ctx, uint32_t *mxcsr);
	int (*set_mxcsr)(void *ctx, uint32_t mxcsr);
	int (*get_xcr0)(void *ctx, uint64_t *xcr0);
	/* Invalidates every TLB entry of the vCPU, all PCIDs, globals included. */
	int (*flush_tlb)(void *ctx);
};

/* An exception to raise in the guest instead of completing the instruction; RIP stays at it. */
struct x86_fault {
	uint8_t vector;
	bool has_error;
	uint32_t error;
	uint64_t cr2; /* #PF only */
};

/* Completes the instruction whose first `len` bytes (up to 15) are `insn`, at r->rip, in the state
 * r and s (only r changes). Returns 0 with its effect in *r (RIP after it, or at the handler of
 * an int), 1 with *fault filled when it raises an exception instead (#UD, #GP, #NP, #SS, #PF:
 * the caller injects it, r unchanged), -ENOTSUP when it is not an instruction completed here or
 * needs what is not (a privilege change, a non-RAM operand, a non-64-bit memory form), or
 * -errno from ops. *what names it ("int3", "xgetbv", "rdpru", ...) unless -ENOTSUP. */
int x86_emulate_insn(const struct x86_emu_ops *ops, void *ctx, const uint8_t *insn,
		     unsigned int len, struct kvm_regs *r, const struct kvm_sregs *s,
		     const char **what, struct x86_fault *fault);

#endif
