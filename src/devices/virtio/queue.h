/* queue.h: split virtqueues (virtio 1.2, 2.7): every guest-controlled ring value is validated here. */
#ifndef KILN_DEVICES_VIRTIO_QUEUE_H
#define KILN_DEVICES_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvm/memory.h"
#include "util/checked.h"

/* Largest queue kiln offers (QueueNumMax); a power of two, as split rings need. */
#define VIRTQ_MAX_SIZE 256
/* Most buffers in one chain, direct and indirect together; a longer chain is an error. */
#define VIRTQ_MAX_CHAIN 256

/* The guest-visible state of one queue: plain data, what a snapshot saves. */
struct virtq_state {
	uint16_t size;       /* QueueNum; 0 until the driver sets it */
	uint8_t ready;       /* QueueReady as the driver last wrote it */
	uint8_t event_idx;   /* VIRTIO_F_RING_EVENT_IDX negotiated */
	uint8_t indirect;    /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	uint8_t signalled_valid; /* signalled_used holds a value (event idx) */
	uint16_t next_avail; /* next available-ring slot the device consumes */
	uint16_t next_used;  /* used idx the device publishes next */
	uint16_t signalled_used; /* next_used at the last interrupt (event idx) */
	uint64_t desc, avail, used; /* guest-physical addresses of the three parts */
};

/* A queue in use: its state plus host pointers to the rings, resolved once by virtq_activate().
 * The state lives with its owner (the transport keeps every queue's in its own saveable state),
 * so `st` must point at storage that outlives the queue before any virtq_* call. */
struct virtq {
	struct virtq_state *st;
	const struct gmem *gm;
	uint8_t *desc, *avail, *used; /* NULL while not activated */
	bool broken; /* a fault was found: nothing more is popped until reset */
	bool fault_reported; /* the transport logged and counted it (once per breakage) */
	struct virtq_fault_saved {
		int kind;
		uint16_t desc;
		uint64_t addr, len;
	} fault; /* what broke it, returned again by later pops */
};

/* One descriptor chain as host iovecs: the device-readable buffers come first ([0, nr_out)),
 * then the device-writable ones ([nr_out, nr_out + nr_in)), as the specification requires of
 * drivers. Zero-length buffers are dropped. */
struct virtq_chain {
	uint16_t head;
	unsigned int nr_out, nr_in;
	uint64_t out_len, in_len;
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

enum virtq_fault_kind {
	VIRTQ_OK = 0,
	VIRTQ_BAD_SIZE,        /* queue size 0, above the maximum or not a power of two */
	VIRTQ_BAD_ALIGN,       /* a ring part misaligned */
	VIRTQ_RING_OUTSIDE,    /* a ring part not inside guest RAM */
	VIRTQ_BAD_AVAIL_IDX,   /* avail idx moved by more than the queue size */
	VIRTQ_BAD_HEAD,        /* available-ring entry is not a descriptor index */
	VIRTQ_BAD_NEXT,        /* a `next` is not a descriptor index */
	VIRTQ_LOOP,            /* more hops than descriptors: the chain loops */
	VIRTQ_TOO_LONG,        /* more than VIRTQ_MAX_CHAIN buffers */
	VIRTQ_BUF_OUTSIDE,     /* buffer not inside guest RAM (or addr + len wraps) */
	VIRTQ_BAD_INDIRECT,    /* indirect table: not negotiated, nested, with NEXT, bad length */
	VIRTQ_READ_AFTER_WRITE, /* a device-readable buffer after a device-writable one */
};

/* What was wrong, for one log line. */
struct virtq_fault {
	enum virtq_fault_kind kind;
	uint16_t desc;    /* descriptor index concerned, when there is one */
	uint64_t addr;    /* guest address concerned */
	uint64_t len;     /* length concerned */
};

/* Checks size, alignment and placement of the rings in `st` and resolves their host pointers.
 * Returns 0 or -EINVAL with *fault filled; the queue is then unusable (q->desc is NULL). */
int __must_check virtq_activate(struct virtq *q, const struct gmem *gm, struct virtq_fault *fault);

/* Forgets everything (device reset): zeroes the state `st` points at and the ring pointers. */
void virtq_reset(struct virtq *q);

/* Takes the next available chain. Returns 1 with *c filled, 0 when the ring is empty, or
 * -EINVAL for a fault (then q->broken is set and later calls return -EINVAL until reset).
 * With event idx it also asks the driver to notify at the next new buffer. */
int __must_check virtq_pop(struct virtq *q, struct virtq_chain *c, struct virtq_fault *fault);

/* Returns chain `head` to the driver with `written` bytes written into its writable buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/* Gives back the last `n` chains popped, none of which was pushed: the next pops take them
 * again (a device that needs more buffers than the driver has offered so far). */
void virtq_unpop(struct virtq *q, uint16_t n);

/* Publishing several chains at once (a virtio-net frame spread over merged buffers must appear
 * whole): virtq_fill() writes used element next + `i` without publishing it; virtq_flush()
 * then publishes `n` filled elements with one used-index store. */
void virtq_fill(struct virtq *q, uint16_t i, uint16_t head, uint32_t written);
void virtq_flush(struct virtq *q, uint16_t n);

/* After one or more virtq_push(): whether the driver wants an interrupt now (event idx, or
 * VIRTQ_AVAIL_F_NO_INTERRUPT). Updates the event-idx bookkeeping. */
bool __must_check virtq_should_notify(struct virtq *q);

/* The event-idx test of virtio 1.2, 2.7.10: whether moving the used (or avail) index from `old`
 * to `new_idx` crossed `event`, in 16-bit wrap-around arithmetic. */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* One line describing `f` ("descriptor 5: next 5 makes the chain loop"), into buf. */
const char *virtq_fault_str(const struct virtq_fault *f, char *buf, size_t size);

/* Copies up to `len` bytes from the readable buffers of `c`, starting `off` bytes in; returns
 * the bytes copied. */
uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst, uint64_t len);

/* Copy up to `len` bytes out of / into the bytes of iov[0..nr), starting `off` bytes in; return
 * the bytes copied (fewer when the buffers end first). */
uint64_t iov_to_buf(const struct iovec *iov, unsigned int nr, uint64_t off, void *dst, uint64_t len);
uint64_t iov_from_buf(const struct iovec *iov, unsigned int nr, uint64_t off, const void *src,
		      uint64_t len);

#endif
