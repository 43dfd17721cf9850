/* snapshot.c: the x86 parts of a snapshot (arch.h, docs/snapshot.md): each vCPU's registers and
 * the in-kernel state KVM keeps for it, the irqchip (split: kiln's IOAPIC and PICs; kernel: KVM's
 * PICs, IOAPIC and PIT), the platform devices and kvmclock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/board.h"
#include "util/log.h"

const char arch_snapshot_name[] = "x86_64";

#define X86_SNAP_XSAVE 1u /* xsave holds KVM_GET_XSAVE's image (else only fpu is meaningful) */
#define X86_SNAP_XCRS 2u  /* xcrs holds KVM_GET_XCRS */
#define X86_SNAP_MAX_MSRS 1024u

static int load_vcpu(struct arch_vm *a, struct vcpu *vcpu, const struct snap_reader *r, char *err,
		     size_t err_size);

/* Section "vcpuN". Its MSRs are in "vcpuN.msrs": an array of struct kvm_msr_entry. */
struct x86_vcpu_snap {
	uint32_t flags;
	uint32_t tsc_khz; /* KVM_GET_TSC_KHZ; 0: unknown */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs debugregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
};

int arch_snapshot_check(const struct arch_vm *a, char *err, size_t err_size)
{
	(void)a, (void)err, (void)err_size;
	return 0;
}

/* The in-kernel irqchip (--irqchip kernel): section "x86.irqchip" holds KVM_GET_IRQCHIP's three
 * chips (PIC master, PIC slave, IOAPIC, in that order) and "x86.pit" KVM_GET_PIT2's state. */
#define X86_SNAP_NR_CHIPS 3

static int save_kernel_irqchip(struct arch_vm *a, struct snap_writer *w, char *err,
			       size_t err_size)
{
	struct kvm_irqchip chips[X86_SNAP_NR_CHIPS];
	struct kvm_pit_state2 pit;
	int e;

	memset(chips, 0, sizeof(chips));
	memset(&pit, 0, sizeof(pit));
	for (unsigned int i = 0; i < X86_SNAP_NR_CHIPS; i++) {
		chips[i].chip_id = i;
		if (ioctl(vm_fd(a->vm), KVM_GET_IRQCHIP, &chips[i]) < 0) {
			e = -errno;
			snprintf(err, err_size, "KVM_GET_IRQCHIP (chip %u) failed: %s", i,
				 strerror(errno));
			return e;
		}
	}
	if (ioctl(vm_fd(a->vm), KVM_GET_PIT2, &pit) < 0) {
		e = -errno;
		snprintf(err, err_size, "KVM_GET_PIT2 failed: %s", strerror(errno));
		return e;
	}
	if ((e = snap_add(w, "x86.irqchip", chips, sizeof(chips))) ||
	    (e = snap_add(w, "x86.pit", &pit, sizeof(pit)))) {
		snprintf(err, err_size, "cannot add the irqchip's state: %s", strerror(-e));
		return e;
	}
	return 0;
}

static int load_kernel_irqchip(struct arch_vm *a, const struct snap_reader *r, char *err,
			       size_t err_size)
{
	struct kvm_irqchip chips[X86_SNAP_NR_CHIPS];
	struct kvm_pit_state2 pit;
	int e;

	if ((e = snap_get_exact(r, "x86.irqchip", chips, sizeof(chips), err, err_size)) ||
	    (e = snap_get_exact(r, "x86.pit", &pit, sizeof(pit), err, err_size)))
		return e;
	for (unsigned int i = 0; i < X86_SNAP_NR_CHIPS; i++) {
		if (chips[i].chip_id != i) {
			snprintf(err, err_size, "section 'x86.irqchip': entry %u is chip %u", i,
				 chips[i].chip_id);
			return -EINVAL;
		}
		if (ioctl(vm_fd(a->vm), KVM_SET_IRQCHIP, &chips[i]) < 0) {
			e = -errno;
			snprintf(err, err_size, "KVM_SET_IRQCHIP (chip %u) failed: %s", i,
				 strerror(errno));
			return e;
		}
	}
	if (ioctl(vm_fd(a->vm), KVM_SET_PIT2, &pit) < 0) {
		e = -errno;
		snprintf(err, err_size, "KVM_SET_PIT2 failed: %s", strerror(errno));
		return e;
	}
	return 0;
}

