/* vsock.c: virtio-vsock over Unix sockets (vsock.h, docs/vsock.md). Every connection is one
 * host stream socket; all of them, and the listening socket, sit in one epoll set of the
 * device's own, which the I/O thread watches as a single fd. Data from the guest goes straight
 * to its socket, and what the socket cannot take yet waits in a per-connection buffer no larger
 * than the credit kiln gave the guest; data to the guest is read from the socket straight into
 * the guest's receive buffers, never more than the guest's credit allows, so a slow reader on
 * either side throttles the other and nothing is buffered without bound. */
#include "devices/virtio/vsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"

#define VSOCK_F_STREAM 0
#define VSOCK_HASH_SIZE 2048
/* Packets served per call before the device yields the I/O thread and comes back through its
 * own kick. */
#define VSOCK_BUDGET 256
/* Receive chains one read of a connection's socket may fill (Linux posts 4 KiB buffers: one
 * system call each would cost more than the copy), and the iovecs of one such read. */
#define VSOCK_RX_BATCH 16
#define VSOCK_BATCH_IOV 1024
/* "CONNECT 4294967295\n" and a little slack; a longer first line is refused. */
#define VSOCK_LINE_MAX 32
/* How long a host connection may take to send its CONNECT line, and the guest to answer its
 * REQUEST (Firecracker's 2 s), checked at this tick. */
#define VSOCK_CONNECT_TIMEOUT_MS 2000
#define VSOCK_TICK_MS 250
/* Credit updates are sent once the guest's view of its credit is half gone, and then only for
 * this much new room at least (or all of it). */
#define VSOCK_UPDATE_MIN (VSOCK_BUF_ALLOC / 8)

enum conn_state {
	CONN_LINE,    /* host-initiated: reading "CONNECT <port>\n" */
	CONN_REQUEST, /* host-initiated: REQUEST sent (or waiting to be), no RESPONSE yet */
	CONN_OPEN,
};

/* Control packets waiting to go to the guest. */
#define P_REQUEST 1u
#define P_RESPONSE 2u
#define P_CREDIT_UPDATE 4u
#define P_CREDIT_REQUEST 8u
#define P_SHUTDOWN 16u

struct vsock_conn {
	struct vsock_conn *hnext;          /* hash chain; then the dead list */
	struct vsock_conn *wnext, *wprev;  /* the work list */
	struct vsock_conn *anext, *aprev;  /* every live connection */
	int fd;
	enum conn_state state;
	uint32_t host_port, guest_port;
	unsigned int pending;              /* P_* */
	bool hashed, in_work, dead;
	bool readable;       /* the socket may have data (an edge came, no EAGAIN since) */
	bool host_eof;       /* the socket read end-of-file: SHUTDOWN(SEND) told the guest */
	bool guest_no_rcv, guest_no_send; /* the guest's SHUTDOWN flags so far */
	bool close_after_flush; /* the guest shut down both ways: RST once the buffer drains */
	bool credit_requested;
	/* Guest to host: bytes received, written to the socket, and fwd_cnt as last told. */
	uint32_t g2h_cnt, fwd_cnt, fwd_told;
	uint8_t *buf;        /* VSOCK_BUF_ALLOC bytes, a ring: what the socket has not taken */
	uint32_t buf_head, buf_len;
	/* Host to guest: bytes sent, and the guest's buffer and forwarded count. */
	uint32_t h2g_cnt, peer_buf_alloc, peer_fwd_cnt;
	uint64_t deadline_ns; /* CONN_LINE, CONN_REQUEST: when kiln gives up waiting */
};

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* Up to `max` iovecs for `len` bytes of iov[0..nr), starting `off` bytes in; returns how many. */
static unsigned int iov_slice(const struct iovec *iov, unsigned int nr, uint64_t off, uint64_t len,
			      struct iovec *out, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < nr && len && n < max; i++) {
		uint64_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		out[n++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, l };
		len -= l;
		off = 0;
	}
	return n;
}

/* Starts the ticks that end connections still waiting for a line or an answer. */
static void arm_timer(struct virtio_vsock *v)
{
	struct itimerspec it = { .it_interval = { 0, VSOCK_TICK_MS * 1000000L },
				 .it_value = { 0, VSOCK_TICK_MS * 1000000L } };

	if (!v->timer_armed && !timerfd_settime(v->timer_fd, 0, &it, NULL))
		v->timer_armed = true;
}

static bool queue_usable(const struct virtio_vsock *v, unsigned int q)
{
	return virtio_mmio_running(&v->t) && v->t.queues[q].desc && !v->t.queues[q].broken;
}

/* Comes back to queue `q` later, through its own kick eventfd. */
static void requeue(struct virtio_vsock *v, unsigned int q)
{
	uint64_t one = 1;

	if (v->t.kick_fd[q] >= 0 && write(v->t.kick_fd[q], &one, sizeof(one)) < 0)
		virtio_mmio_guest_error(&v->t, "cannot requeue queue %u: %s", q, strerror(errno));
}

/* ---- connections --------------------------------------------------------------------------- */

static unsigned int hash_of(uint32_t host_port, uint32_t guest_port)
{
	return ((host_port * 0x9e3779b1u) ^ (guest_port * 0x85ebca6bu)) % VSOCK_HASH_SIZE;
}

static struct vsock_conn *conn_find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (struct vsock_conn *c = v->hash[hash_of(host_port, guest_port)]; c; c = c->hnext)
		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
	return NULL;
}

static void conn_hash(struct virtio_vsock *v, struct vsock_conn *c)
{
	unsigned int h = hash_of(c->host_port, c->guest_port);

	c->hnext = v->hash[h];
	v->hash[h] = c;
	c->hashed = true;
}

