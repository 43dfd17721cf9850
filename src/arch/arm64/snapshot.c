/* snapshot.c: the arm64 parts of a snapshot (arch.h, docs/snapshot.md): each vCPU's registers
 * (every one KVM_GET_REG_LIST names: core, FP/SIMD, system, timer and firmware registers, one
 * KVM_GET_ONE_REG each), its MP state and events, the GICv3's state through the vGIC device's
 * attributes (Documentation/virt/kvm/devices/arm-vgic-v3.rst) and the PL011. A GICv2 is refused. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arm64/board.h"
#include "util/log.h"

const char arch_snapshot_name[] = "aarch64";

#define ARM64_SNAP_MAX_REGS 4096u  /* KVM lists a few hundred */
#define ARM64_SNAP_MAX_REG_BYTES 256u /* the widest register is an SVE Z (2048 bits) */
#define ARM64_SNAP_EVENTS 1u       /* events holds KVM_GET_VCPU_EVENTS */

/* MPIDR_EL1 (op0 3, op1 0, CRn 0, CRm 0, op2 5). */
#define ARM64_MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)

/* Section "vcpuN"; its registers are in "vcpuN.regs", one record each: struct arm64_reg_rec,
 * then the register's bytes (its size is the id's KVM_REG_SIZE), padded to 8. */
struct arm64_vcpu_snap {
	uint32_t flags;
	uint32_t pad;
	struct kvm_mp_state mp_state;
	uint32_t pad2;
	struct kvm_vcpu_events events;
};

struct arm64_reg_rec {
	uint64_t id;
	uint32_t size;
	uint32_t pad;
};

/* Section "arm64.gic", then "arm64.gic.regs": every vGIC register as (group, attr, value), in
 * the order a restore writes them. */
struct arm64_gic_snap {
	uint32_t gic_version; /* 3 */
	uint32_t nr_irqs;     /* KVM_DEV_ARM_VGIC_GRP_NR_IRQS: SGIs, PPIs and SPIs */
};

struct arm64_gic_rec {
	uint32_t group;
	uint32_t pad;
	uint64_t attr;
	uint64_t val; /* 32 bits but for the CPU interface's system registers */
};

int arch_snapshot_check(const struct arch_vm *a, char *err, size_t err_size)
{
	if (a->gic_version != 3) {
		snprintf(err, err_size, "snapshots on arm64 need a GICv3; this host's KVM gave kiln a "
					"GICv%d, whose state kiln cannot save yet", a->gic_version);
		return -ENOTSUP;
	}
	return 0;
}

