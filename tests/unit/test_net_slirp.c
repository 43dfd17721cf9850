/* test_net_slirp.c: the user-mode network backend (src/devices/net/slirp.c) driven directly, the
 * test playing the guest: hand-built DHCP, ARP and bad frames in, slirp's answers out of recv(). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/backend.h"

#define NET_10_0_2 0x0a000200u
#define GUEST_IP (NET_10_0_2 + 15)
#define HOST_IP (NET_10_0_2 + 2)
#define GUEST_PORT 22

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t zero_hdr[NET_HDR_LEN];

static struct net_backend *be;
static uint8_t rx[NET_HDR_LEN + NET_FRAME_MAX];

static void teardown(void)
{
	if (be)
		be->ops->destroy(be);
	be = NULL;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* A TCP listener's port on 127.0.0.1 (the socket stays open when keep is set; else closed, so
 * the port is very likely free). */
static uint16_t local_port(int *keep)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	if (keep)
		*keep = fd;
	else
		close(fd);
	return ntohs(a.sin_port);
}

static void user_net(struct vmm_net *n, uint16_t fwd_port)
{
	*n = (struct vmm_net){ .id = "eth0", .backend = NET_BACKEND_USER, .user_net = NET_10_0_2,
			       .user_prefix = 24 };
	if (fwd_port) {
		n->hostfwd[0] = (struct vmm_hostfwd){ .host_addr = INADDR_LOOPBACK,
						      .host_port = fwd_port,
						      .guest_port = GUEST_PORT };
		n->nr_hostfwd = 1;
	}
}

static void open_user(uint16_t fwd_port)
{
	struct vmm_net n;
	char err[CONFIG_ERR_MAX] = "";

	user_net(&n, fwd_port);
	cr_assert_eq(net_slirp_open(&be, &n, guest_mac, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(be);
	cr_assert_not(be->offloads);
	cr_assert_geq(be->rx_fd, 0);
}

/* Sends `frame` with a virtio-net header whose first two bytes are flags and gso_type, the header
 * and the frame in separate iovecs as a driver's descriptors would be. */
static int send_hdr(const uint8_t *frame, size_t len, uint8_t flags, uint8_t gso_type)
{
	uint8_t hdr[NET_HDR_LEN] = { flags, gso_type };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)frame, len } };

	return be->ops->send(be, iov, 2);
}

static int send_frame(const uint8_t *frame, size_t len)
{
	return send_hdr(frame, len, 0, 0);
}

/* Waits up to 5 s for a frame `match` accepts, skipping others; returns its length without the
 * header (which must be zero), the frame at rx + NET_HDR_LEN. */
static size_t wait_frame(bool (*match)(const uint8_t *f, size_t len))
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = be->rx_fd, .events = POLLIN };
		ssize_t r;
		long ms;

		while ((r = be->ops->recv(be, rx, sizeof(rx))) > 0) {
			cr_assert_geq(r, NET_HDR_LEN + 14);
			cr_assert_arr_eq(rx, zero_hdr, NET_HDR_LEN);
			if (match(rx + NET_HDR_LEN, (size_t)r - NET_HDR_LEN))
				return (size_t)r - NET_HDR_LEN;
		}
		cr_assert_eq(r, -EAGAIN);
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		cr_assert_lt(ms, 5000, "no matching frame from slirp in 5 s");
		cr_assert_geq(poll(&p, 1, (int)(5000 - ms)), 0);
	}
}

/* Ethernet + IPv4 (no options, checksum filled in) + UDP without checksum; returns the UDP
 * payload's offset. */
static size_t udp4(uint8_t *f, const uint8_t dst_mac[6], uint32_t src, uint32_t dst,
		   uint16_t sport, uint16_t dport, size_t payload)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint32_t sum = 0;

	memset(f, 0, 14 + 20 + 8);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + payload));
	ip[8] = 64;
	ip[9] = 17;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	for (int i = 0; i < 20; i += 2)
		sum += get16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + payload));
	return 14 + 20 + 8;
}

/* BOOTP (RFC 951) with the DHCP magic cookie (RFC 2131): 236 fixed bytes, then options; libslirp
 * wants the whole 312-byte option area of its struct bootp_t. */
#define BOOTP_LEN (236 + 312)
#define DHCP_XID 0x4b494c4eu

static size_t dhcp_discover(uint8_t *f)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t off = udp4(f, bcast, 0, 0xffffffffu, 68, 67, BOOTP_LEN);
	uint8_t *b = f + off;

	memset(b, 0, BOOTP_LEN);
	b[0] = 1; /* BOOTREQUEST */
	b[1] = 1; /* Ethernet */
	b[2] = 6;
	put32(b + 4, DHCP_XID);
	put16(b + 10, 0x8000); /* broadcast */
	memcpy(b + 28, guest_mac, 6);
	put32(b + 236, 0x63825363);
	b[240] = 53; /* DHCP message type */
	b[241] = 1;
	b[242] = 1; /* DISCOVER */
	b[243] = 255;
	return off + BOOTP_LEN;
}

