/* test_virtio_vsock.c: virtio-vsock (src/devices/virtio/vsock.c) driven through its registers by
 * a guest driver of the test's own over fake RAM, with real Unix sockets on the host side: the
 * CONNECT handshake, guest connections to host listeners, data both ways under credit flow
 * control, many connections, half-close, early closes, hostile packets, the transport-reset
 * event, and no file descriptor left behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock.h"
#include "virtio_driver.h"

#define BASE 0xd0000000ull
#define GSI 10
#define CID 3
#define RXQ VIRTIO_VSOCK_RXQ
#define TXQ VIRTIO_VSOCK_TXQ
#define EVQ VIRTIO_VSOCK_EVQ
#define QSIZE 128
#define RX_DESC 0x1000
#define RX_AVAIL 0x2000
#define RX_USED 0x3000
#define TX_DESC 0x5000
#define TX_AVAIL 0x6000
#define TX_USED 0x7000
#define EV_DESC 0x9000
#define EV_AVAIL 0xa000
#define EV_USED 0xb000
#define EV_BUF 0xc000
#define RX_BUF 0x20000 /* 64 receive buffers of RX_BUF_SIZE */
#define RX_BUF_SIZE 0x1000
#define RX_NR 64
#define TX_BUF 0x70000 /* one packet at a time: header and up to 64 KiB */

static struct fake_ram ram;
static struct drv_queue rxq, txq, evq;
static struct irq_rec irq;
static struct virtio_vsock vs;
static struct virtio_mmio *t;
static char uds[64];
static uint64_t rx_addr[QSIZE]; /* receive buffer by descriptor head */

struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
	uint16_t type, op;
	uint8_t data[RX_BUF_SIZE];
};

static void post_rx(uint64_t addr)
{
	struct seg s = { addr, RX_BUF_SIZE, true };
	uint16_t head = drv_post(&rxq, &s, 1);

	rx_addr[head] = addr;
}

static void setup(void)
{
	char err[256];

	fake_ram_create(&ram);
	snprintf(uds, sizeof(uds), "/tmp/kiln-vsock-test.%d", getpid());
	unlink(uds);
	cr_assert_eq(virtio_vsock_init(&vs, "virtio-vsock0", CID, uds, ram.gm, BASE, GSI,
				       irq_rec_line(&irq, GSI), err, sizeof(err)),
		     0, "%s", err);
	t = &vs.t;
	drv_queue_init_at(&rxq, &ram, QSIZE, RX_DESC, RX_AVAIL, RX_USED);
	drv_queue_init_at(&txq, &ram, QSIZE, TX_DESC, TX_AVAIL, TX_USED);
	drv_queue_init_at(&evq, &ram, 8, EV_DESC, EV_AVAIL, EV_USED);
}

static void teardown(void)
{
	virtio_vsock_destroy(&vs);
	fake_ram_destroy(&ram);
	unlink(uds);
}

TestSuite(vsock, .init = setup, .fini = teardown);

