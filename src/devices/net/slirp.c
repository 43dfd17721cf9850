/* slirp.c: user-mode networking (--net user): the guest's frames go through libslirp's TCP/IP
 * stack and out of ordinary host sockets; no privileges, no host configuration. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/param.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "devices/net/backend.h"
#include "util/log.h"
#include "util/sandbox.h"

/* virtio_net_hdr_v1 (virtio 1.2, 5.1.6): flags in byte 0, gso_type in byte 1. */
#define HDR_F_NEEDS_CSUM 0x01
#define ETH_HDR_LEN 14
/* Bytes kept zero after a guest frame: libslirp's ARP path reads a whole ARP header without
 * checking the frame's length, so a short frame must read zeros, never beyond the buffer. */
#define TX_PAD 64

/* Frames for the guest wait here until the device takes them; beyond either bound they are
 * dropped (TCP retransmits, the guest's DHCP and ARP retry). */
#define RXQ_MAX_FRAMES 256
#define RXQ_MAX_BYTES (4u << 20)

/* QEMU's defaults inside the guest's network: the host (gateway) is .2, the DNS forwarder .3,
 * DHCP leases start at .15 (and forwards go there). */
#define HOST_OFFSET 2
#define DNS_OFFSET 3
#define DHCP_OFFSET 15
/* libslirp's IF_MTU_MAX/IF_MRU_MAX (src/if.h): slirp_new() refuses more. */
#define SLIRP_MTU_MAX 65521
/* Timers run per loop pass at most this many times, so one re-arming itself at "now" cannot
 * keep the thread from polling. */
#define TIMER_RUNS_MAX 16

/* libslirp keeps some state in globals (its clock, loopback address), so one lock serialises
 * every libslirp call of every user-mode interface in the process, not only of one. */
static pthread_mutex_t slirp_lock = PTHREAD_MUTEX_INITIALIZER;

struct rx_frame {
	struct rx_frame *next;
	size_t len; /* header included */
	uint8_t data[];
};

/* A libslirp timer: `expire_ms` on the clock_get_ns clock, INT64_MAX when not armed. Kept in one
 * list sorted by expiry, so the head decides the poll timeout. */
struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;
};

struct slirp_be {
	struct net_backend be; /* first: the device's pointer is ours */
	Slirp *slirp;
	pthread_t thread;
	bool thread_started;
	int wake_fd; /* eventfd: stop, or look at slirp's sockets again */

	/* Under slirp_lock. */
	bool stop;
	struct slirp_timer *timers;

	/* The slirp thread's own: the pollfd set slirp_pollfds_fill builds (wake_fd is [0]). */
	struct pollfd *pfd;
	unsigned int nr_pfd, cap_pfd;

	/* The send() caller's (the I/O thread): the guest's frame made contiguous. */
	uint8_t *tx_buf;

	/* Frames for the guest; rx_lock nests inside slirp_lock. be.rx_fd's counter is non-zero
	 * exactly when the queue is not empty. */
	pthread_mutex_t rx_lock;
	struct rx_frame *rx_head, *rx_tail;
	unsigned int rx_frames;
	size_t rx_bytes;
	uint64_t rx_dropped;

	struct ratelimit guest_rl, drop_rl;
};

static struct slirp_be *to_slirp(struct net_backend *be)
{
	return (struct slirp_be *)be;
}

static void wake(struct slirp_be *s)
{
	/* Fails only when the counter would overflow, and then the loop is awake anyway. */
	if (eventfd_write(s->wake_fd, 1))
		pr_debug("--net user: cannot wake the slirp thread: %s", strerror(errno));
}