static bool is_dhcp_offer(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *udp = ip + 20, *b = udp + 8;
	size_t ihl;

	if (len < 14 + 20 + 8 + 244 || get16(f + 12) != 0x0800 || ip[9] != 17)
		return false;
	ihl = (ip[0] & 0xf) * 4u;
	udp = ip + ihl;
	b = udp + 8;
	if (get16(udp) != 67 || get16(udp + 2) != 68 || b[0] != 2 || get32(b + 4) != DHCP_XID)
		return false;
	cr_assert_eq(get32(ip + 12), HOST_IP, "OFFER from %08x", get32(ip + 12));
	cr_assert_eq(get32(b + 16), GUEST_IP, "OFFER of %08x", get32(b + 16)); /* yiaddr */
	cr_assert_eq(get32(b + 236), 0x63825363);
	cr_assert_arr_eq(b + 28, guest_mac, 6); /* chaddr */
	/* To the client's MAC, or broadcast as the DISCOVER's broadcast flag asked. */
	cr_assert(!memcmp(f, guest_mac, 6) || !memcmp(f, "\xff\xff\xff\xff\xff\xff", 6));
	/* Option 53 comes first in libslirp's replies: DHCPOFFER = 2. */
	cr_assert_eq(b[240], 53);
	cr_assert_eq(b[242], 2);
	return true;
}

static size_t arp_request(uint8_t *f, uint32_t target)
{
	uint8_t *a = f + 14;

	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1); /* request */
	memcpy(a + 8, guest_mac, 6);
	put32(a + 14, GUEST_IP);
	memset(a + 18, 0, 6);
	put32(a + 24, target);
	memset(a + 28, 0, 18); /* Ethernet's 60-byte minimum */
	return 60;
}

static bool is_arp_reply(const uint8_t *f, size_t len)
{
	/* libslirp's MAC for its own addresses: 52:55 then the IPv4 address. */
	static const uint8_t slirp_mac[6] = { 0x52, 0x55, 10, 0, 2, 2 };
	const uint8_t *a = f + 14;

	if (len < 14 + 28 || get16(f + 12) != 0x0806 || get16(a + 6) != 2)
		return false;
	cr_assert_arr_eq(f, guest_mac, 6);
	cr_assert_arr_eq(f + 6, slirp_mac, 6);
	cr_assert_arr_eq(a + 8, slirp_mac, 6);
	cr_assert_eq(get32(a + 14), HOST_IP);
	cr_assert_arr_eq(a + 18, guest_mac, 6);
	cr_assert_eq(get32(a + 24), GUEST_IP);
	return true;
}

static bool is_syn_to_guest(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *tcp;

	if (len < 14 + 20 + 20 || get16(f + 12) != 0x0800 || ip[9] != 6)
		return false;
	tcp = ip + (ip[0] & 0xf) * 4u;
	if (get32(ip + 16) != GUEST_IP || get16(tcp + 2) != GUEST_PORT)
		return false;
	cr_assert_eq(tcp[13] & 0x12, 0x02, "TCP flags 0x%x, want SYN alone", tcp[13]);
	cr_assert_eq(get32(ip + 12), HOST_IP, "connection from %08x", get32(ip + 12));
	return true;
}

TestSuite(net_slirp, .fini = teardown, .timeout = 20);

Test(net_slirp, dhcp_discover_gets_offer)
{
	uint8_t f[1024];
	size_t len;

	open_user(local_port(NULL));
	len = dhcp_discover(f);
	cr_assert_eq(send_frame(f, len), 0);
	wait_frame(is_dhcp_offer);
}

Test(net_slirp, arp_for_host_gets_reply)
{
	uint8_t f[64];

	open_user(0);
	cr_assert_eq(send_frame(f, arp_request(f, HOST_IP)), 0);
	wait_frame(is_arp_reply);
	/* Queue drained: the eventfd's counter is back to 0, so the next frame is a new edge. */
	cr_assert_eq(be->ops->recv(be, rx, sizeof(rx)), -EAGAIN);
	cr_assert_eq(poll(&(struct pollfd){ .fd = be->rx_fd, .events = POLLIN }, 1, 0), 0);
}