/* The split irqchip: kiln's own IOAPIC ("ioapic") and PICs ("pic"). */
static int save_split_irqchip(struct arch_vm *a, struct snap_writer *w, char *err,
			      size_t err_size)
{
	struct ioapic_state io;
	int e;

	ioapic_save(a->ioapic, &io);
	if ((e = snap_add(w, "ioapic", &io, sizeof(io))) ||
	    (e = snap_add(w, "pic", &a->pic, sizeof(a->pic)))) {
		snprintf(err, err_size, "cannot add the irqchip's state: %s", strerror(-e));
		return e;
	}
	return 0;
}

static int load_split_irqchip(struct arch_vm *a, const struct snap_reader *r, char *err,
			      size_t err_size)
{
	struct ioapic_state io;
	struct pic_state pic;
	int e;

	if ((e = snap_get_exact(r, "ioapic", &io, sizeof(io), err, err_size)) ||
	    (e = snap_get_exact(r, "pic", &pic, sizeof(pic), err, err_size)))
		return e;
	if (pic_load(&a->pic, &pic)) {
		snprintf(err, err_size, "section 'pic': bad initialisation step");
		return -EINVAL;
	}
	if ((e = ioapic_load(a->ioapic, &io))) {
		snprintf(err, err_size, "section 'ioapic': cannot restore the routes: %s",
			 strerror(-e));
		return e;
	}
	return 0;
}

int arch_snapshot_save(struct arch_vm *a, struct snap_writer *w, char *err, size_t err_size)
{
	struct serial_state serial;
	struct i8042_state kbd;
	struct rtc_state rtc;
	struct kvm_clock_data clock = { 0 };
	int e;

	if (ioctl(vm_fd(a->vm), KVM_GET_CLOCK, &clock) < 0) {
		e = -errno;
		snprintf(err, err_size, "KVM_GET_CLOCK failed: %s", strerror(errno));
		return e;
	}
	serial_save(a->serial, &serial);
	i8042_save(&a->i8042, &kbd);
	rtc_save(&a->rtc, &rtc);
	if ((e = snap_add(w, "x86.kvmclock", &clock, sizeof(clock))) ||
	    (e = snap_add(w, "serial", &serial, sizeof(serial))) ||
	    (e = snap_add(w, "i8042", &kbd, sizeof(kbd))) ||
	    (e = snap_add(w, "rtc", &rtc, sizeof(rtc))) ||
	    (e = snap_add(w, "x86.cpuid", a->cpuid->entries,
			  a->cpuid->nent * sizeof(a->cpuid->entries[0])))) {
		snprintf(err, err_size, "cannot add the board's state: %s", strerror(-e));
		return e;
	}
	return a->cfg->irqchip == IRQCHIP_SPLIT ? save_split_irqchip(a, w, err, err_size)
						: save_kernel_irqchip(a, w, err, err_size);
}

int arch_snapshot_load(struct arch_vm *a, const struct snap_reader *r, char *err,
		       size_t err_size)
{
	struct kvm_clock_data clock;
	struct serial_state serial;
	struct i8042_state kbd;
	struct rtc_state rtc;
	int e;

	if ((e = snap_get_exact(r, "x86.kvmclock", &clock, sizeof(clock), err, err_size)) ||
	    (e = snap_get_exact(r, "serial", &serial, sizeof(serial), err, err_size)) ||
	    (e = snap_get_exact(r, "i8042", &kbd, sizeof(kbd), err, err_size)) ||
	    (e = snap_get_exact(r, "rtc", &rtc, sizeof(rtc), err, err_size)))
		return e;
	e = a->cfg->irqchip == IRQCHIP_SPLIT ? load_split_irqchip(a, r, err, err_size)
					     : load_kernel_irqchip(a, r, err, err_size);
	if (e)
		return e;
	if (i8042_load(&a->i8042, &kbd)) {
		snprintf(err, err_size, "section 'i8042': output buffer indices out of range");
		return -EINVAL;
	}
	rtc_load(&a->rtc, &rtc);
	if (serial_load(a->serial, &serial)) {
		snprintf(err, err_size, "section 'serial': receive FIFO indices out of range");
		return -EINVAL;
	}
	/* Only the clock's value: the guest's kvmclock continues from where it was saved. */
	clock = (struct kvm_clock_data){ .clock = clock.clock };
	if (ioctl(vm_fd(a->vm), KVM_SET_CLOCK, &clock) < 0) {
		e = -errno;
		snprintf(err, err_size, "KVM_SET_CLOCK failed: %s", strerror(errno));
		return e;
	}
	return 0;
}

/* KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores; caller frees. NULL on failure. */
static struct kvm_msr_list *msr_index_list(const struct kvm *kvm)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;

	if (ioctl(kvm->fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	if (probe.nmsrs > X86_SNAP_MAX_MSRS)
		probe.nmsrs = X86_SNAP_MAX_MSRS;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		return NULL;
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm->fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return NULL;
	}
	return list;
}

/* Reads every MSR of `list` KVM will read for this vCPU into out (list->nmsrs entries); KVM_GET_MSRS
 * stops at the first it refuses, which is skipped. Returns how many were read, or -errno. */
static int read_msrs(int fd, const struct kvm_msr_list *list, struct kvm_msr_entry *out)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + list->nmsrs * sizeof(m->entries[0]));
	unsigned int i = 0, got = 0;

	if (!m)
		return -ENOMEM;
	while (i < list->nmsrs) {
		unsigned int n = list->nmsrs - i;
		int r;

		m->nmsrs = n;
		for (unsigned int k = 0; k < n; k++)
			m->entries[k] = (struct kvm_msr_entry){ .index = list->indices[i + k] };
		r = ioctl(fd, KVM_GET_MSRS, m);
		if (r < 0) {
			r = -errno;
			free(m);
			return r;
		}
		memcpy(out + got, m->entries, (size_t)r * sizeof(*out));
		got += (unsigned int)r;
		i += (unsigned int)r;
		if (i < list->nmsrs) {
			pr_debug("snapshot: KVM_GET_MSRS refuses MSR 0x%x: not saved", list->indices[i]);
			i++;
		}
	}
	free(m);
	return (int)got;
}

#define vcpu_ioctl(req, arg, what)                                                           \
	do {                                                                                 \
		if (ioctl(vcpu->fd, (req), (arg)) < 0) {                                     \
			e = -errno;                                                          \
			snprintf(err, err_size, "vcpu%u: %s failed: %s", vcpu->id, (what),   \
				 strerror(errno));                                           \
			goto out;                                                            \
		}                                                                            \
	} while (0)

