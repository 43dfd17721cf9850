/* net.h: virtio-net (virtio 1.2, 5.1): one receive and one transmit queue over a host backend
 * (devices/net/backend.h: a TAP device, or user-mode networking). */
#ifndef KILN_DEVICES_VIRTIO_NET_H
#define KILN_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/net/backend.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/mmio.h"
#include "util/io_thread.h"

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

/* Configuration space (5.1.4): mac[6], status, max_virtqueue_pairs, mtu (little-endian). */
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MAX_PAIRS 8
#define VIRTIO_NET_CFG_MTU 10
#define VIRTIO_NET_CFG_SIZE 12
#define VIRTIO_NET_S_LINK_UP 1

/* The header in front of every frame (5.1.6): the offsets of its fields. */
#define VIRTIO_NET_HDR_FLAGS 0
#define VIRTIO_NET_HDR_GSO_TYPE 1
#define VIRTIO_NET_HDR_HDR_LEN 2
#define VIRTIO_NET_HDR_GSO_SIZE 4
#define VIRTIO_NET_HDR_CSUM_START 6
#define VIRTIO_NET_HDR_CSUM_OFFSET 8
#define VIRTIO_NET_HDR_NUM_BUFFERS 10
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_ETH_HLEN 14
#define VIRTIO_NET_VLAN_HLEN 4

/* Firecracker's names where it has them (its NetDeviceMetrics). */
struct virtio_net_counters {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_fails;           /* frames dropped: no room in the guest's buffers, read errors */
	uint64_t no_rx_avail_buffer; /* times a frame waited for the guest to post RX buffers */
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_fails;           /* frames the backend refused */
	uint64_t tx_malformed;       /* frames refused before the backend: bad header or length */
};

struct virtio_net {
	struct virtio_mmio t;
	struct net_backend *be;
	uint8_t mac[6];
	uint16_t mtu;
	struct virtq_chain chain;  /* scratch for the chain being served */
	uint8_t *frame;            /* a received frame waiting for guest buffers, header first */
	size_t frame_len;          /* 0: none waiting */
	bool rx_stalled;           /* the guest had no buffers: wait for its RX kick */
	struct virtio_net_counters n;
	struct rate_limiter rx_rl, tx_rl; /* the API's rx_rate_limiter and tx_rate_limiter */
};

/* Snapshot shape. */
struct virtio_net_state {
	struct virtio_mmio_state transport;
	uint8_t mac[6];
	uint16_t mtu;
};

/* Sets up the device on backend `be` (taken over: freed by virtio_net_destroy(), also on
 * failure) with `mac` and `mtu` (68..65535). `io` (NULL in unit tests, which then call
 * virtio_net_rx_ready() themselves) gets the backend's rx_fd, edge-triggered. Returns 0 or
 * -errno. */
int __must_check virtio_net_init(struct virtio_net *n, const char *name, struct net_backend *be,
				 const uint8_t mac[6], uint16_t mtu, const struct gmem *gm,
				 uint64_t base, unsigned int gsi, struct irq_line line,
				 struct io_thread *io);
/* After the I/O thread stopped. */
void virtio_net_destroy(struct virtio_net *n);

/* I/O-thread handler for the backend's rx_fd: moves frames to the guest while it has buffers.
 * `opaque` is the struct virtio_net. */
void virtio_net_rx_ready(void *opaque, uint32_t events);

/* Counters and guest errors. Any thread. */
void virtio_net_get_counters(struct virtio_net *n, struct virtio_net_counters *out,
			     uint64_t *guest_errors);

void virtio_net_save(struct virtio_net *n, struct virtio_net_state *out);
int __must_check virtio_net_load(struct virtio_net *n, const struct virtio_net_state *in);

/* The builder's table row for --net and the API's network-interfaces (kind.h). */
extern const struct virtio_kind virtio_net_kind;

/* Replaces the buckets of the receive and transmit rate limiters that the flags name (NULL
 * config: that direction unchanged). Any thread (PATCH /network-interfaces). */
void virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_cfg *rx_cfg,
				  bool rx_bw, bool rx_ops, const struct rate_limiter_cfg *tx_cfg,
				  bool tx_bw, bool tx_ops);

#endif
