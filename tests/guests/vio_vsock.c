/*
 * vio_vsock: multiboot ELF32; virtio-vsock (device id 19, virtio 1.2 5.10) through
 * common/virtio.c, against the host end that tests/e2e/virtio_test.py (case vsock) runs on
 * kiln's Unix sockets: the host reaches guest port P with "CONNECT P" on the device's socket, the
 * guest reaches host port P at the socket "<uds>_P" (Firecracker's hybrid vsock).
 *
 * The guest is a small stream-socket stack of its own, with the specification's credit-based
 * flow control both ways, half-close and RST. It serves three ports to the host:
 *   5000 echo:    sends back every byte; once the host has shut its sending side and everything
 *                 went back, closes (SHUTDOWN both ways, then kiln's RST);
 *   5001 control: one command a line, one reply line each (below);
 *   5002 digest:  reads until the host shuts its sending side (SHUTDOWN(SEND) arrives), then
 *                 still replies "<bytes> <crc32>\n" and closes: the half-close check;
 * and refuses any other port with RST. Control commands:
 *   sum H          "sum H <bytes> <crc32>": what the echo connection from host port H received
 *   stats          "stats open=N peak=N accepted=N refused=N resets=N rx=N tx=N"
 *   client P N     connects to host port P, sends N pattern bytes, shuts its sending side, checks
 *                  that the host echoes every byte and closes; "client P ok N <crc32>" (of what it
 *                  sent), or "client P refused" when kiln answers the REQUEST with RST
 *   hostile        the hostile-packet cases (hostile() below); "hostile ok N"
 *   reset          resets the device and sets it up again; no reply (the control connection
 *                  ends with every other one)
 *   done           prints its totals and leaves with SUCCESS
 * Every packet kiln sends is checked: source CID 2, this guest's CID, stream type, a used length
 * of header plus payload, at most 64 KiB of payload, never beyond the credit the guest gave, and
 * only for connections the guest has (RSTs aside). The receive buffers come in four shapes (64 KiB
 * and more, 4 KiB, header and payload in two buffers, a header and one byte), so packets of every
 * size cross every layout.
 *
 * Setup runs at ring 0; from DRIVER_OK on everything runs at ring 3 (common/ring3.h): on a PVM
 * host ring-0 code is emulated slowly, ring 3 runs natively. Queues are polled, interrupts stay
 * off. Progress and results go to the serial port; SUCCESS through debug-exit.
 *
 * Command line: virtio=BASE,STRIDE,COUNT cid=N (the CID the monitor was given)
 */
#include "exit.h"
#include "kstring.h"
#include "multiboot.h"
#include "ring3.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);

#define VIRTIO_ID_VSOCK 19
#define VIRTIO_VSOCK_F_STREAM 0
#define RXQ 0
#define TXQ 1
#define EVQ 2

/* The packet header (5.10.6), little-endian. */
#define HDR 44
#define CID_HOST 2
#define TYPE_STREAM 1
#define OP_REQUEST 1
#define OP_RESPONSE 2
#define OP_RST 3
#define OP_SHUTDOWN 4
#define OP_RW 5
#define OP_CREDIT_UPDATE 6
#define OP_CREDIT_REQUEST 7
#define SHUT_RCV 1
#define SHUT_SEND 2
#define MAX_PAYLOAD 65536u /* kiln's limit for one packet, both ways */

#define PORT_ECHO 5000
#define PORT_CTL 5001
#define PORT_DIGEST 5002
#define CLIENT_PORT_BASE 40000
#define PROBE_PORT 60000 /* hostile(): guest ports of probe packets for no connection */

/* Receive buffers: RX_BIG of header + 64 KiB + slack, RX_PAGE of 4 KiB, RX_SPLIT chains of a
 * header-sized buffer and a 2 KiB one, RX_TINY of a header and one byte. */
#define RX_BIG 16
#define RX_PAGE 32
#define RX_SPLIT 16
#define RX_TINY 8
#define RX_NR (RX_BIG + RX_PAGE + RX_SPLIT + RX_TINY)
#define RX_BAD 4 /* hostile(): buffers the device must hand back unused */
#define BIG_SIZE (HDR + MAX_PAYLOAD + 64)
#define SPLIT_DATA 2048

/* Connections: each has CONN_BUF bytes for what goes to the host (the echo's copy, a reply, the
 * client's pattern), which is also the credit it gives kiln. */
#define MAX_CONNS 128
#define CONN_BUF (64u * 1024)
#define TX_SLOTS 48
#define TX_CHUNK (32u * 1024)
#define RECS 256

/* A bound on every wait for the device (TSC cycles: tens of seconds on any host). */
#define STALL (1ull << 37)

enum { C_FREE, C_CONNECTING, C_OPEN, C_CLOSING, C_DEAD };
enum { R_ECHO = 1, R_CTL, R_DIGEST, R_CLIENT, R_RAW };

struct pkt {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
	u16 type, op;
};

struct conn {
	u32 state, role;
	u32 lport, pport;   /* this guest's port, the host's */
	u8 *buf;            /* CONN_BUF bytes, a ring of the stream to the host */
	u32 q_done, q_sent, q_end; /* stream offsets: sent and used by the device, posted, produced */
	u32 inflight;       /* transmit packets of this connection not yet used */
	u32 rx_cnt, fwd_cnt, fwd_told; /* from the host: received, consumed, consumed as last told */
	u32 peer_alloc, peer_fwd;      /* kiln's last word on its buffer */
	int peer_no_send, peer_no_rcv, shut_send_sent, credit_asked, credit_req_sent, reply_made;
	u32 crc_rx, crc_tx;
	u32 goal;           /* client: bytes to send */
	int refused;        /* client: the REQUEST was answered with RST */
	int reset;          /* an RST arrived */
	u32 line_len;
	char line[96];
};

struct rxb {
	u8 *buf;            /* the header's buffer, and the payload's unless buf2 */
	u32 len;
	u8 *buf2;           /* the payload's own buffer, or NULL */
	u32 len2;
	int bad;            /* hostile(): the device must return it with nothing written */
	int readable;       /* hostile(): posted device-readable */
};

struct txs {
	u8 hdr[HDR];
	struct conn *c;     /* NULL: a packet of hostile()'s own */
	u32 bytes;          /* ring bytes it carries */
	int busy;
};

