/* rate_limiter.h: Firecracker's I/O rate limiter: a token bucket of bytes and one of operations,
 * each with a size, a one-time burst and a refill time (its API's TokenBucket and RateLimiter).
 * A throttled device keeps its request and retries when the limiter's timerfd fires: it never
 * spins. */
#ifndef KILN_UTIL_RATE_LIMITER_H
#define KILN_UTIL_RATE_LIMITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/checked.h"

/* One bucket as configured. size 0 or refill_ms 0: no limit (as in Firecracker). */
struct token_bucket_cfg {
	uint64_t size;           /* tokens: bytes or operations */
	uint64_t one_time_burst; /* extra tokens, spent first, never refilled */
	uint64_t refill_ms;      /* time to refill `size` tokens from empty */
};

struct rate_limiter_cfg {
	struct token_bucket_cfg bandwidth, ops;
};

/* A bucket at run time. It starts full; the budget refills at size / refill_ms and never above
 * size; it goes below zero only after a request larger than the whole bucket, which is let
 * through when the bucket is full (it would never fit otherwise) and then repaid. */
struct token_bucket {
	uint64_t size, refill_ns, burst;
	int64_t budget;
	uint64_t last_ns;
	uint64_t frac; /* part of the next token already refilled, in token-ns (< refill_ns) */
};

/* Sets `b` up from `cfg` at time `now_ns`, full. */
void token_bucket_init(struct token_bucket *b, const struct token_bucket_cfg *cfg, uint64_t now_ns);
/* How long until `n` tokens can be taken: 0 when they can now (nothing is consumed). */
uint64_t token_bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now_ns);
/* Takes `n` tokens (after token_bucket_wait() said 0): the burst first, then the budget. */
void token_bucket_consume(struct token_bucket *b, uint64_t n);
static inline bool token_bucket_limited(const struct token_bucket *b)
{
	return b->size != 0;
}

struct rate_limiter {
	pthread_mutex_t lock;     /* the device's queue thread and the API's PATCH */
	/* Whether either bucket limits anything: written under `lock`, read without it first, so an
	 * unlimited device's requests take no lock (the common case, on every virtio request). */
	atomic_bool limited;
	struct token_bucket bandwidth, ops;
	int timer_fd;             /* CLOCK_MONOTONIC timerfd: armed while throttled */
	bool blocked;
	uint64_t throttled;       /* times a request had to wait (a metric) */
};

/* Creates the timerfd and sets the buckets from `cfg` (NULL: unlimited). Returns 0 or -errno. */
int __must_check rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg);
void rate_limiter_destroy(struct rate_limiter *rl);
/* Replaces the buckets (a PATCH): each bucket whose `set_*` is true is made anew from `cfg`,
 * full; the others keep their state. Unblocks, so a waiting request retries at once. */
void rate_limiter_update(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg,
			 bool set_bandwidth, bool set_ops);
/* A request of `bytes` bytes (and `ops` operations, 0 or 1) wants to go: returns true and takes
 * the tokens, or false and arms the timer for when they will be there; the caller keeps the
 * request and retries after rate_limiter_timer_event(). While blocked, returns false at once. */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops);
/* The timerfd is readable: reads it and unblocks. */
void rate_limiter_timer_event(struct rate_limiter *rl);
/* Whether either bucket limits anything. */
bool rate_limiter_active(struct rate_limiter *rl);

#endif
