/* blk.c: virtio-blk: request parsing and checking, and its execution through io_uring or preadv. */
#include "devices/virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "util/file.h"

/* Discard and write-zeroes take one segment of at most this many sectors (1 GiB). */
#define MAX_RANGE_SECTORS (1u << 21)
#define DIRECT_ALIGN 512

struct virtio_blk_req {
	struct virtq_chain chain;
	struct iovec *data;   /* the data buffers, inside chain.iov */
	unsigned int nr_data;
	uint64_t data_len;
	uint8_t *status;      /* the status byte in guest memory */
	uint32_t type;
	bool unmap;           /* write zeroes: VIRTIO_BLK_WRITE_ZEROES_UNMAP (a hole will do) */
	uint64_t offset;      /* bytes into the image */
	uint64_t generation;
	struct virtio_blk_req *next_free;
};

const char *virtio_blk_backend_name(enum disk_io be)
{
	return be == DISK_IO_URING ? "io_uring" : be == DISK_IO_SYNC
									     ? "sync"
									     : "auto";
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void blk_config_read(void *dev, uint32_t off, void *data, unsigned int size)
{
	struct virtio_blk *b = dev;
	uint8_t c[VIRTIO_BLK_CONFIG_SIZE] = { 0 };

	memcpy(c + 0, &b->capacity, 8);
	put32(c + 12, VIRTIO_BLK_SEG_MAX);
	put32(c + 36, MAX_RANGE_SECTORS);      /* max_discard_sectors */
	put32(c + 40, 1);                      /* max_discard_seg */
	put32(c + 44, 1);                      /* discard_sector_alignment */
	put32(c + 48, MAX_RANGE_SECTORS);      /* max_write_zeroes_sectors */
	put32(c + 52, 1);                      /* max_write_zeroes_seg */
	c[56] = 1;                             /* write_zeroes_may_unmap */
	memcpy(data, c + off, size);
}

/* ---- request parsing: every field is copied out of guest memory once, then checked ---------- */

/* Drops the first `skip` bytes of iov[0..*nr); returns the new start. */
static struct iovec *iov_skip(struct iovec *iov, unsigned int *nr, uint64_t skip)
{
	while (*nr && skip) {
		if (skip < iov->iov_len) {
			iov->iov_base = (uint8_t *)iov->iov_base + skip;
			iov->iov_len -= skip;
			break;
		}
		skip -= iov->iov_len;
		iov++;
		(*nr)--;
	}
	return iov;
}

static bool range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t bytes, uint64_t *off)
{
	uint64_t end;

	return !mul_overflow(sector, (uint64_t)VIRTIO_BLK_SECTOR, off) &&
	       !add_overflow(*off, bytes, &end) && end <= b->capacity * VIRTIO_BLK_SECTOR;
}

/* Sets up `r` from its chain. Returns VIRTIO_BLK_S_OK when the request is to be executed, an
 * error status to answer at once, or -1 when the chain has no room for a status byte. */