/* ---- libslirp callbacks: all of them run with slirp_lock held ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_be *s = opaque;
	struct rx_frame *f;
	bool full;

	if (len < ETH_HDR_LEN || len > NET_FRAME_MAX)
		return -1;
	pthread_mutex_lock(&s->rx_lock);
	full = s->rx_frames >= RXQ_MAX_FRAMES || s->rx_bytes + len > RXQ_MAX_BYTES;
	f = full ? NULL : malloc(sizeof(*f) + NET_HDR_LEN + len);
	if (!f) {
		s->rx_dropped++;
		pr_debug_ratelimited(&s->drop_rl,
				     "--net user: guest receive queue full, frame dropped (%llu so far)",
				     (unsigned long long)s->rx_dropped);
		pthread_mutex_unlock(&s->rx_lock);
		/* Not an I/O error: slirp treats a lost frame like a lost packet on the wire. */
		return (ssize_t)len;
	}
	f->next = NULL;
	f->len = NET_HDR_LEN + len;
	memset(f->data, 0, NET_HDR_LEN);
	memcpy(f->data + NET_HDR_LEN, buf, len);
	if (s->rx_tail)
		s->rx_tail->next = f;
	else
		s->rx_head = f;
	s->rx_tail = f;
	s->rx_frames++;
	s->rx_bytes += len;
	if (eventfd_write(s->be.rx_fd, 1))
		pr_debug("--net user: cannot signal rx_fd: %s", strerror(errno));
	pthread_mutex_unlock(&s->rx_lock);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	struct slirp_be *s = opaque;

	pr_warn_ratelimited(&s->guest_rl, "--net user: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)now_ns(); /* CLOCK_MONOTONIC */
}

static void timer_unlink(struct slirp_be *s, struct slirp_timer *t)
{
	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			t->next = NULL;
			return;
		}
	}
}