static void conn_unhash(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct vsock_conn **pp = &v->hash[hash_of(c->host_port, c->guest_port)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->hashed = false;
}

static void work_add(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->in_work || c->dead)
		return;
	c->in_work = true;
	c->wnext = NULL;
	c->wprev = v->work_tail;
	if (v->work_tail)
		v->work_tail->wnext = c;
	else
		v->work_head = c;
	v->work_tail = c;
}

static void work_remove(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!c->in_work)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		v->work_head = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	else
		v->work_tail = c->wprev;
	c->wnext = c->wprev = NULL;
	c->in_work = false;
}

/* An RST for a connection kiln no longer has (or never had). */
static void loose_rst(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	if (v->nr_loose_rst == VSOCK_MAX_LOOSE_RST) {
		v->n.rst_dropped++;
		return;
	}
	v->loose_rst[v->nr_loose_rst].host_port = host_port;
	v->loose_rst[v->nr_loose_rst].guest_port = guest_port;
	v->nr_loose_rst++;
}

static struct vsock_conn *conn_new(struct virtio_vsock *v, int fd, enum conn_state state)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };

	if (!c)
		return NULL;
	c->fd = fd;
	c->state = state;
	ev.data.ptr = c;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		free(c);
		return NULL;
	}
	c->anext = v->all;
	if (v->all)
		v->all->aprev = c;
	v->all = c;
	v->nr_conns++;
	v->n.conns_added++;
	return c;
}

/* Ends a connection: with an RST to the guest when `rst` (once it knew of it), counted as
 * killed when `killed` (an error rather than a clean close). The struct is freed later
 * (free_dead()), since an epoll batch may still name it. */
static void conn_close(struct virtio_vsock *v, struct vsock_conn *c, bool rst, bool killed)
{
	if (c->dead)
		return;
	if (rst && c->state != CONN_LINE)
		loose_rst(v, c->host_port, c->guest_port);
	if (c->hashed)
		conn_unhash(v, c);
	work_remove(v, c);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		v->all = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	(void)epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	c->hnext = v->dead;
	v->dead = c;
	v->nr_conns--;
	v->n.conns_removed++;
	if (killed)
		v->n.conns_killed++;
}

static void free_dead(struct virtio_vsock *v)
{
	while (v->dead) {
		struct vsock_conn *c = v->dead;

		v->dead = c->hnext;
		free(c->buf);
		free(c);
	}
}

static void close_all(struct virtio_vsock *v)
{
	while (v->all)
		conn_close(v, v->all, false, false);
	free_dead(v);
}

/* What the guest may still be sent, by its last word on its buffer. */
static uint32_t h2g_credit(const struct vsock_conn *c)
{
	uint32_t used = c->h2g_cnt - c->peer_fwd_cnt;

	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

static bool can_send_data(const struct vsock_conn *c)
{
	return c->state == CONN_OPEN && c->readable && !c->host_eof && !c->guest_no_rcv;
}

/* Puts the connection on the work list if it has anything for the guest; with data waiting
 * and no credit, asks the guest for credit once. */
static void update_work(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->dead)
		return;
	if (can_send_data(c) && !h2g_credit(c) && !c->credit_requested) {
		c->pending |= P_CREDIT_REQUEST;
		c->credit_requested = true;
	}
	if (c->pending || (can_send_data(c) && h2g_credit(c)))
		work_add(v, c);
}

/* Tells the guest about room freed in kiln's buffer once its view of it runs low. */
static void maybe_credit_update(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t fresh = c->fwd_cnt - c->fwd_told;

	if (fresh && c->g2h_cnt - c->fwd_told >= VSOCK_BUF_ALLOC / 2 &&
	    (fresh >= VSOCK_UPDATE_MIN || !c->buf_len)) {
		c->pending |= P_CREDIT_UPDATE;
		work_add(v, c);
	}
}

/* ---- guest to host ------------------------------------------------------------------------- */

/* Writes what the buffer holds to the socket until it would block. Returns false when the
 * connection ended. */
static bool g2h_flush(struct virtio_vsock *v, struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t chunk = VSOCK_BUF_ALLOC - c->buf_head;
		ssize_t n;

		if (chunk > c->buf_len)
			chunk = c->buf_len;
		n = send(c->fd, c->buf + c->buf_head, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			v->n.tx_write_fails++;
			conn_close(v, c, true, true);
			return false;
		}
		c->buf_head = (c->buf_head + (uint32_t)n) % VSOCK_BUF_ALLOC;
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (!c->buf_len) {
		if (c->close_after_flush) {
			conn_close(v, c, true, false);
			return false;
		}
		if (c->guest_no_send)
			(void)shutdown(c->fd, SHUT_WR);
	}
	maybe_credit_update(v, c);
	return true;
}

/* `len` payload bytes of chain `ch` at `off` for the socket: written now as far as it takes
 * them, the rest kept in order. The caller checked the credit, so the buffer has room. */
static void g2h_data(struct virtio_vsock *v, struct vsock_conn *c, const struct virtq_chain *ch,
		     uint64_t off, uint32_t len)
{
	struct iovec iov[VIRTQ_MAX_CHAIN];
	unsigned int nr = iov_slice(ch->iov, ch->nr_out, off, len, iov, VIRTQ_MAX_CHAIN);
	uint32_t done = 0;

	if (!c->buf_len) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = nr };
		ssize_t n;

		do
			n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			v->n.tx_write_fails++;
			conn_close(v, c, true, true);
			return;
		}
		done = n > 0 ? (uint32_t)n : 0;
		c->fwd_cnt += done;
	}
	if (done < len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
			conn_close(v, c, true, true);
			return;
		}
		for (uint32_t at = done; at < len;) {
			uint32_t tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
			/* Contiguous room at the tail. tail == head means empty here: the ring
			 * is full only once the credit is used up, with nothing left to add. */
			uint32_t room = tail < c->buf_head ? c->buf_head - tail : VSOCK_BUF_ALLOC - tail;
			uint32_t l = len - at < room ? len - at : room;

			l = (uint32_t)iov_to_buf(iov, nr, at, c->buf + tail, l);
			if (!l)
				break; /* the chain ended early: cannot happen, len was checked */
			c->buf_len += l;
			at += l;
		}
	}
	maybe_credit_update(v, c);
}

