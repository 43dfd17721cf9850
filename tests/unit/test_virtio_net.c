/* test_virtio_net.c: virtio-net (src/devices/virtio/net.c) driven through its registers as a guest
 * driver would, over fake RAM, on a backend that is one end of a SOCK_SEQPACKET pair (the test
 * holds the other end, so every frame is seen whole); and the TAP backend (devices/net/tap.c) in
 * a network namespace of the test's own. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/net/backend.h"
#include "devices/virtio/net.h"
#include "devices/virtio/virtio.h"
#include "virtio_driver.h"

#define BASE 0xd0000000ull
#define GSI 9
#define RXQ VIRTIO_NET_RXQ
#define TXQ VIRTIO_NET_TXQ
#define RX_DESC 0x1000
#define RX_AVAIL 0x3000
#define RX_USED 0x4000
#define TX_DESC 0x6000
#define TX_AVAIL 0x8000
#define TX_USED 0x9000
#define RX_BUF 0x20000 /* receive buffers, 0x10000 apart */
#define TX_BUF 0x10000
#define MTU 1500

/* ---- a backend the test can see both ends of ----------------------------------------------- */

struct pair_backend {
	struct net_backend be;
	unsigned int offloads_set;
	int fail_send; /* -errno the next send returns */
};

static int peer = -1; /* the test's end */
static struct pair_backend *pb;

static int pair_send(struct net_backend *be, const struct iovec *iov, unsigned int nr)
{
	struct pair_backend *p = (struct pair_backend *)be;

	if (p->fail_send) {
		int e = p->fail_send;

		p->fail_send = 0;
		return e;
	}
	return writev(be->rx_fd, iov, (int)nr) < 0 ? -errno : 0;
}

static ssize_t pair_recv(struct net_backend *be, void *buf, size_t len)
{
	ssize_t n = read(be->rx_fd, buf, len);

	return n < 0 ? -errno : n;
}

static int pair_set_offload(struct net_backend *be, unsigned int offloads)
{
	((struct pair_backend *)be)->offloads_set = offloads;
	return 0;
}

static void pair_destroy(struct net_backend *be)
{
	close(be->rx_fd);
	free(be);
}

static const struct net_backend_ops pair_ops = {
	.send = pair_send,
	.recv = pair_recv,
	.set_offload = pair_set_offload,
	.destroy = pair_destroy,
};

static struct fake_ram ram;
static struct drv_queue rxq, txq;
static struct irq_rec irq;
static struct virtio_net net;
static struct virtio_mmio *t;
static const uint8_t mac[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };

