/* gdb.c: the x86-64 side of the gdb stub: gdb's i386:x86-64 target description (the core, SSE
 * and segment features gdb knows, plus the control registers), the `g` packet layout, debug
 * registers for hardware breakpoints and watchpoints (Intel SDM vol. 3, 18.2), int3. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"

/* Register numbers are target.xml positions; offsets are in the `g` packet (little-endian). */
enum {
	R_RAX, R_RBX, R_RCX, R_RDX, R_RSI, R_RDI, R_RBP, R_RSP,
	R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15,
	R_RIP, R_EFLAGS, R_CS, R_SS, R_DS, R_ES, R_FS, R_GS,
	R_ST0, R_FCTRL = R_ST0 + 8, R_FSTAT, R_FTAG, R_FISEG, R_FIOFF, R_FOSEG, R_FOOFF, R_FOP,
	R_XMM0, R_MXCSR = R_XMM0 + 16, R_FS_BASE, R_GS_BASE,
	R_CR0, R_CR2, R_CR3, R_CR4, R_CR8, R_EFER, R_NR
};

#define OFF_RIP 128
#define OFF_EFLAGS 136
#define OFF_SEG 140
#define OFF_ST 164
#define OFF_FCTRL 244
#define OFF_XMM 276
#define OFF_MXCSR 532
#define OFF_FS_BASE 536
#define OFF_CR 552
#define REGS_SIZE 600

int arch_gdb_reg_location(unsigned int regno, size_t *off, size_t *len)
{
	if (regno < R_RIP) {
		*off = 8 * regno, *len = 8;
	} else if (regno == R_RIP) {
		*off = OFF_RIP, *len = 8;
	} else if (regno == R_EFLAGS) {
		*off = OFF_EFLAGS, *len = 4;
	} else if (regno < R_ST0) {
		*off = OFF_SEG + 4 * (regno - R_CS), *len = 4;
	} else if (regno < R_FCTRL) {
		*off = OFF_ST + 10 * (regno - R_ST0), *len = 10;
	} else if (regno < R_XMM0) {
		*off = OFF_FCTRL + 4 * (regno - R_FCTRL), *len = 4;
	} else if (regno < R_MXCSR) {
		*off = OFF_XMM + 16 * (regno - R_XMM0), *len = 16;
	} else if (regno == R_MXCSR) {
		*off = OFF_MXCSR, *len = 4;
	} else if (regno < R_CR0) {
		*off = OFF_FS_BASE + 8 * (regno - R_FS_BASE), *len = 8;
	} else if (regno < R_NR) {
		*off = OFF_CR + 8 * (regno - R_CR0), *len = 8;
	} else {
		return -ENOENT;
	}
	return 0;
}

#define REG64(n) "<reg name=\"" n "\" bitsize=\"64\" type=\"int64\"/>"
#define REGSEG(n) "<reg name=\"" n "\" bitsize=\"32\" type=\"int32\"/>"
#define REGST(n) "<reg name=\"st" n "\" bitsize=\"80\" type=\"i387_ext\"/>"
#define REGFP(n) "<reg name=\"" n "\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
#define REGXMM(n) "<reg name=\"xmm" n "\" bitsize=\"128\" type=\"vec128\"/>"

/* Written for kiln from the gdb manual ("i386 Features"); register names and order are the ones
 * gdb's amd64 support checks. */