/* A guest connection to host port `host_port`: the Unix socket "<uds_path>_<port>". */
static void guest_connect(struct virtio_vsock *v, uint32_t guest_port, uint32_t host_port,
			  uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd;

	if (v->nr_conns >= VSOCK_MAX_CONNS ||
	    (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->uds_path, host_port) >=
		    sizeof(sa.sun_path)) {
		loose_rst(v, host_port, guest_port);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		loose_rst(v, host_port, guest_port);
		return;
	}
	if (!(c = conn_new(v, fd, CONN_OPEN))) {
		close(fd);
		loose_rst(v, host_port, guest_port);
		return;
	}
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->peer_buf_alloc = buf_alloc;
	c->peer_fwd_cnt = fwd_cnt;
	c->readable = true;
	c->pending = P_RESPONSE;
	conn_hash(v, c);
	work_add(v, c);
}

/* The host end of a host-initiated connection learns its port: "OK <port>\n". */
static void host_connected(struct virtio_vsock *v, struct vsock_conn *c)
{
	char line[24];
	int len = snprintf(line, sizeof(line), "OK %u\n", c->host_port);

	if (send(c->fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) != len) {
		conn_close(v, c, true, true);
		return;
	}
	c->state = CONN_OPEN;
	c->readable = true; /* bytes after the CONNECT line may be waiting */
}

static void guest_shutdown(struct virtio_vsock *v, struct vsock_conn *c, uint32_t flags)
{
	if (flags & ~(uint32_t)(VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND))
		virtio_mmio_guest_error(&v->t, "vsock %u->%u: unknown shutdown flags 0x%x",
					c->guest_port, c->host_port, flags);
	if (flags & VSOCK_SHUTDOWN_RCV)
		c->guest_no_rcv = true;
	if (flags & VSOCK_SHUTDOWN_SEND)
		c->guest_no_send = true;
	if (c->guest_no_rcv && c->guest_no_send) {
		/* A clean close: the peer answers with RST (5.10.6.6), once the data is out. */
		if (!c->buf_len)
			conn_close(v, c, true, false);
		else
			c->close_after_flush = true;
	} else if (c->guest_no_send && !c->buf_len) {
		(void)shutdown(c->fd, SHUT_WR);
	}
}

/* One packet from the guest. */
static void tx_packet(struct virtio_vsock *v, const struct virtq_chain *ch)
{
	uint8_t h[VSOCK_HDR_LEN];
	uint64_t src_cid, dst_cid;
	uint32_t gport, hport, len;
	uint16_t type, op;
	struct vsock_conn *c;

	if (ch->out_len < VSOCK_HDR_LEN || virtq_chain_read(ch, 0, h, sizeof(h)) != sizeof(h)) {
		virtio_mmio_guest_error(&v->t, "tx %u: %llu bytes, shorter than a packet header",
					ch->head, (unsigned long long)ch->out_len);
		v->n.tx_malformed++;
		return;
	}
	src_cid = rd64(h + VSOCK_HDR_SRC_CID);
	dst_cid = rd64(h + VSOCK_HDR_DST_CID);
	gport = rd32(h + VSOCK_HDR_SRC_PORT);
	hport = rd32(h + VSOCK_HDR_DST_PORT);
	len = rd32(h + VSOCK_HDR_LEN_OFF);
	type = rd16(h + VSOCK_HDR_TYPE);
	op = rd16(h + VSOCK_HDR_OP);
	v->n.tx_packets++;
	if (src_cid != v->cid || dst_cid != VSOCK_CID_HOST) {
		/* Not a packet of this guest's to the host: nothing to answer it from. */
		virtio_mmio_guest_error(&v->t, "tx %u: packet from CID %llu to CID %llu dropped",
					ch->head, (unsigned long long)src_cid,
					(unsigned long long)dst_cid);
		v->n.tx_malformed++;
		return;
	}
	c = conn_find(v, hport, gport);
	if (type != VSOCK_TYPE_STREAM || len > VSOCK_MAX_PKT || len > ch->out_len - VSOCK_HDR_LEN) {
		virtio_mmio_guest_error(&v->t, "tx %u: port %u->%u: type %u, length %u of %llu "
					"refused", ch->head, gport, hport, type, len,
					(unsigned long long)(ch->out_len - VSOCK_HDR_LEN));
		v->n.tx_malformed++;
		if (op == VSOCK_OP_RST)
			return;
		if (c)
			conn_close(v, c, true, true);
		else
			loose_rst(v, hport, gport);
		return;
	}
	if (op == VSOCK_OP_REQUEST) {
		if (c)
			conn_close(v, c, true, true); /* a second REQUEST for a live connection */
		else
			guest_connect(v, gport, hport, rd32(h + VSOCK_HDR_BUF_ALLOC),
				      rd32(h + VSOCK_HDR_FWD_CNT));
		return;
	}
	if (!c) {
		if (op != VSOCK_OP_RST)
			loose_rst(v, hport, gport);
		return;
	}
	c->peer_buf_alloc = rd32(h + VSOCK_HDR_BUF_ALLOC);
	c->peer_fwd_cnt = rd32(h + VSOCK_HDR_FWD_CNT);
	c->credit_requested = false;
	switch (op) {
	case VSOCK_OP_RESPONSE:
		if (c->state != CONN_REQUEST) {
			conn_close(v, c, true, true);
			return;
		}
		host_connected(v, c);
		break;
	case VSOCK_OP_RST:
		conn_close(v, c, false, false);
		return;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(v, c, rd32(h + VSOCK_HDR_FLAGS));
		break;
	case VSOCK_OP_RW:
		if (c->state != CONN_OPEN || c->guest_no_send) {
			conn_close(v, c, true, true);
			return;
		}
		/* The credit as kiln last stated it (fwd_told): a guest may have seen no
		 * newer count, and one that sends beyond it disregards flow control. */
		if (c->g2h_cnt + len - c->fwd_told > VSOCK_BUF_ALLOC) {
			virtio_mmio_guest_error(&v->t, "vsock %u->%u: %u bytes beyond the credit "
						"given", gport, hport,
						c->g2h_cnt + len - c->fwd_told - VSOCK_BUF_ALLOC);
			v->n.tx_malformed++;
			conn_close(v, c, true, true);
			return;
		}
		c->g2h_cnt += len;
		v->n.tx_bytes += len;
		if (len)
			g2h_data(v, c, ch, VSOCK_HDR_LEN, len);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT_UPDATE;
		break;
	default:
		virtio_mmio_guest_error(&v->t, "vsock %u->%u: unknown operation %u", gport, hport,
					op);
		v->n.tx_malformed++;
		conn_close(v, c, true, true);
		return;
	}
	update_work(v, c);
}

