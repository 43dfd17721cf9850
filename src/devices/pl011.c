/* pl011.c: the PL011 UART model (pl011.h): transmission is instantaneous, so the transmit FIFO is
 * always empty and its interrupt fires on every write, as on QEMU's model, which Linux's driver
 * is used to. */
#include "devices/pl011.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* PrimeCell identification (PL011 r1p5 TRM, 3.3.14-15): part 0x011, designer ARM (0x41),
 * revision 3; the cell id is the PrimeCell's fixed 0xb105f00d. */
static const uint8_t pl011_id[8] = { 0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct pl011 {
	pthread_mutex_t lock;
	uint32_t ilpr, ibrd, fbrd, lcr_h, cr, ifls, imsc, dmacr;
	uint32_t tx_ris; /* the TX interrupt, set by a write, cleared through ICR */
	uint8_t rx_fifo[PL011_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	int irq_level;
	struct serial_counters counters;
	int out_fd;
	struct irq_line irq;
	void (*rx_space)(void *opaque);
	void *rx_opaque;
};

int pl011_create(struct pl011 **out, int out_fd, struct irq_line irq,
		 void (*rx_space)(void *opaque), void *rx_opaque)
{
	struct pl011 *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->irq = irq;
	u->rx_space = rx_space;
	u->rx_opaque = rx_opaque;
	/* Reset values (TRM 3.2): UART, transmit and receive enabled, FIFO trigger at half. */
	u->cr = 0x300;
	u->ifls = 0x12;
	*out = u;
	return 0;
}

void pl011_destroy(struct pl011 *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* Raw interrupt status: receive and receive-timeout while data waits, transmit as set. */
static uint32_t pl011_ris(const struct pl011 *u)
{
	return u->tx_ris | (u->rx_count ? PL011_INT_RX | PL011_INT_RT : 0);
}

/* With the lock held, after any change: the output is a level. */
static void pl011_update_irq(struct pl011 *u)
{
	int level = (pl011_ris(u) & u->imsc) != 0;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

void pl011_mmio_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct pl011 *u = opaque;
	uint32_t v = 0;
	bool drained = false;

	pthread_mutex_lock(&u->lock);
	switch (offset) {
	case PL011_DR:
		if (u->rx_count) {
			v = u->rx_fifo[u->rx_head];
			u->rx_head = (u->rx_head + 1) % PL011_FIFO_SIZE;
			u->rx_count--;
			drained = true;
			pl011_update_irq(u);
		}
		break;
	case PL011_FR:
		v = PL011_FR_TXFE | (u->rx_count ? 0 : PL011_FR_RXFE) |
		    (u->rx_count == PL011_FIFO_SIZE ? PL011_FR_RXFF : 0);
		break;
	case PL011_ILPR: v = u->ilpr; break;
	case PL011_IBRD: v = u->ibrd; break;
	case PL011_FBRD: v = u->fbrd; break;
	case PL011_LCR_H: v = u->lcr_h; break;
	case PL011_CR: v = u->cr; break;
	case PL011_IFLS: v = u->ifls; break;
	case PL011_IMSC: v = u->imsc; break;
	case PL011_RIS: v = pl011_ris(u); break;
	case PL011_MIS: v = pl011_ris(u) & u->imsc; break;
	case PL011_DMACR: v = u->dmacr; break;
	default:
		if (offset >= PL011_ID_BASE && offset < PL011_ID_BASE + 32 && !(offset & 3))
			v = pl011_id[(offset - PL011_ID_BASE) / 4];
		break; /* RSR (no errors), ICR (write-only), reserved: 0 */
	}
	pthread_mutex_unlock(&u->lock);
	memcpy(data, &v, size < sizeof(v) ? size : sizeof(v));
	if (drained && u->rx_space)
		u->rx_space(u->rx_opaque);
}

static void pl011_transmit(struct pl011 *u, uint8_t b)
{
	if (u->out_fd >= 0) {
		u->counters.bytes_out++;
		/* A full pipe blocks this vCPU, as a slow line would; nothing is dropped. */
		while (write(u->out_fd, &b, 1) < 0 && errno == EINTR)
			;
	}
	u->tx_ris = PL011_INT_TX;
}

void pl011_mmio_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct pl011 *u = opaque;
	uint32_t v = 0;

	memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
	pthread_mutex_lock(&u->lock);
	switch (offset) {
	case PL011_DR: pl011_transmit(u, (uint8_t)v); break;
	case PL011_ILPR: u->ilpr = v & 0xff; break;
	case PL011_IBRD: u->ibrd = v & 0xffff; break;
	case PL011_FBRD: u->fbrd = v & 0x3f; break;
	case PL011_LCR_H: u->lcr_h = v & 0xff; break;
	case PL011_CR: u->cr = v & 0xffff; break;
	case PL011_IFLS: u->ifls = v & 0x3f; break;
	case PL011_IMSC: u->imsc = v & PL011_INT_ALL; break;
	case PL011_ICR: u->tx_ris &= ~v; break; /* RX and RT clear themselves when the FIFO drains */
	case PL011_DMACR: u->dmacr = v & 7; break;
	default: break; /* RSR (error clear: none kept), read-only and reserved registers */
	}
	pl011_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t pl011_rx_space(struct pl011 *u)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = PL011_FIFO_SIZE - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t pl011_rx_push(struct pl011 *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	while (n < len && u->rx_count < PL011_FIFO_SIZE) {
		u->rx_fifo[(u->rx_head + u->rx_count) % PL011_FIFO_SIZE] = buf[n++];
		u->rx_count++;
	}
	u->counters.bytes_in += n;
	pl011_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

void pl011_get_counters(struct pl011 *u, struct serial_counters *c)
{
	pthread_mutex_lock(&u->lock);
	*c = u->counters;
	pthread_mutex_unlock(&u->lock);
}

void pl011_save(struct pl011 *u, struct pl011_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&u->lock);
	st->ilpr = u->ilpr;
	st->ibrd = u->ibrd;
	st->fbrd = u->fbrd;
	st->lcr_h = u->lcr_h;
	st->cr = u->cr;
	st->ifls = u->ifls;
	st->imsc = u->imsc;
	st->dmacr = u->dmacr;
	st->tx_ris = u->tx_ris;
	st->rx_head = u->rx_head;
	st->rx_count = u->rx_count;
	st->irq_level = (uint32_t)u->irq_level;
	memcpy(st->rx_fifo, u->rx_fifo, sizeof(st->rx_fifo));
	pthread_mutex_unlock(&u->lock);
}

int pl011_load(struct pl011 *u, const struct pl011_state *st)
{
	/* What a guest's writes can leave (the masks of pl011_mmio_write()), nothing else. */
	if (st->rx_head >= PL011_FIFO_SIZE || st->rx_count > PL011_FIFO_SIZE ||
	    st->ilpr > 0xff || st->ibrd > 0xffff || st->fbrd > 0x3f || st->lcr_h > 0xff ||
	    st->cr > 0xffff || st->ifls > 0x3f || (st->imsc & ~PL011_INT_ALL) || st->dmacr > 7 ||
	    (st->tx_ris & ~PL011_INT_TX) || st->irq_level > 1)
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	u->ilpr = st->ilpr;
	u->ibrd = st->ibrd;
	u->fbrd = st->fbrd;
	u->lcr_h = st->lcr_h;
	u->cr = st->cr;
	u->ifls = st->ifls;
	u->imsc = st->imsc;
	u->dmacr = st->dmacr;
	u->tx_ris = st->tx_ris;
	u->rx_head = st->rx_head;
	u->rx_count = st->rx_count;
	u->irq_level = (int)st->irq_level;
	memcpy(u->rx_fifo, st->rx_fifo, sizeof(u->rx_fifo));
	pthread_mutex_unlock(&u->lock);
	return 0;
}
