/* queue.c: split virtqueues: ring validation, chain walks, used-ring updates and event idx. */
#include "devices/virtio/queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio/virtio.h"

/* Ring layouts (virtio 1.2, 2.7.5-2.7.8), little-endian like x86:
 *   descriptor table: size * { le64 addr; le32 len; le16 flags; le16 next; }
 *   available ring:   le16 flags; le16 idx; le16 ring[size]; le16 used_event;
 *   used ring:        le16 flags; le16 idx; size * { le32 id; le32 len; }; le16 avail_event; */
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_IDX 2
#define USED_RING 4

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint64_t avail_bytes(uint16_t size) { return 6 + 2ull * size; }
static uint64_t used_bytes(uint16_t size) { return 6 + 8ull * size; }

/* The guest writes these concurrently: every read of a shared index is one atomic load, and the
 * value is used only as read (never re-read). */
static uint16_t ld16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

/* Where a store must be ordered before a later load of another field (the store-load pairs of
 * 2.7.10: avail_event then avail idx, used idx then used_event or flags), both are sequentially
 * consistent (an xchg on x86): a full barrier without a fence ThreadSanitizer cannot model. */
static void st16_sc(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_SEQ_CST);
}

static uint16_t ld16_sc(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_SEQ_CST);
}

static int fault_at(struct virtq_fault *f, enum virtq_fault_kind kind, uint16_t desc, uint64_t addr,
		    uint64_t len)
{
	*f = (struct virtq_fault){ .kind = kind, .desc = desc, .addr = addr, .len = len };
	return -EINVAL;
}

void virtq_reset(struct virtq *q)
{
	const struct gmem *gm = q->gm;
	struct virtq_state *st = q->st;

	memset(st, 0, sizeof(*st));
	memset(q, 0, sizeof(*q));
	q->st = st;
	q->gm = gm;
}

int virtq_activate(struct virtq *q, const struct gmem *gm, struct virtq_fault *f)
{
	const struct virtq_state *s = q->st;

	q->gm = gm;
	q->desc = q->avail = q->used = NULL;
	q->broken = false;
	if (!s->size || s->size > VIRTQ_MAX_SIZE || (s->size & (s->size - 1)))
		return fault_at(f, VIRTQ_BAD_SIZE, 0, 0, s->size);
	if (s->desc % VIRTQ_DESC_ALIGN)
		return fault_at(f, VIRTQ_BAD_ALIGN, 0, s->desc, VIRTQ_DESC_ALIGN);
	if (s->avail % VIRTQ_AVAIL_ALIGN)
		return fault_at(f, VIRTQ_BAD_ALIGN, 0, s->avail, VIRTQ_AVAIL_ALIGN);
	if (s->used % VIRTQ_USED_ALIGN)
		return fault_at(f, VIRTQ_BAD_ALIGN, 0, s->used, VIRTQ_USED_ALIGN);

	uint8_t *d = gmem_ptr(gm, s->desc, (uint64_t)s->size * VIRTQ_DESC_SIZE);
	uint8_t *a = gmem_ptr(gm, s->avail, avail_bytes(s->size));
	uint8_t *u = gmem_ptr(gm, s->used, used_bytes(s->size));

	if (!d)
		return fault_at(f, VIRTQ_RING_OUTSIDE, 0, s->desc, (uint64_t)s->size * VIRTQ_DESC_SIZE);
	if (!a)
		return fault_at(f, VIRTQ_RING_OUTSIDE, 0, s->avail, avail_bytes(s->size));
	if (!u)
		return fault_at(f, VIRTQ_RING_OUTSIDE, 0, s->used, used_bytes(s->size));
	q->desc = d;
	q->avail = a;
	q->used = u;
	return 0;
}

static void read_desc(const uint8_t *table, uint16_t i, struct desc *out)
{
	/* One copy of the guest's bytes; only the copy is validated and used. */
	memcpy(out, table + (size_t)i * VIRTQ_DESC_SIZE, sizeof(*out));
}