/* ---- host to guest ------------------------------------------------------------------------- */

static void put_hdr(struct virtio_vsock *v, const struct virtq_chain *ch, uint32_t host_port,
		    uint32_t guest_port, uint16_t op, uint32_t len, uint32_t flags,
		    uint32_t buf_alloc, uint32_t fwd_cnt)
{
	uint8_t h[VSOCK_HDR_LEN] = { 0 };

	wr64(h + VSOCK_HDR_SRC_CID, VSOCK_CID_HOST);
	wr64(h + VSOCK_HDR_DST_CID, v->cid);
	wr32(h + VSOCK_HDR_SRC_PORT, host_port);
	wr32(h + VSOCK_HDR_DST_PORT, guest_port);
	wr32(h + VSOCK_HDR_LEN_OFF, len);
	wr16(h + VSOCK_HDR_TYPE, VSOCK_TYPE_STREAM);
	wr16(h + VSOCK_HDR_OP, op);
	wr32(h + VSOCK_HDR_FLAGS, flags);
	wr32(h + VSOCK_HDR_BUF_ALLOC, buf_alloc);
	wr32(h + VSOCK_HDR_FWD_CNT, fwd_cnt);
	iov_from_buf(ch->iov + ch->nr_out, ch->nr_in, 0, h, sizeof(h));
}

/* Fills receive chain `ch` with the connection's next packet. Returns the bytes written, or 0
 * when the connection had nothing after all (the chain goes back). */
static uint32_t rx_conn(struct virtio_vsock *v, struct vsock_conn *c, const struct virtq_chain *ch)
{
	uint16_t op = VSOCK_OP_INVALID;
	uint32_t len = 0, flags = 0;

	if (c->pending & P_REQUEST) {
		/* The guest has its time to answer from now (the timer runs: set at accept). */
		op = VSOCK_OP_REQUEST;
		c->pending &= ~P_REQUEST;
		c->deadline_ns = now_ns() + VSOCK_CONNECT_TIMEOUT_MS * 1000000ull;
		arm_timer(v);
	} else if (c->pending & P_RESPONSE) {
		op = VSOCK_OP_RESPONSE;
		c->pending &= ~P_RESPONSE;
	} else if (c->pending & P_CREDIT_UPDATE) {
		op = VSOCK_OP_CREDIT_UPDATE;
		c->pending &= ~P_CREDIT_UPDATE;
	} else if (c->pending & P_CREDIT_REQUEST) {
		op = VSOCK_OP_CREDIT_REQUEST;
		c->pending &= ~P_CREDIT_REQUEST;
	} else if (can_send_data(c) && h2g_credit(c)) {
		struct iovec iov[VIRTQ_MAX_CHAIN];
		uint64_t room = ch->in_len - VSOCK_HDR_LEN;
		uint32_t want = h2g_credit(c);
		unsigned int nr;
		ssize_t n;

		if (want > VSOCK_MAX_PKT)
			want = VSOCK_MAX_PKT;
		if (want > room)
			want = (uint32_t)room;
		nr = iov_slice(ch->iov + ch->nr_out, ch->nr_in, VSOCK_HDR_LEN, want, iov,
			       VIRTQ_MAX_CHAIN);
		do
			n = readv(c->fd, iov, (int)nr);
		while (n < 0 && errno == EINTR);
		if (n > 0) {
			op = VSOCK_OP_RW;
			len = (uint32_t)n;
			c->h2g_cnt += len;
			v->n.rx_bytes += len;
		} else if (n == 0) {
			/* End of file: the host sends no more; the guest may still send. */
			c->host_eof = true;
			c->pending |= P_SHUTDOWN;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->readable = false;
		} else {
			v->n.rx_read_fails++;
			conn_close(v, c, true, true);
			return 0;
		}
	}
	if (op == VSOCK_OP_INVALID && (c->pending & P_SHUTDOWN)) {
		op = VSOCK_OP_SHUTDOWN;
		flags = VSOCK_SHUTDOWN_SEND;
		c->pending &= ~P_SHUTDOWN;
	}
	work_remove(v, c);
	update_work(v, c); /* back at the tail when there is more: connections take turns */
	if (op == VSOCK_OP_INVALID)
		return 0;
	put_hdr(v, ch, c->host_port, c->guest_port, op, len, flags, VSOCK_BUF_ALLOC, c->fwd_cnt);
	c->fwd_told = c->fwd_cnt;
	return VSOCK_HDR_LEN + len;
}