const char arch_gdb_target_xml[] =
	"<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	"<target version=\"1.0\"><architecture>i386:x86-64</architecture>"
	"<feature name=\"org.gnu.gdb.i386.core\">"
	"<flags id=\"i386_eflags\" size=\"4\">"
	"<field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"PF\" start=\"2\" end=\"2\"/>"
	"<field name=\"AF\" start=\"4\" end=\"4\"/><field name=\"ZF\" start=\"6\" end=\"6\"/>"
	"<field name=\"SF\" start=\"7\" end=\"7\"/><field name=\"TF\" start=\"8\" end=\"8\"/>"
	"<field name=\"IF\" start=\"9\" end=\"9\"/><field name=\"DF\" start=\"10\" end=\"10\"/>"
	"<field name=\"OF\" start=\"11\" end=\"11\"/><field name=\"NT\" start=\"14\" end=\"14\"/>"
	"<field name=\"RF\" start=\"16\" end=\"16\"/><field name=\"VM\" start=\"17\" end=\"17\"/>"
	"<field name=\"AC\" start=\"18\" end=\"18\"/><field name=\"VIF\" start=\"19\" end=\"19\"/>"
	"<field name=\"VIP\" start=\"20\" end=\"20\"/><field name=\"ID\" start=\"21\" end=\"21\"/>"
	"</flags>"
	REG64("rax") REG64("rbx") REG64("rcx") REG64("rdx") REG64("rsi") REG64("rdi")
	"<reg name=\"rbp\" bitsize=\"64\" type=\"data_ptr\"/>"
	"<reg name=\"rsp\" bitsize=\"64\" type=\"data_ptr\"/>"
	REG64("r8") REG64("r9") REG64("r10") REG64("r11") REG64("r12") REG64("r13") REG64("r14")
	REG64("r15")
	"<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/>"
	"<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>"
	REGSEG("cs") REGSEG("ss") REGSEG("ds") REGSEG("es") REGSEG("fs") REGSEG("gs")
	REGST("0") REGST("1") REGST("2") REGST("3") REGST("4") REGST("5") REGST("6") REGST("7")
	REGFP("fctrl") REGFP("fstat") REGFP("ftag") REGFP("fiseg") REGFP("fioff") REGFP("foseg")
	REGFP("fooff") REGFP("fop")
	"</feature>"
	"<feature name=\"org.gnu.gdb.i386.sse\">"
	"<vector id=\"v8bf16\" type=\"bfloat16\" count=\"8\"/>"
	"<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>"
	"<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
	"<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>"
	"<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
	"<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
	"<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
	"<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/>"
	"<field name=\"v2_double\" type=\"v2d\"/><field name=\"v16_int8\" type=\"v16i8\"/>"
	"<field name=\"v8_int16\" type=\"v8i16\"/><field name=\"v4_int32\" type=\"v4i32\"/>"
	"<field name=\"v2_int64\" type=\"v2i64\"/><field name=\"uint128\" type=\"uint128\"/>"
	"</union>"
	"<flags id=\"i386_mxcsr\" size=\"4\">"
	"<field name=\"IE\" start=\"0\" end=\"0\"/><field name=\"DE\" start=\"1\" end=\"1\"/>"
	"<field name=\"ZE\" start=\"2\" end=\"2\"/><field name=\"OE\" start=\"3\" end=\"3\"/>"
	"<field name=\"UE\" start=\"4\" end=\"4\"/><field name=\"PE\" start=\"5\" end=\"5\"/>"
	"<field name=\"DAZ\" start=\"6\" end=\"6\"/><field name=\"IM\" start=\"7\" end=\"7\"/>"
	"<field name=\"DM\" start=\"8\" end=\"8\"/><field name=\"ZM\" start=\"9\" end=\"9\"/>"
	"<field name=\"OM\" start=\"10\" end=\"10\"/><field name=\"UM\" start=\"11\" end=\"11\"/>"
	"<field name=\"PM\" start=\"12\" end=\"12\"/><field name=\"FZ\" start=\"15\" end=\"15\"/>"
	"</flags>"
	REGXMM("0") REGXMM("1") REGXMM("2") REGXMM("3") REGXMM("4") REGXMM("5") REGXMM("6")
	REGXMM("7") REGXMM("8") REGXMM("9") REGXMM("10") REGXMM("11") REGXMM("12") REGXMM("13")
	REGXMM("14") REGXMM("15")
	"<reg name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" group=\"vector\"/>"
	"</feature>"
	"<feature name=\"org.gnu.gdb.i386.segments\">"
	"<reg name=\"fs_base\" bitsize=\"64\" type=\"int\"/>"
	"<reg name=\"gs_base\" bitsize=\"64\" type=\"int\"/>"
	"</feature>"
	"<feature name=\"org.kiln.x86.control\">"
	"<reg name=\"cr0\" bitsize=\"64\" type=\"int64\" group=\"system\"/>"
	"<reg name=\"cr2\" bitsize=\"64\" type=\"int64\" group=\"system\"/>"
	"<reg name=\"cr3\" bitsize=\"64\" type=\"int64\" group=\"system\"/>"
	"<reg name=\"cr4\" bitsize=\"64\" type=\"int64\" group=\"system\"/>"
	"<reg name=\"cr8\" bitsize=\"64\" type=\"int64\" group=\"system\"/>"
	"<reg name=\"efer\" bitsize=\"64\" type=\"int64\" group=\"system\"/>"
	"</feature></target>";

