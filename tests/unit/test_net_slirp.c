/* test_net_slirp.c: the user-mode network backend (src/devices/net/slirp.c) driven directly, the
 * test playing the guest: hand-built DHCP, ARP, DNS and bad frames in, slirp's answers out of
 * recv(). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* ---- DNS forwarding, in namespaces of the test's own ---------------------------------------- */

/* libslirp answers nothing itself at 10.0.2.3: it sends the query's payload from a host UDP socket
 * to the first nameserver of the host's /etc/resolv.conf and relays the answer to the guest, from
 * 10.0.2.3:53. The host's own resolver may be absent, slow or answer anything, so a child process
 * takes a mount and a network namespace of its own, bind-mounts a resolv.conf naming 127.0.0.1
 * over /etc/resolv.conf, serves DNS itself on 127.0.0.1:53 and plays the guest there. It reports
 * through a pipe and its exit status: Criterion's asserts belong to the test's own process. */

#define DNS_IP (NET_10_0_2 + 3)
#define DNS_NAME "kiln-dns-test.example"
#define DNS_ADDR 0xc000024du /* 192.0.2.77: TEST-NET-1 (RFC 5737) */
#define DNS_MSG_MAX 512 /* RFC 1035 4.2.1: a message over UDP */
#define DNS_WAIT_MS 2000 /* for each reply; the whole exchange takes milliseconds */
#define CHILD_SKIP 77

/* libslirp's MAC for 10.0.2.3: 52:55 then the address. */
static const uint8_t dns_mac[6] = { 0x52, 0x55, 10, 0, 2, 3 };

static int child_fd = -1; /* the child's end of the report pipe */

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Ends the child with a one-line report and `status` (0: passed, CHILD_SKIP, 1: failed). _exit,
 * so the copies of Criterion's state and of the stdio buffers the child inherited stay unused. */
static __attribute__((noreturn, format(printf, 2, 3))) void child_exit(int status,
								      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	ssize_t w;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w = write(child_fd, msg, strlen(msg));
	(void)w; /* nothing better to do: the parent then reports the status without a message */
	_exit(status);
}

#define child_check(cond, ...)                      \
	do {                                        \
		if (!(cond))                        \
			child_exit(1, __VA_ARGS__); \
	} while (0)

/* Private mount and network namespaces with lo up and an /etc/resolv.conf naming only
 * 127.0.0.1; none of it is seen outside the child. */