static size_t reg_size(uint64_t id)
{
	return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

/* The vGIC's attribute encoding of a vCPU's MPIDR_EL1 (Aff3..Aff0 in bits 63..32). */
static uint64_t mpidr_attr(uint64_t mpidr)
{
	return ((mpidr >> 32) & 0xffull) << 56 | ((mpidr >> 16) & 0xffull) << 48 |
	       ((mpidr >> 8) & 0xffull) << 40 | (mpidr & 0xffull) << 32;
}

/* KVM_GET_REG_LIST: the vCPU's register ids; caller frees. NULL with -errno in *e. */
static struct kvm_reg_list *reg_list(const struct vcpu *vcpu, int *e)
{
	struct kvm_reg_list probe = { .n = 0 }, *list;

	if (ioctl(vcpu->fd, KVM_GET_REG_LIST, &probe) == 0 || errno != E2BIG) {
		*e = errno ? -errno : -EIO;
		return NULL;
	}
	if (probe.n > ARM64_SNAP_MAX_REGS) {
		*e = -E2BIG;
		return NULL;
	}
	list = calloc(1, sizeof(*list) + probe.n * sizeof(list->reg[0]));
	if (!list) {
		*e = -ENOMEM;
		return NULL;
	}
	list->n = probe.n;
	if (ioctl(vcpu->fd, KVM_GET_REG_LIST, list) < 0) {
		*e = -errno;
		free(list);
		return NULL;
	}
	return list;
}

static int one_reg(const struct vcpu *vcpu, unsigned long req, uint64_t id, void *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(vcpu->fd, req, &r) < 0 ? -errno : 0;
}

int arch_vcpu_save(struct arch_vm *a, const struct vcpu *vcpu, struct snap_writer *w, char *err,
		   size_t err_size)
{
	struct arm64_vcpu_snap s;
	struct kvm_reg_list *list;
	char name[SNAP_NAME_MAX + 1];
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t mpidr = 0;
	int e = 0;

	if ((e = arch_snapshot_check(a, err, err_size)))
		return e;
	if (vcpu->id >= a->cfg->nr_vcpus) {
		snprintf(err, err_size, "vcpu%u: no such vCPU", vcpu->id);
		return -EINVAL;
	}
	memset(&s, 0, sizeof(s));
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &s.mp_state) < 0) {
		e = -errno;
		snprintf(err, err_size, "vcpu%u: KVM_GET_MP_STATE failed: %s", vcpu->id, strerror(errno));
		return e;
	}
	if (kvm_check_cap(vm_kvm(a->vm), KVM_CAP_VCPU_EVENTS) > 0) {
		if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &s.events) < 0) {
			e = -errno;
			snprintf(err, err_size, "vcpu%u: KVM_GET_VCPU_EVENTS failed: %s", vcpu->id,
				 strerror(errno));
			return e;
		}
		s.flags |= ARM64_SNAP_EVENTS;
	}
	if (!(list = reg_list(vcpu, &e))) {
		snprintf(err, err_size, "vcpu%u: KVM_GET_REG_LIST failed: %s", vcpu->id, strerror(-e));
		return e;
	}
	buf = malloc(list->n * (sizeof(struct arm64_reg_rec) + ARM64_SNAP_MAX_REG_BYTES) + 1);
	if (!buf) {
		e = -ENOMEM;
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	for (uint64_t i = 0; i < list->n; i++) {
		struct arm64_reg_rec rec = { .id = list->reg[i], .size = (uint32_t)reg_size(list->reg[i]) };

		if (rec.size > ARM64_SNAP_MAX_REG_BYTES) {
			e = -ENOTSUP;
			snprintf(err, err_size, "vcpu%u: register 0x%" PRIx64 " has %u bytes, more than "
						"kiln saves", vcpu->id, rec.id, rec.size);
			goto out;
		}
		memset(buf + len, 0, sizeof(rec) + ((rec.size + 7) & ~7u));
		memcpy(buf + len, &rec, sizeof(rec));
		if ((e = one_reg(vcpu, KVM_GET_ONE_REG, rec.id, buf + len + sizeof(rec)))) {
			snprintf(err, err_size, "vcpu%u: KVM_GET_ONE_REG 0x%" PRIx64 " failed: %s",
				 vcpu->id, rec.id, strerror(-e));
			goto out;
		}
		if (rec.id == ARM64_MPIDR_EL1)
			memcpy(&mpidr, buf + len + sizeof(rec), sizeof(mpidr));
		len += sizeof(rec) + ((rec.size + 7) & ~7u);
	}
	a->mpidr[vcpu->id] = mpidr;
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	if (!(e = snap_add(w, name, &s, sizeof(s)))) {
		snprintf(name, sizeof(name), "vcpu%u.regs", vcpu->id);
		e = snap_add(w, name, buf, len);
	}
	if (e)
		snprintf(err, err_size, "vcpu%u: cannot add its state: %s", vcpu->id, strerror(-e));
out:
	free(buf);
	free(list);
	return e;
}

