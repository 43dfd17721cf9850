/* net.c: virtio-net: frames between the guest's queues and a host backend. TX runs on the queue's
 * kick; RX on the backend's rx_fd (edge-triggered) and on RX kicks, both on the I/O thread. When
 * the guest has no receive buffers the device stops reading the backend (the TAP's own queue
 * holds the frames) until the guest's next RX kick. */
#include "devices/virtio/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"

/* Frames (or chains) served per call before the device yields the I/O thread to other queues
 * and comes back through its own kick. */
#define NET_BUDGET 256

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static bool negotiated(const struct virtio_net *n, unsigned int bit)
{
	return n->t.st.driver_features & VIRTIO_BIT(bit);
}

static void net_config_read(void *dev, uint32_t off, void *data, unsigned int size)
{
	struct virtio_net *n = dev;
	uint8_t cfg[VIRTIO_NET_CFG_SIZE];

	memcpy(cfg + VIRTIO_NET_CFG_MAC, n->mac, 6);
	wr16(cfg + VIRTIO_NET_CFG_STATUS, VIRTIO_NET_S_LINK_UP);
	wr16(cfg + VIRTIO_NET_CFG_MAX_PAIRS, 1);
	wr16(cfg + VIRTIO_NET_CFG_MTU, n->mtu);
	memcpy(data, cfg + off, size);
}

/* Comes back to this queue later, through its own kick eventfd. */
static void requeue(struct virtio_net *n, unsigned int q)
{
	uint64_t one = 1;

	if (n->t.kick_fd[q] >= 0 && write(n->t.kick_fd[q], &one, sizeof(one)) < 0)
		virtio_mmio_guest_error(&n->t, "cannot requeue queue %u: %s", q, strerror(errno));
}

/* ---- transmit ------------------------------------------------------------------------------ */

/* Whether the chain is a frame kiln may hand to the backend: a header the negotiated features
 * allow, a checksum request inside the frame, and a length the MTU (or GSO) allows. */