static int parse(struct virtio_blk *b, struct virtio_blk_req *r)
{
	struct virtq_chain *c = &r->chain;
	uint8_t hdr[VIRTIO_BLK_REQ_HDR], seg[16];
	struct iovec *last;
	uint64_t sector;

	if (!c->nr_in || c->out_len < VIRTIO_BLK_REQ_HDR) {
		virtio_mmio_guest_error(&b->t, "request %u: %llu readable and %llu writable bytes, "
					"no room for header and status", c->head,
					(unsigned long long)c->out_len,
					(unsigned long long)c->in_len);
		return -1;
	}
	(void)virtq_chain_read(c, 0, hdr, sizeof(hdr));
	memcpy(&r->type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	/* A discard or write-zeroes segment follows the header, maybe in the same buffer: read it
	 * now, before iov_skip() below moves the readable iovecs past the header. */
	if (r->type == VIRTIO_BLK_T_DISCARD || r->type == VIRTIO_BLK_T_WRITE_ZEROES)
		(void)virtq_chain_read(c, VIRTIO_BLK_REQ_HDR, seg, sizeof(seg));

	/* The status is the last writable byte (5.2.6). */
	last = &c->iov[c->nr_out + c->nr_in - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	last->iov_len--;

	if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID) {
		r->data = &c->iov[c->nr_out];
		r->nr_data = c->nr_in - (last->iov_len == 0);
		r->data_len = c->in_len - 1;
	} else {
		r->nr_data = c->nr_out;
		r->data = iov_skip(c->iov, &r->nr_data, VIRTIO_BLK_REQ_HDR);
		r->data_len = c->out_len - VIRTIO_BLK_REQ_HDR;
	}

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (r->type == VIRTIO_BLK_T_OUT && b->ro)
			return VIRTIO_BLK_S_IOERR; /* 5.2.6.2: a read-only device fails writes */
		if (r->data_len % VIRTIO_BLK_SECTOR || !range_ok(b, sector, r->data_len, &r->offset)) {
			virtio_mmio_guest_error(&b->t, "request %u: %s of %llu bytes at sector %llu "
						"(capacity %llu sectors)", c->head,
						r->type == VIRTIO_BLK_T_IN ? "read" : "write",
						(unsigned long long)r->data_len,
						(unsigned long long)sector,
						(unsigned long long)b->capacity);
			return VIRTIO_BLK_S_IOERR;
		}
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
	case VIRTIO_BLK_T_GET_ID:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		uint32_t num, flags;

		if (b->ro)
			return VIRTIO_BLK_S_IOERR;
		/* One segment: le64 sector, le32 num_sectors, le32 flags (5.2.6). */
		if (r->data_len != sizeof(seg))
			return VIRTIO_BLK_S_UNSUPP;
		memcpy(&sector, seg, 8);
		memcpy(&num, seg + 8, 4);
		memcpy(&flags, seg + 12, 4);
		if ((r->type == VIRTIO_BLK_T_DISCARD && flags) ||
		    (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > MAX_RANGE_SECTORS ||
		    !range_ok(b, sector, (uint64_t)num * VIRTIO_BLK_SECTOR, &r->offset))
			return VIRTIO_BLK_S_IOERR;
		r->data_len = (uint64_t)num * VIRTIO_BLK_SECTOR; /* now the range's length */
		/* Still a write zeroes: unlike a discard, it must read back as zeroes even where
		 * holes cannot be punched. */
		r->unmap = flags & VIRTIO_BLK_WRITE_ZEROES_UNMAP;
		return VIRTIO_BLK_S_OK;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* ---- execution ------------------------------------------------------------------------------ */

static void count(struct virtio_blk *b, const struct virtio_blk_req *r, int status)
{
	if (status != VIRTIO_BLK_S_OK) {
		b->n.io_errors++;
		return;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN: b->n.reads++; b->n.read_bytes += r->data_len; break;
	case VIRTIO_BLK_T_OUT: b->n.writes++; b->n.write_bytes += r->data_len; break;
	case VIRTIO_BLK_T_FLUSH: b->n.flushes++; break;
	case VIRTIO_BLK_T_GET_ID: b->n.get_ids++; break;
	case VIRTIO_BLK_T_DISCARD: b->n.discards++; break;
	default: b->n.write_zeroes++; break;
	}
}

/* Returns the request to the driver (when it still belongs to the current generation) and
 * recycles it. Returns whether the used ring changed. */
static bool finish(struct virtio_blk *b, struct virtio_blk_req *r, int status)
{
	bool current = r->generation == b->generation;
	uint32_t written = 0;

	if (current) {
		if (status >= 0) {
			count(b, r, status);
			*r->status = (uint8_t)status;
			written = 1;
			if (status == VIRTIO_BLK_S_OK &&
			    (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID))
				written += (uint32_t)r->data_len;
		}
		virtq_push(&b->t.queues[0], r->chain.head, written);
	}
	r->next_free = b->free_reqs;
	b->free_reqs = r;
	return current;
}

static bool aligned(const struct virtio_blk_req *r)
{
	if (r->offset % DIRECT_ALIGN)
		return false;
	for (unsigned int i = 0; i < r->nr_data; i++)
		if ((uintptr_t)r->data[i].iov_base % DIRECT_ALIGN ||
		    r->data[i].iov_len % DIRECT_ALIGN)
			return false;
	return true;
}

/* preadv/pwritev until done: regular files may return short counts. */
static int rw_sync(int fd, bool write, struct iovec *iov, unsigned int nr, uint64_t off,
		   uint64_t len)
{
	struct iovec local[VIRTQ_MAX_CHAIN];
	uint64_t done = 0;

	memcpy(local, iov, nr * sizeof(*iov));
	iov = local;
	while (done < len) {
		ssize_t n = write ? pwritev(fd, iov, (int)nr, (off_t)(off + done))
				  : preadv(fd, iov, (int)nr, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (uint64_t)n;
		iov = iov_skip(iov, &nr, (uint64_t)n);
	}
	return 0;
}

static int zero_range(struct virtio_blk *b, const struct virtio_blk_req *r)
{
	static const uint8_t zeroes[65536];
	/* With UNMAP a hole (which reads as zeroes) is preferred to allocated zeroes. */
	int first = r->unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
	int second = r->unmap ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE;
	uint64_t done = 0;

	if (!r->data_len ||
	    !fallocate(b->fd_buffered, first | FALLOC_FL_KEEP_SIZE, (off_t)r->offset,
		       (off_t)r->data_len) ||
	    !fallocate(b->fd_buffered, second | FALLOC_FL_KEEP_SIZE, (off_t)r->offset,
		       (off_t)r->data_len))
		return 0;
	while (done < r->data_len) {
		size_t l = r->data_len - done < sizeof(zeroes) ? r->data_len - done : sizeof(zeroes);
		ssize_t n = pwrite(b->fd_buffered, zeroes, l, (off_t)(r->offset + done));

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return n < 0 ? -errno : -EIO;
		}
		done += (uint64_t)n;
	}
	return 0;
}

static int status_of(struct virtio_blk *b, const struct virtio_blk_req *r, int err)
{
	if (!err)
		return VIRTIO_BLK_S_OK;
	virtio_mmio_guest_error(&b->t, "request %u (type %u) at byte %llu: %s", r->chain.head,
				r->type, (unsigned long long)r->offset, strerror(-err));
	return VIRTIO_BLK_S_IOERR;
}

/* Executes `r` now, on this thread. */
static int exec_sync(struct virtio_blk *b, struct virtio_blk_req *r)
{
	int fd = b->direct && aligned(r) ? b->fd : b->fd_buffered;
	uint8_t id[VIRTIO_BLK_ID_BYTES];
	int e = 0;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		e = rw_sync(fd, r->type == VIRTIO_BLK_T_OUT, r->data, r->nr_data, r->offset,
			    r->data_len);
		if (e == -EINVAL && fd != b->fd_buffered)
			e = rw_sync(b->fd_buffered, r->type == VIRTIO_BLK_T_OUT, r->data,
				    r->nr_data, r->offset, r->data_len);
		break;
	case VIRTIO_BLK_T_FLUSH:
		e = fdatasync(b->fd) ? -errno : 0;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		/* Up to 20 bytes, not NUL-terminated when all 20 are used (5.2.6). */
		memcpy(id, b->serial, sizeof(id));
		r->data_len = iov_from_buf(r->data, r->nr_data, 0, id,
					   r->data_len < sizeof(id) ? r->data_len : sizeof(id));
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
		/* Advisory (5.2.6.2): a file system that cannot punch holes just keeps the data.
		 * An empty range is nothing to do (fallocate() would refuse a zero length). */
		if (r->data_len &&
		    fallocate(b->fd_buffered, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)r->offset, (off_t)r->data_len) &&
		    errno != EOPNOTSUPP)
			e = -errno;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		e = zero_range(b, r);
		break;
	}
	return status_of(b, r, e);
}

/* Queues `r` on the ring. Returns 0, or -EAGAIN when it must run synchronously instead. */
static int submit_uring(struct virtio_blk *b, struct virtio_blk_req *r)
{
	struct io_uring_sqe *sqe;
	int fd = b->direct && aligned(r) ? b->fd : b->fd_buffered;

	if (r->type != VIRTIO_BLK_T_IN && r->type != VIRTIO_BLK_T_OUT &&
	    r->type != VIRTIO_BLK_T_FLUSH)
		return -EAGAIN;
	sqe = io_uring_get_sqe(&b->ring);
	if (!sqe) {
		(void)io_uring_submit(&b->ring);
		sqe = io_uring_get_sqe(&b->ring);
		if (!sqe)
			return -EAGAIN;
	}
	if (r->type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, fd, r->data, r->nr_data, r->offset);
	else if (r->type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, fd, r->data, r->nr_data, r->offset);
	else
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, r);
	b->inflight++;
	return 0;
}