int arch_vcpu_load(struct arch_vm *a, struct vcpu *vcpu, const struct snap_reader *r, char *err,
		   size_t err_size)
{
	struct arm64_vcpu_snap s;
	struct kvm_reg_list *list;
	char name[SNAP_NAME_MAX + 1];
	const uint8_t *regs;
	size_t len, off;
	int e;

	if ((e = arch_snapshot_check(a, err, err_size)))
		return -EINVAL;
	if (vcpu->id >= a->cfg->nr_vcpus) {
		snprintf(err, err_size, "vcpu%u: no such vCPU", vcpu->id);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	if ((e = snap_get_exact(r, name, &s, sizeof(s), err, err_size)))
		return e;
	snprintf(name, sizeof(name), "vcpu%u.regs", vcpu->id);
	if (!(regs = snap_get(r, name, &len))) {
		snprintf(err, err_size, "section '%s' is missing", name);
		return -EINVAL;
	}
	if ((s.flags & ARM64_SNAP_EVENTS) && kvm_check_cap(vm_kvm(a->vm), KVM_CAP_VCPU_EVENTS) <= 0) {
		snprintf(err, err_size, "vcpu%u: saved with vCPU events this host's KVM cannot load",
			 vcpu->id);
		return -EINVAL;
	}
	if (!(list = reg_list(vcpu, &e))) {
		snprintf(err, err_size, "vcpu%u: KVM_GET_REG_LIST failed: %s", vcpu->id, strerror(-e));
		return e;
	}
	/* The whole section first: well formed, and every register one this KVM has. */
	for (off = 0; off < len;) {
		struct arm64_reg_rec rec;
		uint64_t i;

		if (len - off < sizeof(rec)) {
			e = -EINVAL;
			snprintf(err, err_size, "section '%s': a register record is cut short", name);
			goto out;
		}
		memcpy(&rec, regs + off, sizeof(rec));
		if (rec.size != reg_size(rec.id) || rec.size > ARM64_SNAP_MAX_REG_BYTES ||
		    len - off - sizeof(rec) < ((rec.size + 7) & ~7u)) {
			e = -EINVAL;
			snprintf(err, err_size, "section '%s': register 0x%" PRIx64 " has a bad size",
				 name, rec.id);
			goto out;
		}
		for (i = 0; i < list->n && list->reg[i] != rec.id; i++)
			;
		if (i == list->n) {
			e = -EINVAL;
			snprintf(err, err_size, "vcpu%u: saved register 0x%" PRIx64 " is not one this "
						"host's KVM has (another kernel or CPU)", vcpu->id, rec.id);
			goto out;
		}
		off += sizeof(rec) + ((rec.size + 7) & ~7u);
	}
	/* MP state first: a secondary the guest had started is no longer powered off. Then the
	 * registers in KVM's list order (core, firmware, timer, system), the events last. */
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &s.mp_state) < 0) {
		e = -errno;
		snprintf(err, err_size, "vcpu%u: KVM_SET_MP_STATE (%u) failed: %s", vcpu->id,
			 s.mp_state.mp_state, strerror(errno));
		goto out;
	}
	for (off = 0; off < len;) {
		struct arm64_reg_rec rec;
		uint64_t val[ARM64_SNAP_MAX_REG_BYTES / 8];

		memcpy(&rec, regs + off, sizeof(rec));
		memcpy(val, regs + off + sizeof(rec), rec.size);
		if ((e = one_reg(vcpu, KVM_SET_ONE_REG, rec.id, val))) {
			snprintf(err, err_size, "vcpu%u: KVM_SET_ONE_REG refuses register 0x%" PRIx64
						": %s", vcpu->id, rec.id, strerror(-e));
			e = -EINVAL;
			goto out;
		}
		if (rec.id == ARM64_MPIDR_EL1)
			a->mpidr[vcpu->id] = val[0];
		off += sizeof(rec) + ((rec.size + 7) & ~7u);
	}
	if ((s.flags & ARM64_SNAP_EVENTS) && ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &s.events) < 0) {
		e = -errno;
		snprintf(err, err_size, "vcpu%u: KVM_SET_VCPU_EVENTS failed: %s", vcpu->id,
			 strerror(errno));
		goto out;
	}
	e = 0;
out:
	free(list);
	return e;
}

/* ---- the vGIC (GICv3) ------------------------------------------------------------------- */

