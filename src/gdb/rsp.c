/* rsp.c: the GDB remote serial protocol (gdb manual, "Remote Protocol"): framing, checksums,
 * escaping and one handler per packet. Every byte comes from whoever reached the socket, so every
 * field is parsed with bounds and a malformed packet gets "E01", never a crash. No run-length
 * encoding is sent (gdb never sends it to a stub). */
#include "gdb/rsp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rx_state { RX_IDLE, RX_DATA, RX_CSUM1, RX_CSUM2 };

struct gdb_rsp {
	const struct gdb_target *t;
	void *opaque;
	void (*send)(void *sopaque, const void *buf, size_t len);
	void *sopaque;

	enum rx_state state;
	uint8_t pkt[GDB_PACKET_MAX + 1]; /* raw payload, NUL-terminated */
	size_t pkt_len;
	bool overflow;
	uint8_t sum, csum_hi;

	uint8_t *last;   /* the last packet sent, for a '-' (resend) */
	size_t last_len;

	bool running, exited;
	unsigned int g_thread, c_thread; /* H g / H c; 0: any */
	struct gdb_stop stop;
	enum gdb_action actions[GDB_MAX_THREADS + 1];
	uint8_t regs[GDB_PACKET_MAX / 2];
	uint8_t reply[GDB_PACKET_MAX + 1];
	uint8_t bin[GDB_PACKET_MAX];
};

static const char hexd[] = "0123456789abcdef";

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t gdb_rsp_encode(const uint8_t *payload, size_t len, uint8_t *out)
{
	uint8_t sum = 0;
	size_t n = 0;

	out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = payload[i];

		if (c == '$' || c == '#' || c == '}' || c == '*') {
			out[n++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		out[n++] = c;
		sum += c;
	}
	out[n++] = '#';
	out[n++] = (uint8_t)hexd[sum >> 4];
	out[n++] = (uint8_t)hexd[sum & 15];
	return n;
}

static void put_packet(struct gdb_rsp *r, const void *payload, size_t len)
{
	size_t n = gdb_rsp_encode(payload, len, r->last);

	r->last_len = n;
	r->send(r->sopaque, r->last, n);
}

static void put_str(struct gdb_rsp *r, const char *s)
{
	put_packet(r, s, strlen(s));
}

static void put_err(struct gdb_rsp *r, int e)
{
	char b[4];

	if (e == -ENOTSUP) {
		put_str(r, "");
		return;
	}
	e = e < 0 ? -e : e;
	snprintf(b, sizeof(b), "E%02x", (unsigned int)(e & 0xff));
	put_str(r, b);
}

/* ---- field parsing: each takes a cursor and the end, and fails on anything unexpected ------ */

static bool parse_hex(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s >= end || hexval((uint8_t)*s) < 0)
		return false;
	for (; s < end && hexval((uint8_t)*s) >= 0; s++) {
		if (v >> 60)
			return false; /* more than 64 bits */
		v = (v << 4) | (uint64_t)hexval((uint8_t)*s);
	}
	*p = s;
	*out = v;
	return true;
}