/* What a request costs its rate limiter: its data bytes (reads and writes), and one operation
 * (all but GET_ID, which only reads the serial). */
static uint64_t limit_bytes(const struct virtio_blk_req *r)
{
	return r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT ? r->data_len : 0;
}

static uint64_t limit_ops(const struct virtio_blk_req *r)
{
	return r->type == VIRTIO_BLK_T_GET_ID ? 0 : 1;
}

/* Takes every available request (as long as request slots last) and runs or queues it. A
 * request the rate limiter holds back waits in b->throttled, and nothing after it is taken,
 * until the limiter's timer fires (blk_rate_timer). Returns whether the used ring changed. */
static bool process(struct virtio_blk *b)
{
	struct virtq *q = &b->t.queues[0];
	struct virtq_fault f;
	bool pushed = false, queued = false;

	while (b->free_reqs || b->throttled) {
		struct virtio_blk_req *r = b->throttled;
		int st = VIRTIO_BLK_S_OK;

		if (r) {
			if (!rate_limiter_consume(&b->rl, limit_bytes(r), limit_ops(r)))
				break;
			b->throttled = NULL;
		} else {
			int n;

			r = b->free_reqs;
			n = virtq_pop(q, &r->chain, &f);
			if (n <= 0) {
				if (n < 0)
					virtio_mmio_queue_fault(&b->t, 0, &f);
				break;
			}
			b->free_reqs = r->next_free;
			r->generation = b->generation;
			st = parse(b, r);
			if (st == VIRTIO_BLK_S_OK &&
			    !rate_limiter_consume(&b->rl, limit_bytes(r), limit_ops(r))) {
				b->throttled = r;
				break;
			}
		}
		if (st == VIRTIO_BLK_S_OK && b->backend == DISK_IO_URING &&
		    !submit_uring(b, r)) {
			queued = true;
			continue;
		}
		if (st == VIRTIO_BLK_S_OK)
			st = exec_sync(b, r);
		pushed |= finish(b, r, st);
	}
	if (queued) {
		int e = io_uring_submit(&b->ring);

		if (e < 0)
			pr_warn_ratelimited(&b->t.rl, "%s: io_uring_submit: %s", b->t.name,
					    strerror(-e));
	}
	return pushed;
}

