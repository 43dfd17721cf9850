/* console.h: virtio-console (virtio 1.2, 5.3), one port: receiveq0 from kiln's stdin,
 * transmitq0 to kiln's stdout. No multiport, no resize, no emergency write. */
#ifndef KILN_DEVICES_VIRTIO_CONSOLE_H
#define KILN_DEVICES_VIRTIO_CONSOLE_H

#include <stddef.h>

#include "devices/virtio/kind.h"
#include "devices/virtio/mmio.h"

#define VIRTIO_CONSOLE_RXQ 0
#define VIRTIO_CONSOLE_TXQ 1
#define VIRTIO_CONSOLE_CONFIG_SIZE 12 /* cols, rows, max_nr_ports, emerg_wr */

struct virtio_console {
	struct virtio_mmio t;
	int out_fd;
	/* Called (I/O thread) when the driver posts receive buffers: stdin may be read again. */
	void (*wake)(void *opaque);
	void *wake_opaque;
	struct virtq_chain tx;  /* scratch for the chain being written out */
	struct virtq_chain rx;  /* receive chain being filled, while rx_pending */
	bool rx_pending;
	uint64_t rx_filled;
	uint64_t tx_bytes, rx_bytes;
};

/* Snapshot shape. A receive chain being filled is given back to the driver before saving. */
struct virtio_console_state {
	struct virtio_mmio_state transport;
};

int __must_check virtio_console_init(struct virtio_console *c, const char *name,
				     const struct gmem *gm, uint64_t base, unsigned int gsi,
				     struct irq_line line, int out_fd, void (*wake)(void *),
				     void *wake_opaque);
void virtio_console_destroy(struct virtio_console *c);

/* Input from the owner thread: how many bytes the guest can take now (a receive buffer is
 * taken from the queue when needed), copy some in, and hand the filled buffer to the driver. */
size_t virtio_console_rx_space(struct virtio_console *c);
size_t virtio_console_rx_push(struct virtio_console *c, const uint8_t *buf, size_t len);
void virtio_console_rx_flush(struct virtio_console *c);

/* Bytes out and in, and guest errors counted. Any thread. */
void virtio_console_get_counters(struct virtio_console *c, uint64_t *tx, uint64_t *rx,
				 uint64_t *guest_errors);
void virtio_console_save(struct virtio_console *c, struct virtio_console_state *out);
int __must_check virtio_console_load(struct virtio_console *c, const struct virtio_console_state *in);

/* The builder's table row for --console virtio (kind.h). */
extern const struct virtio_kind virtio_console_kind;

#endif