/* Negotiates, sets up the three queues and posts every receive buffer. */
static void start(void)
{
	struct drv_queue qs[3] = { rxq, txq, evq };

	drv_start(t, STD_FEATURES, qs, 3);
	rxq = qs[0];
	txq = qs[1];
	evq = qs[2];
	for (unsigned int i = 0; i < RX_NR; i++)
		post_rx(RX_BUF + (uint64_t)i * RX_BUF_SIZE);
	drv_notify(t, RXQ);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The guest sends one packet, header and payload in two buffers, as Linux does. */
static void send_raw(uint64_t src_cid, uint64_t dst_cid, uint32_t sport, uint32_t dport,
		     uint16_t type, uint16_t op, uint32_t len, uint32_t flags, uint32_t buf_alloc,
		     uint32_t fwd_cnt, const void *data, uint32_t data_len)
{
	uint8_t *h = ram_at(&ram, TX_BUF, VSOCK_HDR_LEN);
	struct seg s[2] = { { TX_BUF, VSOCK_HDR_LEN, false },
			    { TX_BUF + VSOCK_HDR_LEN, data_len, false } };

	memset(h, 0, VSOCK_HDR_LEN);
	put32(h + VSOCK_HDR_SRC_CID, (uint32_t)src_cid);
	put32(h + VSOCK_HDR_SRC_CID + 4, (uint32_t)(src_cid >> 32));
	put32(h + VSOCK_HDR_DST_CID, (uint32_t)dst_cid);
	put32(h + VSOCK_HDR_DST_CID + 4, (uint32_t)(dst_cid >> 32));
	put32(h + VSOCK_HDR_SRC_PORT, sport);
	put32(h + VSOCK_HDR_DST_PORT, dport);
	put32(h + VSOCK_HDR_LEN_OFF, len);
	h[VSOCK_HDR_TYPE] = (uint8_t)type;
	h[VSOCK_HDR_TYPE + 1] = (uint8_t)(type >> 8);
	h[VSOCK_HDR_OP] = (uint8_t)op;
	h[VSOCK_HDR_OP + 1] = (uint8_t)(op >> 8);
	put32(h + VSOCK_HDR_FLAGS, flags);
	put32(h + VSOCK_HDR_BUF_ALLOC, buf_alloc);
	put32(h + VSOCK_HDR_FWD_CNT, fwd_cnt);
	if (data_len)
		memcpy(ram_at(&ram, TX_BUF + VSOCK_HDR_LEN, data_len), data, data_len);
	drv_post(&txq, s, data_len ? 2 : 1);
	drv_notify(t, TXQ);
}

/* A guest connection's side of things. */
struct gconn {
	uint32_t gport, hport;
	uint32_t buf_alloc;          /* what the guest offers */
	uint32_t rx_cnt, fwd_cnt;    /* bytes received; of them, consumed */
	uint32_t tx_cnt;             /* bytes sent */
	uint32_t peer_alloc, peer_fwd; /* kiln's last word */
	uint32_t fwd_told;           /* fwd_cnt as last told to kiln */
};

static void gsend(struct gconn *g, uint16_t op, uint32_t flags, const void *data, uint32_t len)
{
	send_raw(CID, VSOCK_CID_HOST, g->gport, g->hport, VSOCK_TYPE_STREAM, op, len, flags,
		 g->buf_alloc, g->fwd_cnt, data, len);
	g->fwd_told = g->fwd_cnt;
	if (op == VSOCK_OP_RW)
		g->tx_cnt += len;
}

/* Runs the I/O thread's handler for the host sockets. */
static void pump(void)
{
	virtio_vsock_io(&vs, EPOLLIN);
}

/* Takes the next packet the device put in a receive buffer, and posts the buffer again.
 * Returns false when there is none. */
static bool recv_pkt(struct pkt *p)
{
	uint32_t id, len;
	const uint8_t *h;

	if (rxq.used_seen == drv_used_idx(&rxq))
		return false;
	drv_used_elem(&rxq, rxq.used_seen++, &id, &len);
	cr_assert_lt(id, QSIZE);
	cr_assert_geq(len, VSOCK_HDR_LEN, "a used receive buffer holds a header");
	h = ram_at(&ram, rx_addr[id], RX_BUF_SIZE);
	p->src_cid = get32(h) | (uint64_t)get32(h + 4) << 32;
	p->dst_cid = get32(h + 8) | (uint64_t)get32(h + 12) << 32;
	p->src_port = get32(h + VSOCK_HDR_SRC_PORT);
	p->dst_port = get32(h + VSOCK_HDR_DST_PORT);
	p->len = get32(h + VSOCK_HDR_LEN_OFF);
	p->type = (uint16_t)(h[VSOCK_HDR_TYPE] | h[VSOCK_HDR_TYPE + 1] << 8);
	p->op = (uint16_t)(h[VSOCK_HDR_OP] | h[VSOCK_HDR_OP + 1] << 8);
	p->flags = get32(h + VSOCK_HDR_FLAGS);
	p->buf_alloc = get32(h + VSOCK_HDR_BUF_ALLOC);
	p->fwd_cnt = get32(h + VSOCK_HDR_FWD_CNT);
	cr_assert_eq(len, VSOCK_HDR_LEN + p->len, "used length is header plus payload");
	cr_assert_leq(p->len, RX_BUF_SIZE - VSOCK_HDR_LEN);
	memcpy(p->data, h + VSOCK_HDR_LEN, p->len);
	cr_assert_eq(p->src_cid, VSOCK_CID_HOST);
	cr_assert_eq(p->dst_cid, CID);
	cr_assert_eq(p->type, VSOCK_TYPE_STREAM);
	post_rx(rx_addr[id]);
	drv_notify(t, RXQ);
	return true;
}

/* The next packet, which must exist. */
static void expect_pkt(struct pkt *p, uint16_t op)
{
	pump();
	cr_assert(recv_pkt(p), "a packet (op %u) for the guest", op);
	cr_assert_eq(p->op, op, "op %u, expected %u", p->op, op);
}

static void expect_none(void)
{
	struct pkt p;

	pump();
	cr_assert_not(recv_pkt(&p), "no packet expected, got op %u %u->%u", p.op, p.src_port,
		      p.dst_port);
}

static int host_dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, uds);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect %s: %s", uds,
		     strerror(errno));
	return fd;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Reads one line from a blocking socket, a byte at a time (the stream goes on after it). */