static void setup(void)
{
	int sv[2];

	fake_ram_create(&ram);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	/* Room for a 64 KiB frame in one message. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	pb = calloc(1, sizeof(*pb));
	cr_assert_not_null(pb);
	pb->be = (struct net_backend){ .ops = &pair_ops, .rx_fd = sv[0], .offloads = true };
	peer = sv[1];
	cr_assert_eq(virtio_net_init(&net, "virtio-net0", &pb->be, mac, MTU, ram.gm, BASE, GSI,
				     irq_rec_line(&irq, GSI), NULL),
		     0);
	t = &net.t;
	drv_queue_init_at(&rxq, &ram, 64, RX_DESC, RX_AVAIL, RX_USED);
	drv_queue_init_at(&txq, &ram, 64, TX_DESC, TX_AVAIL, TX_USED);
}

static void teardown(void)
{
	virtio_net_destroy(&net);
	close(peer);
	fake_ram_destroy(&ram);
}

TestSuite(net, .init = setup, .fini = teardown);

static void start(uint64_t features)
{
	struct drv_queue qs[2] = { rxq, txq };

	drv_start(t, STD_FEATURES | features, qs, 2);
	rxq = qs[0];
	txq = qs[1];
}

/* A frame with a zero header: destination, source, EtherType 0x88b5 (local experimental), then
 * `len` - 14 bytes of a pattern seeded by `seed`. Returns the total with the header. */
static size_t make_frame(uint8_t *out, size_t len, uint8_t seed)
{
	memset(out, 0, NET_HDR_LEN);
	memcpy(out + NET_HDR_LEN, "\xff\xff\xff\xff\xff\xff", 6);
	memcpy(out + NET_HDR_LEN + 6, mac, 6);
	out[NET_HDR_LEN + 12] = 0x88;
	out[NET_HDR_LEN + 13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		out[NET_HDR_LEN + i] = (uint8_t)(seed + i * 7);
	return NET_HDR_LEN + len;
}

static ssize_t peer_read(uint8_t *buf, size_t len)
{
	return read(peer, buf, len);
}

/* ---- configuration and features ------------------------------------------------------------ */

Test(net, identity_config_and_features)
{
	uint8_t got[6];

	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	for (unsigned int i = 0; i < 6; i++)
		got[i] = (uint8_t)mmio_rd(t, VIRTIO_MMIO_CONFIG + i);
	cr_assert_eq(memcmp(got, mac, 6), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_STATUS) & 0xffff,
		     VIRTIO_NET_S_LINK_UP);
	/* max_virtqueue_pairs and mtu, in one 4-byte read. */
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MAX_PAIRS), 1u | (MTU << 16));
	mmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_FEATURES) & 0x1f9bb,
		     (uint32_t)(VIRTIO_F(VIRTIO_NET_F_CSUM) | VIRTIO_F(VIRTIO_NET_F_GUEST_CSUM) |
				VIRTIO_F(VIRTIO_NET_F_MTU) | VIRTIO_F(VIRTIO_NET_F_MAC) |
				VIRTIO_F(VIRTIO_NET_F_GUEST_TSO4) |
				VIRTIO_F(VIRTIO_NET_F_GUEST_TSO6) |
				VIRTIO_F(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_F(VIRTIO_NET_F_HOST_TSO6) |
				VIRTIO_F(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_F(VIRTIO_NET_F_STATUS)));
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "two queues only");
}

