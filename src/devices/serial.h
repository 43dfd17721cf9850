/* serial.h: 16550A UART (8250 family): output to a file descriptor, input from the event loop. */
#ifndef KILN_DEVICES_SERIAL_H
#define KILN_DEVICES_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "util/checked.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_NR_REGS 8
#define SERIAL_FIFO_SIZE 16

/* Register offsets and bits (National Semiconductor PC16550D datasheet). */
#define UART_RBR 0 /* DLAB=0 read */
#define UART_THR 0 /* DLAB=0 write */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1 /* DLAB=0 */
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI 0x01  /* received data available */
#define UART_IER_THRI 0x02 /* transmitter holding register empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI 0x08  /* modem status */

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_FIFO_ENABLED 0xc0

#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RCVR 0x02
#define UART_FCR_CLEAR_XMIT 0x04

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80
#define UART_MSR_DELTA 0x0f

/* Register state: plain data, so a snapshot can save and restore it as is. */
struct serial_state {
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t thr_ipending; /* THRE interrupt pending until IIR read or THR written */
	uint8_t rx_fifo[SERIAL_FIFO_SIZE];
	uint8_t rx_head, rx_count;
	uint8_t irq_level; /* current level of the interrupt output */
};

/* Traffic counters for metrics (not device state). */
struct serial_counters {
	uint64_t bytes_out, bytes_in, overruns;
	uint64_t dropped_bytes; /* output over the rate limit */
};

struct serial;

/* Output bytes go to `out_fd` (-1 drops them). `rx_space` (may be NULL) is called, with no lock
 * held, when the guest drains the receive FIFO so the event loop can read more input. */
int __must_check serial_create(struct serial **out, int out_fd, struct irq_line irq,
			       void (*rx_space)(void *opaque), void *rx_opaque);
void serial_destroy(struct serial *s);

/* Bus handlers (register offset 0..7, size 1; wider accesses act on the first byte). */
void serial_io_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void serial_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* Free space in the receive FIFO. */
size_t serial_rx_space(struct serial *s);
/* Queues up to `len` received bytes; returns how many fit (the rest must be retried later). */
size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len);

void serial_get_counters(struct serial *s, struct serial_counters *c);
/* Limits output to a token bucket of bytes (NULL or size 0: no limit); bytes over it are
 * dropped and counted (dropped_bytes), as Firecracker's serial.rate_limiter does. */
struct token_bucket_cfg;
void serial_set_output_limit(struct serial *s, const struct token_bucket_cfg *cfg);

/* Snapshot hooks: copy the register state out / in. */
void serial_save(struct serial *s, struct serial_state *st);
int __must_check serial_load(struct serial *s, const struct serial_state *st);

#endif