static void read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		cr_assert_eq(poll(&pfd, 1, 2000), 1, "a line within 2 s");
		cr_assert_eq(read(fd, buf + n, 1), 1);
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
}

/* The host connects to guest port `port`; the guest accepts. Returns the host's socket. */
static int host_connect(struct gconn *g, uint32_t port, uint32_t guest_buf)
{
	char line[64], want[64];
	struct pkt p;
	int fd = host_dial();

	dprintf(fd, "CONNECT %u\n", port);
	expect_pkt(&p, VSOCK_OP_REQUEST);
	cr_assert_eq(p.dst_port, port);
	cr_assert_geq(p.src_port, VSOCK_HOST_PORT_BASE);
	*g = (struct gconn){ .gport = port, .hport = p.src_port, .buf_alloc = guest_buf,
			     .peer_alloc = p.buf_alloc, .peer_fwd = p.fwd_cnt };
	gsend(g, VSOCK_OP_RESPONSE, 0, NULL, 0);
	pump();
	read_line(fd, line, sizeof(line));
	snprintf(want, sizeof(want), "OK %u\n", g->hport);
	cr_assert_str_eq(line, want);
	return fd;
}

static uint8_t pattern(uint64_t i, uint32_t seed)
{
	return (uint8_t)(i * 131 + seed + (i >> 11));
}

/* ---- identity ------------------------------------------------------------------------------ */

Test(vsock, identity_and_config)
{
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_CONFIG), CID);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_CONFIG + 4), 0);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_gt(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "three queues");
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 3);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "three queues only");
}

Test(vsock, bad_cid_and_path_and_busy_socket_are_refused)
{
	struct virtio_vsock other;
	char err[256];

	cr_assert_eq(virtio_vsock_init(&other, "v", 2, "/tmp/x.sock", ram.gm, BASE, GSI,
				       irq_rec_line(&irq, GSI), err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "guest_cid 2"), "%s", err);
	cr_assert_eq(virtio_vsock_init(&other, "v", 0xffffffffull, "/tmp/x.sock", ram.gm, BASE,
				       GSI, irq_rec_line(&irq, GSI), err, sizeof(err)),
		     -EINVAL);
	cr_assert_eq(virtio_vsock_init(&other, "v", 3, "", ram.gm, BASE, GSI,
				       irq_rec_line(&irq, GSI), err, sizeof(err)),
		     -EINVAL);
	/* The test's own device listens on `uds`: a second one must not take it over. */
	cr_assert_eq(virtio_vsock_init(&other, "v", 3, uds, ram.gm, BASE, GSI,
				       irq_rec_line(&irq, GSI), err, sizeof(err)),
		     -EADDRINUSE);
	cr_assert(strstr(err, "another process listens"), "%s", err);
}