static void blk_queue_notify(void *dev, unsigned int q)
{
	struct virtio_blk *b = dev;

	if (process(b))
		virtio_mmio_used(&b->t, q);
}

/* Reaps completions; lock held. Returns whether the used ring changed. */
static bool reap(struct virtio_blk *b)
{
	struct io_uring_cqe *cqe;
	bool pushed = false;

	while (b->inflight && io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		struct virtio_blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res, err = 0;

		io_uring_cqe_seen(&b->ring, cqe);
		b->inflight--;
		if (r->type == VIRTIO_BLK_T_FLUSH) {
			err = res < 0 ? res : 0;
		} else if (res == -EINVAL && b->direct) {
			/* The host wanted a stricter O_DIRECT alignment: redo it through the cache. */
			err = rw_sync(b->fd_buffered, r->type == VIRTIO_BLK_T_OUT, r->data,
				      r->nr_data, r->offset, r->data_len);
		} else if (res < 0) {
			err = res;
		} else if ((uint64_t)res != r->data_len) {
			/* Short: finish the rest synchronously. */
			unsigned int nr = r->nr_data;
			struct iovec *rest = iov_skip(r->data, &nr, (uint64_t)res);

			err = rw_sync(b->fd_buffered, r->type == VIRTIO_BLK_T_OUT, rest, nr,
				      r->offset + (uint64_t)res, r->data_len - (uint64_t)res);
		}
		pushed |= finish(b, r, status_of(b, r, err));
	}
	return pushed;
}