static bool tx_frame_ok(struct virtio_net *n, const struct virtq_chain *c)
{
	uint8_t h[NET_HDR_LEN];
	uint64_t len;
	uint8_t gso;

	if (c->nr_in) {
		virtio_mmio_guest_error(&n->t, "tx %u: chain has device-writable buffers", c->head);
		return false;
	}
	if (c->out_len < NET_HDR_LEN + VIRTIO_NET_ETH_HLEN ||
	    virtq_chain_read(c, 0, h, sizeof(h)) != sizeof(h)) {
		virtio_mmio_guest_error(&n->t, "tx %u: %llu bytes, shorter than a header and an "
					"Ethernet header", c->head, (unsigned long long)c->out_len);
		return false;
	}
	len = c->out_len - NET_HDR_LEN;
	if (h[VIRTIO_NET_HDR_FLAGS] & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) {
		virtio_mmio_guest_error(&n->t, "tx %u: unknown header flags 0x%x", c->head,
					h[VIRTIO_NET_HDR_FLAGS]);
		return false;
	}
	if (h[VIRTIO_NET_HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint32_t end = (uint32_t)rd16(h + VIRTIO_NET_HDR_CSUM_START) +
			       rd16(h + VIRTIO_NET_HDR_CSUM_OFFSET) + 2;

		if (!negotiated(n, VIRTIO_NET_F_CSUM) || end > len) {
			virtio_mmio_guest_error(&n->t, "tx %u: checksum request %s", c->head,
						end > len ? "beyond the frame" : "without F_CSUM");
			return false;
		}
	}
	gso = h[VIRTIO_NET_HDR_GSO_TYPE];
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (len > (uint64_t)n->mtu + VIRTIO_NET_ETH_HLEN + VIRTIO_NET_VLAN_HLEN) {
			virtio_mmio_guest_error(&n->t, "tx %u: %llu-byte frame above MTU %u",
						c->head, (unsigned long long)len, n->mtu);
			return false;
		}
		return true;
	}
	if (!((gso == VIRTIO_NET_HDR_GSO_TCPV4 && negotiated(n, VIRTIO_NET_F_HOST_TSO4)) ||
	      (gso == VIRTIO_NET_HDR_GSO_TCPV6 && negotiated(n, VIRTIO_NET_F_HOST_TSO6))) ||
	    !(h[VIRTIO_NET_HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    !rd16(h + VIRTIO_NET_HDR_GSO_SIZE) || len > NET_FRAME_MAX) {
		virtio_mmio_guest_error(&n->t, "tx %u: segmentation type 0x%x size %u on %llu bytes "
					"not allowed", c->head, gso, rd16(h + VIRTIO_NET_HDR_GSO_SIZE),
					(unsigned long long)len);
		return false;
	}
	return true;
}

static void tx(struct virtio_net *n)
{
	struct virtq *q = &n->t.queues[VIRTIO_NET_TXQ];
	struct virtq_chain *c = &n->chain;
	struct virtq_fault f;
	unsigned int done = 0;
	int r = 0;

	while (done < NET_BUDGET && (r = virtq_pop(q, c, &f)) > 0) {
		if (c->out_len >= NET_HDR_LEN &&
		    !rate_limiter_consume(&n->tx_rl, c->out_len - NET_HDR_LEN, 1)) {
			/* Over tx_rate_limiter: the frame stays on the ring for the timer. */
			virtq_unpop(q, 1);
			break;
		}
		if (!tx_frame_ok(n, c)) {
			n->n.tx_malformed++;
		} else if (n->be->ops->send(n->be, c->iov, c->nr_out)) {
			n->n.tx_fails++;
		} else {
			n->n.tx_packets++;
			n->n.tx_bytes += c->out_len - NET_HDR_LEN;
		}
		virtq_push(q, c->head, 0);
		done++;
	}
	if (r < 0)
		virtio_mmio_queue_fault(&n->t, VIRTIO_NET_TXQ, &f);
	else if (done == NET_BUDGET)
		requeue(n, VIRTIO_NET_TXQ);
	if (done)
		virtio_mmio_used(&n->t, VIRTIO_NET_TXQ);
}

/* ---- receive ------------------------------------------------------------------------------- */

enum deliver { DELIVERED, NO_BUFFERS, DROPPED, BROKEN };

/* Puts the waiting frame into the guest's buffers: one chain, or with MRG_RXBUF as many as it
 * needs, published together. */
static enum deliver deliver(struct virtio_net *n)
{
	struct virtq *q = &n->t.queues[VIRTIO_NET_RXQ];
	struct virtq_chain *c = &n->chain;
	bool mrg = negotiated(n, VIRTIO_NET_F_MRG_RXBUF);
	uint8_t *nb[2] = { NULL, NULL }; /* where num_buffers lands in the first chain */
	uint16_t used = 0;
	size_t off = 0;
	struct virtq_fault f;
	int r;

	if (!mrg)
		wr16(n->frame + VIRTIO_NET_HDR_NUM_BUFFERS, 1);
	while (off < n->frame_len) {
		uint64_t room, l;

		if (used == q->st->size) {
			/* Every buffer of the queue and still no room: drop it, give them back. */
			virtq_unpop(q, used);
			return DROPPED;
		}
		r = virtq_pop(q, c, &f);
		if (r < 0) {
			virtq_unpop(q, used);
			virtio_mmio_queue_fault(&n->t, VIRTIO_NET_RXQ, &f);
			return BROKEN;
		}
		if (r == 0) {
			virtq_unpop(q, used);
			return NO_BUFFERS;
		}
		if (c->nr_out)
			virtio_mmio_guest_error(&n->t, "rx %u: chain has device-readable buffers",
						c->head);
		room = c->in_len;
		if (!used && room < NET_HDR_LEN) {
			/* Not even the header fits: the driver is broken. Return the chain empty. */
			virtio_mmio_guest_error(&n->t, "rx %u: %llu-byte buffer, below the header",
						c->head, (unsigned long long)room);
			virtq_fill(q, 0, c->head, 0);
			virtq_flush(q, 1);
			return DROPPED;
		}
		if (!mrg && room < n->frame_len) {
			virtio_mmio_guest_error(&n->t, "rx %u: %llu-byte buffer for a %zu-byte frame "
						"without MRG_RXBUF", c->head,
						(unsigned long long)room, n->frame_len);
			virtq_fill(q, 0, c->head, 0);
			virtq_flush(q, 1);
			return DROPPED;
		}
		l = room < n->frame_len - off ? room : n->frame_len - off;
		iov_from_buf(c->iov + c->nr_out, c->nr_in, 0, n->frame + off, l);
		if (!used && mrg) {
			/* The header's last two bytes, wherever the buffers put them. */
			for (unsigned int i = c->nr_out, at = 0; i < c->nr_out + c->nr_in; i++) {
				for (size_t k = 0; k < c->iov[i].iov_len && at < NET_HDR_LEN; k++, at++)
					if (at >= VIRTIO_NET_HDR_NUM_BUFFERS)
						nb[at - VIRTIO_NET_HDR_NUM_BUFFERS] =
							(uint8_t *)c->iov[i].iov_base + k;
				if (at == NET_HDR_LEN)
					break;
			}
		}
		virtq_fill(q, used++, c->head, (uint32_t)l);
		off += l;
	}
	if (mrg && nb[0] && nb[1]) {
		*nb[0] = (uint8_t)used;
		*nb[1] = (uint8_t)(used >> 8);
	}
	virtq_flush(q, used);
	return DELIVERED;
}

/* Lock held. */
static void rx(struct virtio_net *n)
{
	bool pushed = false;
	unsigned int done = 0;

	if (!virtio_mmio_running(&n->t))
		return;
	n->rx_stalled = false;
	while (done < NET_BUDGET) {
		enum deliver d;

		if (!n->frame_len) {
			ssize_t len = n->be->ops->recv(n->be, n->frame, NET_HDR_LEN + NET_FRAME_MAX);

			if (len == -EAGAIN || len == -EWOULDBLOCK)
				break;
			if (len < NET_HDR_LEN + VIRTIO_NET_ETH_HLEN) {
				n->n.rx_fails++;
				if (len < 0)
					break; /* the backend failed: its next edge tries again */
				continue;
			}
			n->frame_len = (size_t)len;
		}
		/* Over rx_rate_limiter: the frame waits in n->frame, and the backend is not read
		 * again, until the limiter's timer fires. */
		if (!rate_limiter_consume(&n->rx_rl, n->frame_len - NET_HDR_LEN, 1))
			break;
		d = deliver(n);
		if (d == NO_BUFFERS) {
			n->n.no_rx_avail_buffer++;
			n->rx_stalled = true;
			break;
		}
		if (d == BROKEN)
			break;
		if (d == DELIVERED) {
			n->n.rx_packets++;
			n->n.rx_bytes += n->frame_len - NET_HDR_LEN;
		} else {
			n->n.rx_fails++;
		}
		pushed = true;
		n->frame_len = 0;
		done++;
	}
	if (done == NET_BUDGET)
		requeue(n, VIRTIO_NET_RXQ);
	if (pushed)
		virtio_mmio_used(&n->t, VIRTIO_NET_RXQ);
}

void virtio_net_rx_ready(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	pthread_mutex_lock(&n->t.lock);
	rx(n);
	pthread_mutex_unlock(&n->t.lock);
}

/* The rate limiters' timers (I/O thread): the held frame or ring may go on. */
static void tx_rate_timer(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	rate_limiter_timer_event(&n->tx_rl);
	pthread_mutex_lock(&n->t.lock);
	if (virtio_mmio_running(&n->t) && n->t.queues[VIRTIO_NET_TXQ].desc)
		tx(n);
	pthread_mutex_unlock(&n->t.lock);
}

static void rx_rate_timer(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	rate_limiter_timer_event(&n->rx_rl);
	pthread_mutex_lock(&n->t.lock);
	rx(n);
	pthread_mutex_unlock(&n->t.lock);
}

void virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_cfg *rx_cfg,
				  bool rx_bw, bool rx_ops, const struct rate_limiter_cfg *tx_cfg,
				  bool tx_bw, bool tx_ops)
{
	if (rx_cfg)
		rate_limiter_update(&n->rx_rl, rx_cfg, rx_bw, rx_ops);
	if (tx_cfg)
		rate_limiter_update(&n->tx_rl, tx_cfg, tx_bw, tx_ops);
}

static void net_queue_notify(void *dev, unsigned int q)
{
	if (q == VIRTIO_NET_TXQ)
		tx(dev);
	else
		rx(dev); /* new receive buffers: frames may be waiting */
}

/* The offloads the guest accepts on receive, as it negotiated them. */
static unsigned int rx_offloads(const struct virtio_net *n)
{
	unsigned int o = 0;

	if (!n->be->offloads || !negotiated(n, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	o |= NET_OFFLOAD_CSUM;
	if (negotiated(n, VIRTIO_NET_F_GUEST_TSO4))
		o |= NET_OFFLOAD_TSO4;
	if (negotiated(n, VIRTIO_NET_F_GUEST_TSO6))
		o |= NET_OFFLOAD_TSO6;
	return o;
}

static void net_activate(void *dev)
{
	struct virtio_net *n = dev;
	int e = n->be->ops->set_offload ? n->be->ops->set_offload(n->be, rx_offloads(n)) : 0;

	if (e)
		virtio_mmio_guest_error(&n->t, "cannot set the backend's receive offloads: %s",
					strerror(-e));
	rx(n);
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	n->frame_len = 0;
	n->rx_stalled = false;
	if (n->be->ops->set_offload)
		(void)n->be->ops->set_offload(n->be, 0);
}

static const struct virtio_device_ops net_ops = {
	.kind = "net",
	.device_id = VIRTIO_ID_NET,
	.nr_queues = 2,
	.config_size = VIRTIO_NET_CFG_SIZE,
	.config_read = net_config_read,
	.queue_notify = net_queue_notify,
	.activate = net_activate,
	.reset = net_reset,
};

int virtio_net_init(struct virtio_net *n, const char *name, struct net_backend *be,
		    const uint8_t mac[6], uint16_t mtu, const struct gmem *gm, uint64_t base,
		    unsigned int gsi, struct irq_line line, struct io_thread *io)
{
	uint64_t features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_MTU) |
			    VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	int e;

	memset(n, 0, sizeof(*n));
	n->rx_rl.timer_fd = n->tx_rl.timer_fd = -1;
	n->be = be;
	memcpy(n->mac, mac, 6);
	n->mtu = mtu;
	if ((e = rate_limiter_init(&n->rx_rl, NULL)) || (e = rate_limiter_init(&n->tx_rl, NULL)))
		goto fail;
	if (be->offloads)
		features |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
			    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
			    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6);
	n->frame = malloc(NET_HDR_LEN + NET_FRAME_MAX);
	if (!n->frame) {
		e = -ENOMEM;
		goto fail;
	}
	e = virtio_mmio_init(&n->t, name, &net_ops, n, features, gm, base, gsi, line);
	if (e)
		goto fail;
	if (io && ((e = io_thread_add_edge(io, be->rx_fd, virtio_net_rx_ready, n)) ||
		   (e = io_thread_add(io, n->rx_rl.timer_fd, rx_rate_timer, n)) ||
		   (e = io_thread_add(io, n->tx_rl.timer_fd, tx_rate_timer, n)))) {
		virtio_mmio_destroy(&n->t);
		goto fail;
	}
	return 0;
fail:
	free(n->frame);
	be->ops->destroy(be);
	rate_limiter_destroy(&n->rx_rl);
	rate_limiter_destroy(&n->tx_rl);
	memset(n, 0, sizeof(*n));
	n->rx_rl.timer_fd = n->tx_rl.timer_fd = -1;
	return e;
}

void virtio_net_destroy(struct virtio_net *n)
{
	virtio_mmio_destroy(&n->t);
	if (n->be)
		n->be->ops->destroy(n->be);
	n->be = NULL;
	free(n->frame);
	n->frame = NULL;
	rate_limiter_destroy(&n->rx_rl);
	rate_limiter_destroy(&n->tx_rl);
}

void virtio_net_get_counters(struct virtio_net *n, struct virtio_net_counters *out,
			     uint64_t *guest_errors)
{
	pthread_mutex_lock(&n->t.lock);
	*out = n->n;
	*guest_errors = n->t.faults;
	pthread_mutex_unlock(&n->t.lock);
}

void virtio_net_save(struct virtio_net *n, struct virtio_net_state *out)
{
	virtio_mmio_save(&n->t, &out->transport);
	memcpy(out->mac, n->mac, 6);
	out->mtu = n->mtu;
}

int virtio_net_load(struct virtio_net *n, const struct virtio_net_state *in)
{
	int e;

	/* The MAC is the guest's, as it read it from the configuration space: an interface
	 * configured without one picked it at random, so the restored device takes the saved one
	 * (a unicast address, as pick_mac() makes). The MTU comes from the configuration. */
	if (in->mtu != n->mtu || (in->mac[0] & 1))
		return -EINVAL;
	if ((e = virtio_mmio_load(&n->t, &in->transport)))
		return e;
	pthread_mutex_lock(&n->t.lock);
	memcpy(n->mac, in->mac, 6);
	pthread_mutex_unlock(&n->t.lock);
	return 0;
}

/* ---- the builder's device table (kind.h) ---------------------------------------------------- */

static unsigned int net_count(const struct vmm_config *cfg)
{
	return cfg->nr_nets;
}

/* A locally administered unicast address when the user gives none. */
static void pick_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		memset(mac, 0x5a, 6);
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

static int net_init(void *dev, const struct virtio_dev_env *env, char *err, size_t err_size)
{
	const struct vmm_net *c = &env->cfg->nets[env->index];
	struct net_backend *be;
	uint8_t mac[6];
	int e;

	if (c->has_mac)
		memcpy(mac, c->mac, 6);
	else
		pick_mac(mac);
	if (c->backend == NET_BACKEND_TAP)
		e = net_tap_open(&be, c->tap, err, err_size);
	else
		e = net_slirp_open(&be, c, mac, err, err_size);
	if (e)
		return e == -ENOMEM || e == -EMFILE || e == -ENFILE ? e : -EINVAL;
	e = virtio_net_init(dev, env->name, be, mac, c->mtu ? c->mtu : CONFIG_NET_DEFAULT_MTU,
			    env->mem, env->base, env->gsi, env->line, env->io);
	if (e)
		snprintf(err, err_size, "%s (%s): cannot create: %s", env->name, c->id,
			 strerror(-e));
	else
		virtio_net_set_rate_limiters(dev, &c->rx_rate_limiter, true, true,
					     &c->tx_rate_limiter, true, true);
	return e;
}

static void net_destroy(void *dev)
{
	virtio_net_destroy(dev);
}

static struct virtio_mmio *net_transport(void *dev)
{
	return &((struct virtio_net *)dev)->t;
}

static unsigned int net_counters(void *dev, struct virtio_counter *out)
{
	struct virtio_net_counters c;
	uint64_t faults;
	unsigned int i = 0;

	virtio_net_get_counters(dev, &c, &faults);
	out[i++] = (struct virtio_counter){ "rx_packets_count", c.rx_packets };
	out[i++] = (struct virtio_counter){ "rx_bytes_count", c.rx_bytes };
	out[i++] = (struct virtio_counter){ "rx_fails", c.rx_fails };
	out[i++] = (struct virtio_counter){ "no_rx_avail_buffer", c.no_rx_avail_buffer };
	out[i++] = (struct virtio_counter){ "tx_packets_count", c.tx_packets };
	out[i++] = (struct virtio_counter){ "tx_bytes_count", c.tx_bytes };
	out[i++] = (struct virtio_counter){ "tx_fails", c.tx_fails };
	out[i++] = (struct virtio_counter){ "tx_malformed_frames", c.tx_malformed };
	out[i++] = (struct virtio_counter){ "guest_errors", faults };
	return i;
}

static void net_save(void *dev, void *state)
{
	virtio_net_save(dev, state);
}

static int net_load(void *dev, const void *state)
{
	return virtio_net_load(dev, state);
}

const struct virtio_kind virtio_net_kind = {
	.kind = "net",
	.metrics_key = "net",
	.metrics_list = true,
	.size = sizeof(struct virtio_net),
	.state_size = sizeof(struct virtio_net_state),
	.count = net_count,
	.init = net_init,
	.destroy = net_destroy,
	.transport = net_transport,
	.counters = net_counters,
	.save = net_save,
	.load = net_load,
};