static void put(uint8_t *buf, size_t off, uint64_t v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *buf, size_t off, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len; i++)
		v |= (uint64_t)buf[off + i] << (8 * i);
	return v;
}

/* kvm_regs in gdb's order (rax rbx rcx rdx rsi rdi rbp rsp r8..r15). */
static unsigned long long *gpr(struct kvm_regs *r, unsigned int i)
{
	unsigned long long *const p[16] = { &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi,
					     &r->rbp, &r->rsp, &r->r8,	&r->r9,	 &r->r10, &r->r11,
					     &r->r12, &r->r13, &r->r14, &r->r15 };
	return p[i];
}

static struct kvm_segment *seg(struct kvm_sregs *s, unsigned int i)
{
	struct kvm_segment *const p[6] = { &s->cs, &s->ss, &s->ds, &s->es, &s->fs, &s->gs };
	return p[i];
}

static unsigned long long *creg(struct kvm_sregs *s, unsigned int i)
{
	unsigned long long *const p[6] = { &s->cr0, &s->cr2, &s->cr3, &s->cr4, &s->cr8, &s->efer };
	return p[i];
}

static int get_all(const struct vcpu *vcpu, struct kvm_regs *r, struct kvm_sregs *s,
		   struct kvm_fpu *f)
{
	if (ioctl(vcpu->fd, KVM_GET_REGS, r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, s) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_FPU, f) < 0)
		return -errno;
	return 0;
}

int arch_gdb_read_regs(const struct vcpu *vcpu, uint8_t *buf, size_t size)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu f;
	unsigned int ftag = 0;
	int e;

	if (size < REGS_SIZE)
		return -ENOSPC;
	e = get_all(vcpu, &r, &s, &f);
	if (e)
		return e;
	memset(buf, 0, REGS_SIZE);
	for (unsigned int i = 0; i < 16; i++)
		put(buf, 8 * i, *gpr(&r, i), 8);
	put(buf, OFF_RIP, r.rip, 8);
	put(buf, OFF_EFLAGS, r.rflags, 4);
	for (unsigned int i = 0; i < 6; i++)
		put(buf, OFF_SEG + 4 * i, seg(&s, i)->selector, 4);
	for (unsigned int i = 0; i < 8; i++)
		memcpy(buf + OFF_ST + 10 * i, f.fpr[i], 10);
	/* KVM keeps the abridged (FXSAVE) tag: one bit per register, 1 = not empty. gdb wants
	 * the full tag word: 11 = empty, 00 = valid (the finer zero/special kinds are lost). */
	for (unsigned int i = 0; i < 8; i++)
		if (!(f.ftwx & (1u << i)))
			ftag |= 3u << (2 * i);
	put(buf, OFF_FCTRL + 0, f.fcw, 4);
	put(buf, OFF_FCTRL + 4, f.fsw, 4);
	put(buf, OFF_FCTRL + 8, ftag, 4);
	put(buf, OFF_FCTRL + 12, 0, 4);
	put(buf, OFF_FCTRL + 16, f.last_ip, 4);
	put(buf, OFF_FCTRL + 20, 0, 4);
	put(buf, OFF_FCTRL + 24, f.last_dp, 4);
	put(buf, OFF_FCTRL + 28, f.last_opcode, 4);
	for (unsigned int i = 0; i < 16; i++)
		memcpy(buf + OFF_XMM + 16 * i, f.xmm[i], 16);
	put(buf, OFF_MXCSR, f.mxcsr, 4);
	put(buf, OFF_FS_BASE, s.fs.base, 8);
	put(buf, OFF_FS_BASE + 8, s.gs.base, 8);
	for (unsigned int i = 0; i < 6; i++)
		put(buf, OFF_CR + 8 * i, *creg(&s, i), 8);
	return REGS_SIZE;
}

