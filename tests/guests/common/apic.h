/* Local APIC (xAPIC MMIO at 0xfee00000) and IOAPIC (0xfec00000) register helpers. */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include "io.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_ID 0x020
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310

#define LAPIC_SVR_ENABLE 0x100
#define ICR_DELIVERY_INIT 0x500
#define ICR_DELIVERY_STARTUP 0x600
#define ICR_LEVEL_ASSERT 0x4000
#define ICR_SEND_PENDING 0x1000
#define ICR_ALL_EXCLUDING_SELF 0xc0000

#define IOAPIC_BASE 0xfec00000u
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin))

static inline u32 lapic_read(u32 reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

static inline void lapic_write(u32 reg, u32 v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

/* Software-enable the local APIC, spurious vector 0xff. */
static inline void lapic_enable(void)
{
	lapic_write(LAPIC_SVR, (lapic_read(LAPIC_SVR) & ~0xffu) | LAPIC_SVR_ENABLE | 0xff);
}

static inline void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/* Send an IPI: destination APIC id in ICR high, command in ICR low; bounded wait for delivery. */
static inline void lapic_send_ipi(u32 dest_apic_id, u32 icr_lo)
{
	lapic_write(LAPIC_ICR_HI, dest_apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	for (int i = 0; i < 100 && (lapic_read(LAPIC_ICR_LO) & ICR_SEND_PENDING); i++)
		cpu_relax();
}

static inline u32 ioapic_read(u32 reg)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	return mmio_read32(IOAPIC_BASE + IOAPIC_WIN);
}

static inline void ioapic_write(u32 reg, u32 v)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	mmio_write32(IOAPIC_BASE + IOAPIC_WIN, v);
}

/* Route an IOAPIC pin: fixed delivery, physical destination, edge, active high, unmasked. */
static inline void ioapic_route(u32 pin, u8 vector, u32 dest_apic_id)
{
	ioapic_write(IOAPIC_REDTBL(pin) + 1, dest_apic_id << 24);
	ioapic_write(IOAPIC_REDTBL(pin), vector);
}

#endif