/* Adds one buffer to the chain. */
static int add_buf(struct virtq *q, struct virtq_chain *c, const struct desc *d, uint16_t i,
		   struct virtq_fault *f)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	if (!writable && c->nr_in)
		return fault_at(f, VIRTQ_READ_AFTER_WRITE, i, d->addr, d->len);
	if (!d->len)
		return 0;
	p = gmem_ptr(q->gm, d->addr, d->len);
	if (!p)
		return fault_at(f, VIRTQ_BUF_OUTSIDE, i, d->addr, d->len);
	if (c->nr_out + c->nr_in >= VIRTQ_MAX_CHAIN)
		return fault_at(f, VIRTQ_TOO_LONG, i, d->addr, VIRTQ_MAX_CHAIN);
	c->iov[c->nr_out + c->nr_in] = (struct iovec){ p, d->len };
	if (writable) {
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	return 0;
}

/* Walks the chain at `head`: at most `size` hops in the descriptor table and at most the table's
 * entry count in an indirect table, so a loop ends as an error instead of spinning. */
static int walk(struct virtq *q, uint16_t head, struct virtq_chain *c, struct virtq_fault *f)
{
	const uint8_t *table = q->desc;
	uint32_t table_size = q->st->size, hops = 0;
	bool indirect = false;
	uint16_t i = head;
	struct desc d;

	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		if (++hops > table_size)
			return fault_at(f, VIRTQ_LOOP, i, 0, hops);
		read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!q->st->indirect || indirect || (d.flags & VIRTQ_DESC_F_NEXT) ||
			    !d.len || d.len % VIRTQ_DESC_SIZE ||
			    d.len / VIRTQ_DESC_SIZE > VIRTQ_MAX_CHAIN)
				return fault_at(f, VIRTQ_BAD_INDIRECT, i, d.addr, d.len);
			table = gmem_ptr(q->gm, d.addr, d.len);
			if (!table)
				return fault_at(f, VIRTQ_BUF_OUTSIDE, i, d.addr, d.len);
			/* 2.7.5.3.1: the device ignores the write flag of the indirect descriptor. */
			indirect = true;
			table_size = d.len / VIRTQ_DESC_SIZE;
			hops = 0;
			i = 0;
			continue;
		}
		if (add_buf(q, c, &d, i, f))
			return -EINVAL;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= table_size)
			return fault_at(f, VIRTQ_BAD_NEXT, i, 0, d.next);
		i = d.next;
	}
}

/* Marks the queue broken by fault *f and remembers it. Returns `ret`. */
static int broken(struct virtq *q, const struct virtq_fault *f, int ret)
{
	q->broken = true;
	q->fault = (struct virtq_fault_saved){ f->kind, f->desc, f->addr, f->len };
	return ret;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c, struct virtq_fault *f)
{
	uint16_t avail_idx, pending, head;

	if (q->broken) {
		/* The same fault again: the transport reports it only once. */
		*f = (struct virtq_fault){ .kind = (enum virtq_fault_kind)q->fault.kind,
					   .desc = q->fault.desc, .addr = q->fault.addr,
					   .len = q->fault.len };
		return -EINVAL;
	}
	if (!q->desc)
		return 0;
	if (q->st->event_idx) {
		/* Ask for a notification at the next buffer, then look again so one added meanwhile
		 * is not missed (2.7.10). */
		st16_sc(q->used + USED_RING + 8u * q->st->size, q->st->next_avail);
	}
	avail_idx = ld16_sc(q->avail + AVAIL_IDX);
	pending = (uint16_t)(avail_idx - q->st->next_avail);
	if (!pending)
		return 0;
	if (pending > q->st->size)
		return broken(q, f, fault_at(f, VIRTQ_BAD_AVAIL_IDX, 0, avail_idx, pending));
	head = ld16(q->avail + AVAIL_RING + 2u * (q->st->next_avail & (q->st->size - 1)));
	if (head >= q->st->size)
		return broken(q, f, fault_at(f, VIRTQ_BAD_HEAD, head, 0, q->st->size));
	if (walk(q, head, c, f))
		return broken(q, f, -EINVAL);
	q->st->next_avail++;
	return 1;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	q->st->next_avail = (uint16_t)(q->st->next_avail - n);
}

void virtq_fill(struct virtq *q, uint16_t i, uint16_t head, uint32_t written)
{
	uint8_t *e;

	if (!q->used)
		return;
	e = q->used + USED_RING + 8u * ((uint16_t)(q->st->next_used + i) & (q->st->size - 1));
	memcpy(e, &(uint32_t){ head }, 4);
	memcpy(e + 4, &written, 4);
}

