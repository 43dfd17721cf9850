/* fuzz_virtio_net.c: libFuzzer target for virtio-net (src/devices/virtio/net.c): a hostile driver
 * sets up both queues and transmits whatever its RAM describes, while a fake backend hands the
 * device frames of every length from nothing to a 64 KiB GSO segment. The property (issue 12):
 * the guest can never make kiln crash, spin, or pass the backend a frame larger than the MTU plus
 * headers without negotiated GSO, or with an offload it did not negotiate. The backend's send()
 * checks every frame it is given and abort()s on one the device should have refused.
 *
 * Input layout (little-endian):
 *   [0,2)   RX QueueNum written by the driver (any value: bad sizes are part of the game)
 *   [2,4)   RX descriptor table address  } guest-physical; flag 0x01 below moves all three
 *   [4,6)   RX available ring address    } up by RING_HIGH (outside RAM)
 *   [6,8)   RX used ring address         }
 *   [8,16)  the same for TX: QueueNum, descriptor table, available ring, used ring (flag 0x02)
 *   [16]    flags: 0x01 RX rings at +RING_HIGH, 0x02 TX rings at +RING_HIGH, 0x04 no
 *           VERSION_1, 0x08 EVENT_IDX, 0x10 INDIRECT_DESC, 0x20 the backend's send() fails
 *           (-EAGAIN) on every second frame
 *   [17]    net features: 0x01 MRG_RXBUF, 0x02 CSUM, 0x04 GUEST_CSUM, 0x08 HOST_TSO4,
 *           0x10 HOST_TSO6, 0x20 GUEST_TSO4, 0x40 GUEST_TSO6, 0x80 GUEST_ECN (never offered:
 *           the device must refuse FEATURES_OK)
 *   [18,42) eight frames for the backend, 3 bytes each (v): the frame is v % (NET_HDR_LEN +
 *           NET_FRAME_MAX + 1) bytes, header included, unless bit 0x800000 is set: then the
 *           backend's recv() fails with -EIO in its place. A frame's bytes are the input's RAM
 *           image (below) from its start, then a pattern.
 *   [42,80) operations, one byte each:
 *             0x00-0x3f  QueueNotify with value (op & 3) (2 and 3: queues that do not exist),
 *                        then the I/O thread's kick of queue (op & 1) (0: RX, 1: TX)
 *             0x40-0x7f  the driver publishes (op & 0x1f) more entries on queue (op >> 5) & 1
 *             0x80-0xbf  write register (op & 0x3f) * 4 with the next operation byte as value
 *                        v, read it back, and read 1 << ((v >> 4) & 3) bytes of configuration
 *                        space at offset v & 0xf
 *             0xc0-0xdf  (op & 0xf) frames arrive (the next ones of the eight, round the table)
 *                        and, unless op & 0x10 (frames pile up first), the backend's rx_fd
 *                        fires: virtio_net_rx_ready()
 *             0xe0-0xff  odd: save and load the device; even: reset and set up again
 *   [80,..) guest RAM contents (RAM_SIZE bytes; the rest is zero)
 * tests/fuzz/make_corpus.py writes seeds in this format. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "devices/net/backend.h"
#include "devices/virtio/net.h"
#include "devices/virtio/virtio.h"
#include "util/log.h"
#include "fuzz_common.h"

#define RAM_SIZE 0x20000 /* room for a 64 KiB frame above rings at 16-bit addresses */
#define CTL_SIZE 80
#define CTL_FLAGS 16
#define CTL_NET 17
#define CTL_FRAMES 18
#define NR_FRAMES 8
#define CTL_OPS 42
#define RING_HIGH 0xffff0000ull
#define BASE 0xd0000000ull
#define MTU 1500
#define FRAME_BUF (NET_HDR_LEN + NET_FRAME_MAX)
#define RECV_EIO 0x800000u
#define PENDING_MAX 512 /* more than the device's budget per call (NET_BUDGET) */

/* The fake backend: frames queued by the input, sends checked against the negotiated features. */
struct fuzz_backend {
	struct net_backend be;
	uint32_t pending[PENDING_MAX]; /* table entries (length or RECV_EIO) waiting for recv() */
	unsigned int pending_head, nr_pending;
	unsigned int next_frame;       /* the next table entry to queue */
	uint64_t taken;                /* recv() calls that returned a frame or an error */
	uint64_t sends, sends_ok;
	bool fail_odd_sends;
};

static uint8_t *ram;
static struct gmem *gm;
static struct virtio_net net;
static struct fuzz_backend fb;
static uint8_t ctl[CTL_SIZE];
static const uint8_t *image; /* the input's RAM image, the source of frame bytes */
static size_t image_len;
static uint8_t sent[FRAME_BUF];
static const uint8_t mac[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };
static bool verbose; /* KILN_FUZZ_LOG: kiln's log, and each input's counters */

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_virtio_net: invariant broken: %s\n", what);
		abort();
	}
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* What the driver and the device agreed on: only meaningful once FEATURES_OK stuck. */
static bool negotiated(unsigned int bit)
{
	return net.t.st.driver_features & VIRTIO_BIT(bit);
}

