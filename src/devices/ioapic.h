/* ioapic.h: 82093AA-style I/O APIC emulated in kiln for KVM's split irqchip: every pin is an MSI. */
#ifndef KILN_DEVICES_IOAPIC_H
#define KILN_DEVICES_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "util/checked.h"

#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_MMIO_SIZE 0x1000
#define IOAPIC_NR_PINS 24

#define IOAPIC_REG_SELECT 0x00 /* IOREGSEL (MMIO offset) */
#define IOAPIC_REG_WINDOW 0x10 /* IOWIN (MMIO offset) */
#define IOAPIC_REG_ID 0x00
/* The ID register's writable field: bits 27:24, the 4-bit APIC ID (82093AA datasheet 3.2.1;
 * KVM's in-kernel IOAPIC keeps the same four bits). */
#define IOAPIC_ID_MASK 0x0f000000u
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDTBL 0x10 /* two registers per pin */
#define IOAPIC_VERSION 0x11

/* Redirection-table entry bits (82093AA datasheet, 3.2.4). */
#define IOAPIC_RTE_VECTOR_MASK 0xffull
#define IOAPIC_RTE_DELMODE_SHIFT 8
#define IOAPIC_RTE_DESTMODE_LOGICAL (1ull << 11)
#define IOAPIC_RTE_DELIVERY_STATUS (1ull << 12)
#define IOAPIC_RTE_POLARITY_LOW (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_MASKED (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT 56
#define IOAPIC_RTE_RO_BITS (IOAPIC_RTE_DELIVERY_STATUS | IOAPIC_RTE_REMOTE_IRR)

/* What the IOAPIC needs from KVM: program pin `pin`'s GSI route to an MSI (or remove it when
 * !valid), making every route set so far take effect when `push` (ioapic_load() sets all pins
 * and pushes with the last), and raise that GSI once. Both run with the IOAPIC lock held. */
struct ioapic_backend {
	int (*set_route)(void *opaque, unsigned int pin, bool valid, uint64_t msi_addr, uint32_t msi_data,
			 bool push);
	int (*trigger)(void *opaque, unsigned int pin);
	void *opaque;
};

/* Plain data for snapshots. */
struct ioapic_state {
	uint32_t id;
	uint32_t select;
	uint64_t rte[IOAPIC_NR_PINS];
	uint32_t line; /* bit per pin: current input level */
};

struct ioapic;

/* All pins start masked, edge-triggered, as after reset. */
int __must_check ioapic_create(struct ioapic **out, const struct ioapic_backend *backend);
void ioapic_destroy(struct ioapic *io);

/* Sets the IOAPIC's APIC id (the one the MADT and MP table give); the register keeps its low four
 * bits (IOAPIC_ID_MASK), as a guest's write does. */
void ioapic_set_id(struct ioapic *io, uint8_t id);

/* MMIO handlers (32-bit accesses to IOREGSEL/IOWIN; others read as zero and are ignored). */
void ioapic_mmio_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void ioapic_mmio_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* Input line `pin` goes to `level`: edge pins fire on a rising edge, level pins fire while high
 * and not already in service (Remote IRR). Pins >= IOAPIC_NR_PINS are ignored. */
void ioapic_set_irq(struct ioapic *io, unsigned int pin, int level);
/* The irq_sink view of the IOAPIC, for devices' interrupt lines. */
const struct irq_sink *ioapic_irq_sink(struct ioapic *io);

/* A local APIC EOI'd `vector` (KVM_EXIT_IOAPIC_EOI): clear Remote IRR of level pins using it and
 * re-fire those whose line is still high. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/* The MSI a redirection-table entry encodes: the address/data format KVM's split irqchip expects
 * (Intel SDM vol. 3, 11.11: destination in address bits 19:12, destination mode in bit 2; vector,
 * delivery mode in data bits 10:8, trigger mode in bit 15, level-assert bit 14). */
void ioapic_rte_to_msi(uint64_t rte, uint64_t *addr, uint32_t *data);

uint64_t ioapic_get_rte(struct ioapic *io, unsigned int pin);
/* Snapshot hooks: copy the register state out / in; loading re-routes every pin. */
void ioapic_save(struct ioapic *io, struct ioapic_state *st);
int __must_check ioapic_load(struct ioapic *io, const struct ioapic_state *st);

#endif