/* Data of connection `c` (nothing else pending, data and credit there) into up to `max`
 * receive chains with one readv(). Returns the packets published; 0 leaves the next packet,
 * whatever it is (end of file, an error, a bad chain), to the one-chain path. Sets *stalled
 * when the guest has no receive buffer at all. */
static unsigned int rx_batch(struct virtio_vsock *v, struct vsock_conn *c, unsigned int max,
			     bool *stalled)
{
	struct virtq *q = &v->t.queues[VIRTIO_VSOCK_RXQ];
	uint32_t credit = h2g_credit(c), cap[VSOCK_RX_BATCH];
	unsigned int nr = 0, niov = 0, used = 0;
	uint64_t total = 0, left;
	struct virtq_fault f;
	ssize_t n;

	while (nr < max && nr < VSOCK_RX_BATCH && total < credit && niov < VSOCK_BATCH_IOV) {
		struct virtq_chain *ch = &v->batch[nr];
		int r = virtq_pop(q, ch, &f);
		uint64_t room = credit - total;
		unsigned int k;

		if (r < 0) {
			virtq_unpop(q, nr); /* the one-chain path meets the fault and reports it */
			return 0;
		}
		if (r == 0) {
			*stalled = !nr;
			break;
		}
		if (ch->nr_out || ch->in_len <= VSOCK_HDR_LEN) {
			virtq_unpop(q, 1); /* the one-chain path refuses it */
			break;
		}
		if (room > ch->in_len - VSOCK_HDR_LEN)
			room = ch->in_len - VSOCK_HDR_LEN;
		if (room > VSOCK_MAX_PKT)
			room = VSOCK_MAX_PKT;
		k = iov_slice(ch->iov + ch->nr_out, ch->nr_in, VSOCK_HDR_LEN, room,
			      v->batch_iov + niov, VSOCK_BATCH_IOV - niov);
		room = 0;
		for (unsigned int i = 0; i < k; i++)
			room += v->batch_iov[niov + i].iov_len;
		cap[nr++] = (uint32_t)room;
		niov += k;
		total += room;
	}
	if (!nr)
		return 0;
	do
		n = readv(c->fd, v->batch_iov, (int)niov);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		virtq_unpop(q, nr);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			c->readable = false;
		return 0;
	}
	left = (uint64_t)n;
	for (; used < nr && left; used++) {
		uint32_t l = left < cap[used] ? (uint32_t)left : cap[used];

		put_hdr(v, &v->batch[used], c->host_port, c->guest_port, VSOCK_OP_RW, l, 0,
			VSOCK_BUF_ALLOC, c->fwd_cnt);
		virtq_push(q, v->batch[used].head, VSOCK_HDR_LEN + l);
		left -= l;
	}
	virtq_unpop(q, nr - used); /* the last ones popped, which got nothing */
	c->fwd_told = c->fwd_cnt;
	c->h2g_cnt += (uint32_t)n;
	v->n.rx_bytes += (uint64_t)n;
	v->n.rx_packets += used;
	return used;
}

/* Moves packets to the guest while it has receive buffers. Lock held. */
static void rx_run(struct virtio_vsock *v)
{
	struct virtq *q = &v->t.queues[VIRTIO_VSOCK_RXQ];
	struct virtq_chain *ch = &v->chain;
	struct virtq_fault f;
	unsigned int done = 0;
	bool pushed = false;

	if (!queue_usable(v, VIRTIO_VSOCK_RXQ))
		return;
	v->rx_stalled = false;
	while ((v->nr_loose_rst || v->work_head) && done < VSOCK_BUDGET) {
		struct vsock_conn *c = v->work_head;
		uint32_t written;
		int r;

		if (!v->nr_loose_rst && !c->pending && can_send_data(c) && h2g_credit(c)) {
			bool stalled = false;
			unsigned int k = rx_batch(v, c, VSOCK_BUDGET - done, &stalled);

			if (stalled) {
				v->rx_stalled = true;
				break;
			}
			if (k) {
				done += k;
				pushed = true;
				work_remove(v, c); /* connections take turns */
				update_work(v, c);
				continue;
			}
		}
		r = virtq_pop(q, ch, &f);

		if (r < 0) {
			virtio_mmio_queue_fault(&v->t, VIRTIO_VSOCK_RXQ, &f);
			break;
		}
		if (r == 0) {
			v->rx_stalled = true;
			break;
		}
		if (ch->nr_out || ch->in_len <= VSOCK_HDR_LEN) {
			/* Data needs room after the header, whatever the next packet is. */
			virtio_mmio_guest_error(&v->t, "rx %u: not a writable buffer longer than a "
						"header", ch->head);
			virtq_push(q, ch->head, 0);
			pushed = true;
			continue;
		}
		if (v->nr_loose_rst) {
			put_hdr(v, ch, v->loose_rst[0].host_port, v->loose_rst[0].guest_port,
				VSOCK_OP_RST, 0, 0, 0, 0);
			memmove(v->loose_rst, v->loose_rst + 1,
				--v->nr_loose_rst * sizeof(v->loose_rst[0]));
			written = VSOCK_HDR_LEN;
		} else if (!(written = rx_conn(v, v->work_head, ch))) {
			virtq_unpop(q, 1);
			continue;
		}
		virtq_push(q, ch->head, written);
		v->n.rx_packets++;
		pushed = true;
		done++;
	}
	if (done == VSOCK_BUDGET)
		requeue(v, VIRTIO_VSOCK_RXQ);
	if (pushed)
		virtio_mmio_used(&v->t, VIRTIO_VSOCK_RXQ);
}