#define GICD_CTLR 0x0000
#define GICD_IIDR 0x0008
#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ISPENDR 0x0200
#define GICD_ISACTIVER 0x0300
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR 0x0c00
#define GICD_IROUTER 0x6000

#define GICR_CTLR 0x0000
#define GICR_WAKER 0x0014
#define GICR_SGI 0x10000 /* the SGI and PPI frame */
#define GICR_IGROUPR0 (GICR_SGI + 0x0080)
#define GICR_ISENABLER0 (GICR_SGI + 0x0100)
#define GICR_ISPENDR0 (GICR_SGI + 0x0200)
#define GICR_ISACTIVER0 (GICR_SGI + 0x0300)
#define GICR_IPRIORITYR0 (GICR_SGI + 0x0400)
#define GICR_ICFGR0 (GICR_SGI + 0x0c00)
#define GICR_ICFGR1 (GICR_SGI + 0x0c04)

/* The CPU interface's system registers: op0 3, op1 0, CRn, CRm, op2. */
#define ICC(crn, crm, op2) ((3u << 14) | ((crn) << 7) | ((crm) << 3) | (op2))
#define ICC_PMR_EL1 ICC(4, 6, 0)
#define ICC_BPR0_EL1 ICC(12, 8, 3)
#define ICC_AP0R_EL1(n) ICC(12, 8, 4 + (n))
#define ICC_AP1R_EL1(n) ICC(12, 9, (n))
#define ICC_BPR1_EL1 ICC(12, 12, 3)
#define ICC_CTLR_EL1 ICC(12, 12, 4)
#define ICC_SRE_EL1 ICC(12, 12, 5)
#define ICC_IGRPEN0_EL1 ICC(12, 12, 6)
#define ICC_IGRPEN1_EL1 ICC(12, 12, 7)

struct gic_list {
	struct arm64_gic_rec *recs;
	size_t n, cap;
};

static int gic_get(int fd, uint32_t group, uint64_t attr, uint64_t *val)
{
	uint32_t v32 = 0;
	bool wide = group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS;
	struct kvm_device_attr da = { .group = group, .attr = attr,
				      .addr = wide ? (uint64_t)(uintptr_t)val
						   : (uint64_t)(uintptr_t)&v32 };

	if (ioctl(fd, KVM_GET_DEVICE_ATTR, &da) < 0)
		return -errno;
	if (!wide)
		*val = v32;
	return 0;
}

static int gic_set(int fd, uint32_t group, uint64_t attr, uint64_t val)
{
	uint32_t v32 = (uint32_t)val;
	bool wide = group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS;
	struct kvm_device_attr da = { .group = group, .attr = attr,
				      .addr = wide ? (uint64_t)(uintptr_t)&val
						   : (uint64_t)(uintptr_t)&v32 };

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &da) < 0 ? -errno : 0;
}

/* Reads one register into the list. `optional`: one this kernel does not have (ENXIO) is left
 * out, and the restore does not write it either. */
static int gic_save(struct arch_vm *a, struct gic_list *l, uint32_t group, uint64_t attr,
		    bool optional)
{
	uint64_t val = 0;
	int e = gic_get(a->gic_fd, group, attr, &val);

	if (e == -ENXIO && optional)
		return 0;
	if (e)
		return e;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct arm64_gic_rec *p = realloc(l->recs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->recs = p;
		l->cap = cap;
	}
	l->recs[l->n++] = (struct arm64_gic_rec){ .group = group, .attr = attr, .val = val };
	return 0;
}

/* Everything in restore order: the distributor (GICD_IIDR first, as the documentation asks),
 * each vCPU's redistributor and CPU interface (ICC_SRE_EL1 and ICC_CTLR_EL1 before what they
 * govern), then the SPIs' input levels. */