static int fuzz_send(struct net_backend *be, const struct iovec *iov, unsigned int nr)
{
	struct fuzz_backend *b = (struct fuzz_backend *)be;
	uint64_t total = 0, len;
	uint8_t flags, gso;

	check(virtio_mmio_running(&net.t) && (net.t.st.status & VIRTIO_STATUS_FEATURES_OK),
	      "frames are sent only by a running device");
	check(!(net.t.st.driver_features & ~net.t.device_features),
	      "frames are sent only with features the device offered");
	check(nr >= 1 && nr <= VIRTQ_MAX_CHAIN, "a frame has 1..VIRTQ_MAX_CHAIN buffers");
	for (unsigned int i = 0; i < nr; i++) {
		const uint8_t *p = iov[i].iov_base;

		check(iov[i].iov_len <= RAM_SIZE && p >= ram && p + iov[i].iov_len <= ram + RAM_SIZE,
		      "a frame's buffers are guest RAM");
		total += iov[i].iov_len;
	}
	check(total >= NET_HDR_LEN + VIRTIO_NET_ETH_HLEN && total <= FRAME_BUF,
	      "a sent frame has a header, an Ethernet header and at most NET_FRAME_MAX bytes");
	total = 0;
	for (unsigned int i = 0; i < nr; i++) {
		memcpy(sent + total, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	len = total - NET_HDR_LEN;
	flags = sent[VIRTIO_NET_HDR_FLAGS];
	gso = sent[VIRTIO_NET_HDR_GSO_TYPE];
	check(!(flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)),
	      "a sent frame has only known header flags");
	if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		check(negotiated(VIRTIO_NET_F_CSUM), "NEEDS_CSUM only with F_CSUM");
		check((uint64_t)rd16(sent + VIRTIO_NET_HDR_CSUM_START) +
				      rd16(sent + VIRTIO_NET_HDR_CSUM_OFFSET) + 2 <=
			      len,
		      "a checksum request lies inside the frame");
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		check(len <= MTU + VIRTIO_NET_ETH_HLEN + VIRTIO_NET_VLAN_HLEN,
		      "without GSO a sent frame is at most MTU + 18 bytes");
	} else {
		check((gso == VIRTIO_NET_HDR_GSO_TCPV4 && negotiated(VIRTIO_NET_F_HOST_TSO4)) ||
			      (gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
			       negotiated(VIRTIO_NET_F_HOST_TSO6)),
		      "a sent frame's GSO type was negotiated");
		check(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, "GSO comes with NEEDS_CSUM");
		check(rd16(sent + VIRTIO_NET_HDR_GSO_SIZE) != 0, "GSO has a segment size");
	}
	b->sends++;
	if (b->fail_odd_sends && (b->sends & 1))
		return -EAGAIN;
	b->sends_ok++;
	return 0;
}

static uint32_t frame_entry(unsigned int k)
{
	const uint8_t *p = ctl + CTL_FRAMES + 3 * (k % NR_FRAMES);

	return (uint32_t)(p[0] | p[1] << 8 | p[2] << 16);
}

static ssize_t fuzz_recv(struct net_backend *be, void *buf, size_t len)
{
	struct fuzz_backend *b = (struct fuzz_backend *)be;
	uint8_t *out = buf;
	uint32_t v;
	size_t flen, n;

	check(len >= FRAME_BUF, "recv() gets room for the largest frame");
	if (!b->nr_pending)
		return -EAGAIN;
	v = b->pending[b->pending_head];
	b->pending_head = (b->pending_head + 1) % PENDING_MAX;
	b->nr_pending--;
	b->taken++;
	if (v & RECV_EIO)
		return -EIO;
	flen = v % (FRAME_BUF + 1);
	n = flen < image_len ? flen : image_len;
	memcpy(out, image, n);
	for (size_t i = n; i < flen; i++)
		out[i] = (uint8_t)(i * 13 + 5);
	return (ssize_t)flen;
}

static int fuzz_set_offload(struct net_backend *be, unsigned int offloads)
{
	unsigned int allowed = 0;

	(void)be;
	if (negotiated(VIRTIO_NET_F_GUEST_CSUM)) {
		allowed |= NET_OFFLOAD_CSUM;
		if (negotiated(VIRTIO_NET_F_GUEST_TSO4))
			allowed |= NET_OFFLOAD_TSO4;
		if (negotiated(VIRTIO_NET_F_GUEST_TSO6))
			allowed |= NET_OFFLOAD_TSO6;
	}
	check(!(offloads & ~allowed), "receive offloads only as the guest negotiated them");
	return 0;
}

