/* console.c: virtio-console, single port: transmit buffers go to kiln's output, stdin bytes fill
 * receive buffers. */
#include "devices/virtio/console.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"

static void console_config_read(void *dev, uint32_t off, void *data, unsigned int size)
{
	/* cols, rows, max_nr_ports and emerg_wr are meaningful only with features kiln does not
	 * offer (5.3.4): all zero. */
	(void)dev, (void)off, (void)data, (void)size;
}

static void write_all(struct virtio_console *c, const void *p, size_t len)
{
	while (len) {
		ssize_t n = write(c->out_fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				pr_warn_ratelimited(&c->t.rl, "%s: output: %s", c->t.name,
						    strerror(errno));
			return; /* output unavailable: the bytes are dropped, the guest goes on */
		}
		p = (const uint8_t *)p + n;
		len -= (size_t)n;
	}
}

static void transmit(struct virtio_console *c)
{
	struct virtq *q = &c->t.queues[VIRTIO_CONSOLE_TXQ];
	struct virtq_fault f;
	bool pushed = false;
	int n;

	while ((n = virtq_pop(q, &c->tx, &f)) > 0) {
		for (unsigned int i = 0; i < c->tx.nr_out; i++)
			write_all(c, c->tx.iov[i].iov_base, c->tx.iov[i].iov_len);
		c->tx_bytes += c->tx.out_len;
		virtq_push(q, c->tx.head, 0);
		pushed = true;
	}
	if (n < 0)
		virtio_mmio_queue_fault(&c->t, VIRTIO_CONSOLE_TXQ, &f);
	if (pushed)
		virtio_mmio_used(&c->t, VIRTIO_CONSOLE_TXQ);
}

static void console_queue_notify(void *dev, unsigned int q)
{
	struct virtio_console *c = dev;

	if (q == VIRTIO_CONSOLE_TXQ)
		transmit(c);
	else if (c->wake)
		c->wake(c->wake_opaque); /* new receive buffers: stdin can be read again */
}

static void console_reset(void *dev)
{
	struct virtio_console *c = dev;

	c->rx_pending = false;
	c->rx_filled = 0;
}

static const struct virtio_device_ops console_ops = {
	.kind = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nr_queues = 2,
	.config_size = VIRTIO_CONSOLE_CONFIG_SIZE,
	.config_read = console_config_read,
	.queue_notify = console_queue_notify,
	.reset = console_reset,
};

int virtio_console_init(struct virtio_console *c, const char *name, const struct gmem *gm,
			uint64_t base, unsigned int gsi, struct irq_line line, int out_fd,
			void (*wake)(void *), void *wake_opaque)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = out_fd;
	c->wake = wake;
	c->wake_opaque = wake_opaque;
	return virtio_mmio_init(&c->t, name, &console_ops, c, 0, gm, base, gsi, line);
}

void virtio_console_destroy(struct virtio_console *c)
{
	virtio_mmio_destroy(&c->t);
}

size_t virtio_console_rx_space(struct virtio_console *c)
{
	struct virtq *q = &c->t.queues[VIRTIO_CONSOLE_RXQ];
	struct virtq_fault f;
	size_t space = 0;

	pthread_mutex_lock(&c->t.lock);
	if (!c->rx_pending && virtio_mmio_running(&c->t) && q->desc) {
		bool returned = false;
		int n;

		/* A chain with no writable byte can never be filled: hand it back empty, or it
		 * would hold the receive queue for good. */
		while ((n = virtq_pop(q, &c->rx, &f)) > 0 && !c->rx.in_len) {
			virtio_mmio_guest_error(&c->t, "receive buffer %u has no writable bytes",
						c->rx.head);
			virtq_push(q, c->rx.head, 0);
			returned = true;
		}
		if (n < 0)
			virtio_mmio_queue_fault(&c->t, VIRTIO_CONSOLE_RXQ, &f);
		if (returned)
			virtio_mmio_used(&c->t, VIRTIO_CONSOLE_RXQ);
		c->rx_pending = n > 0;
		c->rx_filled = 0;
	}
	if (c->rx_pending)
		space = (size_t)(c->rx.in_len - c->rx_filled);
	pthread_mutex_unlock(&c->t.lock);
	return space;
}