void virtio_blk_complete(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;
	eventfd_t v;
	bool pushed;

	(void)events;
	if (eventfd_read(b->ring_fd, &v))
		return;
	pthread_mutex_lock(&b->t.lock);
	pushed = reap(b);
	/* Requests waiting for a free slot can go now. */
	if (virtio_mmio_running(&b->t) && b->t.queues[0].desc)
		pushed |= process(b);
	if (pushed)
		virtio_mmio_used(&b->t, 0);
	pthread_mutex_unlock(&b->t.lock);
}

/* Lock held: waits until nothing is in flight (destroy, save). Returns whether the used ring
 * changed. */
static bool drain(struct virtio_blk *b)
{
	bool pushed = false;

	while (b->inflight) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&b->ring, &cqe))
			break;
		pushed |= reap(b);
	}
	return pushed;
}

static void blk_reset(void *dev)
{
	struct virtio_blk *b = dev;

	/* Requests in flight finish into guest memory the driver gave up, but are not returned
	 * on the new rings; a throttled one has not started and is dropped. */
	b->generation++;
	if (b->throttled) {
		b->throttled->next_free = b->free_reqs;
		b->free_reqs = b->throttled;
		b->throttled = NULL;
	}
}

/* The rate limiter's timer: the throttled request may go now (I/O thread). */
void virtio_blk_rate_timer(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;

	(void)events;
	rate_limiter_timer_event(&b->rl);
	pthread_mutex_lock(&b->t.lock);
	if (virtio_mmio_running(&b->t) && b->t.queues[0].desc && process(b))
		virtio_mmio_used(&b->t, 0);
	pthread_mutex_unlock(&b->t.lock);
}

struct rate_limiter *virtio_blk_rate_limiter(struct virtio_blk *b)
{
	return &b->rl;
}

static const struct virtio_device_ops blk_ops = {
	.kind = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nr_queues = 1,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
};

static int image_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) ? -errno : 0;
	return -EINVAL;
}

static int setup_uring(struct virtio_blk *b)
{
	int e = io_uring_queue_init(VIRTQ_MAX_SIZE, &b->ring, 0);

	if (e)
		return e;
	b->ring_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->ring_fd < 0) {
		e = -errno;
		io_uring_queue_exit(&b->ring);
		return e;
	}
	e = io_uring_register_eventfd(&b->ring, b->ring_fd);
	if (e) {
		close(b->ring_fd);
		b->ring_fd = -1;
		io_uring_queue_exit(&b->ring);
	}
	return e;
}

/* Opens, locks and sizes an image: *fd_buffered through the page cache, *fd with O_DIRECT when
 * `direct` (else the same descriptor). Returns 0 or -errno with a one-line reason in err. */