static void fuzz_destroy(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops fuzz_ops = {
	.send = fuzz_send,
	.recv = fuzz_recv,
	.set_offload = fuzz_set_offload,
	.destroy = fuzz_destroy,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	verbose = getenv("KILN_FUZZ_LOG");
	log_set_level(verbose ? LOG_DEBUG : LOG_OFF);
	gm = fuzz_guest_ram(RAM_SIZE, &ram);
	/* rx_fd is never polled here: the operations call virtio_net_rx_ready() themselves. */
	fb.be = (struct net_backend){ .ops = &fuzz_ops, .rx_fd = -1, .offloads = true };
	if (virtio_net_init(&net, "virtio-net0", &fb.be, mac, MTU, gm, BASE, 5,
			    (struct irq_line){ 0 }, NULL)) {
		fprintf(stderr, "fuzz_virtio_net: cannot create the device\n");
		abort();
	}
	return 0;
}

static void wr(uint64_t off, uint32_t v) { fuzz_mmio_wr(&net.t, off, v); }
static uint32_t rd(uint64_t off) { return fuzz_mmio_rd(&net.t, off); }

/* A driver's initialisation from the control bytes (it may well fail: that is fine). */
static void setup(void)
{
	static const unsigned int bits[8] = {
		VIRTIO_NET_F_MRG_RXBUF,  VIRTIO_NET_F_CSUM,       VIRTIO_NET_F_GUEST_CSUM,
		VIRTIO_NET_F_HOST_TSO4,  VIRTIO_NET_F_HOST_TSO6,  VIRTIO_NET_F_GUEST_TSO4,
		VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN,
	};
	uint8_t f = ctl[CTL_FLAGS];
	uint64_t features = (f & 0x04) ? 0 : VIRTIO_BIT(VIRTIO_F_VERSION_1);

	if (f & 0x08)
		features |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (f & 0x10)
		features |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	for (unsigned int i = 0; i < 8; i++)
		if (ctl[CTL_NET] & (1u << i))
			features |= VIRTIO_BIT(bits[i]);
	fuzz_driver_features(&net.t, features);
	fuzz_queue_setup(&net.t, VIRTIO_NET_RXQ, rd16(ctl), rd16(ctl + 2), rd16(ctl + 4),
			 rd16(ctl + 6), (f & 0x01) ? RING_HIGH : 0);
	fuzz_queue_setup(&net.t, VIRTIO_NET_TXQ, rd16(ctl + 8), rd16(ctl + 10), rd16(ctl + 12),
			 rd16(ctl + 14), (f & 0x02) ? RING_HIGH : 0);
	fuzz_driver_ok(&net.t);
}

/* The I/O thread's handler for queue q's kick eventfd (it reads the eventfd itself). */
static void kick(unsigned int q)
{
	virtio_mmio_kick(&net.t.kicks[q], 0);
}

static void frames_arrive(unsigned int count, bool fire)
{
	for (unsigned int i = 0; i < count && fb.nr_pending < PENDING_MAX; i++) {
		fb.pending[(fb.pending_head + fb.nr_pending) % PENDING_MAX] =
			frame_entry(fb.next_frame++);
		fb.nr_pending++;
	}
	if (fire)
		virtio_net_rx_ready(&net, 0);
}

static void publish(unsigned int q, unsigned int count)
{
	const struct virtq *vq = &net.t.queues[q];
	uint16_t idx;

	/* The driver publishes entries it (maybe) wrote into the ring. */
	if (!vq->avail)
		return;
	memcpy(&idx, vq->avail + 2, 2);
	idx = (uint16_t)(idx + count);
	memcpy(vq->avail + 2, &idx, 2);
}

/* What must hold after every operation. */
static void invariants(const struct virtio_net_counters *start)
{
	check(!(net.t.st.status & ~0xffu), "status is 8 bits");
	for (unsigned int i = 0; i < 2; i++) {
		const struct virtq *q = &net.t.queues[i];
		uint16_t ahead = (uint16_t)(q->st->next_avail - q->st->next_used);

		check(ahead <= q->st->size, "the used index never runs ahead of the available one");
		/* Every chain taken is pushed (TX) or filled and flushed, or given back (RX). */
		if (q->desc && !q->broken)
			check(ahead == 0, "every popped chain was pushed or given back");
		if (q->desc) {
			check(q->st->size && q->st->size <= VIRTQ_MAX_SIZE &&
				      !(q->st->size & (q->st->size - 1)),
			      "an active queue has a valid size");
			check(q->st->desc < RAM_SIZE && q->st->avail < RAM_SIZE &&
				      q->st->used < RAM_SIZE,
			      "an active queue's rings are in RAM");
			check(q->desc == ram + q->st->desc && q->avail == ram + q->st->avail &&
				      q->used == ram + q->st->used,
			      "an active queue's rings are where the driver put them");
		}
	}
	check(net.frame_len == 0 ||
		      (net.frame_len >= NET_HDR_LEN + VIRTIO_NET_ETH_HLEN && net.frame_len <= FRAME_BUF),
	      "a waiting frame is 0 or within bounds");
	check(!net.rx_stalled || net.frame_len, "a stalled receive has a frame waiting");
	/* Frames are not made up: each one delivered or dropped came from the backend once. */
	check(net.n.rx_packets - start->rx_packets + net.n.rx_fails - start->rx_fails +
			      (net.frame_len ? 1 : 0) <=
		      fb.taken,
	      "received frames come from the backend");
	check(net.n.tx_packets - start->tx_packets == fb.sends_ok &&
		      net.n.tx_fails - start->tx_fails == fb.sends - fb.sends_ok,
	      "every frame sent is counted once");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_counters start;
	eventfd_t ev;

	memset(ctl, 0, sizeof(ctl));
	memcpy(ctl, data, size < CTL_SIZE ? size : CTL_SIZE);
	memset(ram, 0, RAM_SIZE);
	image = size > CTL_SIZE ? data + CTL_SIZE : data;
	image_len = size > CTL_SIZE ? size - CTL_SIZE : 0;
	if (image_len > RAM_SIZE)
		image_len = RAM_SIZE;
	memcpy(ram, image, image_len);
	memset(&fb.pending, 0, sizeof(fb.pending));
	fb.pending_head = fb.nr_pending = fb.next_frame = 0;
	fb.taken = fb.sends = fb.sends_ok = 0;
	fb.fail_odd_sends = ctl[CTL_FLAGS] & 0x20;
	/* Start clean: a reset (which also drops a waiting frame), no stale kicks. */
	wr(VIRTIO_MMIO_STATUS, 0);
	for (unsigned int q = 0; q < 2; q++)
		(void)eventfd_read(net.t.kick_fd[q], &ev);
	net.t.faults = 0;
	start = net.n;
	setup();
	for (unsigned int i = CTL_OPS; i < CTL_SIZE; i++) {
		uint8_t op = ctl[i];

		if (op < 0x40) {
			wr(VIRTIO_MMIO_QUEUE_NOTIFY, op & 3);
			kick(op & 1);
		} else if (op < 0x80) {
			publish((op >> 5) & 1, op & 0x1f);
		} else if (op < 0xc0) {
			uint32_t v = i + 1 < CTL_SIZE ? ctl[++i] : 0;
			uint64_t cfg = 0;

			wr((uint64_t)(op & 0x3f) * 4, v);
			(void)rd((uint64_t)(op & 0x3f) * 4);
			/* And a configuration-space read of 1, 2, 4 or 8 bytes the value picks. */
			virtio_mmio_read(&net.t, VIRTIO_MMIO_CONFIG + (v & 0xf), &cfg, 1u << ((v >> 4) & 3));
		} else if (op < 0xe0) {
			frames_arrive(op & 0xf, !(op & 0x10));
		} else if (op & 1) {
			struct virtio_net_state s;

			virtio_net_save(&net, &s);
			/* A healthy device's state must load back. (One a driver broke may not:
			 * load refuses unoffered driver features and ready queues whose rings
			 * are bad, both reachable before FEATURES_OK or with NEEDS_RESET.) */
			if (virtio_net_load(&net, &s))
				check(!(s.transport.status & VIRTIO_STATUS_FEATURES_OK) ||
					      (s.transport.status & VIRTIO_STATUS_NEEDS_RESET),
				      "a healthy device's saved state loads back");
		} else {
			setup();
		}
		invariants(&start);
	}
	if (verbose)
		fprintf(stderr, "fuzz_virtio_net: rx %llu packets, %llu fails, %llu stalls; tx %llu "
			"packets, %llu fails, %llu malformed; %llu guest errors\n",
			(unsigned long long)(net.n.rx_packets - start.rx_packets),
			(unsigned long long)(net.n.rx_fails - start.rx_fails),
			(unsigned long long)(net.n.no_rx_avail_buffer - start.no_rx_avail_buffer),
			(unsigned long long)(net.n.tx_packets - start.tx_packets),
			(unsigned long long)(net.n.tx_fails - start.tx_fails),
			(unsigned long long)(net.n.tx_malformed - start.tx_malformed),
			(unsigned long long)net.t.faults);
	/* Whatever happened, a reset returns the device to a clean state. */
	wr(VIRTIO_MMIO_STATUS, 0);
	check(rd(VIRTIO_MMIO_STATUS) == 0 && net.t.queues[0].desc == NULL &&
		      net.t.queues[1].desc == NULL && net.frame_len == 0 && !net.rx_stalled,
	      "reset");
	return 0;
}