static void child_namespaces(void)
{
	static const char conf[] = "nameserver 127.0.0.1\n";
	char path[] = "/tmp/kiln-dns-test-XXXXXX";
	struct ifreq ifr = { 0 };
	int fd, r, e;

	if (unshare(CLONE_NEWNS | CLONE_NEWNET))
		child_exit(errno == EPERM ? CHILD_SKIP : 1,
			   "no private namespaces for the DNS test: unshare(CLONE_NEWNS | CLONE_NEWNET): %s",
			   strerror(errno));
	/* Else the bind mount below would propagate back to the host's namespace. */
	child_check(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "making / private: %s",
		    strerror(errno));

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	child_check(fd >= 0, "socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	child_check(!ioctl(fd, SIOCGIFFLAGS, &ifr), "SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	child_check(!ioctl(fd, SIOCSIFFLAGS, &ifr), "bringing lo up: %s", strerror(errno));
	close(fd);

	if (access("/etc/resolv.conf", F_OK))
		child_exit(CHILD_SKIP, "no /etc/resolv.conf to mount over: %s", strerror(errno));
	fd = mkstemp(path);
	child_check(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
	r = write(fd, conf, sizeof(conf) - 1) == (ssize_t)sizeof(conf) - 1 ? 0 : -1;
	e = errno;
	close(fd);
	if (!r) {
		r = mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL);
		e = errno;
	}
	/* The mount keeps the file alive; the host's /tmp keeps no trace. */
	unlink(path);
	child_check(!r, "writing %s and bind-mounting it over /etc/resolv.conf: %s", path,
		    strerror(e));
}

/* The name at m[off] (labels only, no compression pointers) as dotted text; returns the offset
 * after it, or 0 when it is malformed or longer than out. */
static size_t dns_name(const uint8_t *m, size_t len, size_t off, char *out, size_t out_size)
{
	size_t o = 0;

	out[0] = '\0';
	for (int labels = 0; labels < 128; labels++) {
		uint8_t l;

		if (off >= len)
			return 0;
		l = m[off++];
		if (!l)
			return off;
		if (l > 63 || l > len - off || o + l + 2 > out_size)
			return 0;
		if (o)
			out[o++] = '.';
		memcpy(out + o, m + off, l);
		o += l;
		out[o] = '\0';
		off += l;
	}
	return 0;
}

/* A query (RFC 1035 4.1) for `name`'s A record, recursion desired; returns its length. */
static size_t dns_query(uint8_t *m, uint16_t id, const char *name)
{
	size_t off = 12;

	memset(m, 0, 12);
	put16(m, id);
	m[2] = 0x01; /* RD */
	put16(m + 4, 1); /* QDCOUNT */
	for (const char *p = name; *p;) {
		size_t l = strcspn(p, ".");

		m[off++] = (uint8_t)l;
		memcpy(m + off, p, l);
		off += l;
		p += l + (p[l] == '.');
	}
	m[off++] = 0;
	put16(m + off, 1); /* QTYPE A */
	put16(m + off + 2, 1); /* QCLASS IN */
	return off + 4;
}

/* The test's DNS server on 127.0.0.1:53, served from the child's wait loop. */
struct dns_server {
	int fd;
	unsigned int queries;
	uint8_t query[DNS_MSG_MAX]; /* the last one, as it arrived */
	size_t query_len;
};

/* Answers every query waiting: an A record DNS_ADDR for DNS_NAME, NXDOMAIN for other names. */
static void dns_serve(struct dns_server *d)
{
	for (;;) {
		uint8_t m[DNS_MSG_MAX + 16];
		struct sockaddr_in from;
		socklen_t from_len = sizeof(from);
		char name[256];
		size_t end, len;
		ssize_t n;
		bool hit;

		n = recvfrom(d->fd, m, DNS_MSG_MAX, 0, (struct sockaddr *)&from, &from_len);
		if (n < 0) {
			child_check(errno == EAGAIN || errno == EWOULDBLOCK,
				    "DNS server: recvfrom: %s", strerror(errno));
			return;
		}
		child_check(n >= 12 && get16(m + 4) == 1,
			    "DNS server: a message of %zd bytes without one question", n);
		end = dns_name(m, (size_t)n, 12, name, sizeof(name));
		child_check(end && end + 4 <= (size_t)n, "DNS server: a malformed question");
		d->queries++;
		memcpy(d->query, m, (size_t)n);
		d->query_len = (size_t)n;

		hit = !strcasecmp(name, DNS_NAME) && get16(m + end) == 1 && get16(m + end + 2) == 1;
		m[2] = 0x80 | (m[2] & 0x79) | 0x04; /* QR, the query's opcode and RD, AA */
		m[3] = 0x80 | (hit ? 0 : 3); /* RA; NOERROR or NXDOMAIN */
		put16(m + 6, hit); /* ANCOUNT */
		put16(m + 8, 0);
		put16(m + 10, 0); /* the question alone, whatever followed it */
		len = end + 4;
		if (hit) {
			put16(m + len, 0xc00c); /* the question's name (RFC 1035 4.1.4) */
			put16(m + len + 2, 1); /* A */
			put16(m + len + 4, 1); /* IN */
			put32(m + len + 6, 60); /* TTL */
			put16(m + len + 10, 4);
			put32(m + len + 12, DNS_ADDR);
			len += 16;
		}
		child_check(sendto(d->fd, m, len, 0, (struct sockaddr *)&from, from_len) ==
				    (ssize_t)len,
			    "DNS server: sendto: %s", strerror(errno));
	}
}

/* Waits up to DNS_WAIT_MS for a frame `match` accepts, skipping others and serving DNS
 * meanwhile; returns its length (the frame at rx + NET_HDR_LEN), or 0 when none came. */
static size_t child_wait_frame(struct dns_server *d, bool (*match)(const uint8_t *f, size_t len))
{
	int64_t deadline = mono_ms() + DNS_WAIT_MS;

	for (;;) {
		struct pollfd p[2] = { { .fd = be->rx_fd, .events = POLLIN },
				       { .fd = d->fd, .events = POLLIN } };
		ssize_t r;
		int64_t left;

		dns_serve(d);
		while ((r = be->ops->recv(be, rx, sizeof(rx))) > 0) {
			child_check(r >= NET_HDR_LEN + 14 && !memcmp(rx, zero_hdr, NET_HDR_LEN),
				    "recv: a frame of %zd bytes, or a header that is not zero", r);
			if (match(rx + NET_HDR_LEN, (size_t)r - NET_HDR_LEN))
				return (size_t)r - NET_HDR_LEN;
		}
		child_check(r == -EAGAIN, "recv: %s", strerror((int)-r));
		left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		child_check(poll(p, 2, (int)left) >= 0 || errno == EINTR, "poll: %s",
			    strerror(errno));
	}
}

static bool is_arp_reply_from_dns(const uint8_t *f, size_t len)
{
	const uint8_t *a = f + 14;

	return len >= 14 + 28 && get16(f + 12) == 0x0806 && get16(a + 6) == 2 &&
	       get32(a + 14) == DNS_IP;
}

static bool is_udp_from_dns(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	size_t ihl;

	if (len < 14 + 20 + 8 || get16(f + 12) != 0x0800 || ip[9] != 17)
		return false;
	ihl = (ip[0] & 0xf) * 4u;
	return ihl >= 20 && len >= 14 + ihl + 8 && get32(ip + 12) == DNS_IP &&
	       get16(ip + ihl) == 53;
}

/* One query of the guest's: to 10.0.2.3:53 from UDP port `sport`. */
struct guest_query {
	const char *name;
	uint16_t id, sport;
	uint8_t msg[DNS_MSG_MAX];
	size_t len;
	unsigned int served_before; /* the server's count when it was sent */
};

static void guest_query(struct dns_server *d, struct guest_query *gq)
{
	uint8_t f[14 + 20 + 8 + DNS_MSG_MAX];
	size_t off;

	gq->len = dns_query(gq->msg, gq->id, gq->name);
	gq->served_before = d->queries;
	off = udp4(f, dns_mac, GUEST_IP, DNS_IP, gq->sport, 53, gq->len);
	memcpy(f + off, gq->msg, gq->len);
	child_check(!send_frame(f, off + gq->len), "send of the query for %s refused", gq->name);
}

/* Waits for the answer to `gq`; checks that the server got the query once and as sent and that
 * the answer came back to the guest's port, and returns the answer (in rx). */
static const uint8_t *guest_answer(struct dns_server *d, const struct guest_query *gq,
				   size_t *answer_len)
{
	size_t len = child_wait_frame(d, is_udp_from_dns), ihl;
	unsigned int served = d->queries - gq->served_before;
	const uint8_t *ip, *udp;

	child_check(len, "no answer for %s from 10.0.2.3:53 within %d ms (the DNS server on 127.0.0.1:53 got %u queries)",
		    gq->name, DNS_WAIT_MS, served);
	child_check(served == 1 && d->query_len == gq->len && !memcmp(d->query, gq->msg, gq->len),
		    "the DNS server did not get the query for %s once and as sent (%u queries, the last of %zu bytes, want %zu)",
		    gq->name, served, d->query_len, gq->len);

	ip = rx + NET_HDR_LEN + 14;
	ihl = (ip[0] & 0xf) * 4u;
	udp = ip + ihl;
	child_check(!memcmp(rx + NET_HDR_LEN, guest_mac, 6) && get32(ip + 16) == GUEST_IP &&
			    get16(udp + 2) == gq->sport,
		    "the answer for %s went to %08x port %u, want 10.0.2.15 port %u", gq->name,
		    get32(ip + 16), get16(udp + 2), gq->sport);
	child_check(get16(udp + 4) >= 8 && 14 + ihl + get16(udp + 4) <= len,
		    "the answer for %s has a UDP length of %u in a %zu-byte frame", gq->name,
		    get16(udp + 4), len);
	*answer_len = get16(udp + 4) - 8u;
	return udp + 8;
}

/* Checks an answer to query `id` for `name`: RCODE `rcode`, and with NOERROR one A record for
 * the question's name, `addr`. */
static void check_answer(const uint8_t *m, size_t len, uint16_t id, const char *name,
			 unsigned int rcode, uint32_t addr)
{
	char qname[256];
	size_t off;

	child_check(len >= 12, "the answer for %s: %zu bytes", name, len);
	child_check(get16(m) == id, "the answer for %s: ID 0x%04x, want 0x%04x", name, get16(m),
		    id);
	child_check(m[2] & 0x80, "the answer for %s: QR clear", name);
	child_check((m[3] & 0xfu) == rcode, "the answer for %s: RCODE %u, want %u", name,
		    m[3] & 0xfu, rcode);
	off = dns_name(m, len, 12, qname, sizeof(qname));
	child_check(get16(m + 4) == 1 && off && off + 4 <= len && !strcasecmp(qname, name),
		    "the answer for %s: question %s", name, off ? qname : "malformed");
	off += 4;
	if (rcode) {
		child_check(get16(m + 6) == 0, "the answer for %s: %u records with RCODE %u", name,
			    get16(m + 6), rcode);
		return;
	}
	child_check(get16(m + 6) == 1 && off + 16 <= len && get16(m + off) == 0xc00c &&
			    get16(m + off + 2) == 1 && get16(m + off + 4) == 1 &&
			    get16(m + off + 10) == 4,
		    "the answer for %s: not one A record for the question's name", name);
	child_check(get32(m + off + 12) == addr, "the answer for %s: %u.%u.%u.%u, want %u.%u.%u.%u",
		    name, m[off + 12], m[off + 13], m[off + 14], m[off + 15], addr >> 24,
		    (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
}

static __attribute__((noreturn)) void dns_child(pid_t parent)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct dns_server d = { .fd = -1 };
	struct guest_query hit = { .name = DNS_NAME, .id = 0x4b31, .sport = 40001 };
	struct guest_query miss = { .name = "not-" DNS_NAME, .id = 0x4b32, .sport = 40002 };
	char err[CONFIG_ERR_MAX] = "";
	struct vmm_net n;
	const uint8_t *m;
	uint8_t f[64];
	size_t len;

	/* Gone with the test's process, whatever kills it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		child_exit(1, "the test's process went away");
	child_namespaces();
	d.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	child_check(d.fd >= 0, "socket: %s", strerror(errno));
	child_check(!bind(d.fd, (struct sockaddr *)&a, sizeof(a)),
		    "DNS server: bind 127.0.0.1:53: %s", strerror(errno));

	/* libslirp keeps the first nameserver in a global and trusts it for a second, then
	 * re-reads resolv.conf if its device, inode, size or mtime changed. Nothing in this
	 * process (one test's Criterion worker, forked) has resolved through libslirp before, and
	 * an older entry would go anyway (the mount changed the file's device and inode): the
	 * first query reads the resolv.conf mounted above. */
	user_net(&n, 0);
	child_check(!net_slirp_open(&be, &n, guest_mac, err, sizeof(err)), "%s", err);

	/* The first query goes out at once, before the slirp thread has run: a guest that boots
	 * fast, the case whose answer libslirp's clock once lost (net_slirp_open). The ARP request
	 * for the server follows, as from a guest that learnt the route from DHCP; it tells slirp
	 * the guest's MAC, which the answer's frame needs. */
	guest_query(&d, &hit);
	child_check(!send_frame(f, arp_request(f, DNS_IP)), "send of the ARP request refused");
	len = child_wait_frame(&d, is_arp_reply_from_dns);
	child_check(len, "no ARP reply for 10.0.2.3 within %d ms", DNS_WAIT_MS);
	child_check(!memcmp(rx + NET_HDR_LEN + 14 + 8, dns_mac, 6),
		    "ARP: 10.0.2.3 is not at 52:55:0a:00:02:03");
	m = guest_answer(&d, &hit, &len);
	check_answer(m, len, hit.id, hit.name, 0, DNS_ADDR);

	/* A name the server does not know comes back NXDOMAIN: the answers are its, not chance. */
	guest_query(&d, &miss);
	m = guest_answer(&d, &miss, &len);
	check_answer(m, len, miss.id, miss.name, 3, 0);

	be->ops->destroy(be);
	be = NULL;
	close(d.fd);
	child_exit(0, "%u queries answered", d.queries);
}

Test(net_slirp, dns_query_forwarded_to_resolv_conf_nameserver)
{
	pid_t parent = getpid(), pid;
	char msg[512] = "";
	size_t got = 0;
	int64_t deadline;
	int p[2], st;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (!pid) {
		close(p[0]);
		child_fd = p[1];
		dns_child(parent);
	}
	close(p[1]);

	/* The child bounds each of its waits; this bounds the child. */
	deadline = mono_ms() + 4 * DNS_WAIT_MS;
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int64_t left = deadline - mono_ms();
		ssize_t r;
		int ready = left > 0 ? poll(&pf, 1, (int)left) : 0;

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			cr_assert_fail("the DNS test's child did not finish in %d ms: %s",
				       4 * DNS_WAIT_MS, ready ? strerror(errno) : "timed out");
		}
		r = read(p[0], msg + got, sizeof(msg) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	msg[got] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_SKIP)
		cr_skip_test("%s", msg);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "DNS forwarding: %s (child status 0x%x)",
		  got ? msg : "no report", st);
}