static int open_image(const char *path, bool ro, bool direct, int *fd_buffered, int *fd,
		      uint64_t *sectors, char *err, size_t err_size)
{
	int flags = (ro ? O_RDONLY : O_RDWR), e;
	uint64_t size = 0;

	char why[128];

	/* Type-checked before flock() and without blocking: a FIFO is refused, never waited on. */
	*fd = *fd_buffered = file_open(path, flags, 0, FILE_REG | FILE_BLK, why, sizeof(why));
	if (*fd_buffered < 0) {
		e = *fd_buffered;
		*fd = *fd_buffered = -1;
		snprintf(err, err_size, "--disk %s: %s%s", path, e == -EINVAL ? "" : "cannot open: ",
			 why);
		return e;
	}
	/* Two VMs writing one image corrupt it: take the lock QEMU-style tools expect. */
	if (flock(*fd_buffered, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		e = -errno;
		snprintf(err, err_size, "--disk %s: image is in use by another process (%s)", path,
			 strerror(errno));
		goto fail;
	}
	if ((e = image_size(*fd_buffered, &size))) {
		snprintf(err, err_size, "--disk %s: not a regular file or block device", path);
		goto fail;
	}
	if (size < VIRTIO_BLK_SECTOR) {
		e = -EINVAL;
		snprintf(err, err_size, "--disk %s: image is smaller than one 512-byte sector", path);
		goto fail;
	}
	if (size % VIRTIO_BLK_SECTOR)
		pr_warn("--disk %s: size is not a multiple of 512; the last %llu bytes are not used",
			path, (unsigned long long)(size % VIRTIO_BLK_SECTOR));
	*sectors = size / VIRTIO_BLK_SECTOR;
	if (direct) {
		*fd = open(path, flags | O_DIRECT | O_CLOEXEC);
		if (*fd < 0) {
			e = -errno;
			snprintf(err, err_size, "--disk %s: cache=none: cannot open with O_DIRECT: %s",
				 path, strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	close(*fd_buffered);
	*fd = *fd_buffered = -1;
	return e;
}

int virtio_blk_init(struct virtio_blk *b, const char *name, const struct virtio_blk_opts *o,
		    const struct gmem *gm, uint64_t base, unsigned int gsi, struct irq_line line,
		    char *err, size_t err_size)
{
	uint64_t features;
	int e;

	memset(b, 0, sizeof(*b));
	b->fd = b->fd_buffered = b->ring_fd = b->rl.timer_fd = -1;
	b->ro = o->ro;
	b->direct = o->direct;
	if (o->id) /* 20 bytes, NUL-padded only when shorter (5.2.6) */
		memcpy(b->serial, o->id, strnlen(o->id, sizeof(b->serial)));

	e = open_image(o->path, o->ro, o->direct, &b->fd_buffered, &b->fd, &b->capacity, err,
		       err_size);
	if (e)
		goto fail;

	e = rate_limiter_init(&b->rl, o->rate_limiter);
	if (e) {
		snprintf(err, err_size, "--disk %s: rate limiter timer: %s", o->path, strerror(-e));
		goto fail;
	}
	b->reqs = calloc(VIRTQ_MAX_SIZE, sizeof(*b->reqs));
	if (!b->reqs) {
		e = -ENOMEM;
		snprintf(err, err_size, "--disk %s: out of memory", o->path);
		goto fail;
	}
	for (unsigned int i = VIRTQ_MAX_SIZE; i-- > 0;) {
		b->reqs[i].next_free = b->free_reqs;
		b->free_reqs = &b->reqs[i];
	}

	b->backend = DISK_IO_SYNC;
	if (o->backend != DISK_IO_SYNC) {
		e = setup_uring(b);
		if (!e) {
			b->backend = DISK_IO_URING;
		} else if (o->backend == DISK_IO_URING) {
			snprintf(err, err_size, "--disk %s: io=io_uring: io_uring unavailable: %s",
				 o->path, strerror(-e));
			goto fail;
		} else {
			pr_info("%s: io_uring unavailable (%s): using the sync backend", name,
				strerror(-e));
		}
	}

	features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
		   (o->ro ? VIRTIO_BIT(VIRTIO_BLK_F_RO)
			  : VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	e = virtio_mmio_init(&b->t, name, &blk_ops, b, features, gm, base, gsi, line);
	if (e) {
		snprintf(err, err_size, "%s: cannot create eventfds: %s", name, strerror(-e));
		goto fail;
	}
	pr_info("%s: %s, %llu sectors, %s, %s backend, cache=%s", name, o->path,
		(unsigned long long)b->capacity, o->ro ? "read-only" : "read-write",
		virtio_blk_backend_name(b->backend), o->direct ? "none" : "writeback");
	return 0;
fail:
	virtio_blk_destroy(b);
	return e;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (b->backend == DISK_IO_URING) {
		if (b->t.ops)
			pthread_mutex_lock(&b->t.lock);
		drain(b);
		if (b->t.ops)
			pthread_mutex_unlock(&b->t.lock);
		io_uring_queue_exit(&b->ring);
		b->backend = DISK_IO_SYNC;
	}
	virtio_mmio_destroy(&b->t);
	if (b->ring_fd >= 0)
		close(b->ring_fd);
	if (b->fd >= 0 && b->fd != b->fd_buffered)
		close(b->fd);
	if (b->fd_buffered >= 0)
		close(b->fd_buffered);
	b->fd = b->fd_buffered = b->ring_fd = -1;
	free(b->reqs);
	b->reqs = b->free_reqs = b->throttled = NULL;
	rate_limiter_destroy(&b->rl);
}

int virtio_blk_swap(struct virtio_blk *b, const char *path, char *err, size_t err_size)
{
	int fd, fd_buffered, e;
	uint64_t sectors, size;
	struct stat now, next;

	/* The same file again (it was resized): kiln's own lock is on it, so only re-read its
	 * size. */
	if (!stat(path, &next) && !fstat(b->fd_buffered, &now) && next.st_dev == now.st_dev &&
	    next.st_ino == now.st_ino) {
		if ((e = image_size(b->fd_buffered, &size)) || size < VIRTIO_BLK_SECTOR) {
			snprintf(err, err_size, "--disk %s: image is smaller than one 512-byte sector",
				 path);
			return e ? e : -EINVAL;
		}
		pthread_mutex_lock(&b->t.lock);
		b->capacity = size / VIRTIO_BLK_SECTOR;
		virtio_mmio_config_changed(&b->t);
		pthread_mutex_unlock(&b->t.lock);
		pr_info("%s: %s again, %llu sectors", b->t.name, path,
			(unsigned long long)(size / VIRTIO_BLK_SECTOR));
		return 0;
	}
	e = open_image(path, b->ro, b->direct, &fd_buffered, &fd, &sectors, err, err_size);
	if (e)
		return e;
	pthread_mutex_lock(&b->t.lock);
	/* Requests in flight finish on the old image; later ones see the new one. */
	if (b->backend == DISK_IO_URING)
		drain(b);
	if (b->fd != b->fd_buffered)
		close(b->fd);
	close(b->fd_buffered);
	b->fd = fd;
	b->fd_buffered = fd_buffered;
	b->capacity = sectors;
	virtio_mmio_config_changed(&b->t);
	pthread_mutex_unlock(&b->t.lock);
	pr_info("%s: now %s, %llu sectors", b->t.name, path, (unsigned long long)sectors);
	return 0;
}

int virtio_blk_completion_fd(const struct virtio_blk *b)
{
	return b->ring_fd;
}

void virtio_blk_get_counters(struct virtio_blk *b, struct virtio_blk_counters *out,
			     uint64_t *guest_errors)
{
	pthread_mutex_lock(&b->t.lock);
	*out = b->n;
	*guest_errors = b->t.faults;
	pthread_mutex_unlock(&b->t.lock);
}

void virtio_blk_save(struct virtio_blk *b, struct virtio_blk_state *out)
{
	pthread_mutex_lock(&b->t.lock);
	/* Requests in flight complete into the used ring (and the driver hears of them); the one
	 * the rate limiter holds back was taken last and has not started: it goes back to the
	 * available ring, which the restored device takes it from again. */
	if (b->backend == DISK_IO_URING && b->inflight && drain(b))
		virtio_mmio_used(&b->t, 0);
	if (b->throttled) {
		virtq_unpop(&b->t.queues[0], 1);
		b->throttled->next_free = b->free_reqs;
		b->free_reqs = b->throttled;
		b->throttled = NULL;
	}
	pthread_mutex_unlock(&b->t.lock);
	virtio_mmio_save(&b->t, &out->transport);
}

int virtio_blk_load(struct virtio_blk *b, const struct virtio_blk_state *in)
{
	return virtio_mmio_load(&b->t, &in->transport);
}

/* ---- the builder's device table (kind.h) ---------------------------------------------------- */

static unsigned int blk_count(const struct vmm_config *cfg)
{
	return cfg->nr_disks;
}

static int blk_init(void *dev, const struct virtio_dev_env *env, char *err, size_t err_size)
{
	const struct vmm_disk *d = &env->cfg->disks[env->index];
	struct virtio_blk_opts o = { .path = d->path, .id = d->id, .ro = d->ro,
				     .direct = d->cache == DISK_CACHE_NONE, .backend = d->io,
				     .rate_limiter = &d->rate_limiter };
	struct virtio_blk *b = dev;
	int e = virtio_blk_init(b, env->name, &o, env->mem, env->base, env->gsi, env->line, err,
				err_size);

	/* The limiter's timer is watched even without a limit: PATCH /drives can add one. */
	if (e == 0 && env->io) {
		e = io_thread_add(env->io, b->rl.timer_fd, virtio_blk_rate_timer, b);
		if (e) {
			snprintf(err, err_size, "%s: watching its rate limiter: %s", env->name,
				 strerror(-e));
			virtio_blk_destroy(b);
			return e;
		}
	}

	/* Anything but running out of memory or fds is the image's or the option's fault. */
	return e == 0 || e == -ENOMEM || e == -EMFILE || e == -ENFILE ? e : -EINVAL;
}

static void blk_destroy(void *dev)
{
	virtio_blk_destroy(dev);
}

static struct virtio_mmio *blk_transport(void *dev)
{
	return &((struct virtio_blk *)dev)->t;
}

static int blk_io_fd(void *dev, io_handler_fn *fn)
{
	*fn = virtio_blk_complete;
	return virtio_blk_completion_fd(dev);
}

static unsigned int blk_counters(void *dev, struct virtio_counter *out)
{
	struct virtio_blk_counters n;
	uint64_t faults;
	unsigned int i = 0;

	virtio_blk_get_counters(dev, &n, &faults);
	out[i++] = (struct virtio_counter){ "read_count", n.reads };
	out[i++] = (struct virtio_counter){ "write_count", n.writes };
	out[i++] = (struct virtio_counter){ "read_bytes", n.read_bytes };
	out[i++] = (struct virtio_counter){ "write_bytes", n.write_bytes };
	out[i++] = (struct virtio_counter){ "flush_count", n.flushes };
	out[i++] = (struct virtio_counter){ "discard_count", n.discards };
	out[i++] = (struct virtio_counter){ "write_zeroes_count", n.write_zeroes };
	out[i++] = (struct virtio_counter){ "get_id_count", n.get_ids };
	out[i++] = (struct virtio_counter){ "io_errors", n.io_errors };
	out[i++] = (struct virtio_counter){ "guest_errors", faults };
	return i;
}

static void blk_save(void *dev, void *state)
{
	virtio_blk_save(dev, state);
}

static int blk_load(void *dev, const void *state)
{
	return virtio_blk_load(dev, state);
}

const struct virtio_kind virtio_blk_kind = {
	.kind = "blk",
	.metrics_key = "block",
	.metrics_list = true,
	.size = sizeof(struct virtio_blk),
	.state_size = sizeof(struct virtio_blk_state),
	.count = blk_count,
	.init = blk_init,
	.destroy = blk_destroy,
	.transport = blk_transport,
	.io_fd = blk_io_fd,
	.counters = blk_counters,
	.save = blk_save,
	.load = blk_load,
};
