/* pl011.h: ARM PrimeCell PL011 UART (ARM DDI 0183), the arm64 board's console: what Linux's
 * amba-pl011 driver and earlycon use: data, flags, interrupt mask/status/clear, the ID
 * registers the AMBA bus matches on. Baud rate and line control are kept but mean nothing. */
#ifndef KILN_DEVICES_PL011_H
#define KILN_DEVICES_PL011_H

#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/serial.h" /* struct serial_counters */
#include "util/checked.h"

#define PL011_MMIO_SIZE 0x1000u
#define PL011_FIFO_SIZE 32u

/* Register offsets. */
#define PL011_DR 0x000
#define PL011_RSR 0x004 /* receive status / error clear */
#define PL011_FR 0x018
#define PL011_ILPR 0x020
#define PL011_IBRD 0x024
#define PL011_FBRD 0x028
#define PL011_LCR_H 0x02c
#define PL011_CR 0x030
#define PL011_IFLS 0x034
#define PL011_IMSC 0x038
#define PL011_RIS 0x03c
#define PL011_MIS 0x040
#define PL011_ICR 0x044
#define PL011_DMACR 0x048
#define PL011_ID_BASE 0xfe0 /* PeriphID0-3, PCellID0-3: eight word registers */

/* FR bits. */
#define PL011_FR_BUSY (1u << 3)
#define PL011_FR_RXFE (1u << 4)
#define PL011_FR_TXFF (1u << 5)
#define PL011_FR_RXFF (1u << 6)
#define PL011_FR_TXFE (1u << 7)

/* Interrupt bits (IMSC, RIS, MIS, ICR). */
#define PL011_INT_RX (1u << 4)
#define PL011_INT_TX (1u << 5)
#define PL011_INT_RT (1u << 6)
#define PL011_INT_ALL 0x7ffu

struct pl011;

/* Output bytes go to `out_fd` (-1 drops them); `irq` is a level (high while RIS & IMSC is not 0).
 * `rx_space` (may be NULL) is called, with no lock held, when the guest drains the receive FIFO.
 * Returns 0 or -ENOMEM. */
int __must_check pl011_create(struct pl011 **out, int out_fd, struct irq_line irq,
			      void (*rx_space)(void *opaque), void *rx_opaque);
void pl011_destroy(struct pl011 *u);

/* Bus handlers: word registers at offsets 0..0xfff; other widths act on the low bits, an offset
 * the PL011 does not have reads 0 and ignores writes. */
void pl011_mmio_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void pl011_mmio_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* Free space in the receive FIFO; queues up to `len` received bytes, returning how many fit. */
size_t pl011_rx_space(struct pl011 *u);
size_t pl011_rx_push(struct pl011 *u, const uint8_t *buf, size_t len);

void pl011_get_counters(struct pl011 *u, struct serial_counters *c);

/* Snapshots (docs/snapshot.md, section "pl011"): the registers the guest sees, the receive FIFO
 * and the interrupt line's level, as plain data. */
struct pl011_state {
	uint32_t ilpr, ibrd, fbrd, lcr_h, cr, ifls, imsc, dmacr;
	uint32_t tx_ris;
	uint32_t rx_head, rx_count;
	uint32_t irq_level;
	uint8_t rx_fifo[PL011_FIFO_SIZE];
};

void pl011_save(struct pl011 *u, struct pl011_state *st);
/* Loads a saved state, checked whole first: -EINVAL (the device unchanged) for FIFO indices
 * out of range or register bits the PL011 does not have. The line's level is taken as saved,
 * not raised again: the interrupt controller's own state holds it. */
int __must_check pl011_load(struct pl011 *u, const struct pl011_state *st);

#endif