Test(vsock, stale_socket_is_replaced_and_a_file_is_not)
{
	struct virtio_vsock other;
	char path[128], err[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(path, sizeof(path), "%s.stale", uds);
	strcpy(sa.sun_path, path);
	unlink(path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* bound, never listened: what a crashed process leaves */
	cr_assert_eq(virtio_vsock_init(&other, "v", 3, path, ram.gm, BASE, GSI,
				       irq_rec_line(&irq, GSI), err, sizeof(err)),
		     0, "%s", err);
	virtio_vsock_destroy(&other);
	cr_assert_neq(access(path, F_OK), 0, "removed at destroy");
	close(open(path, O_CREAT | O_WRONLY, 0600));
	cr_assert_eq(virtio_vsock_init(&other, "v", 3, path, ram.gm, BASE, GSI,
				       irq_rec_line(&irq, GSI), err, sizeof(err)),
		     -EEXIST);
	cr_assert(strstr(err, "not a socket"), "%s", err);
	unlink(path);
}

/* ---- host-initiated connections ------------------------------------------------------------- */

/* Moves `size` bytes host to guest and `size` back, in both directions at once, through the
 * guest's credit (small, so it runs out many times) and kiln's. */
static void exchange(int fd, struct gconn *g, uint64_t size, uint32_t seed)
{
	uint64_t h_sent = 0, h_got = 0, g_got = 0;
	static uint8_t buf[65536];
	int idle = 0;

	set_nonblock(fd);
	while (h_got < size || g_got < size) {
		bool progress = false;
		struct pkt p;
		ssize_t n;

		/* Host writes what the socket takes. */
		if (h_sent < size) {
			size_t l = size - h_sent < sizeof(buf) ? size - h_sent : sizeof(buf);

			for (size_t i = 0; i < l; i++)
				buf[i] = pattern(h_sent + i, seed);
			n = write(fd, buf, l);
			if (n > 0)
				h_sent += (uint64_t)n, progress = true;
		}
		pump();
		/* Guest takes what arrived and consumes it. */
		while (recv_pkt(&p)) {
			progress = true;
			cr_assert_eq(p.dst_port, g->gport);
			g->peer_alloc = p.buf_alloc;
			g->peer_fwd = p.fwd_cnt;
			if (p.op == VSOCK_OP_CREDIT_REQUEST || p.op == VSOCK_OP_CREDIT_UPDATE)
				continue;
			cr_assert_eq(p.op, VSOCK_OP_RW, "op %u", p.op);
			cr_assert_leq(g->rx_cnt + p.len - g->fwd_cnt, g->buf_alloc,
				      "kiln kept within the guest's credit");
			for (uint32_t i = 0; i < p.len; i++)
				cr_assert_eq(p.data[i], pattern(g_got + i, seed), "byte %llu",
					     (unsigned long long)(g_got + i));
			g_got += p.len;
			g->rx_cnt += p.len;
			g->fwd_cnt += p.len; /* consumed at once */
		}
		/* The guest tells kiln about room once half its buffer was consumed unannounced. */
		if (g->fwd_cnt - g->fwd_told >= g->buf_alloc / 2) {
			gsend(g, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			progress = true;
		}
		/* Guest sends within kiln's credit, up to 4 KiB a packet. */
		if (g->tx_cnt < size) {
			uint32_t credit = g->peer_alloc - (g->tx_cnt - g->peer_fwd);
			uint32_t l = (uint32_t)(size - g->tx_cnt < 4096 ? size - g->tx_cnt : 4096);

			if (credit > g->peer_alloc)
				credit = 0;
			if (l > credit)
				l = credit;
			if (l) {
				for (uint32_t i = 0; i < l; i++)
					buf[i] = pattern(g->tx_cnt + i, ~seed);
				gsend(g, VSOCK_OP_RW, 0, buf, l);
				progress = true;
			}
		}
		/* Host reads what reached its socket. */
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				cr_assert_eq(buf[i], pattern(h_got + (uint64_t)i, ~seed));
			h_got += (uint64_t)n;
			progress = true;
		}
		idle = progress ? 0 : idle + 1;
		cr_assert_lt(idle, 50, "stalled: host sent %llu got %llu, guest got %llu sent %u",
			     (unsigned long long)h_sent, (unsigned long long)h_got,
			     (unsigned long long)g_got, g->tx_cnt);
	}
}

Test(vsock, host_connects_and_data_flows_both_ways)
{
	static const uint64_t sizes[] = { 1, 4051, 100000, 3u << 20 };
	struct virtio_vsock_counters c;
	uint64_t faults, total = 0;
	unsigned int conns;

	start();
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct gconn g;
		int fd = host_connect(&g, 5000 + i, 64 * 1024);

		exchange(fd, &g, sizes[i], i);
		total += sizes[i];
		close(fd);
		/* The host hung up: the guest hears it sends no more. */
		pump();
		struct pkt p;
		bool shut = false;

		while (recv_pkt(&p))
			shut |= p.op == VSOCK_OP_SHUTDOWN && (p.flags & VSOCK_SHUTDOWN_SEND);
		cr_assert(shut, "SHUTDOWN(SEND) after the host closed");
		gsend(&g, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, NULL, 0);
		expect_pkt(&p, VSOCK_OP_RST);
	}
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(conns, 0);
	cr_assert_eq(c.conns_added, ARRAY_SIZE(sizes));
	cr_assert_eq(c.conns_removed, ARRAY_SIZE(sizes));
	cr_assert_eq(c.conns_killed, 0);
	cr_assert_eq(c.rx_bytes, total);
	cr_assert_eq(c.tx_bytes, total);
	cr_assert_eq(faults + c.tx_malformed, 0);
}

Test(vsock, bytes_after_the_connect_line_are_kept)
{
	char line[64];
	struct gconn g;
	struct pkt p;
	int fd = host_dial();

	start();
	/* One write: the line and the first data. */
	dprintf(fd, "CONNECT 7000\nhello");
	expect_pkt(&p, VSOCK_OP_REQUEST);
	g = (struct gconn){ .gport = 7000, .hport = p.src_port, .buf_alloc = 65536 };
	gsend(&g, VSOCK_OP_RESPONSE, 0, NULL, 0);
	pump();
	read_line(fd, line, sizeof(line));
	cr_assert_eq(strncmp(line, "OK ", 3), 0);
	expect_pkt(&p, VSOCK_OP_RW);
	cr_assert_eq(p.len, 5);
	cr_assert_eq(memcmp(p.data, "hello", 5), 0);
	close(fd);
}

Test(vsock, bad_connect_lines_close_the_socket)
{
	static const char *const bad[] = { "HELLO 5\n", "CONNECT x\n", "CONNECT 4294967296\n",
					   "CONNECT -1\n", "connect 5\n",
					   "CONNECT 12345678901234567890123456789\n" };
	char c;

	start();
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		int fd = host_dial();
		struct pollfd pfd = { fd, POLLIN, 0 };

		cr_assert_eq(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		expect_none();
		cr_assert_eq(poll(&pfd, 1, 2000), 1);
		/* End of file, or a reset where kiln left the rest of the line unread. */
		cr_assert(read(fd, &c, 1) == 0 || errno == ECONNRESET,
			  "'%s': closed without a reply", bad[i]);
		close(fd);
	}
}

Test(vsock, guest_credit_limits_what_the_host_sends)
{
	static uint8_t big[100000];
	struct gconn g;
	struct pkt p;
	uint32_t got = 0;
	int fd;

	start();
	fd = host_connect(&g, 5000, 4096);
	memset(big, 0x5a, sizeof(big));
	set_nonblock(fd);
	cr_assert_gt(write(fd, big, sizeof(big)), 8192);
	pump();
	while (recv_pkt(&p)) {
		if (p.op == VSOCK_OP_RW)
			got += p.len;
		else
			cr_assert_eq(p.op, VSOCK_OP_CREDIT_REQUEST, "op %u", p.op);
	}
	cr_assert_eq(got, 4096, "exactly the credit the guest gave");
	expect_none();
	/* The guest consumed it: 4096 more. */
	g.rx_cnt = g.fwd_cnt = 4096;
	gsend(&g, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump();
	got = 0;
	while (recv_pkt(&p))
		if (p.op == VSOCK_OP_RW)
			got += p.len;
	cr_assert_eq(got, 4096);
	close(fd);
}

Test(vsock, slow_host_reader_throttles_the_guest_and_lies_are_reset)
{
	static uint8_t buf[4096];
	struct virtio_vsock_counters c;
	uint64_t faults;
	unsigned int conns;
	struct gconn g;
	struct pkt p;
	int fd;

	start();
	fd = host_connect(&g, 5000, 65536);
	cr_assert_eq(g.peer_alloc, VSOCK_BUF_ALLOC);
	/* The host reads nothing: the guest may still send all the credit kiln gives it, which
	 * the socket and then kiln hold, until the credit runs out. */
	for (int i = 0;; i++) {
		uint32_t credit = VSOCK_BUF_ALLOC - (g.tx_cnt - g.peer_fwd);

		cr_assert_lt(i, 1000, "the credit never ran out");
		if (!credit)
			break;
		gsend(&g, VSOCK_OP_RW, 0, buf, credit < sizeof(buf) ? credit : sizeof(buf));
		pump();
		while (recv_pkt(&p)) {
			cr_assert_neq(p.op, VSOCK_OP_RST);
			g.peer_fwd = p.fwd_cnt;
		}
	}
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(conns, 1);
	cr_assert_eq(c.tx_bytes, g.tx_cnt);
	cr_assert_eq(faults, 0);
	/* One byte beyond the credit: the connection is reset, the host sees its end close. */
	gsend(&g, VSOCK_OP_RW, 0, buf, 1);
	expect_pkt(&p, VSOCK_OP_RST);
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(conns, 0);
	cr_assert_eq(c.conns_killed, 1);
	cr_assert_geq(faults, 1);
	close(fd);
}

Test(vsock, credit_updates_follow_the_host_reader)
{
	static uint8_t buf[4096];
	struct gconn g;
	struct pkt p;
	uint32_t fwd = 0;
	int fd;

	start();
	fd = host_connect(&g, 5000, 65536);
	for (uint32_t sent = 0; sent < VSOCK_BUF_ALLOC; sent += sizeof(buf))
		gsend(&g, VSOCK_OP_RW, 0, buf, sizeof(buf));
	set_nonblock(fd);
	/* Drain the socket and what kiln held back: credit updates say so. */
	for (int i = 0; i < 200 && fwd < VSOCK_BUF_ALLOC; i++) {
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		pump();
		while (recv_pkt(&p))
			if (p.op == VSOCK_OP_CREDIT_UPDATE || p.op == VSOCK_OP_RW)
				fwd = p.fwd_cnt;
	}
	/* The guest hears of the room as it frees: never left with less than half its credit. */
	cr_assert_geq(fwd, VSOCK_BUF_ALLOC / 2, "credit updates came (%u)", fwd);
	close(fd);
}

/* ---- guest-initiated connections ------------------------------------------------------------ */

static int host_listen(uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, port);
	unlink(sa.sun_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 128), 0);
	return fd;
}

