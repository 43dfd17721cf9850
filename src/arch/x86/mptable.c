/* mptable.c: the MP floating pointer and configuration table (Intel MP spec 1.4, chapter 4). */
#include "arch/x86/mptable.h"

#include <errno.h>
#include <string.h>

#include "acpi/aml.h"
#include "util/log.h"

#define MP_OEM_ID "KILN    "         /* 8 characters */
#define MP_PRODUCT_ID "KILNVM      " /* 12 characters */
#define MP_ISA_BUS_TYPE "ISA   "     /* 6 characters */
#define MP_LAPIC_VERSION 0x14        /* integrated APIC, as KVM's local APIC reports */
#define MP_IOAPIC_VERSION 0x11       /* 82093AA, as kiln's IOAPIC reports */
/* CPU signature (family 6) and CPUID.1:EDX feature flags (FPU, APIC): informational only. */
#define MP_CPU_SIGNATURE 0x600
#define MP_CPU_FEATURES ((1u << 0) | (1u << 9))
#define MP_INTI_CONFORMS 0
#define MP_INTI_EDGE_HIGH (ACPI_MPS_INTI_POLARITY_HIGH | ACPI_MPS_INTI_TRIGGER_EDGE)
#define FOUR_GIB 0x100000000ull

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Virtio-mmio devices above the ISA IRQs need an entry of their own; those below use the ISA
 * identity entries. */
static unsigned int mmio_ioints(const struct x86_platform *p)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < p->nr_mmio_devs; i++)
		n += p->mmio_devs[i].irq >= X86_ISA_IRQS;
	return n;
}

/* I/O interrupt assignment entry (4.3.4). */
static uint8_t *ioint(uint8_t *e, uint8_t type, uint16_t flags, uint8_t bus_irq, uint8_t ioapic,
		      uint8_t pin)
{
	e[0] = MPC_IOINT;
	e[1] = type;
	put16(e + 2, flags);
	e[4] = MP_ISA_BUS_ID;
	e[5] = bus_irq;
	e[6] = ioapic;
	e[7] = pin;
	return e + MPC_ENTRY_LEN;
}

/* Local interrupt assignment entry (4.3.5), for every local APIC. */
static uint8_t *lint(uint8_t *e, uint8_t type, uint8_t lintin)
{
	e[0] = MPC_LINT;
	e[1] = type;
	put16(e + 2, MP_INTI_CONFORMS);
	e[4] = MP_ISA_BUS_ID;
	e[5] = 0;
	e[6] = MP_APIC_ALL;
	e[7] = lintin;
	return e + MPC_ENTRY_LEN;
}