static int gic_collect(struct arch_vm *a, uint32_t nr_irqs, struct gic_list *l, uint64_t *bad)
{
	const uint32_t D = KVM_DEV_ARM_VGIC_GRP_DIST_REGS, R = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
		       C = KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, L = KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO;
	int e;

#define SAVE(g, at, opt)                                                                          \
	do {                                                                                     \
		*bad = (at);                                                                     \
		if ((e = gic_save(a, l, (g), (at), (opt))))                                      \
			return e;                                                                \
	} while (0)

	SAVE(D, GICD_IIDR, true);
	SAVE(D, GICD_CTLR, false);
	for (uint32_t i = 32; i < nr_irqs; i += 32) {
		SAVE(D, GICD_IGROUPR + i / 8, false);
		SAVE(D, GICD_ISENABLER + i / 8, false);
		SAVE(D, GICD_ISPENDR + i / 8, false);
		SAVE(D, GICD_ISACTIVER + i / 8, false);
	}
	for (uint32_t i = 32; i < nr_irqs; i += 4)
		SAVE(D, GICD_IPRIORITYR + i, false);
	for (uint32_t i = 32; i < nr_irqs; i += 16)
		SAVE(D, GICD_ICFGR + i / 4, false);
	for (uint32_t i = 32; i < nr_irqs; i++) {
		SAVE(D, GICD_IROUTER + (uint64_t)i * 8, false);
		SAVE(D, GICD_IROUTER + (uint64_t)i * 8 + 4, false);
	}
	for (unsigned int c = 0; c < a->cfg->nr_vcpus; c++) {
		uint64_t m = mpidr_attr(a->mpidr[c]), ctlr = 0;
		unsigned int nr_apr;

		SAVE(R, m | GICR_CTLR, true);
		SAVE(R, m | GICR_WAKER, true);
		SAVE(R, m | GICR_IGROUPR0, false);
		SAVE(R, m | GICR_ICFGR0, false);
		SAVE(R, m | GICR_ICFGR1, false);
		for (unsigned int i = 0; i < 32; i += 4)
			SAVE(R, m | (GICR_IPRIORITYR0 + i), false);
		SAVE(R, m | GICR_ISENABLER0, false);
		SAVE(R, m | GICR_ISPENDR0, false);
		SAVE(R, m | GICR_ISACTIVER0, false);
		SAVE(C, m | ICC_SRE_EL1, false);
		SAVE(C, m | ICC_CTLR_EL1, false);
		ctlr = l->recs[l->n - 1].val;
		SAVE(C, m | ICC_IGRPEN0_EL1, false);
		SAVE(C, m | ICC_IGRPEN1_EL1, false);
		SAVE(C, m | ICC_PMR_EL1, false);
		SAVE(C, m | ICC_BPR0_EL1, false);
		SAVE(C, m | ICC_BPR1_EL1, false);
		/* Active priorities: one register for 5 priority bits, 2 for 6, 4 for 7
		 * (ICC_CTLR_EL1.PRIbits, bits 10:8, holds the number of bits less one). */
		switch ((ctlr >> 8) & 7) {
		case 4: nr_apr = 1; break;
		case 5: nr_apr = 2; break;
		default: nr_apr = 4; break;
		}
		for (unsigned int i = 0; i < nr_apr; i++)
			SAVE(C, m | ICC_AP0R_EL1(i), false);
		for (unsigned int i = 0; i < nr_apr; i++)
			SAVE(C, m | ICC_AP1R_EL1(i), false);
	}
	for (uint32_t i = 32; i < nr_irqs; i += 32)
		SAVE(L, mpidr_attr(a->mpidr[0]) |
			((uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT) | i,
		     false);
#undef SAVE
	return 0;
}

static int gic_nr_irqs(const struct arch_vm *a, uint32_t *nr)
{
	uint64_t v = 0;
	int e = gic_get(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &v);

	*nr = (uint32_t)v;
	if (!e && (*nr < 64 || *nr > 1024 || *nr % 32))
		e = -ERANGE;
	return e;
}

int arch_snapshot_save(struct arch_vm *a, struct snap_writer *w, char *err, size_t err_size)
{
	struct arm64_gic_snap g = { .gic_version = 3 };
	struct gic_list l = { 0 };
	struct pl011_state uart;
	uint64_t bad = 0;
	int e;

	if ((e = arch_snapshot_check(a, err, err_size)))
		return e;
	if ((e = gic_nr_irqs(a, &g.nr_irqs))) {
		snprintf(err, err_size, "the vGIC's number of interrupts: %s", strerror(-e));
		return e;
	}
	if ((e = gic_collect(a, g.nr_irqs, &l, &bad))) {
		snprintf(err, err_size, "cannot read the vGIC's register 0x%" PRIx64 ": %s", bad,
			 strerror(-e));
		goto out;
	}
	pl011_save(a->uart, &uart);
	if ((e = snap_add(w, "arm64.gic", &g, sizeof(g))) ||
	    (e = snap_add(w, "arm64.gic.regs", l.recs, l.n * sizeof(l.recs[0]))) ||
	    (e = snap_add(w, "pl011", &uart, sizeof(uart))))
		snprintf(err, err_size, "cannot add the board's state: %s", strerror(-e));
out:
	free(l.recs);
	return e;
}

int arch_snapshot_load(struct arch_vm *a, const struct snap_reader *r, char *err,
		       size_t err_size)
{
	const struct arm64_gic_rec *recs;
	struct arm64_gic_snap g;
	struct pl011_state uart;
	uint32_t nr_irqs;
	size_t len;
	int e;

	if ((e = arch_snapshot_check(a, err, err_size)))
		return -EINVAL;
	if ((e = snap_get_exact(r, "arm64.gic", &g, sizeof(g), err, err_size)) ||
	    (e = snap_get_exact(r, "pl011", &uart, sizeof(uart), err, err_size)))
		return e;
	recs = snap_get(r, "arm64.gic.regs", &len);
	if (!recs || len % sizeof(*recs)) {
		snprintf(err, err_size, "section 'arm64.gic.regs' is %s",
			 recs ? "not a list of vGIC registers" : "missing");
		return -EINVAL;
	}
	if (g.gic_version != 3) {
		snprintf(err, err_size, "section 'arm64.gic': a GICv%u, this kiln restores a GICv3",
			 g.gic_version);
		return -EINVAL;
	}
	/* The vGIC takes its registers only once initialized, which it can be now that every
	 * vCPU exists. */
	if ((e = arm64_gic_init(a))) {
		snprintf(err, err_size, "cannot initialize the in-kernel GICv3: %s", strerror(-e));
		return e;
	}
	if ((e = gic_nr_irqs(a, &nr_irqs))) {
		snprintf(err, err_size, "the vGIC's number of interrupts: %s", strerror(-e));
		return e;
	}
	if (nr_irqs != g.nr_irqs) {
		snprintf(err, err_size, "section 'arm64.gic': a vGIC with %u interrupts, this host's "
					"has %u", g.nr_irqs, nr_irqs);
		return -EINVAL;
	}
	for (size_t i = 0; i < len / sizeof(*recs); i++) {
		uint32_t group = recs[i].group;

		if (group != KVM_DEV_ARM_VGIC_GRP_DIST_REGS &&
		    group != KVM_DEV_ARM_VGIC_GRP_REDIST_REGS &&
		    group != KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS &&
		    group != KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO) {
			snprintf(err, err_size, "section 'arm64.gic.regs': entry %zu is of group %u, "
						"not a vGIC register", i, group);
			return -EINVAL;
		}
	}
	if (pl011_load(a->uart, &uart)) {
		snprintf(err, err_size, "section 'pl011': a state this device cannot be in");
		return -EINVAL;
	}
	for (size_t i = 0; i < len / sizeof(*recs); i++)
		if ((e = gic_set(a->gic_fd, recs[i].group, recs[i].attr, recs[i].val))) {
			snprintf(err, err_size, "the vGIC refuses register 0x%" PRIx64 " (group %u) "
						"of the snapshot: %s", recs[i].attr, recs[i].group,
				 strerror(-e));
			return -EINVAL;
		}
	return 0;
}
