/* vsock.h: virtio-vsock (virtio 1.2, 5.10) bridged to Unix sockets on the host the way
 * Firecracker's "hybrid vsock" does it (docs/vsock.md): a host program connects to the device's
 * Unix socket and asks for a guest port with "CONNECT <port>\n"; a guest connection to the host
 * (CID 2) port P reaches the Unix socket "<uds_path>_P". Stream sockets only, with the
 * specification's credit-based flow control both ways; everything runs on the I/O thread. */
#ifndef KILN_DEVICES_VIRTIO_VSOCK_H
#define KILN_DEVICES_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "devices/virtio/kind.h"
#include "devices/virtio/mmio.h"

#define VIRTIO_VSOCK_RXQ 0 /* device to driver: packets for the guest */
#define VIRTIO_VSOCK_TXQ 1 /* driver to device: packets from the guest */
#define VIRTIO_VSOCK_EVQ 2 /* device to driver: events */

/* Configuration space (5.10.4): guest_cid, le64 (its upper 32 bits reserved, zero). */
#define VIRTIO_VSOCK_CFG_SIZE 8

#define VSOCK_CID_HOST 2

/* The packet header (5.10.6), 44 bytes, little-endian: the offsets of its fields. */
#define VSOCK_HDR_SRC_CID 0
#define VSOCK_HDR_DST_CID 8
#define VSOCK_HDR_SRC_PORT 16
#define VSOCK_HDR_DST_PORT 20
#define VSOCK_HDR_LEN_OFF 24
#define VSOCK_HDR_TYPE 28
#define VSOCK_HDR_OP 30
#define VSOCK_HDR_FLAGS 32
#define VSOCK_HDR_BUF_ALLOC 36
#define VSOCK_HDR_FWD_CNT 40
#define VSOCK_HDR_LEN 44

#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive no more (RCV), send no more (SEND). */
#define VSOCK_SHUTDOWN_RCV 1
#define VSOCK_SHUTDOWN_SEND 2

/* The event queue's one event (5.10.6.4): the guest's connections are gone (after a restore). */
#define VSOCK_EVENT_TRANSPORT_RESET 0

/* What kiln offers each connection for data from the guest: the most it holds for a host
 * reader that is slower than the guest (the guest's credit). */
#define VSOCK_BUF_ALLOC (256u * 1024)
/* The most payload kiln puts in one packet for the guest (Linux's own packet limit), and the
 * most it takes in one packet from the guest. */
#define VSOCK_MAX_PKT (64u * 1024)
/* Connections at once; beyond it a new one is refused (RST, or the Unix socket closed). */
#define VSOCK_MAX_CONNS 1024
/* RSTs for packets that belong to no connection, waiting for receive buffers; more are
 * dropped (counted), so a guest that sends garbage and reads nothing costs nothing. */
#define VSOCK_MAX_LOOSE_RST 64
/* Host ports kiln gives host-initiated connections start here (as Firecracker's do). */
#define VSOCK_HOST_PORT_BASE (1u << 30)

/* Firecracker's names where it has them (its VsockDeviceMetrics). "rx" is towards the guest. */
struct virtio_vsock_counters {
	uint64_t conns_added, conns_removed;
	uint64_t conns_killed;     /* connections ended by RST for an error */
	uint64_t rx_packets, rx_bytes; /* packets and payload bytes to the guest */
	uint64_t tx_packets, tx_bytes; /* packets and payload bytes from the guest */
	uint64_t rx_read_fails;    /* host socket reads that failed */
	uint64_t tx_write_fails;   /* host socket writes that failed */
	uint64_t tx_malformed;     /* guest packets refused: bad header, length, type or CID */
	uint64_t rst_dropped;      /* RSTs not sent: too many waiting */
};

struct vsock_conn;

struct virtio_vsock {
	struct virtio_mmio t;
	uint64_t cid;
	char uds_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	int epfd; /* the Unix sockets; the I/O thread watches this one fd */
	int timer_fd; /* ticks while host connections wait for a line or an answer */
	bool timer_armed;
	bool unlink_on_destroy;

	struct vsock_conn **hash; /* by (host port, guest port) */
	struct vsock_conn *all;   /* every live connection, CONNECT lines being read included */
	unsigned int nr_conns;
	struct vsock_conn *work_head, *work_tail; /* connections with something for the guest */
	struct vsock_conn *dead;  /* closed, freed once no handler can still name them */
	struct { uint32_t host_port, guest_port; } loose_rst[VSOCK_MAX_LOOSE_RST];
	unsigned int nr_loose_rst;
	bool reset_event;   /* a transport-reset event waits for an event buffer */
	bool rx_stalled;    /* the guest had no receive buffers: wait for its RX kick */
	uint32_t next_host_port;
	struct virtq_chain chain;
	struct virtq_chain *batch; /* VSOCK_RX_BATCH receive chains filled by one read */
	struct iovec *batch_iov;   /* their payload areas, VSOCK_BATCH_IOV at most */
	struct virtio_vsock_counters n;
};

/* Snapshot shape. Connections are not saved: a restore resets the guest's transport. */
struct virtio_vsock_state {
	struct virtio_mmio_state transport;
	uint64_t cid;
};

/* Sets up the device for guest `cid` (3..0xfffffffe), listening on the Unix socket `uds_path`
 * (a stale socket there, one nothing listens on, is replaced). Returns 0, or -errno with one
 * line in err. */
int __must_check virtio_vsock_init(struct virtio_vsock *v, const char *name, uint64_t cid,
				   const char *uds_path, const struct gmem *gm, uint64_t base,
				   unsigned int gsi, struct irq_line line, char *err,
				   size_t err_size);
/* After the I/O thread stopped: closes every connection and removes the socket. */
void virtio_vsock_destroy(struct virtio_vsock *v);

/* The fd the I/O thread watches (level-triggered), and its handler, whose opaque is `v`. Unit
 * tests call the handler themselves. */
int virtio_vsock_fd(const struct virtio_vsock *v);
void virtio_vsock_io(void *opaque, uint32_t events);

/* Drops every connection and tells the guest with a transport-reset event (after a restore).
 * Lock not held. */
void virtio_vsock_transport_reset(struct virtio_vsock *v);

void virtio_vsock_get_counters(struct virtio_vsock *v, struct virtio_vsock_counters *out,
			       uint64_t *guest_errors, unsigned int *conns);

void virtio_vsock_save(struct virtio_vsock *v, struct virtio_vsock_state *out);
/* Loads the transport and resets the guest's transport (connections do not survive). */
int __must_check virtio_vsock_load(struct virtio_vsock *v, const struct virtio_vsock_state *in);

extern const struct virtio_kind virtio_vsock_kind;

#endif