size_t virtio_console_rx_push(struct virtio_console *c, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	pthread_mutex_lock(&c->t.lock);
	if (c->rx_pending) {
		done = iov_from_buf(&c->rx.iov[c->rx.nr_out], c->rx.nr_in, c->rx_filled, buf, len);
		c->rx_filled += done;
		c->rx_bytes += done;
	}
	pthread_mutex_unlock(&c->t.lock);
	return done;
}

void virtio_console_rx_flush(struct virtio_console *c)
{
	pthread_mutex_lock(&c->t.lock);
	if (c->rx_pending && c->rx_filled && virtio_mmio_running(&c->t)) {
		virtq_push(&c->t.queues[VIRTIO_CONSOLE_RXQ], c->rx.head, (uint32_t)c->rx_filled);
		c->rx_pending = false;
		c->rx_filled = 0;
		virtio_mmio_used(&c->t, VIRTIO_CONSOLE_RXQ);
	}
	pthread_mutex_unlock(&c->t.lock);
}

void virtio_console_get_counters(struct virtio_console *c, uint64_t *tx, uint64_t *rx,
				 uint64_t *guest_errors)
{
	pthread_mutex_lock(&c->t.lock);
	*tx = c->tx_bytes;
	*rx = c->rx_bytes;
	*guest_errors = c->t.faults;
	pthread_mutex_unlock(&c->t.lock);
}

void virtio_console_save(struct virtio_console *c, struct virtio_console_state *out)
{
	pthread_mutex_lock(&c->t.lock);
	if (c->rx_pending && !c->rx_filled) {
		/* Taken but unused: put it back in the ring, so the saved state does not lose it. */
		c->t.queues[VIRTIO_CONSOLE_RXQ].st->next_avail--;
		c->rx_pending = false;
	}
	pthread_mutex_unlock(&c->t.lock);
	virtio_console_rx_flush(c);
	virtio_mmio_save(&c->t, &out->transport);
}

int virtio_console_load(struct virtio_console *c, const struct virtio_console_state *in)
{
	console_reset(c);
	return virtio_mmio_load(&c->t, &in->transport);
}

/* ---- the builder's device table (kind.h) ---------------------------------------------------- */

static unsigned int console_count(const struct vmm_config *cfg)
{
	return cfg->virtio_console ? 1 : 0;
}

static int console_init(void *dev, const struct virtio_dev_env *env, char *err, size_t err_size)
{
	int e = virtio_console_init(dev, env->name, env->mem, env->base, env->gsi, env->line,
				    env->out_fd, env->wake, env->wake_opaque);

	if (e)
		snprintf(err, err_size, "%s: cannot create: %s", env->name, strerror(-e));
	return e;
}

static void console_destroy(void *dev)
{
	virtio_console_destroy(dev);
}

static struct virtio_mmio *console_transport(void *dev)
{
	return &((struct virtio_console *)dev)->t;
}

static unsigned int console_counters(void *dev, struct virtio_counter *out)
{
	uint64_t tx, rx, faults;

	virtio_console_get_counters(dev, &tx, &rx, &faults);
	out[0] = (struct virtio_counter){ "bytes_out", tx };
	out[1] = (struct virtio_counter){ "bytes_in", rx };
	out[2] = (struct virtio_counter){ "guest_errors", faults };
	return 3;
}

static void console_save(void *dev, void *state)
{
	virtio_console_save(dev, state);
}

static int console_load(void *dev, const void *state)
{
	return virtio_console_load(dev, state);
}

const struct virtio_kind virtio_console_kind = {
	.kind = "console",
	.metrics_key = "virtio_console",
	.size = sizeof(struct virtio_console),
	.state_size = sizeof(struct virtio_console_state),
	.count = console_count,
	.init = console_init,
	.destroy = console_destroy,
	.transport = console_transport,
	.counters = console_counters,
	.save = console_save,
	.load = console_load,
};