static struct vio_bus bus;
static struct vio_dev dev;
static struct vq rxq, txq, evq;
static u64 my_cid;

static u8 rx_big[RX_BIG][BIG_SIZE] __attribute__((aligned(64)));
static u8 rx_page[RX_PAGE][4096] __attribute__((aligned(64)));
static u8 rx_split_hdr[RX_SPLIT][64] __attribute__((aligned(64)));
static u8 rx_split_data[RX_SPLIT][SPLIT_DATA] __attribute__((aligned(64)));
static u8 rx_tiny[RX_TINY][64] __attribute__((aligned(64)));
static u8 rx_bad_mem[RX_BAD][128] __attribute__((aligned(64)));
static u8 ev_buf[8][8] __attribute__((aligned(8)));
static struct rxb rxbs[RX_NR + RX_BAD];
static int rx_reposted;

static struct txs txslots[TX_SLOTS];
static int tx_posted;

static struct conn conns[MAX_CONNS];
static u8 conn_mem[MAX_CONNS][CONN_BUF] __attribute__((aligned(4096)));
static u32 next_client_port = CLIENT_PORT_BASE;

/* What echo connections received, by host port, for "sum". */
static struct { u32 pport, bytes, crc; } recs[RECS];
static u32 nrecs;

/* RSTs for no connection of the guest's (hostile()'s answers). */
static struct { u32 lport, pport; } loose[64];
static u32 nloose;

static struct {
	u32 open, peak, accepted, refused, resets, shutdowns, rx_packets, tx_packets;
	u32 rx_bytes, tx_bytes; /* RW payload taken from the device; given it, less what kiln refused */
	u32 bad_returned, rx_by_kind[4], biggest;
} st;

static char cmd[96];
static int cmd_ready;

static u32 crc_table[256];