void virtq_flush(struct virtq *q, uint16_t n)
{
	if (!q->used)
		return;
	q->st->next_used = (uint16_t)(q->st->next_used + n);
	/* The elements are visible before the index that publishes them, and the index before the
	 * driver's used_event or flags are read in virtq_should_notify(). */
	st16_sc(q->used + USED_IDX, q->st->next_used);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	virtq_fill(q, 0, head, written);
	virtq_flush(q, 1);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->st->signalled_used, now = q->st->next_used;
	bool valid = q->st->signalled_valid;

	if (!q->avail)
		return false;
	/* Sequentially consistent loads: ordered after the used idx store (virtq_push). */
	if (!q->st->event_idx)
		return !(ld16_sc(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	q->st->signalled_used = now;
	q->st->signalled_valid = 1;
	if (!valid)
		return true;
	return virtq_need_event(ld16_sc(q->avail + AVAIL_RING + 2u * q->st->size), now, old);
}

/* Copies between a flat buffer and the bytes of iov[0..nr) from `off` on. */
static uint64_t iov_copy(const struct iovec *iov, unsigned int nr, uint64_t off, uint8_t *buf,
			 uint64_t len, bool to_iov)
{
	uint64_t done = 0;

	for (unsigned int i = 0; i < nr && done < len; i++) {
		uint64_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, buf + done, l);
		else
			memcpy(buf + done, (uint8_t *)iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

uint64_t iov_to_buf(const struct iovec *iov, unsigned int nr, uint64_t off, void *dst, uint64_t len)
{
	return iov_copy(iov, nr, off, dst, len, false);
}

uint64_t iov_from_buf(const struct iovec *iov, unsigned int nr, uint64_t off, const void *src,
		      uint64_t len)
{
	return iov_copy(iov, nr, off, (uint8_t *)(uintptr_t)src, len, true);
}

uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst, uint64_t len)
{
	return iov_to_buf(c->iov, c->nr_out, off, dst, len);
}

const char *virtq_fault_str(const struct virtq_fault *f, char *buf, size_t size)
{
	unsigned long long a = f->addr, l = f->len;

	switch (f->kind) {
	case VIRTQ_OK:
		snprintf(buf, size, "no fault");
		break;
	case VIRTQ_BAD_SIZE:
		snprintf(buf, size, "queue size %llu is not a power of two in 1..%u", l, VIRTQ_MAX_SIZE);
		break;
	case VIRTQ_BAD_ALIGN:
		snprintf(buf, size, "ring address 0x%llx is not %llu-byte aligned", a, l);
		break;
	case VIRTQ_RING_OUTSIDE:
		snprintf(buf, size, "ring 0x%llx+0x%llx lies outside guest RAM", a, l);
		break;
	case VIRTQ_BAD_AVAIL_IDX:
		snprintf(buf, size, "avail idx %llu moved by %llu, more than the queue size", a, l);
		break;
	case VIRTQ_BAD_HEAD:
		snprintf(buf, size, "available entry %u is not a descriptor index (size %llu)", f->desc,
			 l);
		break;
	case VIRTQ_BAD_NEXT:
		snprintf(buf, size, "descriptor %u: next index %llu is out of range", f->desc, l);
		break;
	case VIRTQ_LOOP:
		snprintf(buf, size, "descriptor %u: chain loops (more hops than descriptors)", f->desc);
		break;
	case VIRTQ_TOO_LONG:
		snprintf(buf, size, "descriptor %u: chain longer than %llu buffers", f->desc, l);
		break;
	case VIRTQ_BUF_OUTSIDE:
		snprintf(buf, size, "descriptor %u: buffer 0x%llx length 0x%llx lies outside guest RAM",
			 f->desc, a, l);
		break;
	case VIRTQ_BAD_INDIRECT:
		snprintf(buf, size, "descriptor %u: bad indirect table at 0x%llx length %llu", f->desc,
			 a, l);
		break;
	case VIRTQ_READ_AFTER_WRITE:
		snprintf(buf, size, "descriptor %u: device-readable buffer after a writable one",
			 f->desc);
		break;
	}
	return buf;
}