int arch_gdb_write_regs(const struct vcpu *vcpu, const uint8_t *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu f;
	unsigned int ftag;
	int e;

	if (len != REGS_SIZE)
		return -EINVAL;
	e = get_all(vcpu, &r, &s, &f);
	if (e)
		return e;
	for (unsigned int i = 0; i < 6; i++)
		if (get(buf, OFF_SEG + 4 * i, 4) != seg(&s, i)->selector)
			return -EINVAL; /* a selector means a descriptor too: not writable here */
	for (unsigned int i = 0; i < 16; i++)
		*gpr(&r, i) = get(buf, 8 * i, 8);
	r.rip = get(buf, OFF_RIP, 8);
	r.rflags = get(buf, OFF_EFLAGS, 4);
	for (unsigned int i = 0; i < 8; i++)
		memcpy(f.fpr[i], buf + OFF_ST + 10 * i, 10);
	f.fcw = (uint16_t)get(buf, OFF_FCTRL, 4);
	f.fsw = (uint16_t)get(buf, OFF_FCTRL + 4, 4);
	ftag = (unsigned int)get(buf, OFF_FCTRL + 8, 4);
	f.ftwx = 0;
	for (unsigned int i = 0; i < 8; i++)
		if (((ftag >> (2 * i)) & 3) != 3)
			f.ftwx |= (uint8_t)(1u << i);
	f.last_ip = get(buf, OFF_FCTRL + 16, 4);
	f.last_dp = get(buf, OFF_FCTRL + 24, 4);
	f.last_opcode = (uint16_t)get(buf, OFF_FCTRL + 28, 4);
	for (unsigned int i = 0; i < 16; i++)
		memcpy(f.xmm[i], buf + OFF_XMM + 16 * i, 16);
	f.mxcsr = (uint32_t)get(buf, OFF_MXCSR, 4);
	s.fs.base = get(buf, OFF_FS_BASE, 8);
	s.gs.base = get(buf, OFF_FS_BASE + 8, 8);
	for (unsigned int i = 0; i < 6; i++)
		*creg(&s, i) = get(buf, OFF_CR + 8 * i, 8);
	if (ioctl(vcpu->fd, KVM_SET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_SET_SREGS, &s) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_FPU, &f) < 0)
		return -errno;
	return 0;
}

int arch_gdb_translate(const struct vcpu *vcpu, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation tr = { .linear_address = gva };

	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return -EFAULT;
	*gpa = tr.physical_address;
	return 0;
}

const uint8_t arch_gdb_sw_bp[] = { 0xcc }; /* int3 */
const size_t arch_gdb_sw_bp_len = sizeof(arch_gdb_sw_bp);

#define DR7_GE (1u << 9)
#define DR7_FIXED (1u << 10)
#define DR6_BS (1u << 14)

bool arch_gdb_hw_ok(enum arch_gdb_hw_kind kind, uint64_t addr, uint64_t len)
{
	if (kind == ARCH_GDB_HW_EXEC)
		return true; /* length is ignored: the breakpoint is on one instruction */
	/* Data breakpoints cover 1, 2, 4 or 8 aligned bytes (SDM 18.2.5). */
	return (len == 1 || len == 2 || len == 4 || len == 8) && (addr & (len - 1)) == 0;
}

int arch_gdb_set_debug(const struct vcpu *vcpu, bool enable, bool step,
		       const struct arch_gdb_hw *hw, unsigned int nr)
{
	struct kvm_guest_debug dbg = { 0 };
	uint64_t dr7 = DR7_GE | DR7_FIXED;

	if (nr > ARCH_GDB_MAX_HW)
		return -EINVAL;
	if (enable) {
		dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
		if (step)
			dbg.control |= KVM_GUESTDBG_SINGLESTEP;
		for (unsigned int i = 0; i < nr; i++) {
			/* R/W bits: 00 execute, 01 write, 11 read or write; LEN: 00 1 byte, 01 2,
			 * 11 4, 10 8 (0 for execute). */
			uint64_t rw = hw[i].kind == ARCH_GDB_HW_EXEC	? 0
				      : hw[i].kind == ARCH_GDB_HW_WRITE ? 1
									: 3;
			uint64_t ln = hw[i].kind == ARCH_GDB_HW_EXEC ? 0
				      : hw[i].len == 1		     ? 0
				      : hw[i].len == 2		     ? 1
				      : hw[i].len == 8		     ? 2
								     : 3;

			dbg.arch.debugreg[i] = hw[i].addr;
			dr7 |= (2ull << (2 * i)) | (rw << (16 + 4 * i)) | (ln << (18 + 4 * i));
		}
		if (nr) {
			dbg.control |= KVM_GUESTDBG_USE_HW_BP;
			dbg.arch.debugreg[7] = dr7;
		}
	}
	if (ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
		return -errno;
	return 0;
}

int arch_gdb_hw_hit(const struct kvm_debug_exit_arch *d)
{
	if (d->exception != 1 /* #DB */ || (d->dr6 & DR6_BS))
		return -1;
	for (int i = 0; i < ARCH_GDB_MAX_HW; i++)
		if (d->dr6 & (1u << i))
			return i;
	return -1;
}