int arch_vcpu_save(struct arch_vm *a, const struct vcpu *vcpu, struct snap_writer *w, char *err,
		   size_t err_size)
{
	const struct kvm *kvm = vm_kvm(a->vm);
	struct x86_vcpu_snap *s = calloc(1, sizeof(*s));
	struct kvm_msr_list *list = NULL;
	struct kvm_msr_entry *msrs = NULL;
	char name[SNAP_NAME_MAX + 1];
	int e = 0, n, khz;

	if (!s) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	vcpu_ioctl(KVM_GET_MP_STATE, &s->mp_state, "KVM_GET_MP_STATE");
	vcpu_ioctl(KVM_GET_REGS, &s->regs, "KVM_GET_REGS");
	vcpu_ioctl(KVM_GET_SREGS, &s->sregs, "KVM_GET_SREGS");
	vcpu_ioctl(KVM_GET_FPU, &s->fpu, "KVM_GET_FPU");
	if (kvm_check_cap(kvm, KVM_CAP_XSAVE) > 0) {
		vcpu_ioctl(KVM_GET_XSAVE, &s->xsave, "KVM_GET_XSAVE");
		s->flags |= X86_SNAP_XSAVE;
	}
	if (kvm_check_cap(kvm, KVM_CAP_XCRS) > 0) {
		vcpu_ioctl(KVM_GET_XCRS, &s->xcrs, "KVM_GET_XCRS");
		s->flags |= X86_SNAP_XCRS;
	}
	vcpu_ioctl(KVM_GET_DEBUGREGS, &s->debugregs, "KVM_GET_DEBUGREGS");
	vcpu_ioctl(KVM_GET_LAPIC, &s->lapic, "KVM_GET_LAPIC");
	vcpu_ioctl(KVM_GET_VCPU_EVENTS, &s->events, "KVM_GET_VCPU_EVENTS");
	khz = kvm_check_cap(kvm, KVM_CAP_GET_TSC_KHZ) > 0 ? ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0) : -1;
	s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;

	list = msr_index_list(kvm);
	if (!list) {
		e = errno ? -errno : -ENOMEM;
		snprintf(err, err_size, "KVM_GET_MSR_INDEX_LIST failed: %s", strerror(-e));
		goto out;
	}
	msrs = calloc(list->nmsrs ? list->nmsrs : 1, sizeof(*msrs));
	if (!msrs) {
		e = -ENOMEM;
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	n = read_msrs(vcpu->fd, list, msrs);
	if (n < 0) {
		e = n;
		snprintf(err, err_size, "vcpu%u: KVM_GET_MSRS failed: %s", vcpu->id, strerror(-n));
		goto out;
	}
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	if (!(e = snap_add(w, name, s, sizeof(*s)))) {
		snprintf(name, sizeof(name), "vcpu%u.msrs", vcpu->id);
		e = snap_add(w, name, msrs, (size_t)n * sizeof(*msrs));
	}
	if (e)
		snprintf(err, err_size, "vcpu%u: cannot add its state: %s", vcpu->id, strerror(-e));
out:
	free(msrs);
	free(list);
	free(s);
	return e;
}

/* The CPU model this configuration gets on this host (arch_vcpu_setup() made a->cpuid) must be
 * the saved one, entry for entry: a guest must never find a feature gone, nor a new one. */
static int check_cpuid(const struct arch_vm *a, const struct snap_reader *r, char *err,
		       size_t err_size)
{
	const struct kvm_cpuid_entry2 *saved;
	size_t len;

	saved = snap_get(r, "x86.cpuid", &len);
	if (!saved || len % sizeof(*saved)) {
		snprintf(err, err_size, "section 'x86.cpuid' is %s", saved ? "not a CPUID table" : "missing");
		return -EINVAL;
	}
	for (size_t i = 0; i < len / sizeof(*saved) || i < a->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *s = i < len / sizeof(*saved) ? &saved[i] : NULL;
		const struct kvm_cpuid_entry2 *h = i < a->cpuid->nent ? &a->cpuid->entries[i] : NULL;

		if (s && h && s->function == h->function && s->index == h->index &&
		    s->flags == h->flags && s->eax == h->eax && s->ebx == h->ebx &&
		    s->ecx == h->ecx && s->edx == h->edx)
			continue;
		snprintf(err, err_size, "the CPU features differ from the saved ones (CPUID leaf 0x%x "
					"subleaf %u): another host or CPU template",
			 s ? s->function : h->function, s ? s->index : h->index);
		return -EINVAL;
	}
	return 0;
}

int arch_vcpu_load(struct arch_vm *a, struct vcpu *vcpu, const struct snap_reader *r, char *err,
		   size_t err_size)
{
	/* What a save refuses, a load refuses too (a crafted file): no IOAPIC to load into. */
	if (vcpu->id == 0 && (arch_snapshot_check(a, err, err_size) || check_cpuid(a, r, err, err_size)))
		return -EINVAL;
	return load_vcpu(a, vcpu, r, err, err_size);
}