static void timer_insert(struct slirp_be *s, struct slirp_timer *t)
{
	struct slirp_timer **p = &s->timers;

	while (*p && (*p)->expire_ms <= t->expire_ms)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_be *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	/* libslirp does not check for NULL; cb_timer_mod and cb_timer_free ignore a NULL timer. */
	if (!t) {
		pr_err("--net user: out of memory for a slirp timer");
		return NULL;
	}
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = INT64_MAX;
	timer_insert(s, t);
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct slirp_be *s = opaque;
	struct slirp_timer *t = timer;

	if (!t)
		return;
	timer_unlink(s, t);
	free(t);
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_be *s = opaque;
	struct slirp_timer *t = timer;

	if (!t)
		return;
	timer_unlink(s, t);
	t->expire_ms = expire_ms;
	timer_insert(s, t);
	/* May come from send() on the I/O thread while the loop sleeps on an older timeout. */
	wake(s);
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	/* The loop asks slirp_pollfds_fill for the whole set on every pass. */
	(void)fd;
	(void)opaque;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void cb_notify(void *opaque)
{
	wake(opaque);
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
};

/* ---- the slirp thread ---- */

static short to_poll_events(int events)
{
	short ev = 0;

	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	/* POLLERR and POLLHUP are always reported. */
	return ev;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct slirp_be *s = opaque;

	if (s->nr_pfd == s->cap_pfd) {
		unsigned int cap = s->cap_pfd * 2;
		struct pollfd *p = cap > s->cap_pfd ? realloc(s->pfd, cap * sizeof(*p)) : NULL;

		if (!p) {
			/* This socket sits out this pass; slirp asks again on the next. */
			pr_err("--net user: out of memory for %u poll entries", cap);
			return -1;
		}
		s->pfd = p;
		s->cap_pfd = cap;
	}
	s->pfd[s->nr_pfd] = (struct pollfd){ .fd = fd, .events = to_poll_events(events) };
	return (int)s->nr_pfd++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct slirp_be *s = opaque;
	short rev;
	int out = 0;

	if (idx < 1 || (unsigned int)idx >= s->nr_pfd)
		return 0;
	rev = s->pfd[idx].revents;
	if (rev & POLLIN)
		out |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		out |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		out |= SLIRP_POLL_PRI;
	if (rev & (POLLERR | POLLNVAL))
		out |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		out |= SLIRP_POLL_HUP;
	return out;
}

/* The poll timeout in ms the earliest armed timer allows (UINT32_MAX: none armed). */
static uint32_t timers_timeout(struct slirp_be *s)
{
	int64_t now_ms = (int64_t)(now_ns() / 1000000);
	int64_t left;

	if (!s->timers || s->timers->expire_ms == INT64_MAX)
		return UINT32_MAX;
	left = s->timers->expire_ms - now_ms;
	if (left <= 0)
		return 0;
	return left >= INT_MAX ? INT_MAX : (uint32_t)left;
}

static void timers_run(struct slirp_be *s)
{
	int64_t now_ms = (int64_t)(now_ns() / 1000000);

	for (int i = 0; i < TIMER_RUNS_MAX; i++) {
		struct slirp_timer *t = s->timers;

		if (!t || t->expire_ms > now_ms)
			return;
		/* Disarm before the callback, which may re-arm or free it. */
		timer_unlink(s, t);
		t->expire_ms = INT64_MAX;
		timer_insert(s, t);
		t->cb(t->cb_opaque);
	}
}

static void *slirp_main(void *arg)
{
	static struct ratelimit poll_rl = RATELIMIT_INIT(1000, 1);
	struct slirp_be *s = arg;

	if (sandbox_enter(SANDBOX_IO))
		return NULL; /* logged; the interface stays silent */
	pthread_mutex_lock(&slirp_lock);
	while (!s->stop) {
		uint32_t timeout = timers_timeout(s);
		uint64_t v;
		int n, poll_err;

		s->nr_pfd = 1;
		s->pfd[0] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
		slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
		pthread_mutex_unlock(&slirp_lock);

		n = poll(s->pfd, s->nr_pfd, timeout == UINT32_MAX ? -1 : (int)MIN(timeout, INT_MAX));
		poll_err = n < 0 ? errno : 0;
		if (poll_err && poll_err != EINTR)
			pr_warn_ratelimited(&poll_rl, "--net user: poll failed: %s",
					    strerror(poll_err));

		pthread_mutex_lock(&slirp_lock);
		if (n > 0 && (s->pfd[0].revents & POLLIN))
			(void)eventfd_read(s->wake_fd, &v);
		/* An interrupted poll reports nothing, but timers and slirp's clock still run. */
		slirp_pollfds_poll(s->slirp, poll_err && poll_err != EINTR, cb_get_revents, s);
		timers_run(s);
	}
	pthread_mutex_unlock(&slirp_lock);
	return NULL;
}

/* ---- the backend ---- */

static int slirp_send(struct net_backend *be, const struct iovec *iov, unsigned int nr)
{
	static struct ratelimit rl = RATELIMIT_INIT(1000, 5);
	struct slirp_be *s = to_slirp(be);
	uint8_t hdr[NET_HDR_LEN];
	size_t got = 0, frame = 0;

	/* Gather the header and the frame, refusing anything longer than a frame can be. */
	for (unsigned int i = 0; i < nr; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		if (!n)
			continue;
		if (got < NET_HDR_LEN) {
			size_t h = MIN(n, NET_HDR_LEN - got);

			memcpy(hdr + got, p, h);
			got += h;
			p += h;
			n -= h;
		}
		if (n > NET_FRAME_MAX - frame) {
			pr_debug_ratelimited(&rl, "--net user: guest frame longer than %u bytes dropped",
					     (unsigned int)NET_FRAME_MAX);
			return -EINVAL;
		}
		memcpy(s->tx_buf + frame, p, n);
		frame += n;
	}
	if (got < NET_HDR_LEN || frame < ETH_HDR_LEN) {
		pr_debug_ratelimited(&rl, "--net user: guest frame of %zu bytes dropped", frame);
		return -EINVAL;
	}
	/* No offloads were offered (offloads = false): a partial checksum or a GSO frame is the
	 * guest breaking the protocol. */
	if ((hdr[0] & HDR_F_NEEDS_CSUM) || hdr[1] != 0) {
		pr_debug_ratelimited(&rl, "--net user: guest frame with offloads (flags 0x%x, gso_type %u) dropped",
				     hdr[0], hdr[1]);
		return -EINVAL;
	}
	memset(s->tx_buf + frame, 0, TX_PAD);

	pthread_mutex_lock(&slirp_lock);
	slirp_input(s->slirp, s->tx_buf, (int)frame);
	pthread_mutex_unlock(&slirp_lock);
	/* The frame may have opened a socket or queued data for one: let the loop poll it now
	 * rather than on its next timeout. */
	wake(s);
	return 0;
}

static ssize_t slirp_recv(struct net_backend *be, void *buf, size_t len)
{
	struct slirp_be *s = to_slirp(be);
	struct rx_frame *f;
	ssize_t ret;

	pthread_mutex_lock(&s->rx_lock);
	f = s->rx_head;
	if (!f) {
		pthread_mutex_unlock(&s->rx_lock);
		return -EAGAIN;
	}
	s->rx_head = f->next;
	if (!s->rx_head) {
		uint64_t v;

		s->rx_tail = NULL;
		/* Empty: reset the counter, so the next frame queued is a new edge. */
		(void)eventfd_read(s->be.rx_fd, &v);
	}
	s->rx_frames--;
	s->rx_bytes -= f->len - NET_HDR_LEN;
	pthread_mutex_unlock(&s->rx_lock);

	if (f->len > len) {
		ret = -EMSGSIZE; /* the caller broke the contract; the frame is lost, not stuck */
	} else {
		memcpy(buf, f->data, f->len);
		ret = (ssize_t)f->len;
	}
	free(f);
	return ret;
}

static void slirp_destroy(struct net_backend *be)
{
	struct slirp_be *s = to_slirp(be);
	struct rx_frame *f;

	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&slirp_lock);
		s->stop = true;
		pthread_mutex_unlock(&slirp_lock);
		wake(s);
		pthread_join(s->thread, NULL);
	}
	if (s->slirp) {
		pthread_mutex_lock(&slirp_lock);
		slirp_cleanup(s->slirp);
		pthread_mutex_unlock(&slirp_lock);
	}
	/* Whatever slirp did not free itself (it frees its timers in slirp_cleanup). */
	while (s->timers) {
		struct slirp_timer *t = s->timers;

		s->timers = t->next;
		free(t);
	}
	while ((f = s->rx_head)) {
		s->rx_head = f->next;
		free(f);
	}
	if (s->rx_dropped)
		pr_info("--net user: %llu frames for the guest were dropped (queue full)",
			(unsigned long long)s->rx_dropped);
	pthread_mutex_destroy(&s->rx_lock);
	if (s->be.rx_fd >= 0)
		close(s->be.rx_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->pfd);
	free(s->tx_buf);
	free(s);
}