/* Delivers a waiting transport-reset event. Lock held. */
static void ev_run(struct virtio_vsock *v)
{
	struct virtq *q = &v->t.queues[VIRTIO_VSOCK_EVQ];
	struct virtq_fault f;
	uint8_t ev[4];
	int r;

	if (!v->reset_event || !queue_usable(v, VIRTIO_VSOCK_EVQ))
		return;
	r = virtq_pop(q, &v->chain, &f);
	if (r < 0) {
		virtio_mmio_queue_fault(&v->t, VIRTIO_VSOCK_EVQ, &f);
		return;
	}
	if (r == 0)
		return;
	if (v->chain.in_len < sizeof(ev)) {
		virtio_mmio_guest_error(&v->t, "event %u: %llu-byte buffer, below an event",
					v->chain.head, (unsigned long long)v->chain.in_len);
		virtq_push(q, v->chain.head, 0);
	} else {
		wr32(ev, VSOCK_EVENT_TRANSPORT_RESET);
		iov_from_buf(v->chain.iov + v->chain.nr_out, v->chain.nr_in, 0, ev, sizeof(ev));
		virtq_push(q, v->chain.head, sizeof(ev));
		v->reset_event = false;
	}
	virtio_mmio_used(&v->t, VIRTIO_VSOCK_EVQ);
}

/* Lock held. */
static void tx_run(struct virtio_vsock *v)
{
	struct virtq *q = &v->t.queues[VIRTIO_VSOCK_TXQ];
	struct virtq_chain *ch = &v->chain;
	struct virtq_fault f;
	unsigned int done = 0;
	int r = 0;

	while (done < VSOCK_BUDGET && (r = virtq_pop(q, ch, &f)) > 0) {
		if (ch->nr_in)
			virtio_mmio_guest_error(&v->t, "tx %u: chain has device-writable buffers",
						ch->head);
		tx_packet(v, ch);
		virtq_push(q, ch->head, 0);
		done++;
	}
	if (r < 0)
		virtio_mmio_queue_fault(&v->t, VIRTIO_VSOCK_TXQ, &f);
	else if (done == VSOCK_BUDGET)
		requeue(v, VIRTIO_VSOCK_TXQ);
	if (done)
		virtio_mmio_used(&v->t, VIRTIO_VSOCK_TXQ);
}

/* ---- host sockets -------------------------------------------------------------------------- */

/* A fresh host connection's first line, "CONNECT <port>\n": taken once whole, leaving any
 * bytes after it in the socket for the guest. Anything else closes the socket. */
static void host_line(struct virtio_vsock *v, struct vsock_conn *c)
{
	char line[VSOCK_LINE_MAX + 1];
	char *nl, *end;
	unsigned long port;
	ssize_t n = recv(c->fd, line, VSOCK_LINE_MAX, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(v, c, false, false);
		return;
	}
	line[n] = '\0';
	if (!(nl = memchr(line, '\n', (size_t)n))) {
		if (n == VSOCK_LINE_MAX)
			conn_close(v, c, false, true);
		return; /* the rest of the line is still on its way */
	}
	if (recv(c->fd, line, (size_t)(nl - line + 1), MSG_DONTWAIT) != nl - line + 1) {
		conn_close(v, c, false, true);
		return;
	}
	*nl = '\0';
	errno = 0;
	if (strncmp(line, "CONNECT ", 8) || line[8] < '0' || line[8] > '9' ||
	    (port = strtoul(line + 8, &end, 10)) > UINT32_MAX || *end || errno) {
		conn_close(v, c, false, true);
		return;
	}
	c->guest_port = (uint32_t)port;
	do {
		if (v->next_host_port < VSOCK_HOST_PORT_BASE) /* wrapped */
			v->next_host_port = VSOCK_HOST_PORT_BASE;
		c->host_port = v->next_host_port++;
	} while (conn_find(v, c->host_port, c->guest_port));
	c->state = CONN_REQUEST;
	c->pending = P_REQUEST;
	conn_hash(v, c);
	work_add(v, c);
}

static void host_accept(struct virtio_vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				pr_warn_ratelimited(&v->t.rl, "%s: accept on %s: %s", v->t.name,
						    v->uds_path, strerror(errno));
			return;
		}
		if (v->nr_conns >= VSOCK_MAX_CONNS || !(c = conn_new(v, fd, CONN_LINE))) {
			close(fd);
			v->n.conns_killed++;
			continue;
		}
		c->deadline_ns = now_ns() + VSOCK_CONNECT_TIMEOUT_MS * 1000000ull;
		arm_timer(v);
		host_line(v, c);
	}
}

/* A tick: host connections past their deadline are closed (with an RST once the guest was
 * asked); with none left waiting, the ticks stop. */