Test(net_slirp, offloads_and_bad_lengths_refused)
{
	uint8_t f[64], *big = calloc(1, NET_FRAME_MAX + 1);
	size_t len;

	open_user(0);
	len = arp_request(f, HOST_IP);
	cr_assert_eq(send_hdr(f, len, 0x01 /* NEEDS_CSUM */, 0), -EINVAL);
	cr_assert_eq(send_hdr(f, len, 0, 1 /* GSO_TCPV4 */), -EINVAL);
	cr_assert_eq(send_frame(f, 13), -EINVAL);
	/* A header alone, and a header cut short. */
	cr_assert_eq(be->ops->send(be, &(struct iovec){ (void *)zero_hdr, NET_HDR_LEN }, 1),
		     -EINVAL);
	cr_assert_eq(be->ops->send(be, &(struct iovec){ (void *)zero_hdr, 5 }, 1), -EINVAL);
	cr_assert_not_null(big);
	memcpy(big, f, len);
	cr_assert_eq(send_frame(big, NET_FRAME_MAX + 1), -EINVAL);
	free(big);
	/* None of them reached slirp: no reply is waiting. */
	usleep(100 * 1000);
	cr_assert_eq(be->ops->recv(be, rx, sizeof(rx)), -EAGAIN);
	/* The largest frame is accepted (slirp drops it: not ARP, not IP). */
	big = calloc(1, NET_FRAME_MAX);
	cr_assert_not_null(big);
	memcpy(big, f, 12);
	cr_assert_eq(send_frame(big, NET_FRAME_MAX), 0);
	free(big);
}

Test(net_slirp, short_arp_is_harmless)
{
	uint8_t f[64];

	/* An ARP frame cut right after the Ethernet header: libslirp reads the ARP header anyway,
	 * and must find zeros inside kiln's buffer (ASan run). */
	open_user(0);
	arp_request(f, HOST_IP);
	cr_assert_eq(send_frame(f, 14), 0);
	cr_assert_eq(send_frame(f, 20), 0);
}

Test(net_slirp, hostfwd_port_taken_fails_open)
{
	struct vmm_net n;
	char err[CONFIG_ERR_MAX] = "", want[32];
	int fd;
	uint16_t port = local_port(&fd);

	user_net(&n, port);
	cr_assert_eq(net_slirp_open(&be, &n, guest_mac, err, sizeof(err)), -EADDRINUSE, "%s", err);
	be = NULL;
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	cr_assert(strstr(err, "--net user") && strstr(err, want), "message: %s", err);
	cr_assert(strstr(err, "Address already in use"), "message: %s", err);
	close(fd);
}

Test(net_slirp, bad_network_refused)
{
	struct vmm_net n;
	char err[CONFIG_ERR_MAX] = "";

	user_net(&n, 0);
	n.user_prefix = 28; /* .15 would be the broadcast address */
	cr_assert_eq(net_slirp_open(&be, &n, guest_mac, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--net user: net=10.0.2.0/28"), "message: %s", err);
	user_net(&n, 0);
	n.user_net = NET_10_0_2 + 1; /* host bits set */
	cr_assert_eq(net_slirp_open(&be, &n, guest_mac, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "net=10.0.2.1/24"), "message: %s", err);
	be = NULL;
}

Test(net_slirp, hostfwd_connect_sends_syn_to_guest)
{
	uint16_t port = local_port(NULL);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t f[64];
	int fd;

	open_user(port);
	/* Slirp learns the guest's MAC from its ARP request, as from a real guest's. */
	cr_assert_eq(send_frame(f, arp_request(f, HOST_IP)), 0);
	wait_frame(is_arp_reply);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(fd, 0);
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS,
		  "connect: %s", strerror(errno));
	wait_frame(is_syn_to_guest);
	close(fd);
}

Test(net_slirp, queue_bounded_then_drained)
{
	uint8_t f[64];
	size_t len;
	unsigned int got = 0;

	open_user(0);
	len = arp_request(f, HOST_IP);
	/* Each request's reply is queued inside send(); nobody takes them. */
	for (int i = 0; i < 300; i++)
		cr_assert_eq(send_frame(f, len), 0);
	while (be->ops->recv(be, rx, sizeof(rx)) > 0)
		got++;
	cr_assert_eq(got, 256, "%u frames queued", got);
	cr_assert_eq(poll(&(struct pollfd){ .fd = be->rx_fd, .events = POLLIN }, 1, 0), 0);
	/* Room again. */
	cr_assert_eq(send_frame(f, len), 0);
	wait_frame(is_arp_reply);
}

Test(net_slirp, destroy_with_frames_and_connections_pending)
{
	uint16_t port = local_port(NULL);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t f[1024];
	int fd;

	open_user(port);
	cr_assert_eq(send_frame(f, dhcp_discover(f)), 0);
	cr_assert_eq(send_frame(f, arp_request(f, HOST_IP)), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	wait_frame(is_syn_to_guest);
	/* Queued frames, a half-open connection and a listener left for destroy (ASan: no leak). */
	cr_assert_eq(send_frame(f, arp_request(f, HOST_IP)), 0);
	be->ops->destroy(be);
	be = NULL;
	close(fd);
}
