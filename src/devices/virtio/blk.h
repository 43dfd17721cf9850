/* blk.h: virtio-blk (virtio 1.2, 5.2) on a raw image file, with io_uring or a synchronous backend. */
#ifndef KILN_DEVICES_VIRTIO_BLK_H
#define KILN_DEVICES_VIRTIO_BLK_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/mmio.h"

#define VIRTIO_BLK_SECTOR 512
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_CONFIG_SIZE 60 /* up to write_zeroes_may_unmap and its padding */
/* Data buffers per request: the chain less the header and the status buffer. */
#define VIRTIO_BLK_SEG_MAX (VIRTQ_MAX_CHAIN - 2)

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_WRITE_ZEROES_UNMAP 1
#define VIRTIO_BLK_REQ_HDR 16 /* le32 type, le32 reserved, le64 sector */

struct virtio_blk_opts {
	const char *path;
	const char *id;       /* GET_ID serial, at most 20 bytes; NULL: none */
	bool ro;
	bool direct;          /* cache=none: O_DIRECT */
	enum disk_io backend; /* config.h */
	const struct rate_limiter_cfg *rate_limiter; /* NULL: none */
};

struct virtio_blk_req;

struct virtio_blk_counters {
	uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
	uint64_t read_bytes, write_bytes;
	uint64_t io_errors; /* requests answered IOERR or UNSUPP */
};

struct virtio_blk {
	struct virtio_mmio t;
	int fd;          /* the image, O_DIRECT with cache=none */
	int fd_buffered; /* the image through the page cache: fd itself unless cache=none */
	uint64_t capacity; /* sectors */
	bool ro, direct;
	char serial[VIRTIO_BLK_ID_BYTES];
	enum disk_io backend; /* what runs: IO_URING or SYNC */
	struct io_uring ring;
	int ring_fd;   /* eventfd signalled by io_uring completions; -1 with the sync backend */
	unsigned int inflight;
	struct virtio_blk_req *reqs, *free_reqs;
	uint64_t generation; /* bumped by a reset: completions of older requests are dropped */
	struct virtio_blk_counters n;
	struct rate_limiter rl;
	struct virtio_blk_req *throttled; /* popped, waiting for the rate limiter */
};

/* Snapshot shape. Requests in flight are completed (drained) before saving. */
struct virtio_blk_state {
	struct virtio_mmio_state transport;
};

/* Opens the image and sets up the backend. On failure returns -errno and writes a one-line
 * reason naming the file into err. */
int __must_check virtio_blk_init(struct virtio_blk *b, const char *name,
				 const struct virtio_blk_opts *o, const struct gmem *gm, uint64_t base,
				 unsigned int gsi, struct irq_line line, char *err, size_t err_size);
/* Waits for requests in flight, then closes everything. Call after the I/O thread stopped and
 * before guest memory is unmapped. */
void virtio_blk_destroy(struct virtio_blk *b);
/* Replaces the backing image (PATCH /drives while running): opens, locks and sizes `path`,
 * waits for requests in flight, switches, and tells the driver its configuration (capacity)
 * changed. Returns 0 or -errno with a one-line reason in err (the old image stays). */
int __must_check virtio_blk_swap(struct virtio_blk *b, const char *path, char *err,
				 size_t err_size);
/* The io_uring completion eventfd for the I/O thread (-1 with the sync backend) and its
 * handler (`opaque` is the device). */
int virtio_blk_completion_fd(const struct virtio_blk *b);
void virtio_blk_complete(void *opaque, uint32_t events);
const char *virtio_blk_backend_name(enum disk_io be);

/* A consistent copy of the counters, and the guest errors the transport counted. Any thread. */
void virtio_blk_get_counters(struct virtio_blk *b, struct virtio_blk_counters *out,
			     uint64_t *guest_errors);

void virtio_blk_save(struct virtio_blk *b, struct virtio_blk_state *out);
int __must_check virtio_blk_load(struct virtio_blk *b, const struct virtio_blk_state *in);

/* The builder's table row for --disk (kind.h). */
extern const struct virtio_kind virtio_blk_kind;

/* The rate limiter's timerfd handler (opaque: the device), which the I/O thread must watch. */
void virtio_blk_rate_timer(void *opaque, uint32_t events);
/* The device's rate limiter, for PATCH /drives (rate_limiter_update()). */
struct rate_limiter *virtio_blk_rate_limiter(struct virtio_blk *b);

#endif