static void crc_init(void)
{
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* CRC-32 (zlib's): crc = crc32_update(crc, ...) starting from 0. */
static u32 crc32_update(u32 crc, const u8 *p, u32 n)
{
	crc = ~crc;
	for (u32 i = 0; i < n; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static u8 pattern(u32 i, u32 seed)
{
	return (u8)(i * 131 + seed + (i >> 11));
}

static void put16(u8 *p, u16 v) { p[0] = (u8)v; p[1] = (u8)(v >> 8); }
static void put32(u8 *p, u32 v) { put16(p, (u16)v); put16(p + 2, (u16)(v >> 16)); }
static void put64(u8 *p, u64 v) { put32(p, (u32)v); put32(p + 4, (u32)(v >> 32)); }
static u16 get16(const u8 *p) { return (u16)(p[0] | p[1] << 8); }
static u32 get32(const u8 *p) { return get16(p) | (u32)get16(p + 2) << 16; }
static u64 get64(const u8 *p) { return get32(p) | (u64)get32(p + 4) << 32; }

/* ---- small text output into a buffer (control replies) ------------------------------------ */

struct text {
	char s[128];
	u32 n;
};

static void t_str(struct text *t, const char *s)
{
	while (*s && t->n < sizeof(t->s) - 1)
		t->s[t->n++] = *s++;
}

static void t_dec(struct text *t, u32 v)
{
	char b[12];
	int n = 0;
	do {
		b[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n > 0 && t->n < sizeof(t->s) - 1)
		t->s[t->n++] = b[--n];
}

static void t_hex(struct text *t, u32 v)
{
	t_str(t, "0x");
	for (int i = 7; i >= 0; i--)
		if (t->n < sizeof(t->s) - 1)
			t->s[t->n++] = "0123456789abcdef"[(v >> (4 * i)) & 0xf];
}

/* ---- transmit ------------------------------------------------------------------------------ */

static void conn_release(struct conn *c);

/* Takes what the device finished sending. Returns how many. */
static u32 tx_reap(void)
{
	u32 n = 0;
	void *cookie;
	int id;

	while ((id = vq_get_used(&txq, NULL, &cookie)) != -1) {
		if (id < 0)
			guest_fail("transmit queue returned a bad id");
		struct txs *s = cookie;
		struct conn *c = s->c;
		s->busy = 0;
		n++;
		if (!c)
			continue;
		c->inflight--;
		c->q_done += s->bytes;
		if (c->role == R_ECHO)
			c->fwd_cnt += s->bytes; /* echoed bytes leave the buffer only now */
		if (c->state == C_DEAD && !c->inflight)
			conn_release(c);
	}
	return n;
}

static void tx_kick(void)
{
	if (tx_posted) {
		vq_kick(&txq);
		tx_posted = 0;
	}
}

/* Waits (bounded) until the device used at least one transmit packet. */
static void tx_wait(void)
{
	u64 t0 = rdtsc();

	tx_kick();
	while (!tx_reap()) {
		cpu_relax();
		if (rdtsc() - t0 > STALL) {
			vio_dump(&dev, "transmit stalled");
			guest_fail("the device used no transmit packet");
		}
	}
}

static struct txs *tx_slot(void)
{
	for (;;) {
		for (u32 i = 0; i < TX_SLOTS; i++)
			if (!txslots[i].busy) {
				txslots[i].busy = 1;
				txslots[i].c = NULL;
				txslots[i].bytes = 0;
				return &txslots[i];
			}
		tx_wait();
	}
}

static void tx_submit(struct txs *s, const struct vio_buf *b, u32 n)
{
	while (vq_post(&txq, b, n, 0, s) < 0)
		tx_wait();
	tx_posted = 1;
	st.tx_packets++;
}

static void fill_hdr(u8 *h, u64 src_cid, u64 dst_cid, u32 sport, u32 dport, u16 type, u16 op,
		     u32 len, u32 flags, u32 buf_alloc, u32 fwd_cnt)
{
	put64(h, src_cid);
	put64(h + 8, dst_cid);
	put32(h + 16, sport);
	put32(h + 20, dport);
	put32(h + 24, len);
	put16(h + 28, type);
	put16(h + 30, op);
	put32(h + 32, flags);
	put32(h + 36, buf_alloc);
	put32(h + 40, fwd_cnt);
}

/* One packet of connection c: `len` bytes of its ring from stream offset `off` (RW), or none. */
static void conn_send(struct conn *c, u16 op, u32 flags, u32 off, u32 len)
{
	struct txs *s = tx_slot();
	struct vio_buf b[3];
	u32 n = 0;

	fill_hdr(s->hdr, my_cid, CID_HOST, c->lport, c->pport, TYPE_STREAM, op, len, flags,
		 CONN_BUF, c->fwd_cnt);
	c->fwd_told = c->fwd_cnt;
	b[n++] = (struct vio_buf){ (u32)(uptr)s->hdr, HDR, 0 };
	if (len) {
		u32 pos = off & (CONN_BUF - 1);
		u32 first = len < CONN_BUF - pos ? len : CONN_BUF - pos;
		b[n++] = (struct vio_buf){ (u32)(uptr)(c->buf + pos), first, 0 };
		if (first < len)
			b[n++] = (struct vio_buf){ (u32)(uptr)c->buf, len - first, 0 };
		st.tx_bytes += len;
	}
	s->c = c;
	s->bytes = op == OP_RW ? len : 0;
	c->inflight++;
	tx_submit(s, b, n);
}

/* ---- connections --------------------------------------------------------------------------- */

static struct conn *conn_find(u32 lport, u32 pport)
{
	for (u32 i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &conns[i];
		if (c->state != C_FREE && c->state != C_DEAD && c->lport == lport && c->pport == pport)
			return c;
	}
	return NULL;
}

static struct conn *conn_new(u32 role, u32 lport, u32 pport, u32 state)
{
	for (u32 i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &conns[i];
		if (c->state != C_FREE)
			continue;
		u8 *buf = conn_mem[i];
		u8 *z = (u8 *)c;
		for (u32 k = 0; k < sizeof(*c); k++)
			z[k] = 0;
		c->buf = buf;
		c->role = role;
		c->lport = lport;
		c->pport = pport;
		c->state = state;
		if (++st.open > st.peak)
			st.peak = st.open;
		return c;
	}
	return NULL;
}

static void conn_release(struct conn *c)
{
	c->state = C_FREE;
	st.open--;
}

/* The connection is over (RST sent or received): its slot is free once the device is done with
 * what it still has to send from its ring. */
static void conn_gone(struct conn *c)
{
	if (c->inflight)
		c->state = C_DEAD;
	else
		conn_release(c);
}

static void record(struct conn *c)
{
	recs[nrecs % RECS].pport = c->pport;
	recs[nrecs % RECS].bytes = c->rx_cnt;
	recs[nrecs % RECS].crc = c->crc_rx;
	nrecs++;
}

/* A clean close: SHUTDOWN both ways; kiln answers with RST once it is done (5.10.6.6). */
static void conn_close(struct conn *c)
{
	if (c->role == R_ECHO)
		record(c);
	conn_send(c, OP_SHUTDOWN, SHUT_RCV | SHUT_SEND, 0, 0);
	c->state = C_CLOSING;
}

/* Appends to the stream to the host (the caller checked the room). */
static void conn_put(struct conn *c, const u8 *p, u32 n)
{
	if (n > CONN_BUF - (c->q_end - c->q_done))
		guest_fail("a connection's buffer overflowed (guest bug)");
	for (u32 i = 0; i < n; i++)
		c->buf[(c->q_end + i) & (CONN_BUF - 1)] = p[i];
	c->q_end += n;
}

static void ctl_reply(struct conn *c, const struct text *t)
{
	conn_put(c, (const u8 *)t->s, t->n);
	conn_put(c, (const u8 *)"\n", 1);
}

static void send_rst(u32 lport, u32 pport)
{
	struct txs *s = tx_slot();
	struct vio_buf b = { (u32)(uptr)s->hdr, HDR, 0 };

	fill_hdr(s->hdr, my_cid, CID_HOST, lport, pport, TYPE_STREAM, OP_RST, 0, 0, 0, 0);
	tx_submit(s, &b, 1);
}

/* Payload for connection c. */
static void conn_data(struct conn *c, const u8 *p, u32 len)
{
	if (c->state == C_CLOSING)
		return; /* sent before kiln saw the guest's SHUTDOWN: nobody wants it */
	if (c->state != C_OPEN || c->peer_no_send)
		guest_fail("data for a connection that is not open, or after SHUTDOWN(SEND)");
	if (c->rx_cnt + len - c->fwd_told > CONN_BUF)
		guest_fail("kiln sent beyond the credit the guest gave");
	c->crc_rx = crc32_update(c->crc_rx, p, len);
	switch (c->role) {
	case R_ECHO:
		conn_put(c, p, len); /* consumed once echoed (tx_reap) */
		break;
	case R_DIGEST:
	case R_RAW:
		c->fwd_cnt += len;
		break;
	case R_CLIENT:
		for (u32 i = 0; i < len; i++)
			if (p[i] != pattern(c->rx_cnt + i, c->lport))
				guest_fail("client: the host's echo differs from what the guest sent");
		c->fwd_cnt += len;
		break;
	case R_CTL:
		for (u32 i = 0; i < len; i++) {
			if (p[i] != '\n') {
				if (c->line_len >= sizeof(c->line) - 1)
					guest_fail("control: line too long");
				c->line[c->line_len++] = (char)p[i];
				continue;
			}
			if (cmd_ready)
				guest_fail("control: a second command before the first was answered");
			for (u32 k = 0; k < c->line_len; k++)
				cmd[k] = c->line[k];
			cmd[c->line_len] = 0;
			c->line_len = 0;
			cmd_ready = 1;
		}
		c->fwd_cnt += len;
		break;
	}
	c->rx_cnt += len;
}

static void loose_rst(u32 lport, u32 pport)
{
	if (nloose < sizeof(loose) / sizeof(loose[0])) {
		loose[nloose].lport = lport;
		loose[nloose].pport = pport;
		nloose++;
	}
}

static void on_packet(const struct pkt *h, const u8 *data)
{
	struct conn *c = conn_find(h->dst_port, h->src_port);

	if (h->src_cid != CID_HOST || h->dst_cid != my_cid || h->type != TYPE_STREAM)
		guest_fail("a packet with the wrong CIDs or type");
	if (h->op != OP_RW && h->len)
		guest_fail("a control packet with a payload");
	if (!c) {
		u32 role = h->dst_port == PORT_ECHO ? R_ECHO : h->dst_port == PORT_CTL ? R_CTL :
			   h->dst_port == PORT_DIGEST ? R_DIGEST : 0;
		if (h->op == OP_RST) {
			loose_rst(h->dst_port, h->src_port);
		} else if (h->op == OP_REQUEST && role &&
			   (c = conn_new(role, h->dst_port, h->src_port, C_OPEN)) != NULL) {
			c->peer_alloc = h->buf_alloc;
			c->peer_fwd = h->fwd_cnt;
			st.accepted++;
			conn_send(c, OP_RESPONSE, 0, 0, 0);
		} else {
			if (h->op == OP_REQUEST)
				st.refused++;
			else if (h->dst_port < CLIENT_PORT_BASE)
				guest_fail("a packet other than REQUEST for no connection");
			send_rst(h->dst_port, h->src_port);
		}
		return;
	}
	c->peer_alloc = h->buf_alloc;
	c->peer_fwd = h->fwd_cnt;
	switch (h->op) {
	case OP_RESPONSE:
		if (c->state != C_CONNECTING)
			guest_fail("RESPONSE for a connection that did not ask");
		c->state = C_OPEN;
		break;
	case OP_RST:
		if (c->state == C_CONNECTING)
			c->refused = 1;
		else if (c->state != C_CLOSING)
			st.resets++;
		c->reset = 1;
		conn_gone(c);
		break;
	case OP_SHUTDOWN:
		if (h->flags & ~(u32)(SHUT_RCV | SHUT_SEND))
			guest_fail("SHUTDOWN with unknown flags");
		if (h->flags & SHUT_SEND)
			c->peer_no_send = 1;
		if (h->flags & SHUT_RCV)
			c->peer_no_rcv = 1;
		st.shutdowns++;
		break;
	case OP_RW:
		conn_data(c, data, h->len);
		break;
	case OP_CREDIT_UPDATE:
		break;
	case OP_CREDIT_REQUEST:
		c->credit_asked = 1;
		break;
	default:
		guest_fail("kiln sent a REQUEST for a live connection, or an unknown operation");
	}
}

/* ---- receive ------------------------------------------------------------------------------- */

static void post_rx(struct rxb *b)
{
	struct vio_buf v[2] = { { (u32)(uptr)b->buf, b->len, !b->readable },
				{ (u32)(uptr)b->buf2, b->len2, 1 } };

	if (vq_post(&rxq, v, b->buf2 ? 2 : 1, 0, b) < 0)
		guest_fail("vq_post refused a receive buffer");
	rx_reposted = 1;
}

/* Takes one received packet. Returns 0 when there is none. */
static int rx_take(void)
{
	void *cookie;
	u32 used;
	int id = vq_get_used(&rxq, &used, &cookie);

	if (id == -1)
		return 0;
	if (id < 0)
		guest_fail("receive queue returned a bad id");
	struct rxb *b = cookie;
	if (b->bad) {
		if (used != 0)
			guest_fail("kiln used a receive buffer that cannot hold a packet");
		st.bad_returned++;
		return 1;
	}
	if (used < HDR)
		guest_fail("a used receive buffer shorter than a header");
	struct pkt h;
	const u8 *p = b->buf;
	h.src_cid = get64(p);
	h.dst_cid = get64(p + 8);
	h.src_port = get32(p + 16);
	h.dst_port = get32(p + 20);
	h.len = get32(p + 24);
	h.type = get16(p + 28);
	h.op = get16(p + 30);
	h.flags = get32(p + 32);
	h.buf_alloc = get32(p + 36);
	h.fwd_cnt = get32(p + 40);
	const u8 *data = b->buf2 ? b->buf2 : b->buf + HDR;
	u32 room = b->buf2 ? b->len2 : b->len - HDR;
	if (h.len > MAX_PAYLOAD || h.len > room)
		guest_fail("a packet longer than 64 KiB or than its receive buffer");
	if (used != HDR + h.len)
		guest_fail("used length is not header plus payload");
	st.rx_packets++;
	if (h.op == OP_RW)
		st.rx_bytes += h.len;
	if (h.len > st.biggest)
		st.biggest = h.len;
	if (h.len)
		st.rx_by_kind[b->buf2 ? 2 : b->len == BIG_SIZE ? 0 : b->len == 4096 ? 1 : 3]++;
	on_packet(&h, data);
	post_rx(b);
	return 1;
}

/* ---- the connections' own work ------------------------------------------------------------- */

static u32 peer_credit(const struct conn *c)
{
	u32 used = c->q_sent - c->peer_fwd;
	return used >= c->peer_alloc ? 0 : c->peer_alloc - used;
}

static void produce(struct conn *c)
{
	if (c->role == R_CLIENT) {
		u32 room = CONN_BUF - (c->q_end - c->q_done);
		u32 n = c->goal - c->q_end < room ? c->goal - c->q_end : room;
		u32 pos = c->q_end & (CONN_BUF - 1), first = n < CONN_BUF - pos ? n : CONN_BUF - pos;
		for (u32 i = 0; i < n; i++)
			c->buf[(pos + i) & (CONN_BUF - 1)] = pattern(c->q_end + i, c->lport);
		c->crc_tx = crc32_update(c->crc_tx, c->buf + pos, first);
		c->crc_tx = crc32_update(c->crc_tx, c->buf, n - first);
		c->q_end += n;
	} else if (c->role == R_DIGEST && c->peer_no_send && !c->reply_made) {
		struct text t = { .n = 0 };
		t_dec(&t, c->rx_cnt);
		t_str(&t, " ");
		t_hex(&t, c->crc_rx);
		ctl_reply(c, &t);
		c->reply_made = 1;
	}
}

static void service(struct conn *c)
{
	if (c->state != C_OPEN || c->role == R_RAW)
		return;
	produce(c);
	if (!c->peer_no_rcv && !c->shut_send_sent) {
		while (c->q_sent != c->q_end) {
			u32 n = c->q_end - c->q_sent, credit = peer_credit(c);
			if (!credit) {
				/* Out of credit with data waiting: ask once (kiln also updates unasked). */
				if (!c->credit_req_sent) {
					conn_send(c, OP_CREDIT_REQUEST, 0, 0, 0);
					c->credit_req_sent = 1;
				}
				break;
			}
			if (n > credit)
				n = credit;
			if (n > TX_CHUNK)
				n = TX_CHUNK;
			conn_send(c, OP_RW, 0, c->q_sent, n);
			c->q_sent += n;
			c->credit_req_sent = 0;
		}
	}
	if (c->credit_asked || c->fwd_cnt - c->fwd_told >= CONN_BUF / 2) {
		conn_send(c, OP_CREDIT_UPDATE, 0, 0, 0);
		c->credit_asked = 0;
	}
	switch (c->role) {
	case R_ECHO:
		if ((c->peer_no_send && c->q_sent == c->q_end) || c->peer_no_rcv)
			conn_close(c);
		break;
	case R_DIGEST:
		if ((c->reply_made && c->q_sent == c->q_end) || c->peer_no_rcv)
			conn_close(c);
		break;
	case R_CLIENT:
		if (c->q_sent == c->goal && !c->shut_send_sent) {
			conn_send(c, OP_SHUTDOWN, SHUT_SEND, 0, 0);
			c->shut_send_sent = 1;
		}
		if (c->peer_no_send || c->peer_no_rcv)
			conn_close(c);
		break;
	case R_CTL:
		/* "done" may come with the host's end of file: answer it first. */
		if ((c->peer_no_send || c->peer_no_rcv) && !cmd_ready)
			guest_fail("the host closed the control connection");
		break;
	}
}

/* One round: packets in, transmit completions, each connection's work, kicks. Returns whether
 * anything happened. */
static int pump(void)
{
	int progress = 0;

	rx_reposted = 0;
	for (u32 n = 0; n < 256 && rx_take(); n++)
		progress = 1;
	if (rx_reposted)
		vq_kick(&rxq);
	if (tx_reap())
		progress = 1;
	for (u32 i = 0; i < MAX_CONNS; i++)
		service(&conns[i]);
	if (tx_posted)
		progress = 1;
	tx_kick();
	return progress;
}

/* Pumps until *flag is set (bounded: fails with `what`). */
static void pump_until(const int *flag, const char *what)
{
	u64 t0 = rdtsc();

	while (!*(volatile const int *)flag) {
		if (pump())
			t0 = rdtsc();
		else
			cpu_relax();
		if (rdtsc() - t0 > STALL)
			guest_fail(what);
	}
}

/* ---- control commands ---------------------------------------------------------------------- */

static struct conn *ctl_conn(void)
{
	for (u32 i = 0; i < MAX_CONNS; i++)
		if (conns[i].state == C_OPEN && conns[i].role == R_CTL)
			return &conns[i];
	guest_fail("no control connection");
}

/* A decimal u32 after optional spaces (host ports have 10 digits: parse_dec() takes 9). */
static const char *parse_word_dec(const char *s, u32 *v)
{
	u64 n = 0;
	u32 digits = 0;
	while (*s == ' ')
		s++;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		n = n * 10 + (u32)(*s - '0');
		if (n > 0xffffffffu)
			guest_fail("control: a number beyond 32 bits");
	}
	if (!digits)
		guest_fail("control: a number expected");
	*v = (u32)n;
	return s;
}

/* Connects to host port `port` (a client to send `goal` bytes); returns the connection, open,
 * or NULL when kiln refused it. */
static struct conn *dial(u32 role, u32 port, u32 goal)
{
	struct conn *c = conn_new(role, next_client_port++, port, C_CONNECTING);
	int done = 0;
	u64 t0 = rdtsc();

	if (!c)
		guest_fail("no free connection slot");
	c->goal = goal;
	conn_send(c, OP_REQUEST, 0, 0, 0);
	while (!done) {
		pump();
		done = c->state != C_CONNECTING;
		if (rdtsc() - t0 > STALL)
			guest_fail("no answer to a REQUEST");
	}
	if (c->refused)
		return NULL;
	if (c->state != C_OPEN)
		guest_fail("a connection to the host ended before it was used");
	return c;
}

static void cmd_client(struct text *t, u32 port, u32 bytes)
{
	struct conn *c = dial(R_CLIENT, port, bytes);
	u64 t0 = rdtsc();

	t_str(t, "client ");
	t_dec(t, port);
	if (!c) {
		t_str(t, " refused");
		return;
	}
	/* Until kiln's RST and the device's last transmit completion. */
	while (c->state != C_FREE) {
		if (pump())
			t0 = rdtsc();
		if (rdtsc() - t0 > STALL)
			guest_fail("client: the exchange with the host stalled");
	}
	if (c->rx_cnt != bytes || c->q_done != bytes)
		guest_fail("client: the host did not echo every byte before closing");
	t_str(t, " ok ");
	t_dec(t, bytes);
	t_str(t, " ");
	t_hex(t, c->crc_tx);
	serial_puts("vsock: client to host port ");
	serial_put_dec(port);
	serial_puts(": sent ");
	serial_put_dec(bytes);
	serial_puts(" bytes, all echoed\n");
}

static u32 hostile(void);
static void driver_reset(void);

static void run_cmd(void)
{
	struct conn *ctl = ctl_conn();
	struct text t = { .n = 0 };
	const char *s = cmd;
	u32 a, b;

	if (k_strncmp(s, "sum ", 4) == 0) {
		parse_word_dec(s + 4, &a);
		t_str(&t, "sum ");
		t_dec(&t, a);
		struct conn *c = NULL;
		for (u32 i = 0; i < MAX_CONNS && !c; i++)
			if (conns[i].state != C_FREE && conns[i].role == R_ECHO && conns[i].pport == a)
				c = &conns[i];
		if (c) {
			t_str(&t, " ");
			t_dec(&t, c->rx_cnt);
			t_str(&t, " ");
			t_hex(&t, c->crc_rx);
		} else {
			u32 i = nrecs;
			while (i > 0 && nrecs - i < RECS && recs[(i - 1) % RECS].pport != a)
				i--;
			if (i == 0 || nrecs - i >= RECS) {
				t_str(&t, " none");
			} else {
				t_str(&t, " ");
				t_dec(&t, recs[(i - 1) % RECS].bytes);
				t_str(&t, " ");
				t_hex(&t, recs[(i - 1) % RECS].crc);
			}
		}
	} else if (k_strncmp(s, "stats", 6) == 0) {
		t_str(&t, "stats open=");
		t_dec(&t, st.open);
		t_str(&t, " peak=");
		t_dec(&t, st.peak);
		t_str(&t, " accepted=");
		t_dec(&t, st.accepted);
		t_str(&t, " refused=");
		t_dec(&t, st.refused);
		t_str(&t, " resets=");
		t_dec(&t, st.resets);
		t_str(&t, " rx=");
		t_dec(&t, st.rx_bytes);
		t_str(&t, " tx=");
		t_dec(&t, st.tx_bytes);
	} else if (k_strncmp(s, "client ", 7) == 0) {
		s = parse_word_dec(s + 7, &a);
		parse_word_dec(s, &b);
		cmd_client(&t, a, b);
	} else if (k_strncmp(s, "hostile", 8) == 0) {
		u32 n = hostile();
		t_str(&t, "hostile ok ");
		t_dec(&t, n);
	} else if (k_strncmp(s, "reset", 6) == 0) {
		driver_reset();
		return; /* no reply: the control connection went with the reset */
	} else if (k_strncmp(s, "done", 5) == 0) {
		serial_puts("vsock: done: ");
		serial_put_dec(st.accepted);
		serial_puts(" connections accepted, ");
		serial_put_dec(st.refused);
		serial_puts(" refused, peak ");
		serial_put_dec(st.peak);
		serial_puts(" open; ");
		serial_put_dec(st.rx_packets);
		serial_puts(" packets received (largest payload ");
		serial_put_dec(st.biggest);
		serial_puts("), ");
		serial_put_dec(st.tx_packets);
		serial_puts(" sent; payload ");
		serial_put_dec(st.rx_bytes);
		serial_puts(" bytes received, ");
		serial_put_dec(st.tx_bytes);
		serial_puts(" sent\n");
		serial_puts("vsock: payload packets by receive buffer: 64K+ ");
		serial_put_dec(st.rx_by_kind[0]);
		serial_puts(", 4K ");
		serial_put_dec(st.rx_by_kind[1]);
		serial_puts(", split ");
		serial_put_dec(st.rx_by_kind[2]);
		serial_puts(", one-byte ");
		serial_put_dec(st.rx_by_kind[3]);
		serial_putc('\n');
		guest_success();
	} else {
		guest_fail("control: unknown command");
	}
	cmd_ready = 0;
	ctl_reply(ctl, &t);
}

/* ---- hostile packets ----------------------------------------------------------------------- */

static u8 big_payload[MAX_PAYLOAD + 4464];
static u32 probe_seq;
static u32 hostile_cases;

static void raw(u64 src_cid, u64 dst_cid, u32 sport, u32 dport, u16 type, u16 op, u32 len,
		u32 flags, u32 buf_alloc, u32 fwd_cnt, const u8 *data, u32 dlen)
{
	struct txs *s = tx_slot();
	struct vio_buf b[2] = { { (u32)(uptr)s->hdr, HDR, 0 }, { (u32)(uptr)data, dlen, 0 } };

	fill_hdr(s->hdr, src_cid, dst_cid, sport, dport, type, op, len, flags, buf_alloc, fwd_cnt);
	tx_submit(s, b, dlen ? 2 : 1);
	tx_kick();
}

/* Whether an RST for guest port lport from host port pport came; takes it. */
static int take_loose(u32 lport, u32 pport)
{
	for (u32 i = 0; i < nloose; i++)
		if (loose[i].lport == lport && loose[i].pport == pport) {
			loose[i] = loose[--nloose];
			return 1;
		}
	return 0;
}

static void expect_rst(u32 lport, u32 pport, const char *what)
{
	u64 t0 = rdtsc();

	while (!take_loose(lport, pport)) {
		pump();
		if (rdtsc() - t0 > STALL) {
			serial_puts("vsock: hostile: ");
			serial_puts(what);
			serial_putc('\n');
			guest_fail("hostile: no RST came");
		}
	}
}

/* A packet for no connection, which kiln answers with RST, after whatever was sent before it
 * (kiln handles transmitted packets, and queues the RSTs, in order). */
static void probe(void)
{
	u32 p = PROBE_PORT + probe_seq++ % 1000;

	raw(my_cid, CID_HOST, p, 77, TYPE_STREAM, OP_RW, 1, 0, CONN_BUF, 0, (const u8 *)"p", 1);
	expect_rst(p, 77, "the probe packet was not answered");
}

static void expect_quiet(u32 lport, u32 pport, const char *what)
{
	probe();
	if (take_loose(lport, pport)) {
		serial_puts("vsock: hostile: ");
		serial_puts(what);
		serial_putc('\n');
		guest_fail("hostile: kiln answered a packet it should have dropped");
	}
}

static void hostile_done(const char *what)
{
	hostile_cases++;
	serial_puts("vsock: hostile: ");
	serial_puts(what);
	serial_putc('\n');
}

/* Sends within kiln's credit until it is all used (the host reads nothing), then beyond it:
 * kiln must reset the connection. Returns the bytes sent beyond the guest's view of the credit
 * before the RST came. */
static u32 credit_lie(struct conn *c)
{
	u32 beyond = 0;
	u64 t0 = rdtsc();

	for (int quiet = 0; quiet < 2;) {
		pump();
		u32 credit = peer_credit(c);
		if (!credit) {
			probe(); /* whatever kiln had said by then has arrived */
			quiet++;
			continue;
		}
		quiet = 0;
		if (credit > TX_CHUNK)
			credit = TX_CHUNK;
		conn_send(c, OP_RW, 0, c->q_sent, credit);
		c->q_sent += credit;
		tx_kick();
		if (rdtsc() - t0 > STALL)
			guest_fail("hostile: kiln's credit never ran out");
	}
	/* Beyond it now: a byte first, then more while kiln may still have had room it did not
	 * announce yet. */
	for (u32 n = 1; !c->reset; n = 4096) {
		if (beyond > 512 * 1024)
			guest_fail("hostile: kiln took far more than the credit it gave");
		conn_send(c, OP_RW, 0, c->q_sent, n);
		c->q_sent += n;
		beyond += n;
		tx_kick();
		probe();
	}
	return beyond;
}

static u32 hostile(void)
{
	static const u8 junk[8] = "garbage";
	struct conn *c;
	u32 n;

	hostile_cases = 0;
	nloose = 0;
	/* Not this guest's packets, or not for the host: dropped without an answer. */
	raw(my_cid + 1, CID_HOST, 7001, 7001, TYPE_STREAM, OP_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_quiet(7001, 7001, "another source CID got an answer");
	raw(my_cid | 1ull << 32, CID_HOST, 7002, 7002, TYPE_STREAM, OP_REQUEST, 0, 0, CONN_BUF, 0,
	    NULL, 0);
	expect_quiet(7002, 7002, "a source CID with high bits got an answer");
	raw(my_cid, 1, 7003, 7003, TYPE_STREAM, OP_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	raw(my_cid, my_cid, 7004, 7004, TYPE_STREAM, OP_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	raw(my_cid, CID_HOST | 1ull << 32, 7005, 7005, TYPE_STREAM, OP_RW, 3, 0, CONN_BUF, 0, junk, 3);
	raw(my_cid, 0xffffffffull, 7006, 7006, TYPE_STREAM, OP_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_quiet(7003, 7003, "a packet to CID 1 got an answer");
	if (take_loose(7004, 7004) || take_loose(7005, 7005) || take_loose(7006, 7006))
		guest_fail("hostile: a packet to another CID got an answer");
	hostile_done("wrong source and destination CIDs: dropped");

	/* Types other than stream: RST. */
	raw(my_cid, CID_HOST, 7010, 6000, 2, OP_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_rst(7010, 6000, "a seqpacket REQUEST was not reset");
	raw(my_cid, CID_HOST, 7011, 6000, 0xffff, OP_RW, 3, 0, CONN_BUF, 0, junk, 3);
	expect_rst(7011, 6000, "type 0xffff was not reset");
	hostile_done("seqpacket and unknown types: RST");

	/* Packets for connections that do not exist: RST, except for an RST. */
	raw(my_cid, CID_HOST, 7020, 7120, TYPE_STREAM, OP_RW, 7, 0, CONN_BUF, 0, junk, 7);
	expect_rst(7020, 7120, "data for no connection was not reset");
	raw(my_cid, CID_HOST, 7021, 7121, TYPE_STREAM, OP_RESPONSE, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_rst(7021, 7121, "a RESPONSE nobody asked for was not reset");
	raw(my_cid, CID_HOST, 7022, 7122, TYPE_STREAM, OP_CREDIT_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_rst(7022, 7122, "a CREDIT_REQUEST for no connection was not reset");
	raw(my_cid, CID_HOST, 7023, 7123, TYPE_STREAM, OP_SHUTDOWN, 0, 3, CONN_BUF, 0, NULL, 0);
	expect_rst(7023, 7123, "a SHUTDOWN for no connection was not reset");
	raw(my_cid, CID_HOST, 7024, 7124, TYPE_STREAM, OP_RST, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_quiet(7024, 7124, "an RST for no connection was answered");
	hostile_done("packets for no connection: RST (none for an RST)");

	/* Guest connections to host ports where nothing listens: RST. */
	raw(my_cid, CID_HOST, 7030, 6999, TYPE_STREAM, OP_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_rst(7030, 6999, "a REQUEST to a port with no listener was not reset");
	raw(my_cid, CID_HOST, 7031, 0xffffffffu, TYPE_STREAM, OP_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_rst(7031, 0xffffffffu, "a REQUEST to port 4294967295 was not reset");
	raw(my_cid, CID_HOST, 0xffffffffu, 0, TYPE_STREAM, OP_REQUEST, 0, 0, CONN_BUF, 0, NULL, 0);
	expect_rst(0xffffffffu, 0, "a REQUEST to port 0 was not reset");
	hostile_done("REQUESTs to host ports with no listener: RST");

	/* Transmit chains too short for a header: dropped. */
	{
		struct txs *s = tx_slot();
		struct vio_buf b[2];
		fill_hdr(s->hdr, my_cid, CID_HOST, 7040, 7140, TYPE_STREAM, OP_RW, 0, 0, 0, 0);
		b[0] = (struct vio_buf){ (u32)(uptr)s->hdr, 20, 0 };
		tx_submit(s, b, 1);
		s = tx_slot();
		b[0] = (struct vio_buf){ (u32)(uptr)s->hdr, 0, 0 };
		tx_submit(s, b, 1);
		tx_kick();
		expect_quiet(7040, 7140, "a 20-byte header got an answer");
		/* The header in two buffers is still a header: this one is data for no connection. */
		s = tx_slot();
		fill_hdr(s->hdr, my_cid, CID_HOST, 7041, 7141, TYPE_STREAM, OP_RW, 3, 0, 0, 0);
		b[0] = (struct vio_buf){ (u32)(uptr)s->hdr, 20, 0 };
		b[1] = (struct vio_buf){ (u32)(uptr)s->hdr + 20, HDR - 20, 0 };
		tx_submit(s, b, 2);
		raw(my_cid, CID_HOST, 7042, 7142, TYPE_STREAM, OP_RW, 3, 0, 0, 0, junk, 3);
		tx_kick();
		/* The split one carries no payload behind its length of 3: reset for its length. */
		expect_rst(7041, 7141, "a header in two buffers was not read as one");
		expect_rst(7042, 7142, "the packet after a split header was lost");
	}
	hostile_done("short and empty transmit chains: dropped; a header across buffers: read");

	/* Lengths that lie. */
	raw(my_cid, CID_HOST, 7050, 7150, TYPE_STREAM, OP_RW, 1000, 0, CONN_BUF, 0, junk, 1);
	expect_rst(7050, 7150, "a length beyond the chain was not reset");
	raw(my_cid, CID_HOST, 7051, 7151, TYPE_STREAM, OP_RW, sizeof(big_payload), 0, CONN_BUF, 0,
	    big_payload, sizeof(big_payload));
	expect_rst(7051, 7151, "a packet over 64 KiB was not reset");
	raw(my_cid, CID_HOST, 7052, 7152, TYPE_STREAM, OP_RW, 0xffffffffu, 0, CONN_BUF, 0, junk, 8);
	expect_rst(7052, 7152, "length 0xffffffff was not reset");
	hostile_done("lengths beyond the chain and over 64 KiB: RST");

	/* Live connections to the host's listener on port 6002 (it reads nothing until the end). */
	c = dial(R_RAW, 6002, 0);
	if (!c)
		guest_fail("hostile: no listener on host port 6002");
	n = credit_lie(c);
	st.tx_bytes -= n; /* refused: kiln counts what it takes */
	serial_puts("vsock: hostile: credit lie: reset after ");
	serial_put_dec(n);
	serial_puts(n == 1 ? " byte beyond the credit\n" : " bytes beyond the credit\n");
	hostile_done("data beyond kiln's credit: RST");

	c = dial(R_RAW, 6002, 0);
	if (!c)
		guest_fail("hostile: no listener on host port 6002");
	conn_send(c, 99, 0, 0, 0);
	tx_kick();
	pump_until(&c->reset, "hostile: an unknown operation was not reset");
	c = dial(R_RAW, 6002, 0);
	if (!c)
		guest_fail("hostile: no listener on host port 6002");
	conn_send(c, OP_REQUEST, 0, 0, 0);
	tx_kick();
	pump_until(&c->reset, "hostile: a second REQUEST was not reset");
	c = dial(R_RAW, 6002, 0);
	if (!c)
		guest_fail("hostile: no listener on host port 6002");
	raw(my_cid, CID_HOST, c->lport, c->pport, TYPE_STREAM, OP_RW, sizeof(big_payload), 0,
	    CONN_BUF, 0, big_payload, sizeof(big_payload));
	pump_until(&c->reset, "hostile: a packet over 64 KiB on a live connection was not reset");
	c = dial(R_RAW, 6002, 0);
	if (!c)
		guest_fail("hostile: no listener on host port 6002");
	conn_send(c, OP_SHUTDOWN, SHUT_SEND, 0, 0);
	conn_send(c, OP_RW, 0, 0, 5);
	st.tx_bytes -= 5;
	tx_kick();
	pump_until(&c->reset, "hostile: data after SHUTDOWN(SEND) was not reset");
	hostile_done("unknown operation, second REQUEST, oversize packet, data after SHUTDOWN: RST");

	/* Receive buffers that cannot take a packet: handed back unused. */
	{
		static const u32 lens[RX_BAD] = { HDR, 10, 0, 100 };
		st.bad_returned = 0;
		for (u32 i = 0; i < RX_BAD; i++) {
			struct rxb *b = &rxbs[RX_NR + i];
			b->buf = rx_bad_mem[i];
			b->len = lens[i];
			b->bad = 1;
			b->readable = i == 3;
			post_rx(b);
		}
		vq_kick(&rxq);
		for (u32 i = 0; st.bad_returned < RX_BAD; i++) {
			if (i > 2 * RX_NR)
				guest_fail("hostile: kiln kept receive buffers too small for a packet");
			probe();
		}
	}
	hostile_done("receive buffers of 44, 10, 0 bytes and a read-only one: returned unused");

	/* And the device still works: one more probe and a clean connection. */
	probe();
	if (nloose)
		guest_fail("hostile: RSTs nobody asked for");
	return hostile_cases;
}

/* ---- set-up and main loop ------------------------------------------------------------------ */

void device_irq(void)
{
	guest_fail("unexpected device interrupt");
}

void user_main(void)
{
	serial_puts("vsock: ring 3, serving ports 5000 (echo), 5001 (control), 5002 (digest)\n");
	for (;;) {
		if (!pump())
			cpu_relax();
		if (cmd_ready)
			run_cmd();
	}
}

static void rx_setup(void)
{
	u32 k = 0;

	for (u32 i = 0; i < RX_BIG; i++)
		rxbs[k++] = (struct rxb){ .buf = rx_big[i], .len = BIG_SIZE };
	for (u32 i = 0; i < RX_PAGE; i++)
		rxbs[k++] = (struct rxb){ .buf = rx_page[i], .len = 4096 };
	for (u32 i = 0; i < RX_SPLIT; i++)
		rxbs[k++] = (struct rxb){ .buf = rx_split_hdr[i], .len = HDR,
					  .buf2 = rx_split_data[i], .len2 = SPLIT_DATA };
	for (u32 i = 0; i < RX_TINY; i++)
		rxbs[k++] = (struct rxb){ .buf = rx_tiny[i], .len = HDR + 1 };
	/* Interleaved, so consecutive packets land in buffers of different shapes. */
	for (u32 i = 0; i < RX_NR; i++) {
		u32 j = (i * 29) % RX_NR; /* 29 is coprime to RX_NR (72) */
		post_rx(&rxbs[j]);
	}
}

/* Resets the device and sets it up: the three queues, every receive and event buffer,
 * DRIVER_OK. At boot (ring 0), and again on "reset" (ring 3), when the device forgets every
 * connection and so does the guest. */
static void device_setup(void)
{
	vio_arena_reset();
	if (vio_init(&dev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_VSOCK_F_STREAM)) != 0)
		guest_fail("feature negotiation failed");
	if (vio_config64(&dev, 0) != my_cid)
		guest_fail("the device's guest_cid is not the cid= of the command line");
	if (vio_queue_setup(&dev, &rxq, RXQ, 128) != 0 || vio_queue_setup(&dev, &txq, TXQ, 128) != 0 ||
	    vio_queue_setup(&dev, &evq, EVQ, 8) != 0)
		guest_fail("cannot set up the three queues");
	rx_setup();
	for (u32 i = 0; i < 8; i++) {
		struct vio_buf b = { (u32)(uptr)ev_buf[i], sizeof(ev_buf[i]), 1 };
		if (vq_post(&evq, &b, 1, 0, NULL) < 0)
			guest_fail("vq_post refused an event buffer");
	}
	vq_disable_irq(&rxq);
	vq_disable_irq(&txq);
	vq_disable_irq(&evq);
	vio_driver_ok(&dev);
	vq_kick(&rxq);
	vq_kick(&evq);
}

/* "reset": the driver starts over; the device must drop every connection (their host ends read
 * end of file, the control connection's included) and serve new ones. */
static void driver_reset(void)
{
	for (u32 i = 0; i < MAX_CONNS; i++)
		conns[i].state = C_FREE;
	for (u32 i = 0; i < TX_SLOTS; i++)
		txslots[i].busy = 0;
	st.open = 0;
	nloose = 0;
	tx_posted = 0;
	cmd_ready = 0;
	device_setup();
	serial_puts("vsock: driver reset: every connection dropped, the device set up again\n");
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	const char *cmdline = vio_boot(magic, mbi, &bus);
	const char *v = cmdline_find(cmdline, "cid=");
	int ok = 0;

	my_cid = v ? parse_dec(v, &ok) : 0;
	if (!ok)
		guest_fail("no cid= on the command line");
	ring3_trap_exceptions();
	crc_init();
	if (vio_find(&bus, VIRTIO_ID_VSOCK, 0, &dev) != 0)
		guest_fail("no virtio-vsock device");
	device_setup();
	serial_puts("vsock: cid ");
	serial_put_dec((u32)my_cid);
	serial_puts(", transport ");
	serial_put_dec(dev.index);
	serial_puts(" features=");
	serial_put_hex(dev.features);
	serial_putc('\n');
	enter_ring3();
}