static bool expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* Hex bytes [p, end) into out (exactly `len` bytes expected). */
static bool parse_bytes(const char *p, const char *end, uint8_t *out, size_t len)
{
	if ((size_t)(end - p) != 2 * len)
		return false;
	for (size_t i = 0; i < len; i++) {
		int hi = hexval((uint8_t)p[2 * i]), lo = hexval((uint8_t)p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* A thread id: "-1" (all), "0" (any) or a positive hex number; `p1.N` multiprocess form too. */
static bool parse_thread(const char **p, const char *end, long *out)
{
	uint64_t v;

	if (*p < end && **p == 'p') {
		(*p)++;
		if (!parse_hex(p, end, &v) || !expect(p, end, '.'))
			return false;
	}
	if (*p + 1 < end && (*p)[0] == '-' && (*p)[1] == '1') {
		*p += 2;
		*out = -1;
		return true;
	}
	if (!parse_hex(p, end, &v) || v > GDB_MAX_THREADS)
		return false;
	*out = (long)v;
	return true;
}

static size_t to_hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[b[i] >> 4];
		out[2 * i + 1] = hexd[b[i] & 15];
	}
	return 2 * n;
}

static bool valid_thread(struct gdb_rsp *r, long t)
{
	return t >= 1 && (unsigned long)t <= r->t->nr_threads(r->opaque);
}

/* The thread for register and memory access: H g's, else the one that stopped. */
static unsigned int cur_thread(struct gdb_rsp *r)
{
	if (r->g_thread && r->g_thread <= r->t->nr_threads(r->opaque))
		return r->g_thread;
	return r->stop.thread ? r->stop.thread : 1;
}

/* ---- stop replies --------------------------------------------------------------------------- */

static void send_stop(struct gdb_rsp *r)
{
	static const char *const wname[] = { [GDB_WATCH_WRITE] = "watch",
					     [GDB_WATCH_READ] = "rwatch",
					     [GDB_WATCH_ACCESS] = "awatch" };
	char b[96];
	int n = snprintf(b, sizeof(b), "T%02xthread:%x;", r->stop.signal & 0xff, r->stop.thread);

	if (r->stop.watch && r->stop.watch_type >= GDB_WATCH_WRITE &&
	    r->stop.watch_type <= GDB_WATCH_ACCESS)
		snprintf(b + n, sizeof(b) - (size_t)n, "%s:%llx;", wname[r->stop.watch_type],
			 (unsigned long long)r->stop.watch_addr);
	put_str(r, b);
}

void gdb_rsp_stopped(struct gdb_rsp *r, const struct gdb_stop *stop)
{
	bool waiting = r->running;

	r->stop = *stop;
	if (r->stop.thread == 0)
		r->stop.thread = 1;
	r->running = false;
	r->g_thread = r->stop.thread; /* gdb expects register reads to follow the stop */
	if (waiting)
		send_stop(r);
}

void gdb_rsp_exited(struct gdb_rsp *r, int status)
{
	char b[8];

	if (r->exited)
		return;
	r->exited = true;
	r->running = false;
	snprintf(b, sizeof(b), "W%02x", (unsigned int)status & 0xff);
	put_str(r, b);
}

bool gdb_rsp_running(const struct gdb_rsp *r)
{
	return r->running;
}

/* ---- packets -------------------------------------------------------------------------------- */

static void do_qxfer(struct gdb_rsp *r, const char *p, const char *end)
{
	static const char pre[] = "qXfer:features:read:target.xml:";
	const char *xml = r->t->target_xml;
	uint64_t off, len;
	size_t total = xml ? strlen(xml) : 0;

	if ((size_t)(end - p) < sizeof(pre) - 1 || memcmp(p, pre, sizeof(pre) - 1) != 0) {
		/* another object or annex: not supported */
		if ((size_t)(end - p) >= 20 && memcmp(p, "qXfer:features:read:", 20) == 0)
			put_str(r, "E00");
		else
			put_str(r, "");
		return;
	}
	p += sizeof(pre) - 1;
	if (!xml) {
		put_str(r, "");
		return;
	}
	if (!parse_hex(&p, end, &off) || !expect(&p, end, ',') || !parse_hex(&p, end, &len) ||
	    p != end) {
		put_err(r, -EINVAL);
		return;
	}
	if (len > GDB_PACKET_MAX / 2 - 1)
		len = GDB_PACKET_MAX / 2 - 1; /* escaping may double it */
	if (off >= total) {
		put_str(r, "l");
		return;
	}
	if (len > total - off)
		len = total - off;
	r->reply[0] = off + len < total ? 'm' : 'l';
	memcpy(r->reply + 1, xml + off, len);
	put_packet(r, r->reply, len + 1);
}

static void do_query(struct gdb_rsp *r, const char *p, const char *end)
{
	size_t n = (size_t)(end - p);
	char b[64];

#define IS(s) (n == sizeof(s) - 1 && memcmp(p, s, n) == 0)
#define STARTS(s) (n >= sizeof(s) - 1 && memcmp(p, s, sizeof(s) - 1) == 0)
	if (STARTS("qSupported")) {
		snprintf(b, sizeof(b), "PacketSize=%x;qXfer:features:read%c;vContSupported+",
			 GDB_PACKET_MAX, r->t->target_xml ? '+' : '-');
		put_str(r, b);
	} else if (STARTS("qXfer:")) {
		do_qxfer(r, p, end);
	} else if (IS("qfThreadInfo")) {
		unsigned int nr = r->t->nr_threads(r->opaque);
		size_t len = 0;

		r->reply[len++] = 'm';
		for (unsigned int i = 1; i <= nr && len < sizeof(r->reply) - 16; i++)
			len += (size_t)snprintf((char *)r->reply + len, 16, "%s%x", i > 1 ? "," : "", i);
		put_packet(r, r->reply, len);
	} else if (IS("qsThreadInfo")) {
		put_str(r, "l");
	} else if (IS("qC")) {
		snprintf(b, sizeof(b), "QC%x", cur_thread(r));
		put_str(r, b);
	} else if (STARTS("qAttached")) {
		put_str(r, "1");
	} else {
		put_str(r, ""); /* qOffsets, qSymbol, qTStatus, ...: not supported */
	}
#undef IS
#undef STARTS
}

/* vCont;ACTION[:TID];... with actions c, C sig, s, S sig, t. The first action that names a
 * thread (or has none) decides for it, as the manual says. */
static void do_vcont(struct gdb_rsp *r, const char *p, const char *end)
{
	unsigned int nr = r->t->nr_threads(r->opaque);
	bool set[GDB_MAX_THREADS + 1] = { false };

	if (nr > GDB_MAX_THREADS)
		nr = GDB_MAX_THREADS;
	memset(r->actions, 0, sizeof(r->actions));
	while (p < end) {
		enum gdb_action a;
		long t = -1;
		uint64_t sig;

		if (!expect(&p, end, ';'))
			goto bad;
		if (p >= end)
			goto bad;
		switch (*p++) {
		case 'c': a = GDB_CONT; break;
		case 's': a = GDB_STEP; break;
		case 't': a = GDB_STAY; break;
		case 'C':
			a = GDB_CONT;
			if (!parse_hex(&p, end, &sig))
				goto bad;
			break;
		case 'S':
			a = GDB_STEP;
			if (!parse_hex(&p, end, &sig))
				goto bad;
			break;
		default:
			goto bad;
		}
		if (p < end && *p == ':') {
			p++;
			if (!parse_thread(&p, end, &t) || t == 0)
				goto bad;
			if (t != -1 && !valid_thread(r, t))
				goto bad;
		}
		for (unsigned int i = 1; i <= nr; i++)
			if ((t == -1 || (unsigned long)t == i) && !set[i]) {
				set[i] = true;
				r->actions[i] = a;
			}
	}
	r->running = true;
	r->t->resume(r->opaque, r->actions);
	return;
bad:
	put_err(r, -EINVAL);
}

static void do_resume_legacy(struct gdb_rsp *r, char cmd, const char *p, const char *end)
{
	unsigned int nr = r->t->nr_threads(r->opaque), step;

	if (p != end) { /* "c addr" / "s addr": resuming elsewhere is not supported */
		put_err(r, -EINVAL);
		return;
	}
	if (nr > GDB_MAX_THREADS)
		nr = GDB_MAX_THREADS;
	step = r->c_thread && r->c_thread <= nr ? r->c_thread : cur_thread(r);
	memset(r->actions, 0, sizeof(r->actions));
	for (unsigned int i = 1; i <= nr; i++)
		r->actions[i] = cmd == 'c' ? GDB_CONT : (i == step ? GDB_STEP : GDB_STAY);
	r->running = true;
	r->t->resume(r->opaque, r->actions);
}

static void do_mem_read(struct gdb_rsp *r, const char *p, const char *end)
{
	uint64_t addr, len;
	int got;

	if (!parse_hex(&p, end, &addr) || !expect(&p, end, ',') || !parse_hex(&p, end, &len) ||
	    p != end || len == 0) {
		put_err(r, -EINVAL);
		return;
	}
	if (len > sizeof(r->bin) / 2)
		len = sizeof(r->bin) / 2;
	got = r->t->read_mem(r->opaque, cur_thread(r), addr, r->bin, len);
	if (got <= 0) {
		put_err(r, got < 0 ? got : -EFAULT);
		return;
	}
	put_packet(r, r->reply, to_hex((char *)r->reply, r->bin, (size_t)got));
}

/* M addr,len:hex and X addr,len:binary (escaped with '}'). */
static void do_mem_write(struct gdb_rsp *r, bool binary, const char *p, const char *end)
{
	uint64_t addr, len;
	size_t n = 0;
	int e;

	if (!parse_hex(&p, end, &addr) || !expect(&p, end, ',') || !parse_hex(&p, end, &len) ||
	    !expect(&p, end, ':') || len > sizeof(r->bin)) {
		put_err(r, -EINVAL);
		return;
	}
	if (!binary) {
		if (!parse_bytes(p, end, r->bin, len)) {
			put_err(r, -EINVAL);
			return;
		}
		n = len;
	} else {
		while (p < end && n < sizeof(r->bin)) {
			uint8_t c = (uint8_t)*p++;

			if (c == '}') {
				if (p >= end) {
					put_err(r, -EINVAL);
					return;
				}
				c = (uint8_t)*p++ ^ 0x20;
			}
			r->bin[n++] = c;
		}
		if (p != end || n != len) {
			put_err(r, -EINVAL);
			return;
		}
	}
	if (n == 0) {
		put_str(r, "OK"); /* gdb probes X support with a zero-length write */
		return;
	}
	e = r->t->write_mem(r->opaque, cur_thread(r), addr, r->bin, n);
	if (e < 0)
		put_err(r, e);
	else
		put_str(r, "OK");
}

static void do_bp(struct gdb_rsp *r, bool insert, const char *p, const char *end)
{
	uint64_t type, addr, kind;
	int e;

	if (!parse_hex(&p, end, &type) || !expect(&p, end, ',') || !parse_hex(&p, end, &addr) ||
	    !expect(&p, end, ',') || !parse_hex(&p, end, &kind) || type > GDB_WATCH_ACCESS) {
		put_err(r, -EINVAL);
		return;
	}
	if (p != end) { /* ;cond_list / ;cmds: target-side conditions are not supported */
		put_err(r, -EINVAL);
		return;
	}
	e = insert ? r->t->insert_bp(r->opaque, (enum gdb_bp_type)type, addr, kind)
		   : r->t->remove_bp(r->opaque, (enum gdb_bp_type)type, addr, kind);
	if (e < 0)
		put_err(r, e);
	else
		put_str(r, "OK");
}

static void do_regs_read(struct gdb_rsp *r)
{
	int n = r->t->read_regs(r->opaque, cur_thread(r), r->regs, sizeof(r->regs));

	if (n < 0) {
		put_err(r, n);
		return;
	}
	put_packet(r, r->reply, to_hex((char *)r->reply, r->regs, (size_t)n));
}

static void do_regs_write(struct gdb_rsp *r, const char *p, const char *end)
{
	size_t len = (size_t)(end - p) / 2;
	int e;

	if ((size_t)(end - p) % 2 || len > sizeof(r->regs) || !parse_bytes(p, end, r->regs, len)) {
		put_err(r, -EINVAL);
		return;
	}
	e = r->t->write_regs(r->opaque, cur_thread(r), r->regs, len);
	if (e < 0)
		put_err(r, e);
	else
		put_str(r, "OK");
}

static void do_reg(struct gdb_rsp *r, bool write, const char *p, const char *end)
{
	unsigned int th = cur_thread(r);
	uint64_t regno;
	size_t off, len;
	int n, e;

	if (!parse_hex(&p, end, &regno) || regno > 0xffff) {
		put_err(r, -EINVAL);
		return;
	}
	if (r->t->reg_location(r->opaque, (unsigned int)regno, &off, &len) < 0) {
		put_err(r, -ENOENT);
		return;
	}
	n = r->t->read_regs(r->opaque, th, r->regs, sizeof(r->regs));
	if (n < 0) {
		put_err(r, n);
		return;
	}
	if (off > (size_t)n || len > (size_t)n - off) {
		put_err(r, -ENOENT);
		return;
	}
	if (!write) {
		if (p != end) {
			put_err(r, -EINVAL);
			return;
		}
		put_packet(r, r->reply, to_hex((char *)r->reply, r->regs + off, len));
		return;
	}
	if (!expect(&p, end, '=') || !parse_bytes(p, end, r->regs + off, len)) {
		put_err(r, -EINVAL);
		return;
	}
	e = r->t->write_regs(r->opaque, th, r->regs, (size_t)n);
	if (e < 0)
		put_err(r, e);
	else
		put_str(r, "OK");
}

static void do_set_thread(struct gdb_rsp *r, const char *p, const char *end)
{
	char op;
	long t;

	if (p >= end) {
		put_err(r, -EINVAL);
		return;
	}
	op = *p++;
	if ((op != 'g' && op != 'c') || !parse_thread(&p, end, &t) || p != end ||
	    (t > 0 && !valid_thread(r, t))) {
		put_err(r, -EINVAL);
		return;
	}
	if (op == 'g')
		r->g_thread = t > 0 ? (unsigned int)t : 0;
	else
		r->c_thread = t > 0 ? (unsigned int)t : 0;
	put_str(r, "OK");
}

/* One complete, checksummed packet. Returns what the caller must do. */
static enum gdb_event dispatch(struct gdb_rsp *r, const char *p, const char *end)
{
	char cmd;

	if (p >= end) {
		put_str(r, "");
		return GDB_EV_NONE;
	}
	if (r->exited) {
		put_str(r, "E01");
		return GDB_EV_NONE;
	}
	if (r->running) {
		put_str(r, "E01"); /* all-stop: gdb sends nothing but 0x03 while the target runs */
		return GDB_EV_NONE;
	}
	cmd = *p++;
	switch (cmd) {
	case '?':
		send_stop(r);
		break;
	case 'g':
		if (p != end)
			put_err(r, -EINVAL);
		else
			do_regs_read(r);
		break;
	case 'G':
		do_regs_write(r, p, end);
		break;
	case 'p':
		do_reg(r, false, p, end);
		break;
	case 'P':
		do_reg(r, true, p, end);
		break;
	case 'm':
		do_mem_read(r, p, end);
		break;
	case 'M':
		do_mem_write(r, false, p, end);
		break;
	case 'X':
		do_mem_write(r, true, p, end);
		break;
	case 'Z':
	case 'z':
		do_bp(r, cmd == 'Z', p, end);
		break;
	case 'H':
		do_set_thread(r, p, end);
		break;
	case 'T': {
		long t;

		if (parse_thread(&p, end, &t) && p == end && valid_thread(r, t))
			put_str(r, "OK");
		else
			put_err(r, -ENOENT);
		break;
	}
	case 'q':
		do_query(r, p - 1, end);
		break;
	case 'v':
		if ((size_t)(end - p) == 5 && memcmp(p, "Cont?", 5) == 0)
			put_str(r, "vCont;c;C;s;S;t");
		else if ((size_t)(end - p) >= 4 && memcmp(p, "Cont", 4) == 0 &&
			 (end - p == 4 || p[4] == ';')) {
			do_vcont(r, p + 4, end);
			return r->running ? GDB_EV_RESUMED : GDB_EV_NONE;
		} else
			put_str(r, ""); /* vMustReplyEmpty, vKill, vRun...: not supported */
		break;
	case 'c':
	case 's':
		do_resume_legacy(r, cmd, p, end);
		return r->running ? GDB_EV_RESUMED : GDB_EV_NONE;
	case 'D':
		put_str(r, "OK");
		r->t->detach(r->opaque);
		r->exited = true;
		return GDB_EV_DETACHED;
	case 'k':
		r->t->kill(r->opaque);
		r->exited = true;
		return GDB_EV_KILLED;
	default:
		put_str(r, "");
		break;
	}
	return GDB_EV_NONE;
}

enum gdb_event gdb_rsp_feed(struct gdb_rsp *r, const uint8_t *buf, size_t len)
{
	enum gdb_event ev = GDB_EV_NONE;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		enum gdb_event e = GDB_EV_NONE;

		switch (r->state) {
		case RX_IDLE:
			if (c == '$') {
				r->state = RX_DATA;
				r->pkt_len = 0;
				r->sum = 0;
				r->overflow = false;
			} else if (c == 0x03) {
				if (r->running)
					e = GDB_EV_INTERRUPT;
			} else if (c == '-' && r->last_len) {
				r->send(r->sopaque, r->last, r->last_len);
			} /* '+' and noise between packets are ignored */
			break;
		case RX_DATA:
			if (c == '#') {
				r->state = RX_CSUM1;
				break;
			}
			r->sum += c;
			if (r->pkt_len < GDB_PACKET_MAX)
				r->pkt[r->pkt_len++] = c;
			else
				r->overflow = true;
			break;
		case RX_CSUM1:
			if (hexval(c) < 0) {
				r->state = RX_IDLE;
				r->send(r->sopaque, "-", 1);
				break;
			}
			r->csum_hi = (uint8_t)hexval(c);
			r->state = RX_CSUM2;
			break;
		case RX_CSUM2:
			r->state = RX_IDLE;
			if (hexval(c) < 0 || (uint8_t)(r->csum_hi << 4 | hexval(c)) != r->sum) {
				r->send(r->sopaque, "-", 1);
				break;
			}
			r->send(r->sopaque, "+", 1);
			if (r->overflow) {
				put_str(r, "E01");
				break;
			}
			r->pkt[r->pkt_len] = 0;
			e = dispatch(r, (const char *)r->pkt, (const char *)r->pkt + r->pkt_len);
			break;
		}
		if (e != GDB_EV_NONE && ev == GDB_EV_NONE)
			ev = e;
	}
	return ev;
}

struct gdb_rsp *gdb_rsp_create(const struct gdb_target *t, void *opaque,
			       void (*send)(void *sopaque, const void *buf, size_t len),
			       void *sopaque)
{
	struct gdb_rsp *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->last = malloc(2 * (GDB_PACKET_MAX + 1) + 4);
	if (!r->last) {
		free(r);
		return NULL;
	}
	r->t = t;
	r->opaque = opaque;
	r->send = send;
	r->sopaque = sopaque;
	r->stop = (struct gdb_stop){ .thread = 1, .signal = 5 };
	return r;
}

void gdb_rsp_destroy(struct gdb_rsp *r)
{
	if (!r)
		return;
	free(r->last);
	free(r);
}