int x86_mptable_build(const struct gmem *gm, uint64_t base, uint64_t size,
		      const struct x86_platform *p)
{
	unsigned int nr_ioints, nr_entries;
	uint64_t start, skip, mpc_addr, end;
	uint8_t ioapic_id = X86_IOAPIC_ID;
	uint8_t *host, *fps, *mpc, *e;
	size_t mpc_len;
	int err;

	err = x86_platform_check(p);
	if (err)
		return err;
	host = gmem_ptr(gm, base, size);
	/* The floating pointer holds a 32-bit address of the configuration table. */
	if (!host || add_overflow(base, size, &end) || end > FOUR_GIB) {
		pr_debug("MP table at 0x%llx+0x%llx: not guest RAM below 4 GiB",
			 (unsigned long long)base, (unsigned long long)size);
		return -EFAULT;
	}
	start = align_up(base, 16);
	skip = start - base;
	/* ISA IRQs 0-15 but the cascade (2), plus the high virtio-mmio pins. */
	nr_ioints = X86_ISA_IRQS - 1 + mmio_ioints(p);
	nr_entries = p->nr_vcpus + 1 + 1 + nr_ioints + 2;
	mpc_len = MPC_HEADER_LEN + p->nr_vcpus * MPC_PROCESSOR_LEN +
		  (nr_entries - p->nr_vcpus) * MPC_ENTRY_LEN;
	if (skip > size || size - skip < MP_FPS_LEN + mpc_len) {
		pr_debug("MP table: 0x%llx bytes at 0x%llx is too small for %u vCPUs",
			 (unsigned long long)size, (unsigned long long)base, p->nr_vcpus);
		return -ENOSPC;
	}
	fps = host + skip;
	mpc = fps + MP_FPS_LEN;
	mpc_addr = start + MP_FPS_LEN;
	memset(fps, 0, MP_FPS_LEN + mpc_len);

	/* Floating pointer structure (4.1). Feature bytes 0: the configuration table follows, and
	 * no IMCR, so the guest runs the APICs in virtual wire mode. */
	memcpy(fps, MP_FPS_SIG, 4);
	put32(fps + MP_FPS_PHYSPTR, (uint32_t)mpc_addr);
	fps[MP_FPS_LENGTH] = 1;
	fps[MP_FPS_SPEC_REV] = MP_SPEC_REV_1_4;

	/* Configuration table header (4.2). */
	memcpy(mpc, MPC_SIG, 4);
	put16(mpc + MPC_BASE_LENGTH, (uint16_t)mpc_len);
	mpc[MPC_SPEC_REV] = MP_SPEC_REV_1_4;
	memcpy(mpc + MPC_OEM_ID, MP_OEM_ID, 8);
	memcpy(mpc + MPC_PRODUCT_ID, MP_PRODUCT_ID, 12);
	put16(mpc + MPC_ENTRY_COUNT, (uint16_t)nr_entries);
	put32(mpc + MPC_LAPIC_ADDR, (uint32_t)p->lapic_addr);

	/* Entries in the order the spec requires: processors, buses, I/O APICs, I/O interrupts,
	 * local interrupts (4.3). */
	e = mpc + MPC_HEADER_LEN;
	for (unsigned int i = 0; i < p->nr_vcpus; i++, e += MPC_PROCESSOR_LEN) {
		e[0] = MPC_PROCESSOR;
		e[1] = (uint8_t)i;
		e[2] = MP_LAPIC_VERSION;
		e[3] = MPC_CPU_ENABLED | (i == 0 ? MPC_CPU_BSP : 0);
		put32(e + 4, MP_CPU_SIGNATURE);
		put32(e + 8, MP_CPU_FEATURES);
	}
	e[0] = MPC_BUS;
	e[1] = MP_ISA_BUS_ID;
	memcpy(e + 2, MP_ISA_BUS_TYPE, 6);
	e += MPC_ENTRY_LEN;
	e[0] = MPC_IOAPIC;
	e[1] = ioapic_id;
	e[2] = MP_IOAPIC_VERSION;
	e[3] = MPC_IOAPIC_ENABLED;
	put32(e + 4, (uint32_t)p->ioapic_addr);
	e += MPC_ENTRY_LEN;
	/* ISA IRQs keep the ISA default (edge, active high): "conforms to bus". IRQ 0 goes to pin
	 * 2 as in the MADT's override; IRQ 2 is the cascade and reaches no pin (5.1, table 5-1). */
	for (unsigned int irq = 0; irq < X86_ISA_IRQS; irq++) {
		if (irq == X86_ISA_IRQ_CASCADE)
			continue;
		e = ioint(e, MP_INT, MP_INTI_CONFORMS, (uint8_t)irq, ioapic_id,
			  irq == X86_ISA_IRQ_TIMER ? X86_TIMER_GSI : (uint8_t)irq);
	}
	for (unsigned int i = 0; i < p->nr_mmio_devs; i++) {
		unsigned int irq = p->mmio_devs[i].irq;

		if (irq >= X86_ISA_IRQS)
			e = ioint(e, MP_INT, MP_INTI_EDGE_HIGH, (uint8_t)irq, ioapic_id,
				  (uint8_t)irq);
	}
	e = lint(e, MP_EXTINT, 0);
	lint(e, MP_NMI, 1);

	mpc[MPC_CHECKSUM] = (uint8_t)-aml_checksum(mpc, mpc_len);
	fps[MP_FPS_CHECKSUM] = (uint8_t)-aml_checksum(fps, MP_FPS_LEN);
	return 0;
}
