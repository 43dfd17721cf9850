/* stubs.c: what the arm64 port does not do yet, refused with one line each: the gdb stub (an
 * aarch64 target description), and instruction completion (an x86 need). docs/arm64.md lists
 * them. */
#include <errno.h>
#include <stdio.h>

#include "arch/arm64/board.h"

unsigned int arch_insn_bytes(const struct vcpu *vcpu, const struct gmem *mem, uint8_t *out,
			     unsigned int max)
{
	(void)vcpu;
	(void)mem;
	(void)out;
	(void)max;
	return 0;
}

int arch_complete_insn(const struct vcpu *vcpu, const struct gmem *mem, const uint8_t *insn,
		       unsigned int len, const char **what)
{
	(void)vcpu;
	(void)mem;
	(void)insn;
	(void)len;
	(void)what;
	return -ENOTSUP;
}

/* The gdb stub: arch_vm_create() refuses --gdb on arm64, so none of these is reached. */
const char arch_gdb_target_xml[] = "";
const uint8_t arch_gdb_sw_bp[] = { 0x00, 0x00, 0x20, 0xd4 }; /* brk #0 */
const size_t arch_gdb_sw_bp_len = sizeof(arch_gdb_sw_bp);

int arch_gdb_reg_location(unsigned int regno, size_t *off, size_t *len)
{
	(void)regno;
	(void)off;
	(void)len;
	return -ENOENT;
}

int arch_gdb_read_regs(const struct vcpu *vcpu, uint8_t *buf, size_t size)
{
	(void)vcpu;
	(void)buf;
	(void)size;
	return -ENOTSUP;
}

int arch_gdb_write_regs(const struct vcpu *vcpu, const uint8_t *buf, size_t len)
{
	(void)vcpu;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

int arch_gdb_translate(const struct vcpu *vcpu, uint64_t gva, uint64_t *gpa)
{
	(void)vcpu;
	(void)gva;
	(void)gpa;
	return -ENOTSUP;
}

bool arch_gdb_hw_ok(enum arch_gdb_hw_kind kind, uint64_t addr, uint64_t len)
{
	(void)kind;
	(void)addr;
	(void)len;
	return false;
}

int arch_gdb_set_debug(const struct vcpu *vcpu, bool enable, bool step, const struct arch_gdb_hw *hw,
		       unsigned int nr)
{
	(void)vcpu;
	(void)enable;
	(void)step;
	(void)hw;
	(void)nr;
	return -ENOTSUP;
}

int arch_gdb_hw_hit(const struct kvm_debug_exit_arch *d)
{
	(void)d;
	return -1;
}