static int load_vcpu(struct arch_vm *a, struct vcpu *vcpu, const struct snap_reader *r, char *err,
		     size_t err_size)
{
	const struct kvm *kvm = vm_kvm(a->vm);
	struct x86_vcpu_snap *s = calloc(1, sizeof(*s));
	struct kvm_msrs *m = NULL;
	char name[SNAP_NAME_MAX + 1];
	const void *msrs;
	size_t len;
	int e = 0, n;

	if (!s) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	if ((e = snap_get_exact(r, name, s, sizeof(*s), err, err_size)))
		goto out;
	snprintf(name, sizeof(name), "vcpu%u.msrs", vcpu->id);
	msrs = snap_get(r, name, &len);
	if (!msrs || len % sizeof(struct kvm_msr_entry) ||
	    len / sizeof(struct kvm_msr_entry) > X86_SNAP_MAX_MSRS) {
		e = -EINVAL;
		snprintf(err, err_size, "section '%s' is %s", name,
			 msrs ? "not a list of MSR entries" : "missing");
		goto out;
	}
	if (((s->flags & X86_SNAP_XSAVE) && kvm_check_cap(kvm, KVM_CAP_XSAVE) <= 0) ||
	    ((s->flags & X86_SNAP_XCRS) && kvm_check_cap(kvm, KVM_CAP_XCRS) <= 0)) {
		e = -EINVAL;
		snprintf(err, err_size, "vcpu%u: saved with XSAVE state this host's KVM cannot load",
			 vcpu->id);
		goto out;
	}
	if (s->tsc_khz && kvm_check_cap(kvm, KVM_CAP_GET_TSC_KHZ) > 0) {
		int here = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

		if (here > 0 && (uint32_t)here != s->tsc_khz &&
		    ioctl(vcpu->fd, KVM_SET_TSC_KHZ, (unsigned long)s->tsc_khz) < 0) {
			e = -EINVAL;
			snprintf(err, err_size, "vcpu%u: saved with a %u kHz TSC, this host's is %d kHz "
						"and KVM cannot scale it", vcpu->id, s->tsc_khz, here);
			goto out;
		}
	}
	/* Firecracker's order: the local APIC after the special registers (APIC base), the MSRs
	 * after the local APIC (the TSC deadline needs it), the events last. */
	vcpu_ioctl(KVM_SET_MP_STATE, &s->mp_state, "KVM_SET_MP_STATE");
	vcpu_ioctl(KVM_SET_REGS, &s->regs, "KVM_SET_REGS");
	vcpu_ioctl(KVM_SET_SREGS, &s->sregs, "KVM_SET_SREGS");
	if (s->flags & X86_SNAP_XSAVE)
		vcpu_ioctl(KVM_SET_XSAVE, &s->xsave, "KVM_SET_XSAVE");
	else
		vcpu_ioctl(KVM_SET_FPU, &s->fpu, "KVM_SET_FPU");
	if (s->flags & X86_SNAP_XCRS)
		vcpu_ioctl(KVM_SET_XCRS, &s->xcrs, "KVM_SET_XCRS");
	vcpu_ioctl(KVM_SET_DEBUGREGS, &s->debugregs, "KVM_SET_DEBUGREGS");
	vcpu_ioctl(KVM_SET_LAPIC, &s->lapic, "KVM_SET_LAPIC");
	n = (int)(len / sizeof(struct kvm_msr_entry));
	m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->entries[0]));
	if (!m) {
		e = -ENOMEM;
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	m->nmsrs = (uint32_t)n;
	memcpy(m->entries, msrs, len);
	e = ioctl(vcpu->fd, KVM_SET_MSRS, m);
	if (e != n) {
		snprintf(err, err_size, "vcpu%u: KVM_SET_MSRS %s MSR 0x%x", vcpu->id,
			 e < 0 ? strerror(errno) : "refused",
			 e >= 0 && e < n ? m->entries[e].index : 0);
		e = -EINVAL;
		goto out;
	}
	e = 0;
	/* What KVM_GET_VCPU_EVENTS leaves out of its flags is still state: the pending NMI and
	 * the SIPI vector (QEMU sets them the same way). */
	s->events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	vcpu_ioctl(KVM_SET_VCPU_EVENTS, &s->events, "KVM_SET_VCPU_EVENTS");
out:
	free(m);
	free(s);
	return e;
}