static void host_unlisten(int fd, uint32_t port)
{
	char path[128];

	snprintf(path, sizeof(path), "%s_%u", uds, port);
	unlink(path);
	close(fd);
}

Test(vsock, guest_connects_to_a_host_listener)
{
	struct gconn g = { .gport = 40000, .hport = 6000, .buf_alloc = 65536 };
	int lfd = host_listen(6000), fd;
	struct pkt p;
	char c;

	start();
	gsend(&g, VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RESPONSE);
	cr_assert_eq(p.src_port, 6000);
	cr_assert_eq(p.dst_port, 40000);
	g.peer_alloc = p.buf_alloc;
	fd = accept(lfd, NULL, NULL);
	cr_assert_geq(fd, 0);
	exchange(fd, &g, 300000, 7);
	/* The guest closes cleanly: kiln answers RST, the host reads end of file. */
	set_nonblock(fd);
	gsend(&g, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	cr_assert_eq(read(fd, &c, 1), 0);
	close(fd);
	host_unlisten(lfd, 6000);
}

Test(vsock, guest_connection_to_nothing_is_reset)
{
	struct gconn g = { .gport = 40001, .hport = 6001, .buf_alloc = 65536 };
	struct pkt p;

	start();
	gsend(&g, VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	cr_assert_eq(p.src_port, 6001);
	cr_assert_eq(p.dst_port, 40001);
}

/* ---- many connections, half-close, early close ---------------------------------------------- */

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

Test(vsock, a_hundred_connections_at_once_and_no_fd_left)
{
	enum { N = 120 };
	static struct gconn g[N];
	static int fd[N];
	unsigned int before = count_fds(), conns;
	struct virtio_vsock_counters c;
	uint64_t faults;

	start();
	for (unsigned int i = 0; i < N; i++)
		fd[i] = host_connect(&g[i], 1000 + i, 65536);
	/* Each sends its own bytes both ways, interleaved. */
	for (unsigned int i = 0; i < N; i++) {
		char msg[32];
		int l = snprintf(msg, sizeof(msg), "host to guest %u", i);

		cr_assert_eq(write(fd[i], msg, (size_t)l), l);
		l = snprintf(msg, sizeof(msg), "guest to host %u", i);
		gsend(&g[i], VSOCK_OP_RW, 0, msg, (uint32_t)l);
	}
	pump();
	for (unsigned int seen = 0; seen < N;) {
		struct pkt p;
		char want[32];
		unsigned int i;

		if (!recv_pkt(&p)) {
			pump();
			cr_assert(recv_pkt(&p), "%u of %u connections delivered", seen, N);
		}
		cr_assert_eq(p.op, VSOCK_OP_RW);
		i = p.dst_port - 1000;
		cr_assert_lt(i, N);
		snprintf(want, sizeof(want), "host to guest %u", i);
		cr_assert_eq(p.len, strlen(want));
		cr_assert_eq(memcmp(p.data, want, p.len), 0);
		seen++;
	}
	for (unsigned int i = 0; i < N; i++) {
		char got[32] = { 0 }, want[32];

		snprintf(want, sizeof(want), "guest to host %u", i);
		cr_assert_eq(read(fd[i], got, strlen(want)), (ssize_t)strlen(want));
		cr_assert_str_eq(got, want);
	}
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(conns, N);
	for (unsigned int i = 0; i < N; i++) {
		struct pkt p;

		gsend(&g[i], VSOCK_OP_RST, 0, NULL, 0);
		close(fd[i]);
		pump();
		while (recv_pkt(&p))
			;
	}
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(conns, 0);
	cr_assert_eq(count_fds(), before, "every socket closed");
}

Test(vsock, half_close_each_way)
{
	struct gconn g;
	struct pkt p;
	char buf[16];
	int fd;

	start();
	fd = host_connect(&g, 5000, 65536);
	/* The host stops sending: the guest hears SHUTDOWN(SEND) and may still send. */
	cr_assert_eq(write(fd, "last", 4), 4);
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	expect_pkt(&p, VSOCK_OP_RW);
	cr_assert_eq(p.len, 4);
	expect_pkt(&p, VSOCK_OP_SHUTDOWN);
	cr_assert_eq(p.flags, VSOCK_SHUTDOWN_SEND);
	gsend(&g, VSOCK_OP_RW, 0, "reply", 5);
	pump();
	cr_assert_eq(read(fd, buf, sizeof(buf)), 5);
	cr_assert_eq(memcmp(buf, "reply", 5), 0);
	/* Then the guest stops sending: the host reads end of file; the connection stays. */
	gsend(&g, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, NULL, 0);
	pump();
	cr_assert_eq(read(fd, buf, sizeof(buf)), 0);
	expect_none();
	gsend(&g, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	close(fd);
}

Test(vsock, host_closes_before_the_guest_answers)
{
	struct gconn g;
	struct pkt p;
	int fd = host_dial();

	start();
	dprintf(fd, "CONNECT 5000\n");
	expect_pkt(&p, VSOCK_OP_REQUEST);
	close(fd);
	g = (struct gconn){ .gport = 5000, .hport = p.src_port, .buf_alloc = 65536 };
	pump();
	gsend(&g, VSOCK_OP_RESPONSE, 0, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	cr_assert_eq(p.src_port, g.hport);
}

Test(vsock, host_gone_then_guest_writes_is_reset)
{
	struct gconn g;
	struct pkt p;
	int fd;

	start();
	fd = host_connect(&g, 5000, 65536);
	close(fd);
	expect_pkt(&p, VSOCK_OP_SHUTDOWN);
	gsend(&g, VSOCK_OP_RW, 0, "late", 4);
	expect_pkt(&p, VSOCK_OP_RST);
}

/* ---- hostile guests ------------------------------------------------------------------------- */

Test(vsock, hostile_packets_are_reset_or_dropped)
{
	static uint8_t big[70000];
	struct virtio_vsock_counters c;
	struct gconn g;
	struct pkt p;
	uint64_t faults;
	unsigned int conns;
	int fd;

	start();
	/* Another source CID, or not to the host: dropped without an answer. */
	send_raw(4, VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 0, 0, 0, 0, NULL, 0);
	send_raw(CID, 5, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 0, 0, 0, 0, NULL, 0);
	send_raw(CID, (uint64_t)1 << 32 | VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM,
		 VSOCK_OP_REQUEST, 0, 0, 0, 0, NULL, 0);
	expect_none();
	/* Seqpacket (not offered), and unknown types: RST. */
	send_raw(CID, VSOCK_CID_HOST, 1, 2, 2, VSOCK_OP_REQUEST, 0, 0, 0, 0, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	send_raw(CID, VSOCK_CID_HOST, 1, 2, 0xffff, VSOCK_OP_RW, 0, 0, 0, 0, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	/* Packets for connections that do not exist: RST (but never for an RST). */
	send_raw(CID, VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_RW, 3, 0, 0, 0, "abc", 3);
	expect_pkt(&p, VSOCK_OP_RST);
	cr_assert_eq(p.src_port, 2);
	cr_assert_eq(p.dst_port, 1);
	send_raw(CID, VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_RESPONSE, 0, 0, 0, 0,
		 NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	send_raw(CID, VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_CREDIT_REQUEST, 0, 0, 0, 0,
		 NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	send_raw(CID, VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_RST, 0, 0, 0, 0, NULL, 0);
	expect_none();
	/* A header cut short, and lengths that lie. */
	drv_post(&txq, &(struct seg){ TX_BUF, 20, false }, 1);
	drv_notify(t, TXQ);
	expect_none();
	send_raw(CID, VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_RW, 1000, 0, 0, 0, "x", 1);
	expect_pkt(&p, VSOCK_OP_RST);
	send_raw(CID, VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_RW, sizeof(big), 0, 0, 0,
		 big, sizeof(big));
	expect_pkt(&p, VSOCK_OP_RST);
	/* On a live connection: an unknown operation, a second REQUEST, data before RESPONSE. */
	fd = host_connect(&g, 5000, 65536);
	gsend(&g, 99, 0, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	close(fd);
	fd = host_connect(&g, 5001, 65536);
	gsend(&g, VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_pkt(&p, VSOCK_OP_RST);
	close(fd);
	fd = host_dial();
	dprintf(fd, "CONNECT 5002\n");
	expect_pkt(&p, VSOCK_OP_REQUEST);
	g = (struct gconn){ .gport = 5002, .hport = p.src_port, .buf_alloc = 65536 };
	gsend(&g, VSOCK_OP_RW, 0, "early", 5);
	expect_pkt(&p, VSOCK_OP_RST);
	close(fd);
	/* Receive buffers too small for a packet are returned empty and counted. */
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(conns, 0);
	cr_assert_geq(c.tx_malformed, 8);
	cr_assert_geq(faults, 8);
	/* And the device still works. */
	fd = host_connect(&g, 5003, 65536);
	exchange(fd, &g, 10000, 3);
	close(fd);
}

Test(vsock, rst_flood_without_receive_buffers_is_bounded)
{
	struct virtio_vsock_counters c;
	struct drv_queue qs[3] = { rxq, txq, evq };
	uint64_t faults;
	unsigned int conns, n = 0;
	struct pkt p;

	/* No receive buffers posted: kiln can answer nothing and must keep nothing unbounded. */
	drv_start(t, STD_FEATURES, qs, 3);
	rxq = qs[0];
	txq = qs[1];
	evq = qs[2];
	for (uint32_t i = 0; i < 500; i++)
		send_raw(CID, VSOCK_CID_HOST, i, 2, VSOCK_TYPE_STREAM, VSOCK_OP_RW, 1, 0, 0, 0, "z",
			 1);
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(c.rst_dropped, 500 - VSOCK_MAX_LOOSE_RST);
	for (unsigned int i = 0; i < RX_NR; i++)
		post_rx(RX_BUF + (uint64_t)i * RX_BUF_SIZE);
	drv_notify(t, RXQ);
	while (recv_pkt(&p)) {
		cr_assert_eq(p.op, VSOCK_OP_RST);
		n++;
	}
	cr_assert_eq(n, VSOCK_MAX_LOOSE_RST);
}

Test(vsock, small_receive_buffers_are_refused)
{
	struct drv_queue qs[3] = { rxq, txq, evq };
	struct virtio_vsock_counters c;
	uint64_t faults;
	unsigned int conns;

	drv_start(t, STD_FEATURES, qs, 3);
	rxq = qs[0];
	txq = qs[1];
	evq = qs[2];
	drv_post(&rxq, &(struct seg){ RX_BUF, VSOCK_HDR_LEN, true }, 1);
	drv_notify(t, RXQ);
	send_raw(CID, VSOCK_CID_HOST, 1, 2, VSOCK_TYPE_STREAM, VSOCK_OP_RW, 1, 0, 0, 0, "z", 1);
	cr_assert_eq(drv_used_idx(&rxq), 1);
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_geq(faults, 1);
}

/* ---- resets and snapshots ------------------------------------------------------------------- */

Test(vsock, transport_reset_event_drops_every_connection)
{
	struct virtio_vsock_state st;
	uint32_t id, len;
	struct gconn g;
	char c;
	int fd;

	start();
	drv_post(&evq, &(struct seg){ EV_BUF, 8, true }, 1);
	drv_notify(t, EVQ);
	cr_assert_eq(drv_used_idx(&evq), 0, "no event before a reset");
	fd = host_connect(&g, 5000, 65536);
	virtio_vsock_save(&vs, &st);
	cr_assert_eq(virtio_vsock_load(&vs, &st), 0);
	cr_assert_eq(drv_used_idx(&evq), 1);
	drv_used_elem(&evq, 0, &id, &len);
	cr_assert_eq(len, 4);
	cr_assert_eq(get32(ram_at(&ram, EV_BUF, 4)), VSOCK_EVENT_TRANSPORT_RESET);
	cr_assert_eq(read(fd, &c, 1), 0, "the host's end is closed");
	close(fd);
	st.cid = CID + 1;
	cr_assert_eq(virtio_vsock_load(&vs, &st), -EINVAL, "another guest's state");
}

Test(vsock, driver_reset_closes_connections)
{
	struct virtio_vsock_counters c;
	uint64_t faults;
	unsigned int conns;
	struct gconn g;
	char ch;
	int fd;

	start();
	fd = host_connect(&g, 5000, 65536);
	mmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(conns, 0);
	cr_assert_eq(read(fd, &ch, 1), 0);
	close(fd);
}

Test(vsock, host_connects_before_the_driver_is_ready)
{
	struct pkt p;
	int fd = host_dial();

	dprintf(fd, "CONNECT 5000\n");
	pump(); /* no driver yet: the REQUEST waits */
	start();
	expect_pkt(&p, VSOCK_OP_REQUEST);
	cr_assert_eq(p.dst_port, 5000);
	close(fd);
}

/* ---- time limits ------------------------------------------------------------------------------ */

/* Waits up to 4 s for the device's tick to act, pumping as the I/O thread would. */
static bool pump_until_closed(int fd)
{
	for (int i = 0; i < 40; i++) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char c;

		pump();
		if (poll(&pfd, 1, 100) == 1)
			return read(fd, &c, 1) <= 0;
	}
	return false;
}

Test(vsock, a_guest_that_never_answers_is_reset_after_two_seconds)
{
	struct virtio_vsock_counters c;
	uint64_t faults;
	unsigned int conns;
	struct pkt p;
	int fd = host_dial();

	start();
	dprintf(fd, "CONNECT 5000\n");
	expect_pkt(&p, VSOCK_OP_REQUEST);
	cr_assert(pump_until_closed(fd), "the host's socket closed when the guest stayed silent");
	cr_assert(recv_pkt(&p));
	cr_assert_eq(p.op, VSOCK_OP_RST, "and the guest is told to forget the request");
	virtio_vsock_get_counters(&vs, &c, &faults, &conns);
	cr_assert_eq(conns, 0);
	cr_assert_eq(c.conns_killed, 1);
	close(fd);
}

Test(vsock, a_host_that_never_sends_its_line_is_closed)
{
	int fd = host_dial();

	start();
	cr_assert_eq(write(fd, "CONN", 4), 4);
	cr_assert(pump_until_closed(fd));
	expect_none();
	close(fd);
}