static void timer_tick(struct virtio_vsock *v)
{
	uint64_t expirations, now = now_ns();
	bool waiting = false;

	if (read(v->timer_fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
		return;
	for (struct vsock_conn *c = v->all, *next; c; c = next) {
		next = c->anext;
		if (c->state == CONN_OPEN)
			continue;
		if (now < c->deadline_ns) {
			waiting = true;
			continue;
		}
		if (c->state == CONN_REQUEST && !(c->pending & P_REQUEST)) {
			conn_close(v, c, true, true); /* the guest never answered */
		} else if (c->state == CONN_LINE) {
			conn_close(v, c, false, true); /* the host never sent its line */
		} else {
			waiting = true; /* the REQUEST itself still waits for a receive buffer */
		}
	}
	if (!waiting && !timerfd_settime(v->timer_fd, 0, &(struct itimerspec){ 0 }, NULL))
		v->timer_armed = false;
}

static void conn_event(struct virtio_vsock *v, struct vsock_conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (c->state == CONN_LINE) {
		host_line(v, c);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && c->buf_len && !g2h_flush(v, c))
		return;
	update_work(v, c);
}

void virtio_vsock_io(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	struct epoll_event evs[64];
	int n;

	(void)events;
	pthread_mutex_lock(&v->t.lock);
	do {
		n = epoll_wait(v->epfd, evs, (int)ARRAY_SIZE(evs), 0);
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				host_accept(v);
			else if (evs[i].data.ptr == &v->timer_fd)
				timer_tick(v);
			else
				conn_event(v, evs[i].data.ptr, evs[i].events);
		}
	} while (n == (int)ARRAY_SIZE(evs));
	rx_run(v);
	free_dead(v);
	pthread_mutex_unlock(&v->t.lock);
}

int virtio_vsock_fd(const struct virtio_vsock *v)
{
	return v->epfd;
}

/* ---- transport callbacks ------------------------------------------------------------------- */

static void vsock_config_read(void *dev, uint32_t off, void *data, unsigned int size)
{
	struct virtio_vsock *v = dev;
	uint8_t cfg[VIRTIO_VSOCK_CFG_SIZE];

	wr64(cfg, v->cid);
	memcpy(data, cfg + off, size);
}

static void vsock_queue_notify(void *dev, unsigned int q)
{
	struct virtio_vsock *v = dev;

	if (q == VIRTIO_VSOCK_TXQ)
		tx_run(v);
	else if (q == VIRTIO_VSOCK_EVQ)
		ev_run(v);
	rx_run(v); /* new receive buffers, or what the packets sent asked for */
	free_dead(v);
}

static void vsock_activate(void *dev)
{
	struct virtio_vsock *v = dev;

	rx_run(v);
	ev_run(v);
	free_dead(v);
}

/* The driver forgot every connection: so does kiln (the host ends see end of file). Host
 * connections the guest has not heard of yet wait for the next driver. */
static void vsock_reset(void *dev)
{
	struct virtio_vsock *v = dev;

	for (struct vsock_conn *c = v->all, *next; c; c = next) {
		next = c->anext;
		if (c->state == CONN_LINE || (c->state == CONN_REQUEST && (c->pending & P_REQUEST)))
			continue;
		conn_close(v, c, false, false);
	}
	free_dead(v);
	v->nr_loose_rst = 0;
	v->reset_event = false;
	v->rx_stalled = false;
}

static const struct virtio_device_ops vsock_ops = {
	.kind = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nr_queues = 3,
	.config_size = VIRTIO_VSOCK_CFG_SIZE,
	.config_read = vsock_config_read,
	.queue_notify = vsock_queue_notify,
	.activate = vsock_activate,
	.reset = vsock_reset,
};

/* Binds and listens on `path`, replacing a stale socket nobody listens on. */
static int listen_on(struct virtio_vsock *v, const char *path, char *err, size_t err_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, e;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (!lstat(path, &st)) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, err_size, "uds_path %s: exists and is not a socket", path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		e = probe < 0 ? -errno : connect(probe, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
		if (probe >= 0)
			close(probe);
		if (!e) {
			snprintf(err, err_size, "uds_path %s: another process listens there", path);
			return -EADDRINUSE;
		}
		if (e == -ECONNREFUSED && unlink(path)) {
			e = -errno;
			snprintf(err, err_size, "uds_path %s: cannot remove the stale socket: %s",
				 path, strerror(-e));
			return e;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, SOMAXCONN)) {
		e = -errno;
		snprintf(err, err_size, "uds_path %s: cannot listen: %s", path, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	v->listen_fd = fd;
	v->unlink_on_destroy = true;
	return 0;
}

int virtio_vsock_init(struct virtio_vsock *v, const char *name, uint64_t cid,
		      const char *uds_path, const struct gmem *gm, uint64_t base,
		      unsigned int gsi, struct irq_line line, char *err, size_t err_size)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = NULL };
	int e;

	memset(v, 0, sizeof(*v));
	v->listen_fd = v->epfd = v->timer_fd = -1;
	if (cid < 3 || cid > 0xfffffffeu) {
		snprintf(err, err_size, "%s: guest_cid %llu: not between 3 and 4294967294", name,
			 (unsigned long long)cid);
		return -EINVAL;
	}
	/* Room for "_<port>" after it, for guest-initiated connections. */
	if (!*uds_path || strlen(uds_path) + 11 >= sizeof(v->uds_path)) {
		snprintf(err, err_size, "%s: uds_path '%s': empty or longer than %zu bytes", name,
			 uds_path, sizeof(v->uds_path) - 12);
		return -EINVAL;
	}
	v->cid = cid;
	v->next_host_port = VSOCK_HOST_PORT_BASE;
	strcpy(v->uds_path, uds_path);
	if (!(v->hash = calloc(VSOCK_HASH_SIZE, sizeof(*v->hash))) ||
	    !(v->batch = calloc(VSOCK_RX_BATCH, sizeof(*v->batch))) ||
	    !(v->batch_iov = calloc(VSOCK_BATCH_IOV, sizeof(*v->batch_iov)))) {
		free(v->hash);
		free(v->batch);
		snprintf(err, err_size, "%s: out of memory", name);
		return -ENOMEM;
	}
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epfd < 0) {
		e = -errno;
		snprintf(err, err_size, "%s: epoll: %s", name, strerror(-e));
		goto fail;
	}
	if ((e = listen_on(v, uds_path, err, err_size)))
		goto fail;
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->timer_fd < 0 || epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->timer_fd,
					 &(struct epoll_event){ .events = EPOLLIN,
								.data.ptr = &v->timer_fd }) ||
	    epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &ev)) {
		e = -errno;
		snprintf(err, err_size, "%s: epoll: %s", name, strerror(-e));
		goto fail;
	}
	e = virtio_mmio_init(&v->t, name, &vsock_ops, v, VIRTIO_BIT(VSOCK_F_STREAM), gm, base, gsi,
			     line);
	if (e) {
		snprintf(err, err_size, "%s: cannot create: %s", name, strerror(-e));
		goto fail;
	}
	return 0;