static const struct net_backend_ops slirp_ops = {
	.send = slirp_send,
	.recv = slirp_recv,
	.set_offload = NULL,
	.destroy = slirp_destroy,
};

static void fmt_ip(char *out, size_t size, uint32_t ip)
{
	snprintf(out, size, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

/* Sets up one forward; slirp listens on the host at once. */
static int add_hostfwd(struct slirp_be *s, const struct vmm_hostfwd *h, struct in_addr guest,
		       char *err, size_t err_size)
{
	struct in_addr host = { .s_addr = htonl(h->host_addr) };
	char haddr[16];
	int r, e;

	errno = 0;
	pthread_mutex_lock(&slirp_lock);
	r = slirp_add_hostfwd(s->slirp, h->udp, host, h->host_port, guest, h->guest_port);
	e = errno;
	pthread_mutex_unlock(&slirp_lock);
	if (r == 0)
		return 0;
	/* libslirp keeps the bind()/listen() errno; EADDRINUSE is what a taken port gives. */
	if (!e)
		e = EADDRINUSE;
	fmt_ip(haddr, sizeof(haddr), h->host_addr);
	snprintf(err, err_size, "--net user: hostfwd=%s:%s:%u-:%u: cannot listen on %s port %u: %s",
		 h->udp ? "udp" : "tcp", haddr, h->host_port, h->guest_port, haddr, h->host_port,
		 strerror(e));
	return -e;
}

int net_slirp_open(struct net_backend **out, const struct vmm_net *n, const uint8_t guest_mac[6],
		   char *err, size_t err_size)
{
	uint32_t net = n->user_net, prefix = n->user_prefix, mask;
	SlirpConfig cfg = { .version = 1 };
	struct slirp_be *s;
	char addr[16];
	int e;

	/* slirp learns the guest's MAC from its ARP and DHCP traffic. */
	(void)guest_mac;

	if (!net && !prefix) {
		net = 0x0a000200; /* 10.0.2.0/24, QEMU's */
		prefix = 24;
	}
	/* .2, .3 and .15 must be hosts of the network: a /27 is the smallest that has them. */
	mask = prefix ? ~0u << (32 - MIN(prefix, 32u)) : 0;
	if (prefix < 1 || prefix > 27 || (net & ~mask)) {
		fmt_ip(addr, sizeof(addr), net);
		snprintf(err, err_size,
			 "--net user: net=%s/%u: need a network address with a prefix of 1 to 27 bits",
			 addr, prefix);
		return -EINVAL;
	}
	if (n->mtu > SLIRP_MTU_MAX) {
		snprintf(err, err_size, "--net user: mtu=%u is above libslirp's limit of %u", n->mtu,
			 SLIRP_MTU_MAX);
		return -EINVAL;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_size, "--net user: out of memory");
		return -ENOMEM;
	}
	s->be.ops = &slirp_ops;
	s->be.offloads = false;
	s->guest_rl = (struct ratelimit)RATELIMIT_INIT(1000, 10);
	s->drop_rl = (struct ratelimit)RATELIMIT_INIT(1000, 1);
	pthread_mutex_init(&s->rx_lock, NULL);
	s->be.rx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->be.rx_fd < 0 || s->wake_fd < 0) {
		e = -errno;
		snprintf(err, err_size, "--net user: eventfd: %s", strerror(-e));
		goto fail;
	}
	s->cap_pfd = 16;
	s->pfd = calloc(s->cap_pfd, sizeof(*s->pfd));
	s->tx_buf = malloc(NET_FRAME_MAX + TX_PAD);
	if (!s->pfd || !s->tx_buf) {
		e = -ENOMEM;
		snprintf(err, err_size, "--net user: out of memory");
		goto fail;
	}

	/* IPv4 only: libslirp's IPv6 adds router advertisements, NDP and DHCPv6 for little a
	 * development VM needs, and guests then wait on IPv6 routes the host may not have. */
	cfg.restricted = 0;
	cfg.in_enabled = true;
	cfg.vnetwork.s_addr = htonl(net);
	cfg.vnetmask.s_addr = htonl(mask);
	cfg.vhost.s_addr = htonl(net + HOST_OFFSET);
	cfg.vnameserver.s_addr = htonl(net + DNS_OFFSET);
	cfg.vdhcp_start.s_addr = htonl(net + DHCP_OFFSET);
	cfg.in6_enabled = false;
	cfg.vhostname = "kiln";
	cfg.vdomainname = NULL;
	cfg.if_mtu = n->mtu;  /* 0: libslirp's 1500 */
	cfg.if_mru = n->mtu;
	cfg.disable_host_loopback = false;
	cfg.enable_emu = false;

	pthread_mutex_lock(&slirp_lock);
	s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
	/* libslirp reads its clock (a global, 0 until then) only in slirp_pollfds_poll, and stamps
	 * a new UDP socket to expire at that clock plus 240 s: a guest datagram sent before the
	 * thread's first pass would get a socket that the next pass finds long expired and closes,
	 * so the answer (a DNS reply, say) is lost. One pass here, told to look at no socket
	 * (select_error), sets the clock before the guest can send anything. */
	if (s->slirp)
		slirp_pollfds_poll(s->slirp, 1, cb_get_revents, s);
	pthread_mutex_unlock(&slirp_lock);
	if (!s->slirp) {
		e = -ENOMEM;
		snprintf(err, err_size, "--net user: libslirp refused the configuration");
		goto fail;
	}
	for (unsigned int i = 0; i < n->nr_hostfwd && i < CONFIG_MAX_HOSTFWD; i++) {
		e = add_hostfwd(s, &n->hostfwd[i], cfg.vdhcp_start, err, err_size);
		if (e)
			goto fail;
	}

	e = -pthread_create(&s->thread, NULL, slirp_main, s);
	if (e) {
		snprintf(err, err_size, "--net user: cannot start the slirp thread: %s", strerror(-e));
		goto fail;
	}
	pthread_setname_np(s->thread, "kiln-slirp");
	s->thread_started = true;
	*out = &s->be;
	return 0;

fail:
	slirp_destroy(&s->be);
	return e;
}