Test(net, offloads_follow_negotiation_and_reset)
{
	start(VIRTIO_F(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_F(VIRTIO_NET_F_GUEST_TSO4));
	cr_assert_eq(pb->offloads_set, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4);
	mmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(pb->offloads_set, 0);
}

/* ---- transmit ------------------------------------------------------------------------------ */

static uint16_t post_tx(const uint8_t *frame, size_t len, uint64_t at)
{
	memcpy(ram_at(&ram, at, len), frame, len);
	/* Header and frame in two buffers, as Linux often sends them. */
	struct seg s[2] = { { at, NET_HDR_LEN, false },
			    { at + NET_HDR_LEN, (uint32_t)(len - NET_HDR_LEN), false } };
	return drv_post(&txq, s, 2);
}

Test(net, tx_frames_reach_the_backend_whole)
{
	uint8_t f[2048], got[2048];
	size_t len = make_frame(f, 1514, 3);
	struct virtio_net_counters c;
	uint64_t faults;

	start(0);
	post_tx(f, len, TX_BUF);
	post_tx(f, make_frame(f, 60, 9), TX_BUF + 0x1000);
	drv_notify(t, TXQ);
	cr_assert_eq(drv_used_idx(&txq), 2);
	cr_assert_eq(peer_read(got, sizeof(got)), (ssize_t)len);
	make_frame(f, 1514, 3);
	cr_assert_eq(memcmp(got, f, len), 0, "header and frame as the guest wrote them");
	cr_assert_eq(peer_read(got, sizeof(got)), NET_HDR_LEN + 60);
	virtio_net_get_counters(&net, &c, &faults);
	cr_assert_eq(c.tx_packets, 2);
	cr_assert_eq(c.tx_bytes, 1514 + 60);
	cr_assert_eq(c.tx_malformed + c.tx_fails + faults, 0);
	cr_assert_geq(irq.edges, 1);
}

/* Frames the device must refuse before the backend sees them, each counted as malformed. */
Test(net, tx_hostile_headers_are_refused)
{
	uint8_t f[4096], got[4096];
	struct virtio_net_counters c;
	uint64_t faults;
	unsigned int n = 0;
	size_t len;

	start(VIRTIO_F(VIRTIO_NET_F_CSUM) | VIRTIO_F(VIRTIO_NET_F_HOST_TSO4));
	/* 1: above the MTU without segmentation. */
	post_tx(f, make_frame(f, MTU + 14 + 4 + 1, 1), TX_BUF + 0x2000 * n++);
	/* 2: a checksum request beyond the frame. */
	len = make_frame(f, 100, 1);
	f[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	f[VIRTIO_NET_HDR_CSUM_START] = 90;
	f[VIRTIO_NET_HDR_CSUM_OFFSET] = 16;
	post_tx(f, len, TX_BUF + 0x2000 * n++);
	/* 3: TSO6, not negotiated. */
	len = make_frame(f, 100, 1);
	f[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	f[VIRTIO_NET_HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_TCPV6;
	f[VIRTIO_NET_HDR_GSO_SIZE] = 0x10;
	post_tx(f, len, TX_BUF + 0x2000 * n++);
	/* 4: UFO and ECN, never offered. */
	f[VIRTIO_NET_HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_UDP;
	post_tx(f, len, TX_BUF + 0x2000 * n++);
	f[VIRTIO_NET_HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	post_tx(f, len, TX_BUF + 0x2000 * n++);
	/* 6: TSO4 without a checksum request, and with gso_size 0. */
	f[VIRTIO_NET_HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_TCPV4;
	f[VIRTIO_NET_HDR_FLAGS] = 0;
	post_tx(f, len, TX_BUF + 0x2000 * n++);
	f[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	f[VIRTIO_NET_HDR_GSO_SIZE] = 0;
	post_tx(f, len, TX_BUF + 0x2000 * n++);
	/* 8: unknown flag bits; 9: shorter than a header and an Ethernet header. */
	len = make_frame(f, 100, 1);
	f[VIRTIO_NET_HDR_FLAGS] = 0x80;
	post_tx(f, len, TX_BUF + 0x2000 * n++);
	post_tx(f, NET_HDR_LEN + 13, TX_BUF + 0x2000 * n++);
	/* 10: a writable buffer in a TX chain. */
	make_frame(f, 100, 1);
	memcpy(ram_at(&ram, TX_BUF + 0x2000 * n, 112), f, 112);
	drv_post(&txq, (struct seg[]){ { TX_BUF + 0x2000 * n, 112, false },
				       { TX_BUF + 0x2000 * n + 0x1000, 64, true } }, 2);
	n++;
	drv_notify(t, TXQ);
	cr_assert_eq(drv_used_idx(&txq), n, "every chain is returned");
	cr_assert_lt(peer_read(got, sizeof(got)), 0, "nothing reached the backend");
	virtio_net_get_counters(&net, &c, &faults);
	cr_assert_eq(c.tx_malformed, n);
	cr_assert_eq(c.tx_packets, 0);
	cr_assert_eq(faults, n, "each is a guest error");
}

Test(net, tx_large_segment_passes_whole_when_negotiated)
{
	static uint8_t f[NET_HDR_LEN + 65000], got[NET_HDR_LEN + 65100];
	size_t len = make_frame(f, 65000, 5);

	start(VIRTIO_F(VIRTIO_NET_F_CSUM) | VIRTIO_F(VIRTIO_NET_F_HOST_TSO4));
	f[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	f[VIRTIO_NET_HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_TCPV4;
	f[VIRTIO_NET_HDR_HDR_LEN] = 54;
	f[VIRTIO_NET_HDR_GSO_SIZE] = 0xb4; /* 1460 */
	f[VIRTIO_NET_HDR_GSO_SIZE + 1] = 0x05;
	f[VIRTIO_NET_HDR_CSUM_START] = 34;
	f[VIRTIO_NET_HDR_CSUM_OFFSET] = 16;
	post_tx(f, len, 0x40000);
	drv_notify(t, TXQ);
	cr_assert_eq(peer_read(got, sizeof(got)), (ssize_t)len, "one 64 KiB segment, not split");
	cr_assert_eq(memcmp(got, f, len), 0);
}

Test(net, tx_backend_failure_is_counted_and_the_chain_returned)
{
	uint8_t f[256];
	struct virtio_net_counters c;
	uint64_t faults;

	start(0);
	pb->fail_send = -ENOBUFS;
	post_tx(f, make_frame(f, 100, 2), TX_BUF);
	drv_notify(t, TXQ);
	cr_assert_eq(drv_used_idx(&txq), 1);
	virtio_net_get_counters(&net, &c, &faults);
	cr_assert_eq(c.tx_fails, 1);
	cr_assert_eq(faults, 0, "the host's failure is not the guest's");
}

/* ---- receive ------------------------------------------------------------------------------- */

static void post_rx(unsigned int n, uint32_t size)
{
	for (unsigned int i = 0; i < n; i++) {
		struct seg s = { RX_BUF + (uint64_t)(rxq.avail_idx % 8) * 0x10000, size, true };

		drv_post(&rxq, &s, 1);
	}
}

static void peer_send(const uint8_t *f, size_t len)
{
	cr_assert_eq(write(peer, f, len), (ssize_t)len);
}

Test(net, rx_without_mergeable_buffers)
{
	uint8_t f[2048];
	size_t len = make_frame(f, 1000, 4);
	uint32_t id, got;
	const uint8_t *b;

	start(0);
	post_rx(2, 2048);
	drv_notify(t, RXQ);
	peer_send(f, len);
	virtio_net_rx_ready(&net, 0);
	cr_assert_eq(drv_used_idx(&rxq), 1);
	drv_used_elem(&rxq, 0, &id, &got);
	cr_assert_eq(got, len);
	b = ram_at(&ram, RX_BUF, len);
	cr_assert_eq(b[VIRTIO_NET_HDR_NUM_BUFFERS], 1, "num_buffers is 1 without MRG_RXBUF");
	cr_assert_eq(memcmp(b + NET_HDR_LEN, f + NET_HDR_LEN, len - NET_HDR_LEN), 0);
}

Test(net, rx_merges_buffers_and_publishes_them_together)
{
	static uint8_t f[NET_HDR_LEN + 9000];
	size_t len = make_frame(f, 9000, 6);
	uint8_t whole[NET_HDR_LEN + 9000];
	size_t off = 0;

	start(VIRTIO_F(VIRTIO_NET_F_MRG_RXBUF));
	post_rx(8, 2048);
	drv_notify(t, RXQ);
	peer_send(f, len);
	virtio_net_rx_ready(&net, 0);
	cr_assert_eq(drv_used_idx(&rxq), 5, "9012 bytes in 2048-byte buffers: five of them");
	for (uint16_t i = 0; i < 5; i++) {
		uint32_t id, l;

		drv_used_elem(&rxq, i, &id, &l);
		memcpy(whole + off, ram_at(&ram, RX_BUF + (uint64_t)i * 0x10000, l), l);
		off += l;
	}
	cr_assert_eq(off, len);
	cr_assert_eq(whole[VIRTIO_NET_HDR_NUM_BUFFERS], 5);
	cr_assert_eq(memcmp(whole + NET_HDR_LEN, f + NET_HDR_LEN, len - NET_HDR_LEN), 0);
}

Test(net, rx_waits_for_buffers_then_resumes_on_the_kick)
{
	uint8_t f[2048];
	struct virtio_net_counters c;
	uint64_t faults;

	start(VIRTIO_F(VIRTIO_NET_F_MRG_RXBUF));
	for (uint8_t i = 0; i < 3; i++)
		peer_send(f, make_frame(f, 1500, i));
	post_rx(1, 1024); /* half a frame */
	drv_notify(t, RXQ);
	cr_assert_eq(drv_used_idx(&rxq), 0, "nothing is published in part");
	virtio_net_get_counters(&net, &c, &faults);
	cr_assert_eq(c.no_rx_avail_buffer, 1);
	cr_assert_eq(c.rx_fails, 0, "nothing dropped inside kiln");
	/* The readiness edge alone does not spin while the guest has no room. */
	virtio_net_rx_ready(&net, 0);
	cr_assert_eq(drv_used_idx(&rxq), 0);
	post_rx(5, 1024);
	drv_notify(t, RXQ);
	cr_assert_eq(drv_used_idx(&rxq), 6, "three frames of two buffers each");
	virtio_net_get_counters(&net, &c, &faults);
	cr_assert_eq(c.rx_packets, 3);
	cr_assert_eq(c.rx_bytes, 3 * 1500);
}

Test(net, rx_too_small_buffer_without_merging_drops_the_frame)
{
	uint8_t f[2048];
	struct virtio_net_counters c;
	uint64_t faults;
	uint32_t id, l;

	start(0);
	post_rx(1, 512);
	drv_notify(t, RXQ);
	peer_send(f, make_frame(f, 1000, 1));
	virtio_net_rx_ready(&net, 0);
	cr_assert_eq(drv_used_idx(&rxq), 1, "the buffer comes back");
	drv_used_elem(&rxq, 0, &id, &l);
	cr_assert_eq(l, 0, "empty");
	virtio_net_get_counters(&net, &c, &faults);
	cr_assert_eq(c.rx_fails, 1);
	cr_assert_eq(faults, 1);
}

Test(net, rx_before_driver_ok_leaves_frames_in_the_backend)
{
	uint8_t f[256];

	peer_send(f, make_frame(f, 100, 1));
	virtio_net_rx_ready(&net, 0);
	start(0);
	post_rx(1, 2048);
	drv_notify(t, RXQ);
	cr_assert_eq(drv_used_idx(&rxq), 1, "the frame waited for the driver");
}

/* tx_rate_limiter and rx_rate_limiter: a frame over the limit waits (on the ring, or held in
 * kiln), nothing is dropped, and it goes once the limiter lets it (here: a PATCH lifts it). */
Test(net, rate_limiters_hold_frames_until_allowed)
{
	struct rate_limiter_cfg two = { .ops = { .size = 2, .refill_ms = 3600 * 1000 } };
	struct rate_limiter_cfg one = { .ops = { .size = 1, .refill_ms = 3600 * 1000 } };
	struct rate_limiter_cfg none = { { 0 }, { 0 } };
	uint8_t f[2048], got[2048];
	struct virtio_net_counters c;
	uint64_t faults;

	virtio_net_set_rate_limiters(&net, &one, true, true, &two, true, true);
	start(0);
	for (int i = 0; i < 4; i++)
		post_tx(f, make_frame(f, 100, (uint8_t)i), TX_BUF + (uint64_t)i * 0x1000);
	drv_notify(t, TXQ);
	cr_assert_eq(drv_used_idx(&txq), 2, "two frames pass the transmit limit, two wait");
	cr_assert(net.tx_rl.blocked);
	virtio_net_set_rate_limiters(&net, NULL, false, false, &none, true, true);
	rate_limiter_timer_event(&net.tx_rl);
	drv_notify(t, TXQ);
	cr_assert_eq(drv_used_idx(&txq), 4, "the waiting frames go once the limit is lifted");
	for (int i = 0; i < 4; i++)
		cr_assert_eq(peer_read(got, sizeof(got)), NET_HDR_LEN + 100, "frame %d", i);

	post_rx(4, 2048);
	drv_notify(t, RXQ);
	peer_send(f, make_frame(f, 200, 1));
	peer_send(f, make_frame(f, 300, 2));
	virtio_net_rx_ready(&net, 0);
	cr_assert_eq(drv_used_idx(&rxq), 1, "one frame passes the receive limit, one is held");
	virtio_net_set_rate_limiters(&net, &none, true, true, NULL, false, false);
	rate_limiter_timer_event(&net.rx_rl);
	virtio_net_rx_ready(&net, 0);
	cr_assert_eq(drv_used_idx(&rxq), 2);
	virtio_net_get_counters(&net, &c, &faults);
	cr_assert_eq(c.rx_packets, 2);
	cr_assert_eq(c.tx_packets, 4);
	cr_assert_eq(c.rx_fails + c.tx_fails + c.tx_malformed + faults, 0, "nothing dropped");
}

Test(net, save_and_load)
{
	struct virtio_net_state s;

	start(VIRTIO_F(VIRTIO_NET_F_MRG_RXBUF));
	virtio_net_save(&net, &s);
	cr_assert_eq(virtio_net_load(&net, &s), 0);
	/* The guest's MAC comes back with it (an interface configured without one picks it at
	 * random in each process): the configuration space shows the saved one. */
	s.mac[5] ^= 1;
	cr_assert_eq(virtio_net_load(&net, &s), 0);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_CONFIG + 4) >> 8 & 0xff, s.mac[5], "the saved MAC");
	s.mac[0] |= 1;
	cr_assert_eq(virtio_net_load(&net, &s), -EINVAL, "a multicast MAC is no device's");
	s.mac[0] &= ~1;
	s.mtu ^= 1;
	cr_assert_eq(virtio_net_load(&net, &s), -EINVAL, "another MTU: another interface");
}

/* ---- the TAP backend, in a network namespace of our own ------------------------------------ */

static void own_netns(void)
{
	if (unshare(CLONE_NEWNET))
		cr_skip_test("no network namespace for the TAP test: %s", strerror(errno));
	if (access("/dev/net/tun", R_OK | W_OK))
		cr_skip_test("no /dev/net/tun: %s", strerror(errno));
}

static void link_up(const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	cr_assert_geq(s, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0, "%s", strerror(errno));
	close(s);
}

Test(tap, frames_cross_with_the_vnet_header)
{
	struct net_backend *be;
	char err[256] = "";
	uint8_t f[2048], got[2048];
	int pkt;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct pollfd pfd;
	ssize_t n;

	own_netns();
	cr_assert_eq(net_tap_open(&be, "kilntap0", err, sizeof(err)), 0, "%s", err);
	cr_assert(be->offloads);
	link_up("kilntap0");
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	cr_assert_geq(pkt, 0);
	sll.sll_ifindex = (int)if_nametoindex("kilntap0");
	cr_assert_eq(bind(pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);

	/* Guest to host: what the backend sends leaves the TAP whole, header stripped. */
	make_frame(f, 300, 8);
	cr_assert_eq(be->ops->send(be, &(struct iovec){ f, NET_HDR_LEN + 300 }, 1), 0);
	pfd = (struct pollfd){ .fd = pkt, .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 2000), 1);
	n = recv(pkt, got, sizeof(got), 0);
	cr_assert_eq(n, 300);
	cr_assert_eq(memcmp(got, f + NET_HDR_LEN, 300), 0);

	/* Host to guest: a frame sent on the interface arrives with a header in front. */
	make_frame(f, 200, 9);
	cr_assert_eq(send(pkt, f + NET_HDR_LEN, 200, 0), 200);
	pfd = (struct pollfd){ .fd = be->rx_fd, .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 2000), 1);
	n = be->ops->recv(be, got, sizeof(got));
	cr_assert_eq(n, NET_HDR_LEN + 200);
	cr_assert_eq(memcmp(got + NET_HDR_LEN, f + NET_HDR_LEN, 200), 0);
	cr_assert_eq(be->ops->recv(be, got, sizeof(got)), -EAGAIN);
	cr_assert_eq(be->ops->set_offload(be, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4), 0);
	close(pkt);
	be->ops->destroy(be);
	cr_assert_eq(if_nametoindex("kilntap0"), 0, "the TAP kiln created goes away with it");
}

Test(tap, bad_names_are_refused)
{
	struct net_backend *be;
	char err[256] = "";

	own_netns();
	cr_assert_eq(net_tap_open(&be, "", err, sizeof(err)), -EINVAL);
	cr_assert_eq(net_tap_open(&be, "a-name-far-too-long", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "a-name-far-too-long"), "%s", err);
}
