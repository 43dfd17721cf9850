/* rng.h: virtio-rng (virtio 1.2, 5.4): one request queue filled from the host's getrandom(). */
#ifndef KILN_DEVICES_VIRTIO_RNG_H
#define KILN_DEVICES_VIRTIO_RNG_H

#include "devices/virtio/kind.h"
#include "devices/virtio/mmio.h"

/* Most bytes given for one request: a driver asking for more gets this much (5.4.6.1 lets the
 * device fill less than the buffer). */
#define VIRTIO_RNG_MAX_REQUEST 65536

struct virtio_rng {
	struct virtio_mmio t;
	struct virtq_chain chain; /* the request being served, or held back */
	bool held;                /* chain waits for the rate limiter */
	uint64_t bytes;           /* entropy handed out */
	struct rate_limiter rl;   /* the API's entropy.rate_limiter: bytes and requests */
};

/* Snapshot shape: the transport's state; the device itself keeps nothing. */
struct virtio_rng_state {
	struct virtio_mmio_state transport;
};

/* `limit` may be NULL (no rate limit). Returns 0 or -errno. */
int __must_check virtio_rng_init(struct virtio_rng *r, const char *name,
				 const struct rate_limiter_cfg *limit, const struct gmem *gm,
				 uint64_t base, unsigned int gsi, struct irq_line line);
/* The rate limiter's timerfd handler (opaque: the device), which the I/O thread must watch. */
void virtio_rng_rate_timer(void *opaque, uint32_t events);
void virtio_rng_destroy(struct virtio_rng *r);
/* Bytes handed out and guest errors counted. Any thread. */
void virtio_rng_get_counters(struct virtio_rng *r, uint64_t *bytes, uint64_t *guest_errors);
void virtio_rng_save(struct virtio_rng *r, struct virtio_rng_state *out);
int __must_check virtio_rng_load(struct virtio_rng *r, const struct virtio_rng_state *in);

/* The builder's table row for --rng (kind.h). */
extern const struct virtio_kind virtio_rng_kind;

#endif