fail:
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->uds_path);
	}
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	free(v->hash);
	free(v->batch);
	free(v->batch_iov);
	memset(v, 0, sizeof(*v));
	v->listen_fd = v->epfd = v->timer_fd = -1;
	return e;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (v->hash) {
		close_all(v);
		free(v->hash);
		v->hash = NULL;
	}
	free(v->batch);
	free(v->batch_iov);
	v->batch = NULL;
	v->batch_iov = NULL;
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		if (v->unlink_on_destroy)
			unlink(v->uds_path);
	}
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	v->listen_fd = v->epfd = v->timer_fd = -1;
	virtio_mmio_destroy(&v->t);
}

void virtio_vsock_transport_reset(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->t.lock);
	close_all(v);
	v->nr_loose_rst = 0;
	v->reset_event = true;
	ev_run(v);
	pthread_mutex_unlock(&v->t.lock);
}

void virtio_vsock_get_counters(struct virtio_vsock *v, struct virtio_vsock_counters *out,
			       uint64_t *guest_errors, unsigned int *conns)
{
	pthread_mutex_lock(&v->t.lock);
	*out = v->n;
	*guest_errors = v->t.faults;
	*conns = v->nr_conns;
	pthread_mutex_unlock(&v->t.lock);
}

void virtio_vsock_save(struct virtio_vsock *v, struct virtio_vsock_state *out)
{
	virtio_mmio_save(&v->t, &out->transport);
	out->cid = v->cid;
}

int virtio_vsock_load(struct virtio_vsock *v, const struct virtio_vsock_state *in)
{
	int e;

	if (in->cid != v->cid)
		return -EINVAL;
	if ((e = virtio_mmio_load(&v->t, &in->transport)))
		return e;
	virtio_vsock_transport_reset(v);
	return 0;
}

/* ---- the builder's device table (kind.h) ---------------------------------------------------- */

static unsigned int vsock_count(const struct vmm_config *cfg)
{
	return cfg->has_vsock ? 1 : 0;
}

static int vsock_init(void *dev, const struct virtio_dev_env *env, char *err, size_t err_size)
{
	const struct vmm_vsock *c = &env->cfg->vsock;
	int e = virtio_vsock_init(dev, env->name, c->guest_cid, c->uds_path, env->mem, env->base,
				  env->gsi, env->line, err, err_size);

	return e == -ENOMEM || e == -EMFILE || e == -ENFILE || !e ? e : -EINVAL;
}

static void vsock_destroy(void *dev)
{
	virtio_vsock_destroy(dev);
}

static struct virtio_mmio *vsock_transport(void *dev)
{
	return &((struct virtio_vsock *)dev)->t;
}

static int vsock_io_fd(void *dev, io_handler_fn *fn)
{
	*fn = virtio_vsock_io;
	return virtio_vsock_fd(dev);
}

static unsigned int vsock_counters(void *dev, struct virtio_counter *out)
{
	struct virtio_vsock_counters c;
	uint64_t faults;
	unsigned int conns, i = 0;

	virtio_vsock_get_counters(dev, &c, &faults, &conns);
	out[i++] = (struct virtio_counter){ "conns_added", c.conns_added };
	out[i++] = (struct virtio_counter){ "conns_removed", c.conns_removed };
	out[i++] = (struct virtio_counter){ "conns_killed", c.conns_killed };
	out[i++] = (struct virtio_counter){ "conns_open", conns };
	out[i++] = (struct virtio_counter){ "rx_packets_count", c.rx_packets };
	out[i++] = (struct virtio_counter){ "rx_bytes_count", c.rx_bytes };
	out[i++] = (struct virtio_counter){ "tx_packets_count", c.tx_packets };
	out[i++] = (struct virtio_counter){ "tx_bytes_count", c.tx_bytes };
	out[i++] = (struct virtio_counter){ "rx_read_fails", c.rx_read_fails };
	out[i++] = (struct virtio_counter){ "tx_write_fails", c.tx_write_fails };
	out[i++] = (struct virtio_counter){ "tx_malformed_packets", c.tx_malformed };
	out[i++] = (struct virtio_counter){ "rst_dropped", c.rst_dropped };
	out[i++] = (struct virtio_counter){ "guest_errors", faults };
	return i;
}

static void vsock_save(void *dev, void *state)
{
	virtio_vsock_save(dev, state);
}

static int vsock_load(void *dev, const void *state)
{
	return virtio_vsock_load(dev, state);
}

const struct virtio_kind virtio_vsock_kind = {
	.kind = "vsock",
	.metrics_key = "vsock",
	.size = sizeof(struct virtio_vsock),
	.state_size = sizeof(struct virtio_vsock_state),
	.count = vsock_count,
	.init = vsock_init,
	.destroy = vsock_destroy,
	.transport = vsock_transport,
	.io_fd = vsock_io_fd,
	.counters = vsock_counters,
	.save = vsock_save,
	.load = vsock_load,
};
