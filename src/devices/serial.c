/* serial.c: 16550A UART model, complete enough for Linux's 8250 driver and its loopback probe. */
#include "devices/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/rate_limiter.h"

struct serial {
	pthread_mutex_t lock;
	struct serial_state st;
	struct serial_counters counters;
	int out_fd;
	struct token_bucket out_limit; /* serial.rate_limiter: bytes over it are dropped */
	struct irq_line irq;
	void (*rx_space)(void *opaque);
	void *rx_opaque;
};

int serial_create(struct serial **out, int out_fd, struct irq_line irq,
		  void (*rx_space)(void *opaque), void *rx_opaque)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq = irq;
	s->rx_space = rx_space;
	s->rx_opaque = rx_opaque;
	/* Power-on values: transmitter empty, DCD/DSR/CTS asserted by the "modem". */
	s->st.lsr = UART_LSR_THRE | UART_LSR_TEMT;
	s->st.msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	s->st.dll = 0x0c; /* 9600 baud */
	*out = s;
	return 0;
}

void serial_set_output_limit(struct serial *s, const struct token_bucket_cfg *cfg)
{
	pthread_mutex_lock(&s->lock);
	token_bucket_init(&s->out_limit, cfg, now_ns());
	pthread_mutex_unlock(&s->lock);
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Highest-priority pending interrupt, as IIR reports it. */
static uint8_t serial_iir(const struct serial_state *st)
{
	if ((st->ier & UART_IER_RLSI) && (st->lsr & UART_LSR_OE))
		return UART_IIR_RLSI;
	if ((st->ier & UART_IER_RDI) && st->rx_count)
		return UART_IIR_RDI;
	if ((st->ier & UART_IER_THRI) && st->thr_ipending)
		return UART_IIR_THRI;
	if ((st->ier & UART_IER_MSI) && (st->msr & UART_MSR_DELTA))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

/* Called with the lock held after any state change. */
static void serial_update_irq(struct serial *s)
{
	uint8_t level = serial_iir(&s->st) != UART_IIR_NO_INT;

	if (level != s->st.irq_level) {
		s->st.irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

static void serial_update_lsr(struct serial_state *st)
{
	if (st->rx_count)
		st->lsr |= UART_LSR_DR;
	else
		st->lsr &= (uint8_t)~UART_LSR_DR;
}

static bool rx_push_byte(struct serial_state *st, uint8_t b)
{
	if (st->rx_count == SERIAL_FIFO_SIZE) {
		st->lsr |= UART_LSR_OE;
		return false;
	}
	st->rx_fifo[(st->rx_head + st->rx_count) % SERIAL_FIFO_SIZE] = b;
	st->rx_count++;
	serial_update_lsr(st);
	return true;
}

/* Loopback mode wires the modem-control outputs back to the status inputs (datasheet 8.6):
 * RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. Linux's probe relies on it. */
static uint8_t loopback_msr(uint8_t mcr)
{
	uint8_t msr = 0;

	if (mcr & UART_MCR_RTS)
		msr |= UART_MSR_CTS;
	if (mcr & UART_MCR_DTR)
		msr |= UART_MSR_DSR;
	if (mcr & UART_MCR_OUT1)
		msr |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		msr |= UART_MSR_DCD;
	return msr;
}

static void set_msr_inputs(struct serial_state *st, uint8_t inputs)
{
	uint8_t old = st->msr, delta = 0;

	if ((old ^ inputs) & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if ((old ^ inputs) & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(inputs & UART_MSR_RI))
		delta |= UART_MSR_TERI;
	if ((old ^ inputs) & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	st->msr = (uint8_t)(inputs | (old & UART_MSR_DELTA) | delta);
}

void serial_io_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct serial *s = opaque;
	struct serial_state *st = &s->st;
	uint8_t v = 0xff;
	bool drained = false;

	(void)size;
	pthread_mutex_lock(&s->lock);
	switch (offset) {
	case UART_RBR:
		if (st->lcr & UART_LCR_DLAB) {
			v = st->dll;
			break;
		}
		v = 0;
		if (st->rx_count) {
			v = st->rx_fifo[st->rx_head];
			st->rx_head = (st->rx_head + 1) % SERIAL_FIFO_SIZE;
			st->rx_count--;
			drained = true;
		}
		serial_update_lsr(st);
		break;
	case UART_IER:
		v = (st->lcr & UART_LCR_DLAB) ? st->dlm : st->ier;
		break;
	case UART_IIR:
		v = serial_iir(st);
		/* Reading IIR while it reports THRE acknowledges that interrupt. */
		if (v == UART_IIR_THRI)
			st->thr_ipending = 0;
		if (st->fcr & UART_FCR_ENABLE)
			v |= UART_IIR_FIFO_ENABLED;
		break;
	case UART_LCR:
		v = st->lcr;
		break;
	case UART_MCR:
		v = st->mcr;
		break;
	case UART_LSR:
		v = st->lsr;
		st->lsr &= (uint8_t)~UART_LSR_OE; /* error bits clear on read */
		break;
	case UART_MSR:
		v = st->msr;
		st->msr &= (uint8_t)~UART_MSR_DELTA;
		break;
	case UART_SCR:
		v = st->scr;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	*(uint8_t *)data = v;
	if (drained && s->rx_space)
		s->rx_space(s->rx_opaque);
}

static void serial_transmit(struct serial *s, uint8_t b)
{
	struct serial_state *st = &s->st;

	if (st->mcr & UART_MCR_LOOP) {
		if (!rx_push_byte(st, b))
			s->counters.overruns++;
	} else if (s->out_fd >= 0 && token_bucket_limited(&s->out_limit) &&
		   token_bucket_wait(&s->out_limit, 1, now_ns())) {
		/* Over the limit: dropped and counted, as Firecracker does; the guest is not slowed. */
		s->counters.dropped_bytes++;
	} else if (s->out_fd >= 0) {
		token_bucket_consume(&s->out_limit, 1);
		s->counters.bytes_out++;
		/* A full pipe blocks this vCPU, as a slow line would; nothing is dropped. */
		while (write(s->out_fd, &b, 1) < 0 && errno == EINTR)
			;
	}
	/* Transmission is instantaneous: THR is empty again at once. */
	st->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
	st->thr_ipending = 1;
}

void serial_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct serial *s = opaque;
	struct serial_state *st = &s->st;
	uint8_t v = *(const uint8_t *)data;

	(void)size;
	pthread_mutex_lock(&s->lock);
	switch (offset) {
	case UART_THR:
		if (st->lcr & UART_LCR_DLAB)
			st->dll = v;
		else
			serial_transmit(s, v);
		break;
	case UART_IER:
		if (st->lcr & UART_LCR_DLAB) {
			st->dlm = v;
			break;
		}
		/* Enabling THRI while THR is empty raises the interrupt at once (8250 behaviour the
		 * Linux driver's THRE test depends on). */
		if (!(st->ier & UART_IER_THRI) && (v & UART_IER_THRI) && (st->lsr & UART_LSR_THRE))
			st->thr_ipending = 1;
		st->ier = v & 0x0f;
		break;
	case UART_FCR:
		if (v & UART_FCR_CLEAR_RCVR) {
			st->rx_count = 0;
			st->rx_head = 0;
			serial_update_lsr(st);
		}
		st->fcr = v & (uint8_t)~(UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
		break;
	case UART_LCR:
		st->lcr = v;
		break;
	case UART_MCR:
		st->mcr = v & 0x1f;
		set_msr_inputs(st, (st->mcr & UART_MCR_LOOP) ? loopback_msr(st->mcr)
							       : (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS));
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only on a 16550A */
	case UART_SCR:
		st->scr = v;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_rx_space(struct serial *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	/* In loopback mode the line is disconnected from the outside world. */
	n = (s->st.mcr & UART_MCR_LOOP) ? 0 : SERIAL_FIFO_SIZE - s->st.rx_count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	if (!(s->st.mcr & UART_MCR_LOOP))
		while (n < len && s->st.rx_count < SERIAL_FIFO_SIZE && rx_push_byte(&s->st, buf[n]))
			n++;
	s->counters.bytes_in += n;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_get_counters(struct serial *s, struct serial_counters *c)
{
	pthread_mutex_lock(&s->lock);
	*c = s->counters;
	pthread_mutex_unlock(&s->lock);
}

void serial_save(struct serial *s, struct serial_state *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

int serial_load(struct serial *s, const struct serial_state *st)
{
	if (st->rx_count > SERIAL_FIFO_SIZE || st->rx_head >= SERIAL_FIFO_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->st = *st;
	/* The line follows the restored registers, whatever level the snapshot recorded. */
	s->st.irq_level = serial_iir(&s->st) != UART_IIR_NO_INT;
	irq_line_set(&s->irq, s->st.irq_level);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
